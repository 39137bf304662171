# expect: 33:9: entity 'Item' has no method 'update_stok'
# expect: 34:9: method Item.update_stock takes 1 argument but 2 were given
# expect: 35:13: entity 'Item' has no attribute 'prise'
# expect: 36:9: method '__key__' of entity 'Item' cannot be called through a reference
# expect: 37:9: method Item.update_stock takes 1 argument but 0 were given
# expect: 38:27: method Item.update_stock has no parameter 'amout'
# (line 39, Item("x"), creates an entity inside a method: accepted, no error)
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.stock = 0

    def __key__(self):
        return self.item_id

    def update_stock(self, amount: int) -> bool:
        self.stock += amount
        return True

@entity
class User:
    def __init__(self, username: str):
        self.username = username

    def __key__(self):
        return self.username

    def buy(self, item: Item) -> None:
        x = 1
        item.update_stok(1)
        item.update_stock(1, 2)
        y = item.prise
        item.__key__()
        item.update_stock()
        item.update_stock(amout=1)
        other = Item("x")
