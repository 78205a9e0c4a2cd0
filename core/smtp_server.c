/* smtp_server.c -- server reply lines: multi-line assembly, pairing with
 * the commands waiting (first in, first out, RFC 2920), labels from the
 * registry, and what each reply changes in the session.
 */
#include <string.h>

#include "smtp_internal.h"

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static smtp_span rep_line(const smtp_engine *e, uint32_t i)
{
    return (smtp_span){ e->rep_text.data ? e->rep_text.data + e->rep_off[i] : "", e->rep_len[i] };
}

/* ---- pairing -------------------------------------------------------------- */

typedef enum pair_result { PAIR_NONE, PAIR_CMD, PAIR_ABSORBED } pair_result;

/* Take the command this reply answers off the queue.  Placeholders for
 * commands lost in a client gap absorb replies that do not fit the next real
 * command; commands whose reply may have been lost in a server gap are
 * skipped when this reply does not fit them but fits a later one. */
/* A reply whose enhanced code is about addresses (X.1.Y, RFC 3463) answers
 * MAIL, RCPT or the like, not the end of a message: after a client gap it
 * is the lost RCPT's (suricata-style "550 5.1.1 ... User unknown" before the
 * 354 of the DATA sent after the hole). */
static bool fits_after_gap(const smtp_pending *n, int code, const smtp_enhanced *enh)
{
    if (!reg_reply_valid_for(n->cmd, code))
        return false;
    bool message = n->cmd == SMTP_CMD_DATA || n->cmd == SMTP_CMD_BDAT ||
                   n->cmd == SMTP_CMD_DATA_END;
    return !(message && enh->present && enh->subject == 1);
}

static pair_result pair(smtp_engine *e, int code, const smtp_enhanced *enh, smtp_pending *out)
{
    for (;;) {
        smtp_pending *h = smtp_pend_peek(e, 0);
        if (!h)
            return PAIR_NONE;
        smtp_pending *n = smtp_pend_peek(e, 1);
        if (h->flags & PEND_LOST) {
            /* The first real command the reply fits, passing over those whose
             * own reply may have been lost in a server gap. */
            uint32_t i = 1;
            while (i < e->pend_n) {
                const smtp_pending *c = smtp_pend_peek(e, i);
                if ((c->flags & PEND_LOST) || fits_after_gap(c, code, enh) ||
                    !(c->flags & PEND_UNCERTAIN))
                    break;
                i++;
            }
            const smtp_pending *c = i < e->pend_n ? smtp_pend_peek(e, i) : NULL;
            if (c && !(c->flags & PEND_LOST) && fits_after_gap(c, code, enh)) {
                while (i-- > 0)
                    smtp_pend_pop(e);
                continue;
            }
            *out = *h;
            return PAIR_ABSORBED;
        }
        if ((h->flags & PEND_UNCERTAIN) && n && !reg_reply_valid_for(h->cmd, code)) {
            bool later = false;
            for (uint32_t i = 1; i < e->pend_n && !later; i++)
                later = reg_reply_valid_for(smtp_pend_peek(e, i)->cmd, code);
            if (later) {
                smtp_pend_pop(e);
                continue;
            }
        }
        *out = *h;
        smtp_pend_pop(e);
        return PAIR_CMD;
    }
}

/* ---- capabilities ----------------------------------------------------------- */

/* Add the mechanisms of `par` not yet in e->auth_mechs. */
static void mechs_merge(smtp_engine *e, smtp_span par)
{
    size_t i = 0;
    while (i < par.len) {
        while (i < par.len && par.ptr[i] == ' ')
            i++;
        size_t s = i;
        while (i < par.len && par.ptr[i] != ' ')
            i++;
        if (i == s)
            break;
        bool dup = false;
        const char *a = e->auth_mechs.data;
        for (size_t j = 0, n = e->auth_mechs.len; j < n && !dup;) {
            size_t k = j;
            while (k < n && a[k] != ' ')
                k++;
            dup = k - j == i - s && g_ascii_strncasecmp(a + j, par.ptr + s, i - s) == 0;
            j = k + 1;
        }
        if (dup)
            continue;
        if (e->auth_mechs.len)
            smtp_buf_append(&e->auth_mechs, " ", 1, SMTP_MAX_SHORT_FIELD);
        smtp_buf_append(&e->auth_mechs, par.ptr + s, i - s, SMTP_MAX_SHORT_FIELD);
    }
}

