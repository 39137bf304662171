#!/usr/bin/python3
"""test_durability.py: durability of `stateflowd --local` end to end
(runtime/cluster/coord_durable.c, docs/durability.md).

    SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/stateflowd/test_durability.py [-v] [Restart|Supervise|Modes]

ctest runs each class as its own test (tests/stateflowd.cmake).

- Restart: the bank example under transfers from several clients, then
  SIGTERM and a new start on the same --data: every balance is back and
  money is conserved; then the same after kill -9 of every process (the
  coordinator and its workers), also with transfers in flight: every
  transfer that got an ok reply has its effect exactly once.
- Supervise: kill -9 of one worker under a transfer load: --local restarts
  its worker processes, the coordinator recovers from the log, clients get
  Unavailable (or a dropped connection) meanwhile and retry; afterwards
  money is conserved, every ok transfer has its effect exactly once and the
  service answers again.
- Idempotent: the same, with an id on every transfer, and clients that
  retry an unknown outcome with the same id until they get an answer: each
  transfer then has its effect exactly once (balances match the ok replies
  exactly), also across the recovery and a restart; a retry of a finished
  id gets the first reply.
- TornGroup: a crash in the middle of a group commit can leave valid
  request records whose batch record never made it: they are never
  executed (nobody was answered for them), and later batches replay as
  before.
- DiskFull: the log on a small tmpfs (skipped unless mount works, i.e. as
  root): once the disk is full a request is answered Unavailable and
  nothing acknowledged is lost; once space returns the service goes on,
  and a restart finds exactly the acknowledged effects.
- Modes: --durability off says so at start and in /healthz; on says so
  too; a bad value is refused.

Effects are checked per client: client k only ever moves money out of its
own account src<k> (1 per transfer), so 1000 - balance(src<k>) is the number
of its transfers that took effect, which must lie between its ok replies
and its ok plus unknown (503, dropped connection) outcomes.
Standard library only.
"""
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from sfd import Daemon, is_worker  # noqa: E402

SFC = os.environ.get("SF_SFC", os.path.join(REPO, "build", "bin", "sfc"))
STATEFLOWD = os.environ.get("SF_STATEFLOWD", os.path.join(REPO, "build", "bin", "stateflowd"))
BANK = os.path.join(REPO, "examples", "bank", "app.py")
START = 1000
NCLIENTS = 6
SINKS = ["sink%d" % i for i in range(4)]


def http_call(conn, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, json.loads(r.read().decode() or "null")


def request(port, method, path, body=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return http_call(conn, method, path, body)
    finally:
        conn.close()


def accounts():
    return ["src%d" % k for k in range(NCLIENTS)] + SINKS


class Load:
    """NCLIENTS threads, client k transferring 1 from src<k> to a sink,
    counting ok and unknown outcomes; on a 503 or a dropped connection it
    waits a little and goes on (a client program with retries)."""

    def __init__(self, port_fn):
        self.port_fn = port_fn
        self.ok = [0] * NCLIENTS
        self.unknown = [0] * NCLIENTS
        self.other = []
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True) for k in range(NCLIENTS)]
        for t in self.threads:
            t.start()

    def run(self, k):
        rng = random.Random(k)
        conn = None
        while not self.halt.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port_fn(), timeout=30)
                st, rep = http_call(conn, "POST", "/v1/Account/src%d/transfer" % k,
                                    {"args": [1, {"$ref": ["Account", rng.choice(SINKS)]}]})
            except (OSError, http.client.HTTPException, ValueError):
                self.unknown[k] += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
                continue
            if st == 200:
                self.ok[k] += 1
            elif st == 503:
                self.unknown[k] += 1
                time.sleep(0.02)
            else:
                self.other.append((st, rep))
        if conn is not None:
            conn.close()

    def stop(self):
        self.halt.set()
        for t in self.threads:
            t.join(60)
        return not any(t.is_alive() for t in self.threads)


class DurabilityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sfd-dur-")
        cls.sfir = os.path.join(cls.tmp, "bank.sfir")
        subprocess.run([SFC, BANK, "-o", cls.sfir], check=True, stdout=subprocess.DEVNULL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, data, **kw):
        d = Daemon(STATEFLOWD, self.sfir, os.path.join(self.tmp, data), workers=2, native=False, **kw)
        self.addCleanup(d.__exit__)
        return d

    def setup_bank(self, d):
        for a in accounts():
            st, rep = request(d.http_port, "POST", "/v1/Account", {"args": [a, "o"]})
            self.assertEqual(st, 201, rep)
            st, rep = request(d.http_port, "POST", "/v1/Account/%s/deposit" % a, {"args": [START]})
            self.assertEqual(rep, {"ok": START})

    def balances(self, d, timeout=30):
        """Every balance once nothing moves any more: after a recovery the
        conflict-aborted transfers of the last replayed batch still commit
        (nobody waits for them), and balances read one request at a time
        would straddle them. Retries while the service is unavailable."""
        last = self.read_balances(d, timeout)
        for _ in range(50):
            now = self.read_balances(d, timeout)
            if now == last:
                return now
            last = now
        self.fail("the balances keep changing")

    def read_balances(self, d, timeout):
        out = {}
        deadline = time.monotonic() + timeout
        for a in accounts():
            while True:
                try:
                    st, rep = request(d.http_port, "GET", "/v1/Account/" + a, timeout=10)
                except OSError:
                    st, rep = 0, None
                if st == 200:
                    out[a] = rep["ok"]["balance"]
                    break
                self.assertLess(time.monotonic(), deadline, "no answer for %s: %r\n%s" % (a, rep, d.log_text()))
                time.sleep(0.1)
        return out

    def check_effects(self, bal, load):
        self.assertEqual(sum(bal.values()), START * len(accounts()), bal)  # money conserved
        self.assertEqual(load.other, [])
        for k in range(NCLIENTS):
            applied = START - bal["src%d" % k]
            self.assertGreaterEqual(applied, load.ok[k], "client %d: an ok transfer was lost" % k)
            self.assertLessEqual(applied, load.ok[k] + load.unknown[k], "client %d: a transfer applied twice" % k)

    def kill_all(self, d):
        pids = d.worker_pids()
        os.kill(d.p.pid, signal.SIGKILL)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        d.p.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(is_worker(p) for p in pids):
            time.sleep(0.05)
        d.stop()


class Restart(DurabilityTest):
    def test_sigterm_then_kill9(self):
        d = self.start("bank")
        self.setup_bank(d)
        load = Load(lambda: d.http_port)
        time.sleep(1.5)
        self.assertTrue(load.stop(), "a client hangs")
        self.assertGreater(sum(load.ok), 0)
        before = self.balances(d)
        self.check_effects(before, load)
        self.assertEqual(d.stop(), 0, d.log_text())

        # SIGTERM, a new start on the same --data: everything is back
        d = self.start("bank")
        self.assertTrue(d.log_has(r"recovered: \d+ batch", timeout=1), d.log_text())
        self.assertEqual(self.balances(d), before)
        # more transfers, then kill -9 of every process while they run
        load2 = Load(lambda: d.http_port)
        time.sleep(1.0)
        self.kill_all(d)
        self.assertTrue(load2.stop(), "a client hangs")

        d = self.start("bank")
        after = self.balances(d)
        for k in range(NCLIENTS):
            load2.ok[k] += load.ok[k]
            load2.unknown[k] += load.unknown[k]
        self.check_effects(after, load2)
        self.assertGreater(sum(load2.ok), sum(load.ok))
        # and it takes requests again, durably
        st, rep = request(d.http_port, "POST", "/v1/Account/sink0/deposit", {"args": [1]})
        self.assertEqual(rep, {"ok": after["sink0"] + 1})
        self.assertEqual(d.stop(), 0, d.log_text())
        d = self.start("bank")
        self.assertEqual(self.balances(d)["sink0"], after["sink0"] + 1)
        self.assertEqual(d.stop(), 0, d.log_text())


class Supervise(DurabilityTest):
    def test_worker_killed_under_load(self):
        d = self.start("sup")
        self.setup_bank(d)
        load = Load(lambda: d.http_port)
        time.sleep(0.8)
        pids = d.worker_pids()
        self.assertEqual(len(pids), 2, d.log_text())
        os.kill(pids[1], signal.SIGKILL)
        self.assertTrue(d.log_has(r"restarting 2 worker processes", timeout=20), d.log_text())
        self.assertTrue(d.log_has(r"recovered: \d+ batch", timeout=30), d.log_text())
        ok_at_recovery = sum(load.ok)
        time.sleep(1.0)
        self.assertTrue(load.stop(), "a client hangs")
        self.assertGreater(sum(load.ok), ok_at_recovery, "no transfer committed after the recovery")
        bal = self.balances(d)
        self.check_effects(bal, load)
        new = d.worker_pids()
        self.assertEqual(len(new), 2, d.log_text())
        self.assertFalse(set(new) & set(pids))
        st, body = request(d.http_port, "GET", "/healthz")
        self.assertEqual(st, 200, body)
        # the state after the recovery survives a restart too
        self.assertEqual(d.stop(), 0, d.log_text())
        d = self.start("sup")
        self.assertEqual(self.balances(d), bal)
        self.assertEqual(d.stop(), 0, d.log_text())


