"""stateflow._msgpack: a small, strict msgpack codec for StateFlow values.

Owns the client side of the value model (DESIGN 5.1, include/stateflow/
sf_value.h) in pure Python, standard library only:

    None, bool, int (signed 64-bit), float (float64), str, bytes, list,
    dict, tuple (ext 1), set/frozenset (ext 2), Ref (ext 3)

An extension payload is itself one msgpack array: the elements of a tuple or
a set, or ``[entity, key]`` for a reference.

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

import struct

__all__ = ["Ref", "MsgpackError", "packb", "unpackb", "MAX_DEPTH", "MAX_BYTES",
           "EXT_TUPLE", "EXT_SET", "EXT_REF"]

# include/stateflow/sf_value.h
EXT_TUPLE = 1
EXT_SET = 2
EXT_REF = 3
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
            _int_header(out, o)
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
        elif t is bytes or t is bytearray or t is memoryview:
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
            out += _ext_header(len(body), EXT_SET)
            out += body
            self._size(out)
        elif self.default is not None:
            replacement = self.default(o)
            if replacement is o:
                raise MsgpackError("cannot encode a value of type '%s'" % t.__name__)
            self.enc(out, replacement, depth)
        else:
            raise MsgpackError("cannot encode a value of type '%s'" % t.__name__)

    @staticmethod
    def _depth(depth):
        if depth >= MAX_DEPTH:
            raise MsgpackError("nested too deeply (limit %d)" % MAX_DEPTH)

    @staticmethod
    def _size(out):
        if len(out) > MAX_BYTES:
            raise MsgpackError("value too large (more than %d bytes encoded)" % MAX_BYTES)


def packb(obj, default=None):
    """The msgpack bytes of ``obj``.

    Only exact types of the value model are accepted (bytearray and
    memoryview are written as bin).  For anything else ``default(obj)`` is
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
    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf):
        self.buf = buf
        self.pos = 0
        self.end = len(buf)

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
        if t not in (EXT_TUPLE, EXT_SET, EXT_REF):
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
        elif t == EXT_SET:
            r = set()
            for _ in range(count):
                r.add(self.value(depth + 1, True))
            if hashable:
                r = frozenset(r)
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


def unpackb(data):
    """Decode exactly one msgpack value from ``data`` (bytes-like).

    Tuples, sets and references come back as tuple, set (frozenset as a dict
    key or set element) and Ref.  Raises MsgpackError on anything malformed
    or outside the value model, and when bytes follow the value.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("unpackb() needs bytes, not %s" % type(data).__name__)
    buf = bytes(data)
    if len(buf) > MAX_BYTES:
        raise MsgpackError("msgpack: value too large (%d bytes, limit %d)" % (len(buf), MAX_BYTES))
    d = _Decoder(buf)
    v = d.value(0, False)
    if d.pos != len(buf):
        raise MsgpackError("msgpack: %d trailing bytes after the value at offset %d"
                           % (len(buf) - d.pos, d.pos))
    return v
