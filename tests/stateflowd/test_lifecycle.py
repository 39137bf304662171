#!/usr/bin/python3
"""test_lifecycle.py: entity lifecycle through `stateflowd --local` with two
workers (docs/programming-model.md "Entity lifecycle").

    SF_SFC=build/bin/sfc SF_STATEFLOWD=build/bin/stateflowd \\
        /usr/bin/python3 tests/stateflowd/test_lifecycle.py [-v]

- test_uuid_keys: methods create instances keyed by uuid.uuid4() from many
  concurrent clients; every request is answered once, every created
  instance exists under its own key (on whichever worker owns it) and is
  reachable from the creator's state.
- test_create_race: many clients create the same key from methods at once:
  exactly one succeeds, every other one gets AlreadyExists and leaves
  nothing behind (its own counter rolled back).
- test_http_delete: DELETE /v1/{Entity}/{key} answers 200 null, then 404 for
  the instance and for references to it; the service keeps working.
Not the differential suite: uuids differ from plain Python by nature.
Standard library only.
"""

import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "python"))

from sfd import Daemon  # noqa: E402
from stateflow.client import Client, NotFound  # noqa: E402
from test_stateflowd import STATEFLOWD, compile_app, http_get, http_post, request  # noqa: E402

APP = '''
import uuid
from typing import List
import stateflow
from stateflow import entity


@entity
class Order:
    def __init__(self, oid: str, owner: "User", n: int):
        self.oid: str = oid
        self.owner: User = owner
        self.n: int = n

    def __key__(self):
        return self.oid

    def num(self) -> int:
        return self.n


@entity
class User:
    def __init__(self, name: str):
        self.name: str = name
        self.orders: List[Order] = []
        self.claims: int = 0

    def __key__(self):
        return self.name

    def new_order(self) -> str:
        o = Order(str(uuid.uuid4()), self, len(self.orders))
        self.orders.append(o)
        return o.oid

    def total(self) -> int:
        t = 0
        for o in self.orders:
            t += o.num()
        return t

    def claim(self, oid: str) -> Order:
        self.claims += 1
        return Order(oid, self, -1)

    def drop(self, o: Order) -> int:
        stateflow.delete(o)
        return len(self.orders)
'''


