//! Many zones at once: the longest-match choice of zone for a QNAME, one hash
//! lookup per label (hickory's `Catalog::find`, NSD's zone tree, made flat).

use crate::name::Name;
use crate::types::Rtype;
use crate::zone::Zone;
use hashbrown::HashTable;
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

/// Bits of an apex's hash that choose its shard: 1,024 shards, so that a
/// change copies about a thousandth of the catalog (a hundred entries at
/// 100,000 zones) rather than all of it.
const SHARD_BITS: u32 = 10;
const SHARDS: usize = 1 << SHARD_BITS;

/// The shard of a hash. hashbrown's tables use the low bits (bucket) and
/// the top seven (tag); the shard takes bits 32.. so that neither is the
/// same for every entry of a shard.
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (SHARDS - 1)
}

#[inline]
fn hash_of(key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::default().hash_one(key)
}

/// One shard: lower-cased wire names (shared, so a copied shard copies
/// pointers) and their values.
type Shard<V> = HashTable<(Arc<[u8]>, V)>;

/// Lower-cased wire names mapped to `V`, in [`SHARDS`] tables behind `Arc`s:
/// cloning copies one pointer per shard, and a change then copies only the
/// one shard it touches (`Arc::make_mut`). A lookup hashes once, as one
/// table would (issue 16: publication whose cost does not follow the number
/// of zones).
#[derive(Clone)]
struct Sharded<V: Clone> {
    shards: Box<[Arc<Shard<V>>]>,
    len: usize,
}

impl<V: Clone> Default for Sharded<V> {
    fn default() -> Self {
        let empty = Arc::new(HashTable::new());
        Sharded {
            // Every shard starts as the same empty table; the first change
            // of each gives it its own.
            shards: (0..SHARDS).map(|_| empty.clone()).collect(),
            len: 0,
        }
    }
}

impl<V: Clone> Sharded<V> {
    #[inline]
    fn get(&self, key: &[u8]) -> Option<&V> {
        let hash = hash_of(key);
        self.shards[shard_of(hash)]
            .find(hash, |(k, _)| **k == *key)
            .map(|(_, v)| v)
    }

    fn insert(&mut self, key: &[u8], value: V) {
        let hash = hash_of(key);
        let shard = Arc::make_mut(&mut self.shards[shard_of(hash)]);
        match shard.entry(hash, |(k, _)| **k == *key, |(k, _)| hash_of(k)) {
            hashbrown::hash_table::Entry::Occupied(mut e) => e.get_mut().1 = value,
            hashbrown::hash_table::Entry::Vacant(e) => {
                e.insert((key.into(), value));
                self.len += 1;
            }
        }
    }

    fn remove(&mut self, key: &[u8]) -> Option<V> {
        let hash = hash_of(key);
        let i = shard_of(hash);
        // Only a shard that holds the key is copied.
        self.shards[i].find(hash, |(k, _)| **k == *key)?;
        let shard = Arc::make_mut(&mut self.shards[i]);
        let (_, v) = shard.find_entry(hash, |(k, _)| **k == *key).ok()?.remove().0;
        self.len -= 1;
        Some(v)
    }

    fn values(&self) -> impl Iterator<Item = &V> {
        self.shards.iter().flat_map(|s| s.iter().map(|(_, v)| v))
    }
}

/// An immutable set of zones keyed by lower-cased apex. The server swaps a
/// whole new `Catalog` in on every change; readers never lock. A clone
/// costs one pointer per shard, and a change after it copies one shard.
#[derive(Default, Clone)]
pub struct Catalog {
    zones: Sharded<Arc<Zone>>,
    /// Steered names, keyed by lower-cased wire name.
    steered: Sharded<Arc<dyn Steered>>,
    /// Label count of the deepest apex, so the walk can skip labels above it.
    max_labels: usize,
}

impl Catalog {
    /// How many tables the zones are spread over.
    pub const SHARDS: usize = SHARDS;

    pub fn new() -> Self {
        Self::default()
    }

    /// How many of the zones' shards two catalogs share: what a change
    /// between them copied is the rest (tests, and a check of the cost).
    pub fn shared_shards(&self, other: &Catalog) -> usize {
        let pairs = self.zones.shards.iter().zip(other.zones.shards.iter());
        pairs.filter(|(a, b)| Arc::ptr_eq(a, b)).count()
    }

    /// Adds or replaces the zone at its apex.
    pub fn insert(&mut self, zone: Arc<Zone>) {
        self.max_labels = self.max_labels.max(zone.apex().label_count());
        let key = zone.apex().to_lowercase();
        self.zones.insert(key.as_wire(), zone);
    }

    pub fn remove(&mut self, apex: &Name) -> Option<Arc<Zone>> {
        self.zones.remove(apex.to_lowercase().as_wire())
    }

