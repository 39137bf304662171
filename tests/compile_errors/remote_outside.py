# expect: 18:12: remote call outside an entity method is not supported: only methods of entities can use references
# expect: 22:16: remote attribute read outside an entity method is not supported: only methods of entities can use references
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price = 0

    def __key__(self):
        return self.item_id

    def get_price(self) -> int:
        return self.price

def helper(item: Item) -> int:
    return item.get_price()

class Plain:
    def look(self, item: Item) -> int:
        return item.price
