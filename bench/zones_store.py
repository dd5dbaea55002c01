#!/usr/bin/env python3
"""Many zones in the store (issue 16): start-up until every zone answers, and
one commit -> answered, with ZONES zones of ~10 records created through the
APIs, against knotd loading the same zones from files.

    bench/zones_store.sh                  # checks tools, data dirs, runs this
    python3 bench/zones_store.py --bin PLATDNS --work DIR --zones N [options]

Steps (each server's stdout/stderr stays in --work):
  1. `platdns serve` on a fresh data dir (or --database URL): THREADS tenants
     (an account, a premium contract, a read/write token each) made through
     the operator API; then zones z<i>.test (i = 0 .. N-1, taken in order from
     one counter by THREADS client threads, each on its own tenant and one
     keep-alive HTTP connection): `POST /operator/v1/zones` with "approve"
     (served from its first commit), then the zone's records by one
     `PATCH /dpf/v1/zones/{id}/atomic_changes?wait=true`. The records are
     gen.sh's `zones` set (MX, A, TXT at the apex, www A/AAAA, mail A, ftp
     CNAME, TTL 3600) beside the platform's SOA and two NS: 10 records.
     With --create-budget S, no zone is started after S seconds: the zones
     made are then 0 .. K-1 and K is used everywhere after.
  2. SIGTERM (the time to exit is printed); `bench/gen.sh zones K` writes the
     same zones as files for knotd.
  3. --starts rounds, alternating: platdns started again on the same data
     dir, then knotd (as bench/run.sh configures it, without its one-worker
     settings: both servers on their defaults, the whole machine; knotd logs
     warnings and errors to stderr), each timed from just before the process
     is started until every sampled zone answers `www.z<i>.test A` authoritatively with its value: z0, the last,
     three between, and the zone whose creation answered last (the store
     loads zones in creation order). Queries for every pending sample every
     10 ms; the first reply of any kind, and its rcode, is noted (a port
     that answers REFUSED while zones load). Then --sample random zones are
     each asked (1 s timeout, 3 tries): all must answer; then, 2 s later,
     VmRSS, VmHWM and PSS from /proc. The server is stopped (SIGTERM).
  4. In the last platdns round, before it stops: --commits one-record
     commits to random zones: POST a record (its job waited for), then from
     sending `PATCH /changes` (no wait) until a UDP query, every 2 ms, is
     answered with the new record (p50/p99/max); each PATCH's job must end
     SUCCESSFUL. The same on a fresh server holding one zone (--database-one
     for postgres).
--reuse skips step 1's creation: the data dir and created.json (zone ids,
tokens, creation figures) a run left in --work are measured again.
Standard library only. Prints a summary (also written to --summary).
"""
import argparse, atexit, http.client, json, os, random, re, signal, socket, struct, subprocess, sys, threading, time
import urllib.parse
from benchlib import dist, pct, query, short, stop, udp_ask
from benchlib import answer as parse

# ---- HTTP ------------------------------------------------------------------


class Api:
    """One keep-alive connection (one per thread); reconnects once on error."""

    def __init__(self, base, token):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.token = u.hostname, u.port, token
        self.conn = None

    def call(self, method, path, body=None, timeout=600):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        headers = {"Authorization": "Bearer " + self.token, "Content-Type": "application/json"}
        if path.startswith("http"):
            path = urllib.parse.urlsplit(path)._replace(scheme="", netloc="").geturl()
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                raw = r.read()
                try:
                    return r.status, json.loads(raw or b"null")
                except ValueError:
                    return r.status, raw[:200].decode(errors="replace")
            except (OSError, http.client.HTTPException) as e:
                self.conn = None
                if attempt == 1:
                    return None, "%s: %s" % (type(e).__name__, e)
        return None, "unreachable"

    def wait_job(self, accepted, every=0.01, timeout=600):
        """Polls jobs_url until the job is no longer RUNNING: None, or the error."""
        try:
            url = accepted["jobs_url"]
        except (TypeError, KeyError):
            return "202 without jobs_url: %r" % (accepted,)
        t0 = time.monotonic()
        while True:
            st, j = self.call("GET", url)
            if st != 200:
                return "GET job: %s %s" % (st, j)
            j = j.get("result", j) if isinstance(j, dict) else {}
            s = j.get("status")
            if s == "SUCCESSFUL":
                return None
            if s != "RUNNING":
                return "job %s: %s %s" % (s, j.get("error_type"), j.get("error_message"))
            if time.monotonic() - t0 > timeout:
                return "job still RUNNING after %d s" % timeout
            time.sleep(every)


