# expect: 35:16: cannot tell whether 'x' is a reference (its type is Any or unknown) and entity 'Item' has a method 'get_price': annotate it with its entity type (e.g. `x: Item`, or `List[Item]` for the list it comes from)
# expect: 40:18: cannot tell whether 'x' is a reference (its type is Any or unknown) and entity 'Item' has an attribute 'price'
# expect: 44:9: cannot tell whether 'x' is a reference (its type is Any or unknown) and entity 'Item' has an attribute 'price'
# expect: 45:9: cannot tell whether 'x' is a reference (its type is Any or unknown) and entity 'Item' has an attribute 'price'
# expect: 48:23: cannot tell whether 'i' is a reference (its type is Any or unknown) and entity 'Item' has an attribute 'price'
# expect: 53:20: cannot tell whether 'y' is a reference (its type is Any or unknown) and entity 'Item' has a method 'get_price'
# expect: 58:20: cannot tell whether 'i' is a reference (its type is Any or unknown) and entity 'Item' has an attribute 'price'
from typing import Any, List, Optional
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
        self.seen = []

    def __key__(self):
        return self.name

    def anyref(self, x: Any) -> int:
        return x.get_price()

    def untyped(self, xs: list) -> int:
        t = 0
        for x in xs:
            t += x.price
        return t

    def write(self, x: Optional[Any]) -> None:
        x.price = 3
        x.price += 1

    def key_fn(self, items: List[Item]) -> List[Item]:
        f = lambda i: i.price
        return sorted(items, key=f)

    def from_attr(self) -> int:
        for y in self.seen:
            return y.get_price()
        return 0

    def nested(self, items: List[Item]) -> int:
        def price(i):
            return i.price
        return len(items)
