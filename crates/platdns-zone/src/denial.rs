//! What a signed zone needs at query time (RFC 4035 §3.1): the RRSIGs of an
//! RRset, and the NSEC or NSEC3 records that cover or match a name.
//!
//! A zone is *signed* when its apex holds a DNSKEY RRset; its denial kind
//! comes from the apex too: NSEC3 when an NSEC3PARAM is there (its hash
//! parameters are the chain's, RFC 5155 §4), NSEC otherwise. Signing is the
//! `platdns-dnssec` crate's job; this module only finds what is there, so a
//! zone signed elsewhere (a signed zone file, a secondary's transfer) is
//! served the same way.
//!
//! The chain is found by an index built with the zone: the nodes holding an
//! NSEC (or NSEC3) RRset, in RFC 4034 §6.1 canonical order (NSEC3 owners are
//! `<base32hex hash>.<apex>`, so canonical order is hash order, RFC 5155
//! §3.3). A patch keeps the base's index and indexes its overlay's nodes
//! only; a lookup takes the later of the two candidates, skipping base
//! entries the overlay replaced. Lookups binary-search and allocate nothing.

use crate::name::canonical_cmp_wire;
use crate::types::Rtype;
use crate::zone::{flags, Arena, NodeId, RrIter, RrsetId, Zone, OVER};
use std::cmp::Ordering;

/// How a zone proves that names and types do not exist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Denial {
    /// No DNSKEY at the apex: answers carry no DNSSEC records.
    #[default]
    Unsigned,
    /// NSEC (RFC 4034 §4).
    Nsec,
    /// NSEC3 (RFC 5155) with the apex NSEC3PARAM's iterations and salt.
    Nsec3 { iterations: u16, salt: Box<[u8]> },
}

impl Denial {
    pub fn is_signed(&self) -> bool {
        !matches!(self, Denial::Unsigned)
    }

    /// The type whose RRsets form the chain.
    pub fn chain_type(&self) -> Option<Rtype> {
        match self {
            Denial::Unsigned => None,
            Denial::Nsec => Some(Rtype::NSEC),
            Denial::Nsec3 { .. } => Some(Rtype::NSEC3),
        }
    }

    /// From the apex node of an arena.
    pub(crate) fn of_apex(a: &Arena, apex: u32) -> Denial {
        if a.rrset_of(apex, Rtype::DNSKEY).is_none() {
            return Denial::Unsigned;
        }
        let Some(param) = a.rrset_of(apex, Rtype::NSEC3PARAM) else {
            return Denial::Nsec;
        };
        // RFC 5155 §4.2: hash algorithm, flags, iterations, salt length, salt.
        // Only SHA-1 (1) is defined; a chain with another is not one we can
        // walk, so answers go without denial records rather than wrong ones.
        match RrIter::new(a.rrset_wire(param)).next() {
            Some([1, _, i0, i1, len, salt @ ..]) if salt.len() == *len as usize => Denial::Nsec3 {
                iterations: u16::from_be_bytes([*i0, *i1]),
                salt: salt.into(),
            },
            _ => Denial::Nsec,
        }
    }
}

/// The chain index of an arena: the ids of the nodes (reachable through its
/// name index, not tombstones) that hold a `chain` RRset, in canonical order.
pub(crate) fn index_chain(a: &Arena, chain: Option<Rtype>) -> Vec<u32> {
    let Some(t) = chain else { return Vec::new() };
    let mut ids: Vec<u32> = a
        .indexed()
        .filter(|&id| a.nodes[id as usize].flags & flags::GONE == 0 && a.rrset_of(id, t).is_some())
        .collect();
    ids.sort_unstable_by(|&x, &y| canonical_cmp_wire(a.node_name(x), a.node_name(y)));
    ids
}

/// RFC 5155 §5: IH(salt, x, 0) = H(x || salt), IH(salt, x, k) =
/// H(IH(salt, x, k-1) || salt), SHA-1, over the lower-cased wire name.
pub fn nsec3_hash(lower_wire: &[u8], salt: &[u8], iterations: u16) -> [u8; 20] {
    use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};
    let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(lower_wire);
    ctx.update(salt);
    let mut h = [0u8; 20];
    h.copy_from_slice(ctx.finish().as_ref());
    for _ in 0..iterations {
        let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(&h);
        ctx.update(salt);
        h.copy_from_slice(ctx.finish().as_ref());
    }
    h
}

/// A test of a lower-cased wire name.
type NameTest<'a> = dyn Fn(&[u8]) -> bool + 'a;

const BASE32HEX_LOWER: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Writes `<base32hex(hash)>.<apex>` (RFC 5155 §3.3, lower case) into `buf`;
/// returns its length. 160 bits are exactly 32 base32 digits.
fn hashed_owner(hash: &[u8; 20], apex: &[u8], buf: &mut [u8; 255]) -> Option<usize> {
    if 33 + apex.len() > buf.len() {
        return None;
    }
    buf[0] = 32;
    let mut out = 1;
    for chunk in hash.chunks(5) {
        let v = chunk.iter().fold(0u64, |acc, &b| acc << 8 | b as u64);
        for k in (0..8).rev() {
            buf[out] = BASE32HEX_LOWER[(v >> (k * 5)) as usize & 31];
            out += 1;
        }
    }
    buf[out..out + apex.len()].copy_from_slice(apex);
    Some(out + apex.len())
}

