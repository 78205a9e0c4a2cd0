/* slice.c -- one capture read as slices, for -j N (see shard.h).
 *
 * A classic pcap file (a regular, uncompressed file) is read by N threads
 * at once.  Slice i holds the records that start in [i*S, (i+1)*S).  Its
 * reader starts at the first record boundary at or after i*S and walks the
 * records in place in the mapped file (no copy by read(), stdio, libpcap or
 * into the slice), taking each header as libpcap would; at anything libpcap
 * would change or refuse (a record longer than the snapshot length, one cut
 * short), and throughout in a pcap file of another version than 2.4, it
 * hands over to libpcap itself, on a stream that replays the file header
 * and then reads from that record.  Record headers carry no
 * marker: a slice's first boundary is found by looking for the first offset
 * where RESYNC_CHAIN headers in a row are plausible.  A guess can be wrong
 * (a pcap file inside a captured download looks just like one), so no
 * slice is used on a guess: slice i is confirmed only once the reader of
 * slice i-1, which walks true record boundaries, has stopped exactly where
 * slice i starts; otherwise slice i is read again from where slice i-1
 * stopped.  So the frames are those of a sequential read whatever the
 * guesses, and a bad guess costs one slice read twice.  A record libpcap
 * refuses ends the capture there, as it does for a sequential read.
 *
 * Anything else (pcapng, gzip, a pipe) is read by one thread with libpcap,
 * which cuts it into slices of about S bytes.  What libpcap returns is
 * copied into the slice, its buffer being reused.
 *
 * Readers decode each frame down to TCP and pick its worker by the
 * connection's hash.  IP fragments cannot be reassembled by a reader that
 * sees only its slice: they go to every worker, each reassembling them in
 * capture order (shard.c).
 */
#include "shard.h"
#include "stream.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>

/* Headers in a row that must look right for a resynchronisation guess. */
#define RESYNC_CHAIN 8
/* What a plausible record header may hold; the capture length is also the
 * most libpcap accepts for the link types pcapd reads. */
#define RESYNC_MAX_CAPLEN (256u * 1024)
#define RESYNC_MAX_LEN    (16u * 1024 * 1024)
#define RESYNC_MAX_STEP_S (24 * 3600)
/* Bytes scanned per read while resynchronising. */
#define RESYNC_WINDOW (64u * 1024)
/* One reader: frames per slice at most (a capture of tiny frames). */
#define SLICE_FRAMES_DIV 64

#define NONE UINT64_MAX

static uint32_t rd32(const shard_run *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return r->big_endian ? GUINT32_FROM_BE(v) : GUINT32_FROM_LE(v);
}

/* ---- finding a record boundary ---------------------------------------- */

/* The header at `o` (bytes `h`) could be a record's; *next is where the
 * record after it would start. */
static bool plausible(const shard_run *r, const uint8_t *h, uint64_t o, uint64_t *next,
                      uint32_t *sec)
{
    uint32_t frac = rd32(r, h + 4), caplen = rd32(r, h + 8), len = rd32(r, h + 12);
    *sec = rd32(r, h);
    if (frac >= (r->nsec ? 1000000000u : 1000000u) || caplen > RESYNC_MAX_CAPLEN ||
        len > RESYNC_MAX_LEN || caplen > len)
        return false;
    *next = o + r->rec_hdr + caplen;
    return *next <= r->size;
}

static bool chain_at(const shard_run *r, uint64_t o, const uint8_t *h)
{
    uint8_t buf[24];
    uint32_t sec, prev_sec = 0;
    for (unsigned k = 0; k < RESYNC_CHAIN; k++) {
        if (k > 0) {
            if (o == r->size)
                return true;     /* the chain reached the end of the file */
            if (pread(r->fd, buf, r->rec_hdr, (off_t)o) != (ssize_t)r->rec_hdr)
                return false;
            h = buf;
        }
        uint64_t next;
        if (!plausible(r, h, o, &next, &sec))
            return false;
        if (k > 0 && (sec > prev_sec ? sec - prev_sec : prev_sec - sec) > RESYNC_MAX_STEP_S)
            return false;
        prev_sec = sec;
        o = next;
    }
    return true;
}

