/* packet-smtpscope.c -- SMTP analysis for Wireshark, driven by the smtpscope core.
 *
 * The plugin holds no SMTP logic.  On the first pass it feeds each TCP
 * segment to the core's reassembler (core/reasm.h), which hands in-order
 * bytes to one smtp_engine per conversation (core/smtp_engine.h) -- the same
 * path pcapd takes, so both front ends see the same events.  Every event is
 * copied into a per-frame record (p_add_proto_data, file scope) of the frame
 * whose dissection produced it.  Every pass, the first included, only
 * renders those records: tree, columns, expert info, tap, and the message
 * body handed to the IMF dissector.  So tshark one-pass, two-pass and the
 * GUI's random access show the same thing, except links to later frames
 * (smtpscope.response_in), which a single pass cannot know yet.
 *
 * The core reports the end of a conversation (unanswered commands, cut-off
 * sessions, the summary) only when told the conversation ended.  TCP hands
 * subdissectors only segments that carry payload, so the plugin ends a
 * conversation only when it sees an RST with payload or both FINs on payload
 * segments; usually the FINs are bare and those end-of-conversation events
 * are not shown (pcapd, which sees every segment, shows them).
 */
#define WS_LOG_DOMAIN "smtpscope"

#include <stdarg.h>
#include <string.h>

#include <epan/packet.h>
#include <epan/conversation.h>
#include <epan/column-utils.h>
#include <epan/expert.h>
#include <epan/prefs.h>
#include <epan/proto_data.h>
#include <epan/strutil.h>
#include <epan/tap.h>
#include <epan/dissectors/packet-tcp.h>
#include <epan/dissectors/packet-tls.h>
#include <epan/dissectors/packet-tls-utils.h>
#include <ws_version.h>
#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
#include <wsutil/plugins.h>
#endif

#include "reasm.h"
#include "registry.h"
#include "smtp_engine.h"
#include "smtpscope_record.h"
#include "smtpscope_tap.h"

void proto_register_smtpscope(void);
void proto_reg_handoff_smtpscope(void);

static int proto_smtpscope = -1;

static int hf_smtpscope_direction = -1;
static int hf_smtpscope_command_line = -1;
static int hf_smtpscope_command = -1;
static int hf_smtpscope_command_args = -1;
static int hf_smtpscope_command_seq = -1;
static int hf_smtpscope_pipelined = -1;
static int hf_smtpscope_response_in = -1;
static int hf_smtpscope_reply_code = -1;
static int hf_smtpscope_reply_meaning = -1;
static int hf_smtpscope_reply_category = -1;
static int hf_smtpscope_reply_subject = -1;
static int hf_smtpscope_reply_line = -1;
static int hf_smtpscope_reply_valid = -1;
static int hf_smtpscope_reply_enhanced = -1;
static int hf_smtpscope_reply_enhanced_class = -1;
static int hf_smtpscope_reply_enhanced_subject = -1;
static int hf_smtpscope_reply_enhanced_detail = -1;
static int hf_smtpscope_reply_enhanced_meaning = -1;
static int hf_smtpscope_reply_command = -1;
static int hf_smtpscope_response_to = -1;
static int hf_smtpscope_time = -1;
static int hf_smtpscope_capability = -1;
static int hf_smtpscope_capability_params = -1;
static int hf_smtpscope_capability_server = -1;
static int hf_smtpscope_capability_size_limit = -1;
static int hf_smtpscope_starttls = -1;
static int hf_smtpscope_auth_mechanism = -1;
static int hf_smtpscope_auth_username = -1;
static int hf_smtpscope_auth_secret = -1;
static int hf_smtpscope_auth_outcome = -1;
static int hf_smtpscope_auth_code = -1;
static int hf_smtpscope_txn_mail_from = -1;
static int hf_smtpscope_txn_mail_params = -1;
static int hf_smtpscope_txn_recipient = -1;
static int hf_smtpscope_txn_recipient_status = -1;
static int hf_smtpscope_txn_recipient_code = -1;
static int hf_smtpscope_txn_method = -1;
static int hf_smtpscope_txn_size = -1;
static int hf_smtpscope_txn_final_code = -1;
static int hf_smtpscope_txn_outcome = -1;
static int hf_smtpscope_txn_queue_id = -1;
static int hf_smtpscope_txn_subject = -1;
static int hf_smtpscope_txn_message_id = -1;
static int hf_smtpscope_anomaly = -1;
static int hf_smtpscope_anomaly_class = -1;
static int hf_smtpscope_anomaly_severity = -1;
static int hf_smtpscope_anomaly_message = -1;
static int hf_smtpscope_conversation = -1;
static int hf_smtpscope_conversation_outcome = -1;
static int hf_smtpscope_conversation_end = -1;
static int hf_smtpscope_body_length = -1;

static gint ett_smtpscope = -1;
static gint ett_smtpscope_command = -1;
static gint ett_smtpscope_reply = -1;
static gint ett_smtpscope_enhanced = -1;
static gint ett_smtpscope_capabilities = -1;
static gint ett_smtpscope_auth = -1;
static gint ett_smtpscope_transaction = -1;
static gint ett_smtpscope_recipient = -1;
static gint ett_smtpscope_anomaly = -1;
static gint ett_smtpscope_conversation = -1;

/* One expert field per anomaly kind of the registry, indexed by smtp_anomaly. */
static expert_field *ei_smtpscope_anomaly;

#define SMTPSCOPE_TCP_PORTS  "25,587,2525"
#define SMTPSCOPE_TLS_PORT   465
/* Bytes of one message kept for the IMF dissector; a message can be any
 * size, and Wireshark keeps what it shows for the life of the file. */
#define SMTPSCOPE_MAX_BODY   (16u * 1024u * 1024u)
/* A greeting or HELO line the heuristic accepts must end within this. */
#define SMTPSCOPE_HEUR_LINE  512

static gboolean smtpscope_show_secrets = FALSE;

static dissector_handle_t smtpscope_handle;
static dissector_handle_t smtpscope_tls_handle;
static dissector_handle_t tls_handle;
static dissector_handle_t imf_handle;
static dissector_table_t  tcp_port_table;
static int proto_tcp = -1;
static int smtpscope_tap = -1;

/* Value strings built from the registry at registration time. */
static value_string *reply_code_vs;
static value_string_ext *reply_code_vse;
static value_string enhanced_class_vs[4];
static value_string enhanced_subject_vs[9];

static const value_string direction_vs[] = {
    { SMTP_DIR_CLIENT, "Client to server" },
    { SMTP_DIR_SERVER, "Server to client" },
    { 0, NULL }
};

/* Per-frame proto data keys: the file-scope records use the dissector's
 * call index within the frame (TLS may call several times per frame); the
 * packet-scope call counter uses its own key in pinfo's list. */
#define SMTPSCOPE_KEY_CALLS 0
#define SMTPSCOPE_KEY_INFO  1

/* ---- conversation state (first pass only) ----------------------------- */

typedef struct ss_conv ss_conv;

/* One engine and what the plugin tracks beside it: commands by sequence
 * number (for request/response links) and the message body being collected. */
typedef struct ss_engine_ctx {
    ss_conv     *conv;
    smtp_engine *engine;
    wmem_map_t  *commands;     /* cmd seq -> ss_record of the command */
    GByteArray  *body;
    gboolean     body_stuffed; /* the message came with DATA (dot-stuffed) */
    gboolean     body_truncated;
} ss_engine_ctx;

/* Reassembler sink context: which direction of which conversation. */
typedef struct ss_dir_ctx {
    ss_conv *conv;
    smtp_dir dir;
} ss_dir_ctx;

struct ss_conv {
    address        client_addr;
    guint32        client_port;
    ss_engine_ctx  plain;      /* the TCP stream as sent */
    ss_engine_ctx  tls;        /* decrypted TLS (port 465, or after STARTTLS) */
    reasm_stream   reasm[2];
    ss_dir_ctx     dirs[2];
    /* Where the events of the call being processed go. */
    ss_frame      *cur;
    guint32        cur_frame;
    const guint8  *cur_base;   /* this segment's bytes, to point tree items at */
    gsize          cur_len;
    gsize          cur_cursor; /* bytes of it already pointed at */
    /* Running counts for the per-frame conversation summary. */
    guint32        n_commands, n_replies, n_transactions, n_accepted, n_anomalies;
};

/* ---- records: from engine events ---------------------------------------- */

