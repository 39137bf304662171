from typing import List
from stateflow import entity


@entity
class Account:
    def __init__(self, number: str):
        self.number: str = number
        self.balance: int = 0
        self.history: List[int] = []

    def __key__(self):
        return self.number

    def add(self, v: int) -> int:
        self.balance += v
        self.history.append(v)
        return self.balance

    def get_history(self) -> List[int]:
        return list(self.history)


@entity
class Batch:
    def __init__(self, name: str, amounts: List[int]):
        self.name: str = name
        self.amounts: List[int] = amounts
        self.applied: int = 0

    def __key__(self):
        return self.name

    def apply(self, acc: Account, amounts: List[int]) -> int:
        last = 0
        for a in amounts:
            last = acc.add(a)
            self.applied += 1
        return last

    def apply_stored(self, acc: Account) -> List[int]:
        results = []
        for a in self.amounts:
            results.append(acc.add(a * 2))
        return results

    def replay(self, src: Account, dst: Account) -> int:
        n = 0
        for v in src.get_history():
            dst.add(v)
            n += 1
        return n
