//! A zone compiled for answering: owner names in one arena, nodes and RRsets
//! in flat vectors, every RR pre-encoded in wire form (less its owner), and a
//! hash index from lower-cased owner name to node. Flags and additional-section
//! targets are computed once, when the zone is built (as Knot's `adjust.c`
//! does), so the query path only follows indices.
//!
//! Building also runs the semantic checks of a zone file (one SOA at the apex,
//! NS at the apex, CNAME beside other data, out-of-zone data, data below a
//! delegation other than glue).

use crate::name::{self, Name};
use crate::types::{Class, Rtype};
use crate::zonefile::{Parsed, Record, ZoneError};
use hashbrown::HashTable;
use std::hash::BuildHasher;

pub type NodeId = u32;
pub type RrsetId = u32;

/// Node flags.
pub mod flags {
    /// The zone apex.
    pub const APEX: u8 = 1;
    /// A zone cut: NS here and not the apex (RFC 1034 §4.2.1).
    pub const DELEG: u8 = 2;
    /// Strictly below a zone cut: glue or occluded, never authoritative.
    pub const BELOW_CUT: u8 = 4;
    /// Has a `*` child (RFC 4592 §2.1.1), so misses below it try the wildcard.
    pub const WILDCARD_CHILD: u8 = 8;
}

#[derive(Debug, Clone, Copy)]
pub struct Node {
    name_off: u32,
    name_len: u8,
    pub flags: u8,
    rrset_len: u16,
    rrset_start: u32,
}

/// One RRset: its type, TTL and the pre-encoded RRs
/// (`TYPE CLASS TTL RDLENGTH RDATA`, RFC 1035 §4.1.3, owner left out).
#[derive(Debug, Clone, Copy)]
pub struct Rrset {
    pub rtype: Rtype,
    pub count: u16,
    pub ttl: u32,
    wire_off: u32,
    wire_len: u32,
    extra_off: u32,
    extra_len: u16,
}

/// A compiled, immutable zone.
pub struct Zone {
    apex: Name,
    names: Vec<u8>,
    nodes: Vec<Node>,
    index: HashTable<NodeId>,
    rrsets: Vec<Rrset>,
    wire: Vec<u8>,
    extra: Vec<NodeId>,
    hasher: foldhash::fast::FixedState,
    /// The SOA with its TTL set to the RFC 2308 §5 negative TTL.
    negative_soa: RrsetId,
    serial: u32,
    record_count: usize,
}

fn hash_name(h: &foldhash::fast::FixedState, lower_wire: &[u8]) -> u64 {
    h.hash_one(lower_wire)
}

impl Zone {
    /// Builds a zone from parsed records, running the semantic checks.
    /// `apex` defaults to [`Parsed::apex`]. Returns every error found.
    pub fn from_parsed(parsed: &Parsed, apex: Option<&Name>) -> Result<Zone, Vec<ZoneError>> {
        let apex = match apex.or(parsed.apex()) {
            Some(a) => a.to_lowercase(),
            None => {
                return Err(vec![parsed.error_at(
                    Default::default(),
                    None,
                    "no origin: give one or start with $ORIGIN or a SOA",
                )]);
            }
        };
        let mut errors = parsed.errors.clone();
        let zone = build(&parsed.records, &apex, |rec, rtype, msg| {
            errors.push(parsed.error_at(rec.pos, rtype, msg));
        });
        if errors.is_empty() {
            Ok(zone)
        } else {
            Err(errors)
        }
    }

    /// Builds from records (e.g. from a store), reporting problems as strings.
    pub fn from_records(records: &[Record], apex: &Name) -> Result<Zone, Vec<String>> {
        let mut errors = Vec::new();
        let zone = build(records, &apex.to_lowercase(), |rec, rtype, msg| {
            errors.push(match rtype {
                Some(t) => format!("{} {t}: {msg}", rec.owner),
                None => format!("{}: {msg}", rec.owner),
            })
        });
        if errors.is_empty() {
            Ok(zone)
        } else {
            Err(errors)
        }
    }

    pub fn apex(&self) -> &Name {
        &self.apex
    }

    pub fn serial(&self) -> u32 {
        self.serial
    }