static void capabilities(smtp_engine *e, cap_pos pos)
{
    smtp_capability caps[SMTP_MAX_CAPABILITIES];
    uint32_t n = 0;
    smtp_span first = e->rep_n ? rep_line(e, 0) : (smtp_span){ "", 0 };

    e->ext_mask = 0;
    e->size_limit = 0;
    smtp_buf_reset(&e->auth_mechs);
    for (uint32_t i = 1; i < e->rep_n; i++) {
        smtp_span t = rep_line(e, i);
        while (t.len && (t.ptr[t.len - 1] == ' ' || t.ptr[t.len - 1] == '\t'))
            t.len--;
        size_t k = 0;
        while (k < t.len && t.ptr[k] != ' ' && t.ptr[k] != '=')
            k++;
        if (k == 0)
            continue;
        size_t v = k;
        while (v < t.len && (t.ptr[v] == ' ' || t.ptr[v] == '='))
            v++;
        smtp_span kw = { t.ptr, k }, par = { t.ptr + v, t.len - v };
        smtp_ext x = reg_ext_lookup(kw.ptr, kw.len);
        if (x < SMTP_EXT_COUNT && x < 64)
            e->ext_mask |= 1ull << x;
        if (x == SMTP_EXT_SIZE) {
            uint64_t lim = 0;
            for (size_t j = 0; j < par.len && is_digit(par.ptr[j]); j++)
                lim = lim > (UINT64_MAX - 9) / 10 ? UINT64_MAX : lim * 10 + (uint64_t)(par.ptr[j] - '0');
            e->size_limit = lim;
        } else if (x == SMTP_EXT_AUTH && par.len) {
            /* "AUTH PLAIN LOGIN" and the old "AUTH=PLAIN LOGIN" are merged. */
            mechs_merge(e, par);
        }
        if (n < SMTP_MAX_CAPABILITIES)
            caps[n++] = (smtp_capability){ kw, par, x };
    }

    smtp_event ev = { .type = SMTP_EV_CAPABILITIES, .from = smtp_phys(e, SMTP_DIR_SERVER), .pos = pos };
    smtp_capabilities_ev *c = &ev.u.caps;
    c->caps = caps;
    c->n_caps = n;
    const char *sp = memchr(first.ptr, ' ', first.len);
    c->server_name = (smtp_span){ first.ptr, sp ? (size_t)(sp - first.ptr) : first.len };
    c->size_limit = e->size_limit;
    c->auth_mechs = (smtp_span){ e->auth_mechs.data ? e->auth_mechs.data : "", e->auth_mechs.len };
    c->ext_mask = e->ext_mask;
    smtp_emit(e, &ev);
}

/* ---- what replies change ---------------------------------------------------- */

static void txn_facts_closed(smtp_engine *e)
{
    smtp_fact_set(e, FACT_TXN, false);
    smtp_fact_set(e, FACT_RCPT, false);
    smtp_fact_set(e, FACT_BDAT, false);
    smtp_fact_set(e, FACT_BDAT_LAST, false);
}

static void hello_accepted(smtp_engine *e, const smtp_pending *pd, cap_pos pos)
{
    smtp_dir cfrom = smtp_phys(e, SMTP_DIR_CLIENT);
    smtp_buf_reset(&e->helo);
    smtp_buf_append(&e->helo, e->helo_pending.data ? e->helo_pending.data : "", e->helo_pending.len,
                    SMTP_MAX_SHORT_FIELD);
    smtp_fact_set(e, FACT_HELLO, true);
    txn_facts_closed(e);
    e->seq_unknown = false;
    smtp_txn_abort(e, smtp_txn_get(e, pd->txn_gen), cfrom, pos);
    if (pd->cmd == SMTP_CMD_EHLO) {
        e->esmtp = true;
        e->caps_known = true;
        e->helo_only = false;
        capabilities(e, pos);
    } else {
        /* A HELO session has no extensions at all. */
        e->caps_known = false;
        e->helo_only = true;
        e->ext_mask = 0;
        e->size_limit = 0;
        smtp_buf_reset(&e->auth_mechs);
    }
}

