/* smtp_engine.c -- public entry points of the SMTP engine: splitting each
 * direction into lines, handing them to the client or server parser,
 * gaps, the end of the conversation, and event emission.
 *
 * Complete lines are parsed in place in the caller's buffer; only the
 * unfinished tail of a line is copied, into a per-direction buffer of at
 * most SMTP_MAX_LINE_BUF bytes.  A line longer than that is cut at that
 * length whether it arrived in one piece or in many, so the result does not
 * depend on how the bytes were split.
 *
 * Choices the public header leaves open, made here and kept in one list:
 * - Sequence rules see what the client could know: replies received, plus
 *   every command still waiting counted as if it will succeed (smtp_fact).
 *   AUTH and STARTTLS need an accepted HELO/EHLO like MAIL does.
 * - Commands sent before the greeting are early talk (early_talker, flagged
 *   when the greeting comes, so never in a capture of the client side
 *   alone) and get no sequence or pipelining verdict of their own.
 * - Once per pipelined group (until no command waits): pipeline_not_last and
 *   pipelining_not_advertised.  Once per direction: bare_lf and bare_cr on
 *   command/reply lines; once per message inside a body.
 * - End of data is CRLF.CRLF only; the bare-LF/CR variants are flagged as
 *   smtp_smuggling and the message goes on (see smtp_body.c).  The text
 *   after an LF-ended smuggled dot is kept (bounded); if a reply then comes
 *   with no command waiting, the server took that dot as the end, and the
 *   kept text is read again as the commands it saw.
 * - A DATA sent before any server byte starts the message at once (a
 *   capture of the client side alone never shows the 354); a refusal
 *   cancels it.  Replies with no client byte captured are flagged once.
 * - A 354 clears the commands still waiting: whatever followed DATA before
 *   it was message text sent too early, and gets no reply.
 * - A reply while the client is in a DATA body ends the body (its dot was
 *   lost); after a client gap in a body, the first line that is clearly a
 *   command ends it too.  Two messages are never merged.
 * - Gaps: a client gap leaves a placeholder that absorbs replies fitting
 *   no real command; after a server gap, waiting commands a reply does not
 *   fit are skipped.  Sequence verdicts pause until a HELO/EHLO/MAIL reply
 *   or RSET re-establishes the state (as in midstream mode).
 * - A midstream capture's first RCPT, DATA or BDAT opens a transaction
 *   whose MAIL was not captured (empty reverse-path, MAIL code 0).
 * - TURN and ATRN accepted with 250 swap the roles; events then name the
 *   physical side (smtp_event.from) that sent the bytes.
 * - A client line that is no command, sent while AUTH waits for its reply,
 *   is taken as a SASL response (and masked) rather than leak a password.
 * - A BDAT size above SMTP_BDAT_PLAUSIBLE_MAX is flagged bad_bdat_size; its
 *   chunk is counted, but a refusal of that BDAT ends it.
 * - Server lines that are no reply before the greeting are a proxy's
 *   (HTTP CONNECT, SOCKS): one greeting_preamble anomaly, skipped up to
 *   SMTP_MAX_PREAMBLE_LINES; the greeting may follow binary bytes on the
 *   same line.  What the client sent until then went to the proxy: its
 *   commands are dropped unanswered.  No greeting within the bound, or by
 *   the end: one not_smtp anomaly and the rest is only counted.
 * - An unprompted 421 is not a reply_without_command (RFC 5321 3.8), nor
 *   Exchange's unprompted 451 idle timeout.
 * - A BDAT whose arguments do not parse carries no chunk (servers refuse
 *   it without reading one) and its refusal ends nothing.
 * - Lines sent after DATA before its 354 were message text: the 354 turns
 *   them into the message, up to a final dot among them; lines after that
 *   dot stay commands.
 * - QUIT's reply ends any transaction still open (aborted).
 * - After a 221, 421 or 521 the server is closing: commands left waiting at
 *   the end are not reported unanswered.
 * - After a client gap, a reply with an addressing enhanced code (X.1.Y)
 *   goes to the lost commands, not to a DATA or BDAT sent after the hole.
 */
#include <stdarg.h>
#include <string.h>

#include "smtp_internal.h"

/* ---- bounded buffers -------------------------------------------------- */

