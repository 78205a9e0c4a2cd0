/* registry.c -- look-ups over the reference tables (the .def files in
 * tables/).
 *
 * Every table is expanded at compile time into static const data: there is
 * no initialisation, no allocation and no lock, so every function is pure
 * and thread-safe.  The per-reply functions are O(1) (arrays indexed by
 * code) or a binary search or compiler-built switch over a few dozen
 * entries.
 */
#include "registry.h"

#include <glib.h>

/* ====================================================================== */
/* commands                                                               */
/* ====================================================================== */

typedef struct cmd_row {
    const char *verb;
    size_t      verb_len;
    unsigned    flags;
    const char *keyword;
    const char *label;
    const char *description;
    const char *reference;
} cmd_row;

static const cmd_row cmd_rows[SMTP_CMD_COUNT] = {
#define SMTP_COMMAND(id, verb, flags, keyword, label, desc, ref) \
    [SMTP_CMD_##id] = { verb, sizeof(verb) - 1, flags, keyword, label, desc, ref },
#include "tables/commands.def"
#undef SMTP_COMMAND
};

/* Out-of-range ids read as UNKNOWN so no accessor can index past the table. */
static const cmd_row *cmd_row_of(smtp_cmd cmd)
{
    return (unsigned)cmd < SMTP_CMD_COUNT ? &cmd_rows[cmd] : &cmd_rows[SMTP_CMD_UNKNOWN];
}

/* Case-insensitive match of `len` bytes against a NUL-terminated table
 * string of exactly that length (the caller checked the length). */
static bool same_word(const char *table, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (g_ascii_toupper(s[i]) != table[i])
            return false;
    return true;
}

smtp_cmd reg_command_lookup(const char *verb, size_t len)
{
    if (verb == NULL || len == 0)
        return SMTP_CMD_UNKNOWN;
    /* About thirty rows, nearly all rejected on length or first byte;
     * pseudo rows have an empty verb and never match a non-empty one. */
    char first = g_ascii_toupper(verb[0]);
    for (unsigned i = 0; i < SMTP_CMD_COUNT; i++) {
        const cmd_row *r = &cmd_rows[i];
        if (r->verb_len == len && r->verb[0] == first && !(r->flags & CMDF_PSEUDO)
            && same_word(r->verb, verb, len))
            return (smtp_cmd)i;
    }
    return SMTP_CMD_UNKNOWN;
}

const char *reg_command_verb(smtp_cmd cmd)        { return cmd_row_of(cmd)->verb; }
const char *reg_command_reply_label(smtp_cmd cmd) { return cmd_row_of(cmd)->label; }
const char *reg_command_description(smtp_cmd cmd) { return cmd_row_of(cmd)->description; }
const char *reg_command_reference(smtp_cmd cmd)   { return cmd_row_of(cmd)->reference; }
const char *reg_command_keyword(smtp_cmd cmd)     { return cmd_row_of(cmd)->keyword; }
unsigned reg_command_flags(smtp_cmd cmd)          { return cmd_row_of(cmd)->flags; }

/* ====================================================================== */
/* reply codes                                                            */
/* ====================================================================== */

/* Codes are three digits; only 1yz-5yz carry a class (RFC 5321 4.2.1). */
#define CODE_MIN 100
#define CODE_MAX 999
#define TABLE_CODE_LIMIT 600 /* tables only hold classes 1-5 */

typedef struct reply_row {
    uint16_t    code;
    const char *meaning;
    const char *reference;
} reply_row;

static const reply_row reply_rows[] = {
#define SMTP_REPLY(code, meaning, ref) { code, meaning, ref },
#include "tables/reply_codes.def"
#undef SMTP_REPLY
};

/* The same rows indexed by code; a code of 600 or more does not compile. */
static const char *const reply_meanings[TABLE_CODE_LIMIT] = {
#define SMTP_REPLY(code, meaning, ref) [code] = meaning,
#include "tables/reply_codes.def"
#undef SMTP_REPLY
};

typedef struct context_row {
    smtp_cmd    cmd;
    uint16_t    code;
    const char *meaning;
    const char *reference;
} context_row;

static const context_row context_rows[] = {
#define SMTP_REPLY_CONTEXT(cmd, code, meaning, ref) { SMTP_CMD_##cmd, code, meaning, ref },
#include "tables/reply_context.def"
#undef SMTP_REPLY_CONTEXT
};

#define CONTEXT_KEY(cmd, code) ((unsigned)(cmd) * 1000u + (unsigned)(code))

/* The compiler turns the rows into a jump table or a binary search, and
 * rejects a duplicate (cmd, code) pair as a duplicate case. */
static const char *context_meaning(smtp_cmd cmd, int code)
{
    switch (CONTEXT_KEY(cmd, code)) {
#define SMTP_REPLY_CONTEXT(c, k, meaning, ref) case CONTEXT_KEY(SMTP_CMD_##c, k): return meaning;
#include "tables/reply_context.def"
#undef SMTP_REPLY_CONTEXT
    default:
        return NULL;
    }
}

static const char *const category_names[6] = {
    "Invalid", "Positive Preliminary", "Positive Completion", "Positive Intermediate",
    "Transient Negative Completion", "Permanent Negative Completion",
};

static const char *const subject_names[6] = {
    "Syntax", "Information", "Connections", "Unspecified", "Unspecified", "Mail system",
};

/* Meanings for codes no table lists, by first digit (1-5) and second
 * digit (0-5, then 6 for 6-9), so that the result stays a static string. */
#define FALLBACK_ROW(cls) {                                   \
        cls ": syntax (unspecified meaning)",                 \
        cls ": information (unspecified meaning)",            \
        cls ": connections (unspecified meaning)",            \
        cls " (unspecified meaning)",                         \
        cls " (unspecified meaning)",                         \
        cls ": mail system (unspecified meaning)",            \
        cls ": invalid second digit (unspecified meaning)" }

