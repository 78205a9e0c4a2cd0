/* shard.c -- -j N on one capture file: N trackers, one report.
 *
 * Readers (slice.c) fill slices; each of N workers runs every confirmed
 * slice in order with its own tracker and renderer context.  A segment
 * goes to the worker its connection hashes to; every other worker only
 * ticks (tcp_tracker_tick), so each clock moves as one tracker's would and
 * idle conversations end at the same frame.  Before its own segment a
 * worker ticks too, so whatever expires at a frame is a tick's doing in
 * every worker.  While rendering, a worker notes each event it wrote with
 * the frame it came with (shard_rec); the main thread merges the workers'
 * notes of a slice by frame, copying the rendered bytes to stdout.  At one
 * frame: what expired, in conversation id order (as one tracker expires
 * them), then the events of the segment itself; at the end of the capture
 * conversations end in id order, as in tcp_tracker_finish().  Ids are
 * given out as the merge meets each worker's REC_START, so they are the
 * ids a single tracker gives.  The report is the one a single thread
 * writes, byte for byte.
 *
 * Where it can still differ, all at limits: the live-flow cap
 * (--max-conversations) is shared out among the workers and the tombstone
 * ring is each worker's, so they bite at other moments, and the text
 * renderer's bound on pending text counts each worker alone.  (The summary's bound on distinct failure replies
 * does not: summary_merge() adds them in the order they were met.)
 *
 * Memory: slots hold at most (readers + 2) slices of about S bytes each,
 * (in the file's mapping or copied), plus the workers' reports of them.
 */
#include "shard.h"
#include "progress.h"
#include "smtp_limits.h"
#include "stream.h"

#include <stdlib.h>
#include <string.h>

/* Packets ahead whose payload a worker prefetches. */
#define PREFETCH_AHEAD 16
/* More workers than this gain nothing and cost a slice each. */
#define SHARD_MAX_WORKERS 64

/* A conversation as the merge knows it. */
typedef struct id_pair {
    uint64_t local, global;
    uint64_t slice;           /* where it started: slice, frame in it */
    uint32_t idx;
    uint32_t first;           /* its first frame */
    bool     late;            /* started while flows were ending (a tick,
                               * the end of the capture) */
} id_pair;

/* ---- notes a worker's renderer leaves ---------------------------------- */

static void note(shard_worker *w, const shard_rec *rec)
{
    g_array_append_vals(w->out->recs, rec, 1);
}

void shard_note_start(shard_worker *w, const tcp_conv_info *conv)
{
    shard_rec rec = { .idx = w->idx, .kind = REC_START, .conv = conv->id,
                      .first = conv->first.frame, .tick = w->ticking };
    note(w, &rec);
}

void shard_note_event(shard_worker *w, const outbuf *ob, uint64_t conv, bool end,
                      const summary_slow *slow)
{
    if (slow) {
        shard_rec rec = { .idx = w->idx, .kind = REC_SLOW, .conv = conv,
                          .first = w->out->slows->len, .tick = w->ticking };
        g_array_append_vals(w->out->slows, slow, 1);
        note(w, &rec);
    }
    shard_rec rec = { .idx = w->idx, .kind = REC_OUT, .end = end, .conv = conv,
                      .upto = ob->len, .tick = w->ticking };
    note(w, &rec);
}

static void shard_out_init(shard_out *o)
{
    ob_init(&o->ob, NULL, 1 << 14);
    ob_track_convs(&o->ob);
    o->recs = g_array_new(FALSE, FALSE, sizeof(shard_rec));
    o->slows = g_array_new(FALSE, FALSE, sizeof(summary_slow));
}

static void shard_out_reset(shard_out *o)
{
    o->ob.len = 0;
    g_array_set_size(o->ob.marks, 0);
    g_array_set_size(o->recs, 0);
    g_array_set_size(o->slows, 0);
}

static void shard_out_free(shard_out *o)
{
    ob_free(&o->ob);
    g_array_free(o->recs, TRUE);
    g_array_free(o->slows, TRUE);
}

/* ---- workers ------------------------------------------------------------ */

static void tick(shard_worker *w, int64_t ts_ns)
{
    /* The tracker's clock only moves forward: an earlier time is a no-op,
     * and most packets of a capture are not later than the latest seen
     * by much, so skip the call for those. */
    if (ts_ns <= w->clock)
        return;
    w->clock = ts_ns;
    w->ticking = true;
    tcp_tracker_tick(w->ctx.tracker, ts_ns);
    w->ticking = false;
}

