/* tcp_tracker.c -- TCP conversations fed into SMTP engines (see
 * tcp_tracker.h).
 *
 * Two kinds of entry, each with its own list (newest at the head) and its
 * own flow_table index:
 *   active  live flows (SMTP, not decided yet, or found not to be SMTP);
 *           idle expiry and eviction pop from the tail;
 *   tombs   what is left of a flow whose conversation ended (FIN both ways,
 *           RST): only its endpoints and the time, 56 bytes.  The engine
 *           and the reassembly state are freed at the close; the tombstone
 *           stays for FLOW_CLOSED_LINGER_NS so late retransmissions and ACKs
 *           find it and are dropped instead of starting a conversation
 *           midstream, and a new SYN on the same ports replaces it with a
 *           fresh flow.  Tombstones are made in time order, so they live in
 *           one ring array (oldest first, no allocation per close) of at
 *           most FLOW_TOMBSTONES_MAX, the oldest going first when it is full.
 * So memory follows the flows alive at once, plus 56 bytes (and an index
 * slot) per flow closed within the linger period.  The index every packet
 * probes holds only live flows, so it stays small and in cache; the
 * tombstones' is probed only for packets of no live flow.  The active list is a GQueue of GList links embedded in the flows, and a flow
 * is moved to its head at most once per FLOW_TOUCH_NS of capture time, so
 * most packets touch nothing but their own flow.  Expiry runs only once
 * the capture clock passes the earliest time a list tail can be due
 * (t->expire_at).
 *
 * A conversation (an engine and an id) starts with the first payload byte
 * of an SMTP flow, not with the SYN: a flood of SYNs makes table churn but
 * no conversations.
 *
 * Transport anomalies (overlap_conflict, reassembly_overflow) are events the
 * engine cannot see, so the tracker makes them itself and hands them to the
 * sink like the engine's own (they are not counted in the END event's
 * n_anomalies).  A conversation pushed out by the live cap ends with
 * SMTP_END_EVICTED; the END event's reason is how front ends learn of it
 * (no conversation_evicted anomaly is emitted).
 */
#include "tcp_tracker.h"

#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "flow_table.h"
#include "reasm.h"
#include "smtp_limits.h"

/* Bytes of each side the heuristic judges: "220 "/"220-" or EHLO/HELO. */
#define HEUR_PREFIX 4

typedef enum flow_kind {
    FLOW_UNDECIDED,   /* port not listed: heuristic still looking */
    FLOW_SMTP,
    FLOW_NOT_SMTP,    /* ignored until it ends */
    FLOW_CLOSED,      /* a tombstone: ended, late packets dropped */
    FLOW_DEAD         /* a tombstone replaced by a new connection */
} flow_kind;

/* The part of an entry the table finds.  Live flows and tombstones both
 * start with it, so a lookup tells them apart by `kind`. */
typedef struct flow_hdr {
    flow_key key;             /* first: the table points at it */
    uint32_t hash;
    uint8_t  kind;            /* flow_kind */
} flow_hdr;

/* What is left of a closed flow for FLOW_CLOSED_LINGER_NS. */
typedef struct flow_tomb {
    flow_hdr hd;              /* kind FLOW_CLOSED, or FLOW_DEAD */
    int64_t  closed_ns;
} flow_tomb;

/* Tombstones oldest first: v[(first + i) % cap] for i < len. */
typedef struct tomb_ring {
    flow_tomb *v;
    size_t     cap, first, len;
} tomb_ring;

typedef struct tcp_flow tcp_flow;

typedef struct flow_side {
    reasm_stream rs;
    tcp_flow *flow;
    uint32_t  isn;
    uint32_t  acked;      /* highest ack the peer sent for this side */
    bool      ack_pending;/* acked not yet handed to reasm_ack */
    bool      seen;       /* a packet came from this side */
    bool      data;       /* it carried payload */
    bool      syn;        /* its SYN (or SYN+ACK) was seen; isn is valid */
    bool      fin;        /* its FIN was seen (not necessarily reached) */
} flow_side;

/* Bytes held by the heuristic, both sides in arrival order, with the frame
 * each run came in, so that the engine later gets exactly what it would
 * have got had it been fed from the start. */
typedef struct heur_chunk {
    uint8_t  side;
    uint32_t len;
    cap_pos  pos;
} heur_chunk;

typedef struct heur_state {
    GByteArray *bytes;
    GArray     *chunks;       /* heur_chunk */
    uint8_t     prefix[2][HEUR_PREFIX];
    uint32_t    held[2];
} heur_state;