/* Offset of the `len` bytes at address `p` in the current segment, or -1 if
 * they lie elsewhere (the engine's line buffer, or an earlier segment). */
static gint cur_offset(const ss_conv *c, guintptr p, gsize len)
{
    guintptr base = (guintptr)c->cur_base;
    if (!c->cur_base || p < base || p + len > base + c->cur_len)
        return -1;
    return (gint)(p - base);
}

/* Where `text` (preceded by `code` and a space or dash when code >= 0)
 * occurs in the current segment at or after `from`; -1 if nowhere.  The
 * engine may hand a copy of a line rather than the segment's own bytes. */
static gint cur_find(const ss_conv *c, gsize from, int code, smtp_span text)
{
    char digits[4];
    gsize pre = code >= 0 ? 4 : 0;
    if (code >= 0)
        g_snprintf(digits, sizeof digits, "%03d", code % 1000);
    for (gsize at = from; c->cur_base && at + pre + text.len <= c->cur_len; at++) {
        const guint8 *p = c->cur_base + at;
        if (pre && (memcmp(p, digits, 3) != 0 || (p[3] != ' ' && p[3] != '-')))
            continue;
        if (memcmp(p + pre, text.ptr, text.len) == 0)
            return (gint)at;
    }
    return -1;
}

static void locate_record(ss_conv *c, ss_record *rec, const smtp_event *ev)
{
    if (ev->type == SMTP_EV_COMMAND) {
        const smtp_span *line = &ev->u.command.line;
        rec->off = cur_offset(c, (guintptr)line->ptr, line->len);
        if (rec->off < 0 && ev->from == c->cur->dir)
            rec->off = cur_find(c, c->cur_cursor, -1, *line);
        rec->len = (gint)line->len;
    } else if (ev->type == SMTP_EV_REPLY && ev->u.reply.n_lines > 0) {
        const smtp_span *first = &ev->u.reply.lines[0];
        const smtp_span *last = &ev->u.reply.lines[ev->u.reply.n_lines - 1];
        /* A reply line's text starts after "NNN-" or "NNN ". */
        gint start = cur_offset(c, (guintptr)first->ptr - 4, 4);
        gint end = cur_offset(c, (guintptr)last->ptr, last->len);
        if ((start < 0 || end < 0) && ev->from == c->cur->dir) {
            start = cur_find(c, c->cur_cursor, ev->u.reply.code, *first);
            end = start < 0 ? -1 : cur_find(c, (gsize)start, ev->u.reply.code, *last);
            if (end >= 0)
                end += 4;
        }
        if (start >= 0 && end >= start) {
            rec->off = start;
            rec->len = end + (gint)last->len - start;
        }
    }
    if (rec->off >= 0) {
        /* Take the line end along when it is there. */
        while ((gsize)(rec->off + rec->len) < c->cur_len &&
               (c->cur_base[rec->off + rec->len] == '\r' || c->cur_base[rec->off + rec->len] == '\n'))
            rec->len++;
        /* PDUs of a segment come in order: the next one starts after this. */
        c->cur_cursor = (gsize)(rec->off + rec->len);
    }
}

static void on_engine_event(void *user, const smtp_event *ev)
{
    ss_engine_ctx *ctx = (ss_engine_ctx *)user;
    ss_conv *c = ctx->conv;
    ss_record *rec = ss_record_add(wmem_file_scope(), c->cur, ev);
    rec->frame = c->cur_frame;
    locate_record(c, rec, ev);

    switch (ev->type) {
    case SMTP_EV_COMMAND:
        c->n_commands++;
        wmem_map_insert(ctx->commands, GUINT_TO_POINTER(ev->u.command.seq), rec);
        if (ev->u.command.cmd == SMTP_CMD_DATA)
            ctx->body_stuffed = TRUE;
        else if (ev->u.command.cmd == SMTP_CMD_BDAT)
            ctx->body_stuffed = FALSE;
        break;
    case SMTP_EV_REPLY: {
        c->n_replies++;
        ss_record *cmd = ev->u.reply.cmd_seq
            ? (ss_record *)wmem_map_lookup(ctx->commands, GUINT_TO_POINTER(ev->u.reply.cmd_seq))
            : NULL;
        if (cmd) {
            /* The command was shown in the frame that completed it, which is
             * the frame its record hangs on. */
            rec->link_frame = cmd->frame;
            if (!cmd->link_frame)
                cmd->link_frame = c->cur_frame;
        } else {
            rec->link_frame = ev->u.reply.cmd_frame;
        }
        break;
    }
    case SMTP_EV_TRANSACTION:
        c->n_transactions++;
        if (ev->u.txn.outcome == SMTP_TXN_ACCEPTED)
            c->n_accepted++;
        break;
    case SMTP_EV_ANOMALY:
        c->n_anomalies++;
        break;
    default:
        break;
    }
}

static void on_engine_body(void *user, const smtp_body_span *body)
{
    ss_engine_ctx *ctx = (ss_engine_ctx *)user;
    ss_frame *fr = ctx->conv->cur;

    fr->body_bytes += (guint32)body->len;
    if (!ctx->body)
        ctx->body = g_byte_array_new();
    gsize room = SMTPSCOPE_MAX_BODY - ctx->body->len;
    if (body->len > room)
        ctx->body_truncated = TRUE;
    g_byte_array_append(ctx->body, body->data, (guint)MIN(body->len, room));
    if (!body->last)
        return;

    /* The message is complete: keep it, without the dot-stuffing of DATA. */
    guint8 *copy = (guint8 *)wmem_alloc(wmem_file_scope(), ctx->body->len + 1);
    guint32 n = 0;
    gboolean line_start = TRUE;
    for (guint i = 0; i < ctx->body->len; i++) {
        guint8 b = ctx->body->data[i];
        if (!(ctx->body_stuffed && line_start && b == '.'))
            copy[n++] = b;
        line_start = (b == '\n');
    }
    guint32 index = 0;
    for (const ss_record *rec = fr->first; rec; rec = rec->next)
        index++;
    fr->body = copy;
    fr->body_len = n;
    fr->body_index = index;
    fr->body_truncated = ctx->body_truncated;
    g_byte_array_set_size(ctx->body, 0);
    ctx->body_truncated = FALSE;
}

static const smtp_sink engine_sink = { on_engine_event, on_engine_body };

/* Transport anomalies come from the reassembler, not the engine; they are
 * recorded as the anomaly events pcapd prints for them. */
static void record_transport_anomaly(ss_conv *c, smtp_dir dir, smtp_anomaly kind,
                                     const char *message, cap_pos pos)
{
    smtp_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SMTP_EV_ANOMALY;
    ev.from = dir;
    ev.pos = pos;
    ev.u.anomaly.kind = kind;
    ev.u.anomaly.cmd = SMTP_CMD_NONE;
    ev.u.anomaly.message = message;
    on_engine_event(&c->plain, &ev);
}

static void on_reasm_data(void *user, const uint8_t *data, size_t len, cap_pos pos)
{
    ss_dir_ctx *d = (ss_dir_ctx *)user;
    smtp_feed(d->conv->plain.engine, d->dir, data, len, pos);
}

static void on_reasm_gap(void *user, uint64_t len, cap_pos pos)
{
    ss_dir_ctx *d = (ss_dir_ctx *)user;
    smtp_gap(d->conv->plain.engine, d->dir, len, pos);
}

static void on_reasm_conflict(void *user, cap_pos pos)
{
    ss_dir_ctx *d = (ss_dir_ctx *)user;
    record_transport_anomaly(d->conv, d->dir, SMTP_AN_overlap_conflict,
                             "Retransmitted bytes differ from those first seen", pos);
}

static void on_reasm_overflow(void *user, cap_pos pos)
{
    ss_dir_ctx *d = (ss_dir_ctx *)user;
    record_transport_anomaly(d->conv, d->dir, SMTP_AN_reassembly_overflow,
                             "Too much out-of-order data buffered; the hole was declared a gap", pos);
}

static const reasm_sink reasm_to_engine = {
    on_reasm_data, on_reasm_gap, on_reasm_conflict, on_reasm_overflow
};

/* ---- conversations -------------------------------------------------------- */

