/* smtp_limits.h -- every deliberate bound of the core, in one place.
 *
 * Most exist so that memory stays bounded whatever a peer sends.  Hitting
 * one is never fatal: the core records an anomaly (or counts what it
 * dropped), keeps what it has and goes on.  The tracker's clocks (FLOW_*_NS)
 * are here too, so that every constant that shapes what the core keeps, and
 * for how long, is in one place.  The README lists these values.
 */
#ifndef SMTPSCOPE_SMTP_LIMITS_H
#define SMTPSCOPE_SMTP_LIMITS_H

#include <stdint.h>

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
/* Delivered bytes remembered per direction so that a retransmission of
 * them carrying other bytes is reported as a conflict (bytes still held out
 * of order are always compared).  A few command or reply lines' worth:
 * retransmissions come within a round trip, and what matters for SMTP is a
 * command or reply that two copies give differently. */
#define REASM_RECENT_BYTES     256
/* Out-of-order segments held per direction (guards against floods of tiny
 * segments that would cost more in bookkeeping than in bytes). */
#define REASM_MAX_SEGMENTS     512

/* A TCP window is at most 2^30 bytes (RFC 7323 window scale 14), so no
 * genuine segment or acknowledgement lies further ahead of the stream than
 * that.  Beyond it the number belongs to another connection or to a
 * capture glitch, and acting on it would invent a gap of absurd size. */
#define REASM_MAX_AHEAD        (1u << 30)

/* Conversations alive at once in a flow table; the oldest idle one is
 * evicted first when full. */
#define FLOW_MAX_LIVE_DEFAULT  65536
/* Capture times are clamped into [0, CAP_TS_MAX_NS] (the year 2116) by the
 * tracker, so that a time plus a timeout, or two times subtracted, cannot
 * overflow whatever a damaged or hostile file claims. */
#define CAP_TS_MAX_NS          (INT64_MAX / 2)
/* A conversation with no packet for this long (capture time) is closed. */
#define FLOW_IDLE_TIMEOUT_NS   (300LL * 1000000000LL)

/* A closed conversation leaves a tombstone (its endpoints and the time: 56
 * bytes and an index slot; engine and reassembly state are freed at the
 * close) for this long in capture time, so late retransmissions and ACKs
 * are dropped instead of starting a conversation midstream.  60 s covers
 * TCP's retransmission back-off well before TIME_WAIT would end. */
#define FLOW_CLOSED_LINGER_NS  (60LL * 1000000000LL)
/* Tombstones kept at once; beyond this the oldest goes early (at worst a
 * very late retransmission with payload then starts a midstream
 * conversation).  65536 is over 1000 closes a second for the whole linger
 * period, and at most about 6 MB with the index. */
#define FLOW_TOMBSTONES_MAX    65536

/* A flow moves to the head of the tracker's recency list at most once per
 * this much capture time.  Relinking on every packet would touch two
 * neighbouring flows' cache lines; with this the list is least recently
 * active first to within a second, which is all idle expiry and eviction
 * need. */
#define FLOW_TOUCH_NS          1000000000LL

/* Payload bytes held per direction while the heuristic waits for both
 * sides' first bytes on a port not listed as SMTP.  A greeting or hello
 * longer than this is unusual enough to be taken as not SMTP. */
#define HEUR_HOLD_MAX          1024

#endif
