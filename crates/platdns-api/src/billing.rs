//! The provider's books over HTTP (issue 7). Operator API: billing settings,
//! price versions, availability exclusions, a month's availability, a month's
//! invoices (compute, close, list, get as JSON or CSV), credit claims and
//! their decisions, the billing start of a contract, and the import of
//! earlier contracts (R9.1). Tenant API (our extension, `x-platdns`): the
//! invoices of the token's own contracts, read-only (another tenant's: 404).
//!
//! The arithmetic is `platdns-billing`'s, the records `platdns-store`'s; every
//! handler reads the time from `s.clock`.

use crate::auth::{Operator, Tenant};
use crate::json::Body;
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use jiff::Timestamp;
use platdns_billing::{
    decide_claims, migrate, monthly_availability, Availability, BillingError, BillingMonth, BillingSettings,
    ClaimDecision, Exclusion, ExclusionReason, Invoice, LegacyContract, PriceTable,
};
use platdns_store::{BillingObject, StoredClaim, StoredExclusion, StoredInvoice};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{OpenApi, ToSchema};

pub fn operator_routes() -> Routes {
    Routes::new()
        .get("/billing/settings", get_settings)
        .put("/billing/settings", put_settings)
        .get("/prices", list_prices)
        .post("/prices", add_prices)
        .get("/exclusions", list_exclusions)
        .post("/exclusions", create_exclusion)
        .get("/exclusions/{id}", get_exclusion)
        .put("/exclusions/{id}", update_exclusion)
        .delete("/exclusions/{id}", delete_exclusion)
        .get("/availability/{month}", get_availability)
        .get("/contracts/{id}/availability/{month}", contract_availability)
        .put("/contracts/{id}/billing_start", set_billing_start)
        .post("/invoices/{month}/compute", compute_invoices)
        .post("/invoices/{month}/close", close_month)
        .get("/invoices", list_invoices)
        .get("/contracts/{id}/invoices/{month}", operator_invoice)
        .get("/contracts/{id}/invoices/{month}/csv", operator_invoice_csv)
        .get("/claims", list_claims)
        .post("/claims", file_claim)
        .get("/claims/{id}", get_claim)
        .post("/claims/{id}/decision", decide_claim)
        .post("/migrations", import_legacy)
}

/// The tenant's read-only view of its invoices, under `/dpf/v1`.
pub fn tenant_routes() -> Routes {
    Routes::new()
        .get("/contracts/{id}/invoices", tenant_invoices)
        .get("/contracts/{id}/invoices/{month}", tenant_invoice)
        .get("/contracts/{id}/invoices/{month}/csv", tenant_invoice_csv)
}

#[derive(OpenApi)]
#[openapi(paths(
    get_settings,
    put_settings,
    list_prices,
    add_prices,
    list_exclusions,
    create_exclusion,
    get_exclusion,
    update_exclusion,
    delete_exclusion,
    get_availability,
    contract_availability,
    set_billing_start,
    compute_invoices,
    close_month,
    list_invoices,
    operator_invoice,
    operator_invoice_csv,
    list_claims,
    file_claim,
    get_claim,
    decide_claim,
    import_legacy
))]
pub struct BillingApi;

// ---- helpers ----

fn who(o: &Operator) -> String {
    format!("operator#{}", o.0.token_id)
}

fn month(s: &str) -> ApiResult<BillingMonth> {
    s.parse()
        .map_err(|_| ApiError::bad_request("invalid", "month", format!("{s:?} is not a month (YYYY-MM)")))
}

fn conflict(attribute: &str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        error_type: "Conflict",
        message: message.into(),
        details: vec![("conflict".into(), attribute.into())],
    }
}

/// A billing error of the operator's data (no price in force, a bad plan
/// history): 409 naming what to fix.
fn billing_error(e: BillingError) -> ApiError {
    let attribute = match &e {
        BillingError::NoPriceInForce(_) => "prices",
        BillingError::BadCreditRate { .. } | BillingError::ZeroProbeInterval => "settings",
        _ => "contract",
    };
    conflict(attribute, e.to_string())
}

fn single<T: Serialize>(v: T) -> Json<Value> {
    Json(crate::json::result(serde_json::to_value(v).expect("serializable")))
}

fn many<T: Serialize>(v: Vec<T>) -> Json<Value> {
    Json(crate::json::results(
        v.into_iter()
            .map(|x| serde_json::to_value(x).expect("serializable"))
            .collect(),
    ))
}

fn csv(text: String) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/csv; charset=utf-8")], text)
}

// ---- settings and prices ----

