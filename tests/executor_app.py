# executor_app.py: a generated module written by hand for the executor tests
# (docs/ir.md): entity classes with accessors, and every split method as block
# functions _sf_<E>_<m>_<k>(self, _f) returning block-result tuples:
#   (0, value) return | (1, target, method, args, k, bind, frame) call | (2, k, frame) jump
from typing import Optional


class Item:
    def __init__(self, item_id: str, price: int):
        self.item_id = item_id
        self.price = price
        self.stock = 0

    def __key__(self):
        return self.item_id

    def update_stock(self, amount: int) -> bool:
        if self.stock + amount < 0:
            return False
        self.stock += amount
        return True

    def _sf_get_price(self):
        return self.price

    def _sf_set_price(self, value):
        self.price = value


class User:
    def __init__(self, username: str):
        self.username = username
        self.balance = 0

    def __key__(self):
        return self.username

    def deposit(self, amount: int) -> int:
        self.balance += amount
        return self.balance

    def peek(self) -> int:
        return self.balance

    def fail(self, msg: str):
        self.balance += 1000
        raise ValueError(msg)

    def leak(self):
        self.balance += 1
        self.conn = object()
        return 1

    def bad_return(self):
        self.balance += 1
        return object()

    def me(self):
        return self

    def typed(self, i: int, f: float, s: str, b: bool, by: bytes, l: list, d: dict,
              it: "Item", o: Optional[int] = None):
        return [i, f, s, b, by, l, d, it, o]

    def _sf_get_balance(self):
        return self.balance


# User.buy_item(self, amount: int, item: Item) -> bool:
#     total = amount * item.price
#     if self.balance < total: return False
#     if not item.update_stock(-amount): return False
#     self.balance -= total
#     return True
def _sf_User_buy_item_0(self, _f):
    amount = _f['amount']
    item = _f['item']
    return (1, item, '_sf_get_price', (), 1, '_t0', {'amount': amount, 'item': item})


def _sf_User_buy_item_1(self, _f):
    amount = _f['amount']
    item = _f['item']
    total = amount * _f['_t0']
    if self.balance < total:
        return (0, False)
    return (1, item, 'update_stock', (-amount,), 2, '_t1', {'total': total})


def _sf_User_buy_item_2(self, _f):
    if not _f['_t1']:
        return (0, False)
    self.balance -= _f['total']
    return (0, True)


class Account:
    def __init__(self, name: str, balance: int = 0):
        self.name = name
        self.balance = balance

    def __key__(self):
        return self.name

    def add(self, amount: int) -> int:
        if self.balance + amount < 0:
            raise ValueError("insufficient funds in " + self.name)
        self.balance += amount
        return self.balance

    # Stub keeping the split method's signature: the runtime takes the
    # defaults of omitted parameters from it.
    def transfer(self, amount: int, to: "Account", note: str = "n/a"):
        raise AssertionError("split method called directly")


# Account.transfer: self.add(-amount) locally, then to.add(amount) remotely,
# returns the note.
def _sf_Account_transfer_0(self, _f):
    amount = _f['amount']
    if self.balance - amount < 0:
        raise ValueError("insufficient funds in " + self.name)
    self.balance -= amount
    return (1, _f['to'], 'add', (amount,), 1, None, {'note': _f['note']})


def _sf_Account_transfer_1(self, _f):
    return (0, _f['note'])


# Account.transfer_then_fail: the remote add happens, then an exception.
def _sf_Account_transfer_then_fail_0(self, _f):
    self.balance -= _f['amount']
    return (1, _f['to'], 'add', (_f['amount'],), 1, None, {})


def _sf_Account_transfer_then_fail_1(self, _f):
    raise RuntimeError("boom after remote")


class Node:
    def __init__(self, name: str):
        self.name = name
        self.x = 0
        self.log = []

    def __key__(self):
        return self.name

    def bump(self, v: int) -> int:
        self.x += v
        self.log.append(v)
        return self.x

    def store(self, v):
        self.kept = v

    def count_up(self, other: "Node", times: int = 3) -> int:
        raise RuntimeError("split method called directly")

    def stored(self):
        return self.kept


# Node.ping(self, other: Node): self.x = 10; r = other.pong(self);
#     return [r, self.x, list(self.log)]         (re-entrant: pong calls back)
def _sf_Node_ping_0(self, _f):
    self.x = 10
    return (1, _f['other'], 'pong', (self,), 1, 'r', {})


