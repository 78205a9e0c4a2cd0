#!/bin/sh
# make-seeds.sh -- regenerate the committed seed corpora in fuzz/corpus/.
#
# Usage: sh fuzz/make-seeds.sh            seeds from the dialogs in
#                                         make-seeds.py and samples/*.pcap*
#        sh fuzz/make-seeds.sh OUT DIR... extra seeds from every capture
#                                         under DIR, written to OUT (not
#                                         committed: e.g. ../shared/corpus)
# The committed corpus must stay under 1 MB; the script says if it does not.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -ge 2 ]; then
    out=$1; shift
    find "$@" -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.cap' \) -print0 |
        xargs -0 python3 "$here/make-seeds.py" "$out"
    echo "make-seeds: $(find "$out" -type f | wc -l) seeds in $out"
    exit 0
fi

rm -rf "$here/corpus"
set -- $(find "$here/../samples" -maxdepth 1 -type f \( -name '*.pcap' -o -name '*.pcapng' \) | sort)
python3 "$here/make-seeds.py" "$here/corpus" "$@"
size=$(find "$here/corpus" -type f -exec cat {} + | wc -c)
echo "make-seeds: $(find "$here/corpus" -type f | wc -l) seeds, $((size / 1024)) KB in fuzz/corpus"
if [ "$size" -ge 1048576 ]; then
    echo "make-seeds: corpus over 1 MB: drop the largest seeds before committing" >&2
    exit 1
fi
