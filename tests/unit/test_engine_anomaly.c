/* test_engine_anomaly.c -- every anomaly kind the engine reports, each
 * triggered by real SMTP bytes, plus the negative cases: a clean pipelined
 * session must not produce a single sequence anomaly.
 *
 * Each case is a transcript and the kind it must raise exactly `count`
 * times.  Small cases are also replayed in every split.
 */
#include <string.h>

#include "event_log.h"

/* Greeting and an EHLO reply with many extensions (Postfix-like). */
#define GREET TX_S("220 mx.example.org ESMTP Postfix\r\n")
#define EHLO_FULL                                                                               \
    GREET, TX_C("EHLO c.example.com\r\n"),                                                      \
        TX_S("250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-STARTTLS\r\n"       \
             "250-AUTH PLAIN LOGIN XOAUTH2\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n"      \
             "250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n")
/* An EHLO reply with no extension at all. */
#define EHLO_BARE GREET, TX_C("EHLO c.example.com\r\n"), TX_S("250-mx.example.org\r\n250 HELP\r\n")
#define MAIL_OK TX_C("MAIL FROM:<a@example.com>\r\n"), TX_S("250 2.1.0 Ok\r\n")
#define RCPT_OK TX_C("RCPT TO:<b@example.org>\r\n"), TX_S("250 2.1.5 Ok\r\n")

typedef struct anomaly_case {
    const char    *name;
    smtp_anomaly   kind;
    unsigned       count;
    const tx_step *steps;
    size_t         n;
    bool           seq_ok;       /* the bytes also hold commands out of sequence */
} anomaly_case;

