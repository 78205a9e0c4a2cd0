/* smtp_auth.c -- AUTH exchanges (RFC 4954): the mechanism, the SASL
 * responses after each 334, the user name where the mechanism carries one,
 * and the outcome.  Secrets (passwords, tokens, digests and the base64 that
 * carries them) reach events only with smtp_options.reveal_secrets; else
 * every response is shown as SMTP_MASK.
 */
#include <string.h>

#include "smtp_internal.h"

/* A response line longer than a command line can hold is not decoded. */
#define AUTH_MAX_DECODE SMTP_MAX_LINE_BUF

static bool mech_is(const smtp_auth_state *a, const char *m)
{
    size_t n = strlen(m);
    return a->mech.len == n && g_ascii_strncasecmp(a->mech.data, m, n) == 0;
}

static void set_field(smtp_buf *b, const char *p, size_t n)
{
    smtp_buf_reset(b);
    smtp_buf_append(b, p, n, SMTP_MAX_SHORT_FIELD);
}

/* The value of "key" in a list of `sep`-separated key=value items. */
static bool kv_find(const char *p, size_t n, char sep, const char *key, const char **v, size_t *vl)
{
    size_t kl = strlen(key), i = 0;
    while (i < n) {
        const char *item = p + i;
        const char *s = memchr(item, sep, n - i);
        size_t il = s ? (size_t)(s - item) : n - i;
        if (il >= kl && memcmp(item, key, kl) == 0) {
            *v = item + kl;
            *vl = il - kl;
            return true;
        }
        i += il + 1;
    }
    return false;
}

/* Decode one base64 SASL response and pick out user and secret. */
static void decode_response(smtp_engine *e, const char *b64, size_t n)
{
    smtp_auth_state *a = &e->auth;
    uint32_t step = a->n_responses++;
    if (n == 0 || n > AUTH_MAX_DECODE || (n == 1 && b64[0] == '='))
        return;
    guchar *out = g_malloc(n / 4 * 3 + 4);
    gint state = 0;
    guint save = 0;
    size_t len = g_base64_decode_step(b64, n, out, &state, &save);
    const char *d = (const char *)out, *v;
    size_t vl;
    bool keep = e->opts.reveal_secrets;

    if (mech_is(a, "PLAIN") && step == 0) {
        /* authzid NUL authcid NUL passwd */
        const char *z1 = memchr(d, '\0', len);
        const char *z2 = z1 ? memchr(z1 + 1, '\0', len - (size_t)(z1 + 1 - d)) : NULL;
        if (z1 && z2) {
            if (z2 > z1 + 1)
                set_field(&a->user, z1 + 1, (size_t)(z2 - z1 - 1));
            else
                set_field(&a->user, d, (size_t)(z1 - d));
            if (keep)
                set_field(&a->secret, z2 + 1, len - (size_t)(z2 + 1 - d));
        }
    } else if (mech_is(a, "LOGIN")) {
        if (step == 0)
            set_field(&a->user, d, len);
        else if (step == 1 && keep)
            set_field(&a->secret, d, len);
    } else if ((mech_is(a, "XOAUTH2") || mech_is(a, "OAUTHBEARER")) && step == 0) {
        /* XOAUTH2: user=...^Aauth=Bearer ...^A^A; OAUTHBEARER: n,a=user,^A...^Aauth=... */
        if (kv_find(d, len, '\x01', "user=", &v, &vl))
            set_field(&a->user, v, vl);
        else if (kv_find(d, len, ',', "a=", &v, &vl))
            set_field(&a->user, v, vl);
        if (keep && kv_find(d, len, '\x01', "auth=", &v, &vl))
            set_field(&a->secret, v, vl);
    } else if (mech_is(a, "CRAM-MD5") && step == 0) {
        /* "user hex-digest" */
        const char *sp = NULL;
        for (size_t k = len; k-- > 0 && !sp;)
            if (d[k] == ' ')
                sp = d + k;
        if (sp) {
            set_field(&a->user, d, (size_t)(sp - d));
            if (keep)
                set_field(&a->secret, sp + 1, len - (size_t)(sp + 1 - d));
        }
    } else if (g_ascii_strncasecmp(a->mech.data ? a->mech.data : "", "SCRAM-", 6) == 0 && step == 0) {
        /* client-first-message: gs2-header "n=user,r=nonce" */
        if (kv_find(d, len, ',', "n=", &v, &vl))
            set_field(&a->user, v, vl);
    }
    g_free(out);
}

