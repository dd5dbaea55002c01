//! Fixtures shared by the unit tests: the operator's zone, one price table,
//! contracts built in a line. Figures are ours (the terms state none):
//! zone addition 3,000; TM initial 20,000, monthly 10,000; Basic 1,000 and
//! 500 per additional zone; Premium 30,000 and 5,000 per 100 extra QPS.

pub(crate) use crate::month::tests::jst;
pub(crate) use crate::prices::tests::{book, table};
use crate::{Origin, ParentContract, PlanPeriod, Service, ServiceKind};
use jiff::civil::Date;
use jiff::Timestamp;
use platdns_contract::Plan;

pub(crate) fn month(y: i16, m: i8) -> crate::BillingMonth {
    crate::BillingMonth::new(y, m).unwrap()
}

/// An instant written in JST, e.g. `at("2026-12-15T23:59:59")`.
pub(crate) fn at(jst_civil: &str) -> Timestamp {
    let dt: jiff::civil::DateTime = jst_civil.parse().unwrap();
    dt.to_zoned(jst()).unwrap().timestamp()
}

pub(crate) fn migrated() -> Origin {
    Origin::Migrated {
        legacy_id: "legacy".into(),
    }
}

pub(crate) fn applied(jst_civil: &str) -> Origin {
    Origin::Applied {
        accepted_at: at(jst_civil),
    }
}

pub(crate) fn period(from: Date, plan: Plan, extra_qps: u32) -> PlanPeriod {
    PlanPeriod { from, plan, extra_qps }
}

/// A service with no initial fee (migrated), billed over `[start, end]`.
pub(crate) fn svc(id: &str, kind: ServiceKind, start: Date, end: Option<Date>) -> Service {
    Service {
        id: id.into(),
        kind,
        origin: migrated(),
        billing_start: start,
        end,
    }
}

pub(crate) fn mdns(id: &str, start: Date, end: Option<Date>) -> Service {
    svc(id, ServiceKind::ManagedDns, start, end)
}

pub(crate) fn tm(id: &str, start: Date, end: Option<Date>) -> Service {
    svc(id, ServiceKind::TrafficManagement, start, end)
}

/// A parent billed from `start` with no initial fee and the given plans.
pub(crate) fn parent(start: Date, plans: Vec<PlanPeriod>, services: Vec<Service>) -> ParentContract {
    ParentContract {
        id: "c1".into(),
        origin: migrated(),
        billing_start: start,
        end: None,
        plans,
        services,
        changes: Vec::new(),
    }
}
