//! The authoritative lookup of RFC 1034 §4.3.2, one named step per case:
//! exact match (3a), referral at a zone cut (3b), wildcard synthesis (3c,
//! RFC 4592), NXDOMAIN; CNAME chains inside the zone with loop protection;
//! NODATA and NXDOMAIN carry the SOA with the RFC 2308 negative TTL.
//!
//! The result is a [`Resolution`]: which RRsets go in which section and under
//! which owner. It holds indices into the zone, lives in fixed-size arrays and
//! is reused between queries, so a lookup allocates nothing. Turning it into a
//! message is the dataplane's job.

use crate::denial::Denial;
use crate::types::Rtype;
use crate::zone::{flags, NodeId, RrsetId, Zone};

/// Longest CNAME chain followed inside a zone before we stop.
pub const MAX_CNAME_CHAIN: usize = 16;
const SECTION_CAP: usize = 32;

/// Whose name a record is written under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The QNAME exactly as the query spelled it (RFC 4343 case preservation,
    /// and RFC 4592 §2.2.1 wildcard synthesis).
    Qname,
    /// A node of the zone.
    Node(NodeId),
    /// A name inside a CNAME's rdata (offset into the zone's wire arena):
    /// the owner of records synthesised from a wildcard for a CNAME target.
    RdataName(u32),
}

/// A fixed-capacity list of (owner, RRset) pairs.
#[derive(Clone)]
pub struct Section {
    len: usize,
    items: [(Owner, RrsetId); SECTION_CAP],
}

impl Default for Section {
    fn default() -> Self {
        Section {
            len: 0,
            items: [(Owner::Qname, 0); SECTION_CAP],
        }
    }
}

impl Section {
    fn push(&mut self, owner: Owner, rrset: RrsetId) -> bool {
        if self.len == SECTION_CAP {
            return false;
        }
        self.items[self.len] = (owner, rrset);
        self.len += 1;
        true
    }

    fn contains_rrset(&self, rrset: RrsetId) -> bool {
        self.items[..self.len].iter().any(|&(_, r)| r == rrset)
    }

