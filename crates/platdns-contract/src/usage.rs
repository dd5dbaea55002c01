//! Contract QPS in use (SPEC R2.1, R4.1–R4.4): when a contract's measured
//! QPS is over its contract QPS (a restriction), and what a month's QPS is.
//! Pure: counts and times are arguments; the store and the DNS nodes do the
//! counting.
//!
//! Figures are kept in thousandths of a query per second (mQPS), so a
//! window of any length measures exactly and the comparison with the
//! contract QPS has no rounding.

use crate::Qps;
use serde::{Deserialize, Serialize};

/// What a restriction does to the queries over the contract QPS (R4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RestrictAction {
    /// Answers up to the contract QPS; the rest get no answer.
    Drop,
    /// The rest get REFUSED.
    Refuse,
    /// The rest get an empty answer with TC (UDP): clients may retry over TCP.
    Truncate,
    /// Queries are all answered; only configuration changes are frozen
    /// (with `freeze_changes`).
    None,
}

impl RestrictAction {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictAction::Drop => "drop",
            RestrictAction::Refuse => "refuse",
            RestrictAction::Truncate => "truncate",
            RestrictAction::None => "none",
        }
    }

    pub fn from_text(text: &str) -> Option<RestrictAction> {
        match text {
            "drop" => Some(RestrictAction::Drop),
            "refuse" => Some(RestrictAction::Refuse),
            "truncate" => Some(RestrictAction::Truncate),
            "none" => Some(RestrictAction::None),
            _ => None,
        }
    }
}

/// The operator's restriction policy (R4.1), per plan and overridable per
/// contract. The terms fix none of these figures; the defaults are ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestrictionPolicy {
    /// The measuring window: the contract's queries over the last
    /// `window_secs` seconds, answered and restricted alike (what was
    /// asked, not what was let through).
    pub window_secs: u32,
    /// A restriction starts when the measured QPS is over
    /// contract QPS × `threshold_percent` / 100 (100: any excess).
    pub threshold_percent: u32,
    /// How long a restriction lasts; at its end the contract is measured
    /// again like any other.
    pub period_secs: u32,
    pub action: RestrictAction,
    /// Configuration changes are refused while restricted.
    pub freeze_changes: bool,
}

impl Default for RestrictionPolicy {
    /// One minute's average over the contract QPS at all, ten minutes of
    /// answering up to the contract QPS and dropping the rest; changes stay
    /// allowed.
    fn default() -> Self {
        RestrictionPolicy {
            window_secs: 60,
            threshold_percent: 100,
            period_secs: 600,
            action: RestrictAction::Drop,
            freeze_changes: false,
        }
    }
}

/// Thousandths of a query per second over a window: `queries × 1000 /
/// window`, rounded down.
pub fn measured_mqps(queries: u64, window_secs: u32) -> u64 {
    queries.saturating_mul(1000) / u64::from(window_secs.max(1))
}

/// R4.1: is `measured_mqps` over the contract QPS as the policy's threshold
/// scales it? Exactly at the threshold is not over.
pub fn exceeds(measured_mqps: u64, contract: Qps, policy: &RestrictionPolicy) -> bool {
    // measured / 1000 > contract × threshold / 100, in integers.
    u128::from(measured_mqps) * 100 > u128::from(contract.0) * 1000 * u128::from(policy.threshold_percent)
}

/// What to do about one contract this second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Restrict from `now` until `ends_at` (unix seconds), for this figure.
    Start { measured_mqps: u64, ends_at: i64 },
    /// The restriction in force ends now.
    End,
    /// Nothing changes.
    Keep,
}

/// R4.1–R4.3 for one contract at `now` (unix seconds): `queries` asked in
/// the window just ended, the contract QPS in force now (a plan change
/// mid-window applies from the moment it is made), and the end of the
/// restriction in force, if any. A restriction runs its whole period; the
/// contract is then measured afresh (the restricted queries of the period
/// count as asked, so a flood that goes on is restricted again at once).
pub fn decide(
    queries: u64,
    contract: Qps,
    policy: &RestrictionPolicy,
    in_force_until: Option<i64>,
    now: i64,
) -> Decision {
    if let Some(until) = in_force_until {
        return if now >= until { Decision::End } else { Decision::Keep };
    }
    let measured = measured_mqps(queries, policy.window_secs);
    if exceeds(measured, contract, policy) {
        Decision::Start {
            measured_mqps: measured,
            ends_at: now + i64::from(policy.period_secs),
        }
    } else {
        Decision::Keep
    }
}

/// What one DNS node lets through of a restricted contract each second:
/// the contract QPS shared by the nodes the contract's queries reach,
/// rounded up (a contract is never held below its contract QPS overall).
pub fn per_node_limit(contract: Qps, nodes: u32) -> u32 {
    contract.0.div_ceil(nodes.max(1))
}

