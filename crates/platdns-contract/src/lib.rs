//! `platdns-contract`: the rules of a parent contract, from the provider's
//! terms (SPEC §1–5), as pure functions over plain values. No I/O, no clock
//! of its own: callers pass dates, so tests fix time.
//!
//! - [`Plan`] and [`PlanTerms`]: what each plan includes (Art. 2), operator
//!   configuration with the terms' figures as defaults.
//! - [`ContractQps`]: standard + extra QPS (R2.2), changes of plan and of extra
//!   QPS (R2.3).
//! - [`ContractState`]: before use / in use, and R1.1 (no contract in use
//!   without a service).
//! - [`termination_date`], for R5.2.
//! - [`Eligibility`]: R3.1, a zone served only once consent is proven.

pub mod usage;

use jiff::civil::Date;
use std::fmt;

/// The contract plans (DPF `plan`: 1 Basic, 2 Premium).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    Basic,
    Premium,
}

impl Plan {
    /// DPF's integer code.
    pub fn code(self) -> i64 {
        match self {
            Plan::Basic => 1,
            Plan::Premium => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<Plan> {
        match code {
            1 => Some(Plan::Basic),
            2 => Some(Plan::Premium),
            _ => None,
        }
    }

    /// Only Premium carries the availability guarantee (SPEC §2, R6.1, R8.2).
    pub fn has_availability_guarantee(self) -> bool {
        self == Plan::Premium
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Plan::Basic => "basic",
            Plan::Premium => "premium",
        })
    }
}

/// Queries per second, summed over every service of a contract and every
/// name server of the platform (R2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Qps(pub u32);

impl fmt::Display for Qps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} QPS", self.0)
    }
}

/// What the plans include: operator configuration. The defaults are the
/// terms' figures (SPEC §2: Basic 100 QPS and no extra; Premium 200 QPS,
/// extra in steps of 100).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTerms {
    pub basic_standard: Qps,
    pub premium_standard: Qps,
    /// Extra QPS is sold in multiples of this (Premium only).
    pub extra_step: u32,
}

impl Default for PlanTerms {
    fn default() -> Self {
        PlanTerms {
            basic_standard: Qps(100),
            premium_standard: Qps(200),
            extra_step: 100,
        }
    }
}

impl PlanTerms {
    pub fn standard(&self, plan: Plan) -> Qps {
        match plan {
            Plan::Basic => self.basic_standard,
            Plan::Premium => self.premium_standard,
        }
    }
}

/// Why a contract change is refused. Each names the rule it enforces.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("extra QPS is not available on the Basic plan (R2.2)")]
    ExtraQpsOnBasic,
    #[error("extra QPS must be a multiple of {step} (R2.2); {given} is not")]
    ExtraQpsNotMultiple { step: u32, given: u32 },
    #[error("the contract has {extra} extra QPS; a change to Basic must drop it explicitly (R2.3)")]
    DowngradeWithExtraQps { extra: u32 },
    #[error("a contract cannot be in use without a managed DNS or traffic management service (R1.1)")]
    NoServices,
    #[error("the requested termination day {requested} is before the notice arrived ({notice})")]
    TerminationBeforeNotice { requested: Date, notice: Date },
}

/// A contract's QPS: the plan's standard QPS plus any extra (R2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContractQps {
    plan: Plan,
    extra: u32,
}

/// What to do with extra QPS when a Premium contract moves to Basic (R2.3):
/// refuse with a clear error, or drop it, saying so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downgrade {
    Refuse,
    DropExtraQps,
}

/// The result of a plan change: the new QPS and the extra QPS dropped by it
/// (never silently: the caller records it with the change request, R5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanChange {
    pub qps: ContractQps,
    pub dropped_extra: u32,
}

impl ContractQps {
    /// A plan with `extra` QPS, checked against R2.2.
    pub fn new(plan: Plan, extra: u32, terms: &PlanTerms) -> Result<ContractQps, ContractError> {
        check_extra(plan, extra, terms)?;
        Ok(ContractQps { plan, extra })
    }

    pub fn plan(&self) -> Plan {
        self.plan
    }

    pub fn extra(&self) -> u32 {
        self.extra
    }