#define CASE(id, kind_, count_, ...)                                                 \
    static const tx_step id##_steps[] = { __VA_ARGS__ };                             \
    static const anomaly_case id = { #id, SMTP_AN_##kind_, count_, id##_steps,       \
                                     G_N_ELEMENTS(id##_steps), false }
#define CASE_SEQ_OK(id, kind_, count_, ...)                                          \
    static const tx_step id##_steps[] = { __VA_ARGS__ };                             \
    static const anomaly_case id = { #id, SMTP_AN_##kind_, count_, id##_steps,       \
                                     G_N_ELEMENTS(id##_steps), true }

/* ---- sequence ---- */
CASE(c_early_talker, early_talker, 1, TX_C("EHLO eager.example.com\r\n"), GREET,
     TX_S("250 mx.example.org\r\n"));
CASE(c_command_after_quit, command_after_quit, 1, EHLO_FULL, TX_C("QUIT\r\nNOOP\r\n"),
     TX_S("221 2.0.0 Bye\r\n"));
CASE(c_command_before_hello, command_before_hello, 1, GREET, TX_C("MAIL FROM:<a@example.com>\r\n"),
     TX_S("503 5.5.1 Error: send HELO/EHLO first\r\n"));
CASE(c_mail_in_transaction, mail_in_transaction, 1, EHLO_FULL, MAIL_OK,
     TX_C("MAIL FROM:<again@example.com>\r\n"), TX_S("503 5.5.1 Error: nested MAIL command\r\n"));
CASE(c_rcpt_without_mail, rcpt_without_mail, 1, EHLO_FULL, TX_C("RCPT TO:<b@example.org>\r\n"),
     TX_S("503 5.5.1 Error: need MAIL command\r\n"));
CASE(c_data_without_rcpt, data_without_rcpt, 1, EHLO_FULL, MAIL_OK, TX_C("DATA\r\n"),
     TX_S("503 5.5.1 Error: need RCPT command\r\n"));
CASE(c_data_after_bdat, data_after_bdat, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("BDAT 3\r\nabc"),
     TX_S("250 2.0.0 3 octets received\r\n"), TX_C("DATA\r\n"),
     TX_S("503 5.5.1 Error: DATA after BDAT\r\n"));
CASE(c_bdat_after_last, bdat_after_last, 1, EHLO_FULL, MAIL_OK, RCPT_OK,
     TX_C("BDAT 3 LAST\r\nabcBDAT 2\r\nxy"), TX_S("250 2.0.0 Ok: queued as 9F\r\n503 5.5.1 no MAIL\r\n"));
CASE(c_starttls_repeated, starttls_repeated, 1, EHLO_FULL, TX_C("STARTTLS\r\nSTARTTLS\r\n"),
     TX_S("454 4.7.0 TLS not available due to local problem\r\n503 5.5.1 Error\r\n"));
CASE(c_starttls_in_transaction, starttls_in_transaction, 1, EHLO_FULL, MAIL_OK,
     TX_C("STARTTLS\r\n"), TX_S("503 5.5.1 Error: MAIL transaction in progress\r\n"));
CASE(c_auth_repeated, auth_repeated, 1, EHLO_FULL, TX_C("AUTH PLAIN AGtlbgBzM2NyM3Q=\r\n"),
     TX_S("235 2.7.0 Authentication successful\r\n"), TX_C("AUTH PLAIN AGtlbgBzM2NyM3Q=\r\n"),
     TX_S("503 5.5.1 Error: already authenticated\r\n"));
CASE(c_auth_in_transaction, auth_in_transaction, 1, EHLO_FULL, MAIL_OK, TX_C("AUTH LOGIN\r\n"),
     TX_S("503 5.5.1 Error: MAIL transaction in progress\r\n"));
CASE(c_pipelining_not_advertised, pipelining_not_advertised, 1, EHLO_BARE,
     TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\n"),
     TX_S("250 Ok\r\n250 Ok\r\n250 Ok\r\n"));
CASE(c_pipeline_not_last, pipeline_not_last, 1, EHLO_FULL,
     TX_C("NOOP\r\nMAIL FROM:<a@example.com>\r\n"), TX_S("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n"));
CASE(c_server_bad_sequence, server_bad_sequence, 1, EHLO_FULL, TX_C("DATA\r\n"),
     TX_S("503 5.5.1 Error: need RCPT command\r\n"));
/* ---- tls ---- */
/* The injected MAIL also follows STARTTLS before its reply: pipeline_not_last. */
CASE_SEQ_OK(c_starttls_injection, starttls_injection, 1, EHLO_FULL,
     TX_C("STARTTLS\r\nMAIL FROM:<inject@example.com>\r\n"), TX_S("220 2.0.0 Ready to start TLS\r\n"));
CASE(c_starttls_refused, starttls_refused, 1, EHLO_FULL, TX_C("STARTTLS\r\n"),
     TX_S("454 4.7.0 TLS not available due to local problem\r\n"));
/* ---- capability ---- */
CASE(c_starttls_not_advertised, starttls_not_advertised, 1, EHLO_BARE, TX_C("STARTTLS\r\n"),
     TX_S("502 5.5.1 Error: command not implemented\r\n"));
CASE(c_auth_not_advertised, auth_not_advertised, 1, EHLO_BARE, TX_C("AUTH LOGIN\r\n"),
     TX_S("503 5.5.1 Error: authentication not enabled\r\n"));
CASE(c_auth_mechanism_not_advertised, auth_mechanism_not_advertised, 1, EHLO_FULL,
     TX_C("AUTH CRAM-MD5\r\n"), TX_S("504 5.5.4 Unrecognized authentication type\r\n"));
CASE(c_bdat_not_advertised, bdat_not_advertised, 1, EHLO_BARE, MAIL_OK, RCPT_OK,
     TX_C("BDAT 2 LAST\r\nhi"), TX_S("502 5.5.2 Error: command not recognized\r\n"));
CASE(c_size_over_limit, size_over_limit, 1, EHLO_FULL, TX_C("MAIL FROM:<a@example.com> SIZE=5000\r\n"),
     TX_S("552 5.3.4 Message size exceeds fixed limit\r\n"));
CASE(c_message_over_size, message_over_size, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("BDAT 1500 LAST\r\n"),
     TX_C("0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
          "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"),
     TX_S("552 5.3.4 Message size exceeds fixed limit\r\n"));
CASE(c_size_not_advertised, size_not_advertised, 1, EHLO_BARE, TX_C("MAIL FROM:<a@example.com> SIZE=100\r\n"),
     TX_S("555 5.5.4 Unsupported option: SIZE=100\r\n"));
CASE(c_8bitmime_not_advertised, 8bitmime_not_advertised, 1, EHLO_BARE,
     TX_C("MAIL FROM:<a@example.com> BODY=8BITMIME\r\n"), TX_S("250 Ok\r\n"));
CASE(c_binarymime_not_advertised, binarymime_not_advertised, 1, EHLO_FULL,
     TX_C("MAIL FROM:<a@example.com> BODY=BINARYMIME\r\n"), TX_S("555 5.5.4 Unsupported option\r\n"));
CASE(c_smtputf8_not_advertised, smtputf8_not_advertised, 1, EHLO_BARE,
     TX_C("MAIL FROM:<a@example.com> SMTPUTF8\r\n"), TX_S("555 5.5.4 Unsupported option\r\n"));
CASE(c_dsn_not_advertised, dsn_not_advertised, 2, EHLO_BARE,
     TX_C("MAIL FROM:<a@example.com> RET=HDRS ENVID=QQ314159\r\n"), TX_S("250 Ok\r\n"),
     TX_C("RCPT TO:<b@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b@example.org\r\n"),
     TX_S("250 Ok\r\n"));
CASE(c_requiretls_not_advertised, requiretls_not_advertised, 1, EHLO_FULL,
     TX_C("MAIL FROM:<a@example.com> REQUIRETLS\r\n"), TX_S("555 5.5.4 Unsupported option\r\n"));
/* ---- reply ---- */
CASE(c_unexpected_reply, unexpected_reply, 1, EHLO_FULL, TX_C("MAIL FROM:<a@example.com>\r\n"),
     TX_S("354 go ahead\r\n"));
CASE(c_reply_without_command, reply_without_command, 1, EHLO_FULL, TX_S("250 2.0.0 Ok\r\n"));
CASE(c_multiline_code_mismatch, multiline_code_mismatch, 1, GREET, TX_C("EHLO c.example.com\r\n"),
     TX_S("250-mx.example.org\r\n251-PIPELINING\r\n250 8BITMIME\r\n"));
CASE(c_enhanced_class_mismatch, enhanced_class_mismatch, 1, EHLO_FULL, TX_C("MAIL FROM:<a@example.com>\r\n"),
     TX_S("250 5.1.0 Sender rejected but coded 250\r\n"));
CASE(c_malformed_reply, malformed_reply, 1, EHLO_FULL, TX_C("NOOP\r\n"),
     TX_S("250-first line\r\nthis is not a reply line\r\n250 2.0.0 Ok\r\n"));
CASE(c_unanswered_command, unanswered_command, 2, EHLO_FULL, TX_C("NOOP\r\n"), TX_S("250 Ok\r\n"),
     TX_C("RSET\r\nQUIT\r\n"));
CASE(c_service_closing, service_closing, 1, EHLO_FULL, TX_C("MAIL FROM:<a@example.com>\r\n"),
     TX_S("421 4.3.2 Service shutting down, closing transmission channel\r\n"));
CASE(c_no_smtp_service, no_smtp_service, 1, TX_S("554 5.7.1 mx.example.org ESMTP not accepting connections\r\n"),
     TX_C("QUIT\r\n"), TX_S("221 2.0.0 Bye\r\n"));
/* ---- syntax ---- */
CASE(c_command_too_long, command_too_long, 1, EHLO_FULL, MAIL_OK,
     TX_C("RCPT TO:<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org>\r\n"),
     TX_S("501 5.5.2 Error: line too long\r\n"));
CASE(c_reply_line_too_long, reply_line_too_long, 1, EHLO_FULL, TX_C("HELP\r\n"),
     TX_S("214 2.0.0 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
          "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"));
CASE(c_bare_lf, bare_lf, 1, EHLO_FULL, TX_C("RSET\nRSET\n"), TX_S("250 Ok\r\n250 Ok\r\n"));
CASE(c_bare_cr, bare_cr, 1, EHLO_FULL, TX_C("NO\rOP\r\n"), TX_S("500 5.5.2 Error: bad syntax\r\n"));
CASE(c_smtp_smuggling, smtp_smuggling, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("DATA\r\n"),
     TX_S("354 End data with <CR><LF>.<CR><LF>\r\n"),
     TX_C("Subject: a\r\n\r\nx\n.\nMAIL FROM:<admin@example.org>\r\n.\r\n"), TX_S("250 2.0.0 Ok: queued as 5A\r\n"));
CASE(c_unknown_command, unknown_command, 1, EHLO_FULL, TX_C("XYZZY plugh\r\n"),
     TX_S("502 5.5.2 Error: command not recognized\r\n"));
CASE(c_bad_command_syntax, bad_command_syntax, 1, EHLO_FULL, TX_C("MAIL alice@example.com\r\n"),
     TX_S("501 5.5.4 Syntax: MAIL FROM:<address>\r\n"));
CASE(c_bad_bdat_size, bad_bdat_size, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("BDAT ten LAST\r\n"),
     TX_S("501 5.5.4 Syntax: BDAT count [LAST]\r\n"));
CASE(c_non_ascii_command, non_ascii_command, 1, GREET, TX_C("EHLO caf\xc3\xa9.example\r\n"),
     TX_S("250 mx.example.org\r\n"));
/* ---- timing and session ---- */
CASE(c_cut_off_in_data, cut_off_in_data, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("DATA\r\n"),
     TX_S("354 go ahead\r\n"), TX_C("Subject: half a mess"));
CASE(c_cut_off, cut_off, 1, EHLO_FULL, TX_C("NOOP\r\n"), TX_S("250 Ok\r\n"));
CASE(c_auth_failed, auth_failed, 1, EHLO_FULL, TX_C("AUTH PLAIN AGtlbgB3cm9uZw==\r\n"),
     TX_S("535 5.7.8 Error: authentication failed: authentication failure\r\n"));
CASE(c_auth_cancelled, auth_cancelled, 1, EHLO_FULL, TX_C("AUTH LOGIN\r\n"), TX_S("334 VXNlcm5hbWU6\r\n"),
     TX_C("*\r\n"), TX_S("501 5.7.0 Authentication aborted\r\n"));
CASE(c_transaction_rejected, transaction_rejected, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("DATA\r\n"),
     TX_S("354 go ahead\r\n"), TX_C("Subject: spam\r\n\r\nbuy now\r\n.\r\n"),
     TX_S("554 5.7.1 Message rejected: spam\r\n"));
CASE(c_transaction_deferred, transaction_deferred, 1, EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("DATA\r\n"),
     TX_S("354 go ahead\r\n"), TX_C("Subject: later\r\n\r\nhello\r\n.\r\n"),
     TX_S("451 4.3.0 Error: queue file write error\r\n"));
/* An HTTP client talks first: early talker, unknown verbs, a "pipeline". */
CASE_SEQ_OK(c_not_smtp, not_smtp, 1, TX_C("GET / HTTP/1.1\r\nHost: mx.example.org\r\n\r\n"),
     TX_S("HTTP/1.1 400 Bad Request\r\n\r\n"));
/* A proxy answers before the server greets (zeek connect-with-smtp). */
CASE_SEQ_OK(c_greeting_preamble, greeting_preamble, 1,
     TX_C("CONNECT mx.example.org:25 / HTTP/1.0\r\n\r\n"),
     TX_S("HTTP/1.0 200 Connection established\r\n\r\n"), GREET,
     TX_C("HELO c.example.com\r\n"), TX_S("250 mx.example.org\r\n"));

static const anomaly_case *const cases[] = {
    &c_early_talker, &c_command_after_quit, &c_command_before_hello, &c_mail_in_transaction,
    &c_rcpt_without_mail, &c_data_without_rcpt, &c_data_after_bdat, &c_bdat_after_last,
    &c_starttls_repeated, &c_starttls_in_transaction, &c_auth_repeated, &c_auth_in_transaction,
    &c_pipelining_not_advertised, &c_pipeline_not_last, &c_server_bad_sequence,
    &c_starttls_injection, &c_starttls_refused, &c_starttls_not_advertised, &c_auth_not_advertised,
    &c_auth_mechanism_not_advertised, &c_bdat_not_advertised, &c_size_over_limit,
    &c_message_over_size, &c_size_not_advertised, &c_8bitmime_not_advertised,
    &c_binarymime_not_advertised, &c_smtputf8_not_advertised, &c_dsn_not_advertised,
    &c_requiretls_not_advertised, &c_unexpected_reply, &c_reply_without_command,
    &c_multiline_code_mismatch, &c_enhanced_class_mismatch, &c_malformed_reply,
    &c_unanswered_command, &c_service_closing, &c_no_smtp_service, &c_command_too_long,
    &c_reply_line_too_long, &c_bare_lf, &c_bare_cr, &c_smtp_smuggling, &c_unknown_command,
    &c_bad_command_syntax, &c_bad_bdat_size, &c_non_ascii_command, &c_cut_off_in_data, &c_cut_off,
    &c_auth_failed, &c_auth_cancelled, &c_transaction_rejected, &c_transaction_deferred, &c_not_smtp,
    &c_greeting_preamble,
};

static unsigned n_sequence(const event_log *l)
{
    unsigned n = 0;
    for (int k = 0; k < SMTP_AN_COUNT; k++)
        if (reg_anomaly_class((smtp_anomaly)k) == ANC_SEQUENCE)
            n += l->n_anomalies[k];
    return n;
}

static void test_case(gconstpointer data)
{
    const anomaly_case *c = data;
    event_log l;
    tx_run(c->steps, c->n, NULL, TX_WHOLE, 0, 0, 0, &l);
    if (g_test_verbose() || l.n_anomalies[c->kind] != c->count)
        g_printerr("%s", l.text->str);
    g_assert_cmpuint(l.n_anomalies[c->kind], ==, c->count);
    /* The message names the kind's specifics: it is never empty. */
    char *line = g_strdup_printf("! %s (", reg_anomaly_name(c->kind));
    g_assert_true(event_log_has(&l, line));
    g_free(line);
    /* Only out-of-order commands and the server's 503 are sequence anomalies. */
    if (reg_anomaly_class(c->kind) != ANC_SEQUENCE && !c->seq_ok && !strstr(l.text->str, "REPLY 503"))
        g_assert_cmpuint(n_sequence(&l), ==, 0);
    event_log_clear(&l);
    tx_assert_split_invariant(c->steps, c->n, NULL, 3);
}

/* ---- cases that need more than a transcript ------------------------------ */

static void test_slow_reply(void)
{
    static const tx_step t[] = { EHLO_FULL, TX_C("NOOP\r\n"), TX_S("250 Ok\r\n") };
    smtp_options o = { .slow_reply_ns = 500000 }; /* steps are 1 ms apart */
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), &o, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_slow_reply], ==, 2); /* EHLO and NOOP */
    event_log_clear(&l);
    o.slow_reply_ns = -1;
    tx_run(t, G_N_ELEMENTS(t), &o, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_slow_reply], ==, 0);
    event_log_clear(&l);
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l); /* default: 10 s */
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_slow_reply], ==, 0);
    event_log_clear(&l);
}