static void starttls_reply(smtp_engine *e, int code, cap_pos pos)
{
    smtp_dir cfrom = smtp_phys(e, SMTP_DIR_CLIENT);
    e->starttls_ord = 0;
    if (code / 100 != 2) {
        if (code == 454 || code == 501)
            smtp_flag(e, smtp_phys(e, SMTP_DIR_SERVER), pos, SMTP_AN_starttls_refused,
                      SMTP_CMD_STARTTLS, 0, "The server refused STARTTLS with %d", code);
        return;
    }
    bool injection = e->after_starttls > 0 || e->side[cfrom].tail_len > 0;
    smtp_event ev = { .type = SMTP_EV_STARTTLS, .from = smtp_phys(e, SMTP_DIR_SERVER), .pos = pos };
    ev.u.starttls.cmd_frame = e->starttls_frame;
    ev.u.starttls.injection = injection;
    e->tls = true;
    smtp_emit(e, &ev);
    if (injection)
        smtp_flag(e, cfrom, pos, SMTP_AN_starttls_injection, SMTP_CMD_STARTTLS, 0,
                  "The client sent %" G_GUINT64_FORMAT " plaintext bytes after STARTTLS "
                  "(frame %u) before the server's 220",
                  e->after_starttls + e->side[cfrom].tail_len, e->starttls_frame);
    smtp_txn_abort_all(e, cfrom, pos);
    smtp_auth_unfinished(e, cfrom, pos);
    /* What the client pipelined is answered inside TLS, if at all. */
    smtp_pend_clear(e);
}

static void turn_accepted(smtp_engine *e, cap_pos pos)
{
    smtp_dir cfrom = smtp_phys(e, SMTP_DIR_CLIENT);
    smtp_txn_abort_all(e, cfrom, pos);
    smtp_auth_unfinished(e, cfrom, pos);
    smtp_pend_clear(e);
    smtp_facts_reset(e);
    e->swapped = !e->swapped;
    /* The new server greets the new client, who says EHLO again. */
    e->greeting_seen = false;
    e->caps_known = e->helo_only = false;
    e->ext_mask = 0;
    e->size_limit = 0;
    e->quit_sent = false;
}

/* The queue id an accepting reply quoted, on whichever line (Exim puts it
 * on the second line of its reply to BDAT LAST). */
static smtp_span reply_queue_id(const smtp_engine *e, int code)
{
    if (code / 100 != 2)
        return (smtp_span){ 0 };
    for (uint32_t i = 0; i < e->rep_n; i++) {
        smtp_span t = rep_line(e, i), q = smtp_queue_id(t.ptr, t.len);
        if (q.len)
            return q;
    }
    return (smtp_span){ 0 };
}

static smtp_txn_outcome outcome_of(int code)
{
    switch (code / 100) {
    case 2: return SMTP_TXN_ACCEPTED;
    case 4: return SMTP_TXN_DEFERRED;
    default: return SMTP_TXN_REJECTED;
    }
}

