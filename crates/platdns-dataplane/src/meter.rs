//! Contract usage on the query path (SPEC R2.1, R4.1–R4.3): every answer
//! for a metered zone or LB name counts against its meter slot, and a slot
//! under restriction answers at most its limit per second on this node,
//! the rest dropped, refused or truncated.
//!
//! - Counting is per worker ([`crate::stats::WorkerStats`]): one plain
//!   relaxed load and store of the worker's own counter, no lock, no shared
//!   cache line; the control side sums the workers once a second.
//! - Restriction state is node-wide, one word per slot, written once a
//!   second by the control side. A slot not restricted costs one relaxed
//!   load. A restricted slot shares a per-second counter across workers
//!   (a `fetch_add`): a flood from one source lands on one worker under
//!   `SO_REUSEPORT`, so a per-worker share would let it through; the
//!   contention is the restricted contract's own.

use std::sync::atomic::{AtomicU32, Ordering};

/// What happens to queries over a restricted slot's limit (R4.2, the
/// operator's policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// No answer.
    Drop,
    /// REFUSED, no data.
    Refuse,
    /// An empty answer with TC over UDP (the client may retry over TCP);
    /// REFUSED over TCP.
    Truncate,
}

const LIMIT_MASK: u32 = (1 << 30) - 1;

impl Action {
    fn code(self) -> u32 {
        match self {
            Action::Drop => 1,
            Action::Refuse => 2,
            Action::Truncate => 3,
        }
    }

    fn from_code(c: u32) -> Action {
        match c {
            1 => Action::Drop,
            2 => Action::Refuse,
            _ => Action::Truncate,
        }
    }
}

/// Per-slot restrictions of one node.
pub struct Restrictions {
    /// 0: none; else action code << 30 | queries per second allowed.
    state: Box<[AtomicU32]>,
    /// Queries seen this second by a restricted slot.
    used: Box<[AtomicU32]>,
}

impl Restrictions {
    pub fn new(slots: usize) -> Restrictions {
        Restrictions {
            state: (0..slots).map(|_| AtomicU32::new(0)).collect(),
            used: (0..slots).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    pub fn slots(&self) -> usize {
        self.state.len()
    }

    /// Restricts `slot` to `limit` answers per second (capped at 2^30 − 1),
    /// or lifts its restriction.
    pub fn set(&self, slot: u32, restriction: Option<(Action, u32)>) {
        let Some(s) = self.state.get(slot as usize) else { return };
        let word = match restriction {
            Some((action, limit)) => action.code() << 30 | limit.min(LIMIT_MASK),
            None => 0,
        };
        // A slot restricted anew (or lifted) starts from zero: a count left
        // from an earlier restriction must not hold back this second.
        if s.swap(word, Ordering::Relaxed) != word {
            self.used[slot as usize].store(0, Ordering::Relaxed);
        }
    }

    /// A new second: restricted slots start counting again.
    pub fn new_second(&self) {
        for (s, u) in self.state.iter().zip(self.used.iter()) {
            if s.load(Ordering::Relaxed) != 0 {
                u.store(0, Ordering::Relaxed);
            }
        }
    }

    /// Counts one query of `slot`; what to do with it if it is over the
    /// limit.
    #[inline]
    pub fn check(&self, slot: u32) -> Option<Action> {
        let word = self.state.get(slot as usize)?.load(Ordering::Relaxed);
        if word == 0 {
            return None;
        }
        let used = self.used[slot as usize].fetch_add(1, Ordering::Relaxed);
        if used < word & LIMIT_MASK {
            None
        } else {
            Some(Action::from_code(word >> 30))
        }
    }
}

impl Default for Restrictions {
    fn default() -> Self {
        Restrictions::new(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restricted_slot_answers_its_limit_per_second() {
        let r = Restrictions::new(4);
        assert_eq!(r.check(1), None, "not restricted");
        r.set(1, Some((Action::Refuse, 3)));
        let seen: Vec<_> = (0..5).map(|_| r.check(1)).collect();
        assert_eq!(seen, [None, None, None, Some(Action::Refuse), Some(Action::Refuse)]);
        assert_eq!(r.check(2), None, "another slot is not touched");
        r.new_second();
        assert_eq!(r.check(1), None, "a new second");
        r.set(1, None);
        assert!((0..10).all(|_| r.check(1).is_none()), "lifted");
        assert_eq!(r.check(99), None, "a slot beyond the table is not restricted");
        r.set(2, Some((Action::Drop, 0)));
        assert_eq!(r.check(2), Some(Action::Drop), "limit 0 answers nothing");
        // Restricted again later: the old count does not carry over.
        r.set(1, Some((Action::Refuse, 2)));
        assert_eq!((r.check(1), r.check(1), r.check(1)), (None, None, Some(Action::Refuse)));
        r.set(1, None);
        r.set(1, Some((Action::Refuse, 2)));
        assert_eq!(r.check(1), None, "a fresh restriction starts from zero");
        r.set(1, Some((Action::Refuse, 2)));
        assert_eq!(r.check(1), None);
        assert_eq!(
            r.check(1),
            Some(Action::Refuse),
            "re-setting the same restriction keeps the count"
        );
    }
}
