from typing import List
from stateflow import entity


class OutOfStock(Exception):
    pass


@entity
class Item:
    def __init__(self, sku: str, stock: int):
        self.sku: str = sku
        self.stock: int = stock

    def __key__(self):
        return self.sku

    def take(self, n: int) -> int:
        if n > self.stock:
            raise OutOfStock("only " + str(self.stock) + " of " + self.sku)
        self.stock -= n
        return self.stock


@entity
class Receipt:
    def __init__(self, rid: str, sku: str, n: int):
        if n <= 0:
            raise ValueError("a receipt needs a positive count")
        self.rid: str = rid
        self.sku: str = sku
        self.n: int = n

    def __key__(self):
        return self.rid


@entity
class Till:
    def __init__(self, name: str):
        self.name: str = name
        self.sales: int = 0
        self.receipts: List[Receipt] = []

    def __key__(self):
        return self.name

    def sell(self, rid: str, item: Item, n: int) -> Receipt:
        r = Receipt(rid, item.sku, n)
        self.receipts.append(r)
        self.sales += 1
        item.take(n)
        return r

    def sell_pair(self, rid1: str, rid2: str, n: int) -> int:
        Receipt(rid1, "pair", n)
        Receipt(rid2, "pair", n)
        self.sales += 2
        return self.sales

    def sell_then_fail(self, rid: str) -> int:
        Receipt(rid, "x", 1)
        self.sales += 1
        raise RuntimeError("till closed")
