#!/usr/bin/env bash
# platdns against knotd and NSD: same zones, same dnsperf load, loopback.
#
#   bench/run.sh            full run (~15 minutes on 2 cores)
#   QUICK=1 bench/run.sh    smaller and shorter, to check the script
#
# Each server runs one worker pinned to CPU 0; dnsperf runs pinned to CPU 1, so
# the figure is what one core of each server answers. Rounds alternate the
# servers (platdns, knotd, nsd, platdns, ...) and the median is reported.
# CPU is utime+stime from /proc over the run, per 100,000 answered queries.
# Memory is PSS summed over the server's processes (NSD forks a child that
# shares pages with its parent; PSS counts shared pages once), after loading.
set -euo pipefail
ROOT=${PLATDNS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# Run from a copy: bash reads a script as it goes, so editing bench/run.sh
# during a 15-minute run would otherwise break it.
if [ -z "${PLATDNS_BENCH_COPY:-}" ]; then
  copy=$(mktemp /tmp/platdns-bench-run.XXXXXX)
  cp "$0" "$copy"
  PLATDNS_BENCH_COPY=1 PLATDNS_ROOT="$ROOT" exec bash "$copy" "$@"
fi
WORK=${BENCH_DIR:-/tmp/platdns-bench}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  NAMES=20000 BIG=100000 ZONES=5000 DURATION=3 ROUNDS=1
else
  NAMES=${NAMES:-100000} BIG=${BIG:-1000000} ZONES=${ZONES:-100000} DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-3}
fi
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT_P=25353 PORT_K=25354 PORT_N=25355 PORT_B=25356

need=()
for t in knotd:knot nsd:nsd dnsperf:dnsperf kdig:knot-dnsutils taskset:util-linux; do
  command -v "${t%%:*}" >/dev/null || [ -x "/usr/sbin/${t%%:*}" ] || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"
(cd "$ROOT" && cargo build --release -q -p platdns)
PLATDNS="$ROOT/target/release/platdns"

rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; pkill -f "$WORK/" 2>/dev/null || true; }
trap cleanup EXIT

