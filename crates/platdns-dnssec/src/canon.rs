//! Canonical forms (RFC 4034 §6), the data an RRSIG covers (§3.1.8.1), type
//! bit maps (§4.1.2) and the NSEC3 hash (RFC 5155 §5).

use platdns_zone::name::{wire_name_len, MAX_NAME_LEN};
use platdns_zone::{Name, Rtype};
use std::borrow::Cow;

/// Where the domain names are in the rdata of the types RFC 4034 §6.2 item 3
/// lists (as corrected by RFC 6840 §5.1, which takes NSEC out: its next name
/// is signed as written). Each entry: octets to skip before a name, whether
/// another name follows it, and whether character strings come first (NAPTR).
fn name_fields(rtype: Rtype) -> Option<&'static [NameField]> {
    use NameField::*;
    Some(match rtype.0 {
        // NS, MD, MF, CNAME, MB, MG, MR, PTR, DNAME: one name.
        2 | 3 | 4 | 5 | 7 | 8 | 9 | 12 | 39 => &[Name],
        // SOA (MNAME RNAME ...), MINFO, RP: two names.
        6 | 14 | 17 => &[Name, Name],
        // MX, AFSDB, RT, KX: 16-bit preference then a name.
        15 | 18 | 21 | 36 => &[Skip(2), Name],
        // PX: preference, MAP822, MAPX400.
        26 => &[Skip(2), Name, Name],
        // SRV: priority, weight, port, target.
        33 => &[Skip(6), Name],
        // NAPTR: order, preference, three character strings, replacement.
        35 => &[Skip(4), Strings(3), Name],
        // RRSIG / SIG: 18 fixed octets then the signer's name.
        24 | 46 => &[Skip(18), Name],
        _ => return None,
    })
}

enum NameField {
    Skip(usize),
    Strings(usize),
    Name,
}

/// The rdata in canonical form: names inside it lowercased for the RFC 4034
/// §6.2 types, unchanged otherwise. Malformed rdata is returned as is (it is
/// then signed as it will be served).
pub fn canonical_rdata(rtype: Rtype, rdata: &[u8]) -> Cow<'_, [u8]> {
    let Some(fields) = name_fields(rtype) else {
        return Cow::Borrowed(rdata);
    };
    let mut spans: [(usize, usize); 3] = [(0, 0); 3];
    let mut nspans = 0;
    let mut pos = 0usize;
    for f in fields {
        match *f {
            NameField::Skip(k) => pos += k,
            NameField::Strings(k) => {
                for _ in 0..k {
                    match rdata.get(pos) {
                        Some(&l) => pos += 1 + l as usize,
                        None => return Cow::Borrowed(rdata),
                    }
                }
            }
            NameField::Name => {
                let Some(len) = rdata.get(pos..).and_then(wire_name_len) else {
                    return Cow::Borrowed(rdata);
                };
                spans[nspans] = (pos, pos + len);
                nspans += 1;
                pos += len;
            }
        }
    }
    if !spans[..nspans]
        .iter()
        .any(|&(a, b)| rdata[a..b].iter().any(u8::is_ascii_uppercase))
    {
        return Cow::Borrowed(rdata);
    }
    let mut out = rdata.to_vec();
    for &(a, b) in &spans[..nspans] {
        out[a..b].make_ascii_lowercase();
    }
    Cow::Owned(out)
}

/// A byte string whose plain octet order is RFC 4034 §6.1 canonical name
/// order: the labels from the root, lowercased, each ended by a 0 octet, with
/// octets 0 and 1 escaped as `1 1` / `1 2` so the terminator sorts first.
/// A name's descendants are exactly the keys that start with its key.
pub fn canonical_key(name: &Name) -> Vec<u8> {
    let labels: Vec<&[u8]> = name.labels().collect();
    let mut key = Vec::with_capacity(name.as_wire().len() + 4);
    for l in labels.iter().rev() {
        for &b in l.iter() {
            match b {
                0 => key.extend_from_slice(&[1, 1]),
                1 => key.extend_from_slice(&[1, 2]),
                _ => key.push(b.to_ascii_lowercase()),
            }
        }
        key.push(0);
    }
    key
}

/// The name a [`canonical_key`] was made from (lowercase).
pub fn name_from_key(key: &[u8]) -> Option<Name> {
    let mut labels: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < key.len() {
        match key[i] {
            0 => labels.push(std::mem::take(&mut cur)),
            1 => {
                cur.push(key.get(i + 1)? - 1);
                i += 1;
            }
            b => cur.push(b),
        }
        i += 1;
    }
    let mut wire = Vec::with_capacity(key.len() + 1);
    for l in labels.iter().rev() {
        wire.push(u8::try_from(l.len()).ok()?);
        wire.extend_from_slice(l);
    }
    wire.push(0);
    if wire.len() > MAX_NAME_LEN {
        return None;
    }
    Name::from_wire(&wire).ok()
}

