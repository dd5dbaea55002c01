//! The scheduler's loop: with a scripted probe on tokio's paused clock
//! (what is probed, when, and what is reported), and once with the real
//! prober against a real server.

mod common;

use common::{check, http, http_server};
use platdns_monitor::check::{Check, Kind};
use platdns_monitor::{Change, Outcome, Probe, Prober, Scheduler};
use platdns_steering::Health::{self, Down, Unknown, Up};
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Answers from a script per target (the last entry repeats) and records
/// every call with its time.
#[derive(Default)]
struct Scripted {
    script: HashMap<String, Vec<Health>>,
    calls: Mutex<Vec<(String, Instant)>>,
}

impl Probe for Scripted {
    fn probe(&self, target: &str, _check: &Check) -> impl Future<Output = Outcome> + Send {
        let n = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.iter().filter(|(t, _)| t == target).count();
            calls.push((target.to_owned(), Instant::now()));
            n
        };
        let health = self.script.get(target).map(|s| s[n.min(s.len() - 1)]).unwrap_or(Up);
        async move {
            Outcome {
                health,
                reason: format!("call {n}"),
            }
        }
    }
}

fn tcp(interval: u64, holdtime: u32) -> Check {
    Check {
        kind: Kind::Tcp { port: 443, tls: None },
        interval: Duration::from_secs(interval),
        timeout: Duration::from_secs(5),
        holdtime,
    }
}

