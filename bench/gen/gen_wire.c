/* gen_wire.c -- scripts played as TCP connections into a pcap file.
 *
 * Each flow does the three-way handshake, sends every step of its script in
 * MSS-sized segments (PSH on the last of a step), has the receiver ACK every
 * second segment and the end of each step, and closes with FIN from both
 * sides.  A few data segments are sent again (retransmission) or swapped with
 * the next one (reordering).  Frames are Ethernet, 802.1Q-tagged for some
 * client networks, IPv4 or IPv6, with valid IP and TCP checksums.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define MSS           1448
#define N_CLIENTS     2000
#define N_SERVERS     40
#define PORT_FIRST    32768
#define PORT_LAST     60999
#define P_IPV6        150    /* per mille of flows */
#define P_VLAN        200
#define P_REORDER     3      /* per mille of data segments */
#define P_RETRANSMIT  3

enum { TH_FIN = 0x01, TH_SYN = 0x02, TH_PSH = 0x08, TH_ACK = 0x10 };

typedef enum phase { PH_SYN, PH_SYNACK, PH_ACK, PH_DATA, PH_FIN, PH_FIN_REPLY, PH_LAST_ACK, PH_DONE } phase;

struct gen_flow {
    gen_script script;
    bool       v6;
    uint16_t   vlan;                 /* 0: untagged */
    uint8_t    ip[2][16];            /* [GEN_CLIENT], [GEN_SERVER] */
    uint16_t   port[2];
    uint8_t    client_mac[6];
    uint16_t   ip_id[2];
    uint32_t   isn[2];
    uint32_t   sent[2];              /* stream bytes of finished steps */
    phase      phase;
    int        closer;               /* side that sends the first FIN */
    size_t     step, off;            /* progress through the script */
    unsigned   unacked;              /* segments since the last ACK */
    /* A segment to send again on the flow's next turn. */
    bool       retx;
    int        retx_dir;
    uint32_t   retx_seq;
    size_t     retx_off, retx_len;
};

static const uint8_t gateway_mac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01 };
static const uint16_t vlan_ids[] = { 10, 20, 30 };

bool gen_writer_open(gen_writer *w, const char *path)
{
    memset(w, 0, sizeof *w);
    w->f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
    if (!w->f)
        return false;
    setvbuf(w->f, NULL, _IOFBF, 4 << 20);
    w->now_us = 1772438400LL * 1000000;   /* 2026-03-02 08:00:00 UTC */
    for (size_t i = 0; i < N_CLIENTS; i++)
        w->next_port[i] = PORT_FIRST;
    /* Classic pcap header in host byte order: microseconds, Ethernet. */
    struct { uint32_t magic; uint16_t major, minor; int32_t zone; uint32_t sigfigs, snaplen, linktype; } h =
        { 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1 };
    fwrite(&h, sizeof h, 1, w->f);
    w->bytes = sizeof h;
    return !ferror(w->f);
}

bool gen_writer_close(gen_writer *w)
{
    bool ok = fflush(w->f) == 0 && !ferror(w->f);
    if (w->f != stdout)
        ok = fclose(w->f) == 0 && ok;
    return ok;
}

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

/* Internet checksum (RFC 1071) over bytes in network order, summed as host
 * words: the folded sum, stored back as a host word, is correct on either
 * byte order.  `n` is even except for the last call. */
static uint64_t csum_add(uint64_t sum, const uint8_t *p, size_t n)
{
    for (; n >= 4; p += 4, n -= 4) {
        uint32_t v;
        memcpy(&v, p, 4);
        sum += v;
    }
    if (n >= 2) {
        uint16_t v;
        memcpy(&v, p, 2);
        sum += v;
        p += 2;
        n -= 2;
    }
    if (n) {
        uint8_t last[2] = { p[0], 0 };
        uint16_t v;
        memcpy(&v, last, 2);
        sum += v;
    }
    return sum;
}

static void csum_store(uint8_t *at, uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    uint16_t v = (uint16_t)~sum;
    memcpy(at, &v, 2);
}

