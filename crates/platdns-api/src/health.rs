//! The LB health monitor's operator view (`GET /operator/v1/monitors`);
//! the monitor itself is `platdns_control::health`.

pub use platdns_control::health::*;

use crate::AppState;
use serde::Serialize;

/// What `GET /operator/v1/monitors` shows.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonitorsView {
    /// Monitors heard from within the stale period.
    pub monitors: Vec<MonitorView>,
    /// Checks whose result is frozen for want of a monitor quorum.
    pub frozen_checks: usize,
    /// When the oldest freeze began.
    pub frozen_since: Option<String>,
    /// `true` while any check is frozen.
    pub alert: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MonitorView {
    pub instance: String,
    pub location: String,
    pub seen_at: String,
    pub checks: i64,
    pub stalled: bool,
}

pub fn view(s: &AppState) -> MonitorsView {
    let frozen = s.health.frozen.lock().expect("not poisoned");
    let alive = s.health.alive.lock().expect("not poisoned");
    MonitorsView {
        monitors: alive
            .iter()
            .map(|b| MonitorView {
                instance: b.instance.clone(),
                location: b.location.clone(),
                seen_at: b.seen_at.to_string(),
                checks: b.checks,
                stalled: b.stalled,
            })
            .collect(),
        frozen_checks: frozen.len(),
        frozen_since: frozen.values().min().map(ToString::to_string),
        alert: !frozen.is_empty(),
    }
}
