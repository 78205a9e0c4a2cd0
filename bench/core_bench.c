/* core_bench -- throughput of the core alone, on in-memory streams.
 *
 *   core_bench [--mb N] [--body-mb N] [--reps N] [--seed N]
 *
 * Builds SMTP conversations with the capture generator's script writer (the
 * same mix as gencap: pipelining, BDAT, STARTTLS, rejections, bodies with a
 * median of 20 KB and a few multi-MB attachments) until they hold --mb
 * megabytes, plus one conversation carrying a single --body-mb body, and
 * times, --reps times each (the median is printed):
 *
 *   engine/mix        smtp_feed over every conversation, 1448-byte pieces
 *   engine/big-body   the same over the one huge message
 *   reasm/in-order    reasm_segment over every conversation, bytes counted
 *   reasm/reordered   the same with every 25th pair of segments swapped
 *   reasm+engine/mix  reasm_segment feeding smtp_feed, as pcapd does
 *
 * MB/s counts payload bytes of both directions (1 MB = 10^6 bytes).  A
 * regression shows up here before it is lost in pcapd's I/O and decoding.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "gen.h"
#include "reasm.h"
#include "smtp_engine.h"

#define MSS        1448
#define T0_NS      (1772438400LL * 1000000000LL)

typedef struct tally {
    uint64_t events, replies, gaps;
    uint64_t released;     /* bytes the reassembler handed on */
} tally;

typedef struct direction {
    smtp_engine *eng;      /* NULL: only count what the reassembler releases */
    smtp_dir     dir;
    tally       *t;
} direction;

static void on_event(void *user, const smtp_event *ev)
{
    tally *t = user;
    t->events++;
    t->replies += ev->type == SMTP_EV_REPLY;
}

static const smtp_sink engine_sink = { .on_event = on_event, .on_body = NULL };

static void on_data(void *user, const uint8_t *data, size_t len, cap_pos pos)
{
    direction *d = user;
    d->t->released += len;
    if (d->eng)
        smtp_feed(d->eng, d->dir, data, len, pos);
}

static void on_gap(void *user, uint64_t len, cap_pos pos)
{
    direction *d = user;
    d->t->gaps++;
    if (d->eng)
        smtp_gap(d->eng, d->dir, len, pos);
}

static void on_conflict(void *user, cap_pos pos)
{
    (void)user;
    (void)pos;
}

static const reasm_sink reasm_sink_counting = {
    .on_data = on_data, .on_gap = on_gap, .on_conflict = on_conflict, .on_overflow = on_conflict,
};

static void next_pos(cap_pos *pos)
{
    pos->frame++;
    pos->ts_ns += 20000;
}

static void play_engine(const gen_script *s, tally *t)
{
    smtp_engine *eng = smtp_engine_new(&engine_sink, t, NULL);
    cap_pos pos = { .ts_ns = T0_NS, .frame = 0 };
    for (guint i = 0; i < s->steps->len; i++) {
        const gen_step *st = &g_array_index(s->steps, gen_step, i);
        for (size_t off = 0; off < st->len; off += MSS) {
            next_pos(&pos);
            smtp_feed(eng, (smtp_dir)st->dir, s->bytes->data + st->off + off, MIN((size_t)MSS, st->len - off), pos);
        }
    }
    smtp_end(eng, SMTP_END_FIN, pos);
    smtp_engine_free(eng);
}

/* Every `swap_every`-th segment (0: never) goes out after the one that
 * follows it, so the reassembler holds it and releases both together. */
static void play_reasm(const gen_script *s, tally *t, bool with_engine, unsigned swap_every)
{
    smtp_engine *eng = with_engine ? smtp_engine_new(&engine_sink, t, NULL) : NULL;
    direction dirs[2] = { { eng, SMTP_DIR_CLIENT, t }, { eng, SMTP_DIR_SERVER, t } };
    reasm_stream rs[2];
    uint32_t seq[2] = { 1000, 2000000000u };
    cap_pos pos = { .ts_ns = T0_NS, .frame = 0 };
    unsigned n_seg = 0;
    for (int d = 0; d < 2; d++) {
        reasm_init(&rs[d], &reasm_sink_counting, &dirs[d]);
        reasm_syn(&rs[d], seq[d]++);
    }
    for (guint i = 0; i < s->steps->len; i++) {
        const gen_step *st = &g_array_index(s->steps, gen_step, i);
        const uint8_t *p = s->bytes->data + st->off;
        reasm_stream *r = &rs[st->dir];
        for (size_t off = 0; off < st->len;) {
            size_t n = MIN((size_t)MSS, st->len - off);
            next_pos(&pos);
            if (swap_every && ++n_seg % swap_every == 0 && off + n < st->len) {
                size_t n2 = MIN((size_t)MSS, st->len - off - n);
                reasm_segment(r, seq[st->dir] + (uint32_t)n, p + off + n, n2, false, pos);
                next_pos(&pos);
                reasm_segment(r, seq[st->dir], p + off, n, false, pos);
                n += n2;
            } else {
                reasm_segment(r, seq[st->dir], p + off, n, false, pos);
            }
            seq[st->dir] += (uint32_t)n;
            off += n;
        }
    }
    for (int d = 0; d < 2; d++) {
        reasm_flush(&rs[d], pos);
        reasm_free(&rs[d]);
    }
    if (eng) {
        smtp_end(eng, SMTP_END_FIN, pos);
        smtp_engine_free(eng);
    }
}

typedef enum workload { W_ENGINE, W_REASM, W_REASM_SWAPPED, W_CHAINED } workload;

