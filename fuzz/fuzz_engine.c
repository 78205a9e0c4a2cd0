/* fuzz_engine.c -- libFuzzer target: the SMTP engine on two interleaved streams.
 *
 * Input layout (see README.md):
 *   byte 0      options: bit0 midstream, bit1 reveal_secrets, bit2 slow-reply
 *               check off, bits3-5 end reason (mod 5), bit6 differential run
 *   then records until the input runs out:
 *     ctl < 0xF0   feed: direction = ctl & 1, time step = (ctl >> 1) & 7,
 *                  2-byte big-endian length (cut to what is left), the bytes
 *     ctl >= 0xF0  gap:  direction = ctl & 1, 2-byte big-endian length
 *                  shifted left by 5 * ((ctl >> 1) & 7) bits
 *   every record is one frame; smtp_end closes the conversation.
 *
 * Every event is checked against the contract in smtp_engine.h and limits.h
 * and rendered into a log (which reads every byte of every span, so ASan
 * sees spans that point outside their buffers).  With bit6 set the same
 * records are fed again with each feed cut into pseudo-random pieces, and
 * the two logs must be identical: any split gives the same events.
 */
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "fuzz_check.h"
#include "smtp_engine.h"

typedef struct run_state {
    GString *log;
    bool     ended;
    bool     tls;
    bool     reveal;
    uint32_t last_seq;
    uint32_t n_events;
    uint64_t fed[2], gaps[2];
    smtp_end_reason reason;
    smtp_engine *eng;
} run_state;

static const int64_t time_steps_ns[8] = {
    0, 1000000LL, 10000000LL, 100000000LL, 1000000000LL, 5000000000LL,
    11000000000LL, 400000000000LL,
};

static void log_span(GString *log, const char *name, smtp_span s)
{
    FUZZ_CHECK(s.len == 0 || s.ptr != NULL, "span %s has length %zu but no bytes", name, s.len);
    FUZZ_CHECK(s.len <= SMTP_MAX_LINE_BUF + SMTP_MAX_REPLY_BYTES + SMTP_MAX_HEADER_SCAN,
               "span %s is %zu bytes, more than all the engine's buffers together", name, s.len);
    g_string_append_printf(log, " %s=", name);
    g_string_append_len(log, s.ptr, (gssize)s.len);
}

static void log_enhanced(GString *log, const smtp_enhanced *e)
{
    if (!e->present)
        return;
    FUZZ_CHECK(e->cls == 2 || e->cls == 4 || e->cls == 5, "enhanced class %u", e->cls);
    FUZZ_CHECK(e->subject <= 999 && e->detail <= 999, "enhanced %u.%u", e->subject, e->detail);
    g_string_append_printf(log, " enh=%u.%u.%u", e->cls, e->subject, e->detail);
}

static void check_reply(run_state *st, const smtp_reply_ev *r)
{
    FUZZ_CHECK((unsigned)r->code <= 999, "reply code %d", r->code);
    FUZZ_CHECK(r->n_lines <= SMTP_MAX_REPLY_LINES, "reply keeps %u lines", r->n_lines);
    FUZZ_CHECK(r->n_lines <= r->n_lines_total, "%u kept of %u lines", r->n_lines, r->n_lines_total);
    FUZZ_CHECK(r->n_lines == 0 || r->lines != NULL, "reply lines missing");
    FUZZ_CHECK(r->category && r->subject && r->meaning && r->command_label, "reply label is NULL");
    FUZZ_CHECK((unsigned)r->answers < SMTP_CMD_COUNT, "answers %d", (int)r->answers);
    FUZZ_CHECK((r->enh_class != NULL) == (r->enhanced.present != 0), "enh_class vs enhanced.present");
    FUZZ_CHECK(!r->enhanced.present || r->enh_subject != NULL, "enh_subject missing");
    FUZZ_CHECK(r->latency_ns >= -1, "latency %lld", (long long)r->latency_ns);
    g_string_append_printf(st->log, " code=%d n=%u/%u ans=%d seq=%u cf=%u lat=%lld ok=%d ff=%u %s|%s|%s|%s",
                           r->code, r->n_lines, r->n_lines_total, (int)r->answers, r->cmd_seq,
                           r->cmd_frame, (long long)r->latency_ns, r->valid, r->first_frame,
                           r->category, r->subject, r->meaning, r->command_label);
    log_enhanced(st->log, &r->enhanced);
    size_t text = 0;
    for (uint32_t i = 0; i < r->n_lines; i++) {
        FUZZ_CHECK(r->lines[i].len <= SMTP_MAX_LINE_BUF, "reply line of %zu bytes", r->lines[i].len);
        text += r->lines[i].len;
        log_span(st->log, "l", r->lines[i]);
    }
    FUZZ_CHECK(text <= SMTP_MAX_REPLY_BYTES, "reply keeps %zu bytes of text", text);
}

