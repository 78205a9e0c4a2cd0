/* gen.h -- shared pieces of gencap, the deterministic capture generator.
 *
 * gencap builds a capture in two layers.  A *script* is what the two ends of
 * one TCP connection say to each other: a list of turns (steps), each the
 * bytes one side sends before it waits for the other.  gen_smtp.c writes SMTP
 * scripts, gen_bg.c web and TLS background scripts.  gen_wire.c then plays
 * many scripts at once as Ethernet/VLAN/IPv4/IPv6/TCP frames (handshake,
 * MSS-sized segments, ACKs, FIN, a few retransmissions and reorderings) into
 * a pcap file.
 *
 * Every random choice comes from one gen_rng seeded by --seed, so the same
 * seed and size always give the same bytes.
 */
#ifndef SMTPSCOPE_BENCH_GEN_H
#define SMTPSCOPE_BENCH_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <glib.h>

/* splitmix64: tiny, fast, and its output does not depend on the platform. */
typedef struct gen_rng {
    uint64_t state;
} gen_rng;

static inline uint64_t gen_next(gen_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static inline uint32_t gen_below(gen_rng *r, uint32_t n)
{
    return (uint32_t)(((gen_next(r) >> 32) * n) >> 32);
}

/* Uniform in [lo, hi]. */
static inline uint32_t gen_range(gen_rng *r, uint32_t lo, uint32_t hi)
{
    return lo + gen_below(r, hi - lo + 1);
}

/* True with probability per_mille / 1000. */
static inline bool gen_chance(gen_rng *r, uint32_t per_mille)
{
    return gen_below(r, 1000) < per_mille;
}

/* A size drawn from a log-normal distribution with the given median, at
 * most `cap`, using integer arithmetic only so that every platform draws
 * the same numbers: the exponent is a sum of uniforms (close to normal),
 * applied in steps of 1/16 of a doubling.
 *
 * Determinism rule for all of gencap: never draw twice in one expression
 * (function arguments are evaluated in an unspecified order, so two
 * compilers would draw in different orders). */
size_t gen_lognormal(gen_rng *r, size_t median, unsigned spread_doublings, size_t cap);

enum { GEN_CLIENT = 0, GEN_SERVER = 1 };

/* One turn: `len` bytes at `off` in the script's buffer, sent by `dir`. */
typedef struct gen_step {
    uint8_t dir;
    size_t  off, len;
} gen_step;

typedef struct gen_script {
    GByteArray *bytes;         /* the payload of every step, in order */
    GArray     *steps;         /* gen_step */
    uint16_t    server_port;
    bool        smtp;          /* counted as SMTP traffic (for the byte mix) */
} gen_script;

/* Counts of what the generated capture contains, printed at the end so a
 * run can check a summariser against them.  Only what is visible in clear
 * text counts: replies and commands after STARTTLS are not counted. */
typedef struct gen_counts {
    uint64_t conversations;    /* SMTP connections */
    uint64_t commands;         /* client command lines (AUTH included) */
    uint64_t replies;          /* server replies, greeting included */
    uint64_t transactions;     /* MAIL commands, refused ones included */
    uint64_t messages;         /* messages accepted (2xx after the data) */
    uint64_t rejected;         /* messages refused after the data (5xx) */
    uint64_t deferred;         /* messages deferred after the data (4xx) */
    uint64_t rcpt_rejected, rcpt_deferred;
    uint64_t starttls, bdat, pipelined, out_of_sequence;
    uint64_t background;       /* HTTP and TLS connections */
} gen_counts;

void gen_script_init(gen_script *s);
void gen_script_clear(gen_script *s);
void gen_script_free(gen_script *s);
/* Append bytes sent by `dir`; they join the current step if the same side
 * is still talking, else open a new step.  A NULL `data` means the caller
 * already appended the `len` bytes to s->bytes. */
void gen_script_add(gen_script *s, int dir, const void *data, size_t len);
void gen_script_printf(gen_script *s, int dir, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

/* gen_text.c: body text, base64 and opaque bytes, from pools built once. */
void gen_text_init(gen_rng *r);
/* Append `target` bytes (about) of text lines to `out`; lines that start
 * with "." get the extra "." of dot-stuffing when `stuff` is set. */
void gen_text_lines(gen_rng *r, GByteArray *out, size_t target, bool stuff);
/* Append `target` bytes (about) of 76-column base64 lines. */
void gen_base64_lines(gen_rng *r, GByteArray *out, size_t target);
/* Append `len` opaque (random-looking) bytes. */
void gen_noise(gen_rng *r, GByteArray *out, size_t len);
/* A random word of plain lowercase letters (static storage). */
const char *gen_word(gen_rng *r);

/* gen_smtp.c / gen_bg.c: write one connection's script and count it. */
void gen_smtp_script(gen_script *s, gen_rng *r, gen_counts *c);
void gen_bg_script(gen_script *s, gen_rng *r, gen_counts *c);
/* Append TLS records of content `type` (22 handshake, 23 application data)
 * carrying `len` opaque bytes in all, sent by `dir`. */
void gen_tls_records(gen_script *s, gen_rng *r, int dir, uint8_t type, size_t len);

/* gen_wire.c: plays scripts as TCP connections into a pcap file. */
typedef struct gen_writer {
    FILE    *f;
    uint64_t bytes;            /* file bytes written so far */
    uint64_t frames;
    int64_t  now_us;           /* capture clock */
    uint16_t next_port[2048];  /* per client host: next ephemeral port */
} gen_writer;

typedef struct gen_flow gen_flow;

/* Open `path` ("-" for standard output) and write the pcap file header.
 * Returns false with errno set on failure. */
bool gen_writer_open(gen_writer *w, const char *path);
/* Flush and close; false on a write error. */
bool gen_writer_close(gen_writer *w);

/* A connection that will play `script` (the flow takes it over) between a
 * client and a server chosen at random: IPv4 or IPv6, tagged or not. */
gen_flow *gen_flow_new(gen_writer *w, gen_rng *r, const gen_script *script);
/* Emit the flow's next frame or few frames.  Returns false once the
 * connection is closed (the flow may then be freed). */
bool gen_flow_emit(gen_flow *f, gen_writer *w, gen_rng *r);
void gen_flow_free(gen_flow *f);

#endif
