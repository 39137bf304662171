#!/usr/bin/python3
"""test_coord_limits.py: the coordinator's answers to failures and overload
(runtime/cluster/coord_*.c, docs/runtime.md "Coordinator").

    SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/stateflowd/test_coord_limits.py [-v] [StalledBatch|WorkerFailed|...]

ctest runs each class as its own test (tests/stateflowd.cmake).

- StalledBatch: a worker stopped with SIGSTOP in a 2-worker cluster with a
  short --batch-timeout-ms: every request in flight or sent later gets
  exactly one answer (Unavailable once the batch timed out), the
  coordinator stays up and says why on /healthz.
- Health: /healthz means progress: 200 while idle (even with a worker
  stopped) and under load, 503 once a batch has work and made no progress
  for over a second (a worker SIGSTOPped), 200 again when it resumes.
- Overload: far more concurrent requests than --max-pending allows (HTTP
  arrays, single HTTP requests, pipelined native clients): every request gets
  exactly one answer, a reply or Overloaded (HTTP 503 with Retry-After), the
  money of the committed transfers adds up account by account, /metrics
  counts the rejections, the coordinator stays up and healthy.
- WorkerFailed: a (fake) worker reports FAILED in the middle of a batch: the
  waiting request is answered Unavailable, the coordinator stays up.
Standard library only (plus python/stateflow from this repository).
"""

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

from test_stateflowd import (STATEFLOWD, DaemonTest, frame, http_get, http_post,  # noqa: E402
                             metric, read_frame, request)
from stateflow.client import Ref  # noqa: E402


