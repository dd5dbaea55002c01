#!/usr/bin/env python3
"""Zone-transfer bench helper (issue 8), driven by bench/xfr.sh.

    python3 bench/xfr.py load --api URL --token-file F --zone Z --records N --zonefile OUT --state S
    python3 bench/xfr.py commit --state S --name NAME
    python3 bench/xfr.py replace --state S --name NAME
    python3 bench/xfr.py axfr --port P --zone Z --records N

`load`: a tenant (account, premium contract, zone Z, read/write token), one
`atomic_changes` of N records, the ACL "127.0.0.1/32" (no key) on the zone's
common configuration, and the same N records written to OUT as a zone file
body (owner TTL IN TYPE RDATA, absolute names) for knotd; xfr.sh adds the SOA
and NS that platdns publishes. The mix follows bench/gen.sh: hosts with A (a
quarter also AAAA, a tenth MX to another host), a tenth of N as CNAMEs to
hosts, 100 wildcards; hosts fill up to exactly N records.
`commit`: one new A record, committed (for the IXFR figure).
`replace`: the loaded records and one new A record as one `atomic_changes`:
a whole build, so an IXFR across it compares every record.
`axfr`: a raw AXFR client that only reads the TCP frames and adds up their
ANCOUNT until N records (kdig parses every record and is the slower side on
2 cores): prints "total_ms first_message_ms bytes messages records".
Standard library only.
"""
import argparse, json, socket, struct, sys, time
import benchlib


def call(api, token, method, path, body=None):
    return benchlib.call(api, token, method, path, body, timeout=1800)


TTL = 3600


