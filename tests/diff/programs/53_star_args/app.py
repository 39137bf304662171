from typing import List
from stateflow import entity


@entity
class Stock:
    def __init__(self, sid: str, qty: int):
        self.sid: str = sid
        self.qty: int = qty

    def __key__(self):
        return self.sid

    def take(self, n: int, extra: int = 0) -> int:
        self.qty -= n + extra
        return self.qty

    def sizes(self) -> List[int]:
        return [1, 2]


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def star(self, s: Stock, args: List[int]) -> int:
        return s.take(*args)

    def star2(self, s: Stock, t: Stock) -> int:
        return s.take(*t.sizes()) + t.take(1, *[2])

    def star_local(self, s: Stock) -> int:
        xs = [1]
        r = s.take(*xs)
        xs.append(5)
        return r + s.take(*xs)
