/* output_text.c -- the readable report.
 *
 * Events of all live conversations arrive interleaved; each conversation's
 * lines are held in its own buffer and printed together, under a header,
 * when its END arrives (so conversations appear in the order they ended).
 * The buffers are bounded: a conversation whose pending lines pass
 * TEXT_CONV_FLUSH bytes, or any conversation while all of them together hold
 * more than TEXT_TOTAL_FLUSH, is printed early in parts ("continued").
 * Then the run summary.  Colour only when main.c decided so (a terminal,
 * NO_COLOR unset).
 */
#include "pcapd.h"

#include <string.h>

#define TEXT_CONV_FLUSH   (64 * 1024)
#define TEXT_TOTAL_FLUSH  (32 * 1024 * 1024)
/* Lines of a multi-line reply shown under it. */
#define TEXT_REPLY_LINES  4
/* Bytes of one reply or command line shown. */
#define TEXT_LINE_MAX     200

enum color { C_RESET, C_BOLD, C_DIM, C_RED, C_GREEN, C_YELLOW, C_BLUE, C_MAGENTA, C_CYAN };
static const char *const ansi[] = {
    "\033[0m", "\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[34m", "\033[35m",
    "\033[36m",
};

static void col(pcapd_ctx *c, outbuf *ob, enum color k)
{
    if (c->color)
        ob_puts(ob, ansi[k]);
}

static enum color code_color(int code)
{
    switch (code / 100) {
    case 2: return C_GREEN;
    case 3: return C_CYAN;
    case 4: return C_YELLOW;
    default: return C_RED;
    }
}

static enum color severity_color(smtp_severity s)
{
    return s == ANS_ERROR ? C_RED : s == ANS_WARN ? C_YELLOW : C_BLUE;
}

/* The frame number right-aligned in 8 columns, then two spaces; frame 0
 * prints blanks.  Called for every line: no printf. */
static void frame_col(outbuf *ob, uint32_t frame)
{
    char buf[12];   /* up to 10 digits, 2 spaces */
    size_t i = 10;
    memset(buf, ' ', sizeof buf);
    for (; frame; frame /= 10)
        buf[--i] = (char)('0' + frame % 10);
    size_t start = MIN(i, (size_t)2);   /* at least 8 columns */
    ob_put(ob, buf + start, sizeof buf - start);
}

static void shown_text(outbuf *ob, smtp_span s)
{
    if (s.len > TEXT_LINE_MAX) {
        ob_text_str(ob, s.ptr, TEXT_LINE_MAX);
        OBL(ob, "...");
    } else {
        ob_text_str(ob, s.ptr, s.len);
    }
}

static const char *outcome_words(smtp_conv_outcome o)
{
    switch (o) {
    case SMTP_CONV_DELIVERED: return "delivered";
    case SMTP_CONV_REJECTED:  return "rejected";
    case SMTP_CONV_DEFERRED:  return "deferred";
    case SMTP_CONV_NO_MAIL:   return "no mail";
    case SMTP_CONV_CUT_OFF:   return "cut off";
    case SMTP_CONV_TLS:       return "went to TLS";
    }
    return "?";
}

static enum color outcome_color(smtp_conv_outcome o)
{
    switch (o) {
    case SMTP_CONV_DELIVERED: return C_GREEN;
    case SMTP_CONV_REJECTED:  return C_RED;
    case SMTP_CONV_DEFERRED:
    case SMTP_CONV_CUT_OFF:   return C_YELLOW;
    default:                  return C_CYAN;
    }
}

/* ---- one line per event ------------------------------------------------ */

static void line_command(pcapd_ctx *c, outbuf *ob, const smtp_event *ev)
{
    const smtp_command_ev *e = &ev->u.command;
    frame_col(ob, e->first_frame ? e->first_frame : ev->pos.frame);
    col(c, ob, C_BOLD);
    OBL(ob, "C: ");
    if (e->cmd == SMTP_CMD_AUTH_RESPONSE && e->line.len == 0)
        OBL(ob, "(empty AUTH response)");
    shown_text(ob, e->line);
    col(c, ob, C_RESET);
    if (e->pipelined) {
        col(c, ob, C_DIM);
        OBL(ob, "  (pipelined)");
        col(c, ob, C_RESET);
    }
    ob_putc(ob, '\n');
}

