"""stateflow.client: talk to a running stateflowd (docs/runtime.md, DESIGN 4.5).

Owns the Python client: the HTTP/JSON transport, the native transport
(length-prefixed msgpack frames, pipelined with correlation numbers), the
JSON value mapping, proxies for entity instances, and the error classes.
Standard library only (Debian's /usr/bin/python3).

    from stateflow.client import Client

    with Client("http://127.0.0.1:8080") as c:          # or "stateflow://127.0.0.1:7070"
        alice = c.create("User", "alice")               # a Proxy (or c.create(User, "alice"))
        c.create("Item", "apple", 5)
        ok = alice.buy_item(2, c.ref("Item", "apple"))  # a call
        state = alice.get()                             # the attribute dict
        c.delete(alice)                                 # or c.delete("User", "alice")
        reply = c.request({"op": "get", "entity": "User", "key": "alice"})
        replies = c.submit_many([{...}, {...}])         # pipelined, replies in order

Values sent: None, bool, int (64-bit), float, str, bytes, list, tuple, dict,
set, Ref and Proxy objects (references).  Values received: the same, except
that over HTTP tuples and sets arrive as lists (JSON has neither); refs
arrive as Ref objects and bytes as bytes on both transports.

Errors: a request the server answers with an error raises a RemoteError
subclass (NotFound, AlreadyExists, BadRequest, Unavailable, Overloaded, or
UserError for every other type, e.g. a user exception or a TypeError about
arguments), carrying .type, .message, .status (the HTTP status; None over the
native protocol) and .reply.  Overloaded (the system cannot take more now;
a subclass of Unavailable) also carries .retry_after: the seconds of the
HTTP Retry-After header, else None; over HTTP the reply dict's error object
holds them as "retry_after" too.  Transport failures raise Unavailable (could not
connect, connection lost) or Timeout; malformed answers raise ProtocolError.
``request`` and ``submit_many`` return reply dicts instead of raising for
error replies; a request that cannot be sent at all (a value outside the
model, NaN over JSON, a malformed {"$ref"} object) gets a local BadRequest
reply and is not sent.
"""

import base64
import binascii
import itertools
import json
import math
import os
import re
import select
import socket
import threading
import time
import urllib.parse
import weakref

from ._msgpack import MAX_DEPTH, MsgpackError, Ref, packb, unpackb

__all__ = [
    "Client", "Proxy", "Ref", "RemoteError", "NotFound", "AlreadyExists", "BadRequest",
    "Unavailable", "Overloaded", "Timeout", "ProtocolError", "UserError", "error_from_reply", "unwrap",
    "to_json", "from_json", "dumps", "loads", "DEFAULT_URL",
]

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_NATIVE_PORT = 7070
DEFAULT_TOKEN_FILE = os.path.join("stateflow-data", "cluster.token")

FRAME_MAX = 16 << 20          # docs/runtime.md: 1 <= frame length <= 16 MiB
HTTP_BODY_MAX = 1 << 20       # the gateway's request body limit
HTTP_BATCH_MAX = 1000         # requests per POST /v1/requests array (the gateway allows 10000)
HTTP_RESPONSE_MAX = 64 << 20  # refuse absurd response bodies
PROTOCOL_VERSION = 1

T_HELLO, T_WELCOME, T_REFUSE, T_PING, T_MAP = 1, 2, 3, 4, 10
T_REQUEST, T_REPLY = 20, 21
_PING_FRAME = len(packb([T_PING])).to_bytes(4, "big") + packb([T_PING])
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


# ------------------------------------------------------------------ errors

class RemoteError(Exception):
    """An error reply (or a transport failure).

    .type     the error type ("NotFound", "ValueError", "OutOfStock", ...)
    .message  the error message
    .status   the HTTP status when the reply came over HTTP, else None
    .reply    the reply dict when there was one, else None
    """

    def __init__(self, type, message, status=None, reply=None):
        super().__init__("%s: %s" % (type, message))
        self.type = type
        self.message = message
        self.status = status
        self.reply = reply


class NotFound(RemoteError):
    """Unknown entity, method or key (HTTP 404)."""


class AlreadyExists(RemoteError):
    """create: an instance with that key exists (HTTP 409)."""


class BadRequest(RemoteError):
    """A malformed request (HTTP 400, 413)."""


class Unavailable(RemoteError):
    """The service cannot answer (HTTP 503), or the client cannot reach it."""


class Overloaded(Unavailable):
    """The system cannot take more now (HTTP 503 with Retry-After): nothing
    ran; retry later.  .retry_after is the number of seconds the server asked
    to wait (HTTP Retry-After), or None when it did not say."""

    def __init__(self, type, message, status=None, reply=None, retry_after=None):
        super().__init__(type, message, status, reply)
        self.retry_after = retry_after


class Timeout(Unavailable):
    """No reply within the client's timeout (the request may still commit)."""


class ProtocolError(RemoteError):
    """The server's answer does not follow the protocol."""


