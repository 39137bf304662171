from typing import List, Optional
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

    def __key__(self):
        return self.name

    def cheapest(self, items: List[Item]) -> Optional[Item]:
        best = None
        best_price = 0
        for it in items:
            p = it.get_price()
            if best is None or p < best_price:
                best = it
                best_price = p
        return best

    def rebind_param(self, it: Item, other: Item) -> int:
        total = it.get_price()
        it = other
        total += it.get_price()
        return total

    def reuse(self, a: List[Item], b: List[Item]) -> int:
        t = 0
        for x in a:
            t += x.get_price()
        for x in b:
            t += x.price * 10
        return t

    def maybe(self, items: List[Item]) -> str:
        found: Optional[Item] = None
        for it in items:
            if it.get_price() > 2:
                found = it
        if found is None:
            return "none"
        return found.name