impl Zone {
    /// How this zone proves non-existence (and whether it is signed).
    pub fn denial(&self) -> &Denial {
        &self.denial
    }

    /// The type an RRSIG RRset covers (0 for other types).
    #[inline]
    pub fn rrset_covers(&self, rrset: RrsetId) -> Rtype {
        if self.rrset(rrset).rtype != Rtype::RRSIG {
            return Rtype(0);
        }
        let w = self.rrset_wire(rrset);
        crate::zone::rrsig_covered(w.get(10..).unwrap_or(&[]))
    }

    /// The RRSIG RRset at `node` covering `rtype` (RFC 4035 §3.1.1).
    #[inline]
    pub fn sig_of(&self, node: NodeId, rtype: Rtype) -> Option<RrsetId> {
        self.node_rrsets(node)
            .find(|&r| self.rrset(r).rtype == Rtype::RRSIG && self.rrset_covers(r) == rtype)
    }

    /// The chain node at or before `target` (a lower-cased wire name) in
    /// canonical order; the last one when `target` comes before them all
    /// (the chain wraps, RFC 4034 §4.1.1, RFC 5155 §3.1.7).
    pub(crate) fn chain_at_or_before(&self, target: &[u8]) -> Option<NodeId> {
        let not_after = |name: &[u8]| canonical_cmp_wire(name, target) != Ordering::Greater;
        self.chain_candidate(Some(&not_after))
            .or_else(|| self.chain_candidate(None))
    }

    /// The last chain node satisfying `keep` (all when `None`), from the
    /// base (skipping names the overlay rewrote) and from the overlay.
    fn chain_candidate(&self, keep: Option<&NameTest<'_>>) -> Option<NodeId> {
        let base = &*self.base;
        let mut i = match keep {
            Some(f) => base.chain.partition_point(|&id| f(base.node_name(id))),
            None => base.chain.len(),
        };
        let mut best = None;
        while i > 0 {
            i -= 1;
            let id = base.chain[i];
            let rewritten = self
                .over
                .as_ref()
                .is_some_and(|o| o.arena.find(base.node_name(id)).is_some());
            if !rewritten {
                best = Some(id);
                break;
            }
        }
        if let Some(o) = &self.over {
            let oa = &o.arena;
            let j = match keep {
                Some(f) => oa.chain.partition_point(|&id| f(oa.node_name(id))),
                None => oa.chain.len(),
            };
            if j > 0 {
                let id = oa.chain[j - 1] | OVER;
                best = match best {
                    Some(b) if canonical_cmp_wire(self.node_name(b), self.node_name(id)) == Ordering::Greater => {
                        Some(b)
                    }
                    _ => Some(id),
                };
            }
        }
        best
    }

    /// NSEC: the NSEC RRset's node that covers or matches `name` (lower-cased
    /// wire form): the last NSEC owner at or before it.
    pub fn nsec_for(&self, name: &[u8]) -> Option<NodeId> {
        match self.denial {
            Denial::Nsec => self.chain_at_or_before(name),
            _ => None,
        }
    }

    /// NSEC3: the node of the NSEC3 whose hash matches (`true`) or covers
    /// (`false`) the hash of `name`.
    pub fn nsec3_for(&self, name: &[u8]) -> Option<(NodeId, bool)> {
        let Denial::Nsec3 { iterations, salt } = &self.denial else {
            return None;
        };
        let hash = nsec3_hash(name, salt, *iterations);
        let mut buf = [0u8; 255];
        let len = hashed_owner(&hash, self.apex.as_wire(), &mut buf)?;
        let owner = &buf[..len];
        if let Some(id) = self.find(owner) {
            if self.rrset_of(id, Rtype::NSEC3).is_some() {
                return Some((id, true));
            }
        }
        self.chain_at_or_before(owner).map(|id| (id, false))
    }

    /// Whether `node` exists only to hold an NSEC3 (and its RRSIG): RFC 5155
    /// §7.2.8 has such names answered as if they did not exist.
    #[inline]
    pub(crate) fn is_nsec3_only(&self, node: NodeId) -> bool {
        let n = self.node(node);
        n.children() == 0
            && self.rrset_of(node, Rtype::NSEC3).is_some()
            && self
                .node_rrsets(node)
                .all(|r| matches!(self.rrset(r).rtype, Rtype::NSEC3 | Rtype::RRSIG))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc5155_appendix_a_hashes() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let cases: [(&[u8], &str); 3] = [
            (b"\x07example\x00", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"),
            (b"\x01a\x07example\x00", "35mthgpgcu1qg68fab165klnsnk3dpvl"),
            (b"\x03ns1\x07example\x00", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"),
        ];
        for (name, want) in cases {
            let h = nsec3_hash(name, &salt, 12);
            let mut buf = [0u8; 255];
            let len = hashed_owner(&h, b"\x07example\x00", &mut buf).unwrap();
            assert_eq!(&buf[1..33], want.as_bytes());
            assert_eq!(&buf[33..len], b"\x07example\x00");
        }
    }
}
