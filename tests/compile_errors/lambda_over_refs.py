# expect: 32:44: remote call inside a lambda is not supported: compute the values in a for loop first
# expect: 35:35: remote attribute read inside a lambda is not supported
# expect: 38:42: remote attribute read inside a lambda is not supported
# expect: 41:34: remote attribute read inside a lambda is not supported
# expect: 45:41: remote attribute read inside a lambda is not supported
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

    def by_call(self, items: List[Item]) -> List[Item]:
        return sorted(items, key=lambda i: i.get_price())

    def by_attr(self, items: List[Item]) -> List[int]:
        return list(map(lambda i: i.price, items))

    def filt(self, items: List[Item]) -> int:
        return len(list(filter(lambda i: i.price > 2, items)))

    def srt(self, items: List[Item]) -> List[Item]:
        items.sort(key=lambda i: i.name)
        return items

    def mx(self, items: List[Item]) -> Item:
        return max(items, key=lambda i: i.price)