static void check_command(run_state *st, const smtp_command_ev *c)
{
    FUZZ_CHECK((unsigned)c->cmd < SMTP_CMD_COUNT, "command id %d", (int)c->cmd);
    FUZZ_CHECK(c->line.len <= SMTP_MAX_LINE_BUF, "command line of %zu bytes", c->line.len);
    FUZZ_CHECK(c->seq > st->last_seq, "command seq %u after %u", c->seq, st->last_seq);
    st->last_seq = c->seq;
    g_string_append_printf(st->log, " cmd=%d seq=%u pl=%d m=%d ff=%u", (int)c->cmd, c->seq,
                           c->pipelined, c->masked, c->first_frame);
    log_span(st->log, "verb", c->verb);
    log_span(st->log, "args", c->args);
    log_span(st->log, "line", c->line);
}

static void check_txn(run_state *st, const smtp_transaction_ev *t)
{
    FUZZ_CHECK(t->n_recipients <= SMTP_MAX_RECIPIENTS, "%u recipients kept", t->n_recipients);
    FUZZ_CHECK(t->n_recipients <= t->n_recipients_total, "recipients %u/%u", t->n_recipients,
               t->n_recipients_total);
    FUZZ_CHECK(t->n_recipients == 0 || t->recipients != NULL, "recipients missing");
    FUZZ_CHECK((unsigned)t->outcome <= SMTP_TXN_MAIL_REJECTED, "outcome %d",
               (int)t->outcome);
    FUZZ_CHECK((unsigned)t->method <= SMTP_METHOD_BDAT, "method %d", (int)t->method);
    g_string_append_printf(st->log, " start=%d mc=%d fc=%d out=%s meth=%s chunks=%u size=%llu rc=%u/%u f=%u-%u",
                           (int)t->start_cmd, t->mail_code, t->final_code,
                           smtp_txn_outcome_name(t->outcome), smtp_method_name(t->method), t->n_chunks,
                           (unsigned long long)t->size, t->n_recipients, t->n_recipients_total,
                           t->first_frame, t->last_frame);
    log_span(st->log, "from", t->mail_from);
    log_span(st->log, "params", t->mail_params);
    log_span(st->log, "final", t->final_text);
    log_span(st->log, "qid", t->queue_id);
    log_span(st->log, "subj", t->subject);
    log_span(st->log, "mid", t->message_id);
    log_enhanced(st->log, &t->mail_enhanced);
    log_enhanced(st->log, &t->final_enhanced);
    for (uint32_t i = 0; i < t->n_recipients; i++) {
        const smtp_recipient *r = &t->recipients[i];
        FUZZ_CHECK((unsigned)r->status <= SMTP_RCPT_UNANSWERED, "rcpt status");
        g_string_append_printf(st->log, " rcpt=%d,%s,%u", r->code, smtp_rcpt_status_name(r->status), r->frame);
        log_span(st->log, "addr", r->address);
        log_span(st->log, "rp", r->params);
        log_enhanced(st->log, &r->enhanced);
    }
}

static void check_end(run_state *st, const smtp_end_ev *e)
{
    FUZZ_CHECK(e->reason == st->reason, "end reason %d, expected %d", (int)e->reason, (int)st->reason);
    for (int d = 0; d < 2; d++) {
        FUZZ_CHECK(e->bytes[d] == st->fed[d] + st->gaps[d], "dir %d: end counts %llu bytes, fed %llu + gaps %llu",
                   d, (unsigned long long)e->bytes[d], (unsigned long long)st->fed[d],
                   (unsigned long long)st->gaps[d]);
        FUZZ_CHECK(e->gap_bytes[d] == st->gaps[d], "dir %d: end counts %llu gap bytes, fed %llu", d,
                   (unsigned long long)e->gap_bytes[d], (unsigned long long)st->gaps[d]);
    }
    FUZZ_CHECK(e->n_accepted + e->n_rejected + e->n_deferred + e->n_aborted <= e->n_transactions,
               "transaction totals exceed %u", e->n_transactions);
    g_string_append_printf(st->log, " %s %s esmtp=%d tls=%d auth=%d quit=%d c=%u r=%u t=%u/%u/%u/%u/%u a=%u",
                           smtp_end_reason_name(e->reason), smtp_conv_outcome_name(e->outcome), e->esmtp,
                           e->tls, e->auth_ok, e->quit, e->n_commands, e->n_replies, e->n_transactions,
                           e->n_accepted, e->n_rejected, e->n_deferred, e->n_aborted, e->n_anomalies);
    log_span(st->log, "helo", e->helo);
    log_span(st->log, "user", e->auth_user);
}

