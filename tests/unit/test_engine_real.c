/* test_engine_real.c -- the engine on byte-exact transcripts of real
 * captures from the public corpus (../shared/corpus), each reproducing a
 * case the corpus audit found: the bytes and segment boundaries are those
 * of the capture named above each test, so no corpus file is needed.
 * Every transcript is also checked for split invariance.
 */
#include <string.h>

#include "event_log.h"
#include "smtp_internal.h"

#define HAS(log, s) g_assert_true(event_log_has(log, s))
#define HASNT(log, s) g_assert_false(event_log_has(log, s))

static void run_real(const tx_step *s, size_t n, const smtp_options *o, event_log *l)
{
    tx_assert_split_invariant(s, n, o, 5);
    tx_run(s, n, o, TX_WHOLE, 0, 0, 0, l);
    if (g_test_verbose())
        g_printerr("%s", l->text->str);
}
#define RUN(steps, opts, log) run_real(steps, G_N_ELEMENTS(steps), opts, log)

static unsigned n_class(const event_log *l, int cls)
{
    unsigned n = 0;
    for (int k = 0; k < SMTP_AN_COUNT; k++)
        if ((int)reg_anomaly_class((smtp_anomaly)k) == cls)
            n += l->n_anomalies[k];
    return n;
}

/* ---- BDAT whose arguments do not parse ------------------------------------ */

/* suricata-verify smtp-bdat-bad-tail-reply-queue, frames 4-18: "BDAT 5 X" is
 * refused with 501 and the server reads the MAIL pipelined after it as a
 * command (250 2.1.0).  Nothing of it is chunk data. */
static void test_bdat_bad_syntax_not_chunk(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.com ESMTP\r\n"),
        TX_C("EHLO client.example.com\r\n"),
        TX_S("250-mail.example.com\r\n250-8BITMIME\r\n250 CHUNKING\r\n"),
        TX_C("BDAT 5 X\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"),
        TX_S("501 5.5.4 Syntax: BDAT count [LAST]\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
             "354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_C("From: alice@example.com\r\nTo: bob@example.com\r\nSubject: after the rejected chunk\r\n"
             "\r\nStill inspected after the rejected BDAT command.\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as ABCDEF\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 501 answers=BDAT#2");
    HAS(&l, "CMD #3 MAIL");
    HAS(&l, "REPLY 250 answers=MAIL#3");
    HAS(&l, "REPLY 354 answers=DATA#5");
    HAS(&l, "TXN MAIL outcome=accepted from=\"alice@example.com\"");
    HAS(&l, "method=DATA chunks=0 size=133");
    HAS(&l, "queue_id=\"ABCDEF\" subject=\"after the rejected chunk\"");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_bad_bdat_size], ==, 1);
    /* BDAT before MAIL is out of sequence; the MAIL, RCPT and DATA are not
     * (the refused BDAT started no chunk and no transaction). */
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_data_without_rcpt], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_data_after_bdat], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_rcpt_without_mail], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    event_log_clear(&l);
}

/* zeek smtp-bdat-cmd-invalid, second conversation: Postfix answers
 * "BDAT 1234 SCRAMBLE" with 521 and closes; the transaction was never
 * given a chunk, so the connection's end aborts it. */
static void test_bdat_bad_syntax_521(void)
{
    static const tx_step t[] = {
        TX_S("220 example.com ESMTP Postfix (Debian/GNU)\r\n"),
        TX_C("EHLO localhost\r\n"),
        TX_S("250-example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-ETRN\r\n250-STARTTLS\r\n"
             "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"),
        TX_C("MAIL FROM:<zeek@localhost>\r\n"),
        TX_S("250 2.1.0 Ok\r\n"),
        TX_C("RCPT TO:<root@localhost>\r\n"),
        TX_S("250 2.1.5 Ok\r\n"),
        TX_C("BDAT 1234 SCRAMBLE\r\n"),
        TX_S("521 5.5.4 Syntax: BDAT count [LAST]\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 521 answers=BDAT#4");
    HAS(&l, "TXN MAIL outcome=aborted");
    HAS(&l, "method= chunks=0 size=0");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_bad_bdat_size], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_cut_off_in_data], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_transaction_rejected], ==, 0);
    event_log_clear(&l);
}

