//! Service credits and their claims (SPEC R8.1–R8.2, Art. 11, App. 3).
//!
//! A claim names a child service and the month of the breach. It is decided
//! against that month's availability and that month's invoice (so "the
//! monthly fee" is what was actually billed, proration included):
//! - Premium only (Art. 11): the month's invoice must bill a Premium parent
//!   fee;
//! - received by the end of the 15th of the next month in the operator's
//!   zone (Art. 11), else refused with the deadline;
//! - the rate from App. 3's bands; none at exactly 100%;
//! - the base per R8.1 / App. 3 note: a managed DNS service's "monthly fee"
//!   is its parent's (Premium fee and extra-QPS fee); a traffic management
//!   service's is its own plus its parent's.
//!
//! Our choice where the terms are silent: the parent's fee is credited at
//! most once per month, whichever claim comes first (by time received), and
//! each service's own fee at most once, so the credits of a month never
//! exceed the monthly fees they are computed from (RULES.md).

use crate::parent::{ParentContract, ServiceKind};
use crate::{
    day_start, Availability, BillingError, BillingMonth, BillingSettings, Fraction, Invoice, InvoiceLine, LineKind,
    Rounding, Yen,
};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use platdns_contract::Plan;
use serde::{Deserialize, Serialize};

const RULE_CREDIT: &str = "R8.1, R8.2; Art. 11, App. 3";

/// A customer's claim for a credit (a record, kept with its decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub id: String,
    /// The child service the claim is for.
    pub service: String,
    pub breach_month: BillingMonth,
    pub received_at: Timestamp,
}

/// Why a claim is refused; each names its rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// Art. 11: not claimed by the deadline day of the next month.
    Late { deadline: Date, received_at: Timestamp },
    /// Claimed before the breach month began.
    BeforeBreachMonth { received_at: Timestamp },
    /// Art. 11, R8.2: credits are for Premium only.
    NotPremium,
    /// App. 3: availability was 100%; there was no breach.
    NoBreach,
    /// The service is not under this contract.
    UnknownService,
    /// Everything this claim could be credited was credited by an earlier
    /// claim for the same month (our rule: each fee credited once).
    AlreadyCredited { by: String },
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Late { deadline, received_at } => format!(
                "claims for this month closed at the end of {deadline} (Art. 11); this one arrived {received_at}"
            ),
            Refusal::BeforeBreachMonth { received_at } => {
                format!("the claim ({received_at}) predates the month it claims for")
            }
            Refusal::NotPremium => "service credits apply to the Premium plan only (Art. 11, R8.2)".to_string(),
            Refusal::NoBreach => "availability was 100%: there is no breach to credit (App. 3)".to_string(),
            Refusal::UnknownService => "the service is not under this contract".to_string(),
            Refusal::AlreadyCredited { by } => {
                format!("this month's fees for the service were already credited by claim {by}")
            }
        }
    }
}

/// A credit granted: `amount = base × rate`, rounded (R7.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCredit {
    pub claim: String,
    pub service: String,
    pub breach_month: BillingMonth,
    /// Availability in ppm, rounded down (display; the band was decided exactly).
    pub availability_ppm: u32,
    pub rate: Fraction,
    /// The monthly fee it is computed from (R8.1), extra-QPS fee included.
    pub base: Yen,
    pub rounding: Rounding,
    pub amount: Yen,
}

impl ServiceCredit {
    /// The credit as an invoice line (negative amount).
    pub fn line(&self) -> InvoiceLine {
        let from = self.breach_month.first_day();
        InvoiceLine {
            kind: LineKind::ServiceCredit,
            rule: RULE_CREDIT.to_string(),
            service: Some(self.service.clone()),
            plan: Some(Plan::Premium),
            change: None,
            from,
            to: self.breach_month.last_day(),
            price_version: None,
            unit_price: self.base,
            quantity: 1,
            factor: Some(self.rate),
            rounding: Some(self.rounding),
            amount: -self.amount,
            note: format!(
                "service credit, claim {}: availability {}.{:04}% in {}, {} of {}",
                self.claim,
                self.availability_ppm / 10_000,
                self.availability_ppm % 10_000,
                self.breach_month,
                self.rate,
                self.base
            ),
        }
    }
}

/// A claim's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClaimDecision {
    Accepted { claim: String, credit: ServiceCredit },
    Refused { claim: String, refusal: Refusal },
}

/// The last day a claim for `breach` is accepted: the deadline day (15th by
/// default, the month's last day if shorter) of the next month.
pub fn claim_deadline_day(breach: BillingMonth, settings: &BillingSettings) -> Result<Date, BillingError> {
    let next = breach.next()?;
    let day = settings.claim_deadline_day.clamp(1, next.days() as i8);
    Date::new(next.year(), next.month(), day).map_err(|_| BillingError::DateOutOfRange)
}