static void test_gap(void)
{
    static const tx_step t[] = { EHLO_FULL, TX_GAPC(40), TX_C("NOOP\r\n"), TX_S("250 Ok\r\n") };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_gap], ==, 1);
    g_assert_true(event_log_has(&l, "40 bytes from the client were not captured"));
    g_assert_true(event_log_has(&l, "gaps=40/0"));
    event_log_clear(&l);
}

static void test_limit_kinds(void)
{
    event_log l;
    GString *c = g_string_new("MAIL FROM:<a@example.com>\r\n");
    GString *s = g_string_new("250 Ok\r\n");
    for (int i = 0; i < SMTP_MAX_RECIPIENTS + 5; i++) {
        g_string_append_printf(c, "RCPT TO:<r%d@example.org>\r\n", i);
        g_string_append(s, "250 Ok\r\n");
    }
    tx_step t[] = { EHLO_FULL, { 'C', c->str, c->len }, { 'S', s->str, s->len } };
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_too_many_recipients], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_too_many_pending], ==, 0);
    g_assert_true(event_log_has(&l, "rcpts=1000/1005"));
    event_log_clear(&l);

    /* More pipelined RSETs than the pending queue holds. */
    g_string_truncate(c, 0);
    for (int i = 0; i < SMTP_MAX_PENDING + 10; i++)
        g_string_append(c, "RSET\r\n");
    tx_step t2[] = { EHLO_FULL, { 'C', c->str, c->len }, TX_S("250 Ok\r\n") };
    tx_run(t2, G_N_ELEMENTS(t2), NULL, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_too_many_pending], ==, 1);
    g_assert_true(event_log_has(&l, "REPLY 250 answers=RSET#12 ")); /* the 10 oldest were dropped */
    event_log_clear(&l);

    /* A reply with more lines than are kept; a line beyond the buffer. */
    g_string_truncate(s, 0);
    for (int i = 0; i < SMTP_MAX_REPLY_LINES + 6; i++)
        g_string_append_printf(s, "214-help line %d\r\n", i);
    g_string_append(s, "214 end\r\n");
    g_string_assign(c, "HELP\r\nNOOP ");
    for (int i = 0; i < SMTP_MAX_LINE_BUF; i++)
        g_string_append_c(c, 'x');
    g_string_append(c, "\r\n");
    tx_step t3[] = { EHLO_FULL, { 'C', c->str, c->len }, { 'S', s->str, s->len }, TX_S("250 Ok\r\n") };
    tx_run(t3, G_N_ELEMENTS(t3), NULL, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_too_long], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_line_buffer_overflow], ==, 1);
    g_assert_true(event_log_has(&l, "lines=64/71"));
    g_assert_true(event_log_has(&l, "REPLY 250 answers=NOOP#3")); /* the cut line still counts */
    event_log_clear(&l);
    g_string_free(c, TRUE);
    g_string_free(s, TRUE);
}