static void reply_effects(smtp_engine *e, const smtp_pending *pd, int code, const smtp_enhanced *enh,
                          smtp_span first, cap_pos pos)
{
    smtp_dir sfrom = smtp_phys(e, SMTP_DIR_SERVER);
    bool ok = code / 100 == 2;
    smtp_txn *t = smtp_txn_get(e, pd->txn_gen);

    switch (pd->cmd) {
    case SMTP_CMD_HELO:
    case SMTP_CMD_EHLO:
        if (ok)
            hello_accepted(e, pd, pos);
        break;
    case SMTP_CMD_MAIL:
    case SMTP_CMD_SEND:
    case SMTP_CMD_SOML:
    case SMTP_CMD_SAML:
        if (t)
            smtp_txn_mail_reply(e, t, code, enh, pos);
        if (ok || code == 355) {
            smtp_fact_set(e, FACT_HELLO, true);
            txn_facts_closed(e);
            smtp_fact_set(e, FACT_TXN, true);
            e->seq_unknown = false;
        }
        break;
    case SMTP_CMD_RCPT:
        smtp_txn_rcpt_reply(e, pd->txn_gen, pd->rcpt_idx, code, enh);
        if (ok)
            smtp_fact_set(e, FACT_RCPT, true);
        break;
    case SMTP_CMD_DATA:
        if (pd->flags & PEND_SPECULATED) {
            /* The message was read on the assumption of this 354; a refusal
             * means the client is still waiting, so nothing of it was sent. */
            bool mine = e->body.data && e->body.data_seq == pd->seq;
            if (mine)
                e->body.speculative = false;
            if (code != 354 && mine)
                smtp_body_cancel(e);
        } else if (code == 354) {
            /* DATA ends a pipelined group: lines sent after it before this
             * 354 were message text sent too early, not commands, and will
             * never be answered -- up to a final dot among them, after
             * which the lines are commands again. */
            uint64_t early = 0;
            smtp_pending dot = { .cmd = SMTP_CMD_NONE };
            while (e->pend_n && !(dot.flags & PEND_DOT)) {
                smtp_pending *h = smtp_pend_peek(e, 0);
                if (h->flags & PEND_DOT)
                    dot = *h;
                else
                    early += h->text_len;
                smtp_pend_pop(e);
            }
            smtp_body_start_data(e, pd->txn_gen, pd->seq, pos);
            smtp_body_early_text(e, early, (dot.flags & PEND_DOT) ? &dot : NULL, pos);
        }
        break;
    case SMTP_CMD_DATA_END:
        smtp_txn_finish(e, t, outcome_of(code), code, enh, first.ptr, first.len,
                            reply_queue_id(e, code), sfrom, pos);
        txn_facts_closed(e);
        break;
    case SMTP_CMD_BDAT:
        if (pd->flags & PEND_BDAT_BAD)
            break; /* refused for its syntax: no chunk, no change */
        if (!ok && e->body.chunk_active && e->body.chunk_implausible && e->body.data_seq == pd->seq)
            e->body.chunk_active = false; /* refused before its absurd chunk: resynchronise */
        if (ok)
            smtp_fact_set(e, FACT_BDAT, true);
        if (!ok || (pd->flags & PEND_BDAT_LAST))
            smtp_txn_finish(e, t, outcome_of(code), code, enh, first.ptr, first.len,
                            reply_queue_id(e, code), sfrom, pos);
        /* The transaction is over: a BDAT now has none to belong to
         * (data_without_rcpt), which bdat_after_last no longer describes. */
        if (!ok || (pd->flags & PEND_BDAT_LAST))
            txn_facts_closed(e);
        break;
    case SMTP_CMD_RSET:
        if (ok) {
            smtp_txn_abort(e, t, smtp_phys(e, SMTP_DIR_CLIENT), pos);
            txn_facts_closed(e);
            e->seq_unknown = false;
        }
        break;
    case SMTP_CMD_QUIT:
        /* QUIT ends whatever transaction is still open, accepted or not. */
        smtp_txn_abort_all(e, smtp_phys(e, SMTP_DIR_CLIENT), pos);
        if (ok)
            e->quit_ok = true;
        break;
    case SMTP_CMD_STARTTLS:
        starttls_reply(e, code, pos);
        break;
    case SMTP_CMD_AUTH:
    case SMTP_CMD_AUTH_RESPONSE:
        smtp_auth_reply(e, code, enh, sfrom, pos);
        break;
    case SMTP_CMD_TURN:
    case SMTP_CMD_ATRN:
        if (code == 250)
            turn_accepted(e, pos);
        break;
    default:
        break;
    }
    smtp_facts_settle(e, pd->ord);
    if (t && t->mail_refused)
        smtp_txn_settle_refused(e, t, sfrom, pos);
}

/* ---- the reply event ---------------------------------------------------------- */

