#!/usr/bin/env python3
"""live_capture.py -- pcapd -i lo -Z nobody: capture, drop root, report.

Usage: live_capture.py PCAPD

Starts `pcapd -i lo -f "tcp port P" -Z nobody --format ndjson` on a free
high port P, waits until the process runs as nobody (the device is open and
root is gone), plays a small SMTP delivery over loopback with a socket
server and client, sends SIGINT, and checks that pcapd exited 0 and
reported the conversation and its transaction.  Exits 77 (skip) when not
root, without a nobody user, or when pcapd cannot capture on lo here.
"""
import json
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time

SKIP = 77


def uid_of(pid):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith('Uid:'):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        return None
    return None


def read_until(sock, marker):
    data = b''
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def server(listener):
    conn, _ = listener.accept()
    with conn:
        conn.sendall(b'220 live.example.org ESMTP\r\n')
        read_until(conn, b'\r\n')
        conn.sendall(b'250-live.example.org\r\n250 PIPELINING\r\n')
        read_until(conn, b'\r\n')
        conn.sendall(b'250 2.1.0 Ok\r\n')
        read_until(conn, b'\r\n')
        conn.sendall(b'250 2.1.5 Ok\r\n')
        read_until(conn, b'\r\n')
        conn.sendall(b'354 End data with <CR><LF>.<CR><LF>\r\n')
        read_until(conn, b'\r\n.\r\n')
        conn.sendall(b'250 2.0.0 Ok: queued as LIVE1\r\n')
        read_until(conn, b'\r\n')
        conn.sendall(b'221 2.0.0 Bye\r\n')


def client(port):
    with socket.create_connection(('127.0.0.1', port), timeout=5) as c:
        read_until(c, b'\r\n')
        for line, expect in ((b'EHLO client.example.com\r\n', b'250 '),
                             (b'MAIL FROM:<live@example.com>\r\n', b'\r\n'),
                             (b'RCPT TO:<rcpt@example.org>\r\n', b'\r\n'),
                             (b'DATA\r\n', b'\r\n'),
                             (b'Subject: live\r\n\r\nhello\r\n.\r\n', b'\r\n'),
                             (b'QUIT\r\n', b'\r\n')):
            c.sendall(line)
            read_until(c, expect)


def main():
    pcapd = sys.argv[1]
    if os.geteuid() != 0:
        print('live_capture: not root: skipped')
        return SKIP
    try:
        nobody = pwd.getpwnam('nobody').pw_uid
    except KeyError:
        print('live_capture: no user nobody: skipped')
        return SKIP

    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    proc = subprocess.Popen([pcapd, '-i', 'lo', '-f', 'tcp port %d' % port, '-Z', 'nobody',
                             '--format', 'ndjson', '-q'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    uids = None
    while time.time() < deadline and proc.poll() is None:
        uids = uid_of(proc.pid)
        if uids and all(u == nobody for u in uids):
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        err = proc.stderr.read().decode(errors='replace')
        print('live_capture: pcapd exited %d before capturing: %s' % (proc.returncode, err.strip()))
        # no capture permission or no lo device here: not pcapd's fault
        return SKIP if 'ermission' in err or "doesn't exist" in err or 'No such device' in err else 1
    if not uids or not all(u == nobody for u in uids):
        proc.kill()
        print('live_capture: FAIL: pcapd still runs with uids %s, not nobody (%d)' % (uids, nobody))
        return 1
    time.sleep(0.3)   # the capture loop is running once privileges are gone

    t = threading.Thread(target=server, args=(listener,))
    t.start()
    client(port)
    t.join(5)
    listener.close()
    time.sleep(0.5)   # let the last packets reach the capture buffer
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        print('live_capture: FAIL: pcapd did not stop on SIGINT')
        return 1

    records = []
    for line in out.decode('utf-8').splitlines():
        records.append(json.loads(line))
    txns = [r for r in records if r.get('type') == 'transaction']
    convs = [r for r in records if r.get('type') == 'conversation']
    problems = []
    if proc.returncode != 0:
        problems.append('exit status %d (stderr: %s)' % (proc.returncode, err.decode(errors='replace').strip()))
    if len(txns) != 1:
        problems.append('%d transactions reported, expected 1' % len(txns))
    elif txns[0].get('queue_id') != 'LIVE1' or txns[0].get('outcome') != 'accepted':
        problems.append('transaction reported as %s' % json.dumps(txns[0]))
    if len(convs) != 1:
        problems.append('%d conversations reported, expected 1' % len(convs))
    elif convs[0].get('server') != '127.0.0.1:%d' % port:
        problems.append('conversation server is %s' % convs[0].get('server'))
    if problems:
        print('live_capture: FAIL: ' + '; '.join(problems))
        return 1
    print('live_capture: pcapd ran as uid %d, reported the conversation on port %d' % (nobody, port))
    return 0


if __name__ == '__main__':
    sys.exit(main())
