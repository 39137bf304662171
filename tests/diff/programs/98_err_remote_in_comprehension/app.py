from typing import List
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name
        self.price: int = 1
        self.tags: List[str] = []

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        return self.price


@entity
class User:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def prices(self, items: List[Item]) -> List[int]:
        return list(zip(it.get_price() for it in items))
