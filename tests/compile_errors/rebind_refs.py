# expect: 33:9: 'it' is declared as Item (a parameter or an annotated variable) and cannot be assigned a value of type int: use another variable for it
# expect: 40:13: 'x' holds a reference to Item (line 38) and a value of type int here: a variable holding a reference must hold references to one entity (or None) only; use another name for one of them
# expect: 47:9: 'y' holds a value of type int (line 45) and a reference to Item here
# expect: 52:9: 'who' is declared as Item (a parameter or an annotated variable) and cannot be assigned a reference to Shop
# expect: 57:9: 'best' holds a value of unknown type and a reference to Item (lines 56 and 57): annotate it with its type where it is first assigned (e.g. `best: Item = ...`)
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

    def __key__(self):
        return self.name

    def rebound(self, it: Item) -> int:
        p = it.get_price()
        it = 5
        return p + it

    def loopvar(self, items: List[Item]) -> int:
        t = 0
        for x in items:
            t += x.get_price()
        for x in [1, 2]:
            t += x
        return t

    def swap(self, it: Item) -> int:
        y = 1
        y += 1
        y = it
        return 0

    def other(self, it: Item, s: "Shop") -> str:
        who: Item = it
        who = s
        return who.name

    def unknown_then_ref(self, items: List[Item], it: Item) -> int:
        best = first(items)
        best = it
        return best.get_price()


def first(xs):
    return xs[0]
