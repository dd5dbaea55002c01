//! Claims and credits, with every figure worked by hand. November 2026 has
//! 30 days = 43,200 minutes; availability here comes from outage periods
//! (the sample method has its own tests in `availability`).

use crate::testkit::*;
use crate::*;
use jiff::civil::date;
use jiff::Timestamp;
use platdns_contract::Plan;

fn claim(id: &str, service: &str, breach: BillingMonth, received: &str) -> Claim {
    Claim {
        id: id.into(),
        service: service.into(),
        breach_month: breach,
        received_at: at(received),
    }
}

/// November 2026 with `minutes` of outage from 1 Nov 00:00 JST.
fn nov_down(minutes: i64) -> Availability {
    let start = at("2026-11-01T00:00:00");
    let end = Timestamp::from_second(start.as_second() + minutes * 60).unwrap();
    availability_from_outages(month(2026, 11), &[(start, end)], &[], &jst()).unwrap()
}

/// A Premium parent with 300 extra QPS (30,000 + 15,000 = 45,000 a month),
/// a managed DNS service `z1` and a TM service `lb1` (10,000 a month).
fn premium() -> (ParentContract, Invoice) {
    let c = parent(
        date(2026, 10, 1),
        vec![period(date(2026, 10, 1), Plan::Premium, 300)],
        vec![mdns("z1", date(2026, 10, 1), None), tm("lb1", date(2026, 10, 1), None)],
    );
    let inv = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap();
    assert_eq!(inv.total, Yen(55_000));
    (c, inv)
}

fn decide(c: &ParentContract, inv: &Invoice, a: &Availability, claims: &[Claim]) -> Vec<ClaimDecision> {
    decide_claims(c, claims, a, inv, &BillingSettings::default(), &jst()).unwrap()
}

fn credited(d: &ClaimDecision) -> Option<(Yen, Fraction, Yen)> {
    match d {
        ClaimDecision::Accepted { credit, .. } => Some((credit.base, credit.rate, credit.amount)),
        ClaimDecision::Refused { .. } => None,
    }
}

fn refusal(d: &ClaimDecision) -> Option<&Refusal> {
    match d {
        ClaimDecision::Refused { refusal, .. } => Some(refusal),
        ClaimDecision::Accepted { .. } => None,
    }
}

#[test]
fn r8_1_credit_bands_at_every_boundary() {
    // Base: the parent's monthly fee with the extra-QPS fee, 45,000 (R8.1,
    // App. 3 "追加QPS費用を含む").
    let (c, inv) = premium();
    // (minutes down, percent shown, Some((rate num, rate den, credit)))
    type Case<'a> = (i64, &'a str, Option<(u64, u64, i64)>);
    let cases: [Case; 7] = [
        // 0 min down: exactly 100% → no breach, no credit
        (0, "100.0000%", None),
        // 1 min: 43,199/43,200 = 99.99768% → 1/10 × 45,000 = 4,500
        (1, "99.9976%", Some((1, 10, 4_500))),
        // 216 min: 42,984/43,200 = 0.995 exactly → still 1/10: 4,500
        (216, "99.5000%", Some((1, 10, 4_500))),
        // 217 min: 42,983/43,200 = 99.49768% → 1/4 × 45,000 = 11,250
        (217, "99.4976%", Some((1, 4, 11_250))),
        // 2,160 min: 41,040/43,200 = 0.95 exactly → 1/4: 11,250
        (2_160, "95.0000%", Some((1, 4, 11_250))),
        // 2,161 min: 41,039/43,200 = 94.99768% → the whole 45,000
        (2_161, "94.9976%", Some((1, 1, 45_000))),
        // all month down: 0% → the whole 45,000
        (43_200, "0.0000%", Some((1, 1, 45_000))),
    ];
    for (minutes, pct, want) in cases {
        let a = nov_down(minutes);
        assert_eq!(a.percent(), pct, "{minutes} min");
        let d = decide(
            &c,
            &inv,
            &a,
            &[claim("k1", "z1", month(2026, 11), "2026-12-01T09:00:00")],
        );
        match want {
            None => assert_eq!(refusal(&d[0]), Some(&Refusal::NoBreach), "{minutes} min"),
            Some((n, den, amount)) => {
                assert_eq!(
                    credited(&d[0]),
                    Some((Yen(45_000), Fraction::new(n, den), Yen(amount))),
                    "{minutes} min"
                );
            }
        }
    }
}

