//! DPF traffic management (`/lb_domains`): list, count, get, patch (incl.
//! switching the applied rule), contract, labels, and the whole
//! configuration (`GET`/`PUT .../config`). A `PUT config` is checked whole by
//! `platdns-steering` first: any error answers DPF's `TargetBadRequest` with
//! the JSONPath of each bad field as `target`, and nothing is written.
//!
//! Statuses shown by `GET config` come from the health monitor
//! (`health.rs`): a `static` monitoring's fixed result, the last probe's for
//! the others (`unknown`, so Live down, until the first probe).

use crate::auth::Tenant;
use crate::dpf::{find_contract, job_done, Listing, Op};
use crate::json::{self, Body, Description};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use platdns_control::lb::{current_states, flags_of, pack, up_down};
use platdns_steering::model::{Limits, MethodItem, MethodType};
use platdns_steering::status::EndpointState;
use platdns_steering::LbConfig;
use platdns_store::{LabelOf, LbDomain};
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get(
            "/lb_domains",
            |State(s): State<AppState>, t: Tenant, RawQuery(q): RawQuery| list(s, t, q, false),
        )
        .get(
            "/lb_domains/count",
            |State(s): State<AppState>, t: Tenant, RawQuery(q): RawQuery| list(s, t, q, true),
        )
        .get("/lb_domains/{id}", get_one)
        .patch("/lb_domains/{id}", patch_one)
        .get("/lb_domains/{id}/contract", contract_of)
        .get("/lb_domains/{id}/labels", get_labels)
        .put("/lb_domains/{id}/labels", put_labels)
        .get("/lb_domains/{id}/config", get_config)
        .get("/lb_domains/{id}/explain", explain)
        .put("/lb_domains/{id}/config", put_config)
        .get(
            "/contracts/{id}/lb_domains",
            |State(s): State<AppState>, t: Tenant, Path(id): Path<String>, RawQuery(q): RawQuery| {
                contract_list(s, t, id, q, false)
            },
        )
        .get(
            "/contracts/{id}/lb_domains/count",
            |State(s): State<AppState>, t: Tenant, Path(id): Path<String>, RawQuery(q): RawQuery| {
                contract_list(s, t, id, q, true)
            },
        )
        .post("/lb_domains/{id}/sites/{site}/endpoints/{ep}/failover", failover)
        .post("/lb_domains/{id}/sites/{site}/endpoints/{ep}/failback", failback)
}

fn lb_json(l: &LbDomain) -> Value {
    json!({
        "id": l.public_id,
        "common_config_id": l.common_config_id,
        "service_code": l.service_code,
        "state": l.state.code(),
        "favorite": l.favorite,
        "name": l.name,
        "description": l.description,
        "rule_resource_name": l.rule_resource_name,
    })
}

pub(crate) async fn find_lb(s: &AppState, t: &Tenant, id: &str) -> ApiResult<LbDomain> {
    let l = s.store.find_lb_domain(id, Some(t.account_id())).await?;
    if !t.may_see_contract(l.contract_id) {
        return Err(ApiError::not_found());
    }
    Ok(l)
}

async fn visible(s: &AppState, t: &Tenant, contract_id: Option<i64>, listing: &Listing) -> ApiResult<Vec<Value>> {
    let all = s.store.list_lb_domains(Some(t.account_id()), contract_id).await?;
    let items = all
        .iter()
        .filter(|l| t.may_see_contract(l.contract_id))
        .map(|l| (l.id, lb_json(l)))
        .collect();
    listing.attach_labels(s, LabelOf::LbDomain, items).await
}

/// `GET /lb_domains[/count]`: every LB domain the token sees.
async fn list(s: AppState, t: Tenant, q: Option<String>, count: bool) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(l.answer(visible(&s, &t, None, &l).await?, count)))
}

/// `GET /contracts/{id}/lb_domains[/count]`: those of one contract.
async fn contract_list(s: AppState, t: Tenant, id: String, q: Option<String>, count: bool) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    let c = find_contract(&s, &t, &id).await?;
    Ok(Json(l.answer(visible(&s, &t, Some(c.id), &l).await?, count)))
}

async fn get_one(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json::result(lb_json(&find_lb(&s, &t, &id).await?))))
}