    pub fn record_count(&self) -> usize {
        self.record_count
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The node whose lower-cased wire name is `lower_wire`.
    #[inline]
    pub fn find(&self, lower_wire: &[u8]) -> Option<NodeId> {
        let h = hash_name(&self.hasher, lower_wire);
        self.index.find(h, |&id| self.node_name(id) == lower_wire).copied()
    }

    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// The node's owner name, lower-cased wire form.
    #[inline]
    pub fn node_name(&self, id: NodeId) -> &[u8] {
        let n = &self.nodes[id as usize];
        &self.names[n.name_off as usize..n.name_off as usize + n.name_len as usize]
    }

    #[inline]
    pub fn node_rrsets(&self, id: NodeId) -> std::ops::Range<RrsetId> {
        let n = &self.nodes[id as usize];
        n.rrset_start..n.rrset_start + n.rrset_len as u32
    }

    #[inline]
    pub fn rrset_of(&self, id: NodeId, rtype: Rtype) -> Option<RrsetId> {
        self.node_rrsets(id).find(|&r| self.rrsets[r as usize].rtype == rtype)
    }

    #[inline]
    pub fn rrset(&self, id: RrsetId) -> &Rrset {
        &self.rrsets[id as usize]
    }

    /// The pre-encoded RRs of an RRset: each is `TYPE CLASS TTL RDLENGTH RDATA`.
    #[inline]
    pub fn rrset_wire(&self, id: RrsetId) -> &[u8] {
        let r = &self.rrsets[id as usize];
        &self.wire[r.wire_off as usize..(r.wire_off + r.wire_len) as usize]
    }

    /// Nodes whose addresses go in the additional section with this RRset.
    #[inline]
    pub fn rrset_extra(&self, id: RrsetId) -> &[NodeId] {
        let r = &self.rrsets[id as usize];
        &self.extra[r.extra_off as usize..r.extra_off as usize + r.extra_len as usize]
    }

    /// All pre-encoded RR data; RRsets and CNAME targets are offsets into it.
    #[inline]
    pub fn wire_arena(&self) -> &[u8] {
        &self.wire
    }

    pub fn apex_node(&self) -> NodeId {
        0
    }

    pub fn negative_soa(&self) -> RrsetId {
        self.negative_soa
    }

    /// Every record in canonical order (RFC 4034 §6), for printing and transfer.
    pub fn records(&self) -> Vec<Record> {
        let mut ids: Vec<NodeId> = (0..self.nodes.len() as u32).collect();
        ids.sort_by(|&a, &b| name::canonical_cmp_wire(self.node_name(a), self.node_name(b)));
        let mut out = Vec::with_capacity(self.record_count);
        for id in ids {
            let owner = Name::from_wire(self.node_name(id)).expect("arena names are valid");
            let mut sets: Vec<RrsetId> = self.node_rrsets(id).collect();
            // SOA first at the apex, then by type, as printed zones usually read.
            sets.sort_by_key(|&r| (self.rrset(r).rtype != Rtype::SOA, self.rrset(r).rtype));
            for r in sets {
                let set = self.rrset(r);
                for rr in RrIter::new(self.rrset_wire(r)) {
                    out.push(Record {
                        owner: owner.clone(),
                        ttl: set.ttl,
                        class: Class::IN,
                        rtype: set.rtype,
                        rdata: rr.to_vec(),
                        pos: Default::default(),
                    });
                }
            }
        }
        out
    }
}

/// Iterates the rdata of each RR in a pre-encoded RRset.
pub struct RrIter<'a> {
    wire: &'a [u8],
}

impl<'a> RrIter<'a> {
    pub fn new(wire: &'a [u8]) -> Self {
        RrIter { wire }
    }
}

impl<'a> Iterator for RrIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.wire.len() < 10 {
            return None;
        }
        let len = u16::from_be_bytes([self.wire[8], self.wire[9]]) as usize;
        let rdata = &self.wire[10..10 + len];
        self.wire = &self.wire[10 + len..];
        Some(rdata)
    }
}

/// Types that may sit beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5).
fn allowed_with_cname(t: Rtype) -> bool {
    matches!(t, Rtype::CNAME | Rtype::RRSIG | Rtype::NSEC)
}

/// Types allowed at a delegation point besides NS (RFC 4035 §2.4; the DS set
/// belongs to the parent side of the cut).
fn allowed_at_cut(t: Rtype) -> bool {
    matches!(t, Rtype::NS | Rtype::DS | Rtype::RRSIG | Rtype::NSEC)
}

type ErrSink<'e> = dyn FnMut(&Record, Option<Rtype>, String) + 'e;