static void line_reply(pcapd_ctx *c, outbuf *ob, const smtp_event *ev)
{
    const smtp_reply_ev *r = &ev->u.reply;
    char enh[16] = "";
    frame_col(ob, r->first_frame ? r->first_frame : ev->pos.frame);
    OBL(ob, "S: ");
    col(c, ob, code_color(r->code));
    ob_code(ob, r->code);
    if (r->enhanced.present) {
        ob_putc(ob, ' ');
        ob_puts(ob, reg_enhanced_format(&r->enhanced, enh, sizeof enh));
    }
    col(c, ob, C_RESET);
    if (r->n_lines) {
        ob_putc(ob, ' ');
        /* The enhanced code is already shown; skip it in the text. */
        smtp_span t = r->lines[0];
        size_t el = strlen(enh);
        if (el && t.len >= el && memcmp(t.ptr, enh, el) == 0) {
            t.ptr += el;
            t.len -= el;
            while (t.len && t.ptr[0] == ' ') {
                t.ptr++;
                t.len--;
            }
        }
        shown_text(ob, t);
    }
    ob_putc(ob, '\n');
    /* Second line: the labels. */
    OBL(ob, "             ");
    col(c, ob, C_DIM);
    OBL(ob, "= ");
    ob_puts(ob, r->category);
    OBL(ob, ": ");
    ob_puts(ob, r->meaning);
    if (r->enh_meaning || r->enh_subject) {
        OBL(ob, "; ");
        ob_puts(ob, enh);
        ob_putc(ob, ' ');
        ob_puts(ob, r->enh_meaning ? r->enh_meaning : r->enh_subject);
    }
    OBL(ob, " [");
    ob_puts(ob, r->command_label[0] ? r->command_label : "no command");
    if (r->latency_ns >= 0) {
        OBL(ob, ", ");
        ob_ms(ob, r->latency_ns);
        OBL(ob, " ms");
    }
    ob_putc(ob, ']');
    col(c, ob, C_RESET);
    ob_putc(ob, '\n');
    uint32_t shown = MIN(r->n_lines, TEXT_REPLY_LINES + 1);
    for (uint32_t i = 1; i < shown; i++) {
        OBL(ob, "             | ");
        shown_text(ob, r->lines[i]);
        ob_putc(ob, '\n');
    }
    if (r->n_lines_total > shown)
        ob_printf(ob, "             | ... %u more lines\n", r->n_lines_total - shown);
}

static void line_anomaly(pcapd_ctx *c, outbuf *ob, const smtp_event *ev)
{
    const smtp_anomaly_ev *a = &ev->u.anomaly;
    smtp_severity sev = reg_anomaly_severity(a->kind);
    frame_col(ob, ev->pos.frame);
    col(c, ob, severity_color(sev));
    OBL(ob, "!! ");
    ob_puts(ob, reg_severity_name(sev));
    ob_putc(ob, ' ');
    ob_puts(ob, reg_anomaly_name(a->kind));
    col(c, ob, C_RESET);
    OBL(ob, ": ");
    const char *msg = a->message ? a->message : reg_anomaly_description(a->kind);
    ob_text_str(ob, msg, strlen(msg));
    ob_putc(ob, '\n');
}

static void line_txn(pcapd_ctx *c, outbuf *ob, const smtp_event *ev)
{
    const smtp_transaction_ev *t = &ev->u.txn;
    uint32_t refused = 0;
    for (uint32_t i = 0; i < t->n_recipients; i++)
        refused += t->recipients[i].status == SMTP_RCPT_REJECTED ||
                   t->recipients[i].status == SMTP_RCPT_DEFERRED;
    frame_col(ob, ev->pos.frame);
    enum color k = t->outcome == SMTP_TXN_ACCEPTED ? C_GREEN
                 : t->outcome == SMTP_TXN_DEFERRED ? C_YELLOW
                 : t->outcome == SMTP_TXN_ABORTED ? C_CYAN : C_RED;
    col(c, ob, k);
    OBL(ob, "== message ");
    ob_puts(ob, smtp_txn_outcome_name(t->outcome));
    col(c, ob, C_RESET);
    OBL(ob, ": from <");
    shown_text(ob, t->mail_from);
    ob_printf(ob, "> to %u recipient%s", t->n_recipients_total, t->n_recipients_total == 1 ? "" : "s");
    if (refused)
        ob_printf(ob, " (%u refused)", refused);
    if (t->method != SMTP_METHOD_NONE)
        ob_printf(ob, ", %s %" G_GUINT64_FORMAT " bytes", smtp_method_name(t->method), t->size);
    if (t->final_code > 0)
        ob_printf(ob, ", final reply %03d", t->final_code);
    if (t->queue_id.len) {
        OBL(ob, ", queue id ");
        shown_text(ob, t->queue_id);
    }
    ob_putc(ob, '\n');
    if (t->subject.len) {
        OBL(ob, "             subject: ");
        shown_text(ob, t->subject);
        ob_putc(ob, '\n');
    }
}

