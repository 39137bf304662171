from typing import List
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        return self.price


@entity
class Wallet:
    def __init__(self, wid: str):
        self.wid: str = wid
        self.coins: int = 0

    def __key__(self):
        return self.wid


@entity
class User:
    def __init__(self, name: str, wallet: Wallet):
        self.name: str = name
        self.wallet: Wallet = wallet

    def __key__(self):
        return self.name


@entity
class Bank:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def pay(self, user: User, n: int) -> int:
        user.wallet.coins += n
        return user.wallet.coins

    def set_it(self, user: User, n: int) -> int:
        user.wallet.coins = n
        return user.wallet.coins

    def twice(self, user: User, n: int) -> int:
        user.wallet.coins += n
        user.wallet.coins *= 2
        return user.wallet.coins + self.helper(user)

    def helper(self, user: User) -> int:
        return user.wallet.coins
