#!/usr/bin/env bash
# cmake --install into a temporary prefix: the installed sfc compiles
# examples/bank, the installed stateflowd serves it and the installed sfctl
# (which must find the installed stateflow package, also after the prefix is
# moved) talks to it; and, when venv and pip are available, python/ installs
# with pip into a virtualenv whose python imports stateflow and has sfctl.
set -u
cmake=${1:?usage: install_test.sh CMAKE BUILD_DIR}
build=${2:?usage: install_test.sh CMAKE BUILD_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
sfd_pid=
cleanup() { [ -n "$sfd_pid" ] && kill -KILL "$sfd_pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
cd "$tmp" || exit 1   # nothing from the source tree on sys.path

p=$tmp/prefix
"$cmake" --install "$build" --prefix "$p" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; bad "cmake --install"; }
for f in bin/sfc bin/sfrun bin/stateflowd bin/sfctl; do
  [ -x "$p/$f" ] && ok || bad "$f not installed or not executable"
done
[ -f "$p/lib/stateflow/python/stateflow/__init__.py" ] && ok || bad "stateflow package not installed"
[ -f "$p/share/doc/stateflow/README.md" ] && [ -f "$p/share/doc/stateflow/durability.md" ] && ok || bad "docs not installed"
[ -f "$p/share/doc/stateflow/examples/systemd/stateflow-worker@.service" ] && ok || bad "systemd examples not installed"

"$p/bin/sfc" "$root/examples/bank/app.py" -o "$tmp/bank.sfir" && [ -s "$tmp/bank.sfir" ] && ok || bad "installed sfc on examples/bank"
dump=$("$p/bin/sfc" --dump "$tmp/bank.sfir" 2>&1)
grep -qF "Account" <<<"$dump" && ok || bad "installed sfc --dump: $dump"
out=$("$p/bin/sfctl" --help 2>&1); rc=$?
[ $rc -eq 0 ] && grep -qF "usage: sfctl" <<<"$out" && ok || bad "installed sfctl --help (exit $rc): $out"

# the installed stateflowd and sfctl together
"$p/bin/stateflowd" --local "$tmp/bank.sfir" --workers 1 --http 127.0.0.1:0 --native off \
  --data "$tmp/data" > "$tmp/sfd.log" 2>&1 &
sfd_pid=$!
for _ in $(seq 600); do   # up to 60 s on a loaded machine
  grep -q "coordinator ready" "$tmp/sfd.log" && break
  kill -0 "$sfd_pid" 2>/dev/null || break
  sleep 0.1
done
port=$(sed -n 's/.*coordinator ready:.* http=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$tmp/sfd.log" | head -1)
if [ -n "$port" ]; then
  url=http://127.0.0.1:$port
  out=$("$p/bin/sfctl" --url "$url" create Account a1 alice 2>&1)
  [ "$out" = '{"$ref":["Account","a1"]}' ] && ok || bad "installed sfctl create: $out"
  out=$("$p/bin/sfctl" --url "$url" call Account/a1 deposit 5 2>&1)
  [ "$out" = 5 ] && ok || bad "installed sfctl call: $out"
  kill -TERM "$sfd_pid"; wait "$sfd_pid"; rc=$?; sfd_pid=
  [ $rc -eq 0 ] && ok || bad "installed stateflowd exit status $rc after SIGTERM"
else
  bad "installed stateflowd did not become ready: $(cat "$tmp/sfd.log")"
fi

# the prefix can move: sfctl finds the package relative to itself
mv "$p" "$tmp/moved"
out=$("$tmp/moved/bin/sfctl" --help 2>&1); rc=$?
[ $rc -eq 0 ] && grep -qF "usage: sfctl" <<<"$out" && ok || bad "sfctl after moving the prefix (exit $rc): $out"
ln -s "$tmp/moved/bin/sfctl" "$tmp/sfctl-link"
out=$("$tmp/sfctl-link" --help 2>&1); rc=$?
[ $rc -eq 0 ] && ok || bad "sfctl through a symlink (exit $rc): $out"

# pip: python/ into a virtualenv (Debian's python3-wheel via
# --system-site-packages; no network, no build isolation)
if /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null &&
   /usr/bin/python3 -m venv --system-site-packages "$tmp/venv" > "$tmp/venv.log" 2>&1 &&
   "$tmp/venv/bin/python" -m pip --version > /dev/null 2>&1 &&
   /usr/bin/python3 -c 'import setuptools, wheel' 2>/dev/null; then
  # pip builds in place: build a copy, to keep the source tree clean (only
  # the sources: other tests may be writing __pycache__ there meanwhile)
  mkdir -p "$tmp/python-src/stateflow"
  cp "$root/python/pyproject.toml" "$tmp/python-src/" &&
    cp "$root/python/stateflow/"*.py "$tmp/python-src/stateflow/" || bad "copying python/"
  if "$tmp/venv/bin/python" -m pip install --no-build-isolation --no-index "$tmp/python-src" > "$tmp/pip.log" 2>&1; then
    ok
    rm -rf "$tmp/python-src"
    out=$("$tmp/venv/bin/python" -c 'import stateflow, stateflow.client; print(stateflow.__file__)' 2>&1)
    case $out in "$tmp/venv/"*) ok ;; *) bad "venv import stateflow: $out" ;; esac
    # a user's test suite: the example application as plain Python
    out=$("$tmp/venv/bin/python" -c '
import runpy, sys, stateflow
app = runpy.run_path(sys.argv[1])
print(app["Account"]("a1", "alice").deposit(5), stateflow.is_entity(app["Account"]))' "$root/examples/bank/app.py" 2>&1)
    [ "$out" = "5 True" ] && ok || bad "venv examples/bank as plain Python: $out"
    out=$("$tmp/venv/bin/sfctl" --help 2>&1); rc=$?
    [ $rc -eq 0 ] && grep -qF "usage: sfctl" <<<"$out" && ok || bad "venv sfctl --help (exit $rc): $out"
  else
    bad "pip install python/: $(tail -20 "$tmp/pip.log")"
  fi
else
  echo "note: venv, pip, setuptools or wheel missing for /usr/bin/python3: pip install not checked"
fi

echo "install: $pass passed, $fail failed"
[ $fail -eq 0 ]
