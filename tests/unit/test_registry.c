/* test_registry.c -- the reference tables and their look-ups (core/registry.c).
 *
 * Labels of every seed reply code, context meanings, labels of codes no
 * table knows, enhanced status codes (against the IANA registry in
 * ../shared when it is there), which replies each command may get, command
 * and keyword look-up, anomaly rows, and the consistency of the tables
 * themselves (order, uniqueness, cross-references).
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

/* Not <limits.h>: core/limits.h shadows it on this include path. */
#define INT_MIN_ INT32_MIN
#define INT_MAX_ INT32_MAX

/* ---- helpers ---------------------------------------------------------- */

/* Case-insensitive "haystack contains needle". */
static bool contains(const char *haystack, const char *needle)
{
    g_autofree char *h = g_ascii_strdown(haystack, -1);
    g_autofree char *n = g_ascii_strdown(needle, -1);
    return strstr(h, n) != NULL;
}

#define assert_contains(hay, needle)                                                \
    do {                                                                            \
        const char *hay_ = (hay);                                                   \
        g_assert_nonnull(hay_);                                                     \
        if (!contains(hay_, (needle)))                                              \
            g_error("\"%s\" does not contain \"%s\"", hay_, (needle));              \
    } while (0)

/* The repository's sibling ../shared, located from this source file. */
static char *shared_path(const char *rel)
{
    const char *env = g_getenv("SMTPSCOPE_SHARED");
    if (env != NULL)
        return g_build_filename(env, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(__FILE__);
    return g_build_filename(dir, "..", "..", "..", "shared", rel, NULL);
}

static const char *const expected_category[6] = {
    NULL, "Positive Preliminary", "Positive Completion", "Positive Intermediate",
    "Transient Negative Completion", "Permanent Negative Completion",
};
static const char *const expected_subject[6] = {
    "Syntax", "Information", "Connections", "Unspecified", "Unspecified", "Mail system",
};

/* ---- every seed code (and the extension codes) labelled -------------- */

typedef struct code_case {
    int         code;
    const char *meaning_word; /* a word the generic meaning must contain */
} code_case;

/* All codes of ../shared/seeds/ and those the extension RFCs add. */
static const code_case known_codes[] = {
    { 200, "nonstandard success" }, { 211, "system status" }, { 214, "help" },
    { 220, "service ready" },       { 221, "closing" },       { 235, "authentication succeeded" },
    { 250, "okay, completed" },     { 251, "will forward" },  { 252, "cannot vrfy" },
    { 253, "pending messages" },    { 334, "challenge" },     { 354, "start mail input" },
    { 355, "octet-offset" },        { 421, "not available" }, { 432, "password transition" },
    { 450, "mailbox unavailable" }, { 451, "local error" },   { 452, "insufficient system storage" },
    { 453, "no mail" },             { 454, "tls" },           { 455, "accommodate parameters" },
    { 458, "unable to queue" },     { 459, "not allowed" },   { 500, "command unrecognized" },
    { 501, "parameters or arguments" }, { 502, "not implemented" }, { 503, "bad sequence" },
    { 504, "parameter not implemented" }, { 521, "does not accept mail" }, { 523, "encryption needed" },
    { 524, "encryption required" }, { 525, "account disabled" }, { 530, "authentication" },
    { 534, "too weak" },            { 535, "credentials invalid" }, { 538, "encryption required" },
    { 550, "mailbox unavailable" }, { 551, "user not local" }, { 552, "exceeded storage" },
    { 553, "mailbox name not allowed" }, { 554, "transaction failed" },
    { 555, "parameters not recognized" }, { 556, "domain does not accept mail" },
};

static void test_known_codes(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(known_codes); i++) {
        int code = known_codes[i].code;
        g_test_message("code %d", code);
        g_assert_true(reg_reply_known(code));
        g_assert_cmpstr(reg_reply_category(code), ==, expected_category[code / 100]);
        g_assert_cmpstr(reg_reply_subject(code), ==, expected_subject[code / 10 % 10]);
        assert_contains(reg_reply_meaning(code, SMTP_CMD_NONE), known_codes[i].meaning_word);
    }
    /* RFC 5321 4.2.3 texts, word for word. */
    g_assert_cmpstr(reg_reply_meaning(250, SMTP_CMD_NONE), ==, "Requested mail action okay, completed");
    g_assert_cmpstr(reg_reply_meaning(354, SMTP_CMD_NONE), ==, "Start mail input; end with <CRLF>.<CRLF>");
    g_assert_cmpstr(reg_reply_meaning(550, SMTP_CMD_MAIL), ==, "Requested action not taken: mailbox unavailable");
}

/* Every three-digit code that starts a line of a seed file is known: the
 * seeds are the spec for the table. */
static void test_seed_files(void)
{
    g_autofree char *dir_path = shared_path("seeds");
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    if (dir == NULL) {
        g_test_skip("../shared/seeds not present");
        return;
    }
    g_autoptr(GRegex) re = g_regex_new("^[ \\t|]*([1-6][0-9][0-9])(?![0-9])", G_REGEX_MULTILINE, 0, NULL);
    unsigned files = 0, codes = 0;
    const char *name;
    while ((name = g_dir_read_name(dir)) != NULL) {
        if (!g_str_has_suffix(name, ".txt"))
            continue;
        g_autofree char *path = g_build_filename(dir_path, name, NULL);
        g_autofree char *text = NULL;
        g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
        g_autoptr(GMatchInfo) mi = NULL;
        g_regex_match(re, text, 0, &mi);
        for (; g_match_info_matches(mi); g_match_info_next(mi, NULL)) {
            g_autofree char *digits = g_match_info_fetch(mi, 1);
            int code = atoi(digits);
            if (!reg_reply_known(code))
                g_error("%s: code %d has no meaning in reply_codes.def", name, code);
            codes++;
        }
        files++;
    }
    g_assert_cmpuint(files, >=, 5);
    g_assert_cmpuint(codes, >=, 100);
}

/* ---- context meanings ------------------------------------------------ */

typedef struct context_case {
    smtp_cmd    cmd;
    int         code;
    const char *meaning_word;
} context_case;