static gboolean conv_cleanup(wmem_allocator_t *allocator _U_, wmem_cb_event_t event _U_, void *user)
{
    ss_conv *c = (ss_conv *)user;
    for (int i = 0; i < 2; i++) {
        ss_engine_ctx *ctx = i ? &c->tls : &c->plain;
        smtp_engine_free(ctx->engine);
        if (ctx->body)
            g_byte_array_free(ctx->body, TRUE);
        reasm_free(&c->reasm[i]);
    }
    return FALSE;
}

static gboolean is_server_port(guint32 port)
{
    return port == SMTPSCOPE_TLS_PORT ||
           (tcp_port_table && dissector_get_uint_handle(tcp_port_table, port) == smtpscope_handle);
}

/* Who sent the segment that made the heuristic accept a conversation. */
typedef enum ss_role_hint { SS_HINT_NONE, SS_HINT_SRC_IS_SERVER, SS_HINT_SRC_IS_CLIENT } ss_role_hint;

/* The client is the side a heuristic match says it is (a "220" greeting
 * comes from the server, even through a proxy tunnel); else the side that
 * sent the SYN; else the side not on an SMTP port; failing that, the side
 * that did not send a "220" first. */
static void conv_pick_client(ss_conv *c, packet_info *pinfo, tvbuff_t *tvb, guint16 syn_server_port,
                             ss_role_hint hint)
{
    gboolean src_is_client;
    if (hint != SS_HINT_NONE)
        src_is_client = hint == SS_HINT_SRC_IS_CLIENT;
    else if (syn_server_port)
        src_is_client = pinfo->destport == syn_server_port;
    else if (is_server_port(pinfo->destport) != is_server_port(pinfo->srcport))
        src_is_client = is_server_port(pinfo->destport);
    else
        src_is_client = tvb_strneql(tvb, 0, "220", 3) != 0;
    copy_address_wmem(wmem_file_scope(), &c->client_addr, src_is_client ? &pinfo->src : &pinfo->dst);
    c->client_port = src_is_client ? pinfo->srcport : pinfo->destport;
}

static void engine_ctx_init(ss_conv *c, ss_engine_ctx *ctx, gboolean midstream)
{
    smtp_options opts;
    memset(&opts, 0, sizeof opts);
    opts.midstream = midstream;
    opts.reveal_secrets = smtpscope_show_secrets;
    ctx->conv = c;
    ctx->engine = smtp_engine_new(&engine_sink, ctx, &opts);
    ctx->commands = wmem_map_new(wmem_file_scope(), g_direct_hash, g_direct_equal);
}

static ss_conv *conv_get(packet_info *pinfo, tvbuff_t *tvb, ss_role_hint hint)
{
    conversation_t *conversation = find_or_create_conversation(pinfo);
    ss_conv *c = (ss_conv *)conversation_get_proto_data(conversation, proto_smtpscope);
    if (c)
        return c;

    c = wmem_new0(wmem_file_scope(), ss_conv);
    struct tcp_analysis *tcpd = get_tcp_conversation_data(conversation, pinfo);
    guint16 syn_server_port = tcpd ? tcpd->server_port : 0;
    conv_pick_client(c, pinfo, tvb, syn_server_port, hint);
    engine_ctx_init(c, &c->plain, syn_server_port == 0);
    for (int i = 0; i < 2; i++) {
        c->dirs[i].conv = c;
        c->dirs[i].dir = (smtp_dir)i;
        reasm_init(&c->reasm[i], &reasm_to_engine, &c->dirs[i]);
    }
    wmem_register_callback(wmem_file_scope(), conv_cleanup, c);
    conversation_add_proto_data(conversation, proto_smtpscope, c);
    return c;
}

static smtp_dir conv_dir(const ss_conv *c, const packet_info *pinfo)
{
    if (pinfo->srcport == c->client_port && addresses_equal(&pinfo->src, &c->client_addr))
        return SMTP_DIR_CLIENT;
    return SMTP_DIR_SERVER;
}

/* ---- first pass: feeding -------------------------------------------------- */

static cap_pos frame_pos(const packet_info *pinfo)
{
    cap_pos pos;
    pos.ts_ns = (int64_t)pinfo->abs_ts.secs * 1000000000 + pinfo->abs_ts.nsecs;
    pos.frame = pinfo->num;
    return pos;
}

/* Bit of tcp_analysis.conversation_completeness (the tcp.completeness
 * field) set once TCP has seen a FIN in either direction. */
#define TCP_COMPLETENESS_FIN 0x10

/* A TCP segment: through the reassembler, so retransmissions, overlaps and
 * out-of-order segments are handled as pcapd handles them. */
static void feed_tcp(ss_conv *c, smtp_dir dir, const guint8 *data, gsize len,
                     const struct tcpinfo *ti, gboolean fin_seen, cap_pos pos)
{
    reasm_stream *peer = &c->reasm[!dir];
    /* Subdissectors never see a bare FIN.  When TCP saw one and this segment
     * acknowledges exactly one sequence number past the peer's data, only
     * the peer's FIN can have taken that number: tell the reassembler, or
     * the ack would look like a lost byte. */
    if (fin_seen && (ti->flags & TH_ACK) && peer->have_seq && !peer->fin && !peer->fin_pending &&
        ti->lastackseq == peer->next_seq + 1 && !peer->held)
        reasm_segment(peer, peer->next_seq, NULL, 0, TRUE, pos);
    if (ti->flags & TH_ACK)
        reasm_ack(peer, ti->lastackseq, pos);
    reasm_segment(&c->reasm[dir], ti->seq, data, len, (ti->flags & TH_FIN) != 0, pos);
    if (ti->flags & TH_RST) {
        reasm_flush(&c->reasm[0], pos);
        reasm_flush(&c->reasm[1], pos);
        smtp_end(c->plain.engine, SMTP_END_RST, pos);
    } else if (c->reasm[0].fin && c->reasm[1].fin) {
        smtp_end(c->plain.engine, SMTP_END_FIN, pos);
    }
}

static ss_frame *analyse_segment(ss_conv *c, tvbuff_t *tvb, packet_info *pinfo,
                                 const struct tcpinfo *ti, gboolean via_tls)
{
    ss_frame *fr = wmem_new0(wmem_file_scope(), ss_frame);
    fr->dir = conv_dir(c, pinfo);
    gsize len = tvb_captured_length(tvb);
    const guint8 *data = tvb_get_ptr(tvb, 0, (gint)len);
    cap_pos pos = frame_pos(pinfo);

    c->cur = fr;
    c->cur_frame = pinfo->num;
    c->cur_base = data;
    c->cur_len = len;
    c->cur_cursor = 0;
    if (via_tls) {
        /* Decrypted TLS arrives in order.  On port 465 it is the whole
         * session; after STARTTLS the greeting and EHLO came in clear. */
        if (!c->tls.engine)
            engine_ctx_init(c, &c->tls, c->plain.engine != NULL && smtp_in_tls(c->plain.engine));
        smtp_feed(c->tls.engine, fr->dir, data, len, pos);
    } else if (ti) {
        guint64 retrans = c->reasm[fr->dir].retransmitted;
        struct tcp_analysis *tcpd = get_tcp_conversation_data(NULL, pinfo);
        gboolean fin_seen = tcpd && (tcpd->conversation_completeness & TCP_COMPLETENESS_FIN);
        feed_tcp(c, fr->dir, data, len, ti, fin_seen, pos);
        fr->retransmission = c->reasm[fr->dir].retransmitted != retrans;
    } else {
        smtp_feed(c->plain.engine, fr->dir, data, len, pos);
    }
    c->cur = NULL;
    c->cur_base = NULL;

    fr->n_commands = c->n_commands;
    fr->n_replies = c->n_replies;
    fr->n_transactions = c->n_transactions;
    fr->n_accepted = c->n_accepted;
    fr->n_anomalies = c->n_anomalies;
    return fr;
}

/* ---- every pass: rendering ------------------------------------------------ */

/* Append one PDU's summary to the Info column, " | " between the PDUs of
 * a frame (whatever TCP put in front of them stays). */
static void G_GNUC_PRINTF(2, 3) info_add(packet_info *pinfo, const char *fmt, ...)
{
    guint n = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_smtpscope, SMTPSCOPE_KEY_INFO));
    p_add_proto_data(pinfo->pool, pinfo, proto_smtpscope, SMTPSCOPE_KEY_INFO, GUINT_TO_POINTER(n + 1));
    va_list ap;
    va_start(ap, fmt);
    char *text = wmem_strdup_vprintf(pinfo->pool, fmt, ap);
    va_end(ap);
    if (n)
        col_append_str(pinfo->cinfo, COL_INFO, " | ");
    col_append_str(pinfo->cinfo, COL_INFO, text);
}

