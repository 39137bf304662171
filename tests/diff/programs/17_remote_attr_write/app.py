from stateflow import entity


@entity
class Item:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price
        self.stock: int = 0

    def __key__(self):
        return self.name


@entity
class Manager:
    def __init__(self, name: str):
        self.name: str = name
        self.edits: int = 0

    def __key__(self):
        return self.name

    def set_price(self, it: Item, price: int) -> int:
        it.price = price
        self.edits += 1
        return it.price

    def add_stock(self, it: Item, n: int) -> int:
        it.stock += n
        return it.stock

    def scale(self, it: Item, pct: int) -> int:
        it.price = it.price * pct // 100
        return it.price

    def swap_prices(self, a: Item, b: Item) -> None:
        tmp = a.price
        a.price = b.price
        b.price = tmp

    def write_then_fail(self, it: Item, price: int) -> int:
        it.price = price
        self.edits += 1
        if price < 0:
            raise ValueError("negative price")
        return price

    def move_stock(self, a: Item, b: Item, n: int) -> int:
        a.stock -= n
        b.stock += n
        return a.stock + b.stock
