# Generator expressions with remote operations consumed by sum, min, max,
# any, all, sorted, list, tuple, set, frozenset, dict and str.join: the
# calls made (any/all stop at the first decisive element), the results and
# the exceptions Python raises.
from typing import Any, Dict, List, Optional
from stateflow import entity


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

    def word(self, value: int) -> str:
        self.events.append("w:" + str(value))
        return "w" + str(value)

    def anything(self, value: int, kind: str) -> Any:
        self.events.append(kind + ":" + str(value))
        if kind == "str":
            return str(value)
        if kind == "none":
            return None
        if kind == "float":
            return value / 4
        if kind == "pair":
            return ["k" + str(value), value]
        if kind == "triple":
            return [value, value, value]
        return value


@entity
class Item:
    def __init__(self, name: str, price: int, qty: int):
        self.name: str = name
        self.price: int = price
        self.qty: int = qty

    def __key__(self):
        return self.name

    def get_price(self) -> int:
        return self.price

    def in_stock(self) -> bool:
        return self.qty > 0


@entity
class Calc:
    def __init__(self, name: str, log: Log):
        self.name: str = name
        self.log: Log = log
        self.items: List[Item] = []

    def __key__(self):
        return self.name

    def add(self, it: Item) -> int:
        self.items.append(it)
        return len(self.items)

    def sums(self, xs: List[int]) -> List[int]:
        a = sum(self.log.note("s", v) for v in xs)
        b = sum((self.log.note("t", v) for v in xs if v % 2 == 0), 100)
        c = sum((self.log.note("u", v) for v in xs), start=len(xs))
        return [a, b, c]

    def float_sum(self, xs: List[int]) -> float:
        return sum(self.log.anything(v, "float") for v in xs)

    def sum_kinds(self, xs: List[int], kind: str) -> Any:
        return sum(self.log.anything(v, kind) for v in xs)

    def sum_start_str(self, xs: List[int]) -> str:
        return sum((self.log.word(v) for v in xs), "")

    def mins(self, xs: List[int]) -> List[int]:
        return [min(self.log.note("mn", v) for v in xs), max(self.log.note("mx", v) for v in xs)]

    def min_empty(self, xs: List[int]) -> int:
        return min(self.log.note("e", v) for v in xs)

    def max_empty(self, xs: List[int]) -> int:
        return max(self.log.note("e", v) for v in xs)

    def max_default(self, xs: List[int]) -> Optional[int]:
        return max((self.log.note("d", v) for v in xs), default=None)

    def min_default_expr(self, xs: List[int]) -> int:
        return min((self.log.note("d", v) for v in xs), default=len(xs) - 100)

    def max_key(self, xs: List[int]) -> List[int]:
        a = max((self.log.note("k", v) for v in xs), key=lambda v: v % 5)
        b = min((self.log.note("k", v) for v in xs), key=abs, default=0)
        c = max((self.log.note("k", v) for v in xs), key=None)
        return [a, b, c]

    def max_mixed(self, xs: List[int], kind: str) -> Any:
        return max(self.log.anything(v, kind if v == 2 else "int") for v in xs)

    def cheapest(self) -> Optional[str]:
        best = min((i.get_price() for i in self.items), default=None)
        names = [i.name for i in self.items if i.price == best]
        return names[0] if names else None

    def any_all(self, xs: List[int], limit: int) -> List[bool]:
        a = any(self.log.check("any", v, limit) for v in xs)
        b = all(self.log.check("all", v, limit) for v in xs)
        return [a, b]

    def any_nested(self, n: int, stop: int) -> bool:
        return any(self.log.note("an", i * 10 + j) == stop for i in range(n) for j in range(n) if j != 1)

    def all_nested(self, n: int, stop: int) -> bool:
        return all(self.log.note("al", i * 10 + j) != stop for i in range(n) for j in range(i + 1))

    def any_in_if(self) -> str:
        if any(not i.in_stock() for i in self.items):
            return "some missing"
        if all(i.get_price() > 0 for i in self.items):
            return "all priced"
        return "other"

    def collections(self, xs: List[int]) -> list:
        a = sorted(self.log.note("so", v) for v in xs)
        b = sorted((self.log.note("sr", v) for v in xs), key=lambda v: -v % 7, reverse=True)
        c = list(self.log.note("l", v) for v in xs)
        d = tuple(self.log.note("tu", v) for v in xs)
        e = set(self.log.note("se", v % 3) for v in xs)
        f = frozenset(self.log.note("fr", v % 2) for v in xs)
        g = dict(self.log.anything(v, "pair") for v in xs)
        return [a, b, c, list(d), sorted(e), sorted(f), g]

    def dict_bad(self, xs: List[int]) -> Dict[str, int]:
        return dict(self.log.anything(v, "triple" if v == 2 else "pair") for v in xs)

    def joins(self, xs: List[int]) -> List[str]:
        sep = "-"
        a = ",".join(self.log.word(v) for v in xs)
        b = sep.join(self.log.word(v) for v in xs if v > 1)
        c = "".join(i.name for i in self.items if i.in_stock())
        return [a, b, c]

    def join_bad(self, xs: List[int]) -> str:
        return "+".join(self.log.anything(v, "int" if v == 2 else "str") for v in xs)

    def nested_mix(self, n: int) -> List[int]:
        return [sum(self.log.note("nm", i * j) for j in range(i)) for i in range(n)]

    def genexp_of_comp(self, n: int) -> int:
        return max(len([self.log.note("gc", j) for j in range(i)]) for i in range(n))

    def total_value(self) -> int:
        return sum(i.get_price() * i.qty for i in self.items if i.in_stock())

    def clear(self) -> int:
        return 0
