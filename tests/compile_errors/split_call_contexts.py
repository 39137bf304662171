# expect: 21:22: call of Cart.fetch, which performs remote operations, in __init__ is not supported: pass the value to __init__ as a parameter
# (a list comprehension calling a split method of self, Cart.all, is supported: tests/diff/programs/74_comprehension_remote (self_split))
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id

    def price(self) -> int:
        return 1

@entity
class Cart:
    def __init__(self, cart_id: str, item: Item):
        self.cart_id = cart_id
        self.item = item
        self.total = self.fetch()

    def __key__(self):
        return self.cart_id

    def fetch(self) -> int:
        return self.item.price()

    def all(self) -> int:
        return sum([self.fetch() for _ in range(3)])
