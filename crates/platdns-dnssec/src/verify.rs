//! An independent check of a signed zone's signatures (RFC 4035 §5.3): every
//! RRSIG verifies with a DNSKEY of the apex and is valid at `now`, every
//! authoritative RRset has one, and nothing else does. It shares only the
//! canonical-form code with the signer; the tests also run the real tools.

use crate::canon::{serial_le, signed_data, RrsigHeader};
use crate::keys::{key_tag, verify};
use platdns_zone::{Name, Record, Rtype};
use std::collections::{BTreeMap, HashSet};

/// An RRset as read back: owner, TTL, rdatas.
type RrsetOf<'a> = (Name, u32, Vec<&'a [u8]>);

/// Checks `records` (a whole signed zone) at time `now`; the errors, if any,
/// one per problem.
pub fn verify_zone(records: &[Record], apex: &Name, now: u64) -> Result<usize, Vec<String>> {
    let apex = apex.to_lowercase();
    let mut sets: BTreeMap<(Vec<u8>, Rtype), RrsetOf> = BTreeMap::new();
    let mut sigs: BTreeMap<(Vec<u8>, Rtype), Vec<&Record>> = BTreeMap::new();
    let mut errors = Vec::new();
    for r in records {
        let owner = r.owner.to_lowercase();
        let key = owner.as_wire().to_vec();
        if r.rtype == Rtype::RRSIG {
            let Some(c) = r.rdata.get(..2) else {
                errors.push(format!("{owner} RRSIG: malformed"));
                continue;
            };
            let covered = Rtype(u16::from_be_bytes([c[0], c[1]]));
            sigs.entry((key, covered)).or_default().push(r);
        } else {
            let e = sets.entry((key, r.rtype)).or_insert_with(|| (owner, r.ttl, Vec::new()));
            e.2.push(&r.rdata);
        }
    }
    let dnskeys: Vec<&[u8]> = sets
        .get(&(apex.as_wire().to_vec(), Rtype::DNSKEY))
        .map(|s| s.2.clone())
        .unwrap_or_default();
    let cuts: HashSet<Vec<u8>> = sets
        .keys()
        .filter(|(o, t)| *t == Rtype::NS && *o != apex.as_wire())
        .map(|(o, _)| o.clone())
        .collect();
    let below_cut = |owner: &Name| {
        let mut n = owner.parent();
        while let Some(p) = n {
            if p == apex || !p.is_subdomain_of(&apex) {
                return false;
            }
            if cuts.contains(p.as_wire()) {
                return true;
            }
            n = p.parent();
        }
        false
    };
    let now32 = now as u32;
    let mut checked = 0;
    for ((okey, rtype), (owner, ttl, rdatas)) in &sets {
        let at_cut = cuts.contains(okey);
        let should = !below_cut(owner) && (!at_cut || matches!(*rtype, Rtype::DS | Rtype::NSEC));
        let found = sigs.get(&(okey.clone(), *rtype)).map(Vec::as_slice).unwrap_or(&[]);
        if !should {
            if !found.is_empty() {
                errors.push(format!("{owner} {rtype}: signed but not authoritative"));
            }
            continue;
        }
        if found.is_empty() {
            errors.push(format!("{owner} {rtype}: no RRSIG"));
            continue;
        }
        for sig in found {
            checked += 1;
            let Some((h, signature)) = RrsigHeader::parse(&sig.rdata) else {
                errors.push(format!("{owner} {rtype}: malformed RRSIG"));
                continue;
            };
            if h.original_ttl != *ttl || sig.ttl != *ttl {
                errors.push(format!(
                    "{owner} {rtype}: RRSIG TTL {} / original {} but RRset TTL {ttl}",
                    sig.ttl, h.original_ttl
                ));
            }
            if !serial_le(h.inception, now32) || !serial_le(now32, h.expiration) {
                errors.push(format!("{owner} {rtype}: RRSIG not valid now"));
            }
            if h.signer != apex {
                errors.push(format!("{owner} {rtype}: signer {} is not the apex", h.signer));
            }
            let key = dnskeys
                .iter()
                .find(|k| k.len() > 4 && key_tag(k) == h.key_tag && k[3] == h.algorithm);
            let Some(key) = key else {
                errors.push(format!("{owner} {rtype}: no DNSKEY with tag {}", h.key_tag));
                continue;
            };
            if *rtype == Rtype::DNSKEY && key[1] & 1 == 0 {
                errors.push(format!("{owner} DNSKEY: signed by a key without the SEP bit"));
            }
            let data = signed_data(&h, owner, 1, rdatas);
            if !verify(h.algorithm, &key[4..], &data, signature) {
                errors.push(format!("{owner} {rtype}: RRSIG by {} does not verify", h.key_tag));
            }
        }
    }
    for (okey, covered) in sigs.keys() {
        if !sets.contains_key(&(okey.clone(), *covered)) {
            errors.push(format!(
                "RRSIG over {covered} at {:?} with no such RRset",
                Name::from_wire(okey)
            ));
        }
    }
    if errors.is_empty() {
        Ok(checked)
    } else {
        Err(errors)
    }
}
