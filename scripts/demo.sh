#!/usr/bin/env bash
# README's main command: set up, build, compile the shop example, show what
# the compiler made of it, and run a few requests through sfrun.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "\$ sfc examples/shop/app.py -o shop.sfir"
build/bin/sfc examples/shop/app.py -o "$out/shop.sfir"
echo "\$ sfc --dump shop.sfir"
build/bin/sfc --dump "$out/shop.sfir"
echo
echo "\$ sfrun shop.sfir < examples/shop/requests.jsonl"
paste -d'\n' examples/shop/requests.jsonl <(build/bin/sfrun "$out/shop.sfir" < examples/shop/requests.jsonl) \
  | awk 'NR % 2 == 1 { print "> " $0; next } { print "< " $0 }'
