# expect: 25:23: creating an entity inside a lambda is not supported: compute
# expect: 29:20: creating an entity inside a nested function is not supported
# expect: 32:9: stateflow.delete() needs self or a reference to an entity in
# expect: 34:9: stateflow.delete() takes exactly one argument: the entity in
# expect: 36:16: method Item.__init__ takes 1 argument but 2 were given
# expect: 42:9: creating an entity in __init__ is not supported: pass the va
# expect: 57:16: stateflow.key_of() cannot be used in entity methods: of the
import stateflow
from stateflow import entity

@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name
    def __key__(self):
        return self.name

@entity
class User:
    def __init__(self, name: str):
        self.name: str = name
    def __key__(self):
        return self.name
    def a(self) -> int:
        f = lambda n: Item(n)
        return 1
    def b(self) -> int:
        def g(n: str) -> Item:
            return Item(n)
        return 2
    def c(self, x: int) -> None:
        stateflow.delete(x)
    def d(self) -> None:
        stateflow.delete()
    def e(self) -> Item:
        return Item(1, 2)

@entity
class Box:
    def __init__(self, name: str):
        self.name: str = name
        Item(name)

    def __key__(self):
        return self.name


@entity
class Crate:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def k(self) -> str:
        return stateflow.key_of(self)
