#!/usr/bin/env bash
# Followers on the change feed (issue 19), on PostgreSQL: commit -> answered on
# FOLLOWERS DNS nodes, then what the idle followers ask the store per second
# (bench/follow.py says how). .ci/start-postgres.sh's server, database PGDB
# made again.
#
#   bench/follow.sh                        FOLLOWERS=2 COMMITS=200 ZONES=1000 IDLE=30
#   BIN=/tmp/other/target/release/platdns bench/follow.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FOLLOWERS=${FOLLOWERS:-2} COMMITS=${COMMITS:-200} ZONES=${ZONES:-1000} IDLE=${IDLE:-30} PGDB=${PGDB:-platdns_follow_bench}
command -v psql >/dev/null || { apt-get update && apt-get install -y --no-install-recommends postgresql-client; }
BIN=${BIN:-$ROOT/target/release/platdns}
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -q -p platdns)
WORK=$(mktemp -d /tmp/platdns-follow.XXXXXX)
url=$("$ROOT/.ci/start-postgres.sh" 2>"$WORK/postgres-start.log") || { cat "$WORK/postgres-start.log" >&2; exit 1; }
PGOPTIONS="-c client_min_messages=warning" psql "$url" -q -v ON_ERROR_STOP=1 \
  -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" -c "CREATE DATABASE $PGDB"
db="${url%/*}/$PGDB"
# Every statement in the server's log, for the idle figure (new connections).
psql "$url" -q -c "ALTER DATABASE $PGDB SET log_statement = 'all'"
pg_log="${PGDATA_TEST:-/tmp/platdns-pg-${PGPORT_TEST:-54329}}/log"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
start() { # dir role... ; prints the "serving DNS" line's DNS and HTTP addresses
  local dir=$1; shift
  mkdir -p "$dir"
  "$BIN" serve --data-dir "$dir" --dns-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 --database "$db" \
    --restrict-basic off --restrict-premium off "$@" >"$dir/out" 2>"$dir/log" &
  pids+=($!)
  for _ in $(seq 600); do grep -q "serving DNS" "$dir/out" 2>/dev/null && break; sleep 0.1; done
  grep -q "serving DNS" "$dir/out" || { echo "platdns did not start ($dir/log)" >&2; exit 1; }
}
start "$WORK/api"
api_pid=${pids[0]}
http=$(awk '/serving DNS/ {print $9}' "$WORK/api/out" | tr -d ,)
dns_args=()
for i in $(seq "$FOLLOWERS"); do
  start "$WORK/dns$i" --role dns
  dns_args+=(--dns "$(awk '/serving DNS/ {print $5}' "$WORK/dns$i/out")")
done
echo "platdns follow bench: BIN=$BIN (HEAD $(git -C "$ROOT" rev-parse --short HEAD)), FOLLOWERS=$FOLLOWERS" \
  "COMMITS=$COMMITS ZONES=$ZONES IDLE=$IDLE, $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), work dir $WORK"
( while [ ! -e "$WORK/stop-api" ]; do sleep 0.1; done; kill "$api_pid"; while kill -0 "$api_pid" 2>/dev/null; do sleep 0.1; done; touch "$WORK/api-stopped" ) &
python3 "$ROOT/bench/follow.py" --api "$http" --token-file "$WORK/api/operator.token" "${dns_args[@]}" \
  --psql "$url" --db "$PGDB" --commits "$COMMITS" --zones "$ZONES" --idle "$IDLE" \
  --pg-log "$pg_log" --stop-api "$WORK/stop-api" --api-stopped "$WORK/api-stopped"
echo "followers' logs: $WORK/dns*/log"
