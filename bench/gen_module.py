#!/usr/bin/python3
"""Writes a synthetic StateFlow module for the compiler benchmark: N entities
(default 50), each with a key, a few typed attributes, local methods, and
methods that call the previous entity remotely (in conditions, loops and
nested expressions), so every stage of sfc has real work. About 40 lines per
entity: 50 entities give a 2,000-line module."""
import sys

def entity(i, out):
    prev = f"E{i - 1}" if i > 0 else None
    w = out.append
    w(f"@entity")
    w(f"class E{i}:")
    w(f"    def __init__(self, name: str, peer: {repr(prev) if prev else 'str'}):")
    w(f"        self.name: str = name")
    w(f"        self.count: int = 0")
    w(f"        self.total: float = 0.0")
    w(f"        self.tags: List[str] = []")
    if prev:
        w(f"        self.peer: {prev} = peer")
        w(f"        self.others: List[{prev}] = []")
    w(f"")
    w(f"    def __key__(self):")
    w(f"        return self.name")
    w(f"")
    w(f"    def bump(self, n: int) -> int:")
    w(f"        self.count += n")
    w(f"        return self.count")
    w(f"")
    w(f"    def describe(self) -> str:")
    w(f"        label = f'{{self.name}}:{{self.count}}'")
    w(f"        if self.tags:")
    w(f"            label += ',' + ','.join(self.tags)")
    w(f"        return label")
    w(f"")
    w(f"    def score(self) -> float:")
    w(f"        return self.total / max(1, self.count)")
    w(f"")
    if prev:
        w(f"    def work(self, n: int) -> int:")
        w(f"        got = self.peer.bump(n) * 2 + self.count")
        w(f"        if self.peer.score() > 1.0 and got > 3:")
        w(f"            self.total += got")
        w(f"        for other in self.others:")
        w(f"            if other.bump(1) > n:")
        w(f"                break")
        w(f"        while self.count < n:")
        w(f"            self.count += self.peer.bump(1)")
        w(f"        return got + helper(self.count)")
        w(f"")
        w(f"    def adopt(self, other: {prev}) -> None:")
        w(f"        self.others.append(other)")
        w(f"        self.tags.append(other.name)")
    else:
        w(f"    def work(self, n: int) -> int:")
        w(f"        return self.bump(n)")
    w(f"")
    w(f"")

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    out = ["from typing import List", "from stateflow import entity", "", "",
           "def helper(x: int) -> int:", "    return x * 3 + 1", "", ""]
    for i in range(n):
        entity(i, out)
    sys.stdout.write("\n".join(out) + "\n")

if __name__ == "__main__":
    main()
