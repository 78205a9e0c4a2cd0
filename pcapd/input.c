/* input.c -- capture files, standard input and directories, via libpcap.
 *
 * Each file is opened with nanosecond timestamps, its link type checked,
 * and its records read with pcap_next_ex() straight into pcapd_packet(): no
 * copy, no allocation per packet.  Errors name the file and the byte offset
 * of the record that failed; what was read before is still reported (the
 * tracker is finished at the end of each file either way), and the next
 * input is read.  Every input reaches libpcap through a counting stream
 * (stream.c), which also inflates gzip-compressed captures, so libpcap
 * still does all the parsing and pcapd always knows the byte offset.
 */
#include "pcapd.h"
#include "progress.h"
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* File names taken from a directory even without a capture magic (so a
 * damaged one is reported rather than skipped silently). */
static const char *const capture_suffixes[] = {
    ".pcap", ".pcapng", ".cap", ".ntar", ".dmp", ".trace", ".pcap.gz", ".pcapng.gz", ".gz",
};

/* First four bytes of the formats libpcap reads, both byte orders. */
static bool capture_magic(const uint8_t m[4])
{
    static const uint8_t magics[][4] = {
        { 0xd4, 0xc3, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xc3, 0xd4 },  /* pcap, us */
        { 0x4d, 0x3c, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0x3c, 0x4d },  /* pcap, ns */
        { 0x34, 0xcd, 0xb2, 0xa1 }, { 0xa1, 0xb2, 0xcd, 0x34 },  /* Kuznetzov pcap */
        { 0x0a, 0x0d, 0x0d, 0x0a },                              /* pcapng SHB */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(magics); i++)
        if (memcmp(m, magics[i], 4) == 0)
            return true;
    return false;
}

/* ---- one capture ------------------------------------------------------- */

void pcapd_input_error(pcapd_ctx *c, const char *file, int64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (offset >= 0)
        pcapd_warn("%s: %s at offset %" G_GINT64_FORMAT, file, msg, offset);
    else
        pcapd_warn("%s: %s", file, msg);
    if (c->out->input_error)
        c->out->input_error(c, file, offset, msg);
    c->sum.files_failed++;
    c->exit_code = PCAPD_EXIT_INPUT;
    g_free(msg);
}

bool pcapd_link_usable(pcapd_ctx *c, pcap_t *p, const char *name)
{
    int dlt = pcap_datalink(p);
    if (decode_link_supported(dlt))
        return true;
    const char *dn = pcap_datalink_val_to_name(dlt);
    pcapd_input_error(c, name, -1, "unsupported link type %s (%d); no packet read",
                      dn ? dn : "unknown", dlt);
    return false;
}

bool pcapd_compile_filter(pcapd_ctx *c, pcap_t *p, const char *name, struct bpf_program *prog)
{
    if (pcap_compile(p, prog, c->opts->filter, 1, PCAP_NETMASK_UNKNOWN) == 0)
        return true;
    pcapd_input_error(c, name, -1, "filter \"%s\": %s", c->opts->filter, pcap_geterr(p));
    return false;
}

bool pcapd_set_filter(pcapd_ctx *c, pcap_t *p, const char *name)
{
    if (!c->opts->filter)
        return true;
    struct bpf_program prog;
    if (!pcapd_compile_filter(c, p, name, &prog))
        return false;
    bool ok = pcap_setfilter(p, &prog) == 0;
    if (!ok)
        pcapd_input_error(c, name, -1, "filter \"%s\": %s", c->opts->filter, pcap_geterr(p));
    pcap_freecode(&prog);
    return ok;
}

void pcapd_read_error(pcapd_ctx *c, const char *name, uint64_t offset, const char *msg,
                      uint64_t frame)
{
    /* libpcap 1.10 stops at a pcapng interface whose link type differs
     * from the first one's; say what that means. */
    const char *hint = strstr(msg, "different from the type of the first interface")
        ? "; libpcap can only read pcapng files whose interfaces share one link type"
          " (split the file per interface, e.g. with tshark -Y frame.interface_id==N)"
        : "";
    pcapd_input_error(c, name, (int64_t)offset, "%s%s (reading frame %" G_GUINT64_FORMAT ")",
                      msg, hint, frame);
}

/* Read every record of an opened capture; `st` counts the bytes libpcap
 * took; `size` is the file's size for the progress bar (0: unknown). */
static void read_capture(pcapd_ctx *c, pcap_t *p, const pcapd_stream *st, const char *name,
                         uint64_t size)
{
    int dlt = pcap_datalink(p);
    if (!pcapd_link_usable(c, p, name))
        return;
    /* The filter is run here, not by libpcap, so that every record passes
     * through the offset count. */
    struct bpf_program filter;
    if (c->opts->filter && !pcapd_compile_filter(c, p, name, &filter))
        return;

    progress pg;
    progress_start(&pg, name, size, !c->opts->quiet && !c->no_progress);
    struct pcap_pkthdr *h;
    const u_char *data;
    uint32_t frame = 0;
    cap_pos last = { 0, 0 };
    /* Where the next record starts: what libpcap has read so far. */
    uint64_t off = pcapd_stream_offset(st);
    unsigned rec_hdr = pcapd_stream_record_header(st);
    int snap = pcap_snapshot(p);
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        off = pcapd_stream_after(st, off, rec_hdr, h->caplen, snap);
        if (c->opts->filter && !pcap_offline_filter(&filter, h, data))
            continue;
        frame++;
        /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
        last.ts_ns = pcapd_ts_ns(h->ts.tv_sec, h->ts.tv_usec);
        last.frame = frame;
        pcapd_packet(c, data, h->caplen, h->len, dlt, last);
        if ((frame & 0x3ff) == 0 && pg.enabled)
            progress_update(&pg, off);
    }
    progress_end(&pg);
    if (c->opts->filter)
        pcap_freecode(&filter);
    if (rc == -1)
        pcapd_read_error(c, name, off, pcap_geterr(p), (uint64_t)frame + 1);
    /* Whatever happened, the conversations read so far are reported. */
    tcp_tracker_finish(c->tracker, last);
}