/// `BillingSettings` (R7.2, R7.3, Art. 9, Art. 11, App. 3, R6.2); every
/// field optional, the terms' figures by default.
#[derive(ToSchema)]
#[allow(dead_code)]
struct SettingsDoc {
    /// `down` (default), `up` or `half_up`.
    rounding: Option<String>,
    /// `daily` (default) or `none`.
    proration: Option<String>,
    /// Claims close at the end of this day of the next month (15).
    claim_deadline_day: Option<i8>,
    /// Termination notice period in days (30).
    notice_days: Option<i32>,
    /// `[{"min_ppm": 995000, "rate": {"num": 1, "den": 10}}, ...]`
    #[schema(value_type = Option<Vec<Object>>)]
    credit_bands: Option<Vec<Value>>,
    /// The prober's slot (60).
    probe_interval_seconds: Option<u32>,
    /// `excluded` (default), `available` or `unavailable`.
    unknown_slots: Option<String>,
}

#[utoipa::path(get, path = "/billing/settings", tag = "billing",
    responses((status = 200, description = "The billing settings", body = SettingsDoc)))]
async fn get_settings(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Value>> {
    Ok(single(s.store.billing_settings().await?))
}

#[utoipa::path(put, path = "/billing/settings", tag = "billing", request_body = SettingsDoc,
    responses((status = 200, description = "The settings now in force", body = SettingsDoc)))]
async fn put_settings(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<BillingSettings>,
) -> ApiResult<Json<Value>> {
    s.store.set_billing_settings(&b, &who(&o), s.clock.now()).await?;
    Ok(single(s.store.billing_settings().await?))
}

/// A price table version (App. 2), in integer yen. Amounts without a
/// default are the ones the terms leave to the provider.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPrices {
    /// A name for this version, quoted on invoice lines ("2026-04").
    version: String,
    /// The first day (operator's zone) it is in force.
    effective_from: jiff::civil::Date,
    zone_addition_fee: i64,
    traffic_management_initial_fee: i64,
    traffic_management_monthly_fee: i64,
    basic_monthly_fee: i64,
    additional_zone_monthly_fee: i64,
    premium_monthly_fee: i64,
    /// Per `extra_qps_unit` QPS.
    extra_qps_fee: i64,
    #[serde(default = "hundred")]
    extra_qps_unit: u32,
    #[serde(default)]
    basic_initial_fee: i64,
    #[serde(default)]
    premium_initial_fee: i64,
    #[serde(default)]
    managed_dns_monthly_fee: i64,
    /// One-time fees per kind of change request: `plan`, `qps_limit`,
    /// `managed_dns_services`, `traffic_management_services`.
    #[serde(default)]
    #[schema(value_type = Object)]
    change_fees: platdns_billing::ChangeFees,
}

fn hundred() -> u32 {
    100
}

#[utoipa::path(get, path = "/prices", tag = "billing",
    responses((status = 200, description = "Every price version by effective day, with author and time", body = Object)))]
async fn list_prices(State(s): State<AppState>, _o: Operator) -> ApiResult<Json<Value>> {
    let v = s.store.price_versions().await?;
    Ok(many(
        v.into_iter()
            .map(|p| {
                let mut t = serde_json::to_value(&p.table).expect("serializable");
                t["author"] = json!(p.author);
                t["created_at"] = json!(crate::json::time(p.created_at));
                t
            })
            .collect(),
    ))
}

/// A new price version: it applies from its day; months already closed
/// keep their invoices.
#[utoipa::path(post, path = "/prices", tag = "billing", request_body = NewPrices,
    responses((status = 201, description = "The version added", body = Object)))]
async fn add_prices(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<NewPrices>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let yen = platdns_billing::Yen;
    let amounts = [
        ("zone_addition_fee", b.zone_addition_fee),
        ("traffic_management_initial_fee", b.traffic_management_initial_fee),
        ("traffic_management_monthly_fee", b.traffic_management_monthly_fee),
        ("basic_monthly_fee", b.basic_monthly_fee),
        ("additional_zone_monthly_fee", b.additional_zone_monthly_fee),
        ("premium_monthly_fee", b.premium_monthly_fee),
        ("extra_qps_fee", b.extra_qps_fee),
        ("basic_initial_fee", b.basic_initial_fee),
        ("premium_initial_fee", b.premium_initial_fee),
        ("managed_dns_monthly_fee", b.managed_dns_monthly_fee),
        ("change_fees.plan", b.change_fees.plan.0),
        ("change_fees.qps_limit", b.change_fees.qps_limit.0),
        ("change_fees.managed_dns_services", b.change_fees.managed_dns_services.0),
        (
            "change_fees.traffic_management_services",
            b.change_fees.traffic_management_services.0,
        ),
    ];
    if let Some((name, _)) = amounts.iter().find(|(_, a)| *a < 0) {
        return Err(ApiError::bad_request("invalid", name, "an amount in yen, 0 or more"));
    }
    if b.version.trim().is_empty() || b.version.chars().count() > 40 {
        return Err(ApiError::bad_request("invalid", "version", "1 to 40 characters"));
    }
    let t = PriceTable {
        version: b.version,
        effective_from: b.effective_from,
        zone_addition_fee: yen(b.zone_addition_fee),
        traffic_management_initial_fee: yen(b.traffic_management_initial_fee),
        traffic_management_monthly_fee: yen(b.traffic_management_monthly_fee),
        basic_monthly_fee: yen(b.basic_monthly_fee),
        additional_zone_monthly_fee: yen(b.additional_zone_monthly_fee),
        premium_monthly_fee: yen(b.premium_monthly_fee),
        extra_qps_fee: yen(b.extra_qps_fee),
        extra_qps_unit: b.extra_qps_unit,
        basic_initial_fee: yen(b.basic_initial_fee),
        premium_initial_fee: yen(b.premium_initial_fee),
        managed_dns_monthly_fee: yen(b.managed_dns_monthly_fee),
        change_fees: b.change_fees,
    };
    let p = s.store.add_price_version(&t, &who(&o), s.clock.now()).await?;
    Ok((StatusCode::CREATED, single(p.table)))
}

