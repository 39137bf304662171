# expect: 16:27: recursion is not supported: Item.even -> Item.odd -> Item.even
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id

    def even(self, n: int) -> bool:
        return n == 0 or self.odd(n - 1)

    def odd(self, n: int) -> bool:
        return n != 0 and self.even(n - 1)
