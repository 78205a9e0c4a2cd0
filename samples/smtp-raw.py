#!/usr/bin/python3
"""Raw-socket SMTP client for smtpscope's sample captures.

It plays one named scenario against a server: the misbehaving sessions a
well-written client (swaks, msmtp, smtplib) never produces -- early talkers,
out-of-sequence commands, commands after QUIT, BDAT chunks, sessions cut off
mid-DATA.  A scenario is a list of steps:

  ("send", bytes)     write the bytes as one write (so as one TCP segment here)
  ("reply", n)        read n complete replies (multi-line replies count once)
  ("body", bytes)     if the last reply was 354, send the bytes and read
                      the reply to them; otherwise do nothing
  ("sleep", seconds)  pause
  ("tls",)            start TLS on the connection (no certificate check)
  ("rst",)            abort the connection with a TCP RST and stop

A session connects, reads the greeting (unless the scenario is an early
talker), runs its steps, then reads until the server closes (or a short
timeout) and closes with a FIN.

Usage: smtp-raw.py [--host H] [--port P] SCENARIO
"""
import argparse
import socket
import ssl
import struct
import sys
import time

HELO = b"client.example.com"
FROM = b"alice@example.com"


def message(subject, body=b"Hello.\r\n", to=b"alice@example.org"):
    """A small RFC 5322 message with CRLF line ends, already dot-stuffed."""
    return (b"From: Alice <" + FROM + b">\r\n"
            b"To: <" + to + b">\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Date: Sun, 22 Nov 2026 13:00:00 +0000\r\n"
            b"Message-ID: <" + subject.replace(b" ", b".").lower() +
            b"@client.example.com>\r\n"
            b"\r\n" + body)


def cmd(line):
    return ("send", line + b"\r\n")


def ok(line, n=1):
    """Send a command and read its reply (or n replies)."""
    return [cmd(line), ("reply", n)]


def transaction(to=b"alice@example.org", subject=b"Test"):
    return (ok(b"MAIL FROM:<" + FROM + b">") + ok(b"RCPT TO:<" + to + b">") +
            ok(b"DATA") +
            [("send", message(subject, to=to) + b".\r\n"), ("reply", 1)])


