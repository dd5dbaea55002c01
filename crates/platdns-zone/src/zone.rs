//! A zone compiled for answering: owner names in one arena, nodes and RRsets
//! in flat vectors, every RR pre-encoded in wire form (less its owner), and a
//! hash index from lower-cased owner name to node. Flags and additional-section
//! targets are computed once, when the zone is built (as Knot's `adjust.c`
//! does), so the query path only follows indices.
//!
//! Building also runs the semantic checks of a zone file (one SOA at the apex,
//! NS at the apex, CNAME beside other data, out-of-zone data, data below a
//! delegation other than glue).
//!
//! A built zone is never changed. A commit makes a *new* `Zone` that shares the
//! built arena (the base) and adds a small overlay arena holding the nodes the
//! commit touched ([`Zone::patch`], `patch.rs`); ids with the [`OVER`] bit set
//! point into the overlay. The cost of a commit follows the change, not the
//! zone (DESIGN §3 "Write path"), and the query path pays one extra hash probe
//! while an overlay exists.

use crate::denial::{index_chain, Denial};
use crate::name::{self, Name};
use crate::types::{Class, Rtype};
use crate::zonefile::{Parsed, Record, ZoneError};
use hashbrown::{HashMap, HashSet, HashTable};
use std::hash::BuildHasher;
use std::sync::Arc;

pub type NodeId = u32;
pub type RrsetId = u32;

/// Node, RRset and wire offsets with this bit set are in the overlay arena.
pub const OVER: u32 = 1 << 31;

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
    /// An overlay tombstone: the name no longer exists (it hides the base's node).
    pub const GONE: u8 = 16;
}

#[derive(Debug, Clone, Copy)]
pub struct Node {
    name_off: u32,
    name_len: u8,
    pub flags: u8,
    rrset_len: u16,
    rrset_start: u32,
    /// Direct children that exist: a node with no RRsets exists (an empty
    /// non-terminal, RFC 4592 §2.2.2) exactly while this is non-zero.
    children: u32,
}

impl Node {
    pub fn children(&self) -> u32 {
        self.children
    }
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

pub(crate) const HASHER: foldhash::fast::FixedState = foldhash::fast::FixedState::with_seed(0x0070_6c61_7464_6e73);

#[inline]
fn hash_name(lower_wire: &[u8]) -> u64 {
    HASHER.hash_one(lower_wire)
}

/// Names, nodes, RRsets and wire data of one build (the base) or of the
/// changes since (the overlay). Ids inside are plain indices; the overlay's
/// `extra` lists hold ids as the [`Zone`] hands them out (tagged).
#[derive(Clone, Default)]
pub(crate) struct Arena {
    names: Vec<u8>,
    pub(crate) nodes: Vec<Node>,
    index: HashTable<u32>,
    pub(crate) rrsets: Vec<Rrset>,
    wire: Vec<u8>,
    extra: Vec<NodeId>,
    /// In-zone names that NS/MX/SRV/SVCB/HTTPS rdata name but no node held
    /// when the RRset was built: a later commit that creates one of them adds
    /// it to those RRsets' additional targets.
    pub(crate) dangling: HashMap<Box<[u8]>, Vec<RrsetId>, foldhash::fast::FixedState>,
    /// Signed zones: the nodes holding the NSEC or NSEC3 chain, in canonical
    /// order (`denial.rs`).
    pub(crate) chain: Vec<u32>,
}

impl Arena {
    #[inline]
    pub(crate) fn find(&self, lower_wire: &[u8]) -> Option<u32> {
        let h = hash_name(lower_wire);
        self.index.find(h, |&id| self.node_name(id) == lower_wire).copied()
    }

    #[inline]
    pub(crate) fn node_name(&self, id: u32) -> &[u8] {
        let n = &self.nodes[id as usize];
        &self.names[n.name_off as usize..n.name_off as usize + n.name_len as usize]
    }

    #[inline]
    pub(crate) fn rrset_of(&self, id: u32, rtype: Rtype) -> Option<u32> {
        let n = &self.nodes[id as usize];
        (n.rrset_start..n.rrset_start + n.rrset_len as u32).find(|&r| self.rrsets[r as usize].rtype == rtype)
    }

    #[inline]
    pub(crate) fn rrset_wire(&self, id: u32) -> &[u8] {
        let r = &self.rrsets[id as usize];
        &self.wire[r.wire_off as usize..(r.wire_off + r.wire_len) as usize]
    }

