#!/usr/bin/env python3
"""make-seeds.py -- write the seed corpora of the fuzz targets.

Usage: make-seeds.py OUTDIR [CAPTURE...]

Writes OUTDIR/engine/*, OUTDIR/reasm/* and OUTDIR/pcapd/* in the input
layouts that fuzz_engine.c, fuzz_reasm.c and fuzz_pcapd.c document:
  - engine: hand-written SMTP dialogs covering every feature the engine
    knows (pipelining, DATA, BDAT, AUTH, STARTTLS, gaps, TURN, limits), and
    the TCP conversations of every CAPTURE (payloads read with tshark);
  - reasm:  in-order, reordered, retransmitted, overlapping, wrapping and
    flooding segment patterns;
  - pcapd:  the first 16 KB of every CAPTURE (whole if smaller) behind an
    options byte that cycles through the text, NDJSON and CSV reports.
Only the standard library and tshark (for captures) are used.
"""
import os
import struct
import subprocess
import sys

CLIENT, SERVER = 0, 1
OPT_MIDSTREAM, OPT_REVEAL, OPT_DIFF = 0x01, 0x02, 0x40


def engine_input(chunks, opts=OPT_DIFF):
    """chunks: (dir, bytes) feeds, or ('gap', dir, n) gaps."""
    out = bytearray([opts])
    for c in chunks:
        if c[0] == 'gap':
            out += bytes([0xF0 | c[1]]) + struct.pack('>H', c[2])
        else:
            d, data = c
            for k in range(0, len(data), 0xFFFF):
                piece = data[k:k + 0xFFFF]
                out += bytes([d | 0x02]) + struct.pack('>H', len(piece)) + piece
    return bytes(out)


def c(s):
    return (CLIENT, s.encode() if isinstance(s, str) else s)


def s(t):
    return (SERVER, t.encode() if isinstance(t, str) else t)


EHLO_REPLY = ('250-mx.example.org Hello client.example.com\r\n250-SIZE 10240000\r\n'
              '250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n'
              '250-AUTH PLAIN LOGIN XOAUTH2\r\n250-STARTTLS\r\n250-DSN\r\n250-SMTPUTF8\r\n'
              '250 CHUNKING\r\n')
GREET = s('220 mx.example.org ESMTP ready\r\n')
BODY = ('From: a@example.com\r\nTo: b@example.org\r\nSubject: seed message\r\n'
        'Message-ID: <1@example.com>\r\n\r\nHello.\r\n..dot-stuffed line\r\n.\r\n')

