#!/usr/bin/python3
"""run_diff.py: differential tests of sfc + sfrun against plain Python.

For every program directory (app.py + requests.jsonl, or app.py +
expect_compile_error):

  1. compile app.py with sfc to a temporary .sfir; a directory with an
     `expect_compile_error` file must instead fail to compile with every line
     of that file found in sfc's output (case-insensitive; `a|b` accepts
     either alternative);
  2. run tests/diff/plain.py (the reference: the same app as plain Python
     objects) on the requests, followed by a `get` of every instance the
     script created (plain.py --final-gets), so final states are compared too;
  3. run `sfrun app.sfir` on exactly the same input and compare the reply
     lines one by one (BadRequest messages are free-form: only their type and
     id are compared); print a unified diff around the first mismatch.

    /usr/bin/python3 tests/diff/run_diff.py --sfc build/bin/sfc --sfrun build/bin/sfrun
    /usr/bin/python3 tests/diff/run_diff.py --plain-only          # no C tools needed
    /usr/bin/python3 tests/diff/run_diff.py --compile-only --sfc build/bin/sfc
    /usr/bin/python3 tests/diff/run_diff.py ... tests/diff/programs/21_reentrant
    /usr/bin/python3 tests/diff/run_diff.py --sfc build/bin/sfc --stateflowd build/bin/stateflowd

With --stateflowd, step 3 runs `stateflowd --local app.sfir --workers 2` per
program instead of sfrun and sends each request line, one at a time and in
order, as the body of `POST /v1/requests` (a line that is a JSON array is
wrapped in one more array, so the gateway sees one malformed request as
sfrun does, and the reply array is unwrapped).

The last line printed is `N passed, M failed`; the exit status is 1 when any
program failed.  Standard library only.
"""

import argparse
import concurrent.futures
import difflib
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PLAIN = os.path.join(HERE, "plain.py")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


class Failure(Exception):
    """A program failed; the message says why (may span several lines)."""


def request_lines(data):
    """The request lines of an input (blank lines are not requests); the same
    rule as plain.py and sfrun."""
    return [ln for ln in data.split(b"\n") if ln.strip(b" \t\r")]