static const context_case context_cases[] = {
    { SMTP_CMD_STARTTLS, 220, "Ready to start TLS" },
    { SMTP_CMD_STARTTLS, 454, "TLS not available" },
    { SMTP_CMD_GREETING, 220, "service ready" },
    { SMTP_CMD_GREETING, 554, "No SMTP service here" },
    { SMTP_CMD_GREETING, 421, "not available" },
    /* ATRN (RFC 2645); 458/459 keep their only (ETRN) meaning. */
    { SMTP_CMD_ATRN, 250, "reversing the connection" },
    { SMTP_CMD_ATRN, 450, "ATRN request refused" },
    { SMTP_CMD_ATRN, 451, "Unable to process ATRN request now" },
    { SMTP_CMD_ATRN, 453, "You have no mail" },
    { SMTP_CMD_ATRN, 458, "Unable to queue messages for node" },
    { SMTP_CMD_ATRN, 459, "not allowed" },
    /* ETRN (RFC 1985) */
    { SMTP_CMD_ETRN, 250, "queuing for node" },
    { SMTP_CMD_ETRN, 251, "no messages waiting" },
    { SMTP_CMD_ETRN, 252, "pending messages for node" },
    { SMTP_CMD_ETRN, 253, "pending messages for node" },
    { SMTP_CMD_ETRN, 458, "Unable to queue messages" },
    { SMTP_CMD_ETRN, 459, "not allowed" },
    /* AUTH (RFC 4954) */
    { SMTP_CMD_AUTH, 235, "Authentication succeeded" },
    { SMTP_CMD_AUTH, 334, "challenge" },
    { SMTP_CMD_AUTH_RESPONSE, 334, "challenge" },
    { SMTP_CMD_AUTH_RESPONSE, 235, "Authentication succeeded" },
    { SMTP_CMD_AUTH, 432, "password transition" },
    { SMTP_CMD_AUTH, 454, "Temporary authentication failure" },
    { SMTP_CMD_AUTH_RESPONSE, 454, "Temporary authentication failure" },
    { SMTP_CMD_AUTH, 504, "mechanism" },
    { SMTP_CMD_AUTH, 530, "STARTTLS" },
    { SMTP_CMD_AUTH, 534, "too weak" },
    { SMTP_CMD_AUTH_RESPONSE, 535, "credentials invalid" },
    { SMTP_CMD_AUTH_RESPONSE, 538, "Encryption required" },
    { SMTP_CMD_AUTH_RESPONSE, 501, "cancelled" },
    { SMTP_CMD_AUTH_RESPONSE, 500, "too long" },
    /* end of data and BDAT */
    { SMTP_CMD_DATA_END, 250, "accepted for delivery" },
    { SMTP_CMD_DATA_END, 451, "local error" },
    { SMTP_CMD_DATA_END, 452, "storage" },
    { SMTP_CMD_DATA_END, 552, "exceeded storage" },
    { SMTP_CMD_DATA_END, 554, "rejected" },
    { SMTP_CMD_BDAT, 250, "chunk accepted" },
    { SMTP_CMD_BDAT, 552, "chunk rejected" },
    /* others */
    { SMTP_CMD_QUIT, 221, "closing transmission channel" },
    { SMTP_CMD_VRFY, 251, "will forward" },
    { SMTP_CMD_VRFY, 252, "Cannot VRFY user" },
    { SMTP_CMD_RCPT, 452, "too many recipients" },
    { SMTP_CMD_MAIL, 552, "maximum message size" },
    { SMTP_CMD_DATA, 354, "Start mail input" },
};

static void test_context_meanings(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(context_cases); i++) {
        const context_case *c = &context_cases[i];
        g_test_message("%s %d", reg_command_reply_label(c->cmd), c->code);
        assert_contains(reg_reply_meaning(c->code, c->cmd), c->meaning_word);
    }
    g_assert_cmpstr(reg_reply_meaning(220, SMTP_CMD_STARTTLS), ==, "Ready to start TLS");
    /* The context is not leaked to other commands. */
    g_assert_cmpstr(reg_reply_meaning(220, SMTP_CMD_EHLO), ==, "Service ready");
    g_assert_cmpstr(reg_reply_meaning(554, SMTP_CMD_RCPT), ==, "Transaction failed");
    g_assert_false(contains(reg_reply_meaning(450, SMTP_CMD_RCPT), "ATRN"));
    g_assert_false(contains(reg_reply_meaning(454, SMTP_CMD_STARTTLS), "authentication"));
    /* An out-of-range command id falls back to the generic meaning. */
    g_assert_cmpstr(reg_reply_meaning(250, (smtp_cmd)SMTP_CMD_COUNT), ==, reg_reply_meaning(250, SMTP_CMD_NONE));
    g_assert_cmpstr(reg_reply_meaning(250, (smtp_cmd)-1), ==, reg_reply_meaning(250, SMTP_CMD_NONE));
}

/* ---- codes no table knows -------------------------------------------- */

static void test_unknown_codes(void)
{
    g_assert_false(reg_reply_known(400));
    g_assert_cmpstr(reg_reply_category(400), ==, "Transient Negative Completion");
    g_assert_cmpstr(reg_reply_subject(400), ==, "Syntax");
    g_assert_cmpstr(reg_reply_meaning(400, SMTP_CMD_MAIL), ==, "Transient negative completion: syntax (unspecified meaning)");

    g_assert_false(reg_reply_known(472));
    g_assert_cmpstr(reg_reply_category(472), ==, "Transient Negative Completion");
    g_assert_cmpstr(reg_reply_subject(472), ==, "Invalid");
    assert_contains(reg_reply_meaning(472, SMTP_CMD_RCPT), "Transient negative completion");

    g_assert_cmpstr(reg_reply_category(299), ==, "Positive Completion");
    g_assert_cmpstr(reg_reply_subject(299), ==, "Invalid");
    assert_contains(reg_reply_meaning(299, SMTP_CMD_NOOP), "Positive completion");

    g_assert_cmpstr(reg_reply_category(440), ==, "Transient Negative Completion");
    g_assert_cmpstr(reg_reply_subject(440), ==, "Unspecified");
    g_assert_cmpstr(reg_reply_meaning(440, SMTP_CMD_NONE), ==, "Transient negative completion (unspecified meaning)");
    g_assert_cmpstr(reg_reply_meaning(559, SMTP_CMD_NONE), ==, "Permanent negative completion: mail system (unspecified meaning)");
    g_assert_cmpstr(reg_reply_meaning(120, SMTP_CMD_NONE), ==, "Positive preliminary: connections (unspecified meaning)");
    g_assert_cmpstr(reg_reply_meaning(310, SMTP_CMD_NONE), ==, "Positive intermediate: information (unspecified meaning)");

    g_assert_cmpstr(reg_reply_category(601), ==, "Invalid");
    g_assert_cmpstr(reg_reply_subject(601), ==, "Syntax");
    g_assert_cmpstr(reg_reply_meaning(601, SMTP_CMD_MAIL), ==, "Invalid reply code");
    g_assert_false(reg_reply_known(601));

    static const int odd[] = { 0, 1, 42, 99, 600, 999, 1000, 25000, -1, -250, INT_MIN_, INT_MAX_ };
    for (size_t i = 0; i < G_N_ELEMENTS(odd); i++) {
        g_assert_cmpstr(reg_reply_category(odd[i]), ==, "Invalid");
        g_assert_nonnull(reg_reply_subject(odd[i]));
        g_assert_cmpstr(reg_reply_meaning(odd[i], SMTP_CMD_MAIL), ==, "Invalid reply code");
        g_assert_false(reg_reply_known(odd[i]));
        g_assert_false(reg_reply_valid_for(SMTP_CMD_UNKNOWN, odd[i]));
    }
    /* Every code, every command: a label, never NULL. */
    for (int code = -5; code < 1100; code++)
        for (int cmd = 0; cmd < SMTP_CMD_COUNT; cmd++) {
            g_assert_nonnull(reg_reply_meaning(code, (smtp_cmd)cmd));
            g_assert_nonnull(reg_reply_category(code));
            g_assert_nonnull(reg_reply_subject(code));
        }
}

