from stateflow import entity


@entity
class Summer:
    def __init__(self, name: str):
        self.name: str = name
        self.total: int = 0

    def __key__(self):
        return self.name

    def add(self, *values: int) -> int:
        self.total += sum(values)
        return self.total