/* zeek smtp-bdat-cmd-negative-chunk-size / -overflow / -overflow2: the size
 * is negative, or too large for 64 bits, and the line ends "LAST\r\r\n";
 * Postfix answers 521 and the QUIT the client sends after it is a command. */
static void test_bdat_bad_sizes(void)
{
    static const char *const lines[] = {
        "BDAT -1 LAST\r\r\n",
        "BDAT 15555555557777777777 LAST\r\r\n",
        "BDAT 184467440737095516150 LAST\r\r\n",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(lines); i++) {
        const tx_step t[] = {
            TX_S("220 example.com ESMTP Postfix (Debian/GNU)\r\n"),
            TX_C("EHLO localhost\r\n"),
            TX_S("250-example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n"),
            TX_C("MAIL FROM:<zeek@localhost>\r\n"),
            TX_S("250 2.1.0 Ok\r\n"),
            TX_C("RCPT TO:<root@localhost>\r\n"),
            TX_S("250 2.1.5 Ok\r\n"),
            { 'C', lines[i], strlen(lines[i]) },
            TX_S("521 5.5.4 Syntax: BDAT count [LAST]\r\n"),
            TX_C("QUIT\r\n"),
            TX_END,
        };
        event_log l;
        RUN(t, NULL, &l);
        HAS(&l, "CMD #5 QUIT");
        HAS(&l, "TXN MAIL outcome=aborted");
        /* 521: the server closes; the QUIT it never answers is no anomaly. */
        g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
        g_assert_cmpuint(l.n_anomalies[SMTP_AN_bad_bdat_size], ==, 1);
        g_assert_cmpuint(l.n_anomalies[SMTP_AN_cut_off_in_data], ==, 0);
        event_log_clear(&l);
    }
}

/* A well-formed BDAT refused for its sequence still has its octets read
 * (RFC 3030 2): "BDAT 5" before any MAIL, its five octets "RSET\n" are
 * chunk data, not a command. */
static void test_bdat_503_consumes_chunk(void)
{
    static const tx_step t[] = {
        TX_S("220 mx.example.org ESMTP Postfix\r\n"),
        TX_C("EHLO c.example.com\r\n"),
        TX_S("250-mx.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
        TX_C("BDAT 5\r\nRSET\nNOOP\r\n"),
        TX_S("503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 503 answers=BDAT#2");
    HAS(&l, "CMD #3 NOOP");
    HAS(&l, "REPLY 250 answers=NOOP#3");
    HASNT(&l, "RSET");
    event_log_clear(&l);
}


/* ---- proxies answering before the greeting -------------------------------- */

/* zeek connect-with-smtp, frames 4-26: an HTTP CONNECT proxy on port 8240
 * answers before the SMTP server greets. */
static void test_http_connect_proxy(void)
{
    static const tx_step t[] = {
        TX_C("CONNECT mailin03.sul.t-online.de:25 / HTTP/1.0\r\n"
             "Mozilla 4.0 (compatible; MSIE 5.01; Windows NT 5.0)\r\n\r\n"),
        TX_S("HTTP/1.0 200 Connection established\r\n\r\n"),
        TX_S("220 mailin03.sul.t-online.de T-Online ESMTP receiver fssmtpd ready.\r\n"),
        TX_C("HELO 208.191.73.21\r\n"),
        TX_S("250 Ok.\r\n"),
        TX_C("MAIL FROM:<nhfjenna_neumann@lycos.com>\r\n"),
        TX_S("250 Ok.\r\n"),
        TX_C("RCPT TO:<thenightwatch@t-online.de>\r\n"),
        TX_S("250 Ok.\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 Ok, start with data.\r\n"),
        TX_C("Subject: x\r\n\r\nbody\r\n.\r\n"),
        TX_S("250 Message accepted.\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 mailin03.sul.t-online.de closing.\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 220 answers=GREETING");
    HAS(&l, "REPLY 250 answers=HELO#4");
    HAS(&l, "TXN MAIL outcome=accepted");
    HAS(&l, "END reason=fin outcome=delivered");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_greeting_preamble], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_early_talker], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_not_smtp], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_malformed_reply], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unexpected_reply], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    /* The proxy talk is early talk, nothing else out of sequence. */
    g_assert_cmpuint(n_class(&l, ANC_SEQUENCE), ==, 1);
    event_log_clear(&l);
}

