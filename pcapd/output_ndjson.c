/* output_ndjson.c -- one JSON object per line per core event.
 *
 * The schema is documented in docs/ndjson.md; member names here and there
 * must match.  Objects come out in the order the core emits the events,
 * then one `summary` object ends the stream.  Built field by field into the
 * output buffer with the escaper of outbuf.c: no printf on this path.
 */
#include "pcapd.h"

#include <string.h>

static void key(outbuf *ob, const char *k)
{
    ob_putc(ob, ',');
    ob_putc(ob, '"');
    ob_puts(ob, k);
    OBL(ob, "\":");
}

static void span(outbuf *ob, smtp_span s)
{
    ob_json_str(ob, s.ptr, s.len);
}

/* An empty span as null (for members that are absent rather than empty). */
static void span_or_null(outbuf *ob, smtp_span s)
{
    if (s.len)
        ob_json_str(ob, s.ptr, s.len);
    else
        OBL(ob, "null");
}

static void boolean(outbuf *ob, bool b)
{
    if (b)
        OBL(ob, "true");
    else
        OBL(ob, "false");
}

static void enhanced(outbuf *ob, const smtp_enhanced *e)
{
    if (!e->present) {
        OBL(ob, "null");
        return;
    }
    char buf[16];
    ob_putc(ob, '"');
    ob_puts(ob, reg_enhanced_format(e, buf, sizeof buf));
    ob_putc(ob, '"');
}

static void frame_or_null(outbuf *ob, uint32_t frame)
{
    if (frame)
        ob_u64(ob, frame);
    else
        OBL(ob, "null");
}

static void label_or_null(outbuf *ob, const char *s)
{
    if (s && *s)
        ob_json_cstr(ob, s);
    else
        OBL(ob, "null");
}

/* The members every event object starts with. */
static void head(pcapd_ctx *c, const char *type, uint64_t conv, cap_pos pos)
{
    outbuf *ob = &c->ob;
    OBL(ob, "{\"type\":\"");
    ob_puts(ob, type);
    OBL(ob, "\",\"conv\":");
    ob_conv(ob, conv);
    OBL(ob, ",\"ts\":");
    ob_ts_epoch(ob, pos.ts_ns);
    OBL(ob, ",\"frame\":");
    ob_u64(ob, pos.frame);
    if (c->multi) {
        OBL(ob, ",\"file\":");
        ob_json_cstr(ob, c->file);
    }
}

static void ev_command(outbuf *ob, const smtp_command_ev *e)
{
    key(ob, "verb");
    span(ob, e->verb);
    key(ob, "args");
    span(ob, e->args);
    key(ob, "command");
    label_or_null(ob, reg_command_reply_label(e->cmd));
    key(ob, "seq");
    ob_u64(ob, e->seq);
    key(ob, "first_frame");
    ob_u64(ob, e->first_frame);
    key(ob, "pipelined");
    boolean(ob, e->pipelined);
    key(ob, "masked");
    boolean(ob, e->masked);
}

static void ev_reply(outbuf *ob, const smtp_reply_ev *r)
{
    key(ob, "code");
    ob_u64(ob, (uint64_t)(r->code < 0 ? 0 : r->code));
    key(ob, "lines");
    ob_putc(ob, '[');
    for (uint32_t i = 0; i < r->n_lines; i++) {
        if (i)
            ob_putc(ob, ',');
        span(ob, r->lines[i]);
    }
    ob_putc(ob, ']');
    key(ob, "lines_total");
    ob_u64(ob, r->n_lines_total);
    key(ob, "enhanced");
    enhanced(ob, &r->enhanced);
    key(ob, "category");
    ob_json_cstr(ob, r->category);
    key(ob, "subject");
    ob_json_cstr(ob, r->subject);
    key(ob, "meaning");
    ob_json_cstr(ob, r->meaning);
    key(ob, "enhanced_class");
    ob_json_cstr(ob, r->enh_class);
    key(ob, "enhanced_subject");
    ob_json_cstr(ob, r->enh_subject);
    key(ob, "enhanced_meaning");
    ob_json_cstr(ob, r->enh_meaning);
    key(ob, "command");
    label_or_null(ob, r->command_label);
    key(ob, "command_frame");
    frame_or_null(ob, r->cmd_frame);
    key(ob, "latency_ms");
    if (r->latency_ns >= 0)
        ob_ms(ob, r->latency_ns);
    else
        OBL(ob, "null");
    key(ob, "first_frame");
    ob_u64(ob, r->first_frame);
    key(ob, "valid");
    boolean(ob, r->valid);
}

