/* test_engine.c -- the SMTP engine on full sessions: golden event logs,
 * split invariance, DATA and BDAT handling, queue ids.
 *
 * Golden logs live in tests/unit/transcripts/<session>.log.  After a
 * deliberate change, regenerate them with
 *   SMTPSCOPE_UPDATE_GOLDEN=1 ./test_engine
 * and review the diff.
 */
#include <string.h>

#include "event_log.h"
#include "smtp_internal.h"
#include "test_engine_sessions.h"

#ifndef ENGINE_TRANSCRIPTS
#error "ENGINE_TRANSCRIPTS must name tests/unit/transcripts (see tests/engine.cmake)"
#endif

static void run(const tx_step *s, size_t n, const smtp_options *o, event_log *l)
{
    tx_run(s, n, o, TX_WHOLE, 0, 0, 0, l);
    if (g_test_verbose())
        g_printerr("%s", l->text->str);
}

#define RUN(steps, opts, log) run(steps, G_N_ELEMENTS(steps), opts, log)
#define HAS(log, s) g_assert_true(event_log_has(log, s))
#define HASNT(log, s) g_assert_false(event_log_has(log, s))

static unsigned n_sequence(const event_log *l)
{
    unsigned n = 0;
    for (int k = 0; k < SMTP_AN_COUNT; k++)
        if (reg_anomaly_class((smtp_anomaly)k) == ANC_SEQUENCE)
            n += l->n_anomalies[k];
    return n;
}

/* ---- golden logs -------------------------------------------------------- */

static void test_golden(gconstpointer data)
{
    const tx_session *s = data;
    event_log l;
    run(s->steps, s->n, NULL, &l);
    char *path = g_strdup_printf("%s/%s.log", ENGINE_TRANSCRIPTS, s->name);
    if (g_getenv("SMTPSCOPE_UPDATE_GOLDEN")) {
        g_assert_true(g_file_set_contents(path, l.text->str, (gssize)l.text->len, NULL));
    } else {
        char *want = NULL;
        GError *err = NULL;
        if (!g_file_get_contents(path, &want, NULL, &err))
            g_error("golden log %s: %s", path, err->message);
        if (strcmp(want, l.text->str) != 0)
            g_printerr("--- want %s\n%s--- got\n%s", path, want, l.text->str);
        g_assert_cmpstr(want, ==, l.text->str);
        g_free(want);
    }
    g_free(path);
    event_log_clear(&l);
}

static void test_split(gconstpointer data)
{
    const tx_session *s = data;
    tx_assert_split_invariant(s->steps, s->n, NULL, 40);
}

/* Things the golden logs show, asserted by name so a regenerated golden
 * cannot silently lose them. */
static void test_sessions_facts(void)
{
    event_log l;
    RUN(sess_postfix, NULL, &l);
    HAS(&l, "REPLY 354 answers=DATA#5");
    HAS(&l, "REPLY 550 answers=RCPT#4");
    HAS(&l, "CMD #6 QUIT first=6 pipelined"); /* in the segment of the final dot */
    HAS(&l, "REPLY 250 answers=DATA_END#5 cmd_frame=6");
    HAS(&l, "queue_id=\"4Xk9Tq1BZlz3wT1\" subject=\"Quarterly report\" message_id=\"<20261122.1@example.com>\"");
    HAS(&l, "size=154"); /* 155 wire bytes, one stuffing dot */
    HAS(&l, "<nobody@example.org>:550:5.1.1:rejected");
    HAS(&l, "END reason=fin outcome=delivered");
    g_assert_cmpuint(n_sequence(&l), ==, 0);
    g_assert_cmpuint(l.n_events[SMTP_EV_ANOMALY], ==, 0);
    event_log_clear(&l);

    RUN(sess_exim, NULL, &l);
    HAS(&l, "method=BDAT chunks=1 size=80");
    HAS(&l, "queue_id=\"1wXyZa-00012A-Bc\"");
    HAS(&l, "CMD #5 QUIT"); /* "BDAT 5" and "QUIT" inside the chunk are not commands */
    HASNT(&l, "CMD #6");
    event_log_clear(&l);

    RUN(sess_exchange, NULL, &l);
    HAS(&l, "chunks=2 size=54");
    HAS(&l, "queue_id=\"1234567890123\"");
    event_log_clear(&l);

    RUN(sess_gmail, NULL, &l);
    HAS(&l, "<busy@gmail.com>:452:4.2.2:deferred");
    HAS(&l, "REPLY 452 answers=RCPT#4 cmd_frame=4 first=5 lines=3/3");
    event_log_clear(&l);

    RUN(sess_starttls, NULL, &l);
    HAS(&l, "STARTTLS cmd_frame=4 injection=0");
    HAS(&l, "END reason=fin outcome=tls");
    HASNT(&l, "QUIT");
    g_assert_cmpuint(l.n_events[SMTP_EV_ANOMALY], ==, 0);
    event_log_clear(&l);
}

