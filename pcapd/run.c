/* run.c -- one pcapd run: tracker, renderer, totals and the exit code.
 *
 * Every event the tracker emits passes through pcapd_on_event(): it updates
 * the per-conversation notes and the run totals, checks --fail-on, then
 * hands the event to the chosen renderer, in the order the core emitted
 * it.
 */
#include "pcapd.h"

#include <pcap/pcap.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

/* EHLO keywords kept for the `conversation` record. */
#define CONV_CAPS_MAX 1024

void pcapd_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* One call, so messages of -j workers do not interleave. */
    fprintf(stderr, "pcapd: %s\n", msg);
    g_free(msg);
}

static void conv_free(gpointer p)
{
    pcapd_conv *pc = p;
    if (pc->caps)
        g_string_free(pc->caps, TRUE);
    if (pc->auth_mech)
        g_string_free(pc->auth_mech, TRUE);
    if (pc->auth_user)
        g_string_free(pc->auth_user, TRUE);
    if (pc->text) {
        ob_free(pc->text);
        g_free(pc->text);
    }
    g_free(pc);
}

static pcapd_conv *conv_get(pcapd_ctx *c, uint64_t id)
{
    pcapd_conv *pc = g_hash_table_lookup(c->convs, &id);
    if (!pc) {
        pc = g_new0(pcapd_conv, 1);
        pc->id = id;
        pc->auth_outcome = -1;
        g_hash_table_insert(c->convs, &pc->id, pc);
    }
    return pc;
}

static void gstring_set(GString **gs, const smtp_span *sp, size_t max)
{
    if (!*gs)
        *gs = g_string_sized_new(16);
    g_string_truncate(*gs, 0);
    g_string_append_len(*gs, sp->ptr, (gssize)MIN(sp->len, max));
}

/* Remember what the `conversation` record will need at the end. */
static void conv_note(pcapd_conv *pc, const smtp_event *ev)
{
    if (ev->type == SMTP_EV_CAPABILITIES) {
        if (!pc->caps)
            pc->caps = g_string_sized_new(64);
        g_string_truncate(pc->caps, 0);
        for (uint32_t i = 0; i < ev->u.caps.n_caps; i++) {
            const smtp_span *kw = &ev->u.caps.caps[i].keyword;
            if (pc->caps->len + kw->len + 1 > CONV_CAPS_MAX)
                break;
            if (pc->caps->len)
                g_string_append_c(pc->caps, ' ');
            g_string_append_len(pc->caps, kw->ptr, (gssize)kw->len);
        }
    } else if (ev->type == SMTP_EV_AUTH) {
        gstring_set(&pc->auth_mech, &ev->u.auth.mechanism, 64);
        gstring_set(&pc->auth_user, &ev->u.auth.username, 256);
        pc->auth_outcome = (int)ev->u.auth.outcome;
    }
}

static bool fail_condition(unsigned fail_on, const smtp_event *ev)
{
    if ((fail_on & PCAPD_FAIL_ANOMALY) && ev->type == SMTP_EV_ANOMALY &&
        reg_anomaly_severity(ev->u.anomaly.kind) >= ANS_WARN)
        return true;
    if ((fail_on & PCAPD_FAIL_REJECT) && ev->type == SMTP_EV_TRANSACTION) {
        const smtp_transaction_ev *t = &ev->u.txn;
        if (t->outcome == SMTP_TXN_REJECTED || t->outcome == SMTP_TXN_DEFERRED ||
            t->outcome == SMTP_TXN_MAIL_REJECTED)
            return true;
        for (uint32_t i = 0; i < t->n_recipients; i++)
            if (t->recipients[i].status == SMTP_RCPT_REJECTED ||
                t->recipients[i].status == SMTP_RCPT_DEFERRED)
                return true;
    }
    return false;
}

static void pcapd_on_event(void *user, const tcp_conv_info *conv, const smtp_event *ev)
{
    pcapd_ctx *c = user;
    pcapd_conv *pc = conv_get(c, conv->id);
    conv_note(pc, ev);
    summary_slow slow;
    bool entered = summary_event(&c->sum, ev, conv->id, c->file, &slow);
    if (c->opts->fail_on && fail_condition(c->opts->fail_on, ev))
        c->fail_hit = true;
    c->out->event(c, pc, conv, ev);
    if (c->shard)
        shard_note_event(c->shard, &c->ob, conv->id, ev->type == SMTP_EV_END,
                         entered ? &slow : NULL);
    if (ev->type == SMTP_EV_END)
        g_hash_table_remove(c->convs, &conv->id);
}

static void pcapd_on_start(void *user, const tcp_conv_info *conv)
{
    pcapd_ctx *c = user;
    if (c->shard)
        shard_note_start(c->shard, conv);
}

bool pcapd_port_wanted(const pcapd_options *o, const tcp_segment *seg)
{
    /* Cheap rejection: without the heuristic only listed ports matter. */
    if (!o->no_heuristic || !o->n_ports)
        return true;
    for (size_t i = 0; i < o->n_ports; i++)
        if (seg->sport == o->ports[i] || seg->dport == o->ports[i])
            return true;
    return false;
}

