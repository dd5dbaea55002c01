//! DNSSEC end to end (issue 8): a zone managed through the DPF API is
//! signed on request, its answers validate with BIND's `delv` against the DS
//! the API gives for the parent, commits keep it signed, and a KSK rollover
//! started through the API publishes the new key.

mod common;

use common::{commit, http, kdig, operator_token, require, set_dnssec, tenant_with_zone, Platdns};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;

fn rr(name: &str, rrtype: &str, values: &[&str]) -> Value {
    let rdata: Vec<Value> = values.iter().map(|v| json!({"value": v})).collect();
    json!({"name": name, "ttl": 300, "rrtype": rrtype, "rdata": rdata, "labels": {}, "description": ""})
}

fn records() -> Vec<Value> {
    vec![
        rr("www.example.com.", "A", &["192.0.2.1"]),
        rr("www.example.com.", "AAAA", &["2001:db8::1"]),
        rr("example.com.", "MX", &["10 mail.example.com."]),
        rr("mail.example.com.", "A", &["192.0.2.2"]),
        rr("*.wild.example.com.", "TXT", &["\"wild\""]),
        rr("a.b.ent.example.com.", "A", &["192.0.2.3"]),
        rr("alias.example.com.", "CNAME", &["www.example.com."]),
        rr("sub.example.com.", "NS", &["ns.sub.example.com."]),
        rr("ns.sub.example.com.", "A", &["192.0.2.4"]),
    ]
}

/// A server started with `flags`, a tenant's example.com holding
/// [`records`], signed: (server, zone id, tenant token).
fn signed_example(flags: &[&str]) -> (Platdns, String, String) {
    let server = Platdns::start(&[], flags);
    let (zone, tok) = tenant_with_zone(server.http, &operator_token(&server), "acme", "example.com");
    commit(server.http, &tok, &zone, Value::Array(records()));
    set_dnssec(server.http, &tok, &zone, 1);
    (server, zone, tok)
}

/// `delv` validating one question against the zone's DS as trust anchor;
/// the first line it prints (`; fully validated`, `; negative response,
/// fully validated`, or why not).
fn delv(dns: SocketAddr, anchors: &std::path::Path, name: &str, rtype: &str) -> String {
    let out = Command::new("delv")
        .args([
            &format!("@{}", dns.ip()),
            "-p",
            &dns.port().to_string(),
            "-a",
            anchors.to_str().unwrap(),
            "+root=example.com",
            "+tcp",
            name,
            rtype,
        ])
        .output()
        .expect("run delv");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    text.lines()
        .find(|l| l.contains("validated") || l.contains("fail") || l.contains("insecure") || l.contains("unsigned"))
        .unwrap_or(&text)
        .trim()
        .to_string()
}

/// A `trust-anchors` file naming the DS records the API gives.
fn anchors_from(api: SocketAddr, tok: &str, zone: &str, dir: &std::path::Path) -> (std::path::PathBuf, Vec<String>) {
    let (st, ds) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/ds_records"), Some(tok), None);
    assert_eq!(st, 200, "{ds}");
    let lines: Vec<String> = ds["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rrset"].as_str().unwrap().to_string())
        .collect();
    let mut conf = String::from("trust-anchors {\n");
    for l in &lines {
        // `example.com. 3600 IN DS TAG ALG DIGEST-TYPE HEX`
        let f: Vec<&str> = l.split_whitespace().collect();
        assert_eq!((f[0], f[2], f[3]), ("example.com.", "IN", "DS"), "{l}");
        conf += &format!(
            "  {} static-ds {} {} {} \"{}\";\n",
            f[0],
            f[4],
            f[5],
            f[6],
            f[7..].join("")
        );
    }
    conf += "};\n";
    let path = dir.join("anchors.conf");
    std::fs::write(&path, conf).unwrap();
    (path, lines)
}

