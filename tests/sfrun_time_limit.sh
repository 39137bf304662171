#!/usr/bin/env bash
# sfrun --time-limit: a request looping forever in plain Python code fails
# with TimeLimitExceeded (even though the loop catches Exception), its
# effects are rolled back, and the next requests are served.
set -u
sfc=${1:?usage: sfrun_time_limit.sh SFC SFRUN}
sfrun=${2:?usage: sfrun_time_limit.sh SFC SFRUN}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$sfc" "$root/tests/time_limit/app.py" -o "$tmp/app.sfir" || { echo "0 passed, 1 failed"; exit 1; }
printf '%s\n' '{"id":1,"op":"create","entity":"Spin","args":["s"]}' \
  '{"id":2,"op":"call","entity":"Spin","key":"s","method":"forever"}' \
  '{"id":3,"op":"call","entity":"Spin","key":"s","method":"ok"}' \
  '{"id":4,"op":"call","entity":"Spin","key":"s","method":"forever"}' \
  '{"id":5,"op":"get","entity":"Spin","key":"s"}' > "$tmp/in.jsonl"
out=$(timeout 60 "$sfrun" --time-limit 200 "$tmp/app.sfir" < "$tmp/in.jsonl")
want='{"id":1,"ok":{"$ref":["Spin","s"]}}
{"id":2,"error":{"type":"TimeLimitExceeded","message":"the request ran longer than its time limit (200 ms)"}}
{"id":3,"ok":1}
{"id":4,"error":{"type":"TimeLimitExceeded","message":"the request ran longer than its time limit (200 ms)"}}
{"id":5,"ok":{"name":"s","n":1}}'
if [ "$out" = "$want" ]; then echo "1 passed, 0 failed"; exit 0; fi
echo "unexpected replies:"; echo "$out"; echo "1 failed"; echo "0 passed, 1 failed"; exit 1
