from typing import List
from stateflow import entity


@entity
class Gate:
    def __init__(self, name: str, is_open: bool):
        self.name: str = name
        self.is_open: bool = is_open
        self.calls: List[str] = []

    def __key__(self):
        return self.name

    def check(self, tag: str) -> bool:
        self.calls.append(tag)
        return self.is_open

    def set_open(self, v: bool) -> None:
        self.is_open = v


@entity
class Guard:
    def __init__(self, name: str):
        self.name: str = name
        self.passed: int = 0
        self.log: List[str] = []

    def __key__(self):
        return self.name

    def both(self, a: Gate, b: Gate) -> bool:
        if a.check("both-a") and b.check("both-b"):
            self.passed += 1
            return True
        return False

    def either(self, a: Gate, b: Gate) -> bool:
        if a.check("either-a") or b.check("either-b"):
            self.passed += 1
            return True
        return False

    def neither(self, a: Gate, b: Gate) -> bool:
        if not a.check("n-a") and not b.check("n-b"):
            return True
        return False

    def mixed(self, a: Gate, b: Gate, c: Gate) -> str:
        if (a.check("m-a") or b.check("m-b")) and not c.check("m-c"):
            return "yes"
        elif a.check("m-a2") and (b.check("m-b2") or c.check("m-c2")):
            return "maybe"
        else:
            return "no"

    def as_value(self, a: Gate, b: Gate) -> bool:
        ok = a.check("v-a") and b.check("v-b")
        self.log.append(str(ok))
        return ok

    def local_first(self, n: int, a: Gate) -> bool:
        return (n > 5 and a.check("lf")) or n == 0
