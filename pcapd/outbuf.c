/* outbuf.c -- the byte buffer every renderer writes into.
 *
 * Records are assembled here field by field and written to stdout in large
 * blocks: no printf per field on the hot path, and timestamps formatted with
 * a cached date so gmtime runs once per second of capture time.
 */
#include "pcapd.h"
#include "progress.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

/* Flush to the FILE once this much is pending. */
#define OB_FLUSH_AT (256 * 1024)

void ob_init(outbuf *ob, FILE *fp, size_t cap)
{
    ob->cap = cap ? cap : 1024;
    ob->buf = g_malloc(ob->cap);
    ob->len = 0;
    ob->fp = fp;
    ob->failed = false;
}

void ob_track_convs(outbuf *ob)
{
    if (!ob->marks)
        ob->marks = g_array_new(FALSE, FALSE, sizeof(ob_mark));
}

void ob_free(outbuf *ob)
{
    if (ob->marks)
        g_array_free(ob->marks, TRUE);
    ob->marks = NULL;
    g_free(ob->buf);
    ob->buf = NULL;
    ob->len = ob->cap = 0;
}

void ob_flush(outbuf *ob)
{
    if (!ob->fp || ob->len == 0)
        return;
    if (ob->fp == stdout)
        progress_hide();
    if (fwrite(ob->buf, 1, ob->len, ob->fp) != ob->len)
        ob->failed = true;
    ob->len = 0;
}

void ob_reserve(outbuf *ob, size_t n)
{
    if (ob->fp && ob->len + n > OB_FLUSH_AT && ob->len > 0)
        ob_flush(ob);
    if (ob->len + n <= ob->cap)
        return;
    size_t cap = ob->cap;
    while (cap < ob->len + n)
        cap *= 2;
    ob->buf = g_realloc(ob->buf, cap);
    ob->cap = cap;
}

void ob_put(outbuf *ob, const char *s, size_t n)
{
    ob_reserve(ob, n);
    memcpy(ob->buf + ob->len, s, n);
    ob->len += n;
}

void ob_puts(outbuf *ob, const char *s)
{
    ob_put(ob, s, strlen(s));
}

void ob_putc(outbuf *ob, char c)
{
    ob_reserve(ob, 1);
    ob->buf[ob->len++] = c;
}

void ob_u64(outbuf *ob, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ob_put(ob, tmp + i, sizeof tmp - i);
}

void ob_conv(outbuf *ob, uint64_t id)
{
    size_t before = ob->len;
    ob_u64(ob, id);
    if (ob->marks) {
        ob_mark m = { before, (uint32_t)(ob->len - before), id };
        g_array_append_val(ob->marks, m);
    }
}

guint ob_copy_mapped(outbuf *dst, const outbuf *src, size_t from, size_t to, guint mark,
                     uint64_t (*map)(void *user, uint64_t id), void *user)
{
    size_t at = from;
    guint n = src->marks ? src->marks->len : 0;
    for (; mark < n; mark++) {
        const ob_mark *m = &g_array_index(src->marks, ob_mark, mark);
        if (m->off >= to)
            break;
        ob_put(dst, src->buf + at, m->off - at);
        ob_u64(dst, map(user, m->id));
        at = m->off + m->len;
    }
    ob_put(dst, src->buf + at, to - at);
    return mark;
}

static uint64_t add_base(void *user, uint64_t id)
{
    return *(const uint64_t *)user + id;
}

void ob_copy_renumbered(outbuf *dst, const outbuf *src, uint64_t base)
{
    ob_copy_mapped(dst, src, 0, src->len, 0, add_base, &base);
}

void ob_code(outbuf *ob, int code)
{
    if (code < 0 || code > 999) {
        ob_i64(ob, code);
        return;
    }
    char d[3] = { (char)('0' + code / 100), (char)('0' + code / 10 % 10), (char)('0' + code % 10) };
    ob_put(ob, d, 3);
}

void ob_i64(outbuf *ob, int64_t v)
{
    if (v < 0) {
        ob_putc(ob, '-');
        ob_u64(ob, (uint64_t)0 - (uint64_t)v);
    } else {
        ob_u64(ob, (uint64_t)v);
    }
}

void ob_printf(outbuf *ob, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        ob_reserve(ob, (size_t)n + 1);
        vsnprintf(ob->buf + ob->len, (size_t)n + 1, fmt, ap2);
        ob->len += (size_t)n;
    }
    va_end(ap2);
}

/* Zero-padded decimal of exactly `width` digits. */
static void ob_fixed(outbuf *ob, uint64_t v, int width)
{
    char tmp[24];
    for (int i = width - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + v % 10);
        v /= 10;
    }
    ob_put(ob, tmp, (size_t)width);
}

static void split_ns(int64_t ts_ns, int64_t *sec, int64_t *ns)
{
    *sec = ts_ns / 1000000000LL;
    *ns = ts_ns % 1000000000LL;
    if (*ns < 0) {
        *ns += 1000000000LL;
        *sec -= 1;
    }
}

void ob_ts_epoch(outbuf *ob, int64_t ts_ns)
{
    int64_t sec, ns;
    split_ns(ts_ns, &sec, &ns);
    ob_i64(ob, sec);
    ob_putc(ob, '.');
    ob_fixed(ob, (uint64_t)ns / 1000, 6);
}