static void ev_caps(outbuf *ob, const smtp_capabilities_ev *e)
{
    key(ob, "server_name");
    span(ob, e->server_name);
    key(ob, "keywords");
    ob_putc(ob, '[');
    for (uint32_t i = 0; i < e->n_caps; i++) {
        if (i)
            ob_putc(ob, ',');
        OBL(ob, "{\"keyword\":");
        span(ob, e->caps[i].keyword);
        OBL(ob, ",\"params\":");
        span(ob, e->caps[i].params);
        OBL(ob, ",\"known\":");
        boolean(ob, e->caps[i].ext != SMTP_EXT_COUNT);
        ob_putc(ob, '}');
    }
    ob_putc(ob, ']');
    key(ob, "size_limit");
    ob_u64(ob, e->size_limit);
    key(ob, "auth_mechanisms");
    span(ob, e->auth_mechs);
}

static void ev_auth(outbuf *ob, const smtp_auth_ev *e, bool show_secrets)
{
    key(ob, "mechanism");
    span(ob, e->mechanism);
    key(ob, "username");
    span_or_null(ob, e->username);
    key(ob, "outcome");
    ob_json_cstr(ob, smtp_auth_outcome_name(e->outcome));
    key(ob, "code");
    ob_u64(ob, (uint64_t)(e->code < 0 ? 0 : e->code));
    key(ob, "enhanced");
    enhanced(ob, &e->enhanced);
    key(ob, "command_frame");
    frame_or_null(ob, e->cmd_frame);
    /* The engine only fills the secret when asked; check anyway. */
    if (show_secrets && e->secret.len) {
        key(ob, "secret");
        span(ob, e->secret);
    }
}

static void ev_txn(outbuf *ob, const smtp_transaction_ev *t)
{
    key(ob, "start_command");
    ob_json_cstr(ob, reg_command_verb(t->start_cmd));
    key(ob, "mail_from");
    span(ob, t->mail_from);
    key(ob, "mail_params");
    span(ob, t->mail_params);
    key(ob, "mail_code");
    ob_u64(ob, (uint64_t)(t->mail_code < 0 ? 0 : t->mail_code));
    key(ob, "mail_enhanced");
    enhanced(ob, &t->mail_enhanced);
    key(ob, "recipients");
    ob_putc(ob, '[');
    for (uint32_t i = 0; i < t->n_recipients; i++) {
        const smtp_recipient *r = &t->recipients[i];
        if (i)
            ob_putc(ob, ',');
        OBL(ob, "{\"address\":");
        span(ob, r->address);
        OBL(ob, ",\"params\":");
        span(ob, r->params);
        OBL(ob, ",\"code\":");
        ob_u64(ob, (uint64_t)(r->code < 0 ? 0 : r->code));
        OBL(ob, ",\"enhanced\":");
        enhanced(ob, &r->enhanced);
        OBL(ob, ",\"status\":");
        ob_json_cstr(ob, smtp_rcpt_status_name(r->status));
        OBL(ob, ",\"frame\":");
        ob_u64(ob, r->frame);
        ob_putc(ob, '}');
    }
    ob_putc(ob, ']');
    key(ob, "recipients_total");
    ob_u64(ob, t->n_recipients_total);
    key(ob, "method");
    label_or_null(ob, smtp_method_name(t->method));
    key(ob, "chunks");
    ob_u64(ob, t->n_chunks);
    key(ob, "size");
    ob_u64(ob, t->size);
    key(ob, "final_code");
    if (t->final_code > 0)
        ob_u64(ob, (uint64_t)t->final_code);
    else
        OBL(ob, "null");
    key(ob, "final_enhanced");
    enhanced(ob, &t->final_enhanced);
    key(ob, "final_text");
    span_or_null(ob, t->final_text);
    key(ob, "outcome");
    ob_json_cstr(ob, smtp_txn_outcome_name(t->outcome));
    key(ob, "queue_id");
    span_or_null(ob, t->queue_id);
    key(ob, "subject");
    span_or_null(ob, t->subject);
    key(ob, "message_id");
    span_or_null(ob, t->message_id);
    key(ob, "first_frame");
    ob_u64(ob, t->first_frame);
    key(ob, "last_frame");
    ob_u64(ob, t->last_frame);
    key(ob, "start");
    ob_ts_epoch(ob, t->start_ns);
    key(ob, "end");
    ob_ts_epoch(ob, t->end_ns);
}

