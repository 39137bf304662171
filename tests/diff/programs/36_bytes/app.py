from typing import List
from stateflow import entity


@entity
class Blob:
    def __init__(self, name: str, data: bytes):
        self.name: str = name
        self.data: bytes = data
        self.chunks: List[bytes] = []

    def __key__(self):
        return self.name

    def append(self, b: bytes) -> int:
        self.data = self.data + b
        self.chunks.append(b)
        return len(self.data)

    def get_data(self) -> bytes:
        return self.data

    def head(self, n: int) -> bytes:
        return self.data[:n]

    def hexdigits(self) -> str:
        return self.data.hex()


@entity
class Copier:
    def __init__(self, name: str):
        self.name: str = name
        self.copied: int = 0

    def __key__(self):
        return self.name

    def copy(self, src: Blob, dst: Blob) -> int:
        n = dst.append(src.get_data())
        self.copied += 1
        return n

    def heads(self, a: Blob, b: Blob, n: int) -> List[bytes]:
        return [a.head(n), b.head(n)]
