from typing import Dict, List, Optional, Set, Tuple
from stateflow import entity


@entity
class Vault:
    def __init__(self, name: str):
        self.name: str = name
        self.data: Dict[str, List[int]] = {}
        self.pairs: List[Tuple[int, str]] = []
        self.tags: Set[str] = set()
        self.blob: bytes = b""
        self.ratio: float = 1.0
        self.nested: Dict[int, Dict[str, Tuple[int, int]]] = {}
        self.maybe: Optional[int] = None
        self.flags: Tuple[bool, bool] = (False, True)
        self.empty: List[List[int]] = [[], []]

    def __key__(self):
        return self.name

    def append(self, k: str, v: int) -> int:
        if k not in self.data:
            self.data[k] = []
        self.data[k].append(v)
        self.pairs.append((v, k))
        return len(self.data[k])

    def add_tag(self, tag: str) -> int:
        self.tags.add(tag)
        return len(self.tags)

    def set_blob(self, b: bytes) -> int:
        self.blob = self.blob + b
        return len(self.blob)

    def scale(self, f: float) -> float:
        self.ratio = self.ratio * f
        return self.ratio

    def put_nested(self, i: int, k: str, a: int, b: int) -> int:
        if i not in self.nested:
            self.nested[i] = {}
        self.nested[i][k] = (a, b)
        return len(self.nested)

    def set_maybe(self, v: Optional[int]) -> None:
        self.maybe = v

    def flip(self) -> Tuple[bool, bool]:
        self.flags = (self.flags[1], self.flags[0])
        return self.flags

    def tags_sorted(self) -> List[str]:
        return sorted(self.tags)

    def snapshot(self) -> Dict[str, int]:
        return {"data": len(self.data), "pairs": len(self.pairs), "tags": len(self.tags)}
