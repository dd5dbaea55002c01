//! The control plane over real HTTP against the real binary: the operator
//! creates accounts, contracts, zones and tokens; tenants read the DPF API and
//! never reach each other's data (R1.2: 404, not 403).

mod common;
use common::*;
use platdns_testkit::tls::{http_server, Pki, TestServer};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

fn assert_dpf_error(v: &Value, attribute: &str) {
    assert_eq!(v["request_id"].as_str().map(str::len), Some(32), "{v}");
    assert!(v["error_type"].is_string() && v["error_message"].is_string(), "{v}");
    let details = v["error_details"].as_array().unwrap();
    assert!(
        details.iter().any(|d| d["attribute"] == attribute),
        "no detail for {attribute}: {v}"
    );
}

#[test]
fn operator_sets_up_tenants_and_tenants_are_isolated() {
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let op = op.trim();
    let mode = std::fs::metadata(server.data_dir.join("operator.token")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let api = server.http;

    // No token, a wrong token, a tenant token on the operator API: 401.
    assert_eq!(http(api, "GET", "/operator/v1/accounts", None, None).0, 401);
    assert_eq!(
        http(api, "GET", "/operator/v1/accounts", Some("pdns_nope"), None).0,
        401
    );

    let (st, a) = http(
        api,
        "POST",
        "/operator/v1/accounts",
        Some(op),
        Some(r#"{"name":"acme"}"#),
    );
    assert_eq!(st, 201, "{a}");
    let acme = a["result"]["id"].as_i64().unwrap();
    let (_, b) = http(
        api,
        "POST",
        "/operator/v1/accounts",
        Some(op),
        Some(r#"{"name":"globex"}"#),
    );
    let globex = b["result"]["id"].as_i64().unwrap();
    // Duplicate name: 400 naming the attribute.
    let (st, e) = http(
        api,
        "POST",
        "/operator/v1/accounts",
        Some(op),
        Some(r#"{"name":"acme"}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "name");
    // Malformed JSON, unknown and wrong-typed fields: 400 naming the attribute.
    let (st, e) = http(api, "POST", "/operator/v1/accounts", Some(op), Some(r#"{"name":"x""#));
    assert_eq!(st, 400);
    assert_dpf_error(&e, "schema");
    let (st, e) = http(
        api,
        "POST",
        "/operator/v1/accounts",
        Some(op),
        Some(r#"{"name":"x","colour":"red"}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "colour");
    let (st, e) = http(
        api,
        "POST",
        "/operator/v1/contracts",
        Some(op),
        Some(&json!({"account_id": acme, "plan": "premium", "extra_qps": "lots"}).to_string()),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "extra_qps");

    // R2.2 through the API: extra QPS on Basic refused, nothing created.
    let (st, e) = http(
        api,
        "POST",
        "/operator/v1/contracts",
        Some(op),
        Some(&json!({"account_id": acme, "plan": "basic", "extra_qps": 100}).to_string()),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "extra_qps");
    let (_, list) = http(api, "GET", "/operator/v1/contracts", Some(op), None);
    assert_eq!(list["results"].as_array().unwrap().len(), 0);

    let (st, c) = http(
        api,
        "POST",
        "/operator/v1/contracts",
        Some(op),
        Some(&json!({"account_id": acme, "plan": "premium", "extra_qps": 200, "description": "main"}).to_string()),
    );
    assert_eq!(st, 201, "{c}");
    assert_eq!(c["result"]["contract_qps"], 400);
    let acme_contract = c["result"]["id"].as_str().unwrap().to_string();
    let (_, c2) = http(
        api,
        "POST",
        "/operator/v1/contracts",
        Some(op),
        Some(&json!({"account_id": globex, "plan": 1}).to_string()),
    );
    let globex_contract = c2["result"]["id"].as_str().unwrap().to_string();

    // R2.3: a downgrade with extra QPS is refused with a clear error.
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/operator/v1/contracts/{acme_contract}"),
        Some(op),
        Some(r#"{"plan":"basic"}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "extra_qps");
    // R1.1: not in use without a service.
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/operator/v1/contracts/{acme_contract}"),
        Some(op),
        Some(r#"{"state":2}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "state");

    let (st, z) = http(
        api,
        "POST",
        "/operator/v1/zones",
        Some(op),
        Some(&json!({"contract_id": acme_contract, "name": "Example.COM"}).to_string()),
    );
    assert_eq!(st, 201, "{z}");
    assert_eq!(z["result"]["name"], "example.com.");
    assert_eq!(z["result"]["eligibility"]["state"], "pending");
    let acme_zone = z["result"]["id"].as_str().unwrap().to_string();
    let (_, z2) = http(
        api,
        "POST",
        "/operator/v1/zones",
        Some(op),
        Some(
            &json!({"contract_id": globex_contract, "name": "globex.test", "approve": "registrar confirmed by phone"})
                .to_string(),
        ),
    );
    assert_eq!(z2["result"]["eligibility"]["state"], "approved");
    assert!(z2["result"]["eligibility"]["by"]
        .as_str()
        .unwrap()
        .starts_with("operator#"));
    let globex_zone = z2["result"]["id"].as_str().unwrap().to_string();
    let (st, _) = http(
        api,
        "PATCH",
        &format!("/operator/v1/contracts/{acme_contract}"),
        Some(op),
        Some(r#"{"state":2}"#),
    );
    assert_eq!(st, 200);

    // R5.2: the end date is the later of notice + 30 days and the named day.
    let (_, t) = http(
        api,
        "POST",
        &format!("/operator/v1/contracts/{globex_contract}/termination"),
        Some(op),
        Some(r#"{"notice_received":"2026-11-24","requested_end":"2026-12-01"}"#),
    );
    assert_eq!(t["result"]["ends_on"], "2026-12-24");

    let (st, tok) = http(
        api,
        "POST",
        "/operator/v1/tokens",
        Some(op),
        Some(&json!({"account_id": acme, "scopes": ["read", "write"]}).to_string()),
    );
    assert_eq!(st, 201, "{tok}");
    let acme_token = tok["result"]["token"].as_str().unwrap().to_string();
    let (_, tok) = http(
        api,
        "POST",
        "/operator/v1/tokens",
        Some(op),
        Some(&json!({"account_id": globex, "scopes": ["read"]}).to_string()),
    );
    let globex_token = tok["result"]["token"].as_str().unwrap().to_string();
    // A token cannot name another account's contract.
    let (st, _) = http(api, "POST", "/operator/v1/tokens", Some(op), Some(&json!({"account_id": globex, "scopes": ["read"], "contracts": [{"contract_id": acme_contract, "role": "viewer"}]}).to_string()));
    assert_eq!(st, 404);

    // The tenant API, DPF shapes.
    let (st, p) = http(api, "GET", "/dpf/v1/ping", Some(&acme_token), None);
    assert_eq!((st, p["request_id"].as_str().map(str::len)), (200, Some(32)));
    assert_eq!(
        http(api, "GET", "/dpf/v1/ping", Some(op), None).0,
        401,
        "the operator token is not a tenant token"
    );
    let (_, cs) = http(api, "GET", "/dpf/v1/contracts", Some(&acme_token), None);
    let cs = cs["results"].as_array().unwrap();
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0]["id"], acme_contract.as_str());
    assert_eq!((cs[0]["plan"].as_i64(), cs[0]["state"].as_i64()), (Some(2), Some(2)));
    assert_eq!(cs[0]["service_code"].as_str().map(str::len), Some(11));
    let (_, n) = http(api, "GET", "/dpf/v1/contracts/count", Some(&acme_token), None);
    assert_eq!(n["result"]["count"], 1);
    let (_, zs) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{acme_contract}/zones"),
        Some(&acme_token),
        None,
    );
    assert_eq!(zs["results"][0]["id"], acme_zone.as_str());
    let (_, zc) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{acme_zone}/contract"),
        Some(&acme_token),
        None,
    );
    assert_eq!(zc["result"]["id"], acme_contract.as_str());
    let (_, filtered) = http(
        api,
        "GET",
        "/dpf/v1/zones?_keywords_name[]=nomatch",
        Some(&acme_token),
        None,
    );
    assert_eq!(filtered["results"].as_array().unwrap().len(), 0);
    let (st, e) = http(api, "GET", "/dpf/v1/zones?limit=0", Some(&acme_token), None);
    assert_eq!(st, 400);
    assert_dpf_error(&e, "limit");

    // R1.2 on every read endpoint: the other tenant's ids are simply not there.
    for path in [
        format!("/dpf/v1/contracts/{globex_contract}"),
        format!("/dpf/v1/contracts/{globex_contract}/zones"),
        format!("/dpf/v1/contracts/{globex_contract}/zones/count"),
        format!("/dpf/v1/zones/{globex_zone}"),
        format!("/dpf/v1/zones/{globex_zone}/contract"),
    ] {
        let (st, e) = http(api, "GET", &path, Some(&acme_token), None);
        assert_eq!(st, 404, "{path}: {e}");
        assert!(!e.to_string().contains("globex"), "{path} leaked data: {e}");
    }
    for path in [
        format!("/dpf/v1/contracts/{acme_contract}"),
        format!("/dpf/v1/zones/{acme_zone}"),
    ] {
        assert_eq!(http(api, "GET", &path, Some(&globex_token), None).0, 404, "{path}");
    }
    let (_, zs) = http(api, "GET", "/dpf/v1/zones", Some(&globex_token), None);
    assert_eq!(zs["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        http(
            api,
            "GET",
            "/dpf/v1/jobs/00000000000000000000000000000000",
            Some(&acme_token),
            None
        )
        .0,
        404
    );
}

#[test]
fn staged_records_reach_dns_only_on_commit() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (_, other_tok) = tenant_with_zone(api, op.trim(), "globex", "globex.test");
    let tok = tok.as_str();

    // Not served before a commit.
    assert_eq!(kdig(server.dns, &["www.example.com", "A"]).rcode, "REFUSED");

    let (st, job) = http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zone}/records"),
        Some(tok),
        Some(r#"{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.10"},{"value":"192.0.2.11"}],"ttl":300}"#),
    );
    assert_eq!(st, 202, "{job}");
    let (_, j) = http(api, "GET", job["jobs_url"].as_str().unwrap(), Some(tok), None);
    assert_eq!(j["status"], "SUCCESSFUL");
    let rid = j["resources_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (_, r) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/{rid}"),
        Some(tok),
        None,
    );
    assert_eq!(
        (r["result"]["name"].as_str(), r["result"]["state"].as_i64()),
        (Some("www.example.com."), Some(1))
    );

    // Bad rdata, a name outside the zone, an unknown field: 400 naming it, nothing staged.
    for (body, attr) in [
        (
            r#"{"name":"bad","rrtype":"A","rdata":[{"value":"192.0.2.300"}]}"#,
            "rdata",
        ),
        (
            r#"{"name":"www.example.org.","rrtype":"A","rdata":[{"value":"192.0.2.1"}]}"#,
            "name",
        ),
        (r#"{"name":"x","rrtype":"MX","rdata":[{"value":"ten mail"}]}"#, "rdata"),
        (
            r#"{"name":"x","rrtype":"A","rdata":[{"value":"192.0.2.1"}],"colour":1}"#,
            "colour",
        ),
        (
            r#"{"name":"x","rrtype":"SOA","rdata":[{"value":"a b 1 2 3 4 5"}]}"#,
            "rrtype",
        ),
    ] {
        let (st, e) = http(
            api,
            "POST",
            &format!("/dpf/v1/zones/{zone}/records"),
            Some(tok),
            Some(body),
        );
        assert_eq!(st, 400, "{body}: {e}");
        assert_dpf_error(&e, attr);
    }
    let (_, n) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/count"),
        Some(tok),
        None,
    );
    assert_eq!(n["result"]["count"], 1);
    // Another tenant cannot stage into this zone: 404.
    assert_eq!(
        http(
            api,
            "POST",
            &format!("/dpf/v1/zones/{zone}/records"),
            Some(&other_tok),
            Some(r#"{"name":"evil","rrtype":"A","rdata":[{"value":"192.0.2.66"}]}"#)
        )
        .0,
        404
    );

    // Still not served: staged only.
    assert_eq!(kdig(server.dns, &["www.example.com", "A"]).rcode, "REFUSED");
    let (st, _) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
        Some(tok),
        Some(r#"{"description":"first"}"#),
    );
    assert_eq!(st, 202);
    let k = kdig(server.dns, &["www.example.com", "A"]);
    assert_eq!(
        k.answer,
        vec![
            "www.example.com. 300 IN A 192.0.2.10",
            "www.example.com. 300 IN A 192.0.2.11"
        ],
        "{}",
        k.raw
    );
    assert!(k.flags.contains(&"aa".to_string()));
    let soa = kdig(server.dns, &["example.com", "SOA"]);
    assert!(soa.answer[0].contains("ns1.platdns.test."), "{}", soa.raw);

    // Update, then commit with a stale If-Match: 412 and nothing changes.
    let (st, _) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/records/{rid}"),
        Some(tok),
        Some(r#"{"rdata":[{"value":"192.0.2.20"}]}"#),
    );
    assert_eq!(st, 202);
    let (_, diffs) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/diffs"),
        Some(tok),
        None,
    );
    // DPF's shape: one {"new", "old"} pair per staged record.
    let states: Vec<(i64, i64)> = diffs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["new"]["state"].as_i64().unwrap(), d["old"]["state"].as_i64().unwrap()))
        .collect();
    assert_eq!(states, vec![(3, 5)]);
    let mut s = TcpStream::connect(api).unwrap();
    let body = "{}";
    write!(s, "PATCH /dpf/v1/zones/{zone}/changes?wait=true HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {tok}\r\nIf-Match: \"0\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 412"), "{resp}");
    // The zone's ETag is the version a commit must name.
    let mut s = TcpStream::connect(api).unwrap();
    write!(
        s,
        "GET /dpf/v1/zones/{zone} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {tok}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.to_ascii_lowercase().contains("etag: \"1\""), "{resp}");
    assert_eq!(kdig(server.dns, &["www.example.com", "A"]).answer.len(), 2);
    http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
        Some(tok),
        Some("{}"),
    );
    assert_eq!(
        kdig(server.dns, &["www.example.com", "A"]).answer,
        vec!["www.example.com. 300 IN A 192.0.2.20"]
    );

    // Delete and commit: NXDOMAIN. Histories keep every commit's text.
    http(
        api,
        "DELETE",
        &format!("/dpf/v1/zones/{zone}/records/{rid}"),
        Some(tok),
        None,
    );
    http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
        Some(tok),
        Some(r#"{"description":"gone"}"#),
    );
    assert_eq!(kdig(server.dns, &["www.example.com", "A"]).rcode, "NXDOMAIN");
    let (_, h) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/zone_histories"),
        Some(tok),
        None,
    );
    let h = h["results"].as_array().unwrap();
    assert_eq!(h.len(), 3);
    // atomic_changes: the zone becomes exactly this set, in one commit.
    let set = json!({"records": [
        {"name": "example.com.", "ttl": 300, "rrtype": "SOA", "rdata": [{"value": "ignored. ignored. 1 2 3 4 5"}], "labels": {}, "description": ""},
        {"name": "api.example.com.", "ttl": 60, "rrtype": "AAAA", "rdata": [{"value": "2001:db8::1"}], "labels": {}, "description": ""},
        {"name": "example.com.", "ttl": null, "rrtype": "MX", "rdata": [{"value": "10 mail.example.com."}], "labels": {}, "description": ""},
    ], "description": "bulk"});
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/atomic_changes?wait=true"),
        Some(tok),
        Some(&set.to_string()),
    );
    assert_eq!(st, 202, "{e}");
    assert_eq!(
        kdig(server.dns, &["api.example.com", "AAAA"]).answer,
        vec!["api.example.com. 60 IN AAAA 2001:db8::1"]
    );
    assert_eq!(
        kdig(server.dns, &["example.com", "MX"]).answer,
        vec!["example.com. 3600 IN MX 10 mail.example.com."]
    );
    let bad = json!({"records": [{"name": "x", "ttl": 60, "rrtype": "A", "rdata": [{"value": "nope"}], "labels": {}, "description": ""}]});
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/atomic_changes?wait=true"),
        Some(tok),
        Some(&bad.to_string()),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "records[0].rdata");
    assert_eq!(
        kdig(server.dns, &["api.example.com", "AAAA"]).answer.len(),
        1,
        "a refused set changes nothing"
    );
    let (_, text) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/zone_histories/{}/text", h[0]["id"]),
        Some(tok),
        None,
    );
    assert!(
        text["result"]["text"]
            .as_str()
            .unwrap()
            .contains("www.example.com. 300 IN A 192.0.2.10"),
        "{text}"
    );
    // Each entry is the zone as its commit left it (kept as record versions,
    // not copies): the third commit deleted www, and its serial is one past
    // the first's.
    let (_, third) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/zone_histories/{}/text", h[2]["id"]),
        Some(tok),
        None,
    );
    let third = third["result"]["text"].as_str().unwrap();
    assert!(!third.contains("www.example.com."), "{third}");
    let serial_of = |text: &str| -> u64 {
        let soa = text.lines().find(|l| l.contains(" SOA ")).unwrap();
        soa.split_whitespace().nth(5).unwrap().parse().unwrap()
    };
    let first = text["result"]["text"].as_str().unwrap();
    assert_eq!(serial_of(third), serial_of(first) + 2, "{first}\n{third}");
    assert!(!third.contains("api.example.com."), "{third}");
}

