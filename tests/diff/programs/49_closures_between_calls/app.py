from typing import List
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        return self.price


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name
        self.rate: int = 2

    def __key__(self):
        return self.name

    def after(self, it: Item, ns: List[int]) -> List[int]:
        p = it.get_price()
        scale = lambda n: n * p + self.rate
        out = sorted(ns, key=lambda n: -scale(n))
        return [scale(n) for n in out]

    def before(self, it: Item, ns: List[int]) -> int:
        base = 10

        def bump(n: int) -> int:
            return n + base
        total = sum(bump(n) for n in ns)
        base = 100
        total += bump(0)
        return total + it.get_price()

    def between(self, a: Item, b: Item) -> int:
        x = a.get_price()
        f = lambda: x * 3
        y = f()
        x = 7
        y += f()
        return y + b.get_price()
