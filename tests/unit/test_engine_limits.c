/* test_engine_limits.c -- bounded memory under floods, and resynchronising
 * after bytes lost in capture (gaps) without merging messages.
 *
 * Memory is checked on the engine's own buffers (smtp_internal.h): their
 * capacities must never pass the limits in smtp_limits.h, however much a
 * peer sends.
 */
#include <string.h>

#include "event_log.h"
#include "smtp_internal.h"

/* ---- a sink that only counts (a million events would not fit a log) ---- */

typedef struct counter {
    uint64_t by_type[SMTP_EV_END + 1];
    uint64_t by_anomaly[SMTP_AN_COUNT];
    int      last_code;
    smtp_cmd last_answers, last_cmd;
    uint32_t last_lines, last_lines_total;
} counter;

static void count_event(void *user, const smtp_event *ev)
{
    counter *c = user;
    c->by_type[ev->type]++;
    if (ev->type == SMTP_EV_ANOMALY)
        c->by_anomaly[ev->u.anomaly.kind]++;
    if (ev->type == SMTP_EV_REPLY) {
        c->last_code = ev->u.reply.code;
        c->last_answers = ev->u.reply.answers;
        c->last_lines = ev->u.reply.n_lines;
        c->last_lines_total = ev->u.reply.n_lines_total;
    }
    if (ev->type == SMTP_EV_COMMAND)
        c->last_cmd = ev->u.command.cmd;
}

static const smtp_sink count_sink = { count_event, NULL };

static void feed(smtp_engine *e, smtp_dir d, const char *s, uint32_t frame)
{
    smtp_feed(e, d, (const uint8_t *)s, strlen(s), (cap_pos){ (int64_t)frame * 1000, frame });
}

static smtp_engine *session(counter *c)
{
    memset(c, 0, sizeof *c);
    smtp_engine *e = smtp_engine_new(&count_sink, c, NULL);
    feed(e, SMTP_DIR_SERVER, "220 mx.example.org ESMTP Postfix\r\n", 1);
    feed(e, SMTP_DIR_CLIENT, "EHLO c.example.com\r\n", 2);
    feed(e, SMTP_DIR_SERVER, "250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n", 3);
    return e;
}

static void assert_bounded(const smtp_engine *e)
{
    for (int d = 0; d < 2; d++)
        g_assert_cmpuint(e->side[d].tail.cap, <=, SMTP_MAX_LINE_BUF);
    g_assert_cmpuint(e->pend_cap, <=, SMTP_MAX_PENDING);
    g_assert_cmpuint(e->rep_text.cap, <=, SMTP_MAX_REPLY_BYTES);
}

/* A normal exchange still works after the flood. */
static void assert_still_works(smtp_engine *e, counter *c)
{
    feed(e, SMTP_DIR_CLIENT, "NOOP\r\n", 90);
    feed(e, SMTP_DIR_SERVER, "250 2.0.0 Ok\r\n", 91);
    g_assert_cmpint(c->last_code, ==, 250);
    g_assert_cmpint(c->last_answers, ==, SMTP_CMD_NOOP);
}

static void test_endless_line(void)
{
    counter c;
    smtp_engine *e = session(&c);
    char *chunk = g_malloc(64 * 1024);
    memset(chunk, 'A', 64 * 1024);
    memcpy(chunk, "NOOP ", 5);
    for (int i = 0; i < 1600; i++) { /* 100 MB, no LF */
        smtp_feed(e, SMTP_DIR_CLIENT, (const uint8_t *)chunk, 64 * 1024, (cap_pos){ 4000, 4 });
        memset(chunk, 'A', 5);
    }
    assert_bounded(e);
    g_assert_cmpuint(c.by_anomaly[SMTP_AN_line_buffer_overflow], ==, 1);
    feed(e, SMTP_DIR_CLIENT, "\r\n", 5);
    g_assert_cmpuint(c.by_anomaly[SMTP_AN_command_too_long], ==, 1);
    g_assert_cmpint(c.last_cmd, ==, SMTP_CMD_NOOP); /* the kept start of the line */
    feed(e, SMTP_DIR_SERVER, "500 5.5.2 Error: line too long\r\n", 6);
    assert_still_works(e, &c);
    g_free(chunk);
    smtp_engine_free(e);
}

