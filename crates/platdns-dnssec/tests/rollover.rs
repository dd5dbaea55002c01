//! KSK and ZSK rollovers on a signed zone, each step checked by the tools:
//! the zone stays valid at every step, DNSKEY is signed by both KSKs during
//! the double signature, and CDS/CDNSKEY follow the key the parent should use.

mod common;
use common::*;
use platdns_dnssec::{Algorithm, Denial, Diff, KeyState, RolloverTimings, SignedZone, SignerConfig};
use platdns_zone::present::format_rdata;
use platdns_zone::Rtype;
use std::collections::BTreeSet;

fn publish(served: &mut Served, d: &Diff, z: &SignedZone) {
    for r in as_set(&d.remove) {
        assert!(served.remove(&r), "removes a record not served");
    }
    for r in as_set(&d.add) {
        assert!(served.insert(r), "adds a record already served");
    }
    assert_eq!(*served, as_set(&z.records()));
}

fn at_apex(z: &SignedZone, t: Rtype) -> Vec<Vec<u8>> {
    z.records()
        .into_iter()
        .filter(|r| r.rtype == t && r.owner == n("example."))
        .map(|r| r.rdata)
        .collect()
}

fn dnskey_sig_tags(z: &SignedZone) -> BTreeSet<u16> {
    z.records()
        .into_iter()
        .filter(|r| r.rtype == Rtype::RRSIG && r.rdata[..2] == Rtype::DNSKEY.0.to_be_bytes())
        .map(|r| u16::from_be_bytes([r.rdata[16], r.rdata[17]]))
        .collect()
}

fn zone(denial: Denial, ks: &KeyState, t0: u64) -> SignedZone {
    let child = keypair(Algorithm::Ed25519);
    let ds = format_rdata(Rtype::DS, &child[0].key.ds_rdata(&n("sub.example.")));
    let config = SignerConfig {
        denial,
        ..SignerConfig::default()
    };
    SignedZone::sign(
        &records(&sample_zone(&ds), "example."),
        &n("example."),
        ks.keys(),
        config,
        t0,
    )
    .unwrap()
}

#[test]
fn ksk_rollover_keeps_the_zone_valid_at_every_step() {
    let real = now();
    let t0 = real - 3 * 86400;
    let mut ks = KeyState::generate(Algorithm::EcdsaP256Sha256, RolloverTimings::default()).unwrap();
    let old = ks.ksk().clone();
    let mut z = zone(Denial::nsec3(), &ks, t0);
    let mut served = as_set(&z.records());
    let apex = n("example.");
    check_signed(&apex, &z.records(), t0, "ksk before");
    assert_eq!(at_apex(&z, Rtype::CDS), vec![old.ds_rdata(&apex)]);

    let step = ks.start_ksk_rollover(t0).unwrap();
    let d = z.set_keys(step.keys.clone(), t0).unwrap();
    publish(&mut served, &d, &z);
    let new = ks
        .keys()
        .into_iter()
        .find(|k| k.key.flags() == 257 && k.key.key_tag() != old.key_tag())
        .unwrap()
        .key;
    check_signed(&apex, &z.records(), t0, "ksk published");
    assert_eq!(dnskey_sig_tags(&z), [old.key_tag(), new.key_tag()].into());
    assert_eq!(at_apex(&z, Rtype::CDS), vec![old.ds_rdata(&apex)]);
    assert_eq!(at_apex(&z, Rtype::DNSKEY).len(), 3);

    let t1 = step.next.unwrap();
    let step = ks.advance(t1, false);
    assert!(step.waiting_for_ds && step.next.is_none());
    let d = z.set_keys(step.keys.clone(), t1).unwrap();
    publish(&mut served, &d, &z);
    check_signed(&apex, &z.records(), t1, "ksk waiting for ds");
    assert_eq!(at_apex(&z, Rtype::CDS), vec![new.ds_rdata(&apex)]);
    assert_eq!(at_apex(&z, Rtype::CDNSKEY), vec![new.dnskey_rdata().to_vec()]);
    assert_eq!(z.ds_rdatas(), vec![new.ds_rdata(&apex)]);

    let t2 = t1 + 7200;
    let step = ks.advance(t2, true);
    let d = z.set_keys(step.keys.clone(), t2).unwrap();
    assert!(d.is_empty(), "nothing changes in the zone when the parent's DS is seen");
    let t3 = step.next.unwrap();
    let step = ks.advance(t3, true);
    let d = z.set_keys(step.keys.clone(), t3).unwrap();
    publish(&mut served, &d, &z);
    check_signed(&apex, &z.records(), t3, "ksk retired");
    assert_eq!(dnskey_sig_tags(&z), [new.key_tag()].into());
    assert_eq!(at_apex(&z, Rtype::DNSKEY).len(), 2);
    assert!(!d.remove.is_empty());
    // The same zone at the real time, where dnssec-verify runs too.
    check_signed(&apex, &z.records(), real, "ksk after, now");
}

#[test]
fn zsk_rollover_keeps_the_zone_valid_at_every_step() {
    let real = now();
    let t0 = real - 3 * 86400;
    let mut ks = KeyState::generate(Algorithm::Ed25519, RolloverTimings::default()).unwrap();
    let mut z = zone(Denial::Nsec, &ks, t0);
    let mut served = as_set(&z.records());
    let apex = n("example.");
    let step = ks.start_zsk_rollover(t0).unwrap();
    let d = z.set_keys(step.keys.clone(), t0).unwrap();
    publish(&mut served, &d, &z);
    // Pre-publication changes only the apex (DNSKEY and its RRSIG).
    assert!(d.add.iter().all(|r| r.owner == apex), "{:?}", d.add);
    check_signed(&apex, &z.records(), t0, "zsk published");
    let t1 = step.next.unwrap();
    let step = ks.advance(t1, false);
    let d = z.set_keys(step.keys.clone(), t1).unwrap();
    publish(&mut served, &d, &z);
    check_signed(&apex, &z.records(), t1, "zsk active");
    let t2 = step.next.unwrap();
    let step = ks.advance(t2, false);
    assert_eq!(step.next, None);
    let d = z.set_keys(step.keys.clone(), t2).unwrap();
    publish(&mut served, &d, &z);
    assert_eq!(at_apex(&z, Rtype::DNSKEY).len(), 2);
    check_signed(&apex, &z.records(), real, "zsk after, now");
}
