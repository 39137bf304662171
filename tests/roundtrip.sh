#!/bin/sh
# roundtrip.sh: parse + unparse round trip of the compiler front end.
#
# usage: roundtrip.sh SF_UNPARSE_TOOL SOURCE_DIR [FILE...]
# Without FILEs the set is Debian's stdlib (/usr/lib/python3.11/*.py) plus
# every .py under SOURCE_DIR/examples and SOURCE_DIR/tests. Each file is
# parsed and unparsed by sf_unparse_tool (one process for all files), then a
# single /usr/bin/python3 checks that ast.dump(ast.parse(original)) equals
# ast.dump(ast.parse(unparsed)). Files that CPython 3.11 itself rejects are
# skipped. The u'' prefix of string constants is not kept by the C AST, so
# kind='u' is ignored in the comparison.
set -eu
tool=$1
srcdir=$2
shift 2
exec /usr/bin/python3 - "$tool" "$srcdir" "$@" <<'PY'
import ast, glob, os, re, subprocess, sys

tool, srcdir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
if not files:
    files = sorted(glob.glob("/usr/lib/python3.11/*.py"))
    for sub in ("examples", "tests"):
        files += sorted(glob.glob(os.path.join(srcdir, sub, "**", "*.py"), recursive=True))

def dump(tree):
    return ast.dump(tree).replace(", kind='u'", "")

originals = {}
skipped = 0
for f in files:
    try:
        with open(f, "rb") as fh:
            originals[f] = dump(ast.parse(fh.read(), f))
    except (SyntaxError, ValueError, UnicodeDecodeError):
        skipped += 1

todo = list(originals)
if not todo:
    print("roundtrip: no file to check")
    sys.exit(1)
proc = subprocess.run([tool, "--multi"] + todo,
                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
out = proc.stdout.decode("utf-8", "surrogateescape")
outputs = {}
for chunk in out.split("\x01")[1:]:
    name, _, text = chunk.partition("\n")
    outputs[name] = text

errors = {}
for line in proc.stderr.decode("utf-8", "replace").splitlines():
    m = re.match(r"(.*?):\d+:\d+: error: ", line)
    if m:
        errors.setdefault(m.group(1), line)

passed = failed = 0
for f in todo:
    text = outputs.get(f)
    if text is None or f in errors:
        print(f"FAIL {f}: sf_unparse_tool rejected it: {errors.get(f, 'no output')}")
        failed += 1
        continue
    try:
        again = dump(ast.parse(text, f + " (unparsed)"))
    except SyntaxError as e:
        lines = text.splitlines()
        bad = lines[e.lineno - 1] if e.lineno and e.lineno <= len(lines) else ""
        print(f"FAIL {f}: unparsed source does not parse: {e.msg} at line {e.lineno}: {bad!r}")
        failed += 1
        continue
    if again != originals[f]:
        a, b = originals[f], again
        i = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        print(f"FAIL {f}: AST differs near\n  original: ...{a[max(0, i - 120):i + 120]}\n  unparsed: ...{b[max(0, i - 120):i + 120]}")
        failed += 1
        continue
    passed += 1

if proc.returncode not in (0, 1):
    sys.stderr.write(proc.stderr.decode("utf-8", "replace"))
    print(f"sf_unparse_tool exited with status {proc.returncode}")
    failed += 1
print(f"roundtrip: {passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed or passed == 0 else 0)
PY
