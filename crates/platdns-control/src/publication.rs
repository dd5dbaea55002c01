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

/// A platform event in a zone's operation log (no operator; a request id
/// of its own): a DNSSEC step, a secondary's pull.
pub async fn log_zone_event(
    s: &Control,
    z: &platdns_store::Zone,
    log_type: &str,
    operation: &str,
    target: &str,
    status: &str,
) -> Result<(), platdns_store::StoreError> {
    let request_id = platdns_store::new_request_id();
    s.store
        .log_operation(
            z.contract_id,
            Some(z.id),
            None,
            log_type,
            None,
            operation,
            target,
            &request_id,
            status,
            s.clock.now(),
        )
        .await
}
