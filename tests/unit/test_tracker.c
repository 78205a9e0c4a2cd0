/* test_tracker.c -- the TCP tracker on hand-built segments, end to end
 * through the SMTP engine. */
#include <arpa/inet.h>
#include <string.h>

#include <glib.h>

#include "flow_table.h"
#include "smtp_limits.h"
#include "tcp_tracker.h"

/* ---- recording sink ---------------------------------------------------- */

/* Each event as one line: "<conv> <C|S> <what>", e.g. "1 S reply 220". */
typedef struct rec {
    GPtrArray *lines;
    GArray    *ends;        /* tcp_conv_info copied at each END */
    GArray    *end_ev;      /* smtp_end_ev copied at each END */
} rec;

static const char *end_name(smtp_end_reason r)
{
    static const char *names[] = { "fin", "rst", "idle", "eof", "evicted" };
    return names[r];
}

static void on_event(void *user, const tcp_conv_info *conv, const smtp_event *ev)
{
    rec *r = user;
    char who = ev->from == SMTP_DIR_CLIENT ? 'C' : 'S';
    char *line = NULL;

    switch (ev->type) {
    case SMTP_EV_COMMAND:
        line = g_strdup_printf("%" G_GUINT64_FORMAT " %c command %.*s", conv->id, who,
                               (int)ev->u.command.verb.len, ev->u.command.verb.ptr);
        break;
    case SMTP_EV_REPLY:
        line = g_strdup_printf("%" G_GUINT64_FORMAT " %c reply %d", conv->id, who, ev->u.reply.code);
        break;
    case SMTP_EV_ANOMALY:
        line = g_strdup_printf("%" G_GUINT64_FORMAT " %c anomaly %s", conv->id, who,
                               reg_anomaly_name(ev->u.anomaly.kind));
        break;
    case SMTP_EV_END:
        line = g_strdup_printf("%" G_GUINT64_FORMAT " end %s", conv->id, end_name(ev->u.end.reason));
        g_array_append_val(r->ends, *conv);
        g_array_append_val(r->end_ev, ev->u.end);
        break;
    default:
        return;     /* capabilities, transactions: the engine's own tests */
    }
    g_ptr_array_add(r->lines, line);
}

static void rec_init(rec *r)
{
    r->lines = g_ptr_array_new_with_free_func(g_free);
    r->ends = g_array_new(FALSE, TRUE, sizeof(tcp_conv_info));
    r->end_ev = g_array_new(FALSE, TRUE, sizeof(smtp_end_ev));
}

static void rec_clear(rec *r)
{
    g_ptr_array_unref(r->lines);
    g_array_unref(r->ends);
    g_array_unref(r->end_ev);
}

/* True if `line` was recorded. */
static bool has(const rec *r, const char *line)
{
    for (guint i = 0; i < r->lines->len; i++)
        if (strcmp(r->lines->pdata[i], line) == 0)
            return true;
    return false;
}

/* Index of `line` in the log, -1 if absent. */
static int where(const rec *r, const char *line)
{
    for (guint i = 0; i < r->lines->len; i++)
        if (strcmp(r->lines->pdata[i], line) == 0)
            return (int)i;
    return -1;
}

/* Index of the last `line` in the log, -1 if absent. */
static int where_last(const rec *r, const char *line)
{
    for (guint i = r->lines->len; i-- > 0;)
        if (strcmp(r->lines->pdata[i], line) == 0)
            return (int)i;
    return -1;
}

static unsigned count_prefix(const rec *r, const char *prefix)
{
    unsigned n = 0;
    for (guint i = 0; i < r->lines->len; i++)
        n += g_str_has_prefix(r->lines->pdata[i], prefix) ? 1u : 0u;
    return n;
}

static void dump(const rec *r)
{
    for (guint i = 0; i < r->lines->len; i++)
        g_test_message("%s", (const char *)r->lines->pdata[i]);
}

/* ---- segment builder --------------------------------------------------- */

typedef struct conn {
    tcp_tracker *t;
    uint8_t  family;
    uint8_t  addr[2][16];      /* [0] client, [1] server */
    uint16_t port[2];
    uint32_t seq[2];           /* next sequence number each side sends */
    uint32_t frame;
    int64_t  ts;
} conn;

static uint32_t g_frame;       /* frames are numbered across connections */
static int64_t  g_ts;

static void conn_init(conn *c, tcp_tracker *t, uint8_t family, const char *caddr, uint16_t cport,
                      const char *saddr, uint16_t sport, uint32_t cisn, uint32_t sisn)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    c->family = family;
    int af = family == 6 ? AF_INET6 : AF_INET;
    g_assert_cmpint(inet_pton(af, caddr, c->addr[0]), ==, 1);
    g_assert_cmpint(inet_pton(af, saddr, c->addr[1]), ==, 1);
    c->port[0] = cport;
    c->port[1] = sport;
    c->seq[0] = cisn;
    c->seq[1] = sisn;
}

