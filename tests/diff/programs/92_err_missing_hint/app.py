from stateflow import entity


@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name
        self.price: int = 0

    def __key__(self):
        return self.name

    def set_price(self, price) -> None:
        self.price = price