static const char *span_str(packet_info *pinfo, smtp_span s)
{
    return format_text(pinfo->pool, (const guchar *)s.ptr, s.len);
}

static smtpscope_tap_t *tap_new(packet_info *pinfo, smtpscope_tap_kind kind)
{
    smtpscope_tap_t *t = wmem_new0(pinfo->pool, smtpscope_tap_t);
    t->kind = kind;
    t->latency_ns = -1;
    return t;
}

static void render_command(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_record *rec)
{
    const smtp_command_ev *cmd = &rec->ev.u.command;
    gint off = rec->off >= 0 ? rec->off : 0, len = rec->off >= 0 ? rec->len : 0;
    const char *line = span_str(pinfo, cmd->line);
    gboolean auth_line = cmd->cmd == SMTP_CMD_AUTH_RESPONSE;
    const char *verb = auth_line ? "AUTH response" : g_ascii_strup(span_str(pinfo, cmd->verb), -1);

    proto_item *ti = proto_tree_add_string(tree, hf_smtpscope_command_line, tvb, off, len, line);
    proto_tree *sub = proto_item_add_subtree(ti, ett_smtpscope_command);
    if (!auth_line)
        proto_tree_add_string(sub, hf_smtpscope_command, tvb, off, len ? (gint)MIN(cmd->verb.len, (gsize)len) : 0,
                              span_str(pinfo, cmd->verb));
    if (cmd->args.len)
        proto_tree_add_string(sub, hf_smtpscope_command_args, tvb, off, len, span_str(pinfo, cmd->args));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_command_seq, tvb, 0, 0, cmd->seq));
    proto_item_set_generated(proto_tree_add_boolean(sub, hf_smtpscope_pipelined, tvb, 0, 0, cmd->pipelined));
    if (rec->link_frame)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_response_in, tvb, 0, 0, rec->link_frame));

    info_add(pinfo, "C: %s", line);

    smtpscope_tap_t *t = tap_new(pinfo, SMTPSCOPE_TAP_COMMAND);
    t->verb = cmd->cmd == SMTP_CMD_UNKNOWN ? "(unknown)" : verb;
    tap_queue_packet(smtpscope_tap, pinfo, t);
}

static void render_enhanced(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo,
                            const smtp_reply_ev *r, smtpscope_tap_t *t)
{
    char buf[16];
    reg_enhanced_format(&r->enhanced, buf, sizeof buf);
    t->enhanced = wmem_strdup(pinfo->pool, buf);
    t->enh_meaning = r->enh_meaning;

    proto_item *ti = proto_tree_add_string(tree, hf_smtpscope_reply_enhanced, tvb, 0, 0, buf);
    proto_item_set_generated(ti);
    if (r->enh_meaning)
        proto_item_append_text(ti, " (%s)", r->enh_meaning);
    proto_tree *sub = proto_item_add_subtree(ti, ett_smtpscope_enhanced);
    proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_reply_enhanced_class, tvb, 0, 0, r->enhanced.cls));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_reply_enhanced_subject, tvb, 0, 0, r->enhanced.subject));
    proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_reply_enhanced_detail, tvb, 0, 0, r->enhanced.detail));
    if (r->enh_meaning)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_reply_enhanced_meaning, tvb, 0, 0,
                                                       r->enh_meaning));
}

static void render_reply(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_record *rec)
{
    const smtp_reply_ev *r = &rec->ev.u.reply;
    gint off = rec->off >= 0 ? rec->off : 0, len = rec->off >= 0 ? rec->len : 0;
    const char *first = r->n_lines ? span_str(pinfo, r->lines[0]) : "";
    const char *label = r->command_label && *r->command_label ? r->command_label : NULL;

    proto_tree *sub = proto_tree_add_subtree_format(tree, tvb, off, len, ett_smtpscope_reply, NULL,
                                                    "Reply: %03d %s%s%s%s", r->code, first,
                                                    label ? " [" : "", label ? label : "", label ? "]" : "");
    proto_tree_add_uint(sub, hf_smtpscope_reply_code, tvb, off, len ? 3 : 0, (guint32)r->code);
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_reply_meaning, tvb, 0, 0, r->meaning));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_reply_category, tvb, 0, 0, r->category));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_reply_subject, tvb, 0, 0, r->subject));
    for (guint32 i = 0; i < r->n_lines; i++)
        proto_tree_add_string(sub, hf_smtpscope_reply_line, tvb, 0, 0, span_str(pinfo, r->lines[i]));
    if (r->n_lines_total > r->n_lines)
        proto_tree_add_expert_format(sub, pinfo, &ei_smtpscope_anomaly[SMTP_AN_reply_too_long], tvb, 0, 0,
                                     "%u more lines not kept", r->n_lines_total - r->n_lines);

    smtpscope_tap_t *t = tap_new(pinfo, SMTPSCOPE_TAP_REPLY);
    t->code = r->code;
    t->meaning = r->meaning;
    t->command_label = r->command_label;
    t->latency_ns = r->latency_ns;
    if (r->enhanced.present)
        render_enhanced(sub, tvb, pinfo, r, t);
    if (label)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_reply_command, tvb, 0, 0, label));
    proto_item_set_generated(proto_tree_add_boolean(sub, hf_smtpscope_reply_valid, tvb, 0, 0, r->valid));
    if (rec->link_frame)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_response_to, tvb, 0, 0, rec->link_frame));
    if (r->latency_ns >= 0) {
        nstime_t ns;
        ns.secs = (time_t)(r->latency_ns / 1000000000);
        ns.nsecs = (int)(r->latency_ns % 1000000000);
        proto_item_set_generated(proto_tree_add_time(sub, hf_smtpscope_time, tvb, 0, 0, &ns));
    }

    info_add(pinfo, "S: %03d %s%s%s%s", r->code, first,
                        label ? " [" : "", label ? label : "", label ? "]" : "");
    tap_queue_packet(smtpscope_tap, pinfo, t);
}

static void render_capabilities(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_record *rec)
{
    const smtp_capabilities_ev *c = &rec->ev.u.caps;
    proto_tree *sub = proto_tree_add_subtree_format(tree, tvb, 0, 0, ett_smtpscope_capabilities, NULL,
                                                    "Capabilities (%u)", c->n_caps);
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_capability_server, tvb, 0, 0,
                                                   span_str(pinfo, c->server_name)));
    for (guint32 i = 0; i < c->n_caps; i++) {
        const smtp_capability *cap = &c->caps[i];
        proto_item *ti = proto_tree_add_string(sub, hf_smtpscope_capability, tvb, 0, 0,
                                               span_str(pinfo, cap->keyword));
        proto_item_set_generated(ti);
        if (cap->ext != SMTP_EXT_COUNT)
            proto_item_append_text(ti, " (%s)", reg_ext_description(cap->ext));
        if (cap->params.len) {
            proto_tree *csub = proto_item_add_subtree(ti, ett_smtpscope_capabilities);
            proto_item_set_generated(proto_tree_add_string(csub, hf_smtpscope_capability_params, tvb, 0, 0,
                                                           span_str(pinfo, cap->params)));
        }
    }
    if (c->size_limit)
        proto_item_set_generated(proto_tree_add_uint64(sub, hf_smtpscope_capability_size_limit, tvb, 0, 0,
                                                       c->size_limit));
}

static void render_auth(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_record *rec)
{
    const smtp_auth_ev *a = &rec->ev.u.auth;
    const char *outcome = smtp_auth_outcome_name(a->outcome);
    proto_tree *sub = proto_tree_add_subtree_format(tree, tvb, 0, 0, ett_smtpscope_auth, NULL,
                                                    "Authentication: %s, %s", span_str(pinfo, a->mechanism),
                                                    outcome);
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_auth_mechanism, tvb, 0, 0,
                                                   span_str(pinfo, a->mechanism)));
    if (a->username.len)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_auth_username, tvb, 0, 0,
                                                       span_str(pinfo, a->username)));
    if (smtpscope_show_secrets && a->secret.len)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_auth_secret, tvb, 0, 0,
                                                       span_str(pinfo, a->secret)));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_auth_outcome, tvb, 0, 0, outcome));
    if (a->code)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_auth_code, tvb, 0, 0, (guint32)a->code));
}

