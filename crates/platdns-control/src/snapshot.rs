//! The `snapshot` service of a following DNS node (issue 19): every two
//! seconds, the store zones published or withdrawn since are written to (or
//! removed from) the node's local copy (`platdns_dataplane::snapshot`), each
//! tagged with its zone and contract for the usage meter, so that a node
//! restarted while the store is away serves its last copy at once.

use crate::context::Control;
use crate::meters::{Service, ServiceKind};
use platdns_dataplane::served::ServedZones;
use platdns_dataplane::snapshot;
use platdns_zone::Zone;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Starts keeping `served`'s store zones in `dir`: those published or
/// withdrawn since `served.track_changes()` was called (before start-up
/// published anything) and from now on.
pub fn start(s: &Control, served: Arc<ServedZones>, dir: PathBuf) {
    let state = s.clone();
    s.supervisor.every("snapshot", Duration::from_secs(2), None, move |_| {
        let (meters, served, dir) = (state.meters.clone(), served.clone(), dir.clone());
        async move {
            let changed = served.take_changed();
            if changed.is_empty() {
                return Ok(());
            }
            // File writes: on the blocking pool, not the async workers.
            let written = tokio::task::spawn_blocking(move || {
                for (apex, zone) in changed {
                    match zone {
                        Some(z) => snapshot::write_zone(&dir, &z, &tags(&meters, &z))?,
                        None => snapshot::remove_zone(&dir, &apex)?,
                    }
                }
                Ok::<(), std::io::Error>(())
            })
            .await
            .map_err(|e| format!("the snapshot writer panicked: {e}"))?;
            written.map_err(|e| format!("writing the snapshot: {e}"))
        }
    });
}

/// The zone and contract a served zone counts for, from its meter slot.
fn tags(meters: &crate::meters::MeterSlots, z: &Zone) -> Vec<(&'static str, String)> {
    match meters.service(z.meter()) {
        Some(svc) if svc.kind == ServiceKind::Zone => {
            vec![("zone", svc.id.to_string()), ("contract", svc.contract_id.to_string())]
        }
        _ => Vec::new(),
    }
}

/// The meter of a zone read back from the snapshot, from its tags.
pub fn meter_of(meters: &crate::meters::MeterSlots, tags: &[(String, String)]) -> Option<u32> {
    let tag = |k: &str| tags.iter().find(|(key, _)| key == k)?.1.parse().ok();
    Some(meters.slot(Service {
        contract_id: tag("contract")?,
        kind: ServiceKind::Zone,
        id: tag("zone")?,
    }))
}
