# A method that never returns: sfrun's --time-limit must end it (tests/sfrun_time_limit.sh).
from stateflow import entity

@entity
class Spin:
    def __init__(self, name: str):
        self.name: str = name
        self.n: int = 0

    def __key__(self):
        return self.name

    def forever(self) -> int:
        while True:
            try:
                self.n += 1
            except Exception:
                pass

    def ok(self) -> int:
        self.n += 1
        return self.n
