#!/usr/bin/env bash
# Benchmark (not a test): write system calls per committed transaction
# (issue 11, item 2: frames of one connection coalesced into one write per
# loop turn; docs/benchmarks.md "Writes per transaction"). For every build
# directory given, in turn: start `stateflowd --local bench/apps/accounts.py
# --workers 2`, load the accounts, run ycsbt workload T with uniform keys,
# closed loop, over the native protocol and then over HTTP, and count with
# `perf stat` (syscall tracepoints) the write-side system calls (write,
# writev, sendmsg, sendto) and the reads (read, readv, recvfrom, recvmsg) of
# the coordinator and of each worker during the measured window, together
# with their CPU time. Reports each per committed transaction; every run
# also passes ycsbt's exactly-once and closed-economy checks (--validate).
#
# Usage: bench/netio.sh BUILD_DIR [BUILD_DIR...]
#        (env: RECORDS=10000 CONNECTIONS=8 OUTSTANDING=1024 DURATION=10
#         WARMUP=2 DRIVERS="native http" ROUNDS=1 YCSBT=one/ycsbt/for/all)
# Several build directories (say one built from the commit before) are run
# alternately, ROUNDS times, so that they see the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/netio.sh BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }
records=${RECORDS:-10000}
connections=${CONNECTIONS:-8}
outstanding=${OUTSTANDING:-1024}
duration=${DURATION:-10}
warmup=${WARMUP:-2}
drivers=${DRIVERS:-native http}
rounds=${ROUNDS:-1}
py=/usr/bin/python3
command -v perf > /dev/null || { echo "netio.sh: perf is needed" >&2; exit 2; }
for build in "$@"; do
  for b in sfc stateflowd ycsbt; do
    [ -x "$build/bin/$b" ] || { echo "netio.sh: $build/bin/$b missing (build first)" >&2; exit 2; }
  done
done

tmp=$(mktemp -d /tmp/sfnetio-XXXXXX)
sfd_pid=
cleanup() {
  if [ -n "$sfd_pid" ] && kill -0 "$sfd_pid" 2> /dev/null; then
    kill -TERM "$sfd_pid" 2> /dev/null || true
    wait "$sfd_pid" 2> /dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { $py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$@"; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
events=syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto
events=$events,syscalls:sys_enter_read,syscalls:sys_enter_readv,syscalls:sys_enter_recvfrom,syscalls:sys_enter_recvmsg
hz=$(getconf CLK_TCK)

start_sfd() { # build
  local build=$1
  "$build/bin/sfc" bench/apps/accounts.py -o "$tmp/app.sfir"
  hport=$(free_port)
  nport=$(free_port)
  rm -rf "$tmp/data"
  "$build/bin/stateflowd" --local "$tmp/app.sfir" --workers 2 --http "127.0.0.1:$hport" \
    --native "127.0.0.1:$nport" --data "$tmp/data" 2> "$tmp/sfd.log" &
  sfd_pid=$!
  for _ in $(seq 1 200); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/healthz")" = 200 ] && break
    sleep 0.1
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/healthz")" = 200 ] ||
    { echo "netio.sh: stateflowd did not become ready" >&2; cat "$tmp/sfd.log" >&2; exit 1; }
  "$build/bin/ycsbt" --target "stateflow://127.0.0.1:$nport" --token-file "$tmp/data/cluster.token" \
    --workload T --records "$records" --load --duration 0 --quiet > /dev/null
}

stop_sfd() {
  kill -TERM "$sfd_pid" 2> /dev/null || true
  wait "$sfd_pid" 2> /dev/null || true
  sfd_pid=
}

# One closed-loop run; prints one line.
run() { # build label driver
  local build=$1 label=$2 driver=$3 target pids p names i
  if [ "$driver" = native ]; then target="stateflow://127.0.0.1:$nport"; else target="http://127.0.0.1:$hport"; fi
  pids="$sfd_pid $(cat "/proc/$sfd_pid/task/$sfd_pid/children")"
  "${YCSBT:-$build/bin/ycsbt}" --target "$target" --token-file "$tmp/data/cluster.token" --workload T \
    --dist uniform --records "$records" --connections "$connections" --outstanding "$outstanding" \
    --warmup "$warmup" --duration "$duration" --validate --quiet --json "$tmp/run.json" > "$tmp/run.txt" 2>&1 &
  local yc=$!
  sleep "$warmup"
  i=0
  local perfs=""
  for p in $pids; do
    echo "$(ticks "$p")" > "$tmp/t0.$i"
    perf stat -x, -e "$events" -p "$p" -o "$tmp/perf.$i" -- sleep "$duration" 2> /dev/null &
    perfs="$perfs $!"
    i=$((i + 1))
  done
  # shellcheck disable=SC2086
  wait $perfs
  local st=0
  wait "$yc" || st=$?
  [ "$st" -eq 0 ] || { echo "netio.sh: ycsbt failed (exit $st):" >&2; cat "$tmp/run.txt" >&2; }
  local tps ops
  tps=$(json "$tmp/run.json" 'tps')
  ops=$($py -c "print($tps * $duration)")
  local line
  line=$(printf '%-20s %-6s %9.0f tx/s p50 %6s ms' "$label" "$driver" "$tps" "$(json "$tmp/run.json" 'latency_ms["p50"]')")
  i=0
  names=(coord w1 w2 w3 w4)
  local wsum=0 rsum=0
  for p in $pids; do
    local t0 t1 w r cpu
    t0=$(cat "$tmp/t0.$i")
    t1=$(ticks "$p" 2> /dev/null || echo "$t0")
    w=$(awk -F, '$3 ~ /sys_enter_(write|writev|sendmsg|sendto)$/ { s += $1 } END { print s + 0 }' "$tmp/perf.$i")
    r=$(awk -F, '$3 ~ /sys_enter_(read|readv|recvfrom|recvmsg)$/ { s += $1 } END { print s + 0 }' "$tmp/perf.$i")
    cpu=$($py -c "print('%.0f' % (100.0 * ($t1 - $t0) / $hz / $duration))")
    line="$line | ${names[$i]} w/tx $($py -c "print('%.2f' % ($w / max(1, $ops)))") r/tx $($py -c "print('%.2f' % ($r / max(1, $ops)))") cpu ${cpu}%"
    wsum=$((wsum + w))
    rsum=$((rsum + r))
    i=$((i + 1))
  done
  line="$line | all w/tx $($py -c "print('%.2f' % ($wsum / max(1, $ops)))") r/tx $($py -c "print('%.2f' % ($rsum / max(1, $ops)))")"
  if [ "$st" -eq 0 ]; then line="$line | checks ok"; else line="$line | checks FAILED"; fi
  echo "$line"
}

echo "ycsbt T uniform, closed loop, $outstanding in flight, $connections connections, $records accounts," \
     "${duration} s after ${warmup} s; stateflowd --local --workers 2; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$rounds"); do
  for build in "$@"; do
    start_sfd "$build"
    for d in $drivers; do
      run "$build" "$build" "$d"
    done
    stop_sfd
  done
done
