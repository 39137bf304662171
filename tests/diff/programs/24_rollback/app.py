from typing import List
from stateflow import entity


@entity
class Account:
    def __init__(self, name: str, balance: int):
        self.name: str = name
        self.balance: int = balance
        self.ops: List[int] = []

    def __key__(self):
        return self.name

    def add(self, n: int) -> int:
        self.balance += n
        self.ops.append(n)
        return self.balance

    def get(self) -> int:
        return self.balance


@entity
class Ledger:
    def __init__(self, name: str):
        self.name: str = name
        self.entries: List[int] = []
        self.count: int = 0

    def __key__(self):
        return self.name

    def post(self, a: Account, b: Account, n: int) -> int:
        a.add(n)
        b.add(-n)
        self.entries.append(n)
        self.count += 1
        if self.count > 3:
            raise RuntimeError("ledger full")
        if b.get() < 0:
            raise ValueError("overdraft on " + b.name)
        return self.count

    def post_many(self, a: Account, amounts: List[int]) -> int:
        for n in amounts:
            a.add(n)
            self.entries.append(n)
            if n < 0:
                raise ValueError("negative amount " + str(n))
        return a.get()
