# Unusual forms of comprehensions with remote operations: several generators
# and conditions, unpacking into a dict or list display, f-strings, three
# levels of nesting, a subscript target, keyword arguments of the builtins.
from typing import List, Dict
from stateflow import entity


@entity
class R:
    def __init__(self, k: str):
        self.k: str = k
        self.v: int = 1

    def __key__(self):
        return self.k

    def f(self, a: int) -> int:
        return 1


@entity
class S:
    def __init__(self, k: str, r: R):
        self.k: str = k
        self.r: R = r
        self.d: Dict[str, int] = {}

    def __key__(self):
        return self.k

    def m1(self, xs: List[R]) -> list:
        a = [y for x in xs for y in [x.v] for z in [y] if z if x.v]
        b = {**{x.k: x.v for x in xs}}
        c = [*[x.v for x in xs]]
        d = sum(x.v for x in xs if x.v for _ in range(x.v))
        e = f"{[x.v for x in xs]!r:>{3}}"
        g = [[[x.v + y + z for z in range(y)] for y in range(x.v)] for x in xs]
        h = max((x.v for x in xs), key=lambda q: q, default=None)
        i = sorted((x.v for x in xs), reverse=len(xs) > 2, key=None)
        j = sum((x.v for x in xs), start=5)
        k = [x.v for x in xs][0] if xs else 0
        self.d[[x.k for x in xs if x.v][0]] = 3
        l = any([x.v for x in xs])
        m = all(x.v for x in xs) or any(x.v for x in xs)
        n = {x.v for x in xs} | {x.v for x in xs}
        o = [x.v for x in xs] == [x.v for x in xs]
        assert [x.v for x in xs] is not None
        p = min(x.v for x in xs for x in [x])
        q = [self.r.f(*[x.v]) for x in xs]
        t = " ".join(str(x.v) for x in xs)
        return [a, b, c, d, e, g, h, i, j, k, l, m, sorted(n), o, p, q, t, self.d]
