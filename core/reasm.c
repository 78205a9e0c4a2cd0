/* reasm.c -- TCP stream reassembly for one direction (see reasm.h).
 *
 * Invariants kept between calls:
 *   - every held segment starts after next_seq (a segment that would start
 *     at next_seq is released at once), held segments never overlap and the
 *     list is sorted by sequence number;
 *   - held->prev is the tail of the list (the list is circular through
 *     `prev` only), so the common case of segments arriving in ascending
 *     order behind one hole appends in constant time;
 *   - n_held <= REASM_MAX_SEGMENTS and held_bytes <= REASM_MAX_BUFFERED
 *     when a call returns.
 *
 * Sequence numbers are compared with serial-number arithmetic (RFC 1982)
 * everywhere, so a stream may wrap around 2^32 any number of times.
 */
#include "reasm.h"

#include <string.h>

#include <glib.h>

#include "smtp_limits.h"

struct reasm_seg {
    reasm_seg *next;
    reasm_seg *prev;    /* for the head: the tail */
    uint32_t   seq;
    uint32_t   len;
    cap_pos    pos;     /* the segment that carried these bytes */
    uint8_t    data[];
};

static inline bool seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

/* Keep the last REASM_RECENT_BYTES delivered bytes, ending at next_seq. */
static void remember(reasm_stream *s, const uint8_t *data, size_t len)
{
    const uint32_t cap = REASM_RECENT_BYTES;
    if (!s->recent)
        s->recent = g_malloc(cap);
    if (len >= cap) {
        memcpy(s->recent, data + len - cap, cap);
        s->recent_len = cap;
        return;
    }
    uint32_t keep = s->recent_len + (uint32_t)len > cap ? cap - (uint32_t)len : s->recent_len;
    memmove(s->recent, s->recent + s->recent_len - keep, keep);
    memcpy(s->recent + keep, data, len);
    s->recent_len = keep + (uint32_t)len;
}

/* Whether [seq, seq+n), which starts before next_seq, gives other bytes
 * than those remembered for the same sequence numbers. */
static bool differs_from_recent(const reasm_stream *s, uint32_t seq, const uint8_t *data, uint32_t n)
{
    uint32_t from = s->next_seq - s->recent_len;
    if (seq_lt(seq, from)) {
        uint32_t skip = from - seq;
        if (skip >= n)
            return false;
        data += skip;
        n -= skip;
        seq = from;
    }
    uint32_t avail = s->next_seq - seq;
    uint32_t cmp = n < avail ? n : avail;
    return memcmp(s->recent + (seq - from), data, cmp) != 0;
}

static void deliver(reasm_stream *s, const uint8_t *data, size_t len, cap_pos pos)
{
    remember(s, data, len);
    s->next_seq += (uint32_t)len;
    s->delivered += len;
    s->sink->on_data(s->user, data, len, pos);
}

static void report_gap(reasm_stream *s, uint32_t len, cap_pos pos)
{
    if (len == 0)
        return;
    s->next_seq += len;
    s->recent_len = 0; /* the remembered bytes no longer end at next_seq */
    s->gaps++;
    s->gap_bytes += len;
    s->sink->on_gap(s->user, len, pos);
}

static void seg_unlink_head(reasm_stream *s)
{
    reasm_seg *h = s->held;
    s->held = h->next;
    if (s->held)
        s->held->prev = h->prev;
    s->n_held--;
    s->held_bytes -= h->len;
}

/* Deliver held segments that are now in order.  A held segment cannot start
 * before next_seq (see the invariants), but a gap declared by an ack may end
 * inside one, so the already-covered front is skipped rather than trusted. */
static void release(reasm_stream *s)
{
    while (s->held && seq_le(s->held->seq, s->next_seq)) {
        reasm_seg *h = s->held;
        uint32_t skip = s->next_seq - h->seq;
        seg_unlink_head(s);
        if (skip < h->len)
            deliver(s, h->data + skip, h->len - skip, h->pos);
        g_free(h);
    }
}

static void check_fin(reasm_stream *s)
{
    if (s->fin_pending && seq_le(s->fin_seq, s->next_seq)) {
        s->fin_pending = false;
        s->fin = true;
    }
}

void reasm_init(reasm_stream *s, const reasm_sink *sink, void *user)
{
    memset(s, 0, sizeof *s);
    s->sink = sink;
    s->user = user;
}

void reasm_syn(reasm_stream *s, uint32_t isn)
{
    /* The first SYN or segment fixes the sequence for good: a repeated SYN
     * changes nothing, and a SYN with another ISN is a new connection,
     * which the caller handles with a new stream. */
    if (s->have_seq)
        return;
    s->next_seq = isn + 1;
    s->have_seq = true;
}

