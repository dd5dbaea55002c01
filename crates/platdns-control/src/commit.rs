//! A commit (issue 4, issue 16): the store read in one snapshot (a plan),
//! the zone patched or compiled, and signed, on the blocking pool outside
//! any write transaction, then written in one short transaction and
//! published; planned again when a staged edit or another commit came in
//! between. The API runs it as a job.

use crate::compile::{apex_of, commit_changes, compile, patched, zone_text};
use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use crate::zones::publish_committed;
use crate::ZoneDefaults;
use platdns_store::CommitChange;
use std::sync::Arc;

/// Commits (staged edits, or a replacement set), checking that the result
/// builds before anything is written, then publishes the zone to DNS. `job`:
/// the DPF job it runs in, named in the commit's history so that a restart
/// after a crash knows the commit landed.
pub async fn commit_zone(
    s: &Control,
    operator: &str,
    z: &platdns_store::Zone,
    description: &str,
    if_version: Option<i64>,
    replacement: Option<&[platdns_store::NewRecord]>,
    job: Option<&str>,
) -> ControlResult<()> {
    // Held until the zone is published: commits reach DNS in their order.
    let _commits = s.zone_locks.lock(z.id).await;
    let defaults = s.zone_defaults.clone();
    let apex = apex_of(z)?;
    // The store is read (plan), the zone compiled and signed on the
    // blocking pool, outside any write transaction and off the async
    // workers that answer DNS over TCP and the API, then written in one
    // short transaction (apply). A staged edit that slipped in between
    // makes the apply refuse; the commit is planned again (issue 16).
    let mut attempts = 0;
    let compiled = loop {
        attempts += 1;
        // A signed zone is signed in the check: incrementally from the kept
        // signed copy, or whole when there is none.
        let signing = crate::dnssec::signing(s, z).await?.map(Arc::new);
        let served = s.publisher.current(&apex);
        let now = s.clock.now();
        let mut plan = s.store.plan_commit(z.id, replacement, false).await?;
        let mut compiled = None;
        for whole in [false, true] {
            if whole {
                plan = s.store.plan_commit(z.id, replacement, true).await?;
            }
            let (zone, defaults, served, sign) = (z.clone(), defaults.clone(), served.clone(), signing.clone());
            let checked = tokio::task::spawn_blocking(move || {
                let made = check_commit(&plan, &zone, &defaults, served.as_ref(), sign.as_deref(), now);
                (plan, made)
            })
            .await
            .map_err(|e| ControlError::Internal(format!("zone {}: the commit check panicked: {e}", z.name)))?;
            plan = checked.0;
            compiled = checked.1.inspect_err(|_| forget(&signing))?;
            if compiled.is_some() {
                break;
            }
        }
        let compiled = compiled.ok_or_else(|| ControlError::Internal(format!("zone {}: no plan compiled", z.name)))?;
        if let Some(job) = job {
            plan.in_job(job);
        }
        match s
            .store
            .apply_commit(
                &plan,
                Some(operator),
                description,
                if_version,
                replacement,
                s.clock.now(),
            )
            .await
        {
            Ok(_) => {
                if let Some(sign) = &signing {
                    sign.log(s, z).await;
                }
                break compiled;
            }
            Err(platdns_store::StoreError::Changed) if attempts < 5 => {
                // The signed copy may hold what did not land.
                forget(&signing);
                continue;
            }
            Err(platdns_store::StoreError::Conflict(m)) if if_version.is_some() => {
                forget(&signing);
                return Err(ControlError::Conflict(m));
            }
            Err(e) => {
                forget(&signing);
                return Err(e.into());
            }
        }
    };
    let serial = compiled.serial();
    publish_committed(s, z, compiled).await?;
    // RFC 1996: the zone's secondaries hear of the new serial.
    crate::zones::notify_zone(s, z, serial);
    Ok(())
}

/// Drops the kept signed copy, which may hold a commit that did not land.
fn forget(signing: &Option<Arc<crate::dnssec::Signing>>) {
    if let Some(sign) = signing {
        sign.forget();
    }
}

/// The commit's check, CPU only (run on the blocking pool): the served zone
/// patched with the changed RRsets when the plan is a delta and the served
/// zone is the one it starts from (cost follows the change), else the zone
/// compiled whole; signed when the zone is. `None` asks for the whole plan.
fn check_commit(
    plan: &platdns_store::CommitPlan,
    zone: &platdns_store::Zone,
    defaults: &ZoneDefaults,
    served: Option<&Arc<platdns_zone::Zone>>,
    sign: Option<&crate::dnssec::Signing>,
    now: jiff::Timestamp,
) -> ControlResult<Option<platdns_zone::Zone>> {
    let input = plan.input();
    let zone = platdns_store::Zone {
        default_ttl: input.default_ttl,
        ..zone.clone()
    };
    match input.change {
        CommitChange::Delta(sets) => match served {
            Some(cur) if i64::from(cur.serial()) == input.previous_serial => match sign {
                None => patched(cur, &zone, input.serial, sets, defaults).map(Some),
                Some(sign) => sign.apply(cur, &commit_changes(&zone, input.serial, sets, defaults)?, now),
            },
            _ => Ok(None),
        },
        CommitChange::Whole(records) => {
            let text = zone_text(&zone, records, input.serial, defaults);
            let compiled = compile(&zone, &text, records)?;
            match sign {
                Some(sign) => sign.sign_whole(&compiled, now).map(Some),
                None => Ok(Some(compiled)),
            }
        }
    }
}
