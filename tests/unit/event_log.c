/* event_log.c -- see event_log.h. */
#include "event_log.h"

#include <string.h>

static void esc(GString *out, const char *p, size_t n)
{
    g_string_append_c(out, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\')
            g_string_append_printf(out, "\\%c", c);
        else if (c == '\r')
            g_string_append(out, "\\r");
        else if (c == '\n')
            g_string_append(out, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            g_string_append_printf(out, "\\x%02x", c);
        else
            g_string_append_c(out, (char)c);
    }
    g_string_append_c(out, '"');
}

static void span(GString *out, const char *key, smtp_span s)
{
    g_string_append_printf(out, " %s=", key);
    esc(out, s.ptr, s.len);
}

static void enh(GString *out, const char *key, const smtp_enhanced *e)
{
    char b[16];
    g_string_append_printf(out, " %s=%s", key, e->present ? reg_enhanced_format(e, b, sizeof b) : "-");
}

static const char *cmd_name(smtp_cmd c)
{
    switch (c) {
    case SMTP_CMD_NONE: return "NONE";
    case SMTP_CMD_UNKNOWN: return "UNKNOWN";
    case SMTP_CMD_GREETING: return "GREETING";
    case SMTP_CMD_DATA_END: return "DATA_END";
    case SMTP_CMD_AUTH_RESPONSE: return "AUTH_RESPONSE";
    default: return reg_command_verb(c);
    }
}

void event_log_render(GString *out, const smtp_event *ev)
{
    g_string_append_printf(out, "@%u %s ", ev->pos.frame, ev->from == SMTP_DIR_CLIENT ? "C>" : "S>");
    switch (ev->type) {
    case SMTP_EV_COMMAND: {
        const smtp_command_ev *c = &ev->u.command;
        g_string_append_printf(out, "CMD #%u %s first=%u%s%s", c->seq, cmd_name(c->cmd),
                               c->first_frame, c->pipelined ? " pipelined" : "",
                               c->masked ? " masked" : "");
        span(out, "verb", c->verb);
        span(out, "args", c->args);
        span(out, "line", c->line);
        break;
    }
    case SMTP_EV_REPLY: {
        const smtp_reply_ev *r = &ev->u.reply;
        g_string_append_printf(out, "REPLY %03d answers=%s#%u cmd_frame=%u first=%u lines=%u/%u",
                               r->code, cmd_name(r->answers), r->cmd_seq, r->cmd_frame,
                               r->first_frame, r->n_lines, r->n_lines_total);
        enh(out, "enh", &r->enhanced);
        g_string_append_printf(out, " valid=%d lat=%" G_GINT64_FORMAT " label=%s [%s / %s] meaning=\"%s\"",
                               r->valid, r->latency_ns, r->command_label, r->category, r->subject,
                               r->meaning);
        if (r->enhanced.present)
            g_string_append_printf(out, " enh_label=[%s / %s / %s]", r->enh_class, r->enh_subject,
                                   r->enh_meaning ? r->enh_meaning : "(none)");
        g_string_append(out, " text=");
        for (uint32_t i = 0; i < r->n_lines && i < 8; i++) {
            if (i)
                g_string_append_c(out, '|');
            esc(out, r->lines[i].ptr, r->lines[i].len);
        }
        if (r->n_lines > 8)
            g_string_append(out, "|...");
        break;
    }
    case SMTP_EV_CAPABILITIES: {
        const smtp_capabilities_ev *c = &ev->u.caps;
        g_string_append(out, "CAPS");
        span(out, "server", c->server_name);
        g_string_append_printf(out, " size=%" G_GUINT64_FORMAT, c->size_limit);
        span(out, "auth", c->auth_mechs);
        g_string_append_printf(out, " mask=0x%" G_GINT64_MODIFIER "x kw=[", c->ext_mask);
        for (uint32_t i = 0; i < c->n_caps; i++) {
            if (i)
                g_string_append_c(out, ',');
            g_string_append_len(out, c->caps[i].keyword.ptr, (gssize)c->caps[i].keyword.len);
            if (c->caps[i].params.len) {
                g_string_append_c(out, '=');
                g_string_append_len(out, c->caps[i].params.ptr, (gssize)c->caps[i].params.len);
            }
            if (c->caps[i].ext == SMTP_EXT_COUNT)
                g_string_append_c(out, '?');
        }
        g_string_append_c(out, ']');
        break;
    }
    case SMTP_EV_STARTTLS:
        g_string_append_printf(out, "STARTTLS cmd_frame=%u injection=%d", ev->u.starttls.cmd_frame,
                               ev->u.starttls.injection);
        break;
    case SMTP_EV_AUTH: {
        const smtp_auth_ev *a = &ev->u.auth;
        g_string_append(out, "AUTH");
        span(out, "mech", a->mechanism);
        span(out, "user", a->username);
        span(out, "secret", a->secret);
        g_string_append_printf(out, " outcome=%s code=%d", smtp_auth_outcome_name(a->outcome), a->code);
        enh(out, "enh", &a->enhanced);
        g_string_append_printf(out, " cmd_frame=%u", a->cmd_frame);
        break;
    }
    case SMTP_EV_TRANSACTION: {
        const smtp_transaction_ev *t = &ev->u.txn;
        g_string_append_printf(out, "TXN %s outcome=%s", cmd_name(t->start_cmd),
                               smtp_txn_outcome_name(t->outcome));
        span(out, "from", t->mail_from);
        span(out, "params", t->mail_params);
        g_string_append_printf(out, " mail=%d", t->mail_code);
        enh(out, "mail_enh", &t->mail_enhanced);
        g_string_append_printf(out, " rcpts=%u/%u [", t->n_recipients, t->n_recipients_total);
        for (uint32_t i = 0; i < t->n_recipients && i < 16; i++) {
            const smtp_recipient *r = &t->recipients[i];
            char b[16];
            if (i)
                g_string_append_c(out, ',');
            g_string_append_c(out, '<');
            g_string_append_len(out, r->address.ptr, (gssize)r->address.len);
            g_string_append_printf(out, ">%s%.*s:%d:%s:%s:f%u", r->params.len ? " " : "",
                                   (int)r->params.len, r->params.ptr, r->code,
                                   r->enhanced.present ? reg_enhanced_format(&r->enhanced, b, sizeof b) : "-",
                                   smtp_rcpt_status_name(r->status), r->frame);
        }
        g_string_append_printf(out, "] method=%s chunks=%u size=%" G_GUINT64_FORMAT " final=%d",
                               smtp_method_name(t->method), t->n_chunks, t->size, t->final_code);
        enh(out, "final_enh", &t->final_enhanced);
        span(out, "final_text", t->final_text);
        span(out, "queue_id", t->queue_id);
        span(out, "subject", t->subject);
        span(out, "message_id", t->message_id);
        g_string_append_printf(out, " frames=%u-%u ns=%" G_GINT64_FORMAT "-%" G_GINT64_FORMAT,
                               t->first_frame, t->last_frame, t->start_ns, t->end_ns);
        break;
    }
    case SMTP_EV_ANOMALY: {
        const smtp_anomaly_ev *a = &ev->u.anomaly;
        g_string_append_printf(out, "! %s (%s/%s) cmd=%s#%u: %s", reg_anomaly_name(a->kind),
                               reg_anomaly_class_name(reg_anomaly_class(a->kind)),
                               reg_severity_name(reg_anomaly_severity(a->kind)), cmd_name(a->cmd),
                               a->cmd_seq, a->message);
        break;
    }
    case SMTP_EV_END: {
        const smtp_end_ev *x = &ev->u.end;
        g_string_append_printf(out, "END reason=%s outcome=%s", smtp_end_reason_name(x->reason),
                               smtp_conv_outcome_name(x->outcome));
        span(out, "helo", x->helo);
        g_string_append_printf(out, " esmtp=%d tls=%d auth_ok=%d", x->esmtp, x->tls, x->auth_ok);
        span(out, "auth_user", x->auth_user);
        g_string_append_printf(out, " quit=%d cmds=%u replies=%u txns=%u acc=%u rej=%u def=%u abo=%u "
                               "anomalies=%u bytes=%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                               " gaps=%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                               x->quit, x->n_commands, x->n_replies, x->n_transactions, x->n_accepted,
                               x->n_rejected, x->n_deferred, x->n_aborted, x->n_anomalies,
                               x->bytes[0], x->bytes[1], x->gap_bytes[0], x->gap_bytes[1]);
        break;
    }
    }
    g_string_append_c(out, '\n');
}

static void on_event(void *user, const smtp_event *ev)
{
    event_log *l = user;
    l->n_events[ev->type]++;
    if (ev->type == SMTP_EV_ANOMALY && (unsigned)ev->u.anomaly.kind < SMTP_AN_COUNT)
        l->n_anomalies[ev->u.anomaly.kind]++;
    event_log_render(l->text, ev);
}

static void on_body(void *user, const smtp_body_span *b)
{
    event_log *l = user;
    g_string_append_len(l->body, (const char *)b->data, (gssize)b->len);
    if (b->last)
        g_string_append_printf(l->text, "@%u BODY-END total=%zu\n", b->pos.frame, l->body->len);
}

const smtp_sink event_log_sink = { on_event, on_body };

void event_log_init(event_log *l)
{
    memset(l, 0, sizeof *l);
    l->text = g_string_new(NULL);
    l->body = g_string_new(NULL);
}

void event_log_clear(event_log *l)
{
    if (l->text)
        g_string_free(l->text, TRUE);
    if (l->body)
        g_string_free(l->body, TRUE);
    memset(l, 0, sizeof *l);
}

gboolean event_log_has(const event_log *l, const char *needle)
{
    return strstr(l->text->str, needle) != NULL;
}

static void feed_step(smtp_engine *e, const tx_step *s, cap_pos pos, tx_split split, size_t cut,
                      GRand *rnd)
{
    smtp_dir dir = s->kind == 'C' ? SMTP_DIR_CLIENT : SMTP_DIR_SERVER;
    const uint8_t *p = (const uint8_t *)s->data;
    size_t n = s->len;
    switch (split) {
    case TX_WHOLE:
        smtp_feed(e, dir, p, n, pos);
        break;
    case TX_BYTES:
        for (size_t i = 0; i < n; i++)
            smtp_feed(e, dir, p + i, 1, pos);
        break;
    case TX_CUT:
        smtp_feed(e, dir, p, cut, pos);
        smtp_feed(e, dir, p + cut, n - cut, pos);
        break;
    case TX_RANDOM:
        for (size_t i = 0; i < n;) {
            size_t k = (size_t)g_rand_int_range(rnd, 0, 9);
            if (k > n - i)
                k = n - i;
            smtp_feed(e, dir, p + i, k, pos); /* zero-length calls included */
            i += k;
        }
        break;
    }
}

void tx_run(const tx_step *steps, size_t n, const smtp_options *opts, tx_split split,
            size_t cut_step, size_t cut_at, guint32 seed, event_log *log)
{
    GRand *rnd = g_rand_new_with_seed(seed);
    event_log_init(log);
    smtp_engine *e = smtp_engine_new(&event_log_sink, log, opts);
    bool ended = false;
    for (size_t i = 0; i < n; i++) {
        cap_pos pos = { (int64_t)(i + 1) * 1000000, (uint32_t)(i + 1) };
        const tx_step *s = &steps[i];
        switch (s->kind) {
        case 'C':
        case 'S':
            feed_step(e, s, pos, split == TX_CUT && i != cut_step ? TX_WHOLE : split, cut_at, rnd);
            break;
        case 'g':
        case 'G':
            smtp_gap(e, s->kind == 'g' ? SMTP_DIR_CLIENT : SMTP_DIR_SERVER, s->len, pos);
            break;
        case 'E':
            smtp_end(e, SMTP_END_FIN, pos);
            ended = true;
            break;
        }
    }
    if (!ended)
        smtp_end(e, SMTP_END_EOF, (cap_pos){ (int64_t)(n + 1) * 1000000, (uint32_t)(n + 1) });
    smtp_engine_free(e);
    g_rand_free(rnd);
}

static void assert_same(const event_log *want, const event_log *got, const char *how)
{
    if (strcmp(want->text->str, got->text->str) != 0 || !g_string_equal(want->body, got->body)) {
        g_printerr("split invariance broken (%s)\n--- whole:\n%s--- split:\n%s", how, want->text->str,
                   got->text->str);
        g_assert_not_reached();
    }
}

void tx_assert_split_invariant(const tx_step *steps, size_t n, const smtp_options *opts,
                               guint n_random)
{
    event_log whole, other;
    tx_run(steps, n, opts, TX_WHOLE, 0, 0, 0, &whole);

    tx_run(steps, n, opts, TX_BYTES, 0, 0, 0, &other);
    assert_same(&whole, &other, "byte by byte");
    event_log_clear(&other);

    for (size_t i = 0; i < n; i++) {
        if (steps[i].kind != 'C' && steps[i].kind != 'S')
            continue;
        for (size_t k = 0; k <= steps[i].len; k++) {
            tx_run(steps, n, opts, TX_CUT, i, k, 0, &other);
            if (strcmp(whole.text->str, other.text->str) != 0) {
                char how[64];
                g_snprintf(how, sizeof how, "step %zu cut at %zu", i, k);
                assert_same(&whole, &other, how);
            }
            event_log_clear(&other);
        }
    }
    for (guint r = 0; r < n_random; r++) {
        tx_run(steps, n, opts, TX_RANDOM, 0, 0, 0x5eed + r, &other);
        assert_same(&whole, &other, "random");
        event_log_clear(&other);
    }
    event_log_clear(&whole);
}
