//! The signing side of bench/dnssec.sh (issue 8): a zone file signed whole,
//! then one-record commits re-signed and applied to the served zone, each
//! stage timed. Not a test: run it in release, through the script.
//!
//! ```text
//! cargo run --release -p platdns-dnssec --example resign -- \
//!     --zone FILE [--denial nsec|nsec3] [--commits 50] [--write-signed OUT]
//! ```
//!
//! 1. Reads the zone file (its SOA owner is the apex) and signs it whole with
//!    [`SignedZone::sign`] (ECDSA P-256 KSK + ZSK, fresh keys), then builds
//!    the served [`Zone`] from the signed records: times and RSS of each.
//! 2. `--write-signed OUT`: writes the signed zone as text
//!    ([`platdns_dnssec::text::zone_text`]) for platdns and knotd to serve.
//! 3. `--commits N` (default 50; 0 skips): N commits of each kind — add a
//!    new name with one A record, change an existing A record, remove the
//!    added name — each with the SOA serial bump a real commit carries.
//!    For each, timed apart: [`SignedZone::apply`] (re-sign, repair the
//!    chain), [`Zone::rrset_changes`] (the signer's diff as RRset changes)
//!    and [`Zone::patch`] (the new served zone), and the total. Reported as
//!    median, p95 and max in ms.
//! 4. Checks (untimed) that the patched served zone holds exactly the
//!    signer's records.

use platdns_dnssec::text::zone_text;
use platdns_dnssec::{Algorithm, Denial, Role, SignedZone, SignerConfig, SigningKey, ZoneKey};
use platdns_zone::{Name, Record, RrsetChange, Rtype, Zone};
use std::sync::Arc;
use std::time::Instant;

struct Args {
    zone: String,
    denial: Denial,
    commits: usize,
    write_signed: Option<String>,
}

fn args() -> Args {
    let mut a = Args {
        zone: String::new(),
        denial: Denial::Nsec,
        commits: 50,
        write_signed: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--zone" => a.zone = v(),
            "--denial" => {
                a.denial = match v().as_str() {
                    "nsec" => Denial::Nsec,
                    "nsec3" => Denial::nsec3(),
                    d => panic!("--denial nsec|nsec3, not {d}"),
                }
            }
            "--commits" => a.commits = v().parse().expect("--commits N"),
            "--write-signed" => a.write_signed = Some(v()),
            _ => panic!("unknown argument {k}"),
        }
    }
    assert!(!a.zone.is_empty(), "--zone FILE");
    a
}

/// (VmRSS, VmHWM) of this process, MiB.
fn rss() -> (f64, f64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

/// Returns freed heap to the system, so RSS shows what is held.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim takes no pointers and only releases
        // free memory.
        unsafe {
            malloc_trim(0);
        }
    }
}

fn with_serial(soa: &[u8], serial: u32) -> Vec<u8> {
    let mut d = soa.to_vec();
    let at = d.len() - 20; // serial, refresh, retry, expire, minimum
    d[at..at + 4].copy_from_slice(&serial.to_be_bytes());
    d
}

/// (median, p95, max) of a sample, nearest rank.
fn stats(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (rank(0.5), rank(0.95), v[v.len() - 1])
}

type Key = (Vec<u8>, Rtype, u32, Vec<u8>);

fn keyed(records: &[Record]) -> Vec<Key> {
    let mut v: Vec<Key> = records
        .iter()
        .map(|r| {
            (
                r.owner.to_lowercase().as_wire().to_vec(),
                r.rtype,
                r.ttl,
                r.rdata.clone(),
            )
        })
        .collect();
    v.sort_unstable();
    v
}

