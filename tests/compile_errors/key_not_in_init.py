# expect: 11:16: key attribute 'code' of entity 'Item' is not assigned in __init__
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price = 0

    def __key__(self):
        return self.code

    def set_code(self, code: str) -> None:
        self.code = code
