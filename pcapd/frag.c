/* frag.c -- IPv4 and IPv6 fragment reassembly for pcapd.
 *
 * Datagrams are keyed by (family, protocol, id, source, destination) in a
 * GLib hash table.  Each holds its payload so far and a bitmap of the
 * 8-byte blocks received (fragment offsets count in 8-byte units).  The
 * table is bounded three ways so hostile traffic cannot grow it: datagrams
 * held, bytes held, and age in capture time; the oldest go first.
 */
#include "pcapd.h"

#include <string.h>

/* Bounds.  An IP datagram is at most 65535 bytes; 1024 datagrams in
 * flight and 16 MiB cover any honest capture, and 30 s matches the
 * reassembly timeout of common stacks (RFC 791 suggests 15 s at least). */
#define FRAG_MAX_DGRAM    65535u
#define FRAG_MAX_HELD     1024u
#define FRAG_MAX_BYTES    (16u * 1024 * 1024)
#define FRAG_TIMEOUT_NS   (30LL * 1000000000LL)
#define FRAG_BLOCKS       ((FRAG_MAX_DGRAM + 7) / 8 + 1)

typedef struct frag_key {
    uint8_t  family, proto;
    uint32_t id;
    uint8_t  src[16], dst[16];
} frag_key;

typedef struct frag_dgram {
    frag_key key;
    uint8_t *data;
    size_t   cap;           /* bytes allocated in data */
    uint32_t total;         /* payload length, known from the last fragment; 0 = unknown */
    uint32_t blocks_set;
    int64_t  first_ts;
    GList   *link;          /* in frag_table.order */
    uint8_t  bitmap[(FRAG_BLOCKS + 7) / 8];
} frag_dgram;

struct frag_table {
    GHashTable *dgrams;     /* frag_key* -> frag_dgram* */
    GQueue      order;      /* oldest first */
    size_t      bytes;
    uint8_t    *done;       /* last completed payload, freed on the next call */
};

static guint key_hash(gconstpointer p)
{
    const frag_key *k = p;
    guint h = k->id * 2654435761u ^ k->proto ^ ((guint)k->family << 8);
    size_t n = k->family == 6 ? 16 : 4;
    for (size_t i = 0; i < n; i++)
        h = h * 31 + k->src[i] + k->dst[i] * 7u;
    return h;
}

static gboolean key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(frag_key)) == 0;
}

frag_table *frag_new(void)
{
    frag_table *ft = g_new0(frag_table, 1);
    ft->dgrams = g_hash_table_new(key_hash, key_equal);
    g_queue_init(&ft->order);
    return ft;
}

static void dgram_drop(frag_table *ft, frag_dgram *d)
{
    g_hash_table_remove(ft->dgrams, &d->key);
    g_queue_delete_link(&ft->order, d->link);
    ft->bytes -= d->cap;
    g_free(d->data);
    g_free(d);
}

void frag_free(frag_table *ft)
{
    if (!ft)
        return;
    while (!g_queue_is_empty(&ft->order))
        dgram_drop(ft, g_queue_peek_head(&ft->order));
    g_hash_table_destroy(ft->dgrams);
    g_free(ft->done);
    g_free(ft);
}

/* Drop datagrams too old, and the oldest while over the bounds. */
static void frag_trim(frag_table *ft, int64_t now_ns, size_t incoming, decode_stats *st)
{
    frag_dgram *d;
    while ((d = g_queue_peek_head(&ft->order)) != NULL &&
           (now_ns - d->first_ts > FRAG_TIMEOUT_NS ||
            ft->order.length >= FRAG_MAX_HELD || ft->bytes + incoming > FRAG_MAX_BYTES)) {
        st->frags_dropped += 1;
        dgram_drop(ft, d);
    }
}

const uint8_t *frag_add(frag_table *ft, uint8_t family, const uint8_t *src, const uint8_t *dst,
                        uint32_t id, uint8_t proto, uint32_t off, bool more,
                        const uint8_t *data, size_t n, int64_t ts_ns, size_t *total,
                        decode_stats *st)
{
    g_free(ft->done);
    ft->done = NULL;
    /* Non-final fragments carry whole 8-byte blocks; anything else, or a
     * datagram past the IP maximum, is malformed. */
    if (off + n > FRAG_MAX_DGRAM || (more && n % 8 != 0) || n == 0) {
        st->frags_dropped++;
        st->malformed++;
        return NULL;
    }
    frag_key key;
    memset(&key, 0, sizeof key);
    key.family = family;
    key.proto = proto;
    key.id = id;
    memcpy(key.src, src, 16);
    memcpy(key.dst, dst, 16);

    frag_dgram *d = g_hash_table_lookup(ft->dgrams, &key);
    size_t end = off + n;
    if (!d) {
        frag_trim(ft, ts_ns, end, st);
        d = g_new0(frag_dgram, 1);
        d->key = key;
        d->first_ts = ts_ns;
        g_queue_push_tail(&ft->order, d);
        d->link = g_queue_peek_tail_link(&ft->order);
        g_hash_table_insert(ft->dgrams, &d->key, d);
    }
    if (end > d->cap) {
        size_t cap = MAX(end, MIN(d->cap * 2, (size_t)FRAG_MAX_DGRAM));
        if (ft->bytes + (cap - d->cap) > FRAG_MAX_BYTES) {
            st->frags_dropped++;
            dgram_drop(ft, d);
            return NULL;
        }
        d->data = g_realloc(d->data, cap);
        ft->bytes += cap - d->cap;
        d->cap = cap;
    }
    if (!more) {
        if (d->total && d->total != end) {
            /* Two different last fragments: give the datagram up. */
            st->frags_dropped++;
            st->malformed++;
            dgram_drop(ft, d);
            return NULL;
        }
        d->total = (uint32_t)end;
    }
    memcpy(d->data + off, data, n);
    for (size_t b = off / 8; b < (end + 7) / 8; b++) {
        if (!(d->bitmap[b / 8] & (1u << (b % 8)))) {
            d->bitmap[b / 8] |= (uint8_t)(1u << (b % 8));
            d->blocks_set++;
        }
    }
    if (!d->total || d->blocks_set < (d->total + 7) / 8)
        return NULL;
    if (d->blocks_set > (d->total + 7) / 8) {
        /* Blocks beyond the end of the datagram: inconsistent. */
        st->frags_dropped++;
        st->malformed++;
        dgram_drop(ft, d);
        return NULL;
    }
    /* Complete: hand the buffer out and forget the datagram. */
    ft->done = d->data;
    *total = d->total;
    d->data = NULL;
    g_hash_table_remove(ft->dgrams, &d->key);
    g_queue_delete_link(&ft->order, d->link);
    ft->bytes -= d->cap;
    g_free(d);
    return ft->done;
}
