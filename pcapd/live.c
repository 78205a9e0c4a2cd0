/* live.c -- capture from an interface (-i), optionally as another user (-Z).
 *
 * The device is opened and the filter set while still privileged, then
 * privileges are dropped for good.  Packets are read with pcap_dispatch()
 * under a short read timeout so that, even on a quiet link, idle
 * conversations are closed (and so printed) about once a second.  SIGINT
 * and SIGTERM only call pcap_breakloop(); the loop then finishes every
 * conversation still open and the run ends normally.
 */
#include "pcapd.h"

#include <errno.h>
#include <grp.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LIVE_SNAPLEN      262144
#define LIVE_TIMEOUT_MS   250
#define LIVE_EXPIRE_NS    1000000000LL

static pcap_t *volatile live_pcap;
static volatile sig_atomic_t live_stop;

static void on_signal(int sig)
{
    (void)sig;
    live_stop = 1;
    if (live_pcap)
        pcap_breakloop(live_pcap);
}

typedef struct live_state {
    pcapd_ctx *c;
    int        dlt;
    bool       nano;
    uint32_t   frame;
    cap_pos    last;
} live_state;

static void live_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    live_state *ls = (live_state *)user;
    ls->frame++;
    ls->last.ts_ns = pcapd_ts_ns(h->ts.tv_sec, (int64_t)h->ts.tv_usec * (ls->nano ? 1 : 1000));
    ls->last.frame = ls->frame;
    pcapd_packet(ls->c, data, h->caplen, h->len, ls->dlt, ls->last);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Become `user` for good: supplementary groups, group, then user. */
static bool drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        pcapd_warn("-Z %s: no such user", user);
        return false;
    }
    if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        pcapd_warn("-Z %s: cannot change to that user: %s", user, g_strerror(errno));
        return false;
    }
    if (pw->pw_uid != 0 && setuid(0) == 0) {
        pcapd_warn("-Z %s: root privileges could be regained; stopping", user);
        return false;
    }
    return true;
}

int pcapd_live(pcapd_ctx *c)
{
    const char *dev = c->opts->interface;
    char err[PCAP_ERRBUF_SIZE] = "";
    c->file = dev;
    c->sum.files++;
    pcap_t *p = pcap_create(dev, err);
    if (!p) {
        pcapd_input_error(c, dev, -1, "cannot open interface: %s", err);
        return c->exit_code;
    }
    pcap_set_snaplen(p, LIVE_SNAPLEN);
    pcap_set_promisc(p, 1);
    pcap_set_timeout(p, LIVE_TIMEOUT_MS);
    bool nano = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO) == 0;
    int rc = pcap_activate(p);
    if (rc < 0) {
        pcapd_input_error(c, dev, -1, "cannot capture: %s",
                          rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc));
        pcap_close(p);
        return c->exit_code;
    }
    live_state ls = { c, pcap_datalink(p), nano && pcap_get_tstamp_precision(p) ==
                      PCAP_TSTAMP_PRECISION_NANO, 0, { now_ns(), 0 } };
    if (!decode_link_supported(ls.dlt)) {
        pcapd_input_error(c, dev, -1, "unsupported link type %s (%d)",
                          pcap_datalink_val_to_name(ls.dlt) ? pcap_datalink_val_to_name(ls.dlt) : "?",
                          ls.dlt);
        pcap_close(p);
        return c->exit_code;
    }
    if (!pcapd_set_filter(c, p, dev)) {
        pcap_close(p);
        return c->exit_code;
    }
    if (c->opts->user && !drop_privileges(c->opts->user)) {
        c->exit_code = PCAPD_EXIT_INPUT;
        pcap_close(p);
        return c->exit_code;
    }

    live_pcap = p;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int64_t last_expire = now_ns();
    while (!live_stop) {
        rc = pcap_dispatch(p, -1, live_packet, (u_char *)&ls);
        if (rc == PCAP_ERROR) {
            pcapd_input_error(c, dev, -1, "capture failed: %s", pcap_geterr(p));
            break;
        }
        if (rc == PCAP_ERROR_BREAK)
            break;
        int64_t now = now_ns();
        if (now - last_expire >= LIVE_EXPIRE_NS) {
            tcp_tracker_expire(c->tracker, now);
            last_expire = now;
        }
        /* Live output is read as it comes: push it out every round. */
        ob_flush(&c->ob);
        fflush(stdout);
    }
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    live_pcap = NULL;
    cap_pos end = { now_ns(), ls.frame };
    tcp_tracker_finish(c->tracker, end);
    pcap_close(p);
    return c->exit_code;
}