/* The first offset in [lo, hi) that looks like a record boundary, or NONE. */
static uint64_t resync(const shard_run *r, uint64_t lo, uint64_t hi)
{
    uint8_t *win = g_malloc(RESYNC_WINDOW + 24);
    uint64_t found = NONE;
    for (uint64_t at = lo; at < hi && found == NONE; at += RESYNC_WINDOW) {
        ssize_t n = pread(r->fd, win, RESYNC_WINDOW + 24, (off_t)at);
        if (n < (ssize_t)r->rec_hdr)
            break;
        uint64_t end = MIN(hi, at + (uint64_t)n - r->rec_hdr + 1);
        for (uint64_t o = at; o < end && o < at + RESYNC_WINDOW; o++) {
            const uint8_t *h = win + (o - at);
            uint64_t next;
            uint32_t sec;
            if (plausible(r, h, o, &next, &sec) && chain_at(r, o, h)) {
                found = o;
                break;
            }
        }
    }
    g_free(win);
    return found;
}

/* ---- filling a slice ---------------------------------------------------- */

static void slice_clear(slice *sl)
{
    g_array_set_size(sl->pkts, 0);
    g_byte_array_set_size(sl->arena, 0);
    g_free(sl->error);
    sl->error = NULL;
    sl->last = false;
    sl->n_frames = 0;
    sl->last_ts = 0;
    sl->packets = sl->bytes = sl->tcp_segments = 0;
    memset(&sl->dstats, 0, sizeof sl->dstats);
}

static uint32_t arena_add(slice *sl, const uint8_t *p, size_t n)
{
    uint32_t off = sl->arena->len;
    g_byte_array_append(sl->arena, p, (guint)n);
    return off;
}

/* One frame: decoded, and its TCP segment (or its IP fragment) kept for
 * the workers.  `mapped`: `data` lives in the file's mapping, so it is
 * pointed to rather than copied.  `ft` NULL: fragments go to every
 * worker. */
static void take_frame(shard_run *r, slice *sl, frag_table *ft, const struct pcap_pkthdr *h,
                       const u_char *data, bool mapped)
{
    if (r->have_filter && !pcap_offline_filter(&r->filter, h, data))
        return;
    uint32_t idx = sl->n_frames++;
    /* Nanosecond precision: tv_usec holds nanoseconds. */
    cap_pos pos = { pcapd_ts_ns(h->ts.tv_sec, h->ts.tv_usec), idx + 1 };
    sl->last_ts = pos.ts_ns;
    sl->packets++;
    sl->bytes += h->len;
    shard_pkt pk;
    memset(&pk, 0, sizeof pk);
    decode_result d = decode_frame(r->dlt, data, h->caplen, pos, ft, &sl->dstats, &pk.seg);
    const uint8_t *keep;
    if (d == DECODE_FRAGMENT) {
        pk.seg.pos = pos;
        pk.shard = SHARD_ALL;
        keep = data;
        pk.len = h->caplen;
    } else if (d == DECODE_TCP && pcapd_port_wanted(r->main->opts, &pk.seg)) {
        sl->tcp_segments++;
        pk.shard = (uint16_t)(((uint64_t)tcp_segment_flow_hash(&pk.seg) * r->n) >> 32);
        keep = pk.seg.payload;
        pk.len = (uint32_t)pk.seg.len;
        pk.seg.payload = NULL;
    } else {
        return;
    }
    /* A reassembled payload lives in the fragment table, not the frame. */
    if (mapped && !ft)
        pk.data = keep;
    else
        pk.off = arena_add(sl, keep, pk.len);
    pk.idx = idx;
    g_array_append_val(sl->pkts, pk);
}

/* Walk the records of the mapped file from sl->start while they start
 * before sl->hi; returns where it stopped.  It stops early, for libpcap to
 * take over, at anything but a whole record libpcap would pass unchanged
 * (a cut-off record, a capture length beyond the snapshot length). */
static uint64_t walk_mapped(shard_run *r, slice *sl)
{
    uint64_t off = sl->start;
    while (off < sl->hi && off + r->rec_hdr <= r->size) {
        const uint8_t *rec = r->map + off;
        uint32_t caplen = rd32(r, rec + 8);
        if (caplen > r->max_caplen || caplen > r->size - off - r->rec_hdr)
            break;
        /* As libpcap 1.10 reads them: the time fields are signed in a
         * file of the host's byte order, unsigned in a swapped one;
         * microseconds are scaled up. */
        struct pcap_pkthdr h;
        uint32_t sec = rd32(r, rec), frac = rd32(r, rec + 4);
        h.ts.tv_sec = r->swapped ? (time_t)sec : (time_t)(int32_t)sec;
        h.ts.tv_usec = r->swapped ? (suseconds_t)frac : (suseconds_t)(int32_t)frac;
        if (!r->nsec)
            h.ts.tv_usec *= 1000;
        h.caplen = caplen;
        h.len = rd32(r, rec + 12);
        take_frame(r, sl, NULL, &h, rec + r->rec_hdr, true);
        off += r->rec_hdr + caplen;
    }
    if (off == r->size)
        sl->last = true;
    return off;
}

