from typing import List
from stateflow import entity


@entity
class Source:
    def __init__(self, name: str, items: List[int]):
        self.name: str = name
        self.items: List[int] = items
        self.pos: int = 0

    def __key__(self):
        return self.name

    def has_more(self) -> bool:
        return self.pos < len(self.items)

    def next(self) -> int:
        v = self.items[self.pos]
        self.pos += 1
        return v

    def remaining(self) -> int:
        return len(self.items) - self.pos

    def rewind(self) -> None:
        self.pos = 0


@entity
class Sink:
    def __init__(self, name: str):
        self.name: str = name
        self.total: int = 0
        self.count: int = 0

    def __key__(self):
        return self.name

    def drain(self, src: Source) -> int:
        while src.has_more():
            self.total += src.next()
            self.count += 1
        return self.total

    def drain_until(self, src: Source, limit: int) -> int:
        taken = 0
        while src.has_more() and taken < limit:
            v = src.next()
            if v < 0:
                continue
            taken += v
        return taken

    def countdown(self, src: Source) -> int:
        n = 0
        while src.remaining() > 0:
            src.next()
            n += 1
            if n >= 3:
                break
        return n

    def until_zero(self, src: Source) -> int:
        while True:
            if not src.has_more():
                return -1
            v = src.next()
            if v == 0:
                return self.count
            self.count += v