/* Write one frame from `dir` with the given TCP fields and payload. */
static void frame(gen_flow *f, gen_writer *w, gen_rng *r, int dir, uint8_t flags,
                  uint32_t seq, uint32_t ack, const uint8_t *payload, size_t len)
{
    static const uint8_t syn_options[12] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1 };
    uint8_t hdr[16 + 14 + 4 + 40 + 32];
    uint8_t *p = hdr + 16;
    int peer = !dir;
    size_t opt = (flags & TH_SYN) ? sizeof syn_options : 0;
    size_t tcp_len = 20 + opt + len;

    memcpy(p, dir == GEN_CLIENT ? gateway_mac : f->client_mac, 6);
    memcpy(p + 6, dir == GEN_CLIENT ? f->client_mac : gateway_mac, 6);
    p += 12;
    if (f->vlan) {
        put16(p, 0x8100);
        put16(p + 2, f->vlan);
        p += 4;
    }
    put16(p, f->v6 ? 0x86dd : 0x0800);
    p += 2;

    uint8_t pseudo[40];
    size_t pseudo_len;
    if (f->v6) {
        put32(p, 0x60000000);
        put16(p + 4, (uint16_t)tcp_len);
        p[6] = 6;
        p[7] = dir == GEN_CLIENT ? 64 : 52;
        memcpy(p + 8, f->ip[dir], 16);
        memcpy(p + 24, f->ip[peer], 16);
        memcpy(pseudo, p + 8, 32);
        put32(pseudo + 32, (uint32_t)tcp_len);
        put32(pseudo + 36, 6);
        pseudo_len = 40;
        p += 40;
    } else {
        p[0] = 0x45;
        p[1] = 0;
        put16(p + 2, (uint16_t)(20 + tcp_len));
        put16(p + 4, f->ip_id[dir]++);
        put16(p + 6, 0x4000);
        p[8] = dir == GEN_CLIENT ? 64 : 52;
        p[9] = 6;
        memset(p + 10, 0, 2);
        memcpy(p + 12, f->ip[dir], 4);
        memcpy(p + 16, f->ip[peer], 4);
        csum_store(p + 10, csum_add(0, p, 20));
        memcpy(pseudo, p + 12, 8);
        pseudo[8] = 0;
        pseudo[9] = 6;
        put16(pseudo + 10, (uint16_t)tcp_len);
        pseudo_len = 12;
        p += 20;
    }

    uint8_t *tcp = p;
    put16(tcp, f->port[dir]);
    put16(tcp + 2, f->port[peer]);
    put32(tcp + 4, seq);
    put32(tcp + 8, (flags & TH_ACK) ? ack : 0);
    tcp[12] = (uint8_t)(((20 + opt) / 4) << 4);
    tcp[13] = flags;
    put16(tcp + 14, dir == GEN_CLIENT ? 64240 : 65160);
    memset(tcp + 16, 0, 4);
    memcpy(tcp + 20, syn_options, opt);
    p += 20 + opt;
    uint64_t sum = csum_add(0, pseudo, pseudo_len);
    sum = csum_add(sum, tcp, 20 + opt);
    csum_store(tcp + 16, csum_add(sum, payload, len));

    size_t frame_len = (size_t)(p - (hdr + 16)) + len;
    w->now_us += gen_range(r, 1, 25);
    uint32_t rec[4] = { (uint32_t)(w->now_us / 1000000), (uint32_t)(w->now_us % 1000000),
                        (uint32_t)frame_len, (uint32_t)frame_len };
    memcpy(hdr, rec, 16);
    fwrite(hdr, 1, (size_t)(p - hdr), w->f);
    if (len)
        fwrite(payload, 1, len, w->f);
    w->bytes += 16 + frame_len;
    w->frames++;
}

static void address(gen_flow *f, uint32_t client, uint32_t server, bool smtp)
{
    if (f->v6) {
        static const uint8_t net_client[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x20 };
        static const uint8_t net_smtp[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x25 };
        static const uint8_t net_web[6] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x80 };
        memset(f->ip, 0, sizeof f->ip);
        memcpy(f->ip[GEN_CLIENT], net_client, 6);
        f->ip[GEN_CLIENT][7] = (uint8_t)(client / 250);
        f->ip[GEN_CLIENT][15] = (uint8_t)(client % 250 + 1);
        memcpy(f->ip[GEN_SERVER], smtp ? net_smtp : net_web, 6);
        f->ip[GEN_SERVER][15] = (uint8_t)(server + 1);
    } else {
        const uint8_t c[4] = { 10, 20, (uint8_t)(client / 250), (uint8_t)(client % 250 + 1) };
        const uint8_t s[4] = { smtp ? 192 : 203, 0, smtp ? 2 : 113, (uint8_t)(server + 1) };
        memcpy(f->ip[GEN_CLIENT], c, 4);
        memcpy(f->ip[GEN_SERVER], s, 4);
    }
}

gen_flow *gen_flow_new(gen_writer *w, gen_rng *r, const gen_script *script)
{
    gen_flow *f = g_new0(gen_flow, 1);
    uint32_t client = gen_below(r, N_CLIENTS);
    f->script = *script;
    f->v6 = gen_chance(r, P_IPV6);
    /* Tagging follows the client's network, as on a trunk port. */
    f->vlan = client % 1000 < P_VLAN ? vlan_ids[client % G_N_ELEMENTS(vlan_ids)] : 0;
    address(f, client, gen_below(r, N_SERVERS), script->smtp);
    f->port[GEN_CLIENT] = w->next_port[client];
    w->next_port[client] = w->next_port[client] == PORT_LAST ? PORT_FIRST : w->next_port[client] + 1;
    f->port[GEN_SERVER] = script->server_port;
    const uint8_t mac[6] = { 0x02, 0x00, 0x0a, 0x14, (uint8_t)(client >> 8), (uint8_t)client };
    memcpy(f->client_mac, mac, 6);
    f->ip_id[GEN_CLIENT] = (uint16_t)gen_next(r);
    f->ip_id[GEN_SERVER] = (uint16_t)gen_next(r);
    f->isn[GEN_CLIENT] = (uint32_t)gen_next(r);
    f->isn[GEN_SERVER] = (uint32_t)gen_next(r);
    /* SMTP servers close after 221; web clients close their connections. */
    f->closer = script->smtp ? GEN_SERVER : GEN_CLIENT;
    f->phase = PH_SYN;
    return f;
}

