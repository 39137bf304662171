#!/usr/bin/python3
"""test_client.py: tests of the Python client (python/stateflow/client.py),
its msgpack codec (_msgpack.py) and sfctl, against in-process stand-in
servers (standins.py) for the HTTP gateway and the native protocol.

    /usr/bin/python3 tests/client/test_client.py [-v]

ctest runs it as client_py (tests/client.cmake).  When SF_SFCTL_SHIM names
the build tree's bin/sfctl, that shim is exercised too.
"""

import io
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, HERE)

from stateflow import _msgpack as mp  # noqa: E402
from stateflow import _sfctl  # noqa: E402
from stateflow import client as sc  # noqa: E402
from stateflow.client import (AlreadyExists, BadRequest, Client, NotFound, ProtocolError,  # noqa: E402
                              Proxy, Ref, RemoteError, Timeout, Unavailable, UserError)

import standins  # noqa: E402

SFCTL = os.path.join(REPO, "python", "sfctl")
PY = "/usr/bin/python3"


class User:        # stands for an @entity class: only the name matters to the client
    pass


class Item:
    pass


# =================================================================== msgpack

class MsgpackEncodingTests(unittest.TestCase):
    """Encodings must be byte-identical to the runtime's (msgpack-c's)."""

    def check(self, value, hexbytes):
        self.assertEqual(mp.packb(value).hex(), hexbytes.replace(" ", ""), repr(value))
        back = mp.unpackb(bytes.fromhex(hexbytes.replace(" ", "")))
        self.assertEqual(back, value)
        self.assertIs(type(back), type(value))

    def test_ints(self):
        cases = [(0, "00"), (127, "7f"), (128, "cc80"), (255, "ccff"), (256, "cd0100"),
                 (65535, "cdffff"), (65536, "ce00010000"), (2**32 - 1, "ceffffffff"),
                 (2**32, "cf0000000100000000"), (2**63 - 1, "cf7fffffffffffffff"),
                 (-1, "ff"), (-32, "e0"), (-33, "d0df"), (-128, "d080"), (-129, "d1ff7f"),
                 (-32768, "d18000"), (-32769, "d2ffff7fff"), (-2**31, "d280000000"),
                 (-2**31 - 1, "d3ffffffff7fffffff"), (-2**63, "d38000000000000000")]
        for v, h in cases:
            self.check(v, h)

    def test_scalars(self):
        self.check(None, "c0")
        self.check(True, "c3")
        self.check(False, "c2")
        self.check(1.5, "cb3ff8000000000000")
        self.check(-0.0, "cb8000000000000000")
        self.check("", "a0")
        self.check("h\u00e9", "a368c3a9")
        self.check(b"", "c400")
        self.check(b"\x00\x01", "c4020001")

    def test_sized_headers(self):
        for n, head in [(31, "bf"), (32, "d920"), (255, "d9ff"), (256, "da0100"), (65536, "db00010000")]:
            self.assertEqual(mp.packb("x" * n)[:len(head) // 2].hex(), head)
            self.assertEqual(mp.unpackb(mp.packb("x" * n)), "x" * n)
        for n, head in [(255, "c4ff"), (256, "c50100"), (65536, "c600010000")]:
            self.assertEqual(mp.packb(b"y" * n)[:len(head) // 2].hex(), head)
        for n, head in [(15, "9f"), (16, "dc0010"), (65536, "dd00010000")]:
            self.assertEqual(mp.packb([0] * n)[:len(head) // 2].hex(), head)
            self.assertEqual(mp.unpackb(mp.packb([0] * n)), [0] * n)
        for n, head in [(15, "8f"), (16, "de0010")]:
            d = {i: None for i in range(n)}
            self.assertEqual(mp.packb(d)[:len(head) // 2].hex(), head)
            self.assertEqual(mp.unpackb(mp.packb(d)), d)

    def test_containers(self):
        self.check([1, "a"], "92 01 a161")
        self.check({"a": 1, 2: [None]}, "82 a161 01 02 91c0")

    def test_ext(self):
        # payload 92 01 02 is 3 bytes: ext8; 4 bytes: fixext4; 1: fixext1
        self.check((1, 2), "c7 03 01 92 01 02")
        self.check((1, 2, 3), "d6 01 93 01 02 03")
        self.check((), "d4 01 90")
        self.check({7}, "d5 02 91 07")
        self.check(Ref("Item", "apple"), "c7 0c 03 92 a4 4974656d a5 6170706c65")
        self.check(Ref("I", (1, 2)), "c7 09 03 92 a1 49 c7 03 01 92 01 02")
        self.assertEqual(mp.packb(tuple(range(20)))[:3].hex(), "c71701")   # dc0014 + 20 bytes

    def test_set_order_is_by_encoded_bytes(self):
        enc = mp.packb({"bb", "a", 300, 1, -1})
        # elements sorted by their msgpack bytes: 01, a161, a26262, cd012c, ff
        self.assertEqual(enc.hex(), "c7 0b 02 95 01 a161 a26262 cd012c ff".replace(" ", ""))
        # a frozenset: the same payload under ext 4, and it stays a frozenset
        self.assertEqual(mp.packb(frozenset({2, 1})).hex(), "c703049201 02".replace(" ", ""))
        self.assertIs(type(mp.unpackb(mp.packb([frozenset()]))[0]), frozenset)

    def test_values_beyond_json(self):
        """The bytes the runtime's encoder writes (tests/test_pycodec.c
        test_exact_bytes), and exact round trips."""
        import datetime as dt
        import decimal
        import enum
        import types
        import zoneinfo
        self.check(2**64, "c7 16 05 91 b4" + b"18446744073709551616".hex())
        self.check(-2**63 - 1, "c7 16 05 91 b4" + b"-9223372036854775809".hex())
        self.check(bytearray(b"x"), "d6 06 91 c4 01 78")
        self.check(decimal.Decimal("1.50"), "c7 06 07 91 a4" + b"1.50".hex())
        self.check(dt.date(2024, 1, 2), "c7 06 09 93 cd 07 e8 01 02")
        self.check(dt.timedelta(1, 2, 3), "d6 0b 93 01 02 03")
        self.check(dt.time(1, 2, 3, 4), "c7 06 0a 95 01 02 03 04 00")
        self.check(dt.time(1, tzinfo=dt.timezone.utc), "c7 09 0a 98 01 00 00 00 00 00 00 c0")
        self.check(dt.datetime(2024, 1, 2, 3, 4, 5, 6), "c7 0b 08 98 cd 07 e8 01 02 03 04 05 06 00")
        app = types.ModuleType("app")
        exec("import enum, dataclasses\n"
             "class Color(enum.IntEnum):\n    RED = 1\n"
             "class Outer:\n    @dataclasses.dataclass(frozen=True)\n    class Inner:\n        v: int\n",
             app.__dict__)
        self.assertEqual(mp.packb(app.Color.RED).hex(), "c70c0c93a5" + b"Color".hex() + "a3" + b"RED".hex() + "01")
        self.assertEqual(mp.packb(app.Outer.Inner(7)).hex(),
                         "c7110d92ab" + b"Outer.Inner".hex() + "81a17607")
        # with the app's classes they come back as themselves, else as JSON does
        self.assertIs(mp.unpackb(mp.packb(app.Color.RED), classes=app), app.Color.RED)
        self.assertEqual(mp.unpackb(mp.packb(app.Outer.Inner(7)), classes=app), app.Outer.Inner(7))
        self.assertEqual(mp.unpackb(mp.packb([app.Color.RED, app.Outer.Inner(7)])), [1, {"v": 7}])
        paris = dt.datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
        back = mp.unpackb(mp.packb(paris))
        self.assertEqual((back, back.fold, back.tzinfo, back.utcoffset()), (paris, 1, paris.tzinfo, paris.utcoffset()))
        named = dt.time(1, tzinfo=dt.timezone(dt.timedelta(hours=-5), "EST"))
        self.assertEqual(mp.unpackb(mp.packb(named)).tzname(), "EST")
        with self.assertRaisesRegex(mp.MsgpackError, "more than 4300 digits"):
            mp.packb(10**4300)
        with self.assertRaisesRegex(mp.MsgpackError, "unknown Enum 'Nope'"):
            mp.unpackb(bytes.fromhex("c7090c93a44e6f7065a17801"), classes=app)

    def test_roundtrip_nested(self):
        v = {"s": {1, 2, (3, "x")}, "t": (1, [2, {"k": b"\xff"}], Ref("U", 5)),
             (1, 2): frozenset({(3,)}), "f": [1e300, -2.5, float("inf")], None: False,
             Ref("A", (1, "b")): "ref key"}
        back = mp.unpackb(mp.packb(v))
        self.assertEqual(back, v)
        self.assertIsInstance(back["s"], set)
        back = mp.unpackb(mp.packb({frozenset({1}): {2}, (1, frozenset({3})): 0}))
        for k, v in back.items():
            self.assertIn(type(k), (frozenset, tuple))       # hashable positions
        self.assertIs(type(back[frozenset({1})]), set)
        self.assertIs(type(list(back)[1][1]), frozenset)
        self.assertTrue(math.isnan(mp.unpackb(mp.packb(float("nan")))))

    def test_decode_accepts_other_widths(self):
        self.assertEqual(mp.unpackb(bytes.fromhex("d001")), 1)
        self.assertEqual(mp.unpackb(bytes.fromhex("cd0005")), 5)
        self.assertEqual(mp.unpackb(bytes.fromhex("cf0000000000000007")), 7)
        self.assertEqual(mp.unpackb(bytes.fromhex("ca3fc00000")), 1.5)
        self.assertEqual(mp.unpackb(bytes.fromhex("dc0001c0")), [None])
        self.assertEqual(mp.unpackb(bytes.fromhex("c8000301920102")), (1, 2))
        self.assertEqual(mp.unpackb(bytes.fromhex("c900000003019201 02".replace(" ", ""))), (1, 2))
        self.assertEqual(mp.unpackb(bytearray(b"\x01")), 1)
        self.assertEqual(mp.unpackb(memoryview(b"\xa1a")), "a")

    def test_depth_limit(self):
        v = []
        for _ in range(mp.MAX_DEPTH - 1):
            v = [v]
        self.assertEqual(mp.unpackb(mp.packb(v)), v)     # 64 containers: fine
        with self.assertRaisesRegex(mp.MsgpackError, "nested too deeply"):
            mp.packb([v])
        with self.assertRaisesRegex(mp.MsgpackError, "nested too deeply"):
            mp.unpackb(b"\x91" * 64 + b"\x90")
        self.assertEqual(mp.unpackb(b"\x91" * 63 + b"\x90"), v)
        self.assertIsInstance(mp.unpackb(b"\x81\x01" * 64 + b"\xc0"), dict)
        with self.assertRaisesRegex(mp.MsgpackError, "nested too deeply"):
            mp.unpackb(b"\x81\x01" * 65 + b"\xc0")
        # ext counts as a level too: 63 arrays then a tuple is the 64th, fine
        self.assertEqual(mp.unpackb(b"\x91" * 63 + b"\xd4\x01\x90"), eval("[" * 63 + "()" + "]" * 63))
        with self.assertRaisesRegex(mp.MsgpackError, "nested too deeply"):
            mp.unpackb(b"\x91" * 64 + b"\xd4\x01\x90")

    def test_decode_errors(self):
        bad = {
            "": "truncated",
            "c1": "invalid byte 0xc1",
            "cd01": "truncated",
            "a56162": "truncated",
            "0102": "trailing bytes",
            "a1ff": "invalid UTF-8",
            "cfffffffffffffffff": "int too large",
            "cf8000000000000000": "int too large",
            "d42a00": "unknown extension type 42",
            "c7030591a135": "not canonical",
            "c7060993cd07e80d01": "month must be in 1..12",
            "d4ff00": "unknown extension type -1",
            "d40101": "payload is not an array",
            "d5019000": "trailing bytes in payload",
            "c7020391a0": "bad reference",
            "c70303920101": "bad reference",
            "c7030392a001": "bad reference",
            "c703019201": "truncated",
            "819001": "a list cannot be a dict key",
            "818001": "a dict cannot be a dict key",
            "d5029190": "a list cannot be a dict key or set element",
            "ddffffffff": "truncated",
            "dfffffffff": "truncated",
            "c6ffffffff": "truncated",
            "c9ffffffff01": "truncated",
            "dc00": "truncated",
            "92": "truncated",
        }
        for h, msg in bad.items():
            with self.subTest(h=h):
                with self.assertRaisesRegex(mp.MsgpackError, msg):
                    mp.unpackb(bytes.fromhex(h))
        with self.assertRaisesRegex(mp.MsgpackError, "value too large"):
            mp.unpackb(b"\xc0" * (mp.MAX_BYTES + 1))
        with self.assertRaises(TypeError):
            mp.unpackb("text")

    def test_encode_errors(self):
        for v, msg in [(10**4300, "int too large"), (-10**4300, "int too large"),
                       (object(), "cannot encode a value of type 'object'"),
                       ("\ud800", "lone surrogate"), ([1, {2: 1j}], "type 'complex'"),
                       (b"x" * (mp.MAX_BYTES + 1), "value too large")]:
            with self.subTest(v=type(v)):
                with self.assertRaisesRegex(mp.MsgpackError, msg):
                    mp.packb(v)
        self.assertTrue(issubclass(mp.MsgpackError, ValueError))
        self.assertEqual(mp.packb(1j, default=lambda o: [o.real, o.imag]), mp.packb([0.0, 1.0]))

    def test_fuzz_never_crashes(self):
        rnd = random.Random(1234)
        seeds = [mp.packb(v) for v in [
            {"a": [1, 2.5, None, True, b"xy", (1, "t"), {3, 4}, Ref("U", "k")]},
            [Ref("I", (1, 2)), {"n": {"m": [1]}}], "s" * 40, (1, (2, (3,)))]]
        for i in range(3000):
            if i % 2:
                data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(12)))
            else:
                data = bytearray(rnd.choice(seeds))
                for _ in range(rnd.randrange(1, 4)):
                    op = rnd.randrange(3)
                    if op == 0 and data:
                        data[rnd.randrange(len(data))] = rnd.randrange(256)
                    elif op == 1 and data:
                        del data[rnd.randrange(len(data)):]
                    else:
                        data.insert(rnd.randrange(len(data) + 1), rnd.randrange(256))
                data = bytes(data)
            try:
                v = mp.unpackb(data)
            except mp.MsgpackError:
                continue
            # whatever decodes re-encodes and decodes to the same value
            # (NaN aside, which is not equal to itself)
            if "nan" not in repr(v):
                self.assertEqual(mp.unpackb(mp.packb(v)), v)


class RefTests(unittest.TestCase):
    def test_ref(self):
        r = Ref("Item", "apple")
        self.assertEqual((r.entity, r.key), ("Item", "apple"))
        self.assertEqual(r, Ref("Item", "apple"))
        self.assertNotEqual(r, Ref("Item", "pear"))
        self.assertNotEqual(Ref("S", "7"), Ref("S", 7))
        self.assertNotEqual(Ref("S", 1), Ref("S", True))
        self.assertEqual(hash(r), hash(Ref("Item", "apple")))
        self.assertEqual(repr(r), "Ref('Item', 'apple')")
        self.assertEqual(len({r, Ref("Item", "apple"), Ref("Seat", [1, 2])}), 2)  # list key: hashable
        with self.assertRaises(AttributeError):
            r.key = "x"
        with self.assertRaises(TypeError):
            Ref("", 1)
        with self.assertRaises(TypeError):
            Ref(3, 1)
        import copy
        import pickle
        self.assertEqual(copy.deepcopy(r), r)
        self.assertEqual(pickle.loads(pickle.dumps(r)), r)
        self.assertIs(sc.Ref, mp.Ref)


# ============================================================== JSON mapping

class JsonMappingTests(unittest.TestCase):
    def test_dumps_follows_output_rules(self):
        self.assertEqual(sc.dumps({"a": 1.0, "b": 1e16, "c": 1.5e-7, "d": -0.0, "e": 100.0}),
                         '{"a":1.0,"b":1e+16,"c":1.5e-07,"d":-0.0,"e":100.0}')
        self.assertEqual(sc.dumps({1: "a", (1, 2): 0, None: 0, False: 1, 2.5: 2}),
                         '{"1":"a","[1,2]":0,"null":0,"false":1,"2.5":2}')
        self.assertEqual(sc.dumps({3, 1, 2}), "[1,2,3]")
        self.assertEqual(sc.dumps((1, "z\u00e9\n")), '[1,"z\u00e9\\n"]')
        self.assertEqual(sc.dumps(b"\x00\x01\xff"), '{"$bytes":"AAH/"}')
        self.assertEqual(sc.dumps(Ref("Seat", (1, 2))), '{"$ref":["Seat",[1,2]]}')
        self.assertEqual(sc.dumps({1, "a"})[0], "[")            # not comparable: any order
        with self.assertRaises(ValueError):
            sc.dumps(float("nan"))
        self.assertEqual(sc.dumps([float("inf")], nonfinite_as_null=True), "[null]")
        with self.assertRaises(ValueError):
            sc.dumps(object())

    def test_from_json(self):
        self.assertEqual(sc.from_json({"$ref": ["I", "a"]}), Ref("I", "a"))
        self.assertEqual(sc.from_json([{"$bytes": "AAH/"}, {"x": {"$ref": ["S", [1, {"$bytes": ""}]]}}]),
                         [b"\x00\x01\xff", {"x": Ref("S", [1, b""])}])
        for bad in [{"$ref": "I"}, {"$ref": ["I"]}, {"$ref": ["", 1]}, {"$ref": [1, 1]},
                    {"$ref": ["I", 1], "x": 1}, {"$bytes": "AAH"}, {"$bytes": "AA=H"},
                    {"$bytes": "A A="}, {"$bytes": "AA-_"}, {"$bytes": 1}, {"$bytes": "AA==", "y": 0}]:
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    sc.from_json(bad)

    def test_loads(self):
        self.assertEqual(sc.loads('{"a":[1,2.0,{"$ref":["U","x"]}]}'), {"a": [1, 2.0, Ref("U", "x")]})
        for bad in ["NaN", "[Infinity]", "{", "[" * 100000]:
            with self.assertRaises(ValueError):
                sc.loads(bad)


# ========================================================= clients, shared

class ClientBehaviour:
    """Tests both transports must pass; subclasses provide make_server()."""

    server = None

    @classmethod
    def setUpClass(cls):
        cls.server = cls.make_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def setUp(self):
        self.app = self.server.app
        with self.app.lock:
            self.app.state.clear()
        self.app.unavailable = False
        self.c = self.client()
        self.addCleanup(self.c.close)
        self.c.create(User, "alice")
        self.c.create("Item", "apple", 5)

    def client(self, **kw):
        kw.setdefault("timeout", 5.0)
        return Client(self.server.url, **kw)

    def test_create_returns_proxy(self):
        bob = self.c.create(User, "bob")
        self.assertIsInstance(bob, Proxy)
        self.assertEqual(bob.ref, Ref("User", "bob"))
        self.assertEqual((bob.entity, bob.key), ("User", "bob"))
        self.assertEqual(bob, Ref("User", "bob"))
        self.assertEqual(bob, self.c.ref(User, "bob"))
        self.assertEqual(repr(bob), "Proxy('User', 'bob')")
        self.assertEqual(self.app.state[("User", '"bob"')], {"username": "bob", "balance": 100})

    def test_delete(self):
        bob = self.c.create(User, "bob")
        self.assertIsNone(self.c.delete(bob))
        self.assertNotIn(("User", '"bob"'), self.app.state)
        with self.assertRaises(NotFound):
            bob.get()
        with self.assertRaises(NotFound):
            self.c.delete("User", "bob")
        self.c.create(User, "bob")
        self.assertIsNone(self.c.delete(User, "bob"))
        with self.assertRaises(TypeError):
            self.c.delete("User")

    def test_call_with_refs(self):
        alice = self.c.ref(User, "alice")
        apple = self.c.ref(Item, "apple")
        self.assertIs(alice.buy_item(2, apple), True)                       # a proxy argument
        self.assertIs(alice.buy_item(1, Ref("Item", "apple")), True)        # a Ref argument
        self.assertIs(alice.buy_item(1, {"$ref": ["Item", "apple"]}), True)  # the JSON spelling
        self.assertEqual(alice.get(), {"username": "alice", "balance": 80})
        self.assertEqual(self.c.get(User, "alice")["balance"], 80)
        self.assertEqual(self.c.get(Ref("Item", "apple"))["stock"], 6)
        self.assertEqual(self.c.call("User", "alice", "buy_item", 1, apple), True)

    def test_refs_in_results(self):
        me = self.c.ref("User", "alice").me()
        self.assertIs(type(me), Ref)
        self.assertEqual(me, Ref("User", "alice"))
        proxy = self.c.ref(me)
        self.assertEqual(proxy.get()["username"], "alice")
        echoed = proxy.echo([Ref("Item", "apple"), {"r": self.c.ref("Item", "apple")}])
        self.assertEqual(echoed, [[Ref("Item", "apple"), {"r": Ref("Item", "apple")}]])

    def test_values_roundtrip(self):
        alice = self.c.ref(User, "alice")
        out = alice.echo(b"\x00\xffbin", "z\u00e9\u4e2d", 2**63 - 1, -2**63, 1.25, None, True,
                         {"k": [1, {"n": None}]})
        self.assertEqual(out, [b"\x00\xffbin", "z\u00e9\u4e2d", 2**63 - 1, -2**63, 1.25, None, True,
                               {"k": [1, {"n": None}]}])
        self.assertIs(type(out[4]), float)

    def test_method_named_like_proxy_attribute(self):
        alice = self.c.ref(User, "alice")
        self.assertEqual(alice.get()["username"], "alice")          # get(): the state
        self.assertEqual(alice.call("get"), "the user method called get")

    def test_errors(self):
        alice = self.c.ref(User, "alice")
        with self.assertRaises(AlreadyExists) as cm:
            self.c.create(User, "alice")
        self.check_error(cm.exception, "AlreadyExists", 'User "alice" already exists', 409)
        with self.assertRaises(NotFound) as cm:
            self.c.get(User, "nobody")
        self.check_error(cm.exception, "NotFound", 'User "nobody" not found', 404)
        with self.assertRaises(NotFound) as cm:
            self.c.ref("Ghost", "x").anything()
        self.check_error(cm.exception, "NotFound", "unknown entity 'Ghost'", 404)
        with self.assertRaises(NotFound):
            alice.no_such_method()
        with self.assertRaises(UserError) as cm:
            alice.buy_item(1000, self.c.ref(Item, "apple"))
        self.check_error(cm.exception, "NotEnoughBalance", "balance 100 < 5000", 422)
        with self.assertRaises(UserError) as cm:
            alice.fail("boom")
        self.check_error(cm.exception, "ValueError", "boom", 422)
        self.assertIsInstance(cm.exception, RemoteError)
        self.assertEqual(str(cm.exception), "ValueError: boom")
        self.assertEqual(cm.exception.reply["error"]["message"], "boom")
        with self.assertRaises(UserError) as cm:
            self.c.create(Item, "pear")
        self.check_error(cm.exception, "TypeError", "Item() expects 2 arguments, got 1", 422)
        self.app.unavailable = True
        with self.assertRaises(Unavailable) as cm:
            self.c.get(User, "alice")
        self.check_error(cm.exception, "Unavailable", "no workers", 503)

    def check_error(self, e, etype, message, status):
        self.assertEqual(e.type, etype)
        self.assertEqual(e.message, message)
        self.assertEqual(e.status, status if self.c.protocol == "http" else None)

    def test_local_errors_are_not_sent(self):
        alice = self.c.ref(User, "alice")
        bad_values = [object(), 10**4300, {"$ref": "broken"}, {"k": {"$bytes": "!"}}, "\ud800"]
        if self.c.protocol == "http":
            bad_values.append(float("nan"))      # msgpack carries NaN, JSON does not
            bad_values += [2**64, -2**63 - 1]    # msgpack carries big ints (ext 5), JSON requests do not
        for bad in bad_values:
            with self.subTest(bad=repr(bad) if type(bad) is not int else "int of %d bits" % bad.bit_length()):
                with self.assertRaises(BadRequest) as cm:
                    alice.echo(bad)
                self.assertIsNone(cm.exception.status)
                self.assertIn("cannot send request", cm.exception.message)

    def test_non_string_keys(self):
        seat = self.c.create("Seat", 1, 2)
        self.assertEqual(seat.entity, "Seat")
        self.assertEqual(list(seat.key), [1, 2])     # a list over JSON, a tuple natively
        self.assertEqual(self.c.get(seat), {"row": 1, "col": 2})
        self.assertEqual(self.c.get("Seat", (1, 2)), {"row": 1, "col": 2})
        with self.assertRaises(NotFound):
            self.c.get("Seat", "[1,2]")           # the string is another key

    def test_awkward_string_keys(self):
        for key in ["a/b c", "100%", "zo\u00eb", "?x=1#y", ""]:
            with self.subTest(key=key):
                p = self.c.create(User, key)
                self.assertEqual(p.key, key)
                self.assertEqual(p.get()["username"], key)
                self.assertEqual(p.me(), Ref("User", key))

    def test_request_raw(self):
        r = self.c.request({"id": "r1", "op": "get", "entity": "User", "key": "alice"})
        self.assertEqual(r, {"id": "r1", "ok": {"username": "alice", "balance": 100}})
        r = self.c.request({"id": 7, "op": "get", "entity": "User", "key": "nobody"})
        self.assertEqual(r, {"id": 7, "error": {"type": "NotFound", "message": 'User "nobody" not found'}})
        r = self.c.request({"op": "frobnicate", "entity": "User"})
        self.assertEqual(r["error"]["type"], "BadRequest")
        r = self.c.request({"id": "x", "op": "call", "entity": "User", "key": "alice", "method": "echo",
                            "args": [10**4300 if self.c.protocol == "native" else 2**64]})
        self.assertEqual(r["id"], "x")
        self.assertEqual(r["error"]["type"], "BadRequest")
        with self.assertRaises(TypeError):
            self.c.request(["not", "a", "dict"])
        self.assertEqual(sc.unwrap({"ok": 3}), 3)
        with self.assertRaises(ProtocolError):
            sc.unwrap({"weird": 1})
        with self.assertRaises(ProtocolError):
            sc.unwrap({"error": "no map"})

    def test_submit_many(self):
        reqs = [{"id": i, "op": "call", "entity": "User", "key": "alice", "method": "echo", "args": [i]}
                for i in range(50)]
        reqs.insert(10, {"id": "bad", "op": "call", "entity": "User", "key": "alice", "method": "echo",
                         "args": [object()]})
        reqs.append({"id": "nf", "op": "get", "entity": "User", "key": "zed"})
        replies = self.c.submit_many(reqs)
        self.assertEqual(len(replies), len(reqs))
        for req, rep in zip(reqs, replies):
            self.assertEqual(rep["id"], req["id"])
        self.assertEqual(replies[0], {"id": 0, "ok": [0]})
        self.assertEqual(replies[10]["error"]["type"], "BadRequest")
        self.assertEqual(replies[-1]["error"]["type"], "NotFound")
        self.assertEqual(self.c.submit_many([]), [])

    def test_concurrent_threads(self):
        errors = []

        def work(n):
            try:
                p = self.c.ref(User, "alice")
                for i in range(25):
                    self.assertEqual(p.echo(n, i), [n, i])
            except Exception as e:     # noqa: BLE001
                errors.append(e)
        ts = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])

    def test_timeout(self):
        c = self.client(timeout=0.2)
        self.addCleanup(c.close)
        t0 = time.monotonic()
        with self.assertRaises(Timeout) as cm:
            c.ref(User, "alice").slow(0.5)
        self.assertLess(time.monotonic() - t0, 0.45)
        self.assertIsInstance(cm.exception, Unavailable)
        self.assertEqual(cm.exception.type, "Timeout")
        # usable afterwards (natively the late reply arrives first and is dropped)
        c.timeout = 3
        self.assertEqual(c.get(User, "alice")["username"], "alice")

    def test_health(self):
        self.assertEqual(self.c.health().strip(), "ok")


def _free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ================================================================== HTTP

class HttpClientTests(ClientBehaviour, unittest.TestCase):
    @staticmethod
    def make_server():
        return standins.HttpStandin()

    def last_log(self, n=1):
        with self.server.lock:
            return self.server.log[-n:]

    def test_routes_and_bodies(self):
        self.c.ref(User, "alice").buy_item(2, self.c.ref(Item, "apple"))
        method, path, body = self.last_log()[0]
        self.assertEqual((method, path), ("POST", "/v1/User/alice/buy_item"))
        self.assertEqual(json.loads(body), {"args": [2, {"$ref": ["Item", "apple"]}]})
        self.c.ref(User, "alice").echo(b"\x01", (1, 2), {3})
        self.assertEqual(json.loads(self.last_log()[0][2]),
                         {"args": [{"$bytes": "AQ=="}, [1, 2], [3]]})
        self.c.create(User, "a/b")
        self.assertEqual(self.last_log()[0][:2], ("POST", "/v1/User"))
        self.c.get(User, "a/b")
        self.assertEqual(self.last_log()[0][:2], ("GET", "/v1/User/a%2Fb"))
        with self.assertRaises(NotFound):
            self.c.get("User", 7)
        self.assertEqual(self.last_log()[0][1], "/v1/requests")
        self.assertEqual(json.loads(self.last_log()[0][2]), {"op": "get", "entity": "User", "key": 7})
        self.c.delete(User, "a/b")
        self.assertEqual(self.last_log()[0][:2], ("DELETE", "/v1/User/a%2Fb"))

    def test_over_json_tuples_and_sets_are_lists(self):
        out = self.c.ref(User, "alice").echo((1, 2), {2, 1})
        self.assertEqual(out, [[1, 2], [1, 2]])

    def test_keep_alive(self):
        c = self.client()
        self.addCleanup(c.close)
        before = self.server.connections
        for i in range(10):
            c.ref(User, "alice").echo(i)
        self.assertEqual(self.server.connections - before, 1)
        self.assertEqual(c._t.connections, 1)

    def test_reconnects_when_server_closed_idle_connection(self):
        c = self.client()
        self.addCleanup(c.close)
        c.get(User, "alice")
        self.server.close_after_next = True
        c.get(User, "alice")            # the server closes after answering this one
        time.sleep(0.05)
        self.assertEqual(c.ref(User, "alice").echo(1), [1])   # resent on a new connection
        self.assertEqual(c._t.connections, 2)

    def test_submit_many_chunks_bodies(self):
        blob = "x" * 200000
        reqs = [{"id": i, "op": "call", "entity": "User", "key": "alice", "method": "echo", "args": [blob]}
                for i in range(12)]
        before = len(self.server.log)
        replies = self.c.submit_many(reqs)
        self.assertEqual([r["id"] for r in replies], list(range(12)))
        self.assertEqual(replies[5]["ok"], [blob])
        posts = self.server.log[before:]
        self.assertGreaterEqual(len(posts), 3)
        for method, path, body in posts:
            self.assertEqual(path, "/v1/requests")
            self.assertLessEqual(len(body), sc.HTTP_BODY_MAX)
            self.assertIsInstance(json.loads(body), list)

    def test_submit_many_chunks_counts(self):
        reqs = [{"id": i, "op": "get", "entity": "User", "key": "alice"} for i in range(2500)]
        before = len(self.server.log)
        replies = self.c.submit_many(reqs)
        self.assertEqual([r["id"] for r in replies], list(range(2500)))
        sizes = [len(json.loads(body)) for _, _, body in self.server.log[before:]]
        self.assertEqual(sizes, [1000, 1000, 500])

    def test_body_level_error_applies_to_each_request(self):
        huge = {"id": "h", "op": "call", "entity": "User", "key": "alice", "method": "echo",
                "args": ["y" * (sc.HTTP_BODY_MAX + 10)]}
        replies = self.c.submit_many([huge, {"id": "g", "op": "get", "entity": "User", "key": "alice"}])
        self.assertEqual(replies[0], {"id": "h", "error": {"type": "BadRequest", "message": "body too large"}})
        self.assertEqual(replies[1]["ok"]["username"], "alice")
        with self.assertRaises(BadRequest) as cm:
            self.c.ref(User, "alice").echo("z" * (sc.HTTP_BODY_MAX + 1))
        self.assertEqual(cm.exception.status, 413)

    def test_metrics(self):
        self.assertIn("stateflow_requests_total", self.c.metrics())

    def test_unreachable(self):
        c = Client("http://127.0.0.1:%d" % _free_port(), timeout=1, connect_timeout=1)
        with self.assertRaises(Unavailable) as cm:
            c.get(User, "alice")
        self.assertIn("cannot connect", cm.exception.message)
        self.assertIsNone(cm.exception.status)

    def test_not_json_answer(self):
        c = Client(self.server.url + "/nowhere", timeout=2)
        self.addCleanup(c.close)
        with self.assertRaises(NotFound) as cm:      # a 404 page that is not a reply
            c.get(User, "alice")
        self.assertEqual(cm.exception.status, 404)

    def test_bad_urls(self):
        for url in ["ftp://x", "http://", "stateflow://h:notaport", "127.0.0.1:8080"]:
            with self.assertRaises(ValueError):
                Client(url)
        with self.assertRaises(ValueError):
            Client(self.server.url, timeout=0)


# ================================================================ native

class NativeClientTests(ClientBehaviour, unittest.TestCase):
    @staticmethod
    def make_server():
        return standins.NativeStandin(token=b"s3cret")

    def client(self, **kw):
        kw.setdefault("timeout", 5.0)
        kw.setdefault("token", "s3cret")
        return Client(self.server.url, **kw)

    def setUp(self):
        for k in ("pings", "silent", "garbage", "close_on_request"):
            setattr(self.server, k, False)
        self.server.reverse = 1
        super().setUp()

    def test_handshake(self):
        self.assertEqual(self.c.protocol, "native")
        self.assertEqual(self.server.hellos[-1], [1, 1, b"s3cret", "client", ""])
        c = self.client(token=b"wrong")
        with self.assertRaises(Unavailable) as cm:
            c.get(User, "alice")
        self.assertIn("refused the connection: bad token", cm.exception.message)

    def test_token_sources(self):
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            f.write(b"s3cret")
        self.addCleanup(os.unlink, f.name)
        c = Client(self.server.url, token_file=f.name)
        self.addCleanup(c.close)
        self.assertEqual(c.get(User, "alice")["username"], "alice")
        old = os.environ.get("STATEFLOW_TOKEN")
        os.environ["STATEFLOW_TOKEN"] = "s3cret"
        try:
            c2 = Client(self.server.url)
        finally:
            if old is None:
                del os.environ["STATEFLOW_TOKEN"]
            else:
                os.environ["STATEFLOW_TOKEN"] = old
        self.addCleanup(c2.close)
        self.assertEqual(c2.get(User, "alice")["username"], "alice")

    def test_native_keeps_tuples_and_sets(self):
        out = self.c.ref(User, "alice").echo((1, 2), {2, 1}, frozenset({3}))
        self.assertEqual(out, [(1, 2), {1, 2}, {3}])
        self.assertIs(type(out[0]), tuple)
        self.assertIs(type(out[1]), set)

    def test_pipelining_out_of_order(self):
        # a server of its own: connections left by other tests on the shared
        # one may still be answering and would interleave with sent_order
        server = self.make_server()
        self.addCleanup(server.close)
        server.app.handle({"op": "create", "entity": "User", "args": ["alice"]})
        server.reverse = 5
        c = Client(server.url, timeout=5.0, token="s3cret")
        self.addCleanup(c.close)
        reqs = [{"id": "r%d" % i, "op": "call", "entity": "User", "key": "alice", "method": "echo",
                 "args": [i]} for i in range(10)]
        replies = c.submit_many(reqs)
        self.assertEqual([r["id"] for r in replies], ["r%d" % i for i in range(10)])
        self.assertEqual([r["ok"] for r in replies], [[i] for i in range(10)])
        sent = server.sent_order
        self.assertEqual(len(sent), 10)
        self.assertEqual(len(set(sent)), 10)
        self.assertNotEqual(sent, sorted(sent))            # they really came back out of order
        self.assertEqual(sent[:5], sorted(sent[:5], reverse=True))

    def test_out_of_order_across_threads(self):
        self.server.reverse = 2
        results = {}

        def one(n):
            results[n] = self.c.ref(User, "alice").echo(n)
        ts = [threading.Thread(target=one, args=(n,)) for n in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(5)
        self.assertEqual(results, {0: [0], 1: [1]})

    def test_server_pings_are_ignored(self):
        self.server.pings = True
        self.assertEqual(self.c.ref(User, "alice").echo("p"), ["p"])
        self.assertEqual(self.c.submit_many([{"op": "get", "entity": "User", "key": "alice"}] * 3)[2]["ok"]
                         ["username"], "alice")

    def test_client_pings_when_idle(self):
        c = self.client()
        self.addCleanup(c.close)
        c._t.ping_interval = 0.05
        c.get(User, "alice")
        n0 = sum(1 for m in self.server.received if m == [4])
        time.sleep(0.4)
        n1 = sum(1 for m in self.server.received if m == [4])
        self.assertGreaterEqual(n1 - n0, 2)

    def test_connection_lost_then_reconnect(self):
        c = self.client()
        self.addCleanup(c.close)
        c.get(User, "alice")
        self.server.close_on_request = True
        with self.assertRaises(Unavailable) as cm:
            c.get(User, "alice")
        self.assertIn("closed the connection", cm.exception.message)
        self.assertEqual(c.get(User, "alice")["username"], "alice")
        self.assertEqual(c._t.connections, 2)

    def test_garbage_frame(self):
        c = self.client()
        self.addCleanup(c.close)
        c.get(User, "alice")
        self.server.garbage = True
        with self.assertRaises(ProtocolError) as cm:
            c.get(User, "alice")
        self.assertIn("bad frame length 0", cm.exception.message)
        self.server.garbage = False
        self.assertEqual(c.get(User, "alice")["username"], "alice")

    def test_silent_server_times_out(self):
        c = self.client(timeout=0.3)
        self.addCleanup(c.close)
        c.get(User, "alice")
        self.server.silent = True
        with self.assertRaises(Timeout):
            c.submit_many([{"op": "get", "entity": "User", "key": "alice"}] * 3)

    def test_large_values(self):
        blob = bytes(range(256)) * 2000
        self.assertEqual(self.c.ref(User, "alice").echo(blob, "s" * 300000), [blob, "s" * 300000])

    def test_metrics_http_only(self):
        with self.assertRaises(BadRequest):
            self.c.metrics()

    def test_unreachable(self):
        c = Client("stateflow://127.0.0.1:%d" % _free_port(), connect_timeout=1)
        with self.assertRaises(Unavailable):
            c.health()


class NativeFrameTests(unittest.TestCase):
    """Frame-level checks of the client's reader against a scripted server."""

    def scripted(self, script):
        import socket
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        self.addCleanup(srv.close)

        def run():
            c, _ = srv.accept()
            try:
                standins.read_frame(c)
                script(c)
                time.sleep(0.5)
            except (OSError, EOFError):
                pass
            finally:
                c.close()
        threading.Thread(target=run, daemon=True).start()
        return "stateflow://127.0.0.1:%d" % srv.getsockname()[1]

    def test_wrong_welcome(self):
        url = self.scripted(lambda c: c.sendall(standins.frame([2, 99])))
        with self.assertRaisesRegex(ProtocolError, "expected WELCOME"):
            Client(url, connect_timeout=2).health()

    def test_not_an_array(self):
        def script(c):
            c.sendall(standins.frame([2, 1]))
            standins.read_frame(c)
            c.sendall(standins.frame({"x": 1}))
        c = Client(self.scripted(script), timeout=2)
        with self.assertRaisesRegex(ProtocolError, "not \\[type"):
            c.get("User", "a")

    def test_reply_not_a_map(self):
        def script(c):
            c.sendall(standins.frame([2, 1]))
            req = standins.read_frame(c)
            c.sendall(standins.frame([21, req[1], "nope"]))
        c = Client(self.scripted(script), timeout=2)
        self.addCleanup(c.close)
        with self.assertRaisesRegex(ProtocolError, "not a map"):
            c.get("User", "a")

    def test_split_frames_and_unknown_corr(self):
        def script(c):
            c.sendall(standins.frame([2, 1]))
            req = standins.read_frame(c)
            data = standins.frame([21, 999, {"ok": 0}]) + standins.frame([21, req[1], {"ok": "yes"}])
            for i in range(len(data)):          # one byte at a time
                c.sendall(data[i:i + 1])
        c = Client(self.scripted(script), timeout=2)
        self.addCleanup(c.close)
        self.assertEqual(c.request({"op": "get", "entity": "User", "key": "a"}), {"ok": "yes"})

    def test_bad_msgpack_in_frame(self):
        def script(c):
            c.sendall(standins.frame([2, 1]))
            standins.read_frame(c)
            c.sendall(b"\x00\x00\x00\x01\xc1")
        c = Client(self.scripted(script), timeout=2)
        with self.assertRaisesRegex(ProtocolError, "invalid byte 0xc1"):
            c.get("User", "a")

    def test_oversized_frame(self):
        def script(c):
            c.sendall(standins.frame([2, 1]))
            standins.read_frame(c)
            c.sendall((sc.FRAME_MAX + 1).to_bytes(4, "big"))
        c = Client(self.scripted(script), timeout=2)
        with self.assertRaisesRegex(ProtocolError, "bad frame length"):
            c.get("User", "a")


# ================================================================= sfctl

class SfctlParseTests(unittest.TestCase):
    def test_args(self):
        pa = _sfctl.parse_arg
        self.assertEqual(pa("2"), 2)
        self.assertIs(type(pa("2")), int)
        self.assertEqual(pa("2.5"), 2.5)
        self.assertEqual(pa("-3"), -3)
        self.assertEqual(pa('"2"'), "2")
        self.assertEqual(pa("alice"), "alice")
        self.assertEqual(pa("two words"), "two words")
        self.assertEqual(pa("[1,2]"), [1, 2])
        self.assertEqual(pa('{"a":[true,null]}'), {"a": [True, None]})
        self.assertIs(pa("true"), True)
        self.assertIsNone(pa("null"))
        self.assertEqual(pa("NaN"), "NaN")
        self.assertEqual(pa(""), "")
        self.assertEqual(pa('{"$bytes":"AAE="}'), b"\x00\x01")
        self.assertEqual(pa('{"$ref":["Item","apple"]}'), Ref("Item", "apple"))
        self.assertEqual(pa("@Item/apple"), Ref("Item", "apple"))
        self.assertEqual(pa("@Seat/#[1,2]"), Ref("Seat", [1, 2]))
        self.assertEqual(pa("@Seat/#7"), Ref("Seat", 7))
        self.assertEqual(pa('@User/#"#x"'), Ref("User", "#x"))
        self.assertEqual(pa('"@literal"'), "@literal")
        for bad in ['{"$ref":1}', "@Item", "@/x", "@Seat/#[1,", '{"$bytes":"!"}']:
            with self.assertRaises(_sfctl.UsageError, msg=bad):
                pa(bad)

    def test_targets(self):
        pt = _sfctl.parse_target
        self.assertEqual(pt("User/alice"), ("User", "alice"))
        self.assertEqual(pt("User/42"), ("User", "42"))
        self.assertEqual(pt("User/#42"), ("User", 42))
        self.assertEqual(pt("Path/a/b"), ("Path", "a/b"))
        self.assertEqual(pt("User/"), ("User", ""))
        for bad in ["User", "/alice", "User/#", "User/#nope"]:
            with self.assertRaises(_sfctl.UsageError, msg=bad):
                pt(bad)

    def test_command_line(self):
        opts, cmd, args = _sfctl.parse_command_line(
            ["--url", "stateflow://h:1", "--timeout=2.5", "--json", "call", "U/k", "m", "-5", "--json"])
        self.assertEqual((opts["url"], opts["timeout"], opts["json"]), ("stateflow://h:1", 2.5, True))
        self.assertEqual((cmd, args), ("call", ["U/k", "m", "-5", "--json"]))
        self.assertEqual(_sfctl.build_request("call", args),
                         {"op": "call", "entity": "U", "key": "k", "method": "m", "args": [-5, "--json"]})
        self.assertEqual(_sfctl.build_request("create", ["User", "alice"]),
                         {"op": "create", "entity": "User", "args": ["alice"]})
        for bad in [[], ["--url"], ["--timeout", "0", "get", "U/k"], ["--timeout", "nan", "health"],
                    ["--bogus", "get"]]:
            with self.assertRaises(_sfctl.UsageError, msg=bad):
                _sfctl.parse_command_line(bad)


class SfctlRunTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.http = standins.HttpStandin()
        cls.native = standins.NativeStandin(token=b"tok")

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        cls.native.close()

    def setUp(self):
        for srv in (self.http, self.native):
            srv.app.state.clear()
            c = Client(srv.url, token="tok")
            c.create(User, "alice")
            c.create(Item, "apple", 5)
            c.close()

    def sfctl(self, *args, url=None, stdin=None, exe=None, env_extra=None):
        """Run sfctl in-process (fast); as a subprocess when exe is given."""
        if exe is None and not env_extra:
            argv = (["--url", url or self.http.url] if url != "" else []) + list(args)
            out, err = io.BytesIO(), io.BytesIO()
            old = os.environ.pop("STATEFLOW_URL", None), os.environ.get("STATEFLOW_TOKEN")
            os.environ["STATEFLOW_TOKEN"] = "tok"
            try:
                rc = _sfctl.main(argv, stdin=io.BytesIO(stdin or b""), stdout=out, stderr=err)
            finally:
                for name, value in zip(("STATEFLOW_URL", "STATEFLOW_TOKEN"), old):
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
            return rc, out.getvalue().decode("utf-8"), err.getvalue().decode("utf-8")
        exe = exe or SFCTL
        env = dict(os.environ, LC_ALL="C", PYTHONIOENCODING="")
        env.pop("STATEFLOW_URL", None)
        env["STATEFLOW_TOKEN"] = "tok"
        if env_extra:
            env.update(env_extra)
        argv = [exe] + (["--url", url or self.http.url] if url != "" else []) + list(args)
        p = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=20)
        return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")

    def test_call_get_create(self):
        for url in (self.http.url, self.native.url):
            with self.subTest(url=url):
                self.assertEqual(self.sfctl("call", "User/alice", "buy_item", "2", "@Item/apple", url=url),
                                 (0, "true\n", ""))
                self.assertEqual(self.sfctl("get", "User/alice", url=url),
                                 (0, '{"username":"alice","balance":90}\n', ""))
                self.assertEqual(self.sfctl("create", "User", "zo\u00eb", url=url),
                                 (0, '{"$ref":["User","zo\u00eb"]}\n', ""))
                self.assertEqual(self.sfctl("call", "User/alice", "echo", "-5", '"7"', "x", "[1,2]",
                                            '{"$bytes":"AAE="}', "null", url=url),
                                 (0, '[-5,"7","x",[1,2],{"$bytes":"AAE="},null]\n', ""))
                self.assertEqual(self.sfctl("create", "Seat", "3", "4", url=url),
                                 (0, '{"$ref":["Seat",[3,4]]}\n', ""))
                self.assertEqual(self.sfctl("get", "Seat/#[3,4]", url=url),
                                 (0, '{"row":3,"col":4}\n', ""))
                self.assertEqual(self.sfctl("delete", "Seat/#[3,4]", url=url), (0, "null\n", ""))
                rc, out, err = self.sfctl("delete", "Seat/#[3,4]", url=url)
                self.assertEqual((rc, out, err), (1, "", "error: NotFound: Seat [3,4] not found\n"))
                self.assertEqual(self.sfctl("delete", url=url)[0], 2)

    def test_errors_and_exit_codes(self):
        for url in (self.http.url, self.native.url):
            with self.subTest(url=url):
                rc, out, err = self.sfctl("get", "User/nobody", url=url)
                self.assertEqual((rc, out, err), (1, "", 'error: NotFound: User "nobody" not found\n'))
                rc, out, err = self.sfctl("call", "User/alice", "fail", "oops", url=url)
                self.assertEqual((rc, out, err), (1, "", "error: ValueError: oops\n"))
                rc, out, err = self.sfctl("create", "User", "alice", url=url)
                self.assertEqual((rc, err), (1, 'error: AlreadyExists: User "alice" already exists\n'))
                rc, out, err = self.sfctl("--json", "get", "User/nobody", url=url)
                self.assertEqual(rc, 1)
                self.assertEqual(json.loads(out), {"error": {"type": "NotFound",
                                                             "message": 'User "nobody" not found'}})
                rc, out, err = self.sfctl("--json", "get", "User/alice", url=url)
                self.assertEqual((rc, json.loads(out)), (0, {"ok": {"username": "alice", "balance": 100}}))
        rc, out, err = self.sfctl("get", "User/alice", url="http://127.0.0.1:%d" % _free_port())
        self.assertEqual(rc, 1)
        self.assertTrue(err.startswith("error: Unavailable: cannot connect"), err)
        rc, out, err = self.sfctl("--token", "wrong", "get", "User/alice", url=self.native.url)
        self.assertEqual(rc, 1)
        self.assertIn("refused", err)

    def test_usage_errors(self):
        for args in [[], ["bogus"], ["call", "User/alice"], ["get", "nokey"], ["get"],
                     ["--timeout", "-1", "health"], ["call", "User/alice", "m", '{"$ref":3}'],
                     ["send"], ["send", "/nonexistent/file.jsonl"], ["health", "extra"]]:
            with self.subTest(args=args):
                rc, out, err = self.sfctl(*args)
                self.assertEqual(rc, 2, err)
                self.assertTrue(err.startswith("sfctl: "), err)
                self.assertEqual(out, "")
        rc, out, err = self.sfctl("get", "User/alice", url="ftp://x")
        self.assertEqual(rc, 2)
        rc, out, err = self.sfctl("--help", url="")
        self.assertEqual(rc, 0)
        self.assertIn("@ENTITY/KEY", out)

    def test_send(self):
        lines = [
            '{"id":"a","op":"get","entity":"User","key":"alice"}',
            "",
            "   ",
            '{"id":"b","op":"call","entity":"User","key":"alice","method":"buy_item",'
            '"args":[1,{"$ref":["Item","apple"]}]}',
            "this is not json",
            "[1,2]",
            '{"id":"c","op":"get","entity":"User","key":"nobody"}',
            '{"id":"d","op":"call","entity":"User","key":"alice","method":"echo","args":[{"$bytes":"AAE="}]}',
        ]
        text = ("\n".join(lines) + "\n").encode()
        with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        for url in (self.http.url, self.native.url):
            for src, stdin in ((f.name, None), ("-", text)):
                with self.subTest(url=url, src=src):
                    self.setUp()
                    rc, out, err = self.sfctl("send", src, url=url, stdin=stdin)
                    self.assertEqual((rc, err), (0, ""))
                    replies = [json.loads(x) for x in out.splitlines()]
                    self.assertEqual(len(replies), 6)
                    self.assertEqual(replies[0], {"id": "a", "ok": {"username": "alice", "balance": 100}})
                    self.assertEqual(replies[1], {"id": "b", "ok": True})
                    self.assertEqual(replies[2]["error"]["type"], "BadRequest")
                    self.assertNotIn("id", replies[2])
                    self.assertEqual(replies[3]["error"]["type"], "BadRequest")
                    self.assertEqual(replies[4]["error"]["type"], "NotFound")
                    self.assertEqual(replies[5], {"id": "d", "ok": [{"$bytes": "AAE="}]})
                    self.assertEqual(out.splitlines()[1], '{"id":"b","ok":true}')

    def test_health_and_metrics(self):
        self.assertEqual(self.sfctl("health"), (0, "ok\n", ""))
        self.assertEqual(self.sfctl("health", url=self.native.url), (0, "ok\n", ""))
        rc, out, err = self.sfctl("metrics")
        self.assertEqual(rc, 0)
        self.assertIn("stateflow_requests_total", out)
        rc, out, err = self.sfctl("metrics", url=self.native.url)
        self.assertEqual(rc, 1)
        self.assertIn("error: BadRequest: metrics are served over HTTP only", err)
        self.http.app.unavailable = True
        try:
            rc, out, err = self.sfctl("health")
        finally:
            self.http.app.unavailable = False
        self.assertEqual(rc, 1)
        self.assertIn("error: Unavailable", err)

    def test_as_a_process(self):
        """The real script: exit codes, UTF-8 output under LC_ALL=C, stdin."""
        rc, out, err = self.sfctl("get", "User/alice", url="", exe=SFCTL,
                                  env_extra={"STATEFLOW_URL": self.http.url})
        self.assertEqual((rc, out, err), (0, '{"username":"alice","balance":100}\n', ""))
        self.assertEqual(self.sfctl("create", "User", "zo\u00eb", exe=SFCTL, url=self.native.url),
                         (0, '{"$ref":["User","zo\u00eb"]}\n', ""))
        self.assertEqual(self.sfctl("get", "User/nobody", exe=SFCTL),
                         (1, "", 'error: NotFound: User "nobody" not found\n'))
        rc, out, err = self.sfctl("call", "User/alice", exe=SFCTL)
        self.assertEqual((rc, out), (2, ""))
        self.assertTrue(err.startswith("sfctl: usage: sfctl call"), err)
        rc, out, err = self.sfctl("send", "-", exe=SFCTL,
                                  stdin=b'{"id":1,"op":"get","entity":"User","key":"alice"}\n')
        self.assertEqual((rc, out, err), (0, '{"id":1,"ok":{"username":"alice","balance":100}}\n', ""))

    def test_build_tree_shim(self):
        shim = os.environ.get("SF_SFCTL_SHIM")
        if not shim or not os.path.exists(shim):
            self.skipTest("no build-tree bin/sfctl (SF_SFCTL_SHIM)")
        self.assertTrue(os.access(shim, os.X_OK))
        self.assertEqual(self.sfctl("get", "User/alice", exe=shim),
                         (0, '{"username":"alice","balance":100}\n', ""))
        rc, out, err = self.sfctl("get", "User/nobody", exe=shim)
        self.assertEqual(rc, 1)



# ============================================================== overloaded
# (appended: Overloaded replies raise their own exception type)

class _OverloadedHandler:
    """A stand-in gateway that answers every request 503 Overloaded, with
    server_state["retry_after"] as Retry-After (None: no header), or, with
    server_state["array"], 200 and an array holding one Overloaded reply."""

    @staticmethod
    def make(server_state):
        from http.server import BaseHTTPRequestHandler

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _answer(self):
                n = int(self.headers.get("Content-Length", "0"))
                if n:
                    self.rfile.read(n)
                body = b'{"error":{"type":"Overloaded","message":"the ingress is full"}}'
                if self.path == "/v1/requests" and server_state.get("array"):
                    body = b"[" + body + b"]"
                    self.send_response(200)
                else:
                    self.send_response(503)
                    if server_state.get("retry_after") is not None:
                        self.send_header("Retry-After", server_state["retry_after"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

        return H


class OverloadedTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        from http.server import ThreadingHTTPServer
        cls.state = {}
        cls.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _OverloadedHandler.make(cls.state))
        cls.httpd.daemon_threads = True
        threading.Thread(target=cls.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        cls.url = "http://127.0.0.1:%d" % cls.httpd.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.httpd.shutdown()
        cls.httpd.server_close()

    def setUp(self):
        self.state.clear()
        self.c = Client(self.url, timeout=5)
        self.addCleanup(self.c.close)

    def test_http_overloaded_with_retry_after(self):
        self.state["retry_after"] = "2"
        for op in (lambda: self.c.call("User", "alice", "echo", 1), lambda: self.c.create(User, "bob"),
                   lambda: self.c.get(User, "alice"), lambda: self.c.get(User, 7)):
            with self.assertRaises(sc.Overloaded) as cm:
                op()
            e = cm.exception
            self.assertIsInstance(e, Unavailable)      # a 503: old handlers still catch it
            self.assertEqual((e.type, e.message, e.status, e.retry_after),
                             ("Overloaded", "the ingress is full", 503, 2))
        reply = self.c.request({"op": "get", "entity": "User", "key": "alice"})
        self.assertEqual(reply["error"]["retry_after"], 2)
        self.assertEqual(self.c.submit_many([{"op": "get", "entity": "User", "key": "a"}])[0]["error"]
                         ["retry_after"], 2)

    def test_http_retry_after_absent_or_a_date(self):
        self.state["retry_after"] = None
        with self.assertRaises(sc.Overloaded) as cm:
            self.c.get(User, "alice")
        self.assertIsNone(cm.exception.retry_after)
        import email.utils
        self.state["retry_after"] = email.utils.formatdate(time.time() + 30, usegmt=True)
        with self.assertRaises(sc.Overloaded) as cm:
            self.c.get(User, "alice")
        self.assertTrue(25 <= cm.exception.retry_after <= 31, cm.exception.retry_after)
        self.state["retry_after"] = "soon"
        with self.assertRaises(sc.Overloaded) as cm:
            self.c.get(User, "alice")
        self.assertIsNone(cm.exception.retry_after)

    def test_overloaded_inside_an_array_reply(self):
        # a 200 array whose element is Overloaded: the type still maps, no header applies
        self.state["array"] = True
        self.state["retry_after"] = "2"
        reply = self.c.submit_many([{"op": "get", "entity": "User", "key": "a"}])[0]
        self.assertEqual(reply["error"]["type"], "Overloaded")
        self.assertNotIn("retry_after", reply["error"])
        e = sc.error_from_reply(reply, 200)
        self.assertIsInstance(e, sc.Overloaded)
        self.assertIsNone(e.retry_after)

    def test_native_overloaded(self):
        class OverloadedApp(standins.FakeApp):
            def _handle(self, req):
                raise standins.AppError("Overloaded", "the ingress is full", 503)

        srv = standins.NativeStandin(token=b"s3cret", app=OverloadedApp())
        self.addCleanup(srv.close)
        c = Client(srv.url, timeout=5, token="s3cret")
        self.addCleanup(c.close)
        with self.assertRaises(sc.Overloaded) as cm:
            c.call("User", "alice", "echo", 1)
        e = cm.exception
        self.assertEqual((e.type, e.status, e.retry_after), ("Overloaded", None, None))
        self.assertEqual(c.request({"op": "get", "entity": "User", "key": "a"})["error"]["type"],
                         "Overloaded")

    def test_error_from_reply_reads_retry_after(self):
        e = sc.error_from_reply({"error": {"type": "Overloaded", "message": "m", "retry_after": 3}})
        self.assertIsInstance(e, sc.Overloaded)
        self.assertEqual(e.retry_after, 3)
        for bad in (-1, "3", None, True):
            e = sc.error_from_reply({"error": {"type": "Overloaded", "message": "m", "retry_after": bad}})
            self.assertIsNone(e.retry_after)
        self.assertIn("Overloaded", sc.__all__)


if __name__ == "__main__":
    unittest.main()
