//! What the control plane decides about serving, over the store and the
//! publisher only.

use crate::context::Control;
use crate::error::ControlResult;
use platdns_zone::Name;

/// R5.2: a contract serves until the end of its end day (in the operator's
/// time zone), and not after.
pub fn ended(s: &Control, c: &platdns_store::Contract) -> bool {
    let today = s.clock.now().to_zoned(s.time_zone.clone()).date();
    c.ends_on.is_some_and(|end| end < today)
}

/// Stops serving the zones of every contract past its end date; their data
/// stays in the store, readable by the operator. Returns how many zones.
pub async fn withdraw_ended(s: &Control) -> ControlResult<usize> {
    let mut n = 0;
    for c in s.store.list_contracts(None).await? {
        if !ended(s, &c) {
            continue;
        }
        for z in s.store.list_zones(None, Some(c.id)).await? {
            if let Ok(apex) = Name::from_text(&format!("{}.", z.name), None) {
                s.publisher.publish(&apex, None);
                n += 1;
            }
        }
        // LB names end with their contract too.
        for l in s.store.list_lb_domains(None, Some(c.id)).await? {
            if let Ok(name) = Name::from_text(&l.name, None) {
                s.publisher.publish_steered(&name, None);
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The meter slot a zone's answers count against (R2.1).
pub fn zone_meter(s: &Control, z: &platdns_store::Zone) -> u32 {
    s.meters.slot(crate::meters::Service {
        contract_id: z.contract_id,
        kind: crate::meters::ServiceKind::Zone,
        id: z.id,
    })
}

/// What the platform itself records in a log (no operator, a request id
/// of its own): state changes, transfers, restrictions, deliveries.
pub struct Event<'a> {
    pub contract_id: i64,
    pub zone_id: Option<i64>,
    pub lb_domain_id: Option<i64>,
    pub log_type: &'a str,
    pub operation: &'a str,
    pub target: &'a str,
    pub status: &'a str,
}

impl<'a> Event<'a> {
    /// A platform event of a zone, in the zone's log.
    pub fn zone(
        z: &platdns_store::Zone,
        log_type: &'a str,
        operation: &'a str,
        target: &'a str,
        status: &'a str,
    ) -> Event<'a> {
        Event {
            contract_id: z.contract_id,
            zone_id: Some(z.id),
            lb_domain_id: None,
            log_type,
            operation,
            target,
            status,
        }
    }
}

pub async fn log_event(s: &Control, e: Event<'_>) -> Result<(), platdns_store::StoreError> {
    s.store
        .log_operation(
            e.contract_id,
            e.zone_id,
            e.lb_domain_id,
            e.log_type,
            None,
            e.operation,
            e.target,
            &platdns_store::new_request_id(),
            e.status,
            s.clock.now(),
        )
        .await
}

/// A platform event in a zone's operation log: a DNSSEC step, a
/// secondary's pull.
pub async fn log_zone_event(
    s: &Control,
    z: &platdns_store::Zone,
    log_type: &str,
    operation: &str,
    target: &str,
    status: &str,
) -> Result<(), platdns_store::StoreError> {
    log_event(s, Event::zone(z, log_type, operation, target, status)).await
}
