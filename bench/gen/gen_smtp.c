/* gen_smtp.c -- the script of one SMTP connection.
 *
 * A client meets one of a few server personalities (Postfix, Exim, an older
 * Postfix without PIPELINING/CHUNKING), says EHLO, maybe goes to TLS, maybe
 * authenticates (submission port), sends one to three transactions with 1-5
 * recipients each (some refused, some greylisted), DATA or BDAT bodies of
 * realistic sizes, and usually says QUIT.  A few conversations contain
 * commands out of sequence.  Everything a summariser could see in clear text
 * is counted in gen_counts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gen.h"

/* What a server says, per situation.  Formats take the arguments noted;
 * extra arguments are ignored by printf, so a personality may leave an
 * address out of a text. */
typedef struct server_kind {
    const char *greeting;       /* %s host */
    const char *const *caps;    /* EHLO keywords, NULL-terminated */
    uint64_t    size_limit;
    const char *mail_ok;
    const char *mail_denied;    /* %s sender */
    const char *rcpt_ok;
    const char *rcpt_unknown;   /* %s recipient */
    const char *rcpt_greylist;  /* %s recipient */
    const char *data_go;
    const char *no_rcpt;        /* DATA after every RCPT failed */
    const char *need_helo, *need_mail, *need_rcpt;
    const char *queued;         /* %s queue id */
    const char *spam;
    const char *tempfail;
    const char *bdat_ok;        /* %zu octets */
    const char *starttls, *auth_ok, *rset, *noop, *quit;
    bool        exim_ids;
} server_kind;

static const char *const postfix_caps[] = {
    "PIPELINING", "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "AUTH PLAIN LOGIN",
    "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING", NULL,
};
static const char *const exim_caps[] = {
    "SIZE 52428800", "8BITMIME", "PIPELINING", "CHUNKING", "STARTTLS",
    "AUTH PLAIN LOGIN", "HELP", NULL,
};
static const char *const old_postfix_caps[] = {
    "SIZE 10240000", "VRFY", "ETRN", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", NULL,
};

#define POSTFIX_TEXTS                                                               \
    .mail_ok = "250 2.1.0 Ok",                                                      \
    .mail_denied = "553 5.7.1 <%s>: Sender address rejected: not owned by user",    \
    .rcpt_ok = "250 2.1.5 Ok",                                                      \
    .rcpt_unknown = "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table", \
    .rcpt_greylist = "450 4.2.0 <%s>: Recipient address rejected: Greylisted, try again later", \
    .data_go = "354 End data with <CR><LF>.<CR><LF>",                               \
    .no_rcpt = "554 5.5.1 Error: no valid recipients",                              \
    .need_helo = "503 5.5.1 Error: send HELO/EHLO first",                           \
    .need_mail = "503 5.5.1 Error: need MAIL command",                              \
    .need_rcpt = "503 5.5.1 Error: need RCPT command",                              \
    .queued = "250 2.0.0 Ok: queued as %s",                                         \
    .spam = "550 5.7.1 Message content rejected",                                   \
    .tempfail = "451 4.3.0 Error: queue file write error",                          \
    .bdat_ok = "250 2.0.0 Ok: %zu bytes",                                           \
    .starttls = "220 2.0.0 Ready to start TLS",                                     \
    .auth_ok = "235 2.7.0 Authentication successful",                               \
    .rset = "250 2.0.0 Ok",                                                         \
    .noop = "250 2.0.0 Ok",                                                         \
    .quit = "221 2.0.0 Bye"

