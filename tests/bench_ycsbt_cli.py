#!/usr/bin/python3
"""bench_ycsbt_cli.py: the ycsbt load generator (bench/ycsbt) as a program:
it never hangs, and its exit status says whether every request was answered.

    SF_YCSBT=build/bin/ycsbt SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/bench_ycsbt_cli.py [-v] [Silent|Local]

- Silent: a TCP server that accepts connections, reads everything and never
  answers. ycsbt over HTTP with a timed run, with --duration 0 --validate
  and with --load; over the native protocol; against PostgreSQL's URL: each
  exits 1 on its own (the test's own limit is only a safety net), says what
  stayed unanswered or could not be read, and the JSON result says so too.
- Local: against `stateflowd --local`, a load, a transfer run and the
  closed-economy check exit 0 with every request answered exactly once.
Standard library only. No timing is asserted: the subprocess limit is there
so a regression fails instead of hanging the suite.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "stateflowd"))

from sfd import Daemon  # noqa: E402

YCSBT = os.environ.get("SF_YCSBT", os.path.join(REPO, "build", "bin", "ycsbt"))
SFC = os.environ.get("SF_SFC", os.path.join(REPO, "build", "bin", "sfc"))
STATEFLOWD = os.environ.get("SF_STATEFLOWD", os.path.join(REPO, "build", "bin", "stateflowd"))
SAFETY_S = 60  # far above every limit given to ycsbt below


class SilentServer:
    """Accepts, reads and discards, never writes."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(c)
            threading.Thread(target=self._drain, args=(c,), daemon=True).start()

    @staticmethod
    def _drain(c):
        try:
            while c.recv(65536):
                pass
        except OSError:
            pass

    def close(self):
        self.stopping = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def run_ycsbt(args, cwd):
    p = subprocess.run([YCSBT] + args, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=SAFETY_S)
    return p.returncode, p.stdout, p.stderr


class Silent(unittest.TestCase):
    def setUp(self):
        self.srv = SilentServer()
        self.tmp = tempfile.mkdtemp(prefix="ycsbt-silent-")

    def tearDown(self):
        self.srv.close()

    def test_http_run_unanswered(self):
        out = os.path.join(self.tmp, "run.json")
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "100", "--warmup", "0", "--duration", "1", "--drain", "1",
                                "--outstanding", "8", "--connections", "2", "--quiet", "--json", out],
                               self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("8 requests still unanswered after the 1 s drain (transfer 8)", se)
        self.assertIn("unanswered   transfer 8", so)
        with open(out) as f:
            j = json.load(f)
        self.assertEqual(j["unanswered"], 8)
        self.assertEqual(j["unanswered_by_kind"], {"transfer": 8})
        self.assertEqual(j["replies"], 0)
        self.assertFalse(j["exactly_once"])

    def test_http_validate_only_times_out(self):
        out = os.path.join(self.tmp, "val.json")
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "100", "--duration", "0", "--validate",
                                "--validate-timeout-s", "1", "--quiet", "--json", out], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("validate: timed out after 1 s: 0 of 100 balances read", se)
        self.assertIn("100 not read (100 of them sent and unanswered)", se)
        self.assertIn("INCOMPLETE", so)
        with open(out) as f:
            v = json.load(f)["validation"]
        self.assertFalse(v["ok"])
        self.assertTrue(v["timed_out"])
        self.assertEqual(v["unread"], 100)
        self.assertEqual(v["unread_in_flight"], 100)

    def test_http_validate_after_run_times_out(self):
        # the run's requests stay unanswered, then the check cannot read either
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "50", "--warmup", "0", "--duration", "1", "--drain", "1",
                                "--outstanding", "4", "--connections", "1", "--validate",
                                "--validate-timeout-s", "1", "--quiet"], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("4 requests still unanswered", se)
        self.assertIn("validate: timed out after 1 s", se)

    def test_http_load_stalls(self):
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "100", "--load", "--duration", "0", "--stall-timeout-s", "1",
                                "--quiet"], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("load: no reply for 1 s: 0 of 100 records created, 100 requests unanswered", se)

    def test_native_handshake_unanswered(self):
        rc, so, se = run_ycsbt(["--target", "stateflow://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "100", "--duration", "1", "--connections", "1", "--token",
                                "x", "--quiet"], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("cannot connect", se)

    def test_postgres_connect_unanswered(self):
        rc, so, se = run_ycsbt(["--target", "postgres://u@127.0.0.1:%d/db" % self.srv.port,
                                "--workload", "T", "--records", "100", "--duration", "1",
                                "--stall-timeout-s", "2", "--quiet"], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("postgres: cannot connect", se)


class Local(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ycsbt-local-")
        cls.sfir = os.path.join(cls.tmp, "accounts.sfir")
        subprocess.run([SFC, os.path.join(REPO, "bench", "apps", "accounts.py"), "-o", cls.sfir],
                       check=True, stdout=subprocess.DEVNULL)

    def test_transfers_exit_0(self):
        data = os.path.join(self.tmp, "data")
        with Daemon(STATEFLOWD, self.sfir, data) as d:
            for url in ("stateflow://127.0.0.1:%d" % d.native_port, "http://127.0.0.1:%d" % d.http_port):
                with self.subTest(url=url):
                    base = ["--target", url, "--workload", "T", "--records", "200", "--quiet",
                            "--token-file", os.path.join(data, "cluster.token")]
                    # every account exists after the first load: AlreadyExists counts as loaded
                    rc, so, se = run_ycsbt(base + ["--load", "--duration", "0", "--validate"], self.tmp)
                    self.assertEqual(rc, 0, so + se)
                    out = os.path.join(self.tmp, "t.json")
                    rc, so, se = run_ycsbt(base + ["--warmup", "0", "--duration", "1", "--outstanding", "32",
                                                   "--validate", "--json", out], self.tmp)
                    self.assertEqual(rc, 0, so + se)
                    with open(out) as f:
                        j = json.load(f)
                    self.assertTrue(j["exactly_once"])
                    self.assertEqual(j["unanswered"], 0)
                    self.assertTrue(j["validation"]["ok"])
                    self.assertFalse(j["validation"]["timed_out"])
                    self.assertGreater(j["ops"], 0)
            self.assertEqual(d.problems(), [])


if __name__ == "__main__":
    unittest.main()
