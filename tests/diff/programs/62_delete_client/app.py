from typing import List, Optional
from stateflow import entity


@entity
class Counter:
    def __init__(self, name: str, start: int = 0):
        self.name: str = name
        self.value: int = start

    def __key__(self):
        return self.name

    def bump(self, n: int) -> int:
        self.value += n
        return self.value


@entity
class Seat:
    def __init__(self, number: int):
        self.number: int = number
        self.holder: Optional[Counter] = None

    def __key__(self):
        return self.number

    def hold(self, c: Counter) -> int:
        self.holder = c
        return c.bump(1)

    def holder_value(self) -> int:
        return self.holder.value

    def sum_of(self, cs: List[Counter]) -> int:
        total = 0
        for c in cs:
            total += c.value
        return total