    pub fn items(&self) -> &[(Owner, RrsetId)] {
        &self.items[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// The result code a lookup can produce (RFC 1035 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Outcome {
    #[default]
    NoError,
    NxDomain,
}

/// What to answer, section by section.
#[derive(Clone, Default)]
pub struct Resolution {
    pub outcome: Outcome,
    /// Authoritative answer (AA): false for a referral from the first step.
    pub authoritative: bool,
    pub answer: Section,
    pub authority: Section,
    pub additional: Section,
}

impl Resolution {
    /// NODATA from `zone`: its SOA with the negative TTL in authority (RFC
    /// 2308 §2.2), for answers made outside the zone lookup.
    pub fn set_nodata(&mut self, zone: &Zone) {
        self.clear();
        self.authority.push(Owner::Node(zone.apex_node()), zone.negative_soa());
    }

    fn clear(&mut self) {
        self.outcome = Outcome::NoError;
        self.authoritative = true;
        self.answer.clear();
        self.authority.clear();
        self.additional.clear();
    }
}

/// Where a name led inside the zone.
enum Found {
    /// Authoritative node (possibly an empty non-terminal).
    Node(NodeId),
    /// The name is at or below this zone cut (RFC 1034 §4.3.2 step 3b).
    Cut(NodeId),
    /// The name does not exist but this wildcard node covers it (step 3c).
    Wildcard(NodeId),
    /// The name does not exist (NXDOMAIN); the closest encloser (RFC 5155
    /// §1.3) is this node.
    Missing(NodeId),
}

/// What an authoritative node gave.
enum AtNode {
    Answered,
    /// A CNAME whose target (wire offset) the chain follows.
    Cname(u32),
    NoData,
}

impl Zone {
    /// Answers `qtype` for `qname` (lower-cased wire form, inside this zone).
    pub fn resolve(&self, qname: &[u8], qtype: Rtype, out: &mut Resolution) {
        self.resolve_dnssec(qname, qtype, false, out)
    }

    /// As [`Zone::resolve`]; with `dnssec_ok` (the query's DO bit, RFC 3225
    /// §3) and a signed zone the sections also hold the RRSIGs of what they
    /// carry and the NSEC or NSEC3 records that prove a denial (RFC 4035
    /// §3.1, RFC 5155 §7.2).
    pub fn resolve_dnssec(&self, qname: &[u8], qtype: Rtype, dnssec_ok: bool, out: &mut Resolution) {
        out.clear();
        let sec = dnssec_ok && self.denial.is_signed();
        let mut visited = [0 as NodeId; MAX_CNAME_CHAIN + 1];
        let mut name_buf = [0u8; 255];
        let mut owner = Owner::Qname;
        let mut name_len = qname.len();
        name_buf[..name_len].copy_from_slice(qname);
        for step in 0..=MAX_CNAME_CHAIN {
            let name = &name_buf[..name_len];
            let mut wildcard = None;
            let node = match self.find_name(name, qtype, step == 0) {
                Found::Node(id) => {
                    if visited[..step].contains(&id) {
                        return; // CNAME loop: stop with what we have.
                    }
                    visited[step] = id;
                    if step > 0 {
                        owner = Owner::Node(id);
                    }
                    id
                }
                Found::Wildcard(id) => {
                    wildcard = Some(id);
                    id
                }
                Found::Cut(cut) => {
                    if step == 0 {
                        out.authoritative = false;
                    }
                    self.referral(cut, sec, out);
                    return;
                }
                Found::Missing(encloser) => {
                    out.outcome = Outcome::NxDomain;
                    self.negative(sec, out);
                    if sec {
                        self.deny_name(name, encloser, out);
                    }
                    return;
                }
            };
            let at = self.answer_at(node, owner, qtype, sec, out);
            if sec {
                match (&at, wildcard) {
                    (AtNode::NoData, None) => self.deny_type(node, name, out),
                    (AtNode::NoData, Some(w)) => self.deny_wildcard_type(name, w, out),
                    (_, Some(w)) => self.deny_exact(name, w, out),
                    _ => {}
                }
            }
            match at {
                AtNode::Cname(target_off) => {
                    // Follow the CNAME if its target is in this zone.
                    let target = self.wire_name_at(target_off);
                    let len = target.len();
                    name_buf[..len].copy_from_slice(target);
                    name_buf[..len].make_ascii_lowercase();
                    if !crate::name::wire_is_subdomain(&name_buf[..len], self.apex().as_wire()) {
                        return;
                    }
                    owner = Owner::RdataName(target_off);
                    name_len = len;
                }
                _ => return,
            }
        }
    }

    /// Steps 3a–3c: where does `name` lead?
    fn find_name(&self, name: &[u8], qtype: Rtype, first: bool) -> Found {
        if let Some(id) = self.find(name).filter(|&id| !self.hidden(id)) {
            let f = self.node(id).flags;
            if f & flags::BELOW_CUT != 0 {
                return Found::Cut(self.topmost_cut(name));
            }
            // The DS RRset at a cut belongs to the parent (RFC 4035 §2.4) and is
            // answered authoritatively; everything else there is a referral.
            if f & flags::DELEG != 0 && !(first && qtype == Rtype::DS) {
                return Found::Cut(id);
            }
            return Found::Node(id);
        }
        // Closest encloser: walk up until a node exists (the apex always does).
        // An NSEC3 owner is not one: RFC 5155 §7.2.8 has it answered as if
        // it did not exist, names below it too, so the walk goes on to its
        // parent (where a wildcard may answer, as knotd, whose NSEC3 records
        // live outside the zone's tree, does).
        let mut enc = name;
        while enc.len() > self.apex().as_wire().len() {
            enc = &enc[enc[0] as usize + 1..];
            let Some(id) = self.find(enc).filter(|&id| !self.hidden(id)) else {
                continue;
            };
            let f = self.node(id).flags;
            if f & (flags::BELOW_CUT | flags::DELEG) != 0 {
                return Found::Cut(self.topmost_cut(enc));
            }
            if f & flags::WILDCARD_CHILD != 0 {
                let mut buf = [0u8; 257];
                buf[0] = 1;
                buf[1] = b'*';
                buf[2..2 + enc.len()].copy_from_slice(enc);
                if let Some(w) = self.find(&buf[..2 + enc.len()]) {
                    return Found::Wildcard(w);
                }
            }
            return Found::Missing(id);
        }
        Found::Missing(self.apex_node())
    }

    /// An NSEC3 owner, answered as if it did not exist (RFC 5155 §7.2.8).
    #[inline]
    fn hidden(&self, id: NodeId) -> bool {
        matches!(self.denial, Denial::Nsec3 { .. }) && self.is_nsec3_only(id)
    }

    /// The highest zone cut at or above `name` (a cut below a cut is occluded).
    fn topmost_cut(&self, mut name: &[u8]) -> NodeId {
        let apex_len = self.apex().as_wire().len();
        let mut cut = None;
        while name.len() > apex_len {
            if let Some(id) = self.find(name) {
                if self.node(id).flags & flags::DELEG != 0 {
                    cut = Some(id);
                }
            }
            name = &name[name[0] as usize + 1..];
        }
        cut.unwrap_or(self.apex_node())
    }

    /// Answers at an authoritative node.
    fn answer_at(&self, node: NodeId, owner: Owner, qtype: Rtype, sec: bool, out: &mut Resolution) -> AtNode {
        if qtype == Rtype::ANY {
            // RFC 8482 §4.2: answer ANY with one RRset, the lowest type here.
            return match self.node_rrsets(node).next() {
                Some(rs) => {
                    self.push_signed(Part::Answer, owner, node, rs, sec, out);
                    self.add_additional(rs, sec, out);
                    AtNode::Answered
                }
                None => {
                    self.negative(sec, out);
                    AtNode::NoData
                }
            };
        }
        if qtype == Rtype::RRSIG {
            // As ANY (RFC 8482 §4.2) and as knotd does: one RRset, the
            // RRSIGs over the lowest type here.
            if let Some(rs) = self.rrset_of(node, Rtype::RRSIG) {
                out.answer.push(owner, rs);
                return AtNode::Answered;
            }
        } else if let Some(rs) = self.rrset_of(node, qtype) {
            self.push_signed(Part::Answer, owner, node, rs, sec, out);
            self.add_additional(rs, sec, out);
            return AtNode::Answered;
        }
        // RRSIG and NSEC may sit beside a CNAME (RFC 4035 §2.5): a query
        // for them is answered at the alias, as knotd does, not followed.
        if !matches!(qtype, Rtype::CNAME | Rtype::NSEC | Rtype::RRSIG) {
            if let Some(cn) = self.rrset_of(node, Rtype::CNAME) {
                self.push_signed(Part::Answer, owner, node, cn, sec, out);
                return AtNode::Cname(self.first_rdata_off(cn));
            }
        }
        self.negative(sec, out);
        AtNode::NoData
    }

    /// The SOA with the negative TTL in authority (RFC 2308 §3), and its
    /// RRSIG when signing (RFC 4035 §3.1.3), at the same TTL as knotd sends
    /// it (the original TTL inside the RRSIG is what validators check).
    fn negative(&self, sec: bool, out: &mut Resolution) {
        let apex = self.apex_node();
        out.authority.push(Owner::Node(apex), self.negative_soa());
        if sec {
            if let Some(sig) = self.negative_soa_sig {
                out.authority.push(Owner::Node(apex), sig);
            }
        }
    }

    /// Pushes an RRset and, when signing, its RRSIGs.
    fn push_signed(&self, part: Part, owner: Owner, node: NodeId, rrset: RrsetId, sec: bool, out: &mut Resolution) {
        out.section(part).push(owner, rrset);
        if sec {
            self.push_sig(part, owner, node, self.rrset(rrset).rtype, out);
        }
    }

    fn push_sig(&self, part: Part, owner: Owner, node: NodeId, rtype: Rtype, out: &mut Resolution) {
        if let Some(sig) = self.sig_of(node, rtype) {
            out.section(part).push(owner, sig);
        }
    }

    /// A chain record (NSEC or NSEC3 at `node`) and its RRSIG in authority,
    /// once however many proofs name it.
    fn push_denial(&self, node: NodeId, out: &mut Resolution) {
        let Some(t) = self.denial.chain_type() else { return };
        if let Some(rs) = self.rrset_of(node, t) {
            // Once, in either section (a wildcard's NSEC may be the answer).
            if !out.authority.contains_rrset(rs) && !out.answer.contains_rrset(rs) {
                out.authority.push(Owner::Node(node), rs);
                self.push_sig(Part::Authority, Owner::Node(node), node, t, out);
            }
        }
    }

    /// NSEC: the record covering `name`. NSEC3: the one matching or covering
    /// its hash.
    fn push_covering(&self, name: &[u8], out: &mut Resolution) {
        let node = match self.denial {
            Denial::Nsec => self.nsec_for(name),
            _ => self.nsec3_for(name).map(|(id, _)| id),
        };
        if let Some(id) = node {
            self.push_denial(id, out);
        }
    }

    /// NXDOMAIN (RFC 4035 §3.1.3.2; RFC 5155 §7.2.2): the name does not
    /// exist, nor does a wildcard at its closest encloser.
    fn deny_name(&self, name: &[u8], encloser: NodeId, out: &mut Resolution) {
        let ce = self.node_name(encloser);
        if matches!(self.denial, Denial::Nsec3 { .. }) {
            self.push_covering(ce, out);
        }
        self.push_covering(self.next_closer(name, ce.len()), out);
        let mut buf = [0u8; 257];
        buf[..2].copy_from_slice(b"\x01*");
        buf[2..2 + ce.len()].copy_from_slice(ce);
        self.push_covering(&buf[..2 + ce.len()], out);
    }

    /// The ancestor (or self) of `name` one label longer than its closest
    /// encloser of length `ce_len` (RFC 5155 §1.3 "next closer name").
    fn next_closer<'n>(&self, mut name: &'n [u8], ce_len: usize) -> &'n [u8] {
        while name.len() > ce_len {
            let parent = &name[name[0] as usize + 1..];
            if parent.len() <= ce_len {
                break;
            }
            name = parent;
        }
        name
    }

