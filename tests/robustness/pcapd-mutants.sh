#!/bin/sh
# pcapd-mutants.sh -- pcapd on damaged captures: no crash, no hang, only the
# documented exit codes (0, or 3 for a damaged input), valid NDJSON.
#
# Usage: pcapd-mutants.sh PCAPD WORKDIR CAPTURE_OR_DIR...
# Environment: PCAPD_MUTANT_EVERY  also read every Nth mutant on its own
#              (default 1: all of them), cycling through the formats
# Directories are searched for *.pcap, *.pcapng and *.cap.  Each capture is
# mutated with mutate.sh.  The directory of mutants is read as one input in
# each format (fast, and a mix of good and bad files must end with exit 3),
# then the chosen mutants one by one, so a failure names its file.  Exits 1
# listing every failure, 77 (skip) if no capture is found.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pcapd=$1; work=$2; shift 2
rm -rf "$work"; mkdir -p "$work/in" "$work/mut"
for arg in "$@"; do
    [ -e "$arg" ] || continue
    find "$arg" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) | sort |
    while read -r f; do
        cp "$f" "$work/in/$(printf %s "$f" | tr -c 'A-Za-z0-9._-' '_')"
    done
done
set -- "$work"/in/*
[ -e "$1" ] || { echo "pcapd-mutants: no captures found"; exit 77; }
echo "pcapd-mutants: $(sh "$here/mutate.sh" "$work/mut" "$@") mutants of $# captures"

fail=0
check() {   # check LABEL STATUS STDERR_FILE
    case $2 in
        0|3) ;;
        *) echo "FAIL $1: exit status $2"; sed 's/^/    /' "$3" | head -5; fail=1; return ;;
    esac
    if grep -qE "runtime error|AddressSanitizer|LeakSanitizer|Assertion|CRITICAL" "$3"; then
        echo "FAIL $1: sanitizer or GLib report"; grep -E "runtime error|Sanitizer|Assertion|CRITICAL" "$3" | head -5
        fail=1
    fi
}
ndjson_ok() {   # ndjson_ok LABEL FILE
    python3 -c '
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    json.loads(line)
' "$2" 2>"$work/json" && return 0
    echo "FAIL $1: invalid NDJSON output"; tail -1 "$work/json"; fail=1
}
for fmt in text ndjson csv; do
    st=0
    timeout 600 "$pcapd" -q --format "$fmt" "$work/mut" >"$work/out" 2>"$work/err" || st=$?
    check "directory of mutants --format $fmt" "$st" "$work/err"
    [ "$st" = 3 ] || { echo "FAIL directory of mutants --format $fmt: exit $st, expected 3"; fail=1; }
    [ "$fmt" != ndjson ] || ndjson_ok "directory of mutants" "$work/out"
done
every=${PCAPD_MUTANT_EVERY:-1}
i=0
for m in "$work"/mut/*; do
    i=$((i + 1))
    [ $((i % every)) = 0 ] || continue
    set -- text ndjson csv
    shift $((i % 3))
    fmt=$1
    st=0
    timeout 60 "$pcapd" -q --format "$fmt" "$m" >"$work/out" 2>"$work/err" || st=$?
    check "$(basename "$m") --format $fmt" "$st" "$work/err"
    [ "$fmt" != ndjson ] || ndjson_ok "$(basename "$m")" "$work/out"
done
[ $fail = 0 ] && echo "pcapd-mutants: all passed"
exit $fail
