"""stateflow._msgpack: a small, strict msgpack codec for StateFlow values.

Owns the client side of the value model (DESIGN 5.1, include/stateflow/
sf_value.h) in pure Python, standard library only:

    None, bool, int (signed 64-bit), float (float64), str, bytes, list,
    dict, tuple (ext 1), set (ext 2), Ref (ext 3), and the values beyond
    JSON: frozenset (4), int beyond 64 bits (5), bytearray (6), Decimal (7),
    datetime (8), date (9), time (10), timedelta (11), Enum member (12),
    dataclass instance (13)

An extension payload is itself one msgpack array: the elements of a tuple or
a set, ``[entity, key]`` for a reference; docs/ir.md ("Value encoding") has
the payloads of the others.  Enum members and dataclass instances are
written with their class's ``__qualname__`` (the runtime finds the class by
that name in the application's module).  When decoding, ``unpackb(data,
classes=module)`` finds them the same way; without ``classes`` an Enum member
decodes to its value and a dataclass to a dict of its fields, which is what
the JSON replies of the HTTP gateway carry.

Encoding writes exactly what the runtime's encoder (runtime/exec/pycodec.c, built
on msgpack-c) writes for the same value: the shortest header of each kind,
integers >= 128 in the unsigned forms, floats always as float64, fixext for
payloads of 1, 2, 4, 8 or 16 bytes, set elements sorted by their encoded
bytes.  Byte-identical encodings matter: the runtime places and finds an
instance by the msgpack bytes of its key.

Decoding accepts every well-formed msgpack encoding of these values (any
integer width, float32 widened) and refuses everything else with a
MsgpackError that names the byte offset: truncated input, the byte 0xc1,
trailing bytes, invalid UTF-8, unsigned integers above 2**63-1, unknown
extension types, malformed extension payloads, lists or dicts as dict keys
or set elements, nesting deeper than MAX_DEPTH containers, more than
MAX_BYTES of input.
"""

import dataclasses
import datetime
import decimal
import enum
import struct

__all__ = ["Ref", "MsgpackError", "packb", "unpackb", "MAX_DEPTH", "MAX_BYTES",
           "EXT_TUPLE", "EXT_SET", "EXT_REF"]

# include/stateflow/sf_value.h
EXT_TUPLE = 1
EXT_SET = 2
EXT_REF = 3
EXT_FROZENSET = 4
EXT_BIGINT = 5
EXT_BYTEARRAY = 6
EXT_DECIMAL = 7
EXT_DATETIME = 8
EXT_DATE = 9
EXT_TIME = 10
EXT_TIMEDELTA = 11
EXT_ENUM = 12
EXT_DATACLASS = 13
MAX_INT_DIGITS = 4300       # longest int beyond 64 bits, in decimal digits
MAX_DEPTH = 64              # containers (array, map, ext) nested at most this deep
MAX_BYTES = 16 << 20        # largest single encoded value

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

_pack_d = struct.Struct(">d").pack
_unpack_d = struct.Struct(">d").unpack_from
_unpack_f = struct.Struct(">f").unpack_from


class MsgpackError(ValueError):
    """A value that cannot be encoded, or bytes that do not decode."""


def _freeze(v):
    """A hashable stand-in for a key, for Ref.__hash__ (lists become tuples,
    dicts frozensets of their items)."""
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return frozenset((_freeze(k), _freeze(x)) for k, x in v.items())
    if isinstance(v, (set, frozenset)):
        return frozenset(_freeze(x) for x in v)
    if isinstance(v, tuple):
        return tuple(_freeze(x) for x in v)
    return v


class Ref:
    """A reference to an entity instance: ``Ref("Item", "apple")``.

    Read-only ``.entity`` (a non-empty str) and ``.key`` (any value); equal
    and hashed by (entity, key); ``repr`` is ``Ref('Item', 'apple')``, like
    the runtime's own Ref type.
    """

    __slots__ = ("_entity", "_key")

    def __init__(self, entity, key):
        if not isinstance(entity, str) or not entity:
            raise TypeError("Ref entity must be a non-empty str, not %r" % (entity,))
        object.__setattr__(self, "_entity", entity)
        object.__setattr__(self, "_key", key)

    @property
    def entity(self):
        return self._entity

    @property
    def key(self):
        return self._key

    def __setattr__(self, name, value):
        raise AttributeError("Ref is read-only")

    def __delattr__(self, name):
        raise AttributeError("Ref is read-only")

    def __eq__(self, other):
        if isinstance(other, Ref):
            return (self._entity == other._entity and type(self._key) is type(other._key)
                    and self._key == other._key)
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self):
        return hash(("stateflow.Ref", self._entity, _freeze(self._key)))

    def __repr__(self):
        return "Ref(%r, %r)" % (self._entity, self._key)

    def __reduce__(self):
        return (Ref, (self._entity, self._key))


