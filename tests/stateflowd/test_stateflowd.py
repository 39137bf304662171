#!/usr/bin/python3
"""test_stateflowd.py: end-to-end tests of `stateflowd --local` (coordinator +
worker processes, Aria batches, the HTTP gateway and the native protocol).

    SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/stateflowd/test_stateflowd.py [-v] [Contention|Zipf|Serializable|...]

ctest runs each class as its own test (tests/stateflowd.cmake).  Every test
starts its daemon on free ports and always stops it.

- Contention: 16 HTTP clients and a pipelined native client transfer money
  between 5 accounts: every request is answered exactly once, money is
  conserved, conflicts really happened, and replaying the commit log
  serially in plain Python (tests/diff/plain.py) gives the same replies for
  every committed request and the same final state.
- Zipf: transfers and deposits over 1,000 accounts chosen with a Zipf(0.99)
  law: every request is answered, latency stays bounded, and no transaction
  ran in more batches than there were clients (no starvation).
- Serializable: every differential program's requests at once (they share
  batches and conflict); the commit log replayed serially in plain Python
  reproduces every committed reply.
- BadInput: malformed HTTP, oversized bodies, unknown routes, garbage on the
  cluster and native ports, workers with a wrong token or joining a full
  cluster, clients that vanish mid-request: each gets a clear answer or is
  dropped, and the service keeps working.
- WorkerDeath: a worker killed with SIGKILL while clients are busy: every
  client gets an answer (no hang), then 503 Unavailable and /healthz 503;
  SIGTERM still stops the daemon cleanly.
- Cli: flags, the token file, --help.
Standard library only (plus python/stateflow from this repository).
"""

import bisect
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "python"))

from sfd import Daemon  # noqa: E402
from stateflow import _msgpack as mp  # noqa: E402
from stateflow.client import Client, Ref  # noqa: E402

PY = "/usr/bin/python3"
SFC = os.environ.get("SF_SFC", os.path.join(REPO, "build", "bin", "sfc"))
STATEFLOWD = os.environ.get("SF_STATEFLOWD", os.path.join(REPO, "build", "bin", "stateflowd"))
PLAIN = os.path.join(REPO, "tests", "diff", "plain.py")
BANK = os.path.join(REPO, "examples", "bank", "app.py")


def compile_app(app, tmp):
    out = os.path.join(tmp, "app.sfir")
    subprocess.run([SFC, app, "-o", out], check=True, stdout=subprocess.DEVNULL)
    return out


