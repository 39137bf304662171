# expect: 22:5: only methods and constants are supported in the body of entity 'Item'
# expect: 29:16: entity 'Item' has no attribute 'stok'
# expect: 32:21: attribute 'price' of entity 'Item' is annotated as 'str' here but as 'int' at line 19
# expect: 34:37: a union of an entity type with other types is not supported: use Optional[...] of one entity type
# expect: 35:9: changing 'tags' of another entity in place is not supported (the change would be lost): read it into a local variable, change it and assign it back
# expect: 38:1: entity 'Item' is defined twice
# expect: 46:15: base classes are not supported for entities (entity 'Derived')
from typing import List, Union
from stateflow import entity

class Base:
    def inherited(self) -> int:
        return 1

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price: int = 0
        self.tags: List[str] = []

    if True:
        pass

    def __key__(self):
        return self.item_id

    def low(self) -> bool:
        return self.stok < 1

    def reprice(self) -> None:
        self.price: str = "1"

    def tag(self, other: "Item", x: Union[int, "Item"]) -> None:
        other.tags.append("x")

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id

@entity
class Derived(Base):
    def __init__(self, key: str):
        self.key = key

    def __key__(self):
        return self.key

    def get(self) -> int:
        return self.inherited()
