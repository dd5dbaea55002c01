//! The operator API (`/operator/v1`, SPEC R11.2): accounts, contracts (plan,
//! extra QPS, state, termination notices), zones for a contract (with a
//! recorded hand approval), tenant tokens, and the health monitor's
//! counters. Only the operator's token reaches it.

use crate::auth::Operator;
use crate::error::ErrorBody;
use crate::json::{self, Body};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use platdns_contract::{ContractState, Plan};
use platdns_store::{ContractUpdate, TokenScope};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

pub fn routes() -> Routes {
    Routes::new()
        .get("/accounts", list_accounts)
        .post("/accounts", create_account)
        .get("/contracts", list_contracts)
        .post("/contracts", create_contract)
        .patch("/contracts/{id}", update_contract)
        .get("/contracts/{id}", get_contract)
        .post("/contracts/{id}/termination", terminate)
        .get("/zones", list_zones)
        .post("/zones", create_zone)
        .post("/zones/{id}/approval", approve_zone)
        .post("/zones/{id}/verification", verify_zone)
        .post("/tokens", create_token)
        .post("/lb_domains", create_lb_domain)
        .get("/monitor", monitor)
        .get("/monitors", monitors)
        .get("/contracts/{id}/usage", crate::usage::operator_usage)
        .get("/contracts/{id}/restriction_policy", crate::usage::get_policy)
        .put("/contracts/{id}/restriction_policy", crate::usage::put_policy)
        .delete("/contracts/{id}/restriction_policy", crate::usage::delete_policy)
        .get("/restrictions", crate::usage::operator_restrictions)
}

/// The operator API's OpenAPI document, from these handlers and types. The
/// error responses every operation can give are added in
/// [`crate::openapi::operator_document`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "platdns operator API",
        description = "What DPF leaves to the provider (SPEC R11.2): accounts, contracts, zones with their consent, tenant tokens; and the health monitor's counters. Only the operator's token reaches it."
    ),
    servers((url = "/operator/v1")),
    paths(
        list_accounts,
        create_account,
        list_contracts,
        create_contract,
        get_contract,
        update_contract,
        terminate,
        list_zones,
        create_zone,
        approve_zone,
        verify_zone,
        create_token,
        create_lb_domain,
        monitor,
        monitors,
        crate::usage::operator_usage,
        crate::usage::get_policy,
        crate::usage::put_policy,
        crate::usage::delete_policy,
        crate::usage::operator_restrictions
    ),
    components(schemas(ErrorBody)),
    modifiers(&OperatorSecurity),
    security(("operator" = []))
)]
pub struct OperatorApi;

struct OperatorSecurity;

impl utoipa::Modify for OperatorSecurity {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("The operator's token (`<data-dir>/operator.token`)"))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("operator", SecurityScheme::Http(scheme));
    }
}

/// `{"request_id": ..., "result": ...}`
#[derive(Serialize, ToSchema)]
pub struct Single<T> {
    request_id: String,
    result: T,
}

/// `{"request_id": ..., "results": [...]}`
#[derive(Serialize, ToSchema)]
pub struct List<T> {
    request_id: String,
    results: Vec<T>,
}

fn single<T>(result: T) -> Json<Single<T>> {
    Json(Single {
        request_id: platdns_store::new_request_id(),
        result,
    })
}

fn list<T>(results: Vec<T>) -> Json<List<T>> {
    Json(List {
        request_id: platdns_store::new_request_id(),
        results,
    })
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

/// A plan in a request: `"basic"` / `"premium"` or DPF's code 1 / 2.
fn plan_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["basic", "premium"])),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([1, 2])),
        )
        .description(Some("\"basic\" or \"premium\", or DPF's plan code 1 or 2"))
        .build()
        .into()
}

#[derive(Serialize, ToSchema)]
struct Account {
    id: i64,
    name: String,
    /// DPF time format.
    created_at: String,
}

impl From<&platdns_store::Account> for Account {
    fn from(a: &platdns_store::Account) -> Account {
        Account {
            id: a.id,
            name: a.name.clone(),
            created_at: json::time(a.created_at),
        }
    }
}

