#!/usr/bin/python3
"""test_wire.py: black-box tests of stateflowd's client wire (runtime/wire/)
against `stateflowd --local`.

    SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/stateflowd/test_wire.py [-v] [Keys|...]

ctest runs each class as its own test (tests/stateflowd.cmake, wire_<Class>).

- Keys: keys are compared as values: an instance created with one encoding
  of its key (over HTTP/JSON, or its key computed by __key__ in Python) is
  found with any other msgpack encoding of the same key from a native
  client (str8 vs fixstr, integer widths), also as a reference's key inside
  the arguments.
- Lockout: 300 silent connections to the native port, then real native
  clients still get through; slowloris HTTP connections (a header byte a
  second) are closed by the head deadline while others are served; an
  HTTP/1.1 request without Host is 400.
- Backpressure: a native client pipelining 6,000 requests (the in-flight
  cap is 1,024) gets every reply exactly once and stays connected.
Standard library only (plus python/stateflow from this repository).
"""

import os
import socket
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import test_stateflowd as ts  # noqa: E402
from test_stateflowd import DaemonTest, frame, read_frame, request  # noqa: E402
from stateflow import _msgpack as mp  # noqa: E402

KEYS_APP = '''
from stateflow import entity


@entity
class Counter:
    def __init__(self, n: int):
        self.n: int = n
        self.value: int = 0

    def __key__(self):
        return self.n

    def add(self, k: int) -> int:
        self.value += k
        return self.value

    def add_to(self, k: int, other: "Counter") -> int:
        return other.add(k)
'''


def native_connect(d):
    s = socket.create_connection(("127.0.0.1", d.native_port), timeout=20)
    s.sendall(frame([1, 1, d.token, "client", ""]))
    assert read_frame(s) == [2, 1]
    return s


def native_reply(s):
    while True:
        rep = read_frame(s)
        if rep is None or rep[0] != 4:  # skip PINGs
            return rep


def raw_request(corr, members):
    """A [20, corr, map] frame whose map members are (name, raw msgpack) pairs."""
    body = bytes([0x80 | len(members)])
    for name, raw in members:
        body += mp.packb(name) + raw
    body = b"\x93\x14" + mp.packb(corr) + body
    return len(body).to_bytes(4, "big") + body


def ref_ext(entity, raw_key):
    payload = b"\x92" + mp.packb(entity) + raw_key
    return b"\xc7" + bytes([len(payload), 3]) + payload


