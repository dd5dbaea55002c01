//! DNSSEC of hosted zones (issue 8; DPF `dnssec`, `ds_records`).
//!
//! The tenant turns signing on or off and starts KSK rollovers; the keys are
//! made here, sealed under the operator key (`--dnssec-key-file`) and kept
//! in the store (`zone_dnssec`), never in the clear. Every node that serves
//! the zone opens them and signs: a publication signs the zone whole
//! ([`Signing::sign_whole`]); a commit re-signs only what it changed
//! ([`Signing::apply`], through `platdns_dnssec::SignedZone::apply`, whose
//! diff becomes a patch of the served zone). The maintenance task
//! ([`maintain`]) keeps signatures fresh and moves rollovers on by the RFC
//! 7583 timings; every step is an event in the zone's log.
//!
//! States are DPF's (`tags.md`): `state` 2 while signed, 3 while turning off
//! (the tenant removes the DS at the parent first; we keep signing until the
//! DS can have left every cache), 4 off. `ds_state` follows the parent's DS
//! as the operator's resolver (`--verify-resolver`) answers it: 1 until it
//! names the KSK, then 3; a KSK rollover (only from 3) goes 4 (new KSK
//! published), 5 (the CDS names it; the parent should follow), 6 (it has;
//! the old KSK leaves once the old DS can have left caches), 3; turning off
//! goes 7 (until no DS names a KSK), 8 (until that has reached caches), then
//! the zone is served unsigned.

use crate::auth::{ZoneRead, ZoneWrite};
use crate::dpf::{job_done, Op};
use crate::json::{self, Body};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
pub use platdns_control::dnssec::{denial_of, signing, start_maintenance, Dnssec, DnssecSettings, Signed, Signing};
use platdns_control::dnssec::{open_state, operator_key, unix, zone_event};
use platdns_dnssec::KeyState;
use platdns_store::{DnssecState, DsState, ZoneDnssec};
use platdns_zone::Name;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Routes {
    Routes::new()
        .get("/zones/{id}/dnssec", get_dnssec)
        .patch("/zones/{id}/dnssec", patch_dnssec)
        .patch("/zones/{id}/dnssec/ksk_rollover", ksk_rollover)
        .get("/zones/{id}/ds_records", ds_records)
        .get("/zones/{id}/records/{rid}/ds_records", ds_from_cds)
}

/// DPF's view of a zone's DNSSEC, in DPF's codes: never turned on is off,
/// or before publication while the zone has never been committed.
fn view(z: &platdns_store::Zone, row: Option<&ZoneDnssec>) -> Value {
    let (enabled, state, ds_state) = match row {
        Some(r) => (r.enabled, r.state, r.ds_state),
        None if z.version == 0 => (false, DnssecState::BeforePublication, DsState::BeforePublication),
        None => (false, DnssecState::Off, DsState::BeforePublication),
    };
    json!({"enabled": i64::from(enabled), "state": state.code(), "ds_state": ds_state.code()})
}

/// DPF `GET /zones/{id}/dnssec`.
async fn get_dnssec(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let row = s.store.dnssec(z.id).await?;
    Ok(Json(json::result(view(&z, row.as_ref()))))
}

/// DPF `PatchDnssec`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    enabled: i64,
}