void pcapd_packet(pcapd_ctx *c, const uint8_t *data, uint32_t caplen, uint32_t len, int dlt,
                  cap_pos pos)
{
    tcp_segment seg;
    c->sum.packets++;
    c->sum.bytes += len;
    if (decode_frame(dlt, data, caplen, pos, c->frags, &c->dstats, &seg) != DECODE_TCP)
        return;
    if (!pcapd_port_wanted(c->opts, &seg))
        return;
    c->sum.tcp_segments++;
    tcp_tracker_segment(c->tracker, &seg);
}

static const pcapd_output *pick_output(pcapd_format f)
{
    switch (f) {
    case PCAPD_FMT_NDJSON: return &pcapd_output_ndjson;
    case PCAPD_FMT_CSV:    return &pcapd_output_csv;
    default:               return &pcapd_output_text;
    }
}

static bool want_color(const pcapd_options *o)
{
    if (o->format != PCAPD_FMT_TEXT || o->color < 0)
        return false;
    if (o->color > 0)
        return true;
    const char *nc = getenv("NO_COLOR");
    if (nc && *nc)
        return false;
    return isatty(STDOUT_FILENO);
}

void pcapd_ctx_init(pcapd_ctx *c, const pcapd_options *opts, FILE *out)
{
    memset(c, 0, sizeof *c);
    c->opts = opts;
    c->out = pick_output(opts->format);
    c->color = want_color(opts);
    c->live = opts->interface != NULL;
    c->convs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, conv_free);
    c->frags = frag_new();
    c->scratch = g_string_sized_new(1024);
    summary_init(&c->sum);
    ob_init(&c->ob, out, out ? 1 << 18 : 1 << 16);
    if (!out)
        ob_track_convs(&c->ob);

    tcp_tracker_options topts;
    memset(&topts, 0, sizeof topts);
    topts.ports = opts->n_ports ? opts->ports : NULL;
    topts.n_ports = opts->n_ports;
    topts.heuristic = !opts->no_heuristic;
    topts.max_live = opts->max_live;
    topts.idle_ns = opts->idle_ns;
    topts.smtp.reveal_secrets = opts->show_secrets;
    topts.smtp.slow_reply_ns = opts->slow_reply_ns;
    tcp_tracker_sink sink = { pcapd_on_event, NULL, pcapd_on_start };
    c->tracker = tcp_tracker_new(&topts, &sink, c);
}

void pcapd_ctx_totals(pcapd_ctx *c)
{
    const decode_stats *d = &c->dstats;
    c->sum.not_ip += d->not_ip;
    c->sum.not_tcp += d->not_tcp;
    c->sum.truncated += d->truncated;
    c->sum.malformed += d->malformed;
    c->sum.frags += d->frags;
    c->sum.frags_reassembled += d->frags_reassembled;
    c->sum.frags_dropped += d->frags_dropped;
    c->sum.flows_evicted += tcp_tracker_get_stats(c->tracker)->evicted;
    memset(&c->dstats, 0, sizeof c->dstats);
}

void pcapd_ctx_free(pcapd_ctx *c)
{
    tcp_tracker_free(c->tracker);
    g_hash_table_destroy(c->convs);
    frag_free(c->frags);
    summary_free(&c->sum);
    ob_free(&c->ob);
    g_string_free(c->scratch, TRUE);
    if (c->files)
        g_ptr_array_free(c->files, TRUE);
    memset(c, 0, sizeof *c);
}

int pcapd_run(const pcapd_options *opts)
{
    /* Records are assembled in c.ob; stdout's own buffer only sees large
     * writes, so it can stay small.  Only before the first output (the
     * fuzz target runs pcapd_run many times in one process). */
    static char stdout_buf[1 << 16];
    static bool stdout_set;
    if (!stdout_set) {
        setvbuf(stdout, stdout_buf, _IOFBF, sizeof stdout_buf);
        stdout_set = true;
    }
    pcapd_ctx c;
    pcapd_ctx_init(&c, opts, stdout);

    c.out->begin(&c);
    int status = pcapd_inputs(&c);
    pcapd_ctx_totals(&c);
    c.out->end(&c);
    ob_flush(&c.ob);
    if (fflush(stdout) != 0)
        c.ob.failed = true;

    if (!opts->quiet) {
        fprintf(stderr,
                "pcapd: %" G_GUINT64_FORMAT " packets, %" G_GUINT64_FORMAT " TCP segments, %"
                G_GUINT64_FORMAT " SMTP conversations, %" G_GUINT64_FORMAT " flows evicted, %"
                G_GUINT64_FORMAT " truncated frames\n",
                c.sum.packets, c.sum.tcp_segments, c.sum.conversations, c.sum.flows_evicted,
                c.sum.truncated);
    }

    int code = status;
    if (c.fail_hit && code < PCAPD_EXIT_FAIL_ON)
        code = PCAPD_EXIT_FAIL_ON;
    if (c.ob.failed) {
        pcapd_warn("writing the report failed");
        code = PCAPD_EXIT_OUTPUT;
    }
    pcapd_ctx_free(&c);
    return code;
}
