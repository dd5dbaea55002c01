//! Publication of hosted zones (issue 4, issue 16): a commit's zone
//! published (compacted in the background when its overlay has grown), a
//! zone rebuilt from the store and signed, a zone whose keys changed
//! republished under the next serial, and the NOTIFY that follows a new
//! serial queued to the `notify-out` service.

use crate::compile::{apex_of, compile, zone_text, ZoneDefaults};
use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use crate::publication::{ended, zone_meter};
use platdns_store::{Zone as StoreZone, ZoneSource};
use platdns_zone::Zone;
use std::collections::HashMap;
use std::sync::Arc;

/// Publishes a zone a commit produced (or withdraws it when it may not be
/// served); a zone whose overlay has grown is compacted in the background.
pub async fn publish_committed(s: &Control, z: &StoreZone, zone: Zone) -> ControlResult<()> {
    let apex = apex_of(z)?;
    let contract = s.store.get_contract(z.contract_id).await?;
    if !z.eligibility.may_serve() || ended(s, &contract) {
        s.publisher.publish(&apex, None);
        return Ok(());
    }
    let mut zone = zone;
    zone.set_meter(zone_meter(s, z));
    let zone = Arc::new(zone);
    s.publisher.publish(&apex, Some(zone.clone()));
    if zone.wants_compaction()
        && s.zone_locks
            .compacting
            .lock()
            .expect("not poisoned")
            .insert(apex.clone())
    {
        let (publisher, locks) = (s.publisher.clone(), s.zone_locks.clone());
        tokio::task::spawn_blocking(move || {
            match zone.compacted() {
                Ok(c) => {
                    if !publisher.replace_if(&apex, &zone, Arc::new(c)) {
                        tracing::debug!(zone = %apex, "compaction lost to a newer commit; the next one retries");
                    }
                }
                Err(e) => tracing::error!(zone = %apex, error = ?e, "compaction failed; the overlay stays"),
            }
            locks.compacting.lock().expect("not poisoned").remove(&apex);
        });
    }
    Ok(())
}

/// Rebuilds one zone from the store and publishes it, or withdraws it when
/// it may not be served (R3.1) or is empty of commits.
pub async fn republish(s: &Control, zone_id: i64) -> ControlResult<()> {
    let _commits = s.zone_locks.lock(zone_id).await;
    republish_locked(s, zone_id).await
}

/// Republishes a zone whose DNSSEC keys changed (turned on or off, a
/// rollover's step) under the next serial (`Store::bump_serial`: no
/// record changed, no history entry), and sends NOTIFY: its content
/// changed, and under the same serial its secondaries would never transfer
/// the new DNSKEY RRset and signatures (RFC 1996 §2, RFC 1995). A zone
/// never committed, or a secondary zone, is only republished.
pub async fn republish_resigned(s: &Control, zone_id: i64) -> ControlResult<()> {
    let commits = s.zone_locks.lock(zone_id).await;
    let z = s.store.get_zone(zone_id).await?;
    let bumped = match z.version > 0 && !s.store.zone_proxy(zone_id).await? {
        true => Some(s.store.bump_serial(zone_id, |_, _| Ok(())).await?.0),
        false => None,
    };
    republish_locked(s, zone_id).await?;
    drop(commits);
    if let Some(serial) = bumped {
        notify_zone(s, &z, serial as u32);
    }
    Ok(())
}

/// [`republish`], the zone's lock held by the caller.
async fn republish_locked(s: &Control, zone_id: i64) -> ControlResult<()> {
    let source = s.store.zone_source(zone_id).await?;
    let contract = s.store.get_contract(source.zone.contract_id).await?;
    let (ended, defaults) = (ended(s, &contract), s.zone_defaults.clone());
    // Compiling is CPU work: on the blocking pool, never on the workers
    // that answer DNS over TCP and the API.
    let (source, built) = tokio::task::spawn_blocking(move || {
        let built = build(&source, ended, &defaults);
        (source, built)
    })
    .await
    .map_err(|e| ControlError::Internal(format!("zone id {zone_id}: {e}")))?;
    publish_built(s, &source, built?).await
}

/// The zone a stored zone serves, unsigned, or `None` when it may not be
/// served: not eligible (R3.1), its contract past its end, never committed,
/// or a secondary zone with no pulled copy yet. CPU work: callers run it on
/// the blocking pool.
pub fn build(source: &ZoneSource, ended: bool, d: &ZoneDefaults) -> ControlResult<Option<Zone>> {
    let z = &source.zone;
    if !z.eligibility.may_serve() || (z.version == 0 && !source.proxied) || ended {
        return Ok(None);
    }
    if source.proxied {
        return match &source.secondary {
            Some(text) => crate::secondary::pulled_copy(z, text),
            None => Ok(None),
        };
    }
    let text = zone_text(z, &source.records, z.serial, d);
    compile(z, &text, &source.records).map(Some)
}

