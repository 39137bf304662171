#!/usr/bin/python3
"""test_plain.py: unit tests of the stateflow package and of plain.py, the
reference executor of the differential tests (its reply, type-check and
rollback rules are the contract in tests/diff/README.md).

    /usr/bin/python3 tests/diff/test_plain.py
"""

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "python"))

import plain  # noqa: E402
import stateflow  # noqa: E402

APP = '''
from typing import Dict, List, Optional, Set, Tuple
import stateflow
from stateflow import entity


class Broke(Exception):
    pass


@entity
class Item:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price

    def __key__(self):
        return self.name

    def set_price(self, price: int) -> int:
        self.price = price
        return price

    def fail_after(self, price: int) -> int:
        self.price = price
        raise Broke("no " + self.name)


@entity
class Box:
    def __init__(self, number: int):
        self.number: int = number
        self.items: List[Item] = []
        self.best: Optional[Item] = None
        self.tags: Set[str] = set()
        self.extra: Dict[str, int] = {}

    def __key__(self):
        return self.number

    def add(self, it: Item) -> int:
        self.items.append(it)
        self.best = it
        return len(self.items)

    def add_then_fail(self, it: Item, price: int) -> int:
        self.items.append(it)
        self.extra["x"] = 1
        it.set_price(price)
        return it.fail_after(price + 1)

    def values(self) -> Tuple[float, float, float, float, float]:
        return (1.0, 100.0, 1e16, 1.5e-07, 0.1 + 0.2)

    def mixed(self) -> Dict[int, Set[int]]:
        return {1: {3, 1, 2}, 2: set()}

    def keys(self) -> Dict[Tuple[int, int], bytes]:
        return {(1, 2): b"\\x00\\xff", None: b""}

    def leak(self) -> None:
        self.extra["bad"] = object()

    def shout(self) -> str:
        print("to stderr")
        return "done"

    def opt(self, it: Optional[Item], f: float, b: bool, d: dict, l: list, by: bytes) -> str:
        return "ok"

    def defaults(self, a: int, b: int = 1) -> int:
        return a + b

    def _helper(self) -> int:
        return 1

    def make(self, name: str, fail: bool) -> Item:
        it = Item(name, 1)
        self.items.append(it)
        if fail:
            raise Broke("made " + name)
        return it

    def drop(self, it: Item, fail: bool) -> str:
        stateflow.delete(it)
        if fail:
            raise Broke("dropped")
        return it.name

    def _sf_get_number(self) -> int:
        return self.number
'''


class PlainTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "papp.py")
        with open(self.path, "w") as f:
            f.write(textwrap.dedent(APP))
        sys.modules.pop("papp", None)
        self.ex = plain.Executor(plain.App(self.path))

    def tearDown(self):
        self.dir.cleanup()

    def req(self, **kw):
        return json.loads(self.ex.reply(json.dumps(kw).encode()))

    def call(self, entity, key, method, *args):
        return self.req(id="x", op="call", entity=entity, key=key, method=method, args=list(args))

    def setup_objects(self):
        self.assertEqual(self.req(op="create", entity="Item", args=["pen", 3]),
                         {"ok": {"$ref": ["Item", "pen"]}})
        self.assertEqual(self.req(op="create", entity="Box", args=[7]),
                         {"ok": {"$ref": ["Box", 7]}})

    def test_create_call_get(self):
        self.setup_objects()
        self.assertEqual(self.call("Box", 7, "add", {"$ref": ["Item", "pen"]}), {"id": "x", "ok": 1})
        got = self.req(op="get", entity="Box", key=7)
        self.assertEqual(got["ok"]["items"], [{"$ref": ["Item", "pen"]}])
        self.assertEqual(got["ok"]["best"], {"$ref": ["Item", "pen"]})
        self.assertEqual(list(got["ok"]), ["number", "items", "best", "tags", "extra"])

    def test_rollback_keeps_identity(self):
        self.setup_objects()
        self.call("Box", 7, "add", {"$ref": ["Item", "pen"]})
        item = self.ex.instances[("Item", '"pen"')]
        box = self.ex.instances[("Box", "7")]
        r = self.call("Box", 7, "add_then_fail", {"$ref": ["Item", "pen"]}, 50)
        self.assertEqual(r["error"], {"type": "Broke", "message": "no pen"})
        self.assertEqual(item.price, 3)                 # remote effect undone
        self.assertEqual(len(box.items), 1)             # own effect undone
        self.assertEqual(box.extra, {})
        self.assertIs(box.items[0], item)               # still the live object
        self.assertIs(box.best, item)
        self.assertIs(self.ex.instances[("Item", '"pen"')], item)

    def test_create_rollback_and_duplicates(self):
        self.setup_objects()
        r = self.req(id=1, op="create", entity="Item", args=["pen", 9])
        self.assertEqual(r, {"id": 1, "error": {"type": "AlreadyExists",
                                                "message": 'Item "pen" already exists'}})
        self.assertEqual(self.ex.instances[("Item", '"pen"')].price, 3)

    def test_lifecycle(self):
        self.setup_objects()
        self.assertEqual(self.call("Box", 7, "make", "cup", False), {"id": "x", "ok": {"$ref": ["Item", "cup"]}})
        cup = self.ex.instances[("Item", '"cup"')]
        self.assertEqual(self.call("Box", 7, "make", "cup", False)["error"],
                         {"type": "AlreadyExists", "message": 'Item "cup" already exists'})
        self.assertEqual(self.call("Box", 7, "make", "mug", True)["error"]["type"], "Broke")
        self.assertNotIn(("Item", '"mug"'), self.ex.instances)          # aborted: not created
        self.assertEqual(len(self.ex.instances[("Box", "7")].items), 1)
        # a delete that aborts leaves the instance (and its class) alone
        self.assertEqual(self.call("Box", 7, "drop", {"$ref": ["Item", "cup"]}, True)["error"]["type"], "Broke")
        self.assertIs(self.ex.instances[("Item", '"cup"')], cup)
        self.assertIs(type(cup), self.ex.app.entities["Item"])
        # using it after the delete, in the same request, is NotFound
        self.assertEqual(self.call("Box", 7, "drop", {"$ref": ["Item", "cup"]}, False)["error"],
                         {"type": "NotFound", "message": 'Item "cup" not found'})
        self.assertEqual(self.req(op="delete", entity="Item", key="cup"), {"ok": None})
        self.assertNotIn(("Item", '"cup"'), self.ex.instances)
        self.assertEqual(self.req(op="get", entity="Item", key="cup")["error"]["type"], "NotFound")
        self.assertEqual(self.req(op="delete", entity="Item", key="cup")["error"]["type"], "NotFound")
        # the box still refers to the key: once created again, the reference reaches the new one
        self.assertEqual(self.req(op="create", entity="Item", args=["cup", 5]), {"ok": {"$ref": ["Item", "cup"]}})
        self.assertEqual(self.ex.instances[("Box", "7")].items[0].price, 5)
        self.assertEqual(self.req(op="delete", entity="Item", key="cup", args=[])["error"]["type"], "BadRequest")
        with self.assertRaises(TypeError):
            stateflow.delete(3)

    def test_float_and_container_encoding(self):
        self.setup_objects()
        line = self.ex.reply(b'{"op":"call","entity":"Box","key":7,"method":"values"}')
        self.assertEqual(line, '{"ok":[1.0,100.0,1e+16,1.5e-07,0.30000000000000004]}')
        line = self.ex.reply(b'{"op":"call","entity":"Box","key":7,"method":"mixed"}')
        self.assertEqual(line, '{"ok":{"1":[1,2,3],"2":[]}}')
        line = self.ex.reply(b'{"op":"call","entity":"Box","key":7,"method":"keys"}')
        self.assertEqual(line, '{"ok":{"[1,2]":{"$bytes":"AP8="},"null":{"$bytes":""}}}')

    def test_unencodable_state_rolls_back(self):
        self.setup_objects()
        r = self.call("Box", 7, "leak")
        self.assertEqual(r["error"]["type"], "TypeError")
        self.assertIn("cannot store a value of type 'object'", r["error"]["message"])
        self.assertEqual(self.ex.instances[("Box", "7")].extra, {})

    def test_print_goes_to_stderr(self):
        self.setup_objects()
        self.assertEqual(self.call("Box", 7, "shout"), {"id": "x", "ok": "done"})

    def test_type_checks(self):
        self.setup_objects()
        ok = [None, 1, True, {}, [], {"$bytes": ""}]
        self.assertEqual(self.call("Box", 7, "opt", *ok)["ok"], "ok")
        ok2 = [{"$ref": ["Item", "pen"]}, 1.5, False, {"a": 1}, [1], {"$bytes": "AA=="}]
        self.assertEqual(self.call("Box", 7, "opt", *ok2)["ok"], "ok")
        cases = [
            (0, {"$ref": ["Box", 7]}, "argument 'it' must be a reference to Item or None, "
                                      "got a reference to Box"),
            (1, True, "argument 'f' must be float, got bool"),
            (2, 1, "argument 'b' must be bool, got int"),
            (3, {"$ref": ["Item", "pen"]}, "argument 'd' must be dict, got a reference to Item"),
            (3, {"$bytes": ""}, "argument 'd' must be dict, got bytes"),
            (4, "x", "argument 'l' must be list, got str"),
            (5, [], "argument 'by' must be bytes, got list"),
        ]
        for i, v, msg in cases:
            args = list(ok)
            args[i] = v
            r = self.call("Box", 7, "opt", *args)
            self.assertEqual(r["error"], {"type": "TypeError", "message": "Box.opt() " + msg})
        r = self.call("Box", 7, "defaults")
        self.assertEqual(r["error"]["message"], "Box.defaults() expects 1 to 2 arguments, got 0")
        r = self.req(op="create", entity="Item", args=["a"])
        self.assertEqual(r["error"]["message"], "Item() expects 2 arguments, got 1")
        self.assertEqual(self.call("Box", 7, "defaults", 1)["ok"], 2)

    def test_not_found(self):
        self.setup_objects()
        self.assertEqual(self.call("Nope", 7, "add")["error"],
                         {"type": "NotFound", "message": "unknown entity 'Nope'"})
        for m in ("__key__", "__init__", "_sf_get_number", "nope", "__dict__"):
            self.assertEqual(self.call("Box", 7, m)["error"],
                             {"type": "NotFound", "message": "unknown method 'Box.%s'" % m})
        self.assertEqual(self.call("Box", 7, "_helper")["ok"], 1)
        self.assertEqual(self.call("Box", "7", "_helper")["error"]["message"], 'Box "7" not found')
        self.assertEqual(self.call("Box", 7, "add", {"$ref": ["Item", "x"]})["error"]["message"],
                         'Item "x" not found')
        # check order: types before key existence
        self.assertEqual(self.call("Box", 8, "add", 1)["error"]["type"], "TypeError")

    def test_bad_requests(self):
        cases = [b"nope", b"[]", b'{"id":1}', b'{"id":1,"op":"x"}',
                 b'{"op":"get","entity":"Box"}', b'{"op":"call","entity":"Box","key":7}',
                 b'{"op":"create","entity":"Box","args":7}', b'{"a":NaN}',
                 b'{"a":1e999}', b'{"a":18446744073709551616}', b'{"a":"\\ud800"}',
                 b'{"a":{"$bytes":"@@"}}', b'{"a":{"$ref":["X"]}}', b'\xff',
                 b'{"a":{"$ref":["X",1],"b":2}}', b"[" * 100 + b"]" * 100,
                 b'{"op":"get","entity":"Box","key":7,"extra":1}',
                 b'{"op":"get","entity":"Box","key":7,"key":7}',
                 b'{"op":"get","entity":"Box","key":7,"args":[]}',
                 b'{"op":"get","entity":"Box","key":7,"method":"m"}',
                 b'{"op":"create","entity":"Box","key":7,"args":[7]}',
                 b'{"op":"get","entity":"","key":7}',
                 b'{"op":"get","entity":"B\\u0000x","key":7}',
                 b'{"op":"call","entity":"Box","key":7,"method":""}']
        for c in cases:
            r = json.loads(self.ex.reply(c))
            self.assertEqual(r["error"]["type"], "BadRequest", c)
        # the id is echoed whenever the line is JSON with a usable id ...
        for line, want in [(b'{"id":"a","op":"x"}', "a"), (b'{"id":2.5,"a":1e999}', 2.5),
                           (b'{"id":3,"a":{"$bytes":"!"}}', 3),
                           (b'{"id":4,"id":5,"op":"get"}', 4),
                           (b'{"id":5,"a":18446744073709551616}', 5)]:
            self.assertEqual(json.loads(self.ex.reply(line))["id"], want, line)
        # ... and only then
        for line in (b'{"id":1,"a":NaN}', b'{"id":[1],"op":"get"}', b'{"id":true}',
                     b'{"id":null}', b'{"id":"' + b"x" * 300 + b'"}', b'{"id":1,'):
            r = json.loads(self.ex.reply(line))
            self.assertEqual(r["error"]["type"], "BadRequest", line)
            self.assertNotIn("id", r, line)

    def test_classify(self):
        app = self.ex.app
        from typing import Dict, List, Optional
        self.assertEqual(plain.classify(List[int], app).kind, "list")
        self.assertEqual(plain.classify(Dict[str, int], app).kind, "dict")
        self.assertEqual(plain.classify("List[Item]", app).kind, "list")
        self.assertEqual(plain.classify("Item", app).entity, "Item")
        c = plain.classify("Optional[Item]", app)
        self.assertEqual((c.kind, c.entity, c.optional), ("entity", "Item", True))
        c = plain.classify(Optional[int], app)
        self.assertEqual((c.kind, c.optional), ("int", True))
        self.assertEqual(plain.classify(int | None, app).optional, True)
        self.assertIsNone(plain.classify(tuple, app))
        self.assertIsNone(plain.classify("Unknown", app))