/* arkime socks5-smtp-503, frames 5-19: a SOCKS5 handshake whose reply holds
 * an LF (the bound address 10.0.0.1) and runs into the greeting's line;
 * the client's handshake runs into its EHLO line. */
static void test_socks5_proxy(void)
{
    static const tx_step t[] = {
        TX_C("\x05\x01\x00"),
        TX_C("\x05\x01\x00"),
        TX_S("\x05\x00"),
        TX_C("\x05\x01\x00\x03\x0e" "010.000.00.003\x00\x19"),
        TX_S("\x05\x00\x00\x01\x0a\x00\x00\x01\xd1\xcd"),
        TX_S("220 xxxxxxxx.xxxxxxxxxx.xx ESMTP Exim 4.80 Tue, 26 Nov 2013 14:03:57 +0000\r\n"),
        TX_C("EHLO User\r\n"),
        TX_S("250-xxxxxxxx.xxxxxxxxxx.xx Hello xxxxxxxx.xxxxxxxxxxxx.xxx [10.000.000.02]\r\n"
             "250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 HELP\r\n"),
        TX_C("AUTH LOGIN\r\n"),
        TX_S("503 AUTH command used when not advertised\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 220 answers=GREETING");
    HAS(&l, "CMD #1 EHLO first=7 verb=\"EHLO\" args=\"User\"");
    HAS(&l, "REPLY 250 answers=EHLO#1");
    HAS(&l, "CAPS server=\"xxxxxxxx.xxxxxxxxxx.xx\" size=52428800");
    HAS(&l, "REPLY 503 answers=AUTH#2");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_greeting_preamble], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_not_smtp], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_malformed_reply], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_non_ascii_command], ==, 0);
    event_log_clear(&l);
}

/* No greeting within the bound: the stream is not SMTP, said once. */
static void test_preamble_bound(void)
{
    GString *http = g_string_new("HTTP/1.1 200 OK\r\n");
    for (int i = 0; i < SMTP_MAX_PREAMBLE_LINES + 4; i++)
        g_string_append_printf(http, "X-Header-%d: 220 not a greeting\r\n", i);
    g_string_append(http, "220 too late\r\n");
    const tx_step t[] = {
        TX_C("GET / HTTP/1.1\r\n\r\n"),
        { 'S', http->str, http->len },
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_greeting_preamble], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_not_smtp], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_malformed_reply], ==, 0);
    g_assert_cmpuint(l.n_events[SMTP_EV_REPLY], ==, 0);
    event_log_clear(&l);
    g_string_free(http, TRUE);
}

/* ---- message text sent before the 354 -------------------------------------- */

/* suricata-verify smtp-pipelining, frames 5-13: the client sends the message
 * and its final dot in the segment of MAIL/RCPT/DATA, before the 354;
 * Postfix reads it as the message. */
static void test_body_before_354(void)
{
    static const tx_step t[] = {
        TX_S("220 Air-de-catena.localdomain ESMTP Postfix\r\n"),
        TX_C("EHLO ehlo.fr\r\n"),
        TX_S("250-Air-de-catena.localdomain\r\n250-PIPELINING\r\n250-SIZE 10485760\r\n250-VRFY\r\n"
             "250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n"),
        TX_C("MAIL FROM:<username@domain.com>\r\nRCPT TO:<john.doe@example.com>\r\nDATA\r\n"
             "This is a test\r\n.\r\n"),
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
             "250 2.0.0 Ok: queued as BCB022014FB060\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 250 answers=DATA_END#4 cmd_frame=4");
    HAS(&l, "method=DATA chunks=0 size=16 final=250");
    HAS(&l, "queue_id=\"BCB022014FB060\"");
    /* DATA not last in its group is true; nothing is left unanswered. */
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_pipeline_not_last], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    event_log_clear(&l);

    /* arkime smtp-moloch-bof: text before the 354 without its dot, the rest
     * after it; the size counts both (Sendmail's 8856 octets, here 20). */
    static const tx_step u[] = {
        TX_C("HELO ADCDTEST\r\nMAIL FROM:<ibmuser@zpdt.example.com>\r\n"
             "RCPT TO:<mattenuttall@example.com>\r\nDATA\r\nFrom: a\r\n"),
        TX_S("220 localhost.localdomain ESMTP Sendmail 8.14.4/8.14.4; Fri, 6 Nov 2015 13:35:29 -0500\r\n"
             "250 localhost.localdomain Hello localhost.localdomain [127.0.0.1], pleased to meet you\r\n"
             "250 2.1.0 <ibmuser@zpdt.example.com>... Sender ok\r\n"
             "250 2.1.5 <mattenuttall@example.com>... Recipient ok\r\n"
             "354 Enter mail, end with \".\" on a line by itself\r\n"),
        TX_C("\r\nAAAAAAAAAA\r\n.\r\nQUIT\r\n"),
        TX_S("250 2.0.0 tA6IZTQc010322 Message accepted for delivery\r\n"
             "221 2.0.0 localhost.localdomain closing connection\r\n"),
        TX_END,
    };
    RUN(u, NULL, &l);
    HAS(&l, "size=23 final=250");
    HAS(&l, "queue_id=\"tA6IZTQc010322\"");
    HAS(&l, "REPLY 221 answers=QUIT#");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_early_talker], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    event_log_clear(&l);
}

