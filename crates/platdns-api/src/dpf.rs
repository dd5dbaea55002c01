//! The DPF-compatible tenant API (`/dpf/v1`): ping, jobs, contracts and zones
//! (read side). Paging (`offset`, `limit`), `type` (AND/OR) and the
//! `_keywords_<field>[]` filters work as the reference defines them, once, in
//! [`Listing`], for every list.

use crate::auth::{Tenant, ZoneRead, ZoneWrite};
use crate::json::{self, contract, zone};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub fn routes() -> Routes {
    Routes::new()
        .get("/ping", ping)
        .get("/jobs/{request_id}", job)
        .get("/contracts", list_contracts)
        .get("/contracts/count", count_contracts)
        .get("/contracts/{id}", get_contract)
        .patch("/contracts/{id}", patch_contract)
        .get("/contracts/{id}/zones", contract_zones)
        .get("/contracts/{id}/zones/count", count_contract_zones)
        .get("/zones", list_zones)
        .get("/zones/count", count_zones)
        .get("/zones/{id}", get_zone)
        .patch("/zones/{id}", patch_zone)
        .get("/zones/{id}/contract", zone_contract)
        .get("/zones/{id}/logs", logs(LogOf::Zone, false))
        .get("/zones/{id}/logs/count", logs(LogOf::Zone, true))
        .get("/contracts/{id}/logs", logs(LogOf::Contract, false))
        .get("/contracts/{id}/logs/count", logs(LogOf::Contract, true))
        .get("/lb_domains/{id}/logs", logs(LogOf::LbDomain, false))
        .get("/lb_domains/{id}/logs/count", logs(LogOf::LbDomain, true))
}

async fn ping(_t: Tenant) -> Json<Value> {
    Json(json!({"request_id": platdns_store::new_request_id()}))
}

async fn job(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let j = s.store.get_job(&id, Some(t.account_id())).await?;
    let mut v = json!({"request_id": j.request_id, "status": j.status});
    if let Some(u) = j.resources_url {
        v["resources_url"] = json!(u);
    }
    if let Some(e) = j.error_type {
        v["error_type"] = json!(e);
    }
    if let Some(m) = j.error_message {
        v["error_message"] = json!(m);
    }
    Ok(Json(v))
}

/// Paging and keyword filters of a DPF list request.
pub struct Listing {
    /// Parameters the endpoint allows besides paging and keywords.
    pub extra: Vec<(String, String)>,
    offset: usize,
    limit: usize,
    any: bool,
    /// (field, values): `_keywords_<field>[]=value`.
    keywords: Vec<(String, Vec<String>)>,
}

impl Listing {
    pub fn parse(query: Option<&str>) -> ApiResult<Listing> {
        Listing::parse_with(query, &[], Bounds::LISTS)
    }

