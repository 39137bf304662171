from typing import List, Optional
from stateflow import entity


@entity
class Order:
    def __init__(self, order_id: str, buyer: "User", amount: int):
        self.order_id: str = order_id
        self.buyer: User = buyer
        self.amount: int = amount
        self.paid: bool = False

    def __key__(self):
        return self.order_id

    def pay(self) -> int:
        self.paid = True
        return self.buyer.charge(self.amount)


@entity
class Ticket:
    def __init__(self, number: int, note: str = "none"):
        self.number: int = number
        self.note: str = note

    def __key__(self):
        return self.number

    def describe(self) -> str:
        return str(self.number) + ":" + self.note


@entity
class User:
    def __init__(self, name: str):
        self.name: str = name
        self.balance: int = 100
        self.orders: List[Order] = []
        self.placed: int = 0
        self.last: Optional[Order] = None

    def __key__(self):
        return self.name

    def charge(self, n: int) -> int:
        self.balance -= n
        return self.balance

    def place(self, order_id: str, amount: int) -> Order:
        self.placed += 1
        order = Order(order_id, self, amount)
        self.orders.append(order)
        self.last = order
        return order

    def place_and_pay(self, order_id: str, amount: int) -> int:
        o = self.place(order_id, amount)
        return o.pay() + len(self.orders)

    def place_inline(self, order_id: str, amount: int) -> int:
        return Order(order_id, self, amount).pay()

    def order_ids(self) -> List[str]:
        out = []
        for o in self.orders:
            out.append(o.order_id)
        return out

    def invite(self, name: str) -> "User":
        u = User(name)
        u.charge(self.placed)
        return u

    def tickets(self, first: int, n: int) -> List[str]:
        out = []
        for i in range(n):
            t = Ticket(first + i, note="by " + self.name)
            out.append(t.describe())
        return out

    def plain_ticket(self, number: int) -> str:
        return Ticket(number).describe()
