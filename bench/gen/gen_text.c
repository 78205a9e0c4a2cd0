/* gen_text.c -- filler for message bodies and opaque payloads.
 *
 * Pools are built once from the seeded generator; bodies are assembled from
 * slices of them so that a gigabyte costs a few seconds, not minutes.
 */
#include <string.h>

#include "gen.h"

#define NOISE_POOL   (4u << 20)
#define B64_POOL     (64u << 10)
#define B64_COLS     76

static uint8_t noise_pool[NOISE_POOL];
static char    b64_pool[B64_POOL];

static const char *const words[] = {
    "the", "of", "and", "to", "in", "is", "for", "that", "on", "with", "as", "we",
    "meeting", "report", "invoice", "attached", "please", "review", "quarter",
    "schedule", "project", "update", "thanks", "regards", "customer", "order",
    "shipment", "delivery", "account", "balance", "payment", "contract", "draft",
    "server", "mailbox", "backup", "release", "budget", "agenda", "minutes",
    "tomorrow", "Monday", "Friday", "office", "team", "budget", "approval",
    "résumé", "naïve", "Grüße", "données", "2026", "14:30", "v2.1", "#4711",
};

/* 2^(i/16) in 16.16 fixed point, i = 0..15. */
static const uint32_t pow2_sixteenths[16] = {
    65536, 68438, 71468, 74632, 77936, 81386, 84990, 88752,
    92682, 96785, 101070, 105545, 110218, 115098, 120194, 125515,
};

size_t gen_lognormal(gen_rng *r, size_t median, unsigned spread_doublings, size_t cap)
{
    /* Four uniforms of +-spread/2 doublings each: a bell between
     * median / 2^(2 spread) and median * 2^(2 spread). */
    int32_t k = (int32_t)spread_doublings * 8;
    int32_t e = 0;
    for (int i = 0; i < 4; i++)
        e += (int32_t)gen_below(r, (uint32_t)(2 * k + 1)) - k;
    int32_t whole = e >= 0 ? e / 16 : -((-e + 15) / 16);
    uint64_t v = (uint64_t)median * pow2_sixteenths[e - whole * 16] >> 16;
    v = whole >= 0 ? v << whole : v >> -whole;
    return v < cap ? (size_t)v : cap;
}

void gen_text_init(gen_rng *r)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < NOISE_POOL; i += 8) {
        uint64_t v = gen_next(r);
        memcpy(noise_pool + i, &v, 8);
    }
    for (size_t i = 0; i < B64_POOL; i++)
        b64_pool[i] = alphabet[noise_pool[i] & 63];
}

const char *gen_word(gen_rng *r)
{
    return words[gen_below(r, G_N_ELEMENTS(words))];
}

void gen_text_lines(gen_rng *r, GByteArray *out, size_t target, bool stuff)
{
    size_t end = out->len + target;
    char line[128];
    while (out->len < end) {
        size_t n = 0;
        /* About one line in 150 starts with a dot: an ellipsis or a quoted
         * path, the lines dot-stuffing exists for. */
        if (gen_below(r, 150) == 0) {
            if (stuff)
                line[n++] = '.';
            line[n++] = '.';
            line[n++] = '.';
        }
        size_t width = gen_range(r, 20, 76);
        while (n < width) {
            const char *w = gen_word(r);
            size_t wl = strlen(w);
            if (n + wl + 1 > sizeof line - 2)
                break;
            memcpy(line + n, w, wl);
            n += wl;
            line[n++] = ' ';
        }
        line[n - 1] = '\r';
        line[n++] = '\n';
        g_byte_array_append(out, (const guint8 *)line, (guint)n);
    }
}

void gen_base64_lines(gen_rng *r, GByteArray *out, size_t target)
{
    size_t end = out->len + target;
    while (out->len < end) {
        size_t at = gen_below(r, B64_POOL - B64_COLS);
        g_byte_array_append(out, (const guint8 *)b64_pool + at, B64_COLS);
        g_byte_array_append(out, (const guint8 *)"\r\n", 2);
    }
}

void gen_noise(gen_rng *r, GByteArray *out, size_t len)
{
    while (len) {
        size_t n = MIN(len, (size_t)65536);
        size_t at = gen_below(r, (uint32_t)(NOISE_POOL - n));
        g_byte_array_append(out, noise_pool + at, (guint)n);
        len -= n;
    }
}