/* ---- enhanced status codes ------------------------------------------- */

static void test_enhanced_names(void)
{
    g_assert_cmpstr(reg_enhanced_class_name(2), ==, "Success");
    g_assert_cmpstr(reg_enhanced_class_name(4), ==, "Persistent Transient Failure");
    g_assert_cmpstr(reg_enhanced_class_name(5), ==, "Permanent Failure");
    g_assert_cmpstr(reg_enhanced_class_name(3), ==, "Unknown class");
    static const char *const subjects[] = {
        "Other or Undefined Status", "Addressing Status", "Mailbox Status", "Mail System Status",
        "Network and Routing Status", "Mail Delivery Protocol Status",
        "Message Content or Media Status", "Security or Policy Status",
    };
    for (unsigned s = 0; s < G_N_ELEMENTS(subjects); s++)
        g_assert_cmpstr(reg_enhanced_subject_name(s), ==, subjects[s]);
    g_assert_cmpstr(reg_enhanced_subject_name(8), ==, "Unknown subject");
    g_assert_cmpstr(reg_enhanced_subject_name(999), ==, "Unknown subject");

    g_assert_cmpstr(reg_enhanced_detail_meaning(1, 1), ==, "Bad destination mailbox address");
    g_assert_cmpstr(reg_enhanced_detail_meaning(7, 1), ==, "Delivery not authorized, message refused");
    g_assert_cmpstr(reg_enhanced_detail_meaning(0, 0), ==, "Other undefined Status");
    g_assert_null(reg_enhanced_detail_meaning(1, 99));
    g_assert_null(reg_enhanced_detail_meaning(7, 31));
    g_assert_null(reg_enhanced_detail_meaning(8, 0));
    g_assert_null(reg_enhanced_detail_meaning(999, 999));
    g_assert_null(reg_enhanced_detail_meaning(UINT32_MAX, UINT32_MAX));
}

/* Every row of the IANA registry copy is in the table, word for word. */
static void test_enhanced_registry(void)
{
    g_autofree char *path = shared_path("reference/enhanced-status-codes.tsv");
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_test_skip("../shared/reference/enhanced-status-codes.tsv not present");
        return;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    unsigned rows = 0;
    for (size_t i = 1; lines[i] != NULL; i++) { /* line 0 is the header */
        if (lines[i][0] == '\0')
            continue;
        g_auto(GStrv) f = g_strsplit(lines[i], "\t", -1);
        g_assert_cmpuint(g_strv_length(f), >=, 2);
        unsigned s, d;
        g_assert_cmpint(sscanf(f[0], "X.%u.%u", &s, &d), ==, 2);
        const char *m = reg_enhanced_detail_meaning(s, d);
        if (m == NULL)
            g_error("X.%u.%u missing from enhanced_codes.def", s, d);
        g_assert_cmpstr(m, ==, f[1]);
        rows++;
    }
    g_assert_cmpuint(rows, >=, 80);
    g_assert_cmpuint(reg_enhanced_count(), ==, rows);
}

typedef struct parse_case {
    const char *text;
    size_t      taken; /* 0: must be rejected */
    unsigned    cls, subject, detail;
} parse_case;

static const parse_case parse_cases[] = {
    { "2.0.0", 5, 2, 0, 0 },
    { "5.7.1", 5, 5, 7, 1 },
    { "4.4.2", 5, 4, 4, 2 },
    { "5.1.1 <bob@example.org>: Recipient address rejected", 5, 5, 1, 1 },
    { "2.0.0 Ok: queued as 4XyZ", 5, 2, 0, 0 },
    { "5.7.26 Unauthenticated email", 6, 5, 7, 26 },
    { "4.7.0\r\n", 5, 4, 7, 0 },
    { "5.7.1\tx", 5, 5, 7, 1 },
    { "5.123.999 x", 9, 5, 123, 999 },
    { "2.00.000", 8, 2, 0, 0 },
    { "5.1", 0, 0, 0, 0 },
    { "5.1 ", 0, 0, 0, 0 },
    { "6.1.1", 0, 0, 0, 0 },
    { "3.1.1", 0, 0, 0, 0 },
    { "0.0.0", 0, 0, 0, 0 },
    { "5.1.1.", 0, 0, 0, 0 },
    { "5.1.1.1", 0, 0, 0, 0 },
    { "5.1234.1", 0, 0, 0, 0 },
    { "5.1.1234", 0, 0, 0, 0 },
    { "a.b.c", 0, 0, 0, 0 },
    { "5.a.1", 0, 0, 0, 0 },
    { "5..1", 0, 0, 0, 0 },
    { "5.1.", 0, 0, 0, 0 },
    { "5.1.x", 0, 0, 0, 0 },
    { "5.1.1x", 0, 0, 0, 0 },
    { "5.1.1:", 0, 0, 0, 0 },
    { "55.1.1", 0, 0, 0, 0 },
    { ".5.1.1", 0, 0, 0, 0 },
    { " 5.1.1", 0, 0, 0, 0 },
    { "-5.1.1", 0, 0, 0, 0 },
    { "", 0, 0, 0, 0 },
    { "Ok", 0, 0, 0, 0 },
};

