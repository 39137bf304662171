from typing import List
from stateflow import entity


@entity
class Warehouse:
    def __init__(self, name: str, stock: int):
        self.name: str = name
        self.stock: int = stock

    def __key__(self):
        return self.name

    def take(self, n: int) -> int:
        n = min(n, self.stock)
        self.stock -= n
        return n

    def level(self) -> int:
        return self.stock


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name
        self.cash: int = 100
        self.goods: int = 0
        self.log: List[str] = []

    def __key__(self):
        return self.name

    def _note(self, msg: str) -> None:
        self.log.append(msg)

    def cost(self, n: int) -> int:
        return n * 2

    def fetch(self, w: Warehouse, n: int) -> int:
        got = w.take(n)
        self._note("fetched " + str(got))
        self.goods += got
        return got

    def restock(self, w: Warehouse, n: int) -> int:
        total = self.fetch(w, n) + self.fetch(w, n)
        self.cash -= self.cost(total)
        return total

    def low(self, w: Warehouse) -> bool:
        return w.level() < 5

    def check_level(self, w: Warehouse) -> str:
        if self.low(w):
            self._note("low")
            return "low"
        return "ok"

    def top_up(self, w: Warehouse) -> int:
        n = 0
        while not self.low(w):
            n += self.fetch(w, 3)
        return n