/* An IP fragment: every worker reassembles it; the one the completed
 * segment hashes to takes it, the others tick. */
static void run_fragment(shard_worker *w, const slice *sl, const shard_pkt *pk, cap_pos pos)
{
    shard_run *r = w->run;
    decode_stats *st = w->id == 0 ? &w->ctx.dstats : &w->scratch;
    tcp_segment seg;
    if (decode_frame(r->dlt, shard_pkt_bytes(sl, pk), pk->len, pos, w->frags, st, &seg) !=
            DECODE_TCP ||
        !pcapd_port_wanted(r->main->opts, &seg))
        return;
    tick(w, seg.pos.ts_ns);
    if (((uint64_t)tcp_segment_flow_hash(&seg) * r->n) >> 32 == w->id) {
        w->ctx.sum.tcp_segments++;
        tcp_tracker_segment(w->ctx.tracker, &seg);
    }
}

static void run_slice(shard_worker *w, slice *sl)
{
    shard_out *out = &sl->out[w->id];
    /* The renderers write into ctx.ob: lend it the slice's buffer. */
    w->out = out;
    w->ctx.ob = out->ob;
    const shard_pkt *pk = (const shard_pkt *)(const void *)sl->pkts->data;
    guint n = sl->pkts->len;
    for (guint i = 0; i < n; i++, pk++) {
        /* The payload is cold (the reader ran on another core): ask for
         * the one a few packets on while this one is worked on. */
        if (i + PREFETCH_AHEAD < n && pk[PREFETCH_AHEAD].shard == w->id) {
            const uint8_t *b = shard_pkt_bytes(sl, &pk[PREFETCH_AHEAD]);
            for (uint32_t k = 0; k < pk[PREFETCH_AHEAD].len; k += 64)
                __builtin_prefetch(b + k);
        }
        w->idx = pk->idx;
        cap_pos pos = { pk->seg.pos.ts_ns, (uint32_t)(sl->base + pk->idx + 1) };
        if (pk->shard == w->id) {
            tcp_segment seg = pk->seg;
            seg.payload = shard_pkt_bytes(sl, pk);
            seg.pos = pos;
            /* What expires at this frame is a tick's doing in every
             * worker, so the merge orders it the same way for all. */
            tick(w, pos.ts_ns);
            tcp_tracker_segment(w->ctx.tracker, &seg);
        } else if (pk->shard == SHARD_ALL) {
            run_fragment(w, sl, pk, pos);
        } else {
            tick(w, pos.ts_ns);
        }
    }
    out->ob = w->ctx.ob;
    memset(&w->ctx.ob, 0, sizeof w->ctx.ob);
    w->out = NULL;
}

static void *worker_main(void *arg)
{
    shard_worker *w = arg;
    shard_run *r = w->run;
    for (uint64_t i = 0;; i++) {
        slice *sl = shard_slot(r, i);
        pthread_mutex_lock(&r->lock);
        while (i <= r->stop && !(sl->index == i && sl->state == SLOT_READY))
            pthread_cond_wait(&r->ready, &r->lock);
        bool past_end = i > r->stop;
        pthread_mutex_unlock(&r->lock);
        if (past_end)
            break;
        run_slice(w, sl);
        /* Once done is counted, the slot may be merged and refilled. */
        bool last = sl->last;
        pthread_mutex_lock(&r->lock);
        sl->shards_done++;
        pthread_cond_signal(&r->done);
        pthread_mutex_unlock(&r->lock);
        if (last)
            break;
    }
    return NULL;
}

/* ---- the merge (main thread) -------------------------------------------- */

typedef struct id_map {
    shard_run *r;
    unsigned   worker;
} id_map;

static uint64_t global_id(void *user, uint64_t local)
{
    const id_map *m = user;
    const id_pair *p = g_hash_table_lookup(m->r->ids[m->worker], &local);
    return p ? p->global : 0;
}

/* Where a note of worker `w` goes among notes of flows idling out at the
 * same frame: as the tracker orders them, conversations by id, then flows
 * that start a conversation only as they end, by first frame. */
