//! The price table (SPEC §7, App. 2): every amount the terms leave to "an
//! amount the provider shows separately" is operator configuration here,
//! versioned by the day it takes effect.

use crate::{BillingError, Yen};
use jiff::civil::Date;
use platdns_contract::Plan;
use serde::{Deserialize, Serialize};

/// The kinds of change a customer may request (Art. 7 (1)–(4), R2.3). Each
/// may carry a one-time fee, due when the provider accepts the request
/// (Art. 10, R7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Art. 7 (1): the plan.
    Plan,
    /// Art. 7 (2): the QPS limit (Premium only).
    QpsLimit,
    /// Art. 7 (3): which managed DNS services are under the parent.
    ManagedDnsServices,
    /// Art. 7 (4): which traffic management services are under the parent.
    TrafficManagementServices,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Plan => "plan",
            ChangeKind::QpsLimit => "qps_limit",
            ChangeKind::ManagedDnsServices => "managed_dns_services",
            ChangeKind::TrafficManagementServices => "traffic_management_services",
        }
    }
}

/// One-time fees per kind of change request. The terms name the fee
/// (一時費用, Art. 10) but no amount or kind, so every one is 0 yen unless
/// the operator sets it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangeFees {
    pub plan: Yen,
    pub qps_limit: Yen,
    pub managed_dns_services: Yen,
    pub traffic_management_services: Yen,
}

impl ChangeFees {
    pub fn fee(&self, kind: ChangeKind) -> Yen {
        match kind {
            ChangeKind::Plan => self.plan,
            ChangeKind::QpsLimit => self.qps_limit,
            ChangeKind::ManagedDnsServices => self.managed_dns_services,
            ChangeKind::TrafficManagementServices => self.traffic_management_services,
        }
    }
}

fn one_hundred() -> u32 {
    100
}

/// One version of the price table, in force from `effective_from` (a day in
/// the operator's time zone) until the next version's day.
///
/// Fields without a default are the amounts App. 2 leaves to the provider:
/// the operator must set them. Fields with a default are the figures App. 2
/// itself states (0 yen), kept as configuration so the operator can change
/// them too (SPEC: "never a constant in code").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceTable {
    /// A name the operator gives this version ("2026-04"); quoted on every
    /// invoice line priced from it.
    pub version: String,
    pub effective_from: Date,
    /// App. 2 1(1): the zone addition fee, the initial fee of each managed
    /// DNS service.
    pub zone_addition_fee: Yen,
    /// App. 2 1(2): the initial fee of a traffic management service.
    pub traffic_management_initial_fee: Yen,
    /// App. 2 2(2): the monthly fee of a traffic management service.
    pub traffic_management_monthly_fee: Yen,
    /// App. 2 2(3) Basic: the parent's monthly fee, covering up to one
    /// managed DNS service.
    pub basic_monthly_fee: Yen,
    /// App. 2 2(3) Basic: the additional zone monthly fee, per managed DNS
    /// service beyond the first. Never prorated by day (App. 2 note, R7.2).
    pub additional_zone_monthly_fee: Yen,
    /// App. 2 2(3) Premium: the parent's monthly fee.
    pub premium_monthly_fee: Yen,
    /// App. 2 2(3) Premium: the extra-QPS fee per `extra_qps_unit` QPS.
    pub extra_qps_fee: Yen,
    /// The QPS the extra-QPS fee is quoted for: 100 in the terms.
    #[serde(default = "one_hundred")]
    pub extra_qps_unit: u32,
    /// App. 2 1(3): the parent's initial fee, 0 yen for both plans.
    #[serde(default)]
    pub basic_initial_fee: Yen,
    #[serde(default)]
    pub premium_initial_fee: Yen,
    /// App. 2 2(1): the monthly fee of a managed DNS service, 0 yen.
    #[serde(default)]
    pub managed_dns_monthly_fee: Yen,
    /// Art. 10: one-time fees of change requests.
    #[serde(default)]
    pub change_fees: ChangeFees,
}