static void render_transaction(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_record *rec)
{
    const smtp_transaction_ev *x = &rec->ev.u.txn;
    const char *outcome = smtp_txn_outcome_name(x->outcome);
    proto_tree *sub = proto_tree_add_subtree_format(tree, tvb, 0, 0, ett_smtpscope_transaction, NULL,
                                                    "Transaction: %s, from <%s>, %u recipient%s", outcome,
                                                    span_str(pinfo, x->mail_from), x->n_recipients_total,
                                                    plurality(x->n_recipients_total, "", "s"));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_outcome, tvb, 0, 0, outcome));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_mail_from, tvb, 0, 0,
                                                   span_str(pinfo, x->mail_from)));
    if (x->mail_params.len)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_mail_params, tvb, 0, 0,
                                                       span_str(pinfo, x->mail_params)));
    for (guint32 i = 0; i < x->n_recipients; i++) {
        const smtp_recipient *rc = &x->recipients[i];
        proto_item *ti = proto_tree_add_string(sub, hf_smtpscope_txn_recipient, tvb, 0, 0,
                                               span_str(pinfo, rc->address));
        proto_item_set_generated(ti);
        proto_item_append_text(ti, " (%s)", smtp_rcpt_status_name(rc->status));
        proto_tree *rsub = proto_item_add_subtree(ti, ett_smtpscope_recipient);
        proto_item_set_generated(proto_tree_add_string(rsub, hf_smtpscope_txn_recipient_status, tvb, 0, 0,
                                                       smtp_rcpt_status_name(rc->status)));
        if (rc->code)
            proto_item_set_generated(proto_tree_add_uint(rsub, hf_smtpscope_txn_recipient_code, tvb, 0, 0,
                                                         (guint32)rc->code));
    }
    if (x->method != SMTP_METHOD_NONE) {
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_method, tvb, 0, 0,
                                                       smtp_method_name(x->method)));
        proto_item_set_generated(proto_tree_add_uint64(sub, hf_smtpscope_txn_size, tvb, 0, 0, x->size));
    }
    if (x->final_code)
        proto_item_set_generated(proto_tree_add_uint(sub, hf_smtpscope_txn_final_code, tvb, 0, 0,
                                                     (guint32)x->final_code));
    if (x->queue_id.len)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_queue_id, tvb, 0, 0,
                                                       span_str(pinfo, x->queue_id)));
    if (x->subject.len)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_subject, tvb, 0, 0,
                                                       span_str(pinfo, x->subject)));
    if (x->message_id.len)
        proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_txn_message_id, tvb, 0, 0,
                                                       span_str(pinfo, x->message_id)));

    smtpscope_tap_t *t = tap_new(pinfo, SMTPSCOPE_TAP_TRANSACTION);
    t->outcome = outcome;
    tap_queue_packet(smtpscope_tap, pinfo, t);
}

static void render_anomaly(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_record *rec)
{
    const smtp_anomaly_ev *a = &rec->ev.u.anomaly;
    const char *kind = reg_anomaly_name(a->kind);
    const char *cls = reg_anomaly_class_name(reg_anomaly_class(a->kind));

    proto_item *ti = proto_tree_add_string(tree, hf_smtpscope_anomaly, tvb, 0, 0, kind);
    proto_item_set_generated(ti);
    proto_item_append_text(ti, ": %s", a->message);
    proto_tree *sub = proto_item_add_subtree(ti, ett_smtpscope_anomaly);
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_anomaly_class, tvb, 0, 0, cls));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_anomaly_severity, tvb, 0, 0,
                                                   reg_severity_name(reg_anomaly_severity(a->kind))));
    proto_item_set_generated(proto_tree_add_string(sub, hf_smtpscope_anomaly_message, tvb, 0, 0, a->message));
    expert_add_info_format(pinfo, ti, &ei_smtpscope_anomaly[a->kind], "%s", a->message);

    smtpscope_tap_t *t = tap_new(pinfo, SMTPSCOPE_TAP_ANOMALY);
    t->anomaly = kind;
    t->anomaly_class = cls;
    tap_queue_packet(smtpscope_tap, pinfo, t);
}

static void render_starttls(proto_tree *tree, tvbuff_t *tvb, const ss_record *rec)
{
    proto_item *ti = proto_tree_add_boolean(tree, hf_smtpscope_starttls, tvb, 0, 0, TRUE);
    proto_item_set_generated(ti);
    proto_item_append_text(ti, " (STARTTLS in frame %u)", rec->ev.u.starttls.cmd_frame);
}

static void render_end(proto_tree *tree, tvbuff_t *tvb, const ss_record *rec)
{
    const smtp_end_ev *e = &rec->ev.u.end;
    proto_item_set_generated(proto_tree_add_string(tree, hf_smtpscope_conversation_outcome, tvb, 0, 0,
                                                   smtp_conv_outcome_name(e->outcome)));
    proto_item_set_generated(proto_tree_add_string(tree, hf_smtpscope_conversation_end, tvb, 0, 0,
                                                   smtp_end_reason_name(e->reason)));
}

static void render_summary(proto_tree *tree, tvbuff_t *tvb, const ss_frame *fr)
{
    proto_item *ti = proto_tree_add_string_format_value(
        tree, hf_smtpscope_conversation, tvb, 0, 0, "",
        "%u commands, %u replies, %u transactions (%u accepted), %u anomalies up to this frame",
        fr->n_commands, fr->n_replies, fr->n_transactions, fr->n_accepted, fr->n_anomalies);
    proto_item_set_generated(ti);
    proto_tree *sub = proto_item_add_subtree(ti, ett_smtpscope_conversation);
    for (const ss_record *rec = fr->first; rec; rec = rec->next)
        if (rec->ev.type == SMTP_EV_END)
            render_end(sub, tvb, rec);
}

static void render_body(proto_tree *tree, tvbuff_t *tvb, packet_info *pinfo, const ss_frame *fr)
{
    tvbuff_t *body = tvb_new_child_real_data(tvb, fr->body, fr->body_len, fr->body_len);
    add_new_data_source(pinfo, body, "SMTP message");
    proto_item *ti = proto_tree_add_uint(tree, hf_smtpscope_body_length, body, 0, 0, fr->body_len);
    proto_item_set_generated(ti);
    if (fr->body_truncated)
        proto_item_append_text(ti, " (truncated to the first %u bytes)", SMTPSCOPE_MAX_BODY);
    /* The client sends the message, whichever segment completes it. */
    info_add(pinfo, "C: end of message, %u bytes", fr->body_len);
    if (imf_handle) {
        /* IMF adds its tree (and its export object); the columns stay ours. */
        col_set_writable(pinfo->cinfo, -1, FALSE);
        call_dissector(imf_handle, body, pinfo, proto_tree_get_root(tree));
        col_set_writable(pinfo->cinfo, -1, TRUE);
    }
}

static void render_frame(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, const ss_frame *fr)
{
    proto_item *ti = proto_tree_add_item(tree, proto_smtpscope, tvb, 0, -1, ENC_NA);
    proto_tree *st = proto_item_add_subtree(ti, ett_smtpscope);
    proto_item_set_generated(proto_tree_add_uint(st, hf_smtpscope_direction, tvb, 0, 0, fr->dir));

    col_set_str(pinfo->cinfo, COL_PROTOCOL, "SMTP");
    if (!p_get_proto_data(pinfo->pool, pinfo, proto_smtpscope, SMTPSCOPE_KEY_INFO))
        col_clear(pinfo->cinfo, COL_INFO);

    guint32 index = 0;
    for (const ss_record *rec = fr->first; rec; rec = rec->next, index++) {
        if (fr->body && index == fr->body_index)
            render_body(st, tvb, pinfo, fr);
        switch (rec->ev.type) {
        case SMTP_EV_COMMAND:      render_command(st, tvb, pinfo, rec); break;
        case SMTP_EV_REPLY:        render_reply(st, tvb, pinfo, rec); break;
        case SMTP_EV_CAPABILITIES: render_capabilities(st, tvb, pinfo, rec); break;
        case SMTP_EV_STARTTLS:     render_starttls(st, tvb, rec); break;
        case SMTP_EV_AUTH:         render_auth(st, tvb, pinfo, rec); break;
        case SMTP_EV_TRANSACTION:  render_transaction(st, tvb, pinfo, rec); break;
        case SMTP_EV_ANOMALY:      render_anomaly(st, tvb, pinfo, rec); break;
        case SMTP_EV_END:          break;
        }
    }
    if (fr->body && index == fr->body_index)
        render_body(st, tvb, pinfo, fr);
    render_summary(st, tvb, fr);

    const char *who = fr->dir == SMTP_DIR_CLIENT ? "C" : "S";
    if (fr->body_bytes && !fr->body)
        info_add(pinfo, "%s: message data, %u bytes", who, fr->body_bytes);
    else if (!fr->first && !fr->body)
        info_add(pinfo, "%s: %s, %u bytes", who,
                            fr->retransmission ? "retransmission" : "partial line",
                            tvb_reported_length(tvb));
}

