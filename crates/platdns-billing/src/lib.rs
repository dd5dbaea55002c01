//! `platdns-billing`: the provider's books from the terms (SPEC §5–9;
//! Art. 3, 8–11, App. 1–3), as pure arithmetic in integer yen. No I/O, no
//! clock, no time zone database of its own: every instant, day and zone is
//! an argument, so tests fix time. `RULES.md` beside this crate lists each
//! rule, where it comes from, and which choices are ours.
//!
//! - [`Yen`], [`Rounding`], [`Fraction`]: money and its one division (R7.3).
//! - [`BillingMonth`]: months in the operator's zone.
//! - [`PriceTable`], [`PriceBook`]: the operator's prices, versioned by day (App. 2).
//! - [`BillingSettings`]: proration, rounding, claim deadline, credit bands, ...
//! - [`ParentContract`], [`Service`], [`PlanPeriod`], [`ChangeRequest`]: what
//!   billing reads of a contract; [`effective_end`] for Art. 9.
//! - [`invoice`]: a month's [`Invoice`] of [`InvoiceLine`]s (R7.1–R7.3), as
//!   JSON (serde) or CSV ([`Invoice::to_csv`]).
//! - [`monthly_availability`], [`availability_from_outages`]: [`Availability`]
//!   (R6.1–R6.3, App. 1).
//! - [`decide_claims`]: [`Claim`]s → [`ClaimDecision`]s with [`ServiceCredit`]s
//!   (R8.1–R8.2, Art. 11, App. 3).
//! - [`migrate`]: earlier contracts → the new structure (R9.1).

mod availability;
mod credit;
mod error;
mod fees;
mod invoice;
mod migration;
mod money;
mod month;
mod parent;
mod plan_serde;
mod prices;
#[cfg(test)]
mod props;
mod settings;
#[cfg(test)]
mod testkit;

pub use availability::{
    availability_from_outages, monthly_availability, Availability, Exclusion, ExclusionReason, ProbeSample,
};
pub use credit::{
    check_claim_time, claim_closes_at, claim_deadline_day, decide_claims, Claim, ClaimDecision, Refusal, ServiceCredit,
};
pub use error::BillingError;
pub use fees::invoice;
pub use invoice::{Invoice, InvoiceLine, LineKind};
pub use migration::{migrate, LegacyContract};
pub use money::{Fraction, Rounding, Yen};
pub use month::{day_start, BillingMonth, DEFAULT_TIME_ZONE};
pub use parent::{
    effective_end, last_billed_month, ChangeRequest, Origin, ParentContract, PlanPeriod, Service, ServiceKind,
};
pub use prices::{ChangeFees, ChangeKind, PriceBook, PriceTable};
pub use settings::{default_credit_bands, BillingSettings, CreditBand, Proration, UnknownSlots};
