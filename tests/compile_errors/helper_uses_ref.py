# expect: 23:16: remote call in function 'total' (given a reference at line 47) is not supported: only methods of entities can use references: make it a method of the entity, or pass it the values it needs instead of the reference
# expect: 27:12: remote attribute read in function 'name_of' (given a reference at line 53) is not supported
# expect: 31:12: remote attribute read in function 'inner' (given a reference at line 35) is not supported
# expect: 57:16: cannot tell whether 'it' is a reference (its type is Any or unknown) and entity 'Item' has a method 'get_price': annotate it with its entity type
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


def total(items):
    return sum(i.get_price() for i in items)


def name_of(i):
    return i.name


def inner(x):
    return x.price


def outer(y, factor):
    return inner(y) * factor


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def tot(self, items: List[Item]) -> int:
        return total(items)

    def twice(self, it: Item) -> int:
        return outer(it, 2)

    def nm(self, it: Item) -> str:
        return name_of(i=it)

    def head(self, items: List[Item]) -> int:
        it = first(items)
        return it.get_price()


def first(xs):
    return xs[0]
