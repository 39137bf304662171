# expect: 33:16: a remote call cannot skip a parameter whose default value is not a constant or a name and pass a later one by keyword: pass the skipped value explicitly
# expect: 36:16: a remote call with ** cannot pass parameter 'cap' of Stock.take, whose default value is not a constant or a name: pass the arguments by name without **
from typing import Dict, List
from stateflow import entity

LIMIT = 4


@entity
class Stock:
    MAX_PER_ORDER = 5

    def __init__(self, sid: str, qty: int):
        self.sid: str = sid
        self.qty: int = qty

    def __key__(self):
        return self.sid

    def take(self, n: int, cap: int = len("abcd"), strict: bool = False) -> int:
        return min(n, cap)


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def skip(self, s: Stock) -> int:
        return s.take(1, strict=True)

    def dstar(self, s: Stock, kw: Dict[str, int]) -> int:
        return s.take(1, **kw)
