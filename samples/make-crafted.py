#!/usr/bin/python3
"""make-crafted.py -- write smtpscope's crafted sample captures.

Real servers on loopback never lose, reorder or fragment a packet, never run
on a VLAN or a cooked Linux interface, and never answer with every reply
code.  These captures are built packet by packet instead.  Their SMTP bytes
are the dialogues of the real captures beside them (Postfix 3.7 and Exim
4.96 as configured by make-real.sh); what is crafted is the packet
transport around them, and in crafted-all-reply-codes.pcap the replies.

Run with Debian's python3 and python3-scapy:   /usr/bin/python3 samples/make-crafted.py
The output is deterministic: running it again writes the same bytes.

Captures are written by this script's own pcap and pcapng writers (scapy
builds the packets), so link types, byte order and timestamp resolution
are under its control.
"""
import os
import struct
from decimal import Decimal

from scapy.all import (IP, TCP, CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q,
                       Ether, IPv6, fragment, raw)

OUT = os.path.dirname(os.path.abspath(__file__))
T0 = 1795867200  # 2026-11-28 08:00:00 UTC; packet times are kept relative to it

CLIENT_MAC, SERVER_MAC = "02:00:00:00:00:0c", "02:00:00:00:00:5e"

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_RAW = 0, 1, 101
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 113, 276

C, S = 0, 1  # sides: client, server

# --- the SMTP dialogues -------------------------------------------------------

BODY = (b"From: Alice <alice@example.com>\r\n"
        b"To: Bob <bob@example.org>\r\n"
        b"Subject: Minutes of the Tuesday meeting\r\n"
        b"Date: Sat, 28 Nov 2026 08:00:00 +0000\r\n"
        b"Message-ID: <minutes.20261128@client.example.com>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n" +
        b"".join(b"%02d. Item %02d was discussed and agreed; the action "
                 b"falls to the usual people.\r\n" % (i, i) for i in range(1, 31)) +
        b"..and a line that begins with a dot.\r\n"
        b".\r\n")

POSTFIX_EHLO = (b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 20000\r\n"
                b"250-VRFY\r\n250-ETRN\r\n250-STARTTLS\r\n"
                b"250-AUTH PLAIN LOGIN\r\n250-ENHANCEDSTATUSCODES\r\n"
                b"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n")

