//! Fees, table-driven, with every expected figure worked by hand in a
//! comment (prices in `testkit`: Basic 1,000 + 500 per additional zone;
//! Premium 30,000 + 5,000 per 100 QPS; TM 20,000 initial, 10,000 monthly;
//! zone addition 3,000). November 2026 has 30 days, December 31, July 31.

use crate::testkit::*;
use crate::*;
use jiff::civil::date;
use platdns_contract::Plan;

fn settings(proration: Proration) -> BillingSettings {
    BillingSettings {
        proration,
        ..BillingSettings::default()
    }
}

/// (kind, amount) of every line, for compact expectations.
fn lines(inv: &Invoice) -> Vec<(LineKind, i64)> {
    inv.lines.iter().map(|l| (l.kind, l.amount.0)).collect()
}

fn check_sums(inv: &Invoice) {
    assert_eq!(inv.total, inv.lines.iter().map(|l| l.amount).sum::<Yen>());
    for l in &inv.lines {
        assert_eq!(l.amount, l.recompute(), "{l:?}");
    }
}

#[test]
fn r7_2_basic_with_1_2_and_5_managed_dns_services() {
    use LineKind::*;
    // (services, expected lines): the Basic fee covers one; each further
    // managed DNS service adds 500.
    type Case = (usize, Vec<(LineKind, i64)>, i64);
    let cases: [Case; 3] = [
        // 1 service: 1,000
        (1, vec![(ParentMonthly, 1_000)], 1_000),
        // 2 services: 1,000 + 1 × 500 = 1,500
        (2, vec![(ParentMonthly, 1_000), (AdditionalZone, 500)], 1_500),
        // 5 services: 1,000 + 4 × 500 = 3,000
        (5, vec![(ParentMonthly, 1_000), (AdditionalZone, 2_000)], 3_000),
    ];
    for (n, want, total) in cases {
        let services = (0..n)
            .map(|i| mdns(&format!("z{i}"), date(2026, 10, 1), None))
            .collect();
        let c = parent(
            date(2026, 10, 1),
            vec![period(date(2026, 10, 1), Plan::Basic, 0)],
            services,
        );
        for p in [Proration::Daily, Proration::None] {
            let inv = invoice(&c, month(2026, 11), &book(), &settings(p), &jst()).unwrap();
            assert_eq!(lines(&inv), want, "{n} services, {p:?}");
            assert_eq!(inv.total, Yen(total));
            check_sums(&inv);
        }
    }
}

#[test]
fn r7_2_service_added_mid_month_pays_a_full_additional_zone_fee() {
    use LineKind::*;
    // One zone since October; a second applied for and accepted 2026-11-20
    // 10:00 JST, billed from the 20th.
    let mut second = mdns("z2", date(2026, 11, 20), None);
    second.origin = applied("2026-11-20T10:00:00");
    let c = parent(
        date(2026, 10, 1),
        vec![period(date(2026, 10, 1), Plan::Basic, 0)],
        vec![mdns("z1", date(2026, 10, 1), None), second],
    );
    let inv = invoice(&c, month(2026, 11), &book(), &settings(Proration::Daily), &jst()).unwrap();
    // Zone addition fee 3,000 (due on acceptance, R7.1) + Basic 1,000 + the
    // additional zone fee in full, 500, not 500 × 11/30 = 183 (App. 2 note).
    assert_eq!(
        lines(&inv),
        vec![(ZoneAddition, 3_000), (ParentMonthly, 1_000), (AdditionalZone, 500)]
    );
    assert_eq!(inv.total, Yen(4_500));
    let add = &inv.lines[2];
    assert_eq!((add.factor, add.rounding, add.quantity), (None, None, 1));
    check_sums(&inv);
    // December: 1,000 + 500, no initial fee.
    let dec = invoice(&c, month(2026, 12), &book(), &settings(Proration::Daily), &jst()).unwrap();
    assert_eq!(dec.total, Yen(1_500));
}

#[test]
fn r7_2_a_zone_replaced_by_another_is_not_an_additional_zone() {
    // z1 ends on the 10th, z2 starts on the 20th: never two at once, so the
    // Basic fee covers the month: 1,000.
    let c = parent(
        date(2026, 10, 1),
        vec![period(date(2026, 10, 1), Plan::Basic, 0)],
        vec![
            mdns("z1", date(2026, 10, 1), Some(date(2026, 11, 10))),
            mdns("z2", date(2026, 11, 20), None),
        ],
    );
    let inv = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap();
    assert_eq!(inv.total, Yen(1_000));
}

