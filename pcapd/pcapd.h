/* pcapd.h -- shared declarations of the pcapd front end.
 *
 * pcapd reads captures with libpcap (input.c), walks link, IP and TCP
 * headers (decode.c, frag.c), hands TCP segments to the core's tcp_tracker
 * and renders the events that come back as text, NDJSON or CSV
 * (output_*.c), with run totals kept by summary.c.  run.c ties them
 * together; main.c only parses the command line.
 */
#ifndef PCAPD_H
#define PCAPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

#include "tcp_tracker.h"

/* Exit codes, also listed in --help, pcapd.1 and docs/ndjson.md.  When
 * several apply the highest wins, except that PCAPD_EXIT_USAGE stops the
 * run before anything is read. */
enum pcapd_exit {
    PCAPD_EXIT_OK      = 0, /* every input read to its end */
    PCAPD_EXIT_USAGE   = 1, /* bad command line; nothing was read */
    PCAPD_EXIT_FAIL_ON = 2, /* a --fail-on condition was met */
    PCAPD_EXIT_INPUT   = 3, /* an input was missing, not a capture, of an
                               unsupported link type or damaged (what could
                               be read was still reported) */
    PCAPD_EXIT_OUTPUT  = 4  /* writing the report failed (disk full, ...) */
};

typedef enum pcapd_format { PCAPD_FMT_TEXT, PCAPD_FMT_NDJSON, PCAPD_FMT_CSV } pcapd_format;

/* --fail-on bits. */
#define PCAPD_FAIL_ANOMALY 0x1u /* any anomaly of severity warning or error */
#define PCAPD_FAIL_REJECT  0x2u /* a message or recipient refused (4xx/5xx) */

#define PCAPD_MAX_PORTS 64

/* Everything the command line sets; filled by main.c, read everywhere. */
typedef struct pcapd_options {
    char       **inputs;        /* files, directories or "-"; NULL-terminated */
    size_t       n_inputs;
    const char  *interface;     /* -i: live capture instead of files */
    const char  *filter;        /* -f: BPF expression */
    const char  *user;          /* -Z: drop to this user after opening */
    pcapd_format format;
    bool         summary_only;  /* --summary */
    bool         quiet;         /* -q: no progress bar, no run statistics */
    int          color;         /* -1 never, 0 auto, 1 always */
    bool         show_secrets;
    unsigned     fail_on;       /* PCAPD_FAIL_* */
    uint16_t     ports[PCAPD_MAX_PORTS];
    size_t       n_ports;       /* 0: the core's defaults */
    bool         no_heuristic;
    unsigned     jobs;          /* -j: files read in parallel (1: none) */
    int64_t      slow_reply_ns; /* 0: core default */
    int64_t      idle_ns;       /* 0: core default */
    size_t       max_live;      /* 0: core default */
} pcapd_options;

/* ---- output buffer (outbuf.c) ---------------------------------------- */

/* A growable byte buffer flushed to a FILE in large writes.  The renderers
 * build every record in it with the append helpers below, which are cheap
 * enough to call per field. */
typedef struct outbuf {
    char   *buf;
    size_t  len, cap;
    FILE   *fp;        /* NULL: never flushed (held in memory) */
    bool    failed;    /* a write to fp failed */
    GArray *marks;     /* ob_mark, when conversation ids are renumbered later */
} outbuf;

/* Where ob_conv() wrote a conversation id into a buffer held for -j. */
typedef struct ob_mark {
    size_t   off;
    uint32_t len;
    uint64_t id;
} ob_mark;