fn build(records: &[Record], apex: &Name, mut report: impl FnMut(&Record, Option<Rtype>, String)) -> Zone {
    let report: &mut ErrSink = &mut report;
    // Sort record indices by (lower-cased owner, type) so RRsets are contiguous.
    let mut order: Vec<usize> = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        if !r.owner.is_subdomain_of(apex) {
            report(
                r,
                Some(r.rtype),
                format!("owner {} is outside the zone {apex}", r.owner),
            );
            continue;
        }
        order.push(i);
    }
    order.sort_by(|&a, &b| {
        let (x, y) = (records[a].owner.as_wire(), records[b].owner.as_wire());
        x.len()
            .cmp(&y.len())
            .then_with(|| {
                x.iter()
                    .map(u8::to_ascii_lowercase)
                    .cmp(y.iter().map(u8::to_ascii_lowercase))
            })
            .then_with(|| records[a].rtype.cmp(&records[b].rtype))
    });

    let hasher = foldhash::fast::FixedState::with_seed(0x0070_6c61_7464_6e73);
    let mut z = Zone {
        apex: apex.clone(),
        names: Vec::new(),
        nodes: Vec::new(),
        index: HashTable::new(),
        rrsets: Vec::new(),
        wire: Vec::new(),
        extra: Vec::new(),
        hasher,
        negative_soa: 0,
        serial: 0,
        record_count: 0,
    };
    // The apex is node 0, always.
    add_node(&mut z, apex.as_wire());

    // Group into nodes and RRsets. Names sorted by length put parents before
    // children, so empty non-terminals can be created on the way down.
    let mut i = 0;
    while i < order.len() {
        let mut buf = [0u8; 255];
        let owner = lower(&records[order[i]].owner, &mut buf);
        let node = ensure_node_with_ancestors(&mut z, owner, apex.as_wire().len());
        let first_rrset = z.rrsets.len() as u32;
        let mut j = i;
        while j < order.len() && records[order[j]].owner.as_wire().eq_ignore_ascii_case(owner) {
            let rtype = records[order[j]].rtype;
            let start = j;
            while j < order.len()
                && records[order[j]].owner.as_wire().eq_ignore_ascii_case(owner)
                && records[order[j]].rtype == rtype
            {
                j += 1;
            }
            add_rrset(&mut z, records, &order[start..j], report);
        }
        let n = &mut z.nodes[node as usize];
        n.rrset_start = first_rrset;
        n.rrset_len = (z.rrsets.len() as u32 - first_rrset) as u16;
        i = j;
    }
    z.record_count = z.rrsets.iter().map(|r| r.count as usize).sum();

    check_and_flag(&mut z, records, &order, report);
    link_additional(&mut z);
    // Vectors grew by doubling; give back the slack (a 1M-name zone keeps
    // tens of MiB otherwise).
    z.names.shrink_to_fit();
    z.nodes.shrink_to_fit();
    z.rrsets.shrink_to_fit();
    z.wire.shrink_to_fit();
    z.extra.shrink_to_fit();
    z.index.shrink_to(0, |&id| {
        let n = &z.nodes[id as usize];
        hash_name(
            &z.hasher,
            &z.names[n.name_off as usize..n.name_off as usize + n.name_len as usize],
        )
    });
    z
}

/// The lower-cased wire form of `name`, in `buf`.
fn lower<'b>(name: &Name, buf: &'b mut [u8; 255]) -> &'b [u8] {
    let w = name.as_wire();
    buf[..w.len()].copy_from_slice(w);
    buf[..w.len()].make_ascii_lowercase();
    &buf[..w.len()]
}

fn add_node(z: &mut Zone, lower_wire: &[u8]) -> NodeId {
    let id = z.nodes.len() as NodeId;
    z.nodes.push(Node {
        name_off: z.names.len() as u32,
        name_len: lower_wire.len() as u8,
        flags: 0,
        rrset_len: 0,
        rrset_start: 0,
    });
    z.names.extend_from_slice(lower_wire);
    let h = hash_name(&z.hasher, lower_wire);
    let (nodes, names, hasher) = (&z.nodes, &z.names, &z.hasher);
    z.index.insert_unique(h, id, |&other| {
        let n = &nodes[other as usize];
        hash_name(
            hasher,
            &names[n.name_off as usize..n.name_off as usize + n.name_len as usize],
        )
    });
    id
}

