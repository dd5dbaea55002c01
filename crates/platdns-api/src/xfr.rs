//! Zone transfers out, the control side (issue 8):
//!
//! - DPF `cc_sec_transfer_acls` and `cc_sec_notified_servers` of a common
//!   configuration (CRUD, DPF's error codes).
//! - [`policy`]: the ACLs of every zone and the TSIG keys of every
//!   contract, as the DNS node's [`platdns_dataplane::xfr::Policy`].
//! - [`notify_zone`]: after a commit, a NOTIFY (RFC 1996) to each of the
//!   zone's notified servers, TSIG-signed when the entry names a key,
//!   retried until answered (five tries, doubling from 1 s); never holding
//!   the commit.
//! - [`log_event`]: every transfer served or refused, and every NOTIFY, in
//!   the zone's log.

use crate::auth::{Tenant, ZoneRead, ZoneWrite};
use crate::dpf::{job_done, Listing, Op};
use crate::json::{self, Body};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use platdns_control::transfer::{parse_address, parse_network};
use platdns_store::{StoreError, TransferEntry, TransferList};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Entries one common configuration may hold per list (DPF `too_many`;
/// the reference gives no figure).
const MAX_ENTRIES: i64 = 50;

pub(crate) fn routes() -> Routes {
    let r = Routes::new();
    let r = entries(
        r,
        "/common_configs/{cc}/cc_sec_transfer_acls",
        "/common_configs/{cc}/cc_sec_transfer_acls/{eid}",
        TransferList::Acl,
    );
    let r = entries(
        r,
        "/common_configs/{cc}/cc_sec_notified_servers",
        "/common_configs/{cc}/cc_sec_notified_servers/{eid}",
        TransferList::Notify,
    );
    entries(
        r,
        "/common_configs/{cc}/cc_primaries",
        "/common_configs/{cc}/cc_primaries/{eid}",
        TransferList::Primary,
    )
    .get("/zones/{id}/zone_proxy", get_proxy)
    .patch("/zones/{id}/zone_proxy", patch_proxy)
    .get("/zones/{id}/zone_proxy/health_check", proxy_health)
}

/// The five routes of one list (DPF's shape for each of the three).
fn entries(r: Routes, list_path: &'static str, item_path: &'static str, kind: TransferList) -> Routes {
    r.get(
        list_path,
        move |st: State<AppState>, t: Tenant, p: Path<i64>, q: RawQuery| list(st, t, p, q, kind),
    )
    .post(
        list_path,
        move |st: State<AppState>, t: Tenant, p: Path<i64>, b: Body<EntryBody>| add(st, t, p, b, kind),
    )
    .get(item_path, move |st: State<AppState>, t: Tenant, p: Path<(i64, i64)>| {
        show(st, t, p, kind)
    })
    .patch(
        item_path,
        move |st: State<AppState>, t: Tenant, p: Path<(i64, i64)>, b: Body<EntryBody>| update(st, t, p, b, kind),
    )
    .delete(item_path, move |st: State<AppState>, t: Tenant, p: Path<(i64, i64)>| {
        remove(st, t, p, kind)
    })
}

fn field(list: TransferList) -> &'static str {
    match list {
        TransferList::Acl => "network",
        TransferList::Notify | TransferList::Primary => "address",
    }
}

fn entry_json(list: TransferList, e: &TransferEntry) -> Value {
    let mut v = json!({"id": e.id, field(list): e.target, "tsig_id": e.tsig_id});
    if list == TransferList::Primary {
        v["enabled"] = json!(i64::from(e.enabled));
    }
    v
}

/// DPF `PostCcSecTransferAcl` / `PostCcSecNotifiedServer` and their
/// patches.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryBody {
    #[serde(default)]
    network: Option<String>,
    #[serde(default)]
    address: Option<String>,
    /// `null` clears the key.
    #[serde(default)]
    tsig_id: Option<Option<i64>>,
    /// Primaries only: 0 or 1.
    #[serde(default, deserialize_with = "crate::json::non_null")]
    enabled: Option<i64>,
}

async fn config_of(s: &AppState, t: &Tenant, cc: i64) -> ApiResult<platdns_store::CommonConfig> {
    let c = s.store.find_common_config(cc, None, Some(t.account_id())).await?;
    if !t.may_see_contract(c.contract_id) {
        return Err(ApiError::not_found());
    }
    Ok(c)
}

fn op(contract_id: i64, operation: &str, target: String) -> Op<'_> {
    Op {
        contract_id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "common_config",
        operation,
        target,
    }
}

