//! Properties over random contracts, prices and outages: an invoice's total
//! is the sum of its lines, every line equals its own figures, a prorated
//! fee never exceeds the full one, and credits never exceed the monthly
//! fees they are computed from.

use crate::testkit::*;
use crate::*;
use jiff::civil::{date, Date};
use jiff::Timestamp;
use platdns_contract::Plan;
use proptest::prelude::*;

fn nov_day(d: i8) -> Date {
    date(2026, 11, d)
}

fn plan_period() -> impl Strategy<Value = (i8, bool, u32)> {
    (1i8..=30, any::<bool>(), 0u32..=5)
}

fn service() -> impl Strategy<Value = (bool, i8, Option<i8>)> {
    (any::<bool>(), 1i8..=30, proptest::option::of(1i8..=30))
}

fn prices() -> impl Strategy<Value = Vec<i64>> {
    proptest::collection::vec(0i64..=100_000, 7)
}

fn contract(plans: &[(i8, bool, u32)], services: &[(bool, i8, Option<i8>)], end: Option<i8>) -> ParentContract {
    let mut ps: Vec<PlanPeriod> = plans
        .iter()
        .map(|&(d, premium, extra)| {
            let plan = if premium { Plan::Premium } else { Plan::Basic };
            let extra = if premium { extra * 100 } else { 0 };
            period(nov_day(d), plan, extra)
        })
        .collect();
    ps.sort_by_key(|p| p.from);
    ps.dedup_by_key(|p| p.from);
    // The first period covers the whole month.
    ps[0].from = date(2026, 10, 1);
    let services = services
        .iter()
        .enumerate()
        .map(|(i, &(is_tm, start, stop))| {
            let end = stop.map(|e| nov_day(e.max(start)));
            let id = format!("s{i}");
            if is_tm {
                tm(&id, nov_day(start), end)
            } else {
                mdns(&id, nov_day(start), end)
            }
        })
        .collect();
    let mut c = parent(date(2026, 10, 1), ps, services);
    c.end = end.map(nov_day);
    c
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn r7_3_total_is_the_sum_of_lines_and_credits_stay_within_the_fee(
        plans in proptest::collection::vec(plan_period(), 1..4),
        services in proptest::collection::vec(service(), 0..6),
        end in proptest::option::of(1i8..=30),
        p in prices(),
        daily in any::<bool>(),
        rounding in prop_oneof![Just(Rounding::Down), Just(Rounding::Up), Just(Rounding::HalfUp)],
        down_minutes in 0i64..=43_200,
    ) {
        let c = contract(&plans, &services, end);
        let mut t = table("v", date(2020, 1, 1));
        t.basic_monthly_fee = Yen(p[0]);
        t.additional_zone_monthly_fee = Yen(p[1]);
        t.premium_monthly_fee = Yen(p[2]);
        t.extra_qps_fee = Yen(p[3]);
        t.traffic_management_monthly_fee = Yen(p[4]);
        t.managed_dns_monthly_fee = Yen(p[5]);
        t.zone_addition_fee = Yen(p[6]);
        let book = PriceBook::new(vec![t]).unwrap();
        let s = BillingSettings {
            rounding,
            proration: if daily { Proration::Daily } else { Proration::None },
            ..BillingSettings::default()
        };
        let inv = invoice(&c, month(2026, 11), &book, &s, &jst()).unwrap();
        prop_assert_eq!(inv.total, inv.lines.iter().map(|l| l.amount).sum::<Yen>());
        for l in &inv.lines {
            prop_assert_eq!(l.amount, l.recompute());
            prop_assert!(l.amount.0 >= 0);
            // A prorated fee is never more than the whole one.
            prop_assert!(l.amount <= l.unit_price.times(l.quantity, Fraction::ONE, Rounding::Down));
        }

        let start = at("2026-11-01T00:00:00");
        let outage = (start, Timestamp::from_second(start.as_second() + down_minutes * 60).unwrap());
        let a = availability_from_outages(month(2026, 11), &[outage], &[], &jst()).unwrap();
        let claims: Vec<Claim> = c
            .services
            .iter()
            .chain(c.services.iter())
            .enumerate()
            .map(|(i, sv)| Claim {
                id: format!("k{i}"),
                service: sv.id.clone(),
                breach_month: month(2026, 11),
                received_at: at("2026-12-01T09:00:00"),
            })
            .collect();
        let decisions = decide_claims(&c, &claims, &a, &inv, &s, &jst()).unwrap();
        let monthly: Yen = inv.lines.iter().filter(|l| l.kind.is_monthly()).map(|l| l.amount).sum();
        let mut credited = Yen::ZERO;
        for d in &decisions {
            if let ClaimDecision::Accepted { credit, .. } = d {
                prop_assert!(credit.amount <= credit.base);
                prop_assert!(credit.amount.0 >= 0);
                prop_assert!(credit.line().amount == credit.line().recompute());
                credited = credited + credit.amount;
            }
        }
        prop_assert!(credited <= monthly, "credited {} of {}", credited, monthly);
        let with = inv.clone().with_credits(
            &decisions
                .iter()
                .filter_map(|d| match d {
                    ClaimDecision::Accepted { credit, .. } => Some(credit.clone()),
                    ClaimDecision::Refused { .. } => None,
                })
                .collect::<Vec<_>>(),
        );
        prop_assert_eq!(with.total, with.lines.iter().map(|l| l.amount).sum::<Yen>());
        prop_assert!(with.total.0 >= 0);
    }
}
