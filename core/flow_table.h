/* flow_table.h -- hash index of TCP flows by their endpoints (private to
 * the core; used by tcp_tracker.c).
 *
 * Open addressing with linear probing and backward-shift deletion: one
 * probe sequence over a flat array, no tombstones, no allocation per
 * lookup.  The table stores pointers to keys embedded in the caller's flow
 * objects; it owns only its slot array.
 */
#ifndef SMTPSCOPE_FLOW_TABLE_H
#define SMTPSCOPE_FLOW_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* Both endpoints of a connection in a fixed order, so that the two
 * directions of a connection make the same key.  Unused address bytes and
 * the padding are zero, so keys compare with memcmp. */
typedef struct flow_key {
    uint8_t  family;        /* 4 or 6 */
    uint8_t  pad_[3];       /* makes the key 40 bytes: five 64-bit words */
    uint16_t port[2];       /* port[i] belongs to addr[i] */
    uint8_t  addr[2][16];
} flow_key;

/* Fill `k` for a segment from (src, sport) to (dst, dport) of `family`
 * (4: the first 4 address bytes count).  Returns the index in the key of
 * the segment's source endpoint (0 or 1).  Cannot fail. */
unsigned flow_key_make(flow_key *k, uint8_t family, const uint8_t *src, uint16_t sport,
                       const uint8_t *dst, uint16_t dport);

uint32_t flow_key_hash(const flow_key *k);

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

/* The stored key equal to `k` (hash `h`), or NULL. */
flow_key *flow_table_find(const flow_table *ft, const flow_key *k, uint32_t h);

/* Add `k` (its object must outlive its presence here); `k` must not be in
 * the table yet.  Grows the table as needed (aborts on OOM, like GLib). */
void flow_table_insert(flow_table *ft, flow_key *k, uint32_t h);

/* Remove the entry that points at `k`, if any. */
void flow_table_remove(flow_table *ft, const flow_key *k, uint32_t h);

#endif