fn dnssec_state(api: SocketAddr, tok: &str, zone: &str) -> (i64, i64, i64) {
    let (st, d) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/dnssec"), Some(tok), None);
    assert_eq!(st, 200, "{d}");
    let r = &d["result"];
    (
        r["enabled"].as_i64().unwrap(),
        r["state"].as_i64().unwrap(),
        r["ds_state"].as_i64().unwrap(),
    )
}

#[test]
fn a_zone_signed_through_the_api_validates_across_commits_and_a_ksk_rollover() {
    if !require("kdig") || !require("delv") {
        return;
    }
    for denial in ["nsec", "nsec3"] {
        let server = Platdns::start(&[], &["--dnssec-denial", denial]);
        let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
        let (api, dns) = (server.http, server.dns);
        let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
        commit(api, &tok, &zone, Value::Array(records()));
        assert_eq!(dnssec_state(api, &tok, &zone), (0, 4, 0), "never turned on: off");
        let plain = kdig(dns, &["www.example.com.", "A", "+dnssec"]);
        assert!(!plain.raw.contains("RRSIG"), "unsigned before: {}", plain.raw);

        set_dnssec(api, &tok, &zone, 1);
        assert_eq!(dnssec_state(api, &tok, &zone), (1, 2, 1), "signed, DS to register");
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/dnssec"),
            Some(&tok),
            Some(r#"{"enabled":2}"#),
        );
        assert_eq!(st, 400, "{e}");
        assert_eq!(e["error_details"][0]["attribute"], "enabled", "{e}");

        let dir = tempfile::tempdir().unwrap();
        let (anchors, ds) = anchors_from(api, &tok, &zone, dir.path());
        assert_eq!(ds.len(), 1, "one KSK: {ds:?}");
        assert!(ds[0].contains(" 13 2 "), "ECDSA P-256, SHA-256 digest: {}", ds[0]);

        let keys = kdig(dns, &["example.com.", "DNSKEY", "+dnssec"]);
        assert_eq!(
            keys.answer.iter().filter(|r| r.contains(" IN DNSKEY ")).count(),
            2,
            "{}",
            keys.raw
        );
        assert!(keys.answer.iter().any(|r| r.contains(" RRSIG DNSKEY ")), "{}", keys.raw);
        let cds = kdig(dns, &["example.com.", "CDS", "+dnssec"]);
        assert!(
            cds.answer.iter().any(|r| r.contains(" IN CDS ")),
            "RFC 7344 CDS: {}",
            cds.raw
        );

        let questions = [
            ("www.example.com.", "A", "; fully validated"),
            ("example.com.", "MX", "; fully validated"),
            ("alias.example.com.", "A", "; fully validated"),
            ("x.wild.example.com.", "TXT", "; fully validated"),
            ("nothere.example.com.", "A", "; negative response, fully validated"),
            ("www.example.com.", "TXT", "; negative response, fully validated"),
            ("b.ent.example.com.", "A", "; negative response, fully validated"),
            ("x.wild.example.com.", "A", "; negative response, fully validated"),
            ("sub.example.com.", "DS", "; negative response, fully validated"),
        ];
        for (name, t, want) in questions {
            assert_eq!(delv(dns, &anchors, name, t), want, "{denial}: {name} {t}");
        }

        // A commit keeps the zone signed: the new name validates, the gone one is denied.
        let mut after = records();
        after.retain(|r| r["name"] != "mail.example.com.");
        after.push(rr("new.example.com.", "A", &["192.0.2.9"]));
        commit(api, &tok, &zone, Value::Array(after));
        assert_eq!(
            delv(dns, &anchors, "new.example.com.", "A"),
            "; fully validated",
            "{denial}"
        );
        assert_eq!(
            delv(dns, &anchors, "mail.example.com.", "A"),
            "; negative response, fully validated",
            "{denial}"
        );

        // A staged record and a commit of just it: re-signed incrementally
        // (the kept signed copy), not whole.
        let whole_before = server.stderr.lock().unwrap().matches("zone signed whole").count();
        let (st, e) = http(
            api,
            "POST",
            &format!("/dpf/v1/zones/{zone}/records"),
            Some(&tok),
            Some(r#"{"name":"inc","rrtype":"TXT","rdata":[{"value":"\"one\""}],"ttl":300}"#),
        );
        assert_eq!(st, 202, "{e}");
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
            Some(&tok),
            Some("{}"),
        );
        assert_eq!(st, 202, "{e}");
        assert_eq!(
            delv(dns, &anchors, "inc.example.com.", "TXT"),
            "; fully validated",
            "{denial}"
        );
        assert_eq!(
            delv(dns, &anchors, "inc.example.com.", "A"),
            "; negative response, fully validated",
            "{denial}"
        );
        assert_eq!(
            delv(dns, &anchors, "imc.example.com.", "A"),
            "; negative response, fully validated",
            "{denial}: a name beside the new one"
        );
        assert_eq!(
            server.stderr.lock().unwrap().matches("zone signed whole").count(),
            whole_before,
            "a one-record commit is not signed whole"
        );

        // A KSK rollover needs the DS published at the parent (DPF: only at
        // ds_state 3); the parent's side is `the_parents_ds_...` below.
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/dnssec/ksk_rollover"),
            Some(&tok),
            None,
        );
        assert_eq!(st, 400, "{e}");
        assert_eq!(
            (&e["error_details"][0]["code"], &e["error_details"][0]["attribute"]),
            (&json!("forbidden"), &json!("dnssec")),
            "{e}"
        );

        let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
        let ops: Vec<&str> = logs["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["operation"].as_str())
            .collect();
        assert!(ops.contains(&"update_dnssec_configuration"), "{logs}");
        // Each signing is an event: whole on enabling, incremental per commit.
        let text = logs.to_string();
        assert!(text.contains("signed whole under serial"), "{logs}");
        assert!(text.contains("re-signed what serial"), "{logs}");

        // Another tenant sees none of it.
        let (_, other) = tenant_with_zone(api, op.trim(), "other", "example.org");
        for path in ["dnssec", "ds_records"] {
            let (st, _) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/{path}"), Some(&other), None);
            assert_eq!(st, 404, "{path}");
        }
    }
}

