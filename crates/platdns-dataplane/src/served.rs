//! What a DNS node serves (issue 16: the node's served state beside the data
//! plane, not in the binary): zones from files, zones published from the
//! store, and steered names, merged into the one [`Catalog`] the query path
//! reads through an `ArcSwap`.
//!
//! A change costs what it changes, not what is served: the merged catalog is
//! kept and patched (a store zone replaces a file zone at the same apex; its
//! withdrawal brings the file zone back), then a clone of it is swapped in.
//! A clone copies one pointer per shard and the next change copies one
//! shard, so a commit's publication at 100,000 zones touches about a hundred
//! entries. Only a reload of the zone files rebuilds the whole.

use crate::xfr::Transfers;
use arc_swap::ArcSwap;
use platdns_zone::{Catalog, Name, Steered, Zone};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Where the control plane puts what a node serves. Receives every zone
/// that changes: `Some` to serve it, `None` to stop.
pub trait Publisher: Send + Sync {
    fn publish(&self, apex: &Name, zone: Option<Arc<Zone>>);
    /// [`Publisher::publish`] of many zones at once (start-up): one swap for
    /// all of them, so answering starts from a catalog that holds them all.
    fn publish_many(&self, zones: Vec<(Name, Option<Arc<Zone>>)>) {
        for (apex, zone) in zones {
            self.publish(&apex, zone);
        }
    }
    /// The zone served at `apex` from the store, if any.
    fn current(&self, apex: &Name) -> Option<Arc<Zone>>;
    /// Serves `new` only if `expected` is still what is served (a compaction
    /// must not undo a commit that came after it started). True if it did.
    fn replace_if(&self, apex: &Name, expected: &Arc<Zone>, new: Arc<Zone>) -> bool;
    /// Serves a steered name (an LB domain), or stops.
    fn publish_steered(&self, name: &Name, answer: Option<Arc<dyn Steered>>);
}

#[derive(Default)]
struct Sources {
    files: Catalog,
    store: Catalog,
    steered: Vec<(Name, Arc<dyn Steered>)>,
    /// Files, then the store's zones over them, then the steered names.
    merged: Catalog,
}

/// The node's served zones; see the module's description.
pub struct ServedZones {
    sources: Mutex<Sources>,
    target: Arc<ArcSwap<Catalog>>,
    /// The node's transfers: each published store zone is kept for IXFR.
    transfers: OnceLock<Arc<Transfers>>,
    /// Store zones published or withdrawn since the snapshot last took
    /// them (by lower-case wire apex); `None` when no snapshot is kept.
    changed: Mutex<Option<std::collections::HashMap<Vec<u8>, Name>>>,
}

impl ServedZones {
    /// Serves `files` through `target` (the catalog the node answers from).
    pub fn new(files: Catalog, target: Arc<ArcSwap<Catalog>>) -> ServedZones {
        let served = ServedZones {
            sources: Mutex::default(),
            target,
            transfers: OnceLock::new(),
            changed: Mutex::new(None),
        };
        served.set_files(files);
        served
    }

    /// Keeps every published store zone in `transfers` from now on (IXFR).
    pub fn keep_for_transfers(&self, transfers: Arc<Transfers>) {
        let _ = self.transfers.set(transfers);
    }

    /// Notes every store zone published or withdrawn from now on, for
    /// [`ServedZones::take_changed`] (the node's snapshot).
    pub fn track_changes(&self) {
        let mut changed = self.changed.lock().unwrap_or_else(|p| p.into_inner());
        changed.get_or_insert_with(Default::default);
    }

    /// The store zones published or withdrawn since the last call, each
    /// with what is served now (`None`: withdrawn).
    pub fn take_changed(&self) -> Vec<(Name, Option<Arc<Zone>>)> {
        let taken = {
            let mut changed = self.changed.lock().unwrap_or_else(|p| p.into_inner());
            changed.as_mut().map(std::mem::take).unwrap_or_default()
        };
        let s = self.sources();
        taken
            .into_values()
            .map(|apex| {
                let zone = s.store.get(&apex).cloned();
                (apex, zone)
            })
            .collect()
    }

    /// The catalog queries are answered from now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.target.load_full()
    }

    fn sources(&self) -> MutexGuard<'_, Sources> {
        // The lock is never held across code that panics halfway through a
        // change of `Sources`, so a poisoned lock still holds a whole one.
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Swaps the merged catalog in. Called with the lock held, so two
    /// changes cannot be swapped in the wrong order.
    fn swap(&self, s: &Sources) {
        self.target.store(Arc::new(s.merged.clone()));
    }

    /// New zone files (start-up, SIGHUP): the whole is merged again.
    pub fn set_files(&self, files: Catalog) {
        let mut s = self.sources();
        let mut merged = files.clone();
        for z in s.store.zones() {
            merged.insert(z.clone());
        }
        for (name, answer) in &s.steered {
            merged.insert_steered(name, answer.clone());
        }
        s.files = files;
        s.merged = merged;
        self.swap(&s);
    }
}

impl ServedZones {
    /// One zone's publication into `s`, not yet swapped in.
    fn change(&self, s: &mut Sources, apex: &Name, zone: Option<Arc<Zone>>) {
        if let Some(changed) = self.changed.lock().unwrap_or_else(|p| p.into_inner()).as_mut() {
            let key = apex.to_lowercase().as_wire().to_vec();
            changed.entry(key).or_insert_with(|| apex.clone());
        }
        match zone {
            Some(z) => {
                if let Some(t) = self.transfers.get() {
                    t.keep(z.clone());
                }
                s.store.insert(z.clone());
                s.merged.insert(z);
            }
            None => {
                s.store.remove(apex);
                s.merged.remove(apex);
                // The store's zone hid a file's zone at the same apex.
                if let Some(file) = s.files.get(apex).cloned() {
                    s.merged.insert(file);
                }
                if let Some(t) = self.transfers.get() {
                    t.forget(apex.to_lowercase().as_wire());
                }
            }
        }
    }
}

impl Publisher for ServedZones {
    fn publish(&self, apex: &Name, zone: Option<Arc<Zone>>) {
        let mut s = self.sources();
        self.change(&mut s, apex, zone);
        self.swap(&s);
    }

    fn publish_many(&self, zones: Vec<(Name, Option<Arc<Zone>>)>) {
        let mut s = self.sources();
        for (apex, zone) in zones {
            self.change(&mut s, &apex, zone);
        }
        self.swap(&s);
    }

    fn publish_steered(&self, name: &Name, answer: Option<Arc<dyn Steered>>) {
        let mut s = self.sources();
        s.steered.retain(|(n, _)| !n.eq_ignore_case(name));
        match answer {
            Some(a) => {
                s.steered.push((name.clone(), a.clone()));
                s.merged.insert_steered(name, a);
            }
            None => {
                s.merged.remove_steered(name);
            }
        }
        self.swap(&s);
    }

    fn current(&self, apex: &Name) -> Option<Arc<Zone>> {
        self.sources().store.get(apex).cloned()
    }

