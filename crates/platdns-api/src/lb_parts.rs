//! DPF's CRUD of an LB domain's parts: monitorings, sites, endpoints, rules
//! and rule methods. Every write edits the stored configuration as JSON,
//! then reads and checks it whole as `PUT config` does: a write that would
//! leave the configuration invalid is refused (DPF `TargetBadRequest`, the
//! JSONPath of what is wrong) and nothing is written. Reads are cut from the
//! same view `GET config` gives, so statuses agree everywhere.

use crate::auth::Tenant;
use crate::dpf::job_done;
use crate::json::{self, Body};
use crate::lb::{find_lb, lb_op, stored_config, view, TargetBadRequest};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use platdns_steering::model::Limits;
use platdns_steering::LbConfig;
use serde_json::{json, Map, Value};

/// Each part's list and item paths (under `/dpf/v1`).
const PATHS: [(Part, &str, &str); 5] = [
    (
        Part::Monitorings,
        "/lb_domains/{id}/monitorings",
        "/lb_domains/{id}/monitorings/{rn}",
    ),
    (Part::Sites, "/lb_domains/{id}/sites", "/lb_domains/{id}/sites/{rn}"),
    (
        Part::Endpoints,
        "/lb_domains/{id}/sites/{site}/endpoints",
        "/lb_domains/{id}/sites/{site}/endpoints/{rn}",
    ),
    (Part::Rules, "/lb_domains/{id}/rules", "/lb_domains/{id}/rules/{rn}"),
    (
        Part::Methods,
        "/lb_domains/{id}/rules/{rule}/rule_methods",
        "/lb_domains/{id}/rules/{rule}/rule_methods/{rn}",
    ),
];

pub(crate) fn routes() -> Routes {
    let mut r = Routes::new();
    for (part, list_path, item_path) in PATHS {
        r = r
            .get(list_path, move |s: State<AppState>, t: Tenant, p: Path<Vec<String>>| {
                list(s, t, p.0, part)
            })
            .post(
                list_path,
                move |s: State<AppState>, t: Tenant, p: Path<Vec<String>>, b: Body<Map<String, Value>>| {
                    create(s, t, p.0, part, b.0)
                },
            )
            .get(item_path, move |s: State<AppState>, t: Tenant, p: Path<Vec<String>>| {
                one(s, t, p.0, part)
            })
            .patch(
                item_path,
                move |s: State<AppState>, t: Tenant, p: Path<Vec<String>>, b: Body<Map<String, Value>>| {
                    update(s, t, p.0, part, b.0)
                },
            )
            .delete(item_path, move |s: State<AppState>, t: Tenant, p: Path<Vec<String>>| {
                remove(s, t, p.0, part)
            });
    }
    r
}

/// Path parameters in order: the LB domain, the site or rule a part lives
/// in (endpoints, rule methods), the item's resource name (item paths).
struct At {
    id: String,
    within: Option<String>,
    rn: String,
}

fn at(part: Part, mut p: Vec<String>, item: bool) -> At {
    let rn = if item {
        p.pop().unwrap_or_default()
    } else {
        String::new()
    };
    let within = matches!(part, Part::Endpoints | Part::Methods).then(|| p.pop().unwrap_or_default());
    At {
        id: p.pop().unwrap_or_default(),
        within,
        rn,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Monitorings,
    Sites,
    Endpoints,
    Rules,
    Methods,
}

impl Part {
    /// (resource kind for errors, DPF operation suffix, fields PATCH may set)
    fn kind(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            Part::Monitorings => ("monitoring", "monitoring", &["name", "description", "props"]),
            Part::Sites => ("site", "site", &["name", "description"]),
            Part::Endpoints => (
                "endpoint",
                "endpoint",
                &[
                    "name",
                    "description",
                    "enabled",
                    "manual_failback",
                    "manual_failover",
                    "monitoring_target",
                    "monitorings",
                    "rdata",
                    "weight",
                ],
            ),
            Part::Rules => ("rule", "rule", &["name", "description"]),
            Part::Methods => ("rule_method", "rule_method", &["method", "priority"]),
        }
    }
}

fn not_found(kind: &str, rn: &str) -> ApiError {
    ApiError::bad_request("not_found", kind, format!("no {kind} {rn}"))
}

