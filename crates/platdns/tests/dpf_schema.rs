//! Every response of the DPF-compatible API we serve is validated against the
//! reference's own schema (`../shared/dpf-api/openapi.json`): the schema of
//! that path, method and status, with OpenAPI 3.0's `nullable` turned into
//! JSON Schema.

mod common;
use common::*;
use platdns_testkit::http::request;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// A request with `token` and no Content-Type; (status, the body as JSON,
/// `Null` when it is not JSON).
fn http(addr: SocketAddr, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
    let bearer = format!("Bearer {token}");
    let r = request(addr, method, path, &[("Authorization", &bearer)], body.unwrap_or(""));
    (r.status, serde_json::from_str(&r.body).unwrap_or(Value::Null))
}

/// OpenAPI 3.0 → JSON Schema: `nullable: true` widens `type` to include null.
fn convert(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if o.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(t)) = o.get("type").cloned() {
                    o.insert("type".into(), json!([t, "null"]));
                }
                if let Some(Value::Array(e)) = o.get_mut("enum") {
                    e.push(Value::Null);
                }
            }
            o.values_mut().for_each(convert);
        }
        Value::Array(a) => a.iter_mut().for_each(convert),
        _ => {}
    }
}

struct Reference {
    doc: Value,
}

impl Reference {
    fn load() -> Option<Reference> {
        let path = repo_root().join("../shared/dpf-api/openapi.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) if std::env::var("PLATDNS_SKIP_EXTERNAL").as_deref() == Ok("1") => return None,
            Err(e) => panic!("{}: {e} (the reference must be beside the checkout)", path.display()),
        };
        let mut doc: Value = serde_json::from_str(&text).unwrap();
        convert(&mut doc);
        Some(Reference { doc })
    }

