//! Contract usage end to end (issue 6): queries counted per contract and
//! service, a flood restricted at the contract QPS while another tenant's
//! queries all get their answers, restriction events over HTTP, the usage
//! series and `/metrics`; with `dnsperf` as the load.

mod common;
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;

/// A tenant with zone `zone` holding `www A 192.0.2.1`, committed; returns
/// (zone id, contract id, token).
fn tenant_with_www(api: SocketAddr, op: &str, account: &str, zone: &str) -> (String, String, String) {
    let t = basic_tenant(api, op, account, zone);
    let www = json!({"name": format!("www.{zone}."), "ttl": 60, "rrtype": "A", "rdata": [{"value": "192.0.2.1"}], "labels": {}, "description": ""});
    commit(api, &t.token, &t.zone_id, json!([www]));
    (t.zone_id, t.contract, t.token)
}

/// What dnsperf reported.
#[derive(Debug, Default)]
struct Perf {
    sent: u64,
    completed: u64,
    lost: u64,
    noerror: u64,
    refused: u64,
}

/// `dnsperf` at `qps` for `secs` seconds on one name.
fn dnsperf(dns: SocketAddr, name: &str, qps: u32, secs: u32) -> Perf {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("queries");
    std::fs::write(&input, format!("{name} A\n")).unwrap();
    let out = Command::new("dnsperf")
        .args(["-s", &dns.ip().to_string(), "-p", &dns.port().to_string()])
        .args([
            "-d",
            input.to_str().unwrap(),
            "-Q",
            &qps.to_string(),
            "-l",
            &secs.to_string(),
        ])
        .args(["-c", "4", "-t", "2"])
        .output()
        .expect("dnsperf (apt-get install dnsperf)");
    let text = String::from_utf8_lossy(&out.stdout);
    let number = |label: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let rcode = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("Response codes:"))
            .and_then(|codes| {
                codes.split(',').find_map(|c| {
                    let mut w = c.split_whitespace();
                    (w.next() == Some(name)).then(|| w.next()?.parse().ok()).flatten()
                })
            })
            .unwrap_or(0)
    };
    Perf {
        sent: number("Queries sent:"),
        completed: number("Queries completed:"),
        lost: number("Queries lost:"),
        noerror: rcode("NOERROR"),
        refused: rcode("REFUSED"),
    }
}

