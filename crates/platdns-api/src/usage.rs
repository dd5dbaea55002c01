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
use crate::meters::{Service, ServiceKind};
use crate::routes::Routes;
use crate::{json, ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::Json;
use platdns_contract::usage::{self as rules, Decision, MonthlyMethod, RestrictAction, RestrictionPolicy};
use platdns_contract::{ContractQps, Plan, Qps};
use platdns_dataplane::meter::{Action, Restrictions};
use platdns_store::{Restriction, UsageOf, UsageRow};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Operator settings of usage and restriction.
#[derive(Debug, Clone)]
pub struct UsageSettings {
    /// This process's name among the DNS nodes (its usage rows).
    pub node: String,
    /// How a month's QPS is derived (R4.4).
    pub monthly: MonthlyMethod,
    /// The restriction policy of each plan (R4.1); `None` turns restriction
    /// off for the plan.
    pub basic: Option<RestrictionPolicy>,
    pub premium: Option<RestrictionPolicy>,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            node: format!("node-{}", std::process::id()),
            monthly: MonthlyMethod::default(),
            basic: Some(RestrictionPolicy::default()),
            premium: Some(RestrictionPolicy::default()),
        }
    }
}

impl UsageSettings {
    /// The plan's policy, unless the operator set one for the contract.
    pub fn policy(
        &self,
        contract_id: i64,
        plan: Plan,
        overrides: &HashMap<i64, Option<RestrictionPolicy>>,
    ) -> Option<RestrictionPolicy> {
        if let Some(p) = overrides.get(&contract_id) {
            return *p;
        }
        match plan {
            Plan::Basic => self.basic,
            Plan::Premium => self.premium,
        }
    }
}

/// The operator's per-contract policies (R4.1: "overridable per contract").
pub async fn overrides(s: &AppState) -> Result<HashMap<i64, Option<RestrictionPolicy>>, ApiError> {
    let mut out = HashMap::new();
    for (contract_id, text) in s.store.restriction_overrides().await? {
        let policy = match text {
            None => None,
            Some(t) => match serde_json::from_str(&t) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(contract_id, error = %e, "stored restriction policy does not parse; plan's applies");
                    continue;
                }
            },
        };
        out.insert(contract_id, policy);
    }
    Ok(out)
}

/// The settings and what the node last applied.
#[derive(Default)]
pub struct Usage {
    pub settings: UsageSettings,
    /// Slots this node restricts now (to lift them when restrictions end).
    applied: Mutex<Vec<u32>>,
    /// Contracts whose configuration changes are frozen now (R4.2).
    frozen: Mutex<std::sync::Arc<std::collections::HashSet<i64>>>,
}

impl Usage {
    pub fn new(settings: UsageSettings) -> Usage {
        Usage {
            settings,
            ..Usage::default()
        }
    }

    /// The contracts frozen now (read by every tenant request).
    pub fn frozen(&self) -> std::sync::Arc<std::collections::HashSet<i64>> {
        self.frozen.lock().expect("not poisoned").clone()
    }
}

/// Writes one second of a node's counts: `(slot, answered, restricted)`
/// for the slots that counted anything.
pub async fn record_second(s: &AppState, second: i64, counts: &[(u32, u64, u64)]) -> Result<(), ApiError> {
    let rows: Vec<UsageRow> = counts
        .iter()
        .filter_map(|&(slot, answered, restricted)| {
            let svc = s.meters.service(slot)?;
            Some(UsageRow {
                contract_id: svc.contract_id,
                service_kind: svc.kind.as_str().into(),
                service_id: svc.id,
                answered: answered as i64,
                restricted: restricted as i64,
            })
        })
        .collect();
    s.store.record_usage(&s.usage.settings.node, second, &rows).await?;
    Ok(())
}

fn contract_qps(s: &AppState, c: &platdns_store::Contract) -> Qps {
    ContractQps::new(c.plan, c.extra_qps, &s.terms)
        .map(|q| q.total(&s.terms))
        .unwrap_or_else(|_| s.terms.standard(c.plan))
}