/* ---- dissectors --------------------------------------------------------- */

static int dissect_common(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree,
                          const struct tcpinfo *ti, gboolean via_tls, ss_role_hint hint)
{
    /* Which call of this frame this is: TLS may hand several records. */
    guint call = GPOINTER_TO_UINT(p_get_proto_data(pinfo->pool, pinfo, proto_smtpscope, SMTPSCOPE_KEY_CALLS));
    p_add_proto_data(pinfo->pool, pinfo, proto_smtpscope, SMTPSCOPE_KEY_CALLS, GUINT_TO_POINTER(call + 1));

    ss_frame *fr = (ss_frame *)p_get_proto_data(wmem_file_scope(), pinfo, proto_smtpscope, call);
    if (!fr && !PINFO_FD_VISITED(pinfo)) {
        ss_conv *c = conv_get(pinfo, tvb, hint);
        fr = analyse_segment(c, tvb, pinfo, ti, via_tls);
        p_add_proto_data(wmem_file_scope(), pinfo, proto_smtpscope, call, fr);
        for (const ss_record *rec = fr->first; rec; rec = rec->next)
            if (rec->ev.type == SMTP_EV_STARTTLS && tls_handle && !via_tls)
                ssl_starttls_ack(tls_handle, pinfo, smtpscope_tls_handle);
    }
    if (!fr) {
        /* Not seen on the first pass (e.g. enabled since): nothing to show. */
        col_set_str(pinfo->cinfo, COL_PROTOCOL, "SMTP");
        proto_tree_add_item(tree, proto_smtpscope, tvb, 0, -1, ENC_NA);
        return tvb_captured_length(tvb);
    }
    render_frame(tvb, pinfo, tree, fr);
    return tvb_captured_length(tvb);
}

/* Only TCP itself hands a struct tcpinfo; tunnels that reach the tcp.port
 * table (SOCKS, HTTP CONNECT) pass something else or nothing. */
static const struct tcpinfo *tcpinfo_from(packet_info *pinfo, void *data)
{
    wmem_list_frame_t *me = wmem_list_tail(pinfo->layers);
    wmem_list_frame_t *caller = me ? wmem_list_frame_prev(me) : NULL;
    if (!data || !caller || GPOINTER_TO_INT(wmem_list_frame_data(caller)) != proto_tcp)
        return NULL;
    return (const struct tcpinfo *)data;
}

static ss_role_hint looks_like_smtp(tvbuff_t *tvb);

static int dissect_smtpscope(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    const struct tcpinfo *ti = tcpinfo_from(pinfo, data);
    /* Through a tunnel the TCP handshake says nothing of the SMTP roles. */
    return dissect_common(tvb, pinfo, tree, ti, FALSE, ti ? SS_HINT_NONE : looks_like_smtp(tvb));
}

static int dissect_smtpscope_tls(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data _U_)
{
    return dissect_common(tvb, pinfo, tree, NULL, TRUE, SS_HINT_NONE);
}

/* A "220 " / "220-" greeting line (from the server) or a HELO/EHLO line
 * (from the client), ended within SMTPSCOPE_HEUR_LINE bytes. */
static ss_role_hint looks_like_smtp(tvbuff_t *tvb)
{
    gint avail = tvb_captured_length(tvb);
    gint eol = tvb_find_guint8(tvb, 0, MIN(avail, SMTPSCOPE_HEUR_LINE), '\n');
    if (eol < 5)
        return SS_HINT_NONE;
    if (tvb_strneql(tvb, 0, "220 ", 4) == 0 || tvb_strneql(tvb, 0, "220-", 4) == 0)
        return SS_HINT_SRC_IS_SERVER;
    if (tvb_strncaseeql(tvb, 0, "EHLO ", 5) == 0 || tvb_strncaseeql(tvb, 0, "HELO ", 5) == 0)
        return SS_HINT_SRC_IS_CLIENT;
    return SS_HINT_NONE;
}

static gboolean dissect_smtpscope_heur(tvbuff_t *tvb, packet_info *pinfo, proto_tree *tree, void *data)
{
    ss_role_hint hint = looks_like_smtp(tvb);
    if (hint == SS_HINT_NONE)
        return FALSE;
    conversation_t *conversation = find_or_create_conversation(pinfo);
    /* From this frame on only: earlier frames were not ours on the first pass. */
    conversation_set_dissector_from_frame_number(conversation, pinfo->num, smtpscope_handle);
    dissect_common(tvb, pinfo, tree, tcpinfo_from(pinfo, data), FALSE, hint);
    return TRUE;
}

/* ---- registration ------------------------------------------------------- */

static void build_value_strings(void)
{
    GArray *codes = g_array_new(TRUE, TRUE, sizeof(value_string));
    for (guint32 code = 0; code < 1000; code++) {
        /* Every code a reply can carry gets a label, unknown ones by class. */
        if (reg_reply_known((int)code) || (code >= 100 && code < 600)) {
            value_string v = { code, reg_reply_meaning((int)code, SMTP_CMD_NONE) };
            g_array_append_val(codes, v);
        }
    }
    guint n = codes->len;
    reply_code_vs = (value_string *)g_array_free(codes, FALSE);
    reply_code_vse = value_string_ext_new(reply_code_vs, n + 1, "smtpscope_reply_code");

    static const guint classes[] = { 2, 4, 5 };
    for (guint i = 0; i < G_N_ELEMENTS(classes); i++) {
        enhanced_class_vs[i].value = classes[i];
        enhanced_class_vs[i].strptr = reg_enhanced_class_name(classes[i]);
    }
    for (guint i = 0; i < 8; i++) {
        enhanced_subject_vs[i].value = i;
        enhanced_subject_vs[i].strptr = reg_enhanced_subject_name(i);
    }
}

static int expert_group(smtp_anomaly kind)
{
    switch (reg_anomaly_class(kind)) {
    case ANC_SEQUENCE:   return PI_PROTOCOL;
    case ANC_REPLY:      return PI_RESPONSE_CODE;
    case ANC_CAPABILITY: return PI_PROTOCOL;
    case ANC_SYNTAX:     return PI_MALFORMED;
    case ANC_LIMIT:      return PI_UNDECODED;
    case ANC_TLS:        return PI_SECURITY;
    case ANC_AUTH:       return PI_SECURITY;
    case ANC_TRANSPORT:  return PI_SEQUENCE;
    case ANC_TIMING:     return PI_SEQUENCE;
    case ANC_SESSION:    return PI_RESPONSE_CODE;
    default:             return PI_PROTOCOL;
    }
}

static int expert_severity(smtp_anomaly kind)
{
    switch (reg_anomaly_severity(kind)) {
    case ANS_ERROR: return PI_ERROR;
    case ANS_WARN:  return PI_WARN;
    default:        return PI_NOTE;
    }
}

static void register_expert_fields(void)
{
    /* Registration keeps pointers into these arrays: they live for good. */
    ei_smtpscope_anomaly = g_new0(expert_field, SMTP_AN_COUNT);
    ei_register_info *ei = g_new0(ei_register_info, SMTP_AN_COUNT);
    for (int k = 0; k < SMTP_AN_COUNT; k++) {
        ei_smtpscope_anomaly[k].ei = EI_INIT_EI;
        ei_smtpscope_anomaly[k].hf = EI_INIT_HF;
        ei[k].ids = &ei_smtpscope_anomaly[k];
        ei[k].eiinfo.name = g_strdup_printf("smtpscope.anomaly.%s", reg_anomaly_name((smtp_anomaly)k));
        ei[k].eiinfo.group = expert_group((smtp_anomaly)k);
        ei[k].eiinfo.severity = expert_severity((smtp_anomaly)k);
        ei[k].eiinfo.summary = reg_anomaly_description((smtp_anomaly)k);
    }
    expert_module_t *expert = expert_register_protocol(proto_smtpscope);
    expert_register_field_array(expert, ei, SMTP_AN_COUNT);
}

