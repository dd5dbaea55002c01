//! A commit applied to a built zone without rebuilding it (DESIGN §3 "Write
//! path"): the RRsets a commit replaces, and the nodes that change because of
//! them, are written to an overlay arena that the new [`Zone`] holds beside
//! the unchanged base. Cost follows the change: the touched names, their
//! ancestors whose existence or wildcard flag changes, and a copy of the
//! overlay so far (kept small by compaction).
//!
//! Knot does the same with copy-on-write of its zone tree (`zone_update`,
//! `adjust.c`); ours keeps the base's flat arena for the query path's sake.
//!
//! What a patch cannot do locally it hands to a full build of the zone with
//! the change applied ([`Zone::rebuild_with`]): adding or removing a zone cut
//! above existing names (every name below changes its flags), or an overlay
//! grown past [`HARD_LIMIT`]. The result is the same either way; tests
//! compare every patch with a full build.

use crate::denial::{index_chain, Denial};
use crate::name::Name;
use crate::types::Rtype;
use crate::zone::{
    describe, flags, for_each_target, has_additional, lower, negative_sig, placement_problems, rrset_count_problem,
    set_key, soa_serial_and_negative_ttl, Arena, Distinct, NodeId, Overlay, RrIter, Zone, OVER,
};
use crate::zonefile::Record;
use hashbrown::{HashMap, HashSet};
use std::sync::Arc;

/// An overlay larger than this (in nodes, and relative to the base) should
/// be compacted by a full build off the commit path ([`Zone::compacted`]).
pub const SOFT_LIMIT: usize = 4096;
/// Past this many overlay nodes a patch rebuilds the zone itself: copying
/// the overlay on every commit would cost more than building.
pub const HARD_LIMIT: usize = 65536;

/// One RRset as a commit leaves it.
#[derive(Debug, Clone)]
pub struct RrsetChange {
    pub owner: Name,
    pub rtype: Rtype,
    /// The RRset's records after the commit, in order (the last TTL wins, as
    /// in a build); empty removes the RRset.
    pub records: Vec<Record>,
}

#[derive(Clone)]
struct DraftRrset {
    rtype: Rtype,
    /// For RRSIG, the type covered (one RRset each, as a build keeps them).
    covered: Rtype,
    ttl: u32,
    rdatas: Vec<Vec<u8>>,
}

/// A node being rewritten.
struct Draft {
    owner: Name,
    rrsets: Vec<DraftRrset>,
    flags: u8,
    children: u32,
    /// Existed before this patch.
    was_live: bool,
    /// Exists as far as the parents' child counts know.
    live: bool,
    had_ns: bool,
    /// Its RRsets changed: run the checks.
    touched: bool,
    old_records: usize,
}

impl Draft {
    fn exists(&self) -> bool {
        !self.rrsets.is_empty() || self.children > 0 || self.flags & flags::APEX != 0
    }
    fn has(&self, t: Rtype) -> bool {
        self.rrsets.iter().any(|r| r.rtype == t)
    }
}

enum Failure {
    Invalid(Vec<String>),
    Rebuild,
}

impl Zone {
    /// This zone with `changes` applied, incrementally when it can be (see
    /// the module comment). Errors are the build's semantic checks for the
    /// changed names, as `OWNER TYPE: message`.
    pub fn patch(&self, changes: &[RrsetChange]) -> Result<Zone, Vec<String>> {
        if self.overlay_len() > HARD_LIMIT {
            return self.rebuild_with(changes);
        }
        match Patch::new(self).run(changes) {
            Ok(z) => Ok(z),
            Err(Failure::Rebuild) => self.rebuild_with(changes),
            Err(Failure::Invalid(e)) => Err(e),
        }
    }

