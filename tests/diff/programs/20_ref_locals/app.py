from typing import List, Optional
from stateflow import entity


@entity
class Runner:
    def __init__(self, name: str):
        self.name: str = name
        self.laps: int = 0

    def __key__(self):
        return self.name

    def run(self, n: int) -> int:
        self.laps += n
        return self.laps

    def get_laps(self) -> int:
        return self.laps


@entity
class Coach:
    def __init__(self, name: str):
        self.name: str = name
        self.squad: List[Runner] = []
        self.star: Optional[Runner] = None

    def __key__(self):
        return self.name

    def sign(self, r: Runner) -> int:
        self.squad.append(r)
        return len(self.squad)

    def train(self, a: Runner, b: Runner, n: int) -> str:
        best = a
        if b.get_laps() > a.get_laps():
            best = b
        best.run(n)
        return best.name

    def rotate(self) -> List[int]:
        first = self.squad[0]
        out = []
        for r in self.squad:
            other = r
            if r == first:
                other = self.squad[-1]
            out.append(other.run(1))
        return out

    def pick_star(self) -> str:
        star = self.squad[0]
        for r in self.squad:
            if r.get_laps() > star.get_laps():
                star = r
        self.star = star
        return star.name

    def star_laps(self) -> int:
        s = self.star
        if s is None:
            return -1
        return s.get_laps()
