"""standins.py: in-process stand-ins for stateflowd, for the client tests.

FakeApp answers DESIGN 4.5 requests over a dict (entities User, Item, Seat);
HttpStandin serves it over the HTTP gateway routes (docs/runtime.md) and
NativeStandin over the native client protocol (HELLO/WELCOME handshake,
[20, corr, request] -> [21, corr, reply] frames), with knobs to misbehave:
answer out of order, stay silent, send PINGs or garbage, close connections.

The JSON mapping here is written independently of stateflow.client, so the
two check each other.  The native stand-in uses stateflow._msgpack (whose
encodings the tests pin down byte by byte separately).
"""

import base64
import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from stateflow._msgpack import Ref, packb, unpackb


def jtext(v):
    """Key identity: compact JSON text (tuples as arrays), like the runtime."""
    def norm(x):
        if isinstance(x, Ref):
            return {"$ref": [x.entity, norm(x.key)]}
        if isinstance(x, (list, tuple)):
            return [norm(e) for e in x]
        if isinstance(x, bytes):
            return {"$bytes": base64.b64encode(x).decode()}
        return x
    return json.dumps(norm(v), separators=(",", ":"), ensure_ascii=False)


def json_to_value(v):
    if isinstance(v, list):
        return [json_to_value(x) for x in v]
    if isinstance(v, dict):
        if set(v) == {"$ref"}:
            return Ref(v["$ref"][0], json_to_value(v["$ref"][1]))
        if set(v) == {"$bytes"}:
            return base64.b64decode(v["$bytes"], validate=True)
        return {k: json_to_value(x) for k, x in v.items()}
    return v


def value_to_json(v):
    if isinstance(v, Ref):
        return {"$ref": [v.entity, value_to_json(v.key)]}
    if isinstance(v, bytes):
        return {"$bytes": base64.b64encode(v).decode()}
    if isinstance(v, (list, tuple)):
        return [value_to_json(x) for x in v]
    if isinstance(v, (set, frozenset)):
        return [value_to_json(x) for x in sorted(v)]
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else jtext(k)): value_to_json(x) for k, x in v.items()}
    return v


class AppError(Exception):
    def __init__(self, etype, message, status):
        super().__init__(message)
        self.etype = etype
        self.message = message
        self.status = status


STATUS = {"BadRequest": 400, "NotFound": 404, "AlreadyExists": 409, "Unavailable": 503}


