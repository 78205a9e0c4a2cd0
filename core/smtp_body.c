/* smtp_body.c -- message bodies: the DATA end-of-data scan with
 * dot-stuffing and the SMTP-smuggling patterns, BDAT chunk counting, and
 * the header scan for Subject and Message-ID.
 *
 * The DATA scan looks only at CRs, LFs and the first octet of each line
 * (mid_scan), skipping 64-octet blocks of plain CRLF lines whole where SSE2
 * exists, and keeps only a mark (smtp_mark) across calls: at most the ".\r"
 * of a possible final line is held back.  The body is never buffered.
 *
 * End of data is CRLF "." CRLF and nothing else.  Receivers disagree about
 * bare LF or bare CR around the dot (LF.LF, CRLF.LF, LF.CRLF, CR.CR, ...):
 * some end the message there, some do not -- the SMTP smuggling attack
 * lives in that disagreement.  We keep reading (as a strict receiver does),
 * so a smuggled second message stays inside the first, and flag the pattern
 * as smtp_smuggling where a lenient receiver would have ended the message.
 */
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "smtp_internal.h"

bool smtp_body_active(const smtp_engine *e)
{
    return e->body.data || e->body.chunk_active;
}

/* The transaction the body belongs to, NULL if it already ended. */
static smtp_txn *body_txn(smtp_engine *e)
{
    return smtp_txn_get(e, e->body.txn_gen);
}

/* ---- header scan -------------------------------------------------------- */

static void hdr_reset(smtp_hdr *h)
{
    memset(h, 0, sizeof *h);
    h->bol = true;
}

static smtp_buf *hdr_value(smtp_engine *e)
{
    smtp_txn *t = body_txn(e);
    if (!t)
        return NULL;
    switch (e->body.hdr.field) {
    case 1: return &t->subject;
    case 2: return &t->message_id;
    default: return NULL;
    }
}

static uint8_t hdr_field(const char *name, size_t n)
{
    while (n && (name[n - 1] == ' ' || name[n - 1] == '\t'))
        n--;
    if (n == 7 && g_ascii_strncasecmp(name, "subject", 7) == 0)
        return 1;
    if (n == 10 && g_ascii_strncasecmp(name, "message-id", 10) == 0)
        return 2;
    return 0;
}

/* Feed message bytes (as sent, CRLF line ends) to the header scan. */
static void hdr_scan(smtp_engine *e, const char *p, size_t n)
{
    smtp_hdr *h = &e->body.hdr;
    if (n > SMTP_MAX_HEADER_SCAN - h->scanned)
        n = SMTP_MAX_HEADER_SCAN - h->scanned;
    h->scanned += (uint32_t)n;
    const char *end = p + n;

    while (p < end && !h->done) {
        if (h->bol) {
            h->bol = false;
            if (*p == '\r' || *p == '\n') {
                h->done = true; /* the empty line ends the header */
                break;
            }
            if (*p != ' ' && *p != '\t') {
                h->field = 0;
                h->in_name = true;
                h->name_len = 0;
                h->value_started = false;
            }
            /* else: a folded continuation of the current field */
        }
        const char *lf = memchr(p, '\n', (size_t)(end - p));
        const char *seg = lf ? lf : end;
        if (h->in_name) {
            const char *colon = memchr(p, ':', (size_t)(seg - p));
            const char *ne = colon ? colon : seg;
            size_t take = (size_t)(ne - p);
            if (take > sizeof h->name - h->name_len)
                take = sizeof h->name - h->name_len;
            memcpy(h->name + h->name_len, p, take);
            h->name_len = (uint8_t)(h->name_len + take);
            if (colon) {
                h->in_name = false;
                h->field = hdr_field(h->name, h->name_len);
                p = colon + 1;
            } else {
                p = seg;
            }
        }
        smtp_buf *v = h->in_name ? NULL : hdr_value(e);
        if (v && p < seg) {
            if (!h->value_started) {
                while (p < seg && (*p == ' ' || *p == '\t'))
                    p++;
                h->value_started = p < seg;
            }
            smtp_buf_append(v, p, (size_t)(seg - p), SMTP_MAX_HEADER_VALUE);
        }
        p = seg;
        if (lf) {
            if (v && v->len && v->data[v->len - 1] == '\r')
                v->len--;
            h->bol = true;
            p = lf + 1;
        }
    }
    if (h->scanned >= SMTP_MAX_HEADER_SCAN)
        h->done = true;
}

