# Comprehensions and generator expressions with remote operations in every
# place an expression goes: loops with break/continue around them, the
# branches of `if ... else`, `and`/`or`, comparison chains, augmented
# assignment, arguments of remote calls, remote attribute writes, return.
from typing import List
from stateflow import entity


@entity
class Counter:
    def __init__(self, name: str):
        self.name: str = name
        self.calls: int = 0
        self.seen: List[int] = []

    def __key__(self):
        return self.name

    def val(self, v: int) -> int:
        self.calls += 1
        self.seen.append(v)
        return v

    def store(self, xs: List[int]) -> int:
        self.seen = xs
        return len(xs)


@entity
class Runner:
    def __init__(self, name: str, c: Counter):
        self.name: str = name
        self.c: Counter = c
        self.total: int = 0

    def __key__(self):
        return self.name

    def loop_around(self, xs: List[int]) -> List[int]:
        out = []
        for x in xs:
            if any(self.c.val(y) > x for y in xs):
                continue
            if sum(self.c.val(y) for y in xs) > 100:
                break
            out.append(x)
        return out

    def branches(self, flag: bool, xs: List[int]) -> List[int]:
        a = [self.c.val(x) for x in xs] if flag else [-1]
        b = flag and sum(self.c.val(x) for x in xs)
        c = flag or max(self.c.val(x) for x in xs)
        return [len(a), int(b), int(c)]

    def chain(self, xs: List[int]) -> bool:
        return 0 < sum(self.c.val(x) for x in xs) < 10 < max([self.c.val(x) * 5 for x in xs])

    def augmented(self, xs: List[int]) -> int:
        self.total += sum(self.c.val(x) for x in xs)
        n = 1
        n *= len({self.c.val(x) for x in xs})
        return self.total + n

    def as_argument(self, xs: List[int]) -> int:
        return self.c.store([self.c.val(x) + 1 for x in xs if x > 0])

    def remote_write(self, xs: List[int]) -> int:
        self.c.seen = [self.c.val(x) for x in xs]
        return self.c.calls

    def early_return(self, xs: List[int]) -> int:
        while True:
            return sum(self.c.val(x) for x in xs)

    def typed_from_generator(self, cs: List[Counter]) -> List[int]:
        busy = list(c for c in cs if c.name != "idle")
        first = next(c for c in cs)
        return [c.val(7) for c in busy] + [first.val(8)]

    def unused_value(self, xs: List[int]) -> int:
        [self.c.val(x) for x in xs]
        any(self.c.val(x) == 2 for x in xs)
        return self.c.calls
