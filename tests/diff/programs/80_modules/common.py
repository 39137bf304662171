"""Shared by the modules of the application."""

MAX_NIGHTS = 14


class BookingError(Exception):
    pass


def check_nights(nights: int) -> None:
    if nights <= 0 or nights > MAX_NIGHTS:
        raise BookingError("nights must be 1..%d, not %d" % (MAX_NIGHTS, nights))
