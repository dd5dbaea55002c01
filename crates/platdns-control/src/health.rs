//! LB health (issue 5), in two halves that may run in different processes
//! on one store:
//!
//! - **Probing** ([`start_probing`]; `serve` runs it unless `--no-monitor`,
//!   `serve --role monitor --location jp` runs only it): every (target,
//!   check) that a monitoring located where this monitor serves asks for
//!   is probed by `platdns-monitor`'s scheduler (each distinct check once,
//!   spread over its interval, debounced by its holdtime). Each change of
//!   this monitor's result is written to the store under its location tag,
//!   and a heartbeat every couple of seconds says the monitor is alive (and
//!   whether its probing has stalled). It follows configuration changes by
//!   watching the LB domains' versions in the store.
//! - **Combining** ([`start_combining`], with the API): every second (at
//!   once when the local monitor wrote), the results of the locations whose
//!   monitors are alive are combined per monitoring (`platdns_steering::
//!   status::combine_alive`: up if any live location reaches the target).
//!   A change is logged (`monitoring_result_changed`), kept in the store as
//!   the last known result, and the LB domains using it are republished.
//!   When fewer than the quorum of locations serving a monitoring are alive
//!   (monitors stopped, heartbeats late, probing stalled), its result
//!   freezes at the last known one and an alert is raised (log, the
//!   operator API's `/operator/v1/monitors`, the operator webhook), instead
//!   of every endpoint going down because the checker did.
//!
//! Restarts: the combined results are loaded before the first LB name is
//! published, so the first answer is the last known one.

use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use crate::notify::StateChange;
use platdns_monitor::schedule::stable_hash;
use platdns_monitor::{Change, Check, Key, Kind, Prober, Running, Scheduler, Snapshot, Stats};
use platdns_steering::model::{Endpoint, Monitoring, MonitoringType, Site};
use platdns_steering::status::{combine_alive, location_serves, LocationVerdict};
use platdns_steering::{Health, LbConfig};
use platdns_store::{LbDomain, MonitorBeat};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// Where and how this process monitors, and how results are combined.
#[derive(Clone)]
pub struct MonitorSettings {
    /// This monitor's location tag: `jp`, `us`, or `any` (serves every
    /// monitoring; the default of a single-node platform).
    pub location: String,
    /// This process's name among the monitors.
    pub instance: String,
    /// How often the monitor says it is alive.
    pub heartbeat: Duration,
    /// A monitor not heard from for this long is not alive.
    pub stale_after: Duration,
    /// Locations that must be alive for a monitoring's result to move.
    pub quorum: usize,
    /// The prober (TLS roots: webpki's, plus an operator's CA if given).
    pub prober: Arc<Prober>,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        MonitorSettings {
            location: "any".into(),
            instance: format!("monitor-{}", std::process::id()),
            heartbeat: Duration::from_secs(2),
            stale_after: Duration::from_secs(10),
            quorum: 1,
            prober: Arc::new(Prober::new()),
        }
    }
}

/// A check as a monitoring sees it: the check's stable hash and the
/// monitoring's location (`jp`, `us`, `all`).
type Watched = (u64, String);

/// Combined results, the running scheduler and the alert state.
#[derive(Default)]
pub struct HealthMonitor {
    pub settings: MonitorSettings,
    /// What answers use, by (check hash, monitoring location).
    combined: Mutex<HashMap<Watched, Health>>,
    /// Each location's last result of each check, as read from the store.
    by_location: Mutex<HashMap<u64, BTreeMap<String, Health>>>,
    /// How far the store's results have been read.
    cursor: Mutex<Option<String>>,
    /// Watched checks frozen for want of a quorum, with when it began.
    pub frozen: Mutex<BTreeMap<Watched, jiff::Timestamp>>,
    /// The monitors alive at the last combination.
    pub alive: Mutex<Vec<MonitorBeat>>,
    running: tokio::sync::Mutex<Option<Running>>,
    changes: Mutex<Option<mpsc::Sender<Change>>>,
    /// Wakes the combiner when the local monitor wrote a result.
    wake: Arc<Notify>,
    /// One for every schedule, so the counters total since start-up.
    stats: Arc<Stats>,
    /// The longest interval + timeout of the checks scheduled, seconds.
    period: std::sync::atomic::AtomicU64,
    /// Who watches which check, as of the LB domains' versions.
    users: Mutex<Option<WatchersAt>>,
}

