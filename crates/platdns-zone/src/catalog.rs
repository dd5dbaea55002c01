//! Many zones at once: the longest-match choice of zone for a QNAME, one hash
//! lookup per label (hickory's `Catalog::find`, NSD's zone tree, made flat).

use crate::name::Name;
use crate::types::Rtype;
use crate::zone::Zone;
use hashbrown::HashMap;
use std::sync::Arc;

/// A name whose answer is chosen per query (a traffic management LB name,
/// `platdns-steering`): the DNS node asks it before the zone lookup. The
/// zone that holds the name gives the SOA for a NODATA.
pub trait Steered: Send + Sync {
    /// Hands each answer record (type, TTL, rdata in wire form) to `out`,
    /// which returns false when the message is full. Returns how many were
    /// handed over (0: NODATA). Must not allocate: it runs per query.
    fn answer(&self, qtype: Rtype, random: u32, out: &mut dyn FnMut(Rtype, u32, &[u8]) -> bool) -> usize;

    /// The usage meter its answers count against (see [`Zone::meter`]).
    fn meter(&self) -> u32 {
        0
    }
}

/// An immutable set of zones keyed by lower-cased apex. The server swaps a
/// whole new `Catalog` in on every change; readers never lock.
#[derive(Default, Clone)]
pub struct Catalog {
    zones: HashMap<Box<[u8]>, Arc<Zone>, foldhash::fast::FixedState>,
    /// Steered names, keyed by lower-cased wire name.
    steered: HashMap<Box<[u8]>, Arc<dyn Steered>, foldhash::fast::FixedState>,
    /// Label count of the deepest apex, so the walk can skip labels above it.
    max_labels: usize,
}

impl Catalog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the zone at its apex.
    pub fn insert(&mut self, zone: Arc<Zone>) {
        let key: Box<[u8]> = zone.apex().to_lowercase().as_wire().into();
        self.max_labels = self.max_labels.max(zone.apex().label_count());
        self.zones.insert(key, zone);
    }

    pub fn remove(&mut self, apex: &Name) -> Option<Arc<Zone>> {
        self.zones.remove(apex.to_lowercase().as_wire())
    }

    pub fn get(&self, apex: &Name) -> Option<&Arc<Zone>> {
        self.zones.get(apex.to_lowercase().as_wire())
    }

    pub fn len(&self) -> usize {
        self.zones.len()
    }

    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// Adds or replaces a steered name.
    pub fn insert_steered(&mut self, name: &Name, s: Arc<dyn Steered>) {
        self.steered.insert(name.to_lowercase().as_wire().into(), s);
    }

    /// The steered name `qname` (lower-cased wire form), if it is one. One
    /// hash probe, and none while no name is steered.
    #[inline]
    pub fn steered(&self, qname: &[u8]) -> Option<&Arc<dyn Steered>> {
        if self.steered.is_empty() {
            return None;
        }
        self.steered.get(qname)
    }

    pub fn zones(&self) -> impl Iterator<Item = &Arc<Zone>> {
        self.zones.values()
    }

    /// The zone that is authoritative for `qname` (lower-cased wire form): the
    /// one with the longest apex that `qname` is at or below. A DS query is
    /// answered by the parent side of a cut (RFC 4035 §3.1.4.1), so the search
    /// for it starts one label up when another zone holds the parent.
    #[inline]
    pub fn find(&self, qname: &[u8], qtype: Rtype) -> Option<&Arc<Zone>> {
        let mut labels = 0;
        let mut pos = 0;
        while qname[pos] != 0 {
            labels += 1;
            pos += qname[pos] as usize + 1;
        }
        let mut name = qname;
        // Skip labels deeper than any apex: they cannot match.
        while labels > self.max_labels {
            name = &name[name[0] as usize + 1..];
            labels -= 1;
        }
        let mut found: Option<&Arc<Zone>> = None;
        loop {
            if let Some(z) = self.zones.get(name) {
                if !(qtype == Rtype::DS && name.len() == qname.len()) {
                    return Some(z);
                }
                found = Some(z);
            }
            if name.len() == 1 {
                return found;
            }
            name = &name[name[0] as usize + 1..];
        }
    }
}