    /// A full build of this zone's records with `changes` applied.
    pub fn rebuild_with(&self, changes: &[RrsetChange]) -> Result<Zone, Vec<String>> {
        let mut replaced: hashbrown::HashSet<(Vec<u8>, Rtype)> = hashbrown::HashSet::new();
        for c in changes {
            replaced.insert((c.owner.to_lowercase().as_wire().to_vec(), c.rtype));
        }
        let mut records = self.records();
        records.retain(|r| !replaced.contains(&(r.owner.to_lowercase().as_wire().to_vec(), r.rtype)));
        records.extend(changes.iter().flat_map(|c| c.records.iter().cloned()));
        let mut z = Zone::from_records(&records, &self.apex)?;
        z.meter = self.meter;
        Ok(z)
    }

    /// Whether the overlay has grown enough that a [`Zone::compacted`] copy
    /// should replace this zone.
    pub fn wants_compaction(&self) -> bool {
        let n = self.overlay_len();
        n > SOFT_LIMIT && n > self.base.nodes.len() / 64
    }

    /// The same zone built whole, with no overlay.
    pub fn compacted(&self) -> Result<Zone, Vec<String>> {
        let mut z = Zone::from_records(&self.records(), &self.apex)?;
        z.meter = self.meter;
        Ok(z)
    }
}

impl Zone {
    /// The RRset changes that take this zone's records to the same records
    /// less `remove` plus `add` (a signer's diff, say): each `(owner, type)`
    /// touched, with all its records after. A removed record that is not
    /// here is ignored; an added one already here is kept once.
    pub fn rrset_changes(&self, remove: &[Record], add: &[Record]) -> Vec<RrsetChange> {
        type Key = (Vec<u8>, Rtype);
        let key = |r: &Record| -> Key { (r.owner.to_lowercase().as_wire().to_vec(), r.rtype) };
        let mut keys: Vec<Key> = Vec::new();
        let mut removed: HashMap<Key, Vec<&[u8]>> = HashMap::new();
        let mut added: HashMap<Key, Vec<&Record>> = HashMap::new();
        for r in remove {
            let k = key(r);
            if !removed.contains_key(&k) && !added.contains_key(&k) {
                keys.push(k.clone());
            }
            removed.entry(k).or_default().push(&r.rdata);
        }
        for r in add {
            let k = key(r);
            if !removed.contains_key(&k) && !added.contains_key(&k) {
                keys.push(k.clone());
            }
            added.entry(k).or_default().push(r);
        }
        let mut at: HashMap<Vec<u8>, Vec<Record>> = HashMap::new();
        keys.into_iter()
            .map(|k| {
                let here = at.entry(k.0.clone()).or_insert_with(|| self.records_at(&k.0));
                // Hashed, so a large RRset costs linear time (issue 16).
                let gone: HashSet<&[u8]> = removed.get(&k).into_iter().flatten().copied().collect();
                let mut records: Vec<Record> = here
                    .iter()
                    .filter(|r| r.rtype == k.1 && !gone.contains(r.rdata.as_slice()))
                    .cloned()
                    .collect();
                let mut at_rdata: HashMap<Vec<u8>, usize> =
                    records.iter().enumerate().map(|(i, r)| (r.rdata.clone(), i)).collect();
                for &r in added.get(&k).into_iter().flatten() {
                    match at_rdata.get(&r.rdata) {
                        Some(&i) => records[i].ttl = r.ttl,
                        None => {
                            at_rdata.insert(r.rdata.clone(), records.len());
                            records.push(r.clone());
                        }
                    }
                }
                let owner = Name::from_wire(&k.0).expect("owners are valid names");
                RrsetChange {
                    owner,
                    rtype: k.1,
                    records,
                }
            })
            .collect()
    }
}

struct Patch<'z> {
    zone: &'z Zone,
    drafts: HashMap<Vec<u8>, Draft>,
}

impl<'z> Patch<'z> {
    fn new(zone: &'z Zone) -> Self {
        Patch {
            zone,
            drafts: HashMap::new(),
        }
    }

