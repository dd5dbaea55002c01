#!/usr/bin/env bash
# Generates benchmark data with awk (no other tools needed).
#   gen.sh zone N FILE            one zone "bench.test." with N names
#   gen.sh queries N COUNT FILE   dnsperf input for that zone
#   gen.sh zones Z DIR            Z small zones z<i>.test. (~10 records each), one file each
#   gen.sh zone-queries Z COUNT FILE
#   gen.sh records N FILE         zone "bench.test." of exactly N records (xfr.py's mix)
#   gen.sh dnssec-queries N COUNT FILE  for a `zone N` zone: 80% names that exist,
#                                 10% NXDOMAIN, 10% NODATA (bench/dnssec.sh)
set -euo pipefail
cmd=$1; shift
case "$cmd" in
zone)
  # 90% of names hold A (a quarter of those also AAAA, a tenth MX), 10% are CNAMEs
  # to them; 100 wildcards; the apex has SOA/NS/MX.
  awk -v n="$1" 'BEGIN {
    print "$ORIGIN bench.test.\n$TTL 3600"
    print "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\n@ MX 10 mail\nns1 A 192.0.2.1\nns2 A 192.0.2.2\nmail A 192.0.2.3"
    hosts = int(n * 0.9); cnames = n - hosts - 100
    for (i = 0; i < hosts; i++) {
      printf "h%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
      if (i % 4 == 0) printf "h%d AAAA 2001:db8::%x:%x\n", i, int(i / 65536), i % 65536
      if (i % 10 == 0) printf "h%d MX 10 h%d\n", i, (i + 1) % hosts
    }
    for (i = 0; i < cnames; i++) printf "c%d CNAME h%d\n", i, (i * 7) % hosts
    for (i = 0; i < 100; i++) printf "*.w%d A 192.0.2.%d\n", i, i % 250 + 1
  }' > "$2"
  ;;
queries)
  # 40% A, 15% AAAA, 10% MX, 15% NXDOMAIN, 10% wildcard, 10% CNAME.
  awk -v n="$1" -v count="$2" 'BEGIN {
    srand(42); hosts = int(n * 0.9); cnames = n - hosts - 100
    for (k = 0; k < count; k++) {
      r = rand(); i = int(rand() * hosts)
      if (r < 0.40)      printf "h%d.bench.test. A\n", i
      else if (r < 0.55) printf "h%d.bench.test. AAAA\n", i - i % 4
      else if (r < 0.65) printf "h%d.bench.test. MX\n", i - i % 10
      else if (r < 0.80) printf "nx%d.bench.test. A\n", i
      else if (r < 0.90) printf "q%d.w%d.bench.test. A\n", i, i % 100
      else               printf "c%d.bench.test. A\n", int(rand() * cnames)
    }
  }' > "$3"
  ;;
zones)
  mkdir -p "$2"
  awk -v z="$1" -v dir="$2" 'BEGIN {
    for (i = 0; i < z; i++) {
      f = sprintf("%s/z%d.test.zone", dir, i)
      printf "$ORIGIN z%d.test.\n$TTL 3600\n", i > f
      printf "@ SOA ns1.hoster.test. hostmaster.hoster.test. 1 7200 3600 1209600 300\n" > f
      printf "@ NS ns1.hoster.test.\n@ NS ns2.hoster.test.\n@ MX 10 mail\n@ A 10.%d.%d.1\n", int(i / 256) % 256, i % 256 > f
      printf "www A 10.%d.%d.2\nwww AAAA 2001:db8:%x:%x::2\nmail A 10.%d.%d.3\n", int(i / 256) % 256, i % 256, int(i / 65536), i % 65536, int(i / 256) % 256, i % 256 > f
      printf "@ TXT \"v=spf1 mx -all\"\nftp CNAME www\n" > f
      close(f)
    }
  }'
  ;;
zone-queries)
  awk -v z="$1" -v count="$2" 'BEGIN {
    srand(43)
    for (k = 0; k < count; k++) {
      r = rand(); i = int(rand() * z)
      if (r < 0.45)      printf "www.z%d.test. A\n", i
      else if (r < 0.60) printf "www.z%d.test. AAAA\n", i
      else if (r < 0.70) printf "z%d.test. MX\n", i
      else if (r < 0.85) printf "nx.z%d.test. A\n", i
      else               printf "ftp.z%d.test. A\n", i
    }
  }' > "$3"
  ;;
records)
  # Exactly N records, the apex's 7 (SOA, 2 NS, MX, ns1/ns2/mail A) included;
  # then as bench/xfr.py: N/10 CNAMEs, 100 wildcards, and hosts (A, every
  # fourth also AAAA, every tenth also MX to the next host) filling the rest.
  awk -v n="$1" 'BEGIN {
    print "$ORIGIN bench.test.\n$TTL 3600"
    print "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ NS ns1\n@ NS ns2\n@ MX 10 mail\nns1 A 192.0.2.1\nns2 A 192.0.2.2\nmail A 192.0.2.3"
    cnames = int(n / 10); wild = 100; budget = n - 7 - cnames - wild; h = 0
    while (budget > 0) {
      budget--; aaaa[h] = (h % 4 == 0 && budget > 0); budget -= aaaa[h]
      mx[h] = (h % 10 == 0 && budget > 0); budget -= mx[h]; h++
    }
    for (i = 0; i < h; i++) {
      printf "h%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
      if (aaaa[i]) printf "h%d AAAA 2001:db8::%x:%x\n", i, int(i / 65536), i % 65536
      if (mx[i]) printf "h%d MX 10 h%d\n", i, (i + 1) % h
    }
    for (i = 0; i < cnames; i++) printf "c%d CNAME h%d\n", i, (i * 7) % h
    for (i = 0; i < wild; i++) printf "*.w%d A 192.0.2.%d\n", i, i % 250 + 1
  }' > "$2"
  ;;
dnssec-queries)
  # 80% existing data (40% A, 10% AAAA, 10% MX, 10% CNAME, 10% wildcard),
  # 10% NXDOMAIN, 10% NODATA (TXT at a host).
  awk -v n="$1" -v count="$2" 'BEGIN {
    srand(44); hosts = int(n * 0.9); cnames = n - hosts - 100
    for (k = 0; k < count; k++) {
      r = rand(); i = int(rand() * hosts)
      if (r < 0.40)      printf "h%d.bench.test. A\n", i
      else if (r < 0.50) printf "h%d.bench.test. AAAA\n", i - i % 4
      else if (r < 0.60) printf "h%d.bench.test. MX\n", i - i % 10
      else if (r < 0.70) printf "c%d.bench.test. A\n", int(rand() * cnames)
      else if (r < 0.80) printf "q%d.w%d.bench.test. A\n", i, i % 100
      else if (r < 0.90) printf "nx%d.bench.test. A\n", i
      else               printf "h%d.bench.test. TXT\n", i
    }
  }' > "$3"
  ;;
*) echo "unknown: $cmd" >&2; exit 2 ;;
esac
