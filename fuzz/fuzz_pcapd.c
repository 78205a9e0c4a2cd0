/* fuzz_pcapd.c -- libFuzzer target: pcapd's whole input path on a capture file.
 *
 * Input layout (see README.md):
 *   byte 0     options: bits0-1 format (text, NDJSON, CSV; 3 = NDJSON),
 *              bit2 --show-secrets, bit3 --summary, bit4 no heuristic,
 *              bit5 a small flow table (--max-conversations 4)
 *   the rest   the capture file (pcap, pcapng, gzip: whatever pcapd reads)
 *
 * The file goes to a temporary path and pcapd_run() reads it exactly as
 * `pcapd FILE` would: libpcap, link/IP/TCP decoding, IP fragments, the
 * tracker, the engine and the chosen renderer, with the report going to
 * /dev/null.  The exit status must be one pcapd documents for a file run
 * (0, or 3 for a damaged input); crashes, leaks and hangs are the rest.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib.h>

#include "fuzz_check.h"
#include "pcapd.h"

static char *capture_path;

static void remove_scratch(void)
{
    unlink(capture_path);
}

/* Once per process: a scratch file (removed at exit), and stdout to
 * /dev/null. */
static void setup(void)
{
    GError *err = NULL;
    int fd = g_file_open_tmp("fuzz_pcapd-XXXXXX.pcap", &capture_path, &err);
    FUZZ_CHECK(fd >= 0, "cannot make a temporary file: %s", err ? err->message : "?");
    close(fd);
    atexit(remove_scratch);
    FUZZ_CHECK(freopen("/dev/null", "w", stdout) != NULL, "cannot send stdout to /dev/null");
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
    int code = pcapd_run(&o);
    FUZZ_CHECK(code == PCAPD_EXIT_OK || code == PCAPD_EXIT_INPUT, "pcapd_run returned %d", code);
    return 0;
}