async fn list(
    State(s): State<AppState>,
    t: Tenant,
    Path(cc): Path<i64>,
    RawQuery(q): RawQuery,
    kind: TransferList,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    let c = config_of(&s, &t, cc).await?;
    let all = s.store.transfer_entries(kind, Some(c.id)).await?;
    Ok(Json(l.answer(all.iter().map(|e| entry_json(kind, e)).collect(), false)))
}

async fn show(
    State(s): State<AppState>,
    t: Tenant,
    Path((cc, eid)): Path<(i64, i64)>,
    kind: TransferList,
) -> ApiResult<Json<Value>> {
    let c = config_of(&s, &t, cc).await?;
    let e = s.store.transfer_entry(kind, c.id, eid).await?;
    Ok(Json(json::result(entry_json(kind, &e))))
}

/// Checks the target text and the key (a TSIG key of the same contract).
async fn checked(
    s: &AppState,
    contract_id: i64,
    kind: TransferList,
    target: &str,
    tsig_id: Option<i64>,
) -> ApiResult<String> {
    let target = match kind {
        TransferList::Acl => {
            let (a, p) = parse_network(target)
                .ok_or_else(|| ApiError::bad_request("invalid", "network", "an IP address/prefix length"))?;
            format!("{a}/{p}")
        }
        TransferList::Notify | TransferList::Primary => {
            parse_address(target).ok_or_else(|| ApiError::bad_request("invalid", "address", "an IP address"))?;
            target.to_string()
        }
    };
    if let Some(id) = tsig_id {
        s.store.get_tsig(contract_id, id).await.map_err(|e| match e {
            StoreError::NotFound => ApiError::bad_request("not_found", "tsig", "no such TSIG key of this contract"),
            other => other.into(),
        })?;
    }
    Ok(target)
}

fn store_error(kind: TransferList, e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate { .. } => ApiError::bad_request("duplicated", field(kind), "already registered"),
        StoreError::Invalid { .. } => ApiError::bad_request("too_many", field(kind), format!("at most {MAX_ENTRIES}")),
        other => other.into(),
    }
}

fn operation(kind: TransferList, verb: &str) -> &'static str {
    match (kind, verb) {
        (TransferList::Acl, "add") => "add_cc_sec_transfer_acl",
        (TransferList::Acl, "update") => "update_cc_sec_transfer_acl",
        (TransferList::Acl, _) => "delete_cc_sec_transfer_acl",
        (TransferList::Notify, "add") => "add_cc_sec_notified_server",
        (TransferList::Notify, "update") => "update_cc_sec_notified_server",
        (TransferList::Notify, _) => "delete_cc_sec_notified_server",
        (TransferList::Primary, "add") => "add_cc_primary",
        (TransferList::Primary, "update") => "update_cc_primary",
        (TransferList::Primary, _) => "delete_cc_primary",
    }
}

fn path_of(kind: TransferList, cc: i64) -> String {
    match kind {
        TransferList::Acl => format!("/dpf/v1/common_configs/{cc}/cc_sec_transfer_acls"),
        TransferList::Notify => format!("/dpf/v1/common_configs/{cc}/cc_sec_notified_servers"),
        TransferList::Primary => format!("/dpf/v1/common_configs/{cc}/cc_primaries"),
    }
}

async fn add(
    State(s): State<AppState>,
    t: Tenant,
    Path(cc): Path<i64>,
    Body(b): Body<EntryBody>,
    kind: TransferList,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = config_of(&s, &t, cc).await?;
    t.require_write(c.contract_id)?;
    let enabled = enabled_of(kind, b.enabled)?;
    let (text, other) = match kind {
        TransferList::Acl => (b.network, b.address),
        TransferList::Notify | TransferList::Primary => (b.address, b.network),
    };
    if other.is_some() {
        return Err(ApiError::bad_request("invalid", "schema", "unknown field"));
    }
    let text =
        text.ok_or_else(|| ApiError::bad_request("invalid", "schema", format!("{} is required", field(kind))))?;
    let tsig_id = b.tsig_id.flatten();
    let target = checked(&s, c.contract_id, kind, &text, tsig_id).await?;
    let e = s
        .store
        .add_transfer_entry(kind, c.id, &target, tsig_id, MAX_ENTRIES)
        .await
        .map_err(|e| store_error(kind, e))?;
    if enabled == Some(false) {
        s.store.set_primary_enabled(c.id, e.id, false).await?;
    }
    crate::secondary::changed(&s);
    let url = format!("{}/{}", path_of(kind, c.id), e.id);
    job_done(&s, &t, url, op(c.contract_id, operation(kind, "add"), target)).await
}

