/* fuzz_reasm.c -- libFuzzer target: one reasm_stream fed fuzzer-made segments.
 *
 * Input layout (see README.md):
 *   bytes 0-3   isn0, big-endian: every sequence number below is isn0 + off
 *   then 6-byte records [ctl][off: 3 bytes, signed, BE][len: 2 bytes BE]:
 *     ctl & 7 = 0..3  segment of `len` bytes at isn0 + off; ctl & 0x08 FIN;
 *                     ctl & 0x10 corrupt the payload (a conflicting copy)
 *     ctl & 7 = 4     reasm_syn(isn0 + off)
 *     ctl & 7 = 5     reasm_ack(isn0 + off)
 *     ctl & 7 = 6, 7  reasm_flush, then start a fresh stream
 *   the input ends with reasm_flush.
 *
 * Payload bytes are a function of their sequence number, so every byte the
 * stream delivers can be checked against the sequence number it must have
 * come from.  Checked after every call: bytes delivered never exceed bytes
 * fed, the stream's counters match what the sink saw, held data stays within
 * REASM_MAX_BUFFERED and REASM_MAX_SEGMENTS, next_seq moves exactly with the
 * delivered and gap bytes, nothing is delivered after the FIN, and a flush
 * leaves nothing held.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "fuzz_check.h"
#include "smtp_limits.h"
#include "reasm.h"

typedef struct track {
    reasm_stream s;
    uint64_t fed;          /* payload bytes handed in */
    uint64_t delivered;    /* bytes the sink got */
    uint64_t gap_bytes, gaps, overflows, conflicts;
    uint64_t stream_pos;   /* delivered + gap bytes: offset of the next byte */
    bool     known_base;   /* base is the sequence number of stream offset 0 */
    uint32_t base;
    bool     check_bytes;  /* off once a corrupt copy or a late SYN was fed */
    bool     fin_reached;
    GByteArray *pending;   /* bytes delivered before the base was known */
    uint64_t pending_pos;
} track;

static uint8_t pattern(uint32_t seq)
{
    return (uint8_t)((seq * 2654435761u) >> 24);
}

static void verify_bytes(const track *t, const uint8_t *data, size_t len, uint64_t at)
{
    for (size_t j = 0; j < len; j++) {
        uint32_t seq = t->base + (uint32_t)(at + j);
        FUZZ_CHECK(data[j] == pattern(seq), "byte at stream offset %llu (seq %u) is %02x, expected %02x",
                   (unsigned long long)(at + j), seq, data[j], pattern(seq));
    }
}

static void on_data(void *user, const uint8_t *data, size_t len, cap_pos pos)
{
    track *t = user;
    (void)pos;
    FUZZ_CHECK(len > 0 && data != NULL, "empty delivery");
    FUZZ_CHECK(!t->fin_reached, "%zu bytes delivered after the FIN was reached", len);
    if (t->known_base && (t->s.fin || t->s.fin_pending)) {
        uint32_t end = t->base + (uint32_t)(t->stream_pos + len);
        FUZZ_CHECK((int32_t)(end - t->s.fin_seq) <= 0, "bytes up to seq %u delivered, but the FIN is at %u", end,
                   t->s.fin_seq);
    }
    if (t->check_bytes) {
        if (t->known_base) {
            verify_bytes(t, data, len, t->stream_pos);
        } else {
            if (t->pending->len == 0)
                t->pending_pos = t->stream_pos;
            if (t->pending->len < 1u << 20)
                g_byte_array_append(t->pending, data, (guint)len);
        }
    } else {
        uint8_t x = 0;   /* still read every byte, for ASan */
        for (size_t j = 0; j < len; j++)
            x ^= data[j];
        (void)x;
    }
    t->delivered += len;
    t->stream_pos += len;
}

static void on_gap(void *user, uint64_t len, cap_pos pos)
{
    track *t = user;
    (void)pos;
    FUZZ_CHECK(len > 0, "gap of zero bytes");
    t->gaps++;
    t->gap_bytes += len;
    t->stream_pos += len;
}

static void on_conflict(void *user, cap_pos pos)
{
    track *t = user;
    (void)pos;
    t->conflicts++;
}

static void on_overflow(void *user, cap_pos pos)
{
    track *t = user;
    (void)pos;
    t->overflows++;
}

static const reasm_sink sink = { on_data, on_gap, on_conflict, on_overflow };

