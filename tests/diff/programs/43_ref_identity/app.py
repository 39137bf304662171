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
        self.fav: Optional[Item] = None

    def __key__(self):
        return self.name

    def same(self, a: Item, b: Item) -> bool:
        return a is b

    def differ(self, a: Item, b: Item) -> bool:
        return a is not b

    def eq(self, a: Item, b: Item) -> bool:
        return a == b and not (a != b)

    def set_fav(self, a: Item) -> bool:
        was = self.fav is a
        self.fav = a
        return was

    def is_fav(self, a: Item) -> List[bool]:
        return [self.fav is a, a is self.fav, self.fav is None, self.fav is not None, a in [self.fav]]

    def after_call(self, a: Item, b: Item) -> bool:
        p = a.get_price()
        return (a is b) == (p == b.get_price())
