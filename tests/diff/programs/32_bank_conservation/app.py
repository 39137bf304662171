from typing import Dict, List
from stateflow import entity


class Insufficient(Exception):
    pass


@entity
class Account:
    def __init__(self, number: str, balance: int):
        self.number: str = number
        self.balance: int = balance

    def __key__(self):
        return self.number

    def get_balance(self) -> int:
        return self.balance

    def deposit(self, amount: int) -> int:
        self.balance += amount
        return self.balance

    def withdraw(self, amount: int) -> int:
        if amount > self.balance:
            raise Insufficient(self.number + " has " + str(self.balance))
        self.balance -= amount
        return self.balance

    def send(self, to: "Account", amount: int) -> int:
        if amount <= 0:
            raise ValueError("amount must be positive")
        to.deposit(amount)
        return self.withdraw(amount)


@entity
class Bank:
    def __init__(self, name: str):
        self.name: str = name
        self.accounts: Dict[str, Account] = {}
        self.transfers: int = 0

    def __key__(self):
        return self.name

    def open(self, acc: Account) -> int:
        self.accounts[acc.number] = acc
        return len(self.accounts)

    def total(self) -> int:
        t = 0
        for acc in self.accounts.values():
            t += acc.get_balance()
        return t

    def transfer(self, src: str, dst: str, amount: int) -> int:
        self.transfers += 1
        self.accounts[src].send(self.accounts[dst], amount)
        return self.total()

    def spread(self, src: str, amount: int) -> List[int]:
        out = []
        for number, acc in self.accounts.items():
            if number != src:
                self.accounts[src].send(acc, amount)
                out.append(acc.get_balance())
        return out

    def audit(self, expected: int) -> bool:
        if self.total() != expected:
            raise AssertionError("money not conserved")
        return True