static void test_enhanced_parse(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(parse_cases); i++) {
        const parse_case *c = &parse_cases[i];
        smtp_enhanced e = { .present = 9, .cls = 9, .subject = 9, .detail = 9 };
        g_test_message("\"%s\"", c->text);
        g_assert_cmpuint(reg_enhanced_parse(c->text, strlen(c->text), &e), ==, c->taken);
        g_assert_cmpuint(e.present, ==, c->taken ? 1 : 0);
        g_assert_cmpuint(e.cls, ==, c->cls);
        g_assert_cmpuint(e.subject, ==, c->subject);
        g_assert_cmpuint(e.detail, ==, c->detail);
    }

    /* The length bounds the parse: a code cut short by `len` is none, and
     * nothing past `len` is read (the bytes after it would make it valid). */
    smtp_enhanced e;
    g_assert_cmpuint(reg_enhanced_parse("5.1.1", 4, &e), ==, 0);
    g_assert_cmpuint(reg_enhanced_parse("5.1.12", 5, &e), ==, 5);
    g_assert_cmpuint(e.detail, ==, 1);
    g_assert_cmpuint(reg_enhanced_parse("5.1.1 x", 0, &e), ==, 0);
    g_assert_cmpuint(reg_enhanced_parse(NULL, 5, &e), ==, 0);
    g_assert_cmpuint(reg_enhanced_parse("4.2.2 full", 10, NULL), ==, 5);
    g_assert_cmpuint(e.present, ==, 0);
    /* Embedded NUL and high bytes are just bytes. */
    g_assert_cmpuint(reg_enhanced_parse("5.1\0.1", 6, &e), ==, 0);
    g_assert_cmpuint(reg_enhanced_parse("5.1.1\0", 6, &e), ==, 0);
    g_assert_cmpuint(reg_enhanced_parse("5.1.\xb9", 5, &e), ==, 0);

    /* Random bytes over a small alphabet, each parse in its own heap
     * buffer so that an over-read shows under ASan; whatever is accepted
     * formats back to the bytes it took. */
    static const char alphabet[] = "0123456789245.. \r\x80";
    GRand *rng = g_rand_new_with_seed(3463);
    unsigned accepted = 0;
    for (int round = 0; round < 200000; round++) {
        size_t len = (size_t)g_rand_int_range(rng, 0, 12);
        char *buf = g_malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            buf[k] = alphabet[g_rand_int_range(rng, 0, sizeof alphabet - 1)];
        size_t n = reg_enhanced_parse(buf, len, &e);
        if (n > 0) {
            char out[16];
            g_assert_cmpuint(e.present, ==, 1);
            g_assert_true(e.cls == 2 || e.cls == 4 || e.cls == 5);
            g_assert_cmpuint(n, <=, len);
            g_assert_true(n == len || buf[n] == ' ' || buf[n] == '\r');
            reg_enhanced_format(&e, out, sizeof out);
            /* Leading zeros are the only thing formatting may drop. */
            if (strchr(out, '.') && memchr(buf, '0', n) == NULL)
                g_assert_cmpmem(out, strlen(out), buf, n);
            accepted++;
        } else {
            g_assert_cmpuint(e.present, ==, 0);
        }
        g_free(buf);
    }
    g_rand_free(rng);
    g_assert_cmpuint(accepted, >, 0);
}

static void test_enhanced_format(void)
{
    char buf[16];
    smtp_enhanced e = { .present = 1, .cls = 5, .subject = 7, .detail = 26 };
    g_assert_cmpstr(reg_enhanced_format(&e, buf, sizeof buf), ==, "5.7.26");
    e = (smtp_enhanced){ .present = 1, .cls = 4, .subject = 999, .detail = 999 };
    g_assert_cmpstr(reg_enhanced_format(&e, buf, 12), ==, "4.999.999");
    e.present = 0;
    g_assert_cmpstr(reg_enhanced_format(&e, buf, sizeof buf), ==, "");
    g_assert_cmpstr(reg_enhanced_format(NULL, buf, sizeof buf), ==, "");
    /* Too small a buffer truncates, never overflows. */
    e = (smtp_enhanced){ .present = 1, .cls = 5, .subject = 1, .detail = 1 };
    g_assert_cmpstr(reg_enhanced_format(&e, buf, 4), ==, "5.1");
    buf[0] = 'x';
    g_assert_true(reg_enhanced_format(&e, buf, 0) == buf);
    g_assert_cmpint(buf[0], ==, 'x');
}

/* ---- which replies a command may get --------------------------------- */

/* The command-to-replies table of the seeds (004_*.txt), with its lost
 * "MAIL" heading restored; "connect" is the greeting, "received data" the
 * end of data. */
typedef struct seed_pair {
    smtp_cmd cmd;
    int      codes[16];
} seed_pair;