void proto_register_smtpscope(void)
{
    static hf_register_info hf[] = {
        { &hf_smtpscope_direction,
          { "Direction", "smtpscope.direction", FT_UINT8, BASE_DEC, VALS(direction_vs), 0x0,
            "Which side sent this segment: the client opened the connection.", HFILL } },
        { &hf_smtpscope_command_line,
          { "Command line", "smtpscope.command.line", FT_STRING, BASE_NONE, NULL, 0x0,
            "A whole client command line, without CRLF, AUTH secrets masked.", HFILL } },
        { &hf_smtpscope_command,
          { "Command", "smtpscope.command", FT_STRING, BASE_NONE, NULL, 0x0,
            "The command verb as the client sent it, e.g. RCPT.", HFILL } },
        { &hf_smtpscope_command_args,
          { "Arguments", "smtpscope.command.args", FT_STRING, BASE_NONE, NULL, 0x0,
            "What follows the verb on the command line (secrets masked).", HFILL } },
        { &hf_smtpscope_command_seq,
          { "Command number", "smtpscope.command.seq", FT_UINT32, BASE_DEC, NULL, 0x0,
            "Position of the command in the conversation, counting from 1.", HFILL } },
        { &hf_smtpscope_pipelined,
          { "Pipelined", "smtpscope.pipelined", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "The command was sent while an earlier command was still unanswered.", HFILL } },
        { &hf_smtpscope_response_in,
          { "Reply in", "smtpscope.response_in", FT_FRAMENUM, BASE_NONE,
            FRAMENUM_TYPE(FT_FRAMENUM_RESPONSE), 0x0,
            "The frame that completes the reply to this command.", HFILL } },
        { &hf_smtpscope_reply_code,
          { "Reply code", "smtpscope.reply.code", FT_UINT16, BASE_DEC | BASE_EXT_STRING, NULL, 0x0,
            "The three-digit reply code, labelled with its generic meaning.", HFILL } },
        { &hf_smtpscope_reply_meaning,
          { "Meaning", "smtpscope.reply.meaning", FT_STRING, BASE_NONE, NULL, 0x0,
            "What the code means as a reply to the command it answers.", HFILL } },
        { &hf_smtpscope_reply_category,
          { "Category", "smtpscope.reply.category", FT_STRING, BASE_NONE, NULL, 0x0,
            "Class of the reply from its first digit (RFC 5321 4.2.1).", HFILL } },
        { &hf_smtpscope_reply_subject,
          { "Subject", "smtpscope.reply.subject", FT_STRING, BASE_NONE, NULL, 0x0,
            "Subject of the reply from its second digit (RFC 5321 4.2.1).", HFILL } },
        { &hf_smtpscope_reply_line,
          { "Line", "smtpscope.reply.line", FT_STRING, BASE_NONE, NULL, 0x0,
            "The text of one line of the reply, after the code.", HFILL } },
        { &hf_smtpscope_reply_valid,
          { "Valid for the command", "smtpscope.reply.valid", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "Whether the code is one the answered command may get.", HFILL } },
        { &hf_smtpscope_reply_enhanced,
          { "Enhanced status code", "smtpscope.reply.enhanced", FT_STRING, BASE_NONE, NULL, 0x0,
            "The RFC 3463 enhanced status code at the start of the reply text, e.g. 5.1.1.", HFILL } },
        { &hf_smtpscope_reply_enhanced_class,
          { "Class", "smtpscope.reply.enhanced.class", FT_UINT8, BASE_DEC, NULL, 0x0,
            "First number of the enhanced status code: success or kind of failure.", HFILL } },
        { &hf_smtpscope_reply_enhanced_subject,
          { "Subject", "smtpscope.reply.enhanced.subject", FT_UINT16, BASE_DEC, NULL, 0x0,
            "Second number of the enhanced status code: what the status is about.", HFILL } },
        { &hf_smtpscope_reply_enhanced_detail,
          { "Detail", "smtpscope.reply.enhanced.detail", FT_UINT16, BASE_DEC, NULL, 0x0,
            "Third number of the enhanced status code.", HFILL } },
        { &hf_smtpscope_reply_enhanced_meaning,
          { "Meaning", "smtpscope.reply.enhanced.meaning", FT_STRING, BASE_NONE, NULL, 0x0,
            "Meaning of the enhanced status code in the IANA registry.", HFILL } },
        { &hf_smtpscope_reply_command,
          { "Answers", "smtpscope.reply.command", FT_STRING, BASE_NONE, NULL, 0x0,
            "The command the reply answers: a verb, or greeting, data, bdat or auth.", HFILL } },
        { &hf_smtpscope_response_to,
          { "Reply to command in", "smtpscope.response_to", FT_FRAMENUM, BASE_NONE,
            FRAMENUM_TYPE(FT_FRAMENUM_REQUEST), 0x0,
            "The frame that completed the command this reply answers.", HFILL } },
        { &hf_smtpscope_time,
          { "Reply time", "smtpscope.time", FT_RELATIVE_TIME, BASE_NONE, NULL, 0x0,
            "Time from the command (or the end of the message) to its reply.", HFILL } },
        { &hf_smtpscope_capability,
          { "Capability", "smtpscope.capability", FT_STRING, BASE_NONE, NULL, 0x0,
            "An EHLO keyword the server advertised.", HFILL } },
        { &hf_smtpscope_capability_params,
          { "Parameters", "smtpscope.capability.params", FT_STRING, BASE_NONE, NULL, 0x0,
            "The parameters that follow an EHLO keyword.", HFILL } },
        { &hf_smtpscope_capability_server,
          { "Server name", "smtpscope.capability.server", FT_STRING, BASE_NONE, NULL, 0x0,
            "The name the server gave on the first line of its EHLO reply.", HFILL } },
        { &hf_smtpscope_capability_size_limit,
          { "Size limit", "smtpscope.capability.size_limit", FT_UINT64, BASE_DEC, NULL, 0x0,
            "The message size limit the server advertised with SIZE, in octets.", HFILL } },
        { &hf_smtpscope_starttls,
          { "STARTTLS accepted", "smtpscope.starttls", FT_BOOLEAN, BASE_NONE, NULL, 0x0,
            "The server accepted STARTTLS: the rest of the stream is TLS.", HFILL } },
        { &hf_smtpscope_auth_mechanism,
          { "Mechanism", "smtpscope.auth.mechanism", FT_STRING, BASE_NONE, NULL, 0x0,
            "The SASL mechanism of an AUTH exchange.", HFILL } },
        { &hf_smtpscope_auth_username,
          { "Username", "smtpscope.auth.username", FT_STRING, BASE_NONE, NULL, 0x0,
            "The user name an AUTH exchange carried, where the mechanism shows one.", HFILL } },
        { &hf_smtpscope_auth_secret,
          { "Secret", "smtpscope.auth.secret", FT_STRING, BASE_NONE, NULL, 0x0,
            "The decoded password or token; shown only when the preference allows it.", HFILL } },
        { &hf_smtpscope_auth_outcome,
          { "Outcome", "smtpscope.auth.outcome", FT_STRING, BASE_NONE, NULL, 0x0,
            "How the AUTH exchange ended: success, failure, cancelled or unfinished.", HFILL } },
        { &hf_smtpscope_auth_code,
          { "Final code", "smtpscope.auth.code", FT_UINT16, BASE_DEC, NULL, 0x0,
            "The reply code that ended the AUTH exchange.", HFILL } },
        { &hf_smtpscope_txn_mail_from,
          { "Mail from", "smtpscope.transaction.mail_from", FT_STRING, BASE_NONE, NULL, 0x0,
            "The reverse-path of the transaction, empty for the null sender.", HFILL } },
        { &hf_smtpscope_txn_mail_params,
          { "Mail parameters", "smtpscope.transaction.mail_params", FT_STRING, BASE_NONE, NULL, 0x0,
            "The ESMTP parameters of the MAIL command.", HFILL } },
        { &hf_smtpscope_txn_recipient,
          { "Recipient", "smtpscope.transaction.recipient", FT_STRING, BASE_NONE, NULL, 0x0,
            "A forward-path given with RCPT in the transaction.", HFILL } },
        { &hf_smtpscope_txn_recipient_status,
          { "Status", "smtpscope.transaction.recipient.status", FT_STRING, BASE_NONE, NULL, 0x0,
            "What the server said to the recipient: accepted, rejected, deferred or unanswered.", HFILL } },
        { &hf_smtpscope_txn_recipient_code,
          { "Code", "smtpscope.transaction.recipient.code", FT_UINT16, BASE_DEC, NULL, 0x0,
            "The reply code the server gave to the recipient.", HFILL } },
        { &hf_smtpscope_txn_method,
          { "Method", "smtpscope.transaction.method", FT_STRING, BASE_NONE, NULL, 0x0,
            "How the message was sent: DATA or BDAT.", HFILL } },
        { &hf_smtpscope_txn_size,
          { "Size", "smtpscope.transaction.size", FT_UINT64, BASE_DEC, NULL, 0x0,
            "Message octets after dot-unstuffing, without the final dot line.", HFILL } },
        { &hf_smtpscope_txn_final_code,
          { "Final code", "smtpscope.transaction.final_code", FT_UINT16, BASE_DEC, NULL, 0x0,
            "The reply code after the message or its last chunk.", HFILL } },
        { &hf_smtpscope_txn_outcome,
          { "Outcome", "smtpscope.transaction.outcome", FT_STRING, BASE_NONE, NULL, 0x0,
            "How the transaction ended: accepted, rejected, deferred, aborted or mail_rejected.", HFILL } },
        { &hf_smtpscope_txn_queue_id,
          { "Queue id", "smtpscope.transaction.queue_id", FT_STRING, BASE_NONE, NULL, 0x0,
            "The queue id the server quoted when it accepted the message.", HFILL } },
        { &hf_smtpscope_txn_subject,
          { "Message subject", "smtpscope.transaction.subject", FT_STRING, BASE_NONE, NULL, 0x0,
            "The Subject: header of the message, unfolded.", HFILL } },
        { &hf_smtpscope_txn_message_id,
          { "Message-ID", "smtpscope.transaction.message_id", FT_STRING, BASE_NONE, NULL, 0x0,
            "The Message-ID: header of the message.", HFILL } },
        { &hf_smtpscope_anomaly,
          { "Anomaly", "smtpscope.anomaly", FT_STRING, BASE_NONE, NULL, 0x0,
            "The kind of anomaly the analysis found, e.g. rcpt_without_mail.", HFILL } },
        { &hf_smtpscope_anomaly_class,
          { "Class", "smtpscope.anomaly.class", FT_STRING, BASE_NONE, NULL, 0x0,
            "The class of the anomaly, e.g. sequence for out-of-sequence commands.", HFILL } },
        { &hf_smtpscope_anomaly_severity,
          { "Severity", "smtpscope.anomaly.severity", FT_STRING, BASE_NONE, NULL, 0x0,
            "How serious the anomaly is: note, warning or error.", HFILL } },
        { &hf_smtpscope_anomaly_message,
          { "Message", "smtpscope.anomaly.message", FT_STRING, BASE_NONE, NULL, 0x0,
            "One sentence on what went wrong, with specifics.", HFILL } },
        { &hf_smtpscope_conversation,
          { "Conversation summary", "smtpscope.conversation", FT_STRING, BASE_NONE, NULL, 0x0,
            "Counts of the conversation so far, as of this frame.", HFILL } },
        { &hf_smtpscope_conversation_outcome,
          { "Outcome", "smtpscope.conversation.outcome", FT_STRING, BASE_NONE, NULL, 0x0,
            "How the conversation ended for mail: delivered, rejected, deferred, no_mail, cut_off or tls.", HFILL } },
        { &hf_smtpscope_conversation_end,
          { "End", "smtpscope.conversation.end", FT_STRING, BASE_NONE, NULL, 0x0,
            "How the conversation ended on the wire: fin or rst.", HFILL } },
        { &hf_smtpscope_body_length,
          { "Message length", "smtpscope.body.length", FT_UINT32, BASE_DEC, NULL, 0x0,
            "Bytes of the message handed to the IMF dissector.", HFILL } },
    };

    static gint *ett[] = {
        &ett_smtpscope,
        &ett_smtpscope_command,
        &ett_smtpscope_reply,
        &ett_smtpscope_enhanced,
        &ett_smtpscope_capabilities,
        &ett_smtpscope_auth,
        &ett_smtpscope_transaction,
        &ett_smtpscope_recipient,
        &ett_smtpscope_anomaly,
        &ett_smtpscope_conversation,
    };

    build_value_strings();
    for (guint i = 0; i < array_length(hf); i++) {
        if (hf[i].p_id == &hf_smtpscope_reply_code)
            hf[i].hfinfo.strings = reply_code_vse;
        else if (hf[i].p_id == &hf_smtpscope_reply_enhanced_class)
            hf[i].hfinfo.strings = enhanced_class_vs;
        else if (hf[i].p_id == &hf_smtpscope_reply_enhanced_subject)
            hf[i].hfinfo.strings = enhanced_subject_vs;
    }

    proto_smtpscope = proto_register_protocol("SMTP analysis (smtpscope)", "SMTPSCOPE", "smtpscope");
    proto_register_field_array(proto_smtpscope, hf, array_length(hf));
    proto_register_subtree_array(ett, array_length(ett));
    register_expert_fields();

    module_t *module = prefs_register_protocol(proto_smtpscope, NULL);
    prefs_register_bool_preference(module, "show_secrets", "Show AUTH secrets",
                                   "Decode and show AUTH passwords and tokens (smtpscope.auth.secret). "
                                   "Off by default: they are masked everywhere.",
                                   &smtpscope_show_secrets);

    smtpscope_handle = register_dissector("smtpscope", dissect_smtpscope, proto_smtpscope);
    smtpscope_tls_handle = register_dissector("smtpscope.tls", dissect_smtpscope_tls, proto_smtpscope);
    smtpscope_tap = register_tap("smtpscope");
}

