/* smtp_internal.h -- the engine's private state, shared by core/smtp_*.c.
 *
 * The engine is split by job:
 *   smtp_engine.c  public API, line splitting, event and anomaly emission,
 *                  gaps and the end of the conversation
 *   smtp_client.c  client command lines: parsing, sequence and capability
 *                  rules, the queue of commands waiting for replies
 *   smtp_server.c  server reply lines: multi-line assembly, pairing with the
 *                  pending commands, labels, what each reply changes
 *   smtp_body.c    DATA bodies (end-of-data scan, dot-stuffing, smuggling),
 *                  BDAT chunks, the header scan for Subject and Message-ID
 *   smtp_txn.c     mail transactions and the queue-id patterns
 *   smtp_auth.c    AUTH exchanges: SASL decoding and secret masking
 * Nothing here is public: front ends see only smtp_engine.h.
 */
#ifndef SMTPSCOPE_SMTP_INTERNAL_H
#define SMTPSCOPE_SMTP_INTERNAL_H

#include <glib.h>

#include "smtp_engine.h"

/* What replaces a secret in a masked command line. */
#define SMTP_MASK "****"
/* Unanswered commands reported one by one at the end; the rest are summed up
 * in one more anomaly so a flood of pipelined commands cannot flood events. */
#define SMTP_MAX_UNANSWERED_REPORTS 32
/* Bytes kept of an unfolded Subject / Message-ID value: one text line. */
#define SMTP_MAX_HEADER_VALUE  SMTP_TEXT_LINE_MAX
/* Bytes kept of an AUTH mechanism, user name, secret, HELO argument or the
 * advertised AUTH mechanisms: longer ones are cut (they are labels only). */
#define SMTP_MAX_SHORT_FIELD   256

/* A BDAT chunk larger than this (1 TiB) is no real message: it is flagged
 * bad_bdat_size, still counted, and a refusal of the command ends it so a
 * peer cannot hide the rest of the conversation inside it. */
#define SMTP_BDAT_PLAUSIBLE_MAX (1ull << 40)

/* Server lines that are no reply tolerated before the greeting (an HTTP
 * CONNECT or SOCKS proxy answering first); one more and the stream is
 * declared not SMTP.  Each line is at most SMTP_MAX_LINE_BUF bytes. */
#define SMTP_MAX_PREAMBLE_LINES 16

/* Message text kept after an SMTP-smuggling end of data (LF.CRLF and the
 * like), in case the server's replies show it took that as the end: the
 * text is then read again as the commands the server saw.  Longer: not kept. */
#define SMTP_MAX_SMUGGLED 4096

/* A bounded growable byte buffer: allocated on first use, never above the
 * `max` its user passes, so idle conversations cost nothing. */
typedef struct smtp_buf {
    char    *data;
    uint32_t len, cap;
} smtp_buf;

/* Append up to `n` bytes, never growing past `max`.  Returns the number of
 * bytes appended (less than n when the bound was hit). */
size_t smtp_buf_append(smtp_buf *b, const void *p, size_t n, size_t max);
void   smtp_buf_reset(smtp_buf *b);
void   smtp_buf_free(smtp_buf *b);

/* A complete line handed to the client or server parser.  `ptr` points into
 * the caller's buffer or into the line buffer; valid during the call. */
typedef struct smtp_line {
    const char *ptr;
    size_t      len;          /* without CR LF */
    uint64_t    wire_len;     /* with its line end */
    bool        bare_lf;      /* ended with LF alone */
    bool        bare_cr;      /* holds a CR not followed by LF */
    uint32_t    first_frame;
} smtp_line;

/* Per physical direction: the unfinished tail of a line and byte counts. */
typedef struct smtp_side {
    smtp_buf  tail;           /* bytes of the unfinished line (<= SMTP_MAX_LINE_BUF) */
    uint64_t  tail_len;       /* bytes of that line so far, kept or not */
    bool      skipping;       /* line overflowed the buffer: skip to its LF */
    uint32_t  tail_frame;     /* frame of the line's first byte */
    char      tail_last;      /* last byte of the line so far (kept or not) */
    bool      bare_lf_seen, bare_cr_seen; /* reported once per direction */
    bool      after_gap;      /* the next line may be the rest of one cut by a gap */
    uint64_t  bytes, gap_bytes;
} smtp_side;