void ob_init(outbuf *ob, FILE *fp, size_t cap);
void ob_free(outbuf *ob);
/* Remember where conversation ids go (see ob_conv); for -j buffers. */
void ob_track_convs(outbuf *ob);
void ob_flush(outbuf *ob);
void ob_reserve(outbuf *ob, size_t n);
void ob_put(outbuf *ob, const char *s, size_t n);
void ob_puts(outbuf *ob, const char *s);
void ob_putc(outbuf *ob, char c);
void ob_u64(outbuf *ob, uint64_t v);
void ob_i64(outbuf *ob, int64_t v);
/* A reply code as three digits ("050" for 50). */
void ob_code(outbuf *ob, int code);
void ob_printf(outbuf *ob, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Epoch seconds with six decimals ("1700000000.123456"). */
void ob_ts_epoch(outbuf *ob, int64_t ts_ns);
/* UTC date and time "2024-05-01 10:00:00.123456". */
void ob_ts_utc(outbuf *ob, int64_t ts_ns);
/* Milliseconds with three decimals, e.g. "12.345". */
void ob_ms(outbuf *ob, int64_t ns);
/* A conversation id.  In a buffer with ob_track_convs() its place is
 * remembered, so ob_copy_renumbered() can add a base to it later. */
void ob_conv(outbuf *ob, uint64_t id);
/* Append `src` to `dst`, every tracked conversation id increased by `base`. */
void ob_copy_renumbered(outbuf *dst, const outbuf *src, uint64_t base);
/* Append src->buf[from, to) to `dst`, each tracked id in it replaced by
 * map(user, id); `mark` is the index of the first mark at or after `from`.
 * Returns the index of the first mark at or after `to`. */
guint ob_copy_mapped(outbuf *dst, const outbuf *src, size_t from, size_t to, guint mark,
                     uint64_t (*map)(void *user, uint64_t id), void *user);
/* A JSON string with quotes; bytes that are not valid UTF-8 become U+FFFD. */
void ob_json_str(outbuf *ob, const char *s, size_t n);
void ob_json_cstr(outbuf *ob, const char *s);   /* NULL gives null */
/* A CSV field, quoted when it holds a comma, quote, CR or LF; invalid
 * UTF-8 and NUL become U+FFFD. */
void ob_csv_str(outbuf *ob, const char *s, size_t n);
/* Text for a terminal: control bytes and invalid UTF-8 shown as '.'. */
void ob_text_str(outbuf *ob, const char *s, size_t n);
/* "ip:port", IPv6 in brackets. */
void ob_endpoint(outbuf *ob, uint8_t family, const uint8_t *addr, uint16_t port);
void ob_addr(outbuf *ob, uint8_t family, const uint8_t *addr);
/* A Wireshark display filter selecting exactly this conversation's TCP
 * packets: both directions' addresses and ports, within its frame range. */
void ob_wireshark_filter(outbuf *ob, const tcp_conv_info *conv);
/* Append a string literal. */
#define OBL(ob, lit) ob_put((ob), "" lit, sizeof(lit) - 1)

/* ---- per-conversation state kept by the front end --------------------- */

/* What pcapd remembers about a live conversation between its events: the
 * things the `conversation` record needs that only earlier events carried,
 * and the text renderer's pending lines.  Created at the first event, freed
 * after SMTP_EV_END. */
typedef struct pcapd_conv {
    uint64_t id;
    GString *caps;            /* EHLO keywords, space-separated (bounded) */
    GString *auth_mech;       /* last AUTH exchange, NULL if none */
    GString *auth_user;
    int      auth_outcome;    /* smtp_auth_outcome, -1 if none */
    outbuf  *text;            /* text renderer: lines not yet printed */
    bool     text_started;    /* a part of it was already printed */
} pcapd_conv;

/* ---- run totals (summary.c) ------------------------------------------ */

#define SUMMARY_TOP 10

typedef struct summary_slow {
    int64_t  latency_ns;
    uint64_t conv;
    uint32_t frame;
    int      code;
    const char *command;      /* registry string */
    const char *file;         /* input name (owned by the options) */
} summary_slow;

/* A 4xx/5xx reply kind counted for "most frequent failure replies". */
typedef struct summary_failure {
    int           code;
    smtp_enhanced enhanced;
    const char   *command;        /* registry strings */
    const char   *meaning;
    uint64_t      count;
    /* When it was first seen: frame of the reply event, then order among
     * the kinds of one summary (summary_merge adds kinds in this order). */
    uint32_t      first_frame;
    uint64_t      first_seq;
} summary_failure;

typedef struct summary {
    /* Counters only, all uint64_t, up to `failures`: summary_merge() adds
     * them as one array. */
    uint64_t conversations;
    uint64_t conv_outcome[8];           /* by smtp_conv_outcome */
    uint64_t txn_outcome[8];            /* by smtp_txn_outcome */
    uint64_t replies;
    uint64_t reply_class[10];           /* by first digit */
    uint64_t reply_code[1000];
    uint64_t anomalies;
    uint64_t anomaly_kind[SMTP_AN_COUNT];
    uint64_t anomaly_severity[3];
    uint64_t rcpt_refused;
    uint64_t failures_other;            /* beyond the distinct-key bound */
    uint64_t failures_seen;             /* distinct kinds met (first_seq) */
    /* Capture and decoding counters. */
    uint64_t files, files_failed;
    uint64_t packets, bytes, tcp_segments;
    uint64_t not_ip, not_tcp, truncated, malformed;
    uint64_t frags, frags_reassembled, frags_dropped;
    uint64_t flows_evicted;
    /* Not counters. */
    GHashTable *failures;               /* set of summary_failure */
    summary_slow slow[SUMMARY_TOP];
    size_t   n_slow;
} summary;

void summary_init(summary *s);
void summary_free(summary *s);
/* Count one event of conversation `conv`.  Returns true when it is a
 * reply that entered the slowest-replies list, copied to *entered if not
 * NULL (a -j worker passes it on, see shard.c). */
bool summary_event(summary *s, const smtp_event *ev, uint64_t conv, const char *file,
                   summary_slow *entered);
/* Offer one reply to the slowest-replies list; true if it entered. */
bool summary_slow_add(summary *s, const summary_slow *w);
/* Add the totals of src[0..n) (-j: one file's, or the workers' of one
 * file) to `dst`; conversation ids are increased by `conv_base`.  Failure
 * replies are added in the order they were first seen across all of them,
 * as one summary seeing every event would have met them, so the bound on
 * distinct kinds keeps the same ones. */
void summary_merge(summary *dst, const summary *const *src, size_t n, uint64_t conv_base);
/* The `max` most frequent failure replies (summary_failure *), most
 * frequent first; the caller frees the array, the elements stay the
 * summary's. */
GPtrArray *summary_failures(const summary *s, size_t max);

/* ---- decoding (decode.c, frag.c) -------------------------------------- */

typedef struct frag_table frag_table;

typedef struct decode_stats {
    uint64_t not_ip, not_tcp, truncated, malformed;
    uint64_t frags, frags_reassembled, frags_dropped;
} decode_stats;

typedef enum decode_result {
    DECODE_TCP,         /* seg filled */
    DECODE_SKIP,        /* not TCP over IP, or a fragment held for later */
    DECODE_BAD,         /* counted in the stats */
    DECODE_FRAGMENT     /* an IP fragment, with `frags` NULL: nothing counted */
} decode_result;

/* True when pcapd can decode `dlt` (a pcap_datalink() value). */
bool decode_link_supported(int dlt);

/* Decode one frame of link type `dlt`: `data` holds the `caplen` bytes
 * captured; the IP header says how long the packet really was, and a
 * frame cut short is counted in st->truncated.  On DECODE_TCP, `seg`
 * describes the TCP segment; its payload points into `data` or into
 * `frags` and is valid until the next call.  Never reads outside
 * data[0..caplen).  With `frags` NULL an IP fragment is left alone:
 * DECODE_FRAGMENT, for a caller that reassembles fragments later, in
 * capture order (-j on one file, shard.c). */
decode_result decode_frame(int dlt, const uint8_t *data, uint32_t caplen, cap_pos pos,
                           frag_table *frags, decode_stats *st, tcp_segment *seg);

/* IP fragment reassembly, bounded in datagrams, bytes and time. */
frag_table *frag_new(void);
void frag_free(frag_table *ft);
/* Add a fragment of the datagram identified by (family, src, dst, id,
 * proto): `data` holds `n` payload bytes at byte offset `off`; `more` is
 * the MF flag.  Returns the complete payload (valid until the next call)
 * and sets *total when this fragment completed it, else NULL. */
const uint8_t *frag_add(frag_table *ft, uint8_t family, const uint8_t *src, const uint8_t *dst,
                        uint32_t id, uint8_t proto, uint32_t off, bool more,
                        const uint8_t *data, size_t n, int64_t ts_ns, size_t *total,
                        decode_stats *st);

/* ---- the run (run.c, input.c) ----------------------------------------- */

typedef struct pcapd_ctx pcapd_ctx;

/* One renderer: text, NDJSON or CSV.  All write into c->ob; conversation
 * ids go through ob_conv() so -j can renumber them. */
typedef struct pcapd_output {
    /* Once per run, before any input (the CSV header row). */
    void (*begin)(pcapd_ctx *c);
    /* Every core event, in the order the core emits them. */
    void (*event)(pcapd_ctx *c, pcapd_conv *pc, const tcp_conv_info *conv, const smtp_event *ev);
    /* Once per run, after every input: the summary from c->sum. */
    void (*end)(pcapd_ctx *c);
    /* Optional: an input could not be read to its end (offset -1 when not
     * known); the message already went to stderr. */
    void (*input_error)(pcapd_ctx *c, const char *file, int64_t offset, const char *msg);
} pcapd_output;

extern const pcapd_output pcapd_output_text;
extern const pcapd_output pcapd_output_ndjson;
extern const pcapd_output pcapd_output_csv;

struct pcapd_ctx {
    const pcapd_options *opts;
    const pcapd_output  *out;
    outbuf       ob;             /* stdout */
    bool         color;
    bool         multi;          /* more than one input: name the file */
    bool         live;
    const char  *file;           /* input being read ("-" for stdin) */
    GPtrArray   *files;          /* the inputs' names, kept to the end */
    tcp_tracker *tracker;
    frag_table  *frags;
    decode_stats dstats;
    GHashTable  *convs;          /* id -> pcapd_conv */
    summary      sum;
    int          exit_code;
    bool         fail_hit;
    bool         no_progress;    /* a -j worker: no progress bar */
    size_t       text_buffered;  /* text renderer: bytes held for all conversations */
    struct shard_worker *shard;  /* -j on one file: this context is one worker */
    GString     *scratch;        /* CSV renderer: one reply's text */
};

/* Read every input of ctx->opts (or the live interface) through the
 * tracker; returns the worst input status (PCAPD_EXIT_OK or _INPUT). */
int pcapd_inputs(pcapd_ctx *c);
/* Read one capture file ("-" for stdin) to its end, then finish its
 * conversations (input.c). */
void pcapd_read_file(pcapd_ctx *c, const char *name);
/* Read `files` with opts->jobs threads, each file with its own tracker;
 * reports are written in input order, conversation ids renumbered so they
 * stay unique and in order (jobs.c).  Totals go into `c`. */
void pcapd_read_parallel(pcapd_ctx *c, GPtrArray *files);
/* Set up / tear down a context for `opts`; `out` NULL keeps the report in
 * memory with conversation ids tracked (a -j worker).  (run.c) */
void pcapd_ctx_init(pcapd_ctx *c, const pcapd_options *opts, FILE *out);
void pcapd_ctx_free(pcapd_ctx *c);
/* Add the decoder and tracker counters to c->sum; call once per context. */
void pcapd_ctx_totals(pcapd_ctx *c);
/* Live capture on opts->interface until SIGINT/SIGTERM (live.c). */
int pcapd_live(pcapd_ctx *c);
/* Capture time in nanoseconds from a record's seconds and nanoseconds.
 * A damaged record may hold any seconds value: clamp to what an int64_t of
 * nanoseconds can hold (about the years 1678 to 2262) instead of
 * overflowing. */
static inline int64_t pcapd_ts_ns(int64_t sec, int64_t nsec)
{
    const int64_t max_sec = INT64_MAX / 1000000000LL - 1;
    if (sec > max_sec)
        sec = max_sec;
    if (sec < -max_sec)
        sec = -max_sec;
    return sec * 1000000000LL + nsec;
}

/* False for a segment --no-heuristic with --ports rules out (run.c). */
bool pcapd_port_wanted(const pcapd_options *o, const tcp_segment *seg);
/* -j N on one capture file: conversations split across N trackers by flow
 * hash, classic pcap files read by N threads at once; the report is the
 * one a single thread writes (shard.c). */
void pcapd_read_sharded(pcapd_ctx *c, const char *name);
/* A worker's renderer just wrote one event (into `ob`) of its conversation
 * `conv` / gave out id `conv` (shard.c). */
struct shard_worker;
void shard_note_event(struct shard_worker *w, const outbuf *ob, uint64_t conv, bool end,
                      const summary_slow *slow);
void shard_note_start(struct shard_worker *w, const tcp_conv_info *conv);
/* Report libpcap's failure to read record `frame` at byte `offset`. */
void pcapd_read_error(pcapd_ctx *c, const char *name, uint64_t offset, const char *msg,
                      uint64_t frame);

/* Hand one decoded frame to the tracker (input.c calls it per packet). */
void pcapd_packet(pcapd_ctx *c, const uint8_t *data, uint32_t caplen, uint32_t len,
                  int dlt, cap_pos pos);
/* An input failed: message on stderr, renderer told, status recorded. */
void pcapd_input_error(pcapd_ctx *c, const char *file, int64_t offset, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);
/* Apply opts->filter (if any) to `p`; on failure report it as an input
 * error of `name` and return false.  (input.c) */
struct pcap;
struct bpf_program;
bool pcapd_set_filter(pcapd_ctx *c, struct pcap *p, const char *name);
/* Compile opts->filter (set) for `p` into `prog`; on failure report it as
 * set_filter does. */
bool pcapd_compile_filter(pcapd_ctx *c, struct pcap *p, const char *name,
                          struct bpf_program *prog);
/* True when pcapd decodes the link type of `p`; else reported as an input
 * error of `name`. */
bool pcapd_link_usable(pcapd_ctx *c, struct pcap *p, const char *name);
struct pcapd_stream;
/* Open one capture ("-": stdin; gzip inflated) for libpcap: counts the
 * file, reports every failure itself (NULL).  *size is the file's size
 * for the progress bar, 0 when unknown or compressed. */
struct pcap *pcapd_open_capture(pcapd_ctx *c, const char *name, struct pcapd_stream **stream,
                                uint64_t *size);
/* Print "pcapd: " + message on stderr, as one write. */
void pcapd_warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Run pcapd with `opts`; returns the exit code. */
int pcapd_run(const pcapd_options *opts);

#endif