    pub fn get(&self, apex: &Name) -> Option<&Arc<Zone>> {
        self.zones.get(apex.to_lowercase().as_wire())
    }

    pub fn len(&self) -> usize {
        self.zones.len
    }

    pub fn is_empty(&self) -> bool {
        self.zones.len == 0
    }

    /// Adds or replaces a steered name.
    pub fn insert_steered(&mut self, name: &Name, s: Arc<dyn Steered>) {
        self.steered.insert(name.to_lowercase().as_wire(), s);
    }

    /// Stops steering a name; the zone that holds it answers again.
    pub fn remove_steered(&mut self, name: &Name) -> Option<Arc<dyn Steered>> {
        self.steered.remove(name.to_lowercase().as_wire())
    }

    /// The steered name `qname` (lower-cased wire form), if it is one. One
    /// hash probe, and none while no name is steered.
    #[inline]
    pub fn steered(&self, qname: &[u8]) -> Option<&Arc<dyn Steered>> {
        if self.steered.len == 0 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zonefile::{parse_str, FsIncludes};

    fn zone(apex: &str) -> Arc<Zone> {
        let text = format!("$ORIGIN {apex}\n@ 300 SOA ns. h. 1 2 3 4 5\n@ 300 NS ns.\nwww 300 A 192.0.2.1\n");
        let p = parse_str(&text, "t", None, &mut FsIncludes);
        Arc::new(Zone::from_parsed(&p, None).unwrap_or_else(|e| panic!("{e:?}")))
    }

    fn wire(name: &str) -> Vec<u8> {
        Name::from_text(name, None).unwrap().to_lowercase().as_wire().to_vec()
    }

    #[test]
    fn the_longest_apex_wins_across_shards() {
        let mut c = Catalog::new();
        for i in 0..3000 {
            c.insert(zone(&format!("z{i}.example.")));
        }
        c.insert(zone("example."));
        c.insert(zone("deep.z7.example."));
        assert_eq!(c.len(), 3002);
        let apex = |q: &str| c.find(&wire(q), Rtype::A).map(|z| z.apex().to_string());
        assert_eq!(apex("www.z2999.example.").as_deref(), Some("z2999.example."));
        assert_eq!(apex("a.deep.z7.example.").as_deref(), Some("deep.z7.example."));
        assert_eq!(apex("other.example.").as_deref(), Some("example."));
        assert_eq!(
            apex("WWW.Z5.EXAMPLE.".to_lowercase().as_str()).as_deref(),
            Some("z5.example.")
        );
        assert_eq!(apex("example.net."), None);
        // DS is answered from the parent side of a cut (RFC 4035 §3.1.4.1).
        let ds = c.find(&wire("z5.example."), Rtype::DS).unwrap();
        assert_eq!(ds.apex().to_string(), "example.");
        assert_eq!(c.zones().count(), 3002);
    }

    #[test]
    fn a_change_after_a_clone_leaves_the_clone_as_it_was() {
        let mut c = Catalog::new();
        for i in 0..100 {
            c.insert(zone(&format!("z{i}.test.")));
        }
        let before = c.clone();
        let replaced = zone("z1.test.");
        c.insert(replaced.clone());
        assert!(c.remove(&Name::from_text("z2.test.", None).unwrap()).is_some());
        assert!(c.remove(&Name::from_text("absent.test.", None).unwrap()).is_none());
        c.insert(zone("new.test."));
        assert_eq!((before.len(), c.len()), (100, 100));
        let z1 = Name::from_text("z1.test.", None).unwrap();
        assert!(Arc::ptr_eq(c.get(&z1).unwrap(), &replaced));
        assert!(!Arc::ptr_eq(before.get(&z1).unwrap(), &replaced));
        assert!(before.get(&Name::from_text("z2.test.", None).unwrap()).is_some());
        assert!(before.get(&Name::from_text("new.test.", None).unwrap()).is_none());
        // Shards nobody changed are still shared, not copied.
        let shared = c
            .zones
            .shards
            .iter()
            .zip(before.zones.shards.iter())
            .filter(|(a, b)| Arc::ptr_eq(a, b))
            .count();
        assert!(shared >= SHARDS - 3, "{shared} of {SHARDS} shards shared");
    }

    #[test]
    fn steered_names_come_and_go() {
        struct Fixed;
        impl Steered for Fixed {
            fn answer(&self, _: Rtype, _: u32, _: &mut dyn FnMut(Rtype, u32, &[u8]) -> bool) -> usize {
                0
            }
        }
        let mut c = Catalog::new();
        let lb = Name::from_text("lb.example.", None).unwrap();
        assert!(c.steered(&wire("lb.example.")).is_none());
        c.insert_steered(&lb, Arc::new(Fixed));
        assert!(c.steered(&wire("lb.example.")).is_some());
        assert!(c.remove_steered(&lb).is_some());
        assert!(c.steered(&wire("lb.example.")).is_none());
    }
}