static const server_kind kinds[] = {
    { .greeting = "220 %s ESMTP Postfix (Debian/GNU)",
      .caps = postfix_caps, .size_limit = 10240000, POSTFIX_TEXTS },
    { .greeting = "220 %s ESMTP Postfix",
      .caps = old_postfix_caps, .size_limit = 10240000, POSTFIX_TEXTS },
    { .greeting = "220 %s ESMTP Exim 4.96 Mon, 02 Mar 2026 08:14:07 +0000",
      .caps = exim_caps, .size_limit = 52428800,
      .mail_ok = "250 OK",
      .mail_denied = "550 Sender verify failed",
      .rcpt_ok = "250 Accepted",
      .rcpt_unknown = "550 5.1.1 <%s>: Unrouteable address",
      .rcpt_greylist = "450 4.2.0 <%s>: greylisted, please try again in 5 minutes",
      .data_go = "354 Enter message, ending with \".\" on a line by itself",
      .no_rcpt = "503 valid RCPT command must precede DATA",
      .need_helo = "503 HELO or EHLO required",
      .need_mail = "503 sender not yet given",
      .need_rcpt = "503 valid RCPT command must precede DATA",
      .queued = "250 OK id=%s",
      .spam = "550 Rejected: message looks like spam",
      .tempfail = "451 Temporary local problem - please try later",
      .bdat_ok = "250 %zu byte chunk received",
      .starttls = "220 TLS go ahead",
      .auth_ok = "235 Authentication succeeded",
      .rset = "250 Reset OK",
      .noop = "250 OK",
      .quit = "221 mail.example.org closing connection",
      .exim_ids = true },
};

/* Weights (per mille) of the personalities above. */
static const uint32_t kind_weight[G_N_ELEMENTS(kinds)] = { 600, 150, 250 };

static const char *const first_names[] = {
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan",
    "judy", "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent",
    "victor", "walter", "noreply", "billing", "support", "newsletter", "hr",
};
static const char *const domains[] = {
    "example.com", "example.net", "example.org", "mail.example.com",
    "corp.example", "shop.example", "lists.example.org", "bank.example",
};

/* Fraction (per mille) of each behaviour. */
enum {
    P_STARTTLS = 100, P_PIPELINE = 700, P_BDAT = 120, P_RCPT_REJECT = 80,
    P_RCPT_DEFER = 40, P_MAIL_DENIED = 20, P_SPAM = 40, P_TEMPFAIL = 30,
    P_ATTACHMENT = 15, P_OUT_OF_SEQ = 25, P_NOOP = 30, P_QUIT = 930,
};

#define BDAT_CHUNK (64u * 1024)

typedef struct conv {
    gen_script *s;
    gen_rng    *r;
    gen_counts *c;
    const server_kind *k;
    const char *host;
    bool        pipelining, chunking, size;
} conv;

static void vline(conv *cv, int dir, const char *fmt, va_list ap)
{
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
    g_assert(n >= 0 && (size_t)n < sizeof buf - 2);
    buf[n++] = '\r';
    buf[n++] = '\n';
    gen_script_add(cv->s, dir, buf, (size_t)n);
}

