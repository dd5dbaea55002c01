//! The OpenAPI documents, served without authentication at
//! `/dpf/v1/openapi.json` and `/operator/v1/openapi.json`.
//!
//! The tenant document is the DPF-API reference (`shared/dpf-api/openapi.json`,
//! the contract DPF clients are written against) cut down to the operations
//! [`crate::router`] implements, with the components they reference and our
//! extensions, each marked `x-platdns`. [`dpf_from_reference`] makes it; the
//! result is kept in `openapi/dpf-v1.json` and embedded, so serving needs no
//! reference. `tests/openapi.rs` regenerates it and fails when the file, the
//! reference or the router moved apart (`PLATDNS_UPDATE_OPENAPI=1` rewrites
//! the file).
//!
//! The operator document comes from the handlers' own types with `utoipa`
//! ([`crate::operator::OperatorApi`]).

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::OnceLock;

pub const DPF_PREFIX: &str = "/dpf/v1";
pub const OPERATOR_PREFIX: &str = "/operator/v1";

/// The tenant document as served (made by [`dpf_from_reference`]).
pub const DPF_V1_JSON: &str = include_str!("../openapi/dpf-v1.json");

/// The path of the embedded tenant document, from the crate's directory.
pub const DPF_V1_FILE: &str = "openapi/dpf-v1.json";

pub fn dpf_document() -> Value {
    serde_json::from_str(DPF_V1_JSON).expect("openapi/dpf-v1.json is JSON")
}

pub async fn serve_dpf() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DPF_V1_JSON)
}

pub async fn serve_operator() -> impl IntoResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let text = DOC.get_or_init(|| operator_document().to_string());
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}

/// A response whose body is DPF's error body.
fn error_response(description: &str, schema_ref: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    })
}

/// The operator document: `utoipa`'s, plus the errors every operation can
/// answer (DPF's error body) and the document's own route.
pub fn operator_document() -> Value {
    use utoipa::OpenApi;
    let mut api = crate::operator::OperatorApi::openapi();
    api.merge(crate::billing::BillingApi::openapi());
    let mut doc = serde_json::to_value(api).expect("serializable");
    let err = "#/components/schemas/ErrorBody";
    for item in doc["paths"].as_object_mut().expect("paths").values_mut() {
        for op in item.as_object_mut().expect("path item").values_mut() {
            let has_body = op.get("requestBody").is_some();
            let responses = op["responses"].as_object_mut().expect("responses");
            let mut add = |status: &str, description: &str| {
                responses.insert(status.into(), error_response(description, err));
            };
            add("400", "A parameter or the body is invalid; `error_details` names it");
            add("401", "No operator token (a tenant token is not one)");
            add("404", "The resource, or one the body names, does not exist");
            add("500", "System error; the detail is logged, not sent");
            if has_body {
                add("413", "The body is larger than `--max-request-bytes`");
            }
        }
    }
    doc["paths"]["/openapi.json"] = json!({"get": {
        "tags": ["openapi"],
        "summary": "This document",
        "operationId": "openapi",
        "security": [],
        "responses": {"200": {
            "description": "The operator API's OpenAPI document",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }},
    }});
    doc
}

/// `{ZoneId}` and `{id}` alike: paths compared by their shape.
pub fn path_shape(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            c if !in_param => out.push(c),
            _ => {}
        }
    }
    out
}

/// Our extensions' mark.
/// Appends a parameter to an operation's list.
fn add_param(op: &mut Value, param: Value) {
    let params = op
        .as_object_mut()
        .expect("operation")
        .entry("parameters")
        .or_insert_with(|| json!([]));
    params.as_array_mut().expect("parameters").push(param);
}

fn ours(v: Value) -> Value {
    let mut v = v;
    v["x-platdns"] = json!(true);
    v
}

