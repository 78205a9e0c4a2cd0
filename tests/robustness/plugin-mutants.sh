#!/bin/sh
# plugin-mutants.sh -- the smtpscope plugin in tshark on damaged captures:
# tshark must not crash, and no "Dissector bug" or unhandled exception may
# show in its output.
#
# Usage: plugin-mutants.sh PLUGIN_DIR WORKDIR CAPTURE_OR_DIR...
#   PLUGIN_DIR  holds <major>.<minor>/epan/smtpscope.so (WIRESHARK_PLUGIN_DIR)
# Environment: SMTPSCOPE_PRELOAD  a sanitizer runtime to preload into
#   tshark when the plugin was built with ASan (set by tests/robustness.cmake).
# tshark 4.0 ignores WIRESHARK_PLUGIN_DIR when run as root, so as root it
# runs as nobody with a scratch HOME (issue 4).  Only bit-error mutants are
# used (1% and 10% of packet bytes): truncated files test wiretap, not the
# dissector.  Exits 77 (skip) without tshark or captures.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
plugins=$1; work=$2; shift 2
command -v tshark >/dev/null || { echo "plugin-mutants: no tshark"; exit 77; }
rm -rf "$work"; mkdir -p "$work"
# The unprivileged user must reach everything tshark reads, and a build
# tree may sit under a private directory (/root): work in a scratch
# directory of our own, with a copy of the plugin.
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/in" "$scratch/mut" "$scratch/home" "$scratch/extcap" "$scratch/plugins"
cp -R "$plugins"/. "$scratch/plugins/"
plugins=$scratch/plugins
work=$scratch
for arg in "$@"; do
    [ -e "$arg" ] || continue
    find "$arg" -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort | while read -r f; do
        cp "$f" "$work/in/$(printf %s "$f" | tr -c 'A-Za-z0-9._-' '_')"
    done
done
set -- "$work"/in/*
[ -e "$1" ] || { echo "plugin-mutants: no captures found"; exit 77; }
sh "$here/mutate.sh" "$work/mut" "$@" >/dev/null
find "$work/mut" -type f ! -name 'E1-*' ! -name 'E4-*' -delete
chmod -R a+rX "$work"
chmod a+w "$work/home"

# No extcap helpers: they are not under test, and with a sanitizer runtime
# preloaded they inherit it and may never answer tshark's probe.
run_tshark() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=nobody --regid=nogroup --clear-groups \
            env HOME="$work/home" WIRESHARK_PLUGIN_DIR="$plugins" WIRESHARK_EXTCAP_DIR="$work/extcap" LD_PRELOAD="${SMTPSCOPE_PRELOAD:-}" \
            ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" tshark "$@"
    else
        env WIRESHARK_PLUGIN_DIR="$plugins" WIRESHARK_EXTCAP_DIR="$work/extcap" LD_PRELOAD="${SMTPSCOPE_PRELOAD:-}" \
            ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" tshark "$@"
    fi
}

if ! run_tshark -G plugins 2>/dev/null | grep -q smtpscope; then
    echo "FAIL: tshark does not load the plugin from $plugins"
    exit 1
fi
fail=0; n=0
for m in "$work"/mut/*; do
    st=0
    run_tshark -n -r "$m" -V -o tcp.analyze_sequence_numbers:TRUE >"$work/out" 2>"$work/err" || st=$?
    n=$((n + 1))
    if [ "$st" -ge 124 ]; then
        echo "FAIL $(basename "$m"): tshark exit status $st"; tail -5 "$work/err"; fail=1
    fi
    if grep -qE "Dissector bug|Unhandled exception|AddressSanitizer|runtime error|CRITICAL" "$work/out" "$work/err"; then
        echo "FAIL $(basename "$m"):"
        grep -hE "Dissector bug|Unhandled exception|AddressSanitizer|runtime error|CRITICAL" "$work/out" "$work/err" | head -5
        fail=1
    fi
done
[ $fail = 0 ] && echo "plugin-mutants: $n files, all passed"
exit $fail
