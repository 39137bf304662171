# expect: 24:16: recursion is not supported: User.a -> Item.b -> User.a
from stateflow import entity

@entity
class User:
    def __init__(self, username: str):
        self.username = username

    def __key__(self):
        return self.username

    def a(self, item: "Item") -> int:
        return item.b(self)

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id

    def __key__(self):
        return self.item_id

    def b(self, user: User) -> int:
        return user.a(self) + 1
