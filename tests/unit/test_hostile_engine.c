/* test_hostile_engine.c -- the SMTP engine under hostile peers.
 *
 * Each test feeds one attack from issue 6 straight into an engine, asserts
 * the anomaly the core promises for it and that memory stayed bounded (the
 * engine's own reports, then peak RSS as a coarse check), and finishes
 * with a normal transaction that must still be analysed right.  Counts are
 * the spec's (100 MB, a million) at full speed and a tenth of that under
 * sanitizers (see hostile_n).
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "smtp_engine.h"
#include "test_hostile.h"

#define CHUNK (64 * 1024)

typedef struct fixture {
    hostile_rec  rec;
    smtp_engine *eng;
    cap_pos      pos;
    long         rss_before;
} fixture;

static const char ehlo_reply[] =
    "250-mx.example.org\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES\r\n";

static void fx_setup(fixture *f, gconstpointer data)
{
    static const smtp_sink sink = { hostile_on_event, hostile_on_body };
    (void)data;
    memset(&f->rec, 0, sizeof f->rec);
    f->pos = (cap_pos){ .ts_ns = 1700000000LL * 1000000000LL, .frame = 0 };
    f->rss_before = hostile_maxrss_kb();
    f->eng = smtp_engine_new(&sink, &f->rec, NULL);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "220 mx.example.org ESMTP\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "EHLO client.example.com\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, ehlo_reply, &f->pos);
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_EHLO);
}

/* Ends the conversation; every test must have left the engine sane. */
static void fx_teardown(fixture *f, gconstpointer data)
{
    (void)data;
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "QUIT\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "221 2.0.0 Bye\r\n", &f->pos);
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_QUIT);
    f->pos.frame++;
    smtp_end(f->eng, SMTP_END_FIN, f->pos);
    g_assert_true(f->rec.ended);
    smtp_engine_free(f->eng);
}

/* Feed `total` bytes made of `unit` repeated, in CHUNK-sized frames. */
static void feed_repeated(fixture *f, smtp_dir dir, const char *unit, uint64_t total)
{
    size_t ulen = strlen(unit);
    size_t per = CHUNK / ulen * ulen;
    char *buf = g_malloc(per);
    for (size_t i = 0; i < per; i += ulen)
        memcpy(buf + i, unit, ulen);
    for (uint64_t done = 0; done < total;) {
        size_t n = total - done < per ? (size_t)(total - done) : per;
        f->pos.frame++;
        smtp_feed(f->eng, dir, (const uint8_t *)buf, n, f->pos);
        done += n;
    }
    g_free(buf);
}

/* 100 MB of a command line that never ends, then its CRLF. */
static void test_endless_line(fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t total = hostile_n(100u << 20);
    uint64_t cmds = f->rec.by_type[SMTP_EV_COMMAND];
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "NOOP ", &f->pos);
    feed_repeated(f, SMTP_DIR_CLIENT, "x", total);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_line_buffer_overflow], >=, 1);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_command_too_long], >=, 1);
    /* the over-long line is still one command, not thousands */
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_COMMAND], ==, cmds + 1);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "500 5.5.2 Line too long\r\n", &f->pos);
    g_assert_cmpint(f->rec.last_code, ==, 500);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 32);
}

/* The same against the server: a reply line that never ends. */
static void test_endless_reply_line(fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t total = hostile_n(100u << 20);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "NOOP\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 ", &f->pos);
    feed_repeated(f, SMTP_DIR_SERVER, "y", total);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_line_buffer_overflow], >=, 1);
    g_assert_cmpint(f->rec.last_code, ==, 250);
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_NOOP);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 32);
}

/* A million pipelined commands nobody answers, then all the answers. */
static void test_million_pipelined(fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t n = hostile_n(1000000);
    uint64_t cmds = f->rec.by_type[SMTP_EV_COMMAND];
    feed_repeated(f, SMTP_DIR_CLIENT, "RSET\r\n", n * 6);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_COMMAND], ==, cmds + n);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_too_many_pending], >=, 1);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_pipelining_not_advertised], ==, 0);
    uint64_t replies = f->rec.by_type[SMTP_EV_REPLY];
    feed_repeated(f, SMTP_DIR_SERVER, "250 2.0.0 Ok\r\n", n * 14);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_REPLY], ==, replies + n);
    /* at most SMTP_MAX_PENDING commands were kept waiting, so the last
     * replies found none */
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_NONE);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 64);
}

/* One reply of a million continuation lines. */
static void test_million_line_reply(fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t n = hostile_n(1000000);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "HELP\r\n", &f->pos);
    feed_repeated(f, SMTP_DIR_SERVER, "214-help text line\r\n", n * 20);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_REPLY], ==, 2);   /* greeting, EHLO: still open */
    hostile_feed(f->eng, SMTP_DIR_SERVER, "214 End of HELP\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_REPLY], ==, 3);
    g_assert_cmpint(f->rec.last_code, ==, 214);
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_HELP);
    g_assert_cmpuint(f->rec.last_reply_lines, <=, SMTP_MAX_REPLY_LINES);
    g_assert_cmpuint(f->rec.last_reply_lines_total, ==, n + 1);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_reply_too_long], >=, 1);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 32);
}

/* BDAT sizes at and past the top of uint64: flagged, never trusted to
 * swallow the rest of the conversation as chunk data. */
