/* test_engine_auth.c -- AUTH (secrets masked unless asked for), STARTTLS
 * (accepted, refused, the plaintext-injection pattern) and TURN/ATRN role
 * swaps, on real SMTP bytes.
 */
#include <string.h>

#include "event_log.h"

#define GREET TX_S("220 smtp.example.org ESMTP Postfix\r\n")
#define EHLO_SUBMISSION                                                                         \
    GREET, TX_C("EHLO [10.0.0.7]\r\n"),                                                         \
        TX_S("250-smtp.example.org\r\n250-PIPELINING\r\n250-SIZE 52428800\r\n250-STARTTLS\r\n" \
             "250-AUTH PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER\r\n250-AUTH=PLAIN LOGIN\r\n"   \
             "250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n")

static void run(const tx_step *s, size_t n, bool reveal, event_log *l)
{
    smtp_options o = { .reveal_secrets = reveal };
    tx_run(s, n, &o, TX_WHOLE, 0, 0, 0, l);
    if (g_test_verbose())
        g_printerr("%s", l->text->str);
    tx_assert_split_invariant(s, n, &o, 5);
}

/* None of the secret's forms may appear anywhere in the events. */
static void assert_hidden(const event_log *l, const char *const *forms)
{
    for (; *forms; forms++)
        if (strstr(l->text->str, *forms))
            g_error("secret \"%s\" leaked into the event log:\n%s", *forms, l->text->str);
}

/* "\0ken@example.org\0s3cr3t-pass" */
#define PLAIN_B64 "AGtlbkBleGFtcGxlLm9yZwBzM2NyM3QtcGFzcw=="

static void test_plain(void)
{
    static const tx_step t[] = {
        EHLO_SUBMISSION,
        TX_C("AUTH PLAIN " PLAIN_B64 "\r\n"),
        TX_S("235 2.7.0 Authentication successful\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
    };
    static const char *const secret[] = { "s3cr3t-pass", PLAIN_B64, "AGtlbkBleGFtcGxl", NULL };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    assert_hidden(&l, secret);
    g_assert_true(event_log_has(&l, "CMD #2 AUTH first=4 masked verb=\"AUTH\" args=\"PLAIN ****\" line=\"AUTH PLAIN ****\""));
    g_assert_true(event_log_has(&l, "AUTH mech=\"PLAIN\" user=\"ken@example.org\" secret=\"\" outcome=success code=235 enh=2.7.0"));
    g_assert_true(event_log_has(&l, "auth_ok=1 auth_user=\"ken@example.org\""));
    event_log_clear(&l);

    run(t, G_N_ELEMENTS(t), true, &l);
    g_assert_true(event_log_has(&l, "args=\"PLAIN " PLAIN_B64 "\""));
    g_assert_true(event_log_has(&l, "user=\"ken@example.org\" secret=\"s3cr3t-pass\""));
    event_log_clear(&l);
}

static void test_login(void)
{
    static const tx_step t[] = {
        EHLO_SUBMISSION,
        TX_C("AUTH LOGIN\r\n"),
        TX_S("334 VXNlcm5hbWU6\r\n"),
        TX_C("a2VuQGV4YW1wbGUub3Jn\r\n"),
        TX_S("334 UGFzc3dvcmQ6\r\n"),
        TX_C("czNjcjN0LXBhc3M=\r\n"), /* s3cr3t-pass */
        TX_S("535 5.7.8 Error: authentication failed: authentication failure\r\n"),
        TX_C("AUTH LOGIN a2VuQGV4YW1wbGUub3Jn\r\n"), /* user name as initial response */
        TX_S("334 UGFzc3dvcmQ6\r\n"),
        TX_C("czNjcjN0LXBhc3M=\r\n"),
        TX_S("235 2.7.0 Authentication successful\r\n"),
    };
    static const char *const secret[] = { "s3cr3t-pass", "czNjcjN0LXBhc3M", "a2VuQGV4YW1wbGUub3Jn", NULL };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    assert_hidden(&l, secret);
    g_assert_true(event_log_has(&l, "CMD #3 AUTH_RESPONSE first=6 masked verb=\"\" args=\"****\" line=\"****\""));
    g_assert_true(event_log_has(&l, "REPLY 334 answers=AUTH_RESPONSE#3"));
    g_assert_true(event_log_has(&l, "AUTH mech=\"LOGIN\" user=\"ken@example.org\" secret=\"\" outcome=failure code=535"));
    g_assert_true(event_log_has(&l, "line=\"AUTH LOGIN ****\""));
    g_assert_true(event_log_has(&l, "AUTH mech=\"LOGIN\" user=\"ken@example.org\" secret=\"\" outcome=success"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_auth_failed], ==, 1);
    /* The second AUTH comes after a failure, not a success: not repeated. */
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_auth_repeated], ==, 0);
    event_log_clear(&l);

    run(t, G_N_ELEMENTS(t), true, &l);
    g_assert_true(event_log_has(&l, "line=\"czNjcjN0LXBhc3M=\""));
    g_assert_true(event_log_has(&l, "secret=\"s3cr3t-pass\" outcome=success"));
    event_log_clear(&l);
}