/* zeek smtp-multi-addr, frames 16-18: Exchange accepts the message, then
 * after an idle minute sends an unprompted 451 and closes. */
static void test_exchange_idle_451(void)
{
    static const tx_step t[] = {
        TX_S("220 cernmx.cern.ch Microsoft ESMTP MAIL Service ready\r\n"),
        TX_C("EHLO gras-os-desk.cern.ch\r\n"),
        TX_S("250-cernmx.cern.ch Hello [188.184.1.1]\r\n250-SIZE 52428800\r\n250-PIPELINING\r\n"
             "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n"),
        TX_C("MAIL From:<root@gras-os-desk.cern.ch> SIZE=695\r\n"),
        TX_S("250 2.1.0 Sender OK\r\n"),
        TX_C("RCPT To:<jan.grashofer@cern.ch>\r\nDATA\r\n"),
        TX_S("250 2.1.5 Recipient OK\r\n354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
        TX_C("Subject: x\r\n\r\nbody\r\n"),
        TX_C(".\r\n"),
        TX_S("250 2.6.0 <201512082130.tB8LU0vs014629@gras-os-desk.cern.ch> [InternalId=97779625] "
             "Queued mail for delivery\r\n"),
        TX_S("451 4.7.0 Timeout waiting for client input\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "queue_id=\"97779625\"");
    HAS(&l, "REPLY 451 answers=NONE");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unexpected_reply], ==, 0);
    event_log_clear(&l);
}

/* ---- gaps and servers that hang up ------------------------------------------ */

/* samples crafted-gap-in-pipeline, frames 9-18: the second RCPT of a
 * pipelined group is lost; its "550 5.1.1" must not be taken as the reply
 * to the DATA sent after the hole, whose 354 then starts the message. */
static void test_gap_lost_rcpt(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        TX_C("EHLO client.example.com\r\n"),
        TX_S("250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 20000\r\n250 CHUNKING\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\n"),
        TX_C("RCPT TO:<bob@example.org>\r\n"),
        TX_GAPC(34),
        TX_C("DATA\r\n"),
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nosuchuser@example.org>: Recipient address "
             "rejected: User unknown in virtual mailbox table\r\n354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_C("Subject: Minutes of the Tuesday meeting\r\n\r\n1. Item 1.\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as 4F2A81064C3\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 354 answers=DATA#4");
    HAS(&l, "TXN MAIL outcome=accepted");
    HAS(&l, "queue_id=\"4F2A81064C3\"");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unknown_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    event_log_clear(&l);
}

/* samples postfix-helo-pipelined, frames 11-14: DATA refused with 503, the
 * client sends its message anyway and Postfix answers the first line with
 * 221 and hangs up: the lines it never answered are not reported. */
