/* flow_table.c -- hash index of TCP flows (see flow_table.h). */
#include "flow_table.h"

#include <stdbool.h>
#include <string.h>

#include <glib.h>

#define FLOW_TABLE_MIN_SLOTS 256

unsigned flow_key_make(flow_key *k, uint8_t family, const uint8_t *src, uint16_t sport,
                       const uint8_t *dst, uint16_t dport)
{
    size_t alen = family == 6 ? 16 : 4;
    int c = memcmp(src, dst, alen);
    unsigned s = (c < 0 || (c == 0 && sport <= dport)) ? 0 : 1;

    memset(k, 0, sizeof *k);
    k->family = family;
    memcpy(k->addr[s], src, alen);
    memcpy(k->addr[1 - s], dst, alen);
    k->port[s] = sport;
    k->port[1 - s] = dport;
    return s;
}

/* Each of the key's five 64-bit words times its own odd constant (the
 * multiplications run in parallel), folded by one final mix so that every
 * input bit reaches the low bits the table indexes with. */
uint32_t flow_key_hash(const flow_key *k)
{
    static const uint64_t mul[5] = {
        0x9e3779b97f4a7c15ull, 0xc2b2ae3d27d4eb4full, 0x165667b19e3779f9ull,
        0xd6e8feb86659fd93ull, 0xff51afd7ed558ccdull,
    };
    uint64_t w[sizeof *k / 8];
    uint64_t h = 0;

    G_STATIC_ASSERT(sizeof(flow_key) == 40);
    memcpy(w, k, sizeof w);
    for (size_t i = 0; i < G_N_ELEMENTS(w); i++)
        h ^= w[i] * mul[i];
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static bool key_equal(const flow_key *a, const flow_key *b)
{
    uint64_t x[sizeof *a / 8], y[sizeof *a / 8];
    uint64_t diff = 0;
    memcpy(x, a, sizeof x);
    memcpy(y, b, sizeof y);
    for (size_t i = 0; i < G_N_ELEMENTS(x); i++)
        diff |= x[i] ^ y[i];
    return diff == 0;
}

static size_t slot_of(const flow_table *ft, uint32_t h)
{
    return h & ft->mask;
}

flow_key *flow_table_find(const flow_table *ft, const flow_key *k, uint32_t h)
{
    if (!ft->slots)
        return NULL;
    for (size_t i = slot_of(ft, h);; i = (i + 1) & ft->mask) {
        const flow_slot *sl = &ft->slots[i];
        if (!sl->key)
            return NULL;
        if (sl->hash == h && key_equal(sl->key, k))
            return sl->key;
    }
}

static void put(flow_table *ft, flow_key *k, uint32_t h)
{
    size_t i = slot_of(ft, h);
    while (ft->slots[i].key)
        i = (i + 1) & ft->mask;
    ft->slots[i].hash = h;
    ft->slots[i].key = k;
}

static void grow(flow_table *ft)
{
    flow_slot *old = ft->slots;
    size_t old_n = old ? ft->mask + 1 : 0;
    size_t n = old_n ? old_n * 2 : FLOW_TABLE_MIN_SLOTS;

    ft->slots = g_new0(flow_slot, n);
    ft->mask = n - 1;
    for (size_t i = 0; i < old_n; i++)
        if (old[i].key)
            put(ft, old[i].key, old[i].hash);
    g_free(old);
}

void flow_table_init(flow_table *ft)
{
    memset(ft, 0, sizeof *ft);
}

void flow_table_clear(flow_table *ft)
{
    g_free(ft->slots);
    flow_table_init(ft);
}

void flow_table_insert(flow_table *ft, flow_key *k, uint32_t h)
{
    /* Load factor at most 1/2 keeps linear probes short. */
    if (!ft->slots || (ft->count + 1) * 2 > ft->mask + 1)
        grow(ft);
    put(ft, k, h);
    ft->count++;
}

void flow_table_remove(flow_table *ft, const flow_key *k, uint32_t h)
{
    if (!ft->slots)
        return;
    size_t i = slot_of(ft, h);
    while (ft->slots[i].key != k) {
        if (!ft->slots[i].key)
            return;
        i = (i + 1) & ft->mask;
    }
    /* Backward-shift deletion: pull later members of the probe run into
     * the hole so that no lookup ever stops early at it. */
    for (size_t j = (i + 1) & ft->mask; ft->slots[j].key; j = (j + 1) & ft->mask) {
        size_t home = slot_of(ft, ft->slots[j].hash);
        /* slot j may move to i if its home is not cyclically in (i, j] */
        bool stays = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!stays) {
            ft->slots[i] = ft->slots[j];
            i = j;
        }
    }
    ft->slots[i].key = NULL;
    ft->count--;
}
