#!/usr/bin/python3
"""test_peer_failure.py: a worker whose peer dies, or whose connection to its
peer dies, while transfers spanning both workers are in flight
(runtime/cluster/mesh.c, docs/runtime.md "Failures").

    SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/stateflowd/test_peer_failure.py [-v]

- test_peer_process_killed: one worker of two is killed with SIGKILL.
- test_peer_connection_killed: only the TCP connection between the two
  workers is destroyed (`ss -K`; skipped where the kernel does not allow it);
  both worker processes and the coordinator's connections stay up, so only
  the workers can notice.

Each asserts what the worker guarantees: the surviving worker process keeps
running (no crash, no exit), it logged the failure once naming the other
worker, the coordinator learnt of it (its log shows the FAILED frame or the
worker's disconnect), every client request got an answer, and SIGTERM still
stops the daemon cleanly. No timing assertions; every wait is bounded.
Standard library only.
"""

import http.client
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

from sfd import is_worker  # noqa: E402
from test_stateflowd import DaemonTest, http_post, request  # noqa: E402

WORKER_FAILURE = re.compile(r"worker (\d+): failure: .*worker (\d+)")
# a coordinator line (not a worker's "worker N: ..." / "worker: ..."): the
# FAILED frame was received, or the worker's connection closed
COORD_SAW_IT = re.compile(r"^stateflowd: (?!worker \d+: |worker: ).*"
                          r"(frame 25 |FAILED|[Ff]ailed|failure|disconnected)")


def ss_kill_works():
    """`ss -K` can destroy a TCP socket here (root, kernel support)."""
    try:
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(1)
        port = lst.getsockname()[1]
        cli = socket.create_connection(("127.0.0.1", port), timeout=5)
        srv, _ = lst.accept()
        subprocess.run(["ss", "-K", "-tnH", "dst", "127.0.0.1", "dport", "=", str(port)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
        srv.settimeout(5)
        try:
            ok = srv.recv(1) == b""
        except OSError:
            ok = True
        for s in (cli, srv, lst):
            s.close()
        return ok
    except (OSError, subprocess.SubprocessError):
        return False


class PeerFailure(DaemonTest):
    ACCOUNTS = 8
    CLIENTS = 6

    def setup_bank(self, d):
        self.accts = ["a%d" % i for i in range(self.ACCOUNTS)]
        for a in self.accts:
            st, _ = request(d.http_port, {"op": "create", "entity": "Account", "args": [a, "o"]})
            self.assertIn(st, (200, 201), d.log_text())
            st, _ = request(d.http_port, {"op": "call", "entity": "Account", "key": a,
                                          "method": "deposit", "args": [1000]})
            self.assertEqual(st, 200, d.log_text())

    def start_clients(self, d):
        """Clients sending transfers between random accounts (most span both
        workers) until told to stop or the service answers Unavailable."""
        self.outcomes, self.errors = [], []
        self.halt = threading.Event()
        lock = threading.Lock()

        def client(k):
            rng = random.Random(k)
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
            try:
                while not self.halt.is_set():
                    src, dst = rng.sample(self.accts, 2)
                    st, _ = http_post(conn, "/v1/requests", {
                        "op": "call", "entity": "Account", "key": src, "method": "transfer",
                        "args": [1, {"$ref": ["Account", dst]}]})
                    with lock:
                        self.outcomes.append(st)
                    if st == 503:
                        break
            except Exception as e:  # noqa: BLE001
                with lock:
                    self.errors.append(repr(e))
            finally:
                conn.close()

        self.threads = [threading.Thread(target=client, args=(k,), daemon=True)
                        for k in range(self.CLIENTS)]
        for t in self.threads:
            t.start()
        # wait until the load runs (bounded)
        deadline = time.monotonic() + 30
        while len(self.outcomes) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertGreaterEqual(len(self.outcomes), 20, d.log_text())

    def finish_clients(self, d):
        self.halt.set()
        for t in self.threads:
            t.join(90)
        self.assertFalse(any(t.is_alive() for t in self.threads), "a client hangs\n" + d.log_text())
        self.assertEqual(self.errors, [], self.errors[:3])
        self.assertTrue(set(self.outcomes) <= {200, 422, 503}, set(self.outcomes))

    def failures(self, d):
        with d.lock:
            return [WORKER_FAILURE.search(ln) for ln in d.lines if WORKER_FAILURE.search(ln)]

    def assert_running(self, d, pid):
        self.assertTrue(is_worker(pid), "worker process %d is gone:\n%s" % (pid, d.log_text()))
        with d.lock:
            gone = [ln for ln in d.lines if "worker process %d " % pid in ln]
        self.assertEqual(gone, [], d.log_text())

    def test_peer_process_killed(self):
        d = self.start("killed", extra=["--durability", "off"])  # the in-memory failure path
        self.setup_bank(d)
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2, d.log_text())
        survivor, victim = pids
        self.start_clients(d)
        os.kill(victim, signal.SIGKILL)
        self.assertTrue(d.log_has(WORKER_FAILURE.pattern, timeout=30), d.log_text())
        self.assertTrue(d.log_has(COORD_SAW_IT.pattern, timeout=30), d.log_text())
        self.finish_clients(d)
        self.assert_running(d, survivor)
        found = self.failures(d)
        self.assertEqual(len(found), 1, d.log_text())  # logged once, by the survivor only
        self.assertNotEqual(found[0].group(1), found[0].group(2))
        self.assertEqual(d.problems(), [], d.log_text())
        self.stop_ok(d)

    def test_peer_connection_killed(self):
        if not ss_kill_works():
            self.skipTest("`ss -K` cannot destroy sockets here")
        d = self.start("conn", extra=["--durability", "off"])
        self.setup_bank(d)
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2, d.log_text())
        # worker 1 connects to worker 0's listening port: that is the mesh
        m = re.search(r"worker 0 joined from \S+ \(listening on [^ ]*:(\d+)\)", d.log_text(200))
        self.assertIsNotNone(m, d.log_text())
        self.start_clients(d)
        subprocess.run(["ss", "-K", "-tnH", "dst", "127.0.0.1", "dport", "=", m.group(1)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10, check=True)
        self.assertTrue(d.log_has(WORKER_FAILURE.pattern, timeout=30), d.log_text())
        self.assertTrue(d.log_has(COORD_SAW_IT.pattern, timeout=30), d.log_text())
        self.finish_clients(d)
        for pid in pids:
            self.assert_running(d, pid)
        found = self.failures(d)
        # each worker that noticed logged it once, naming the other
        self.assertGreaterEqual(len(found), 1, d.log_text())
        self.assertEqual(len({f.group(1) for f in found}), len(found), d.log_text())
        for f in found:
            self.assertNotEqual(f.group(1), f.group(2))
        self.assertEqual(d.problems(), [], d.log_text())
        self.stop_ok(d)


if __name__ == "__main__":
    unittest.main()
