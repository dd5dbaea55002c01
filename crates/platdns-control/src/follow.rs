//! A DNS node that follows the store (`serve --role dns`, issue 6: several
//! DNS nodes on one store) through its change feed (issue 19): the entries
//! the store's triggers write for each change of a zone (commit, DNSSEC
//! step, pulled copy, eligibility), an LB domain (configuration, applied
//! rule, endpoint states) or a contract (end day, state), and when a
//! restriction starts or ends or the transfer policy changes. The node applies
//! the entries after the last one it applied: a zone is rebuilt whole from
//! the store (the incremental patch is the API process's, which knows the
//! commit), an LB domain published from its stored states, a contract's
//! zones and LB domains both; what is gone from the store is withdrawn;
//! restrictions and the transfer policy are read again at once. It
//! wakes on PostgreSQL's NOTIFY, or polls the feed's head once a second on
//! SQLite; idle, that is its only query, whatever the number of zones.

use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use platdns_store::{Change, ChangeKind, StoreError};
use platdns_zone::Name;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries read at once.
const BATCH: i64 = 10_000;

/// How long an id missing below the newest one read is waited for before
/// it is taken as rolled back: PostgreSQL hands out ids as rows are
/// inserted, and a transaction may commit after a later one. Longer than
/// any transaction that writes an entry (a 100,000-record replacement
/// writes for a few seconds).
const GAP_WAIT: Duration = Duration::from_secs(60);

/// Polling period where the backend cannot notify (SQLite).
const POLL: Duration = Duration::from_secs(1);

/// The longest wait for a notification (PostgreSQL): a safety net only.
const LISTENED_POLL: Duration = Duration::from_secs(30);

/// Follows the store's change feed from entry `from` on (the feed's head
/// read before start-up loaded the store, so that nothing committed during
/// the load is missed), as the supervised service `follow`. A restarted
/// service goes on from where the last one stood.
pub fn start(s: &Control, from: i64) {
    let state = s.clone();
    let cursor = Arc::new(Mutex::new(FeedCursor::new(from)));
    s.supervisor.spawn("follow", move |mut ctx| {
        let (s, cursor) = (state.clone(), cursor.clone());
        async move {
            let mut listener = match s.store.change_listener().await {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "no NOTIFY from the store: polling its change feed");
                    None
                }
            };
            loop {
                ctx.round(follow(&s, &cursor).await);
                let woken = match listener.as_mut() {
                    Some(l) => tokio::select! {
                        heard = l.changed() => {
                            if let Err(e) = heard {
                                tracing::warn!(error = %e, "listening for changes; the feed is read anyway");
                                tokio::time::sleep(POLL).await;
                            }
                            true
                        }
                        // NOTIFY is not lost while the connection holds,
                        // and a lost connection wakes with an error.
                        _ = tokio::time::sleep(LISTENED_POLL) => true,
                        _ = ctx.stopping() => false,
                    },
                    None => ctx.wait(POLL, None).await,
                };
                if !woken {
                    return Ok::<(), ControlError>(());
                }
            }
        }
    });
}

/// Applies every entry not applied yet. A store error stops the batch
/// before its entries count as applied (they are read again next time); a
/// zone that does not build is logged and counts as applied.
async fn follow(s: &Control, cursor: &Mutex<FeedCursor>) -> ControlResult<()> {
    let from = cursor.lock().expect("not poisoned").from();
    // Read on from the last entry read, not from the cursor, which stays
    // below an id still missing: a round ends however long a gap waits.
    let mut after = from;
    loop {
        let batch = s.store.changes_after(after, BATCH).await?;
        // Entries missing right after `from` are usually a transaction not
        // committed yet; the feed's tail says whether they were purged.
        let gap = after == from && batch.first().is_some_and(|e| e.id > from + 1);
        if gap && s.store.change_tail().await? > from + 1 {
            // The feed was purged past what this node applied: it missed
            // entries, so it loads the store whole again.
            tracing::warn!(
                applied = from,
                "the change feed no longer holds what this node missed: loading all"
            );
            let head = s.store.change_head().await?;
            crate::lb::publish_all(s).await?;
            *cursor.lock().expect("not poisoned") = FeedCursor::new(head);
            return Ok(());
        }
        let fresh: Vec<Change> = {
            let c = cursor.lock().expect("not poisoned");
            batch.iter().filter(|e| c.is_fresh(e.id)).cloned().collect()
        };
        apply(s, &fresh).await?;
        cursor
            .lock()
            .expect("not poisoned")
            .applied(&batch, Instant::now(), GAP_WAIT);
        match batch.last() {
            Some(last) if batch.len() as i64 == BATCH => after = last.id,
            _ => return Ok(()),
        }
    }
}