impl PriceTable {
    /// The parent's monthly fee for a plan, extra QPS not included.
    pub fn parent_monthly_fee(&self, plan: Plan) -> Yen {
        match plan {
            Plan::Basic => self.basic_monthly_fee,
            Plan::Premium => self.premium_monthly_fee,
        }
    }

    pub fn parent_initial_fee(&self, plan: Plan) -> Yen {
        match plan {
            Plan::Basic => self.basic_initial_fee,
            Plan::Premium => self.premium_initial_fee,
        }
    }

    /// How many extra-QPS units `extra` QPS is. A figure that is not a
    /// multiple of the unit (the contract crate refuses those, R2.2) counts
    /// a started unit as a whole one.
    pub fn extra_qps_units(&self, extra: u32) -> u64 {
        u64::from(extra).div_ceil(u64::from(self.extra_qps_unit.max(1)))
    }

    fn check(&self) -> Result<(), BillingError> {
        let amounts = [
            self.zone_addition_fee,
            self.traffic_management_initial_fee,
            self.traffic_management_monthly_fee,
            self.basic_monthly_fee,
            self.additional_zone_monthly_fee,
            self.premium_monthly_fee,
            self.extra_qps_fee,
            self.basic_initial_fee,
            self.premium_initial_fee,
            self.managed_dns_monthly_fee,
            self.change_fees.plan,
            self.change_fees.qps_limit,
            self.change_fees.managed_dns_services,
            self.change_fees.traffic_management_services,
        ];
        if amounts.iter().any(|a| a.0 < 0) {
            return Err(BillingError::NegativePrice(self.version.clone()));
        }
        if self.extra_qps_unit == 0 {
            return Err(BillingError::ZeroExtraQpsUnit(self.version.clone()));
        }
        Ok(())
    }
}

/// Every version of the price table. A change effective mid-year applies
/// from its day; days before it keep the earlier version, so recomputing an
/// old month with the same book gives the same figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<PriceTable>", into = "Vec<PriceTable>")]
pub struct PriceBook {
    versions: Vec<PriceTable>,
}

impl PriceBook {
    /// Checks the versions: no negative amount, a non-zero extra-QPS unit,
    /// distinct names and distinct effective days. Sorted by day.
    pub fn new(mut versions: Vec<PriceTable>) -> Result<PriceBook, BillingError> {
        for v in &versions {
            v.check()?;
        }
        versions.sort_by_key(|v| v.effective_from);
        for w in versions.windows(2) {
            if w[0].effective_from == w[1].effective_from {
                return Err(BillingError::DuplicatePriceDay(w[1].effective_from));
            }
        }
        let mut names: Vec<&str> = versions.iter().map(|v| v.version.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(BillingError::DuplicatePriceVersion(w[0].to_string()));
        }
        Ok(PriceBook { versions })
    }

    /// The version in force on `day`: the latest whose day is not after it.
    pub fn in_force(&self, day: Date) -> Result<&PriceTable, BillingError> {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= day)
            .ok_or(BillingError::NoPriceInForce(day))
    }

    pub fn versions(&self) -> &[PriceTable] {
        &self.versions
    }
}

impl TryFrom<Vec<PriceTable>> for PriceBook {
    type Error = BillingError;
    fn try_from(v: Vec<PriceTable>) -> Result<PriceBook, BillingError> {
        PriceBook::new(v)
    }
}