/// A contract as DPF shows it, with what only the operator sees.
#[derive(Serialize, ToSchema)]
struct OperatorContract {
    id: String,
    service_code: String,
    /// 1 before use, 2 in use.
    state: i64,
    favorite: i64,
    /// 1 basic, 2 premium.
    plan: i64,
    description: String,
    account_id: i64,
    extra_qps: u32,
    /// Standard QPS of the plan plus the extra QPS.
    contract_qps: u32,
    notice_received: Option<jiff::civil::Date>,
    ends_on: Option<jiff::civil::Date>,
}

fn operator_contract(c: &platdns_store::Contract, terms: &platdns_contract::PlanTerms) -> OperatorContract {
    OperatorContract {
        id: c.public_id.clone(),
        service_code: c.service_code.clone(),
        state: c.state.code(),
        favorite: c.favorite,
        plan: c.plan.code(),
        description: c.description.clone(),
        account_id: c.account_id,
        extra_qps: c.extra_qps,
        contract_qps: terms.standard(c.plan).0 + c.extra_qps,
        notice_received: c.notice_received,
        ends_on: c.ends_on,
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    #[schema(min_length = 1)]
    name: String,
}

#[utoipa::path(post, path = "/accounts", tag = "accounts", request_body = NewAccount,
    responses((status = 201, description = "The new account", body = Single<Account>)))]
async fn create_account(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewAccount>,
) -> ApiResult<(StatusCode, Json<Single<Account>>)> {
    let a = s.store.create_account(&b.name, s.clock.now()).await?;
    Ok((StatusCode::CREATED, single(Account::from(&a))))
}

#[utoipa::path(get, path = "/accounts", tag = "accounts",
    responses((status = 200, description = "Every account", body = List<Account>)))]
async fn list_accounts(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<List<Account>>> {
    Ok(list(s.store.list_accounts().await?.iter().map(Account::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewContract {
    account_id: i64,
    #[schema(schema_with = plan_schema)]
    plan: Value,
    #[serde(default)]
    extra_qps: u32,
    #[serde(default)]
    description: String,
}

#[utoipa::path(post, path = "/contracts", tag = "contracts", request_body = NewContract,
    responses((status = 201, description = "The new contract", body = Single<OperatorContract>)))]
async fn create_contract(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewContract>,
) -> ApiResult<(StatusCode, Json<Single<OperatorContract>>)> {
    let plan = plan_from(&b.plan)?;
    let c = s
        .store
        .create_contract(b.account_id, plan, b.extra_qps, &b.description, &s.terms, s.clock.now())
        .await?;
    Ok((StatusCode::CREATED, single(operator_contract(&c, &s.terms))))
}

#[utoipa::path(get, path = "/contracts", tag = "contracts",
    responses((status = 200, description = "Every contract", body = List<OperatorContract>)))]
async fn list_contracts(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<List<OperatorContract>>> {
    let all = s.store.list_contracts(None).await?;
    Ok(list(all.iter().map(|c| operator_contract(c, &s.terms)).collect()))
}

#[utoipa::path(get, path = "/contracts/{id}", tag = "contracts",
    params(("id" = String, Path, description = "The contract's DPF id")),
    responses((status = 200, description = "The contract", body = Single<OperatorContract>)))]
async fn get_contract(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<Single<OperatorContract>>> {
    let c = s.store.find_contract(&id, None).await?;
    Ok(single(operator_contract(&c, &s.terms)))
}

/// A change request (R2.3): each field given is a change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ContractPatch {
    #[schema(schema_with = plan_schema)]
    plan: Option<Value>,
    extra_qps: Option<u32>,
    /// 1 (before use) or 2 (in use).
    state: Option<i64>,
    description: Option<String>,
    favorite: Option<i64>,
    /// R2.3: a move to Basic with extra QPS is refused unless this is true.
    #[serde(default)]
    drop_extra_qps: bool,
}

#[utoipa::path(patch, path = "/contracts/{id}", tag = "contracts", request_body = ContractPatch,
    params(("id" = String, Path, description = "The contract's DPF id")),
    responses((status = 200, description = "The changed contract", body = Single<OperatorContract>)))]
async fn update_contract(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
    Body(b): Body<ContractPatch>,
) -> ApiResult<Json<Single<OperatorContract>>> {
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
    Ok(single(operator_contract(&c, &s.terms)))
}

