//! Whether the store answers (issue 19): the `store-health` service asks it
//! (once a second in the API's process), within a bound, and keeps the answer, so that the API can
//! answer DPF's 503 at once while the database is away instead of making
//! each request wait for a connection, and `/healthz` and `/metrics` say
//! so. Losing the store and getting it back are each logged once.

use crate::context::Control;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long one look at the store may take before it counts as away.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What the last looks at the store found.
#[derive(Debug)]
pub struct StoreHealth {
    up: AtomicBool,
    /// Since when it has been as it is, and why it is away.
    state: Mutex<(Instant, Option<String>)>,
}

impl Default for StoreHealth {
    /// Up until a look says otherwise: a process starts only once it has
    /// read the store.
    fn default() -> Self {
        StoreHealth {
            up: AtomicBool::new(true),
            state: Mutex::new((Instant::now(), None)),
        }
    }
}

impl StoreHealth {
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// (up, seconds in that state, why it is away).
    pub fn report(&self) -> (bool, u64, Option<String>) {
        let (since, error) = self.state.lock().expect("not poisoned").clone();
        (self.is_up(), since.elapsed().as_secs(), error)
    }

    /// Notes one look's outcome; logs a change.
    pub fn note(&self, outcome: Result<(), String>) {
        let mut state = self.state.lock().expect("not poisoned");
        match (self.is_up(), outcome) {
            (true, Ok(())) => {}
            (false, Ok(())) => {
                tracing::warn!(down_secs = state.0.elapsed().as_secs(), "the store answers again");
                *state = (Instant::now(), None);
                self.up.store(true, Ordering::Relaxed);
            }
            (true, Err(e)) => {
                tracing::error!(error = %e, "the store does not answer: the API answers 503, DNS answers from memory");
                *state = (Instant::now(), Some(e));
                self.up.store(false, Ordering::Relaxed);
            }
            (false, Err(e)) => state.1 = Some(e),
        }
    }
}

/// Starts `store-health`: a look at the store every `every` (a second in
/// the API's process, which answers 503 on it; less often on a DNS node,
/// which serves without the store and only reports it).
pub fn start(s: &Control, every: Duration) {
    let state = s.clone();
    s.supervisor.every("store-health", every, None, move |_| {
        let s = state.clone();
        async move {
            let outcome = match tokio::time::timeout(PING_TIMEOUT, s.store.ping()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", PING_TIMEOUT.as_secs())),
            };
            s.store_health.note(outcome.clone());
            outcome
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_is_up_until_a_look_fails_and_up_again_after_one_succeeds() {
        let h = StoreHealth::default();
        assert!(h.is_up());
        h.note(Err("connection refused".into()));
        assert!(!h.is_up());
        assert_eq!(h.report().2.as_deref(), Some("connection refused"));
        h.note(Err("pool timed out".into()));
        assert_eq!(h.report().2.as_deref(), Some("pool timed out"), "the latest cause");
        h.note(Ok(()));
        assert!(h.is_up());
        assert_eq!(h.report().2, None);
    }
}