// ---- exclusions (R6.3) ----

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewExclusion {
    /// RFC 3339 with an offset.
    #[schema(value_type = String)]
    from: Timestamp,
    /// Exclusive.
    #[schema(value_type = String)]
    until: Timestamp,
    /// `maintenance`, `force_majeure`, `customer_breach` or `not_provider_fault`.
    #[schema(value_type = String)]
    reason: ExclusionReason,
    #[serde(default)]
    note: String,
}

#[derive(Serialize, ToSchema)]
struct ExclusionView {
    id: i64,
    #[schema(value_type = String)]
    from: Timestamp,
    #[schema(value_type = String)]
    until: Timestamp,
    #[schema(value_type = String)]
    reason: ExclusionReason,
    note: String,
    author: String,
    recorded_at: String,
}

fn exclusion_view(x: StoredExclusion) -> ExclusionView {
    ExclusionView {
        id: x.id,
        from: x.exclusion.from,
        until: x.exclusion.until,
        reason: x.exclusion.reason,
        note: x.exclusion.note,
        author: x.exclusion.author,
        recorded_at: crate::json::time(x.recorded_at),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
struct MonthQuery {
    /// YYYY-MM; all when left out.
    month: Option<String>,
    /// A contract's DPF id.
    contract_id: Option<String>,
}

#[utoipa::path(get, path = "/exclusions", tag = "availability", params(MonthQuery),
    responses((status = 200, description = "Exclusions overlapping the month (every one without it)", body = Vec<ExclusionView>)))]
async fn list_exclusions(
    State(s): State<AppState>,
    _o: Operator,
    Query(q): Query<MonthQuery>,
) -> ApiResult<Json<Value>> {
    let (from, until) = match q.month.as_deref().map(month).transpose()? {
        Some(m) => (
            m.start(&s.time_zone).map_err(billing_error)?,
            m.end(&s.time_zone).map_err(billing_error)?,
        ),
        None => (Timestamp::MIN, Timestamp::MAX),
    };
    let v = s.store.exclusions(from, until).await?;
    Ok(many(v.into_iter().map(exclusion_view).collect()))
}

fn exclusion(o: &Operator, b: NewExclusion) -> Exclusion {
    Exclusion {
        from: b.from,
        until: b.until,
        reason: b.reason,
        note: b.note,
        author: who(o),
    }
}

#[utoipa::path(post, path = "/exclusions", tag = "availability", request_body = NewExclusion,
    responses((status = 201, description = "The exclusion, with its author and time", body = ExclusionView)))]
async fn create_exclusion(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<NewExclusion>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let x = s.store.create_exclusion(&exclusion(&o, b), s.clock.now()).await?;
    Ok((StatusCode::CREATED, single(exclusion_view(x))))
}

fn exclusion_id(id: &str) -> ApiResult<i64> {
    id.parse().map_err(|_| ApiError::not_found())
}

#[utoipa::path(get, path = "/exclusions/{id}", tag = "availability",
    params(("id" = i64, Path, description = "The exclusion's id")),
    responses((status = 200, description = "The exclusion", body = ExclusionView)))]
async fn get_exclusion(State(s): State<AppState>, _o: Operator, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(single(exclusion_view(s.store.get_exclusion(exclusion_id(&id)?).await?)))
}

#[utoipa::path(put, path = "/exclusions/{id}", tag = "availability", request_body = NewExclusion,
    params(("id" = i64, Path, description = "The exclusion's id")),
    responses((status = 200, description = "The exclusion as changed (author: who changed it)", body = ExclusionView)))]
async fn update_exclusion(
    State(s): State<AppState>,
    o: Operator,
    Path(id): Path<String>,
    Body(b): Body<NewExclusion>,
) -> ApiResult<Json<Value>> {
    let x = s
        .store
        .update_exclusion(exclusion_id(&id)?, &exclusion(&o, b), s.clock.now())
        .await?;
    Ok(single(exclusion_view(x)))
}

#[utoipa::path(delete, path = "/exclusions/{id}", tag = "availability",
    params(("id" = i64, Path, description = "The exclusion's id")),
    responses((status = 204, description = "Deleted")))]