fn main() {
    let a = args();
    let denial = match a.denial {
        Denial::Nsec => "NSEC",
        Denial::Nsec3 { .. } => "NSEC3",
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    let t = Instant::now();
    let parsed = platdns_zone::zonefile::read_file(std::path::Path::new(&a.zone), None);
    assert!(
        parsed.errors.is_empty(),
        "{:?}",
        &parsed.errors[..parsed.errors.len().min(5)]
    );
    let apex = parsed.soa_owner.clone().expect("a SOA in the zone file");
    let records = parsed.records;
    let parse_s = t.elapsed().as_secs_f64();
    trim();
    let (rss_input, _) = rss();
    println!(
        "zone {} ({}): {} records read in {parse_s:.1} s; RSS {rss_input:.0} MiB",
        a.zone,
        apex,
        records.len()
    );

    let keys = vec![
        ZoneKey::active(Arc::new(
            SigningKey::generate(Algorithm::EcdsaP256Sha256, Role::Ksk).unwrap(),
        )),
        ZoneKey::active(Arc::new(
            SigningKey::generate(Algorithm::EcdsaP256Sha256, Role::Zsk).unwrap(),
        )),
    ];
    let config = SignerConfig {
        denial: a.denial.clone(),
        ..SignerConfig::default()
    };
    let now = platdns_now();
    let t = Instant::now();
    let mut signed = SignedZone::sign(&records, &apex, keys, config, now).expect("sign");
    let sign_s = t.elapsed().as_secs_f64();
    let (_, hwm_sign) = rss();

    // Names to change: existing A records, spread over the zone.
    let a_owners: Vec<(Name, u32)> = records
        .iter()
        .filter(|r| r.rtype == Rtype::A && !r.owner.is_wildcard() && r.owner != apex)
        .map(|r| (r.owner.clone(), r.ttl))
        .collect();
    let soa = records
        .iter()
        .find(|r| r.rtype == Rtype::SOA)
        .map(|r| (r.ttl, r.rdata.clone()))
        .expect("SOA");
    let input_records = records.len();
    drop(records);
    trim();
    let (rss_signer, _) = rss();

    let t = Instant::now();
    let signed_records = signed.records();
    let records_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut zone = Zone::from_records(&signed_records, &apex).expect("the signed zone builds");
    let build_s = t.elapsed().as_secs_f64();
    let n_signed = signed_records.len();
    let (_, hwm_build) = rss();
    if let Some(out) = &a.write_signed {
        let t = Instant::now();
        std::fs::write(out, zone_text(&apex, &signed_records)).expect("write the signed zone");
        println!("wrote {out} in {:.1} s", t.elapsed().as_secs_f64());
    }
    drop(signed_records);
    trim();
    let (rss_both, _) = rss();
    println!(
        "{denial}, ECDSA P-256 (KSK+ZSK), {threads} threads: {input_records} records, {} names -> {n_signed} signed records",
        signed.name_count()
    );
    println!("  sign whole (SignedZone::sign): {sign_s:.1} s");
    println!("  SignedZone::records(): {records_s:.1} s; served Zone::from_records: {build_s:.1} s");
    println!(
        "  RSS: input records {rss_input:.0} MiB; SignedZone alone {rss_signer:.0} MiB; SignedZone + served Zone \
         {rss_both:.0} MiB; peak {hwm_sign:.0} MiB while signing, {hwm_build:.0} MiB while building the served zone"
    );
    if a.commits == 0 {
        return;
    }

    let mut serial = u32::from_be_bytes(soa.1[soa.1.len() - 20..soa.1.len() - 16].try_into().unwrap());
    let kinds = ["add name", "change record", "remove name"];
    // [kind][stage] → samples (ms); stages: apply, rrset_changes, patch, total.
    let mut t_ms: Vec<[Vec<f64>; 4]> = (0..3).map(|_| Default::default()).collect();
    let mut diff_sizes: Vec<[usize; 3]> = vec![[0; 3]; 3];
    let mut overlay_max = 0;
    let step = a_owners.len() / (a.commits + 1);
    assert!(step >= 2, "the zone needs twice as many A records as commits");
    // Round 0 is a warm-up, timed but not counted: the first allocations
    // after the whole-zone build find glibc's unsorted bin holding the
    // millions of blocks the build's temporary record lists freed, and sort
    // them (~0.1 s at 1M records): a one-off after a build, not a commit's cost.
    let mut warmup = Vec::new();
    for round in 0..=a.commits {
        let fresh = Name::from_text(&format!("resign-new{round}"), Some(&apex)).unwrap();
        let (existing, ttl) = &a_owners[round * step + step / 2];
        let octet = (round % 250) as u8 + 1;
        let changes: [(Name, u32, Option<Vec<u8>>); 3] = [
            (fresh.clone(), 3600, Some(vec![192, 0, 2, octet])),
            (existing.clone(), *ttl, Some(vec![198, 51, 100, octet])),
            (fresh, 3600, None),
        ];
        for (kind, (owner, ttl, rdata)) in changes.into_iter().enumerate() {
            serial = serial.wrapping_add(1);
            let commit = vec![
                RrsetChange {
                    owner: owner.clone(),
                    rtype: Rtype::A,
                    records: rdata
                        .map(|d| vec![Record::new(&owner, Rtype::A, ttl, d)])
                        .unwrap_or_default(),
                },
                RrsetChange {
                    owner: apex.clone(),
                    rtype: Rtype::SOA,
                    records: vec![Record::new(&apex, Rtype::SOA, soa.0, with_serial(&soa.1, serial))],
                },
            ];
            let t0 = Instant::now();
            let diff = signed.apply(&commit, now).expect("apply");
            let t1 = Instant::now();
            let rrsets = zone.rrset_changes(&diff.remove, &diff.add);
            let t2 = Instant::now();
            zone = zone.patch(&rrsets).expect("patch");
            let t3 = Instant::now();
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            assert_eq!(zone.serial(), serial);
            if round == 0 {
                warmup.push(ms(t0, t3));
                continue;
            }
            for (i, v) in [ms(t0, t1), ms(t1, t2), ms(t2, t3), ms(t0, t3)].into_iter().enumerate() {
                t_ms[kind][i].push(v);
            }
            let d = &mut diff_sizes[kind];
            d[0] = d[0].max(diff.remove.len());
            d[1] = d[1].max(diff.add.len());
            d[2] = d[2].max(rrsets.len());
            overlay_max = overlay_max.max(zone.overlay_len());
        }
    }
    println!(
        "  warm-up round (not counted; the first allocations after the build sort glibc's freed blocks): \
         add {:.1} ms, change {:.1} ms, remove {:.1} ms",
        warmup[0], warmup[1], warmup[2]
    );
    println!(
        "  {} one-record commits (+ SOA serial) of each kind, ms (median / p95 / max):",
        a.commits
    );
    println!(
        "    {:<14} {:>22} {:>22} {:>22} {:>22}   diff (max): removed/added records, RRset changes",
        "", "SignedZone::apply", "Zone::rrset_changes", "Zone::patch", "total"
    );
    let fmt = |xs: &[f64]| {
        let (m, p, x) = stats(xs);
        format!("{m:.2} / {p:.2} / {x:.2}")
    };
    for (kind, name) in kinds.iter().enumerate() {
        let s = &t_ms[kind];
        println!(
            "    {name:<14} {:>22} {:>22} {:>22} {:>22}   {}/{}, {}",
            fmt(&s[0]),
            fmt(&s[1]),
            fmt(&s[2]),
            fmt(&s[3]),
            diff_sizes[kind][0],
            diff_sizes[kind][1],
            diff_sizes[kind][2]
        );
    }
    let all: Vec<Vec<f64>> = (0..4)
        .map(|i| t_ms.iter().flat_map(|s| s[i].iter().copied()).collect())
        .collect();
    println!(
        "    {:<14} {:>22} {:>22} {:>22} {:>22}",
        "all",
        fmt(&all[0]),
        fmt(&all[1]),
        fmt(&all[2]),
        fmt(&all[3])
    );
    println!("  served zone's overlay after the commits: {overlay_max} nodes at most");

    // Untimed: the served zone holds exactly the signer's records.
    let t = Instant::now();
    let same = keyed(&zone.records()) == keyed(&signed.records());
    println!(
        "  served zone == signer's records after the commits: {} (checked in {:.1} s)",
        if same { "yes" } else { "NO" },
        t.elapsed().as_secs_f64()
    );
    assert!(same);
}

fn platdns_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
