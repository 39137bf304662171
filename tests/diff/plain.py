#!/usr/bin/python3
"""plain.py: the reference executor of the differential tests.

Runs a StateFlow app (an app.py with @entity classes) as plain Python
objects and answers requests exactly as `sfrun app.sfir` must (DESIGN 4.5):
requests are JSON lines, one reply line per request, in order.  The rules it
implements (request validation, argument type checks, value <-> JSON mapping,
error types and messages, transaction rollback) are written down in
tests/diff/README.md; that file and this one must agree.

    /usr/bin/python3 tests/diff/plain.py APP.py [REQUESTS.jsonl] > replies.jsonl

Reads stdin when no requests file is given.  Standard library only.  Hash
randomisation must be off so that set and dict orders are reproducible: when
PYTHONHASHSEED is not 0 the script re-executes itself with PYTHONHASHSEED=0.
"""

import argparse
import base64
import contextlib
import copy
import dataclasses
import datetime
import decimal
import enum
import functools
import importlib.util
import inspect
import json
import math
import os
import sys
import types
import typing

import plain_hints

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

INT_MIN = -(1 << 63)
INT_MAX = (1 << 63) - 1
MAX_DEPTH = 64          # SF_VALUE_MAX_DEPTH: containers nested deeper are refused
MAX_INT_DIGITS = 4300   # SF_VALUE_MAX_INT_DIGITS: longest int outside 64 bits
MAX_ID = 256            # SF_REQUEST_MAX_ID: longest id (bytes of compact JSON)
MAX_NAME = 255          # longest entity or method name (bytes of UTF-8)
FIELDS = ("id", "op", "entity", "key", "method", "args")
MARKER = "__stateflow_entity__"


# ---------------------------------------------------------------- errors

class SysError(Exception):
    """A system error reply: BadRequest, NotFound, AlreadyExists, TypeError."""

    def __init__(self, type_name, message):
        super().__init__(message)
        self.type_name = type_name
        self.message = message


def bad_request(msg):
    return SysError("BadRequest", msg)


class EncodeError(Exception):
    """A value that has no JSON/msgpack form (reported as TypeError)."""


# ---------------------------------------------------------------- JSON out

def key_text(key):
    """Compact JSON text of an entity key (used in messages and as registry key)."""
    return encode(key, "key")


def encode(value, where="value"):
    """Compact JSON text of a Python value with StateFlow's mapping:
    entity instance -> {"$ref":[Entity,key]}, tuple/set -> array (sets sorted
    when their elements compare), bytes -> {"$bytes":base64}, dict keys that
    are not strings -> their JSON text as a string, floats as repr()."""
    out = []
    _enc(value, out, where, 0)
    return "".join(out)


