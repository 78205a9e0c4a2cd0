/* decode.c -- link layer, IP and TCP headers of one captured frame.
 *
 * Knows nothing of SMTP.  Every read goes through the cursor helpers below,
 * which check the bytes are there first, so a frame cut short by the snap
 * length (caplen < len) or a lying header is counted, never read past.
 */
#include "pcapd.h"

#include <pcap/pcap.h>
#include <string.h>

/* A read position inside the captured bytes. */
typedef struct cur {
    const uint8_t *p;
    size_t left;
} cur;

static inline bool cur_has(const cur *c, size_t n) { return c->left >= n; }

static inline void cur_skip(cur *c, size_t n)
{
    c->p += n;
    c->left -= n;
}

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

enum { ETH_IPV4 = 0x0800, ETH_IPV6 = 0x86dd, ETH_VLAN = 0x8100, ETH_QINQ = 0x88a8, ETH_QINQ_OLD = 0x9100 };
enum { IPP_HOPOPT = 0, IPP_TCP = 6, IPP_ROUTING = 43, IPP_FRAGMENT = 44, IPP_AH = 51,
       IPP_NONE = 59, IPP_DSTOPTS = 60 };

/* VLAN tags, extension headers: how many a frame may stack before it is
 * taken as malformed (a loop guard, far above anything real). */
#define MAX_VLAN_TAGS   8
#define MAX_IPV6_EXT    16
/* Raw IP link types: DLT_RAW is 12 on most systems and 14 on OpenBSD;
 * files written elsewhere may carry either, and LINKTYPE_RAW is 101. */
#define DLT_RAW_A 12
#define DLT_RAW_B 14
#define LT_RAW    101
#define LT_IPV4   228
#define LT_IPV6   229
#define LT_SLL    113
#define LT_SLL2   276
#define LT_NULL   0
#define LT_LOOP   108

bool decode_link_supported(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB: case LT_NULL: case LT_LOOP: case DLT_RAW_A: case DLT_RAW_B:
    case LT_RAW: case LT_IPV4: case LT_IPV6: case LT_SLL: case LT_SLL2:
        return true;
    default:
        return false;
    }
}

/* TCP header at `c` (whose length is the IP payload we have); `ip_len` is
 * the length the IP header announced (more than c->left if truncated). */
static decode_result decode_tcp(cur c, decode_stats *st, tcp_segment *seg)
{
    if (!cur_has(&c, 20)) {
        st->truncated++;
        return DECODE_BAD;
    }
    size_t hlen = (size_t)(c.p[12] >> 4) * 4;
    if (hlen < 20) {
        st->malformed++;
        return DECODE_BAD;
    }
    if (!cur_has(&c, hlen)) {
        st->truncated++;
        return DECODE_BAD;
    }
    seg->sport = be16(c.p);
    seg->dport = be16(c.p + 2);
    seg->seq = be32(c.p + 4);
    seg->ack = be32(c.p + 8);
    seg->flags = c.p[13] & (TCPF_FIN | TCPF_SYN | TCPF_RST | TCPF_PSH | TCPF_ACK);
    cur_skip(&c, hlen);
    seg->payload = c.p;
    seg->len = c.left;
    return DECODE_TCP;
}

/* The upper layer `proto` of an IP datagram, possibly a fragment of one. */
static decode_result decode_upper(uint8_t family, uint8_t proto, cur c, bool cut,
                                  bool fragment, uint32_t frag_id, uint32_t frag_off, bool more,
                                  cap_pos pos, frag_table *frags, decode_stats *st,
                                  tcp_segment *seg)
{
    if (fragment) {
        if (!frags)
            return DECODE_FRAGMENT;
        st->frags++;
        if (proto != IPP_TCP) {
            st->not_tcp++;
            return DECODE_SKIP;
        }
        if (cut) {
            /* A fragment cut by the snap length can never complete. */
            st->frags_dropped++;
            st->truncated++;
            return DECODE_SKIP;
        }
        size_t total = 0;
        const uint8_t *whole = frag_add(frags, family, seg->src, seg->dst, frag_id, proto,
                                        frag_off, more, c.p, c.left, pos.ts_ns, &total, st);
        if (!whole)
            return DECODE_SKIP;
        st->frags_reassembled++;
        c.p = whole;
        c.left = total;
        return decode_tcp(c, st, seg);
    }
    if (proto != IPP_TCP) {
        st->not_tcp++;
        return DECODE_SKIP;
    }
    if (cut)
        st->truncated++;
    return decode_tcp(c, st, seg);
}