    /// Appends a node and points the index at it (replacing an older node of
    /// the same name: the overlay keeps only the newest version reachable).
    pub(crate) fn add_node(&mut self, lower_wire: &[u8], flags: u8, children: u32) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            name_off: self.names.len() as u32,
            name_len: lower_wire.len() as u8,
            flags,
            rrset_len: 0,
            rrset_start: self.rrsets.len() as u32,
            children,
        });
        self.names.extend_from_slice(lower_wire);
        let h = hash_name(lower_wire);
        let (nodes, names) = (&self.nodes, &self.names);
        let name_of = |other: u32| {
            let n = &nodes[other as usize];
            &names[n.name_off as usize..n.name_off as usize + n.name_len as usize]
        };
        match self.index.find_mut(h, |&other| name_of(other) == lower_wire) {
            Some(slot) => *slot = id,
            None => {
                self.index.insert_unique(h, id, |&other| hash_name(name_of(other)));
            }
        }
        id
    }

    /// Appends an RRset (the caller attaches it to a node) from rdata in the
    /// order given; duplicates are dropped (RFC 2181 §5: an RRset is a set).
    pub(crate) fn push_rrset<'r>(&mut self, rtype: Rtype, ttl: u32, rdatas: impl Iterator<Item = &'r [u8]>) -> u16 {
        let wire_off = self.wire.len() as u32;
        let mut count = 0u16;
        let mut seen = Distinct::default();
        for rdata in rdatas {
            if !seen.insert(rdata) {
                continue;
            }
            self.wire.extend_from_slice(&rtype.0.to_be_bytes());
            self.wire.extend_from_slice(&Class::IN.0.to_be_bytes());
            self.wire.extend_from_slice(&ttl.to_be_bytes());
            self.wire.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            self.wire.extend_from_slice(rdata);
            count += 1;
        }
        self.rrsets.push(Rrset {
            rtype,
            count,
            ttl,
            wire_off,
            wire_len: self.wire.len() as u32 - wire_off,
            extra_off: 0,
            extra_len: 0,
        });
        count
    }

    pub(crate) fn set_node_rrsets(&mut self, id: u32, start: u32, len: u32) {
        let n = &mut self.nodes[id as usize];
        n.rrset_start = start;
        n.rrset_len = len as u16;
    }

    /// A copy of an RRset (`set`, its RRs `bytes`) with another TTL,
    /// attached to no node: the SOA with the RFC 2308 §5 negative TTL.
    pub(crate) fn push_detached_copy(&mut self, set: Rrset, bytes: &[u8], ttl: u32) -> u32 {
        let wire_off = self.wire.len() as u32;
        self.wire.extend_from_slice(bytes);
        let mut pos = wire_off as usize;
        while pos + 10 <= self.wire.len() {
            self.wire[pos + 4..pos + 8].copy_from_slice(&ttl.to_be_bytes());
            let len = u16::from_be_bytes([self.wire[pos + 8], self.wire[pos + 9]]) as usize;
            pos += 10 + len;
        }
        self.rrsets.push(Rrset {
            ttl,
            wire_off,
            extra_off: 0,
            extra_len: 0,
            ..set
        });
        self.rrsets.len() as u32 - 1
    }

    /// Sets an RRset's additional-section targets.
    pub(crate) fn set_extra(&mut self, rrset: u32, targets: &[NodeId]) {
        let off = self.extra.len() as u32;
        self.extra.extend_from_slice(targets);
        let r = &mut self.rrsets[rrset as usize];
        r.extra_off = off;
        r.extra_len = targets.len() as u16;
    }

    fn shrink(&mut self) {
        self.names.shrink_to_fit();
        self.nodes.shrink_to_fit();
        self.rrsets.shrink_to_fit();
        self.wire.shrink_to_fit();
        self.extra.shrink_to_fit();
        self.chain.shrink_to_fit();
        let (nodes, names) = (&self.nodes, &self.names);
        self.index.shrink_to(0, |&id| {
            let n = &nodes[id as usize];
            hash_name(&names[n.name_off as usize..n.name_off as usize + n.name_len as usize])
        });
    }

    /// Ids of the nodes the index reaches (the newest version of each name).
    pub(crate) fn indexed(&self) -> impl Iterator<Item = u32> + '_ {
        self.index.iter().copied()
    }
}

