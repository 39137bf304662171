from typing import Optional
from stateflow import entity


@entity
class Ping:
    def __init__(self, name: str):
        self.name: str = name
        self.peer: Optional["Pong"] = None

    def __key__(self):
        return self.name

    def ping(self, n: int) -> int:
        if self.peer is None or n <= 0:
            return 0
        return self.peer.pong(n)


@entity
class Pong:
    def __init__(self, name: str, back: Ping):
        self.name: str = name
        self.back: Ping = back

    def __key__(self):
        return self.name

    def pong(self, n: int) -> int:
        return self.back.ping(n - 1)
