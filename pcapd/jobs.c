/* jobs.c -- -j N: several capture files read at once.
 *
 * Each file is read by one worker thread into a context of its own (its
 * own tracker, fragment table and totals), its report held in memory.
 * Reports are written strictly in input order: whichever worker finishes
 * the file that is next in line writes it, and every later file already
 * finished.  Conversation ids are per tracker, so each report is written
 * with its ids increased by the number of conversations of the files
 * before it: the numbers are the same as without -j.
 *
 * Memory: a file's report waits in memory until the files before it are
 * written, so it is bounded by the reports of the files in flight.
 */
#include "pcapd.h"

#include <pthread.h>

typedef struct job {
    const char *name;
    pcapd_ctx   ctx;
    bool        done;
} job;

typedef struct pool {
    pcapd_ctx *main;
    job       *jobs;
    guint      n;
    gint       next_file;   /* atomic: next file to start */
    /* Guards done flags, next_emit, base and the main context.  A pthread
     * mutex rather than GMutex: ThreadSanitizer understands it, so -j can
     * be checked with it. */
    pthread_mutex_t lock;
    guint      next_emit;   /* next file whose report is written */
    uint64_t   base;        /* conversations of the files written so far */
} pool;

/* Write a finished file's report and fold its totals into the run's. */
static void emit(pool *pl, job *j)
{
    pcapd_ctx *m = pl->main;
    pcapd_ctx *w = &j->ctx;
    ob_copy_renumbered(&m->ob, &w->ob, pl->base);
    ob_flush(&m->ob);
    const summary *one = &w->sum;
    summary_merge(&m->sum, &one, 1, pl->base);
    pl->base += w->sum.conversations;
    if (w->exit_code > m->exit_code)
        m->exit_code = w->exit_code;
    m->fail_hit |= w->fail_hit;
    pcapd_ctx_free(w);
}

static gpointer worker(gpointer data)
{
    pool *pl = data;
    for (;;) {
        guint i = (guint)g_atomic_int_add(&pl->next_file, 1);
        if (i >= pl->n)
            break;
        job *j = &pl->jobs[i];
        pcapd_ctx *w = &j->ctx;
        pcapd_ctx_init(w, pl->main->opts, NULL);
        w->multi = pl->main->multi;
        w->no_progress = true;
        pcapd_read_file(w, j->name);
        pcapd_ctx_totals(w);

        pthread_mutex_lock(&pl->lock);
        j->done = true;
        while (pl->next_emit < pl->n && pl->jobs[pl->next_emit].done)
            emit(pl, &pl->jobs[pl->next_emit++]);
        pthread_mutex_unlock(&pl->lock);
    }
    return NULL;
}

void pcapd_read_parallel(pcapd_ctx *c, GPtrArray *files)
{
    pool pl = { .main = c, .n = files->len };
    pl.jobs = g_new0(job, files->len);
    for (guint i = 0; i < files->len; i++)
        pl.jobs[i].name = files->pdata[i];
    pthread_mutex_init(&pl.lock, NULL);
    guint nthreads = MIN(c->opts->jobs, files->len);
    GThread **threads = g_new(GThread *, nthreads);
    for (guint i = 0; i < nthreads; i++)
        threads[i] = g_thread_new("pcapd-job", worker, &pl);
    for (guint i = 0; i < nthreads; i++)
        g_thread_join(threads[i]);
    g_free(threads);
    pthread_mutex_destroy(&pl.lock);
    g_free(pl.jobs);
}
