/* registry.h -- the reference tables both front ends read.
 *
 * Reply-code meanings, reply classes and subjects, enhanced status codes,
 * which replies each command may get, commands, EHLO keywords and anomaly
 * kinds.  All of it is data in the .def files of core/tables/; this header
 * only expands the lists into enums and declares the look-ups.  Every
 * function here is pure, thread-safe and never returns NULL unless it says
 * so: an unknown input gets a generic label, never an error.
 */
#ifndef SMTPSCOPE_REGISTRY_H
#define SMTPSCOPE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- commands (tables/commands.def) ---------------------------------- */

/* CMDF_* flags of a command row. */
#define CMDF_PSEUDO         0x01u /* never sent; only something a reply answers */
#define CMDF_HELLO          0x02u /* HELO/EHLO */
#define CMDF_NEEDS_HELLO    0x04u /* only valid after an accepted HELO/EHLO */
#define CMDF_TXN_START      0x08u /* opens a mail transaction (MAIL, SEND, SOML, SAML) */
#define CMDF_ANYTIME        0x10u /* valid in any state (RFC 5321 4.1.4) */
#define CMDF_LAST_IN_GROUP  0x20u /* must be last in a pipelined group (RFC 2920 3.1) */

typedef enum smtp_cmd {
#define SMTP_COMMAND(id, verb, flags, keyword, label, desc, ref) SMTP_CMD_##id,
#include "tables/commands.def"
#undef SMTP_COMMAND
    SMTP_CMD_COUNT
} smtp_cmd;

/* Command id for a verb of `len` bytes (case-insensitive); SMTP_CMD_UNKNOWN
 * if it is not in the table.  Pseudo commands are never returned. */
smtp_cmd reg_command_lookup(const char *verb, size_t len);
const char *reg_command_verb(smtp_cmd cmd);        /* "MAIL"; "" for pseudo */
const char *reg_command_reply_label(smtp_cmd cmd); /* "MAIL", "greeting", "data", "auth", "bdat" */
const char *reg_command_description(smtp_cmd cmd);
const char *reg_command_reference(smtp_cmd cmd);
/* EHLO keyword the server must advertise for the command, or NULL. */
const char *reg_command_keyword(smtp_cmd cmd);
unsigned reg_command_flags(smtp_cmd cmd);

/* ---- reply codes (tables/reply_codes.def, tables/command_replies.def) -- */

/* Class of a reply, from its first digit (RFC 5321 4.2.1):
 * "Positive Preliminary", "Positive Completion", "Positive Intermediate",
 * "Transient Negative Completion", "Permanent Negative Completion";
 * "Invalid" for a first digit outside 1-5. */
const char *reg_reply_category(int code);
/* Subject from the second digit (RFC 5321 4.2.1): "Syntax", "Information",
 * "Connections", "Unspecified", "Mail system"; "Invalid" above 5. */
const char *reg_reply_subject(int code);
/* Meaning of `code` as a reply to `cmd`: the context-specific meaning where
 * one exists (220 after STARTTLS, ATRN replies, AUTH replies, 554 as the
 * greeting, 250 after end of data, ...), else the generic meaning of the
 * code, else a meaning made from its class and subject (codes like 400 or
 * 472 that no table lists).  Never NULL. */
const char *reg_reply_meaning(int code, smtp_cmd cmd);
/* True when a table gives `code` a meaning of its own. */
bool reg_reply_known(int code);
/* True when `code` is a reply `cmd` may get (RFC 5321 4.3.2 and the
 * extension RFCs).  Strict about positive codes (only those the command's
 * row in tables/command_replies.def lists), liberal about negative ones:
 * 421 and common policy/syntax refusals are valid for any command, a 4yz
 * wherever its 5yz twin is, and a negative code no table knows (400, 472)
 * for any command.  UNKNOWN accepts 250 and any negative code; NONE
 * accepts nothing.  The full rules head command_replies.def. */
bool reg_reply_valid_for(smtp_cmd cmd, int code);

/* Table iterators, e.g. for the plugin's value_strings and for tests.
 * Rows come in table order (reply_codes.def: ascending code).  `i` runs
 * from 0 to the count; out of range the call returns false and leaves the
 * outputs alone.  Any output pointer may be NULL; strings are static. */