/* True when one of the held segments overlapping [seq, seq+len) carries
 * different bytes in the overlap. */
static bool differs_from_held(const reasm_stream *s, uint32_t seq, const uint8_t *data,
                              uint32_t len)
{
    uint32_t end = seq + len;
    const reasm_seg *tail = s->held->prev;
    if (seq_le(tail->seq + tail->len, seq))
        return false;   /* the usual case: beyond everything held */
    for (const reasm_seg *h = s->held; h && seq_lt(h->seq, end); h = h->next) {
        uint32_t h_end = h->seq + h->len;
        if (seq_le(h_end, seq))
            continue;
        uint32_t from = seq_gt(h->seq, seq) ? h->seq : seq;
        uint32_t to = seq_lt(h_end, end) ? h_end : end;
        if (memcmp(data + (from - seq), h->data + (from - h->seq), to - from) != 0)
            return true;
    }
    return false;
}

static reasm_seg *seg_new(uint32_t seq, const uint8_t *data, uint32_t len, cap_pos pos)
{
    reasm_seg *n = g_malloc(sizeof *n + len);
    n->seq = seq;
    n->len = len;
    n->pos = pos;
    memcpy(n->data, data, len);
    return n;
}

/* Link `n` after `prev` (NULL: at the head). */
static void seg_link(reasm_stream *s, reasm_seg *prev, reasm_seg *n)
{
    if (!prev) {
        n->next = s->held;
        n->prev = s->held ? s->held->prev : n;
        if (s->held)
            s->held->prev = n;
        s->held = n;
    } else {
        n->next = prev->next;
        n->prev = prev;
        if (prev->next)
            prev->next->prev = n;
        else
            s->held->prev = n;   /* new tail */
        prev->next = n;
    }
    s->n_held++;
    s->held_bytes += n->len;
}

/* Hold a copy of the bytes of [seq, seq+len) that no held segment covers
 * yet (the first copy of a byte wins).  seq is after next_seq. */
static void hold(reasm_stream *s, uint32_t seq, const uint8_t *data, uint32_t len, cap_pos pos)
{
    uint32_t end = seq + len;
    reasm_seg *prev = NULL, *h = s->held;
    bool held_any = false;

    if (h) {
        reasm_seg *tail = h->prev;
        if (seq_le(tail->seq + tail->len, seq)) {
            seg_link(s, tail, seg_new(seq, data, len, pos));
            s->out_of_order++;
            return;
        }
    }
    while (seq_lt(seq, end)) {
        while (h && seq_le(h->seq + h->len, seq)) {
            prev = h;
            h = h->next;
        }
        uint32_t piece_end = (!h || seq_le(end, h->seq)) ? end : h->seq;
        if (seq_lt(seq, piece_end)) {
            reasm_seg *n = seg_new(seq, data, piece_end - seq, pos);
            seg_link(s, prev, n);
            prev = n;
            held_any = true;
            data += piece_end - seq;
            seq = piece_end;
        }
        if (h && seq_lt(seq, end)) {
            /* skip the part h already holds */
            uint32_t h_end = h->seq + h->len;
            uint32_t to = seq_lt(h_end, end) ? h_end : end;
            data += to - seq;
            seq = to;
        }
    }
    if (held_any)
        s->out_of_order++;
    else
        s->retransmitted++;
}

/* Past a limit, stop waiting for the first hole: it becomes a gap and what
 * follows it is released.  Each round frees at least one segment. */
static void enforce_limits(reasm_stream *s, cap_pos pos)
{
    while (s->held && (s->n_held > REASM_MAX_SEGMENTS || s->held_bytes > REASM_MAX_BUFFERED)) {
        s->sink->on_overflow(s->user, pos);
        report_gap(s, s->held->seq - s->next_seq, pos);
        release(s);
    }
}

/* Bytes after the FIN do not exist in TCP: held data that a FIN seen later
 * puts beyond the end of the stream is cut off.  The list is sorted, so
 * the cut is at its tail. */
static void drop_beyond_fin(reasm_stream *s)
{
    while (s->held) {
        reasm_seg *tail = s->held->prev;
        if (seq_le(tail->seq + tail->len, s->fin_seq))
            return;
        if (seq_lt(tail->seq, s->fin_seq)) {
            uint32_t keep = s->fin_seq - tail->seq;
            s->held_bytes -= tail->len - keep;
            tail->len = keep;
            return;
        }
        /* unlink the tail */
        if (tail == s->held) {
            s->held = NULL;
        } else {
            tail->prev->next = NULL;
            s->held->prev = tail->prev;
        }
        s->n_held--;
        s->held_bytes -= tail->len;
        g_free(tail);
    }
}

