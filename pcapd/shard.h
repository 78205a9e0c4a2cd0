/* shard.h -- the pieces of -j N on one capture file (shard.c, slice.c).
 *
 * The capture is cut into slices, read by reader threads into a ring of
 * slots (slice.c); N workers, each with its own tracker, run every slice
 * in order, each taking the TCP segments of the connections whose hash
 * falls to it; the main thread merges the workers' reports of each slice
 * back into capture order (shard.c).
 */
#ifndef PCAPD_SHARD_H
#define PCAPD_SHARD_H

#include "pcapd.h"

#include <pcap/pcap.h>
#include <pthread.h>

/* Bytes of capture per slice (SMTPSCOPE_SLICE_BYTES overrides it, so tests
 * can cut small captures into many slices).  A slice's report is held until
 * it is merged, and a flood of tiny connections can render ten times its
 * size: 1 MiB keeps that to tens of MB, and was as fast on the 1 GB bench
 * capture as 2 or 4 MiB. */
#define SLICE_BYTES_DEFAULT (1u << 20)
/* shard_pkt.shard of an IP fragment: every worker reassembles it. */
#define SHARD_ALL UINT16_MAX
/* shard_rec.idx of what a worker wrote at the end of the capture. */
#define REC_AT_END UINT32_MAX

/* One TCP segment of a slice, or one raw IP fragment. */
typedef struct shard_pkt {
    tcp_segment seg;          /* seg.payload is set by the worker */
    const uint8_t *data;      /* payload (SHARD_ALL: the frame) in the file's
                               * mapping; NULL: at `off` in the arena */
    uint32_t    idx;          /* frame within the slice, from 0 */
    uint32_t    off, len;
    uint16_t    shard;        /* the worker it goes to, or SHARD_ALL */
} shard_pkt;

typedef enum rec_kind {
    REC_OUT,                  /* a rendered event: ob bytes up to `upto` */
    REC_START,                /* a conversation got worker-local id `conv` */
    REC_SLOW                  /* a reply entered the worker's slowest list */
} rec_kind;

/* What a worker wrote, in its order, each at the frame it came with. */
typedef struct shard_rec {
    uint32_t     idx;         /* frame within the slice, or REC_AT_END */
    uint8_t      kind;        /* rec_kind */
    bool         end;         /* REC_OUT: the conversation's last event */
    bool         tick;        /* caused by another worker's segment (expiry) */
    uint64_t     conv;        /* worker-local conversation id */
    uint32_t     first;       /* REC_START: the conversation's first frame;
                               * REC_SLOW: index in shard_out.slows */
    size_t       upto;        /* REC_OUT: ob.len after the event */
} shard_rec;

/* One worker's report of one slice. */
typedef struct shard_out {
    outbuf  ob;               /* ids tracked (ob_track_convs) */
    GArray *recs;             /* shard_rec */
    GArray *slows;            /* summary_slow, for REC_SLOW (rare: kept apart
                               * so that every other note stays small) */
} shard_out;

typedef enum slot_state {
    SLOT_FREE,
    SLOT_READING,
    SLOT_READ,                /* read, its start not yet confirmed */
    SLOT_READY                /* confirmed: workers may run it */
} slot_state;

typedef struct slice {
    uint64_t     index;
    slot_state   state;
    uint64_t     hi;          /* records starting before `hi` are this slice's */
    uint64_t     start, end;  /* offsets: first record, the one after the last */
    bool         last;        /* the input ended in it (end of file or error) */
    char        *error;       /* libpcap's message when it ended in an error */
    uint32_t     n_frames;    /* frames that passed the filter */
    int64_t      last_ts;     /* time of its last frame */
    /* Set when it becomes ready. */
    uint64_t     base;        /* frames before it */
    cap_pos      end_pos;     /* the last frame read so far, in the capture */
    GArray      *pkts;        /* shard_pkt */
    GByteArray  *arena;
    uint64_t     packets, bytes, tcp_segments;
    decode_stats dstats;
    guint        shards_done;
    shard_out   *out;         /* one per worker */
} slice;

typedef struct shard_worker {
    struct shard_run *run;
    unsigned   id;
    pcapd_ctx  ctx;
    frag_table *frags;        /* fragments of SHARD_ALL packets */
    decode_stats scratch;     /* fragment counts of workers other than 0 */
    uint32_t   idx;           /* the frame being run (shard_rec.idx) */
    bool       ticking;       /* inside tcp_tracker_tick() */
    int64_t    clock;         /* the latest time ticked */
    shard_out *out;           /* the slice being run, or `ending` */
    shard_out  ending;        /* the notes of one flow ended at the end */
    pthread_t  thread;
} shard_worker;

typedef struct shard_run {
    pcapd_ctx   *main;
    pcapd_options worker_opts; /* the run's, with each worker's share of the cap */
    const char  *name;
    int          dlt;
    bool         have_filter;
    struct bpf_program filter;
    unsigned     n;           /* workers */
    uint64_t     slice_bytes;
    /* Parallel readers (classic pcap file): */
    bool         parallel;
    int          fd;
    uint64_t     size;
    const uint8_t *map;       /* the file, when mapped and plain pcap 2.4 */
    uint32_t     max_caplen;  /* records above it are left to libpcap */
    uint64_t     unmapped;    /* pages below it were given back */
    uint8_t      head[24];    /* the file header */
    unsigned     rec_hdr;     /* bytes of a record header */
    bool         big_endian, nsec;
    bool         swapped;     /* not the host's byte order */
    uint64_t     n_slices;
    /* One reader (pcapng, gzip, a pipe): */
    pcap_t      *p;
    struct pcapd_stream *stream;
    frag_table  *frags;
    uint64_t     offset;      /* where the next record starts */

    pthread_mutex_t lock;
    pthread_cond_t  ready;    /* a slice was confirmed, or the end found */
    pthread_cond_t  done;     /* a worker finished a slice */
    pthread_cond_t  freed;    /* a slot was freed, or the end found */
    slice       *slots;
    unsigned     n_slots;
    uint64_t     next_claim;  /* next slice a reader takes */
    uint64_t     next_ready;  /* first slice not confirmed yet */
    uint64_t     stop;        /* the last slice, once known; else UINT64_MAX */
    /* The last confirmed slice: */
    uint64_t     prev_end, prev_frames_end;
    cap_pos      prev_end_pos;
    shard_worker *workers;
    /* The merger's: worker-local conversation id -> id_pair. */
    GHashTable  **ids;
    uint64_t     next_id;
    uint64_t     merging;     /* the slice being merged */
} shard_run;

static inline const uint8_t *shard_pkt_bytes(const slice *sl, const shard_pkt *pk)
{
    if (pk->data)
        return pk->data;
    return pk->len ? sl->arena->data + pk->off : NULL;   /* an empty arena has no data */
}

static inline slice *shard_slot(shard_run *r, uint64_t i)
{
    return &r->slots[i % r->n_slots];
}

/* slice.c: set the readers up (false: read the file the ordinary way) and
 * the body of a reader thread. */
bool slice_setup(shard_run *r, pcap_t *p, struct pcapd_stream *stream, uint64_t size);
void slice_teardown(shard_run *r);
/* Slice `sl` is merged: the mapped pages before its end can go. */
void slice_done(shard_run *r, const slice *sl);
void *slice_reader(void *arg);

#endif