/* "user=ken@example.org\1auth=Bearer ya29.tok3n\1\1" */
#define XOAUTH2_B64 "dXNlcj1rZW5AZXhhbXBsZS5vcmcBYXV0aD1CZWFyZXIgeWEyOS50b2szbgEB"

static void test_xoauth2_and_others(void)
{
    static const tx_step t[] = {
        EHLO_SUBMISSION,
        TX_C("AUTH XOAUTH2 " XOAUTH2_B64 "\r\n"),
        TX_S("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"),
        TX_C("\r\n"),
        TX_S("535 5.7.8 Username and Password not accepted\r\n"),
        /* CRAM-MD5: "ken 4f0c8a2b93c7e51d6a4e2f9b8c1d0e7a" */
        TX_C("AUTH CRAM-MD5\r\n"),
        TX_S("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UuZXhhbXBsZS5uZXQ+\r\n"),
        TX_C("a2VuIDRmMGM4YTJiOTNjN2U1MWQ2YTRlMmY5YjhjMWQwZTdh\r\n"),
        TX_S("235 2.7.0 Authentication successful\r\n"),
        TX_C("AUTH PLAIN\r\n"),
        TX_S("503 5.5.1 Error: already authenticated\r\n"),
    };
    static const char *const secret[] = { "ya29.tok3n", XOAUTH2_B64, "4f0c8a2b93c7e51d", NULL };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    assert_hidden(&l, secret);
    g_assert_true(event_log_has(&l, "AUTH mech=\"XOAUTH2\" user=\"ken@example.org\" secret=\"\" outcome=failure code=535"));
    g_assert_true(event_log_has(&l, "AUTH mech=\"CRAM-MD5\" user=\"ken\" secret=\"\" outcome=success"));
    g_assert_true(event_log_has(&l, "AUTH mech=\"PLAIN\" user=\"\" secret=\"\" outcome=failure code=503"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_auth_repeated], ==, 1);
    event_log_clear(&l);

    run(t, G_N_ELEMENTS(t), true, &l);
    g_assert_true(event_log_has(&l, "user=\"ken@example.org\" secret=\"Bearer ya29.tok3n\""));
    g_assert_true(event_log_has(&l, "user=\"ken\" secret=\"4f0c8a2b93c7e51d6a4e2f9b8c1d0e7a\""));
    event_log_clear(&l);
}

/* A client that does not wait for 334 before its responses. */
static void test_pipelined_responses(void)
{
    static const tx_step t[] = {
        EHLO_SUBMISSION,
        TX_C("AUTH LOGIN\r\na2VuQGV4YW1wbGUub3Jn\r\nczNjcjN0LXBhc3M=\r\n"),
        TX_S("334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication successful\r\n"),
    };
    static const char *const secret[] = { "s3cr3t-pass", "czNjcjN0LXBhc3M", "a2VuQGV4YW1wbGUub3Jn", NULL };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    assert_hidden(&l, secret);
    g_assert_true(event_log_has(&l, "AUTH mech=\"LOGIN\" user=\"ken@example.org\" secret=\"\" outcome=success"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unknown_command], ==, 0);
    event_log_clear(&l);
}