# ---- measuring helpers --------------------------------------------------
tree_pids() { # a pid and all its descendants
  echo "$1"
  for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done
}
stop() { # kill servers and wait until they are gone (they are not our children)
  kill "$@" 2>/dev/null || true
  for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.01; done; done
}
cpu_ticks() {
  local t=0
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/stat" ] || continue
    # utime and stime are fields 14 and 15 (after the ")" of the command name)
    t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
pss_kb() {
  local t=0
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/smaps_rollup" ] || continue
    t=$((t + $(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup")))
  done
  echo "$t"
}
now_ms() { date +%s%3N; }
wait_answer() { # port name → waits until an authoritative answer
  local deadline=$(( $(date +%s) + 900 ))
  # First until the UDP port is bound (kdig's 1 s minimum timeout would blur
  # the start-up time), then until the name is answered with AA.
  until ss -Hlun "sport = :$1" | grep -q .; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "port $1 never bound" >&2; return 1; }
    sleep 0.01
  done
  until kdig @127.0.0.1 -p "$1" "$2" A +norec +retry=0 +timeout=1 2>/dev/null | grep -q 'Flags: qr aa'; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "no answer from port $1 for $2" >&2; return 1; }
    sleep 0.01
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# ---- servers --------------------------------------------------------------
start_platdns() { # port, then serve args
  local port=$1; shift
  taskset -c "$SERVER_CPU" "$PLATDNS" serve --dns-listen "127.0.0.1:$port" --api-listen 127.0.0.1:0 \
    --udp-workers 1 --data-dir "$WORK/pdata-$port" "$@" >"$WORK/platdns-$port.log" 2>&1 &
  echo $!
}
start_knot() { # port, zone-section text
  local port=$1; local dir="$WORK/knot-$port"
  mkdir -p "$dir"
  cat >"$dir/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$port
    rundir: $dir
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: $dir/db
template:
  - id: default
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
    file: $WORK/zones/%s.zone
$2
EOF
  taskset -c "$SERVER_CPU" knotd -c "$dir/knot.conf" >"$dir/log" 2>&1 &
  echo $!
}
start_nsd() { # port, zone-section text
  local port=$1; local dir="$WORK/nsd-$port"
  mkdir -p "$dir"
  cat >"$dir/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$port
    server-count: 1
    username: ""
    zonesdir: "$WORK/zones"
    database: ""
    zonelistfile: "$dir/zone.list"
    xfrdfile: "$dir/xfrd.state"
    pidfile: "$dir/nsd.pid"
    verbosity: 0
    # Debian builds NSD with response rate limiting on (200 qps per source):
    # off, as for the other servers.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
pattern:
    name: "p"
    zonefile: "$WORK/zones/%s.zone"
$2
EOF
  taskset -c "$SERVER_CPU" nsd -d -c "$dir/nsd.conf" >"$dir/log" 2>&1 &
  echo $!
}

# run_load NAME PID PORT QUERIES → appends "qps cpu_per_100k" to $WORK/result-NAME
run_load() {
  local name=$1 pid=$2 port=$3 queries=$4
  local c0 c1 out qps done_q hz
  hz=$(getconf CLK_TCK)
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l "$DURATION" -c 4 -q 500 2>&1)
  c1=$(cpu_ticks "$pid")
  qps=$(echo "$out" | awk '/Queries per second/ {print $4}')
  done_q=$(echo "$out" | awk '/Queries completed/ {print $3}')
  lost=$(echo "$out" | awk '/Queries lost/ {print $3}')
  echo "$qps $(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$done_q" 'BEGIN {printf "%.3f", c / hz / n * 100000}') $lost" >>"$WORK/result-$name"
}

report_load() { # title, servers...
  local title=$1; shift
  printf '\n%s (%s s x %s rounds, median)\n' "$title" "$DURATION" "$ROUNDS"
  printf '  %-8s %12s %22s %10s\n' server qps "CPU s / 100k answers" lost
  for s in "$@"; do
    local q c l
    q=$(awk '{print $1}' "$WORK/result-$s" | median)
    c=$(awk '{print $2}' "$WORK/result-$s" | median)
    l=$(awk '{print $3}' "$WORK/result-$s" | median)
    printf '  %-8s %12.0f %22.3f %10s\n' "$s" "$q" "$c" "$l"
    eval "QPS_$s=$q CPU_$s=$c"
  done
}

# ---- data -------------------------------------------------------------------
mkdir -p zones
"$ROOT/bench/gen.sh" zone "$NAMES" zones/bench.test.zone
"$ROOT/bench/gen.sh" queries "$NAMES" 500000 q-one.txt
echo "one zone: $NAMES names ($(wc -l <zones/bench.test.zone) lines); 500,000 queries"

# ---- 1. one zone of $NAMES names ---------------------------------------------
t0=$(now_ms); P=$(start_platdns $PORT_P --zone-file zones/bench.test.zone); PIDS+=("$P")
wait_answer $PORT_P h1.bench.test; START_P=$(( $(now_ms) - t0 ))
t0=$(now_ms); K=$(start_knot $PORT_K "zone:
  - domain: bench.test."); PIDS+=("$K")
wait_answer $PORT_K h1.bench.test; START_K=$(( $(now_ms) - t0 ))
t0=$(now_ms); N=$(start_nsd $PORT_N "zone:
    name: bench.test
    include-pattern: p"); PIDS+=("$N")
wait_answer $PORT_N h1.bench.test; START_N=$(( $(now_ms) - t0 ))
# The same platdns with one packet per system call: what recvmmsg/sendmmsg pay.
B=$(start_platdns $PORT_B --zone-file zones/bench.test.zone --udp-batch 1); PIDS+=("$B")
wait_answer $PORT_B h1.bench.test
sleep 1
MEM_P=$(pss_kb "$P") MEM_K=$(pss_kb "$K") MEM_N=$(pss_kb "$N")
for r in $(seq "$ROUNDS"); do
  run_load platdns "$P" $PORT_P q-one.txt
  run_load knotd "$K" $PORT_K q-one.txt
  run_load nsd "$N" $PORT_N q-one.txt
  run_load unbatched "$B" $PORT_B q-one.txt
done
stop "$P" "$K" "$N" "$B"
report_load "One zone, $NAMES names: A/AAAA/MX/NXDOMAIN/wildcard/CNAME mix" platdns knotd nsd unbatched
echo "  (unbatched: platdns --udp-batch 1, one recvmmsg/sendmmsg packet per call)"
ONE_QPS_P=$QPS_platdns
printf '  platdns/knotd qps ratio: %.2f   CPU-per-query ratio: %.2f\n' \
  "$(awk -v a="$QPS_platdns" -v b="$QPS_knotd" 'BEGIN {print a / b}')" \
  "$(awk -v a="$CPU_platdns" -v b="$CPU_knotd" 'BEGIN {print a / b}')"
printf '  memory (PSS) loaded: platdns %d MiB, knotd %d MiB, nsd %d MiB\n' $((MEM_P / 1024)) $((MEM_K / 1024)) $((MEM_N / 1024))
printf '  start to first answer: platdns %d ms, knotd %d ms, nsd %d ms\n' "$START_P" "$START_K" "$START_N"

# ---- 2. memory and start-up with $BIG names ------------------------------------
"$ROOT/bench/gen.sh" zone "$BIG" zones/bench.test.zone
t0=$(now_ms); P=$(start_platdns $PORT_P --zone-file zones/bench.test.zone); wait_answer $PORT_P h1.bench.test
START_P=$(( $(now_ms) - t0 )); sleep 1; MEM_P=$(pss_kb "$P"); stop "$P"
t0=$(now_ms); K=$(start_knot $PORT_K "zone:
  - domain: bench.test."); wait_answer $PORT_K h1.bench.test
START_K=$(( $(now_ms) - t0 )); sleep 1; MEM_K=$(pss_kb "$K"); stop "$K"
t0=$(now_ms); N=$(start_nsd $PORT_N "zone:
    name: bench.test
    include-pattern: p"); wait_answer $PORT_N h1.bench.test
START_N=$(( $(now_ms) - t0 )); sleep 1; MEM_N=$(pss_kb "$N"); stop "$N"
printf '\nOne zone, %s names\n' "$BIG"
printf '  memory (PSS) loaded: platdns %d MiB, knotd %d MiB, nsd %d MiB\n' $((MEM_P / 1024)) $((MEM_K / 1024)) $((MEM_N / 1024))
printf '  start to first answer: platdns %d ms, knotd %d ms, nsd %d ms\n' "$START_P" "$START_K" "$START_N"
rm -f zones/bench.test.zone

# ---- 3. $ZONES small zones -----------------------------------------------------
"$ROOT/bench/gen.sh" zones "$ZONES" zones
"$ROOT/bench/gen.sh" zone-queries "$ZONES" 500000 q-many.txt
LAST="www.z$((ZONES - 1)).test"
awk -v z="$ZONES" 'BEGIN {print "zone:"; for (i = 0; i < z; i++) printf "  - domain: z%d.test.\n", i}' >knot-zones.txt
awk -v z="$ZONES" 'BEGIN {for (i = 0; i < z; i++) printf "zone:\n    name: z%d.test\n    include-pattern: p\n", i}' >nsd-zones.txt
rm -rf "$WORK/pdata-$PORT_P" && mkdir -p "$WORK/pdata-$PORT_P" && ln -s "$WORK/zones" "$WORK/pdata-$PORT_P/zones"
rm -f result-*
# Loaded means every zone answers: the first, the last and a spread between.
wait_all() { for i in 0 $((ZONES / 3)) $((ZONES / 2)) $((ZONES * 2 / 3)) $((ZONES - 1)); do wait_answer "$1" "www.z$i.test"; done; }
t0=$(now_ms); P=$(start_platdns $PORT_P); PIDS+=("$P"); wait_all $PORT_P; START_P=$(( $(now_ms) - t0 ))
t0=$(now_ms); K=$(start_knot $PORT_K "$(cat knot-zones.txt)"); PIDS+=("$K"); wait_all $PORT_K; START_K=$(( $(now_ms) - t0 ))
t0=$(now_ms); N=$(start_nsd $PORT_N "$(cat nsd-zones.txt)"); PIDS+=("$N"); wait_all $PORT_N; START_N=$(( $(now_ms) - t0 ))
sleep 2
MEM_P=$(pss_kb "$P") MEM_K=$(pss_kb "$K") MEM_N=$(pss_kb "$N")
for r in $(seq "$ROUNDS"); do
  run_load platdns "$P" $PORT_P q-many.txt
  run_load knotd "$K" $PORT_K q-many.txt
  run_load nsd "$N" $PORT_N q-many.txt
done
report_load "$ZONES zones of ~10 records each" platdns knotd nsd
printf '  platdns/knotd qps ratio: %.2f   CPU-per-query ratio: %.2f\n' \
  "$(awk -v a="$QPS_platdns" -v b="$QPS_knotd" 'BEGIN {print a / b}')" \
  "$(awk -v a="$CPU_platdns" -v b="$CPU_knotd" 'BEGIN {print a / b}')"
printf '  platdns qps, many zones / one zone: %.3f\n' "$(awk -v a="$QPS_platdns" -v b="$ONE_QPS_P" 'BEGIN {print a / b}')"
printf '  memory (PSS) loaded: platdns %d MiB, knotd %d MiB, nsd %d MiB\n' $((MEM_P / 1024)) $((MEM_K / 1024)) $((MEM_N / 1024))
printf '  start until all zones answer: platdns %d ms, knotd %d ms, nsd %d ms\n' "$START_P" "$START_K" "$START_N"