static void slice_failed(slice *sl, uint64_t off, const char *msg)
{
    sl->last = true;
    sl->error = g_strdup(msg);
    sl->end = off;
}

/* Read the records of a classic pcap file that start in [sl->start,
 * sl->hi); sl->end is where the next one starts. */
static void read_part(shard_run *r, slice *sl)
{
    slice_clear(sl);
    sl->end = sl->start;
    if (sl->start == NONE || sl->start >= sl->hi)
        return;
    uint64_t off = r->map ? walk_mapped(r, sl) : sl->start;
    if (sl->last || off >= sl->hi) {
        sl->end = off;
        return;
    }
    char err[PCAP_ERRBUF_SIZE] = "";
    pcapd_stream *st;
    FILE *fp = pcapd_stream_open_slice(r->fd, r->head, sizeof r->head, off, &st);
    pcap_t *p = fp ? pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err)
                   : NULL;
    if (!p) {
        if (fp)
            fclose(fp);
        slice_failed(sl, off, err[0] ? err : "cannot read the file again");
        return;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    int snap = pcap_snapshot(p);
    while (off < sl->hi) {
        int rc = pcap_next_ex(p, &h, &data);
        if (rc == 1) {
            take_frame(r, sl, NULL, h, data, false);
            off = pcapd_stream_after(st, off, r->rec_hdr, h->caplen, snap);
        } else {
            if (rc == -2)
                sl->last = true;
            else
                slice_failed(sl, off, pcap_geterr(p));
            break;
        }
    }
    if (!sl->error)
        sl->end = off;
    if (off >= r->size)
        sl->last = true;
    pcap_close(p);
}

/* Read on from the one stream until the slice holds about S bytes. */
static void read_stream(shard_run *r, slice *sl)
{
    slice_clear(sl);
    sl->start = r->offset;
    uint64_t max_frames = MAX(r->slice_bytes / SLICE_FRAMES_DIV, 1);
    unsigned rec_hdr = pcapd_stream_record_header(r->stream);
    int snap = pcap_snapshot(r->p);
    struct pcap_pkthdr *h;
    const u_char *data;
    while (sl->arena->len < r->slice_bytes && sl->n_frames < max_frames) {
        int rc = pcap_next_ex(r->p, &h, &data);
        if (rc != 1) {
            if (rc == -2)
                sl->last = true;
            else
                slice_failed(sl, r->offset, pcap_geterr(r->p));
            break;
        }
        take_frame(r, sl, r->frags, h, data, false);
        r->offset = pcapd_stream_after(r->stream, r->offset, rec_hdr, h->caplen, snap);
    }
    if (!sl->error)
        sl->end = r->offset;
}

/* ---- confirming slices, in order (lock held) --------------------------- */

/* Confirm every read slice whose start is right.  Returns a slice that
 * started at a wrong guess, to be read again by the caller from where its
 * predecessor stopped, or NONE. */
static uint64_t confirm(shard_run *r)
{
    for (;;) {
        uint64_t i = r->next_ready;
        if (i > r->stop)
            return NONE;
        slice *sl = shard_slot(r, i);
        if (sl->index != i || sl->state != SLOT_READ)
            return NONE;
        if (i > 0 && sl->start != r->prev_end) {
            sl->start = r->prev_end;
            sl->state = SLOT_READING;
            return i;
        }
        sl->base = r->prev_frames_end;
        if (sl->n_frames)
            sl->end_pos = (cap_pos){ sl->last_ts, (uint32_t)(sl->base + sl->n_frames) };
        else
            sl->end_pos = r->prev_end_pos;
        r->prev_end = sl->end;
        r->prev_frames_end = sl->base + sl->n_frames;
        r->prev_end_pos = sl->end_pos;
        sl->state = SLOT_READY;
        if (sl->last) {
            r->stop = i;
            pthread_cond_broadcast(&r->freed);     /* readers waiting can stop */
        }
        r->next_ready++;
        pthread_cond_broadcast(&r->ready);
    }
}