async fn contract_of(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let l = find_lb(&s, &t, &id).await?;
    Ok(Json(json::result(json::contract(
        &s.store.get_contract(l.contract_id).await?,
    ))))
}

/// DPF `PatchLbDomain`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchLb {
    #[serde(default, deserialize_with = "crate::json::non_null")]
    description: Option<Description>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    favorite: Option<i64>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    rule_resource_name: Option<String>,
}

async fn patch_one(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    Body(b): Body<PatchLb>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let l = find_lb(&s, &t, &id).await?;
    t.require_write(l.contract_id)?;
    if b.favorite.is_some_and(|f| !(1..=2).contains(&f)) {
        return Err(ApiError::bad_request("invalid", "favorite", "1 or 2"));
    }
    // The rule check and the write happen under the LB domain's lock, so a
    // configuration without the rule cannot land in between.
    let guard = s.zone_locks.lock(-l.id).await;
    if let Some(rule) = &b.rule_resource_name {
        let config = stored_config(&s.store.get_lb_domain(l.id).await?)?;
        if config.rule(rule).is_none() {
            return Err(ApiError::bad_request(
                "not_found",
                "rule_resource_name",
                format!("no rule {rule}"),
            ));
        }
    }
    let operation = match (&b.rule_resource_name, &b.favorite) {
        (Some(_), _) => "update_lb_domain_rule",
        (None, Some(_)) => "update_lb_domain_favorite",
        _ => "update_lb_domain_description",
    };
    let updated = s
        .store
        .update_lb_domain(
            l.id,
            b.description.as_deref(),
            b.favorite,
            b.rule_resource_name.as_deref(),
        )
        .await?;
    drop(guard);
    // A new applied rule answers the next query.
    crate::publish::publish_lb(&s, &updated).await?;
    job_done(&s, &t, format!("/dpf/v1/lb_domains/{id}"), lb_op(&l, operation)).await
}

pub(crate) fn lb_op<'a>(l: &LbDomain, operation: &'a str) -> Op<'a> {
    Op {
        contract_id: l.contract_id,
        zone_id: None,
        lb_domain_id: Some(l.id),
        log_type: "service",
        operation,
        target: l.name.clone(),
    }
}

async fn get_labels(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let l = find_lb(&s, &t, &id).await?;
    let labels = s.store.labels(LabelOf::LbDomain, l.id).await?;
    Ok(Json(json::result(json!({ "labels": labels }))))
}

async fn put_labels(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    Body(b): Body<crate::labels::PutLabels>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let l = find_lb(&s, &t, &id).await?;
    t.require_write(l.contract_id)?;
    let labels = crate::labels::check(b.labels)?;
    s.store.set_labels(LabelOf::LbDomain, l.id, &labels).await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/lb_domains/{id}/labels"),
        lb_op(&l, "update_lb_domain_labels"),
    )
    .await
}

pub(crate) fn stored_config(l: &LbDomain) -> ApiResult<LbConfig> {
    serde_json::from_str(&l.config).map_err(|e| {
        tracing::error!(lb_domain = %l.name, error = %e, "stored configuration does not parse");
        ApiError::internal()
    })
}

/// DPF's `TargetBadRequest`: one detail per problem, `target` its JSONPath.
pub(crate) struct TargetBadRequest(pub(crate) Vec<platdns_steering::ConfigError>);

impl IntoResponse for TargetBadRequest {
    fn into_response(self) -> Response {
        let message = self.0.first().map(ToString::to_string).unwrap_or_default();
        let details: Vec<Value> = self
            .0
            .iter()
            .map(|e| json!({"code": "invalid", "attribute": "config", "target": e.path}))
            .collect();
        let body = json!({
            "request_id": platdns_store::new_request_id(),
            "error_type": "Bad Request",
            "error_message": message,
            "error_details": details,
        });
        (StatusCode::BAD_REQUEST, Json(body)).into_response()
    }
}