/* ---- DATA ----------------------------------------------------------------- */

static const tx_step greet_ehlo[] = {
    TX_S("220 mx.example.org ESMTP Postfix\r\n"),
    TX_C("EHLO c.example.com\r\n"),
    TX_S("250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-CHUNKING\r\n250-DSN\r\n"
         "250 8BITMIME\r\n"),
};

/* Prefix every transcript of this file with the greeting and EHLO. */
static void run_after_ehlo(const tx_step *s, size_t n, const smtp_options *o, event_log *l)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(tx_step));
    g_array_append_vals(a, greet_ehlo, G_N_ELEMENTS(greet_ehlo));
    g_array_append_vals(a, s, (guint)n);
    tx_assert_split_invariant((const tx_step *)(void *)a->data, a->len, o, 5);
    run((const tx_step *)(void *)a->data, a->len, o, l);
    g_array_free(a, TRUE);
}
#define RUN_EHLO(steps, opts, log) run_after_ehlo(steps, G_N_ELEMENTS(steps), opts, log)

static void test_data_rejected_then_pipelined(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<gone@example.org>\r\nDATA\r\n"),
        TX_S("250 2.1.0 Ok\r\n550 5.1.1 <gone@example.org>: Recipient address rejected\r\n"
             "554 5.5.1 Error: no valid recipients\r\n"),
        TX_C("RSET\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 2.0.0 Ok\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go ahead\r\n"),
        TX_C("Subject: again\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
        TX_S("250 2.0.0 Ok: queued as 4AbC\r\n221 2.0.0 Bye\r\n"),
        TX_END,
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    /* The refused DATA did not switch to body mode: RSET..DATA are commands. */
    HAS(&l, "REPLY 554 answers=DATA#4");
    HAS(&l, "CMD #5 RSET");
    HAS(&l, "CMD #8 DATA");
    HAS(&l, "TXN MAIL outcome=aborted from=\"a@example.com\"");
    HAS(&l, "<gone@example.org>:550:5.1.1:rejected");
    HAS(&l, "TXN MAIL outcome=accepted");
    HAS(&l, "queue_id=\"4AbC\" subject=\"again\"");
    HAS(&l, "CMD #9 QUIT");
    g_assert_cmpuint(n_sequence(&l), ==, 0);
    event_log_clear(&l);
}

static void test_data_command_after_dot(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\n"),
        TX_S("250 Ok\r\n"),
        TX_C("RCPT TO:<b@example.org>\r\n"),
        TX_S("250 Ok\r\n"),
        TX_C("DATA\r\n"),
        TX_S("354 go\r\n"),
        TX_C("x\r\n.\r\nMAIL FROM:<c@example.com>\r\nRCPT TO:<d@example.org>\r\nDATA\r\n"),
        TX_S("250 Ok: queued as 1A\r\n250 Ok\r\n250 Ok\r\n354 go\r\n"),
        TX_C("y\r\n.\r\nQUIT\r\n"),
        TX_S("250 Ok: queued as 2B\r\n221 Bye\r\n"),
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    HAS(&l, "queue_id=\"1A\"");
    HAS(&l, "queue_id=\"2B\"");
    HAS(&l, "CMD #7 DATA first=10 pipelined");
    g_assert_cmpuint(l.n_events[SMTP_EV_TRANSACTION], ==, 2);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_cut_off], ==, 0);
    g_assert_cmpstr(l.body->str, ==, "x\r\ny\r\n");
    event_log_clear(&l);
}

static void test_data_stuffing_and_empty(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n354 go\r\n"),
        TX_C(".\r\n"), /* an empty message */
        TX_S("250 Ok: queued as E1\r\n"),
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n354 go\r\n"),
        TX_C("...\r\n..x\r\n.\r\n"),
        TX_S("250 Ok: queued as E2\r\n"),
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    HAS(&l, "size=0 final=250 final_enh=- final_text=\"Ok: queued as E1\"");
    HAS(&l, "size=8 final=250 final_enh=- final_text=\"Ok: queued as E2\""); /* "..\r\n.x\r\n" */
    g_assert_cmpstr(l.body->str, ==, "...\r\n..x\r\n");
    event_log_clear(&l);
}

/* Every bare-LF / bare-CR form around the dot: flagged, the message goes
 * on, and only the real CRLF.CRLF ends it. */
