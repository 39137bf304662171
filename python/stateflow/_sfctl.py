"""stateflow._sfctl: the command-line client behind python/sfctl.

Owns sfctl's argument syntax, its output format and its exit codes (the
usage text below is the reference; docs/runtime.md "Clients" summarises it).
"""

import json
import os
import sys

from .client import (DEFAULT_URL, Client, RemoteError, Ref, _entity_name, _local_error, dumps,
                     from_json, unwrap)

USAGE = """\
usage: sfctl [OPTIONS] COMMAND ...

commands:
  create ENTITY [ARG...]        create an instance; prints its {"$ref": [ENTITY, KEY]}
  call ENTITY/KEY METHOD [ARG...]
                                call a method; prints its result
  get ENTITY/KEY                prints the instance's attributes
  delete ENTITY/KEY             delete the instance; prints null
  send FILE                     raw requests, one JSON object per line (FILE "-" is
                                stdin; blank lines are skipped); prints one reply line
                                per request, in order (pipelined)
  health                        GET /healthz (native URL: the handshake succeeds)
  metrics                       GET /metrics (HTTP only)

options (before the command):
  --url URL        http://HOST:PORT (JSON gateway) or stateflow://HOST:PORT (native
                   protocol); default $STATEFLOW_URL, else http://127.0.0.1:8080
  --token TOKEN    cluster token for the native handshake (default $STATEFLOW_TOKEN,
  --token-file F   else ./stateflow-data/cluster.token when it exists)
  --timeout SECS   seconds to wait for a reply (default 30)
  --json           print the raw reply object ({"ok": ...} or {"error": ...})
  -h, --help       this text

arguments:
  @ENTITY/KEY      a reference, e.g. @Item/apple
  anything else    JSON when it parses as JSON (2 -> int, 2.5 -> float, true, null,
                   [1,2] -> list, {"a":1} -> dict, '"7"' -> the string 7,
                   {"$bytes":"AAE="} -> bytes), otherwise the text itself as a string
                   (alice -> "alice")
  KEY (in ENTITY/KEY and @ENTITY/KEY)
                   the text after the first "/" is the key, as a string
                   (User/alice, User/42 -> the string "42", Path/a/b -> "a/b");
                   "#" then JSON gives any other key: Seat/#7 -> the int 7,
                   Seat/#[1,2] -> [1, 2], User/#"#x" -> the string "#x"

output: the reply's value as compact JSON on stdout.  An error reply prints
"error: TYPE: MESSAGE" on stderr and exits 1 (also for connection failures).
exit status: 0 success, 1 error reply or failure, 2 usage error.  For send,
error replies are printed like any reply and the exit status is 0 unless the
requests could not be delivered.
"""

SEND_CHUNK = 1000


class UsageError(Exception):
    pass


def parse_key(text):
    """The key of ENTITY/KEY: the text as a string, or JSON after "#"."""
    if text.startswith("#"):
        try:
            return _parse_json(text[1:])
        except ValueError as e:
            raise UsageError("bad key %r: %s" % (text, e)) from None
    return text


def parse_target(text):
    """ENTITY/KEY -> (entity, key)."""
    entity, sep, key = text.partition("/")
    if not sep or not entity:
        raise UsageError("expected ENTITY/KEY, got %r" % text)
    return entity, parse_key(key)


def _parse_json(text):
    def reject(name):
        raise ValueError("%s is not JSON" % name)
    try:
        v = json.loads(text, parse_constant=reject)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return from_json(v)


def parse_arg(text):
    """One command-line argument -> a value (see USAGE)."""
    if text.startswith("@"):
        entity, key = parse_target(text[1:])
        return Ref(entity, key)
    try:
        v = json.loads(text, parse_constant=_raise_value)
    except (ValueError, RecursionError):
        return text
    try:
        return from_json(v)
    except ValueError as e:
        raise UsageError("bad argument %r: %s" % (text, e)) from None


def _raise_value(name):
    raise ValueError(name)