/* Every kind in anomalies.def is either tested above or belongs to another
 * part of the core (reassembly, flow table). */
static void test_all_kinds_covered(void)
{
    static const smtp_anomaly elsewhere[] = {
        SMTP_AN_overlap_conflict, SMTP_AN_reassembly_overflow, SMTP_AN_conversation_evicted,
        SMTP_AN_slow_reply, SMTP_AN_gap, SMTP_AN_too_many_recipients, SMTP_AN_too_many_pending,
        SMTP_AN_reply_too_long, SMTP_AN_line_buffer_overflow, SMTP_AN_text_line_too_long,
    };
    for (int k = 0; k < SMTP_AN_COUNT; k++) {
        bool found = false;
        for (size_t i = 0; i < G_N_ELEMENTS(cases) && !found; i++)
            found = cases[i]->kind == (smtp_anomaly)k;
        for (size_t i = 0; i < G_N_ELEMENTS(elsewhere) && !found; i++)
            found = elsewhere[i] == (smtp_anomaly)k;
        if (!found)
            g_error("anomaly kind %s has no test", reg_anomaly_name((smtp_anomaly)k));
    }
}

static void test_text_line_too_long(void)
{
    GString *body = g_string_new("Subject: wide\r\n\r\n");
    for (int i = 0; i < 1200; i++)
        g_string_append_c(body, 'w');
    g_string_append(body, "\r\nshort\r\n");
    for (int i = 0; i < 1300; i++)
        g_string_append_c(body, 'v');
    g_string_append(body, "\r\n.\r\n");
    tx_step t[] = { EHLO_FULL, MAIL_OK, RCPT_OK, TX_C("DATA\r\n"), TX_S("354 go\r\n"),
                    { 'C', body->str, body->len }, TX_S("250 2.0.0 Ok: queued as 1W\r\n") };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_text_line_too_long], ==, 1); /* once per message */
    g_assert_true(event_log_has(&l, "A message line is 1202 octets long"));
    event_log_clear(&l);
    tx_assert_split_invariant(t, G_N_ELEMENTS(t), NULL, 2);
    g_string_free(body, TRUE);
}

