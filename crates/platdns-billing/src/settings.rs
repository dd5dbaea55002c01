//! Operator settings for billing. Every figure the terms state is a default
//! here, never a constant in code (SPEC preamble).

use crate::{Fraction, Rounding};
use serde::{Deserialize, Serialize};

/// Whether monthly fees other than the additional zone monthly fee are
/// prorated by day in a month the fee is billed for only in part (R7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proration {
    /// fee × days billed / days in the month, rounded as `rounding` says.
    /// The default: App. 2's note exempts only the additional zone monthly
    /// fee from "the daily proration formula" (日割計算式), which says the
    /// other monthly fees are prorated (see RULES.md).
    #[default]
    Daily,
    /// A month billed for any day is billed in full, at the state (plan,
    /// extra QPS, price version) of its last billed day.
    None,
}

/// What a probe slot in which no probe point reported counts as (the prober
/// itself was down). See `availability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownSlots {
    /// Removed from both numerator and denominator, like excluded time, and
    /// reported as a count so the operator sees it. The default: a gap in
    /// the provider's own measurement is evidence neither way.
    #[default]
    Excluded,
    /// Counted as available time.
    Available,
    /// Counted as unavailable time (the customer-friendly reading).
    Unavailable,
}

/// One credit band (App. 3): availability at least `min_ppm` parts per
/// million (and below the next band up) gives `rate` of the monthly fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditBand {
    pub min_ppm: u32,
    pub rate: Fraction,
}

/// App. 3's table: 99.5% ≤ a < 100% → 1/10; 95% ≤ a < 99.5% → 1/4;
/// a < 95% → the whole monthly fee.
pub fn default_credit_bands() -> Vec<CreditBand> {
    vec![
        CreditBand {
            min_ppm: 995_000,
            rate: Fraction::new(1, 10),
        },
        CreditBand {
            min_ppm: 950_000,
            rate: Fraction::new(1, 4),
        },
        CreditBand {
            min_ppm: 0,
            rate: Fraction::ONE,
        },
    ]
}

fn default_claim_deadline_day() -> i8 {
    15
}

fn default_notice_days() -> i32 {
    30
}

fn default_probe_interval_seconds() -> u32 {
    60
}

/// The billing settings the operator edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingSettings {
    /// How every division of yen is rounded (R7.3; default down).
    pub rounding: Rounding,
    /// Daily proration of monthly fees (R7.2; default daily, see [`Proration`]).
    pub proration: Proration,
    /// A credit claim is accepted up to the end of this day of the month after
    /// the breach month (Art. 11: the 15th).
    #[serde(default = "default_claim_deadline_day")]
    pub claim_deadline_day: i8,
    /// Days from a termination notice to the earliest end (Art. 9: 30).
    #[serde(default = "default_notice_days")]
    pub notice_days: i32,
    /// App. 3's bands; ordered from the highest `min_ppm` down on use.
    #[serde(default = "default_credit_bands")]
    pub credit_bands: Vec<CreditBand>,
    /// The prober's interval (R6.2; default 60 s).
    #[serde(default = "default_probe_interval_seconds")]
    pub probe_interval_seconds: u32,
    pub unknown_slots: UnknownSlots,
}

impl Default for BillingSettings {
    fn default() -> Self {
        BillingSettings {
            rounding: Rounding::default(),
            proration: Proration::default(),
            claim_deadline_day: default_claim_deadline_day(),
            notice_days: default_notice_days(),
            credit_bands: default_credit_bands(),
            probe_interval_seconds: default_probe_interval_seconds(),
            unknown_slots: UnknownSlots::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_to_the_terms_figures() {
        let s: BillingSettings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, BillingSettings::default());
        assert_eq!(s.claim_deadline_day, 15);
        assert_eq!(s.notice_days, 30);
        assert_eq!(s.rounding, Rounding::Down);
        assert_eq!(s.proration, Proration::Daily);
        assert_eq!(s.probe_interval_seconds, 60);
        let s: BillingSettings = serde_json::from_str(r#"{"rounding":"half_up","proration":"none"}"#).unwrap();
        assert_eq!((s.rounding, s.proration), (Rounding::HalfUp, Proration::None));
    }
}