#[test]
fn committed_zones_survive_a_kill_and_are_served_after_restart() {
    if !require("kdig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Platdns::start_in(dir.path(), &[], &[]);
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let (zone, tok) = tenant_with_zone(server.http, op.trim(), "acme", "example.com");
    http(
        server.http,
        "POST",
        &format!("/dpf/v1/zones/{zone}/records"),
        Some(&tok),
        Some(r#"{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.10"}],"ttl":300}"#),
    );
    http(
        server.http,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
        Some(&tok),
        Some("{}"),
    );
    // A staged, uncommitted edit must not be served after the restart either.
    http(
        server.http,
        "POST",
        &format!("/dpf/v1/zones/{zone}/records"),
        Some(&tok),
        Some(r#"{"name":"new","rrtype":"A","rdata":[{"value":"192.0.2.11"}]}"#),
    );
    server.signal("KILL");
    drop(server);

    let again = Platdns::start_in(dir.path(), &[], &[]);
    assert_eq!(
        kdig(again.dns, &["www.example.com", "A"]).answer,
        vec!["www.example.com. 300 IN A 192.0.2.10"]
    );
    assert_eq!(kdig(again.dns, &["new.example.com", "A"]).rcode, "NXDOMAIN");
    // The same token still works, and the staged edit is still staged.
    let (_, diffs) = http(
        again.http,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/diffs/count"),
        Some(&tok),
        None,
    );
    assert_eq!(diffs["result"]["count"], 1);
}

#[test]
fn default_ttl_is_staged_and_applied_by_the_commit() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let tok = tok.as_str();
    let (_, d) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/default_ttl"),
        Some(tok),
        None,
    );
    assert_eq!(
        (d["result"]["value"].as_i64(), d["result"]["state"].as_i64()),
        (Some(3600), Some(0))
    );
    http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zone}/records"),
        Some(tok),
        Some(r#"{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.1"}]}"#),
    );
    let (st, _) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/default_ttl"),
        Some(tok),
        Some(r#"{"value":120}"#),
    );
    assert_eq!(st, 202);
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/default_ttl"),
        Some(tok),
        Some(r#"{"value":0}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "value");
    let (_, diffs) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/default_ttl/diffs"),
        Some(tok),
        None,
    );
    assert_eq!(
        (
            diffs["results"][0]["new"]["value"].as_i64(),
            diffs["results"][0]["old"]["value"].as_i64()
        ),
        (Some(120), Some(3600))
    );
    http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
        Some(tok),
        Some("{}"),
    );
    // A record without its own TTL takes the zone's default.
    assert_eq!(
        kdig(server.dns, &["www.example.com", "A"]).answer,
        vec!["www.example.com. 120 IN A 192.0.2.1"]
    );
    let (_, d) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/default_ttl"),
        Some(tok),
        None,
    );
    assert_eq!(
        (d["result"]["value"].as_i64(), d["result"]["state"].as_i64()),
        (Some(120), Some(0))
    );

    // Every write is in the zone's operation log, under its job's request id.
    let (_, logs) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/logs?time_zone=%2B09:00"),
        Some(tok),
        None,
    );
    let ops: Vec<&str> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        vec!["adding_record", "updating_default_ttl", "commit_zone"],
        "{logs}"
    );
    assert!(logs["results"][0]["time"].as_str().unwrap().ends_with("+09:00"));
    assert_eq!(logs["results"][0]["request_id"].as_str().map(str::len), Some(32));
    let (_, desc) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/logs?order=DESC&_keywords_operation[]=commit_zone"),
        Some(tok),
        None,
    );
    assert_eq!(desc["results"].as_array().unwrap().len(), 1);
    let (st, e) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/logs?time_zone=Tokyo"),
        Some(tok),
        None,
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "time_zone");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(tok), None);
    let (_, n) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{}/logs/count", c["result"]["id"].as_str().unwrap()),
        Some(tok),
        None,
    );
    assert_eq!(
        n["result"]["count"], 0,
        "zone operations are in the zone's log, not the contract's"
    );

    // PATCH zone: description and favorite, checked.
    let (st, _) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}"),
        Some(tok),
        Some(r#"{"description":"main site","favorite":1}"#),
    );
    assert_eq!(st, 202);
    let (_, z) = http(api, "GET", &format!("/dpf/v1/zones/{zone}"), Some(tok), None);
    assert_eq!(
        (z["result"]["description"].as_str(), z["result"]["favorite"].as_i64()),
        (Some("main site"), Some(1))
    );
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}"),
        Some(tok),
        Some(r#"{"favorite":3}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "favorite");
}

