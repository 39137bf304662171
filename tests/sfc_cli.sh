#!/usr/bin/env bash
# sfc end to end on the examples: compiles, --dump and --dot show entities,
# typed attributes, keys, signatures, remote calls and block graphs; bad IR
# files are refused with a message and exit status 1.
set -u
sfc=${1:?usage: sfc_cli.sh SFC}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
check() { # name, command output, expected fixed string
  if grep -qF -- "$3" <<<"$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL $1: missing '$3'"; fi
}
"$sfc" "$root/examples/shop/app.py" -o "$tmp/shop.sfir" || { echo "FAIL compile shop"; fail=$((fail + 1)); }
"$sfc" "$root/examples/bank/app.py" -o "$tmp/bank.sfir" || { echo "FAIL compile bank"; fail=$((fail + 1)); }
dump=$("$sfc" --dump "$tmp/shop.sfir")
check dump "$dump" "User.buy_item -> Item.update_stock"
check dump "$dump" "User.buy_item -> Item._sf_get_price"
check dump "$dump" "buy_item(amount: int, item: Item) -> bool"
check dump "$dump" "price: int"
dot=$("$sfc" --dot "$tmp/shop.sfir")
check dot "$dot" "digraph"
check dot "$dot" "update_stock"
py=$("$sfc" --emit-python "$root/examples/shop/app.py")
check emit "$py" "def _sf_User_buy_item_0(self, _sf_f):"
check emit "$py" "def _sf_get_price(self):"
/usr/bin/python3 -c "import ast,sys; ast.parse(sys.stdin.read())" <<<"$py" && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL emitted python does not parse"; }
# a .sfir that is not one: clear error, exit 1, no crash
printf 'garbage' > "$tmp/bad.sfir"
out=$("$sfc" --dump "$tmp/bad.sfir" 2>&1); rc=$?
[ $rc -eq 1 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL bad sfir exit $rc: $out"; }
head -c 100 "$tmp/shop.sfir" > "$tmp/trunc.sfir"
out=$("$sfc" --dump "$tmp/trunc.sfir" 2>&1); rc=$?
[ $rc -eq 1 ] && pass=$((pass + 1)) || { fail=$((fail + 1)); echo "FAIL truncated sfir exit $rc: $out"; }
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
