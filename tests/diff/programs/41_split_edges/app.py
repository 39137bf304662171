from typing import Dict, List, Optional
from stateflow import entity

LIMIT = 100


def fmt(tag: str, n: int) -> str:
    return f"{tag}={n}"


@entity
class Cell:
    def __init__(self, name: str, value: int):
        self.name: str = name
        self.value: int = value
        self.log: List[str] = []

    def __key__(self):
        return self.name

    def get(self) -> int:
        self.log.append("get")
        return self.value

    def add(self, n: int) -> int:
        self.log.append(f"add{n}")
        self.value += n
        return self.value

    def items(self, n: int) -> List[int]:
        return list(range(self.value, self.value + n))

    def is_big(self) -> bool:
        return self.value > 10


@entity
class Probe:
    def __init__(self, name: str):
        self.name: str = name
        self.total: int = 0
        self.seen: Dict[str, int] = {}

    def __key__(self):
        return self.name

    def walrus(self, c: Cell) -> int:
        if (v := c.get()) > 3:
            return v * 2
        return v

    def chained(self, a: Cell, b: Cell) -> bool:
        return 0 < a.get() < b.get() < LIMIT

    def both_sides(self, a: Cell, b: Cell, flag: bool) -> int:
        return a.add(1) if flag else b.add(2)

    def remote_aug(self, c: Cell) -> int:
        c.value += 5
        c.value *= 2
        return c.value

    def self_aug(self, c: Cell) -> int:
        self.total += c.add(3)
        self.total += c.get() + self.total
        return self.total

    def index(self, c: Cell) -> int:
        data = [10, 20, 30, 40, 50]
        return data[c.get() % 5] + data[-1]

    def maybe_unbound(self, c: Cell, flag: bool) -> str:
        if flag:
            note = "set"
        got = c.get()
        if flag:
            return note + str(got)
        return "none" + str(got)

    def for_else(self, c: Cell, stop: int) -> str:
        for x in c.items(4):
            if c.add(0) + x == stop:
                break
        else:
            return "no break"
        return "break at " + str(x)

    def while_else(self, c: Cell) -> int:
        n = 0
        while c.get() < 20:
            c.add(4)
            n += 1
        else:
            n += 100
        return n

    def break_in_try(self, c: Cell) -> int:
        count = 0
        for i in range(10):
            count += c.add(1)
            try:
                if i == 2:
                    break
            finally:
                self.total += 1
        return count

    def fstring(self, c: Cell) -> str:
        return f"cell {c.name} has {c.get()} ({fmt('v', c.value)})"

    def raise_with(self, c: Cell) -> int:
        if c.is_big():
            raise ValueError("too big: " + str(c.get()))
        return c.get()

    def assert_remote(self, c: Cell) -> int:
        assert c.is_big(), "not big"
        return 1

    def closure(self, c: Cell) -> List[int]:
        base = c.get()

        def scale(k: int) -> int:
            return base * k

        return [scale(1), scale(2), c.add(0)]

    def dict_order(self, a: Cell, b: Cell) -> Dict[str, int]:
        return {"first": a.add(1), "second": b.add(1), "third": a.add(1)}

    def nested_calls(self, a: Cell, b: Cell) -> int:
        return a.add(b.add(a.get()))

    def seen_by(self, cells: List[Cell]) -> Dict[str, int]:
        for c in cells:
            self.seen[c.name] = self.seen.get(c.name, 0) + c.get()
        return self.seen

    def optional(self, c: Optional[Cell]) -> int:
        if c is None:
            return -1
        return c.get()

    def not_or(self, a: Cell, b: Cell) -> bool:
        return not a.is_big() or b.is_big() and a.get() > 0

    def cond_in_loop(self, cells: List[Cell]) -> int:
        acc = 0
        i = 0
        while i < len(cells) and cells[i].get() < 50:
            acc += cells[i].get() if cells[i].is_big() else 0
            i += 1
        return acc

    def unchecked(self, c: Optional[Cell]) -> int:
        return c.get()

    def unchecked_attr(self, c: Optional[Cell]) -> int:
        return c.value + 1
