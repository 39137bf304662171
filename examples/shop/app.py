from typing import List
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str, price: int):
        self.item_id: str = item_id
        self.price: int = price
        self.stock: int = 0

    def __key__(self):
        return self.item_id

    def update_stock(self, amount: int) -> bool:
        if self.stock + amount < 0:
            return False
        self.stock += amount
        return True

@entity
class User:
    def __init__(self, username: str):
        self.username: str = username
        self.balance: int = 0

    def __key__(self):
        return self.username

    def buy_item(self, amount: int, item: Item) -> bool:
        total = amount * item.price          # remote attribute read
        if self.balance < total:
            return False
        if not item.update_stock(-amount):   # remote call in a condition
            return False
        self.balance -= total
        return True
