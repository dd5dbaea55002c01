//! Why a billing computation cannot be done. Every variant names the input
//! at fault, so the operator can fix the price table or the contract record.

use jiff::civil::Date;
use platdns_contract::ContractError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillingError {
    #[error("no price table is in force on {0} (R7.1): add a version effective on or before it")]
    NoPriceInForce(Date),
    #[error("price table {0}: an amount is negative")]
    NegativePrice(String),
    #[error("price table {0}: the extra-QPS unit must be at least 1")]
    ZeroExtraQpsUnit(String),
    #[error("two price table versions take effect on {0}")]
    DuplicatePriceDay(Date),
    #[error("two price table versions are named {0:?}")]
    DuplicatePriceVersion(String),
    #[error("contract {contract}: no plan is recorded for {day}")]
    NoPlanOn { contract: String, day: Date },
    #[error("contract {contract}: plan periods must start on strictly increasing days")]
    PlanPeriodsOutOfOrder { contract: String },
    #[error("contract {contract}: {source}")]
    Contract { contract: String, source: ContractError },
    #[error("{what} {id}: billing ends on {end}, before it starts on {start}")]
    EndsBeforeStart {
        what: &'static str,
        id: String,
        start: Date,
        end: Date,
    },
    #[error("an exclusion by {author} ends before it starts")]
    BadExclusion { author: String },
    #[error("an outage ends before it starts")]
    BadOutage,
    #[error("the probe interval must be at least one second")]
    ZeroProbeInterval,
    #[error("not a month (want YYYY-MM): {0:?}")]
    BadMonth(String),
    #[error("a date is out of the supported range")]
    DateOutOfRange,
    #[error("claim {claim} is for {claim_month}, but the invoice given is for {invoice_month}")]
    ClaimForAnotherMonth {
        claim: String,
        claim_month: String,
        invoice_month: String,
    },
    #[error("credit band from {min_ppm} ppm: the rate {rate} must be a fraction between 0 and 1 (App. 3)")]
    BadCreditRate { min_ppm: u32, rate: String },
    #[error(
        "legacy site failover option {option} names DNS outsourcing contract {contract}, which is not being migrated"
    )]
    OrphanFailoverOption { option: String, contract: String },
}
