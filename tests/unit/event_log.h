/* event_log.h -- test helper: render engine events as stable text lines and
 * replay transcripts in any split.
 *
 * A transcript is an array of steps: bytes one side sent in one segment
 * (frame = step index + 1, time = frame milliseconds), a gap, or the end.
 * tx_run() feeds it with a chosen split and returns the event log; two runs
 * of the same transcript must give byte-identical logs whatever the split.
 */
#ifndef SMTPSCOPE_TEST_EVENT_LOG_H
#define SMTPSCOPE_TEST_EVENT_LOG_H

#include <glib.h>

#include "smtp_engine.h"

typedef struct tx_step {
    char        kind;   /* 'C' client bytes, 'S' server bytes, 'g'/'G' client/server gap, 'E' end */
    const char *data;
    size_t      len;    /* bytes, or the gap length */
} tx_step;

#define TX_C(s)   { 'C', (s), sizeof(s) - 1 }
#define TX_S(s)   { 'S', (s), sizeof(s) - 1 }
#define TX_GAPC(n) { 'g', NULL, (n) }
#define TX_GAPS(n) { 'G', NULL, (n) }
#define TX_END    { 'E', NULL, 0 }

typedef enum tx_split {
    TX_WHOLE,    /* each step in one call */
    TX_BYTES,    /* every byte in its own call */
    TX_CUT,      /* step `cut_step` cut in two at `cut_at` */
    TX_RANDOM    /* every step cut at random points (seeded) */
} tx_split;

typedef struct event_log {
    GString *text;          /* one line per event */
    GString *body;          /* on_body bytes, concatenated */
    uint32_t n_events[SMTP_EV_END + 1];
    uint32_t n_anomalies[SMTP_AN_COUNT];
} event_log;

void event_log_init(event_log *l);
void event_log_clear(event_log *l);
/* Append one event as a line to `out`. */
void event_log_render(GString *out, const smtp_event *ev);
/* A sink that records into the event_log passed as `user`. */
extern const smtp_sink event_log_sink;

/* Replay `steps` into a new engine; fills `log` (initialised by the call). */
void tx_run(const tx_step *steps, size_t n, const smtp_options *opts, tx_split split,
            size_t cut_step, size_t cut_at, guint32 seed, event_log *log);

/* Check that every split of the transcript gives the log of TX_WHOLE:
 * byte by byte, every single cut point of every step, and `n_random`
 * seeded random splits.  Fails the test on the first difference. */
void tx_assert_split_invariant(const tx_step *steps, size_t n, const smtp_options *opts,
                               guint n_random);

/* True when the log holds a line containing `needle`. */
gboolean event_log_has(const event_log *l, const char *needle);

#endif