#[test]
fn operator_cli_drives_the_operator_api() {
    let server = Platdns::start(&[], &[]);
    let api = format!("http://{}", server.http);
    let token_file = server.data_dir.join("operator.token");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_platdns"))
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
    let (ok, a) = cli(&["account", "create", "acme"]);
    assert!(ok, "{a}");
    let account = a["id"].as_i64().unwrap().to_string();
    let (ok, c) = cli(&[
        "contract",
        "create",
        "--account",
        &account,
        "--plan",
        "premium",
        "--extra-qps",
        "100",
    ]);
    assert!(ok, "{c}");
    assert_eq!(c["contract_qps"], 300);
    let contract = c["id"].as_str().unwrap().to_string();
    let (ok, z) = cli(&[
        "zone",
        "create",
        "--contract",
        &contract,
        "example.com",
        "--approve",
        "registrant confirmed",
    ]);
    assert!(ok, "{z}");
    assert_eq!(z["eligibility"]["reason"], "registrant confirmed");
    let (ok, t) = cli(&[
        "token",
        "create",
        "--account",
        &account,
        "--scope",
        "read,write",
        "--contract",
        &format!("{contract}:operator"),
    ]);
    assert!(ok, "{t}");
    assert!(t["token"].as_str().unwrap().starts_with("pdns_"));
    let (ok, list) = cli(&["contract", "list"]);
    assert!(ok);
    assert_eq!(list.as_array().unwrap().len(), 1);
    // Errors come back as DPF bodies, and the command fails.
    let (ok, e) = cli(&[
        "contract",
        "create",
        "--account",
        &account,
        "--plan",
        "basic",
        "--extra-qps",
        "100",
    ]);
    assert!(!ok);
    assert_dpf_error(&e, "extra_qps");
}

#[test]
fn tsig_keys_crud_and_isolation() {
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (_, other) = tenant_with_zone(api, op.trim(), "globex", "globex.test");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(&tok), None);
    let contract = c["result"]["id"].as_str().unwrap().to_string();
    let (st, job) = http(
        api,
        "POST",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(&tok),
        Some(r#"{"name":"xfr","description":"knot"}"#),
    );
    assert_eq!(st, 202, "{job}");
    let (_, j) = http(api, "GET", job["jobs_url"].as_str().unwrap(), Some(&tok), None);
    let key_url = j["resources_url"].as_str().unwrap().to_string();
    let (_, k) = http(api, "GET", &key_url, Some(&tok), None);
    assert_eq!(k["result"]["name"], format!("xfr.{contract}.platdns.test."));
    assert_eq!(k["result"]["algorithm"], 0);
    assert_eq!(k["result"]["secret"].as_str().unwrap().len(), 44, "32 octets in base64");
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(&tok),
        Some(r#"{"name":"-bad"}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "name");
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/contracts/{contract}/tsigs"),
        Some(&tok),
        Some(r#"{"name":"xfr"}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "name");
    // Another tenant sees none of it.
    assert_eq!(http(api, "GET", &key_url, Some(&other), None).0, 404);
    assert_eq!(
        http(
            api,
            "GET",
            &format!("/dpf/v1/contracts/{contract}/tsigs"),
            Some(&other),
            None
        )
        .0,
        404
    );
    assert_eq!(http(api, "DELETE", &key_url, Some(&other), None).0, 404);
    let (st, _) = http(api, "PATCH", &key_url, Some(&tok), Some(r#"{"description":"nsd"}"#));
    assert_eq!(st, 202);
    let (_, n) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{contract}/tsigs/count"),
        Some(&tok),
        None,
    );
    assert_eq!(n["result"]["count"], 1);
    assert_eq!(http(api, "DELETE", &key_url, Some(&tok), None).0, 202);
    assert_eq!(http(api, "GET", &key_url, Some(&tok), None).0, 404);
}

#[test]
fn r3_1_pending_zones_are_served_only_once_approved_and_r5_2_ended_contracts_stop() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let op = op.trim();
    let api = server.http;
    // No `approve`: the zone waits for the operator.
    let t = tenant(
        api,
        op,
        "acme",
        json!({"plan": "basic"}),
        json!({"name": "pending.test"}),
    );
    assert_eq!(t.zone["eligibility"]["state"], "pending");
    let (cid, zid, tok) = (t.contract, t.zone_id, t.token);
    http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zid}/records"),
        Some(&tok),
        Some(r#"{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.5"}]}"#),
    );
    let (st, _) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zid}/changes?wait=true"),
        Some(&tok),
        Some("{}"),
    );
    assert_eq!(st, 202);
    assert_eq!(
        kdig(server.dns, &["www.pending.test", "A"]).rcode,
        "REFUSED",
        "a pending zone is not served"
    );
    let (st, e) = http(
        api,
        "POST",
        &format!("/operator/v1/zones/{zid}/approval"),
        Some(op),
        Some(r#"{"reason":""}"#),
    );
    assert_eq!(st, 400);
    assert_dpf_error(&e, "reason");
    let (st, ap) = http(
        api,
        "POST",
        &format!("/operator/v1/zones/{zid}/approval"),
        Some(op),
        Some(r#"{"reason":"WHOIS registrant confirmed by phone"}"#),
    );
    assert_eq!(st, 200, "{ap}");
    assert_eq!(
        ap["result"]["eligibility"]["reason"],
        "WHOIS registrant confirmed by phone"
    );
    assert_eq!(
        kdig(server.dns, &["www.pending.test", "A"]).answer,
        vec!["www.pending.test. 3600 IN A 192.0.2.5"]
    );

    // An LB name of the same contract, served until the contract ends.
    let (_, lb) = http(
        api,
        "POST",
        "/operator/v1/lb_domains",
        Some(op),
        Some(&json!({"contract_id": cid, "name": "svc.lb.platdns.test."}).to_string()),
    );
    let lb = lb["result"]["id"].as_str().unwrap().to_string();
    let lb_config = json!({
        "monitorings": [{"resource_name": "up", "name": "up", "mtype": "static", "props": {"result": "up"}}],
        "sites": [{"resource_name": "s", "name": "s", "rrtype": "A", "endpoints": [
            {"resource_name": "e", "name": "e", "weight": 1, "enabled": true, "rdata": [{"value": "192.0.2.77"}],
             "monitorings": [{"resource_name": "up", "enabled": true}]}]}],
        "rules": [{"resource_name": "r", "name": "r", "methods": [
            {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": true, "methods": [
                {"method": {"resource_name": "x", "mtype": "exit_site", "enabled": true, "site_resource_name": "s"}}]}}]}]
    });
    let (st, e) = http(
        api,
        "PUT",
        &format!("/dpf/v1/lb_domains/{lb}/config"),
        Some(&tok),
        Some(&lb_config.to_string()),
    );
    assert_eq!(st, 202, "{e}");
    http(
        api,
        "PATCH",
        &format!("/dpf/v1/lb_domains/{lb}"),
        Some(&tok),
        Some(r#"{"rule_resource_name":"r"}"#),
    );
    assert_eq!(
        kdig(server.dns, &["svc.lb.platdns.test", "A"]).answer,
        vec!["svc.lb.platdns.test. 30 IN A 192.0.2.77"]
    );

    // A notice long past: the contract has ended, its zone and LB name stop
    // being served, and the operator still reads its data.
    let (_, t) = http(
        api,
        "POST",
        &format!("/operator/v1/contracts/{cid}/termination"),
        Some(op),
        Some(r#"{"notice_received":"2020-01-01"}"#),
    );
    assert_eq!(t["result"]["ends_on"], "2020-01-31");
    assert_eq!(kdig(server.dns, &["www.pending.test", "A"]).rcode, "REFUSED");
    let gone = kdig(server.dns, &["svc.lb.platdns.test", "A"]);
    assert!(
        gone.answer.is_empty(),
        "an ended contract's LB name answers nothing: {gone:?}"
    );
    let (_, zs) = http(api, "GET", "/operator/v1/zones", Some(op), None);
    assert_eq!(zs["results"].as_array().unwrap().len(), 1);
    // A later commit does not bring it back.
    http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zid}/changes?wait=true"),
        Some(&tok),
        Some("{}"),
    );
    assert_eq!(kdig(server.dns, &["www.pending.test", "A"]).rcode, "REFUSED");
}

#[test]
fn r3_1_consent_proven_by_a_txt_record_where_the_zone_is_served_today() {
    if !require("kdig") {
        return;
    }
    // The zone's current hosting: another name server on loopback.
    let dir = tempfile::tempdir().unwrap();
    let zonefile = dir.path().join("moving.test.zone");
    let hoster = Platdns::start(std::slice::from_ref(&zonefile), &[]);
    let server = Platdns::start(&[], &["--verify-resolver", &hoster.dns.to_string()]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let op = op.trim();
    let api = server.http;
    let t = tenant(
        api,
        op,
        "acme",
        json!({"plan": "basic"}),
        json!({"name": "moving.test"}),
    );
    let zid = t.zone_id;
    let token = t.zone["eligibility"]["txt_token"].as_str().unwrap().to_string();
    assert_eq!(t.zone["eligibility"]["txt_name"], "_platdns-challenge");

    // Not published yet: still pending.
    let (_, v) = http(
        api,
        "POST",
        &format!("/operator/v1/zones/{zid}/verification"),
        Some(op),
        Some("{}"),
    );
    assert_eq!(v["result"]["eligibility"]["state"], "pending", "{v}");
    // A wrong token does not count either.
    std::fs::write(&zonefile, "$ORIGIN moving.test.\n@ 300 SOA ns h 1 2 3 4 5\n@ 300 NS ns\nns 300 A 192.0.2.1\n_platdns-challenge 300 TXT \"platdns-verify=wrong\"\n").unwrap();
    hoster.signal("HUP");
    for _ in 0..100 {
        if kdig(hoster.dns, &["_platdns-challenge.moving.test", "TXT"]).rcode == "NOERROR" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, v) = http(
        api,
        "POST",
        &format!("/operator/v1/zones/{zid}/verification"),
        Some(op),
        Some("{}"),
    );
    assert_eq!(v["result"]["eligibility"]["state"], "pending");

    std::fs::write(&zonefile, format!("$ORIGIN moving.test.\n@ 300 SOA ns h 2 2 3 4 5\n@ 300 NS ns\nns 300 A 192.0.2.1\n_platdns-challenge 300 TXT \"{token}\"\n")).unwrap();
    hoster.signal("HUP");
    for _ in 0..100 {
        if kdig(hoster.dns, &["_platdns-challenge.moving.test", "TXT"])
            .answer
            .iter()
            .any(|a| a.contains(&token))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, v) = http(
        api,
        "POST",
        &format!("/operator/v1/zones/{zid}/verification"),
        Some(op),
        Some("{}"),
    );
    assert_eq!(
        (
            v["result"]["eligibility"]["state"].as_str(),
            v["result"]["eligibility"]["by"].as_str()
        ),
        (Some("verified"), Some("txt")),
        "{v}"
    );
}

/// A large commit as one `atomic_changes` body: `n` A records and a marker
/// TXT saying which round wrote them.
fn round_set(round: usize, n: usize) -> String {
    let mut recs: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("h{i}.example.com."), "ttl": 300, "rrtype": "A", "rdata": [{"value": format!("10.{}.{}.{}", round, i / 256 % 256, i % 256)}], "labels": {}, "description": ""}))
        .collect();
    recs.push(json!({"name": "marker.example.com.", "ttl": 300, "rrtype": "TXT", "rdata": [{"value": format!("\"round-{round}\"")}], "labels": {}, "description": ""}));
    json!({"records": recs}).to_string()
}