void gen_flow_free(gen_flow *f)
{
    if (!f)
        return;
    gen_script_free(&f->script);
    g_free(f);
}

/* Sequence number of the next byte `dir` sends after its finished steps. */
static uint32_t next_seq(const gen_flow *f, int dir)
{
    return f->isn[dir] + 1 + f->sent[dir];
}

static void segment(gen_flow *f, gen_writer *w, gen_rng *r, const gen_step *st, size_t off, size_t len)
{
    uint8_t flags = TH_ACK | (off + len == st->len ? TH_PSH : 0);
    uint32_t seq = next_seq(f, st->dir) + (uint32_t)off;
    frame(f, w, r, st->dir, flags, seq, next_seq(f, !st->dir), f->script.bytes->data + st->off + off, len);
    if (!f->retx && gen_chance(r, P_RETRANSMIT)) {
        f->retx = true;
        f->retx_dir = st->dir;
        f->retx_seq = seq;
        f->retx_off = st->off + off;
        f->retx_len = len;
    }
}

static void resend(gen_flow *f, gen_writer *w, gen_rng *r)
{
    f->retx = false;
    frame(f, w, r, f->retx_dir, TH_ACK, f->retx_seq, next_seq(f, !f->retx_dir),
          f->script.bytes->data + f->retx_off, f->retx_len);
}

static void data(gen_flow *f, gen_writer *w, gen_rng *r)
{
    const gen_step *st = &g_array_index(f->script.steps, gen_step, f->step);
    int d = st->dir;
    size_t left = st->len - f->off;
    size_t n = MIN(left, (size_t)MSS);
    if (left > MSS && gen_chance(r, P_REORDER)) {
        size_t n2 = MIN(left - MSS, (size_t)MSS);
        segment(f, w, r, st, f->off + MSS, n2);
        segment(f, w, r, st, f->off, MSS);
        n = MSS + n2;
        f->unacked++;
    } else {
        segment(f, w, r, st, f->off, n);
    }
    f->off += n;
    f->unacked++;
    if (f->unacked >= 2 || f->off == st->len) {
        frame(f, w, r, !d, TH_ACK, next_seq(f, !d), next_seq(f, d) + (uint32_t)f->off, NULL, 0);
        f->unacked = 0;
    }
    if (f->off == st->len) {
        f->sent[d] += (uint32_t)st->len;
        f->off = 0;
        f->step++;
        if (f->step == f->script.steps->len)
            f->phase = PH_FIN;
    }
}

bool gen_flow_emit(gen_flow *f, gen_writer *w, gen_rng *r)
{
    int c = f->closer, o = !f->closer;
    if (f->retx && (f->phase == PH_DATA || f->phase == PH_FIN)) {
        resend(f, w, r);
        return true;
    }
    switch (f->phase) {
    case PH_SYN:
        frame(f, w, r, GEN_CLIENT, TH_SYN, f->isn[GEN_CLIENT], 0, NULL, 0);
        f->phase = PH_SYNACK;
        break;
    case PH_SYNACK:
        frame(f, w, r, GEN_SERVER, TH_SYN | TH_ACK, f->isn[GEN_SERVER], f->isn[GEN_CLIENT] + 1, NULL, 0);
        f->phase = PH_ACK;
        break;
    case PH_ACK:
        frame(f, w, r, GEN_CLIENT, TH_ACK, next_seq(f, GEN_CLIENT), next_seq(f, GEN_SERVER), NULL, 0);
        f->phase = f->script.steps->len ? PH_DATA : PH_FIN;
        break;
    case PH_DATA:
        data(f, w, r);
        break;
    case PH_FIN:
        frame(f, w, r, c, TH_FIN | TH_ACK, next_seq(f, c), next_seq(f, o), NULL, 0);
        f->phase = PH_FIN_REPLY;
        break;
    case PH_FIN_REPLY:
        frame(f, w, r, o, TH_FIN | TH_ACK, next_seq(f, o), next_seq(f, c) + 1, NULL, 0);
        f->phase = PH_LAST_ACK;
        break;
    case PH_LAST_ACK:
        frame(f, w, r, c, TH_ACK, next_seq(f, c) + 1, next_seq(f, o) + 1, NULL, 0);
        f->phase = PH_DONE;
        break;
    case PH_DONE:
        break;
    }
    return f->phase != PH_DONE;
}
