#!/usr/bin/env python3
"""Control-plane isolation (issue 16): does one tenant's heavy writes slow down
another tenant's commits, or DNS answers, on the same running `platdns serve`?

    bench/isolation.sh                    # builds, starts platdns per backend, runs this
    python3 bench/isolation.py --api URL --dns HOST:PORT --token-file F \
        [--big N] [--duration S] [--idle S] [--baseline S] [--label NAME]

Three tenants (an account, a premium contract, a zone and a read/write token
each), made through the operator API:
  - A: its zone is loaded with N records (one atomic_changes); then, for
    --duration seconds, rounds alternate an atomic_changes of N records whose
    data differ from the zone's (two prepared bodies, used in turn) and a
    commit of one A RRset with N values (POST /records, PATCH /changes).
    Bodies are prepared before the clock starts; A runs in its own thread.
  - B: one-record commits in a loop (POST /records, PATCH /changes), each timed
    from sending the PATCH until a UDP query for the new name is answered with
    it (a query every 2 ms). Errors: any non-2xx, a job that ends FAILED, an
    exception (connection refused or reset, HTTP timeout), no answer within
    --b-timeout seconds (counted in the percentiles at that time).
  - C: a zone of a few records; a separate process sends sequential queries
    for `www.<zone>` A, one over UDP and one over TCP (a new connection per
    query) every --probe-ms, each with a 1 s timeout (a lost query counts 1 s).
Phases: --idle s probes only; --baseline s B alone (B's figures without A);
--duration s A and B together (probes taken as "loaded"); then A's call in
flight is waited for (its round is counted, and when it ended is printed).

Every write answers 202 {request_id, jobs_url}; the job is polled until it is
no longer RUNNING (jobs_url may be relative or absolute); FAILED is an error.
Standard library only. Prints one summary block.
"""
import argparse, datetime, json, multiprocessing, os, random, socket, struct, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
from benchlib import answer, dist, pct, query, short, udp_ask
import benchlib


def call(api, token, method, path, body=None, timeout=600):
    """(status, json) or (None, "exception text"): a failed call is one of B's errors."""
    return benchlib.call(api, token, method, path, body, timeout, catch=True)




def wait_job(api, token, accepted, every, timeout=3600):
    """Polls a 202's jobs_url until the job is no longer RUNNING.
    Returns (final status, error text or None)."""
    try:
        url = accepted["jobs_url"]
    except (TypeError, KeyError):
        return "?", "202 without jobs_url: %r" % (accepted,)
    t0 = time.monotonic()
    while True:
        st, j = call(api, token, "GET", url, timeout=timeout)
        if st != 200:
            return "?", "GET job: %s %s" % (st, j)
        j = j.get("result", j) if isinstance(j, dict) else {}
        s = j.get("status")
        if s != "RUNNING":
            if s == "SUCCESSFUL":
                return s, None
            return s, "job %s: %s %s" % (s, j.get("error_type"), j.get("error_message"))
        if time.monotonic() - t0 > timeout:
            return s, "job still RUNNING after %d s" % timeout
        time.sleep(every)


def write(api, token, method, path, body, every, timeout=3600):
    """A write and its job: None when it succeeded, else the error's text."""
    st, b = call(api, token, method, path, body, timeout=timeout)
    if st is None or not 200 <= st < 300:
        return "%s %s %s" % (method, path.split("/")[-1], short(st, b))
    if st == 202:
        _, err = wait_job(api, token, b, every, timeout)
        return err
    return None


# ---- DNS by hand ------------------------------------------------------------

def answer_a(m):
    """The A values in the answer section of a NOERROR response, else None."""
    if len(m) < 12:
        return None
    rcode, _, values = answer(m)
    return values if rcode == 0 else None


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b


def tcp_ask(dns, name, qid, timeout):
    q = query(name, qid)
    with socket.create_connection(dns, timeout=timeout) as s:
        s.sendall(struct.pack(">H", len(q)) + q)
        n = struct.unpack(">H", recv_exact(s, 2))[0]
        return recv_exact(s, n)


