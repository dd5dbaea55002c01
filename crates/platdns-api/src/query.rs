//! Query parameters checked against the tenant OpenAPI document before a
//! handler runs: a value the document's schema for that parameter refuses
//! (a wrong type, an enum miss, too long, out of range) is a DPF 400 naming
//! the parameter. The document is the reference's (`openapi.rs`), so this is
//! the reference's own contract, applied once for every operation rather
//! than re-stated in each handler. Parameters the document does not name are
//! left to the handler.

use crate::openapi::{dpf_document, path_shape};
use crate::ApiError;
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// (METHOD, path shape under the prefix) → (parameter name, resolved schema).
type Params = HashMap<(String, String), Vec<(String, Value)>>;

fn params() -> &'static Params {
    static PARAMS: OnceLock<Params> = OnceLock::new();
    PARAMS.get_or_init(|| {
        let doc = dpf_document();
        let mut out = Params::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            let shared: Vec<Value> = item["parameters"].as_array().cloned().unwrap_or_default();
            for (method, op) in item.as_object().into_iter().flatten() {
                if method == "parameters" || !op.is_object() {
                    continue;
                }
                let own = op["parameters"].as_array().cloned().unwrap_or_default();
                let all: Vec<Value> = shared.iter().chain(&own).cloned().collect();
                out.insert(
                    (method.to_ascii_uppercase(), path_shape(path)),
                    query_params(&doc, &all),
                );
            }
        }
        out
    })
}

fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let target = r.trim_start_matches("#/").split('/').fold(doc, |node, key| &node[key]);
            resolve(doc, target)
        }
        None => v,
    }
}

fn query_params(doc: &Value, params: &[Value]) -> Vec<(String, Value)> {
    params
        .iter()
        .map(|p| resolve(doc, p))
        .filter(|p| p["in"] == "query")
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), inline(doc, &p["schema"]))))
        .collect()
}

/// The schema with its `$ref`s (and `items`' `$ref`) resolved.
fn inline(doc: &Value, schema: &Value) -> Value {
    let mut s = resolve(doc, schema).clone();
    if let Some(items) = s.get("items").cloned() {
        s["items"] = resolve(doc, &items).clone();
    }
    s
}

/// Whether one query value satisfies a (simple) parameter schema: the
/// `type`, `enum`, length and range keywords query parameters use.
fn fits(schema: &Value, v: &str) -> Result<(), String> {
    match schema["type"].as_str() {
        Some("array") => return fits(&schema["items"], v),
        Some("integer") => {
            let n: i64 = v.parse().map_err(|_| "an integer".to_string())?;
            if let Some(min) = schema["minimum"].as_i64() {
                if n < min {
                    return Err(format!("at least {min}"));
                }
            }
            if let Some(max) = schema["maximum"].as_i64() {
                if n > max {
                    return Err(format!("at most {max}"));
                }
            }
        }
        Some("boolean") => {
            if v != "true" && v != "false" {
                return Err("true or false".into());
            }
        }
        _ => {
            // The reference's own default ("" for the log dates) stands for
            // "not given" and is taken as that.
            let is_default = schema["default"].as_str() == Some(v);
            match schema["format"].as_str() {
                Some("full-date") if !is_default && v.parse::<jiff::civil::Date>().is_err() => {
                    return Err("a date, YYYY-MM-DD".into());
                }
                Some("time-numoffset") if !is_default && !is_numoffset(v) => {
                    return Err("an offset, +HH:MM or -HH:MM".into());
                }
                _ => {}
            }
            let n = v.chars().count() as u64;
            if let Some(max) = schema["maxLength"].as_u64() {
                if n > max {
                    return Err(format!("at most {max} characters"));
                }
            }
            if let Some(min) = schema["minLength"].as_u64() {
                if n < min {
                    return Err(format!("at least {min} characters"));
                }
            }
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        let ok = allowed.iter().any(|a| match a {
            Value::String(s) => s == v,
            Value::Number(n) => n.as_f64().is_some() && v.parse::<f64>().ok() == n.as_f64(),
            Value::Bool(b) => v == if *b { "true" } else { "false" },
            _ => false,
        });
        if !ok {
            return Err("one of the values the reference lists".into());
        }
    }
    Ok(())
}

/// RFC 3339 `time-numoffset`: `+HH:MM` / `-HH:MM`, hours 00-23, minutes 00-59.
fn is_numoffset(v: &str) -> bool {
    let b = v.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 6
        && matches!(b[0], b'+' | b'-')
        && b[3] == b':'
        && digits(1..3)
        && digits(4..6)
        && v[1..3] < *"24"
        && v[4..6] < *"60"
}

/// Middleware for the tenant router (`axum::middleware::from_fn`).
pub async fn check(path: Option<MatchedPath>, req: Request, next: Next) -> Response {
    if let (Some(path), Some(q)) = (path, req.uri().query()) {
        let under = path
            .as_str()
            .strip_prefix(crate::openapi::DPF_PREFIX)
            .unwrap_or(path.as_str());
        let key = (req.method().as_str().to_string(), path_shape(under));
        if let Some(known) = params().get(&key) {
            for pair in q.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let (k, v) = (crate::dpf::decode(k), crate::dpf::decode(v));
                if let Some((_, schema)) = known.iter().find(|(name, _)| *name == k) {
                    if let Err(why) = fits(schema, &v) {
                        return ApiError::bad_request("invalid", &k, format!("{k}: {why}")).into_response();
                    }
                }
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_held_to_their_schemas() {
        let boolean = json!({"type": "boolean"});
        assert!(fits(&boolean, "true").is_ok() && fits(&boolean, "null").is_err());
        let words = json!({"type": "array", "items": {"type": "string", "maxLength": 3}});
        assert!(fits(&words, "abc").is_ok() && fits(&words, "abcd").is_err());
        let op = json!({"type": "string", "enum": ["commit_zone", "adding_record"]});
        assert!(fits(&op, "commit_zone").is_ok() && fits(&op, "1").is_err());
        let date = json!({"type": "string", "format": "full-date", "default": ""});
        assert!(fits(&date, "2026-11-25").is_ok() && fits(&date, "").is_ok() && fits(&date, "2026-02-30").is_err());
        let tz = json!({"type": "string", "format": "time-numoffset", "default": "+00:00"});
        assert!(fits(&tz, "+09:00").is_ok() && fits(&tz, "").is_err() && fits(&tz, "+24:00").is_err());
        let limit = json!({"type": "integer", "minimum": 1, "maximum": 100});
        assert!(fits(&limit, "100").is_ok() && fits(&limit, "101").is_err() && fits(&limit, "x").is_err());
    }

    #[test]
    fn every_documented_operation_has_its_query_parameters() {
        let p = params();
        let logs = &p[&("GET".to_string(), "/zones/{}/logs".to_string())];
        assert!(logs
            .iter()
            .any(|(n, s)| n == "_keywords_operation[]" && s["enum"].is_array()));
        let commit = &p[&("PATCH".to_string(), "/zones/{}/changes".to_string())];
        assert!(commit.iter().any(|(n, s)| n == "wait" && s["type"] == "boolean"));
    }
}