# ---------------------------------------------------------------- encoding

def _int_header(out, v):
    if v < 0:
        if v >= -32:
            out.append(v & 0xff)
        elif v >= -(1 << 7):
            out += b"\xd0" + v.to_bytes(1, "big", signed=True)
        elif v >= -(1 << 15):
            out += b"\xd1" + v.to_bytes(2, "big", signed=True)
        elif v >= -(1 << 31):
            out += b"\xd2" + v.to_bytes(4, "big", signed=True)
        elif v >= _INT64_MIN:
            out += b"\xd3" + v.to_bytes(8, "big", signed=True)
        else:
            raise MsgpackError("int too large (more than 64 bits)")
    elif v < 128:
        out.append(v)
    elif v < (1 << 8):
        out += b"\xcc" + v.to_bytes(1, "big")
    elif v < (1 << 16):
        out += b"\xcd" + v.to_bytes(2, "big")
    elif v < (1 << 32):
        out += b"\xce" + v.to_bytes(4, "big")
    elif v <= _INT64_MAX:
        out += b"\xcf" + v.to_bytes(8, "big")
    else:
        raise MsgpackError("int too large (more than 64 bits)")


def _sized_header(out, n, fix_base, fix_limit, op8, op16, op32):
    if fix_base is not None and n < fix_limit:
        out.append(fix_base | n)
    elif op8 is not None and n < (1 << 8):
        out.append(op8)
        out.append(n)
    elif n < (1 << 16):
        out.append(op16)
        out += n.to_bytes(2, "big")
    elif n < (1 << 32):
        out.append(op32)
        out += n.to_bytes(4, "big")
    else:
        raise MsgpackError("value too large (more than %d bytes encoded)" % MAX_BYTES)


def _ext_header(n, ext_type):
    fix = {1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}.get(n)
    if fix is not None:
        return bytes((fix, ext_type))
    if n < (1 << 8):
        return bytes((0xc7, n, ext_type))
    if n < (1 << 16):
        return b"\xc8" + n.to_bytes(2, "big") + bytes((ext_type,))
    return b"\xc9" + n.to_bytes(4, "big") + bytes((ext_type,))


