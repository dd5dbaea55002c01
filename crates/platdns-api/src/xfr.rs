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
use platdns_control::transfer::{parse_address, tsig_keys};
use platdns_dataplane::tsig::{self, Key};
use platdns_dataplane::wire::Outgoing;
use platdns_dataplane::xfr::{AclEntry, Event, Policy};
use platdns_store::{StoreError, TransferEntry, TransferList};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

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

/// `address/prefix` (a bare address: the whole address), normalised.
pub(crate) fn parse_network(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
        None => {
            let a: IpAddr = text.parse().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((addr, prefix))
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

/// The DNS node's transfer policy from the store: every zone's ACL (its
/// common configuration's entries) and every contract's keys.
pub async fn policy(s: &AppState) -> Result<Policy, ApiError> {
    let keys_by_id = tsig_keys(s).await?;
    let mut by_config: HashMap<i64, Vec<AclEntry>> = HashMap::new();
    for e in s.store.transfer_entries(TransferList::Acl, None).await? {
        let Some((network, prefix)) = parse_network(&e.target) else {
            continue;
        };
        let key = match e.tsig_id {
            // A key that no longer exists allows nothing.
            Some(id) => match keys_by_id.get(&id) {
                Some(k) => Some(k.name.clone()),
                None => continue,
            },
            None => None,
        };
        by_config
            .entry(e.common_config_id)
            .or_default()
            .push(AclEntry { network, prefix, key });
    }
    let mut primaries_of: HashMap<i64, Vec<platdns_dataplane::xfr::PrimaryEntry>> = HashMap::new();
    for p in s.store.transfer_entries(TransferList::Primary, None).await? {
        let Some(addr) = parse_address(&p.target) else { continue };
        let key = match p.tsig_id {
            Some(id) => match keys_by_id.get(&id) {
                Some(k) => Some(k.name.clone()),
                None => continue,
            },
            None => None,
        };
        if p.enabled {
            primaries_of
                .entry(p.common_config_id)
                .or_default()
                .push((addr.ip(), key));
        }
    }
    let mut primaries = HashMap::new();
    let mut acls = HashMap::new();
    let proxied = s.store.proxied_zone_ids().await?;
    for z in s.store.list_zones(None, None).await? {
        if let (Some(ps), Ok(apex)) = (
            primaries_of.get(&z.common_config_id),
            platdns_zone::Name::from_text(&format!("{}.", z.name), None),
        ) {
            if proxied.contains(&z.id) {
                primaries.insert(apex.to_lowercase().as_wire().to_vec(), ps.clone());
            }
        }
        if let (Some(entries), Ok(apex)) = (
            by_config.get(&z.common_config_id),
            platdns_zone::Name::from_text(&format!("{}.", z.name), None),
        ) {
            acls.insert(apex.to_lowercase().as_wire().to_vec(), entries.clone());
        }
    }
    Ok(Policy {
        acls,
        keys: keys_by_id.into_values().collect(),
        primaries,
    })
}

/// A transfer event in the zone's log.
pub async fn log_event(s: &AppState, e: &Event) -> Result<(), ApiError> {
    let Ok(apex) = platdns_zone::Name::from_wire(&e.apex) else {
        return Ok(());
    };
    let name = apex.to_string().trim_end_matches('.').to_string();
    let Some(z) = s
        .store
        .list_zones(None, None)
        .await?
        .into_iter()
        .find(|z| z.name == name)
    else {
        return Ok(());
    };
    let key = e.key.as_deref().map(|k| format!(" key {k}")).unwrap_or_default();
    if e.kind == "NOTIFY" {
        if e.outcome == "received" {
            crate::secondary::notified(s, e.apex.clone());
        }
        let status = if e.outcome == "received" { "success" } else { "failure" };
        let target = format!("NOTIFY from {}{key}: {}", e.peer, e.outcome);
        let event = crate::dpf::Event::zone(&z, "service", "notify_received", &target, status);
        crate::dpf::log_event(s, event).await?;
        return Ok(());
    }
    let target = format!("{} to {} serial {}{key}: {}", e.kind, e.peer, e.serial, e.outcome);
    let (operation, status) = if e.outcome == "served" {
        ("zone_transfer", "success")
    } else {
        ("zone_transfer_refused", "failure")
    };
    if status == "failure" {
        tracing::warn!(zone = %name, peer = %e.peer, kind = e.kind, outcome = e.outcome, "zone transfer refused");
    } else {
        tracing::info!(zone = %name, peer = %e.peer, kind = e.kind, serial = e.serial, "zone transferred");
    }
    let event = crate::dpf::Event::zone(&z, "service", operation, &target, status);
    crate::dpf::log_event(s, event).await?;
    Ok(())
}

pub use platdns_control::zones::notify_zone;

/// Starts the `notify-out` service: each queued commit's NOTIFYs are sent
/// concurrently (each retried on its own schedule); on shutdown the sends
/// in flight finish within the grace period.
pub fn start_notifying(s: &AppState) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(platdns_store::Zone, u32)>();
    *s.secondary.outgoing.lock().expect("not poisoned") = Some(tx);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let state = s.clone();
    s.supervisor.spawn("notify-out", move |mut ctx| {
        let (s, rx) = (state.clone(), rx.clone());
        async move {
            let mut rx = rx.lock().await;
            let mut sending = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    next = rx.recv() => {
                        let Some((z, serial)) = next else { break };
                        let s = s.clone();
                        sending.spawn(async move {
                            let outcome = notify_all(&s, &z, serial).await;
                            (z.name, outcome)
                        });
                    }
                    Some(done) = sending.join_next() => match done {
                        Ok((_, Ok(()))) => ctx.succeeded(),
                        Ok((zone, Err(e))) => ctx.failed(&zone, &e),
                        Err(e) => ctx.failed("a NOTIFY task", &e),
                    },
                    _ = ctx.stopping() => break,
                }
            }
            while sending.join_next().await.is_some() {}
            Ok::<(), ApiError>(())
        }
    });
}

