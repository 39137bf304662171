from typing import List
from stateflow import entity


@entity
class Cell:
    def __init__(self, name: str, value: int):
        self.name: str = name
        self.value: int = value

    def __key__(self):
        return self.name

    def inc(self, by: int) -> int:
        self.value += by
        return self.value


@entity
class Looper:
    def __init__(self, name: str):
        self.name: str = name
        self.log: List[int] = []

    def __key__(self):
        return self.name

    def repeat(self, c: Cell, n: int) -> int:
        v = 0
        for i in range(n):
            v = c.inc(i)
        return v

    def stepped(self, c: Cell, start: int, stop: int, step: int) -> List[int]:
        out = []
        for i in range(start, stop, step):
            out.append(c.inc(1) * i)
        return out

    def range_remote(self, c: Cell, d: Cell) -> int:
        total = 0
        for i in range(c.inc(0), d.inc(0)):
            total += i
            self.log.append(i)
        return total

    def loop_var_after(self, c: Cell, n: int) -> int:
        i = -1
        for i in range(n):
            c.inc(1)
        return i
