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
        self.items: List[Item] = []
        self.extra = []

    def __key__(self):
        return self.name

    def add(self, it: Item) -> int:
        self.items.append(it)
        self.extra = self.items + []
        return len(self.items)

    def total(self, use: bool) -> int:
        xs = []
        if use:
            xs = self.items
        t = 0
        for x in xs:
            t += x.get_price()
        return t