/// The first instant at which a claim for `breach` is late: 00:00:00 after
/// the deadline day in the operator's zone. A claim at 23:59:59 on the 15th
/// is in time; one at 00:00:00 on the 16th is not.
pub fn claim_closes_at(
    breach: BillingMonth,
    settings: &BillingSettings,
    tz: &TimeZone,
) -> Result<Timestamp, BillingError> {
    let last = claim_deadline_day(breach, settings)?;
    day_start(last.tomorrow().map_err(|_| BillingError::DateOutOfRange)?, tz)
}

/// Whether a claim is in time (Art. 11), with the refusal if not.
pub fn check_claim_time(
    claim: &Claim,
    settings: &BillingSettings,
    tz: &TimeZone,
) -> Result<Option<Refusal>, BillingError> {
    if claim.received_at < claim.breach_month.start(tz)? {
        return Ok(Some(Refusal::BeforeBreachMonth {
            received_at: claim.received_at,
        }));
    }
    if claim.received_at >= claim_closes_at(claim.breach_month, settings, tz)? {
        return Ok(Some(Refusal::Late {
            deadline: claim_deadline_day(claim.breach_month, settings)?,
            received_at: claim.received_at,
        }));
    }
    Ok(None)
}

/// Decides every claim for one breach month of `contract`, in the order
/// received (ties by id), against the month's `availability` and its
/// `invoice` (without credits).
pub fn decide_claims(
    contract: &ParentContract,
    claims: &[Claim],
    availability: &Availability,
    invoice: &Invoice,
    settings: &BillingSettings,
    tz: &TimeZone,
) -> Result<Vec<ClaimDecision>, BillingError> {
    // A credit is a part of the fee, never more (App. 3's largest is "all").
    if let Some(b) = settings.credit_bands.iter().find(|b| !b.rate.is_at_most_one()) {
        return Err(BillingError::BadCreditRate {
            min_ppm: b.min_ppm,
            rate: b.rate.to_string(),
        });
    }
    let mut order: Vec<&Claim> = claims.iter().collect();
    order.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    for c in &order {
        if c.breach_month != invoice.month || availability.month != invoice.month {
            return Err(BillingError::ClaimForAnotherMonth {
                claim: c.id.clone(),
                claim_month: c.breach_month.to_string(),
                invoice_month: invoice.month.to_string(),
            });
        }
    }
    // The parent's Premium monthly fee and extra-QPS fee as billed (R8.1).
    let premium: Vec<&InvoiceLine> = invoice
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LineKind::ParentMonthly | LineKind::ExtraQps) && l.plan == Some(Plan::Premium))
        .collect();
    let parent_fee: Yen = premium.iter().map(|l| l.amount).sum();
    let rate = availability.credit_rate(&settings.credit_bands);

    let mut parent_credited_by: Option<String> = None;
    let mut own_credited: Vec<(String, String)> = Vec::new(); // (service, claim)
    let mut out = Vec::new();
    for c in order {
        let refuse = |refusal| ClaimDecision::Refused {
            claim: c.id.clone(),
            refusal,
        };
        if let Some(r) = check_claim_time(c, settings, tz)? {
            out.push(refuse(r));
            continue;
        }
        let Some(service) = contract.services.iter().find(|s| s.id == c.service) else {
            out.push(refuse(Refusal::UnknownService));
            continue;
        };
        if premium.is_empty() {
            out.push(refuse(Refusal::NotPremium));
            continue;
        }
        let Some(rate) = rate else {
            out.push(refuse(Refusal::NoBreach));
            continue;
        };
        let mut base = Yen::ZERO;
        let mut by = None;
        match &parent_credited_by {
            None => base = base + parent_fee,
            Some(first) => by = Some(first.clone()),
        }
        if service.kind == ServiceKind::TrafficManagement {
            match own_credited.iter().find(|(s, _)| *s == service.id) {
                None => {
                    base = base
                        + invoice
                            .lines
                            .iter()
                            .filter(|l| {
                                l.kind == LineKind::TrafficManagementMonthly
                                    && l.service.as_deref() == Some(&service.id)
                            })
                            .map(|l| l.amount)
                            .sum();
                }
                Some((_, first)) => by = Some(first.clone()),
            }
        }
        if base == Yen::ZERO {
            out.push(refuse(Refusal::AlreadyCredited {
                by: by.unwrap_or_default(),
            }));
            continue;
        }
        if parent_credited_by.is_none() {
            parent_credited_by = Some(c.id.clone());
        }
        if service.kind == ServiceKind::TrafficManagement && !own_credited.iter().any(|(s, _)| *s == service.id) {
            own_credited.push((service.id.clone(), c.id.clone()));
        }
        let credit = ServiceCredit {
            claim: c.id.clone(),
            service: service.id.clone(),
            breach_month: c.breach_month,
            availability_ppm: availability.ppm_floor(),
            rate,
            base,
            rounding: settings.rounding,
            amount: base.times(1, rate, settings.rounding),
        };
        out.push(ClaimDecision::Accepted {
            claim: c.id.clone(),
            credit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