    /// As [`Listing::parse`], also accepting the named parameters into
    /// `extra`, with the endpoint's paging bounds.
    pub fn parse_with(query: Option<&str>, allowed: &[&str], bounds: Bounds) -> ApiResult<Listing> {
        let mut l = Listing {
            extra: Vec::new(),
            offset: 0,
            limit: 100,
            any: false,
            keywords: Vec::new(),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = decode(k);
            let v = decode(v);
            match k.as_str() {
                "offset" => {
                    l.offset = v.parse().ok().filter(|o| *o <= bounds.max_offset).ok_or_else(|| {
                        ApiError::bad_request("invalid", "offset", format!("0 to {}", bounds.max_offset))
                    })?
                }
                "limit" => {
                    l.limit = v
                        .parse()
                        .ok()
                        .filter(|n| (1..=bounds.max_limit).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request("invalid", "limit", format!("1 to {}", bounds.max_limit))
                        })?
                }
                "type" => match v.as_str() {
                    "AND" => l.any = false,
                    "OR" => l.any = true,
                    _ => return Err(ApiError::bad_request("invalid", "type", "AND or OR")),
                },
                k if allowed.contains(&k) => l.extra.push((k.to_string(), v)),
                _ => {
                    let Some(field) = k.strip_prefix("_keywords_").and_then(|f| f.strip_suffix("[]")) else {
                        return Err(ApiError::bad_request("invalid", &k, "unknown query parameter"));
                    };
                    if v.chars().count() > 381 {
                        return Err(ApiError::bad_request("invalid", &k, "at most 381 characters"));
                    }
                    if let Err(expected) = keyword_value(field, &v) {
                        return Err(ApiError::bad_request("invalid", &k, expected));
                    }
                    match l.keywords.iter_mut().find(|(f, _)| f == field) {
                        Some((_, vals)) => vals.push(v),
                        None => l.keywords.push((field.to_string(), vec![v])),
                    }
                }
            }
        }
        Ok(l)
    }

    /// Whether any keyword filter applies (else paging can happen in SQL).
    /// The filters as the store runs them in SQL, when every field is one
    /// the store knows (`None`: filter in memory with [`Listing::apply`]).
    pub fn record_filter(&self) -> Option<platdns_store::RecordFilter> {
        let terms = self
            .keywords
            .iter()
            .map(|(field, values)| Some((platdns_store::RecordField::from_keyword(field)?, values.clone())))
            .collect::<Option<Vec<_>>>()?;
        Some(platdns_store::RecordFilter { any: self.any, terms })
    }

    pub fn offset(&self) -> usize {
        self.offset
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn matches(&self, item: &Value) -> bool {
        if self.keywords.is_empty() {
            return true;
        }
        let field_matches = |(field, values): &(String, Vec<String>)| {
            let text = |v: &Value| match v {
                Value::String(s) => s.to_lowercase(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            if field == "label" {
                let labels = item.get(HIDDEN_LABELS).and_then(Value::as_object);
                return values.iter().any(|v| labels.is_some_and(|l| label_matches(l, v)));
            }
            let hay: Vec<String> = if field == "full_text" {
                item.as_object()
                    .map(|o| {
                        o.iter()
                            .filter(|(k, _)| !k.starts_with('_'))
                            .map(|(_, v)| text(v))
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                item.get(field).map(text).into_iter().collect()
            };
            // Numbers (plan, state, favorite) match exactly; text by substring.
            values.iter().any(|v| {
                let v = v.to_lowercase();
                hay.iter().any(|h| {
                    if item.get(field).is_some_and(Value::is_number) {
                        *h == v
                    } else {
                        h.contains(&v)
                    }
                })
            })
        };
        if self.any {
            self.keywords.iter().any(field_matches)
        } else {
            self.keywords.iter().all(field_matches)
        }
    }

    /// Filters, then pages (and drops what was attached only to filter).
    pub fn apply(&self, items: Vec<Value>) -> Vec<Value> {
        items
            .into_iter()
            .filter(|i| self.matches(i))
            .skip(self.offset)
            .take(self.limit)
            .map(|mut i| {
                if let Some(o) = i.as_object_mut() {
                    o.remove(HIDDEN_LABELS);
                }
                i
            })
            .collect()
    }

    /// Whether a `_keywords_label[]` filter applies: the items must then
    /// carry their labels ([`Listing::attach_labels`]).
    pub fn wants_labels(&self) -> bool {
        self.keywords.iter().any(|(f, _)| f == "label")
    }

    /// Gives each (id, item) its labels to filter on, when a label filter
    /// applies; they never reach the answer.
    pub async fn attach_labels(
        &self,
        s: &AppState,
        of: platdns_store::LabelOf,
        items: Vec<(i64, Value)>,
    ) -> ApiResult<Vec<Value>> {
        if !self.wants_labels() {
            return Ok(items.into_iter().map(|(_, v)| v).collect());
        }
        let all = s.store.all_labels(of).await?;
        Ok(items
            .into_iter()
            .map(|(id, mut v)| {
                let labels = all.get(&id).cloned().unwrap_or_default();
                v[HIDDEN_LABELS] = serde_json::to_value(labels).expect("strings");
                v
            })
            .collect())
    }

    /// The answer of a list route: the page of `items`, or with `count`
    /// (the `/count` routes) how many pass the filters.
    pub fn answer(&self, items: Vec<Value>, count: bool) -> Value {
        if count {
            json::count(self.count(&items))
        } else {
            json::results(self.apply(items))
        }
    }

    pub fn count(&self, items: &[Value]) -> usize {
        items.iter().filter(|i| self.matches(i)).count()
    }

    /// As [`Listing::apply`] for items whose filters look at one member of
    /// them, such as the `new` record of a diff.
    pub fn apply_on(&self, items: Vec<Value>, member: &str) -> Vec<Value> {
        items
            .into_iter()
            .filter(|i| self.matches(&i[member]))
            .skip(self.offset)
            .take(self.limit)
            .collect()
    }

    pub fn count_on(&self, items: &[Value], member: &str) -> usize {
        items.iter().filter(|i| self.matches(&i[member])).count()
    }
}

/// Where an item carries its labels while a label filter looks at them.
const HIDDEN_LABELS: &str = "_labels";

/// DPF `_keywords_label[]` ("Key=Value", the reference says): `key=value`
/// matches a label with that key and that value, `key` (no `=`) a label
/// with that key whatever its value; both without regard to case (ours:
/// the reference gives the form only). The store runs the same rule in SQL
/// for records (`RecordField::Label`).
pub(crate) fn label_matches(labels: &serde_json::Map<String, Value>, pattern: &str) -> bool {
    let (key, value) = match pattern.split_once('=') {
        Some((k, v)) => (k, Some(v)),
        None => (pattern, None),
    };
    labels.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case(key)
            && value.is_none_or(|want| v.as_str().is_some_and(|v| v.to_lowercase() == want.to_lowercase()))
    })
}

/// Paging bounds of a list (the reference's `offset` / `limit` maxima).
#[derive(Clone, Copy)]
pub struct Bounds {
    pub max_offset: usize,
    pub max_limit: usize,
}

impl Bounds {
    /// `SearchOffset` / `SearchLimit`.
    pub const LISTS: Bounds = Bounds {
        max_offset: 10_000_000,
        max_limit: 10_000,
    };
    /// `SearchLogsOffset` / `SearchLogsLimit`.
    pub const LOGS: Bounds = Bounds {
        max_offset: 9_900,
        max_limit: 100,
    };
}

/// A keyword value of a typed field must be what the reference's schema for
/// that `_keywords_<field>[]` allows (free text is only bounded in length).
fn keyword_value(field: &str, v: &str) -> Result<(), &'static str> {
    let one_of = |allowed: &[&str], expected| if allowed.contains(&v) { Ok(()) } else { Err(expected) };
    match field {
        "favorite" | "plan" | "state" => one_of(&["1", "2"], "1 or 2"),
        "zone_proxy_enabled" => one_of(&["0", "1"], "0 or 1"),
        "ttl" if v.is_empty() => Ok(()),
        "ttl" => match v.parse::<i64>() {
            Ok(1..=2_147_483_647) => Ok(()),
            _ => Err("a TTL, 1 to 2147483647"),
        },
        "common_config_id" => match v.parse::<i64>() {
            Ok(1..) => Ok(()),
            _ => Err("an id, 1 or more"),
        },
        "status" => one_of(
            &["start", "success", "failure", "retry"],
            "start, success, failure or retry",
        ),
        "log_type" => one_of(
            &["service", "common_config", "notification", "record", "dnssec"],
            "a log type",
        ),
        "rrtype" => one_of(
            &[
                "A", "AAAA", "ANAME", "CAA", "CNAME", "DS", "HTTPS", "MX", "NAPTR", "NS", "PTR", "SOA", "SRV", "SVCB",
                "TLSA", "TXT",
            ],
            "a DPF record type",
        ),
        _ => Ok(()),
    }
}

pub(crate) fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn tenant_contracts(s: &AppState, t: &Tenant, l: &Listing) -> ApiResult<Vec<Value>> {
    let all = s.store.list_contracts(Some(t.account_id())).await?;
    let items = all
        .iter()
        .filter(|c| t.may_see_contract(c.id))
        .map(|c| (c.id, contract(c)))
        .collect();
    l.attach_labels(s, platdns_store::LabelOf::Contract, items).await
}

async fn list_contracts(State(s): State<AppState>, t: Tenant, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::results(l.apply(tenant_contracts(&s, &t, &l).await?))))
}

