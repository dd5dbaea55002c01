#!/usr/bin/env bash
# The health monitor under load (issue 5): 10,000 endpoints watched every
# 30 s, half by an HTTP monitoring, half by a TCP one (LINKS=2: every endpoint
# by both), each endpoint a distinct loopback address (127.1.x.y) so no two
# share a probe: 10,000 probes per interval, ~333 a second, against local
# servers (bench/monitor.py, one Python thread on 0.0.0.0).
#
#   bench/monitor.sh    DOMAINS=8 SITES=50 PER_SITE=25 LINKS=1 INTERVAL=30 WARMUP=45 DURATION=180
#
# Reports, over a steady-state window that starts WARMUP s after the last
# configuration was written (the first interval, where every result goes
# from unknown to up, is left out) and lasts DURATION s:
# - the platdns process's CPU (utime+stime from /proc/PID/stat) as % of one
#   core, and the local servers' the same way (they must not be the limit);
# - the monitor's own counters (GET /operator/v1/monitor) at both ends: the
#   lateness of probe starts against their slots, over the window (the
#   difference of the two histograms) and since start;
# - what the servers saw: probes per kind and target, the gap between a
#   target's consecutive probes, probes per second.
# The machine's CPU busy % over the window is printed too: other work on the
# two cores shows there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DOMAINS=${DOMAINS:-8} SITES=${SITES:-50} PER_SITE=${PER_SITE:-25} LINKS=${LINKS:-1} INTERVAL=${INTERVAL:-30}
WARMUP=${WARMUP:-45} DURATION=${DURATION:-180}
HTTP_PORT=${HTTP_PORT:-28081} TCP_PORT=${TCP_PORT:-28082} API_PORT=${API_PORT:-28062} DNS_PORT=${DNS_PORT:-25362}
command -v curl >/dev/null || { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl; }
(cd "$ROOT" && cargo build --release -q -p platdns)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/platdns
dir=$(mktemp -d /tmp/platdns-monitor-bench.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"' EXIT

python3 "$ROOT/bench/monitor.py" serve "$HTTP_PORT" "$TCP_PORT" "$dir/seen.json" >"$dir/targets.out" 2>&1 &
tpid=$!
pids+=("$tpid")
"$BIN" serve --data-dir "$dir" --dns-listen "127.0.0.1:$DNS_PORT" --api-listen "127.0.0.1:$API_PORT" \
  --identity none --lb-min-interval "$INTERVAL" >"$dir/out" 2>"$dir/log" &
pid=$!
pids+=("$pid")
for _ in $(seq 100); do grep -q "serving DNS" "$dir/out" 2>/dev/null && grep -q ready "$dir/targets.out" && break; sleep 0.1; done
API=http://127.0.0.1:$API_PORT
OP="Authorization: Bearer $(cat "$dir/operator.token")"
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
acct=$(curl -sf -H "$OP" -d '{"name":"bench"}' "$API/operator/v1/accounts" | j "['result']['id']")
contract=$(curl -sf -H "$OP" -d "{\"account_id\":$acct,\"plan\":\"premium\"}" "$API/operator/v1/contracts" | j "['result']['id']")
tok=$(curl -sf -H "$OP" -d "{\"account_id\":$acct,\"scopes\":[\"read\",\"write\"]}" "$API/operator/v1/tokens" | j "['result']['token']")
T="Authorization: Bearer $tok"
for d in $(seq 0 $((DOMAINS - 1))); do
  lb=$(curl -sf -H "$OP" -d "{\"contract_id\":\"$contract\",\"name\":\"m$d.lb.platdns.test.\"}" "$API/operator/v1/lb_domains" | j "['result']['id']")
  python3 "$ROOT/bench/monitor.py" config "$d" "$SITES" "$PER_SITE" "$HTTP_PORT" "$TCP_PORT" "$INTERVAL" "$LINKS" >"$dir/config.json"
  curl -sS --fail-with-body -H "$T" -X PUT --data @"$dir/config.json" "$API/dpf/v1/lb_domains/$lb/config" >"$dir/put.out" || { cat "$dir/put.out"; exit 1; }
done
cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat; }
hz=$(getconf CLK_TCK)
monitor() { curl -sf -H "$OP" "$API/operator/v1/monitor"; }
keys=$(monitor | j "['result']['keys']")
echo "$DOMAINS LB domains x $SITES sites x $PER_SITE endpoints, $LINKS monitoring(s) each: $keys distinct probes every $INTERVAL s"
tw=$(date +%s.%N) cw=$(cpu "$pid")
sleep "$WARMUP"

