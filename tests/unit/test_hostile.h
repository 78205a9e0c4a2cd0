/* test_hostile.h -- helpers shared by the hostile-traffic tests.
 *
 * hostile_rec is a sink that keeps counters and a bounded copy of the last
 * event of each kind, never the events themselves, so that a test feeding
 * a million commands measures the core's memory and not its own.
 */
#ifndef SMTPSCOPE_TEST_HOSTILE_H
#define SMTPSCOPE_TEST_HOSTILE_H

#include <string.h>
#include <sys/resource.h>

#include <glib.h>

#include "smtp_engine.h"

typedef struct hostile_rec {
    uint64_t by_type[SMTP_EV_END + 1];
    uint64_t by_anomaly[SMTP_AN_COUNT];
    uint64_t body_bytes;
    /* last command */
    smtp_cmd last_cmd;
    char     last_line[64];
    /* last reply */
    int      last_code;
    smtp_cmd last_answers;
    uint32_t last_reply_lines, last_reply_lines_total;
    /* last transaction */
    smtp_txn_outcome txn_outcome;
    uint64_t txn_size;
    uint32_t txn_rcpts;
    char     txn_from[64], txn_qid[32];
    /* end */
    bool     ended;
    smtp_end_reason end_reason;
} hostile_rec;

static inline void hostile_copy(char *dst, size_t size, smtp_span s)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    if (n)
        memcpy(dst, s.ptr, n);
    dst[n] = '\0';
}

static inline void hostile_record(hostile_rec *r, const smtp_event *ev)
{
    r->by_type[ev->type]++;
    switch (ev->type) {
    case SMTP_EV_COMMAND:
        r->last_cmd = ev->u.command.cmd;
        hostile_copy(r->last_line, sizeof r->last_line, ev->u.command.line);
        break;
    case SMTP_EV_REPLY:
        r->last_code = ev->u.reply.code;
        r->last_answers = ev->u.reply.answers;
        r->last_reply_lines = ev->u.reply.n_lines;
        r->last_reply_lines_total = ev->u.reply.n_lines_total;
        break;
    case SMTP_EV_TRANSACTION:
        r->txn_outcome = ev->u.txn.outcome;
        r->txn_size = ev->u.txn.size;
        r->txn_rcpts = ev->u.txn.n_recipients_total;
        hostile_copy(r->txn_from, sizeof r->txn_from, ev->u.txn.mail_from);
        hostile_copy(r->txn_qid, sizeof r->txn_qid, ev->u.txn.queue_id);
        break;
    case SMTP_EV_ANOMALY:
        r->by_anomaly[ev->u.anomaly.kind]++;
        break;
    case SMTP_EV_END:
        r->ended = true;
        r->end_reason = ev->u.end.reason;
        break;
    default:
        break;
    }
}

static inline void hostile_on_event(void *user, const smtp_event *ev)
{
    hostile_record(user, ev);
}

static inline void hostile_on_body(void *user, const smtp_body_span *b)
{
    ((hostile_rec *)user)->body_bytes += b->len;
}

/* Peak resident set of the process so far, in KB. */
static inline long hostile_maxrss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

#if defined(__SANITIZE_ADDRESS__)
#define HOSTILE_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOSTILE_SANITIZED 1
#endif
#endif

/* Assert that the peak RSS grew by less than `bound_mb` since `before_kb`.
 * Coarse: the core's own counters are the precise check.  Skipped under
 * ASan, whose quarantine keeps freed memory resident on purpose. */
#ifdef HOSTILE_SANITIZED
#define hostile_assert_rss(before_kb, bound_mb) ((void)(before_kb), (void)(bound_mb))
#else
#define hostile_assert_rss(before_kb, bound_mb)                                     \
    do {                                                                            \
        long grown_ = hostile_maxrss_kb() - (before_kb);                            \
        if (g_test_verbose())                                                       \
            g_test_message("peak RSS grew by %ld KB", grown_);                      \
        g_assert_cmpint(grown_, <, (long)(bound_mb) * 1024);                        \
    } while (0)
#endif

/* A count of the spec's size, divided by 10 under sanitizers (unless the
 * tests run with -m slow) or by SMTPSCOPE_HOSTILE_DIV when set. */
static inline uint64_t hostile_n(uint64_t n)
{
    const char *div = g_getenv("SMTPSCOPE_HOSTILE_DIV");
    if (div && g_ascii_strtoull(div, NULL, 10) > 0)
        return n / g_ascii_strtoull(div, NULL, 10);
#ifdef HOSTILE_SANITIZED
    if (!g_test_slow())
        return n / 10;
#endif
    return n;
}

/* Feed a C string as one frame, one millisecond after the last. */
static inline void hostile_feed(smtp_engine *eng, smtp_dir dir, const char *s, cap_pos *pos)
{
    pos->frame++;
    pos->ts_ns += 1000000;
    smtp_feed(eng, dir, (const uint8_t *)s, strlen(s), *pos);
}

/* A complete, correct transaction; asserts the engine reported it right.
 * Used after each attack to show later traffic is still analysed. */
static inline void hostile_normal_transaction(smtp_engine *eng, hostile_rec *r, cap_pos *pos)
{
    uint64_t txns = r->by_type[SMTP_EV_TRANSACTION];
    hostile_feed(eng, SMTP_DIR_CLIENT, "MAIL FROM:<after@example.com>\r\n", pos);
    hostile_feed(eng, SMTP_DIR_SERVER, "250 2.1.0 Ok\r\n", pos);
    g_assert_cmpint(r->last_cmd, ==, SMTP_CMD_MAIL);
    g_assert_cmpint(r->last_code, ==, 250);
    g_assert_cmpint(r->last_answers, ==, SMTP_CMD_MAIL);
    hostile_feed(eng, SMTP_DIR_CLIENT, "RCPT TO:<rcpt@example.org>\r\n", pos);
    hostile_feed(eng, SMTP_DIR_SERVER, "250 2.1.5 Ok\r\n", pos);
    g_assert_cmpint(r->last_answers, ==, SMTP_CMD_RCPT);
    hostile_feed(eng, SMTP_DIR_CLIENT, "DATA\r\n", pos);
    hostile_feed(eng, SMTP_DIR_SERVER, "354 End data with <CR><LF>.<CR><LF>\r\n", pos);
    hostile_feed(eng, SMTP_DIR_CLIENT, "Subject: after\r\n\r\nstill analysed\r\n.\r\n", pos);
    hostile_feed(eng, SMTP_DIR_SERVER, "250 2.0.0 Ok: queued as HOSTILE1\r\n", pos);
    g_assert_cmpuint(r->by_type[SMTP_EV_TRANSACTION], ==, txns + 1);
    g_assert_cmpint(r->txn_outcome, ==, SMTP_TXN_ACCEPTED);
    g_assert_cmpstr(r->txn_from, ==, "after@example.com");
    g_assert_cmpstr(r->txn_qid, ==, "HOSTILE1");
    g_assert_cmpuint(r->txn_rcpts, ==, 1);
    g_assert_cmpuint(r->txn_size, ==, strlen("Subject: after\r\n\r\nstill analysed\r\n"));
}

#endif
