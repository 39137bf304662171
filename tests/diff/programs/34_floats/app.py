from typing import List, Tuple
from stateflow import entity


@entity
class Gauge:
    def __init__(self, name: str, value: float):
        self.name: str = name
        self.value: float = value
        self.readings: List[float] = []

    def __key__(self):
        return self.name

    def add(self, v: float) -> float:
        self.value += v
        self.readings.append(self.value)
        return self.value

    def set_value(self, v: float) -> None:
        self.value = v

    def get(self) -> float:
        return self.value

    def scale(self, f: float) -> float:
        self.value = self.value * f
        return self.value

    def stats(self) -> Tuple[float, float]:
        if len(self.readings) == 0:
            return (0.0, 0.0)
        return (min(self.readings), sum(self.readings) / len(self.readings))


@entity
class Panel:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def combine(self, a: Gauge, b: Gauge) -> float:
        return a.get() * 0.5 + b.get() / 3

    def ratio(self, a: Gauge, b: Gauge) -> float:
        return a.get() / b.get()

    def specials(self) -> List[float]:
        return [100.0, 1e16, 1e22, 1.5e-7, 2.5e-05, 0.0001, -0.0, 123456789.125, 1 / 3, 2.0 ** 60]
