from stateflow import entity

from stock import Stock


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def restock(self, s: Stock, n: int) -> int:
        return s.add(n)