static void test_server_221_hangs_up(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        TX_C("HELO client.example.com\r\n"),
        TX_S("250 mail.example.org\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\nRCPT TO:<alice@example.org>\r\n"),
        TX_S("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"),
        TX_C("DATA\r\n"),
        TX_S("503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining\r\n"),
        TX_C("From: Alice <alice@example.com>\r\nSubject: Unannounced pipelining\r\n\r\nHi.\r\n.\r\n"),
        TX_S("221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 221 answers=UNKNOWN#5");
    HAS(&l, "TXN MAIL outcome=aborted");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    /* MAIL+RCPT, then the message lines sent as if commands. */
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_pipelining_not_advertised], ==, 2);
    event_log_clear(&l);
}

/* ---- transactions -------------------------------------------------------------- */

/* samples postfix-out-of-sequence, frames 15-26 (Exim and OpenSMTPD say
 * the same in their words): a nested MAIL refused with 503 leaves the open
 * transaction going; it is delivered with its queue id. */
static void test_nested_mail_refused(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        TX_C("EHLO client.example.com\r\n"),
        TX_S("250-mail.example.org\r\n250-PIPELINING\r\n250 SIZE 20000\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\n"),
        TX_S("250 2.1.0 Ok\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\n"),
        TX_S("503 5.5.1 Error: nested MAIL command\r\n"),
        TX_C("RCPT TO:<alice@example.org>\r\n"),
        TX_S("250 2.1.5 Ok\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_C("Subject: Out of sequence\r\n\r\nHello.\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as BC2F81064BF\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "TXN MAIL outcome=mail_rejected");
    HAS(&l, "TXN MAIL outcome=accepted from=\"alice@example.com\" params=\"\" mail=250");
    HAS(&l, "queue_id=\"BC2F81064BF\"");
    HASNT(&l, "outcome=aborted");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_mail_in_transaction], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_rcpt_without_mail], ==, 0);
    event_log_clear(&l);
}

/* samples crafted-all-reply-codes, frames 154-168: 355 to MAIL with TRANSID
 * (RFC 1845) accepts the MAIL. */