/// The rule methods of a rule, flat, each with its parent (DPF `RuleMethod`).
fn flat_methods(items: &[Value], parent: Option<&str>, out: &mut Vec<Value>) {
    for item in items {
        let mut m = item["method"].clone();
        let children = m.as_object_mut().and_then(|o| o.remove("methods")).unwrap_or(json!([]));
        if let Some(p) = parent {
            m["parent_resource_name"] = json!(p);
        }
        let rn = m["resource_name"].as_str().unwrap_or_default().to_string();
        let mut v = json!({ "method": m });
        if let Some(p) = item.get("priority") {
            v["priority"] = p.clone();
        }
        out.push(v);
        flat_methods(children.as_array().map(Vec::as_slice).unwrap_or(&[]), Some(&rn), out);
    }
}

/// The items a part lists, from the `GET config` view.
fn items(view: &Value, part: Part, within: Option<&str>) -> ApiResult<Vec<Value>> {
    let find = |list: &Value, rn: &str, kind: &str| {
        list.as_array()
            .into_iter()
            .flatten()
            .find(|x| x["resource_name"] == rn)
            .cloned()
            .ok_or_else(|| not_found(kind, rn))
    };
    Ok(match part {
        Part::Monitorings => {
            let sites = view["sites"].as_array().cloned().unwrap_or_default();
            view["monitorings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    // DPF `GetMonitoring`: the sites and endpoints that use it.
                    let using: Vec<Value> = sites
                        .iter()
                        .filter_map(|site| {
                            let eps: Vec<Value> = site["endpoints"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .filter(|e| {
                                    e["monitorings"]
                                        .as_array()
                                        .into_iter()
                                        .flatten()
                                        .any(|l| l["resource_name"] == m["resource_name"])
                                })
                                .cloned()
                                .collect();
                            (!eps.is_empty()).then(|| {
                                let mut s = site.clone();
                                s["endpoints"] = json!(eps);
                                s
                            })
                        })
                        .collect();
                    let mut m = m.clone();
                    m["sites"] = json!(using);
                    m
                })
                .collect()
        }
        // DPF's sites carry their endpoints.
        Part::Sites => view["sites"].as_array().cloned().unwrap_or_default(),
        Part::Endpoints => {
            let site = find(&view["sites"], within.unwrap_or_default(), "site")?;
            site["endpoints"].as_array().cloned().unwrap_or_default()
        }
        Part::Rules => view["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                let mut out = Vec::new();
                flat_methods(
                    r["methods"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                    None,
                    &mut out,
                );
                let mut r = r.clone();
                r["methods"] = json!(out);
                r
            })
            .collect(),
        Part::Methods => {
            let rule = find(&view["rules"], within.unwrap_or_default(), "rule")?;
            let mut out = Vec::new();
            flat_methods(
                rule["methods"].as_array().map(Vec::as_slice).unwrap_or(&[]),
                None,
                &mut out,
            );
            out
        }
    })
}

fn rn_of(part: Part, item: &Value) -> &Value {
    if part == Part::Methods {
        &item["method"]["resource_name"]
    } else {
        &item["resource_name"]
    }
}

async fn list(State(s): State<AppState>, t: Tenant, p: Vec<String>, part: Part) -> ApiResult<Json<Value>> {
    let At { id, within, .. } = at(part, p, false);
    let l = find_lb(&s, &t, &id).await?;
    Ok(Json(json::results(items(
        &view(&s, &l).await?,
        part,
        within.as_deref(),
    )?)))
}

async fn one(State(s): State<AppState>, t: Tenant, p: Vec<String>, part: Part) -> ApiResult<Json<Value>> {
    let At { id, within, rn } = at(part, p, true);
    let l = find_lb(&s, &t, &id).await?;
    let all = items(&view(&s, &l).await?, part, within.as_deref())?;
    let item = all
        .into_iter()
        .find(|x| rn_of(part, x) == &json!(rn))
        .ok_or_else(|| not_found(part.kind().0, &rn))?;
    Ok(Json(json::result(item)))
}