/// Publishes what [`build`] made of `source` (signed first when the zone
/// is), or withdraws the zone.
async fn publish_built(s: &Control, source: &ZoneSource, built: Option<Zone>) -> ControlResult<()> {
    let z = &source.zone;
    let apex = apex_of(z)?;
    let Some(mut zone) = built else {
        s.publisher.publish(&apex, None);
        return Ok(());
    };
    zone.set_meter(zone_meter(s, z));
    // A secondary zone serves its primary's data as pulled, signed or not.
    let signing = match source.proxied {
        true => None,
        false => crate::dnssec::signing_with(s, z, source.dnssec.as_ref())?,
    };
    if let Some(signing) = signing.clone() {
        let now = s.clock.now();
        zone = tokio::task::spawn_blocking(move || signing.sign_whole(&zone, now))
            .await
            .map_err(|e| ControlError::Internal(format!("zone {}: {e}", z.name)))??;
    }
    s.publisher.publish(&apex, Some(Arc::new(zone)));
    if let Some(signing) = signing {
        signing.log(s, z).await;
    }
    Ok(())
}

/// Publishes every zone in the store (start-up, issue 16), in chunks read
/// in bulk (`Store::zone_sources`: four queries per chunk) and compiled on
/// the blocking pool while the next chunk is read. Unsigned zones are
/// published a chunk at a time; signed ones one by one, as they are
/// signed. A zone that does not build is logged and left out. Returns how
/// many zones are served.
pub async fn publish_stored(s: &Control) -> ControlResult<usize> {
    /// Zones per chunk: large enough that the four queries are few, small
    /// enough that a chunk's rows and zones stay a few megabytes.
    const CHUNK: i64 = 1000;
    let contracts: HashMap<i64, bool> = s
        .store
        .list_contracts(None)
        .await?
        .into_iter()
        .map(|c| (c.id, ended(s, &c)))
        .collect();
    let compile_chunk = |sources: Vec<ZoneSource>| {
        let (contracts, defaults) = (contracts.clone(), s.zone_defaults.clone());
        tokio::task::spawn_blocking(move || {
            sources
                .into_iter()
                .map(|source| {
                    let ended = contracts.get(&source.zone.contract_id).copied().unwrap_or(false);
                    let built = build(&source, ended, &defaults);
                    (source, built)
                })
                .collect::<Vec<_>>()
        })
    };
    let mut served = 0;
    let mut compiling = None;
    let mut after = 0;
    loop {
        let sources = s.store.zone_sources(after, CHUNK).await?;
        let next = match sources.last() {
            Some(last) => {
                after = last.zone.id;
                Some(compile_chunk(sources))
            }
            None => None,
        };
        if let Some(done) = std::mem::replace(&mut compiling, next) {
            let built = done
                .await
                .map_err(|e| ControlError::Internal(format!("compiling stored zones: {e}")))?;
            served += publish_chunk(s, built).await;
        }
        if compiling.is_none() {
            return Ok(served);
        }
    }
}

/// Publishes a compiled chunk; returns how many zones it serves.
async fn publish_chunk(s: &Control, built: Vec<(ZoneSource, ControlResult<Option<Zone>>)>) -> usize {
    let mut served = 0;
    let mut unsigned = Vec::with_capacity(built.len());
    for (source, built) in built {
        let z = &source.zone;
        let zone = match built {
            Ok(Some(zone)) => zone,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(zone = %z.name, error = %e, "zone in the store does not build; not served");
                continue;
            }
        };
        if !source.proxied && crate::dnssec::is_signed(source.dnssec.as_ref()) {
            match publish_built(s, &source, Some(zone)).await {
                Ok(()) => served += 1,
                Err(e) => tracing::error!(zone = %z.name, error = %e, "zone in the store does not sign; not served"),
            }
            continue;
        }
        let Ok(apex) = apex_of(z) else { continue };
        let mut zone = zone;
        zone.set_meter(zone_meter(s, z));
        unsigned.push((apex, Some(Arc::new(zone))));
    }
    served += unsigned.len();
    s.publisher.publish_many(unsigned);
    served
}

/// Sends NOTIFY for a zone just committed to each notified server of its
/// common configuration, in the background: queued to the `notify-out`
/// service (dropped, and logged, where this process runs none).
pub fn notify_zone(s: &Control, z: &platdns_store::Zone, serial: u32) {
    let queued = match s.secondary.outgoing.lock().expect("not poisoned").as_ref() {
        Some(tx) => tx.send((z.clone(), serial)).is_ok(),
        None => false,
    };
    if !queued {
        tracing::warn!(zone = %z.name, serial, "NOTIFY not sent: no notify-out service in this process");
    }
}
