/* smtp_client.c -- client command lines: verb and arguments, MAIL/RCPT
 * paths, sequence and capability rules, and the queue of commands waiting
 * for their replies.
 *
 * Sequence rules are judged with what the client could know when it sent
 * the line: the replies it had received, plus every command still waiting,
 * taken as if it will succeed (smtp_fact).  So a pipelined MAIL/RCPT/DATA
 * group is never blamed for a refusal the server sends later.
 */
#include <string.h>

#include "smtp_internal.h"

/* ---- facts ------------------------------------------------------------- */

bool smtp_fact_get(const smtp_engine *e, smtp_fact_id f)
{
    const smtp_fact *x = &e->fact[f];
    return x->pend ? x->pval : x->act;
}

void smtp_fact_set(smtp_engine *e, smtp_fact_id f, bool v)
{
    e->fact[f].act = v;
}

void smtp_fact_promise(smtp_engine *e, smtp_fact_id f, bool v, uint32_t ord)
{
    e->fact[f].pend = true;
    e->fact[f].pval = v;
    e->fact[f].pord = ord;
}

void smtp_facts_settle(smtp_engine *e, uint32_t ord)
{
    for (int f = 0; f < FACT_COUNT; f++)
        if (e->fact[f].pend && e->fact[f].pord <= ord)
            e->fact[f].pend = false;
}

void smtp_facts_reset(smtp_engine *e)
{
    memset(e->fact, 0, sizeof e->fact);
}

/* The facts a command promises, as if it succeeds. */
static void promise_txn_reset(smtp_engine *e, uint32_t ord)
{
    smtp_fact_promise(e, FACT_TXN, false, ord);
    smtp_fact_promise(e, FACT_RCPT, false, ord);
    smtp_fact_promise(e, FACT_BDAT, false, ord);
    smtp_fact_promise(e, FACT_BDAT_LAST, false, ord);
}

/* ---- pending commands ---------------------------------------------------- */

smtp_pending *smtp_pend_peek(smtp_engine *e, uint32_t i)
{
    if (i >= e->pend_n)
        return NULL;
    return &e->pend[(e->pend_head + i) % e->pend_cap];
}

void smtp_pend_pop(smtp_engine *e)
{
    if (e->pend_n == 0)
        return;
    e->pend_head = (e->pend_head + 1) % e->pend_cap;
    if (--e->pend_n == 0) {
        e->pipeline_flagged = false;
        e->not_last_flagged = false;
        e->pend_overflowed = false;
    }
}

void smtp_pend_clear(smtp_engine *e)
{
    e->pend_n = 0;
    e->pend_head = 0;
    e->pipeline_flagged = false;
    e->not_last_flagged = false;
    e->pend_overflowed = false;
}

smtp_pending *smtp_pend_push(smtp_engine *e, smtp_cmd cmd, uint32_t seq, cap_pos pos)
{
    if (e->pend_n == e->pend_cap) {
        if (e->pend_cap < SMTP_MAX_PENDING) {
            /* Grow the ring, unrolling it so the oldest entry is first. */
            uint32_t cap = e->pend_cap ? e->pend_cap * 2 : 8;
            if (cap > SMTP_MAX_PENDING)
                cap = SMTP_MAX_PENDING;
            smtp_pending *n = g_new(smtp_pending, cap);
            for (uint32_t i = 0; i < e->pend_n; i++)
                n[i] = *smtp_pend_peek(e, i);
            g_free(e->pend);
            e->pend = n;
            e->pend_cap = cap;
            e->pend_head = 0;
        } else {
            smtp_pending *old = smtp_pend_peek(e, 0);
            /* Reported once per full queue, not once per dropped command. */
            if (!e->pend_overflowed)
                smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_too_many_pending,
                          old->cmd, old->seq,
                          "More than %d commands were waiting for replies; command %u "
                          "and the oldest ones after it are no longer paired",
                          SMTP_MAX_PENDING, old->seq);
            e->pend_overflowed = true;
            smtp_pend_pop(e);
        }
    }
    smtp_pending *pd = &e->pend[(e->pend_head + e->pend_n) % e->pend_cap];
    e->pend_n++;
    memset(pd, 0, sizeof *pd);
    pd->cmd = cmd;
    pd->seq = seq;
    pd->ord = ++e->next_ord;
    pd->txn_gen = e->txn_gen;
    pd->frame = pos.frame;
    pd->ts_ns = pos.ts_ns;
    pd->rcpt_idx = -1;
    return pd;
}

