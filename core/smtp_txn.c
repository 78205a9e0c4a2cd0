/* smtp_txn.c -- mail transactions: MAIL, the recipients with their own
 * replies, the message, the final reply and the queue id the server quoted.
 * One SMTP_EV_TRANSACTION per MAIL (SEND, SOML, SAML), emitted when the
 * transaction ends.
 */
#include <string.h>

#include "smtp_internal.h"

/* Strings of one transaction (paths and parameters); beyond this they are
 * cut: a transaction keeps at most SMTP_MAX_RECIPIENTS recipients anyway. */
#define TXN_ARENA_MAX (1024 * 1024)

static uint32_t arena_add(smtp_txn *t, const char *p, size_t n, uint32_t *len)
{
    uint32_t off = t->arena.len;
    *len = (uint32_t)smtp_buf_append(&t->arena, p, n, TXN_ARENA_MAX);
    return off;
}

static smtp_span arena_span(const smtp_txn *t, uint32_t off, uint32_t len)
{
    return (smtp_span){ t->arena.data ? t->arena.data + off : "", len };
}

smtp_txn *smtp_txn_get(smtp_engine *e, uint32_t gen)
{
    smtp_txn *t = &e->txns[gen % SMTP_TXN_SLOTS];
    return gen && t->open && t->gen == gen ? t : NULL;
}

bool smtp_txn_any_open(const smtp_engine *e)
{
    for (int i = 0; i < SMTP_TXN_SLOTS; i++)
        if (e->txns[i].open)
            return true;
    return false;
}

void smtp_txn_begin(smtp_engine *e, smtp_cmd cmd, const char *from, size_t from_len,
                    const char *params, size_t params_len, cap_pos pos)
{
    smtp_dir cfrom = smtp_phys(e, SMTP_DIR_CLIENT);
    smtp_txn *cur = smtp_txn_get(e, e->txn_gen);
    /* A transaction whose message is not complete ends when this MAIL is
     * accepted (the client moved on after a refused DATA, or sent MAIL
     * twice); a server refusing a nested MAIL (503) keeps it going
     * (smtp_txn_mail_reply).  One waiting only for its final reply stays in
     * flight either way. */
    uint32_t prev = cur && !cur->msg_done ? cur->gen : 0;
    uint32_t gen = ++e->txn_gen;
    if (gen == 0)
        gen = ++e->txn_gen;
    smtp_txn *t = &e->txns[gen % SMTP_TXN_SLOTS];
    if (t->open)
        smtp_txn_abort(e, t, cfrom, pos); /* more in flight than we track */
    t->open = true;
    t->msg_done = false;
    t->gen = gen;
    t->prev_gen = prev;
    t->mail_refused = false;
    t->start_cmd = cmd;
    smtp_buf_reset(&t->arena);
    arena_add(t, from, from_len, &t->from_len); /* the reverse-path is first */
    t->par_off = arena_add(t, params, params_len, &t->par_len);
    t->mail_code = 0;
    t->mail_enhanced = (smtp_enhanced){ 0 };
    t->n_rcpts = t->n_rcpts_total = 0;
    t->method = SMTP_METHOD_NONE;
    t->n_chunks = 0;
    t->size = 0;
    t->first_frame = pos.frame;
    t->start_ns = pos.ts_ns;
    t->too_many_flagged = false;
    smtp_buf_reset(&t->subject);
    smtp_buf_reset(&t->message_id);
}

