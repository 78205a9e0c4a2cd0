"""captures.py -- crafted SMTP captures for pcapd's end-to-end tests.

Standard library only.  A session is a list of (side, bytes) turns; it is
turned into TCP segments (handshake, data with piggy-backed ACKs, FIN both
ways), each wrapped in IPv4 or IPv6 and one link layer, and written as pcap
(either byte order, micro- or nanosecond timestamps) or pcapng.  Timestamps
start at BASE_TS and advance STEP_NS per packet, so reply latencies are
known exactly (STEP_NS).
"""
import base64
import gzip
import os
import struct
import sys

BASE_TS = 1700000000 * 10**9 + 123456789   # nanoseconds; .123456789
STEP_NS = 10 * 10**6                        # 10 ms between packets

CLIENT4, SERVER4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
CLIENT6 = bytes.fromhex("20010db8000000000000000000000001")
SERVER6 = bytes.fromhex("20010db8000000000000000000000002")

PLAIN_PASSWORD = "S3cretPlainPw"
LOGIN_PASSWORD = "L0ginSecretPw"
PLAIN_TOKEN = base64.b64encode(b"\0alice\0" + PLAIN_PASSWORD.encode()).decode()
LOGIN_TOKEN = base64.b64encode(LOGIN_PASSWORD.encode()).decode()

BEARER = "ya29.BearerTokenSecret"
XOAUTH2_TOKEN = base64.b64encode(b"user=erin@example.com\x01auth=Bearer " + BEARER.encode() +
                                 b"\x01\x01").decode()
PLAIN2_PASSWORD = "Pl41nSecondPw"
PLAIN2_TOKEN = base64.b64encode(b"\0erin\0" + PLAIN2_PASSWORD.encode()).decode()

# Secrets that must never appear without --show-secrets, in any form.
SECRETS = [PLAIN_PASSWORD, LOGIN_PASSWORD, PLAIN_TOKEN, LOGIN_TOKEN, BEARER, XOAUTH2_TOKEN,
           PLAIN2_PASSWORD, PLAIN2_TOKEN]


def c(line):
    return ("c", line.encode() + b"\r\n")


def s(*lines):
    return ("s", b"".join(l.encode() + b"\r\n" for l in lines))


# A delivery with AUTH PLAIN, one refused recipient, a message and QUIT.
SESSION_MAIN = [
    s("220 mail.example.org ESMTP ready"),
    c("EHLO client.example.com"),
    s("250-mail.example.org Hello", "250-PIPELINING", "250-SIZE 10240000",
      "250-AUTH PLAIN LOGIN", "250 8BITMIME"),
    c("AUTH PLAIN " + PLAIN_TOKEN),
    s("235 2.7.0 Authentication successful"),
    c("MAIL FROM:<alice@example.com>"),
    s("250 2.1.0 Ok"),
    c("RCPT TO:<bob@example.org>"),
    s("250 2.1.5 Ok"),
    c("RCPT TO:<nobody@example.org>"),
    s('550 5.1.1 <nobody@example.org>: Recipient address rejected: "User unknown", sorry'),
    c("DATA"),
    s("354 End data with <CR><LF>.<CR><LF>"),
    ("c", b"Subject: crafted test\r\nMessage-ID: <t1@example.com>\r\n\r\nHello, \"world\", a,b\r\n.\r\n"),
    s("250 2.0.0 Ok: queued as 4AbCdE"),
    c("QUIT"),
    s("221 2.0.0 Bye"),
]

# AUTH LOGIN, then a clean delivery.
SESSION_LOGIN = [
    s("220 mx.example.net ESMTP"),
    c("EHLO laptop"),
    s("250-mx.example.net", "250-AUTH LOGIN PLAIN", "250 SIZE 1000000"),
    c("AUTH LOGIN"),
    s("334 VXNlcm5hbWU6"),
    c(base64.b64encode(b"carol").decode()),
    s("334 UGFzc3dvcmQ6"),
    c(LOGIN_TOKEN),
    s("235 2.7.0 Accepted"),
    c("MAIL FROM:<carol@example.net>"),
    s("250 2.1.0 Sender ok"),
    c("RCPT TO:<dave@example.org>"),
    s("250 2.1.5 Recipient ok"),
    c("DATA"),
    s("354 go ahead"),
    ("c", b"Subject: two\r\n\r\nbody\r\n.\r\n"),
    s("250 2.0.0 queued as X1"),
    c("QUIT"),
    s("221 2.0.0 closing"),
]

# XOAUTH2 refused, then AUTH PLAIN with the response on its own line.
SESSION_XOAUTH2 = [
    s("220 smtp.example.com ESMTP"),
    c("EHLO box"),
    s("250-smtp.example.com", "250 AUTH PLAIN XOAUTH2"),
    c("AUTH XOAUTH2 " + XOAUTH2_TOKEN),
    s("535 5.7.8 Username and Password not accepted"),
    c("AUTH PLAIN"),
    s("334 "),
    c(PLAIN2_TOKEN),
    s("235 2.7.0 Accepted"),
    c("QUIT"),
    s("221 2.0.0 closing"),
]

