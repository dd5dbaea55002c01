#!/usr/bin/env bash
# AXFR of a 1,000,000-record zone: platdns against knotd on the same records
# (issue 8), and an IXFR after a one-record commit.
#
#   bench/xfr.sh                 RECORDS=1000000 ROUNDS=3
#   QUICK=1 bench/xfr.sh         20,000 records, 1 round: checks the script
#
# platdns is started on a fresh data dir and the zone is loaded through the
# API (bench/xfr.py: one atomic_changes, then the ACL 127.0.0.1/32 in the
# zone's common configuration); knotd serves the same records from a zone file
# (xfr.py writes it; the SOA and NS are copied from platdns's answers). Each
# server is pinned to CPU 0 (every thread), kdig to CPU 1. Rounds alternate
# platdns, knotd; the median wall time of `kdig AXFR +tcp` is reported, with
# kdig's own ";; Received" figures and the server's CPU time. kdig parses every
# record and is the slower side here, so the same rounds are also run with a
# raw client (xfr.py axfr: reads frames, adds up ANCOUNT) that shows the
# server's own time and its time to the first message. Both transfers are
# dumped once (untimed), sorted and compared.
set -euo pipefail
ROOT=${PLATDNS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "${PLATDNS_BENCH_COPY:-}" ]; then # run from a copy (see run.sh)
  copy=$(mktemp /tmp/platdns-bench-xfr.XXXXXX)
  cp "$0" "$copy"
  PLATDNS_BENCH_COPY=1 PLATDNS_ROOT="$ROOT" exec bash "$copy" "$@"
fi
WORK=${BENCH_DIR:-/tmp/platdns-xfrbench}
if [ "${QUICK:-0}" = 1 ]; then RECORDS=20000 ROUNDS=1; fi
RECORDS=${RECORDS:-1000000} ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
PORT_P=${PORT_P:-25453} PORT_K=${PORT_K:-25454}
ZONE=bench.test

need=()
for t in knotd:knot kdig:knot-dnsutils taskset:util-linux python3:python3; do
  command -v "${t%%:*}" >/dev/null || [ -x "/usr/sbin/${t%%:*}" ] || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p platdns)
PLATDNS="$TARGET/release/platdns"

rm -rf "$WORK" && mkdir -p "$WORK/pdata" "$WORK/knot"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
cpu_ticks() { # utime+stime of a process (all threads), clock ticks
  sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}
HZ=$(getconf CLK_TCK)
dig_() { taskset -c "$CLIENT_CPU" kdig @127.0.0.1 -p "$@"; }

# ---- platdns, loaded through the API ---------------------------------------
"$PLATDNS" serve --data-dir "$WORK/pdata" --dns-listen "127.0.0.1:$PORT_P" --api-listen 127.0.0.1:0 \
  --udp-workers 1 >"$WORK/platdns.out" 2>"$WORK/platdns.log" &
P=$!; PIDS+=("$P")
for _ in $(seq 300); do grep -q "serving DNS" "$WORK/platdns.out" 2>/dev/null && break; sleep 0.1; done
API=$(awk '/serving DNS/ {print $9}' "$WORK/platdns.out" | tr -d ,)
python3 "$ROOT/bench/xfr.py" load --api "$API" --token-file "$WORK/pdata/operator.token" --zone "$ZONE" \
  --records "$RECORDS" --zonefile "$WORK/body.zone" --state "$WORK/state.json"
until dig_ "$PORT_P" h1.$ZONE A +norec +retry=0 +timeout=1 2>/dev/null | grep -q 'Flags: qr aa'; do sleep 0.2; done
# Every thread of platdns on the server CPU, as knotd below (loading ran unpinned).
taskset -a -pc "$SERVER_CPU" "$P" >/dev/null

