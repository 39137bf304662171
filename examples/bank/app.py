"""Bank accounts with transfers.

Every request is one transaction: when `transfer` fails half-way (the
withdrawal raises after the deposit on the other account was made), the whole
request rolls back, so money is never created or lost.
"""
from typing import List
from stateflow import entity


@entity
class Account:
    def __init__(self, account_id: str, owner: str):
        self.account_id: str = account_id
        self.owner: str = owner
        self.balance: int = 0

    def __key__(self):
        return self.account_id

    def get_balance(self) -> int:
        return self.balance

    def deposit(self, amount: int) -> int:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.balance += amount
        return self.balance

    def withdraw(self, amount: int) -> int:
        if amount <= 0:
            raise ValueError("amount must be positive")
        if amount > self.balance:
            raise ValueError("insufficient funds in " + self.account_id)
        self.balance -= amount
        return self.balance

    def transfer(self, amount: int, to: "Account") -> int:
        to.deposit(amount)          # remote call: credits the other account
        self.withdraw(amount)       # may raise: then the deposit is undone too
        return self.balance


@entity
class Bank:
    def __init__(self, name: str):
        self.name: str = name
        self.accounts: List[Account] = []

    def __key__(self):
        return self.name

    def open(self, account: Account) -> int:
        self.accounts.append(account)
        return len(self.accounts)

    def move(self, amount: int, src: Account, dst: Account) -> int:
        src.transfer(amount, dst)
        return self.total()

    def total(self) -> int:
        total = 0
        for account in self.accounts:
            total += account.get_balance()
        return total

    def richest(self) -> str:
        best = ""
        best_balance = -1
        for account in self.accounts:
            balance = account.get_balance()
            if balance > best_balance:
                best = account.account_id
                best_balance = balance
        return best
