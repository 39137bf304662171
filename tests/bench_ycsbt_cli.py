#!/usr/bin/python3
"""bench_ycsbt_cli.py: the ycsbt load generator (bench/ycsbt) as a program:
it never hangs, and its exit status says whether every request was answered.

    SF_YCSBT=build/bin/ycsbt SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/bench_ycsbt_cli.py [-v] [Silent|Local]

- Silent: a TCP server that accepts connections, reads everything and never
  answers. ycsbt over HTTP with a timed run, with --duration 0 --validate
  and with --load; over the native protocol (silent before the handshake, and
  after it: a run and a validation); against PostgreSQL's URL: each
  exits 1 on its own (the test's own limit is only a safety net), says what
  stayed unanswered or could not be read, and the JSON result says so too.
- Overload: an HTTP server that answers every other request 503 Overloaded
  (with Retry-After): the run counts them as overloaded, not as errors, and
  exits 0; --load and --validate send rejected requests again and finish.
- LateReplies: a server that answers late: the closed-economy check waits
  for the run's last requests before it reads (balances read while
  transfers still commit would not add up), then passes; the run still fails
  for the requests unanswered after the drain.
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
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "stateflowd"))

from sfd import SANITIZER, Daemon  # noqa: E402

YCSBT = os.path.abspath(os.environ.get("SF_YCSBT", os.path.join(REPO, "build", "bin", "ycsbt")))
SFC = os.path.abspath(os.environ.get("SF_SFC", os.path.join(REPO, "build", "bin", "sfc")))
STATEFLOWD = os.path.abspath(os.environ.get("SF_STATEFLOWD", os.path.join(REPO, "build", "bin", "stateflowd")))
SAFETY_S = 60  # far above every limit given to ycsbt below


WELCOME = b"\x00\x00\x00\x03\x92\x02\x01"  # the native handshake's answer: frame [2, 1]


class SilentServer:
    """Accepts, reads and discards, never writes. With welcome=True it first
    answers the native protocol's HELLO with WELCOME, then goes silent. With
    read=False it stops reading too (ycsbt's writes back up)."""

    def __init__(self, welcome=False, read=True):
        self.welcome = welcome
        self.read = read
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

    def _drain(self, c):
        try:
            if self.welcome:
                head = b""
                while len(head) < 4:
                    got = c.recv(4 - len(head))
                    if not got:
                        return
                    head += got
                left = int.from_bytes(head, "big")
                while left:
                    got = c.recv(min(left, 65536))
                    if not got:
                        return
                    left -= len(got)
                c.sendall(WELCOME)
            if not self.read:
                return  # keep c open (self.conns), never read again
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


class OverloadedHttp:
    """A keep-alive HTTP/1.1 server for ycsbt's T workload: every other
    request is answered 503 Overloaded with Retry-After, the others succeed
    (creates 201, transfers true, balance reads 1000)."""

    OVER = b'{"error":{"type":"Overloaded","message":"the ingress is full"}}'

    def __init__(self, reject=True, delay_s=0.0):
        self.reject = reject        # False: never Overloaded
        self.delay_s = delay_s      # wait this long before answering what arrived
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.n = 0
        self.rejected = 0
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _answer(self, head):
        with self.lock:
            self.n += 1
            reject = self.reject and self.n % 2 == 0
            if reject:
                self.rejected += 1
        if reject:
            return 503, self.OVER, b"Retry-After: 1\r\n"
        path = head.split(b" ", 2)[1]
        if path.count(b"/") == 2:
            return 201, b'{"ok":null}', b""
        if path.endswith(b"/read"):
            return 200, b'{"ok":1000}', b""
        return 200, b'{"ok":true}', b""

    def _serve(self, c):
        buf = b""
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    return
                buf += data
                out = []
                while True:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = buf[:end]
                    clen = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            clen = int(v)
                    if len(buf) < end + 4 + clen:
                        break
                    buf = buf[end + 4 + clen:]
                    status, body, extra = self._answer(head)
                    out.append(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
                               b"Content-Length: %d\r\n\r\n%s" % (status, extra, len(body), body))
                if out:
                    if self.delay_s:
                        time.sleep(self.delay_s)
                    c.sendall(b"".join(out))
        except OSError:
            return

    def close(self):
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def run_ycsbt(args, cwd):
    p = subprocess.run([YCSBT] + args, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=SAFETY_S)
    # a sanitizer report also exits 1: never let it pass for the expected failure
    if SANITIZER.search(p.stderr):
        raise AssertionError("ycsbt %s: sanitizer report:\n%s" % (" ".join(args), p.stderr))
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
        self.assertFalse(j["ok"])

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
            j = json.load(f)
        self.assertFalse(j["ok"])
        v = j["validation"]
        self.assertFalse(v["ok"])
        self.assertTrue(v["timed_out"])
        self.assertEqual(v["unread"], 100)
        self.assertEqual(v["unread_in_flight"], 100)

    def test_http_validate_after_run_times_out(self):
        # the run's requests stay unanswered; the check waits for them (within
        # its limit) before it reads, and says so when they never come
        out = os.path.join(self.tmp, "wait.json")
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "50", "--warmup", "0", "--duration", "1", "--drain", "1",
                                "--outstanding", "600", "--connections", "1", "--validate",
                                "--validate-timeout-s", "1", "--quiet", "--json", out], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("600 requests still unanswered", se)
        self.assertIn("validate: timed out after 1 s waiting for 600 run requests still unanswered: "
                      "no balance read", se)
        with open(out) as f:
            v = json.load(f)["validation"]
        self.assertEqual((v["ok"], v["timed_out"], v["unread"], v["run_unanswered_at_timeout"]),
                         (False, True, 50, 600))

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

    def test_native_run_unanswered(self):
        native = SilentServer(welcome=True)
        self.addCleanup(native.close)
        out = os.path.join(self.tmp, "native.json")
        rc, so, se = run_ycsbt(["--target", "stateflow://127.0.0.1:%d" % native.port, "--workload", "A",
                                "--records", "100", "--warmup", "0", "--duration", "1", "--drain", "1",
                                "--outstanding", "6", "--connections", "2", "--token", "x", "--quiet",
                                "--json", out], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertRegex(se, r"6 requests still unanswered after the 1 s drain \((read \d+, update \d+|"
                             r"read 6|update 6)\)")
        with open(out) as f:
            j = json.load(f)
        self.assertEqual(j["unanswered"], 6)
        self.assertEqual(sum(j["unanswered_by_kind"].values()), 6)

    def test_native_server_stops_reading(self):
        # requests pile up in ycsbt's send queue: closing still ends the run
        native = SilentServer(welcome=True, read=False)
        self.addCleanup(native.close)
        rc, so, se = run_ycsbt(["--target", "stateflow://127.0.0.1:%d" % native.port, "--workload", "A",
                                "--records", "100", "--warmup", "0", "--duration", "1", "--drain", "1",
                                "--rate", "20000", "--connections", "2", "--token", "x", "--quiet"],
                               self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertRegex(se, r"\d+ requests still unanswered after the 1 s drain \(read \d+, update \d+\)")

    def test_native_validate_only_times_out(self):
        native = SilentServer(welcome=True)
        self.addCleanup(native.close)
        rc, so, se = run_ycsbt(["--target", "stateflow://127.0.0.1:%d" % native.port, "--workload", "M",
                                "--records", "30", "--duration", "0", "--validate", "--validate-timeout-s",
                                "1", "--connections", "1", "--token", "x", "--quiet"], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("validate: timed out after 1 s: 0 of 30 balances read", se)

    def test_postgres_connect_unanswered(self):
        rc, so, se = run_ycsbt(["--target", "postgres://u@127.0.0.1:%d/db" % self.srv.port,
                                "--workload", "T", "--records", "100", "--duration", "1",
                                "--stall-timeout-s", "2", "--quiet"], self.tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("postgres: cannot connect", se)


class Overload(unittest.TestCase):
    def setUp(self):
        self.srv = OverloadedHttp()
        self.tmp = tempfile.mkdtemp(prefix="ycsbt-overload-")

    def tearDown(self):
        self.srv.close()

    def test_run_counts_overloaded_apart(self):
        out = os.path.join(self.tmp, "run.json")
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "100", "--warmup", "0", "--duration", "1", "--drain", "5",
                                "--outstanding", "8", "--connections", "2", "--quiet", "--json", out],
                               self.tmp)
        self.assertEqual(rc, 0, so + se)
        with open(out) as f:
            j = json.load(f)
        self.assertGreater(j["overloaded"], 0)
        self.assertGreater(j["ops"], 0)
        self.assertEqual(j["errors"], 0)
        self.assertNotIn("Overloaded", j["errors_by_type"])
        # every other request was rejected: the window holds about as many of each
        self.assertLessEqual(abs(j["overloaded"] - j["ops"]), 16)
        self.assertTrue(j["exactly_once"])
        self.assertTrue(j["ok"])
        self.assertEqual(j["replies"], self.srv.n)
        self.assertIn("overloaded   %d rejected" % j["overloaded"], so)

    def test_load_and_validate_retry_overloaded(self):
        out = os.path.join(self.tmp, "lv.json")
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % self.srv.port, "--workload", "T",
                                "--records", "50", "--load", "--duration", "0", "--validate",
                                "--quiet", "--json", out], self.tmp)
        self.assertEqual(rc, 0, so + se)
        with open(out) as f:
            j = json.load(f)
        self.assertGreater(j["load_overloaded"], 0)
        self.assertGreater(j["validate_overloaded"], 0)
        self.assertEqual(j["load_overloaded"] + j["validate_overloaded"], self.srv.rejected)
        v = j["validation"]
        self.assertTrue(v["ok"])
        self.assertEqual(v["accounts"], 50)
        self.assertEqual(v["sum"], 50 * 1000)


