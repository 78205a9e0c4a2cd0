#!/bin/sh
# ctest: gencap is deterministic (same seed and size -> same bytes; another
# seed -> other bytes) and writes a capture the floor reads completely: the
# floor must count exactly the frames gencap says it wrote, all of them TCP.
#   test_gencap.sh GENCAP FLOOR
set -eu
gencap=$1 floor=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

"$gencap" --size 3M --seed 7 -o "$dir/a.pcap" 2>"$dir/a.log"
"$gencap" --size 3M --seed 7 -o "$dir/b.pcap" 2>/dev/null
"$gencap" --size 3M --seed 8 -o "$dir/c.pcap" 2>/dev/null
a=$(sha256sum <"$dir/a.pcap") b=$(sha256sum <"$dir/b.pcap") c=$(sha256sum <"$dir/c.pcap")
[ "$a" = "$b" ] || { echo "FAIL: seed 7 gave two different files"; exit 1; }
[ "$a" != "$c" ] || { echo "FAIL: seeds 7 and 8 gave the same file"; exit 1; }

field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2"; }
frames=$(field frames "$dir/a.log")
convs=$(field conversations "$dir/a.log")
[ "${convs:-0}" -gt 5 ] || { echo "FAIL: only '${convs}' SMTP conversations in 3 MB"; exit 1; }

"$floor" "$dir/a.pcap" 2>"$dir/f.log"
[ "$(field frames "$dir/f.log")" = "$frames" ] || { echo "FAIL: floor read $(field frames "$dir/f.log") frames, gencap wrote $frames"; exit 1; }
[ "$(field tcp "$dir/f.log")" = "$frames" ] || { echo "FAIL: floor decoded $(field tcp "$dir/f.log") of $frames frames as TCP"; exit 1; }
[ "$(field ipv6 "$dir/f.log")" -gt 0 ] || { echo "FAIL: no IPv6 frames"; exit 1; }
cat "$dir/a.log" "$dir/f.log"
echo "ok: deterministic, $frames frames, $convs SMTP conversations, floor agrees"
