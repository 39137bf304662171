from stateflow import entity


@entity
class Meter:
    def __init__(self, name: str, level: int):
        self.name: str = name
        self.level: int = level
        self.reads: int = 0

    def __key__(self):
        return self.name

    def read(self) -> int:
        self.reads += 1
        return self.level

    def set_level(self, v: int) -> None:
        self.level = v


@entity
class Classifier:
    def __init__(self, name: str):
        self.name: str = name
        self.last: str = ""

    def __key__(self):
        return self.name

    def classify(self, m: Meter, lo: int, hi: int) -> str:
        if m.read() < lo:
            r = "low"
        elif m.read() > hi:
            r = "high"
        elif not m.read() != (lo + hi) // 2:
            r = "middle"
        else:
            r = "normal"
        self.last = r
        return r

    def compare(self, a: Meter, b: Meter) -> str:
        if a.read() > b.read():
            return "a"
        elif a.read() == b.read() or b.read() < 0:
            return "tie"
        return "b"