void ob_ts_utc(outbuf *ob, int64_t ts_ns)
{
    /* The date and time of day change once per second; cache them (per
     * thread: -j renders in several). */
    static _Thread_local int64_t cached_sec = INT64_MIN;
    static _Thread_local char cached[24];
    int64_t sec, ns;
    split_ns(ts_ns, &sec, &ns);
    if (sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(cached, sizeof cached, "%Y-%m-%d %H:%M:%S", &tm) == 0)
            g_strlcpy(cached, "(invalid time)", sizeof cached);
        cached_sec = sec;
    }
    ob_puts(ob, cached);
    ob_putc(ob, '.');
    ob_fixed(ob, (uint64_t)ns / 1000, 6);
}

void ob_ms(outbuf *ob, int64_t ns)
{
    if (ns < 0) {
        ob_putc(ob, '-');
        ns = -ns;
    }
    uint64_t us = (uint64_t)ns / 1000;
    ob_u64(ob, us / 1000);
    ob_putc(ob, '.');
    ob_fixed(ob, us % 1000, 3);
}

/* Length of the valid UTF-8 sequence at s[0..n), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) { need = 2; min = 0x80; }
    else if (c >= 0xe0 && c <= 0xef) { need = 3; min = 0x800; }
    else if (c >= 0xf0 && c <= 0xf4) { need = 4; min = 0x10000; }
    else return 0;
    if (n < need)
        return 0;
    unsigned cp = c & (0xff >> (need + 1));
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return need;
}

void ob_json_str(outbuf *ob, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    /* Worst case six bytes per input byte, plus quotes. */
    ob_reserve(ob, n * 6 + 2);
    char *o = ob->buf + ob->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
        } else if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = (char)c;
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            *o++ = '\\';
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
            i++;
        } else {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                memcpy(o, "\xef\xbf\xbd", 3);  /* U+FFFD */
                o += 3;
                i++;
            } else {
                memcpy(o, p + i, k);
                o += k;
                i += k;
            }
        }
    }
    *o++ = '"';
    ob->len = (size_t)(o - ob->buf);
}

void ob_json_cstr(outbuf *ob, const char *s)
{
    if (!s)
        ob_put(ob, "null", 4);
    else
        ob_json_str(ob, s, strlen(s));
}

void ob_csv_str(outbuf *ob, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    bool quote = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n') {
            quote = true;
            break;
        }
    }
    /* Worst case: every byte invalid UTF-8 (3 bytes each), plus quotes. */
    ob_reserve(ob, n * 3 + 2);
    char *o = ob->buf + ob->len;
    if (quote)
        *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x80 || c == 0) {
            size_t k = c ? utf8_len(p + i, n - i) : 0;
            if (k == 0) {
                memcpy(o, "\xef\xbf\xbd", 3);  /* U+FFFD: keep the file valid UTF-8 */
                o += 3;
                i++;
            } else {
                memcpy(o, p + i, k);
                o += k;
                i += k;
            }
            continue;
        }
        if (c == '"')
            *o++ = '"';
        *o++ = (char)c;
        i++;
    }
    if (quote)
        *o++ = '"';
    ob->len = (size_t)(o - ob->buf);
}

void ob_text_str(outbuf *ob, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    ob_reserve(ob, n);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c >= 0x20 && c < 0x7f) {
            ob->buf[ob->len++] = (char)c;
            i++;
        } else if (c >= 0x80) {
            size_t k = utf8_len(p + i, n - i);
            if (k == 0) {
                ob->buf[ob->len++] = '.';
                i++;
            } else {
                memcpy(ob->buf + ob->len, p + i, k);
                ob->len += k;
                i += k;
            }
        } else {
            ob->buf[ob->len++] = c == '\t' ? ' ' : '.';
            i++;
        }
    }
}

void ob_addr(outbuf *ob, uint8_t family, const uint8_t *addr)
{
    char tmp[INET6_ADDRSTRLEN];
    if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, tmp, sizeof tmp))
        g_strlcpy(tmp, "?", sizeof tmp);
    ob_puts(ob, tmp);
}

void ob_endpoint(outbuf *ob, uint8_t family, const uint8_t *addr, uint16_t port)
{
    if (family == 6)
        ob_putc(ob, '[');
    ob_addr(ob, family, addr);
    if (family == 6)
        ob_putc(ob, ']');
    ob_putc(ob, ':');
    ob_u64(ob, port);
}

static void filter_side(outbuf *ob, const char *ip, uint8_t family, const uint8_t *src,
                        uint16_t sport, const uint8_t *dst, uint16_t dport)
{
    ob_putc(ob, '(');
    ob_puts(ob, ip);
    OBL(ob, ".src==");
    ob_addr(ob, family, src);
    OBL(ob, " && tcp.srcport==");
    ob_u64(ob, sport);
    OBL(ob, " && ");
    ob_puts(ob, ip);
    OBL(ob, ".dst==");
    ob_addr(ob, family, dst);
    OBL(ob, " && tcp.dstport==");
    ob_u64(ob, dport);
    ob_putc(ob, ')');
}

void ob_wireshark_filter(outbuf *ob, const tcp_conv_info *conv)
{
    const char *ip = conv->family == 6 ? "ipv6" : "ip";
    OBL(ob, "(");
    filter_side(ob, ip, conv->family, conv->client, conv->client_port, conv->server,
                conv->server_port);
    OBL(ob, " || ");
    filter_side(ob, ip, conv->family, conv->server, conv->server_port, conv->client,
                conv->client_port);
    OBL(ob, ") && frame.number>=");
    ob_u64(ob, conv->first.frame);
    OBL(ob, " && frame.number<=");
    ob_u64(ob, conv->last.frame);
}
