//! One supervisor per process: every background loop is a named service it
//! starts, restarts and reports (issue 16; SPEC R11.4 observability).
//!
//! - A service that returns an error or panics is restarted after a backoff
//!   that doubles from [`Backoff::first`] to [`Backoff::max`] and starts over
//!   once the service has run for [`Backoff::reset_after`]. A panic is caught
//!   at the service's own task, so it never takes a neighbour down.
//! - [`Supervisor::every`] runs a periodic round: a round's error is logged
//!   with its cause and counted, and the next round comes on time (a loop
//!   never dies of one bad round). Inside a round, [`ServiceCtx::failed`]
//!   reports one unit (a zone) that failed while the round moves on.
//! - [`Supervisor::shutdown`] asks every service to stop and waits, up to a
//!   grace period, for work in flight to finish (SIGTERM drains).
//! - [`Supervisor::metrics`] and [`Supervisor::health`] show each service:
//!   up, restarts, errors, last success and, for a periodic service, its lag
//!   (time since its last successful round).

use std::collections::HashSet;
use std::fmt::{Display, Write as _};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a failed service waits before its next start.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    /// The wait after a first failure; it doubles with each failure in a row.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
    /// A service that ran this long before failing starts over at `first`.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before the start that follows the `n`th failure in a row
    /// (`n` ≥ 1).
    pub fn delay(&self, n: u32) -> Duration {
        let doubled = self.first.saturating_mul(1u32 << n.saturating_sub(1).min(20));
        doubled.min(self.max)
    }
}

/// What one service has done, as `/metrics` and `/healthz` show it.
struct Service {
    name: &'static str,
    /// A periodic service's period in milliseconds (0: not periodic), set
    /// by [`ServiceCtx::wait`]: its lag is judged against it.
    every_ms: AtomicU64,
    up: AtomicBool,
    restarts: AtomicU64,
    errors: AtomicU64,
    /// Unix milliseconds of the last success (0: none yet) and of the
    /// current run's start.
    last_success_ms: AtomicI64,
    started_ms: AtomicI64,
    last_error: Mutex<Option<String>>,
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Service {
    fn note_error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(what);
    }

    /// Seconds since the last success, or since the service started when it
    /// has not succeeded yet.
    fn lag_seconds(&self, now_ms: i64) -> f64 {
        let since = match self.last_success_ms.load(Ordering::Relaxed) {
            0 => self.started_ms.load(Ordering::Relaxed),
            t => t,
        };
        (now_ms - since).max(0) as f64 / 1000.0
    }

    /// A periodic service is late when it has not succeeded for three
    /// periods and ten seconds (one slow round is not a fault).
    fn late(&self, now_ms: i64) -> bool {
        self.every()
            .is_some_and(|p| self.lag_seconds(now_ms) > 3.0 * p.as_secs_f64() + 10.0)
    }

    fn every(&self) -> Option<Duration> {
        match self.every_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }
}

/// What a service is handed at each start: its name, the shutdown signal,
/// and where to report success and per-unit failures.
#[derive(Clone)]
pub struct ServiceCtx {
    service: Arc<Service>,
    shutdown: watch::Receiver<bool>,
}

impl ServiceCtx {
    pub fn name(&self) -> &'static str {
        self.service.name
    }

    /// Resolves once the supervisor is shutting down.
    pub async fn stopping(&mut self) {
        let _ = self.shutdown.wait_for(|stop| *stop).await;
    }

    pub fn is_stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// A loop's pause between rounds: `period`, or less when `wake` is
    /// notified. False when the supervisor is stopping (the loop returns).
    /// The period makes the service periodic on `/metrics`: its lag is the
    /// time since its last [`ServiceCtx::succeeded`].
    pub async fn wait(&mut self, period: Duration, wake: Option<&tokio::sync::Notify>) -> bool {
        let ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX).max(1);
        self.service.every_ms.store(ms, Ordering::Relaxed);
        let woken = async {
            match wake {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(period) => true,
            _ = woken => true,
            _ = self.stopping() => false,
        }
    }

    /// Records the outcome of one round: success, or an error logged with
    /// its cause and counted (the loop goes on).
    pub fn round<E: Display>(&self, outcome: Result<(), E>) {
        match outcome {
            Ok(()) => self.succeeded(),
            Err(e) => self.failed("round", &e),
        }
    }

    /// The service did its work now (a round, a delivery).
    pub fn succeeded(&self) {
        self.service.last_success_ms.store(unix_ms(), Ordering::Relaxed);
    }

    /// One unit of the service's work failed (`what`: which one, e.g. a
    /// zone) and the service goes on with the next: logged with its cause
    /// and counted in `platdns_service_errors_total`.
    pub fn failed(&self, what: &str, error: &dyn Display) {
        tracing::error!(service = self.service.name, unit = what, error = %error, "failed; going on with the next");
        self.service.note_error(format!("{what}: {error}"));
    }
}