static const seed_pair seed_table[] = {
    { SMTP_CMD_GREETING, { 220, 421 } },
    { SMTP_CMD_HELO,     { 250, 500, 501, 504, 521, 421 } },
    { SMTP_CMD_EHLO,     { 250, 550, 500, 501, 504, 421 } },
    { SMTP_CMD_MAIL,     { 250, 552, 451, 452, 500, 501, 421 } },
    { SMTP_CMD_RCPT,     { 250, 251, 550, 551, 552, 553, 450, 451, 452, 500, 501, 503, 521, 421 } },
    { SMTP_CMD_DATA,     { 354, 451, 554, 500, 501, 503, 421 } },
    { SMTP_CMD_DATA_END, { 250, 552, 554, 451, 452 } },
    { SMTP_CMD_RSET,     { 200, 250, 500, 501, 504, 421 } },
    { SMTP_CMD_SEND,     { 250, 552, 451, 452, 500, 501, 502, 421 } },
    { SMTP_CMD_SOML,     { 250, 552, 451, 452, 500, 501, 502, 421 } },
    { SMTP_CMD_SAML,     { 250, 552, 451, 452, 500, 501, 502, 421 } },
    { SMTP_CMD_VRFY,     { 250, 251, 550, 551, 553, 500, 501, 502, 504, 421 } },
    { SMTP_CMD_EXPN,     { 250, 550, 500, 501, 502, 504, 421 } },
    { SMTP_CMD_HELP,     { 211, 214, 500, 501, 502, 504, 421 } },
    { SMTP_CMD_NOOP,     { 200, 250, 500, 421 } },
    { SMTP_CMD_QUIT,     { 221, 500 } },
    { SMTP_CMD_TURN,     { 250, 502, 500, 503 } },
    /* RFC 3207, 4954, 3030, 2645, 1985, 5321 4.3.2 */
    { SMTP_CMD_STARTTLS, { 220, 454, 501 } },
    { SMTP_CMD_AUTH,     { 235, 334, 432, 454, 500, 501, 504, 534, 535, 538, 530 } },
    { SMTP_CMD_AUTH_RESPONSE, { 334, 235, 535, 534, 538, 454, 432, 501, 500, 421 } },
    { SMTP_CMD_BDAT,     { 250, 552, 554, 451, 452, 503 } },
    { SMTP_CMD_ATRN,     { 250, 450, 451, 453, 502, 530 } },
    { SMTP_CMD_ETRN,     { 250, 251, 252, 253, 458, 459, 500, 501 } },
    { SMTP_CMD_MAIL,     { 553, 550, 503, 455, 555, 355 } },
    { SMTP_CMD_RCPT,     { 455, 555, 556 } },
    { SMTP_CMD_EXPN,     { 252 } },
    { SMTP_CMD_VRFY,     { 252 } },
    { SMTP_CMD_GREETING, { 554, 521 } },
    { SMTP_CMD_DATA_END, { 450, 550, 421 } },
};

static void test_valid_seed_table(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(seed_table); i++)
        for (size_t k = 0; k < G_N_ELEMENTS(seed_table[i].codes) && seed_table[i].codes[k]; k++) {
            smtp_cmd cmd = seed_table[i].cmd;
            int code = seed_table[i].codes[k];
            if (!reg_reply_valid_for(cmd, code))
                g_error("%d should be valid for %s", code, reg_command_reply_label(cmd));
        }
}

typedef struct valid_case {
    smtp_cmd cmd;
    int      code;
    bool     valid;
} valid_case;

static const valid_case valid_cases[] = {
    /* strict about positive codes */
    { SMTP_CMD_DATA, 354, true },       { SMTP_CMD_MAIL, 354, false },
    { SMTP_CMD_RCPT, 354, false },      { SMTP_CMD_DATA_END, 354, false },
    { SMTP_CMD_BDAT, 354, false },      { SMTP_CMD_EHLO, 354, false },
    { SMTP_CMD_UNKNOWN, 354, false },   { SMTP_CMD_XEXCH50, 354, true },
    { SMTP_CMD_QUIT, 221, true },       { SMTP_CMD_NOOP, 221, false },
    { SMTP_CMD_RSET, 221, false },      { SMTP_CMD_DATA_END, 221, false },
    { SMTP_CMD_GREETING, 221, false },  { SMTP_CMD_UNKNOWN, 221, false },
    { SMTP_CMD_AUTH, 235, true },       { SMTP_CMD_AUTH_RESPONSE, 235, true },
    { SMTP_CMD_AUTH, 334, true },       { SMTP_CMD_AUTH_RESPONSE, 334, true },
    { SMTP_CMD_MAIL, 235, false },      { SMTP_CMD_EHLO, 334, false },
    { SMTP_CMD_STARTTLS, 334, false },  { SMTP_CMD_UNKNOWN, 334, false },
    { SMTP_CMD_GREETING, 220, true },   { SMTP_CMD_STARTTLS, 220, true },
    { SMTP_CMD_EHLO, 220, false },      { SMTP_CMD_HELO, 220, false },
    { SMTP_CMD_MAIL, 220, false },      { SMTP_CMD_DATA_END, 220, false },
    { SMTP_CMD_QUIT, 220, false },      { SMTP_CMD_UNKNOWN, 220, false },
    { SMTP_CMD_HELP, 214, true },       { SMTP_CMD_HELP, 211, true },
    { SMTP_CMD_NOOP, 214, false },      { SMTP_CMD_EHLO, 211, false },
    { SMTP_CMD_MAIL, 355, true },       { SMTP_CMD_DATA, 355, false },
    { SMTP_CMD_GREETING, 250, false },  { SMTP_CMD_DATA, 250, false },
    { SMTP_CMD_QUIT, 250, false },      { SMTP_CMD_STARTTLS, 250, false },
    { SMTP_CMD_RCPT, 252, false },      { SMTP_CMD_MAIL, 251, false },
    { SMTP_CMD_ETRN, 253, true },       { SMTP_CMD_RCPT, 253, false },
    { SMTP_CMD_UNKNOWN, 250, true },    { SMTP_CMD_XCLIENT, 220, true },
    { SMTP_CMD_MAIL, 299, false },      { SMTP_CMD_UNKNOWN, 299, false },
    { SMTP_CMD_DATA, 399, false },      { SMTP_CMD_MAIL, 150, false },
    /* liberal about negative codes real MTAs send */
    { SMTP_CMD_RCPT, 554, true },       /* Postfix: relay access denied */
    { SMTP_CMD_MAIL, 553, true },       { SMTP_CMD_MAIL, 550, true },
    { SMTP_CMD_MAIL, 554, true },       { SMTP_CMD_HELO, 554, true },
    { SMTP_CMD_EHLO, 530, true },       { SMTP_CMD_MAIL, 530, true },
    { SMTP_CMD_NOOP, 502, true },       { SMTP_CMD_VRFY, 503, true },
    { SMTP_CMD_MAIL, 451, true },       { SMTP_CMD_MAIL, 452, true },
    { SMTP_CMD_RCPT, 451, true },       { SMTP_CMD_RCPT, 452, true },
    { SMTP_CMD_MAIL, 455, true },       { SMTP_CMD_MAIL, 555, true },
    { SMTP_CMD_RCPT, 455, true },       { SMTP_CMD_RCPT, 555, true },
    { SMTP_CMD_HELO, 450, true },       /* Postfix reject_unknown_helo_hostname */
    { SMTP_CMD_RCPT, 504, true },       /* Postfix: HELO rejected, reported at RCPT */
    { SMTP_CMD_RCPT, 454, true },       /* soft_bounce of 554 */
    { SMTP_CMD_MAIL, 453, true },       /* soft_bounce of 553 */
    { SMTP_CMD_DATA_END, 550, true },   { SMTP_CMD_DATA_END, 553, true },
    { SMTP_CMD_STARTTLS, 502, true },   { SMTP_CMD_AUTH, 503, true },
    { SMTP_CMD_DATA, 552, true },       { SMTP_CMD_DATA, 452, true },
    { SMTP_CMD_BDAT, 450, true },       { SMTP_CMD_EHLO, 454, true },
    { SMTP_CMD_MAIL, 472, true },       { SMTP_CMD_RCPT, 400, true },
    { SMTP_CMD_DATA_END, 471, true },   { SMTP_CMD_GREETING, 472, true },
    { SMTP_CMD_AUTH_RESPONSE, 599, true },
    /* negative codes the tables tie to other commands */
    { SMTP_CMD_MAIL, 535, false },      { SMTP_CMD_RCPT, 458, false },
    { SMTP_CMD_MAIL, 459, false },      { SMTP_CMD_DATA, 432, false },
    { SMTP_CMD_HELO, 534, false },      { SMTP_CMD_HELO, 555, false },
    { SMTP_CMD_QUIT, 538, false },      { SMTP_CMD_NOOP, 556, false },
    { SMTP_CMD_GREETING, 550, false },  { SMTP_CMD_GREETING, 503, false },
    { SMTP_CMD_GREETING, 450, false },  { SMTP_CMD_GREETING, 535, false },
    { SMTP_CMD_DATA, 553, false },      { SMTP_CMD_NOOP, 452, false },
    { SMTP_CMD_EHLO, 458, false },      { SMTP_CMD_RSET, 525, false },
    /* unknown verbs: any negative code */
    { SMTP_CMD_UNKNOWN, 535, true },    { SMTP_CMD_UNKNOWN, 458, true },
    { SMTP_CMD_UNKNOWN, 500, true },    { SMTP_CMD_UNKNOWN, 502, true },
};

