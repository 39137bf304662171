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
    def __init__(self, name: str, bias: int):
        self.name: str = name
        self.bias: int = bias

    def __key__(self):
        return self.name

    def score(self, n: int) -> int:
        return (n * 7 + self.bias) % 10

    def rank(self, ns: List[int]) -> List[int]:
        return sorted(ns, key=self.score)

    def best(self, ns: List[int]) -> int:
        f = self.score
        return max(ns, key=f)

    def after_remote(self, it: Item, ns: List[int]) -> List[int]:
        p = it.get_price()
        return sorted([n + p for n in ns], key=self.score)
