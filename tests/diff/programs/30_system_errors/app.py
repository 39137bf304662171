from typing import Dict, List, Optional
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price

    def __key__(self):
        return self.name

    def set_price(self, price: int) -> int:
        self.price = price
        return self.price


@entity
class Typed:
    def __init__(self, name: str):
        self.name: str = name
        self.seen: List[str] = []

    def __key__(self):
        return self.name

    def takes(self, i: int, f: float, s: str, b: bool, by: bytes, l: List[int], d: Dict[str, int]) -> str:
        self.seen.append(type(f).__name__)
        return "ok"

    def takes_ref(self, it: Item, maybe: Optional[Item]) -> str:
        return it.name

    def takes_opt(self, n: Optional[int]) -> int:
        return -1 if n is None else n

    def defaults(self, a: int, b: int = 2, c: str = "c") -> str:
        return str(a) + str(b) + c