static void test_data_smuggling(void)
{
    static const char *const forms[] = {
        "a\n.\nMAIL FROM:<evil@x>\r\n",     /* LF.LF */
        "a\r\n.\nMAIL FROM:<evil@x>\r\n",   /* CRLF.LF */
        "a\n.\r\nMAIL FROM:<evil@x>\r\n",   /* LF.CRLF */
        "a\r.\rMAIL FROM:<evil@x>\r\n",     /* CR.CR */
        "a\r\n.\rMAIL FROM:<evil@x>\r\n",   /* CRLF.CR */
        "a\r.\r\nMAIL FROM:<evil@x>\r\n",   /* CR.CRLF */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(forms); i++) {
        tx_step t[] = {
            TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"),
            TX_S("250 Ok\r\n250 Ok\r\n354 go\r\n"),
            { 'C', forms[i], strlen(forms[i]) },
            TX_C("tail\r\n.\r\n"),
            TX_S("250 Ok: queued as S1\r\n"),
        };
        event_log l;
        RUN_EHLO(t, NULL, &l);
        g_assert_cmpuint(l.n_anomalies[SMTP_AN_smtp_smuggling], ==, 1);
        /* The smuggled MAIL stayed inside the one message. */
        g_assert_cmpuint(l.n_events[SMTP_EV_TRANSACTION], ==, 1);
        HASNT(&l, "evil@x>\" ");
        HAS(&l, "queue_id=\"S1\"");
        g_assert_nonnull(strstr(l.body->str, "MAIL FROM:<evil@x>"));
        event_log_clear(&l);
    }
}

/* A client that sends its message without waiting for 354: the early lines
 * read as (bad) commands, but the 354 and the final reply still pair right. */
static void test_data_body_before_354(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n"
             "Subject: eager\r\n\r\nhello\r\n.\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n354 go ahead\r\n250 Ok: queued as E9\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 Bye\r\n"),
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    HAS(&l, "REPLY 354 answers=DATA#4");
    HAS(&l, "REPLY 250 answers=DATA_END#4");
    HAS(&l, "queue_id=\"E9\"");
    HAS(&l, "REPLY 221 answers=QUIT#9");
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unexpected_reply], ==, 0);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_pipeline_not_last], ==, 1);
    event_log_clear(&l);
}

/* ---- BDAT ------------------------------------------------------------------ */

static void test_bdat_zero_last(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nBDAT 5\r\nabc\r\n"),
        TX_C("BDAT 0 LAST\r\nQUIT\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n250 2.0.0 5 octets received\r\n250 2.0.0 Ok: queued as Z0\r\n221 Bye\r\n"),
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    HAS(&l, "method=BDAT chunks=2 size=5 final=250");
    HAS(&l, "queue_id=\"Z0\"");
    HAS(&l, "REPLY 221 answers=QUIT#6");
    g_assert_cmpuint(n_sequence(&l), ==, 0);
    g_assert_cmpuint(l.n_events[SMTP_EV_ANOMALY], ==, 0);
    event_log_clear(&l);
}

static void test_bdat_rejected(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n"),
        TX_C("BDAT 10\r\n0123456789BDAT 5 LAST\r\nRSET\r"),
        TX_S("552 5.3.4 Message too big\r\n"),
        TX_S("503 5.5.1 Error: no transaction\r\n"),
        TX_C("RSET\r\n"),
        TX_S("250 Ok\r\n"),
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    /* The rejected chunk ends the transaction; the chunk pipelined after it
     * ("RSET\r") is still chunk data whatever the reply. */
    HAS(&l, "TXN MAIL outcome=rejected");
    HAS(&l, "method=BDAT chunks=2 size=15 final=552");
    HAS(&l, "REPLY 503 answers=BDAT#5");
    HAS(&l, "! transaction_rejected");
    HAS(&l, "CMD #6 RSET");
    HAS(&l, "REPLY 250 answers=RSET#6");
    HASNT(&l, "UNKNOWN");
    event_log_clear(&l);
}