static double run_once(workload w, const gen_script *scripts, size_t n, tally *t)
{
    gint64 t0 = g_get_monotonic_time();
    for (size_t i = 0; i < n; i++) {
        switch (w) {
        case W_ENGINE: play_engine(&scripts[i], t); break;
        case W_REASM: play_reasm(&scripts[i], t, false, 0); break;
        case W_REASM_SWAPPED: play_reasm(&scripts[i], t, false, 25); break;
        case W_CHAINED: play_reasm(&scripts[i], t, true, 0); break;
        }
    }
    return (double)(g_get_monotonic_time() - t0) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void measure(const char *name, workload w, const gen_script *scripts, size_t n, uint64_t bytes,
                    unsigned reps)
{
    double secs[64];
    tally t = { 0 };
    reps = MIN(reps, G_N_ELEMENTS(secs));
    for (unsigned i = 0; i < reps; i++) {
        memset(&t, 0, sizeof t);
        secs[i] = run_once(w, scripts, n, &t);
    }
    qsort(secs, reps, sizeof secs[0], cmp_double);
    double med = secs[reps / 2];
    printf("%-18s MB=%-7.1f median_s=%-8.4f MB/s=%-7.0f events=%" PRIu64 " replies=%" PRIu64
           " released=%" PRIu64 " gaps=%" PRIu64 "\n",
           name, (double)bytes / 1e6, med, (double)bytes / 1e6 / med, t.events, t.replies, t.released, t.gaps);
}

/* A plain conversation whose one message body is `body` bytes of text. */
static void big_body_script(gen_script *s, gen_rng *r, size_t body)
{
    static const char *const client[] = {
        "EHLO bench.example.com\r\n", "MAIL FROM:<a@example.com>\r\n", "RCPT TO:<b@example.org>\r\n", "DATA\r\n",
    };
    static const char *const server[] = {
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 0\r\n250 8BITMIME\r\n", "250 2.1.0 Ok\r\n",
        "250 2.1.5 Ok\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n",
    };
    gen_script_init(s);
    s->smtp = true;
    gen_script_printf(s, GEN_SERVER, "220 mx.example.org ESMTP Postfix\r\n");
    for (size_t i = 0; i < G_N_ELEMENTS(client); i++) {
        gen_script_add(s, GEN_CLIENT, client[i], strlen(client[i]));
        gen_script_add(s, GEN_SERVER, server[i], strlen(server[i]));
    }
    gen_script_printf(s, GEN_CLIENT, "Subject: big\r\nMessage-ID: <big@example.com>\r\n\r\n");
    size_t before = s->bytes->len;
    gen_text_lines(r, s->bytes, body, true);
    gen_script_add(s, GEN_CLIENT, NULL, s->bytes->len - before);
    gen_script_printf(s, GEN_CLIENT, ".\r\n");
    gen_script_printf(s, GEN_SERVER, "250 2.0.0 Ok: queued as 4ABCDEF\r\n");
    gen_script_printf(s, GEN_CLIENT, "QUIT\r\n");
    gen_script_printf(s, GEN_SERVER, "221 2.0.0 Bye\r\n");
}

int main(int argc, char **argv)
{
    guint64 mb = 64, body_mb = 64, reps = 5, seed = 1;
    bool bad = argc % 2 == 0;   /* options come in pairs */
    for (int i = 1; i + 1 < argc; i += 2) {
        guint64 v = g_ascii_strtoull(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--mb") == 0)
            mb = v;
        else if (strcmp(argv[i], "--body-mb") == 0)
            body_mb = v;
        else if (strcmp(argv[i], "--reps") == 0)
            reps = v;
        else if (strcmp(argv[i], "--seed") == 0)
            seed = v;
        else
            bad = true;
    }
    if (bad || mb == 0 || body_mb == 0 || reps == 0) {
        fprintf(stderr, "usage: core_bench [--mb N] [--body-mb N] [--reps N] [--seed N]\n");
        return 2;
    }

    gen_rng r = { .state = seed };
    gen_counts c = { 0 };
    gen_text_init(&r);
    GArray *scripts = g_array_new(FALSE, FALSE, sizeof(gen_script));
    uint64_t bytes = 0;
    while (bytes < mb * 1000000) {
        gen_script s;
        gen_script_init(&s);
        gen_smtp_script(&s, &r, &c);
        bytes += s.bytes->len;
        g_array_append_val(scripts, s);
    }
    gen_script big;
    big_body_script(&big, &r, body_mb * 1000000);

    printf("core_bench: %u conversations, %" PRIu64 " replies (generator count), %" PRIu64 " reps, median of each\n",
           scripts->len, c.replies, reps);
    const gen_script *all = (const gen_script *)scripts->data;
    measure("engine/mix", W_ENGINE, all, scripts->len, bytes, (unsigned)reps);
    measure("engine/big-body", W_ENGINE, &big, 1, big.bytes->len, (unsigned)reps);
    measure("reasm/in-order", W_REASM, all, scripts->len, bytes, (unsigned)reps);
    measure("reasm/reordered", W_REASM_SWAPPED, all, scripts->len, bytes, (unsigned)reps);
    measure("reasm+engine/mix", W_CHAINED, all, scripts->len, bytes, (unsigned)reps);

    for (guint i = 0; i < scripts->len; i++)
        gen_script_free(&g_array_index(scripts, gen_script, i));
    g_array_free(scripts, TRUE);
    gen_script_free(&big);
    return 0;
}
