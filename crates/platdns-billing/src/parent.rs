//! What billing needs to know of a parent contract and its services: when
//! each was accepted, when billing starts and ends, the plan over time, and
//! the change requests (R5.1). The store fills these in; this crate only
//! reads them.

use crate::{BillingError, BillingMonth, BillingSettings, ChangeKind};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use platdns_contract::{termination_date, ContractQps, Plan, PlanTerms};
use serde::{Deserialize, Serialize};

/// How a contract or service came to exist, which decides whether an initial
/// fee is due (Art. 10: when the provider accepts the application).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "origin", rename_all = "snake_case")]
pub enum Origin {
    /// Applied for; the initial fee falls due at `accepted_at` (R7.1).
    Applied { accepted_at: Timestamp },
    /// Carried over from an earlier contract (supplementary provisions,
    /// R9.1): no application, so no initial fee.
    Migrated { legacy_id: String },
}

/// The two kinds of child service (Art. 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKind {
    ManagedDns,
    TrafficManagement,
}

/// A child service under the parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub kind: ServiceKind,
    pub origin: Origin,
    /// 課金開始日 (Art. 10): the first day its monthly fee is due.
    pub billing_start: Date,
    /// The last day billed: its removal or the parent's end, whichever is
    /// first. `None` while it runs.
    #[serde(default)]
    pub end: Option<Date>,
}

/// The plan and extra QPS in force from `from` until the next period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPeriod {
    pub from: Date,
    #[serde(with = "crate::plan_serde")]
    pub plan: Plan,
    #[serde(default)]
    pub extra_qps: u32,
}

/// A change request accepted by the provider (R5.1), which may carry a
/// one-time fee (R7.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeRequest {
    pub id: String,
    pub kind: ChangeKind,
    pub accepted_at: Timestamp,
}

/// A parent contract as billing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentContract {
    pub id: String,
    pub origin: Origin,
    /// 課金開始日 (Art. 10) of the parent's monthly fee.
    pub billing_start: Date,
    /// The effective end (Art. 9, R5.2), the last day billed; see
    /// [`effective_end`]. `None` while no termination is pending.
    #[serde(default)]
    pub end: Option<Date>,
    /// Strictly increasing `from` days; the first at or before `billing_start`.
    pub plans: Vec<PlanPeriod>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub changes: Vec<ChangeRequest>,
}

impl ParentContract {
    /// Checks what the arithmetic relies on: ordered plan periods and no
    /// billing period that ends before it starts.
    pub fn check(&self) -> Result<(), BillingError> {
        if self.plans.windows(2).any(|w| w[0].from >= w[1].from) {
            return Err(BillingError::PlanPeriodsOutOfOrder {
                contract: self.id.clone(),
            });
        }
        check_span("contract", &self.id, self.billing_start, self.end)?;
        for s in &self.services {
            check_span("service", &s.id, s.billing_start, s.end)?;
        }
        Ok(())
    }

    /// R2.2 by the contract crate's rule: no extra QPS on Basic, and extra
    /// QPS in whole units of `extra_qps_unit` on Premium.
    pub fn check_qps(&self, p: &PlanPeriod, extra_qps_unit: u32) -> Result<(), BillingError> {
        let terms = PlanTerms {
            extra_step: extra_qps_unit,
            ..PlanTerms::default()
        };
        ContractQps::new(p.plan, p.extra_qps, &terms)
            .map(|_| ())
            .map_err(|source| BillingError::Contract {
                contract: self.id.clone(),
                source,
            })
    }

    /// Whether the parent's monthly fee is due on `day`.
    pub fn billed_on(&self, day: Date) -> bool {
        self.billing_start <= day && self.end.is_none_or(|e| day <= e)
    }

    /// Whether a service's monthly fee is due on `day`: inside its own span
    /// and its parent's (a child never outlives its parent, R5.2).
    pub fn service_billed_on(&self, s: &Service, day: Date) -> bool {
        self.billed_on(day) && s.billing_start <= day && s.end.is_none_or(|e| day <= e)
    }

    /// The plan period in force on `day`.
    pub fn plan_on(&self, day: Date) -> Result<&PlanPeriod, BillingError> {
        self.plans
            .iter()
            .rev()
            .find(|p| p.from <= day)
            .ok_or_else(|| BillingError::NoPlanOn {
                contract: self.id.clone(),
                day,
            })
    }

