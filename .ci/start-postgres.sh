#!/usr/bin/env bash
# Starts a throw-away PostgreSQL server for the store tests and prints its URL.
# Installs Debian's postgresql package if it is missing. Works as root (runs
# the server as the `postgres` user) or as an ordinary user.
set -euo pipefail
PORT=${PGPORT_TEST:-54329}
DIR=${PGDATA_TEST:-/tmp/platdns-pg-$PORT}
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends postgresql >&2
fi
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
if [ -f "$DIR/postmaster.pid" ] && as_pg "$BIN/pg_ctl -D $DIR status" >/dev/null 2>&1; then
  echo "postgres://postgres@127.0.0.1:$PORT/postgres"
  exit 0
fi
rm -rf "$DIR"
mkdir -p "$DIR"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$DIR"
as_pg "$BIN/initdb -D $DIR -U postgres -A trust --no-sync" >&2
as_pg "$BIN/pg_ctl -D $DIR -l $DIR/log -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off' -w start" >&2
echo "postgres://postgres@127.0.0.1:$PORT/postgres"
