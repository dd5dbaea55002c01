//! Domain names (RFC 1035 §3.1, §5.1; RFC 4343 case rules).
//!
//! A [`Name`] is always absolute and always valid: every constructor checks the
//! RFC 1035 limits (63 octets a label, 255 a name), so code past the parser never
//! meets a malformed name. It keeps the case it was written with (RFC 4343 §4.1:
//! case is preserved in data); comparisons that matter for lookup go through
//! [`Name::to_lowercase`] or [`Name::eq_ignore_case`].

use std::cmp::Ordering;
use std::fmt;

/// Longest name in wire form, RFC 1035 §2.3.4.
pub const MAX_NAME_LEN: usize = 255;
/// Longest label, RFC 1035 §2.3.4.
pub const MAX_LABEL_LEN: usize = 63;

/// An absolute domain name held in uncompressed wire form (length-prefixed labels
/// ending in the root label).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Name {
    wire: Box<[u8]>,
}

/// Why a name could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty label in \"{0}\"")]
    EmptyLabel(String),
    #[error("label longer than 63 octets in \"{0}\"")]
    LabelTooLong(String),
    #[error("name longer than 255 octets: \"{0}\"")]
    NameTooLong(String),
    #[error("bad escape in \"{0}\"")]
    BadEscape(String),
    #[error("relative name \"{0}\" and no origin to complete it")]
    NoOrigin(String),
    #[error("malformed wire name")]
    BadWire,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name { wire: Box::new([0]) }
    }

    /// Parses presentation form (RFC 1035 §5.1): `\X` and `\DDD` escapes, a
    /// trailing dot for absolute names; relative names are completed with `origin`.
    /// `@` is the origin itself.
    pub fn from_text(text: &str, origin: Option<&Name>) -> Result<Name, NameError> {
        if text == "@" {
            return origin.cloned().ok_or_else(|| NameError::NoOrigin(text.into()));
        }
        if text == "." {
            return Ok(Name::root());
        }
        let bytes = text.as_bytes();
        let mut wire = Vec::with_capacity(bytes.len() + 2);
        let mut label_start = 0usize;
        wire.push(0);
        let mut i = 0;
        let mut absolute = false;
        while i < bytes.len() {
            let c = bytes[i];
            match c {
                b'.' => {
                    let len = wire.len() - label_start - 1;
                    if len == 0 {
                        return Err(NameError::EmptyLabel(text.into()));
                    }
                    if len > MAX_LABEL_LEN {
                        return Err(NameError::LabelTooLong(text.into()));
                    }
                    wire[label_start] = len as u8;
                    if i + 1 == bytes.len() {
                        absolute = true;
                    } else {
                        label_start = wire.len();
                        wire.push(0);
                    }
                    i += 1;
                }
                b'\\' => {
                    let (b, used) = unescape(&bytes[i + 1..]).ok_or_else(|| NameError::BadEscape(text.into()))?;
                    wire.push(b);
                    i += 1 + used;
                }
                _ => {
                    wire.push(c);
                    i += 1;
                }
            }
        }
        if !absolute {
            let len = wire.len() - label_start - 1;
            if len == 0 {
                return Err(NameError::EmptyLabel(text.into()));
            }
            if len > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong(text.into()));
            }
            wire[label_start] = len as u8;
            let origin = origin.ok_or_else(|| NameError::NoOrigin(text.into()))?;
            wire.extend_from_slice(&origin.wire);
        } else {
            wire.push(0);
        }
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong(text.into()));
        }
        Ok(Name {
            wire: wire.into_boxed_slice(),
        })
    }

    /// Checks an uncompressed wire name (as found inside rdata or built by code).
    pub fn from_wire(wire: &[u8]) -> Result<Name, NameError> {
        let len = wire_name_len(wire).ok_or(NameError::BadWire)?;
        if len != wire.len() {
            return Err(NameError::BadWire);
        }
        Ok(Name { wire: wire.into() })
    }

    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        labels(&self.wire).count()
    }

    /// The labels from the leftmost, without the root.
    pub fn labels(&self) -> impl Iterator<Item = &[u8]> {
        labels(&self.wire)
    }

    /// The name with the leftmost label removed; `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        if self.is_root() {
            return None;
        }
        let skip = self.wire[0] as usize + 1;
        Some(Name {
            wire: self.wire[skip..].into(),
        })
    }

    /// `label.self`, for building names under a node (e.g. `*` for wildcards).
    pub fn prepend(&self, label: &[u8]) -> Result<Name, NameError> {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err(NameError::LabelTooLong(String::from_utf8_lossy(label).into()));
        }
        let mut wire = Vec::with_capacity(self.wire.len() + label.len() + 1);
        wire.push(label.len() as u8);
        wire.extend_from_slice(label);
        wire.extend_from_slice(&self.wire);
        if wire.len() > MAX_NAME_LEN {
            return Err(NameError::NameTooLong(self.to_string()));
        }
        Ok(Name {
            wire: wire.into_boxed_slice(),
        })
    }

    pub fn to_lowercase(&self) -> Name {
        let mut wire = self.wire.clone();
        lowercase_wire(&mut wire);
        Name { wire }
    }

    pub fn eq_ignore_case(&self, other: &Name) -> bool {
        self.wire.eq_ignore_ascii_case(&other.wire)
    }

    /// True when `self` is `other` or below it (case-insensitive).
    pub fn is_subdomain_of(&self, other: &Name) -> bool {
        wire_is_subdomain(&self.wire, &other.wire)
    }

    /// Is the leftmost label `*` (RFC 4592 §2.1.1)?
    pub fn is_wildcard(&self) -> bool {
        self.wire.len() >= 2 && self.wire[0] == 1 && self.wire[1] == b'*'
    }

    /// RFC 4034 §6.1 canonical order (label by label from the right,
    /// case-insensitive octet comparison).
    pub fn canonical_cmp(&self, other: &Name) -> Ordering {
        canonical_cmp_wire(&self.wire, &other.wire)
    }
}

