# expect: 5:1: entity 'Item' has no __init__
from stateflow import entity

@entity
class Item:
    def __key__(self):
        return self.item_id

    def get(self) -> int:
        return 1