static void test_bdat_huge(void)
{
    static const tx_step t[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n"),
        TX_C("BDAT 18446744073709551615 LAST\r\nQUIT\r\n"),
        TX_C("more chunk bytes\r\n"),
    };
    event_log l;
    RUN_EHLO(t, NULL, &l);
    /* 2^64-1 parses but is no real chunk: flagged, and (no reply came)
     * everything after it is counted as chunk data in bounded memory. */
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_bad_bdat_size], ==, 1);
    HASNT(&l, "CMD #5 QUIT");
    HAS(&l, "! cut_off_in_data");
    HAS(&l, "size=24"); /* "QUIT\r\n" + "more chunk bytes\r\n" */
    event_log_clear(&l);

    static const tx_step bad[] = {
        TX_C("MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n"),
        TX_S("250 Ok\r\n250 Ok\r\n"),
        TX_C("BDAT 18446744073709551616 LAST\r\nQUIT\r\n"),
        TX_S("501 5.5.4 bad size\r\n221 Bye\r\n"),
    };
    RUN_EHLO(bad, NULL, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_bad_bdat_size], ==, 1);
    HAS(&l, "CMD #5 QUIT"); /* size taken as 0: the next line is a command */
    event_log_clear(&l);
}

/* ---- queue ids ------------------------------------------------------------- */

static void test_queue_ids(void)
{
    static const struct { const char *text, *id; } cases[] = {
        { "2.0.0 Ok: queued as 4Xk9Tq1BZlz3wT1", "4Xk9Tq1BZlz3wT1" },          /* Postfix */
        { "OK id=1wXyZa-00012A-Bc", "1wXyZa-00012A-Bc" },                     /* Exim */
        { "2.0.0 5AMD5C3x012345 Message accepted for delivery", "5AMD5C3x012345" }, /* Sendmail */
        { "2.0.0 a1b2c3d4 Message accepted for delivery", "a1b2c3d4" },       /* OpenSMTPD */
        { "2.0.0 Message accepted for delivery", "" },                        /* no id at all */
        { "2.6.0 <AB12@ex.example.com> [InternalId=98765, Hostname=EX1] Queued mail for delivery", "98765" },
        { "2.6.0 <AB12@ex.example.com> Queued mail for delivery", "AB12@ex.example.com" },
        { "2.0.0 OK  1763816400 a1si2345678qkb.123 - gsmtp", "a1si2345678qkb.123" }, /* Gmail */
        { "ok 1763816400 qp 4242", "4242" },                                  /* qmail */
        { "Message Queued (5E1F2A3B-4C5D-6E7F-8091-A2B3C4D5E6F7.1)", "5E1F2A3B-4C5D-6E7F-8091-A2B3C4D5E6F7.1" }, /* Haraka */
        { "2.0.0 Ok", "" },
        { "+OK message queued for delivery.", "" },                            /* suricata smtp-url-b64 */
        { "2.0.0 NjaEnA1IlAItPNjaKnMtuw mail accepted for delivery", "NjaEnA1IlAItPNjaKnMtuw" }, /* nDPI emotet */
        { "Message 0MIjEq-1VEnJO3RVo-002UBE accepted by mreu2.kundenserver.de", "0MIjEq-1VEnJO3RVo-002UBE" }, /* 1&1 */
        { "2.0.0 Ok: 3462 bytes queued as 077781CA025", "077781CA025" },       /* Postfix after BDAT */
        { "Message accepted by the relay", "" },
        { "ok:  Message 40123456 accepted", "40123456" },                     /* Cisco IronPort */
        { "Queued (0.047 seconds)", "" },                                     /* hMailServer */
        { "2.6.0 Accepted", "" },
        { "Ok, accepted", "" },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        smtp_span q = smtp_queue_id(cases[i].text, strlen(cases[i].text));
        char *got = g_strndup(q.ptr, q.len);
        g_assert_cmpstr(got, ==, cases[i].id);
        g_free(got);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(all_sessions); i++) {
        char *g = g_strdup_printf("/engine/golden/%s", all_sessions[i].name + 5);
        char *s = g_strdup_printf("/engine/split/%s", all_sessions[i].name + 5);
        g_test_add_data_func(g, &all_sessions[i], test_golden);
        g_test_add_data_func(s, &all_sessions[i], test_split);
        g_free(g);
        g_free(s);
    }
    g_test_add_func("/engine/sessions/facts", test_sessions_facts);
    g_test_add_func("/engine/data/rejected_then_pipelined", test_data_rejected_then_pipelined);
    g_test_add_func("/engine/data/command_after_dot", test_data_command_after_dot);
    g_test_add_func("/engine/data/stuffing_and_empty", test_data_stuffing_and_empty);
    g_test_add_func("/engine/data/smuggling", test_data_smuggling);
    g_test_add_func("/engine/data/body_before_354", test_data_body_before_354);
    g_test_add_func("/engine/bdat/zero_last", test_bdat_zero_last);
    g_test_add_func("/engine/bdat/rejected", test_bdat_rejected);
    g_test_add_func("/engine/bdat/huge", test_bdat_huge);
    g_test_add_func("/engine/queue_ids", test_queue_ids);
    return g_test_run();
}
