/* smtpscope_tap.c -- the "SMTP/smtpscope" statistics tree.
 *
 * The init callback creates the top nodes once; the packet callback only
 * ticks them, by class then code for replies, by verb for commands, by
 * class then kind for anomalies and by outcome for transactions.  Labels
 * come from the registry, so the tree says what the dissector says.
 */
#define WS_LOG_DOMAIN "smtpscope"

#include <epan/packet.h>
#include <epan/stats_tree.h>
#include <epan/tap.h>

#include "registry.h"
#include "smtpscope_tap.h"

static int st_replies = -1;
static int st_enhanced = -1;
static int st_commands = -1;
static int st_latency = -1;
static int st_anomalies = -1;
static int st_transactions = -1;

static const char st_replies_name[] = "Replies by class and code";
static const char st_enhanced_name[] = "Replies by enhanced status code";
static const char st_commands_name[] = "Commands by verb";
static const char st_latency_name[] = "Reply time by command (ms)";
static const char st_anomalies_name[] = "Anomalies by class and kind";
static const char st_transactions_name[] = "Transactions by outcome";

static void smtpscope_stats_tree_init(stats_tree *st)
{
    st_replies = stats_tree_create_node(st, st_replies_name, 0, STAT_DT_INT, TRUE);
    st_enhanced = stats_tree_create_node(st, st_enhanced_name, 0, STAT_DT_INT, TRUE);
    st_commands = stats_tree_create_node(st, st_commands_name, 0, STAT_DT_INT, TRUE);
    st_latency = stats_tree_create_node(st, st_latency_name, 0, STAT_DT_INT, TRUE);
    st_anomalies = stats_tree_create_node(st, st_anomalies_name, 0, STAT_DT_INT, TRUE);
    st_transactions = stats_tree_create_node(st, st_transactions_name, 0, STAT_DT_INT, TRUE);
}

static void tick_reply(stats_tree *st, const smtpscope_tap_t *t)
{
    char cls[64], code[320];

    tick_stat_node(st, st_replies_name, 0, TRUE);
    g_snprintf(cls, sizeof cls, "%dxx %s", t->code / 100, reg_reply_category(t->code));
    int cls_id = tick_stat_node(st, cls, st_replies, TRUE);
    /* The generic meaning, so that each code is one row whatever it answered. */
    g_snprintf(code, sizeof code, "%03d %s", t->code, reg_reply_meaning(t->code, SMTP_CMD_NONE));
    tick_stat_node(st, code, cls_id, FALSE);

    if (t->enhanced) {
        char enh[320];
        tick_stat_node(st, st_enhanced_name, 0, TRUE);
        g_snprintf(enh, sizeof enh, "%s %s", t->enhanced, t->enh_meaning ? t->enh_meaning : "");
        tick_stat_node(st, g_strstrip(enh), st_enhanced, FALSE);
    }
    if (t->latency_ns >= 0 && t->command_label && *t->command_label) {
        tick_stat_node(st, st_latency_name, 0, TRUE);
        avg_stat_node_add_value_int(st, t->command_label, st_latency, FALSE,
                                    (gint)(t->latency_ns / 1000000));
    }
}

static tap_packet_status smtpscope_stats_tree_packet(stats_tree *st, packet_info *pinfo _U_,
                                                     epan_dissect_t *edt _U_, const void *p,
                                                     tap_flags_t flags _U_)
{
    const smtpscope_tap_t *t = (const smtpscope_tap_t *)p;

    switch (t->kind) {
    case SMTPSCOPE_TAP_REPLY:
        tick_reply(st, t);
        break;
    case SMTPSCOPE_TAP_COMMAND:
        tick_stat_node(st, st_commands_name, 0, TRUE);
        tick_stat_node(st, t->verb, st_commands, FALSE);
        break;
    case SMTPSCOPE_TAP_ANOMALY: {
        tick_stat_node(st, st_anomalies_name, 0, TRUE);
        int cls_id = tick_stat_node(st, t->anomaly_class, st_anomalies, TRUE);
        tick_stat_node(st, t->anomaly, cls_id, FALSE);
        break;
    }
    case SMTPSCOPE_TAP_TRANSACTION:
        tick_stat_node(st, st_transactions_name, 0, TRUE);
        tick_stat_node(st, t->outcome, st_transactions, FALSE);
        break;
    }
    return TAP_PACKET_REDRAW;
}

void smtpscope_tap_register_stats(void)
{
    stats_tree_register_plugin("smtpscope", "smtpscope", "SMTP/smtpscope", 0,
                               smtpscope_stats_tree_packet, smtpscope_stats_tree_init, NULL);
}
