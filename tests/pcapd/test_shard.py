#!/usr/bin/env python3
"""End-to-end tests of pcapd -j N on ONE capture: conversations sharded by
flow over N workers, a classic pcap file read in byte slices by N readers.

The promise under test: for one input, `pcapd -j N` writes byte for byte
what `pcapd -j 1` writes (stdout in every format, exit code, stderr), with
conversation ids included.  Every case builds captures at test time (python3
standard library only, helpers from captures.py) and compares a sequential
run with -j 2 and -j 3 under several slice sizes (the test hook
SMTPSCOPE_SLICE_BYTES), in text, NDJSON, CSV and --summary.  Each case also
checks the content, so it cannot pass on empty output.

Usage: test_shard.py PCAPD CASE|all [SOURCE_DIR]; --list prints the cases.
Exit 0 on success, 1 on failure, 77 to skip.  Set SHARD_VERBOSE=1 to see
every comparison.
"""
import csv
import glob
import gzip
import heapq
import io
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import captures as cap  # noqa: E402

PCAPD = None
SRC = None
TMP = None
SKIP = 77
EXIT_OK, EXIT_FAIL_ON, EXIT_INPUT = 0, 2, 3
VERBOSE = os.environ.get("SHARD_VERBOSE") == "1"

# Slice sizes tried (None: pcapd's default, 4 MiB).  Some cases add 97,
# smaller than most records, so nearly every slice starts inside one (and
# costly: thousands of slices).
SLICES = (600, 4096, 65536, None)
JOBS = (2, 3)
# The reports compared: every format, and --summary.
REPORTS = (["-F", "text"], ["-F", "ndjson"], ["-F", "csv"],
           ["-F", "text", "--summary"], ["-F", "ndjson", "--summary"])

MS = 10**6


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def path(name):
    return os.path.join(TMP, name)


# ---- running pcapd ----------------------------------------------------------

class Hang(Exception):
    pass


def run(args, slice_bytes=None, stdin=None, timeout=30):
    """(exit code, stdout bytes, stderr bytes); stdin: bytes for '-'.
    Every capture here takes well under a second: a run still going after
    `timeout` seconds is killed and reported as hung."""
    e = dict(os.environ)
    e.pop("NO_COLOR", None)
    e.pop("SMTPSCOPE_SLICE_BYTES", None)
    if slice_bytes is not None:
        e["SMTPSCOPE_SLICE_BYTES"] = str(slice_bytes)
    try:
        p = subprocess.run([PCAPD] + args, input=stdin, capture_output=True, env=e, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Hang("pcapd %s (SMTPSCOPE_SLICE_BYTES=%s) still running after %d s: killed"
                   % (" ".join(args), slice_bytes, timeout))
    check(0 <= p.returncode < 64, "pcapd %s (SMTPSCOPE_SLICE_BYTES=%s) died or returned %d\nstderr: %s"
          % (" ".join(args), slice_bytes, p.returncode, p.stderr[-2000:].decode(errors="replace")))
    return p.returncode, p.stdout, p.stderr


def show_line(x, y):
    """Two differing lines, cut around the first differing byte."""
    col = next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), min(len(x), len(y)))
    start = max(0, col - 120)
    return "column %d:\n      -j 1: %r\n      -j N: %r" % (
        col + 1, (b"..." if start else b"") + x[start:col + 180],
        (b"..." if start else b"") + y[start:col + 180])


def first_diff(a, b):
    """Where two outputs first differ: line number and both lines."""
    la, lb = a.split(b"\n"), b.split(b"\n")
    for i in range(max(len(la), len(lb))):
        x = la[i] if i < len(la) else b"<end of output>"
        y = lb[i] if i < len(lb) else b"<end of output>"
        if x != y:
            return "line %d (of %d / %d), %s" % (i + 1, len(la), len(lb), show_line(x, y))
    return "no line differs (lengths %d / %d)" % (len(a), len(b))


def describe(what, base, got):
    rc0, out0, err0 = base
    rc1, out1, err1 = got
    msg = [what]
    if rc0 != rc1:
        msg.append("  exit code %d sequential, %d with -j N" % (rc0, rc1))
    if out0 != out1:
        msg.append("  stdout differs, " + first_diff(out0, out1))
    if err0 != err1:
        msg.append("  stderr differs, " + first_diff(err0, err1))
    return "\n".join(msg)


# Differences found so far in the running case: every capture of a case is
# compared before the case fails, so one difference does not hide others.
DIFFS = []


def diffs_fail():
    """The case's failure message: which captures differ, then the first
    differences in detail."""
    per = {}
    for d in DIFFS:
        name = d.split(":", 1)[0]
        per[name] = per.get(name, 0) + 1
    return Fail("%d run(s) differ from the sequential run (%s):\n%s%s" % (
        len(DIFFS), ", ".join("%s %d" % kv for kv in per.items()), "\n".join(DIFFS[:12]),
        "\n... and %d more" % (len(DIFFS) - 12) if len(DIFFS) > 12 else ""))


# Runs that differed only in a way pcapd.1 documents (normalised away).
DOCUMENTED = []


def compare(fn, extra=(), reports=REPORTS, jobs=JOBS, slices=SLICES, stdin=None, stats=True,
            normalise=None):
    """Run every report sequentially and with each -j and slice size; all
    must be identical (differences are collected in DIFFS, the case fails
    at its end).  Returns the sequential results, keyed by the report
    options joined with spaces ("-F ndjson -q", ...).  `fn` may be "-"
    with `stdin` the bytes to feed.  `normalise`, for a documented
    exception only: a function of (report key, (rc, stdout, stderr))
    whose results are compared instead; runs that differ only before
    normalising are counted in DOCUMENTED."""
    extra = list(extra)
    base = {}
    todo = [list(r) + ["-q"] for r in reports]
    if stats:
        # Once without -q: the statistics line on stderr must agree too.
        todo.append(["-F", "ndjson", "--summary"])
    for rep in todo:
        key = " ".join(rep)
        args = extra + rep + [fn]
        b = run(args, stdin=stdin)
        base[key] = b
        nb = None
        # -j 1 ignores the slice size: a sanity check of the hook.
        variants = [(1, 600)] + [(j, s) for j in jobs for s in slices]
        for j, s in variants:
            try:
                g = run(["-j", str(j)] + args, slice_bytes=s, stdin=stdin)
            except Hang as h:
                # One hang is enough: the rest of the case would hang too, slowly.
                DIFFS.append("%s: %s" % (os.path.basename(fn), h))
                raise diffs_fail()
            if VERBOSE:
                print("  %-40s -j %d slice %-6s %s" % (key, j, s, "same" if g == b else "DIFFERENT"))
            if g == b:
                continue
            what = "%s: pcapd %s with -j %d, SMTPSCOPE_SLICE_BYTES=%s" % (
                os.path.basename(fn), " ".join(args), j, s)
            if normalise and nb is None:
                nb = normalise(key, b)
            if normalise and normalise(key, g) == nb:
                DOCUMENTED.append(what)
            else:
                DIFFS.append(describe(what, b, g))
    return base


# ---- reading the reports ----------------------------------------------------

def ndjson(out):
    objs = []
    for i, line in enumerate(out.decode("utf-8").splitlines()):
        try:
            objs.append(json.loads(line))
        except ValueError as e:
            raise Fail("NDJSON line %d is not JSON (%s): %r" % (i + 1, e, line[:200]))
    check(objs and objs[-1]["type"] == "summary", "last NDJSON object is not the summary")
    return objs


def of_type(objs, t):
    return [o for o in objs if o["type"] == t]


def check_reports(base, min_convs, min_replies=None, rc=EXIT_OK):
    """What every case asserts of the sequential reports (and so of the
    identical parallel ones): the exit code, n >= min_convs conversations
    numbered 1..n, each reply counted in its conversation, the CSV and
    text reports agreeing with the NDJSON one.  Returns the objects."""
    r = base["-F ndjson -q"]
    check(r[0] == rc, "exit code %d, want %d; stderr %r" % (r[0], rc, r[2][-500:]))
    objs = ndjson(r[1])
    convs = of_type(objs, "conversation")
    n = len(convs)
    check(n >= min_convs, "only %d conversations, want at least %d" % (n, min_convs))
    ids = sorted(cv["conv"] for cv in convs)
    check(ids == list(range(1, n + 1)), "conversation ids %r are not 1..%d" % (ids[:50], n))
    check(objs[-1]["conversations"] == n, "summary says %r conversations, %d reported"
          % (objs[-1]["conversations"], n))
    replies = of_type(objs, "reply")
    per_conv = {}
    for rp in replies:
        per_conv[rp["conv"]] = per_conv.get(rp["conv"], 0) + 1
    for cv in convs:
        check(cv["counts"]["replies"] == per_conv.get(cv["conv"], 0),
              "conversation %d counts %d replies, %d reply objects" %
              (cv["conv"], cv["counts"]["replies"], per_conv.get(cv["conv"], 0)))
    if min_replies is not None:
        check(len(replies) >= min_replies, "only %d replies, want %d" % (len(replies), min_replies))
    check(objs[-1]["replies"]["total"] == len(replies), "summary reply total %r, %d objects"
          % (objs[-1]["replies"]["total"], len(replies)))
    rows = list(csv.reader(io.StringIO(base["-F csv -q"][1].decode("utf-8"), newline="")))
    check(len(rows) - 1 == len(replies), "%d CSV rows, %d replies" % (len(rows) - 1, len(replies)))
    text = base["-F text -q"][1].decode("utf-8")
    ends = [l for l in text.splitlines() if l.startswith("conversation ") and "(in progress" not in l]
    check(len(ends) == n, "text report ends %d conversations, want %d" % (len(ends), n))
    summ = [l for l in base["-F text --summary -q"][1].decode("utf-8").splitlines() if l.startswith("#")]
    check(len(summ) == n, "--summary has %d conversation lines, want %d" % (len(summ), n))
    stats = base["-F ndjson --summary"][2].decode()
    check("%d SMTP conversations" % n in stats, "statistics line %r" % stats)
    return objs