int32_t smtp_txn_add_rcpt(smtp_engine *e, const char *addr, size_t addr_len,
                          const char *params, size_t params_len, uint32_t seq, cap_pos pos)
{
    smtp_txn *t = smtp_txn_get(e, e->txn_gen);
    if (!t || t->msg_done)
        return -1;
    t->n_rcpts_total++;
    if (t->n_rcpts >= SMTP_MAX_RECIPIENTS) {
        if (!t->too_many_flagged) {
            t->too_many_flagged = true;
            smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_too_many_recipients,
                      SMTP_CMD_RCPT, seq,
                      "The transaction has more than %d recipients; further ones are only counted",
                      SMTP_MAX_RECIPIENTS);
        }
        return -1;
    }
    if (t->n_rcpts == t->rcpt_cap) {
        t->rcpt_cap = t->rcpt_cap ? t->rcpt_cap * 2 : 4;
        if (t->rcpt_cap > SMTP_MAX_RECIPIENTS)
            t->rcpt_cap = SMTP_MAX_RECIPIENTS;
        t->rcpts = g_renew(smtp_rcpt_rec, t->rcpts, t->rcpt_cap);
    }
    smtp_rcpt_rec *r = &t->rcpts[t->n_rcpts];
    memset(r, 0, sizeof *r);
    r->addr_off = arena_add(t, addr, addr_len, &r->addr_len);
    r->par_off = arena_add(t, params, params_len, &r->par_len);
    r->status = SMTP_RCPT_UNANSWERED;
    r->frame = pos.frame;
    return (int32_t)t->n_rcpts++;
}

void smtp_txn_rcpt_reply(smtp_engine *e, uint32_t gen, int32_t idx, int code,
                         const smtp_enhanced *enh)
{
    smtp_txn *t = smtp_txn_get(e, gen);
    if (!t || idx < 0 || (uint32_t)idx >= t->n_rcpts)
        return;
    smtp_rcpt_rec *r = &t->rcpts[idx];
    r->code = code;
    r->enhanced = *enh;
    r->status = code / 100 == 2 ? SMTP_RCPT_ACCEPTED
                : code / 100 == 4 ? SMTP_RCPT_DEFERRED
                                  : SMTP_RCPT_REJECTED;
}

void smtp_txn_mail_reply(smtp_engine *e, smtp_txn *t, int code, const smtp_enhanced *enh,
                         cap_pos pos)
{
    t->mail_code = code;
    t->mail_enhanced = *enh;
    smtp_txn *prev = t->prev_gen ? smtp_txn_get(e, t->prev_gen) : NULL;
    t->prev_gen = 0;
    /* 355 (RFC 1845 checkpointing) takes the MAIL as 2xx does. */
    if (code / 100 == 2 || code == 355) {
        if (prev && !prev->msg_done)
            smtp_txn_abort(e, prev, smtp_phys(e, SMTP_DIR_CLIENT), pos);
        return;
    }
    /* RCPTs pipelined after the MAIL still get their replies (503 mostly):
     * the transaction is emitted when the last of them is answered. */
    t->mail_refused = true;
    /* A refused nested MAIL leaves the open transaction as it was. */
    if (prev && e->txn_gen == t->gen)
        e->txn_gen = prev->gen;
}

void smtp_txn_settle_refused(smtp_engine *e, smtp_txn *t, smtp_dir from, cap_pos pos)
{
    for (uint32_t i = 0; i < e->pend_n; i++)
        if (smtp_pend_peek(e, i)->txn_gen == t->gen)
            return;
    smtp_txn_finish(e, t, SMTP_TXN_MAIL_REJECTED, 0, NULL, NULL, 0, (smtp_span){ 0 }, from, pos);
}