class Native:
    """A raw native-protocol client that pipelines requests and records
    every reply by correlation number."""

    def __init__(self, port, token, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.sendall(frame([1, 1, token, "client", ""]))
        rep = read_frame(self.s)
        if rep != [2, 1]:
            raise AssertionError("native handshake: %r" % (rep,))
        self.replies = {}   # corr -> list of replies (exactly one expected)

    def send(self, corr, req):
        """Send request dict req (JSON form: {"$ref": ...} become Refs)."""
        def conv(v):
            if isinstance(v, dict) and list(v) == ["$ref"]:
                return Ref(v["$ref"][0], v["$ref"][1])
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v
        req = dict(req)
        if "args" in req:
            req["args"] = conv(req["args"])
        self.s.sendall(frame([20, corr, req]))

    def read_replies(self, n, timeout):
        """Read until n distinct correlation numbers were answered or the
        time is up; returns how many are answered."""
        deadline = time.monotonic() + timeout
        while len(self.replies) < n and time.monotonic() < deadline:
            self.s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                rep = read_frame(self.s)
            except socket.timeout:
                break
            if rep is None:
                break
            if rep[0] == 21:
                self.replies.setdefault(rep[1], []).append(rep[2])
        return len(self.replies)

    def no_more_replies(self, wait=0.5):
        """True when nothing but heartbeats arrives within wait seconds."""
        self.s.settimeout(wait)
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:
                rep = read_frame(self.s)
                if rep is None:
                    return True
                if rep[0] == 21:
                    self.replies.setdefault(rep[1], []).append(rep[2])
                    return False
        except socket.timeout:
            pass
        return True

    def close(self):
        self.s.close()


def transfer(rng, accts, rid=None):
    src, dst = rng.sample(accts, 2)
    amount = rng.randint(1, 30)
    req = {"op": "call", "entity": "Account", "key": src, "method": "transfer",
           "args": [amount, {"$ref": ["Account", dst]}]}
    if rid is not None:
        req["id"] = rid
    return req, (src, dst, amount)


def setup_accounts(port, accts, initial):
    for a in accts:
        st, rep = request(port, {"op": "create", "entity": "Account", "args": [a, "o" + a]})
        assert st == 201, (st, rep)
        st, rep = request(port, {"op": "call", "entity": "Account", "key": a, "method": "deposit",
                                 "args": [initial]})
        assert st == 200 and rep == {"ok": initial}, (st, rep)


def resume(pid):
    try:
        os.kill(pid, signal.SIGCONT)
    except OSError:
        pass


# ============================================================ stalled batch

class StalledBatch(DaemonTest):
    def test_stopped_worker(self):
        d = self.start("stall", workers=2, extra=["--batch-timeout-ms", "1500", "--durability", "off"])
        accts = ["a%d" % i for i in range(8)]
        setup_accounts(d.http_port, accts, 1000)
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2, d.log_text())

        answers = []          # (client, status, error type or None)
        errors = []
        lock = threading.Lock()
        done = threading.Event()

        def client(k):
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=30)
            try:
                while not done.is_set():
                    req, _ = transfer(rng, accts)
                    st, text = http_post(conn, "/v1/requests", req)
                    rep = json.loads(text)
                    with lock:
                        answers.append((k, st, rep.get("error", {}).get("type")))
                    if st == 503:
                        return
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        os.kill(pids[1], signal.SIGSTOP)
        self.addCleanup(resume, pids[1])
        # requests in flight behind the stopped worker: pipelined natively
        nat = Native(d.native_port, d.token)
        self.addCleanup(nat.close)
        rng = random.Random(99)
        N = 40
        for i in range(N):
            nat.send(i + 1, transfer(rng, accts, "n%d" % i)[0])
        self.assertEqual(nat.read_replies(N, 20), N, "native requests unanswered:\n" + d.log_text())
        self.assertTrue(nat.no_more_replies(), "a second answer")
        for corr, reps in nat.replies.items():
            self.assertEqual(len(reps), 1, (corr, reps))
            self.assertEqual(reps[0]["error"]["type"], "Unavailable", reps[0])
        for t in threads:
            t.join(20)
        done.set()
        self.assertFalse(any(t.is_alive() for t in threads), "an HTTP client hangs")
        self.assertFalse(errors, errors[:3])
        for k in range(6):
            last = [a for a in answers if a[0] == k][-1]
            self.assertEqual(last[1:], (503, "Unavailable"), last)
        self.assertTrue({a[1] for a in answers} <= {200, 422, 503}, answers)
        # the coordinator is up, says why, and answers new requests at once
        self.assertIsNone(d.p.poll())
        self.assertTrue(d.log_has(r"batch \d+ made no progress for \d+ ms"), d.log_text())
        st, body = http_get(d.http_port, "/healthz")
        self.assertEqual(st, 503)
        self.assertIn("no progress", body)
        st, rep = request(d.http_port, {"op": "get", "entity": "Account", "key": "a0"}, timeout=5)
        self.assertEqual((st, rep["error"]["type"]), (503, "Unavailable"))
        resume(pids[1])
        self.stop_ok(d, workers_may_fail=True)


# =================================================================== health

class Health(DaemonTest):
    def wait_health(self, d, want, timeout=10.0):
        deadline = time.monotonic() + timeout
        st, body = http_get(d.http_port, "/healthz")
        while st != want and time.monotonic() < deadline:
            time.sleep(0.05)
            st, body = http_get(d.http_port, "/healthz")
        return st, body

    def test_progress(self):
        d = self.start("health", workers=2, extra=["--batch-timeout-ms", "120000"])
        accts = ["a%d" % i for i in range(8)]
        setup_accounts(d.http_port, accts, 1000)
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2, d.log_text())
        # progressing: healthy while clients keep the batches busy
        done = threading.Event()
        errors = []

        def client(k):
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=30)
            try:
                while not done.is_set():
                    st, _ = http_post(conn, "/v1/requests", transfer(rng, accts)[0])
                    if st not in (200, 422):
                        errors.append(st)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            # (a batch descheduled for over a second on a busy machine is a
            # real stall too, so one odd 503 is tolerated)
            healthy = 0
            for _ in range(10):
                healthy += http_get(d.http_port, "/healthz")[0] == 200
                time.sleep(0.05)
            self.assertGreaterEqual(healthy, 9)
        finally:
            done.set()
            for t in threads:
                t.join(20)
        self.assertFalse(errors, errors[:3])
        # idle: healthy, even with a worker stopped (nothing waits for it)
        os.kill(pids[1], signal.SIGSTOP)
        self.addCleanup(resume, pids[1])
        time.sleep(1.3)
        self.assertEqual(http_get(d.http_port, "/healthz")[0], 200)
        # work that cannot progress: 503 after a second, and says why
        result = {}

        def one():
            result["r"] = request(d.http_port, {"op": "call", "entity": "Account", "key": "a1",
                                                "method": "deposit", "args": [5]}, timeout=60)

        t = threading.Thread(target=one)
        t.start()
        st, body = self.wait_health(d, 503)
        self.assertEqual(st, 503, body)
        self.assertIn("no progress", body)
        self.assertIn("worker", body)
        self.assertTrue(t.is_alive())
        # resumed: the request completes and the service is healthy again
        resume(pids[1])
        t.join(30)
        self.assertFalse(t.is_alive(), "the request hangs after the worker resumed")
        st, rep = result["r"]
        self.assertEqual(st, 200, rep)
        self.assertIsInstance(rep["ok"], int)
        st, body = self.wait_health(d, 200)
        self.assertEqual(st, 200, body)
        self.assertIsNone(d.p.poll())
        self.stop_ok(d)