/* A command waiting for its reply. */
enum {
    PEND_BDAT_LAST  = 0x01,   /* BDAT ... LAST */
    PEND_LOST       = 0x02,   /* placeholder for commands lost in a client gap */
    PEND_UNCERTAIN  = 0x04,   /* its reply may have been lost in a server gap */
    PEND_BDAT_BAD   = 0x08,   /* BDAT whose arguments do not parse: no chunk */
    PEND_DOT        = 0x10,   /* the line was "." (CRLF): an end of data sent early */
    PEND_SPECULATED = 0x20,   /* DATA sent before any server byte: its 354 assumed */
};

typedef struct smtp_pending {
    smtp_cmd  cmd;
    uint8_t   flags;
    uint32_t  seq;            /* command number shown in events */
    uint32_t  ord;            /* queue order, for settling promises */
    uint32_t  frame;
    int64_t   ts_ns;
    uint32_t  txn_gen;        /* transaction it belongs to (MAIL, RCPT, DATA, BDAT) */
    int32_t   rcpt_idx;       /* RCPT: index in the transaction, -1 if not kept */
    uint64_t  text_len;       /* octets it adds to a message if it turns out to
                                 be message text sent before the 354 */
} smtp_pending;

/* A fact about the session as the client can know it: `act` is what the
 * replies established; a command still waiting for its reply "promises" its
 * effect, which is what the client may assume until that reply comes
 * (RFC 2920: a pipelined group is judged as if every command succeeds). */
typedef struct smtp_fact {
    bool     act;
    bool     pend;
    bool     pval;
    uint32_t pord;
} smtp_fact;

typedef enum smtp_fact_id {
    FACT_HELLO,       /* HELO/EHLO accepted */
    FACT_TXN,         /* MAIL accepted, transaction open */
    FACT_RCPT,        /* an RCPT accepted in the open transaction */
    FACT_BDAT,        /* BDAT used in this transaction */
    FACT_BDAT_LAST,   /* BDAT LAST sent in this transaction */
    FACT_AUTH,        /* AUTH succeeded */
    FACT_COUNT
} smtp_fact_id;

/* Recipient while the transaction is open: strings live in the
 * transaction's arena and are turned into spans when it is emitted. */
typedef struct smtp_rcpt_rec {
    uint32_t addr_off, addr_len, par_off, par_len;
    int      code;
    smtp_enhanced enhanced;
    smtp_rcpt_status status;
    uint32_t frame;
} smtp_rcpt_rec;

/* Transactions tracked at once: with BDAT a client may pipeline whole
 * messages, each waiting for its final reply while the next one starts. */
#define SMTP_TXN_SLOTS 8

typedef struct smtp_txn {
    bool      open;           /* started and not yet emitted */
    bool      msg_done;       /* message complete, waiting for the final reply */
    bool      too_many_flagged;
    uint32_t  gen;
    uint32_t  prev_gen;       /* open transaction this MAIL would replace, 0 if none */
    bool      mail_refused;   /* MAIL refused: emitted once its pipelined commands are answered */
    smtp_cmd  start_cmd;
    smtp_buf  arena;          /* reverse-path, parameters, recipients' strings */
    uint32_t  from_len, par_off, par_len;
    int       mail_code;
    smtp_enhanced mail_enhanced;
    smtp_rcpt_rec *rcpts;
    uint32_t  n_rcpts, rcpt_cap, n_rcpts_total;
    smtp_txn_method method;
    uint32_t  n_chunks;
    uint64_t  size;
    uint32_t  first_frame;
    int64_t   start_ns;
    smtp_buf  subject, message_id;
} smtp_txn;

/* Header scan state (Subject and Message-ID in the first header bytes). */
typedef struct smtp_hdr {
    bool      done;
    uint32_t  scanned;
    bool      bol;            /* at the start of a header line */
    bool      in_name;        /* collecting the field name */
    char      name[16];
    uint8_t   name_len;
    uint8_t   field;          /* 0 other, 1 Subject, 2 Message-ID */
    bool      value_started;  /* skipped the blanks after the colon */
} smtp_hdr;

