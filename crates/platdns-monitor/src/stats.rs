//! What the scheduler did, for operators and `bench/monitor.sh`: probes
//! started, finished and in flight, slots skipped, and how late each probe
//! started against its slot.
//!
//! Lateness (actual start − due time) is the figure that says whether the
//! monitor keeps up: a loaded runtime or a blocked worker shows as probes
//! starting late long before results go wrong. It is kept as counts in fixed
//! buckets ([`LATENESS_BOUNDS_MS`]) plus the maximum, all atomics: a probe
//! adds to a few counters and takes no lock, and a reader gets percentiles
//! as upper bounds (the bucket's bound, or the maximum if lower).
//!
//! One [`Stats`] may outlive many schedules (the API keeps one across
//! reschedules), so the counters are totals since it was made; `keys` is the
//! current schedule's.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (inclusive, milliseconds) of the lateness buckets; one more
/// bucket holds everything above the last.
pub const LATENESS_BOUNDS_MS: [u64; 10] = [1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000];

const BUCKETS: usize = LATENESS_BOUNDS_MS.len() + 1;

/// The scheduler's counters, shared with whoever reads them.
#[derive(Debug, Default)]
pub struct Stats {
    keys: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    in_flight: AtomicU64,
    skipped: AtomicU64,
    lateness: [AtomicU64; BUCKETS],
    max_lateness_us: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// Distinct (target, check) keys of the current schedule.
    pub keys: u64,
    pub started: u64,
    pub finished: u64,
    /// Started and neither finished nor stopped with their schedule.
    pub in_flight: u64,
    /// Slots passed over because the previous probe of the key was still
    /// running (a probe whose timeout is near its interval).
    pub skipped: u64,
    /// Probe starts per bucket: `lateness[i]` counts lateness ≤
    /// `LATENESS_BOUNDS_MS[i]` (and above the previous bound); the last,
    /// lateness above every bound.
    pub lateness: [u64; BUCKETS],
    pub max_lateness: Duration,
}

impl Stats {
    pub(crate) fn set_keys(&self, n: usize) {
        self.keys.store(n as u64, Relaxed);
    }

    /// A probe starts `late` after its slot. Until the returned guard is
    /// dropped it counts as in flight; [`InFlight::finish`] counts it as
    /// finished (a probe task stopped mid-probe drops it unfinished).
    pub(crate) fn start(&self, late: Duration) -> InFlight<'_> {
        let bucket = LATENESS_BOUNDS_MS
            .iter()
            .position(|&b| late <= Duration::from_millis(b))
            .unwrap_or(BUCKETS - 1);
        self.lateness[bucket].fetch_add(1, Relaxed);
        self.max_lateness_us
            .fetch_max(u64::try_from(late.as_micros()).unwrap_or(u64::MAX), Relaxed);
        self.started.fetch_add(1, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        InFlight(self)
    }

    pub(crate) fn skip(&self, slots: u64) {
        self.skipped.fetch_add(slots, Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            keys: self.keys.load(Relaxed),
            started: self.started.load(Relaxed),
            finished: self.finished.load(Relaxed),
            in_flight: self.in_flight.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            lateness: std::array::from_fn(|i| self.lateness[i].load(Relaxed)),
            max_lateness: Duration::from_micros(self.max_lateness_us.load(Relaxed)),
        }
    }
}

/// One probe in flight (see [`Stats::start`]).
pub(crate) struct InFlight<'a>(&'a Stats);

impl InFlight<'_> {
    pub(crate) fn finish(self) {
        self.0.finished.fetch_add(1, Relaxed);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Snapshot {
    /// An upper bound of the `q` quantile (0 < q ≤ 1) of lateness: the
    /// bound of the bucket where it falls, or the maximum if that is lower.
    /// `None` before any probe.
    pub fn lateness_quantile(&self, q: f64) -> Option<Duration> {
        let total: u64 = self.lateness.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, n) in self.lateness.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let bound = LATENESS_BOUNDS_MS
                    .get(i)
                    .map_or(Duration::MAX, |&ms| Duration::from_millis(ms));
                return Some(bound.min(self.max_lateness));
            }
        }
        unreachable!("rank ≤ total")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_falls_into_inclusive_buckets_and_quantiles_are_upper_bounds() {
        let s = Stats::default();
        let ms = Duration::from_millis;
        assert_eq!(s.snapshot().lateness_quantile(0.5), None, "no probe yet");
        for late in [ms(0), ms(1), ms(3), ms(5), Duration::from_micros(5_001), ms(700)] {
            s.start(late).finish();
        }
        let snap = s.snapshot();
        assert_eq!(snap.lateness, [2, 2, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!((snap.started, snap.finished, snap.in_flight), (6, 6, 0));
        assert_eq!(snap.max_lateness, ms(700));
        assert_eq!(snap.lateness_quantile(0.3), Some(ms(1)));
        assert_eq!(snap.lateness_quantile(0.5), Some(ms(5)));
        assert_eq!(snap.lateness_quantile(0.8), Some(ms(10)), "5.001 ms is above 5");
        assert_eq!(
            snap.lateness_quantile(0.99),
            Some(ms(700)),
            "the maximum is the tighter bound"
        );
    }

    #[test]
    fn overflow_is_bounded_by_the_maximum_and_unfinished_probes_leave_flight() {
        let s = Stats::default();
        let guard = s.start(Duration::from_secs(9));
        assert_eq!(s.snapshot().in_flight, 1);
        drop(guard);
        let snap = s.snapshot();
        assert_eq!((snap.started, snap.finished, snap.in_flight), (1, 0, 0));
        assert_eq!(snap.lateness[BUCKETS - 1], 1);
        assert_eq!(snap.lateness_quantile(1.0), Some(Duration::from_secs(9)));
    }
}