# ================================================================= overload

class Overload(DaemonTest):
    ACCOUNTS = 10
    INITIAL = 1000

    def test_answered_never_queued(self):
        d = self.start("overload", workers=2,
                       extra=["--batch-size", "20", "--max-pending", "50", "--batch-ms", "5"])
        accts = ["a%d" % i for i in range(self.ACCOUNTS)]
        setup_accounts(d.http_port, accts, self.INITIAL)
        touched = {}          # request id -> (src, dst, amount)
        answers = {}          # request id -> list of (kind, detail)
        lock = threading.Lock()
        errors = []
        retry_after = []

        def record(rid, rep):
            if "ok" in rep:
                kind = "ok"
            else:
                kind = rep.get("error", {}).get("type")
            with lock:
                answers.setdefault(rid, []).append(kind)

        def new_transfer(rng, rid):
            req, t = transfer(rng, accts, rid)
            with lock:
                touched[rid] = t
            return req

        def http_arrays(k):
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
            try:
                for rnd in range(4):
                    reqs = [new_transfer(rng, "h%d-%d-%d" % (k, rnd, i)) for i in range(100)]
                    st, text = http_post(conn, "/v1/requests", reqs)
                    if st != 200:
                        errors.append((st, text[:200]))
                        return
                    reps = json.loads(text)
                    if len(reps) != len(reqs):
                        errors.append("%d replies for %d requests" % (len(reps), len(reqs)))
                    for rep in reps:
                        record(rep.get("id"), rep)
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                conn.close()

        def http_singles(k):
            rng = random.Random(1000 + k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
            try:
                for i in range(40):
                    rid = "s%d-%d" % (k, i)
                    body = json.dumps(new_transfer(rng, rid)).encode()
                    conn.request("POST", "/v1/requests", body=body, headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    rep = json.loads(r.read().decode())
                    record(rep.get("id"), rep)
                    if r.status == 503 and rep["error"]["type"] == "Overloaded":
                        with lock:
                            retry_after.append(r.getheader("Retry-After"))
                    elif r.status not in (200, 422):
                        errors.append((r.status, rep))
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))
            finally:
                conn.close()

        def native(k):
            rng = random.Random(2000 + k)
            try:
                nat = Native(d.native_port, d.token)
                N = 400
                ids = {}
                for i in range(N):
                    rid = "n%d-%d" % (k, i)
                    ids[i + 1] = rid
                    nat.send(i + 1, new_transfer(rng, rid))
                got = nat.read_replies(N, 60)
                if got != N:
                    errors.append("native %d: %d of %d answered" % (k, got, N))
                if not nat.no_more_replies(0.3):
                    errors.append("native %d: a second answer" % k)
                for corr, reps in nat.replies.items():
                    for rep in reps:
                        if rep.get("id") != ids.get(corr):
                            errors.append("native reply %r for corr %d" % (rep, corr))
                        record(ids.get(corr), rep)
                nat.close()
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

        threads = ([threading.Thread(target=http_arrays, args=(k,)) for k in range(6)] +
                   [threading.Thread(target=http_singles, args=(k,)) for k in range(12)] +
                   [threading.Thread(target=native, args=(k,)) for k in range(3)])
        for t in threads:
            t.start()
        for t in threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in threads), "a client hangs:\n" + d.log_text())
        self.assertFalse(errors, errors[:5])
        # exactly one answer per request, and only these kinds
        self.assertEqual(set(answers), set(touched))
        for rid, kinds in answers.items():
            self.assertEqual(len(kinds), 1, (rid, kinds))
        kinds = [k[0] for k in answers.values()]
        self.assertTrue(set(kinds) <= {"ok", "ValueError", "Overloaded"}, set(kinds))
        n_over = kinds.count("Overloaded")
        n_ok = kinds.count("ok")
        self.assertGreater(n_over, 0, "never overloaded")
        self.assertGreater(n_ok, 0, "nothing committed")
        self.assertTrue(all(v == "1" for v in retry_after), set(retry_after))
        # money: each account moved by exactly its committed transfers
        want = {a: self.INITIAL for a in accts}
        for rid, kind in answers.items():
            if kind[0] == "ok":
                src, dst, amount = touched[rid]
                want[src] -= amount
                want[dst] += amount
        for a in accts:
            st, rep = request(d.http_port, {"op": "call", "entity": "Account", "key": a,
                                            "method": "get_balance", "args": []})
            self.assertEqual((st, rep), (200, {"ok": want[a]}), a)
        self.assertEqual(sum(want.values()), self.INITIAL * self.ACCOUNTS)
        # counted, and still serving
        self.assertEqual(metric(d.http_port, 'stateflow_rejected_total{reason="overloaded"}'), n_over)
        self.assertIsNone(d.p.poll())
        self.assertEqual(http_get(d.http_port, "/healthz")[0], 200)
        self.stop_ok(d)

    def test_exact_bound_while_stalled(self):
        # a stopped worker freezes the batches: exactly --max-pending
        # requests are taken, every one past it is Overloaded at once
        d = self.start("bound", workers=2, extra=["--batch-size", "10", "--max-pending", "20",
                                                 "--batch-timeout-ms", "120000"])
        accts = ["a%d" % i for i in range(4)]
        setup_accounts(d.http_port, accts, 100)
        pids = d.worker_pids()
        os.kill(pids[1], signal.SIGSTOP)
        self.addCleanup(resume, pids[1])
        results = {}
        lock = threading.Lock()

        def one(i):
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
            try:
                body = json.dumps({"id": "q%d" % i, "op": "call", "entity": "Account", "key": accts[i % 4],
                                   "method": "deposit", "args": [1]}).encode()
                conn.request("POST", "/v1/requests", body=body, headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                rep = json.loads(r.read().decode())
                with lock:
                    results[i] = (r.status, r.getheader("Retry-After"), rep)
            finally:
                conn.close()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with lock:
                if len(results) >= 10:
                    break
            time.sleep(0.05)
        time.sleep(0.3)
        with lock:
            early = dict(results)
        self.assertEqual(len(early), 10, early)
        for st, retry, rep in early.values():
            self.assertEqual((st, retry, rep["error"]["type"]), (503, "1", "Overloaded"), rep)
        # a native client is refused the same way, and the refusals are counted
        nat = Native(d.native_port, d.token)
        self.addCleanup(nat.close)
        for i in range(5):
            nat.send(i + 1, {"id": "n%d" % i, "op": "get", "entity": "Account", "key": "a0"})
        self.assertEqual(nat.read_replies(5, 20), 5)
        for reps in nat.replies.values():
            self.assertEqual([r["error"]["type"] for r in reps], ["Overloaded"])
        self.assertEqual(metric(d.http_port, 'stateflow_rejected_total{reason="overloaded"}'), 15)
        # resumed: the 20 taken complete, each once
        resume(pids[1])
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads))
        self.assertEqual(len(results), 30)
        done = [r for i, r in results.items() if i not in early]
        self.assertEqual(len(done), 20)
        for st, retry, rep in done:
            self.assertEqual(st, 200, rep)
            self.assertIsNone(retry)
        total = 0
        for a in accts:
            st, rep = request(d.http_port, {"op": "call", "entity": "Account", "key": a,
                                            "method": "get_balance", "args": []})
            total += rep["ok"]
        self.assertEqual(total, 4 * 100 + 20)
        self.stop_ok(d)