/* Message bytes to the header scan and the sink. */
static void body_out(smtp_engine *e, const void *p, size_t n, cap_pos pos, bool last)
{
    if (n && !e->body.hdr.done)
        hdr_scan(e, (const char *)p, n);
    if (e->body.smug_on && n &&
        smtp_buf_append(&e->body.smug, p, n, SMTP_MAX_SMUGGLED) < n) {
        e->body.smug_on = false; /* too long to be a few commands: drop it */
        smtp_buf_reset(&e->body.smug);
    }
    if (e->sink.on_body && (n || last)) {
        smtp_body_span s = { p, n, pos, last };
        e->sink.on_body(e->user, &s);
    }
}

/* ---- ends of messages ------------------------------------------------------ */

static void size_check(smtp_engine *e, cap_pos pos)
{
    smtp_txn *t = body_txn(e);
    if (!t || !e->caps_known || !e->size_limit || t->size <= e->size_limit)
        return;
    smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_message_over_size,
              t->method == SMTP_METHOD_BDAT ? SMTP_CMD_BDAT : SMTP_CMD_DATA, e->body.data_seq,
              "The message has %" G_GUINT64_FORMAT " octets, more than the advertised SIZE "
              "limit of %" G_GUINT64_FORMAT, t->size, e->size_limit);
}

/* The message is complete: the next reply answers its end (the one after
 * the commands already waiting, or at once when `front`). */
static void data_done_at(smtp_engine *e, cap_pos pos, const smtp_pending *dot)
{
    smtp_body *b = &e->body;
    if (b->smug_on) {
        /* The real final dot is one more line the server saw. */
        b->smug_on = false;
        b->smug_ready = smtp_buf_append(&b->smug, ".\r\n", 3, SMTP_MAX_SMUGGLED) == 3;
    }
    b->data = false;
    b->recover = false;
    b->mark = MK_BOL;
    body_out(e, NULL, 0, pos, true);
    size_check(e, pos);
    smtp_txn *t = body_txn(e);
    if (t)
        t->msg_done = true;
    smtp_pending *pd = dot ? smtp_pend_push_front(e, SMTP_CMD_DATA_END, b->data_seq, pos)
                                 : smtp_pend_push(e, SMTP_CMD_DATA_END, b->data_seq, pos);
    pd->txn_gen = b->txn_gen;
    if (dot) {
        /* Answered before the commands sent after the dot: its place,
         * frame and time are the dot line's. */
        pd->ord = dot->ord;
        pd->frame = dot->frame;
        pd->ts_ns = dot->ts_ns;
    } else {
        smtp_fact_promise(e, FACT_TXN, false, pd->ord);
        smtp_fact_promise(e, FACT_RCPT, false, pd->ord);
    }
}

static void data_done(smtp_engine *e, cap_pos pos)
{
    data_done_at(e, pos, NULL);
}

void smtp_body_early_text(smtp_engine *e, uint64_t early, const smtp_pending *dot, cap_pos pos)
{
    smtp_txn *t = body_txn(e);
    if (t)
        t->size += early;
    if (dot)
        data_done_at(e, pos, dot);
}

void smtp_body_cancel(smtp_engine *e)
{
    e->body.data = false;
    e->body.speculative = false;
    e->body.recover = false;
    e->body.mark = MK_BOL;
}

void smtp_body_end_abrupt(smtp_engine *e, cap_pos pos)
{
    if (!e->body.data)
        return;
    if (e->body.smug_on) {
        /* No final dot came: the kept text ends as it is. */
        e->body.smug_on = false;
        e->body.smug_ready = e->body.smug.len > 0;
    }
    data_done(e, pos);
}

void smtp_body_start_data(smtp_engine *e, uint32_t txn_gen, uint32_t data_seq, cap_pos pos)
{
    smtp_body *b = &e->body;
    (void)pos;
    b->data = true;
    b->recover = false;
    b->speculative = false;
    b->smug_on = b->smug_ready = false;
    smtp_buf_reset(&b->smug);
    b->mark = MK_BOL;
    b->bol_crlf = true;
    b->line_len = 0;
    b->long_seen = b->bare_lf_seen = b->bare_cr_seen = b->smuggling_seen = false;
    b->txn_gen = txn_gen;
    b->data_seq = data_seq;
    hdr_reset(&b->hdr);
    smtp_txn *t = body_txn(e);
    if (t)
        t->method = SMTP_METHOD_DATA;
}

