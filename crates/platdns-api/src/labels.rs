//! DPF labels of zones and contracts (`GET`/`PUT /zones/{id}/labels`,
//! `/contracts/{id}/labels`), and a zone's managed DNS servers. Labels are
//! replaced whole, at most ten pairs of 1–63 characters (the reference's
//! `ZoneLabels`); a bad one is a 400 naming `labels` with DPF's code.

use crate::auth::{Tenant, ZoneRead, ZoneWrite};
use crate::dpf::{find_contract, job_done, Op};
use crate::json::{self, Body};
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use platdns_store::{LabelOf, Labels};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> crate::routes::Routes {
    crate::routes::Routes::new()
        .get("/zones/{id}/labels", get_zone_labels)
        .put("/zones/{id}/labels", put_zone_labels)
        .get("/contracts/{id}/labels", get_contract_labels)
        .put("/contracts/{id}/labels", put_contract_labels)
        .get("/zones/{id}/managed_dns_servers", managed_dns_servers)
}

const MAX_LABELS: usize = 10;
const MAX_LEN: usize = 63;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PutLabels {
    pub(crate) labels: Map<String, Value>,
}

/// Checks labels as DPF's `PutZoneLabelsBadRequest` lists the codes: keys
/// are letters, digits, `-`, `_` and `.`, starting with a letter or digit;
/// values are strings with no control characters; both 1–63 characters.
pub(crate) fn check(labels: Map<String, Value>) -> ApiResult<Labels> {
    if labels.len() > MAX_LABELS {
        return Err(ApiError::bad_request(
            "invalid",
            "labels",
            format!("at most {MAX_LABELS} labels"),
        ));
    }
    let mut out = Labels::new();
    for (key, value) in labels {
        let bad = |code: &str, why: String| Err(ApiError::bad_request(code, "labels", format!("{key}: {why}")));
        let n = key.chars().count();
        if n == 0 || n > MAX_LEN {
            return bad("invalid_length_key", format!("a key is 1 to {MAX_LEN} characters"));
        }
        if !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return bad(
                "invalid_char_type_key",
                "a key is letters, digits, '-', '_' and '.'".into(),
            );
        }
        if !key.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return bad("invalid_format_key", "a key starts with a letter or a digit".into());
        }
        let Value::String(value) = value else {
            return bad("invalid_type_value", "a value is a string".into());
        };
        let n = value.chars().count();
        if n == 0 || n > MAX_LEN {
            return bad("invalid_length_value", format!("a value is 1 to {MAX_LEN} characters"));
        }
        if value.chars().any(char::is_control) {
            return bad("invalid_char_type_value", "a value has no control characters".into());
        }
        out.insert(key, value);
    }
    Ok(out)
}

pub(crate) async fn get_zone_labels(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let labels = s.store.labels(LabelOf::Zone, z.id).await?;
    Ok(Json(json::result(json!({ "labels": labels }))))
}

pub(crate) async fn put_zone_labels(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    Body(b): Body<PutLabels>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let labels = check(b.labels)?;
    s.store.set_labels(LabelOf::Zone, z.id, &labels).await?;
    let op = Op::zone(&z, "service", "update_zone_labels", format!("{}.", z.name));
    job_done(&s, &t, format!("/dpf/v1/zones/{id}/labels"), op).await
}

pub(crate) async fn get_contract_labels(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = find_contract(&s, &t, &id).await?;
    let labels = s.store.labels(LabelOf::Contract, c.id).await?;
    Ok(Json(json::result(json!({ "labels": labels }))))
}

pub(crate) async fn put_contract_labels(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    Body(b): Body<PutLabels>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    let labels = check(b.labels)?;
    s.store.set_labels(LabelOf::Contract, c.id, &labels).await?;
    let op = Op {
        contract_id: c.id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation: "update_contract_labels",
        target: c.service_code.clone(),
    };
    job_done(&s, &t, format!("/dpf/v1/contracts/{id}/labels"), op).await
}

/// `GET /zones/{id}/managed_dns_servers`: the platform's name servers that
/// serve the zone (operator configuration, `ZoneDefaults`).
pub(crate) async fn managed_dns_servers(State(s): State<AppState>, _: ZoneRead) -> ApiResult<Json<Value>> {
    let servers: Vec<Value> = s.zone_defaults.nameservers.iter().map(|n| json!(n)).collect();
    Ok(Json(json::results(servers)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn label_rules_give_dpf_codes() {
        let code = |v: Value| check(labels(v)).map(|_| ()).map_err(|e| e.details[0].0.clone());
        assert_eq!(code(json!({"env": "prod", "team.dns": "東京"})), Ok(()));
        assert_eq!(code(json!({"": "x"})), Err("invalid_length_key".into()));
        assert_eq!(code(json!({"k".repeat(64): "x"})), Err("invalid_length_key".into()));
        assert_eq!(code(json!({"a b": "x"})), Err("invalid_char_type_key".into()));
        assert_eq!(code(json!({"-a": "x"})), Err("invalid_format_key".into()));
        assert_eq!(code(json!({"a": 1})), Err("invalid_type_value".into()));
        assert_eq!(code(json!({"a": ""})), Err("invalid_length_value".into()));
        assert_eq!(code(json!({"a": "x\ny"})), Err("invalid_char_type_value".into()));
        let eleven: Map<String, Value> = (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(
            check(eleven).map(|_| ()).map_err(|e| e.details[0].0.clone()),
            Err("invalid".into())
        );
    }
}
