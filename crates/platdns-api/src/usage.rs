//! Contract QPS in use (issue 6; SPEC R2.1, R4.1–R4.4), the control side:
//!
//! - [`record_second`]: a DNS node's per-slot counts of one second become
//!   usage rows of its contracts' services (every node writes its own; a
//!   contract's figure is the sum over nodes).
//! - [`decide`]: once a second, every contract's queries over the policy's
//!   window against its contract QPS (`platdns_contract::usage::decide`);
//!   a restriction is an event in the store and in the contract's log.
//! - [`apply`]: once a second on every DNS node, the restrictions in force
//!   set on the node's meter slots, so a decision reaches every node within
//!   two seconds.
//! - [`roll_up`]: seconds into minutes (seconds kept an hour, minutes 90
//!   days).
//! - The DPF `GET /contracts/{id}/qps/histories` (12 months per service and
//!   the contract), and our series and restriction lists.

use crate::auth::Tenant;
use crate::dpf::find_contract;
use crate::meters::ServiceKind;
use crate::routes::Routes;
use crate::{json, ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use platdns_contract::usage::{RestrictAction, RestrictionPolicy};
use platdns_store::{Restriction, UsageOf};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

pub use platdns_control::usage::*;

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get("/contracts/{id}/qps/histories", histories)
        .get("/contracts/{id}/qps/series", series)
        .get("/contracts/{id}/restrictions", restrictions_of)
}

/// DPF `GET /contracts/{id}/qps/histories`: for the contract (`name`
/// null) and each of its zones and LB domains, 12 months of QPS, this one
/// last, by the operator's monthly method over per-minute averages; a
/// month already fixed shows its fixed figure.
async fn histories(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = find_contract(&s, &t, &id).await?;
    let months = months(&s);
    let (services, total) = figures(&s, c.id, &months).await?;
    let fixed: HashMap<(String, String, i64), i64> = s
        .store
        .month_figures(c.id)
        .await?
        .into_iter()
        .map(|(m, k, id, q)| ((m, k, id), q))
        .collect();
    let values = |kind: &str, sid: i64, computed: Option<&Vec<u64>>| -> Vec<Value> {
        months
            .iter()
            .enumerate()
            .map(|(i, (month, _, _))| {
                let qps = fixed
                    .get(&(month.clone(), kind.to_string(), sid))
                    .map(|q| *q as u64)
                    .or_else(|| computed.and_then(|v| v.get(i).copied()))
                    .unwrap_or(0);
                json!({"month": month, "qps": qps})
            })
            .collect()
    };
    let mut results =
        vec![json!({"name": null, "service_code": c.service_code, "values": values("", 0, Some(&total))})];
    for z in s.store.list_zones(None, Some(c.id)).await? {
        let v = values("zone", z.id, services.get(&("zone".to_string(), z.id)));
        results.push(json!({"name": format!("{}.", z.name), "service_code": z.service_code, "values": v}));
    }
    for l in s.store.list_lb_domains(None, Some(c.id)).await? {
        let v = values("lb_domain", l.id, services.get(&("lb_domain".to_string(), l.id)));
        results.push(json!({"name": l.name, "service_code": l.service_code, "values": v}));
    }
    Ok(Json(json::results(results)))
}

/// The query of a usage series.
struct SeriesQuery {
    resolution: String,
    service: Option<(ServiceKind, String)>,
    from: Option<i64>,
    to: Option<i64>,
}

fn series_query(q: Option<&str>) -> ApiResult<SeriesQuery> {
    let mut out = SeriesQuery {
        resolution: "second".into(),
        service: None,
        from: None,
        to: None,
    };
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "resolution" if v == "second" || v == "minute" => out.resolution = v.into(),
            "resolution" => return Err(ApiError::bad_request("invalid", "resolution", "second or minute")),
            "service" => {
                let parsed = v
                    .split_once(':')
                    .and_then(|(k, id)| Some((ServiceKind::from_text(k)?, id.to_string())));
                out.service = Some(
                    parsed.ok_or_else(|| ApiError::bad_request("invalid", "service", "zone:<id> or lb_domain:<id>"))?,
                );
            }
            "from" | "to" => {
                let t: i64 = v
                    .parse()
                    .map_err(|_| ApiError::bad_request("invalid", k, "unix seconds"))?;
                if k == "from" {
                    out.from = Some(t)
                } else {
                    out.to = Some(t)
                }
            }
            _ => return Err(ApiError::bad_request("invalid", k, "unknown query parameter")),
        }
    }
    Ok(out)
}

/// The series of `of`: per second over the last hour, or per minute over
/// 90 days, within `from`/`to`.
async fn series_points(s: &AppState, of: UsageOf<'_>, q: &SeriesQuery) -> ApiResult<Vec<UsagePointView>> {
    let now = s.clock.now().as_second();
    let second = q.resolution == "second";
    let points = if second {
        let to = q.to.unwrap_or(now);
        let from = q.from.unwrap_or(to - 3600).max(now - 3600);
        s.store.usage_seconds(of, from, to).await?
    } else {
        let to = q.to.unwrap_or(now) / 60;
        let from = q
            .from
            .map(|f| f / 60)
            .unwrap_or(to - 24 * 60)
            .max(now / 60 - 90 * 24 * 60);
        s.store.usage_minutes(of, from, to).await?
    };
    Ok(points
        .iter()
        .map(|p| {
            let at = if second { p.at } else { p.at * 60 };
            UsagePointView {
                time: jiff::Timestamp::from_second(at)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
                queries: p.answered,
                restricted: p.restricted,
            }
        })
        .collect())
}

