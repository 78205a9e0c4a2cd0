/* smtpscope_record.c -- deep copies of the core's events (see smtpscope_record.h). */
#include "smtpscope_record.h"

#include <string.h>

static smtp_span span_dup(wmem_allocator_t *scope, smtp_span s)
{
    smtp_span d = { "", 0 };
    if (s.len > 0) {
        d.ptr = (const char *)wmem_memdup(scope, s.ptr, s.len);
        d.len = s.len;
    }
    return d;
}

static void copy_reply(wmem_allocator_t *scope, smtp_reply_ev *r)
{
    smtp_span *lines = wmem_alloc0_array(scope, smtp_span, r->n_lines ? r->n_lines : 1);
    for (guint32 i = 0; i < r->n_lines; i++)
        lines[i] = span_dup(scope, r->lines[i]);
    r->lines = lines;
}

static void copy_caps(wmem_allocator_t *scope, smtp_capabilities_ev *c)
{
    smtp_capability *caps = wmem_alloc0_array(scope, smtp_capability, c->n_caps ? c->n_caps : 1);
    for (guint32 i = 0; i < c->n_caps; i++) {
        caps[i] = c->caps[i];
        caps[i].keyword = span_dup(scope, c->caps[i].keyword);
        caps[i].params = span_dup(scope, c->caps[i].params);
    }
    c->caps = caps;
    c->server_name = span_dup(scope, c->server_name);
    c->auth_mechs = span_dup(scope, c->auth_mechs);
}

static void copy_txn(wmem_allocator_t *scope, smtp_transaction_ev *t)
{
    smtp_recipient *rcpts = wmem_alloc0_array(scope, smtp_recipient,
                                              t->n_recipients ? t->n_recipients : 1);
    for (guint32 i = 0; i < t->n_recipients; i++) {
        rcpts[i] = t->recipients[i];
        rcpts[i].address = span_dup(scope, t->recipients[i].address);
        rcpts[i].params = span_dup(scope, t->recipients[i].params);
    }
    t->recipients = rcpts;
    t->mail_from = span_dup(scope, t->mail_from);
    t->mail_params = span_dup(scope, t->mail_params);
    t->final_text = span_dup(scope, t->final_text);
    t->queue_id = span_dup(scope, t->queue_id);
    t->subject = span_dup(scope, t->subject);
    t->message_id = span_dup(scope, t->message_id);
}

ss_record *ss_record_add(wmem_allocator_t *scope, ss_frame *frame, const smtp_event *ev)
{
    ss_record *rec = wmem_new0(scope, ss_record);
    rec->ev = *ev;
    rec->off = -1;

    smtp_event *e = &rec->ev;
    switch (e->type) {
    case SMTP_EV_COMMAND:
        e->u.command.verb = span_dup(scope, e->u.command.verb);
        e->u.command.args = span_dup(scope, e->u.command.args);
        e->u.command.line = span_dup(scope, e->u.command.line);
        break;
    case SMTP_EV_REPLY:
        copy_reply(scope, &e->u.reply);
        break;
    case SMTP_EV_CAPABILITIES:
        copy_caps(scope, &e->u.caps);
        break;
    case SMTP_EV_STARTTLS:
        break;
    case SMTP_EV_AUTH:
        e->u.auth.mechanism = span_dup(scope, e->u.auth.mechanism);
        e->u.auth.username = span_dup(scope, e->u.auth.username);
        e->u.auth.secret = span_dup(scope, e->u.auth.secret);
        break;
    case SMTP_EV_TRANSACTION:
        copy_txn(scope, &e->u.txn);
        break;
    case SMTP_EV_ANOMALY:
        e->u.anomaly.message = wmem_strdup(scope, e->u.anomaly.message ? e->u.anomaly.message : "");
        break;
    case SMTP_EV_END:
        e->u.end.helo = span_dup(scope, e->u.end.helo);
        e->u.end.auth_user = span_dup(scope, e->u.end.auth_user);
        break;
    }

    if (frame->last)
        frame->last->next = rec;
    else
        frame->first = rec;
    frame->last = rec;
    return rec;
}
