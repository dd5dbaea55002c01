//! Timings on a 1,000,000-record zone (ignored by default; run in release):
//!
//! ```text
//! cargo test --release -p platdns-dnssec --test bench -- --ignored --nocapture
//! ```
//!
//! Goal (issue 8): a one-record commit re-signed in under 50 ms.

mod common;
use common::*;
use platdns_dnssec::{Algorithm, Denial, SignedZone, SignerConfig};
use platdns_zone::{Name, Record, RrsetChange, Rtype};
use std::time::Instant;

const RECORDS: usize = 1_000_000;

fn big_zone() -> Vec<Record> {
    let apex = n("example.");
    let mut v = Vec::with_capacity(RECORDS);
    v.push(Record::new(&apex, Rtype::SOA, 3600, soa(1, 300)));
    v.push(Record::new(
        &apex,
        Rtype::NS,
        3600,
        n("ns1.example.").as_wire().to_vec(),
    ));
    // One A record a name, in 1,000 subdomains: the most names (and so the
    // most NSEC/NSEC3 records) a million records can make, plus 1,000
    // levels of structure above them.
    let mut i = 0u32;
    while v.len() < RECORDS {
        let name = Name::from_text(&format!("h{i}.s{}.example.", i % 1000), None).unwrap();
        v.push(Record::new(&name, Rtype::A, 3600, i.to_be_bytes().to_vec()));
        i += 1;
    }
    v
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

fn bench(denial: Denial, label: &str) {
    let records = big_zone();
    let apex = n("example.");
    let config = SignerConfig {
        denial,
        ..SignerConfig::default()
    };
    let t = Instant::now();
    let mut z = SignedZone::sign(&records, &apex, keypair(Algorithm::EcdsaP256Sha256), config, now()).unwrap();
    let whole = t.elapsed().as_secs_f64();
    // The first large allocation after the signing pays for glibc
    // consolidating the fast bins the build's freed temporaries filled;
    // timed apart so it is not charged to a commit.
    let t = Instant::now();
    let big: Vec<u8> = Vec::with_capacity(1 << 20);
    drop(std::hint::black_box(big));
    let first_alloc = t.elapsed().as_secs_f64() * 1e3;
    let mut add = Vec::new();
    let mut change = Vec::new();
    let mut remove = Vec::new();
    for k in 0..21u32 {
        let serial = 2 + 3 * k;
        let fresh = Name::from_text(&format!("new{k}.s7.example."), None).unwrap();
        let commit = |owner: &Name, rtype: Rtype, rdata: Option<Vec<u8>>, serial: u32| {
            vec![
                RrsetChange {
                    owner: owner.clone(),
                    rtype,
                    records: rdata
                        .map(|d| vec![Record::new(owner, rtype, 3600, d)])
                        .unwrap_or_default(),
                },
                RrsetChange {
                    owner: apex.clone(),
                    rtype: Rtype::SOA,
                    records: vec![Record::new(&apex, Rtype::SOA, 3600, soa(serial, 300))],
                },
            ]
        };
        let c = commit(&fresh, Rtype::A, Some(vec![192, 0, 2, 1]), serial);
        let t = Instant::now();
        let d = z.apply(&c, now()).unwrap();
        add.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(!d.add.is_empty());
        let existing = Name::from_text(&format!("h{}.s{}.example.", 5000 + k, (5000 + k) % 1000), None).unwrap();
        let c = commit(&existing, Rtype::A, Some(vec![198, 51, 100, k as u8]), serial + 1);
        let t = Instant::now();
        z.apply(&c, now()).unwrap();
        change.push(t.elapsed().as_secs_f64() * 1e3);
        let c = commit(&fresh, Rtype::A, None, serial + 2);
        let t = Instant::now();
        z.apply(&c, now()).unwrap();
        remove.push(t.elapsed().as_secs_f64() * 1e3);
    }
    // Counted after the commits: freeing millions of small records leaves
    // glibc's fast bins to be consolidated by the next large allocation,
    // which would be charged to the first commit.
    let signed = z.records().len();
    let t = Instant::now();
    let d = z.refresh(now()).unwrap();
    let refresh = t.elapsed().as_secs_f64() * 1e3;
    assert!(d.is_empty());
    println!(
        "{label}: {RECORDS} records, {} names -> {signed} signed records; sign whole {whole:.1} s; \
         one-record commit (+SOA) median of 21: add name {:.2} ms (first {:.2}, max of the rest {:.2}), change record {:.2} ms, \
         remove name {:.2} ms; refresh with nothing due {refresh:.0} ms; first allocation after signing {first_alloc:.0} ms; threads {}",
        z.name_count(),
        median(add.clone()),
        add[0],
        add[1..].iter().cloned().fold(0.0, f64::max),
        median(change.clone()),
        median(remove.clone()),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    assert!(median(add) < 50.0 && median(change) < 50.0 && median(remove) < 50.0);
}

#[test]
#[ignore]
fn one_record_commit_in_a_million_record_zone_nsec3() {
    bench(Denial::nsec3(), "NSEC3");
}

#[test]
#[ignore]
fn one_record_commit_in_a_million_record_zone_nsec() {
    bench(Denial::Nsec, "NSEC");
}