/// DPF `PUT /lb_domains/{id}/config`: replaces the whole configuration, or
/// nothing. The applied rule must still be in it (DPF `rule_in_use`).
async fn put_config(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), Response> {
    let l = find_lb(&s, &t, &id).await.map_err(IntoResponse::into_response)?;
    t.require_write(l.contract_id).map_err(IntoResponse::into_response)?;
    // DPF: a configuration is at most 1 MiB (`too_large`).
    if body.len() > 1 << 20 {
        return Err(ApiError::bad_request("too_large", "config", "at most 1 MiB").into_response());
    }
    let limits = Limits {
        min_interval: s.zone_defaults.lb_min_interval,
    };
    let config = LbConfig::parse(&body, &limits).map_err(|e| TargetBadRequest(e).into_response())?;
    // Under the lock, against the applied rule as stored now.
    let guard = s.zone_locks.lock(-l.id).await;
    let l = s
        .store
        .get_lb_domain(l.id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    if !l.rule_resource_name.is_empty() && config.rule(&l.rule_resource_name).is_none() {
        return Err(TargetBadRequest(vec![platdns_steering::ConfigError {
            path: "$.rules".into(),
            message: format!("the applied rule {} must stay", l.rule_resource_name),
        }])
        .into_response());
    }
    let text = serde_json::to_string(&config).expect("serialisable");
    let updated = s
        .store
        .put_lb_config(l.id, &text)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    drop(guard);
    crate::publish::publish_lb(&s, &updated)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    crate::health::reschedule(&s)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/lb_domains/{id}/config"),
        lb_op(&l, "file_import"),
    )
    .await
    .map_err(IntoResponse::into_response)
}

/// The configuration with its statuses, as `GET config` shows it.
pub(crate) async fn view(s: &AppState, l: &LbDomain) -> ApiResult<Value> {
    Ok(view_parts(s, l).await?.2)
}

/// The configuration, its endpoints' states (under the LB domain's lock)
/// and the view made of both.
async fn view_parts(s: &AppState, l: &LbDomain) -> ApiResult<(LbConfig, Vec<(String, EndpointState)>, Value)> {
    let config = stored_config(l)?;
    let states = {
        let _one = s.zone_locks.lock(-l.id).await;
        current_states(s, l, &config).await?
    };
    let view = config_json(s, &config, &states);
    Ok((config, states, view))
}

