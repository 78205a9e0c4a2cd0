/* smtpscope_tap.h -- what the dissector hands to the "smtpscope" tap.
 *
 * One smtpscope_tap_t per command, reply, anomaly or finished transaction
 * shown in a frame, queued with tap_queue_packet() on every pass that
 * renders the frame.  Strings are static registry strings or live in the
 * packet's pinfo->pool.
 */
#ifndef SMTPSCOPE_TAP_H
#define SMTPSCOPE_TAP_H

#include <glib.h>
#include <stdint.h>

typedef enum smtpscope_tap_kind {
    SMTPSCOPE_TAP_COMMAND,
    SMTPSCOPE_TAP_REPLY,
    SMTPSCOPE_TAP_ANOMALY,
    SMTPSCOPE_TAP_TRANSACTION
} smtpscope_tap_kind;

typedef struct smtpscope_tap_t {
    smtpscope_tap_kind kind;
    const char *verb;          /* command: verb in upper case ("AUTH response" for AUTH lines) */
    int         code;          /* reply code */
    const char *meaning;       /* reply meaning in its context */
    const char *command_label; /* reply: what it answers ("" if nothing) */
    const char *enhanced;      /* reply: "5.1.1" or NULL */
    const char *enh_meaning;   /* reply: meaning of the enhanced code, or NULL */
    int64_t     latency_ns;    /* reply: command to reply, -1 if unknown */
    const char *anomaly;       /* anomaly kind name */
    const char *anomaly_class; /* anomaly class name */
    const char *outcome;       /* transaction outcome name */
} smtpscope_tap_t;

/* Register the tap's stats_tree ("-z smtpscope,tree", Statistics menu).
 * Called from proto_reg_handoff; cannot fail. */
void smtpscope_tap_register_stats(void);

#endif
