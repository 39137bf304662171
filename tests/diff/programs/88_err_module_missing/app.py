from stateflow import entity

from parts import Part
from .nothere import Missing


@entity
class Box:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name
