/* smtpscope_record.h -- what the plugin keeps of the core's events.
 *
 * The engine's events point into buffers that live only during its
 * callback.  The dissector copies each one, on the first pass, into a
 * record in a wmem scope (file scope in practice) and hangs the records of a
 * frame on that frame; later passes render the copies and never touch the
 * engine again.
 */
#ifndef SMTPSCOPE_RECORD_H
#define SMTPSCOPE_RECORD_H

#include <glib.h>
#include <wsutil/wmem/wmem.h>

#include "smtp_engine.h"

/* One event as the plugin renders it. */
typedef struct ss_record {
    smtp_event ev;            /* deep copy: every span and array in the scope */
    guint32    frame;         /* frame that shows the event */
    guint32    link_frame;    /* command: frame showing its reply;
                                 reply: frame showing its command; 0 if none */
    gint       off, len;      /* bytes of this frame's tvb the event covers;
                                 off < 0 when they are not in this frame */
    struct ss_record *next;
} ss_record;

/* Everything one call of the dissector produced for one frame. */
typedef struct ss_frame {
    smtp_dir   dir;           /* who sent this segment */
    ss_record *first, *last;  /* events in the order the core emitted them */
    guint32    body_bytes;    /* message body bytes this segment carried */
    guint8    *body;          /* whole message when it ended here, else NULL */
    guint32    body_index;    /* events emitted before the message ended */
    guint32    body_len;
    gboolean   body_truncated;/* the message was longer than the plugin keeps */
    gboolean   retransmission;/* the segment brought no new bytes */
    /* Conversation counts up to and including this frame. */
    guint32    n_commands, n_replies, n_transactions, n_accepted, n_anomalies;
} ss_frame;

/* Copy `ev` with everything it points to into `scope` and append it to
 * `frame`.  Returns the new record (owned by `scope`).  Cannot fail. */
ss_record *ss_record_add(wmem_allocator_t *scope, ss_frame *frame, const smtp_event *ev);

#endif