size_t reg_reply_code_count(void);
bool reg_reply_code_at(size_t i, int *code, const char **meaning, const char **reference);
/* Rows of reply_context.def: the meaning `code` has after `cmd`. */
size_t reg_reply_context_count(void);
bool reg_reply_context_at(size_t i, smtp_cmd *cmd, int *code, const char **meaning);
/* The codes command_replies.def lists for `cmd`, ascending, count in *n
 * (0 for NONE and out-of-range ids); and the negative codes it allows for
 * any command but the greeting.  reg_reply_valid_for() adds general rules
 * on top of these lists (see that file). */
const uint16_t *reg_command_replies(smtp_cmd cmd, size_t *n);
const uint16_t *reg_any_command_replies(size_t *n);

/* ---- enhanced status codes (tables/enhanced_codes.def) --------------- */

typedef struct smtp_enhanced {
    uint8_t  present;   /* 0: the reply carried none */
    uint8_t  cls;       /* 2, 4 or 5 */
    uint16_t subject;   /* 0..999 */
    uint16_t detail;    /* 0..999 */
} smtp_enhanced;

/* Parse an enhanced code at the start of `text` (RFC 3463: class "." subject
 * "." detail, class one of 2/4/5, subject and detail 1-3 digits, followed by
 * a space or the end).  Returns the number of bytes it took (0 and
 * out->present == 0 when there is none).  Reads at most `len` bytes of any
 * value; a tab, CR or LF after the code counts as its end too.  `out` may
 * be NULL to just test for a code. */
size_t reg_enhanced_parse(const char *text, size_t len, smtp_enhanced *out);
/* Format "5.1.1" into buf (at least 12 bytes).  Returns buf. */
char *reg_enhanced_format(const smtp_enhanced *e, char *buf, size_t size);
/* "Success", "Persistent Transient Failure", "Permanent Failure". */
const char *reg_enhanced_class_name(unsigned cls);
/* "Other or Undefined Status", "Addressing Status", "Mailbox Status",
 * "Mail System Status", "Network and Routing Status", "Mail Delivery
 * Protocol Status", "Message Content or Media Status", "Security or Policy
 * Status"; "Unknown subject" otherwise. */
const char *reg_enhanced_subject_name(unsigned subject);
/* Meaning of X.subject.detail from the IANA registry, e.g. "Bad destination
 * mailbox address"; NULL when the registry has no such detail code. */
const char *reg_enhanced_detail_meaning(unsigned subject, unsigned detail);
/* Rows of enhanced_codes.def in table order (same conventions as
 * reg_reply_code_at). */
size_t reg_enhanced_count(void);
bool reg_enhanced_at(size_t i, unsigned *subject, unsigned *detail, const char **meaning);

/* ---- EHLO keywords (tables/ehlo_keywords.def) ------------------------ */

typedef enum smtp_ext {
#define SMTP_EXTENSION(id, keyword, desc, ref) SMTP_EXT_##id,
#include "tables/ehlo_keywords.def"
#undef SMTP_EXTENSION
    SMTP_EXT_COUNT
} smtp_ext;

/* Keyword id for `len` bytes (case-insensitive); SMTP_EXT_COUNT if unknown. */
smtp_ext reg_ext_lookup(const char *kw, size_t len);
const char *reg_ext_keyword(smtp_ext ext);
const char *reg_ext_description(smtp_ext ext);

/* ---- anomalies (tables/anomalies.def) -------------------------------- */

typedef enum smtp_anomaly_class {
    ANC_SEQUENCE, ANC_REPLY, ANC_CAPABILITY, ANC_SYNTAX, ANC_LIMIT,
    ANC_TLS, ANC_AUTH, ANC_TRANSPORT, ANC_TIMING, ANC_SESSION,
    ANC_COUNT
} smtp_anomaly_class;

typedef enum smtp_severity { ANS_NOTE, ANS_WARN, ANS_ERROR } smtp_severity;

typedef enum smtp_anomaly {
#define SMTP_ANOMALY(id, cls, sev, desc) SMTP_AN_##id,
#include "tables/anomalies.def"
#undef SMTP_ANOMALY
    SMTP_AN_COUNT
} smtp_anomaly;

const char *reg_anomaly_name(smtp_anomaly a);        /* "rcpt_without_mail" */
const char *reg_anomaly_description(smtp_anomaly a);
smtp_anomaly_class reg_anomaly_class(smtp_anomaly a);
smtp_severity reg_anomaly_severity(smtp_anomaly a);
const char *reg_anomaly_class_name(smtp_anomaly_class c); /* "sequence" */
const char *reg_severity_name(smtp_severity s);           /* "note", "warning", "error" */

#endif
