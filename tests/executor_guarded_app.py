# executor_guarded_app.py: an entity whose constructor can loop forever,
# catching Exception as careless user code would
# (tests/executor_stateflowd_guarded.py).
from stateflow import entity


@entity
class Slow:
    def __init__(self, name: str, spin: bool):
        self.name: str = name
        self.n: int = 0
        while spin:
            try:
                self.n += 1
            except Exception:
                pass

    def __key__(self):
        return self.name

    def ok(self) -> int:
        self.n += 1
        return self.n