# ---- DNS by hand ---------------------------------------------------------------

RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def www(i):
    return "www.z%d.test." % i


def www_a(i):
    return "10.%d.%d.2" % (i >> 8 & 255, i & 255)


def zone_records(i):
    """gen.sh's `zones` set for z<i>.test, less the SOA and apex NS (the platform's)."""
    z = "z%d.test." % i
    a, b = i >> 8 & 255, i & 255
    rec = lambda name, t, v: {"name": name, "ttl": 3600, "rrtype": t, "rdata": [{"value": v}]}
    return [
        rec(z, "MX", "10 mail." + z),
        rec(z, "A", "10.%d.%d.1" % (a, b)),
        rec("www." + z, "A", "10.%d.%d.2" % (a, b)),
        rec("www." + z, "AAAA", "2001:db8:%x:%x::2" % (i >> 16, i & 0xFFFF)),
        rec("mail." + z, "A", "10.%d.%d.3" % (a, b)),
        rec(z, "TXT", '"v=spf1 mx -all"'),
        rec("ftp." + z, "CNAME", "www." + z),
    ]


# ---- figures ----------------------------------------------------------------------


def median(xs):
    return pct(xs, 50)


def mem(pid):
    """(VmRSS, VmHWM, Pss) in MiB."""
    def field(path, key):
        try:
            for line in open(path):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")
    return (field("/proc/%d/status" % pid, "VmRSS"), field("/proc/%d/status" % pid, "VmHWM"),
            field("/proc/%d/smaps_rollup" % pid, "Pss"))


def cpu_s(pid):
    try:
        f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError):
        return float("nan")


# ---- servers --------------------------------------------------------------------------

STARTED = []  # every server process started, killed at exit if still running
LOGS = []  # the platdns logs of this run


@atexit.register
def _kill_left():
    for p in STARTED:
        if p.poll() is None:
            p.kill()
            p.wait()


class Platdns:
    def __init__(self, a, data_dir, database, tag):
        self.a, self.data_dir, self.database, self.tag = a, data_dir, database, tag
        self.proc = None
        self.starts = 0

    def start(self):
        self.starts += 1
        while os.path.exists(os.path.join(self.a.work, "platdns-%s-%d.log" % (self.tag, self.starts))):
            self.starts += 1  # --reuse: the earlier run's logs stay
        base = os.path.join(self.a.work, "platdns-%s-%d" % (self.tag, self.starts))
        self.out, self.log = base + ".out", base + ".log"
        LOGS.append(self.log)
        cmd = [self.a.bin, "serve", "--data-dir", self.data_dir,
               "--dns-listen", "127.0.0.1:%d" % self.a.dns_port, "--api-listen", "127.0.0.1:%d" % self.a.api_port,
               "--restrict-basic", "off", "--restrict-premium", "off"]
        if self.database:
            cmd += ["--database", self.database]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=open(self.out, "w"), stderr=open(self.log, "w"),
                                     stdin=subprocess.DEVNULL)
        STARTED.append(self.proc)
        return t0

    def ready(self):
        try:
            return "serving DNS" in open(self.out).read()
        except OSError:
            return False

    def wait_ready(self, timeout=1800):
        t0 = time.monotonic()
        while not self.ready():
            if self.proc.poll() is not None:
                raise SystemExit("platdns exited %s; see %s" % (self.proc.returncode, self.log))
            if time.monotonic() - t0 > timeout:
                raise SystemExit("platdns not ready after %d s; see %s" % (timeout, self.log))
            time.sleep(0.05)

    def stop(self):
        return stop(self.proc)


