//! A DNS node that follows the store (`serve --role dns`, issue 6: several
//! DNS nodes on one store). Once a second it compares what the store holds
//! with what it serves, and republishes what changed: a zone whose applied
//! version, eligibility or contract end changed (rebuilt whole from the
//! store's records: the incremental patch is the API process's, which
//! knows the commit), an LB domain whose configuration, applied rule or
//! stored endpoint states changed (the API's process derives the states
//! from health; a follower only serves them). Zones and LB domains gone
//! from the store stop being served.

use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use platdns_zone::Name;
use std::collections::HashMap;
use std::time::Duration;

/// What decides whether a zone is served as it is.
type ZoneKey = (i64, bool, Option<jiff::civil::Date>);

/// Follows the store, as the supervised service `follow`, until the
/// process stops. A restart starts from nothing known: it republishes
/// everything once rather than miss a change made while it was down.
pub fn start(s: &Control) {
    let state = s.clone();
    let started = std::sync::atomic::AtomicBool::new(false);
    s.supervisor.spawn("follow", move |mut ctx| {
        let s = state.clone();
        // Only the first start follows what publish_all served at start.
        let first = !started.swap(true, std::sync::atomic::Ordering::Relaxed);
        async move {
            let mut zones: HashMap<i64, (Name, ZoneKey)> = HashMap::new();
            let mut lbs: HashMap<i64, (Name, String)> = HashMap::new();
            ctx.round(sync(&s, &mut zones, &mut lbs, first).await);
            while ctx.wait(Duration::from_secs(1), None).await {
                ctx.round(sync(&s, &mut zones, &mut lbs, false).await);
            }
            Ok::<(), ControlError>(())
        }
    });
}

async fn sync(
    s: &Control,
    zones: &mut HashMap<i64, (Name, ZoneKey)>,
    lbs: &mut HashMap<i64, (Name, String)>,
    first: bool,
) -> ControlResult<()> {
    let contracts: HashMap<i64, Option<jiff::civil::Date>> = s
        .store
        .list_contracts(None)
        .await?
        .into_iter()
        .map(|c| (c.id, c.ends_on))
        .collect();
    let today = s.clock.now().to_zoned(s.time_zone.clone()).date();
    let mut seen = Vec::new();
    for z in s.store.list_zones(None, None).await? {
        seen.push(z.id);
        let ends = contracts.get(&z.contract_id).copied().flatten();
        // An end day that passes changes what is served, as a version does.
        let key = (z.version, z.eligibility.may_serve(), ends.filter(|end| *end < today));
        let Ok(apex) = Name::from_text(&format!("{}.", z.name), None) else {
            continue;
        };
        if zones.get(&z.id).map(|(_, k)| *k) != Some(key) {
            if !first {
                crate::zones::republish(s, z.id).await?;
                tracing::info!(zone = %z.name, version = z.version, "zone followed from the store");
            }
            zones.insert(z.id, (apex, key));
        }
    }
    withdraw_gone(zones, &seen, |apex| s.publisher.publish(apex, None));
    let mut seen = Vec::new();
    for l in s.store.list_lb_domains(None, None).await? {
        seen.push(l.id);
        let states = s.store.endpoint_states(l.id).await?;
        let ends = contracts
            .get(&l.contract_id)
            .copied()
            .flatten()
            .filter(|end| *end < today);
        let key = format!(
            "{}/{}/{}/{:?}/{:?}",
            l.version, l.state.code(), l.rule_resource_name, ends, states
        );
        let Ok(name) = Name::from_text(&l.name, None) else {
            continue;
        };
        if lbs.get(&l.id).map(|(_, k)| k) != Some(&key) {
            if !first {
                crate::lb::publish_lb(s, &l).await?;
            }
            lbs.insert(l.id, (name, key));
        }
    }
    withdraw_gone(lbs, &seen, |name| s.publisher.publish_steered(name, None));
    Ok(())
}

/// Forgets what the store no longer holds (ids not in `seen`), withdrawing
/// each from DNS.
fn withdraw_gone<K>(followed: &mut HashMap<i64, (Name, K)>, seen: &[i64], withdraw: impl Fn(&Name)) {
    followed.retain(|id, (name, _)| {
        let keep = seen.contains(id);
        if !keep {
            withdraw(name);
        }
        keep
    });
}