/// RFC 4034 §4.1.2 type bit map of a sorted, deduplicated list of types.
pub fn type_bitmap(types: &[Rtype]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i].0 >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < types.len() && (types[i].0 >> 8) as u8 == window {
            let low = (types[i].0 & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            used = used.max(low / 8 + 1);
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    out
}

/// The types a bit map lists (for tests and verification).
pub fn bitmap_types(mut map: &[u8]) -> Option<Vec<Rtype>> {
    let mut out = Vec::new();
    while !map.is_empty() {
        let window = *map.first()? as u16;
        let len = *map.get(1)? as usize;
        let bits = map.get(2..2 + len)?;
        for (i, &b) in bits.iter().enumerate() {
            for j in 0..8 {
                if b & (0x80 >> j) != 0 {
                    out.push(Rtype(window << 8 | (i * 8 + j) as u16));
                }
            }
        }
        map = &map[2 + len..];
    }
    Some(out)
}

/// RFC 5155 §5: the NSEC3 hash of an owner name (SHA-1, `iterations`
/// extra rounds, `salt`), as the query path computes it
/// ([`platdns_zone::denial::nsec3_hash`]), over its lower-cased form.
pub fn nsec3_hash(name: &Name, salt: &[u8], iterations: u16) -> [u8; 20] {
    platdns_zone::denial::nsec3_hash(name.to_lowercase().as_wire(), salt, iterations)
}

/// The owner of the NSEC3 for a hash: base32hex label (RFC 5155 §3.3) under the apex.
pub fn nsec3_owner(hash: &[u8], apex: &Name) -> Option<Name> {
    let label = data_encoding::BASE32HEX_NOPAD.encode(hash).to_ascii_lowercase();
    apex.prepend(label.as_bytes()).ok()
}

/// The fixed fields of an RRSIG (RFC 4034 §3.1), signature left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsigHeader {
    pub type_covered: Rtype,
    pub algorithm: u8,
    pub labels: u8,
    pub original_ttl: u32,
    pub expiration: u32,
    pub inception: u32,
    pub key_tag: u16,
    pub signer: Name,
}

impl RrsigHeader {
    /// Rdata without the signature, signer in canonical (lowercase) form as
    /// RFC 4034 §3.1.7 / §6.2 require both in the data signed and on the wire.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut d = Vec::with_capacity(18 + self.signer.as_wire().len() + 64);
        d.extend_from_slice(&self.type_covered.0.to_be_bytes());
        d.push(self.algorithm);
        d.push(self.labels);
        d.extend_from_slice(&self.original_ttl.to_be_bytes());
        d.extend_from_slice(&self.expiration.to_be_bytes());
        d.extend_from_slice(&self.inception.to_be_bytes());
        d.extend_from_slice(&self.key_tag.to_be_bytes());
        d.extend_from_slice(self.signer.to_lowercase().as_wire());
        d
    }

    /// Parses RRSIG rdata into its header and signature.
    pub fn parse(rdata: &[u8]) -> Option<(RrsigHeader, &[u8])> {
        if rdata.len() < 19 {
            return None;
        }
        let u32_at = |i: usize| u32::from_be_bytes([rdata[i], rdata[i + 1], rdata[i + 2], rdata[i + 3]]);
        let len = wire_name_len(&rdata[18..])?;
        let signer = Name::from_wire(&rdata[18..18 + len]).ok()?;
        Some((
            RrsigHeader {
                type_covered: Rtype(u16::from_be_bytes([rdata[0], rdata[1]])),
                algorithm: rdata[2],
                labels: rdata[3],
                original_ttl: u32_at(4),
                expiration: u32_at(8),
                inception: u32_at(12),
                key_tag: u16::from_be_bytes([rdata[16], rdata[17]]),
                signer,
            },
            &rdata[18 + len..],
        ))
    }
}

/// The RRSIG labels field (RFC 4034 §3.1.3): labels of the owner, the root
/// and a leading `*` not counted.
pub fn rrsig_labels(owner: &Name) -> u8 {
    let n = owner.label_count();
    (if owner.is_wildcard() { n - 1 } else { n }) as u8
}