static void end_rank(shard_run *r, unsigned w, const shard_rec *x, bool *fresh, uint64_t *key)
{
    if (x->kind == REC_START) {
        *fresh = true;
        *key = x->first;
        return;
    }
    const id_pair *p = g_hash_table_lookup(r->ids[w], &x->conv);
    *fresh = p && p->late && p->slice == r->merging && p->idx == x->idx;
    *key = !p ? 0 : *fresh ? p->first : p->global;
}

/* Does worker a's next note come before worker b's? */
static bool before(shard_run *r, unsigned a, const shard_rec *x, unsigned b, const shard_rec *y)
{
    if (x->idx != y->idx)
        return x->idx < y->idx;
    /* At one frame: what ended on a tick, then the segment's own events,
     * which are all one worker's. */
    if (x->tick != y->tick)
        return x->tick;
    if (x->tick) {
        bool fa, fb;
        uint64_t ka, kb;
        end_rank(r, a, x, &fa, &ka);
        end_rank(r, b, y, &fb, &kb);
        if (fa != fb)
            return fb;
        return ka < kb;
    }
    return a < b;
}

static void report_error(shard_run *r, const slice *sl)
{
    if (sl->error)
        pcapd_read_error(r->main, r->name, sl->end, sl->error, sl->base + sl->n_frames + 1);
}

/* Where the merge stands in one worker's notes and report. */
typedef struct cursor {
    guint  next, mark;
    size_t from;
} cursor;

/* Act on worker s's next note in `o`: give out an id, rank a slow reply,
 * or copy the rendered event with report ids. */
static void take_note(shard_run *r, unsigned s, const shard_out *o, cursor *at)
{
    pcapd_ctx *c = r->main;
    const shard_rec *rec = &g_array_index(o->recs, shard_rec, at->next++);
    id_map m = { r, s };
    if (rec->kind == REC_START) {
        id_pair *p = g_new(id_pair, 1);
        p->local = rec->conv;
        p->global = ++r->next_id;
        p->slice = r->merging;
        p->idx = rec->idx;
        p->first = rec->first;
        p->late = rec->tick || rec->idx == REC_AT_END;
        g_hash_table_insert(r->ids[s], &p->local, p);
    } else if (rec->kind == REC_SLOW) {
        summary_slow w = g_array_index(o->slows, summary_slow, rec->first);
        w.conv = global_id(&m, rec->conv);
        summary_slow_add(&c->sum, &w);
    } else {
        at->mark = ob_copy_mapped(&c->ob, &o->ob, at->from, rec->upto, at->mark, global_id, &m);
        at->from = rec->upto;
        if (rec->end)
            g_hash_table_remove(r->ids[s], &rec->conv);
    }
}

static void merge_slice(shard_run *r, slice *sl)
{
    r->merging = sl->index;
    cursor at[SHARD_MAX_WORKERS] = { { 0, 0, 0 } };
    for (;;) {
        int best = -1;
        const shard_rec *rec = NULL;
        for (unsigned s = 0; s < r->n; s++) {
            GArray *recs = sl->out[s].recs;
            if (at[s].next == recs->len)
                continue;
            const shard_rec *x = &g_array_index(recs, shard_rec, at[s].next);
            if (best < 0 || before(r, s, x, (unsigned)best, rec)) {
                best = (int)s;
                rec = x;
            }
        }
        if (best < 0)
            break;
        take_note(r, (unsigned)best, &sl->out[best], &at[best]);
    }
    /* As read_capture(): the error, then the end of every conversation
     * still open (finish_all). */
    if (sl->last)
        report_error(r, sl);
}

/* The end of the capture, run by the main thread once the workers are
 * gone: the flows still open are ended one at a time, always the next in
 * the order a single tracker would end them (conversations by report id,
 * then flows that start one only as they end, by first frame), each
 * worker's notes merged at once: the report of a flood of open
 * conversations streams out instead of piling up. */