    /// The draft of a name, loaded from the zone as it is on first use.
    fn draft(&mut self, name: &[u8]) -> &mut Draft {
        let z = self.zone;
        self.drafts.entry(name.to_vec()).or_insert_with(|| {
            let owner = Name::from_wire(name).expect("names in a zone are valid");
            let apex = if name == z.apex.as_wire() { flags::APEX } else { 0 };
            match z.find(name) {
                Some(id) => {
                    let node = z.node(id);
                    let rrsets: Vec<DraftRrset> = z
                        .node_rrsets(id)
                        .map(|r| {
                            let set = z.rrset(r);
                            DraftRrset {
                                rtype: set.rtype,
                                covered: z.rrset_covers(r),
                                ttl: set.ttl,
                                rdatas: RrIter::new(z.rrset_wire(r)).map(<[u8]>::to_vec).collect(),
                            }
                        })
                        .collect();
                    let old_records = rrsets.iter().map(|r| r.rdatas.len()).sum();
                    let had_ns = rrsets.iter().any(|r| r.rtype == Rtype::NS);
                    Draft {
                        owner,
                        rrsets,
                        flags: node.flags,
                        children: node.children(),
                        was_live: true,
                        live: true,
                        had_ns,
                        touched: false,
                        old_records,
                    }
                }
                None => Draft {
                    owner,
                    rrsets: Vec::new(),
                    flags: apex,
                    children: 0,
                    was_live: false,
                    live: false,
                    had_ns: false,
                    touched: false,
                    old_records: 0,
                },
            }
        })
    }

    fn run(mut self, changes: &[RrsetChange]) -> Result<Zone, Failure> {
        let z = self.zone;
        let apex = z.apex.clone();
        let mut errors = Vec::new();
        let mut names = Vec::new();
        for c in changes {
            if !c.owner.is_subdomain_of(&apex) {
                errors.push(format!(
                    "{} {}: owner {} is outside the zone {apex}",
                    c.owner, c.rtype, c.owner
                ));
                continue;
            }
            if let Some(r) = c
                .records
                .iter()
                .find(|r| r.rtype != c.rtype || !r.owner.eq_ignore_case(&c.owner))
            {
                errors.push(describe(
                    r,
                    Some(r.rtype),
                    "record does not belong to the RRset changed",
                ));
                continue;
            }
            let mut buf = [0u8; 255];
            let name = lower(&c.owner, &mut buf).to_vec();
            let d = self.draft(&name);
            d.touched = true;
            d.rrsets.retain(|r| r.rtype != c.rtype);
            // One RRset per set key (for RRSIG, per type covered), in the
            // build's order; the last record's TTL wins, as in a build.
            let mut groups: Vec<DraftRrset> = Vec::new();
            let mut seen: Vec<Distinct> = Vec::new();
            for r in &c.records {
                let (rtype, covered) = set_key(r);
                let i = match groups.iter().position(|g| g.covered == covered) {
                    Some(i) => i,
                    None => {
                        groups.push(DraftRrset {
                            rtype,
                            covered,
                            ttl: r.ttl,
                            rdatas: Vec::new(),
                        });
                        seen.push(Distinct::default());
                        groups.len() - 1
                    }
                };
                groups[i].ttl = r.ttl;
                if seen[i].insert(&r.rdata) {
                    groups[i].rdatas.push(r.rdata.clone());
                }
            }
            groups.sort_by_key(|g| g.covered);
            let pos = d.rrsets.partition_point(|r| r.rtype < c.rtype);
            d.rrsets.splice(pos..pos, groups);
            names.push(name);
        }
        if !errors.is_empty() {
            return Err(Failure::Invalid(errors));
        }
        for name in &names {
            self.settle(name);
        }
        // A cut added or removed above existing names changes every name
        // below it (RFC 1034 §4.2.1): that is a build's work.
        for d in self.drafts.values() {
            if d.touched && d.flags & flags::APEX == 0 && d.had_ns != d.has(Rtype::NS) && d.children > 0 {
                return Err(Failure::Rebuild);
            }
        }
        self.flag(&apex);
        self.check(&apex)?;
        self.emit()
    }

