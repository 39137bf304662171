#!/usr/bin/env bash
# Benchmark (not a test): stateflowd under 3x overload (issue 8, item 6;
# docs/benchmarks.md "Overload"). Starts `stateflowd --local` on
# bench/apps/accounts.py, loads the accounts, then with ycsbt, workload T
# (transfers), zipfian keys:
#   1. capacity: closed loop, the best committed ops/s over a few numbers of
#      requests in flight (OUTSTANDING, default "64 256 1024": with zipfian
#      keys more in flight means more conflicts, so the most is not the best);
#   2. overload: open loop at 3x that rate for 10 s;
# and reports the committed throughput under overload against the capacity,
# the time from the end of the load until every request was answered, the
# requests refused as Overloaded (and what /metrics counted), the largest
# ingress backlog seen, the peak RSS (VmHWM) of the coordinator and the
# workers after each phase, and the closed-economy check (--validate).
#
# Usage: bench/overload.sh [BUILD_DIR]     (env: WORKERS=2 RECORDS=10000
#        OUTSTANDING=1024 CONNECTIONS=8 DURATION=10 FACTOR=3 EXTRA="flags")
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
workers=${WORKERS:-2}
records=${RECORDS:-10000}
outstanding=${OUTSTANDING:-64 256 1024}
connections=${CONNECTIONS:-8}
duration=${DURATION:-10}
factor=${FACTOR:-3}
extra=${EXTRA:-}
py=/usr/bin/python3
for b in sfc stateflowd ycsbt; do
  [ -x "$build/bin/$b" ] || { echo "overload.sh: $build/bin/$b missing (build first)" >&2; exit 2; }
done

tmp=$(mktemp -d /tmp/sfoverload-XXXXXX)
sfd_pid=
sampler_pid=
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null || true
  if [ -n "$sfd_pid" ] && kill -0 "$sfd_pid" 2>/dev/null; then
    kill -TERM "$sfd_pid" 2>/dev/null || true
    wait "$sfd_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json() { $py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$@"; }
metric() { # name (with labels): value from /metrics, 0 when absent
  curl -s "http://127.0.0.1:$hport/metrics" | awk -v n="$1" '$1 == n { print $2; f=1 } END { if (!f) print 0 }'
}
cpu() { # "coordinator X s, workers Y Z s": CPU time (user + system) so far
  local out w
  out="coordinator $(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$sfd_pid/stat") s, workers"
  for w in $(cat "/proc/$sfd_pid/task/$sfd_pid/children"); do
    out="$out $(awk '{ printf "%.1f", ($14 + $15) / 100 }' "/proc/$w/stat")"
  done
  echo "$out s"
}
rss() { # "coordinator X MiB, workers Y, Z MiB" from VmHWM
  local out w kb
  kb=$(awk '/VmHWM/ { print $2 }' "/proc/$sfd_pid/status")
  out="coordinator $((kb / 1024)) MiB, workers"
  for w in $(cat "/proc/$sfd_pid/task/$sfd_pid/children"); do
    kb=$(awk '/VmHWM/ { print $2 }' "/proc/$w/status")
    out="$out $((kb / 1024))"
  done
  echo "$out MiB"
}

"$build/bin/sfc" bench/apps/accounts.py -o "$tmp/app.sfir"
hport=$(free_port)
nport=$(free_port)
# shellcheck disable=SC2086
"$build/bin/stateflowd" --local "$tmp/app.sfir" --workers "$workers" --http "127.0.0.1:$hport" \
  --native "127.0.0.1:$nport" --data "$tmp/data" $extra 2> "$tmp/sfd.log" &
sfd_pid=$!
for _ in $(seq 1 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/healthz")" = 200 ] && break
  sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$hport/healthz")" = 200 ] ||
  { echo "overload.sh: stateflowd did not become ready" >&2; cat "$tmp/sfd.log" >&2; exit 1; }
yc=("$build/bin/ycsbt" --target "stateflow://127.0.0.1:$nport" --token-file "$tmp/data/cluster.token"
    --workload T --dist zipfian --records "$records" --connections "$connections" --quiet)

"${yc[@]}" --load --duration 0 > /dev/null
echo "stateflowd --local, $workers workers ${extra:+($extra) }; ycsbt T zipfian, $records accounts, $connections connections"