/// DPF `PATCH /zones/{id}/dnssec`: 1 signs the zone (keys made on first
/// use), 0 starts turning signing off.
async fn patch_dnssec(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
    Body(b): Body<PatchBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !matches!(b.enabled, 0 | 1) {
        return Err(ApiError::bad_request("invalid", "enabled", "0 or 1"));
    }
    let enable = b.enabled == 1;
    if s.store.zone_proxy(z.id).await? && enable {
        return Err(ApiError::bad_request(
            "forbidden",
            "dnssec",
            "a secondary zone (zone_proxy) is signed by its primary",
        ));
    }
    let _row = s.dnssec.rows.lock(z.id).await;
    let now = s.clock.now();
    let row = s.store.dnssec(z.id).await?;
    let mut row = row.unwrap_or(ZoneDnssec {
        zone_id: z.id,
        enabled: false,
        state: DnssecState::Off,
        ds_state: DsState::BeforePublication,
        keys: String::new(),
        ds_transited_at: None,
        updated_at: now,
    });
    let mut events = Vec::new();
    let signing = matches!(row.state, DnssecState::Enabling | DnssecState::On);
    match (enable, signing) {
        (true, true) => {}
        (true, false) => {
            // Turned on (or back on while turning off): fresh keys unless
            // the zone is still signed with its old ones.
            if row.state != DnssecState::Disabling || row.keys.is_empty() {
                let state = KeyState::generate(s.dnssec.settings.algorithm, s.dnssec.settings.timings.clone())
                    .map_err(|_| ApiError::internal())?;
                row.keys = state.seal(&operator_key(&s)?).map_err(|_| ApiError::internal())?;
                events.push(format!(
                    "keys made: KSK {} and ZSK {} ({:?})",
                    state.ksk().key_tag(),
                    state.zsk().key_tag(),
                    s.dnssec.settings.algorithm
                ));
                row.ds_state = DsState::AwaitingDs;
                row.ds_transited_at = Some(now);
            }
            row.state = DnssecState::On;
        }
        (false, true) => {
            // The tenant removes the DS at the parent; we keep signing until
            // it can have left every cache ([`maintain`]).
            row.state = DnssecState::Disabling;
            row.ds_state = DsState::AwaitingRemoval;
            row.ds_transited_at = Some(now);
            events.push("turning off: waiting for the DS to leave the parent and caches".into());
        }
        (false, false) => {}
    }
    row.enabled = enable;
    row.updated_at = now;
    s.store.save_dnssec(&row).await?;
    for e in &events {
        zone_event(&s, &z, "update_dnssec_configuration", e).await;
    }
    match events.is_empty() {
        true => crate::publish::republish(&s, z.id).await?,
        false => crate::publish::republish_resigned(&s, z.id).await?,
    }
    let op = Op::zone(&z, "service", "update_dnssec_configuration", z.name.clone());
    job_done(&s, &t, format!("/dpf/v1/zones/{id}/dnssec"), op).await
}

/// DPF `PATCH /zones/{id}/dnssec/ksk_rollover`: a new KSK is published and
/// signs beside the old one (RFC 7583 §3.3.1); later steps follow by time.
async fn ksk_rollover(
    State(s): State<AppState>,
    ZoneWrite(t, z): ZoneWrite,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    // DPF: a rollover starts only while the DS is published (ds_state 3),
    // so never over another one.
    let _row = s.dnssec.rows.lock(z.id).await;
    let published = |r: &ZoneDnssec| r.state == DnssecState::On && r.ds_state == DsState::Published;
    let Some(mut row) = s.store.dnssec(z.id).await?.filter(published) else {
        return Err(ApiError::bad_request(
            "forbidden",
            "dnssec",
            "a KSK rollover starts only on a signed zone whose DS the parent publishes (ds_state 3)",
        ));
    };
    let mut state = open_state(&s, &row)?;
    let now = s.clock.now();
    let step = state
        .start_ksk_rollover(unix(now))
        .map_err(|e| ApiError::bad_request("forbidden", "dnssec", e.to_string()))?;
    row.keys = state.seal(&operator_key(&s)?).map_err(|_| ApiError::internal())?;
    row.ds_state = DsState::RolloverPreparing;
    row.ds_transited_at = Some(now);
    row.updated_at = now;
    s.store.save_dnssec(&row).await?;
    for e in &step.events {
        zone_event(&s, &z, "begin_ksk_rollover", e).await;
    }
    crate::publish::republish_resigned(&s, z.id).await?;
    let op = Op::zone(&z, "service", "begin_ksk_rollover", z.name.clone());
    job_done(&s, &t, format!("/dpf/v1/zones/{id}/dnssec"), op).await
}

