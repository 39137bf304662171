# expect: 28:22: this generator, iterator or view is evaluated before a remote operation later in the same expression
# expect: 31:22: this generator, iterator or view is evaluated before a remote operation later in the same expression
# expect: 34:22: this lambda is evaluated before a remote operation later in the same expression
# A value that cannot be stored in a frame (a generator, an iterator, a
# lambda), evaluated before a remote operation in the same expression, would
# have to be kept across it: it works in one process and fails once the
# continuation crosses workers, so it is rejected at compile time.
from typing import List
from stateflow import entity


def total(g, x: int) -> int:
    return sum(g) + x


@entity
class Item:
    def __init__(self, k: str):
        self.k: str = k

    def __key__(self):
        return self.k

    def get(self) -> int:
        return 1

    def gen(self, it: "Item", xs: List[int]) -> int:
        return total((a for a in xs), it.get())

    def zipped(self, it: "Item", xs: List[int]) -> int:
        return total(zip(xs, xs), it.get())

    def fn(self, it: "Item") -> int:
        return total(lambda: 1, it.get())

    def fine(self, it: "Item", xs: List[int]) -> int:
        return total([a for a in xs], it.get()) + sum(a for a in xs) + it.get()
