from typing import Dict, List
from stateflow import entity


@entity
class Product:
    def __init__(self, sku: str, price: int, stock: int, tags: List[str]):
        self.sku: str = sku
        self.price: int = price
        self.stock: int = stock
        self.tags: List[str] = tags
        self.meta: Dict[str, str] = {"origin": "local"}


    def __key__(self):
        return self.sku


@entity
class Checker:
    def __init__(self, name: str):
        self.name: str = name
        self.seen: int = 0

    def __key__(self):
        return self.name

    def value(self, p: Product) -> int:
        return p.price * p.stock

    def cheap(self, p: Product, limit: int) -> bool:
        if p.price < limit and p.stock > 0:
            return True
        return False

    def label(self, p: Product) -> str:
        return p.sku + ":" + str(p.price)

    def tag_count(self, p: Product) -> int:
        return len(p.tags)

    def first_tag(self, p: Product) -> str:
        return p.tags[0] if len(p.tags) > 0 else ""

    def meta_get(self, p: Product, k: str) -> str:
        return p.meta[k] if k in p.meta else "-"

    def remember(self, p: Product) -> int:
        self.seen = p.stock
        return self.seen