static void test_million_pipelined(void)
{
    counter c;
    smtp_engine *e = session(&c);
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 10000; i++)
        g_string_append(s, "RSET\r\n");
    for (int i = 0; i < 100; i++)
        smtp_feed(e, SMTP_DIR_CLIENT, (const uint8_t *)s->str, s->len, (cap_pos){ 4000, 4 });
    assert_bounded(e);
    g_assert_cmpuint(c.by_type[SMTP_EV_COMMAND], ==, 1000001);
    g_assert_cmpuint(c.by_anomaly[SMTP_AN_too_many_pending], ==, 1);
    g_assert_cmpuint(e->pend_n, ==, SMTP_MAX_PENDING);
    /* The replies to the last SMTP_MAX_PENDING commands are still paired. */
    g_string_truncate(s, 0);
    for (int i = 0; i < SMTP_MAX_PENDING; i++)
        g_string_append(s, "250 2.0.0 Ok\r\n");
    smtp_feed(e, SMTP_DIR_SERVER, (const uint8_t *)s->str, s->len, (cap_pos){ 5000, 5 });
    g_assert_cmpint(c.last_answers, ==, SMTP_CMD_RSET);
    g_assert_cmpuint(c.by_anomaly[SMTP_AN_reply_without_command], ==, 0);
    assert_still_works(e, &c);
    g_string_free(s, TRUE);
    smtp_engine_free(e);
}

static void test_million_line_reply(void)
{
    counter c;
    smtp_engine *e = session(&c);
    feed(e, SMTP_DIR_CLIENT, "HELP\r\n", 4);
    GString *s = g_string_new(NULL);
    for (int i = 0; i < 10000; i++)
        g_string_append(s, "214-2.0.0 help text\r\n");
    for (int i = 0; i < 100; i++)
        smtp_feed(e, SMTP_DIR_SERVER, (const uint8_t *)s->str, s->len, (cap_pos){ 5000, 5 });
    assert_bounded(e);
    feed(e, SMTP_DIR_SERVER, "214 2.0.0 end\r\n", 6);
    g_assert_cmpint(c.last_answers, ==, SMTP_CMD_HELP);
    g_assert_cmpuint(c.last_lines, ==, SMTP_MAX_REPLY_LINES);
    g_assert_cmpuint(c.last_lines_total, ==, 1000001);
    g_assert_cmpuint(c.by_anomaly[SMTP_AN_reply_too_long], ==, 1);
    assert_still_works(e, &c);
    g_string_free(s, TRUE);
    smtp_engine_free(e);
}

/* ---- gaps ---------------------------------------------------------------------- */