/* Commands still waiting that the client itself sent (not gap placeholders). */
static smtp_pending *pend_newest_real(smtp_engine *e)
{
    for (uint32_t i = e->pend_n; i-- > 0;) {
        smtp_pending *pd = smtp_pend_peek(e, i);
        if (!(pd->flags & PEND_LOST))
            return pd;
    }
    return NULL;
}

smtp_pending *smtp_pend_push_front(smtp_engine *e, smtp_cmd cmd, uint32_t seq, cap_pos pos)
{
    smtp_pending *pd = smtp_pend_push(e, cmd, seq, pos);
    smtp_pending tmp = *pd;
    /* Rotate it from the back to the front (rare: a few entries). */
    for (uint32_t i = e->pend_n - 1; i > 0; i--)
        *smtp_pend_peek(e, i) = *smtp_pend_peek(e, i - 1);
    *smtp_pend_peek(e, 0) = tmp;
    return smtp_pend_peek(e, 0);
}

/* ---- argument parsing ---------------------------------------------------- */

/* Decimal uint64; false if empty, not all digits, or over 2^64-1. */
static bool parse_u64(const char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        unsigned d = (unsigned)(p[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static size_t skip_sp(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    return i;
}

/* "FROM:<path> params" / "TO:<path> params", tolerating blanks around the
 * colon and a path without angle brackets, as seen in the wild. */
static bool parse_path(const char *a, size_t n, const char *kw, smtp_span *path, smtp_span *params)
{
    size_t kl = strlen(kw), i = skip_sp(a, n, 0);
    if (n - i < kl || g_ascii_strncasecmp(a + i, kw, kl) != 0)
        return false;
    i = skip_sp(a, n, i + kl);
    if (i < n && a[i] == ':')
        i++;
    else
        return false;
    i = skip_sp(a, n, i);
    if (i < n && a[i] == '<') {
        const char *gt = memchr(a + i, '>', n - i);
        if (!gt)
            return false;
        path->ptr = a + i + 1;
        path->len = (size_t)(gt - (a + i + 1));
        i = (size_t)(gt - a) + 1;
    } else {
        size_t s = i;
        while (i < n && a[i] != ' ')
            i++;
        if (i == s)
            return false;
        path->ptr = a + s;
        path->len = i - s;
    }
    i = skip_sp(a, n, i);
    params->ptr = a + i;
    params->len = n - i;
    while (params->len && (params->ptr[params->len - 1] == ' ' || params->ptr[params->len - 1] == '\t'))
        params->len--;
    return true;
}

/* Walk ESMTP parameters "KEY[=VALUE] ...": calls back per parameter. */
typedef void (*param_fn)(smtp_engine *e, smtp_cmd cmd, uint32_t seq, const char *k, size_t kl,
                         const char *v, size_t vl, bool has_v, cap_pos pos, unsigned *seen);

static void each_param(smtp_engine *e, smtp_cmd cmd, uint32_t seq, smtp_span ps, param_fn fn,
                       cap_pos pos)
{
    unsigned seen = 0;
    size_t i = 0;
    while (i < ps.len) {
        i = skip_sp(ps.ptr, ps.len, i);
        size_t s = i;
        while (i < ps.len && ps.ptr[i] != ' ' && ps.ptr[i] != '\t')
            i++;
        if (i == s)
            break;
        const char *eq = memchr(ps.ptr + s, '=', i - s);
        size_t kl = eq ? (size_t)(eq - (ps.ptr + s)) : i - s;
        const char *v = eq ? eq + 1 : ps.ptr + i;
        fn(e, cmd, seq, ps.ptr + s, kl, v, (size_t)(ps.ptr + i - v), eq != NULL, pos, &seen);
    }
}

static bool kw_is(const char *k, size_t kl, const char *want)
{
    return kl == strlen(want) && g_ascii_strncasecmp(k, want, kl) == 0;
}

static bool ext_on(const smtp_engine *e, smtp_ext x)
{
    return (e->ext_mask >> x) & 1u;
}

/* Parameter used without its extension: one anomaly per kind per command. */
static void param_misuse(smtp_engine *e, smtp_cmd cmd, uint32_t seq, smtp_anomaly kind,
                         smtp_ext ext, const char *k, size_t kl, cap_pos pos, unsigned *seen,
                         unsigned bit)
{
    char kb[64];
    if (ext_on(e, ext) || (*seen & bit))
        return;
    *seen |= bit;
    smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, kind, cmd, seq,
              "%s parameter %s used although the server did not advertise %s",
              reg_command_verb(cmd), smtp_quote(kb, sizeof kb, k, kl), reg_ext_keyword(ext));
}

static void check_param(smtp_engine *e, smtp_cmd cmd, uint32_t seq, const char *k, size_t kl,
                        const char *v, size_t vl, bool has_v, cap_pos pos, unsigned *seen)
{
    bool rcpt = cmd == SMTP_CMD_RCPT;
    if (!rcpt && kw_is(k, kl, "SIZE") && has_v) {
        uint64_t sz;
        if (!ext_on(e, SMTP_EXT_SIZE)) {
            param_misuse(e, cmd, seq, SMTP_AN_size_not_advertised, SMTP_EXT_SIZE, k, kl, pos,
                         seen, 1u);
        } else if (e->size_limit && parse_u64(v, vl, &sz) && sz > e->size_limit) {
            smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_size_over_limit, cmd, seq,
                      "MAIL declared SIZE=%" G_GUINT64_FORMAT " above the advertised limit of %"
                      G_GUINT64_FORMAT " octets", sz, e->size_limit);
        }
    } else if (!rcpt && kw_is(k, kl, "BODY") && kw_is(v, vl, "8BITMIME")) {
        param_misuse(e, cmd, seq, SMTP_AN_8bitmime_not_advertised, SMTP_EXT_8BITMIME, "BODY=8BITMIME",
                     13, pos, seen, 2u);
    } else if (!rcpt && kw_is(k, kl, "BODY") && kw_is(v, vl, "BINARYMIME")) {
        param_misuse(e, cmd, seq, SMTP_AN_binarymime_not_advertised, SMTP_EXT_BINARYMIME,
                     "BODY=BINARYMIME", 15, pos, seen, 4u);
    } else if (!rcpt && kw_is(k, kl, "SMTPUTF8")) {
        param_misuse(e, cmd, seq, SMTP_AN_smtputf8_not_advertised, SMTP_EXT_SMTPUTF8, k, kl, pos,
                     seen, 8u);
    } else if ((!rcpt && (kw_is(k, kl, "RET") || kw_is(k, kl, "ENVID"))) ||
               (rcpt && (kw_is(k, kl, "NOTIFY") || kw_is(k, kl, "ORCPT")))) {
        param_misuse(e, cmd, seq, SMTP_AN_dsn_not_advertised, SMTP_EXT_DSN, k, kl, pos, seen, 16u);
    } else if (!rcpt && kw_is(k, kl, "REQUIRETLS")) {
        param_misuse(e, cmd, seq, SMTP_AN_requiretls_not_advertised, SMTP_EXT_REQUIRETLS, k, kl,
                     pos, seen, 32u);
    }
}

/* ---- resynchronisation -------------------------------------------------- */

bool smtp_client_line_is_command(const char *p, size_t n)
{
    static const char *const prefixes[] = { "MAIL FROM:", "RCPT TO:", "EHLO ", "HELO " };
    static const char *const whole[] = { "RSET", "QUIT" };
    for (size_t i = 0; i < G_N_ELEMENTS(prefixes); i++) {
        size_t l = strlen(prefixes[i]);
        if (n >= l && g_ascii_strncasecmp(p, prefixes[i], l) == 0)
            return true;
    }
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r'))
        n--;
    for (size_t i = 0; i < G_N_ELEMENTS(whole); i++)
        if (n == 4 && g_ascii_strncasecmp(p, whole[i], 4) == 0)
            return true;
    return false;
}

/* ---- command lines ------------------------------------------------------- */

static void emit_command(smtp_engine *e, cap_pos pos, smtp_cmd cmd, const smtp_line *ln,
                         smtp_span verb, smtp_span args, smtp_span line, bool masked,
                         bool pipelined, uint32_t seq)
{
    smtp_event ev = { .type = SMTP_EV_COMMAND, .from = smtp_phys(e, SMTP_DIR_CLIENT), .pos = pos };
    smtp_command_ev *c = &ev.u.command;
    c->cmd = cmd;
    c->verb = verb;
    c->args = args;
    c->line = line;
    c->masked = masked;
    c->pipelined = pipelined;
    c->seq = seq;
    c->first_frame = ln->first_frame;
    smtp_emit(e, &ev);
}

static void auth_response_line(smtp_engine *e, const smtp_line *ln, cap_pos pos, bool pipelined)
{
    GString *out = g_string_sized_new(16);
    bool masked = false;
    uint32_t seq = ++e->n_commands;
    e->auth.awaiting = false;
    smtp_auth_response(e, ln->ptr, ln->len, out, &masked);
    smtp_pend_push(e, SMTP_CMD_AUTH_RESPONSE, seq, pos);
    smtp_span s = { out->str, out->len };
    emit_command(e, pos, SMTP_CMD_AUTH_RESPONSE, ln, (smtp_span){ ln->ptr, 0 }, s, s, masked,
                 pipelined, seq);
    g_string_free(out, TRUE);
}

/* Anomalies about the form of the line itself. */
static void check_syntax(smtp_engine *e, const smtp_line *ln, smtp_cmd cmd, smtp_span verb,
                         uint32_t seq, cap_pos pos)
{
    smtp_dir from = smtp_phys(e, SMTP_DIR_CLIENT);
    char vb[48];
    smtp_quote(vb, sizeof vb, verb.ptr, verb.len);
    if (ln->wire_len > SMTP_CMD_LINE_MAX)
        smtp_flag(e, from, pos, SMTP_AN_command_too_long, cmd, seq,
                  "%s command line is %" G_GUINT64_FORMAT " octets long (limit %d)",
                  vb, ln->wire_len, SMTP_CMD_LINE_MAX);
    for (size_t i = 0; i < ln->len; i++) {
        unsigned char c = (unsigned char)ln->ptr[i];
        if ((c < 0x20 && c != '\t' && c != '\r') || c >= 0x7f) {
            smtp_flag(e, from, pos, SMTP_AN_non_ascii_command, cmd, seq,
                      "%s command line holds byte 0x%02x at offset %zu", vb, c, i);
            break;
        }
    }
    if (cmd == SMTP_CMD_UNKNOWN) {
        smtp_flag(e, from, pos, SMTP_AN_unknown_command, cmd, seq,
                  verb.len ? "Unknown command verb \"%s\"" : "Empty command line%s",
                  verb.len ? vb : "");
    }
}

/* Sequence rules, with what the client could know (see the file comment). */
static void check_sequence(smtp_engine *e, smtp_cmd cmd, uint32_t seq, smtp_span args,
                           cap_pos pos)
{
    smtp_dir from = smtp_phys(e, SMTP_DIR_CLIENT);
    unsigned fl = reg_command_flags(cmd);
    const char *verb = reg_command_verb(cmd);
    char ab[80];
    smtp_quote(ab, sizeof ab, args.ptr, args.len);

    if (e->seq_unknown)
        return;
    if ((fl & CMDF_NEEDS_HELLO) && !smtp_fact_get(e, FACT_HELLO)) {
        smtp_flag(e, from, pos, SMTP_AN_command_before_hello, cmd, seq,
                  "%s sent before any EHLO or HELO was accepted", verb);
        return;
    }
    if ((fl & CMDF_TXN_START) && smtp_fact_get(e, FACT_TXN)) {
        smtp_flag(e, from, pos, SMTP_AN_mail_in_transaction, cmd, seq,
                  "%s %s sent while a mail transaction was already open", verb, ab);
    } else if (cmd == SMTP_CMD_RCPT && !smtp_fact_get(e, FACT_TXN)) {
        smtp_flag(e, from, pos, SMTP_AN_rcpt_without_mail, cmd, seq,
                  "RCPT %s sent before any MAIL was accepted", ab);
    } else if (cmd == SMTP_CMD_DATA && smtp_fact_get(e, FACT_BDAT)) {
        smtp_flag(e, from, pos, SMTP_AN_data_after_bdat, cmd, seq,
                  "DATA sent in a transaction that already sent BDAT chunks");
    } else if (cmd == SMTP_CMD_BDAT && smtp_fact_get(e, FACT_BDAT_LAST)) {
        smtp_flag(e, from, pos, SMTP_AN_bdat_after_last, cmd, seq,
                  "BDAT %s sent after BDAT LAST in the same transaction", ab);
    } else if ((cmd == SMTP_CMD_DATA || cmd == SMTP_CMD_BDAT) && !smtp_fact_get(e, FACT_RCPT)) {
        smtp_flag(e, from, pos, SMTP_AN_data_without_rcpt, cmd, seq,
                  "%s sent %s", verb,
                  smtp_fact_get(e, FACT_TXN) ? "before any RCPT was accepted"
                                             : "with no mail transaction open");
    } else if (cmd == SMTP_CMD_AUTH && smtp_fact_get(e, FACT_AUTH)) {
        smtp_flag(e, from, pos, SMTP_AN_auth_repeated, cmd, seq,
                  "AUTH sent again after an AUTH succeeded");
    } else if (cmd == SMTP_CMD_AUTH && smtp_fact_get(e, FACT_TXN)) {
        smtp_flag(e, from, pos, SMTP_AN_auth_in_transaction, cmd, seq,
                  "AUTH sent inside an open mail transaction");
    } else if (cmd == SMTP_CMD_STARTTLS && e->starttls_ord) {
        smtp_flag(e, from, pos, SMTP_AN_starttls_repeated, cmd, seq,
                  "STARTTLS sent again while an earlier STARTTLS was still waiting");
    } else if (cmd == SMTP_CMD_STARTTLS && smtp_fact_get(e, FACT_TXN)) {
        smtp_flag(e, from, pos, SMTP_AN_starttls_in_transaction, cmd, seq,
                  "STARTTLS sent inside an open mail transaction");
    }
}

/* Pipelining rules (RFC 2920). */
static void check_pipelining(smtp_engine *e, smtp_cmd cmd, uint32_t seq, smtp_pending *prev,
                             cap_pos pos)
{
    smtp_dir from = smtp_phys(e, SMTP_DIR_CLIENT);
    if (!prev)
        return;
    /* Once per group (until the queue drains), like the check below: a
     * client that ignores the rule would otherwise flag every line. */
    if ((reg_command_flags(prev->cmd) & CMDF_LAST_IN_GROUP) && prev->cmd != SMTP_CMD_QUIT &&
        !e->not_last_flagged) {
        e->not_last_flagged = true;
        smtp_flag(e, from, pos, SMTP_AN_pipeline_not_last, cmd, seq,
                  "Command %u (%s) must end a pipelined group but %s followed it before its reply",
                  prev->seq, smtp_cmd_text(prev->cmd), smtp_cmd_text(cmd));
    }
    if ((e->caps_known || e->helo_only) && !ext_on(e, SMTP_EXT_PIPELINING) && !e->pipeline_flagged) {
        e->pipeline_flagged = true;
        smtp_flag(e, from, pos, SMTP_AN_pipelining_not_advertised, cmd, seq,
                  "%s was sent before the reply to command %u although the server did not "
                  "advertise PIPELINING",
                  cmd == SMTP_CMD_UNKNOWN ? "A command" : reg_command_verb(cmd), prev->seq);
    }
}

static bool mech_advertised(const smtp_engine *e, const char *m, size_t ml)
{
    size_t i = 0, n = e->auth_mechs.len;
    const char *a = e->auth_mechs.data;
    while (i < n) {
        i = skip_sp(a, n, i);
        size_t s = i;
        while (i < n && a[i] != ' ')
            i++;
        if (i > s && i - s == ml && g_ascii_strncasecmp(a + s, m, ml) == 0)
            return true;
    }
    return false;
}

/* Extensions the command needs (the capability class). */
static void check_capability(smtp_engine *e, smtp_cmd cmd, uint32_t seq, smtp_span args,
                             cap_pos pos)
{
    smtp_dir from = smtp_phys(e, SMTP_DIR_CLIENT);
    if (!e->caps_known && !e->helo_only)
        return;
    if (cmd == SMTP_CMD_STARTTLS && !ext_on(e, SMTP_EXT_STARTTLS)) {
        smtp_flag(e, from, pos, SMTP_AN_starttls_not_advertised, cmd, seq,
                  "STARTTLS sent although the %s reply did not advertise it",
                  e->helo_only ? "HELO" : "EHLO");
    } else if (cmd == SMTP_CMD_BDAT && !ext_on(e, SMTP_EXT_CHUNKING)) {
        smtp_flag(e, from, pos, SMTP_AN_bdat_not_advertised, cmd, seq,
                  "BDAT sent although the %s reply did not advertise CHUNKING",
                  e->helo_only ? "HELO" : "EHLO");
    } else if (cmd == SMTP_CMD_AUTH) {
        size_t i = skip_sp(args.ptr, args.len, 0), s = i;
        while (i < args.len && args.ptr[i] != ' ')
            i++;
        char mb[48];
        smtp_quote(mb, sizeof mb, args.ptr + s, i - s);
        if (!ext_on(e, SMTP_EXT_AUTH))
            smtp_flag(e, from, pos, SMTP_AN_auth_not_advertised, cmd, seq,
                      "AUTH %s sent although the %s reply did not advertise AUTH", mb,
                      e->helo_only ? "HELO" : "EHLO");
        else if (i > s && !mech_advertised(e, args.ptr + s, i - s))
            smtp_flag(e, from, pos, SMTP_AN_auth_mechanism_not_advertised, cmd, seq,
                      "AUTH mechanism %s is not among those advertised (%.*s)", mb,
                      (int)MIN(e->auth_mechs.len, 120u), e->auth_mechs.data ? e->auth_mechs.data : "");
    }
}

/* MAIL/SEND/SOML/SAML and RCPT: path, parameters, the transaction. */
static void mail_or_rcpt(smtp_engine *e, smtp_cmd cmd, uint32_t seq, smtp_span args,
                         smtp_pending *pd, cap_pos pos)
{
    smtp_span path = { 0 }, params = { 0 };
    bool rcpt = cmd == SMTP_CMD_RCPT;
    char ab[80];
    if (!parse_path(args.ptr, args.len, rcpt ? "TO" : "FROM", &path, &params)) {
        smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_bad_command_syntax, cmd, seq,
                  "%s arguments \"%s\" are not %s:<path> [parameters]", reg_command_verb(cmd),
                  smtp_quote(ab, sizeof ab, args.ptr, args.len), rcpt ? "TO" : "FROM");
        path = (smtp_span){ args.ptr, 0 };
        params = (smtp_span){ args.ptr, 0 };
    } else if (e->caps_known || e->helo_only) {
        each_param(e, cmd, seq, params, check_param, pos);
    }
    if (rcpt) {
        pd->rcpt_idx = smtp_txn_add_rcpt(e, path.ptr, path.len, params.ptr, params.len, seq, pos);
    } else {
        smtp_txn_begin(e, cmd, path.ptr, path.len, params.ptr, params.len, pos);
        pd->txn_gen = e->txn_gen;
    }
}

