#!/usr/bin/env python3
"""Control-plane figures (issue 4): commit -> answered, listing a page, and a
large commit, against a running `platdns serve` through its real API and DNS.

    bench/commit.sh                       # builds, starts platdns, runs this
    python3 bench/commit.py --api URL --dns HOST:PORT --token-file F [--records N] [--commits K]

Figures printed:
  - load: the zone of N records put in by one atomic_changes call;
  - commit -> answered: for each of K single-record commits, the time from
    sending PATCH /changes until a UDP query for the new name is answered
    with it (p50, p99);
  - one page of records (limit=100) listed: p50 over 20 calls;
  - a commit of 10,000 staged changes.
Standard library only.
"""
import argparse, random, shutil, socket, struct, subprocess, sys, time
from benchlib import call, pct, query


def answered(sock, dns, name, qid):
    sock.sendto(query(name, qid), dns)
    try:
        while True:
            data, _ = sock.recvfrom(4096)
            if struct.unpack(">H", data[:2])[0] == qid:
                return (data[3] & 0x0F) == 0 and struct.unpack(">H", data[6:8])[0] > 0
    except socket.timeout:
        return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--dns", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--records", type=int, default=100000)
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--staged", type=int, default=10000)
    a = ap.parse_args()
    host, port = a.dns.rsplit(":", 1)
    dns = (host, int(port))
    op = open(a.token_file).read().strip()
    tag = "%08x" % random.getrandbits(32)
    _, acct = call(a.api, op, "POST", "/operator/v1/accounts", {"name": "bench-" + tag})
    acct = acct["result"]["id"]
    _, c = call(a.api, op, "POST", "/operator/v1/contracts", {"account_id": acct, "plan": "premium"})
    zone_name = "bench%s.test" % tag
    _, z = call(a.api, op, "POST", "/operator/v1/zones", {"contract_id": c["result"]["id"], "name": zone_name, "approve": "benchmark"})
    zid = z["result"]["id"]
    _, t = call(a.api, op, "POST", "/operator/v1/tokens", {"account_id": acct, "scopes": ["read", "write"]})
    tok = t["result"]["token"]

    recs = [{"name": "h%d.%s." % (i, zone_name), "ttl": 300, "rrtype": "A",
             "rdata": [{"value": "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)}], "labels": {}, "description": ""}
            for i in range(a.records)]
    t0 = time.monotonic()
    st, body = call(a.api, tok, "PATCH", "/dpf/v1/zones/%s/atomic_changes?wait=true" % zid, {"records": recs})
    assert st == 202, body
    print("load: %d records in one atomic_changes: %.2f s" % (a.records, time.monotonic() - t0))

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.2)
    lat = []
    for k in range(a.commits):
        name = "new%d.%s." % (k, zone_name)
        st, body = call(a.api, tok, "POST", "/dpf/v1/zones/%s/records" % zid,
                        {"name": name, "rrtype": "A", "rdata": [{"value": "192.0.2.1"}], "ttl": 60})
        assert st == 202, body
        t0 = time.monotonic()
        st, body = call(a.api, tok, "PATCH", "/dpf/v1/zones/%s/changes" % zid, {})
        assert st == 202, body
        qid = k & 0xFFFF
        while not answered(sock, dns, name, qid):
            pass
        lat.append((time.monotonic() - t0) * 1000)
    print("commit -> answered over %d single-record commits: p50 %.1f ms, p99 %.1f ms"
          % (a.commits, pct(lat, 50), pct(lat, 99)))
    # The timing polls with a raw UDP query (a kdig process per poll would
    # time kdig's start-up); a real client then checks a sample of the names.
    if shutil.which("kdig"):
        for k in range(0, a.commits, max(1, a.commits // 10)):
            name = "new%d.%s." % (k, zone_name)
            out = subprocess.run(["kdig", "@" + host, "-p", port, name, "A", "+short"],
                                 capture_output=True, text=True, timeout=10).stdout.split()
            assert out == ["192.0.2.1"], (name, out)
        print("kdig sees every sampled commit's record")

    page = []
    for _ in range(20):
        t0 = time.monotonic()
        st, body = call(a.api, tok, "GET", "/dpf/v1/zones/%s/records?limit=100&offset=5000" % zid)
        assert st == 200 and len(body["results"]) == 100
        page.append((time.monotonic() - t0) * 1000)
    print("one page (limit=100) of %d records: p50 %.1f ms" % (a.records + a.commits, pct(page, 50)))

    for i in range(a.staged):
        st, body = call(a.api, tok, "POST", "/dpf/v1/zones/%s/records" % zid,
                        {"name": "s%d.%s." % (i, zone_name), "rrtype": "A", "rdata": [{"value": "192.0.2.2"}]})
        assert st == 202, body
    t0 = time.monotonic()
    st, body = call(a.api, tok, "PATCH", "/dpf/v1/zones/%s/changes?wait=true" % zid, {})
    assert st == 202, body
    print("commit of %d staged changes: %.2f s" % (a.staged, time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(main())