/* What every packet reads or writes comes first, next to the key. */
struct tcp_flow {
    flow_hdr     hd;          /* first: the table points at its key */
    bool         syn_seen;    /* SYN or SYN+ACK: the start was captured */
    bool         rst;
    int64_t      list_ns;     /* tracker clock when last put at the list's head */
    int64_t      touched;     /* tracker clock at its latest packet */
    cap_pos      last;        /* latest packet of the flow */
    GList        link;        /* in t->active */
    tcp_tracker *t;
    int          server;      /* key index of the server side, -1 unknown */
    cap_pos      first;       /* first packet of the flow (or of its reuse) */
    flow_side    side[2];
    smtp_engine *eng;         /* NULL until the first payload byte */
    heur_state  *heur;
    tcp_conv_info info;
};

struct tcp_tracker {
    tcp_tracker_sink sink;
    void        *user;
    tcp_tracker_options opts;
    uint8_t      port_map[65536 / 8];
    flow_table   table;       /* live flows */
    flow_table   tomb_table;  /* tombstones, apart so that the live index
                               * stays small enough to stay in cache */
    GQueue       active;
    tomb_ring    tombs;
    int64_t      clock;       /* the latest capture time seen (see expire()) */
    GPtrArray   *ending;      /* tcp_tracker_finish_*: flows in end order, */
    guint        ending_at;   /* the next to end, */
    cap_pos      ending_pos;  /* and where */
    int64_t      expire_at;   /* nothing is due before this clock */
    uint64_t     next_id;
    tcp_tracker_stats stats;
};

static const uint16_t default_ports[] = { 25, 587, 2525 };

static bool port_listed(const tcp_tracker *t, uint16_t port)
{
    return t->port_map[port >> 3] & (1u << (port & 7));
}

static smtp_dir side_dir(const tcp_flow *f, unsigned idx)
{
    return (int)idx == f->server ? SMTP_DIR_SERVER : SMTP_DIR_CLIENT;
}

static unsigned side_index(const flow_side *s)
{
    return s == &s->flow->side[0] ? 0 : 1;
}

/* ---- events ------------------------------------------------------------ */

/* info.last is brought up to date only when somebody looks at it, which
 * keeps the per-packet work on the flow's first cache lines. */
static void engine_event(void *user, const smtp_event *ev)
{
    tcp_flow *f = user;
    f->info.last = f->last;
    f->t->sink.on_event(f->t->user, &f->info, ev);
}

static void engine_body(void *user, const smtp_body_span *body)
{
    tcp_flow *f = user;
    f->info.last = f->last;
    f->t->sink.on_body(f->t->user, &f->info, body);
}

/* An anomaly only the transport layer can see, in the engine's format. */
static void transport_anomaly(tcp_flow *f, unsigned idx, smtp_anomaly kind, cap_pos pos)
{
    char msg[160];
    const char *who = side_dir(f, idx) == SMTP_DIR_SERVER ? "server" : "client";
    smtp_event ev;

    if (kind == SMTP_AN_overlap_conflict)
        snprintf(msg, sizeof msg,
                 "A %s segment in frame %u repeated stream bytes with different contents; "
                 "the first copy was kept", who, pos.frame);
    else
        snprintf(msg, sizeof msg,
                 "More than %u segments or %u bytes of %s data were waiting for a lost segment; "
                 "the hole was declared a gap at frame %u",
                 (unsigned)REASM_MAX_SEGMENTS, (unsigned)REASM_MAX_BUFFERED, who, pos.frame);
    memset(&ev, 0, sizeof ev);
    ev.type = SMTP_EV_ANOMALY;
    ev.from = side_dir(f, idx);
    ev.pos = pos;
    ev.u.anomaly.kind = kind;
    ev.u.anomaly.cmd = SMTP_CMD_NONE;
    ev.u.anomaly.message = msg;
    engine_event(f, &ev);
}

/* ---- conversations ----------------------------------------------------- */

static void conv_start(tcp_flow *f)
{
    tcp_tracker *t = f->t;
    unsigned s = (unsigned)f->server, c = 1 - s;
    tcp_conv_info *ci = &f->info;
    smtp_sink sink = { engine_event, t->sink.on_body ? engine_body : NULL };
    smtp_options o = t->opts.smtp;

    ci->id = ++t->next_id;
    ci->family = f->hd.key.family;
    memcpy(ci->client, f->hd.key.addr[c], sizeof ci->client);
    memcpy(ci->server, f->hd.key.addr[s], sizeof ci->server);
    ci->client_port = f->hd.key.port[c];
    ci->server_port = f->hd.key.port[s];
    ci->first = f->first;
    ci->midstream = !f->syn_seen;
    ci->one_sided = !(f->side[0].data && f->side[1].data);
    o.midstream = ci->midstream;
    f->eng = smtp_engine_new(&sink, f, &o);
    t->stats.conversations++;
    if (t->sink.on_start)
        t->sink.on_start(t->user, ci);
}

/* The server of a listed-port flow whose handshake was not seen: the side
 * on a listed port; if both are, the side that greets with "220"; else the
 * receiver of the first payload. */