# Nothing refused, nothing odd: for --fail-on tests that must not fire.
SESSION_CLEAN = [
    s("220 relay.example.org ESMTP"),
    c("EHLO a.example.com"),
    s("250-relay.example.org", "250 SIZE 1000000"),
    c("MAIL FROM:<a@example.com>"),
    s("250 2.1.0 Ok"),
    c("RCPT TO:<b@example.org>"),
    s("250 2.1.5 Ok"),
    c("DATA"),
    s("354 End data with <CR><LF>.<CR><LF>"),
    ("c", b"Subject: clean\r\n\r\nok\r\n.\r\n"),
    s("250 2.0.0 Ok: queued as C1"),
    c("QUIT"),
    s("221 2.0.0 Bye"),
]


# A command out of sequence (RCPT before MAIL): a warning anomaly.
SESSION_ANOMALY = [
    s("220 relay.example.org ESMTP"),
    c("EHLO a.example.com"),
    s("250 relay.example.org"),
    c("RCPT TO:<b@example.org>"),
    s("503 5.5.1 Error: need MAIL command"),
    c("QUIT"),
    s("221 2.0.0 Bye"),
]


def reply_indices(session):
    """Packet indices (0-based, handshake included) of the server turns."""
    return [3 + j for j, (side, _) in enumerate(session) if side == "s"]


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xffff) + (total >> 16)
    return (~total) & 0xffff


