#!/usr/bin/env bash
# Many zones in the store (issue 16): ZONES zones of ~10 records created through
# the operator and tenant APIs, then start-up until every zone answers, RSS, and
# one-record commit -> answered (against a server holding one zone), compared
# with knotd loading the same zones from files (bench/gen.sh zones). The work
# is done by bench/zones_store.py (see its header for what is measured).
#
#   bench/zones_store.sh                         ZONES=100000 THREADS=8 COMMITS=200 SAMPLE=1000 STARTS=3
#   ZONES=1000 bench/zones_store.sh              a small run to check the script
#   CREATE_BUDGET=2400 bench/zones_store.sh      stop starting new zones after 40 minutes (the zones
#                                                made, 0 .. K-1, are then the data set, knotd's too)
#   BACKEND=postgres bench/zones_store.sh        .ci/start-postgres.sh's server, databases PGDB and
#                                                PGDB_one dropped and made again
#   BIN=/tmp/other/target/release/platdns bench/zones_store.sh   another build
#   BENCH_DIR=/tmp/zs KEEP=1 bench/zones_store.sh, then BENCH_DIR=/tmp/zs REUSE=1 bench/zones_store.sh
#                                                measures again on the zones the first run made
#
# Loopback ports DNS_PORT (25371), API_PORT (25372), KNOT_PORT (25373). Nothing
# is pinned: both servers run on their defaults over the whole machine. The
# work dir (BENCH_DIR, default a new /tmp/platdns-zones-store.XXXXXX) keeps the
# servers' logs and the summary; the data dirs and zone files are removed at
# the end unless KEEP=1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZONES=${ZONES:-100000} THREADS=${THREADS:-8} COMMITS=${COMMITS:-200} SAMPLE=${SAMPLE:-1000}
STARTS=${STARTS:-3} CREATE_BUDGET=${CREATE_BUDGET:-0} BACKEND=${BACKEND:-sqlite} PGDB=${PGDB:-platdns_zones}
DNS_PORT=${DNS_PORT:-25371} API_PORT=${API_PORT:-25372} KNOT_PORT=${KNOT_PORT:-25373}
command -v python3 >/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3; }
export PATH="$PATH:/usr/sbin"
command -v knotd >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends knot; }
BIN=${BIN:-$ROOT/target/release/platdns}
if [ ! -x "$BIN" ]; then
  (cd "$ROOT" && cargo build --release -q -p platdns)
fi
WORK=${BENCH_DIR:-$(mktemp -d /tmp/platdns-zones-store.XXXXXX)}
mkdir -p "$WORK"
# A copy: a build finishing during the run must not change the binary between restarts.
BUILT=$(date -u -r "$BIN" +%FT%TZ)
cp "$BIN" "$WORK/platdns" && BIN_SRC=$BIN && BIN=$WORK/platdns
for p in "$DNS_PORT" "$API_PORT" "$KNOT_PORT"; do
  if ss -Hltun "sport = :$p" | grep -q .; then echo "port $p is in use" >&2; exit 1; fi
done
db=()
if [ "$BACKEND" = postgres ]; then
  command -v psql >/dev/null || { apt-get update && apt-get install -y --no-install-recommends postgresql-client; }
  url=$("$ROOT/.ci/start-postgres.sh" 2>"$WORK/postgres-start.log") || { cat "$WORK/postgres-start.log" >&2; exit 1; }
  dbs="${PGDB}_one"; [ "${REUSE:-0}" = 1 ] || dbs="$PGDB $dbs"
  for d in $dbs; do
    PGOPTIONS="-c client_min_messages=warning" psql "$url" -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" -c "CREATE DATABASE $d"
  done
  db=(--database "${url%/*}/$PGDB" --database-one "${url%/*}/${PGDB}_one")
elif [ "$BACKEND" != sqlite ]; then
  echo "unknown BACKEND $BACKEND (sqlite, postgres)" >&2; exit 1
fi
reuse=()
if [ "${REUSE:-0}" = 1 ]; then
  [ -f "$WORK/created.json" ] || { echo "REUSE=1: no $WORK/created.json (a KEEP=1 run first)" >&2; exit 1; }
  reuse=(--reuse)
else
  rm -rf "$WORK/data" "$WORK/created.json"
fi
rm -rf "$WORK/data-one" "$WORK/zones" "$WORK/knot/db"
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
echo "platdns zones-in-the-store bench: BIN=$BIN_SRC (HEAD $commit; binary built $BUILT, run from a copy)," \
  "ZONES=$ZONES THREADS=$THREADS COMMITS=$COMMITS SAMPLE=$SAMPLE STARTS=$STARTS CREATE_BUDGET=$CREATE_BUDGET" \
  "BACKEND=$BACKEND REUSE=${REUSE:-0}; $(knotd --version 2>&1 | head -n 1); $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "work dir $WORK"
rc=0
python3 "$ROOT/bench/zones_store.py" --bin "$BIN" --work "$WORK" --gen "$ROOT/bench/gen.sh" \
  --zones "$ZONES" --threads "$THREADS" --commits "$COMMITS" --sample "$SAMPLE" --starts "$STARTS" \
  --create-budget "$CREATE_BUDGET" --dns-port "$DNS_PORT" --api-port "$API_PORT" --knot-port "$KNOT_PORT" \
  --knotd "$(command -v knotd)" --summary "$WORK/summary.txt" "${db[@]}" "${reuse[@]}" || rc=$?
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); summary in $WORK/summary.txt"
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK/data" "$WORK/created.json" "$WORK/data-one" "$WORK/zones" "$WORK/knot/db" \
  "$WORK/platdns"
exit $rc
