/* test_reasm.c -- the TCP reassembler on hand-made segments. */
#include <string.h>

#include <glib.h>

#include "smtp_limits.h"
#include "reasm.h"

/* What the sink saw: stream bytes with each gap written as "<gap N>". */
typedef struct rec {
    GString *out;
    unsigned conflicts, overflows, gaps;
    uint32_t last_frame;
    const uint8_t *last_ptr;
} rec;

static void r_data(void *u, const uint8_t *d, size_t n, cap_pos pos)
{
    rec *r = u;
    g_assert_cmpuint(n, >, 0);
    g_string_append_len(r->out, (const char *)d, (gssize)n);
    r->last_frame = pos.frame;
    r->last_ptr = d;
}

static void r_gap(void *u, uint64_t n, cap_pos pos)
{
    rec *r = u;
    (void)pos;
    g_assert_cmpuint(n, >, 0);
    g_string_append_printf(r->out, "<gap %" G_GUINT64_FORMAT ">", n);
    r->gaps++;
}

static void r_conflict(void *u, cap_pos pos)
{
    (void)pos;
    ((rec *)u)->conflicts++;
}

static void r_overflow(void *u, cap_pos pos)
{
    (void)pos;
    ((rec *)u)->overflows++;
}

static const reasm_sink sink = { r_data, r_gap, r_conflict, r_overflow };

typedef struct fixture {
    rec r;
    reasm_stream s;
} fixture;

static void fx_setup(fixture *fx, gconstpointer data)
{
    (void)data;
    memset(fx, 0, sizeof *fx);
    fx->r.out = g_string_new(NULL);
    reasm_init(&fx->s, &sink, &fx->r);
}

static void fx_teardown(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_free(&fx->s);
    g_assert_null(fx->s.held);
    g_string_free(fx->r.out, TRUE);
}

static cap_pos at(uint32_t frame)
{
    cap_pos p = { (int64_t)frame * 1000, frame };
    return p;
}

/* Segment of the text `s` at stream offset `off` (ISN `isn`, so the first
 * data byte is isn + 1). */
static void seg(fixture *fx, uint32_t isn, uint32_t off, const char *s, uint32_t frame)
{
    reasm_segment(&fx->s, isn + 1 + off, (const uint8_t *)s, strlen(s), false, at(frame));
}

#define OUT(fx) ((fx)->r.out->str)

static void test_in_order(fixture *fx, gconstpointer data)
{
    (void)data;
    static const uint8_t buf[] = "MAIL FROM:<a@b>\r\n";
    reasm_syn(&fx->s, 1000);
    seg(fx, 1000, 0, "220 hello\r\n", 1);
    g_assert_cmpstr(OUT(fx), ==, "220 hello\r\n");
    reasm_segment(&fx->s, 1001 + 11, buf, sizeof buf - 1, false, at(2));
    /* in-order bytes come straight from the caller's buffer */
    g_assert_true(fx->r.last_ptr == buf);
    g_assert_cmpuint(fx->r.last_frame, ==, 2);
    g_assert_cmpstr(OUT(fx), ==, "220 hello\r\nMAIL FROM:<a@b>\r\n");
    g_assert_cmpuint(fx->s.delivered, ==, 28);
    g_assert_cmpuint(fx->s.next_seq, ==, 1001 + 28);
    g_assert_cmpuint(fx->s.out_of_order + fx->s.retransmitted + fx->s.gaps, ==, 0);
}

/* Every order of four segments gives the same stream, no gap, nothing held. */
static void test_permutations(void)
{
    static const char *parts[4] = { "AAAA", "BBBBBB", "CC", "DDDDD" };
    uint32_t offs[4] = { 0, 4, 10, 12 };
    int perm[24][4], n = 0;

    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            for (int c = 0; c < 4; c++)
                for (int d = 0; d < 4; d++)
                    if (a != b && a != c && a != d && b != c && b != d && c != d) {
                        int p[4] = { a, b, c, d };
                        memcpy(perm[n++], p, sizeof p);
                    }
    g_assert_cmpint(n, ==, 24);
    for (int i = 0; i < n; i++) {
        fixture fx;
        fx_setup(&fx, NULL);
        reasm_syn(&fx.s, 7);
        for (int j = 0; j < 4; j++)
            seg(&fx, 7, offs[perm[i][j]], parts[perm[i][j]], (uint32_t)j + 1);
        g_assert_cmpstr(OUT(&fx), ==, "AAAABBBBBBCCDDDDD");
        g_assert_null(fx.s.held);
        g_assert_cmpuint(fx.s.held_bytes, ==, 0);
        g_assert_cmpuint(fx.s.gaps, ==, 0);
        g_assert_cmpuint(fx.s.retransmitted, ==, 0);
        /* segments that came before their predecessor were held */
        uint64_t expect_ooo = 0;
        for (int j = 0; j < 4; j++) {
            /* held iff an earlier part of the stream arrives later */
            bool held = false;
            for (int k = j + 1; k < 4; k++)
                held |= perm[i][k] < perm[i][j];
            expect_ooo += held;
        }
        g_assert_cmpuint(fx.s.out_of_order, ==, expect_ooo);
        fx_teardown(&fx, NULL);
    }
}

