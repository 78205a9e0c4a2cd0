/* smtp_engine.h -- the streaming SMTP conversation engine.
 *
 * One smtp_engine per TCP conversation.  The caller feeds the bytes of each
 * direction in order, in any split, with the time and frame number they
 * arrived in; reports gaps (bytes lost in one direction) and the end of the
 * conversation.  The engine calls back with events: commands, labelled
 * replies, EHLO capabilities, STARTTLS, AUTH exchanges, mail transactions,
 * anomalies and the end of the conversation.  It never prints, never exits
 * and never blocks.  Any split of the same bytes gives the same events.
 *
 * Pointers inside an event (spans, strings, arrays) are valid only during
 * the callback: copy what you keep.  Strings from the registry (labels,
 * meanings) are static and may be kept.
 *
 * Memory is bounded per engine whatever the peer sends (see smtp_limits.h);
 * every limit hit is reported as an anomaly.
 */
#ifndef SMTPSCOPE_SMTP_ENGINE_H
#define SMTPSCOPE_SMTP_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_limits.h"
#include "pos.h"
#include "registry.h"

/* Direction of bytes, fixed by the caller for the whole conversation: the
 * side that opened the TCP connection is the client.  (After a successful
 * TURN the roles swap inside the engine; events then say so through
 * smtp_event.from.) */
typedef enum smtp_dir { SMTP_DIR_CLIENT = 0, SMTP_DIR_SERVER = 1 } smtp_dir;

/* Bytes owned by somebody else; not NUL-terminated. */
typedef struct smtp_span {
    const char *ptr;
    size_t      len;
} smtp_span;

typedef enum smtp_event_type {
    SMTP_EV_COMMAND,       /* a client command line (or AUTH response line) */
    SMTP_EV_REPLY,         /* a complete server reply (greeting included) */
    SMTP_EV_CAPABILITIES,  /* the EHLO keywords of an accepted EHLO */
    SMTP_EV_STARTTLS,      /* 220 to STARTTLS: the rest of the stream is TLS */
    SMTP_EV_AUTH,          /* an AUTH exchange finished */
    SMTP_EV_TRANSACTION,   /* a mail transaction finished */
    SMTP_EV_ANOMALY,       /* something went wrong */
    SMTP_EV_END            /* the conversation ended; always the last event */
} smtp_event_type;

typedef struct smtp_command_ev {
    smtp_cmd  cmd;        /* SMTP_CMD_UNKNOWN for verbs not in the table;
                             SMTP_CMD_AUTH_RESPONSE for a line after 334 */
    smtp_span verb;       /* as sent (empty for AUTH responses) */
    smtp_span args;       /* after the verb and its space; secrets masked */
    smtp_span line;       /* whole line without CRLF; secrets masked */
    bool      masked;     /* args/line had a secret replaced by "****" */
    bool      pipelined;  /* sent while an earlier command was unanswered */
    uint32_t  seq;        /* 1-based number of the command in the conversation */
    uint32_t  first_frame;/* frame of the line's first byte (== pos.frame if one segment) */
} smtp_command_ev;

typedef struct smtp_reply_ev {
    int            code;        /* 0..999 as sent (first line's code) */
    const smtp_span *lines;     /* text after "NNN-"/"NNN " of each kept line */
    uint32_t       n_lines;     /* lines kept (<= SMTP_MAX_REPLY_LINES) */
    uint32_t       n_lines_total;
    smtp_enhanced  enhanced;    /* from the first line's text, if present */
    smtp_cmd       answers;     /* SMTP_CMD_GREETING, DATA_END, AUTH_RESPONSE,
                                   a real command, or NONE if nothing waited */
    uint32_t       cmd_seq;     /* seq of that command, 0 if none */
    uint32_t       cmd_frame;   /* frame of that command, 0 if none */
    int64_t        latency_ns;  /* command (or end of data) to reply; -1 if none */
    bool           valid;       /* reg_reply_valid_for(answers, code) */
    /* Labels, all static registry strings (never NULL except where noted). */
    const char    *category;        /* reg_reply_category */
    const char    *subject;         /* reg_reply_subject */
    const char    *meaning;         /* reg_reply_meaning(code, answers) */
    const char    *command_label;   /* reg_command_reply_label(answers); "" if none */
    const char    *enh_class;       /* NULL if no enhanced code */
    const char    *enh_subject;     /* NULL if no enhanced code */
    const char    *enh_meaning;     /* NULL if none or detail unknown */
    uint32_t       first_frame;     /* frame of the reply's first byte */
} smtp_reply_ev;