async fn count_contracts(State(s): State<AppState>, t: Tenant, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::count(l.count(&tenant_contracts(&s, &t, &l).await?))))
}

pub(crate) async fn find_contract(s: &AppState, t: &Tenant, id: &str) -> ApiResult<platdns_store::Contract> {
    let c = s.store.find_contract(id, Some(t.account_id())).await?;
    if !t.may_see_contract(c.id) {
        return Err(ApiError::not_found());
    }
    Ok(c)
}

async fn get_contract(State(s): State<AppState>, t: Tenant, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    Ok(Json(json::result(contract(&find_contract(&s, &t, &id).await?))))
}

async fn tenant_zones(s: &AppState, t: &Tenant, contract_id: Option<i64>, l: &Listing) -> ApiResult<Vec<Value>> {
    let all = s.store.list_zones(Some(t.account_id()), contract_id).await?;
    let items = all
        .iter()
        .filter(|z| t.may_see_contract(z.contract_id))
        .map(|z| (z.id, zone(z)))
        .collect();
    l.attach_labels(s, platdns_store::LabelOf::Zone, items).await
}

async fn contract_zones(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    let c = find_contract(&s, &t, &id).await?;
    Ok(Json(json::results(
        l.apply(tenant_zones(&s, &t, Some(c.id), &l).await?),
    )))
}

