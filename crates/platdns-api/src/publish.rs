//! From the store to DNS: a zone's applied records become RFC 1035 text, are
//! checked by the same reader that checks zone files, and are compiled into a
//! `platdns_zone::Zone` that a [`Publisher`] swaps in.
//!
//! A commit of a few records does not rebuild the zone: only the RRsets it
//! changes are rendered and parsed, and [`Zone::patch`] applies them to the
//! zone being served ([`patched`]). A whole build happens at start-up, for a
//! replacement (`atomic_changes`), a new default TTL, a zone not being served,
//! and off the commit path when a zone's overlay wants compaction.

use crate::{ApiError, AppState};
use platdns_steering::{Answer, LbConfig, Steering};
use platdns_zone::{Name, Rtype, Steered};

use std::sync::Arc;

pub use platdns_control::compile::{apex_of, commit_changes, compile, lb_zone, patched, zone_text};
pub use platdns_control::ZoneDefaults;
/// Where committed zones go: the DNS node's served state (in the data plane).
pub use platdns_dataplane::served::Publisher;

pub use platdns_control::context::ZoneLocks;
use platdns_control::publication::ended;
pub use platdns_control::publication::withdraw_ended;

pub use platdns_control::zones::{publish_committed, republish, republish_resigned};

/// A published LB domain: its compiled steering and which endpoints are
/// Ready now.
struct LbAnswer {
    steering: Steering,
    ready: Vec<bool>,
    meter: u32,
}

impl Steered for LbAnswer {
    fn answer(&self, qtype: Rtype, random: u32, out: &mut dyn FnMut(Rtype, u32, &[u8]) -> bool) -> usize {
        match self.steering.answer(qtype.0, &self.ready, random) {
            Answer::Endpoint { rtype, endpoint } => {
                let mut n = 0;
                for rdata in self.steering.rdata(endpoint) {
                    if !out(Rtype(rtype), self.steering.ttl(), rdata) {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Answer::NoData => 0,
        }
    }

    fn meter(&self) -> u32 {
        self.meter
    }
}

/// Serves an LB domain as it is configured now, or withdraws it (before
/// publication, or its contract ended). Ready bits come from the statuses
/// `lb.rs` derives (static monitorings until the health monitor runs).
pub async fn publish_lb(s: &AppState, l: &platdns_store::LbDomain) -> Result<(), ApiError> {
    // One publication of an LB domain at a time (its lock; LB ids are kept
    // apart from zone ids by their sign), each from what the store holds
    // now: a health change and a configuration change racing can then not
    // leave the older one served.
    let _one = s.zone_locks.lock(-l.id).await;
    let l = &s.store.get_lb_domain(l.id).await?;
    let name = Name::from_text(&l.name, None).map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    let contract = s.store.get_contract(l.contract_id).await?;
    if l.state != 2 || ended(s, &contract) {
        s.publisher.publish_steered(&name, None);
        return Ok(());
    }
    let config: LbConfig = serde_json::from_str(&l.config).map_err(|_| ApiError::internal())?;
    let states = if s.follower {
        crate::lb::stored_states(s, l, &config).await?
    } else {
        crate::lb::current_states(s, l, &config).await?
    };
    let rule = (!l.rule_resource_name.is_empty()).then_some(l.rule_resource_name.as_str());
    let answer = LbAnswer {
        steering: Steering::compile(&config, rule, s.zone_defaults.lb_ttl),
        ready: states.iter().map(|(_, st)| st.ready).collect(),
        meter: s.meters.slot(crate::meters::Service {
            contract_id: l.contract_id,
            kind: crate::meters::ServiceKind::LbDomain,
            id: l.id,
        }),
    };
    s.publisher.publish_steered(&name, Some(Arc::new(answer)));
    Ok(())
}

/// Publishes every servable zone in the store (at start-up).
pub async fn publish_all(s: &AppState) -> Result<usize, ApiError> {
    // The last known health first, so LB names answer as before the restart.
    crate::health::load(s).await?;
    let zones = s.store.list_zones(None, None).await?;
    s.publisher.publish(
        &Name::from_text(&s.zone_defaults.lb_zone, None).map_err(|_| ApiError::internal())?,
        Some(Arc::new(lb_zone(&s.zone_defaults)?)),
    );
    for l in s.store.list_lb_domains(None, None).await? {
        if let Err(e) = publish_lb(s, &l).await {
            tracing::error!(lb_domain = %l.name, error = %e.message, "LB domain not served");
        }
    }
    // Zones load side by side (issue 16): each waits on its SQL while others
    // compile on the blocking pool. A few per core keeps both busy without
    // filling the store's connection pool.
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let mut loading = tokio::task::JoinSet::new();
    let mut zones = zones.into_iter();
    let mut n = 0;
    loop {
        while loading.len() < parallel {
            let Some(z) = zones.next() else { break };
            let s = s.clone();
            loading.spawn(async move { (republish(&s, z.id).await, z.name) });
        }
        match loading.join_next().await {
            None => break,
            Some(Ok((Ok(()), _))) => n += 1,
            Some(Ok((Err(e), name))) => {
                tracing::error!(zone = %name, error = %e, "zone in the store does not build; not served")
            }
            Some(Err(e)) => tracing::error!(error = %e, "loading a zone panicked; not served"),
        }
    }
    Ok(n)
}