/// One point of a usage series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsagePointView {
    pub time: String,
    /// Queries answered.
    pub queries: i64,
    /// Queries a restriction dropped, refused or truncated.
    pub restricted: i64,
}

/// A usage series (the operator's `GET /contracts/{id}/usage`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct UsageSeries {
    pub request_id: String,
    /// `second` or `minute`.
    pub resolution: String,
    pub results: Vec<UsagePointView>,
}

/// Our `GET /contracts/{id}/qps/series?resolution=second|minute&service=zone:<id>|lb_domain:<id>&from=&to=`:
/// per-second (the last hour) or per-minute (90 days) counts of the
/// contract or one of its services, summed over DNS nodes.
async fn series(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<UsageSeries>> {
    let c = find_contract(&s, &t, &id).await?;
    let q = series_query(q.as_deref())?;
    let sid;
    let of = match &q.service {
        None => UsageOf::Contract(c.id),
        Some((kind, public_id)) => {
            sid = match kind {
                ServiceKind::Zone => {
                    let z = crate::dpf::find_zone(&s, &t, public_id).await?;
                    (z.contract_id == c.id).then_some(z.id)
                }
                ServiceKind::LbDomain => {
                    let l = crate::lb::find_lb(&s, &t, public_id).await?;
                    (l.contract_id == c.id).then_some(l.id)
                }
            }
            .ok_or_else(ApiError::not_found)?;
            UsageOf::Service(kind.as_str(), sid)
        }
    };
    Ok(Json(UsageSeries {
        request_id: platdns_store::new_request_id(),
        results: series_points(&s, of, &q).await?,
        resolution: q.resolution,
    }))
}

/// A contract's usage for the operator, as the tenant's `qps/series`
/// (`service` names a zone or LB domain of the contract by its DPF id).
#[utoipa::path(get, path = "/contracts/{id}/usage", tag = "usage",
    params(
        ("id" = String, Path, description = "The contract's DPF id"),
        ("resolution" = Option<String>, Query, description = "`second` (the last hour, default) or `minute` (90 days)"),
        ("service" = Option<String>, Query, description = "`zone:<id>` or `lb_domain:<id>`"),
        ("from" = Option<i64>, Query, description = "Unix seconds, inclusive"),
        ("to" = Option<i64>, Query, description = "Unix seconds, exclusive")
    ),
    responses((status = 200, description = "Queries per second or minute, summed over DNS nodes", body = UsageSeries)))]
pub(crate) async fn operator_usage(
    State(s): State<AppState>,
    _o: crate::auth::Operator,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<UsageSeries>> {
    let c = s.store.find_contract(&id, None).await?;
    let q = series_query(q.as_deref())?;
    let sid;
    let of = match &q.service {
        None => UsageOf::Contract(c.id),
        Some((kind, public_id)) => {
            sid = match kind {
                ServiceKind::Zone => s
                    .store
                    .list_zones(None, Some(c.id))
                    .await?
                    .into_iter()
                    .find(|z| &z.public_id == public_id)
                    .map(|z| z.id),
                ServiceKind::LbDomain => s
                    .store
                    .list_lb_domains(None, Some(c.id))
                    .await?
                    .into_iter()
                    .find(|l| &l.public_id == public_id)
                    .map(|l| l.id),
            }
            .ok_or_else(ApiError::not_found)?;
            UsageOf::Service(kind.as_str(), sid)
        }
    };
    Ok(Json(UsageSeries {
        request_id: platdns_store::new_request_id(),
        results: series_points(&s, of, &q).await?,
        resolution: q.resolution,
    }))
}

/// A restriction policy as the operator API shows and takes it.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyView {
    /// Seconds of queries measured.
    pub window_secs: u32,
    /// Restrict when the measured QPS is over contract QPS × this / 100.
    pub threshold_percent: u32,
    /// Seconds a restriction lasts.
    pub period_secs: u32,
    /// `drop`, `refuse`, `truncate` or `none`.
    pub action: String,
    /// Refuse configuration changes while restricted.
    pub freeze_changes: bool,
}

impl From<RestrictionPolicy> for PolicyView {
    fn from(p: RestrictionPolicy) -> Self {
        PolicyView {
            window_secs: p.window_secs,
            threshold_percent: p.threshold_percent,
            period_secs: p.period_secs,
            action: p.action.as_str().into(),
            freeze_changes: p.freeze_changes,
        }
    }
}

/// The policy in force for a contract and where it comes from.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EffectivePolicy {
    pub request_id: String,
    /// `plan` or `contract` (the operator's override).
    pub source: String,
    /// `null`: the contract is never restricted.
    pub policy: Option<PolicyView>,
}