class UserError(RemoteError):
    """Any other error type: a user exception (HTTP 422) or a TypeError."""


_ERROR_CLASSES = {
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "BadRequest": BadRequest,
    "Unavailable": Unavailable,
    "Overloaded": Overloaded,
}

# error type implied by an HTTP status whose body is not a reply
_STATUS_TYPES = {400: "BadRequest", 404: "NotFound", 409: "AlreadyExists", 413: "BadRequest",
                 503: "Unavailable"}


def error_from_reply(reply, status=None):
    """The RemoteError for an error reply ``{"error": {"type": T, "message": M}}``."""
    err = reply.get("error") if isinstance(reply, dict) else None
    if not isinstance(err, dict) or not isinstance(err.get("type"), str):
        return ProtocolError("ProtocolError", "malformed reply: %s" % _short(reply), status, reply)
    etype = err["type"]
    msg = err.get("message")
    if not isinstance(msg, str):
        msg = "" if msg is None else str(msg)
    if etype == "Overloaded":
        ra = err.get("retry_after")
        if type(ra) not in (int, float) or ra < 0:
            ra = None
        return Overloaded(etype, msg, status, reply, retry_after=ra)
    return _ERROR_CLASSES.get(etype, UserError)(etype, msg, status, reply)


def _retry_after_seconds(value):
    """An HTTP Retry-After header (delta-seconds or an HTTP-date) in seconds,
    or None when absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        import email.utils
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0, math.ceil(when.timestamp() - time.time()))


def _note_retry_after(reply, status, header):
    """Over HTTP: put an Overloaded reply's Retry-After seconds into its error
    object as "retry_after" (error_from_reply reads them from there)."""
    if status != 503 or not isinstance(reply, dict):
        return reply
    err = reply.get("error")
    if isinstance(err, dict) and err.get("type") == "Overloaded" and "retry_after" not in err:
        seconds = _retry_after_seconds(header)
        if seconds is not None:
            err["retry_after"] = seconds
    return reply


def unwrap(reply, status=None):
    """The value of an ``{"ok": value}`` reply; raises the RemoteError of an
    error reply, ProtocolError for anything else."""
    if isinstance(reply, dict):
        if "error" in reply:
            raise error_from_reply(reply, status)
        if "ok" in reply:
            return reply["ok"]
    raise ProtocolError("ProtocolError", "malformed reply: %s" % _short(reply), status,
                        reply if isinstance(reply, dict) else None)


def _short(v, limit=200):
    try:
        s = dumps(v, nonfinite_as_null=True)
    except (ValueError, TypeError, RecursionError):
        s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def _local_error(req, message):
    """A BadRequest reply made by the client for a request it could not send."""
    reply = {}
    if isinstance(req, dict):
        rid = req.get("id")
        if type(rid) in (str, int):
            reply["id"] = rid
    reply["error"] = {"type": "BadRequest", "message": message}
    return reply


# ------------------------------------------------------------ JSON mapping

_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _set_order(elements):
    try:
        return sorted(elements)
    except TypeError:
        return list(elements)


def to_json(value, *, nonfinite_as_null=False, _depth=0):
    """The JSON-able form of a value (DESIGN 4.5): Ref/Proxy -> {"$ref": [E, K]},
    bytes -> {"$bytes": base64}, tuples -> lists, sets -> lists (sorted when
    the elements compare), dict keys that are not str -> their compact JSON
    text.  NaN and infinities raise ValueError (or become None with
    nonfinite_as_null).  Other types raise ValueError."""
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise ValueError("int too large (more than 64 bits)")
        return value
    if t is float:
        if not math.isfinite(value):
            if nonfinite_as_null:
                return None
            raise ValueError("%r has no JSON form" % value)
        return value
    if _depth >= MAX_DEPTH:
        raise ValueError("nested too deeply (limit %d)" % MAX_DEPTH)
    d = _depth + 1
    if t is list or t is tuple:
        return [to_json(x, nonfinite_as_null=nonfinite_as_null, _depth=d) for x in value]
    if t is dict:
        if "$ref" in value or "$bytes" in value:
            # the JSON spelling of a reference or bytes: checked, then passed on
            return to_json(from_json(value), nonfinite_as_null=nonfinite_as_null, _depth=_depth)
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                k = dumps(k, nonfinite_as_null=nonfinite_as_null)
            out[k] = to_json(v, nonfinite_as_null=nonfinite_as_null, _depth=d)
        return out
    if t is bytes or t is bytearray or t is memoryview:
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if t is Ref or t is Proxy:
        ref = value if t is Ref else value.ref
        return {"$ref": [ref.entity, to_json(ref.key, nonfinite_as_null=nonfinite_as_null, _depth=d)]}
    if t is set or t is frozenset:
        return [to_json(x, nonfinite_as_null=nonfinite_as_null, _depth=d) for x in _set_order(value)]
    raise ValueError("cannot send a value of type '%s'" % t.__name__)


def from_json(value, _depth=0):
    """The value of a parsed JSON value: {"$ref": [E, K]} -> Ref,
    {"$bytes": base64} -> bytes, recursively.  An object with a "$ref" or
    "$bytes" member that is not exactly of that form raises ValueError."""
    t = type(value)
    if t is list:
        if _depth >= MAX_DEPTH:
            raise ValueError("nested too deeply (limit %d)" % MAX_DEPTH)
        return [from_json(x, _depth + 1) for x in value]
    if t is dict:
        if _depth >= MAX_DEPTH:
            raise ValueError("nested too deeply (limit %d)" % MAX_DEPTH)
        if "$ref" in value:
            r = value["$ref"]
            if (len(value) != 1 or type(r) is not list or len(r) != 2 or type(r[0]) is not str
                    or not r[0]):
                raise ValueError('a "$ref" object must be exactly {"$ref": [entity, key]}')
            return Ref(r[0], from_json(r[1], _depth + 1))
        if "$bytes" in value:
            s = value["$bytes"]
            if len(value) != 1 or type(s) is not str:
                raise ValueError('a "$bytes" object must be exactly {"$bytes": "<base64>"}')
            return _b64decode(s)
        return {k: from_json(v, _depth + 1) for k, v in value.items()}
    return value


def _b64decode(s):
    if len(s) % 4 or not _B64_RE.fullmatch(s):
        raise ValueError('"$bytes" is not standard padded base64')
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('"$bytes" is not standard padded base64') from None


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def loads(text):
    """Parse strict JSON (no NaN/Infinity) and map $ref/$bytes objects
    (from_json).  Raises ValueError."""
    try:
        return from_json(json.loads(text, parse_constant=_reject_constant))
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def dumps(value, *, nonfinite_as_null=False):
    """Compact JSON text of a value, written as the runtime writes replies
    (tests/diff/README.md): no spaces, UTF-8 raw, floats like repr()."""
    try:
        return json.dumps(to_json(value, nonfinite_as_null=nonfinite_as_null), ensure_ascii=False,
                          separators=(",", ":"), allow_nan=False)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _json_body(value):
    text = dumps(value)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("a str holds a lone surrogate (not valid Unicode)") from None


def _native_value(value, depth=0):
    """Prepare a value for msgpack: Proxy -> Ref, JSON-style {"$ref"} and
    {"$bytes"} objects -> Ref and bytes (so both transports accept both
    spellings).  Raises ValueError for malformed $ref/$bytes objects."""
    t = type(value)
    if t is Proxy:
        return value.ref
    if depth >= MAX_DEPTH + 1:
        return value     # packb reports the depth
    if t is dict:
        if "$ref" in value or "$bytes" in value:
            return _native_value(from_json(value), depth)
        return {_native_value(k, depth + 1): _native_value(v, depth + 1) for k, v in value.items()}
    if t is list:
        return [_native_value(x, depth + 1) for x in value]
    if t is tuple:
        return tuple(_native_value(x, depth + 1) for x in value)
    if t is set or t is frozenset:
        return t(_native_value(x, depth + 1) for x in value)
    if t is Ref:
        k = _native_value(value.key, depth + 1)
        return value if k is value.key else Ref(value.entity, k)
    return value


def _reply_from_json(obj, status):
    if not isinstance(obj, dict):
        raise ProtocolError("ProtocolError", "reply is not a JSON object: %s" % _short(obj), status)
    try:
        return from_json(obj)
    except ValueError as e:
        raise ProtocolError("ProtocolError", "malformed reply: %s" % e, status) from None


# ----------------------------------------------------------------- proxies

_MISSING = object()


def _entity_name(entity):
    if isinstance(entity, type):
        return entity.__name__
    if isinstance(entity, str) and entity:
        return entity
    raise TypeError("an entity is a class or a non-empty str, not %r" % (entity,))


class Proxy:
    """A remote entity instance.  Attribute calls are method calls:
    ``alice.buy_item(2, apple)``.  ``get()`` returns the attribute dict.
    ``call(name, *args)`` calls any method, including one whose name is one
    of the proxy's own attributes (client, ref, entity, key, get, call).
    A proxy passed as an argument travels as a reference."""

    __slots__ = ("_client", "_ref")

    def __init__(self, client, ref):
        if type(ref) is not Ref:
            raise TypeError("Proxy needs a Ref, not %r" % (ref,))
        self._client = client
        self._ref = ref

    @property
    def client(self):
        return self._client

    @property
    def ref(self):
        return self._ref

    @property
    def entity(self):
        return self._ref.entity

    @property
    def key(self):
        return self._ref.key

    def get(self):
        """The instance's attributes (a get request)."""
        return self._client.get(self._ref)

    def call(self, method, *args):
        """Call ``method`` on the instance with positional args."""
        return self._client.call(self._ref.entity, self._ref.key, method, *args)

    def __getattr__(self, name):
        if name in ("_client", "_ref") or (name.startswith("__") and name.endswith("__")):
            raise AttributeError(name)
        return _RemoteMethod(self, name)

    def __eq__(self, other):
        if type(other) is Proxy:
            return self._ref == other._ref
        if type(other) is Ref:
            return self._ref == other
        return NotImplemented

    def __ne__(self, other):
        r = self.__eq__(other)
        return r if r is NotImplemented else not r

    def __hash__(self):
        return hash(self._ref)

    def __repr__(self):
        return "Proxy(%r, %r)" % (self._ref.entity, self._ref.key)


