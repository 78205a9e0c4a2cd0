#!/bin/sh
# mutate.sh -- damaged copies of capture files, the same ones every run.
#
# Usage: mutate.sh OUTDIR CAPTURE...
# For each CAPTURE writes into OUTDIR: bit errors in packet data (editcap -E
# at 1% and 10%, fixed seeds), truncations (inside the global header, inside
# the first record header, at a third, half, one byte short, and three
# pseudo-random points), and headers overwritten with 0xff (snap length,
# link type, first record's caplen/len, pcapng block length).  Prints the
# number of files written.
set -eu
out=$1; shift
mkdir -p "$out"
n=0

ff() {   # ff FILE OFFSET: four 0xff bytes at OFFSET, if the file is that long
    [ "$(wc -c <"$1")" -ge $(($2 + 4)) ] || return 0
    printf '\377\377\377\377' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

for cap in "$@"; do
    base=$(basename "$cap" | tr -c 'A-Za-z0-9._\n-' '_')
    size=$(wc -c <"$cap")
    for spec in 1:0.01 2:0.01 3:0.01 4:0.1; do
        seed=${spec%%:*}; p=${spec#*:}
        if editcap -E "$p" --seed "$seed" "$cap" "$out/E$seed-$base" >/dev/null 2>&1; then
            n=$((n + 1))
        else
            rm -f "$out/E$seed-$base"
        fi
    done
    cut=$(awk -v s="$size" -v seed="$(printf %s "$base" | cksum | cut -d' ' -f1)" \
        'BEGIN { srand(seed); printf "0 12 24 30 40 %d %d %d", s/3, s/2, s-1;
                 for (i = 0; i < 3; i++) printf " %d", rand() * s }')
    for c in $cut; do
        head -c "$c" "$cap" >"$out/T$c-$base"
        n=$((n + 1))
    done
    for off in 4 8 16 20 32 36; do
        cp "$cap" "$out/F$off-$base"
        ff "$out/F$off-$base" "$off"
        n=$((n + 1))
    done
done
echo "$n"
