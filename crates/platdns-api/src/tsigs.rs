//! DPF `tsigs`: a contract's TSIG keys (RFC 8945), HMAC-SHA256 (algorithm 0).

use crate::auth::Tenant;
use crate::dpf::{find_contract, job_done, Listing, Op};
use crate::json::{self, Body};
use crate::routes::Routes;
use crate::{ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use platdns_store::TsigKey;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Routes {
    Routes::new()
        .get("/contracts/{id}/tsigs", list)
        .post("/contracts/{id}/tsigs", create)
        .get("/contracts/{id}/tsigs/count", count)
        .get("/contracts/{id}/tsigs/{tid}", show)
        .patch("/contracts/{id}/tsigs/{tid}", update)
        .delete("/contracts/{id}/tsigs/{tid}", remove)
}

fn tsig(k: &TsigKey) -> Value {
    json!({"id": k.id, "name": k.name, "algorithm": k.algorithm, "secret": k.secret, "description": k.description})
}

async fn all(s: &AppState, t: &Tenant, id: &str) -> ApiResult<Vec<Value>> {
    let c = find_contract(s, t, id).await?;
    Ok(s.store.list_tsigs(c.id).await?.iter().map(tsig).collect())
}

async fn list(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::results(l.apply(all(&s, &t, &id).await?))))
}

async fn count(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::count(l.count(&all(&s, &t, &id).await?))))
}

async fn show(State(s): State<AppState>, t: Tenant, Path((id, tid)): Path<(String, i64)>) -> ApiResult<Json<Value>> {
    let c = find_contract(&s, &t, &id).await?;
    Ok(Json(json::result(tsig(&s.store.get_tsig(c.id, tid).await?))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTsig {
    name: String,
    #[serde(default)]
    description: crate::json::Description,
}

async fn create(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    Body(b): Body<NewTsig>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    let k = s
        .store
        .create_tsig(
            c.id,
            &b.name,
            &s.zone_defaults.tsig_suffix,
            &b.description,
            s.clock.now(),
        )
        .await?;
    crate::secondary::changed(&s);
    let op = Op {
        contract_id: c.id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation: "create_tsig",
        target: k.name.clone(),
    };
    job_done(&s, &t, format!("/dpf/v1/contracts/{id}/tsigs/{}", k.id), op).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchTsig {
    description: crate::json::Description,
}

async fn update(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, tid)): Path<(String, i64)>,
    Body(b): Body<PatchTsig>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    let k = s.store.update_tsig(c.id, tid, &b.description).await?;
    let op = Op {
        contract_id: c.id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation: "update_tsig",
        target: k.name,
    };
    job_done(&s, &t, format!("/dpf/v1/contracts/{id}/tsigs/{tid}"), op).await
}

async fn remove(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, tid)): Path<(String, i64)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    let k = s.store.get_tsig(c.id, tid).await?;
    s.store.delete_tsig(c.id, tid).await?;
    crate::secondary::changed(&s);
    let op = Op {
        contract_id: c.id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation: "delete_tsig",
        target: k.name,
    };
    job_done(&s, &t, format!("/dpf/v1/contracts/{id}/tsigs"), op).await
}