void proto_reg_handoff_smtpscope(void)
{
    /* Plugins hand off after the built-in dissectors, so these ports are
     * taken from "smtp"; Decode As gives them back. */
    dissector_add_uint_range_with_preference("tcp.port", SMTPSCOPE_TCP_PORTS, smtpscope_handle);
    ssl_dissector_add(SMTPSCOPE_TLS_PORT, smtpscope_tls_handle);
    heur_dissector_add("tcp", dissect_smtpscope_heur, "SMTP over TCP (smtpscope)", "smtpscope_tcp",
                       proto_smtpscope, HEURISTIC_ENABLE);
    tcp_port_table = find_dissector_table("tcp.port");
    proto_tcp = proto_get_id_by_filter_name("tcp");
    tls_handle = find_dissector("tls");
    imf_handle = find_dissector_add_dependency("imf", proto_smtpscope);
    smtpscope_tap_register_stats();
}

/* ---- plugin entry points ------------------------------------------------ */

#ifndef SMTPSCOPE_VERSION
#define SMTPSCOPE_VERSION "0.0.0"
#endif

WS_DLL_PUBLIC_DEF const gchar plugin_version[] = SMTPSCOPE_VERSION;
WS_DLL_PUBLIC_DEF const int plugin_want_major = WIRESHARK_VERSION_MAJOR;
WS_DLL_PUBLIC_DEF const int plugin_want_minor = WIRESHARK_VERSION_MINOR;

WS_DLL_PUBLIC void plugin_register(void);

void plugin_register(void)
{
    static proto_plugin plug;
    plug.register_protoinfo = proto_register_smtpscope;
    plug.register_handoff = proto_reg_handoff_smtpscope;
    proto_register_plugin(&plug);
}

#if WIRESHARK_VERSION_MAJOR > 4 || (WIRESHARK_VERSION_MAJOR == 4 && WIRESHARK_VERSION_MINOR >= 2)
WS_DLL_PUBLIC uint32_t plugin_describe(void);

uint32_t plugin_describe(void)
{
    return WS_PLUGIN_DESC_DISSECTOR;
}
#endif

/*
 * Editor modelines  -  https://www.wireshark.org/tools/modelines.html
 *
 * Local variables:
 * c-basic-offset: 4
 * tab-width: 8
 * indent-tabs-mode: nil
 * End:
 *
 * vi: set shiftwidth=4 tabstop=8 expandtab:
 * :indentSize=4:tabSize=8:noTabs=true:
 */
