/* test_hostile_transport.c -- reassembly and the flow table under floods.
 *
 * A million SYNs on distinct ports through tcp_tracker (default and small
 * live caps), a million tiny segments that never fill their holes straight
 * into a reasm_stream, and a message body cut into a million one-byte
 * segments sent backwards within each window.  Each test checks the core's
 * own counters (live flows, evictions, held bytes), peak RSS as a coarse
 * bound, and that a real conversation afterwards is analysed right.
 */
#include <string.h>

#include <glib.h>

#include "smtp_limits.h"
#include "reasm.h"
#include "tcp_tracker.h"
#include "test_hostile.h"

/* ---- a TCP conversation made segment by segment ----------------------- */

typedef struct conv {
    tcp_tracker *t;
    uint8_t  addr[2][4];   /* [0] client, [1] server */
    uint16_t port[2];
    uint32_t seq[2];       /* next sequence number each side sends */
    cap_pos  pos;
} conv;

static void conv_segment(conv *c, int from, uint32_t seq, uint8_t flags, const void *data, size_t len)
{
    tcp_segment s = { .family = 4, .flags = flags, .payload = data, .len = len };
    memcpy(s.src, c->addr[from], 4);
    memcpy(s.dst, c->addr[1 - from], 4);
    s.sport = c->port[from];
    s.dport = c->port[1 - from];
    s.seq = seq;
    s.ack = c->seq[1 - from];
    c->pos.frame++;
    c->pos.ts_ns += 1000;
    s.pos = c->pos;
    tcp_tracker_segment(c->t, &s);
}

static void conv_open(conv *c)
{
    conv_segment(c, 0, c->seq[0]++, TCPF_SYN, NULL, 0);
    conv_segment(c, 1, c->seq[1]++, TCPF_SYN | TCPF_ACK, NULL, 0);
    conv_segment(c, 0, c->seq[0], TCPF_ACK, NULL, 0);
}

static void conv_send(conv *c, int from, const char *text)
{
    size_t len = strlen(text);
    conv_segment(c, from, c->seq[from], TCPF_ACK | TCPF_PSH, text, len);
    c->seq[from] += (uint32_t)len;
}

/* Send `len` bytes as one-byte segments, each window of `window` bytes
 * sent last byte first. */
static void conv_send_tiny_reversed(conv *c, int from, const char *data, size_t len, size_t window)
{
    uint32_t base = c->seq[from];
    for (size_t w = 0; w < len; w += window) {
        size_t end = w + window < len ? w + window : len;
        for (size_t i = end; i-- > w;)
            conv_segment(c, from, base + (uint32_t)i, TCPF_ACK, data + i, 1);
    }
    c->seq[from] += (uint32_t)len;
}

static void conv_close(conv *c)
{
    conv_segment(c, 0, c->seq[0]++, TCPF_FIN | TCPF_ACK, NULL, 0);
    conv_segment(c, 1, c->seq[1]++, TCPF_FIN | TCPF_ACK, NULL, 0);
    conv_segment(c, 0, c->seq[0], TCPF_ACK, NULL, 0);
}

static void tracker_event(void *user, const tcp_conv_info *ci, const smtp_event *ev)
{
    (void)ci;
    hostile_record(user, ev);
}

static void tracker_body(void *user, const tcp_conv_info *ci, const smtp_body_span *b)
{
    (void)ci;
    hostile_on_body(user, b);
}

static const tcp_tracker_sink tracker_sink = { .on_event = tracker_event, .on_body = tracker_body };

static const char body_head[] = "Subject: after the flood\r\n\r\n";

/* A whole SMTP conversation on port 25 from 192.0.2.1:`cport`; the body is
 * body_head plus `extra` (sent in one-byte segments when `tiny`). */