/// Republishes what `changes` name, each once.
async fn apply(s: &Control, changes: &[Change]) -> ControlResult<()> {
    let mut zones: HashMap<i64, String> = HashMap::new();
    let mut lbs: HashMap<i64, String> = HashMap::new();
    for c in changes {
        match c.kind {
            ChangeKind::Zone => {
                zones.insert(c.subject_id, c.name.clone());
            }
            ChangeKind::LbDomain => {
                let name = lbs.entry(c.subject_id).or_default();
                if name.is_empty() {
                    *name = c.name.clone();
                }
            }
            ChangeKind::Restriction => s.usage.restrictions_changed.notify_one(),
            ChangeKind::TransferPolicy => s.secondary.policy.notify_one(),
            ChangeKind::Contract => {
                for z in s.store.list_zones(None, Some(c.subject_id)).await? {
                    zones.insert(z.id, z.name);
                }
                for l in s.store.list_lb_domains(None, Some(c.subject_id)).await? {
                    lbs.insert(l.id, l.name);
                }
            }
        }
    }
    for (id, name) in zones {
        match crate::zones::republish(s, id).await {
            Ok(()) => tracing::info!(zone = %name, "zone followed from the store"),
            Err(ControlError::Store(StoreError::NotFound)) => {
                if let Ok(apex) = Name::from_text(&format!("{name}."), None) {
                    s.publisher.publish(&apex, None);
                }
            }
            Err(e @ ControlError::Store(_)) => return Err(e),
            Err(e) => tracing::error!(zone = %name, error = %e, "zone in the store does not build; not served"),
        }
    }
    for (id, name) in lbs {
        let published = match s.store.get_lb_domain(id).await {
            Ok(l) => crate::lb::publish_lb(s, &l).await,
            Err(StoreError::NotFound) => {
                if let Ok(name) = Name::from_text(&name, None) {
                    s.publisher.publish_steered(&name, None);
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        };
        match published {
            Ok(()) => {}
            Err(e @ ControlError::Store(_)) => return Err(e),
            Err(e) => tracing::error!(lb_domain = %name, error = %e, "LB domain not served"),
        }
    }
    Ok(())
}

/// Where a follower stands in the change feed. Ids come in the order rows
/// were inserted, but a transaction may commit after a later one, so an id
/// missing below the newest one applied is waited for (it may still come)
/// and given up only after a while (it was rolled back). Entries are
/// applied as they come; only the point below which everything is settled
/// waits.
#[derive(Debug, Clone)]
pub struct FeedCursor {
    /// Every id up to this one is applied or given up.
    upto: i64,
    /// Ids above `upto` applied already.
    applied: BTreeSet<i64>,
    /// Ids above `upto` not seen yet, with when they were first missed.
    missing: BTreeMap<i64, Instant>,
}

impl FeedCursor {
    /// A cursor at `upto`: entries after it are to be applied.
    pub fn new(upto: i64) -> FeedCursor {
        FeedCursor {
            upto,
            applied: BTreeSet::new(),
            missing: BTreeMap::new(),
        }
    }

    /// The feed is to be read from the entry after this one.
    pub fn from(&self) -> i64 {
        self.upto
    }

    /// Is entry `id` still to be applied?
    pub fn is_fresh(&self, id: i64) -> bool {
        id > self.upto && !self.applied.contains(&id)
    }

    /// Notes `batch` applied at `now`: ids missing below the newest one
    /// are waited for `wait`, then given up.
    pub fn applied(&mut self, batch: &[Change], now: Instant, wait: Duration) {
        for c in batch.iter().filter(|c| c.id > self.upto) {
            self.applied.insert(c.id);
            self.missing.remove(&c.id);
        }
        let newest = self.applied.last().copied().unwrap_or(self.upto);
        let mut id = self.upto + 1;
        while id < newest {
            if !self.applied.contains(&id) {
                self.missing.entry(id).or_insert(now);
            }
            id += 1;
        }
        loop {
            let next = self.upto + 1;
            if self.applied.remove(&next) {
                self.upto = next;
            } else if self
                .missing
                .get(&next)
                .is_some_and(|since| now.duration_since(*since) >= wait)
            {
                self.missing.remove(&next);
                self.upto = next;
            } else {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(ids: &[i64]) -> Vec<Change> {
        ids.iter()
            .map(|&id| Change {
                id,
                kind: ChangeKind::Zone,
                subject_id: id,
                name: String::new(),
            })
            .collect()
    }

    #[test]
    fn the_cursor_moves_past_what_is_applied_in_order() {
        let mut c = FeedCursor::new(10);
        assert!(!c.is_fresh(10) && c.is_fresh(11));
        c.applied(&entries(&[11, 12, 13]), Instant::now(), GAP_WAIT);
        assert_eq!(c.from(), 13);
        assert!(!c.is_fresh(13) && c.is_fresh(14));
    }

    #[test]
    fn an_id_committed_late_is_waited_for_then_given_up() {
        let t0 = Instant::now();
        let mut c = FeedCursor::new(0);
        // 2 is in a transaction that has not committed yet.
        c.applied(&entries(&[1, 3, 4]), t0, GAP_WAIT);
        assert_eq!(c.from(), 1, "settled up to the gap");
        assert!(!c.is_fresh(3) && !c.is_fresh(4), "applied once, not again");
        assert!(c.is_fresh(2));
        // It commits: read again from 1, only 2 is fresh.
        let again = entries(&[2, 3, 4, 5]);
        let fresh: Vec<i64> = again.iter().filter(|e| c.is_fresh(e.id)).map(|e| e.id).collect();
        assert_eq!(fresh, [2, 5]);
        c.applied(&again, t0, GAP_WAIT);
        assert_eq!(c.from(), 5);
        // 6 never comes (rolled back): given up after the wait, not before.
        c.applied(&entries(&[7]), t0, GAP_WAIT);
        assert_eq!(c.from(), 5);
        c.applied(&[], t0 + GAP_WAIT / 2, GAP_WAIT);
        assert_eq!(c.from(), 5);
        c.applied(&[], t0 + GAP_WAIT, GAP_WAIT);
        assert_eq!(c.from(), 7);
    }
}
