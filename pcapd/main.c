/* main.c -- pcapd's command line: fill a pcapd_options, then pcapd_run(). */
#include "pcapd.h"

#include <errno.h>
#include <getopt.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#ifndef PCAPD_VERSION
#define PCAPD_VERSION "0.0.0"
#endif

/* Long-only options start at 128 so they never collide with a letter. */
enum {
    OPT_COLOR = 128, OPT_SHOW_SECRETS, OPT_FAIL_ON, OPT_PORTS, OPT_NO_HEURISTIC, OPT_SLOW,
    OPT_IDLE, OPT_MAX_CONV,
};

static const char short_opts[] = "r:i:f:Z:F:sqj:hV";

static const struct option long_opts[] = {
    { "read",              required_argument, NULL, 'r' },
    { "interface",         required_argument, NULL, 'i' },
    { "filter",            required_argument, NULL, 'f' },
    { "user",              required_argument, NULL, 'Z' },
    { "format",            required_argument, NULL, 'F' },
    { "summary",           no_argument,       NULL, 's' },
    { "quiet",             no_argument,       NULL, 'q' },
    { "jobs",              required_argument, NULL, 'j' },
    { "color",             required_argument, NULL, OPT_COLOR },
    { "colour",            required_argument, NULL, OPT_COLOR },
    { "show-secrets",      no_argument,       NULL, OPT_SHOW_SECRETS },
    { "fail-on",           required_argument, NULL, OPT_FAIL_ON },
    { "ports",             required_argument, NULL, OPT_PORTS },
    { "no-heuristic",      no_argument,       NULL, OPT_NO_HEURISTIC },
    { "slow",              required_argument, NULL, OPT_SLOW },
    { "idle",              required_argument, NULL, OPT_IDLE },
    { "max-conversations", required_argument, NULL, OPT_MAX_CONV },
    { "help",              no_argument,       NULL, 'h' },
    { "version",           no_argument,       NULL, 'V' },
    { NULL, 0, NULL, 0 },
};

static const char usage_text[] =
    "Usage: pcapd [OPTION]... FILE|DIR|-...\n"
    "       pcapd [OPTION]... -i INTERFACE [-f FILTER] [-Z USER]\n"
    "Rebuild the SMTP conversations of packet captures (pcap, pcapng, gzip-compressed\n"
    "or not) and report every command, labelled reply and anomaly.\n"
    "\n"
    "Input:\n"
    "  -r, --read FILE          read FILE (same as naming it; '-' is standard input)\n"
    "                           a directory means every capture file under it\n"
    "  -i, --interface IF       capture live on IF until interrupted (SIGINT/SIGTERM)\n"
    "  -f, --filter EXPR        BPF filter (tcpdump syntax), for files and live capture\n"
    "  -Z, --user USER          drop to USER after opening the interface\n"
    "  -j, --jobs N             N threads: N files at once, or one file's connections\n"
    "                           split across N trackers (the report stays the same)\n"
    "      --ports LIST         SMTP server ports, comma-separated (default 25,587,2525)\n"
    "      --no-heuristic       only those ports (default: also recognise SMTP by a\n"
    "                           '220' greeting answered with EHLO/HELO on any port)\n"
    "Output:\n"
    "  -F, --format FMT         text (default), ndjson or csv (one row per reply)\n"
    "  -s, --summary            only the summary and one line per conversation\n"
    "                           (text, NDJSON; CSV rows are always the replies)\n"
    "      --color WHEN         auto (default: a terminal and NO_COLOR unset), always, never\n"
    "      --show-secrets       show AUTH passwords and tokens (masked by default)\n"
    "  -q, --quiet              no progress bar and no statistics on stderr\n"
    "Analysis:\n"
    "      --slow MS            slow-reply threshold in milliseconds (default 10000,\n"
    "                           0 turns the check off)\n"
    "      --idle SEC           close conversations idle this long (default 300)\n"
    "      --max-conversations N   live conversations kept at once (default 65536)\n"
    "      --fail-on LIST       exit with status 2 when, comma-separated:\n"
    "                             anomaly  an anomaly of severity warning or error\n"
    "                             reject   a message or recipient refused (4xx/5xx)\n"
    "  -h, --help               this help\n"
    "  -V, --version            version\n"
    "\n"
    "Exit status:\n"
    "  0  every input was read to its end\n"
    "  1  bad command line (nothing was read)\n"
    "  2  a --fail-on condition was met\n"
    "  3  an input was missing, not a capture, of an unsupported link type or damaged\n"
    "     (everything readable was still reported)\n"
    "  4  the report could not be written\n"
    "\n"
    "NDJSON and CSV layouts: docs/ndjson.md; manual: pcapd(1).\n";