static void test_valid_cases(void)
{
    for (size_t i = 0; i < G_N_ELEMENTS(valid_cases); i++) {
        const valid_case *c = &valid_cases[i];
        if (reg_reply_valid_for(c->cmd, c->code) != c->valid)
            g_error("%d for %s: expected %s", c->code, reg_command_reply_label(c->cmd),
                    c->valid ? "valid" : "invalid");
    }
}

static void test_valid_rules(void)
{
    for (int cmd = 0; cmd < SMTP_CMD_COUNT; cmd++) {
        bool real = cmd != SMTP_CMD_NONE;
        /* 421 anywhere a command is waiting. */
        g_assert_cmpint(reg_reply_valid_for((smtp_cmd)cmd, 421), ==, real);
        for (int code = 100; code < 600; code++) {
            bool v = reg_reply_valid_for((smtp_cmd)cmd, code);
            size_t n;
            const uint16_t *list = reg_command_replies((smtp_cmd)cmd, &n);
            bool listed = false;
            for (size_t k = 0; k < n; k++)
                listed = listed || list[k] == code;
            if (!real)
                g_assert_false(v);
            else if (code < 400 && v != listed) /* positive: exactly the listed ones */
                g_error("positive %d for %s: valid %d listed %d", code, reg_command_reply_label(cmd), v, listed);
            else if (code >= 400 && !reg_reply_known(code) && !v) /* unknown negative: by class */
                g_error("unknown %d not valid for %s", code, reg_command_reply_label(cmd));
            if (real && listed)
                g_assert_true(v);
            if (cmd == SMTP_CMD_UNKNOWN && code >= 400)
                g_assert_true(v);
        }
    }
    /* The any-command row holds for every command but the greeting. */
    size_t n;
    const uint16_t *any = reg_any_command_replies(&n);
    g_assert_cmpuint(n, >, 5);
    for (int cmd = 0; cmd < SMTP_CMD_COUNT; cmd++)
        for (size_t k = 0; k < n; k++)
            if (cmd != SMTP_CMD_NONE && cmd != SMTP_CMD_GREETING)
                g_assert_true(reg_reply_valid_for((smtp_cmd)cmd, any[k]));
    /* Out of range, in either argument. */
    static const int bad_codes[] = { 0, 99, 600, 601, 999, 1000, -1, INT_MIN_, INT_MAX_ };
    for (size_t i = 0; i < G_N_ELEMENTS(bad_codes); i++)
        g_assert_false(reg_reply_valid_for(SMTP_CMD_MAIL, bad_codes[i]));
    g_assert_false(reg_reply_valid_for((smtp_cmd)SMTP_CMD_COUNT, 250));
    g_assert_false(reg_reply_valid_for((smtp_cmd)-1, 550));
    g_assert_cmpuint((reg_command_replies((smtp_cmd)SMTP_CMD_COUNT, &n), n), ==, 0);
}

/* ---- commands and keywords ------------------------------------------- */