/// The parent zone (`com.`) served by another name server from a file: the
/// delegation of example.com and the DS lines given.
fn write_parent(path: &std::path::Path, serial: u32, ds: &[String]) {
    let mut text = format!(
        "$ORIGIN com.\n@ 60 SOA ns.nic h {serial} 2 3 4 5\n@ 60 NS ns.nic\nns.nic 60 A 192.0.2.53\nexample 60 NS ns.example\nns.example 60 A 192.0.2.1\n"
    );
    for l in ds {
        text += l;
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Waits (up to 15 s) for the zone's DNSSEC state to become `want`.
fn await_state(api: SocketAddr, tok: &str, zone: &str, want: (i64, i64, i64)) {
    let mut last = (0, 0, 0);
    for _ in 0..150 {
        last = dnssec_state(api, tok, zone);
        if last == want {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("DNSSEC state {last:?}, waited for {want:?}");
}

fn reload_parent(parent: &Platdns, path: &std::path::Path, serial: u32, ds: &[String]) {
    write_parent(path, serial, ds);
    parent.signal("HUP");
    for _ in 0..100 {
        let soa = kdig(parent.dns, &["com.", "SOA"]);
        if soa.answer.iter().any(|a| a.contains(&format!(" {serial} 2 3 4 5"))) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the parent did not load serial {serial}");
}

/// KSK tags of the zone's DNSKEY RRset, and the tags its CDS names.
fn ksk_and_cds_tags(dns: SocketAddr) -> (Vec<String>, Vec<String>) {
    let cds = kdig(dns, &["example.com.", "CDS"]);
    let mut tags: Vec<String> = cds
        .answer
        .iter()
        .map(|r| {
            r.split(" CDS ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    tags.sort();
    (key_tags(dns, "KSK"), tags)
}

/// The tags of the zone's published keys of `role` (`KSK` or `ZSK`, as kdig
/// marks them), sorted.
fn key_tags(dns: SocketAddr, role: &str) -> Vec<String> {
    let keys = kdig(dns, &["example.com.", "DNSKEY", "+multiline"]);
    let mut tags: Vec<String> = keys
        .raw
        .lines()
        .filter(|l| l.contains(role) && l.contains("id = "))
        .map(|l| {
            l.split("id = ")
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    tags.sort();
    tags
}

/// The fields of the RRSIG over www's A (as kdig prints it).
fn www_a_sig(dns: SocketAddr) -> Vec<String> {
    let a = kdig(dns, &["www.example.com.", "A", "+dnssec"]);
    let sig = a.answer.iter().find(|r| r.contains(" RRSIG A ")).expect("signed");
    sig.split_whitespace().map(str::to_string).collect()
}

#[test]
fn the_parents_ds_carries_a_ksk_rollover_to_its_end_and_signing_off() {
    if !require("kdig") || !require("delv") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let parent_file = dir.path().join("com.zone");
    write_parent(&parent_file, 1, &[]);
    let parent = Platdns::start(std::slice::from_ref(&parent_file), &[]);
    // Every wait of RFC 7583 one second or none, so the steps follow each
    // other as fast as the parent's DS allows.
    let (server, zone, tok) = signed_example(&[
        "--verify-resolver",
        &parent.dns.to_string(),
        "--dnssec-maintenance-interval",
        "1",
        "--dnssec-dnskey-ttl",
        "1",
        "--dnssec-propagation",
        "0",
        "--dnssec-safety",
        "0",
        "--dnssec-ds-ttl",
        "1",
        "--dnssec-parent-propagation",
        "0",
        "--dnssec-ds-check-interval",
        "1",
    ]);
    let (api, dns) = (server.http, server.dns);
    // No DS at the parent yet: waiting for its registration, for as long as it takes.
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(dnssec_state(api, &tok, &zone), (1, 2, 1));

    // The tenant registers the DS the API gives: published (3).
    let (anchors, ds) = anchors_from(api, &tok, &zone, dir.path());
    reload_parent(&parent, &parent_file, 2, &ds);
    await_state(api, &tok, &zone, (1, 2, 3));
    let (old_ksk, cds) = ksk_and_cds_tags(dns);
    assert_eq!((old_ksk.len(), &cds), (1, &old_ksk));

    // A KSK rollover: the new key is published (4), after Ipub the CDS
    // names it and we wait for the parent (5), however long that takes.
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/dnssec/ksk_rollover"),
        Some(&tok),
        None,
    );
    assert_eq!(st, 202, "{e}");
    await_state(api, &tok, &zone, (1, 2, 5));
    let (both, cds) = ksk_and_cds_tags(dns);
    assert_eq!(both.len(), 2, "both KSKs published while waiting: {both:?}");
    let new_ksk: Vec<String> = both.iter().filter(|t| !old_ksk.contains(t)).cloned().collect();
    assert_eq!(cds, new_ksk, "the CDS names the new KSK");
    let keys = kdig(dns, &["example.com.", "DNSKEY", "+dnssec"]);
    assert_eq!(
        keys.answer.iter().filter(|r| r.contains(" RRSIG DNSKEY ")).count(),
        2,
        "both KSKs sign the DNSKEY RRset: {}",
        keys.raw
    );
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/dnssec/ksk_rollover"),
        Some(&tok),
        None,
    );
    assert_eq!(st, 400, "one rollover at a time: {e}");
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        dnssec_state(api, &tok, &zone),
        (1, 2, 5),
        "the parent still names the old KSK"
    );
    assert_eq!(delv(dns, &anchors, "www.example.com.", "A"), "; fully validated");

    // The parent takes the new DS (the API now gives it): the change is
    // seen (6), and once the old DS can have left caches the old KSK goes
    // and the rollover is done (3).
    let (new_anchors, new_ds) = anchors_from(api, &tok, &zone, dir.path());
    assert_eq!(new_ds.len(), 1);
    assert_ne!(new_ds, ds);
    reload_parent(&parent, &parent_file, 3, &new_ds);
    await_state(api, &tok, &zone, (1, 2, 3));
    let (after, _) = ksk_and_cds_tags(dns);
    assert_eq!(after, new_ksk, "only the new KSK is left");
    assert_eq!(delv(dns, &new_anchors, "www.example.com.", "A"), "; fully validated");
    assert_eq!(
        delv(dns, &new_anchors, "nothere.example.com.", "A"),
        "; negative response, fully validated"
    );
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
    let logs = logs.to_string();
    for step in [
        "the parent's DS names KSK",
        "begin_ksk_rollover",
        "the parent's DS names the new KSK",
        "removed; done",
    ] {
        assert!(logs.contains(step), "{step}: {logs}");
    }

    // Turning off: we keep signing while the parent holds the DS (7)...
    set_dnssec(api, &tok, &zone, 0);
    assert_eq!(dnssec_state(api, &tok, &zone), (0, 3, 7));
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        dnssec_state(api, &tok, &zone),
        (0, 3, 7),
        "the DS is still at the parent"
    );
    assert_eq!(delv(dns, &new_anchors, "www.example.com.", "A"), "; fully validated");
    // Meanwhile CDS and CDNSKEY ask the parent to remove the DS (RFC 8078 §4).
    let ask = |t: &str| {
        kdig(dns, &["example.com.", t])
            .answer
            .iter()
            .map(|r| r.split(&format!(" {t} ")).nth(1).unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(ask("CDS"), ["0 0 0 00"]);
    assert_eq!(ask("CDNSKEY"), ["0 3 0 AA=="]);
    // ...and once it is gone and has left caches, the zone is served unsigned.
    reload_parent(&parent, &parent_file, 4, &[]);
    await_state(api, &tok, &zone, (0, 4, 0));
    let plain = kdig(dns, &["www.example.com.", "A", "+dnssec"]);
    assert!(!plain.raw.contains("RRSIG"), "unsigned: {}", plain.raw);
    assert!(kdig(dns, &["example.com.", "DNSKEY"]).answer.is_empty());
}

#[test]
fn ds_records_from_a_delegations_cds_or_cdnskey() {
    if !require("kdig") || !require("dnssec-dsfromkey") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The children, served where the operator's resolver finds them.
    let key = "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==";
    let cds = "2371 13 2 1F987CC6583E92DF0890718C42E7A9B0B8A5B5C4F6D0C7E1D1C1E1F1A1B1C1D1";
    let files = [
        ("cds.example.com", format!("cds 60 CDS {cds}\n")),
        ("key.example.com", format!("key 60 CDNSKEY {key}\n")),
        ("del.example.com", "del 60 CDS 0 0 0 00\n".to_string()),
        ("none.example.com", String::new()),
    ];
    let mut paths = Vec::new();
    for (name, extra) in &files {
        let p = dir.path().join(format!("{name}.zone"));
        let label = name.split('.').next().unwrap();
        let extra = extra.replacen(&format!("{label} "), "@ ", 1);
        std::fs::write(
            &p,
            format!("$ORIGIN {name}.\n@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\n{extra}"),
        )
        .unwrap();
        paths.push(p);
    }
    let children = Platdns::start(&paths, &[]);
    let server = Platdns::start(&[], &["--verify-resolver", &children.dns.to_string()]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let mut recs = vec![rr("www.example.com.", "A", &["192.0.2.1"])];
    for (name, _) in &files {
        recs.push(rr(&format!("{name}."), "NS", &["ns.elsewhere.test."]));
    }
    commit(api, &tok, &zone, Value::Array(recs));
    let (_, listed) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/records"), Some(&tok), None);
    let id_of = |name: &str, rrtype: &str| -> String {
        listed["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name && r["rrtype"] == rrtype)
            .unwrap_or_else(|| panic!("{name} {rrtype}: {listed}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let ds_of = |name: &str| -> Value {
        let (st, d) = http(
            api,
            "GET",
            &format!("/dpf/v1/zones/{zone}/records/{}/ds_records", id_of(name, "NS")),
            Some(&tok),
            None,
        );
        assert_eq!(st, 200, "{name}: {d}");
        d["results"].clone()
    };
    // A CDS is taken as it is, with the delegation's TTL.
    assert_eq!(
        ds_of("cds.example.com."),
        json!([{"name": "cds.example.com.", "ttl": 300, "rrtype": "DS", "rdata": [{"value": cds}]}])
    );
    // A CDNSKEY gives the DS BIND computes from the same key.
    let keyfile = dir.path().join("key.zone");
    std::fs::write(&keyfile, format!("key.example.com. 60 IN DNSKEY {key}\n")).unwrap();
    let expected = Command::new("dnssec-dsfromkey")
        .args(["-2", "-f", keyfile.to_str().unwrap(), "key.example.com."])
        .output()
        .unwrap();
    let expected = String::from_utf8(expected.stdout).unwrap();
    let fields: Vec<&str> = expected.split_whitespace().collect();
    let want = format!("{} {} {} {}", fields[3], fields[4], fields[5], fields[6..].join(""));
    assert_eq!(
        ds_of("key.example.com.")[0]["rdata"],
        json!([{"value": want}]),
        "{expected}"
    );
    // A delete request (RFC 8078 §4) and no CDS at all: no DS.
    assert_eq!(ds_of("del.example.com."), json!([]));
    assert_eq!(ds_of("none.example.com."), json!([]));
    // Only an NS record below the apex.
    let (st, e) = http(
        api,
        "GET",
        &format!(
            "/dpf/v1/zones/{zone}/records/{}/ds_records",
            id_of("www.example.com.", "A")
        ),
        Some(&tok),
        None,
    );
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error_details"][0]["code"], "invalid_record_id", "{e}");
    // Another tenant: not found.
    let (_, other) = tenant_with_zone(api, op.trim(), "other", "example.org");
    let (st, _) = http(
        api,
        "GET",
        &format!(
            "/dpf/v1/zones/{zone}/records/{}/ds_records",
            id_of("cds.example.com.", "NS")
        ),
        Some(&other),
        None,
    );
    assert_eq!(st, 404);
}

/// The SOA serial and the expiration of the RRSIG over www's A.
fn serial_and_expiration(dns: SocketAddr) -> (u64, String) {
    let soa = kdig(dns, &["example.com.", "SOA"]);
    let serial = soa.answer[0].split_whitespace().nth(6).unwrap().parse().unwrap();
    (serial, www_a_sig(dns)[8].clone())
}

#[test]
fn signatures_near_expiry_are_made_again_under_a_new_serial() {
    if !require("kdig") || !require("delv") {
        return;
    }
    // Signatures valid 60 s, made again when 50 s or less remain.
    let (server, zone, tok) = signed_example(&[
        "--dnssec-validity",
        "60s",
        "--dnssec-refresh",
        "50s",
        "--dnssec-maintenance-interval",
        "1",
    ]);
    let (api, dns) = (server.http, server.dns);
    // A staged record the refresh must not commit.
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zone}/records"),
        Some(&tok),
        Some(r#"{"name":"staged","rrtype":"TXT","rdata":[{"value":"\"x\""}],"ttl":300}"#),
    );
    assert_eq!(st, 202, "{e}");
    let dir = tempfile::tempdir().unwrap();
    let (anchors, _) = anchors_from(api, &tok, &zone, dir.path());
    let histories = || {
        let (_, h) = http(
            api,
            "GET",
            &format!("/dpf/v1/zones/{zone}/zone_histories"),
            Some(&tok),
            None,
        );
        h["results"].as_array().unwrap().len()
    };
    let commits = histories();
    let (serial, expiration) = serial_and_expiration(dns);
    let mut refreshed = None;
    for _ in 0..300 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = serial_and_expiration(dns);
        if now.0 != serial {
            refreshed = Some(now);
            break;
        }
    }
    let (new_serial, new_expiration) =
        refreshed.unwrap_or_else(|| panic!("refreshed within 30 s: {}", server.stderr.lock().unwrap()));
    assert_eq!(new_serial, serial + 1, "the next serial");
    assert!(new_expiration > expiration, "{new_expiration} after {expiration}");
    assert_eq!(delv(dns, &anchors, "www.example.com.", "A"), "; fully validated");
    assert_eq!(
        delv(dns, &anchors, "nothere.example.com.", "A"),
        "; negative response, fully validated"
    );
    assert!(
        kdig(dns, &["staged.example.com.", "TXT"]).answer.is_empty(),
        "still staged"
    );
    let (_, staged) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/diffs"),
        Some(&tok),
        None,
    );
    assert_eq!(staged["results"].as_array().unwrap().len(), 1, "{staged}");
    assert_eq!(histories(), commits, "a refresh is not a commit");
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
    assert!(
        logs.to_string()
            .contains(&format!("signatures refreshed under serial {new_serial}")),
        "{logs}"
    );
}

/// The key tags of the ZSKs published, and of the key signing www's A.
fn zsks_and_signer(dns: SocketAddr) -> (Vec<String>, String) {
    (key_tags(dns, "ZSK"), www_a_sig(dns)[10].clone())
}

#[test]
fn a_zsk_past_its_lifetime_is_rolled_by_pre_publication() {
    if !require("kdig") || !require("delv") {
        return;
    }
    let (server, zone, tok) = signed_example(&[
        "--dnssec-zsk-lifetime",
        "4s",
        "--dnssec-maintenance-interval",
        "1",
        "--dnssec-dnskey-ttl",
        "2",
        "--dnssec-propagation",
        "0",
        "--dnssec-safety",
        "0",
    ]);
    let (api, dns) = (server.http, server.dns);
    let dir = tempfile::tempdir().unwrap();
    let (anchors, _) = anchors_from(api, &tok, &zone, dir.path());
    let (first, signer) = zsks_and_signer(dns);
    assert_eq!(first, vec![signer.clone()], "one ZSK, signing");
    // After its lifetime the next ZSK is published beside it, not yet
    // signing (RFC 7583 §3.2.1)...
    let mut seen = Vec::new();
    for _ in 0..200 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = zsks_and_signer(dns);
        if seen.last() != Some(&now) {
            assert_eq!(
                delv(dns, &anchors, "www.example.com.", "A"),
                "; fully validated",
                "{now:?}"
            );
            seen.push(now.clone());
        }
        if now.0.len() == 2 && now.1 != signer {
            break;
        }
    }
    let published = seen
        .iter()
        .find(|(zsks, _)| zsks.len() == 2)
        .unwrap_or_else(|| panic!("{seen:?}"));
    assert_eq!(
        published.1, signer,
        "published first, the old one still signs: {seen:?}"
    );
    // ...and after Ipub it signs instead, the old one staying published.
    let (both, new_signer) = seen.last().unwrap().clone();
    assert_eq!(both.len(), 2, "{seen:?}");
    assert_ne!(new_signer, signer, "{seen:?}");
    assert!(both.contains(&signer), "{seen:?}");
    assert_eq!(
        delv(dns, &anchors, "nothere.example.com.", "A"),
        "; negative response, fully validated"
    );
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
    let logs = logs.to_string();
    assert!(logs.contains("ZSK rollover: new ZSK"), "{logs}");
    assert!(logs.contains("signs the zone"), "{logs}");
}