static void test_retransmissions(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 0);
    seg(fx, 0, 0, "EHLO x\r\n", 1);
    seg(fx, 0, 0, "EHLO x\r\n", 2);          /* whole resend */
    seg(fx, 0, 8, "MAIL", 3);
    seg(fx, 0, 4, " x\r\nMAIL FROM", 4);     /* partial: old part trimmed */
    seg(fx, 0, 0, "EHLO", 5);                /* old again */
    g_assert_cmpstr(OUT(fx), ==, "EHLO x\r\nMAIL FROM");
    g_assert_cmpuint(fx->s.retransmitted, ==, 3);
    g_assert_cmpuint(fx->r.last_frame, ==, 4);
    g_assert_cmpuint(fx->s.conflicts, ==, 0);
}

static void test_keepalive(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 500);
    seg(fx, 500, 0, "QUIT\r\n", 1);
    /* classic keep-alive: one garbage byte at next_seq - 1 */
    reasm_segment(&fx->s, 501 + 5, (const uint8_t *)"\0", 1, false, at(2));
    /* zero-length probe at next_seq */
    reasm_segment(&fx->s, 501 + 6, NULL, 0, false, at(3));
    g_assert_cmpstr(OUT(fx), ==, "QUIT\r\n");
    g_assert_cmpuint(fx->s.retransmitted, ==, 0);
    g_assert_cmpuint(fx->s.next_seq, ==, 507);
}

static void test_overlap_identical(fixture *fx, gconstpointer data)
{
    (void)data;
    const char *text = "0123456789abcdefghijklmnopqrstuvwxyz";
    reasm_syn(&fx->s, 99);
    seg(fx, 99, 10, "abcdefghij", 1);              /* held [10,20) */
    seg(fx, 99, 25, "pqrst", 2);                   /* held [25,30) */
    g_assert_cmpuint(fx->s.n_held, ==, 2);
    char mid[32];
    memcpy(mid, text + 5, 20);                     /* [5,25): covers the first, touches the second */
    mid[20] = 0;
    seg(fx, 99, 5, mid, 3);                        /* holds [5,10) and [20,25) */
    g_assert_cmpuint(fx->s.n_held, ==, 4);
    seg(fx, 99, 0, "0123456789abcdefghijklmnopqrstuvwxyz", 4);   /* fills all, overlaps all */
    g_assert_cmpstr(OUT(fx), ==, text);
    g_assert_cmpuint(fx->s.conflicts, ==, 0);
    g_assert_null(fx->s.held);
    g_assert_cmpuint(fx->s.delivered, ==, strlen(text));
}

static void test_overlap_conflict(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 99);
    seg(fx, 99, 4, "XYZW", 1);                     /* first copy of [4,8) */
    seg(fx, 99, 6, "ZWvu", 2);                     /* agrees on [6,8): no conflict */
    g_assert_cmpuint(fx->r.conflicts, ==, 0);
    seg(fx, 99, 0, "abcdefghijkl", 3);             /* disagrees on [4,10) */
    g_assert_cmpuint(fx->r.conflicts, ==, 1);
    g_assert_cmpuint(fx->s.conflicts, ==, 1);
    /* the bytes seen first win */
    g_assert_cmpstr(OUT(fx), ==, "abcdXYZWvukl");
}

/* A retransmission of bytes already delivered, with other contents: the
 * first copy stays, the conflict is reported (the command a server and an
 * analyser could read differently).  An identical resend is no conflict,
 * and neither are resends older than what is remembered. */