typedef struct smtp_capability {
    smtp_span keyword;   /* as sent, e.g. "SIZE" */
    smtp_span params;    /* e.g. "10240000"; empty if none */
    smtp_ext  ext;       /* SMTP_EXT_COUNT if not in the table */
} smtp_capability;

typedef struct smtp_capabilities_ev {
    const smtp_capability *caps;
    uint32_t  n_caps;
    smtp_span server_name;   /* first line's text up to the first space */
    uint64_t  size_limit;    /* SIZE parameter; 0 if absent or no limit */
    smtp_span auth_mechs;    /* AUTH parameters, e.g. "PLAIN LOGIN" */
    uint64_t  ext_mask;      /* bit (1 << smtp_ext) for every known keyword */
} smtp_capabilities_ev;

typedef struct smtp_starttls_ev {
    uint32_t cmd_frame;      /* frame of the STARTTLS command */
    bool     injection;      /* plaintext followed STARTTLS before TLS */
} smtp_starttls_ev;

typedef enum smtp_auth_outcome {
    SMTP_AUTH_SUCCESS,       /* 235 */
    SMTP_AUTH_FAILURE,       /* any 4xx/5xx */
    SMTP_AUTH_CANCELLED,     /* client sent "*" */
    SMTP_AUTH_UNFINISHED     /* conversation ended (or TLS began) first */
} smtp_auth_outcome;

typedef struct smtp_auth_ev {
    smtp_span mechanism;     /* "PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2", ... */
    smtp_span username;      /* decoded where the mechanism carries one; may be empty */
    smtp_span secret;        /* decoded password/token; empty unless reveal_secrets */
    smtp_auth_outcome outcome;
    int       code;          /* final reply code, 0 if none */
    smtp_enhanced enhanced;
    uint32_t  cmd_frame;     /* frame of the AUTH command */
} smtp_auth_ev;

typedef enum smtp_rcpt_status {
    SMTP_RCPT_ACCEPTED,      /* 2xx */
    SMTP_RCPT_REJECTED,      /* 5xx */
    SMTP_RCPT_DEFERRED,      /* 4xx */
    SMTP_RCPT_UNANSWERED     /* no reply seen */
} smtp_rcpt_status;

typedef struct smtp_recipient {
    smtp_span address;       /* forward-path without "<>" */
    smtp_span params;        /* ESMTP parameters after the path */
    int       code;
    smtp_enhanced enhanced;
    smtp_rcpt_status status;
    uint32_t  frame;         /* frame of the RCPT command */
} smtp_recipient;

typedef enum smtp_txn_outcome {
    SMTP_TXN_ACCEPTED,       /* 2xx after the message */
    SMTP_TXN_REJECTED,       /* 5xx after the message or a chunk */
    SMTP_TXN_DEFERRED,       /* 4xx after the message or a chunk */
    SMTP_TXN_ABORTED,        /* RSET, HELO/EHLO, STARTTLS, QUIT, end of
                                connection or a refused DATA before a message
                                was taken */
    SMTP_TXN_MAIL_REJECTED   /* the MAIL command itself was refused */
} smtp_txn_outcome;

typedef enum smtp_txn_method { SMTP_METHOD_NONE, SMTP_METHOD_DATA, SMTP_METHOD_BDAT } smtp_txn_method;