fn total(series: &Value, field: &str) -> i64 {
    series["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[field].as_i64().unwrap())
        .sum()
}

#[test]
fn a_flood_is_restricted_at_the_contract_qps_and_the_other_tenant_loses_nothing() {
    if !require("kdig") || !require("dnsperf") {
        return;
    }
    // Basic contracts: 100 QPS. A 2 s window and REFUSED for the excess,
    // so the test is short and dnsperf sees what was restricted.
    // (Changes frozen while restricted, too.)
    let server = Platdns::start(
        &[],
        &["--restrict-basic", "window=2,period=30,action=refuse,freeze=true"],
    );
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (_, a, tok_a) = tenant_with_www(api, op.trim(), "flood", "a.example");
    let (zone_b, b, tok_b) = tenant_with_www(api, op.trim(), "quiet", "b.example");
    assert_eq!(kdig(server.dns, &["www.b.example", "A"]).answer.len(), 1);
    // B at half its contract QPS while A asks 10× its own.
    let dns = server.dns;
    let quiet = std::thread::spawn(move || dnsperf(dns, "www.b.example", 50, 12));
    std::thread::sleep(std::time::Duration::from_secs(1));
    let flood = dnsperf(dns, "www.a.example", 1000, 10);
    let quiet = quiet.join().unwrap();
    eprintln!("flood {flood:?}\nquiet {quiet:?}");
    // B: every query answered, none restricted.
    assert!(quiet.sent >= 500, "{quiet:?}");
    assert_eq!(quiet.lost, 0, "{quiet:?}");
    assert_eq!(quiet.completed, quiet.sent, "{quiet:?}");
    assert_eq!(quiet.noerror, quiet.completed, "{quiet:?}");
    // A: restricted; what got through is about its contract QPS.
    assert!(flood.refused > flood.sent / 2, "most of 10× refused: {flood:?}");
    assert!(flood.noerror >= 100, "{flood:?}");
    // The restriction is an event over HTTP, with its cause.
    let (st, r) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{a}/restrictions"),
        Some(&tok_a),
        None,
    );
    assert_eq!(st, 200, "{r}");
    let event = &r["results"][0];
    assert_eq!(event["contract_qps"], 100, "{r}");
    assert_eq!(event["action"], "refuse");
    assert_eq!(event["freeze_changes"], true);
    let measured: f64 = event["measured_qps"].as_str().unwrap().parse().unwrap();
    assert!(measured > 100.0, "{r}");
    // Frozen: A's changes get DPF's 429 while restricted; B's go through.
    let record = r#"{"name":"new","rrtype":"A","rdata":[{"value":"192.0.2.2"}],"ttl":60}"#;
    let zones_a = http(api, "GET", "/dpf/v1/zones", Some(&tok_a), None).1;
    let zone_a = zones_a["results"][0]["id"].as_str().unwrap().to_string();
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zone_a}/records"),
        Some(&tok_a),
        Some(record),
    );
    assert_eq!(st, 429, "{e}");
    assert_eq!(
        e["error_details"][0],
        json!({"code": "restricted", "attribute": "contract"})
    );
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zone_b}/records"),
        Some(&tok_b),
        Some(record),
    );
    assert_eq!(st, 202, "{e}");
    let (_, none) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{b}/restrictions"),
        Some(&tok_b),
        None,
    );
    assert_eq!(none["results"], json!([]), "B is never restricted");
    // R1.2: A's token does not reach B's usage.
    let (st, _) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{b}/qps/series"),
        Some(&tok_a),
        None,
    );
    assert_eq!(st, 404);
    // The per-second series: B's queries all counted, A's restricted ones
    // counted apart (never lost from the books). The last second may still
    // be on its way.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let (_, sb) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{b}/qps/series"),
        Some(&tok_b),
        None,
    );
    assert_eq!(
        total(&sb, "queries") as u64,
        quiet.completed + 1,
        "dnsperf's and kdig's: {sb}"
    );
    assert_eq!(total(&sb, "restricted"), 0);
    let (_, sa) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{a}/qps/series"),
        Some(&tok_a),
        None,
    );
    assert_eq!(total(&sa, "queries") as u64, flood.noerror, "{sa}");
    assert_eq!(total(&sa, "restricted") as u64, flood.refused, "{sa}");
    // One service's series is its zone's.
    let (st, sz) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{b}/qps/series?service=zone:{zone_b}"),
        Some(&tok_b),
        None,
    );
    assert_eq!(st, 200, "{sz}");
    assert_eq!(total(&sz, "queries"), total(&sb, "queries"));
    // DPF qps/histories: 12 months, this one last, by the default method
    // (the highest per-minute average, rounded down): by hand from the
    // per-second series, for the contract and for its zone.
    let (st, h) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{a}/qps/histories"),
        Some(&tok_a),
        None,
    );
    assert_eq!(st, 200, "{h}");
    let mut per_minute: std::collections::BTreeMap<String, i64> = Default::default();
    for p in sa["results"].as_array().unwrap() {
        let minute = p["time"].as_str().unwrap()[..16].to_string();
        *per_minute.entry(minute).or_default() += p["queries"].as_i64().unwrap();
    }
    let by_hand = per_minute.values().max().unwrap() / 60;
    let rows = h["results"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "the contract and its one zone: {h}");
    assert_eq!(rows[0]["name"], Value::Null);
    assert_eq!(rows[1]["name"], "a.example.");
    for row in rows {
        let values = row["values"].as_array().unwrap();
        assert_eq!(values.len(), 12);
        assert_eq!(values[11]["qps"], by_hand, "{row}");
        assert!(values[..11].iter().all(|v| v["qps"] == 0));
        assert!(values[10]["month"].as_str().unwrap() < values[11]["month"].as_str().unwrap());
    }
    // The contract's log has it.
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/contracts/{a}/logs"), Some(&tok_a), None);
    assert!(
        logs["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["operation"] == "qps_restriction_started"),
        "{logs}"
    );
    // /metrics counts per contract and service.
    let (_, metrics) = http(api, "GET", "/metrics", None, None);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(metrics.contains("platdns_contract_queries_total{"), "{metrics}");
    assert!(metrics.contains("platdns_contract_restricted_total{"), "{metrics}");
}

