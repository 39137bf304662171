from stateflow import entity


@entity
class Node:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def depth(self, n: int) -> int:
        if n <= 0:
            return 0
        return 1 + self.depth(n - 1)