size_t smtp_buf_append(smtp_buf *b, const void *p, size_t n, size_t max)
{
    if (b->len >= max)
        return 0;
    if (n > max - b->len)
        n = max - b->len;
    if (n == 0)
        return 0;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n)
            cap *= 2;
        if (cap > max)
            cap = max;
        b->data = g_realloc(b->data, cap);
        b->cap = (uint32_t)cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += (uint32_t)n;
    return n;
}

void smtp_buf_reset(smtp_buf *b)
{
    b->len = 0;
}

void smtp_buf_free(smtp_buf *b)
{
    g_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* ---- events ----------------------------------------------------------- */

smtp_dir smtp_phys(const smtp_engine *e, smtp_dir role)
{
    return e->swapped ? (smtp_dir)(1 - role) : role;
}

void smtp_emit(smtp_engine *e, smtp_event *ev)
{
    if (e->sink.on_event)
        e->sink.on_event(e->user, ev);
}

void smtp_flag(smtp_engine *e, smtp_dir from, cap_pos pos, smtp_anomaly kind,
               smtp_cmd cmd, uint32_t seq, const char *fmt, ...)
{
    char msg[384];
    va_list ap;
    va_start(ap, fmt);
    g_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    smtp_event ev = { .type = SMTP_EV_ANOMALY, .from = from, .pos = pos };
    ev.u.anomaly.kind = kind;
    ev.u.anomaly.cmd = cmd;
    ev.u.anomaly.cmd_seq = seq;
    ev.u.anomaly.message = msg;
    e->n_anomalies++;
    smtp_emit(e, &ev);
}

const char *smtp_cmd_text(smtp_cmd cmd)
{
    switch (cmd) {
    case SMTP_CMD_NONE: return "no command";
    case SMTP_CMD_UNKNOWN: return "an unknown command";
    case SMTP_CMD_GREETING: return "the greeting";
    case SMTP_CMD_DATA_END: return "end of data";
    case SMTP_CMD_AUTH_RESPONSE: return "an AUTH response";
    default: return reg_command_verb(cmd);
    }
}

const char *smtp_quote(char *buf, size_t size, const char *p, size_t n)
{
    /* Messages are one readable sentence: control and 8-bit bytes become
     * '?', long text is cut with "...". */
    size_t keep = n, i, o = 0;
    bool cut = false;
    if (size < 8) {
        buf[0] = '\0';
        return buf;
    }
    if (keep > size - 4) {
        keep = size - 4;
        cut = true;
    }
    for (i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)p[i];
        buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (cut) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

/* ---- lifetime ---------------------------------------------------------- */

smtp_engine *smtp_engine_new(const smtp_sink *sink, void *user, const smtp_options *opts)
{
    smtp_engine *e = g_new0(smtp_engine, 1);
    if (sink)
        e->sink = *sink;
    e->user = user;
    if (opts)
        e->opts = *opts;
    if (e->opts.slow_reply_ns == 0)
        e->opts.slow_reply_ns = 10LL * 1000000000LL;
    if (e->opts.midstream) {
        /* Assume the greeting and HELO happened before the capture began. */
        e->greeting_seen = true;
        e->fact[FACT_HELLO].act = true;
        e->seq_unknown = true;
    }
    e->body.mark = MK_BOL;
    return e;
}

void smtp_engine_free(smtp_engine *e)
{
    if (!e)
        return;
    for (int d = 0; d < 2; d++)
        smtp_buf_free(&e->side[d].tail);
    g_free(e->pend);
    smtp_buf_free(&e->rep_text);
    smtp_buf_free(&e->auth_mechs);
    smtp_buf_free(&e->helo);
    smtp_buf_free(&e->helo_pending);
    smtp_buf_free(&e->auth_user);
    smtp_buf_free(&e->body.smug);
    smtp_auth_free(&e->auth);
    smtp_txn_free_all(e);
    g_free(e);
}

bool smtp_in_tls(const smtp_engine *e)
{
    return e && e->tls;
}

/* ---- lines ------------------------------------------------------------- */

/* Whether a line starts the way a `role` line does: a known command verb
 * for the client, a three-digit code for the server. */
static bool line_looks_whole(smtp_dir role, const smtp_line *ln)
{
    if (role == SMTP_DIR_SERVER)
        return ln->len >= 3 && g_ascii_isdigit(ln->ptr[0]) && g_ascii_isdigit(ln->ptr[1]) &&
               g_ascii_isdigit(ln->ptr[2]) &&
               (ln->len == 3 || ln->ptr[3] == ' ' || ln->ptr[3] == '-');
    const char *sp = memchr(ln->ptr, ' ', ln->len);
    size_t vlen = sp ? (size_t)(sp - ln->ptr) : ln->len;
    return reg_command_lookup(ln->ptr, vlen) != SMTP_CMD_UNKNOWN;
}

static void line_dispatch(smtp_engine *e, smtp_dir dir, smtp_line *ln, cap_pos pos)
{
    smtp_side *s = &e->side[dir];
    smtp_dir role = smtp_phys(e, dir); /* the mapping is its own inverse */

    /* A gap rarely ends on a line boundary: the first line after it is most
     * likely the tail of a line whose start was lost.  Unless it reads as a
     * whole command or reply, it is not one; the gap was already reported. */
    if (s->after_gap) {
        s->after_gap = false;
        bool in_recovery = role == SMTP_DIR_CLIENT && e->body.data && e->body.recover;
        if (!in_recovery && !line_looks_whole(role, ln))
            return;
    }

    if (ln->len > 0 && memchr(ln->ptr, '\r', ln->len))
        ln->bare_cr = true;
    if (ln->bare_lf && !s->bare_lf_seen) {
        s->bare_lf_seen = true;
        smtp_flag(e, dir, pos, SMTP_AN_bare_lf, SMTP_CMD_NONE, 0,
                  "The %s ended a line with a bare LF instead of CRLF",
                  role == SMTP_DIR_CLIENT ? "client" : "server");
    }
    if (ln->bare_cr && !s->bare_cr_seen) {
        s->bare_cr_seen = true;
        smtp_flag(e, dir, pos, SMTP_AN_bare_cr, SMTP_CMD_NONE, 0,
                  "The %s sent a bare CR inside a line",
                  role == SMTP_DIR_CLIENT ? "client" : "server");
    }
    if (role == SMTP_DIR_CLIENT) {
        if (e->body.data && e->body.recover)
            smtp_body_recover_line(e, ln, pos);
        else
            smtp_client_line(e, ln, pos);
    } else {
        smtp_server_line(e, ln, pos);
    }
}

static void overflow_note(smtp_engine *e, smtp_dir dir, cap_pos pos)
{
    smtp_flag(e, dir, pos, SMTP_AN_line_buffer_overflow, SMTP_CMD_NONE, 0,
              "A %s line exceeded %d bytes; only its first %d bytes were kept",
              smtp_phys(e, dir) == SMTP_DIR_CLIENT ? "client" : "server",
              SMTP_MAX_LINE_BUF, SMTP_MAX_LINE_BUF);
}

/* Complete the line whose last bytes are p[0..n) followed by LF. */
static void line_complete(smtp_engine *e, smtp_dir dir, const char *p, size_t n, cap_pos pos)
{
    smtp_side *s = &e->side[dir];
    smtp_line ln = { 0 };
    uint64_t total = s->tail_len + n;

    ln.wire_len = total + 1;
    if (s->tail_len == 0) {
        ln.ptr = p;
        ln.len = n;
        ln.first_frame = pos.frame;
        if (n > SMTP_MAX_LINE_BUF) {
            overflow_note(e, dir, pos);
            ln.len = SMTP_MAX_LINE_BUF;
        }
    } else {
        if (!s->skipping) {
            size_t room = SMTP_MAX_LINE_BUF - s->tail.len;
            if (n > room) {
                overflow_note(e, dir, pos);
                s->skipping = true;
            }
            smtp_buf_append(&s->tail, p, n, SMTP_MAX_LINE_BUF);
        }
        ln.ptr = s->tail.data;
        ln.len = s->tail.len;
        ln.first_frame = s->tail_frame;
    }
    /* The line end: CR LF, or LF alone.  The CR is dropped only when it is
     * still at the end of what was kept (a cut line lost it anyway). */
    char before = n > 0 ? p[n - 1] : s->tail_last;
    if (total > 0 && before == '\r') {
        if (ln.len == total)
            ln.len--;
    } else {
        ln.bare_lf = true;
    }
    /* Resetting only forgets the length: ln still points at the bytes, and
     * nothing in the dispatch appends to this side's buffer. */
    s->tail_len = 0;
    s->skipping = false;
    smtp_buf_reset(&s->tail);
    line_dispatch(e, dir, &ln, pos);
}

static void line_tail(smtp_engine *e, smtp_dir dir, const char *p, size_t n, cap_pos pos)
{
    smtp_side *s = &e->side[dir];
    if (s->tail_len == 0)
        s->tail_frame = pos.frame;
    s->tail_len += n;
    if (n > 0)
        s->tail_last = p[n - 1];
    if (!s->skipping) {
        size_t kept = smtp_buf_append(&s->tail, p, n, SMTP_MAX_LINE_BUF);
        if (kept < n || s->tail_len > SMTP_MAX_LINE_BUF) {
            overflow_note(e, dir, pos);
            s->skipping = true;
        }
    }
}

/* Throw away an unfinished line (gap, TLS). */
static void line_drop(smtp_side *s)
{
    s->tail_len = 0;
    s->skipping = false;
    smtp_buf_reset(&s->tail);
}

void smtp_client_drop_tail(smtp_engine *e)
{
    line_drop(&e->side[smtp_phys(e, SMTP_DIR_CLIENT)]);
}

/* Hand the unfinished client line to the body scanner: the 354 made what
 * the client sent after DATA part of the message. */
static void tail_to_body(smtp_engine *e, smtp_dir dir, cap_pos pos)
{
    smtp_side *s = &e->side[dir];
    if (s->tail_len == 0)
        return;
    smtp_buf tmp = s->tail;
    s->tail = (smtp_buf){ 0 };
    line_drop(s);
    size_t off = 0;
    while (off < tmp.len && smtp_body_active(e) && !e->body.recover)
        off += smtp_body_feed(e, (const uint8_t *)tmp.data + off, tmp.len - off, pos);
    smtp_buf_free(&tmp);
}

void smtp_feed(smtp_engine *e, smtp_dir dir, const uint8_t *buf, size_t len, cap_pos pos)
{
    if (!e || (dir != SMTP_DIR_CLIENT && dir != SMTP_DIR_SERVER))
        return;
    e->side[dir].bytes += len;
    if (e->tls || e->not_smtp || e->ended || len == 0)
        return;

    const char *p = (const char *)buf, *end = p + len;
    while (p < end && !e->tls && !e->not_smtp) {
        smtp_dir role = smtp_phys(e, dir);
        /* Checked per step, not per call: a TURN inside this very buffer
         * can make these bytes the client's. */
        /* Early talk is reported when the greeting shows it was early: in a
         * capture of the client side alone the greeting was only missed. */
        if (role == SMTP_DIR_CLIENT && !e->greeting_seen && !e->early_frame)
            e->early_frame = pos.frame ? pos.frame : 1;
        if (role == SMTP_DIR_CLIENT && smtp_body_active(e) && !e->body.recover) {
            if (e->side[dir].tail_len)
                tail_to_body(e, dir, pos);
            p += smtp_body_feed(e, (const uint8_t *)p, (size_t)(end - p), pos);
            continue;
        }
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        if (!lf) {
            line_tail(e, dir, p, (size_t)(end - p), pos);
            break;
        }
        line_complete(e, dir, p, (size_t)(lf - p), pos);
        p = lf + 1;
    }
}

/* ---- gaps -------------------------------------------------------------- */

void smtp_gap(smtp_engine *e, smtp_dir dir, uint64_t len, cap_pos pos)
{
    if (!e || (dir != SMTP_DIR_CLIENT && dir != SMTP_DIR_SERVER))
        return;
    e->side[dir].bytes += len;
    e->side[dir].gap_bytes += len;
    if (e->tls || e->not_smtp || e->ended)
        return;

    smtp_dir role = smtp_phys(e, dir);
    smtp_flag(e, dir, pos, SMTP_AN_gap, SMTP_CMD_NONE, 0,
              "%" G_GUINT64_FORMAT " bytes from the %s were not captured", len,
              role == SMTP_DIR_CLIENT ? "client" : "server");
    line_drop(&e->side[dir]);
    e->side[dir].after_gap = true;
    e->seq_unknown = true;

    if (role == SMTP_DIR_SERVER) {
        /* Replies to the commands now waiting may be among the lost bytes:
         * mark them so the next reply can skip those it does not fit. */
        smtp_server_flush(e, pos, false);
        for (uint32_t i = 0; i < e->pend_n; i++)
            smtp_pend_peek(e, i)->flags |= PEND_UNCERTAIN;
        return;
    }

    smtp_txn *bt = smtp_txn_get(e, e->body.txn_gen);
    if (e->body.chunk_active) {
        uint64_t take = len < e->body.chunk_left ? len : e->body.chunk_left;
        e->body.chunk_left -= take;
        if (bt)
            bt->size += take;
        len -= take;
        if (e->body.chunk_left == 0)
            e->body.chunk_active = false;
        if (len == 0) {
            e->side[dir].after_gap = false; /* lost inside the chunk: still in step */
            return;
        }
    } else if (e->body.data) {
        /* The final dot may be in the hole: read the rest line by line and
         * stop at the first command or reply. */
        e->body.recover = true;
        if (bt)
            bt->size += len;
        return;
    }
    /* Commands may have been lost: a placeholder takes their replies. */
    smtp_pending *pl = smtp_pend_push(e, SMTP_CMD_NONE, 0, pos);
    if (pl)
        pl->flags |= PEND_LOST;
}

/* ---- end --------------------------------------------------------------- */

static smtp_conv_outcome conv_outcome(const smtp_engine *e, bool cut)
{
    if (e->tls)
        return SMTP_CONV_TLS;
    if (e->n_accepted)
        return SMTP_CONV_DELIVERED;
    if (cut)
        return SMTP_CONV_CUT_OFF;
    if (e->n_deferred)
        return SMTP_CONV_DEFERRED;
    if (e->n_rejected)
        return SMTP_CONV_REJECTED;
    return SMTP_CONV_NO_MAIL;
}

static void flush_tail(smtp_engine *e, smtp_dir dir, cap_pos pos)
{
    smtp_side *s = &e->side[dir];
    if (s->tail_len == 0)
        return;
    smtp_line ln = { 0 };
    ln.ptr = s->tail.data;
    ln.len = s->tail.len;
    ln.wire_len = s->tail_len;
    ln.first_frame = s->tail_frame;
    /* Keep the bytes alive while dispatching; the line buffer is reset after. */
    smtp_buf tmp = s->tail;
    s->tail = (smtp_buf){ 0 };
    line_drop(s);
    line_dispatch(e, dir, &ln, pos);
    smtp_buf_free(&tmp);
}

void smtp_end(smtp_engine *e, smtp_end_reason reason, cap_pos pos)
{
    if (!e || e->ended)
        return;
    smtp_dir cdir = smtp_phys(e, SMTP_DIR_CLIENT), sdir = smtp_phys(e, SMTP_DIR_SERVER);
    bool cut = false;

    if (!e->tls && !e->not_smtp) {
        if (!(smtp_body_active(e) && !e->body.recover))
            flush_tail(e, cdir, pos);
        flush_tail(e, sdir, pos);
    }
    if (!e->tls && !e->not_smtp && e->preamble_lines && !e->greeting_seen) {
        e->not_smtp = true;
        smtp_flag(e, sdir, pos, SMTP_AN_not_smtp, SMTP_CMD_NONE, 0,
                  "The server sent %u line%s but no SMTP greeting; the conversation is not "
                  "analysed", e->preamble_lines, e->preamble_lines == 1 ? "" : "s");
    }
    if (!e->tls && !e->not_smtp) {
        smtp_server_flush(e, pos, true);

        uint32_t reported = 0, extra = 0;
        if (e->side[sdir].bytes == 0 && e->pend_n) {
            /* Not one server byte: its side was not captured.  One anomaly
             * says so instead of one per command. */
            smtp_flag(e, cdir, pos, SMTP_AN_unanswered_command, SMTP_CMD_NONE, 0,
                      "Nothing from the server was captured: %u commands have no reply",
                      e->pend_n);
            reported = e->pend_n;
        }
        for (uint32_t i = reported; i < e->pend_n; i++) {
            smtp_pending *pd = smtp_pend_peek(e, i);
            /* After 221, 421 or 521 the server said it closes: silence is its answer. */
            if (pd->flags & (PEND_LOST | PEND_UNCERTAIN) || e->server_closing)
                continue;
            if (reported < SMTP_MAX_UNANSWERED_REPORTS) {
                const char *what = smtp_cmd_text(pd->cmd);
                smtp_flag(e, cdir, pos, SMTP_AN_unanswered_command, pd->cmd, pd->seq,
                          "Command %u (%s, frame %u) was never answered",
                          pd->seq, what, pd->frame);
                reported++;
            } else {
                extra++;
            }
        }
        if (extra)
            smtp_flag(e, cdir, pos, SMTP_AN_unanswered_command, SMTP_CMD_NONE, 0,
                      "%u more commands were never answered", extra);

        if (smtp_body_active(e)) {
            smtp_txn *bt = smtp_txn_get(e, e->body.txn_gen);
            smtp_flag(e, cdir, pos, SMTP_AN_cut_off_in_data, SMTP_CMD_NONE, 0,
                      "The conversation ended in the middle of message data (%" G_GUINT64_FORMAT
                      " octets seen)", bt ? bt->size : 0);
            cut = true;
        }
        /* A 221 shows the session was closed properly even if the QUIT
         * before it was not captured. */
        if (!e->quit_sent && !e->quit_ok && !e->saw_221)
            smtp_flag(e, cdir, pos, SMTP_AN_cut_off, SMTP_CMD_NONE, 0,
                      "The conversation ended (%s) without QUIT", smtp_end_reason_name(reason));
        if (smtp_txn_any_open(e)) {
            cut = true;
            smtp_txn_abort_all(e, cdir, pos);
        }
        smtp_auth_unfinished(e, cdir, pos);
    }

    smtp_event ev = { .type = SMTP_EV_END, .from = cdir, .pos = pos };
    smtp_end_ev *en = &ev.u.end;
    en->reason = reason;
    en->outcome = conv_outcome(e, cut);
    en->helo = (smtp_span){ e->helo.data, e->helo.len };
    en->esmtp = e->esmtp;
    en->tls = e->tls;
    en->auth_ok = e->auth_ok;
    en->auth_user = (smtp_span){ e->auth_user.data, e->auth_user.len };
    en->quit = e->quit_sent;
    en->n_commands = e->n_commands;
    en->n_replies = e->n_replies;
    en->n_transactions = e->n_txn;
    en->n_accepted = e->n_accepted;
    en->n_rejected = e->n_rejected;
    en->n_deferred = e->n_deferred;
    en->n_aborted = e->n_aborted;
    en->n_anomalies = e->n_anomalies;
    for (int d = 0; d < 2; d++) {
        en->bytes[d] = e->side[d].bytes;
        en->gap_bytes[d] = e->side[d].gap_bytes;
    }
    e->ended = true;
    smtp_emit(e, &ev);
}

/* ---- names ------------------------------------------------------------- */

const char *smtp_end_reason_name(smtp_end_reason r)
{
    static const char *const names[] = { "fin", "rst", "idle", "eof", "evicted" };
    return (unsigned)r < G_N_ELEMENTS(names) ? names[r] : "unknown";
}

const char *smtp_conv_outcome_name(smtp_conv_outcome o)
{
    static const char *const names[] = { "delivered", "rejected", "deferred",
                                         "no_mail", "cut_off", "tls" };
    return (unsigned)o < G_N_ELEMENTS(names) ? names[o] : "unknown";
}

const char *smtp_txn_outcome_name(smtp_txn_outcome o)
{
    static const char *const names[] = { "accepted", "rejected", "deferred",
                                         "aborted", "mail_rejected" };
    return (unsigned)o < G_N_ELEMENTS(names) ? names[o] : "unknown";
}

const char *smtp_rcpt_status_name(smtp_rcpt_status s)
{
    static const char *const names[] = { "accepted", "rejected", "deferred", "unanswered" };
    return (unsigned)s < G_N_ELEMENTS(names) ? names[s] : "unknown";
}

const char *smtp_auth_outcome_name(smtp_auth_outcome o)
{
    static const char *const names[] = { "success", "failure", "cancelled", "unfinished" };
    return (unsigned)o < G_N_ELEMENTS(names) ? names[o] : "unknown";
}

const char *smtp_method_name(smtp_txn_method m)
{
    static const char *const names[] = { "", "DATA", "BDAT" };
    return (unsigned)m < G_N_ELEMENTS(names) ? names[m] : "";
}
