from stateflow import entity


@entity
class Stock:
    def __init__(self, sku: str):
        self.sku: str = sku
        self.count: int = 0

    def __key__(self):
        return self.sku

    def add(self, n) -> int:
        self.count += n
        return self.count
