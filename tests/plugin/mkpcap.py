#!/usr/bin/env python3
"""Write small SMTP captures for the plugin tests (standard library only).

Each scenario is a TCP conversation: handshake, the listed segments (client
or server payload), then FIN from both sides.  Segments may be sent out of
order or retransmitted to exercise reassembly.  Checksums are correct.

    mkpcap.py OUTDIR          writes every scenario as OUTDIR/<name>.pcap
"""
import os
import struct
import sys

CLIENT = ("10.0.0.1", 40001)
SERVER_IP = "10.0.0.2"


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _ip(addr):
    return bytes(int(x) for x in addr.split("."))


def _frame(src, dst, sport, dport, seq, ack, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      5 << 4, flags, 65535, 0, 0)
    pseudo = _ip(src) + _ip(dst) + struct.pack("!BBH", 0, 6, len(tcp) + len(payload))
    tcp = tcp[:16] + struct.pack("!H", _csum(pseudo + tcp + payload)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload), 1, 0x4000, 64, 6, 0,
                     _ip(src), _ip(dst))
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    eth = b"\x00\x00\x00\x00\x00\x02" + b"\x00\x00\x00\x00\x00\x01" + b"\x08\x00"
    return eth + ip + tcp + payload


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Conversation:
    """Builds the frames of one TCP conversation between CLIENT and a server port."""

    def __init__(self, port, client_port=CLIENT[1], t0=1700000000.0):
        self.port = port
        self.cport = client_port
        self.seq = {0: 1000, 1: 5000}      # next sequence number per side (0 client)
        self.t = t0
        self.frames = []                    # (time, bytes)
        self.pending = []                   # segments held back to send out of order

    def _emit(self, side, flags, payload, seq=None):
        self.t += 0.01
        src, dst = (CLIENT[0], SERVER_IP) if side == 0 else (SERVER_IP, CLIENT[0])
        sport, dport = (self.cport, self.port) if side == 0 else (self.port, self.cport)
        s = self.seq[side] if seq is None else seq
        ack = self.seq[1 - side] if flags & ACK else 0
        self.frames.append((self.t, _frame(src, dst, sport, dport, s, ack, flags, payload)))

    def handshake(self):
        self._emit(0, SYN, b"")
        self.seq[0] += 1
        self._emit(1, SYN | ACK, b"")
        self.seq[1] += 1
        self._emit(0, ACK, b"")
        return self

    def send(self, side, data, hold=False, retransmit=False):
        """Send `data` from side 0 (client) or 1 (server).  hold: keep it to
        send later with flush_held(), after what follows; retransmit: send the
        same segment twice."""
        data = data.encode() if isinstance(data, str) else data
        seq = self.seq[side]
        self.seq[side] += len(data)
        if hold:
            self.pending.append((side, data, seq))
            return self
        self._emit(side, PSH | ACK, data, seq)
        if retransmit:
            self._emit(side, PSH | ACK, data, seq)
        return self

    def flush_held(self):
        for side, data, seq in self.pending:
            self._emit(side, PSH | ACK, data, seq)
        self.pending = []
        return self

    def c(self, data, **kw):
        return self.send(0, data, **kw)

    def s(self, data, **kw):
        return self.send(1, data, **kw)

    def close(self):
        self._emit(0, FIN | ACK, b"")
        self.seq[0] += 1
        self._emit(1, FIN | ACK, b"")
        self.seq[1] += 1
        self._emit(0, ACK, b"")
        return self


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t, data in frames:
            sec = int(t)
            usec = int(round((t - sec) * 1e6))
            f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
            f.write(data)


GREETING = "220 mail.example.org ESMTP ready\r\n"
EHLO_REPLY = ("250-mail.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
              "250-STARTTLS\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 CHUNKING\r\n")
MESSAGE = ("From: alice@example.com\r\nTo: bob@example.org\r\nSubject: plugin test\r\n"
           "Message-ID: <t1@example.com>\r\n\r\nHello Bob.\r\n..leading dot line\r\n")


def opening(conv):
    return conv.handshake().s(GREETING).c("EHLO client.example.com\r\n").s(EHLO_REPLY)


def rejected_data():
    """Built-in SMTP failure 1: after a refused DATA later commands are commands."""
    conv = opening(Conversation(25))
    conv.c("MAIL FROM:<alice@example.com>\r\n").s("250 2.1.0 Ok\r\n")
    conv.c("RCPT TO:<nobody@example.org>\r\n").s("550 5.1.1 <nobody@example.org>: User unknown\r\n")
    conv.c("DATA\r\n").s("554 5.5.1 Error: no valid recipients\r\n")
    conv.c("RSET\r\n").s("250 2.0.0 Ok\r\n")
    conv.c("NOOP\r\n").s("250 2.0.0 Ok\r\n")
    conv.c("QUIT\r\n").s("221 2.0.0 Bye\r\n")
    return conv.close()


