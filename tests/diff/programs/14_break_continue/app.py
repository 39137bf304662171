from typing import List
from stateflow import entity


@entity
class Bin:
    def __init__(self, name: str):
        self.name: str = name
        self.items: List[int] = []

    def __key__(self):
        return self.name

    def add(self, v: int) -> int:
        self.items.append(v)
        return sum(self.items)

    def size(self) -> int:
        return len(self.items)

    def total(self) -> int:
        return sum(self.items)


@entity
class Packer:
    def __init__(self, name: str):
        self.name: str = name
        self.packed: List[int] = []

    def __key__(self):
        return self.name

    def pack(self, b: Bin, items: List[int], cap: int) -> int:
        used = 0
        for it in items:
            if it <= 0:
                continue
            if used + it > cap:
                break
            used = b.add(it)
            self.packed.append(it)
        return used

    def first_heavy(self, bins: List[Bin], limit: int) -> str:
        found = ""
        for b in bins:
            if b.size() == 0:
                continue
            if b.total() > limit:
                found = b.name
                break
        return found

    def odd_adds(self, b: Bin, n: int) -> int:
        i = 0
        s = 0
        while i < n:
            i += 1
            if i % 2 == 0:
                continue
            s = b.add(i)
            if s > 20:
                break
        return s
