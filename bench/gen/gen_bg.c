/* gen_bg.c -- background traffic a summariser must skip: HTTP on port 80
 * (keep-alive requests with binary bodies) and TLS on port 443 (a handshake,
 * then application data records). */
#include <stdio.h>

#include "gen.h"

#define TLS_RECORD_MAX 16384
#define BODY_CAP       (8u << 20)

static const char *const content_types[] = {
    "image/jpeg", "image/png", "application/javascript", "font/woff2", "video/mp4",
    "application/octet-stream",
};
static const char *const extensions[] = { "jpg", "png", "js", "woff2", "mp4", "bin" };

void gen_tls_records(gen_script *s, gen_rng *r, int dir, uint8_t type, size_t len)
{
    while (len) {
        size_t n = MIN(len, (size_t)TLS_RECORD_MAX);
        uint8_t hdr[5] = { type, 3, 3, (uint8_t)(n >> 8), (uint8_t)n };
        gen_script_add(s, dir, hdr, sizeof hdr);
        size_t before = s->bytes->len;
        gen_noise(r, s->bytes, n);
        gen_script_add(s, dir, NULL, s->bytes->len - before);
        len -= n;
    }
}

static void http(gen_script *s, gen_rng *r)
{
    uint32_t requests = gen_range(r, 1, 4);
    s->server_port = 80;
    for (uint32_t i = 0; i < requests; i++) {
        uint32_t t = gen_below(r, G_N_ELEMENTS(content_types));
        size_t body = gen_lognormal(r, 30000, 4, BODY_CAP);
        const char *dir = gen_word(r);
        const char *name = gen_word(r);
        uint32_t num = gen_below(r, 100000);
        gen_script_printf(s, GEN_CLIENT,
                          "GET /static/%s/%s%u.%s HTTP/1.1\r\nHost: www.example.com\r\n"
                          "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
                          "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n",
                          dir, name, num, extensions[t]);
        gen_script_printf(s, GEN_SERVER,
                          "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 02 Mar 2026 08:14:07 GMT\r\n"
                          "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: keep-alive\r\n"
                          "Cache-Control: max-age=86400\r\n\r\n",
                          content_types[t], body);
        size_t before = s->bytes->len;
        gen_noise(r, s->bytes, body);
        gen_script_add(s, GEN_SERVER, NULL, s->bytes->len - before);
    }
}

static void tls(gen_script *s, gen_rng *r)
{
    s->server_port = 443;
    gen_tls_records(s, r, GEN_CLIENT, 22, gen_range(r, 250, 520));
    gen_tls_records(s, r, GEN_SERVER, 22, gen_range(r, 2500, 5000));
    gen_tls_records(s, r, GEN_CLIENT, 22, gen_range(r, 60, 120));
    uint32_t exchanges = gen_range(r, 1, 5);
    for (uint32_t i = 0; i < exchanges; i++) {
        gen_tls_records(s, r, GEN_CLIENT, 23, gen_lognormal(r, 600, 2, BODY_CAP));
        gen_tls_records(s, r, GEN_SERVER, 23, gen_lognormal(r, 40000, 4, BODY_CAP));
    }
}

void gen_bg_script(gen_script *s, gen_rng *r, gen_counts *c)
{
    c->background++;
    s->smtp = false;
    if (gen_chance(r, 400))
        http(s, r);
    else
        tls(s, r);
}
