# expect: 15:5: method User.buy_item has no return type hint
# expect: 15:24: parameter 'amount' of User.buy_item has no type hint
# expect: 18:5: method User.total has no return type hint
from stateflow import entity

@entity
class User:
    def __init__(self, username):
        self.username = username
        self.balance = 0

    def __key__(self):
        return self.username

    def buy_item(self, amount, count: int):
        self.balance -= amount * count

    def total(self):
        return self.balance
