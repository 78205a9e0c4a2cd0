/* stream.h -- counting input streams for libpcap (plain or gzip). */
#ifndef PCAPD_STREAM_H
#define PCAPD_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct pcapd_stream pcapd_stream;

/* A FILE reading `fd` (taken over; inflated if `gzip`) for
 * pcap_fopen_offline().  *out is set to the stream, valid until the FILE
 * is closed (pcap_close closes it).  Returns NULL (fd closed) on failure. */
FILE *pcapd_stream_open(int fd, bool gzip, pcapd_stream **out);

/* A FILE that reads `head` (a capture's file header, at most 32 bytes),
 * then `fd` from byte `offset` on, with pread(): libpcap takes it for a
 * capture starting at that record (-j on one file, slice.c).  `fd` stays
 * the caller's; the stream's offsets are the file's. */
FILE *pcapd_stream_open_slice(int fd, const uint8_t *head, size_t head_len, uint64_t offset,
                              pcapd_stream **out);

/* Where the record libpcap just returned ends, given where it began and
 * its (returned) caplen: the sum, in a pcap file (`rec_hdr` bytes of record
 * header), unless libpcap cut the record to the snapshot length `snap` and
 * skipped the rest; then, and for pcapng (`rec_hdr` 0), stdio is asked. */
uint64_t pcapd_stream_after(const pcapd_stream *s, uint64_t off, unsigned rec_hdr,
                            uint32_t caplen, int snap);

/* Bytes read from the stream so far (decompressed bytes for gzip). */
uint64_t pcapd_stream_offset(const pcapd_stream *s);

/* Bytes of a record header when the stream is a pcap file (16, or 24 for
 * the Kuznetzov variant), so offsets can be counted without asking stdio;
 * 0 for pcapng (whose blocks vary). */
unsigned pcapd_stream_record_header(const pcapd_stream *s);

#endif
