# expect: 29:16: comparing a value with self is not supported (a reference never equals self at run time): compare key attributes instead, e.g. `other.name == self.name`
# expect: 32:16: comparing a value with self is not supported (a reference never equals self at run time): compare key attributes instead, e.g. `other.name == self.name`
# expect: 35:16: isinstance with the entity class 'Item' is not supported (a reference is not an instance of it at run time): annotate the value as Item (or Optional[Item]) and test `is None` where it may be missing
# expect: 38:16: comparing with the entity class 'Item' is not supported (a reference is not an instance of it at run time): a value typed Item is always a reference to Item
# expect: 41:16: testing whether self is in a collection is not supported (a reference never equals self at run time): compare key attributes instead, e.g. `x.name == self.name`
# expect: 44:16: type() of a reference is not the entity class at run time: its static type is already Item
from typing import Any, List
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def is_me(self, other: "Shop") -> bool:
        return other == self

    def is_me2(self, other: "Shop") -> bool:
        return self is not other

    def kind(self, a: Any) -> bool:
        return isinstance(a, (int, Item))

    def kind2(self, a: Any) -> bool:
        return type(a) is Item

    def member(self, shops: List["Shop"]) -> bool:
        return self in shops

    def name_of_type(self, a: Item) -> str:
        return type(a).__name__