def parse_command_line(argv):
    """-> (options dict, command, command args)."""
    opts = {"url": os.environ.get("STATEFLOW_URL") or DEFAULT_URL, "token": None, "token_file": None,
            "timeout": 30.0, "json": False, "help": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            opts["help"] = True
            return opts, None, []
        if a == "--json":
            opts["json"] = True
            i += 1
            continue
        name, eq, val = a.partition("=")
        if name in ("--url", "--token", "--token-file", "--timeout"):
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError("%s needs a value" % name)
                val = argv[i + 1]
                i += 1
            i += 1
            if name == "--timeout":
                try:
                    t = float(val)
                except ValueError:
                    t = -1.0
                if not t > 0 or t != t or t == float("inf"):
                    raise UsageError("--timeout needs a positive number of seconds, got %r" % val)
                opts["timeout"] = t
            else:
                opts[name[2:].replace("-", "_")] = val
            continue
        if a == "--":
            i += 1
            break
        if a.startswith("-"):
            raise UsageError("unknown option %r" % a)
        break
    if i >= len(argv):
        raise UsageError("no command given")
    return opts, argv[i], argv[i + 1:]


def build_request(cmd, args):
    """A request dict for create/call/get/delete."""
    if cmd == "create":
        if not args:
            raise UsageError("usage: sfctl create ENTITY [ARG...]")
        try:
            entity = _entity_name(args[0])
        except TypeError:
            raise UsageError("bad entity name %r" % args[0]) from None
        return {"op": "create", "entity": entity, "args": [parse_arg(a) for a in args[1:]]}
    if cmd == "call":
        if len(args) < 2:
            raise UsageError("usage: sfctl call ENTITY/KEY METHOD [ARG...]")
        entity, key = parse_target(args[0])
        if not args[1]:
            raise UsageError("empty method name")
        return {"op": "call", "entity": entity, "key": key, "method": args[1],
                "args": [parse_arg(a) for a in args[2:]]}
    if cmd == "get":
        if len(args) != 1:
            raise UsageError("usage: sfctl get ENTITY/KEY")
        entity, key = parse_target(args[0])
        return {"op": "get", "entity": entity, "key": key}
    if cmd == "delete":
        if len(args) != 1:
            raise UsageError("usage: sfctl delete ENTITY/KEY")
        entity, key = parse_target(args[0])
        return {"op": "delete", "entity": entity, "key": key}
    raise UsageError("unknown command %r (try sfctl --help)" % cmd)


def _binary(stream):
    return getattr(stream, "buffer", stream)


class _Out:
    """stdout and stderr as binary streams; everything is written as UTF-8
    whatever the locale says."""

    def __init__(self, out, err):
        self.out = out
        self.err = err

    def write(self, data):
        self.out.write(data)
        self.out.flush()

    def line(self, text):
        self.write(text.encode("utf-8", "replace") + b"\n")

    def error(self, text):
        self.err.write(text.encode("utf-8", "replace") + b"\n")
        self.err.flush()


def _print_error(out, e):
    out.error("error: %s: %s" % (e.type, e.message))


def _run_send(client, path, out, stdin):
    if path == "-":
        stream = stdin
        close = False
    else:
        try:
            stream = open(path, "rb")
        except OSError as e:
            raise UsageError("cannot open %s: %s" % (path, e.strerror or e)) from None
        close = True
    try:
        batch = []   # (request or None, local reply)

        def flush():
            reqs = [r for r, _ in batch if r is not None]
            replies = iter(client.submit_many(reqs) if reqs else [])
            for r, local in batch:
                out.line(dumps(next(replies) if r is not None else local, nonfinite_as_null=True))
            batch.clear()

        for raw in stream:
            if not raw.strip(b" \t\r\n"):
                continue
            try:
                req = json.loads(raw.decode("utf-8"), parse_constant=_raise_value)
            except (UnicodeDecodeError, ValueError, RecursionError) as e:
                batch.append((None, _local_error(None, "not a JSON line: %s" % e)))
            else:
                if isinstance(req, dict):
                    batch.append((req, None))
                else:
                    batch.append((None, _local_error(None, "a request is a JSON object")))
            if len(batch) >= SEND_CHUNK:
                flush()
        flush()
    finally:
        if close:
            stream.close()
    return 0


def main(argv=None, stdin=None, stdout=None, stderr=None):
    """Run sfctl with argv (default sys.argv[1:]); returns the exit status.
    stdin/stdout/stderr: binary streams (default the process's own)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    stdin = _binary(sys.stdin) if stdin is None else stdin
    out = _Out(_binary(sys.stdout) if stdout is None else stdout,
               _binary(sys.stderr) if stderr is None else stderr)
    try:
        opts, cmd, args = parse_command_line(argv)
        if opts["help"]:
            out.line(USAGE.rstrip("\n"))
            return 0
        req = None
        if cmd in ("create", "call", "get", "delete"):
            req = build_request(cmd, args)
        elif cmd == "send":
            if len(args) != 1:
                raise UsageError("usage: sfctl send FILE   (FILE - reads stdin)")
        elif cmd in ("health", "metrics"):
            if args:
                raise UsageError("usage: sfctl %s" % cmd)
        else:
            raise UsageError("unknown command %r (try sfctl --help)" % cmd)
        try:
            client = Client(opts["url"], timeout=opts["timeout"], token=opts["token"],
                            token_file=opts["token_file"])
        except (ValueError, OSError) as e:
            raise UsageError(str(e)) from None
    except UsageError as e:
        out.error("sfctl: %s" % e)
        if "usage:" not in str(e):
            out.error("try 'sfctl --help'")
        return 2

    try:
        with client:
            if cmd == "send":
                return _run_send(client, args[0], out, stdin)
            if cmd == "health":
                text = client.health().strip()
                out.line(text or "ok")
                return 0
            if cmd == "metrics":
                text = client.metrics()
                if text and not text.endswith("\n"):
                    text += "\n"
                out.write(text.encode("utf-8"))
                return 0
            reply, status = client._send(req)
            if opts["json"]:
                out.line(dumps(reply, nonfinite_as_null=True))
            try:
                value = unwrap(reply, status)
            except RemoteError as e:
                _print_error(out, e)
                return 1
            if not opts["json"]:
                out.line(dumps(value, nonfinite_as_null=True))
            return 0
    except UsageError as e:
        out.error("sfctl: %s" % e)
        return 2
    except RemoteError as e:
        _print_error(out, e)
        return 1
    except BrokenPipeError:
        return 1
    except KeyboardInterrupt:
        out.error("sfctl: interrupted")
        return 130


__all__ = ["main", "parse_arg", "parse_key", "parse_target", "parse_command_line", "build_request",
           "USAGE"]