/// The changes since the base was built (see the module comment).
#[derive(Clone, Default)]
pub(crate) struct Overlay {
    pub(crate) arena: Arena,
    /// Additional targets created after the RRset that names them (tagged ids).
    pub(crate) extra_more: HashMap<RrsetId, Vec<NodeId>, foldhash::fast::FixedState>,
}

/// A compiled, immutable zone.
pub struct Zone {
    pub(crate) apex: Name,
    pub(crate) base: Arc<Arena>,
    pub(crate) over: Option<Arc<Overlay>>,
    pub(crate) apex_id: NodeId,
    /// The SOA with its TTL set to the RFC 2308 §5 negative TTL.
    pub(crate) negative_soa: RrsetId,
    /// Signed zones: the SOA's RRSIGs at the negative TTL.
    pub(crate) negative_soa_sig: Option<RrsetId>,
    pub(crate) serial: u32,
    pub(crate) record_count: usize,
    pub(crate) node_count: usize,
    /// The usage meter its answers count against (R2.1): a slot the DNS
    /// node's per-worker counters are indexed by; 0 counts for no contract.
    pub(crate) meter: u32,
    /// Signed or not, and how denial of existence is proven (`denial.rs`).
    pub(crate) denial: Denial,
}

impl Zone {
    /// Whether both zones are built on one base arena (a patch shares its
    /// source's; a full build has its own), i.e. whether keeping both costs
    /// only the overlays.
    pub fn shares_base(&self, other: &Zone) -> bool {
        Arc::ptr_eq(&self.base, &other.base)
    }

    /// The usage meter slot (0: none).
    #[inline]
    pub fn meter(&self) -> u32 {
        self.meter
    }

