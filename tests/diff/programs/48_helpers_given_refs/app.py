from typing import Dict, List, Optional
from stateflow import entity


def first(xs):
    return xs[0] if xs else None


def pair_up(a, b):
    return [a, b]


def index_by_name(items, names):
    out = {}
    for it, n in zip(items, names):
        out[n] = it
    return out


def bump(n, by=1):
    return n + by


def same(a, b):
    return a is b


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
        self.pinned: List[Item] = []

    def __key__(self):
        return self.name

    def head_price(self, items: List[Item]) -> int:
        it: Optional[Item] = first(items)
        if it is None:
            return -1
        return bump(it.get_price(), by=10)

    def both(self, a: Item, b: Item) -> List[bool]:
        return [same(a, b), same(a, a)]

    def pin(self, a: Item, b: Item) -> int:
        self.pinned = pair_up(a, b)
        return len(self.pinned)

    def lookup(self, items: List[Item], names: List[str], want: str) -> int:
        table: Dict[str, Item] = index_by_name(items, names)
        return table[want].get_price()