t0=$(date +%s.%N) c0=$(cpu "$pid") s0=$(cpu "$tpid") b0=$(busy)
monitor >"$dir/m0.json"
sleep "$DURATION"
t1=$(date +%s.%N) c1=$(cpu "$pid") s1=$(cpu "$tpid") b1=$(busy)
monitor >"$dir/m1.json"
read -r busy0 all0 <<<"$b0"
read -r busy1 all1 <<<"$b1"
kill "$tpid"
wait "$tpid" || true

awk -v w0="$cw" -v tw="$tw" -v a="$c0" -v b="$c1" -v s="$s0" -v t="$s1" -v t0="$t0" -v t1="$t1" -v hz="$hz" \
  -v bu=$((busy1 - busy0)) -v al=$((all1 - all0)) 'BEGIN {
  w = t1 - t0
  printf "window: %.0f s, starting %d s after the last configuration\n", w, '"$WARMUP"'
  printf "platdns CPU before it (first results of every key, republications): %.2f s = %.1f%% of one core\n", (a - w0) / hz, (a - w0) / hz / (t0 - tw) * 100
  printf "platdns CPU: %.2f s = %.1f%% of one core (goal: under 25%%)\n", (b - a) / hz, (b - a) / hz / w * 100
  printf "local servers CPU: %.2f s = %.1f%% of one core\n", (t - s) / hz, (t - s) / hz / w * 100
  printf "machine busy: %.1f%% of 2 cores\n", bu / al * 100
}'
python3 - "$dir/m0.json" "$dir/m1.json" <<'EOF'
import json, math, sys
m0, m1 = (json.load(open(p))["result"] for p in sys.argv[1:])

def bound(buckets, q, cap):
    total = sum(b["count"] for b in buckets)
    if total == 0:
        return "-"
    rank, seen = max(1, math.ceil(q * total)), 0
    for b in buckets:
        seen += b["count"]
        if seen >= rank:
            le = b["le_ms"]
            return f"<= {min(le, cap):g} ms" if le is not None else f"> 5000 ms (<= {cap:g})"

win = [{"le_ms": a["le_ms"], "count": b["count"] - a["count"]} for a, b in zip(m0["lateness"], m1["lateness"])]
top = max((b["le_ms"] for b in win if b["count"]), key=lambda x: float("inf") if x is None else x, default=0)
print(f"monitor, window: {m1['started'] - m0['started']} probes started, {m1['finished'] - m0['finished']} finished, "
      f"{m1['skipped_slots'] - m0['skipped_slots']} slots skipped, in flight at the end {m1['in_flight']}")
print("  lateness histogram (le_ms:count): " + ", ".join(f"{b['le_ms'] or 'inf'}:{b['count']}" for b in win if b["count"]))
print(f"  lateness p50 {bound(win, 0.5, m1['max_lateness_ms'])}, p99 {bound(win, 0.99, m1['max_lateness_ms'])}, "
      f"max <= {top if top is not None else 'inf'} ms (highest bucket used)")
print(f"monitor, since start: {m1['started']} probes, {m1['skipped_slots']} slots skipped, "
      f"lateness p50 <= {m1['p50_lateness_ms']:g} ms, p99 <= {m1['p99_lateness_ms']:g} ms, max {m1['max_lateness_ms']:.1f} ms")
print("  lateness histogram (le_ms:count): " + ", ".join(f"{b['le_ms'] or 'inf'}:{b['count']}" for b in m1["lateness"] if b["count"]))
EOF
echo "seen by the local servers, window:"
python3 "$ROOT/bench/monitor.py" report "$dir/seen.json" "$t0" "$t1" "$INTERVAL" | sed 's/^/  /'
if [ -n "${KEEP:-}" ]; then cp "$dir"/{m0.json,m1.json,seen.json,log} "$KEEP"/; fi