    /// Sets the usage meter slot; patches and rebuilds keep it.
    pub fn set_meter(&mut self, meter: u32) {
        self.meter = meter;
    }

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
            errors.push(describe(rec, rtype, &msg))
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
        self.node_count
    }

    /// Nodes held in the overlay (0 right after a full build).
    pub fn overlay_len(&self) -> usize {
        self.over.as_ref().map_or(0, |o| o.arena.nodes.len())
    }

    /// The arena an id points into, and the plain index there.
    #[inline]
    fn part(&self, id: u32) -> (&Arena, u32) {
        if id & OVER == 0 {
            (&self.base, id)
        } else {
            match &self.over {
                Some(o) => (&o.arena, id & !OVER),
                None => unreachable!("an overlay id without an overlay"),
            }
        }
    }

    /// The node whose lower-cased wire name is `lower_wire`.
    #[inline]
    pub fn find(&self, lower_wire: &[u8]) -> Option<NodeId> {
        if let Some(o) = &self.over {
            if let Some(id) = o.arena.find(lower_wire) {
                return if o.arena.nodes[id as usize].flags & flags::GONE != 0 {
                    None
                } else {
                    Some(id | OVER)
                };
            }
        }
        self.base.find(lower_wire)
    }

    #[inline]
    pub fn node(&self, id: NodeId) -> &Node {
        let (a, i) = self.part(id);
        &a.nodes[i as usize]
    }

    /// The node's owner name, lower-cased wire form.
    #[inline]
    pub fn node_name(&self, id: NodeId) -> &[u8] {
        let (a, i) = self.part(id);
        a.node_name(i)
    }

    #[inline]
    pub fn node_rrsets(&self, id: NodeId) -> std::ops::Range<RrsetId> {
        let (a, i) = self.part(id);
        let n = &a.nodes[i as usize];
        let tag = id & OVER;
        (n.rrset_start | tag)..((n.rrset_start + n.rrset_len as u32) | tag)
    }

    #[inline]
    pub fn rrset_of(&self, id: NodeId, rtype: Rtype) -> Option<RrsetId> {
        let (a, i) = self.part(id);
        a.rrset_of(i, rtype).map(|r| r | (id & OVER))
    }

    #[inline]
    pub fn rrset(&self, id: RrsetId) -> &Rrset {
        let (a, i) = self.part(id);
        &a.rrsets[i as usize]
    }

    /// The pre-encoded RRs of an RRset: each is `TYPE CLASS TTL RDLENGTH RDATA`.
    #[inline]
    pub fn rrset_wire(&self, id: RrsetId) -> &[u8] {
        let (a, i) = self.part(id);
        a.rrset_wire(i)
    }

    /// Calls `f` with each node holding addresses for this RRset's targets
    /// (RFC 1034 §4.3.2 step 6). With an overlay, each target is looked up by
    /// name again, so a target changed or removed since the RRset was built
    /// is seen as it is now.
    #[inline]
    pub fn for_each_additional(&self, rrset: RrsetId, mut f: impl FnMut(NodeId)) {
        let (a, i) = self.part(rrset);
        let r = &a.rrsets[i as usize];
        let list = &a.extra[r.extra_off as usize..r.extra_off as usize + r.extra_len as usize];
        match &self.over {
            None => list.iter().for_each(|&t| f(t)),
            Some(o) => {
                let more = o.extra_more.get(&rrset).map(Vec::as_slice).unwrap_or(&[]);
                for &t in list.iter().chain(more) {
                    if let Some(now) = self.find(self.node_name(t)) {
                        f(now)
                    }
                }
            }
        }
    }

    /// Offset of the first RR's rdata in an RRset (a CNAME's target), for
    /// [`Zone::wire_name_at`].
    #[inline]
    pub fn first_rdata_off(&self, rrset: RrsetId) -> u32 {
        let (a, i) = self.part(rrset);
        (a.rrsets[i as usize].wire_off + 10) | (rrset & OVER)
    }

    /// The uncompressed name at `off` (from [`Zone::first_rdata_off`]).
    #[inline]
    pub fn wire_name_at(&self, off: u32) -> &[u8] {
        let (a, o) = self.part(off);
        let w = &a.wire[o as usize..];
        let len = name::wire_name_len(w).unwrap_or(0);
        &w[..len]
    }

    pub fn apex_node(&self) -> NodeId {
        self.apex_id
    }

    pub fn negative_soa(&self) -> RrsetId {
        self.negative_soa
    }

    /// Every node that exists now: the base's not shadowed by the overlay,
    /// and the overlay's newest version of each name unless it is a tombstone.
    pub(crate) fn live_nodes(&self) -> Vec<NodeId> {
        match &self.over {
            None => (0..self.base.nodes.len() as u32).collect(),
            Some(o) => {
                let mut ids: Vec<NodeId> = (0..self.base.nodes.len() as u32)
                    .filter(|&id| o.arena.find(self.base.node_name(id)).is_none())
                    .collect();
                ids.extend(
                    o.arena
                        .indexed()
                        .filter(|&id| o.arena.nodes[id as usize].flags & flags::GONE == 0)
                        .map(|id| id | OVER),
                );
                ids
            }
        }
    }

    /// The records owned by one name (lower-cased wire form), SOA first;
    /// none when the name does not exist.
    pub fn records_at(&self, lower_wire: &[u8]) -> Vec<Record> {
        let Some(id) = self.find(lower_wire) else {
            return Vec::new();
        };
        let owner = Name::from_wire(self.node_name(id)).expect("arena names are valid");
        let mut sets: Vec<RrsetId> = self.node_rrsets(id).collect();
        sets.sort_by_key(|&r| (self.rrset(r).rtype != Rtype::SOA, self.rrset(r).rtype));
        let mut out = Vec::new();
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
        out
    }

    /// The names that may differ between `old` and this zone when both
    /// stand on one base (a patch of a patch …): those in either overlay.
    /// `None` when the bases differ (a full build came between them). What
    /// IXFR diffs instead of the whole zone.
    pub fn names_changed_since(&self, old: &Zone) -> Option<Vec<Vec<u8>>> {
        if !self.shares_base(old) {
            return None;
        }
        let mut names: Vec<Vec<u8>> = Vec::new();
        for z in [self, old] {
            if let Some(o) = &z.over {
                for id in 0..o.arena.nodes.len() as u32 {
                    names.push(o.arena.node_name(id).to_vec());
                }
            }
        }
        names.sort_unstable();
        names.dedup();
        Some(names)
    }

    /// The largest TTL of any RRset in the zone: what RFC 7583 §3.2.1 calls
    /// TTLsig, the wait before a retired ZSK's last signatures are gone from
    /// caches. One pass over the nodes, no allocation but the id list.
    pub fn max_ttl(&self) -> u32 {
        self.live_nodes()
            .into_iter()
            .flat_map(|id| self.node_rrsets(id))
            .map(|r| self.rrset(r).ttl)
            .max()
            .unwrap_or(0)
    }

    /// Every record in canonical order (RFC 4034 §6), for printing and transfer.
    pub fn records(&self) -> Vec<Record> {
        let mut ids = self.live_nodes();
        ids.sort_by(|&a, &b| name::canonical_cmp_wire(self.node_name(a), self.node_name(b)));
        self.records_of(ids)
    }

    /// Calls `f(owner, rtype, ttl, rdata)` for every record, the apex's
    /// first (its SOA first of all), the other names in no particular order
    /// (RFC 5936 §2.2 asks only for the SOA first and last), read straight
    /// from the arena with no allocation per record and no sort (which was
    /// half of an AXFR's time), so a transfer is sent while it is read
    /// (bench/xfr.sh). `owner`: lower-cased wire.
    pub fn for_each_record_apex_first(&self, mut f: impl FnMut(&[u8], Rtype, u32, &[u8])) {
        let mut ids = self.live_nodes();
        if let Some(at) = ids.iter().position(|&id| id == self.apex_id) {
            ids.swap(0, at);
        }
        for id in ids {
            let owner = self.node_name(id);
            // The SOA first, then the rest (two passes, no list).
            for soa_pass in [true, false] {
                for r in self.node_rrsets(id) {
                    let set = self.rrset(r);
                    if (set.rtype == Rtype::SOA) != soa_pass {
                        continue;
                    }
                    for rdata in RrIter::new(self.rrset_wire(r)) {
                        f(owner, set.rtype, set.ttl, rdata);
                    }
                }
            }
        }
    }

    fn records_of(&self, ids: Vec<NodeId>) -> Vec<Record> {
        let mut out = Vec::with_capacity(self.record_count);
        for id in ids {
            let owner = Name::from_wire(self.node_name(id)).expect("arena names are valid");
            let mut sets: Vec<RrsetId> = self.node_rrsets(id).collect();
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

/// A problem with a record, as a line of text (`OWNER TYPE: message`).
pub(crate) fn describe(rec: &Record, rtype: Option<Rtype>, msg: &str) -> String {
    match rtype {
        Some(t) => format!("{} {t}: {msg}", rec.owner),
        None => format!("{}: {msg}", rec.owner),
    }
}

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

pub(crate) fn allowed_with_cname(t: Rtype) -> bool {
    matches!(t, Rtype::CNAME | Rtype::RRSIG | Rtype::NSEC)
}

pub(crate) fn allowed_at_cut(t: Rtype) -> bool {
    matches!(t, Rtype::NS | Rtype::DS | Rtype::RRSIG | Rtype::NSEC)
}

/// Types whose rdata names a host whose addresses go in the additional section.
pub(crate) fn has_additional(t: Rtype) -> bool {
    matches!(t, Rtype::NS | Rtype::MX | Rtype::SRV | Rtype::SVCB | Rtype::HTTPS)
}

type ErrSink<'e> = dyn FnMut(&Record, Option<Rtype>, String) + 'e;

fn build(records: &[Record], apex: &Name, mut report: impl FnMut(&Record, Option<Rtype>, String)) -> Zone {
    let report: &mut ErrSink = &mut report;
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
    // Parents before children (shorter names first), then by type: each
    // node's RRsets end up contiguous and sorted by type.
    order.sort_by(|&a, &b| {
        let (x, y) = (records[a].owner.as_wire(), records[b].owner.as_wire());
        x.len()
            .cmp(&y.len())
            .then_with(|| {
                x.iter()
                    .map(u8::to_ascii_lowercase)
                    .cmp(y.iter().map(u8::to_ascii_lowercase))
            })
            .then_with(|| set_key(&records[a]).cmp(&set_key(&records[b])))
    });

    let mut a = Arena::default();
    a.add_node(apex.as_wire(), flags::APEX, 0);

    let mut i = 0;
    while i < order.len() {
        let mut buf = [0u8; 255];
        let owner = lower(&records[order[i]].owner, &mut buf);
        let node = ensure_node_with_ancestors(&mut a, owner, apex.as_wire().len());
        let first_rrset = a.rrsets.len() as u32;
        let mut j = i;
        while j < order.len() && records[order[j]].owner.as_wire().eq_ignore_ascii_case(owner) {
            let key = set_key(&records[order[j]]);
            let start = j;
            while j < order.len()
                && records[order[j]].owner.as_wire().eq_ignore_ascii_case(owner)
                && set_key(&records[order[j]]) == key
            {
                j += 1;
            }
            add_rrset(&mut a, records, &order[start..j], report);
        }
        a.set_node_rrsets(node, first_rrset, a.rrsets.len() as u32 - first_rrset);
        i = j;
    }
    let record_count = a.rrsets.iter().map(|r| r.count as usize).sum();

    let (serial, negative_soa) = check_and_flag(&mut a, apex, records, &order, report);
    let negative_soa_sig = negative_sig(&mut a, 0, negative_soa);
    link_additional(&mut a, apex);
    let denial = Denial::of_apex(&a, 0);
    a.chain = index_chain(&a, denial.chain_type());
    a.shrink();
    assert!(
        a.wire.len() < OVER as usize && a.nodes.len() < OVER as usize,
        "zone arena over 2 GiB"
    );
    Zone {
        apex: apex.clone(),
        node_count: a.nodes.len(),
        base: Arc::new(a),
        over: None,
        apex_id: 0,
        negative_soa,
        negative_soa_sig,
        serial,
        record_count,
        meter: 0,
        denial,
    }
}

/// What makes records one RRset besides their owner: the type, and for
/// RRSIG the type covered. RRSIGs are kept as one RRset per covered type,
/// each with the covered RRset's TTL (RFC 4035 §2.2), so that an answer can
/// carry exactly the signatures of the RRsets it holds (RFC 4035 §3.1.1).
pub(crate) fn set_key(r: &Record) -> (Rtype, Rtype) {
    let covered = if r.rtype == Rtype::RRSIG {
        rrsig_covered(&r.rdata)
    } else {
        Rtype(0)
    };
    (r.rtype, covered)
}

/// The type an RRSIG rdata covers (RFC 4034 §3.1.1); 0 if it is too short.
#[inline]
pub fn rrsig_covered(rdata: &[u8]) -> Rtype {
    match rdata {
        [a, b, ..] => Rtype(u16::from_be_bytes([*a, *b])),
        _ => Rtype(0),
    }
}

pub(crate) fn lower<'b>(name: &Name, buf: &'b mut [u8; 255]) -> &'b [u8] {
    let w = name.as_wire();
    buf[..w.len()].copy_from_slice(w);
    buf[..w.len()].make_ascii_lowercase();
    &buf[..w.len()]
}