/// The tenant document from the DPF-API reference: the reference's path
/// items and operations for exactly the `(method, path)` pairs given (the
/// router's, paths under `/dpf/v1`), every component they reference, and our
/// extensions. Panics naming an operation the reference does not have.
/// Operations that are ours alone (not in the DPF reference).
const OURS: [&str; 7] = [
    "/openapi.json",
    "/lb_domains/{id}/explain",
    "/contracts/{id}/qps/series",
    "/contracts/{id}/restrictions",
    "/contracts/{id}/invoices",
    "/contracts/{id}/invoices/{month}",
    "/contracts/{id}/invoices/{month}/csv",
];

pub fn dpf_from_reference(reference: &Value, operations: &[(&str, &str)]) -> Value {
    let ref_paths = reference["paths"].as_object().expect("reference paths");
    let mut paths = Map::new();
    for (method, path) in operations {
        if OURS.contains(path) {
            continue;
        }
        let (ref_path, item) = ref_paths
            .iter()
            .find(|(p, _)| path_shape(p) == path_shape(path))
            .unwrap_or_else(|| panic!("the router has {method} {path}; the DPF-API reference has no such path"));
        let m = method.to_ascii_lowercase();
        let op = item
            .get(&m)
            .unwrap_or_else(|| panic!("the router has {method} {path}; the DPF-API reference has no such operation"));
        let entry = paths.entry(ref_path.clone()).or_insert_with(|| json!({}));
        if let Some(params) = item.get("parameters") {
            entry["parameters"] = params.clone();
        }
        entry[&m] = op.clone();
    }
    let mut doc = json!({
        "openapi": reference["openapi"],
        "info": {
            "title": "DPF-API (platdns)",
            "version": reference["info"]["version"],
            "description": "The operations of the DPF-API that platdns implements, as the DPF-API reference \
                manual's openapi.json defines them (paths, parameters, bodies, responses and schemas \
                copied from it). What platdns adds is marked `x-platdns`: the `ETag` of a zone, \
                `If-Match` on commits with its 412, the 401/403/413 answers (in DPF's error body), \
                414 for a URI too long, `?wait=true` on writes, and this document's own route.",
            "x-platdns": true,
        },
        "servers": [{"url": DPF_PREFIX, "description": "this server"}],
        "tags": reference["tags"].as_array().map(|tags| {
            let used: BTreeSet<&str> = paths
                .values()
                .flat_map(|i| i.as_object().into_iter().flat_map(|o| o.values()))
                .filter_map(|op| op.get("tags")?.as_array())
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            tags.iter()
                .filter(|t| t["name"].as_str().is_some_and(|n| used.contains(n)))
                .cloned()
                .collect::<Vec<_>>()
        }),
        "paths": paths,
        "components": {},
    });
    extend(&mut doc);
    collect_components(reference, &mut doc);
    strict_bodies(&mut doc);
    doc
}