def _enc(v, out, where, depth):
    if depth > MAX_DEPTH:
        raise EncodeError("%s: nested deeper than %d levels" % (where, MAX_DEPTH))
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif type(v) is int:
        if v < INT_MIN or v > INT_MAX:
            try:
                text = str(v)
            except ValueError:
                text = None
            if text is None or len(text.lstrip("-")) > MAX_INT_DIGITS:
                raise EncodeError("%s: int too large (more than %d digits)" % (where, MAX_INT_DIGITS))
            out.append(text)
        else:
            out.append(str(v))
    elif type(v) is float:
        if not math.isfinite(v):
            raise EncodeError("%s: float %r has no JSON form" % (where, v))
        out.append(repr(v))
    elif type(v) is str:
        out.append(json.dumps(v, ensure_ascii=False))
    elif type(v) in (bytes, bytearray):
        out.append('{"$bytes":')
        out.append(json.dumps(base64.b64encode(bytes(v)).decode("ascii")))
        out.append("}")
    elif type(v) in (list, tuple):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _enc(x, out, where, depth + 1)
        out.append("]")
    elif type(v) in (set, frozenset):
        try:
            items = sorted(v)
        except TypeError:
            items = list(v)
        _enc(items, out, where, depth)
    elif type(v) is dict:
        out.append("{")
        for i, (k, x) in enumerate(v.items()):
            if i:
                out.append(",")
            if type(k) is str:
                out.append(json.dumps(k, ensure_ascii=False))
            else:
                kt = []
                _enc(k, kt, where, depth + 1)
                out.append(json.dumps("".join(kt), ensure_ascii=False))
            out.append(":")
            _enc(x, out, where, depth + 1)
        out.append("}")
    elif type(v).__dict__.get(MARKER, False) or type(v) is RefArg:
        ref = type(v) is RefArg
        out.append('{"$ref":[')
        out.append(json.dumps(v.entity if ref else type(v).__name__, ensure_ascii=False))
        out.append(",")
        _enc(v.key if ref else v.__key__(), out, where, depth + 1)
        out.append("]}")
    elif type(v) in (datetime.datetime, datetime.date, datetime.time):
        tz = getattr(v, "tzinfo", None)
        if tz is not None and type(tz) is not datetime.timezone and \
                not (type(tz).__name__ == "ZoneInfo" and type(tz).__module__ == "zoneinfo"):
            raise EncodeError("%s: cannot store a %s whose tzinfo is of type '%s' (use datetime.timezone "
                              "or zoneinfo.ZoneInfo)" % (where, type(v).__name__, type(tz).__name__))
        out.append('"%s"' % v.isoformat())
    elif type(v) is datetime.timedelta:
        out.append('"%s"' % iso_duration(v))
    elif type(v) is decimal.Decimal:
        out.append(json.dumps(str(v)))
    elif isinstance(v, enum.Enum):
        _check_class(type(v), "Enums", where)
        _enc(v.value, out, where, depth + 1)
    elif dataclasses.is_dataclass(v) and not isinstance(v, type):
        _check_class(type(v), "dataclasses", where)
        fields = {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
        for k in getattr(v, "__dict__", {}):
            if k not in fields:
                raise EncodeError("%s: cannot store dataclass '%s': its attribute '%s' is not a field"
                                  % (where, type(v).__name__, k))
        _enc(fields, out, where, depth + 1)
    else:
        raise EncodeError("%s: cannot store a value of type '%s'" % (where, type(v).__name__))


APP_MODULES = []       # the app's module, once loaded (Enums and dataclasses live there)


def _check_class(t, what, where):
    """Only classes found again by their qualified name in the app's module
    can be stored (the runtime looks them up there on decode)."""
    obj = APP_MODULES[0] if APP_MODULES else None
    for part in t.__qualname__.split("."):
        obj = getattr(obj, part, None) if part.isidentifier() and not part.startswith("__") else None
    if obj is not t:
        raise EncodeError("%s: cannot store a value of type '%s': only %s defined in the application's "
                          "module (found there by name) can be stored" % (where, t.__name__, what))


def iso_duration(td):
    """A timedelta as the runtime writes it: an ISO 8601 duration,
    "P1DT2H3M4.5S", "-PT1S", "PT0S" (docs/ir.md, "Value encoding")."""
    neg = td < datetime.timedelta(0)
    if neg:
        td = -td
    days, rem = td.days, td.seconds * 1000000 + td.microseconds
    text = "-P" if neg else "P"
    if days:
        text += "%dD" % days
    if rem or not days:
        s, f = divmod(rem, 1000000)
        text += "T"
        if s // 3600:
            text += "%dH" % (s // 3600)
        if s // 60 % 60:
            text += "%dM" % (s // 60 % 60)
        if s % 60 or f or not rem:
            text += "%d" % (s % 60)
            if f:
                text += "." + ("%06d" % f).rstrip("0")
            text += "S"
    return text


# ---------------------------------------------------------------- JSON in

class RefArg:
    """A {"$ref": [entity, key]} from a request, before it is resolved."""

    __slots__ = ("entity", "key")

    def __init__(self, entity, key):
        self.entity = entity
        self.key = key


def _reject_constant(name):
    raise ValueError("%s is not valid JSON" % name)


def parse_line(raw):
    """bytes of one request line -> (decoded JSON value, first values of the
    members the top-level object repeats or None).  Text that is not RFC 8259
    JSON in UTF-8 is a BadRequest (and its reply cannot carry an id)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad_request("invalid UTF-8: %s" % e.reason)
    repeated = {}

    def pairs(items):
        d, first = {}, {}
        for k, v in items:
            if k in d:
                first.setdefault(k, d[k])
            d[k] = v
        if first:
            repeated[id(d)] = first
        return d

    try:
        v = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=pairs)
    except RecursionError:
        raise bad_request("invalid JSON: nested too deeply")
    except ValueError as e:
        raise bad_request("invalid JSON: %s" % e)
    return v, repeated.get(id(v))


def usable_id(v):
    """The compact JSON text of a request id, or None when it cannot be
    echoed: an id is a string or a number of at most MAX_ID bytes."""
    if type(v) is int and not INT_MIN <= v <= INT_MAX:
        v = float(v)                # as the C recovery parse reads it
    if type(v) not in (str, int, float):
        return None
    try:
        if type(v) is str:
            _check_str(v)
        text = encode(v)
    except (SysError, EncodeError):
        return None
    return text if len(text.encode("utf-8")) <= MAX_ID else None


def check_json(v, depth=0):
    """Limits json.loads does not enforce: int64 range, finite floats, no lone
    surrogates, nesting depth.  Returns v."""
    if depth > MAX_DEPTH + 1:   # the request object itself is one level
        raise bad_request("value nested deeper than %d levels" % MAX_DEPTH)
    t = type(v)
    if t is int:
        if v < INT_MIN or v > INT_MAX:
            raise bad_request("integer out of 64-bit range")
    elif t is float:
        if not math.isfinite(v):
            raise bad_request("number out of range")
    elif t is str:
        _check_str(v)
    elif t is list:
        for x in v:
            check_json(x, depth + 1)
    elif t is dict:
        for k, x in v.items():
            _check_str(k)
            check_json(x, depth + 1)
    return v


def _check_str(s):
    for ch in s:
        if "\ud800" <= ch <= "\udfff":
            raise bad_request("lone surrogate in string")


def decode_value(v):
    """JSON value -> request value: {"$ref": [E, k]} -> RefArg, {"$bytes": b64}
    -> bytes, arrays -> lists.  A malformed special object is a BadRequest."""
    t = type(v)
    if t is list:
        return [decode_value(x) for x in v]
    if t is dict:
        if "$ref" in v:
            r = v["$ref"]
            if len(v) != 1 or type(r) is not list or len(r) != 2 or type(r[0]) is not str:
                raise bad_request('malformed reference: expected {"$ref": [entity, key]}')
            return RefArg(r[0], decode_value(r[1]))
        if "$bytes" in v:
            b = v["$bytes"]
            if len(v) != 1 or type(b) is not str:
                raise bad_request('malformed bytes: expected {"$bytes": "<base64>"}')
            try:
                return base64.b64decode(b.encode("ascii"), validate=True)
            except (ValueError, UnicodeEncodeError):
                raise bad_request("malformed bytes: invalid base64")
        return {k: decode_value(x) for k, x in v.items()}
    return v


def value_type_name(v):
    """The name of a request value's type, as TypeError messages spell it."""
    if v is None:
        return "None"
    if isinstance(v, RefArg):
        return "a reference to %s" % v.entity
    return {bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes",
            list: "list", dict: "dict"}[type(v)]


# ---------------------------------------------------------------- type checks

SIMPLE = {int: "int", float: "float", str: "str", bool: "bool", bytes: "bytes",
          list: "list", dict: "dict"}


class Check:
    """What one parameter's annotation checks: kind is int/float/str/bool/
    bytes/list/dict or "entity" (then entity names it); optional allows None."""

    __slots__ = ("kind", "entity", "optional")

    def __init__(self, kind, entity=None, optional=False):
        self.kind = kind
        self.entity = entity
        self.optional = optional

    def describe(self):
        base = "a reference to %s" % self.entity if self.kind == "entity" else self.kind
        return base + " or None" if self.optional else base

    def accepts(self, v):
        if v is None:
            return self.optional
        k = self.kind
        if k == "entity":
            return isinstance(v, RefArg) and v.entity == self.entity
        if k == "float":
            return type(v) in (int, float)
        return SIMPLE.get(type(v)) == k


def classify(ann, app):
    """Annotation -> Check, or None when the annotation is not checked."""
    if ann is inspect.Parameter.empty or ann is None:
        return None
    if isinstance(ann, typing.ForwardRef):
        ann = ann.__forward_arg__
    if isinstance(ann, str):
        name = ann.strip()
        if name in app.entities:
            return Check("entity", name)
        try:
            ann = eval(name, dict(vars(app.module)))   # a string annotation
        except Exception:
            return None
    if isinstance(ann, type) and ann.__dict__.get(MARKER, False):
        return Check("entity", ann.__name__)
    if ann in SIMPLE:
        return Check(SIMPLE[ann])
    origin = typing.get_origin(ann)
    if origin in (list, dict):
        return Check(SIMPLE[origin])
    if origin is typing.Union or origin is types.UnionType:
        args = typing.get_args(ann)
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1 and len(args) == 2:
            inner = classify(rest[0], app)
            if inner is not None:
                return Check(inner.kind, inner.entity, True)
    return None


class Method:
    """A callable method: its function, positional parameters and checks."""

    def __init__(self, app, entity, name, fn):
        self.fn = fn
        self.cls = app.entities[entity]
        self.name = name
        self.label = "%s()" % entity if name == "__init__" else "%s.%s()" % (entity, name)
        sig = inspect.signature(fn)
        params = list(sig.parameters.values())[1:]      # drop self
        self.names = []
        self.checks = []
        self.required = 0
        self.varargs = False
        for p in params:
            if p.kind == p.VAR_POSITIONAL:
                self.varargs = True
                continue
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                continue
            self.names.append(p.name)
            self.checks.append(classify(p.annotation, app))
            if p.default is p.empty:
                self.required = len(self.names)

    def check_args(self, args):
        n, lo, hi = len(args), self.required, len(self.names)
        if n < lo or (n > hi and not self.varargs):
            if lo == hi:
                want = "%d argument%s" % (lo, "" if lo == 1 else "s")
            else:
                want = "%d to %d arguments" % (lo, hi)
            raise SysError("TypeError", "%s expects %s, got %d" % (self.label, want, n))
        for name, chk, v in zip(self.names, self.checks, args):
            if chk is not None and not chk.accepts(v):
                raise SysError("TypeError", "%s argument '%s' must be %s, got %s"
                               % (self.label, name, chk.describe(), value_type_name(v)))
        # values beyond JSON: converted by the type hints (in place)
        plain_hints.convert(self.cls, self.name, args, self.label)


# ---------------------------------------------------------------- the app

class App:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        for d in (os.path.join(REPO, "python"), os.path.dirname(self.path)):
            if d not in sys.path:
                sys.path.insert(0, d)
        name = os.path.splitext(os.path.basename(self.path))[0]
        spec = importlib.util.spec_from_file_location(name, self.path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        self.module = module
        APP_MODULES[:] = [module]
        self.entities = {}
        # an application of several modules: the entities of every module
        # loaded from the app's folder (sfc merges them into one)
        folder = os.path.dirname(self.path) + os.sep
        local = [module] + [m for m in list(sys.modules.values()) if m is not module
                            and (getattr(m, "__file__", None) or "").startswith(folder)]
        for m in local:
            for v in vars(m).values():
                if isinstance(v, type) and v.__dict__.get(MARKER, False) \
                        and v.__module__ == m.__name__:
                    self.entities.setdefault(v.__name__, v)
        self._methods = {}

    def method(self, entity, name, create=False):
        """The Method entity.name callable by clients (create: __init__), or None."""
        if create:
            name = "__init__"
        elif name.startswith("_sf_") or (name.startswith("__") and name.endswith("__")):
            return None
        k = (entity, name)
        if k not in self._methods:
            cls = self.entities[entity]
            fn = cls.__dict__.get(name)
            self._methods[k] = (Method(self, entity, name, fn)
                                if isinstance(fn, types.FunctionType) else None)
        return self._methods[k]


# ---------------------------------------------------------------- executor

def check_name(req, field):
    """An entity or method name: a non-empty string, at most MAX_NAME bytes,
    no NUL."""
    if field not in req:
        raise bad_request('missing "%s" in request' % field)
    v = req[field]
    if type(v) is not str:
        raise bad_request('"%s" must be a string' % field)
    if v == "" or len(v.encode("utf-8")) > MAX_NAME or "\0" in v:
        raise bad_request('"%s" must be a non-empty name of at most %d bytes without NUL'
                          % (field, MAX_NAME))
    return v


class Executor:
    def __init__(self, app):
        self.app = app
        self.instances = {}     # (entity, key text) -> object, in creation order
        self.active = False     # a request is running: constructors register
        self._tombstones = {}
        import stateflow
        self.sf = stateflow
        stateflow._hooks["delete"] = self.delete_obj
        for cls in app.entities.values():
            self._wrap_init(cls)

    # -- entity lifecycle (creates in methods, deletes)

    def _wrap_init(self, cls):
        """Every construction of cls during a request registers the new
        instance under its key (AlreadyExists when taken), as the runtime's
        create does: the create op and E(...) inside methods alike."""
        orig = cls.__init__
        ex = self

        @functools.wraps(orig)
        def __init__(obj, *a, **kw):
            orig(obj, *a, **kw)
            if ex.active:
                entity = type(obj).__name__
                kt = key_text(obj.__key__())
                if (entity, kt) in ex.instances:
                    raise ex.sf.AlreadyExists("%s %s already exists" % (entity, kt))
                ex.instances[(entity, kt)] = obj
        cls.__init__ = __init__

    def _tombstone(self, cls):
        """cls for a deleted instance. A reference names a key: using a
        deleted instance (other than from its own methods, and dunders)
        reaches the instance created again under its key if there is one,
        and raises NotFound otherwise, as in the runtime."""
        t = self._tombstones.get(cls)
        if t is None:
            ex = self

            def own(obj):
                f = sys._getframe(2)
                code = f.f_code
                return code.co_argcount and f.f_locals.get(code.co_varnames[0]) is obj

            def live(obj):
                kt = key_text(object.__getattribute__(obj, "__key__")())
                o = ex.instances.get((cls.__name__, kt))
                if o is None:
                    raise SysError("NotFound", "%s %s not found" % (cls.__name__, kt))
                return o

            def __getattribute__(obj, name):
                if (name.startswith("__") and name.endswith("__")) or own(obj):
                    return object.__getattribute__(obj, name)
                return getattr(live(obj), name)

            def __setattr__(obj, name, value):
                if own(obj):
                    return object.__setattr__(obj, name, value)
                return setattr(live(obj), name, value)

            t = type(cls.__name__, (cls,), {"__getattribute__": __getattribute__,
                                            "__setattr__": __setattr__, MARKER: True,
                                            "__module__": cls.__module__})
            self._tombstones[cls] = t
        return t

    def delete_obj(self, obj):
        """stateflow.delete(obj) and the delete op: the instance under obj's
        key (NotFound when there is none) is removed."""
        cls = type(obj)
        if cls in self._tombstones.values():
            cls = cls.__bases__[0]
        kt = key_text(obj.__key__())
        target = self.instances.get((cls.__name__, kt))
        if target is None:
            raise SysError("NotFound", "%s %s not found" % (cls.__name__, kt))
        del self.instances[(cls.__name__, kt)]
        target.__class__ = self._tombstone(cls)

    # -- registry

    def lookup(self, entity, key):
        if entity not in self.app.entities:
            raise SysError("NotFound", "unknown entity '%s'" % entity)
        kt = key_text(key)
        obj = self.instances.get((entity, kt))
        if obj is None:
            raise SysError("NotFound", "%s %s not found" % (entity, kt))
        return obj

    def resolve(self, v):
        """Request value -> Python value: RefArg -> the live instance."""
        if isinstance(v, RefArg):
            return self.lookup(v.entity, v.key)
        if type(v) is list:
            return [self.resolve(x) for x in v]
        if type(v) is dict:
            return {k: self.resolve(x) for k, x in v.items()}
        return v

    # -- transactions

    def snapshot(self):
        objs = list(self.instances.values())
        memo = {id(o): o for o in objs}      # entities stay themselves
        states = [(o, type(o), copy.deepcopy(o.__dict__, memo)) for o in objs]
        return dict(self.instances), states

    def restore(self, snap):
        instances, states = snap
        self.instances = instances
        for o, cls, st in states:
            o.__class__ = cls
            o.__dict__.clear()
            o.__dict__.update(st)

    def check_state(self):
        """Every instance's state must be encodable and its key unchanged."""
        for (entity, kt), o in self.instances.items():
            for attr, v in vars(o).items():
                try:
                    encode(v, "attribute '%s'" % attr)
                except EncodeError as e:
                    raise SysError("TypeError", "%s %s: %s" % (entity, kt, e))
            if key_text(o.__key__()) != kt:
                raise SysError("TypeError", "%s %s: its key changed" % (entity, kt))

    # -- requests

    def handle(self, req):
        """One decoded request object -> the JSON text of its result; raises
        SysError or the user exception otherwise."""
        if "op" not in req:
            raise bad_request('missing "op" in request (create, call, get or delete)')
        op = req["op"]
        if op not in ("create", "call", "get", "delete"):
            raise bad_request("unknown op %s (expected create, call, get or delete)" % encode(op))
        entity = check_name(req, "entity")
        if op == "create" and "key" in req:
            raise bad_request('"key" is not allowed with op create')
        if op != "create" and "key" not in req:
            raise bad_request('missing "key" (required with op %s)' % op)
        if op == "call":
            check_name(req, "method")
        elif "method" in req:
            raise bad_request('"method" is not allowed with op %s' % op)
        if op in ("get", "delete") and "args" in req:
            raise bad_request('"args" is not allowed with op %s' % op)
        args = req.get("args", [])
        if type(args) is not list:
            raise bad_request('"args" must be an array')
        key = req.get("key")

        if entity not in self.app.entities:
            raise SysError("NotFound", "unknown entity '%s'" % entity)
        if op == "get":
            obj = self.lookup(entity, key)
            try:
                return encode(dict(vars(obj)), "state")
            except EncodeError as e:
                raise SysError("TypeError", str(e))
        if op == "delete":
            obj = self.lookup(entity, key)
            snap = self.snapshot()
            try:
                self.delete_obj(obj)
            except BaseException:
                self.restore(snap)
                raise
            return "null"
        name = "__init__" if op == "create" else req["method"]
        m = self.app.method(entity, name, op == "create")
        if m is None:
            raise SysError("NotFound", "unknown method '%s.%s'" % (entity, name))
        m.check_args(args)
        if op == "call":
            obj = self.lookup(entity, key)
        args = [self.resolve(a) for a in args]

        snap = self.snapshot()
        self.active = True
        try:
            with contextlib.redirect_stdout(sys.stderr):
                if op == "create":
                    # registered under its key by the wrapped __init__
                    result = self.app.entities[entity](*args)
                else:
                    result = m.fn(obj, *args)
                out = encode(result, "return value")
                self.check_state()
            return out
        except EncodeError as e:
            self.restore(snap)
            raise SysError("TypeError", str(e))
        except BaseException:
            self.restore(snap)
            raise
        finally:
            self.active = False

    def reply(self, raw):
        """One raw request line (bytes) -> one reply line (str, no newline)."""
        head = ""
        try:
            req, repeated = parse_line(raw)
            if type(req) is not dict:
                raise bad_request("a request must be a JSON object")
            if "id" in req:
                idv = repeated["id"] if repeated and "id" in repeated else req["id"]
                text = usable_id(idv)
                if text is None:
                    raise bad_request('"id" must be a string or a number')
                head = '"id":' + text + ","
            req = decode_value(check_json(req))
            if repeated:
                raise bad_request('duplicate member "%s" in request' % sorted(repeated)[0])
            for k in req:
                if k not in FIELDS:
                    raise bad_request("unknown member %s in request" % encode(k))
            return "{%s\"ok\":%s}" % (head, self.handle(req))
        except SysError as e:
            etype, msg = e.type_name, e.message
        except (Exception, SystemExit) as e:        # a user exception
            etype, msg = type(e).__name__, str(e)
        return "{%s\"error\":{\"type\":%s,\"message\":%s}}" % (
            head, json.dumps(etype, ensure_ascii=False), _safe_str(msg))


def _safe_str(s):
    """JSON string of an error message; lone surrogates become U+FFFD."""
    s = s.encode("utf-8", "replace").decode("utf-8")
    return json.dumps(s, ensure_ascii=False)


def request_lines(data):
    """Split input bytes into request lines; blank lines are not requests."""
    for line in data.split(b"\n"):
        if line.strip(b" \t\r"):
            yield line


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run a StateFlow app as plain Python objects.")
    ap.add_argument("app", help="the app.py to run")
    ap.add_argument("requests", nargs="?", help="JSON-lines requests (default: stdin)")
    ap.add_argument("--final-gets", metavar="FILE",
                    help="after the requests, get every instance that exists (in creation "
                         "order, ids final-1, final-2, ...): write these requests to FILE "
                         "and their replies to stdout")
    opts = ap.parse_args(argv)

    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env)

    if opts.requests:
        with open(opts.requests, "rb") as f:
            data = f.read()
    else:
        data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    try:
        app = App(opts.app)
    except Exception as e:
        sys.stderr.write("plain.py: cannot load %s: %s: %s\n" % (opts.app, type(e).__name__, e))
        return 2
    ex = Executor(app)
    for line in request_lines(data):
        out.write(ex.reply(line).encode("utf-8") + b"\n")
        out.flush()
    if opts.final_gets:
        gets = []
        for n, (entity, kt) in enumerate(list(ex.instances), 1):
            gets.append('{"id":"final-%d","op":"get","entity":%s,"key":%s}'
                        % (n, json.dumps(entity, ensure_ascii=False), kt))
        with open(opts.final_gets, "wb") as f:
            f.write("".join(g + "\n" for g in gets).encode("utf-8"))
        for g in gets:
            out.write(ex.reply(g.encode("utf-8")).encode("utf-8") + b"\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