DIALOGS = {
    'delivery': [GREET, c('EHLO client.example.com\r\n'), s(EHLO_REPLY),
                 c('MAIL FROM:<a@example.com> SIZE=200 BODY=8BITMIME\r\n'), s('250 2.1.0 Ok\r\n'),
                 c('RCPT TO:<b@example.org> NOTIFY=SUCCESS\r\n'), s('250 2.1.5 Ok\r\n'),
                 c('DATA\r\n'), s('354 End data with <CR><LF>.<CR><LF>\r\n'), c(BODY),
                 s('250 2.0.0 Ok: queued as 4XyZ12\r\n'), c('QUIT\r\n'), s('221 2.0.0 Bye\r\n')],
    'sequence': [s('220 old.example.org SMTP\r\n'), c('RCPT TO:<x@example.org>\r\n'),
                 s('503 5.5.1 Error: need MAIL command\r\n'), c('HELO client\r\n'), s('250 old.example.org\r\n'),
                 c('XYZZY\r\n'), s('500 5.5.2 Error: command not recognized\r\n'),
                 c('VRFY root\r\n'), s('252 2.0.0 root\r\n'), c('EXPN staff\r\n'), s('550 5.7.1 Access denied\r\n'),
                 c('HELP\r\n'), s('214-Commands:\r\n214-HELO MAIL RCPT DATA\r\n214 End\r\n'),
                 c('NOOP\r\n'), s('250 2.0.0 Ok\r\n'), c('RSET\r\n'), s('250 2.0.0 Ok\r\n'),
                 c('DATA\r\n'), s('503 5.5.1 Error: need RCPT command\r\n'),
                 c('MAIL FROM:<>\r\n'), s('250 Ok\r\n'), c('MAIL FROM:<>\r\n'), s('503 nested MAIL\r\n'),
                 c('QUIT\r\n'), s('221 Bye\r\n'), c('NOOP\r\n')],
    'pipelined': [GREET, c('EHLO c\r\n'), s(EHLO_REPLY),
                  c('MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nRCPT TO:<nobody@example.org>\r\n'
                    'RCPT TO:<later@example.org>\r\nDATA\r\n'),
                  s('250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 <nobody@example.org>: User unknown\r\n'),
                  s('450 4.2.0 <later@example.org>: Recipient address rejected: Greylisted\r\n354 Go ahead\r\n'),
                  c(BODY + 'MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n'),
                  s('250 2.0.0 Ok: queued as ABC\r\n250 Ok\r\n250 Ok\r\n554 5.5.1 Error: no valid recipients\r\n'),
                  c('RSET\r\nQUIT\r\n'), s('250 Ok\r\n221 Bye\r\n')],
    'bdat': [GREET, c('EHLO c\r\n'), s(EHLO_REPLY), c('MAIL FROM:<a@example.com>\r\n'), s('250 Ok\r\n'),
             c('RCPT TO:<b@example.org>\r\n'), s('250 Ok\r\n'), c('BDAT 12\r\nSubject: x\r\n'),
             s('250 2.0.0 12 octets received\r\n'), c('BDAT 5 LAST\r\n'), c('\r\nhi\r\n'),
             s('250 2.0.0 Ok: queued as BD1\r\n'), c('MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.org>\r\n'),
             s('250 Ok\r\n250 Ok\r\n'), c('BDAT 0 LAST\r\n'), s('250 Ok: queued as BD2\r\n'),
             c('MAIL FROM:<a@example.com>\r\n'), s('250 Ok\r\n'), c('BDAT 18446744073709551615\r\n'),
             s('552 5.3.4 Message too big\r\n'), c('BDAT x\r\nDATA\r\n'), s('501 Syntax\r\n503 Bad sequence\r\n'),
             c('QUIT\r\n'), s('221 Bye\r\n')],
    'auth': [GREET, c('EHLO c\r\n'), s(EHLO_REPLY), c('AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n'),
             s('535 5.7.8 Authentication failed\r\n'), c('AUTH LOGIN\r\n'), s('334 VXNlcm5hbWU6\r\n'),
             c('YWxpY2U=\r\n'), s('334 UGFzc3dvcmQ6\r\n'), c('c2VjcmV0\r\n'),
             s('235 2.7.0 Authentication successful\r\n'), c('AUTH XOAUTH2 dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ==\r\n'),
             s('503 5.5.1 Already authenticated\r\n'), c('AUTH CRAM-MD5\r\n'), s('334 PDEyMzQ1QGV4YW1wbGU+\r\n'),
             c('*\r\n'), s('501 5.7.0 Authentication cancelled\r\n'), c('QUIT\r\n'), s('221 Bye\r\n')],
    'starttls': [GREET, c('EHLO c\r\n'), s(EHLO_REPLY), c('STARTTLS\r\nRSET\r\n'), s('220 2.0.0 Ready to start TLS\r\n'),
                 c(b'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' + bytes(range(64))),
                 s(b'\x16\x03\x03\x00\x5d\x02\x00\x00\x59' + bytes(range(90)))],
    'gap': [GREET, c('EHLO c\r\n'), s(EHLO_REPLY), c('MAIL FROM:<a@example.com>\r\n'), s('250 Ok\r\n'),
            c('RCPT TO:<b@example.org>\r\n'), s('250 Ok\r\n'), c('DATA\r\n'), s('354 Go\r\n'),
            c('Subject: lost\r\n\r\nfirst part\r\n'), ('gap', CLIENT, 1460), c('more body\r\n.\r\n'),
            s('250 Ok: queued as G1\r\n'), ('gap', SERVER, 40), c('MAIL FROM:<a@example.com>\r\n'),
            s('250 Ok\r\n'), c('QUIT\r\n'), s('221 Bye\r\n')],
    'midstream': [c('RCPT TO:<b@example.org>\r\n'), s('250 Ok\r\n'), c('DATA\r\n'), s('354 Go\r\n'),
                  c('body\r\n.\r\nQUIT\r\n'), s('250 Ok\r\n221 Bye\r\n')],
    'smuggling': [GREET, c('EHLO c\r\n'), s(EHLO_REPLY), c('MAIL FROM:<a@example.com>\r\n'), s('250 Ok\r\n'),
                  c('RCPT TO:<b@example.org>\r\n'), s('250 Ok\r\n'), c('DATA\r\n'), s('354 Go\r\n'),
                  c('line\n.\nMAIL FROM:<evil@example.com>\r\n.\r\n\r.\r\nbare\rcr\r\n.\r\n'),
                  s('250 Ok\r\n'), c('QUIT\n'), s('221 Bye\n')],
    'greetings': [s('421 4.3.2 Service not available\r\n'), c('EHLO c\r\n'), s('554 5.3.2 No SMTP service\r\n'),
                  c('HELO c\r\n'), s('503 5.5.1 Bad sequence\r\n'), c('QUIT\r\n'), s('221 Bye\r\n')],
    'turn': [s('220 a ESMTP\r\n'), c('EHLO c\r\n'), s('250-a\r\n250-ATRN\r\n250 ETRN\r\n'), c('ETRN example.org\r\n'),
             s('250 Queuing started\r\n'), c('ATRN example.org\r\n'), s('453 You have no mail\r\n'),
             c('TURN\r\n'), s('250 OK\r\n'), s('EHLO a\r\n'), c('250 c\r\n'), s('QUIT\r\n'), c('221 Bye\r\n')],
    'limits': [GREET, c('EHLO ' + 'x' * 600 + '\r\n'), s('250-' + 'y' * 1200 + '\r\n250 ok\r\n'),
               c('NOOP ' + 'z' * 5000 + '\r\n'), s('250 Ok\r\n'),
               s(''.join('250-line %d\r\n' % i for i in range(80)) + '250 end\r\n'),
               c('MAIL FROM:<a@example.com> SIZE=99999999999\r\n'), s('552 5.3.4 too big\r\n'),
               c('\x01\x02\xff\r\n'), s('502 no\r\n'), c('QUIT'), s('221')],
    'weird_replies': [GREET, c('EHLO c\r\n'), s('250-a\r\n251-b\r\n250 c\r\n'), c('NOOP\r\n'),
                      s('250 5.1.1 mismatched enhanced\r\n'), c('NOOP\r\n'), s('hello there\r\n'),
                      s('472 unknown code\r\n'), s('999 out of range\r\n'), s('25\r\n'), c('QUIT\r\n'),
                      s('221 2.0.0 Bye\r\n')],
}