    /// NODATA at an existing name (RFC 4035 §3.1.3.1; RFC 5155 §7.2.3, §7.2.4):
    /// its own NSEC or NSEC3, whose bit map lacks the type. An empty
    /// non-terminal has no NSEC: the one covering it proves it holds nothing.
    fn deny_type(&self, node: NodeId, name: &[u8], out: &mut Resolution) {
        match self.denial {
            Denial::Nsec if self.rrset_of(node, Rtype::NSEC).is_some() => self.push_denial(node, out),
            _ => self.push_covering(name, out),
        }
    }

    /// A wildcard answer (RFC 4035 §3.1.3.3; RFC 5155 §7.2.6): proof that
    /// `name` itself does not exist.
    fn deny_exact(&self, name: &[u8], wildcard: NodeId, out: &mut Resolution) {
        let ce_len = self.node_name(wildcard).len() - 2;
        self.push_covering(self.next_closer(name, ce_len), out);
    }

    /// Wildcard NODATA (RFC 4035 §3.1.3.4; RFC 5155 §7.2.5): `name` does not
    /// exist and the wildcard has no RRset of the type.
    fn deny_wildcard_type(&self, name: &[u8], wildcard: NodeId, out: &mut Resolution) {
        let w = self.node_name(wildcard);
        if matches!(self.denial, Denial::Nsec3 { .. }) {
            self.push_covering(&w[2..], out);
        }
        self.deny_exact(name, wildcard, out);
        self.push_covering(w, out);
    }

