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

    def discount(self, pct: int) -> int:
        return self.price * (100 - pct) // 100


@entity
class Cart:
    def __init__(self, owner: str):
        self.owner: str = owner
        self.total: int = 0
        self.last: int = 0

    def __key__(self):
        return self.owner

    def add(self, amount: int, item: Item) -> int:
        self.last = amount * item.get_price()
        self.total += self.last
        return self.total

    def combo(self, a: Item, b: Item) -> int:
        value = a.get_price() + b.get_price() * 2 - (a.discount(10) - b.discount(50)) // 3
        self.last = value
        return value

    def neg_mod(self, a: Item, b: Item) -> int:
        return -a.get_price() % (b.get_price() + 1) + abs(a.discount(25) - b.get_price()) ** 2

    def compare(self, a: Item, b: Item) -> bool:
        return a.get_price() * 3 > b.get_price() + 10

    def mixed(self, a: Item) -> int:
        return (self.total + a.get_price()) * (a.discount(50) + 1) - self.last
