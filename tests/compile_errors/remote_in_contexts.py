# expect: 32:22: remote call in __init__ is not supported: pass the value to __init__ as a parameter
# expect: 38:21: remote call inside a lambda is not supported: compute the values in a for loop first (e.g. `prices[i] = i.price` for each i, then `key=lambda i: prices[i]`)
# expect: 40:17: remote call inside a try statement is not supported: move it out of the try statement
# expect: 41:17: remote attribute read inside a try statement is not supported: move it out of the try statement
# expect: 42:13: remote attribute write inside a try statement is not supported: move it out of the try statement
# expect: 46:13: remote call inside a with statement is not supported: move it before or after the with statement
# expect: 47:25: remote call in a del statement is not supported: compute the value into a local variable first
# expect: 48:19: remote attribute read in an f-string format specification is not supported: compute it into a local variable first
# expect: 49:21: remote call in a default argument value is not supported: use None as the default and compute the value in the body
# expect: 50:20: remote call inside a nested function is not supported: perform it in the method itself
from typing import Dict
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price = 0
        self.width = 5

    def __key__(self):
        return self.item_id

    def get_price(self) -> int:
        return self.price

@entity
class Shop:
    def __init__(self, shop_id: str, first: Item):
        self.shop_id = shop_id
        self.prices: Dict[int, int] = {}
        self.start = first.get_price()

    def __key__(self):
        return self.shop_id

    def work(self, item: Item) -> str:
        f = lambda: item.get_price()
        try:
            p = item.get_price()
            q = item.price
            item.price = 3
        except ValueError:
            pass
        with open("x") as fh:
            item.get_price()
        del self.prices[item.get_price()]
        s = f"{1:{item.width}}"
        def inner(x=item.get_price()):
            return item.get_price()
        return s