    /// Checks `body` against the reference schema for (template, method, status).
    fn check(&self, template: &str, method: &str, status: u16, body: &Value) -> Vec<String> {
        let op = &self.doc["paths"][template][method.to_ascii_lowercase()];
        assert!(op.is_object(), "the reference has no {method} {template}");
        let mut resp = op["responses"][status.to_string()].clone();
        if let Some(r) = resp.get("$ref").and_then(Value::as_str) {
            resp = self.doc["components"]["responses"][r.rsplit('/').next().unwrap()].clone();
        }
        let schema = &resp["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "no {status} schema for {method} {template}");
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(&root)
            .unwrap();
        validator
            .iter_errors(body)
            .map(|e| format!("{method} {template} {status}: {e} at {}", e.instance_path))
            .collect()
    }
}

#[test]
fn responses_match_the_reference_schemas() {
    let Some(reference) = Reference::load() else { return };
    let server = Platdns::start(&[], &[]);
    let op = std::fs::read_to_string(server.data_dir.join("operator.token")).unwrap();
    let op = op.trim();
    let api = server.http;
    // Set up a tenant with a contract, a zone, records, a commit and a TSIG key.
    let t = tenant(
        api,
        op,
        "acme",
        json!({"plan": "premium"}),
        json!({"name": "example.com", "approve": "t"}),
    );
    let (cid, zid, tok) = (t.contract, t.zone_id, t.token);
    let (_, lb) = http(
        api,
        "POST",
        "/operator/v1/lb_domains",
        op,
        Some(&json!({"contract_id": cid, "name": "www.lb.example.com."}).to_string()),
    );
    let lid = lb["result"]["id"].as_str().unwrap().to_string();

    // (method, reference template, our path, body, expected status)
    let mut calls: Vec<(&str, &str, String, Option<String>, u16)> = vec![
        (
            "POST",
            "/zones/{ZoneId}/records",
            format!("/dpf/v1/zones/{zid}/records"),
            Some(r#"{"name":"www","rrtype":"A","rdata":[{"value":"192.0.2.1"}],"ttl":300}"#.into()),
            202,
        ),
        (
            "POST",
            "/zones/{ZoneId}/records",
            format!("/dpf/v1/zones/{zid}/records"),
            Some(r#"{"name":"mail","rrtype":"MX","rdata":[{"value":"10 mx.example.com."}]}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/zones/{ZoneId}/changes",
            format!("/dpf/v1/zones/{zid}/changes?wait=true"),
            Some(r#"{"description":"first"}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/zones/{ZoneId}/default_ttl",
            format!("/dpf/v1/zones/{zid}/default_ttl"),
            Some(r#"{"value":600}"#.into()),
            202,
        ),
        (
            "POST",
            "/contracts/{ContractId}/tsigs",
            format!("/dpf/v1/contracts/{cid}/tsigs"),
            Some(r#"{"name":"xfr"}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/zones/{ZoneId}",
            format!("/dpf/v1/zones/{zid}"),
            Some(r#"{"description":"d"}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/contracts/{ContractId}",
            format!("/dpf/v1/contracts/{cid}"),
            Some(r#"{"favorite":1}"#.into()),
            202,
        ),
        (
            "PUT",
            "/zones/{ZoneId}/records",
            format!("/dpf/v1/zones/{zid}/records?wait=true"),
            Some(
                r#"{"records":[{"name":"put.example.com.","ttl":60,"rrtype":"A","rdata":[{"value":"192.0.2.8"}],"labels":{},"description":""}]}"#
                    .into(),
            ),
            202,
        ),
        (
            "PUT",
            "/zones/{ZoneId}/labels",
            format!("/dpf/v1/zones/{zid}/labels"),
            Some(r#"{"labels":{"env":"prod","team":"dns"}}"#.into()),
            202,
        ),
        (
            "PUT",
            "/contracts/{ContractId}/labels",
            format!("/dpf/v1/contracts/{cid}/labels"),
            Some(r#"{"labels":{"billing":"group-a"}}"#.into()),
            202,
        ),
        (
            "GET",
            "/zones/{ZoneId}/labels",
            format!("/dpf/v1/zones/{zid}/labels"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/labels",
            format!("/dpf/v1/contracts/{cid}/labels"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/managed_dns_servers",
            format!("/dpf/v1/zones/{zid}/managed_dns_servers"),
            None,
            200,
        ),
        (
            "PUT",
            "/lb_domains/{LbDomainId}/config",
            format!("/dpf/v1/lb_domains/{lid}/config"),
            Some(LB_CONFIG.into()),
            202,
        ),
        (
            "PATCH",
            "/lb_domains/{LbDomainId}",
            format!("/dpf/v1/lb_domains/{lid}"),
            Some(r#"{"rule_resource_name":"main","description":"shop"}"#.into()),
            202,
        ),
        (
            "PUT",
            "/lb_domains/{LbDomainId}/labels",
            format!("/dpf/v1/lb_domains/{lid}/labels"),
            Some(r#"{"labels":{"env":"prod"}}"#.into()),
            202,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/monitorings",
            format!("/dpf/v1/lb_domains/{lid}/monitorings"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/monitorings/{MonitoringResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/monitorings/web"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/sites",
            format!("/dpf/v1/lb_domains/{lid}/sites"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/sites/tokyo"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}/endpoints",
            format!("/dpf/v1/lb_domains/{lid}/sites/tokyo/endpoints"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}/endpoints/{EndpointResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/sites/tokyo/endpoints/t1"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/rules",
            format!("/dpf/v1/lb_domains/{lid}/rules"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/rules/main"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}/rule_methods",
            format!("/dpf/v1/lb_domains/{lid}/rules/main/rule_methods"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}/rule_methods/{RuleMethodResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/rules/main/rule_methods/fo"),
            None,
            200,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/monitorings",
            format!("/dpf/v1/lb_domains/{lid}/monitorings"),
            Some(r#"{"resource_name":"tcp1","name":"tcp1","mtype":"tcp","description":"","props":{"port":443}}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/lb_domains/{LbDomainId}/monitorings/{MonitoringResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/monitorings/tcp1"),
            Some(r#"{"props":{"interval":60}}"#.into()),
            202,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/sites",
            format!("/dpf/v1/lb_domains/{lid}/sites"),
            Some(r#"{"resource_name":"nagoya","name":"Nagoya","rrtype":"A"}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/sites/nagoya"),
            Some(r#"{"description":"third"}"#.into()),
            202,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}/endpoints",
            format!("/dpf/v1/lb_domains/{lid}/sites/nagoya/endpoints"),
            Some(r#"{"resource_name":"n1","name":"n1","weight":2,"rdata":[{"value":"203.0.113.5"}],"monitorings":[{"resource_name":"tcp1","enabled":true}]}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}/endpoints/{EndpointResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/sites/nagoya/endpoints/n1"),
            Some(r#"{"weight":5}"#.into()),
            202,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/rules",
            format!("/dpf/v1/lb_domains/{lid}/rules"),
            Some(r#"{"resource_name":"r2","name":"r2"}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/rules/r2"),
            Some(r#"{"description":"spare"}"#.into()),
            202,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}/rule_methods",
            format!("/dpf/v1/lb_domains/{lid}/rules/r2/rule_methods"),
            Some(r#"{"method":{"resource_name":"e2","mtype":"entry_a","enabled":true}}"#.into()),
            202,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}/rule_methods",
            format!("/dpf/v1/lb_domains/{lid}/rules/r2/rule_methods"),
            Some(r#"{"method":{"resource_name":"x2","mtype":"exit_site","enabled":true,"parent_resource_name":"e2","site_resource_name":"nagoya"}}"#.into()),
            202,
        ),
        (
            "PATCH",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}/rule_methods/{RuleMethodResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/rules/r2/rule_methods/x2"),
            Some(r#"{"method":{"enabled":false}}"#.into()),
            202,
        ),
        (
            "DELETE",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}/rule_methods/{RuleMethodResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/rules/r2/rule_methods/x2"),
            None,
            202,
        ),
        (
            "DELETE",
            "/lb_domains/{LbDomainId}/rules/{RuleResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/rules/r2"),
            None,
            202,
        ),
        (
            "DELETE",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}/endpoints/{EndpointResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/sites/nagoya/endpoints/n1"),
            None,
            202,
        ),
        (
            "DELETE",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/sites/nagoya"),
            None,
            202,
        ),
        (
            "DELETE",
            "/lb_domains/{LbDomainId}/monitorings/{MonitoringResourceName}",
            format!("/dpf/v1/lb_domains/{lid}/monitorings/tcp1"),
            None,
            202,
        ),
        (
            "POST",
            "/lb_domains/{LbDomainId}/sites/{SiteResourceName}/endpoints/{EndpointResourceName}/failover",
            format!("/dpf/v1/lb_domains/{lid}/sites/tokyo/endpoints/t1/failover"),
            None,
            400,
        ),
        ("GET", "/lb_domains", "/dpf/v1/lb_domains".into(), None, 200),
        (
            "GET",
            "/lb_domains/{LbDomainId}/logs",
            format!("/dpf/v1/lb_domains/{lid}/logs"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/logs/count",
            format!("/dpf/v1/lb_domains/{lid}/logs/count"),
            None,
            200,
        ),
        ("GET", "/lb_domains/count", "/dpf/v1/lb_domains/count".into(), None, 200),
        ("GET", "/lb_domains/{LbDomainId}", format!("/dpf/v1/lb_domains/{lid}"), None, 200),
        (
            "GET",
            "/lb_domains/{LbDomainId}/config",
            format!("/dpf/v1/lb_domains/{lid}/config"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/contract",
            format!("/dpf/v1/lb_domains/{lid}/contract"),
            None,
            200,
        ),
        (
            "GET",
            "/lb_domains/{LbDomainId}/labels",
            format!("/dpf/v1/lb_domains/{lid}/labels"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/lb_domains",
            format!("/dpf/v1/contracts/{cid}/lb_domains"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/lb_domains/count",
            format!("/dpf/v1/contracts/{cid}/lb_domains/count"),
            None,
            200,
        ),
        ("GET", "/ping", "/dpf/v1/ping".into(), None, 200),
        ("GET", "/contracts", "/dpf/v1/contracts".into(), None, 200),
        ("GET", "/contracts/count", "/dpf/v1/contracts/count".into(), None, 200),
        (
            "GET",
            "/contracts/{ContractId}",
            format!("/dpf/v1/contracts/{cid}"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/zones",
            format!("/dpf/v1/contracts/{cid}/zones"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/zones/count",
            format!("/dpf/v1/contracts/{cid}/zones/count"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/logs",
            format!("/dpf/v1/contracts/{cid}/logs"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/logs/count",
            format!("/dpf/v1/contracts/{cid}/logs/count"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/tsigs",
            format!("/dpf/v1/contracts/{cid}/tsigs"),
            None,
            200,
        ),
        (
            "GET",
            "/contracts/{ContractId}/tsigs/count",
            format!("/dpf/v1/contracts/{cid}/tsigs/count"),
            None,
            200,
        ),
        ("GET", "/zones", "/dpf/v1/zones".into(), None, 200),
        ("GET", "/zones/count", "/dpf/v1/zones/count".into(), None, 200),
        ("GET", "/zones/{ZoneId}", format!("/dpf/v1/zones/{zid}"), None, 200),
        (
            "GET",
            "/zones/{ZoneId}/contract",
            format!("/dpf/v1/zones/{zid}/contract"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/records",
            format!("/dpf/v1/zones/{zid}/records"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/records/count",
            format!("/dpf/v1/zones/{zid}/records/count"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/records/currents",
            format!("/dpf/v1/zones/{zid}/records/currents"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/records/diffs",
            format!("/dpf/v1/zones/{zid}/records/diffs"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/default_ttl",
            format!("/dpf/v1/zones/{zid}/default_ttl"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/default_ttl/diffs",
            format!("/dpf/v1/zones/{zid}/default_ttl/diffs"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/zone_histories",
            format!("/dpf/v1/zones/{zid}/zone_histories"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/zone_histories/count",
            format!("/dpf/v1/zones/{zid}/zone_histories/count"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/logs",
            format!("/dpf/v1/zones/{zid}/logs"),
            None,
            200,
        ),
        (
            "GET",
            "/zones/{ZoneId}/logs/count",
            format!("/dpf/v1/zones/{zid}/logs/count"),
            None,
            200,
        ),
        // Errors have the reference's shapes too.
        (
            "GET",
            "/zones/{ZoneId}",
            "/dpf/v1/zones/m0000000000000".into(),
            None,
            404,
        ),
        (
            "POST",
            "/zones/{ZoneId}/records",
            format!("/dpf/v1/zones/{zid}/records"),
            Some(r#"{"name":"x","rrtype":"A","rdata":[{"value":"nope"}]}"#.into()),
            400,
        ),
        ("GET", "/zones", "/dpf/v1/zones?limit=0".into(), None, 400),
    ];
    let mut failures = Vec::new();
    let mut last_job = None;
    for (method, template, path, body, want) in calls.drain(..) {
        let (status, v) = http(api, method, &path, &tok, body.as_deref());
        if status != want {
            failures.push(format!("{method} {path}: status {status}, wanted {want}: {v}"));
            continue;
        }
        failures.extend(reference.check(template, method, status, &v));
        if status == 202 {
            last_job = v["request_id"].as_str().map(String::from);
        }
    }
    // Jobs, one record, one history text, one TSIG key.
    let job = last_job.unwrap();
    let (st, v) = http(api, "GET", &format!("/dpf/v1/jobs/{job}"), &tok, None);
    failures.extend(reference.check("/jobs/{RequestId}", "GET", st, &v));
    let (_, recs) = http(api, "GET", &format!("/dpf/v1/zones/{zid}/records"), &tok, None);
    let rid = recs["results"][0]["id"].as_str().unwrap();
    let (st, v) = http(api, "GET", &format!("/dpf/v1/zones/{zid}/records/{rid}"), &tok, None);
    failures.extend(reference.check("/zones/{ZoneId}/records/{RecordId}", "GET", st, &v));
    let (_, h) = http(api, "GET", &format!("/dpf/v1/zones/{zid}/zone_histories"), &tok, None);
    let hid = &h["results"][0]["id"];
    let (st, v) = http(
        api,
        "GET",
        &format!("/dpf/v1/zones/{zid}/zone_histories/{hid}/text"),
        &tok,
        None,
    );
    failures.extend(reference.check("/zones/{ZoneId}/zone_histories/{ZoneHistoryId}/text", "GET", st, &v));
    let (_, ks) = http(api, "GET", &format!("/dpf/v1/contracts/{cid}/tsigs"), &tok, None);
    let kid = &ks["results"][0]["id"];
    let (st, v) = http(api, "GET", &format!("/dpf/v1/contracts/{cid}/tsigs/{kid}"), &tok, None);
    failures.extend(reference.check("/contracts/{ContractId}/tsigs/{TsigId}", "GET", st, &v));
    // The writes that need the ids above, and the counts not listed yet.
    let rid = rid.to_string();
    let later: Vec<(&str, &str, String, Option<&str>, u16)> = vec![
        // First drop what the PUT above staged, so the record can be edited.
        (
            "DELETE",
            "/zones/{ZoneId}/changes",
            format!("/dpf/v1/zones/{zid}/changes"),
            None,
            202,
        ),
        (
            "PATCH",
            "/zones/{ZoneId}/records/{RecordId}",
            format!("/dpf/v1/zones/{zid}/records/{rid}"),
            Some(r#"{"ttl":120,"rdata":[{"value":"20 mx.example.com."}]}"#),
            202,
        ),
        (
            "DELETE",
            "/zones/{ZoneId}/records/{RecordId}/changes",
            format!("/dpf/v1/zones/{zid}/records/{rid}/changes"),
            None,
            202,
        ),
        (
            "DELETE",
            "/zones/{ZoneId}/records/{RecordId}",
            format!("/dpf/v1/zones/{zid}/records/{rid}"),
            None,
            202,
        ),
        (
            "GET",
            "/zones/{ZoneId}/records/diffs/count",
            format!("/dpf/v1/zones/{zid}/records/diffs/count"),
            None,
            200,
        ),
        (
            "DELETE",
            "/zones/{ZoneId}/default_ttl/changes",
            format!("/dpf/v1/zones/{zid}/default_ttl/changes"),
            None,
            202,
        ),
        (
            "GET",
            "/zones/{ZoneId}/records/currents/count",
            format!("/dpf/v1/zones/{zid}/records/currents/count"),
            None,
            200,
        ),
        (
            "PATCH",
            "/zones/{ZoneId}/atomic_changes",
            format!("/dpf/v1/zones/{zid}/atomic_changes?wait=true"),
            Some(
                r#"{"records":[{"name":"api.example.com.","ttl":60,"rrtype":"AAAA","rdata":[{"value":"2001:db8::1"}],"labels":{},"description":""}]}"#,
            ),
            202,
        ),
        (
            "PATCH",
            "/contracts/{ContractId}/tsigs/{TsigId}",
            format!("/dpf/v1/contracts/{cid}/tsigs/{kid}"),
            Some(r#"{"description":"renamed"}"#),
            202,
        ),
        (
            "DELETE",
            "/contracts/{ContractId}/tsigs/{TsigId}",
            format!("/dpf/v1/contracts/{cid}/tsigs/{kid}"),
            None,
            202,
        ),
    ];
    for (method, template, path, body, want) in later {
        let (status, v) = http(api, method, &path, &tok, body);
        if status != want {
            failures.push(format!("{method} {path}: status {status}, wanted {want}: {v}"));
            continue;
        }
        failures.extend(reference.check(template, method, status, &v));
    }
    // Common configurations and notice accounts, each step on the ids the
    // one before made.
    let mut call = |method: &str, template: &str, path: String, body: Option<Value>, want: u16| -> Value {
        let body = body.map(|b| b.to_string());
        let (status, v) = http(api, method, &path, &tok, body.as_deref());
        if status != want {
            failures.push(format!("{method} {path}: status {status}, wanted {want}: {v}"));
        } else {
            failures.extend(reference.check(template, method, status, &v));
        }
        v
    };
    let ccs = "/contracts/{ContractId}/common_configs";
    let one = "/contracts/{ContractId}/common_configs/{CommonConfigId}";
    let list = call("GET", ccs, format!("/dpf/v1/contracts/{cid}/common_configs"), None, 200);
    let default = list["results"][0]["id"].as_i64().unwrap_or(0);
    let count = format!("{ccs}/count");
    call(
        "GET",
        &count,
        format!("/dpf/v1/contracts/{cid}/common_configs/count"),
        None,
        200,
    );
    let new = Some(json!({"name": "night", "description": "after hours"}));
    call("POST", ccs, format!("/dpf/v1/contracts/{cid}/common_configs"), new, 202);
    let night = call("GET", ccs, format!("/dpf/v1/contracts/{cid}/common_configs"), None, 200)["results"][1]["id"]
        .as_i64()
        .unwrap_or(0);
    let at = |id: i64| format!("/dpf/v1/contracts/{cid}/common_configs/{id}");
    call("GET", one, at(night), None, 200);
    call("PATCH", one, at(night), Some(json!({"description": "d"})), 202);
    let managed = format!("{one}/managed_dns");
    let body = Some(json!({"managed_dns_enabled": 0}));
    call("PATCH", &managed, format!("{}/managed_dns", at(night)), body, 202);
    let copy = format!("{one}/copy");
    call(
        "POST",
        &copy,
        format!("{}/copy", at(night)),
        Some(json!({"name": "copy"})),
        202,
    );
    // The default cannot be deleted: DPF's 400.
    call("DELETE", one, at(default), None, 400);
    let body = Some(json!({"common_config_id": night}));
    let path = format!("/dpf/v1/contracts/{cid}/common_configs/default");
    call(
        "PATCH",
        "/contracts/{ContractId}/common_configs/default",
        path,
        body,
        202,
    );
    let body = Some(json!({"common_config_id": night, "zone_ids": [zid]}));
    let path = format!("/dpf/v1/contracts/{cid}/zones/common_configs");
    call("PATCH", "/contracts/{ContractId}/zones/common_configs", path, body, 202);
    let body = Some(json!({"common_config_id": night, "lb_domain_ids": [lid]}));
    let path = format!("/dpf/v1/contracts/{cid}/lb_domains/common_configs");
    call(
        "PATCH",
        "/contracts/{ContractId}/lb_domains/common_configs",
        path,
        body,
        202,
    );
    let accounts = "/common_configs/{CommonConfigId}/cc_notice_accounts";
    let account = "/common_configs/{CommonConfigId}/cc_notice_accounts/{CcNoticeAccountResourceName}";
    let body = Some(json!({"resource_name": "ops", "name": "Ops", "lang": "ja", "props": {"mail": "ops@example.jp"}}));
    call(
        "POST",
        accounts,
        format!("/dpf/v1/common_configs/{night}/cc_notice_accounts"),
        body,
        202,
    );
    call(
        "GET",
        accounts,
        format!("/dpf/v1/common_configs/{night}/cc_notice_accounts"),
        None,
        200,
    );
    let path = format!("/dpf/v1/common_configs/{night}/cc_notice_accounts/ops");
    call("GET", account, path.clone(), None, 200);
    let body = Some(json!({"props": {"phone": {"country_code": "81", "number": "0312345678"}}}));
    call("PATCH", account, path.clone(), body, 202);
    call("DELETE", account, path, None, 202);
    // Transfer settings of the (new default) configuration, with a key.
    let (_, keys) = http(api, "GET", &format!("/dpf/v1/contracts/{cid}/tsigs"), &tok, None);
    let kid = keys["results"][0]["id"].as_i64();
    for (list, field, value) in [
        ("cc_sec_transfer_acls", "network", "192.0.2.0/24"),
        ("cc_sec_notified_servers", "address", "192.0.2.53"),
        ("cc_primaries", "address", "198.51.100.53"),
    ] {
        let template = format!("/common_configs/{{CommonConfigId}}/{list}");
        let item = match list {
            "cc_sec_transfer_acls" => format!("{template}/{{CcSecTransferAclId}}"),
            "cc_sec_notified_servers" => format!("{template}/{{CcSecNotifiedServerId}}"),
            _ => format!("{template}/{{CcPrimaryId}}"),
        };
        let path = format!("/dpf/v1/common_configs/{night}/{list}");
        let body = Some(json!({field: value, "tsig_id": kid}));
        call("POST", &template, path.clone(), body, 202);
        let all = call("GET", &template, path.clone(), None, 200);
        let eid = all["results"][0]["id"].as_i64().unwrap_or(0);
        call("GET", &item, format!("{path}/{eid}"), None, 200);
        call(
            "PATCH",
            &item,
            format!("{path}/{eid}"),
            Some(json!({"tsig_id": null})),
            202,
        );
        call("DELETE", &item, format!("{path}/{eid}"), None, 202);
    }
    let proxy = "/zones/{ZoneId}/zone_proxy";
    call("GET", proxy, format!("/dpf/v1/zones/{zid}/zone_proxy"), None, 200);
    let health = "/zones/{ZoneId}/zone_proxy/health_check";
    call(
        "GET",
        health,
        format!("/dpf/v1/zones/{zid}/zone_proxy/health_check"),
        None,
        200,
    );
    let histories = "/contracts/{ContractId}/qps/histories";
    call(
        "GET",
        histories,
        format!("/dpf/v1/contracts/{cid}/qps/histories"),
        None,
        200,
    );
    // The old default, now unused, goes.
    call("DELETE", one, at(default), None, 202);
    assert!(
        failures.is_empty(),
        "{} schema problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// An LB domain configuration: an http and a static monitoring, two A
/// sites and a sorry exit under a failover.
const LB_CONFIG: &str = r#"{
  "monitorings": [
    {"resource_name": "web", "name": "web", "mtype": "http", "description": "", "props": {"interval": 30, "holdtime": 0, "timeout": 5, "path": "/health", "status_codes": ["200"]}},
    {"resource_name": "up", "name": "always", "mtype": "static", "description": "", "props": {"result": "up"}}
  ],
  "sites": [
    {"resource_name": "tokyo", "name": "Tokyo", "rrtype": "A", "description": "", "endpoints": [
      {"resource_name": "t1", "name": "t1", "monitoring_target": "192.0.2.1", "description": "", "weight": 1, "manual_failback": false, "manual_failover": false, "enabled": true, "rdata": [{"value": "192.0.2.1"}], "monitorings": [{"resource_name": "web", "enabled": true}]}
    ]},
    {"resource_name": "osaka", "name": "Osaka", "rrtype": "A", "description": "", "endpoints": [
      {"resource_name": "o1", "name": "o1", "monitoring_target": "", "description": "", "weight": 1, "manual_failback": false, "manual_failover": false, "enabled": true, "rdata": [{"value": "198.51.100.1"}], "monitorings": [{"resource_name": "up", "enabled": true}]}
    ]}
  ],
  "rules": [
    {"resource_name": "main", "name": "main", "description": "", "methods": [
      {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": true, "methods": [
        {"method": {"resource_name": "fo", "mtype": "failover", "enabled": true, "methods": [
          {"priority": 1, "method": {"resource_name": "to-tokyo", "mtype": "exit_site", "enabled": true, "site_resource_name": "tokyo", "methods": []}},
          {"priority": 2, "method": {"resource_name": "to-osaka", "mtype": "exit_site", "enabled": true, "site_resource_name": "osaka", "methods": []}},
          {"priority": 3, "method": {"resource_name": "sorry", "mtype": "exit_sorry", "enabled": true, "methods": []}}
        ]}}
      ]}}
    ]}
  ]
}"#;
