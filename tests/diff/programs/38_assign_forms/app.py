from typing import Dict, List, Tuple
from stateflow import entity


@entity
class Span:
    def __init__(self, name: str, lo: int, hi: int):
        self.name: str = name
        self.lo: int = lo
        self.hi: int = hi

    def __key__(self):
        return self.name

    def bounds(self) -> Tuple[int, int]:
        return (self.lo, self.hi)

    def width(self) -> int:
        return self.hi - self.lo


@entity
class Acc:
    def __init__(self, name: str):
        self.name: str = name
        self.total: int = 0
        self.items: List[int] = [0, 0, 0]
        self.table: Dict[str, int] = {}

    def __key__(self):
        return self.name

    def add_width(self, s: Span) -> int:
        self.total += s.width()
        return self.total

    def minus(self, s: Span) -> int:
        self.total -= s.width() * 2
        return self.total

    def unpack(self, s: Span) -> int:
        lo, hi = s.bounds()
        return hi * 100 + lo

    def index_assign(self, s: Span) -> List[int]:
        self.items[s.width() % 3] = s.lo
        self.items[0] += s.hi
        return self.items

    def store_at(self, s: Span, key: str) -> Dict[str, int]:
        self.table[key] = s.width()
        return self.table

    def multi(self, a: Span, b: Span) -> int:
        x = y = a.width()
        x += b.width()
        return x * 10 + y