# ---- building captures -------------------------------------------------------

def retime(pkts, t0, step):
    """The packets' timestamps as t0, t0+step, ... (tcp_packets uses a fixed
    10 ms step; spreading conversations differently interleaves them)."""
    for k, p in enumerate(pkts):
        p.ts = t0 + k * step
    return pkts


def ip_of(p, ident, vlan=()):
    """One Ethernet frame for the segment, IPv4 or IPv6 by its addresses."""
    if len(p.src) == 4:
        return cap.eth(cap.ipv4(p, ident), 0x0800, vlan)
    return cap.eth(cap.ipv6(p), 0x86dd, vlan)


def v4(a, b, c, d):
    return bytes([a, b, c, d])


def v6(tag, n):
    return bytes.fromhex("20010db8%04x0000000000000000%04x" % (tag, n))


def merge(*sources):
    """Records of several sources merged by timestamp; each source keeps its
    own order (so ties and out-of-order sources are deterministic)."""
    return list(heapq.merge(*sources, key=lambda r: r[0]))


def read_pcap(fn):
    """(link type, [(ts_ns, data, orig_len)]) of a classic pcap file."""
    with open(fn, "rb") as f:
        d = f.read()
    order = "<" if d[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    magic, = struct.unpack(order + "I", d[:4])
    nano = magic == 0xa1b23c4d
    lt, = struct.unpack(order + "I", d[20:24])
    recs, off = [], 24
    while off + 16 <= len(d):
        sec, frac, cl, ol = struct.unpack(order + "IIII", d[off:off + 16])
        recs.append((sec * 10**9 + (frac if nano else frac * 1000), d[off + 16:off + 16 + cl], ol))
        off += 16 + cl
    return lt, recs


def tcp_tuples(recs):
    """The TCP connections (unordered address:port pairs) of Ethernet frames."""
    out = set()
    for _, fr, _ in recs:
        et, off = struct.unpack("!H", fr[12:14])[0], 14
        while et in (0x8100, 0x88a8) and off + 4 <= len(fr):
            et, off = struct.unpack("!H", fr[off + 2:off + 4])[0], off + 4
        if et == 0x0800 and off + 20 <= len(fr):
            ihl, proto = (fr[off] & 15) * 4, fr[off + 9]
            src, dst = fr[off + 12:off + 16], fr[off + 16:off + 20]
            if proto != 6 or struct.unpack("!H", fr[off + 6:off + 8])[0] & 0x1fff:
                continue
            l4 = off + ihl
        elif et == 0x86dd and off + 40 <= len(fr):
            if fr[off + 6] != 6:
                continue
            src, dst, l4 = fr[off + 8:off + 24], fr[off + 24:off + 40], off + 40
        else:
            continue
        if l4 + 4 <= len(fr):
            sp, dp = struct.unpack("!HH", fr[l4:l4 + 4])
            out.add(frozenset([(src, sp), (dst, dp)]))
    return out


def sample_sources(t0, gap, every=1):
    """The Ethernet samples (real Postfix, Exim and OpenSMTPD captures and
    crafted ones; with `every` > 1 only one in so many), each moved in time
    to start at t0 + k*gap, none sharing a TCP connection with an earlier
    one.  Returns the record lists."""
    used, sources = set(), []
    names = sorted(glob.glob(os.path.join(SRC, "samples", "*.pcap")))
    for fn in names[::every]:
        lt, recs = read_pcap(fn)
        if lt != 1 or not recs:
            continue
        tu = tcp_tuples(recs)
        if tu & used:
            continue
        used |= tu
        shift = t0 + len(sources) * gap - recs[0][0]
        sources.append([(ts + shift, data, orig) for ts, data, orig in recs])
    return sources


def long_noops(n, step, t0, client, server=None, cport=44444):
    sess = [cap.s("220 busy.example ESMTP"), cap.c("EHLO long.example"),
            cap.s("250-busy.example", "250 PIPELINING")]
    for k in range(n):
        sess += [cap.c("NOOP %d" % k), cap.s("250 2.0.0 Ok")]
    sess += [cap.c("QUIT"), cap.s("221 Bye")]
    server = server or v4(10, 9, 0, 2)
    return retime(cap.tcp_packets(sess, client, server, cport=cport), t0, step)


SESSIONS = [cap.SESSION_MAIN, cap.SESSION_LOGIN, cap.SESSION_XOAUTH2, cap.SESSION_CLEAN,
            cap.SESSION_ANOMALY]
SERVER_PORTS = [25, 587, 2525, 25, 10025]     # 10025: found by the heuristic


def generated_conversations(n, t0, spacing, tag=9):
    """n SMTP conversations of every kind as record lists: IPv4 and IPv6,
    VLAN and QinQ tags, listed ports and the heuristic's port 10025, steps
    from 3 to 60 ms so they overlap, some without FIN (ended by the end of
    the capture), one reset, one started mid-conversation, one port pair
    reused.  Returns (list of record lists, SMTP conversations in them)."""
    out, count = [], 0
    for i in range(n):
        sess = SESSIONS[i % len(SESSIONS)]
        six = i % 4 == 3
        client = v6(tag, i + 1) if six else v4(10, tag, i + 1, 1)
        server = v6(tag, 0xffff) if six else v4(10, tag, 0, 2)
        vlan = ()
        if i % 5 == 1:
            vlan = ((0x8100, 100 + i),)
        elif i % 11 == 7:
            vlan = ((0x88a8, 300), (0x8100, 200 + i))
        step = (3 + (i * 13) % 58) * MS
        pk = cap.tcp_packets(sess, client, server, cport=41000 + i, sport=SERVER_PORTS[i % 5],
                             isn_c=1000 + 7919 * i, isn_s=5000 + 104729 * i)
        if i % 9 == 4:
            pk = pk[:-3]                  # no FIN: ended by the end of the capture
        elif i % 13 == 6:
            last = pk[-3]                 # reset instead of FIN
            pk = pk[:-3] + [cap.Packet(0, last.src, last.dst, last.sport, last.dport,
                                       last.seq, last.ack, 0x14, b"")]
        elif i % 17 == 8:
            pk = pk[3:]                   # the capture starts mid-conversation
        retime(pk, t0 + i * spacing, step)
        recs = [(p.ts, ip_of(p, 1 + k, vlan)) for k, p in enumerate(pk)]
        if i == 10:
            # The same port pair again, a new connection 2 s after the first.
            again = cap.tcp_packets(cap.SESSION_CLEAN, client, server, cport=41000 + i,
                                    sport=SERVER_PORTS[i % 5], isn_c=77777, isn_s=88888)
            retime(again, recs[-1][0] + 2 * 10**9, step)
            recs += [(p.ts, ip_of(p, 500 + k, vlan)) for k, p in enumerate(again)]
            count += 1
        out.append(recs)
        count += 1
    return out, count


def http_download(body, t0, step, client, server, chunks, cport=50080):
    """A port-80 download of `body` cut into segments of the given sizes
    (the last segment takes the rest): not SMTP, just bytes in the file."""
    turns = [("c", b"GET /capture.pcap HTTP/1.1\r\nHost: files.example\r\n\r\n")]
    hdr = b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.tcpdump.pcap\r\n" \
          b"Content-Length: %d\r\n\r\n" % len(body)
    data = hdr + body
    pos = 0
    for size in chunks:
        if pos >= len(data):
            break
        turns.append(("s", data[pos:pos + size]))
        pos += size
    if pos < len(data):
        turns.append(("s", data[pos:]))
    pk = retime(cap.tcp_packets(turns, client, server, cport=cport, sport=80), t0, step)
    return [(p.ts, ip_of(p, 9000 + k)) for k, p in enumerate(pk)]


def misc_traffic(t0, t1, n):
    """ARP and UDP (DNS-like) frames: counted, not TCP."""
    out = []
    for k in range(n):
        ts = t0 + (t1 - t0) * k // max(n, 1)
        if k % 3 == 0:
            arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, cap.MAC_C, v4(10, 9, 0, 1),
                              b"\0" * 6, v4(10, 9, 0, 2))
            out.append((ts, cap.eth(arp, 0x0806)))
        else:
            udp = struct.pack("!HHHH", 5353, 53, 8 + 30, 0) + b"q" * 30
            body = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k, 0, 64, 17, 0,
                               v4(10, 9, 0, 1), v4(10, 9, 0, 53)) + udp
            out.append((ts, cap.eth(body)))
    return out