/* ---- negative cases ---------------------------------------------------------- */

/* Postfix with PIPELINING: MAIL/RCPT/RCPT/DATA in one segment, one RCPT
 * refused, DATA refused for a second transaction whose only RCPT failed,
 * RSET and QUIT pipelined.  Nothing here is out of sequence. */
static void test_clean_pipelined(void)
{
    static const tx_step t[] = {
        EHLO_FULL,
        TX_C("MAIL FROM:<a@example.com> SIZE=300 BODY=8BITMIME\r\nRCPT TO:<b@example.org>\r\n"
             "RCPT TO:<nobody@example.org> NOTIFY=FAILURE\r\nDATA\r\n"),
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.org>: Recipient address "
             "rejected: User unknown in local recipient table\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_C("Subject: fine\r\n\r\nok\r\n.\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<nobody@example.org>\r\n"
             "DATA\r\n"),
        TX_S("250 2.0.0 Ok: queued as 3C7\r\n250 2.1.0 Ok\r\n550 5.1.1 <nobody@example.org>: Recipient "
             "address rejected\r\n554 5.5.1 Error: no valid recipients\r\n"),
        TX_C("RSET\r\nQUIT\r\n"),
        TX_S("250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l);
    if (g_test_verbose())
        g_printerr("%s", l.text->str);
    g_assert_cmpuint(n_sequence(&l), ==, 0);
    g_assert_cmpuint(l.n_events[SMTP_EV_ANOMALY], ==, 0);
    g_assert_cmpuint(l.n_events[SMTP_EV_TRANSACTION], ==, 2);
    g_assert_true(event_log_has(&l, "TXN MAIL outcome=accepted"));
    g_assert_true(event_log_has(&l, "TXN MAIL outcome=aborted"));
    g_assert_true(event_log_has(&l, "CMD #8 DATA first=6 pipelined"));
    event_log_clear(&l);
    tx_assert_split_invariant(t, G_N_ELEMENTS(t), NULL, 10);
}

/* A gap that cuts a pipelined command line: what follows the hole up to the
 * next line end is the tail of the lost line, not a command of its own
 * (segment "RCPT TO:<bo" lost between "MAIL ..." and "b@example.org>").  On
 * the server side likewise for a reply cut in two. */
static void test_gap_mid_line(void)
{
    static const tx_step t[] = {
        EHLO_FULL,
        TX_C("MAIL FROM:<alice@example.com>\r\n"), TX_GAPC(11),
        TX_C("b@example.org>\r\nDATA\r\n"),
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"), TX_GAPS(6), TX_S("ata with <CR><LF>.<CR><LF>\r\n"),
        TX_C("QUIT\r\n"), TX_S("221 2.0.0 Bye\r\n"),
    };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l);
    if (g_test_verbose())
        g_printerr("%s", l.text->str);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_gap], ==, 2);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unknown_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_malformed_reply], ==, 0);
    g_assert_false(event_log_has(&l, "b@example.org>"));
    g_assert_true(event_log_has(&l, "CMD #3 DATA"));
    /* The 221 fits only QUIT: it is paired past the DATA whose reply fell
     * into the server's gap. */
    g_assert_true(event_log_has(&l, "REPLY 221 answers=QUIT#4"));
    event_log_clear(&l);
}

