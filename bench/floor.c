/* floor -- the least work any capture summariser has to do, as a yardstick.
 *
 *   floor FILE
 *
 * Reads every record with libpcap, decodes Ethernet (802.1Q/QinQ tags), raw
 * IP, IPv4 and IPv6 (extension headers) and TCP, and finds each segment's
 * connection in a flow table (inserting new ones).  Nothing else: no
 * reassembly, no parsing of the payload.  pcapd cannot be faster than this on
 * the same file; bench/run.sh reports pcapd's time as a multiple of it.
 *
 * The flow table is a small open-addressing table rather than a GHashTable
 * so that the floor stays the lower bound it claims to be.  Prints counts
 * and the elapsed time on stderr.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pcap/pcap.h>

/* A connection seen from either side: the lower endpoint first. */
typedef struct flow_key {
    uint8_t  addr[2][16];
    uint16_t port[2];
    uint8_t  v6;
    uint8_t  pad[3];
} flow_key;

typedef struct flow {
    flow_key key;
    bool     used;
    uint64_t packets, payload;
} flow;

typedef struct flow_table {
    flow  *slots;
    size_t mask, count;
} flow_table;

typedef struct stats {
    uint64_t frames, bytes, ipv4, ipv6, tcp, payload, skipped;
} stats;