/// The operator's override of one contract's policy: a policy, or `null`
/// for "never restricted".
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    pub policy: Option<PolicyView>,
}

async fn effective(s: &AppState, c: &platdns_store::Contract) -> ApiResult<EffectivePolicy> {
    let overrides = overrides(s).await?;
    let source = if overrides.contains_key(&c.id) {
        "contract"
    } else {
        "plan"
    };
    Ok(EffectivePolicy {
        request_id: platdns_store::new_request_id(),
        source: source.into(),
        policy: s.usage.settings.policy(c.id, c.plan, &overrides).map(PolicyView::from),
    })
}

#[utoipa::path(get, path = "/contracts/{id}/restriction_policy", tag = "usage",
    params(("id" = String, Path, description = "The contract's DPF id")),
    responses((status = 200, description = "The restriction policy in force (R4.1)", body = EffectivePolicy)))]
pub(crate) async fn get_policy(
    State(s): State<AppState>,
    _o: crate::auth::Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<EffectivePolicy>> {
    let c = s.store.find_contract(&id, None).await?;
    Ok(Json(effective(&s, &c).await?))
}

#[utoipa::path(put, path = "/contracts/{id}/restriction_policy", tag = "usage",
    params(("id" = String, Path, description = "The contract's DPF id")),
    request_body = PolicyOverride,
    responses((status = 200, description = "The policy now in force", body = EffectivePolicy)))]
pub(crate) async fn put_policy(
    State(s): State<AppState>,
    _o: crate::auth::Operator,
    Path(id): Path<String>,
    crate::json::Body(b): crate::json::Body<PolicyOverride>,
) -> ApiResult<Json<EffectivePolicy>> {
    let c = s.store.find_contract(&id, None).await?;
    let policy = match b.policy {
        None => None,
        Some(v) => {
            let action = RestrictAction::from_text(&v.action)
                .ok_or_else(|| ApiError::bad_request("invalid", "policy.action", "drop, refuse, truncate or none"))?;
            if v.window_secs == 0 || v.period_secs == 0 {
                return Err(ApiError::bad_request(
                    "invalid",
                    "policy",
                    "window_secs and period_secs are at least 1",
                ));
            }
            Some(RestrictionPolicy {
                window_secs: v.window_secs,
                threshold_percent: v.threshold_percent,
                period_secs: v.period_secs,
                action,
                freeze_changes: v.freeze_changes,
            })
        }
    };
    let text = policy.map(|p| serde_json::to_string(&p).expect("serialisable"));
    s.store.set_restriction_override(c.id, Some(text.as_deref())).await?;
    Ok(Json(effective(&s, &c).await?))
}

#[utoipa::path(delete, path = "/contracts/{id}/restriction_policy", tag = "usage",
    params(("id" = String, Path, description = "The contract's DPF id")),
    responses((status = 200, description = "The plan's policy, now in force again", body = EffectivePolicy)))]
pub(crate) async fn delete_policy(
    State(s): State<AppState>,
    _o: crate::auth::Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<EffectivePolicy>> {
    let c = s.store.find_contract(&id, None).await?;
    s.store.set_restriction_override(c.id, None).await?;
    Ok(Json(effective(&s, &c).await?))
}

/// Restrictions of every contract (the operator's view of R4.3).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RestrictionList {
    pub request_id: String,
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<Value>,
}

#[utoipa::path(get, path = "/restrictions", tag = "usage",
    responses((status = 200, description = "Every contract's restrictions, newest first, each with its contract", body = RestrictionList)))]
pub(crate) async fn operator_restrictions(
    State(s): State<AppState>,
    _o: crate::auth::Operator,
) -> ApiResult<Json<RestrictionList>> {
    let contracts: HashMap<i64, String> = s
        .store
        .list_contracts(None)
        .await?
        .into_iter()
        .map(|c| (c.id, c.public_id))
        .collect();
    let results = s
        .store
        .restrictions(None)
        .await?
        .iter()
        .map(|r| {
            let mut v = restriction_json(r);
            v["contract_id"] = json!(contracts.get(&r.contract_id));
            v
        })
        .collect();
    Ok(Json(RestrictionList {
        request_id: platdns_store::new_request_id(),
        results,
    }))
}

pub(crate) fn restriction_json(r: &Restriction) -> Value {
    json!({
        "id": r.id,
        "started_at": r.started_at.to_string(),
        "ends_at": r.ends_at.to_string(),
        "ended_at": r.ended_at.map(|t| t.to_string()),
        "measured_qps": format!("{}.{:03}", r.measured_mqps / 1000, r.measured_mqps % 1000),
        "contract_qps": r.limit_qps,
        "window_seconds": r.window_secs,
        "action": r.action,
        "freeze_changes": r.freeze,
        "in_force": r.ended_at.is_none(),
    })
}

/// Our `GET /contracts/{id}/restrictions`: the contract's restriction
/// events (R4.3), newest first.
async fn restrictions_of(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = find_contract(&s, &t, &id).await?;
    let all = s.store.restrictions(Some(c.id)).await?;
    Ok(Json(json::results(all.iter().map(restriction_json).collect())))
}