static void guess_server(tcp_flow *f, unsigned sender, const uint8_t *data, size_t len)
{
    bool l0 = port_listed(f->t, f->hd.key.port[0]), l1 = port_listed(f->t, f->hd.key.port[1]);

    if (l0 != l1)
        f->server = l0 ? 0 : 1;
    else if (len >= 3 && memcmp(data, "220", 3) == 0)
        f->server = (int)sender;
    else
        f->server = (int)(1 - sender);
}

/* ---- heuristic (ports not listed) -------------------------------------- */

static bool is_greeting(const uint8_t *p)
{
    return memcmp(p, "220", 3) == 0 && (p[3] == ' ' || p[3] == '-');
}

static bool is_hello(const uint8_t *p)
{
    return g_ascii_strncasecmp((const char *)p, "EHLO", 4) == 0 ||
           g_ascii_strncasecmp((const char *)p, "HELO", 4) == 0;
}

static void heur_drop(tcp_flow *f)
{
    if (!f->heur)
        return;
    g_byte_array_unref(f->heur->bytes);
    g_array_unref(f->heur->chunks);
    g_free(f->heur);
    f->heur = NULL;
}

/* Judge the held prefixes: 1 SMTP (f->server set), 0 not yet, -1 not SMTP. */
static int heur_verdict(tcp_flow *f)
{
    const heur_state *h = f->heur;
    int greet = -1, hello = -1;

    for (unsigned i = 0; i < 2; i++) {
        if (h->held[i] < HEUR_PREFIX)
            continue;
        if (is_greeting(h->prefix[i]))
            greet = greet < 0 ? (int)i : -2;
        else if (is_hello(h->prefix[i]))
            hello = hello < 0 ? (int)i : -2;
        else
            return -1;
    }
    if (greet == -2 || hello == -2)
        return -1;
    /* A captured handshake fixes the roles; the prefixes must fit them. */
    if (f->server >= 0 && ((greet >= 0 && greet != f->server) ||
                           (hello >= 0 && hello == f->server)))
        return -1;
    if (greet < 0 || hello < 0)
        return h->held[0] >= HEUR_HOLD_MAX || h->held[1] >= HEUR_HOLD_MAX ? -1 : 0;
    f->server = greet;
    return 1;
}

/* Replay what the heuristic held into a new engine. */
static void heur_accept(tcp_flow *f)
{
    heur_state *h = f->heur;
    const uint8_t *p = h->bytes->data;

    f->hd.kind = FLOW_SMTP;
    conv_start(f);
    for (guint i = 0; i < h->chunks->len; i++) {
        const heur_chunk *c = &g_array_index(h->chunks, heur_chunk, i);
        smtp_feed(f->eng, side_dir(f, c->side), p, c->len, c->pos);
        p += c->len;
    }
    heur_drop(f);
}

static void heur_data(tcp_flow *f, unsigned idx, const uint8_t *data, size_t len, cap_pos pos)
{
    heur_state *h = f->heur;
    if (!h) {
        h = f->heur = g_new0(heur_state, 1);
        h->bytes = g_byte_array_new();
        h->chunks = g_array_new(FALSE, FALSE, sizeof(heur_chunk));
    }
    if (len > HEUR_HOLD_MAX - h->held[idx]) {
        f->hd.kind = FLOW_NOT_SMTP;    /* more than a greeting or a hello */
        return;
    }
    for (size_t i = 0; h->held[idx] + i < HEUR_PREFIX && i < len; i++)
        h->prefix[idx][h->held[idx] + i] = data[i];
    h->held[idx] += (uint32_t)len;
    g_byte_array_append(h->bytes, data, (guint)len);
    heur_chunk c = { (uint8_t)idx, (uint32_t)len, pos };
    g_array_append_val(h->chunks, c);

    int v = heur_verdict(f);
    if (v > 0)
        heur_accept(f);
    else if (v < 0)
        f->hd.kind = FLOW_NOT_SMTP;
}

/* ---- reassembly sink --------------------------------------------------- */

static void rs_data(void *user, const uint8_t *data, size_t len, cap_pos pos)
{
    flow_side *sd = user;
    tcp_flow *f = sd->flow;
    unsigned idx = side_index(sd);

    if (f->hd.kind == FLOW_UNDECIDED) {
        heur_data(f, idx, data, len, pos);
        return;
    }
    if (f->hd.kind != FLOW_SMTP)
        return;
    if (!f->eng) {
        if (f->server < 0)
            guess_server(f, idx, data, len);
        conv_start(f);
    }
    smtp_feed(f->eng, side_dir(f, idx), data, len, pos);
}

