//! Runs checks on their intervals and reports what changed.
//!
//! - **One probe per (target, check).** Endpoints that share a target and a
//!   check definition share one [`Key`], probed once per interval however
//!   many endpoints (or monitorings with equal properties) name it.
//! - **Spread, never a burst.** The keys of one interval are ordered by a
//!   stable hash of the key, and the n-th of N starts at n·interval/N
//!   ([`offsets`]): 1,000 checks every 30 s start 30 ms apart. The hash
//!   decides the order, so the order does not follow input order or
//!   naming; adding a key shifts the others' slots by at most one spacing
//!   each.
//! - **Holdtime.** Each key's raw results go through
//!   [`platdns_steering::Debounce`] with the check's holdtime; only a change
//!   of the debounced result is reported, as a [`Change`] on the channel.
//! - **Time.** The slot arithmetic ([`offsets`], [`next_due`]) is plain
//!   functions of durations since the scheduler started; the loop uses
//!   tokio's clock, so tests run it with `tokio::time::pause`.
//! - **Stats.** Every probe start is counted in a [`Stats`] with its
//!   lateness against its slot ([`crate::stats`]); [`Running::stats`]
//!   reads it.
//!
//! A `static` check has no interval: it is reported once, at start.

use crate::check::{Check, Kind};
use crate::probe::Probe;
use crate::stats::Stats;
use platdns_steering::{Debounce, Health};
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The shortest interval the loop runs, whatever a check says (the model
/// allows 30 s at least; this only keeps a zero from spinning).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// What one probe is: a target with a check definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub target: String,
    pub check: Check,
}

impl Key {
    fn interval(&self) -> Duration {
        self.check.interval.max(MIN_INTERVAL)
    }
}

/// A key's debounced result changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: Arc<Key>,
    pub old: Health,
    pub new: Health,
    /// The reason of the probe that made the change.
    pub reason: String,
    /// When that probe started.
    pub at: Instant,
}

/// FNV-1a, 64 bits: a hasher whose output depends only on the bytes fed,
/// unlike `std`'s randomly keyed default, so offsets are the same in every
/// run of a build.
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// The key's hash, the same in every run.
pub fn stable_hash(key: &Key) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    key.hash(&mut h);
    h.finish()
}

/// Each key's start offset within its interval: keys of one interval in
/// the order of their stable hash (equal hashes: input order), the n-th of
/// N at n·interval/N.
pub fn offsets(keys: &[Key]) -> Vec<Duration> {
    let mut groups: HashMap<Duration, Vec<(u64, usize)>> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        groups.entry(key.interval()).or_default().push((stable_hash(key), i));
    }
    let mut out = vec![Duration::ZERO; keys.len()];
    for (interval, mut members) in groups {
        members.sort_unstable();
        let n = members.len() as u128;
        for (rank, (_, i)) in members.into_iter().enumerate() {
            out[i] = nanos(interval.as_nanos() * rank as u128 / n);
        }
    }
    out
}

/// The first due time `offset + k·interval` (k ≥ 0) strictly after `now`;
/// all three are durations since the scheduler started. Slots missed while
/// a probe ran long are skipped, never caught up in a burst.
pub fn next_due(offset: Duration, interval: Duration, now: Duration) -> Duration {
    if now < offset {
        return offset;
    }
    let interval = interval.max(MIN_INTERVAL).as_nanos();
    let k = (now - offset).as_nanos() / interval + 1;
    offset + nanos(k * interval)
}

fn nanos(n: u128) -> Duration {
    Duration::new((n / 1_000_000_000) as u64, (n % 1_000_000_000) as u32)
}

/// The checks to run, deduplicated.
pub struct Scheduler<P: Probe> {
    probe: Arc<P>,
    keys: Vec<Arc<Key>>,
    stats: Arc<Stats>,
}

