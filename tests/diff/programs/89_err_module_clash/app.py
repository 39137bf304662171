from typing import List

from stateflow import entity

from shelf import Shelf, LIMIT

LIMIT = 5


def describe(n: int) -> str:
    return "n=%d" % n


@entity
class Box:
    def __init__(self, name: str):
        self.name: str = name
        self.items: List[str] = []

    def __key__(self):
        return self.name