class FakeApp:
    """A tiny in-memory 'application' with the contract's reply shapes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.state = {}          # (entity, jtext(key)) -> attrs
        self.unavailable = False

    def handle(self, req):
        """-> (reply dict in value form, HTTP status)."""
        rid = req.get("id") if isinstance(req, dict) else None
        try:
            value, status = self._handle(req)
            reply = {"ok": value}
        except AppError as e:
            reply = {"error": {"type": e.etype, "message": e.message}}
            status = e.status
        if rid is not None:
            reply = {"id": rid, **reply}
        return reply, status

    def _bad(self, msg):
        return AppError("BadRequest", msg, 400)

    def _handle(self, req):
        if self.unavailable:
            raise AppError("Unavailable", "no workers", 503)
        if not isinstance(req, dict):
            raise self._bad("a request is an object")
        op = req.get("op")
        entity = req.get("entity")
        if op not in ("create", "call", "get", "delete") or not isinstance(entity, str):
            raise self._bad("bad op or entity")
        args = req.get("args", [])
        if not isinstance(args, list):
            raise self._bad("args must be an array")
        if entity not in ("User", "Item", "Seat"):
            raise AppError("NotFound", "unknown entity '%s'" % entity, 404)
        with self.lock:
            if op == "create":
                return self._create(entity, args), 201
            key = req.get("key")
            inst = self.state.get((entity, jtext(key)))
            if op in ("get", "delete"):
                if inst is None:
                    raise AppError("NotFound", "%s %s not found" % (entity, jtext(key)), 404)
                if op == "delete":
                    del self.state[(entity, jtext(key))]
                    return None, 200
                return dict(inst), 200
            return self._call(entity, key, inst, req.get("method"), args), 200

    def _create(self, entity, args):
        if entity == "User":
            if len(args) != 1:
                raise AppError("TypeError", "User() expects 1 argument, got %d" % len(args), 422)
            key, attrs = args[0], {"username": args[0], "balance": 100}
        elif entity == "Item":
            if len(args) != 2:
                raise AppError("TypeError", "Item() expects 2 arguments, got %d" % len(args), 422)
            key, attrs = args[0], {"item_id": args[0], "price": args[1], "stock": 10}
        else:
            key, attrs = (args[0], args[1]), {"row": args[0], "col": args[1]}
        k = (entity, jtext(key))
        if k in self.state:
            raise AppError("AlreadyExists", "%s %s already exists" % (entity, jtext(key)), 409)
        self.state[k] = attrs
        return Ref(entity, key)

    def _call(self, entity, key, inst, method, args):
        methods = {"User": ("buy_item", "echo", "me", "fail", "get", "slow")}.get(entity, ())
        if method not in methods:
            raise AppError("NotFound", "unknown method '%s.%s'" % (entity, method), 404)
        if inst is None:
            raise AppError("NotFound", "%s %s not found" % (entity, jtext(key)), 404)
        if method == "buy_item":
            amount, item = args
            if not isinstance(item, Ref) or item.entity != "Item":
                raise AppError("TypeError", "User.buy_item() argument 'item' must be a reference to Item",
                               422)
            it = self.state.get(("Item", jtext(item.key)))
            if it is None:
                raise AppError("NotFound", "Item %s not found" % jtext(item.key), 404)
            total = amount * it["price"]
            if inst["balance"] < total:
                raise AppError("NotEnoughBalance", "balance %d < %d" % (inst["balance"], total), 422)
            inst["balance"] -= total
            it["stock"] -= amount
            return True
        if method == "echo":
            return list(args)
        if method == "me":
            return Ref(entity, key)
        if method == "fail":
            raise AppError("ValueError", str(args[0]) if args else "failed", 422)
        if method == "get":
            return "the user method called get"
        if method == "slow":
            self.lock.release()
            try:
                time.sleep(args[0])
            finally:
                self.lock.acquire()
            return "slept"
        raise AssertionError(method)


# ------------------------------------------------------------------- HTTP

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "standin/1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        with self.server.standin.lock:
            self.server.standin.connections += 1

    def _send(self, status, body, ctype="application/json"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        st = self.server.standin
        if st.close_after_next:
            # close without saying so: the client finds out on its next request
            st.close_after_next = False
            self.close_connection = True

    def _reply(self, reply, status):
        self._send(status, json.dumps(value_to_json(reply), separators=(",", ":"), ensure_ascii=False))

    def _record(self, body):
        st = self.server.standin
        with st.lock:
            st.log.append((self.command, self.path, body))

    def do_DELETE(self):
        self._record(None)
        st = self.server.standin
        parts = self.path.split("/")
        if len(parts) == 4 and parts[1] == "v1":
            req = {"op": "delete", "entity": urllib.parse.unquote(parts[2]),
                   "key": urllib.parse.unquote(parts[3])}
            return self._reply(*st.app.handle(req))
        self._send(404, "no such route\n", "text/plain")

    def do_GET(self):
        self._record(None)
        st = self.server.standin
        path = self.path
        if path == "/healthz":
            return self._send(200 if not st.app.unavailable else 503, "ok\n", "text/plain")
        if path == "/metrics":
            return self._send(200, "# TYPE stateflow_requests_total counter\nstateflow_requests_total %d\n"
                              % len(st.log), "text/plain; version=0.0.4")
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "v1":
            req = {"op": "get", "entity": urllib.parse.unquote(parts[2]),
                   "key": urllib.parse.unquote(parts[3])}
            return self._reply(*st.app.handle(req))
        self._send(404, "no such route\n", "text/plain")

    def do_POST(self):
        st = self.server.standin
        n = int(self.headers.get("Content-Length", "0"))
        if n > (1 << 20):
            self.rfile.read(n)
            self._record(None)
            return self._reply({"error": {"type": "BadRequest", "message": "body too large"}}, 413)
        raw = self.rfile.read(n)
        self._record(raw)
        try:
            body = json_to_value(json.loads(raw))
        except ValueError as e:
            return self._reply({"error": {"type": "BadRequest", "message": str(e)}}, 400)
        parts = self.path.split("/")
        if self.path == "/v1/requests":
            if isinstance(body, list):
                return self._reply([st.app.handle(r)[0] for r in body], 200)
            return self._reply(*st.app.handle(body))
        if not isinstance(body, dict) or not isinstance(body.get("args", []), list):
            return self._reply({"error": {"type": "BadRequest", "message": "body must be {args}"}}, 400)
        args = body.get("args", [])
        if len(parts) == 3 and parts[1] == "v1":
            return self._reply(*st.app.handle({"op": "create", "entity": urllib.parse.unquote(parts[2]),
                                               "args": args}))
        if len(parts) == 5 and parts[1] == "v1":
            return self._reply(*st.app.handle({
                "op": "call", "entity": urllib.parse.unquote(parts[2]),
                "key": urllib.parse.unquote(parts[3]), "method": urllib.parse.unquote(parts[4]),
                "args": args}))
        self._send(404, "no such route\n", "text/plain")


class HttpStandin:
    def __init__(self, app=None):
        self.app = app or FakeApp()
        self.lock = threading.Lock()
        self.connections = 0
        self.log = []              # (method, path, body bytes or None)
        self.close_after_next = False
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None   # clients that hang up
        self.server.standin = self
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# ----------------------------------------------------------------- native

def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def read_frame(sock):
    n = int.from_bytes(_recv_exact(sock, 4), "big")
    return unpackb(_recv_exact(sock, n))


def frame(msg):
    p = packb(msg)
    return len(p).to_bytes(4, "big") + p


class NativeStandin:
    """Native protocol stand-in.  Knobs (set before the client sends):
    reverse   answer requests in groups of this many, last first
    pings     send a PING before every reply
    silent    read requests, never answer
    garbage   answer the next request with a zero-length frame
    close_on_request  close the connection when a request arrives
    """

    def __init__(self, token=b"s3cret", app=None):
        self.app = app or FakeApp()
        self.token = token
        self.lock = threading.Lock()
        self.connections = 0
        self.hellos = []
        self.received = []        # every frame after the handshake, per arrival
        self.sent_order = []      # corr numbers in the order replies went out
        self.reverse = 1
        self.pings = False
        self.silent = False
        self.garbage = False
        self.close_on_request = False
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "stateflow://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            hello = read_frame(c)
            with self.lock:
                self.hellos.append(hello)
            if (not isinstance(hello, list) or len(hello) != 5 or hello[:2] != [1, 1]
                    or hello[2] != self.token or hello[3] != "client"):
                c.sendall(frame([3, "bad token or hello"]))
                return
            c.sendall(frame([2, 1]))
            with self.lock:
                self.connections += 1
            held = []
            while True:
                msg = read_frame(c)
                with self.lock:
                    self.received.append(msg)
                if msg[0] == 4:
                    continue
                assert msg[0] == 20 and len(msg) == 3, msg
                if self.close_on_request:
                    self.close_on_request = False
                    return
                if self.silent:
                    continue
                if self.garbage:
                    c.sendall(b"\x00\x00\x00\x00")
                    continue
                reply, _ = self.app.handle(msg[2])
                held.append((msg[1], reply))
                if len(held) >= self.reverse:
                    for corr, r in reversed(held):
                        if self.pings:
                            c.sendall(frame([4]))
                        c.sendall(frame([21, corr, r]))
                        with self.lock:
                            self.sent_order.append(corr)
                    held = []
        except (EOFError, OSError, ValueError):
            pass
        finally:
            try:
                c.close()
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass
