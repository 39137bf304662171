# An application of several modules: this entry module, a package (booking)
# with relative imports and an import cycle, and a plain module (common).
from typing import List

from booking.hotel import Hotel
from booking.guest import Guest
from common import MAX_NIGHTS, BookingError
from stateflow import entity


@entity
class Agency:
    def __init__(self, name: str):
        self.name: str = name
        self.sold: int = 0
        self.failed: List[str] = []

    def __key__(self):
        return self.name

    def sell(self, guest: Guest, hotel: Hotel, nights: int) -> int:
        if nights > MAX_NIGHTS:
            self.failed.append(str(BookingError("too long: %d" % nights)))
            return -1
        paid = guest.book(hotel, nights)
        self.sold += nights
        return paid

    def limit(self) -> int:
        return MAX_NIGHTS
