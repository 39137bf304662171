# expect: 7:1: no entity in this module: mark each entity class with @entity (`from stateflow import entity`) or @stateflow.stateflow (`import stateflow`)
import dataclasses

LIMIT = 3


class Item:
    def __init__(self, name: str):
        self.name = name

    def __key__(self):
        return self.name
