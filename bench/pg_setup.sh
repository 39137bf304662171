#!/usr/bin/env bash
# bench/pg_setup.sh: a throw-away PostgreSQL server for the benchmarks
# (docs/benchmarks.md). Debian's PostgreSQL 15 binaries from
# /usr/lib/postgresql/15/bin, a fresh cluster made with initdb in DIR,
# listening on 127.0.0.1:PORT (a free port when none is given) and a Unix
# socket in DIR only. Never a system service. As root the server runs as the
# unprivileged `postgres` user (runuser); otherwise as the calling user.
#
#   bench/pg_setup.sh start DIR [PORT]   prints the libpq URL on stdout
#   bench/pg_setup.sh stop DIR           fast shutdown, DIR is left in place
#   bench/pg_setup.sh url DIR            the URL of a running server
#
# Settings: trust authentication on loopback only, shared_buffers 256MB,
# fsync and full_page_writes on (the defaults), synchronous_commit on by
# default; clients choose per session (ycsbt: ?options=-c%20synchronous_commit%3Doff).
set -euo pipefail

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start DIR [PORT] | stop DIR | url DIR" >&2
  exit 2
fi
if [ ! -x "$PGBIN/initdb" ]; then
  echo "pg_setup: $PGBIN/initdb not found (apt-get install postgresql, or scripts/install-deps.sh)" >&2
  exit 1
fi

# as_pg CMD...: run as the server's owner
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

case "$cmd" in
start)
  port=${3:-$(free_port)}
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -e "$dir/data/PG_VERSION" ]; then
    echo "pg_setup: $dir/data already holds a cluster" >&2
    exit 1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || { echo "pg_setup: no 'postgres' user to run the server as" >&2; exit 1; }
    chown postgres: "$dir"
    # the server's owner must be able to reach DIR
    p=$dir
    while [ "$p" != "/" ]; do
      p=$(dirname "$p")
      if ! runuser -u postgres -- test -x "$p"; then
        echo "pg_setup: user postgres cannot enter $p; use a DIR under /tmp" >&2
        exit 1
      fi
    done
  fi
  as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$dir/data/postgresql.conf" <<CONF
# bench/pg_setup.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
shared_buffers = 256MB
synchronous_commit = on
logging_collector = off
CONF
  echo "$port" >"$dir/port"
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://postgres@127.0.0.1:$port/postgres"
  ;;
stop)
  if [ -e "$dir/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null || true
  fi
  ;;
url)
  echo "postgres://postgres@127.0.0.1:$(cat "$dir/port")/postgres"
  ;;
*)
  echo "usage: $0 start DIR [PORT] | stop DIR | url DIR" >&2
  exit 2
  ;;
esac