static void track_start(track *t)
{
    GByteArray *pending = t->pending;
    memset(t, 0, sizeof *t);
    t->pending = pending;
    g_byte_array_set_size(t->pending, 0);
    t->check_bytes = true;
    reasm_init(&t->s, &sink, t);
}

static void check_after_call(track *t, bool flushed)
{
    const reasm_stream *s = &t->s;
    FUZZ_CHECK(t->delivered <= t->fed, "delivered %llu bytes of %llu fed", (unsigned long long)t->delivered,
               (unsigned long long)t->fed);
    FUZZ_CHECK(s->delivered == t->delivered, "stream counts %llu delivered, sink saw %llu",
               (unsigned long long)s->delivered, (unsigned long long)t->delivered);
    FUZZ_CHECK(s->gap_bytes == t->gap_bytes && s->gaps == t->gaps, "stream counts %llu gaps/%llu bytes, sink saw %llu/%llu",
               (unsigned long long)s->gaps, (unsigned long long)s->gap_bytes, (unsigned long long)t->gaps,
               (unsigned long long)t->gap_bytes);
    FUZZ_CHECK(s->conflicts == t->conflicts, "stream counts %llu conflicts, sink saw %llu",
               (unsigned long long)s->conflicts, (unsigned long long)t->conflicts);
    FUZZ_CHECK(t->overflows <= t->gaps, "overflow without a gap");
    FUZZ_CHECK(s->held_bytes <= REASM_MAX_BUFFERED, "%llu bytes held", (unsigned long long)s->held_bytes);
    FUZZ_CHECK(s->n_held <= REASM_MAX_SEGMENTS, "%u segments held", s->n_held);
    FUZZ_CHECK((s->n_held == 0) == (s->held_bytes == 0), "n_held %u with %llu bytes held", s->n_held,
               (unsigned long long)s->held_bytes);
    if (flushed)
        FUZZ_CHECK(s->n_held == 0 && s->held == NULL, "flush left %u segments held", s->n_held);
    if (s->fin)
        t->fin_reached = true;
    if (!s->have_seq)
        return;
    if (!t->known_base) {
        t->known_base = true;
        t->base = s->next_seq - (uint32_t)t->stream_pos;
        if (t->check_bytes && t->pending->len > 0)
            verify_bytes(t, t->pending->data, t->pending->len, t->pending_pos);
        g_byte_array_set_size(t->pending, 0);
    }
    if (t->check_bytes)
        FUZZ_CHECK(s->next_seq == t->base + (uint32_t)t->stream_pos,
                   "next_seq %u, but base %u + %llu bytes delivered or lost", s->next_seq, t->base,
                   (unsigned long long)t->stream_pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    uint32_t isn0 = (uint32_t)data[0] << 24 | (uint32_t)data[1] << 16 | (uint32_t)data[2] << 8 | data[3];
    static uint8_t payload[65536];
    track t = { .pending = g_byte_array_new() };
    track_start(&t);
    cap_pos pos = { .ts_ns = 0, .frame = 0 };
    for (size_t i = 4; i + 6 <= size; i += 6) {
        const uint8_t *r = data + i;
        uint32_t off = (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
        if (off & 0x800000u)
            off |= 0xFF000000u;   /* sign-extend: segments before isn0 too */
        uint32_t seq = isn0 + off;
        size_t len = (size_t)r[4] << 8 | r[5];
        pos.frame++;
        pos.ts_ns += 1000;
        switch (r[0] & 7) {
        case 4:
            if (t.s.have_seq)
                t.check_bytes = false;   /* a SYN in mid-stream may restart it */
            reasm_syn(&t.s, seq);
            check_after_call(&t, false);
            break;
        case 5:
            reasm_ack(&t.s, seq, pos);
            check_after_call(&t, false);
            break;
        case 6:
        case 7:
            reasm_flush(&t.s, pos);
            check_after_call(&t, true);
            reasm_free(&t.s);
            track_start(&t);
            break;
        default: {
            uint8_t corrupt = (r[0] & 0x10) ? 0x5A : 0;
            if (corrupt)
                t.check_bytes = false;
            for (size_t j = 0; j < len; j++)
                payload[j] = pattern(seq + (uint32_t)j) ^ corrupt;
            t.fed += len;
            reasm_segment(&t.s, seq, payload, len, (r[0] & 0x08) != 0, pos);
            check_after_call(&t, false);
        }
        }
    }
    pos.frame++;
    reasm_flush(&t.s, pos);
    check_after_call(&t, true);
    reasm_free(&t.s);
    g_byte_array_free(t.pending, TRUE);
    return 0;
}