class LateReplies(unittest.TestCase):
    def test_check_waits_for_the_run(self):
        # every answer comes 1.5 s late: the drain (0.5 s) leaves the run's
        # requests unanswered (exit 1), the check waits for them, then reads
        srv = OverloadedHttp(reject=False, delay_s=1.5)
        self.addCleanup(srv.close)
        tmp = tempfile.mkdtemp(prefix="ycsbt-late-")
        out = os.path.join(tmp, "late.json")
        rc, so, se = run_ycsbt(["--target", "http://127.0.0.1:%d" % srv.port, "--workload", "T",
                                "--records", "20", "--warmup", "0", "--duration", "0.5", "--drain", "0.5",
                                "--outstanding", "4", "--connections", "1", "--validate",
                                "--validate-timeout-s", "20", "--quiet", "--json", out], tmp)
        self.assertEqual(rc, 1, so + se)
        self.assertIn("validate: waiting up to 20 s for them before reading the balances", se)
        with open(out) as f:
            j = json.load(f)
        self.assertEqual(j["unanswered"], 4)
        self.assertEqual(j["late_replies"], 4)
        self.assertFalse(j["ok"])
        v = j["validation"]
        self.assertTrue(v["ok"], so + se)
        self.assertEqual((v["accounts"], v["sum"], v["timed_out"]), (20, 20 * 1000, False))


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
                    self.assertTrue(j["ok"])
                    self.assertEqual(j["unanswered"], 0)
                    self.assertTrue(j["validation"]["ok"])
                    self.assertFalse(j["validation"]["timed_out"])
                    self.assertGreater(j["ops"], 0)
            self.assertEqual(d.problems(), [])


if __name__ == "__main__":
    unittest.main()
