from typing import Dict, List
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
        self.best: List[Item] = []

    def __key__(self):
        return self.name

    def by_price(self, items: List[Item]) -> List[Item]:
        prices: Dict[Item, int] = {}
        for i in items:
            prices[i] = i.get_price()
        return sorted(items, key=lambda i: prices[i])

    def cheapest(self, items: List[Item]) -> Item:
        prices: Dict[Item, int] = {}
        for i in items:
            prices[i] = i.price
        return min(items, key=lambda i: prices[i])

    def pricey(self, items: List[Item], limit: int) -> List[Item]:
        prices: Dict[Item, int] = {}
        for i in items:
            prices[i] = i.get_price()
        kept = list(filter(lambda i: prices[i] > limit, items))
        kept.sort(key=lambda i: -prices[i])
        self.best = kept
        return kept

    def numbers(self, ns: List[int]) -> List[int]:
        return list(map(lambda n: n * 2, sorted(ns, key=lambda n: -n)))