    fn replace_if(&self, apex: &Name, expected: &Arc<Zone>, new: Arc<Zone>) -> bool {
        let mut s = self.sources();
        if !s.store.get(apex).is_some_and(|z| Arc::ptr_eq(z, expected)) {
            return false;
        }
        s.store.insert(new.clone());
        s.merged.insert(new);
        self.swap(&s);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platdns_zone::zonefile::{parse_str, FsIncludes};
    use platdns_zone::Rtype;

    fn zone(apex: &str, address: &str) -> Arc<Zone> {
        let text = format!("$ORIGIN {apex}\n@ 300 SOA ns. h. 1 2 3 4 5\n@ 300 NS ns.\nwww 300 A {address}\n");
        let p = parse_str(&text, "t", None, &mut FsIncludes);
        Arc::new(Zone::from_parsed(&p, None).unwrap())
    }

    fn name(n: &str) -> Name {
        Name::from_text(n, None).unwrap()
    }

    fn served_at(s: &ServedZones, apex: &str) -> Option<Arc<Zone>> {
        s.catalog().get(&name(apex)).cloned()
    }

    struct Fixed;
    impl Steered for Fixed {
        fn answer(&self, _: Rtype, _: u32, _: &mut dyn FnMut(Rtype, u32, &[u8]) -> bool) -> usize {
            0
        }
    }

    #[test]
    fn the_store_wins_over_files_and_its_withdrawal_brings_the_file_back() {
        let mut files = Catalog::new();
        let file = zone("example.com.", "192.0.2.1");
        files.insert(file.clone());
        let target = Arc::new(ArcSwap::from_pointee(Catalog::new()));
        let s = ServedZones::new(files, target.clone());
        assert!(Arc::ptr_eq(&served_at(&s, "example.com.").unwrap(), &file));
        let stored = zone("example.com.", "192.0.2.2");
        s.publish(&name("example.com."), Some(stored.clone()));
        assert!(Arc::ptr_eq(&served_at(&s, "example.com.").unwrap(), &stored));
        assert!(Arc::ptr_eq(&s.current(&name("example.com.")).unwrap(), &stored));
        s.publish(&name("example.com."), None);
        assert!(Arc::ptr_eq(&served_at(&s, "example.com.").unwrap(), &file));
        assert!(s.current(&name("example.com.")).is_none());
        // The node reads the same catalog through its own handle.
        assert_eq!(target.load().len(), 1);
    }

    #[test]
    fn replace_if_refuses_a_zone_that_moved_on() {
        let s = ServedZones::new(Catalog::new(), Arc::default());
        let (v1, v2, compacted) = (
            zone("a.test.", "192.0.2.1"),
            zone("a.test.", "192.0.2.2"),
            zone("a.test.", "192.0.2.1"),
        );
        s.publish(&name("a.test."), Some(v1.clone()));
        s.publish(&name("a.test."), Some(v2.clone()));
        assert!(!s.replace_if(&name("a.test."), &v1, compacted.clone()));
        assert!(Arc::ptr_eq(&served_at(&s, "a.test.").unwrap(), &v2));
        assert!(s.replace_if(&name("a.test."), &v2, compacted.clone()));
        assert!(Arc::ptr_eq(&served_at(&s, "a.test.").unwrap(), &compacted));
    }

    #[test]
    fn steered_names_survive_a_reload_of_the_files() {
        let s = ServedZones::new(Catalog::new(), Arc::default());
        s.publish(&name("example.com."), Some(zone("example.com.", "192.0.2.1")));
        s.publish_steered(&name("lb.example.com."), Some(Arc::new(Fixed)));
        let lb = name("lb.example.com.").to_lowercase();
        assert!(s.catalog().steered(lb.as_wire()).is_some());
        let mut files = Catalog::new();
        files.insert(zone("example.net.", "192.0.2.9"));
        s.set_files(files);
        let c = s.catalog();
        assert!(c.steered(lb.as_wire()).is_some());
        assert_eq!(c.len(), 2);
        s.publish_steered(&name("lb.example.com."), None);
        assert!(s.catalog().steered(lb.as_wire()).is_none());
    }

    #[test]
    fn a_publication_at_many_zones_copies_one_shard() {
        let s = ServedZones::new(Catalog::new(), Arc::default());
        for i in 0..20_000 {
            s.publish(
                &name(&format!("z{i}.test.")),
                Some(zone(&format!("z{i}.test."), "192.0.2.1")),
            );
        }
        let before = s.catalog();
        s.publish(&name("z7.test."), Some(zone("z7.test.", "192.0.2.7")));
        let after = s.catalog();
        assert_eq!((before.len(), after.len()), (20_000, 20_000));
        assert_eq!(before.shared_shards(&after), Catalog::SHARDS - 1, "one shard copied");
    }
}
