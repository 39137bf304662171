from typing import List, Optional
from stateflow import entity


@entity
class Node:
    def __init__(self, name: str, value: int):
        self.name: str = name
        self.value: int = value

    def __key__(self):
        return self.name

    def get_value(self) -> int:
        return self.value

    def bump(self) -> int:
        self.value += 1
        return self.value


@entity
class Holder:
    def __init__(self, name: str):
        self.name: str = name
        self.current: Optional[Node] = None
        self.history: List[str] = []

    def __key__(self):
        return self.name

    def attach(self, n: Node) -> None:
        self.current = n
        self.history.append("attach")

    def detach(self) -> None:
        self.current = None
        self.history.append("detach")

    def read(self) -> int:
        if self.current is None:
            return -1
        return self.current.get_value()

    def bump_if(self) -> int:
        if self.current is not None and self.current.bump() > 2:
            return 1
        return 0

    def read_or(self, other: Optional[Node]) -> int:
        if other is None:
            if self.current is None:
                return 0
            return self.current.get_value()
        return other.get_value()

    def swap(self, n: Optional[Node]) -> Optional[Node]:
        old = self.current
        self.current = n
        return old
