#!/usr/bin/python3
"""test_run_diff.py: tests of the differential harness itself, with stand-in
sfc and sfrun scripts (a "compiler" that records the app's path and a
"runtime" that runs plain.py on it, optionally corrupting one reply).

    /usr/bin/python3 tests/diff/test_run_diff.py
"""

import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_DIFF = os.path.join(HERE, "run_diff.py")
PLAIN = os.path.join(HERE, "plain.py")

FAKE_SFC = '''#!/usr/bin/python3
import sys
app, out = sys.argv[1], sys.argv[3]
src = open(app).read()
if "async def" in src:
    sys.stderr.write(app + ":12:5: error: async methods are not supported\\n")
    sys.exit(1)
open(out, "w").write(app)
'''

FAKE_SFRUN = '''#!/usr/bin/python3
import os, subprocess, sys
app = open(sys.argv[1]).read()
p = subprocess.run(["/usr/bin/python3", %r, app], stdout=subprocess.PIPE, check=True)
lines = p.stdout.decode().split("\\n")
bad = os.environ.get("FAKE_CORRUPT")
if bad:
    lines[int(bad)] = lines[int(bad)].replace('"ok":', '"ok":[0],"x":', 1)
if os.environ.get("FAKE_BADREQ_MSG"):
    lines = [l.replace("invalid JSON", "line 1, column 1: nope") for l in lines]
sys.stdout.write("\\n".join(lines))
''' % PLAIN

APP = '''
from stateflow import entity


@entity
class C:
    def __init__(self, name: str):
        self.name: str = name
        self.n: int = 0

    def __key__(self):
        return self.name

    def inc(self, by: int) -> int:
        self.n += by
        return self.n
'''

REQS = ('{"id":1,"op":"create","entity":"C","args":["a"]}\n'
        'garbage\n'
        '{"id":2,"op":"call","entity":"C","key":"a","method":"inc","args":[2]}\n')


class RunDiffTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sfdiff-test-")
        self.sfc = os.path.join(self.tmp, "sfc")
        self.sfrun = os.path.join(self.tmp, "sfrun")
        for path, text in ((self.sfc, FAKE_SFC), (self.sfrun, FAKE_SFRUN)):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o755)
        self.good = self.program("good", APP, REQS)
        self.bad = self.program("bad", APP.replace("def inc", "async def inc"), None,
                                "error:\nasync|coroutine\n")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def program(self, name, app, reqs, expect=None):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        with open(os.path.join(d, "app.py"), "w") as f:
            f.write(textwrap.dedent(app))
        if reqs is not None:
            with open(os.path.join(d, "requests.jsonl"), "w") as f:
                f.write(reqs)
        if expect is not None:
            with open(os.path.join(d, "expect_compile_error"), "w") as f:
                f.write(expect)
        return d

    def run_diff(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.run(["/usr/bin/python3", RUN_DIFF, "--sfc", self.sfc,
                            "--sfrun", self.sfrun] + list(args),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e)
        out = p.stdout.decode()
        return p.returncode, out, out.rstrip("\n").split("\n")[-1]

    def test_pass(self):
        rc, out, last = self.run_diff(self.good, self.bad)
        self.assertEqual((rc, last), (0, "2 passed, 0 failed"), out)

    def test_mismatch_in_final_get(self):
        # reply index 3 is the appended `get` of C "a"
        rc, out, last = self.run_diff(self.good, env={"FAKE_CORRUPT": "3"})
        self.assertEqual((rc, last), (1, "0 passed, 1 failed"), out)
        self.assertIn("first mismatch at reply 4 of 4", out)
        self.assertIn('"final-1"', out)
        self.assertIn('-{"id":"final-1","ok":{"name":"a","n":2}}', out)
        self.assertIn('+{"id":"final-1","ok":[0],"x":{"name":"a","n":2}}', out)

    def test_badrequest_messages_are_free(self):
        rc, out, last = self.run_diff(self.good, env={"FAKE_BADREQ_MSG": "1"})
        self.assertEqual((rc, last), (0, "1 passed, 0 failed"), out)

    def test_compile_error_expectations(self):
        accepted = self.program("accepted", APP, REQS, "error:\n")
        wrong = self.program("wrong", APP.replace("def inc", "async def inc"), None,
                             "recursion\n")
        rc, out, last = self.run_diff(accepted, wrong)
        self.assertEqual((rc, last), (1, "0 passed, 2 failed"), out)
        self.assertIn("sfc accepted a program that must be rejected", out)
        self.assertIn("lacks 'recursion'", out)

    def test_plain_only(self):
        rc, out, last = self.run_diff("--plain-only", self.good, self.bad)
        self.assertEqual((rc, last), (0, "1 passed, 0 failed"), out)
        self.assertIn("1 skipped", out)


if __name__ == "__main__":
    unittest.main()