/* Postfix's SMTP client (content filter or relay with XFORWARD) sends its
 * XFORWARD lines in the same pipelined group as MAIL and RCPT. */
static void test_xforward_pipelined(void)
{
    static const tx_step t[] = {
        GREET,
        TX_C("EHLO relay.example.com\r\n"),
        TX_S("250-mx.example.org\r\n250-PIPELINING\r\n250-XFORWARD NAME ADDR PROTO HELO\r\n"
             "250 8BITMIME\r\n"),
        TX_C("XFORWARD NAME=c.example.com ADDR=192.0.2.7\r\nXFORWARD PROTO=ESMTP HELO=c.example.com\r\n"
             "MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"),
        TX_C("Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
        TX_S("250 2.0.0 Ok: queued as 4B1\r\n221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), NULL, TX_WHOLE, 0, 0, 0, &l);
    g_assert_cmpuint(l.n_events[SMTP_EV_ANOMALY], ==, 0);
    g_assert_true(event_log_has(&l, "TXN MAIL outcome=accepted"));
    event_log_clear(&l);
}

/* Midstream: no greeting, no EHLO seen; nothing is out of sequence until a
 * reply establishes the state, and then the rules apply again. */
static void test_midstream(void)
{
    static const tx_step t[] = {
        TX_C("RCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 2.1.5 Ok\r\n354 go ahead\r\n"),
        TX_C("Subject: caught midway\r\n\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as M1\r\n"),
        TX_C("RSET\r\n"),
        TX_S("250 2.0.0 Ok\r\n"),
        TX_C("RCPT TO:<c@example.org>\r\n"),
        TX_S("503 5.5.1 Error: need MAIL command\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
    };
    smtp_options o = { .midstream = true };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), &o, TX_WHOLE, 0, 0, 0, &l);
    if (g_test_verbose())
        g_printerr("%s", l.text->str);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_early_talker], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_rcpt_without_mail], ==, 1); /* only after RSET */
    g_assert_true(event_log_has(&l, "REPLY 250 answers=RCPT#1"));
    g_assert_true(event_log_has(&l, "BODY-END"));
    event_log_clear(&l);
    tx_assert_split_invariant(t, G_N_ELEMENTS(t), &o, 5);
}

