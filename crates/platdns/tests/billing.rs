//! Issue 7 end to end: a monitor (`serve --prober`, probing every second)
//! watches a separate DNS node; the test stops that node for a measured time,
//! and the month's availability and the credit of a Premium contract's
//! claim come out as computed here by hand. Then the month is closed (its
//! invoice frozen), the credit lands on the next month's invoice, and the
//! tenant reads its own invoice (another tenant gets 404).
//!
//! The monitor's API clock is shifted (`--clock-offset-seconds`) to the 10th
//! of the next month, so the breach month is over for the API while the
//! prober measures in real time.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn call(api: SocketAddr, method: &str, path: &str, token: &str, body: Option<Value>) -> (u16, String) {
    let req = ureq::request(method, &format!("http://{api}{path}")).set("Authorization", &format!("Bearer {token}"));
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    match resp {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("{method} {path}: {e}"),
    }
}

/// `result` of a 2xx answer, or a panic with the body.
fn ok(api: SocketAddr, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let (status, text) = call(api, method, path, token, body);
    assert!((200..300).contains(&status), "{method} {path}: {status} {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    v.get("result").or_else(|| v.get("results")).cloned().unwrap_or(v)
}

/// A DNS node on a fixed address: `platdns serve` with one zone file.
fn start_node(dns: SocketAddr, dir: &std::path::Path) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_platdns"))
        .args([
            "serve",
            "--dns-listen",
            &dns.to_string(),
            "--api-listen",
            "127.0.0.1:0",
            "--no-monitor",
        ])
        .arg("--data-dir")
        .arg(dir)
        .arg("--zone-file")
        .arg(test_zones().join("example.com.zone"))
        .args(["--udp-workers", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("platdns serving DNS on"), "{line:?}");
    child
}

/// Does `dns` answer the SOA of example.com over UDP now?
fn answers(dns: SocketAddr) -> bool {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let q = platdns_availability::soa_query(4242, "example.com");
    if s.send_to(&q, dns).is_err() {
        return false;
    }
    let mut buf = [0u8; 2048];
    matches!(s.recv_from(&mut buf), Ok((n, _)) if platdns_availability::check_reply(&buf[..n], 4242, true).is_ok())
}

fn secs(t: jiff::Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

#[test]
fn a_stopped_dns_node_costs_the_availability_and_the_credit_computed_by_hand() {
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(9));
    let now = jiff::Timestamp::now();
    let today = tz.to_datetime(now).date();
    let month_start = today.first_of_month();
    let next_month = month_start.checked_add(jiff::Span::new().months(1)).unwrap();
    let month = format!("{:04}-{:02}", month_start.year(), month_start.month());
    let next = format!("{:04}-{:02}", next_month.year(), next_month.month());
    let month_end = tz
        .to_timestamp(next_month.to_datetime(jiff::civil::time(0, 0, 0, 0)))
        .unwrap();
    if (month_end - now).get_seconds() < 180 {
        eprintln!("skipped: the month ends within 3 minutes, so the probes would span two months");
        return;
    }
    // The API's "now": noon on the 10th of next month (the claim window is open).
    let api_now = tz
        .to_timestamp(
            next_month
                .with()
                .day(10)
                .build()
                .unwrap()
                .to_datetime(jiff::civil::time(12, 0, 0, 0)),
        )
        .unwrap();
    let offset = (api_now - now).get_seconds();

    let node_dir = tempfile::tempdir().unwrap();
    let dns: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut node = start_node(dns, node_dir.path());
    let monitor = Platdns::start(
        &[],
        &[
            "--no-monitor",
            "--prober",
            "--probe-server",
            &dns.to_string(),
            "--probe-point",
            "e2e",
            "--probe-zone",
            "example.com",
            "--clock-offset-seconds",
            &offset.to_string(),
        ],
    );
    let api = monitor.http;
    let op = std::fs::read_to_string(monitor.data_dir.join("operator.token")).unwrap();
    let op = op.trim();

    // Probe every second (the operator's setting).
    let mut settings = ok(api, "GET", "/operator/v1/billing/settings", op, None);
    settings["probe_interval_seconds"] = json!(1);
    ok(api, "PUT", "/operator/v1/billing/settings", op, Some(settings));
    // A bad setting is refused whole, naming it.
    let (status, text) = call(
        api,
        "PUT",
        "/operator/v1/billing/settings",
        op,
        Some(json!({"probe_interval_seconds": 0})),
    );
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("probe_interval_seconds"), "{text}");

    // Prices: Premium 30,000 yen a month, 700 yen per 100 extra QPS.
    let prices = json!({
        "version": "v1", "effective_from": "2020-01-01", "zone_addition_fee": 1000,
        "traffic_management_initial_fee": 5000, "traffic_management_monthly_fee": 3000,
        "basic_monthly_fee": 2000, "additional_zone_monthly_fee": 500,
        "premium_monthly_fee": 30000, "extra_qps_fee": 700,
    });
    ok(api, "POST", "/operator/v1/prices", op, Some(prices.clone()));
    let (status, text) = call(api, "POST", "/operator/v1/prices", op, Some(prices));
    assert_eq!(status, 400, "the same version again: {text}");
    // A Premium contract with 100 extra QPS, billed from the 1st of this month.
    let account = ok(api, "POST", "/operator/v1/accounts", op, Some(json!({"name": "acme"})));
    let contract = ok(
        api,
        "POST",
        "/operator/v1/contracts",
        op,
        Some(json!({"account_id": account["id"], "plan": "premium", "extra_qps": 100})),
    );
    let cid = contract["id"].as_str().unwrap().to_string();
    let zone = ok(
        api,
        "POST",
        "/operator/v1/zones",
        op,
        Some(json!({"contract_id": cid, "name": "example.com", "approve": "e2e"})),
    );
    let zid = zone["id"].as_str().unwrap().to_string();
    ok(
        api,
        "PUT",
        &format!("/operator/v1/contracts/{cid}/billing_start"),
        op,
        Some(json!({"billing_start": month_start.to_string()})),
    );

    // Up for a while, down for a measured time, up again.
    std::thread::sleep(Duration::from_secs(10));
    let killed_at = jiff::Timestamp::now();
    node.kill().unwrap();
    node.wait().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut node = start_node(dns, node_dir.path());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(dns) {
        assert!(Instant::now() < deadline, "the node did not come back");
        std::thread::sleep(Duration::from_millis(10));
    }
    let back_at = jiff::Timestamp::now();
    std::thread::sleep(Duration::from_secs(30));
    let measured = secs(back_at) - secs(killed_at);

    let a = ok(
        api,
        "GET",
        &format!("/operator/v1/contracts/{cid}/availability/{month}"),
        op,
        None,
    );
    let counted = a["counted_seconds"].as_u64().unwrap();
    let unavailable = a["unavailable_seconds"].as_u64().unwrap();
    // By hand: every 1-second slot whose probe fell in the outage is down.
    // The prober asks ~20 ms into each slot, so the outage of `measured`
    // seconds covers floor(measured) or ceil(measured) probes, one more
    // when a probe met the node still starting.
    let (lo, hi) = (measured.floor() as u64, measured.ceil() as u64 + 1);
    assert!(
        (lo..=hi).contains(&unavailable),
        "outage {measured:.3} s, {unavailable} unavailable seconds: {a}"
    );
    // Counted: the slots probed, about the 40 s the prober ran after the
    // setting (the first slot of 60 s may have been probed before it).
    assert!((38..=110).contains(&counted), "{a}");
    assert_eq!(
        a["unknown_seconds"].as_u64().unwrap() + counted,
        a["month_seconds"].as_u64().unwrap()
    );
    // Availability by hand, in ppm (rounded down) and percent.
    let ppm = (counted - unavailable) * 1_000_000 / counted;
    assert_eq!(a["ppm"].as_u64().unwrap(), ppm, "{a}");
    assert_eq!(
        a["percent"].as_str().unwrap(),
        format!("{}.{:04}%", ppm / 10_000, ppm % 10_000)
    );
    // App. 3's band, decided exactly.
    let avail = |num: u64, den: u64| (counted - unavailable) * den >= counted * num;
    let (rate_num, rate_den, rate) = if avail(995, 1000) {
        (1, 10, "1/10")
    } else if avail(95, 100) {
        (1, 4, "1/4")
    } else {
        (1, 1, "1/1")
    };
    assert_eq!(a["credit_rate"], rate, "{a}");

    // An exclusion over the outage (maintenance, with its author) removes it.
    let x = ok(
        api,
        "POST",
        "/operator/v1/exclusions",
        op,
        Some(json!({
            "from": jiff::Timestamp::from_second(killed_at.as_second() - 2).unwrap().to_string(),
            "until": jiff::Timestamp::from_second(back_at.as_second() + 3).unwrap().to_string(),
            "reason": "maintenance",
            "note": "e2e",
        })),
    );
    assert!(x["author"].as_str().unwrap().starts_with("operator#"), "{x}");
    let excluded = ok(api, "GET", &format!("/operator/v1/availability/{month}"), op, None);
    assert_eq!(excluded["unavailable_seconds"], 0, "{excluded}");
    assert_eq!(excluded["credit_rate"], Value::Null);
    ok(api, "DELETE", &format!("/operator/v1/exclusions/{}", x["id"]), op, None);

    // The month's invoice: a full month of Premium and of one extra-QPS unit.
    let fee: u64 = 30000 + 700;
    let invoices = ok(api, "POST", &format!("/operator/v1/invoices/{month}/close"), op, None);
    let inv = invoices
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["contract_id"] == cid.as_str())
        .unwrap();
    assert_eq!(
        (inv["total"].as_u64(), inv["closed"].as_bool()),
        (Some(fee), Some(true)),
        "{inv}"
    );
    let (status, text) = call(api, "POST", &format!("/operator/v1/invoices/{month}/compute"), op, None);
    assert_eq!(status, 409, "a closed month is frozen: {text}");

    // A claim on time, and one a second after the deadline (the 15th, JST).
    let on_time = ok(
        api,
        "POST",
        "/operator/v1/claims",
        op,
        Some(json!({"contract_id": cid, "service": zid, "breach_month": month,
            "received_at": format!("{next}-15T23:59:59+09:00")})),
    );
    let late = ok(
        api,
        "POST",
        "/operator/v1/claims",
        op,
        Some(json!({"contract_id": cid, "service": zid, "breach_month": month,
            "received_at": format!("{next}-16T00:00:00+09:00")})),
    );
    let decided = ok(
        api,
        "POST",
        &format!("/operator/v1/claims/{}/decision", on_time["id"].as_str().unwrap()),
        op,
        None,
    );
    // By hand: the fee times the band's rate, rounded down.
    let credit = fee * rate_num / rate_den;
    assert_eq!(decided["decision"]["outcome"], "accepted", "{decided}");
    assert_eq!(
        decided["decision"]["credit"]["amount"].as_u64(),
        Some(credit),
        "{decided}"
    );
    assert_eq!(decided["decision"]["credit"]["base"].as_u64(), Some(fee), "{decided}");
    assert_eq!(decided["credited_month"], next.as_str());
    let late = ok(
        api,
        "GET",
        &format!("/operator/v1/claims/{}", late["id"].as_str().unwrap()),
        op,
        None,
    );
    assert_eq!(late["decision"]["outcome"], "refused", "{late}");
    assert_eq!(late["decision"]["refusal"]["reason"], "late", "{late}");

    // The credit is deducted on the next month's invoice.
    ok(api, "POST", &format!("/operator/v1/invoices/{next}/compute"), op, None);
    let following = ok(
        api,
        "GET",
        &format!("/operator/v1/contracts/{cid}/invoices/{next}"),
        op,
        None,
    );
    let credit_line = following["invoice"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["kind"] == "service_credit")
        .unwrap_or_else(|| panic!("no credit line: {following}"));
    assert_eq!(credit_line["amount"].as_i64(), Some(-(credit as i64)));

    // The tenant reads its own invoice, as JSON and CSV; another gets 404.
    let token = ok(
        api,
        "POST",
        "/operator/v1/tokens",
        op,
        Some(json!({"account_id": account["id"], "scopes": ["read"]})),
    );
    let tenant = token["token"].as_str().unwrap();
    let mine = ok(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{cid}/invoices/{month}"),
        tenant,
        None,
    );
    assert_eq!(mine["total"].as_u64(), Some(fee));
    let (status, csv) = call(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{cid}/invoices/{month}/csv"),
        tenant,
        None,
    );
    assert_eq!(status, 200);
    let last = csv.lines().last().unwrap();
    assert!(
        last.starts_with(&format!("{cid},{month},total,")) && last.contains(&format!(",{fee},")),
        "{csv}"
    );
    let other = ok(api, "POST", "/operator/v1/accounts", op, Some(json!({"name": "other"})));
    let token = ok(
        api,
        "POST",
        "/operator/v1/tokens",
        op,
        Some(json!({"account_id": other["id"], "scopes": ["read"]})),
    );
    let (status, text) = call(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{cid}/invoices/{month}"),
        token["token"].as_str().unwrap(),
        None,
    );
    assert_eq!(status, 404, "R1.2: {text}");
    eprintln!(
        "outage {measured:.3} s; availability {} ({counted} s counted, {unavailable} s unavailable); \
         credit rate {rate}; credit {credit} yen of {fee}",
        a["percent"].as_str().unwrap()
    );
    let _ = node.kill();
    let _ = node.wait();
}

