# expect: 10:16: __key__ of entity 'Item' must return one attribute of self (e.g. `return self.id`)
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id + "x"
