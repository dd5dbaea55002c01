//! Publication of hosted zones (issue 4, issue 16): a commit's zone
//! published (compacted in the background when its overlay has grown), a
//! zone rebuilt from the store and signed, a zone whose keys changed
//! republished under the next serial, and the NOTIFY that follows a new
//! serial queued to the `notify-out` service.

use crate::compile::{apex_of, compile, zone_text};
use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use crate::publication::{ended, zone_meter};
use platdns_store::Zone as StoreZone;
use platdns_zone::Zone;
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
    let z = s.store.get_zone(zone_id).await?;
    let apex = apex_of(&z)?;
    let contract = s.store.get_contract(z.contract_id).await?;
    let proxied = s.store.zone_proxy(zone_id).await?;
    if !z.eligibility.may_serve() || (z.version == 0 && !proxied) || ended(s, &contract) {
        s.publisher.publish(&apex, None);
        return Ok(());
    }
    if proxied {
        // A secondary zone serves its last pulled copy (none yet: nothing).
        match crate::secondary::stored_zone(s, &z).await? {
            Some(mut zone) => {
                zone.set_meter(zone_meter(s, &z));
                s.publisher.publish(&apex, Some(Arc::new(zone)));
            }
            None => s.publisher.publish(&apex, None),
        }
        return Ok(());
    }
    let records = s.store.list_records(zone_id, true).await?;
    // Compiling is CPU work: on the blocking pool, never on the workers
    // that answer DNS over TCP and the API.
    let (zone, defaults) = (z.clone(), s.zone_defaults.clone());
    let mut compiled = tokio::task::spawn_blocking(move || {
        let text = zone_text(&zone, &records, zone.serial, &defaults);
        compile(&zone, &text, &records)
    })
    .await
    .map_err(|e| ControlError::Internal(format!("zone {}: {e}", z.name)))??;
    compiled.set_meter(zone_meter(s, &z));
    let signing = crate::dnssec::signing(s, &z).await?;
    if let Some(signing) = signing.clone() {
        let now = s.clock.now();
        compiled = tokio::task::spawn_blocking(move || signing.sign_whole(&compiled, now))
            .await
            .map_err(|e| ControlError::Internal(format!("zone {}: {e}", z.name)))??;
    }
    s.publisher.publish(&apex, Some(Arc::new(compiled)));
    if let Some(signing) = signing {
        signing.log(s, &z).await;
    }
    Ok(())
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