static uint64_t key_hash(const flow_key *k)
{
    /* FNV-1a over 8-byte words, then a final mix so that the low bits
     * used as the slot index depend on every byte. */
    uint64_t h = 0xcbf29ce484222325ULL;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < sizeof *k; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

static flow *table_slot(flow_table *t, const flow_key *k)
{
    size_t i = (size_t)key_hash(k) & t->mask;
    while (t->slots[i].used && memcmp(&t->slots[i].key, k, sizeof *k) != 0)
        i = (i + 1) & t->mask;
    return &t->slots[i];
}

static void table_grow(flow_table *t)
{
    flow_table bigger = { calloc(2 * (t->mask + 1), sizeof(flow)), 2 * (t->mask + 1) - 1, t->count };
    if (!bigger.slots) {
        perror("floor");
        exit(1);
    }
    for (size_t i = 0; i <= t->mask; i++)
        if (t->slots[i].used)
            *table_slot(&bigger, &t->slots[i].key) = t->slots[i];
    free(t->slots);
    *t = bigger;
}

static flow *table_lookup(flow_table *t, const flow_key *k)
{
    flow *f = table_slot(t, k);
    if (!f->used) {
        if (2 * (t->count + 1) > t->mask + 1) {
            table_grow(t);
            f = table_slot(t, k);
        }
        f->used = true;
        f->key = *k;
        t->count++;
    }
    return f;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* TCP at `p` (`len` bytes to the end of the IP payload): look up its flow. */
static void tcp(flow_table *t, stats *st, flow_key *k, const uint8_t *p, size_t len)
{
    if (len < 20 || (size_t)(p[12] >> 4) * 4 > len)
        return;
    size_t payload = len - (size_t)(p[12] >> 4) * 4;
    uint16_t sport = get16(p), dport = get16(p + 2);
    int a = memcmp(k->addr[0], k->addr[1], 16);
    if (a > 0 || (a == 0 && sport > dport)) {
        uint8_t tmp[16];
        memcpy(tmp, k->addr[0], 16);
        memcpy(k->addr[0], k->addr[1], 16);
        memcpy(k->addr[1], tmp, 16);
        k->port[0] = dport;
        k->port[1] = sport;
    } else {
        k->port[0] = sport;
        k->port[1] = dport;
    }
    flow *f = table_lookup(t, k);
    f->packets++;
    f->payload += payload;
    st->tcp++;
    st->payload += payload;
}

static void ipv4(flow_table *t, stats *st, const uint8_t *p, size_t len)
{
    if (len < 20 || (p[0] >> 4) != 4)
        return;
    size_t ihl = (size_t)(p[0] & 15) * 4, total = get16(p + 2);
    if (ihl < 20 || total < ihl || total > len)
        return;
    st->ipv4++;
    if (p[9] != 6 || (get16(p + 6) & 0x1fff) != 0)   /* not TCP, or a later fragment */
        return;
    flow_key k = { .v6 = 0 };
    memcpy(k.addr[0], p + 12, 4);
    memcpy(k.addr[1], p + 16, 4);
    tcp(t, st, &k, p + ihl, total - ihl);
}

static void ipv6(flow_table *t, stats *st, const uint8_t *p, size_t len)
{
    if (len < 40 || (p[0] >> 4) != 6)
        return;
    size_t total = 40 + (size_t)get16(p + 4), off = 40;
    uint8_t next = p[6];
    if (total > len)
        return;
    st->ipv6++;
    while (next == 0 || next == 43 || next == 60 || next == 44) {   /* extension headers */
        if (off + 8 > total)
            return;
        if (next == 44 && (get16(p + off + 2) & 0xfff8) != 0)
            return;   /* a later fragment */
        size_t ext = next == 44 ? 8 : ((size_t)p[off + 1] + 1) * 8;
        next = p[off];
        off += ext;
    }
    if (next != 6 || off > total)
        return;
    flow_key k = { .v6 = 1 };
    memcpy(k.addr[0], p + 8, 16);
    memcpy(k.addr[1], p + 24, 16);
    tcp(t, st, &k, p + off, total - off);
}

static void ip(flow_table *t, stats *st, const uint8_t *p, size_t len)
{
    if (len && (p[0] >> 4) == 6)
        ipv6(t, st, p, len);
    else
        ipv4(t, st, p, len);
}

static void ethernet(flow_table *t, stats *st, const uint8_t *p, size_t len)
{
    size_t off = 12;
    if (len < 14)
        return;
    uint16_t type = get16(p + off);
    while ((type == 0x8100 || type == 0x88a8 || type == 0x9100) && off + 6 <= len) {
        off += 4;
        type = get16(p + off);
    }
    off += 2;
    if (type == 0x0800)
        ipv4(t, st, p + off, len - off);
    else if (type == 0x86dd)
        ipv6(t, st, p + off, len - off);
    else
        st->skipped++;
}

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    if (argc != 2) {
        fprintf(stderr, "usage: floor FILE\n");
        return 2;
    }
    pcap_t *pc = pcap_open_offline(argv[1], err);
    if (!pc) {
        fprintf(stderr, "floor: %s\n", err);
        return 1;
    }
    int link = pcap_datalink(pc);
    if (link != DLT_EN10MB && link != DLT_RAW && link != DLT_IPV4 && link != DLT_IPV6) {
        fprintf(stderr, "floor: %s: link type %d not supported\n", argv[1], link);
        return 1;
    }

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    flow_table t = { calloc(1 << 12, sizeof(flow)), (1 << 12) - 1, 0 };
    stats st = { 0 };
    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        st.frames++;
        st.bytes += h->caplen;
        if (link == DLT_EN10MB)
            ethernet(&t, &st, data, h->caplen);
        else
            ip(&t, &st, data, h->caplen);
    }
    if (rc == PCAP_ERROR)
        fprintf(stderr, "floor: %s: %s\n", argv[1], pcap_geterr(pc));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    fprintf(stderr,
            "floor: frames=%" PRIu64 " bytes=%" PRIu64 " ipv4=%" PRIu64 " ipv6=%" PRIu64 " tcp=%" PRIu64
            " flows=%zu payload=%" PRIu64 " skipped=%" PRIu64 " secs=%.3f MB/s=%.0f\n",
            st.frames, st.bytes, st.ipv4, st.ipv6, st.tcp, t.count, st.payload, st.skipped, secs,
            secs > 0 ? (double)st.bytes / 1e6 / secs : 0.0);
    free(t.slots);
    pcap_close(pc);
    return rc == PCAP_ERROR ? 1 : 0;
}