async fn count_contract_zones(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    let c = find_contract(&s, &t, &id).await?;
    Ok(Json(json::count(l.count(&tenant_zones(&s, &t, Some(c.id), &l).await?))))
}

async fn list_zones(State(s): State<AppState>, t: Tenant, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::results(l.apply(tenant_zones(&s, &t, None, &l).await?))))
}

async fn count_zones(State(s): State<AppState>, t: Tenant, RawQuery(q): RawQuery) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::count(l.count(&tenant_zones(&s, &t, None, &l).await?))))
}

pub(crate) async fn find_zone(s: &AppState, t: &Tenant, id: &str) -> ApiResult<platdns_store::Zone> {
    let z = s.store.find_zone(id, Some(t.account_id())).await?;
    if !t.may_see_contract(z.contract_id) {
        return Err(ApiError::not_found());
    }
    Ok(z)
}

/// Our extension: the applied version as an `ETag`, for `If-Match` on commits.
async fn get_zone(ZoneRead(_, z): ZoneRead) -> ApiResult<([(axum::http::HeaderName, String); 1], Json<Value>)> {
    Ok((
        [(axum::http::header::ETAG, format!("\"{}\"", z.version))],
        Json(json::result(zone(&z))),
    ))
}

async fn zone_contract(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    Ok(Json(json::result(contract(
        &s.store.get_contract(z.contract_id).await?,
    ))))
}

#[cfg(test)]
mod tests {

    #[test]
    fn label_keywords_are_key_equals_value_or_a_key() {
        let labels = serde_json::json!({"env": "Prod", "team": "東京"});
        let labels = labels.as_object().unwrap();
        for (pattern, want) in [
            ("env=prod", true),
            ("ENV=PROD", true),
            ("env", true),
            ("team=東京", true),
            ("env=pro", false),
            ("prod", false),
            ("en=prod", false),
            ("=prod", false),
        ] {
            assert_eq!(label_matches(labels, pattern), want, "{pattern}");
        }
    }
    use super::*;