fn ensure_node_with_ancestors(a: &mut Arena, wire: &[u8], apex_len: usize) -> u32 {
    if let Some(id) = a.find(wire) {
        return id;
    }
    if wire.len() > apex_len {
        let parent = &wire[wire[0] as usize + 1..];
        let pid = ensure_node_with_ancestors(a, parent, apex_len);
        let p = &mut a.nodes[pid as usize];
        p.children += 1;
        if wire[0] == 1 && wire[1] == b'*' {
            p.flags |= flags::WILDCARD_CHILD;
        }
    }
    a.add_node(wire, 0, 0)
}

fn add_rrset(a: &mut Arena, records: &[Record], idx: &[usize], report: &mut ErrSink) {
    let first = &records[idx[0]];
    // RFC 2181 §5.2: one TTL per RRset; like knotd, the last one stated wins.
    let ttl = records[idx[idx.len() - 1]].ttl;
    let count = a.push_rrset(first.rtype, ttl, idx.iter().map(|&k| records[k].rdata.as_slice()));
    if let Some(msg) = rrset_count_problem(first.rtype, count) {
        report(first, Some(first.rtype), msg.into());
    }
}

/// RRsets that may hold one record only.
pub(crate) fn rrset_count_problem(rtype: Rtype, count: u16) -> Option<&'static str> {
    match rtype {
        Rtype::SOA if count > 1 => Some("more than one SOA record"),
        Rtype::CNAME if count > 1 => Some("more than one CNAME at one owner (RFC 2181 §10.1)"),
        _ => None,
    }
}

