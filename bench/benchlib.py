"""Shared by the benches' drivers (Python standard library only): DPF
error summaries, DNS queries built and read by hand, percentiles, and
stopping a server."""

import json, signal, socket, struct, subprocess, time
import urllib.error, urllib.parse, urllib.request


def call(api, token, method, path, body=None, timeout=600, catch=False):
    """One API request: (status, JSON body). `path` may be absolute (a
    jobs_url); `body` may be bytes (sent as is). A connection error or
    timeout raises, or with `catch` is (None, "exception text")."""
    if body is None:
        data = None
    elif isinstance(body, bytes):
        data = body
    else:
        data = json.dumps(body).encode()
    url = urllib.parse.urljoin(api + "/", path)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"null")
        except ValueError:
            return e.code, raw[:200].decode(errors="replace")
    except Exception as e:  # connection refused/reset, timeout
        if not catch:
            raise
        return None, "%s: %s" % (type(e).__name__, e)


def short(st, b):
    if isinstance(b, dict) and "error_type" in b:
        return "%s %s: %s %s" % (st, b["error_type"], b.get("error_message"), b.get("error_details"))
    return "%s %s" % (st, str(b)[:200])


def query(name, qid):
    """An A query for `name`, RD clear."""
    p = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
    for label in name.strip(".").split("."):
        p += bytes([len(label)]) + label.encode()
    return p + b"\0" + struct.pack(">HH", 1, 1)


def skip_name(m, i):
    while True:
        n = m[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += 1 + n


def udp_ask(sock, dns, name, qid, timeout):
    """The response to one UDP query (matching id), or None after timeout."""
    sock.settimeout(timeout)
    sock.sendto(query(name, qid), dns)
    end = time.monotonic() + timeout
    try:
        while True:
            data, _ = sock.recvfrom(65535)
            if len(data) >= 12 and data[:2] == struct.pack(">H", qid):
                return data
            left = end - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
    except (socket.timeout, ConnectionRefusedError):
        return None


def answer(m):
    """(rcode, aa, [A values]) of a response."""
    rcode, aa = m[3] & 0x0F, bool(m[2] & 0x04)
    qd, an = struct.unpack(">HH", m[4:8])
    i, out = 12, []
    try:
        for _ in range(qd):
            i = skip_name(m, i) + 4
        for _ in range(an):
            i = skip_name(m, i)
            t, _, _, ln = struct.unpack(">HHIH", m[i:i + 10])
            i += 10
            if t == 1 and ln == 4:
                out.append(socket.inet_ntoa(m[i:i + 4]))
            i += ln
    except (IndexError, struct.error):
        pass
    return rcode, aa, out


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def dist(xs):
    if not xs:
        return "n 0"
    return "n %d  p50 %.1f  p99 %.1f  max %.1f ms" % (len(xs), pct(xs, 50), pct(xs, 99), max(xs))


def stop(proc):
    """SIGTERM, then SIGKILL after 120 s; the seconds it took."""
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - t0