/* BDAT <size> [LAST].  Arguments that do not parse are refused by servers
 * as a syntax error without reading any chunk (they cannot know its size),
 * so such a BDAT carries no octets and changes nothing: what follows it is
 * read as commands.  A well-formed BDAT always has its octets consumed, even
 * when the server refuses it (RFC 3030 2), except a size too absurd to be a
 * message, whose refusal ends the chunk (smtp_server.c). */
static void bdat(smtp_engine *e, uint32_t seq, smtp_span args, smtp_pending *pd, cap_pos pos)
{
    uint64_t size = 0;
    bool last = false, rest_ok = true;
    size_t i = skip_sp(args.ptr, args.len, 0), s = i;
    while (i < args.len && args.ptr[i] != ' ')
        i++;
    bool size_ok = parse_u64(args.ptr + s, i - s, &size);
    i = skip_sp(args.ptr, args.len, i);
    size_t t = i;
    while (i < args.len && args.ptr[i] != ' ')
        i++;
    if (i > t) {
        if (kw_is(args.ptr + t, i - t, "LAST"))
            last = true;
        else
            rest_ok = false;
    }
    if (skip_sp(args.ptr, args.len, i) != args.len)
        rest_ok = false;
    if (!size_ok || !rest_ok || size > SMTP_BDAT_PLAUSIBLE_MAX) {
        char ab[80];
        smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_bad_bdat_size, SMTP_CMD_BDAT, seq,
                  "BDAT arguments \"%s\" are not <size> [LAST] with a plausible size",
                  smtp_quote(ab, sizeof ab, args.ptr, args.len));
    }
    if (!size_ok || !rest_ok) {
        pd->flags |= PEND_BDAT_BAD;
        return;
    }
    if (last)
        pd->flags |= PEND_BDAT_LAST;
    smtp_fact_promise(e, FACT_BDAT, true, pd->ord);
    if (last) {
        smtp_fact_promise(e, FACT_BDAT_LAST, true, pd->ord);
        smtp_fact_promise(e, FACT_TXN, false, pd->ord);
        smtp_fact_promise(e, FACT_RCPT, false, pd->ord);
    }
    smtp_body_start_chunk(e, seq, size, last, pos);
}