void smtp_txn_finish(smtp_engine *e, smtp_txn *t, smtp_txn_outcome outcome, int code,
                     const smtp_enhanced *enh, const char *text, size_t text_len,
                     smtp_span qid, smtp_dir from, cap_pos pos)
{
    if (!t || !t->open)
        return;
    t->open = false;

    smtp_recipient *rc = t->n_rcpts ? g_new(smtp_recipient, t->n_rcpts) : NULL;
    for (uint32_t i = 0; i < t->n_rcpts; i++) {
        const smtp_rcpt_rec *r = &t->rcpts[i];
        rc[i] = (smtp_recipient){ arena_span(t, r->addr_off, r->addr_len),
                                  arena_span(t, r->par_off, r->par_len),
                                  r->code, r->enhanced, r->status, r->frame };
    }

    smtp_event ev = { .type = SMTP_EV_TRANSACTION, .from = from, .pos = pos };
    smtp_transaction_ev *x = &ev.u.txn;
    x->start_cmd = t->start_cmd;
    x->mail_from = arena_span(t, 0, t->from_len);
    x->mail_params = arena_span(t, t->par_off, t->par_len);
    x->mail_code = t->mail_code;
    x->mail_enhanced = t->mail_enhanced;
    x->recipients = rc;
    x->n_recipients = t->n_rcpts;
    x->n_recipients_total = t->n_rcpts_total;
    x->method = t->method;
    x->n_chunks = t->n_chunks;
    x->size = t->size;
    x->final_code = code;
    if (enh)
        x->final_enhanced = *enh;
    x->final_text = (smtp_span){ text ? text : "", text ? text_len : 0 };
    x->outcome = outcome;
    x->queue_id = qid.ptr ? qid : (smtp_span){ "", 0 };
    x->subject = (smtp_span){ t->subject.data ? t->subject.data : "", t->subject.len };
    x->message_id = (smtp_span){ t->message_id.data ? t->message_id.data : "", t->message_id.len };
    x->first_frame = t->first_frame;
    x->last_frame = pos.frame;
    x->start_ns = t->start_ns;
    x->end_ns = pos.ts_ns;

    e->n_txn++;
    switch (outcome) {
    case SMTP_TXN_ACCEPTED: e->n_accepted++; break;
    case SMTP_TXN_REJECTED:
    case SMTP_TXN_MAIL_REJECTED: e->n_rejected++; break;
    case SMTP_TXN_DEFERRED: e->n_deferred++; break;
    case SMTP_TXN_ABORTED: e->n_aborted++; break;
    }
    smtp_emit(e, &ev);
    g_free(rc);

    char tb[96];
    if (outcome == SMTP_TXN_REJECTED)
        smtp_flag(e, from, pos, SMTP_AN_transaction_rejected, SMTP_CMD_NONE, 0,
                  "The server rejected the message from <%.*s> with %d \"%s\"",
                  (int)MIN(t->from_len, 100u), x->mail_from.ptr, code,
                  smtp_quote(tb, sizeof tb, x->final_text.ptr, x->final_text.len));
    else if (outcome == SMTP_TXN_DEFERRED)
        smtp_flag(e, from, pos, SMTP_AN_transaction_deferred, SMTP_CMD_NONE, 0,
                  "The server deferred the message from <%.*s> with %d \"%s\"",
                  (int)MIN(t->from_len, 100u), x->mail_from.ptr, code,
                  smtp_quote(tb, sizeof tb, x->final_text.ptr, x->final_text.len));
}

void smtp_txn_abort(smtp_engine *e, smtp_txn *t, smtp_dir from, cap_pos pos)
{
    smtp_txn_finish(e, t, t && t->mail_refused ? SMTP_TXN_MAIL_REJECTED : SMTP_TXN_ABORTED, 0,
                    NULL, NULL, 0, (smtp_span){ 0 }, from, pos);
}

void smtp_txn_abort_all(smtp_engine *e, smtp_dir from, cap_pos pos)
{
    /* Oldest first, so events keep the order the transactions began in
     * (the current one need not be the newest: see smtp_txn_mail_reply). */
    for (;;) {
        smtp_txn *oldest = NULL;
        for (int i = 0; i < SMTP_TXN_SLOTS; i++)
            if (e->txns[i].open && (!oldest || e->txns[i].gen < oldest->gen))
                oldest = &e->txns[i];
        if (!oldest)
            return;
        smtp_txn_abort(e, oldest, from, pos);
    }
}

void smtp_txn_free_all(smtp_engine *e)
{
    for (int i = 0; i < SMTP_TXN_SLOTS; i++) {
        smtp_txn *t = &e->txns[i];
        smtp_buf_free(&t->arena);
        smtp_buf_free(&t->subject);
        smtp_buf_free(&t->message_id);
        g_free(t->rcpts);
        t->rcpts = NULL;
        t->rcpt_cap = t->n_rcpts = 0;
    }
}

/* ---- queue ids ------------------------------------------------------------ */

