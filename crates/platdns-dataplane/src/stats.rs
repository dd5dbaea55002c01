//! Per-worker counters: each worker owns one [`WorkerStats`] and bumps it with
//! relaxed atomics (no other writer, so no contention); readers sum them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default, Debug)]
pub struct WorkerStats {
    pub answered: AtomicU64,
    /// By RCODE 0..=15 (the header's four bits).
    pub rcodes: [AtomicU64; 16],
    /// Packets we read and did not answer (malformed beyond reply, responses,
    /// truncated reads, failed sends).
    pub dropped: AtomicU64,
}

impl WorkerStats {
    #[inline]
    pub fn record(&self, response: &[u8]) {
        self.answered.fetch_add(1, Ordering::Relaxed);
        let rc = (response[3] & 0x0f) as usize;
        self.rcodes[rc].fetch_add(1, Ordering::Relaxed);
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
