//! The operator API (`/operator/v1`, SPEC R11.2): accounts, contracts (plan,
//! extra QPS, state, termination notices), zones for a contract (with a
//! recorded hand approval), and tenant tokens. Only the operator's token
//! reaches it.

use crate::auth::Operator;
use crate::json::{self, Body};
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use platdns_contract::{ContractState, Plan};
use platdns_store::{ContractUpdate, TokenScope};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list_accounts).post(create_account))
        .route("/contracts", get(list_contracts).post(create_contract))
        .route("/contracts/{id}", patch(update_contract).get(get_contract))
        .route("/contracts/{id}/termination", post(terminate))
        .route("/zones", get(list_zones).post(create_zone))
        .route("/zones/{id}/approval", post(approve_zone))
        .route("/zones/{id}/verification", post(verify_zone))
        .route("/tokens", post(create_token))
}

fn plan_from(v: &Value) -> ApiResult<Plan> {
    match v {
        Value::String(s) if s.eq_ignore_ascii_case("basic") => Ok(Plan::Basic),
        Value::String(s) if s.eq_ignore_ascii_case("premium") => Ok(Plan::Premium),
        Value::Number(n) => n
            .as_i64()
            .and_then(Plan::from_code)
            .ok_or_else(|| ApiError::bad_request("invalid", "plan", "1 (basic) or 2 (premium)")),
        _ => Err(ApiError::bad_request("invalid", "plan", "\"basic\" or \"premium\"")),
    }
}

fn operator_contract(c: &platdns_store::Contract, terms: &platdns_contract::PlanTerms) -> Value {
    let mut v = json::contract(c);
    v["account_id"] = json!(c.account_id);
    v["extra_qps"] = json!(c.extra_qps);
    v["contract_qps"] = json!(terms.standard(c.plan).0 + c.extra_qps);
    v["notice_received"] = json!(c.notice_received.map(|d| d.to_string()));
    v["ends_on"] = json!(c.ends_on.map(|d| d.to_string()));
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    name: String,
}

async fn create_account(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewAccount>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let a = s.store.create_account(&b.name, s.clock.now()).await?;
    Ok((
        StatusCode::CREATED,
        Json(json::result(
            json!({"id": a.id, "name": a.name, "created_at": json::time(a.created_at)}),
        )),
    ))
}