static void ev_anomaly(outbuf *ob, const smtp_anomaly_ev *a)
{
    key(ob, "kind");
    ob_json_cstr(ob, reg_anomaly_name(a->kind));
    key(ob, "class");
    ob_json_cstr(ob, reg_anomaly_class_name(reg_anomaly_class(a->kind)));
    key(ob, "severity");
    ob_json_cstr(ob, reg_severity_name(reg_anomaly_severity(a->kind)));
    key(ob, "message");
    ob_json_cstr(ob, a->message ? a->message : reg_anomaly_description(a->kind));
    key(ob, "command");
    label_or_null(ob, a->cmd == SMTP_CMD_NONE ? NULL : reg_command_reply_label(a->cmd));
    key(ob, "command_seq");
    frame_or_null(ob, a->cmd_seq);
}

static void gstr_or_null(outbuf *ob, const GString *s)
{
    if (s)
        ob_json_str(ob, s->str, s->len);
    else
        OBL(ob, "null");
}

static void ev_end(outbuf *ob, const pcapd_conv *pc, const tcp_conv_info *conv,
                   const smtp_end_ev *e)
{
    key(ob, "client");
    ob_putc(ob, '"');
    ob_endpoint(ob, conv->family, conv->client, conv->client_port);
    ob_putc(ob, '"');
    key(ob, "server");
    ob_putc(ob, '"');
    ob_endpoint(ob, conv->family, conv->server, conv->server_port);
    ob_putc(ob, '"');
    key(ob, "start");
    ob_ts_epoch(ob, conv->first.ts_ns);
    key(ob, "end");
    ob_ts_epoch(ob, conv->last.ts_ns);
    key(ob, "duration_ms");
    ob_ms(ob, conv->last.ts_ns - conv->first.ts_ns);
    key(ob, "first_frame");
    ob_u64(ob, conv->first.frame);
    key(ob, "last_frame");
    ob_u64(ob, conv->last.frame);
    key(ob, "filter");
    {
        /* The filter holds no character JSON must escape. */
        ob_putc(ob, '"');
        ob_wireshark_filter(ob, conv);
        ob_putc(ob, '"');
    }
    key(ob, "helo");
    span_or_null(ob, e->helo);
    key(ob, "esmtp");
    boolean(ob, e->esmtp);
    key(ob, "capabilities");
    ob_putc(ob, '[');
    if (pc->caps && pc->caps->len) {
        const char *p = pc->caps->str, *end = p + pc->caps->len;
        bool first = true;
        while (p < end) {
            const char *sp = memchr(p, ' ', (size_t)(end - p));
            const char *q = sp ? sp : end;
            if (!first)
                ob_putc(ob, ',');
            ob_json_str(ob, p, (size_t)(q - p));
            first = false;
            p = q + 1;
        }
    }
    ob_putc(ob, ']');
    key(ob, "tls");
    boolean(ob, e->tls);
    key(ob, "auth");
    if (pc->auth_outcome >= 0) {
        OBL(ob, "{\"mechanism\":");
        gstr_or_null(ob, pc->auth_mech);
        OBL(ob, ",\"username\":");
        if (pc->auth_user && pc->auth_user->len)
            gstr_or_null(ob, pc->auth_user);
        else
            OBL(ob, "null");
        OBL(ob, ",\"outcome\":");
        ob_json_cstr(ob, smtp_auth_outcome_name((smtp_auth_outcome)pc->auth_outcome));
        ob_putc(ob, '}');
    } else {
        OBL(ob, "null");
    }
    key(ob, "outcome");
    ob_json_cstr(ob, smtp_conv_outcome_name(e->outcome));
    key(ob, "end_reason");
    ob_json_cstr(ob, smtp_end_reason_name(e->reason));
    key(ob, "quit");
    boolean(ob, e->quit);
    key(ob, "midstream");
    boolean(ob, conv->midstream);
    key(ob, "one_sided");
    boolean(ob, conv->one_sided);
    key(ob, "counts");
    OBL(ob, "{\"commands\":");
    ob_u64(ob, e->n_commands);
    OBL(ob, ",\"replies\":");
    ob_u64(ob, e->n_replies);
    OBL(ob, ",\"transactions\":");
    ob_u64(ob, e->n_transactions);
    OBL(ob, ",\"accepted\":");
    ob_u64(ob, e->n_accepted);
    OBL(ob, ",\"rejected\":");
    ob_u64(ob, e->n_rejected);
    OBL(ob, ",\"deferred\":");
    ob_u64(ob, e->n_deferred);
    OBL(ob, ",\"aborted\":");
    ob_u64(ob, e->n_aborted);
    OBL(ob, ",\"anomalies\":");
    ob_u64(ob, e->n_anomalies);
    ob_putc(ob, '}');
    key(ob, "bytes");
    OBL(ob, "{\"client\":");
    ob_u64(ob, e->bytes[SMTP_DIR_CLIENT]);
    OBL(ob, ",\"server\":");
    ob_u64(ob, e->bytes[SMTP_DIR_SERVER]);
    ob_putc(ob, '}');
    key(ob, "gap_bytes");
    OBL(ob, "{\"client\":");
    ob_u64(ob, e->gap_bytes[SMTP_DIR_CLIENT]);
    OBL(ob, ",\"server\":");
    ob_u64(ob, e->gap_bytes[SMTP_DIR_SERVER]);
    ob_putc(ob, '}');
}

