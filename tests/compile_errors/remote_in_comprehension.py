# expect: 30:14: remote call inside a list comprehension is not supported: use a for loop
# expect: 31:17: remote attribute read inside a generator expression is not supported: use a for loop
# expect: 32:17: remote call inside a dict comprehension is not supported: use a for loop
# expect: 33:37: remote call inside a set comprehension is not supported: use a for loop
from typing import List
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price = 0

    def __key__(self):
        return self.item_id

    def get_price(self) -> int:
        return self.price

@entity
class Cart:
    def __init__(self, cart_id: str):
        self.cart_id = cart_id
        self.items: List[Item] = []

    def __key__(self):
        return self.cart_id

    def prices(self) -> int:
        a = [i.get_price() for i in self.items]
        b = sum(i.price for i in self.items)
        c = {i: i.get_price() for i in self.items}
        d = {p for p in [1] if p == self.items[0].get_price()}
        return 0