def records(n, zone):
    """(owner, type, [rdata text]) RRsets of exactly n records in all."""
    z = zone + "."
    cnames, wild = n // 10, 100
    budget = n - cnames - wild
    hosts = []  # (i, with_aaaa, with_mx)
    i = 0
    while budget > 0:
        budget -= 1
        aaaa = i % 4 == 0 and budget > 0
        budget -= aaaa
        mx = i % 10 == 0 and budget > 0
        budget -= mx
        hosts.append((i, aaaa, mx))
        i += 1
    h = len(hosts)
    for i, aaaa, mx in hosts:
        yield ("h%d.%s" % (i, z), "A", ["10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)])
        if aaaa:
            yield ("h%d.%s" % (i, z), "AAAA", ["2001:db8::%x:%x" % (i >> 16, i & 0xFFFF)])
        if mx:
            yield ("h%d.%s" % (i, z), "MX", ["10 h%d.%s" % ((i + 1) % h, z)])
    for i in range(cnames):
        yield ("c%d.%s" % (i, z), "CNAME", ["h%d.%s" % ((i * 7) % h, z)])
    for i in range(wild):
        yield ("*.w%d.%s" % (i, z), "A", ["192.0.2.%d" % (i % 250 + 1)])


def load(a):
    op = open(a.token_file).read().strip()
    st, acct = call(a.api, op, "POST", "/operator/v1/accounts", {"name": "xfrbench"})
    assert st in (200, 201, 202), acct
    acct = acct["result"]["id"]
    _, c = call(a.api, op, "POST", "/operator/v1/contracts", {"account_id": acct, "plan": "premium"})
    st, z = call(a.api, op, "POST", "/operator/v1/zones",
                 {"contract_id": c["result"]["id"], "name": a.zone, "approve": "benchmark"})
    assert st in (200, 201, 202), z
    zid = z["result"]["id"]
    _, t = call(a.api, op, "POST", "/operator/v1/tokens", {"account_id": acct, "scopes": ["read", "write"]})
    tok = t["result"]["token"]

    sets = list(records(a.records, a.zone))
    assert sum(len(r) for _, _, r in sets) == a.records
    with open(a.zonefile, "w") as f:
        for owner, rtype, rdata in sets:
            for v in rdata:
                f.write("%s %d IN %s %s\n" % (owner, TTL, rtype, v))
    body = atomic_body(sets)
    t0 = time.monotonic()
    st, b = call(a.api, tok, "PATCH", "/dpf/v1/zones/%s/atomic_changes?wait=true" % zid, body)
    assert st == 202, b
    print("load: %d records in one atomic_changes: %.1f s" % (a.records, time.monotonic() - t0))

    _, zz = call(a.api, tok, "GET", "/dpf/v1/zones/%s" % zid)
    cc = zz["result"]["common_config_id"]
    st, b = call(a.api, tok, "POST", "/dpf/v1/common_configs/%s/cc_sec_transfer_acls" % cc,
                 {"network": "127.0.0.1/32"})
    assert st == 202, b
    json.dump({"api": a.api, "zone_id": zid, "token": tok, "zone": a.zone, "records": a.records},
              open(a.state, "w"))


def atomic_body(sets):
    return {"records": [{"name": o, "ttl": TTL, "rrtype": t, "rdata": [{"value": v} for v in r],
                         "labels": {}, "description": ""} for o, t, r in sets], "description": "xfr bench"}


def replace(a):
    s = json.load(open(a.state))
    sets = list(records(s["records"], s["zone"])) + [(a.name, "A", ["192.0.2.98"])]
    t0 = time.monotonic()
    st, b = call(s["api"], s["token"], "PATCH", "/dpf/v1/zones/%s/atomic_changes?wait=true" % s["zone_id"], atomic_body(sets))
    assert st == 202, b
    print("replace: %d records in one atomic_changes: %.1f s" % (s["records"] + 1, time.monotonic() - t0))


def commit(a):
    s = json.load(open(a.state))
    st, b = call(s["api"], s["token"], "POST", "/dpf/v1/zones/%s/records" % s["zone_id"],
                 {"name": a.name, "rrtype": "A", "rdata": [{"value": "192.0.2.99"}], "ttl": TTL})
    assert st == 202, b
    st, b = call(s["api"], s["token"], "PATCH", "/dpf/v1/zones/%s/changes" % s["zone_id"], {})
    assert st == 202, b


def axfr(a):
    q = struct.pack(">HHHHHH", 0x5844, 0, 1, 0, 0, 0)
    for label in a.zone.strip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 252, 1)
    s = socket.create_connection(("127.0.0.1", a.port), timeout=60)
    buf = bytearray(1 << 20)
    view = memoryview(buf)

    def read(n):
        got = 0
        while got < n:
            k = s.recv_into(view[got:n])
            if not k:
                raise EOFError("closed after %d records" % total)
            got += k
        return view[:n]

    total = msgs = size = 0
    first = None
    t0 = time.monotonic()
    s.sendall(struct.pack(">H", len(q)) + q)
    while total < a.records:
        n = struct.unpack(">H", read(2))[0]
        m = read(n)
        if first is None:
            first = time.monotonic()
            assert m[3] & 0x0F == 0, "rcode %d" % (m[3] & 0x0F)
        total += struct.unpack(">H", m[6:8])[0]
        msgs += 1
        size += n + 2
    t1 = time.monotonic()
    print("%.0f %.0f %d %d %d" % ((t1 - t0) * 1000, (first - t0) * 1000, size, msgs, total))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    l = sub.add_parser("load")
    l.add_argument("--api", required=True)
    l.add_argument("--token-file", required=True)
    l.add_argument("--zone", required=True)
    l.add_argument("--records", type=int, default=1000000)
    l.add_argument("--zonefile", required=True)
    l.add_argument("--state", required=True)
    c = sub.add_parser("commit")
    c.add_argument("--state", required=True)
    c.add_argument("--name", required=True)
    r = sub.add_parser("replace")
    r.add_argument("--state", required=True)
    r.add_argument("--name", required=True)
    x = sub.add_parser("axfr")
    x.add_argument("--port", type=int, required=True)
    x.add_argument("--zone", required=True)
    x.add_argument("--records", type=int, required=True)
    a = ap.parse_args()
    {"load": load, "commit": commit, "replace": replace, "axfr": axfr}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
