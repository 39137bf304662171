# expect: 27:26: remote call in __init__ is not supported: pass the value to __init__ as a parameter
# expect: 33:23: remote call inside a lambda is not supported: compute the values in a for loop first (e.g. `prices[i] = i.price` for eac
# expect: 34:22: remote call inside a lambda is not supported: compute the values in a for loop first (e.g. `prices[i] = i.price` for eac
# expect: 36:21: remote attribute read inside a nested function is not supported: perform it in the method itself
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
    def __init__(self, cart_id: str, items: List[Item]):
        self.cart_id = cart_id
        self.items: List[Item] = items
        self.total = sum(i.get_price() for i in items)

    def __key__(self):
        return self.cart_id

    def prices(self) -> int:
        h = [(lambda: i.get_price())() for i in self.items]
        f = lambda: [i.get_price() for i in self.items]
        def g():
            return {i.price for i in self.items}
        return 0
