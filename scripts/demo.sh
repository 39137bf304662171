#!/usr/bin/env bash
# README's main command: set up, build, compile the shop example, start
# `stateflowd --local` on it (a coordinator and one worker process per core),
# send a few requests with the sfctl client, print the replies, stop, start
# again on the same data directory and show that the state survived.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc 2>/dev/null || echo 2)" >/dev/null
tmp=$(mktemp -d)
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "\$ sfc examples/shop/app.py -o shop.sfir"
build/bin/sfc examples/shop/app.py -o "$tmp/shop.sfir"
build/bin/sfc --dump "$tmp/shop.sfir" | sed -n '/^dataflow edges:/,$p'

# free ports, so the demo runs next to anything else on this machine
ports=$(/usr/bin/python3 -c 'import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
read -r http native <<<"$ports"
echo
echo "\$ stateflowd --local shop.sfir --http 127.0.0.1:$http"
build/bin/stateflowd --local "$tmp/shop.sfir" --http "127.0.0.1:$http" --native "127.0.0.1:$native" \
  --data "$tmp/data" 2> "$tmp/stateflowd.log" &
pid=$!
url="http://127.0.0.1:$http"
for _ in $(seq 100); do
  build/bin/sfctl --url "$url" --timeout 1 health >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/stateflowd.log"; exit 1; }
  sleep 0.1
done

run() {
  echo "\$ sfctl $*"
  build/bin/sfctl --url "$url" "$@" || true
}
run create Item apple 3
run create User alice
run call Item/apple update_stock 10
run call User/alice buy_item 2 @Item/apple
run call User/alice deposit 10
run call User/alice buy_item 2 @Item/apple
run get User/alice
run get Item/apple
run call User/bob buy_item 1 @Item/apple

kill -TERM "$pid"
wait "$pid" && echo "stateflowd stopped" || echo "stateflowd exited with status $?"
pid=""

# durable by default: a new start on the same --data replays the log
echo
echo "\$ stateflowd --local shop.sfir --http 127.0.0.1:$http    # again: the state is back"
build/bin/stateflowd --local "$tmp/shop.sfir" --http "127.0.0.1:$http" --native "127.0.0.1:$native" \
  --data "$tmp/data" 2> "$tmp/stateflowd2.log" &
pid=$!
for _ in $(seq 100); do
  build/bin/sfctl --url "$url" --timeout 1 health >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$tmp/stateflowd2.log"; exit 1; }
  sleep 0.1
done
run get User/alice
run get Item/apple
kill -TERM "$pid"
wait "$pid" && echo "stateflowd stopped" || echo "stateflowd exited with status $?"
pid=""