static void test_cancel_and_unfinished(void)
{
    static const tx_step t[] = {
        EHLO_SUBMISSION,
        TX_C("AUTH LOGIN\r\n"),
        TX_S("334 VXNlcm5hbWU6\r\n"),
        TX_C("*\r\n"),
        TX_S("501 5.7.0 Authentication aborted\r\n"),
        TX_C("AUTH LOGIN\r\n"),
        TX_S("334 VXNlcm5hbWU6\r\n"),
        TX_C("a2VuQGV4YW1wbGUub3Jn\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    g_assert_true(event_log_has(&l, "CMD #3 AUTH_RESPONSE first=6 verb=\"\" args=\"*\""));
    g_assert_true(event_log_has(&l, "outcome=cancelled code=501"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_auth_cancelled], ==, 1);
    g_assert_true(event_log_has(&l, "AUTH mech=\"LOGIN\" user=\"ken@example.org\" secret=\"\" outcome=unfinished code=0"));
    event_log_clear(&l);
}

/* ---- STARTTLS ------------------------------------------------------------- */

static void test_starttls(void)
{
    static const tx_step ok[] = {
        EHLO_SUBMISSION,
        TX_C("MAIL FROM:<ken@example.org>\r\n"),
        TX_S("250 2.1.0 Ok\r\n"),
        TX_C("STARTTLS\r\n"),
        TX_S("220 2.0.0 Ready to start TLS\r\n"),
        TX_C("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 EHLO x\r\n"),
        TX_S("\x16\x03\x03\x00\x7a\x02\x00\x00\x76\x03\x03"),
    };
    event_log l;
    run(ok, G_N_ELEMENTS(ok), false, &l);
    g_assert_true(event_log_has(&l, "STARTTLS cmd_frame=6 injection=0"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_starttls_in_transaction], ==, 1);
    g_assert_true(event_log_has(&l, "TXN MAIL outcome=aborted"));
    g_assert_true(event_log_has(&l, "END reason=eof outcome=tls"));
    g_assert_true(event_log_has(&l, "tls=1"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_cut_off], ==, 0);
    g_assert_cmpuint(l.n_events[SMTP_EV_COMMAND], ==, 3); /* nothing parsed inside TLS */
    event_log_clear(&l);

    /* CVE-2011-0411: commands pipelined after STARTTLS in plaintext. */
    static const tx_step inj[] = {
        EHLO_SUBMISSION,
        TX_C("STARTTLS\r\nRSET\r\n"),
        TX_S("220 2.0.0 Ready to start TLS\r\n"),
    };
    run(inj, G_N_ELEMENTS(inj), false, &l);
    g_assert_true(event_log_has(&l, "STARTTLS cmd_frame=4 injection=1"));
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_starttls_injection], ==, 1);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_unanswered_command], ==, 0);
    event_log_clear(&l);

    /* A partial plaintext line counts too. */
    static const tx_step part[] = {
        EHLO_SUBMISSION,
        TX_C("STARTTLS\r\nMAIL FR"),
        TX_S("220 2.0.0 Ready to start TLS\r\n"),
    };
    run(part, G_N_ELEMENTS(part), false, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_starttls_injection], ==, 1);
    event_log_clear(&l);

    /* Refused: plaintext goes on. */
    static const tx_step no[] = {
        EHLO_SUBMISSION,
        TX_C("STARTTLS\r\n"),
        TX_S("454 4.7.0 TLS not available due to local problem\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 2.0.0 Bye\r\n"),
    };
    run(no, G_N_ELEMENTS(no), false, &l);
    g_assert_cmpuint(l.n_anomalies[SMTP_AN_starttls_refused], ==, 1);
    g_assert_true(event_log_has(&l, "REPLY 221 answers=QUIT#3"));
    g_assert_true(event_log_has(&l, "tls=0"));
    event_log_clear(&l);
}