static void rs_gap(void *user, uint64_t len, cap_pos pos)
{
    flow_side *sd = user;
    tcp_flow *f = sd->flow;

    if (f->hd.kind == FLOW_UNDECIDED) {
        f->hd.kind = FLOW_NOT_SMTP;    /* the bytes to judge are lost */
        return;
    }
    if (f->hd.kind != FLOW_SMTP)
        return;
    if (!f->eng) {
        if (f->server < 0)
            guess_server(f, side_index(sd), NULL, 0);
        conv_start(f);
    }
    smtp_gap(f->eng, side_dir(f, side_index(sd)), len, pos);
}

static void rs_conflict(void *user, cap_pos pos)
{
    flow_side *sd = user;
    if (sd->flow->eng)
        transport_anomaly(sd->flow, side_index(sd), SMTP_AN_overlap_conflict, pos);
}

static void rs_overflow(void *user, cap_pos pos)
{
    flow_side *sd = user;
    if (sd->flow->eng)
        transport_anomaly(sd->flow, side_index(sd), SMTP_AN_reassembly_overflow, pos);
}

static const reasm_sink flow_reasm_sink = { rs_data, rs_gap, rs_conflict, rs_overflow };

/* ---- acknowledgements -------------------------------------------------
 *
 * An ack beyond the data captured means bytes were lost in the capture
 * (reasm_ack reports them as a gap).  But captures taken on busy hosts
 * often show an ack a little before the data it covers; declaring the gap
 * at once would drop that data as a retransmission when it shows up.  So
 * the ack is held and handed on only when the gap can no longer be a
 * matter of capture order: when the acking side sends payload (its reply
 * must follow the lost bytes), when the acked side sends beyond the acked
 * point, when the ack covers the acked side's FIN, or when the flow ends.
 */

