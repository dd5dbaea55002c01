#!/usr/bin/env bash
# Control-plane benchmark (issue 4): starts a release platdns on a fresh data
# dir and runs bench/commit.py against it: first a 100,000-record zone, then a
# 1,000,000-record one (fewer commits there: each is timed the same way).
#   bench/commit.sh            RECORDS=... COMMITS=... to change the first run
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
command -v python3 >/dev/null || { apt-get update && apt-get install -y --no-install-recommends python3; }
(cd "$ROOT" && cargo build --release -q -p platdns)
run() { # records commits staged
  local dir; dir=$(mktemp -d /tmp/platdns-commit-bench.XXXXXX)
  "$ROOT/target/release/platdns" serve --data-dir "$dir" --dns-listen 127.0.0.1:0 --api-listen 127.0.0.1:0 >"$dir/out" 2>"$dir/log" &
  local pid=$!
  trap 'kill $pid 2>/dev/null || true' RETURN
  for _ in $(seq 100); do grep -q "serving DNS" "$dir/out" 2>/dev/null && break; sleep 0.1; done
  local dns http
  dns=$(awk '/serving DNS/ {print $5}' "$dir/out")
  http=$(awk '/serving DNS/ {print $9}' "$dir/out" | tr -d ,)
  python3 "$ROOT/bench/commit.py" --api "$http" --dns "$dns" --token-file "$dir/operator.token" \
    --records "$1" --commits "$2" --staged "$3"
  kill $pid; wait $pid 2>/dev/null || true
  rm -rf "$dir"
}
echo "== ${RECORDS:-100000} records"
run "${RECORDS:-100000}" "${COMMITS:-1000}" 10000
echo "== 1000000 records"
run 1000000 "${BIG_COMMITS:-1000}" 10000