/* DATA body scanner: where we are relative to line starts, with only the
 * bytes of a possible final dot line held across calls. */
typedef enum smtp_mark {
    MK_BOL,       /* at the start of a line */
    MK_MID,       /* inside a line */
    MK_DOT,       /* "." at a line start held */
    MK_DOT_CR,    /* ".\r" at a line start held */
    MK_CR,        /* inside a line, last byte CR */
    MK_CR_DOT     /* inside a line, bare CR then "." */
} smtp_mark;

typedef struct smtp_body {
    bool      data;           /* client is in DATA body mode */
    bool      recover;        /* body after a gap: line mode, watch for commands */
    bool      speculative;    /* started before its DATA's 354 came (PEND_SPECULATED) */
    bool      smug_on;        /* keeping the text after a smuggled end of data */
    bool      smug_ready;     /* kept text complete: replayed if a reply fits no command */
    cap_pos   smug_pos;       /* where the smuggled dot was: the kept lines' origin */
    smtp_buf  smug;
    smtp_mark mark;
    bool      bol_crlf;       /* the line end before a line start was CRLF */
    uint64_t  line_len;
    bool      long_seen, bare_lf_seen, bare_cr_seen, smuggling_seen;
    uint32_t  txn_gen;
    uint32_t  data_seq;
    uint64_t  chunk_left;     /* BDAT octets still to come */
    bool      chunk_active;
    bool      chunk_last;
    bool      chunk_implausible; /* size over SMTP_BDAT_PLAUSIBLE_MAX */
    smtp_hdr  hdr;
} smtp_body;

typedef struct smtp_auth_state {
    bool      active;         /* AUTH sent, exchange not finished */
    bool      awaiting;       /* 334 seen: next client line is a response */
    bool      cancelled;
    uint32_t  n_responses;
    smtp_buf  mech, user, secret;
    uint32_t  cmd_frame;
    uint32_t  cmd_seq;
} smtp_auth_state;

struct smtp_engine {
    smtp_sink    sink;
    void        *user;
    smtp_options opts;

    smtp_side    side[2];         /* by physical direction */
    bool         swapped;         /* TURN/ATRN accepted: roles reversed */
    bool         tls;
    bool         ended;

    /* commands waiting for replies, a ring growing up to SMTP_MAX_PENDING */
    smtp_pending *pend;
    uint32_t     pend_cap, pend_head, pend_n;
    uint32_t     next_ord;
    bool         pipeline_flagged; /* pipelining_not_advertised for this group */
    bool         not_last_flagged; /* pipeline_not_last for this group */
    bool         pend_overflowed;  /* too_many_pending reported until the queue drains */

    /* reply being assembled */
    bool         rep_active;
    int          rep_code;
    bool         rep_mismatch, rep_too_long;
    uint32_t     rep_first_frame;
    uint32_t     rep_n, rep_total;
    smtp_buf     rep_text;
    uint32_t     rep_off[SMTP_MAX_REPLY_LINES], rep_len[SMTP_MAX_REPLY_LINES];

    /* session */
    bool         greeting_seen;
    bool         seq_unknown;     /* midstream or after a gap: no sequence verdicts */
    bool         early_flagged;
    uint32_t     early_frame;     /* first client data before the greeting, 0 if none */
    bool         not_smtp;        /* gave up: the stream is not SMTP */
    uint32_t     preamble_lines;  /* server lines before the greeting that were no reply */
    bool         quit_sent, quit_ok;
    bool         client_silent_flagged; /* a reply came with no client byte captured */
    bool         server_closing;
    bool         saw_221;         /* the server said goodbye */  /* a 221, 421 or 521 came: nothing more will be answered */
    bool         esmtp, helo_only, caps_known;
    uint64_t     ext_mask, size_limit;
    smtp_buf     auth_mechs;
    smtp_buf     helo, helo_pending;
    smtp_fact    fact[FACT_COUNT];
    uint32_t     starttls_ord;    /* ord of a pending STARTTLS, 0 if none */
    uint32_t     starttls_frame;
    uint64_t     after_starttls;  /* client bytes after a pending STARTTLS line */
    bool         auth_ok;
    smtp_buf     auth_user;