# 1. capacity, closed loop: the best of a few depths
cap=0
for n in $outstanding; do
  "${yc[@]}" --outstanding "$n" --warmup 2 --duration "$duration" --json "$tmp/cap$n.json" > /dev/null
  t=$(json "$tmp/cap$n.json" 'round(tps)')
  echo "closed loop, $n outstanding: $t ops/s, p50 $(json "$tmp/cap$n.json" 'latency_ms["p50"]') ms," \
       "p99 $(json "$tmp/cap$n.json" 'latency_ms["p99"]') ms, errors $(json "$tmp/cap$n.json" 'errors_by_type')"
  [ "$t" -gt "$cap" ] && cap=$t
done
echo "capacity: $cap ops/s; peak RSS so far: $(rss)"

# 2. overload, open loop at factor x capacity
rate=$((cap * factor))
rej0=$(metric 'stateflow_rejected_total{reason="overloaded"}')
( maxp=0; minl=1000000000; while :; do
    p=$(metric stateflow_ingress_pending); p=${p%.*}
    l=$(metric stateflow_batch_limit); l=${l%.*}
    [ "${p:-0}" -gt "$maxp" ] && { maxp=$p; echo "$maxp" > "$tmp/maxpending"; }
    [ "${l:-0}" -gt 0 ] && [ "$l" -lt "$minl" ] && { minl=$l; echo "$minl" > "$tmp/minlimit"; }
    sleep 0.2
  done ) &
sampler_pid=$!
warm=1
cpu0=$(cpu)
b0=$(metric stateflow_batches_total); c0=$(metric stateflow_commits_total)
a0=$(metric 'stateflow_aborts_total{cause="conflict"}')
t0=$(date +%s.%N)
set +e
( timeout 600 "${yc[@]}" --rate "$rate" --warmup "$warm" --duration "$duration" --drain 120 \
    --json "$tmp/over.json" > "$tmp/over.txt"; st=$?; times > "$tmp/times"; exit $st )
status=$?
set -e
t1=$(date +%s.%N) # ycsbt exits once every request was answered (or after --drain)
kill "$sampler_pid" 2>/dev/null || true
wait "$sampler_pid" 2>/dev/null || true
sampler_pid=
rej1=$(metric 'stateflow_rejected_total{reason="overloaded"}')
b1=$(metric stateflow_batches_total); c1=$(metric stateflow_commits_total)
a1=$(metric 'stateflow_aborts_total{cause="conflict"}')
tps=$(json "$tmp/over.json" 'round(tps)')
drain=$($py -c "print('%.2f' % max(0.0, $t1 - $t0 - $warm - $duration))")
pct=$($py -c "print('%.0f' % (100.0 * $tps / max(1, $cap)))")
echo "overload (open loop, $rate/s = ${factor}x for ${duration} s after ${warm} s): committed $tps ops/s = $pct% of capacity"
echo "  answered: sent $(json "$tmp/over.json" 'sent'), replies $(json "$tmp/over.json" 'replies')," \
     "unanswered $(json "$tmp/over.json" 'unanswered'), duplicates $(json "$tmp/over.json" 'duplicates');" \
     "errors in the window $(json "$tmp/over.json" 'errors_by_type')"
echo "  Overloaded counted by /metrics: $(( ${rej1%.*} - ${rej0%.*} )); largest ingress backlog sampled:" \
     "$(cat "$tmp/maxpending" 2>/dev/null || echo 0); smallest batch limit sampled: $(cat "$tmp/minlimit" 2>/dev/null || echo -)"
echo "  batches $(( ${b1%.*} - ${b0%.*} )), commits $(( ${c1%.*} - ${c0%.*} )), conflict aborts $(( ${a1%.*} - ${a0%.*} ))" \
     "from the start of the load to the last answer"
echo "  CPU time before: $cpu0; after: $(cpu); ycsbt user/system: $(tail -1 "$tmp/times")"
echo "  p50 $(json "$tmp/over.json" 'latency_ms["p50"]') ms, p99 $(json "$tmp/over.json" 'latency_ms["p99"]') ms," \
     "max $(json "$tmp/over.json" 'latency_ms["max"]') ms (from the intended send time, successful replies)"
echo "  all answered ${drain} s after the load stopped (ycsbt exit $status); peak RSS: $(rss)"

# 3. the closed economy still holds (a short run that validates after it)
set +e
timeout 300 "${yc[@]}" --rate 10 --warmup 0 --duration 1 --validate > "$tmp/val.txt" 2>&1
vstatus=$?
set -e
grep -E "economy" "$tmp/val.txt" | sed 's/^ */  /' || echo "  no economy line (ycsbt exit $vstatus)"
curl -s -o /dev/null -w "  /healthz after the run: %{http_code}\n" "http://127.0.0.1:$hport/healthz"
