//! Every background service of each role is supervised (issue 16): each one
//! made to panic once at start (`--fault-panic-once '*'`) is restarted and
//! shows its restart on `/metrics` and `/healthz`; SIGTERM stops the
//! process after its services drain.

mod common;

use common::{http, Platdns};
use std::time::{Duration, Instant};

/// `platdns_service_<family>{service="NAME"} VALUE` lines, as (name, value).
fn family(metrics: &str, family: &str) -> Vec<(String, f64)> {
    let prefix = format!("platdns_service_{family}{{service=\"");
    metrics
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| {
            let (name, value) = l.split_once("\"} ")?;
            Some((name.to_string(), value.parse().ok()?))
        })
        .collect()
}

fn metrics(p: &Platdns) -> String {
    match http(p.http, "GET", "/metrics", None, None) {
        (200, serde_json::Value::String(text)) => text,
        other => panic!("/metrics: {other:?}"),
    }
}

/// Waits until every service in `expected` was restarted exactly once and
/// runs again, and `/healthz` says so.
fn every_service_restarted_once(p: &Platdns, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = metrics(p);
        let restarts = family(&text, "restarts_total");
        let up = family(&text, "up");
        let names: Vec<&str> = restarts.iter().map(|(n, _)| n.as_str()).collect();
        let done = expected.iter().all(|e| names.contains(e))
            && restarts.iter().all(|(_, v)| *v == 1.0)
            && up.iter().all(|(_, v)| *v == 1.0);
        if done {
            let (status, health) = http(p.http, "GET", "/healthz", None, None);
            assert_eq!(status, 200, "{health}");
            assert_eq!(health["status"], "ok");
            for name in expected {
                let s = &health["services"][*name];
                assert_eq!(s["up"], true, "{name}: {health}");
                assert_eq!(s["restarts"], 1, "{name}: {health}");
                assert!(
                    s["last_error"].as_str().unwrap_or("").contains("fault injected"),
                    "{name}: {health}"
                );
            }
            let log = p.stderr.lock().unwrap().clone();
            for name in expected {
                assert!(
                    log.lines()
                        .any(|l| l.contains("service failed; restarting") && l.contains(name)),
                    "no restart of {name} logged:\n{log}"
                );
            }
            return;
        }
        assert!(
            Instant::now() < deadline,
            "services not all restarted once: restarts {restarts:?} up {up:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn every_service_of_each_role_is_restarted_after_a_panic_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let api = Platdns::start_in(dir.path(), &[], &["--fault-panic-once", "*", "--prober"]);
    every_service_restarted_once(
        &api,
        &[
            "http",
            "probe-results",
            "monitor-heartbeat",
            "notify-deliver",
            "health-combine",
            "secondary",
            "notify-out",
            "dnssec-maintenance",
            "log-retention",
            "contract-end",
            "availability-prober",
            "metering",
            "usage-writer",
            "restrictions",
            "transfer-log",
            "transfer-policy",
            "store-health",
        ],
    );
    // The API still answers after its HTTP service restarted.
    assert_eq!(http(api.http, "GET", "/dpf/v1/openapi.json", None, None).0, 200);

    let dns = Platdns::start_in(dir.path(), &[], &["--role", "dns", "--fault-panic-once", "*"]);
    every_service_restarted_once(
        &dns,
        &[
            "http",
            "follow",
            "contract-end",
            "metering",
            "usage-writer",
            "restrictions",
            "transfer-log",
            "transfer-policy",
            "store-health",
        ],
    );
}

#[test]
fn sigterm_stops_the_services_and_the_process() {
    let mut p = Platdns::start(&[], &["--shutdown-grace", "5"]);
    let started = Instant::now();
    p.signal("TERM");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        assert!(Instant::now() < deadline, "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(p.stderr.lock().unwrap().contains("stopping"));
}