static void test_conflict_with_delivered(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 99);
    seg(fx, 99, 0, "RCPT TO:<bob@example.org>\r\n", 1);
    seg(fx, 99, 9, "bob@example.org>\r\n", 2);      /* same bytes again */
    g_assert_cmpuint(fx->r.conflicts, ==, 0);
    seg(fx, 99, 9, "eve@example.org>\r\n", 3);      /* other bytes, same range */
    g_assert_cmpuint(fx->r.conflicts, ==, 1);
    g_assert_cmpstr(OUT(fx), ==, "RCPT TO:<bob@example.org>\r\n");
    char body[REASM_RECENT_BYTES * 2];
    memset(body, 'x', sizeof body);
    reasm_segment(&fx->s, 100 + 27, (const uint8_t *)body, sizeof body, false, at(4));
    seg(fx, 99, 0, "MAIL FROM:<eve@example.org>\r\n", 5); /* beyond memory: not judged */
    g_assert_cmpuint(fx->r.conflicts, ==, 1);
}

/* Sequence numbers that wrap past 2^32, in order and out of order. */
static void test_wraparound(fixture *fx, gconstpointer data)
{
    (void)data;
    const uint32_t isn = 0xFFFFFF00u;
    char big[300];
    for (int i = 0; i < 300; i++)
        big[i] = (char)('a' + i % 26);
    reasm_syn(&fx->s, isn);
    /* the stream crosses 2^32 at offset 255, inside the second segment */
    reasm_segment(&fx->s, isn + 1 + 200, (const uint8_t *)big + 200, 100, false, at(2));
    reasm_segment(&fx->s, isn + 1 + 100, (const uint8_t *)big + 100, 100, false, at(3));
    g_assert_cmpuint(fx->s.n_held, ==, 2);
    reasm_segment(&fx->s, isn + 1, (const uint8_t *)big, 100, false, at(1));
    g_assert_cmpuint(fx->r.out->len, ==, 300);
    g_assert_true(memcmp(fx->r.out->str, big, 300) == 0);
    g_assert_cmpuint(fx->s.next_seq, ==, (uint32_t)(isn + 301));
    g_assert_cmpuint(fx->s.next_seq, <, 0x100);
    /* an old segment from before the wrap is still old */
    reasm_segment(&fx->s, isn + 1 + 50, (const uint8_t *)big + 50, 10, false, at(4));
    g_assert_cmpuint(fx->s.retransmitted, ==, 1);
    g_assert_cmpuint(fx->r.out->len, ==, 300);
    /* an ack across the wrap reports an exact gap */
    reasm_ack(&fx->s, isn + 301 + 7, at(5));
    g_assert_cmpstr(fx->r.out->str + 300, ==, "<gap 7>");
}

static void test_gap_via_ack(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 1000);
    reasm_ack(&fx->s, 1001, at(2));                /* ack of the SYN: nothing missing */
    seg(fx, 1000, 0, "RCPT TO:<a>\r\n", 3);        /* 13 bytes */
    seg(fx, 1000, 26, "DATA\r\n", 5);              /* [13,26) lost */
    reasm_ack(&fx->s, 1001 + 10, at(6));           /* old ack: nothing */
    g_assert_cmpuint(fx->s.gaps, ==, 0);
    reasm_ack(&fx->s, 1001 + 32, at(7));
    g_assert_cmpstr(OUT(fx), ==, "RCPT TO:<a>\r\n<gap 13>DATA\r\n");
    g_assert_cmpuint(fx->s.gap_bytes, ==, 13);
    /* nothing held: the whole acked range is the gap */
    reasm_ack(&fx->s, 1001 + 40, at(8));
    g_assert_cmpstr(OUT(fx), ==, "RCPT TO:<a>\r\n<gap 13>DATA\r\n<gap 8>");
    /* a late copy of lost bytes is now old */
    seg(fx, 1000, 13, "RCPT TO:<b>\r\n", 9);
    g_assert_cmpuint(fx->s.retransmitted, ==, 1);
    /* absurd acks (a one-sided or midstream capture's stray numbers) */
    reasm_ack(&fx->s, 1001 + 40 + (1u << 30) + 1, at(10));
    reasm_ack(&fx->s, 1001 + 40 + 0x80000000u, at(11));
    g_assert_cmpuint(fx->s.gaps, ==, 2);
    g_assert_cmpuint(fx->s.next_seq, ==, 1041);
}

