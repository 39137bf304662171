from typing import Dict, List, Tuple
from stateflow import entity


@entity
class Counter:
    def __init__(self, name: str, value: int):
        self.name: str = name
        self.value: int = value

    def __key__(self):
        return self.name

    def get(self) -> int:
        return self.value

    def bump(self, by: int) -> int:
        self.value += by
        return self.value


@entity
class Reader:
    def __init__(self, name: str):
        self.name: str = name
        self.reads: int = 0

    def __key__(self):
        return self.name

    def read(self, c: Counter) -> int:
        return c.get()

    def read_sum(self, a: Counter, b: Counter) -> int:
        self.reads += 1
        return a.get() + b.get()

    def read_pair(self, a: Counter, b: Counter) -> Tuple[int, int]:
        return (a.bump(1), b.bump(2))

    def read_list(self, a: Counter, b: Counter) -> List[int]:
        return [a.get(), b.get(), a.bump(10)]

    def read_dict(self, a: Counter, b: Counter) -> Dict[str, int]:
        return {"a": a.get(), "b": b.get()}

    def read_if(self, a: Counter, limit: int) -> str:
        if a.get() > limit:
            return "big"
        return "small"

    def read_after(self, a: Counter) -> int:
        a.bump(100)
        self.reads += 1
        return a.get() - 100
