from typing import List
from stateflow import entity


@entity
class Stock:
    MAX_PER_ORDER = 5

    def __init__(self, sid: str, qty: int):
        self.sid: str = sid
        self.qty: int = qty

    def __key__(self):
        return self.sid

    def take(self, n: int, note: str = "", strict: bool = False) -> int:
        if strict and n > self.qty:
            raise ValueError("not enough " + note)
        n = min(n, self.qty)
        self.qty -= n
        return n


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def skip_default(self, s: Stock, n: int) -> int:
        return s.take(n, strict=True)

    def const(self, s: Stock) -> int:
        return s.MAX_PER_ORDER

    def me(self, s: Stock) -> int:
        return s.take(1, note=self.name)

    def limit(self, s: Stock, n: int) -> int:
        if n > s.MAX_PER_ORDER:
            return s.take(s.MAX_PER_ORDER, strict=False) + Stock.MAX_PER_ORDER
        return s.take(n, strict=True)