pcap_t *pcapd_open_capture(pcapd_ctx *c, const char *name, pcapd_stream **stream,
                           uint64_t *size)
{
    char err[PCAP_ERRBUF_SIZE] = "";
    FILE *fp;
    bool gz = false;
    int fd;
    *size = 0;
    c->file = name;
    c->sum.files++;
    if (strcmp(name, "-") == 0) {
        fd = dup(STDIN_FILENO);
    } else {
        fd = open(name, O_RDONLY);
    }
    if (fd < 0) {
        pcapd_input_error(c, name, -1, "cannot open: %s", g_strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        if (*size == 0) {
            close(fd);
            pcapd_input_error(c, name, 0, "empty file, not a capture");
            return NULL;
        }
        uint8_t m[2];
        gz = pread(fd, m, 2, 0) == 2 && m[0] == 0x1f && m[1] == 0x8b;
    } else if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        pcapd_input_error(c, name, -1, "is a directory");
        return NULL;
    } else {
        /* A pipe cannot be peeked at; zlib passes plain data through
         * unchanged, so a gzip-compressed stream on stdin works too. */
        gz = true;
    }
    fp = pcapd_stream_open(fd, gz, stream);
    if (!fp) {
        pcapd_input_error(c, name, -1, "cannot open: %s", g_strerror(errno));
        return NULL;
    }
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(fp, PCAP_TSTAMP_PRECISION_NANO, err);
    if (!p) {
        fclose(fp);
        pcapd_input_error(c, name, 0, "not a readable capture file (%s)", err);
        return NULL;
    }
    /* Compressed: the bar would compare inflated bytes with the file size. */
    if (gz)
        *size = 0;
    return p;
}

void pcapd_read_file(pcapd_ctx *c, const char *name)
{
    pcapd_stream *stream;
    uint64_t size;
    pcap_t *p = pcapd_open_capture(c, name, &stream, &size);
    if (!p)
        return;
    read_capture(c, p, stream, name, size);
    pcap_close(p);
}

static bool wanted_in_dir(const char *path, const char *base)
{
    for (size_t i = 0; i < G_N_ELEMENTS(capture_suffixes); i++)
        if (g_str_has_suffix(base, capture_suffixes[i]))
            return true;
    uint8_t m[4];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return true;    /* let read_file report it */
    bool ok = read(fd, m, 4) == 4 && capture_magic(m);
    close(fd);
    return ok;
}

static gint cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every capture file under `dir`, recursively, in name order; hidden
 * entries are skipped.  Names are added to `out` (owned by it). */
static void collect_dir(pcapd_ctx *c, const char *dir, GPtrArray *out, int depth)
{
    GError *gerr = NULL;
    GDir *d = g_dir_open(dir, 0, &gerr);
    if (!d) {
        pcapd_input_error(c, dir, -1, "cannot read directory: %s", gerr->message);
        g_error_free(gerr);
        return;
    }
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *e;
    while ((e = g_dir_read_name(d)) != NULL)
        if (e[0] != '.')
            g_ptr_array_add(names, g_strdup(e));
    g_dir_close(d);
    g_ptr_array_sort(names, cmp_str);
    for (guint i = 0; i < names->len; i++) {
        const char *base = names->pdata[i];
        char *path = g_build_filename(dir, base, NULL);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            /* Bounded against symlink loops. */
            if (depth < 16)
                collect_dir(c, path, out, depth + 1);
            g_free(path);
        } else if (wanted_in_dir(path, base)) {
            g_ptr_array_add(out, path);
        } else {
            g_free(path);
        }
    }
    g_ptr_array_free(names, TRUE);
}

int pcapd_inputs(pcapd_ctx *c)
{
    if (c->opts->interface)
        return pcapd_live(c);
    /* Expand directories first: `file` is named whenever more than one
     * capture is read, whatever the command line looked like. */
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    for (size_t i = 0; i < c->opts->n_inputs; i++) {
        const char *in = c->opts->inputs[i];
        struct stat st;
        if (strcmp(in, "-") != 0 && stat(in, &st) == 0 && S_ISDIR(st.st_mode))
            collect_dir(c, in, files, 0);
        else
            g_ptr_array_add(files, g_strdup(in));
    }
    c->multi = files->len > 1;
    /* The names stay alive to the end of the run: the summary quotes them. */
    c->files = files;
    if (c->opts->jobs > 1 && files->len > 1) {
        pcapd_read_parallel(c, files);
    } else if (c->opts->jobs > 1 && files->len == 1) {
        pcapd_read_sharded(c, files->pdata[0]);
    } else {
        for (guint i = 0; i < files->len; i++)
            pcapd_read_file(c, files->pdata[i]);
    }
    return c->exit_code;
}
