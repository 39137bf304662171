from typing import List
from stateflow import entity


@entity
class Probe:
    def __init__(self, name: str, flag: bool):
        self.name: str = name
        self.flag: bool = flag
        self.calls: List[str] = []

    def __key__(self):
        return self.name

    def ok(self, tag: str) -> bool:
        self.calls.append(tag)
        return self.flag

    def value(self, tag: str, v: int) -> int:
        self.calls.append(tag)
        return v

    def set_flag(self, flag: bool) -> None:
        self.flag = flag


@entity
class Chooser:
    def __init__(self, name: str):
        self.name: str = name
        self.picked: List[int] = []

    def __key__(self):
        return self.name

    def pick(self, a: int, b: int, p: Probe) -> int:
        r = a if p.ok("cond") else b
        self.picked.append(r)
        return r

    def pick_remote(self, p: Probe, q: Probe) -> int:
        return p.value("then", 1) if q.ok("cond2") else p.value("else", 2)

    def nested(self, p: Probe, q: Probe) -> str:
        return ("pp" if p.ok("n1") else "pq") if q.ok("n2") else ("qp" if p.ok("n3") else "qq")

    def in_arith(self, p: Probe) -> int:
        return 10 + (p.value("x", 5) if p.ok("c") else 0) * 2