static void test_command_lookup(void)
{
    unsigned sendable = 0;
    for (int cmd = 0; cmd < SMTP_CMD_COUNT; cmd++) {
        const char *verb = reg_command_verb((smtp_cmd)cmd);
        g_assert_nonnull(verb);
        g_assert_nonnull(reg_command_reply_label((smtp_cmd)cmd));
        g_assert_nonnull(reg_command_description((smtp_cmd)cmd));
        g_assert_nonnull(reg_command_reference((smtp_cmd)cmd));
        if (reg_command_flags((smtp_cmd)cmd) & CMDF_PSEUDO) {
            g_assert_cmpstr(verb, ==, "");
            g_assert_cmpstr(reg_command_reply_label((smtp_cmd)cmd), !=, "");
            continue;
        }
        if (verb[0] == '\0')
            continue; /* NONE, UNKNOWN */
        g_autofree char *lower = g_ascii_strdown(verb, -1);
        g_autofree char *mixed = g_strdup(verb);
        for (size_t i = 0; i < strlen(mixed); i += 2)
            mixed[i] = g_ascii_tolower(mixed[i]);
        g_assert_cmpint(reg_command_lookup(verb, strlen(verb)), ==, cmd);
        g_assert_cmpint(reg_command_lookup(lower, strlen(lower)), ==, cmd);
        g_assert_cmpint(reg_command_lookup(mixed, strlen(mixed)), ==, cmd);
        /* One byte short or one byte long is another word. */
        g_assert_cmpint(reg_command_lookup(verb, strlen(verb) - 1), !=, cmd);
        g_autofree char *longer = g_strconcat(verb, "X", NULL);
        g_assert_cmpint(reg_command_lookup(longer, strlen(longer)), !=, cmd);
        sendable++;
    }
    g_assert_cmpuint(sendable, >=, 20);
    g_assert_cmpint(reg_command_lookup("StartTls", 8), ==, SMTP_CMD_STARTTLS);
    g_assert_cmpint(reg_command_lookup("MAIL FROM:<a@b>", 4), ==, SMTP_CMD_MAIL);
    g_assert_cmpint(reg_command_lookup("xexch50", 7), ==, SMTP_CMD_XEXCH50);
    /* Pseudo commands and non-verbs are never returned. */
    static const char *const not_verbs[] = {
        "", "GREETING", "greeting", "DATA_END", "AUTH_RESPONSE", "UNKNOWN", "NONE",
        "X-FOO", "XUSR", "MAI", "MAILS", "HELO\r", " HELO", "M\xc1IL", "\xff\xff\xff\xff",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(not_verbs); i++)
        g_assert_cmpint(reg_command_lookup(not_verbs[i], strlen(not_verbs[i])), ==, SMTP_CMD_UNKNOWN);
    g_assert_cmpint(reg_command_lookup("HE\0O", 4), ==, SMTP_CMD_UNKNOWN);
    g_assert_cmpint(reg_command_lookup(NULL, 4), ==, SMTP_CMD_UNKNOWN);
    /* Out-of-range ids read as UNKNOWN. */
    g_assert_cmpstr(reg_command_reply_label((smtp_cmd)SMTP_CMD_COUNT), ==, "unknown");
    g_assert_cmpstr(reg_command_verb((smtp_cmd)-1), ==, "");
    g_assert_null(reg_command_keyword((smtp_cmd)SMTP_CMD_COUNT));
    g_assert_cmpstr(reg_command_keyword(SMTP_CMD_BDAT), ==, "CHUNKING");
}

static void test_ext_lookup(void)
{
    for (int ext = 0; ext < SMTP_EXT_COUNT; ext++) {
        const char *kw = reg_ext_keyword((smtp_ext)ext);
        g_autofree char *lower = g_ascii_strdown(kw, -1);
        g_assert_cmpint(reg_ext_lookup(kw, strlen(kw)), ==, ext);
        g_assert_cmpint(reg_ext_lookup(lower, strlen(lower)), ==, ext);
        g_assert_cmpstr(reg_ext_description((smtp_ext)ext), !=, "");
    }
    g_assert_cmpint(reg_ext_lookup("pipelining", 10), ==, SMTP_EXT_PIPELINING);
    g_assert_cmpint(reg_ext_lookup("8BITMIME", 8), ==, SMTP_EXT_8BITMIME);
    g_assert_cmpint(reg_ext_lookup("SIZE 10240000", 4), ==, SMTP_EXT_SIZE);
    g_assert_cmpint(reg_ext_lookup("mt-priority", 11), ==, SMTP_EXT_MT_PRIORITY);
    g_assert_cmpint(reg_ext_lookup("X-LINK2STATE", 12), ==, SMTP_EXT_X_LINK2STATE);
    g_assert_cmpint(reg_ext_lookup("PIPELININ", 9), ==, SMTP_EXT_COUNT);
    g_assert_cmpint(reg_ext_lookup("AUTH=LOGIN", 10), ==, SMTP_EXT_COUNT);
    g_assert_cmpint(reg_ext_lookup("", 0), ==, SMTP_EXT_COUNT);
    g_assert_cmpint(reg_ext_lookup(NULL, 3), ==, SMTP_EXT_COUNT);
    g_assert_cmpstr(reg_ext_keyword(SMTP_EXT_COUNT), ==, "");
}

/* ---- anomalies ------------------------------------------------------- */

