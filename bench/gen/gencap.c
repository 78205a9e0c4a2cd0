/* gencap -- write a large, realistic, reproducible SMTP capture.
 *
 *   gencap [--size 100M|1G|N[KMG]] [--seed N] [-o FILE|-]
 *
 * Keeps ACTIVE connections open at once and emits a frame of a randomly
 * chosen one at each tick, so thousands of SMTP conversations and web/TLS
 * downloads interleave in time.  New connections are SMTP or background so
 * that about a third of the payload bytes are SMTP.  New connections stop
 * once those started will fill --size; the file ends within a few percent
 * of it.  The last line on stderr counts what was written.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define ACTIVE 48

static uint64_t parse_size(const char *s)
{
    char *end;
    uint64_t v = g_ascii_strtoull(s, &end, 10);
    switch (g_ascii_toupper(*end)) {
    case 'K': v <<= 10; end++; break;
    case 'M': v <<= 20; end++; break;
    case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (end == s || (*end && g_ascii_strcasecmp(end, "B") != 0) || v == 0) {
        fprintf(stderr, "gencap: bad size '%s' (try 100M or 1G)\n", s);
        exit(2);
    }
    return v;
}

static void usage(FILE *to, int status)
{
    fprintf(to, "usage: gencap [--size 100M|1G|N[KMG]] [--seed N] [-o FILE|-]\n"
                "Writes a deterministic pcap of interleaved SMTP conversations and web/TLS\n"
                "background traffic; the same seed and size give the same bytes.\n");
    exit(status);
}

int main(int argc, char **argv)
{
    uint64_t target = 100u << 20, seed = 1;
    const char *out = NULL;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
            usage(stdout, 0);
        if (!v)
            usage(stderr, 2);
        if (strcmp(a, "--size") == 0)
            target = parse_size(v);
        else if (strcmp(a, "--seed") == 0)
            seed = g_ascii_strtoull(v, NULL, 10);
        else if (strcmp(a, "-o") == 0)
            out = v;
        else
            usage(stderr, 2);
    }
    if (!out)
        usage(stderr, 2);

    gen_rng r = { .state = seed };
    gen_text_init(&r);
    gen_writer w;
    if (!gen_writer_open(&w, out)) {
        fprintf(stderr, "gencap: %s: %s\n", out, strerror(errno));
        return 1;
    }

    gen_counts c = { 0 };
    gen_flow *active[ACTIVE];
    size_t n_active = 0;
    uint64_t planned_smtp = 0, planned_bg = 0;
    for (;;) {
        /* Payload plus ~10% of frame, IP and TCP headers and ACKs is what
         * the connections started so far will write. */
        while (n_active < ACTIVE && (planned_smtp + planned_bg) / 10 * 11 < target) {
            gen_script s;
            gen_script_init(&s);
            if (planned_bg < 2 * planned_smtp) {
                gen_bg_script(&s, &r, &c);
                planned_bg += s.bytes->len;
            } else {
                gen_smtp_script(&s, &r, &c);
                planned_smtp += s.bytes->len;
            }
            active[n_active++] = gen_flow_new(&w, &r, &s);
        }
        if (n_active == 0)
            break;
        size_t i = gen_below(&r, (uint32_t)n_active);
        if (!gen_flow_emit(active[i], &w, &r)) {
            gen_flow_free(active[i]);
            active[i] = active[--n_active];
        }
    }
    if (!gen_writer_close(&w)) {
        fprintf(stderr, "gencap: %s: write error: %s\n", out, strerror(errno));
        return 1;
    }
    fprintf(stderr,
            "gencap: seed=%" PRIu64 " bytes=%" PRIu64 " frames=%" PRIu64 " conversations=%" PRIu64
            " commands=%" PRIu64 " replies=%" PRIu64 " transactions=%" PRIu64 " messages=%" PRIu64
            " rejected=%" PRIu64 " deferred=%" PRIu64 " rcpt_rejected=%" PRIu64 " rcpt_deferred=%" PRIu64
            " starttls=%" PRIu64 " bdat=%" PRIu64 " pipelined=%" PRIu64 " out_of_sequence=%" PRIu64
            " background=%" PRIu64 " smtp_payload=%" PRIu64 " background_payload=%" PRIu64 "\n",
            seed, w.bytes, w.frames, c.conversations, c.commands, c.replies, c.transactions,
            c.messages, c.rejected, c.deferred, c.rcpt_rejected, c.rcpt_deferred, c.starttls,
            c.bdat, c.pipelined, c.out_of_sequence, c.background, planned_smtp, planned_bg);
    return 0;
}
