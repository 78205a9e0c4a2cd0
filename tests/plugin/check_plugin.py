#!/usr/bin/env python3
"""End-to-end checks of the smtpscope Wireshark plugin with tshark.

    check_plugin.py --check NAME --tshark PATH --plugin-dir DIR
                    [--pcapd PATH] [--samples DIR] [--corpus DIR] [--preload LIBS]

tshark 4.0 ignores WIRESHARK_PLUGIN_DIR and personal plugins when run as
root, so as root every tshark run drops to nobody (setpriv) with a fresh
HOME; the plugin directory, the captures and their parents must be readable
by nobody.  A plugin built with sanitizers needs their runtime preloaded
into tshark (--preload); any sanitizer report then fails the check.
Exit 0 = pass, 77 = skipped, anything else = failure.
"""
import argparse
import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mkpcap  # noqa: E402
import mktls  # noqa: E402

SKIP = 77

# Anomalies the core raises only when it is told the conversation ended.  TCP
# hands Wireshark subdissectors only segments with payload, so the plugin
# seldom sees the end (see packet-smtpscope.c); pcapd, which sees every
# segment, may report these where the plugin does not.
END_ONLY_ANOMALIES = {"unanswered_command", "cut_off", "cut_off_in_data", "gap",
                      "conversation_evicted", "not_smtp"}

REQUIRED_FIELDS = [
    "smtpscope.command", "smtpscope.command.args", "smtpscope.reply.code",
    "smtpscope.reply.category", "smtpscope.reply.subject", "smtpscope.reply.meaning",
    "smtpscope.reply.line", "smtpscope.reply.enhanced", "smtpscope.reply.enhanced.class",
    "smtpscope.reply.enhanced.subject", "smtpscope.reply.enhanced.detail",
    "smtpscope.reply.command", "smtpscope.response_to", "smtpscope.response_in",
    "smtpscope.time", "smtpscope.anomaly", "smtpscope.anomaly.class",
    "smtpscope.anomaly.severity", "smtpscope.anomaly.message", "smtpscope.capability",
    "smtpscope.capability.params", "smtpscope.starttls", "smtpscope.auth.mechanism",
    "smtpscope.auth.username", "smtpscope.auth.outcome", "smtpscope.auth.secret",
    "smtpscope.transaction.mail_from", "smtpscope.transaction.recipient",
    "smtpscope.transaction.recipient.status", "smtpscope.transaction.recipient.code",
    "smtpscope.transaction.method", "smtpscope.transaction.size",
    "smtpscope.transaction.outcome", "smtpscope.transaction.queue_id",
    "smtpscope.transaction.subject", "smtpscope.transaction.message_id",
    "smtpscope.conversation", "smtpscope.pipelined", "smtpscope.direction",
]


class Failure(Exception):
    pass


