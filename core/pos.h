/* pos.h -- where and when bytes arrived in a capture. */
#ifndef SMTPSCOPE_POS_H
#define SMTPSCOPE_POS_H

#include <stdint.h>

typedef struct cap_pos {
    int64_t  ts_ns;   /* capture time, nanoseconds since the Unix epoch */
    uint32_t frame;   /* 1-based frame number in the capture file */
} cap_pos;

#endif