static void finish_all(shard_run *r, cap_pos end)
{
    r->merging = UINT64_MAX;
    for (unsigned s = 0; s < r->n; s++)
        tcp_tracker_finish_begin(r->workers[s].ctx.tracker, end);
    for (;;) {
        int best = -1;
        bool best_fresh = false;
        uint64_t best_key = 0;
        for (unsigned s = 0; s < r->n; s++) {
            uint64_t id;
            uint32_t first;
            if (!tcp_tracker_finish_next(r->workers[s].ctx.tracker, &id, &first))
                continue;
            bool fresh = id == 0;
            uint64_t key = fresh ? first : global_id(&(id_map){ r, s }, id);
            if (best < 0 || (fresh != best_fresh ? !fresh : key < best_key)) {
                best = (int)s;
                best_fresh = fresh;
                best_key = key;
            }
        }
        if (best < 0)
            break;
        shard_worker *w = &r->workers[best];
        shard_out *o = &w->ending;
        w->idx = REC_AT_END;
        w->out = o;
        w->ctx.ob = o->ob;
        tcp_tracker_finish_step(w->ctx.tracker);
        o->ob = w->ctx.ob;
        memset(&w->ctx.ob, 0, sizeof w->ctx.ob);
        cursor at = { 0, 0, 0 };
        while (at.next < o->recs->len)
            take_note(r, (unsigned)best, o, &at);
        ob_flush(&r->main->ob);
        shard_out_reset(o);
    }
    for (unsigned s = 0; s < r->n; s++)
        tcp_tracker_finish_done(r->workers[s].ctx.tracker);
}

/* Fold a merged slice's counters into the run's and free its slot. */
static void release_slice(shard_run *r, slice *sl)
{
    pcapd_ctx *c = r->main;
    c->sum.packets += sl->packets;
    c->sum.bytes += sl->bytes;
    c->sum.tcp_segments += sl->tcp_segments;
    decode_stats *d = &c->dstats;
    const decode_stats *e = &sl->dstats;
    d->not_ip += e->not_ip;
    d->not_tcp += e->not_tcp;
    d->truncated += e->truncated;
    d->malformed += e->malformed;
    d->frags += e->frags;
    d->frags_reassembled += e->frags_reassembled;
    d->frags_dropped += e->frags_dropped;
    for (unsigned s = 0; s < r->n; s++)
        shard_out_reset(&sl->out[s]);
    slice_done(r, sl);
    pthread_mutex_lock(&r->lock);
    sl->shards_done = 0;
    sl->state = SLOT_FREE;
    pthread_cond_broadcast(&r->freed);
    pthread_mutex_unlock(&r->lock);
}

/* Merge every slice in order; returns where the capture ended. */
static cap_pos merge_all(shard_run *r, uint64_t size)
{
    pcapd_ctx *c = r->main;
    progress pg;
    progress_start(&pg, r->name, size, !c->opts->quiet && !c->no_progress);
    for (uint64_t i = 0;; i++) {
        slice *sl = shard_slot(r, i);
        pthread_mutex_lock(&r->lock);
        while (!(sl->index == i && sl->state == SLOT_READY && sl->shards_done == r->n))
            pthread_cond_wait(&r->done, &r->lock);
        pthread_mutex_unlock(&r->lock);
        bool last = sl->last;
        cap_pos end = sl->end_pos;
        if (last)
            progress_end(&pg);
        merge_slice(r, sl);
        if (!last && pg.enabled)
            progress_update(&pg, sl->end);
        release_slice(r, sl);
        if (last)
            return end;
    }
}

/* ---- set-up and tear-down ----------------------------------------------- */

static uint64_t slice_bytes(void)
{
    const char *env = getenv("SMTPSCOPE_SLICE_BYTES");
    if (env && *env) {
        char *end;
        unsigned long long v = strtoull(env, &end, 10);
        if (*end == '\0' && v >= 64)
            return v;
    }
    return SLICE_BYTES_DEFAULT;
}

static void workers_start(shard_run *r)
{
    /* The live-conversation cap is the run's: each worker keeps its share,
     * so a flood of connections takes no more memory than with one thread
     * (which conversation goes first when the cap bites may differ). */
    r->worker_opts = *r->main->opts;
    size_t cap = r->worker_opts.max_live ? r->worker_opts.max_live : FLOW_MAX_LIVE_DEFAULT;
    r->worker_opts.max_live = MAX((cap + r->n - 1) / r->n, 1);
    r->workers = g_new0(shard_worker, r->n);
    r->ids = g_new(GHashTable *, r->n);
    for (unsigned s = 0; s < r->n; s++) {
        shard_worker *w = &r->workers[s];
        w->run = r;
        w->id = s;
        pcapd_ctx_init(&w->ctx, &r->worker_opts, NULL);
        ob_free(&w->ctx.ob);        /* it writes into the slices' buffers */
        w->ctx.shard = w;
        w->ctx.file = r->name;
        w->ctx.no_progress = true;
        w->frags = frag_new();
        shard_out_init(&w->ending);
        r->ids[s] = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
    }
}