    /// A referral: the cut's NS in authority, addresses of its targets (glue)
    /// in additional (RFC 1034 §4.3.2 step 3b); when signing, the signed DS,
    /// or the NSEC/NSEC3 proving there is none (RFC 4035 §3.1.4).
    fn referral(&self, cut: NodeId, sec: bool, out: &mut Resolution) {
        if let Some(ns) = self.rrset_of(cut, Rtype::NS) {
            out.authority.push(Owner::Node(cut), ns);
            if sec {
                match self.rrset_of(cut, Rtype::DS) {
                    Some(ds) => self.push_signed(Part::Authority, Owner::Node(cut), cut, ds, sec, out),
                    None => self.deny_type(cut, self.node_name(cut), out),
                }
            }
            self.add_additional(ns, false, out);
        }
    }

    /// A/AAAA of NS, MX and SRV targets found in this zone (step 6), with
    /// their RRSIGs when signing and they are authoritative (not glue).
    fn add_additional(&self, rrset: RrsetId, sec: bool, out: &mut Resolution) {
        self.for_each_additional(rrset, |target| {
            for t in [Rtype::A, Rtype::AAAA] {
                if let Some(rs) = self.rrset_of(target, t) {
                    if !out.additional.contains_rrset(rs) && !out.answer.contains_rrset(rs) {
                        let glue = self.node(target).flags & flags::BELOW_CUT != 0;
                        self.push_signed(Part::Additional, Owner::Node(target), target, rs, sec && !glue, out);
                    }
                }
            }
        });
    }
}

