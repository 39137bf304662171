# expect: 33:36: method Shop.price_of performs remote operations and cannot be used as a value (a function to call later): call it directly, e.g. in a for loop
# expect: 38:13: method Shop.price_of performs remote operations and cannot be used as a value (a function to call later): call it directly, e.g. in a for loop
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

    def price_of(self, it: Item) -> int:
        return it.get_price()

    def sort_them(self, items: List[Item]) -> List[str]:
        out = []
        for i in sorted(items, key=self.price_of):
            out.append(i.name)
        return out

    def via_var(self, it: Item) -> int:
        f = self.price_of
        return f(it)
