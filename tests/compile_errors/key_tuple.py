# expect: 13:16: a key of several attributes is not supported (entity 'Seat'): give it one key attribute, e.g. `self.key = f"{self.row}:{self.col}"` in __init__ and `return self.key`
# expect: 24:16: key attribute 'pos' of entity 'Cell' is a tuple, which is not supported as a key: make it a str or an int
from typing import Tuple
from stateflow import entity

@entity
class Seat:
    def __init__(self, row: int, col: int):
        self.row: int = row
        self.col: int = col

    def __key__(self):
        return (self.row, self.col)

    def free(self) -> bool:
        return True

@entity
class Cell:
    def __init__(self, x: int, y: int):
        self.pos: Tuple[int, int] = (x, y)

    def __key__(self):
        return self.pos
