# expect: 14:5: special method __eq__ of entity 'Item' is not supported: operations on references to Item (==, <, hash, str(), len(), ...) do not call it; write an ordinary method instead
# expect: 17:5: special method __str__ of entity 'Item' is not supported
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def __eq__(self, other: object) -> bool:
        return False

    def __str__(self) -> str:
        return self.name
