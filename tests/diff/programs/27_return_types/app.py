from typing import Dict, List, Optional, Set, Tuple
from stateflow import entity


@entity
class Thing:
    def __init__(self, name: str, size: int):
        self.name: str = name
        self.size: int = size

    def __key__(self):
        return self.name

    def pair(self) -> Tuple[int, str]:
        return (self.size, self.name)

    def as_dict(self) -> Dict[str, int]:
        return {"size": self.size, "double": self.size * 2}

    def as_set(self) -> Set[int]:
        return {self.size % 7, 3, 1, self.size % 5}

    def nothing(self) -> None:
        self.size += 0


@entity
class Maker:
    def __init__(self, name: str):
        self.name: str = name
        self.things: List[Thing] = []

    def __key__(self):
        return self.name

    def add(self, t: Thing) -> int:
        self.things.append(t)
        return len(self.things)

    def first(self) -> Thing:
        return self.things[0]

    def all_things(self) -> List[Thing]:
        return list(self.things)

    def maybe(self, i: int) -> Optional[Thing]:
        return self.things[i] if i < len(self.things) else None

    def by_name(self) -> Dict[str, Thing]:
        out = {}
        for t in self.things:
            out[t.name] = t
        return out

    def remote_tuple(self, t: Thing) -> Tuple[int, str]:
        return t.pair()

    def remote_set(self, t: Thing) -> Set[int]:
        return t.as_set()

    def remote_none(self, t: Thing) -> None:
        return t.nothing()

    def nested(self) -> Dict[str, List[Tuple[int, str]]]:
        out = {"all": []}
        for t in self.things:
            out["all"].append(t.pair())
        return out

    def mixed(self, t: Thing) -> Tuple[Thing, Dict[str, int], List[Optional[int]]]:
        return (t, t.as_dict(), [None, 1])