void smtp_body_start_chunk(smtp_engine *e, uint32_t bdat_seq, uint64_t size, bool last, cap_pos pos)
{
    smtp_body *b = &e->body;
    smtp_txn *t = smtp_txn_get(e, e->txn_gen);
    if (b->txn_gen != e->txn_gen || !t || t->n_chunks == 0)
        hdr_reset(&b->hdr);
    b->txn_gen = e->txn_gen;
    b->data_seq = bdat_seq;
    if (t) {
        t->method = SMTP_METHOD_BDAT;
        t->n_chunks++;
        if (last)
            t->msg_done = true;
    }
    b->chunk_left = size;
    b->chunk_last = last;
    b->chunk_active = size > 0;
    b->chunk_implausible = size > SMTP_BDAT_PLAUSIBLE_MAX;
    if (size == 0 && last) {
        body_out(e, NULL, 0, pos, true);
        size_check(e, pos);
    }
}

/* ---- DATA scan --------------------------------------------------------------- */

static void smuggling(smtp_engine *e, cap_pos pos, const char *what, bool keep)
{
    if (e->body.smuggling_seen)
        return;
    e->body.smuggling_seen = true;
    /* Keep what follows a dot line that ends at an LF: receivers that take
     * LF as a line end stop the message there (the rest of that line is
     * dropped on replay). */
    if (keep) {
        e->body.smug_on = true;
        e->body.smug_pos = pos;
        smtp_buf_reset(&e->body.smug);
    }
    smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_smtp_smuggling, SMTP_CMD_DATA,
              e->body.data_seq,
              "Message data holds %s, which some receivers take as the end of data", what);
}

static void body_bare_cr(smtp_engine *e, cap_pos pos)
{
    if (e->body.bare_cr_seen)
        return;
    e->body.bare_cr_seen = true;
    smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_bare_cr, SMTP_CMD_DATA,
              e->body.data_seq, "Message data holds a bare CR not followed by LF");
}

/* A line of the body ended at an LF (crlf: preceded by CR). */
static void line_end(smtp_engine *e, bool crlf, cap_pos pos)
{
    smtp_body *b = &e->body;
    uint64_t wire = b->line_len + (crlf ? 1 : 2);
    if (wire > SMTP_TEXT_LINE_MAX && !b->long_seen) {
        b->long_seen = true;
        smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_text_line_too_long,
                  SMTP_CMD_DATA, b->data_seq,
                  "A message line is %" G_GUINT64_FORMAT " octets long (limit %d)", wire,
                  SMTP_TEXT_LINE_MAX);
    }
    if (!crlf && !b->bare_lf_seen) {
        b->bare_lf_seen = true;
        smtp_flag(e, smtp_phys(e, SMTP_DIR_CLIENT), pos, SMTP_AN_bare_lf, SMTP_CMD_DATA,
                  b->data_seq, "A message line ends with a bare LF instead of CRLF");
    }
    b->mark = MK_BOL;
    b->bol_crlf = crlf;
    b->line_len = 0;
}

/* The first CR or LF in [p, end), or end.  Most of a text line holds
 * neither, so it is skipped 16 octets at a time where SSE2 exists (every
 * x86-64), else 8 at a time in a word; the last few octets one by one. */
static const uint8_t *find_cr_lf(const uint8_t *p, const uint8_t *end)
{
#ifdef __SSE2__
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    for (; end - p >= 16; p += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
        if (m)
            return p + __builtin_ctz(m);
    }
#else
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    for (; end - p >= 8; p += 8) {
        uint64_t w, cr, lf;
        memcpy(&w, p, sizeof w);
        cr = w ^ (ones * '\r');
        lf = w ^ (ones * '\n');
        /* Set in every octet equal to CR or LF (and maybe in one after it):
         * the word is then searched below. */
        if ((((cr - ones) & ~cr) | ((lf - ones) & ~lf)) & highs)
            break;
    }
#endif
    while (p < end && *p != '\r' && *p != '\n')
        p++;
    return p;
}

#ifdef __SSE2__
/* Skip one 64-octet block at q if it is nothing but plain lines: every CR
 * followed by LF, every LF after a CR (or bare LFs already reported), no
 * line starting with '.', no line that could be too long, and no CR or LF
 * as its last octet (so nothing waits on the next block).  [*pp, q) is the
 * current line's part not yet counted.  Returns false, moving nothing, if
 * the block needs the line by line scan. */