def prober(dns, name, expect, every, stop, out):
    """Runs in its own process: sequential UDP and TCP queries (one thread
    each), every `every` s; sends back [(proto, t_sent, ms, ok)]."""
    samples = []

    def loop(proto):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if proto == "udp" else None
        qid = random.getrandbits(16)
        nxt = time.monotonic()
        while not stop.is_set():
            qid = (qid + 1) & 0xFFFF
            t0 = time.monotonic()
            try:
                r = udp_ask(sock, dns, name, qid, 1.0) if proto == "udp" else tcp_ask(dns, name, qid, 1.0)
            except (OSError, ConnectionError):
                r = None
            ms = (time.monotonic() - t0) * 1000
            ok = r is not None and answer_a(r) == [expect]
            samples.append((proto, t0, ms if ok else max(ms, 1000.0), ok))
            nxt += every
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()

    ts = [threading.Thread(target=loop, args=(p,)) for p in ("udp", "tcp")]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.send(samples)
    out.close()


# ---- figures -----------------------------------------------------------------

def fine(xs):
    if not xs:
        return "n 0"
    return "n %d  p50 %.3f  p99 %.3f  max %.1f ms" % (len(xs), pct(xs, 50), pct(xs, 99), max(xs))


# ---- tenants -----------------------------------------------------------------

def tenant(api, op, tag, who):
    st, acct = call(api, op, "POST", "/operator/v1/accounts", {"name": "iso-%s-%s" % (who, tag)})
    assert st in (200, 201), (st, acct)
    acct = acct["result"]["id"]
    st, c = call(api, op, "POST", "/operator/v1/contracts", {"account_id": acct, "plan": "premium"})
    assert st in (200, 201), (st, c)
    zone = "iso%s%s.test" % (who, tag)
    st, z = call(api, op, "POST", "/operator/v1/zones",
                 {"contract_id": c["result"]["id"], "name": zone, "approve": "benchmark"})
    assert st in (200, 201), (st, z)
    st, t = call(api, op, "POST", "/operator/v1/tokens", {"account_id": acct, "scopes": ["read", "write"]})
    assert st in (200, 201), (st, t)
    return zone, z["result"]["id"], t["result"]["token"]


