# expect: 20:14: the iterator or view in 'ks' is used after the remote operation at line 21: it cannot be kept across a remote operation; make it a list first (`ks = list(...)`)
# expect: 25:13: the iterator or view in 'g' is used after the remote operation at line 26
from typing import Dict, List
from stateflow import entity


@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name
        self.prices: Dict[str, int] = {}

    def __key__(self):
        return self.name

    def get(self) -> int:
        return 1

    def view(self, other: "Item") -> List[str]:
        ks = self.prices.keys()
        n = other.get()
        return sorted(ks) + [str(n)]

    def gen(self, other: "Item", xs: List[int]) -> int:
        g = (x * 2 for x in xs)
        n = other.get()
        return sum(g) + n
