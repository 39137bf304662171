from typing import List
from stateflow import entity


@entity
class Member:
    def __init__(self, name: str):
        self.name: str = name
        self.score: int = 0

    def __key__(self):
        return self.name

    def add_score(self, n: int) -> int:
        self.score += n
        return self.score

    def get_score(self) -> int:
        return self.score


@entity
class Team:
    def __init__(self, name: str):
        self.name: str = name
        self.members: List[Member] = []

    def __key__(self):
        return self.name

    def join(self, m: Member) -> int:
        self.members.append(m)
        return len(self.members)

    def reward(self, n: int) -> int:
        for m in self.members:
            m.add_score(n)
        return len(self.members)

    def total(self) -> int:
        t = 0
        for m in self.members:
            t += m.get_score()
        return t

    def best(self) -> str:
        best_name = ""
        best = -1
        for m in self.members:
            s = m.get_score()
            if s > best:
                best = s
                best_name = m.name
        return best_name

    def reward_each(self, ms: List[Member], n: int) -> List[int]:
        out = []
        for m in ms:
            out.append(m.add_score(n))
            n += 1
        return out

    def has(self, m: Member) -> bool:
        return m in self.members