/* Send from side `s` (0 client, 1 server) with `flags`, payload `text`
 * (NULL for none) at sequence `seq`, acknowledging the peer's next byte. */
static void conn_raw(conn *c, int s, uint8_t flags, uint32_t seq, const char *text)
{
    tcp_segment g;
    memset(&g, 0, sizeof g);
    g.family = c->family;
    memcpy(g.src, c->addr[s], 16);
    memcpy(g.dst, c->addr[1 - s], 16);
    g.sport = c->port[s];
    g.dport = c->port[1 - s];
    g.seq = seq;
    g.ack = c->seq[1 - s];
    g.flags = flags;
    g.payload = (const uint8_t *)text;
    g.len = text ? strlen(text) : 0;
    g_ts += 1000000;   /* 1 ms per frame */
    g.pos.ts_ns = g_ts;
    g.pos.frame = ++g_frame;
    tcp_tracker_segment(c->t, &g);
}

static void conn_send(conn *c, int s, const char *text)
{
    conn_raw(c, s, TCPF_ACK | TCPF_PSH, c->seq[s], text);
    c->seq[s] += (uint32_t)strlen(text);
}

static void conn_open(conn *c)
{
    conn_raw(c, 0, TCPF_SYN, c->seq[0], NULL);
    c->seq[0]++;
    conn_raw(c, 1, TCPF_SYN | TCPF_ACK, c->seq[1], NULL);
    c->seq[1]++;
    conn_raw(c, 0, TCPF_ACK, c->seq[0], NULL);
}

static void conn_fin(conn *c, int s)
{
    conn_raw(c, s, TCPF_FIN | TCPF_ACK, c->seq[s], NULL);
    c->seq[s]++;
}

static void conn_close(conn *c)
{
    conn_fin(c, 1);
    conn_fin(c, 0);
    conn_raw(c, 1, TCPF_ACK, c->seq[1], NULL);
}

/* A short complete session on an opened connection. */
static void conn_session(conn *c)
{
    conn_send(c, 1, "220 mx.example.org ESMTP\r\n");
    conn_send(c, 0, "EHLO client.example.com\r\n");
    conn_send(c, 1, "250-mx.example.org\r\n250 PIPELINING\r\n");
    conn_send(c, 0, "QUIT\r\n");
    conn_send(c, 1, "221 2.0.0 Bye\r\n");
}

static const tcp_tracker_sink sink = { .on_event = on_event };

static tcp_tracker *tracker(rec *r, const tcp_tracker_options *o)
{
    rec_init(r);
    return tcp_tracker_new(o, &sink, r);
}

/* ---- tests ------------------------------------------------------------- */

static void check_session_events(const rec *r, uint64_t id)
{
    char buf[64];
    const char *want[] = { "reply 220", "command EHLO", "reply 250", "command QUIT", "reply 221" };
    const char who[] = { 'S', 'C', 'S', 'C', 'S' };
    int last = -1;
    for (unsigned i = 0; i < G_N_ELEMENTS(want); i++) {
        g_snprintf(buf, sizeof buf, "%" G_GUINT64_FORMAT " %c %s", id, who[i], want[i]);
        int at = where(r, buf);
        if (at < 0)
            dump(r);
        g_assert_cmpint(at, >, last);
        last = at;
    }
}