void reasm_segment(reasm_stream *s, uint32_t seq, const uint8_t *data, size_t len,
                   bool fin, cap_pos pos)
{
    if (!s->have_seq) {
        s->next_seq = seq;
        s->have_seq = true;
    }
    /* A TCP segment carries less than 2^32 bytes; anything larger is not a
     * segment and is cut rather than wrapping the arithmetic below. */
    if (len > REASM_MAX_AHEAD)
        len = REASM_MAX_AHEAD;
    uint32_t n = (uint32_t)len;
    uint32_t end = seq + n;

    if (fin && !s->fin && !s->fin_pending) {
        s->fin_pending = true;
        s->fin_seq = end;
        drop_beyond_fin(s);
    }
    if (n == 0)
        goto out;
    /* Bytes after the FIN do not exist in TCP; drop them. */
    if ((s->fin || s->fin_pending) && seq_gt(end, s->fin_seq)) {
        if (seq_le(s->fin_seq, seq))
            goto out;
        n = s->fin_seq - seq;
        end = s->fin_seq;
    }
    bool keepalive = n == 1 && seq == s->next_seq - 1;
    if (seq_lt(seq, s->next_seq) && !keepalive && s->recent_len &&
        differs_from_recent(s, seq, data, n)) {
        s->conflicts++;
        s->sink->on_conflict(s->user, pos);
    }
    if (seq_le(end, s->next_seq)) {
        /* keep-alive: one garbage byte just below the window, not a resend */
        if (!keepalive)
            s->retransmitted++;
        goto out;
    }
    if (end - s->next_seq > REASM_MAX_AHEAD)
        goto out;
    if (seq_lt(seq, s->next_seq)) {
        uint32_t old = s->next_seq - seq;
        s->retransmitted++;
        data += old;
        n -= old;
        seq = s->next_seq;
    }
    if (s->held && differs_from_held(s, seq, data, n)) {
        s->conflicts++;
        s->sink->on_conflict(s->user, pos);
    }
    /* In order: hand the caller's bytes straight on, up to where held data
     * (seen first, so it wins) takes over, then skip what that covered. */
    while (seq == s->next_seq && n > 0) {
        const reasm_seg *h = s->held;
        uint32_t upto = (!h || seq_le(end, h->seq)) ? end : h->seq;
        if (seq_lt(seq, upto))
            deliver(s, data, upto - seq, pos);
        release(s);
        if (seq_le(end, s->next_seq))
            goto out;
        data += s->next_seq - seq;
        n = end - s->next_seq;
        seq = s->next_seq;
    }
    if (n > 0 && seq_gt(seq, s->next_seq)) {
        hold(s, seq, data, n, pos);
        enforce_limits(s, pos);
    }
out:
    check_fin(s);
}

void reasm_ack(reasm_stream *s, uint32_t ack, cap_pos pos)
{
    if (!s->have_seq || s->fin)
        return;
    /* The FIN takes one sequence number of its own: an ack of it covers the
     * data only up to fin_seq. */
    uint32_t limit = ack;
    if (s->fin_pending && seq_gt(limit, s->fin_seq))
        limit = s->fin_seq;
    if (!seq_gt(limit, s->next_seq) || limit - s->next_seq > REASM_MAX_AHEAD)
        return;
    while (seq_gt(limit, s->next_seq)) {
        uint32_t hole_end = limit;
        if (s->held && seq_lt(s->held->seq, hole_end))
            hole_end = s->held->seq;
        if (seq_gt(hole_end, s->next_seq))
            report_gap(s, hole_end - s->next_seq, pos);
        release(s);
    }
    check_fin(s);
}

void reasm_flush(reasm_stream *s, cap_pos pos)
{
    while (s->held) {
        report_gap(s, s->held->seq - s->next_seq, pos);
        release(s);
    }
    if (s->fin_pending && seq_gt(s->fin_seq, s->next_seq))
        report_gap(s, s->fin_seq - s->next_seq, pos);
    check_fin(s);
}

void reasm_free(reasm_stream *s)
{
    while (s->held) {
        reasm_seg *h = s->held;
        seg_unlink_head(s);
        g_free(h);
    }
    g_free(s->recent);
    s->recent = NULL;
    s->recent_len = 0;
}
