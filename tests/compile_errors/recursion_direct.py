# expect: 15:20: recursion is not supported: Item.count -> Item.count
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id

    def count(self, n: int) -> int:
        if n == 0:
            return 0
        return 1 + self.count(n - 1)