impl HealthMonitor {
    pub fn new(settings: MonitorSettings) -> HealthMonitor {
        HealthMonitor {
            settings,
            ..HealthMonitor::default()
        }
    }

    /// The scheduler's counters (`GET /operator/v1/monitor`); `None` when
    /// the monitor does not run in this process.
    pub fn stats(&self) -> Option<Snapshot> {
        let running = self.changes.lock().expect("not poisoned").is_some();
        running.then(|| self.stats.snapshot())
    }

    /// The result of `monitoring` for an endpoint watching `target`: a
    /// static monitoring's own; otherwise the combined (or last known)
    /// result, unknown before any.
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
        let watched = (stable_hash(&key(target, check)), location_of(m));
        self.combined
            .lock()
            .expect("not poisoned")
            .get(&watched)
            .copied()
            .unwrap_or(Health::Unknown)
    }
}

fn key(target: &str, check: Check) -> Key {
    Key {
        target: target.to_string(),
        check,
    }
}

/// A monitoring's `location`; DPF's default is `all`.
fn location_of(m: &Monitoring) -> String {
    m.props.location.clone().unwrap_or_else(|| "all".into())
}

/// The store's key of a combined result.
fn stored_key((hash, location): &Watched) -> String {
    format!("{hash:016x}/{location}")
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

/// The probed links of a configuration: (site, endpoint, monitoring, check).
fn probed(config: &LbConfig) -> impl Iterator<Item = (&Site, &Endpoint, &Monitoring, Check)> {
    links(config).filter_map(|(site, e, m)| {
        if m.mtype == MonitoringType::Static || e.monitoring_target.is_empty() {
            return None;
        }
        Some((site, e, m, Check::from_monitoring(m).ok()?))
    })
}

/// Loads the last known results (at start-up, before LB names are published).
pub async fn load(s: &Control) -> ControlResult<usize> {
    let stored = s.store.load_health().await?;
    let mut combined = s.health.combined.lock().expect("not poisoned");
    for (k, text) in &stored {
        // Keys written before locations were combined carry no location: `all`.
        let (hash, location) = k.split_once('/').unwrap_or((k, "all"));
        if let Ok(hash) = u64::from_str_radix(hash, 16) {
            combined.insert(
                (hash, location.to_string()),
                Health::from_dpf(text).unwrap_or(Health::Unknown),
            );
        }
    }
    Ok(stored.len())
}

// ---------------------------------------------------------------- probing

/// Starts this process's monitor: the scheduler, the writer of its results,
/// the heartbeat, and the watch on configuration versions.
pub async fn start_probing(s: &Control) -> ControlResult<()> {
    let (tx, rx) = mpsc::channel::<Change>(1024);
    *s.health.changes.lock().expect("not poisoned") = Some(tx);
    // A restart of the writer takes the same channel up again.
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let state = s.clone();
    s.supervisor.spawn("probe-results", move |mut ctx| {
        let (state, rx) = (state.clone(), rx.clone());
        async move {
        let mut rx = rx.lock().await;
        // Every change waiting when the writer wakes goes in one store
        // transaction: one write per change fell behind at start-up (10,000
        // keys going from unknown to a first result within one interval),
        // filled the channel and held probe tasks past their slots
        // (bench/monitor.sh).
        let mut batch = Vec::new();
        loop {
            let got = tokio::select! {
                n = rx.recv_many(&mut batch, 1024) => n,
                _ = ctx.stopping() => return Ok::<(), ControlError>(()),
            };
            if got == 0 {
                return Ok(());
            }
            let location = &state.health.settings.location;
            let rows: Vec<platdns_store::ProbeResultRow> = batch
                .drain(..)
                .map(|change| {
                    tracing::info!(target = %change.key.target, %location, old = ?change.old, new = ?change.new, reason = %change.reason, "probe result changed");
                    platdns_store::ProbeResultRow {
                        key_hash: stable_hash(&change.key),
                        target: change.key.target.clone(),
                        result: change.new.as_str().into(),
                        reason: change.reason,
                    }
                })
                .collect();
            match state.store.save_probe_results(location, &rows, state.clock.now()).await {
                Ok(()) => ctx.succeeded(),
                Err(e) => ctx.failed("saving probe results", &e),
            }
            state.health.wake.notify_one();
        }
        }
    });
    reschedule(s).await?;
    let state = s.clone();
    s.supervisor.spawn("monitor-heartbeat", move |mut ctx| {
        let state = state.clone();
        async move {
        let started = state.clock.now();
        let mut versions = state.store.lb_domain_versions().await.unwrap_or_default();
        let mut progress = (0u64, tokio::time::Instant::now());
        let mut was_stalled = false;
        loop {
            // Another process (the API) may have changed a configuration.
            match state.store.lb_domain_versions().await {
                Ok(now) if now != versions => {
                    versions = now;
                    if let Err(e) = reschedule(&state).await {
                        tracing::error!(error = %e, "rescheduling health checks");
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "reading LB domain versions"),
            }
            let checks = match state.health.running.lock().await.as_ref() {
                Some(r) => r.keys() as i64,
                None => 0,
            };
            // Probing has stalled when, with checks to run, no probe started
            // for longer than the longest interval and timeout (every check
            // starts once per interval): a stuck runtime or prober. The
            // heartbeat still goes, saying so, and the combiner stops
            // counting this location.
            let probes = state.health.stats.snapshot().started;
            if probes != progress.0 {
                progress = (probes, tokio::time::Instant::now());
            }
            let period = Duration::from_secs(state.health.period.load(std::sync::atomic::Ordering::Relaxed));
            let stalled = stalled(checks, progress.1.elapsed(), period);
            if stalled != was_stalled {
                if stalled {
                    tracing::error!(checks, since = ?progress.1.elapsed(), "ALERT: this monitor's probing has stalled");
                } else {
                    tracing::warn!("this monitor's probing runs again");
                }
                was_stalled = stalled;
            }
            let beat = MonitorBeat {
                instance: state.health.settings.instance.clone(),
                location: state.health.settings.location.clone(),
                started_at: started,
                seen_at: state.clock.now(),
                checks,
                stalled,
            };
            match state.store.monitor_heartbeat(&beat).await {
                Ok(()) => ctx.succeeded(),
                Err(e) => ctx.failed("monitor heartbeat", &e),
            }
            if !ctx.wait(state.health.settings.heartbeat, None).await {
                return Ok::<(), ControlError>(());
            }
        }
        }
    });
    Ok(())
}

/// Grace beyond a check's period before a silent prober counts as stalled.
const STALL_GRACE: Duration = Duration::from_secs(5);

/// Whether probing is stalled: checks to run, and no probe started for
/// longer than the longest interval plus timeout (`period`) plus a grace.
fn stalled(checks: i64, since_last_start: Duration, period: Duration) -> bool {
    checks > 0 && since_last_start > period + STALL_GRACE
}

/// Rebuilds the schedule from every LB domain's configuration (after a
/// configuration changed): the checks of monitorings this monitor's
/// location serves. A no-op where this process does not probe.
pub async fn reschedule(s: &Control) -> ControlResult<()> {
    let Some(tx) = s.health.changes.lock().expect("not poisoned").clone() else {
        return Ok(());
    };
    let here = &s.health.settings.location;
    let mut checks = Vec::new();
    for l in s.store.list_lb_domains(None, None).await? {
        let Ok(config) = serde_json::from_str::<LbConfig>(&l.config) else {
            continue;
        };
        for (_, e, m, check) in probed(&config) {
            if location_serves(here, &location_of(m)) {
                checks.push((e.monitoring_target.clone(), check));
            }
        }
    }
    let period = checks
        .iter()
        .map(|(_, c)| c.interval + c.timeout)
        .max()
        .unwrap_or_default();
    s.health
        .period
        .store(period.as_secs().max(1), std::sync::atomic::Ordering::Relaxed);
    let scheduler = Scheduler::new(s.health.settings.prober.clone(), checks).with_stats(s.health.stats.clone());
    // Checks that stay keep running (slot and debounced result); only
    // those added or removed change.
    let mut running = s.health.running.lock().await;
    let previous = running.take();
    *running = Some(scheduler.start_after(previous, tx));
    Ok(())
}

// -------------------------------------------------------------- combining

/// Every LB domain, and for each watched check the (domain index,
/// `site/endpoint:monitoring`, target) links that use it.
type Watchers = (Vec<LbDomain>, BTreeMap<Watched, Vec<(usize, String, String)>>);

/// [`Watchers`] with the LB domains' (id, version) they were made from.
type WatchersAt = (Vec<(i64, i64)>, Arc<Watchers>);

async fn watchers(s: &Control) -> ControlResult<Watchers> {
    let domains = s.store.list_lb_domains(None, None).await?;
    let mut users: BTreeMap<Watched, Vec<(usize, String, String)>> = BTreeMap::new();
    for (i, l) in domains.iter().enumerate() {
        let Ok(config) = serde_json::from_str::<LbConfig>(&l.config) else {
            continue;
        };
        for (site, e, m, check) in probed(&config) {
            let watched = (stable_hash(&key(&e.monitoring_target, check)), location_of(m));
            let at = format!("{}/{}:{}", site.resource_name, e.resource_name, m.resource_name);
            users
                .entry(watched)
                .or_default()
                .push((i, at, e.monitoring_target.clone()));
        }
    }
    Ok((domains, users))
}

/// Starts the combiner: every second, or at once when the local monitor
/// wrote a result.
pub fn start_combining(s: &Control) {
    let state = s.clone();
    s.supervisor.every(
        "health-combine",
        Duration::from_secs(1),
        Some(s.health.wake.clone()),
        move |_| {
            let s = state.clone();
            async move { combine(&s).await.map(|_| ()) }
        },
    );
}

/// One combination round; returns the watched checks whose result changed.
pub async fn combine(s: &Control) -> ControlResult<usize> {
    let h = &s.health;
    let now = s.clock.now();
    let stale = jiff::SignedDuration::try_from(h.settings.stale_after).unwrap_or_default();
    let beats = s.store.monitors(now.checked_sub(stale).unwrap_or(now)).await?;
    let alive: Vec<&str> = beats
        .iter()
        .filter(|b| !b.stalled)
        .map(|b| b.location.as_str())
        .collect();
    // New results since the last round (`>=`: results written in the same
    // instant as the cursor are read again, harmlessly).
    let cursor = h.cursor.lock().expect("not poisoned").clone();
    let rows = s.store.probe_results_since(cursor.as_deref()).await?;
    if let Some(last) = rows.last() {
        *h.cursor.lock().expect("not poisoned") = Some(last.updated_at.clone());
    }
    {
        let mut by_location = h.by_location.lock().expect("not poisoned");
        for r in &rows {
            let result = Health::from_dpf(&r.result).unwrap_or(Health::Unknown);
            by_location
                .entry(r.key_hash)
                .or_default()
                .insert(r.location.clone(), result);
        }
    }
    // Which checks are watched, by whom: rebuilt only when a configuration
    // changed (parsing every configuration each second cost more than all
    // the probes of 10,000 endpoints).
    let versions = s.store.lb_domain_versions().await?;
    let cached = h.users.lock().expect("not poisoned").clone();
    let users = match cached {
        Some((v, users)) if v == versions => users,
        _ => {
            let users = Arc::new(watchers(s).await?);
            *h.users.lock().expect("not poisoned") = Some((versions, users.clone()));
            users
        }
    };
    let (domains, users) = (&users.0, &users.1);
    let mut changed: Vec<(Watched, Health, Health)> = Vec::new();
    let mut frozen_now = Vec::new();
    {
        let by_location = h.by_location.lock().expect("not poisoned");
        let mut combined = h.combined.lock().expect("not poisoned");
        for watched in users.keys() {
            let results: Vec<(&str, Health)> = by_location
                .get(&watched.0)
                .map(|m| m.iter().map(|(l, r)| (l.as_str(), *r)).collect())
                .unwrap_or_default();
            match combine_alive(&watched.1, &results, &alive, h.settings.quorum) {
                LocationVerdict::Result(new) => {
                    let old = combined.insert(watched.clone(), new).unwrap_or(Health::Unknown);
                    if old != new {
                        changed.push((watched.clone(), old, new));
                    }
                }
                LocationVerdict::Waiting => {}
                LocationVerdict::NoQuorum => frozen_now.push(watched.clone()),
            }
        }
    }
    alert(s, &frozen_now, &beats, now);
    *h.alive.lock().expect("not poisoned") = beats;
    let mut republish = std::collections::BTreeSet::new();
    for (watched, old, new) in &changed {
        let Some(using) = users.get(watched) else { continue };
        if let Some((_, _, target)) = using.first() {
            s.store
                .save_health(&stored_key(watched), target, new.as_str(), now)
                .await?;
        }
        let mut per_domain: BTreeMap<usize, Vec<StateChange>> = BTreeMap::new();
        for (i, at, _) in using {
            per_domain.entry(*i).or_default().push(StateChange {
                operation: "monitoring_result_changed",
                target: at.clone(),
                old: old.as_str(),
                new: new.as_str(),
            });
            republish.insert(*i);
        }
        for (i, changes) in per_domain {
            crate::notify::state_changed(s, &domains[i], &changes).await;
        }
    }
    for i in republish {
        crate::lb::publish_lb(s, &domains[i]).await?;
    }
    Ok(changed.len())
}

/// Raises or clears the alert of checks frozen for want of a quorum.
fn alert(s: &Control, frozen_now: &[Watched], beats: &[MonitorBeat], now: jiff::Timestamp) {
    let mut frozen = s.health.frozen.lock().expect("not poisoned");
    let was = frozen.len();
    frozen.retain(|w, _| frozen_now.contains(w));
    let recovered = was - frozen.len();
    let mut raised = 0;
    for w in frozen_now {
        frozen.entry(w.clone()).or_insert_with(|| {
            raised += 1;
            now
        });
    }
    if raised > 0 {
        let locations: Vec<String> = beats
            .iter()
            .map(|b| {
                format!(
                    "{}@{}{}",
                    b.instance,
                    b.location,
                    if b.stalled { " (stalled)" } else { "" }
                )
            })
            .collect();
        tracing::error!(
            frozen = frozen.len(),
            newly = raised,
            alive = ?locations,
            "ALERT: health checks lost their monitor quorum; their results are frozen at the last known"
        );
        crate::notify::operator_alert(
            s,
            serde_json::json!({
                "event": "monitor_quorum_lost",
                "time": now.to_string(),
                "frozen_checks": frozen.len(),
                "monitors": locations,
            }),
        );
    }
    if recovered > 0 {
        tracing::warn!(
            recovered,
            still_frozen = frozen.len(),
            "health checks have their monitor quorum again"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_is_stalled_only_past_the_longest_period_with_checks_to_run() {
        let period = Duration::from_secs(35);
        assert!(!stalled(10, Duration::from_secs(40), period), "within the grace");
        assert!(stalled(10, Duration::from_secs(41), period));
        assert!(
            !stalled(0, Duration::from_secs(3600), period),
            "nothing to probe is not a stall"
        );
    }
}