static decode_result decode_ipv4(cur c, cap_pos pos, frag_table *frags, decode_stats *st,
                                 tcp_segment *seg)
{
    if (!cur_has(&c, 20)) {
        st->truncated++;
        return DECODE_BAD;
    }
    const uint8_t *h = c.p;
    size_t ihl = (size_t)(h[0] & 0x0f) * 4;
    size_t total = be16(h + 2);
    if ((h[0] >> 4) != 4 || ihl < 20 || total < ihl) {
        st->malformed++;
        return DECODE_BAD;
    }
    if (!cur_has(&c, ihl)) {
        st->truncated++;
        return DECODE_BAD;
    }
    seg->family = 4;
    memcpy(seg->src, h + 12, 4);
    memcpy(seg->dst, h + 16, 4);
    memset(seg->src + 4, 0, 12);
    memset(seg->dst + 4, 0, 12);
    /* Ethernet pads short frames: trust the IP length, not the frame's. */
    bool cut = total > c.left;
    if (!cut)
        c.left = total;
    cur_skip(&c, ihl);
    uint16_t frag = be16(h + 6);
    bool more = frag & 0x2000;
    uint32_t off = (uint32_t)(frag & 0x1fff) * 8;
    return decode_upper(4, h[9], c, cut, more || off, be16(h + 4), off, more, pos, frags, st, seg);
}

static decode_result decode_ipv6(cur c, cap_pos pos, frag_table *frags, decode_stats *st,
                                 tcp_segment *seg)
{
    if (!cur_has(&c, 40)) {
        st->truncated++;
        return DECODE_BAD;
    }
    const uint8_t *h = c.p;
    if ((h[0] >> 4) != 6) {
        st->malformed++;
        return DECODE_BAD;
    }
    size_t plen = be16(h + 4);
    uint8_t nh = h[6];
    seg->family = 6;
    memcpy(seg->src, h + 8, 16);
    memcpy(seg->dst, h + 24, 16);
    cur_skip(&c, 40);
    bool cut = false;
    if (plen != 0) {        /* 0: a jumbogram, take what was captured */
        cut = plen > c.left;
        if (!cut)
            c.left = plen;
    }
    bool fragment = false, more = false;
    uint32_t frag_id = 0, frag_off = 0;
    for (int depth = 0;; depth++) {
        size_t elen;
        if (depth >= MAX_IPV6_EXT) {
            st->malformed++;
            return DECODE_BAD;
        }
        switch (nh) {
        case IPP_HOPOPT: case IPP_ROUTING: case IPP_DSTOPTS:
            if (!cur_has(&c, 8))
                goto short_hdr;
            elen = ((size_t)c.p[1] + 1) * 8;
            break;
        case IPP_AH:
            if (!cur_has(&c, 8))
                goto short_hdr;
            elen = ((size_t)c.p[1] + 2) * 4;
            break;
        case IPP_FRAGMENT:
            if (!cur_has(&c, 8))
                goto short_hdr;
            elen = 8;
            fragment = true;
            frag_off = (uint32_t)(be16(c.p + 2) & 0xfff8);
            more = c.p[3] & 1;
            frag_id = be32(c.p + 4);
            /* An atomic fragment (offset 0, no more) is a whole datagram. */
            if (frag_off == 0 && !more)
                fragment = false;
            break;
        default:
            return decode_upper(6, nh, c, cut, fragment, frag_id, frag_off, more, pos, frags,
                                st, seg);
        }
        if (!cur_has(&c, elen))
            goto short_hdr;
        nh = c.p[0];
        cur_skip(&c, elen);
        if (nh == IPP_NONE) {
            st->not_tcp++;
            return DECODE_SKIP;
        }
        if (fragment && frag_off != 0) {
            /* Later fragments carry no further headers; the first one says
             * which protocol follows, so hold them all under the fragment
             * header's next-header value. */
            return decode_upper(6, nh, c, cut, true, frag_id, frag_off, more, pos, frags, st, seg);
        }
    }
short_hdr:
    if (cut)
        st->truncated++;
    else
        st->malformed++;
    return DECODE_BAD;
}

