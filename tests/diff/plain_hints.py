"""plain_hints.py: the reference executor's conversion of JSON arguments by
the parameters' type hints (runtime/exec/pycodec.h sf_pycodec_convert_args,
docs/programming-model.md section 7); the runtime runs the same rules."""
import dataclasses, datetime, decimal, enum, inspect, re, types, typing


def names_of(v):
    if type(v).__name__ == "RefArg":
        return "a reference to %s" % v.entity
    return "None" if v is None else type(v).__name__


_NONE = type(None)
_DUR = re.compile(r"(-)?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,6})?)S)?)?")
_FORMS = {datetime.datetime: "datetime (an ISO 8601 string)", datetime.date: "date (an ISO 8601 string)",
          datetime.time: "time (an ISO 8601 string)",
          datetime.timedelta: "timedelta (seconds or an ISO 8601 duration)",
          decimal.Decimal: "Decimal (a string or a number)", bytearray: "bytearray (bytes)",
          tuple: "tuple (an array)", set: "set (an array)", frozenset: "frozenset (an array)"}


class Mismatch(Exception):
    def __init__(self, path, want, v, extra=""):
        self.path, self.want, self.v, self.extra = path, want, v, extra


def _duration(s):
    m = _DUR.fullmatch(s)
    if not m or s in ("P", "-P") or s.endswith("T"):
        return None
    sign, d, h, mi, sec = m.groups()
    td = datetime.timedelta(days=int(d or 0), hours=int(h or 0), minutes=int(mi or 0),
                            microseconds=round(decimal.Decimal(sec or 0) * 1000000))
    return -td if sign else td


def conv(h, v, path):
    if h is typing.Any or h is None:
        return v
    o = typing.get_origin(h)
    a = typing.get_args(h)
    if o is typing.Union or o is types.UnionType:
        if v is None and _NONE in a:
            return None
        rest = [x for x in a if x is not _NONE]
        return conv(rest[0], v, path) if len(rest) == 1 else v
    if o is not None:
        if o is list and a and type(v) is list:
            return [conv(a[0], x, "%s[%d]" % (path, i)) for i, x in enumerate(v)]
        if o is dict and len(a) == 2 and type(v) is dict:
            return {k: conv(a[1], x, "%s[%r]" % (path, k)) for k, x in v.items()}
        if o in (tuple, set, frozenset):
            if type(v) not in (list, o):
                raise Mismatch(path, _FORMS[o], v)
            if o is tuple and a and a[-1] is not Ellipsis:
                if len(v) != len(a):
                    raise Mismatch(path, _FORMS[o], v, " of %d elements" % len(v))
                return tuple(conv(t, x, "%s[%d]" % (path, i)) for i, (t, x) in enumerate(zip(a, v)))
            t = a[0] if a else typing.Any
            return o(conv(t, x, "%s[%d]" % (path, i)) for i, x in enumerate(v))
        return v
    if not isinstance(h, type) or type(v) is h:
        return v
    if h in (datetime.datetime, datetime.date, datetime.time):
        if type(v) is str:
            try:
                return h.fromisoformat(v)
            except ValueError:
                pass
        raise Mismatch(path, _FORMS[h], v)
    if h is datetime.timedelta:
        if type(v) in (int, float):
            return datetime.timedelta(seconds=v)
        r = _duration(v) if type(v) is str else None
        if r is None:
            raise Mismatch(path, _FORMS[h], v)
        return r
    if h is decimal.Decimal:
        if type(v) in (str, int, float):
            try:
                return decimal.Decimal(repr(v) if type(v) is float else v)
            except decimal.InvalidOperation:
                pass
        raise Mismatch(path, _FORMS[h], v)
    if h in (bytearray, tuple, set, frozenset):
        if (h is bytearray and type(v) is bytes) or (h is not bytearray and type(v) is list):
            return h(v)
        raise Mismatch(path, _FORMS[h], v)
    if issubclass(h, enum.Enum):
        try:
            return h(v)
        except (ValueError, TypeError):
            raise Mismatch(path, "a value of %s" % h.__name__, v) from None
    if dataclasses.is_dataclass(h):
        if type(v) is not dict:
            raise Mismatch(path, "%s (an object)" % h.__name__, v)
        hints = typing.get_type_hints(h)
        fs = {f.name: f for f in dataclasses.fields(h) if f.init}
        for k in v:
            if k not in fs:
                raise Mismatch(path, "%s (an object)" % h.__name__, v, " with unknown field %r" % (k,))
        for k, f in fs.items():
            if k not in v and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise Mismatch(path, "%s (an object)" % h.__name__, v, " without field %r" % (k,))
        return h(**{k: conv(hints.get(k, typing.Any), x, "%s.%s" % (path, k)) for k, x in v.items()})
    return v


def _interesting(h, depth=0):
    if depth > 8:
        return False
    o = typing.get_origin(h)
    if o is not None:
        return o in (tuple, set, frozenset) or any(_interesting(a, depth + 1) for a in typing.get_args(h))
    return isinstance(h, type) and (h in _FORMS or issubclass(h, enum.Enum) or dataclasses.is_dataclass(h))


_cache = {}


def _spec(cls, name):
    """[(index, parameter, hint)] of the parameters of cls.name whose hints
    convert JSON values (computed once per method)."""
    spec = _cache.get((cls, name))
    if spec is None:
        spec = []
        fn = cls.__dict__.get(name)
        try:
            hints = typing.get_type_hints(fn)
            params = [p.name for p in list(inspect.signature(fn).parameters.values())[1:]]
        except Exception:
            hints, params = {}, []
        for i, p in enumerate(params):
            if p in hints and _interesting(hints[p]):
                spec.append((i, p, hints[p]))
        _cache[(cls, name)] = spec
    return spec


def needs(cls, name):
    return bool(_spec(cls, name))


def convert(cls, name, args, label):
    """Client arguments (a list, changed in place) converted by the type
    hints of cls.name; a value that does not fit raises TypeError."""
    for i, p, h in _spec(cls, name):
        if i >= len(args):
            break
        try:
            args[i] = conv(h, args[i], "")
        except Mismatch as e:
            raise TypeError("%s argument '%s'%s must be %s, got %s%s"
                            % (label, p, e.path, e.want, names_of(e.v), e.extra)) from None