#[test]
fn sigkill_during_large_commits_leaves_each_zone_before_or_after_and_dns_equal_to_the_api() {
    if !require("kdig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut server = Platdns::start_in(dir.path(), &[], &[]);
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    let (zone, tok) = tenant_with_zone(server.http, op.trim(), "acme", "example.com");
    let started = std::time::Instant::now();
    let (st, _) = http(
        server.http,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/atomic_changes?wait=true"),
        Some(&tok),
        Some(&round_set(0, 3000)),
    );
    assert_eq!(st, 202);
    // Kill at fractions of a commit's duration: early, mid, late, and after.
    let commit_ms = started.elapsed().as_millis() as u64;
    let mut outcomes = Vec::new();
    let mut last_done = 0;
    for round in 1..=4 {
        let body = round_set(round, 3000);
        let (addr, path, tok2) = (
            server.http,
            format!("/dpf/v1/zones/{zone}/atomic_changes?wait=true"),
            tok.clone(),
        );
        let writer = std::thread::spawn(move || {
            // The connection may die with the server; that is the point.
            std::panic::catch_unwind(|| http(addr, "PATCH", &path, Some(&tok2), Some(&body)).0).unwrap_or(0)
        });
        // Kill at a different moment each round: early, mid-commit, late;
        // the last round right after the commit was acknowledged.
        let status = if round < 4 {
            std::thread::sleep(std::time::Duration::from_millis(commit_ms * [1, 5, 9][round - 1] / 10));
            server.signal("KILL");
            writer.join().unwrap()
        } else {
            let status = writer.join().unwrap();
            server.signal("KILL");
            status
        };
        drop(server);
        server = Platdns::start_in(dir.path(), &[], &[]);
        // The API says which round is applied; it is the previous one or this one.
        let (_, cur) = http(
            server.http,
            "GET",
            &format!("/dpf/v1/zones/{zone}/records/currents?_keywords_rrtype[]=TXT"),
            Some(&tok),
            None,
        );
        let marker = cur["results"][0]["rdata"][0]["value"]
            .as_str()
            .unwrap()
            .trim_matches('"')
            .to_string();
        let applied: usize = marker.trim_start_matches("round-").parse().unwrap();
        assert!(
            applied == last_done || applied == round,
            "round {round}: applied {applied}, before {last_done}"
        );
        if status == 202 {
            assert_eq!(applied, round, "an acknowledged commit must survive");
        }
        let (_, n) = http(
            server.http,
            "GET",
            &format!("/dpf/v1/zones/{zone}/records/currents/count"),
            Some(&tok),
            None,
        );
        assert_eq!(n["result"]["count"], 3001, "all of a round or none of it");
        // DNS serves exactly what the API says is applied.
        let k = kdig(server.dns, &["marker.example.com", "TXT"]);
        assert_eq!(
            k.answer,
            vec![format!("marker.example.com. 300 IN TXT \"round-{applied}\"")]
        );
        let k = kdig(server.dns, &["h2999.example.com", "A"]);
        assert_eq!(
            k.answer,
            vec![format!("h2999.example.com. 300 IN A 10.{applied}.11.183")]
        );
        outcomes.push(applied == round);
        last_done = applied;
    }
    // The last round was acknowledged before the kill: it must have landed.
    assert_eq!(outcomes.last(), Some(&true), "{outcomes:?}");
}

#[test]
fn labels_are_kept_checked_and_isolated_and_managed_servers_listed() {
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (_, other) = tenant_with_zone(api, op.trim(), "globex", "globex.test");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(&tok), None);
    let contract = c["result"]["id"].as_str().unwrap().to_string();
    for path in [
        format!("/dpf/v1/zones/{zone}/labels"),
        format!("/dpf/v1/contracts/{contract}/labels"),
    ] {
        let (st, l) = http(api, "GET", &path, Some(&tok), None);
        assert_eq!((st, &l["result"]["labels"]), (200, &json!({})), "{l}");
        let body = json!({"labels": {"env": "prod", "team": "東京"}}).to_string();
        let (st, job) = http(api, "PUT", &path, Some(&tok), Some(&body));
        assert_eq!(st, 202, "{job}");
        let (_, j) = http(api, "GET", job["jobs_url"].as_str().unwrap(), Some(&tok), None);
        assert_eq!(j["status"], "SUCCESSFUL", "{j}");
        let (_, l) = http(api, "GET", &path, Some(&tok), None);
        assert_eq!(l["result"]["labels"], json!({"env": "prod", "team": "東京"}));
        // A bad label: 400 naming `labels` with DPF's code; nothing changes.
        let (st, e) = http(api, "PUT", &path, Some(&tok), Some(r#"{"labels":{"bad key":"x"}}"#));
        assert_eq!(st, 400, "{e}");
        assert_dpf_error(&e, "labels");
        assert_eq!(e["error_details"][0]["code"], "invalid_char_type_key");
        let (_, l) = http(api, "GET", &path, Some(&tok), None);
        assert_eq!(l["result"]["labels"]["env"], "prod");
        // DPF `_keywords_label[]` ("Key=Value"): the list finds it by key
        // and value, or by key; not by a value alone; the labels stay out
        // of the answer.
        let list = if path.contains("/zones/") {
            "/dpf/v1/zones"
        } else {
            "/dpf/v1/contracts"
        };
        for (filter, want) in [
            ("env%3Dprod", 1),
            ("env", 1),
            ("ENV=PROD", 1),
            ("prod", 0),
            ("env=dev", 0),
        ] {
            let (st, found) = http(
                api,
                "GET",
                &format!("{list}?_keywords_label[]={filter}"),
                Some(&tok),
                None,
            );
            assert_eq!(st, 200, "{found}");
            assert_eq!(
                found["results"].as_array().unwrap().len(),
                want,
                "{list} {filter}: {found}"
            );
            assert!(found["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r.get("_labels").is_none()));
        }
        // Replaced whole.
        // `?wait=true` (our extension): the job has finished when the 202 comes.
        let (st, job) = http(
            api,
            "PUT",
            &format!("{path}?wait=true"),
            Some(&tok),
            Some(r#"{"labels":{}}"#),
        );
        assert_eq!(st, 202);
        let (_, j) = http(api, "GET", job["jobs_url"].as_str().unwrap(), Some(&tok), None);
        assert_eq!(j["status"], "SUCCESSFUL", "{j}");
        let (_, l) = http(api, "GET", &path, Some(&tok), None);
        assert_eq!(l["result"]["labels"], json!({}));
        // R1.2: another tenant sees 404 and changes nothing.
        for (method, body) in [("GET", None), ("PUT", Some(r#"{"labels":{"x":"y"}}"#))] {
            let (st, e) = http(api, method, &path, Some(&other), body);
            assert_eq!(st, 404, "{method} {path}: {e}");
            assert!(e.get("result").is_none());
        }
    }
    // A description over the reference's 80 characters is refused, naming it.
    let long = "x".repeat(81);
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/zones/{zone}/records"),
        Some(&tok),
        Some(&json!({"name": "d", "rrtype": "A", "rdata": [{"value": "192.0.2.1"}], "description": long}).to_string()),
    );
    assert_eq!(st, 400, "{e}");
    assert_dpf_error(&e, "description");
    // null where the reference allows none is refused, naming the field.
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}"),
        Some(&tok),
        Some(r#"{"favorite":null}"#),
    );
    assert_eq!(st, 400, "{e}");
    assert_dpf_error(&e, "favorite");
    let (st, e) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/logs?end_date=2026-02-30"),
        Some(&tok),
        None,
    );
    assert_eq!(st, 400, "{e}");
    assert_dpf_error(&e, "end_date");
    let (st, m) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/managed_dns_servers"),
        Some(&tok),
        None,
    );
    assert_eq!(st, 200);
    assert_eq!(m["results"], json!(["ns1.platdns.test.", "ns2.platdns.test."]));
    let (st, _) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/managed_dns_servers"),
        Some(&other),
        None,
    );
    assert_eq!(st, 404);
}

#[test]
fn put_records_stages_a_whole_set_that_the_next_commit_serves() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (_, other) = tenant_with_zone(api, op.trim(), "globex", "globex.test");
    let tok = tok.as_str();
    let rec = |name: &str, rrtype: &str, value: &str| json!({"name": name, "ttl": 60, "rrtype": rrtype, "rdata": [{"value": value}], "labels": {}, "description": ""});
    let put = |set: Value, who: &str| {
        http(
            api,
            "PUT",
            &format!("/dpf/v1/zones/{zone}/records?wait=true"),
            Some(who),
            Some(&json!({ "records": set }).to_string()),
        )
    };
    let commit = || {
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
            Some(tok),
            Some("{}"),
        );
        assert_eq!(st, 202, "{e}");
    };
    let (st, e) = put(
        json!([
            rec("www.example.com.", "A", "192.0.2.1"),
            rec("old.example.com.", "TXT", "\"x\"")
        ]),
        tok,
    );
    assert_eq!(st, 202, "{e}");
    assert_eq!(
        kdig(server.dns, &["www.example.com", "A"]).rcode,
        "REFUSED",
        "not served before a commit"
    );
    commit();
    assert_eq!(kdig(server.dns, &["www.example.com", "A"]).answer.len(), 1);
    // The second set keeps www, changes nothing else of it, drops old, adds api.
    let (st, _) = put(
        json!([
            rec("www.example.com.", "A", "192.0.2.1"),
            rec("api.example.com.", "AAAA", "2001:db8::1")
        ]),
        tok,
    );
    assert_eq!(st, 202);
    let (_, diffs) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/diffs"),
        Some(tok),
        None,
    );
    assert_eq!(diffs["results"].as_array().unwrap().len(), 2, "{diffs}");
    assert_eq!(
        kdig(server.dns, &["old.example.com", "TXT"]).answer.len(),
        1,
        "staged, not served"
    );
    commit();
    assert_eq!(kdig(server.dns, &["old.example.com", "TXT"]).rcode, "NXDOMAIN");
    assert_eq!(
        kdig(server.dns, &["api.example.com", "AAAA"]).answer,
        vec!["api.example.com. 60 IN AAAA 2001:db8::1"]
    );
    // Bad sets: a record outside the zone names its index; nothing staged.
    let (st, e) = put(json!([rec("www.elsewhere.test.", "A", "192.0.2.1")]), tok);
    assert_eq!(st, 400, "{e}");
    assert_dpf_error(&e, "records[0].name");
    let (st, e) = put(
        json!([
            rec("a.example.com.", "A", "192.0.2.1"),
            rec("a.example.com.", "A", "192.0.2.2")
        ]),
        tok,
    );
    assert_eq!(st, 400, "{e}");
    let (_, diffs) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zone}/records/diffs"),
        Some(tok),
        None,
    );
    assert_eq!(diffs["results"].as_array().unwrap().len(), 0, "{diffs}");
    // R1.2.
    let (st, _) = put(json!([rec("x.example.com.", "A", "192.0.2.1")]), &other);
    assert_eq!(st, 404);
}

