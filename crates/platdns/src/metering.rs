//! The DNS node's side of contract usage (issue 6): once a second, at the
//! second's boundary, the node's per-slot counts since the last second are
//! queued for the store (R2.1) and written in order, the restrictions in
//! force are applied to its slots (R4.2, within two seconds of a decision),
//! and restricted slots start a new second. Where the process also runs
//! the API, it decides restrictions (R4.1) and rolls seconds up into
//! minutes.

use platdns_api::AppState;
use platdns_dataplane::server::DnsNode;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// One second's counts not yet in the store: `(slot, answered,
/// restricted)` per slot that counted anything.
type Second = (i64, Vec<(u32, u64, u64)>);

/// The seconds counted and not yet in the store, oldest first, and the
/// totals last counted; kept across the services' restarts.
#[derive(Default)]
struct Usage {
    answered: Vec<u64>,
    restricted: Vec<u64>,
    backlog: std::collections::VecDeque<Second>,
}

/// Starts the node's usage services (issue 19: nothing lost while the
/// store is away):
/// - `metering`: at each second's boundary, the counts of the second that
///   ended are queued and the restricted slots start a new second. It never
///   waits on the store, so a second's counts stay in their second however
///   long a write takes.
/// - `usage-writer`: writes the queued seconds in order, each in its own
///   second (idempotent: a retry replaces); while the store is unreachable
///   they wait, up to `backlog_secs` of them (then the oldest are dropped,
///   and logged).
/// - `restrictions`: once a second, the restrictions in force applied to
///   the node's slots (R4.2); where the process also runs the API, decided
///   first (R4.1), and seconds rolled up into minutes.
///
/// The totals last counted outlive a restart of `metering`, so it loses no
/// query.
pub fn spawn(state: AppState, node: Arc<DnsNode>, control: bool, backlog_secs: usize) {
    let mut first = Usage::default();
    node.meter_totals(state.meters.in_use(), &mut first.answered, &mut first.restricted);
    let usage = Arc::new(std::sync::Mutex::new(first));
    let written = Arc::new(tokio::sync::Notify::new());
    let supervisor = state.supervisor.clone();
    let (counting, queued, meters) = (node.clone(), usage.clone(), state.meters.clone());
    let wake = written.clone();
    supervisor.spawn("metering", move |mut ctx| {
        let (node, usage, meters, wake) = (counting.clone(), queued.clone(), meters.clone(), wake.clone());
        async move {
            let (mut answered, mut restricted) = (Vec::new(), Vec::new());
            loop {
                // Sleep to the next second boundary (clock time, so nodes agree
                // on which second a count belongs to).
                let now = unix_now();
                let next = Duration::from_secs(now.as_secs() + 1);
                if !ctx.wait(next - now, None).await {
                    return Ok::<(), platdns_api::ApiError>(());
                }
                let second = next.as_secs() as i64;
                node.restrictions.new_second();
                node.meter_totals(meters.in_use(), &mut answered, &mut restricted);
                let mut u = usage.lock().expect("not poisoned");
                let counts: Vec<(u32, u64, u64)> = (0..answered.len())
                    .filter_map(|i| {
                        let a = answered[i] - u.answered.get(i).copied().unwrap_or(0);
                        let r = restricted[i] - u.restricted.get(i).copied().unwrap_or(0);
                        (a > 0 || r > 0).then_some((i as u32, a, r))
                    })
                    .collect();
                std::mem::swap(&mut u.answered, &mut answered);
                std::mem::swap(&mut u.restricted, &mut restricted);
                if !counts.is_empty() {
                    u.backlog.push_back((second - 1, counts));
                }
                if u.backlog.len() > backlog_secs {
                    let (lost, _) = u.backlog.pop_front().expect("longer than the bound");
                    tracing::error!(
                        second = lost,
                        backlog_secs,
                        "usage of a second dropped: the store took none for too long"
                    );
                }
                drop(u);
                wake.notify_one();
                ctx.succeeded();
            }
        }
    });
    let writing = state.clone();
    supervisor.spawn("usage-writer", move |mut ctx| {
        let (s, usage, written) = (writing.clone(), usage.clone(), written.clone());
        async move {
            loop {
                let front = usage.lock().expect("not poisoned").backlog.front().cloned();
                let Some((at, counts)) = front else {
                    if !ctx.wait(Duration::from_secs(1), Some(&written)).await {
                        return Ok::<(), platdns_api::ApiError>(());
                    }
                    continue;
                };
                match platdns_api::usage::record_second(&s, at, &counts).await {
                    Ok(()) => {
                        let mut u = usage.lock().expect("not poisoned");
                        if u.backlog.front().is_some_and(|(second, _)| *second == at) {
                            u.backlog.pop_front();
                        }
                        ctx.succeeded();
                    }
                    Err(e) => {
                        ctx.failed("recording usage", &e);
                        if !ctx.wait(Duration::from_secs(1), None).await {
                            return Ok(());
                        }
                    }
                }
            }
        }
    });
    supervisor.spawn("restrictions", move |mut ctx| {
        let (state, node) = (state.clone(), node.clone());
        async move {
            // A following node applies at once when it starts (a
            // restriction may be in force), then when the change feed says
            // one moved, and every 30 s besides; the API's process decides
            // and applies each second.
            let mut first = !control;
            loop {
                let woken = match (first, control) {
                    (true, _) => true,
                    (false, true) => {
                        let now = unix_now();
                        let next = Duration::from_secs(now.as_secs() + 1);
                        ctx.wait(next - now, None).await
                    }
                    (false, false) => {
                        ctx.wait(Duration::from_secs(30), Some(&state.usage.restrictions_changed))
                            .await
                    }
                };
                first = false;
                if !woken {
                    return Ok::<(), platdns_api::ApiError>(());
                }
                let second = unix_now().as_secs() as i64;
                let mut ok = true;
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