/// Request bodies as platdns reads them (our extension): each body schema
/// is written out in place with `additionalProperties: false` on every
/// object with named properties (an unknown field is a 400 naming it), and
/// label maps carry the label rules `labels.rs` checks.
fn strict_bodies(doc: &mut Value) {
    let components = doc["components"].clone();
    let resolve = |mut v: Value| -> Value {
        for _ in 0..16 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                break;
            };
            v = r
                .trim_start_matches("#/components/")
                .split('/')
                .fold(&components, |n, k| &n[k])
                .clone();
        }
        v
    };
    fn strict(v: Value, resolve: &dyn Fn(Value) -> Value, depth: usize) -> Value {
        let mut v = resolve(v);
        if depth > 16 {
            return v;
        }
        if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
            for p in props.values_mut() {
                *p = strict(p.take(), resolve, depth + 1);
            }
            if v.get("additionalProperties").is_none() {
                v["additionalProperties"] = json!(false);
            }
            // An rdata item is its `value`; one without is refused.
            let only_value = v["properties"]
                .as_object()
                .is_some_and(|p| p.len() == 1 && p.contains_key("value"));
            if only_value && v.get("required").is_none() {
                v["required"] = json!(["value"]);
            }
        }
        if let Some(items) = v.get_mut("items") {
            *items = strict(items.take(), resolve, depth + 1);
        }
        // A label map: string values under free keys, at most ten.
        let is_labels =
            v["type"] == "object" && v["maxProperties"] == 10 && v["additionalProperties"]["type"] == "string";
        if is_labels {
            // OpenAPI 3.0 has no `propertyNames`: the key rule is said in words.
            v["x-platdns-label-keys"] = json!("1-63 of A-Z a-z 0-9 '-' '_' '.', starting with a letter or digit");
            v["additionalProperties"]["pattern"] = json!("^[^\\u0000-\\u001F\\u007F-\\u009F]*$");
        }
        v
    }
    let paths = doc["paths"].as_object_mut().expect("paths");
    for item in paths.values_mut() {
        for op in item.as_object_mut().expect("path item").values_mut() {
            let Some(body) = op.get("requestBody").cloned() else {
                continue;
            };
            let mut body = resolve(body);
            let schema = body["content"]["application/json"]["schema"].take();
            body["content"]["application/json"]["schema"] = strict(schema, &resolve, 0);
            // Every body platdns reads is required: an empty one is a 400.
            body["required"] = json!(true);
            body["x-platdns"] = json!(
                "required; unknown fields are refused with a 400 naming them; an rdata item needs its \
                value; label keys are 1-63 letters, digits, '-', '_' and '.', starting with a letter or digit"
            );
            op["requestBody"] = body;
        }
    }
}

