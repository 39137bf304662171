from typing import List
from stateflow import entity

@entity
class Item:
    def __init__(self, item_id: str, price: int):
        if price < 0:
            raise ValueError("price must not be negative")
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

    def deposit(self, amount: int) -> int:
        if amount <= 0:
            raise ValueError("deposit amount must be positive")
        self.balance += amount
        return self.balance

    def buy_item(self, amount: int, item: Item) -> bool:
        if amount <= 0:
            raise ValueError("amount must be positive")
        total = amount * item.price          # remote attribute read
        if self.balance < total:
            return False
        if not item.update_stock(-amount):   # remote call in a condition
            return False
        self.balance -= total
        return True
