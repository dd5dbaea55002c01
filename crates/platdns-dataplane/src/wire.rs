//! Reading a query off the wire (RFC 1035 §4.1, RFC 6891 §6). This module
//! never opens a socket; it only looks at bytes, and every length taken from
//! the packet is checked before use.

use platdns_zone::name::MAX_NAME_LEN;
use platdns_zone::Rtype;

pub const HEADER_LEN: usize = 12;

/// Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2 for AD/CD).
pub mod hdr {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const CD: u16 = 0x0010;
    pub const OPCODE_MASK: u16 = 0x7800;
}

/// Response codes, including the EDNS extended BADVERS (RFC 6891 §9).
pub mod rcode {
    pub const NOERROR: u16 = 0;
    pub const FORMERR: u16 = 1;
    pub const SERVFAIL: u16 = 2;
    pub const NXDOMAIN: u16 = 3;
    pub const NOTIMP: u16 = 4;
    pub const REFUSED: u16 = 5;
    pub const NOTAUTH: u16 = 9;
    pub const BADVERS: u16 = 16;
}

/// The EDNS view of a query (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    /// DNSSEC OK (RFC 3225).
    pub dnssec_ok: bool,
}

impl Edns {
    /// The OPT record of a response to a query with this EDNS (RFC 6891
    /// §6.1.3): root owner, our payload size, `rcode`'s high bits (BADVERS),
    /// version 0, DO echoed (RFC 3225 §3), no options.
    pub fn response_opt(&self, udp_size: u16, rcode: u16) -> [u8; 11] {
        let ext = ((rcode >> 4) & 0xff) as u8;
        let do_bit = if self.dnssec_ok { 0x80 } else { 0 };
        let size = udp_size.to_be_bytes();
        [0, 0, 41, size[0], size[1], ext, 0, do_bit, 0, 0, 0]
    }
}

/// A parsed query: all fields borrowed from the packet or copied into fixed
/// arrays, so parsing allocates nothing.
#[derive(Debug, Clone)]
pub struct Query {
    pub id: u16,
    pub flags: u16,
    /// End of the question section in the packet; the response copies
    /// `packet[12..question_end]` so the QNAME's case is preserved.
    pub question_end: usize,
    pub qname_lower: [u8; MAX_NAME_LEN],
    pub qname_len: usize,
    pub qtype: Rtype,
    pub qclass: u16,
    pub edns: Option<Edns>,
    /// Where the TSIG record starts (RFC 8945: the last record), if any.
    pub tsig_at: Option<usize>,
}

impl Query {
    pub fn qname(&self) -> &[u8] {
        &self.qname_lower[..self.qname_len]
    }

    pub fn opcode(&self) -> u16 {
        (self.flags & hdr::OPCODE_MASK) >> 11
    }
}

/// Why a packet got no ordinary answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Too short for a header, or a response: send nothing (RFC 1035 §4.1.1;
    /// answering responses invites loops).
    Drop,
    /// Malformed: answer FORMERR. `question_end` is set when the question
    /// itself parsed, so it can be echoed.
    FormErr { question_end: Option<usize> },
}

fn u16_at(p: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]))
}

/// A message this process sends to another name server (RFC 1035 §4.1):
/// a query (an SOA check, a DS or TXT lookup, an IXFR carrying the SOA held,
/// RFC 1995 §3) or a NOTIFY carrying the new SOA (RFC 1996 §3.7). The one
/// builder of the secondary side, NOTIFY, the resolver and the prober.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub id: u16,
    /// 0 QUERY, 4 NOTIFY.
    pub opcode: u8,
    pub recursion_desired: bool,
    /// AA: a NOTIFY from the zone's primary says it is authoritative.
    pub authoritative: bool,
    /// The question's name, uncompressed wire form; class IN.
    pub qname: &'a [u8],
    pub qtype: u16,
    /// One answer record in wire form (a NOTIFY's SOA).
    pub answer: Option<&'a [u8]>,
    /// One authority record in wire form (an IXFR's SOA).
    pub authority: Option<&'a [u8]>,
    /// An OPT record offering this UDP payload size (RFC 6891 §6.1.2).
    pub edns: Option<u16>,
}