/// The list a part's items live in, inside the configuration's JSON.
fn list_mut<'a>(config: &'a mut Value, part: Part, within: Option<&str>) -> ApiResult<&'a mut Vec<Value>> {
    let (key, parent) = match part {
        Part::Monitorings => ("monitorings", None),
        Part::Sites => ("sites", None),
        Part::Rules => ("rules", None),
        Part::Endpoints => ("endpoints", Some(("sites", "site"))),
        Part::Methods => ("methods", Some(("rules", "rule"))),
    };
    let container = match parent {
        None => config,
        Some((list, kind)) => {
            let rn = within.unwrap_or_default();
            config[list]
                .as_array_mut()
                .into_iter()
                .flatten()
                .find(|x| x["resource_name"] == rn)
                .ok_or_else(|| not_found(kind, rn))?
        }
    };
    if !container[key].is_array() {
        container[key] = json!([]);
    }
    Ok(container[key].as_array_mut().expect("an array"))
}

/// The method `rn` anywhere in a rule's tree: (the list holding it, index).
fn find_method<'a>(list: &'a mut Vec<Value>, rn: &str) -> Option<(&'a mut Vec<Value>, usize)> {
    if let Some(i) = list.iter().position(|x| x["method"]["resource_name"] == rn) {
        return Some((list, i));
    }
    for item in list.iter_mut() {
        if let Some(children) = item["method"]["methods"].as_array_mut() {
            if let Some(found) = find_method(children, rn) {
                return Some(found);
            }
        }
    }
    None
}

fn fresh_name(prefix: &str) -> String {
    format!("{prefix}-{}", &platdns_store::new_request_id()[..10])
}

/// Edits the stored configuration as JSON, checks the result whole, stores
/// and publishes it; the job answers 202 like every DPF write.
async fn edit(
    s: &AppState,
    t: &Tenant,
    id: &str,
    operation: String,
    edit: impl FnOnce(&mut Value) -> ApiResult<()>,
) -> Result<(StatusCode, Json<Value>), Response> {
    let l = find_lb(s, t, id).await.map_err(IntoResponse::into_response)?;
    t.require_write(l.contract_id).map_err(IntoResponse::into_response)?;
    // Read, edit and write under the LB domain's lock: two edits at once
    // must not lose one of them. Released before publishing, which takes it.
    let guard = s.zone_locks.lock(-l.id).await;
    let l = s
        .store
        .get_lb_domain(l.id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let config = stored_config(&l).map_err(IntoResponse::into_response)?;
    let mut v = serde_json::to_value(&config).expect("serialisable");
    edit(&mut v).map_err(IntoResponse::into_response)?;
    let limits = Limits {
        min_interval: s.zone_defaults.lb_min_interval,
    };
    let checked =
        LbConfig::parse(v.to_string().as_bytes(), &limits).map_err(|e| TargetBadRequest(e).into_response())?;
    if !l.rule_resource_name.is_empty() && checked.rule(&l.rule_resource_name).is_none() {
        return Err(ApiError::bad_request("forbidden", "rule", "the applied rule cannot be deleted").into_response());
    }
    let text = serde_json::to_string(&checked).expect("serialisable");
    let updated = s
        .store
        .put_lb_config(l.id, &text)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    drop(guard);
    crate::publish::publish_lb(s, &updated)
        .await
        .map_err(|e| crate::ApiError::from(e).into_response())?;
    crate::health::reschedule(s)
        .await
        .map_err(|e| crate::ApiError::from(e).into_response())?;
    job_done(s, t, format!("/dpf/v1/lb_domains/{id}"), lb_op(&l, &operation))
        .await
        .map_err(IntoResponse::into_response)
}

async fn create(
    State(s): State<AppState>,
    t: Tenant,
    p: Vec<String>,
    part: Part,
    mut body: Map<String, Value>,
) -> Result<(StatusCode, Json<Value>), Response> {
    let At { id, within, .. } = at(part, p, false);
    let (kind, op, _) = part.kind();
    edit(&s, &t, &id, format!("add_{op}"), |config| {
        if part == Part::Methods {
            let method = body
                .get_mut("method")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| ApiError::bad_request("invalid", "method", "required"))?;
            if !method.contains_key("resource_name") {
                method.insert("resource_name".into(), json!(fresh_name("method")));
            }
            let parent = method.remove("parent_resource_name");
            method.entry("methods").or_insert(json!([]));
            let item = Value::Object(body);
            let rule_methods = list_mut(config, part, within.as_deref())?;
            match parent.as_ref().and_then(Value::as_str) {
                None => rule_methods.push(item),
                Some(p) => {
                    let (list, i) = find_method(rule_methods, p).ok_or_else(|| not_found("parent_resource_name", p))?;
                    let children = list[i]["method"]["methods"].as_array_mut().expect("methods");
                    children.push(item);
                }
            }
            return Ok(());
        }
        body.entry("resource_name").or_insert_with(|| json!(fresh_name(kind)));
        list_mut(config, part, within.as_deref())?.push(Value::Object(body));
        Ok(())
    })
    .await
}