    /// Brings the parent's child count (and wildcard flag) in line with
    /// whether `name` exists now, up the tree as far as existence changes.
    fn settle(&mut self, name: &[u8]) {
        let apex_len = self.zone.apex.as_wire().len();
        let mut name = name.to_vec();
        loop {
            let d = self.draft(&name);
            let now = d.exists();
            if now == d.live || name.len() <= apex_len {
                d.live = now || name.len() <= apex_len;
                return;
            }
            d.live = now;
            let wildcard = name[0] == 1 && name[1] == b'*';
            let parent = name[name[0] as usize + 1..].to_vec();
            let p = self.draft(&parent);
            if now {
                p.children += 1;
                if wildcard {
                    p.flags |= flags::WILDCARD_CHILD;
                }
            } else {
                p.children -= 1;
                if wildcard {
                    p.flags &= !flags::WILDCARD_CHILD;
                }
            }
            name = parent;
        }
    }

    /// DELEG and BELOW_CUT for every draft, parents first.
    fn flag(&mut self, apex: &Name) {
        let mut order: Vec<Vec<u8>> = self.drafts.keys().cloned().collect();
        order.sort_by_key(Vec::len);
        for name in order {
            if name.len() <= apex.as_wire().len() {
                continue;
            }
            let parent = &name[name[0] as usize + 1..];
            let parent_flags = match self.drafts.get(parent) {
                Some(p) => p.flags,
                None => self.zone.find(parent).map_or(0, |id| self.zone.node(id).flags),
            };
            let d = self.drafts.get_mut(&name).expect("listed");
            d.flags &= !(flags::DELEG | flags::BELOW_CUT);
            if parent_flags & (flags::DELEG | flags::BELOW_CUT) != 0 {
                d.flags |= flags::BELOW_CUT;
            }
            if d.has(Rtype::NS) {
                d.flags |= flags::DELEG;
            }
        }
    }