#[test]
fn two_dns_nodes_on_one_store_follow_commits_and_the_contract_figure_is_their_sum() {
    if !require("kdig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let api_node = Platdns::start_in(dir.path(), &[], &[]);
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let api = api_node.http;
    let (zone, contract, tok) = tenant_with_www(api, op.trim(), "acme", "example.com");
    let dns1 = Platdns::start_in(dir.path(), &[], &["--role", "dns"]);
    let dns2 = Platdns::start_in(dir.path(), &[], &["--role", "dns"]);
    // A DNS node has no API, only /healthz and /metrics.
    assert_eq!(http(dns1.http, "GET", "/healthz", None, None).0, 200);
    assert_eq!(http(dns1.http, "GET", "/dpf/v1/contracts", Some(&tok), None).0, 404);
    let www = "www.example.com. 60 IN A 192.0.2.1";
    for (node, n) in [(&dns1, 7), (&dns2, 5)] {
        for _ in 0..n {
            assert_eq!(kdig(node.dns, &["www.example.com", "A"]).answer, [www]);
        }
    }
    // Each node writes its own seconds; the contract's series sums them.
    let t0 = std::time::Instant::now();
    let total = loop {
        let (_, series) = http(
            api,
            "GET",
            &format!("/dpf/v1/contracts/{contract}/qps/series"),
            Some(&tok),
            None,
        );
        let n: i64 = series["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["queries"].as_i64().unwrap())
            .sum();
        if n >= 12 || t0.elapsed().as_secs() > 5 {
            break n;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(total, 12, "7 on one node + 5 on the other");
    // A commit through the API reaches both followers.
    let www = json!({"name": "www.example.com.", "ttl": 60, "rrtype": "A", "rdata": [{"value": "192.0.2.9"}], "labels": {}, "description": ""});
    commit(api, &tok, &zone, json!([www]));
    for node in [&dns1, &dns2] {
        let t0 = std::time::Instant::now();
        while kdig(node.dns, &["www.example.com", "A"]).answer != ["www.example.com. 60 IN A 192.0.2.9"] {
            assert!(t0.elapsed().as_secs() < 5, "the follower did not follow the commit");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

/// A fresh database on the test PostgreSQL server (`PLATDNS_TEST_POSTGRES`,
/// which `.ci/run` sets), made with `psql`; `None` when there is none.
fn fresh_postgres(name: &str) -> Option<String> {
    let admin = std::env::var("PLATDNS_TEST_POSTGRES").ok().filter(|s| !s.is_empty())?;
    let name = format!("{name}_{}", std::process::id());
    let made = Command::new("psql")
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .arg(&admin)
        .args(["-q", "-v", "ON_ERROR_STOP=1"])
        .args([
            "-c",
            &format!("DROP DATABASE IF EXISTS {name}"),
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .status()
        .expect("psql");
    assert!(made.success(), "creating database {name}");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_string();
    Some(format!("{base}/{name}"))
}

#[test]
fn a_follower_on_postgresql_is_woken_by_each_commit_and_gets_what_changed_while_it_was_down() {
    if !require("kdig") || !require("psql") {
        return;
    }
    let Some(url) = fresh_postgres("platdns_follow") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs this on PostgreSQL: set PLATDNS_TEST_POSTGRES"
        );
        return;
    };
    let (api_dir, dns_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let on_pg = ["--database", url.as_str()];
    let api_node = Platdns::start_in(api_dir.path(), &[], &on_pg);
    let op = std::fs::read_to_string(api_dir.path().join("operator.token")).unwrap();
    let api = api_node.http;
    let (zone, _, tok) = tenant_with_www(api, op.trim(), "acme", "example.com");
    let follower = |dir: &std::path::Path| Platdns::start_in(dir, &[], &["--role", "dns", "--database", url.as_str()]);
    let dns = follower(dns_dir.path());
    assert_eq!(
        kdig(dns.dns, &["www.example.com", "A"]).answer,
        ["www.example.com. 60 IN A 192.0.2.1"]
    );
    let answer_becomes = |node: &Platdns, want: &str, within: u64| {
        let t0 = std::time::Instant::now();
        while kdig(node.dns, &["www.example.com", "A"]).answer != [want] {
            assert!(t0.elapsed().as_secs() < within, "the follower did not get {want}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    // Woken by NOTIFY: without it, the follower reads the feed only every
    // 30 s.
    let set = |value: &str| {
        let www = json!({"name": "www.example.com.", "ttl": 60, "rrtype": "A", "rdata": [{"value": value}], "labels": {}, "description": ""});
        commit(api, &tok, &zone, json!([www]));
    };
    set("192.0.2.9");
    answer_becomes(&dns, "www.example.com. 60 IN A 192.0.2.9", 10);
    // Stopped, a commit meanwhile, started again: it serves the new data.
    drop(dns);
    set("192.0.2.10");
    let dns = follower(dns_dir.path());
    answer_becomes(&dns, "www.example.com. 60 IN A 192.0.2.10", 10);
    set("192.0.2.11");
    answer_becomes(&dns, "www.example.com. 60 IN A 192.0.2.11", 10);
}

/// Runs SQL as the test PostgreSQL server's administrator.
fn psql_admin(sql: &str) {
    let admin = std::env::var("PLATDNS_TEST_POSTGRES").unwrap();
    let done = Command::new("psql")
        .env("PGOPTIONS", "-c client_min_messages=warning")
        .arg(&admin)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        done.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// An API process on a fresh PostgreSQL database with a tenant whose zone
/// holds `www A 192.0.2.1`; `None` without a test server (where CI must
/// have one).
struct OnPostgres {
    url: String,
    db: String,
    api: Platdns,
    _api_dir: tempfile::TempDir,
    zone: String,
    contract: String,
    tok: String,
}

fn on_postgres(name: &str) -> Option<OnPostgres> {
    let Some(url) = fresh_postgres(name) else {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs this on PostgreSQL: set PLATDNS_TEST_POSTGRES"
        );
        return None;
    };
    let db = url.rsplit('/').next().unwrap().to_string();
    let api_dir = tempfile::tempdir().unwrap();
    let api = Platdns::start_in(api_dir.path(), &[], &["--database", url.as_str()]);
    let op = std::fs::read_to_string(api_dir.path().join("operator.token")).unwrap();
    let (zone, contract, tok) = tenant_with_www(api.http, op.trim(), "acme", "example.com");
    Some(OnPostgres {
        url,
        db,
        api,
        _api_dir: api_dir,
        zone,
        contract,
        tok,
    })
}

#[test]
fn queries_answered_while_the_store_is_down_are_counted_once_in_their_own_seconds() {
    if !require("kdig") || !require("psql") {
        return;
    }
    let Some(pg) = on_postgres("platdns_outage") else {
        return;
    };
    let OnPostgres {
        url,
        db,
        api: ref api_node,
        ref contract,
        ref tok,
        ..
    } = pg;
    let (api, dns_dir) = (api_node.http, tempfile::tempdir().unwrap());
    let dns = Platdns::start_in(dns_dir.path(), &[], &["--role", "dns", "--database", url.as_str()]);
    let www = "www.example.com. 60 IN A 192.0.2.1";
    assert_eq!(kdig(dns.dns, &["www.example.com", "A"]).answer, [www]);
    let series = || -> Vec<(i64, i64)> {
        let path = format!("/dpf/v1/contracts/{contract}/qps/series");
        let (_, v) = http(api, "GET", &path, Some(tok), None);
        v["results"]
            .as_array()
            .map(|points| {
                points
                    .iter()
                    .map(|p| {
                        let at: jiff::Timestamp = p["time"].as_str().unwrap().parse().unwrap();
                        (at.as_second(), p["queries"].as_i64().unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // The one query above, once it is in.
    let t0 = std::time::Instant::now();
    while series().iter().map(|p| p.1).sum::<i64>() < 1 {
        assert!(t0.elapsed().as_secs() < 10, "the first query was never counted");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The store goes away: no new connection, the open ones cut.
    psql_admin(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"));
    psql_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ));
    let from = jiff::Timestamp::now().as_second();
    for _ in 0..12 {
        // The node answers from memory all along.
        assert_eq!(kdig(dns.dns, &["www.example.com", "A"]).answer, [www]);
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let until = jiff::Timestamp::now().as_second();
    // Meanwhile the API says DPF's 503 at once, and /healthz why; the DNS
    // node, which serves without the store, stays healthy and says so too.
    let contracts = |expect: u16| {
        let t0 = std::time::Instant::now();
        loop {
            let (status, body) = http(api, "GET", "/dpf/v1/contracts", Some(tok), None);
            if status == expect {
                return (t0.elapsed(), body);
            }
            assert!(
                t0.elapsed().as_secs() < 10,
                "the API answered {status}, not {expect}: {body}"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    contracts(503);
    let (took, body) = contracts(503);
    assert!(took.as_millis() < 1000, "503 after {took:?}");
    assert_eq!(body["error_type"], "ServiceUnavailable");
    let (status, health) = http(api, "GET", "/healthz", None, None);
    assert_eq!((status, &health["store"]["up"]), (503, &json!(false)), "{health}");
    // The DNS node looks every 5 s.
    let t0 = std::time::Instant::now();
    let health = loop {
        let (status, health) = http(dns.http, "GET", "/healthz", None, None);
        assert_eq!(status, 200, "{health}");
        if health["store"]["up"] == json!(false) {
            break health;
        }
        assert!(t0.elapsed().as_secs() < 15, "{health}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert!(health["store"]["error"].is_string(), "{health}");
    psql_admin(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"));
    contracts(200);
    // Back: the 12 arrive, each in a second of the outage, and only once.
    let t0 = std::time::Instant::now();
    let during = |points: &[(i64, i64)]| -> i64 {
        points
            .iter()
            .filter(|p| (from..=until).contains(&p.0))
            .map(|p| p.1)
            .sum()
    };
    while during(&series()) < 12 {
        assert!(
            t0.elapsed().as_secs() < 30,
            "the outage's queries did not arrive: {:?}",
            series()
        );
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let points = series();
    assert_eq!(during(&points), 12, "{points:?}");
    assert_eq!(
        points.iter().map(|p| p.1).sum::<i64>(),
        13,
        "nothing else, nothing twice: {points:?}"
    );
}

#[test]
fn a_dns_node_restarted_while_the_store_is_down_serves_its_snapshot_then_catches_up() {
    if !require("kdig") || !require("psql") {
        return;
    }
    let Some(pg) = on_postgres("platdns_snapshot") else {
        return;
    };
    let OnPostgres {
        url,
        db,
        api: ref api_node,
        ref zone,
        ref tok,
        ..
    } = pg;
    let (api, dns_dir) = (api_node.http, tempfile::tempdir().unwrap());
    let set = |value: &str| {
        let www = json!({"name": "www.example.com.", "ttl": 60, "rrtype": "A", "rdata": [{"value": value}], "labels": {}, "description": ""});
        commit(api, tok, zone, json!([www]));
    };
    let answer_becomes = |dns: SocketAddr, value: &str, within: std::time::Duration| {
        let t0 = std::time::Instant::now();
        let want = format!("www.example.com. 60 IN A {value}");
        while kdig(dns, &["www.example.com", "A", "+timeout=1", "+retry=0"]).answer != [want.as_str()] {
            assert!(t0.elapsed() < within, "{dns} did not answer {value} within {within:?}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        t0.elapsed()
    };
    let node = Platdns::start_in(dns_dir.path(), &[], &["--role", "dns", "--database", url.as_str()]);
    set("192.0.2.9");
    answer_becomes(node.dns, "192.0.2.9", std::time::Duration::from_secs(10));
    // The snapshot service has written the zone as served.
    let snapshot = dns_dir.path().join("snapshot");
    let written = || {
        std::fs::read_dir(&snapshot)
            .map(|d| {
                d.flatten().any(|f| {
                    std::fs::read_to_string(f.path())
                        .unwrap_or_default()
                        .contains("192.0.2.9")
                })
            })
            .unwrap_or(false)
    };
    let t0 = std::time::Instant::now();
    while !written() {
        assert!(t0.elapsed().as_secs() < 10, "no snapshot in {}", snapshot.display());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(node);
    // The store goes away; the node starts again on a port it is told.
    psql_admin(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS false"));
    psql_admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ));
    let port = free_port();
    let dns: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut restarted = Command::new(env!("CARGO_BIN_EXE_platdns"))
        .args([
            "serve",
            "--role",
            "dns",
            "--database",
            url.as_str(),
            "--dns-listen",
            &dns.to_string(),
        ])
        .args(["--api-listen", "127.0.0.1:0", "--udp-workers", "2", "--data-dir"])
        .arg(dns_dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let took = answer_becomes(dns, "192.0.2.9", std::time::Duration::from_secs(5));
    eprintln!("answered from the snapshot {took:?} after the start");
    // The store back, a commit reaches the node.
    psql_admin(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"));
    let t0 = std::time::Instant::now();
    while http(api, "GET", "/dpf/v1/contracts", Some(tok), None).0 != 200 {
        assert!(t0.elapsed().as_secs() < 10, "the API did not come back");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    set("192.0.2.10");
    answer_becomes(dns, "192.0.2.10", std::time::Duration::from_secs(15));
    let _ = restarted.kill();
    let _ = restarted.wait();
}

#[test]
fn the_operator_sees_usage_and_restrictions_and_overrides_a_contracts_policy_from_the_cli() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let (zone, contract, _) = tenant_with_www(server.http, op.trim(), "acme", "example.com");
    let api = format!("http://{}", server.http);
    let token_file = server.data_dir.join("operator.token");
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_platdns"))
            .args(["operator", "--api", &api, "--token-file", token_file.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(if out.status.success() { &out.stdout } else { &out.stderr }).to_string();
        (
            out.status.success(),
            serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
        )
    };
    // The plan's policy, then the operator's own for this contract, then
    // "never", then the plan's again.
    let (ok, p) = cli(&["usage", "policy", &contract]);
    assert!(ok, "{p}");
    assert_eq!(
        (p["source"].as_str(), p["policy"]["window_secs"].as_u64()),
        (Some("plan"), Some(60))
    );
    let mine =
        r#"{"window_secs":5,"threshold_percent":150,"period_secs":120,"action":"truncate","freeze_changes":true}"#;
    let (ok, p) = cli(&["usage", "policy", &contract, "--set", mine]);
    assert!(ok, "{p}");
    assert_eq!(p["source"], "contract");
    assert_eq!(p["policy"]["action"], "truncate");
    let (ok, p) = cli(&[
        "usage",
        "policy",
        &contract,
        "--set",
        r#"{"window_secs":5,"threshold_percent":150,"period_secs":120,"action":"bounce","freeze_changes":true}"#,
    ]);
    assert!(!ok, "a bad action is refused: {p}");
    let (ok, p) = cli(&["usage", "policy", &contract, "--set", "off"]);
    assert!(ok, "{p}");
    assert_eq!((p["source"].as_str(), &p["policy"]), (Some("contract"), &Value::Null));
    let (ok, p) = cli(&["usage", "policy", &contract, "--plan"]);
    assert!(ok, "{p}");
    assert_eq!(p["source"], "plan");
    // Usage, whole and by service.
    for _ in 0..3 {
        kdig(server.dns, &["www.example.com", "A"]);
    }
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let (ok, s) = cli(&["usage", "series", &contract]);
    assert!(ok, "{s}");
    let sum = |s: &Value| -> i64 {
        s.as_array()
            .unwrap()
            .iter()
            .map(|p| p["queries"].as_i64().unwrap())
            .sum()
    };
    assert_eq!(sum(&s), 3, "{s}");
    let service = format!("zone:{zone}");
    let (ok, s) = cli(&["usage", "series", &contract, "--service", &service]);
    assert!(ok, "{s}");
    assert_eq!(sum(&s), 3);
    let (ok, r) = cli(&["usage", "restrictions"]);
    assert!(ok, "{r}");
    assert_eq!(r, json!([]));
}
