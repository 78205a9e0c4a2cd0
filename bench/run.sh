#!/bin/bash
# bench/run.sh -- reproduce every figure in bench/README.md with one command.
#
#   bench/run.sh [--no-big] [--no-tshark] [--runs N] [--seed N] [--profile]
#
# Builds smtpscope in Release (build-bench/), generates a 100 MB capture and
# (unless --no-big) a 1 GB one into bench/out/, checks pcapd's NDJSON counts
# against what the generator says it wrote, then on each file, reading it
# into the page cache before every run, times several runs of:
#   floor                    bare libpcap read + decode + flow lookup
#   pcapd --format ndjson    > /dev/null
#   pcapd                    default report > /dev/null
#   tshark built-in SMTP     -Y smtp.response -T fields ...
#   tshark + smtpscope       -Y smtpscope.reply.code -T fields ... (if the plugin is built)
# and pcapd -j 1 / -j 2 over four 100 MB files and on each single file (if
# pcapd --help lists -j),
# and prints the median wall time, MB/s, packets/s and peak RSS of each, then
# the ratios the targets are stated in, and the core micro-benchmark.
# --profile also samples pcapd (on the biggest file) and core_bench with perf
# and prints the functions with the most self time.
# Results are also written to bench/out/results.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SMTPSCOPE_BENCH_BUILD:-$ROOT/build-bench}
OUT=$ROOT/bench/out
RUNS=9            # per tool on the 100 MB file (runs of ~50 ms are noisy)
BIG_RUNS=5        # per fast tool on the 1 GB file
TSHARK_RUNS=3     # tshark on the 100 MB file (about 4 s a run)
BIG_TSHARK_RUNS=2 # tshark on the 1 GB file (about 35 s a run)
JOBS_RUNS=9       # pcapd -j 1 / -j 2 pairs, run alternately
SEED=1
BIG=1
PROFILE=0
NO_TSHARK=0

while [ $# -gt 0 ]; do
    case $1 in
    --no-big) BIG=0 ;;
    --no-tshark) NO_TSHARK=1 ;;
    --runs) RUNS=$2; BIG_RUNS=$2; JOBS_RUNS=$2; shift ;;
    --seed) SEED=$2; shift ;;
    --profile) PROFILE=1 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