/* ---- TURN / ATRN -------------------------------------------------------------- */

static void test_turn(void)
{
    static const tx_step t[] = {
        TX_S("220 relay.example.net ESMTP\r\n"),
        TX_C("HELO node.example.com\r\n"),
        TX_S("250 relay.example.net\r\n"),
        TX_C("TURN\r\n"),
        TX_S("250 OK\r\n"),
        /* Roles swapped: the side that connected now serves. */
        TX_C("220 node.example.com ESMTP ready\r\n"),
        TX_S("HELO relay.example.net\r\n"),
        TX_C("250 node.example.com\r\n"),
        TX_S("MAIL FROM:<queue@example.net>\r\n"),
        TX_C("250 OK\r\n"),
        TX_S("QUIT\r\n"),
        TX_C("221 node.example.com closing\r\n"),
        TX_END,
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    g_assert_true(event_log_has(&l, "@5 S> REPLY 250 answers=TURN#2"));
    g_assert_true(event_log_has(&l, "@6 C> REPLY 220 answers=GREETING#0"));
    g_assert_true(event_log_has(&l, "@7 S> CMD #3 HELO"));
    g_assert_true(event_log_has(&l, "@9 S> CMD #4 MAIL"));
    g_assert_true(event_log_has(&l, "@12 C> REPLY 221 answers=QUIT#5"));
    g_assert_cmpuint(l.n_events[SMTP_EV_ANOMALY], ==, 0);
    g_assert_true(event_log_has(&l, "@12 S> TXN MAIL outcome=aborted from=\"queue@example.net\""));
    g_assert_true(event_log_has(&l, "END reason=fin outcome=no_mail helo=\"relay.example.net\""));
    event_log_clear(&l);
}

static void test_atrn_etrn_labels(void)
{
    static const tx_step t[] = {
        TX_S("220 odmr.example.net ESMTP\r\n"),
        TX_C("EHLO customer.example.com\r\n"),
        TX_S("250-odmr.example.net\r\n250-AUTH CRAM-MD5\r\n250-ATRN\r\n250 ETRN\r\n"),
        TX_C("ETRN example.com\r\n"),
        TX_S("250 Queuing for node example.com started\r\n"),
        TX_C("ATRN example.com\r\n"),
        TX_S("453 You have no mail\r\n"),
        TX_C("QUIT\r\n"),
        TX_S("221 Bye\r\n"),
    };
    event_log l;
    run(t, G_N_ELEMENTS(t), false, &l);
    /* Labels come from the registry's context table, whatever they say. */
    g_assert_true(event_log_has(&l, "REPLY 250 answers=ETRN#2"));
    g_assert_true(event_log_has(&l, "REPLY 453 answers=ATRN#3"));
    char *want = g_strdup_printf("meaning=\"%s\"", reg_reply_meaning(453, SMTP_CMD_ATRN));
    g_assert_true(event_log_has(&l, want));
    g_free(want);
    want = g_strdup_printf("label=ETRN [Positive Completion / Mail system] meaning=\"%s\"",
                           reg_reply_meaning(250, SMTP_CMD_ETRN));
    g_assert_true(event_log_has(&l, want));
    g_free(want);
    event_log_clear(&l);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/engine/auth/plain", test_plain);
    g_test_add_func("/engine/auth/login", test_login);
    g_test_add_func("/engine/auth/xoauth2_cram", test_xoauth2_and_others);
    g_test_add_func("/engine/auth/cancel_unfinished", test_cancel_and_unfinished);
    g_test_add_func("/engine/auth/pipelined_responses", test_pipelined_responses);
    g_test_add_func("/engine/starttls", test_starttls);
    g_test_add_func("/engine/turn", test_turn);
    g_test_add_func("/engine/atrn_etrn", test_atrn_etrn_labels);
    return g_test_run();
}
