//! The authoritative lookup of RFC 1034 §4.3.2, one named step per case:
//! exact match (3a), referral at a zone cut (3b), wildcard synthesis (3c,
//! RFC 4592), NXDOMAIN; CNAME chains inside the zone with loop protection;
//! NODATA and NXDOMAIN carry the SOA with the RFC 2308 negative TTL.
//!
//! The result is a [`Resolution`]: which RRsets go in which section and under
//! which owner. It holds indices into the zone, lives in fixed-size arrays and
//! is reused between queries, so a lookup allocates nothing. Turning it into a
//! message is the dataplane's job.

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
    /// The name does not exist (NXDOMAIN).
    Missing,
}

impl Zone {
    /// Answers `qtype` for `qname` (lower-cased wire form, inside this zone).
    pub fn resolve(&self, qname: &[u8], qtype: Rtype, out: &mut Resolution) {
        out.clear();
        let mut visited = [0 as NodeId; MAX_CNAME_CHAIN + 1];
        let mut name_buf = [0u8; 255];
        let mut owner = Owner::Qname;
        let mut name: &[u8] = qname;
        for step in 0..=MAX_CNAME_CHAIN {
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
                Found::Wildcard(id) => id,
                Found::Cut(cut) => {
                    if step == 0 {
                        out.authoritative = false;
                    }
                    self.referral(cut, out);
                    return;
                }
                Found::Missing => {
                    out.outcome = Outcome::NxDomain;
                    out.authority.push(Owner::Node(self.apex_node()), self.negative_soa());
                    return;
                }
            };
            match self.answer_at(node, owner, qtype, out) {
                Some(target_off) => {
                    // Follow the CNAME if its target is in this zone.
                    let target = self.wire_name_at(target_off);
                    let len = target.len();
                    name_buf[..len].copy_from_slice(target);
                    name_buf[..len].make_ascii_lowercase();
                    if !crate::name::wire_is_subdomain(&name_buf[..len], self.apex().as_wire()) {
                        return;
                    }
                    owner = Owner::RdataName(target_off);
                    name = &name_buf[..len];
                }
                None => return,
            }
        }
    }

    /// Steps 3a–3c: where does `name` lead?
    fn find_name(&self, name: &[u8], qtype: Rtype, first: bool) -> Found {
        if let Some(id) = self.find(name) {
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
        let mut enc = name;
        while enc.len() > self.apex().as_wire().len() {
            enc = &enc[enc[0] as usize + 1..];
            let Some(id) = self.find(enc) else { continue };
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
            return Found::Missing;
        }
        Found::Missing
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

    /// Answers at an authoritative node. Returns the wire offset of a CNAME
    /// target when the chain must go on.
    fn answer_at(&self, node: NodeId, owner: Owner, qtype: Rtype, out: &mut Resolution) -> Option<u32> {
        if qtype == Rtype::ANY {
            // RFC 8482 §4.2: answer ANY with one RRset, the lowest type here.
            match self.node_rrsets(node).next() {
                Some(rs) => {
                    out.answer.push(owner, rs);
                    self.add_additional(rs, out);
                }
                None => self.nodata(out),
            }
            return None;
        }
        if let Some(rs) = self.rrset_of(node, qtype) {
            out.answer.push(owner, rs);
            self.add_additional(rs, out);
            return None;
        }
        if qtype != Rtype::CNAME {
            if let Some(cn) = self.rrset_of(node, Rtype::CNAME) {
                out.answer.push(owner, cn);
                return Some(self.first_rdata_off(cn));
            }
        }
        self.nodata(out);
        None
    }

    fn nodata(&self, out: &mut Resolution) {
        out.authority.push(Owner::Node(self.apex_node()), self.negative_soa());
    }

    /// A referral: the cut's NS in authority, addresses of its targets (glue)
    /// in additional (RFC 1034 §4.3.2 step 3b).
    fn referral(&self, cut: NodeId, out: &mut Resolution) {
        if let Some(ns) = self.rrset_of(cut, Rtype::NS) {
            out.authority.push(Owner::Node(cut), ns);
            self.add_additional(ns, out);
        }
    }

    /// A/AAAA of NS, MX and SRV targets found in this zone (step 6).
    fn add_additional(&self, rrset: RrsetId, out: &mut Resolution) {
        self.for_each_additional(rrset, |target| {
            for t in [Rtype::A, Rtype::AAAA] {
                if let Some(rs) = self.rrset_of(target, t) {
                    if !out.additional.contains_rrset(rs) && !out.answer.contains_rrset(rs) {
                        out.additional.push(Owner::Node(target), rs);
                    }
                }
            }
        });
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