/* Take the next slice to read (lock held); NULL when there is none. */
static slice *claim(shard_run *r)
{
    for (;;) {
        uint64_t i = r->next_claim;
        if (i > r->stop || (r->parallel && i >= r->n_slices))
            return NULL;
        slice *sl = shard_slot(r, i);
        if (sl->state == SLOT_FREE) {
            r->next_claim++;
            sl->index = i;
            sl->state = SLOT_READING;
            return sl;
        }
        pthread_cond_wait(&r->freed, &r->lock);
    }
}

void *slice_reader(void *arg)
{
    shard_run *r = arg;
    pthread_mutex_lock(&r->lock);
    slice *sl;
    while ((sl = claim(r)) != NULL) {
        pthread_mutex_unlock(&r->lock);
        if (r->parallel) {
            uint64_t i = sl->index, S = r->slice_bytes;
            sl->hi = i + 1 < r->n_slices ? (i + 1) * S : UINT64_MAX;
            sl->start = i == 0 ? sizeof r->head : resync(r, i * S, sl->hi);
            read_part(r, sl);
        } else {
            read_stream(r, sl);
        }
        pthread_mutex_lock(&r->lock);
        sl->state = SLOT_READ;
        uint64_t again;
        while ((again = confirm(r)) != NONE) {
            slice *x = shard_slot(r, again);
            pthread_mutex_unlock(&r->lock);
            read_part(r, x);
            pthread_mutex_lock(&r->lock);
            x->state = SLOT_READ;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- set-up ------------------------------------------------------------- */

/* Map the file when it is a pcap 2.4 file (older versions have quirks only
 * libpcap knows), so the readers walk its records in place.  Pages are
 * given back as slices are merged (slice_done), so the resident size stays
 * that of the slices in flight. */
static void map_file(shard_run *r, pcap_t *p)
{
    uint16_t major, minor;
    memcpy(&major, r->head + 4, 2);
    memcpy(&minor, r->head + 6, 2);
    if (r->big_endian) {
        major = GUINT16_FROM_BE(major);
        minor = GUINT16_FROM_BE(minor);
    } else {
        major = GUINT16_FROM_LE(major);
        minor = GUINT16_FROM_LE(minor);
    }
    if (major != 2 || minor != 4)
        return;
    void *m = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, r->fd, 0);
    if (m == MAP_FAILED)
        return;
    r->map = m;
    /* What libpcap passes unchanged: its snapshot length, bounded. */
    int snap = pcap_snapshot(p);
    r->max_caplen = snap > 0 && snap < (int)RESYNC_MAX_CAPLEN ? (uint32_t)snap : RESYNC_MAX_CAPLEN;
}

bool slice_setup(shard_run *r, pcap_t *p, pcapd_stream *stream, uint64_t size)
{
    unsigned rec_hdr = pcapd_stream_record_header(stream);
    int fd = -1;
    if (size > 0 && rec_hdr && strcmp(r->name, "-") != 0)
        fd = open(r->name, O_RDONLY);
    if (fd >= 0 && pread(fd, r->head, sizeof r->head, 0) == (ssize_t)sizeof r->head) {
        /* a1 b2 .. ..: big-endian; b2 3c or 3c b2 in the middle: ns. */
        r->big_endian = r->head[0] == 0xa1;
        r->swapped = r->big_endian != (G_BYTE_ORDER == G_BIG_ENDIAN);
        r->nsec = r->head[1] == 0x3c || r->head[2] == 0x3c;
        r->parallel = true;
        r->fd = fd;
        r->size = size;
        r->rec_hdr = rec_hdr;
        r->n_slices = MAX((size + r->slice_bytes - 1) / r->slice_bytes, 1);
        map_file(r, p);
        pcap_close(p);
        return true;
    }
    if (fd >= 0)
        close(fd);
    r->p = p;
    r->stream = stream;
    r->frags = frag_new();
    r->offset = pcapd_stream_offset(stream);
    return false;
}

void slice_done(shard_run *r, const slice *sl)
{
    if (!r->map || sl->end == NONE)
        return;
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t upto = MIN(sl->end, r->size) / page * page;
    if (upto > r->unmapped) {
        madvise((void *)(r->map + r->unmapped), upto - r->unmapped, MADV_DONTNEED);
        r->unmapped = upto;
    }
}

void slice_teardown(shard_run *r)
{
    if (r->map)
        munmap((void *)r->map, r->size);
    if (r->parallel)
        close(r->fd);
    if (r->p)
        pcap_close(r->p);
    if (r->frags)
        frag_free(r->frags);
}
