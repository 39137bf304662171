from typing import List

import stateflow


@stateflow.stateflow
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

    def get_price(self) -> int:
        return self.price


@stateflow.stateflow
class User:
    def __init__(self, username: str):
        self.username: str = username
        self.balance: int = 100
        self.items: List[Item] = []

    def __key__(self):
        return self.username

    def buy_item(self, amount: int, item: Item) -> bool:
        total_price = amount * item.get_price()
        if self.balance < total_price:
            return False
        if not item.update_stock(-amount):
            return False
        self.balance -= total_price
        self.items.append(item)
        return True