/// The SOA serial and the RFC 2308 §5 negative TTL, min(SOA TTL, MINIMUM).
pub(crate) fn soa_serial_and_negative_ttl(soa_rdata: &[u8], soa_ttl: u32) -> (u32, u32) {
    let fixed = &soa_rdata[soa_rdata.len().saturating_sub(20)..];
    let serial = u32::from_be_bytes(fixed[0..4].try_into().unwrap_or([0; 4]));
    let minimum = u32::from_be_bytes(fixed[16..20].try_into().unwrap_or([0; 4]));
    (serial, soa_ttl.min(minimum))
}

/// A copy of the apex SOA's RRSIGs at the negative SOA's TTL, attached to
/// no node (`apex` and `negative_soa` are plain ids of `a`).
pub(crate) fn negative_sig(a: &mut Arena, apex: u32, negative_soa: u32) -> Option<RrsetId> {
    let n = a.nodes[apex as usize];
    let sig = (n.rrset_start..n.rrset_start + n.rrset_len as u32).find(|&r| {
        a.rrsets[r as usize].rtype == Rtype::RRSIG
            && rrsig_covered(RrIter::new(a.rrset_wire(r)).next().unwrap_or(&[])) == Rtype::SOA
    })?;
    let ttl = a.rrsets[negative_soa as usize].ttl;
    let (set, bytes) = (a.rrsets[sig as usize], a.rrset_wire(sig).to_vec());
    Some(a.push_detached_copy(set, &bytes, ttl))
}

