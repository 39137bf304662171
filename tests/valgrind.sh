#!/usr/bin/env bash
# sfc and sfrun under valgrind (memcheck): no invalid reads or writes, no use
# of uninitialised values, no definite leaks, on both examples.
set -u
sfc=${1:?usage: valgrind.sh SFC SFRUN}
sfrun=${2:?usage: valgrind.sh SFC SFRUN}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
vg=(valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite)
pass=0; fail=0
for ex in shop bank; do
  if "${vg[@]}" "$sfc" "$root/examples/$ex/app.py" -o "$tmp/$ex.sfir"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL valgrind sfc $ex"; fi
  if "${vg[@]}" "$sfrun" "$tmp/$ex.sfir" < "$root/examples/$ex/requests.jsonl" > "$tmp/$ex.out"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL valgrind sfrun $ex"; fi
done
# bad input too: a syntax error and a corrupt IR
printf 'def broken(:\n' > "$tmp/bad.py"
"${vg[@]}" "$sfc" "$tmp/bad.py" -o "$tmp/bad.sfir" 2>/dev/null; rc=$?
if [ $rc -eq 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL valgrind sfc syntax error: exit $rc"; fi
head -c 300 "$tmp/shop.sfir" > "$tmp/cut.sfir"
"${vg[@]}" "$sfrun" "$tmp/cut.sfir" < /dev/null 2>/dev/null; rc=$?
if [ $rc -eq 2 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL valgrind sfrun truncated IR: exit $rc"; fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