async fn update(
    State(s): State<AppState>,
    t: Tenant,
    p: Vec<String>,
    part: Part,
    body: Map<String, Value>,
) -> Result<(StatusCode, Json<Value>), Response> {
    let At { id, within, rn } = at(part, p, true);
    let (kind, op, allowed) = part.kind();
    if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::bad_request("invalid", k, format!("{k} cannot be changed")).into_response());
    }
    edit(&s, &t, &id, format!("update_{op}"), |config| {
        let list = list_mut(config, part, within.as_deref())?;
        let target = if part == Part::Methods {
            let (list, i) = find_method(list, &rn).ok_or_else(|| not_found(kind, &rn))?;
            &mut list[i]
        } else {
            list.iter_mut()
                .find(|x| x["resource_name"] == rn)
                .ok_or_else(|| not_found(kind, &rn))?
        };
        for (k, v) in body {
            match (k.as_str(), v) {
                // Props and a method's settings merge; other fields replace.
                ("props", Value::Object(p)) | ("method", Value::Object(p)) => {
                    for (pk, pv) in p {
                        if k == "method" && pk != "enabled" {
                            return Err(ApiError::bad_request("invalid", &pk, format!("{pk} cannot be changed")));
                        }
                        target[&k][pk] = pv;
                    }
                }
                (_, v) => target[k] = v,
            }
        }
        Ok(())
    })
    .await
}

async fn remove(
    State(s): State<AppState>,
    t: Tenant,
    p: Vec<String>,
    part: Part,
) -> Result<(StatusCode, Json<Value>), Response> {
    let At { id, within, rn } = at(part, p, true);
    let (kind, op, _) = part.kind();
    if part == Part::Rules {
        // DPF: the applied rule cannot be deleted.
        let l = find_lb(&s, &t, &id).await.map_err(IntoResponse::into_response)?;
        if l.rule_resource_name == rn {
            return Err(
                ApiError::bad_request("forbidden", "rule", "the applied rule cannot be deleted").into_response(),
            );
        }
    }
    edit(&s, &t, &id, format!("delete_{op}"), |config| {
        // DPF refuses to delete what is in use.
        let used = match part {
            Part::Monitorings => config["sites"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|s| s["endpoints"].as_array().into_iter().flatten())
                .flat_map(|e| e["monitorings"].as_array().into_iter().flatten())
                .any(|l| l["resource_name"] == rn),
            Part::Sites => config["rules"]
                .to_string()
                .contains(&format!("\"site_resource_name\":\"{rn}\"")),
            _ => false,
        };
        if used {
            return Err(ApiError::bad_request(
                "forbidden",
                kind,
                format!("{kind} {rn} is in use"),
            ));
        }
        let list = list_mut(config, part, within.as_deref())?;
        if part == Part::Methods {
            let (list, i) = find_method(list, &rn).ok_or_else(|| not_found(kind, &rn))?;
            if list[i]["method"]["methods"].as_array().is_some_and(|c| !c.is_empty()) {
                return Err(ApiError::bad_request(
                    "forbidden",
                    kind,
                    "a method with methods after it",
                ));
            }
            list.remove(i);
            return Ok(());
        }
        let i = list
            .iter()
            .position(|x| x["resource_name"] == rn)
            .ok_or_else(|| not_found(kind, &rn))?;
        list.remove(i);
        Ok(())
    })
    .await
}
