//! DNSSEC end to end (issue 8): a zone managed through the DPF API is
//! signed on request, its answers validate with BIND's `delv` against the DS
//! the API gives for the parent, commits keep it signed, and a KSK rollover
//! started through the API publishes the new key.

mod common;

use common::{http, kdig, require, tenant_with_zone, Platdns};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::process::Command;

fn rr(name: &str, rrtype: &str, values: &[&str]) -> Value {
    let rdata: Vec<Value> = values.iter().map(|v| json!({"value": v})).collect();
    json!({"name": name, "ttl": 300, "rrtype": rrtype, "rdata": rdata, "labels": {}, "description": ""})
}

fn replace_all(api: SocketAddr, tok: &str, zone: &str, records: Value) {
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/atomic_changes"),
        Some(tok),
        Some(&json!({"records": records, "description": "x"}).to_string()),
    );
    assert_eq!(st, 202, "{e}");
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
        replace_all(api, &tok, &zone, Value::Array(records()));
        assert_eq!(dnssec_state(api, &tok, &zone), (0, 4, 0), "never turned on: off");
        let plain = kdig(dns, &["www.example.com.", "A", "+dnssec"]);
        assert!(!plain.raw.contains("RRSIG"), "unsigned before: {}", plain.raw);

        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/dnssec"),
            Some(&tok),
            Some(r#"{"enabled":1}"#),
        );
        assert_eq!(st, 202, "{e}");
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
        replace_all(api, &tok, &zone, Value::Array(after));
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
            &format!("/dpf/v1/zones/{zone}/changes"),
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

        // KSK rollover through the API: the new KSK is published and signs
        // the DNSKEY RRset beside the old one; the parent's DS stays valid.
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/dnssec/ksk_rollover"),
            Some(&tok),
            None,
        );
        assert_eq!(st, 202, "{e}");
        assert_eq!(dnssec_state(api, &tok, &zone), (1, 2, 4), "rollover preparing");
        let keys = kdig(dns, &["example.com.", "DNSKEY", "+dnssec"]);
        assert_eq!(
            keys.answer.iter().filter(|r| r.contains(" DNSKEY 257 ")).count(),
            2,
            "{}",
            keys.raw
        );
        assert_eq!(
            keys.answer.iter().filter(|r| r.contains(" RRSIG DNSKEY ")).count(),
            2,
            "{}",
            keys.raw
        );
        assert_eq!(
            delv(dns, &anchors, "www.example.com.", "A"),
            "; fully validated",
            "{denial}"
        );
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/dnssec/ksk_rollover"),
            Some(&tok),
            None,
        );
        assert_eq!(st, 400, "one rollover at a time: {e}");

        let (_, logs) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/logs"), Some(&tok), None);
        let ops: Vec<&str> = logs["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["operation"].as_str())
            .collect();
        assert!(ops.contains(&"update_dnssec_configuration"), "{logs}");
        assert!(ops.contains(&"begin_ksk_rollover"), "{logs}");

        // Another tenant sees none of it.
        let (_, other) = tenant_with_zone(api, op.trim(), "other", "example.org");
        for path in ["dnssec", "ds_records"] {
            let (st, _) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/{path}"), Some(&other), None);
            assert_eq!(st, 404, "{path}");
        }
    }
}
