from typing import List
from stateflow import entity


@entity
class Pile:
    def __init__(self, name: str, size: int):
        self.name: str = name
        self.size: int = size

    def __key__(self):
        return self.name

    def take(self, n: int) -> int:
        n = min(n, self.size)
        self.size -= n
        return n

    def put(self, n: int) -> int:
        self.size += n
        return self.size

    def get_size(self) -> int:
        return self.size


@entity
class Mover:
    def __init__(self, name: str, house: Pile):
        self.name: str = name
        self.house: Pile = house
        self.moved: List[int] = []

    def __key__(self):
        return self.name

    def move(self, src: Pile, cut: int) -> int:
        return self.house.put(src.take(cut))

    def record(self, n: int) -> int:
        self.moved.append(n)
        return len(self.moved)

    def move_and_record(self, src: Pile, cut: int) -> int:
        return self.record(src.take(cut))

    def biggest(self, a: Pile, b: Pile) -> int:
        return max(a.get_size(), b.get_size(), self.house.get_size())

    def describe(self, a: Pile) -> str:
        return str(a.get_size()) + "/" + str(len(self.moved))

    def halve_into_house(self, src: Pile) -> int:
        return self.house.put(src.take(src.get_size() // 2))
