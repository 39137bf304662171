# expect: 21:5: async methods are not supported in entities (Item.fetch)
# expect: 24:21: *args is not supported in entity methods (Item.many): use a list parameter
# expect: 24:29: **kwargs is not supported in entity methods (Item.many): use a dict parameter
# expect: 27:29: keyword-only parameter 'b' of Item.kw is not supported: make it a positional parameter
# expect: 30:6: static methods are not supported in entities: make Item.helper a module-level function
# expect: 34:6: class methods are not supported in entities: make Item.make a module-level function
# expect: 41:5: method 'get' is defined twice in entity 'Item'
# expect: 44:5: nested classes are not supported in entities (class 'Meta' in entity 'Item')
# expect: 47:5: method names starting with '_sf_' are reserved (Item._sf_get_price)
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price = 0

    def __key__(self):
        return self.item_id

    async def fetch(self) -> int:
        return 1

    def many(self, *args, **kwargs) -> int:
        return 1

    def kw(self, a: int, *, b: int) -> int:
        return a + b

    @staticmethod
    def helper(x: int) -> int:
        return x

    @classmethod
    def make(cls, x: int) -> int:
        return x

    def get(self) -> int:
        return self.price

    def get(self) -> int:
        return self.price

    class Meta:
        pass

    def _sf_get_price(self) -> int:
        return 0

    def use(self) -> int:
        return self.many(1, 2, 3) + self.kw(1, b=2)