async fn list_accounts(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Value>> {
    let v = s
        .store
        .list_accounts()
        .await?
        .iter()
        .map(|a| json!({"id": a.id, "name": a.name, "created_at": json::time(a.created_at)}))
        .collect();
    Ok(Json(json::results(v)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewContract {
    account_id: i64,
    plan: Value,
    #[serde(default)]
    extra_qps: u32,
    #[serde(default)]
    description: String,
}

async fn create_contract(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewContract>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let plan = plan_from(&b.plan)?;
    let c = s
        .store
        .create_contract(b.account_id, plan, b.extra_qps, &b.description, &s.terms, s.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(json::result(operator_contract(&c, &s.terms)))))
}

async fn list_contracts(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Value>> {
    let v = s
        .store
        .list_contracts(None)
        .await?
        .iter()
        .map(|c| operator_contract(c, &s.terms))
        .collect();
    Ok(Json(json::results(v)))
}

async fn get_contract(State(s): State<AppState>, _o: Operator, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = s.store.find_contract(&id, None).await?;
    Ok(Json(json::result(operator_contract(&c, &s.terms))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractPatch {
    plan: Option<Value>,
    extra_qps: Option<u32>,
    state: Option<i64>,
    description: Option<String>,
    favorite: Option<i64>,
    /// R2.3: a move to Basic with extra QPS is refused unless this is true.
    #[serde(default)]
    drop_extra_qps: bool,
}

async fn update_contract(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
    Body(b): Body<ContractPatch>,
) -> ApiResult<Json<Value>> {
    let c = s.store.find_contract(&id, None).await?;
    let update = ContractUpdate {
        plan: b.plan.as_ref().map(plan_from).transpose()?,
        extra_qps: b.extra_qps,
        state: b
            .state
            .map(|v| {
                ContractState::from_code(v)
                    .ok_or_else(|| ApiError::bad_request("invalid", "state", "1 (before use) or 2 (in use)"))
            })
            .transpose()?,
        description: b.description,
        favorite: b.favorite,
        drop_extra_qps: b.drop_extra_qps,
    };
    let c = s.store.update_contract(c.id, &update, &s.terms, s.clock.now()).await?;
    Ok(Json(json::result(operator_contract(&c, &s.terms))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Termination {
    /// The day the customer's notice reached the provider.
    notice_received: jiff::civil::Date,
    /// The day the customer named, if any.
    requested_end: Option<jiff::civil::Date>,
}

async fn terminate(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
    Body(b): Body<Termination>,
) -> ApiResult<Json<Value>> {
    let c = s.store.find_contract(&id, None).await?;
    let c = s
        .store
        .give_notice(c.id, b.notice_received, b.requested_end, s.notice_days, s.clock.now())
        .await?;
    // A contract already past its end day stops serving at once (R5.2).
    for z in s.store.list_zones(None, Some(c.id)).await? {
        crate::publish::republish(&s, z.id).await?;
    }
    Ok(Json(json::result(operator_contract(&c, &s.terms))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewZone {
    contract_id: String,
    name: String,
    /// Approve by hand (R3.1) with this reason.
    approve: Option<String>,
}

async fn create_zone(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<NewZone>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = s.store.find_contract(&b.contract_id, None).await?;
    let who = format!("operator#{}", o.0.token_id);
    let z = s
        .store
        .create_zone(
            c.id,
            &b.name,
            b.approve.as_deref().map(|r| (who.as_str(), r)),
            s.clock.now(),
        )
        .await?;
    let mut v = json::zone(&z);
    v["contract_id"] = json!(c.public_id);
    v["eligibility"] = eligibility(&z.eligibility);
    Ok((StatusCode::CREATED, Json(json::result(v))))
}

fn eligibility(e: &platdns_contract::Eligibility) -> Value {
    use platdns_contract::Eligibility::*;
    match e {
        Pending { token } => json!({
            "state": "pending",
            "txt_name": crate::verify::CHALLENGE_LABEL,
            "txt_token": token,
        }),
        VerifiedByTxt { .. } => json!({"state": "verified", "by": "txt"}),
        VerifiedByDelegation => json!({"state": "verified", "by": "delegation"}),
        ApprovedByOperator { operator, reason } => json!({"state": "approved", "by": operator, "reason": reason}),
    }
}

async fn list_zones(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Value>> {
    let zones = s.store.list_zones(None, None).await?;
    let v = zones
        .iter()
        .map(|z| {
            let mut v = json::zone(z);
            v["eligibility"] = eligibility(&z.eligibility);
            v
        })
        .collect();
    Ok(Json(json::results(v)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    account_id: i64,
    /// Any of "read", "write", "contract".
    scopes: Vec<String>,
    /// Limit the token to these contracts, each with a role (viewer/operator).
    #[serde(default)]
    contracts: Vec<TokenContract>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenContract {
    contract_id: String,
    role: String,
}

async fn create_token(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if let Some(bad) = b
        .scopes
        .iter()
        .find(|x| !matches!(x.as_str(), "read" | "write" | "contract"))
    {
        return Err(ApiError::bad_request(
            "invalid",
            "scopes",
            format!("\"{bad}\" is not read, write or contract"),
        ));
    }
    if b.scopes.is_empty() {
        return Err(ApiError::bad_request("invalid", "scopes", "at least one scope"));
    }
    let scope = TokenScope::Tenant {
        read: true,
        write: b.scopes.iter().any(|x| x == "write"),
        contract: b.scopes.iter().any(|x| x == "contract"),
    };
    let mut contracts = Vec::new();
    for tc in &b.contracts {
        let c = s.store.find_contract(&tc.contract_id, Some(b.account_id)).await?;
        contracts.push((c.id, tc.role.clone()));
    }
    let (id, secret) = s
        .store
        .create_token(Some(b.account_id), &scope, &contracts, &b.description, s.clock.now())
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json::result(
            json!({"id": id, "account_id": b.account_id, "token": secret}),
        )),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Approval {
    reason: String,
}

/// R3.1 by hand: the operator approves a pending zone, saying why; it is
/// served from its next commit on (or at once, if it has commits).
async fn approve_zone(
    State(s): State<AppState>,
    o: Operator,
    Path(id): Path<String>,
    Body(b): Body<Approval>,
) -> ApiResult<Json<Value>> {
    let z = s.store.find_zone(&id, None).await?;
    let e = platdns_contract::Eligibility::ApprovedByOperator {
        operator: format!("operator#{}", o.0.token_id),
        reason: b.reason,
    };
    let z = s.store.set_eligibility(z.id, &e).await?;
    crate::publish::republish(&s, z.id).await?;
    let mut v = json::zone(&z);
    v["eligibility"] = eligibility(&z.eligibility);
    Ok(Json(json::result(v)))
}

/// R3.1 now: look up the zone's challenge TXT (instead of waiting for the
/// periodic check).
async fn verify_zone(State(s): State<AppState>, _o: Operator, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let z = s.store.find_zone(&id, None).await?;
    crate::verify::verify_zone(&s, z.id).await?;
    let z = s.store.get_zone(z.id).await?;
    let mut v = json::zone(&z);
    v["eligibility"] = eligibility(&z.eligibility);
    Ok(Json(json::result(v)))
}