async fn delete_exclusion(State(s): State<AppState>, _o: Operator, Path(id): Path<String>) -> ApiResult<StatusCode> {
    s.store.delete_exclusion(exclusion_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- availability (R6.1-R6.3) ----

/// A month's availability by the method of `platdns_billing::availability`.
#[derive(Serialize, ToSchema)]
struct AvailabilityView {
    month: String,
    /// The contract's DPF id, for a contract's view.
    #[serde(skip_serializing_if = "Option::is_none")]
    contract_id: Option<String>,
    month_seconds: u64,
    excluded_seconds: u64,
    /// Slots in which no probe point reported (not counted by default).
    unknown_seconds: u64,
    counted_seconds: u64,
    unavailable_seconds: u64,
    available_seconds: u64,
    /// Four decimals, rounded down (display only).
    percent: String,
    /// Parts per million, rounded down (display only; bands are decided exactly).
    ppm: u32,
    /// App. 3's rate for this availability ("1/10", "1/4", "1/1"), none at 100%.
    credit_rate: Option<String>,
    probe_interval_seconds: u32,
    /// Probe rows (server × point × slot) in the month.
    probes: usize,
    failed_probes: usize,
}

async fn availability(s: &AppState, m: BillingMonth) -> ApiResult<(Availability, AvailabilityView)> {
    let tz = &s.time_zone;
    let settings = s.store.billing_settings().await?;
    let (from, until) = (m.start(tz).map_err(billing_error)?, m.end(tz).map_err(billing_error)?);
    let rows = s.store.probes(from, until).await?;
    let samples = s.store.probe_samples(from, until).await?;
    let exclusions: Vec<Exclusion> = s
        .store
        .exclusions(from, until)
        .await?
        .into_iter()
        .map(|x| x.exclusion)
        .collect();
    let a = monthly_availability(m, &samples, &exclusions, &settings, tz).map_err(billing_error)?;
    let view = AvailabilityView {
        month: m.to_string(),
        contract_id: None,
        month_seconds: a.month_seconds,
        excluded_seconds: a.excluded_seconds,
        unknown_seconds: a.unknown_seconds,
        counted_seconds: a.counted_seconds,
        unavailable_seconds: a.unavailable_seconds,
        available_seconds: a.available_seconds(),
        percent: a.percent(),
        ppm: a.ppm_floor(),
        credit_rate: a.credit_rate(&settings.credit_bands).map(|r| r.to_string()),
        probe_interval_seconds: settings.probe_interval_seconds,
        probes: rows.len(),
        failed_probes: rows.iter().filter(|r| !r.ok()).count(),
    };
    Ok((a, view))
}

#[utoipa::path(get, path = "/availability/{month}", tag = "availability",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "The platform's availability in the month", body = AvailabilityView)))]
async fn get_availability(State(s): State<AppState>, _o: Operator, Path(m): Path<String>) -> ApiResult<Json<Value>> {
    Ok(single(availability(&s, month(&m)?).await?.1))
}

/// A contract's availability: the platform's name servers answer every
/// contract's zones, so it is the platform's (RULES.md, App. 1).
#[utoipa::path(get, path = "/contracts/{id}/availability/{month}", tag = "availability",
    params(("id" = String, Path, description = "The contract's DPF id"), ("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "The contract's availability in the month", body = AvailabilityView)))]
async fn contract_availability(
    State(s): State<AppState>,
    _o: Operator,
    Path((id, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let c = s.store.find_contract(&id, None).await?;
    let (_, mut v) = availability(&s, month(&m)?).await?;
    v.contract_id = Some(c.public_id);
    Ok(single(v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BillingStart {
    /// 課金開始日: the first day the parent's monthly fee is due.
    billing_start: jiff::civil::Date,
}

#[utoipa::path(put, path = "/contracts/{id}/billing_start", tag = "billing", request_body = BillingStart,
    params(("id" = String, Path, description = "The contract's DPF id")),
    responses((status = 200, description = "The contract as billing reads it", body = Object)))]
async fn set_billing_start(
    State(s): State<AppState>,
    _o: Operator,
    Path(id): Path<String>,
    Body(b): Body<BillingStart>,
) -> ApiResult<Json<Value>> {
    let c = s.store.find_contract(&id, None).await?;
    if let Some(end) = c.ends_on.filter(|e| *e < b.billing_start) {
        return Err(ApiError::bad_request(
            "invalid",
            "billing_start",
            format!("after the contract's end ({end})"),
        ));
    }
    s.store
        .set_billing_origin(
            BillingObject::Contract(c.id),
            Some(b.billing_start),
            None,
            s.clock.now(),
        )
        .await?;
    Ok(single(s.store.billing_contract(c.id, &s.time_zone).await?))
}

// ---- invoices ----

/// An invoice as stored: `invoice` is `platdns_billing::Invoice` (lines, each
/// naming its rule, and the total in yen).
#[derive(Serialize, ToSchema)]
struct InvoiceView {
    contract_id: String,
    month: String,
    total: i64,
    closed: bool,
    computed_at: String,
    #[schema(value_type = Object)]
    invoice: Invoice,
}

async fn invoice_view(s: &AppState, i: StoredInvoice) -> ApiResult<InvoiceView> {
    let c = s.store.get_contract(i.contract_id).await?;
    Ok(InvoiceView {
        contract_id: c.public_id,
        month: i.invoice.month.to_string(),
        total: i.invoice.total.0,
        closed: i.closed,
        computed_at: crate::json::time(i.computed_at),
        invoice: i.invoice,
    })
}

/// Every contract's invoice for `m`, with the credits decided into it;
/// contracts with nothing due are left out.
async fn compute_month(s: &AppState, m: BillingMonth) -> ApiResult<Vec<(i64, Invoice)>> {
    let settings = s.store.billing_settings().await?;
    let book = s.store.price_book().await?;
    let mut out = Vec::new();
    for c in s.store.list_contracts(None).await? {
        let p = s.store.billing_contract(c.id, &s.time_zone).await?;
        let inv = platdns_billing::invoice(&p, m, &book, &settings, &s.time_zone)
            .map_err(billing_error)?
            .with_credits(&s.store.credits_for(c.id, m).await?);
        if !inv.lines.is_empty() {
            out.push((c.id, inv));
        }
    }
    Ok(out)
}

async fn month_invoices(s: &AppState, m: BillingMonth) -> ApiResult<Json<Value>> {
    let mut v = Vec::new();
    for i in s.store.list_invoices(None, Some(m), None).await? {
        v.push(invoice_view(s, i).await?);
    }
    Ok(many(v))
}

/// Computes and stores the month's invoices (replacing earlier
/// computations); refused for a closed month.
#[utoipa::path(post, path = "/invoices/{month}/compute", tag = "invoices",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "The month's invoices", body = Vec<InvoiceView>),
        (status = 409, description = "The month is closed, or no price is in force", body = crate::error::ErrorBody)))]
async fn compute_invoices(State(s): State<AppState>, _o: Operator, Path(m): Path<String>) -> ApiResult<Json<Value>> {
    let m = month(&m)?;
    let invoices = compute_month(&s, m).await?;
    s.store.save_invoices(m, &invoices, None, s.clock.now()).await?;
    month_invoices(&s, m).await
}

/// Computes the month's invoices one last time and freezes them: later price
/// versions, exclusions or credits never change a closed month.
#[utoipa::path(post, path = "/invoices/{month}/close", tag = "invoices",
    params(("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "The month's frozen invoices", body = Vec<InvoiceView>),
        (status = 409, description = "The month is closed already, not over yet, or no price is in force", body = crate::error::ErrorBody)))]
async fn close_month(State(s): State<AppState>, o: Operator, Path(m): Path<String>) -> ApiResult<Json<Value>> {
    let m = month(&m)?;
    let now = s.clock.now();
    if now < m.end(&s.time_zone).map_err(billing_error)? {
        return Err(conflict("month", format!("{m} is not over yet")));
    }
    let invoices = compute_month(&s, m).await?;
    s.store.save_invoices(m, &invoices, Some(&who(&o)), now).await?;
    month_invoices(&s, m).await
}

#[utoipa::path(get, path = "/invoices", tag = "invoices", params(MonthQuery),
    responses((status = 200, description = "Stored invoices", body = Vec<InvoiceView>)))]
async fn list_invoices(State(s): State<AppState>, _o: Operator, Query(q): Query<MonthQuery>) -> ApiResult<Json<Value>> {
    let m = q.month.as_deref().map(month).transpose()?;
    let c = match q.contract_id.as_deref() {
        Some(id) => Some(s.store.find_contract(id, None).await?.id),
        None => None,
    };
    let mut v = Vec::new();
    for i in s.store.list_invoices(c, m, None).await? {
        v.push(invoice_view(&s, i).await?);
    }
    Ok(many(v))
}

async fn stored_invoice(s: &AppState, contract_id: i64, m: &str) -> ApiResult<StoredInvoice> {
    Ok(s.store.get_invoice(contract_id, month(m)?).await?)
}

#[utoipa::path(get, path = "/contracts/{id}/invoices/{month}", tag = "invoices",
    params(("id" = String, Path, description = "The contract's DPF id"), ("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "The invoice", body = InvoiceView)))]
async fn operator_invoice(
    State(s): State<AppState>,
    _o: Operator,
    Path((id, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let c = s.store.find_contract(&id, None).await?;
    let i = stored_invoice(&s, c.id, &m).await?;
    Ok(single(invoice_view(&s, i).await?))
}

#[utoipa::path(get, path = "/contracts/{id}/invoices/{month}/csv", tag = "invoices",
    params(("id" = String, Path, description = "The contract's DPF id"), ("month" = String, Path, description = "YYYY-MM")),
    responses((status = 200, description = "The invoice as CSV, one row per line, each with its rule", body = String, content_type = "text/csv")))]
async fn operator_invoice_csv(
    State(s): State<AppState>,
    _o: Operator,
    Path((id, m)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let c = s.store.find_contract(&id, None).await?;
    Ok(csv(stored_invoice(&s, c.id, &m).await?.invoice.to_csv()))
}

async fn tenant_invoices(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let c = crate::dpf::find_contract(&s, &t, &id).await?;
    let mut v = Vec::new();
    for i in s.store.list_invoices(Some(c.id), None, Some(t.account_id())).await? {
        v.push(invoice_view(&s, i).await?);
    }
    Ok(many(v))
}

async fn tenant_invoice(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, m)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let c = crate::dpf::find_contract(&s, &t, &id).await?;
    let i = stored_invoice(&s, c.id, &m).await?;
    Ok(single(invoice_view(&s, i).await?))
}

async fn tenant_invoice_csv(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, m)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let c = crate::dpf::find_contract(&s, &t, &id).await?;
    Ok(csv(stored_invoice(&s, c.id, &m).await?.invoice.to_csv()))
}

// ---- claims (R8.1, R8.2) ----

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewClaim {
    /// The contract's DPF id.
    contract_id: String,
    /// The child service claimed for: a zone's or LB domain's DPF id.
    service: String,
    /// YYYY-MM: the month of the breach.
    breach_month: String,
    /// When the claim reached the provider (RFC 3339); now when left out.
    #[schema(value_type = Option<String>)]
    received_at: Option<Timestamp>,
}

#[derive(Serialize, ToSchema)]
struct ClaimView {
    id: String,
    contract_id: String,
    service: String,
    breach_month: String,
    #[schema(value_type = String)]
    received_at: Timestamp,
    filed_by: String,
    recorded_at: String,
    /// `platdns_billing::ClaimDecision`: accepted with its credit, or
    /// refused with its reason; none until decided.
    #[schema(value_type = Option<Object>)]
    decision: Option<ClaimDecision>,
    /// The refusal's reason in words.
    message: Option<String>,
    decided_at: Option<String>,
    /// The month whose invoice deducts the credit.
    credited_month: Option<String>,
}

async fn claim_view(s: &AppState, k: StoredClaim) -> ApiResult<ClaimView> {
    let c = s.store.get_contract(k.contract_id).await?;
    let message = match &k.decision {
        Some(ClaimDecision::Refused { refusal, .. }) => Some(refusal.message()),
        Some(ClaimDecision::Accepted { credit, .. }) => Some(format!(
            "credit of {} ({} of {})",
            credit.amount, credit.rate, credit.base
        )),
        None => None,
    };
    Ok(ClaimView {
        id: k.public_id,
        contract_id: c.public_id,
        service: k.service,
        breach_month: k.breach_month.to_string(),
        received_at: k.received_at,
        filed_by: k.filed_by,
        recorded_at: crate::json::time(k.recorded_at),
        decision: k.decision,
        message,
        decided_at: k.decided_at.map(crate::json::time),
        credited_month: k.credited_month.map(|m| m.to_string()),
    })
}

#[utoipa::path(post, path = "/claims", tag = "claims", request_body = NewClaim,
    responses((status = 201, description = "The claim, recorded undecided", body = ClaimView)))]