/// Finds or creates the node for `wire`, creating empty non-terminals between
/// it and the apex (RFC 4592 §2.2.2: they exist and block wildcards).
fn ensure_node_with_ancestors(z: &mut Zone, wire: &[u8], apex_len: usize) -> NodeId {
    if let Some(id) = z.find(wire) {
        return id;
    }
    if wire.len() > apex_len {
        let parent = &wire[wire[0] as usize + 1..];
        let pid = ensure_node_with_ancestors(z, parent, apex_len);
        if wire[0] == 1 && wire[1] == b'*' {
            z.nodes[pid as usize].flags |= flags::WILDCARD_CHILD;
        }
    }
    add_node(z, wire)
}

fn add_rrset(z: &mut Zone, records: &[Record], idx: &[usize], report: &mut ErrSink) {
    let first = &records[idx[0]];
    // RFC 2181 §5.2: one TTL per RRset. When a file disagrees, the last RR's
    // TTL wins, as knotd's loader does, so both servers answer alike.
    let ttl = records[idx[idx.len() - 1]].ttl;
    let wire_off = z.wire.len() as u32;
    let mut count = 0u16;
    let mut seen: Vec<&[u8]> = Vec::with_capacity(idx.len());
    for &k in idx {
        let r = &records[k];
        // RFC 2181 §5: an RRset has no duplicate RRs; drop them silently.
        if seen.contains(&r.rdata.as_slice()) {
            continue;
        }
        seen.push(&r.rdata);
        z.wire.extend_from_slice(&r.rtype.0.to_be_bytes());
        z.wire.extend_from_slice(&Class::IN.0.to_be_bytes());
        z.wire.extend_from_slice(&ttl.to_be_bytes());
        z.wire.extend_from_slice(&(r.rdata.len() as u16).to_be_bytes());
        z.wire.extend_from_slice(&r.rdata);
        count += 1;
    }
    if first.rtype == Rtype::SOA && count > 1 {
        report(first, Some(Rtype::SOA), "more than one SOA record".into());
    }
    if first.rtype == Rtype::CNAME && count > 1 {
        report(
            first,
            Some(Rtype::CNAME),
            "more than one CNAME at one owner (RFC 2181 §10.1)".into(),
        );
    }
    z.rrsets.push(Rrset {
        rtype: first.rtype,
        count,
        ttl,
        wire_off,
        wire_len: z.wire.len() as u32 - wire_off,
        extra_off: 0,
        extra_len: 0,
    });
}

