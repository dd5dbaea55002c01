#!/usr/bin/env bash
# DNSSEC (issue 8): re-signing a one-record commit in a 1,000,000-record zone,
# and queries with DO=1 against knotd on the same signed zone.
#
#   bench/dnssec.sh              both parts, NSEC and NSEC3 (~7 minutes on 2 quiet cores)
#   PARTS=resign bench/dnssec.sh only the re-signing figures; PARTS=qps only the queries
#   QUICK=1 bench/dnssec.sh      small and short, to check the script
#
# resign: bench/gen.sh's mix filled to exactly RECORDS records, signed whole by
#   platdns-dnssec (ECDSA P-256 KSK + ZSK) and built into the served Zone, then
#   COMMITS one-record commits of each kind (add a name, change an A record,
#   remove the name; each with the SOA serial bump), timing SignedZone::apply,
#   Zone::rrset_changes and Zone::patch apart (crates/platdns-dnssec/examples/
#   resign.rs). Whole-zone signing time and RSS are reported too.
# qps: the `gen.sh zone NAMES` zone (run.sh's), signed the same way and written
#   as one zone file that platdns (`serve --zone-file`) and knotd (no signing
#   of its own) both serve. The answers to a sample of the queries are
#   compared first. Then dnsperf with a mix of 80% existing data, 10% NXDOMAIN,
#   10% NODATA (gen.sh dnssec-queries), with DO=1 (`-D`) and DO=0 (`-e`: EDNS,
#   DO clear), run.sh's conventions: one server worker pinned to CPU 0, dnsperf
#   on CPU 1, rounds alternating the servers, median of ROUNDS, CPU seconds per
#   100,000 answers from /proc.
set -euo pipefail
ROOT=${PLATDNS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
if [ -z "${PLATDNS_BENCH_COPY:-}" ]; then # run from a copy (see run.sh)
  copy=$(mktemp /tmp/platdns-bench-dnssec.XXXXXX)
  cp "$0" "$copy"
  PLATDNS_BENCH_COPY=1 PLATDNS_ROOT="$ROOT" exec bash "$copy" "$@"
fi
WORK=${BENCH_DIR:-/tmp/platdns-dnssecbench}
if [ "${QUICK:-0}" = 1 ]; then RECORDS=20000 COMMITS=10 NAMES=20000 DURATION=3 ROUNDS=1; fi
RECORDS=${RECORDS:-1000000} COMMITS=${COMMITS:-50} NAMES=${NAMES:-100000}
DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-3} DENIALS=${DENIALS:-nsec nsec3} PARTS=${PARTS:-resign qps}
SAMPLE=${SAMPLE:-300}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1}
PORT_P=${PORT_P:-25553} PORT_K=${PORT_K:-25554}

need=()
for t in knotd:knot dnsperf:dnsperf kdig:knot-dnsutils taskset:util-linux; do
  command -v "${t%%:*}" >/dev/null || [ -x "/usr/sbin/${t%%:*}" ] || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p platdns &&
  CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p platdns-dnssec --example resign)
PLATDNS="$TARGET/release/platdns"
RESIGN="$TARGET/release/examples/resign"

rm -rf "$WORK" && mkdir -p "$WORK/zones"
cd "$WORK"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
echo "$(uptime); $(nproc) CPUs; platdns $(cd "$ROOT" && git rev-parse --short HEAD); $(knotd -V | head -1)"

# ---- resign: one-record commits in a RECORDS-record zone ----------------------
if [[ " $PARTS " == *" resign "* ]]; then
  "$ROOT/bench/gen.sh" records "$RECORDS" big.zone
  for d in $DENIALS; do
    echo
    echo "== resign, $d: $RESIGN --zone big.zone --denial $d --commits $COMMITS"
    "$RESIGN" --zone big.zone --denial "$d" --commits "$COMMITS"
  done
  rm -f big.zone
fi

[[ " $PARTS " == *" qps "* ]] || exit 0