static void reply_complete(smtp_engine *e, cap_pos pos)
{
    smtp_dir sfrom = smtp_phys(e, SMTP_DIR_SERVER);
    int code = e->rep_code;
    smtp_pending pd = { .cmd = SMTP_CMD_NONE };
    pair_result pr = PAIR_NONE;

    e->rep_active = false;
    e->n_replies++;
    /* A reply while the client is still in a DATA body ends the body (its
     * final dot was lost, or the server gave up waiting). */
    if (e->body.data && !e->body.speculative)
        smtp_body_end_abrupt(e, pos);

    smtp_span first = e->rep_n ? rep_line(e, 0) : (smtp_span){ "", 0 };
    smtp_enhanced enh = { 0 };
    reg_enhanced_parse(first.ptr, first.len, &enh);

    /* Midstream captures assume the greeting was missed; a 220 as the very
     * first reply (not to STARTTLS) shows it was not. */
    smtp_pending *head = smtp_pend_peek(e, 0);
    bool late_greeting = e->opts.midstream && e->n_replies == 1 && code == 220 &&
                         !(head && head->cmd == SMTP_CMD_STARTTLS);
    if (!e->greeting_seen || late_greeting) {
        e->greeting_seen = true;
        if (e->early_frame && !e->early_flagged) {
            e->early_flagged = true;
            smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_early_talker, SMTP_CMD_NONE, 0,
                      "The client sent data (from frame %u on) before the server's greeting",
                      e->early_frame);
        }
        pd.cmd = SMTP_CMD_GREETING;
        pd.ts_ns = -1;
    } else {
        pr = pair(e, code, &enh, &pd);
        /* More replies than commands after a message with a smuggled end
         * of data: the server ended it there and read the rest as commands. */
        if (pr == PAIR_NONE && smtp_body_replay_smuggled(e))
            pr = pair(e, code, &enh, &pd);
        if (pr != PAIR_CMD)
            pd = (smtp_pending){ .cmd = SMTP_CMD_NONE };
    }
    bool paired = pr == PAIR_CMD;

    smtp_span lines[SMTP_MAX_REPLY_LINES];
    for (uint32_t i = 0; i < e->rep_n; i++)
        lines[i] = rep_line(e, i);

    smtp_event ev = { .type = SMTP_EV_REPLY, .from = sfrom, .pos = pos };
    smtp_reply_ev *r = &ev.u.reply;
    r->code = code;
    r->lines = lines;
    r->n_lines = e->rep_n;
    r->n_lines_total = e->rep_total;
    r->enhanced = enh;
    r->answers = pd.cmd;
    r->cmd_seq = paired ? pd.seq : 0;
    r->cmd_frame = paired ? pd.frame : 0;
    r->latency_ns = paired ? pos.ts_ns - pd.ts_ns : -1;
    r->valid = reg_reply_valid_for(pd.cmd, code);
    r->category = reg_reply_category(code);
    r->subject = reg_reply_subject(code);
    r->meaning = reg_reply_meaning(code, pd.cmd);
    r->command_label = reg_command_reply_label(pd.cmd);
    if (enh.present) {
        r->enh_class = reg_enhanced_class_name(enh.cls);
        r->enh_subject = reg_enhanced_subject_name(enh.subject);
        r->enh_meaning = reg_enhanced_detail_meaning(enh.subject, enh.detail);
    }
    r->first_frame = e->rep_first_frame;
    smtp_emit(e, &ev);

    const char *cv = smtp_cmd_text(pd.cmd);
    if (enh.present && enh.cls != code / 100) {
        char eb[16];
        smtp_flag(e, sfrom, pos, SMTP_AN_enhanced_class_mismatch, pd.cmd, r->cmd_seq,
                  "Reply %d carries enhanced code %s of another class", code,
                  reg_enhanced_format(&enh, eb, sizeof eb));
    }
    /* RFC 5321 3.8: a server that must shut down may send 421 unprompted;
     * Exchange sends "451 4.7.0 Timeout waiting for client input" instead
     * (zeek smtp-multi-addr, frame 18).  Neither answers a command. */
    bool client_silent = e->side[smtp_phys(e, SMTP_DIR_CLIENT)].bytes == 0;
    if (pr == PAIR_NONE && pd.cmd == SMTP_CMD_NONE && client_silent) {
        /* A capture of the server side alone: said once, not per reply. */
        if (!e->client_silent_flagged) {
            e->client_silent_flagged = true;
            smtp_flag(e, sfrom, pos, SMTP_AN_reply_without_command, SMTP_CMD_NONE, 0,
                      "Reply %d came but nothing from the client was captured: the replies "
                      "have no command to answer", code);
        }
    } else if (pr == PAIR_NONE && pd.cmd == SMTP_CMD_NONE && !e->seq_unknown && code != 421 &&
        code != 451) {
        char tb[80];
        smtp_flag(e, sfrom, pos, SMTP_AN_reply_without_command, SMTP_CMD_NONE, 0,
                  "Reply %d \"%s\" came with no command waiting for it", code,
                  smtp_quote(tb, sizeof tb, first.ptr, first.len));
    } else if ((paired || pd.cmd == SMTP_CMD_GREETING) && !r->valid) {
        smtp_flag(e, sfrom, pos, SMTP_AN_unexpected_reply, pd.cmd, r->cmd_seq,
                  "Reply %d is not a valid reply to %s", code, cv);
    }
    if (paired && e->opts.slow_reply_ns > 0 && r->latency_ns > e->opts.slow_reply_ns)
        smtp_flag(e, sfrom, pos, SMTP_AN_slow_reply, pd.cmd, pd.seq,
                  "Reply %d to %s came %.3f s after it", code, cv, (double)r->latency_ns / 1e9);
    if (code == 503)
        smtp_flag(e, sfrom, pos, SMTP_AN_server_bad_sequence, pd.cmd, r->cmd_seq,
                  "The server answered 503 (bad sequence of commands) to %s", cv);
    if (code == 221 || code == 421 || code == 521)
        e->server_closing = true;
    if (code == 221)
        e->saw_221 = true;
    if (code == 421)
        smtp_flag(e, sfrom, pos, SMTP_AN_service_closing, pd.cmd, r->cmd_seq,
                  "The server sent 421 %s%s: it is closing the channel",
                  pd.cmd == SMTP_CMD_NONE ? "unprompted" : "in reply to ",
                  pd.cmd == SMTP_CMD_NONE ? "" : cv);
    if (pd.cmd == SMTP_CMD_GREETING && code == 554)
        smtp_flag(e, sfrom, pos, SMTP_AN_no_smtp_service, SMTP_CMD_GREETING, 0,
                  "The server greeted with 554: no SMTP service here");

    if (paired)
        reply_effects(e, &pd, code, &enh, first, pos);
}

