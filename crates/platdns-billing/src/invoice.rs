//! An invoice: per contract per month, one line for every fee, proration and
//! credit, each naming the rule that produced it; the total is the sum of the
//! lines, exactly. JSON through serde, CSV through [`Invoice::to_csv`].

use crate::{BillingMonth, ChangeKind, Fraction, Rounding, Yen};
use jiff::civil::Date;
use platdns_contract::Plan;
use serde::{Deserialize, Serialize};
use std::fmt::Write;

/// What a line charges or credits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// App. 2 1(3): the parent's initial fee (0 yen in the terms).
    ParentInitial,
    /// App. 2 1(1): the zone addition fee of a managed DNS service.
    ZoneAddition,
    /// App. 2 1(2): the initial fee of a traffic management service.
    TrafficManagementInitial,
    /// Art. 10: the one-time fee of an accepted change request.
    ChangeFee,
    /// App. 2 2(3): the parent's monthly fee for its plan.
    ParentMonthly,
    /// App. 2 2(3) Premium: the extra-QPS fee.
    ExtraQps,
    /// App. 2 2(3) Basic: the additional zone monthly fee.
    AdditionalZone,
    /// App. 2 2(2): a traffic management service's monthly fee.
    TrafficManagementMonthly,
    /// App. 2 2(1): a managed DNS service's monthly fee (0 yen in the terms).
    ManagedDnsMonthly,
    /// Art. 11, App. 3: a service credit (negative amount).
    ServiceCredit,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::ParentInitial => "parent_initial",
            LineKind::ZoneAddition => "zone_addition",
            LineKind::TrafficManagementInitial => "traffic_management_initial",
            LineKind::ChangeFee => "change_fee",
            LineKind::ParentMonthly => "parent_monthly",
            LineKind::ExtraQps => "extra_qps",
            LineKind::AdditionalZone => "additional_zone",
            LineKind::TrafficManagementMonthly => "traffic_management_monthly",
            LineKind::ManagedDnsMonthly => "managed_dns_monthly",
            LineKind::ServiceCredit => "service_credit",
        }
    }

    /// Monthly fees: what a service credit can be computed from (R8.1).
    pub fn is_monthly(self) -> bool {
        matches!(
            self,
            LineKind::ParentMonthly
                | LineKind::ExtraQps
                | LineKind::AdditionalZone
                | LineKind::TrafficManagementMonthly
                | LineKind::ManagedDnsMonthly
        )
    }
}

/// One line: `amount = unit_price × quantity × factor`, rounded by `rounding`
/// when `factor` divides (a credit's amount is that figure negated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: LineKind,
    /// The SPEC requirement and terms article the line follows, e.g.
    /// "R7.2; App. 2 2(3), note".
    pub rule: String,
    /// The child service, for service lines and credits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The parent's plan, for parent monthly and extra-QPS lines.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::plan_serde::option")]
    pub plan: Option<Plan>,
    /// The change request's kind, for one-time fees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<ChangeKind>,
    /// The days covered (one-time fees: the day of acceptance, twice).
    pub from: Date,
    pub to: Date,
    /// The price table version the unit price comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_version: Option<String>,
    pub unit_price: Yen,
    pub quantity: u64,
    /// Days billed / days in the month, or a credit rate; `None` is 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<Fraction>,
    /// How the division by `factor` was rounded, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rounding: Option<Rounding>,
    pub amount: Yen,
    /// Why, in words, for the person reading the invoice.
    pub note: String,
}

impl InvoiceLine {
    /// What the line's own figures give: `unit × quantity × factor`, rounded;
    /// negated for a credit. An invoice line always equals this.
    pub fn recompute(&self) -> Yen {
        let factor = self.factor.unwrap_or(Fraction::ONE);
        let v = self
            .unit_price
            .times(self.quantity, factor, self.rounding.unwrap_or_default());
        if self.kind == LineKind::ServiceCredit {
            -v
        } else {
            v
        }
    }
}

/// A contract's invoice for a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub contract: String,
    pub month: BillingMonth,
    pub lines: Vec<InvoiceLine>,
    /// The sum of the lines' amounts (no rounding at the total: every line
    /// is already whole yen).
    pub total: Yen,
}