#[test]
fn r7_premium_with_0_100_and_300_extra_qps() {
    use LineKind::*;
    let cases = [
        // 30,000, no extra-QPS line
        (0, vec![(ParentMonthly, 30_000)], 30_000),
        // 30,000 + 1 × 5,000 = 35,000
        (100, vec![(ParentMonthly, 30_000), (ExtraQps, 5_000)], 35_000),
        // 30,000 + 3 × 5,000 = 45,000
        (300, vec![(ParentMonthly, 30_000), (ExtraQps, 15_000)], 45_000),
    ];
    for (extra, want, total) in cases {
        let c = parent(
            date(2026, 10, 1),
            vec![period(date(2026, 10, 1), Plan::Premium, extra)],
            vec![mdns("z1", date(2026, 10, 1), None)],
        );
        let inv = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap();
        assert_eq!(lines(&inv), want, "{extra} extra QPS");
        assert_eq!(inv.total, Yen(total));
        if extra > 0 {
            assert_eq!(inv.lines[1].quantity, u64::from(extra / 100));
        }
        check_sums(&inv);
    }
}

#[test]
fn r7_2_plan_change_mid_month() {
    use LineKind::*;
    // Basic with one zone until 14 Nov; Premium + 100 QPS from 15 Nov,
    // requested by a change accepted 14 Nov 15:00 JST with a 2,000 plan
    // change fee (one-time fee, due on acceptance, Art. 10).
    let mut prices = table("v", date(2020, 1, 1));
    prices.change_fees.plan = Yen(2_000);
    let prices = PriceBook::new(vec![prices]).unwrap();
    let mut c = parent(
        date(2026, 10, 1),
        vec![
            period(date(2026, 10, 1), Plan::Basic, 0),
            period(date(2026, 11, 15), Plan::Premium, 100),
        ],
        vec![mdns("z1", date(2026, 10, 1), None)],
    );
    c.changes.push(ChangeRequest {
        id: "cr1".into(),
        kind: ChangeKind::Plan,
        accepted_at: at("2026-11-14T15:00:00"),
    });
    let daily = invoice(&c, month(2026, 11), &prices, &settings(Proration::Daily), &jst()).unwrap();
    // Basic 1,000 × 14/30 = 466.67 → 466 (round down)
    // Premium 30,000 × 16/30 = 16,000
    // extra QPS 5,000 × 16/30 = 2,666.67 → 2,666
    // change fee 2,000; total 2,000 + 466 + 16,000 + 2,666 = 21,132
    assert_eq!(
        lines(&daily),
        vec![
            (ChangeFee, 2_000),
            (ParentMonthly, 466),
            (ParentMonthly, 16_000),
            (ExtraQps, 2_666)
        ]
    );
    assert_eq!(daily.total, Yen(21_132));
    assert_eq!(daily.lines[1].factor, Some(Fraction::new(14, 30)));
    assert_eq!(daily.lines[1].plan, Some(Plan::Basic));
    assert_eq!(daily.lines[2].plan, Some(Plan::Premium));
    check_sums(&daily);
    // Without proration the month is billed at its last day's plan:
    // 2,000 + 30,000 + 5,000 = 37,000.
    let none = invoice(&c, month(2026, 11), &prices, &settings(Proration::None), &jst()).unwrap();
    assert_eq!(
        lines(&none),
        vec![(ChangeFee, 2_000), (ParentMonthly, 30_000), (ExtraQps, 5_000)]
    );
    assert_eq!(none.total, Yen(37_000));
    // The CSV states each proration and its rounding on the line.
    let csv = daily.to_csv();
    assert!(
        csv.contains(",basic,,2026-11-01,2026-11-14,v,1000,1,14/30,down,466,"),
        "{csv}"
    );
    assert!(csv.ends_with(",total,,,,,,,,,,,,21132,\r\n"), "{csv}");
}

