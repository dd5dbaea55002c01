#!/usr/bin/env bash
# Contract QPS on the wire (issue 6): is tenant B's answer slowed or lost
# while tenant A exceeds its contract QPS, and what does metering cost?
#
#   bench/usage.sh             the full run (~12 minutes)
#   QUICK=1 bench/usage.sh     short, to check the script
#
# Part 1, isolation. One release `platdns serve` (one UDP worker, pinned to
# SERVER_CPU) with two Basic tenants A and B (contract QPS 100 each), each
# with one zone of a few records, created through the operator and DPF API.
# Restriction policy `--restrict-basic window=WINDOW,period=PERIOD` (action:
# the default, drop). B is asked by bench/usage_probe.py: B_RATE qps for
# B_SECS seconds on one UDP socket, one query in flight, 1 s timeout, every
# round trip timed (p50, p99, max, lost). B_RATE is 80, under B's contract
# QPS: at exactly 100 qps a 5 s window now and then holds 501 or 502 of B's
# queries (the per-second counts are cut when the node's once-a-second loop
# wakes, a few ms late) and B is, rightly by the policy, restricted itself.
# Three cases, ROUNDS times in turn:
#   idle   A sends nothing;
#   10x    A at 10x its contract QPS (dnsperf -Q 1000);
#   flood  A as fast as dnsperf sends (-c 8 -T 2, no -Q; a large -q and a
#          short -t, since dropped queries would otherwise hold dnsperf's
#          outstanding slots until they time out).
# A's dnsperf starts WARMUP seconds before B's probe, so that A's
# restriction is in force for the whole measured part (the script checks
# the restriction event over HTTP and prints it).
#
# Part 2, metering cost. Two release servers, same zone created the same
# way through the API, restriction off (`--restrict-basic off`, else the
# load would be restricted at 100 qps): one with the default meter slots,
# one with `--meter-slots 0` (no slot counts; the restriction check reads
# no slot). dnsperf at full speed (-c 4 -q 500, as bench/lb.sh) on one
# name, METER_ROUNDS rounds alternating, medians of qps and of the server's
# CPU seconds per 100,000 answers (dnsperf's core, not the server, bounds
# qps on 2 cores, so CPU per answer is the figure that shows a cost).
#
# On 2 cores the load generators compete with the server: the server is
# pinned to SERVER_CPU, A's dnsperf and B's probe to CLIENT_CPU, the same
# in every case. The probe runs SCHED_FIFO (chrt -f) so that dnsperf on its
# core does not delay its sends and reads. The server's UDP worker thread
# runs SCHED_FIFO too (WORKER_FIFO=20; WORKER_FIFO=0 leaves it SCHED_OTHER):
# on a shared machine, whatever else runs on the server's core (builds,
# tests) otherwise delays a busy worker by a scheduler slice (2-4 ms), which
# is the machine's figure, not the server's. The worker uses a fraction of
# its core in every case here, so FIFO starves nothing.
set -euo pipefail
ROOT=${PLATDNS_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
# Run from a copy: bash reads a script as it goes.
if [ -z "${PLATDNS_BENCH_COPY:-}" ]; then
  copy=$(mktemp /tmp/platdns-bench-usage.XXXXXX)
  cp "$0" "$copy"
  PLATDNS_BENCH_COPY=1 PLATDNS_ROOT="$ROOT" exec bash "$copy" "$@"
fi
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  B_SECS=5 ROUNDS=1 WARMUP=4 METER_ROUNDS=1 METER_SECS=3
fi
B_RATE=${B_RATE:-80} B_SECS=${B_SECS:-40} ROUNDS=${ROUNDS:-3} WARMUP=${WARMUP:-8}
A_QPS=${A_QPS:-1000} WINDOW=${WINDOW:-5} PERIOD=${PERIOD:-3600}
FLOOD_ARGS=${FLOOD_ARGS:--c 8 -T 2 -q 20000 -t 0.2 -O suppress=timeout}
METER_ROUNDS=${METER_ROUNDS:-5} METER_SECS=${METER_SECS:-10}
SERVER_CPU=${SERVER_CPU:-0} CLIENT_CPU=${CLIENT_CPU:-1} SERVER_NICE=${SERVER_NICE:-0}
PROBE_CPU=${PROBE_CPU:-$CLIENT_CPU}
# WORKER_FIFO=N: the server's UDP worker thread (dns-udp-*) runs SCHED_FIFO
# at priority N (0: left SCHED_OTHER), as if its core were its own.
WORKER_FIFO=${WORKER_FIFO:-20}
CASES=${CASES:-idle 10x flood}
PARTS=${PARTS:-isolation metering}

need=()
for t in dnsperf:dnsperf kdig:knot-dnsutils taskset:util-linux chrt:util-linux curl:curl; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
(cd "$ROOT" && cargo build --release -q -p platdns)
PLATDNS="${CARGO_TARGET_DIR:-$ROOT/target}/release/platdns"
WORK=$(mktemp -d /tmp/platdns-usage-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
hz=$(getconf CLK_TCK)
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
load1() { cut -d' ' -f1 /proc/loadavg; }
softirq_ticks() { # CPU ticks of ksoftirqd/0 and /1 ("a b")
  local out=""
  for c in 0 1; do
    out="$out $(sed 's/.*) //' "/proc/$(pgrep -x "ksoftirqd/$c")/stat" | awk '{print $12 + $13}')"
  done
  echo $out
}

# start NAME DNS_PORT API_PORT ARGS... → a fresh server; sets PID_NAME
start() {
  local name=$1 dns=$2 api=$3; shift 3
  mkdir -p "$WORK/$name"
  nice -n "$SERVER_NICE" taskset -c "$SERVER_CPU" "$PLATDNS" serve --data-dir "$WORK/$name" --dns-listen "127.0.0.1:$dns" \
    --api-listen "127.0.0.1:$api" --udp-workers 1 --identity none "$@" \
    >"$WORK/$name/out" 2>"$WORK/$name/log" &
  PIDS+=("$!")
  eval "PID_$name=$!"
  for _ in $(seq 200); do grep -q "serving DNS" "$WORK/$name/out" 2>/dev/null && break; sleep 0.1; done
  grep -q "serving DNS" "$WORK/$name/out" || { echo "$name did not start:" >&2; cat "$WORK/$name/log" >&2; return 1; }
  if [ "$WORKER_FIFO" != 0 ]; then
    local pid=$! t
    for t in /proc/"$pid"/task/*; do
      if grep -q '^dns-udp' "$t/comm"; then chrt -f -p "$WORKER_FIFO" "${t##*/}"; fi
    done
  fi
}
stop() { kill "$1" 2>/dev/null || true; while kill -0 "$1" 2>/dev/null; do sleep 0.05; done; }

# tenant NAME API_PORT DNS_PORT ZONE → a Basic contract with ZONE and a few
# records, committed and answering; prints "contract-id token"
tenant() {
  local name=$1 API=http://127.0.0.1:$2 dns=$3 zone=$4
  local OP acct contract zid tok
  OP="Authorization: Bearer $(cat "$WORK/$name/operator.token")"
  acct=$(curl -sf -H "$OP" -d "{\"name\":\"$zone\"}" $API/operator/v1/accounts | j "['result']['id']")
  contract=$(curl -sf -H "$OP" -d "{\"account_id\":$acct,\"plan\":\"basic\"}" $API/operator/v1/contracts | j "['result']['id']")
  zid=$(curl -sf -H "$OP" -d "{\"contract_id\":\"$contract\",\"name\":\"$zone\",\"approve\":\"bench\"}" $API/operator/v1/zones | j "['result']['id']")
  tok=$(curl -sf -H "$OP" -d "{\"account_id\":$acct,\"scopes\":[\"read\",\"write\"]}" $API/operator/v1/tokens | j "['result']['token']")
  curl -sf -H "Authorization: Bearer $tok" -X PATCH $API/dpf/v1/zones/$zid/atomic_changes -d "{\"records\":[
    {\"name\":\"www.$zone.\",\"ttl\":60,\"rrtype\":\"A\",\"rdata\":[{\"value\":\"192.0.2.1\"}]},
    {\"name\":\"mail.$zone.\",\"ttl\":60,\"rrtype\":\"A\",\"rdata\":[{\"value\":\"192.0.2.25\"}]},
    {\"name\":\"www.$zone.\",\"ttl\":60,\"rrtype\":\"AAAA\",\"rdata\":[{\"value\":\"2001:db8::1\"}]},
    {\"name\":\"$zone.\",\"ttl\":60,\"rrtype\":\"MX\",\"rdata\":[{\"value\":\"10 mail.$zone.\"}]},
    {\"name\":\"$zone.\",\"ttl\":60,\"rrtype\":\"TXT\",\"rdata\":[{\"value\":\"\\\"v=spf1 -all\\\"\"}]}],
    \"description\":\"bench\"}" >/dev/null
  for _ in $(seq 100); do
    [ "$(kdig @127.0.0.1 -p "$dns" +short +retry=0 +timeout=1 "www.$zone" A 2>/dev/null)" = 192.0.2.1 ] && break
    sleep 0.1
  done
  [ "$(kdig @127.0.0.1 -p "$dns" +short +retry=0 +timeout=1 "www.$zone" A)" = 192.0.2.1 ] || { echo "www.$zone does not answer" >&2; return 1; }
  echo "$contract $tok"
}

dnsperf_field() { awk -v f="$2" '$0 ~ f {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}' "$1"; }

OUT="$WORK/report"
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }

say "platdns usage bench, $(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r)"
say "server on CPU $SERVER_CPU (--udp-workers 1, nice $SERVER_NICE, UDP worker SCHED_FIFO priority $WORKER_FIFO (0: not)), A's dnsperf on CPU $CLIENT_CPU, B's probe on CPU $PROBE_CPU (SCHED_FIFO); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- part 1: isolation --------------------------------------------------------
if [[ " $PARTS " == *" isolation "* ]]; then
  POLICY="window=$WINDOW,period=$PERIOD"
  start iso 25370 28070 --restrict-basic "$POLICY"
  read -r CA TA < <(tenant iso 28070 25370 tenant-a.test)
  read -r CB TB < <(tenant iso 28070 25370 tenant-b.test)
  [ -n "${TA:-}" ] && [ -n "${TB:-}" ] || { echo "tenants not created" >&2; exit 1; }
  for _ in $(seq 2000); do echo "www.tenant-a.test A"; done >"$WORK/a.q"
  restricted() { # "yes since T (measured M qps, limit L, action X)" or "no"
    curl -sf -H "Authorization: Bearer $TA" http://127.0.0.1:28070/dpf/v1/contracts/$CA/restrictions |
      python3 -c "
import json, sys
r = [e for e in json.load(sys.stdin)['results'] if not e.get('ended_at')]
print('yes: since %s, measured %s qps, limit %s, %s' % (r[0].get('started_at'), r[0].get('measured_qps'), r[0].get('contract_qps'), r[0].get('action')) if r else 'no')"
  }
  say ""
  say "Part 1: B's latency while A is idle, at ${A_QPS} qps, flooding"
  say "  policy --restrict-basic $POLICY (action drop); B: ${B_RATE} qps x ${B_SECS} s, 1 s timeout; A starts ${WARMUP} s before B"
  printf '  %-6s %5s %9s %9s %9s %9s %6s %5s %12s %12s %6s  %s\n' case round p50_us p90_us p99_us max_us lost bad A_sent_qps A_answered load1 "A restricted" | tee -a "$OUT"
  : >"$WORK/iso.tsv"
  for r in $(seq "$ROUNDS"); do
    for c in $CASES; do
      aq="-" aa="-" rst="-" dp=""
      case $c in
        idle) ;;
        10x) dp="-c 4 -T 2 -Q $A_QPS -q 2000 -t 1 -O suppress=timeout" ;;
        flood) dp="$FLOOD_ARGS" ;;
      esac
      l0=$(load1)
      if [ -n "$dp" ]; then
        # shellcheck disable=SC2086
        taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p 25370 -d "$WORK/a.q" -l $((WARMUP + B_SECS + 2)) $dp \
          >"$WORK/dnsperf-$c-$r" 2>&1 &
        dpid=$!
        sleep "$WARMUP"
        rst=$(restricted)
      fi
      k0=$(softirq_ticks)
      res=$(taskset -c "$PROBE_CPU" chrt -f 50 python3 "$ROOT/bench/usage_probe.py" 127.0.0.1 25370 www.tenant-b.test \
        --rate "$B_RATE" --secs "$B_SECS" --timeout 1 --rtts "$WORK/rtts-$c-$r")
      k1=$(softirq_ticks)
      if [ -n "$dp" ]; then
        wait "$dpid" || true
        sent=$(dnsperf_field "$WORK/dnsperf-$c-$r" "Queries sent")
        done_q=$(dnsperf_field "$WORK/dnsperf-$c-$r" "Queries completed")
        secs=$(dnsperf_field "$WORK/dnsperf-$c-$r" "Run time")
        aq=$(awk -v n="$sent" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
        aa=$(awk -v n="$done_q" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
      fi
      l1=$(load1)
      read -r p50 p90 p99 mx lost bad < <(echo "$res" |
        python3 -c "import json,sys; d=json.load(sys.stdin); print(d['p50_us'], d['p90_us'], d['p99_us'], d['max_us'], d['lost'], d['bad'])")
      printf '  %-6s %5s %9s %9s %9s %9s %6s %5s %12s %12s %6s  %s\n' "$c" "$r" "$p50" "$p90" "$p99" "$mx" "$lost" "$bad" "$aq" "$aa" "$l0/$l1" "$rst" | tee -a "$OUT"
      read -r a0 b0 <<<"$k0"; read -r a1 b1 <<<"$k1"
      echo "         ksoftirqd CPU while B was measured: cpu0 $(( (a1 - a0) * 100 / hz / B_SECS ))%, cpu1 $(( (b1 - b0) * 100 / hz / B_SECS ))%" | tee -a "$OUT"
      echo "$c $p50 $p99 $mx $lost" >>"$WORK/iso.tsv"
      sleep 2
    done
  done
  say ""
  say "  medians over rounds (lost: total):"
  idle99=$(awk '$1 == "idle" {print $3}' "$WORK/iso.tsv" | median)
  for c in $CASES; do
    p50=$(awk -v c="$c" '$1 == c {print $2}' "$WORK/iso.tsv" | median)
    p99=$(awk -v c="$c" '$1 == c {print $3}' "$WORK/iso.tsv" | median)
    mx=$(awk -v c="$c" '$1 == c {print $4}' "$WORK/iso.tsv" | median)
    lost=$(awk -v c="$c" '$1 == c {s += $5; n += 1} END {print s "/" n * '"$((${B_RATE%.*} * B_SECS))"'}' "$WORK/iso.tsv")
    ratio=$(awk -v a="$p99" -v b="$idle99" 'BEGIN {printf "%.2f", a / b}')
    say "  $(printf '%-6s p50 %8s us  p99 %8s us  max %9s us  lost %-10s p99/idle p99 %s' "$c" "$p50" "$p99" "$mx" "$lost" "$ratio")"
  done
  # What the server's books say about A and B over the run.
  for t in "A $CA $TA" "B $CB $TB"; do
    read -r who cid tok <<<"$t"
    curl -sf -H "Authorization: Bearer $tok" "http://127.0.0.1:28070/dpf/v1/contracts/$cid/qps/series" |
      python3 -c "
import json, sys
r = json.load(sys.stdin)['results']
print('  books: %s answered %d, restricted %d over %d seconds' % ('$who', sum(p['queries'] for p in r), sum(p['restricted'] for p in r), len(r)))" | tee -a "$OUT"
    curl -sf -H "Authorization: Bearer $tok" "http://127.0.0.1:28070/dpf/v1/contracts/$cid/restrictions" |
      python3 -c "
import json, sys
for e in json.load(sys.stdin)['results']:
    print('  restriction of %s: %s to %s, measured %s qps over %s s, limit %s, %s' % ('$who', e['started_at'], e.get('ended_at') or e['ends_at'], e['measured_qps'], e['window_seconds'], e['contract_qps'], e['action']))" | tee -a "$OUT"
  done
  stop "$PID_iso"
fi

# ---- part 2: metering cost ----------------------------------------------------
if [[ " $PARTS " == *" metering "* ]]; then
  start on 25371 28071 --restrict-basic off
  start off 25372 28072 --restrict-basic off --meter-slots 0
  tenant on 28071 25371 tenant-c.test >/dev/null
  tenant off 28072 25372 tenant-c.test >/dev/null
  for _ in $(seq 1000); do echo "www.tenant-c.test A"; done >"$WORK/c.q"
  cpu() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
  run() { # name port pid → "qps cpu_per_100k lost"
    local before after out qps done_q lost
    before=$(cpu "$3")
    out=$(taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$2" -d "$WORK/c.q" -l "$METER_SECS" -c 4 -q 500 2>&1)
    after=$(cpu "$3")
    qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
    done_q=$(awk '/Queries completed/ {print $3}' <<<"$out")
    lost=$(awk '/Queries lost/ {print $3}' <<<"$out")
    echo "$qps $(awk -v t=$((after - before)) -v hz="$hz" -v n="$done_q" 'BEGIN {printf "%.3f", t / hz / n * 100000}') $lost"
  }
  say ""
  say "Part 2: metering cost, dnsperf -c 4 -q 500 -l $METER_SECS on www.tenant-c.test A, $METER_ROUNDS rounds alternating"
  printf '  %-5s %5s %12s %22s %6s %6s\n' server round qps "CPU s / 100k answers" lost load1 | tee -a "$OUT"
  : >"$WORK/meter.tsv"
  for r in $(seq "$METER_ROUNDS"); do
    for s in on off; do
      pid_var="PID_$s"; port=$([ "$s" = on ] && echo 25371 || echo 25372)
      read -r q c l < <(run "$s" "$port" "${!pid_var}")
      printf '  %-5s %5s %12.0f %22s %6s %6s\n' "$s" "$r" "$q" "$c" "$l" "$(load1)" | tee -a "$OUT"
      echo "$s $q $c" >>"$WORK/meter.tsv"
    done
  done
  qon=$(awk '$1 == "on" {print $2}' "$WORK/meter.tsv" | median)
  qoff=$(awk '$1 == "off" {print $2}' "$WORK/meter.tsv" | median)
  con=$(awk '$1 == "on" {print $3}' "$WORK/meter.tsv" | median)
  coff=$(awk '$1 == "off" {print $3}' "$WORK/meter.tsv" | median)
  say "  median: metering on $(printf %.0f "$qon") qps, $con CPU s/100k; off (--meter-slots 0) $(printf %.0f "$qoff") qps, $coff CPU s/100k"
  say "  $(awk -v a="$qon" -v b="$qoff" -v c="$con" -v d="$coff" 'BEGIN {printf "on/off: qps %.3f (cost %.1f%%), CPU per answer %.3f (cost %.1f%%); goal: under 3%%", a / b, (1 - a / b) * 100, c / d, (c / d - 1) * 100}')"
  stop "$PID_on"; stop "$PID_off"
fi
say ""
say "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
cp "$OUT" "${REPORT:-/tmp/platdns-usage-bench.txt}"
# Every round trip of B (µs, -1: lost), one file per case and round, if asked.
if [ -n "${RTT_DIR:-}" ]; then mkdir -p "$RTT_DIR" && cp "$WORK"/rtts-* "$WORK"/dnsperf-* "$RTT_DIR"/ 2>/dev/null || true; fi