static void line_other(pcapd_ctx *c, outbuf *ob, const smtp_event *ev)
{
    switch (ev->type) {
    case SMTP_EV_CAPABILITIES: {
        const smtp_capabilities_ev *e = &ev->u.caps;
        OBL(ob, "             capabilities:");
        for (uint32_t i = 0; i < e->n_caps; i++) {
            ob_putc(ob, ' ');
            shown_text(ob, e->caps[i].keyword);
            if (e->caps[i].params.len) {
                ob_putc(ob, '=');
                shown_text(ob, e->caps[i].params);
            }
        }
        ob_putc(ob, '\n');
        break;
    }
    case SMTP_EV_STARTTLS:
        frame_col(ob, ev->pos.frame);
        col(c, ob, C_CYAN);
        OBL(ob, "== TLS starts: the rest of the conversation is encrypted");
        if (ev->u.starttls.injection)
            OBL(ob, " (plaintext was injected before the handshake)");
        col(c, ob, C_RESET);
        ob_putc(ob, '\n');
        break;
    case SMTP_EV_AUTH: {
        const smtp_auth_ev *a = &ev->u.auth;
        frame_col(ob, ev->pos.frame);
        OBL(ob, "== AUTH ");
        shown_text(ob, a->mechanism);
        if (a->username.len) {
            OBL(ob, " user \"");
            shown_text(ob, a->username);
            ob_putc(ob, '"');
        }
        if (c->opts->show_secrets && a->secret.len) {
            OBL(ob, " secret \"");
            shown_text(ob, a->secret);
            ob_putc(ob, '"');
        }
        OBL(ob, ": ");
        col(c, ob, a->outcome == SMTP_AUTH_SUCCESS ? C_GREEN : C_YELLOW);
        ob_puts(ob, smtp_auth_outcome_name(a->outcome));
        col(c, ob, C_RESET);
        if (a->code)
            ob_printf(ob, " (%03d)", a->code);
        ob_putc(ob, '\n');
        break;
    }
    default:
        break;
    }
}

/* ---- conversations ----------------------------------------------------- */

static void conv_header(pcapd_ctx *c, const tcp_conv_info *conv, const smtp_end_ev *e,
                        bool continued)
{
    outbuf *ob = &c->ob;
    col(c, ob, C_BOLD);
    OBL(ob, "conversation ");
    ob_conv(ob, conv->id);
    col(c, ob, C_RESET);
    if (c->multi) {
        OBL(ob, " [");
        ob_puts(ob, c->file);
        ob_putc(ob, ']');
    }
    OBL(ob, ": ");
    ob_endpoint(ob, conv->family, conv->client, conv->client_port);
    OBL(ob, " -> ");
    ob_endpoint(ob, conv->family, conv->server, conv->server_port);
    OBL(ob, "  ");
    ob_ts_utc(ob, conv->first.ts_ns);
    if (!e) {
        ob_puts(ob, continued ? "  (in progress, continued)\n" : "  (in progress, continued below)\n");
        return;
    }
    OBL(ob, "  ");
    ob_ms(ob, conv->last.ts_ns - conv->first.ts_ns);
    OBL(ob, " ms  ");
    col(c, ob, outcome_color(e->outcome));
    ob_puts(ob, outcome_words(e->outcome));
    col(c, ob, C_RESET);
    ob_printf(ob, " (%s)%s%s%s\n", smtp_end_reason_name(e->reason),
              conv->midstream ? ", capture started mid-conversation" : "",
              conv->one_sided ? ", one direction only" : "",
              continued ? ", continued" : "");
}

static void conv_footer(pcapd_ctx *c, const tcp_conv_info *conv, const smtp_end_ev *e)
{
    outbuf *ob = &c->ob;
    ob_printf(ob, "          %u commands, %u replies, %u messages (%u accepted, %u rejected, "
              "%u deferred, %u aborted), %u anomalies",
              e->n_commands, e->n_replies, e->n_transactions, e->n_accepted, e->n_rejected,
              e->n_deferred, e->n_aborted, e->n_anomalies);
    if (e->helo.len) {
        OBL(ob, ", HELO ");
        shown_text(ob, e->helo);
    }
    if (e->auth_user.len) {
        OBL(ob, ", authenticated as ");
        shown_text(ob, e->auth_user);
    }
    OBL(ob, "\n          Wireshark: ");
    ob_wireshark_filter(ob, conv);
    OBL(ob, "\n\n");
}