    /// Contract QPS = standard + extra (R2.2).
    pub fn total(&self, terms: &PlanTerms) -> Qps {
        Qps(terms.standard(self.plan).0.saturating_add(self.extra))
    }

    /// Changes the extra QPS (R2.3: Premium only).
    pub fn with_extra(self, extra: u32, terms: &PlanTerms) -> Result<ContractQps, ContractError> {
        ContractQps::new(self.plan, extra, terms)
    }

    /// Changes the plan (R2.3). Upgrades keep no extra; a downgrade with extra
    /// QPS follows `downgrade`.
    pub fn change_plan(self, to: Plan, downgrade: Downgrade) -> Result<PlanChange, ContractError> {
        match (self.plan, to, self.extra, downgrade) {
            (Plan::Premium, Plan::Basic, extra, Downgrade::Refuse) if extra > 0 => {
                Err(ContractError::DowngradeWithExtraQps { extra })
            }
            (Plan::Premium, Plan::Basic, extra, Downgrade::DropExtraQps) => Ok(PlanChange {
                qps: ContractQps {
                    plan: Plan::Basic,
                    extra: 0,
                },
                dropped_extra: extra,
            }),
            (_, to, extra, _) => Ok(PlanChange {
                qps: ContractQps { plan: to, extra },
                dropped_extra: 0,
            }),
        }
    }
}

fn check_extra(plan: Plan, extra: u32, terms: &PlanTerms) -> Result<(), ContractError> {
    match plan {
        Plan::Basic if extra > 0 => Err(ContractError::ExtraQpsOnBasic),
        Plan::Premium if terms.extra_step == 0 || !extra.is_multiple_of(terms.extra_step) => {
            Err(ContractError::ExtraQpsNotMultiple {
                step: terms.extra_step,
                given: extra,
            })
        }
        _ => Ok(()),
    }
}

/// DPF contract `state`: 1 before use, 2 in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractState {
    BeforeUse,
    InUse,
}

impl ContractState {
    pub fn code(self) -> i64 {
        match self {
            ContractState::BeforeUse => 1,
            ContractState::InUse => 2,
        }
    }

    pub fn from_code(code: i64) -> Option<ContractState> {
        match code {
            1 => Some(ContractState::BeforeUse),
            2 => Some(ContractState::InUse),
            _ => None,
        }
    }
}

/// R1.1: a contract may be in use only with at least one child service.
pub fn check_in_use(state: ContractState, services: usize) -> Result<(), ContractError> {
    if state == ContractState::InUse && services == 0 {
        return Err(ContractError::NoServices);
    }
    Ok(())
}

/// R5.2: the contract ends on the later of the day `notice_days` after the
/// notice reached the provider and the day the customer named. Serving goes
/// on until then. `notice_days` is operator configuration (the terms say 30).
pub fn termination_date(
    notice_received: Date,
    requested: Option<Date>,
    notice_days: i32,
) -> Result<Date, ContractError> {
    let earliest = notice_received
        .checked_add(jiff::Span::new().days(notice_days as i64))
        .unwrap_or(Date::MAX);
    match requested {
        Some(r) if r < notice_received => Err(ContractError::TerminationBeforeNotice {
            requested: r,
            notice: notice_received,
        }),
        Some(r) => Ok(r.max(earliest)),
        None => Ok(earliest),
    }
}

/// R3.1: a zone is served only once consent for it is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eligibility {
    /// Waiting for proof; the zone is not served.
    Pending { token: String },
    /// Proven by a TXT record carrying `token` seen at the parent side.
    VerifiedByTxt { token: String },
    /// Proven by delegation to the platform's name servers.
    VerifiedByDelegation,
    /// Approved by an operator, who said why.
    ApprovedByOperator { operator: String, reason: String },
}

