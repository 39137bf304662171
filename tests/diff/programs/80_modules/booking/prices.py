BASE = {"city": 80, "beach": 120}


def nightly_price(kind: str, nights: int) -> int:
    price = BASE.get(kind, 100) * nights
    if nights >= 7:
        price -= price // 10
    return price