static void test_anomalies(void)
{
    g_autoptr(GHashTable) names = g_hash_table_new(g_str_hash, g_str_equal);
    for (int a = 0; a < SMTP_AN_COUNT; a++) {
        const char *name = reg_anomaly_name((smtp_anomaly)a);
        g_assert_nonnull(name);
        g_assert_cmpuint(strlen(name), >, 2);
        g_assert_cmpuint(strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_"), ==, strlen(name));
        if (!g_hash_table_add(names, (gpointer)name))
            g_error("anomaly %s listed twice", name);
        smtp_anomaly_class c = reg_anomaly_class((smtp_anomaly)a);
        g_assert_cmpint(c, <, ANC_COUNT);
        g_assert_cmpstr(reg_anomaly_class_name(c), !=, "unknown");
        smtp_severity s = reg_anomaly_severity((smtp_anomaly)a);
        g_assert_true(s == ANS_NOTE || s == ANS_WARN || s == ANS_ERROR);
        const char *d = reg_anomaly_description((smtp_anomaly)a);
        g_assert_nonnull(d);
        g_assert_cmpuint(strlen(d), >, 10);
        g_assert_true(g_ascii_isupper(d[0]));
    }
    g_assert_cmpstr(reg_anomaly_name(SMTP_AN_rcpt_without_mail), ==, "rcpt_without_mail");
    g_assert_cmpint(reg_anomaly_class(SMTP_AN_starttls_injection), ==, ANC_TLS);
    g_assert_cmpint(reg_anomaly_severity(SMTP_AN_starttls_injection), ==, ANS_ERROR);
    g_assert_cmpstr(reg_anomaly_class_name(ANC_SEQUENCE), ==, "sequence");
    g_assert_cmpstr(reg_anomaly_class_name(ANC_TRANSPORT), ==, "transport");
    g_assert_cmpstr(reg_anomaly_class_name(ANC_COUNT), ==, "unknown");
    g_assert_cmpstr(reg_severity_name(ANS_NOTE), ==, "note");
    g_assert_cmpstr(reg_severity_name(ANS_WARN), ==, "warning");
    g_assert_cmpstr(reg_severity_name(ANS_ERROR), ==, "error");
    g_assert_cmpstr(reg_anomaly_name((smtp_anomaly)SMTP_AN_COUNT), ==, "unknown");
    g_assert_cmpint(reg_anomaly_class((smtp_anomaly)-1), ==, ANC_COUNT);
    for (int c = 0; c < ANC_COUNT; c++)
        g_assert_cmpstr(reg_anomaly_class_name((smtp_anomaly_class)c), !=, "unknown");
}

/* ---- table consistency ----------------------------------------------- */

/* reply_codes.def: ascending (so unique), in range, complete rows. */
static void test_table_reply_codes(void)
{
    int prev = 0, code;
    const char *meaning, *ref;
    g_assert_cmpuint(reg_reply_code_count(), >=, G_N_ELEMENTS(known_codes));
    for (size_t i = 0; reg_reply_code_at(i, &code, &meaning, &ref); i++) {
        if (code <= prev)
            g_error("reply_codes.def: %d after %d (order or duplicate)", code, prev);
        prev = code;
        g_assert_cmpint(code, >=, 100);
        g_assert_cmpint(code, <, 600);
        g_assert_cmpstr(meaning, !=, "");
        g_assert_cmpstr(ref, !=, "");
        g_assert_true(reg_reply_known(code));
        g_assert_true(reg_reply_meaning(code, SMTP_CMD_NONE) == meaning);
    }
    g_assert_false(reg_reply_code_at(reg_reply_code_count(), &code, NULL, NULL));
    /* Every code known is a row: the index and the rows agree. */
    unsigned known = 0;
    for (int c = 0; c < 1000; c++)
        known += reg_reply_known(c);
    g_assert_cmpuint(known, ==, reg_reply_code_count());
    for (size_t i = 0; i < G_N_ELEMENTS(known_codes); i++)
        g_assert_true(reg_reply_known(known_codes[i].code));
}

/* reply_context.def: each row a pair the command may get, a code the
 * generic table knows, a meaning of its own, and no pair twice. */
static void test_table_context(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    smtp_cmd cmd;
    int code;
    const char *meaning;
    g_assert_cmpuint(reg_reply_context_count(), >=, 20);
    for (size_t i = 0; reg_reply_context_at(i, &cmd, &code, &meaning); i++) {
        g_test_message("context %s %d", reg_command_reply_label(cmd), code);
        g_assert_cmpint(cmd, >, SMTP_CMD_NONE);
        g_assert_cmpint(cmd, <, SMTP_CMD_COUNT);
        g_assert_true(reg_reply_known(code));
        g_assert_true(reg_reply_valid_for(cmd, code));
        g_assert_cmpstr(meaning, !=, reg_reply_meaning(code, SMTP_CMD_NONE));
        g_assert_true(reg_reply_meaning(code, cmd) == meaning);
        if (!g_hash_table_add(seen, GINT_TO_POINTER(cmd * 1000 + code)))
            g_error("reply_context.def: %s %d twice", reg_command_reply_label(cmd), code);
    }
}

static void assert_code_list(const char *what, const uint16_t *codes, size_t n, bool negative_only)
{
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && codes[k] <= codes[k - 1])
            g_error("command_replies.def %s: %u after %u (order or duplicate)", what, codes[k], codes[k - 1]);
        if (!reg_reply_known(codes[k]))
            g_error("command_replies.def %s: %u is not in reply_codes.def", what, codes[k]);
        if (negative_only)
            g_assert_cmpuint(codes[k], >=, 400);
    }
}

/* command_replies.def: a row for every command but NONE, ascending, with
 * codes the generic table knows. */
static void test_table_command_replies(void)
{
    size_t n;
    for (int cmd = 0; cmd < SMTP_CMD_COUNT; cmd++) {
        const uint16_t *codes = reg_command_replies((smtp_cmd)cmd, &n);
        const char *label = reg_command_reply_label((smtp_cmd)cmd);
        if (cmd == SMTP_CMD_NONE) {
            g_assert_cmpuint(n, ==, 0);
            continue;
        }
        if (n == 0)
            g_error("command_replies.def: no row for %s", label);
        assert_code_list(label, codes, n, false);
    }
    const uint16_t *any = reg_any_command_replies(&n);
    assert_code_list("any command", any, n, true);
}

/* enhanced_codes.def: each (subject, detail) once, reachable by look-up. */
static void test_table_enhanced(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_direct_hash, g_direct_equal);
    unsigned s, d;
    const char *meaning;
    g_assert_cmpuint(reg_enhanced_count(), >=, 80);
    for (size_t i = 0; reg_enhanced_at(i, &s, &d, &meaning); i++) {
        g_assert_cmpuint(s, <=, 7);
        g_assert_cmpstr(meaning, !=, "");
        g_assert_true(reg_enhanced_detail_meaning(s, d) == meaning);
        g_assert_cmpstr(reg_enhanced_subject_name(s), !=, "Unknown subject");
        if (!g_hash_table_add(seen, GUINT_TO_POINTER(s * 1000 + d + 1)))
            g_error("enhanced_codes.def: X.%u.%u twice", s, d);
    }
    g_assert_false(reg_enhanced_at(reg_enhanced_count(), &s, NULL, NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/registry/reply/known-codes", test_known_codes);
    g_test_add_func("/registry/reply/seed-files", test_seed_files);
    g_test_add_func("/registry/reply/context", test_context_meanings);
    g_test_add_func("/registry/reply/unknown-codes", test_unknown_codes);
    g_test_add_func("/registry/enhanced/names", test_enhanced_names);
    g_test_add_func("/registry/enhanced/iana-registry", test_enhanced_registry);
    g_test_add_func("/registry/enhanced/parse", test_enhanced_parse);
    g_test_add_func("/registry/enhanced/format", test_enhanced_format);
    g_test_add_func("/registry/valid/seed-table", test_valid_seed_table);
    g_test_add_func("/registry/valid/cases", test_valid_cases);
    g_test_add_func("/registry/valid/rules", test_valid_rules);
    g_test_add_func("/registry/command/lookup", test_command_lookup);
    g_test_add_func("/registry/ext/lookup", test_ext_lookup);
    g_test_add_func("/registry/anomalies", test_anomalies);
    g_test_add_func("/registry/tables/reply-codes", test_table_reply_codes);
    g_test_add_func("/registry/tables/context", test_table_context);
    g_test_add_func("/registry/tables/command-replies", test_table_command_replies);
    g_test_add_func("/registry/tables/enhanced", test_table_enhanced);
    return g_test_run();
}