class Unreadable(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failure(what)


class Tshark:
    """Runs tshark with the plugin directory, unprivileged when we are root."""

    def __init__(self, tshark, plugin_dir, workdir, preload=None):
        self.tshark = tshark
        self.preload = preload
        self.plugin_dir = os.path.abspath(plugin_dir)
        self.home = os.path.join(workdir, "home")
        os.makedirs(self.home, exist_ok=True)
        os.chmod(self.home, 0o777)

    def run(self, args, check=True):
        cmd = [self.tshark] + args
        if os.geteuid() == 0:
            cmd = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] + cmd
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.home,
               "LC_ALL": "C.UTF-8", "WIRESHARK_PLUGIN_DIR": self.plugin_dir}
        if self.preload:
            # tshark itself is not built for leak checking: only errors count.
            env.update({"LD_PRELOAD": self.preload,
                        "ASAN_OPTIONS": "detect_leaks=0:verify_asan_link_order=0",
                        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"})
        p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=600)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        if "AddressSanitizer" in err or "runtime error:" in err:
            raise Failure("sanitizer report from tshark %s:\n%s" % (" ".join(args), err[-4000:]))
        if check and p.returncode != 0:
            raise Failure("tshark %s exited %d: %s" % (" ".join(args), p.returncode, err[-2000:]))
        return out, err

    def pdml(self, pcap, extra=()):
        out, _ = self.run(["-r", pcap, "-T", "pdml", "-J", "frame smtpscope"] + list(extra))
        return parse_pdml(out)


def parse_pdml(text):
    """Frames as dicts: num, smtpscope (the proto element or None)."""
    frames = []
    root = ET.fromstring(text)
    for packet in root.iter("packet"):
        num = None
        scope = None
        for proto in packet.findall("proto"):
            if proto.get("name") == "frame":
                for f in proto.iter("field"):
                    if f.get("name") == "frame.number":
                        num = int(f.get("show"))
            elif proto.get("name") == "smtpscope":
                scope = proto
        frames.append({"num": num, "smtpscope": scope})
    return frames


def first(elem, name):
    for f in elem.iter("field"):
        if f.get("name") == name:
            return f.get("show")
    return None


def all_of(elem, name):
    return [f.get("show") for f in elem.iter("field") if f.get("name") == name]


def plugin_events(frames):
    """Replies, anomalies and commands the plugin shows, in frame order."""
    replies, anomalies, commands = [], [], []
    for fr in frames:
        scope = fr["smtpscope"]
        if scope is None:
            continue
        for item in scope.iter("field"):
            children = {c.get("name") for c in item}
            if "smtpscope.reply.code" in children:
                replies.append({"frame": fr["num"],
                                "code": int(first(item, "smtpscope.reply.code")),
                                "category": first(item, "smtpscope.reply.category"),
                                "enhanced": first(item, "smtpscope.reply.enhanced"),
                                "command": first(item, "smtpscope.reply.command")})
            elif item.get("name") == "smtpscope.anomaly":
                anomalies.append({"frame": fr["num"], "kind": item.get("show"),
                                  "class": first(item, "smtpscope.anomaly.class")})
            elif item.get("name") == "smtpscope.command.line":
                commands.append({"frame": fr["num"], "verb": first(item, "smtpscope.command"),
                                 "line": item.get("show")})
    return replies, anomalies, commands


def pcapd_events(pcapd, pcap):
    p = subprocess.run([pcapd, "--format", "ndjson", "--no-heuristic", pcap], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    if p.returncode not in (0,):
        raise Failure("pcapd on %s exited %d: %s" % (pcap, p.returncode, p.stderr[-1000:]))
    replies, anomalies = [], []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if not line.strip():
            continue
        ev = json.loads(line)
        if ev.get("type") == "reply":
            replies.append({"frame": ev.get("frame"), "code": ev.get("code"),
                            "category": ev.get("category"), "enhanced": ev.get("enhanced"),
                            "command": ev.get("command") or None})
        elif ev.get("type") == "anomaly":
            anomalies.append({"frame": ev.get("frame"), "kind": ev.get("kind"),
                              "class": ev.get("class")})
    return replies, anomalies


def readable_copy(src, dst_dir):
    """Copy a capture where nobody can read it."""
    dst = os.path.join(dst_dir, os.path.basename(src))
    shutil.copyfile(src, dst)
    os.chmod(dst, 0o644)
    return dst


# ---- checks ----------------------------------------------------------------

def check_load(ts, ctx):
    if ts.preload:
        # `tshark -G plugins` hangs with a sanitizer runtime preloaded; the
        # protocol list shows the plugin registered all the same.
        out, _ = ts.run(["-G", "protocols"])
        expect(any(l.split("\t")[-1:] == ["smtpscope"] for l in out.splitlines()),
               "smtpscope not in `tshark -G protocols`")
        print("smtpscope registered (sanitizer build)")
        return
    out, _ = ts.run(["-G", "plugins"])
    line = [l for l in out.splitlines() if "smtpscope" in l]
    expect(line, "smtpscope not in `tshark -G plugins`:\n" + out)
    expect(ts.plugin_dir in line[0], "plugin not loaded from %s: %s" % (ts.plugin_dir, line[0]))
    print(line[0])


def check_fields(ts, ctx):
    out, _ = ts.run(["-G", "fields"])
    fields = {}
    kinds = []
    for l in out.splitlines():
        cols = l.split("\t")
        if len(cols) < 8 or cols[0] != "F" or not cols[2].startswith("smtpscope."):
            continue
        # Expert entries are listed as FT_NONE fields named by their summary.
        if cols[3] == "FT_NONE" and cols[2].startswith("smtpscope.anomaly."):
            kinds.append(cols[2])
        else:
            fields[cols[2]] = cols[7]
    for name in REQUIRED_FIELDS:
        expect(name in fields, "field %s missing" % name)
    empty = [n for n, blurb in fields.items() if not blurb.strip()]
    expect(not empty, "fields without a description: %s" % empty)
    out, _ = ts.run(["-G", "values"])
    expect("smtpscope" in out, "no smtpscope value strings")
    # Expert entries, one per anomaly kind of the core.
    expect(len(kinds) >= 50, "only %d smtpscope expert entries" % len(kinds))
    for k in ("smtpscope.anomaly.rcpt_without_mail", "smtpscope.anomaly.starttls_injection"):
        expect(k in kinds, "expert entry %s missing" % k)
    print("%d fields, all described; %d expert entries" % (len(fields), len(kinds)))


def verbs(commands):
    return [c["verb"] for c in commands]


def check_builtin_failures(ts, ctx):
    gen = ctx["generated"]
    # 1. After a refused DATA, later commands are commands.
    _, _, cmds = plugin_events(ts.pdml(gen["rejected_data"]))
    expect(verbs(cmds) == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "NOOP", "QUIT"],
           "rejected DATA: commands %s" % verbs(cmds))
    # 2. A command after the final dot in the same segment is shown.
    frames = ts.pdml(gen["dot_then_command"])
    replies, _, cmds = plugin_events(frames)
    expect(verbs(cmds)[-1] == "QUIT", "dot+QUIT: commands %s" % verbs(cmds))
    quit_frame = cmds[-1]["frame"]
    scope = [f for f in frames if f["num"] == quit_frame][0]["smtpscope"]
    expect(first(scope, "smtpscope.body.length") is not None,
           "dot+QUIT: frame %d does not end the message" % quit_frame)
    expect([r["command"] for r in replies][-2:] == ["data", "QUIT"],
           "dot+QUIT: replies answer %s" % [r["command"] for r in replies])
    # 3. BDAT with its chunk in the same segment is parsed.
    frames = ts.pdml(gen["bdat_same_segment"])
    replies, _, cmds = plugin_events(frames)
    expect(verbs(cmds) == ["EHLO", "MAIL", "RCPT", "BDAT", "QUIT"], "BDAT: commands %s" % verbs(cmds))
    expect([r["command"] for r in replies][-2:] == ["bdat", "QUIT"],
           "BDAT: replies answer %s" % [r["command"] for r in replies])
    outcomes = [first(f["smtpscope"], "smtpscope.transaction.outcome") for f in frames if f["smtpscope"] is not None]
    expect("accepted" in outcomes, "BDAT: no accepted transaction")
    print("rejected DATA, dot+command and BDAT+chunk all parsed")


def check_ports(ts, ctx):
    gen = ctx["generated"]
    for name, port in (("rejected_data", 25), ("dot_then_command", 587), ("bdat_same_segment", 2525),
                       ("heuristic_port", 10025)):
        _, _, cmds = plugin_events(ts.pdml(gen[name]))
        expect(cmds, "no smtpscope commands on port %d" % port)
    # Decode As gives the port back to the built-in dissector.
    out, _ = ts.run(["-r", gen["rejected_data"], "-d", "tcp.port==25,smtp", "-T", "fields",
                     "-e", "smtpscope.command", "-e", "smtp.req.command"])
    mine = [l.split("\t")[0] for l in out.splitlines() if l.split("\t")[0]]
    theirs = [l.split("\t")[1] for l in out.splitlines() if len(l.split("\t")) > 1 and l.split("\t")[1]]
    expect(not mine and theirs, "Decode As smtp: smtpscope %s, smtp %s" % (mine, theirs))
    # After STARTTLS the stream belongs to TLS.
    out, _ = ts.run(["-r", gen["starttls"], "-T", "fields", "-e", "frame.number", "-e", "frame.protocols"])
    last_data = [l for l in out.splitlines() if ":tls" in l]
    expect(last_data, "STARTTLS: no frame handed to TLS:\n" + out)
    replies, _, _ = plugin_events(ts.pdml(gen["starttls"]))
    expect(replies[-1]["code"] == 220 and replies[-1]["command"] == "STARTTLS", "STARTTLS reply %s" % replies[-1])
    print("ports 25/587/2525 and heuristic port taken; Decode As smtp works; STARTTLS hands over to TLS")


def check_info_column(ts, ctx):
    out, _ = ts.run(["-r", ctx["generated"]["pipelined_anomaly"], "-T", "fields", "-e", "_ws.col.Info"])
    lines = out.splitlines()
    want = "C: MAIL FROM:<alice@example.com> | C: RCPT TO:<bob@example.org> | C: RCPT TO:<nobody@example.org> | C: DATA"
    expect(want in lines, "no Info line with the pipelined commands:\n" + out)
    expect(any("S: 550 5.1.1 <nobody@example.org>: User unknown [RCPT]" in l for l in lines),
           "no labelled 550 in the Info column:\n" + out)
    print("Info column shows every PDU of a segment")


def check_expert(ts, ctx):
    pcap = ctx["generated"]["pipelined_anomaly"]
    out, _ = ts.run(["-r", pcap, "-q", "-z", "expert"])
    expect("SMTPSCOPE" in out and "RCPT" in out, "-z expert lists no smtpscope anomaly:\n" + out)
    out, _ = ts.run(["-r", pcap, "-Y", "smtpscope.anomaly.rcpt_without_mail", "-T", "fields", "-e", "frame.number"])
    expect(out.split(), "no frame matches smtpscope.anomaly.rcpt_without_mail")
    out, _ = ts.run(["-r", pcap, "-Y", 'smtpscope.anomaly.class == "sequence"', "-T", "fields", "-e", "frame.number"])
    expect(out.split(), "no frame with a sequence anomaly")
    print("-z expert and expert filters list the anomalies")


def check_stats(ts, ctx):
    out, _ = ts.run(["-r", ctx["generated"]["pipelined_anomaly"], "-q", "-z", "smtpscope,tree"])
    for want in ("Replies by class and code", "2xx Positive Completion", "550 ", "5.1.1",
                 "Commands by verb", "RCPT", "Anomalies by class and kind", "rcpt_without_mail",
                 "Transactions by outcome", "accepted"):
        expect(want in out, "stats tree lacks %r:\n%s" % (want, out))
    print(out.strip().splitlines()[0] if out.strip() else "")


def check_imf(ts, ctx):
    outdir = os.path.join(ctx["work"], "imf")
    os.makedirs(outdir, exist_ok=True)
    os.chmod(outdir, 0o777)
    ts.run(["-r", ctx["generated"]["dot_then_command"], "-q", "--export-objects", "imf," + outdir])
    files = os.listdir(outdir)
    expect(files, "--export-objects imf wrote nothing")
    data = open(os.path.join(outdir, files[0]), "rb").read()
    expect(b"Hello Bob." in data and b"\r\n.leading dot line" in data and b"..leading" not in data,
           "exported message wrong: %r" % data[:300])
    print("--export-objects imf wrote %s (%d bytes)" % (files[0], len(data)))


def check_tls(ts, ctx):
    tlsdir = os.path.join(ctx["work"], "tls")
    os.makedirs(tlsdir)
    os.chmod(tlsdir, 0o755)
    paths = mktls.write_all(tlsdir)
    if not paths:
        print("openssl command missing: skipped")
        return SKIP
    keys = ["-o", "tls.keylog_file:" + paths["keylog"]]
    inner = ["EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT"]
    frames = ts.pdml(paths["implicit_tls"], keys)
    replies, anomalies, cmds = plugin_events(frames)
    expect(verbs(cmds) == inner, "port 465: commands %s" % verbs(cmds))
    expect(replies[0]["code"] == 220 and replies[0]["command"] == "greeting", "port 465: first reply %s" % replies[0])
    expect(not anomalies, "port 465: anomalies %s" % anomalies)
    # AUTH PLAIN carries alice/secret: masked unless the preference says otherwise.
    auth = [c for c in cmds if c["verb"] == "AUTH"][0]
    expect("AGFsaWNl" not in auth["line"], "AUTH credentials not masked: %s" % auth["line"])
    outcome = [first(f["smtpscope"], "smtpscope.auth.outcome") for f in frames if f["smtpscope"] is not None]
    expect("success" in outcome, "port 465: no successful AUTH")
    secrets = [first(f["smtpscope"], "smtpscope.auth.secret") for f in frames if f["smtpscope"] is not None]
    expect(not any(secrets), "AUTH secret shown by default")
    frames = ts.pdml(paths["implicit_tls"], keys + ["-o", "smtpscope.show_secrets:TRUE"])
    secrets = [first(f["smtpscope"], "smtpscope.auth.secret") for f in frames if f["smtpscope"] is not None]
    expect("secret" in secrets, "AUTH secret not shown with the preference: %s" % secrets)

    replies, anomalies, cmds = plugin_events(ts.pdml(paths["starttls_tls"], keys))
    expect(verbs(cmds) == ["EHLO", "STARTTLS"] + inner, "STARTTLS: commands %s" % verbs(cmds))
    expect(not anomalies, "STARTTLS: anomalies %s" % anomalies)
    print("port 465 and STARTTLS sessions decrypted with a key log and analysed; AUTH secret masked")


def smtpscope_blocks(text):
    """The smtpscope trees of `tshark -V -O smtpscope` output, with the frame
    each belongs to; other protocols (TLS, IMF) are left out."""
    blocks, frame, cur = [], None, None
    for line in text.splitlines():
        if line.startswith("Frame "):
            frame = line.split(":")[0]
        if cur is not None and (line.startswith(" ") or line.startswith("\t")):
            # A single pass cannot know a command's reply frame yet.
            if "Reply in:" not in line:
                cur.append(line)
            continue
        cur = None
        if line.startswith("SMTP analysis (smtpscope)"):
            cur = [frame]
            blocks.append(cur)
    return blocks


def render(ts, pcap, two_pass, extra=(), check=True):
    args = ["-r", pcap, "-V", "-O", "smtpscope"] + list(extra)
    if two_pass:
        args.insert(0, "-2")
    out, err = ts.run(args, check=check)
    return smtpscope_blocks(out), out, err


def same_both_passes(ts, pcap, check=True):
    """None when one-pass and two-pass trees agree, else what differs."""
    one, out1, err1 = render(ts, pcap, False, check=check)
    two, out2, err2 = render(ts, pcap, True, check=check)
    if one == two:
        return None, (out1 + out2, err1 + err2, len(one))
    diff = [(a, b) for a, b in zip(one, two) if a != b][:2] or ("frames", len(one), len(two))
    return diff, (out1 + out2, err1 + err2, len(one))


def captures(ctx):
    files = sorted(ctx["generated"].values())
    if ctx["samples"]:
        files += sorted(glob.glob(os.path.join(ctx["samples"], "*.pcap*")))
    return files


def check_two_pass(ts, ctx):
    n = blocks = 0
    for pcap in captures(ctx):
        diff, (_, _, count) = same_both_passes(ts, readable(ctx, pcap))
        if diff:
            raise Failure("%s: one-pass and two-pass differ: %s" % (pcap, diff))
        n += 1
        blocks += count
    print("%d captures, %d smtpscope trees: one-pass output equals two-pass output" % (n, blocks))


def check_reassembly(ts, ctx):
    gen = ctx["generated"]
    ordered = plugin_events(ts.pdml(gen["in_order"]))
    for prefs in (["-o", "tcp.no_subdissector_on_error:FALSE"],
                  ["-o", "tcp.desegment_tcp_streams:TRUE", "-o", "tcp.reassemble_out_of_order:TRUE"]):
        shuffled = plugin_events(ts.pdml(gen["out_of_order"], prefs))
        for i, what in ((0, "replies"), (2, "commands")):
            a = [{k: v for k, v in e.items() if k != "frame"} for e in ordered[i]]
            b = [{k: v for k, v in e.items() if k != "frame"} for e in shuffled[i]]
            expect(a == b, "%s with %s: %s differ:\n%s\n%s" % ("out_of_order", prefs, what, a, b))
        expect(not shuffled[1], "out_of_order with %s: anomalies %s" % (prefs, shuffled[1]))
    print("out-of-order and retransmitted segments give the in-order events")


# By default TCP keeps retransmitted and out-of-order segments from
# subdissectors (tcp.no_subdissector_on_error), even the first copy of bytes
# whose original was not captured; the plugin then sees holes that pcapd,
# which reads every segment, does not.  With TCP's out-of-order reassembly on,
# both front ends feed the core the same bytes and must agree exactly.
# pcapd's heuristic waits for an EHLO/HELO answer to a "220"; a dissector
# must decide on the segment at hand.  Both are off for the comparison, which
# is about what the core makes of the bytes, not about which flows are SMTP.
ALL_SEGMENTS = ["-o", "tcp.analyze_sequence_numbers:FALSE", "--disable-heuristic", "smtpscope_tcp"]


def compare_with_pcapd(ts, pcapd, pcap):
    out, err = ts.run(["-r", pcap, "-T", "pdml", "-J", "frame smtpscope"] + ALL_SEGMENTS, check=False)
    if "appears to be damaged or corrupt" in err or "cut short" in err:
        raise Unreadable(err.strip().splitlines()[0])
    frames = parse_pdml(out)
    p_rep, p_an, _ = plugin_events(frames)
    d_rep, d_an = pcapd_events(pcapd, pcap)
    # Segments without payload (bare ACK, FIN, RST) never reach a
    # subdissector; what pcapd derives from them (a gap declared by an ack,
    # partial lines flushed at the end) cannot show in the plugin.
    seen = {f["num"] for f in frames if f["smtpscope"] is not None}
    d_rep = [r for r in d_rep if r["frame"] in seen]
    d_an = [a for a in d_an if a["frame"] in seen]
    key = lambda r: (r["code"], r["category"], r["enhanced"], r["command"])  # noqa: E731
    if collections.Counter(map(key, p_rep)) != collections.Counter(map(key, d_rep)):
        only_p = collections.Counter(map(key, p_rep)) - collections.Counter(map(key, d_rep))
        only_d = collections.Counter(map(key, d_rep)) - collections.Counter(map(key, p_rep))
        raise Failure("%s: replies differ; plugin only %s; pcapd only %s" % (pcap, dict(only_p), dict(only_d)))
    akey = lambda a: (a["kind"], a["class"])  # noqa: E731
    pc, dc = collections.Counter(map(akey, p_an)), collections.Counter(map(akey, d_an))
    extra_plugin = pc - dc
    extra_pcapd = {k: v for k, v in (dc - pc).items() if k[0] not in END_ONLY_ANOMALIES}
    if extra_plugin or extra_pcapd:
        raise Failure("%s: anomalies differ; plugin only %s; pcapd only %s"
                      % (pcap, dict(extra_plugin), extra_pcapd))
    return len(p_rep), len(p_an)


# Corpus captures where the two front ends see different bytes, by design.
KNOWN_DIVERGENT = {
    "arkime_arkime/socks5-smtp-503.pcap":
        "SMTP inside a SOCKS tunnel: Wireshark's SOCKS dissector hands it on, pcapd reads TCP only",
    "zeek_zeek/connect-with-smtp.pcap":
        "SMTP inside an HTTP CONNECT tunnel: Wireshark's HTTP dissector hands it on, pcapd reads TCP only",
    "seladb_PcapPlusPlus/Smtp.pcap":
        "timestamps jump by years: pcapd's idle timeout starts a new conversation, Wireshark keeps one",
    "seladb_PcapPlusPlus/Smtp__hist-06173c3.pcap":
        "timestamps jump by years: pcapd's idle timeout starts a new conversation, Wireshark keeps one",
    "lgandx_PCredz/realistic_network_traffic.pcap":
        "crafted: bare ACKs acknowledge bytes never sent; pcapd reads them and declares a gap, "
        "the plugin never sees bare ACKs",
}


def check_pcapd(ts, ctx):
    if not ctx["pcapd"] or not os.access(ctx["pcapd"], os.X_OK):
        print("pcapd not built: skipped")
        return SKIP
    files = captures(ctx)
    if ctx["corpus"]:
        files += corpus_files(ctx["corpus"])
    failures, n_rep, n_an, unreadable, known = [], 0, 0, 0, 0
    for pcap in files:
        try:
            r, a = compare_with_pcapd(ts, ctx["pcapd"], readable(ctx, pcap))
            n_rep += r
            n_an += a
        except Unreadable as e:
            print("skipped, tshark cannot read it:", pcap, e)
            unreadable += 1
        except Failure as e:
            rel = os.path.relpath(pcap, ctx["corpus"]) if ctx["corpus"] else pcap
            if rel in KNOWN_DIVERGENT:
                print("known divergence (%s): %s" % (KNOWN_DIVERGENT[rel], e))
                known += 1
            else:
                failures.append(str(e))
    for f in failures:
        print("FAIL", f)
    expect(not failures, "%d of %d captures disagree with pcapd" % (len(failures), len(files)))
    print("%d captures, %d replies, %d anomalies: plugin and pcapd agree (%d unreadable, %d known divergences)"
          % (len(files) - unreadable - known, n_rep, n_an, unreadable, known))


def corpus_files(corpus):
    files = []
    for pattern in ("*.pcap", "*.pcapng", "*.cap", "*.pcap.gz", "*.pcapng.gz"):
        files += glob.glob(os.path.join(corpus, "**", pattern), recursive=True)
    return sorted(set(files))


def readable(ctx, pcap):
    """nobody must be able to read it: corpus and samples are, temp copies are made so."""
    if not os.path.exists(pcap):
        raise Unreadable("vanished while the test ran")
    if os.geteuid() != 0:
        return pcap
    probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            "test", "-r", pcap])
    return pcap if probe.returncode == 0 else readable_copy(pcap, ctx["work"])