impl<'a> Outgoing<'a> {
    /// A plain query: no RD, nothing but the question.
    pub fn query(id: u16, qname: &'a [u8], qtype: u16) -> Outgoing<'a> {
        Outgoing {
            id,
            opcode: 0,
            recursion_desired: false,
            authoritative: false,
            qname,
            qtype,
            answer: None,
            authority: None,
            edns: None,
        }
    }

    pub fn to_wire(&self) -> Vec<u8> {
        let extra = self.answer.map_or(0, <[u8]>::len) + self.authority.map_or(0, <[u8]>::len);
        let mut m = Vec::with_capacity(HEADER_LEN + self.qname.len() + 4 + extra + 11);
        m.extend_from_slice(&self.id.to_be_bytes());
        let mut flags = u16::from(self.opcode & 0x0f) << 11;
        if self.recursion_desired {
            flags |= hdr::RD;
        }
        if self.authoritative {
            flags |= hdr::AA;
        }
        m.extend_from_slice(&flags.to_be_bytes());
        for count in [
            1,
            u16::from(self.answer.is_some()),
            u16::from(self.authority.is_some()),
            u16::from(self.edns.is_some()),
        ] {
            m.extend_from_slice(&count.to_be_bytes());
        }
        m.extend_from_slice(self.qname);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for rr in [self.answer, self.authority].into_iter().flatten() {
            m.extend_from_slice(rr);
        }
        if let Some(size) = self.edns {
            // Root owner, OPT, the payload size, no extended RCODE or flags,
            // no options.
            m.extend_from_slice(&[0, 0, 41]);
            m.extend_from_slice(&size.to_be_bytes());
            m.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        }
        m
    }
}

/// The most compression pointers one name may follow: a name has at most
/// 127 labels, so more pointers than that is a loop.
const MAX_HOPS: usize = 127;

/// Walks the possibly compressed name at `m[at..]` (RFC 1035 §4.1.4): hands
/// each label, its length octet first and the root's `[0]` last, to `label`,
/// which returns false to stop. Returns the offset just after the name as
/// written (after its first pointer, if it has one). `None` for a malformed
/// name: a label type other than 0b00 or 0b11 (RFC 6891 §5 retired the
/// extended ones), more than [`MAX_HOPS`] pointers (a loop), more than 255
/// octets (RFC 1035 §2.3.4), or an end past the message. The one name
/// reader of the DNS node, secondary pulls, NOTIFY, TSIG and the resolver.
#[inline]
pub fn walk_name(m: &[u8], mut at: usize, mut label: impl FnMut(&[u8]) -> bool) -> Option<usize> {
    let (mut end, mut hops, mut total) = (None, 0, 0);
    loop {
        let len = *m.get(at)?;
        match len {
            0..=63 => {
                let l = m.get(at..at + 1 + usize::from(len))?;
                total += l.len();
                if total > 255 || !label(l) {
                    return None;
                }
                at += l.len();
                if len == 0 {
                    return Some(end.unwrap_or(at));
                }
            }
            0xC0..=0xFF => {
                let low = *m.get(at + 1)?;
                end.get_or_insert(at + 2);
                hops += 1;
                if hops > MAX_HOPS {
                    return None;
                }
                at = usize::from(len & 0x3F) << 8 | usize::from(low);
            }
            _ => return None,
        }
    }
}

/// The name at `m[at..]` in uncompressed wire form, and the offset after
/// it as written.
pub fn read_name(m: &[u8], at: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let end = walk_name(m, at, |l| {
        out.extend_from_slice(l);
        true
    })?;
    Some((out, end))
}

/// Whether the name at `m[at..]` is `name` (uncompressed wire form),
/// ignoring ASCII case.
#[inline]
pub fn name_eq(m: &[u8], at: usize, name: &[u8]) -> bool {
    let mut i = 0;
    let walked = walk_name(m, at, |l| {
        let same = name.get(i..i + l.len()).is_some_and(|w| w.eq_ignore_ascii_case(l));
        i += l.len();
        same
    });
    walked.is_some() && i == name.len()
}

/// A response's records but OPT, names decompressed (in the owner and, for
/// the types RFC 3597 §4 lets senders compress, in the rdata): the answer
/// section's, and the others'. How the secondary side, the resolver and
/// the tests read what other servers (and this one) answered.
pub fn response_records(m: &[u8]) -> Result<(Vec<platdns_zone::Record>, Vec<platdns_zone::Record>), String> {
    let bad = || "a malformed message".to_string();
    let count = |at: usize| u16::from_be_bytes([m[at], m[at + 1]]) as usize;
    if m.len() < 12 {
        return Err(bad());
    }
    let mut at = 12;
    for _ in 0..count(4) {
        let (_, next) = read_name(m, at).ok_or_else(bad)?;
        at = next + 4;
    }
    let mut out = Vec::new();
    let mut rest = Vec::new();
    let answers = count(6);
    for i in 0..(count(6) + count(8) + count(10)) {
        let (owner, next) = read_name(m, at).ok_or_else(bad)?;
        let field = |i: usize| -> Option<u16> { Some(u16::from_be_bytes([*m.get(next + i)?, *m.get(next + i + 1)?])) };
        let rtype = Rtype(field(0).ok_or_else(bad)?);
        let ttl = u32::from_be_bytes(
            m.get(next + 4..next + 8)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        let rdlen = field(8).ok_or_else(bad)? as usize;
        let rd = next + 10;
        let raw = m.get(rd..rd + rdlen).ok_or_else(bad)?;
        let rdata = decompress_rdata(m, rd, rdlen, rtype).unwrap_or_else(|| raw.to_vec());
        at = rd + rdlen;
        if rtype == Rtype::OPT {
            continue;
        }
        let r = platdns_zone::Record {
            owner: platdns_zone::Name::from_wire(&owner).map_err(|_| bad())?,
            ttl,
            class: platdns_zone::Class::IN,
            rtype,
            rdata,
            pos: Default::default(),
        };
        if i < answers {
            out.push(r);
        } else {
            rest.push(r);
        }
    }
    Ok((out, rest))
}

/// Rdata with its names decompressed, for the types whose rdata names a
/// sender may compress (RFC 3597 §4: RFC 1035's, and MX-like ones).
fn decompress_rdata(m: &[u8], rd: usize, rdlen: usize, t: Rtype) -> Option<Vec<u8>> {
    let names_then_rest = |prefix: usize, names: usize| -> Option<Vec<u8>> {
        let mut out = m.get(rd..rd + prefix)?.to_vec();
        let mut at = rd + prefix;
        for _ in 0..names {
            let (n, next) = read_name(m, at)?;
            out.extend_from_slice(&n);
            at = next;
        }
        out.extend_from_slice(m.get(at..rd + rdlen)?);
        Some(out)
    };
    match t {
        Rtype::NS | Rtype::CNAME | Rtype::PTR | Rtype::DNAME => names_then_rest(0, 1),
        Rtype::MX => names_then_rest(2, 1),
        Rtype::SOA => names_then_rest(0, 2),
        Rtype::SRV => names_then_rest(6, 1),
        _ => None,
    }
}

/// Skips a possibly compressed name in a record; returns the offset after it.
pub(crate) fn skip_name(p: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *p.get(at)?;
        match len {
            0 => return Some(at + 1),
            1..=63 => at += 1 + len as usize,
            0xC0..=0xFF => {
                p.get(at + 1)?;
                return Some(at + 2);
            }
            _ => return None,
        }
    }
}

/// Parses a query packet.
pub fn parse_query(p: &[u8]) -> Result<Query, Reject> {
    if p.len() < HEADER_LEN {
        return Err(Reject::Drop);
    }
    let id = u16::from_be_bytes([p[0], p[1]]);
    let flags = u16::from_be_bytes([p[2], p[3]]);
    if flags & hdr::QR != 0 {
        return Err(Reject::Drop);
    }
    let qdcount = u16::from_be_bytes([p[4], p[5]]);
    let ancount = u16::from_be_bytes([p[6], p[7]]);
    let nscount = u16::from_be_bytes([p[8], p[9]]);
    let arcount = u16::from_be_bytes([p[10], p[11]]);
    if qdcount != 1 {
        return Err(Reject::FormErr { question_end: None });
    }
    // QNAME: uncompressed labels (a pointer has nothing to point back to).
    let mut q = Query {
        id,
        flags,
        question_end: 0,
        qname_lower: [0; MAX_NAME_LEN],
        qname_len: 0,
        qtype: Rtype(0),
        qclass: 0,
        edns: None,
        tsig_at: None,
    };
    let mut at = HEADER_LEN;
    loop {
        let len = *p.get(at).ok_or(Reject::FormErr { question_end: None })? as usize;
        if len > 63 || q.qname_len + len + 1 > MAX_NAME_LEN {
            return Err(Reject::FormErr { question_end: None });
        }
        let label = p.get(at..at + 1 + len).ok_or(Reject::FormErr { question_end: None })?;
        q.qname_lower[q.qname_len..q.qname_len + 1 + len].copy_from_slice(label);
        q.qname_len += 1 + len;
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    q.qname_lower[..q.qname_len].make_ascii_lowercase();
    q.qtype = Rtype(u16_at(p, at).ok_or(Reject::FormErr { question_end: None })?);
    q.qclass = u16_at(p, at + 2).ok_or(Reject::FormErr { question_end: None })?;
    at += 4;
    q.question_end = at;
    let formerr = Reject::FormErr { question_end: Some(at) };

    let records = read_records(p, at, ancount, nscount, arcount).ok_or(formerr)?;
    if records.tsig_misplaced {
        return Err(formerr);
    }
    q.edns = records.edns;
    q.tsig_at = records.tsig_at;
    Ok(q)
}

/// What the records after a query's questions say.
struct Records {
    edns: Option<Edns>,
    /// Where the TSIG record starts.
    tsig_at: Option<usize>,
    /// A TSIG that is not the last record of the additional section
    /// (RFC 8945 §5.1).
    tsig_misplaced: bool,
}

/// Reads the answer, authority and additional records from `at`: the OPT
/// (RFC 6891 §6.1.1: one, in the additional section, owned by root) and
/// the TSIG. `None`: a record does not parse, or the OPT breaks those
/// rules. Allocates nothing (the query path).
#[inline]
fn read_records(p: &[u8], mut at: usize, an: u16, ns: u16, ar: u16) -> Option<Records> {
    let (an_ns, all) = (
        u32::from(an) + u32::from(ns),
        u32::from(an) + u32::from(ns) + u32::from(ar),
    );
    let mut r = Records {
        edns: None,
        tsig_at: None,
        tsig_misplaced: false,
    };
    for i in 0..all {
        let owner_at = at;
        at = skip_name(p, at)?;
        let rtype = u16_at(p, at)?;
        let class = u16_at(p, at + 2)?;
        let ttl_hi = u16_at(p, at + 4)?;
        let rdlen = u16_at(p, at + 8)? as usize;
        at += 10;
        if p.len() < at + rdlen {
            return None;
        }
        let in_additional = i >= an_ns;
        if rtype == 250 {
            r.tsig_misplaced |= !in_additional || i + 1 != all;
            r.tsig_at = Some(owner_at);
        }
        if rtype == Rtype::OPT.0 {
            if !in_additional || r.edns.is_some() || p[owner_at] != 0 {
                return None;
            }
            r.edns = Some(Edns {
                udp_size: class,
                version: (ttl_hi & 0xff) as u8,
                dnssec_ok: u16_at(p, at - 4)? & 0x8000 != 0,
            });
        }
        at += rdlen;
    }
    Some(r)
}

/// The EDNS of a query [`parse_query`] turned away with FORMERR (no single
/// question, say), when its records still parse and hold one OPT in the
/// additional section: the FORMERR then carries an OPT too (RFC 6891
/// §6.1.1). Off the hot path: only FORMERR answers come here.
pub fn opt_of_malformed(p: &[u8]) -> Option<Edns> {
    let (qd, an, ns, ar) = (u16_at(p, 4)?, u16_at(p, 6)?, u16_at(p, 8)?, u16_at(p, 10)?);
    let mut at = HEADER_LEN;
    for _ in 0..qd {
        at = skip_name(p, at)? + 4;
    }
    read_records(p, at, an, ns, ar)?.edns
}

/// The TSIG record of a message (a response, or any message with its
/// questions), if its last record is one.
pub fn parse_response_tsig(m: &[u8]) -> Option<crate::tsig::Record> {
    if m.len() < HEADER_LEN {
        return None;
    }
    let count = |at: usize| u32::from(u16::from_be_bytes([m[at], m[at + 1]]));
    let mut at = HEADER_LEN;
    for _ in 0..count(4) {
        at = skip_name(m, at)? + 4;
    }
    let records = count(6) + count(8) + count(10);
    let mut last = None;
    for _ in 0..records {
        last = Some(at);
        at = skip_name(m, at)?;
        let rdlen = u16::from_be_bytes([*m.get(at + 8)?, *m.get(at + 9)?]) as usize;
        at += 10 + rdlen;
    }
    crate::tsig::parse(m, last?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_messages_carry_what_they_say() {
        let name = b"\x07example\x00";
        let q = Outgoing::query(0x1234, name, 6).to_wire();
        assert_eq!(&q[..12], &[0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..], b"\x07example\x00\x00\x06\x00\x01");
        // Our own parser reads it back as the query it is.
        let parsed = parse_query(&q).unwrap();
        assert_eq!((parsed.qtype, parsed.qname()), (Rtype::SOA, &name[..]));
        let soa = [0xc0, 0x0c, 0, 6, 0, 1, 0, 0, 0, 0, 0, 2, 0, 0];
        let notify = Outgoing {
            opcode: 4,
            authoritative: true,
            answer: Some(&soa),
            edns: Some(1232),
            ..Outgoing::query(7, name, 6)
        }
        .to_wire();
        assert_eq!(u16::from_be_bytes([notify[2], notify[3]]), (4 << 11) | hdr::AA);
        assert_eq!(&notify[4..12], &[0, 1, 0, 1, 0, 0, 0, 1]);
        assert_eq!(&notify[notify.len() - 11..], &[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn names_are_walked_through_pointers_and_bad_ones_refused() {
        // Header, then "example." at 12, then "WWW" + pointer to 12 at 21.
        let mut m = vec![0; 12];
        m.extend_from_slice(b"\x07example\x00\x03WWW\xc0\x0c");
        assert_eq!(read_name(&m, 21), Some((b"\x03WWW\x07example\x00".to_vec(), 27)));
        assert!(name_eq(&m, 21, b"\x03www\x07EXAMPLE\x00"));
        assert!(!name_eq(&m, 21, b"\x03www\x07example\x03com\x00"));
        assert!(!name_eq(&m, 12, b"\x03www\x07example\x00"));
        assert_eq!(skip_name(&m, 21), Some(27));
        // A pointer to itself, and two pointing at each other: loops end.
        assert_eq!(read_name(&[0xc0, 0x00], 0), None);
        assert_eq!(read_name(&[0xc0, 0x02, 0xc0, 0x00], 0), None);
        // Label types 0b01 and 0b10 (RFC 6891 §5) are not names.
        assert_eq!(read_name(&[0x41, 0x00], 0), None);
        assert_eq!(read_name(&[0x80, 0x00], 0), None);
        // Past the end, and longer than 255 octets.
        assert_eq!(read_name(b"\x05ab", 0), None);
        let mut long = Vec::new();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.push(0);
        assert_eq!(read_name(&long, 0), None);
    }

    use platdns_testkit::dns::{Edns as TestEdns, Query as TestQuery};

    /// A query whose question name is given in wire form, as it may be
    /// malformed (the testkit's builder writes only good names).
    fn raw_query(name: &[u8]) -> Vec<u8> {
        let mut p = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        p.extend_from_slice(name);
        p.extend_from_slice(&[0, 1, 0, 1]);
        p
    }

    const OPT: [u8; 11] = [0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0];

    /// A query with the DO bit, whose OPT is [`OPT`].
    fn with_opt(qname: &str) -> Vec<u8> {
        let edns = TestEdns {
            dnssec_ok: true,
            ..TestEdns::default()
        };
        TestQuery::new(qname, 1).edns(edns).wire()
    }

    #[test]
    fn the_opt_of_a_query_without_one_question_is_found() {
        let mut none = vec![0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        none.extend_from_slice(&OPT);
        assert!(matches!(
            parse_query(&none),
            Err(Reject::FormErr { question_end: None })
        ));
        let e = opt_of_malformed(&none).unwrap();
        assert_eq!((e.udp_size, e.version, e.dnssec_ok), (1232, 0, true));
        let mut two = TestQuery::new("a", 1).wire();
        two[5] = 2;
        two.extend_from_slice(b"\x01b\x00\x00\x01\x00\x01");
        two[11] = 1;
        two.extend_from_slice(&OPT);
        assert!(opt_of_malformed(&two).is_some(), "two questions");
        let mut twice = none.clone();
        twice[11] = 2;
        twice.extend_from_slice(&OPT);
        assert_eq!(opt_of_malformed(&twice), None, "two OPTs");
        assert_eq!(opt_of_malformed(&none[..none.len() - 3]), None, "cut short");
    }

    #[test]
    fn parses_question_and_edns() {
        let q = parse_query(&with_opt("WWW.example.")).unwrap();
        assert_eq!(q.qname(), b"\x03www\x07example\x00");
        assert_eq!(q.qtype, Rtype::A);
        assert_eq!(
            q.edns,
            Some(Edns {
                udp_size: 1232,
                version: 0,
                dnssec_ok: true
            })
        );
    }

    #[test]
    fn two_opts_are_formerr() {
        let mut twice = with_opt(".");
        twice.extend_from_slice(&OPT);
        twice[11] = 2;
        assert!(matches!(
            parse_query(&twice),
            Err(Reject::FormErr { question_end: Some(_) })
        ));
    }

    #[test]
    fn short_packets_and_responses_are_dropped() {
        assert_eq!(parse_query(&[0; 11]).unwrap_err(), Reject::Drop);
        let mut p = TestQuery::new(".", 1).wire();
        p[2] |= 0x80;
        assert_eq!(parse_query(&p).unwrap_err(), Reject::Drop);
    }

    #[test]
    fn compressed_or_truncated_qname_is_formerr() {
        assert!(parse_query(&raw_query(b"\xc0\x0c")).is_err());
        assert!(parse_query(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, b'a']).is_err());
    }
}
