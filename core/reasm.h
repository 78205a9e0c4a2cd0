/* reasm.h -- TCP stream reassembly for one direction of a connection.
 *
 * Knows nothing of SMTP.  Takes segments (sequence number, payload) in the
 * order they were captured and hands on the bytes in stream order, each run
 * with the position of the segment that carried it.  Out-of-order segments
 * are held (bounded by REASM_MAX_BUFFERED / REASM_MAX_SEGMENTS) and released
 * when the hole before them fills; retransmissions and keep-alives are
 * dropped; overlaps keep the bytes seen first and report a conflict when the
 * new bytes differ; sequence numbers wrap.  A hole that cannot fill (the
 * peer acknowledged past it, the buffer limit was hit, or the stream ended)
 * is reported as a gap of its exact size.
 *
 * A reasm_stream is caller-allocated; only held out-of-order data is on the
 * heap.  Not thread-safe; one stream per direction.
 */
#ifndef SMTPSCOPE_REASM_H
#define SMTPSCOPE_REASM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pos.h"
#include "smtp_limits.h"

typedef struct reasm_sink {
    /* In-order bytes; `pos` is the segment that carried them. */
    void (*on_data)(void *user, const uint8_t *data, size_t len, cap_pos pos);
    /* `len` bytes will never arrive at this point of the stream. */
    void (*on_gap)(void *user, uint64_t len, cap_pos pos);
    /* A retransmission carried bytes different from the first copy. */
    void (*on_conflict)(void *user, cap_pos pos);
    /* The buffer limit forced a hole to be declared a gap (on_gap follows). */
    void (*on_overflow)(void *user, cap_pos pos);
} reasm_sink;

typedef struct reasm_seg reasm_seg;   /* held out-of-order segment (private) */

typedef struct reasm_stream {
    const reasm_sink *sink;
    void     *user;
    uint32_t  next_seq;      /* sequence number of the next in-order byte */
    bool      have_seq;      /* next_seq is known (SYN or first segment seen) */
    bool      fin;           /* FIN seen and reached: the stream is over */
    bool      fin_pending;   /* FIN seen but data before it still missing */
    uint32_t  fin_seq;
    reasm_seg *held;         /* out-of-order segments, sorted by sequence */
    uint32_t  n_held;
    uint64_t  held_bytes;
    /* The last bytes delivered (allocated at the first delivery): a
     * retransmission that carries other bytes over them is a conflict. */
    uint8_t  *recent;        /* REASM_RECENT_BYTES, the last ending at next_seq */
    uint32_t  recent_len;
    /* Counters for statistics and tests. */
    uint64_t  delivered, retransmitted, out_of_order, gaps, gap_bytes, conflicts;
} reasm_stream;

/* Prepare `s`.  `sink` must outlive the stream. Cannot fail. */
void reasm_init(reasm_stream *s, const reasm_sink *sink, void *user);

/* A SYN with initial sequence number `isn` was seen for this direction. */
void reasm_syn(reasm_stream *s, uint32_t isn);

/* A segment: `len` payload bytes starting at `seq`, `fin` if it carried FIN.
 * Delivers whatever became in order. */
void reasm_segment(reasm_stream *s, uint32_t seq, const uint8_t *data, size_t len,
                   bool fin, cap_pos pos);

/* The other direction acknowledged up to `ack`: data before it that is
 * still missing was lost in the capture, so report it as a gap now and
 * release what follows. */
void reasm_ack(reasm_stream *s, uint32_t ack, cap_pos pos);

/* End of the stream (RST, idle, end of capture): release everything held,
 * reporting each remaining hole as a gap.  Frees held data. */
void reasm_flush(reasm_stream *s, cap_pos pos);

/* Free held data and the remembered bytes without delivering anything.  `s`
 * may be reused after reasm_init. */
void reasm_free(reasm_stream *s);

#endif
