//! Zone transfers out end to end (issue 8): `knotd` as a secondary follows a
//! platdns zone by AXFR, then by IXFR after commits, triggered by NOTIFY,
//! all with TSIG; `kdig` shows an unauthorised AXFR refused.

mod common;
use common::*;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// `knotd` as a secondary of `zone` from `primary`, with one TSIG key,
/// accepting NOTIFY from it, and giving its copy to loopback by AXFR.
/// Killed on drop.
struct Secondary {
    child: std::process::Child,
    dns: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Secondary {
    fn start(zone: &str, primary: SocketAddr, key_name: &str, secret: &str) -> Secondary {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        let conf = format!(
            "server:\n  listen: 127.0.0.1@{port}\n  rundir: {d}\n\
             database:\n  storage: {d}/db\n\
             key:\n  - id: {key_name}\n    algorithm: hmac-sha256\n    secret: {secret}\n\
             remote:\n  - id: primary\n    address: {ip}@{pport}\n    key: {key_name}\n\
             acl:\n  - id: from_primary\n    address: {ip}\n    key: {key_name}\n    action: notify\n\
             \x20 - id: local_transfer\n    address: 127.0.0.1\n    action: transfer\n\
             zone:\n  - domain: {zone}\n    master: primary\n    acl: [from_primary, local_transfer]\n    file: {d}/{zone}.zone\n    zonefile-sync: -1\n",
            ip = primary.ip(),
            pport = primary.port(),
        );
        let child = spawn_knotd(dir.path(), &conf);
        Secondary {
            child,
            dns: format!("127.0.0.1:{port}").parse().unwrap(),
            _dir: dir,
        }
    }
}

fn wait_for(limit: Duration, what: &str, mut ok: impl FnMut() -> bool) -> Duration {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    t0.elapsed()
}

fn a(name: &str, ip: &str) -> Value {
    json!({"name": name, "ttl": 60, "rrtype": "A", "rdata": [{"value": ip}], "labels": {}, "description": ""})
}

/// A TSIG key of the zone's contract and a transfer ACL for loopback signed
/// with it: (key id, key name, secret, common config id).
fn transfers_allowed(api: SocketAddr, tok: &str, zone: &str) -> (i64, String, String, i64) {
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(tok), None);
    let contract = c["result"]["id"].as_str().unwrap().to_string();
    // A TSIG key of the contract, and an ACL: loopback, signed with it.
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(tok),
        Some(r#"{"name":"xfr"}"#),
    );
    assert_eq!(st, 202, "{e}");
    let (_, keys) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(tok),
        None,
    );
    let key = &keys["results"][0];
    let (kid, key_name, secret) = (
        key["id"].as_i64().unwrap(),
        key["name"].as_str().unwrap().to_string(),
        key["secret"].as_str().unwrap().to_string(),
    );
    let (_, z) = http(api, "GET", &format!("/dpf/v1/zones/{zone}"), Some(tok), None);
    let cc = z["result"]["common_config_id"].as_i64().unwrap();
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/common_configs/{cc}/cc_sec_transfer_acls"),
        Some(tok),
        Some(&json!({"network": "127.0.0.1/32", "tsig_id": kid}).to_string()),
    );
    assert_eq!(st, 202, "{e}");
    (kid, key_name, secret, cc)
}