/* Midstream mode, but the capture did catch the greeting after all (the
 * client's first segment came before it). */
static void test_midstream_with_greeting(void)
{
    static const tx_step t[] = {
        TX_C("HELO client.example.com\r\n"),
        TX_S("220 test.smtp.org ESMTP Sendmail 8.14.9 ready\r\n"),
        TX_S("250 test.smtp.org Hello client.example.com, pleased to meet you\r\n"),
    };
    smtp_options o = { .midstream = true };
    event_log l;
    tx_run(t, G_N_ELEMENTS(t), &o, TX_WHOLE, 0, 0, 0, &l);
    g_assert_true(event_log_has(&l, "REPLY 220 answers=GREETING#0"));
    g_assert_true(event_log_has(&l, "REPLY 250 answers=HELO#1"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unexpected_reply], ==, 0);
    event_log_clear(&l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *path = g_strdup_printf("/engine/anomaly/%s", reg_anomaly_name(cases[i]->kind));
        g_test_add_data_func(path, cases[i], test_case);
        g_free(path);
    }
    g_test_add_func("/engine/anomaly/slow_reply", test_slow_reply);
    g_test_add_func("/engine/anomaly/gap", test_gap);
    g_test_add_func("/engine/anomaly/gap_mid_line", test_gap_mid_line);
    g_test_add_func("/engine/anomaly/limits", test_limit_kinds);
    g_test_add_func("/engine/anomaly/text_line_too_long", test_text_line_too_long);
    g_test_add_func("/engine/anomaly/all_kinds_covered", test_all_kinds_covered);
    g_test_add_func("/engine/negative/clean_pipelined", test_clean_pipelined);
    g_test_add_func("/engine/negative/xforward_pipelined", test_xforward_pipelined);
    g_test_add_func("/engine/negative/midstream", test_midstream);
    g_test_add_func("/engine/negative/midstream_with_greeting", test_midstream_with_greeting);
    return g_test_run();
}
