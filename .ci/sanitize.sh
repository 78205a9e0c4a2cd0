#!/bin/sh
# sanitize.sh -- the whole test suite under ASan+UBSan, pcapd -j under
# ThreadSanitizer, then every fuzzer for a bounded time.  Fails on any test
# failure, data race or fuzzer finding.
#
# Usage: sh .ci/sanitize.sh            (from anywhere in a clone, as root)
# Environment:
#   FUZZ_SECONDS  time per fuzz target (default 60; 0 skips fuzzing)
#   BUILD_DIR     build directory (default build-san)
#   TSAN_BUILD_DIR  ThreadSanitizer build of pcapd (default build-tsan)
#   JOBS          parallel build and test jobs (default 2)
#   SANITIZE_PLUGIN_TESTS=1  also run the tests labelled "plugin" (see below)
# Findings are written to $BUILD_DIR/fuzz-findings/<target>/; copy each one
# into fuzz/regressions/<target>/ once understood (see fuzz/README.md).
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
build=${BUILD_DIR:-build-san}
seconds=${FUZZ_SECONDS:-60}
jobs=${JOBS:-2}

command -v clang >/dev/null || { echo "sanitize: clang is missing (run scripts/setup.sh)" >&2; exit 1; }

CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSMTPSCOPE_SANITIZE=ON -DSMTPSCOPE_FUZZ=ON >/dev/null
cmake --build "$build" -j"$jobs"

# Leaks are findings too; a report must name its stack.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The plugin built here is ASan-instrumented: tshark can only load it with
# the ASan runtime preloaded.  robustness_plugin_mutants does that (and runs
# the plugin over every sample and its mutants); the "plugin" label's tests
# start tshark without it, so they are left to the normal build unless asked.
skip_label="-LE ^plugin$"
[ "${SANITIZE_PLUGIN_TESTS:-0}" = 1 ] && skip_label=""
# shellcheck disable=SC2086
ctest --test-dir "$build" --output-on-failure -j"$jobs" $skip_label

# pcapd -j splits one capture across threads: run it under ThreadSanitizer
# on every sample, cut into small slices so that readers, workers and the
# merge all interleave.  (G_SLICE=always-malloc: GLib's slice allocator
# hands blocks between threads in ways TSan cannot see.)
tsan=${TSAN_BUILD_DIR:-build-tsan}
CC=clang cmake -S . -B "$tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=thread" >/dev/null
cmake --build "$tsan" -j"$jobs" --target pcapd >/dev/null
races=0
for f in samples/*.pcap samples/*.pcapng samples/*.gz; do
    [ -f "$f" ] || continue
    rc=0
    G_SLICE=always-malloc TSAN_OPTIONS="halt_on_error=1 exitcode=66" SMTPSCOPE_SLICE_BYTES=1500 \
        "$tsan/pcapd/pcapd" -q -j 3 --format ndjson "$f" >/dev/null 2>"$tsan/tsan.log" || rc=$?
    if [ "$rc" -eq 66 ]; then
        echo "sanitize: ThreadSanitizer report on pcapd -j 3 $f:" >&2
        grep -A12 "WARNING: ThreadSanitizer" "$tsan/tsan.log" | head -30 >&2
        races=1
    fi
done
[ "$races" -eq 0 ] || exit 1
echo "sanitize: pcapd -j 3 on every sample under ThreadSanitizer: no race"

[ "$seconds" -gt 0 ] || exit 0
status=0
for fuzzer in "$build"/fuzz/fuzz_*; do
    case $fuzzer in *_replay|*.*) continue ;; esac
    [ -x "$fuzzer" ] || continue
    name=$(basename "$fuzzer" | sed 's/^fuzz_//')
    work="$build/fuzz-corpus/$name"
    findings="$build/fuzz-findings/$name"
    mkdir -p "$work" "$findings"
    echo "sanitize: fuzzing $name for ${seconds}s"
    # New inputs go to the scratch corpus; the committed seeds are read only.
    if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
            -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" \
            "$work" "$top/fuzz/corpus/$name" >"$build/fuzz-$name.log" 2>&1; then
        echo "sanitize: fuzz_$name found a problem; input in $findings/, log in $build/fuzz-$name.log" >&2
        grep -E "ERROR|invariant failed|SUMMARY|Test unit written" "$build/fuzz-$name.log" | head -20 >&2
        status=1
    else
        grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$build/fuzz-$name.log" |
            sed "s/^/sanitize: $name: /"
    fi
done
exit $status
