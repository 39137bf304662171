from typing import Dict, Optional
from stateflow import entity


@entity
class Person:
    def __init__(self, name: str):
        self.name: str = name
        self.friend: Optional["Person"] = None
        self.greeted: int = 0

    def __key__(self):
        return self.name

    def set_friend(self, p: "Person") -> None:
        self.friend = p

    def get_friend(self) -> Optional["Person"]:
        return self.friend

    def greet(self) -> str:
        self.greeted += 1
        return "hi from " + self.name

    def friend_of_friend(self) -> str:
        f = self.friend
        if f is None:
            return ""
        ff = f.get_friend()
        if ff is None:
            return ""
        return ff.greet()


@entity
class Directory:
    def __init__(self, name: str):
        self.name: str = name
        self.people: Dict[str, Person] = {}

    def __key__(self):
        return self.name

    def add(self, p: Person) -> None:
        self.people[p.name] = p

    def find(self, name: str) -> Person:
        return self.people[name]

    def greet_via(self, d: "Directory", name: str) -> str:
        return d.find(name).greet()

    def friend_name(self, name: str) -> str:
        f = self.find(name).get_friend()
        if f is None:
            return "nobody"
        return f.name
