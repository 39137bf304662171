# expect: 5:1: entity 'Item' has no __key__ method
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