class PackageTest(unittest.TestCase):
    def test_decorator(self):
        @stateflow.entity
        class A:
            def __init__(self, k: int):
                self.k = k

            def __key__(self):
                return self.k

        @stateflow.stateflow
        class B:
            def __init__(self):
                self.k = 1

            def __key__(self):
                return self.k

        self.assertTrue(stateflow.is_entity(A) and stateflow.is_entity(B()))
        self.assertIn(A, stateflow.entities())
        self.assertEqual(stateflow.key_of(A(5)), 5)
        self.assertIs(stateflow.stateflow, stateflow.entity)
        with self.assertRaises(TypeError):
            @stateflow.entity
            class NoKey:
                def __init__(self):
                    pass
        with self.assertRaises(TypeError):
            stateflow.entity(lambda: 1)
        self.assertFalse(stateflow.is_entity(int))


class CommandLineTest(unittest.TestCase):
    def test_hash_seed_and_blank_lines(self):
        app = os.path.join(REPO, "examples", "shop", "app.py")
        data = (b'{"id":1,"op":"create","entity":"User","args":["a"]}\n\n  \n'
                b'{"id":2,"op":"get","entity":"User","key":"a"}')
        env = dict(os.environ)
        env.pop("PYTHONHASHSEED", None)
        p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "plain.py"), app],
                           input=data, stdout=subprocess.PIPE, env=env, check=True)
        self.assertEqual(p.stdout.decode().splitlines(), [
            '{"id":1,"ok":{"$ref":["User","a"]}}',
            '{"id":2,"ok":{"username":"a","balance":0}}'])


class FinalGetsTest(unittest.TestCase):
    def test_final_gets(self):
        app = os.path.join(REPO, "examples", "shop", "app.py")
        data = (b'{"op":"create","entity":"Item","args":["b",1]}\n'
                b'{"op":"create","entity":"User","args":["a"]}\n'
                b'{"op":"create","entity":"User","args":["a"]}\n')
        with tempfile.TemporaryDirectory() as d:
            gets = os.path.join(d, "gets.jsonl")
            p = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "plain.py"), app,
                                "--final-gets", gets],
                               input=data, stdout=subprocess.PIPE, check=True)
            with open(gets) as f:
                self.assertEqual(f.read().splitlines(), [
                    '{"id":"final-1","op":"get","entity":"Item","key":"b"}',
                    '{"id":"final-2","op":"get","entity":"User","key":"a"}'])
        self.assertEqual(p.stdout.decode().splitlines()[3:], [
            '{"id":"final-1","ok":{"item_id":"b","price":1,"stock":0}}',
            '{"id":"final-2","ok":{"username":"a","balance":0}}'])


if __name__ == "__main__":
    unittest.main()
