//! The health monitor inside `serve` (issue 5): every published LB
//! domain's (target, monitoring) checks are probed by `platdns-monitor`'s
//! scheduler (each distinct check once, spread over its interval, debounced
//! by its holdtime); a change of result republishes the LB domains, so the
//! DNS node's next answer follows it.
//!
//! Results are kept across reschedules (a new configuration restarts the
//! scheduler; a key keeps its last result until its first new probe), so a
//! `PUT config` never makes every endpoint look down for an interval; and
//! across restarts (the store keeps the last known result of every check,
//! loaded before the first LB name is published).

use crate::{ApiError, AppState};
use platdns_monitor::schedule::stable_hash;
use platdns_monitor::{Change, Check, Key, Kind, Prober, Running, Scheduler, Snapshot, Stats};
use platdns_steering::model::MonitoringType;
use platdns_steering::{Health, LbConfig};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Current results and the running scheduler.
#[derive(Default)]
pub struct HealthMonitor {
    /// By the check's stable hash (the store keeps the same key).
    results: Mutex<HashMap<u64, Health>>,
    running: tokio::sync::Mutex<Option<Running>>,
    changes: Mutex<Option<mpsc::Sender<Change>>>,
    /// One for every schedule, so the counters total since start-up.
    stats: Arc<Stats>,
}

impl HealthMonitor {
    /// The scheduler's counters (`GET /operator/v1/monitor`); `None` when
    /// the monitor does not run in this process.
    pub fn stats(&self) -> Option<Snapshot> {
        let running = self.changes.lock().expect("not poisoned").is_some();
        running.then(|| self.stats.snapshot())
    }

    /// The result of `monitoring` for an endpoint watching `target`: a
    /// static monitoring's own; otherwise the last probe's (unknown before).
    pub fn result(&self, config: &LbConfig, target: &str, monitoring: &str) -> Health {
        let Some(m) = config.monitorings.iter().find(|m| m.resource_name == monitoring) else {
            return Health::Unknown;
        };
        let Ok(check) = Check::from_monitoring(m) else {
            return Health::Unknown;
        };
        if let Kind::Static(result) = check.kind {
            return result;
        }
        let key = Key {
            target: target.to_string(),
            check,
        };
        self.results
            .lock()
            .expect("not poisoned")
            .get(&stable_hash(&key))
            .copied()
            .unwrap_or(Health::Unknown)
    }
}

/// Starts the monitor: the consumer of changes and a first schedule.
pub async fn start(s: &AppState) -> Result<(), ApiError> {
    let (tx, mut rx) = mpsc::channel::<Change>(1024);
    *s.health.changes.lock().expect("not poisoned") = Some(tx);
    let state = s.clone();
    tokio::spawn(async move {
        // Every change waiting when the consumer wakes is taken with it, and
        // one republication covers them all. One per change recompiled every
        // LB domain each time: at start-up, when every key goes from unknown
        // to its first result within one interval, that fell behind, the
        // channel filled and the probe tasks waiting on it missed their slots
        // (bench/monitor.sh: 10,000 keys, 3 in 4 slots skipped).
        let mut batch = Vec::new();
        while rx.recv_many(&mut batch, 1024).await > 0 {
            for change in batch.drain(..) {
                tracing::info!(target = %change.key.target, old = ?change.old, new = ?change.new, reason = %change.reason, "monitoring result changed");
                let hash = stable_hash(&change.key);
                state
                    .health
                    .results
                    .lock()
                    .expect("not poisoned")
                    .insert(hash, change.new);
                let saved = state
                    .store
                    .save_health(hash, &change.key.target, change.new.as_str(), state.clock.now())
                    .await;
                if let Err(e) = saved {
                    tracing::error!(error = %e, "saving a health result");
                }
            }
            if let Err(e) = republish_all(&state).await {
                tracing::error!(error = %e.message, "republishing LB domains after a health change");
            }
        }
    });
    reschedule(s).await
}

/// Loads the last known results (at start-up, before LB names are published).
pub async fn load(s: &AppState) -> Result<usize, ApiError> {
    let stored = s.store.load_health().await?;
    let mut results = s.health.results.lock().expect("not poisoned");
    for (hash, text) in &stored {
        results.insert(*hash, Health::from_dpf(text).unwrap_or(Health::Unknown));
    }
    Ok(stored.len())
}

async fn republish_all(s: &AppState) -> Result<(), ApiError> {
    for l in s.store.list_lb_domains(None, None).await? {
        crate::publish::publish_lb(s, &l).await?;
    }
    Ok(())
}

/// Rebuilds the schedule from every LB domain's configuration (after a
/// configuration changed). A no-op before [`start`].
pub async fn reschedule(s: &AppState) -> Result<(), ApiError> {
    let Some(tx) = s.health.changes.lock().expect("not poisoned").clone() else {
        return Ok(());
    };
    let mut checks = Vec::new();
    for l in s.store.list_lb_domains(None, None).await? {
        let Ok(config) = serde_json::from_str::<LbConfig>(&l.config) else {
            continue;
        };
        for site in &config.sites {
            for e in &site.endpoints {
                for link in e.monitorings.iter().filter(|l| l.enabled) {
                    let Some(m) = config
                        .monitorings
                        .iter()
                        .find(|m| m.resource_name == link.resource_name)
                    else {
                        continue;
                    };
                    if m.mtype == MonitoringType::Static || e.monitoring_target.is_empty() {
                        continue;
                    }
                    if let Ok(check) = Check::from_monitoring(m) {
                        checks.push((e.monitoring_target.clone(), check));
                    }
                }
            }
        }
    }
    let scheduler = Scheduler::new(Arc::new(Prober::new()), checks).with_stats(s.health.stats.clone());
    let mut running = s.health.running.lock().await;
    if let Some(old) = running.take() {
        old.stop().await;
    }
    *running = Some(scheduler.start(tx));
    Ok(())
}
