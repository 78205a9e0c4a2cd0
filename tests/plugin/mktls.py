#!/usr/bin/env python3
"""Write SMTP-over-TLS captures with a key log, for the plugin's TLS checks.

Real TLS between two in-memory ssl.SSLObject ends (Python's ssl module and a
throw-away self-signed certificate from the openssl command), recorded as a
TCP conversation by mkpcap.Conversation:

  implicit_tls  port 465, TLS from the first byte
  starttls      port 25, greeting/EHLO/STARTTLS in clear, the rest in TLS

    mktls.py OUTDIR     writes OUTDIR/<name>.pcap and OUTDIR/keys.log
"""
import os
import shutil
import ssl
import subprocess
import sys

import mkpcap


def make_cert(outdir):
    key, cert = os.path.join(outdir, "key.pem"), os.path.join(outdir, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=mail.example.org", "-days", "2", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return key, cert


class TlsPair:
    """A client and a server SSLObject whose records go into `conv`."""

    def __init__(self, conv, key, cert, keylog):
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.load_cert_chain(cert, key)
        cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        cctx.check_hostname = False
        cctx.verify_mode = ssl.CERT_NONE
        cctx.keylog_filename = keylog
        self.conv = conv
        self.bio = {0: (ssl.MemoryBIO(), ssl.MemoryBIO()), 1: (ssl.MemoryBIO(), ssl.MemoryBIO())}
        self.end = {0: cctx.wrap_bio(*self.bio[0], server_side=False),
                    1: sctx.wrap_bio(*self.bio[1], server_side=True)}

    def _pump(self, side):
        """Send what `side` has written as one segment, into the peer."""
        data = self.bio[side][1].read()
        if data:
            self.conv.send(side, data)
            self.bio[1 - side][0].write(data)
        return bool(data)

    def handshake(self):
        done = {0: False, 1: False}
        while not (done[0] and done[1]):
            for side in (0, 1):
                if not done[side]:
                    try:
                        self.end[side].do_handshake()
                        done[side] = True
                    except ssl.SSLWantReadError:
                        pass
                self._pump(side)
        return self

    def send(self, side, text):
        self.end[side].write(text.encode())
        self._pump(side)
        # Let the peer read it (TLS 1.3 tickets and the like ride along).
        try:
            self.end[1 - side].read(65536)
        except ssl.SSLWantReadError:
            pass
        self._pump(1 - side)
        return self


def session(tls, greet):
    if greet:
        tls.send(1, mkpcap.GREETING)
    tls.send(0, "EHLO client.example.com\r\n")
    tls.send(1, "250-mail.example.org\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n")
    tls.send(0, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n")
    tls.send(1, "235 2.7.0 Authentication successful\r\n")
    tls.send(0, "MAIL FROM:<alice@example.com>\r\n")
    tls.send(1, "250 2.1.0 Ok\r\n")
    tls.send(0, "RCPT TO:<bob@example.org>\r\n")
    tls.send(1, "250 2.1.5 Ok\r\n")
    tls.send(0, "DATA\r\n")
    tls.send(1, "354 go ahead\r\n")
    tls.send(0, mkpcap.MESSAGE + ".\r\n")
    tls.send(1, "250 2.0.0 Ok: queued as T1s0K\r\n")
    tls.send(0, "QUIT\r\n")
    tls.send(1, "221 2.0.0 Bye\r\n")


def implicit_tls(key, cert, keylog):
    conv = mkpcap.Conversation(465).handshake()
    session(TlsPair(conv, key, cert, keylog).handshake(), True)
    return conv.close()


def starttls(key, cert, keylog):
    conv = mkpcap.opening(mkpcap.Conversation(25, client_port=40002))
    conv.c("STARTTLS\r\n").s("220 2.0.0 Ready to start TLS\r\n")
    session(TlsPair(conv, key, cert, keylog).handshake(), False)
    return conv.close()


def write_all(outdir):
    """Write both captures and keys.log into outdir; returns their paths,
    or None when the openssl command is missing."""
    if not shutil.which("openssl"):
        return None
    key, cert = make_cert(outdir)
    keylog = os.path.join(outdir, "keys.log")
    paths = {"keylog": keylog}
    for name, build in (("implicit_tls", implicit_tls), ("starttls_tls", starttls)):
        paths[name] = os.path.join(outdir, name + ".pcap")
        mkpcap.write_pcap(paths[name], build(key, cert, keylog).frames)
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(2)
    os.makedirs(sys.argv[1], exist_ok=True)
    sys.exit(0 if write_all(sys.argv[1]) else 77)
