from typing import List
from stateflow import entity


@entity
class Book:
    def __init__(self, title: str, copies: int):
        self.title: str = title
        self.copies: int = copies

    def __key__(self):
        return self.title

    def available(self) -> bool:
        return self.copies > 0

    def lend(self) -> int:
        self.copies -= 1
        return self.copies

    def copies_left(self) -> int:
        return self.copies


@entity
class Library:
    def __init__(self, name: str):
        self.name: str = name
        self.books: List[Book] = []
        self.lent: int = 0

    def __key__(self):
        return self.name

    def add(self, b: Book) -> int:
        self.books.append(b)
        return len(self.books)

    def lend_first_available(self) -> str:
        for b in self.books:
            if b.available():
                b.lend()
                self.lent += 1
                return b.title
        return ""

    def find(self, title: str) -> int:
        i = 0
        while i < len(self.books):
            if self.books[i].title == title:
                return i
            i += 1
        return -1

    def first_with(self, n: int) -> int:
        for i in range(n):
            for b in self.books:
                if b.copies_left() == i:
                    return i * 10 + len(b.title)
        return -1
