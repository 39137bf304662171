# expect: 17:21: unknown type 'Pricee' in annotation
# expect: 24:27: unknown type 'Itme' in annotation
# expect: 24:44: unknown type 'Itme' in annotation
# expect: 24:65: unknown type 'Strr' in annotation
# expect: 25:12: unknown type 'Itme' in annotation
# expect: 28:26: invalid type annotation 'List[Item'
from typing import List, Optional
from stateflow import entity
import datetime

Money = int

@entity
class Item:
    def __init__(self, item_id: str):
        self.item_id = item_id
        self.price: Pricee = 0
        self.when: datetime.datetime = None
        self.cost: Money = 0

    def __key__(self):
        return self.item_id

    def link(self, other: Itme, more: List["Itme"]) -> Optional["Strr"]:
        x: Itme = other
        return None

    def bad(self, other: "List[Item") -> None:
        pass
