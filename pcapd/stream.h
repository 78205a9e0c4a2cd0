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

/* Bytes read from the stream so far (decompressed bytes for gzip). */
uint64_t pcapd_stream_offset(const pcapd_stream *s);

/* Bytes of a record header when the stream is a pcap file (16, or 24 for
 * the Kuznetzov variant), so offsets can be counted without asking stdio;
 * 0 for pcapng (whose blocks vary). */
unsigned pcapd_stream_record_header(const pcapd_stream *s);

#endif