static void emit_auth(smtp_engine *e, smtp_auth_outcome outcome, int code,
                      const smtp_enhanced *enh, smtp_dir from, cap_pos pos)
{
    smtp_auth_state *a = &e->auth;
    smtp_event ev = { .type = SMTP_EV_AUTH, .from = from, .pos = pos };
    smtp_auth_ev *x = &ev.u.auth;
    x->mechanism = (smtp_span){ a->mech.data ? a->mech.data : "", a->mech.len };
    x->username = (smtp_span){ a->user.data ? a->user.data : "", a->user.len };
    x->secret = e->opts.reveal_secrets ? (smtp_span){ a->secret.data ? a->secret.data : "", a->secret.len }
                                       : (smtp_span){ "", 0 };
    x->outcome = outcome;
    x->code = code;
    if (enh)
        x->enhanced = *enh;
    x->cmd_frame = a->cmd_frame;
    a->active = false;
    a->awaiting = false;
    smtp_emit(e, &ev);
}

void smtp_auth_begin(smtp_engine *e, const char *args, size_t len, uint32_t seq,
                     cap_pos pos, GString *args_out, bool *masked)
{
    smtp_auth_state *a = &e->auth;
    smtp_auth_unfinished(e, smtp_phys(e, SMTP_DIR_CLIENT), pos);
    size_t i = 0;
    while (i < len && args[i] == ' ')
        i++;
    size_t ms = i;
    while (i < len && args[i] != ' ')
        i++;
    size_t me = i;
    while (i < len && args[i] == ' ')
        i++;
    size_t ir_len = len - i;
    while (ir_len && args[i + ir_len - 1] == ' ')
        ir_len--;

    a->active = true;
    a->awaiting = false;
    a->cancelled = false;
    a->n_responses = 0;
    a->cmd_frame = pos.frame;
    a->cmd_seq = seq;
    set_field(&a->mech, args + ms, me - ms);
    smtp_buf_reset(&a->user);
    smtp_buf_reset(&a->secret);

    *masked = false;
    if (ir_len) {
        decode_response(e, args + i, ir_len);
        if (!e->opts.reveal_secrets && !(ir_len == 1 && args[i] == '=')) {
            g_string_append_len(args_out, args, (gssize)me);
            g_string_append(args_out, " " SMTP_MASK);
            *masked = true;
        }
    }
}

void smtp_auth_response(smtp_engine *e, const char *p, size_t n, GString *line_out, bool *masked)
{
    smtp_auth_state *a = &e->auth;
    *masked = false;
    if (n == 1 && p[0] == '*') {
        a->cancelled = true;
        g_string_append_len(line_out, p, 1);
        return;
    }
    decode_response(e, p, n);
    if (n && !e->opts.reveal_secrets) {
        g_string_append(line_out, SMTP_MASK);
        *masked = true;
    } else {
        g_string_append_len(line_out, p, (gssize)n);
    }
}

void smtp_auth_reply(smtp_engine *e, int code, const smtp_enhanced *enh, smtp_dir from,
                     cap_pos pos)
{
    smtp_auth_state *a = &e->auth;
    if (!a->active)
        return;
    if (code == 334 && !a->cancelled) {
        a->awaiting = true;
        return;
    }
    char mb[48];
    smtp_quote(mb, sizeof mb, a->mech.data ? a->mech.data : "", a->mech.len);
    if (code / 100 == 2) {
        e->auth_ok = true;
        smtp_fact_set(e, FACT_AUTH, true);
        set_field(&e->auth_user, a->user.data ? a->user.data : "", a->user.len);
        emit_auth(e, SMTP_AUTH_SUCCESS, code, enh, from, pos);
    } else if (a->cancelled) {
        emit_auth(e, SMTP_AUTH_CANCELLED, code, enh, from, pos);
        smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_auth_cancelled, SMTP_CMD_AUTH,
                  a->cmd_seq, "The client cancelled AUTH %s with \"*\"", mb);
    } else {
        emit_auth(e, SMTP_AUTH_FAILURE, code, enh, from, pos);
        smtp_flag(e, from, pos, SMTP_AN_auth_failed, SMTP_CMD_AUTH, a->cmd_seq,
                  "AUTH %s failed with %d", mb, code);
    }
}

void smtp_auth_unfinished(smtp_engine *e, smtp_dir from, cap_pos pos)
{
    if (e->auth.active)
        emit_auth(e, SMTP_AUTH_UNFINISHED, 0, NULL, from, pos);
}

void smtp_auth_free(smtp_auth_state *a)
{
    smtp_buf_free(&a->mech);
    smtp_buf_free(&a->user);
    smtp_buf_free(&a->secret);
}