static void command(conv *cv, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void command(conv *cv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(cv, GEN_CLIENT, fmt, ap);
    va_end(ap);
    cv->c->commands++;
}

/* One single-line reply; `fmt` comes from the personality table. */
static void reply(conv *cv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vline(cv, GEN_SERVER, fmt, ap);
    va_end(ap);
    cv->c->replies++;
}

static void address(gen_rng *r, char *buf, size_t size)
{
    const char *name = first_names[gen_below(r, G_N_ELEMENTS(first_names))];
    const char *word = gen_word(r);
    uint32_t num = gen_below(r, 1000);
    const char *domain = domains[gen_below(r, G_N_ELEMENTS(domains))];
    snprintf(buf, size, "%s.%s%u@%s", name, word, num, domain);
}

static void queue_id(conv *cv, char *buf)
{
    static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    size_t n = cv->k->exim_ids ? 16 : 15;
    for (size_t i = 0; i < n; i++)
        buf[i] = b62[gen_below(cv->r, 62)];
    if (cv->k->exim_ids)
        buf[6] = buf[13] = '-';
    buf[n] = '\0';
}

static bool has_cap(const server_kind *k, const char *name)
{
    size_t n = strlen(name);
    for (const char *const *c = k->caps; *c; c++)
        if (strncmp(*c, name, n) == 0 && ((*c)[n] == '\0' || (*c)[n] == ' '))
            return true;
    return false;
}

static void ehlo(conv *cv)
{
    uint32_t num = gen_below(cv->r, 5000);
    command(cv, "EHLO client%u.%s", num, domains[gen_below(cv->r, G_N_ELEMENTS(domains))]);
    gen_script_printf(cv->s, GEN_SERVER, "250-%s\r\n", cv->host);
    for (const char *const *c = cv->k->caps; *c; c++)
        gen_script_printf(cv->s, GEN_SERVER, "250%c%s\r\n", c[1] ? '-' : ' ', *c);
    cv->c->replies++;
}

/* The message as the client composes it (not dot-stuffed). */
static void compose(conv *cv, GByteArray *msg, const char *from, const char *to, bool stuff)
{
    gen_rng *r = cv->r;
    char hdr[1024];
    bool attach = gen_chance(r, P_ATTACHMENT);
    const char *relay = domains[gen_below(r, G_N_ELEMENTS(domains))];
    uint32_t clock[6];   /* relay address, then two times of day */
    for (size_t i = 0; i < G_N_ELEMENTS(clock); i++)
        clock[i] = gen_below(r, i < 2 ? 250 : 60);
    const char *words3[3];
    for (size_t i = 0; i < 3; i++)
        words3[i] = gen_word(r);
    uint32_t id_hi = (uint32_t)gen_next(r);
    uint32_t id_lo = gen_below(r, 65536);
    const char *id_domain = domains[gen_below(r, G_N_ELEMENTS(domains))];
    int n = snprintf(hdr, sizeof hdr,
                     "Received: from client.%s ([10.20.%u.%u])\r\n\tby %s with ESMTPSA; Mon, 2 Mar 2026 08:%02u:%02u +0000\r\n"
                     "Date: Mon, 2 Mar 2026 08:%02u:%02u +0000\r\nFrom: <%s>\r\nTo: <%s>\r\n"
                     "Subject: %s %s %s\r\nMessage-ID: <%08x.%04x@%s>\r\nMIME-Version: 1.0\r\n",
                     relay, clock[0], clock[1], cv->host, clock[2], clock[3], clock[4], clock[5],
                     from, to, words3[0], words3[1], words3[2], id_hi, id_lo, id_domain);
    g_byte_array_append(msg, (const guint8 *)hdr, (guint)n);
    size_t text = gen_lognormal(r, 20000, 3, 3000000);
    if (!attach) {
        static const char plain[] = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n";
        g_byte_array_append(msg, (const guint8 *)plain, sizeof plain - 1);
        gen_text_lines(r, msg, text, stuff);
        return;
    }
    n = snprintf(hdr, sizeof hdr,
                 "Content-Type: multipart/mixed; boundary=\"b%08x\"\r\n\r\n--b%08x\r\n"
                 "Content-Type: text/plain; charset=utf-8\r\n\r\n",
                 (unsigned)cv->c->transactions, (unsigned)cv->c->transactions);
    g_byte_array_append(msg, (const guint8 *)hdr, (guint)n);
    gen_text_lines(r, msg, text / 8, stuff);
    n = snprintf(hdr, sizeof hdr,
                 "--b%08x\r\nContent-Type: application/pdf; name=\"%s.pdf\"\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n",
                 (unsigned)cv->c->transactions, gen_word(r));
    g_byte_array_append(msg, (const guint8 *)hdr, (guint)n);
    gen_base64_lines(r, msg, gen_range(r, 1000000, 6000000));
    n = snprintf(hdr, sizeof hdr, "--b%08x--\r\n", (unsigned)cv->c->transactions);
    g_byte_array_append(msg, (const guint8 *)hdr, (guint)n);
}

/* The final reply after the message or its last chunk. */
static void final_reply(conv *cv)
{
    uint32_t roll = gen_below(cv->r, 1000);
    if (roll < P_SPAM) {
        reply(cv, cv->k->spam);
        cv->c->rejected++;
    } else if (roll < P_SPAM + P_TEMPFAIL) {
        reply(cv, cv->k->tempfail);
        cv->c->deferred++;
    } else {
        char id[32];
        queue_id(cv, id);
        reply(cv, cv->k->queued, id);
        cv->c->messages++;
    }
}

static void send_bdat(conv *cv, GByteArray *msg)
{
    size_t off = 0;
    cv->c->bdat++;
    do {
        size_t n = MIN((size_t)BDAT_CHUNK, msg->len - off);
        bool last = off + n == msg->len;
        command(cv, last ? "BDAT %zu LAST" : "BDAT %zu", n);
        gen_script_add(cv->s, GEN_CLIENT, msg->data + off, n);
        off += n;
        if (last)
            final_reply(cv);
        else
            reply(cv, cv->k->bdat_ok, n);
    } while (off < msg->len);
}

/* A command a server must refuse because of the state it comes in. */
static void out_of_sequence(conv *cv, bool before_helo)
{
    cv->c->out_of_sequence++;
    if (before_helo) {
        cv->c->transactions++;   /* a refused MAIL is still a transaction */
        command(cv, "MAIL FROM:<early@%s>", domains[0]);
        reply(cv, cv->k->need_helo);
    } else if (gen_chance(cv->r, 500)) {
        command(cv, "RCPT TO:<lost@%s>", domains[1]);
        reply(cv, cv->k->need_mail);
    } else {
        command(cv, "DATA");
        reply(cv, cv->k->need_rcpt);
    }
}

/* The reply to RCPT for a recipient whose reply class is `status`. */
static void rcpt_reply(conv *cv, int status, const char *to)
{
    reply(cv, status == 2 ? cv->k->rcpt_ok : status == 5 ? cv->k->rcpt_unknown : cv->k->rcpt_greylist, to);
}

static void transaction(conv *cv, GByteArray *msg)
{
    gen_rng *r = cv->r;
    char from[128], to[5][128];
    int status[5];   /* 2, 4 or 5: the class of each recipient's reply */
    uint32_t n_rcpt = gen_range(r, 1, 5);
    bool any_ok = false;
    bool bdat = cv->chunking && gen_chance(r, P_BDAT);

    address(r, from, sizeof from);
    for (uint32_t i = 0; i < n_rcpt; i++) {
        address(r, to[i], sizeof to[i]);
        uint32_t roll = gen_below(r, 1000);
        status[i] = roll < P_RCPT_REJECT ? 5 : roll < P_RCPT_REJECT + P_RCPT_DEFER ? 4 : 2;
        any_ok |= status[i] == 2;
    }
    g_byte_array_set_size(msg, 0);
    compose(cv, msg, from, to[0], !bdat);

    char params[64] = "";
    if (cv->size)
        snprintf(params, sizeof params, " SIZE=%u", msg->len);
    cv->c->transactions++;
    bool denied = !cv->pipelining && gen_chance(r, P_MAIL_DENIED);
    command(cv, "MAIL FROM:<%s>%s", from, params);
    if (denied) {
        reply(cv, cv->k->mail_denied, from);
        return;
    }
    if (!cv->pipelining)
        reply(cv, cv->k->mail_ok);
    for (uint32_t i = 0; i < n_rcpt; i++) {
        command(cv, "RCPT TO:<%s>", to[i]);
        if (!cv->pipelining)
            rcpt_reply(cv, status[i], to[i]);
    }
    bool data_in_group = cv->pipelining && !bdat;
    if (data_in_group)
        command(cv, "DATA");
    if (cv->pipelining) {
        cv->c->pipelined++;
        reply(cv, cv->k->mail_ok);
        for (uint32_t i = 0; i < n_rcpt; i++)
            rcpt_reply(cv, status[i], to[i]);
    }
    for (uint32_t i = 0; i < n_rcpt; i++) {
        cv->c->rcpt_rejected += status[i] == 5;
        cv->c->rcpt_deferred += status[i] == 4;
    }
    if (!any_ok) {
        if (data_in_group) {
            reply(cv, cv->k->no_rcpt);
        } else {
            command(cv, "RSET");
            reply(cv, cv->k->rset);
        }
        return;
    }
    if (bdat) {
        send_bdat(cv, msg);
        return;
    }
    if (!data_in_group)
        command(cv, "DATA");
    reply(cv, cv->k->data_go);
    gen_script_add(cv->s, GEN_CLIENT, msg->data, msg->len);
    gen_script_add(cv->s, GEN_CLIENT, ".\r\n", 3);
    final_reply(cv);
}

/* After 220 to STARTTLS only TLS records follow: a handshake, the message
 * as application data, and the close. */
static void tls_tail(conv *cv)
{
    gen_rng *r = cv->r;
    cv->c->starttls++;
    gen_tls_records(cv->s, r, GEN_CLIENT, 22, gen_range(r, 250, 520));
    gen_tls_records(cv->s, r, GEN_SERVER, 22, gen_range(r, 2500, 5000));
    gen_tls_records(cv->s, r, GEN_CLIENT, 22, gen_range(r, 60, 120));
    gen_tls_records(cv->s, r, GEN_SERVER, 23, gen_range(r, 100, 300));
    gen_tls_records(cv->s, r, GEN_CLIENT, 23, gen_lognormal(r, 20000, 3, 3000000));
    gen_tls_records(cv->s, r, GEN_SERVER, 23, gen_range(r, 60, 160));
}

static const server_kind *pick_kind(gen_rng *r)
{
    uint32_t roll = gen_below(r, 1000);
    for (size_t i = 0; i < G_N_ELEMENTS(kinds); i++) {
        if (roll < kind_weight[i])
            return &kinds[i];
        roll -= kind_weight[i];
    }
    return &kinds[0];
}

void gen_smtp_script(gen_script *s, gen_rng *r, gen_counts *c)
{
    static GByteArray *msg;   /* reused: bodies reach megabytes */
    if (!msg)
        msg = g_byte_array_sized_new(1 << 20);

    char host[64];
    conv cv = { .s = s, .r = r, .c = c, .k = pick_kind(r), .host = host };
    uint32_t port_roll = gen_below(r, 100);
    s->server_port = port_roll < 75 ? 25 : port_roll < 95 ? 587 : 2525;
    s->smtp = true;
    uint32_t mx = gen_below(r, 20);
    snprintf(host, sizeof host, "mx%u.%s", mx, domains[gen_below(r, 4)]);
    cv.pipelining = has_cap(cv.k, "PIPELINING") && gen_chance(r, P_PIPELINE);
    cv.chunking = has_cap(cv.k, "CHUNKING");
    cv.size = has_cap(cv.k, "SIZE");
    c->conversations++;

    reply(&cv, cv.k->greeting, host);
    if (gen_chance(r, P_OUT_OF_SEQ / 2))
        out_of_sequence(&cv, true);
    ehlo(&cv);
    if (has_cap(cv.k, "STARTTLS") && gen_chance(r, P_STARTTLS)) {
        command(&cv, "STARTTLS");
        reply(&cv, cv.k->starttls);
        tls_tail(&cv);
        return;
    }
    if (s->server_port == 587 && has_cap(cv.k, "AUTH")) {
        command(&cv, "AUTH PLAIN AGJlbmNoQGV4YW1wbGUuY29tAGJlbmNoLXNlY3JldA==");
        reply(&cv, cv.k->auth_ok);
    }
    uint32_t roll = gen_below(r, 100);
    uint32_t n_txn = roll < 80 ? 1 : roll < 95 ? 2 : 3;
    for (uint32_t t = 0; t < n_txn; t++) {
        if (gen_chance(r, P_OUT_OF_SEQ))
            out_of_sequence(&cv, false);
        if (gen_chance(r, P_NOOP)) {
            command(&cv, "NOOP");
            reply(&cv, cv.k->noop);
        }
        transaction(&cv, msg);
    }
    if (gen_chance(r, P_QUIT)) {
        command(&cv, "QUIT");
        reply(&cv, cv.k->quit);
    }
}
