from stateflow import entity


@entity
class Item:
    def __init__(self, name: str):
        self.name: str = name

    def __key__(self):
        return self.name

    async def fetch(self) -> str:
        return self.name