/* Where the id sits relative to a marker in the final reply's text. */
typedef enum qid_where {
    QID_AFTER,    /* the token right after the marker */
    QID_BEFORE,   /* the word right before the marker */
    QID_ANGLE     /* the first <...> in the text (the marker only identifies the MTA) */
} qid_where;

typedef struct qid_pattern {
    const char *marker;   /* matched case-insensitively */
    qid_where   where;
    const char *mta;      /* who says it, for the reader of this table */
} qid_pattern;

/* Tried in order; the first that yields a token wins. */
static const qid_pattern qid_patterns[] = {
    { "InternalId=",                   QID_AFTER,  "Exchange / Office 365" },
    { "queued as ",                    QID_AFTER,  "Postfix and generic" },
    { "id=",                           QID_AFTER,  "Exim (OK id=1abc-def-gh) and generic" },
    { " Message accepted for delivery", QID_BEFORE, "Sendmail, OpenSMTPD" },
    { " mail accepted for delivery",   QID_BEFORE, "<id> mail accepted for delivery (nDPI emotet capture)" },
    { " accepted",                     QID_BEFORE, "IronPort (Message <n> accepted), 1&1 (Message <id> accepted by <host>)" },
    { " - gsmtp",                      QID_BEFORE, "Gmail (OK <ts> <id> - gsmtp)" },
    { " qp ",                          QID_AFTER,  "qmail (ok <ts> qp <n>)" },
    { "Queued (",                      QID_AFTER,  "Haraka (Message Queued (<id>))" },
    { "Queued mail for delivery",      QID_ANGLE,  "Exchange (<message-id> ... Queued mail for delivery)" },
    { "queued ",                       QID_AFTER,  "generic (queued <id>)" },
};

static bool qid_char(char c)
{
    return c > ' ' && c < 0x7f && !strchr(",;()<>[]\"'", c);
}

static const char *ci_find(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (g_ascii_strncasecmp(h + i, needle, m) == 0)
            return h + i;
    return NULL;
}

/* Words next to the markers that are prose, not ids ("+OK message queued
 * for delivery", "Message accepted by ..."). */
static const char *const qid_not_ids[] = { "ok", "message", "mail", "for", "as", "queued", "accepted" };

/* A decimal number with a fraction: a duration ("Queued (0.047 seconds)",
 * hMailServer), not an id. */
static bool qid_decimal(const char *p, size_t n)
{
    size_t dots = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '.')
            dots++;
        else if (!g_ascii_isdigit(p[i]))
            return false;
    }
    return dots == 1;
}

/* A word that is not an id: an enhanced code, a duration or one of
 * qid_not_ids. */
static bool qid_plausible(const char *p, size_t n)
{
    smtp_enhanced enh;
    if (n == 0 || qid_decimal(p, n))
        return false;
    if (reg_enhanced_parse(p, n, &enh) == n && enh.present)
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(qid_not_ids); i++)
        if (n == strlen(qid_not_ids[i]) && g_ascii_strncasecmp(p, qid_not_ids[i], n) == 0)
            return false;
    return true;
}

smtp_span smtp_queue_id(const char *text, size_t len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qid_patterns); i++) {
        const qid_pattern *q = &qid_patterns[i];
        const char *m = ci_find(text, len, q->marker);
        const char *end = text + len, *s, *t;
        if (!m)
            continue;
        switch (q->where) {
        case QID_AFTER:
            s = m + strlen(q->marker);
            while (s < end && *s == ' ')
                s++;
            for (t = s; t < end && qid_char(*t); t++)
                ;
            break;
        case QID_BEFORE:
            t = m;
            while (t > text && t[-1] == ' ')
                t--;
            for (s = t; s > text && qid_char(s[-1]); s--)
                ;
            break;
        case QID_ANGLE:
        default:
            s = memchr(text, '<', len);
            t = s ? memchr(s, '>', (size_t)(end - s)) : NULL;
            if (!s || !t)
                continue;
            s++;
            break;
        }
        if (qid_plausible(s, (size_t)(t - s)))
            return (smtp_span){ s, (size_t)(t - s) };
    }
    return (smtp_span){ text, 0 };
}