impl<P: Probe> Scheduler<P> {
    /// `checks` holds one (target, check) per endpoint and monitoring link;
    /// pairs that are equal become one key (first-seen order).
    pub fn new(probe: Arc<P>, checks: impl IntoIterator<Item = (String, Check)>) -> Self {
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        for (target, check) in checks {
            let key = Key { target, check };
            if seen.insert(key.clone()) {
                keys.push(Arc::new(key));
            }
        }
        Scheduler {
            probe,
            keys,
            stats: Arc::default(),
        }
    }

    /// Counts into `stats` (fresh ones by default), so that one [`Stats`]
    /// can total the schedules that replace each other.
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Self {
        self.stats = stats;
        self
    }

    /// The distinct keys, each probed once per interval.
    pub fn keys(&self) -> &[Arc<Key>] {
        &self.keys
    }

    /// Starts one task per key; changes go to `changes`. The tasks stop when
    /// the [`Running`] is stopped or dropped, or when `changes` is closed. A
    /// full channel holds back the key whose change waits (nothing is lost).
    pub fn start(self, changes: mpsc::Sender<Change>) -> Running {
        self.start_after(None, changes)
    }

    /// As [`Scheduler::start`], taking over from `previous`: a key both
    /// schedules have keeps its task (its slot, and its debounced result:
    /// a configuration change does not send every check back through
    /// `unknown`), a key only `previous` had stops, a new key starts at its
    /// offset in the new set. Kept keys keep their old offsets, so the
    /// spread drifts from the ideal by at most the keys added and removed.
    pub fn start_after(self, previous: Option<Running>, changes: mpsc::Sender<Change>) -> Running {
        let (started, mut tasks, mut old) = match previous {
            Some(p) => (p.started, p.tasks, p.handles),
            None => (Instant::now(), JoinSet::new(), HashMap::new()),
        };
        // Tasks stopped by an earlier update are collected here.
        while tasks.try_join_next().is_some() {}
        let plain: Vec<Key> = self.keys.iter().map(|k| Key::clone(k)).collect();
        self.stats.set_keys(plain.len());
        let mut handles = HashMap::with_capacity(plain.len());
        for (key, offset) in self.keys.into_iter().zip(offsets(&plain)) {
            if let Some(h) = old.remove(&*key) {
                handles.insert(Key::clone(&key), h);
                continue;
            }
            let slot = Slot { started, offset };
            let h = tasks.spawn(run(
                self.probe.clone(),
                key.clone(),
                slot,
                self.stats.clone(),
                changes.clone(),
            ));
            handles.insert(Key::clone(&key), h);
        }
        for (_, gone) in old {
            gone.abort();
        }
        Running {
            tasks,
            started,
            stats: self.stats,
            handles,
        }
    }
}

/// The running scheduler.
pub struct Running {
    tasks: JoinSet<()>,
    /// The origin of every offset and due time.
    pub started: Instant,
    stats: Arc<Stats>,
    /// Each key's task.
    handles: HashMap<Key, tokio::task::AbortHandle>,
}

impl Running {
    /// The counters this schedule adds to.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// How many distinct checks run.
    pub fn keys(&self) -> usize {
        self.stats.snapshot().keys as usize
    }

    /// Stops every probe task and waits until they are gone.
    pub async fn stop(mut self) {
        self.tasks.shutdown().await;
    }
}

/// Where a key's slots are: `offset + k·interval` after `started`.
struct Slot {
    started: Instant,
    offset: Duration,
}