def run(cmd, stdin_bytes, timeout, env=None):
    try:
        p = subprocess.run(cmd, input=stdin_bytes, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Failure("%s: timed out after %ss" % (os.path.basename(cmd[0]), timeout))
    except OSError as e:
        raise Failure("cannot run %s: %s" % (cmd[0], e))
    return p


def tail(b, n=15):
    lines = b.decode("utf-8", "replace").rstrip("\n").split("\n")
    return "\n".join("    " + ln for ln in lines[-n:])


def run_plain(app, data, timeout, gets_file):
    """plain.py's replies to data, then to a get of every instance it holds at
    the end; returns (replies, the get request lines)."""
    env = dict(os.environ, PYTHONHASHSEED="0")
    p = run([PYTHON, PLAIN, app, "--final-gets", gets_file], data, timeout, env)
    if p.returncode != 0:
        raise Failure("plain.py exited with status %d:\n%s" % (p.returncode, tail(p.stderr)))
    with open(gets_file, "rb") as f:
        gets = request_lines(f.read())
    return (p.stdout.decode("utf-8").split("\n")[:-1] if p.stdout else []), gets


def first_wins(pairs):
    """A JSON object whose repeated members keep their first value (the
    request parser echoes the first of repeated ids)."""
    d = {}
    for k, v in pairs:
        d.setdefault(k, v)
    return d


def check_replies(reqs, replies, who):
    """Every request got exactly one well-formed reply, with its id echoed."""
    if len(replies) != len(reqs):
        raise Failure("%s wrote %d reply lines for %d requests" % (who, len(replies), len(reqs)))
    for i, (rq, rp) in enumerate(zip(reqs, replies), 1):
        try:
            obj = json.loads(rp)
        except ValueError:
            raise Failure("%s reply %d is not JSON: %s" % (who, i, rp))
        if type(obj) is not dict or len(set(obj) & {"ok", "error"}) != 1 \
                or set(obj) - {"id", "ok", "error"}:
            raise Failure("%s reply %d has the wrong shape: %s" % (who, i, rp))
        if "error" in obj:
            err = obj["error"]
            if type(err) is not dict or set(err) != {"type", "message"} \
                    or type(err["type"]) is not str or type(err["message"]) is not str:
                raise Failure("%s reply %d has a malformed error: %s" % (who, i, rp))
        try:
            req = json.loads(rq, object_pairs_hook=first_wins)
        except ValueError:
            req = None
        if type(req) is dict and "id" in req and "id" in obj and obj["id"] != req["id"]:
            raise Failure("%s reply %d echoes id %r, request has %r"
                          % (who, i, obj["id"], req["id"]))


def normalise(line):
    """BadRequest messages are not part of the contract: blank them out."""
    try:
        obj = json.loads(line)
    except ValueError:
        return line
    if type(obj) is dict and type(obj.get("error")) is dict \
            and obj["error"].get("type") == "BadRequest":
        obj["error"]["message"] = "..."
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return line


def first_mismatch(reqs, expected, actual, who="sfrun"):
    """None when equal, else a report of the first differing reply."""
    exp = [normalise(x) for x in expected]
    act = [normalise(x) for x in actual]
    if exp == act:
        return None
    i = next((k for k in range(min(len(exp), len(act))) if exp[k] != act[k]),
             min(len(exp), len(act)))
    req = reqs[i].decode("utf-8", "replace") if i < len(reqs) else "(no request: extra output)"
    lines = ["first mismatch at reply %d of %d, request: %s" % (i + 1, len(exp), req)]
    hunk = []
    for ln in difflib.unified_diff(exp, act, "plain.py", who, lineterm="", n=2):
        if ln.startswith("@@") and any(h.startswith("@@") for h in hunk):
            break
        hunk.append(ln)
    lines.extend("    " + h for h in hunk)
    return "\n".join(lines)


def matches_expected_error(output, spec):
    missing = []
    low = output.lower()
    for line in spec.splitlines():
        line = line.strip()
        if not line:
            continue
        alts = [a.strip().lower() for a in line.split("|") if a.strip()]
        if not any(a in low for a in alts):
            missing.append(line)
    return missing


class Daemon:
    """`stateflowd --local APP --workers N` on free ports, for one program.
    Waits until the coordinator reports it is ready; stop() ends it with
    SIGTERM (SIGKILL if it lingers) and returns its exit status."""

    READY = re.compile(r"coordinator ready: .* http=[^ ]*:(\d+)")

    def __init__(self, exe, sfir, tmp, workers=2, extra=(), timeout=30.0):
        self.lines = []
        self.ready = threading.Event()
        self.port = None
        cmd = [exe, "--local", sfir, "--workers", str(workers), "--http", "127.0.0.1:0",
               "--native", "off", "--data", os.path.join(tmp, "data")] + list(extra)
        try:
            self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE)
        except OSError as e:
            raise Failure("cannot run %s: %s" % (exe, e))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.ready.wait(timeout) or self.port is None:
            self.stop()
            raise Failure("stateflowd did not become ready:\n%s" % self.log_tail())

    def _read(self):
        for raw in self.p.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            m = self.READY.search(line)
            if m:
                self.port = int(m.group(1))
                self.ready.set()
        self.ready.set()

    SANITIZER = re.compile(r"ERROR: (Address|Leak|Memory|Thread|UndefinedBehavior)Sanitizer"
                           r"|runtime error: |worker process \d+ \(#\d+\) exited \(status [1-9]")

    def problems(self):
        """Log lines showing a sanitizer report or a failed worker."""
        return [ln for ln in self.lines if self.SANITIZER.search(ln)]

    def log_tail(self, n=15):
        return "\n".join("    " + ln for ln in self.lines[-n:])

    def stop(self, timeout=15.0):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                self.reader.join(5)
                return "killed after %ss" % timeout
        self.reader.join(5)
        return self.p.returncode


def post_request(conn, line):
    """One request line through POST /v1/requests; returns the reply line."""
    body = line
    wrapped = False
    try:
        wrapped = type(json.loads(line.decode("utf-8"))) is list
    except ValueError:
        pass
    if wrapped:
        body = b"[" + line + b"]"
    conn.request("POST", "/v1/requests", body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    text = resp.read().decode("utf-8")
    if wrapped and text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text


def run_stateflowd(opts, sfir, reqs, tmp):
    """The replies of stateflowd --local to reqs, one request at a time."""
    d = Daemon(opts.stateflowd, sfir, tmp, workers=opts.workers,
               extra=["--partitions", str(opts.partitions)] if opts.partitions else [])
    actual = []
    try:
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=opts.timeout)
        for line in reqs:
            try:
                actual.append(post_request(conn, line))
            except (OSError, http.client.HTTPException) as e:
                raise Failure("HTTP request %d failed (%s): %s\n%s"
                              % (len(actual) + 1, e, line[:200], d.log_tail()))
        conn.close()
    finally:
        status = d.stop()
    if status != 0:
        raise Failure("stateflowd exited with status %s:\n%s" % (status, d.log_tail()))
    if d.problems():
        raise Failure("stateflowd reported problems:\n%s" % "\n".join(d.problems()[:10]))
    return actual


def compile_app(opts, prog, app, tmp):
    out = os.path.join(tmp, "app.sfir")
    p = run([opts.sfc, app, "-o", out], b"", opts.timeout)
    text = (p.stdout + p.stderr).decode("utf-8", "replace")
    expect = os.path.join(prog, "expect_compile_error")
    if os.path.exists(expect):
        if p.returncode == 0:
            raise Failure("sfc accepted a program that must be rejected")
        if p.returncode < 0:
            raise Failure("sfc died with signal %d:\n%s" % (-p.returncode, tail(p.stderr)))
        with open(expect) as f:
            missing = matches_expected_error(text, f.read())
        if missing:
            raise Failure("sfc's error output lacks %s:\n%s" % (
                ", ".join(repr(m) for m in missing), tail(p.stdout + p.stderr)))
        return None
    if p.returncode != 0:
        raise Failure("sfc failed (status %d):\n%s" % (p.returncode, tail(p.stdout + p.stderr)))
    return out