/// A customer's notice of termination (R5.2).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Termination {
    /// The day the customer's notice reached the provider.
    notice_received: jiff::civil::Date,
    /// The day the customer named, if any.
    requested_end: Option<jiff::civil::Date>,
}

#[utoipa::path(post, path = "/contracts/{id}/termination", tag = "contracts", request_body = Termination,
    params(("id" = String, Path, description = "The contract's DPF id")),
    responses((status = 200, description = "The contract with its end day", body = Single<OperatorContract>)))]
async fn terminate(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
    Body(b): Body<Termination>,
) -> ApiResult<Json<Single<OperatorContract>>> {
    let c = s.store.find_contract(&id, None).await?;
    let c = s
        .store
        .give_notice(c.id, b.notice_received, b.requested_end, s.notice_days, s.clock.now())
        .await?;
    // A contract already past its end day stops serving at once (R5.2):
    // its zones and its LB names alike.
    for z in s.store.list_zones(None, Some(c.id)).await? {
        crate::publish::republish(&s, z.id).await?;
    }
    for l in s.store.list_lb_domains(None, Some(c.id)).await? {
        crate::publish::publish_lb(&s, &l).await?;
    }
    Ok(single(operator_contract(&c, &s.terms)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewZone {
    /// The contract's DPF id.
    contract_id: String,
    name: String,
    /// Approve by hand (R3.1) with this reason.
    approve: Option<String>,
}

/// Whether the zone may be served (R3.1), and how that was shown.
#[derive(Serialize, ToSchema)]
struct EligibilityView {
    /// `pending`, `verified` or `approved`.
    state: &'static str,
    /// `txt` or `delegation` (verified), or the approving operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<String>,
    /// Why the operator approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// Pending: the TXT record's owner label under the zone...
    #[serde(skip_serializing_if = "Option::is_none")]
    txt_name: Option<&'static str>,
    /// ...and the string it must hold.
    #[serde(skip_serializing_if = "Option::is_none")]
    txt_token: Option<String>,
}

fn eligibility(e: &platdns_contract::Eligibility) -> EligibilityView {
    use platdns_contract::Eligibility::*;
    let view = |state, by: Option<String>| EligibilityView {
        state,
        by,
        reason: None,
        txt_name: None,
        txt_token: None,
    };
    match e {
        Pending { token } => EligibilityView {
            txt_name: Some(crate::verify::CHALLENGE_LABEL),
            txt_token: Some(token.clone()),
            ..view("pending", None)
        },
        VerifiedByTxt { .. } => view("verified", Some("txt".into())),
        VerifiedByDelegation => view("verified", Some("delegation".into())),
        ApprovedByOperator { operator, reason } => EligibilityView {
            reason: Some(reason.clone()),
            ..view("approved", Some(operator.clone()))
        },
    }
}

/// A zone as DPF shows it, with its eligibility.
#[derive(Serialize, ToSchema)]
struct OperatorZone {
    id: String,
    common_config_id: i64,
    service_code: String,
    /// 1 before publication, 2 published.
    state: i64,
    favorite: i64,
    /// Absolute, with the trailing dot.
    name: String,
    network: Option<String>,
    description: String,
    /// The contract's DPF id (in the answer to a create).
    #[serde(skip_serializing_if = "Option::is_none")]
    contract_id: Option<String>,
    eligibility: EligibilityView,
}

fn operator_zone(z: &platdns_store::Zone) -> OperatorZone {
    // The same fields as the tenant's view (`json::zone`).
    OperatorZone {
        id: z.public_id.clone(),
        common_config_id: z.common_config_id,
        service_code: z.service_code.clone(),
        state: z.state.code(),
        favorite: z.favorite,
        name: format!("{}.", z.name),
        network: z.network.clone(),
        description: z.description.clone(),
        contract_id: None,
        eligibility: eligibility(&z.eligibility),
    }
}

#[utoipa::path(post, path = "/zones", tag = "zones", request_body = NewZone,
    responses((status = 201, description = "The new zone", body = Single<OperatorZone>)))]
async fn create_zone(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<NewZone>,
) -> ApiResult<(StatusCode, Json<Single<OperatorZone>>)> {
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
    let v = OperatorZone {
        contract_id: Some(c.public_id),
        ..operator_zone(&z)
    };
    Ok((StatusCode::CREATED, single(v)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewLbDomain {
    /// The contract's DPF id.
    contract_id: String,
    /// Absolute name; `<random>.<the operator's LB zone>` when left out.
    name: Option<String>,
}

/// A traffic management service as the tenant API shows it.
#[derive(Serialize, ToSchema)]
struct OperatorLbDomain {
    id: String,
    service_code: String,
    /// The contract's DPF id.
    contract_id: String,
    /// Absolute, with the trailing dot.
    name: String,
    state: i64,
}

#[utoipa::path(post, path = "/lb_domains", tag = "lb_domains", request_body = NewLbDomain,
    responses((status = 201, description = "The new LB domain (no configuration yet)", body = Single<OperatorLbDomain>)))]
async fn create_lb_domain(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewLbDomain>,
) -> ApiResult<(StatusCode, Json<Single<OperatorLbDomain>>)> {
    let c = s.store.find_contract(&b.contract_id, None).await?;
    let name = match b.name {
        Some(n) => {
            platdns_zone::Name::from_text(&n, None)
                .map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
            n
        }
        None => format!(
            "{}.{}",
            &platdns_store::new_request_id()[..8],
            s.zone_defaults.lb_zone.trim_start_matches('.')
        ),
    };
    let l = s.store.create_lb_domain(c.id, &name, s.clock.now()).await?;
    crate::publish::publish_lb(&s, &l).await?;
    let v = OperatorLbDomain {
        id: l.public_id,
        service_code: l.service_code,
        contract_id: c.public_id,
        name: l.name,
        state: l.state.code(),
    };
    Ok((StatusCode::CREATED, single(v)))
}

#[utoipa::path(get, path = "/zones", tag = "zones",
    responses((status = 200, description = "Every zone", body = List<OperatorZone>)))]
