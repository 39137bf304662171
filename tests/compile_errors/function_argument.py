# expect: 34:24: a function cannot be passed to another entity (arguments travel as values): call it here and pass its result, or pass the data it needs
# expect: 37:24: a function cannot be passed to another entity
# expect: 40:24: a function cannot be passed to another entity
# expect: 40:24: method Boss.lam performs remote operations and cannot be used as a value
from typing import Any
from stateflow import entity


def double(x: int) -> int:
    return x * 2


@entity
class Worker:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def apply(self, f: Any) -> int:
        return 0


@entity
class Boss:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def lam(self, w: Worker) -> int:
        return w.apply(lambda x: x + 1)

    def mod(self, w: Worker) -> int:
        return w.apply(double)

    def meth(self, w: Worker) -> int:
        return w.apply(self.lam)