static const char *const fallback_meanings[5][7] = {
    FALLBACK_ROW("Positive preliminary"),
    FALLBACK_ROW("Positive completion"),
    FALLBACK_ROW("Positive intermediate"),
    FALLBACK_ROW("Transient negative completion"),
    FALLBACK_ROW("Permanent negative completion"),
};
#undef FALLBACK_ROW

static const char invalid_code_meaning[] = "Invalid reply code";

/* First digit of a three-digit code in 1..5, else 0. */
static int code_class(int code)
{
    if (code < CODE_MIN || code > CODE_MAX)
        return 0;
    int d = code / 100;
    return d <= 5 ? d : 0;
}

const char *reg_reply_category(int code)
{
    return category_names[code_class(code)];
}

const char *reg_reply_subject(int code)
{
    if (code < CODE_MIN || code > CODE_MAX)
        return "Invalid";
    int d = code / 10 % 10;
    return d <= 5 ? subject_names[d] : "Invalid";
}

bool reg_reply_known(int code)
{
    return code >= CODE_MIN && code < TABLE_CODE_LIMIT && reply_meanings[code] != NULL;
}

const char *reg_reply_meaning(int code, smtp_cmd cmd)
{
    int cls = code_class(code);
    if (cls == 0)
        return invalid_code_meaning;
    if ((unsigned)cmd < SMTP_CMD_COUNT) {
        const char *m = context_meaning(cmd, code);
        if (m != NULL)
            return m;
    }
    if (reply_meanings[code] != NULL)
        return reply_meanings[code];
    int subject = code / 10 % 10;
    return fallback_meanings[cls - 1][subject <= 5 ? subject : 6];
}

size_t reg_reply_code_count(void)
{
    return G_N_ELEMENTS(reply_rows);
}

bool reg_reply_code_at(size_t i, int *code, const char **meaning, const char **reference)
{
    if (i >= G_N_ELEMENTS(reply_rows))
        return false;
    if (code != NULL)
        *code = reply_rows[i].code;
    if (meaning != NULL)
        *meaning = reply_rows[i].meaning;
    if (reference != NULL)
        *reference = reply_rows[i].reference;
    return true;
}

size_t reg_reply_context_count(void)
{
    return G_N_ELEMENTS(context_rows);
}

bool reg_reply_context_at(size_t i, smtp_cmd *cmd, int *code, const char **meaning)
{
    if (i >= G_N_ELEMENTS(context_rows))
        return false;
    if (cmd != NULL)
        *cmd = context_rows[i].cmd;
    if (code != NULL)
        *code = context_rows[i].code;
    if (meaning != NULL)
        *meaning = context_rows[i].meaning;
    return true;
}

/* ---- which replies a command may get --------------------------------- */

typedef struct code_list {
    const uint16_t *codes; /* ascending */
    size_t          n;
} code_list;

#define SMTP_CMD_REPLIES(cmd, ...) static const uint16_t replies_##cmd[] = { __VA_ARGS__ };
#define SMTP_ANY_COMMAND_REPLIES(...) static const uint16_t replies_any[] = { __VA_ARGS__ };
#include "tables/command_replies.def"
#undef SMTP_CMD_REPLIES
#undef SMTP_ANY_COMMAND_REPLIES

/* NONE has no row: its list stays empty. */
static const code_list cmd_replies[SMTP_CMD_COUNT] = {
#define SMTP_CMD_REPLIES(cmd, ...) [SMTP_CMD_##cmd] = { replies_##cmd, G_N_ELEMENTS(replies_##cmd) },
#define SMTP_ANY_COMMAND_REPLIES(...)
#include "tables/command_replies.def"
#undef SMTP_CMD_REPLIES
#undef SMTP_ANY_COMMAND_REPLIES
};

