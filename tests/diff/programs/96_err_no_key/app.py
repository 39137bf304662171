from stateflow import entity


@entity
class Thing:
    def __init__(self, name: str):
        self.name: str = name

    def size(self) -> int:
        return len(self.name)