/// Our extension `GET /lb_domains/{id}/explain?qtype=A`: the answer a query
/// would get now and why: the applied rule, each method's status, every
/// endpoint's state with its monitoring results and manual settings, and
/// the candidates the weighted choice picks from.
async fn explain(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let qtype_text = q
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|kv| kv.strip_prefix("qtype="))
        .unwrap_or("A")
        .to_ascii_uppercase();
    let qtype = platdns_zone::Rtype::from_text(&qtype_text)
        .ok_or_else(|| ApiError::bad_request("invalid", "qtype", format!("unknown type {qtype_text}")))?;
    let l = find_lb(&s, &t, &id).await?;
    let (config, states, full) = view_parts(&s, &l).await?;
    let rule = (!l.rule_resource_name.is_empty()).then_some(l.rule_resource_name.as_str());
    let steering = platdns_steering::Steering::compile(&config, rule, s.zone_defaults.lb_ttl);
    let ready: Vec<bool> = states.iter().map(|(_, st)| st.ready).collect();
    // Endpoints in steering order: (site, endpoint, weight).
    let order: Vec<(&str, &platdns_steering::model::Endpoint)> = config
        .sites
        .iter()
        .flat_map(|site| site.endpoints.iter().map(move |e| (site.resource_name.as_str(), e)))
        .collect();
    let answer = match steering.answer(qtype.0, &ready, 0) {
        platdns_steering::Answer::Endpoint { rtype, endpoint } => {
            let site = order[endpoint as usize].0;
            let candidates: Vec<(usize, u32)> = order
                .iter()
                .enumerate()
                .filter(|(i, (si, _))| *si == site && ready[*i])
                .map(|(i, (_, e))| (i, e.weight))
                .collect();
            let total: u32 = candidates.iter().map(|(_, w)| w).sum();
            json!({
                "rrtype": platdns_zone::Rtype(rtype).to_string(),
                "ttl": steering.ttl(),
                "site": site,
                "candidates": candidates.iter().map(|&(i, w)| json!({
                    "endpoint": order[i].1.resource_name,
                    "weight": w,
                    "share": f64::from(w) / f64::from(total),
                    "values": order[i].1.rdata.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })
        }
        platdns_steering::Answer::NoData => Value::Null,
    };
    let endpoints: Vec<Value> = full["sites"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|site| {
            site["endpoints"].as_array().into_iter().flatten().map(move |e| {
                let why = if e["enabled"] != json!(true) {
                    "disabled".to_string()
                } else if e["ready_status"] == "up" {
                    "ready".to_string()
                } else if e["live_status"] == "up" {
                    "live, but held out until an operator fails it back (manual_failback)".to_string()
                } else {
                    let failing: Vec<String> = e["monitorings"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|m| m["enabled"] == json!(true) && m["result"] != "up")
                        .map(|m| {
                            format!(
                                "{}: {}",
                                m["resource_name"].as_str().unwrap_or(""),
                                m["result"].as_str().unwrap_or("")
                            )
                        })
                        .collect();
                    if failing.is_empty() {
                        "no enabled monitoring".to_string()
                    } else {
                        format!("monitoring {}", failing.join(", "))
                    }
                };
                json!({
                    "site": site["resource_name"],
                    "resource_name": e["resource_name"],
                    "live_status": e["live_status"],
                    "ready_status": e["ready_status"],
                    "manual_failover": e["manual_failover"],
                    "manual_failback": e["manual_failback"],
                    "monitorings": e["monitorings"].as_array().into_iter().flatten().map(|m| json!({
                        "resource_name": m["resource_name"], "enabled": m["enabled"], "result": m["result"],
                    })).collect::<Vec<_>>(),
                    "reason": why,
                })
            })
        })
        .collect();
    let methods = full["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| Some(r["resource_name"].as_str().unwrap_or("")) == rule)
        .map(|r| r["methods"].clone())
        .unwrap_or(json!([]));
    let nodata = answer.is_null().then_some(match rule {
        None => "no rule is applied",
        Some(_) => {
            "no entry method serves this type, it is disabled, or nothing under it is up (or it ends in exit_sorry)"
        }
    });
    Ok(Json(json::result(json!({
        "name": l.name,
        "qtype": qtype.to_string(),
        "rule_resource_name": rule,
        "answer": answer,
        "nodata_reason": nodata,
        "methods": methods,
        "endpoints": endpoints,
    }))))
}

/// DPF `GET /lb_domains/{id}/config`: the configuration with its statuses.
async fn get_config(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let l = find_lb(&s, &t, &id).await?;
    Ok(Json(json::result(view(&s, &l).await?)))
}

/// DPF `PostManualFailback`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Failback {
    #[serde(default)]
    force: bool,
}

/// DPF `POST .../endpoints/{ep}/failover` and `/failback`: an operator takes
/// an endpoint out, or puts it back, where its manual settings ask for it.
async fn manual(
    s: &AppState,
    t: &Tenant,
    (id, site, ep): &(String, String, String),
    failback: Option<bool>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let l = find_lb(s, t, id).await?;
    t.require_write(l.contract_id)?;
    let config = stored_config(&l)?;
    let Some(site_c) = config.sites.iter().find(|x| &x.resource_name == site) else {
        return Err(ApiError::bad_request("not_found", "site", format!("no site {site}")));
    };
    let Some(e) = site_c.endpoints.iter().find(|x| &x.resource_name == ep) else {
        return Err(ApiError::bad_request(
            "not_found",
            "endpoint",
            format!("no endpoint {ep}"),
        ));
    };
    // The endpoint states are read, changed and saved under the LB domain's
    // lock, as every publication does.
    let guard = s.zone_locks.lock(-l.id).await;
    let states = current_states(s, &l, &config).await?;
    let mut state = states
        .iter()
        .find(|(n, _)| n == ep)
        .map(|(_, st)| *st)
        .unwrap_or_default();
    let flags = flags_of(e);
    let done = match failback {
        None => state.failover(flags),
        Some(force) => state.failback(flags, force),
    };
    done.map_err(|err| {
        let code = match err {
            platdns_steering::status::OperatorError::Forbidden => "forbidden",
            platdns_steering::status::OperatorError::LiveDown => "invalid_live_status",
        };
        ApiError::bad_request(code, "endpoint", err.to_string())
    })?;
    s.store
        .save_endpoint_state(l.id, ep, state.live, state.ready, pack(flags))
        .await?;
    drop(guard);
    crate::publish::publish_lb(s, &l).await?;
    let operation = if failback.is_some() {
        "manual_failback"
    } else {
        "manual_failover"
    };
    job_done(
        s,
        t,
        format!("/dpf/v1/lb_domains/{id}/sites/{site}/endpoints/{ep}"),
        lb_op(&l, operation),
    )
    .await
}

async fn failover(
    State(s): State<AppState>,
    t: Tenant,
    Path(p): Path<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    manual(&s, &t, &p, None).await
}

async fn failback(
    State(s): State<AppState>,
    t: Tenant,
    Path(p): Path<(String, String, String)>,
    body: axum::body::Bytes,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // The body is optional (force defaults to false).
    let b: Failback = if body.is_empty() {
        Failback::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request("invalid", "force", e.to_string()))?
    };
    manual(&s, &t, &p, Some(b.force)).await
}

fn config_json(s: &AppState, config: &LbConfig, states: &[(String, EndpointState)]) -> Value {
    let state_of = |rn: &str| {
        states
            .iter()
            .find(|(n, _)| n == rn)
            .map(|(_, s)| *s)
            .unwrap_or_default()
    };
    let monitoring_json = |rn: &str| {
        config
            .monitorings
            .iter()
            .find(|m| m.resource_name == rn)
            .map(|m| serde_json::to_value(m).expect("serialisable"))
            .unwrap_or(Value::Null)
    };
    let site_up = |rn: &str| {
        config
            .sites
            .iter()
            .find(|s| s.resource_name == rn)
            .is_some_and(|s| s.endpoints.iter().any(|e| state_of(&e.resource_name).ready))
    };
    let sites: Vec<Value> = config
        .sites
        .iter()
        .map(|site| {
            let endpoints: Vec<Value> = site
                .endpoints
                .iter()
                .map(|e| {
                    let st = state_of(&e.resource_name);
                    let mut v = serde_json::to_value(e).expect("serialisable");
                    v["live_status"] = json!(up_down(st.live));
                    v["ready_status"] = json!(up_down(st.ready));
                    v["monitorings"] = json!(e
                        .monitorings
                        .iter()
                        .map(|l| {
                            let mut m = monitoring_json(&l.resource_name);
                            m["enabled"] = json!(l.enabled);
                            m["result"] =
                                json!(s.health.result(config, &e.monitoring_target, &l.resource_name).as_str());
                            m
                        })
                        .collect::<Vec<_>>());
                    v
                })
                .collect();
            json!({
                "resource_name": site.resource_name,
                "name": site.name,
                "rrtype": site.rrtype,
                "description": site.description,
                "live_status": up_down(site_up(&site.resource_name)),
                "endpoints": endpoints,
            })
        })
        .collect();
    fn methods(items: &[MethodItem], site_up: &dyn Fn(&str) -> bool) -> (Vec<Value>, Vec<bool>) {
        let mut out = Vec::new();
        let mut ready = Vec::new();
        for item in items {
            let m = &item.method;
            let (children, kids_ready) = methods(&m.methods, site_up);
            let live = match m.mtype {
                MethodType::ExitSorry => true,
                MethodType::ExitSite => m.site_resource_name.as_deref().is_some_and(site_up),
                _ => kids_ready.iter().any(|&r| r),
            };
            let is_ready = m.enabled && live;
            let mut method = Map::new();
            method.insert("resource_name".into(), json!(m.resource_name));
            method.insert("mtype".into(), serde_json::to_value(m.mtype).expect("serialisable"));
            method.insert("enabled".into(), json!(m.enabled));
            method.insert("live_status".into(), json!(up_down(live)));
            method.insert("ready_status".into(), json!(up_down(is_ready)));
            if let Some(site) = &m.site_resource_name {
                method.insert("site_resource_name".into(), json!(site));
            }
            method.insert("methods".into(), json!(children));
            let mut v = json!({ "method": Value::Object(method) });
            if let Some(p) = item.priority {
                v["priority"] = json!(p);
            }
            out.push(v);
            ready.push(is_ready);
        }
        (out, ready)
    }
    let rules: Vec<Value> = config
        .rules
        .iter()
        .map(|r| {
            json!({
                "resource_name": r.resource_name,
                "name": r.name,
                "description": r.description,
                "methods": methods(&r.methods, &site_up).0,
            })
        })
        .collect();
    json!({
        "monitorings": config.monitorings.iter().map(|m| serde_json::to_value(m).expect("serialisable")).collect::<Vec<_>>(),
        "sites": sites,
        "rules": rules,
    })
}