# ---- knotd on the same records ----------------------------------------------
{
  echo "\$TTL 3600"
  dig_ "$PORT_P" $ZONE SOA +noall +answer
  dig_ "$PORT_P" $ZONE NS +noall +answer
  cat "$WORK/body.zone"
} >"$WORK/$ZONE.zone"
cat >"$WORK/knot/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$PORT_K
    rundir: $WORK/knot
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $WORK/knot/db
acl:
  - id: local
    address: 127.0.0.1
    action: transfer
template:
  - id: default
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
    file: $WORK/%s.zone
zone:
  - domain: $ZONE.
    acl: local
EOF
taskset -c "$SERVER_CPU" knotd -c "$WORK/knot/knot.conf" >"$WORK/knot/log" 2>&1 &
K=$!; PIDS+=("$K")
until dig_ "$PORT_K" h1.$ZONE A +norec +retry=0 +timeout=1 2>/dev/null | grep -q 'Flags: qr aa'; do sleep 0.2; done

# ---- same records? (untimed dumps; also the warm-up) ------------------------
# The ACL reaches the DNS node within its refresh: retry while REFUSED.
for _ in $(seq 60); do
  dig_ "$PORT_P" $ZONE AXFR +tcp >"$WORK/dump-platdns" 2>&1 || true
  grep -q '^;; Received' "$WORK/dump-platdns" && break
  sleep 1
done
dig_ "$PORT_K" $ZONE AXFR +tcp >"$WORK/dump-knotd" 2>&1
for s in platdns knotd; do grep -v '^;' "$WORK/dump-$s" | grep -v '^$' | LC_ALL=C sort >"$WORK/sorted-$s"; done
SAME=no
cmp -s "$WORK/sorted-platdns" "$WORK/sorted-knotd" && SAME=yes
printf 'same records: %s (platdns %s lines, sha256 %s; knotd %s lines, sha256 %s)\n' "$SAME" \
  "$(wc -l <"$WORK/sorted-platdns")" "$(sha256sum "$WORK/sorted-platdns" | cut -c1-16)" \
  "$(wc -l <"$WORK/sorted-knotd")" "$(sha256sum "$WORK/sorted-knotd" | cut -c1-16)"
[ "$SAME" = yes ] || diff "$WORK/sorted-platdns" "$WORK/sorted-knotd" | head -20