fn check_and_flag(z: &mut Zone, records: &[Record], order: &[usize], report: &mut ErrSink) {
    let apex_rec = order
        .iter()
        .map(|&k| &records[k])
        .find(|r| r.owner.eq_ignore_case(&z.apex));
    let mut buf = [0u8; 255];
    // Apex: exactly one SOA, and NS (RFC 1035 §5.2, RFC 1034 §4.2.1).
    z.nodes[0].flags |= flags::APEX;
    match z.rrset_of(0, Rtype::SOA) {
        Some(soa) => {
            let rdata = RrIter::new(z.rrset_wire(soa)).next().unwrap_or(&[]);
            let fixed = &rdata[rdata.len().saturating_sub(20)..];
            let serial = u32::from_be_bytes(fixed[0..4].try_into().unwrap_or([0; 4]));
            let minimum = u32::from_be_bytes(fixed[16..20].try_into().unwrap_or([0; 4]));
            z.serial = serial;
            let soa_set = *z.rrset(soa);
            let neg_ttl = soa_set.ttl.min(minimum);
            // A copy of the SOA with the negative TTL (RFC 2308 §3), not attached
            // to any node.
            let wire_off = z.wire.len() as u32;
            let src = z.rrset_wire(soa).to_vec();
            z.wire.extend_from_slice(&src);
            z.wire[wire_off as usize + 4..wire_off as usize + 8].copy_from_slice(&neg_ttl.to_be_bytes());
            z.negative_soa = z.rrsets.len() as u32;
            z.rrsets.push(Rrset {
                ttl: neg_ttl,
                wire_off,
                ..soa_set
            });
        }
        None => {
            let placeholder = apex_rec.cloned().unwrap_or(Record {
                owner: z.apex.clone(),
                ttl: 0,
                class: Class::IN,
                rtype: Rtype::SOA,
                rdata: vec![],
                pos: records.first().map(|r| r.pos).unwrap_or_default(),
            });
            report(
                &placeholder,
                Some(Rtype::SOA),
                format!("no SOA record at the apex {}", z.apex),
            );
        }
    }
    if z.rrset_of(0, Rtype::NS).is_none() {
        if let Some(r) = apex_rec {
            report(r, Some(Rtype::NS), format!("no NS records at the apex {}", z.apex));
        }
    }

    // Per record checks, in file order of the sorted set.
    for &k in order {
        let r = &records[k];
        let node = z.find(lower(&r.owner, &mut buf)).expect("node exists");
        if r.rtype == Rtype::SOA && node != 0 {
            report(
                r,
                Some(Rtype::SOA),
                format!("SOA at {} which is not the apex {}", r.owner, z.apex),
            );
        }
    }

    // Cuts: NS below the apex. Nodes are in parent-before-child order within
    // each name length, so a single pass over names sorted by length suffices.
    let mut by_len: Vec<NodeId> = (0..z.nodes.len() as u32).collect();
    by_len.sort_by_key(|&id| z.nodes[id as usize].name_len);
    for &id in &by_len {
        let name = z.node_name(id);
        let parent_flags = if id == 0 {
            0
        } else {
            let parent = &name[name[0] as usize + 1..];
            let pid = z.find(parent).expect("ancestors exist");
            z.nodes[pid as usize].flags
        };
        let mut f = z.nodes[id as usize].flags;
        if id != 0 && parent_flags & (flags::DELEG | flags::BELOW_CUT) != 0 {
            f |= flags::BELOW_CUT;
        }
        if id != 0 && z.rrset_of(id, Rtype::NS).is_some() {
            f |= flags::DELEG;
        }
        z.nodes[id as usize].flags = f;
    }

    for &k in order {
        let r = &records[k];
        let node = z.find(lower(&r.owner, &mut buf)).expect("node exists");
        let f = z.nodes[node as usize].flags;
        let types: Vec<Rtype> = z.node_rrsets(node).map(|s| z.rrset(s).rtype).collect();
        if types.contains(&Rtype::CNAME) && !allowed_with_cname(r.rtype) {
            report(
                r,
                Some(r.rtype),
                format!("{} has a CNAME and other data (RFC 1034 §3.6.2)", r.owner),
            );
        }
        if f & flags::BELOW_CUT != 0 && !matches!(r.rtype, Rtype::A | Rtype::AAAA) {
            report(
                r,
                Some(r.rtype),
                format!("{} is below a delegation and is not glue", r.owner),
            );
        } else if f & flags::DELEG != 0
            && f & flags::BELOW_CUT == 0
            && !allowed_at_cut(r.rtype)
            && !matches!(r.rtype, Rtype::A | Rtype::AAAA)
        {
            report(
                r,
                Some(r.rtype),
                format!("{} is a delegation point; only NS, DS and glue may be there", r.owner),
            );
        }
        if f & flags::APEX != 0 && r.rtype == Rtype::DS {
            report(
                r,
                Some(Rtype::DS),
                "DS at the apex belongs in the parent zone (RFC 4035 §2.4)".into(),
            );
        }
    }
}

/// Precomputes, for NS/MX/SRV RRsets, the in-zone nodes holding their targets'
/// addresses (RFC 1034 §4.3.2 step 6).
fn link_additional(z: &mut Zone) {
    for r in 0..z.rrsets.len() {
        let set = z.rrsets[r];
        if !matches!(
            set.rtype,
            Rtype::NS | Rtype::MX | Rtype::SRV | Rtype::SVCB | Rtype::HTTPS
        ) {
            continue;
        }
        let off = z.extra.len() as u32;
        let wire = z.wire[set.wire_off as usize..(set.wire_off + set.wire_len) as usize].to_vec();
        for rdata in RrIter::new(&wire) {
            let Some(target) = crate::rdata::additional_target(set.rtype, rdata) else {
                continue;
            };
            let Some(len) = name::wire_name_len(target) else {
                continue;
            };
            let lower = target[..len].to_ascii_lowercase();
            if let Some(id) = z.find(&lower) {
                let has_addr = z
                    .node_rrsets(id)
                    .any(|s| matches!(z.rrsets[s as usize].rtype, Rtype::A | Rtype::AAAA));
                if has_addr && !z.extra[off as usize..].contains(&id) {
                    z.extra.push(id);
                }
            }
        }
        z.rrsets[r].extra_off = off;
        z.rrsets[r].extra_len = (z.extra.len() as u32 - off) as u16;
    }
}