class RetryLoad(Load):
    """Client k sends transfer k-n with id "k-n" until it gets an answer
    that is not Unavailable (a dropped connection or a 503: the same id
    again), then transfer k-(n+1)."""

    def run(self, k):
        rng = random.Random(k)
        conn = None
        n = 0
        while not self.halt.is_set():
            body = {"id": "t%d-%d" % (k, n), "op": "call", "entity": "Account", "key": "src%d" % k,
                    "method": "transfer", "args": [1, {"$ref": ["Account", rng.choice(SINKS)]}]}
            while True:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", self.port_fn(), timeout=30)
                    st, rep = http_call(conn, "POST", "/v1/requests", body)
                except (OSError, http.client.HTTPException, ValueError):
                    if conn is not None:
                        conn.close()
                    conn = None
                    st, rep = None, None
                if st == 200:
                    self.ok[k] += 1
                    break
                if st is not None and st != 503:
                    self.other.append((st, rep))
                    break
                self.unknown[k] += 1
                time.sleep(0.05)
            n += 1
        if conn is not None:
            conn.close()


class Idempotent(DurabilityTest):
    def test_retries_by_id(self):
        d = self.start("idem")
        self.setup_bank(d)
        load = RetryLoad(lambda: d.http_port)
        time.sleep(0.8)
        pids = d.worker_pids()
        os.kill(pids[0], signal.SIGKILL)
        self.assertTrue(d.log_has(r"recovered: \d+ batch", timeout=30), d.log_text())
        time.sleep(1.0)
        self.assertTrue(load.stop(), "a client hangs")
        self.assertGreater(sum(load.unknown), 0, "the kill did not disturb any client")
        bal = self.balances(d)
        self.assertEqual(sum(bal.values()), START * len(accounts()))
        self.assertEqual(load.other, [])
        for k in range(NCLIENTS):
            self.assertEqual(START - bal["src%d" % k], load.ok[k], "client %d" % k)
        # a retry of a finished id: the first reply, no second effect
        first = {"id": "t0-0", "op": "call", "entity": "Account", "key": "src0", "method": "transfer",
                 "args": [1, {"$ref": ["Account", "sink0"]}]}
        st, rep = request(d.http_port, "POST", "/v1/requests", first)
        self.assertEqual(st, 200, rep)
        self.assertEqual(rep["id"], "t0-0")
        self.assertEqual(self.balances(d), bal)
        # also after a restart (the table is rebuilt by the replay)
        self.assertEqual(d.stop(), 0, d.log_text())
        d = self.start("idem")
        st, rep2 = request(d.http_port, "POST", "/v1/requests", first)
        self.assertEqual(rep2, rep)
        self.assertEqual(self.balances(d), bal)
        self.assertEqual(d.stop(), 0, d.log_text())


def crc32c(data, crc=0xFFFFFFFF):
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


def msgpack_str(s):
    b = s.encode()
    return bytes([0xa0 | len(b)]) + b


def append_requests(seg, reqs):
    """Append request records (valid, checksummed, without SYNC_END) to the
    last segment, as a group commit torn before its batch record."""
    import struct
    with open(seg, "rb") as f:
        data = f.read()
    lsn = struct.unpack_from("<Q", data, 16)[0]
    off = 32
    while off + 12 <= len(data):
        ln = struct.unpack_from("<I", data, off)[0]
        off += 12 + ln
        lsn += 1
    assert off == len(data)
    out = b""
    for r in reqs:
        head = struct.pack("<IHH", len(r), 1, 0)
        crc = crc32c(struct.pack("<Q", lsn) + head + r) ^ 0xFFFFFFFF
        out += head + struct.pack("<I", crc) + r
        lsn += 1
    with open(seg, "ab") as f:
        f.write(out)