#[test]
fn r7_2_downgrade_mid_month_bills_additional_zones_for_the_basic_days() {
    use LineKind::*;
    // Premium until 14 Nov, Basic from the 15th, two zones all month.
    // Premium 30,000 × 14/30 = 14,000; Basic 1,000 × 16/30 = 533.33 → 533;
    // one additional zone on the Basic days, full: 500. Total 15,033.
    let c = parent(
        date(2026, 10, 1),
        vec![
            period(date(2026, 10, 1), Plan::Premium, 0),
            period(date(2026, 11, 15), Plan::Basic, 0),
        ],
        vec![mdns("z1", date(2026, 10, 1), None), mdns("z2", date(2026, 10, 1), None)],
    );
    let inv = invoice(&c, month(2026, 11), &book(), &settings(Proration::Daily), &jst()).unwrap();
    assert_eq!(
        lines(&inv),
        vec![(ParentMonthly, 14_000), (ParentMonthly, 533), (AdditionalZone, 500)]
    );
    assert_eq!(inv.total, Yen(15_033));
}

#[test]
fn r5_2_termination_notice_whose_30_days_cross_a_month_end() {
    use LineKind::*;
    // Premium with a TM service; notice reaches the provider 20 Nov 10:00
    // JST, so the contract ends 20 Dec (Art. 9: notice + 30 days).
    let mut c = parent(
        date(2026, 10, 1),
        vec![period(date(2026, 10, 1), Plan::Premium, 0)],
        vec![tm("lb1", date(2026, 10, 1), None)],
    );
    let end = effective_end(
        &c.id,
        at("2026-11-20T10:00:00"),
        None,
        &BillingSettings::default(),
        &jst(),
    )
    .unwrap();
    assert_eq!(end, date(2026, 12, 20));
    c.end = Some(end);
    let s = settings(Proration::Daily);
    // November is whole: 30,000 + 10,000 = 40,000.
    let nov = invoice(&c, month(2026, 11), &book(), &s, &jst()).unwrap();
    assert_eq!(nov.total, Yen(40_000));
    // December, 20 of 31 days: 30,000 × 20/31 = 19,354.84 → 19,354;
    // 10,000 × 20/31 = 6,451.61 → 6,451. Total 25,805.
    let dec = invoice(&c, month(2026, 12), &book(), &s, &jst()).unwrap();
    assert_eq!(
        lines(&dec),
        vec![(ParentMonthly, 19_354), (TrafficManagementMonthly, 6_451)]
    );
    assert_eq!(dec.total, Yen(25_805));
    assert_eq!(dec.lines[0].to, date(2026, 12, 20));
    // Nothing after the last billed month (no minimum term, Art. 3).
    assert_eq!(last_billed_month(end), month(2026, 12));
    let jan = invoice(&c, month(2027, 1), &book(), &s, &jst()).unwrap();
    assert!(jan.lines.is_empty());
    assert_eq!(jan.total, Yen(0));
    // Without proration December is billed in full: 40,000.
    let dec = invoice(&c, month(2026, 12), &book(), &settings(Proration::None), &jst()).unwrap();
    assert_eq!(dec.total, Yen(40_000));
}

#[test]
fn r7_1_price_change_effective_mid_year() {
    // Premium rises from 30,000 to 36,000 on 1 July 2026.
    let mut july = table("2026-07", date(2026, 7, 1));
    july.premium_monthly_fee = Yen(36_000);
    let before = book();
    let after = PriceBook::new(vec![table("2020", date(2020, 1, 1)), july.clone()]).unwrap();
    let c = parent(
        date(2026, 1, 1),
        vec![period(date(2026, 1, 1), Plan::Premium, 0)],
        vec![mdns("z1", date(2026, 1, 1), None)],
    );
    let s = BillingSettings::default();
    let june = invoice(&c, month(2026, 6), &after, &s, &jst()).unwrap();
    assert_eq!(june.total, Yen(30_000));
    // June computed before and after the change was entered is the same: a
    // change never rewrites an earlier month.
    assert_eq!(june, invoice(&c, month(2026, 6), &before, &s, &jst()).unwrap());
    let jul = invoice(&c, month(2026, 7), &after, &s, &jst()).unwrap();
    assert_eq!(jul.total, Yen(36_000));
    assert_eq!(jul.lines[0].price_version.as_deref(), Some("2026-07"));

    // Effective mid-month (15 July), daily proration splits July (31 days):
    // 30,000 × 14/31 = 13,548.39 → 13,548; 36,000 × 17/31 = 19,741.94 →
    // 19,741; total 33,289. Without proration: the last day's price, 36,000.
    july.effective_from = date(2026, 7, 15);
    let mid = PriceBook::new(vec![table("2020", date(2020, 1, 1)), july]).unwrap();
    let jul = invoice(&c, month(2026, 7), &mid, &settings(Proration::Daily), &jst()).unwrap();
    assert_eq!(
        lines(&jul),
        vec![(LineKind::ParentMonthly, 13_548), (LineKind::ParentMonthly, 19_741)]
    );
    assert_eq!(jul.total, Yen(33_289));
    let jul = invoice(&c, month(2026, 7), &mid, &settings(Proration::None), &jst()).unwrap();
    assert_eq!(jul.total, Yen(36_000));
}

