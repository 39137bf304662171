from typing import List
from stateflow import entity


@entity
class Parent:
    def __init__(self, name: str):
        self.name: str = name
        self.counter: int = 0
        self.log: List[str] = []

    def __key__(self):
        return self.name

    def bump(self, n: int) -> int:
        self.counter += n
        self.log.append("bump" + str(n))
        return self.counter

    def start(self, c: "Child", n: int) -> List[int]:
        before = self.counter
        self.log.append("start")
        got = c.callback(n)
        after = self.counter
        return [before, got, after]

    def twice(self, c: "Child") -> int:
        c.callback(1)
        self.counter *= 10
        c.callback(2)
        return self.counter

    def via_chain(self, c: "Child", g: "Grandchild") -> int:
        self.counter = 0
        r = c.relay(g)
        return self.counter * 100 + r


@entity
class Child:
    def __init__(self, name: str, parent: Parent):
        self.name: str = name
        self.parent: Parent = parent
        self.seen: int = 0

    def __key__(self):
        return self.name

    def callback(self, n: int) -> int:
        self.seen = self.parent.bump(n)
        return self.seen

    def relay(self, g: "Grandchild") -> int:
        return g.poke(self.parent) + 1


@entity
class Grandchild:
    def __init__(self, name: str):
        self.name: str = name
        self.pokes: int = 0

    def __key__(self):
        return self.name

    def poke(self, p: Parent) -> int:
        self.pokes += 1
        return p.bump(7)