class TornGroup(DurabilityTest):
    def test_requests_without_batch(self):
        d = self.start("torn")
        request(d.http_port, "POST", "/v1/Account", {"args": ["a", "o"]})
        self.assertEqual(request(d.http_port, "POST", "/v1/Account/a/deposit", {"args": [5]})[1], {"ok": 5})
        self.assertEqual(d.stop(), 0, d.log_text())
        log = os.path.join(self.tmp, "torn", "log")
        seg = sorted(f for f in os.listdir(log) if f.endswith(".sflog"))[-1]
        # {"op": "call", "entity": "Account", "key": "a", "method": "deposit", "args": [1000]}
        req = (bytes([0x85]) + msgpack_str("op") + msgpack_str("call") + msgpack_str("entity") +
               msgpack_str("Account") + msgpack_str("key") + msgpack_str("a") + msgpack_str("method") +
               msgpack_str("deposit") + msgpack_str("args") + bytes([0x91, 0xcd, 0x03, 0xe8]))
        append_requests(os.path.join(log, seg), [req, req])
        d = self.start("torn")
        self.assertEqual(request(d.http_port, "GET", "/v1/Account/a")[1]["ok"]["balance"], 5)
        self.assertEqual(request(d.http_port, "POST", "/v1/Account/a/deposit", {"args": [1]})[1], {"ok": 6})
        self.assertEqual(d.stop(), 0, d.log_text())
        d = self.start("torn")
        self.assertTrue(d.log_has(r"2 requests logged before batch \d+ belong to no batch", timeout=1),
                        d.log_text())
        self.assertEqual(request(d.http_port, "GET", "/v1/Account/a")[1]["ok"]["balance"], 6)
        self.assertEqual(d.stop(), 0, d.log_text())


class DiskFull(DurabilityTest):
    def test_enospc(self):
        mnt = os.path.join(self.tmp, "small")
        os.makedirs(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        d = Daemon(STATEFLOWD, self.sfir, os.path.join(mnt, "d"), workers=2, native=False)
        self.addCleanup(d.__exit__)
        st, rep = request(d.http_port, "POST", "/v1/Account", {"args": ["a", "o"]})
        self.assertEqual(st, 201, rep)
        self.assertEqual(request(d.http_port, "POST", "/v1/Account/a/deposit", {"args": [50]})[1], {"ok": 50})
        fill = os.path.join(mnt, "fill")
        fd = os.open(fill, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        os.close(fd)
        big = "o" * 9000  # more than the segment's last page holds
        st, rep = request(d.http_port, "POST", "/v1/Account", {"args": ["b", big]})
        self.assertEqual(st, 503, rep)
        self.assertEqual(rep["error"]["type"], "Unavailable")
        self.assertIn("durable log", rep["error"]["message"])
        os.unlink(fill)
        time.sleep(0.3)
        st, rep = request(d.http_port, "POST", "/v1/Account/a/deposit", {"args": [1]})
        self.assertEqual(rep, {"ok": 51}, d.log_text())
        st, rep = request(d.http_port, "POST", "/v1/Account", {"args": ["b", big]})
        self.assertEqual(st, 201, rep)
        self.assertEqual(d.stop(), 0, d.log_text())
        d = Daemon(STATEFLOWD, self.sfir, os.path.join(mnt, "d"), workers=2, native=False)
        self.addCleanup(d.__exit__)
        self.assertEqual(request(d.http_port, "GET", "/v1/Account/a")[1]["ok"]["balance"], 51)
        self.assertEqual(request(d.http_port, "GET", "/v1/Account/b")[1]["ok"]["owner"], big)
        self.assertEqual(d.stop(), 0, d.log_text())


class Modes(DurabilityTest):
    def test_off_and_on(self):
        d = self.start("off", extra=["--durability", "off"])
        self.assertTrue(d.log_has(r"durability off \(in memory", timeout=1), d.log_text())
        st, body = request(d.http_port, "GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertIn("durability off", body["note"])
        request(d.http_port, "POST", "/v1/Account", {"args": ["x", "o"]})
        self.assertEqual(d.stop(), 0, d.log_text())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "off", "log")))
        d = self.start("off", extra=["--durability", "off"])
        st, rep = request(d.http_port, "GET", "/v1/Account/x")
        self.assertEqual(st, 404, rep)  # nothing survived, as announced
        self.assertEqual(d.stop(), 0, d.log_text())

        d = self.start("on")
        self.assertTrue(d.log_has(r"durability on, log ", timeout=1), d.log_text())
        st, body = request(d.http_port, "GET", "/healthz")
        self.assertEqual(body, {"ok": True, "note": "durability on"})
        self.assertEqual(d.stop(), 0, d.log_text())

    def test_bad_value(self):
        p = subprocess.run([STATEFLOWD, "--local", self.sfir, "--durability", "maybe"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"--durability: expected on or off", p.stderr)


if __name__ == "__main__":
    unittest.main()
