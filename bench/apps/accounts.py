"""Benchmark program: accounts with single-entity updates and two-account
transfers (YCSB+T's workload T shape: read two balances, move an amount,
refuse on insufficient funds)."""
from stateflow import entity


@entity
class Account:
    def __init__(self, key: str, balance: int):
        self.key: str = key
        self.balance: int = balance

    def __key__(self):
        return self.key

    def read(self) -> int:
        return self.balance

    def add(self, amount: int) -> int:
        self.balance += amount
        return self.balance

    def transfer(self, amount: int, to: "Account") -> bool:
        if self.balance < amount:
            return False
        to.add(amount)
        self.balance -= amount
        return True