async fn run<P: Probe>(probe: Arc<P>, key: Arc<Key>, slot: Slot, stats: Arc<Stats>, tx: mpsc::Sender<Change>) {
    let Slot { started, offset } = slot;
    let mut debounce = Debounce::default();
    let once = matches!(key.check.kind, Kind::Static(_));
    let mut due = if once { Duration::ZERO } else { offset };
    loop {
        let at = started + due;
        tokio::time::sleep_until(at).await;
        let flight = stats.start(Instant::now().saturating_duration_since(at));
        let outcome = probe.probe(&key.target, &key.check).await;
        flight.finish();
        let old = debounce.stable;
        if let Some(new) = debounce.observe(outcome.health, due.as_secs(), key.check.holdtime) {
            tracing::debug!(target = %key.target, ?old, ?new, reason = %outcome.reason, "health changed");
            let change = Change {
                key: key.clone(),
                old,
                new,
                reason: outcome.reason,
                at,
            };
            if tx.send(change).await.is_err() {
                return;
            }
        }
        if once {
            return;
        }
        let next = next_due(
            offset,
            key.interval(),
            Instant::now().saturating_duration_since(started),
        );
        // Slots between this one and the next passed while this probe (or
        // its change, on a full channel) held the task.
        let skipped = (next - due).as_nanos() / key.interval().as_nanos() - 1;
        if skipped > 0 {
            stats.skip(skipped as u64);
        }
        due = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Kind;

    fn key(target: String, interval: u64) -> Key {
        Key {
            target,
            check: Check {
                kind: Kind::Tcp { port: 443, tls: None },
                interval: Duration::from_secs(interval),
                timeout: Duration::from_secs(5),
                holdtime: 0,
            },
        }
    }

    #[test]
    fn due_times_keep_the_slot_and_skip_missed_ones() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert_eq!(next_due(ms(7_300), s(30), s(0)), ms(7_300), "first due is the offset");
        assert_eq!(next_due(ms(7_300), s(30), ms(7_300)), ms(37_300), "strictly after now");
        assert_eq!(
            next_due(ms(7_300), s(30), ms(7_800)),
            ms(37_300),
            "a probe that took 500 ms"
        );
        assert_eq!(
            next_due(ms(7_300), s(30), s(70)),
            ms(97_300),
            "a missed slot is skipped"
        );
        assert_eq!(next_due(s(0), s(0), s(0)), s(1), "a zero interval does not spin");
    }

    #[test]
    fn a_thousand_checks_are_spread_over_the_interval() {
        let keys: Vec<Key> = (0..1000).map(|i| key(format!("host{i}.example"), 30)).collect();
        let offs = offsets(&keys);
        let mut slots = vec![0u32; 300];
        for o in &offs {
            assert!(*o < Duration::from_secs(30));
            slots[(o.as_millis() / 100) as usize] += 1;
        }
        let fullest = *slots.iter().max().unwrap();
        assert!(fullest <= 4, "{fullest} checks in one 100 ms slot");
        assert_eq!(slots.iter().filter(|&&n| n == 0).count(), 0, "no empty 100 ms slot");
        assert_eq!(
            offs.iter().filter(|o| **o == Duration::ZERO).count(),
            1,
            "no burst at start"
        );
        // The order is the hash's, not the input's: reversed input, same offsets.
        let reversed: Vec<Key> = keys.iter().rev().cloned().collect();
        let mut back = offsets(&reversed);
        back.reverse();
        assert_eq!(back, offs);
    }

    #[test]
    fn intervals_are_spread_separately() {
        let mut keys: Vec<Key> = (0..3).map(|i| key(format!("a{i}"), 30)).collect();
        keys.push(key("b".into(), 60));
        let mut offs = offsets(&keys);
        assert_eq!(offs.pop(), Some(Duration::ZERO), "alone in its interval");
        offs.sort();
        assert_eq!(offs, [Duration::ZERO, Duration::from_secs(10), Duration::from_secs(20)]);
    }

    #[test]
    fn the_hash_is_the_keys() {
        let a = key("a.example".into(), 30);
        assert_eq!(stable_hash(&a), stable_hash(&a.clone()));
        assert_ne!(stable_hash(&a), stable_hash(&key("b.example".into(), 30)));
        assert_ne!(stable_hash(&a), stable_hash(&key("a.example".into(), 60)));
    }
}