    smtp_auth_state auth;
    smtp_body    body;
    smtp_txn     txns[SMTP_TXN_SLOTS]; /* by generation modulo the slots */
    uint32_t     txn_gen;         /* generation of the newest transaction */

    /* totals */
    uint32_t     n_commands, n_replies, n_anomalies;
    uint32_t     n_txn, n_accepted, n_rejected, n_deferred, n_aborted;
};

/* ---- smtp_engine.c --------------------------------------------------- */
smtp_dir smtp_phys(const smtp_engine *e, smtp_dir role);
void smtp_emit(smtp_engine *e, smtp_event *ev);
/* Report an anomaly; `fmt` makes the one-sentence message. */
void smtp_flag(smtp_engine *e, smtp_dir from, cap_pos pos, smtp_anomaly kind,
               smtp_cmd cmd, uint32_t seq, const char *fmt, ...) G_GNUC_PRINTF(7, 8);
/* Forget the client's unfinished line (a proxy handshake before the greeting). */
void smtp_client_drop_tail(smtp_engine *e);
/* How anomaly messages name a command: its verb, or "end of data", "an
 * unknown command", "the greeting", ... for the others. */
const char *smtp_cmd_text(smtp_cmd cmd);
/* A short printable copy of bytes for anomaly messages (static per call site
 * buffer owned by the caller). */
const char *smtp_quote(char *buf, size_t size, const char *p, size_t n);

/* ---- smtp_client.c --------------------------------------------------- */
void smtp_client_line(smtp_engine *e, const smtp_line *ln, cap_pos pos);
bool smtp_fact_get(const smtp_engine *e, smtp_fact_id f);
void smtp_fact_set(smtp_engine *e, smtp_fact_id f, bool v);
/* What a command waiting with queue order `ord` will establish if it succeeds. */
void smtp_fact_promise(smtp_engine *e, smtp_fact_id f, bool v, uint32_t ord);
void smtp_facts_settle(smtp_engine *e, uint32_t ord);
void smtp_facts_reset(smtp_engine *e);
smtp_pending *smtp_pend_push(smtp_engine *e, smtp_cmd cmd, uint32_t seq, cap_pos pos);
smtp_pending *smtp_pend_peek(smtp_engine *e, uint32_t i);
/* Put a command at the head of the queue: the next reply answers it. */
smtp_pending *smtp_pend_push_front(smtp_engine *e, smtp_cmd cmd, uint32_t seq, cap_pos pos);
void smtp_pend_pop(smtp_engine *e);
void smtp_pend_clear(smtp_engine *e);
/* True when the line looks like a command a client in a lost body would
 * send next (used to resynchronise after a gap). */
bool smtp_client_line_is_command(const char *p, size_t n);

/* ---- smtp_server.c --------------------------------------------------- */
void smtp_server_line(smtp_engine *e, const smtp_line *ln, cap_pos pos);
/* Finish a multi-line reply whose last line never came (end, gap). */
void smtp_server_flush(smtp_engine *e, cap_pos pos, bool emit);

/* ---- smtp_body.c ----------------------------------------------------- */
/* Scan client body bytes (DATA or BDAT); returns bytes consumed. */
size_t smtp_body_feed(smtp_engine *e, const uint8_t *p, size_t n, cap_pos pos);
void smtp_body_start_data(smtp_engine *e, uint32_t txn_gen, uint32_t data_seq, cap_pos pos);
/* The 354 came after the client had already sent `early` octets of message
 * text (taken for commands until then); `dot` is the final dot among them
 * (NULL if none), whose reply is then the next one. */
void smtp_body_early_text(smtp_engine *e, uint64_t early, const smtp_pending *dot, cap_pos pos);
void smtp_body_start_chunk(smtp_engine *e, uint32_t bdat_seq, uint64_t size, bool last,
                           cap_pos pos);
