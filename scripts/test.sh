#!/usr/bin/env bash
# Builds everything and runs every test: the normal build, the ASan+UBSan
# build, and a short run of every fuzz target. This is README's test command
# and what CI runs.
#   scripts/test.sh            all of it
#   SF_QUICK=1 scripts/test.sh normal build + tests only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc 2>/dev/null || echo 2)

echo "== build (RelWithDebInfo) =="
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"
echo "== tests =="
ctest --test-dir build --output-on-failure -j"$jobs"

if [ "${SF_QUICK:-0}" = 1 ]; then exit 0; fi

echo "== build (ASan + UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSF_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under ASan + UBSan =="
# CPython keeps interned objects alive at exit by design: leak checking
# covers our code through valgrind runs instead.
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"

echo "== fuzz targets (short runs) =="
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSF_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$jobs"
secs=${SF_FUZZ_SECONDS:-20}
for f in build-fuzz/fuzz/*; do
  [ -x "$f" ] || continue
  name=$(basename "$f")
  corpus="tests/fuzz/corpus_${name#fuzz_}"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "-- $name (${secs}s)"
  ASAN_OPTIONS=detect_leaks=0 "$f" -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=0 "$work" 2>&1 | tail -n 2
  rm -rf "$work"
done
echo "all tests passed"