async fn file_claim(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<NewClaim>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let m = month(&b.breach_month).map_err(|mut e| {
        e.details = vec![("invalid".into(), "breach_month".into())];
        e
    })?;
    let c = s.store.find_contract(&b.contract_id, None).await?;
    let now = s.clock.now();
    let k = s
        .store
        .file_claim(c.id, &b.service, m, b.received_at.unwrap_or(now), &who(&o), now)
        .await?;
    Ok((StatusCode::CREATED, single(claim_view(&s, k).await?)))
}

#[utoipa::path(get, path = "/claims", tag = "claims", params(MonthQuery),
    responses((status = 200, description = "Claims by time received (month: the breach month)", body = Vec<ClaimView>)))]
async fn list_claims(State(s): State<AppState>, _o: Operator, Query(q): Query<MonthQuery>) -> ApiResult<Json<Value>> {
    let m = q.month.as_deref().map(month).transpose()?;
    let c = match q.contract_id.as_deref() {
        Some(id) => Some(s.store.find_contract(id, None).await?.id),
        None => None,
    };
    let mut v = Vec::new();
    for k in s.store.claims(c, m).await? {
        v.push(claim_view(&s, k).await?);
    }
    Ok(many(v))
}

#[utoipa::path(get, path = "/claims/{id}", tag = "claims",
    params(("id" = String, Path, description = "The claim's id")),
    responses((status = 200, description = "The claim and its decision", body = ClaimView)))]