#[test]
fn lb_domain_config_is_replaced_whole_or_not_at_all() {
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (_, other) = tenant_with_zone(api, op.trim(), "globex", "globex.test");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(&tok), None);
    let contract = c["result"]["id"].as_str().unwrap().to_string();
    let (st, lb) = http(
        api,
        "POST",
        "/operator/v1/lb_domains",
        Some(op.trim()),
        Some(&json!({ "contract_id": contract }).to_string()),
    );
    assert_eq!(st, 201, "{lb}");
    let id = lb["result"]["id"].as_str().unwrap().to_string();
    assert!(
        lb["result"]["name"].as_str().unwrap().ends_with(".lb.platdns.test."),
        "{lb}"
    );
    let config = |sites: Value| {
        json!({
            "monitorings": [{"resource_name": "up", "name": "up", "mtype": "static", "description": "", "props": {"result": "up"}},
                            {"resource_name": "web", "name": "web", "mtype": "http", "description": "", "props": {"path": "/health"}}],
            "sites": sites,
            "rules": [{"resource_name": "main", "name": "main", "description": "", "methods": [
                {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": true, "methods": [
                    {"method": {"resource_name": "fo", "mtype": "failover", "enabled": true, "methods": [
                        {"priority": 1, "method": {"resource_name": "to-web", "mtype": "exit_site", "enabled": true, "site_resource_name": "web"}},
                        {"priority": 2, "method": {"resource_name": "to-backup", "mtype": "exit_site", "enabled": true, "site_resource_name": "backup"}}
                    ]}}
                ]}}
            ]}]
        })
    };
    let endpoint = |rn: &str, ip: &str, mon: &str| {
        json!({"resource_name": rn, "name": rn, "weight": 1, "enabled": true, "rdata": [{"value": ip}],
               "monitorings": [{"resource_name": mon, "enabled": true}]})
    };
    let good = config(json!([
        {"resource_name": "web", "name": "web", "rrtype": "A", "endpoints": [endpoint("w1", "192.0.2.1", "web")]},
        {"resource_name": "backup", "name": "backup", "rrtype": "A", "endpoints": [endpoint("b1", "198.51.100.1", "up")]}
    ]));
    let path = format!("/dpf/v1/lb_domains/{id}/config");
    let (st, e) = http(api, "PUT", &path, Some(&tok), Some(&good.to_string()));
    assert_eq!(st, 202, "{e}");
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/lb_domains/{id}"),
        Some(&tok),
        Some(r#"{"rule_resource_name":"main"}"#),
    );
    assert_eq!(st, 202, "{e}");
    // Served at once: the web site's http monitoring is unknown until the
    // monitor runs, so the failover answers from the backup site.
    let name = lb["result"]["name"].as_str().unwrap().to_string();
    if require("kdig") {
        let a = kdig(server.dns, &[&name, "A"]);
        assert_eq!(a.answer, vec![format!("{name} 30 IN A 198.51.100.1")], "{a:?}");
        let none = kdig(server.dns, &[&name, "AAAA"]);
        assert_eq!(
            (none.rcode.as_str(), none.answer.len()),
            ("NOERROR", 0),
            "no entry_aaaa: NODATA"
        );
    }
    // An error anywhere: 400 naming the JSONPath, and nothing changes.
    let mut bad = good.clone();
    bad["sites"][1]["endpoints"][0]["weight"] = json!(300);
    bad["sites"][0]["name"] = json!("renamed");
    let (st, e) = http(api, "PUT", &path, Some(&tok), Some(&bad.to_string()));
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error_details"][0]["target"], "$.sites[1].endpoints[0].weight", "{e}");
    // Dropping the applied rule is refused too (DPF rule_in_use).
    let mut norule = good.clone();
    norule["rules"][0]["resource_name"] = json!("other");
    let (st, e) = http(api, "PUT", &path, Some(&tok), Some(&norule.to_string()));
    assert_eq!(st, 400, "{e}");
    let (_, got) = http(api, "GET", &path, Some(&tok), None);
    let r = &got["result"];
    assert_eq!(r["sites"][0]["name"], "web", "unchanged: {got}");
    // Statuses: the http monitoring is unknown until the monitor runs, so the
    // web site is down; the static one is up, so backup answers.
    assert_eq!(r["sites"][0]["live_status"], "down");
    assert_eq!(r["sites"][1]["live_status"], "up");
    assert_eq!(r["sites"][1]["endpoints"][0]["ready_status"], "up");
    let fo = &r["rules"][0]["methods"][0]["method"]["methods"][0]["method"];
    assert_eq!(fo["ready_status"], "up", "{fo}");
    assert_eq!(fo["methods"][0]["method"]["live_status"], "down");
    // The applied rule must exist; another tenant sees 404.
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/lb_domains/{id}"),
        Some(&tok),
        Some(r#"{"rule_resource_name":"nope"}"#),
    );
    assert_eq!(st, 400, "{e}");
    for (method, body) in [("GET", None), ("PUT", Some(good.to_string()))] {
        let (st, _) = http(api, method, &path, Some(&other), body.as_deref());
        assert_eq!(st, 404, "{method}");
    }
    // The preferred site comes up (its endpoint now watched by a static up
    // monitoring): the next query moves to it.
    let mut web_up = good.clone();
    web_up["sites"][0]["endpoints"][0]["monitorings"][0]["resource_name"] = json!("up");
    let (st, e) = http(api, "PUT", &path, Some(&tok), Some(&web_up.to_string()));
    assert_eq!(st, 202, "{e}");
    if require("kdig") {
        assert_eq!(
            kdig(server.dns, &[&name, "A"]).answer,
            vec![format!("{name} 30 IN A 192.0.2.1")]
        );
    }
    // The parts' CRUD edits the same configuration, checked whole.
    let lbp = format!("/dpf/v1/lb_domains/{id}");
    for (path, kind) in [
        ("monitorings/up", "monitoring"),
        ("sites/backup", "site"),
        ("rules/main", "rule"),
    ] {
        let (st, e) = http(api, "DELETE", &format!("{lbp}/{path}"), Some(&tok), None);
        assert_eq!(
            (st, e["error_details"][0]["code"].as_str()),
            (400, Some("forbidden")),
            "{path}: {e}"
        );
        assert_eq!(e["error_details"][0]["attribute"], kind);
    }
    let (st, e) = http(
        api,
        "PATCH",
        &format!("{lbp}/sites/web/endpoints/w1"),
        Some(&tok),
        Some(r#"{"weight":300}"#),
    );
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error_details"][0]["target"], "$.sites[0].endpoints[0].weight");
    let (_, w1) = http(api, "GET", &format!("{lbp}/sites/web/endpoints/w1"), Some(&tok), None);
    assert_eq!(w1["result"]["weight"], 1, "unchanged");
    // Disabling the preferred exit sends the next query to the backup.
    let (st, e) = http(
        api,
        "PATCH",
        &format!("{lbp}/rules/main/rule_methods/to-web"),
        Some(&tok),
        Some(r#"{"method":{"enabled":false}}"#),
    );
    assert_eq!(st, 202, "{e}");
    if require("kdig") {
        assert_eq!(
            kdig(server.dns, &[&name, "A"]).answer,
            vec![format!("{name} 30 IN A 198.51.100.1")]
        );
    }
    let (_, methods) = http(api, "GET", &format!("{lbp}/rules/main/rule_methods"), Some(&tok), None);
    let to_web = methods["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["method"]["resource_name"] == "to-web")
        .unwrap();
    assert_eq!(
        (
            &to_web["method"]["enabled"],
            &to_web["method"]["parent_resource_name"],
            &to_web["priority"]
        ),
        (&json!(false), &json!("fo"), &json!(1))
    );
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/lb_domains/{id}/logs"), Some(&tok), None);
    // The tenant's operations (state changes are `monitoring_event` entries).
    let ops: Vec<&str> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["log_type"] != "monitoring_event")
        .map(|l| l["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "file_import",
            "update_lb_domain_rule",
            "file_import",
            "update_rule_method"
        ],
        "{logs}"
    );
    let (_, clogs) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{contract}/logs"),
        Some(&tok),
        None,
    );
    assert!(clogs["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["operation"] != "file_import"));
}

/// An HTTP endpoint for health probes: 200 "ok" until the test says
/// otherwise (503, or a body that stops matching).
fn health_server() -> TestServer {
    let web = http_server(None);
    web.set(200, "ok");
    web
}

/// An LB domain `shop.lb.platdns.test.` whose rule fails over from a site
/// watched by an http monitoring of `port` (A 192.0.2.1) to a backup site
/// (static up, A 198.51.100.1). Returns the LB domain id and the token.
fn failover_lb(api: SocketAddr, op: &str, port: u16, interval: u64, holdtime: u64) -> (String, String) {
    failover_lb_with(api, op, port, interval, holdtime, false)
}

fn failover_lb_with(
    api: SocketAddr,
    op: &str,
    port: u16,
    interval: u64,
    holdtime: u64,
    manual_failback: bool,
) -> (String, String) {
    let web = json!({"resource_name": "web", "name": "web", "mtype": "http", "description": "",
        "props": {"interval": interval, "holdtime": holdtime, "timeout": 1, "port": port, "path": "/health", "status_codes": ["200"]}});
    failover_lb_watched(api, op, web, manual_failback)
}

/// As [`failover_lb`], the web site watched by the monitoring `web` given.
fn failover_lb_watched(api: SocketAddr, op: &str, web: Value, manual_failback: bool) -> (String, String) {
    let (zone, tok) = tenant_with_zone(api, op, "acme", "example.com");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(&tok), None);
    let contract = c["result"]["id"].as_str().unwrap().to_string();
    let (_, lb) = http(
        api,
        "POST",
        "/operator/v1/lb_domains",
        Some(op),
        Some(&json!({ "contract_id": contract, "name": "shop.lb.platdns.test." }).to_string()),
    );
    let id = lb["result"]["id"].as_str().unwrap().to_string();
    let config = json!({
        "monitorings": [
            web,
            {"resource_name": "up", "name": "up", "mtype": "static", "description": "", "props": {"result": "up"}}
        ],
        "sites": [
            {"resource_name": "web", "name": "web", "rrtype": "A", "endpoints": [
                {"resource_name": "w1", "name": "w1", "monitoring_target": "127.0.0.1", "weight": 1, "enabled": true,
                 "manual_failback": manual_failback,
                 "rdata": [{"value": "192.0.2.1"}], "monitorings": [{"resource_name": "web", "enabled": true}]}]},
            {"resource_name": "backup", "name": "backup", "rrtype": "A", "endpoints": [
                {"resource_name": "b1", "name": "b1", "weight": 1, "enabled": true,
                 "rdata": [{"value": "198.51.100.1"}], "monitorings": [{"resource_name": "up", "enabled": true}]}]}
        ],
        "rules": [{"resource_name": "main", "name": "main", "methods": [
            {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": true, "methods": [
                {"method": {"resource_name": "fo", "mtype": "failover", "enabled": true, "methods": [
                    {"priority": 1, "method": {"resource_name": "to-web", "mtype": "exit_site", "enabled": true, "site_resource_name": "web"}},
                    {"priority": 2, "method": {"resource_name": "to-backup", "mtype": "exit_site", "enabled": true, "site_resource_name": "backup"}}
                ]}}
            ]}}
        ]}]
    });
    let (st, e) = http(
        api,
        "PUT",
        &format!("/dpf/v1/lb_domains/{id}/config"),
        Some(&tok),
        Some(&config.to_string()),
    );
    assert_eq!(st, 202, "{e}");
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/lb_domains/{id}"),
        Some(&tok),
        Some(r#"{"rule_resource_name":"main"}"#),
    );
    assert_eq!(st, 202, "{e}");
    (id, tok)
}

