from typing import Dict, List, Optional
from stateflow import entity


@entity
class Account:
    def __init__(self, number: int):
        self.number: int = number
        self.balance: int = 0

    def __key__(self):
        return self.number

    def deposit(self, n: int) -> int:
        self.balance += n
        return self.balance

    def get_balance(self) -> int:
        return self.balance


@entity
class Registry:
    def __init__(self, name: str):
        self.name: str = name
        self.by_name: Dict[str, Account] = {}

    def __key__(self):
        return self.name

    def register(self, name: str, acc: Account) -> int:
        self.by_name[name] = acc
        return len(self.by_name)

    def deposit_to(self, name: str, amount: int) -> int:
        if name not in self.by_name:
            raise KeyError(name)
        return self.by_name[name].deposit(amount)

    def balance_of(self, name: str) -> int:
        acc = self.by_name[name]
        return acc.balance

    def all_balances(self) -> Dict[str, int]:
        out = {}
        for name, acc in self.by_name.items():
            out[name] = acc.get_balance()
        return out

    def lookup(self, name: str) -> Optional[Account]:
        if name in self.by_name:
            return self.by_name[name]
        return None

    def richer_than(self, limit: int) -> List[Account]:
        out = []
        for acc in self.by_name.values():
            if acc.get_balance() > limit:
                out.append(acc)
        return out