static void real_conversation(tcp_tracker *t, cap_pos *pos, uint16_t cport, const char *extra, bool tiny)
{
    conv c = { .t = t, .addr = { { 192, 0, 2, 1 }, { 198, 51, 100, 25 } }, .port = { cport, 25 },
               .seq = { 1000, 0xFFFFFF00u }, .pos = *pos };
    conv_open(&c);
    conv_send(&c, 1, "220 mx.example.org ESMTP\r\n");
    conv_send(&c, 0, "EHLO client.example.com\r\n");
    conv_send(&c, 1, "250-mx.example.org\r\n250 PIPELINING\r\n");
    conv_send(&c, 0, "MAIL FROM:<after@example.com>\r\nRCPT TO:<rcpt@example.org>\r\nDATA\r\n");
    conv_send(&c, 1, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 Go ahead\r\n");
    conv_send(&c, 0, body_head);
    if (tiny)
        conv_send_tiny_reversed(&c, 0, extra, strlen(extra), 256);
    else
        conv_send(&c, 0, extra);
    conv_send(&c, 0, ".\r\nQUIT\r\n");
    conv_send(&c, 1, "250 2.0.0 Ok: queued as FLOOD1\r\n221 2.0.0 Bye\r\n");
    conv_close(&c);
    *pos = c.pos;
}

static void assert_real_conversation(const hostile_rec *r, size_t body_len)
{
    g_assert_true(r->ended);
    g_assert_cmpint(r->end_reason, ==, SMTP_END_FIN);
    g_assert_cmpuint(r->by_type[SMTP_EV_TRANSACTION], ==, 1);
    g_assert_cmpint(r->txn_outcome, ==, SMTP_TXN_ACCEPTED);
    g_assert_cmpstr(r->txn_from, ==, "after@example.com");
    g_assert_cmpstr(r->txn_qid, ==, "FLOOD1");
    g_assert_cmpuint(r->txn_size, ==, body_len);
    g_assert_cmpint(r->last_answers, ==, SMTP_CMD_QUIT);
    g_assert_cmpuint(r->by_anomaly[SMTP_AN_gap], ==, 0);
    g_assert_cmpuint(r->by_anomaly[SMTP_AN_reassembly_overflow], ==, 0);
}

/* ---- SYN flood ---------------------------------------------------------- */

static void test_syn_flood(gconstpointer data)
{
    size_t max_live = GPOINTER_TO_SIZE(data);
    size_t cap = max_live ? max_live : FLOW_MAX_LIVE_DEFAULT;
    uint64_t n = hostile_n(1000000);
    long rss_before = hostile_maxrss_kb();
    hostile_rec rec = { 0 };
    tcp_tracker_options o = { .max_live = max_live, .heuristic = true };
    tcp_tracker *t = tcp_tracker_new(&o, &tracker_sink, &rec);
    cap_pos pos = { .ts_ns = 1700000000LL * 1000000000LL, .frame = 0 };

    for (uint64_t i = 0; i < n; i++) {
        /* distinct (address, port) pairs, half of them to a listed port */
        tcp_segment s = { .family = 4, .flags = TCPF_SYN, .seq = (uint32_t)(i * 7919u) };
        s.src[0] = 10;
        s.src[1] = (uint8_t)(i >> 16);
        s.src[2] = (uint8_t)(i >> 8);
        s.src[3] = (uint8_t)i;
        memcpy(s.dst, (uint8_t[]){ 198, 51, 100, 25 }, 4);
        s.sport = (uint16_t)(1024 + i % 60000);
        s.dport = (i & 1) ? 25 : 8025;
        pos.frame++;
        pos.ts_ns += 1000;
        s.pos = pos;
        tcp_tracker_segment(t, &s);
    }
    const tcp_tracker_stats *st = tcp_tracker_get_stats(t);
    g_assert_cmpuint(st->segments, ==, n);
    g_assert_cmpuint(st->live, <=, cap);
    g_assert_cmpuint(st->peak_live, <=, cap);
    g_assert_cmpuint(st->conversations, ==, 0);   /* SYNs alone start none */
    if (n > cap)
        g_assert_cmpuint(st->evicted, ==, n - cap);
    g_assert_cmpuint(rec.by_type[SMTP_EV_END], ==, 0);

    real_conversation(t, &pos, 40000, "a real message\r\n", false);
    assert_real_conversation(&rec, strlen(body_head) + strlen("a real message\r\n"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->conversations, ==, 1);
    g_assert_cmpuint(tcp_tracker_get_stats(t)->live, <=, cap);
    tcp_tracker_finish(t, pos);
    tcp_tracker_free(t);
    /* a flow costs well under 1 KB; a default cap of 65536 stays under
     * 128 MB, a small one under 32 MB */
    hostile_assert_rss(rss_before, max_live ? 32 : 128);
}

/* ---- tiny segments ---------------------------------------------------- */

typedef struct reasm_count {
    uint64_t delivered, gap_bytes, overflows;
} reasm_count;

static void rc_data(void *user, const uint8_t *d, size_t len, cap_pos pos)
{
    (void)d;
    (void)pos;
    ((reasm_count *)user)->delivered += len;
}

static void rc_gap(void *user, uint64_t len, cap_pos pos)
{
    (void)pos;
    ((reasm_count *)user)->gap_bytes += len;
}

static void rc_conflict(void *user, cap_pos pos)
{
    (void)user;
    (void)pos;
}

static void rc_overflow(void *user, cap_pos pos)
{
    (void)pos;
    ((reasm_count *)user)->overflows++;
}

/* A million one-byte segments, each leaving a hole before it: the stream
 * holds no more than its limits, gives the holes up as gaps, and carries
 * on in order afterwards. */
static void test_tiny_segments_never_filled(void)
{
    static const reasm_sink sink = { rc_data, rc_gap, rc_conflict, rc_overflow };
    uint64_t n = hostile_n(1000000);
    long rss_before = hostile_maxrss_kb();
    reasm_count rc = { 0 };
    reasm_stream s;
    cap_pos pos = { 0, 0 };
    const uint32_t isn = 0xFFFF0000u;   /* wraps during the flood */
    const uint8_t byte = 'x';

    reasm_init(&s, &sink, &rc);
    reasm_syn(&s, isn);
    uint64_t max_bytes = 0, max_segs = 0;
    for (uint64_t i = 0; i < n; i++) {
        pos.frame++;
        reasm_segment(&s, isn + 1 + (uint32_t)(2 * i + 1), &byte, 1, false, pos);
        if (s.held_bytes > max_bytes)
            max_bytes = s.held_bytes;
        if (s.n_held > max_segs)
            max_segs = s.n_held;
    }
    g_assert_cmpuint(max_segs, <=, REASM_MAX_SEGMENTS);
    g_assert_cmpuint(max_bytes, <=, REASM_MAX_BUFFERED);
    g_assert_cmpuint(rc.overflows, >=, 1);
    g_assert_cmpuint(rc.delivered, <=, n);
    g_assert_cmpuint(s.delivered, ==, rc.delivered);
    /* every byte before the held ones was either delivered or a gap */
    g_assert_cmpuint(rc.delivered + rc.gap_bytes, ==, (uint64_t)(uint32_t)(s.next_seq - (isn + 1)));

    /* one segment fills every hole left: all that was held flows */
    uint64_t before = rc.delivered;
    uint32_t from = s.next_seq, to = isn + 1 + (uint32_t)(2 * n + 1);
    uint8_t *fill = g_malloc((uint32_t)(to - from));
    memset(fill, 'x', (uint32_t)(to - from));
    pos.frame++;
    reasm_segment(&s, from, fill, (uint32_t)(to - from), false, pos);
    g_free(fill);
    g_assert_cmpuint(rc.delivered, ==, before + (uint32_t)(to - from));
    g_assert_cmpuint(s.n_held, ==, 0);
    pos.frame++;
    reasm_flush(&s, pos);
    g_assert_cmpuint(s.n_held, ==, 0);
    g_assert_cmpuint(s.held_bytes, ==, 0);
    reasm_free(&s);
    hostile_assert_rss(rss_before, 16);
}

/* A message body in one-byte segments, each window of 256 sent backwards:
 * bounded holding, nothing lost, the message size exact. */
static void test_tiny_segments_reordered(void)
{
    uint64_t n = hostile_n(1000000);
    long rss_before = hostile_maxrss_kb();
    hostile_rec rec = { 0 };
    tcp_tracker *t = tcp_tracker_new(NULL, &tracker_sink, &rec);
    cap_pos pos = { .ts_ns = 1700000000LL * 1000000000LL, .frame = 0 };
    GString *body = g_string_sized_new(n + 64);
    while (body->len < n)
        g_string_append(body, "the quick brown fox jumps over the lazy dog 0123456789\r\n");

    real_conversation(t, &pos, 40001, body->str, true);
    assert_real_conversation(&rec, strlen(body_head) + body->len);
    g_assert_cmpuint(rec.by_anomaly[SMTP_AN_overlap_conflict], ==, 0);
    tcp_tracker_finish(t, pos);
    tcp_tracker_free(t);
    g_string_free(body, TRUE);
    hostile_assert_rss(rss_before, 32);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* one suite, run in this order: peak RSS only ever grows within a
     * process, so the big flow table comes last */
    g_test_add_data_func("/hostile/transport/syn-flood-max-live-100", GSIZE_TO_POINTER(100), test_syn_flood);
    g_test_add_func("/hostile/transport/tiny-segments-never-filled", test_tiny_segments_never_filled);
    g_test_add_func("/hostile/transport/tiny-segments-reordered-body", test_tiny_segments_reordered);
    g_test_add_data_func("/hostile/transport/syn-flood-max-live-default", GSIZE_TO_POINTER(0), test_syn_flood);
    return g_test_run();
}
