# expect: 26:23: creating an entity inside a lambda is not supported: compute
# expect: 30:20: creating an entity inside a nested function is not supported
# expect: 33:9: stateflow.delete() needs self or a reference to an entity in
# expect: 35:9: stateflow.delete() takes exactly one argument: the entity in
# expect: 37:16: method Item.__init__ takes 1 argument but 2 were given
# expect: 43:9: creating an entity in __init__ is not supported: pass the va
# expect: 58:16: stateflow.key_of() cannot be used in entity methods: of the
# expect: 71:13: creating an entity inside a try statement is not supported:
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


@entity
class Till:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def sell(self, n: str) -> bool:
        try:
            Item(n)
        except Exception:
            return False
        return True
