"""JSON arguments converted by the parameters' type hints (FastAPI-style):
ISO 8601 strings for datetimes, numbers or durations for timedeltas,
strings or numbers for Decimal, values for Enums, objects for dataclasses
(nested, with defaults, validated by __post_init__), arrays for tuples,
sets and frozensets, bytes for bytearray; a value that does not fit is a
TypeError naming the parameter."""
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from stateflow import entity


class Size(Enum):
    S = "s"
    M = "m"
    L = "l"


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str = "EUR"

    def __post_init__(self):
        if self.amount < 0:
            raise ValueError("amount must not be negative")


@dataclass
class Slot:
    day: date
    start: time
    length: timedelta = timedelta(hours=1)
    tags: List[str] = field(default_factory=list)


@entity
class Desk:
    def __init__(self, name: str, opened: datetime, fee: Money):
        self.name = name
        self.opened = opened
        self.fee = fee
        self.slots: List[Slot] = []
        self.sizes: Dict[str, Size] = {}
        self.log: List[tuple] = []

    def __key__(self):
        return self.name

    def book(self, slot: Slot, size: Size, who: Optional[str] = None) -> dict:
        self.slots.append(slot)
        self.sizes[who or "anon"] = size
        end = datetime.combine(slot.day, slot.start) + slot.length
        return {"end": end, "size": size, "types": [type(slot.day).__name__, type(slot.length).__name__]}

    def pay(self, m: Money, when: datetime, within: timedelta) -> list:
        late = when - self.opened > within
        return [m, m.amount + self.fee.amount, late, type(m.amount).__name__]

    def shapes(self, t: Tuple[int, str], s: Set[int], f: FrozenSet[str], b: bytearray,
               days: List[date], by: Dict[str, Decimal]) -> list:
        self.log.append(t)
        return [type(t).__name__, type(s).__name__, type(f).__name__, type(b).__name__, sorted(s),
                sorted(f), t, days, by, b]

    def maybe(self, d: Optional[date] = None) -> Optional[date]:
        return d