class Packet:
    """One TCP segment before IP/link wrapping."""

    def __init__(self, ts, src, dst, sport, dport, seq, ack, flags, payload):
        self.ts, self.src, self.dst = ts, src, dst
        self.sport, self.dport, self.seq, self.ack = sport, dport, seq, ack
        self.flags, self.payload = flags, payload

    def tcp(self):
        opts = b"\x02\x04\x05\xb4\x01\x01\x04\x02" if self.flags & 0x02 else b"\x01\x01\x08\x0a" + struct.pack("!II", 1, 2)
        hlen = 20 + len(opts)
        hdr = struct.pack("!HHIIBBHHH", self.sport, self.dport, self.seq & 0xffffffff,
                          self.ack & 0xffffffff, (hlen // 4) << 4, self.flags, 65535, 0, 0) + opts
        seg = hdr + self.payload
        if len(self.src) == 4:
            pseudo = self.src + self.dst + struct.pack("!BBH", 0, 6, len(seg))
        else:
            pseudo = self.src + self.dst + struct.pack("!IxxxB", len(seg), 6)
        ck = checksum(pseudo + seg)
        return seg[:16] + struct.pack("!H", ck) + seg[18:]


def tcp_packets(session, client, server, cport=40000, sport=25, t0=BASE_TS, isn_c=1000, isn_s=5000):
    """Packets of a whole conversation: handshake, turns, FIN/ACK both ways."""
    pk = []
    t = [t0]

    def add(src, dst, sp, dp, seq, ack, flags, payload=b""):
        pk.append(Packet(t[0], src, dst, sp, dp, seq, ack, flags, payload))
        t[0] += STEP_NS

    cs, ss = isn_c, isn_s
    add(client, server, cport, sport, cs, 0, 0x02)
    add(server, client, sport, cport, ss, cs + 1, 0x12)
    cs += 1
    ss += 1
    add(client, server, cport, sport, cs, ss, 0x10)
    for side, data in session:
        if side == "c":
            add(client, server, cport, sport, cs, ss, 0x18, data)
            cs += len(data)
        else:
            add(server, client, sport, cport, ss, cs, 0x18, data)
            ss += len(data)
    add(server, client, sport, cport, ss, cs, 0x11)
    ss += 1
    add(client, server, cport, sport, cs, ss, 0x11)
    cs += 1
    add(server, client, sport, cport, ss, cs, 0x10)
    return pk


def ipv4(p, ident=1, options=b"", frag=0, payload=None):
    body = p.tcp() if payload is None else payload
    ihl = (20 + len(options)) // 4
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(body), ident, frag,
                      64, 6, 0, p.src, p.dst) + options
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + body


def ipv6(p, ext=b"", first_nh=6):
    body = ext + p.tcp()
    return struct.pack("!IHBB16s16s", 0x60000000, len(body), first_nh, 64, p.src, p.dst) + body


def ipv4_fragments(p, ident, size=24):
    """The packet's IPv4 datagram as fragments of `size` payload bytes (a
    multiple of 8), last fragment first to exercise reordering."""
    body = p.tcp()
    frags = []
    for off in range(0, len(body), size):
        more = off + size < len(body)
        frags.append(ipv4(p, ident=ident, frag=(0x2000 if more else 0) | (off // 8),
                          payload=body[off:off + size]))
    return [frags[-1]] + frags[:-1]


def ipv6_fragments(p, ident, size=24):
    """The packet's TCP segment in IPv6 fragments (fragment header, next
    header TCP) of `size` bytes, last fragment first."""
    body = p.tcp()
    frags = []
    for off in range(0, len(body), size):
        more = off + size < len(body)
        fh = struct.pack("!BBHI", 6, 0, off | (1 if more else 0), ident)
        chunk = fh + body[off:off + size]
        frags.append(struct.pack("!IHBB16s16s", 0x60000000, len(chunk), 44, 64, p.src, p.dst) + chunk)
    return [frags[-1]] + frags[:-1]


MAC_C, MAC_S = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")


def eth(ip, ethertype=0x0800, tags=()):
    """Ethernet II; `tags` are (tpid, vid) pairs, outermost first."""
    out = MAC_S + MAC_C
    for tpid, vid in tags:
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", ethertype) + ip


def sll(ip, proto=0x0800):
    return struct.pack("!HHH8sH", 0, 1, 6, MAC_C + b"\0\0", proto) + ip


def sll2(ip, proto=0x0800):
    return struct.pack("!HHIHBB8s", proto, 0, 1, 1, 0, 6, MAC_C + b"\0\0") + ip


def null_hdr(ip, family=2, order="<"):
    return struct.pack(order + "I", family) + ip


LINK = {"ether": 1, "null": 0, "loop": 108, "raw": 101, "ipv4": 228, "ipv6": 229,
        "sll": 113, "sll2": 276}


def frames(session, link="ether", family=4, **kw):
    """(ts_ns, frame bytes) for a session on one link type."""
    client, server = (CLIENT4, SERVER4) if family == 4 else (CLIENT6, SERVER6)
    out = []
    for i, p in enumerate(tcp_packets(session, client, server, **kw)):
        ip = ipv4(p, ident=i + 1) if family == 4 else ipv6(p)
        et = 0x0800 if family == 4 else 0x86dd
        if link == "ether":
            f = eth(ip, et)
        elif link == "sll":
            f = sll(ip, et)
        elif link == "sll2":
            f = sll2(ip, et)
        elif link == "null":
            f = null_hdr(ip, 2 if family == 4 else 24)
        elif link == "loop":
            f = null_hdr(ip, 2 if family == 4 else 24, ">")
        else:
            f = ip
        out.append((p.ts, f))
    return out


def pcap_bytes(recs, linktype=1, order="<", nano=False, snaplen=262144):
    magic = 0xa1b23c4d if nano else 0xa1b2c3d4
    out = [struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for rec in recs:
        ts, data = rec[0], rec[1]
        orig = rec[2] if len(rec) > 2 else len(data)
        sec, frac = divmod(ts, 10**9)
        out.append(struct.pack(order + "IIII", sec, frac if nano else frac // 1000, len(data), orig))
        out.append(data)
    return b"".join(out)


def write_pcap(path, recs, **kw):
    data = pcap_bytes(recs, **kw)
    with open(path, "wb") as f:
        f.write(data)
    return data


def _pad4(b):
    return b + b"\0" * (-len(b) % 4)


def pcapng_bytes(recs_by_if, linktypes, order="<", late_idbs=False):
    """recs_by_if: list of (interface index, ts_ns, data) in file order.
    With late_idbs, interfaces after the first are described just before
    their first packet instead of at the start."""
    def block(btype, body):
        body = _pad4(body)
        n = 12 + len(body)
        return struct.pack(order + "II", btype, n) + body + struct.pack(order + "I", n)

    def idb(lt):
        # if_tsresol = 9 (nanoseconds), then end of options.
        opts = struct.pack(order + "HH", 9, 1) + b"\x09\0\0\0" + struct.pack(order + "HH", 0, 0)
        return block(1, struct.pack(order + "HHI", lt, 0, 262144) + opts)

    out = [block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1))]
    described = 1 if late_idbs else len(linktypes)
    out += [idb(lt) for lt in linktypes[:described]]
    for ifx, ts, data in recs_by_if:
        while ifx >= described:
            out.append(idb(linktypes[described]))
            described += 1
        out.append(block(6, struct.pack(order + "IIIII", ifx, ts >> 32, ts & 0xffffffff,
                                        len(data), len(data)) + _pad4(data)))
    return b"".join(out)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def write_gz(path, data):
    with gzip.open(path, "wb") as f:
        f.write(data)


def parse_args(prog, cases):
    """The command line of a test script: PCAPD CASE|all [SOURCE_DIR], or
    --list (print the case names for ctest).  Returns (pcapd, source_dir,
    case names), or the exit status when there is nothing more to do."""
    if len(sys.argv) == 2 and sys.argv[1] == "--list":
        print(";".join(cases))
        return 0
    if len(sys.argv) < 3:
        print("usage: %s PCAPD CASE|all [SOURCE_DIR]" % prog)
        return 2
    src = sys.argv[3] if len(sys.argv) > 3 else os.path.join(os.path.dirname(__file__), "..", "..")
    names = list(cases) if sys.argv[2] == "all" else [sys.argv[2]]
    return os.path.abspath(sys.argv[1]), os.path.abspath(src), names