/// DPF `GET /zones/{id}/ds_records`: the DS the parent should publish (the
/// KSKs CDS names, RFC 7344 §4), SHA-256 digests.
async fn ds_records(State(s): State<AppState>, ZoneRead(_, z): ZoneRead) -> ApiResult<Json<Value>> {
    let row = s.store.dnssec(z.id).await?;
    let Some(row) = row.filter(|r| platdns_control::dnssec::is_signed(Some(r))) else {
        return Ok(Json(json::results(Vec::new())));
    };
    let state = open_state(&s, &row)?;
    let apex = Name::from_text(&format!("{}.", z.name), None).map_err(|_| ApiError::internal())?;
    let ttl = s.dnssec.settings.signer.dnskey_ttl;
    let transited = json::time(row.ds_transited_at.unwrap_or(row.updated_at));
    let results = state
        .keys()
        .iter()
        .filter(|k| k.cds)
        .map(|k| {
            let ds = k.key.ds_rdata(&apex);
            let text = platdns_zone::present::format_rdata(platdns_zone::Rtype::DS, &ds);
            json!({"rrset": format!("{apex} {ttl} IN DS {text}"), "transited_at": transited})
        })
        .collect();
    Ok(Json(json::results(results)))
}

/// DPF `GET /zones/{id}/records/{rid}/ds_records`: the DS a delegation
/// (an NS record below the apex) would take from its child's CDS, or
/// CDNSKEY when there is no CDS (RFC 7344 §4, RFC 8078 §3), as the
/// operator's resolver answers them. A delete request (RFC 8078 §4) gives
/// none. Only shown: the tenant adds the DS records as any other, so no DS
/// is taken on an unvalidated answer (RFC 7344 §4.1). TTL: the NS
/// record's, as the DS sits beside it at the cut.
async fn ds_from_cds(
    State(s): State<AppState>,
    ZoneRead(_, z): ZoneRead,
    Path((_, rid)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    use platdns_zone::Rtype;
    let r = s.store.find_record(z.id, &rid).await?;
    let apex = format!("{}.", z.name.trim_end_matches('.'));
    if r.rrtype != "NS" || r.name.eq_ignore_ascii_case(&apex) {
        return Err(ApiError::bad_request(
            "invalid_record_id",
            "record",
            "an NS record below the zone apex",
        ));
    }
    let Some(resolver) = s.verify_resolver else {
        return Err(ApiError::bad_request(
            "unavailable",
            "resolver",
            "no --verify-resolver is configured",
        ));
    };
    let child = Name::from_text(&r.name, None).map_err(|_| ApiError::internal())?;
    let unanswered = |e: String| {
        tracing::warn!(child = %child, error = %e, "CDS lookup");
        ApiError::bad_request("unavailable", "resolver", format!("the child's CDS: {e}"))
    };
    let mut ds: Vec<Vec<u8>> = crate::resolver::ask(resolver, &child, Rtype::CDS)
        .await
        .map_err(unanswered)?
        .records
        .into_iter()
        .map(|r| r.rdata)
        .collect();
    if ds.is_empty() {
        for key in crate::resolver::ask(resolver, &child, Rtype::CDNSKEY)
            .await
            .map_err(unanswered)?
            .records
        {
            // CDNSKEY `0 3 0 AA==` asks for deletion (RFC 8078 §4).
            if key.rdata.get(3) != Some(&0) {
                ds.push(platdns_dnssec::keys::ds_rdata(&child, &key.rdata));
            }
        }
    }
    // CDS `0 0 0 00` asks for deletion (RFC 8078 §4).
    ds.retain(|d| d.get(2) != Some(&0));
    ds.sort();
    ds.dedup();
    let ttl = match r.ttl {
        Some(ttl) => ttl,
        None => s.store.default_ttl(z.id).await?.0,
    };
    let rdata: Vec<Value> = ds
        .iter()
        .map(|d| json!({"value": platdns_zone::present::format_rdata(Rtype::DS, d)}))
        .collect();
    let results = if rdata.is_empty() {
        Vec::new()
    } else {
        vec![json!({"name": r.name, "ttl": ttl, "rrtype": "DS", "rdata": rdata})]
    };
    Ok(Json(json::results(results)))
}