typedef struct smtp_transaction_ev {
    smtp_cmd   start_cmd;          /* MAIL, SEND, SOML or SAML */
    smtp_span  mail_from;          /* reverse-path without "<>" ("" for null sender) */
    smtp_span  mail_params;        /* ESMTP parameters, e.g. "SIZE=1234 BODY=8BITMIME" */
    int        mail_code;
    smtp_enhanced mail_enhanced;
    const smtp_recipient *recipients;
    uint32_t   n_recipients;       /* kept (<= SMTP_MAX_RECIPIENTS) */
    uint32_t   n_recipients_total;
    smtp_txn_method method;
    uint32_t   n_chunks;           /* BDAT chunks */
    uint64_t   size;               /* message octets after dot-unstuffing, CRLF
                                      line ends, without the final dot line */
    int        final_code;         /* reply after the message/last chunk; 0 if none */
    smtp_enhanced final_enhanced;
    smtp_span  final_text;         /* first line of that reply */
    smtp_txn_outcome outcome;
    smtp_span  queue_id;           /* quoted by the server, e.g. "4XyZ12" */
    smtp_span  subject;            /* Subject: header (unfolded, raw); may be empty */
    smtp_span  message_id;         /* Message-ID: header; may be empty */
    uint32_t   first_frame;        /* frame of the MAIL command */
    uint32_t   last_frame;         /* frame of the final reply (or of the abort) */
    int64_t    start_ns, end_ns;
} smtp_transaction_ev;

typedef struct smtp_anomaly_ev {
    smtp_anomaly kind;
    smtp_cmd     cmd;        /* command concerned, SMTP_CMD_NONE if none */
    uint32_t     cmd_seq;    /* its seq, 0 if none */
    const char  *message;    /* one sentence with specifics, NUL-terminated */
} smtp_anomaly_ev;

typedef enum smtp_end_reason {
    SMTP_END_FIN, SMTP_END_RST, SMTP_END_IDLE, SMTP_END_EOF, SMTP_END_EVICTED
} smtp_end_reason;

typedef enum smtp_conv_outcome {
    SMTP_CONV_DELIVERED,     /* at least one message accepted */
    SMTP_CONV_REJECTED,      /* messages were tried and all rejected */
    SMTP_CONV_DEFERRED,      /* messages were tried, some deferred, none accepted */
    SMTP_CONV_NO_MAIL,       /* no message was attempted */
    SMTP_CONV_CUT_OFF,       /* ended in the middle of a transaction */
    SMTP_CONV_TLS            /* went to TLS: the rest is not visible */
} smtp_conv_outcome;

typedef struct smtp_end_ev {
    smtp_end_reason   reason;
    smtp_conv_outcome outcome;
    smtp_span helo;                /* argument of the last accepted HELO/EHLO */
    bool      esmtp;               /* EHLO was accepted */
    bool      tls;                 /* STARTTLS accepted */
    bool      auth_ok;             /* an AUTH succeeded */
    smtp_span auth_user;
    bool      quit;                /* client sent QUIT */
    uint32_t  n_commands, n_replies;
    uint32_t  n_transactions, n_accepted, n_rejected, n_deferred, n_aborted;
    uint32_t  n_anomalies;
    uint64_t  bytes[2];            /* bytes fed per direction (incl. gaps) */
    uint64_t  gap_bytes[2];
} smtp_end_ev;

typedef struct smtp_event {
    smtp_event_type type;
    smtp_dir  from;          /* who sent what the event is about */
    cap_pos  pos;           /* where the event completed */
    union {
        smtp_command_ev      command;
        smtp_reply_ev        reply;
        smtp_capabilities_ev caps;
        smtp_starttls_ev     starttls;
        smtp_auth_ev         auth;
        smtp_transaction_ev  txn;
        smtp_anomaly_ev      anomaly;
        smtp_end_ev          end;
    } u;
} smtp_event;

