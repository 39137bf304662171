# expect: 16:9: cannot assign key attribute 'username' outside __init__
# expect: 17:9: cannot assign key attribute 'username' outside __init__
# expect: 18:13: cannot assign key attribute 'username' outside __init__
# expect: 21:9: cannot assign key attribute 'username' outside __init__
from stateflow import entity

@entity
class User:
    def __init__(self, username: str):
        self.username: str = username

    def __key__(self):
        return self.username

    def rename(self, name: str, other: "User") -> None:
        self.username = name
        self.username += "x"
        del self.username

    def rename_other(self, other: "User") -> None:
        other.username = "y"