#[test]
fn knotd_follows_a_platdns_zone_by_axfr_then_ixfr_on_notify_with_tsig() {
    if !require("kdig") || !require("knotd") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    commit(api, &tok, &zone, json!([a("www.example.com.", "192.0.2.1")]));
    let (kid, key_name, secret, cc) = transfers_allowed(api, &tok, &zone);
    let tsig = format!("hmac-sha256:{key_name}:{secret}");
    let axfr = |with_key: bool| {
        let mut args = vec!["example.com", "AXFR"];
        if with_key {
            args.extend(["-y", &tsig]);
        }
        kdig(server.dns, &args)
    };
    // The policy reaches the node within its refresh (2 s).
    // (kdig prints a transfer as bare records after ";; AXFR for".)
    let has = |r: &Reply, record: &str| {
        r.raw
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == record)
    };
    wait_for(Duration::from_secs(6), "signed AXFR", || {
        has(&axfr(true), "www.example.com. 60 IN A 192.0.2.1")
    });
    let signed = axfr(true);
    assert!(signed.raw.contains("TSIG"), "signed: {}", signed.raw);
    assert!(
        !signed.raw.contains(";; ERROR"),
        "kdig verified our signature: {}",
        signed.raw
    );
    // Unsigned: refused, and logged.
    let refused = Command::new("kdig")
        .args([&format!("@{}", server.dns.ip()), "-p", &server.dns.port().to_string()])
        .args(["example.com", "AXFR"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&refused.stdout).to_string() + &String::from_utf8_lossy(&refused.stderr);
    assert!(text.contains("REFUSED"), "{text}");
    assert!(!text.contains("192.0.2.1"), "{text}");
    // The node hands transfer events to the API's process, which logs them
    // after the answer has gone: wait for both entries.
    wait_for(Duration::from_secs(5), "transfer events logged", || {
        let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
        let ops: Vec<&str> = logs["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["operation"].as_str().unwrap())
            .collect();
        ops.contains(&"zone_transfer_refused") && ops.contains(&"zone_transfer")
    });
    // knotd, a secondary with the key, and NOTIFY to it.
    let knot = Secondary::start("example.com", server.dns, &key_name, &secret);
    notify_to(api, &tok, cc, kid, knot.dns);
    wait_for(Duration::from_secs(20), "knotd's first transfer", || {
        kdig(knot.dns, &["www.example.com", "A"]).answer == ["www.example.com. 60 IN A 192.0.2.1"]
    });
    // Commits: NOTIFY, then knotd asks for IXFR.
    let mut serials = Vec::new();
    for (i, ip) in ["192.0.2.2", "192.0.2.3"].iter().enumerate() {
        serials.push(soa_serial(server.dns).unwrap());
        commit(
            api,
            &tok,
            &zone,
            json!([
                a("www.example.com.", "192.0.2.1"),
                a(&format!("new{i}.example.com."), ip)
            ]),
        );
        let name = format!("new{i}.example.com");
        let took = wait_for(Duration::from_secs(10), "knotd following a commit", || {
            kdig(knot.dns, &[&name, "A"]).answer == [format!("{name}. 60 IN A {ip}")]
        });
        eprintln!("commit {i} reached knotd in {took:?}");
    }
    // Each commit (an `atomic_changes`: the zone becomes the set given, a
    // whole build) is sent as a difference, not the whole zone: from before
    // the last commit, new0 went and new1 came (RFC 1995 §4: new SOA, old
    // SOA, deleted, new SOA, added, new SOA); www stayed, so it is not sent.
    let ixfr = kdig(
        server.dns,
        &["example.com", &format!("IXFR={}", serials[1]), "-y", &tsig],
    );
    let records: Vec<String> = ixfr
        .raw
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_alphanumeric()) && !l.contains("TSIG"))
        .map(|l| match l.contains(" SOA ") || l.contains("\tSOA\t") {
            true => "SOA".to_string(),
            false => l.split_whitespace().collect::<Vec<_>>().join(" "),
        })
        .collect();
    assert_eq!(
        records,
        [
            "SOA",
            "SOA",
            "new0.example.com. 60 IN A 192.0.2.2",
            "SOA",
            "new1.example.com. 60 IN A 192.0.2.3",
            "SOA"
        ],
        "{}",
        ixfr.raw
    );
    // The zone's log: IXFR served to knotd, NOTIFY answered.
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
    let targets: Vec<String> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{} {} {}", l["operation"], l["status"], l["target"]))
        .collect();
    assert!(
        targets
            .iter()
            .any(|t| t.contains("IXFR to 127.0.0.1") && t.contains("served")),
        "{targets:#?}"
    );
    assert!(
        targets.iter().any(|t| t.contains("\"notify\" \"success\"")),
        "{targets:#?}"
    );
    // And the SOA serials agree.
    let serial = |s: SocketAddr| {
        kdig(s, &["example.com", "SOA"]).answer[0]
            .split_whitespace()
            .nth(6)
            .unwrap()
            .to_string()
    };
    assert_eq!(serial(knot.dns), serial(server.dns));
}