[ -x /usr/bin/time ] || { echo "run.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 1; }
mkdir -p "$OUT"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
RESULTS=$OUT/results.txt
: >"$RESULTS"
say() { echo "$@" | tee -a "$RESULTS"; }

# --- build -----------------------------------------------------------------
say "== build (Release) in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$TMP/cmake.log" 2>&1 ||
    { cat "$TMP/cmake.log" >&2; exit 1; }
cmake --build "$BUILD" -j2 >"$TMP/build.log" 2>&1 ||
    echo "run.sh: full build failed; building the benchmark targets one by one" >&2
for t in gencap floor core_bench pcapd; do
    cmake --build "$BUILD" -j2 --target "$t" >>"$TMP/build.log" 2>&1 || echo "run.sh: target $t does not build" >&2
done
GENCAP=$BUILD/bench/gencap
FLOOR=$BUILD/bench/floor
CORE_BENCH=$BUILD/bench/core_bench
PCAPD=$(find "$BUILD" -name pcapd -type f -perm -u+x -print -quit 2>/dev/null)
PLUGIN=$(find "$BUILD" -name 'smtpscope*.so' -type f -print -quit 2>/dev/null)
[ -x "$GENCAP" ] && [ -x "$FLOOR" ] || { echo "run.sh: gencap/floor did not build" >&2; tail -30 "$TMP/build.log" >&2; exit 1; }

# --- machine -----------------------------------------------------------------
say "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -g | awk '/^Mem:/ {print $2}') GB RAM, $(uname -r)"
say "== date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- inputs ------------------------------------------------------------------
# gencap_file SIZE -> path; the generator's counts go to PATH.counts.
gencap_file() {
    local f=$OUT/gen-$1-seed$SEED.pcap
    if [ ! -s "$f" ] || [ ! -s "$f.counts" ] || [ "$GENCAP" -nt "$f" ]; then
        "$GENCAP" --size "$1" --seed "$SEED" -o "$f" 2>"$f.counts"
    fi
    echo "$f"
}
count() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$2"; }

SIZES=(100M)
if [ "$BIG" = 1 ]; then SIZES+=(1G); fi
declare -A FILE BYTES FRAMES
for s in "${SIZES[@]}"; do
    t0=$(date +%s%N)
    FILE[$s]=$(gencap_file "$s")
    BYTES[$s]=$(stat -c %s "${FILE[$s]}")
    FRAMES[$s]=$(count frames "${FILE[$s]}.counts")
    t1=$(date +%s%N)
    say "== input $s: ${FILE[$s]} ($(stat -c %s "${FILE[$s]}") bytes, generated or reused in $(( (t1 - t0) / 1000000 )) ms)"
    say "   $(cat "${FILE[$s]}.counts")"
    say "   sha256 $(sha256sum <"${FILE[$s]}" | cut -d' ' -f1)"
done

# --- tshark set-up -------------------------------------------------------------
# tshark 4.0 ignores plugin directories when run as root, so both tshark rows
# run as nobody with the same environment; only the plugin row gets the
# plugin directory.
TSHARK=$(command -v tshark || true)
if [ "$NO_TSHARK" = 1 ]; then TSHARK=; fi
AS_NOBODY=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$TMP/home")
mkdir -p "$TMP/home" "$TMP/noplugins" "$TMP/plugins/4.0/epan"
chmod -R a+rwx "$TMP"
chmod a+rx "$OUT"
PLUGIN_OK=0
if [ -z "$TSHARK" ]; then
    say "!! tshark not installed (or --no-tshark): tshark rows skipped"
elif [ -z "$PLUGIN" ]; then
    say "!! smtpscope plugin not built (no smtpscope*.so under $BUILD): plugin row skipped"
else
    cp "$PLUGIN" "$TMP/plugins/4.0/epan/smtpscope.so"
    chmod a+rx "$TMP/plugins/4.0/epan/smtpscope.so"
    if "${AS_NOBODY[@]}" WIRESHARK_PLUGIN_DIR="$TMP/plugins" "$TSHARK" -G fields 2>"$TMP/plugin.err" |
        grep -q $'\tsmtpscope.reply.code\t'; then
        PLUGIN_OK=1
    else
        say "!! $PLUGIN does not load in tshark or has no field smtpscope.reply.code: plugin row skipped"
        say "   $(grep -m1 -i plugin "$TMP/plugin.err" || true)"
    fi
fi
TSHARK_BUILTIN=("${AS_NOBODY[@]}" WIRESHARK_PLUGIN_DIR="$TMP/noplugins" "$TSHARK")
TSHARK_PLUGIN=("${AS_NOBODY[@]}" WIRESHARK_PLUGIN_DIR="$TMP/plugins" "$TSHARK")

PCAPD_J=0
if [ -n "$PCAPD" ] && "$PCAPD" --help 2>&1 | grep -qE '(^|[ ,])-j'; then
    PCAPD_J=1
fi
[ -n "$PCAPD" ] || say "!! pcapd did not build: pcapd rows skipped"

# --- correctness check on the 100 MB file --------------------------------------
# pcapd must find exactly what the generator wrote; tshark's counts are shown
# for comparison (frames holding replies, not replies: a frame may hold many).
f=${FILE[100M]}
if [ -n "$PCAPD" ]; then
    "$PCAPD" --format ndjson "$f" >"$TMP/out.ndjson" 2>"$TMP/pcapd.err" || true
    say "== check: pcapd --format ndjson on 100M vs the generator's counts"
    for pair in conversation:conversations transaction:transactions reply:replies command:commands; do
        type=${pair%%:*} key=${pair#*:}
        got=$(grep -cE "\"type\": ?\"$type\"" "$TMP/out.ndjson" || true)
        want=$(count "$key" "$f.counts")
        if [ "$got" = "$want" ]; then verdict=ok; else verdict=MISMATCH; fi
        say "   $(printf '%-13s pcapd %-7s generator %-7s %s' "$type" "$got" "$want" "$verdict")"
    done
fi
if [ -n "$TSHARK" ]; then
    n=$("${TSHARK_BUILTIN[@]}" -r "$f" -Y smtp.response -T fields -e frame.number 2>/dev/null | wc -l)
    say "   tshark built-in: $n frames with smtp.response"
    if [ "$PLUGIN_OK" = 1 ]; then
        n=$("${TSHARK_PLUGIN[@]}" -r "$f" -Y smtpscope.reply.code -T fields -e frame.number 2>/dev/null | wc -l)
        say "   tshark + plugin: $n frames with smtpscope.reply.code"
    fi
fi

# --- timing ------------------------------------------------------------------
# measure LABEL SIZE RUNS CMD... (inputs in WARM): median wall time, median
# CPU time (user + system) and the largest peak RSS over the runs.  MB/s and packets/s are
# per CPU second: on a quiet machine that equals wall time for these
# single-threaded programs (the file is in the page cache), and it is far
# less disturbed than wall time when other work shares the cores.
declare -A SECS CPU RSS WALLS CPUS PEAK
median() { sort -n | sed -n "$((($1 + 1) / 2))p"; }
# run_once LABEL SIZE CMD...: one timed run, added to LABEL@SIZE's samples.
run_once() {
    local key=$1@$2 w u sy r
    shift 2
    local TIMEFORMAT='%3R %3U %3S'
    # This VM drops page-cache pages within minutes, so the input is read
    # back into memory right before every run.
    cat "${WARM[@]}" >/dev/null
    # bash's time (millisecond CPU times) around /usr/bin/time (peak RSS).
    if ! { time /usr/bin/time -f '%M' -o "$TMP/rss" "$@" >/dev/null 2>"$TMP/err"; } 2>"$TMP/times"; then
        say "!! ${key%@*} on ${key#*@} failed: $(tail -2 "$TMP/err" | tr '\n' ' ')"
        return 1
    fi
    read -r w u sy <"$TMP/times"
    WALLS[$key]+=" $(awk -v w="$w" 'BEGIN { printf "%d", w * 1e6 }')"
    CPUS[$key]+=" $(awk -v u="$u" -v s="$sy" 'BEGIN { printf "%d", (u + s) * 1e6 }')"
    r=$(tail -1 "$TMP/rss")
    if ((r > ${PEAK[$key]:-0})); then PEAK[$key]=$r; fi
}
# report LABEL SIZE: medians of LABEL@SIZE's samples, printed and kept.
report() {
    local label=$1 size=$2 key=$1@$2 runs best
    [ -n "${WALLS[$key]:-}" ] || return 0
    runs=$(echo ${WALLS[$key]} | wc -w)
    SECS[$key]=$(printf '%s\n' ${WALLS[$key]} | median "$runs")
    CPU[$key]=$(printf '%s\n' ${CPUS[$key]} | median "$runs")
    best=$(printf '%s\n' ${CPUS[$key]} | sort -n | sed -n 1p)
    RSS[$key]=${PEAK[$key]}
    local bytes=${BYTES[$size]} frames=${FRAMES[$size]}
    say "$(awk -v l="$label" -v s="$size" -v us="${SECS[$key]}" -v cpu="${CPU[$key]}" \
        -v b="$bytes" -v fr="$frames" -v kb="${RSS[$key]}" -v n="$runs" -v best="$best" 'BEGIN {
            printf "%-16s %-4s wall %7.3f s  cpu %7.3f s (best %7.3f) %7.0f MB/s %8.0f pkt/s %7.1f MB RSS  (%d runs)\n",
                   l, s, us / 1e6, cpu / 1e6, best / 1e6, b / cpu, fr / (cpu / 1e6), kb / 1024, n }')"
}
# measure LABEL SIZE RUNS CMD... (inputs in WARM): median wall time, median
# CPU time (user + system) and the largest peak RSS over the runs.  MB/s and
# packets/s are per CPU second: on a quiet machine that equals wall time for
# these single-threaded programs (the file is in the page cache), and it is
# far less disturbed than wall time when other work shares the cores.
measure() {
    local label=$1 size=$2 runs=$3 i
    shift 3
    for ((i = 0; i < runs; i++)); do run_once "$label" "$size" "$@" || return 0; done
    report "$label" "$size"
}
# measure_jobs LABEL SIZE RUNS INPUT...: pcapd --format ndjson with -j 1 and
# -j 2, run alternately, so that a change in the machine's load between
# runs weighs on both alike (as LABEL-j1 and LABEL-j2).
measure_jobs() {
    local label=$1 size=$2 runs=$3 i
    shift 3
    for ((i = 0; i < runs; i++)); do
        run_once "$label-j1" "$size" "$PCAPD" -j 1 --format ndjson "$@" || return 0
        run_once "$label-j2" "$size" "$PCAPD" -j 2 --format ndjson "$@" || return 0
    done
    report "$label-j1" "$size"
    report "$label-j2" "$size"
}

for s in "${SIZES[@]}"; do
    f=${FILE[$s]}
    if [ "$s" = 100M ]; then runs=$RUNS truns=$TSHARK_RUNS; else runs=$BIG_RUNS truns=$BIG_TSHARK_RUNS; fi
    WARM=("$f")
    say "== $s: $(basename "$f")"
    measure floor "$s" "$runs" "$FLOOR" "$f"
    if [ -n "$PCAPD" ]; then
        measure pcapd-ndjson "$s" "$runs" "$PCAPD" --format ndjson "$f"
        measure pcapd-report "$s" "$runs" "$PCAPD" "$f"
    fi
    if [ -n "$TSHARK" ]; then
        measure tshark-builtin "$s" "$truns" "${TSHARK_BUILTIN[@]}" -r "$f" -Y smtp.response \
            -T fields -e frame.number -e tcp.stream -e smtp.response.code
        if [ "$PLUGIN_OK" = 1 ]; then
            measure tshark-plugin "$s" "$truns" "${TSHARK_PLUGIN[@]}" -r "$f" \
                -Y smtpscope.reply.code -T fields -e frame.number -e tcp.stream -e smtpscope.reply.code
        fi
    fi
done

# --- pcapd -j over several files ------------------------------------------------
# pcapd -j N reads up to N files at once; four 100 MB files (seeds SEED to
# SEED+3) are read with -j 1 and -j 2.
if [ "$PCAPD_J" = 1 ]; then
    many=("${FILE[100M]}")
    BYTES[4x100M]=${BYTES[100M]} FRAMES[4x100M]=${FRAMES[100M]}
    for extra in 1 2 3; do
        f=$(SEED=$((SEED + extra)) gencap_file 100M)
        many+=("$f")
        BYTES[4x100M]=$((BYTES[4x100M] + $(stat -c %s "$f")))
        FRAMES[4x100M]=$((FRAMES[4x100M] + $(count frames "$f.counts")))
    done
    WARM=("${many[@]}")
    say "== 4 files of 100M (seeds $SEED-$((SEED + 3)))"
    measure_jobs pcapd-ndjson 4x100M "$JOBS_RUNS" "${many[@]}"
else
    say "!! pcapd has no -j: multi-file scaling not measured"
fi

# --- pcapd -j on one file ------------------------------------------------------
# One file with -j 2: connections split across two trackers, the classic pcap
# file read in slices by two threads.  The report must not change.
if [ "$PCAPD_J" = 1 ]; then
    for s in "${SIZES[@]}"; do
        f=${FILE[$s]}
        WARM=("$f")
        a=$("$PCAPD" -q --format ndjson "$f" | sha256sum | cut -d' ' -f1)
        b=$("$PCAPD" -q -j 2 --format ndjson "$f" | sha256sum | cut -d' ' -f1)
        if [ "$a" = "$b" ]; then verdict="identical"; else verdict="DIFFERENT"; fi
        say "== one file of $s with -j 2 (report $verdict to -j 1)"
        measure_jobs pcapd-one "$s" "$JOBS_RUNS" "$f"
    done
fi

# --- ratios ------------------------------------------------------------------
# ratio NAME A B TARGET: A/B of the median wall times and of the median CPU
# times, or of the peak RSS when A and B start with RSS:.
ratio() {
    local name=$1 a=$2 b=$3 target=$4
    if [[ $a == RSS:* ]]; then
        a=${a#RSS:} b=${b#RSS:}
        [ -n "${RSS[$a]:-}" ] && [ -n "${RSS[$b]:-}" ] || return 0
        say "$(awk -v n="$name" -v a="${RSS[$a]}" -v b="${RSS[$b]}" -v t="$target" \
            'BEGIN { printf "%-38s %6.2f             (target %s)\n", n, a / b, t }')"
        return 0
    fi
    [ -n "${SECS[$a]:-}" ] && [ -n "${SECS[$b]:-}" ] || return 0
    say "$(awk -v n="$name" -v a="${SECS[$a]}" -v b="${SECS[$b]}" -v ca="${CPU[$a]}" -v cb="${CPU[$b]}" -v t="$target" \
        'BEGIN { printf "%-38s %6.2f wall %6.2f cpu  (target %s)\n", n, a / b, (cb > 0 ? ca / cb : 0), t }')"
}
say "== ratios"
for s in "${SIZES[@]}"; do
    ratio "pcapd ndjson / floor ($s)" "pcapd-ndjson@$s" "floor@$s" "<= 2, aim 1.5"
    ratio "pcapd report / floor ($s)" "pcapd-report@$s" "floor@$s" "<= 2, aim 1.5"
    ratio "tshark built-in / pcapd ndjson ($s)" "tshark-builtin@$s" "pcapd-ndjson@$s" ">= 30"
    ratio "tshark plugin / tshark built-in ($s)" "tshark-plugin@$s" "tshark-builtin@$s" "<= 1.10"
done
ratio "pcapd -j 1 / pcapd -j 2 (4 files)" "pcapd-ndjson-j1@4x100M" "pcapd-ndjson-j2@4x100M" "wall close to 2 on 2 cores"
for s in "${SIZES[@]}"; do
    ratio "pcapd -j 1 / pcapd -j 2 (one file, $s)" "pcapd-one-j1@$s" "pcapd-one-j2@$s" "wall close to 2 on 2 cores"
done
if [ "$BIG" = 1 ]; then
    ratio "pcapd ndjson peak RSS 1G / 100M" "RSS:pcapd-ndjson@1G" "RSS:pcapd-ndjson@100M" "<= 1.2, and < 64 MB"
    ratio "pcapd report peak RSS 1G / 100M" "RSS:pcapd-report@1G" "RSS:pcapd-report@100M" "<= 1.2, and < 64 MB"
fi

# --- core micro-benchmark -------------------------------------------------------
if [ -x "$CORE_BENCH" ]; then
    say "== core micro-benchmark (in-memory, single thread)"
    "$CORE_BENCH" --mb 64 --body-mb 64 --reps 5 | tee -a "$RESULTS"
else
    say "!! core_bench did not build: core micro-benchmark skipped"
fi

# --- profile -----------------------------------------------------------------
# Self time per function, from cpu-clock samples (no hardware counters are
# needed, so it works in a VM).  pcapd is profiled on the biggest file made
# (more samples), the core on core_bench's in-memory conversations.
perf_top() {   # perf_top TITLE CMD...
    local title=$1
    shift
    say "== perf profile: $title (self time, cpu-clock samples)"
    perf record -e cpu-clock -F 4000 -o "$TMP/perf.data" "$@" >/dev/null 2>"$TMP/perf.err" || {
        say "!! perf record failed: $(tail -1 "$TMP/perf.err")"
        return 0
    }
    perf report -i "$TMP/perf.data" --stdio --sort dso,symbol 2>/dev/null |
        grep -E '^ +[0-9.]+%' | sed -E 's/ +- +- *$//' | sed -n "1,${PERF_TOP:-25}p" | tee -a "$RESULTS"
}
if [ "$PROFILE" = 1 ]; then
    if command -v perf >/dev/null && perf record -e cpu-clock -o "$TMP/probe.data" true >/dev/null 2>&1; then
        big=${FILE[1G]:-${FILE[100M]}}
        if [ -n "$PCAPD" ]; then
            cat "$big" >/dev/null
            perf_top "pcapd --format ndjson $(basename "$big")" "$PCAPD" --format ndjson "$big"
        fi
        if [ -x "$CORE_BENCH" ]; then
            # Many repetitions, so that building the conversations (gen_*)
            # is a small part of the samples.
            PERF_TOP=15 perf_top "core_bench --reps 40 (engine and reassembler on in-memory streams)" \
                "$CORE_BENCH" --mb 64 --body-mb 64 --reps 40
        fi
    else
        say "!! perf cannot record here: profile skipped (try valgrind --tool=callgrind)"
    fi
fi
say "== results written to $RESULTS"
