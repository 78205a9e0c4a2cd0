/* smtp_limits.h -- every deliberate bound of the core, in one place.
 *
 * Each limit exists so that memory per conversation stays bounded whatever a
 * peer sends.  Hitting one is never fatal: the core records an anomaly, keeps
 * what it has and goes on.  The README lists these values.
 */
#ifndef SMTPSCOPE_SMTP_LIMITS_H
#define SMTPSCOPE_SMTP_LIMITS_H

/* RFC 5321 4.5.3.1: command lines 512 octets, text lines 1000.  Lines longer
 * than these are flagged; lines are only *buffered* up to SMTP_MAX_LINE_BUF,
 * the rest of an over-long line is counted and dropped. */
#define SMTP_CMD_LINE_MAX      512
#define SMTP_REPLY_LINE_MAX    512
#define SMTP_TEXT_LINE_MAX     1000
#define SMTP_MAX_LINE_BUF      4096

/* Commands sent but not yet answered.  RFC 2920 lets a client pipeline a
 * whole transaction; 100 recipients is the RFC 5321 minimum a server must
 * buffer, so 1024 leaves room.  Older pending commands beyond it are dropped
 * (counted, anomaly). */
#define SMTP_MAX_PENDING       1024

/* Lines of one multi-line reply kept for the event (the rest are counted),
 * and the bytes of text they may take. */
#define SMTP_MAX_REPLY_LINES   64
#define SMTP_MAX_REPLY_BYTES   16384

/* Recipients kept per transaction (RFC 5321 4.5.3.1.8 asks servers to accept
 * at least 100); further ones are counted only. */
#define SMTP_MAX_RECIPIENTS    1000

/* EHLO keywords kept from one EHLO reply. */
#define SMTP_MAX_CAPABILITIES  64

/* Header bytes of a message scanned for Subject and Message-ID. */
#define SMTP_MAX_HEADER_SCAN   65536

/* Per-direction out-of-order bytes the reassembler holds before it gives up
 * waiting for a hole to fill and reports a gap instead. */
#define REASM_MAX_BUFFERED     (256 * 1024)
/* Out-of-order segments held per direction (guards against floods of tiny
 * segments that would cost more in bookkeeping than in bytes). */
#define REASM_MAX_SEGMENTS     512

/* Conversations alive at once in a flow table; the oldest idle one is
 * evicted first when full. */
#define FLOW_MAX_LIVE_DEFAULT  65536
/* A conversation with no packet for this long (capture time) is closed. */
#define FLOW_IDLE_TIMEOUT_NS   (300LL * 1000000000LL)

#endif