/// `knotd` as the primary of `zone` (from a file), sending NOTIFY to and
/// allowing transfers by `secondary`, with one TSIG key. Killed on drop.
struct Primary {
    child: std::process::Child,
    dns: SocketAddr,
    dir: tempfile::TempDir,
    conf: std::path::PathBuf,
}

impl Drop for Primary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Primary {
    fn start(zone: &str, text: &str, secondary: SocketAddr, key_name: &str, secret: &str) -> Primary {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(dir.path().join(format!("{zone}.zone")), text).unwrap();
        // The journal (IXFR from file differences) needs its directory.
        std::fs::create_dir_all(dir.path().join("db")).unwrap();
        let conf = format!(
            "server:\n  listen: 127.0.0.1@{port}\n  rundir: {d}\n\
             control:\n  listen: {d}/knot.sock\n\
             database:\n  storage: {d}/db\n\
             key:\n  - id: {key_name}\n    algorithm: hmac-sha256\n    secret: {secret}\n\
             remote:\n  - id: platdns\n    address: {ip}@{sport}\n    key: {key_name}\n\
             acl:\n  - id: to_platdns\n    address: {ip}\n    key: {key_name}\n    action: transfer\n\
             zone:\n  - domain: {zone}\n    file: {d}/{zone}.zone\n    notify: platdns\n    acl: to_platdns\n    zonefile-load: difference\n    zonefile-sync: -1\n",
            ip = secondary.ip(),
            sport = secondary.port(),
        );
        let conf_path = dir.path().join("knot.conf");
        let child = spawn_knotd(dir.path(), &conf);
        let dns: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        wait_for(Duration::from_secs(20), "knotd loading the zone", || {
            !kdig(dns, &[zone, "SOA"]).answer.is_empty()
        });
        Primary {
            child,
            dns,
            dir,
            conf: conf_path,
        }
    }

    /// A new zone file, and a reload (knotd computes the difference and
    /// sends NOTIFY).
    fn change(&self, zone: &str, text: &str) {
        std::fs::write(self.dir.path().join(format!("{zone}.zone")), text).unwrap();
        let knotc = ["/usr/sbin/knotc", "knotc"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap_or("knotc");
        let out = Command::new(knotc)
            .arg("-c")
            .arg(&self.conf)
            .args(["zone-reload", zone])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn primary_zone(serial: u32, extra: &str) -> String {
    format!(
        "$ORIGIN example.net.\n$TTL 300\n@ SOA ns.example.net. admin.example.net. {serial} 3600 5 604800 300\n\
         @ NS ns.example.net.\nns A 192.0.2.53\nwww A 192.0.2.10\n{extra}"
    )
}

#[test]
fn platdns_follows_a_knotd_primary_by_axfr_then_ixfr_on_notify_with_tsig() {
    if !require("kdig") || !require("knotd") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.net");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(&tok), None);
    let contract = c["result"]["id"].as_str().unwrap().to_string();
    http(
        api,
        "POST",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(&tok),
        Some(r#"{"name":"pull"}"#),
    );
    let (_, keys) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(&tok),
        None,
    );
    let key = &keys["results"][0];
    let (kid, key_name, secret) = (
        key["id"].as_i64().unwrap(),
        key["name"].as_str().unwrap().to_string(),
        key["secret"].as_str().unwrap().to_string(),
    );
    let knot = Primary::start("example.net", &primary_zone(1, ""), server.dns, &key_name, &secret);
    let (_, z) = http(api, "GET", &format!("/dpf/v1/zones/{zone}"), Some(&tok), None);
    let cc = z["result"]["common_config_id"].as_i64().unwrap();
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/common_configs/{cc}/cc_primaries"),
        Some(&tok),
        Some(&json!({"address": knot.dns.to_string(), "tsig_id": kid}).to_string()),
    );
    assert_eq!(st, 202, "{e}");
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/zone_proxy"),
        Some(&tok),
        Some(r#"{"enabled":1}"#),
    );
    assert_eq!(st, 202, "{e}");
    // First pull: AXFR.
    wait_for(Duration::from_secs(10), "the first pull", || {
        kdig(server.dns, &["www.example.net", "A"]).answer == ["www.example.net. 300 IN A 192.0.2.10"]
    });
    let (_, health) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/zone_proxy/health_check"),
        Some(&tok),
        None,
    );
    assert_eq!(health["results"][0]["status"], "OK", "{health}");
    assert_eq!(health["results"][0]["tsig_name"], key_name.as_str());
    let (_, proxy) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/zone_proxy"),
        Some(&tok),
        None,
    );
    assert_eq!(proxy["result"]["enabled"], 1);
    // A change at the primary: NOTIFY, then IXFR.
    knot.change("example.net", &primary_zone(2, "new A 192.0.2.11\n"));
    let took = wait_for(Duration::from_secs(10), "the change after NOTIFY", || {
        kdig(server.dns, &["new.example.net", "A"]).answer == ["new.example.net. 300 IN A 192.0.2.11"]
    });
    eprintln!("the primary's change was served in {took:?}");
    let soa = kdig(server.dns, &["example.net", "SOA"]);
    assert!(soa.answer[0].contains(" 2 3600 5 604800 300"), "{soa:?}");
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
    let targets: Vec<String> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| format!("{} {} {}", l["operation"], l["status"], l["target"]))
        .collect();
    assert!(
        targets
            .iter()
            .any(|t| t.contains("notify_received") && t.contains("received")),
        "{targets:#?}"
    );
    assert!(targets.iter().any(|t| t.contains("AXFR from")), "{targets:#?}");
    assert!(targets.iter().any(|t| t.contains("\"IXFR from")), "{targets:#?}");
}