/// How a month's QPS is derived from per-minute averages (R4.4; an
/// operator setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonthlyMethod {
    /// The highest per-minute average of the month.
    #[default]
    Max,
    /// The 95th percentile (nearest rank) of the per-minute averages over
    /// every minute of the month so far, minutes without queries counting
    /// as 0: the busiest 5 % of minutes do not count.
    P95,
}

/// A month's QPS from the query counts of the minutes that had queries and
/// the number of minutes the month has had: the chosen per-minute count
/// divided by 60, rounded down.
pub fn monthly_qps(minute_counts: &[u64], minutes_in_period: usize, method: MonthlyMethod) -> u64 {
    let chosen = match method {
        MonthlyMethod::Max => minute_counts.iter().copied().max().unwrap_or(0),
        MonthlyMethod::P95 => {
            let n = minutes_in_period.max(minute_counts.len());
            if n == 0 {
                return 0;
            }
            // Nearest rank: the ceil(0.95 n)-th smallest, zeros included.
            let rank = (95 * n).div_ceil(100);
            let mut sorted: Vec<u64> = minute_counts.to_vec();
            sorted.sort_unstable();
            let zeros = n - sorted.len();
            if rank <= zeros {
                0
            } else {
                sorted[rank - zeros - 1]
            }
        }
    };
    chosen / 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestrictionPolicy {
        RestrictionPolicy::default()
    }

    #[test]
    fn r4_1_exactly_at_the_limit_is_not_over_and_one_more_query_is() {
        let p = policy();
        // Contract QPS 100, a 60 s window: 6000 queries is exactly 100 QPS.
        assert_eq!(measured_mqps(6000, 60), 100_000);
        assert_eq!(decide(6000, Qps(100), &p, None, 1_000), Decision::Keep);
        // 6001 queries: 100.016 QPS, over.
        assert_eq!(
            decide(6001, Qps(100), &p, None, 1_000),
            Decision::Start {
                measured_mqps: 100_016,
                ends_at: 1_600
            }
        );
        // A threshold of 150 %: 150 QPS is not over, 150.016 is.
        let lenient = RestrictionPolicy {
            threshold_percent: 150,
            ..p
        };
        assert!(!exceeds(measured_mqps(9000, 60), Qps(100), &lenient));
        assert!(exceeds(measured_mqps(9001, 60), Qps(100), &lenient));
    }

    #[test]
    fn r4_3_a_restriction_lasts_its_period_then_the_contract_is_measured_again() {
        let p = policy();
        assert_eq!(decide(1_000_000, Qps(100), &p, Some(1_600), 1_599), Decision::Keep);
        assert_eq!(
            decide(0, Qps(100), &p, Some(1_600), 1_600),
            Decision::End,
            "at its end, whatever the load"
        );
        assert_eq!(decide(0, Qps(100), &p, None, 1_601), Decision::Keep);
    }

    #[test]
    fn r2_2_premium_extra_qps_raises_the_limit_and_a_plan_change_applies_at_once() {
        let terms = crate::PlanTerms::default();
        let premium = crate::ContractQps::new(crate::Plan::Premium, 300, &terms).unwrap();
        let limit = premium.total(&terms);
        let window = 60u64;
        let at_limit = u64::from(limit.0) * window;
        assert_eq!(decide(at_limit, limit, &policy(), None, 0), Decision::Keep);
        assert!(matches!(
            decide(at_limit + 1, limit, &policy(), None, 0),
            Decision::Start { .. }
        ));
        // The same window measured against the Basic figure after a plan
        // change mid-window is over: the contract QPS in force now counts.
        let basic = crate::ContractQps::new(crate::Plan::Basic, 0, &terms)
            .unwrap()
            .total(&terms);
        assert!(basic.0 < limit.0);
        assert!(matches!(
            decide(at_limit, basic, &policy(), None, 0),
            Decision::Start { .. }
        ));
    }

    #[test]
    fn nodes_share_the_limit_rounding_up() {
        assert_eq!(per_node_limit(Qps(100), 1), 100);
        assert_eq!(per_node_limit(Qps(100), 3), 34);
        assert_eq!(per_node_limit(Qps(100), 0), 100);
    }

    #[test]
    fn r4_4_monthly_qps_by_max_and_by_95th_percentile() {
        // 100 minutes: 94 without queries, then 6 busy ones.
        let busy = [600, 1200, 1800, 2400, 3000, 6000];
        assert_eq!(monthly_qps(&busy, 100, MonthlyMethod::Max), 100, "6000 / 60");
        // Nearest rank 95 of 100: 94 zeros, then 600 → 10 QPS.
        assert_eq!(monthly_qps(&busy, 100, MonthlyMethod::P95), 10);
        // Rounded down: 659 queries in a minute is 10.98 QPS.
        assert_eq!(monthly_qps(&[659], 1, MonthlyMethod::Max), 10);
        assert_eq!(monthly_qps(&[], 0, MonthlyMethod::P95), 0);
        assert_eq!(monthly_qps(&[60; 20], 20, MonthlyMethod::P95), 1, "every minute alike");
    }
}
