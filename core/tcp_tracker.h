/* tcp_tracker.h -- TCP conversations of a capture, fed into SMTP engines.
 *
 * The front end decodes link and IP layers and hands each TCP segment here.
 * The tracker keeps a flow table (bounded: FLOW_MAX_LIVE_DEFAULT live
 * conversations, oldest-idle evicted first), reassembles each direction
 * (reasm.h), decides which conversations are SMTP (a listed server port, or
 * by heuristic: a "220" greeting answered by EHLO/HELO), decides who is the
 * client (SYN, else the port, else who greets), and runs one smtp_engine per
 * SMTP conversation.  Events come back with the conversation they belong to.
 *
 * Memory grows with the conversations alive at once, never with the size of
 * the capture.  Not thread-safe: one tracker per thread.
 */
#ifndef SMTPSCOPE_TCP_TRACKER_H
#define SMTPSCOPE_TCP_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pos.h"
#include "smtp_engine.h"

/* TCP flag bits as on the wire. */
#define TCPF_FIN 0x01u
#define TCPF_SYN 0x02u
#define TCPF_RST 0x04u
#define TCPF_PSH 0x08u
#define TCPF_ACK 0x10u

typedef struct tcp_segment {
    uint8_t  family;          /* 4 or 6 */
    uint8_t  src[16], dst[16];/* IPv4 in the first 4 bytes */
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t  flags;           /* TCPF_* */
    const uint8_t *payload;   /* owned by the caller, valid during the call */
    size_t   len;
    cap_pos  pos;
} tcp_segment;

/* What a front end knows of a conversation when it gets an event. */
typedef struct tcp_conv_info {
    uint64_t id;              /* 1-based, in order of creation, across the run */
    uint8_t  family;
    uint8_t  client[16], server[16];
    uint16_t client_port, server_port;
    cap_pos  first, last;     /* first and latest frame of the conversation */
    bool     midstream;       /* no SYN seen: the capture started late */
    bool     one_sided;       /* only one direction carried data */
} tcp_conv_info;

typedef struct tcp_tracker_sink {
    void (*on_event)(void *user, const tcp_conv_info *conv, const smtp_event *ev);
    /* Optional: message bodies (see smtp_sink.on_body). */
    void (*on_body)(void *user, const tcp_conv_info *conv, const smtp_body_span *body);
    /* Optional: a conversation was given its id (before any of its events;
     * a front end that splits flows across trackers orders ids by it). */
    void (*on_start)(void *user, const tcp_conv_info *conv);
} tcp_tracker_sink;

typedef struct tcp_tracker_options {
    const uint16_t *ports;    /* server ports taken as SMTP; NULL = 25, 587, 2525 */
    size_t   n_ports;
    bool     heuristic;       /* also recognise SMTP on other ports */
    size_t   max_live;        /* 0 = FLOW_MAX_LIVE_DEFAULT */
    int64_t  idle_ns;         /* 0 = FLOW_IDLE_TIMEOUT_NS */
    smtp_options smtp;        /* handed to every engine (midstream is set per flow) */
} tcp_tracker_options;

typedef struct tcp_tracker_stats {
    uint64_t segments, tcp_bytes;
    uint64_t conversations;   /* SMTP conversations started */
    uint64_t live, peak_live; /* flows in the table (SMTP or not yet known) */
    uint64_t evicted;         /* flows pushed out by the live cap */
    uint64_t idle_closed;
    uint64_t non_smtp;        /* flows looked at and found not to be SMTP */
} tcp_tracker_stats;

typedef struct tcp_tracker tcp_tracker;

/* Create a tracker; `opts` may be NULL for defaults; `sink` is copied. */
tcp_tracker *tcp_tracker_new(const tcp_tracker_options *opts, const tcp_tracker_sink *sink, void *user);

/* Hand over one TCP segment.  Segments must come in capture order; the
 * tracker also closes conversations idle for longer than idle_ns before
 * this segment's time. */
void tcp_tracker_segment(tcp_tracker *t, const tcp_segment *seg);

/* End every live conversation (SMTP_END_EOF at `pos`): end of a capture
 * file, or SIGINT in live mode.  The tracker stays usable; ids continue.
 * Conversations end in id order, then flows not yet known to be
 * conversations (ending them may start one) by first frame; flows idle
 * out in that order too. */
void tcp_tracker_finish(tcp_tracker *t, cap_pos pos);

/* tcp_tracker_finish() in steps, for a front end that interleaves the
 * ends of several trackers (pcapd -j): _begin() fixes the order (the one
 * above) and the position; _next() says which flow ends next (its
 * conversation id, 0 if it has none yet, and its first frame; false when
 * none is left); _step() ends it; _done() ends what is left and clears up
 * as tcp_tracker_finish() does. */
void tcp_tracker_finish_begin(tcp_tracker *t, cap_pos pos);
bool tcp_tracker_finish_next(const tcp_tracker *t, uint64_t *id, uint32_t *first_frame);
bool tcp_tracker_finish_step(tcp_tracker *t);
void tcp_tracker_finish_done(tcp_tracker *t);

/* Close conversations idle since before `now_ns` (live mode timer). */
void tcp_tracker_expire(tcp_tracker *t, int64_t now_ns);

/* A segment at `now_ns` went to another tracker (flows split across
 * trackers by hash): the clock moves exactly as tcp_tracker_segment()
 * would move it, so conversations idle out at the same packet as in one
 * tracker seeing everything. */
void tcp_tracker_tick(tcp_tracker *t, int64_t now_ns);

const tcp_tracker_stats *tcp_tracker_get_stats(const tcp_tracker *t);

/* A hash of the segment's connection, the same in both directions: a
 * front end splitting flows across trackers picks one by it. */
uint32_t tcp_segment_flow_hash(const tcp_segment *seg);

/* Finish nothing, free everything (call tcp_tracker_finish first for
 * events).  NULL is allowed. */
void tcp_tracker_free(tcp_tracker *t);

#endif