    #[test]
    fn listing_filters_and_pages_as_dpf_defines() {
        let items: Vec<Value> = (0..5)
            .map(|i| json!({"id": format!("f{i}"), "plan": 1 + i % 2, "description": if i < 2 { "tokyo" } else { "osaka" }}))
            .collect();
        let l = Listing::parse(Some("_keywords_plan%5B%5D=2")).unwrap();
        assert_eq!(l.count(&items), 2);
        let l = Listing::parse(Some("_keywords_plan[]=2&_keywords_description[]=TOK")).unwrap();
        assert_eq!(l.count(&items), 1);
        let l = Listing::parse(Some("type=OR&_keywords_plan[]=2&_keywords_description[]=tok")).unwrap();
        assert_eq!(l.count(&items), 3);
        let l = Listing::parse(Some("offset=1&limit=2")).unwrap();
        assert_eq!(
            l.apply(items.clone())
                .iter()
                .map(|v| v["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>(),
            vec!["f1", "f2"]
        );
        let l = Listing::parse(Some("_keywords_full_text[]=osaka")).unwrap();
        assert_eq!(l.count(&items), 3);
        assert!(Listing::parse(Some("limit=0")).is_err());
        assert!(Listing::parse(Some("limit=10001")).is_err());
        assert!(Listing::parse(Some("type=XOR")).is_err());
        assert!(Listing::parse(Some("bogus=1")).is_err());
        // Typed keyword fields take only what the reference's schema allows.
        assert!(Listing::parse(Some("_keywords_plan[]=3")).is_err());
        assert!(Listing::parse(Some("_keywords_ttl[]=x")).is_err());
        assert!(Listing::parse(Some("_keywords_ttl[]=300")).is_ok());
        assert!(Listing::parse(Some("_keywords_status[]=done")).is_err());
        assert!(Listing::parse_with(Some("offset=9901"), &[], Bounds::LOGS).is_err());
        assert!(Listing::parse_with(Some("limit=101"), &[], Bounds::LOGS).is_err());
    }
}

/// DPF `PatchContract` / `PatchZone`: description and favorite.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchMeta {
    #[serde(default, deserialize_with = "crate::json::non_null")]
    description: Option<crate::json::Description>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    favorite: Option<i64>,
}

/// What an operation log entry says (DPF `logs`).
pub(crate) struct Op<'a> {
    pub contract_id: i64,
    pub zone_id: Option<i64>,
    /// Operations on an LB domain go to its log, not the contract's.
    pub lb_domain_id: Option<i64>,
    pub log_type: &'a str,
    pub operation: &'a str,
    pub target: String,
}

impl<'a> Op<'a> {
    /// An operation on a zone, in the zone's log.
    pub fn zone(z: &platdns_store::Zone, log_type: &'a str, operation: &'a str, target: String) -> Op<'a> {
        Op {
            contract_id: z.contract_id,
            zone_id: Some(z.id),
            lb_domain_id: None,
            log_type,
            operation,
            target,
        }
    }
}

/// The 202 answer of a finished job, with its operation logged under the
/// job's request id: a write done within the request (a staged edit, one
/// row), whose job is already SUCCESSFUL when the client first asks.
pub(crate) async fn job_done(
    s: &AppState,
    t: &Tenant,
    resources: String,
    op: Op<'_>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let now = s.clock.now();
    let id = s.store.create_job(Some(t.account_id()), Some(&resources), now).await?;
    s.store.finish_job(&id, Ok(resources), now).await?;
    log_op(s, t, &op, &id, "success").await?;
    Ok(accepted(&id))
}

fn accepted(id: &str) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({"request_id": id, "jobs_url": format!("/dpf/v1/jobs/{id}")})),
    )
}

async fn log_op(s: &AppState, t: &Tenant, op: &Op<'_>, request_id: &str, status: &str) -> ApiResult<()> {
    let who = format!("token#{}", t.0.token_id);
    s.store
        .log_operation(
            op.contract_id,
            op.zone_id,
            op.lb_domain_id,
            op.log_type,
            Some(&who),
            op.operation,
            &op.target,
            request_id,
            status,
            s.clock.now(),
        )
        .await?;
    Ok(())
}

/// `?wait=true` (our extension): answer only when the job has finished,
/// with its error as the answer when it failed. Without it a queued write
/// answers 202 at once, as DPF's asynchronous API does (§2.4).
pub(crate) struct Wait(pub bool);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Wait {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Wait, Self::Rejection> {
        // The query's values are checked against the OpenAPI (`wait` is a
        // boolean) before any handler runs.
        let wait = parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "wait=true"));
        Ok(Wait(wait))
    }
}

