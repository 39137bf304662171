from stateflow import entity

from common import BookingError

from .hotel import Hotel


@entity
class Guest:
    def __init__(self, name: str, balance: int):
        self.name: str = name
        self.balance: int = balance
        self.stays: int = 0

    def __key__(self):
        return self.name

    def book(self, hotel: Hotel, nights: int) -> int:
        price = hotel.quote(nights)
        if price > self.balance:
            raise BookingError("%s cannot pay %d" % (self.name, price))
        paid = hotel.reserve(self, nights)
        self.balance -= paid
        self.stays += 1
        return paid