async fn get_claim(State(s): State<AppState>, _o: Operator, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let k = s.store.find_claim(&id).await?;
    Ok(single(claim_view(&s, k).await?))
}

/// Decides the claim, with every undecided claim of its contract and breach
/// month (in the order received: a fee is credited once). The breach month
/// must be over. A credit is deducted on the invoice of the month of the
/// decision (the next open one if that is closed); decisions are records
/// and are never decided again.
#[utoipa::path(post, path = "/claims/{id}/decision", tag = "claims",
    params(("id" = String, Path, description = "The claim's id")),
    responses((status = 200, description = "The claim with its decision", body = ClaimView),
        (status = 409, description = "The breach month is not over, or no price is in force", body = crate::error::ErrorBody)))]
async fn decide_claim(State(s): State<AppState>, _o: Operator, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let k = s.store.find_claim(&id).await?;
    if k.decision.is_none() {
        let tz = &s.time_zone;
        let now = s.clock.now();
        let m = k.breach_month;
        if now < m.end(tz).map_err(billing_error)? {
            return Err(conflict(
                "breach_month",
                format!("{m} is not over: its availability is not known yet"),
            ));
        }
        let settings = s.store.billing_settings().await?;
        let p = s.store.billing_contract(k.contract_id, tz).await?;
        let (a, _) = availability(&s, m).await?;
        let inv = match s.store.get_invoice(k.contract_id, m).await {
            Ok(i) if i.closed => i.invoice,
            _ => platdns_billing::invoice(&p, m, &s.store.price_book().await?, &settings, tz).map_err(billing_error)?,
        };
        let all = s.store.claims(Some(k.contract_id), Some(m)).await?;
        let claims: Vec<platdns_billing::Claim> = all.iter().map(StoredClaim::claim).collect();
        let decisions = decide_claims(&p, &claims, &a, &inv, &settings, tz).map_err(billing_error)?;
        let mut credited = BillingMonth::of_instant(now, tz);
        while s.store.month_closed(credited).await?.is_some() {
            credited = credited.next().map_err(billing_error)?;
        }
        let new: Vec<_> = decisions
            .into_iter()
            .filter_map(|d| {
                let claim = match &d {
                    ClaimDecision::Accepted { claim, .. } | ClaimDecision::Refused { claim, .. } => claim,
                };
                let stored = all.iter().find(|x| &x.public_id == claim)?;
                stored.decision.is_none().then_some((stored.id, d, credited))
            })
            .collect();
        s.store.record_decisions(&new, now).await?;
    }
    let k = s.store.find_claim(&id).await?;
    Ok(single(claim_view(&s, k).await?))
}

