#!/usr/bin/env bash
# Property-based API testing of platdns with schemathesis, against both of its
# OpenAPI documents: builds platdns, starts it on a fresh data directory,
# creates an account, a contract, an approved zone with records, a committed
# change and a TSIG key, a read+write tenant token, then runs schemathesis on
# /dpf/v1/openapi.json (tenant token) and /operator/v1/openapi.json (operator
# token). Bounded: MAX_EXAMPLES cases per operation (default 30) and a time
# budget per document (MAX_TIME seconds, default 300).
#
#   bench/schemathesis.sh                 # reports in target/schemathesis/
#   MAX_EXAMPLES=100 bench/schemathesis.sh
#
# Needs python3 with pip (installs schemathesis if missing) and cargo. Exit
# status: non-zero if either run found a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
MAX_TIME=${MAX_TIME:-300}
SEED=${SEED:-1}
PORT=${PORT:-18053}
DNS_PORT=${DNS_PORT:-15399}
out=$CARGO_TARGET_DIR/schemathesis
mkdir -p "$out"

command -v schemathesis >/dev/null || python3 -m pip install --quiet schemathesis
schemathesis --version

cargo build -p platdns
bin=$CARGO_TARGET_DIR/debug/platdns

data=$(mktemp -d /tmp/platdns-st.XXXXXX)
"$bin" serve --data-dir "$data" --api-listen 127.0.0.1:$PORT --dns-listen 127.0.0.1:$DNS_PORT \
    >"$out/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
api=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -sf $api/healthz >/dev/null && break; sleep 0.1; done

OP="Authorization: Bearer $(cat "$data/operator.token")"
j() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
post() { curl -sf -H "$1" -H 'Content-Type: application/json' -X "${4:-POST}" -d "$3" "$api$2"; }

acct=$(post "$OP" /operator/v1/accounts '{"name":"acme"}' | j "['result']['id']")
contract=$(post "$OP" /operator/v1/contracts "{\"account_id\":$acct,\"plan\":\"premium\",\"extra_qps\":100}" | j "['result']['id']")
zone=$(post "$OP" /operator/v1/zones "{\"contract_id\":\"$contract\",\"name\":\"example.test\",\"approve\":\"schemathesis\"}" | j "['result']['id']")
token=$(post "$OP" /operator/v1/tokens "{\"account_id\":$acct,\"scopes\":[\"read\",\"write\"]}" | j "['result']['token']")
T="Authorization: Bearer $token"
post "$T" "/dpf/v1/zones/$zone/records" '{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.10"}],"ttl":300}' >/dev/null
post "$T" "/dpf/v1/zones/$zone/records" '{"name":"mail","rrtype":"MX","rdata":[{"value":"10 mx.example.test."}],"ttl":300}' >/dev/null
post "$T" "/dpf/v1/zones/$zone/changes" '{"description":"first"}' PATCH >/dev/null
post "$T" "/dpf/v1/zones/$zone/records" '{"name":"staged","rrtype":"TXT","rdata":[{"value":"\"pending\""}]}' >/dev/null
post "$T" "/dpf/v1/contracts/$contract/tsigs" '{"name":"k1"}' >/dev/null
record=$(curl -sf -H "$T" "$api/dpf/v1/zones/$zone/records" | j "['results'][0]['id']")
history=$(curl -sf -H "$T" "$api/dpf/v1/zones/$zone/zone_histories" | j "['results'][0]['id']")
tsig=$(curl -sf -H "$T" "$api/dpf/v1/contracts/$contract/tsigs" | j "['results'][0]['id']")
lb=$(post "$OP" /operator/v1/lb_domains "{\"contract_id\":\"$contract\",\"name\":\"shop.lb.platdns.test.\"}" | j "['result']['id']")
post "$T" "/dpf/v1/lb_domains/$lb/config" '{"monitorings":[{"resource_name":"up","name":"up","mtype":"static","description":"","props":{"result":"up"}}],
 "sites":[{"resource_name":"tokyo","name":"tokyo","rrtype":"A","endpoints":[{"resource_name":"t1","name":"t1","weight":1,"enabled":true,"rdata":[{"value":"192.0.2.1"}],"monitorings":[{"resource_name":"up","enabled":true}]}]}],
 "rules":[{"resource_name":"main","name":"main","methods":[{"method":{"resource_name":"a","mtype":"entry_a","enabled":true,"methods":[
   {"method":{"resource_name":"fo","mtype":"failover","enabled":true,"methods":[{"priority":1,"method":{"resource_name":"x1","mtype":"exit_site","enabled":true,"site_resource_name":"tokyo"}}]}}]}}]}]}' PUT >/dev/null
post "$T" "/dpf/v1/lb_domains/$lb" '{"rule_resource_name":"main"}' PATCH >/dev/null
echo "account $acct, contract $contract, zone $zone, record $record, history $history, tsig $tsig, lb $lb"

# Path parameters: the real ids, so requests reach the handlers' logic and
# not only their 404s.
cat >"$out/schemathesis.toml" <<EOF
[parameters]
"path.ContractId" = "$contract"
"path.ZoneId" = "$zone"
"path.RecordId" = "$record"
"path.TsigId" = $tsig
"path.ZoneHistoryId" = $history
"path.id" = "$contract"
"path.LbDomainId" = "$lb"
"path.SiteResourceName" = "tokyo"
"path.EndpointResourceName" = "t1"
"path.MonitoringResourceName" = "up"
"path.RuleResourceName" = "main"
"path.RuleMethodResourceName" = "fo"
EOF

status=0
run() {
    local name=$1 url=$2 auth=$3
    shift 3
    echo "== schemathesis: $name ($url)"
    # use_after_free is left out: DPF stages a record's deletion, so the
    # record stays readable (state 2) until the next commit, as it must.
    schemathesis --config-file "$out/schemathesis.toml" run "$url" -H "$auth" \
        --checks all --exclude-checks use_after_free --output-sanitize false \
        --max-examples "$MAX_EXAMPLES" --max-time "$MAX_TIME" --seed "$SEED" \
        --workers 2 --report junit,ndjson --report-dir "$out/$name" "$@" \
        2>&1 | tee "$out/$name.txt" || status=1
}
run dpf "$api/dpf/v1/openapi.json" "$T"
# The operator's path id is a contract's or a zone's: both are tried.
run operator "$api/operator/v1/openapi.json" "$OP"
grep -c ERROR "$out/serve.log" >/dev/null && { echo "== server errors"; grep ERROR "$out/serve.log" | head -20; }
exit $status
