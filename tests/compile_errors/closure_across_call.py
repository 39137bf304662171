# expect: 30:13: the lambda assigned to 'f' is used after the remote operation at line 31: a function cannot be kept across a remote operation (it would not see the variables as Python does); define it after that line
# expect: 38:9: the nested function 'g' is used after the remote operation at line 40
from typing import List
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

    def __key__(self):
        return self.name

    def late(self, it: Item) -> int:
        x = 1
        f = lambda: x
        p = it.get_price()
        x = p
        return f()

    def late_def(self, it: Item) -> int:
        x = 1

        def g() -> int:
            return x * 10
        p = it.get_price()
        x = p
        return g()
