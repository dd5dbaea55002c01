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

use crate::notify::StateChange;
use crate::{ApiError, AppState};
use platdns_monitor::schedule::stable_hash;
use platdns_monitor::{Change, Check, Key, Kind, Prober, Running, Scheduler};
use platdns_steering::model::{Endpoint, Monitoring, MonitoringType, Site};
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
}

impl HealthMonitor {
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
        while let Some(change) = rx.recv().await {
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
            if let Err(e) = log_result_change(&state, &change).await {
                tracing::error!(error = %e.message, "logging a monitoring result change");
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

/// DPF `monitoring_result_changed` in the log of every LB domain with an
/// endpoint watched by the changed check (one probe serves them all).
async fn log_result_change(s: &AppState, change: &Change) -> Result<(), ApiError> {
    let hash = stable_hash(&change.key);
    for l in s.store.list_lb_domains(None, None).await? {
        let Ok(config) = serde_json::from_str::<LbConfig>(&l.config) else {
            continue;
        };
        let mut changes = Vec::new();
        for (site, e, m) in links(&config) {
            let same = Check::from_monitoring(m).is_ok_and(|check| {
                stable_hash(&Key {
                    target: e.monitoring_target.clone(),
                    check,
                }) == hash
            });
            if same {
                changes.push(StateChange {
                    operation: "monitoring_result_changed",
                    target: format!("{}/{}:{}", site.resource_name, e.resource_name, m.resource_name),
                    old: change.old.as_str(),
                    new: change.new.as_str(),
                });
            }
        }
        crate::notify::state_changed(s, &l, &changes).await;
    }
    Ok(())
}

/// Every enabled (site, endpoint, monitoring) link of a configuration.
fn links(config: &LbConfig) -> impl Iterator<Item = (&Site, &Endpoint, &Monitoring)> {
    config.sites.iter().flat_map(move |site| {
        site.endpoints.iter().flat_map(move |e| {
            e.monitorings
                .iter()
                .filter(|link| link.enabled)
                .filter_map(move |link| {
                    let m = config
                        .monitorings
                        .iter()
                        .find(|m| m.resource_name == link.resource_name)?;
                    Some((site, e, m))
                })
        })
    })
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
        for (_, e, m) in links(&config) {
            if m.mtype == MonitoringType::Static || e.monitoring_target.is_empty() {
                continue;
            }
            if let Ok(check) = Check::from_monitoring(m) {
                checks.push((e.monitoring_target.clone(), check));
            }
        }
    }
    let scheduler = Scheduler::new(Arc::new(Prober::new()), checks);
    let mut running = s.health.running.lock().await;
    if let Some(old) = running.take() {
        old.stop().await;
    }
    *running = Some(scheduler.start(tx));
    Ok(())
}
