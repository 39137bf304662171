from typing import List
from stateflow import entity


@entity
class Member:
    def __init__(self, name: str):
        self.name: str = name
        self.points: int = 0

    def __key__(self):
        return self.name

    def award(self, n: int) -> int:
        self.points += n
        return self.points


@entity
class Club:
    def __init__(self, name: str):
        self.name: str = name
        self.members: List[Member] = []
        self.codes: List[str] = []

    def __key__(self):
        return self.name

    def join(self, m: Member, code: str) -> int:
        self.members.append(m)
        self.codes.append(code)
        return len(self.members)

    def roster(self) -> List[Member]:
        return list(self.members)

    def code_list(self) -> List[str]:
        return list(self.codes)


@entity
class Sponsor:
    def __init__(self, name: str):
        self.name: str = name
        self.given: int = 0
        self.seen: List[str] = []

    def __key__(self):
        return self.name

    def sponsor(self, c: Club, n: int) -> int:
        for m in c.roster():
            m.award(n)
            self.given += n
        return self.given

    def read_codes(self, c: Club) -> int:
        for code in c.code_list():
            self.seen.append(code.upper())
        return len(self.seen)

    def top_up(self, c: Club, target: int) -> List[int]:
        out = []
        for m in c.roster():
            p = m.award(0)
            while p < target:
                p = m.award(3)
            out.append(p)
        return out