impl Eligibility {
    pub fn may_serve(&self) -> bool {
        !matches!(self, Eligibility::Pending { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn terms() -> PlanTerms {
        PlanTerms::default()
    }

    #[test]
    fn r2_2_contract_qps_is_standard_plus_extra() {
        let t = terms();
        assert_eq!(ContractQps::new(Plan::Basic, 0, &t).unwrap().total(&t), Qps(100));
        assert_eq!(ContractQps::new(Plan::Premium, 0, &t).unwrap().total(&t), Qps(200));
        assert_eq!(ContractQps::new(Plan::Premium, 300, &t).unwrap().total(&t), Qps(500));
    }

    #[test]
    fn r2_2_extra_qps_rejected_on_basic_and_off_step_on_premium() {
        let t = terms();
        assert_eq!(
            ContractQps::new(Plan::Basic, 100, &t),
            Err(ContractError::ExtraQpsOnBasic)
        );
        assert_eq!(
            ContractQps::new(Plan::Premium, 150, &t),
            Err(ContractError::ExtraQpsNotMultiple { step: 100, given: 150 })
        );
        assert!(ContractQps::new(Plan::Premium, 100, &t).is_ok());
        assert_eq!(
            ContractQps::new(Plan::Premium, 1, &t),
            Err(ContractError::ExtraQpsNotMultiple { step: 100, given: 1 })
        );
    }

    #[test]
    fn r2_2_plan_figures_are_operator_configuration() {
        let t = PlanTerms {
            basic_standard: Qps(50),
            premium_standard: Qps(400),
            extra_step: 50,
        };
        let q = ContractQps::new(Plan::Premium, 150, &t).unwrap();
        assert_eq!(q.total(&t), Qps(550));
    }

    #[test]
    fn r2_3_downgrade_with_extra_is_refused_or_dropped_explicitly() {
        let t = terms();
        let q = ContractQps::new(Plan::Premium, 200, &t).unwrap();
        assert_eq!(
            q.change_plan(Plan::Basic, Downgrade::Refuse),
            Err(ContractError::DowngradeWithExtraQps { extra: 200 })
        );
        let change = q.change_plan(Plan::Basic, Downgrade::DropExtraQps).unwrap();
        assert_eq!(change.dropped_extra, 200);
        assert_eq!(change.qps.total(&t), Qps(100));
        // Without extra QPS a downgrade just happens; an upgrade too.
        let p = ContractQps::new(Plan::Premium, 0, &t).unwrap();
        assert_eq!(
            p.change_plan(Plan::Basic, Downgrade::Refuse).unwrap().qps.plan(),
            Plan::Basic
        );
        let b = ContractQps::new(Plan::Basic, 0, &t).unwrap();
        assert_eq!(
            b.change_plan(Plan::Premium, Downgrade::Refuse).unwrap().qps.total(&t),
            Qps(200)
        );
    }

    #[test]
    fn r1_1_no_contract_in_use_without_a_service() {
        assert_eq!(check_in_use(ContractState::InUse, 0), Err(ContractError::NoServices));
        assert!(check_in_use(ContractState::InUse, 1).is_ok());
        assert!(check_in_use(ContractState::BeforeUse, 0).is_ok());
    }

    #[test]
    fn r5_2_termination_is_the_later_of_notice_plus_30_days_and_the_named_day() {
        let notice = date(2026, 11, 24);
        assert_eq!(termination_date(notice, None, 30).unwrap(), date(2026, 12, 24));
        // A day sooner than notice + 30 does not shorten it.
        assert_eq!(
            termination_date(notice, Some(date(2026, 12, 1)), 30).unwrap(),
            date(2026, 12, 24)
        );
        // The boundary: exactly notice + 30.
        assert_eq!(
            termination_date(notice, Some(date(2026, 12, 24)), 30).unwrap(),
            date(2026, 12, 24)
        );
        // A later day is kept.
        assert_eq!(
            termination_date(notice, Some(date(2027, 3, 31)), 30).unwrap(),
            date(2027, 3, 31)
        );
        // Across February in a leap year.
        assert_eq!(termination_date(date(2028, 2, 1), None, 30).unwrap(), date(2028, 3, 2));
        assert!(termination_date(notice, Some(date(2026, 11, 1)), 30).is_err());
    }

    #[test]
    fn r3_1_pending_zones_are_not_served() {
        assert!(!Eligibility::Pending { token: "t".into() }.may_serve());
        assert!(Eligibility::ApprovedByOperator {
            operator: "op".into(),
            reason: "registrar letter".into()
        }
        .may_serve());
        assert!(Eligibility::VerifiedByDelegation.may_serve());
    }
}