def run_program(opts, prog, tmp):
    """Returns "pass" or "skip"; raises Failure."""
    app = os.path.join(prog, "app.py")
    has_err = os.path.exists(os.path.join(prog, "expect_compile_error"))
    if opts.plain_only and has_err:
        return "skip"
    sfir = None
    if not opts.plain_only:
        sfir = compile_app(opts, prog, app, tmp)
        if has_err:
            return "pass"
    reqfile = os.path.join(prog, "requests.jsonl")
    if not os.path.exists(reqfile):
        raise Failure("no requests.jsonl")
    with open(reqfile, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        data += b"\n"

    script = request_lines(data)
    expected, gets = run_plain(app, data, opts.timeout, os.path.join(tmp, "gets.jsonl"))
    data += b"".join(g + b"\n" for g in gets)
    reqs = script + gets
    check_replies(reqs, expected, "plain.py")
    if opts.out:
        d = os.path.join(opts.out, os.path.basename(prog))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "input.jsonl"), "wb") as f:
            f.write(data)
        with open(os.path.join(d, "expected.jsonl"), "w") as f:
            f.write("".join(x + "\n" for x in expected))
    if opts.plain_only or opts.compile_only:
        return "pass"

    if opts.stateflowd:
        actual = run_stateflowd(opts, sfir, reqs, tmp)
        if opts.out:
            with open(os.path.join(opts.out, os.path.basename(prog), "actual.jsonl"), "w") as f:
                f.write("".join(x + "\n" for x in actual))
        report = first_mismatch(reqs, expected, actual, "stateflowd")
        if report:
            raise Failure(report)
        return "pass"

    p = run([opts.sfrun, sfir], data, opts.timeout)
    try:
        actual = p.stdout.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise Failure("sfrun wrote invalid UTF-8")
    if actual and actual[-1] == "":
        actual.pop()
    if opts.out:
        with open(os.path.join(opts.out, os.path.basename(prog), "actual.jsonl"), "w") as f:
            f.write("".join(x + "\n" for x in actual))
    report = first_mismatch(reqs, expected, actual)
    if report:
        if p.returncode != 0:
            report += "\n  sfrun exited with status %d:\n%s" % (p.returncode, tail(p.stderr))
        raise Failure(report)
    if p.returncode != 0:
        raise Failure("sfrun exited with status %d:\n%s" % (p.returncode, tail(p.stderr)))
    return "pass"


def discover(paths):
    if paths:
        return [os.path.abspath(p) for p in paths]
    out = []
    for base in (os.path.join(HERE, "programs"), os.path.join(REPO, "examples")):
        if os.path.isdir(base):
            for name in sorted(os.listdir(base)):
                d = os.path.join(base, name)
                if os.path.isfile(os.path.join(d, "app.py")):
                    out.append(d)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Differential tests: sfc + sfrun vs plain Python.")
    ap.add_argument("programs", nargs="*", help="program directories (default: all)")
    ap.add_argument("--sfc", default=os.path.join(REPO, "build", "bin", "sfc"))
    ap.add_argument("--sfrun", default=os.path.join(REPO, "build", "bin", "sfrun"))
    ap.add_argument("--stateflowd", help="run the programs on `stateflowd --local` over HTTP "
                    "instead of sfrun")
    ap.add_argument("--workers", type=int, default=2, help="worker processes (--stateflowd)")
    ap.add_argument("--partitions", type=int, default=0, help="partitions (--stateflowd; 0: default)")
    ap.add_argument("--plain-only", action="store_true",
                    help="only run plain.py: it must not crash and must reply to every request")
    ap.add_argument("--compile-only", action="store_true",
                    help="compile with sfc and run plain.py, but do not run sfrun")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per tool run")
    ap.add_argument("-j", "--jobs", type=int, default=1, help="programs run in parallel")
    ap.add_argument("--out", help="keep input/expected/actual reply files under this directory")
    opts = ap.parse_args(argv)

    progs = discover(opts.programs)

    def one(prog):
        tmp = tempfile.mkdtemp(prefix="sfdiff-")
        try:
            return run_program(opts, prog, tmp), None
        except Failure as e:
            return "fail", str(e)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    passed = failed = skipped = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for prog, (status, why) in zip(progs, pool.map(one, progs)):
            name = os.path.relpath(prog, REPO)
            if status == "fail":
                failed += 1
                print("FAIL %s: %s" % (name, why))
            elif status == "skip":
                skipped += 1
                print("SKIP %s (expects a compile error; needs sfc)" % name)
            else:
                passed += 1
                print("PASS %s" % name)
            sys.stdout.flush()
    if skipped:
        print("%d skipped" % skipped)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not progs else 0


if __name__ == "__main__":
    sys.exit(main())
