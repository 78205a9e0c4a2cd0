/* gen_script.c -- the turn-by-turn script of one TCP connection. */
#include <stdarg.h>
#include <stdio.h>

#include "gen.h"

void gen_script_init(gen_script *s)
{
    s->bytes = g_byte_array_sized_new(4096);
    s->steps = g_array_sized_new(FALSE, FALSE, sizeof(gen_step), 32);
    s->server_port = 0;
    s->smtp = false;
}

void gen_script_clear(gen_script *s)
{
    g_byte_array_set_size(s->bytes, 0);
    g_array_set_size(s->steps, 0);
    s->server_port = 0;
    s->smtp = false;
}

void gen_script_free(gen_script *s)
{
    g_byte_array_free(s->bytes, TRUE);
    g_array_free(s->steps, TRUE);
}

/* Extend the last step when `dir` is still talking, else open a new one.
 * A NULL `data` means the caller already appended the `len` bytes to
 * s->bytes itself (the bulk body writers fill the buffer directly). */
void gen_script_add(gen_script *s, int dir, const void *data, size_t len)
{
    size_t off = s->bytes->len;
    if (data)
        g_byte_array_append(s->bytes, data, (guint)len);
    else
        off -= len;
    gen_step *last = s->steps->len ? &g_array_index(s->steps, gen_step, s->steps->len - 1) : NULL;
    if (last && last->dir == dir) {
        last->len += len;
        return;
    }
    gen_step st = { .dir = (uint8_t)dir, .off = off, .len = len };
    g_array_append_val(s->steps, st);
}

void gen_script_printf(gen_script *s, int dir, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_assert(n >= 0 && (size_t)n < sizeof buf);
    gen_script_add(s, dir, buf, (size_t)n);
}
