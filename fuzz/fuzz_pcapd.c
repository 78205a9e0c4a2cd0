/* fuzz_pcapd.c -- libFuzzer target: pcapd's whole input path on a capture file.
 *
 * Input layout (see README.md):
 *   byte 0     options: bits0-1 format (text, NDJSON, CSV; 3 = NDJSON),
 *              bit2 --show-secrets, bit3 --summary, bit4 no heuristic,
 *              bit5 a small flow table (--max-conversations 4),
 *              bit6 differential -j run, bit7 (with bit6) -j 3 not -j 2
 *   the rest   the capture file (pcap, pcapng, gzip: whatever pcapd reads)
 *
 * The file goes to a temporary path and pcapd_run() reads it exactly as
 * `pcapd FILE` would: libpcap, link/IP/TCP decoding, IP fragments, the
 * tracker, the engine and the chosen renderer, with the report going to
 * /dev/null.  The exit status must be one pcapd documents for a file run
 * (0, or 3 for a damaged input); crashes, leaks and hangs are the rest.
 * With bit6 the file is read a second time with -j 2 (or 3) in slices of
 * FUZZ_SLICE_BYTES, and both reports and exit statuses must be identical
 * (unless bit5: the flow-table cap is per thread by design).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>

#include "fuzz_check.h"
#include "pcapd.h"

/* Small slices, so that even a fuzzer's small files span several. */
#define FUZZ_SLICE_BYTES "97"

static char *capture_path;
static char *report_path[2];
static int report_fd[2];
static int null_fd;

static void remove_scratch(void)
{
    unlink(capture_path);
    unlink(report_path[0]);
    unlink(report_path[1]);
}

static int scratch_file(const char *tmpl, char **path)
{
    GError *err = NULL;
    int fd = g_file_open_tmp(tmpl, path, &err);
    FUZZ_CHECK(fd >= 0, "cannot make a temporary file: %s", err ? err->message : "?");
    return fd;
}

/* Once per process: scratch files (removed at exit), and stdout to
 * /dev/null. */
static void setup(void)
{
    close(scratch_file("fuzz_pcapd-XXXXXX.pcap", &capture_path));
    report_fd[0] = scratch_file("fuzz_pcapd-XXXXXX.j1", &report_path[0]);
    report_fd[1] = scratch_file("fuzz_pcapd-XXXXXX.jN", &report_path[1]);
    atexit(remove_scratch);
    null_fd = open("/dev/null", O_WRONLY);
    FUZZ_CHECK(null_fd >= 0, "cannot open /dev/null");
    FUZZ_CHECK(dup2(null_fd, STDOUT_FILENO) >= 0, "cannot send stdout to /dev/null");
    setenv("SMTPSCOPE_SLICE_BYTES", FUZZ_SLICE_BYTES, 1);
}

/* Run pcapd with its report in report file `k`. */
static int run_into(const pcapd_options *o, int k)
{
    FUZZ_CHECK(ftruncate(report_fd[k], 0) == 0 && lseek(report_fd[k], 0, SEEK_SET) == 0,
               "cannot reset a report file");
    fflush(stdout);
    dup2(report_fd[k], STDOUT_FILENO);
    int code = pcapd_run(o);
    fflush(stdout);
    dup2(null_fd, STDOUT_FILENO);
    return code;
}

static GBytes *report(int k)
{
    gchar *text;
    gsize len;
    FUZZ_CHECK(g_file_get_contents(report_path[k], &text, &len, NULL), "cannot read a report");
    return g_bytes_new_take(text, len);
}

/* -j N must write the report a single thread writes. */
static void differential(pcapd_options *o, unsigned jobs)
{
    int one = run_into(o, 0);
    o->jobs = jobs;
    int many = run_into(o, 1);
    FUZZ_CHECK(one == PCAPD_EXIT_OK || one == PCAPD_EXIT_INPUT, "pcapd_run returned %d", one);
    FUZZ_CHECK(one == many, "exit status %d, with -j %u %d", one, jobs, many);
    if (o->max_live)
        return;
    GBytes *a = report(0), *b = report(1);
    FUZZ_CHECK(g_bytes_equal(a, b), "the report differs with -j %u (%zu and %zu bytes)", jobs,
               g_bytes_get_size(a), g_bytes_get_size(b));
    g_bytes_unref(a);
    g_bytes_unref(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (!capture_path)
        setup();
    GError *err = NULL;
    FUZZ_CHECK(g_file_set_contents(capture_path, (const char *)data + 1, (gssize)size - 1, &err),
               "cannot write %s: %s", capture_path, err ? err->message : "?");

    char *inputs[] = { capture_path, NULL };
    static const pcapd_format formats[4] = { PCAPD_FMT_TEXT, PCAPD_FMT_NDJSON, PCAPD_FMT_CSV, PCAPD_FMT_NDJSON };
    pcapd_options o = {
        .inputs = inputs,
        .n_inputs = 1,
        .format = formats[data[0] & 3],
        .show_secrets = (data[0] >> 2) & 1,
        .summary_only = (data[0] >> 3) & 1,
        .no_heuristic = (data[0] >> 4) & 1,
        .max_live = (data[0] & 0x20) ? 4 : 0,
        .quiet = true,
        .color = -1,
    };
    if (data[0] & 0x40) {
        differential(&o, data[0] & 0x80 ? 3 : 2);
        return 0;
    }
    int code = pcapd_run(&o);
    FUZZ_CHECK(code == PCAPD_EXIT_OK || code == PCAPD_EXIT_INPUT, "pcapd_run returned %d", code);
    return 0;
}