OPTIONS = {'midstream': OPT_MIDSTREAM | OPT_DIFF, 'auth': OPT_REVEAL | OPT_DIFF, 'limits': 0x04 | OPT_DIFF}


def reasm_input(isn, records):
    """records: (op, off, len, flags) with op 0 segment, 4 syn, 5 ack, 6 flush."""
    out = bytearray(struct.pack('>I', isn))
    for op, off, length, flags in records:
        out += bytes([op | flags]) + struct.pack('>i', off)[1:] + struct.pack('>H', length)
    return bytes(out)


def reasm_seeds():
    seg = lambda off, n, fl=0: (0, off, n, fl)
    return {
        'in_order': reasm_input(1000, [(4, -1, 0, 0), seg(0, 100), seg(100, 200), (5, 300, 0, 0),
                                       seg(300, 10, 0x08)]),
        'reordered': reasm_input(5, [(4, -1, 0, 0), seg(100, 100), seg(300, 50), seg(0, 100), seg(200, 100)]),
        'retransmit_overlap': reasm_input(77, [seg(0, 100), seg(0, 100), seg(50, 100), seg(120, 60, 0x10),
                                               seg(180, 0), seg(179, 1)]),
        'wrap': reasm_input(0xFFFFFF00, [(4, 0, 0, 0), seg(1, 200), seg(401, 100), seg(201, 200)]),
        'gap_by_ack': reasm_input(9, [seg(0, 10), seg(500, 10), (5, 600, 0, 0), seg(600, 10)]),
        'flood': reasm_input(3, [seg(0, 1)] + [seg(2 + 2 * i, 1) for i in range(700)] + [(6, 0, 0, 0), seg(0, 5)]),
        'big_hole': reasm_input(3, [seg(0, 10)] + [seg(70000 + 65535 * i, 65535) for i in range(6)]),
        'fin_pending': reasm_input(3, [seg(0, 10), seg(20, 10, 0x08), seg(10, 10), seg(30, 10)]),
    }


def capture_streams(path):
    """TCP payloads of a capture, grouped by stream, in capture order."""
    try:
        out = subprocess.run(['tshark', '-r', path, '-n', '-Y', 'tcp', '-T', 'fields', '-e', 'tcp.stream',
                              '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.flags.syn',
                              '-e', 'tcp.flags.ack', '-e', 'tcp.payload'],
                             capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    streams = {}
    for line in out.splitlines():
        f = line.split('\t')
        if len(f) < 6 or any(',' in x for x in f):
            continue   # tunnels: several TCP layers in one frame
        st = streams.setdefault(f[0], {'client': None, 'chunks': []})
        syn, ack = f[3] in ('1', 'True'), f[4] in ('1', 'True')
        if syn and not ack and st['client'] is None:
            st['client'] = f[1]
        if f[5]:
            st['chunks'].append((f[1], f[2], bytes.fromhex(f[5].replace(':', ''))))
    result = {}
    for sid, st in streams.items():
        if not st['chunks']:
            continue
        client = st['client']
        if client is None:   # no SYN: the side on the higher port is the client
            sp, dp, _ = st['chunks'][0]
            client = sp if int(sp) > int(dp) else dp
        result[sid] = [(CLIENT if sp == client else SERVER, data) for sp, dp, data in st['chunks']]
    return result


def write(dirname, name, data):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, name), 'wb') as f:
        f.write(data)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    for name, chunks in DIALOGS.items():
        write(os.path.join(out, 'engine'), name, engine_input(chunks, OPTIONS.get(name, OPT_DIFF)))
    for name, data in reasm_seeds().items():
        write(os.path.join(out, 'reasm'), name, data)
    for i, cap in enumerate(sys.argv[2:]):
        base = os.path.splitext(os.path.basename(cap))[0]
        with open(cap, 'rb') as f:
            write(os.path.join(out, 'pcapd'), base, bytes([i % 3]) + f.read(16384))
        for sid, chunks in capture_streams(cap).items():
            data = engine_input(chunks, 0)
            if len(data) <= 65536:
                write(os.path.join(out, 'engine'), '%s.%s' % (base, sid), data)


if __name__ == '__main__':
    main()