impl Invoice {
    pub fn new(contract: &str, month: BillingMonth, lines: Vec<InvoiceLine>) -> Invoice {
        let total = lines.iter().map(|l| l.amount).sum();
        Invoice {
            contract: contract.to_string(),
            month,
            lines,
            total,
        }
    }

    /// The invoice with credits appended as lines (Art. 11); the total follows.
    pub fn with_credits(mut self, credits: &[crate::ServiceCredit]) -> Invoice {
        self.lines.extend(credits.iter().map(crate::ServiceCredit::line));
        Invoice::new(&self.contract, self.month, self.lines)
    }

    /// CSV (RFC 4180: comma separated, CRLF line ends, fields quoted when
    /// they hold a comma, quote or line break), one row per line and a final
    /// `total` row.
    pub fn to_csv(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "contract,month,kind,rule,service,plan,change,from,to,price_version,\
             unit_price,quantity,factor,rounding,amount,note\r\n",
        );
        let month = self.month.to_string();
        for l in &self.lines {
            let fields = [
                self.contract.clone(),
                month.clone(),
                l.kind.as_str().to_string(),
                l.rule.clone(),
                l.service.clone().unwrap_or_default(),
                l.plan.map(|p| p.to_string()).unwrap_or_default(),
                l.change.map(|c| c.as_str().to_string()).unwrap_or_default(),
                l.from.to_string(),
                l.to.to_string(),
                l.price_version.clone().unwrap_or_default(),
                l.unit_price.0.to_string(),
                l.quantity.to_string(),
                l.factor.map(|f| f.to_string()).unwrap_or_default(),
                l.rounding.map(|r| r.as_str().to_string()).unwrap_or_default(),
                l.amount.0.to_string(),
                l.note.clone(),
            ];
            push_row(&mut out, &fields);
        }
        let mut total: [String; 16] = Default::default();
        total[0] = self.contract.clone();
        total[1] = month;
        total[2] = "total".to_string();
        total[14] = self.total.0.to_string();
        push_row(&mut out, &total);
        out
    }
}

fn push_row(out: &mut String, fields: &[String]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\r', '\n']) {
            let _ = write!(out, "\"{}\"", f.replace('"', "\"\""));
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn line(kind: LineKind, amount: i64, note: &str) -> InvoiceLine {
        InvoiceLine {
            kind,
            rule: "R7.1; Art. 10".into(),
            service: None,
            plan: Some(Plan::Premium),
            change: None,
            from: date(2026, 11, 1),
            to: date(2026, 11, 30),
            price_version: Some("v1".into()),
            unit_price: Yen(amount),
            quantity: 1,
            factor: None,
            rounding: None,
            amount: Yen(amount),
            note: note.into(),
        }
    }

    #[test]
    fn invoices_render_as_csv_with_quoting_and_a_total_row() {
        let inv = Invoice::new(
            "c1",
            BillingMonth::new(2026, 11).unwrap(),
            vec![
                line(LineKind::ParentMonthly, 30_000, "premium, full month"),
                line(LineKind::ExtraQps, 5_000, "1 × \"100 QPS\""),
            ],
        );
        assert_eq!(inv.total, Yen(35_000));
        let csv = inv.to_csv();
        let rows: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(rows.len(), 5); // header, 2 lines, total, "" after the last CRLF
        assert_eq!(
            rows[1],
            "c1,2026-11,parent_monthly,R7.1; Art. 10,,premium,,2026-11-01,2026-11-30,v1,30000,1,,,30000,\"premium, full month\""
        );
        assert!(rows[2].ends_with(",5000,\"1 × \"\"100 QPS\"\"\""));
        assert_eq!(rows[3], "c1,2026-11,total,,,,,,,,,,,,35000,");
        assert!(rows[0].starts_with("contract,month,kind,rule,"));
    }

    #[test]
    fn invoices_round_trip_through_json() {
        let inv = Invoice::new(
            "c1",
            BillingMonth::new(2026, 11).unwrap(),
            vec![line(LineKind::ParentMonthly, 30_000, "x")],
        );
        let json = serde_json::to_string(&inv).unwrap();
        assert!(json.contains("\"plan\":\"premium\""), "{json}");
        assert!(json.contains("\"month\":\"2026-11\""), "{json}");
        assert_eq!(serde_json::from_str::<Invoice>(&json).unwrap(), inv);
    }
}