static int usage_error(const char *fmt, const char *arg)
{
    fputs("pcapd: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\nTry 'pcapd --help' for more information.\n", stderr);
    return PCAPD_EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_ports(const char *list, pcapd_options *o)
{
    gchar **parts = g_strsplit(list, ",", -1);
    bool ok = true;
    o->n_ports = 0;
    for (gchar **p = parts; *p && ok; p++) {
        uint64_t v;
        if (o->n_ports == PCAPD_MAX_PORTS || !parse_u64(g_strstrip(*p), 65535, &v) || v == 0)
            ok = false;
        else
            o->ports[o->n_ports++] = (uint16_t)v;
    }
    g_strfreev(parts);
    return ok && o->n_ports > 0;
}

static bool parse_fail_on(const char *list, unsigned *out)
{
    gchar **parts = g_strsplit(list, ",", -1);
    bool ok = true;
    for (gchar **p = parts; *p && ok; p++) {
        const char *w = g_strstrip(*p);
        if (strcmp(w, "anomaly") == 0)
            *out |= PCAPD_FAIL_ANOMALY;
        else if (strcmp(w, "reject") == 0)
            *out |= PCAPD_FAIL_REJECT;
        else
            ok = false;
    }
    g_strfreev(parts);
    return ok;
}

/* A filter that does not compile is a usage error, found before any input
 * is read (link-type-specific failures are reported per input later). */
static bool filter_compiles(const char *expr)
{
    pcap_t *p = pcap_open_dead(DLT_EN10MB, 65535);
    struct bpf_program prog;
    bool ok = pcap_compile(p, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) == 0;
    if (ok)
        pcap_freecode(&prog);
    else
        fprintf(stderr, "pcapd: filter \"%s\": %s\n", expr, pcap_geterr(p));
    pcap_close(p);
    return ok;
}

int main(int argc, char **argv)
{
    pcapd_options o;
    memset(&o, 0, sizeof o);
    GPtrArray *inputs = g_ptr_array_new();
    uint64_t v;
    int ch;
    while ((ch = getopt_long(argc, argv, short_opts, long_opts, NULL)) != -1) {
        switch (ch) {
        case 'r': g_ptr_array_add(inputs, optarg); break;
        case 'i': o.interface = optarg; break;
        case 'f': o.filter = optarg; break;
        case 'Z': o.user = optarg; break;
        case 'F':
            if (strcmp(optarg, "text") == 0)
                o.format = PCAPD_FMT_TEXT;
            else if (strcmp(optarg, "ndjson") == 0 || strcmp(optarg, "json") == 0)
                o.format = PCAPD_FMT_NDJSON;
            else if (strcmp(optarg, "csv") == 0)
                o.format = PCAPD_FMT_CSV;
            else
                return usage_error("unknown format '%s' (text, ndjson or csv)", optarg);
            break;
        case 's': o.summary_only = true; break;
        case 'q': o.quiet = true; break;
        case 'j':
            if (!parse_u64(optarg, 256, &v) || v == 0)
                return usage_error("-j takes 1 to 256 files at once, not '%s'", optarg);
            o.jobs = (unsigned)v;
            break;
        case OPT_COLOR:
            if (strcmp(optarg, "auto") == 0)
                o.color = 0;
            else if (strcmp(optarg, "always") == 0)
                o.color = 1;
            else if (strcmp(optarg, "never") == 0)
                o.color = -1;
            else
                return usage_error("--color takes auto, always or never, not '%s'", optarg);
            break;
        case OPT_SHOW_SECRETS: o.show_secrets = true; break;
        case OPT_FAIL_ON:
            if (!parse_fail_on(optarg, &o.fail_on))
                return usage_error("--fail-on takes anomaly and/or reject, not '%s'", optarg);
            break;
        case OPT_PORTS:
            if (!parse_ports(optarg, &o))
                return usage_error("--ports takes up to 64 ports 1-65535, not '%s'", optarg);
            break;
        case OPT_NO_HEURISTIC: o.no_heuristic = true; break;
        case OPT_SLOW:
            if (!parse_u64(optarg, 86400000, &v))
                return usage_error("--slow takes milliseconds, not '%s'", optarg);
            o.slow_reply_ns = v ? (int64_t)v * 1000000 : -1;
            break;
        case OPT_IDLE:
            if (!parse_u64(optarg, 86400 * 365, &v) || v == 0)
                return usage_error("--idle takes seconds (at least 1), not '%s'", optarg);
            o.idle_ns = (int64_t)v * 1000000000LL;
            break;
        case OPT_MAX_CONV:
            if (!parse_u64(optarg, 1u << 24, &v) || v == 0)
                return usage_error("--max-conversations takes 1 to 16777216, not '%s'", optarg);
            o.max_live = (size_t)v;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return PCAPD_EXIT_OK;
        case 'V':
            printf("pcapd (smtpscope) %s\n%s\n", PCAPD_VERSION, pcap_lib_version());
            return PCAPD_EXIT_OK;
        default:
            fputs("Try 'pcapd --help' for more information.\n", stderr);
            return PCAPD_EXIT_USAGE;
        }
    }
    for (int i = optind; i < argc; i++)
        g_ptr_array_add(inputs, argv[i]);
    if (o.interface && inputs->len)
        return usage_error("%s", "-i reads an interface; do not name files as well");
    if (!o.interface && inputs->len == 0)
        return usage_error("%s", "no input: name capture files, directories or '-', or use -i");
    if (o.user && !o.interface)
        return usage_error("%s", "-Z only applies to live capture (-i)");
    if (o.filter && !filter_compiles(o.filter))
        return PCAPD_EXIT_USAGE;
    g_ptr_array_add(inputs, NULL);
    o.n_inputs = inputs->len - 1;
    o.inputs = (char **)inputs->pdata;
    int rc = pcapd_run(&o);
    g_ptr_array_free(inputs, TRUE);
    return rc;
}
