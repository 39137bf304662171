from typing import List
from stateflow import entity


@entity
class Seat:
    def __init__(self, number: int):
        self.number: int = number
        self.holder: str = ""

    def __key__(self):
        return self.number

    def book(self, who: str) -> bool:
        if self.holder != "":
            return False
        self.holder = who
        return True

    def free(self) -> bool:
        return self.holder == ""


@entity
class Hall:
    def __init__(self, hall_id: int):
        self.hall_id: int = hall_id
        self.seats: List[Seat] = []

    def __key__(self):
        return self.hall_id

    def add(self, s: Seat) -> int:
        self.seats.append(s)
        return len(self.seats)

    def book_first_free(self, who: str) -> int:
        for s in self.seats:
            if s.book(who):
                return s.number
        return -1

    def free_count(self) -> int:
        n = 0
        for s in self.seats:
            if s.free():
                n += 1
        return n