/// The sections a lookup writes to.
#[derive(Clone, Copy)]
enum Part {
    Answer,
    Authority,
    Additional,
}

impl Resolution {
    fn section(&mut self, part: Part) -> &mut Section {
        match part {
            Part::Answer => &mut self.answer,
            Part::Authority => &mut self.authority,
            Part::Additional => &mut self.additional,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The lookup against the RFC 1034 §6.1 root-and-below example, trimmed to
    //! the `EDU.` zone served by C.ISI.EDU (§6.2 examples), plus RFC 4592 §2.2.1.
    use super::*;
    use crate::zonefile::{parse_str, FsIncludes};
    use crate::Name;

    const EDU: &str = "$ORIGIN EDU.
@ 86400 SOA SRI-NIC.ARPA. HOSTMASTER.SRI-NIC.ARPA. 870611 1800 300 604800 86400
@ NS SRI-NIC.ARPA.
@ NS C.ISI.EDU.
ISI NS VAXA.ISI
ISI NS A.ISI
VAXA.ISI A 10.2.0.27
A.ISI A 26.3.0.103
MIT NS XX.LCS.MIT
XX.LCS.MIT A 10.0.0.44
C.ISI A 10.0.0.52
";

    // RFC 4592 §2.2.1's example zone.
    const WILD: &str = "$ORIGIN example.
@ 3600 SOA ns1 host 1 2 3 4 5
@ NS ns1
@ NS ns2
ns1 A 127.0.0.1
*.example. TXT \"this is a wildcard\"
*.example. MX 10 host1.example.
sub.*.example. TXT \"this is not a wildcard\"
host1.example. A 192.0.2.1
_ssh._tcp.host1.example. SRV 0 0 22 host1.example.
_ssh._tcp.host2.example. SRV 0 0 22 host2.example.
subdel.example. NS ns.example.com.
subdel.example. NS ns.example.net.
";

    fn zone(text: &str) -> Zone {
        let p = parse_str(text, "t", None, &mut FsIncludes);
        Zone::from_parsed(&p, None).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn ask(z: &Zone, name: &str, t: Rtype) -> (Resolution, Vec<Rtype>, Vec<Rtype>) {
        let mut r = Resolution::default();
        let n = Name::from_text(name, None).unwrap().to_lowercase();
        z.resolve(n.as_wire(), t, &mut r);
        let types = |s: &Section| s.items().iter().map(|&(_, id)| z.rrset(id).rtype).collect();
        let (a, ns) = (types(&r.answer), types(&r.authority));
        (r, a, ns)
    }

    /// RFC 5155 §7.2.8: an NSEC3 owner does not exist for queries, nor is it
    /// the closest encloser of a name below it: that is its parent, whose
    /// wildcard answers, and NXDOMAIN's proof is about the parent.
    #[test]
    fn rfc5155_7_2_8_names_below_an_nsec3_owner() {
        // An NSEC3 zone with one NSEC3 owner: both cases start from it.
        const BASE: &str = "$ORIGIN example.
@ 3600 SOA ns1 host 1 2 3 4 300
@ NS ns1
@ DNSKEY 256 3 13 SsdGufwh/aw32T7JhA8XsKkFoTVxZMqseV7vSGecnDETS//8kj383kti7CxP1eSqZ/Lzo4Jh0xrwzq3+iJ567w==
@ NSEC3PARAM 1 0 0 -
ns1 A 192.0.2.1
0p9mhaveqvm6t7vbl5lop2u3t2rp3tom NSEC3 1 0 0 - 35mthgpgcu1qg68fab165klnsnk3dpvl A RRSIG
";
        let z = zone(&format!("{BASE}w TXT \"w\"\n*.w TXT \"wild\"\n"));
        let (r, an, _) = ask(&z, "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.", Rtype::NSEC3);
        assert_eq!((r.outcome, an), (Outcome::NxDomain, vec![]));
        let (r, _, _) = ask(&z, "x.0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.", Rtype::TXT);
        assert_eq!(r.outcome, Outcome::NxDomain);
        // Under the apex's wildcard, the name below the NSEC3 owner is one
        // the wildcard answers for: the closest encloser is the apex.
        let with_wild = zone(&format!("{BASE}* TXT \"apex wild\"\n"));
        let (r, an, _) = ask(&with_wild, "x.0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.", Rtype::TXT);
        assert_eq!((r.outcome, an), (Outcome::NoError, vec![Rtype::TXT]));
        assert_eq!(r.answer.items()[0].0, Owner::Qname);
    }

    #[test]
    fn rfc1034_6_2_referral_for_a_name_below_a_cut() {
        let z = zone(EDU);
        let (r, an, ns) = ask(&z, "SRI-NIC.ISI.EDU.", Rtype::A);
        assert!(!r.authoritative);
        assert!(an.is_empty());
        assert_eq!(ns, vec![Rtype::NS]);
        assert_eq!(r.additional.items().len(), 2, "glue for VAXA.ISI and A.ISI");
    }

    #[test]
    fn rfc1034_6_2_nxdomain_with_soa() {
        let z = zone(EDU);
        let (r, an, ns) = ask(&z, "NOTHERE.EDU.", Rtype::A);
        assert_eq!(r.outcome, Outcome::NxDomain);
        assert!(an.is_empty());
        assert_eq!(ns, vec![Rtype::SOA]);
        // RFC 2308 §5: the negative TTL is min(SOA TTL, MINIMUM).
        assert_eq!(z.rrset(z.negative_soa()).ttl, 86400);
    }

    #[test]
    fn rfc4592_2_2_1_examples() {
        let z = zone(WILD);
        // host3.example. MX → synthesised from *.example.
        let (r, an, _) = ask(&z, "host3.example.", Rtype::MX);
        assert_eq!((r.outcome, an), (Outcome::NoError, vec![Rtype::MX]));
        assert_eq!(r.answer.items()[0].0, Owner::Qname);
        // host3.example. A → NODATA from the wildcard.
        let (r, an, ns) = ask(&z, "host3.example.", Rtype::A);
        assert_eq!((r.outcome, an.len(), ns), (Outcome::NoError, 0, vec![Rtype::SOA]));
        // foo.bar.example. TXT → synthesised.
        let (_, an, _) = ask(&z, "foo.bar.example.", Rtype::TXT);
        assert_eq!(an, vec![Rtype::TXT]);
        // host1.example. MX → NODATA: the name exists, no wildcard.
        let (_, an, ns) = ask(&z, "host1.example.", Rtype::MX);
        assert_eq!((an.len(), ns), (0, vec![Rtype::SOA]));
        // sub.*.example. MX → NODATA (the name exists).
        let (r, an, _) = ask(&z, "sub.*.example.", Rtype::MX);
        assert_eq!((r.outcome, an.len()), (Outcome::NoError, 0));
        // _telnet._tcp.host1.example. SRV → NXDOMAIN: _tcp.host1 is an ENT.
        let (r, _, _) = ask(&z, "_telnet._tcp.host1.example.", Rtype::SRV);
        assert_eq!(r.outcome, Outcome::NxDomain);
        // host.subdel.example. A → referral.
        let (r, _, ns) = ask(&z, "host.subdel.example.", Rtype::A);
        assert_eq!((r.authoritative, ns), (false, vec![Rtype::NS]));
        // ghost.*.example. MX → NXDOMAIN: *.example exists as a node, so the
        // closest encloser is *.example and it has no wildcard child.
        let (r, _, _) = ask(&z, "ghost.*.example.", Rtype::MX);
        assert_eq!(r.outcome, Outcome::NxDomain);
    }
}
