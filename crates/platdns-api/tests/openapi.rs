//! The OpenAPI documents stay true: each names exactly the operations the
//! router answers, the tenant document is the DPF-API reference cut to them
//! (regenerated here; `PLATDNS_UPDATE_OPENAPI=1` rewrites the embedded file),
//! and both are valid OpenAPI 3 (checked against the OpenAPI Initiative's JSON
//! Schemas for 3.0 and 3.1 in `tests/data/`, Apache-2.0, as
//! openapi-spec-validator ships them) with every `$ref` resolving.

use platdns_api::openapi::{self, path_shape};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The DPF-API reference beside the checkout (`../shared`), as the
/// end-to-end schema test finds it.
fn reference() -> Option<Value> {
    let path = crate_dir().join("../../../shared/dpf-api/openapi.json");
    match std::fs::read_to_string(&path) {
        Ok(t) => Some(serde_json::from_str(&t).unwrap()),
        Err(_) if std::env::var("PLATDNS_SKIP_EXTERNAL").as_deref() == Ok("1") => None,
        Err(e) => panic!("{}: {e} (the reference must be beside the checkout)", path.display()),
    }
}

fn router_operations(prefix: &str) -> Vec<(&'static str, &'static str)> {
    platdns_api::operations()
        .into_iter()
        .filter(|(p, _, _)| *p == prefix)
        .map(|(_, m, p)| (m, p))
        .collect()
}

/// (METHOD, path shape) of every operation a document lists.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in item.as_object().unwrap().keys() {
            if METHODS.contains(&m.as_str()) {
                out.insert((m.to_ascii_uppercase(), path_shape(path)));
            }
        }
    }
    out
}

#[test]
fn documents_name_exactly_the_routers_operations() {
    for (prefix, doc) in [
        (openapi::DPF_PREFIX, openapi::dpf_document()),
        (openapi::OPERATOR_PREFIX, openapi::operator_document()),
    ] {
        let ops = router_operations(prefix);
        let routed: BTreeSet<(String, String)> = ops.iter().map(|(m, p)| (m.to_string(), path_shape(p))).collect();
        assert_eq!(routed.len(), ops.len(), "{prefix}: an operation is routed twice");
        let listed = documented(&doc);
        let missing: Vec<_> = routed.difference(&listed).collect();
        let extra: Vec<_> = listed.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "{prefix}: the router has operations its OpenAPI document lacks: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "{prefix}: the OpenAPI document lists operations the router lacks: {extra:?}"
        );
        assert!(routed.len() > 10);
    }
}

#[test]
fn dpf_document_is_the_reference_cut_to_the_router() {
    let Some(reference) = reference() else { return };
    let made = openapi::dpf_from_reference(&reference, &router_operations(openapi::DPF_PREFIX));
    if made == openapi::dpf_document() {
        return;
    }
    if std::env::var("PLATDNS_UPDATE_OPENAPI").as_deref() == Ok("1") {
        let text = serde_json::to_string_pretty(&made).unwrap() + "\n";
        std::fs::write(crate_dir().join(openapi::DPF_V1_FILE), text).unwrap();
        return;
    }
    panic!(
        "{} is stale (the router or the reference changed): run \
         PLATDNS_UPDATE_OPENAPI=1 cargo test -p platdns-api --test openapi, then rebuild",
        openapi::DPF_V1_FILE
    );
}

#[test]
fn dpf_document_keeps_the_references_operations_and_marks_ours() {
    let doc = openapi::dpf_document();
    let op = &doc["paths"]["/zones/{ZoneId}/changes"]["patch"];
    assert_eq!(op["operationId"], "patchZoneChanges");
    assert_eq!(op["responses"]["412"]["x-platdns"], true);
    let if_match = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "If-Match");
    assert_eq!(if_match.unwrap()["x-platdns"], true);
    assert!(doc["paths"]["/zones/{ZoneId}/atomic_changes"]["patch"]["responses"]["412"].is_object());
    let etag = &doc["paths"]["/zones/{ZoneId}"]["get"]["responses"]["200"]["headers"]["ETag"];
    assert_eq!(etag["x-platdns"], true);
    assert_eq!(doc["paths"]["/openapi.json"]["get"]["security"], serde_json::json!([]));
    assert_eq!(doc["servers"][0]["url"], "/dpf/v1");
}

fn oas_validator(version: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(crate_dir().join(format!("tests/data/oas-{version}.schema.json"))).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Every `$ref` in the document points at something in it.
fn unresolved_refs(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, doc: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    let target = r.strip_prefix('#').and_then(|p| doc.pointer(p));
                    if target.is_none() {
                        out.push(r.clone());
                    }
                }
                o.values().for_each(|v| walk(v, doc, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, doc, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(doc, doc, &mut out);
    out
}

#[test]
fn documents_are_valid_openapi_3() {
    for (name, doc) in [
        ("dpf", openapi::dpf_document()),
        ("operator", openapi::operator_document()),
    ] {
        let version = doc["openapi"].as_str().unwrap();
        let schema = match version.get(..4) {
            Some("3.0.") => "3.0",
            Some("3.1.") => "3.1",
            _ => panic!("{name}: openapi {version} is not 3.0 or 3.1"),
        };
        let errors: Vec<String> = oas_validator(schema)
            .iter_errors(&doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .take(10)
            .collect();
        assert!(errors.is_empty(), "{name}: not valid OpenAPI {schema}: {errors:#?}");
        let bad = unresolved_refs(&doc);
        assert!(bad.is_empty(), "{name}: unresolved $refs: {bad:?}");
    }
}

#[test]
fn the_validator_rejects_a_broken_document() {
    let mut doc = openapi::dpf_document();
    doc["paths"]["/zones"]["get"]["responses"] = Value::String("none".into());
    assert!(!oas_validator("3.0").is_valid(&doc));
    let mut doc = openapi::operator_document();
    doc["info"] = Value::Null;
    assert!(!oas_validator("3.1").is_valid(&doc));
}
