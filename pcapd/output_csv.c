/* output_csv.c -- one row per server reply, with a header row (RFC 4180).
 *
 * Columns are listed once in csv_columns[] and documented in
 * docs/ndjson.md.  Fields holding a comma, quote, CR or LF are quoted; the
 * lines of a multi-line reply are joined with LF inside the `text` field.
 */
#include "pcapd.h"

#include <string.h>

static const char csv_header[] =
    "conv,frame,ts,client,server,command,command_frame,code,enhanced,category,subject,"
    "meaning,enhanced_meaning,latency_ms,text,file\r\n";

static void csv_cstr(outbuf *ob, const char *s)
{
    if (s)
        ob_csv_str(ob, s, strlen(s));
}

static void csv_begin(pcapd_ctx *c)
{
    ob_put(&c->ob, csv_header, sizeof csv_header - 1);
}

static void csv_event(pcapd_ctx *c, pcapd_conv *pc, const tcp_conv_info *conv, const smtp_event *ev)
{
    (void)pc;
    if (ev->type != SMTP_EV_REPLY)
        return;
    const smtp_reply_ev *r = &ev->u.reply;
    outbuf *ob = &c->ob;
    ob_conv(ob, conv->id);
    ob_putc(ob, ',');
    ob_u64(ob, ev->pos.frame);
    ob_putc(ob, ',');
    ob_ts_epoch(ob, ev->pos.ts_ns);
    ob_putc(ob, ',');
    ob_endpoint(ob, conv->family, conv->client, conv->client_port);
    ob_putc(ob, ',');
    ob_endpoint(ob, conv->family, conv->server, conv->server_port);
    ob_putc(ob, ',');
    csv_cstr(ob, r->command_label);
    ob_putc(ob, ',');
    if (r->cmd_frame)
        ob_u64(ob, r->cmd_frame);
    ob_putc(ob, ',');
    ob_u64(ob, (uint64_t)(r->code < 0 ? 0 : r->code));
    ob_putc(ob, ',');
    if (r->enhanced.present) {
        char buf[16];
        ob_puts(ob, reg_enhanced_format(&r->enhanced, buf, sizeof buf));
    }
    ob_putc(ob, ',');
    csv_cstr(ob, r->category);
    ob_putc(ob, ',');
    csv_cstr(ob, r->subject);
    ob_putc(ob, ',');
    csv_cstr(ob, r->meaning);
    ob_putc(ob, ',');
    csv_cstr(ob, r->enh_meaning);
    ob_putc(ob, ',');
    if (r->latency_ns >= 0)
        ob_ms(ob, r->latency_ns);
    ob_putc(ob, ',');
    /* Join the lines, then quote the whole field once.  The scratch string
     * lives in the context so no reply allocates. */
    GString *text = c->scratch;
    g_string_truncate(text, 0);
    for (uint32_t i = 0; i < r->n_lines; i++) {
        if (i)
            g_string_append_c(text, '\n');
        g_string_append_len(text, r->lines[i].ptr, (gssize)r->lines[i].len);
    }
    ob_csv_str(ob, text->str, text->len);
    ob_putc(ob, ',');
    csv_cstr(ob, c->file);
    OBL(ob, "\r\n");
    if (c->live)
        ob_flush(ob);
}

static void csv_end(pcapd_ctx *c)
{
    (void)c;
}

const pcapd_output pcapd_output_csv = { csv_begin, csv_event, csv_end, NULL };
