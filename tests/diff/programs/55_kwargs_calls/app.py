from typing import Dict, List
from stateflow import entity

LIMIT = 9


@entity
class Stock:
    def __init__(self, sid: str, qty: int):
        self.sid: str = sid
        self.qty: int = qty

    def __key__(self):
        return self.sid

    def take(self, n: int, note: str = "", extra: int = 0) -> str:
        self.qty -= n + extra
        return "%s:%d:%s" % (note, self.qty, self.sid)

    def capped(self, n: int, cap: int = LIMIT, strict: bool = False) -> int:
        return min(n, cap) if not strict else n


@entity
class Shop:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    def kw(self, s: Stock, opts: Dict[str, int]) -> str:
        return s.take(1, **opts)

    def kw_mixed(self, s: Stock, opts: Dict[str, int]) -> str:
        return s.take(note="m", **opts)

    def star_kw(self, s: Stock, xs: List[int]) -> str:
        return s.take(*xs, note="sk")

    def gap(self, s: Stock, opts: Dict[str, bool]) -> int:
        return s.capped(20, **opts)
