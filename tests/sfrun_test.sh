#!/bin/sh
# sfrun_test.sh: sfrun end to end with a hand-built .sfir (executor_mkapp):
# replies in order with ids, blank lines skipped, malformed and too-long
# lines answered with BadRequest, interactive use (a reply arrives before
# stdin is closed), user print() kept out of stdout, --help/--version, and
# load errors (exit 2).
#   sfrun_test.sh SFRUN MKAPP WORKDIR
set -u
SFRUN=$1
MKAPP=$2
DIR=$3
rm -rf "$DIR"
mkdir -p "$DIR"
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

"$MKAPP" "$DIR/app.sfir" || { echo "FAIL: cannot write the test app"; exit 1; }
# An empty input file of our own (not /dev/null: never trust it to be empty).
: > "$DIR/empty.in"

# --- a scripted session ----------------------------------------------------
cat > "$DIR/in.jsonl" <<'IN'
{"id":"r1","op":"create","entity":"Item","args":["apple",3]}

   	
{"id":"r2","op":"create","entity":"User","args":["alice"]}
{"id":"r3","op":"call","entity":"Item","key":"apple","method":"update_stock","args":[10]}
{"id":"r4","op":"call","entity":"User","key":"alice","method":"deposit","args":[100]}
{"id":"r5","op":"call","entity":"User","key":"alice","method":"buy_item","args":[2,{"$ref":["Item","apple"]}]}
not json
{"id":"r6","op":"call","entity":"User","key":"alice","method":"fail","args":["nope"]}
{"id":"r7","op":"get","entity":"User","key":"alice"}
{"id":"r8","op":"get","entity":"Item","key":"apple"}
{"id":"r9","op":"call","entity":"Node","key":"x","method":"shout"}
{"id":"r10","op":"create","entity":"Node","args":["x"]}
{"id":"r11","op":"call","entity":"Node","key":"x","method":"shout"}
IN
printf '{"id":"last","op":"get","entity":"Item","key":"apple"}' >> "$DIR/in.jsonl"
cat > "$DIR/expected.jsonl" <<'OUT'
{"id":"r1","ok":{"$ref":["Item","apple"]}}
{"id":"r2","ok":{"$ref":["User","alice"]}}
{"id":"r3","ok":true}
{"id":"r4","ok":100}
{"id":"r5","ok":true}
BADREQUEST
{"id":"r6","error":{"type":"ValueError","message":"nope"}}
{"id":"r7","ok":{"username":"alice","balance":94}}
{"id":"r8","ok":{"item_id":"apple","price":3,"stock":8}}
{"id":"r9","error":{"type":"NotFound","message":"Node \"x\" not found"}}
{"id":"r10","ok":{"$ref":["Node","x"]}}
{"id":"r11","ok":"shouted"}
{"id":"last","ok":{"item_id":"apple","price":3,"stock":8}}
OUT
"$SFRUN" "$DIR/app.sfir" < "$DIR/in.jsonl" > "$DIR/out.jsonl" 2> "$DIR/err.txt"
rc=$?
[ $rc -eq 0 ] || fail "scripted session exited with $rc"
# the BadRequest message is the parser's: compare only its type
sed 's/^{"error":{"type":"BadRequest","message":.*}}$/BADREQUEST/' "$DIR/out.jsonl" > "$DIR/out.norm"
if ! cmp -s "$DIR/out.norm" "$DIR/expected.jsonl"; then
    fail "scripted session: replies differ"
    diff "$DIR/expected.jsonl" "$DIR/out.norm"
fi
grep -q "hello from shout" "$DIR/err.txt" || fail "print() output did not reach stderr"

# --- too long and non-UTF-8 lines, then a good one -------------------------
{
    printf '{"id":"big","op":"get","entity":"Item","key":"'
    head -c 17000000 /dev/zero | tr '\0' 'a'
    printf '"}\n'
    printf '{"id":"bad",\377}\n'
    printf '{"id":"ok","op":"get","entity":"Nope","key":1}\n'
} > "$DIR/long.jsonl"
"$SFRUN" "$DIR/app.sfir" < "$DIR/long.jsonl" > "$DIR/long.out"
rc=$?
[ $rc -eq 0 ] || fail "long-line session exited with $rc"
[ "$(wc -l < "$DIR/long.out")" -eq 3 ] || fail "long-line session: expected 3 replies"
sed -n 1p "$DIR/long.out" | grep -q '"type":"BadRequest","message":"request line too long' \
    || fail "too-long line: $(sed -n 1p "$DIR/long.out" | head -c 200)"
sed -n 2p "$DIR/long.out" | grep -q '"type":"BadRequest"' || fail "non-UTF-8 line: $(sed -n 2p "$DIR/long.out")"
[ "$(sed -n 3p "$DIR/long.out")" = '{"id":"ok","error":{"type":"NotFound","message":"unknown entity '"'"'Nope'"'"'"}}' ] \
    || fail "line after the long ones: $(sed -n 3p "$DIR/long.out")"

# --- interactive: the reply comes before stdin closes ----------------------
mkfifo "$DIR/fifo_in"
"$SFRUN" "$DIR/app.sfir" < "$DIR/fifo_in" > "$DIR/inter.out" &
pid=$!
exec 3> "$DIR/fifo_in"
printf '{"id":"i1","op":"create","entity":"Item","args":["pen",1]}\n' >&3
got=""
for _ in $(seq 1 100); do
    got=$(cat "$DIR/inter.out")
    [ -n "$got" ] && break
    sleep 0.05
done
[ "$got" = '{"id":"i1","ok":{"$ref":["Item","pen"]}}' ] || fail "interactive: no reply before EOF (got '$got')"
exec 3>&-
wait $pid || fail "interactive session exited with $?"

# --- command line -----------------------------------------------------------
"$SFRUN" --help | grep -q "usage: sfrun" || fail "--help"
"$SFRUN" --version | grep -q "^sfrun " || fail "--version"
"$SFRUN" "$DIR/missing.sfir" < "$DIR/empty.in" 2> "$DIR/e1"
[ $? -eq 2 ] || fail "missing file: exit status"
grep -q "missing.sfir" "$DIR/e1" || fail "missing file: message"
printf 'not an sfir file' > "$DIR/junk.sfir"
"$SFRUN" "$DIR/junk.sfir" < "$DIR/empty.in" 2> "$DIR/e2"
[ $? -eq 2 ] || fail "junk file: exit status"
grep -qi "sfir\|StateFlow" "$DIR/e2" || fail "junk file: message: $(cat "$DIR/e2")"
"$SFRUN" --bogus 2> "$DIR/e3"
[ $? -eq 2 ] || fail "unknown option: exit status"
"$SFRUN" "$DIR/app.sfir" < "$DIR/empty.in" > "$DIR/empty.out"
[ $? -eq 0 ] && [ ! -s "$DIR/empty.out" ] || fail "empty input"

if [ $fails -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "sfrun_test: all passed"
