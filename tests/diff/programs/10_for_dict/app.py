from typing import Dict, List
from stateflow import entity


@entity
class Shelf:
    def __init__(self, name: str):
        self.name: str = name
        self.counts: Dict[str, int] = {}

    def __key__(self):
        return self.name

    def restock(self, item: str, n: int) -> int:
        self.counts[item] = self.counts.get(item, 0) + n
        return self.counts[item]

    def count(self, item: str) -> int:
        return self.counts.get(item, 0)


@entity
class Store:
    def __init__(self, name: str):
        self.name: str = name
        self.prices: Dict[str, int] = {}
        self.shelves: Dict[str, Shelf] = {}

    def __key__(self):
        return self.name

    def set_price(self, item: str, price: int) -> None:
        self.prices[item] = price

    def add_shelf(self, label: str, shelf: Shelf) -> int:
        self.shelves[label] = shelf
        return len(self.shelves)

    def stock_value(self, shelf: Shelf) -> int:
        total = 0
        for item, price in self.prices.items():
            total += price * shelf.count(item)
        return total

    def restock_all(self, shelf: Shelf, n: int) -> int:
        for item in self.prices.keys():
            shelf.restock(item, n)
        return len(self.prices)

    def total_items(self) -> int:
        total = 0
        for shelf in self.shelves.values():
            for item in self.prices:
                total += shelf.count(item)
        return total

    def labels_with(self, item: str) -> List[str]:
        found = []
        for label, shelf in self.shelves.items():
            if shelf.count(item) > 0:
                found.append(label)
        return found
