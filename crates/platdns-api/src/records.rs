//! DPF records, their staged changes, commits and histories:
//! `/zones/{id}/records...`, `/zones/{id}/changes`, `/zones/{id}/zone_histories...`.
//! Edits are staged and reach DNS only on commit (DESIGN §3). Each write
//! answers 202 with `jobs_url`. A one-record edit is done before the answer
//! (its job is already finished); commits, `atomic_changes` and whole-set
//! `PUT records` are checked first (a 400 names the attribute) and then run
//! as queued jobs (issue 16): RUNNING until done, `?wait=true` to answer
//! only then.

use crate::auth::{Tenant, ZoneRead, ZoneWrite};
use crate::dpf::{find_zone, job_done, queue_job, Bounds, JsonFuture, Listing, Op, Wait};
use crate::json::{self, Body};
use crate::publish::zone_text;
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use platdns_control::commit::commit_zone;
use platdns_store::HistoryText;
use platdns_store::{RecordRow, StagedChange};
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::Name;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub fn routes() -> Routes {
    Routes::new()
        .get("/zones/{id}/records", listed(View::Staged, false))
        .post("/zones/{id}/records", post_record)
        .put("/zones/{id}/records", put_records)
        .get("/zones/{id}/records/count", listed(View::Staged, true))
        .get("/zones/{id}/records/currents", listed(View::Applied, false))
        .get("/zones/{id}/records/currents/count", listed(View::Applied, true))
        .get("/zones/{id}/records/diffs", listed(View::Diffs, false))
        .get("/zones/{id}/records/diffs/count", listed(View::Diffs, true))
        .get("/zones/{id}/records/{rid}", get_record)
        .patch("/zones/{id}/records/{rid}", patch_record)
        .delete("/zones/{id}/records/{rid}", delete_record)
        .delete("/zones/{id}/records/{rid}/changes", discard_record)
        .patch("/zones/{id}/changes", commit)
        .delete("/zones/{id}/changes", discard_all)
        .patch("/zones/{id}/atomic_changes", atomic_changes)
        .get("/zones/{id}/default_ttl", get_default_ttl)
        .patch("/zones/{id}/default_ttl", patch_default_ttl)
        .get("/zones/{id}/default_ttl/diffs", default_ttl_diffs)
        .delete("/zones/{id}/default_ttl/changes", discard_default_ttl)
        .get("/zones/{id}/zone_histories", histories)
        .get("/zones/{id}/zone_histories/count", count_histories)
        .get("/zones/{id}/zone_histories/{hid}/text", history_text)
}