static const code_list any_replies = { replies_any, G_N_ELEMENTS(replies_any) };

static bool list_has(const code_list *l, int code)
{
    size_t lo = 0, hi = l->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (l->codes[mid] == code)
            return true;
        if (l->codes[mid] < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* A negative code the tables allow for `cmd`: its own row, or the
 * any-command row for everything but the greeting (a 503 or 550 greeting
 * makes no sense; RFC 5321 4.3.2 gives the greeting 220 and 554 only). */
static bool negative_listed(smtp_cmd cmd, int code)
{
    return list_has(&cmd_replies[cmd], code)
        || (cmd != SMTP_CMD_GREETING && list_has(&any_replies, code));
}

/* The rules are spelled out at the top of tables/command_replies.def.
 * NONE (a reply nothing asked for) gets false for every code: the engine
 * reports that case as reply_without_command instead.  UNKNOWN (a verb not
 * in commands.def) accepts 250 and every negative code, since nobody can
 * say what an unknown command should get. */
bool reg_reply_valid_for(smtp_cmd cmd, int code)
{
    if ((unsigned)cmd >= SMTP_CMD_COUNT || cmd == SMTP_CMD_NONE)
        return false;
    if (code < CODE_MIN || code >= TABLE_CODE_LIMIT)
        return false;
    if (list_has(&cmd_replies[cmd], code))
        return true;
    if (code < 400)
        return false;
    if (cmd == SMTP_CMD_UNKNOWN || !reg_reply_known(code))
        return true;
    if (negative_listed(cmd, code))
        return true;
    return code < 500 && negative_listed(cmd, code + 100);
}

const uint16_t *reg_command_replies(smtp_cmd cmd, size_t *n)
{
    const code_list *l = (unsigned)cmd < SMTP_CMD_COUNT ? &cmd_replies[cmd] : &cmd_replies[SMTP_CMD_NONE];
    if (n != NULL)
        *n = l->n;
    return l->codes;
}

const uint16_t *reg_any_command_replies(size_t *n)
{
    if (n != NULL)
        *n = any_replies.n;
    return any_replies.codes;
}

/* ====================================================================== */
/* enhanced status codes                                                  */
/* ====================================================================== */

#define ENH_SUBJECTS 8
#define ENH_DETAILS  32

typedef struct enh_row {
    uint8_t     subject;
    uint8_t     detail;
    const char *meaning;
} enh_row;

static const enh_row enh_rows[] = {
#define SMTP_ENH_CODE(s, d, meaning, basic, ref) { s, d, meaning },
#include "tables/enhanced_codes.def"
};

/* Indexed by subject and detail; a row beyond the bounds does not compile. */
static const char *const enh_meanings[ENH_SUBJECTS][ENH_DETAILS] = {
#define SMTP_ENH_CODE(s, d, meaning, basic, ref) [s][d] = meaning,
#include "tables/enhanced_codes.def"
};

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads "." and 1-3 digits at text[*p]; false if they are not there or
 * a fourth digit follows. */
static bool parse_part(const char *text, size_t len, size_t *p, uint16_t *value)
{
    size_t i = *p;
    if (i >= len || text[i] != '.')
        return false;
    i++;
    size_t start = i;
    unsigned v = 0;
    while (i < len && i - start < 4 && is_digit(text[i]))
        v = v * 10 + (unsigned)(text[i++] - '0');
    if (i == start || i - start > 3)
        return false;
    *value = (uint16_t)v;
    *p = i;
    return true;
}

size_t reg_enhanced_parse(const char *text, size_t len, smtp_enhanced *out)
{
    smtp_enhanced e = { 0 };
    smtp_enhanced ignored;
    size_t p = 1;

    if (out == NULL)
        out = &ignored;
    *out = e;
    if (text == NULL || len == 0 || (text[0] != '2' && text[0] != '4' && text[0] != '5'))
        return 0;
    e.cls = (uint8_t)(text[0] - '0');
    if (!parse_part(text, len, &p, &e.subject) || !parse_part(text, len, &p, &e.detail))
        return 0;
    /* RFC 3463 puts a space between the code and the text; the line end
     * is accepted too, for callers that pass the line with its CRLF. */
    if (p < len && text[p] != ' ' && text[p] != '\t' && text[p] != '\r' && text[p] != '\n')
        return 0;
    e.present = 1;
    *out = e;
    return p;
}

char *reg_enhanced_format(const smtp_enhanced *e, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if (e == NULL || !e->present)
        buf[0] = '\0';
    else
        g_snprintf(buf, size, "%u.%u.%u", (unsigned)e->cls, (unsigned)e->subject, (unsigned)e->detail);
    return buf;
}

const char *reg_enhanced_class_name(unsigned cls)
{
    switch (cls) {
#define SMTP_ENH_CLASS(c, name) case c: return name;
#include "tables/enhanced_codes.def"
    default:
        return "Unknown class";
    }
}

const char *reg_enhanced_subject_name(unsigned subject)
{
    switch (subject) {
#define SMTP_ENH_SUBJECT(s, name) case s: return name;
#include "tables/enhanced_codes.def"
    default:
        return "Unknown subject";
    }
}

const char *reg_enhanced_detail_meaning(unsigned subject, unsigned detail)
{
    if (subject >= ENH_SUBJECTS || detail >= ENH_DETAILS)
        return NULL;
    return enh_meanings[subject][detail];
}

size_t reg_enhanced_count(void)
{
    return G_N_ELEMENTS(enh_rows);
}

bool reg_enhanced_at(size_t i, unsigned *subject, unsigned *detail, const char **meaning)
{
    if (i >= G_N_ELEMENTS(enh_rows))
        return false;
    if (subject != NULL)
        *subject = enh_rows[i].subject;
    if (detail != NULL)
        *detail = enh_rows[i].detail;
    if (meaning != NULL)
        *meaning = enh_rows[i].meaning;
    return true;
}

/* ====================================================================== */
/* EHLO keywords                                                          */
/* ====================================================================== */

typedef struct ext_row {
    const char *keyword;
    size_t      len;
    const char *description;
} ext_row;

static const ext_row ext_rows[SMTP_EXT_COUNT] = {
#define SMTP_EXTENSION(id, kw, desc, ref) [SMTP_EXT_##id] = { kw, sizeof(kw) - 1, desc },
#include "tables/ehlo_keywords.def"
#undef SMTP_EXTENSION
};

smtp_ext reg_ext_lookup(const char *kw, size_t len)
{
    if (kw == NULL || len == 0)
        return SMTP_EXT_COUNT;
    char first = g_ascii_toupper(kw[0]);
    for (unsigned i = 0; i < SMTP_EXT_COUNT; i++)
        if (ext_rows[i].len == len && ext_rows[i].keyword[0] == first
            && same_word(ext_rows[i].keyword, kw, len))
            return (smtp_ext)i;
    return SMTP_EXT_COUNT;
}

const char *reg_ext_keyword(smtp_ext ext)
{
    return (unsigned)ext < SMTP_EXT_COUNT ? ext_rows[ext].keyword : "";
}

const char *reg_ext_description(smtp_ext ext)
{
    return (unsigned)ext < SMTP_EXT_COUNT ? ext_rows[ext].description : "";
}

/* ====================================================================== */
/* anomalies                                                              */
/* ====================================================================== */

typedef struct anomaly_row {
    const char        *name;
    smtp_anomaly_class cls;
    smtp_severity      severity;
    const char        *description;
} anomaly_row;

static const anomaly_row anomaly_rows[SMTP_AN_COUNT] = {
#define SMTP_ANOMALY(id, cls, sev, desc) [SMTP_AN_##id] = { #id, ANC_##cls, ANS_##sev, desc },
#include "tables/anomalies.def"
#undef SMTP_ANOMALY
};

static const char *const anomaly_class_names[ANC_COUNT] = {
    [ANC_SEQUENCE] = "sequence",   [ANC_REPLY] = "reply",   [ANC_CAPABILITY] = "capability",
    [ANC_SYNTAX] = "syntax",       [ANC_LIMIT] = "limit",   [ANC_TLS] = "tls",
    [ANC_AUTH] = "auth",           [ANC_TRANSPORT] = "transport",
    [ANC_TIMING] = "timing",       [ANC_SESSION] = "session",
};

const char *reg_anomaly_name(smtp_anomaly a)
{
    return (unsigned)a < SMTP_AN_COUNT ? anomaly_rows[a].name : "unknown";
}

const char *reg_anomaly_description(smtp_anomaly a)
{
    return (unsigned)a < SMTP_AN_COUNT ? anomaly_rows[a].description : "Unknown anomaly";
}

smtp_anomaly_class reg_anomaly_class(smtp_anomaly a)
{
    return (unsigned)a < SMTP_AN_COUNT ? anomaly_rows[a].cls : ANC_COUNT;
}

smtp_severity reg_anomaly_severity(smtp_anomaly a)
{
    return (unsigned)a < SMTP_AN_COUNT ? anomaly_rows[a].severity : ANS_NOTE;
}

const char *reg_anomaly_class_name(smtp_anomaly_class c)
{
    return (unsigned)c < ANC_COUNT ? anomaly_class_names[c] : "unknown";
}

const char *reg_severity_name(smtp_severity s)
{
    switch (s) {
    case ANS_NOTE:  return "note";
    case ANS_WARN:  return "warning";
    case ANS_ERROR: return "error";
    }
    return "unknown";
}