async fn list_zones(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<List<OperatorZone>>> {
    Ok(list(
        s.store
            .list_zones(None, None)
            .await?
            .iter()
            .map(operator_zone)
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewToken {
    account_id: i64,
    /// Any of "read", "write", "contract".
    #[schema(value_type = Vec<ScopeName>, min_items = 1)]
    scopes: Vec<String>,
    /// Limit the token to these contracts, each with a role (viewer/operator).
    #[serde(default)]
    contracts: Vec<TokenContract>,
    #[serde(default)]
    description: String,
}

/// A token scope (DPF's dpf_read, dpf_write, dpf_contract).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum ScopeName {
    Read,
    Write,
    Contract,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TokenContract {
    /// The contract's DPF id.
    contract_id: String,
    /// `viewer` or `operator`.
    role: String,
}

/// A new tenant token; `token` is shown this once.
#[derive(Serialize, ToSchema)]
struct NewTokenResult {
    id: i64,
    account_id: i64,
    token: String,
}

#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, description = "The new token, shown once", body = Single<NewTokenResult>)))]
async fn create_token(
    State(s): State<AppState>,
    _o: Operator,
    Body(b): Body<NewToken>,
) -> ApiResult<(StatusCode, Json<Single<NewTokenResult>>)> {
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
    // An unknown account is a 404, not the store's foreign-key failure (500).
    s.store.get_account(b.account_id).await?;
    let mut contracts = Vec::new();
    for tc in &b.contracts {
        let c = s.store.find_contract(&tc.contract_id, Some(b.account_id)).await?;
        contracts.push((c.id, tc.role.clone()));
    }
    let (id, secret) = s
        .store
        .create_token(Some(b.account_id), &scope, &contracts, &b.description, s.clock.now())
        .await?;
    let result = NewTokenResult {
        id,
        account_id: b.account_id,
        token: secret,
    };
    Ok((StatusCode::CREATED, single(result)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Approval {
    reason: String,
}

/// R3.1 by hand: the operator approves a pending zone, saying why; it is
/// served from its next commit on (or at once, if it has commits).
#[utoipa::path(post, path = "/zones/{id}/approval", tag = "zones", request_body = Approval,
    params(("id" = String, Path, description = "The zone's DPF id")),
    responses((status = 200, description = "The approved zone", body = Single<OperatorZone>)))]
async fn approve_zone(
    State(s): State<AppState>,
    o: Operator,
    Path(id): Path<String>,
    Body(b): Body<Approval>,
) -> ApiResult<Json<Single<OperatorZone>>> {
    let z = s.store.find_zone(&id, None).await?;
    let e = platdns_contract::Eligibility::ApprovedByOperator {
        operator: format!("operator#{}", o.0.token_id),
        reason: b.reason,
    };
    let z = s.store.set_eligibility(z.id, &e).await?;
    crate::publish::republish(&s, z.id).await?;
    Ok(single(operator_zone(&z)))
}

/// R3.1 now: look up the zone's challenge TXT (instead of waiting for the
/// periodic check).
#[utoipa::path(post, path = "/zones/{id}/verification", tag = "zones",
    params(("id" = String, Path, description = "The zone's DPF id")),
    responses((status = 200, description = "The zone, verified if its TXT record was found", body = Single<OperatorZone>)))]
async fn verify_zone(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
) -> ApiResult<Json<Single<OperatorZone>>> {
    let z = s.store.find_zone(&id, None).await?;
    crate::verify::verify_zone(&s, z.id).await?;
    let z = s.store.get_zone(z.id).await?;
    Ok(single(operator_zone(&z)))
}

/// One lateness bucket: probe starts at most `le_ms` after their slot (and
/// more than the previous bucket's bound); `le_ms` null: above every bound.
#[derive(Serialize, ToSchema)]
struct LatenessBucket {
    le_ms: Option<u64>,
    count: u64,
}

/// The health monitor's scheduler: totals since the process started.
#[derive(Serialize, ToSchema)]
struct MonitorStats {
    /// False when this process runs no monitor (`--no-monitor`); every
    /// figure is then zero.
    running: bool,
    /// Distinct (target, check) pairs probed, each once per interval.
    keys: u64,
    started: u64,
    finished: u64,
    in_flight: u64,
    /// Slots passed over because the key's previous probe still ran.
    skipped_slots: u64,
    /// Probe starts by lateness (actual start − slot), fixed buckets.
    lateness: Vec<LatenessBucket>,
    max_lateness_ms: f64,
    /// Upper bounds from the buckets (capped by the maximum); null before
    /// the first probe.
    p50_lateness_ms: Option<f64>,
    p99_lateness_ms: Option<f64>,
}

/// Whether the monitor keeps up: probes counted and how late they start
/// against their slots (issue 5's goal: none more than 1 s late).
#[utoipa::path(get, path = "/monitor", tag = "monitor",
    responses((status = 200, description = "The monitor's counters", body = Single<MonitorStats>)))]
async fn monitor(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Single<MonitorStats>>> {
    let running = s.health.stats();
    let snap = running
        .clone()
        .unwrap_or_else(|| platdns_monitor::Stats::default().snapshot());
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let bounds = platdns_monitor::stats::LATENESS_BOUNDS_MS.iter().map(|&b| Some(b));
    Ok(single(MonitorStats {
        running: running.is_some(),
        keys: snap.keys,
        started: snap.started,
        finished: snap.finished,
        in_flight: snap.in_flight,
        skipped_slots: snap.skipped,
        lateness: bounds
            .chain([None])
            .zip(snap.lateness)
            .map(|(le_ms, count)| LatenessBucket { le_ms, count })
            .collect(),
        max_lateness_ms: ms(snap.max_lateness),
        p50_lateness_ms: snap.lateness_quantile(0.5).map(ms),
        p99_lateness_ms: snap.lateness_quantile(0.99).map(ms),
    }))
}

/// The health monitors alive and the freeze alert (issue 5): which monitor
/// processes (by location) were heard from, and how many checks are frozen
/// at their last known result because too few locations are alive.
#[utoipa::path(get, path = "/monitors", tag = "monitors",
    responses((status = 200, description = "Monitors and the alert", body = Single<crate::health::MonitorsView>)))]
async fn monitors(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Single<crate::health::MonitorsView>>> {
    Ok(single(crate::health::view(&s)))
}