def http_delete(port, path, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("DELETE", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read().decode())
    finally:
        conn.close()


class Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sfd-life-")
        app = os.path.join(cls.tmp, "app.py")
        with open(app, "w") as f:
            f.write(APP)
        cls.sfir = compile_app(app, cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, name):
        d = Daemon(STATEFLOWD, self.sfir, os.path.join(self.tmp, name), extra=["--partitions", "8"])
        self.addCleanup(d.__exit__)
        return d

    def stop_ok(self, d):
        self.assertEqual(d.stop(), 0, d.log_text())
        self.assertEqual(d.problems(), [], d.log_text())

    def parallel(self, d, reqs_per_client):
        """Each client sends its requests one by one; replies by id."""
        replies, errors, lock = {}, [], threading.Lock()

        def client(reqs):
            conn = http.client.HTTPConnection("127.0.0.1", d.http_port, timeout=60)
            try:
                for r in reqs:
                    _, text = http_post(conn, "/v1/requests", r)
                    rep = json.loads(text)
                    with lock:
                        if r["id"] in replies:
                            errors.append("two replies for " + r["id"])
                        replies[r["id"]] = rep
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            finally:
                conn.close()

        threads = [threading.Thread(target=client, args=(rs,)) for rs in reqs_per_client]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        return replies

    def test_uuid_keys(self):
        d = self.start("uuid")
        users = ["u%d" % i for i in range(4)]
        for u in users:
            self.assertIn("ok", request(d.http_port, {"op": "create", "entity": "User", "args": [u]})[1])
        per = 6
        reqs = [[{"id": "%s-%d" % (u, i), "op": "call", "entity": "User", "key": u, "method": "new_order"}
                 for i in range(per)] for u in users]
        replies = self.parallel(d, reqs)
        self.assertEqual(len(replies), len(users) * per)
        oids = []
        for u in users:
            mine = [replies["%s-%d" % (u, i)]["ok"] for i in range(per)]
            oids += mine
            st, rep = request(d.http_port, {"op": "get", "entity": "User", "key": u})
            self.assertEqual([r["$ref"][1] for r in rep["ok"]["orders"]], mine)
            self.assertEqual(request(d.http_port, {"op": "call", "entity": "User", "key": u,
                                                   "method": "total"})[1], {"ok": sum(range(per))})
        self.assertEqual(len(set(oids)), len(oids))
        self.assertTrue(all(len(o) == 36 for o in oids))
        for o in oids:
            st, body = http_get(d.http_port, "/v1/Order/" + o)
            self.assertEqual(st, 200, body)
        self.stop_ok(d)

    def test_create_race(self):
        d = self.start("race")
        users = ["r%d" % i for i in range(8)]
        for u in users:
            request(d.http_port, {"op": "create", "entity": "User", "args": [u]})
        reqs = [[{"id": u, "op": "call", "entity": "User", "key": u, "method": "claim", "args": ["gold"]}]
                for u in users]
        replies = self.parallel(d, reqs)
        ok = [u for u in users if "ok" in replies[u]]
        self.assertEqual(len(ok), 1, replies)
        for u in users:
            claims = request(d.http_port, {"op": "get", "entity": "User", "key": u})[1]["ok"]["claims"]
            if u in ok:
                self.assertEqual(claims, 1)
                self.assertEqual(replies[u], {"id": u, "ok": {"$ref": ["Order", "gold"]}})
            else:
                self.assertEqual(claims, 0)
                self.assertEqual(replies[u]["error"], {"type": "AlreadyExists",
                                                       "message": 'Order "gold" already exists'})
        owner = request(d.http_port, {"op": "get", "entity": "Order", "key": "gold"})[1]["ok"]["owner"]
        self.assertEqual(owner, {"$ref": ["User", ok[0]]})
        self.stop_ok(d)

    def test_http_delete(self):
        d = self.start("delete")
        request(d.http_port, {"op": "create", "entity": "User", "args": ["a"]})
        oid = request(d.http_port, {"op": "call", "entity": "User", "key": "a", "method": "new_order"})[1]["ok"]
        self.assertEqual(http_delete(d.http_port, "/v1/Order/" + oid), (200, {"ok": None}))
        st, body = http_get(d.http_port, "/v1/Order/" + oid)
        self.assertEqual(st, 404, body)
        self.assertEqual(http_delete(d.http_port, "/v1/Order/" + oid),
                         (404, {"error": {"type": "NotFound", "message": 'Order "%s" not found' % oid}}))
        st, rep = request(d.http_port, {"op": "call", "entity": "User", "key": "a", "method": "total"})
        self.assertEqual(rep["error"]["type"], "NotFound")
        st, rep = request(d.http_port, {"op": "call", "entity": "User", "key": "a", "method": "drop",
                                        "args": [{"$ref": ["Order", oid]}]})
        self.assertEqual(rep["error"]["type"], "NotFound")
        # the service keeps working: a new order, deleted from a method
        oid2 = request(d.http_port, {"op": "call", "entity": "User", "key": "a", "method": "new_order"})[1]["ok"]
        st, rep = request(d.http_port, {"op": "call", "entity": "User", "key": "a", "method": "drop",
                                        "args": [{"$ref": ["Order", oid2]}]})
        self.assertEqual(rep, {"ok": 2})
        self.assertEqual(http_get(d.http_port, "/v1/Order/" + oid2)[0], 404)
        self.assertEqual(http_delete(d.http_port, "/v1/User/a"), (200, {"ok": None}))
        self.assertEqual(http_get(d.http_port, "/v1/User/a")[0], 404)
        # over the native protocol, with a key that is not a string
        with Client("stateflow://127.0.0.1:%d" % d.native_port, token=d.token, timeout=30) as c:
            c.create("User", "b")
            oid3 = c.call("User", "b", "new_order")
            self.assertIsNone(c.delete("Order", oid3))
            with self.assertRaises(NotFound):
                c.delete("Order", oid3)
            with self.assertRaises(NotFound):
                c.delete("Order", 7)
            self.assertIsNone(c.delete(c.ref("User", "b")))
            with self.assertRaises(NotFound):
                c.get("User", "b")
        self.stop_ok(d)


if __name__ == "__main__":
    unittest.main()
