#!/bin/sh
# expected.sh -- compare pcapd's NDJSON report on the samples with the
# reviewed expected outputs in samples/expected/.
#
#   expected.sh check PCAPD CAPTURE EXPECTED   one sample; a difference is
#                                              shown as a unified diff
#   expected.sh update PCAPD [NAME...]         rewrite expected/NAME.ndjson
#                                              (without NAME: every sample
#                                              not listed in expected/PENDING);
#                                              review `git diff` before
#                                              committing it
#   expected.sh complete                       every capture has a catalog row
#                                              and an expected output or a
#                                              line in expected/PENDING
#
# Exit status: 0 same / complete, 1 different / incomplete, 2 usage or
# pcapd failed.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)

report() {
    # -q: no progress or statistics on stderr; the report is all there is.
    "$1" -q --format ndjson "$2"
}

captures() {
    ls "$HERE"/*.pcap "$HERE"/*.pcapng 2>/dev/null
}

# pending FILE: true when the capture is listed in expected/PENDING.
pending() {
    grep -q "^$1:" "$HERE/expected/PENDING" 2>/dev/null
}

case "${1:-}" in
check)
    [ $# -eq 4 ] || { echo "usage: $0 check PCAPD CAPTURE EXPECTED" >&2; exit 2; }
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    status=0
    report "$2" "$3" > "$out" || status=$?
    if [ "$status" -ne 0 ]; then
        echo "pcapd exited with status $status on $3" >&2
        exit 2
    fi
    if diff -u --label "expected/$(basename "$4")" --label "pcapd $(basename "$3")" \
            "$4" "$out"; then
        exit 0
    fi
    echo "pcapd's report on $(basename "$3") differs from $4 (above: - expected, + got)" >&2
    exit 1
    ;;
update)
    [ $# -ge 2 ] || { echo "usage: $0 update PCAPD [NAME...]" >&2; exit 2; }
    pcapd=$2
    shift 2
    mkdir -p "$HERE/expected"
    for cap in $(captures); do
        base=$(basename "$cap")
        name=${base%.*}
        if [ $# -gt 0 ]; then
            case " $* " in *" $name "*) ;; *) continue ;; esac
        elif pending "$base"; then
            echo "skipped $base (listed in expected/PENDING)"
            continue
        fi
        report "$pcapd" "$cap" > "$HERE/expected/$name.ndjson"
        echo "wrote expected/$name.ndjson"
    done
    ;;
complete)
    missing=0
    for cap in $(captures); do
        base=$(basename "$cap")
        name=${base%.*}
        if [ -s "$HERE/expected/$name.ndjson" ]; then
            if pending "$base"; then
                echo "$base has an expected output but is still in expected/PENDING" >&2
                missing=1
            fi
        elif ! pending "$base"; then
            echo "no expected output for $base (nor a line in expected/PENDING)" >&2
            missing=1
        fi
        if ! grep -q "$base" "$HERE/README.md"; then
            echo "$base is not in samples/README.md" >&2
            missing=1
        fi
    done
    exit $missing
    ;;
*)
    sed -n '2,19p' "$0" >&2
    exit 2
    ;;
esac
