//! Per-worker counters: each worker owns one [`WorkerStats`] and bumps it with
//! relaxed atomics (no other writer, so no contention); readers sum them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct WorkerStats {
    pub answered: AtomicU64,
    /// By RCODE 0..=15 (the header's four bits).
    pub rcodes: [AtomicU64; 16],
    /// Packets we read and did not answer (malformed beyond reply, responses,
    /// truncated reads, failed sends); a restriction's drops are counted
    /// per slot in `restricted`, not here.
    pub dropped: AtomicU64,
    /// Queries answered per meter slot (R2.1).
    pub metered: Box<[AtomicU64]>,
    /// Queries per meter slot that a restriction dropped, refused or
    /// truncated: counted, never lost from the books (R4.2).
    pub restricted: Box<[AtomicU64]>,
    /// Written by several tasks (the TCP connections share one): meter
    /// counts then take a locked add.
    pub shared: bool,
}

/// Adds one to a counter only this worker writes: a relaxed load and store,
/// not a locked read-modify-write (readers may see it a moment late).
#[inline]
fn bump(c: &AtomicU64) {
    c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl WorkerStats {
    /// Counters with `slots` meter slots.
    pub fn with_meters(slots: usize) -> WorkerStats {
        WorkerStats {
            metered: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            restricted: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            ..WorkerStats::default()
        }
    }

    /// Counts a query of meter `slot` (0 and slots beyond the table count
    /// for no contract), answered or restricted.
    #[inline]
    pub fn meter(&self, slot: u32, restricted: bool) {
        if slot == 0 {
            return;
        }
        let table = if restricted { &self.restricted } else { &self.metered };
        if let Some(c) = table.get(slot as usize) {
            if self.shared {
                c.fetch_add(1, Ordering::Relaxed);
            } else {
                bump(c);
            }
        }
    }

    #[inline]
    pub fn record(&self, response: &[u8]) {
        let rc = (response[3] & 0x0f) as usize;
        if self.shared {
            self.answered.fetch_add(1, Ordering::Relaxed);
            self.rcodes[rc].fetch_add(1, Ordering::Relaxed);
        } else {
            bump(&self.answered);
            bump(&self.rcodes[rc]);
        }
    }
}

/// Totals over a set of workers.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    pub answered: u64,
    pub rcodes: [u64; 16],
    pub dropped: u64,
}

pub fn sum<'a>(workers: impl IntoIterator<Item = &'a WorkerStats>) -> Totals {
    let mut t = Totals::default();
    for w in workers {
        t.answered += w.answered.load(Ordering::Relaxed);
        t.dropped += w.dropped.load(Ordering::Relaxed);
        for (i, r) in w.rcodes.iter().enumerate() {
            t.rcodes[i] += r.load(Ordering::Relaxed);
        }
    }
    t
}

/// Adds every worker's per-slot counts into `answered` and `restricted`
/// (resized to the slot count).
/// Slots beyond `upto` are not read: slots are handed out in order, so
/// the caller passes how many are in use.
pub fn sum_meters<'a>(
    workers: impl IntoIterator<Item = &'a WorkerStats>,
    upto: usize,
    answered: &mut Vec<u64>,
    restricted: &mut Vec<u64>,
) {
    answered.clear();
    restricted.clear();
    for w in workers {
        let n = upto.min(w.metered.len());
        if answered.len() < n {
            answered.resize(n, 0);
            restricted.resize(n, 0);
        }
        for (i, c) in w.metered[..n].iter().enumerate() {
            answered[i] += c.load(Ordering::Relaxed);
        }
        for (i, c) in w.restricted[..n].iter().enumerate() {
            restricted[i] += c.load(Ordering::Relaxed);
        }
    }
}