static void on_event(void *user, const smtp_event *ev)
{
    run_state *st = user;
    FUZZ_CHECK(!st->ended, "event type %d after SMTP_EV_END", (int)ev->type);
    FUZZ_CHECK(ev->from == SMTP_DIR_CLIENT || ev->from == SMTP_DIR_SERVER, "from %d", (int)ev->from);
    st->n_events++;
    g_string_append_printf(st->log, "%d/%d@%u:%lld", (int)ev->type, (int)ev->from, ev->pos.frame,
                           (long long)ev->pos.ts_ns);
    switch (ev->type) {
    case SMTP_EV_COMMAND:
        check_command(st, &ev->u.command);
        break;
    case SMTP_EV_REPLY:
        check_reply(st, &ev->u.reply);
        break;
    case SMTP_EV_CAPABILITIES: {
        const smtp_capabilities_ev *c = &ev->u.caps;
        FUZZ_CHECK(c->n_caps <= SMTP_MAX_CAPABILITIES, "%u capabilities kept", c->n_caps);
        FUZZ_CHECK(c->n_caps == 0 || c->caps != NULL, "capabilities missing");
        g_string_append_printf(st->log, " size=%llu mask=%llx", (unsigned long long)c->size_limit,
                               (unsigned long long)c->ext_mask);
        log_span(st->log, "srv", c->server_name);
        log_span(st->log, "mechs", c->auth_mechs);
        for (uint32_t i = 0; i < c->n_caps; i++) {
            FUZZ_CHECK(c->caps[i].ext <= SMTP_EXT_COUNT, "ext %d", (int)c->caps[i].ext);
            log_span(st->log, "kw", c->caps[i].keyword);
            log_span(st->log, "p", c->caps[i].params);
        }
        break;
    }
    case SMTP_EV_STARTTLS:
        FUZZ_CHECK(!st->tls, "second STARTTLS event");
        st->tls = true;
        g_string_append_printf(st->log, " cf=%u inj=%d", ev->u.starttls.cmd_frame, ev->u.starttls.injection);
        break;
    case SMTP_EV_AUTH: {
        const smtp_auth_ev *a = &ev->u.auth;
        FUZZ_CHECK(st->reveal || a->secret.len == 0, "AUTH secret of %zu bytes revealed without reveal_secrets",
                   a->secret.len);
        FUZZ_CHECK((unsigned)a->outcome <= SMTP_AUTH_UNFINISHED, "auth outcome");
        g_string_append_printf(st->log, " %s code=%d cf=%u", smtp_auth_outcome_name(a->outcome), a->code,
                               a->cmd_frame);
        log_span(st->log, "mech", a->mechanism);
        log_span(st->log, "user", a->username);
        log_span(st->log, "secret", a->secret);
        log_enhanced(st->log, &a->enhanced);
        break;
    }
    case SMTP_EV_TRANSACTION:
        check_txn(st, &ev->u.txn);
        break;
    case SMTP_EV_ANOMALY: {
        const smtp_anomaly_ev *a = &ev->u.anomaly;
        FUZZ_CHECK((unsigned)a->kind < SMTP_AN_COUNT, "anomaly kind %d", (int)a->kind);
        FUZZ_CHECK(a->message != NULL, "anomaly %s without message", reg_anomaly_name(a->kind));
        FUZZ_CHECK((unsigned)a->cmd < SMTP_CMD_COUNT, "anomaly command %d", (int)a->cmd);
        g_string_append_printf(st->log, " %s cmd=%d seq=%u %s", reg_anomaly_name(a->kind), (int)a->cmd,
                               a->cmd_seq, a->message);
        break;
    }
    case SMTP_EV_END:
        check_end(st, &ev->u.end);
        st->ended = true;
        break;
    default:
        FUZZ_CHECK(0, "unknown event type %d", (int)ev->type);
    }
    g_string_append_c(st->log, '\n');
}