def a_value(i, v):
    return "%d.%d.%d.%d" % (10 + v, i >> 16 & 255, i >> 8 & 255, i & 255)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--dns", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--big", type=int, default=100000)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--idle", type=float, default=10)
    ap.add_argument("--baseline", type=float, default=10)
    ap.add_argument("--probe-ms", type=float, default=5)
    ap.add_argument("--b-timeout", type=float, default=30)
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    host, port = a.dns.rsplit(":", 1)
    dns = (host, int(port))
    api = a.api.rstrip("/")
    op = open(a.token_file).read().strip()
    tag = "%08x" % random.getrandbits(32)
    clock = {}

    def mark(k):  # phase starts, as monotonic and wall-clock (to find them in the server's log)
        clock[k] = (time.monotonic(), datetime.datetime.now(datetime.timezone.utc), os.getloadavg()[0])
        return clock[k][0]

    mark("setup")
    za, ida, ta = tenant(api, op, tag, "a")
    zb, idb, tb = tenant(api, op, tag, "b")
    zc, idc, tc = tenant(api, op, tag, "c")

    # C: a few records, the probes ask www.
    probe_name, probe_value = "www.%s." % zc, "192.0.2.80"
    err = write(api, tc, "PATCH", "/dpf/v1/zones/%s/atomic_changes" % idc, {"records": [
        {"name": "www.%s." % zc, "ttl": 300, "rrtype": "A", "rdata": [{"value": probe_value}]},
        {"name": "mail.%s." % zc, "ttl": 300, "rrtype": "A", "rdata": [{"value": "192.0.2.25"}]},
        {"name": "%s." % zc, "ttl": 300, "rrtype": "MX", "rdata": [{"value": "10 mail.%s." % zc}]},
        {"name": "%s." % zc, "ttl": 300, "rrtype": "TXT", "rdata": [{"value": "\"v=spf1 -all\""}]},
        {"name": "ftp.%s." % zc, "ttl": 300, "rrtype": "CNAME", "rdata": [{"value": "www.%s." % zc}]},
    ]}, 0.05)
    assert err is None, err
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    t0 = time.monotonic()
    while answer_a(udp_ask(s, dns, probe_name, 1, 0.2) or b"") != [probe_value]:
        assert time.monotonic() - t0 < 30, "C's zone not served after 30 s"
        time.sleep(0.01)

    # A: bodies prepared now (json.dumps of N records is not timed, and not
    # done while B and the probes measure). Variant 0 loads the zone.
    def atomic(v):
        recs = [{"name": "h%d.%s." % (i, za), "ttl": 300, "rrtype": "A",
                 "rdata": [{"value": a_value(i, v)}]} for i in range(a.big)]
        return json.dumps({"records": recs}).encode()

    # The largest A RRset a DNS message can carry (about 3,900 values: 16
    # octets each in an answer); a larger one is refused at staging since it
    # could never be served.
    rrset_values = min(a.big, 3800)

    def rrset(v):
        return json.dumps({"name": "@NAME@", "ttl": 300, "rrtype": "A",
                           "rdata": [{"value": a_value(i, v)} for i in range(rrset_values)]}).encode()

    bodies_atomic = [atomic(0), atomic(1)]
    bodies_rrset = [rrset(0), rrset(1)]
    t0 = mark("load")
    err = write(api, ta, "PATCH", "/dpf/v1/zones/%s/atomic_changes" % ida, bodies_atomic[0], 0.1)
    load_s = time.monotonic() - t0
    assert err is None, err

    # Probes start: idle phase.
    stop = multiprocessing.Event()
    rx, txp = multiprocessing.Pipe(duplex=False)
    probe = multiprocessing.Process(target=prober, args=(dns, probe_name, probe_value, a.probe_ms / 1000, stop, txp))
    probe.start()
    t_idle = mark("idle")
    time.sleep(a.idle)

    # B's loop, in a thread; phases are read from its samples' times.
    b_stop = threading.Event()
    b = {"lat": [], "post": [], "patch": [], "errors": []}
    jobs = ThreadPoolExecutor(1)

    def b_loop():
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        k = 0
        while not b_stop.is_set():
            k += 1
            name = "b%d.%s." % (k, zb)
            value = "192.0.2.%d" % (k % 250 + 1)
            t = time.monotonic()
            st, body = call(api, tb, "POST", "/dpf/v1/zones/%s/records" % idb,
                            {"name": name, "rrtype": "A", "rdata": [{"value": value}], "ttl": 60}, timeout=600)
            b["post"].append((t, (time.monotonic() - t) * 1000))
            if st != 202:
                b["errors"].append((t, "POST records: " + short(st, body), b["post"][-1][1]))
                time.sleep(0.1)
                continue
            s_, e_ = wait_job(api, tb, body, 0.01, 600)
            if e_:
                b["errors"].append((t, "POST records: " + e_, (time.monotonic() - t) * 1000))
                continue
            t0 = time.monotonic()
            st, body = call(api, tb, "PATCH", "/dpf/v1/zones/%s/changes" % idb, {}, timeout=600)
            b["patch"].append((t0, (time.monotonic() - t0) * 1000))
            if st != 202:
                b["errors"].append((t0, "PATCH changes: " + short(st, body), b["patch"][-1][1]))
                time.sleep(0.1)
                continue
            job = jobs.submit(wait_job, api, tb, body, 0.01, 600)
            answered, failed, qid = None, None, 0
            while True:
                if answered is None:
                    qid = (qid + 1) & 0xFFFF
                    sent = time.monotonic()
                    r = udp_ask(sock, dns, name, qid, 0.2)
                    if r is not None and value in (answer_a(r) or []):
                        answered = time.monotonic()
                if job.done():
                    s_, e_ = job.result()
                    if e_:
                        failed = e_
                        break
                    if answered is not None:
                        break
                elif answered is not None:
                    job.result()
                    continue
                if time.monotonic() - t0 > a.b_timeout:
                    break
                d = sent + 0.002 - time.monotonic()
                if d > 0:
                    time.sleep(d)
            if failed:
                b["errors"].append((t0, "commit: " + failed, (time.monotonic() - t0) * 1000))
            elif answered is None:
                b["errors"].append((t0, "commit: not answered within %g s" % a.b_timeout, a.b_timeout * 1000))
                b["lat"].append((t0, a.b_timeout * 1000))
            else:
                b["lat"].append((t0, (answered - t0) * 1000))

    bt = threading.Thread(target=b_loop)
    t_base = mark("B alone")
    bt.start()
    time.sleep(a.baseline)

    # A's loop, in its own thread.
    A = {"rounds": [], "errors": []}
    t_load = mark("A+B")
    t_end = t_load + a.duration

    def a_loop():
        r = 0
        while time.monotonic() < t_end:
            r += 1
            v = (r + 1) // 2 % 2  # atomic rounds 1, 3, 5, ... use variants 1, 0, 1, ...
            t = time.monotonic()
            if r % 2:
                kind = "atomic"
                err = write(api, ta, "PATCH", "/dpf/v1/zones/%s/atomic_changes" % ida, bodies_atomic[v], 0.1)
            else:
                kind = "rrset"
                body = bodies_rrset[v].replace(b"@NAME@", ("big%d.%s." % (r, za)).encode(), 1)
                err = write(api, ta, "POST", "/dpf/v1/zones/%s/records" % ida, body, 0.1)
                if err is None:
                    err = write(api, ta, "PATCH", "/dpf/v1/zones/%s/changes" % ida, {}, 0.1)
            A["rounds"].append((kind, t, time.monotonic() - t, err))
            if err:
                A["errors"].append("%s: %s" % (kind, err))
                time.sleep(1)

    at = threading.Thread(target=a_loop)
    at.start()
    time.sleep(max(0, t_end - time.monotonic()))
    mark("end")
    b_stop.set()
    stop.set()
    probes = rx.recv()
    probe.join()
    bt.join()
    t_b_done = time.monotonic()
    at.join()
    t_a_done = mark("A done")
    jobs.shutdown()

    # ---- summary ---------------------------------------------------------------
    P = print
    P("== %s: BIG=%d DURATION=%g s (idle %g s, B alone %g s)" % (a.label, a.big, a.duration, a.idle, a.baseline))
    P("phases (UTC, load average): " + ", ".join(
        "%s %s (%.1f)" % (k, w.strftime("%H:%M:%S.%f")[:-5], l) for k, (_, w, l) in clock.items()))
    P("setup: A's zone loaded with %d records by one atomic_changes in %.2f s" % (a.big, load_s))

    def within(xs, lo, hi):
        return [x for t, x in xs if lo <= t < hi]

    P("B commit -> answered, B alone:   %s" % dist(within(b["lat"], t_base, t_load)))
    P("B commit -> answered, under A:   %s" % dist(within(b["lat"], t_load, t_end)))
    P("B POST /records under A:         %s" % dist(within(b["post"], t_load, t_end)))
    P("B PATCH /changes under A:        %s" % dist(within(b["patch"], t_load, t_end)))
    errs_alone = [(e, ms) for t, e, ms in b["errors"] if t < t_load]
    errs = [(e, ms) for t, e, ms in b["errors"] if t >= t_load]
    P("B errors under A: %d of %d commits tried (B alone: %d)" % (
        len(errs), len([1 for t, _ in b["post"] if t >= t_load]), len(errs_alone)))
    seen = {}
    for e, ms in errs_alone + errs:
        seen.setdefault(e, []).append(ms)
    for e, mss in sorted(seen.items(), key=lambda x: -len(x[1]))[:8]:
        P("  %4d x %s (after %s ms)" % (len(mss), e[:300], " ".join("%.0f" % x for x in mss[:5])))
    ok = [x for x in A["rounds"] if x[3] is None]
    P("A rounds done: %d (%d failed); the last ended %.1f s after DURATION (B stopped %.1f s after)" % (
        len(ok), len(A["rounds"]) - len(ok), t_a_done - t_end, t_b_done - t_end))
    for kind, what in (("atomic", "atomic_changes of %d records" % a.big),
                       ("rrset", "POST + commit of one RRset of %d values" % min(a.big, 3800))):
        ds = [d for k, _, d, e in A["rounds"] if k == kind and e is None]
        if not ds:
            P("  %s: none" % what)
            continue
        P("  %s: %d, min %.2f  median %.2f  max %.2f s%s" % (
            what, len(ds), min(ds), pct(ds, 50), max(ds),
            (": " + " ".join("%.1f" % d for d in ds)) if len(ds) <= 20 else ""))
    seen = {}
    for e in A["errors"]:
        seen[e] = seen.get(e, 0) + 1
    for e, n in sorted(seen.items(), key=lambda x: -x[1])[:8]:
        P("  A error %4d x %s" % (n, e[:300]))
    for proto in ("udp", "tcp"):
        idle = [ms for p, t, ms, ok in probes if p == proto and t_idle <= t < t_base]
        load = [ms for p, t, ms, ok in probes if p == proto and t_load <= t < t_end]
        lost_i = sum(1 for p, t, ms, ok in probes if p == proto and t_idle <= t < t_base and not ok)
        lost_l = sum(1 for p, t, ms, ok in probes if p == proto and t_load <= t < t_end and not ok)
        P("DNS %s idle:   %s, lost %d" % (proto.upper(), fine(idle), lost_i))
        P("DNS %s loaded: %s, lost %d" % (proto.upper(), fine(load), lost_l))
        if idle and load:
            P("DNS %s loaded/idle: p50 %.2fx  p99 %.2fx" % (
                proto.upper(), pct(load, 50) / pct(idle, 50), pct(load, 99) / pct(idle, 99)))


if __name__ == "__main__":
    sys.exit(main())