# One Postfix delivery: a rejected and an accepted recipient, then a message.
DELIVERY = [
    (S, b"220 mail.example.org ESMTP Postfix (Debian/GNU)\r\n"),
    (C, b"EHLO client.example.com\r\n"),
    (S, POSTFIX_EHLO),
    (C, b"MAIL FROM:<alice@example.com>\r\n"),
    (S, b"250 2.1.0 Ok\r\n"),
    (C, b"RCPT TO:<bob@example.org>\r\n"),
    (S, b"250 2.1.5 Ok\r\n"),
    (C, b"RCPT TO:<nosuchuser@example.org>\r\n"),
    (S, b"550 5.1.1 <nosuchuser@example.org>: Recipient address rejected: "
        b"User unknown in virtual mailbox table\r\n"),
    (C, b"DATA\r\n"),
    (S, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
    (C, BODY),
    (S, b"250 2.0.0 Ok: queued as 4F2A81064C3\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 2.0.0 Bye\r\n"),
]

# One Exim delivery, for a second conversation in the same file.
EXIM_DELIVERY = [
    (S, b"220 mx.example.org ESMTP Exim 4.96 Sat, 28 Nov 2026 08:00:01 +0000\r\n"),
    (C, b"EHLO client.example.com\r\n"),
    (S, b"250-mx.example.org Hello client.example.com [192.0.2.11]\r\n"
        b"250-SIZE 20000\r\n250-8BITMIME\r\n250-PIPELINING\r\n"
        b"250-CHUNKING\r\n250-STARTTLS\r\n250 HELP\r\n"),
    (C, b"MAIL FROM:<carol@example.com>\r\n"),
    (S, b"250 OK\r\n"),
    (C, b"RCPT TO:<alice@example.org>\r\n"),
    (S, b"250 Accepted\r\n"),
    (C, b"DATA\r\n"),
    (S, b"354 Enter message, ending with \".\" on a line by itself\r\n"),
    (C, b"From: carol@example.com\r\nSubject: Lunch\r\n\r\nNoon?\r\n.\r\n"),
    (S, b"250 OK id=1xV9aB-0001Qs-3T\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 mx.example.org closing connection\r\n"),
]

# Every reply code of the seed tables (and 235, 334, 455, 555, 556), each
# answering a command that may plausibly get it.  421 ends a second session.
ALL_CODES = [
    (S, b"220 mx.example.org ESMTP ready\r\n"),
    (C, b"EHLO client.example.com\r\n"),
    (S, b"250-mx.example.org greets client.example.com\r\n250-PIPELINING\r\n"
        b"250-SIZE 10240000\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n"
        b"250-STARTTLS\r\n250-ETRN\r\n250-ATRN\r\n250-CHECKPOINT\r\n250 HELP\r\n"),
    (C, b"HELP\r\n"),
    (S, b"214-2.0.0 Commands supported:\r\n"
        b"214-2.0.0   HELO EHLO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY ETRN ATRN\r\n"
        b"214 2.0.0 End of HELP info\r\n"),
    (C, b"HELP STATUS\r\n"),
    (S, b"211 2.0.0 System status: accepting mail, 3 sessions active\r\n"),
    (C, b"NOOP\r\n"),
    (S, b"200 2.0.0 Nonstandard success\r\n"),
    (C, b"STARTTLS\r\n"),
    (S, b"454 4.7.0 TLS not available due to temporary reason\r\n"),
    (C, b"MAIL FROM:<alice@example.com>\r\n"),
    (S, b"530 5.7.0 Authentication required\r\n"),
    (C, b"AUTH CRAM-MD5\r\n"),
    (S, b"504 5.5.4 Unrecognized authentication type\r\n"),
    (C, b"AUTH LOGIN\r\n"),
    (S, b"534 5.7.9 Authentication mechanism is too weak\r\n"),
    (C, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
    (S, b"538 5.7.11 Encryption required for requested authentication mechanism\r\n"),
    (C, b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
    (S, b"432 4.7.12 A password transition is needed\r\n"),
    (C, b"AUTH PLAIN AGFsaWNlAHdyb25n\r\n"),
    (S, b"535 5.7.8 Authentication credentials invalid\r\n"),
    (C, b"AUTH LOGIN\r\n"),
    (S, b"334 VXNlcm5hbWU6\r\n"),
    (C, b"YWxpY2U=\r\n"),
    (S, b"334 UGFzc3dvcmQ6\r\n"),
    (C, b"c2VjcmV0\r\n"),
    (S, b"235 2.7.0 Authentication successful\r\n"),
    (C, b"VRFY alice\r\n"),
    (S, b"250 2.1.5 Alice <alice@example.org>\r\n"),
    (C, b"VRFY carol\r\n"),
    (S, b"252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery\r\n"),
    (C, b"EXPN staff\r\n"),
    (S, b"502 5.5.1 EXPN command not implemented\r\n"),
    (C, b"XYZZY\r\n"),
    (S, b"500 5.5.2 Syntax error, command unrecognized\r\n"),
    (C, b"RCPT TO:<alice@example.org>\r\n"),
    (S, b"503 5.5.1 Bad sequence of commands: need MAIL first\r\n"),
    (C, b"MAIL FROM alice@example.com\r\n"),
    (S, b"501 5.5.4 Syntax error in parameters or arguments\r\n"),
    (C, b"MAIL FROM:<alice@example.com> XFROB=1\r\n"),
    (S, b"555 5.5.4 MAIL FROM parameters not recognized or not implemented\r\n"),
    (C, b"MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159 SIZE=10000\r\n"),
    (S, b"455 4.5.4 Server unable to accommodate parameters\r\n"),
    (C, b"MAIL FROM:<mailer@spam.example>\r\n"),
    (S, b"521 5.7.1 mx.example.org does not accept mail from you\r\n"),
    (C, b"MAIL FROM:<alice@example.com>\r\n"),
    (S, b"250 2.1.0 Sender OK\r\n"),
    (C, b"RCPT TO:<alice@example.org>\r\n"),
    (S, b"250 2.1.5 Recipient OK\r\n"),
    (C, b"RCPT TO:<bob@example.org>\r\n"),
    (S, b"251 2.1.5 User not local; will forward to <bob@example.net>\r\n"),
    (C, b"RCPT TO:<busy@example.org>\r\n"),
    (S, b"450 4.2.1 Mailbox busy, try again later\r\n"),
    (C, b"RCPT TO:<greylist@example.org>\r\n"),
    (S, b"451 4.7.1 Greylisted, try again in 5 minutes\r\n"),
    (C, b"RCPT TO:<dave@example.org>\r\n"),
    (S, b"452 4.3.1 Insufficient system storage\r\n"),
    (C, b"RCPT TO:<nosuchuser@example.org>\r\n"),
    (S, b"550 5.1.1 User unknown\r\n"),
    (C, b"RCPT TO:<moved@example.org>\r\n"),
    (S, b"551 5.1.6 User not local; please try <moved@example.net>\r\n"),
    (C, b"RCPT TO:<full@example.org>\r\n"),
    (S, b"552 5.2.2 Mailbox full\r\n"),
    (C, b"RCPT TO:<\"bad name\"@@example.org>\r\n"),
    (S, b"553 5.1.3 Mailbox name not allowed\r\n"),
    (C, b"RCPT TO:<user@nullmx.example>\r\n"),
    (S, b"556 5.1.10 Domain nullmx.example does not accept mail\r\n"),
    (C, b"DATA\r\n"),
    (S, b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
    (C, b"From: alice@example.com\r\nSubject: Cheap watches\r\n\r\nBuy now.\r\n.\r\n"),
    (S, b"554 5.7.1 Message rejected as spam\r\n"),
    (C, b"RSET\r\n"),
    (S, b"250 2.0.0 Reset\r\n"),
    (C, b"MAIL FROM:<alice@example.com> TRANSID=<t1.20261128@client.example.com>\r\n"),
    (S, b"355 0 octet-offset is the transaction offset\r\n"),
    (C, b"RCPT TO:<alice@example.org>\r\n"),
    (S, b"250 2.1.5 Recipient OK\r\n"),
    (C, b"DATA\r\n"),
    (S, b"354 Start mail input; end with <CRLF>.<CRLF>\r\n"),
    (C, b"From: alice@example.com\r\nSubject: Restarted\r\n\r\nHello again.\r\n.\r\n"),
    (S, b"250 2.0.0 Message accepted for delivery: queued as 7Hq2Zr\r\n"),
    (C, b"ETRN example.net\r\n"),
    (S, b"250 2.0.0 OK, queuing for node example.net started\r\n"),
    (C, b"ETRN quiet.example\r\n"),
    (S, b"251 2.0.0 OK, no messages waiting for node quiet.example\r\n"),
    (C, b"ETRN relay.example\r\n"),
    (S, b"252 2.0.0 OK, pending messages for node relay.example started\r\n"),
    (C, b"ETRN #backup.example\r\n"),
    (S, b"253 2.0.0 OK, 3 pending messages for node backup.example started\r\n"),
    (C, b"ETRN other.example\r\n"),
    (S, b"458 4.0.0 Unable to queue messages for node other.example\r\n"),
    (C, b"ETRN secret.example\r\n"),
    (S, b"459 4.0.0 Node secret.example not allowed: not a client of this server\r\n"),
    (C, b"ATRN example.net\r\n"),
    (S, b"453 You have no mail\r\n"),
    (C, b"ATRN relay.example\r\n"),
    (S, b"450 ATRN request refused\r\n"),
    (C, b"ATRN backup.example\r\n"),
    (S, b"451 Unable to process ATRN request now\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 2.0.0 mx.example.org closing connection\r\n"),
]

ALL_CODES_421 = [
    (S, b"220 mx.example.org ESMTP ready\r\n"),
    (C, b"EHLO client.example.com\r\n"),
    (S, b"250-mx.example.org greets client.example.com\r\n250 ENHANCEDSTATUSCODES\r\n"),
    (C, b"MAIL FROM:<alice@example.com>\r\n"),
    (S, b"421 4.3.2 mx.example.org Service shutting down, closing transmission channel\r\n"),
]

# --- TCP conversations ----------------------------------------------------------


class Seg:
    """One TCP segment: who sent it, its header fields and payload."""

    def __init__(self, ts, side, seq, ack, flags, payload=b""):
        self.ts, self.side, self.seq, self.ack = ts, side, seq, ack
        self.flags, self.payload = flags, payload


class Conv:
    """A TCP conversation built segment by segment, client side first."""

    def __init__(self, client, server, isn=(0x1A2B3C4D, 0x5E6F7081), t0=0.0,
                 mss=1460):
        self.addr = (client, server)  # each (ip, port)
        self.nxt = [isn[0] & 0xFFFFFFFF, isn[1] & 0xFFFFFFFF]
        self.t = t0
        self.mss = mss
        self.segs = []

    def _seg(self, side, flags, payload=b"", dt=0.0001):
        self.t += dt
        s = Seg(self.t, side, self.nxt[side], self.nxt[1 - side], flags, payload)
        self.segs.append(s)
        self.nxt[side] = (self.nxt[side] + len(payload) +
                          (1 if ("S" in flags or "F" in flags) else 0)) & 0xFFFFFFFF
        return s

    def handshake(self):
        self._seg(C, "S")
        self._seg(S, "SA")
        self._seg(C, "A")
        return self

    def send(self, side, data, mss=None, ack=True, dt=0.002):
        """Send data in segments of at most mss octets; the peer ACKs."""
        mss = mss or self.mss
        first = True
        for i in range(0, len(data), mss):
            self._seg(side, "PA", data[i:i + mss], dt if first else 0.00002)
            first = False
        if ack:
            self._seg(1 - side, "A", dt=0.00003)
        return self

    def talk(self, dialogue, mss=None):
        for side, data in dialogue:
            self.send(side, data, mss)
        return self

    def close(self, first=S):
        self._seg(first, "FA")
        self._seg(1 - first, "FA")
        self._seg(first, "A")
        return self

    def l3(self, seg, ip_id):
        """The IP packet of a segment, as a scapy packet."""
        src, dst = self.addr[seg.side], self.addr[1 - seg.side]
        tcp = TCP(sport=src[1], dport=dst[1], seq=seg.seq,
                  ack=seg.ack if "A" in seg.flags else 0, flags=seg.flags,
                  window=65535, options=[("MSS", 1460)] if "S" in seg.flags else [])
        if ":" in src[0]:
            return IPv6(src=src[0], dst=dst[0], hlim=64) / tcp / seg.payload
        return IP(src=src[0], dst=dst[0], id=ip_id, ttl=64, flags="DF") / tcp / seg.payload


def packets(conv):
    """(timestamp, side, IP packet) for every segment, IP ids per side."""
    ids = [0x3000, 0x7000]
    out = []
    for seg in conv.segs:
        ids[seg.side] += 1
        out.append((seg.ts, seg.side, conv.l3(seg, ids[seg.side])))
    return out


def delivery(client_port=49152, server=("198.51.100.25", 25),
             client_ip="192.0.2.10", t0=0.0, isn=(0x1A2B3C4D, 0x5E6F7081),
             dialogue=DELIVERY, mss=None, close=True):
    c = Conv((client_ip, client_port), server, isn=isn, t0=t0)
    c.handshake().talk(dialogue, mss)
    return c.close() if close else c


def retime(conv):
    """After segments were moved, give them increasing capture times again."""
    times = sorted(s.ts for s in conv.segs)
    for s, t in zip(conv.segs, times):
        s.ts = t


def insert_late(conv, i, seg, delay):
    """Insert seg at index i, delay seconds after the segment before it;
    everything after it moves later by as much."""
    seg.ts = conv.segs[i - 1].ts + delay
    for later in conv.segs[i:]:
        later.ts += delay
    conv.segs.insert(i, seg)


def find(conv, side, needle):
    """Index of the first segment of side whose payload contains needle."""
    for i, s in enumerate(conv.segs):
        if s.side == side and needle in s.payload:
            return i
    raise KeyError(needle)


# --- link layers ----------------------------------------------------------------

def ether(side, pkt, tags=()):
    src, dst = (CLIENT_MAC, SERVER_MAC) if side == C else (SERVER_MAC, CLIENT_MAC)
    frame = Ether(src=src, dst=dst)
    for tag in tags:
        frame = frame / tag
    return raw(frame / pkt)


def ethertype(pkt):
    return 0x86DD if pkt.haslayer(IPv6) else 0x0800


def link_bytes(linktype, side, pkt, tags=()):
    if linktype == LINKTYPE_ETHERNET:
        return ether(side, pkt, tags)
    if linktype == LINKTYPE_RAW:
        return raw(pkt)
    if linktype == LINKTYPE_NULL:
        # BSD loopback: the address family in the writer's byte order
        # (little-endian here): 2 = AF_INET, 30 = AF_INET6 on macOS.
        return struct.pack("<I", 30 if pkt.haslayer(IPv6) else 2) + raw(pkt)
    mac = CLIENT_MAC if side == C else SERVER_MAC
    # Captured on the client host: its own packets are outgoing (4).
    pkttype = 4 if side == C else 0
    if linktype == LINKTYPE_LINUX_SLL:
        return raw(CookedLinux(pkttype=pkttype, lladdrtype=1, lladdrlen=6,
                               src=bytes.fromhex(mac.replace(":", "")) + b"\0\0",
                               proto=ethertype(pkt)) / pkt)
    if linktype == LINKTYPE_LINUX_SLL2:
        return raw(CookedLinuxV2(proto=ethertype(pkt), ifindex=2, lladdrtype=1,
                                 pkttype=pkttype, lladdrlen=6,
                                 src=bytes.fromhex(mac.replace(":", "")) + b"\0\0") / pkt)
    raise ValueError(linktype)


# --- file writers ---------------------------------------------------------------

def ts_units(ts, exponent):
    """T0 + ts in units of 10^-exponent s, rounded (a double has too few
    digits for nanoseconds since 1970, so T0 is added in decimal)."""
    return int(((T0 + Decimal(repr(ts))) * 10 ** exponent).to_integral_value())


def write_pcap(name, frames, linktype=LINKTYPE_ETHERNET, nsec=False, big=False):
    """frames: (timestamp, bytes).  Classic pcap, either byte order."""
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nsec else 0xA1B2C3D4
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
        for ts, data in frames:
            sec, frac = divmod(ts_units(ts, 9 if nsec else 6), 10 ** (9 if nsec else 6))
            f.write(struct.pack(e + "IIII", sec, frac, len(data), len(data)))
            f.write(data)
    print("wrote", name, len(frames), "frames")


def pcap_of(name, convs, linktype=LINKTYPE_ETHERNET, keep=None, **kw):
    """Write conversations (merged by time) with one link type."""
    frames = []
    for conv in convs:
        for ts, side, pkt in packets(conv):
            if keep is None or keep(side):
                frames.append((ts, link_bytes(linktype, side, pkt)))
    frames.sort(key=lambda f: f[0])
    write_pcap(name, frames, linktype, **kw)


def pcapng_block(btype, body):
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng_option(code, value):
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def write_pcapng(name, interfaces, frames):
    """interfaces: (if_name, tsresol exponent); frames: (ts, if index, bytes)."""
    shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + \
        pcapng_option(4, b"smtpscope make-crafted.py") + pcapng_option(0, b"")
    out = [pcapng_block(0x0A0D0D0A, shb)]
    for ifname, resol in interfaces:
        idb = struct.pack("<HHI", LINKTYPE_ETHERNET, 0, 262144) + \
            pcapng_option(2, ifname.encode()) + pcapng_option(9, bytes([resol])) + \
            pcapng_option(0, b"")
        out.append(pcapng_block(1, idb))
    for ts, ifi, data in frames:
        units = ts_units(ts, interfaces[ifi][1])
        epb = struct.pack("<IIIII", ifi, units >> 32, units & 0xFFFFFFFF,
                          len(data), len(data)) + data
        out.append(pcapng_block(6, epb))
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(b"".join(out))
    print("wrote", name, len(frames), "frames")


# --- the captures ---------------------------------------------------------------

def out_of_order():
    # The message goes out in 536-octet segments; the second and third reach
    # the capture point swapped, and so do the two halves of the EHLO reply.
    conv = delivery(mss=536)
    i = find(conv, C, b"Subject: Minutes")
    conv.segs[i + 1], conv.segs[i + 2] = conv.segs[i + 2], conv.segs[i + 1]
    j = find(conv, S, b"250-mail.example.org")
    ehlo = conv.segs[j]
    half = len(b"250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 20000\r\n")
    second = Seg(ehlo.ts, S, (ehlo.seq + half) & 0xFFFFFFFF, ehlo.ack, "PA",
                 ehlo.payload[half:])
    ehlo.payload = ehlo.payload[:half]
    conv.segs.insert(j, second)
    retime(conv)
    pcap_of("crafted-out-of-order.pcap", [conv])


def retransmission():
    # The RCPT command and a message segment are sent twice; the server's
    # queue-id reply is sent twice; the client sends a TCP keep-alive
    # (one old octet) while waiting for the 250.
    conv = delivery(mss=536)
    for side, needle in ((C, b"RCPT TO:<bob@"), (C, b"05. Item"), (S, b"queued as")):
        i = find(conv, side, needle)
        orig = conv.segs[i]
        insert_late(conv, i + 1, Seg(0, side, orig.seq, orig.ack, "PA", orig.payload),
                    0.21)
    i = find(conv, S, b"queued as")
    reply = conv.segs[i]
    insert_late(conv, i, Seg(0, C, (reply.ack - 1) & 0xFFFFFFFF, reply.seq, "A", b"\n"),
                0.5)
    pcap_of("crafted-retransmission.pcap", [conv])


def overlap_conflict():
    # The RCPT segment is "retransmitted" with different bytes over part of
    # its sequence range (bob -> eve); the DATA command is partly sent again
    # with the same bytes (a consistent overlap).
    conv = delivery()
    i = find(conv, C, b"RCPT TO:<bob@")
    orig = conv.segs[i]
    off = orig.payload.index(b"bob")
    conv.segs.insert(i + 1, Seg(orig.ts, C, (orig.seq + off) & 0xFFFFFFFF, orig.ack,
                                "PA", b"eve@example.org>\r\n"))
    j = find(conv, C, b"DATA\r\n")
    d = conv.segs[j]
    conv.segs.insert(j + 1, Seg(d.ts, C, (d.seq + 2) & 0xFFFFFFFF, d.ack, "PA",
                                b"TA\r\n"))
    retime(conv)
    pcap_of("crafted-overlap-conflict.pcap", [conv])


def gap_in_data():
    # The capture lost the third segment of the message; the server got it
    # (it ACKs everything) and queued the message.
    conv = delivery(mss=536)
    i = find(conv, C, b"Subject: Minutes")
    del conv.segs[i + 2]
    pcap_of("crafted-gap-in-data.pcap", [conv])


def gap_in_pipeline():
    # A pipelining client sends MAIL, two RCPTs and DATA as four segments;
    # the capture lost the second RCPT.  The server's four replies arrive in
    # one segment.
    d = DELIVERY
    dialogue = d[:3] + [(C, b"MAIL FROM:<alice@example.com>\r\n"),
                        (C, b"RCPT TO:<bob@example.org>\r\n"),
                        (C, b"RCPT TO:<nosuchuser@example.org>\r\n"),
                        (C, b"DATA\r\n"),
                        (S, b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n" + d[8][1] + d[10][1])] + d[11:]
    conv = Conv(("192.0.2.10", 49153), ("198.51.100.25", 25))
    conv.handshake()
    for side, data in dialogue:
        conv.send(side, data, ack=(side == S or data == b"DATA\r\n" or len(data) > 100),
                  dt=0.0002)
    conv.close()
    del conv.segs[find(conv, C, b"RCPT TO:<nosuchuser@")]
    pcap_of("crafted-gap-in-pipeline.pcap", [conv])


def seq_wraparound():
    # Both initial sequence numbers sit just below 2^32: the server's
    # sequence numbers wrap inside the EHLO reply, the client's inside the
    # message.
    conv = delivery(isn=(0xFFFFFFFF - 400, 0xFFFFFFFF - 120), mss=536)
    pcap_of("crafted-seq-wraparound.pcap", [conv])


def mid_conversation():
    # Capture started while the client was between its two RCPT commands.
    conv = delivery()
    i = find(conv, C, b"RCPT TO:<nosuchuser@")
    conv.segs = conv.segs[i:]
    pcap_of("crafted-mid-conversation.pcap", [conv])


def one_sided():
    conv = delivery()
    pcap_of("crafted-server-side-only.pcap", [conv], keep=lambda side: side == S)
    pcap_of("crafted-client-side-only.pcap", [conv], keep=lambda side: side == C)


def vlans():
    conv = delivery()
    for name, tags in (("crafted-vlan.pcap", [Dot1Q(vlan=100)]),
                       ("crafted-qinq.pcap", [Dot1AD(vlan=200), Dot1Q(vlan=100)])):
        frames = [(ts, ether(side, pkt, [t.copy() for t in tags]))
                  for ts, side, pkt in packets(conv)]
        write_pcap(name, frames)


def cooked_raw_null():
    v4 = delivery()
    v6 = delivery(client_ip="2001:db8::10", server=("2001:db8:1::25", 25),
                  client_port=49160, t0=1.0, dialogue=EXIM_DELIVERY)
    pcap_of("crafted-linux-sll.pcap", [v4, v6], LINKTYPE_LINUX_SLL)
    pcap_of("crafted-linux-sll2.pcap", [v4, v6], LINKTYPE_LINUX_SLL2)
    pcap_of("crafted-raw-ip.pcap", [v4, v6], LINKTYPE_RAW)
    pcap_of("crafted-null-loopback.pcap", [v4, v6], LINKTYPE_NULL)
    # The same conversations, big-endian with nanosecond timestamps.
    pcap_of("crafted-big-endian-nsec.pcap", [v4, v6], nsec=True, big=True)


def ipv4_fragments():
    # Every client segment over 300 octets is sent as IPv4 fragments of at
    # most 256 octets of payload; the fragments of the message segment
    # arrive last-first.
    conv = delivery()
    frames = []
    t = 0.0
    for ts, side, pkt in packets(conv):
        ts = max(ts, t + 0.00001)
        pkt[IP].flags = 0
        if side == C and len(pkt[TCP].payload) > 300:
            frags = fragment(pkt, fragsize=256)
            if BODY[:40] in raw(pkt[TCP].payload):
                frags.reverse()
            for k, fr in enumerate(frags):
                t = ts + k * 0.00001
                frames.append((t, ether(side, fr)))
        else:
            t = ts
            frames.append((ts, ether(side, pkt)))
    write_pcap("crafted-ipv4-fragments.pcap", frames)


def multi_interface():
    # Two interfaces with Ethernet links: eth0 (microsecond timestamps)
    # carries a Postfix delivery, eth1 (nanosecond timestamps) an Exim
    # delivery from another client at the same time.
    a = delivery()
    b = delivery(client_ip="192.0.2.11", server=("198.51.100.26", 25),
                 client_port=50001, t0=0.0031, dialogue=EXIM_DELIVERY,
                 isn=(0x01020304, 0x0A0B0C0D))
    frames = [(ts, 0, ether(side, pkt)) for ts, side, pkt in packets(a)]
    frames += [(ts, 1, ether(side, pkt)) for ts, side, pkt in packets(b)]
    frames.sort(key=lambda f: f[0])
    write_pcapng("crafted-multi-interface.pcapng", [("eth0", 6), ("eth1", 9)], frames)


def all_reply_codes():
    main = delivery(dialogue=ALL_CODES, server=("198.51.100.30", 25))
    # The server closes right after its 421.
    bye = delivery(dialogue=ALL_CODES_421, server=("198.51.100.30", 25),
                   client_port=49200, t0=main.t + 1, close=False).close(first=S)
    pcap_of("crafted-all-reply-codes.pcap", [main, bye])


def unusual_port():
    conv = delivery(server=("198.51.100.25", 10025), client_port=49170)
    pcap_of("crafted-port-10025.pcap", [conv])


if __name__ == "__main__":
    for make in (out_of_order, retransmission, overlap_conflict, gap_in_data,
                 gap_in_pipeline, seq_wraparound, mid_conversation, one_sided,
                 vlans, cooked_raw_null, ipv4_fragments, multi_interface,
                 all_reply_codes, unusual_port):
        make()