class _RemoteMethod:
    __slots__ = ("_proxy", "_name")

    def __init__(self, proxy, name):
        self._proxy = proxy
        self._name = name

    def __call__(self, *args):
        return self._proxy.call(self._name, *args)

    def __repr__(self):
        return "<remote method %s.%s of %r>" % (self._proxy.entity, self._name, self._proxy)


# ---------------------------------------------------------- HTTP transport

class _HttpTransport:
    protocol = "http"

    def __init__(self, scheme, host, port, prefix, timeout, connect_timeout):
        import http.client     # imported on first use: it costs ~0.1 s at startup
        self._hc = http.client
        self._https = scheme == "https"
        self._host = host
        self._port = port
        self._prefix = prefix.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn = None
        self._used = False
        self.connections = 0    # connections opened (tests check keep-alive)

    def _where(self):
        return "%s:%d" % (self._host, self._port)

    def _drop(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None
        self._used = False

    def _ensure(self):
        if self._conn is not None and self._conn.sock is not None:
            return self._conn
        self._drop()
        cls = self._hc.HTTPSConnection if self._https else self._hc.HTTPConnection
        conn = cls(self._host, self._port, timeout=self.connect_timeout)
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            raise Unavailable("Unavailable", "cannot connect to %s: %s" % (self._where(), e)) from None
        conn.sock.settimeout(self.timeout)
        try:
            # headers and body leave in separate writes: without this, Nagle's
            # algorithm and delayed ACKs cost ~40 ms per request
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self._conn = conn
        self.connections += 1
        return conn

    def _exchange(self, method, path, body=None):
        """One HTTP exchange: (status, content type, body bytes, the
        Retry-After header or None)."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        with self._lock:
            for attempt in (0, 1):
                reused = self._conn is not None and self._used
                conn = self._ensure()
                try:
                    conn.request(method, self._prefix + path, body=body, headers=headers)
                    resp = conn.getresponse()
                    length = resp.getheader("Content-Length")
                    if length is not None and length.isdigit() and int(length) > HTTP_RESPONSE_MAX:
                        self._drop()
                        raise ProtocolError("ProtocolError", "response too large (%s bytes)" % length,
                                            resp.status)
                    data = resp.read(HTTP_RESPONSE_MAX + 1)
                    if len(data) > HTTP_RESPONSE_MAX:
                        self._drop()
                        raise ProtocolError("ProtocolError", "response too large", resp.status)
                except TimeoutError:
                    self._drop()
                    raise Timeout("Timeout", "no reply from %s within %gs" % (self._where(), self.timeout)) \
                        from None
                except (self._hc.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                    # A kept-alive connection the server has closed: the request
                    # was not read, so it is sent once more on a new connection.
                    self._drop()
                    if reused and attempt == 0:
                        continue
                    raise Unavailable("Unavailable", "connection to %s lost: %s" % (self._where(), e)) \
                        from None
                except self._hc.HTTPException as e:
                    self._drop()
                    raise ProtocolError("ProtocolError", "bad HTTP response from %s: %r"
                                        % (self._where(), e)) from None
                except OSError as e:
                    self._drop()
                    raise Unavailable("Unavailable", "connection to %s failed: %s" % (self._where(), e)) \
                        from None
                self._used = True
                if resp.will_close:
                    self._drop()
                return resp.status, resp.getheader("Content-Type", ""), data, resp.getheader("Retry-After")

    def _json_exchange(self, method, path, body=None):
        """(status, parsed JSON, with $ref/$bytes left as dicts, the
        Retry-After header or None)."""
        status, _, data, retry_after = self._exchange(method, path, body)
        try:
            obj = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            text = data.decode("utf-8", "replace").strip()
            etype = _STATUS_TYPES.get(status)
            if etype is not None or status == 422:
                raise _ERROR_CLASSES.get(etype, UserError)(
                    etype or "Error", "HTTP %d: %s" % (status, text[:200]), status) from None
            raise ProtocolError("ProtocolError", "HTTP %d, not JSON: %s" % (status, text[:200]),
                                status) from None
        return status, obj, retry_after

    def _post_one(self, path, body):
        status, obj, retry_after = self._json_exchange("POST" if body is not None else "GET", path, body)
        return _note_retry_after(_reply_from_json(obj, status), status, retry_after), status

    def raw(self, req):
        try:
            body = _json_body(req)
        except ValueError as e:
            return _local_error(req, "cannot send request: %s" % e), None
        return self._post_one("/v1/requests", body)

    def op(self, req):
        """create/call/get/delete by their own routes when the key is a str."""
        q = lambda s: urllib.parse.quote(s, safe="")   # noqa: E731
        op = req.get("op")
        key = req.get("key")
        try:
            if op == "create":
                return self._post_one("/v1/%s" % q(req["entity"]), _json_body({"args": req["args"]}))
            if op == "call" and type(key) is str and key:
                return self._post_one("/v1/%s/%s/%s" % (q(req["entity"]), q(key), q(req["method"])),
                                      _json_body({"args": req["args"]}))
            if op == "get" and type(key) is str and key:
                return self._post_one("/v1/%s/%s" % (q(req["entity"]), q(key)), None)
            if op == "delete" and type(key) is str and key:
                status, obj, retry_after = self._json_exchange(
                    "DELETE", "/v1/%s/%s" % (q(req["entity"]), q(key)))
                return _note_retry_after(_reply_from_json(obj, status), status, retry_after), status
        except ValueError as e:
            return _local_error(req, "cannot send request: %s" % e), None
        return self.raw(req)

    def many(self, reqs):
        out = [None] * len(reqs)
        chunk, chunk_idx, size = [], [], 2

        def flush():
            if not chunk:
                return
            body = b"[" + b",".join(chunk) + b"]"
            status, obj, retry_after = self._json_exchange("POST", "/v1/requests", body)
            if isinstance(obj, list):
                if len(obj) != len(chunk):
                    raise ProtocolError("ProtocolError", "%d replies for %d requests"
                                        % (len(obj), len(chunk)), status)
                for i, r in zip(chunk_idx, obj):
                    out[i] = (_reply_from_json(r, status), status)
            else:
                # the body as a whole was refused (e.g. 413, 503): no request of it ran
                reply = _note_retry_after(_reply_from_json(obj, status), status, retry_after)
                if "error" not in reply:
                    raise ProtocolError("ProtocolError", "expected an array of replies", status)
                for i in chunk_idx:
                    r = dict(reply)
                    rid = reqs[i].get("id") if isinstance(reqs[i], dict) else None
                    r.pop("id", None)
                    if type(rid) in (str, int):
                        r = {"id": rid, **r}
                    out[i] = (r, status)
            chunk.clear()
            chunk_idx.clear()

        for i, req in enumerate(reqs):
            try:
                b = _json_body(req)
            except ValueError as e:
                out[i] = (_local_error(req, "cannot send request: %s" % e), None)
                continue
            if chunk and (size + len(b) + 1 > HTTP_BODY_MAX or len(chunk) >= HTTP_BATCH_MAX):
                flush()
                size = 2
            chunk.append(b)
            chunk_idx.append(i)
            size += len(b) + 1
        flush()
        return out

    def _text(self, path):
        status, ctype, data, _ = self._exchange("GET", path)
        return status, data.decode("utf-8", "replace")

    def health(self):
        status, text = self._text("/healthz")
        if status != 200:
            raise Unavailable("Unavailable", "health check: HTTP %d: %s" % (status, text.strip()[:200]),
                              status)
        return text

    def metrics(self):
        status, text = self._text("/metrics")
        if status != 200:
            raise RemoteError(_STATUS_TYPES.get(status, "Error"),
                              "metrics: HTTP %d: %s" % (status, text.strip()[:200]), status)
        return text

    def close(self):
        with self._lock:
            self._drop()


# -------------------------------------------------------- native transport

class _Pending:
    __slots__ = ("event", "reply", "error")

    def __init__(self):
        self.event = threading.Event()
        self.reply = None
        self.error = None


class _NativeConn:
    """One live connection: the socket, a reader thread that routes replies
    to waiting requests by correlation number and sends PING when idle, and
    the table of pending requests."""

    def __init__(self, sock, where, ping_interval, timeout):
        self.sock = sock
        self.where = where
        self.ping_interval = ping_interval
        self.timeout = timeout
        self.wlock = threading.Lock()
        self.plock = threading.Lock()
        self.pending = {}
        self.error = None          # set once the connection is dead
        self.last_reply = time.monotonic()   # the last REPLY frame (PINGs do not count)
        self.last_tx = self.last_reply
        self.rbuf = bytearray()
        self.thread = None

    # --- framing (also used synchronously for the handshake)
    def send_frame(self, payload):
        self.send_bytes(len(payload).to_bytes(4, "big") + payload)

    def send_bytes(self, data):
        with self.wlock:
            if self.error is not None:
                raise self.error
            try:
                self.sock.sendall(data)
            except TimeoutError:
                exc = Timeout("Timeout", "sending to %s timed out" % self.where)
                self.fail(exc)
                raise exc from None
            except OSError as e:
                exc = Unavailable("Unavailable", "connection to %s lost: %s" % (self.where, e))
                self.fail(exc)
                raise exc from None
            self.last_tx = time.monotonic()

    def next_frame(self):
        """A complete frame from rbuf, or None."""
        if len(self.rbuf) < 4:
            return None
        n = int.from_bytes(self.rbuf[:4], "big")
        if n == 0 or n > FRAME_MAX:
            raise ProtocolError("ProtocolError", "bad frame length %d from %s" % (n, self.where))
        if len(self.rbuf) < 4 + n:
            return None
        payload = bytes(self.rbuf[4:4 + n])
        del self.rbuf[:4 + n]
        try:
            msg = unpackb(payload)
        except MsgpackError as e:
            raise ProtocolError("ProtocolError", "bad frame from %s: %s" % (self.where, e)) from None
        if type(msg) is not list or not msg or type(msg[0]) is not int:
            raise ProtocolError("ProtocolError", "bad frame from %s: not [type, ...]" % self.where)
        return msg

    def read_frame_sync(self, deadline):
        """Handshake only (before the reader thread runs)."""
        while True:
            msg = self.next_frame()
            if msg is not None:
                return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unavailable("Unavailable", "handshake with %s timed out" % self.where)
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                raise Unavailable("Unavailable", "handshake with %s timed out" % self.where) from None
            except OSError as e:
                raise Unavailable("Unavailable", "handshake with %s failed: %s" % (self.where, e)) from None
            if not data:
                raise Unavailable("Unavailable", "%s closed the connection during the handshake"
                                  % self.where)
            self.rbuf += data

    # --- the reader thread
    def start(self):
        self.sock.settimeout(self.timeout)
        self.thread = threading.Thread(target=self._run, name="stateflow-client-reader", daemon=True)
        self.thread.start()

    def _run(self):
        try:
            while self.error is None:
                try:
                    ready, _, _ = select.select([self.sock], [], [], self.ping_interval)
                except (OSError, ValueError):
                    raise Unavailable("Unavailable", "connection to %s closed" % self.where) from None
                if not ready:
                    if time.monotonic() - self.last_tx >= self.ping_interval and \
                            self.wlock.acquire(blocking=False):
                        try:
                            self.sock.sendall(_PING_FRAME)
                            self.last_tx = time.monotonic()
                        except OSError as e:
                            raise Unavailable("Unavailable", "connection to %s lost: %s"
                                              % (self.where, e)) from None
                        finally:
                            self.wlock.release()
                    continue
                try:
                    data = self.sock.recv(262144)
                except (BlockingIOError, InterruptedError, TimeoutError):
                    continue
                except OSError as e:
                    raise Unavailable("Unavailable", "connection to %s lost: %s" % (self.where, e)) from None
                if not data:
                    raise Unavailable("Unavailable", "%s closed the connection" % self.where)
                self.rbuf += data
                while True:
                    msg = self.next_frame()
                    if msg is None:
                        break
                    self._dispatch(msg)
        except RemoteError as e:
            self.fail(e)
        except Exception as e:   # never let the thread die silently
            self.fail(ProtocolError("ProtocolError", "client reader failed: %r" % e))

    def _dispatch(self, msg):
        t = msg[0]
        if t == T_REPLY:
            if len(msg) != 3 or type(msg[1]) is not int:
                raise ProtocolError("ProtocolError", "bad REPLY frame from %s" % self.where)
            self.last_reply = time.monotonic()
            with self.plock:
                p = self.pending.pop(msg[1], None)
            if p is not None:          # else: a reply we stopped waiting for
                reply = msg[2]
                if type(reply) is not dict:
                    p.error = ProtocolError("ProtocolError", "reply is not a map: %s" % _short(reply))
                else:
                    p.reply = reply
                p.event.set()
        elif t in (T_PING, T_MAP):
            pass
        else:
            raise ProtocolError("ProtocolError", "unexpected frame type %d from %s" % (t, self.where))

    def fail(self, exc):
        """Mark the connection dead; every waiting request gets exc."""
        with self.plock:
            if self.error is None:
                self.error = exc
            pending, self.pending = self.pending, {}
        for p in pending.values():
            p.error = exc
            p.event.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def register(self, corr):
        p = _Pending()
        with self.plock:
            if self.error is not None:
                raise self.error
            self.pending[corr] = p
        return p

    def forget(self, corrs):
        with self.plock:
            for c in corrs:
                self.pending.pop(c, None)

    def close(self):
        self.fail(Unavailable("Unavailable", "client closed"))
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(2.0)
        try:
            self.sock.close()
        except OSError:
            pass


class _NativeTransport:
    protocol = "native"

    def __init__(self, host, port, token, timeout, connect_timeout, ping_interval=1.0):
        self._host = host
        self._port = port
        self._token = token
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.ping_interval = ping_interval
        self._lock = threading.Lock()
        self._conn = None
        self._corr = itertools.count(1)
        self.connections = 0

    def _where(self):
        return "%s:%d" % (self._host, self._port)

    def _connect(self):
        with self._lock:
            c = self._conn
            if c is not None and c.error is None:
                return c
            if c is not None:
                c.close()
                self._conn = None
            try:
                sock = socket.create_connection((self._host, self._port), timeout=self.connect_timeout)
            except OSError as e:
                raise Unavailable("Unavailable", "cannot connect to %s: %s" % (self._where(), e)) from None
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            c = _NativeConn(sock, self._where(), self.ping_interval, self.timeout)
            try:
                c.send_frame(packb([T_HELLO, PROTOCOL_VERSION, self._token, "client", ""]))
                deadline = time.monotonic() + self.connect_timeout
                while True:
                    msg = c.read_frame_sync(deadline)
                    if msg[0] == T_PING:
                        continue
                    break
                if msg[0] == T_REFUSE:
                    reason = msg[1] if len(msg) > 1 and type(msg[1]) is str else "no reason given"
                    raise Unavailable("Unavailable", "%s refused the connection: %s"
                                      % (self._where(), reason))
                if msg[0] != T_WELCOME or len(msg) < 2 or msg[1] != PROTOCOL_VERSION:
                    raise ProtocolError("ProtocolError", "expected WELCOME (protocol %d) from %s, got %s"
                                        % (PROTOCOL_VERSION, self._where(), _short(msg)))
            except BaseException:
                c.close()
                raise
            c.start()
            self._conn = c
            self.connections += 1
            return c

    def many(self, reqs):
        out = [None] * len(reqs)
        frames = []          # (index, corr, frame bytes)
        for i, req in enumerate(reqs):
            if not isinstance(req, dict):
                out[i] = (_local_error(None, "a request is an object (dict)"), None)
                continue
            corr = next(self._corr)
            try:
                payload = packb([T_REQUEST, corr, _native_value(req)])
            except (MsgpackError, ValueError, TypeError) as e:
                out[i] = (_local_error(req, "cannot send request: %s" % e), None)
                continue
            if len(payload) > FRAME_MAX:
                out[i] = (_local_error(req, "request too large (%d bytes)" % len(payload)), None)
                continue
            frames.append((i, corr, len(payload).to_bytes(4, "big") + payload))
        if not frames:
            return out
        conn = self._connect()
        waits = [(i, corr, conn.register(corr)) for i, corr, _ in frames]
        try:
            buf = bytearray()
            for _, _, f in frames:
                buf += f
                if len(buf) >= 262144:
                    conn.send_bytes(bytes(buf))
                    buf.clear()
            if buf:
                conn.send_bytes(bytes(buf))
            start = time.monotonic()
            for i, corr, p in waits:
                while not p.event.is_set():
                    # the timeout bounds the wait since the last sign of progress
                    left = max(start, conn.last_reply) + self.timeout - time.monotonic()
                    if left <= 0:
                        raise Timeout("Timeout", "no reply from %s within %gs" % (self._where(), self.timeout))
                    p.event.wait(min(left, 1.0))
                if p.error is not None:
                    raise p.error
                out[i] = (p.reply, None)
        except BaseException:
            conn.forget([corr for _, corr, _ in frames])
            raise
        return out

    def op(self, req):
        return self.many([req])[0]

    raw = op

    def health(self):
        self._connect()
        return "ok"

    def metrics(self):
        raise BadRequest("BadRequest", "metrics are served over HTTP only (GET /metrics)")

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _resolve_token(token, token_file):
    if token is not None:
        if isinstance(token, str):
            return token.encode("utf-8")
        return bytes(token)
    if token_file is not None:
        with open(token_file, "rb") as f:
            return f.read()
    env = os.environ.get("STATEFLOW_TOKEN")
    if env is not None:
        return env.encode("utf-8")
    try:
        with open(DEFAULT_TOKEN_FILE, "rb") as f:
            return f.read()
    except OSError:
        return b""


# ------------------------------------------------------------------ client

class Client:
    """A connection to stateflowd.

    ``url``: ``http://HOST:PORT`` (the JSON gateway, default
    http://127.0.0.1:8080; https works too) or ``stateflow://HOST:PORT`` (the
    native protocol, default port 7070).
    ``timeout``: seconds to wait for a reply (for a pipelined batch: the
    longest wait between two consecutive replies); ``connect_timeout``:
    seconds to connect and handshake.
    ``token`` (str or bytes) or ``token_file``: the cluster token sent in the
    native handshake; default $STATEFLOW_TOKEN, else the contents of
    ./stateflow-data/cluster.token when it exists, else empty.

    Thread-safe: over HTTP requests from several threads take turns on one
    keep-alive connection; over the native protocol they share one
    connection and are answered independently.  Connections open on first
    use and reopen after a failure.  Use ``with Client(...) as c:`` or
    ``close()``.
    """

    def __init__(self, url=DEFAULT_URL, *, timeout=30.0, connect_timeout=5.0, token=None,
                 token_file=None):
        if timeout is None or timeout <= 0 or connect_timeout is None or connect_timeout <= 0:
            raise ValueError("timeouts must be positive numbers of seconds")
        self.url = url
        u = urllib.parse.urlsplit(url)
        try:
            port = u.port
        except ValueError:
            raise ValueError("bad port in URL %r" % url) from None
        host = u.hostname
        if not host:
            raise ValueError("URL %r has no host" % url)
        if u.scheme in ("http", "https"):
            self._t = _HttpTransport(u.scheme, host, port or (443 if u.scheme == "https" else 80),
                                     u.path, float(timeout), float(connect_timeout))
        elif u.scheme == "stateflow":
            self._t = _NativeTransport(host, port or DEFAULT_NATIVE_PORT, _resolve_token(token, token_file),
                                       float(timeout), float(connect_timeout))
        else:
            raise ValueError("URL %r: the scheme must be http, https or stateflow" % url)
        self._finalizer = weakref.finalize(self, self._t.close)

    # --- properties
    @property
    def protocol(self):
        """"http" or "native"."""
        return self._t.protocol

    @property
    def timeout(self):
        return self._t.timeout

    @timeout.setter
    def timeout(self, seconds):
        if seconds is None or seconds <= 0:
            raise ValueError("timeout must be a positive number of seconds")
        self._t.timeout = float(seconds)

    # --- entity operations
    def create(self, entity, *args):
        """Create an instance (``User.__init__(*args)``); returns its Proxy."""
        req = {"op": "create", "entity": _entity_name(entity), "args": list(args)}
        reply, status = self._t.op(req)
        value = unwrap(reply, status)
        if type(value) is not Ref:
            raise ProtocolError("ProtocolError", "create answered %s, not a reference" % _short(value),
                                status, reply)
        return Proxy(self, value)

    def ref(self, entity, key=_MISSING):
        """A Proxy for an instance, without a request: ``ref(User, "alice")``,
        ``ref("User", "alice")`` or ``ref(Ref(...))``."""
        if key is _MISSING:
            if type(entity) is Proxy:
                return Proxy(self, entity.ref)
            if type(entity) is Ref:
                return Proxy(self, entity)
            raise TypeError("ref() needs an entity and a key, or a Ref")
        return Proxy(self, Ref(_entity_name(entity), key))

    def call(self, entity, key, method, *args):
        """Call ``method`` on the instance; returns the method's result."""
        if not isinstance(method, str) or not method:
            raise TypeError("a method name is a non-empty str")
        req = {"op": "call", "entity": _entity_name(entity), "key": key, "method": method,
               "args": list(args)}
        return unwrap(*self._t.op(req))

    def delete(self, entity, key=_MISSING):
        """Delete an instance: ``delete(User, "alice")``, ``delete("User",
        "alice")`` or ``delete(proxy_or_ref)``.  Returns None; NotFound when
        there is no such instance.  One transaction, like every request."""
        if key is _MISSING:
            if type(entity) is Proxy:
                entity = entity.ref
            if type(entity) is not Ref:
                raise TypeError("delete() needs an entity and a key, or a Ref/Proxy")
            entity, key = entity.entity, entity.key
        req = {"op": "delete", "entity": _entity_name(entity), "key": key}
        reply, status = self._t.op(req)
        unwrap(reply, status)
        return None

    def get(self, entity, key=_MISSING):
        """The attribute dict of an instance: ``get(User, "alice")``,
        ``get("User", "alice")``, or ``get(proxy_or_ref)``."""
        if key is _MISSING:
            if type(entity) is Proxy:
                entity = entity.ref
            if type(entity) is not Ref:
                raise TypeError("get() needs an entity and a key, or a Ref/Proxy")
            entity, key = entity.entity, entity.key
        req = {"op": "get", "entity": _entity_name(entity), "key": key}
        reply, status = self._t.op(req)
        value = unwrap(reply, status)
        if type(value) is not dict:
            raise ProtocolError("ProtocolError", "get answered %s, not an object" % _short(value),
                                status, reply)
        return value

    def _send(self, req):
        """(reply, HTTP status or None) for a create/call/get/delete request dict,
        by the typed HTTP routes when possible (sfctl uses this)."""
        return self._t.op(req)

    # --- raw requests
    def request(self, req):
        """Send one raw request dict (DESIGN 4.5); returns the reply dict
        (``{"ok": ...}`` or ``{"error": {...}}``, with "id" when given)."""
        if not isinstance(req, dict):
            raise TypeError("a request is a dict")
        return self._t.raw(req)[0]

    def submit_many(self, reqs):
        """Send many raw requests at once (pipelined over the native protocol,
        POST /v1/requests arrays over HTTP); returns their replies in order."""
        reqs = list(reqs)
        return [r for r, _ in self._t.many(reqs)]

    # --- service
    def health(self):
        """GET /healthz's body over HTTP ("ok" over the native protocol, once
        the handshake succeeds); raises Unavailable otherwise."""
        return self._t.health()

    def metrics(self):
        """GET /metrics (Prometheus text); HTTP only."""
        return self._t.metrics()

    def close(self):
        self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "Client(%r)" % self.url