static const char *const type_names[] = {
    [SMTP_EV_COMMAND] = "command",       [SMTP_EV_REPLY] = "reply",
    [SMTP_EV_CAPABILITIES] = "capabilities", [SMTP_EV_STARTTLS] = "starttls",
    [SMTP_EV_AUTH] = "auth",             [SMTP_EV_TRANSACTION] = "transaction",
    [SMTP_EV_ANOMALY] = "anomaly",       [SMTP_EV_END] = "conversation",
};

static void nd_event(pcapd_ctx *c, pcapd_conv *pc, const tcp_conv_info *conv, const smtp_event *ev)
{
    if (c->opts->summary_only && ev->type != SMTP_EV_END)
        return;
    if ((unsigned)ev->type >= G_N_ELEMENTS(type_names))
        return;
    outbuf *ob = &c->ob;
    head(c, type_names[ev->type], conv->id, ev->pos);
    key(ob, "from");
    ob_json_cstr(ob, ev->from == SMTP_DIR_CLIENT ? "client" : "server");
    switch (ev->type) {
    case SMTP_EV_COMMAND:      ev_command(ob, &ev->u.command); break;
    case SMTP_EV_REPLY:        ev_reply(ob, &ev->u.reply); break;
    case SMTP_EV_CAPABILITIES: ev_caps(ob, &ev->u.caps); break;
    case SMTP_EV_STARTTLS:
        key(ob, "command_frame");
        frame_or_null(ob, ev->u.starttls.cmd_frame);
        key(ob, "injection");
        boolean(ob, ev->u.starttls.injection);
        break;
    case SMTP_EV_AUTH:         ev_auth(ob, &ev->u.auth, c->opts->show_secrets); break;
    case SMTP_EV_TRANSACTION:  ev_txn(ob, &ev->u.txn); break;
    case SMTP_EV_ANOMALY:      ev_anomaly(ob, &ev->u.anomaly); break;
    case SMTP_EV_END:          ev_end(ob, pc, conv, &ev->u.end); break;
    }
    OBL(ob, "}\n");
    if (c->live)
        ob_flush(ob);
}

static void nd_input_error(pcapd_ctx *c, const char *file, int64_t offset, const char *msg)
{
    outbuf *ob = &c->ob;
    OBL(ob, "{\"type\":\"error\",\"file\":");
    ob_json_cstr(ob, file);
    OBL(ob, ",\"offset\":");
    if (offset >= 0)
        ob_i64(ob, offset);
    else
        OBL(ob, "null");
    OBL(ob, ",\"message\":");
    ob_json_cstr(ob, msg);
    OBL(ob, "}\n");
}

static void count_member(outbuf *ob, const char *name, uint64_t v, bool *first)
{
    if (!*first)
        ob_putc(ob, ',');
    *first = false;
    ob_json_cstr(ob, name);
    ob_putc(ob, ':');
    ob_u64(ob, v);
}

