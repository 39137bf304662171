# expect: 28:23: unpacking arguments with * together with keyword arguments in a remote call is not supported: pass the values by position
# expect: 31:26: unpacking arguments with ** in a remote call is not supported: pass the values one by one
from typing import Dict, List
from stateflow import entity


@entity
class Stock:
    def __init__(self, sid: str):
        self.sid: str = sid

    def __key__(self):
        return self.sid

    def take(self, n: int, extra: int = 0) -> int:
        return n + extra


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def star_kw(self, s: Stock, xs: List[int]) -> int:
        return s.take(*xs, extra=1)

    def dstar(self, s: Stock, kw: Dict[str, int]) -> int:
        return s.take(1, **kw)