/// The problems with an RRset of `rtype` at a node with these flags and
/// these types (the per-record checks of a build, shared with a patch).
pub(crate) fn placement_problems(
    owner: &Name,
    apex: &Name,
    rtype: Rtype,
    node_flags: u8,
    types_here: &[Rtype],
    mut report: impl FnMut(String),
) {
    if rtype == Rtype::SOA && node_flags & flags::APEX == 0 {
        report(format!("SOA at {owner} which is not the apex {apex}"));
    }
    if types_here.contains(&Rtype::CNAME) && !allowed_with_cname(rtype) {
        report(format!("{owner} has a CNAME and other data (RFC 1034 §3.6.2)"));
    }
    if node_flags & flags::BELOW_CUT != 0 && !matches!(rtype, Rtype::A | Rtype::AAAA) {
        report(format!("{owner} is below a delegation and is not glue"));
    } else if node_flags & flags::DELEG != 0
        && node_flags & flags::BELOW_CUT == 0
        && !allowed_at_cut(rtype)
        && !matches!(rtype, Rtype::A | Rtype::AAAA)
    {
        report(format!(
            "{owner} is a delegation point; only NS, DS and glue may be there"
        ));
    }
    if node_flags & flags::APEX != 0 && rtype == Rtype::DS {
        report("DS at the apex belongs in the parent zone (RFC 4035 §2.4)".into());
    }
}

fn check_and_flag(
    a: &mut Arena,
    apex: &Name,
    records: &[Record],
    order: &[usize],
    report: &mut ErrSink,
) -> (u32, RrsetId) {
    let apex_rec = order
        .iter()
        .map(|&k| &records[k])
        .find(|r| r.owner.eq_ignore_case(apex));
    let mut buf = [0u8; 255];
    // Apex: exactly one SOA, and NS (RFC 1035 §5.2, RFC 1034 §4.2.1).
    let mut serial = 0;
    let mut negative_soa = 0;
    match a.rrset_of(0, Rtype::SOA) {
        Some(soa) => {
            let rdata = RrIter::new(a.rrset_wire(soa)).next().unwrap_or(&[]);
            let (s, neg_ttl) = soa_serial_and_negative_ttl(rdata, a.rrsets[soa as usize].ttl);
            serial = s;
            // A copy of the SOA with the negative TTL (RFC 2308 §3), not
            // attached to any node.
            let (set, bytes) = (a.rrsets[soa as usize], a.rrset_wire(soa).to_vec());
            negative_soa = a.push_detached_copy(set, &bytes, neg_ttl);
        }
        None => {
            let placeholder = apex_rec.cloned().unwrap_or(Record {
                owner: apex.clone(),
                ttl: 0,
                class: Class::IN,
                rtype: Rtype::SOA,
                rdata: vec![],
                pos: records.first().map(|r| r.pos).unwrap_or_default(),
            });
            report(
                &placeholder,
                Some(Rtype::SOA),
                format!("no SOA record at the apex {apex}"),
            );
        }
    }
    if a.rrset_of(0, Rtype::NS).is_none() {
        if let Some(r) = apex_rec {
            report(r, Some(Rtype::NS), format!("no NS records at the apex {apex}"));
        }
    }

    // Cuts: NS below the apex. Parents come before children in a sort by
    // name length, so one pass suffices.
    let mut by_len: Vec<u32> = (0..a.nodes.len() as u32).collect();
    by_len.sort_by_key(|&id| a.nodes[id as usize].name_len);
    for &id in &by_len {
        let name = a.node_name(id);
        let parent_flags = if id == 0 {
            0
        } else {
            let parent = &name[name[0] as usize + 1..];
            let pid = a.find(parent).expect("ancestors exist");
            a.nodes[pid as usize].flags
        };
        let mut f = a.nodes[id as usize].flags;
        if id != 0 && parent_flags & (flags::DELEG | flags::BELOW_CUT) != 0 {
            f |= flags::BELOW_CUT;
        }
        if id != 0 && a.rrset_of(id, Rtype::NS).is_some() {
            f |= flags::DELEG;
        }
        a.nodes[id as usize].flags = f;
    }

    // Per record checks, in the sorted order.
    for &k in order {
        let r = &records[k];
        let node = a.find(lower(&r.owner, &mut buf)).expect("node exists");
        let n = a.nodes[node as usize];
        let types: Vec<Rtype> = (n.rrset_start..n.rrset_start + n.rrset_len as u32)
            .map(|s| a.rrsets[s as usize].rtype)
            .collect();
        placement_problems(&r.owner, apex, r.rtype, n.flags, &types, |msg| {
            report(r, Some(r.rtype), msg)
        });
    }
    (serial, negative_soa)
}

