from stateflow import entity

from common import BookingError, check_nights

from . import nightly_price


@entity
class Hotel:
    def __init__(self, name: str, kind: str, rooms: int):
        self.name: str = name
        self.kind: str = kind
        self.free: int = rooms
        self.guests: list = []

    def __key__(self):
        return self.name

    def quote(self, nights: int) -> int:
        check_nights(nights)
        return nightly_price(self.kind, nights)

    def reserve(self, guest: "Guest", nights: int) -> int:
        if self.free == 0:
            raise BookingError("%s is full" % self.name)
        self.free -= 1
        self.guests.append(guest.name)
        return self.quote(nights)


# at the bottom: guest.py imports Hotel from this module (an import cycle)
from .guest import Guest  # noqa: E402