def dot_then_command():
    """Built-in SMTP failure 2: a command after the final dot in the same segment."""
    conv = opening(Conversation(587))
    conv.c("MAIL FROM:<alice@example.com>\r\n").s("250 2.1.0 Ok\r\n")
    conv.c("RCPT TO:<bob@example.org>\r\n").s("250 2.1.5 Ok\r\n")
    conv.c("DATA\r\n").s("354 End data with <CR><LF>.<CR><LF>\r\n")
    conv.c(MESSAGE)
    conv.c(".\r\nQUIT\r\n")
    conv.s("250 2.0.0 Ok: queued as 4XyZ12\r\n221 2.0.0 Bye\r\n")
    return conv.close()


def bdat_same_segment():
    """Built-in SMTP failure 3: BDAT with its chunk in the same segment."""
    body = MESSAGE.replace("..leading", ".leading")
    conv = opening(Conversation(2525))
    conv.c("MAIL FROM:<alice@example.com>\r\n").s("250 2.1.0 Ok\r\n")
    conv.c("RCPT TO:<bob@example.org>\r\n").s("250 2.1.5 Ok\r\n")
    conv.c("BDAT %d LAST\r\n%s" % (len(body), body))
    conv.s("250 2.0.0 Ok: queued as 5BdAt7\r\n")
    conv.c("QUIT\r\n").s("221 2.0.0 Bye\r\n")
    return conv.close()


def pipelined_anomaly():
    """Pipelined commands in one segment, and a RCPT without MAIL."""
    conv = opening(Conversation(25))
    conv.c("RCPT TO:<bob@example.org>\r\n").s("503 5.5.1 Error: need MAIL command\r\n")
    conv.c("MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n"
           "RCPT TO:<nobody@example.org>\r\nDATA\r\n")
    conv.s("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.org>: User unknown\r\n"
           "354 End data with <CR><LF>.<CR><LF>\r\n")
    conv.c(MESSAGE + ".\r\n").s("250 2.0.0 Ok: queued as 9PiPe1\r\n")
    conv.c("QUIT\r\n").s("221 2.0.0 Bye\r\n")
    return conv.close()


def heuristic_port():
    """SMTP on a port nobody registered: found by the heuristic."""
    conv = opening(Conversation(10025))
    conv.c("QUIT\r\n").s("221 2.0.0 Bye\r\n")
    return conv.close()


def _session(conv, shuffle):
    """A delivery whose client segments are split, retransmitted and, when
    `shuffle`, sent out of order."""
    conv = opening(conv)
    conv.c("MAIL FROM:<alice@example.com>\r\n").s("250 2.1.0 Ok\r\n")
    conv.c("RCPT TO:<bo", hold=shuffle)
    conv.c("b@example.org>\r\n")
    if shuffle:
        conv.flush_held()
    conv.s("250 2.1.5 Ok\r\n")
    conv.c("DATA\r\n", retransmit=shuffle).s("354 go ahead\r\n")
    conv.c(MESSAGE[:40], hold=shuffle)
    conv.c(MESSAGE[40:] + ".\r\n")
    if shuffle:
        conv.flush_held()
    conv.s("250 2.0.0 Ok: queued as 0rDeR1\r\n", retransmit=shuffle)
    conv.c("QUIT\r\n").s("221 2.0.0 Bye\r\n")
    return conv.close()


def in_order():
    return _session(Conversation(25), False)


def out_of_order():
    return _session(Conversation(25), True)


def starttls():
    """STARTTLS accepted: the following bytes belong to TLS."""
    conv = opening(Conversation(25))
    conv.c("STARTTLS\r\n").s("220 2.0.0 Ready to start TLS\r\n")
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x00\x2f" + b"\x01\x00"
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body
    hello = b"\x16\x03\x01" + len(handshake).to_bytes(2, "big") + handshake
    conv.c(hello)
    return conv.close()


SCENARIOS = {
    "rejected_data": rejected_data,
    "dot_then_command": dot_then_command,
    "bdat_same_segment": bdat_same_segment,
    "pipelined_anomaly": pipelined_anomaly,
    "heuristic_port": heuristic_port,
    "in_order": in_order,
    "out_of_order": out_of_order,
    "starttls": starttls,
}


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    os.makedirs(argv[1], exist_ok=True)
    for name, build in SCENARIOS.items():
        write_pcap(os.path.join(argv[1], name + ".pcap"), build().frames)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
