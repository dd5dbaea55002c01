#!/usr/bin/env python3
"""Followers on the change feed (issue 19): commit -> answered on DNS nodes
that follow a PostgreSQL store, and what an idle follower asks the store.

    bench/follow.sh                  # starts PostgreSQL, platdns serve and N followers, runs this
    python3 bench/follow.py --api URL --token-file F --dns HOST:PORT [--dns ...] \
        --psql URL --db NAME [--commits N] [--idle S] [--zones Z]

A tenant with one zone (and --zones - 1 more, for the idle figure); then
--commits one-record commits (POST /records, its job waited for, then PATCH
/changes), each timed from sending the PATCH until every follower answers the
new name over UDP (each asked every 2 ms). Then, with the API process stopped
by the caller's signal file, the followers alone for --idle seconds: the
statements their connections sent (from the server's log, log_statement =
all on the database), and the database's committed transactions per second
(pg_stat_database.xact_commit, which autovacuum's count in too).
Standard library only."""
import argparse, os, socket, subprocess, sys, time
from benchlib import answer, call, dist, udp_ask
from concurrent.futures import ThreadPoolExecutor


def wait_job(api, tok, accepted):
    url = accepted["jobs_url"]
    while True:
        st, j = call(api, tok, "GET", url)
        s = (j.get("result", j) if isinstance(j, dict) else {}).get("status")
        if s != "RUNNING":
            return s
        time.sleep(0.005)


def xact_commits(psql, db):
    out = subprocess.run(["psql", psql, "-Atc", "SELECT xact_commit FROM pg_stat_database WHERE datname = '%s'" % db],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--dns", action="append", required=True)
    ap.add_argument("--psql", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--zones", type=int, default=1)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--pg-log", required=True, help="the PostgreSQL server's log")
    ap.add_argument("--stop-api", required=True, help="a file to create when the API is to be stopped")
    ap.add_argument("--api-stopped", required=True, help="a file the caller creates once it has stopped")
    a = ap.parse_args()
    op = open(a.token_file).read().strip()
    api = a.api
    st, acct = call(api, op, "POST", "/operator/v1/accounts", {"name": "follow-bench"})
    acct = acct["result"]["id"]
    st, c = call(api, op, "POST", "/operator/v1/contracts", {"account_id": acct, "plan": "premium"})
    cid = c["result"]["id"]
    st, t = call(api, op, "POST", "/operator/v1/tokens", {"account_id": acct, "scopes": ["read", "write"]})
    tok = t["result"]["token"]
    zones = []
    for i in range(a.zones):
        st, z = call(api, op, "POST", "/operator/v1/zones",
                     {"contract_id": cid, "name": "f%d.test" % i, "approve": "benchmark"})
        assert st in (200, 201), (st, z)
        zones.append(("f%d.test" % i, z["result"]["id"]))
    # Each zone committed once (one record), so followers serve every one.
    for name, zid in zones:
        st, b = call(api, tok, "POST", "/dpf/v1/zones/%s/records" % zid,
                     {"name": "www.%s." % name, "rrtype": "A", "rdata": [{"value": "192.0.2.1"}], "ttl": 60})
        assert st == 202, (st, b)
        wait_job(api, tok, b)
        st, b = call(api, tok, "PATCH", "/dpf/v1/zones/%s/changes?wait=true" % zid, {})
        assert st in (200, 202), (st, b)
    dns = [(h, int(p)) for h, p in (d.rsplit(":", 1) for d in a.dns)]
    name0, id0 = zones[0]
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in dns]
    times, errors = [], 0
    pool = ThreadPoolExecutor(len(dns))

    def until_answered(i, qname, value, t0):
        qid = 0
        while time.monotonic() - t0 < 10:
            qid = (qid + 1) & 0xFFFF
            r = udp_ask(socks[i], dns[i], qname, qid, 0.05)
            if r is not None and value in answer(r)[2]:
                return (time.monotonic() - t0) * 1000
            time.sleep(0.002)
        return None

    for k in range(a.commits):
        qname, value = "c%d.%s." % (k, name0), "192.0.2.%d" % (k % 250 + 1)
        st, b = call(api, tok, "POST", "/dpf/v1/zones/%s/records" % id0,
                     {"name": qname, "rrtype": "A", "rdata": [{"value": value}], "ttl": 60})
        if st != 202 or wait_job(api, tok, b) != "SUCCESSFUL":
            errors += 1
            continue
        t0 = time.monotonic()
        st, b = call(api, tok, "PATCH", "/dpf/v1/zones/%s/changes" % id0, {})
        if st != 202:
            errors += 1
            continue
        got = list(pool.map(lambda i: until_answered(i, qname, value, t0), range(len(dns))))
        if any(g is None for g in got):
            errors += 1
            continue
        times.append(max(got))
    print("commit -> answered on all %d followers: %s; errors %d" % (len(dns), dist(times), errors))
    # Idle: the API stopped, the followers alone.
    open(a.stop_api, "w").close()
    while not os.path.exists(a.api_stopped):
        time.sleep(0.1)
    time.sleep(2)
    # The followers' connections, and the server log's end (the caller set
    # log_statement = all on the database before the followers started).
    pids = subprocess.run(["psql", a.psql, "-Atc",
                           "SELECT pid FROM pg_stat_activity WHERE datname = '%s' AND pid <> pg_backend_pid()" % a.db],
                          capture_output=True, text=True, check=True).stdout.split()
    start = os.path.getsize(a.pg_log)
    before = xact_commits(a.psql, a.db)
    time.sleep(a.idle)
    after = xact_commits(a.psql, a.db)
    with open(a.pg_log, errors="replace") as f:
        f.seek(start)
        lines = f.read().splitlines()
    marks = ["[%s] LOG:  %s" % (p, kind) for p in pids for kind in ("statement:", "execute ")]
    statements = [l for l in lines if any(m in l for m in marks) and "UNLISTEN" not in l]
    kinds = {}
    for l in statements:
        text = l.split(": ", 2)[-1][:60]
        kinds[text] = kinds.get(text, 0) + 1
    # psql's own query is one more transaction each time.
    per_s = (after - before - 1) / a.idle
    print("idle, %d followers, %d zones, %g s: %.2f statements/s from the followers (%.2f per follower), "
          "%.2f transactions/s on the database (with autovacuum's)"
          % (len(dns), a.zones, a.idle, len(statements) / a.idle, len(statements) / a.idle / len(dns), per_s))
    for text, n in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print("  %4d x %s" % (n, text))


if __name__ == "__main__":
    sys.exit(main())
