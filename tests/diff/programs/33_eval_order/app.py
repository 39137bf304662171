from typing import Dict, List
from stateflow import entity


@entity
class Ticker:
    def __init__(self, name: str):
        self.name: str = name
        self.n: int = 0
        self.log: List[str] = []

    def __key__(self):
        return self.name

    def tick(self, tag: str) -> int:
        self.n += 1
        self.log.append(tag + str(self.n))
        return self.n

    def clear(self) -> None:
        self.log = []


@entity
class Orderer:
    def __init__(self, name: str):
        self.name: str = name
        self.seen: List[int] = []

    def __key__(self):
        return self.name

    def pack(self, x: int, y: int, z: int) -> List[int]:
        return [x, y, z]

    def args_order(self, a: Ticker, b: Ticker) -> List[int]:
        return self.pack(a.tick("x"), b.tick("y"), a.tick("z"))

    def binop(self, a: Ticker, b: Ticker) -> int:
        return a.tick("l") - b.tick("r") * a.tick("m")

    def chain(self, a: Ticker, b: Ticker, c: Ticker) -> bool:
        return a.tick("c1") < b.tick("c2") < c.tick("c3")

    def literal(self, a: Ticker, b: Ticker) -> Dict[str, int]:
        return {"k1": a.tick("d1"), "k2": b.tick("d2")}

    def subscript(self, a: Ticker, b: Ticker) -> int:
        xs = [10, 20, 30, 40, 50]
        return xs[a.tick("s") % 5] + b.tick("t")

    def fstring(self, a: Ticker, b: Ticker) -> str:
        return f"{a.tick('f1')}-{b.tick('f2')}"

    def append_each(self, a: Ticker) -> List[int]:
        self.seen.append(a.tick("e1"))
        self.seen.append(a.tick("e2") + a.tick("e3"))
        return self.seen
