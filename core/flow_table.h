/* flow_table.h -- hash index of TCP flows by their endpoints (private to
 * the core; used by tcp_tracker.c).
 *
 * Open addressing with linear probing and backward-shift deletion: one
 * probe sequence over a flat array, no deleted-slot markers, no allocation
 * per lookup.  The table stores pointers to keys embedded in the caller's
 * flow objects; it owns only its slot array.  What runs once per packet
 * (building a key, hashing it, finding it) is inline here.
 */
#ifndef SMTPSCOPE_FLOW_TABLE_H
#define SMTPSCOPE_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

/* Both endpoints of a connection in a fixed order, so that the two
 * directions of a connection make the same key.  Unused address bytes and
 * the padding are zero, so keys compare word by word.  The words `w` are
 * how the hot path reads and writes a key: whole 64-bit words only, so a
 * key just built is read back without a store-forwarding stall. */
typedef struct flow_key {
    union {
        struct {
            uint8_t  family;        /* 4 or 6 */
            uint8_t  pad_[3];       /* makes the key 40 bytes: five words */
            uint16_t port[2];       /* port[i] belongs to addr[i] */
            uint8_t  addr[2][16];
        };
        uint64_t w[5];
    };
} flow_key;

static inline uint64_t flow_load64_(const uint8_t *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Fill `k` for a segment from (src, sport) to (dst, dport) of `family`
 * (4: the first 4 address bytes count).  Returns the index in the key of
 * the segment's source endpoint (0 or 1): 0 when the source address is
 * smaller in byte order (memcmp), or equal with a port no greater.  Cannot
 * fail.  Inline: it runs once per packet. */
static inline unsigned flow_key_make(flow_key *k, uint8_t family, const uint8_t *src,
                                     uint16_t sport, const uint8_t *dst, uint16_t dport)
{
    uint64_t sa[2] = { 0, 0 }, da[2] = { 0, 0 };
    if (family == 6) {
        sa[0] = flow_load64_(src);
        sa[1] = flow_load64_(src + 8);
        da[0] = flow_load64_(dst);
        da[1] = flow_load64_(dst + 8);
    } else {
        memcpy(&sa[0], src, 4);
        memcpy(&da[0], dst, 4);
    }
    /* byte order (memcmp) is the order of the big-endian values */
    uint64_t s0 = GUINT64_FROM_BE(sa[0]), d0 = GUINT64_FROM_BE(da[0]);
    uint64_t s1 = GUINT64_FROM_BE(sa[1]), d1 = GUINT64_FROM_BE(da[1]);
    bool lower = s0 != d0 ? s0 < d0 : s1 != d1 ? s1 < d1 : sport <= dport;
    unsigned s = lower ? 0 : 1;

    struct { uint8_t family, pad[3]; uint16_t port[2]; } head = {
        family, { 0, 0, 0 }, { lower ? sport : dport, lower ? dport : sport }
    };
    memcpy(&k->w[0], &head, 8);
    k->w[1] = lower ? sa[0] : da[0];
    k->w[2] = lower ? sa[1] : da[1];
    k->w[3] = lower ? da[0] : sa[0];
    k->w[4] = lower ? da[1] : sa[1];
    return s;
}

/* Each of the key's five words times its own odd constant (the
 * multiplications run in parallel), folded by one final mix so that every
 * input bit reaches the low bits the table indexes with. */
static inline uint32_t flow_key_hash(const flow_key *k)
{
    uint64_t h = k->w[0] * 0x9e3779b97f4a7c15ull ^ k->w[1] * 0xc2b2ae3d27d4eb4full ^
                 k->w[2] * 0x165667b19e3779f9ull ^ k->w[3] * 0xd6e8feb86659fd93ull ^
                 k->w[4] * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 29;
    return (uint32_t)h;
}

static inline bool flow_key_equal(const flow_key *a, const flow_key *b)
{
    return ((a->w[0] ^ b->w[0]) | (a->w[1] ^ b->w[1]) | (a->w[2] ^ b->w[2]) |
            (a->w[3] ^ b->w[3]) | (a->w[4] ^ b->w[4])) == 0;
}

typedef struct flow_slot {
    uint32_t  hash;
    flow_key *key;          /* NULL: empty */
} flow_slot;

typedef struct flow_table {
    flow_slot *slots;
    size_t     mask;        /* capacity - 1; capacity is a power of two */
    size_t     count;
} flow_table;

/* An empty table (no allocation until the first insert). */
void flow_table_init(flow_table *ft);

/* Free the slot array; the keys belong to the caller. */
void flow_table_clear(flow_table *ft);

/* The stored key equal to `k` (hash `h`), or NULL.  Inline: once per
 * packet.  The stored hash is compared first, so a miss reads only slots. */
static inline flow_key *flow_table_find(const flow_table *ft, const flow_key *k, uint32_t h)
{
    if (!ft->slots)
        return NULL;
    for (size_t i = h & ft->mask;; i = (i + 1) & ft->mask) {
        const flow_slot *sl = &ft->slots[i];
        if (!sl->key)
            return NULL;
        if (sl->hash == h && flow_key_equal(sl->key, k))
            return sl->key;
    }
}

/* Add `k` (its object must outlive its presence here); `k` must not be in
 * the table yet.  Grows the table as needed (aborts on OOM, like GLib). */
void flow_table_insert(flow_table *ft, flow_key *k, uint32_t h);

/* Remove the entry that points at `k`, if any. */
void flow_table_remove(flow_table *ft, const flow_key *k, uint32_t h);

#endif