    /// The plan on the day the contract was accepted (for its initial fee).
    pub fn first_plan(&self) -> Option<Plan> {
        self.plans.first().map(|p| p.plan)
    }

    /// The months with any billed day: from the billing start's month to the
    /// effective end's (`None`: still running). No minimum term (Art. 3): a
    /// contract that ends in its first month is billed for that month only.
    pub fn billed_months(&self) -> (BillingMonth, Option<BillingMonth>) {
        (
            BillingMonth::of_date(self.billing_start),
            self.end.map(last_billed_month),
        )
    }
}

fn check_span(what: &'static str, id: &str, start: Date, end: Option<Date>) -> Result<(), BillingError> {
    match end {
        Some(end) if end < start => Err(BillingError::EndsBeforeStart {
            what,
            id: id.to_string(),
            start,
            end,
        }),
        _ => Ok(()),
    }
}

/// Art. 9 / R5.2: a notice of termination received at `notice_received`
/// (an instant; its day is taken in the operator's zone) ends the contract
/// on the later of notice + `settings.notice_days` and the day the customer
/// named. That day is the last day billed. Computed by
/// `platdns_contract::termination_date`, so the rule lives in one place.
pub fn effective_end(
    contract_id: &str,
    notice_received: Timestamp,
    requested: Option<Date>,
    settings: &BillingSettings,
    tz: &TimeZone,
) -> Result<Date, BillingError> {
    let notice_day = tz.to_datetime(notice_received).date();
    termination_date(notice_day, requested, settings.notice_days).map_err(|source| BillingError::Contract {
        contract: contract_id.to_string(),
        source,
    })
}

/// The last month an invoice carries monthly fees for, given the effective
/// end (Art. 9). There is no minimum term (Art. 3), so nothing is billed
/// past it.
pub fn last_billed_month(end: Date) -> BillingMonth {
    BillingMonth::of_date(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::month::tests::jst;
    use jiff::civil::date;

    #[test]
    fn r5_2_notice_whose_30_days_cross_a_month_end() {
        // Notice reaches the provider 2026-11-20 10:00 JST (01:00Z): 20 Nov + 30
        // days = 20 Dec, so December is the last billed month.
        let s = BillingSettings::default();
        let t: Timestamp = "2026-11-20T01:00:00Z".parse().unwrap();
        let end = effective_end("c1", t, None, &s, &jst()).unwrap();
        assert_eq!(end, date(2026, 12, 20));
        assert_eq!(last_billed_month(end), BillingMonth::new(2026, 12).unwrap());
        // 2026-11-30 16:00Z is already 1 Dec in Tokyo: 1 Dec + 30 = 31 Dec.
        let t: Timestamp = "2026-11-30T16:00:00Z".parse().unwrap();
        assert_eq!(effective_end("c1", t, None, &s, &jst()).unwrap(), date(2026, 12, 31));
        // A later named day wins: 2027-02-28.
        let t: Timestamp = "2026-11-20T01:00:00Z".parse().unwrap();
        assert_eq!(
            effective_end("c1", t, Some(date(2027, 2, 28)), &s, &jst()).unwrap(),
            date(2027, 2, 28)
        );
    }

    #[test]
    fn r2_4_no_minimum_term_a_contract_may_end_in_its_first_month() {
        let c = ParentContract {
            id: "c".into(),
            origin: Origin::Migrated { legacy_id: "l".into() },
            billing_start: date(2026, 11, 3),
            end: Some(date(2026, 11, 20)),
            plans: vec![PlanPeriod {
                from: date(2026, 11, 3),
                plan: Plan::Basic,
                extra_qps: 0,
            }],
            services: vec![],
            changes: vec![],
        };
        let nov = BillingMonth::new(2026, 11).unwrap();
        assert_eq!(c.billed_months(), (nov, Some(nov)));
        assert!(c.check().is_ok());
    }

    #[test]
    fn r2_2_extra_qps_on_basic_is_refused_by_the_contract_rule() {
        let c = ParentContract {
            id: "c".into(),
            origin: Origin::Migrated { legacy_id: "l".into() },
            billing_start: date(2026, 11, 1),
            end: None,
            plans: vec![PlanPeriod {
                from: date(2026, 11, 1),
                plan: Plan::Basic,
                extra_qps: 100,
            }],
            services: vec![],
            changes: vec![],
        };
        assert!(matches!(
            c.check_qps(&c.plans[0], 100),
            Err(BillingError::Contract { .. })
        ));
    }
}
