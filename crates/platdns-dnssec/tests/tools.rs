//! Signed zones checked by the real tools: ldns-verify-zone (ldnsutils),
//! dnssec-verify (bind9-utils) and kzonecheck (knot-dnssecutils).

mod common;
use common::*;
use platdns_dnssec::{Algorithm, Denial, SignedZone, SignerConfig};
use platdns_zone::present::format_rdata;
use platdns_zone::Rtype;

fn sign_and_check(alg: Algorithm, denial: Denial, what: &str) {
    let child = keypair(alg);
    let ds = format_rdata(Rtype::DS, &child[0].key.ds_rdata(&n("sub.example.")));
    let recs = records(&sample_zone(&ds), "example.");
    let now = now();
    let config = SignerConfig {
        denial,
        ..SignerConfig::default()
    };
    let z = SignedZone::sign(&recs, &n("example."), keypair(alg), config, now).unwrap();
    check_signed(&n("example."), &z.records(), now, what);
}

#[test]
fn nsec_ecdsa_zone_passes_the_tools() {
    sign_and_check(Algorithm::EcdsaP256Sha256, Denial::Nsec, "nsec ecdsa");
}

#[test]
fn nsec3_ecdsa_zone_passes_the_tools() {
    sign_and_check(Algorithm::EcdsaP256Sha256, Denial::nsec3(), "nsec3 ecdsa");
}

#[test]
fn nsec_ed25519_zone_passes_the_tools() {
    sign_and_check(Algorithm::Ed25519, Denial::Nsec, "nsec ed25519");
}

#[test]
fn nsec3_salted_ed25519_zone_passes_the_tools() {
    sign_and_check(
        Algorithm::Ed25519,
        Denial::Nsec3 {
            iterations: 3,
            salt: vec![0xab, 0xcd],
        },
        "nsec3 salted ed25519",
    );
}

/// The tools do reject a damaged zone: a changed A record whose RRSIG no
/// longer matches (so a passing run above means something).
#[test]
fn tools_reject_a_tampered_zone() {
    let child = keypair(Algorithm::EcdsaP256Sha256);
    let ds = format_rdata(Rtype::DS, &child[0].key.ds_rdata(&n("sub.example.")));
    let recs = records(&sample_zone(&ds), "example.");
    let now = now();
    let z = SignedZone::sign(
        &recs,
        &n("example."),
        keypair(Algorithm::EcdsaP256Sha256),
        SignerConfig::default(),
        now,
    )
    .unwrap();
    let mut signed = z.records();
    let www = signed
        .iter_mut()
        .find(|r| r.rtype == Rtype::A && r.owner == n("www.example."))
        .unwrap();
    www.rdata = vec![192, 0, 2, 99];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.zone");
    std::fs::write(&path, platdns_dnssec::text::zone_text(&n("example."), &signed)).unwrap();
    let file = path.to_str().unwrap();
    for (tool, args) in [
        ("ldns-verify-zone", vec![file]),
        ("dnssec-verify", vec!["-o", "example.", file]),
        ("kzonecheck", vec!["-o", "example.", "-d", "on", file]),
    ] {
        if !require(tool) {
            continue;
        }
        let out = std::process::Command::new(tool).args(&args).output().unwrap();
        assert!(!out.status.success(), "{tool} accepted a tampered zone");
    }
    assert!(platdns_dnssec::verify::verify_zone(&signed, &n("example."), now).is_err());
}