async fn update(
    State(s): State<AppState>,
    t: Tenant,
    Path((cc, eid)): Path<(i64, i64)>,
    Body(b): Body<EntryBody>,
    kind: TransferList,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = config_of(&s, &t, cc).await?;
    t.require_write(c.contract_id)?;
    let e = s.store.transfer_entry(kind, c.id, eid).await?;
    let enabled = enabled_of(kind, b.enabled)?;
    let (text, other) = match kind {
        TransferList::Acl => (b.network, b.address),
        TransferList::Notify | TransferList::Primary => (b.address, b.network),
    };
    if other.is_some() {
        return Err(ApiError::bad_request("invalid", "schema", "unknown field"));
    }
    let tsig_id = b.tsig_id.unwrap_or(e.tsig_id);
    let target = checked(&s, c.contract_id, kind, text.as_deref().unwrap_or(&e.target), tsig_id).await?;
    s.store
        .update_transfer_entry(kind, c.id, eid, &target, tsig_id)
        .await
        .map_err(|e| store_error(kind, e))?;
    if let Some(on) = enabled {
        s.store.set_primary_enabled(c.id, eid, on).await?;
    }
    crate::secondary::changed(&s);
    let url = format!("{}/{eid}", path_of(kind, c.id));
    job_done(&s, &t, url, op(c.contract_id, operation(kind, "update"), target)).await
}

async fn remove(
    State(s): State<AppState>,
    t: Tenant,
    Path((cc, eid)): Path<(i64, i64)>,
    kind: TransferList,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = config_of(&s, &t, cc).await?;
    t.require_write(c.contract_id)?;
    let e = s.store.transfer_entry(kind, c.id, eid).await?;
    s.store.delete_transfer_entry(kind, c.id, eid).await?;
    crate::secondary::changed(&s);
    job_done(
        &s,
        &t,
        path_of(kind, c.id),
        op(c.contract_id, operation(kind, "delete"), e.target),
    )
    .await
}

/// DPF `CcPrimaryEnabled` (primaries only).
fn enabled_of(kind: TransferList, enabled: Option<i64>) -> ApiResult<Option<bool>> {
    match (kind, enabled) {
        (_, None) => Ok(None),
        (TransferList::Primary, Some(0)) => Ok(Some(false)),
        (TransferList::Primary, Some(1)) => Ok(Some(true)),
        (TransferList::Primary, Some(_)) => Err(ApiError::bad_request("invalid", "enabled", "0 or 1")),
        _ => Err(ApiError::bad_request("invalid", "schema", "unknown field enabled")),
    }
}

/// DPF `GET /zones/{id}/zone_proxy`.
async fn get_proxy(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let on = s.store.zone_proxy(z.id).await?;
    Ok(Json(json::result(json!({"enabled": i64::from(on)}))))
}

/// DPF `PatchZoneProxy`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProxyBody {
    enabled: i64,
}

/// DPF `PATCH /zones/{id}/zone_proxy`: the zone is pulled from its common
/// configuration's primaries (1), or served from its records (0).
async fn patch_proxy(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    Body(b): Body<ProxyBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let on = match b.enabled {
        0 => false,
        1 => true,
        _ => return Err(ApiError::bad_request("invalid", "enabled", "0 or 1")),
    };
    s.store.set_zone_proxy(z.id, on).await?;
    crate::secondary::changed(&s);
    if !on {
        crate::publish::republish(&s, z.id).await?;
    }
    let op = Op::zone(&z, "service", "update_zone_proxy", z.name.clone());
    job_done(&s, &t, format!("/dpf/v1/zones/{id}/zone_proxy"), op).await
}

/// DPF `GET /zones/{id}/zone_proxy/health_check`: each primary, and whether
/// its last transfer (or SOA check) succeeded.
async fn proxy_health(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let status: HashMap<String, String> = match s.store.secondary(z.id).await? {
        Some((_, _, _, primaries)) => serde_json::from_str::<Vec<(String, String)>>(&primaries)
            .unwrap_or_default()
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    let keys: HashMap<i64, String> = s
        .store
        .all_tsig_keys()
        .await?
        .into_iter()
        .map(|(id, name, _, _)| (id, name))
        .collect();
    let results: Vec<Value> = s
        .store
        .transfer_entries(TransferList::Primary, Some(z.common_config_id))
        .await?
        .iter()
        .map(|p| {
            let ok = status.get(&p.target).is_some_and(|st| st == "OK");
            json!({
                "address": p.target,
                "status": if ok { "OK" } else { "NG" },
                "tsig_name": p.tsig_id.and_then(|k| keys.get(&k).cloned()).unwrap_or_default(),
                "enabled": i64::from(p.enabled),
            })
        })
        .collect();
    Ok(Json(json::results(results)))
}

pub use platdns_control::transfer::{log_event, notify_zone, policy, start_notifying};