static bool skip_plain_block(smtp_body *b, const uint8_t **pp, const uint8_t **qp,
                             uint64_t *add)
{
    const __m128i vcr = _mm_set1_epi8('\r'), vlf = _mm_set1_epi8('\n'), vdot = _mm_set1_epi8('.');
    const uint8_t *p = *pp, *q = *qp;
    uint64_t cr = 0, lf = 0, dot = 0;
    for (int i = 0; i < 4; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * i));
        cr |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vcr)) << (16 * i);
        lf |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vlf)) << (16 * i);
        dot |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vdot)) << (16 * i);
    }
    uint64_t bare_lf = lf & ~(cr << 1);
    if ((cr & ~(lf >> 1)) || (dot & (lf << 1)) || (lf >> 63) || (bare_lf && !b->bare_lf_seen))
        return false;
    if (!lf) {
        *qp = q + 64;
        return true;
    }
    /* Lines inside the block are short; the first one may not be (+2: as
     * if its LF were bare). */
    uint64_t first = (uint64_t)__builtin_ctzll(lf);
    if (!b->long_seen && b->line_len + (uint64_t)(q - p) + first + 2 > SMTP_TEXT_LINE_MAX)
        return false;
    unsigned last = 63u - (unsigned)__builtin_clzll(lf);
    *add += (uint64_t)(q + last + 1 - p);
    if (bare_lf) /* rare: spares a library call where the CPU has no popcnt */
        *add += (uint64_t)__builtin_popcountll(bare_lf);
    b->line_len = 0;
    b->bol_crlf = !((bare_lf >> last) & 1);
    *pp = q + last + 1;
    *qp = q + 64;
    return true;
}
#endif

/* Inside a line: one pass over whole lines, looking only at CRs, LFs and
 * the first byte of each line.  Stops at the end of the buffer or before a
 * line starting with '.' (left at MK_BOL for data_scan). */
static const uint8_t *mid_scan(smtp_engine *e, const uint8_t *p, const uint8_t *end,
                               cap_pos pos, uint64_t *add)
{
    smtp_body *b = &e->body;
    const uint8_t *q = p; /* [p, q): bytes of this line already looked at */
#ifdef __SSE2__
    const uint8_t *retry = p; /* no block skipping before this: one failed */
#endif
    for (;;) {
#ifdef __SSE2__
        if (q >= retry && end - q >= 64) {
            if (skip_plain_block(b, &p, &q, add))
                continue;
            retry = q + 64;
        }
#endif
        q = find_cr_lf(q, end);
        if (q == end)
            break;
        const uint8_t *lf = q;
        if (*q == '\r') {
            if (q + 1 == end)
                break;
            if (q[1] != '\n') {
                body_bare_cr(e, pos);
                if (q[1] == '.') {
                    if (q + 2 == end)
                        break;
                    if (q[2] == '\r')
                        smuggling(e, pos, "CR.CR", false);
                    else if (q[2] == '\n')
                        smuggling(e, pos, "CR.LF", false);
                }
                q++;
                continue;
            }
            lf = q + 1;
        }
        bool crlf = lf != q;
        b->line_len += (uint64_t)(lf - p);
        *add += (uint64_t)(lf - p) + (crlf ? 1 : 2);
        line_end(e, crlf, pos);
        p = q = lf + 1;
        if (p == end || *p == '.')
            return p;
        b->mark = MK_MID;
    }
    /* The line goes on in the next buffer; hold a CR or "\r." at its end. */
    b->line_len += (uint64_t)(end - p);
    *add += (uint64_t)(end - p);
    if (end[-1] == '\r')
        b->mark = MK_CR;
    else if (end - p >= 2 && end[-1] == '.' && end[-2] == '\r')
        b->mark = MK_CR_DOT;
    return end;
}

/* Size counts the message as a strict receiver stores it: stuffing dots
 * removed, every line end as CRLF (a bare LF counts 2), final line excluded. */