/// Compares two valid wire names in RFC 4034 §6.1 order.
///
/// On the query path of a signed zone (the NSEC/NSEC3 chain's binary
/// search): the labels are found as one-octet offsets (a valid name is at
/// most 255 octets, 127 labels), so the two arrays cost 256 octets of stack
/// to clear rather than 4 KiB of slices, and equal labels are skipped with
/// one comparison before any case folding.
pub fn canonical_cmp_wire(a: &[u8], b: &[u8]) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let mut oa = [0u8; 128];
    let mut ob = [0u8; 128];
    let na = label_offsets(a, &mut oa);
    let nb = label_offsets(b, &mut ob);
    for i in 1..=na.min(nb) {
        let (x, y) = (label_at(a, oa[na - i]), label_at(b, ob[nb - i]));
        if x == y {
            continue;
        }
        let ord = x
            .iter()
            .map(u8::to_ascii_lowercase)
            .cmp(y.iter().map(u8::to_ascii_lowercase));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    na.cmp(&nb)
}

/// The offsets of the length octets of a valid wire name's labels (the
/// root's excluded); their number.
#[inline]
fn label_offsets(wire: &[u8], out: &mut [u8; 128]) -> usize {
    let mut pos = 0usize;
    let mut n = 0;
    while let Some(&len) = wire.get(pos) {
        if len == 0 {
            break;
        }
        out[n] = pos as u8;
        n += 1;
        pos += len as usize + 1;
    }
    n
}

#[inline]
fn label_at(wire: &[u8], off: u8) -> &[u8] {
    let off = off as usize;
    &wire[off + 1..off + 1 + wire[off] as usize]
}

/// True when wire name `a` is `b` or below it (case-insensitive).
pub fn wire_is_subdomain(a: &[u8], b: &[u8]) -> bool {
    if b.len() > a.len() {
        return false;
    }
    // The tail must also start on a label boundary of `a`.
    let start = a.len() - b.len();
    if !a[start..].eq_ignore_ascii_case(b) {
        return false;
    }
    let mut pos = 0;
    while pos < start {
        pos += a[pos] as usize + 1;
    }
    pos == start
}

/// Iterates the labels of a valid uncompressed wire name.
pub fn labels(wire: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        let len = *wire.get(pos)? as usize;
        if len == 0 {
            return None;
        }
        let label = &wire[pos + 1..pos + 1 + len];
        pos += len + 1;
        Some(label)
    })
}

/// Length of the uncompressed wire name at the start of `buf`, if valid.
pub fn wire_name_len(buf: &[u8]) -> Option<usize> {
    let mut pos = 0usize;
    loop {
        let len = *buf.get(pos)? as usize;
        if len > MAX_LABEL_LEN {
            return None;
        }
        pos += len + 1;
        if pos > MAX_NAME_LEN || pos > buf.len() {
            return None;
        }
        if len == 0 {
            return Some(pos);
        }
    }
}

/// ASCII-lowercases a wire name in place (length octets are < 64, never letters).
pub fn lowercase_wire(wire: &mut [u8]) {
    wire.make_ascii_lowercase();
}

fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    let c = *rest.first()?;
    if c.is_ascii_digit() {
        if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = (rest[0] - b'0') as u16 * 100 + (rest[1] - b'0') as u16 * 10 + (rest[2] - b'0') as u16;
        if v > 255 {
            return None;
        }
        Some((v as u8, 3))
    } else {
        Some((c, 1))
    }
}

/// Writes one label in presentation form, escaping what RFC 1035 §5.1 requires.
pub fn write_label(f: &mut impl fmt::Write, label: &[u8]) -> fmt::Result {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => write!(f, "\\{}", b as char)?,
            0x21..=0x7e => f.write_char(b as char)?,
            _ => write!(f, "\\{:03}", b)?,
        }
    }
    Ok(())
}

/// Writes a wire name in absolute presentation form.
pub fn write_wire_name(f: &mut impl fmt::Write, wire: &[u8]) -> fmt::Result {
    let mut any = false;
    for l in labels(wire) {
        write_label(f, l)?;
        f.write_char('.')?;
        any = true;
    }
    if !any {
        f.write_char('.')?;
    }
    Ok(())
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_wire_name(f, &self.wire)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    #[test]
    fn parses_absolute_relative_and_escapes() {
        let origin = n("example.com.");
        assert_eq!(
            Name::from_text("www", Some(&origin)).unwrap().to_string(),
            "www.example.com."
        );
        assert_eq!(Name::from_text("@", Some(&origin)).unwrap(), origin);
        assert_eq!(n("a\\.b.c.").label_count(), 2);
        assert_eq!(n("\\065.").as_wire(), &[1, b'A', 0]);
        assert_eq!(n("a\\.b.c.").to_string(), "a\\.b.c.");
        assert_eq!(n(".").as_wire(), &[0]);
    }

    #[test]
    fn rejects_rfc1035_limit_violations() {
        assert!(matches!(Name::from_text("a..b.", None), Err(NameError::EmptyLabel(_))));
        let long = "a".repeat(64) + ".";
        assert!(matches!(Name::from_text(&long, None), Err(NameError::LabelTooLong(_))));
        let many = "abcdefghi.".repeat(26);
        assert!(matches!(Name::from_text(&many, None), Err(NameError::NameTooLong(_))));
        assert!(Name::from_text("www", None).is_err());
        assert!(Name::from_text("a\\256.", None).is_err());
    }

    #[test]
    fn subdomain_respects_label_boundaries() {
        assert!(n("www.Example.com.").is_subdomain_of(&n("example.COM.")));
        assert!(!n("wwwexample.com.").is_subdomain_of(&n("example.com.")));
        assert!(n("x.").is_subdomain_of(&Name::root()));
    }

    #[test]
    fn canonical_order_matches_rfc4034_example() {
        // RFC 4034 §6.1 example, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        for w in names.windows(2) {
            assert_eq!(n(w[0]).canonical_cmp(&n(w[1])), Ordering::Less, "{} < {}", w[0], w[1]);
        }
    }

    /// RFC 4034 §6.1 spelled out plainly: the labels from the right, each
    /// compared case-folded as unsigned octets, a prefix first.
    fn canonical_cmp_reference(a: &[u8], b: &[u8]) -> Ordering {
        let la: Vec<Vec<u8>> = labels(a).map(|l| l.to_ascii_lowercase()).collect();
        let lb: Vec<Vec<u8>> = labels(b).map(|l| l.to_ascii_lowercase()).collect();
        la.iter().rev().cmp(lb.iter().rev())
    }

    proptest::proptest! {
        #[test]
        fn canonical_cmp_wire_matches_the_reference(
            a in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(b"aAbBzZ09-*\x00\xc8".to_vec()), 0..4), 0..5),
            b in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(b"aAbBzZ09-*\x00\xc8".to_vec()), 0..4), 0..5),
            shared in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(b"aAeExX".to_vec()), 1..4), 0..3),
        ) {
            let wire = |own: &Vec<Vec<u8>>| {
                let mut w = Vec::new();
                for l in own.iter().chain(shared.iter()).filter(|l| !l.is_empty()) {
                    w.push(l.len() as u8);
                    w.extend_from_slice(l);
                }
                w.push(0);
                w
            };
            let (x, y) = (wire(&a), wire(&b));
            proptest::prop_assert_eq!(canonical_cmp_wire(&x, &y), canonical_cmp_reference(&x, &y));
            proptest::prop_assert_eq!(canonical_cmp_wire(&y, &x), canonical_cmp_reference(&y, &x));
            proptest::prop_assert_eq!(canonical_cmp_wire(&x, &x), Ordering::Equal);
        }
    }
}