/// Our extensions to the reference (each marked `x-platdns`).
fn extend(doc: &mut Value) {
    let error = "#/components/schemas/BadRequest";
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for (method, op) in item.as_object_mut().expect("path item").iter_mut() {
            if method == "parameters" {
                continue;
            }
            let writes = method != "get";
            let has_body = op.get("requestBody").is_some();
            let responses = op["responses"].as_object_mut().expect("responses");
            responses.insert(
                "401".into(),
                ours(error_response(
                    "No valid tenant token (DPF's error body; an operator token is not a tenant's)",
                    error,
                )),
            );
            if writes {
                responses.insert(
                    "403".into(),
                    ours(error_response(
                        "The token's scope or contract role does not allow writing (DPF's error body)",
                        error,
                    )),
                );
            }
            if has_body {
                responses.insert(
                    "413".into(),
                    ours(error_response(
                        "The body is larger than the server's `--max-request-bytes` (DPF's error body)",
                        error,
                    )),
                );
            }
            // hyper refuses a request line longer than its buffer before any
            // handler runs, with an empty body.
            responses.insert(
                "414".into(),
                ours(json!({"description": "The URI is longer than the server reads (no body)"})),
            );
            let shape = path_shape(path);
            if method == "get" && shape == "/zones/{}" {
                responses.get_mut("200").expect("200")["headers"] = json!({"ETag": ours(json!({
                    "description": "The applied zone's version, quoted: give it as `If-Match` to \
                        `PATCH /zones/{ZoneId}/changes` or `/atomic_changes` so that the commit \
                        fails with 412 if another commit came first",
                    "schema": {"type": "string", "pattern": "^\"[0-9]+\"$"},
                }))});
            }
            if method == "patch" && (shape == "/zones/{}/changes" || shape == "/zones/{}/atomic_changes") {
                responses.insert(
                    "412".into(),
                    ours(error_response(
                        "`If-Match` names a version other than the zone's: another commit came first; \
                         nothing was changed (DPF's error body, code `conflict`, attribute `If-Match`)",
                        error,
                    )),
                );
                add_param(
                    op,
                    ours(json!({
                        "name": "If-Match",
                        "in": "header",
                        "required": false,
                        "description": "The zone's `ETag` (its applied version) from `GET /zones/{ZoneId}`: \
                            commit only if no other commit came since",
                        "schema": {"type": "string", "pattern": "^\"?[0-9]{1,18}\"?$"},
                    })),
                );
            }
            if writes {
                add_param(
                    op,
                    ours(json!({
                        "name": "wait",
                        "in": "query",
                        "required": false,
                        "description": "Answer only when the job has finished: 202 when it succeeded, \
                            its error (4xx/5xx, DPF's error body) when it failed. Without it, commits, \
                            `atomic_changes` and whole-set `PUT records` answer 202 at once and run as \
                            jobs (RUNNING, then SUCCESSFUL or FAILED at `jobs_url`); scripts may give \
                            it and need not poll.",
                        "schema": {"type": "boolean"},
                    })),
                );
            }
        }
    }
    paths.insert(
        "/lb_domains/{LbDomainId}/explain".into(),
        json!({"get": ours(json!({
            "tags": ["lb_domains"],
            "summary": "What a query for the LB name gets now, and why",
            "description": "The applied rule, each method's status, every endpoint's Live/Ready \
                status with its monitoring results and manual settings and the reason it is or is \
                not answered, and the candidates the weighted choice picks from.",
            "operationId": "getLbDomainExplain",
            "parameters": [
                {"name": "LbDomainId", "in": "path", "required": true, "schema": {"type": "string"}},
                {"name": "qtype", "in": "query", "required": false, "schema": {"type": "string", "enum": ["A", "AAAA", "CNAME"], "default": "A"}}
            ],
            "responses": {
                "200": {
                    "description": "The explanation",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["request_id", "result"],
                        "properties": {
                            "request_id": {"type": "string"},
                            "result": {
                                "type": "object",
                                "required": ["name", "qtype", "answer", "methods", "endpoints"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "qtype": {"type": "string"},
                                    "rule_resource_name": {"type": "string", "nullable": true},
                                    "answer": {"type": "object", "nullable": true},
                                    "nodata_reason": {"type": "string", "nullable": true},
                                    "methods": {"type": "array", "items": {"type": "object"}},
                                    "endpoints": {"type": "array", "items": {"type": "object"}}
                                }
                            }
                        }
                    }}}
                },
                "400": error_response("`qtype` is not a record type (DPF's error body)", error),
                "401": error_response("No valid tenant token (DPF's error body)", error),
                "404": error_response("No such LB domain for this tenant (DPF's error body)", error)
            },
        }))}),
    );
    for (path, item) in crate::billing::tenant_paths() {
        let mut item = item;
        item["get"]["x-platdns"] = json!(true);
        paths.insert(path.into(), item);
    }
    let contract = json!({"name": "ContractId", "in": "path", "required": true, "schema": {"type": "string"}});
    paths.insert(
        "/contracts/{ContractId}/qps/series".into(),
        json!({"get": ours(json!({
            "tags": ["qps"],
            "summary": "Queries per second or per minute of a contract or one of its services",
            "description": "Counts summed over every DNS node (SPEC R2.1, R4.4): per second over the \
                last hour, or per minute over the last 90 days; `queries` were answered, \
                `restricted` were dropped, refused or truncated by a restriction. Seconds or \
                minutes without queries are left out.",
            "operationId": "getQpsSeries",
            "parameters": [
                contract,
                {"name": "resolution", "in": "query", "required": false, "schema": {"type": "string", "enum": ["second", "minute"], "default": "second"}},
                {"name": "service", "in": "query", "required": false, "description": "`zone:<ZoneId>` or `lb_domain:<LbDomainId>`; none: the whole contract", "schema": {"type": "string", "pattern": "^(zone|lb_domain):.+$"}},
                {"name": "from", "in": "query", "required": false, "description": "Unix seconds, inclusive", "schema": {"type": "integer", "format": "int64"}},
                {"name": "to", "in": "query", "required": false, "description": "Unix seconds, exclusive", "schema": {"type": "integer", "format": "int64"}}
            ],
            "responses": {
                "200": {"description": "The series", "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["request_id", "resolution", "results"],
                    "properties": {
                        "request_id": {"type": "string"},
                        "resolution": {"type": "string", "enum": ["second", "minute"]},
                        "results": {"type": "array", "items": {"type": "object",
                            "required": ["time", "queries", "restricted"],
                            "properties": {
                                "time": {"type": "string", "format": "date-time"},
                                "queries": {"type": "integer", "minimum": 0},
                                "restricted": {"type": "integer", "minimum": 0}
                            }}}
                    }
                }}}},
                "400": error_response("A query parameter is not valid (DPF's error body)", error),
                "401": error_response("No valid tenant token (DPF's error body)", error),
                "404": error_response("No such contract or service for this tenant (DPF's error body)", error)
            },
        }))}),
    );
    paths.insert(
        "/contracts/{ContractId}/restrictions".into(),
        json!({"get": ours(json!({
            "tags": ["qps"],
            "summary": "The contract's QPS restrictions (SPEC R4.1–R4.3), newest first",
            "operationId": "getRestrictions",
            "parameters": [contract],
            "responses": {
                "200": {"description": "The restriction events", "content": {"application/json": {"schema": {
                    "type": "object",
                    "required": ["request_id", "results"],
                    "properties": {
                        "request_id": {"type": "string"},
                        "results": {"type": "array", "items": {"type": "object",
                            "required": ["id", "started_at", "ends_at", "ended_at", "measured_qps", "contract_qps", "window_seconds", "action", "freeze_changes", "in_force"],
                            "properties": {
                                "id": {"type": "integer"},
                                "started_at": {"type": "string", "format": "date-time"},
                                "ends_at": {"type": "string", "format": "date-time"},
                                "ended_at": {"type": "string", "format": "date-time", "nullable": true},
                                "measured_qps": {"type": "string", "description": "Queries per second over the window, to the thousandth"},
                                "contract_qps": {"type": "integer"},
                                "window_seconds": {"type": "integer"},
                                "action": {"type": "string", "enum": ["drop", "refuse", "truncate", "none"]},
                                "freeze_changes": {"type": "boolean"},
                                "in_force": {"type": "boolean"}
                            }}}
                    }
                }}}},
                "401": error_response("No valid tenant token (DPF's error body)", error),
                "404": error_response("No such contract for this tenant (DPF's error body)", error)
            },
        }))}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": ours(json!({
            "tags": [],
            "summary": "This document",
            "operationId": "getOpenApi",
            "security": [],
            "responses": {"200": {
                "description": "The tenant API's OpenAPI document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }},
        }))}),
    );
}