def _sf_Node_ping_1(self, _f):
    return (0, [_f['r'], self.x, list(self.log)])


# Node.pong(self, back: Node): v = back.bump(5); self.x += 1; return v
def _sf_Node_pong_0(self, _f):
    return (1, _f['back'], 'bump', (5,), 1, 'v', {})


def _sf_Node_pong_1(self, _f):
    self.x += 1
    return (0, _f['v'])


# Node.sum_to(self, other: Node, times: int): acc = 0
#     for i in range(times): acc += other.bump(1)
#     return acc
def _sf_Node_sum_to_0(self, _f):
    return (2, 1, {'other': _f['other'], 'i': 0, 'times': _f['times'], 'acc': 0})


def _sf_Node_sum_to_1(self, _f):
    if _f['i'] >= _f['times']:
        return (0, _f['acc'])
    return (1, _f['other'], 'bump', (1,), 2, 'r', dict(_f))


def _sf_Node_sum_to_2(self, _f):
    _f['acc'] += _f['r']
    _f['i'] += 1
    del _f['r']
    return (2, 1, _f)


# Node.twice(self, other: Node): a = self.sum_to(other, 2) (a local split
# call: target None); return a * 2
def _sf_Node_twice_0(self, _f):
    return (1, self, 'sum_to', (_f['other'], 2), 1, 'a', {})


def _sf_Node_twice_1(self, _f):
    return (0, _f['a'] * 2)


# Node.chain(self, n: int, other: Node): a chain of n nested remote calls.
def _sf_Node_chain_0(self, _f):
    if _f['n'] == 0:
        return (0, 0)
    return (1, _f['other'], 'chain', (_f['n'] - 1, self), 1, 'r', {})


def _sf_Node_chain_1(self, _f):
    return (0, _f['r'] + 1)


# Node.spin(self): while True: pass, through jumps
def _sf_Node_spin_0(self, _f):
    return (2, 0, {})


# Node.malformed(self): not a block result
def _sf_Node_malformed_0(self, _f):
    return (7, 'what')


# Node.touch_missing(self, other: Node): other.bump(1) where other may not exist
def _sf_Node_touch_missing_0(self, _f):
    return (1, _f['other'], 'bump', (1,), 1, None, {})


def _sf_Node_touch_missing_1(self, _f):
    return (0, None)


# Node.share(self, other: Node): values handed to another entity are copies.
#     self.mine = [1]; other.store(self.mine); self.mine.append(2)
#     return other.stored()
def _sf_Node_share_0(self, _f):
    self.mine = [1]
    return (1, _f['other'], 'store', (self.mine,), 1, None, {'other': _f['other']})


def _sf_Node_share_1(self, _f):
    self.mine.append(2)
    return (1, _f['other'], 'stored', (), 2, 'r', {})


def _sf_Node_share_2(self, _f):
    return (0, _f['r'])


# Node.send_object(self, other: Node): other.store(object()) cannot travel.
def _sf_Node_send_object_0(self, _f):
    return (1, _f['other'], 'store', (object(),), 1, None, {})


def _sf_Node_send_object_1(self, _f):
    return (0, None)


# Node.shout(self): user output goes to stderr, never into the replies.
def _sf_Node_shout_0(self, _f):
    print("hello from shout")
    return (0, "shouted")


# Node.count_up(self, other: Node, times: int = 3): return self.sum_to(other, times)
# (its stub in the class keeps the signature and so the default)
def _sf_Node_count_up_0(self, _f):
    return (1, self, 'sum_to', (_f['other'], _f['times']), 1, 'r', {})


def _sf_Node_count_up_1(self, _f):
    return (0, _f['r'])


# Node.via_self(self, other: Node): self.sum_to(other, 1), the compiler's way
# (target is the instance itself rather than None).
def _sf_Node_via_self_0(self, _f):
    return (1, self, 'sum_to', (_f['other'], 1), 1, 'r', {})


def _sf_Node_via_self_1(self, _f):
    return (0, _f['r'])


# Slow: user code outside methods that never returns (the watchdog must end
# it): __init__ with spin=True, and __key__ of an instance named "spin-key".
# Both catch Exception, as careless user code would.
class Slow:
    def __init__(self, name: str, spin: bool = False):
        self.name = name
        self.n = 0
        while spin:
            try:
                self.n += 1
            except Exception:
                pass

    def __key__(self):
        while self.name == "spin-key":
            try:
                self.n += 1
            except Exception:
                pass
        return self.name

    def ok(self) -> int:
        self.n += 1
        return self.n
