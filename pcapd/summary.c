/* summary.c -- totals over the whole run, fed with every core event.
 *
 * Counts conversations, transactions, replies by class and code, anomalies
 * by kind, the most frequent failure replies and the slowest replies.  The
 * renderers print it; run.c uses it for --fail-on.
 */
#include "pcapd.h"

#include <stddef.h>
#include <string.h>

/* summary_merge() adds the counters at the head of the struct as an array. */
G_STATIC_ASSERT(offsetof(summary, failures) % sizeof(uint64_t) == 0);

/* Distinct failure replies remembered (code, enhanced code, command); a
 * hostile server inventing enhanced codes cannot grow the table past it. */
#define SUMMARY_MAX_FAILURE_KEYS 4096

static guint failure_hash(gconstpointer p)
{
    const summary_failure *f = p;
    return (guint)f->code * 1000003u ^ (guint)f->enhanced.cls << 20 ^ (guint)f->enhanced.subject << 10 ^
           f->enhanced.detail ^ g_str_hash(f->command);
}

static gboolean failure_equal(gconstpointer a, gconstpointer b)
{
    const summary_failure *x = a, *y = b;
    return x->code == y->code && x->enhanced.present == y->enhanced.present &&
           x->enhanced.cls == y->enhanced.cls && x->enhanced.subject == y->enhanced.subject &&
           x->enhanced.detail == y->enhanced.detail && strcmp(x->command, y->command) == 0;
}

void summary_init(summary *s)
{
    memset(s, 0, sizeof *s);
    s->failures = g_hash_table_new_full(failure_hash, failure_equal, g_free, NULL);
}

void summary_free(summary *s)
{
    if (s->failures)
        g_hash_table_destroy(s->failures);
    s->failures = NULL;
}

static void summary_failure_add(summary *s, const smtp_reply_ev *r, uint32_t frame)
{
    summary_failure key = { r->code, { 0, 0, 0, 0 }, r->command_label, r->meaning, 0, frame,
                            s->failures_seen };
    if (r->enhanced.present)
        key.enhanced = r->enhanced;
    summary_failure *f = g_hash_table_lookup(s->failures, &key);
    if (f) {
        f->count++;
    } else if (g_hash_table_size(s->failures) < SUMMARY_MAX_FAILURE_KEYS) {
        f = g_memdup2(&key, sizeof key);
        f->count = 1;
        s->failures_seen++;
        g_hash_table_add(s->failures, f);
    } else {
        s->failures_other++;
    }
}

bool summary_slow_add(summary *s, const summary_slow *w)
{
    if (s->n_slow == SUMMARY_TOP && s->slow[SUMMARY_TOP - 1].latency_ns >= w->latency_ns)
        return false;
    size_t i = s->n_slow < SUMMARY_TOP ? s->n_slow++ : SUMMARY_TOP - 1;
    while (i > 0 && s->slow[i - 1].latency_ns < w->latency_ns) {
        s->slow[i] = s->slow[i - 1];
        i--;
    }
    s->slow[i] = *w;
    return true;
}

