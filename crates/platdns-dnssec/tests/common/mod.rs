//! Helpers shared by the tests: zones from text, keys, and the real
//! verification tools (ldns-verify-zone, dnssec-verify, kzonecheck).
#![allow(dead_code)]

use platdns_dnssec::text::zone_text;
use platdns_dnssec::verify::verify_zone;
use platdns_dnssec::{Algorithm, Role, SigningKey, ZoneKey};
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::{Name, Record, Zone};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

pub fn n(s: &str) -> Name {
    Name::from_text(s, None).unwrap()
}

#[allow(unused_imports)]
pub use platdns_testkit::{require, Rng};

/// The rdata of example.'s SOA with `serial` and negative TTL `minimum`.
pub fn soa(serial: u32, minimum: u32) -> Vec<u8> {
    let mut d = n("ns1.example.").as_wire().to_vec();
    d.extend_from_slice(n("hostmaster.example.").as_wire());
    for v in [serial, 7200, 3600, 1_209_600, minimum] {
        d.extend_from_slice(&v.to_be_bytes());
    }
    d
}

/// Records as served: (lower-cased owner wire, type, TTL, rdata).
pub type Served = BTreeSet<(Vec<u8>, u16, u32, Vec<u8>)>;

pub fn as_set(recs: &[Record]) -> Served {
    recs.iter()
        .map(|r| {
            (
                r.owner.to_lowercase().as_wire().to_vec(),
                r.rtype.0,
                r.ttl,
                r.rdata.clone(),
            )
        })
        .collect()
}

pub fn records(text: &str, origin: &str) -> Vec<Record> {
    let p = parse_str(text, "test.zone", Some(&n(origin)), &mut NoIncludes);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p.records
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn keypair(alg: Algorithm) -> Vec<ZoneKey> {
    vec![
        ZoneKey::active(Arc::new(SigningKey::generate(alg, Role::Ksk).unwrap())),
        ZoneKey::active(Arc::new(SigningKey::generate(alg, Role::Zsk).unwrap())),
    ]
}

/// A zone with what a signer must get right: a wildcard, a secure and an
/// insecure delegation with glue, an empty non-terminal, a CNAME, mixed case.
pub fn sample_zone(ds_for_sub: &str) -> String {
    format!(
        "$ORIGIN example.
$TTL 3600
@ IN SOA ns1.example. hostmaster.example. 1 7200 3600 1209600 300
@ NS ns1.example.
@ NS ns2.example.
@ MX 10 Mail.Example.
ns1 A 192.0.2.1
ns2 A 192.0.2.2
www A 192.0.2.10
www AAAA 2001:db8::10
Mail 600 A 192.0.2.25
*.wild TXT \"wildcard\"
*.wild MX 10 mail.example.
a.b.c.ent A 192.0.2.20
sub NS ns.sub.example.
sub DS {ds_for_sub}
ns.sub A 192.0.2.53
deep.below.sub A 192.0.2.54
insecure NS ns.elsewhere.net.
alias CNAME www
srv._tcp SRV 0 5 443 WWW.example.
"
    )
}

/// Runs the three tools on a signed zone (and platdns-zone's build and our
/// own verifier); panics with their output when one rejects it.
pub fn check_signed(apex: &Name, recs: &[Record], now: u64, what: &str) {
    if let Err(e) = Zone::from_records(recs, apex) {
        panic!("{what}: Zone::from_records rejects the signed zone: {e:?}");
    }
    if let Err(e) = verify_zone(recs, apex, now) {
        panic!("{what}: verify_zone: {:?}", &e[..e.len().min(20)]);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("signed.zone");
    std::fs::write(&path, zone_text(apex, recs)).unwrap();
    let origin = apex.to_string();
    let file = path.to_str().unwrap();
    // ldns-verify-zone and kzonecheck take the time to check at; dnssec-verify
    // only checks at the real time, so it runs when `now` is (about) that.
    let (stamp, unix) = (civil(now), now.to_string());
    let mut runs: Vec<(&str, Vec<&str>)> = vec![
        ("ldns-verify-zone", vec!["-V", "2", "-t", &stamp, file]),
        ("kzonecheck", vec!["-o", &origin, "-d", "on", "-t", &unix, file]),
    ];
    if now.abs_diff(self::now()) < 600 {
        runs.push(("dnssec-verify", vec!["-o", &origin, file]));
    }
    for (tool, args) in runs {
        if !require(tool) {
            continue;
        }
        let out = Command::new(tool).args(&args).output().unwrap();
        if !out.status.success() {
            let keep = std::env::temp_dir().join(format!("platdns-dnssec-failed-{}.zone", what.replace(' ', "_")));
            let _ = std::fs::copy(&path, &keep);
            panic!(
                "{what}: {tool} rejects the signed zone (kept as {}):\n{}\n{}",
                keep.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `YYYYMMDDhhmmss` of a Unix time (UTC), H. Hinnant's civil-from-days.
pub fn civil(t: u64) -> String {
    let (days, secs) = ((t / 86400) as i64, t % 86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn civil_time_of_known_instants() {
    assert_eq!(civil(0), "19700101000000");
    assert_eq!(civil(951_782_400), "20000229000000");
    assert_eq!(civil(1_700_000_000), "20231114221320");
}