static void test_gap_via_ack_fin(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 0);
    seg(fx, 0, 0, "221 bye\r\n", 1);
    /* FIN after 5 lost bytes */
    reasm_segment(&fx->s, 1 + 9 + 5, NULL, 0, true, at(3));
    g_assert_true(fx->s.fin_pending);
    g_assert_false(fx->s.fin);
    /* the FIN's own sequence number is acked too: the gap is only the data */
    reasm_ack(&fx->s, 1 + 9 + 5 + 1, at(4));
    g_assert_cmpstr(OUT(fx), ==, "221 bye\r\n<gap 5>");
    g_assert_true(fx->s.fin);
    g_assert_false(fx->s.fin_pending);
    reasm_ack(&fx->s, 1 + 9 + 5 + 100, at(5));     /* after FIN: nothing */
    g_assert_cmpuint(fx->s.gaps, ==, 1);
}

static void test_gap_via_flush(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 10);
    seg(fx, 10, 0, "ab", 1);
    seg(fx, 10, 5, "fg", 2);
    seg(fx, 10, 10, "kl", 3);
    reasm_segment(&fx->s, 11 + 20, NULL, 0, true, at(4));   /* FIN at 20 */
    g_assert_cmpuint(fx->s.held_bytes, ==, 4);
    reasm_flush(&fx->s, at(5));
    g_assert_cmpstr(OUT(fx), ==, "ab<gap 3>fg<gap 3>kl<gap 8>");
    g_assert_null(fx->s.held);
    g_assert_cmpuint(fx->s.held_bytes, ==, 0);
    g_assert_cmpuint(fx->s.n_held, ==, 0);
    g_assert_true(fx->s.fin);
    g_assert_cmpuint(fx->s.delivered + fx->s.gap_bytes, ==, 20);
}

static void test_fin_order(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_syn(&fx->s, 0);
    /* FIN with the last data arrives first */
    reasm_segment(&fx->s, 1 + 6, (const uint8_t *)"world", 5, true, at(2));
    g_assert_true(fx->s.fin_pending);
    g_assert_false(fx->s.fin);
    g_assert_cmpuint(fx->s.fin_seq, ==, 12);
    g_assert_cmpstr(OUT(fx), ==, "");
    seg(fx, 0, 0, "hello ", 1);
    g_assert_cmpstr(OUT(fx), ==, "hello world");
    g_assert_true(fx->s.fin);
    g_assert_false(fx->s.fin_pending);
    /* nothing exists after the FIN */
    seg(fx, 0, 11, "junk", 3);
    reasm_flush(&fx->s, at(4));
    g_assert_cmpstr(OUT(fx), ==, "hello world");
    g_assert_cmpuint(fx->s.gaps, ==, 0);

    /* held data that a later FIN puts beyond the end is dropped */
    reasm_free(&fx->s);
    reasm_init(&fx->s, &sink, &fx->r);
    g_string_truncate(fx->r.out, 0);
    reasm_syn(&fx->s, 100);
    seg(fx, 100, 3, "lo and beyond", 1);            /* held [3,16) */
    seg(fx, 100, 20, "far beyond", 2);              /* held [20,30) */
    reasm_segment(&fx->s, 101 + 5, NULL, 0, true, at(3));   /* FIN at 5 */
    g_assert_cmpuint(fx->s.n_held, ==, 1);
    g_assert_cmpuint(fx->s.held_bytes, ==, 2);
    seg(fx, 100, 0, "hel", 4);
    g_assert_cmpstr(OUT(fx), ==, "hello");
    g_assert_true(fx->s.fin);
    g_assert_null(fx->s.held);
}

/* Once the sequence is fixed, a later SYN moves nothing (the caller starts
 * a new stream for a new connection), not even after a bare FIN. */
static void test_syn_fixed(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_segment(&fx->s, 1000, NULL, 0, true, at(1));        /* bare FIN */
    g_assert_true(fx->s.fin);
    reasm_syn(&fx->s, 500);
    seg(fx, 500, 0, "after the end", 2);
    g_assert_cmpstr(OUT(fx), ==, "");
    g_assert_cmpuint(fx->s.next_seq, ==, 1000);

    reasm_free(&fx->s);
    reasm_init(&fx->s, &sink, &fx->r);
    reasm_syn(&fx->s, 2000);
    reasm_syn(&fx->s, 3000);                                  /* another ISN */
    seg(fx, 2000, 0, "first", 3);
    g_assert_cmpstr(OUT(fx), ==, "first");
}

/* No SYN: the first segment seen fixes the sequence. */
static void test_midstream(fixture *fx, gconstpointer data)
{
    (void)data;
    reasm_segment(&fx->s, 123456789, (const uint8_t *)"250 OK\r\n", 8, false, at(1));
    reasm_segment(&fx->s, 123456789 + 8, (const uint8_t *)"354 go\r\n", 8, false, at(2));
    g_assert_cmpstr(OUT(fx), ==, "250 OK\r\n354 go\r\n");
    g_assert_true(fx->s.have_seq);
}

