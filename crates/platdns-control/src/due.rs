//! Per-unit timers in one queue ordered by due time (issue 16; Knot's zone
//! events work the same way): a loop sleeps until the earliest one is due
//! and handles only the units that are, instead of scanning every unit each
//! tick. Setting a unit's time again replaces the old one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Units of type `K`, each due at one instant.
pub struct DueQueue<K> {
    due: HashMap<K, Instant>,
    /// Every time set, oldest first; entries whose unit was set again or
    /// removed are skipped when they come up (cheaper than finding them).
    heap: BinaryHeap<Reverse<(Instant, K)>>,
}

impl<K> Default for DueQueue<K> {
    fn default() -> Self {
        DueQueue {
            due: HashMap::new(),
            heap: BinaryHeap::new(),
        }
    }
}

impl<K: Hash + Eq + Ord + Clone> DueQueue<K> {
    pub fn new() -> Self {
        Self::default()
    }

    /// `unit` is due at `at` (and no longer at any earlier time set).
    pub fn set(&mut self, unit: K, at: Instant) {
        if self.due.insert(unit.clone(), at) != Some(at) {
            self.heap.push(Reverse((at, unit)));
        }
        // The heap holds at most a few stale entries per live one.
        if self.heap.len() > 2 * self.due.len() + 64 {
            self.compact();
        }
    }

    /// `unit` is no longer due at all.
    pub fn remove(&mut self, unit: &K) {
        self.due.remove(unit);
    }

    /// When `unit` is due, if it is.
    pub fn when(&self, unit: &K) -> Option<Instant> {
        self.due.get(unit).copied()
    }

    /// The earliest due time.
    pub fn next_due(&mut self) -> Option<Instant> {
        self.drop_stale();
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Takes the units due at or before `now`, earliest first; they are no
    /// longer due until set again.
    pub fn pop_due(&mut self, now: Instant) -> Vec<K> {
        let mut out = Vec::new();
        loop {
            self.drop_stale();
            match self.heap.peek() {
                Some(Reverse((at, _))) if *at <= now => {
                    let Reverse((_, unit)) = self.heap.pop().expect("peeked");
                    self.due.remove(&unit);
                    out.push(unit);
                }
                _ => return out,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// Pops heap entries that no longer say when their unit is due.
    fn drop_stale(&mut self) {
        while let Some(Reverse((at, unit))) = self.heap.peek() {
            if self.due.get(unit) == Some(at) {
                return;
            }
            self.heap.pop();
        }
    }

    fn compact(&mut self) {
        self.heap = self.due.iter().map(|(unit, at)| Reverse((*at, unit.clone()))).collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn units_come_due_in_time_order_and_a_new_time_replaces_the_old() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut q = DueQueue::new();
        q.set(1, at(30));
        q.set(2, at(10));
        q.set(3, at(20));
        q.set(1, at(5)); // moved earlier
        q.set(3, at(50)); // moved later
        assert_eq!(q.next_due(), Some(at(5)));
        assert_eq!(q.pop_due(at(4)), Vec::<i32>::new());
        assert_eq!(q.pop_due(at(20)), vec![1, 2]);
        assert_eq!(q.next_due(), Some(at(50)));
        q.remove(&3);
        assert_eq!(q.next_due(), None);
        assert!(q.is_empty());
        assert_eq!(q.pop_due(at(100)), Vec::<i32>::new());
    }

    #[test]
    fn resetting_one_unit_again_and_again_keeps_the_heap_small() {
        let t0 = Instant::now();
        let mut q = DueQueue::new();
        for i in 0..10_000u64 {
            q.set(7u32, t0 + Duration::from_millis(i));
        }
        q.set(8, t0);
        assert!(q.heap.len() <= 2 * q.len() + 64, "{}", q.heap.len());
        assert_eq!(q.pop_due(t0 + Duration::from_secs(100)), vec![8, 7]);
    }
}