def http_post(conn, path, body):
    conn.request("POST", path, body=body if isinstance(body, bytes) else json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read().decode()


def http_get(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def request(port, req, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        status, text = http_post(conn, "/v1/requests", req)
        return status, json.loads(text)
    finally:
        conn.close()


def metric(port, name):
    _, text = http_get(port, "/metrics")
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


def read_commit_log(path):
    with open(path) as f:
        return [json.loads(ln) for ln in f if ln.strip()]


def replay_plain(app, reqs):
    """plain.py's replies to reqs (request dicts), in order."""
    data = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in reqs).encode()
    p = subprocess.run([PY, PLAIN, app], input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=dict(os.environ, PYTHONHASHSEED="0"), timeout=120)
    if p.returncode != 0:
        raise AssertionError("plain.py failed: %s" % p.stderr.decode()[-2000:])
    return [json.loads(x) for x in p.stdout.decode().split("\n") if x]


def native_reply_to_json(reply):
    """A native reply dict (Ref objects) in its JSON form."""
    def conv(v):
        if isinstance(v, Ref):
            return {"$ref": [v.entity, conv(v.key)]}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(reply)


class DaemonTest(unittest.TestCase):
    """Compiles the bank example once per class; subclasses start daemons."""

    app = BANK

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sfd-test-")
        cls.sfir = compile_app(cls.app, cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, name, **kw):
        d = Daemon(STATEFLOWD, self.sfir, os.path.join(self.tmp, name), **kw)
        self.addCleanup(d.__exit__)
        return d

    def stop_ok(self, d, workers_may_fail=False):
        status = d.stop()
        self.assertEqual(status, 0, "stateflowd exit status %r:\n%s" % (status, d.log_text()))
        problems = [ln for ln in d.problems() if not (workers_may_fail and "worker process" in ln)]
        self.assertEqual(problems, [], d.log_text())


# ============================================================== contention

class Contention(DaemonTest):
    ACCOUNTS = 5
    INITIAL = 1000
    CLIENTS = 16
    SECONDS = 3.0

    def test_transfers_serializable(self):
        log = os.path.join(self.tmp, "contention.log")
        d = self.start("contention", extra=["--commit-log", log])
        accts = ["a%d" % i for i in range(self.ACCOUNTS)]
        setup = []
        for a in accts:
            setup.append({"id": "c-" + a, "op": "create", "entity": "Account", "args": [a, "o" + a]})
            setup.append({"id": "d-" + a, "op": "call", "entity": "Account", "key": a,
                          "method": "deposit", "args": [self.INITIAL]})
        replies = {}      # id -> reply dict (JSON form)
        sent = []
        lock = threading.Lock()
        for r in setup:
            st, rep = request(d.http_port, r)
            self.assertIn(st, (200, 201), rep)
            self.assertIn("ok", rep, rep)
            replies[r["id"]] = rep
            sent.append(r["id"])

        stop_at = time.monotonic() + self.SECONDS
        errors = []

        def transfer(rid, rng):
            src, dst = rng.sample(accts, 2)
            return {"id": rid, "op": "call", "entity": "Account", "key": src, "method": "transfer",
                    "args": [rng.randint(1, 400), {"$ref": ["Account", dst]}]}

        def http_client(k):
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=30)
            i = 0
            try:
                while time.monotonic() < stop_at:
                    req = transfer("h%d-%d" % (k, i), rng)
                    i += 1
                    with lock:
                        sent.append(req["id"])
                    st, text = http_post(conn, "/v1/requests", req)
                    rep = json.loads(text)
                    with lock:
                        if req["id"] in replies:
                            errors.append("two replies for " + req["id"])
                        replies[req["id"]] = rep
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("http client %d: %r" % (k, e))
            finally:
                conn.close()

        def native_client():
            rng = random.Random(99)
            try:
                with Client("stateflow://127.0.0.1:%d" % d.native_port, token=d.token, timeout=30) as c:
                    n = 0
                    while time.monotonic() < stop_at:
                        reqs = []
                        for _ in range(40):
                            r = transfer("n-%d" % n, rng)
                            r["args"][1] = Ref("Account", r["args"][1]["$ref"][1])
                            reqs.append(r)
                            n += 1
                        with lock:
                            sent.extend(r["id"] for r in reqs)
                        for r, rep in zip(reqs, c.submit_many(reqs)):
                            rep = native_reply_to_json(rep)
                            with lock:
                                if r["id"] in replies:
                                    errors.append("two replies for " + r["id"])
                                replies[r["id"]] = rep
            except Exception as e:  # noqa: BLE001
                errors.append("native client: %r" % (e,))

        threads = [threading.Thread(target=http_client, args=(k,)) for k in range(self.CLIENTS)]
        threads.append(threading.Thread(target=native_client))
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(errors, errors[:5])
        # every request answered exactly once, with its own id
        self.assertEqual(sorted(sent), sorted(replies))
        for rid, rep in replies.items():
            self.assertEqual(rep.get("id"), rid)
            if "error" in rep:
                self.assertEqual(rep["error"]["type"], "ValueError", rep)
                self.assertIn("insufficient funds", rep["error"]["message"])
        # money is conserved
        final = {}
        for a in accts:
            st, rep = request(d.http_port, {"id": "g-" + a, "op": "get", "entity": "Account", "key": a})
            self.assertEqual(st, 200)
            final[a] = rep["ok"]
        self.assertEqual(sum(v["balance"] for v in final.values()), self.ACCOUNTS * self.INITIAL)
        self.assertTrue(all(v["balance"] >= 0 for v in final.values()), final)
        conflicts = metric(d.http_port, 'stateflow_aborts_total{cause="conflict"}')
        commits = metric(d.http_port, "stateflow_commits_total")
        self.stop_ok(d)
        self.assertGreater(conflicts, 0, "no conflict happened: the test did not test Aria")
        sys.stderr.write("\ncontention: %d requests, %d committed, %d conflict aborts\n"
                         % (len(sent), commits, conflicts))
        ok_ids = {rid for rid, rep in replies.items() if "ok" in rep}

        # the commit log: each committed request once, nothing else
        entries = read_commit_log(log)
        txids = [e["txid"] for e in entries]
        self.assertEqual(len(txids), len(set(txids)))
        logged = [e["request"]["id"] for e in entries]
        self.assertEqual(len(logged), len(set(logged)))
        self.assertEqual(set(logged), ok_ids | {"g-" + a for a in accts})
        self.assertEqual(commits, len(entries))
        batches = [e["batch"] for e in entries]
        self.assertEqual(batches, sorted(batches))

        # serial replay in commit-log order: same replies, same final state
        reqs = [e["request"] for e in entries]
        reqs += [{"id": "final-" + a, "op": "get", "entity": "Account", "key": a} for a in accts]
        plain = replay_plain(self.app, reqs)
        self.assertEqual(len(plain), len(reqs))
        for req, prep in zip(reqs, plain):
            rid = req["id"]
            if rid.startswith("final-"):
                self.assertEqual(prep["ok"], final[rid[6:]], rid)
            elif rid.startswith("g-"):
                continue  # read after the load, logged like any committed request
            else:
                self.assertEqual(prep, replies[rid], "replay differs for %s" % rid)


# ==================================================================== zipf

class Zipf(DaemonTest):
    KEYS = 1000
    THETA = 0.99
    CLIENTS = 16
    SECONDS = 3.0

    def test_no_starvation(self):
        log = os.path.join(self.tmp, "zipf.log")
        d = self.start("zipf", extra=["--commit-log", log])
        keys = ["k%d" % i for i in range(self.KEYS)]
        with Client("stateflow://127.0.0.1:%d" % d.native_port, token=d.token, timeout=60) as c:
            reps = c.submit_many([{"op": "create", "entity": "Account", "args": [k, "z"]} for k in keys])
            self.assertTrue(all("ok" in r for r in reps), reps[:3])
            reps = c.submit_many([{"op": "call", "entity": "Account", "key": k, "method": "deposit",
                                   "args": [100]} for k in keys])
            self.assertTrue(all("ok" in r for r in reps), reps[:3])
        cum = []
        total = 0.0
        for i in range(self.KEYS):
            total += 1.0 / (i + 1) ** self.THETA
            cum.append(total)

        def pick(rng):
            return keys[min(bisect.bisect_left(cum, rng.random() * total), self.KEYS - 1)]

        stop_at = time.monotonic() + self.SECONDS
        lat, errors, answered, sent = [], [], [0], [0]
        lock = threading.Lock()

        def client(k):
            rng = random.Random(1000 + k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=30)
            try:
                i = 0
                while time.monotonic() < stop_at:
                    src = pick(rng)
                    if rng.random() < 0.5:
                        dst = pick(rng)
                        while dst == src:
                            dst = pick(rng)
                        req = {"id": "z%d-%d" % (k, i), "op": "call", "entity": "Account", "key": src,
                               "method": "transfer", "args": [rng.randint(1, 5), {"$ref": ["Account", dst]}]}
                    else:
                        req = {"id": "z%d-%d" % (k, i), "op": "call", "entity": "Account", "key": src,
                               "method": "deposit", "args": [1]}
                    i += 1
                    with lock:
                        sent[0] += 1
                    t0 = time.monotonic()
                    st, text = http_post(conn, "/v1/requests", req)
                    dt = time.monotonic() - t0
                    rep = json.loads(text)
                    with lock:
                        lat.append(dt)
                        if rep.get("id") == req["id"] and ("ok" in rep or "error" in rep):
                            answered[0] += 1
                        else:
                            errors.append("bad reply %r" % rep)
                        if "error" in rep and rep["error"]["type"] != "ValueError":
                            errors.append("unexpected error %r" % rep)
            except Exception as e:  # noqa: BLE001
                errors.append("client %d: %r" % (k, e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(errors, errors[:5])
        self.assertEqual(answered[0], sent[0])
        self.assertGreater(sent[0], 100)
        conflicts = metric(d.http_port, 'stateflow_aborts_total{cause="conflict"}')
        fb_metrics = {"reruns": metric(d.http_port, "stateflow_reruns_total"),
                      "fallback": metric(d.http_port, 'stateflow_phase_transactions_total{phase="fallback"}'),
                      "waits": metric(d.http_port, "stateflow_fallback_lock_waits_total")}
        with Client("stateflow://127.0.0.1:%d" % d.native_port, token=d.token, timeout=60) as c:
            reps = c.submit_many([{"op": "get", "entity": "Account", "key": k} for k in keys])
        self.stop_ok(d)
        self.assertGreater(conflicts, 0)
        lat.sort()
        p99 = lat[int(len(lat) * 0.99) - 1]
        self.assertLess(lat[-1], 10.0, "max latency %.3fs" % lat[-1])
        entries = read_commit_log(log)
        runs = max(e["runs"] for e in entries)
        # the fallback phase: a transfer's footprint (its two accounts) never
        # changes, so every transaction commits in the batch it arrived in
        # although many conflict-aborted in the Aria phase
        self.assertEqual(runs, 1, "a transaction ran in %d batches" % runs)
        self.assertEqual(fb_metrics["reruns"], 0)
        self.assertEqual(fb_metrics["fallback"], conflicts)
        self.assertGreater(fb_metrics["fallback"], 0)
        self.assertGreater(fb_metrics["waits"], 0)
        # the state: conservation of transfers, deposits added
        balances = sum(r["ok"]["balance"] for r in reps)
        ok_deposits = sum(1 for e in entries if e["request"].get("method") == "deposit"
                          and str(e["request"].get("id", "")).startswith("z"))
        self.assertEqual(balances, self.KEYS * 100 + ok_deposits)
        sys.stderr.write("\nzipf: %d requests, %d conflict aborts, p99 %.1f ms, max %.1f ms, "
                         "max runs %d\n" % (sent[0], conflicts, p99 * 1e3, lat[-1] * 1e3, runs))


# ============================================= write sets: what changed

class RefusedWrites(DaemonTest):
    """Write sets are what was written (issue 11, item 3): many transfers
    from one account that all refuse (insufficient funds: the method returns
    False and changes nothing) are readers only, so one batch commits them
    all: no conflict abort, and the account is unchanged."""

    app = os.path.join(REPO, "bench", "apps", "accounts.py")
    N = 200

    def test_refusing_transfers_do_not_conflict(self):
        d = self.start("refused", extra=["--batch-ms", "50"])
        with Client("stateflow://127.0.0.1:%d" % d.native_port, token=d.token, timeout=60) as c:
            reps = c.submit_many([{"op": "create", "entity": "Account", "args": [k, b]}
                                  for k, b in (("poor", 5), ("rich", 0))])
            self.assertTrue(all("ok" in r for r in reps), reps)
            before = metric(d.http_port, 'stateflow_aborts_total{cause="conflict"}') or 0
            batches0 = metric(d.http_port, "stateflow_batches_total")
            reps = c.submit_many([{"op": "call", "entity": "Account", "key": "poor",
                                   "method": "transfer", "args": [10 + i, Ref("Account", "rich")]}
                                  for i in range(self.N)])
            self.assertEqual([r.get("ok") for r in reps], [False] * self.N, reps[:3])
            after = metric(d.http_port, 'stateflow_aborts_total{cause="conflict"}') or 0
            batches1 = metric(d.http_port, "stateflow_batches_total")
            reps = c.submit_many([{"op": "get", "entity": "Account", "key": k} for k in ("poor", "rich")])
        self.stop_ok(d)
        self.assertEqual(after - before, 0, "refusing transfers conflicted as writers")
        self.assertLessEqual(batches1 - batches0, 2)
        self.assertEqual([r["ok"]["balance"] for r in reps], [5, 0])


# ================================== the fallback: a footprint that changed

ROUTER_APP = """
from stateflow import entity


@entity
class Counter:
    def __init__(self, name: str):
        self.name: str = name
        self.count: int = 0

    def __key__(self):
        return self.name

    def bump(self) -> int:
        self.count += 1
        return self.count


@entity
class Router:
    def __init__(self, name: str, target: Counter):
        self.name: str = name
        self.target: Counter = target
        self.hops: int = 0

    def __key__(self):
        return self.name

    def set_target(self, target: Counter) -> int:
        self.target = target
        self.hops += 1
        return self.hops

    def bump_via(self) -> int:
        self.hops += 1
        return self.target.bump()
"""


class Footprint(DaemonTest):
    """The fallback phase re-executes a conflict-aborted transaction over
    the footprint of its first execution; one whose path changed (it now
    calls another instance) goes to the next batch instead, and the result
    is still the serial one. `bump_via` follows the router's target, which
    the smaller `set_target` in the same batch changes."""

    ROUNDS = 20

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sfd-test-")
        cls.app = os.path.join(cls.tmp, "router.py")
        with open(cls.app, "w") as f:
            f.write(ROUTER_APP)
        cls.sfir = compile_app(cls.app, cls.tmp)

    def test_changed_footprint_reruns(self):
        log = os.path.join(self.tmp, "footprint.log")
        d = self.start("footprint", extra=["--commit-log", log, "--batch-ms", "50"])
        names = ["c%d" % i for i in range(self.ROUNDS + 1)]
        with Client("stateflow://127.0.0.1:%d" % d.native_port, token=d.token, timeout=60) as c:
            reps = c.submit_many([{"op": "create", "entity": "Counter", "args": [n]} for n in names])
            self.assertTrue(all("ok" in r for r in reps), reps[:3])
            reps = c.submit_many([{"op": "create", "entity": "Router", "args": ["r", Ref("Counter", "c0")]}])
            self.assertTrue(all("ok" in r for r in reps), reps)
            sent = []
            for i in range(self.ROUNDS):
                # one batch: the router moves on, then a bump through it
                reqs = [{"id": "s%d" % i, "op": "call", "entity": "Router", "key": "r", "method": "set_target",
                         "args": [Ref("Counter", names[i + 1])]},
                        {"id": "b%d" % i, "op": "call", "entity": "Router", "key": "r", "method": "bump_via",
                         "args": []}]
                reps = c.submit_many(reqs)
                self.assertTrue(all("ok" in r for r in reps), reps)
                sent += [(q["id"], r["ok"]) for q, r in zip(reqs, reps)]
            counts = c.submit_many([{"op": "get", "entity": "Counter", "key": n} for n in names])
        reruns = metric(d.http_port, "stateflow_reruns_total")
        fallback = metric(d.http_port, 'stateflow_phase_transactions_total{phase="fallback"}')
        self.stop_ok(d)
        # every bump went through the router as the serial order left it
        self.assertEqual([r["ok"]["count"] for r in counts], [0] + [1] * self.ROUNDS)
        self.assertGreater(fallback, 0)
        self.assertGreater(reruns, 0, "no footprint changed: the test did not test the fallback's check")
        # the commit log replayed serially gives the same replies
        entries = read_commit_log(log)
        reqs = [e["request"] for e in entries]
        plain = replay_plain(self.app, reqs)
        mine = dict(sent)
        logged = [e["request"].get("id") for e in entries]
        self.assertEqual(sorted(x for x in logged if x in mine), sorted(mine))
        for rid, prep in zip(logged, plain):
            if rid in mine:
                self.assertEqual(prep.get("ok"), mine[rid], "replay differs for %s" % rid)


# ========================================== every program, all at once

class Serializable(unittest.TestCase):
    """Every differential program's requests sent at once (one POST
    /v1/requests array, so they share batches and conflict): replaying the
    commit log serially in plain Python gives exactly the daemon's reply for
    every committed request, and every request gets a reply."""

    def test_programs(self):
        import glob
        progs = sorted(glob.glob(os.path.join(REPO, "tests", "diff", "programs", "[0-8]*")))
        progs += sorted(glob.glob(os.path.join(REPO, "examples", "*")))
        tmp = tempfile.mkdtemp(prefix="sfd-ser-")
        self.addCleanup(shutil.rmtree, tmp, True)
        checked = 0
        for prog in progs:
            app = os.path.join(prog, "app.py")
            reqfile = os.path.join(prog, "requests.jsonl")
            if not os.path.exists(reqfile):
                continue
            name = os.path.basename(prog)
            reqs = []
            with open(reqfile, "rb") as f:
                for ln in f:
                    try:
                        r = json.loads(ln)
                    except ValueError:
                        continue
                    if type(r) is dict and "NaN" not in ln.decode("utf-8", "replace"):
                        r["id"] = "q%d" % len(reqs)
                        reqs.append(r)
            os.makedirs(os.path.join(tmp, name))
            sfir = compile_app(app, os.path.join(tmp, name))
            log = os.path.join(tmp, name + ".log")
            with Daemon(STATEFLOWD, sfir, os.path.join(tmp, name + ".data"), native=False,
                        extra=["--commit-log", log, "--partitions", "5", "--batch-ms", "5"]) as d:
                conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
                st, body = http_post(conn, "/v1/requests", reqs)
                conn.close()
                status = d.stop()
            self.assertEqual(status, 0, name)
            self.assertEqual(d.problems(), [], name)
            replies = json.loads(body)
            self.assertEqual(len(replies), len(reqs), name)
            byid = {r.get("id"): r for r in replies}
            self.assertEqual(set(byid), {r["id"] for r in reqs}, name)
            logged = [e["request"] for e in read_commit_log(log)]
            plain = replay_plain(app, logged)
            self.assertEqual(len(plain), len(logged), name)
            for req, prep in zip(logged, plain):
                self.assertEqual(byid[req["id"]], prep, "%s: %s" % (name, req))
            checked += len(logged)
        self.assertGreater(checked, 300)


# =============================================================== bad input

def raw_http(port, data, read=True, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"Connection: close" not in out and b"connection: close" not in out:
                # keep-alive answer: enough once the body is in
                head, _, body = out.partition(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length: (\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
        return out
    finally:
        s.close()


def frame(obj):
    b = mp.packb(obj)
    return len(b).to_bytes(4, "big") + b


def read_frame(s):
    hdr = b""
    while len(hdr) < 4:
        c = s.recv(4 - len(hdr))
        if not c:
            return None
        hdr += c
    n = int.from_bytes(hdr, "big")
    body = b""
    while len(body) < n:
        c = s.recv(n - len(body))
        if not c:
            return None
        body += c
    return mp.unpackb(body)


def closed_by_peer(s, timeout=8.0):
    s.settimeout(timeout)
    try:
        while True:
            c = s.recv(4096)
            if not c:
                return True
    except (socket.timeout, TimeoutError):
        return False
    except OSError:
        return True


class BadInput(DaemonTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.d = Daemon(STATEFLOWD, cls.sfir, os.path.join(cls.tmp, "bad"))
        try:
            st, rep = request(cls.d.http_port, {"op": "create", "entity": "Account", "args": ["x", "y"]})
            assert st == 201 or "ok" in rep, rep
        except Exception:
            cls.d.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        status = cls.d.stop()
        try:
            assert status == 0, "exit status %r:\n%s" % (status, cls.d.log_text())
            assert not cls.d.problems(), cls.d.log_text()
        finally:
            super().tearDownClass()

    def still_works(self):
        st, rep = request(self.d.http_port, {"id": "w", "op": "call", "entity": "Account", "key": "x",
                                             "method": "deposit", "args": [1]})
        self.assertEqual(st, 200, rep)
        self.assertIn("ok", rep)
        st, body = http_get(self.d.http_port, "/healthz")
        self.assertEqual(st, 200, body)

    def test_malformed_http(self):
        out = raw_http(self.d.http_port, b"BLAH BLAH BLAH\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:100])
        out = raw_http(self.d.http_port, b"\x00\x01\x02garbage\xff\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 4"), out[:100])
        self.still_works()

    def test_oversized_body(self):
        out = raw_http(self.d.http_port, b"POST /v1/requests HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Length: 2000000\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:100])
        self.still_works()

    def test_unknown_route_and_bad_json(self):
        st, body = http_get(self.d.http_port, "/v2/nothing")
        self.assertEqual(st, 404)
        st, body = http_get(self.d.http_port, "/v1/Account/nobody")
        self.assertEqual(st, 404)
        self.assertEqual(json.loads(body)["error"]["type"], "NotFound")
        conn = http.client.HTTPConnection("127.0.0.1", self.d.http_port, timeout=10)
        st, body = http_post(conn, "/v1/requests", b"{not json")
        self.assertEqual(st, 400)
        self.assertEqual(json.loads(body)["error"]["type"], "BadRequest")
        st, body = http_post(conn, "/v1/Nope", {"args": []})
        self.assertEqual(st, 404)
        st, body = http_post(conn, "/v1/Account/x/deposit", {"args": ["str"]})
        self.assertEqual(st, 422)
        self.assertEqual(json.loads(body)["error"]["type"], "TypeError")
        conn.close()
        self.still_works()

    def test_garbage_on_cluster_port(self):
        s = socket.create_connection(("127.0.0.1", self.d.cluster_port), timeout=10)
        s.sendall(b"\x00\x00\x00\x05hello garbage that is no frame" * 3)
        self.assertTrue(closed_by_peer(s))
        s.close()
        s = socket.create_connection(("127.0.0.1", self.d.cluster_port), timeout=10)
        s.sendall(b"\xff\xff\xff\xff")
        self.assertTrue(closed_by_peer(s))
        s.close()
        self.still_works()

    def test_worker_with_wrong_token(self):
        p = subprocess.run([STATEFLOWD, "--worker", "--join", "127.0.0.1:%d" % self.d.cluster_port,
                            "--token", "wrong"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b"token", p.stderr.lower())
        self.assertTrue(self.d.log_has(r"(?i)token"), self.d.log_text())
        self.still_works()

    def test_worker_joining_a_running_cluster(self):
        env = dict(os.environ, STATEFLOW_TOKEN=self.d.token.decode())
        p = subprocess.run([STATEFLOWD, "--worker", "--join", "127.0.0.1:%d" % self.d.cluster_port],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20, env=env)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(self.d.log_has(r"refused: the cluster is already running"), self.d.log_text())
        self.still_works()

    def test_client_vanishes(self):
        for _ in range(5):
            # mid-request: headers promise a body that never comes
            raw_http(self.d.http_port, b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                     b"{\"op\"", read=False)
            # a full request, gone before the reply
            raw_http(self.d.http_port, b"POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 80\r\n\r\n"
                     + json.dumps({"op": "call", "entity": "Account", "key": "x", "method": "deposit",
                                   "args": [1]}).encode().ljust(80), read=False)
        # a native client that leaves with requests in flight
        s = socket.create_connection(("127.0.0.1", self.d.native_port), timeout=10)
        s.sendall(frame([1, 1, self.d.token, "client", ""]))
        self.assertEqual(read_frame(s), [2, 1])
        for i in range(20):
            s.sendall(frame([20, i, {"op": "call", "entity": "Account", "key": "x", "method": "deposit",
                                     "args": [1]}]))
        s.close()
        time.sleep(0.3)
        self.still_works()

    def test_native_protocol_errors(self):
        # wrong token: REFUSE
        s = socket.create_connection(("127.0.0.1", self.d.native_port), timeout=10)
        s.sendall(frame([1, 1, b"nope", "client", ""]))
        rep = read_frame(s)
        self.assertEqual(rep[0], 3)
        s.close()
        # garbage before the handshake
        s = socket.create_connection(("127.0.0.1", self.d.native_port), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
        self.assertTrue(closed_by_peer(s))
        s.close()
        # after the handshake: a bad request map is a BadRequest reply, a good one works
        s = socket.create_connection(("127.0.0.1", self.d.native_port), timeout=10)
        s.sendall(frame([1, 1, self.d.token, "client", ""]))
        self.assertEqual(read_frame(s), [2, 1])
        s.sendall(frame([20, 7, {"id": "q", "op": "explode", "entity": "Account"}]))
        rep = read_frame(s)
        while rep[0] == 4:
            rep = read_frame(s)
        self.assertEqual(rep[:2], [21, 7])
        self.assertEqual(rep[2]["id"], "q")
        self.assertEqual(rep[2]["error"]["type"], "BadRequest")
        s.sendall(frame([20, 8, {"id": "r", "op": "get", "entity": "Account", "key": "x"}]))
        rep = read_frame(s)
        while rep[0] == 4:
            rep = read_frame(s)
        self.assertEqual(rep[:2], [21, 8])
        self.assertEqual(rep[2]["ok"]["account_id"], "x")
        # a frame of another type closes the connection
        s.sendall(frame([12, 1, 2]))
        self.assertTrue(closed_by_peer(s))
        s.close()
        self.still_works()


# ============================================================ worker death

class WorkerDeath(DaemonTest):
    def test_killed_worker(self):
        # the in-memory mode: a lost worker is the end of the service
        # (with durability on it recovers: tests/stateflowd/test_durability.py)
        d = self.start("death", extra=["--durability", "off"])
        accts = ["a%d" % i for i in range(8)]
        for a in accts:
            request(d.http_port, {"op": "create", "entity": "Account", "args": [a, "o"]})
            request(d.http_port, {"op": "call", "entity": "Account", "key": a, "method": "deposit",
                                  "args": [100]})
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2, d.log_text())
        stop_at = time.monotonic() + 1.5
        outcomes, errors = [], []
        lock = threading.Lock()

        def client(k):
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=20)
            try:
                while time.monotonic() < stop_at:
                    src, dst = rng.sample(accts, 2)
                    st, text = http_post(conn, "/v1/requests", {"op": "call", "entity": "Account",
                                                                "key": src, "method": "transfer",
                                                                "args": [1, {"$ref": ["Account", dst]}]})
                    with lock:
                        outcomes.append(st)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        os.kill(pids[1], signal.SIGKILL)
        for t in threads:
            t.join(40)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hangs")
        self.assertFalse(errors, errors[:3])
        self.assertTrue(set(outcomes) <= {200, 422, 503}, set(outcomes))
        self.assertIn(503, outcomes)
        st, rep = request(d.http_port, {"op": "get", "entity": "Account", "key": "a0"})
        self.assertEqual(st, 503)
        self.assertEqual(rep["error"]["type"], "Unavailable")
        st, body = http_get(d.http_port, "/healthz")
        self.assertEqual(st, 503)
        self.assertIn("worker", body)
        # Detected either way: the coordinator sees the dead worker's
        # connection close, or the survivor reports its lost peer first
        # (FAILED), whichever comes first.
        self.assertTrue(d.log_has(r"worker \d .*(disconnected|reported a failure)"), d.log_text())
        t0 = time.monotonic()
        self.stop_ok(d, workers_may_fail=True)
        self.assertLess(time.monotonic() - t0, 10)


# ===================================================================== cli

class Cli(DaemonTest):
    def run_sfd(self, *args, env=None, timeout=20):
        return subprocess.run([STATEFLOWD] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=env)

    def test_flags(self):
        p = self.run_sfd("--help")
        self.assertEqual(p.returncode, 0)
        self.assertIn(b"--local", p.stdout)
        for bad in (["--bogus"], [], ["--local"], ["--coordinator", "--app", self.sfir],
                    ["--worker"], ["--local", self.sfir, "--workers", "0"],
                    ["--local", self.sfir, "--batch-size", "x"], ["--worker", "--join", "h:1", "--app", "a"]):
            p = self.run_sfd(*bad)
            self.assertEqual(p.returncode, 2, (bad, p.stderr))
            self.assertTrue(p.stderr, bad)
        p = self.run_sfd("--local", os.path.join(self.tmp, "missing.sfir"), "--http", "127.0.0.1:0",
                         "--native", "off", "--data", os.path.join(self.tmp, "m"))
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(b"missing.sfir", p.stderr)

    def test_token_file(self):
        data = os.path.join(self.tmp, "tok")
        d = self.start("tok", workers=1)
        self.stop_ok(d)
        path = os.path.join(self.tmp, "tok", "cluster.token")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        with open(path, "rb") as f:
            tok = f.read()
        self.assertRegex(tok, rb"^[0-9a-f]{32}$")
        d = self.start("tok", workers=2)
        self.assertEqual(d.token, tok)
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2)
        # Ctrl-C: everything stops, exit status 0
        d.p.send_signal(signal.SIGINT)
        self.assertEqual(d.p.wait(15), 0, d.log_text())
        time.sleep(0.5)
        from sfd import is_worker
        self.assertFalse(any(is_worker(p) for p in pids))
        self.assertTrue(d.log_has("SIGINT: shutting down"))
        del data

    def test_coordinator_and_worker_roles(self):
        log = os.path.join(self.tmp, "roles.log")
        coord = subprocess.Popen([STATEFLOWD, "--coordinator", "--app", self.sfir, "--listen", "127.0.0.1:0",
                                  "--http", "127.0.0.1:0", "--native", "off", "--token", "t0k",
                                  "--workers", "2", "--partitions", "8", "--commit-log", log,
                                  "--data", os.path.join(self.tmp, "roles-data")],
                                 stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        procs = [coord]
        try:
            line = coord.stderr.readline().decode()
            m = re.search(r"cluster=[^ ]*:(\d+) http=[^ ]*:(\d+)", line)
            self.assertTrue(m, line)
            cport, hport = int(m.group(1)), int(m.group(2))
            st, body = http_get(hport, "/healthz")
            self.assertEqual(st, 503)
            for _ in range(2):
                procs.append(subprocess.Popen([STATEFLOWD, "--worker", "--join", "127.0.0.1:%d" % cport,
                                               "--token", "t0k"], stderr=subprocess.DEVNULL))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and http_get(hport, "/healthz")[0] != 200:
                time.sleep(0.1)
            st, rep = request(hport, {"op": "create", "entity": "Account", "args": ["r", "o"]})
            self.assertEqual(st, 201, rep)
            st, rep = request(hport, {"op": "call", "entity": "Account", "key": "r", "method": "deposit",
                                      "args": [5]})
            self.assertEqual(rep, {"ok": 5})
            coord.send_signal(signal.SIGTERM)
            self.assertEqual(coord.wait(15), 0)
            for p in procs[1:]:
                self.assertEqual(p.wait(15), 0)
            self.assertEqual(len(read_commit_log(log)), 2)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            coord.stderr.close()


if __name__ == "__main__":
    unittest.main()