static size_t data_scan(smtp_engine *e, const uint8_t *buf, size_t n, cap_pos pos)
{
    smtp_body *b = &e->body;
    const uint8_t *p = buf, *end = buf + n, *span = buf;
    uint64_t add = 0;

    while (p < end) {
        switch (b->mark) {
        case MK_BOL:
            if (*p == '.') {
                body_out(e, span, (size_t)(p - span), pos, false);
                span = ++p;
                b->mark = MK_DOT;
            } else {
                b->mark = MK_MID;
            }
            continue;
        case MK_DOT:
            if (*p == '\r') {
                span = ++p;
                b->mark = MK_DOT_CR;
                continue;
            }
            if (*p == '\n')
                smuggling(e, pos, b->bol_crlf ? "CRLF.LF" : "LF.LF", true);
            body_out(e, ".", 1, pos, false); /* a stuffing dot: not counted */
            b->mark = MK_MID;
            b->line_len = 1;
            continue;
        case MK_DOT_CR:
            if (*p == '\n' && b->bol_crlf) {
                p++;
                if (body_txn(e))
                    body_txn(e)->size += add;
                data_done(e, pos);
                return (size_t)(p - buf);
            }
            smuggling(e, pos, *p == '\n' ? "LF.CRLF" : b->bol_crlf ? "CRLF.CR" : "LF.CR", *p == '\n');
            body_out(e, ".\r", 2, pos, false);
            add++;
            b->line_len = 2;
            b->mark = MK_CR;
            continue;
        case MK_CR:
            if (*p == '\n') {
                add++;
                p++;
                line_end(e, true, pos);
                continue;
            }
            body_bare_cr(e, pos);
            b->mark = MK_MID;
            if (*p == '.') {
                add++;
                b->line_len++;
                p++;
                b->mark = MK_CR_DOT;
            }
            continue;
        case MK_CR_DOT:
            if (*p == '\r' || *p == '\n')
                smuggling(e, pos, *p == '\r' ? "CR.CR" : "CR.LF", false);
            b->mark = MK_MID;
            continue;
        case MK_MID:
        default:
            p = mid_scan(e, p, end, pos, &add);
            break;
        }
    }
    /* A held ".\r" is never in [span, p): span moved past it. */
    body_out(e, span, (size_t)(p - span), pos, false);
    if (body_txn(e))
        body_txn(e)->size += add;
    return n;
}

size_t smtp_body_feed(smtp_engine *e, const uint8_t *p, size_t n, cap_pos pos)
{
    smtp_body *b = &e->body;
    if (b->chunk_active) {
        uint64_t take = n < b->chunk_left ? n : b->chunk_left;
        b->chunk_left -= take;
        if (body_txn(e))
            body_txn(e)->size += take;
        if (b->chunk_left == 0)
            b->chunk_active = false;
        body_out(e, p, (size_t)take, pos, b->chunk_left == 0 && b->chunk_last);
        if (b->chunk_left == 0 && b->chunk_last)
            size_check(e, pos);
        return (size_t)take;
    }
    if (b->data)
        return data_scan(e, p, n, pos);
    return 0;
}

/* ---- after a gap inside DATA ------------------------------------------------- */

void smtp_body_recover_line(smtp_engine *e, const smtp_line *ln, cap_pos pos)
{
    if (ln->len == 1 && ln->ptr[0] == '.') {
        data_done(e, pos);
        return;
    }
    if (smtp_client_line_is_command(ln->ptr, ln->len)) {
        /* The end of data was in the hole: the server has answered it or
         * will; this line is the next command. */
        data_done(e, pos);
        smtp_client_line(e, ln, pos);
        return;
    }
    bool stuffed = ln->len > 0 && ln->ptr[0] == '.';
    if (body_txn(e))
        body_txn(e)->size += ln->len - (stuffed ? 1 : 0) + 2;
    body_out(e, ln->ptr, ln->len, pos, false);
    body_out(e, "\r\n", 2, pos, false);
}

/* ---- after a smuggled end of data ---------------------------------------------- */

bool smtp_body_replay_smuggled(smtp_engine *e)
{
    smtp_body *b = &e->body;
    if (!b->smug_ready)
        return false;
    smtp_buf kept = b->smug;
    b->smug = (smtp_buf){ 0 };
    b->smug_ready = false;
    const char *p = kept.data, *end = p + kept.len;
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    p = lf ? lf + 1 : end; /* the rest of the smuggled dot line */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        smtp_line ln = { .ptr = p, .len = (size_t)(le - p), .first_frame = b->smug_pos.frame };
        ln.wire_len = ln.len + (nl ? 1 : 0);
        if (ln.len && p[ln.len - 1] == '\r')
            ln.len--;
        else
            ln.bare_lf = nl != NULL;
        /* Sent in the segment of the smuggled dot, so events say so. */
        smtp_client_line(e, &ln, b->smug_pos);
        p = nl ? nl + 1 : end;
    }
    smtp_buf_free(&kept);
    return true;
}