/// A write that runs as a real job (issue 16): the job is created RUNNING,
/// `work` is queued on the control plane's [`platdns_control::JobQueue`]
/// (one subject's jobs in order, contracts taking turns) and the 202 goes
/// out at once; the job ends SUCCESSFUL with `resources` or FAILED with
/// the error's type and message, and its operation is logged either way.
pub(crate) async fn queue_job<W, F>(
    s: &AppState,
    t: &Tenant,
    subject: i64,
    resources: String,
    op: Op<'static>,
    wait: Wait,
    work: W,
) -> ApiResult<(StatusCode, Json<Value>)>
where
    W: FnOnce(String) -> F,
    F: std::future::Future<Output = ApiResult<()>> + Send + 'static,
{
    let id = s
        .store
        .create_job(Some(t.account_id()), Some(&resources), s.clock.now())
        .await?;
    // The work knows its job's request id (a commit names it in its history).
    let work = work(id.clone());
    let (done, finished) = tokio::sync::oneshot::channel();
    let (st, tenant, request_id) = (s.clone(), t.clone(), id.clone());
    let key = platdns_control::JobKey {
        contract: op.contract_id,
        subject,
    };
    s.jobs.submit(key, async move {
        // The work has a task of its own so that a panic in it is caught
        // here and fails the job instead of leaving it RUNNING.
        let outcome = match tokio::spawn(work).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::error!(request_id = %request_id, error = %e, "a job panicked");
                Err(ApiError::internal())
            }
        };
        finish(&st, &tenant, &op, &request_id, &resources, &outcome).await;
        // Nobody waits unless the request asked to.
        let _ = done.send(outcome);
    });
    if wait.0 {
        finished.await.map_err(|_| ApiError::internal())??;
    }
    Ok(accepted(&id))
}

/// Records a job's outcome: its row and its log entry, retried while the
/// store is unreachable (a job left RUNNING would be polled forever).
async fn finish(s: &AppState, t: &Tenant, op: &Op<'_>, request_id: &str, resources: &str, outcome: &ApiResult<()>) {
    let (stored, status) = match outcome {
        Ok(()) => (Ok(resources.to_string()), "success"),
        Err(e) => {
            tracing::info!(request_id, operation = op.operation, error = %e, "a job failed");
            // DPF's job body has a type and a message: the message names
            // the attributes as the error body's `errors` would.
            let mut message = e.message.clone();
            for (code, attribute) in &e.details {
                message.push_str(&format!(" ({code}: {attribute})"));
            }
            (Err((e.error_type.to_string(), message)), "failure")
        }
    };
    let mut delay = std::time::Duration::from_millis(100);
    let mut logged = false;
    for attempt in 1..=8 {
        // The log entry first: once the job reads finished, its entry is
        // there.
        let wrote = async {
            if !logged {
                log_op(s, t, op, request_id, status).await?;
                logged = true;
            }
            s.store.finish_job(request_id, stored.clone(), s.clock.now()).await?;
            Ok::<(), ApiError>(())
        };
        match wrote.await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(request_id, attempt, error = %e, "could not record a job's outcome");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
        }
    }
}

async fn patch_contract(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    crate::json::Body(b): crate::json::Body<PatchMeta>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    let operation = if b.favorite.is_some() {
        "update_contract_favorite"
    } else {
        "update_contract_description"
    };
    let update = platdns_store::ContractUpdate {
        description: b.description.map(|d| d.0),
        favorite: b.favorite,
        ..Default::default()
    };
    s.store.update_contract(c.id, &update, &s.terms, s.clock.now()).await?;
    let op = Op {
        contract_id: c.id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation,
        target: c.service_code.clone(),
    };
    job_done(&s, &t, format!("/dpf/v1/contracts/{id}"), op).await
}

