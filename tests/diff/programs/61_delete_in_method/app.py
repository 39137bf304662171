from typing import List, Optional
import stateflow
from stateflow import entity


@entity
class Book:
    def __init__(self, isbn: str, title: str):
        self.isbn: str = isbn
        self.title: str = title
        self.loans: int = 0

    def __key__(self):
        return self.isbn

    def lend(self) -> int:
        self.loans += 1
        return self.loans


@entity
class Shelf:
    def __init__(self, name: str):
        self.name: str = name
        self.books: List[Book] = []
        self.removed: int = 0

    def __key__(self):
        return self.name

    def add(self, book: Book) -> int:
        self.books.append(book)
        return len(self.books)

    def discard(self, book: Book) -> int:
        stateflow.delete(book)
        self.removed += 1
        return self.removed

    def discard_and_read(self, book: Book) -> str:
        self.removed += 1
        stateflow.delete(book)
        return book.title

    def discard_twice(self, book: Book) -> int:
        self.removed += 1
        stateflow.delete(book)
        stateflow.delete(book)
        return self.removed

    def lend_all(self) -> int:
        total = 0
        for b in self.books:
            total += b.lend()
        return total

    def replace(self, book: Book, title: str) -> str:
        isbn = book.isbn
        stateflow.delete(book)
        fresh = Book(isbn, title)
        return fresh.title + "/" + str(fresh.lend())

    def discard_maybe(self, book: Optional[Book]) -> int:
        self.removed += 1
        stateflow.delete(book)
        return self.removed

    def close(self) -> int:
        n = self.removed
        stateflow.delete(self)
        return n + len(self.books)