void smtp_client_line(smtp_engine *e, const smtp_line *ln, cap_pos pos)
{
    smtp_pending *prev = pend_newest_real(e);
    bool pipelined = prev != NULL;

    if (e->starttls_ord)
        e->after_starttls += ln->wire_len;
    const char *sp = memchr(ln->ptr, ' ', ln->len);
    smtp_span verb = { ln->ptr, sp ? (size_t)(sp - ln->ptr) : ln->len };
    smtp_span args = { sp ? sp + 1 : ln->ptr + ln->len, sp ? ln->len - verb.len - 1 : 0 };
    smtp_cmd cmd = verb.len ? reg_command_lookup(verb.ptr, verb.len) : SMTP_CMD_UNKNOWN;

    /* After 334 the line is a SASL response.  So is a line that is no
     * command sent while AUTH still waits for its reply: a client that
     * pipelines its responses must not get its password into the events. */
    if (e->auth.awaiting || (cmd == SMTP_CMD_UNKNOWN && e->auth.active && prev &&
                             (prev->cmd == SMTP_CMD_AUTH || prev->cmd == SMTP_CMD_AUTH_RESPONSE))) {
        auth_response_line(e, ln, pos, pipelined);
        return;
    }
    uint32_t seq = ++e->n_commands;

    /* AUTH carries secrets: mask them before anything sees the line. */
    GString *masked_args = NULL, *masked_line = NULL;
    bool masked = false;
    smtp_span ev_args = args, ev_line = { ln->ptr, ln->len };
    if (cmd == SMTP_CMD_AUTH) {
        masked_args = g_string_sized_new(32);
        smtp_auth_begin(e, args.ptr, args.len, seq, pos, masked_args, &masked);
        if (masked) {
            masked_line = g_string_new_len(ln->ptr, (gssize)(args.ptr - ln->ptr));
            g_string_append_len(masked_line, masked_args->str, (gssize)masked_args->len);
            ev_args = (smtp_span){ masked_args->str, masked_args->len };
            ev_line = (smtp_span){ masked_line->str, masked_line->len };
        }
    }

    emit_command(e, pos, cmd, ln, verb, ev_args, ev_line, masked, pipelined, seq);
    check_syntax(e, ln, cmd, verb, seq, pos);

    if (e->quit_sent) {
        smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_command_after_quit, cmd, seq,
                  "%s sent after QUIT", cmd == SMTP_CMD_UNKNOWN ? "A command" : reg_command_verb(cmd));
    } else if (e->greeting_seen) {
        if (pipelined && !(prev->flags & PEND_UNCERTAIN))
            check_pipelining(e, cmd, seq, prev, pos);
        check_sequence(e, cmd, seq, cmd == SMTP_CMD_AUTH ? ev_args : args, pos);
    }
    check_capability(e, cmd, seq, args, pos);

    /* A capture that starts inside a transaction: its MAIL came before the
     * first frame, so the first RCPT, DATA or BDAT opens it. */
    if ((cmd == SMTP_CMD_RCPT || cmd == SMTP_CMD_DATA || cmd == SMTP_CMD_BDAT) &&
        e->opts.midstream && e->seq_unknown && e->txn_gen == 0)
        smtp_txn_begin(e, SMTP_CMD_MAIL, "", 0, "", 0, pos);
    smtp_pending *pd = smtp_pend_push(e, cmd, seq, pos);
    /* If a DATA before it gets 354, this line was message text. */
    bool stuffed = ln->len > 0 && ln->ptr[0] == '.';
    pd->text_len = ln->wire_len - (stuffed ? 1 : 0);
    if (ln->len == 1 && stuffed && !ln->bare_lf)
        pd->flags |= PEND_DOT;
    unsigned fl = reg_command_flags(cmd);
    if (fl & CMDF_HELLO) {
        smtp_buf_reset(&e->helo_pending);
        smtp_buf_append(&e->helo_pending, args.ptr, args.len, SMTP_MAX_SHORT_FIELD);
        smtp_fact_promise(e, FACT_HELLO, true, pd->ord);
        promise_txn_reset(e, pd->ord);
    } else if (fl & CMDF_TXN_START) {
        mail_or_rcpt(e, cmd, seq, args, pd, pos);
        promise_txn_reset(e, pd->ord);
        smtp_fact_promise(e, FACT_TXN, true, pd->ord);
    } else {
        switch (cmd) {
        case SMTP_CMD_RCPT:
            mail_or_rcpt(e, cmd, seq, args, pd, pos);
            smtp_fact_promise(e, FACT_RCPT, true, pd->ord);
            break;
        case SMTP_CMD_BDAT:
            bdat(e, seq, args, pd, pos);
            break;
        case SMTP_CMD_DATA:
            /* Nothing from the server yet: in a capture of the client side
             * alone no 354 will ever show, so take the lines that follow
             * as the message (its reply, if it comes, confirms it or not). */
            if (e->side[smtp_phys(e, SMTP_DIR_SERVER)].bytes == 0) {
                pd->flags |= PEND_SPECULATED;
                smtp_body_start_data(e, pd->txn_gen, seq, pos);
                e->body.speculative = true;
            }
            break;
        case SMTP_CMD_RSET:
            promise_txn_reset(e, pd->ord);
            break;
        case SMTP_CMD_QUIT:
            e->quit_sent = true;
            break;
        case SMTP_CMD_STARTTLS:
            e->starttls_ord = pd->ord;
            e->starttls_frame = pos.frame;
            e->after_starttls = 0;
            break;
        case SMTP_CMD_AUTH:
            smtp_fact_promise(e, FACT_AUTH, true, pd->ord);
            break;
        default:
            break;
        }
    }
    if (masked_args)
        g_string_free(masked_args, TRUE);
    if (masked_line)
        g_string_free(masked_line, TRUE);
}
