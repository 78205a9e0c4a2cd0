/* progress.c -- bytes read of total, rate and time left, on stderr.
 *
 * Only drawn when stderr is a terminal; redrawn at most five times a second
 * so it costs nothing measurable per packet.
 */
#include "progress.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PROGRESS_PERIOD_US 200000

static progress *shown;     /* the bar on screen, if any */

void progress_start(progress *pg, const char *name, uint64_t total, bool want)
{
    pg->enabled = want && total > 0 && isatty(STDERR_FILENO);
    pg->drawn = false;
    pg->name = name;
    pg->total = total;
    pg->start_us = g_get_monotonic_time();
    pg->last_us = pg->start_us - PROGRESS_PERIOD_US;   /* draw at the first update */
}

void progress_hide(void)
{
    if (shown && shown->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        shown->drawn = false;
    }
}

void progress_update(progress *pg, uint64_t done)
{
    if (!pg->enabled)
        return;
    int64_t now = g_get_monotonic_time();
    if (now - pg->last_us < PROGRESS_PERIOD_US)
        return;
    pg->last_us = now;
    if (done > pg->total)
        done = pg->total;
    double secs = (double)(now - pg->start_us) / 1e6;
    double rate = secs > 0 ? (double)done / secs : 0;
    double left = rate > 0 ? (double)(pg->total - done) / rate : 0;
    int pct = (int)(done * 100 / pg->total);
    char bar[21];
    for (int i = 0; i < 20; i++)
        bar[i] = i < pct / 5 ? '#' : '.';
    bar[20] = '\0';
    const char *base = strrchr(pg->name, '/');
    base = base ? base + 1 : pg->name;
    fprintf(stderr, "\r\033[K%.30s [%s] %3d%% %.1f/%.1f MB %.1f MB/s %d:%02d left", base, bar, pct,
            (double)done / 1e6, (double)pg->total / 1e6, rate / 1e6, (int)left / 60, (int)left % 60);
    fflush(stderr);
    pg->drawn = true;
    shown = pg;
}

void progress_end(progress *pg)
{
    if (shown == pg) {
        progress_hide();
        shown = NULL;
    }
}