/* Message body bytes as they arrive (DATA: wire bytes between 354 and the
 * final dot line, still dot-stuffed; BDAT: chunk octets).  `last` is set on
 * the call that ends the message (len may be 0 then). */
typedef struct smtp_body_span {
    const uint8_t *data;
    size_t   len;
    cap_pos pos;
    bool     last;
} smtp_body_span;

typedef struct smtp_sink {
    void (*on_event)(void *user, const smtp_event *ev);
    /* Optional (may be NULL): the message body, for front ends that show it. */
    void (*on_body)(void *user, const smtp_body_span *body);
} smtp_sink;

typedef struct smtp_options {
    bool    midstream;       /* capture started after the greeting: expect no
                                greeting, assume HELO was done, and report no
                                sequence anomaly until the state is known */
    bool    reveal_secrets;  /* put AUTH secrets in events (default: masked) */
    int64_t slow_reply_ns;   /* slow_reply threshold; 0 = default 10 s, <0 = off */
} smtp_options;

typedef struct smtp_engine smtp_engine;

/* Create an engine.  `sink` is copied; `user` is handed to every callback.
 * `opts` may be NULL for defaults.  Never returns NULL (aborts on OOM like
 * the rest of GLib). */
smtp_engine *smtp_engine_new(const smtp_sink *sink, void *user, const smtp_options *opts);

/* Free an engine; emits nothing.  Call smtp_end() first to get the final
 * events.  NULL is allowed. */
void smtp_engine_free(smtp_engine *eng);

/* Feed `len` bytes that `dir` sent, in stream order, all arrived in one
 * frame at `pos`.  Consumes everything; events are emitted before it
 * returns.  After SMTP_EV_STARTTLS (or SMTP_EV_END) bytes are only counted. */
void smtp_feed(smtp_engine *eng, smtp_dir dir, const uint8_t *buf, size_t len, cap_pos pos);

/* `len` bytes of `dir` were lost (not captured) at this point.  The engine
 * reports a gap anomaly, drops the partial line, and pauses sequence
 * verdicts until a reply re-establishes the state.  Inside a message the
 * message is kept, not dropped: the lost bytes count towards its size
 * (exactly, for a BDAT chunk; as an estimate for DATA, whose dot-stuffing
 * in the hole is unknown), and a DATA body is then read line by line until
 * its final dot, a line that looks like a command, or a server reply ends
 * it, so the transaction still gets its outcome and two messages are never
 * merged.  Elsewhere a placeholder absorbs the replies to commands lost in
 * the hole. */
void smtp_gap(smtp_engine *eng, smtp_dir dir, uint64_t len, cap_pos pos);

/* The conversation ended.  Flushes partial lines, finishes open
 * transactions and AUTH exchanges, reports unanswered commands and cut-off
 * sessions, then emits SMTP_EV_END.  Later calls do nothing. */
void smtp_end(smtp_engine *eng, smtp_end_reason reason, cap_pos pos);

/* True once STARTTLS was accepted (the rest of the stream is TLS). */
bool smtp_in_tls(const smtp_engine *eng);

/* Names used by every front end. */
const char *smtp_end_reason_name(smtp_end_reason r);    /* "fin", "rst", "idle", "eof", "evicted" */
const char *smtp_conv_outcome_name(smtp_conv_outcome o);/* "delivered", "rejected", "deferred", "no_mail", "cut_off", "tls" */
const char *smtp_txn_outcome_name(smtp_txn_outcome o);  /* "accepted", "rejected", "deferred", "aborted", "mail_rejected" */
const char *smtp_rcpt_status_name(smtp_rcpt_status s);  /* "accepted", "rejected", "deferred", "unanswered" */
const char *smtp_auth_outcome_name(smtp_auth_outcome o);/* "success", "failure", "cancelled", "unfinished" */
const char *smtp_method_name(smtp_txn_method m);        /* "", "DATA", "BDAT" */

#endif
