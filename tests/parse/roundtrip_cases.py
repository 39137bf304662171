# roundtrip_cases.py: Python 3.11 constructs that are easy to unparse wrongly.
# Only parsed (by tests/roundtrip.sh and test_parse), never run.
# -*- coding: utf-8 -*-
import a.b.c as d, e
from . import x
from .. import y as z
from ...pkg.mod import (p, q as r)
from mod import *

x = -1 ** 2
x = (-1) ** 2
x = 2 ** -1
x = 2 ** 3 ** 4
x = (2 ** 3) ** 4
x = -x ** -y
x = (await_ := 3)
x = not a == b
x = (not a) == b
x = a < b < c
x = (a < b) < c
x = a if b else c if d else e
x = (a if b else c) if d else e
x = lambda: (yield)
x = lambda a, /, b=1, *c, d, e=2, **f: a
x = lambda *, k: k
x = [*a, *b], {**c, 'd': 1}, {*e}
x = a[1:2, ::3, ...]
x = a[1:2]
x = a[:]
x = a[::-1]
x = a[()]
x = a[1,]
x = a[*b]
x = a[b, *c]
x = a[(b := 1)]
x = 1 .real
x = 1.0.real
x = 1j.imag
x = 0x10.real
x = (-1).real
x = 1e400, -1e400, 1e400j, 0j, 10 ** 100, 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF
x = 'a' 'b' "c'" 'd"' '\x00\t\n\\' '\u2028é' '\ud800'
x = b'\x00\xff' rb'\d'
x = ...
x = f(a for a in b)
x = f((a for a in b), c)
x = f(*a, *b, c=1, **d, **e)
x = f(a)(b)[c].d
x = (a, b) = c, d = e
a, *b = c
[a, b] = c
(a), b = c
x: int
x: int = 5
(y): int = 6
a.b: list[int] = []
a[0]: str
x += 1, 2
x |= y
x @= y
del a, (b, c), [d], e.f, g[0]
assert x, 'msg'
assert (x, y)
raise
raise E
raise E from None
global gx, gy
x = a or b and c or not d
x = (a or b) and c
x = a + (b + c) - (d - e)
x = a * (b / c) // d % e @ f
x = a << b >> c & d ^ e | f
x = (a | b) & c
x = ~a + -b - +c
x = - - a
x = await_ if await_ else None
x = [i for i in range(3) if i if not i for j in (1, 2)]
x = {k: v for k, v in items}
x = {k for k in s}
x = (lambda: 1)()
x = (yield_ for yield_ in y)
x = [(yield_ := 1) for _ in y]
x = a if (b := c) else d
x = *a, *b
x = *a,
x = ()
x = (1,)
print(*a, sep='')
x = f'{a}'
x = f'{a!r}'
x = f'{a!s:>10}'
x = f'{a:{b}.{c}}'
x = f"{a['k']}"
x = f'{a["k"]}'
x = f'''{a['k']}{b["j"]}'''
x = f'{ {1: 2}[1] }'
x = f'{(lambda: 1)()}'
x = f'{a if b else c}'
x = f'{(x := 3)}'
x = f'{{literal}} {x} \n \t \\ \' "'
x = f'{x=}'
x = f'{x = !r:10}'
x = f"{f'{x}'}"
x = f'{x:%H:%M}'
x = f'{3.14:.2f}' f'{1}' 'plain'
x = f''
x = rf'\d{x}'
x = f'{b"bytes"}'
x = f"{'multi' 'part'}"
x = f'''{"""triple"""}'''

@decorator
@decorator.attr(1, k=2)
@(lambda f: f)
def f(a, b: int = 1, /, c: 'str' = 'x', *args: int, d, e: int = 2, **kw: dict) -> None:
    """Docstring
    spanning lines."""
    nonlocal_x = 1

    def g():
        nonlocal nonlocal_x
        nonlocal_x += 1
        return nonlocal_x, 2
    return (yield from g())

def h(*, a): pass
def i(a, /): pass
def j(a=1, /, b=2): pass
def k(*a, **b): pass
def l(*args: *Ts): pass

async def coro():
    async with a as b, c as (d, e):
        pass
    async for i in aiter():
        await x
        x = await y
        x = [i async for i in z]
        x = await (await y)
        x = (await y) ** 2
        x = await y ** 2
    else:
        pass

class A(B, C, metaclass=M, **kw):
    x: int = 1

    @property
    def p(self): return self._p

class Empty:
    pass

class Kw(x=1):
    ...

for i in range(10):
    if i % 2:
        continue
    elif i > 5:
        break
    else:
        pass
else:
    pass

for a, b in c: pass
for (a, b), c in d: pass
for x in *a, *b: pass
while x := next(it, None):
    pass
else:
    x = 1

if a:
    pass
else:
    if b:
        pass
    x = 1

with a: pass
with a as b: pass
with a as b, c as d: pass
with (a, b): pass
with (a, b) as c: pass
with ((a, b)): pass
with (yield): pass
with a as (b, c): pass
with a as [b, c]: pass
with a as b.c, d as e[0]: pass

try:
    pass
except:
    pass

try:
    pass
except E as e:
    pass
except (E, F):
    pass
else:
    pass
finally:
    pass

try:
    pass
finally:
    pass

try:
    pass
except* E:
    pass
except* (F, G) as g:
    pass

match command.split():
    case [action]:
        pass
    case [action, obj]:
        s = """
  inner text
  keeps its indentation"""
    case Point(x=0, y=0) | {'k': _}:  # comment
        pass
    case _:
        pass

def in_func():
    match x:
        case 1 if y:
            return '''a
b'''
        case _:
            return (
    "continuation"
            )

x = (yield)
x = yield a, b
x = 'a' if (yield) else b
x = f"""{f'{f"{x}"}'}"""
x = f'''{"'"}'''
x = f'''{a['k']!r:{w}}''' f'{x}' "it's"
x = f'''{"""multi
line"""}'''
x = f'{d["#"]}'
