from typing import Dict
from stateflow import entity


class ShopError(Exception):
    pass


class OutOfStock(ShopError):
    def __init__(self, item: str, wanted: int):
        super().__init__("out of stock: %s (wanted %d)" % (item, wanted))
        self.item = item


class Closed(ShopError):
    pass


@entity
class Item:
    def __init__(self, name: str, stock: int):
        self.name: str = name
        self.stock: int = stock

    def __key__(self):
        return self.name

    def take(self, n: int) -> int:
        if n > self.stock:
            raise OutOfStock(self.name, n)
        self.stock -= n
        return self.stock


@entity
class Till:
    def __init__(self, name: str):
        self.name: str = name
        self.is_open: bool = False
        self.sales: Dict[str, int] = {}

    def __key__(self):
        return self.name

    def set_open(self, v: bool) -> None:
        self.is_open = v

    def sell(self, it: Item, n: int) -> int:
        if not self.is_open:
            raise Closed("till " + self.name + " is closed")
        self.sales[it.name] = self.sales.get(it.name, 0) + n
        return it.take(n)

    def refuse(self) -> None:
        raise ShopError()