/* Fold every worker's totals into the run's; free them. */
static void workers_finish(shard_run *r)
{
    pcapd_ctx *c = r->main;
    const summary **sums = g_new(const summary *, r->n);
    for (unsigned s = 0; s < r->n; s++) {
        shard_worker *w = &r->workers[s];
        pcapd_ctx_totals(&w->ctx);
        /* The merge already ranked the slow replies, with report ids. */
        w->ctx.sum.n_slow = 0;
        sums[s] = &w->ctx.sum;
        if (w->ctx.exit_code > c->exit_code)
            c->exit_code = w->ctx.exit_code;
        c->fail_hit |= w->ctx.fail_hit;
    }
    summary_merge(&c->sum, sums, r->n, 0);
    g_free(sums);
    for (unsigned s = 0; s < r->n; s++) {
        shard_worker *w = &r->workers[s];
        pcapd_ctx_free(&w->ctx);
        frag_free(w->frags);
        shard_out_free(&w->ending);
        g_hash_table_destroy(r->ids[s]);
    }
    g_free(r->workers);
    g_free(r->ids);
}

static void slots_init(shard_run *r, unsigned readers)
{
    r->n_slots = readers + 2;
    r->slots = g_new0(slice, r->n_slots);
    for (unsigned k = 0; k < r->n_slots; k++) {
        slice *sl = &r->slots[k];
        sl->index = UINT64_MAX;
        sl->pkts = g_array_new(FALSE, FALSE, sizeof(shard_pkt));
        sl->arena = g_byte_array_new();
        sl->out = g_new0(shard_out, r->n);
        for (unsigned s = 0; s < r->n; s++)
            shard_out_init(&sl->out[s]);
    }
}

static void slots_free(shard_run *r)
{
    for (unsigned k = 0; k < r->n_slots; k++) {
        slice *sl = &r->slots[k];
        g_array_free(sl->pkts, TRUE);
        g_byte_array_free(sl->arena, TRUE);
        g_free(sl->error);
        for (unsigned s = 0; s < r->n; s++)
            shard_out_free(&sl->out[s]);
        g_free(sl->out);
    }
    g_free(r->slots);
}

void pcapd_read_sharded(pcapd_ctx *c, const char *name)
{
    pcapd_stream *stream;
    uint64_t size;
    pcap_t *p = pcapd_open_capture(c, name, &stream, &size);
    if (!p)
        return;
    shard_run r;
    memset(&r, 0, sizeof r);
    r.main = c;
    r.name = name;
    r.dlt = pcap_datalink(p);
    if (!pcapd_link_usable(c, p, name) ||
        (c->opts->filter && !pcapd_compile_filter(c, p, name, &r.filter))) {
        pcap_close(p);
        return;
    }
    r.have_filter = c->opts->filter != NULL;
    r.n = MIN(c->opts->jobs, SHARD_MAX_WORKERS);
    r.slice_bytes = slice_bytes();
    r.stop = UINT64_MAX;
    slice_setup(&r, p, stream, size);
    unsigned readers = r.parallel ? r.n : 1;
    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.ready, NULL);
    pthread_cond_init(&r.done, NULL);
    pthread_cond_init(&r.freed, NULL);
    slots_init(&r, readers);
    workers_start(&r);

    pthread_t *rt = g_new(pthread_t, readers);
    for (unsigned k = 0; k < readers; k++)
        pthread_create(&rt[k], NULL, slice_reader, &r);
    for (unsigned s = 0; s < r.n; s++)
        pthread_create(&r.workers[s].thread, NULL, worker_main, &r.workers[s]);
    cap_pos end = merge_all(&r, size);
    for (unsigned s = 0; s < r.n; s++)
        pthread_join(r.workers[s].thread, NULL);
    finish_all(&r, end);
    for (unsigned k = 0; k < readers; k++)
        pthread_join(rt[k], NULL);
    g_free(rt);

    workers_finish(&r);
    slots_free(&r);
    slice_teardown(&r);
    if (r.have_filter)
        pcap_freecode(&r.filter);
    pthread_cond_destroy(&r.ready);
    pthread_cond_destroy(&r.done);
    pthread_cond_destroy(&r.freed);
    pthread_mutex_destroy(&r.lock);
}