# ---- timed AXFRs ------------------------------------------------------------
# kdig +noall +stats: the transfer is read and parsed but not printed.
axfr() { # name pid port → appends "ms cpu_s received..." to result-NAME
  local name=$1 pid=$2 port=$3 t0 t1 c0 c1 out cpu
  c0=$(cpu_ticks "$pid"); t0=$(now_ms)
  out=$(dig_ "$port" $ZONE AXFR +tcp +noall +stats 2>&1)
  t1=$(now_ms); c1=$(cpu_ticks "$pid")
  echo "$out" | grep -q '^;; Received' || { echo "$name: AXFR failed: $out" >&2; exit 1; }
  cpu=$(awk -v c=$((c1 - c0)) -v hz="$HZ" 'BEGIN {printf "%.2f", c / hz}')
  echo "$((t1 - t0)) $cpu $(echo "$out" | grep '^;; Received' | sed 's/^;; Received //')" >>"$WORK/result-$name"
  printf '  kdig %-8s %6d ms  cpu %s s  %s   load %s\n' "$name" $((t1 - t0)) "$cpu" \
    "$(echo "$out" | grep '^;; Received')" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
raw() { # name port → appends "total_ms first_ms bytes messages records" to raw-NAME
  local out
  out=$(taskset -c "$CLIENT_CPU" python3 "$ROOT/bench/xfr.py" axfr --port "$2" --zone $ZONE --records "$NREC")
  echo "$out" >>"$WORK/raw-$1"
  printf '  raw  %-8s %6d ms  first message %s ms   load %s\n' "$1" "${out%% *}" "$(echo "$out" | cut -d' ' -f2)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
}
NREC=$(wc -l <"$WORK/sorted-platdns")
echo "AXFR, $RECORDS records loaded ($ROUNDS rounds, alternating):"
for r in $(seq "$ROUNDS"); do
  echo "round $r: $(uptime)"
  axfr platdns "$P" "$PORT_P"
  axfr knotd "$K" "$PORT_K"
  raw platdns "$PORT_P"
  raw knotd "$PORT_K"
done
printf '\n%-8s %14s %12s %14s %16s  %s\n' server "kdig median ms" "median cpu s" "raw median ms" "raw first msg ms" "received (kdig)"
for s in platdns knotd; do
  printf '%-8s %14s %12s %14s %16s  %s\n' "$s" "$(awk '{print $1}' "$WORK/result-$s" | median)" \
    "$(awk '{print $2}' "$WORK/result-$s" | median)" "$(awk '{print $1}' "$WORK/raw-$s" | median)" \
    "$(awk '{print $2}' "$WORK/raw-$s" | median)" "$(head -1 "$WORK/result-$s" | cut -d' ' -f3-)"
done
ratio() { awk -v a="$(awk "{print \$$2}" "$WORK/$1-platdns" | median)" -v b="$(awk "{print \$$2}" "$WORK/$1-knotd" | median)" 'BEGIN {printf "%.2f", a / b}'; }
printf 'platdns/knotd: kdig wall %s, server cpu %s, raw wall %s\n' "$(ratio result 1)" "$(ratio result 2)" "$(ratio raw 1)"

# ---- IXFR after a one-record commit ---------------------------------------------
ixfr_rounds() { # serial result-file → ROUNDS timed IXFRs from serial; prints the last answer
  local from=$1 file=$2 out c0 c1 t0 t1
  for r in $(seq "$ROUNDS"); do
    c0=$(cpu_ticks "$P"); t0=$(now_ms)
    out=$(dig_ "$PORT_P" $ZONE "IXFR=$from" +tcp 2>&1)
    t1=$(now_ms); c1=$(cpu_ticks "$P")
    echo "$((t1 - t0))" >>"$file"
    printf '  %6d ms  cpu %s s  %s   load %s\n' $((t1 - t0)) "$(awk -v c=$((c1 - c0)) -v hz="$HZ" 'BEGIN {printf "%.2f", c / hz}')" \
      "$(echo "$out" | grep '^;; Received')" "$(cut -d' ' -f1-3 /proc/loadavg)"
  done
  echo "$out" | grep -v '^;' | grep -v '^$' | head -8
}
OLD=$(dig_ "$PORT_P" $ZONE SOA +short | awk '{print $3}')
python3 "$ROOT/bench/xfr.py" commit --state "$WORK/state.json" --name "ixfr-new.$ZONE."
until [ "$(dig_ "$PORT_P" ixfr-new.$ZONE A +short)" = 192.0.2.99 ]; do sleep 0.1; done
NEW=$(dig_ "$PORT_P" $ZONE SOA +short | awk '{print $3}')
echo "IXFR from serial $OLD (now $NEW), after a one-record commit:"
ixfr_rounds "$OLD" "$WORK/result-ixfr"
printf 'IXFR median: %s ms\n' "$(median <"$WORK/result-ixfr")"

# ---- IXFR across a whole build (atomic_changes of every record plus one) ----
# The versions share no base, so every record of both is compared (a keyed
# 128-bit hash each); the answer is still the one-record difference.
OLD=$(dig_ "$PORT_P" $ZONE SOA +short | awk '{print $3}')
python3 "$ROOT/bench/xfr.py" replace --state "$WORK/state.json" --name "replaced.$ZONE."
until [ "$(dig_ "$PORT_P" replaced.$ZONE A +short)" = 192.0.2.98 ]; do sleep 0.2; done
echo "IXFR from serial $OLD across an atomic_changes of the whole zone plus one record:"
ixfr_rounds "$OLD" "$WORK/result-ixfr-build"
printf 'IXFR across a build, median: %s ms\n' "$(median <"$WORK/result-ixfr-build")"