/* The DATA body ended without its dot line (a reply came, or a command after
 * a gap): push the end-of-data the next reply answers. */
void smtp_body_end_abrupt(smtp_engine *e, cap_pos pos);
/* A DATA body started on a 354 that did not come: forget it. */
void smtp_body_cancel(smtp_engine *e);
/* The server answers more than the message it got: it took the smuggled end
 * of data as the end.  Reads the text kept after it as client lines;
 * returns false if there was none. */
bool smtp_body_replay_smuggled(smtp_engine *e);
/* A line of a DATA body read in line mode after a gap. */
void smtp_body_recover_line(smtp_engine *e, const smtp_line *ln, cap_pos pos);
bool smtp_body_active(const smtp_engine *e);

/* ---- smtp_txn.c ------------------------------------------------------ */
/* The open transaction with generation `gen`, or NULL (0 is never used). */
smtp_txn *smtp_txn_get(smtp_engine *e, uint32_t gen);
bool smtp_txn_any_open(const smtp_engine *e);
/* MAIL/SEND/SOML/SAML sent: a new current transaction (e->txn_gen). */
void smtp_txn_begin(smtp_engine *e, smtp_cmd cmd, const char *from, size_t from_len,
                    const char *params, size_t params_len, cap_pos pos);
/* Add a recipient to the current transaction; its index or -1 if not kept. */
int32_t smtp_txn_add_rcpt(smtp_engine *e, const char *addr, size_t addr_len,
                          const char *params, size_t params_len, uint32_t seq, cap_pos pos);
void smtp_txn_rcpt_reply(smtp_engine *e, uint32_t gen, int32_t idx, int code,
                         const smtp_enhanced *enh);
/* The reply to MAIL: 2xx or 355 ends the transaction it replaces; a refusal
 * marks it mail_refused (emitted by smtp_txn_settle_refused). */
void smtp_txn_mail_reply(smtp_engine *e, smtp_txn *t, int code, const smtp_enhanced *enh,
                         cap_pos pos);
/* Emit `t` (NULL: nothing) with `outcome`; code/enh/text are the reply that
 * ended it (code 0 if none), `qid` the queue id it quoted (may be empty). */
void smtp_txn_finish(smtp_engine *e, smtp_txn *t, smtp_txn_outcome outcome, int code,
                     const smtp_enhanced *enh, const char *text, size_t text_len,
                     smtp_span qid, smtp_dir from, cap_pos pos);
void smtp_txn_abort(smtp_engine *e, smtp_txn *t, smtp_dir from, cap_pos pos);
/* Emit a transaction whose MAIL was refused once no command of it waits. */
void smtp_txn_settle_refused(smtp_engine *e, smtp_txn *t, smtp_dir from, cap_pos pos);
/* Abort every open transaction (end, STARTTLS, TURN), oldest first. */
void smtp_txn_abort_all(smtp_engine *e, smtp_dir from, cap_pos pos);
void smtp_txn_free_all(smtp_engine *e);
/* Queue id quoted in a final 2xx reply text; empty span if none. */
smtp_span smtp_queue_id(const char *text, size_t len);

/* ---- smtp_auth.c ----------------------------------------------------- */
/* AUTH command: remember the mechanism, decode an initial response.  Writes
 * the (possibly masked) argument string into `args_out`. */
void smtp_auth_begin(smtp_engine *e, const char *args, size_t len, uint32_t seq,
                     cap_pos pos, GString *args_out, bool *masked);
/* A client line after 334; writes the (possibly masked) line. */
void smtp_auth_response(smtp_engine *e, const char *p, size_t n, GString *line_out,
                        bool *masked);
/* A reply to AUTH or to a response. */
void smtp_auth_reply(smtp_engine *e, int code, const smtp_enhanced *enh, smtp_dir from,
                     cap_pos pos);
/* Emit the exchange as unfinished (end of conversation, TLS). */
void smtp_auth_unfinished(smtp_engine *e, smtp_dir from, cap_pos pos);
void smtp_auth_free(smtp_auth_state *a);

#endif
