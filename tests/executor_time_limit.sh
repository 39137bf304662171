#!/bin/sh
# executor_time_limit.sh: sfrun --time-limit guards all user code, not only
# methods: a create whose __init__ never returns, and one whose __key__
# never returns, each fail with TimeLimitExceeded (as a looping method
# does), nothing is created, and the requests after them are served.
# Uses the hand-built test app (executor_mkapp, entity Slow).
#   executor_time_limit.sh SFRUN MKAPP WORKDIR
set -u
SFRUN=$1
MKAPP=$2
DIR=$3
rm -rf "$DIR"
mkdir -p "$DIR"
"$MKAPP" "$DIR/app.sfir" || { echo "FAIL: cannot write the test app"; exit 1; }
cat > "$DIR/in.jsonl" <<'IN'
{"id":1,"op":"create","entity":"Slow","args":["a",true]}
{"id":2,"op":"get","entity":"Slow","key":"a"}
{"id":3,"op":"create","entity":"Slow","args":["spin-key"]}
{"id":4,"op":"create","entity":"Slow","args":["b"]}
{"id":5,"op":"call","entity":"Slow","key":"b","method":"ok"}
{"id":6,"op":"create","entity":"Slow","args":["c",true]}
{"id":7,"op":"call","entity":"Slow","key":"b","method":"ok"}
IN
cat > "$DIR/expected.jsonl" <<'OUT'
{"id":1,"error":{"type":"TimeLimitExceeded","message":"the request ran longer than its time limit (200 ms)"}}
{"id":2,"error":{"type":"NotFound","message":"Slow \"a\" not found"}}
{"id":3,"error":{"type":"TimeLimitExceeded","message":"the request ran longer than its time limit (200 ms)"}}
{"id":4,"ok":{"$ref":["Slow","b"]}}
{"id":5,"ok":1}
{"id":6,"error":{"type":"TimeLimitExceeded","message":"the request ran longer than its time limit (200 ms)"}}
{"id":7,"ok":2}
OUT
timeout 60 "$SFRUN" --time-limit 200 "$DIR/app.sfir" < "$DIR/in.jsonl" > "$DIR/out.jsonl"
rc=$?
if [ $rc -ne 0 ]; then
    echo "FAIL: sfrun exited with $rc"
    exit 1
fi
if ! cmp -s "$DIR/out.jsonl" "$DIR/expected.jsonl"; then
    echo "FAIL: unexpected replies:"
    diff "$DIR/expected.jsonl" "$DIR/out.jsonl"
    exit 1
fi
echo "1 passed, 0 failed"