static void test_session_v4(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;
    conn_init(&c, t, 4, "10.0.0.1", 40000, "10.0.0.2", 25, 1000, 0xFFFFFFF0u);
    uint32_t first = g_frame + 1;
    conn_open(&c);
    conn_session(&c);
    conn_close(&c);
    check_session_events(&r, 1);
    g_assert_true(has(&r, "1 end fin"));
    g_assert_cmpuint(r.ends->len, ==, 1);
    const tcp_conv_info *ci = &g_array_index(r.ends, tcp_conv_info, 0);
    g_assert_cmpuint(ci->id, ==, 1);
    g_assert_cmpuint(ci->family, ==, 4);
    g_assert_true(memcmp(ci->client, c.addr[0], 4) == 0);
    g_assert_true(memcmp(ci->server, c.addr[1], 4) == 0);
    g_assert_cmpuint(ci->client_port, ==, 40000);
    g_assert_cmpuint(ci->server_port, ==, 25);
    g_assert_cmpuint(ci->first.frame, ==, first);
    g_assert_cmpuint(ci->last.frame, >=, g_frame - 1);
    g_assert_false(ci->midstream);
    g_assert_false(ci->one_sided);
    const smtp_end_ev *e = &g_array_index(r.end_ev, smtp_end_ev, 0);
    g_assert_cmpuint(e->gap_bytes[0] + e->gap_bytes[1], ==, 0);

    /* late retransmission after the close starts nothing */
    conn_raw(&c, 1, TCPF_ACK | TCPF_PSH, c.seq[1] - 16, "221 2.0.0 Bye\r\n");
    const tcp_tracker_stats *st = tcp_tracker_get_stats(t);
    g_assert_cmpuint(st->conversations, ==, 1);
    g_assert_cmpuint(r.ends->len, ==, 1);
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });
    g_assert_cmpuint(r.ends->len, ==, 1);
    g_assert_cmpuint(st->live, ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

static void test_session_v6(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;
    conn_init(&c, t, 6, "2001:db8::1", 51000, "2001:db8::25", 587, 7, 9);
    conn_open(&c);
    conn_session(&c);
    conn_close(&c);
    check_session_events(&r, 1);
    g_assert_true(has(&r, "1 end fin"));
    const tcp_conv_info *ci = &g_array_index(r.ends, tcp_conv_info, 0);
    g_assert_cmpuint(ci->family, ==, 6);
    g_assert_true(memcmp(ci->server, c.addr[1], 16) == 0);
    g_assert_cmpuint(ci->server_port, ==, 587);
    g_assert_cmpuint(ci->client_port, ==, 51000);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* The same ports used again by a new connection make a second conversation. */
static void test_port_reuse(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;
    conn_init(&c, t, 4, "10.0.0.1", 40001, "10.0.0.2", 25, 100, 200);
    conn_open(&c);
    conn_session(&c);
    conn_close(&c);
    conn_init(&c, t, 4, "10.0.0.1", 40001, "10.0.0.2", 25, 5000, 6000);
    conn_open(&c);
    conn_session(&c);
    conn_close(&c);
    check_session_events(&r, 1);
    check_session_events(&r, 2);
    g_assert_true(has(&r, "1 end fin"));
    g_assert_true(has(&r, "2 end fin"));

    /* reuse with a new ISN while the old one never closed */
    conn_init(&c, t, 4, "10.0.0.1", 40001, "10.0.0.2", 25, 9000, 9500);
    conn_open(&c);
    conn_send(&c, 1, "220 hi\r\n");
    conn_init(&c, t, 4, "10.0.0.1", 40001, "10.0.0.2", 25, 77777, 88888);
    conn_open(&c);          /* a retransmitted SYN would change nothing: */
    conn_raw(&c, 0, TCPF_SYN, 77777, NULL);
    conn_send(&c, 1, "220 again\r\n");
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });
    g_assert_true(has(&r, "3 S reply 220"));
    g_assert_true(has(&r, "3 end rst"));
    g_assert_true(has(&r, "4 S reply 220"));
    g_assert_true(has(&r, "4 end eof"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->conversations, ==, 4);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* No handshake: the port tells the roles, the engine is told midstream. */
static void test_midstream(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;
    conn_init(&c, t, 4, "192.0.2.9", 33333, "192.0.2.10", 2525, 123456, 654321);
    conn_send(&c, 0, "MAIL FROM:<a@example.com>\r\n");
    conn_send(&c, 1, "250 2.1.0 Ok\r\n");
    conn_send(&c, 0, "RCPT TO:<b@example.org>\r\n");
    conn_send(&c, 1, "550 5.1.1 No such user\r\n");
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });
    g_assert_true(has(&r, "1 C command MAIL"));
    g_assert_true(has(&r, "1 S reply 250"));
    g_assert_true(has(&r, "1 S reply 550"));
    g_assert_true(has(&r, "1 end eof"));
    const tcp_conv_info *ci = &g_array_index(r.ends, tcp_conv_info, 0);
    g_assert_true(ci->midstream);
    g_assert_false(ci->one_sided);
    g_assert_cmpuint(ci->server_port, ==, 2525);
    g_assert_cmpuint(ci->client_port, ==, 33333);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* Only the server's packets were captured. */
static void test_one_sided(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;
    conn_init(&c, t, 4, "10.1.1.1", 45000, "10.1.1.2", 25, 10, 20);
    conn_raw(&c, 1, TCPF_SYN | TCPF_ACK, c.seq[1]++, NULL);
    c.seq[0]++;
    conn_send(&c, 1, "220 only me\r\n");
    c.seq[0] += 20;                                  /* the client's EHLO, unseen */
    conn_send(&c, 1, "250 ok\r\n");
    conn_send(&c, 1, "221 bye\r\n");
    conn_fin(&c, 1);                                 /* the only side closes: over */
    g_assert_true(has(&r, "1 S reply 220"));
    g_assert_true(has(&r, "1 S reply 221"));
    g_assert_true(has(&r, "1 end fin"));
    const tcp_conv_info *ci = &g_array_index(r.ends, tcp_conv_info, 0);
    g_assert_true(ci->one_sided);
    g_assert_false(ci->midstream);                   /* SYN+ACK was seen */
    g_assert_cmpuint(ci->server_port, ==, 25);
    /* acks of unseen data never make gaps in a stream never seen */
    const smtp_end_ev *e = &g_array_index(r.end_ev, smtp_end_ev, 0);
    g_assert_cmpuint(e->gap_bytes[SMTP_DIR_CLIENT], ==, 0);
    g_assert_cmpuint(e->gap_bytes[SMTP_DIR_SERVER], ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* SMTP on port 10025 found by its greeting and hello; TLS on 443 and an
 * FTP-like "220" greeting answered by USER are not SMTP. */
static void test_heuristic(void)
{
    rec r;
    tcp_tracker_options o = { .heuristic = true };
    tcp_tracker *t = tracker(&r, &o);
    conn c;

    conn_init(&c, t, 4, "10.2.0.1", 41000, "10.2.0.2", 10025, 1, 2);
    conn_open(&c);
    conn_session(&c);
    conn_close(&c);
    check_session_events(&r, 1);
    const tcp_conv_info *ci = &g_array_index(r.ends, tcp_conv_info, 0);
    g_assert_cmpuint(ci->server_port, ==, 10025);

    conn_init(&c, t, 4, "10.2.0.1", 41001, "10.2.0.3", 443, 1, 2);
    conn_open(&c);
    conn_send(&c, 0, "\x16\x03\x01\x02\x01\x01\x01\x01\xfc\x03\x03");
    conn_send(&c, 1, "\x16\x03\x03\x01\x7a\x02\x01\x01\x76\x03\x03");
    conn_send(&c, 0, "\x17\x03\x03\x01\x20 some application data");
    conn_close(&c);

    conn_init(&c, t, 4, "10.2.0.1", 41002, "10.2.0.4", 2121, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 ProFTPD Server ready.\r\n");
    conn_send(&c, 0, "USER anonymous\r\n");
    conn_send(&c, 1, "331 Password required\r\n");
    conn_close(&c);

    /* both sides greet: not SMTP */
    conn_init(&c, t, 4, "10.2.0.1", 41003, "10.2.0.5", 3025, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 one\r\n");
    conn_send(&c, 0, "220 two\r\n");
    conn_close(&c);

    /* more than the heuristic holds before the client speaks: not SMTP */
    char *banner = g_strnfill(3000, 'x');
    memcpy(banner, "220 ", 4);
    conn_init(&c, t, 4, "10.2.0.1", 41004, "10.2.0.6", 4025, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, banner);
    conn_send(&c, 0, "EHLO x\r\n");
    conn_close(&c);
    g_free(banner);

    /* midstream on an unlisted port: the "220" side is the server */
    conn_init(&c, t, 6, "2001:db8::a", 10026, "2001:db8::b", 40123, 50, 60);
    conn_send(&c, 1, "EHLO late.example\r\n");
    conn_send(&c, 0, "220-first line\r\n220 second\r\n");
    conn_send(&c, 1, "QUIT\r\n");
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });

    const tcp_tracker_stats *st = tcp_tracker_get_stats(t);
    g_assert_cmpuint(st->conversations, ==, 2);
    g_assert_cmpuint(st->non_smtp, ==, 4);
    g_assert_cmpuint(count_prefix(&r, "1 "), >, 0);
    g_assert_true(has(&r, "2 S reply 220"));
    g_assert_true(has(&r, "2 C command EHLO"));
    g_assert_true(has(&r, "2 C command QUIT"));
    ci = &g_array_index(r.ends, tcp_conv_info, 1);
    g_assert_cmpuint(ci->server_port, ==, 10026);
    g_assert_true(ci->midstream);
    g_assert_cmpuint(count_prefix(&r, "3 "), ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);

    /* without the heuristic the unlisted port is not even looked at */
    t = tracker(&r, NULL);
    conn_init(&c, t, 4, "10.2.0.1", 41000, "10.2.0.2", 10025, 1, 2);
    conn_open(&c);
    conn_session(&c);
    conn_close(&c);
    g_assert_cmpuint(r.lines->len, ==, 0);
    g_assert_cmpuint(tcp_tracker_get_stats(t)->peak_live, ==, 0);
    /* a client whose source port happens to be 587: the server's port decides */
    conn_init(&c, t, 4, "10.2.0.1", 587, "10.2.0.9", 443, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 looks like a greeting\r\n");
    conn_send(&c, 0, "EHLO but port 443\r\n");
    conn_close(&c);
    g_assert_cmpuint(r.lines->len, ==, 0);
    g_assert_cmpuint(tcp_tracker_get_stats(t)->non_smtp, ==, 1);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* 1e5 SYNs on distinct ports with room for 1000 flows. */
static void test_eviction(void)
{
    rec r;
    tcp_tracker_options o = { .max_live = 1000 };
    tcp_tracker *t = tracker(&r, &o);
    conn c;
    const unsigned n = 100000;

    conn_init(&c, t, 4, "10.3.0.1", 1024, "10.3.0.2", 25, 1, 2);
    conn_open(&c);
    static const char greeting[] = "220 about to be pushed out\r\n";
    conn_send(&c, 1, greeting);
    for (unsigned i = 0; i < n; i++) {
        conn f;
        char src[32];
        g_snprintf(src, sizeof src, "172.16.%u.%u", (i >> 8) & 255, i & 255);
        conn_init(&f, t, 4, src, (uint16_t)(1025 + i % 60000), "10.3.0.2", 25, i, 0);
        conn_raw(&f, 0, TCPF_SYN, i, NULL);
        g_assert_cmpuint(tcp_tracker_get_stats(t)->live, <=, 1000);
    }
    const tcp_tracker_stats *st = tcp_tracker_get_stats(t);
    g_assert_cmpuint(st->live, ==, 1000);
    g_assert_cmpuint(st->peak_live, ==, 1000);
    g_assert_cmpuint(st->evicted, ==, n + 1 - 1000);
    g_assert_cmpuint(st->conversations, ==, 1);   /* SYNs alone start none */
    g_assert_true(has(&r, "1 S reply 220"));
    g_assert_true(has(&r, "1 end evicted"));
    g_assert_cmpuint(r.ends->len, ==, 1);
    /* what it had was handed to the engine before the end */
    g_assert_cmpuint(g_array_index(r.end_ev, smtp_end_ev, 0).bytes[SMTP_DIR_SERVER], ==,
                     strlen(greeting));
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });
    g_assert_cmpuint(st->live, ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* Conversations silent for longer than idle_ns close on the next packet
 * of any flow, or on tcp_tracker_expire. */
static void test_idle(void)
{
    rec r;
    tcp_tracker_options o = { .idle_ns = 10LL * 1000000000LL };
    tcp_tracker *t = tracker(&r, &o);
    conn a, b;

    conn_init(&a, t, 4, "10.4.0.1", 5000, "10.4.0.2", 25, 1, 2);
    conn_open(&a);
    conn_send(&a, 1, "220 a\r\n");
    g_ts += 5LL * 1000000000LL;
    conn_init(&b, t, 4, "10.4.0.3", 5001, "10.4.0.2", 25, 1, 2);
    conn_open(&b);
    conn_send(&b, 1, "220 b\r\n");
    g_assert_cmpuint(r.ends->len, ==, 0);
    g_ts += 6LL * 1000000000LL;                     /* a: 11 s idle, b: 6 s */
    conn_send(&b, 0, "EHLO b\r\n");
    g_assert_true(has(&r, "1 end idle"));
    g_assert_false(has(&r, "2 end idle"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->idle_closed, ==, 1);
    tcp_tracker_expire(t, g_ts + 11LL * 1000000000LL);
    g_assert_true(has(&r, "2 end idle"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->idle_closed, ==, 2);
    g_assert_cmpuint(tcp_tracker_get_stats(t)->live, ==, 0);
    /* the expired conversation ended at its own last frame, not later */
    g_assert_cmpuint(g_array_index(r.ends, tcp_conv_info, 0).last.frame, <,
                     g_array_index(r.ends, tcp_conv_info, 1).first.frame);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* A lost client segment, acknowledged by the server, reaches the engine as
 * a gap of its exact size; a conflicting overlap becomes an anomaly; RST
 * ends the conversation. */
static void test_gap_conflict_rst(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;

    conn_init(&c, t, 4, "10.5.0.1", 6000, "10.5.0.2", 25, 0xFFFFFFFEu, 3);
    conn_open(&c);
    conn_send(&c, 1, "220 hi\r\n");
    conn_send(&c, 0, "EHLO x\r\n");
    conn_send(&c, 1, "250 ok\r\n");
    c.seq[0] += 21;                                    /* a 21-byte MAIL command, lost */
    conn_send(&c, 1, "250 2.1.0 ok\r\n");              /* acks it */
    /* out of order, then a copy that disagrees with the held bytes */
    uint32_t s0 = c.seq[0];
    conn_raw(&c, 0, TCPF_ACK, s0 + 5, "TO:<x@y.z>\r\n");
    conn_raw(&c, 0, TCPF_ACK, s0, "RCPT TO:<q@y.z>\r\n");
    c.seq[0] = s0 + 17;
    conn_send(&c, 1, "250 2.1.5 ok\r\n");
    c.seq[0] += 5;                                     /* lost, acked, then RST */
    conn_raw(&c, 1, TCPF_ACK, c.seq[1], NULL);
    conn_raw(&c, 0, TCPF_RST | TCPF_ACK, c.seq[0], NULL);
    g_assert_true(has(&r, "1 C anomaly overlap_conflict"));
    g_assert_true(has(&r, "1 end rst"));
    /* the server's ack released the RCPT behind the hole before its reply */
    g_assert_cmpint(where(&r, "1 C command RCPT"), >=, 0);
    g_assert_cmpint(where(&r, "1 C command RCPT"), <, where_last(&r, "1 S reply 250"));
    const smtp_end_ev *e = &g_array_index(r.end_ev, smtp_end_ev, 0);
    g_assert_cmpuint(e->gap_bytes[SMTP_DIR_CLIENT], ==, 21 + 5);
    g_assert_cmpuint(e->gap_bytes[SMTP_DIR_SERVER], ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* An ack captured before the data it covers is not a loss; an ack of data
 * that never shows up is, once the sender has moved past it. */
static void test_ack_before_data(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;

    conn_init(&c, t, 4, "10.7.0.1", 8000, "10.7.0.2", 25, 4000, 5000);
    conn_open(&c);
    conn_send(&c, 1, "220 hi\r\n");
    conn_send(&c, 0, "EHLO x\r\n");
    conn_send(&c, 1, "250 ok\r\n");
    uint32_t s0 = c.seq[0];
    conn_raw(&c, 0, TCPF_ACK, s0, "MAIL FROM:<a@b.c>\r\n");         /* 19 bytes */
    c.seq[0] = s0 + 19 + 17;
    conn_raw(&c, 1, TCPF_ACK, c.seq[1], NULL);                       /* acks 17 unseen bytes */
    conn_raw(&c, 0, TCPF_ACK, s0 + 19, "RCPT TO:<x@y.z>\r\n");      /* ...which come next */
    conn_send(&c, 1, "250 2.1.0 ok\r\n250 2.1.5 ok\r\n");
    g_assert_true(has(&r, "1 C command RCPT"));

    /* a lost segment, acked, then the client streams on without a reply:
     * the gap is declared at once instead of holding everything behind it */
    c.seq[0] += 6;                                                   /* "NOOP\r\n", lost */
    conn_raw(&c, 1, TCPF_ACK, c.seq[1], NULL);
    for (unsigned i = 0; i < REASM_MAX_SEGMENTS + 10; i++)
        conn_send(&c, 0, "NOOP\r\n");
    g_assert_false(has(&r, "1 C anomaly reassembly_overflow"));
    g_assert_cmpuint(count_prefix(&r, "1 C command NOOP"), ==, REASM_MAX_SEGMENTS + 10);
    conn_send(&c, 0, "QUIT\r\n");
    conn_send(&c, 1, "221 bye\r\n");
    conn_close(&c);
    g_assert_true(has(&r, "1 C command QUIT"));
    g_assert_true(has(&r, "1 end fin"));
    const smtp_end_ev *e = &g_array_index(r.end_ev, smtp_end_ev, 0);
    g_assert_cmpuint(e->gap_bytes[SMTP_DIR_CLIENT], ==, 6);
    g_assert_cmpuint(e->gap_bytes[SMTP_DIR_SERVER], ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* finish ends what is live; ids go on afterwards. */
static void test_finish_ids(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn c;
    conn_init(&c, t, 4, "10.6.0.1", 7000, "10.6.0.2", 25, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 one\r\n");
    conn_init(&c, t, 4, "10.6.0.1", 7001, "10.6.0.2", 25, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 two\r\n");
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });
    g_assert_cmpint(where(&r, "1 end eof"), <, where(&r, "2 end eof"));
    g_assert_cmpint(where(&r, "1 end eof"), >=, 0);
    conn_init(&c, t, 4, "10.6.0.1", 7000, "10.6.0.2", 25, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 three\r\n");
    tcp_tracker_finish(t, (cap_pos){ g_ts, g_frame });
    g_assert_true(has(&r, "3 S reply 220"));
    g_assert_true(has(&r, "3 end eof"));
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* on_start gives the id before the conversation's first event; a tick
 * expires like a segment would; what expires at once ends in id order, not
 * in the order of the tracker's activity list. */
static guint started_at;       /* events logged when on_start came */
static uint64_t started_id;

static void on_start(void *user, const tcp_conv_info *conv)
{
    const rec *r = user;
    started_at = r->lines->len;
    started_id = conv->id;
}

static void test_tick_start_expiry_order(void)
{
    static const tcp_tracker_sink sink_start = { .on_event = on_event, .on_start = on_start };
    const int64_t s = 1000000000LL;
    rec r;
    rec_init(&r);
    tcp_tracker_options o = { .idle_ns = 10 * s };
    tcp_tracker *t = tcp_tracker_new(&o, &sink_start, &r);
    conn a, b;

    conn_init(&a, t, 4, "10.7.0.1", 5000, "10.7.0.2", 25, 1, 2);
    conn_open(&a);
    conn_send(&a, 1, "220 a\r\n");
    g_assert_cmpuint(started_id, ==, 1);
    g_assert_cmpuint(started_at, ==, 0);
    g_assert_true(has(&r, "1 S reply 220"));
    conn_init(&b, t, 4, "10.7.0.3", 5001, "10.7.0.2", 25, 1, 2);
    conn_open(&b);
    conn_send(&b, 1, "220 b\r\n");
    g_assert_cmpuint(started_id, ==, 2);
    g_assert_cmpuint(started_at, ==, 1);
    /* a becomes the more recently active: b is now the list's tail */
    g_ts += 2 * s;
    conn_send(&a, 0, "EHLO a\r\n");
    tcp_tracker_tick(t, g_ts + 5 * s);
    g_assert_cmpuint(r.ends->len, ==, 0);
    tcp_tracker_tick(t, g_ts + 20 * s);
    if (where(&r, "1 end idle") < 0)
        dump(&r);
    g_assert_cmpint(where(&r, "1 end idle"), >=, 0);
    g_assert_cmpint(where(&r, "1 end idle"), <, where(&r, "2 end idle"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->live, ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* A flow idles out when its own time is up, even while a flow still busy
 * sits behind it at the tail of the activity list (a flow is moved to the
 * head at most once per FLOW_TOUCH_NS, so one that was busy a moment ago
 * can still be at the tail); and a packet with an earlier time does not
 * turn the clock back. */
static void test_idle_exact(void)
{
    const int64_t s = 1000000000LL;
    rec r;
    tcp_tracker_options o = { .idle_ns = 10 * s };
    tcp_tracker *t = tracker(&r, &o);
    conn x, a;

    conn_init(&x, t, 4, "10.8.0.1", 5000, "10.8.0.2", 25, 1, 2);
    conn_open(&x);
    conn_send(&x, 1, "220 x\r\n");              /* x: 1, at the tail */
    g_ts += s / 10;
    conn_init(&a, t, 4, "10.8.0.3", 5001, "10.8.0.2", 25, 1, 2);
    conn_open(&a);
    conn_send(&a, 1, "220 a\r\n");              /* a: 2, quiet from here */
    g_ts += 8 * s / 10;
    conn_send(&x, 0, "EHLO x\r\n");             /* x busy, not moved: FLOW_TOUCH_NS */
    int64_t x_last = g_ts;
    G_STATIC_ASSERT(FLOW_TOUCH_NS >= 1000000000LL);
    tcp_tracker_tick(t, x_last + 10 * s - s / 2);  /* a is due, x is not */
    g_assert_true(has(&r, "2 end idle"));
    g_assert_false(has(&r, "1 end idle"));
    /* a packet of x stamped back in time: activity as of the clock (which
     * it does not turn back), so x lasts another idle period from there */
    g_ts = x_last - 5 * s;
    conn_send(&x, 1, "250 x\r\n");
    tcp_tracker_tick(t, x_last + 19 * s);
    g_assert_false(has(&r, "1 end idle"));
    tcp_tracker_tick(t, x_last + 20 * s);
    g_assert_true(has(&r, "1 end idle"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->live, ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* The end of a capture in steps: conversations in id order, then flows
 * that have none yet by first frame, whatever the activity list's order;
 * each step ends exactly one; _done ends the rest. */
static void test_finish_steps(void)
{
    rec r;
    tcp_tracker *t = tracker(&r, NULL);
    conn a, b, c, d;
    uint64_t id;
    uint32_t first;

    conn_init(&d, t, 4, "10.9.0.4", 9004, "10.9.0.9", 25, 1, 2);
    conn_open(&d);                                   /* no payload: no conversation */
    uint32_t d_first = g_frame - 2;
    conn_init(&a, t, 4, "10.9.0.1", 9001, "10.9.0.9", 25, 1, 2);
    conn_open(&a);
    conn_send(&a, 1, "220 a\r\n");                 /* conversation 1 */
    conn_init(&b, t, 4, "10.9.0.2", 9002, "10.9.0.9", 25, 1, 2);
    conn_open(&b);
    uint32_t b_first = g_frame - 2;
    conn_init(&c, t, 4, "10.9.0.3", 9003, "10.9.0.9", 25, 1, 2);
    conn_open(&c);
    conn_send(&c, 1, "220 c\r\n");                 /* conversation 2 */
    conn_send(&a, 1, "250 late\r\n");              /* a is the most recently active */

    tcp_tracker_finish_begin(t, (cap_pos){ g_ts, g_frame });
    const struct { uint64_t id; uint32_t first; } want[] = { { 1, 0 }, { 2, 0 }, { 0, d_first },
                                                              { 0, b_first } };
    for (size_t i = 0; i < G_N_ELEMENTS(want); i++) {
        g_assert_true(tcp_tracker_finish_next(t, &id, &first));
        g_assert_cmpuint(id, ==, want[i].id);
        if (!want[i].id)
            g_assert_cmpuint(first, ==, want[i].first);
        guint ends = r.ends->len;
        g_assert_true(tcp_tracker_finish_step(t));
        g_assert_cmpuint(r.ends->len, ==, ends + (want[i].id ? 1 : 0));
        if (i == 0)
            g_assert_false(has(&r, "2 end eof"));    /* one flow per step */
    }
    g_assert_false(tcp_tracker_finish_next(t, &id, &first));
    g_assert_false(tcp_tracker_finish_step(t));
    tcp_tracker_finish_done(t);
    g_assert_cmpint(where(&r, "1 end eof"), <, where(&r, "2 end eof"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->live, ==, 0);

    /* _done alone ends whatever is left, as tcp_tracker_finish() does */
    conn_init(&a, t, 4, "10.9.0.1", 9101, "10.9.0.9", 25, 1, 2);
    conn_open(&a);
    conn_send(&a, 1, "220 again\r\n");
    tcp_tracker_finish_begin(t, (cap_pos){ g_ts, g_frame });
    tcp_tracker_finish_done(t);
    g_assert_true(has(&r, "3 end eof"));
    g_assert_cmpuint(tcp_tracker_get_stats(t)->live, ==, 0);
    tcp_tracker_free(t);
    rec_clear(&r);
}

/* The flow index: both directions find one entry; removal keeps every
 * other entry reachable (backward-shift deletion). */
static void test_flow_table(void)
{
    const int n = 5000;
    flow_table ft;
    flow_key *keys = g_new0(flow_key, n);
    flow_table_init(&ft);
    for (int i = 0; i < n; i++) {
        uint8_t a[16] = { 10, 0, 0, 1 }, b[16] = { 10, 9, (uint8_t)(i >> 8), (uint8_t)i };
        g_assert_cmpuint(flow_key_make(&keys[i], 4, b, 2000, a, 25), ==, 1);
        flow_key back;
        g_assert_cmpuint(flow_key_make(&back, 4, a, 25, b, 2000), ==, 0);
        g_assert_true(memcmp(&back, &keys[i], sizeof back) == 0);
        flow_table_insert(&ft, &keys[i], flow_key_hash(&keys[i]));
    }
    for (int i = 0; i < n; i += 3)
        flow_table_remove(&ft, &keys[i], flow_key_hash(&keys[i]));
    for (int i = 0; i < n; i++) {
        flow_key probe = keys[i];
        flow_key *got = flow_table_find(&ft, &probe, flow_key_hash(&probe));
        if (i % 3 == 0)
            g_assert_null(got);
        else
            g_assert_true(got == &keys[i]);
    }
    g_assert_cmpuint(ft.count, ==, (size_t)(n - (n + 2) / 3));
    flow_table_clear(&ft);
    g_free(keys);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/tracker/session-v4", test_session_v4);
    g_test_add_func("/tracker/session-v6", test_session_v6);
    g_test_add_func("/tracker/port-reuse", test_port_reuse);
    g_test_add_func("/tracker/midstream", test_midstream);
    g_test_add_func("/tracker/one-sided", test_one_sided);
    g_test_add_func("/tracker/heuristic", test_heuristic);
    g_test_add_func("/tracker/eviction", test_eviction);
    g_test_add_func("/tracker/idle", test_idle);
    g_test_add_func("/tracker/gap-conflict-rst", test_gap_conflict_rst);
    g_test_add_func("/tracker/ack-before-data", test_ack_before_data);
    g_test_add_func("/tracker/finish-ids", test_finish_ids);
    g_test_add_func("/tracker/tick-start-expiry-order", test_tick_start_expiry_order);
    g_test_add_func("/tracker/idle-exact", test_idle_exact);
    g_test_add_func("/tracker/finish-steps", test_finish_steps);
    g_test_add_func("/tracker/flow-table", test_flow_table);
    return g_test_run();
}