/* Move a conversation's pending lines to stdout. */
static void conv_spill(pcapd_ctx *c, pcapd_conv *pc)
{
    if (!pc->text)
        return;
    ob_put(&c->ob, pc->text->buf, pc->text->len);
    c->text_buffered -= pc->text->len;
    pc->text->len = 0;
}

static void summary_line(pcapd_ctx *c, const tcp_conv_info *conv, const smtp_end_ev *e)
{
    outbuf *ob = &c->ob;
    OBL(ob, "#");
    ob_conv(ob, conv->id);
    OBL(ob, "  ");
    ob_endpoint(ob, conv->family, conv->client, conv->client_port);
    OBL(ob, " -> ");
    ob_endpoint(ob, conv->family, conv->server, conv->server_port);
    OBL(ob, "  ");
    ob_ts_utc(ob, conv->first.ts_ns);
    OBL(ob, "  ");
    col(c, ob, outcome_color(e->outcome));
    ob_puts(ob, outcome_words(e->outcome));
    col(c, ob, C_RESET);
    ob_printf(ob, "  %u msgs (%u accepted), %u replies, %u anomalies", e->n_transactions,
              e->n_accepted, e->n_replies, e->n_anomalies);
    if (c->multi) {
        OBL(ob, "  ");
        ob_puts(ob, c->file);
    }
    ob_putc(ob, '\n');
}

static void tx_event(pcapd_ctx *c, pcapd_conv *pc, const tcp_conv_info *conv, const smtp_event *ev)
{
    if (ev->type == SMTP_EV_END) {
        if (c->opts->summary_only) {
            summary_line(c, conv, &ev->u.end);
        } else {
            conv_header(c, conv, &ev->u.end, pc->text_started);
            conv_spill(c, pc);
            conv_footer(c, conv, &ev->u.end);
        }
        if (c->live)
            ob_flush(&c->ob);
        return;
    }
    if (c->opts->summary_only)
        return;
    if (!pc->text) {
        pc->text = g_new0(outbuf, 1);
        ob_init(pc->text, NULL, 512);
    }
    outbuf *ob = pc->text;
    size_t before = ob->len;
    switch (ev->type) {
    case SMTP_EV_COMMAND:     line_command(c, ob, ev); break;
    case SMTP_EV_REPLY:       line_reply(c, ob, ev); break;
    case SMTP_EV_ANOMALY:     line_anomaly(c, ob, ev); break;
    case SMTP_EV_TRANSACTION: line_txn(c, ob, ev); break;
    default:                  line_other(c, ob, ev); break;
    }
    c->text_buffered += ob->len - before;
    if (ob->len > TEXT_CONV_FLUSH || c->text_buffered > TEXT_TOTAL_FLUSH) {
        conv_header(c, conv, NULL, pc->text_started);
        pc->text_started = true;
        conv_spill(c, pc);
        /* Give the memory back: a long conversation may stay quiet now. */
        ob_free(pc->text);
        ob_init(pc->text, NULL, 512);
    }
}

/* ---- summary ----------------------------------------------------------- */

