"""executor_stateflowd_guarded.py: in stateflowd a create whose __init__
never returns is ended by the worker's time limit like a looping method:
it gets exactly one answer (TimeLimitExceeded), nothing is created, a
client whose request waited behind it gets its answer, the next requests
are served and the daemon keeps running.

    executor_stateflowd_guarded.py   (SF_SFC and SF_STATEFLOWD name the programs)
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "stateflowd"))
import sfd  # noqa: E402

SFC = os.environ.get("SF_SFC", os.path.join(REPO, "build", "bin", "sfc"))
STATEFLOWD = os.environ.get("SF_STATEFLOWD", os.path.join(REPO, "build", "bin", "stateflowd"))
APP = os.path.join(REPO, "tests", "executor_guarded_app.py")


def post(port, req, timeout=60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/v1/requests", body=json.dumps(req).encode(),
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read().decode())
    finally:
        conn.close()


def main():
    failures = []

    def check(what, got, want):
        if got != want:
            failures.append("%s: got %r, want %r" % (what, got, want))

    with tempfile.TemporaryDirectory() as tmp:
        sfir = os.path.join(tmp, "app.sfir")
        subprocess.run([SFC, APP, "-o", sfir], check=True, stdout=subprocess.DEVNULL)
        data = os.path.join(tmp, "data")
        os.mkdir(data)
        with sfd.Daemon(STATEFLOWD, sfir, data) as d:
            check("create b", post(d.http_port, {"op": "create", "entity": "Slow", "args": ["b", False]}),
                  (201, {"ok": {"$ref": ["Slow", "b"]}}))
            # the looping create, and another client's request sent while it runs
            answers = {}

            def run(name, req):
                answers[name] = post(d.http_port, req)

            spin = threading.Thread(target=run, args=("spin", {"op": "create", "entity": "Slow",
                                                               "args": ["a", True]}))
            spin.start()
            spin.join(0.5)
            other = threading.Thread(target=run, args=("other", {"op": "call", "entity": "Slow",
                                                                 "key": "b", "method": "ok"}))
            other.start()
            spin.join(60)
            other.join(60)
            status, body = answers.get("spin", (None, {}))
            check("looping create status", status, 422)
            check("looping create error type", body.get("error", {}).get("type"), "TimeLimitExceeded")
            check("the other client", answers.get("other"), (200, {"ok": 1}))
            check("nothing created", post(d.http_port, {"op": "get", "entity": "Slow", "key": "a"}),
                  (404, {"error": {"type": "NotFound", "message": 'Slow "a" not found'}}))
            check("next request", post(d.http_port, {"op": "call", "entity": "Slow", "key": "b",
                                                     "method": "ok"}), (200, {"ok": 2}))
            check("daemon running", d.p.poll(), None)
            check("log problems", d.problems(), [])
    if failures:
        for f in failures:
            print("FAIL:", f)
        print("0 passed, 1 failed")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