SCENARIOS = {
    # RCPT before MAIL, DATA before RCPT, MAIL twice, MAIL before EHLO.
    "out-of-sequence": (
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"EHLO " + HELO) +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"DATA") +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"DATA") +
        [("send", message(b"Out of sequence") + b".\r\n"), ("reply", 1)] +
        ok(b"QUIT")),

    # The README demo: a rejected recipient, DATA with no valid recipient,
    # RCPT outside a transaction, then a delivery with one recipient refused.
    "demo": (
        ok(b"EHLO " + HELO) +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<nosuchuser@example.org>") +
        ok(b"DATA") +
        ok(b"RSET") +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"RCPT TO:<nosuchuser@example.org>") +
        ok(b"DATA") +
        [("send", message(b"Quarterly report") + b".\r\n"), ("reply", 1)] +
        ok(b"QUIT")),

    # Unknown verbs and bad syntax for known ones.
    "bad-commands": (
        ok(b"EHLO") +
        ok(b"EHLO " + HELO) +
        ok(b"XYZZY") +
        ok(b"MAIL FROM alice@example.com") +
        ok(b"MAIL FROM:<" + FROM + b"> FROBNICATE=yes") +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:") +
        ok(b"RCPT TO:<alice@example.org") +
        ok(b"RSET") +
        ok(b"mail from:<" + FROM + b">") +
        ok(b"rcpt to:<alice@example.org>") +
        ok(b"RSET") +
        ok(b"QUIT")),

    "vrfy-expn-help": (
        ok(b"EHLO " + HELO) +
        ok(b"HELP") +
        ok(b"HELP MAIL") +
        ok(b"VRFY alice@example.org") +
        ok(b"VRFY nosuchuser@example.org") +
        ok(b"EXPN staff@example.org") +
        ok(b"NOOP") +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RSET") +
        ok(b"NOOP") +
        ok(b"QUIT")),

    # 30 000 octets of body with no SIZE= declared: refused at the final dot.
    "too-large-data": (
        ok(b"EHLO " + HELO) +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"DATA") +
        [("send", message(b"Big attachment",
                          b"".join(b"%05d " % i + b"x" * 68 + b"\r\n"
                                   for i in range(400))) + b".\r\n"),
         ("reply", 1)] +
        ok(b"QUIT")),

    # The client speaks before the server's greeting, then pipelines the
    # whole transaction without waiting for EHLO's reply.
    "early-talker": (
        [("early",), cmd(b"EHLO " + HELO), ("reply", 2),
         ("send", b"MAIL FROM:<" + FROM + b">\r\n"
                  b"RCPT TO:<alice@example.org>\r\n"), ("reply", 2)] +
        ok(b"DATA") + [("body", message(b"Early talker") + b".\r\n")] +
        ok(b"QUIT")),

    # QUIT with more commands pipelined behind it, then more after the 221.
    "after-quit": (
        ok(b"EHLO " + HELO) +
        [("send", b"QUIT\r\nNOOP\r\nMAIL FROM:<" + FROM + b">\r\n"),
         ("reply", 1), ("sleep", 0.2),
         ("send", b"RSET\r\n")]),

    # CHUNKING: two chunks then BDAT 0 LAST; then a one-chunk message with
    # the command and its data in one segment; then BDAT with no transaction.
    "bdat": (
        ok(b"EHLO " + HELO) +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<alice@example.org>") +
        [("bdat", message(b"Chunked one", b"First part.\r\n"), False),
         ("bdat", b"Second part, chunk two.\r\n.\r\n..dots stay as they are\r\n",
          False),
         ("bdat", b"", True)] +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<bob@example.org>") +
        [("bdat", message(b"Chunked two", b"Single chunk.\r\n",
                          to=b"bob@example.org"), True)] +
        [("bdat", b"late\r\n", True)] +
        ok(b"QUIT")),

    # The connection is reset half-way through the message text.
    "cut-mid-data": (
        ok(b"EHLO " + HELO) +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"DATA") +
        [("send", message(b"Cut off", b"This line arrives.\r\nThis one is c")),
         ("sleep", 0.3), ("rst",)]),

    # AUTH PLAIN (alice@example.org / secret) on a plaintext session.
    "auth-plain": (
        ok(b"EHLO " + HELO) +
        ok(b"AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==") +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<bob@example.org>") +
        ok(b"QUIT")),

    # STARTTLS with a plaintext command behind it in the same segment (the
    # CVE-2011-0411 injection pattern); then the TLS handshake and a session
    # inside TLS.
    "starttls-injection": (
        ok(b"EHLO " + HELO) +
        [("send", b"STARTTLS\r\nRSET\r\n"), ("reply", 1), ("tls",)] +
        ok(b"EHLO " + HELO) +
        ok(b"QUIT")),

    # SMTP smuggling: the message ends with a bare LF before the dot
    # ("\n.\r\n") and a second transaction follows in the same write; a
    # server that takes a bare LF as a line end sees two messages.
    "smuggling": (
        ok(b"EHLO " + HELO) +
        ok(b"MAIL FROM:<" + FROM + b">") +
        ok(b"RCPT TO:<alice@example.org>") +
        ok(b"DATA") +
        [("send", message(b"Harmless") + b"\n.\r\n"
                  b"MAIL FROM:<ceo@example.org>\r\n"
                  b"RCPT TO:<bob@example.org>\r\n"
                  b"DATA\r\n"
                  b"From: CEO <ceo@example.org>\r\n"
                  b"Subject: Smuggled\r\n\r\nPay the invoice.\r\n"
                  b".\r\n"),
         ("reply", 1), ("sleep", 0.5)] +
        ok(b"QUIT")),

    # Errors until the server gives up with 421.
    "too-many-errors": (
        ok(b"EHLO " + HELO) +
        [step for i in range(16) for step in ok(b"BOGUS%d" % i)]),

    # Several commands in one segment without PIPELINING being announced
    # (HELO session), answered in order.
    "helo-pipelined": (
        ok(b"HELO " + HELO) +
        [("send", b"MAIL FROM:<" + FROM + b">\r\nRCPT TO:<alice@example.org>\r\n"),
         ("reply", 2)] + ok(b"DATA") +
        [("send", message(b"Unannounced pipelining") + b".\r\nQUIT\r\n"),
         ("reply", 2)]),
}


class Session:
    def __init__(self, host, port):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(10)
        self.sock.connect((host, port))
        self.buf = b""
        self.last = b""

    def read_reply(self):
        """Read one complete (possibly multi-line) reply; None on EOF."""
        while True:
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                sys.stdout.write("S: %s\n" % line.decode("latin-1").rstrip())
                if len(line) < 4 or line[3:4] != b"-":
                    self.last = line
                    return line
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def send(self, data):
        shown = data if len(data) < 200 else data[:200] + b"..."
        for line in shown.decode("latin-1").splitlines():
            sys.stdout.write("C: %s\n" % line)
        self.sock.sendall(data)

    def drain_and_close(self):
        self.sock.settimeout(2)
        try:
            while self.read_reply() is not None:
                pass
        except (socket.timeout, ConnectionResetError):
            pass
        self.sock.close()

    def start_tls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        self.buf = b""

    def reset(self):
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        self.sock.close()


def run(host, port, steps):
    s = Session(host, port)
    if not (steps and steps[0][0] == "early"):
        s.read_reply()
    for step in steps:
        kind = step[0]
        if kind == "send":
            try:
                s.send(step[1])
            except (BrokenPipeError, ConnectionResetError):
                break
        elif kind == "reply":
            for _ in range(step[1]):
                if s.read_reply() is None:
                    break
        elif kind == "bdat":
            chunk, last = step[1], step[2]
            s.send(b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"")
                   + chunk)
            s.read_reply()
        elif kind == "body":
            if s.last.startswith(b"354"):
                s.send(step[1])
                s.read_reply()
        elif kind == "sleep":
            time.sleep(step[1])
        elif kind == "tls":
            s.start_tls()
        elif kind == "rst":
            s.reset()
            return
    s.drain_and_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    run(args.host, args.port, SCENARIOS[args.scenario])


if __name__ == "__main__":
    main()