def check_corpus(ts, ctx):
    if not ctx["corpus"] or not os.path.isdir(ctx["corpus"]):
        print("corpus not present: skipped")
        return SKIP
    files = corpus_files(ctx["corpus"])
    bad = []
    shown = 0
    for pcap in files:
        diff, (out, err, count) = same_both_passes(ts, readable(ctx, pcap), check=False)
        if "Dissector bug" in out or "Malformed Packet: SMTPSCOPE" in out or \
                "CRITICAL" in err or "Segmentation" in err or "Aborted" in err:
            bad.append("%s: %s" % (pcap, (err or out)[-500:]))
        elif diff and "appears to be damaged" not in err:
            bad.append("%s: one-pass and two-pass differ: %s" % (pcap, diff))
        shown += count
    for b in bad:
        print("BAD", b)
    expect(not bad, "%d of %d corpus files broke the plugin" % (len(bad), len(files)))
    print("%d corpus files, %d frames shown by smtpscope, no dissector bug, "
          "one-pass equals two-pass" % (len(files), shown))


CHECKS = {
    "load": check_load,
    "fields": check_fields,
    "builtin_failures": check_builtin_failures,
    "ports": check_ports,
    "info_column": check_info_column,
    "expert": check_expert,
    "stats": check_stats,
    "imf": check_imf,
    "tls": check_tls,
    "two_pass": check_two_pass,
    "reassembly": check_reassembly,
    "pcapd": check_pcapd,
    "corpus": check_corpus,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", required=True, choices=sorted(CHECKS))
    ap.add_argument("--tshark", default=shutil.which("tshark"))
    ap.add_argument("--plugin-dir", required=True)
    ap.add_argument("--pcapd")
    ap.add_argument("--samples")
    ap.add_argument("--corpus")
    ap.add_argument("--preload", help="sanitizer runtime(s) to preload into tshark")
    args = ap.parse_args()
    if not args.tshark:
        print("tshark not installed: skipped")
        return SKIP
    if os.geteuid() == 0 and not shutil.which("setpriv"):
        print("running as root without setpriv: tshark would ignore the plugin dir; skipped")
        return SKIP

    so = glob.glob(os.path.join(args.plugin_dir, "*", "epan", "smtpscope.so"))
    if not so:
        print("FAIL: no plugin under %s" % args.plugin_dir)
        return 1

    work = tempfile.mkdtemp(prefix="smtpscope-plugin-")
    os.chmod(work, 0o755)
    try:
        if os.geteuid() == 0:
            probe = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                                    "test", "-r", so[0]])
            if probe.returncode != 0:
                # A build tree under a private directory (a clone in /root):
                # give nobody a copy laid out as Wireshark expects.
                version = os.path.basename(os.path.dirname(os.path.dirname(so[0])))
                epan = os.path.join(work, "plugins", version, "epan")
                os.makedirs(epan)
                for d in (os.path.join(work, "plugins"), os.path.dirname(epan), epan):
                    os.chmod(d, 0o755)
                shutil.copy(so[0], epan)
                os.chmod(os.path.join(epan, "smtpscope.so"), 0o755)
                args.plugin_dir = os.path.join(work, "plugins")
        gendir = os.path.join(work, "gen")
        os.makedirs(gendir)
        os.chmod(gendir, 0o755)
        generated = {}
        for name, build in mkpcap.SCENARIOS.items():
            path = os.path.join(gendir, name + ".pcap")
            mkpcap.write_pcap(path, build().frames)
            os.chmod(path, 0o644)
            generated[name] = path
        samples = args.samples if args.samples and os.path.isdir(args.samples) else None
        ctx = {"work": work, "generated": generated, "pcapd": args.pcapd, "samples": samples,
               "corpus": args.corpus if args.corpus and os.path.isdir(args.corpus) else None}
        ts = Tshark(args.tshark, args.plugin_dir, work, args.preload)
        rc = CHECKS[args.check](ts, ctx)
        return rc or 0
    except Failure as e:
        print("FAIL:", e)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
