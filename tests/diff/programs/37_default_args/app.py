from stateflow import entity


@entity
class Counter:
    def __init__(self, name: str, start: int = 0):
        self.name: str = name
        self.value: int = start

    def __key__(self):
        return self.name

    def add(self, n: int = 1, times: int = 1) -> int:
        self.value += n * times
        return self.value

    def reset(self, to: int = 0) -> int:
        self.value = to
        return self.value


@entity
class Clicker:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def bump(self, c: Counter, n: int = 5) -> int:
        return c.add(n) + c.add()

    def bump_times(self, c: Counter) -> int:
        return c.add(2, 3)