/* IP by version nibble, for raw IP links. */
static decode_result decode_ip_any(cur c, cap_pos pos, frag_table *frags, decode_stats *st,
                                   tcp_segment *seg)
{
    if (!cur_has(&c, 1)) {
        st->truncated++;
        return DECODE_BAD;
    }
    switch (c.p[0] >> 4) {
    case 4: return decode_ipv4(c, pos, frags, st, seg);
    case 6: return decode_ipv6(c, pos, frags, st, seg);
    default:
        st->not_ip++;
        return DECODE_SKIP;
    }
}

static decode_result decode_ethertype(uint16_t type, cur c, cap_pos pos, frag_table *frags,
                                      decode_stats *st, tcp_segment *seg)
{
    switch (type) {
    case ETH_IPV4: return decode_ipv4(c, pos, frags, st, seg);
    case ETH_IPV6: return decode_ipv6(c, pos, frags, st, seg);
    default:
        st->not_ip++;
        return DECODE_SKIP;
    }
}

/* BSD loopback address families for IPv6 differ per system. */
static decode_result decode_null_family(uint32_t fam, cur c, cap_pos pos, frag_table *frags,
                                        decode_stats *st, tcp_segment *seg)
{
    switch (fam) {
    case 2:
        return decode_ipv4(c, pos, frags, st, seg);
    case 10: case 24: case 28: case 30:
        return decode_ipv6(c, pos, frags, st, seg);
    default:
        st->not_ip++;
        return DECODE_SKIP;
    }
}

decode_result decode_frame(int dlt, const uint8_t *data, uint32_t caplen, cap_pos pos,
                           frag_table *frags, decode_stats *st, tcp_segment *seg)
{
    cur c = { data, caplen };
    seg->pos = pos;
    switch (dlt) {
    case DLT_EN10MB: {
        if (!cur_has(&c, 14)) {
            st->truncated++;
            return DECODE_BAD;
        }
        uint16_t type = be16(c.p + 12);
        cur_skip(&c, 14);
        for (int tags = 0; type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD; tags++) {
            if (tags == MAX_VLAN_TAGS) {
                st->malformed++;
                return DECODE_BAD;
            }
            if (!cur_has(&c, 4)) {
                st->truncated++;
                return DECODE_BAD;
            }
            type = be16(c.p + 2);
            cur_skip(&c, 4);
        }
        return decode_ethertype(type, c, pos, frags, st, seg);
    }
    case LT_SLL: {
        if (!cur_has(&c, 16)) {
            st->truncated++;
            return DECODE_BAD;
        }
        uint16_t type = be16(c.p + 14);
        cur_skip(&c, 16);
        return decode_ethertype(type, c, pos, frags, st, seg);
    }
    case LT_SLL2: {
        if (!cur_has(&c, 20)) {
            st->truncated++;
            return DECODE_BAD;
        }
        uint16_t type = be16(c.p);
        cur_skip(&c, 20);
        return decode_ethertype(type, c, pos, frags, st, seg);
    }
    case LT_NULL: {
        if (!cur_has(&c, 4)) {
            st->truncated++;
            return DECODE_BAD;
        }
        /* Host byte order of the machine that captured: a family number
         * is small, so the order that gives a small value is the right one. */
        uint32_t fam = le32(c.p);
        if (fam > 0xffff)
            fam = be32(c.p);
        cur_skip(&c, 4);
        return decode_null_family(fam, c, pos, frags, st, seg);
    }
    case LT_LOOP: {
        if (!cur_has(&c, 4)) {
            st->truncated++;
            return DECODE_BAD;
        }
        uint32_t fam = be32(c.p);
        cur_skip(&c, 4);
        return decode_null_family(fam, c, pos, frags, st, seg);
    }
    case DLT_RAW_A: case DLT_RAW_B: case LT_RAW:
        return decode_ip_any(c, pos, frags, st, seg);
    case LT_IPV4:
        return decode_ipv4(c, pos, frags, st, seg);
    case LT_IPV6:
        return decode_ipv6(c, pos, frags, st, seg);
    default:
        st->not_ip++;
        return DECODE_SKIP;
    }
}