#[test]
fn r8_2_claim_deadline_is_the_end_of_the_15th_jst() {
    let (c, inv) = premium();
    let a = nov_down(217);
    let d = decide(
        &c,
        &inv,
        &a,
        &[claim("in-time", "z1", month(2026, 11), "2026-12-15T23:59:59")],
    );
    assert_eq!(credited(&d[0]).map(|x| x.2), Some(Yen(11_250)));
    let d = decide(
        &c,
        &inv,
        &a,
        &[claim("late", "z1", month(2026, 11), "2026-12-16T00:00:00")],
    );
    assert_eq!(
        refusal(&d[0]),
        Some(&Refusal::Late {
            deadline: date(2026, 12, 15),
            received_at: at("2026-12-16T00:00:00")
        })
    );
    // The refusal says why, with the day.
    assert!(refusal(&d[0]).unwrap().message().contains("2026-12-15"));
    // The boundary instant itself: 2026-12-15T15:00:00Z is 16 Dec 00:00 JST.
    let closes = claim_closes_at(month(2026, 11), &BillingSettings::default(), &jst()).unwrap();
    assert_eq!(closes, "2026-12-15T15:00:00Z".parse::<Timestamp>().unwrap());
}

#[test]
fn r8_2_december_breach_claimed_in_january_of_the_next_year() {
    let s = BillingSettings::default();
    assert_eq!(claim_deadline_day(month(2026, 12), &s).unwrap(), date(2027, 1, 15));
    let cases = [
        ("2027-01-15T23:59:59", true),
        ("2027-01-16T00:00:00", false),
        ("2026-12-31T23:59:59", true),
        // before December began: not a claim for December's breach
        ("2026-11-30T23:59:59", false),
    ];
    for (received, ok) in cases {
        let c = claim("k", "z1", month(2026, 12), received);
        let r = check_claim_time(&c, &s, &jst()).unwrap();
        assert_eq!(r.is_none(), ok, "{received}: {r:?}");
    }
    // The deadline day is a setting: with the 10th, a claim on the 11th is late.
    let s10 = BillingSettings {
        claim_deadline_day: 10,
        ..BillingSettings::default()
    };
    let c = claim("k", "z1", month(2026, 12), "2027-01-11T00:00:00");
    assert!(matches!(
        check_claim_time(&c, &s10, &jst()).unwrap(),
        Some(Refusal::Late { .. })
    ));
}

#[test]
fn r8_1_credit_for_tm_includes_parent_fee() {
    // TM: its own 10,000 + the parent's 45,000 = 55,000; at 99.49768% (1/4):
    // 13,750.
    let (c, inv) = premium();
    let d = decide(
        &c,
        &inv,
        &nov_down(217),
        &[claim("k1", "lb1", month(2026, 11), "2026-12-02T09:00:00")],
    );
    assert_eq!(credited(&d[0]), Some((Yen(55_000), Fraction::new(1, 4), Yen(13_750))));
}