/// Copies from the reference every component the document references,
/// transitively, and the security schemes its operations name.
fn collect_components(reference: &Value, doc: &mut Value) {
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(Value::String(r)) = o.get("$ref") {
                    out.push(r.clone());
                }
                o.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut components = Map::new();
    let mut todo = Vec::new();
    refs(&doc["paths"], &mut todo);
    let mut seen = BTreeSet::new();
    while let Some(r) = todo.pop() {
        if !seen.insert(r.clone()) {
            continue;
        }
        let mut parts = r.strip_prefix("#/components/").expect("local $ref").splitn(2, '/');
        let (kind, name) = (parts.next().unwrap(), parts.next().expect("component name"));
        let c = &reference["components"][kind][name];
        assert!(!c.is_null(), "the reference has no {r}");
        refs(c, &mut todo);
        components
            .entry(kind)
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .unwrap()
            .insert(name.into(), c.clone());
    }
    let mut schemes = Map::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            for req in op.get("security").and_then(Value::as_array).into_iter().flatten() {
                for name in req.as_object().unwrap().keys() {
                    schemes.insert(name.clone(), reference["components"]["securitySchemes"][name].clone());
                }
            }
        }
    }
    components.insert("securitySchemes".into(), Value::Object(schemes));
    doc["components"] = Value::Object(components);
}