// ---- migration (R9.1) ----

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Import {
    /// The customer account the contracts go to.
    account_id: i64,
    /// YYYY-MM: billing under the new structure starts on its first day.
    from_month: String,
    /// `{"type": "dns_outsourcing", "id", "zones": [..]}` or
    /// `{"type": "site_failover_option", "id", "outsourcing"}`.
    #[schema(value_type = Vec<Object>)]
    contracts: Vec<LegacyContract>,
}

#[derive(Serialize, ToSchema)]
struct Imported {
    legacy_id: String,
    /// The new Basic parent's DPF id.
    contract_id: String,
    /// (name, DPF id) of each managed DNS service.
    #[schema(value_type = Vec<Object>)]
    zones: Vec<Value>,
    /// (legacy id, DPF id, name) of each traffic management service.
    #[schema(value_type = Vec<Object>)]
    lb_domains: Vec<Value>,
}

/// Imports earlier contracts (R9.1): each "DNS outsourcing" contract
/// becomes a Basic parent with one managed DNS service per zone (approved by
/// the operator: the provider already served it), each "site failover
/// option" a traffic management service under its outsourcing contract's
/// parent, all billed from the first day of `from_month` with no initial fee.
/// Everything is checked before anything is created.
#[utoipa::path(post, path = "/migrations", tag = "billing", request_body = Import,
    responses((status = 201, description = "The new contracts and services", body = Vec<Imported>)))]