/* ---- lines ------------------------------------------------------------------ */

void smtp_server_flush(smtp_engine *e, cap_pos pos, bool emit)
{
    if (!e->rep_active)
        return;
    if (emit)
        reply_complete(e, pos);
    else
        e->rep_active = false;
}

static bool is_reply_start(const char *p, size_t n)
{
    return n >= 3 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) &&
           (n == 3 || p[3] == '-' || p[3] == ' ');
}

/* Where a greeting starts inside a line that began with a binary proxy
 * handshake (a SOCKS reply has no line end of its own): the first "220 " or
 * "220-" with a byte that is no printable ASCII before it.  n if none. */
static size_t greeting_after_binary(const char *p, size_t n)
{
    bool binary = false;
    for (size_t i = 0; i + 4 <= n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c > 0x7e)
            binary = true;
        else if (binary && p[i] == '2' && p[i + 1] == '2' && p[i + 2] == '0' &&
                 (p[i + 3] == ' ' || p[i + 3] == '-'))
            return i;
    }
    return n;
}

/* A server line that is no reply before the greeting: a proxy talking
 * first ("HTTP/1.0 200 Connection established").  Reported once; past
 * SMTP_MAX_PREAMBLE_LINES the stream is declared not SMTP. */
static void preamble_line(smtp_engine *e, const char *p, size_t n, cap_pos pos)
{
    smtp_dir sfrom = smtp_phys(e, SMTP_DIR_SERVER);
    char tb[80];
    smtp_quote(tb, sizeof tb, p, n);
    if (++e->preamble_lines > SMTP_MAX_PREAMBLE_LINES) {
        e->not_smtp = true;
        smtp_flag(e, sfrom, pos, SMTP_AN_not_smtp, SMTP_CMD_NONE, 0,
                  "No SMTP greeting in the server's first %d lines (the last: \"%s\"); the "
                  "rest is not analysed", SMTP_MAX_PREAMBLE_LINES, tb);
    } else if (e->preamble_lines == 1) {
        smtp_flag(e, sfrom, pos, SMTP_AN_greeting_preamble, SMTP_CMD_NONE, 0,
                  "The server sent \"%s\" before any SMTP greeting; lines that are no reply "
                  "are skipped until a greeting", tb);
    }
}

