from typing import List, Optional
from stateflow import entity


@entity
class Stage:
    def __init__(self, name: str, factor: int, nxt: Optional["Stage"]):
        self.name: str = name
        self.factor: int = factor
        self.nxt: Optional[Stage] = nxt
        self.hits: int = 0

    def __key__(self):
        return self.name

    def leaf(self, x: int) -> int:
        self.hits += 1
        if x < 0:
            raise ValueError("negative at " + self.name)
        return x * self.factor


@entity
class Pipeline:
    def __init__(self, name: str, stages: List[Stage]):
        self.name: str = name
        self.stages: List[Stage] = stages
        self.runs: List[int] = []

    def __key__(self):
        return self.name

    def run(self, x: int) -> int:
        for s in self.stages:
            x = s.leaf(x) - 1
        self.runs.append(x)
        return x

    def run_checked(self, x: int) -> int:
        r = self.run(x)
        if r > 1000:
            raise OverflowError("result too large: " + str(r))
        return r
