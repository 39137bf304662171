# expect: 22:15: self cannot be put in a container or stored in state (at run time it is the instance, not a reference): pass it directly to a remote call or return it, or store its key (`self.name`)
# expect: 23:21: self cannot be put in a container or stored in state
# expect: 24:26: self cannot be put in a container or stored in state
# expect: 25:25: self cannot be put in a container or stored in state
# expect: 26:24: self cannot be put in a container or stored in state
from typing import Dict, List, Optional
from stateflow import entity


@entity
class Node:
    def __init__(self, name: str):
        self.name: str = name
        self.peer: Optional["Node"] = None
        self.seen: List["Node"] = []
        self.by: Dict[str, "Node"] = {}

    def __key__(self):
        return self.name

    def store(self, other: "Node") -> List["Node"]:
        xs = [self, other]
        self.peer = self
        self.seen.append(self)
        self.by["me"] = self
        return [other, self]
