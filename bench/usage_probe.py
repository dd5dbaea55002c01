#!/usr/bin/env python3
"""B's side of bench/usage.sh: one UDP socket, queries at a steady rate, each
round trip timed; prints one JSON line with the figures.

    usage_probe.py HOST PORT NAME [--rate 100] [--secs 30] [--timeout 1]
                   [--rtts FILE]

Query i is sent at start + i / rate (or at once when behind, after a slow
answer or a loss), then its answer is waited for up to --timeout seconds:
one query in flight at a time, so every round trip is measured alone. A reply
whose id is not the one in flight (a late answer to a query already counted
as lost) is read and ignored. Answers must be NOERROR with one answer RR: any
other reply is counted apart (bad). Python standard library only; its own
overhead is the same in every case, so figures compare between cases.
"""
import argparse
import json
import random
import socket
import struct
import time


def query(qid, name):
    header = struct.pack(">HHHHHH", qid, 0x0000, 1, 0, 0, 0)  # RD off
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.strip(".").split("."))
    return header + labels + b"\x00" + struct.pack(">HH", 1, 1)  # A IN


def percentile(sorted_ns, p):
    if not sorted_ns:
        return None
    # nearest rank
    k = max(0, min(len(sorted_ns) - 1, int(-(-p * len(sorted_ns) // 100)) - 1))
    return sorted_ns[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("name")
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--secs", type=float, default=30.0)
    ap.add_argument("--timeout", type=float, default=1.0)
    ap.add_argument("--rtts", help="write every round trip (µs, -1 for lost) here")
    a = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((a.host, a.port))
    n = int(a.rate * a.secs)
    rtts, lost, bad = [], 0, 0
    log = []
    qid = random.randrange(0x10000)
    start = time.perf_counter_ns()
    step = int(1e9 / a.rate)
    timeout_ns = int(a.timeout * 1e9)
    for i in range(n):
        due = start + i * step
        now = time.perf_counter_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        qid = (qid + 1) & 0xFFFF
        packet = query(qid, a.name)
        t0 = time.perf_counter_ns()
        sock.send(packet)
        deadline = t0 + timeout_ns
        got = None
        while True:
            left = deadline - time.perf_counter_ns()
            if left <= 0:
                break
            sock.settimeout(left / 1e9)
            try:
                reply = sock.recv(4096)
            except socket.timeout:
                break
            t1 = time.perf_counter_ns()
            if len(reply) >= 12 and struct.unpack(">H", reply[:2])[0] == qid:
                got = (t1 - t0, reply)
                break
        if got is None:
            lost += 1
            log.append(-1)
            continue
        rtt, reply = got
        flags, _, ancount = struct.unpack(">HHH", reply[2:8])
        if flags & 0x000F != 0 or ancount != 1:
            bad += 1
        rtts.append(rtt)
        log.append(rtt // 1000)
    elapsed = (time.perf_counter_ns() - start) / 1e9
    rtts.sort()
    us = lambda v: None if v is None else round(v / 1000, 1)
    print(json.dumps({
        "sent": n,
        "answered": len(rtts),
        "lost": lost,
        "bad": bad,
        "secs": round(elapsed, 2),
        "p50_us": us(percentile(rtts, 50)),
        "p90_us": us(percentile(rtts, 90)),
        "p99_us": us(percentile(rtts, 99)),
        "max_us": us(rtts[-1] if rtts else None),
    }))
    if a.rtts:
        with open(a.rtts, "w") as f:
            f.write("\n".join(str(v) for v in log) + "\n")


if __name__ == "__main__":
    main()
