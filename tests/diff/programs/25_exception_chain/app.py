from typing import List
from stateflow import entity


@entity
class Leaf:
    def __init__(self, name: str, limit: int):
        self.name: str = name
        self.limit: int = limit
        self.value: int = 0

    def __key__(self):
        return self.name

    def charge(self, n: int) -> int:
        self.value += n
        if self.value > self.limit:
            raise OverflowError("leaf " + self.name + " over limit")
        return self.value


@entity
class Middle:
    def __init__(self, name: str, leaf: Leaf):
        self.name: str = name
        self.leaf: Leaf = leaf
        self.calls: int = 0

    def __key__(self):
        return self.name

    def relay(self, n: int) -> int:
        self.calls += 1
        return self.leaf.charge(n) * 2


@entity
class Top:
    def __init__(self, name: str, middle: Middle):
        self.name: str = name
        self.middle: Middle = middle
        self.log: List[int] = []

    def __key__(self):
        return self.name

    def run(self, n: int) -> int:
        self.log.append(n)
        r = self.middle.relay(n)
        self.log.append(r)
        return r

    def run_twice(self, n: int) -> int:
        a = self.middle.relay(n)
        b = self.middle.relay(n)
        return a + b