def many_interleaved_recs(small=False):
    """Dozens of conversations interleaved over about 10 s: generated ones,
    every Ethernet sample, a long NOOP conversation over the whole file
    (printed in parts by the text report), an HTTP download and other
    frames (about 800 kB; `small`: a third of that, for the cases that
    write many variants).  Returns (records, lower bound of SMTP
    conversations)."""
    base = cap.BASE_TS
    k = 3 if small else 1
    gen, n_gen = generated_conversations(40 // k, base + 3 * MS, 230 * MS)
    samples = sample_sources(base + 50 * MS, 130 * MS, every=k)
    noop = long_noops(1200 // k, 4 * MS, base, v4(10, 9, 200, 1))
    noop_recs = [(p.ts, ip_of(p, 20000 + j)) for j, p in enumerate(noop)]
    body = bytes(random.Random(5).getrandbits(8) for _ in range(120000 // k))
    http = http_download(body, base + 1000 * MS, 30 * MS, v4(10, 9, 201, 1), v4(10, 9, 0, 80),
                         [1400] * 200)
    misc = misc_traffic(base, base + 9000 * MS // k, 60 // k)
    recs = to3(merge(*gen, *samples, noop_recs, http, misc))
    return recs, n_gen + len(samples) + 1


def to3(recs):
    """Records as (ts, data, orig_len)."""
    return [(r[0], r[1], r[2] if len(r) > 2 else len(r[1])) for r in recs]


# ---- cases --------------------------------------------------------------------

def case_many_interleaved():
    """127 conversations of every kind (see many_interleaved_recs), each
    spanning many slices, in every report; also with --fail-on (exit
    code 2) and a BPF filter."""
    recs, min_convs = many_interleaved_recs()
    fn = path("many.pcap")
    data = cap.write_pcap(fn, recs)
    check(len(data) > 200000, "capture only %d bytes" % len(data))
    base = compare(fn)
    objs = check_reports(base, min_convs, min_replies=1500)
    outcomes = set(cv["end_reason"] for cv in of_type(objs, "conversation"))
    check({"fin", "rst", "eof"} <= outcomes, "end reasons %r" % outcomes)
    check(any(cv["midstream"] for cv in of_type(objs, "conversation")), "no midstream conversation")
    check(b"(in progress, continued below)" in base["-F text -q"][1], "long conversation not in parts")
    check(any(cv["server"].endswith(":10025") for cv in of_type(objs, "conversation")),
          "heuristic conversation on port 10025 missing")
    # The run's options matter too: the exit code of --fail-on, a filter.
    compare(fn, extra=["--fail-on", "anomaly,reject"], reports=(["-F", "ndjson"],),
            slices=(600, None), stats=False)
    check(run(["-q", "--fail-on", "reject", fn])[0] == EXIT_FAIL_ON, "--fail-on reject did not fire")
    compare(fn, extra=["-f", "tcp port 25 or tcp port 10025"], reports=(["-F", "csv"],),
            slices=(600, None), stats=False)
    # Under the live-conversation cap nothing is evicted either way (for
    # the cap itself, see case_cap_shared).
    compare(fn, extra=["--max-conversations", "200"], reports=(["-F", "ndjson"],),
            slices=(600, None), stats=False)
    # Other analysis and output options.
    compare(fn, extra=["--slow", "15", "--show-secrets", "--ports", "25,2525,10025",
                       "--no-heuristic"], reports=(["-F", "ndjson"],), slices=(600, None),
            stats=False)
    compare(fn, extra=["--color=always"], reports=(["-F", "text"], ["-F", "text", "--summary"]),
            slices=(4096,), stats=False)


def embedded_chunks(inner_records, rng):
    """The bytes of a pcap file (24-byte header, then records) cut so that
    every chunk but the first ends exactly at the end of an inner record:
    an outer record holding a chunk then ends where an inner record ends,
    so a chain of plausible record headers found inside the payload runs
    on into the real records after it."""
    hdr = inner_records[0]
    chunks, cur = [hdr], b""
    sizes = [1, 2, 3, 5, 8, 40, 1, 300]
    recs = inner_records[1:]
    k = 0
    while k < len(recs):
        n = rng.choice(sizes)
        chunk = b"".join(recs[k:k + n])
        while len(chunk) > 60000:
            n //= 2
            chunk = b"".join(recs[k:k + n])
        chunks.append(chunk)
        k += n
    return chunks


def pcap_records_bytes(recs, order="<", nano=False, snaplen=262144, linktype=1):
    """[file header, record 1, record 2, ...] as separate byte strings."""
    whole = cap.pcap_bytes(to3(recs), linktype=linktype, order=order, nano=nano, snaplen=snaplen)
    out, off = [whole[:24]], 24
    for _, data, _ in to3(recs):
        out.append(whole[off:off + 16 + len(data)])
        off += 16 + len(data)
    return out


def download_of(pieces, t0, step, client, server, cport):
    """A port-80 server sending each of `pieces` as one segment (after the
    HTTP response header, sent alone): jumbo segments up to 60 kB."""
    turns = [("c", b"GET /dump.pcap HTTP/1.1\r\nHost: x\r\n\r\n"),
             ("s", b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Length: %d\r\n\r\n" % sum(len(p) for p in pieces))]
    turns += [("s", p) for p in pieces]
    pk = retime(cap.tcp_packets(turns, client, server, cport=cport, sport=80), t0, step)
    return [(p.ts, ip_of(p, 30000 + k)) for k, p in enumerate(pk)]


def case_pcap_inside_payload():
    """TCP payload holding copies of pcap records (an HTTP download of a
    capture, and a mail whose body is raw pcap records): plausible record
    headers, even byte-identical copies of the file's own records, that a
    slice reader resynchronising by heuristic may take for a boundary."""
    rng = random.Random(7)
    base = cap.BASE_TS
    gen, n_gen = generated_conversations(24, base + 5 * MS, 90 * MS, tag=7)
    own = merge(*gen)
    # (a) A download of a capture of other SMTP conversations (192.0.2.x),
    # timestamps in the same range, same link type.
    foreign = []
    for i in range(6):
        pk = retime(cap.tcp_packets(SESSIONS[i % 5], v4(192, 0, 2, 10 + i), v4(192, 0, 2, 1),
                                    cport=46000 + i), base + i * 40 * MS, 7 * MS)
        foreign.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk)])
    inner = pcap_records_bytes(merge(*foreign))
    dl1 = download_of(embedded_chunks(inner, rng), base + 2 * MS, 11 * MS,
                      v4(10, 7, 100, 1), v4(10, 7, 0, 80), 50001)
    # (b) A download of this very file's SMTP records: byte-identical copies.
    selfcopy = pcap_records_bytes(own)
    dl2 = download_of(embedded_chunks(selfcopy, rng), base + 7 * MS, 13 * MS,
                      v4(10, 7, 101, 1), v4(10, 7, 0, 80), 50002)
    # (c) A mail whose message is raw pcap records (no encoding), in
    # segments ending on inner record boundaries.
    mail_pieces = embedded_chunks(pcap_records_bytes(foreign[0] + foreign[1]), rng)
    sess = [cap.s("220 mx.example ESMTP"), cap.c("EHLO pcap.example"),
            cap.s("250-mx.example", "250 8BITMIME"), cap.c("MAIL FROM:<dump@example.com>"),
            cap.s("250 2.1.0 Ok"), cap.c("RCPT TO:<analyst@example.org>"), cap.s("250 2.1.5 Ok"),
            cap.c("DATA"), cap.s("354 go ahead")]
    sess += [("c", piece) for piece in mail_pieces]
    sess += [("c", b"\r\n.\r\n"), cap.s("250 2.0.0 Ok: queued as PCAP1"), cap.c("QUIT"),
             cap.s("221 Bye")]
    pk = retime(cap.tcp_packets(sess, v4(10, 7, 102, 1), v4(10, 7, 0, 2), cport=50003),
                base + 3 * MS, 9 * MS)
    mail = [(p.ts, ip_of(p, 40000 + k)) for k, p in enumerate(pk)]
    fn = path("inside.pcap")
    data = cap.write_pcap(fn, merge(*gen, dl1, dl2, mail))
    check(data.count(inner[3]) >= 1 and data.count(selfcopy[5]) >= 2, "copies not embedded")
    base_r = compare(fn, slices=(97, 600, 1000, 4096, 65536, None))
    objs = check_reports(base_r, n_gen + 1, min_replies=100)
    servers = set(cv["server"] for cv in of_type(objs, "conversation"))
    check(not any(s.startswith("192.0.2.") for s in servers),
          "a conversation from inside a payload was decoded: %r" % sorted(servers))
    check(len(of_type(objs, "conversation")) == n_gen + 1, "conversations %d, want %d"
          % (len(of_type(objs, "conversation")), n_gen + 1))
    # The same, nanosecond and big-endian, where plausible headers read otherwise.
    for order, nano in ((">", False), ("<", True)):
        fn2 = path("inside-%s%d.pcap" % ("be" if order == ">" else "le", nano))
        cap.write(fn2, cap.pcap_bytes(to3(merge(*gen, dl1, dl2, mail)), order=order, nano=nano))
        compare(fn2, reports=(["-F", "ndjson"], ["-F", "text"]), slices=(97, 600, 4096), stats=False)


def frag_ipv4(p, ident, size):
    body = p.tcp()
    out = []
    for off in range(0, len(body), size):
        more = off + size < len(body)
        out.append(cap.ipv4(p, ident=ident, frag=(0x2000 if more else 0) | (off // 8),
                            payload=body[off:off + size]))
    return [cap.eth(f) for f in out]


def frag_ipv6(p, ident, size):
    body = p.tcp()
    out = []
    for off in range(0, len(body), size):
        more = off + size < len(body)
        chunk = struct.pack("!BBHI", 6, 0, off | (1 if more else 0), ident) + body[off:off + size]
        out.append(cap.eth(struct.pack("!IHBB16s16s", 0x60000000, len(chunk), 44, 64, p.src, p.dst)
                           + chunk, 0x86dd))
    return out


def udp_filler(t0, t1, every, size, tag):
    """Bulk UDP datagrams (syslog-like): bytes between the fragments."""
    out, k, ts = [], 0, t0
    while ts < t1:
        udp = struct.pack("!HHHH", 40000 + k % 100, 514, 8 + size, 0) + bytes([k & 0xff]) * size
        body = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), k & 0xffff, 0x4000, 64, 17, 0,
                           v4(10, tag, 250, 1), v4(10, tag, 250, 2)) + udp
        out.append((ts, cap.eth(body)))
        k += 1
        ts += every
    return out


def case_fragments_across_slices():
    """SMTP segments in IPv4 and IPv6 fragments, in every order, with
    duplicates, the fragments of one datagram far apart: kilobytes of UDP
    between them for most conversations, over 64 kB for some.  Then a
    datagram whose fragments are more than the 30 s reassembly time apart,
    and a flood of incomplete datagrams that pushes a real one out of the
    bounded table.  Reassembly must give what the sequential run gives."""
    rng = random.Random(3)
    base = cap.BASE_TS
    sources, n_conv, n_frag_dgrams = [], 0, 0
    for i in range(16):
        six = i % 3 == 2
        far = i >= 12
        client = v6(5, i + 1) if six else v4(10, 5, i + 1, 1)
        server = v6(5, 0xffff) if six else v4(10, 5, 0, 2)
        # Near: 10 ms steps in the first 0.4 s, fragments 2-8 ms apart
        # (dense UDP: 8-36 kB between them).  Far: 250 ms steps from 0.5 s,
        # fragments over 200 ms (sparse UDP: about 100 kB between them).
        t0 = base + (500 + (i - 12) * 60) * MS if far else base + i * 3 * MS
        step = 250 * MS if far else 10 * MS
        pk = retime(cap.tcp_packets(SESSIONS[i % 5], client, server, cport=42000 + i), t0, step)
        recs = []
        for k, p in enumerate(pk):
            if not p.payload:
                recs.append((p.ts, ip_of(p, 1 + k)))
                continue
            size = rng.choice([8, 16, 24, 48, 64, 200])
            ident = (i << 8) + k
            frs = frag_ipv6(p, 0x50000 + ident, size) if six else frag_ipv4(p, ident, size)
            n_frag_dgrams += len(frs) > 1       # else it fits in one: not a fragment
            order = rng.choice(["in", "reverse", "rotate", "shuffle"])
            if order == "reverse":
                frs.reverse()
            elif order == "rotate":
                frs = frs[1:] + frs[:1]
            elif order == "shuffle":
                rng.shuffle(frs)
            if rng.random() < 0.2:
                frs.insert(rng.randrange(len(frs)), frs[0])     # a duplicate fragment
            total = 200 * MS if far else rng.choice([2, 4, 8]) * MS
            recs += [(p.ts + j * total // len(frs), f) for j, f in enumerate(frs)]
        recs.sort(key=lambda r: r[0])
        sources.append(recs)
        n_conv += 1
    # After those: a conversation whose DATA segment's last fragment comes
    # 31 s late (the others have expired by then: a gap), and one whose
    # fragments are pushed out by 1100 incomplete datagrams between them.
    for j, (late, flood) in enumerate(((31 * 10**9, False), (5 * MS, True))):
        client, server = v4(10, 5, 100 + j, 1), v4(10, 5, 0, 2)
        pk = retime(cap.tcp_packets(cap.SESSION_CLEAN, client, server, cport=43000 + j),
                    base + (7000 + 400 * j) * MS, 10 * MS)
        recs = []
        for k, p in enumerate(pk):
            if p.payload and p.payload.startswith(b"Subject: clean"):
                frs = frag_ipv4(p, 0x7000 + j, 16)
                recs += [(p.ts, f) for f in frs[:-1]]
                if flood:
                    junk = cap.Packet(p.ts, v4(10, 6, 0, 1), v4(10, 6, 0, 2), 5555, 25, 1, 1, 0x18,
                                      b"x" * 40)
                    for m in range(1100):
                        recs.append((p.ts + 1 + m, frag_ipv4(junk, 0x9000 + m, 16)[0]))
                recs.append((p.ts + late, frs[-1]))
            else:
                recs.append((p.ts, ip_of(p, 1 + k)))
        recs.sort(key=lambda r: r[0])
        sources.append(recs)
        n_conv += 1
    filler = udp_filler(base, base + 400 * MS, MS // 4, 1000, 5) + \
        udp_filler(base + 400 * MS, base + 7000 * MS, 2 * MS, 1000, 5)
    fn = path("fragments.pcap")
    data = cap.write_pcap(fn, merge(*sources, filler))
    check(len(data) > 1000000, "capture only %d bytes" % len(data))
    b = compare(fn, slices=(600, 4096, 65536, None))
    objs = check_reports(b, n_conv, min_replies=100)
    d = objs[-1]["decode"]
    check(d["reassembled"] >= n_frag_dgrams and d["fragments_dropped"] >= 1100 - 1024,
          "decode counters %r (%d datagrams fragmented)" % (d, n_frag_dgrams))
    convs = of_type(objs, "conversation")
    check(len(convs) == n_conv, "conversations %d, want %d" % (len(convs), n_conv))
    gaps = set(o["conv"] for o in of_type(objs, "anomaly") if o["kind"] == "gap")
    want = set(cv["conv"] for cv in convs if cv["client"].startswith(("10.5.100.", "10.5.101.")))
    check(gaps == want, "gaps in conversations %r, want only in %r" % (sorted(gaps), sorted(want)))


def record_offsets(data, hdr=16, order="<"):
    """Byte offset of every record of a classic pcap file."""
    offs, off = [], 24
    while off + hdr <= len(data):
        offs.append(off)
        cl, = struct.unpack(order + "I", data[off + 8:off + 12])
        off += hdr + cl
    return offs


def case_truncated_end():
    """The capture cut short: inside the last record's data, inside its
    header, and files cut at several places (each then ends in a cut
    record).  Exit code 3, the offset in the message, everything before it
    reported: all the same with -j."""
    recs, min_convs = many_interleaved_recs(small=True)
    data = cap.pcap_bytes(recs)
    offs = record_offsets(data)
    cuts = [len(data) - 5, offs[-1] + 7, offs[len(offs) // 3] + 16 + 20,
            offs[len(offs) // 2] + 3, offs[(len(offs) * 4) // 5] + 16 + 1]
    # And cuts on slice-size multiples, where a slice ends exactly.
    cuts += [(len(data) // 65536) * 65536 - 1, 4096 * (len(data) // 4096 // 3) + 1]
    for n, cut in enumerate(cuts):
        fn = path("cut%d.pcap" % n)
        cap.write(fn, data[:cut])
        whole = any(o + 16 + struct.unpack("<I", data[o + 8:o + 12])[0] == cut for o in offs)
        full = n < 2
        b = compare(fn, reports=REPORTS if full else (["-F", "ndjson"], ["-F", "text"]),
                    slices=SLICES if full else (600, 4096, None), stats=full)
        rc, out, err = b["-F ndjson -q"]
        if whole:
            check(rc == EXIT_OK, "cut at a record end: exit %d" % rc)
            continue
        where = max(o for o in offs if o < cut)
        check(rc == EXIT_INPUT and ("at offset %d" % where).encode() in err,
              "cut at %d: exit %d, stderr %r (want offset %d)" % (cut, rc, err[-300:], where))
        objs = ndjson(out)
        check(len(of_type(objs, "error")) == 1, "error objects %r" % of_type(objs, "error"))
        if full:
            check_reports(b, 10, rc=EXIT_INPUT)
        if n == 3:
            # With a BPF filter, records it rejects still count for the offset.
            for flt in ("tcp port 25", "udp"):
                b = compare(fn, extra=["-f", flt], reports=(["-F", "ndjson"],), slices=(600, None),
                            stats=False)
                rc, out, err = b["-F ndjson -q"]
                check(rc == EXIT_INPUT and ("at offset %d" % where).encode() in err,
                      "-f %r, cut at %d: exit %d, stderr %r (want offset %d)"
                      % (flt, cut, rc, err[-300:], where))


def case_corrupt_middle():
    """A record in the middle that libpcap refuses (an absurd caplen), with
    valid records after it that a sequential run never reads; and records
    whose length was changed so libpcap reads on from a wrong place
    (taking garbage for headers) until it stops."""
    recs, _ = many_interleaved_recs(small=True)
    data = cap.pcap_bytes(recs)
    offs = record_offsets(data)
    variants = []
    for frac, caplen in ((0.4, 0x7ffffff0), (0.55, 262145), (0.7, 0xffffffff)):
        o = offs[int(len(offs) * frac)]
        variants.append(("absurd%d" % caplen, data[:o + 8] + struct.pack("<II", caplen, caplen) +
                         data[o + 16:], o))
    # A caplen too big but still acceptable: libpcap swallows the records
    # after it and goes on reading from inside one of them.
    for frac, delta in ((0.3, 1000), (0.6, 200000), (0.5, -30)):
        o = offs[int(len(offs) * frac)]
        cl, ol = struct.unpack("<II", data[o + 8:o + 16])
        hdr = struct.pack("<II", cl + delta, ol + max(delta, 0))
        variants.append(("shifted%d" % delta, data[:o + 8] + hdr + data[o + 16:], None))
    # An absurd record exactly at a multiple of 65536 (so of 4096 too),
    # where a slice starts: a padding record before it puts it there.
    k = next(i for i, o in enumerate(offs) if o > len(data) // 2)
    pad = 65536 * ((offs[k] + 65535) // 65536) - offs[k]
    if pad < 16 + 60:
        pad += 65536
    padding = struct.pack("<IIII", recs[k - 1][0] // 10**9, 0, pad - 16, pad - 16) + b"\0" * (pad - 16)
    at = offs[k] + pad
    variants.append(("aligned", data[:offs[k]] + padding + struct.pack("<IIII", 1, 2, 0x7fffffff, 3)
                     + data[offs[k] + 16:], at))
    for name, blob, where in variants:
        fn = path(name + ".pcap")
        cap.write(fn, blob)
        full = name == "absurd2147483632"
        b = compare(fn, reports=REPORTS if full else (["-F", "ndjson"], ["-F", "text"]),
                    slices=(97, 600, 4096, 65536, None) if full else (600, 4096, None), stats=full)
        rc, out, err = b["-F ndjson -q"]
        check(rc == EXIT_INPUT, "%s: exit %d" % (name, rc))
        if where is not None:
            check(("at offset %d" % where).encode() in err, "%s: stderr %r, want offset %d"
                  % (name, err[-300:], where))
        convs = of_type(ndjson(out), "conversation")
        check(len(convs) >= 5, "%s: only %d conversations before the damage" % (name, len(convs)))
        if full:
            check_reports(b, 5, rc=EXIT_INPUT)


def case_pcapng_and_gzip():
    """Inputs read by one reader but still sharded: pcapng (either byte
    order), gzip-compressed pcap and pcapng, standard input (plain and
    gzip), and the same damaged (truncated pcapng, cut gzip stream)."""
    recs, min_convs = many_interleaved_recs(small=True)
    plain = cap.pcap_bytes(recs)
    ng = cap.pcapng_bytes([(0, r[0], r[1]) for r in recs], [1])
    ng_be = cap.pcapng_bytes([(0, r[0], r[1]) for r in recs], [1], order=">")
    files = {"many.pcapng": ng, "many-be.pcapng": ng_be,
             "many.pcap.gz": gzip.compress(plain, 6), "many.pcapng.gz": gzip.compress(ng, 6)}
    for name, blob in files.items():
        fn = path(name)
        cap.write(fn, blob)
        full = name == "many.pcapng"
        b = compare(fn, slices=(600, None) if full else (600,),
                    reports=REPORTS if full else (["-F", "ndjson"], ["-F", "text"], ["-F", "csv"],
                                                  ["-F", "text", "--summary"]),
                    stats=full)
        if full:
            check_reports(b, min_convs, min_replies=500)
        else:
            objs = ndjson(b["-F ndjson -q"][1])
            check(len(of_type(objs, "conversation")) >= min_convs, "%s: conversations" % name)
    for name, blob in (("stdin", plain), ("stdin-gz", gzip.compress(plain, 1))):
        b = compare("-", stdin=blob, slices=(600, None), reports=(["-F", "ndjson"], ["-F", "text"]),
                    stats=False)
        objs = ndjson(b["-F ndjson -q"][1])
        check(len(of_type(objs, "conversation")) >= min_convs, "%s: conversations" % name)
    # Damaged: a pcapng cut inside a block, a gzip stream cut short.
    for name, blob in (("cut.pcapng", ng[:len(ng) * 2 // 3 + 5]),
                       ("cut.pcap.gz", gzip.compress(plain, 6)[:-5000])):
        fn = path(name)
        cap.write(fn, blob)
        b = compare(fn, slices=(600,), reports=(["-F", "ndjson"], ["-F", "text"]), stats=True)
        rc, out, err = b["-F ndjson -q"]
        check(rc == EXIT_INPUT and b"at offset" in err, "%s: exit %d, %r" % (name, rc, err[-300:]))
        check(len(of_type(ndjson(out), "conversation")) >= 10,
              "%s: conversations before the damage" % name)


def case_nanosecond_and_swapped():
    """Nanosecond magic, big-endian micro- and nanosecond pcap: the slice
    readers must parse those record headers; also cut short in big-endian
    (the offset of the failing record must be the same)."""
    recs, min_convs = many_interleaved_recs(small=True)
    # Sub-microsecond timestamps on some records: visible only in nanosecond files.
    recs = [(ts + (i % 7) * 137, d, o) for i, (ts, d, o) in enumerate(recs)]
    for name, kw in (("nano-le", {"nano": True}), ("micro-be", {"order": ">"}),
                     ("nano-be", {"order": ">", "nano": True})):
        fn = path(name + ".pcap")
        data = cap.write_pcap(fn, recs, **kw)
        full = name == "nano-be"
        b = compare(fn, reports=REPORTS if full else (["-F", "ndjson"], ["-F", "text"], ["-F", "csv"]),
                    slices=SLICES if full else (97, 600, 65536), stats=full)
        if full:
            check_reports(b, min_convs, min_replies=500)
        else:
            check(len(of_type(ndjson(b["-F ndjson -q"][1]), "conversation")) >= min_convs, name)
        if name == "micro-be":
            offs = record_offsets(data, order=">")
            o = offs[len(offs) // 2]
            fn = path(name + "-cut.pcap")
            cap.write(fn, data[:o + 16 + 9])
            b = compare(fn, reports=(["-F", "ndjson"], ["-F", "text"]), slices=(97, 600, None),
                        stats=False)
            check(("at offset %d" % o).encode() in b["-F ndjson -q"][2],
                  "big-endian cut: stderr %r, want offset %d" % (b["-F ndjson -q"][2][-300:], o))


def case_ndjson_ids():
    """With -j 3: conversation ids 1..n in the order they first appear,
    every event refers to a conversation reported after it, each
    conversation object the last of its conversation."""
    recs, min_convs = many_interleaved_recs()
    fn = path("many.pcap")
    cap.write_pcap(fn, recs)
    seq = run(["-q", "-F", "ndjson", fn])
    for s in (97, 600, 4096, None):
        rc, out, err = run(["-q", "-F", "ndjson", "-j", "3", fn], slice_bytes=s)
        check(rc == EXIT_OK, "exit %d: %r" % (rc, err))
        objs = ndjson(out)
        first = []
        seen, ended = set(), set()
        for o in objs[:-1]:
            cv = o.get("conv")
            check(isinstance(cv, int), "object without a conversation id: %r" % o)
            check(cv not in ended, "slice %s: event of conversation %d after its conversation "
                  "object: %r" % (s, cv, o))
            if cv not in seen:
                seen.add(cv)
                first.append(cv)
            if o["type"] == "conversation":
                ended.add(cv)
        check(first == list(range(1, len(first) + 1)),
              "slice %s: ids in order of first appearance: %r" % (s, first[:60]))
        check(ended == seen and len(ended) >= min_convs, "slice %s: %d conversations ended, %d seen"
              % (s, len(ended), len(seen)))
        replies = of_type(objs, "reply")
        check(len(replies) >= 1500 and all(r["conv"] in ended for r in replies),
              "slice %s: replies without their conversation" % s)
        slow = objs[-1]["slowest_replies"]
        check(all(x["conv"] in ended for x in slow), "slowest replies name unknown conversations")
        check((rc, out, err) == seq,
              "slice %s: -j 3 differs from -j 1: %s" % (s, first_diff(seq[1], out)))


def case_idle_timeouts():
    """Conversations that fall silent and are closed by --idle while other
    conversations go on, each at its own moment, some resuming after
    being closed; non-TCP frames between (they do not move the tracker's
    clock).  Also with the default idle time, where none is closed."""
    base = cap.BASE_TS
    noop = long_noops(400, 50 * MS, base, v4(10, 4, 200, 1), v4(10, 4, 0, 2))
    sources = [[(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(noop)]]
    n = 1
    for i in range(10):
        client = v6(4, i + 1) if i % 3 == 2 else v4(10, 4, i + 1, 1)
        server = v6(4, 0xffff) if i % 3 == 2 else v4(10, 4, 0, 2)
        pk = cap.tcp_packets(SESSIONS[i % 5], client, server, cport=45000 + i, sport=SERVER_PORTS[i % 5])
        stop = 5 + i % 4          # silent after a few turns
        t0 = base + (200 + i * 1730) * MS
        retime(pk, t0, (7 + 3 * i) * MS)
        recs = [(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk[:stop])]
        if i % 4 == 1:
            # The rest 2.5 s later: after --idle 2 closed it (a new,
            # mid-conversation one), while the default keeps it open.
            # (On port 10025 the heuristic cannot take it up midway.)
            recs += [(p.ts + 2500 * MS, ip_of(p, 100 + k)) for k, p in enumerate(pk[stop:])]
            n += SERVER_PORTS[i % 5] != 10025
        sources.append(recs)
        n += 1
    misc = misc_traffic(base, base + 20000 * MS, 400)
    fn = path("idle.pcap")
    cap.write_pcap(fn, merge(*sources, misc))
    b = compare(fn, extra=["--idle", "2"], slices=(97, 600, 4096, None))
    objs = check_reports(b, n)
    idle = [cv for cv in of_type(objs, "conversation") if cv["end_reason"] == "idle"]
    check(len(idle) >= 8, "only %d conversations closed by --idle 2" % len(idle))
    b = compare(fn, reports=(["-F", "ndjson"], ["-F", "text"]), slices=(600, None), stats=False)
    objs = ndjson(b["-F ndjson -q"][1])
    check(not any(cv["end_reason"] == "idle" for cv in of_type(objs, "conversation")),
          "idle closures with the default idle time")


def kuznetzov_bytes(recs, order="<"):
    out = [struct.pack(order + "IHHiIII", 0xa1b2cd34, 2, 4, 0, 0, 262144, 1)]
    for k, (ts, data, orig) in enumerate(recs):
        sec, ns = divmod(ts, 10**9)
        out.append(struct.pack(order + "IIIIIHBB", sec, ns // 1000, len(data), orig, k, 0, 6, 0)
                   + data)
    return b"".join(out)


def case_libpcap_quirks():
    """Classic pcap files that libpcap reads in its own way, which a slice
    reader must reproduce exactly: a header snap length smaller than some
    records (libpcap cuts them and skips the rest), version 2.3 and 2.2
    files (caplen and len swapped, always or when caplen > len), the
    Kuznetzov format (24-byte record headers), microsecond fields of a
    million or more or negative, seconds past 2038, and a snap length of
    0.  Each also cut short at the end, so the error offset is compared
    too."""
    recs, _ = many_interleaved_recs(small=True)
    recs = recs[:1500]
    variants = {}
    variants["snaplen200"] = cap.pcap_bytes(recs, snaplen=200)
    variants["snaplen0"] = cap.pcap_bytes(recs, snaplen=0)
    v23 = bytearray(cap.pcap_bytes(recs))
    struct.pack_into("<H", v23, 6, 3)
    variants["v2.3"] = bytes(v23)
    # Version 2.3 with some records whose fields are in the old order.
    old = [struct.pack("<HHiIII", 2, 3, 0, 0, 262144, 1)]
    for k, (ts, d, _) in enumerate(recs):
        sec, ns = divmod(ts, 10**9)
        if k % 5 == 0:
            old.append(struct.pack("<IIII", sec, ns // 1000, len(d) + 40, len(d)) + d)  # len, caplen
        else:
            old.append(struct.pack("<IIII", sec, ns // 1000, len(d), len(d)) + d)
    variants["v2.3-old-order"] = struct.pack("<I", 0xa1b2c3d4) + b"".join(old)
    v22 = [struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 2, 0, 0, 262144, 1)]
    for ts, d, _ in recs:
        sec, ns = divmod(ts, 10**9)
        v22.append(struct.pack("<IIII", sec, ns // 1000, len(d) + 4, len(d)) + d)
    variants["v2.2"] = b"".join(v22)
    variants["kuznetzov"] = kuznetzov_bytes(recs)
    variants["kuznetzov-be"] = kuznetzov_bytes(recs, ">")
    usec = [cap.pcap_bytes([])]
    for k, (ts, d, _) in enumerate(recs):
        sec, ns = divmod(ts, 10**9)
        frac = ns // 1000 + (1000000 if k % 4 == 0 else 0)
        usec.append(struct.pack("<IIII", sec, frac, len(d), len(d)) + d)
    variants["usec-overflow"] = b"".join(usec)
    # Fields libpcap reads as signed 32-bit numbers: seconds past 2038
    # (negative for it) and a negative microsecond field.
    y2040 = [cap.pcap_bytes([])]
    for k, (ts, d, _) in enumerate(recs):
        sec, ns = divmod(ts, 10**9)
        y2040.append(struct.pack("<IIII", sec + (1 << 31) + 3600 * 24 * 365 * 2,
                                 0xfffffc18 if k % 9 == 0 else ns // 1000, len(d), len(d)) + d)
    variants["y2040"] = b"".join(y2040)
    last = len(recs[-1][1])
    for name, blob in variants.items():
        for cut in (False, True):
            fn = path(name + ("-cut" if cut else "") + ".pcap")
            cap.write(fn, blob[:-7] if cut else blob)
            b = compare(fn, reports=(["-F", "ndjson"], ["-F", "text"]), slices=(97, 600, 4096),
                        jobs=(3,), stats=False)
            rc, out, err = b["-F ndjson -q"]
            check(rc == (EXIT_INPUT if cut else EXIT_OK), "%s: exit %d, %r" % (fn, rc, err[-300:]))
            check(len(of_type(ndjson(out), "conversation")) >= 5, "%s: conversations" % fn)
            # The failing record is the last one (with snaplen200 too, where
            # libpcap shortened records before it and skipped the rest).
            if cut:
                where = len(blob) - last - (24 if name.startswith("kuznetzov") else 16)
                check(("at offset %d" % where).encode() in err, "%s: stderr %r, want offset %d"
                      % (fn, err[-300:], where))


def case_edge_sizes():
    """Files smaller than a slice, header only, one record, a file size
    that is an exact multiple of the slice size; the smallest slice size
    the hook takes (64) and sizes smaller than a record; 16 workers."""
    frames = cap.frames(cap.SESSION_MAIN)
    cases = {"header-only": cap.pcap_bytes([]), "one-record": cap.pcap_bytes(frames[:1]),
             "main": cap.pcap_bytes(frames)}
    main = cases["main"]
    # Pad the last record so the file is exactly 8 * 600 bytes.
    want = 600 * ((len(main) + 599) // 600)
    last = frames[-1]
    padded = (last[0], last[1] + b"\0" * (want - len(main)))
    cases["multiple-600"] = cap.pcap_bytes(frames[:-1] + [padded])
    for name, blob in cases.items():
        fn = path(name + ".pcap")
        cap.write(fn, blob)
        b = compare(fn, reports=(["-F", "ndjson"], ["-F", "text"]), slices=(64, 65, 100, 600, None),
                    jobs=(2, 3, 16, 100), stats=True)
        rc, out, err = b["-F ndjson -q"]
        check(rc == EXIT_OK, "%s: exit %d %r" % (name, rc, err))
        want_convs = 0 if name in ("header-only", "one-record") else 1
        check(len(of_type(ndjson(out), "conversation")) == want_convs, "%s: conversations" % name)
    # A directory holding one capture is one input too; and -r.
    d = path("dir")
    os.makedirs(d)
    cap.write(os.path.join(d, "only.pcap"), main)
    compare(d, reports=(["-F", "ndjson"],), slices=(600,), stats=False)
    args = ["-q", "-F", "text", "-r", os.path.join(d, "only.pcap")]
    seq = run(args)
    check(seq[0] == EXIT_OK and b"conversation 1:" in seq[1], "-r: %r" % (seq,))
    for j in (2, 3):
        got = run(["-j", str(j)] + args, slice_bytes=600)
        if got != seq:
            DIFFS.append(describe("only.pcap: pcapd -j %d %s" % (j, " ".join(args)), seq, got))


def text_by_conversation(key, result):
    """A text report as each conversation's header and lines (joined across
    the parts it was printed in) and the summary: what stays the same when
    only the cut into parts differs."""
    rc, out, err = result
    convs, heads, cur, summary = {}, {}, None, None
    for line in out.split(b"\n"):
        if summary is not None:
            summary.append(line)
        elif line.startswith(b"conversation "):
            cur = int(line.split(b":", 1)[0].split()[1])
            convs.setdefault(cur, [])
            if b"(in progress, continued" not in line:
                heads[cur] = line[:-len(b", continued")] if line.endswith(b", continued") else line
        elif line.startswith(b"Summary"):
            summary = [line]
        elif line:
            convs.setdefault(cur, []).append(line)
    return rc, err, convs, heads, summary


def case_text_total_flush():
    """More than 32 MiB of text pending at once over 700 open conversations
    (each under the 64 KiB at which a conversation is printed early): a
    single thread then prints conversations early, in parts.  pcapd.1
    documents that with -j each thread counts its own conversations
    against that bound, so the parts may be cut elsewhere: every
    conversation's lines, in order, and the summary must still be the
    same; the CSV and --summary reports byte for byte."""
    base = cap.BASE_TS
    sources = []
    n = 700
    for i in range(n):
        client = v4(10, 3, i // 200 + 1, i % 200 + 1)
        sess = [cap.s("220 x ESMTP"), cap.c("EHLO a"), cap.s("250 x")] + \
            [("c", b"X\r\n" * 300)] * 2 + [cap.c("QUIT"), cap.s("221 bye")]
        pk = cap.tcp_packets(sess, client, v4(10, 3, 0, 2), cport=30000 + i)
        # Everyone opens and sends its 600 commands first; QUIT and FIN
        # come after all of them, one conversation after the other.
        t = [base + (i * 5 + k) * MS for k in range(8)] + \
            [base + 10 * 10**9 + (i * 5 + k) * MS for k in range(5)]
        for p, ts in zip(pk, t):
            p.ts = ts
        sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk)])
    fn = path("bigtext.pcap")
    cap.write_pcap(fn, merge(*sources))
    b = compare(fn, reports=(["-F", "text"],), slices=(None,), stats=False,
                normalise=text_by_conversation)
    out = b["-F text -q"][1]
    check(len(out) > 33 * 1024 * 1024, "text report only %d bytes" % len(out))
    early = out.count(b"(in progress, continued below)")
    check(50 <= early < n, "%d conversations printed early" % early)
    heads = text_by_conversation(None, b["-F text -q"])[3]
    check(sorted(heads) == list(range(1, n + 1)), "conversations missing: %d" % len(heads))
    compare(fn, reports=(["-F", "csv"], ["-F", "text", "--summary"]), slices=(65536, None),
            stats=False)


def bare_frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """An Ethernet/IPv4/TCP frame without options or checksums (pcapd does
    not check them): cheap enough for captures of 100 000 frames."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff, 0x50, flags,
                      65535, 0, 0) + payload
    return cap.MAC_S + cap.MAC_C + b"\x08\x00" + struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, src, dst) + tcp


def case_cap_shared():
    """--max-conversations is the run's, shared out among -j's threads
    (pcapd.1), so a flood of connections takes no more memory with -j:
    with 150 conversations open at once and a cap of 100, one thread cuts
    off 50, and -j 2 and -j 3 cut off some too (each thread keeps its share
    of the cap, not the whole of it)."""
    base = cap.BASE_TS
    sources = []
    for i in range(150):
        sess = [cap.s("220 cap.example ESMTP"), cap.c("EHLO c%d" % i), cap.s("250 cap.example")]
        pk = retime(cap.tcp_packets(sess, v4(10, 9, 1 + i // 200, 1 + i % 200), v4(10, 9, 0, 2),
                                    cport=46000 + i), base + i * MS, MS // 10)
        # open and greeted, then silent to the end of the capture: no FIN
        sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk[:6])])
    fn = path("cap.pcap")
    cap.write_pcap(fn, merge(*sources))
    for jobs in ("1", "2", "3"):
        rc, out, err = run(["-q", "-j", jobs, "--max-conversations", "100", "-F", "ndjson", fn],
                           slice_bytes=4096)
        convs = of_type(ndjson(out), "conversation")
        evicted = sum(1 for c in convs if c["end_reason"] == "evicted")
        check(rc == EXIT_OK and len(convs) == 150, "-j %s: exit %d, %d conversations"
              % (jobs, rc, len(convs)))
        if jobs == "1":
            check(evicted == 50, "-j 1: %d evicted, want 50" % evicted)
        else:
            check(evicted >= 30, "-j %s: %d evicted: the cap is not shared out" % (jobs, evicted))


def case_tombstone_overflow():
    """A late segment of a closed connection is ignored while the tracker
    remembers the connection (60 s, at most 65536 closed connections):
    after 60000 other closes it is ignored (compared byte for byte); after
    66000 a single tracker has forgotten it and starts a new
    (mid-conversation) conversation.  pcapd.1: with -j that memory is each
    thread's, so it bites later: then -j may only report fewer
    conversations, and the ones it reports as the sequential run does."""
    base = cap.BASE_TS
    a = cap.tcp_packets(cap.SESSION_CLEAN, v4(10, 2, 0, 1), v4(10, 2, 0, 2), cport=40000)
    recs = [(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(a)]
    last = a[-1]

    def late(ts):
        return (ts, bare_frame(last.src, last.dst, 25, 40000, last.seq, last.ack, 0x18,
                               b"250 2.0.0 late reply\r\n"))

    t = base + 10**9
    for n in range(66000):
        if n == 60000:
            below = recs + [late(t)]
        src = v4(10, 2, 1 + n // 60000, 1 + n % 250)
        sport = 1024 + (n // 250) % 60000
        recs.append((t, bare_frame(src, v4(10, 2, 0, 3), sport, 8080, 1000, 0, 0x02)))
        recs.append((t + 20000, bare_frame(v4(10, 2, 0, 3), src, 8080, sport, 0, 1001, 0x14)))
        t += 50000
    recs.append(late(base + 10 * 10**9))
    fn = path("tombs-below.pcap")
    cap.write_pcap(fn, below)
    b = compare(fn, reports=(["-F", "ndjson"], ["-F", "text", "--summary"]), slices=(65536, None))
    convs = of_type(ndjson(b["-F ndjson -q"][1]), "conversation")
    check(len(convs) == 1, "the late segment started a conversation after 60000 closes: %r"
          % [(c["client"], c["midstream"]) for c in convs])
    fn = path("tombs-above.pcap")
    cap.write_pcap(fn, recs)
    rc, out, err = run(["-q", "-F", "ndjson", fn])
    seq = of_type(ndjson(out), "conversation")
    check(rc == EXIT_OK and len(seq) == 2 and seq[1]["midstream"], "the late segment did not start "
          "a conversation after 66000 closes: %r" % [(c["client"], c["midstream"]) for c in seq])
    for j in (2, 3):
        rc, out, err = run(["-q", "-F", "ndjson", "-j", str(j), fn])
        par = of_type(ndjson(out), "conversation")
        check(rc == EXIT_OK and 1 <= len(par) <= 2 and par == seq[:len(par)],
              "-j %d after 66000 closes: %r" % (j, par))
        if len(par) < len(seq):
            DOCUMENTED.append("%s: -j %d, %d conversation(s) instead of %d"
                              % (os.path.basename(fn), j, len(par), len(seq)))


def case_summary_bounds():
    """The summary's top failures: first many failure replies of equal
    count that differ only in their enhanced code (present or not), so the
    ranking of ties shows; then more distinct failure replies (code,
    enhanced code, command) than the summary keeps (4096), spread over
    conversations of every worker, and a failure reply seen 30 times after
    the table is full.  Both must come out as in a sequential run."""
    base = cap.BASE_TS
    sources = []
    for i in range(12):
        sess = [cap.s("220 ties.example ESMTP"), cap.c("EHLO t%d" % i), cap.s("250 ties.example")]
        for k in range(4):
            sess += [cap.c("MAIL FROM:<t%d@example.com>" % k),
                     cap.s("55%d 5.7.%d no" % (k, k) if (i + k) % 2 else "55%d no" % k)]
        sess += [cap.c("QUIT"), cap.s("221 Bye")]
        pk = retime(cap.tcp_packets(sess, v4(10, 1, 60, 1 + i), v4(10, 1, 0, 2), cport=49000 + i),
                    base + i * 3 * MS, 4 * MS)
        sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk)])
    fn = path("ties.pcap")
    cap.write_pcap(fn, merge(*sources))
    b = compare(fn, reports=(["-F", "ndjson", "--summary"], ["-F", "text", "--summary"]),
                slices=(600, None), stats=False)
    top = ndjson(b["-F ndjson --summary -q"][1])[-1]["top_failures"]
    check(len(top) == 8 and all(f["count"] == 6 for f in top), "ties: top failures %r" % top)

    # 40 conversations of 100 distinct failure replies: 4000 keys and the
    # late one fit; 42: 4200 keys do not, and the summary keeps the first
    # 4096 met, in capture order, as a single thread does (byte for byte
    # either way).
    for convs in (40, 42):
        sources, n = [], 0
        for i in range(convs):
            rcpts = "".join("RCPT TO:<u%d@example.org>\r\n" % k for k in range(100)).encode()
            replies = []
            for k in range(100):
                key = i * 100 + k
                replies.append("%d 5.%d.%d no such user %d" % (550 + key % 4, key // 1000, key % 1000,
                                                               key))
            sess = [cap.s("220 mx%d.example ESMTP" % i), cap.c("EHLO c%d" % i),
                    cap.s("250-mx.example", "250 PIPELINING"), cap.c("MAIL FROM:<a@example.com>"),
                    cap.s("250 2.1.0 Ok"), ("c", rcpts), cap.s(*replies), cap.c("QUIT"),
                    cap.s("221 Bye")]
            pk = retime(cap.tcp_packets(sess, v4(10, 1, 1 + i // 200, 1 + i % 200), v4(10, 1, 0, 2),
                                        cport=47000 + i), base + i * 7 * MS, 5 * MS)
            sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk)])
            n += 1
        # After them: a failure reply 30 times, in three conversations.
        for i in range(3):
            sess = [cap.s("220 late.example ESMTP"), cap.c("EHLO late"), cap.s("250 late.example")]
            for k in range(10):
                sess += [cap.c("MAIL FROM:<x%d@example.com>" % k),
                         cap.s("452 4.3.1 Insufficient storage")]
            sess += [cap.c("QUIT"), cap.s("221 Bye")]
            pk = retime(cap.tcp_packets(sess, v4(10, 1, 50, 1 + i), v4(10, 1, 0, 2), cport=48000 + i),
                        base + 2 * 10**9 + i * MS, 3 * MS)
            sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk)])
            n += 1
        fn = path("failures%d.pcap" % convs)
        cap.write_pcap(fn, merge(*sources))
        b = compare(fn, reports=(["-F", "ndjson", "--summary"], ["-F", "text", "--summary"],
                                 ["-F", "csv"]), slices=(4096, None), stats=False)
        objs = ndjson(b["-F ndjson --summary -q"][1])
        check(len(of_type(objs, "conversation")) == n, "conversations %d, want %d"
              % (len(of_type(objs, "conversation")), n))
        top = objs[-1]["top_failures"]
        check(objs[-1]["replies"]["total"] >= convs * 100 + 30 and len(top) == 10,
              "summary %r" % {k: objs[-1][k] for k in ("replies", "top_failures")})
        late = [f for f in top if f["code"] == 452]
        if convs == 40:
            check(top[0]["code"] == 452 and top[0]["count"] == 30, "top failure %r" % top[0])
        else:
            check(not late, "the late 452 came after 4096 kinds but is listed: %r" % late)
        # The same conversations as two files, read side by side by -j 2:
        # the second file's kinds join the first's in the order they came.
        halves = [path("failures%d-a.pcap" % convs), path("failures%d-b.pcap" % convs)]
        cap.write_pcap(halves[0], merge(*sources[:30]))
        cap.write_pcap(halves[1], merge(*sources[30:]))
        for rep in (["-F", "ndjson", "--summary"], ["-F", "text", "--summary"]):
            one = run(["-q"] + rep + halves)
            two = run(["-q", "-j", "2"] + rep + halves)
            check(one == two, "two files, %s: -j 2 differs: %s"
                  % (" ".join(rep), first_diff(one[1], two[1])))


def case_late_start():
    """Flows whose conversation starts only as they end: on a listed port,
    with nothing captured in order but a segment after a hole (released
    at the end as a gap, then data), or only an ACK of client data never
    captured (a gap at the end); interleaved with ordinary conversations
    and left open, so they end together at the end of the capture (or by
    --idle, at the same moment): conversations by id, then the late ones
    by first frame, whatever worker each is on."""
    base = cap.BASE_TS
    sources, n_plain, n_late = [], 0, 0
    for i in range(36):
        client, server = v4(10, 8, 1 + i, 1), v4(10, 8, 0, 2)
        cport, sport = 43000 + i, (25, 587, 2525)[i % 3]
        t0 = base + (i * 37 % 200) * MS
        hs = cap.tcp_packets([], client, server, cport=cport, sport=sport)[:3]
        if i % 3 == 0:
            pk = cap.tcp_packets(SESSIONS[i % 5], client, server, cport=cport, sport=sport)[:-3]
            n_plain += 1
        elif i % 3 == 1:
            # A client segment 100 bytes past what was captured.
            pk = hs + [cap.Packet(0, client, server, cport, sport, 1001 + 100, 5001, 0x18,
                                  b"QUIT\r\n")]
            n_late += 1
        else:
            # The server acknowledges 200 bytes of the client's never seen.
            pk = hs + [cap.Packet(0, server, client, sport, cport, 5001, 1001 + 200, 0x10, b"")]
            n_late += 1
        retime(pk, t0, 5 * MS)
        sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(pk)])
    # Something 3 s later, for --idle 2 to end them all at one moment.
    tail = cap.tcp_packets(cap.SESSION_CLEAN, v4(10, 8, 200, 1), v4(10, 8, 0, 2), cport=44999)
    retime(tail, base + 3 * 10**9, 5 * MS)
    sources.append([(p.ts, ip_of(p, 1 + k)) for k, p in enumerate(tail)])
    fn = path("late.pcap")
    cap.write_pcap(fn, merge(*sources))
    for extra in ([], ["--idle", "2"]):
        b = compare(fn, extra=extra, reports=(["-F", "ndjson"], ["-F", "text"], ["-F", "csv"]),
                    slices=(600, 4096, None), jobs=(2, 3, 5), stats=False)
        convs = of_type(ndjson(b["-F ndjson -q"][1]), "conversation")
        check(len(convs) >= n_plain + n_late, "%s: %d conversations, want %d and more"
              % (extra, len(convs), n_plain + n_late))


CASES = {
    "many_interleaved": case_many_interleaved,
    "pcap_inside_payload": case_pcap_inside_payload,
    "fragments_across_slices": case_fragments_across_slices,
    "truncated_end": case_truncated_end,
    "corrupt_middle": case_corrupt_middle,
    "pcapng_and_gzip": case_pcapng_and_gzip,
    "nanosecond_and_swapped": case_nanosecond_and_swapped,
    "ndjson_ids": case_ndjson_ids,
    "idle_timeouts": case_idle_timeouts,
    "libpcap_quirks": case_libpcap_quirks,
    "edge_sizes": case_edge_sizes,
    "text_total_flush": case_text_total_flush,
    "tombstone_overflow": case_tombstone_overflow,
    "summary_bounds": case_summary_bounds,
    "cap_shared": case_cap_shared,
    "late_start": case_late_start,
}


def main():
    global PCAPD, SRC, TMP
    args = cap.parse_args("test_shard.py", CASES)
    if isinstance(args, int):
        return args
    PCAPD, SRC, names = args
    status = 0
    for name in names:
        TMP = tempfile.mkdtemp(prefix="pcapd-shard-")
        t = time.time()
        del DIFFS[:]
        del DOCUMENTED[:]
        try:
            r = CASES[name]()
            if DIFFS:
                raise diffs_fail()
            if r == SKIP:
                print("SKIP %s" % name)
                if len(names) == 1:
                    status = SKIP
            else:
                note = ("; %d run(s) differed only as pcapd.1 documents, e.g. %s"
                        % (len(DOCUMENTED), DOCUMENTED[0])) if DOCUMENTED else ""
                print("ok   %s (%.1f s)%s" % (name, time.time() - t, note))
        except (Fail, Hang) as e:
            msg = str(e)
            if DIFFS and not msg.startswith("%d run(s) differ" % len(DIFFS)):
                msg += "\nand before that, " + str(diffs_fail())
            print("FAIL %s (%.1f s): %s" % (name, time.time() - t, msg))
            status = 1
        finally:
            shutil.rmtree(TMP, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
