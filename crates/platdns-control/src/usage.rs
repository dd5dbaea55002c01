//! Contract usage (R4.1–R4.4) as the control plane runs it: a node's
//! per-second counts to the store, the once-a-second restriction decision
//! (pure rules in `platdns_contract::usage`) and its application to the
//! node's meter slots, roll-ups, and each month's QPS by the operator's
//! method. The API's `usage.rs` has the DPF and operator routes over it.

use crate::context::Control;
use crate::error::ControlResult;
use crate::meters::Service;
use platdns_contract::usage::{self as rules, Decision, MonthlyMethod, RestrictAction, RestrictionPolicy};
use platdns_contract::{ContractQps, Plan, Qps};
use platdns_dataplane::meter::{Action, Restrictions};
use platdns_store::{Restriction, UsageRow};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// Operator settings of usage and restriction.
#[derive(Debug, Clone)]
pub struct UsageSettings {
    /// This process's name among the DNS nodes (its usage rows).
    pub node: String,
    /// How a month's QPS is derived (R4.4).
    pub monthly: MonthlyMethod,
    /// The restriction policy of each plan (R4.1); `None` turns restriction
    /// off for the plan.
    pub basic: Option<RestrictionPolicy>,
    pub premium: Option<RestrictionPolicy>,
}

impl Default for UsageSettings {
    fn default() -> Self {
        UsageSettings {
            node: format!("node-{}", std::process::id()),
            monthly: MonthlyMethod::default(),
            basic: Some(RestrictionPolicy::default()),
            premium: Some(RestrictionPolicy::default()),
        }
    }
}

impl UsageSettings {
    /// The plan's policy, unless the operator set one for the contract.
    pub fn policy(
        &self,
        contract_id: i64,
        plan: Plan,
        overrides: &HashMap<i64, Option<RestrictionPolicy>>,
    ) -> Option<RestrictionPolicy> {
        if let Some(p) = overrides.get(&contract_id) {
            return *p;
        }
        match plan {
            Plan::Basic => self.basic,
            Plan::Premium => self.premium,
        }
    }
}

/// The operator's per-contract policies (R4.1: "overridable per contract").
pub async fn overrides(s: &Control) -> ControlResult<HashMap<i64, Option<RestrictionPolicy>>> {
    let mut out = HashMap::new();
    for (contract_id, text) in s.store.restriction_overrides().await? {
        let policy = match text {
            None => None,
            Some(t) => match serde_json::from_str(&t) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::error!(contract_id, error = %e, "stored restriction policy does not parse; plan's applies");
                    continue;
                }
            },
        };
        out.insert(contract_id, policy);
    }
    Ok(out)
}

/// The settings and what the node last applied.
#[derive(Default)]
pub struct Usage {
    pub settings: UsageSettings,
    /// Slots this node restricts now (to lift them when restrictions end).
    applied: Mutex<Vec<u32>>,
    /// Contracts whose configuration changes are frozen now (R4.2).
    frozen: Mutex<std::sync::Arc<std::collections::HashSet<i64>>>,
    /// Woken when the store's change feed says a restriction started or
    /// ended: a following node applies restrictions then, not each second.
    pub restrictions_changed: std::sync::Arc<tokio::sync::Notify>,
}

impl Usage {
    pub fn new(settings: UsageSettings) -> Usage {
        Usage {
            settings,
            ..Usage::default()
        }
    }

    /// The contracts frozen now (read by every tenant request).
    pub fn frozen(&self) -> std::sync::Arc<std::collections::HashSet<i64>> {
        self.frozen.lock().expect("not poisoned").clone()
    }
}

/// Writes one second of a node's counts: `(slot, answered, restricted)`
/// for the slots that counted anything.
pub async fn record_second(s: &Control, second: i64, counts: &[(u32, u64, u64)]) -> ControlResult<()> {
    let rows: Vec<UsageRow> = counts
        .iter()
        .filter_map(|&(slot, answered, restricted)| {
            let svc = s.meters.service(slot)?;
            Some(UsageRow {
                contract_id: svc.contract_id,
                service_kind: svc.kind.as_str().into(),
                service_id: svc.id,
                answered: answered as i64,
                restricted: restricted as i64,
            })
        })
        .collect();
    s.store.record_usage(&s.usage.settings.node, second, &rows).await?;
    Ok(())
}

fn contract_qps(s: &Control, c: &platdns_store::Contract) -> Qps {
    ContractQps::new(c.plan, c.extra_qps, &s.terms)
        .map(|q| q.total(&s.terms))
        .unwrap_or_else(|_| s.terms.standard(c.plan))
}