static void nd_summary(pcapd_ctx *c)
{
    outbuf *ob = &c->ob;
    const summary *s = &c->sum;
    bool first;
    OBL(ob, "{\"type\":\"summary\"");
    key(ob, "files");
    ob_u64(ob, s->files);
    key(ob, "files_failed");
    ob_u64(ob, s->files_failed);
    key(ob, "packets");
    ob_u64(ob, s->packets);
    key(ob, "tcp_segments");
    ob_u64(ob, s->tcp_segments);
    key(ob, "conversations");
    ob_u64(ob, s->conversations);
    key(ob, "conversation_outcomes");
    ob_putc(ob, '{');
    first = true;
    for (int o = SMTP_CONV_DELIVERED; o <= SMTP_CONV_TLS; o++)
        count_member(ob, smtp_conv_outcome_name((smtp_conv_outcome)o), s->conv_outcome[o], &first);
    ob_putc(ob, '}');
    key(ob, "messages");
    ob_putc(ob, '{');
    first = true;
    for (int o = SMTP_TXN_ACCEPTED; o <= SMTP_TXN_MAIL_REJECTED; o++)
        count_member(ob, smtp_txn_outcome_name((smtp_txn_outcome)o), s->txn_outcome[o], &first);
    ob_putc(ob, '}');
    key(ob, "recipients_refused");
    ob_u64(ob, s->rcpt_refused);
    key(ob, "replies");
    OBL(ob, "{\"total\":");
    ob_u64(ob, s->replies);
    OBL(ob, ",\"by_class\":{");
    first = true;
    for (int k = 0; k < 10; k++) {
        if (!s->reply_class[k])
            continue;
        char name[4] = { (char)('0' + k), 'x', 'x', 0 };
        count_member(ob, name, s->reply_class[k], &first);
    }
    OBL(ob, "},\"by_code\":{");
    first = true;
    for (int k = 0; k < 1000; k++) {
        if (!s->reply_code[k])
            continue;
        char name[4] = { (char)('0' + k / 100), (char)('0' + k / 10 % 10), (char)('0' + k % 10), 0 };
        count_member(ob, name, s->reply_code[k], &first);
    }
    OBL(ob, "}}");
    key(ob, "anomalies");
    OBL(ob, "{\"total\":");
    ob_u64(ob, s->anomalies);
    OBL(ob, ",\"by_kind\":{");
    first = true;
    for (int k = 0; k < SMTP_AN_COUNT; k++)
        if (s->anomaly_kind[k])
            count_member(ob, reg_anomaly_name((smtp_anomaly)k), s->anomaly_kind[k], &first);
    OBL(ob, "},\"by_severity\":{");
    first = true;
    for (int k = ANS_NOTE; k <= ANS_ERROR; k++)
        count_member(ob, reg_severity_name((smtp_severity)k), s->anomaly_severity[k], &first);
    OBL(ob, "}}");
    key(ob, "top_failures");
    ob_putc(ob, '[');
    GPtrArray *fails = summary_failures(s, SUMMARY_TOP);
    for (guint i = 0; i < fails->len; i++) {
        const summary_failure *f = fails->pdata[i];
        if (i)
            ob_putc(ob, ',');
        OBL(ob, "{\"code\":");
        ob_u64(ob, (uint64_t)f->code);
        OBL(ob, ",\"enhanced\":");
        enhanced(ob, &f->enhanced);
        OBL(ob, ",\"command\":");
        label_or_null(ob, f->command);
        OBL(ob, ",\"meaning\":");
        ob_json_cstr(ob, f->meaning);
        OBL(ob, ",\"count\":");
        ob_u64(ob, f->count);
        ob_putc(ob, '}');
    }
    g_ptr_array_free(fails, TRUE);
    ob_putc(ob, ']');
    key(ob, "slowest_replies");
    ob_putc(ob, '[');
    for (size_t i = 0; i < s->n_slow; i++) {
        const summary_slow *w = &s->slow[i];
        if (i)
            ob_putc(ob, ',');
        OBL(ob, "{\"conv\":");
        ob_u64(ob, w->conv);
        OBL(ob, ",\"frame\":");
        ob_u64(ob, w->frame);
        if (c->multi) {
            OBL(ob, ",\"file\":");
            ob_json_cstr(ob, w->file);
        }
        OBL(ob, ",\"code\":");
        ob_u64(ob, (uint64_t)(w->code < 0 ? 0 : w->code));
        OBL(ob, ",\"command\":");
        label_or_null(ob, w->command);
        OBL(ob, ",\"latency_ms\":");
        ob_ms(ob, w->latency_ns);
        ob_putc(ob, '}');
    }
    ob_putc(ob, ']');
    key(ob, "decode");
    OBL(ob, "{\"not_ip\":");
    ob_u64(ob, s->not_ip);
    OBL(ob, ",\"not_tcp\":");
    ob_u64(ob, s->not_tcp);
    OBL(ob, ",\"truncated\":");
    ob_u64(ob, s->truncated);
    OBL(ob, ",\"malformed\":");
    ob_u64(ob, s->malformed);
    OBL(ob, ",\"fragments\":");
    ob_u64(ob, s->frags);
    OBL(ob, ",\"reassembled\":");
    ob_u64(ob, s->frags_reassembled);
    OBL(ob, ",\"fragments_dropped\":");
    ob_u64(ob, s->frags_dropped);
    OBL(ob, "}}\n");
}

static void nd_begin(pcapd_ctx *c)
{
    (void)c;
}

const pcapd_output pcapd_output_ndjson = { nd_begin, nd_event, nd_summary, nd_input_error };