const LB_WEB: &str = "shop.lb.platdns.test. 30 IN A 192.0.2.1";
const LB_BACKUP: &str = "shop.lb.platdns.test. 30 IN A 198.51.100.1";

/// Polls `kdig` until the LB name answers `want`; returns how long it took.
fn wait_for_lb(dns: SocketAddr, want: &str, limit: std::time::Duration) -> std::time::Duration {
    let t0 = std::time::Instant::now();
    loop {
        let got = kdig(dns, &["shop.lb.platdns.test", "A"]).answer;
        if got == [want.to_string()] {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "still {got:?} after {:?}, wanted {want}",
            t0.elapsed()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn an_http_endpoint_failing_moves_the_answer_to_the_next_site_and_back() {
    if !require("kdig") {
        return;
    }
    let web = health_server();
    let port = web.port();
    let server = Platdns::start(&[], &["--lb-min-interval", "1"]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (interval, holdtime) = (1u64, 1u64);
    let (id, tok) = failover_lb(api, op.trim(), port, interval, holdtime);
    // The issue's bound: interval + holdtime + 2 s.
    let bound = std::time::Duration::from_secs(interval + holdtime + 2);
    wait_for_lb(server.dns, LB_WEB, bound * 2);
    web.set(503, "down");
    let took = wait_for_lb(server.dns, LB_BACKUP, bound * 2);
    assert!(took <= bound, "failover took {took:?}, bound {bound:?}");
    // GET config shows why.
    let (_, got) = http(api, "GET", &format!("/dpf/v1/lb_domains/{id}/config"), Some(&tok), None);
    assert_eq!(
        got["result"]["sites"][0]["endpoints"][0]["monitorings"][0]["result"], "down",
        "{got}"
    );
    // explain says it in words.
    let (st, why) = http(
        api,
        "GET",
        &format!("/dpf/v1/lb_domains/{id}/explain?qtype=A"),
        Some(&tok),
        None,
    );
    assert_eq!(st, 200, "{why}");
    let r = &why["result"];
    assert_eq!(r["answer"]["site"], "backup", "{why}");
    assert_eq!(r["answer"]["candidates"][0]["values"], json!(["198.51.100.1"]));
    assert_eq!(r["endpoints"][0]["reason"], "monitoring web: down", "{why}");
    assert_eq!(r["endpoints"][1]["reason"], "ready");
    web.set(200, "ok");
    let took = wait_for_lb(server.dns, LB_WEB, bound * 2);
    assert!(took <= bound, "failback took {took:?}, bound {bound:?}");
}

#[test]
fn after_a_restart_the_first_answer_is_the_last_known_one() {
    if !require("kdig") {
        return;
    }
    let web = health_server();
    let port = web.port();
    let dir = tempfile::tempdir().unwrap();
    let server = Platdns::start_in(dir.path(), &[], &["--lb-min-interval", "1"]);
    let op = std::fs::read_to_string(dir.path().join("operator.token")).unwrap();
    failover_lb(server.http, op.trim(), port, 1, 0);
    wait_for_lb(server.dns, LB_WEB, std::time::Duration::from_secs(15));
    drop(server);
    // The endpoint fails while the node is down; the restarted node probes
    // nothing (--no-monitor), so what it answers is what it stored.
    web.set(503, "down");
    let server = Platdns::start_in(dir.path(), &[], &["--lb-min-interval", "1", "--no-monitor"]);
    assert_eq!(
        kdig(server.dns, &["shop.lb.platdns.test", "A"]).answer,
        vec![LB_WEB.to_string()],
        "the last known state, not all down"
    );
}

#[test]
fn manual_failback_keeps_a_recovered_endpoint_out_until_the_operator_puts_it_back() {
    if !require("kdig") {
        return;
    }
    let web = health_server();
    let port = web.port();
    let server = Platdns::start(&[], &["--lb-min-interval", "1"]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (id, tok) = failover_lb_with(api, op.trim(), port, 1, 0, true);
    let ep = format!("/dpf/v1/lb_domains/{id}/sites/web/endpoints/w1");
    let limit = std::time::Duration::from_secs(15);
    // Live comes up, but manual failback holds Ready down: the backup answers
    // until the operator puts the endpoint back.
    let t0 = std::time::Instant::now();
    loop {
        let (_, got) = http(api, "GET", &format!("/dpf/v1/lb_domains/{id}/config"), Some(&tok), None);
        let e = &got["result"]["sites"][0]["endpoints"][0];
        if e["live_status"] == "up" {
            assert_eq!(e["ready_status"], "down", "{e}");
            break;
        }
        assert!(t0.elapsed() < limit, "never live: {e}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    wait_for_lb(server.dns, LB_BACKUP, limit);
    let (st, e) = http(api, "POST", &format!("{ep}/failback"), Some(&tok), Some("{}"));
    assert_eq!(st, 202, "{e}");
    wait_for_lb(server.dns, LB_WEB, limit);
    // Down is followed.
    web.set(503, "down");
    wait_for_lb(server.dns, LB_BACKUP, limit);
    let (st, e) = http(api, "POST", &format!("{ep}/failback"), Some(&tok), Some("{}"));
    assert_eq!(st, 400, "failback while Live is down needs force: {e}");
    assert_eq!(e["error_details"][0]["code"], "invalid_live_status");
    // Recovery is not: still the backup well after interval + 2 s.
    web.set(200, "ok");
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert_eq!(
        kdig(server.dns, &["shop.lb.platdns.test", "A"]).answer,
        vec![LB_BACKUP.to_string()]
    );
    let (st, e) = http(api, "POST", &format!("{ep}/failback"), Some(&tok), None);
    assert_eq!(st, 202, "{e}");
    wait_for_lb(server.dns, LB_WEB, limit);
    // Failover needs manual_failover; this endpoint has only manual_failback.
    let (st, e) = http(api, "POST", &format!("{ep}/failover"), Some(&tok), None);
    assert_eq!(st, 400, "{e}");
    assert_eq!(e["error_details"][0]["code"], "forbidden");
}

#[test]
fn a_closed_tcp_port_and_a_body_that_stops_matching_move_the_answer() {
    if !require("kdig") {
        return;
    }
    use std::sync::atomic::{AtomicBool, Ordering};
    let limit = std::time::Duration::from_secs(15);
    // TCP: a listener that the test closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let open = std::sync::Arc::new(AtomicBool::new(true));
    let accepting = {
        let open = open.clone();
        std::thread::spawn(move || {
            while open.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((c, _)) => drop(c),
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
            // The listener is dropped here: the port closes.
        })
    };
    let server = Platdns::start(&[], &["--lb-min-interval", "1"]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let tcp = json!({"resource_name": "web", "name": "web", "mtype": "tcp", "description": "",
        "props": {"interval": 1, "holdtime": 0, "timeout": 1, "port": port}});
    failover_lb_watched(server.http, op.trim(), tcp, false);
    wait_for_lb(server.dns, LB_WEB, limit);
    open.store(false, Ordering::SeqCst);
    accepting.join().unwrap();
    wait_for_lb(server.dns, LB_BACKUP, limit);
    drop(server);

    // HTTP body match: 200 all along, but the body stops containing "ok".
    let web = health_server();
    let port = web.port();
    let server = Platdns::start(&[], &["--lb-min-interval", "1"]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let body = json!({"resource_name": "web", "name": "web", "mtype": "http", "description": "",
        "props": {"interval": 1, "holdtime": 0, "timeout": 1, "port": port, "path": "/health", "response_match": "ok"}});
    failover_lb_watched(server.http, op.trim(), body, false);
    wait_for_lb(server.dns, LB_WEB, limit);
    web.set(200, "gone");
    wait_for_lb(server.dns, LB_BACKUP, limit);
}

/// An SMTP server (Python's aiosmtpd, Debian `python3-aiosmtpd`) that
/// appends each message it accepts to `out`, one JSON line per message.
/// Killed on drop.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    out: std::path::PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    fn start(dir: &std::path::Path) -> SmtpSink {
        let port = free_port();
        let out = dir.join("mail.jsonl");
        let script = r#"
import json, sys, time
from aiosmtpd.controller import Controller
class Sink:
    async def handle_DATA(self, server, session, envelope):
        with open(sys.argv[2], "a") as f:
            f.write(json.dumps({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                                "data": envelope.content.decode("utf-8", "replace")}) + "\n")
        return "250 OK"
c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;
        // Debian's interpreter, where python3-aiosmtpd installs (a PATH
        // python3 may be another).
        let python = if std::path::Path::new("/usr/bin/python3").exists() {
            "/usr/bin/python3"
        } else {
            "python3"
        };
        let mut child = std::process::Command::new(python)
            .args(["-c", script, &port.to_string(), out.to_str().unwrap()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (apt-get install python3-aiosmtpd)");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "aiosmtpd did not start (apt-get install python3-aiosmtpd)"
        );
        SmtpSink { child, port, out }
    }

    fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// A webhook receiver: answers the first `fail_first` requests 503, then
/// 200; keeps every request body.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(u16, String)>>>;

fn webhook_server(fail_first: usize) -> (u16, Seen) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) == 0 {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).unwrap();
            let mut seen = kept.lock().unwrap();
            let status = if seen.len() < fail_first { 503 } else { 200 };
            seen.push((status, String::from_utf8(body).unwrap()));
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (port, seen)
}

#[test]
fn a_state_change_is_mailed_through_the_relay_and_posted_to_the_webhook_with_retries() {
    if !require("kdig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let smtp = SmtpSink::start(dir.path());
    let (hook_port, hooks) = webhook_server(1);
    let web = health_server();
    let port = web.port();
    let relay = format!("127.0.0.1:{}", smtp.port);
    let hook = format!("http://127.0.0.1:{hook_port}/hooks/secret-token");
    let server = Platdns::start(
        &[],
        &[
            "--lb-min-interval",
            "1",
            "--smtp-relay",
            &relay,
            "--smtp-from",
            "alerts@platdns.test",
            "--notify-webhook",
            &hook,
            "--notify-retry",
            "1",
        ],
    );
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (id, tok) = failover_lb(api, op.trim(), port, 1, 0);
    wait_for_lb(server.dns, LB_WEB, std::time::Duration::from_secs(8));
    // The LB domain's common configuration gets a notice account.
    let (_, lb) = http(api, "GET", &format!("/dpf/v1/lb_domains/{id}"), Some(&tok), None);
    let cc = lb["result"]["common_config_id"].as_i64().unwrap();
    let account = json!({"name": "Ops", "lang": "en_US",
        "props": {"mail": "ops@example.com", "phone": {"country_code": "81", "number": "0312345678"}}});
    let (st, e) = http(
        api,
        "POST",
        &format!("/dpf/v1/common_configs/{cc}/cc_notice_accounts"),
        Some(&tok),
        Some(&account.to_string()),
    );
    assert_eq!(st, 202, "{e}");
    web.set(503, "down");
    wait_for_lb(server.dns, LB_BACKUP, std::time::Duration::from_secs(8));
    // The mail reaches the SMTP server, the webhook its receiver after one 503.
    let t0 = std::time::Instant::now();
    while (smtp.messages().is_empty() || hooks.lock().unwrap().len() < 2) && t0.elapsed().as_secs() < 15 {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mail = smtp.messages();
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["to"], json!(["ops@example.com"]));
    assert_eq!(mail[0]["from"], "alerts@platdns.test");
    let text = mail[0]["data"].as_str().unwrap();
    assert!(text.contains("shop.lb.platdns.test."), "{text}");
    assert!(
        text.contains("endpoint_ready_status_changed web/w1: up -> down"),
        "{text}"
    );
    assert!(text.contains("site_live_status_changed web: up -> down"), "{text}");
    let hooks = hooks.lock().unwrap().clone();
    assert_eq!(hooks.len(), 2, "one 503, then delivered: {hooks:?}");
    assert_eq!(hooks[0].1, hooks[1].1, "the retry sends the same");
    let posted: Value = serde_json::from_str(&hooks[1].1).unwrap();
    assert_eq!(posted["lb_domain"]["id"], id.as_str());
    assert_eq!(posted["notice_accounts"][0]["phone"]["number"], "0312345678");
    assert!(posted["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["operation"] == "endpoint_ready_status_changed" && c["new"] == "down"));
    // The LB domain's log has the events; the contract's, the deliveries.
    let (_, logs) = http(api, "GET", &format!("/dpf/v1/lb_domains/{id}/logs"), Some(&tok), None);
    let ops: Vec<&str> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["operation"].as_str().unwrap())
        .collect();
    for want in [
        "monitoring_result_changed",
        "endpoint_live_status_changed",
        "endpoint_ready_status_changed",
        "site_live_status_changed",
    ] {
        assert!(ops.contains(&want), "{want} not in {ops:?}");
    }
    let (_, c) = http(
        api,
        "GET",
        &format!("/dpf/v1/lb_domains/{id}/contract"),
        Some(&tok),
        None,
    );
    let contract = c["result"]["id"].as_str().unwrap();
    let (_, logs) = http(
        api,
        "GET",
        &format!("/dpf/v1/contracts/{contract}/logs"),
        Some(&tok),
        None,
    );
    let deliveries: Vec<(String, String, String)> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["log_type"] == "notification")
        .map(|l| {
            (
                l["operation"].as_str().unwrap().to_string(),
                l["status"].as_str().unwrap().to_string(),
                l["target"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let has = |op: &str, status: &str| deliveries.iter().any(|(o, s, _)| o == op && s == status);
    assert!(has("mail_notification", "success"), "{deliveries:?}");
    assert!(has("phone_notification", "retry"), "{deliveries:?}");
    assert!(has("phone_notification", "success"), "{deliveries:?}");
    assert!(
        deliveries.iter().all(|(_, _, t)| !t.contains("secret-token")),
        "a webhook URL's path stays out of the log: {deliveries:?}"
    );
}

#[test]
fn common_configs_move_services_all_or_none_and_stay_with_their_tenant() {
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (other_zone, other) = tenant_with_zone(api, op.trim(), "globex", "globex.test");
    let contract_of = |zone: &str, tok: &str| {
        let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(tok), None);
        c["result"]["id"].as_str().unwrap().to_string()
    };
    let cid = contract_of(&zone, &tok);
    let (_, z) = http(api, "GET", &format!("/dpf/v1/zones/{zone}"), Some(&tok), None);
    let default = z["result"]["common_config_id"].as_i64().unwrap();
    let base = format!("/dpf/v1/contracts/{cid}/common_configs");
    let (st, e) = http(api, "POST", &base, Some(&tok), Some(r#"{"name":"night"}"#));
    assert_eq!(st, 202, "{e}");
    let (st, e) = http(api, "POST", &base, Some(&tok), Some(r#"{"name":"night"}"#));
    assert_eq!(st, 400);
    assert_eq!(
        e["error_details"][0],
        json!({"code": "duplicated", "attribute": "name"})
    );
    let (_, all) = http(api, "GET", &base, Some(&tok), None);
    let night = all["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "night")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(all["results"][0]["default"], 1);
    // A list naming a zone that is not the contract's moves nothing.
    let body = json!({"common_config_id": night, "zone_ids": [zone, other_zone]}).to_string();
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/contracts/{cid}/zones/common_configs"),
        Some(&tok),
        Some(&body),
    );
    assert_eq!(st, 400, "{e}");
    assert_eq!(
        e["error_details"][0],
        json!({"code": "not_found", "attribute": "zones"})
    );
    let (_, z) = http(api, "GET", &format!("/dpf/v1/zones/{zone}"), Some(&tok), None);
    assert_eq!(z["result"]["common_config_id"], default, "nothing moved");
    // In use: not deleted (DPF forbidden); once moved: deleted.
    let (st, e) = http(api, "DELETE", &format!("{base}/{night}"), Some(&tok), None);
    assert_eq!((st, e["error_details"][0]["code"].as_str()), (202, None), "unused: {e}");
    let (st, e) = http(api, "DELETE", &format!("{base}/{default}"), Some(&tok), None);
    assert_eq!(st, 400);
    assert_eq!(
        e["error_details"][0],
        json!({"code": "forbidden", "attribute": "common_config"})
    );
    // R1.2: another tenant sees none of it, 404 not 403.
    let other_cid = contract_of(&other_zone, &other);
    for path in [
        format!("{base}/{default}"),
        format!("/dpf/v1/contracts/{other_cid}/common_configs/{default}"),
        format!("/dpf/v1/common_configs/{default}/cc_notice_accounts"),
    ] {
        let (st, _) = http(api, "GET", &path, Some(&other), None);
        assert_eq!(st, 404, "{path}");
    }
    let (st, _) = http(
        api,
        "POST",
        &format!("/dpf/v1/common_configs/{default}/cc_notice_accounts"),
        Some(&other),
        Some(r#"{"name":"x","lang":"ja"}"#),
    );
    assert_eq!(st, 404);
    // Notice accounts: DPF's phone rules.
    let accounts = format!("/dpf/v1/common_configs/{default}/cc_notice_accounts");
    let (st, e) = http(
        api,
        "POST",
        &accounts,
        Some(&tok),
        Some(r#"{"name":"Ops","lang":"ja","props":{"phone":{"country_code":"","number":"0312345678"}}}"#),
    );
    assert_eq!(st, 400);
    assert_eq!(
        e["error_details"][0],
        json!({"code": "required", "attribute": "country_code"})
    );
    let (st, _) = http(
        api,
        "POST",
        &accounts,
        Some(&tok),
        Some(r#"{"resource_name":"ops","name":"Ops","lang":"ja","props":{"mail":"ops@example.jp"}}"#),
    );
    assert_eq!(st, 202);
    let (_, got) = http(api, "GET", &format!("{accounts}/ops"), Some(&tok), None);
    assert_eq!(
        got["result"],
        json!({"resource_name": "ops", "name": "Ops", "lang": "ja",
               "props": {"mail": "ops@example.jp", "phone": {"country_code": "", "number": ""}}})
    );
}

/// `platdns serve --role monitor` on a data dir, killed on drop.
struct Monitor(std::process::Child);

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Monitor {
    fn start(data_dir: &std::path::Path, location: &str) -> Monitor {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_platdns"))
            .args(["serve", "--role", "monitor", "--location", location])
            .args(["--monitor-instance", &format!("m-{location}"), "--data-dir"])
            .arg(data_dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        assert!(line.starts_with("platdns monitor m-"), "{line:?}");
        Monitor(child)
    }
}

#[test]
fn monitors_at_two_locations_feed_one_answer_and_losing_them_freezes_it_with_an_alert() {
    if !require("kdig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let web = health_server();
    let port = web.port();
    let (hook_port, hooks) = webhook_server(0);
    let hook = format!("http://127.0.0.1:{hook_port}/alerts");
    // The API and DNS node probe nothing themselves: two monitor processes
    // at two locations do, on the same store.
    let server = Platdns::start_in(
        dir.path(),
        &[],
        &[
            "--no-monitor",
            "--lb-min-interval",
            "1",
            "--monitor-stale-after",
            "5",
            "--notify-webhook",
            &hook,
        ],
    );
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let jp = Monitor::start(dir.path(), "jp");
    let us = Monitor::start(dir.path(), "us");
    let (_id, _tok) = failover_lb(api, op.trim(), port, 1, 0);
    wait_for_lb(server.dns, LB_WEB, std::time::Duration::from_secs(15));
    let monitors = || http(api, "GET", "/operator/v1/monitors", Some(op.trim()), None).1["result"].clone();
    let seen = monitors();
    assert_eq!(seen["monitors"].as_array().unwrap().len(), 2, "{seen}");
    assert_eq!(seen["alert"], false, "{seen}");
    // Both monitors gone, one killed, one frozen (SIGSTOP: a stalled
    // process, no heartbeat): the answer does not fail over for it; an alert.
    drop(jp);
    let stop = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &us.0.id().to_string()])
            .status()
            .unwrap()
    };
    assert!(stop("-STOP").success());
    let t0 = std::time::Instant::now();
    while monitors()["alert"] != true {
        assert!(t0.elapsed().as_secs() < 15, "no alert: {}", monitors());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(monitors()["frozen_checks"].as_u64().unwrap() >= 1);
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(
        kdig(server.dns, &["shop.lb.platdns.test", "A"]).answer,
        [LB_WEB],
        "frozen at the last known result, not down"
    );
    let t0 = std::time::Instant::now();
    while !hooks
        .lock()
        .unwrap()
        .iter()
        .any(|(_, b)| b.contains("monitor_quorum_lost"))
    {
        assert!(
            t0.elapsed().as_secs() < 10,
            "no alert posted: {:?}",
            hooks.lock().unwrap()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // One location back (quorum 1), the endpoint now failing: the answer moves.
    web.set(503, "down");
    let _jp = Monitor::start(dir.path(), "jp");
    wait_for_lb(server.dns, LB_BACKUP, std::time::Duration::from_secs(15));
    let t0 = std::time::Instant::now();
    while monitors()["alert"] != false {
        assert!(t0.elapsed().as_secs() < 10, "alert not cleared: {}", monitors());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(stop("-CONT").success());
}

#[test]
fn a_tls_endpoint_with_a_wrong_certificate_moves_the_answer() {
    if !require("kdig") {
        return;
    }
    // A TLS server whose certificate, from a CA of the test's own, names
    // `good.test`, and then `wrong.test`.
    let pki = Pki::new("platdns test CA");
    let good = pki.server(&["good.test"]);
    let web = http_server(Some(good.clone()));
    let port = web.port();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, pki.ca_pem()).unwrap();
    let server = Platdns::start(
        &[],
        &["--lb-min-interval", "1", "--monitor-ca", ca_file.to_str().unwrap()],
    );
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let tls = json!({"resource_name": "web", "name": "tls", "mtype": "tcp", "description": "",
        "props": {"interval": 1, "holdtime": 0, "timeout": 2, "port": port, "tls_enabled": true, "tls_sni": "good.test"}});
    let (id, tok) = failover_lb_watched(server.http, op.trim(), tls, false);
    // Trusted through the operator's CA, for the name asked: up.
    wait_for_lb(server.dns, LB_WEB, std::time::Duration::from_secs(8));
    web.set_tls(pki.server(&["wrong.test"]));
    let took = wait_for_lb(server.dns, LB_BACKUP, std::time::Duration::from_secs(8));
    assert!(took.as_secs() <= 3, "interval 1 + holdtime 0 + 2 s: {took:?}");
    let (_, why) = http(
        server.http,
        "GET",
        &format!("/dpf/v1/lb_domains/{id}/explain?qtype=A"),
        Some(&tok),
        None,
    );
    assert_eq!(why["result"]["endpoints"][0]["reason"], "monitoring web: down", "{why}");
    web.set_tls(good);
    wait_for_lb(server.dns, LB_WEB, std::time::Duration::from_secs(8));
}

#[test]
fn exit_sorry_answers_when_every_site_is_down_and_a_rule_switch_takes_the_next_query() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let (_, c) = http(api, "GET", &format!("/dpf/v1/zones/{zone}/contract"), Some(&tok), None);
    let contract = c["result"]["id"].as_str().unwrap();
    let (_, lb) = http(
        api,
        "POST",
        "/operator/v1/lb_domains",
        Some(op.trim()),
        Some(&json!({"contract_id": contract, "name": "app.lb.platdns.test."}).to_string()),
    );
    let id = lb["result"]["id"].as_str().unwrap().to_string();
    let site = |rn: &str, ip: &str, mon: &str| {
        json!({"resource_name": rn, "name": rn, "rrtype": "A", "endpoints": [
            {"resource_name": format!("{rn}1"), "name": rn, "weight": 1, "enabled": true,
             "rdata": [{"value": ip}], "monitorings": [{"resource_name": mon, "enabled": true}]}]})
    };
    let exit = |prio: u8, rn: &str, site: Option<&str>| {
        let mut m = json!({"resource_name": rn, "mtype": if site.is_some() { "exit_site" } else { "exit_sorry" }, "enabled": true});
        if let Some(s) = site {
            m["site_resource_name"] = json!(s);
        }
        json!({"priority": prio, "method": m})
    };
    let config = json!({
        "monitorings": [
            {"resource_name": "down", "name": "down", "mtype": "static", "description": "", "props": {"result": "down"}},
            {"resource_name": "up", "name": "up", "mtype": "static", "description": "", "props": {"result": "up"}}
        ],
        "sites": [site("tokyo", "192.0.2.1", "down"), site("osaka", "192.0.2.2", "down"), site("spare", "198.51.100.7", "up")],
        "rules": [
            {"resource_name": "main", "name": "main", "methods": [
                {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": true, "methods": [
                    {"method": {"resource_name": "fo", "mtype": "failover", "enabled": true, "methods": [
                        exit(1, "to-tokyo", Some("tokyo")), exit(2, "to-osaka", Some("osaka")), exit(3, "sorry", None)
                    ]}}]}}]},
            {"resource_name": "maintenance", "name": "maintenance", "methods": [
                {"method": {"resource_name": "a2", "mtype": "entry_a", "enabled": true, "methods": [
                    {"method": {"resource_name": "to-spare", "mtype": "exit_site", "enabled": true, "site_resource_name": "spare"}}]}}]}
        ]
    });
    let (st, e) = http(
        api,
        "PUT",
        &format!("/dpf/v1/lb_domains/{id}/config"),
        Some(&tok),
        Some(&config.to_string()),
    );
    assert_eq!(st, 202, "{e}");
    let apply = |rule: &str| {
        let (st, e) = http(
            api,
            "PATCH",
            &format!("/dpf/v1/lb_domains/{id}"),
            Some(&tok),
            Some(&json!({"rule_resource_name": rule}).to_string()),
        );
        assert_eq!(st, 202, "{e}");
    };
    apply("main");
    // Both sites down: the failover reaches exit_sorry, which answers with
    // no address (NODATA, the zone's SOA in authority).
    let sorry = kdig(server.dns, &["app.lb.platdns.test", "A"]);
    assert_eq!((sorry.rcode.as_str(), sorry.answer.len()), ("NOERROR", 0), "{sorry:?}");
    let (_, why) = http(
        api,
        "GET",
        &format!("/dpf/v1/lb_domains/{id}/explain?qtype=A"),
        Some(&tok),
        None,
    );
    assert!(why.to_string().contains("sorry"), "{why}");
    // The rule switch answers the very next query.
    apply("maintenance");
    assert_eq!(
        kdig(server.dns, &["app.lb.platdns.test", "A"]).answer,
        ["app.lb.platdns.test. 30 IN A 198.51.100.7"]
    );
    apply("main");
    assert!(kdig(server.dns, &["app.lb.platdns.test", "A"]).answer.is_empty());
}

/// Operator-set bounds (`--max-rdata-per-rrset`, `--max-records-per-zone`)
/// refuse an edit at staging with DPF's 400 `too_many`, naming the
/// attribute, and stage nothing (issue 16): no tenant can queue a commit
/// that holds the platform.
#[test]
fn staging_past_the_operators_limits_is_refused_whole() {
    let server = Platdns::start(&[], &["--max-rdata-per-rrset", "3", "--max-records-per-zone", "2"]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let api = server.http;
    let (zone, tok) = tenant_with_zone(api, op.trim(), "acme", "example.com");
    let values = |n: usize| -> Vec<Value> { (1..=n).map(|i| json!({"value": format!("192.0.2.{i}")})).collect() };
    let post = |n: usize| {
        http(
            api,
            "POST",
            &format!("/dpf/v1/zones/{zone}/records"),
            Some(&tok),
            Some(&json!({"name": "www", "ttl": 60, "rrtype": "A", "rdata": values(n)}).to_string()),
        )
    };
    let too_many = |(status, body): (u16, Value), attribute: &str| {
        assert_eq!(status, 400, "{body}");
        assert_dpf_error(&body, attribute);
        assert_eq!(body["error_details"][0]["code"], "too_many", "{body}");
    };
    let get = |what: &str| {
        http(
            api,
            "GET",
            &format!("/dpf/v1/zones/{zone}/records{what}"),
            Some(&tok),
            None,
        )
        .1
    };
    too_many(post(4), "rdata");
    let before = get("/count")["result"]["count"].clone();
    assert_eq!(post(3).0, 202);
    let rec = |name: &str| json!({"name": name, "ttl": 60, "rrtype": "A", "rdata": [{"value": "192.0.2.1"}]});
    too_many(
        http(
            api,
            "PATCH",
            &format!("/dpf/v1/zones/{zone}/atomic_changes?wait=true"),
            Some(&tok),
            Some(&json!({"records": [rec("a"), rec("b"), rec("c")]}).to_string()),
        ),
        "records",
    );
    // Nothing of the refused set was applied.
    let current = get("/currents");
    assert!(!current.to_string().contains("\"a.example.com.\""), "{current}");
    let count = get("/count");
    assert_ne!(before, Value::Null);
    assert_eq!(
        count["result"]["count"].as_i64(),
        before.as_i64().map(|n| n + 1),
        "{count}"
    );
}

/// Polls a job until it leaves RUNNING (DPF §2.4).
fn job_outcome(api: SocketAddr, tok: &str, accepted: &Value) -> Value {
    let url = accepted["jobs_url"].as_str().unwrap().to_string();
    for _ in 0..600 {
        let (st, job) = http(api, "GET", &url, Some(tok), None);
        assert_eq!(st, 200, "{job}");
        assert_eq!(job["request_id"], accepted["request_id"]);
        if job["status"] != "RUNNING" {
            return job;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("job {url} still RUNNING after 12 s");
}

#[test]
fn commits_are_jobs_that_end_successful_or_failed_with_the_error() {
    if !require("kdig") {
        return;
    }
    let server = Platdns::start(&[], &[]);
    let op = operator_token(&server);
    let (zone, tok) = tenant_with_zone(server.http, &op, "acme", "example.com");
    let (_, other_tok) = tenant_with_zone(server.http, &op, "other", "example.net");
    let post = |body: &str| {
        let (st, v) = http(
            server.http,
            "POST",
            &format!("/dpf/v1/zones/{zone}/records"),
            Some(&tok),
            Some(body),
        );
        assert_eq!(st, 202, "{v}");
    };
    post(r#"{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.10"}],"ttl":300}"#);
    // Without `wait` the 202 comes at once; the job says when it is done.
    let (st, accepted) = http(
        server.http,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes"),
        Some(&tok),
        Some(r#"{"description":"first"}"#),
    );
    assert_eq!(st, 202, "{accepted}");
    let url = accepted["jobs_url"].as_str().unwrap().to_string();
    // Another tenant cannot see the job (R1.2: 404, not 403).
    let (st, _) = http(server.http, "GET", &url, Some(&other_tok), None);
    assert_eq!(st, 404);
    let job = job_outcome(server.http, &tok, &accepted);
    assert_eq!(job["status"], "SUCCESSFUL", "{job}");
    assert_eq!(job["resources_url"], format!("/dpf/v1/zones/{zone}"));
    assert_eq!(
        kdig(server.dns, &["www.example.com", "A"]).answer,
        vec!["www.example.com. 300 IN A 192.0.2.10"]
    );
    // A commit whose zone cannot be built (a CNAME beside other data at
    // `www`): the job ends FAILED with the reason; nothing is served.
    post(r#"{"name":"www","rrtype":"CNAME","rdata":[{"value":"elsewhere.example.net."}]}"#);
    let (st, accepted) = http(
        server.http,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes"),
        Some(&tok),
        Some("{}"),
    );
    assert_eq!(st, 202, "{accepted}");
    let job = job_outcome(server.http, &tok, &accepted);
    assert_eq!(job["status"], "FAILED", "{job}");
    assert!(job.get("resources_url").is_none(), "{job}");
    assert!(job["error_type"].as_str().is_some_and(|t| !t.is_empty()), "{job}");
    assert!(job["error_message"].as_str().unwrap().contains("CNAME"), "{job}");
    // The operation log has the failure under the job's request id.
    let (_, logs) = http(
        server.http,
        "GET",
        &format!("/dpf/v1/zones/{zone}/logs"),
        Some(&tok),
        None,
    );
    let entry = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["request_id"] == accepted["request_id"])
        .unwrap_or_else(|| panic!("{logs}"));
    assert_eq!(entry["status"], "failure", "{entry}");
    // `?wait=true`: the same failure is the answer itself.
    let (st, err) = http(
        server.http,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes?wait=true"),
        Some(&tok),
        Some("{}"),
    );
    assert_eq!(st, 400, "{err}");
    assert_eq!(
        kdig(server.dns, &["www.example.com", "A"]).answer,
        vec!["www.example.com. 300 IN A 192.0.2.10"],
        "the failed commits served nothing"
    );
    // A stale If-Match is refused before a job is made.
    let (st, err) = http_with(
        server.http,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/changes"),
        Some(&tok),
        Some("{}"),
        &[("If-Match", "\"0\"")],
    );
    assert_eq!(st, 412, "{err}");
}