/// One restriction round at `now` (unix seconds): starts and ends
/// restrictions. Returns how many changed.
pub async fn decide(s: &Control, now: i64) -> ControlResult<usize> {
    let active: HashMap<i64, Restriction> = s
        .store
        .active_restrictions()
        .await?
        .into_iter()
        .map(|r| (r.contract_id, r))
        .collect();
    let overrides = overrides(s).await?;
    let mut windows: HashMap<u32, HashMap<i64, u64>> = HashMap::new();
    let mut changed = 0;
    let contracts = s.store.list_contracts(None).await?;
    for c in &contracts {
        let Some(policy) = s.usage.settings.policy(c.id, c.plan, &overrides) else {
            if let Some(r) = active.get(&c.id) {
                end(s, r, now).await?;
                changed += 1;
            }
            continue;
        };
        let by_contract = match windows.get(&policy.window_secs) {
            Some(w) => w,
            None => {
                let w = policy.window_secs;
                let sums = s.store.usage_by_contract(now - i64::from(w), now).await?;
                let map = sums.into_iter().map(|(id, a, r)| (id, (a + r).max(0) as u64)).collect();
                windows.entry(policy.window_secs).or_insert(map)
            }
        };
        let limit = contract_qps(s, c);
        // Each node cuts its seconds when its once-a-second loop wakes, a few
        // milliseconds past the boundary, so a window can hold slightly more
        // than its length of traffic (bench/usage.sh measured 502 queries
        // over 5 s at exactly 100 QPS). A tenth of a second of the contract
        // QPS is forgiven for it: a contract exactly at its limit is never
        // restricted by the cut's jitter. The rule itself stays exact.
        let slack = u64::from(limit.0).div_ceil(10);
        let queries = by_contract.get(&c.id).copied().unwrap_or(0).saturating_sub(slack);
        let until = active.get(&c.id).map(|r| r.ends_at.as_second());
        match rules::decide(queries, limit, &policy, until, now) {
            Decision::Keep => {}
            Decision::End => {
                if let Some(r) = active.get(&c.id) {
                    end(s, r, now).await?;
                    changed += 1;
                }
            }
            Decision::Start { measured_mqps, ends_at } => {
                let at = |t: i64| jiff::Timestamp::from_second(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                let r = s
                    .store
                    .start_restriction(&Restriction {
                        id: 0,
                        contract_id: c.id,
                        started_at: at(now),
                        ends_at: at(ends_at),
                        ended_at: None,
                        measured_mqps: measured_mqps as i64,
                        limit_qps: i64::from(limit.0),
                        window_secs: i64::from(policy.window_secs),
                        action: policy.action.as_str().into(),
                        freeze: policy.freeze_changes,
                    })
                    .await?;
                tracing::warn!(
                    contract = %c.public_id,
                    measured_qps = measured_mqps as f64 / 1000.0,
                    contract_qps = limit.0,
                    action = %r.action,
                    "contract restricted (R4.1)"
                );
                log(s, c.id, "qps_restriction_started", &describe(&r)).await?;
                changed += 1;
            }
        }
    }
    Ok(changed)
}

async fn end(s: &Control, r: &Restriction, now: i64) -> ControlResult<()> {
    let at = jiff::Timestamp::from_second(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    s.store.end_restriction(r.id, at).await?;
    tracing::info!(contract_id = r.contract_id, "contract restriction ended");
    log(s, r.contract_id, "qps_restriction_ended", &describe(r)).await
}

/// The log target of a restriction: its cause in figures.
fn describe(r: &Restriction) -> String {
    format!(
        "measured {}.{:03} qps over {} s > contract {} qps; {} until {}",
        r.measured_mqps / 1000,
        r.measured_mqps % 1000,
        r.window_secs,
        r.limit_qps,
        r.action,
        r.ends_at
    )
}

/// R4.3: a restriction in the contract's log (our operations, beside DPF's).
async fn log(s: &Control, contract_id: i64, operation: &str, target: &str) -> ControlResult<()> {
    let e = crate::publication::Event {
        contract_id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "service",
        operation,
        target,
        status: "success",
    };
    crate::publication::log_event(s, e).await?;
    Ok(())
}

/// Sets the restrictions in force on this node's slots and lifts the
/// others. A restricted contract's limit is shared by the nodes that
/// counted its queries in the last ten seconds.
pub async fn apply(s: &Control, restrictions: &Restrictions, now: i64) -> ControlResult<usize> {
    let active = s.store.active_restrictions().await?;
    let frozen: std::collections::HashSet<i64> = active.iter().filter(|r| r.freeze).map(|r| r.contract_id).collect();
    *s.usage.frozen.lock().expect("not poisoned") = std::sync::Arc::new(frozen);
    let mut set = Vec::new();
    for r in &active {
        let action = match RestrictAction::from_text(&r.action) {
            Some(RestrictAction::Drop) => Action::Drop,
            Some(RestrictAction::Refuse) => Action::Refuse,
            Some(RestrictAction::Truncate) => Action::Truncate,
            Some(RestrictAction::None) | None => continue,
        };
        let nodes = s.store.usage_nodes(r.contract_id, now - 10, now).await?.max(1);
        let limit = rules::per_node_limit(Qps(r.limit_qps.max(0) as u32), nodes as u32);
        for (slot, svc) in s.meters.all() {
            if svc.contract_id == r.contract_id {
                restrictions.set(slot, Some((action, limit)));
                set.push(slot);
            }
        }
    }
    let mut applied = s.usage.applied.lock().expect("not poisoned");
    for slot in applied.iter() {
        if !set.contains(slot) {
            restrictions.set(*slot, None);
        }
    }
    let n = set.len();
    *applied = set;
    Ok(n)
}

/// Rolls complete minutes up (keeping the last hour of seconds) and drops
/// minutes past 90 days.
pub async fn roll_up(s: &Control, now: i64) -> ControlResult<()> {
    // A minute is complete a few seconds after it ends (late node writes).
    let done = (now - 5) / 60;
    s.store.roll_up_usage(done, now - 3600).await?;
    s.store.purge_usage_minutes(done - 90 * 24 * 60).await?;
    fix_last_month(s).await
}

/// The first minute (unix minutes) of each of the 12 months ending with
/// this one, in the operator's time zone, and the end of the last.
pub fn months(s: &Control) -> Vec<(String, i64, i64)> {
    let now = s.clock.now().to_zoned(s.time_zone.clone());
    let first = now.date().first_of_month();
    let mut out = Vec::new();
    for back in (0..12).rev() {
        let start = first.checked_sub(jiff::Span::new().months(back)).unwrap_or(first);
        let end = start.checked_add(jiff::Span::new().months(1)).unwrap_or(start);
        let minute = |d: jiff::civil::Date| {
            d.to_zoned(s.time_zone.clone())
                .map(|z| z.timestamp().as_second() / 60)
                .unwrap_or(0)
        };
        out.push((start.strftime("%Y-%m").to_string(), minute(start), minute(end)));
    }
    out
}

/// Per-service and contract-total monthly QPS of `months` for a contract,
/// from the per-minute counts (the last hour from the seconds, so the
/// current month is current), by the operator's method.
pub type Figures = (BTreeMap<(String, i64), Vec<u64>>, Vec<u64>);

pub async fn figures(s: &Control, contract_id: i64, months: &[(String, i64, i64)]) -> ControlResult<Figures> {
    let (Some(first), Some(last)) = (months.first(), months.last()) else {
        return Ok((BTreeMap::new(), Vec::new()));
    };
    let (from, to) = (first.1, last.2);
    let now_minute = s.clock.now().as_second() / 60;
    let recent = (s.clock.now().as_second() - 3600) / 60 + 1;
    let mut series = s
        .store
        .usage_minutes_by_service(contract_id, from, recent.min(to))
        .await?;
    series.extend(
        s.store
            .usage_second_minutes_by_service(contract_id, recent * 60, to * 60)
            .await?,
    );
    let mut by_service: BTreeMap<(String, i64), BTreeMap<i64, u64>> = BTreeMap::new();
    let mut total: BTreeMap<i64, u64> = BTreeMap::new();
    for (kind, sid, minute, answered) in series {
        let n = answered.max(0) as u64;
        *by_service.entry((kind, sid)).or_default().entry(minute).or_default() += n;
        *total.entry(minute).or_default() += n;
    }
    let method = s.usage.settings.monthly;
    let per_month = |minutes: &BTreeMap<i64, u64>| -> Vec<u64> {
        months
            .iter()
            .map(|(_, start, end)| {
                let counts: Vec<u64> = minutes.range(*start..*end).map(|(_, n)| *n).collect();
                let elapsed = (now_minute.min(*end) - start).max(0) as usize;
                rules::monthly_qps(&counts, elapsed, method)
            })
            .collect()
    };
    Ok((
        by_service.iter().map(|(k, m)| (k.clone(), per_month(m))).collect(),
        per_month(&total),
    ))
}

/// Fixes the figures of the month before this one for every contract, once
/// (R4.4: minutes go after 90 days; the month's figure stays).
pub async fn fix_last_month(s: &Control) -> ControlResult<()> {
    let months = months(s);
    let last = months[10].clone();
    if s.store.month_done(&last.0).await? {
        return Ok(());
    }
    let mut rows = Vec::new();
    for c in s.store.list_contracts(None).await? {
        let (services, total) = figures(s, c.id, std::slice::from_ref(&last)).await?;
        rows.push((c.id, String::new(), 0, total.first().copied().unwrap_or(0) as i64));
        for ((kind, sid), v) in services {
            rows.push((c.id, kind, sid, v.first().copied().unwrap_or(0) as i64));
        }
    }
    s.store.save_month_figures(&last.0, &rows).await?;
    tracing::info!(month = %last.0, contracts = rows.len(), "monthly QPS figures fixed");
    Ok(())
}

/// The meter slots of a contract's services on this node (for `/metrics`).
pub fn slots_of(s: &Control) -> Vec<(u32, Service)> {
    s.meters.all()
}