#[test]
fn r7_1_initial_fees_fall_due_in_the_month_of_acceptance() {
    use LineKind::*;
    // A TM service accepted 31 Oct 23:30 JST is October's initial fee even
    // though billing starts 1 Nov; one accepted at 00:00 JST on 1 Nov
    // (31 Oct 15:00Z) is November's.
    let mut late_oct = tm("lb1", date(2026, 11, 1), None);
    late_oct.origin = applied("2026-10-31T23:30:00");
    let mut nov_first = tm("lb2", date(2026, 11, 1), None);
    nov_first.origin = applied("2026-11-01T00:00:00");
    let c = parent(
        date(2026, 10, 1),
        vec![period(date(2026, 10, 1), Plan::Basic, 0)],
        vec![mdns("z1", date(2026, 10, 1), None), late_oct, nov_first],
    );
    let s = BillingSettings::default();
    let oct = invoice(&c, month(2026, 10), &book(), &s, &jst()).unwrap();
    // October: TM initial 20,000 + Basic 1,000 = 21,000
    assert_eq!(
        lines(&oct),
        vec![(TrafficManagementInitial, 20_000), (ParentMonthly, 1_000)]
    );
    assert_eq!(oct.lines[0].service.as_deref(), Some("lb1"));
    let nov = invoice(&c, month(2026, 11), &book(), &s, &jst()).unwrap();
    // November: lb2's initial 20,000 + Basic 1,000 + 2 × TM 10,000 = 41,000
    assert_eq!(
        lines(&nov),
        vec![
            (TrafficManagementInitial, 20_000),
            (ParentMonthly, 1_000),
            (TrafficManagementMonthly, 10_000),
            (TrafficManagementMonthly, 10_000)
        ]
    );
    assert_eq!(nov.total, Yen(41_000));
}

#[test]
fn r7_1_monthly_fee_from_the_billing_start_date() {
    // Billing starts 10 Nov: 21 of 30 days. Basic 1,000 × 21/30 = 700;
    // TM 10,000 × 21/30 = 7,000. Parent initial fee 0 yen: no line.
    let mut c = parent(
        date(2026, 11, 10),
        vec![period(date(2026, 11, 10), Plan::Basic, 0)],
        vec![tm("lb1", date(2026, 11, 10), None)],
    );
    c.origin = applied("2026-11-05T12:00:00");
    let inv = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap();
    assert_eq!(
        lines(&inv),
        vec![
            (LineKind::ParentMonthly, 700),
            (LineKind::TrafficManagementMonthly, 7_000)
        ]
    );
    // Nothing before the billing start.
    let oct = invoice(&c, month(2026, 10), &book(), &BillingSettings::default(), &jst()).unwrap();
    assert!(oct.lines.is_empty());
}

#[test]
fn r7_missing_plan_or_price_is_an_error_not_a_guess() {
    let c = parent(
        date(2026, 11, 1),
        vec![period(date(2026, 11, 10), Plan::Basic, 0)],
        vec![mdns("z1", date(2026, 11, 1), None)],
    );
    let err = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap_err();
    assert!(matches!(err, BillingError::NoPlanOn { .. }), "{err}");
    let late_book = PriceBook::new(vec![table("v", date(2026, 11, 5))]).unwrap();
    let c = parent(
        date(2026, 11, 1),
        vec![period(date(2026, 11, 1), Plan::Basic, 0)],
        vec![mdns("z1", date(2026, 11, 1), None)],
    );
    let err = invoice(&c, month(2026, 11), &late_book, &BillingSettings::default(), &jst()).unwrap_err();
    assert_eq!(err, BillingError::NoPriceInForce(date(2026, 11, 1)));
}