    /// The build's checks, for the RRsets of every changed name.
    fn check(&self, apex: &Name) -> Result<(), Failure> {
        let mut errors = Vec::new();
        for d in self.drafts.values().filter(|d| d.touched) {
            let types: Vec<Rtype> = d.rrsets.iter().map(|r| r.rtype).collect();
            for set in &d.rrsets {
                let at = |msg: String| format!("{} {}: {msg}", d.owner, set.rtype);
                if let Some(msg) = rrset_count_problem(set.rtype, set.rdatas.len() as u16) {
                    errors.push(at(msg.into()));
                }
                placement_problems(&d.owner, apex, set.rtype, d.flags, &types, |msg| errors.push(at(msg)));
            }
            if d.flags & flags::APEX != 0 {
                if !d.has(Rtype::SOA) {
                    errors.push(format!("{apex} SOA: no SOA record at the apex {apex}"));
                }
                if !d.has(Rtype::NS) {
                    errors.push(format!("{apex} NS: no NS records at the apex {apex}"));
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            errors.sort();
            Err(Failure::Invalid(errors))
        }
    }

    /// Writes the drafts into a copy of the overlay and makes the new zone.
    fn emit(self) -> Result<Zone, Failure> {
        let z = self.zone;
        let mut over: Overlay = z.over.as_deref().cloned().unwrap_or_default();
        let mut record_count = z.record_count as i64;
        let mut node_count = z.node_count as i64;
        let (mut apex_id, mut negative_soa, mut serial) = (z.apex_id, z.negative_soa, z.serial);
        let mut negative_soa_sig = z.negative_soa_sig;
        let mut needs_extra: Vec<u32> = Vec::new();
        let mut created: Vec<(Vec<u8>, NodeId)> = Vec::new();
        for (name, d) in &self.drafts {
            let new_records: usize = d.rrsets.iter().map(|r| r.rdatas.len()).sum();
            record_count += new_records as i64 - d.old_records as i64;
            node_count += d.live as i64 - d.was_live as i64;
            if !d.live {
                if d.was_live {
                    over.arena.add_node(name, flags::GONE, 0);
                }
                continue;
            }
            let id = over.arena.add_node(name, d.flags, d.children);
            let start = over.arena.rrsets.len() as u32;
            for set in &d.rrsets {
                let r = over.arena.rrsets.len() as u32;
                over.arena
                    .push_rrset(set.rtype, set.ttl, set.rdatas.iter().map(Vec::as_slice));
                if has_additional(set.rtype) {
                    needs_extra.push(r);
                }
            }
            over.arena
                .set_node_rrsets(id, start, over.arena.rrsets.len() as u32 - start);
            if !d.was_live {
                created.push((name.clone(), id | OVER));
            }
            if d.flags & flags::APEX != 0 {
                apex_id = id | OVER;
                if let Some(soa) = over.arena.rrset_of(id, Rtype::SOA) {
                    let set = over.arena.rrsets[soa as usize];
                    let bytes = over.arena.rrset_wire(soa).to_vec();
                    let rdata = RrIter::new(&bytes).next().unwrap_or(&[]);
                    let (s, neg_ttl) = soa_serial_and_negative_ttl(rdata, set.ttl);
                    serial = s;
                    let neg = over.arena.push_detached_copy(set, &bytes, neg_ttl);
                    negative_soa = neg | OVER;
                    negative_soa_sig = negative_sig(&mut over.arena, id, neg).map(|r| r | OVER);
                }
            }
        }
        // Additional targets of the new RRsets, looked up in the new view.
        let find = |arena: &Arena, name: &[u8]| -> Option<NodeId> {
            match arena.find(name) {
                Some(id) if arena.nodes[id as usize].flags & flags::GONE != 0 => None,
                Some(id) => Some(id | OVER),
                None => z.base.find(name),
            }
        };
        let mut targets = Vec::new();
        for r in needs_extra {
            targets.clear();
            let set = over.arena.rrsets[r as usize];
            let wire = over.arena.rrset_wire(r).to_vec();
            let mut dangling = Vec::new();
            for_each_target(set.rtype, &wire, &z.apex, |name| match find(&over.arena, name) {
                Some(id) => {
                    if !targets.contains(&id) {
                        targets.push(id)
                    }
                }
                None => dangling.push(name.to_vec()),
            });
            over.arena.set_extra(r, &targets);
            for name in dangling {
                over.arena.dangling.entry(name.into()).or_default().push(r | OVER);
            }
        }
        // Names that RRsets built earlier were waiting for.
        for (name, id) in created {
            let waiting = z.base.dangling.get(name.as_slice()).into_iter().flatten();
            let waiting_over = over.arena.dangling.get(name.as_slice()).cloned().unwrap_or_default();
            for &r in waiting.chain(waiting_over.iter()) {
                over.extra_more.entry(r).or_default().push(id);
            }
        }
        // The apex decides whether the zone is signed and how; the overlay's
        // own chain nodes are indexed again (the base's index stays).
        let apex_arena_id = (apex_id & OVER != 0).then_some(apex_id & !OVER);
        let denial = match apex_arena_id {
            Some(id) => Denial::of_apex(&over.arena, id),
            None => z.denial.clone(),
        };
        over.arena.chain = index_chain(&over.arena, denial.chain_type());
        if denial.chain_type() != z.denial.chain_type() && !z.base.chain.is_empty() {
            // The base's index is of another kind; a zone that changes from
            // NSEC to NSEC3 (or stops being signed) is rebuilt by the caller.
            return Err(Failure::Rebuild);
        }
        Ok(Zone {
            apex: z.apex.clone(),
            base: z.base.clone(),
            over: Some(Arc::new(over)),
            apex_id,
            negative_soa,
            negative_soa_sig,
            serial,
            record_count: record_count.max(0) as usize,
            node_count: node_count.max(0) as usize,
            meter: z.meter,
            denial,
        })
    }
}

#[cfg(test)]
mod tests {
    //! Every patch is checked against a full build of the same records: the
    //! same records, counts and serial, the same answer to every question
    //! about every name in play, and an error exactly when the build errs.
    use super::*;
    use crate::lookup::{Owner, Resolution, Section};
    use crate::rdata;
    use crate::zonefile::{parse_str, NoIncludes};
    use platdns_testkit::rng::Rng;
    use std::collections::BTreeMap;

    const APEX: &str = "example.";
    const LABELS: [&str; 6] = ["a", "b", "*", "ns", "mail", "sub"];

    fn universe() -> Vec<String> {
        let mut names = vec![APEX.to_string()];
        for a in LABELS {
            names.push(format!("{a}.{APEX}"));
            for b in LABELS {
                names.push(format!("{b}.{a}.{APEX}"));
                names.push(format!("x.{b}.{a}.{APEX}"));
            }
        }
        names
    }

    fn record(owner: &str, ttl: u32, rtype: Rtype, text: &str) -> Record {
        let p = parse_str(
            &format!("{owner} {ttl} IN {rtype} {text}\n"),
            "t",
            Some(&Name::from_text(APEX, None).unwrap()),
            &mut NoIncludes,
        );
        assert!(p.errors.is_empty(), "{owner} {rtype} {text}: {:?}", p.errors);
        p.records.into_iter().next().unwrap()
    }

    fn soa(serial: u32) -> Record {
        record(
            APEX,
            3600,
            Rtype::SOA,
            &format!("ns.{APEX} host.{APEX} {serial} 1 2 3 300"),
        )
    }

    fn random_change(rng: &mut Rng, names: &[String]) -> RrsetChange {
        let owner = names[rng.below(names.len())].clone();
        let target = |rng: &mut Rng| -> String {
            if rng.below(5) == 0 {
                "elsewhere.test.".into()
            } else {
                names[rng.below(names.len())].replace('*', "w")
            }
        };
        let rtype = [
            Rtype::A,
            Rtype::A,
            Rtype::AAAA,
            Rtype::TXT,
            Rtype::MX,
            Rtype::NS,
            Rtype::CNAME,
            Rtype::SRV,
            Rtype::DS,
        ][rng.below(9)];
        let n = if rng.below(4) == 0 { 0 } else { 1 + rng.below(3) };
        let mut records = Vec::new();
        for i in 0..n {
            let text = match rtype {
                Rtype::A => format!("192.0.2.{}", rng.below(4)),
                Rtype::AAAA => format!("2001:db8::{}", rng.below(4)),
                Rtype::TXT => format!("\"t{}\"", rng.below(4)),
                Rtype::MX => format!("{} {}", rng.below(3), target(rng)),
                Rtype::NS => target(rng),
                Rtype::CNAME => target(rng),
                Rtype::SRV => format!("0 0 {} {}", rng.below(3), target(rng)),
                _ => format!("{} 8 2 {}", rng.below(3), "ab".repeat(32)),
            };
            records.push(record(&owner, 300 + i as u32, rtype, &text));
        }
        RrsetChange {
            owner: Name::from_text(&owner, None).unwrap(),
            rtype,
            records,
        }
    }

    type Key = (Vec<u8>, Rtype);

    fn build(state: &BTreeMap<Key, Vec<Record>>) -> Result<Zone, Vec<String>> {
        let records: Vec<Record> = state.values().flatten().cloned().collect();
        Zone::from_records(&records, &Name::from_text(APEX, None).unwrap())
    }

    fn answer(z: &Zone, qname: &[u8], qtype: Rtype) -> String {
        let mut r = Resolution::default();
        z.resolve(qname, qtype, &mut r);
        let show = |s: &Section, sort: bool| {
            let mut items: Vec<String> = s
                .items()
                .iter()
                .map(|&(owner, rs)| {
                    let owner = match owner {
                        Owner::Qname => "Q".to_string(),
                        Owner::Node(id) => Name::from_wire(z.node_name(id)).unwrap().to_string(),
                        Owner::RdataName(off) => Name::from_wire(z.wire_name_at(off)).unwrap().to_string(),
                    };
                    format!("{owner} {:?}", z.rrset_wire(rs))
                })
                .collect();
            if sort {
                items.sort();
            }
            items.join(" | ")
        };
        format!(
            "{:?} aa={} AN[{}] NS[{}] AR[{}]",
            r.outcome,
            r.authoritative,
            show(&r.answer, false),
            show(&r.authority, false),
            show(&r.additional, true)
        )
    }

    fn same(patched: &Zone, built: &Zone, questions: &[Vec<u8>], step: usize) {
        let text = |z: &Zone| {
            z.records()
                .iter()
                .map(|r| format!("{} {} {} {:?}", r.owner, r.ttl, r.rtype, r.rdata))
                .collect::<Vec<_>>()
        };
        assert_eq!(text(patched), text(built), "records after step {step}");
        assert_eq!(
            patched.record_count(),
            built.record_count(),
            "record count, step {step}"
        );
        assert_eq!(patched.node_count(), built.node_count(), "node count, step {step}");
        assert_eq!(patched.serial(), built.serial());
        let largest = built.records().iter().map(|r| r.ttl).max().unwrap_or(0);
        assert_eq!(patched.max_ttl(), largest, "max TTL, step {step}");
        assert_eq!(built.max_ttl(), largest, "max TTL, step {step}");
        for q in questions {
            for t in [
                Rtype::A,
                Rtype::AAAA,
                Rtype::TXT,
                Rtype::MX,
                Rtype::NS,
                Rtype::CNAME,
                Rtype::SRV,
                Rtype::DS,
                Rtype::SOA,
                Rtype::ANY,
            ] {
                assert_eq!(
                    answer(patched, q, t),
                    answer(built, q, t),
                    "{} {t} after step {step}",
                    Name::from_wire(q).unwrap()
                );
            }
        }
    }

    fn run(seed: u64, steps: usize) -> (usize, usize, usize) {
        let mut rng = Rng::new(seed);
        let names = universe();
        let mut questions: Vec<Vec<u8>> = names
            .iter()
            .map(|n| Name::from_text(n, None).unwrap().as_wire().to_vec())
            .collect();
        for extra in [
            "zz.a.example.",
            "q.w.example.",
            "y.x.b.a.example.",
            "deep.x.sub.sub.example.",
        ] {
            questions.push(Name::from_text(extra, None).unwrap().as_wire().to_vec());
        }
        let apex = Name::from_text(APEX, None).unwrap();
        let mut state: BTreeMap<Key, Vec<Record>> = BTreeMap::new();
        state.insert((apex.as_wire().to_vec(), Rtype::SOA), vec![soa(1)]);
        state.insert(
            (apex.as_wire().to_vec(), Rtype::NS),
            vec![record(APEX, 3600, Rtype::NS, "ns.example.")],
        );
        let mut zone = build(&state).unwrap();
        let (mut ok, mut refused, mut rebuilt) = (0, 0, 0);
        for step in 0..steps {
            let mut changes = vec![RrsetChange {
                owner: apex.clone(),
                rtype: Rtype::SOA,
                records: vec![soa(step as u32 + 2)],
            }];
            for _ in 0..1 + rng.below(3) {
                changes.push(random_change(&mut rng, &names));
            }
            let mut next = state.clone();
            for c in &changes {
                let key = (c.owner.to_lowercase().as_wire().to_vec(), c.rtype);
                if c.records.is_empty() {
                    next.remove(&key);
                } else {
                    next.insert(key, c.records.clone());
                }
            }
            let expected = build(&next);
            let got = zone.patch(&changes);
            match (got, expected) {
                (Ok(p), Ok(b)) => {
                    if p.overlay_len() == 0 {
                        rebuilt += 1;
                    }
                    same(&p, &b, &questions, step);
                    zone = p;
                    state = next;
                    ok += 1;
                }
                (Err(_), Err(_)) => refused += 1,
                (Ok(_), Err(e)) => panic!("step {step}: the patch took what a build refuses: {e:?} ({changes:?})"),
                (Err(e), Ok(_)) => panic!("step {step}: the patch refused what a build takes: {e:?} ({changes:?})"),
            }
        }
        let compacted = zone.compacted().unwrap();
        assert_eq!(compacted.overlay_len(), 0);
        same(&zone, &compacted, &questions, steps);
        (ok, refused, rebuilt)
    }

    #[test]
    fn every_patch_equals_a_full_build() {
        for seed in [1, 2, 3, 0x5eed] {
            let (ok, refused, rebuilt) = run(seed, 400);
            // The generator must exercise both outcomes; cuts above existing
            // names (the rebuild path) have their own test below.
            assert!(ok > 100 && refused > 20, "seed {seed}: {ok} {refused} {rebuilt}");
        }
    }

    #[test]
    fn a_cut_above_existing_names_is_rebuilt_and_answers_as_a_build() {
        let apex = Name::from_text(APEX, None).unwrap();
        let text = format!(
            "$ORIGIN {APEX}\n@ 3600 SOA ns host 1 1 2 3 300\n@ NS ns\nns A 192.0.2.53\nhost.sub A 192.0.2.1\nx.y.sub AAAA 2001:db8::1\n"
        );
        let p = parse_str(&text, "t", None, &mut NoIncludes);
        let zone = Zone::from_parsed(&p, None).unwrap();
        let ns = RrsetChange {
            owner: Name::from_text("sub.example.", None).unwrap(),
            rtype: Rtype::NS,
            records: vec![record("sub.example.", 60, Rtype::NS, "host.sub.example.")],
        };
        let cut = zone.patch(std::slice::from_ref(&ns)).unwrap();
        assert_eq!(cut.overlay_len(), 0, "rebuilt whole");
        let mut r = Resolution::default();
        cut.resolve(
            Name::from_text("x.y.sub.example.", None).unwrap().as_wire(),
            Rtype::AAAA,
            &mut r,
        );
        assert!(!r.authoritative, "a referral now");
        assert_eq!(r.additional.items().len(), 1, "glue for host.sub");
        // Data below the new cut other than glue is refused.
        let txt = RrsetChange {
            owner: Name::from_text("t.sub.example.", None).unwrap(),
            rtype: Rtype::TXT,
            records: vec![record("t.sub.example.", 60, Rtype::TXT, "\"x\"")],
        };
        let e = cut.patch(&[txt]).err().expect("refused");
        assert!(e[0].contains("below a delegation"), "{e:?}");
        // Removing the cut again: authoritative answers below it.
        let back = cut.patch(&[RrsetChange { records: vec![], ..ns }]).unwrap();
        back.resolve(
            Name::from_text("x.y.sub.example.", None).unwrap().as_wire(),
            Rtype::AAAA,
            &mut r,
        );
        assert!(r.authoritative && r.answer.items().len() == 1);
        assert_eq!(back.apex(), &apex);
    }

    #[test]
    fn a_patch_touches_only_what_changed() {
        // 10,000 names; one changed: the overlay holds that node and the apex.
        let mut text = format!("$ORIGIN {APEX}\n@ 3600 SOA ns host 1 1 2 3 300\n@ NS ns\n");
        for i in 0..10_000 {
            text += &format!("h{i} A 192.0.2.1\n");
        }
        let p = parse_str(&text, "t", None, &mut NoIncludes);
        let zone = Zone::from_parsed(&p, None).unwrap();
        let change = RrsetChange {
            owner: Name::from_text("h5.example.", None).unwrap(),
            rtype: Rtype::A,
            records: vec![record("h5.example.", 60, Rtype::A, "192.0.2.9")],
        };
        let z2 = zone.patch(&[change]).unwrap();
        assert_eq!(z2.overlay_len(), 1);
        let _ = rdata::additional_target;
    }
}
