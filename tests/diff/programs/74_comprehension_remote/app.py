# List, set and dict comprehensions with remote operations in the element,
# the conditions and the later iterables: evaluation order (every remote
# call is logged), the comprehension's own scope, nesting, exceptions.
from typing import Dict, List
from stateflow import entity


class Broken(Exception):
    pass


@entity
class Log:
    def __init__(self, name: str):
        self.name: str = name
        self.events: List[str] = []

    def __key__(self):
        return self.name

    def note(self, tag: str, value: int) -> int:
        self.events.append(tag + ":" + str(value))
        return value

    def check(self, tag: str, value: int, limit: int) -> bool:
        self.events.append("?" + tag + ":" + str(value))
        return value < limit

    def fail(self, value: int) -> int:
        self.events.append("f:" + str(value))
        if value == 3:
            raise Broken("three")
        return value

    def values(self, n: int) -> List[int]:
        self.events.append("values:" + str(n))
        return list(range(n))

    def clear(self) -> int:
        n = len(self.events)
        self.events = []
        return n


@entity
class Item:
    def __init__(self, name: str, price: int, qty: int):
        self.name: str = name
        self.price: int = price
        self.qty: int = qty
        self.reads: int = 0

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        self.reads += 1
        return self.price

    def tags(self) -> List[str]:
        self.reads += 1
        return [self.name, self.name.upper(), self.name + "!"]

    def in_stock(self) -> bool:
        self.reads += 1
        return self.qty > 0


@entity
class Shop:
    def __init__(self, name: str, log: Log):
        self.name: str = name
        self.log: Log = log
        self.items: List[Item] = []

    def __key__(self):
        return self.name

    def add(self, it: Item) -> int:
        self.items.append(it)
        return len(self.items)

    def element_and_condition(self, xs: List[int]) -> List[int]:
        x = 100
        out = [self.log.note("a", v) + x for v in xs if self.log.check("c", v, 3)]
        return out + [x]

    def scope(self, xs: List[int]) -> List[int]:
        v = -1
        r = [self.log.note("s", v) for v in xs]
        return r + [v]

    def set_comp(self) -> List[int]:
        return sorted({i.get_price() % 3 for i in self.items})

    def dict_comp(self) -> Dict[str, int]:
        return {(self.log.note("k", len(i.name)) and i.name): self.log.note("v", i.qty) for i in self.items}

    def dict_comp_refs(self) -> Dict[str, Item]:
        return {i.name: i for i in self.items if i.in_stock()}

    def nested(self, n: int) -> List[List[int]]:
        return [[self.log.note("n", i * 10 + j) for j in range(i)] for i in range(n)]

    def nested_same_name(self, n: int) -> List[List[int]]:
        return [[self.log.note("m", i) for i in range(i)] for i in range(n)]

    def multi_gen(self) -> List[str]:
        return [t + str(self.log.note("g", p)) for i in self.items for t in i.tags() if t.islower()
                for p in [i.get_price()] if self.log.check("p", p, 4)]

    def first_iterable_only(self, n: int) -> List[int]:
        return [x * 2 for x in self.log.values(n) if x != 1]

    def raises(self, xs: List[int]) -> List[int]:
        return [self.log.fail(v) for v in xs]

    def walrus(self, xs: List[int]) -> int:
        y = 0
        ys = [(y := self.log.note("w", v)) for v in xs]
        return y + len(ys)

    def in_if(self, xs: List[int]) -> bool:
        if [v for v in xs if self.log.check("i", v, 2)]:
            return True
        return False

    def in_while(self) -> int:
        n = 0
        while len([v for v in range(n) if self.log.check("wh", v, 10)]) < 3:
            n += 1
        return n

    def in_expression(self, xs: List[int]) -> int:
        return (self.log.note("before", 0) + len([self.log.note("mid", v) for v in xs])
                + self.log.note("after", 0))

    def price_of(self, i: Item) -> int:
        return i.get_price() * 2

    def self_split(self) -> List[int]:
        return [self.price_of(i) for i in self.items]

    def refs(self) -> List[Item]:
        return [i for i in self.items if i.in_stock()]

    def lambda_inside(self) -> List[List[str]]:
        return [sorted(i.tags(), key=lambda t: t[::-1]) for i in self.items]

    def loop_var_kept(self) -> List[str]:
        out = []
        for i in self.items:
            names = [j.name for j in self.items if j.get_price() > i.price]
            out.append(i.name + ">" + ",".join(names))
        return out

    def reads(self) -> List[int]:
        return [i.reads for i in self.items]