static void on_body(void *user, const smtp_body_span *b)
{
    run_state *st = user;
    FUZZ_CHECK(!st->ended, "body after SMTP_EV_END");
    FUZZ_CHECK(b->len == 0 || b->data != NULL, "body span without bytes");
    /* Bodies are part of the split-invariant output only as a byte total:
     * their pieces legitimately follow the feed boundaries. */
    uint32_t h = 0;
    for (size_t i = 0; i < b->len; i++)
        h = h * 31u + b->data[i];
    (void)h;
}

/* xorshift32: deterministic piece sizes for the differential run. */
static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void feed_pieces(run_state *st, smtp_dir dir, const uint8_t *p, size_t len, cap_pos pos, uint32_t *rng)
{
    if (rng == NULL) {
        smtp_feed(st->eng, dir, p, len, pos);
        return;
    }
    while (len > 0) {
        uint32_t r = next_rand(rng);
        size_t piece = 1 + (r >> 8) % (1u << (r & 7));
        if (piece > len)
            piece = len;
        smtp_feed(st->eng, dir, p, piece, pos);
        p += piece;
        len -= piece;
    }
}

/* Run the whole input once; `rng` NULL feeds each record in one call. */
static GString *run(const uint8_t *data, size_t size, uint32_t *rng)
{
    static const smtp_sink sink = { on_event, on_body };
    uint8_t opt = data[0];
    smtp_options o = {
        .midstream = opt & 1,
        .reveal_secrets = (opt >> 1) & 1,
        .slow_reply_ns = (opt & 4) ? -1 : 0,
    };
    run_state st = { .log = g_string_new(NULL), .reveal = o.reveal_secrets,
                     .reason = (smtp_end_reason)(((opt >> 3) & 7) % 5) };
    st.eng = smtp_engine_new(&sink, &st, &o);
    cap_pos pos = { .ts_ns = 1700000000LL * 1000000000LL, .frame = 0 };
    size_t i = 1;
    while (i < size) {
        uint8_t ctl = data[i++];
        smtp_dir dir = (smtp_dir)(ctl & 1);
        uint64_t len = 0;
        for (int k = 0; k < 2 && i < size; k++)
            len = (len << 8) | data[i++];
        pos.frame++;
        if (ctl >= 0xF0) {
            len <<= 5 * ((ctl >> 1) & 7);
            st.gaps[dir] += len;
            smtp_gap(st.eng, dir, len, pos);
        } else {
            pos.ts_ns += time_steps_ns[(ctl >> 1) & 7];
            if (len > size - i)
                len = size - i;
            st.fed[dir] += len;
            feed_pieces(&st, dir, data + i, (size_t)len, pos, rng);
            i += (size_t)len;
        }
        FUZZ_CHECK(!st.ended, "SMTP_EV_END before smtp_end");
        FUZZ_CHECK(smtp_in_tls(st.eng) == st.tls, "smtp_in_tls disagrees with the STARTTLS event");
    }
    pos.frame++;
    smtp_end(st.eng, st.reason, pos);
    FUZZ_CHECK(st.ended, "smtp_end emitted no SMTP_EV_END");
    smtp_end(st.eng, SMTP_END_RST, pos);   /* must emit nothing: on_event checks */
    smtp_engine_free(st.eng);
    return st.log;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    GString *one = run(data, size, NULL);
    if (data[0] & 0x40) {
        uint32_t seed = 0x9e3779b9u ^ (uint32_t)size;
        GString *split = run(data, size, &seed);
        if (!g_string_equal(one, split)) {
            size_t k = 0;
            while (k < one->len && k < split->len && one->str[k] == split->str[k])
                k++;
            size_t from = k > 200 ? k - 200 : 0;
            fprintf(stderr, "whole feeds:\n%.400s\nsplit feeds:\n%.400s\n", one->str + from, split->str + from);
            FUZZ_CHECK(0, "events differ when the same bytes are fed in other pieces (at log offset %zu)", k);
        }
        g_string_free(split, TRUE);
    }
    g_string_free(one, TRUE);
    return 0;
}
