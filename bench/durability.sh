#!/usr/bin/env bash
# Benchmark (not a test): the cost of the durable log (issue 9;
# docs/durability.md "Cost"). In one run, for each of --durability on and
# off (alternating, ROUNDS times): start `stateflowd --local` on
# bench/apps/accounts.py in a fresh data directory, load the accounts with
# ycsbt, then workload T (transfers), uniform keys, closed loop, and print
# the committed tx/s, p50 and p99 and the closed-economy check. At the end:
# the median tx/s of each mode and on/off.
#
# Usage: bench/durability.sh [BUILD_DIR]    (env: WORKERS=2 RECORDS=10000
#        CONNECTIONS=8 OUTSTANDING=1024 WARMUP=2 DURATION=10 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
workers=${WORKERS:-2}
records=${RECORDS:-10000}
connections=${CONNECTIONS:-8}
outstanding=${OUTSTANDING:-1024}
warmup=${WARMUP:-2}
duration=${DURATION:-10}
rounds=${ROUNDS:-2}
py=/usr/bin/python3
for b in sfc stateflowd ycsbt; do
  [ -x "$build/bin/$b" ] || { echo "durability.sh: $build/bin/$b missing (build first)" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/sfdurbench-XXXXXX)
sfd_pid=
cleanup() {
  if [ -n "$sfd_pid" ] && kill -0 "$sfd_pid" 2>/dev/null; then
    kill -TERM "$sfd_pid" 2>/dev/null || true
    wait "$sfd_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { $py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$@"; }

"$build/bin/sfc" bench/apps/accounts.py -o "$tmp/app.sfir"
run() { # mode round
  local mode=$1 r=$2 hport nport data="$tmp/data-$1-$2"
  hport=$(free_port)
  nport=$(free_port)
  "$build/bin/stateflowd" --local "$tmp/app.sfir" --workers "$workers" --http "127.0.0.1:$hport" \
    --native "127.0.0.1:$nport" --data "$data" --durability "$mode" 2> "$tmp/sfd-$mode-$r.log" &
  sfd_pid=$!
  for _ in $(seq 1 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/healthz")" = 200 ] && break
    sleep 0.1
  done
  local t=(--target "stateflow://127.0.0.1:$nport" --token-file "$data/cluster.token" --workload T
           --records "$records")
  "$build/bin/ycsbt" "${t[@]}" --load --duration 0 > /dev/null 2>&1
  "$build/bin/ycsbt" "${t[@]}" --connections "$connections" --outstanding "$outstanding" \
    --warmup "$warmup" --duration "$duration" --validate --json "$tmp/$mode-$r.json" > /dev/null 2>&1 || true
  kill -TERM "$sfd_pid"
  wait "$sfd_pid" || true
  sfd_pid=
  printf '%-4s round %d: %8.0f tx/s  p50 %6.2f ms  p99 %6.2f ms  %s\n' "$mode" "$r" \
    "$(json "$tmp/$mode-$r.json" 'tps')" "$(json "$tmp/$mode-$r.json" 'latency_ms["p50"]')" \
    "$(json "$tmp/$mode-$r.json" 'latency_ms["p99"]')" "$(json "$tmp/$mode-$r.json" '"money conserved" if (validation or {}).get("ok") else "VALIDATION FAILED"')"
  echo "$(json "$tmp/$mode-$r.json" 'tps')" >> "$tmp/$mode.tps"
}
for r in $(seq 1 "$rounds"); do
  run on "$r"
  run off "$r"
done
$py - "$tmp/on.tps" "$tmp/off.tps" <<'PY'
import statistics, sys
on = [float(x) for x in open(sys.argv[1])]
off = [float(x) for x in open(sys.argv[2])]
m_on, m_off = statistics.median(on), statistics.median(off)
print("median: on %.0f tx/s, off %.0f tx/s, on/off %.2f" % (m_on, m_off, m_on / m_off if m_off else 0))
PY