# ---- qps: helpers as in run.sh -------------------------------------------------
tree_pids() { echo "$1"; for c in $(pgrep -P "$1" 2>/dev/null); do tree_pids "$c"; done; }
stop() { kill "$@" 2>/dev/null || true; for p in "$@"; do while kill -0 "$p" 2>/dev/null; do sleep 0.01; done; done; }
cpu_ticks() {
  local t=0
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/stat" ] || continue
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
wait_answer() { # port name
  local deadline=$(($(date +%s) + 900))
  until kdig @127.0.0.1 -p "$1" "$2" A +norec +retry=0 +timeout=1 2>/dev/null | grep -q 'Flags: qr aa'; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "no answer from port $1 for $2" >&2; return 1; }
    sleep 0.05
  done
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
start_platdns() { # port zonefile
  taskset -c "$SERVER_CPU" "$PLATDNS" serve --dns-listen "127.0.0.1:$1" --api-listen 127.0.0.1:0 \
    --udp-workers 1 --data-dir "$WORK/pdata" --zone-file "$2" >"$WORK/platdns.log" 2>&1 &
  echo $!
}
start_knot() { # port
  local dir="$WORK/knot"
  rm -rf "$dir" && mkdir -p "$dir"
  cat >"$dir/knot.conf" <<EOF
server:
    listen: 127.0.0.1@$1
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
    dnssec-signing: off
    file: $WORK/zones/%s.zone
zone:
  - domain: bench.test.
EOF
  taskset -c "$SERVER_CPU" knotd -c "$dir/knot.conf" >"$dir/log" 2>&1 &
  echo $!
}
# run_load NAME PID PORT QUERIES DNSPERF-FLAG → "qps cpu_per_100k lost response_bytes" to result-NAME
run_load() {
  local name=$1 pid=$2 port=$3 queries=$4 flag=$5 c0 c1 out hz
  hz=$(getconf CLK_TCK)
  c0=$(cpu_ticks "$pid")
  out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$port" -d "$queries" -l "$DURATION" -c 4 -q 500 "$flag" 2>&1)
  c1=$(cpu_ticks "$pid")
  local qps done_q lost size
  qps=$(echo "$out" | awk '/Queries per second/ {print $4}')
  done_q=$(echo "$out" | awk '/Queries completed/ {print $3}')
  lost=$(echo "$out" | awk '/Queries lost/ {print $3}')
  size=$(echo "$out" | awk '/Average packet size/ {print $NF}')
  echo "$qps $(awk -v c=$((c1 - c0)) -v hz="$hz" -v n="$done_q" 'BEGIN {printf "%.3f", c / hz / n * 100000}') $lost $size" \
    >>"$WORK/result-$name"
  printf '  %-14s %9.0f qps  %s\n' "$name" "$qps" "$(echo "$out" | grep -E 'Response codes|Average packet' | tr -s ' ' | paste -sd ';')"
}

"$ROOT/bench/gen.sh" zone "$NAMES" plain.zone
"$ROOT/bench/gen.sh" dnssec-queries "$NAMES" 500000 q.txt
for d in $DENIALS; do
  echo
  echo "== qps, $d: $(grep -vc '^\$' plain.zone) records ($NAMES names) signed: $RESIGN --zone plain.zone --denial $d --commits 0 --write-signed zones/bench.test.zone"
  "$RESIGN" --zone plain.zone --denial "$d" --commits 0 --write-signed zones/bench.test.zone | sed 's/^/  /'
  rm -rf "$WORK/pdata" && mkdir -p "$WORK/pdata"
  P=$(start_platdns $PORT_P zones/bench.test.zone); PIDS+=("$P")
  K=$(start_knot $PORT_K); PIDS+=("$K")
  wait_answer $PORT_P h1.bench.test; wait_answer $PORT_K h1.bench.test
  sleep 1
  MEM_P=$(pss_kb "$P") MEM_K=$(pss_kb "$K")

  # The same answers? The first SAMPLE queries, DO=1, records of every section sorted.
  : >"$WORK/answers-$d.diff"
  head -"$SAMPLE" q.txt | while read -r qn qt; do
    for port in $PORT_P $PORT_K; do
      kdig @127.0.0.1 -p "$port" "$qn" "$qt" +dnssec +norec +retry=0 |
        awk '/^;; ->>HEADER/ {sub(/; id: [0-9]+/, ""); print; next} /^;; Flags/ {print; next}
             /^;; [A-Z]+ SECTION:/ {sec = $2; next} /^;/ || /^$/ {next} {print sec, $0}' | sort >"$WORK/ans-$port"
    done
    if ! cmp -s "$WORK/ans-$PORT_P" "$WORK/ans-$PORT_K"; then
      { echo "### $qn $qt"; diff "$WORK/ans-$PORT_P" "$WORK/ans-$PORT_K"; } >>"$WORK/answers-$d.diff"
    fi
  done
  diffs=$(grep -c '^###' "$WORK/answers-$d.diff" || true)
  echo "  same answers (DO=1, first $SAMPLE queries, sections sorted): $((SAMPLE - diffs)) of $SAMPLE"
  [ "$diffs" = 0 ] || head -20 "$WORK/answers-$d.diff"

  rm -f "$WORK"/result-*
  for r in $(seq "$ROUNDS"); do
    echo " round $r: load $(cut -d' ' -f1-3 /proc/loadavg)"
    run_load platdns-do1 "$P" $PORT_P q.txt -D
    run_load knotd-do1 "$K" $PORT_K q.txt -D
    run_load platdns-do0 "$P" $PORT_P q.txt -e
    run_load knotd-do0 "$K" $PORT_K q.txt -e
  done
  stop "$P" "$K"
  printf '\n  %s, %s names signed (%s s x %s rounds, median)\n' "$d" "$NAMES" "$DURATION" "$ROUNDS"
  printf '  %-14s %10s %22s %8s %16s\n' server qps "CPU s / 100k answers" lost "response bytes"
  for s in platdns-do1 knotd-do1 platdns-do0 knotd-do0; do
    q=$(awk '{print $1}' "result-$s" | median); c=$(awk '{print $2}' "result-$s" | median)
    l=$(awk '{print $3}' "result-$s" | median); b=$(awk '{print $4}' "result-$s" | median)
    printf '  %-14s %10.0f %22.3f %8s %16s\n' "$s" "$q" "$c" "$l" "$b"
    eval "QPS_${s%%-*}_${s##*-}=$q CPU_${s%%-*}_${s##*-}=$c"
  done
  for do in do1 do0; do
    eval "qp=\$QPS_platdns_$do qk=\$QPS_knotd_$do cp=\$CPU_platdns_$do ck=\$CPU_knotd_$do"
    printf '  %s platdns/knotd: qps %.2f, CPU per answer %.2f\n' "$do" \
      "$(awk -v a="$qp" -v b="$qk" 'BEGIN {print a / b}')" "$(awk -v a="$cp" -v b="$ck" 'BEGIN {print a / b}')"
  done
  printf '  platdns DO=1/DO=0: qps %.2f; knotd DO=1/DO=0: qps %.2f\n' \
    "$(awk -v a="$QPS_platdns_do1" -v b="$QPS_platdns_do0" 'BEGIN {print a / b}')" \
    "$(awk -v a="$QPS_knotd_do1" -v b="$QPS_knotd_do0" 'BEGIN {print a / b}')"
  printf '  memory (PSS) loaded: platdns %d MiB, knotd %d MiB\n' $((MEM_P / 1024)) $((MEM_K / 1024))
done
