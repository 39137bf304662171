from typing import List, Optional
from stateflow import entity


@entity
class Node:
    def __init__(self, name: str):
        self.name: str = name
        self.peer: Optional["Node"] = None

    def __key__(self):
        return self.name

    def link(self, other: "Node") -> str:
        other.set_peer(self)
        return other.peer_name()

    def set_peer(self, p: "Node") -> None:
        self.peer = p

    def peer_name(self) -> str:
        if self.peer is None:
            return "-"
        return self.peer.get_name()

    def get_name(self) -> str:
        return self.name

    def me(self) -> "Node":
        return self

    def write_me(self, other: "Node") -> str:
        other.peer = self
        return other.peer_name()

    def ask_back(self, other: "Node") -> str:
        return other.name_of(self)

    def name_of(self, n: "Node") -> str:
        return n.get_name() + "<-" + self.name
