from typing import Any, Dict, List
from stateflow import entity


class Tag:
    def __init__(self, name: str, price: int):
        self.name = name
        self.price = price


@entity
class Item:
    def __init__(self, name: str, price: int):
        self.name: str = name
        self.price: int = price

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        return self.price


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def tags(self, n: int) -> List[str]:
        out: List[str] = []
        for i in range(n):
            t: Tag = Tag("t%d" % i, i)
            out.append(t.name + str(t.price))
        made = Tag("x", 1)
        out.append(made.name)
        return out

    def anys(self, xs: List[Any]) -> int:
        total = 0
        for x in xs:
            total += len(x)
        return total

    def counts(self, d: Dict[str, int]) -> List[str]:
        return sorted(k for k, v in d.items() if v > 1)

    def typed_list(self, items: List[Item]) -> int:
        total = 0
        for it in items:
            total += it.get_price() + it.price
        return total
