#!/usr/bin/env bash
# Benchmark: sfrun throughput on one core, end to end (JSON lines in, replies
# out, every request a committed transaction), for single-entity calls and
# two-account transfers over 10,000 accounts. Targets: 200,000 calls/s and
# 50,000 transfers/s. Usage: bench/sfrun_bench.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-500000}
accounts=10000
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$build/bin/sfc" bench/apps/accounts.py -o "$tmp/app.sfir"
bench/gen_requests.py accounts $accounts > "$tmp/setup.jsonl"
bench/gen_requests.py calls "$n" $accounts > "$tmp/calls.jsonl"
bench/gen_requests.py transfers "$n" $accounts > "$tmp/transfers.jsonl"
run() { # name file
  cat "$tmp/setup.jsonl" "$2" > "$tmp/in.jsonl"
  local s e
  s=$(date +%s%N)
  taskset -c 0 "$build/bin/sfrun" "$tmp/app.sfir" < "$tmp/in.jsonl" > "$tmp/out.jsonl"
  e=$(date +%s%N)
  local replies errors
  replies=$(wc -l < "$tmp/out.jsonl")
  errors=$(grep -c '"error"' "$tmp/out.jsonl" || true)
  local ms=$(( (e - s) / 1000000 ))
  echo "$1: $replies requests in ${ms} ms = $(( replies * 1000 / (ms > 0 ? ms : 1) )) req/s (errors: $errors)"
}
run "single-entity calls" "$tmp/calls.jsonl"
run "two-account transfers" "$tmp/transfers.jsonl"