async fn import_legacy(
    State(s): State<AppState>,
    o: Operator,
    Body(b): Body<Import>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let from = month(&b.from_month).map_err(|mut e| {
        e.details = vec![("invalid".into(), "from_month".into())];
        e
    })?;
    migrate(&b.contracts, from).map_err(|e| ApiError::bad_request("invalid", "contracts", e.to_string()))?;
    s.store.get_account(b.account_id).await?;
    let taken: Vec<String> = s
        .store
        .list_zones(None, None)
        .await?
        .into_iter()
        .map(|z| z.name)
        .collect();
    let mut names = Vec::new();
    for l in &b.contracts {
        if let LegacyContract::DnsOutsourcing { id, zones } = l {
            for z in zones {
                let n = z.trim_end_matches('.').to_ascii_lowercase();
                if taken.contains(&n) || names.contains(&n) {
                    return Err(ApiError::bad_request(
                        "duplicate",
                        "contracts",
                        format!("{id}: zone {n} exists already"),
                    ));
                }
                names.push(n);
            }
        }
    }
    let now = s.clock.now();
    let start = Some(from.first_day());
    let mut out = Vec::new();
    for l in &b.contracts {
        let LegacyContract::DnsOutsourcing { id, zones } = l else {
            continue;
        };
        let description: String = format!("migrated: {id}").chars().take(80).collect();
        let c = s
            .store
            .create_contract(
                b.account_id,
                platdns_contract::Plan::Basic,
                0,
                &description,
                &s.terms,
                now,
            )
            .await?;
        s.store
            .set_billing_origin(BillingObject::Contract(c.id), start, Some(id), now)
            .await?;
        let mut zs = Vec::new();
        let reason = format!("migrated from {id} (R9.1)");
        for z in zones {
            let zone = s
                .store
                .create_zone(c.id, z, Some((who(&o).as_str(), reason.as_str())), now)
                .await?;
            s.store
                .set_billing_origin(BillingObject::Zone(zone.id), start, Some(id), now)
                .await?;
            zs.push(json!({"name": format!("{}.", zone.name), "id": zone.public_id}));
        }
        let mut lbs = Vec::new();
        for opt in &b.contracts {
            let LegacyContract::SiteFailoverOption { id: oid, outsourcing } = opt else {
                continue;
            };
            if outsourcing != id {
                continue;
            }
            let name = format!(
                "{}.{}",
                &platdns_store::new_request_id()[..8],
                s.zone_defaults.lb_zone.trim_start_matches('.')
            );
            let lb = s.store.create_lb_domain(c.id, &name, now).await?;
            crate::publish::publish_lb(&s, &lb).await?;
            s.store
                .set_billing_origin(BillingObject::LbDomain(lb.id), start, Some(oid), now)
                .await?;
            lbs.push(json!({"legacy_id": oid, "id": lb.public_id, "name": lb.name}));
        }
        out.push(Imported {
            legacy_id: id.clone(),
            contract_id: c.public_id,
            zones: zs,
            lb_domains: lbs,
        });
    }
    Ok((StatusCode::CREATED, many(out)))
}

/// The tenant document's entries for [`tenant_routes`] (our extension).
pub fn tenant_paths() -> Vec<(&'static str, Value)> {
    let error = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BadRequest"}}}});
    let id = json!({"name": "ContractId", "in": "path", "required": true, "schema": {"type": "string"}});
    let month = json!({"name": "Month", "in": "path", "required": true, "description": "YYYY-MM",
        "schema": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}});
    let invoice = json!({
        "type": "object",
        "required": ["contract_id", "month", "total", "closed", "computed_at", "invoice"],
        "properties": {
            "contract_id": {"type": "string"},
            "month": {"type": "string"},
            "total": {"type": "integer", "description": "Yen"},
            "closed": {"type": "boolean", "description": "A closed month's invoice is final"},
            "computed_at": {"type": "string"},
            "invoice": {"type": "object", "description": "Every line with the rule that produced it, its proration factor and rounding"}
        }
    });
    let errors = |op: &mut Value| {
        op["responses"]["400"] = error("`Month` is not YYYY-MM (DPF's error body)");
        op["responses"]["401"] = error("No valid tenant token (DPF's error body)");
        op["responses"]["404"] =
            error("No such contract for this tenant, or no invoice for the month (DPF's error body)");
    };
    let mut list = json!({
        "tags": ["contracts"],
        "summary": "The contract's invoices (platdns)",
        "operationId": "listContractInvoices",
        "parameters": [id],
        "responses": {"200": {"description": "Every stored invoice of the contract, by month",
            "content": {"application/json": {"schema": {"type": "object", "required": ["request_id", "results"],
                "properties": {"request_id": {"type": "string"}, "results": {"type": "array", "items": invoice}}}}}}},
    });
    errors(&mut list);
    let mut one = json!({
        "tags": ["contracts"],
        "summary": "One month's invoice (platdns)",
        "operationId": "getContractInvoice",
        "parameters": [id, month],
        "responses": {"200": {"description": "The invoice",
            "content": {"application/json": {"schema": {"type": "object", "required": ["request_id", "result"],
                "properties": {"request_id": {"type": "string"}, "result": invoice}}}}}},
    });
    errors(&mut one);
    let mut as_csv = json!({
        "tags": ["contracts"],
        "summary": "One month's invoice as CSV (platdns)",
        "operationId": "getContractInvoiceCsv",
        "parameters": [id, month],
        "responses": {"200": {"description": "One row per line with its rule; the total last",
            "content": {"text/csv": {"schema": {"type": "string"}}}}},
    });
    errors(&mut as_csv);
    vec![
        ("/contracts/{ContractId}/invoices", json!({"get": list})),
        ("/contracts/{ContractId}/invoices/{Month}", json!({"get": one})),
        ("/contracts/{ContractId}/invoices/{Month}/csv", json!({"get": as_csv})),
    ]
}
