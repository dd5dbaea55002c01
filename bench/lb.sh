#!/usr/bin/env bash
# Traffic management on the wire (issue 5): the qps and CPU of answering an
# LB name (steered: the method tree walked and a weighted choice made per
# query) against a plain name of a hosted zone, same node, same dnsperf load.
#
#   bench/lb.sh                DURATION=10 ROUNDS=3
#
# One platdns UDP worker pinned to CPU 0, dnsperf pinned to CPU 1 (as in
# bench/run.sh). The LB domain has a failover rule over two A sites of two
# endpoints each (weights 1 and 3), watched by static monitorings, so no
# probe traffic disturbs the run. Rounds alternate the two query files; the
# median is reported with CPU seconds per 100,000 answers.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-3}
need=()
for t in dnsperf:dnsperf kdig:knot-dnsutils taskset:util-linux curl:curl; do
  command -v "${t%%:*}" >/dev/null || need+=("${t##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
fi
(cd "$ROOT" && cargo build --release -q -p platdns)
dir=$(mktemp -d /tmp/platdns-lb-bench.XXXXXX)
taskset -c 0 "$ROOT/target/release/platdns" serve --data-dir "$dir" --dns-listen 127.0.0.1:25360 \
  --api-listen 127.0.0.1:28060 --udp-workers 1 --identity none >"$dir/out" 2>"$dir/log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q "serving DNS" "$dir/out" 2>/dev/null && break; sleep 0.1; done
API=http://127.0.0.1:28060
OP="Authorization: Bearer $(cat "$dir/operator.token")"
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
acct=$(curl -sf -H "$OP" -d '{"name":"bench"}' $API/operator/v1/accounts | j "['result']['id']")
contract=$(curl -sf -H "$OP" -d "{\"account_id\":$acct,\"plan\":\"premium\"}" $API/operator/v1/contracts | j "['result']['id']")
zone=$(curl -sf -H "$OP" -d "{\"contract_id\":\"$contract\",\"name\":\"plain.test\",\"approve\":\"bench\"}" $API/operator/v1/zones | j "['result']['id']")
tok=$(curl -sf -H "$OP" -d "{\"account_id\":$acct,\"scopes\":[\"read\",\"write\"]}" $API/operator/v1/tokens | j "['result']['token']")
T="Authorization: Bearer $tok"
curl -sf -H "$T" -d '{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.1"}],"ttl":30}' $API/dpf/v1/zones/$zone/records >/dev/null
curl -sf -H "$T" -X PATCH -d '{}' $API/dpf/v1/zones/$zone/changes >/dev/null
lb=$(curl -sf -H "$OP" -d "{\"contract_id\":\"$contract\",\"name\":\"shop.lb.platdns.test.\"}" $API/operator/v1/lb_domains | j "['result']['id']")
ep() { echo "{\"resource_name\":\"$1\",\"name\":\"$1\",\"weight\":$2,\"enabled\":true,\"rdata\":[{\"value\":\"$3\"}],\"monitorings\":[{\"resource_name\":\"up\",\"enabled\":true}]}"; }
cat >"$dir/config.json" <<EOF
{"monitorings":[{"resource_name":"up","name":"up","mtype":"static","description":"","props":{"result":"up"}}],
 "sites":[{"resource_name":"tokyo","name":"tokyo","rrtype":"A","endpoints":[$(ep t1 1 192.0.2.10),$(ep t2 3 192.0.2.11)]},
          {"resource_name":"osaka","name":"osaka","rrtype":"A","endpoints":[$(ep o1 1 198.51.100.10),$(ep o2 3 198.51.100.11)]}],
 "rules":[{"resource_name":"main","name":"main","methods":[{"method":{"resource_name":"a","mtype":"entry_a","enabled":true,"methods":[
   {"method":{"resource_name":"fo","mtype":"failover","enabled":true,"methods":[
     {"priority":1,"method":{"resource_name":"x1","mtype":"exit_site","enabled":true,"site_resource_name":"tokyo"}},
     {"priority":2,"method":{"resource_name":"x2","mtype":"exit_site","enabled":true,"site_resource_name":"osaka"}}]}}]}}]}]}
EOF
curl -sf -H "$T" -X PUT --data @"$dir/config.json" $API/dpf/v1/lb_domains/$lb/config >/dev/null
curl -sf -H "$T" -X PATCH -d '{"rule_resource_name":"main"}' $API/dpf/v1/lb_domains/$lb >/dev/null
kdig @127.0.0.1 -p 25360 +short shop.lb.platdns.test A | grep -q '^192.0.2.1[01]$' || { echo "LB name does not answer"; exit 1; }
for i in $(seq 1000); do echo "shop.lb.platdns.test A"; done >"$dir/lb.q"
for i in $(seq 1000); do echo "www.plain.test A"; done >"$dir/plain.q"
cpu() { sed 's/.*) //' "/proc/$pid/stat" | awk '{print $12 + $13}'; }
hz=$(getconf CLK_TCK)
run() {
  local before after out qps
  before=$(cpu)
  out=$(taskset -c 1 dnsperf -s 127.0.0.1 -p 25360 -d "$1" -l "$DURATION" -c 4 -q 500 2>&1)
  after=$(cpu)
  qps=$(awk '/Queries per second/ {print $4}' <<<"$out")
  local done_q; done_q=$(awk '/Queries completed/ {print $3}' <<<"$out")
  echo "$qps $(awk -v t=$((after - before)) -v hz="$hz" -v n="$done_q" 'BEGIN {printf "%.3f", t / hz / n * 100000}')"
}
declare -a lbq plainq lbc plainc
for r in $(seq "$ROUNDS"); do
  read -r q c < <(run "$dir/plain.q"); plainq+=("$q"); plainc+=("$c")
  read -r q c < <(run "$dir/lb.q"); lbq+=("$q"); lbc+=("$c")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
pq=$(median "${plainq[@]}") lq=$(median "${lbq[@]}") pc=$(median "${plainc[@]}") lc=$(median "${lbc[@]}")
echo "plain name:  $pq qps, $pc CPU s per 100k answers"
echo "LB name:     $lq qps, $lc CPU s per 100k answers"
awk -v p="$pq" -v l="$lq" -v pc="$pc" -v lc="$lc" 'BEGIN {printf "ratio LB/plain: qps %.3f, CPU per answer %.3f (goal: qps within 10%%)\n", l / p, lc / pc}'
