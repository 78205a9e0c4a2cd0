/* progress.h -- the progress bar pcapd draws on stderr while reading a file. */
#ifndef PCAPD_PROGRESS_H
#define PCAPD_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
    bool        enabled;    /* stderr is a terminal and the size is known */
    bool        drawn;      /* a bar is on screen */
    const char *name;
    uint64_t    total;
    int64_t     start_us, last_us;
} progress;

/* Prepare a bar for `name` of `total` bytes; draws nothing unless `want`
 * and stderr is a terminal. */
void progress_start(progress *pg, const char *name, uint64_t total, bool want);
/* `done` bytes read; redraws at most a few times a second. */
void progress_update(progress *pg, uint64_t done);
/* Erase the bar now if one is shown (before the report writes to a
 * terminal); the next update draws it again. */
void progress_hide(void);
/* Erase the bar. */
void progress_end(progress *pg);

#endif
