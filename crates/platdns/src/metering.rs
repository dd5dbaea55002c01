//! The DNS node's side of contract usage (issue 6): once a second, at the
//! second's boundary, the node's per-slot counts since the last second go
//! to the store (R2.1), the restrictions in force are applied to its slots
//! (R4.2, within two seconds of a decision), and restricted slots start a
//! new second. Where the process also runs the API, it decides
//! restrictions (R4.1) and rolls seconds up into minutes.

use platdns_api::AppState;
use platdns_dataplane::server::DnsNode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// Starts the once-a-second loop, the supervised service `metering`. The
/// totals last counted outlive a restart, so a restart loses no query.
pub fn spawn(state: AppState, node: Arc<DnsNode>, control: bool) {
    let (mut answered, mut restricted) = (Vec::new(), Vec::new());
    node.meter_totals(state.meters.in_use(), &mut answered, &mut restricted);
    let counted = Arc::new(tokio::sync::Mutex::new((answered, restricted)));
    let supervisor = state.supervisor.clone();
    supervisor.spawn("metering", move |mut ctx| {
        let (state, node, counted) = (state.clone(), node.clone(), counted.clone());
        async move {
            let mut last = counted.lock().await;
            let (mut answered, mut restricted) = (Vec::new(), Vec::new());
            loop {
                // Sleep to the next second boundary (clock time, so nodes agree
                // on which second a count belongs to).
                let now = unix_now();
                let next = Duration::from_secs(now.as_secs() + 1);
                if !ctx.wait(next - now, None).await {
                    return Ok::<(), platdns_api::ApiError>(());
                }
                let (last_a, last_r) = &mut *last;
                let second = next.as_secs() as i64;
                node.restrictions.new_second();
                node.meter_totals(state.meters.in_use(), &mut answered, &mut restricted);
                let counts: Vec<(u32, u64, u64)> = (0..answered.len())
                    .filter_map(|i| {
                        let a = answered[i] - last_a.get(i).copied().unwrap_or(0);
                        let r = restricted[i] - last_r.get(i).copied().unwrap_or(0);
                        (a > 0 || r > 0).then_some((i as u32, a, r))
                    })
                    .collect();
                std::mem::swap(last_a, &mut answered);
                std::mem::swap(last_r, &mut restricted);
                // The counts of the second that just ended.
                let mut ok = true;
                if let Err(e) = platdns_api::usage::record_second(&state, second - 1, &counts).await {
                    ctx.failed("recording usage", &e);
                    ok = false;
                }
                if control {
                    if let Err(e) = platdns_api::usage::decide(&state, second).await {
                        ctx.failed("deciding restrictions", &e);
                        ok = false;
                    }
                    if second % 60 == 5 {
                        if let Err(e) = platdns_api::usage::roll_up(&state, second).await {
                            ctx.failed("rolling usage up", &e);
                            ok = false;
                        }
                    }
                }
                if let Err(e) = platdns_api::usage::apply(&state, &node.restrictions, second).await {
                    ctx.failed("applying restrictions", &e);
                    ok = false;
                }
                if ok {
                    ctx.succeeded();
                }
            }
        }
    });
}

/// Per-contract counters for `/metrics` (Prometheus text format).
pub fn metrics(state: &AppState, node: &DnsNode, out: &mut String) {
    use std::fmt::Write;
    let (mut answered, mut restricted) = (Vec::new(), Vec::new());
    node.meter_totals(state.meters.in_use(), &mut answered, &mut restricted);
    let _ = writeln!(
        out,
        "# HELP platdns_contract_queries_total Queries answered per contract and service on this node (R2.1)."
    );
    let _ = writeln!(out, "# TYPE platdns_contract_queries_total counter");
    let slots = state.meters.all();
    for (slot, svc) in &slots {
        let n = answered.get(*slot as usize).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "platdns_contract_queries_total{{contract_id=\"{}\",service=\"{}\",service_id=\"{}\"}} {n}",
            svc.contract_id,
            svc.kind.as_str(),
            svc.id
        );
    }
    let _ = writeln!(
        out,
        "# HELP platdns_contract_restricted_total Queries a restriction dropped, refused or truncated (R4.2)."
    );
    let _ = writeln!(out, "# TYPE platdns_contract_restricted_total counter");
    for (slot, svc) in &slots {
        let n = restricted.get(*slot as usize).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "platdns_contract_restricted_total{{contract_id=\"{}\",service=\"{}\",service_id=\"{}\"}} {n}",
            svc.contract_id,
            svc.kind.as_str(),
            svc.id
        );
    }
    let _ = writeln!(
        out,
        "# HELP platdns_meter_unmetered_services Zones and LB domains answered but not metered: no slot left (--meter-slots)."
    );
    let _ = writeln!(out, "# TYPE platdns_meter_unmetered_services gauge");
    let _ = writeln!(out, "platdns_meter_unmetered_services {}", state.meters.unmetered());
}