/// One service's state, for `/healthz` and tests.
#[derive(Clone, Debug)]
pub struct ServiceReport {
    pub name: &'static str,
    pub up: bool,
    pub restarts: u64,
    pub errors: u64,
    /// Unix seconds of the last success.
    pub last_success: Option<f64>,
    pub lag_seconds: Option<f64>,
    pub late: bool,
    pub last_error: Option<String>,
}

struct Inner {
    services: Mutex<Vec<Arc<Service>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    shutdown: watch::Sender<bool>,
    backoff: Backoff,
    /// Fault injection for tests: each service named here (or every one,
    /// with `*`) panics once, at its first start.
    panic_once: Mutex<HashSet<String>>,
}

/// Starts, restarts, stops and reports the services of one process. Cheap
/// to clone; every clone is the same supervisor.
#[derive(Clone)]
pub struct Supervisor {
    inner: Arc<Inner>,
}

impl Default for Supervisor {
    fn default() -> Supervisor {
        Supervisor::new(Backoff::default())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A service that panicked never holds these locks (they are only held
    // for a push or a read), so a poisoned one is still consistent.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Supervisor {
    pub fn new(backoff: Backoff) -> Supervisor {
        Supervisor {
            inner: Arc::new(Inner {
                services: Mutex::new(Vec::new()),
                tasks: Mutex::new(Vec::new()),
                shutdown: watch::channel(false).0,
                backoff,
                panic_once: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Makes each named service (`*`: every service) panic once at its
    /// first start: how the tests see that a panicking service is
    /// restarted and reported (`serve --fault-panic-once`).
    pub fn panic_once(&self, names: impl IntoIterator<Item = String>) {
        lock(&self.inner.panic_once).extend(names);
    }

    /// Starts a long-running service. `run` is called for each start; it
    /// returns when [`ServiceCtx::stopping`] resolves. An error, a panic, or
    /// a return while the supervisor is not stopping is a failure: logged
    /// and restarted after the backoff.
    pub fn spawn<F, Fut, E>(&self, name: &'static str, run: F)
    where
        F: Fn(ServiceCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        self.start(name, run);
    }

    /// Starts a periodic service: `round` at once, then `period` after the
    /// end of each round (sooner when `wake` is notified). A round's error
    /// is logged and counted and the next round comes on time; a panic
    /// restarts the service after the backoff. On shutdown a round in
    /// flight finishes. The round gets the service's context to report
    /// units that failed while it went on ([`ServiceCtx::failed`]).
    pub fn every<F, Fut, E>(
        &self,
        name: &'static str,
        period: Duration,
        wake: Option<Arc<tokio::sync::Notify>>,
        round: F,
    ) where
        F: Fn(ServiceCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let round = Arc::new(round);
        self.start(name, move |mut ctx: ServiceCtx| {
            let (round, wake) = (round.clone(), wake.clone());
            async move {
                loop {
                    ctx.round(round(ctx.clone()).await);
                    if !ctx.wait(period, wake.as_deref()).await {
                        return Ok::<(), std::convert::Infallible>(());
                    }
                }
            }
        });
    }

    fn start<F, Fut, E>(&self, name: &'static str, run: F)
    where
        F: Fn(ServiceCtx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Display + Send + 'static,
    {
        let service = Arc::new(Service {
            name,
            every_ms: AtomicU64::new(0),
            up: AtomicBool::new(false),
            restarts: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_success_ms: AtomicI64::new(0),
            started_ms: AtomicI64::new(unix_ms()),
            last_error: Mutex::new(None),
        });
        lock(&self.inner.services).push(service.clone());
        let inner = self.inner.clone();
        let task = tokio::spawn(async move {
            let mut shutdown = inner.shutdown.subscribe();
            let mut in_a_row = 0u32;
            loop {
                if *shutdown.borrow() {
                    break;
                }
                let inject = {
                    let mut p = lock(&inner.panic_once);
                    p.remove(name) || p.contains("*") && p.insert(format!("{name}:done"))
                };
                let attempt = run(ServiceCtx {
                    service: service.clone(),
                    shutdown: inner.shutdown.subscribe(),
                });
                let began = Instant::now();
                service.started_ms.store(unix_ms(), Ordering::Relaxed);
                service.up.store(true, Ordering::Relaxed);
                // Its own task, so that a panic stops only this attempt.
                let outcome = tokio::spawn(async move {
                    if inject {
                        panic!("fault injected: {name} panics once");
                    }
                    attempt.await
                })
                .await;
                service.up.store(false, Ordering::Relaxed);
                let stopping = *shutdown.borrow();
                let why = match outcome {
                    Ok(Ok(())) if stopping => break,
                    Ok(Ok(())) => "ended while the process runs".to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(e) if e.is_panic() => {
                        let p = e.into_panic();
                        let text = p
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| p.downcast_ref::<String>().cloned())
                            .unwrap_or_else(|| "a panic".into());
                        format!("panicked: {text}")
                    }
                    Err(_) => "cancelled".to_string(),
                };
                if stopping {
                    break;
                }
                if began.elapsed() >= inner.backoff.reset_after {
                    in_a_row = 0;
                }
                in_a_row += 1;
                let delay = inner.backoff.delay(in_a_row);
                tracing::error!(service = name, error = %why, restart_in_ms = delay.as_millis() as u64, "service failed; restarting");
                service.note_error(why);
                service.restarts.fetch_add(1, Ordering::Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            }
        });
        lock(&self.inner.tasks).push(task);
    }

    /// Asks every service to stop and waits up to `grace` for them (work in
    /// flight finishes). Services still running then are left to the
    /// process's exit.
    pub async fn shutdown(&self, grace: Duration) {
        let _ = self.inner.shutdown.send(true);
        let tasks: Vec<_> = std::mem::take(&mut *lock(&self.inner.tasks));
        let all = async {
            for t in tasks {
                let _ = t.await;
            }
        };
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "services still running after the grace period"
            );
        }
    }

    /// Every service's state, in the order they were started.
    pub fn reports(&self) -> Vec<ServiceReport> {
        let now = unix_ms();
        lock(&self.inner.services)
            .iter()
            .map(|s| {
                let last = s.last_success_ms.load(Ordering::Relaxed);
                ServiceReport {
                    name: s.name,
                    up: s.up.load(Ordering::Relaxed),
                    restarts: s.restarts.load(Ordering::Relaxed),
                    errors: s.errors.load(Ordering::Relaxed),
                    last_success: (last != 0).then(|| last as f64 / 1000.0),
                    lag_seconds: s.every().map(|_| s.lag_seconds(now)),
                    late: s.late(now),
                    last_error: lock(&s.last_error).clone(),
                }
            })
            .collect()
    }

    /// `/healthz`: healthy when every service is up and no periodic one is
    /// late; the JSON names each service with its state.
    pub fn health(&self) -> (bool, serde_json::Value) {
        let reports = self.reports();
        let healthy = reports.iter().all(|r| r.up && !r.late);
        let services: serde_json::Map<String, serde_json::Value> = reports
            .iter()
            .map(|r| {
                (
                    r.name.to_string(),
                    serde_json::json!({
                        "up": r.up,
                        "restarts": r.restarts,
                        "errors": r.errors,
                        "last_success": r.last_success,
                        "lag_seconds": r.lag_seconds,
                        "late": r.late,
                        "last_error": r.last_error,
                    }),
                )
            })
            .collect();
        (
            healthy,
            serde_json::json!({"status": if healthy { "ok" } else { "degraded" }, "services": services}),
        )
    }

    /// The services' Prometheus lines.
    pub fn metrics(&self, out: &mut String) {
        let reports = self.reports();
        let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(&ServiceReport) -> Option<f64>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for r in &reports {
                if let Some(v) = value(r) {
                    let _ = writeln!(out, "{name}{{service=\"{}\"}} {v}", r.name);
                }
            }
        };
        family("platdns_service_up", "gauge", "1 while the service runs.", &|r| {
            Some(if r.up { 1.0 } else { 0.0 })
        });
        family(
            "platdns_service_restarts_total",
            "counter",
            "Restarts after an error or a panic.",
            &|r| Some(r.restarts as f64),
        );
        family(
            "platdns_service_errors_total",
            "counter",
            "Failed rounds, units and runs.",
            &|r| Some(r.errors as f64),
        );
        family(
            "platdns_service_last_success_timestamp_seconds",
            "gauge",
            "When the service last did its work (Unix time).",
            &|r| r.last_success,
        );
        family(
            "platdns_service_lag_seconds",
            "gauge",
            "A periodic service's time since its last successful round.",
            &|r| r.lag_seconds,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn quick() -> Supervisor {
        Supervisor::new(Backoff {
            first: Duration::from_millis(10),
            max: Duration::from_millis(40),
            reset_after: Duration::from_secs(60),
        })
    }

    async fn until(s: &Supervisor, what: impl Fn(&[ServiceReport]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !what(&s.reports()) {
            assert!(Instant::now() < deadline, "{:?}", s.reports());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[test]
    fn backoff_doubles_to_its_cap() {
        let b = Backoff {
            first: Duration::from_millis(100),
            max: Duration::from_secs(1),
            reset_after: Duration::from_secs(60),
        };
        let ms: Vec<u128> = (1..=6).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.delay(200), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_panicking_service_is_restarted_and_reported() {
        let s = quick();
        let starts = Arc::new(AtomicU32::new(0));
        let counted = starts.clone();
        s.spawn("flaky", move |mut ctx| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n < 2 {
                    panic!("start {n} fails");
                }
                ctx.succeeded();
                ctx.stopping().await;
                Ok::<(), String>(())
            }
        });
        until(&s, |r| r[0].up && r[0].restarts == 2).await;
        let r = &s.reports()[0];
        assert_eq!(r.errors, 2);
        assert!(
            r.last_error.as_deref().unwrap().contains("panicked: start 1 fails"),
            "{r:?}"
        );
        let mut text = String::new();
        s.metrics(&mut text);
        assert!(
            text.contains("platdns_service_restarts_total{service=\"flaky\"} 2"),
            "{text}"
        );
        assert!(text.contains("platdns_service_up{service=\"flaky\"} 1"), "{text}");
        assert!(s.health().0);
        s.shutdown(Duration::from_secs(1)).await;
        assert!(!s.reports()[0].up);
    }

    #[tokio::test]
    async fn an_error_restarts_and_an_early_return_is_a_failure() {
        let s = quick();
        s.spawn("erring", |_| async { Err::<(), _>("connection refused") });
        s.spawn("ending", |_| async { Ok::<(), String>(()) });
        until(&s, |r| r.iter().all(|r| r.restarts >= 2)).await;
        let r = s.reports();
        assert_eq!(r[0].last_error.as_deref(), Some("connection refused"));
        assert_eq!(r[1].last_error.as_deref(), Some("ended while the process runs"));
        s.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn a_failed_round_does_not_stop_the_next() {
        let s = quick();
        let rounds = Arc::new(AtomicU32::new(0));
        let counted = rounds.clone();
        s.every("rounds", Duration::from_millis(5), None, move |_| {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            async move {
                if n.is_multiple_of(2) {
                    Err(format!("round {n} failed"))
                } else {
                    Ok(())
                }
            }
        });
        until(&s, |r| r[0].errors >= 3 && r[0].last_success.is_some()).await;
        let r = &s.reports()[0];
        assert_eq!(r.restarts, 0, "a round's error is no restart");
        assert!(r.up);
        s.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn injected_panics_hit_each_service_once() {
        let s = quick();
        s.panic_once(["*".to_string()]);
        for name in ["a", "b"] {
            s.spawn(name, |mut ctx| async move {
                ctx.stopping().await;
                Ok::<(), String>(())
            });
        }
        until(&s, |r| r.iter().all(|r| r.up && r.restarts == 1)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(s.reports().iter().all(|r| r.restarts == 1), "{:?}", s.reports());
        s.shutdown(Duration::from_secs(1)).await;
    }

    #[tokio::test]
    async fn shutdown_lets_a_round_in_flight_finish() {
        let s = quick();
        let finished = Arc::new(AtomicBool::new(false));
        let done = finished.clone();
        s.every("slow", Duration::from_secs(3600), None, move |_| {
            let done = done.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                done.store(true, Ordering::SeqCst);
                Ok::<(), String>(())
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.shutdown(Duration::from_secs(5)).await;
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_periodic_service_that_never_succeeds_is_late() {
        let s = quick();
        s.every("stuck", Duration::from_millis(1), None, |_| async {
            Err::<(), _>("store unreachable")
        });
        until(&s, |r| r[0].errors > 0).await;
        // Late only after three periods and ten seconds: judged on a
        // report whose start is moved back.
        let svc = lock(&s.inner.services)[0].clone();
        svc.started_ms.store(unix_ms() - 11_000, Ordering::Relaxed);
        let (healthy, body) = s.health();
        assert!(!healthy);
        assert_eq!(body["services"]["stuck"]["late"], true);
        s.shutdown(Duration::from_secs(1)).await;
    }
}
