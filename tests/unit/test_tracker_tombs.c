/* test_tracker_tombs.c -- what is left of closed conversations: tombstones
 * swallow late packets for FLOW_CLOSED_LINGER_NS, a new SYN replaces them,
 * and at most FLOW_TOMBSTONES_MAX are kept, the oldest going first. */
#include <string.h>

#include <glib.h>

#include "smtp_limits.h"
#include "tcp_tracker.h"

#define SEC 1000000000LL

static const char greeting[] = "220 tomb.example ESMTP\r\n";

static void on_event(void *user, const tcp_conv_info *conv, const smtp_event *ev)
{
    (void)conv;
    if (ev->type == SMTP_EV_END)
        (*(unsigned *)user)++;
}

static const tcp_tracker_sink sink = { .on_event = on_event };

/* Connection `i`: client 10.(i>>16).(i>>8).i port 40000 + i % 20000 to
 * 192.0.2.25:25; the client's ISN is 1000, the server's 5000. */
static void seg(tcp_tracker *t, unsigned i, bool from_server, uint8_t flags, uint32_t seq,
                const char *payload, int64_t ts)
{
    static uint32_t frame;
    uint8_t client[16] = { 10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
    uint8_t server[16] = { 192, 0, 2, 25 };
    uint16_t cport = (uint16_t)(40000 + i % 20000);
    tcp_segment s = { .family = 4, .seq = seq, .flags = flags };

    memcpy(s.src, from_server ? server : client, 16);
    memcpy(s.dst, from_server ? client : server, 16);
    s.sport = from_server ? 25 : cport;
    s.dport = from_server ? cport : 25;
    s.ack = from_server ? 1001 : 5001;
    s.payload = (const uint8_t *)payload;
    s.len = payload ? strlen(payload) : 0;
    s.pos = (cap_pos){ ts, ++frame };
    tcp_tracker_segment(t, &s);
}

/* A whole connection at `ts`: handshake, greeting, FIN from both sides. */
static void conversation(tcp_tracker *t, unsigned i, int64_t ts)
{
    uint32_t server_fin = 5001 + (uint32_t)strlen(greeting);
    seg(t, i, false, TCPF_SYN, 1000, NULL, ts);
    seg(t, i, true, TCPF_SYN | TCPF_ACK, 5000, NULL, ts);
    seg(t, i, false, TCPF_ACK, 1001, NULL, ts);
    seg(t, i, true, TCPF_ACK | TCPF_PSH, 5001, greeting, ts);
    seg(t, i, false, TCPF_ACK | TCPF_FIN, 1001, NULL, ts);
    seg(t, i, true, TCPF_ACK | TCPF_FIN, server_fin, NULL, ts);
}

/* The greeting of connection `i` sent again: swallowed by a tombstone, or
 * (none left) the start of a midstream conversation. */
static void late_greeting(tcp_tracker *t, unsigned i, int64_t ts)
{
    seg(t, i, true, TCPF_ACK | TCPF_PSH, 5001, greeting, ts);
}

/* More closes than tombstones: the oldest go first, the rest still
 * swallow late packets; a new SYN on a tombstone's ports is a new
 * conversation; after the linger period nothing is left. */
static void test_cap_and_reuse(void)
{
    unsigned ends = 0;
    tcp_tracker *t = tcp_tracker_new(NULL, &sink, &ends);
    const tcp_tracker_stats *st = tcp_tracker_get_stats(t);
    const unsigned n = FLOW_TOMBSTONES_MAX + 100;
    int64_t ts = 1700000000LL * SEC;

    for (unsigned i = 0; i < n; i++)
        conversation(t, i, ts + i * 1000);
    ts += n * 1000;
    g_assert_cmpuint(st->conversations, ==, n);
    g_assert_cmpuint(ends, ==, n);
    g_assert_cmpuint(st->live, ==, 0);

    /* the newest closes are remembered */
    late_greeting(t, n - 1, ts);
    late_greeting(t, 100, ts);
    g_assert_cmpuint(st->conversations, ==, n);
    g_assert_cmpuint(st->live, ==, 0);
    /* the first 100 were pushed out by the cap */
    late_greeting(t, 99, ts);
    g_assert_cmpuint(st->conversations, ==, n + 1);
    g_assert_cmpuint(st->live, ==, 1);

    /* port reuse: a new connection replaces the tombstone ... */
    conversation(t, n - 2, ts);
    g_assert_cmpuint(st->conversations, ==, n + 2);
    /* ... and leaves one of its own */
    late_greeting(t, n - 2, ts);
    g_assert_cmpuint(st->conversations, ==, n + 2);

    /* past the linger period the tombstones are gone */
    ts += FLOW_CLOSED_LINGER_NS + SEC;
    late_greeting(t, n - 3, ts);
    g_assert_cmpuint(st->conversations, ==, n + 3);
    tcp_tracker_finish(t, (cap_pos){ ts, 0 });
    g_assert_cmpuint(st->live, ==, 0);
    g_assert_cmpuint(ends, ==, n + 3);
    tcp_tracker_free(t);
}

/* Tombstones expiring while new ones come: the ring wraps, grows while
 * wrapped, and a replaced tombstone in the middle does not disturb the
 * others. */
static void test_expiry_order(void)
{
    unsigned ends = 0;
    tcp_tracker *t = tcp_tracker_new(NULL, &sink, &ends);
    const tcp_tracker_stats *st = tcp_tracker_get_stats(t);
    int64_t t0 = 1700000000LL * SEC;
    int64_t linger = FLOW_CLOSED_LINGER_NS;
    const unsigned first = 64, second = 200;

    /* one close a second: at t0 + linger + 9.5 s the first ten are due */
    for (unsigned i = 0; i < first; i++)
        conversation(t, i, t0 + i * SEC);
    conversation(t, 5000, t0 + 20 * SEC);       /* reuse of nothing: a new one */
    conversation(t, 30, t0 + 30 * SEC + SEC / 2);   /* replaces tombstone 30 */
    int64_t later = t0 + linger + 9 * SEC + SEC / 2;
    for (unsigned i = first; i < first + second; i++)
        conversation(t, i, later);
    g_assert_cmpuint(st->conversations, ==, first + second + 2);

    uint64_t before = st->conversations;
    for (unsigned i = 10; i < first + second; i++)
        late_greeting(t, i, later);
    late_greeting(t, 5000, later);
    g_assert_cmpuint(st->conversations, ==, before);
    for (unsigned i = 0; i < 10; i++)
        late_greeting(t, i, later);
    g_assert_cmpuint(st->conversations, ==, before + 10);
    tcp_tracker_finish(t, (cap_pos){ later, 0 });
    g_assert_cmpuint(ends, ==, before + 10);
    tcp_tracker_free(t);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tracker/tombs/cap-and-reuse", test_cap_and_reuse);
    g_test_add_func("/tracker/tombs/expiry-order", test_expiry_order);
    return g_test_run();
}
