from typing import List

from stateflow import entity

LIMIT = 3


def describe(n: int) -> str:
    return "%d items" % n


@entity
class Shelf:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def label(self) -> str:
        return describe(LIMIT)