/// NOTIFY for the common config's zones to `to`, signed with key `kid`.
fn notify_to(api: SocketAddr, tok: &str, cc: i64, kid: i64, to: SocketAddr) {
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/common_configs/{cc}/cc_sec_notified_servers"),
        Some(tok),
        Some(&json!({"address": to.to_string(), "tsig_id": kid}).to_string()),
    );
    assert_eq!(st, 202, "{e}");
}

/// The SOA serial a server answers for example.com.
fn soa_serial(dns: SocketAddr) -> Option<String> {
    kdig(dns, &["example.com", "SOA"])
        .answer
        .first()
        .and_then(|l| l.split_whitespace().nth(6))
        .map(str::to_string)
}

#[test]
fn knotd_follows_a_signed_zone_and_its_refreshed_signatures_by_ixfr() {
    if !require("kdig") || !require("knotd") || !require("kzonecheck") {
        return;
    }
    // Signatures valid 60 s and made again with 50 s left: a new serial
    // every ten seconds or so, which knotd must follow.
    let server = Platdns::start(
        &[],
        &[
            "--dnssec-validity",
            "60s",
            "--dnssec-refresh",
            "50s",
            "--dnssec-maintenance-interval",
            "1",
        ],
    );
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    // Names in rdata (CNAME, MX) go compressed in the transfer; knotd's
    // copy must still verify.
    commit(
        api,
        &tok,
        &zone,
        json!([
            a("www.example.com.", "192.0.2.1"),
            {"name": "alias.example.com.", "ttl": 60, "rrtype": "CNAME", "rdata": [{"value": "www.example.com."}], "labels": {}, "description": ""},
            {"name": "example.com.", "ttl": 60, "rrtype": "MX", "rdata": [{"value": "10 www.example.com."}], "labels": {}, "description": ""}
        ]),
    );
    set_dnssec(api, &tok, &zone, 1);
    let (kid, key_name, secret, cc) = transfers_allowed(api, &tok, &zone);
    let knot = Secondary::start("example.com", server.dns, &key_name, &secret);
    notify_to(api, &tok, cc, kid, knot.dns);
    wait_for(Duration::from_secs(20), "knotd's first transfer", || {
        soa_serial(knot.dns).is_some()
    });
    let first = soa_serial(knot.dns).unwrap();
    // A refresh: the serial moves on at the primary, and knotd follows by IXFR.
    wait_for(Duration::from_secs(30), "a refresh reaching knotd", || {
        let ours = soa_serial(server.dns);
        ours != Some(first.clone()) && soa_serial(knot.dns) == ours
    });
    let sig = |dns: SocketAddr| {
        kdig(dns, &["www.example.com", "A", "+dnssec"])
            .answer
            .into_iter()
            .filter(|l| l.contains(" RRSIG A "))
            .collect::<Vec<_>>()
    };
    // Between a refresh and knotd's transfer the two may differ a moment.
    wait_for(Duration::from_secs(10), "the same signature at both", || {
        let theirs = sig(knot.dns);
        !theirs.is_empty() && theirs == sig(server.dns)
    });
    for (name, t) in [("alias.example.com", "CNAME"), ("example.com", "MX")] {
        let theirs = kdig(knot.dns, &[name, t]).answer;
        assert!(!theirs.is_empty(), "{name} {t}");
        assert_eq!(theirs, kdig(server.dns, &[name, t]).answer, "{name} {t}");
    }
    // knotd's copy, as transferred, is a valid signed zone.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("example.com.zone");
    let axfr = Command::new("kdig")
        .args([&format!("@{}", knot.dns.ip()), "-p", &knot.dns.port().to_string()])
        .args(["example.com", "AXFR", "+nocomments", "+nostats", "+noheader"])
        .output()
        .unwrap();
    assert!(axfr.status.success());
    std::fs::write(&copy, &axfr.stdout).unwrap();
    let check = Command::new("kzonecheck")
        .args(["-o", "example.com", "-d", "on", copy.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
    let logs = logs.to_string();
    assert!(logs.contains("IXFR to 127.0.0.1"), "{logs}");
}

#[test]
fn knotd_follows_dnssec_being_turned_on_and_off_under_new_serials() {
    if !require("kdig") || !require("knotd") {
        return;
    }
    // No refresh comes before the end of the test (14 days' validity): only
    // the keys' changes move the serial.
    let server = Platdns::start(
        &[],
        &[
            "--dnssec-maintenance-interval",
            "1",
            "--dnssec-ds-ttl",
            "1",
            "--dnssec-parent-propagation",
            "0",
            "--dnssec-safety",
            "0",
        ],
    );
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    commit(api, &tok, &zone, json!([a("www.example.com.", "192.0.2.1")]));
    let (kid, key_name, secret, cc) = transfers_allowed(api, &tok, &zone);
    let knot = Secondary::start("example.com", server.dns, &key_name, &secret);
    notify_to(api, &tok, cc, kid, knot.dns);
    wait_for(Duration::from_secs(20), "knotd's first transfer", || {
        soa_serial(knot.dns).is_some()
    });
    let unsigned = soa_serial(knot.dns).unwrap();
    let dnskeys = |dns: SocketAddr| kdig(dns, &["example.com", "DNSKEY"]).answer.len();
    assert_eq!(dnskeys(knot.dns), 0);
    // Turned on: signed under the next serial, which NOTIFY brings to knotd.
    set_dnssec(api, &tok, &zone, 1);
    let signed = soa_serial(server.dns).unwrap();
    assert_eq!(
        signed.parse::<u64>().unwrap(),
        unsigned.parse::<u64>().unwrap() + 1,
        "signing moves the serial on"
    );
    wait_for(Duration::from_secs(20), "knotd's signed copy", || {
        soa_serial(knot.dns) == Some(signed.clone()) && dnskeys(knot.dns) == 2
    });
    // Turned off (no resolver: the DS is taken as gone); a second later
    // the zone is served unsigned, under another serial, and knotd's copy
    // follows.
    set_dnssec(api, &tok, &zone, 0);
    wait_for(Duration::from_secs(20), "knotd's unsigned copy", || {
        let ours = soa_serial(server.dns);
        dnskeys(server.dns) == 0 && soa_serial(knot.dns) == ours && dnskeys(knot.dns) == 0
    });
    assert_ne!(soa_serial(knot.dns), Some(signed));
}