bool summary_event(summary *s, const smtp_event *ev, uint64_t conv, const char *file,
                   summary_slow *entered)
{
    summary_slow w;
    bool slow = false;
    switch (ev->type) {
    case SMTP_EV_REPLY: {
        const smtp_reply_ev *r = &ev->u.reply;
        s->replies++;
        if (r->code >= 0 && r->code < 1000) {
            s->reply_code[r->code]++;
            s->reply_class[r->code / 100]++;
        }
        if (r->code >= 400 && r->code < 600)
            summary_failure_add(s, r, ev->pos.frame);
        if (r->latency_ns >= 0) {
            w = (summary_slow){ r->latency_ns, conv, r->first_frame ? r->first_frame : ev->pos.frame,
                                r->code, r->command_label, file };
            slow = summary_slow_add(s, &w);
        }
        break;
    }
    case SMTP_EV_TRANSACTION: {
        const smtp_transaction_ev *t = &ev->u.txn;
        if ((unsigned)t->outcome < G_N_ELEMENTS(s->txn_outcome))
            s->txn_outcome[t->outcome]++;
        for (uint32_t i = 0; i < t->n_recipients; i++)
            if (t->recipients[i].status == SMTP_RCPT_REJECTED ||
                t->recipients[i].status == SMTP_RCPT_DEFERRED)
                s->rcpt_refused++;
        break;
    }
    case SMTP_EV_ANOMALY: {
        smtp_anomaly k = ev->u.anomaly.kind;
        s->anomalies++;
        if ((unsigned)k < SMTP_AN_COUNT) {
            s->anomaly_kind[k]++;
            unsigned sev = reg_anomaly_severity(k);
            if (sev < 3)
                s->anomaly_severity[sev]++;
        }
        break;
    }
    case SMTP_EV_END:
        s->conversations++;
        if ((unsigned)ev->u.end.outcome < G_N_ELEMENTS(s->conv_outcome))
            s->conv_outcome[ev->u.end.outcome]++;
        break;
    default:
        break;
    }
    if (slow && entered)
        *entered = w;
    return slow;
}

static gint failure_cmp(gconstpointer a, gconstpointer b)
{
    const summary_failure *x = *(summary_failure *const *)a, *y = *(summary_failure *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (x->code != y->code)
        return x->code - y->code;
    int c = strcmp(x->command, y->command);
    if (c)
        return c;
    /* A total order: the hash table's iteration order must not show. */
    const smtp_enhanced *e = &x->enhanced, *f = &y->enhanced;
    if (e->present != f->present)
        return e->present - f->present;
    if (e->cls != f->cls)
        return e->cls - f->cls;
    if (e->subject != f->subject)
        return e->subject - f->subject;
    if (e->detail != f->detail)
        return e->detail - f->detail;
    return strcmp(x->meaning, y->meaning);
}

GPtrArray *summary_failures(const summary *s, size_t max)
{
    GPtrArray *all = g_ptr_array_new();
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, s->failures);
    while (g_hash_table_iter_next(&it, &k, NULL))
        g_ptr_array_add(all, k);
    g_ptr_array_sort(all, failure_cmp);
    if (all->len > max)
        g_ptr_array_set_size(all, (gint)max);
    return all;
}

static gint by_first_frame(gconstpointer a, gconstpointer b)
{
    const summary_failure *x = *(summary_failure *const *)a, *y = *(summary_failure *const *)b;
    if (x->first_frame != y->first_frame)
        return x->first_frame < y->first_frame ? -1 : 1;
    return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

void summary_merge(summary *dst, const summary *const *src, size_t n, uint64_t conv_base)
{
    GPtrArray *seen = g_ptr_array_new();
    for (size_t k = 0; k < n; k++) {
        uint64_t *d = (uint64_t *)dst;
        const uint64_t *a = (const uint64_t *)src[k];
        for (size_t i = 0; i < offsetof(summary, failures) / sizeof(uint64_t); i++)
            d[i] += a[i];
        GHashTableIter it;
        gpointer f;
        g_hash_table_iter_init(&it, src[k]->failures);
        while (g_hash_table_iter_next(&it, &f, NULL))
            g_ptr_array_add(seen, f);
        for (size_t i = 0; i < src[k]->n_slow; i++) {
            summary_slow w = src[k]->slow[i];
            w.conv += conv_base;
            summary_slow_add(dst, &w);
        }
    }
    g_ptr_array_sort(seen, by_first_frame);
    for (guint i = 0; i < seen->len; i++) {
        const summary_failure *f = seen->pdata[i];
        summary_failure *d = g_hash_table_lookup(dst->failures, f);
        if (d) {
            d->count += f->count;
        } else if (g_hash_table_size(dst->failures) < SUMMARY_MAX_FAILURE_KEYS) {
            g_hash_table_add(dst->failures, g_memdup2(f, sizeof *f));
        } else {
            dst->failures_other += f->count;
        }
    }
    g_ptr_array_free(seen, TRUE);
}
