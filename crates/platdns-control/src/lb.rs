//! LB domains as the DNS node serves them (issue 5): each endpoint's Live
//! and Ready carried through the state machine (`platdns_steering::status`)
//! from the health monitor's results and stored, the steering compiled
//! and published as a steered name, and every stored zone and LB domain
//! published at start-up.

use crate::compile::lb_zone;
use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use crate::notify::StateChange;
use crate::publication::ended;
use platdns_steering::status::{endpoint_live, EndpointFlags, EndpointState};
use platdns_steering::{Answer, LbConfig, Steering};
use platdns_store::LbDomain;
use platdns_zone::{Name, Rtype, Steered};
use std::sync::Arc;

pub fn up_down(b: bool) -> &'static str {
    if b {
        "up"
    } else {
        "down"
    }
}

pub fn pack(f: EndpointFlags) -> i64 {
    i64::from(f.enabled) | i64::from(f.manual_failover) << 1 | i64::from(f.manual_failback) << 2
}

pub fn unpack(bits: i64) -> EndpointFlags {
    EndpointFlags {
        enabled: bits & 1 != 0,
        manual_failover: bits & 2 != 0,
        manual_failback: bits & 4 != 0,
    }
}

pub fn flags_of(e: &platdns_steering::model::Endpoint) -> EndpointFlags {
    EndpointFlags {
        enabled: e.enabled,
        manual_failover: e.manual_failover,
        manual_failback: e.manual_failback,
    }
}

/// Every endpoint's Live and Ready as the store holds them (a follower
/// node serves what the API's process derived; an endpoint not stored yet
/// is down).
pub async fn stored_states(
    s: &Control,
    l: &LbDomain,
    config: &LbConfig,
) -> ControlResult<Vec<(String, EndpointState)>> {
    let stored: std::collections::HashMap<String, (bool, bool)> = s
        .store
        .endpoint_states(l.id)
        .await?
        .into_iter()
        .map(|(n, live, ready, _)| (n, (live, ready)))
        .collect();
    Ok(config
        .sites
        .iter()
        .flat_map(|site| site.endpoints.iter())
        .map(|e| {
            let (live, ready) = stored.get(&e.resource_name).copied().unwrap_or((false, false));
            (e.resource_name.clone(), EndpointState { live, ready })
        })
        .collect())
}

/// Every endpoint's Live and Ready now, keyed by resource name: the stored
/// state carried forward through the state machine with the current
/// settings and monitoring results, and stored again where it changed.
pub async fn current_states(
    s: &Control,
    l: &LbDomain,
    config: &LbConfig,
) -> ControlResult<Vec<(String, EndpointState)>> {
    let stored: std::collections::HashMap<String, (bool, bool, i64)> = s
        .store
        .endpoint_states(l.id)
        .await?
        .into_iter()
        .map(|(n, live, ready, f)| (n, (live, ready, f)))
        .collect();
    let mut out = Vec::new();
    let mut changes = Vec::new();
    for site in &config.sites {
        let (mut site_before, mut site_after, mut site_known) = (false, false, false);
        for e in &site.endpoints {
            let live = endpoint_live(e.monitorings.iter().map(|m| {
                (
                    m.enabled,
                    s.health.result(config, &e.monitoring_target, &m.resource_name),
                )
            }));
            let flags = flags_of(e);
            let before = stored.get(&e.resource_name).copied();
            let mut state = match before {
                Some((live, ready, f)) => {
                    let mut st = EndpointState { live, ready };
                    st.on_flags(unpack(f), flags);
                    st
                }
                None => EndpointState::default(),
            };
            state.on_live(live, flags);
            if before != Some((state.live, state.ready, pack(flags))) {
                s.store
                    .save_endpoint_state(l.id, &e.resource_name, state.live, state.ready, pack(flags))
                    .await?;
            }
            if let Some((live, ready, _)) = before {
                for (operation, old, new) in [
                    ("endpoint_live_status_changed", live, state.live),
                    ("endpoint_ready_status_changed", ready, state.ready),
                ] {
                    if old != new {
                        let at = format!("{}/{}", site.resource_name, e.resource_name);
                        changes.push(StateChange::status(operation, at, old, new));
                    }
                }
                site_known = true;
                site_before |= ready;
            }
            site_after |= state.ready;
            out.push((e.resource_name.clone(), state));
        }
        // A site is Live while one of its endpoints is Ready (SEMANTICS.md).
        if site_known && site_before != site_after {
            changes.push(StateChange::status(
                "site_live_status_changed",
                site.resource_name.clone(),
                site_before,
                site_after,
            ));
        }
    }
    crate::notify::state_changed(s, l, &changes).await;
    Ok(out)
}

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
pub async fn publish_lb(s: &Control, l: &platdns_store::LbDomain) -> ControlResult<()> {
    // One publication of an LB domain at a time (its lock; LB ids are kept
    // apart from zone ids by their sign), each from what the store holds
    // now: a health change and a configuration change racing can then not
    // leave the older one served.
    let _one = s.zone_locks.lock(-l.id).await;
    let l = &s.store.get_lb_domain(l.id).await?;
    let name = Name::from_text(&l.name, None).map_err(|e| ControlError::invalid("name", e.to_string()))?;
    let contract = s.store.get_contract(l.contract_id).await?;
    if l.state != platdns_store::Publication::Published || ended(s, &contract) {
        s.publisher.publish_steered(&name, None);
        return Ok(());
    }
    let config: LbConfig =
        serde_json::from_str(&l.config).map_err(|e| ControlError::Internal(format!("LB domain {}: {e}", l.name)))?;
    let states = if s.follower {
        stored_states(s, l, &config).await?
    } else {
        current_states(s, l, &config).await?
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
pub async fn publish_all(s: &Control) -> ControlResult<usize> {
    // The last known health first, so LB names answer as before the restart.
    crate::health::load(s).await?;
    s.publisher.publish(
        &Name::from_text(&s.zone_defaults.lb_zone, None)
            .map_err(|e| ControlError::invalid("lb_zone", e.to_string()))?,
        Some(Arc::new(lb_zone(&s.zone_defaults)?)),
    );
    for l in s.store.list_lb_domains(None, None).await? {
        if let Err(e) = publish_lb(s, &l).await {
            tracing::error!(lb_domain = %l.name, error = %e, "LB domain not served");
        }
    }
    crate::zones::publish_stored(s).await
}
