# expect: 43:18: a generator expression with remote operations is supported only as the argument of sum(), min(), max(), any(), all(), sorted(), list(), tuple(), set()
# expect: 44:21: a generator expression with remote operations is supported only as the argument of sum(), min(), max(), any(), all(), sorted(), list(), tuple(), set()
# expect: 45:27: a generator expression with remote operations is supported only as the argument of sum(), min(), max(), any(), all(), sorted(), list(), tuple(), set()
# expect: 46:18: a generator expression with remote operations is supported only as the argument of sum(), min(), max(), any(), all(), sorted(), list(), tuple(), set()
# expect: 48:13: max() of a generator expression with remote operations takes no other positional argument: use key= and default=, or a list comprehension
# expect: 49:48: min() of a generator expression with remote operations does not take the keyword argument 'start' here: compute a list comprehension first
# expect: 50:48: a remote operation in the default argument of max() over a generator expression with remote operations is not supported: compute it into a variable be
# expect: 51:55: the key= of sorted() over a generator expression with remote operations must be a name, an attribute or a lambda without default values: compute the e
# expect: 56:16: 'sum' here is not the builtin (this module or method assigns the name): a generator expression with remote operations cannot be given to it; write a l
# expect: 59:16: a lambda collected by a comprehension with remote operations is not supported (it would not see the loop variables as Python's closure does): collect 
# expect: 60:22: a lambda collected by a comprehension with remote operations is not supported (it would not see the loop variables as Python's closure does): collect 
from typing import List
from stateflow import entity


def total(xs) -> int:
    return 0


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
        a = total(i.get_price() for i in self.items)
        g = list(zip(i.get_price() for i in self.items))
        b = list(enumerate(i.price for i in self.items))
        for p in (i.get_price() for i in self.items):
            pass
        c = max((i.price for i in self.items), 0)
        d = min((i.price for i in self.items), start=0)
        e = max((i.price for i in self.items), default=self.items[0].price)
        f = sorted((i.price for i in self.items), key=abs.__call__())
        return 0

    def shadowed(self) -> int:
        sum = len
        return sum(i.get_price() for i in self.items)

    def functions(self) -> int:
        fs = [(lambda: n) for n in range(3) if self.items[n].get_price()]
        gs = {n: (n, lambda: n) for n in range(3) if self.items[n].get_price()}
        return len(fs) + len(gs)
