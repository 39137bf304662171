from typing import Dict, List
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
        self.stock: Dict[str, int] = {"a": 1, "b": 2}

    def __key__(self):
        return self.name

    def loop_view(self, it: Item) -> int:
        total = 0
        items = self.stock.items()
        for k, v in items:
            total += v * it.get_price()
        return total

    def listed(self, it: Item) -> List[str]:
        ks = list(self.stock.keys())
        p = it.get_price()
        return [k + str(p) for k in ks]

    def after(self, it: Item, xs: List[int]) -> int:
        p = it.get_price()
        g = (x * p for x in xs)
        return sum(g)

    def ranged(self, it: Item, n: int) -> int:
        r = range(n)
        t = 0
        for i in r:
            t += i * it.get_price()
        return t
