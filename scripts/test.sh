#!/bin/sh
# Build smtpscope and run the whole test suite: the normal build's ctest, then
# (unless SMTPSCOPE_QUICK=1) the same suite under ASan+UBSan with the fuzzers.
# Usage: sh scripts/test.sh       (from the top of a clone, as root on Debian 12)
set -eu
cd "$(dirname "$0")/.."

sh scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2

if [ "${SMTPSCOPE_QUICK:-0}" != 1 ] && [ -f .ci/sanitize.sh ]; then
    sh .ci/sanitize.sh
fi
