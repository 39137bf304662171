# expect: 22:9: global statements are not supported in entity methods
# expect: 28:13: nonlocal statements are not supported in entity methods
# expect: 34:9: yield is not supported in entity methods
# expect: 37:9: await is not supported in entity methods
# expect: 41:9: match statements are not supported in entity methods
# expect: 47:9: classes defined inside entity methods are not supported
# expect: 52:9: storing self in a local variable is not supported: use self directly
# expect: 53:9: assigning to 'self' is not supported
from stateflow import entity

COUNTER = 0

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id

    def a(self) -> int:
        global COUNTER
        return COUNTER

    def b(self) -> int:
        x = 1
        def inner():
            nonlocal x
            x = 2
        inner()
        return x

    def c(self) -> int:
        yield 1

    def d(self) -> int:
        await self.a()
        return 1

    def e(self, v: int) -> int:
        match v:
            case 1:
                return 1
        return 0

    def f(self) -> int:
        class Local:
            pass
        return 1

    def g(self) -> int:
        me = self
        self = None
        return 1