class Knotd:
    def __init__(self, a, zones):
        self.a, self.zones = a, zones
        self.dir = os.path.join(a.work, "knot")
        os.makedirs(os.path.join(self.dir, "db"), exist_ok=True)
        # bench/run.sh's template, without its one-worker settings.
        with open(os.path.join(self.dir, "knot.conf"), "w") as f:
            f.write("server:\n    listen: 127.0.0.1@%d\n    rundir: %s\n" % (a.knot_port, self.dir))
            f.write("log:\n  - target: stderr\n    any: warning\n")
            f.write("database:\n    storage: %s/db\n" % self.dir)
            f.write("template:\n  - id: default\n    zonefile-sync: -1\n    zonefile-load: whole\n"
                    "    journal-content: none\n    semantic-checks: off\n    file: %s/%%s.zone\n" % a.zone_dir)
            f.write("zone:\n")
            for i in range(zones):
                f.write("  - domain: z%d.test.\n" % i)
        self.starts, self.logs = 0, []

    def start(self):
        self.starts += 1
        while os.path.exists(os.path.join(self.dir, "log-%d" % self.starts)):
            self.starts += 1
        self.log = os.path.join(self.dir, "log-%d" % self.starts)
        self.logs.append(self.log)
        t0 = time.monotonic()
        self.proc = subprocess.Popen([self.a.knotd, "-c", os.path.join(self.dir, "knot.conf")],
                                     stdout=open(self.log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        STARTED.append(self.proc)
        return t0

    def stop(self):
        return stop(self.proc)


# ---- steps ----------------------------------------------------------------------------


def make_tenant(op, who):
    st, acct = op.call("POST", "/operator/v1/accounts", {"name": "zs-%s" % who})
    assert st in (200, 201), (st, acct)
    acct = acct["result"]["id"]
    st, c = op.call("POST", "/operator/v1/contracts", {"account_id": acct, "plan": "premium"})
    assert st in (200, 201), (st, c)
    st, t = op.call("POST", "/operator/v1/tokens", {"account_id": acct, "scopes": ["read", "write"]})
    assert st in (200, 201), (st, t)
    return c["result"]["id"], t["result"]["token"]


def create_zones(api, op_token, n, threads, budget, tag, progress_every=15):
    """Creates z0 .. z<k-1>; returns (k, seconds, {i: (zone id, token)}, last created, errors)."""
    op = Api(api, op_token)
    tenants = [make_tenant(op, "%s-%d" % (tag, t)) for t in range(threads)]
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "stop": False, "last": None, "errors": []}
    zones = {}
    lat = {"zone": [], "atomic": []}
    t_start = time.monotonic()

    def worker(t):
        contract, token = tenants[t]
        opc, ten = Api(api, op_token), Api(api, token)
        while True:
            with lock:
                if state["stop"] or state["next"] >= n or (budget and time.monotonic() - t_start > budget):
                    state["stop"] = True
                    return
                i = state["next"]
                state["next"] += 1
            t0 = time.monotonic()
            st, z = opc.call("POST", "/operator/v1/zones",
                             {"contract_id": contract, "name": "z%d.test" % i, "approve": "benchmark"})
            t1 = time.monotonic()
            if st not in (200, 201):
                with lock:
                    state["errors"].append("POST zone z%d: %s" % (i, short(st, z)))
                    state["stop"] = True
                return
            zid = z["result"]["id"]
            st, b = ten.call("PATCH", "/dpf/v1/zones/%s/atomic_changes?wait=true" % zid, {"records": zone_records(i)})
            t2 = time.monotonic()
            if st != 202:
                with lock:
                    state["errors"].append("atomic_changes z%d: %s" % (i, short(st, b)))
                    state["stop"] = True
                return
            with lock:
                zones[i] = (zid, token)
                state["done"] += 1
                state["last"] = i
                lat["zone"].append((t1 - t0) * 1000)
                lat["atomic"].append((t2 - t1) * 1000)

    ws = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for w in ws:
        w.start()
    last_print, last_done = t_start, 0
    while any(w.is_alive() for w in ws):
        time.sleep(0.5)
        now = time.monotonic()
        if now - last_print >= progress_every:
            done = state["done"]
            rate = (done - last_done) / (now - last_print)
            eta = (n - done) / rate if rate > 0 else float("inf")
            print("  created %d/%d zones in %.0f s: %.0f zones/s over the last %.0f s (overall %.0f/s), ~%.0f s left"
                  % (done, n, now - t_start, rate, now - last_print, done / (now - t_start), eta), flush=True)
            last_print, last_done = now, done
    for w in ws:
        w.join()
    secs = time.monotonic() - t_start
    k = state["next"]
    # Zones taken from the counter are 0 .. k-1; all of them made unless an error stopped us.
    missing = [i for i in range(k) if i not in zones]
    return k, secs, zones, state["last"], state["errors"], missing, lat


def wait_samples(proc, t0, dns, samples, ready=None, timeout=1800):
    """Queries every pending sample every 10 ms until each answers AA with its value.
    Returns {i: ms}, the first reply (ms, rcode), rcodes seen before the answers, ready ms."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pending, answered = set(samples), {}
    first, seen, ready_ms = None, {}, None
    qid = random.getrandbits(16)
    qids = {}
    while pending or (ready is not None and ready_ms is None):
        now = time.monotonic()
        if now - t0 > timeout:
            raise SystemExit("not every sample answered after %d s: %s" % (timeout, sorted(pending)))
        if proc.poll() is not None:
            raise SystemExit("the server exited (%s) while starting" % proc.returncode)
        if ready is not None and ready_ms is None and ready():
            ready_ms = (now - t0) * 1000
        for i in pending:
            qid = (qid + 1) & 0xFFFF
            qids[qid] = i
            try:
                sock.sendto(query(www(i), qid), dns)
            except OSError:
                pass
        end = time.monotonic() + 0.01
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data, _ = sock.recvfrom(65535)
            except (socket.timeout, ConnectionRefusedError):
                break
            if len(data) < 12:
                continue
            t = (time.monotonic() - t0) * 1000
            i = qids.get(struct.unpack(">H", data[:2])[0])
            rcode, aa, vals = parse(data)
            if first is None:
                first = (t, RCODES.get(rcode, str(rcode)), aa)
            if i in pending:
                if rcode == 0 and aa and www_a(i) in vals:
                    answered[i] = t
                    pending.discard(i)
                else:
                    k = "%s%s" % (RCODES.get(rcode, str(rcode)), "" if aa else " (no AA)")
                    seen[k] = seen.get(k, 0) + 1
    return answered, first, seen, ready_ms


def check_random(dns, zones, count, rng):
    """Each of `count` random zones answered? Returns (ok, failed list, retried, seconds)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    pick = rng.sample(range(zones), min(count, zones))
    t0 = time.monotonic()
    failed, retried = [], 0
    for n, i in enumerate(pick):
        for attempt in range(3):
            r = udp_ask(sock, dns, www(i), n & 0xFFFF, 1.0)
            if r is not None:
                rcode, aa, vals = parse(r)
                if rcode == 0 and aa and www_a(i) in vals:
                    break
            retried += 1
        else:
            failed.append(i)
    return len(pick) - len(failed), failed, retried, time.monotonic() - t0


def commits(api, dns, targets, label):
    """One-record commits: [(zone index, zone id, token)] -> latencies (ms), PATCH times, errors."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    lat, patch, errors = [], [], []
    clients = {}
    for k, (i, zid, token) in enumerate(targets):
        c = clients.setdefault(token, Api(api, token))
        name = "c%d-%s.z%d.test." % (k, label, i)
        value = "192.0.2.%d" % (k % 250 + 1)
        st, b = c.call("POST", "/dpf/v1/zones/%s/records" % zid,
                       {"name": name, "rrtype": "A", "rdata": [{"value": value}], "ttl": 60})
        if st != 202:
            errors.append("POST records: " + short(st, b))
            continue
        e = c.wait_job(b)
        if e:
            errors.append("POST records: " + e)
            continue
        t0 = time.monotonic()
        st, b = c.call("PATCH", "/dpf/v1/zones/%s/changes" % zid, {})
        patch.append((time.monotonic() - t0) * 1000)
        if st != 202:
            errors.append("PATCH changes: " + short(st, b))
            continue
        qid, got = 0, None
        while time.monotonic() - t0 < 30:
            qid = (qid + 1) & 0xFFFF
            sent = time.monotonic()
            r = udp_ask(sock, dns, name, qid, 0.2)
            if r is not None:
                rcode, aa, vals = parse(r)
                if rcode == 0 and value in vals:
                    got = time.monotonic()
                    break
            d = sent + 0.002 - time.monotonic()
            if d > 0:
                time.sleep(d)
        if got is None:
            errors.append("not answered within 30 s")
            lat.append(30000.0)
        else:
            lat.append((got - t0) * 1000)
        e = c.wait_job(b)
        if e:
            errors.append("PATCH changes: " + e)
    return lat, patch, errors


def log_summary(paths):
    """Counts of ERROR and WARN lines and the most frequent messages (ids masked)."""
    errs, warns, slow, msgs = 0, 0, 0, {}
    for p in paths:
        try:
            lines = open(p, errors="replace").read().splitlines()
        except OSError:
            continue
        for line in lines:
            lvl = " ERROR " in line and "ERROR" or (" WARN " in line and "WARN")
            if "slow statement" in line or "slow_threshold" in line:
                slow += 1
            if not lvl:
                continue
            errs += lvl == "ERROR"
            warns += lvl == "WARN"
            m = re.sub(r"^\S+\s+", "", line)
            m = re.sub(r"[0-9a-f]{32}|\b[a-z]{1,3}\d{6,}\w*|\b\d+(\.\d+)?(ms|s|µs)?\b", "#", m)
            msgs[m[:200]] = msgs.get(m[:200], 0) + 1
    top = sorted(msgs.items(), key=lambda x: -x[1])[:8]
    return errs, warns, slow, top


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--gen", required=True, help="bench/gen.sh")
    ap.add_argument("--zones", type=int, default=100000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--create-budget", type=float, default=0, help="seconds; 0: no limit")
    ap.add_argument("--commits", type=int, default=200)
    ap.add_argument("--sample", type=int, default=1000)
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--database", default="", help="store URL (default: SQLite in the data dir)")
    ap.add_argument("--database-one", default="", help="store URL of the one-zone server")
    ap.add_argument("--dns-port", type=int, default=25371)
    ap.add_argument("--api-port", type=int, default=25372)
    ap.add_argument("--knot-port", type=int, default=25373)
    ap.add_argument("--knotd", default="knotd")
    ap.add_argument("--no-knot", action="store_true")
    ap.add_argument("--summary", default="")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--reuse", action="store_true",
                    help="skip the creation: the data dir and created.json of an earlier run in --work")
    a = ap.parse_args()
    a.zone_dir = os.path.join(a.work, "zones")
    rng = random.Random(a.seed)
    run = "%06x" % random.SystemRandom().getrandbits(24)  # new record names per run (--reuse)
    dns = ("127.0.0.1", a.dns_port)
    api = "http://127.0.0.1:%d" % a.api_port
    out = []

    def P(s=""):
        print(s, flush=True)
        out.append(s)

    def note(s):
        print(s, flush=True)

    # ---- 1. creation -------------------------------------------------------------------
    srv = Platdns(a, os.path.join(a.work, "data"), a.database, "many")
    saved = os.path.join(a.work, "created.json")
    if a.reuse:
        c = json.load(open(saved))
        k, secs, last, clat, cpu_create, m_created, store_bytes, t_stop = (
            c["k"], c["secs"], c["last"], c["clat"], c["cpu"], c["mem"], c["store_bytes"], c["stop_s"])
        zones = {i: tuple(z) for i, z in enumerate(c["zones"])}
        note("reusing the %d zones made by an earlier run (%s)" % (k, saved))
    else:
        srv.start()
        srv.wait_ready()
        op_token = open(os.path.join(srv.data_dir, "operator.token")).read().strip()
        note("creating %d zones with %d threads (%s)..." % (a.zones, a.threads, time.strftime("%H:%M:%S")))
        c0 = cpu_s(srv.proc.pid)
        k, secs, zones, last, errors, missing, clat = create_zones(api, op_token, a.zones, a.threads,
                                                                   a.create_budget, "many")
        cpu_create = cpu_s(srv.proc.pid) - c0
        if errors or missing:
            srv.stop()
            raise SystemExit("creation failed: %s; missing %s" % (errors[:5], missing[:10]))
        m_created = mem(srv.proc.pid)
        store_bytes = sum(os.path.getsize(os.path.join(srv.data_dir, f)) for f in os.listdir(srv.data_dir)
                          if f.startswith("platdns.db"))
        t_stop = srv.stop()
        with open(saved, "w") as f:
            json.dump({"k": k, "secs": secs, "last": last, "clat": clat, "cpu": cpu_create, "mem": m_created,
                       "store_bytes": store_bytes, "stop_s": t_stop, "zones": [zones[i] for i in range(k)]}, f)

    # ---- 2. files for knotd ---------------------------------------------------------
    if not a.no_knot:
        subprocess.run(["rm", "-rf", a.zone_dir], check=True)
        subprocess.run([a.gen, "zones", str(k), a.zone_dir], check=True)
        knot = Knotd(a, k)

    samples = sorted({0, k // 3, k // 2, k * 2 // 3, k - 1, last})
    starts = {"platdns": [], "knotd": []}
    one = None

    def measure(name, server, t0, ready=None):
        answered, first, seen, ready_ms = wait_samples(server.proc, t0, ("127.0.0.1", a.knot_port if name == "knotd" else a.dns_port),
                                                       samples, ready)
        all_ms = max(answered.values())
        port = a.knot_port if name == "knotd" else a.dns_port
        ok, failed, retried, chk = check_random(("127.0.0.1", port), k, a.sample, rng)
        time.sleep(2)
        rss, hwm, pss = mem(server.proc.pid)
        r = {"all_ms": all_ms, "answered": answered, "first": first, "seen": seen, "ready_ms": ready_ms,
             "ok": ok, "failed": failed, "retried": retried, "check_s": chk, "rss": rss, "hwm": hwm, "pss": pss,
             "cpu": cpu_s(server.proc.pid)}
        starts[name].append(r)
        note("  %s start %d: every sample answers at %.0f ms (first reply at %.0f ms: %s), %d/%d random zones"
             " answer, RSS %.0f MiB" % (name, len(starts[name]), all_ms, first[0], first[1], ok, min(a.sample, k), rss))
        return r

    # ---- 3./4. start-up rounds, commits in the last platdns round ----------------------
    for rnd in range(a.starts):
        t0 = srv.start()
        measure("platdns", srv, t0, srv.ready)
        if rnd == a.starts - 1:
            srv.wait_ready()
            pick = rng.sample(range(k), min(a.commits, k))
            many = commits(api, dns, [(i,) + zones[i] for i in pick], "m" + run)
            note("  commits on %d zones: %s" % (k, dist(many[0])))
        starts["platdns"][-1]["stop_s"] = srv.stop()
        if not a.no_knot:
            t0 = knot.start()
            measure("knotd", knot, t0)
            starts["knotd"][-1]["stop_s"] = knot.stop()

    # ---- 4b. one zone -------------------------------------------------------------------
    srv1 = Platdns(a, os.path.join(a.work, "data-one"), a.database_one, "one")
    srv1.start()
    srv1.wait_ready()
    op1 = open(os.path.join(srv1.data_dir, "operator.token")).read().strip()
    k1, _, zones1, _, e1, m1, _ = create_zones(api, op1, 1, 1, 0, "one")
    if e1 or m1:
        raise SystemExit("one-zone creation failed: %s" % e1)
    single = commits(api, dns, [(0,) + zones1[0]] * a.commits, "o" + run)
    m_one = mem(srv1.proc.pid)
    srv1.stop()

    # ---- summary -------------------------------------------------------------------------
    if a.reuse:
        P("(the zones were made by an earlier run in this work dir; its creation figures:)")
    P("zones created through the APIs: %d (of %d asked) in %.1f s = %.0f zones/s, %d client threads, %d tenants"
      % (k, a.zones, secs, k / secs, a.threads, a.threads))
    P("  per zone: POST /operator/v1/zones %s; PATCH atomic_changes?wait=true (7 records) %s"
      % (dist(clat["zone"]), dist(clat["atomic"])))
    P("  server CPU during creation: %.0f s (%.1f ms per zone); RSS after %.0f MiB (peak %.0f MiB), PSS %.0f MiB;"
      " store %s; SIGTERM -> exit %.2f s" % (cpu_create, cpu_create * 1000 / max(k, 1), m_created[0], m_created[1],
                                         m_created[2], "in PostgreSQL" if a.database else
                                         "files %.0f MiB" % (store_bytes / 2**20), t_stop))
    P("start-up until every sampled zone answers (www.z<i>.test A, AA and its value; samples %s):" % samples)
    for name in ("platdns", "knotd"):
        rs = starts[name]
        if not rs:
            continue
        P("  %-8s median %.0f ms  (rounds: %s)" % (name, median([r["all_ms"] for r in rs]),
                                                  ", ".join("%.0f" % r["all_ms"] for r in rs)))
        for n, r in enumerate(rs, 1):
            seen = ", ".join("%s %d" % kv for kv in sorted(r["seen"].items())) or "none"
            P("    round %d: first reply at %.0f ms (%s%s); sample answers at %s ms; replies before: %s"
              % (n, r["first"][0], r["first"][1], "" if r["first"][2] else ", no AA",
                 " ".join("z%d:%.0f" % (i, t) for i, t in sorted(r["answered"].items())), seen))
            P("      %s%d/%d random zones answered (%d retries, %.1f s)%s; RSS %.0f MiB, peak %.0f MiB, PSS %.0f MiB;"
              " CPU %.1f s; SIGTERM -> exit %.2f s"
              % ("'serving DNS' printed at %.0f ms; " % r["ready_ms"] if r["ready_ms"] else "",
                 r["ok"], min(a.sample, k), r["retried"], r["check_s"],
                 (" FAILED: %s" % r["failed"][:10]) if r["failed"] else "", r["rss"], r["hwm"], r["pss"],
                 r["cpu"], r.get("stop_s", float("nan"))))
    if starts["knotd"]:
        p, kn = median([r["all_ms"] for r in starts["platdns"]]), median([r["all_ms"] for r in starts["knotd"]])
        P("  platdns/knotd start-up: %.2f; RSS %.0f / %.0f MiB, PSS %.0f / %.0f MiB (medians)"
          % (p / kn, median([r["rss"] for r in starts["platdns"]]), median([r["rss"] for r in starts["knotd"]]),
             median([r["pss"] for r in starts["platdns"]]), median([r["pss"] for r in starts["knotd"]])))
    P("one-record commit -> answered (PATCH /changes until UDP answers, polled every 2 ms):")
    P("  %d zones, %d random zones: %s; errors %d" % (k, len(many[0]), dist(many[0]), len(many[2])))
    P("  1 zone, %d commits:        %s; errors %d (server RSS %.0f MiB)" % (len(single[0]), dist(single[0]),
                                                                            len(single[2]), m_one[0]))
    P("  PATCH /changes answered in: %d zones %s; 1 zone %s" % (k, dist(many[1]), dist(single[1])))
    P("  p99 ratio, %d zones / 1 zone: %.2f" % (k, pct(many[0], 99) / pct(single[0], 99)))
    for e in (many[2] + single[2])[:8]:
        P("  error: %s" % e[:300])
    errs, warns, slow, top = log_summary(LOGS)
    P("platdns logs (%s): ERROR %d, WARN %d, slow statements %d" % (os.path.join(a.work, "platdns-*.log"),
                                                                   errs, warns, slow))
    for m, n in top:
        P("  %5d x %s" % (n, m))
    if not a.no_knot:
        kmsgs = {}
        for log in knot.logs:
            for line in open(log, errors="replace"):
                m = re.sub(r"^\S+\s+", "", line.strip())
                kmsgs[m] = kmsgs.get(m, 0) + 1
        P("knotd logs (%s/log-*, level warning): %d lines" % (knot.dir, sum(kmsgs.values())))
        for m, n in sorted(kmsgs.items(), key=lambda x: -x[1])[:5]:
            P("  %5d x %s" % (n, m[:200]))
    if a.summary:
        with open(a.summary, "w") as f:
            f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