# ============================================================ failed worker

class FakeWorker:
    """Joins a coordinator's cluster port as a worker, speaking the frames
    by hand, so a test can make it report FAILED."""

    def __init__(self, port, token):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.s.sendall(frame([1, 1, token, "worker", "127.0.0.1:1"]))
        rep = read_frame(self.s)
        if rep is None or rep[0] != 2:
            raise AssertionError("cluster handshake: %r" % (rep,))

    def expect(self, ftype):
        while True:
            f = read_frame(self.s)
            if f is None:
                raise AssertionError("the coordinator closed the connection")
            if f[0] == ftype:
                return f

    def send(self, obj):
        self.s.sendall(frame(obj))

    def close(self):
        self.s.close()


class Coordinator:
    """`stateflowd --coordinator` on free ports, its log collected."""

    def __init__(self, sfir, token, workers=1, extra=()):
        self.p = subprocess.Popen([STATEFLOWD, "--coordinator", "--app", sfir, "--listen", "127.0.0.1:0",
                                   "--http", "127.0.0.1:0", "--native", "off", "--token", token,
                                   "--workers", str(workers), "--durability", "off"] + list(extra),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = self.p.stderr.readline().decode()
        m = re.search(r"cluster=[^ ]*:(\d+) http=[^ ]*:(\d+)", line)
        if not m:
            self.p.kill()
            raise AssertionError("no listening line: %r" % line)
        self.cluster_port, self.http_port = int(m.group(1)), int(m.group(2))
        self.lines = [line.rstrip("\n")]
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.p.stderr:
            with self.lock:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def log_has(self, pattern, timeout=5.0):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if any(rx.search(ln) for ln in self.lines):
                    return True
            time.sleep(0.05)
        return False

    def log_text(self):
        with self.lock:
            return "\n".join("    " + ln for ln in self.lines[-40:])

    def stop(self):
        status = self.p.returncode
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                status = self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                status = None
        self.reader.join(5)
        self.p.stderr.close()
        return status


class WorkerFailed(DaemonTest):
    def test_failed_frame(self):
        coord = Coordinator(self.sfir, "t0k")
        self.addCleanup(coord.stop)
        w = FakeWorker(coord.cluster_port, b"t0k")
        self.addCleanup(w.close)
        w.expect(18)            # APP
        mp_map = w.expect(10)   # MAP
        self.assertEqual(mp_map[1], 0)
        w.send([19])            # READY
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and http_get(coord.http_port, "/healthz")[0] != 200:
            time.sleep(0.05)
        self.assertEqual(http_get(coord.http_port, "/healthz")[0], 200, coord.log_text())
        result = {}

        def client():
            result["r"] = request(coord.http_port, {"op": "create", "entity": "Account", "args": ["x", "o"]},
                                  timeout=20)

        t = threading.Thread(target=client)
        t.start()
        batch = w.expect(11)    # BATCH: the request is in flight
        self.assertEqual(len(batch[2]), 1)
        w.send([25, "the connection to worker 1 closed"])
        t.join(20)
        self.assertFalse(t.is_alive(), "the client hangs")
        st, rep = result["r"]
        self.assertEqual((st, rep["error"]["type"]), (503, "Unavailable"), rep)
        self.assertTrue(coord.log_has(r"worker 0 .*reported a failure: the connection to worker 1 closed"),
                        coord.log_text())
        self.assertIsNone(coord.p.poll())
        st, body = http_get(coord.http_port, "/healthz")
        self.assertEqual(st, 503)
        self.assertIn("reported a failure", body)
        st, rep = request(coord.http_port, {"op": "get", "entity": "Account", "key": "x"}, timeout=5)
        self.assertEqual((st, rep["error"]["type"]), (503, "Unavailable"))
        self.assertEqual(coord.stop(), 0, coord.log_text())


if __name__ == "__main__":
    unittest.main()