static bool seq_before(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static void ack_apply(flow_side *sd, cap_pos pos)
{
    if (!sd->ack_pending)
        return;
    sd->ack_pending = false;
    reasm_ack(&sd->rs, sd->acked, pos);
}

static void ack_note(flow_side *sd, uint32_t ack, cap_pos pos)
{
    if (!sd->rs.have_seq)
        return;     /* nothing of that side seen yet: nothing to lose */
    if (!sd->ack_pending || seq_before(sd->acked, ack)) {
        sd->acked = ack;
        sd->ack_pending = true;
    }
    if (sd->rs.fin_pending && !seq_before(ack, sd->rs.fin_seq + 1))
        ack_apply(sd, pos);
}

/* ---- flows ------------------------------------------------------------- */

/* Fresh per-connection state; the key, hash, list link and first frame
 * are the caller's business. */
static void flow_reset(tcp_flow *f, flow_kind kind)
{
    f->hd.kind = kind;
    f->server = -1;
    f->syn_seen = false;
    f->rst = false;
    memset(&f->info, 0, sizeof f->info);
    for (unsigned i = 0; i < 2; i++) {
        memset(&f->side[i], 0, sizeof f->side[i]);
        f->side[i].flow = f;
        reasm_init(&f->side[i].rs, &flow_reasm_sink, &f->side[i]);
    }
}

/* Free what a connection holds (engine, held bytes) without events. */
static void flow_release(tcp_flow *f)
{
    smtp_engine_free(f->eng);
    f->eng = NULL;
    heur_drop(f);
    reasm_free(&f->side[0].rs);
    reasm_free(&f->side[1].rs);
}

static smtp_end_reason close_reason(const tcp_flow *f, smtp_end_reason otherwise)
{
    if (f->rst)
        return SMTP_END_RST;
    if (f->side[0].fin && f->side[1].fin)
        return SMTP_END_FIN;
    return otherwise;
}

/* End the conversation of `f`: release held data (holes become gaps), then
 * let the engine finish.  The flow keeps its table entry. */
static void flow_end(tcp_flow *f, smtp_end_reason reason, cap_pos pos)
{
    flow_kind was = f->hd.kind;
    if (was == FLOW_SMTP || was == FLOW_UNDECIDED) {
        ack_apply(&f->side[0], pos);
        ack_apply(&f->side[1], pos);
        reasm_flush(&f->side[0].rs, pos);
        reasm_flush(&f->side[1].rs, pos);
    }
    /* never showed both an SMTP greeting and a hello */
    if (was == FLOW_UNDECIDED && f->hd.kind != FLOW_SMTP)
        f->t->stats.non_smtp++;
    if (f->eng)
        smtp_end(f->eng, reason, pos);
    flow_release(f);
    f->hd.kind = FLOW_CLOSED;
}

/* The capture clock need not look at the lists again before `due`. */
static void expire_by(tcp_tracker *t, int64_t due)
{
    if (due < t->expire_at)
        t->expire_at = due;
}

/* Take `f` out of the table and the active list and free it; it must
 * already be ended. */
static void flow_destroy(tcp_tracker *t, tcp_flow *f)
{
    g_queue_unlink(&t->active, &f->link);
    flow_table_remove(&t->table, &f->hd.key, f->hd.hash);
    flow_release(f);
    g_free(f);
    t->stats.live--;
}

/* ---- tombstones -------------------------------------------------------- */

static flow_tomb *tomb_oldest(const tcp_tracker *t)
{
    return t->tombs.len ? &t->tombs.v[t->tombs.first] : NULL;
}

/* Forget a tombstone before its time (a new connection on its ports); its
 * ring entry stays until it is the oldest. */
static void tomb_kill(tcp_tracker *t, flow_tomb *tb)
{
    flow_table_remove(&t->tomb_table, &tb->hd.key, tb->hd.hash);
    tb->hd.kind = FLOW_DEAD;
}

static void tomb_pop(tcp_tracker *t)
{
    tomb_ring *r = &t->tombs;
    flow_tomb *tb = &r->v[r->first];
    if (tb->hd.kind == FLOW_CLOSED)
        flow_table_remove(&t->tomb_table, &tb->hd.key, tb->hd.hash);
    r->first = (r->first + 1) & (r->cap - 1);
    r->len--;
}

/* Double the ring (its capacity stays a power of two); the index points
 * into it, so it is rebuilt. */
static void tomb_grow(tcp_tracker *t)
{
    tomb_ring *r = &t->tombs;
    size_t cap = r->cap ? r->cap * 2 : 64;
    flow_tomb *v = g_new(flow_tomb, cap);
    flow_table_clear(&t->tomb_table);
    for (size_t i = 0; i < r->len; i++) {
        v[i] = r->v[(r->first + i) & (r->cap - 1)];
        if (v[i].hd.kind == FLOW_CLOSED)
            flow_table_insert(&t->tomb_table, &v[i].hd.key, v[i].hd.hash);
    }
    g_free(r->v);
    r->v = v;
    r->cap = cap;
    r->first = 0;
}

static void tomb_add(tcp_tracker *t, const flow_hdr *hd, int64_t ts_ns)
{
    tomb_ring *r = &t->tombs;
    G_STATIC_ASSERT((FLOW_TOMBSTONES_MAX & (FLOW_TOMBSTONES_MAX - 1)) == 0);
    if (r->len >= FLOW_TOMBSTONES_MAX)
        tomb_pop(t);
    else if (r->len == r->cap)
        tomb_grow(t);
    flow_tomb *tb = &r->v[(r->first + r->len) & (r->cap - 1)];
    r->len++;
    tb->hd = *hd;
    tb->hd.kind = FLOW_CLOSED;
    tb->closed_ns = ts_ns;
    flow_table_insert(&t->tomb_table, &tb->hd.key, tb->hd.hash);
}

static void tombs_free(tcp_tracker *t)
{
    flow_table_clear(&t->tomb_table);
    g_free(t->tombs.v);
    memset(&t->tombs, 0, sizeof t->tombs);
}

/* Close the connection and leave a tombstone in the flow's place. */
static void flow_close(tcp_tracker *t, tcp_flow *f, smtp_end_reason reason, cap_pos pos)
{
    flow_end(f, reason, pos);
    tomb_add(t, &f->hd, t->clock);
    flow_destroy(t, f);
    expire_by(t, t->clock + MIN(t->opts.idle_ns, FLOW_CLOSED_LINGER_NS));
}

/* The order flows end in when several end at once (idle, end of capture):
 * conversations by id, then flows with none yet (ending one may start it)
 * by their first frame.  It does not depend on which other flows share
 * the tracker, so trackers splitting one capture (pcapd -j) agree. */
static gint by_end_order(gconstpointer a, gconstpointer b)
{
    const tcp_flow *fa = *(tcp_flow *const *)a, *fb = *(tcp_flow *const *)b;
    uint64_t ia = fa->info.id, ib = fb->info.id;
    if ((ia == 0) != (ib == 0))
        return ia == 0 ? 1 : -1;
    if (ia)
        return ia < ib ? -1 : ia > ib;
    return fa->first.frame < fb->first.frame ? -1 : fa->first.frame > fb->first.frame;
}

/* Close what has been idle too long as of the tracker clock `now_ns`.
 *
 * Times here are the tracker's clock, the latest capture time seen, not a
 * packet's own time: so the active list (newest at the head) and the
 * tombstone ring are in clock order even when capture timestamps jump
 * back, and whether a flow idles out depends on that flow and the clock
 * alone, never on which other flows share the tracker (pcapd -j splits one
 * capture across trackers that all see the clock move).  A flow is idle
 * once `idle` has passed since its latest packet (`touched`); it sits in
 * the list by the time it was last moved to the head (`list_ns`, at most
 * FLOW_TOUCH_NS before `touched`), so only the tail part moved before
 * now - idle need be looked at, and those touched since are passed over. */
static void expire(tcp_tracker *t, int64_t now_ns)
{
    int64_t idle = t->opts.idle_ns;
    int64_t linger = MIN(idle, FLOW_CLOSED_LINGER_NS);
    int64_t next = INT64_MAX;
    GList *l;

    flow_tomb *tb;

    while ((tb = tomb_oldest(t)) && now_ns - tb->closed_ns > linger)
        tomb_pop(t);
    GPtrArray *due = NULL;
    for (l = t->active.tail; l && now_ns - ((tcp_flow *)l->data)->list_ns > idle; l = l->prev) {
        tcp_flow *f = l->data;
        if (now_ns - f->touched <= idle) {
            next = MIN(next, f->touched + idle);
            continue;
        }
        if (!due)
            due = g_ptr_array_new();
        g_ptr_array_add(due, f);
    }
    if (l)
        next = MIN(next, ((tcp_flow *)l->data)->list_ns + idle);
    if (due) {
        g_ptr_array_sort(due, by_end_order);
        for (guint i = 0; i < due->len; i++) {
            tcp_flow *f = due->pdata[i];
            flow_end(f, close_reason(f, SMTP_END_IDLE), f->last);
            t->stats.idle_closed++;
            flow_destroy(t, f);
        }
        g_ptr_array_free(due, TRUE);
    }
    t->expire_at = next;
    if ((tb = tomb_oldest(t)))
        expire_by(t, tb->closed_ns + linger);
}

/* Make room for one more flow: the least recently active conversation is
 * cut off. */
static void evict_one(tcp_tracker *t)
{
    tcp_flow *f = t->active.tail->data;
    flow_end(f, SMTP_END_EVICTED, f->last);
    t->stats.evicted++;
    flow_destroy(t, f);
}

/* Put `f` at the head of the active list as of `now_ns`. */
static void flow_touch(tcp_tracker *t, tcp_flow *f, int64_t now_ns)
{
    GList *tail = t->active.tail;
    g_queue_unlink(&t->active, &f->link);
    g_queue_push_head_link(&t->active, &f->link);
    f->list_ns = now_ns;
    /* a new tail may be due sooner than the one it replaces */
    if (tail == &f->link)
        expire_by(t, ((tcp_flow *)t->active.tail->data)->list_ns + t->opts.idle_ns);
}

static tcp_flow *flow_new(tcp_tracker *t, const flow_key *k, uint32_t h, const tcp_segment *seg)
{
    while (t->stats.live >= t->opts.max_live)
        evict_one(t);
    tcp_flow *f = g_new0(tcp_flow, 1);
    f->hd.key = *k;
    f->hd.hash = h;
    f->t = t;
    f->link.data = f;
    f->first = f->last = seg->pos;
    f->list_ns = f->touched = t->clock;
    flow_reset(f, port_listed(t, k->port[0]) || port_listed(t, k->port[1]) ? FLOW_SMTP
                                                                          : FLOW_UNDECIDED);
    flow_table_insert(&t->table, &f->hd.key, h);
    g_queue_push_head_link(&t->active, &f->link);
    expire_by(t, t->clock + t->opts.idle_ns);
    if (++t->stats.live > t->stats.peak_live)
        t->stats.peak_live = t->stats.live;
    return f;
}

/* A SYN without ACK on a live flow: the same SYN again (nothing to do), or
 * the port pair reused by a new connection, which starts afresh in `f`. */
static void flow_reused(tcp_tracker *t, tcp_flow *f, unsigned from, const tcp_segment *seg)
{
    const flow_side *me = &f->side[from];
    if (me->syn && me->isn == seg->seq)
        return;
    /* TCP only reuses a pair after the old connection ended, so it was torn
     * down without us seeing how. */
    flow_end(f, close_reason(f, SMTP_END_RST), seg->pos);
    flow_reset(f, port_listed(t, f->hd.key.port[0]) || port_listed(t, f->hd.key.port[1])
                      ? FLOW_SMTP : FLOW_UNDECIDED);
    f->first = seg->pos;
}

/* Everything a segment does to a live flow (SMTP or undecided). */
static void flow_segment(tcp_tracker *t, tcp_flow *f, unsigned from, const tcp_segment *seg)
{
    flow_side *me = &f->side[from], *peer = &f->side[1 - from];
    uint32_t seq = seg->seq;
    uint8_t fl = seg->flags;

    me->seen = true;
    if (fl & TCPF_RST) {
        f->rst = true;
        flow_close(t, f, SMTP_END_RST, seg->pos);
        return;
    }
    if (fl & TCPF_SYN) {
        /* SYN sender is the client, SYN+ACK sender the server; roles are
         * fixed once a conversation runs. */
        if (!f->eng) {
            f->server = (fl & TCPF_ACK) ? (int)from : (int)(1 - from);
            /* Only the server's port makes a flow SMTP: a client that
             * happens to use port 587 as its source port is not. */
            if (f->hd.kind == FLOW_SMTP && !port_listed(t, f->hd.key.port[f->server]))
                f->hd.kind = t->opts.heuristic ? FLOW_UNDECIDED : FLOW_NOT_SMTP;
        }
        me->syn = true;
        me->isn = seq;
        f->syn_seen = true;
        reasm_syn(&me->rs, seq);
        seq++;      /* the SYN's own sequence number; data (TFO) follows */
    }
    if (fl & TCPF_ACK)
        ack_note(peer, seg->ack, seg->pos);
    /* The peer's lost bytes come before what this payload answers. */
    if (seg->len > 0)
        ack_apply(peer, seg->pos);
    /* This side has moved past what was acked: anything missing before
     * that point is not merely late. */
    if (me->ack_pending && (seg->len > 0 || (fl & TCPF_FIN)) && !seq_before(seq, me->acked))
        ack_apply(me, seg->pos);
    if (seg->len > 0 || (fl & TCPF_FIN)) {
        if (seg->len > 0 && !me->data) {
            me->data = true;
            f->info.one_sided = !(f->side[0].data && f->side[1].data);
        }
        if (fl & TCPF_FIN)
            me->fin = true;
        reasm_segment(&me->rs, seq, seg->payload, seg->len, (fl & TCPF_FIN) != 0, seg->pos);
    }
    if (f->hd.kind == FLOW_NOT_SMTP) {
        /* decided inside a reassembly callback, where freeing was unsafe */
        t->stats.non_smtp++;
        flow_release(f);
        return;
    }
    /* Over when both FINs are reached, or when the only side ever seen
     * closed: nothing more can come from a side the capture cannot see. */
    if ((me->rs.fin && peer->rs.fin) || (me->rs.fin && !peer->seen))
        flow_close(t, f, SMTP_END_FIN, seg->pos);
}

/* ---- public API -------------------------------------------------------- */

tcp_tracker *tcp_tracker_new(const tcp_tracker_options *opts, const tcp_tracker_sink *sink, void *user)
{
    tcp_tracker *t = g_new0(tcp_tracker, 1);

    if (opts)
        t->opts = *opts;
    if (!t->opts.ports) {
        t->opts.ports = default_ports;
        t->opts.n_ports = G_N_ELEMENTS(default_ports);
    }
    for (size_t i = 0; i < t->opts.n_ports; i++)
        t->port_map[t->opts.ports[i] >> 3] |= (uint8_t)(1u << (t->opts.ports[i] & 7));
    t->opts.ports = NULL;    /* the caller's array need not outlive this call */
    if (!t->opts.max_live)
        t->opts.max_live = FLOW_MAX_LIVE_DEFAULT;
    if (t->opts.idle_ns <= 0)
        t->opts.idle_ns = FLOW_IDLE_TIMEOUT_NS;
    if (t->opts.idle_ns > CAP_TS_MAX_NS / 2)
        t->opts.idle_ns = CAP_TS_MAX_NS / 2;
    t->sink = *sink;
    t->user = user;
    flow_table_init(&t->table);
    flow_table_init(&t->tomb_table);
    g_queue_init(&t->active);
    t->expire_at = INT64_MAX;
    return t;
}

/* Capture clocks can say anything (the pcap format allows any 64-bit time).
 * Times are kept in [0, CAP_TS_MAX_NS], where adding the idle timeout or
 * subtracting two times cannot overflow. */
static int64_t clamp_ts(int64_t ts)
{
    return ts < 0 ? 0 : ts > CAP_TS_MAX_NS ? CAP_TS_MAX_NS : ts;
}

static cap_pos clamp_pos(cap_pos pos)
{
    pos.ts_ns = clamp_ts(pos.ts_ns);
    return pos;
}

static void segment_in(tcp_tracker *t, const tcp_segment *seg);

/* Capture time `now_ns` was seen: the clock moves on (never back), and
 * whatever that makes idle is closed. */
static void clock_advance(tcp_tracker *t, int64_t now_ns)
{
    if (now_ns > t->clock)
        t->clock = now_ns;
    if (t->clock > t->expire_at)
        expire(t, t->clock);
}

void tcp_tracker_segment(tcp_tracker *t, const tcp_segment *seg)
{
    if (seg->pos.ts_ns != clamp_ts(seg->pos.ts_ns)) {
        tcp_segment s = *seg;
        s.pos.ts_ns = clamp_ts(s.pos.ts_ns);
        segment_in(t, &s);
        return;
    }
    segment_in(t, seg);
}

static void segment_in(tcp_tracker *t, const tcp_segment *seg)
{
    flow_key k;

    t->stats.segments++;
    t->stats.tcp_bytes += seg->len;
    clock_advance(t, seg->pos.ts_ns);
    /* The common case in a mixed capture: not an SMTP port and no
     * heuristic, so no table lookup at all. */
    if (!t->opts.heuristic && !port_listed(t, seg->sport) && !port_listed(t, seg->dport))
        return;

    unsigned from = flow_key_make(&k, seg->family, seg->src, seg->sport, seg->dst, seg->dport);
    uint32_t h = flow_key_hash(&k);
    /* The key is the first member of the header, which is the first
     * member of flows and tombstones alike. */
    flow_hdr *hd = (flow_hdr *)flow_table_find(&t->table, &k, h);
    if (!hd && t->tomb_table.count)
        hd = (flow_hdr *)flow_table_find(&t->tomb_table, &k, h);
    bool syn_only = (seg->flags & (TCPF_SYN | TCPF_ACK)) == TCPF_SYN;
    tcp_flow *f = NULL;

    if (hd && hd->kind == FLOW_CLOSED) {
        if (!syn_only)
            return;     /* late retransmission or ACK */
        /* the port pair reused by a new connection */
        tomb_kill(t, (flow_tomb *)hd);
        f = flow_new(t, &k, h, seg);
    } else if (!hd) {
        /* Only a SYN or payload starts a flow: a stray ACK or RST of a
         * connection we never saw carries nothing to analyse. */
        if (!(seg->flags & TCPF_SYN) && seg->len == 0)
            return;
        if (seg->flags & TCPF_RST)
            return;
        f = flow_new(t, &k, h, seg);
    } else {
        f = (tcp_flow *)hd;
        if (syn_only)
            flow_reused(t, f, from, seg);
    }
    if (t->clock - f->list_ns > FLOW_TOUCH_NS)
        flow_touch(t, f, t->clock);
    f->touched = t->clock;
    f->last = seg->pos;
    if (f->hd.kind == FLOW_NOT_SMTP) {
        if (seg->flags & TCPF_RST || ((seg->flags & TCPF_FIN) && f->side[1 - from].fin))
            flow_close(t, f, SMTP_END_FIN, seg->pos);
        else if (seg->flags & TCPF_FIN)
            f->side[from].fin = true;
        return;
    }
    flow_segment(t, f, from, seg);
}

void tcp_tracker_expire(tcp_tracker *t, int64_t now_ns)
{
    t->clock = MAX(t->clock, clamp_ts(now_ns));
    expire(t, t->clock);
}

void tcp_tracker_tick(tcp_tracker *t, int64_t now_ns)
{
    clock_advance(t, clamp_ts(now_ns));
}

void tcp_tracker_finish_begin(tcp_tracker *t, cap_pos pos)
{
    if (!t->ending)
        t->ending = g_ptr_array_new();
    g_ptr_array_set_size(t->ending, 0);
    t->ending_at = 0;
    t->ending_pos = clamp_pos(pos);
    for (GList *l = t->active.head; l; l = l->next)
        g_ptr_array_add(t->ending, l->data);
    g_ptr_array_sort(t->ending, by_end_order);
}

bool tcp_tracker_finish_next(const tcp_tracker *t, uint64_t *id, uint32_t *first_frame)
{
    if (!t->ending || t->ending_at >= t->ending->len)
        return false;
    const tcp_flow *f = t->ending->pdata[t->ending_at];
    *id = f->info.id;
    *first_frame = f->first.frame;
    return true;
}

bool tcp_tracker_finish_step(tcp_tracker *t)
{
    if (!t->ending || t->ending_at >= t->ending->len)
        return false;
    tcp_flow *f = t->ending->pdata[t->ending_at++];
    flow_end(f, close_reason(f, SMTP_END_EOF), t->ending_pos);
    flow_destroy(t, f);
    return true;
}

void tcp_tracker_finish_done(tcp_tracker *t)
{
    while (tcp_tracker_finish_step(t))
        ;
    if (t->ending)
        g_ptr_array_set_size(t->ending, 0);
    tombs_free(t);
    t->expire_at = INT64_MAX;
    /* The next capture's clock starts afresh: its times may be earlier. */
    t->clock = 0;
}

void tcp_tracker_finish(tcp_tracker *t, cap_pos pos)
{
    tcp_tracker_finish_begin(t, pos);
    tcp_tracker_finish_done(t);
}

const tcp_tracker_stats *tcp_tracker_get_stats(const tcp_tracker *t)
{
    return &t->stats;
}

uint32_t tcp_segment_flow_hash(const tcp_segment *seg)
{
    flow_key k;
    flow_key_make(&k, seg->family, seg->src, seg->sport, seg->dst, seg->dport);
    return flow_key_hash(&k);
}

void tcp_tracker_free(tcp_tracker *t)
{
    if (!t)
        return;
    while (t->active.tail)
        flow_destroy(t, t->active.tail->data);
    tombs_free(t);
    flow_table_clear(&t->table);
    if (t->ending)
        g_ptr_array_free(t->ending, TRUE);
    g_free(t);
}