#define PREFIX                                                                               \
    TX_S("220 mx.example.org ESMTP Postfix\r\n"), TX_C("EHLO c.example.com\r\n"),            \
        TX_S("250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),                    \
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),            \
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),      \
        TX_C("Subject: first\r\n\r\npart one\r\n")

static void run(const tx_step *t, size_t n, event_log *l)
{
    tx_run(t, n, NULL, TX_WHOLE, 0, 0, 0, l);
    if (g_test_verbose())
        g_printerr("%s", l->text->str);
    tx_assert_split_invariant(t, n, NULL, 5);
}

/* The final dot was lost: the server's reply ends the message. */
static void test_gap_in_data_reply(void)
{
    static const tx_step t[] = {
        PREFIX,
        TX_GAPC(500),
        TX_C("still the body\r\n"),
        TX_S("250 2.0.0 Ok: queued as G1\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_gap], ==, 1);
    g_assert_true(event_log_has(&l, "REPLY 250 answers=DATA_END#4"));
    g_assert_true(event_log_has(&l, "TXN MAIL outcome=accepted"));
    g_assert_true(event_log_has(&l, "queue_id=\"G1\" subject=\"first\""));
    g_assert_true(event_log_has(&l, "REPLY 221 answers=QUIT#5"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_cut_off_in_data], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unexpected_reply], ==, 0);
    event_log_clear(&l);
}

/* The dot and the next MAIL's start were lost: the next clear command ends
 * the message, and two messages stay two transactions. */
static void test_gap_in_data_command(void)
{
    static const tx_step t[] = {
        PREFIX,
        TX_GAPC(300),
        TX_C("lost end\r\nMAIL FROM:<second@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 2.0.0 Ok: queued as G2\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"),
        TX_C("Subject: second\r\n\r\nbody two\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as G3\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), &l);
    g_assert_cmpuint(l.n_events[SMTP_EV_TRANSACTION], ==, 2);
    g_assert_true(event_log_has(&l, "queue_id=\"G2\" subject=\"first\""));
    g_assert_true(event_log_has(&l, "queue_id=\"G3\" subject=\"second\""));
    g_assert_true(event_log_has(&l, "CMD #5 MAIL"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_mail_in_transaction], ==, 0);
    event_log_clear(&l);
}

/* A pipelined RCPT was lost: its reply must not shift the pairing. */
static void test_gap_in_pipelined_commands(void)
{
    static const tx_step t[] = {
        TX_S("220 mx.example.org ESMTP Postfix\r\n"),
        TX_C("EHLO c.example.com\r\n"),
        TX_S("250-mx.example.org\r\n250 PIPELINING\r\n"),
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRC"),
        TX_GAPC(24),
        TX_C("DATA\r\n"),
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n"),
        TX_C("hi\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as G4\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), &l);
    g_assert_true(event_log_has(&l, "REPLY 250 answers=RCPT#3"));
    g_assert_true(event_log_has(&l, "REPLY 250 answers=NONE#0")); /* the lost RCPT's reply */
    g_assert_true(event_log_has(&l, "REPLY 354 answers=DATA#4"));
    g_assert_true(event_log_has(&l, "queue_id=\"G4\""));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unexpected_reply], ==, 0);
    event_log_clear(&l);
}

/* Replies were lost: the next reply resynchronises the pairing. */
static void test_gap_in_replies(void)
{
    static const tx_step t[] = {
        TX_S("220 mx.example.org ESMTP Postfix\r\n"),
        TX_C("EHLO c.example.com\r\n"),
        TX_S("250-mx.example.org\r\n250 PIPELINING\r\n"),
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 2.1.0"),
        TX_GAPS(20),
        TX_S("354 End data\r\n"),
        TX_C("hi\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as G5\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), &l);
    g_assert_true(event_log_has(&l, "REPLY 354 answers=DATA#4"));
    g_assert_true(event_log_has(&l, "BODY-END"));
    g_assert_true(event_log_has(&l, "queue_id=\"G5\""));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_malformed_reply], ==, 0);
    event_log_clear(&l);
}

/* A gap inside a BDAT chunk is chunk data: counting goes on. */
static void test_gap_in_chunk(void)
{
    static const tx_step t[] = {
        TX_S("220 mx.example.org ESMTP\r\n"),
        TX_C("EHLO c.example.com\r\n"),
        TX_S("250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nBDAT 100 LAST\r\n0123456789"),
        TX_GAPC(80),
        TX_C("0123456789QUIT\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n250 Ok: queued as G6\r\n221 Bye\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), &l);
    g_assert_true(event_log_has(&l, "method=BDAT chunks=1 size=100"));
    g_assert_true(event_log_has(&l, "REPLY 221 answers=QUIT#5"));
    event_log_clear(&l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/engine/limits/endless_line", test_endless_line);
    g_test_add_func("/engine/limits/million_pipelined", test_million_pipelined);
    g_test_add_func("/engine/limits/million_line_reply", test_million_line_reply);
    g_test_add_func("/engine/gap/data_then_reply", test_gap_in_data_reply);
    g_test_add_func("/engine/gap/data_then_command", test_gap_in_data_command);
    g_test_add_func("/engine/gap/pipelined_commands", test_gap_in_pipelined_commands);
    g_test_add_func("/engine/gap/replies", test_gap_in_replies);
    g_test_add_func("/engine/gap/chunk", test_gap_in_chunk);
    return g_test_run();
}