async fn notify_all(s: &AppState, z: &platdns_store::Zone, serial: u32) -> Result<(), ApiError> {
    let targets = s
        .store
        .transfer_entries(TransferList::Notify, Some(z.common_config_id))
        .await?;
    if targets.is_empty() {
        return Ok(());
    }
    let keys = tsig_keys(s).await?;
    let apex = platdns_zone::Name::from_text(&format!("{}.", z.name), None)
        .map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    let mut sends = Vec::new();
    for t in targets {
        let Some(addr) = parse_address(&t.target) else { continue };
        let key = t.tsig_id.and_then(|id| keys.get(&id).cloned());
        let apex = apex.clone();
        sends.push(tokio::spawn(async move {
            (addr, send_notify(addr, &apex, serial, key.as_ref()).await)
        }));
    }
    for h in sends {
        let Ok((addr, outcome)) = h.await else { continue };
        let (status, text) = match &outcome {
            Ok(tries) => (
                "success",
                format!("NOTIFY to {addr} serial {serial}: answered after {tries} tries"),
            ),
            Err(e) => ("failure", format!("NOTIFY to {addr} serial {serial}: {e}")),
        };
        let event = crate::dpf::Event::zone(z, "service", "notify", &text, status);
        crate::dpf::log_event(s, event).await?;
    }
    Ok(())
}

/// One NOTIFY (RFC 1996 §3.7: SOA question, AA), retried until answered:
/// five tries, waiting 1, 2, 4, 8 s. Returns the tries it took.
async fn send_notify(
    addr: SocketAddr,
    apex: &platdns_zone::Name,
    serial: u32,
    key: Option<&Key>,
) -> Result<u32, String> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .expect("literal");
    let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(addr).await.map_err(|e| e.to_string())?;
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=5u32 {
        let id = tsig::message_id();
        // The new SOA's serial in the answer section (RFC 1996 §3.7), rdata
        // with root names: a hint; the secondary asks for the real one.
        let mut soa = vec![0xC0, 0x0C, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0];
        soa.extend_from_slice(&serial.to_be_bytes());
        soa.extend_from_slice(&[0; 16]);
        let apex = apex.to_lowercase();
        let mut m = Outgoing {
            opcode: 4,
            authoritative: true,
            answer: Some(&soa),
            ..Outgoing::query(id, apex.as_wire(), platdns_zone::Rtype::SOA.0)
        }
        .to_wire();
        let now = tsig::unix_now();
        let mac = key.map(|k| tsig::sign(&mut m, k, None, false, now, 0));
        sock.send(&m).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1500];
        if let Ok(Ok(n)) = tokio::time::timeout(wait, sock.recv(&mut buf)).await {
            let r = &buf[..n];
            if n >= 12 && r[0..2] == id.to_be_bytes() && r[2] & 0x80 != 0 {
                let rcode = r[3] & 0x0f;
                if rcode != 0 {
                    return Err(format!("answered rcode {rcode}"));
                }
                if let (Some(k), Some(mac)) = (key, mac) {
                    let q = platdns_dataplane::wire::parse_response_tsig(r);
                    let ok = q.is_some_and(|rec| tsig::verify_response(r, &rec, k, &mac, false).is_ok());
                    if !ok {
                        return Err("the answer's TSIG does not verify".into());
                    }
                }
                return Ok(attempt);
            }
        }
        wait *= 2;
    }
    Err("no answer after 5 tries".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_addresses_parse_as_dpf_and_ours_allow() {
        assert_eq!(parse_network("192.0.2.0/24"), Some(("192.0.2.0".parse().unwrap(), 24)));
        assert_eq!(
            parse_network("2001:db8::1"),
            Some(("2001:db8::1".parse().unwrap(), 128))
        );
        assert_eq!(parse_network("192.0.2.0/33"), None);
        assert_eq!(parse_network("example.com/24"), None);
        assert_eq!(parse_address("192.0.2.53").unwrap().port(), 53);
        assert_eq!(parse_address("127.0.0.1:5300").unwrap().port(), 5300);
        assert_eq!(parse_address("[2001:db8::53]:5300").unwrap().port(), 5300);
        assert!(parse_address("ns.example.com").is_none());
    }
}