static void test_mail_355(void)
{
    static const tx_step t[] = {
        TX_S("220 mx.example.org ESMTP\r\n"),
        TX_C("EHLO client.example.com\r\n"),
        TX_S("250-mx.example.org\r\n250 CHECKPOINT\r\n"),
        TX_C("MAIL FROM:<alice@example.com> TRANSID=<t1.20261128@client.example.com>\r\n"),
        TX_S("355 0 octet-offset is the transaction offset\r\n"),
        TX_C("RCPT TO:<alice@example.org>\r\n"),
        TX_S("250 2.1.5 Recipient OK\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
        TX_C("Subject: Restarted\r\n\r\nx\r\n.\r\n"),
        TX_S("250 2.0.0 Message accepted for delivery: queued as 7Hq2Zr\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "TXN MAIL outcome=accepted");
    HAS(&l, "mail=355");
    HAS(&l, "queue_id=\"7Hq2Zr\"");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_rcpt_without_mail], ==, 0);
    event_log_clear(&l);
}

/* samples crafted-client-side-only (and zeek smtp-one-side-only): only the
 * client's packets were captured.  No early talk, no pipelining verdicts,
 * the message after DATA is message data, and one anomaly says the
 * replies are missing. */
static void test_client_side_only(void)
{
    static const tx_step t[] = {
        TX_C("EHLO client.example.com\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\n"),
        TX_C("RCPT TO:<bob@example.org>\r\n"),
        TX_C("RCPT TO:<nosuchuser@example.org>\r\n"),
        TX_C("DATA\r\n"),
        TX_C("From: Alice <alice@example.com>\r\nSubject: Minutes of the Tuesday meeting\r\n\r\n"
             "1. Item 1.\r\n"),
        TX_C("2. Item 2.\r\n.\r\n"),
        TX_C("QUIT\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "TXN MAIL outcome=aborted");
    HAS(&l, "method=DATA chunks=0 size=100");
    HAS(&l, "subject=\"Minutes of the Tuesday meeting\"");
    g_assert_cmpuint(n_class(&l, ANC_SEQUENCE), ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unknown_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 1);
    event_log_clear(&l);
}

/* samples crafted-server-side-only: only the server's packets; the replies
 * are not flagged one by one. */
static void test_server_side_only(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        TX_S("250-mail.example.org\r\n250-PIPELINING\r\n250 SIZE 20000\r\n"),
        TX_S("250 2.1.0 Ok\r\n"),
        TX_S("250 2.1.5 Ok\r\n"),
        TX_S("354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_S("250 2.0.0 Ok: queued as 4F2A81064C3\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "REPLY 220 answers=GREETING");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 1);
    event_log_clear(&l);
}

/* samples crafted-mid-conversation: the capture starts after MAIL; the
 * transaction is still reported, with the queue id of its final reply. */
static void test_midstream_transaction(void)
{
    static const tx_step t[] = {
        TX_C("RCPT TO:<nosuchuser@example.org>\r\n"),
        TX_S("550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: User unknown in "
             "virtual mailbox table\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_C("Subject: Minutes\r\n\r\nx\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as 4F2A81064C3\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    smtp_options o = { .midstream = true };
    event_log l;
    RUN(t, &o, &l);
    HAS(&l, "TXN MAIL outcome=accepted from=\"\" params=\"\" mail=0");
    HAS(&l, "<nosuchuser@example.org>:550:5.1.1:rejected");
    HAS(&l, "queue_id=\"4F2A81064C3\"");
    HAS(&l, "outcome=delivered");
    g_assert_cmpuint(n_class(&l, ANC_SEQUENCE), ==, 0);
    event_log_clear(&l);
}

/* samples postfix-early-talker-rejected, frames 4-14: the MAIL and the RCPT
 * pipelined after it are both refused; the RCPT keeps its own 503. */
static void test_refused_mail_keeps_rcpt_reply(void)
{
    static const tx_step t[] = {
        TX_C("EHLO client.example.com\r\n"),
        TX_S("503 5.5.0 <localhost[127.0.0.1]>: Client host rejected: Improper use of SMTP command "
             "pipelining\r\n503 5.7.0 Error: access denied for localhost[127.0.0.1]\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\nRCPT TO:<alice@example.org>\r\n"),
        TX_S("503 5.7.0 Error: access denied for localhost[127.0.0.1]\r\n"
             "503 5.7.0 Error: access denied for localhost[127.0.0.1]\r\n"),
        TX_C("DATA\r\n"),
        TX_S("503 5.7.0 Error: access denied for localhost[127.0.0.1]\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "TXN MAIL outcome=mail_rejected");
    HAS(&l, "<alice@example.org>:503:5.7.0:rejected");
    HASNT(&l, "unanswered");
    g_assert_cmpuint(l.n_events[SMTP_EV_TRANSACTION], ==, 1);
    event_log_clear(&l);
}

/* samples postfix-bdat, frames 23-25: after BDAT LAST was answered, a BDAT
 * has no transaction (data_without_rcpt), not "BDAT after LAST". */
static void test_bdat_after_finished_transaction(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        TX_C("EHLO client.example.com\r\n"),
        TX_S("250-mail.example.org\r\n250-PIPELINING\r\n250 CHUNKING\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\n"),
        TX_S("250 2.1.0 Ok\r\n"),
        TX_C("RCPT TO:<bob@example.org>\r\n"),
        TX_S("250 2.1.5 Ok\r\n"),
        TX_C("BDAT 15 LAST\r\nSingle chunk.\r\n"),
        TX_S("250 2.0.0 Ok: 15 bytes queued as 49DC61062F2\r\n"),
        TX_C("BDAT 6 LAST\r\nlate\r\n"),
        TX_S("503 5.5.1 Error: need RCPT command\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    HAS(&l, "queue_id=\"49DC61062F2\"");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_data_without_rcpt], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_bdat_after_last], ==, 0);
    event_log_clear(&l);
}

/* ---- SMTP smuggling ------------------------------------------------------------ */

/* samples postfix-smtp-smuggling, frames 13-16: the message holds LF.CRLF
 * and Postfix (an old one) ended the message there: its replies to the
 * smuggled MAIL, RCPT and DATA follow the 250 for the message.  They are
 * matched to those commands instead of being replies to nothing. */
static void test_smuggling_replayed(void)
{
    static const tx_step t[] = {
        TX_S("220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
        TX_C("EHLO client.example.com\r\n"),
        TX_S("250-mail.example.org\r\n250-PIPELINING\r\n250 SIZE 20000\r\n"),
        TX_C("MAIL FROM:<alice@example.com>\r\n"),
        TX_S("250 2.1.0 Ok\r\n"),
        TX_C("RCPT TO:<alice@example.org>\r\n"),
        TX_S("250 2.1.5 Ok\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 End data with <CR><LF>.<CR><LF>\r\n"),
        TX_C("From: Alice <alice@example.com>\r\nTo: <alice@example.org>\r\nSubject: Harmless\r\n"
             "\r\nHello.\r\n\n.\r\nMAIL FROM:<ceo@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
             "DATA\r\nFrom: CEO <ceo@example.org>\r\nSubject: Smuggled\r\n\r\nPay the invoice.\r\n.\r\n"),
        TX_S("250 2.0.0 Ok: queued as CFE3F1064A5\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
             "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining\r\n"
             "221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"),
        TX_END,
    };
    event_log l;
    RUN(t, NULL, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_smtp_smuggling], ==, 1);
    HAS(&l, "queue_id=\"CFE3F1064A5\" subject=\"Harmless\"");
    HAS(&l, "CMD #5 MAIL first=10 verb=\"MAIL\" args=\"FROM:<ceo@example.org>\"");
    HAS(&l, "REPLY 250 answers=MAIL#5");
    HAS(&l, "REPLY 250 answers=RCPT#6");
    HAS(&l, "REPLY 503 answers=DATA#7");
    HAS(&l, "TXN MAIL outcome=aborted from=\"ceo@example.org\"");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_reply_without_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    event_log_clear(&l);

    /* A receiver that did not stop at LF.CRLF answers the message only. */
    static const tx_step u[] = {
        TX_S("220 mx.example.org ESMTP\r\n"),
        TX_C("EHLO c.example.com\r\n"),
        TX_S("250 mx.example.org\r\n"),
        TX_C("MAIL FROM:<a@example.com>\r\n"),
        TX_S("250 Ok\r\n"),
        TX_C("RCPT TO:<b@example.org>\r\n"),
        TX_S("250 Ok\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 go\r\n"),
        TX_C("Hello.\n.\r\nMAIL FROM:<x@example.org>\r\n.\r\n"),
        TX_S("250 Ok: queued as S1\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 Bye\r\n"),
        TX_END,
    };
    RUN(u, NULL, &l);
    HAS(&l, "queue_id=\"S1\"");
    HAS(&l, "REPLY 221 answers=QUIT#5");
    HASNT(&l, "x@example.org>\" line");
    event_log_clear(&l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/engine/real/bdat_bad_syntax_not_chunk", test_bdat_bad_syntax_not_chunk);
    g_test_add_func("/engine/real/bdat_bad_syntax_521", test_bdat_bad_syntax_521);
    g_test_add_func("/engine/real/bdat_bad_sizes", test_bdat_bad_sizes);
    g_test_add_func("/engine/real/bdat_503_consumes_chunk", test_bdat_503_consumes_chunk);
    g_test_add_func("/engine/real/http_connect_proxy", test_http_connect_proxy);
    g_test_add_func("/engine/real/socks5_proxy", test_socks5_proxy);
    g_test_add_func("/engine/real/preamble_bound", test_preamble_bound);
    g_test_add_func("/engine/real/body_before_354", test_body_before_354);
    g_test_add_func("/engine/real/exchange_idle_451", test_exchange_idle_451);
    g_test_add_func("/engine/real/gap_lost_rcpt", test_gap_lost_rcpt);
    g_test_add_func("/engine/real/server_221_hangs_up", test_server_221_hangs_up);
    g_test_add_func("/engine/real/nested_mail_refused", test_nested_mail_refused);
    g_test_add_func("/engine/real/mail_355", test_mail_355);
    g_test_add_func("/engine/real/client_side_only", test_client_side_only);
    g_test_add_func("/engine/real/server_side_only", test_server_side_only);
    g_test_add_func("/engine/real/midstream_transaction", test_midstream_transaction);
    g_test_add_func("/engine/real/refused_mail_keeps_rcpt_reply", test_refused_mail_keeps_rcpt_reply);
    g_test_add_func("/engine/real/bdat_after_finished_transaction", test_bdat_after_finished_transaction);
    g_test_add_func("/engine/real/smuggling_replayed", test_smuggling_replayed);
    return g_test_run();
}