static void tx_summary(pcapd_ctx *c)
{
    outbuf *ob = &c->ob;
    const summary *s = &c->sum;
    col(c, ob, C_BOLD);
    OBL(ob, "Summary\n");
    col(c, ob, C_RESET);
    ob_printf(ob, "  inputs:         %" G_GUINT64_FORMAT " read, %" G_GUINT64_FORMAT
              " unreadable or damaged; %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT
              " TCP segments\n", s->files, s->files_failed, s->packets, s->tcp_segments);
    ob_printf(ob, "  conversations:  %" G_GUINT64_FORMAT, s->conversations);
    const char *sep = " (";
    for (int o = SMTP_CONV_DELIVERED; o <= SMTP_CONV_TLS; o++) {
        if (!s->conv_outcome[o])
            continue;
        ob_printf(ob, "%s%s %" G_GUINT64_FORMAT, sep, outcome_words((smtp_conv_outcome)o),
                  s->conv_outcome[o]);
        sep = ", ";
    }
    ob_puts(ob, sep[0] == ',' ? ")\n" : "\n");
    ob_printf(ob, "  messages:       %" G_GUINT64_FORMAT " accepted, %" G_GUINT64_FORMAT
              " rejected, %" G_GUINT64_FORMAT " deferred, %" G_GUINT64_FORMAT " aborted, %"
              G_GUINT64_FORMAT " refused at MAIL; %" G_GUINT64_FORMAT " recipients refused\n",
              s->txn_outcome[SMTP_TXN_ACCEPTED], s->txn_outcome[SMTP_TXN_REJECTED],
              s->txn_outcome[SMTP_TXN_DEFERRED], s->txn_outcome[SMTP_TXN_ABORTED],
              s->txn_outcome[SMTP_TXN_MAIL_REJECTED], s->rcpt_refused);
    ob_printf(ob, "  replies:        %" G_GUINT64_FORMAT, s->replies);
    sep = " (";
    for (int k = 0; k < 10; k++) {
        if (!s->reply_class[k])
            continue;
        ob_printf(ob, "%s%dxx %" G_GUINT64_FORMAT, sep, k, s->reply_class[k]);
        sep = ", ";
    }
    ob_puts(ob, sep[0] == ',' ? ")\n" : "\n");
    if (s->replies) {
        OBL(ob, "    by code:     ");
        int n = 0;
        for (int k = 0; k < 1000; k++) {
            if (!s->reply_code[k])
                continue;
            if (n && n % 8 == 0)
                OBL(ob, "\n                 ");
            else if (n)
                OBL(ob, "   ");
            col(c, ob, code_color(k));
            ob_printf(ob, "%03d", k);
            col(c, ob, C_RESET);
            ob_printf(ob, " %-5" G_GUINT64_FORMAT, s->reply_code[k]);
            n++;
        }
        ob_putc(ob, '\n');
    }
    ob_printf(ob, "  anomalies:      %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " errors, %"
              G_GUINT64_FORMAT " warnings, %" G_GUINT64_FORMAT " notes)\n", s->anomalies,
              s->anomaly_severity[ANS_ERROR], s->anomaly_severity[ANS_WARN],
              s->anomaly_severity[ANS_NOTE]);
    for (int k = 0; k < SMTP_AN_COUNT; k++) {
        if (!s->anomaly_kind[k])
            continue;
        OBL(ob, "    ");
        col(c, ob, severity_color(reg_anomaly_severity((smtp_anomaly)k)));
        ob_printf(ob, "%-32s", reg_anomaly_name((smtp_anomaly)k));
        col(c, ob, C_RESET);
        ob_printf(ob, " %8" G_GUINT64_FORMAT "  %s\n", s->anomaly_kind[k],
                  reg_anomaly_description((smtp_anomaly)k));
    }
    GPtrArray *fails = summary_failures(s, SUMMARY_TOP);
    if (fails->len) {
        OBL(ob, "  most frequent failure replies:\n");
        for (guint i = 0; i < fails->len; i++) {
            const summary_failure *f = fails->pdata[i];
            char enh[16] = "";
            if (f->enhanced.present)
                reg_enhanced_format(&f->enhanced, enh, sizeof enh);
            ob_printf(ob, "    %8" G_GUINT64_FORMAT "  ", f->count);
            col(c, ob, code_color(f->code));
            ob_printf(ob, "%03d %-7s", f->code, enh);
            col(c, ob, C_RESET);
            ob_printf(ob, " to %-9s %s\n", f->command[0] ? f->command : "-", f->meaning);
        }
    }
    g_ptr_array_free(fails, TRUE);
    if (s->n_slow) {
        OBL(ob, "  slowest replies:\n");
        for (size_t i = 0; i < s->n_slow; i++) {
            const summary_slow *w = &s->slow[i];
            OBL(ob, "    ");
            ob_ms(ob, w->latency_ns);
            ob_printf(ob, " ms  %03d to %s, conversation %" G_GUINT64_FORMAT ", frame %u",
                      w->code, w->command[0] ? w->command : "-", w->conv, w->frame);
            if (c->multi)
                ob_printf(ob, " of %s", w->file);
            ob_putc(ob, '\n');
        }
    }
    ob_printf(ob, "  decoding:       %" G_GUINT64_FORMAT " not IP, %" G_GUINT64_FORMAT
              " not TCP, %" G_GUINT64_FORMAT " truncated, %" G_GUINT64_FORMAT " malformed, %"
              G_GUINT64_FORMAT " IP fragments (%" G_GUINT64_FORMAT " datagrams reassembled, %"
              G_GUINT64_FORMAT " dropped)\n",
              s->not_ip, s->not_tcp, s->truncated, s->malformed, s->frags, s->frags_reassembled,
              s->frags_dropped);
}

static void tx_begin(pcapd_ctx *c)
{
    (void)c;
}

const pcapd_output pcapd_output_text = { tx_begin, tx_event, tx_summary, NULL };
