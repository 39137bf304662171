"""Values beyond JSON in state, in arguments and results between entities,
and in replies: dataclasses of the app (nested, frozen, with defaults), Enum
and IntEnum members, datetime/date/time/timedelta with time zones, Decimal,
bytearray, frozenset, tuples and integers beyond 64 bits."""
from dataclasses import dataclass, field, make_dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from typing import Dict, List
from zoneinfo import ZoneInfo

from stateflow import entity


class Status(Enum):
    OPEN = "open"
    PAID = "paid"
    SHIPPED = "shipped"


class Priority(IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str = "EUR"


@dataclass
class Line:
    sku: str
    qty: int
    price: Money
    tags: frozenset = frozenset()


@dataclass
class Purchase:
    number: int
    lines: List[Line]
    status: Status = Status.OPEN
    placed: datetime = datetime(2024, 1, 1, tzinfo=timezone.utc)
    window: tuple = (time(9, 0), time(17, 30, 0, 500))
    notes: List[str] = field(default_factory=list)


@entity
class Catalog:
    def __init__(self, name: str):
        self.name = name
        self.prices: Dict[str, Money] = {}
        self.since = date(2024, 1, 1)
        self.big = 2 ** 100
        self.neg_big = -(10 ** 40) + 7
        self.blob = bytearray(b"ab")
        self.opening = {Status.OPEN: time(8, 15, tzinfo=timezone(timedelta(hours=-5, minutes=-30), "EST+")),
                        Status.SHIPPED: None}

    def __key__(self):
        return self.name

    def set_price(self, sku: str, cents: int) -> Money:
        if cents < 0:
            raise ValueError("a price cannot be negative")
        m = Money(Decimal(cents) / Decimal(100))
        self.prices[sku] = m
        self.blob.extend(sku.encode())
        return m

    def price(self, sku: str) -> Money:
        return self.prices[sku]

    def quote(self, line: Line) -> Money:
        p = self.prices[line.sku]
        return Money(p.amount * line.qty, p.currency)

    def grow(self, times: int) -> int:
        self.big = self.big * (2 ** times) + 1
        return self.big

    def kinds(self) -> tuple:
        return (type(self.big).__name__, type(self.blob).__name__, type(self.since).__name__,
                type(self.prices).__name__, isinstance(self.opening[Status.OPEN].tzinfo, timezone))


@entity
class Customer:
    def __init__(self, name: str, catalog: Catalog):
        self.name = name
        self.catalog: Catalog = catalog
        self.purchases: List[Purchase] = []
        self.balance = Money(Decimal("0.00"))
        self.priority = Priority.LOW
        self.seen = frozenset({1, 2})
        self.counter = 10 ** 30
        self.home = "Europe/Paris"
        self.meeting = datetime(2024, 7, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))
        self.wait = timedelta(0)
        self.visits: Dict[date, int] = {}
        self.pair = (1, (2, "three"))

    def __key__(self):
        return self.name

    def order(self, sku: str, qty: int, day: int) -> dict:
        line = Line(sku, qty, self.catalog.price(sku), frozenset({"new"}))
        total = self.catalog.quote(line)
        placed = datetime(2024, 3, day, 12, 30, 15, 250000, tzinfo=timezone(timedelta(hours=2)))
        p = Purchase(len(self.purchases) + 1, [line], Status.PAID, placed)
        self.purchases.append(p)
        self.balance = Money(self.balance.amount + total.amount, total.currency)
        self.visits[placed.date()] = self.visits.get(placed.date(), 0) + 1
        self.wait = self.wait + timedelta(days=1, hours=2, minutes=3, seconds=4, microseconds=500000)
        return {"purchase": p, "total": total, "due": placed + timedelta(days=30)}

    def ship(self, number: int) -> Status:
        for p in self.purchases:
            if p.number == number:
                if p.status is not Status.PAID:
                    raise ValueError("purchase %d is not paid" % number)
                p.status = Status.SHIPPED
                p.notes.append("shipped")
                return p.status
        raise KeyError(number)

    def promote(self) -> Priority:
        self.priority = Priority(self.priority + 1)
        return self.priority

    def local_times(self) -> list:
        # a ZoneInfo zone in state; the offset depends on the date (DST)
        winter = datetime(2024, 1, 15, 9, 0, tzinfo=ZoneInfo(self.home))
        summer = datetime(2024, 7, 15, 9, 0, tzinfo=ZoneInfo(self.home))
        fold = datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo(self.home))
        return [winter, summer, fold, summer - winter, winter.astimezone(timezone.utc)]

    def checks(self) -> list:
        first = self.purchases[0]
        again = self.catalog.quote(first.lines[0])
        return [again == first.lines[0].price.__class__(first.lines[0].price.amount * first.lines[0].qty),
                first.status is Status.SHIPPED, type(self.seen).__name__, type(self.pair).__name__,
                type(self.pair[1]).__name__, self.counter + 1, -self.wait, Decimal("1.10") + Decimal("2.205"),
                self.seen | {3}, first.placed.tzinfo.utcoffset(None), hash(first.lines[0].price) == hash(self.catalog.price(first.lines[0].sku))]

    def frozen_write(self) -> str:
        try:
            self.balance.amount = Decimal(1)
        except AttributeError as e:
            return type(e).__name__
        return "changed"

    def bytes_and_ints(self) -> list:
        return [bytearray(b"\x00\xff"), 2 ** 64, -(2 ** 63) - 1, 2 ** 63 - 1, -(2 ** 63)]

    def too_big(self) -> int:
        self.counter = 10 ** 5000
        return 1

    def store_local(self) -> int:
        # a dataclass made at run time is not in the module: it cannot be stored
        local = make_dataclass("Local", ["x"])
        self.local = local(1)
        return 1

    def store_extra(self) -> int:
        p = Purchase(99, [])
        p.extra = "not a field"
        self.extra = p
        return 1

    def return_local_enum(self) -> str:
        return Enum("Mood", "OK").OK