#[test]
fn r8_1_the_parent_fee_is_credited_once_per_month() {
    let (c, inv) = premium();
    let a = nov_down(217);
    // z1 first: parent 45,000 × 1/4 = 11,250; then lb1: only its own 10,000
    // × 1/4 = 2,500; then z1 again: nothing left, refused.
    let d = decide(
        &c,
        &inv,
        &a,
        &[
            claim("k3", "z1", month(2026, 11), "2026-12-03T09:00:00"),
            claim("k2", "lb1", month(2026, 11), "2026-12-02T09:00:00"),
            claim("k1", "z1", month(2026, 11), "2026-12-01T09:00:00"),
        ],
    );
    // Decided in the order received: k1, k2, k3.
    assert_eq!(credited(&d[0]), Some((Yen(45_000), Fraction::new(1, 4), Yen(11_250))));
    assert_eq!(credited(&d[1]), Some((Yen(10_000), Fraction::new(1, 4), Yen(2_500))));
    assert_eq!(refusal(&d[2]), Some(&Refusal::AlreadyCredited { by: "k1".into() }));
    // The credits (13,750) stay within the month's monthly fees (55,000),
    // and appear on an invoice as negative lines: 55,000 − 13,750 = 41,250.
    let credits: Vec<ServiceCredit> = d
        .iter()
        .filter_map(|d| match d {
            ClaimDecision::Accepted { credit, .. } => Some(credit.clone()),
            ClaimDecision::Refused { .. } => None,
        })
        .collect();
    let with = inv.clone().with_credits(&credits);
    assert_eq!(with.total, Yen(41_250));
    let last = with.lines.last().unwrap();
    assert_eq!((last.kind, last.amount), (LineKind::ServiceCredit, Yen(-2_500)));
    assert_eq!(last.amount, last.recompute());
}

#[test]
fn r8_2_credits_only_for_premium() {
    let c = parent(
        date(2026, 10, 1),
        vec![period(date(2026, 10, 1), Plan::Basic, 0)],
        vec![mdns("z1", date(2026, 10, 1), None)],
    );
    let inv = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap();
    let d = decide(
        &c,
        &inv,
        &nov_down(3_000),
        &[
            claim("k1", "z1", month(2026, 11), "2026-12-01T09:00:00"),
            claim("k2", "nope", month(2026, 11), "2026-12-01T09:00:00"),
        ],
    );
    assert_eq!(refusal(&d[0]), Some(&Refusal::NotPremium));
    assert_eq!(refusal(&d[1]), Some(&Refusal::UnknownService));
}

#[test]
fn r8_1_credit_of_a_prorated_month_is_rounded_down() {
    // Basic until 14 Nov, Premium + 100 QPS from the 15th: Premium 16,000 +
    // extra 2,666 (see fees tests) = 18,666 billed; × 1/4 = 4,666.5 → 4,666.
    let c = parent(
        date(2026, 10, 1),
        vec![
            period(date(2026, 10, 1), Plan::Basic, 0),
            period(date(2026, 11, 15), Plan::Premium, 100),
        ],
        vec![mdns("z1", date(2026, 10, 1), None)],
    );
    let inv = invoice(&c, month(2026, 11), &book(), &BillingSettings::default(), &jst()).unwrap();
    let d = decide(
        &c,
        &inv,
        &nov_down(217),
        &[claim("k1", "z1", month(2026, 11), "2026-12-01T09:00:00")],
    );
    assert_eq!(credited(&d[0]), Some((Yen(18_666), Fraction::new(1, 4), Yen(4_666))));
}

#[test]
fn r8_claims_must_match_the_invoice_month() {
    let (c, inv) = premium();
    let err = decide_claims(
        &c,
        &[claim("k1", "z1", month(2026, 10), "2026-11-01T09:00:00")],
        &nov_down(1),
        &inv,
        &BillingSettings::default(),
        &jst(),
    )
    .unwrap_err();
    assert!(matches!(err, BillingError::ClaimForAnotherMonth { .. }));
}

#[test]
fn r8_1_a_credit_rate_above_one_is_refused_as_configuration() {
    let (c, inv) = premium();
    let mut s = BillingSettings::default();
    s.credit_bands[2].rate = Fraction::new(3, 2);
    let err = decide_claims(
        &c,
        &[claim("k1", "z1", month(2026, 11), "2026-12-01T09:00:00")],
        &nov_down(5_000),
        &inv,
        &s,
        &jst(),
    )
    .unwrap_err();
    assert!(matches!(err, BillingError::BadCreditRate { min_ppm: 0, .. }), "{err}");
}