fn drain(rx: &mut mpsc::Receiver<Change>) -> Vec<Change> {
    let mut out = Vec::new();
    while let Ok(c) = rx.try_recv() {
        out.push(c);
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_target_and_check_shared_by_endpoints_is_probed_once_per_interval() {
    let probe = Arc::new(Scripted::default());
    // Three endpoints on one target with the same check; one elsewhere; the
    // same target with another check is another probe.
    let checks = vec![
        ("192.0.2.1".to_owned(), tcp(30, 0)),
        ("192.0.2.1".to_owned(), tcp(30, 0)),
        ("192.0.2.1".to_owned(), tcp(30, 0)),
        ("192.0.2.2".to_owned(), tcp(30, 0)),
        ("192.0.2.1".to_owned(), tcp(60, 0)),
    ];
    let scheduler = Scheduler::new(probe.clone(), checks);
    assert_eq!(scheduler.keys().len(), 3);
    let (tx, mut rx) = mpsc::channel(64);
    let running = scheduler.start(tx);
    let started = running.started;
    tokio::time::sleep(Duration::from_secs(120) - Duration::from_millis(1)).await;
    running.stop().await;
    let calls = probe.calls.lock().unwrap().clone();
    // Four 30 s intervals: four probes of each 30 s key, two of the 60 s one.
    assert_eq!(calls.iter().filter(|(t, _)| t == "192.0.2.1").count(), 4 + 2);
    assert_eq!(calls.iter().filter(|(t, _)| t == "192.0.2.2").count(), 4);
    // Each key keeps its slot: successive probes exactly one interval apart.
    let times: Vec<Duration> = calls
        .iter()
        .filter(|(t, _)| t == "192.0.2.2")
        .map(|(_, at)| *at - started)
        .collect();
    for pair in times.windows(2) {
        assert_eq!(pair[1] - pair[0], Duration::from_secs(30), "{times:?}");
    }
    // One change per key: unknown → up, reported once.
    let changes = drain(&mut rx);
    assert_eq!(changes.len(), 3);
    assert!(changes.iter().all(|c| (c.old, c.new) == (Unknown, Up)));
}

#[tokio::test(start_paused = true)]
async fn a_new_result_counts_only_after_the_holdtime() {
    // Up twice, down from the third probe on: first down at offset+60 s.
    let probe = Arc::new(Scripted {
        script: HashMap::from([("a".to_owned(), vec![Up, Up, Down])]),
        ..Default::default()
    });
    let scheduler = Scheduler::new(probe.clone(), [("a".to_owned(), tcp(30, 60))]);
    let (tx, mut rx) = mpsc::channel(64);
    let running = scheduler.start(tx);
    let started = running.started;
    tokio::time::sleep(Duration::from_secs(150)).await;
    let changes = drain(&mut rx);
    running.stop().await;
    let seen: Vec<(Health, Health, Duration, &str)> = changes
        .iter()
        .map(|c| (c.old, c.new, c.at - started, c.reason.as_str()))
        .collect();
    // Alone in its interval, the key's offset is 0. Down at 60 and 90 is
    // not enough; at 120 it has held 60 s.
    assert_eq!(
        seen,
        [
            (Unknown, Up, Duration::ZERO, "call 0"),
            (Up, Down, Duration::from_secs(120), "call 4"),
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_thousand_checks_start_spread_over_the_interval_not_in_a_burst() {
    let probe = Arc::new(Scripted::default());
    let checks = (0..1000).map(|i| (format!("host{i}.example"), tcp(30, 0)));
    let (tx, mut rx) = mpsc::channel(2000);
    let running = Scheduler::new(probe.clone(), checks).start(tx);
    let started = running.started;
    tokio::time::sleep(Duration::from_secs(30) - Duration::from_millis(1)).await;
    running.stop().await;
    let calls = probe.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1000, "each probed once in the first interval");
    let mut slots = [0u32; 300];
    for (_, at) in &calls {
        slots[((*at - started).as_millis() / 100) as usize] += 1;
    }
    let fullest = slots.iter().max().unwrap();
    assert!(*fullest <= 4, "{fullest} probes in one 100 ms slot");
    assert!(slots[0] <= 4, "no burst at start");
    assert_eq!(drain(&mut rx).len(), 1000);
}

/// Its first probe of `stall` holds the runtime for 40 s, as a blocked
/// worker would (the clock jumps while no other task runs); every other
/// probe is up at once.
struct Stalling;

impl Probe for Stalling {
    fn probe(&self, target: &str, _check: &Check) -> impl Future<Output = Outcome> + Send {
        static STALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let stall = target == "stall" && !STALLED.swap(true, std::sync::atomic::Ordering::Relaxed);
        async move {
            if stall {
                tokio::time::advance(Duration::from_secs(40)).await;
            }
            Outcome {
                health: Up,
                reason: String::new(),
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn stats_count_probes_their_lateness_and_skipped_slots() {
    // Two keys of one 30 s interval: slots 15 s apart, whichever is first.
    let checks = [("stall".to_owned(), tcp(30, 0)), ("other".to_owned(), tcp(30, 0))];
    let (tx, _rx) = mpsc::channel(64);
    let running = Scheduler::new(Arc::new(Stalling), checks).start(tx);
    let stats = running.stats().clone();
    tokio::time::sleep(Duration::from_secs(100)).await;
    let snap = stats.snapshot();
    running.stop().await;
    assert_eq!(snap.keys, 2);
    assert_eq!((snap.in_flight, snap.started), (0, snap.finished));
    // The stall held the runtime 40 s from its slot, so `other`'s next slot
    // (15 s after it) started 25 s late, and the stalled key skipped one.
    let late = Duration::from_secs(25);
    assert_eq!(snap.max_lateness, late);
    assert_eq!(snap.skipped, 1);
    assert_eq!(snap.lateness.iter().sum::<u64>(), snap.started);
    assert_eq!(snap.lateness[0], snap.started - 1, "every other probe on its slot");
    assert_eq!(snap.lateness_quantile(0.5), Some(Duration::from_millis(1)));
    assert_eq!(snap.lateness_quantile(1.0), Some(late));
}

#[tokio::test]
async fn the_real_prober_reports_a_server_going_down() {
    let server = http_server(None);
    let mut c = check(Kind::Http(http(server.port())));
    c.interval = Duration::from_secs(1);
    let scheduler = Scheduler::new(Arc::new(Prober::new()), [("127.0.0.1".to_owned(), c)]);
    let (tx, mut rx) = mpsc::channel(8);
    let running = scheduler.start(tx);
    let wait = Duration::from_secs(5);
    let first = tokio::time::timeout(wait, rx.recv()).await.unwrap().unwrap();
    assert_eq!((first.old, first.new, first.reason.as_str()), (Unknown, Up, "HTTP 200"));
    server.set(503, "");
    let second = tokio::time::timeout(wait, rx.recv()).await.unwrap().unwrap();
    assert_eq!(
        (second.old, second.new, second.reason.as_str()),
        (Up, Down, "HTTP 503, not 2xx/3xx")
    );
    assert_eq!(second.key.target, "127.0.0.1");
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_update_keeps_the_checks_that_stay_stops_the_removed_and_starts_the_new() {
    let probe = Arc::new(Scripted::default());
    let (tx, mut rx) = mpsc::channel(64);
    let first = Scheduler::new(
        probe.clone(),
        [("a".to_string(), tcp(30, 0)), ("b".to_string(), tcp(30, 0))],
    );
    let running = first.start(tx.clone());
    tokio::time::sleep(Duration::from_secs(61)).await;
    let before = drain(&mut rx);
    assert_eq!(before.len(), 2, "a and b: unknown -> up once each");
    let count = |t: &str| probe.calls.lock().unwrap().iter().filter(|(x, _)| x == t).count();
    let b_calls = count("b");
    // b stays, a goes, c comes.
    let second = Scheduler::new(
        probe.clone(),
        [("b".to_string(), tcp(30, 0)), ("c".to_string(), tcp(30, 0))],
    );
    let running = second.start_after(Some(running), tx.clone());
    let a_calls = count("a");
    tokio::time::sleep(Duration::from_secs(90)).await;
    assert_eq!(count("a"), a_calls, "a stopped");
    assert_eq!(count("b"), b_calls + 3, "b kept its slot: three more in 90 s");
    let after = drain(&mut rx);
    let targets: Vec<&str> = after.iter().map(|c| c.key.target.as_str()).collect();
    assert_eq!(
        targets,
        ["c"],
        "only the new check reports unknown -> up; b's result was kept"
    );
    assert!(count("c") >= 3);
    running.stop().await;
}
