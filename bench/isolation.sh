#!/usr/bin/env bash
# Control-plane isolation (issue 16): one tenant's heavy writes against
# another tenant's one-record commits and the DNS answers of a third zone, on
# one release platdns, once per store backend (bench/isolation.py does the
# work; see its header for what is measured).
#
#   bench/isolation.sh                                  BIG=100000 DURATION=60 BACKENDS="sqlite postgres"
#   BIG=2000 DURATION=10 bench/isolation.sh             a small, short run to check the script
#   SERVE_ARGS="--control-nice 0" bench/isolation.sh     more options for platdns serve
#   BIN=/tmp/other/target/release/platdns bench/isolation.sh    another build (no cargo build here)
#
# Each backend gets a fresh data dir and a server on loopback ports
# (--restrict-basic/--restrict-premium off, --max-rdata-per-rrset BIG);
# postgres: the throw-away server of .ci/start-postgres.sh, and a database
# dropped and made again before the run (PGDB, as the store tests make one
# database each). After the run the server's stdout/stderr are searched for
# "database is locked", "System error" and store errors; the logs stay in
# the work dir (printed), the data dirs are removed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIG=${BIG:-100000} DURATION=${DURATION:-60} IDLE=${IDLE:-10} BASELINE=${BASELINE:-10}
BACKENDS=${BACKENDS:-"sqlite postgres"} PGDB=${PGDB:-platdns_isolation}
command -v python3 >/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3; }
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p platdns)
  BIN="$ROOT/target/release/platdns"
fi
WORK=${BENCH_DIR:-$(mktemp -d /tmp/platdns-isolation.XXXXXX)}
mkdir -p "$WORK"
commit=$(git -C "$(dirname "$BIN")/../.." rev-parse --short HEAD 2>/dev/null || echo "?")
echo "platdns isolation bench: BIN=$BIN (commit $commit), BIG=$BIG DURATION=$DURATION IDLE=$IDLE BASELINE=$BASELINE," \
  "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), work dir $WORK"
PID=
trap '[ -n "$PID" ] && kill $PID 2>/dev/null || true' EXIT

run() { # backend
  local backend=$1 dir="$WORK/$1" db=()
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$backend" = postgres ]; then
    command -v psql >/dev/null || { apt-get update && apt-get install -y --no-install-recommends postgresql-client; }
    local url; url=$("$ROOT/.ci/start-postgres.sh" 2>"$dir/postgres-start.log") ||
      { cat "$dir/postgres-start.log" >&2; return 1; }
    PGOPTIONS="-c client_min_messages=warning" psql "$url" -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS $PGDB WITH (FORCE)" -c "CREATE DATABASE $PGDB"
    db=(--database "${url%/*}/$PGDB")
  elif [ "$backend" != sqlite ]; then
    echo "unknown backend $backend (sqlite, postgres)" >&2; return 1
  fi
  "$BIN" serve --data-dir "$dir/data" --dns-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 \
    --restrict-basic off --restrict-premium off --max-rdata-per-rrset $((BIG > 1000 ? BIG : 1000)) \
    "${db[@]}" ${SERVE_ARGS:-} >"$dir/out" 2>"$dir/log" &
  PID=$!
  for _ in $(seq 300); do grep -q "serving DNS" "$dir/out" 2>/dev/null && break; sleep 0.1; done
  grep -q "serving DNS" "$dir/out" || { echo "platdns did not start:" >&2; cat "$dir/out" "$dir/log" >&2; return 1; }
  local dns http
  dns=$(awk '/serving DNS/ {print $5}' "$dir/out")
  http=$(awk '/serving DNS/ {print $9}' "$dir/out" | tr -d ,)
  python3 "$ROOT/bench/isolation.py" --api "$http" --dns "$dns" --token-file "$dir/data/operator.token" \
    --big "$BIG" --duration "$DURATION" --idle "$IDLE" --baseline "$BASELINE" --label "$backend" || echo "isolation.py failed: $?"
  local hwm; hwm=$(awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$PID/status" 2>/dev/null || echo "?")
  kill $PID; wait $PID 2>/dev/null || true
  PID=
  count() { cat "$dir/out" "$dir/log" | grep -c "$1" || true; }
  echo "server: peak RSS $hwm; log: \"database is locked\" $(count 'database is locked')," \
    "\"System error\" $(count 'System error'), \"store error\" $(count 'store error')," \
    "ERROR lines $(count ' ERROR '), WARN lines $(count ' WARN ') ($dir/log)"
  grep ' ERROR ' "$dir/log" | cut -c1-400 | head -n 5 | sed 's/^/  /' || true
  grep ' WARN ' "$dir/log" | sed -e 's/^[^ ]* *//' -e 's/[0-9a-f]\{32\}/<id>/g' | cut -c1-240 |
    sort | uniq -c | sort -rn | head -n 6 | sed 's/^/  /' || true
  rm -rf "$dir/data"
}

for b in $BACKENDS; do
  run "$b"
  echo
done