impl From<PriceBook> for Vec<PriceTable> {
    fn from(b: PriceBook) -> Vec<PriceTable> {
        b.versions
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jiff::civil::date;

    /// The figures every test uses (the terms state none; these are ours):
    /// zone addition 3,000; TM initial 20,000 and monthly 10,000; Basic
    /// 1,000 + 500 per additional zone; Premium 30,000 + 5,000 per 100 QPS.
    pub(crate) fn table(version: &str, from: Date) -> PriceTable {
        PriceTable {
            version: version.to_string(),
            effective_from: from,
            zone_addition_fee: Yen(3_000),
            traffic_management_initial_fee: Yen(20_000),
            traffic_management_monthly_fee: Yen(10_000),
            basic_monthly_fee: Yen(1_000),
            additional_zone_monthly_fee: Yen(500),
            premium_monthly_fee: Yen(30_000),
            extra_qps_fee: Yen(5_000),
            extra_qps_unit: 100,
            basic_initial_fee: Yen(0),
            premium_initial_fee: Yen(0),
            managed_dns_monthly_fee: Yen(0),
            change_fees: ChangeFees::default(),
        }
    }

    pub(crate) fn book() -> PriceBook {
        PriceBook::new(vec![table("2020", date(2020, 1, 1))]).unwrap()
    }

    #[test]
    fn r7_1_price_change_applies_from_its_day() {
        let mut july = table("2026-07", date(2026, 7, 1));
        july.premium_monthly_fee = Yen(36_000);
        let b = PriceBook::new(vec![july, table("2020", date(2020, 1, 1))]).unwrap();
        assert_eq!(b.in_force(date(2026, 6, 30)).unwrap().version, "2020");
        assert_eq!(b.in_force(date(2026, 7, 1)).unwrap().version, "2026-07");
        assert_eq!(b.in_force(date(2027, 1, 1)).unwrap().premium_monthly_fee, Yen(36_000));
        assert_eq!(
            b.in_force(date(2019, 12, 31)),
            Err(BillingError::NoPriceInForce(date(2019, 12, 31)))
        );
    }

    #[test]
    fn r7_price_book_refuses_bad_operator_input() {
        let mut neg = table("neg", date(2020, 1, 1));
        neg.extra_qps_fee = Yen(-1);
        assert!(matches!(PriceBook::new(vec![neg]), Err(BillingError::NegativePrice(_))));
        let same_day = vec![table("a", date(2020, 1, 1)), table("b", date(2020, 1, 1))];
        assert!(matches!(
            PriceBook::new(same_day),
            Err(BillingError::DuplicatePriceDay(_))
        ));
        let same_name = vec![table("a", date(2020, 1, 1)), table("a", date(2021, 1, 1))];
        assert!(matches!(
            PriceBook::new(same_name),
            Err(BillingError::DuplicatePriceVersion(_))
        ));
        let mut zero = table("z", date(2020, 1, 1));
        zero.extra_qps_unit = 0;
        assert!(matches!(
            PriceBook::new(vec![zero]),
            Err(BillingError::ZeroExtraQpsUnit(_))
        ));
    }

    #[test]
    fn r7_price_table_reads_from_json_with_the_terms_defaults() {
        let json = r#"[{"version":"v1","effective_from":"2026-04-01","zone_addition_fee":3000,
            "traffic_management_initial_fee":20000,"traffic_management_monthly_fee":10000,
            "basic_monthly_fee":1000,"additional_zone_monthly_fee":500,
            "premium_monthly_fee":30000,"extra_qps_fee":5000}]"#;
        let b: PriceBook = serde_json::from_str(json).unwrap();
        let t = &b.versions()[0];
        // App. 2: parent initial fees and the managed DNS monthly fee are 0 yen;
        // the extra-QPS fee is per 100 QPS.
        assert_eq!((t.basic_initial_fee, t.premium_initial_fee), (Yen(0), Yen(0)));
        assert_eq!(t.managed_dns_monthly_fee, Yen(0));
        assert_eq!(t.extra_qps_unit, 100);
        assert_eq!(t.change_fees, ChangeFees::default());
        // A table missing an operator-set amount is refused, not defaulted.
        assert!(serde_json::from_str::<PriceBook>(r#"[{"version":"v1","effective_from":"2026-04-01"}]"#).is_err());
    }
}
