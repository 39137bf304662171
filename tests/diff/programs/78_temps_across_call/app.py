# Values evaluated before a remote operation in the same expression are kept
# across it (in the frame when the continuation crosses workers): a list
# built by a comprehension, the result of a generator consumed by a builtin,
# a plain value. (Generators, iterators and lambdas in that place are compile
# errors: tests/compile_errors/temp_across_call.py.)
from typing import List
from stateflow import entity


def total(g: List[int], x: int) -> int:
    return sum(g) + x


@entity
class Item:
    def __init__(self, k: str, n: int):
        self.k: str = k
        self.n: int = n

    def __key__(self):
        return self.k

    def get(self) -> int:
        self.n += 1
        return self.n


@entity
class Cart:
    def __init__(self, k: str):
        self.k: str = k
        self.xs: List[int] = [1, 2, 3]

    def __key__(self):
        return self.k

    def f(self, it: Item) -> int:
        return total([a * 2 for a in self.xs], it.get()) + sum(a for a in self.xs) + it.get()

    def g(self, it: Item, other: Item) -> List[int]:
        return [len(self.xs), it.get(), max(a for a in self.xs), other.get()]
