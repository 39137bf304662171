from typing import List
from stateflow import entity


@entity
class Tally:
    def __init__(self, name: str):
        self.name: str = name
        self.total: int = 0
        self.adds: int = 0

    def __key__(self):
        return self.name

    def add(self, v: int) -> int:
        self.total += v
        self.adds += 1
        return self.total

    def get(self) -> int:
        return self.total


@entity
class Matrix:
    def __init__(self, name: str, rows: List[List[int]]):
        self.name: str = name
        self.rows: List[List[int]] = rows

    def __key__(self):
        return self.name

    def sum_into(self, t: Tally) -> int:
        for row in self.rows:
            for v in row:
                t.add(v)
        return t.get()

    def pairs(self, tallies: List[Tally]) -> int:
        n = 0
        for a in tallies:
            for b in tallies:
                if a.get() < b.get():
                    n += 1
        return n

    def triangle(self, t: Tally, k: int) -> int:
        i = 0
        while i < k:
            for j in range(i):
                t.add(j)
            i += 1
        return t.get()

    def row_sums(self, t: Tally) -> List[int]:
        out = []
        for row in self.rows:
            s = 0
            for v in row:
                s = t.add(v) - s
            out.append(s)
        return out
