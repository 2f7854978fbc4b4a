#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for tests, on a free loopback port.
#   scripts/pg-test.sh start [DIR]   prints the postgres:// URL of database `coffer`
#   scripts/pg-test.sh stop DIR
# Installs Debian's postgresql if it is missing. initdb refuses root, so as root the
# cluster runs as the `postgres` user the package creates.
set -euo pipefail
cmd=${1:?start|stop}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
start)
  if [ -z "$BIN" ]; then
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  DIR=${2:-$(mktemp -d /tmp/coffer-pg.XXXXXX)}
  mkdir -p "$DIR"
  [ "$(id -u)" = 0 ] && chown postgres: "$DIR"
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$BIN/initdb" -D "$DIR/data" -U coffer --auth=trust -E UTF8 --no-instructions >/dev/null
  # Tests start many gateways and stores: room for their pools.
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/log" -w -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=400" start >/dev/null
  as_pg "$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U coffer coffer
  echo "postgres://coffer@127.0.0.1:$PORT/coffer"
  ;;
stop)
  DIR=${2:?DIR}
  as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast stop >/dev/null || true
  rm -rf "$DIR"
  ;;
*) echo "usage: $0 start [DIR] | stop DIR" >&2; exit 2 ;;
esac