class _Encoder:
    __slots__ = ("default",)

    def __init__(self, default):
        self.default = default

    def enc(self, out, o, depth):
        t = type(o)
        if t is str:
            try:
                b = o.encode("utf-8")
            except UnicodeEncodeError:
                raise MsgpackError("cannot encode a str that is not valid Unicode "
                                   "(it holds a lone surrogate)") from None
            _sized_header(out, len(b), 0xa0, 32, 0xd9, 0xda, 0xdb)
            out += b
        elif t is int:
            if _INT64_MIN <= o <= _INT64_MAX:
                _int_header(out, o)
            else:
                self._depth(depth)
                try:
                    text = str(o)
                except ValueError:
                    text = None
                if text is None or len(text.lstrip("-")) > MAX_INT_DIGITS:
                    raise MsgpackError("int too large (more than %d digits)" % MAX_INT_DIGITS)
                self._ext(out, EXT_BIGINT, [text], depth)
        elif o is None:
            out.append(0xc0)
        elif o is True:
            out.append(0xc3)
        elif o is False:
            out.append(0xc2)
        elif t is float:
            out.append(0xcb)
            out += _pack_d(o)
        elif t is dict:
            self._depth(depth)
            _sized_header(out, len(o), 0x80, 16, None, 0xde, 0xdf)
            for k, v in o.items():
                self.enc(out, k, depth + 1)
                self.enc(out, v, depth + 1)
            self._size(out)
        elif t is list:
            self._depth(depth)
            _sized_header(out, len(o), 0x90, 16, None, 0xdc, 0xdd)
            for x in o:
                self.enc(out, x, depth + 1)
            self._size(out)
        elif t is tuple:
            self._depth(depth)
            body = bytearray()
            _sized_header(body, len(o), 0x90, 16, None, 0xdc, 0xdd)
            for x in o:
                self.enc(body, x, depth + 1)
            out += _ext_header(len(body), EXT_TUPLE)
            out += body
            self._size(out)
        elif t is bytes or t is memoryview:
            b = bytes(o)
            _sized_header(out, len(b), None, 0, 0xc4, 0xc5, 0xc6)
            out += b
            self._size(out)
        elif t is Ref:
            self._depth(depth)
            body = bytearray(b"\x92")
            self.enc(body, o.entity, depth + 1)
            self.enc(body, o.key, depth + 1)
            out += _ext_header(len(body), EXT_REF)
            out += body
            self._size(out)
        elif t is set or t is frozenset:
            self._depth(depth)
            ext = EXT_SET if t is set else EXT_FROZENSET
            elems = []
            for x in o:
                b = bytearray()
                self.enc(b, x, depth + 1)
                elems.append(bytes(b))
            elems.sort()
            body = bytearray()
            _sized_header(body, len(elems), 0x90, 16, None, 0xdc, 0xdd)
            for b in elems:
                body += b
            out += _ext_header(len(body), ext)
            out += body
            self._size(out)
        elif t is bytearray:
            self._depth(depth)
            self._ext(out, EXT_BYTEARRAY, [bytes(o)], depth)
        elif t is decimal.Decimal:
            self._depth(depth)
            self._ext(out, EXT_DECIMAL, [str(o)], depth)
        elif t is datetime.datetime:
            self._depth(depth)
            self._ext(out, EXT_DATETIME, [o.year, o.month, o.day, o.hour, o.minute, o.second,
                                          o.microsecond, o.fold] + _tz(o), depth)
        elif t is datetime.date:
            self._depth(depth)
            self._ext(out, EXT_DATE, [o.year, o.month, o.day], depth)
        elif t is datetime.time:
            self._depth(depth)
            self._ext(out, EXT_TIME, [o.hour, o.minute, o.second, o.microsecond, o.fold] + _tz(o), depth)
        elif t is datetime.timedelta:
            self._depth(depth)
            self._ext(out, EXT_TIMEDELTA, [o.days, o.seconds, o.microseconds], depth)
        elif isinstance(o, enum.Enum):
            self._depth(depth)
            self._ext(out, EXT_ENUM, [t.__qualname__, o._name_, o._value_], depth)
        elif dataclasses.is_dataclass(o) and not isinstance(o, type):
            self._depth(depth)
            self._depth(depth + 1)
            fields = {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
            extra = [k for k in getattr(o, "__dict__", {}) if k not in fields]
            if extra:
                raise MsgpackError("cannot encode dataclass '%s': its attribute '%s' is not a field"
                                   % (t.__name__, extra[0]))
            self._ext(out, EXT_DATACLASS, [t.__qualname__, fields], depth)
        elif self.default is not None:
            replacement = self.default(o)
            if replacement is o:
                raise MsgpackError("cannot encode a value of type '%s'" % t.__name__)
            self.enc(out, replacement, depth)
        else:
            raise MsgpackError("cannot encode a value of type '%s'" % t.__name__)

    def _ext(self, out, ext, items, depth):
        """An ext whose payload is the array `items` (its elements one level
        down, like a tuple's)."""
        body = bytearray()
        _sized_header(body, len(items), 0x90, 16, None, 0xdc, 0xdd)
        for x in items:
            self.enc(body, x, depth + 1)
        out += _ext_header(len(body), ext)
        out += body
        self._size(out)

    @staticmethod
    def _depth(depth):
        if depth >= MAX_DEPTH:
            raise MsgpackError("nested too deeply (limit %d)" % MAX_DEPTH)

    @staticmethod
    def _size(out):
        if len(out) > MAX_BYTES:
            raise MsgpackError("value too large (more than %d bytes encoded)" % MAX_BYTES)


def _micros(td):
    return (td.days * 86400 + td.seconds) * 1000000 + td.microseconds


def _tz(o):
    """The tz elements of a datetime or time: [] or [kind, offset, name/key]."""
    tz = o.tzinfo
    if tz is None:
        return []
    off = o.utcoffset()
    off = None if off is None else _micros(off)
    if type(tz) is datetime.timezone:
        args = tz.__getinitargs__()
        return [0, off, args[1] if len(args) > 1 else None]
    if type(tz).__name__ == "ZoneInfo" and type(tz).__module__ == "zoneinfo":
        if tz.key is None:
            raise MsgpackError("cannot encode a ZoneInfo without a key (made from a file)")
        return [1, off, tz.key]
    raise MsgpackError("cannot encode a %s whose tzinfo is of type '%s' (use datetime.timezone or "
                       "zoneinfo.ZoneInfo)" % (type(o).__name__, type(tz).__name__))


def packb(obj, default=None):
    """The msgpack bytes of ``obj``.

    Only exact types of the value model are accepted (memoryview is written
    as bin); Enum members and dataclass instances of any class.  For anything else ``default(obj)`` is
    called, when given, and must return a replacement value (or raise).
    Raises MsgpackError for values outside the model, ints beyond 64 bits,
    strs with lone surrogates, nesting deeper than MAX_DEPTH, or more than
    MAX_BYTES of output.
    """
    out = bytearray()
    _Encoder(default).enc(out, obj, 0)
    if len(out) > MAX_BYTES:
        raise MsgpackError("value too large (more than %d bytes encoded)" % MAX_BYTES)
    return bytes(out)


# ---------------------------------------------------------------- decoding

class _Decoder:
    __slots__ = ("buf", "pos", "end", "classes")

    def __init__(self, buf, classes=None):
        self.buf = buf
        self.pos = 0
        self.end = len(buf)
        self.classes = classes

    def fail(self, msg, at):
        raise MsgpackError("msgpack: %s at offset %d" % (msg, at))

    def take(self, n, at):
        p = self.pos
        if self.end - p < n:
            self.fail("truncated value", at)
        self.pos = p + n
        return p

    def uint(self, n, at):
        p = self.take(n, at)
        return int.from_bytes(self.buf[p:p + n], "big")

    def sint(self, n, at):
        p = self.take(n, at)
        return int.from_bytes(self.buf[p:p + n], "big", signed=True)

    def count(self, n, per, at):
        # every element takes at least one byte: refuse absurd counts early
        if (self.end - self.pos) < n * per:
            self.fail("truncated value", at)
        return n

    def string(self, n, at):
        p = self.take(n, at)
        try:
            return bytes(self.buf[p:p + n]).decode("utf-8")
        except UnicodeDecodeError:
            self.fail("invalid UTF-8 in str", at)

    def value(self, depth, hashable):
        at = self.pos
        if at >= self.end:
            self.fail("truncated value", at)
        c = self.buf[at]
        self.pos = at + 1
        if c <= 0x7f:
            return c
        if c >= 0xe0:
            return c - 0x100
        if c <= 0x8f:
            return self.map(c & 0x0f, depth, hashable, at)
        if c <= 0x9f:
            return self.array(c & 0x0f, depth, hashable, at)
        if c <= 0xbf:
            return self.string(c & 0x1f, at)
        if c == 0xc0:
            return None
        if c == 0xc2:
            return False
        if c == 0xc3:
            return True
        if c in (0xc4, 0xc5, 0xc6):
            n = self.uint(1 << (c - 0xc4), at)
            p = self.take(n, at)
            return bytes(self.buf[p:p + n])
        if c in (0xc7, 0xc8, 0xc9):
            n = self.uint(1 << (c - 0xc7), at)
            t = self.sint(1, at)
            return self.ext(t, n, depth, hashable, at)
        if c == 0xca:
            p = self.take(4, at)
            return _unpack_f(self.buf, p)[0]
        if c == 0xcb:
            p = self.take(8, at)
            return _unpack_d(self.buf, p)[0]
        if 0xcc <= c <= 0xcf:
            v = self.uint(1 << (c - 0xcc), at)
            if v > _INT64_MAX:
                self.fail("int too large (more than 64 bits)", at)
            return v
        if 0xd0 <= c <= 0xd3:
            return self.sint(1 << (c - 0xd0), at)
        if 0xd4 <= c <= 0xd8:
            t = self.sint(1, at)
            return self.ext(t, 1 << (c - 0xd4), depth, hashable, at)
        if 0xd9 <= c <= 0xdb:
            n = self.uint(1 << (c - 0xd9), at)
            return self.string(n, at)
        if c in (0xdc, 0xdd):
            n = self.uint(2 if c == 0xdc else 4, at)
            return self.array(n, depth, hashable, at)
        if c in (0xde, 0xdf):
            n = self.uint(2 if c == 0xde else 4, at)
            return self.map(n, depth, hashable, at)
        self.fail("invalid byte 0x%02x" % c, at)   # 0xc1

    def array(self, n, depth, hashable, at):
        if hashable:
            self.fail("a list cannot be a dict key or set element", at)
        if depth >= MAX_DEPTH:
            self.fail("nested too deeply (limit %d)" % MAX_DEPTH, at)
        self.count(n, 1, at)
        return [self.value(depth + 1, False) for _ in range(n)]

    def map(self, n, depth, hashable, at):
        if hashable:
            self.fail("a dict cannot be a dict key or set element", at)
        if depth >= MAX_DEPTH:
            self.fail("nested too deeply (limit %d)" % MAX_DEPTH, at)
        self.count(n, 2, at)
        d = {}
        for _ in range(n):
            k = self.value(depth + 1, True)
            d[k] = self.value(depth + 1, False)
        return d

    def ext(self, t, n, depth, hashable, at):
        if not EXT_TUPLE <= t <= EXT_DATACLASS:
            self.fail("unknown extension type %d" % t, at)
        if depth >= MAX_DEPTH:
            self.fail("nested too deeply (limit %d)" % MAX_DEPTH, at)
        start = self.take(n, at)
        saved_end = self.end
        self.pos = start
        self.end = start + n
        # the payload: exactly one array
        hat = self.pos
        if hat >= self.end:
            self.fail("extension type %d: truncated payload" % t, at)
        c = self.buf[hat]
        self.pos = hat + 1
        if 0x90 <= c <= 0x9f:
            count = c & 0x0f
        elif c in (0xdc, 0xdd):
            count = self.uint(2 if c == 0xdc else 4, at)
        else:
            self.fail("extension type %d: payload is not an array" % t, at)
        self.count(count, 1, at)
        if t == EXT_TUPLE:
            r = tuple(self.value(depth + 1, hashable) for _ in range(count))
        elif t == EXT_SET or t == EXT_FROZENSET:
            r = set()
            for _ in range(count):
                r.add(self.value(depth + 1, True))
            if hashable or t == EXT_FROZENSET:
                r = frozenset(r)
        elif t >= EXT_BIGINT:
            r = self.rich(t, [self.value(depth + 1, False) for _ in range(count)], at)
        else:
            if count != 2:
                self.fail("bad reference (expected [entity, key])", at)
            eat = self.pos
            entity = self.value(depth + 1, True)
            if not isinstance(entity, str) or not entity:
                self.fail("bad reference (expected [entity, key])", eat)
            r = Ref(entity, self.value(depth + 1, hashable))
        if self.pos != self.end:
            self.fail("extension type %d: trailing bytes in payload" % t, at)
        self.end = saved_end
        return r


    def rich(self, t, items, at):
        """The values beyond JSON, from their decoded payload elements."""
        def bad(what="malformed payload"):
            self.fail("extension type %d: %s" % (t, what), at)

        def ints(xs):
            if not all(type(x) is int for x in xs):
                bad("expected ints")
            return xs
        n = len(items)
        try:
            if t == EXT_BIGINT:
                if n != 1 or type(items[0]) is not str or not _int_text_ok(items[0]):
                    bad("not an integer of at most %d digits" % MAX_INT_DIGITS)
                v = int(items[0])
                if _INT64_MIN <= v <= _INT64_MAX:
                    bad("the int fits in 64 bits (not canonical)")
                return v
            if t == EXT_BYTEARRAY:
                if n != 1 or type(items[0]) is not bytes:
                    bad("expected [bin]")
                return bytearray(items[0])
            if t == EXT_DECIMAL:
                if n != 1 or type(items[0]) is not str:
                    bad("expected [str]")
                return decimal.Decimal(items[0])
            if t == EXT_DATE:
                if n != 3:
                    bad("expected 3 ints")
                return datetime.date(*ints(items))
            if t == EXT_TIMEDELTA:
                if n != 3:
                    bad("expected 3 ints")
                d, s, us = ints(items)
                if not (0 <= s < 86400 and 0 <= us < 1000000):
                    bad("timedelta not normalised")
                return datetime.timedelta(d, s, us)
            if t == EXT_DATETIME or t == EXT_TIME:
                base = 8 if t == EXT_DATETIME else 5
                if n not in (base, base + 3):
                    bad("expected %d or %d elements" % (base, base + 3))
                f = ints(items[:base])
                tz = self.tz(items[base:], bad) if n > base else None
                if t == EXT_DATETIME:
                    return datetime.datetime(*f[:7], tzinfo=tz, fold=f[7])
                return datetime.time(*f[:4], tzinfo=tz, fold=f[4])
            if t == EXT_ENUM:
                if n != 3 or type(items[0]) is not str or (items[1] is not None and type(items[1]) is not str):
                    bad("expected [class, name, value]")
                if self.classes is None:
                    return items[2]
                cls = self.find(items[0], "Enum", at)
                if items[1] is not None and items[1] in cls.__members__:
                    return cls.__members__[items[1]]
                m = cls(items[2])
                if m._name_ != items[1]:
                    bad("Enum '%s' has no member '%s'" % (items[0], items[1]))
                return m
            if t == EXT_DATACLASS:
                if n != 2 or type(items[0]) is not str or type(items[1]) is not dict:
                    bad("expected [class, fields]")
                if self.classes is None:
                    return items[1]
                cls = self.find(items[0], "dataclass", at)
                names = [f.name for f in dataclasses.fields(cls)]
                if sorted(names) != sorted(items[1]):
                    bad("the fields do not match dataclass '%s'" % items[0])
                obj = cls.__new__(cls)
                for k in names:
                    object.__setattr__(obj, k, items[1][k])
                return obj
        except MsgpackError:
            raise
        except (ValueError, TypeError, OverflowError, decimal.InvalidOperation) as e:
            bad("%s: %s" % (type(e).__name__, e))
        bad()

    def tz(self, items, bad):
        kind, off, extra = items
        if extra is not None and type(extra) is not str:
            bad("bad time zone")
        if kind == 0 and type(off) is int:
            td = datetime.timedelta(microseconds=off)
            return datetime.timezone(td) if extra is None else datetime.timezone(td, extra)
        if kind == 1 and extra is not None and (off is None or type(off) is int):
            import zoneinfo
            try:
                return zoneinfo.ZoneInfo(extra)
            except Exception as e:
                bad("%s: %s" % (type(e).__name__, e))
        bad("bad time zone")

    def find(self, qualname, what, at):
        obj = self.classes
        for part in qualname.split("."):
            if not part.isidentifier() or (part.startswith("__") and part.endswith("__")):
                obj = None
                break
            obj = getattr(obj, part, None)
        ok = isinstance(obj, type) and (issubclass(obj, enum.Enum) if what == "Enum" else
                                        dataclasses.is_dataclass(obj) and not issubclass(obj, enum.Enum))
        if not ok:
            self.fail("unknown %s '%s'" % (what, qualname), at)
        return obj


def _int_text_ok(s):
    body = s[1:] if s.startswith("-") else s
    return (0 < len(body) <= MAX_INT_DIGITS and body.isascii() and body.isdigit()
            and (body == "0" or body[0] != "0"))


def unpackb(data, classes=None):
    """Decode exactly one msgpack value from ``data`` (bytes-like).

    Tuples, sets, frozensets and references come back as tuple, set
    (frozenset as a dict key or set element), frozenset and Ref; ints beyond
    64 bits, bytearray, Decimal and the datetime types as themselves.  Enum
    members and dataclass instances are looked up by qualified name in
    ``classes`` (a module or any object with those attributes) when given,
    else they come back as the member's value and a dict of the fields.
    Raises MsgpackError on anything malformed or outside the value model,
    and when bytes follow the value.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("unpackb() needs bytes, not %s" % type(data).__name__)
    buf = bytes(data)
    if len(buf) > MAX_BYTES:
        raise MsgpackError("msgpack: value too large (%d bytes, limit %d)" % (len(buf), MAX_BYTES))
    d = _Decoder(buf, classes)
    v = d.value(0, False)
    if d.pos != len(buf):
        raise MsgpackError("msgpack: %d trailing bytes after the value at offset %d"
                           % (len(buf) - d.pos, d.pos))
    return v