static void test_bdat_huge(fixture *f, gconstpointer data)
{
    const char *size = data;
    char cmd[96];
    snprintf(cmd, sizeof cmd, "BDAT %s LAST\r\n", size);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "MAIL FROM:<a@example.com>\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.1.0 Ok\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "RCPT TO:<b@example.org>\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.1.5 Ok\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, cmd, &f->pos);
    g_assert_cmpint(f->rec.last_cmd, ==, SMTP_CMD_BDAT);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_bad_bdat_size], ==, 1);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "552 5.3.4 Message size exceeds fixed limit\r\n", &f->pos);
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_BDAT);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "RSET\r\n", &f->pos);
    g_assert_cmpint(f->rec.last_cmd, ==, SMTP_CMD_RSET);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.0.0 Ok\r\n", &f->pos);
    g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_RSET);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
}

static void open_data(fixture *f)
{
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "MAIL FROM:<a@example.com>\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.1.0 Ok\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "RCPT TO:<b@example.org>\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.1.5 Ok\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "DATA\r\n", &f->pos);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "354 Go ahead\r\n", &f->pos);
}

/* A body of nothing but dot-stuffed lone dots: one message, exact size. */
static void test_body_of_dots(fixture *f, gconstpointer data)
{
    (void)data;
    uint64_t n = hostile_n(1000000);
    uint64_t txns = f->rec.by_type[SMTP_EV_TRANSACTION];
    uint64_t cmds = f->rec.by_type[SMTP_EV_COMMAND];
    open_data(f);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "Subject: dots\r\n\r\n", &f->pos);
    feed_repeated(f, SMTP_DIR_CLIENT, "..\r\n", n * 4);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, ".\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_COMMAND], ==, cmds + 3);   /* MAIL RCPT DATA */
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.0.0 Ok: queued as DOTS\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_TRANSACTION], ==, txns + 1);
    g_assert_cmpint(f->rec.txn_outcome, ==, SMTP_TXN_ACCEPTED);
    g_assert_cmpuint(f->rec.txn_size, ==, strlen("Subject: dots\r\n\r\n") + 3 * n);
    g_assert_cmpstr(f->rec.txn_qid, ==, "DOTS");
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_smtp_smuggling], ==, 0);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 32);
}

/* Bodies full of bare LF and bare CR around dots: the smuggling pattern is
 * flagged, and only CRLF.CRLF ends the message, so the smuggled commands
 * stay message text. */
static void test_body_bare_dots(fixture *f, gconstpointer data)
{
    const char *unit = data;
    uint64_t n = hostile_n(100000);
    uint64_t txns = f->rec.by_type[SMTP_EV_TRANSACTION];
    uint64_t cmds = f->rec.by_type[SMTP_EV_COMMAND];
    open_data(f);
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "Subject: smuggle\r\n\r\n", &f->pos);
    feed_repeated(f, SMTP_DIR_CLIENT, unit, n * strlen(unit));
    hostile_feed(f->eng, SMTP_DIR_CLIENT, "\r\n.\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_COMMAND], ==, cmds + 3);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_smtp_smuggling], >=, 1);
    hostile_feed(f->eng, SMTP_DIR_SERVER, "250 2.0.0 Ok: queued as SMUGGLED\r\n", &f->pos);
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_TRANSACTION], ==, txns + 1);
    g_assert_cmpint(f->rec.txn_outcome, ==, SMTP_TXN_ACCEPTED);
    g_assert_cmpstr(f->rec.txn_qid, ==, "SMUGGLED");
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 32);
}

/* Bare LF line ends in commands: flagged, and the commands still seen.
 * Sent in pipelined groups the engine can keep (SMTP_MAX_PENDING / 2). */
static void test_bare_lf_commands(fixture *f, gconstpointer data)
{
    (void)data;
    const uint64_t group = SMTP_MAX_PENDING / 2;
    uint64_t n = hostile_n(100000) / group * group;
    uint64_t cmds = f->rec.by_type[SMTP_EV_COMMAND];
    for (uint64_t done = 0; done < n; done += group) {
        feed_repeated(f, SMTP_DIR_CLIENT, "NOOP\n", group * 5);
        feed_repeated(f, SMTP_DIR_SERVER, "250 Ok\r\n", group * 8);
        g_assert_cmpint(f->rec.last_answers, ==, SMTP_CMD_NOOP);
    }
    g_assert_cmpuint(f->rec.by_type[SMTP_EV_COMMAND], ==, cmds + n);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_bare_lf], >=, 1);
    g_assert_cmpuint(f->rec.by_anomaly[SMTP_AN_too_many_pending], ==, 0);
    hostile_normal_transaction(f->eng, &f->rec, &f->pos);
    hostile_assert_rss(f->rss_before, 32);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn, data) \
    g_test_add("/hostile/engine/" name, fixture, data, fx_setup, fn, fx_teardown)
    ADD("endless-command-line", test_endless_line, NULL);
    ADD("endless-reply-line", test_endless_reply_line, NULL);
    ADD("million-pipelined-commands", test_million_pipelined, NULL);
    ADD("million-line-reply", test_million_line_reply, NULL);
    ADD("bdat-size-2^64-1", test_bdat_huge, "18446744073709551615");
    ADD("bdat-size-2^64", test_bdat_huge, "18446744073709551616");
    ADD("bdat-size-huge-digits", test_bdat_huge, "999999999999999999999999999999999999");
    ADD("body-of-dot-lines", test_body_of_dots, NULL);
    ADD("body-bare-lf-dots", test_body_bare_dots, "x\n.\nMAIL FROM:<evil@example.com>\n");
    ADD("body-bare-cr-dots", test_body_bare_dots, "x\r.\rRCPT TO:<evil@example.com>\r");
    ADD("body-mixed-bare-dots", test_body_bare_dots, "\n.\r\n\r\n.\n\r.\r\n.\r.\n");
    ADD("bare-lf-commands", test_bare_lf_commands, NULL);
#undef ADD
    return g_test_run();
}
