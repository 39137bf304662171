#!/usr/bin/env bash
# Every file in tests/compile_errors/ must be rejected by sfc with exit
# status 1 and, for each of its `# expect: LINE:COL: TEXT` header lines, an
# error `FILE:LINE:COL: error: ...TEXT...` on stderr. Nothing may crash.
set -u
sfc=${1:?usage: sfc_errors.sh SFC}
dir=$(dirname "$0")/compile_errors
pass=0; fail=0
for f in "$dir"/*.py; do
  out=$("$sfc" "$f" -o /dev/null 2>&1); rc=$?
  ok=1
  if [ $rc -ne 1 ]; then echo "FAIL $f: exit status $rc (want 1)"; ok=0; fi
  while IFS= read -r line; do
    spec=${line#\# expect: }
    pos=${spec%%: *}; text=${spec#*: }
    if ! grep -qF -- "$f:$pos: error: " <<<"$out" || ! grep -F -- "$f:$pos: error: " <<<"$out" | grep -qF -- "$text"; then
      echo "FAIL $f: no error '$pos: ...$text...' in:"; sed 's/^/    /' <<<"$out"; ok=0
    fi
  done < <(grep '^# expect: ' "$f")
  if [ $ok = 1 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -gt 0 ]