/// Precomputes, for NS/MX/SRV/SVCB/HTTPS RRsets, the in-zone nodes their
/// targets name (RFC 1034 §4.3.2 step 6); the answer takes their A/AAAA.
/// In-zone targets with no node are kept in `dangling`.
fn link_additional(a: &mut Arena, apex: &Name) {
    let mut targets = Vec::new();
    for r in 0..a.rrsets.len() as u32 {
        if !has_additional(a.rrsets[r as usize].rtype) {
            continue;
        }
        targets.clear();
        let wire = a.rrset_wire(r).to_vec();
        let rtype = a.rrsets[r as usize].rtype;
        for_each_target(rtype, &wire, apex, |lower| match a.find(lower) {
            Some(id) => {
                if !targets.contains(&id) {
                    targets.push(id)
                }
            }
            None => a.dangling.entry(lower.into()).or_default().push(r),
        });
        a.set_extra(r, &targets);
    }
}

/// Calls `f` with the lower-cased target name of each RR of an RRset whose
/// target is inside the zone.
pub(crate) fn for_each_target(rtype: Rtype, rrset_wire: &[u8], apex: &Name, mut f: impl FnMut(&[u8])) {
    for rdata in RrIter::new(rrset_wire) {
        let Some(target) = crate::rdata::additional_target(rtype, rdata) else {
            continue;
        };
        let Some(len) = name::wire_name_len(target) else {
            continue;
        };
        let lower = target[..len].to_ascii_lowercase();
        if name::wire_is_subdomain(&lower, apex.as_wire()) {
            f(&lower);
        }
    }
}

/// Byte strings seen so far, to keep the first of equal rdata in order
/// (RFC 2181 §5: an RRset is a set). A linear scan while there are few
/// (most RRsets hold one to a few rdata, and a scan beats hashing them),
/// a hash set past that, so one RRset of 100,000 values costs linear
/// time, not quadratic (issue 16).
#[derive(Default)]
pub(crate) struct Distinct<'a> {
    few: Vec<&'a [u8]>,
    many: HashSet<&'a [u8], foldhash::fast::RandomState>,
}

impl<'a> Distinct<'a> {
    const FEW: usize = 16;

    /// True when `rdata` was not seen before (and is now).
    pub(crate) fn insert(&mut self, rdata: &'a [u8]) -> bool {
        if self.many.is_empty() {
            if self.few.contains(&rdata) {
                return false;
            }
            if self.few.len() < Self::FEW {
                self.few.push(rdata);
                return true;
            }
            self.many.extend(self.few.drain(..));
        }
        self.many.insert(rdata)
    }
}

#[cfg(test)]
mod tests {
    use super::Distinct;

    #[test]
    fn distinct_keeps_the_first_of_equal_values_past_the_switch_to_hashing() {
        let values: Vec<Vec<u8>> = (0..100u32).map(|i| (i % 40).to_be_bytes().to_vec()).collect();
        let mut seen = Distinct::default();
        let kept: Vec<&[u8]> = values.iter().map(Vec::as_slice).filter(|v| seen.insert(v)).collect();
        let expected: Vec<Vec<u8>> = (0..40u32).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(kept, expected.iter().map(Vec::as_slice).collect::<Vec<_>>());
        // Below the switch, the scan alone.
        let mut few = Distinct::default();
        assert!(few.insert(b"a") && few.insert(b"b") && !few.insert(b"a"));
    }
}