fn record(r: &RecordRow) -> Value {
    json!({
        "id": r.public_id,
        "name": r.name,
        "ttl": r.ttl,
        "rrtype": r.rrtype,
        "rdata": r.rdata.iter().map(|v| json!({"value": v})).collect::<Vec<_>>(),
        "labels": r.labels,
        "state": r.state as i64,
        "description": r.description,
        "operator": r.operator,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rdata {
    value: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostRecord {
    name: String,
    rrtype: String,
    rdata: Vec<Rdata>,
    ttl: Option<i64>,
    #[serde(default)]
    description: json::Description,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    labels: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchRecord {
    ttl: Option<i64>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    rdata: Option<Vec<Rdata>>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    description: Option<json::Description>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    labels: Option<Map<String, Value>>,
}

/// Checks a record the way a zone file line would be checked, and returns
/// its owner as DPF writes it (absolute, lower-case, trailing dot).
/// The most octets one RRset may take in an answer: a DNS message's 65,535
/// less room for the header, the question, an OPT record and a signature.
const MAX_RRSET_WIRE: usize = 65_535 - 2_048;

fn check_record(
    limits: &crate::ZoneLimits,
    zone_name: &str,
    name: &str,
    rrtype: &str,
    ttl: Option<i64>,
    rdata: &[String],
) -> ApiResult<(String, String)> {
    if rdata.len() > limits.rdata_per_rrset {
        return Err(ApiError::bad_request(
            "too_many",
            "rdata",
            format!("at most {} values in one record", limits.rdata_per_rrset),
        ));
    }
    let apex = Name::from_text(&format!("{zone_name}."), None)
        .map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    let owner =
        Name::from_text(name, Some(&apex)).map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    if !owner.is_subdomain_of(&apex) {
        return Err(ApiError::bad_request(
            "invalid",
            "name",
            format!("{owner} is outside the zone {apex}"),
        ));
    }
    let rtype = platdns_zone::Rtype::from_text(rrtype)
        .ok_or_else(|| ApiError::bad_request("invalid", "rrtype", format!("unknown type {rrtype}")))?;
    if rtype == platdns_zone::Rtype::SOA || rtype.is_meta() {
        return Err(ApiError::bad_request(
            "invalid",
            "rrtype",
            format!("{rrtype} cannot be edited"),
        ));
    }
    if owner.eq_ignore_case(&apex) && rtype == platdns_zone::Rtype::NS {
        return Err(ApiError::bad_request(
            "invalid",
            "rrtype",
            "the apex NS belongs to the platform",
        ));
    }
    if let Some(t) = ttl {
        if !(1..=2_147_483_647).contains(&t) {
            return Err(ApiError::bad_request("invalid", "ttl", "1 to 2147483647"));
        }
    }
    if rdata.is_empty() {
        return Err(ApiError::bad_request("invalid", "rdata", "at least one value"));
    }
    // What the RRset takes in an answer: each value's rdata plus a
    // compressed owner, type, class, TTL and length (12 octets).
    let mut wire = 0usize;
    for v in rdata {
        let line = format!("{} 300 IN {rtype} {v}\n", owner);
        let p = parse_str(&line, "record", Some(&apex), &mut NoIncludes);
        if let Some(e) = p.errors.first() {
            return Err(ApiError::bad_request(
                "invalid",
                "rdata",
                format!("{v:?}: {}", e.message),
            ));
        }
        wire += p.records.iter().map(|r| r.rdata.len() + 12).sum::<usize>();
    }
    // RFC 1035 §4.2.2: one DNS message (TCP) holds at most 65,535 octets,
    // and an RRset is answered whole or not at all (RFC 2181 §5); the
    // header, question, OPT and signatures need room too. A larger RRset
    // could be committed but never served.
    if wire > MAX_RRSET_WIRE {
        return Err(ApiError::bad_request(
            "too_many",
            "rdata",
            format!("the values take {wire} octets in an answer; at most {MAX_RRSET_WIRE} fit in a DNS message"),
        ));
    }
    Ok((owner.to_lowercase().to_string(), rtype.to_string()))
}

/// Which records a list shows.
#[derive(Clone, Copy)]
enum View {
    /// `/records`: with staged edits.
    Staged,
    /// `/records/currents`: what DNS serves.
    Applied,
    /// `/records/diffs`: pending edits, with before-update states.
    Diffs,
}

/// The handler for one records list (or its `/count`), so the six routes
/// share one body.
fn listed(
    view: View,
    count: bool,
) -> impl Fn(State<AppState>, Tenant, Path<String>, RawQuery) -> JsonFuture + Clone + Send + 'static {
    move |State(s), t, Path(id), RawQuery(q)| {
        Box::pin(async move {
            let l = Listing::parse(q.as_deref())?;
            let z = find_zone(&s, &t, &id).await?;
            // Page, count and filter in SQL: one page of a large zone costs
            // one page, not the zone.
            if let (Some(filter), false) = (l.record_filter(), matches!(view, View::Diffs)) {
                let applied = matches!(view, View::Applied);
                if count {
                    return Ok(Json(json::count(
                        s.store.count_records(z.id, applied, &filter).await? as usize,
                    )));
                }
                let rows = s
                    .store
                    .list_records_page(z.id, applied, &filter, l.offset() as i64, l.limit() as i64)
                    .await?;
                return Ok(Json(json::results(rows.iter().map(record).collect())));
            }
            if let View::Diffs = view {
                // DPF diffs: {"new": staged, "old": before}; filters look at `new`.
                let items: Vec<Value> = s
                    .store
                    .record_diffs(z.id)
                    .await?
                    .iter()
                    .map(|(new, old)| json!({"new": record(new), "old": record(old)}))
                    .collect();
                return Ok(Json(if count {
                    json::count(l.count_on(&items, "new"))
                } else {
                    json::results(l.apply_on(items, "new"))
                }));
            }
            let rows = s.store.list_records(z.id, matches!(view, View::Applied)).await?;
            let items: Vec<Value> = rows.iter().map(record).collect();
            Ok(Json(l.answer(items, count)))
        })
    }
}

async fn get_record(
    State(s): State<AppState>,
    ZoneRead(_, z): ZoneRead,
    Path((_, rid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(json::result(record(&s.store.find_record(z.id, &rid).await?))))
}

fn operator_name(t: &Tenant) -> String {
    format!("token#{}", t.0.token_id)
}

async fn post_record(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    Body(b): Body<PostRecord>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let rdata: Vec<String> = b.rdata.into_iter().map(|r| r.value).collect();
    let (name, rrtype) = check_record(&s.limits, &z.name, &b.name, &b.rrtype, b.ttl, &rdata)?;
    let change = StagedChange::Add {
        name,
        rrtype,
        ttl: b.ttl,
        rdata,
        description: b.description.0,
        labels: crate::labels::check(b.labels.unwrap_or_default())?,
    };
    let ids = s
        .store
        .stage(z.id, &[change], Some(&operator_name(&t)), s.clock.now())
        .await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/records/{}", ids[0]),
        Op::zone(&z, "record", "adding_record", format!("{}.", z.name)),
    )
    .await
}

async fn patch_record(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path((id, rid)): Path<(String, String)>,
    Body(b): Body<PatchRecord>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let cur = s.store.find_record(z.id, &rid).await?;
    let rdata: Vec<String> = b
        .rdata
        .map(|v| v.into_iter().map(|r| r.value).collect())
        .unwrap_or(cur.rdata.clone());
    let ttl = b.ttl.or(cur.ttl);
    check_record(&s.limits, &z.name, &cur.name, &cur.rrtype, ttl, &rdata)?;
    let change = StagedChange::Update {
        public_id: rid.clone(),
        ttl,
        rdata,
        description: b.description.map(|d| d.0),
        labels: b.labels.map(crate::labels::check).transpose()?,
    };
    s.store
        .stage(z.id, &[change], Some(&operator_name(&t)), s.clock.now())
        .await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/records/{rid}"),
        Op::zone(&z, "record", "updating_record", cur.name.clone()),
    )
    .await
}

async fn delete_record(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path((id, rid)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let rid_target = s.store.find_record(z.id, &rid).await?.name;
    s.store
        .stage(
            z.id,
            &[StagedChange::Delete { public_id: rid }],
            Some(&operator_name(&t)),
            s.clock.now(),
        )
        .await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/records"),
        Op::zone(&z, "record", "deleting_record", rid_target),
    )
    .await
}

async fn discard_record(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path((id, rid)): Path<(String, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.store.discard(z.id, Some(&rid)).await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/records/{rid}"),
        Op::zone(&z, "record", "dismiss_record_change", rid.clone()),
    )
    .await
}

async fn discard_all(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.store.discard(z.id, None).await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/records"),
        Op::zone(&z, "record", "dismiss_zone_edits", format!("{}.", z.name)),
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Commit {
    #[serde(default)]
    description: json::Description,
}

/// `PATCH /zones/{id}/changes`: applies every staged edit atomically, bumps
/// the SOA serial, records the history and publishes the zone to DNS, as a
/// job (202 at once; `?wait=true` answers when it has finished). The job
/// commits what is staged when it runs. With `If-Match: <version>` (our
/// extension) it fails with 412 if another commit came first.
async fn commit(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    headers: HeaderMap,
    wait: Wait,
    Body(b): Body<Commit>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let if_version = if_match_of(&headers, &z)?;
    let op = Op::zone(&z, "record", "commit_zone", format!("{}.", z.name));
    let (st, tenant, zone) = (s.clone(), t.clone(), z.clone());
    let operator = operator_name(&tenant);
    let work = move |job: String| async move {
        Ok(commit_zone(&st, &operator, &zone, &b.description.0, if_version, None, Some(&job)).await?)
    };
    queue_job(&s, &t, z.id, format!("/dpf/v1/zones/{id}"), op, wait, work).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AtomicChanges {
    records: Vec<AtomicRecord>,
    #[serde(default)]
    description: json::Description,
    /// The platform serves its own SOA and apex NS; SOA and apex NS records
    /// in `records` are not imported whatever these say.
    #[allow(dead_code)]
    overwrite_soa: Option<bool>,
    #[allow(dead_code)]
    overwrite_zone_apex_ns: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AtomicRecord {
    name: String,
    ttl: Option<i64>,
    rrtype: String,
    rdata: Vec<Rdata>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    labels: Option<Map<String, Value>>,
    #[serde(default)]
    description: json::Description,
}

/// Checks a whole record set (`atomic_changes`, `PUT records`) and turns it
/// into store records. SOA and apex NS are the platform's and are left out
/// whatever `overwrite_soa` / `overwrite_zone_apex_ns` say; an error names
/// the record by index (`records[3].rdata`).
fn whole_set(
    limits: &crate::ZoneLimits,
    z: &platdns_store::Zone,
    set: Vec<AtomicRecord>,
) -> ApiResult<Vec<platdns_store::NewRecord>> {
    if set.is_empty() {
        return Err(ApiError::bad_request("invalid", "records", "at least one record"));
    }
    if set.len() > limits.records_per_zone {
        return Err(ApiError::bad_request(
            "too_many",
            "records",
            format!("at most {} records in a zone", limits.records_per_zone),
        ));
    }
    let mut records = Vec::with_capacity(set.len());
    let apex = format!("{}.", z.name);
    for (i, r) in set.into_iter().enumerate() {
        let rdata: Vec<String> = r.rdata.into_iter().map(|v| v.value).collect();
        let is_apex = r.name.trim_end_matches('.').eq_ignore_ascii_case(&z.name) || r.name == "@" || r.name == apex;
        if r.rrtype.eq_ignore_ascii_case("SOA") || (is_apex && r.rrtype.eq_ignore_ascii_case("NS")) {
            continue;
        }
        let (name, rrtype) = check_record(limits, &z.name, &r.name, &r.rrtype, r.ttl, &rdata).map_err(|mut e| {
            e.details = e
                .details
                .into_iter()
                .map(|(c, a)| (c, format!("records[{i}].{a}")))
                .collect();
            e
        })?;
        let labels = crate::labels::check(r.labels.unwrap_or_default()).map_err(|mut e| {
            e.details = vec![(e.details[0].0.clone(), format!("records[{i}].labels"))];
            e
        })?;
        records.push(platdns_store::NewRecord {
            name,
            rrtype,
            ttl: r.ttl,
            rdata,
            description: r.description.0,
            labels,
        });
    }
    Ok(records)
}

/// `PATCH /zones/{id}/atomic_changes`: the zone's records become exactly the
/// given set, committed in one step (staged edits are dropped). The set is
/// checked before the 202; compiling, signing and writing it is the job.
async fn atomic_changes(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    headers: HeaderMap,
    wait: Wait,
    Body(b): Body<AtomicChanges>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let if_version = if_match_of(&headers, &z)?;
    let (st, limits, zone) = (s.clone(), s.limits, z.clone());
    // Checking 100,000 records is CPU work: off the async workers.
    let records = tokio::task::spawn_blocking(move || whole_set(&limits, &zone, b.records))
        .await
        .map_err(|_| ApiError::internal())??;
    let op = Op::zone(&z, "record", "bulk_update_records", format!("{}.", z.name));
    let (tenant, zone) = (t.clone(), z.clone());
    let operator = operator_name(&tenant);
    let work = move |job: String| async move {
        Ok(commit_zone(
            &st,
            &operator,
            &zone,
            &b.description.0,
            if_version,
            Some(&records),
            Some(&job),
        )
        .await?)
    };
    queue_job(&s, &t, z.id, format!("/dpf/v1/zones/{id}"), op, wait, work).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutRecords {
    records: Vec<AtomicRecord>,
    /// As in `atomic_changes`: the platform's SOA and apex NS stay.
    #[allow(dead_code)]
    overwrite_soa: Option<bool>,
    #[allow(dead_code)]
    overwrite_zone_apex_ns: Option<bool>,
}

/// `PUT /zones/{id}/records`: stages the zone's records to become exactly the
/// given set at the next commit (DPF: not served until `PATCH changes`), as
/// a job after the set is checked.
async fn put_records(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    wait: Wait,
    Body(b): Body<PutRecords>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (st, limits, zone) = (s.clone(), s.limits, z.clone());
    let records = tokio::task::spawn_blocking(move || whole_set(&limits, &zone, b.records))
        .await
        .map_err(|_| ApiError::internal())??;
    let op = Op::zone(&z, "record", "bulk_update_records", format!("{}.", z.name));
    let (operator, zone_id) = (operator_name(&t), z.id);
    let work = move |_job: String| async move {
        st.store
            .stage_replacement(zone_id, &records, Some(&operator), st.clock.now())
            .await?;
        Ok(())
    };
    queue_job(&s, &t, z.id, format!("/dpf/v1/zones/{id}/records"), op, wait, work).await
}

/// `If-Match` (our extension): the version a commit must start from. A
/// version already passed is refused with 412 before the job is queued; the
/// job checks again when it writes (another commit may come in between).
fn if_match_of(headers: &HeaderMap, z: &platdns_store::Zone) -> ApiResult<Option<i64>> {
    let wanted = if_match(headers)?;
    match wanted {
        Some(v) if v != z.version => {
            Err(platdns_control::ControlError::Conflict(format!("zone is at version {}", z.version)).into())
        }
        _ => Ok(wanted),
    }
}

fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    match headers.get(axum::http::header::IF_MATCH) {
        Some(v) => Ok(Some(
            v.to_str()
                .ok()
                .map(|v| v.trim().trim_matches('"'))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| ApiError::bad_request("invalid", "If-Match", "a zone version"))?,
        )),
        None => Ok(None),
    }
}

async fn histories_of(s: &AppState, t: &Tenant, id: &str) -> ApiResult<(i64, Vec<Value>)> {
    let z = find_zone(s, t, id).await?;
    let h = s.store.zone_histories(z.id).await?;
    Ok((z.id, h.iter().map(|h| json!({"id": h.id, "committed_at": json::time(h.committed_at), "description": h.description, "operator": h.operator})).collect()))
}

async fn histories(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse_with(q.as_deref(), &["order"], Bounds::LISTS)?;
    let mut items = histories_of(&s, &t, &id).await?.1;
    match l
        .extra
        .iter()
        .rev()
        .find(|(k, _)| k == "order")
        .map(|(_, v)| v.as_str())
    {
        None | Some("ASC") => {}
        Some("DESC") => items.reverse(),
        Some(_) => return Err(ApiError::bad_request("invalid", "order", "ASC or DESC")),
    }
    Ok(Json(json::results(l.apply(items))))
}

async fn count_histories(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    Ok(Json(json::count(l.count(&histories_of(&s, &t, &id).await?.1))))
}

async fn history_text(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, hid)): Path<(String, i64)>,
) -> ApiResult<Json<Value>> {
    let (zone_id, all) = histories_of(&s, &t, &id).await?;
    let mut h = all
        .into_iter()
        .find(|h| h["id"] == hid)
        .ok_or_else(ApiError::not_found)?;
    let text = match s.store.zone_history_text(zone_id, hid).await? {
        HistoryText::Text(t) => t,
        HistoryText::Records {
            serial,
            default_ttl,
            records,
        } => {
            let z = s.store.get_zone(zone_id).await?;
            zone_text(
                &platdns_store::Zone { default_ttl, ..z },
                &records,
                serial,
                &s.zone_defaults,
            )
        }
    };
    h["text"] = json!(text);
    Ok(Json(json::result(h)))
}

/// DPF default TTL: staged like records (state 3 while staged), applied by
/// the next commit.
async fn get_default_ttl(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let (applied, staged) = s.store.default_ttl(z.id).await?;
    let v = match staged {
        Some(v) => json!({"value": v, "state": 3, "operator": null}),
        None => json!({"value": applied, "state": 0, "operator": null}),
    };
    Ok(Json(json::result(v)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefaultTtl {
    value: i64,
}

async fn patch_default_ttl(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    Body(b): Body<DefaultTtl>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.store.stage_default_ttl(z.id, Some(b.value)).await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/default_ttl"),
        Op::zone(&z, "record", "updating_default_ttl", format!("{}.", z.name)),
    )
    .await
}

async fn default_ttl_diffs(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let (applied, staged) = s.store.default_ttl(z.id).await?;
    let v = staged
        .map(|n| vec![json!({"new": {"value": n, "state": 3, "operator": null}, "old": {"value": applied, "state": 5, "operator": null}})])
        .unwrap_or_default();
    Ok(Json(json::results(v)))
}

async fn discard_default_ttl(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    s.store.stage_default_ttl(z.id, None).await?;
    job_done(
        &s,
        &t,
        format!("/dpf/v1/zones/{id}/default_ttl"),
        Op::zone(&z, "record", "dismiss_default_ttl_change", format!("{}.", z.name)),
    )
    .await
}