/// One restriction round at `now` (unix seconds): starts and ends
/// restrictions. Returns how many changed.
pub async fn decide(s: &AppState, now: i64) -> Result<usize, ApiError> {
    let active: HashMap<i64, Restriction> = s
        .store
        .active_restrictions()
        .await?
        .into_iter()
        .map(|r| (r.contract_id, r))
        .collect();
    let overrides = overrides(s).await?;
    let mut windows: HashMap<u32, HashMap<i64, u64>> = HashMap::new();
    let mut changed = 0;
    let contracts = s.store.list_contracts(None).await?;
    for c in &contracts {
        let Some(policy) = s.usage.settings.policy(c.id, c.plan, &overrides) else {
            if let Some(r) = active.get(&c.id) {
                end(s, r, now).await?;
                changed += 1;
            }
            continue;
        };
        let by_contract = match windows.get(&policy.window_secs) {
            Some(w) => w,
            None => {
                let w = policy.window_secs;
                let sums = s.store.usage_by_contract(now - i64::from(w), now).await?;
                let map = sums.into_iter().map(|(id, a, r)| (id, (a + r).max(0) as u64)).collect();
                windows.entry(policy.window_secs).or_insert(map)
            }
        };
        let limit = contract_qps(s, c);
        // Each node cuts its seconds when its once-a-second loop wakes, a few
        // milliseconds past the boundary, so a window can hold slightly more
        // than its length of traffic (bench/usage.sh measured 502 queries
        // over 5 s at exactly 100 QPS). A tenth of a second of the contract
        // QPS is forgiven for it: a contract exactly at its limit is never
        // restricted by the cut's jitter. The rule itself stays exact.
        let slack = u64::from(limit.0).div_ceil(10);
        let queries = by_contract.get(&c.id).copied().unwrap_or(0).saturating_sub(slack);
        let until = active.get(&c.id).map(|r| r.ends_at.as_second());
        match rules::decide(queries, limit, &policy, until, now) {
            Decision::Keep => {}
            Decision::End => {
                if let Some(r) = active.get(&c.id) {
                    end(s, r, now).await?;
                    changed += 1;
                }
            }
            Decision::Start { measured_mqps, ends_at } => {
                let at = |t: i64| jiff::Timestamp::from_second(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                let r = s
                    .store
                    .start_restriction(&Restriction {
                        id: 0,
                        contract_id: c.id,
                        started_at: at(now),
                        ends_at: at(ends_at),
                        ended_at: None,
                        measured_mqps: measured_mqps as i64,
                        limit_qps: i64::from(limit.0),
                        window_secs: i64::from(policy.window_secs),
                        action: policy.action.as_str().into(),
                        freeze: policy.freeze_changes,
                    })
                    .await?;
                tracing::warn!(
                    contract = %c.public_id,
                    measured_qps = measured_mqps as f64 / 1000.0,
                    contract_qps = limit.0,
                    action = %r.action,
                    "contract restricted (R4.1)"
                );
                log(s, c.id, "qps_restriction_started", &describe(&r)).await?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

async fn end(s: &AppState, r: &Restriction, now: i64) -> Result<(), ApiError> {
    let at = jiff::Timestamp::from_second(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    s.store.end_restriction(r.id, at).await?;
    tracing::info!(contract_id = r.contract_id, "contract restriction ended");
    log(s, r.contract_id, "qps_restriction_ended", &describe(r)).await
}

/// The log target of a restriction: its cause in figures.
fn describe(r: &Restriction) -> String {
    format!(
        "measured {}.{:03} qps over {} s > contract {} qps; {} until {}",
        r.measured_mqps / 1000,
        r.measured_mqps % 1000,
        r.window_secs,
        r.limit_qps,
        r.action,
        r.ends_at
    )
}

/// R4.3: a restriction in the contract's log (our operations, beside DPF's).
async fn log(s: &AppState, contract_id: i64, operation: &str, target: &str) -> Result<(), ApiError> {
    let e = crate::dpf::Event {
        contract_id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation,
        target,
        status: "success",
    };
    crate::dpf::log_event(s, e).await?;
    Ok(())
}

/// Sets the restrictions in force on this node's slots and lifts the
/// others. A restricted contract's limit is shared by the nodes that
/// counted its queries in the last ten seconds.
pub async fn apply(s: &AppState, restrictions: &Restrictions, now: i64) -> Result<usize, ApiError> {
    let active = s.store.active_restrictions().await?;
    let frozen: std::collections::HashSet<i64> = active.iter().filter(|r| r.freeze).map(|r| r.contract_id).collect();
    *s.usage.frozen.lock().expect("not poisoned") = std::sync::Arc::new(frozen);
    let mut set = Vec::new();
    for r in &active {
        let action = match RestrictAction::from_text(&r.action) {
            Some(RestrictAction::Drop) => Action::Drop,
            Some(RestrictAction::Refuse) => Action::Refuse,
            Some(RestrictAction::Truncate) => Action::Truncate,
            Some(RestrictAction::None) | None => continue,
        };
        let nodes = s.store.usage_nodes(r.contract_id, now - 10, now).await?.max(1);
        let limit = rules::per_node_limit(Qps(r.limit_qps.max(0) as u32), nodes as u32);
        for (slot, svc) in s.meters.all() {
            if svc.contract_id == r.contract_id {
                restrictions.set(slot, Some((action, limit)));
                set.push(slot);
            }
        }
    }
    let mut applied = s.usage.applied.lock().expect("not poisoned");
    for slot in applied.iter() {
        if !set.contains(slot) {
            restrictions.set(*slot, None);
        }
    }
    let n = set.len();
    *applied = set;
    Ok(n)
}

/// Rolls complete minutes up (keeping the last hour of seconds) and drops
/// minutes past 90 days.
pub async fn roll_up(s: &AppState, now: i64) -> Result<(), ApiError> {
    // A minute is complete a few seconds after it ends (late node writes).
    let done = (now - 5) / 60;
    s.store.roll_up_usage(done, now - 3600).await?;
    s.store.purge_usage_minutes(done - 90 * 24 * 60).await?;
    fix_last_month(s).await
}

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get("/contracts/{id}/qps/histories", histories)
        .get("/contracts/{id}/qps/series", series)
        .get("/contracts/{id}/restrictions", restrictions_of)
}

/// The first minute (unix minutes) of each of the 12 months ending with
/// this one, in the operator's time zone, and the end of the last.
fn months(s: &AppState) -> Vec<(String, i64, i64)> {
    let now = s.clock.now().to_zoned(s.time_zone.clone());
    let first = now.date().first_of_month();
    let mut out = Vec::new();
    for back in (0..12).rev() {
        let start = first.checked_sub(jiff::Span::new().months(back)).unwrap_or(first);
        let end = start.checked_add(jiff::Span::new().months(1)).unwrap_or(start);
        let minute = |d: jiff::civil::Date| {
            d.to_zoned(s.time_zone.clone())
                .map(|z| z.timestamp().as_second() / 60)
                .unwrap_or(0)
        };
        out.push((start.strftime("%Y-%m").to_string(), minute(start), minute(end)));
    }
    out
}

/// Per-service and contract-total monthly QPS of `months` for a contract,
/// from the per-minute counts (the last hour from the seconds, so the
/// current month is current), by the operator's method.
type Figures = (BTreeMap<(String, i64), Vec<u64>>, Vec<u64>);

async fn figures(s: &AppState, contract_id: i64, months: &[(String, i64, i64)]) -> Result<Figures, ApiError> {
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok((BTreeMap::new(), Vec::new()));
    };
    let (from, to) = (first.1, last.2);
    let now_minute = s.clock.now().as_second() / 60;
    let recent = (s.clock.now().as_second() - 3600) / 60 + 1;
    let mut series = s
        .store
        .usage_minutes_by_service(contract_id, from, recent.min(to))
        .await?;
    series.extend(
        s.store
            .usage_second_minutes_by_service(contract_id, recent * 60, to * 60)
            .await?,
    );
    let mut by_service: BTreeMap<(String, i64), BTreeMap<i64, u64>> = BTreeMap::new();
    let mut total: BTreeMap<i64, u64> = BTreeMap::new();
    for (kind, sid, minute, answered) in series {
        let n = answered.max(0) as u64;
        *by_service.entry((kind, sid)).or_default().entry(minute).or_default() += n;
        *total.entry(minute).or_default() += n;
    }
    let method = s.usage.settings.monthly;
    let per_month = |minutes: &BTreeMap<i64, u64>| -> Vec<u64> {
        months
            .iter()
            .map(|(_, start, end)| {
                let counts: Vec<u64> = minutes.range(*start..*end).map(|(_, n)| *n).collect();
                let elapsed = (now_minute.min(*end) - start).max(0) as usize;
                rules::monthly_qps(&counts, elapsed, method)
            })
            .collect()
    };
    Ok((
        by_service.iter().map(|(k, m)| (k.clone(), per_month(m))).collect(),
        per_month(&total),
    ))
}

/// Fixes the figures of the month before this one for every contract, once
/// (R4.4: minutes go after 90 days; the month's figure stays).
pub async fn fix_last_month(s: &AppState) -> Result<(), ApiError> {
    let months = months(s);
    let last = months[10].clone();
    if s.store.month_done(&last.0).await? {
        return Ok(());
    }
    let mut rows = Vec::new();
    for c in s.store.list_contracts(None).await? {
        let (services, total) = figures(s, c.id, std::slice::from_ref(&last)).await?;
        rows.push((c.id, String::new(), 0, total.first().copied().unwrap_or(0) as i64));
        for ((kind, sid), v) in services {
            rows.push((c.id, kind, sid, v.first().copied().unwrap_or(0) as i64));
        }
    }
    s.store.save_month_figures(&last.0, &rows).await?;
    tracing::info!(month = %last.0, contracts = rows.len(), "monthly QPS figures fixed");
    Ok(())
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

/// The meter slots of a contract's services on this node (for `/metrics`).
pub fn slots_of(s: &AppState) -> Vec<(u32, Service)> {
    s.meters.all()
}
