from stateflow import entity


@entity
class Box:
    def __init__(self, name: str):
        self.name: str = name
        self.items: int = 0

    def __key__(self):
        return self.name

    def put(self, n: int) -> int:
        self.items += n
        return self.items
