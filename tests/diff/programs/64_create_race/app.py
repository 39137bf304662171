import stateflow
from stateflow import entity


@entity
class Slot:
    def __init__(self, name: str, owner: "Player"):
        self.name: str = name
        self.owner: Player = owner

    def __key__(self):
        return self.name

    def owner_name(self) -> str:
        return self.owner.name


@entity
class Player:
    def __init__(self, name: str):
        self.name: str = name
        self.claims: int = 0

    def __key__(self):
        return self.name

    def claim(self, slot: str) -> Slot:
        self.claims += 1
        return Slot(slot, self)

    def release(self, s: Slot) -> int:
        stateflow.delete(s)
        self.claims -= 1
        return self.claims