async fn patch_zone(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    crate::json::Body(b): crate::json::Body<PatchMeta>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let operation = if b.favorite.is_some() {
        "update_zone_favorite"
    } else {
        "update_zone_description"
    };
    s.store
        .update_zone_meta(z.id, b.description.as_deref(), b.favorite)
        .await?;
    let op = Op::zone(&z, "service", operation, format!("{}.", z.name));
    job_done(&s, &t, format!("/dpf/v1/zones/{id}"), op).await
}

/// DPF logs: `start_date`/`end_date` (full dates, inclusive) in `time_zone`
/// (a numeric offset, default +00:00), `order` ASC (default) or DESC; at most
/// the last 90 days are kept (R11.4).
async fn read_logs(s: &AppState, scope: platdns_store::LogScope, q: Option<&str>) -> ApiResult<(Listing, Vec<Value>)> {
    let l = Listing::parse_with(q, &["start_date", "end_date", "time_zone", "order"], Bounds::LOGS)?;
    let get = |k: &str| {
        l.extra
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let offset: jiff::tz::Offset = match get("time_zone") {
        None => jiff::tz::Offset::UTC,
        Some(z) => parse_offset(z)
            .ok_or_else(|| ApiError::bad_request("invalid", "time_zone", "a numeric offset like +09:00"))?,
    };
    let tz = jiff::tz::TimeZone::fixed(offset);
    let date = |k: &str| -> ApiResult<Option<jiff::civil::Date>> {
        get(k)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::bad_request("invalid", k, "a date like 2026-11-24"))
            })
            .transpose()
    };
    let now = s.clock.now();
    let from = match date("start_date")? {
        Some(d) => d
            .to_zoned(tz.clone())
            .map_err(|_| ApiError::bad_request("invalid", "start_date", "out of range"))?
            .timestamp(),
        None => now - jiff::SignedDuration::from_hours(24 * 90),
    };
    let to = match date("end_date")? {
        Some(d) => d
            .tomorrow()
            .and_then(|d| d.to_zoned(tz.clone()))
            .map_err(|_| ApiError::bad_request("invalid", "end_date", "out of range"))?
            .timestamp(),
        None => now + jiff::SignedDuration::from_secs(1),
    };
    let ascending = match get("order") {
        None | Some("ASC") => true,
        Some("DESC") => false,
        Some(_) => return Err(ApiError::bad_request("invalid", "order", "ASC or DESC")),
    };
    let logs = s.store.logs(scope, from, to, ascending).await?;
    let items = logs
        .iter()
        .map(|g| {
            json!({
                "time": g.at.to_zoned(tz.clone()).strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string(),
                "log_type": g.log_type,
                "operator": g.operator,
                "operation": g.operation,
                "target": g.target,
                "request_id": g.request_id,
                "status": g.status,
            })
        })
        .collect();
    Ok((l, items))
}

fn parse_offset(z: &str) -> Option<jiff::tz::Offset> {
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, &z[1..]),
        b'-' => (-1, &z[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

/// Whose log a route reads.
#[derive(Clone, Copy)]
enum LogOf {
    Zone,
    Contract,
    LbDomain,
}

/// A boxed handler future, for routes built by a function.
pub(crate) type JsonFuture = std::pin::Pin<Box<dyn std::future::Future<Output = ApiResult<Json<Value>>> + Send>>;

/// The handler for one log list (or its `/count`), so the four routes share
/// one body.
fn logs(
    of: LogOf,
    count: bool,
) -> impl Fn(State<AppState>, Tenant, Path<String>, RawQuery) -> JsonFuture + Clone + Send + 'static {
    move |State(s), t, Path(id), RawQuery(q)| {
        Box::pin(async move {
            let scope = match of {
                LogOf::Zone => platdns_store::LogScope::Zone(find_zone(&s, &t, &id).await?.id),
                LogOf::Contract => platdns_store::LogScope::Contract(find_contract(&s, &t, &id).await?.id),
                LogOf::LbDomain => platdns_store::LogScope::LbDomain(crate::lb::find_lb(&s, &t, &id).await?.id),
            };
            let (l, items) = read_logs(&s, scope, q.as_deref()).await?;
            Ok(Json(l.answer(items, count)))
        })
    }
}
