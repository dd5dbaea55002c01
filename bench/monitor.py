#!/usr/bin/env python3
"""Helper of bench/monitor.sh (Python 3 standard library only).

  monitor.py config DOMAIN SITES PER_SITE HTTP_PORT TCP_PORT INTERVAL LINKS
      An LB domain's configuration (PUT config body) on stdout: SITES sites of
      PER_SITE endpoints, endpoint n of the whole bench watching 127.a.b.c (a
      distinct loopback address each, so no two share a probe). LINKS 1: even
      n by the monitoring `web` (http GET /health), odd n by `port` (tcp
      connect); LINKS 2: every endpoint by both.

  monitor.py serve HTTP_PORT TCP_PORT OUT
      The local targets: an HTTP server and a TCP server on 0.0.0.0 (so every
      127.x.y.z reaches them), one thread with selectors. Each probe is
      recorded with its time and the address it was sent to (the accepted
      socket's local address); HTTP requests count only with the monitor's
      User-Agent. On SIGTERM the record is written to OUT as JSON.

  monitor.py report OUT T0 T1 INTERVAL
      What the servers saw between the wall-clock times T0 and T1: probes
      per kind, targets seen, per target the gap between consecutive probes
      (its deviation from INTERVAL is what a late or early start shows), and
      probes per second (a burst would show as a peak).
"""

import json
import selectors
import signal
import socket
import sys
import time

UA = b"\r\nuser-agent: platdns-monitor/"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


def target(n):
    """The loopback address endpoint n watches: 127.1.0.1 upwards."""
    return f"127.{1 + n // 62500}.{n // 250 % 250}.{n % 250 + 1}"


def config(domain, sites, per_site, http_port, tcp_port, interval, links):
    props = {"interval": interval, "timeout": 5, "holdtime": 0}
    monitorings = [
        {"resource_name": "web", "name": "web", "mtype": "http", "description": "",
         "props": dict(props, port=http_port, path="/health", status_codes=["200"])},
        {"resource_name": "port", "name": "port", "mtype": "tcp", "description": "",
         "props": dict(props, port=tcp_port)},
    ]
    out_sites = []
    for s in range(sites):
        endpoints = []
        for e in range(per_site):
            n = (domain * sites + s) * per_site + e
            watched = ["web", "port"] if links == 2 else ["web" if n % 2 == 0 else "port"]
            endpoints.append({
                "resource_name": f"s{s}e{e}", "name": f"s{s}e{e}", "monitoring_target": target(n),
                "weight": 1, "enabled": True, "rdata": [{"value": f"10.{domain}.{s}.{e + 1}"}],
                "monitorings": [{"resource_name": m, "enabled": True} for m in watched],
            })
        out_sites.append({"resource_name": f"s{s}", "name": f"s{s}", "rrtype": "A", "endpoints": endpoints})
    rule = {"resource_name": "main", "name": "main", "methods": [
        {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": True, "methods": [
            {"method": {"resource_name": "x", "mtype": "exit_site", "enabled": True, "site_resource_name": "s0"}}]}}]}
    json.dump({"monitorings": monitorings, "sites": out_sites, "rules": [rule]}, sys.stdout)


def serve(http_port, tcp_port, out):
    sel = selectors.DefaultSelector()
    for port, kind in ((http_port, "http"), (tcp_port, "tcp")):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, (kind,))
    seen = {"http": {}, "tcp": {}}
    other = 0
    stop = False

    def on_term(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    print("ready", flush=True)
    while not stop:
        for key, _ in sel.select(timeout=1):
            if len(key.data) == 1:  # a listener: take every pending connection
                kind = key.data[0]
                while True:
                    try:
                        c, _ = key.fileobj.accept()
                    except BlockingIOError:
                        break
                    now = time.time()
                    addr = c.getsockname()[0]
                    if kind == "tcp":
                        seen["tcp"].setdefault(addr, []).append(now)
                        c.close()
                    else:
                        c.setblocking(False)
                        sel.register(c, selectors.EVENT_READ, (addr, now, bytearray()))
                continue
            c = key.fileobj
            addr, at, buf = key.data
            try:
                data = c.recv(4096)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            buf += data
            end = b"\r\n\r\n" in buf
            if data and not end:
                continue
            sel.unregister(c)
            if end:
                if UA in bytes(buf).lower():
                    seen["http"].setdefault(addr, []).append(at)
                else:
                    other += 1
                try:
                    c.send(RESPONSE)
                except OSError:
                    pass
            c.close()
    with open(out, "w") as f:
        json.dump({"seen": seen, "other_http": other}, f)


def quantile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def report(out, t0, t1, interval):
    with open(out) as f:
        data = json.load(f)
    total = 0
    per_second = {}
    for kind in ("http", "tcp"):
        probes = 0
        gaps = []
        counts = []
        for times in data["seen"][kind].values():
            times = sorted(t for t in times if t0 <= t < t1)
            probes += len(times)
            counts.append(len(times))
            gaps += [b - a for a, b in zip(times, times[1:])]
            for t in times:
                per_second[int(t - t0)] = per_second.get(int(t - t0), 0) + 1
        total += probes
        gaps.sort()
        dev = sorted(abs(g - interval) for g in gaps)
        print(f"{kind}: {probes} probes to {sum(1 for c in counts if c)} targets "
              f"(per target {min(counts, default=0)}..{max(counts, default=0)}); "
              f"gap between a target's probes min {quantile(gaps, 0):.3f} s, max {quantile(gaps, 1):.3f} s; "
              f"|gap - {interval:g} s| p50 {quantile(dev, 0.5) * 1000:.1f} ms, p99 {quantile(dev, 0.99) * 1000:.1f} ms, "
              f"max {quantile(dev, 1) * 1000:.1f} ms")
    seconds = [per_second.get(s, 0) for s in range(int(t1 - t0))]
    print(f"all: {total} probes in {t1 - t0:.0f} s ({total / (t1 - t0):.1f}/s); per second min {min(seconds)}, "
          f"max {max(seconds)}; HTTP requests without the monitor's User-Agent: {data['other_http']}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "config":
        config(*map(int, args))
    elif cmd == "serve":
        serve(int(args[0]), int(args[1]), args[2])
    elif cmd == "report":
        report(args[0], float(args[1]), float(args[2]), float(args[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
