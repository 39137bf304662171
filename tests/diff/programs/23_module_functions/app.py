from typing import Dict, List
from stateflow import entity

TAX_PERCENT = 20
LIMITS: Dict[str, int] = {"small": 10, "large": 100}
UNITS = ("pc", "box")


def with_tax(amount):
    return amount + amount * TAX_PERCENT // 100


def clamp(v: int, lo: int, hi: int) -> int:
    if v < lo:
        return lo
    if v > hi:
        return hi
    return v


def describe(n: int, unit_index: int) -> str:
    return "%d %s" % (n, UNITS[unit_index])


@entity
class Product:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        return self.price

    def taxed(self) -> int:
        return with_tax(self.price)


@entity
class Invoice:
    def __init__(self, number: str):
        self.number: str = number
        self.lines: List[int] = []
        self.total: int = 0

    def __key__(self):
        return self.number

    def add(self, p: Product, qty: int) -> int:
        line = with_tax(p.get_price() * qty)
        self.lines.append(line)
        self.total += line
        return line

    def bounded(self, p: Product, size: str) -> int:
        return clamp(p.get_price(), 0, LIMITS[size])

    def label(self, p: Product, qty: int) -> str:
        return describe(qty, 1 if qty > 10 else 0) + " @ " + str(p.taxed())