void smtp_server_line(smtp_engine *e, const smtp_line *ln, cap_pos pos)
{
    smtp_dir sfrom = smtp_phys(e, SMTP_DIR_SERVER);
    const char *p = ln->ptr;
    size_t n = ln->len;

    if (!e->greeting_seen && !e->rep_active && !is_reply_start(p, n)) {
        size_t g = greeting_after_binary(p, n);
        if (g == n) {
            preamble_line(e, p, n, pos);
            return;
        }
        preamble_line(e, p, g, pos);
        if (e->not_smtp)
            return;
        p += g;
        n -= g;
    }
    if (!e->greeting_seen && e->preamble_lines && !e->rep_active) {
        /* What the client sent so far went to the proxy, and what it has
         * not finished is the rest of its handshake: none of it is SMTP. */
        smtp_pend_clear(e);
        smtp_facts_reset(e);
        smtp_client_drop_tail(e);
    }
    if (!is_reply_start(p, n)) {
        char tb[80];
        smtp_flag(e, sfrom, pos, SMTP_AN_malformed_reply, SMTP_CMD_NONE, 0,
                  "Reply line \"%s\" does not start with a three-digit code",
                  smtp_quote(tb, sizeof tb, p, n));
        return;
    }
    int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    bool more = n > 3 && p[3] == '-';
    const char *text = n > 4 ? p + 4 : p + n;
    size_t tlen = n > 4 ? n - 4 : 0;

    if (!e->rep_active) {
        e->rep_active = true;
        e->rep_code = code;
        e->rep_mismatch = e->rep_too_long = false;
        e->rep_first_frame = ln->first_frame;
        e->rep_n = e->rep_total = 0;
        smtp_buf_reset(&e->rep_text);
    } else if (code != e->rep_code && !e->rep_mismatch) {
        e->rep_mismatch = true;
        smtp_flag(e, sfrom, pos, SMTP_AN_multiline_code_mismatch, SMTP_CMD_NONE, 0,
                  "A multi-line reply started with %d and went on with %d", e->rep_code, code);
    }
    if (ln->wire_len > SMTP_REPLY_LINE_MAX)
        smtp_flag(e, sfrom, pos, SMTP_AN_reply_line_too_long, SMTP_CMD_NONE, 0,
                  "Reply %d line is %" G_GUINT64_FORMAT " octets long (limit %d)", code,
                  ln->wire_len, SMTP_REPLY_LINE_MAX);

    bool kept = false;
    if (e->rep_n < SMTP_MAX_REPLY_LINES) {
        uint32_t off = e->rep_text.len;
        size_t got = smtp_buf_append(&e->rep_text, text, tlen, SMTP_MAX_REPLY_BYTES);
        if (got == tlen) {
            e->rep_off[e->rep_n] = off;
            e->rep_len[e->rep_n] = (uint32_t)got;
            e->rep_n++;
            kept = true;
        } else {
            e->rep_text.len = off;
        }
    }
    if (e->rep_total < UINT32_MAX)
        e->rep_total++;
    if (!kept && !e->rep_too_long) {
        e->rep_too_long = true;
        smtp_flag(e, sfrom, pos, SMTP_AN_reply_too_long, SMTP_CMD_NONE, 0,
                  "Reply %d has more than %d lines or %d bytes; the rest is only counted",
                  code, SMTP_MAX_REPLY_LINES, SMTP_MAX_REPLY_BYTES);
    }
    if (!more)
        reply_complete(e, pos);
}