/// The octets an RRSIG signs (RFC 4034 §3.1.8.1): its rdata without the
/// signature, then each RR of the set in canonical form (§6.2) and canonical
/// order (§6.3, duplicates removed), TTL replaced by the original TTL.
/// `owner` is the RRset's owner; when the RRSIG's labels field is smaller
/// (a wildcard expansion, RFC 4035 §5.3.2) the owner is rebuilt as `*.` and
/// the rightmost `labels` labels.
pub fn signed_data(header: &RrsigHeader, owner: &Name, class: u16, rdatas: &[&[u8]]) -> Vec<u8> {
    let mut owner = owner.to_lowercase();
    let n = owner.label_count();
    if (header.labels as usize) < n {
        let mut o = owner;
        for _ in 0..n - header.labels as usize {
            o = o.parent().unwrap_or_else(Name::root);
        }
        owner = o.prepend(b"*").unwrap_or_else(|_| Name::root());
    }
    let mut canon: Vec<Cow<[u8]>> = rdatas.iter().map(|r| canonical_rdata(header.type_covered, r)).collect();
    canon.sort();
    canon.dedup();
    let ow = owner.as_wire();
    let mut data = header.to_wire();
    for r in &canon {
        data.extend_from_slice(ow);
        data.extend_from_slice(&header.type_covered.0.to_be_bytes());
        data.extend_from_slice(&class.to_be_bytes());
        data.extend_from_slice(&header.original_ttl.to_be_bytes());
        data.extend_from_slice(&(r.len() as u16).to_be_bytes());
        data.extend_from_slice(r);
    }
    data
}

/// `a <= b` for 32-bit signature times, in RFC 1982 serial arithmetic
/// (RFC 4034 §3.1.5).
pub fn serial_le(a: u32, b: u32) -> bool {
    platdns_zone::Serial(b).at_or_after(platdns_zone::Serial(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    #[test]
    fn canonical_rdata_lowercases_listed_types_only() {
        let mut mx = vec![0, 10];
        mx.extend_from_slice(n("Mail.Example.").as_wire());
        let c = canonical_rdata(Rtype::MX, &mx);
        assert_eq!(&c[2..], n("mail.example.").as_wire());
        // NSEC's next name is signed as written (RFC 6840 §5.1).
        let nsec = n("B.example.").as_wire().to_vec();
        assert_eq!(&*canonical_rdata(Rtype::NSEC, &nsec), &nsec[..]);
        // SVCB targets are not in the list (RFC 9460 §2.2).
        let mut svcb = vec![0, 1];
        svcb.extend_from_slice(n("X.example.").as_wire());
        assert_eq!(&*canonical_rdata(Rtype::SVCB, &svcb), &svcb[..]);
        // NAPTR: the replacement after three character strings.
        let mut naptr = vec![0, 1, 0, 2, 1, b'U', 0, 0];
        naptr.extend_from_slice(n("A.b.").as_wire());
        assert_eq!(&canonical_rdata(Rtype(35), &naptr)[8..], n("a.b.").as_wire());
        // Truncated data is left alone rather than panicking.
        assert_eq!(&*canonical_rdata(Rtype::SOA, &[3, b'A']), &[3, b'A']);
    }

    #[test]
    fn canonical_key_orders_like_rfc4034() {
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\000.z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        for w in names.windows(2) {
            assert!(canonical_key(&n(w[0])) < canonical_key(&n(w[1])), "{} < {}", w[0], w[1]);
            assert_eq!(n(w[0]).canonical_cmp(&n(w[1])), std::cmp::Ordering::Less);
        }
        for s in names {
            assert_eq!(name_from_key(&canonical_key(&n(s))).unwrap(), n(s).to_lowercase());
        }
        assert!(canonical_key(&n("a.b.example.")).starts_with(&canonical_key(&n("b.example."))));
        assert!(!canonical_key(&n("ab.example.")).starts_with(&canonical_key(&n("a.example."))));
    }

    #[test]
    fn nsec3_hash_matches_rfc5155_appendix_a() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let h = nsec3_hash(&n("example."), &salt, 12);
        assert_eq!(
            data_encoding::BASE32HEX_NOPAD.encode(&h).to_ascii_lowercase(),
            "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"
        );
        let h = nsec3_hash(&n("a.example."), &salt, 12);
        assert_eq!(
            data_encoding::BASE32HEX_NOPAD.encode(&h).to_ascii_lowercase(),
            "35mthgpgcu1qg68fab165klnsnk3dpvl"
        );
    }

    #[test]
    fn bitmaps_round_trip() {
        let types = [
            Rtype::A,
            Rtype::NS,
            Rtype::SOA,
            Rtype::RRSIG,
            Rtype::NSEC,
            Rtype::DNSKEY,
            Rtype::CAA,
        ];
        let map = type_bitmap(&types);
        assert_eq!(bitmap_types(&map).unwrap(), types.to_vec());
        assert!(type_bitmap(&[]).is_empty());
    }

    #[test]
    fn wildcard_labels_and_serial_order() {
        assert_eq!(rrsig_labels(&n("*.a.example.")), 2);
        assert_eq!(rrsig_labels(&n("a.example.")), 2);
        assert!(serial_le(u32::MAX - 5, 10));
        assert!(!serial_le(10, u32::MAX - 5));
    }
}