/// `platdns operator ...` against `server`; (success, stdout, stderr).
fn cli(server: &Platdns, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_platdns"))
        .args(["operator", "--api", &format!("http://{}", server.http), "--token-file"])
        .arg(server.data_dir.join("operator.token"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn r9_1_migrated_contracts_are_billed_from_the_month_given_and_a_closed_month_ignores_later_prices() {
    // The API lives on 2030-02-10 (JST).
    let target: jiff::Timestamp = "2030-02-10T12:00:00+09:00".parse().unwrap();
    let offset = (target - jiff::Timestamp::now()).get_seconds();
    let server = Platdns::start(&[], &["--no-monitor", "--clock-offset-seconds", &offset.to_string()]);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, v: Value| {
        let p = dir.path().join(name);
        std::fs::write(&p, v.to_string()).unwrap();
        p.display().to_string()
    };
    let prices = |version: &str, from: &str, basic: i64| {
        json!({"version": version, "effective_from": from, "zone_addition_fee": 1000,
            "traffic_management_initial_fee": 5000, "traffic_management_monthly_fee": 3000,
            "basic_monthly_fee": basic, "additional_zone_monthly_fee": 500,
            "premium_monthly_fee": 30000, "extra_qps_fee": 700})
    };
    let v1 = write("v1.json", prices("v1", "2029-01-01", 2000));
    assert!(cli(&server, &["prices", "add", &v1]).0);
    let bad = write("bad.json", json!({"version": "x", "effective_from": "2029-02-01"}));
    let (ok_, _, err) = cli(&server, &["prices", "add", &bad]);
    assert!(!ok_ && err.contains("zone_addition_fee"), "{err}");
    assert!(cli(&server, &["account", "create", "legacy"]).0);

    // Refused whole: an option of a contract not imported; nothing created.
    let orphan = write(
        "orphan.json",
        json!([{"type": "dns_outsourcing", "id": "OUT-1", "zones": ["a.example"]},
               {"type": "site_failover_option", "id": "SFO-9", "outsourcing": "OUT-2"}]),
    );
    let (ok_, _, err) = cli(
        &server,
        &["migrate", "--account", "1", "--from-month", "2029-12", &orphan],
    );
    assert!(!ok_ && err.contains("\"contracts\""), "{err}");
    let (_, zones, _) = cli(&server, &["zone", "list"]);
    assert_eq!(serde_json::from_str::<Value>(&zones).unwrap(), json!([]));

    let legacy = write(
        "legacy.json",
        json!([{"type": "dns_outsourcing", "id": "OUT-1", "zones": ["a.example", "b.example"]},
               {"type": "site_failover_option", "id": "SFO-1", "outsourcing": "OUT-1"}]),
    );
    let (ok_, out, err) = cli(
        &server,
        &["migrate", "--account", "1", "--from-month", "2029-12", &legacy],
    );
    assert!(ok_, "{err}");
    let imported: Value = serde_json::from_str(&out).unwrap();
    let cid = imported[0]["contract_id"].as_str().unwrap().to_string();
    assert_eq!(imported[0]["zones"].as_array().unwrap().len(), 2);
    assert_eq!(imported[0]["lb_domains"][0]["legacy_id"], "SFO-1");

    // December 2029: Basic 2000 + one additional zone 500 + traffic
    // management 3000, no initial fee (migrated, not applied for).
    assert!(cli(&server, &["invoice", "compute", "2029-12"]).0);
    assert!(cli(&server, &["invoice", "close", "2029-12"]).0);
    let (_, out, _) = cli(&server, &["invoice", "show", &cid, "2029-12"]);
    let dec: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (dec["total"].as_i64(), dec["closed"].as_bool()),
        (Some(5500), Some(true)),
        "{dec}"
    );
    let kinds: Vec<&str> = dec["invoice"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap())
        .collect();
    assert!(
        !kinds.iter().any(|k| k.contains("initial") || *k == "zone_addition"),
        "{kinds:?}"
    );

    // A price change effective mid-December: the closed month keeps its
    // figures, and cannot be recomputed; January bills the new price.
    let v2 = write("v2.json", prices("v2", "2029-12-15", 4000));
    assert!(cli(&server, &["prices", "add", &v2]).0);
    let (ok_, _, err) = cli(&server, &["invoice", "compute", "2029-12"]);
    assert!(!ok_ && err.contains("frozen"), "{err}");
    let (_, csv, _) = cli(&server, &["invoice", "show", &cid, "2029-12", "--csv"]);
    assert!(csv.lines().last().unwrap().contains(",5500,"), "{csv}");
    assert!(cli(&server, &["invoice", "compute", "2030-01"]).0);
    let (_, out, _) = cli(&server, &["invoice", "show", &cid, "2030-01"]);
    let jan: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(jan["total"].as_i64(), Some(4000 + 500 + 3000), "{jan}");
    // A month not over cannot be closed.
    let (ok_, _, err) = cli(&server, &["invoice", "close", "2030-02"]);
    assert!(!ok_ && err.contains("not over"), "{err}");
}