/* Large out-of-order data beyond REASM_MAX_BUFFERED: the hole becomes a gap. */
static void test_overflow_bytes(fixture *fx, gconstpointer data)
{
    (void)data;
    const uint32_t chunk = 1400;
    uint8_t *buf = g_malloc(chunk);
    memset(buf, 'x', chunk);
    reasm_syn(&fx->s, 0);
    uint32_t n = REASM_MAX_BUFFERED / chunk + 1;
    for (uint32_t i = 0; i < n; i++) {
        reasm_segment(&fx->s, 1 + 100 + i * chunk, buf, chunk, false, at(i + 1));
        g_assert_cmpuint(fx->s.held_bytes, <=, REASM_MAX_BUFFERED);
    }
    g_assert_cmpuint(fx->r.overflows, ==, 1);
    g_assert_true(g_str_has_prefix(OUT(fx), "<gap 100>xxx"));
    g_assert_cmpuint(fx->s.held_bytes, ==, 0);
    g_assert_cmpuint(fx->s.delivered, ==, (uint64_t)n * chunk);
    g_free(buf);
}

/* A million one-byte segments, every one out of order (a hole before each):
 * memory stays bounded.  (Time is reported, not asserted: speed is the
 * benchmarks' business.) */
static void test_overflow_flood(fixture *fx, gconstpointer data)
{
    (void)data;
    const uint32_t n = 1000000;
    gint64 t0 = g_get_monotonic_time();
    uint32_t max_held = 0;
    uint64_t max_bytes = 0;

    reasm_syn(&fx->s, 0xFFFF0000u);    /* and wrap on the way */
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)('a' + i % 26);
        reasm_segment(&fx->s, 0xFFFF0001u + 1 + 2 * i, &b, 1, false, at(i + 1));
        max_held = MAX(max_held, fx->s.n_held);
        max_bytes = MAX(max_bytes, fx->s.held_bytes);
    }
    g_assert_cmpuint(max_held, <=, REASM_MAX_SEGMENTS);
    g_assert_cmpuint(max_bytes, <=, REASM_MAX_BUFFERED);
    g_assert_cmpuint(fx->r.overflows, ==, n - REASM_MAX_SEGMENTS);
    reasm_flush(&fx->s, at(n + 1));
    g_assert_cmpuint(fx->s.gaps, ==, n);
    g_assert_cmpuint(fx->s.delivered, ==, n);
    g_assert_cmpuint(fx->s.delivered + fx->s.gap_bytes, ==, 2ull * n);
    g_assert_null(fx->s.held);

    /* the same number of segments contiguous behind one hole, descending */
    reasm_free(&fx->s);
    reasm_init(&fx->s, &sink, &fx->r);
    reasm_syn(&fx->s, 0);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t b = 'z';
        reasm_segment(&fx->s, 1 + 10 + (n - 1 - i), &b, 1, false, at(i + 1));
        g_assert_cmpuint(fx->s.n_held, <=, REASM_MAX_SEGMENTS);
    }
    reasm_flush(&fx->s, at(n + 1));
    g_assert_cmpuint(fx->s.delivered + fx->s.gap_bytes, ==, (uint64_t)n + 10);

    gint64 us = g_get_monotonic_time() - t0;
    g_test_message("2e6 tiny out-of-order segments in %" G_GINT64_FORMAT " ms", us / 1000);
}

#define ADD(name, fn) g_test_add("/reasm/" name, fixture, NULL, fx_setup, fn, fx_teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    ADD("in-order", test_in_order);
    g_test_add_func("/reasm/permutations", test_permutations);
    ADD("retransmissions", test_retransmissions);
    ADD("keep-alive", test_keepalive);
    ADD("overlap-identical", test_overlap_identical);
    ADD("overlap-conflict", test_overlap_conflict);
    ADD("conflict-with-delivered", test_conflict_with_delivered);
    ADD("wrap-around", test_wraparound);
    ADD("gap-via-ack", test_gap_via_ack);
    ADD("gap-via-ack-fin", test_gap_via_ack_fin);
    ADD("gap-via-flush", test_gap_via_flush);
    ADD("fin-order", test_fin_order);
    ADD("syn-fixed", test_syn_fixed);
    ADD("midstream", test_midstream);
    ADD("overflow-bytes", test_overflow_bytes);
    ADD("overflow-flood", test_overflow_flood);
    return g_test_run();
}
