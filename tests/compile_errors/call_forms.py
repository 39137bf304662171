# expect: 32:16: read the class constant 'MAX_PER_ORDER' from the class: `Stock.MAX_PER_ORDER`
from typing import List
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

    def first_max(self, stocks: List[Stock]) -> int:
        return stocks[0].MAX_PER_ORDER