class Keys(DaemonTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sub = os.path.join(cls.tmp, "keys_app")
        os.mkdir(sub)
        app = os.path.join(sub, "keys_app.py")
        with open(app, "w") as f:
            f.write(KEYS_APP)
        cls.keys_sfir = ts.compile_app(app, sub)

    def test_same_key_other_encodings(self):
        d = self.start("keys")
        # str key "alice", created over HTTP (the key from __key__, in Python)
        st, rep = request(d.http_port, {"op": "create", "entity": "Account", "args": ["alice", "o"]})
        self.assertEqual(st, 201, rep)
        st, rep = request(d.http_port, {"op": "create", "entity": "Account", "args": ["bob", "o"]})
        self.assertEqual(st, 201, rep)
        s = native_connect(d)
        alice = [b"\xa5alice", b"\xd9\x05alice", b"\xda\x00\x05alice", b"\xdb\x00\x00\x00\x05alice"]
        for i, k in enumerate(alice):
            s.sendall(raw_request(i, [("op", mp.packb("call")), ("entity", mp.packb("Account")),
                                      ("key", k), ("method", mp.packb("deposit")),
                                      ("args", mp.packb([1]))]))
            rep = native_reply(s)
            self.assertEqual(rep[:2], [21, i])
            self.assertEqual(rep[2], {"ok": i + 1}, k)
        # a reference's key inside the arguments, in a wide encoding
        s.sendall(raw_request(50, [("op", mp.packb("call")), ("entity", mp.packb("Account")),
                                   ("key", b"\xd9\x05alice"), ("method", mp.packb("transfer")),
                                   ("args", b"\x92\x02" + ref_ext("Account", b"\xda\x00\x03bob"))]))
        rep = native_reply(s)
        self.assertEqual(rep[:2], [21, 50])
        self.assertIn("ok", rep[2], rep)
        st, rep = request(d.http_port, {"op": "call", "entity": "Account", "key": "bob",
                                        "method": "get_balance", "args": []})
        self.assertEqual(rep, {"ok": 2})
        s.close()
        self.stop_ok(d)

    def test_int_keys(self):
        d = ts.Daemon(ts.STATEFLOWD, self.keys_sfir, os.path.join(self.tmp, "ints"))
        self.addCleanup(d.__exit__)
        for n in (12345, 7, -3, 300):
            st, rep = request(d.http_port, {"op": "create", "entity": "Counter", "args": [n]})
            self.assertEqual(st, 201, rep)
        s = native_connect(d)
        widths = {
            12345: [b"\xcd\x30\x39", b"\xce\x00\x00\x30\x39", b"\xcf" + (12345).to_bytes(8, "big"),
                    b"\xd2\x00\x00\x30\x39", b"\xd3" + (12345).to_bytes(8, "big")],
            7: [b"\x07", b"\xcc\x07", b"\xd0\x07", b"\xd1\x00\x07", b"\xcf" + (7).to_bytes(8, "big")],
            -3: [b"\xfd", b"\xd0\xfd", b"\xd1\xff\xfd", b"\xd3" + (-3).to_bytes(8, "big", signed=True)],
        }
        corr = 0
        for n, encs in widths.items():
            for i, k in enumerate(encs):
                corr += 1
                s.sendall(raw_request(corr, [("op", mp.packb("call")), ("entity", mp.packb("Counter")),
                                             ("key", k), ("method", mp.packb("add")),
                                             ("args", b"\x91\xcd\x00\x01")]))
                rep = native_reply(s)
                self.assertEqual(rep[:2], [21, corr])
                self.assertEqual(rep[2], {"ok": i + 1}, (n, k))
        # get with a wide key, then over HTTP (JSON number) the same instance
        corr += 1
        s.sendall(raw_request(corr, [("op", mp.packb("get")), ("entity", mp.packb("Counter")),
                                     ("key", b"\xd2\x00\x00\x01\x2c")]))
        rep = native_reply(s)
        self.assertEqual(rep[2]["ok"]["n"], 300)
        corr += 1
        s.sendall(raw_request(corr, [("op", mp.packb("call")), ("entity", mp.packb("Counter")),
                                     ("key", b"\xcc\x07"), ("method", mp.packb("add_to")),
                                     ("args", b"\x92\x01" + ref_ext("Counter", b"\xd3" + (300).to_bytes(8, "big")))]))
        rep = native_reply(s)
        self.assertEqual(rep[2], {"ok": 1})
        st, rep = request(d.http_port, {"op": "get", "entity": "Counter", "key": 12345})
        self.assertEqual(rep["ok"]["value"], 5, rep)
        s.close()
        self.stop_ok(d)


class Lockout(DaemonTest):
    """Connections that never authenticate cannot lock real clients out."""

    def test_handshake_flood(self):
        d = self.start("flood")
        st, rep = request(d.http_port, {"op": "create", "entity": "Account", "args": ["f", "o"]})
        self.assertEqual(st, 201, rep)
        silent = []
        try:
            for _ in range(300):  # more than the 256 handshake slots
                silent.append(socket.create_connection(("127.0.0.1", d.native_port), timeout=20))
            for i in range(3):
                s = native_connect(d)
                s.sendall(frame([20, i, {"op": "get", "entity": "Account", "key": "f"}]))
                rep = native_reply(s)
                self.assertEqual(rep[:2], [21, i])
                self.assertEqual(rep[2]["ok"]["account_id"], "f")
                s.close()
        finally:
            for s in silent:
                s.close()
        self.stop_ok(d)

    def test_slowloris_and_host(self):
        d = self.start("slow")
        # five connections trickling a header byte a second: the head
        # deadline (10 s by default) closes them although never silent
        slow = [socket.create_connection(("127.0.0.1", d.http_port), timeout=5) for _ in range(5)]
        for s in slow:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        deadline = time.monotonic() + 40
        open_ = list(slow)
        while open_ and time.monotonic() < deadline:
            for s in list(open_):
                try:
                    s.sendall(b"a")
                    s.setblocking(False)
                    try:
                        if s.recv(4096) == b"":
                            open_.remove(s)
                    except BlockingIOError:
                        pass
                    finally:
                        s.setblocking(True)
                except OSError:
                    open_.remove(s)
            # other clients are served meanwhile
            st, body = ts.http_get(d.http_port, "/healthz")
            self.assertEqual(st, 200, body)
            time.sleep(1)
        self.assertEqual(open_, [], "slowloris connections still open")
        for s in slow:
            s.close()
        self.assertTrue(d.log_has(r"request head not complete within"), d.log_text())
        # HTTP/1.1 without Host is a 400
        out = ts.raw_http(d.http_port, b"GET /healthz HTTP/1.1\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400"), out[:200])
        self.assertIn(b"Host", out)
        self.stop_ok(d)


class Backpressure(DaemonTest):
    """A native client pipelining far more requests than the service takes
    at once (its in-flight cap, 16384, and the ingress bound, 10,000) gets
    every reply exactly once (ok or Overloaded) and is not disconnected."""

    def test_pipelined_past_the_cap(self):
        d = self.start("bp")
        for i in range(20):
            st, rep = request(d.http_port, {"op": "create", "entity": "Account", "args": ["b%d" % i, "o"]})
            self.assertEqual(st, 201, rep)
        s = native_connect(d)
        n = 24000
        data = b"".join(frame([20, i, {"op": "get", "entity": "Account", "key": "b%d" % (i % 20)}])
                        for i in range(n))
        sender = threading.Thread(target=s.sendall, args=(data,))
        sender.start()
        got = {}
        while len(got) < n:
            rep = native_reply(s)
            self.assertIsNotNone(rep, "disconnected after %d replies:\n%s" % (len(got), d.log_text()))
            self.assertEqual(rep[0], 21)
            self.assertNotIn(rep[1], got)
            got[rep[1]] = rep[2]
        sender.join(30)
        ok = 0
        for i in range(n):
            if "ok" in got[i]:
                self.assertEqual(got[i]["ok"]["account_id"], "b%d" % (i % 20))
                ok += 1
            else:
                self.assertEqual(got[i]["error"]["type"], "Overloaded", got[i])
        self.assertGreater(ok, 0)
        # still connected and served
        s.sendall(frame([20, n, {"op": "get", "entity": "Account", "key": "b0"}]))
        rep = native_reply(s)
        self.assertEqual(rep[:2], [21, n])
        s.close()
        self.stop_ok(d)


if __name__ == "__main__":
    unittest.main()
