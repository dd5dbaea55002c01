//! The availability method on probe samples. November 2026 in JST: 30 days
//! = 43,200 one-minute slots; three probe points, two name servers.

use crate::testkit::*;
use crate::*;
use jiff::Timestamp;

const POINTS: [&str; 3] = ["tokyo", "osaka", "singapore"];
const SERVERS: [&str; 2] = ["ns1", "ns2"];
const NOV_MINUTES: i64 = 43_200;

/// One probe per point and server each minute, 5 s into the slot; `ok`
/// decides the result; `silent` minutes send nothing at all.
fn samples(ok: impl Fn(i64, &str, &str) -> bool, silent: impl Fn(i64) -> bool) -> Vec<ProbeSample> {
    let start = at("2026-11-01T00:00:00").as_second();
    let mut out = Vec::new();
    for m in (0..NOV_MINUTES).filter(|m| !silent(*m)) {
        for p in POINTS {
            for s in SERVERS {
                out.push(ProbeSample {
                    server: s.to_string(),
                    probe_point: p.to_string(),
                    at: Timestamp::from_second(start + m * 60 + 5).unwrap(),
                    ok: ok(m, p, s),
                });
            }
        }
    }
    out
}

fn avail(samples: &[ProbeSample], exclusions: &[Exclusion], s: &BillingSettings) -> Availability {
    monthly_availability(month(2026, 11), samples, exclusions, s, &jst()).unwrap()
}

/// Every server unreachable from every point in the first `n` minutes.
fn first_minutes_down(n: i64) -> Vec<ProbeSample> {
    samples(move |m, _, _| m >= n, |_| false)
}

#[test]
fn r6_2_availability_at_each_band_boundary() {
    let bands = default_credit_bands();
    // (minutes down, unavailable/counted, credit rate)
    let cases: [(i64, Option<(u64, u64)>); 7] = [
        // 0: 100% exactly, no credit
        (0, None),
        // 1: 43,199/43,200, just under 100% → 1/10
        (1, Some((1, 10))),
        // 216: 42,984/43,200 = 99.5% exactly → 1/10
        (216, Some((1, 10))),
        // 217: just under 99.5% → 1/4
        (217, Some((1, 4))),
        // 2,160: 41,040/43,200 = 95% exactly → 1/4
        (2_160, Some((1, 4))),
        // 2,161: just under 95% → all
        (2_161, Some((1, 1))),
        (NOV_MINUTES, Some((1, 1))),
    ];
    let s = BillingSettings::default();
    for (n, rate) in cases {
        let a = avail(&first_minutes_down(n), &[], &s);
        assert_eq!(a.counted_seconds, 43_200 * 60, "{n}");
        assert_eq!(a.unavailable_seconds, n as u64 * 60, "{n}");
        assert_eq!(
            a.credit_rate(&bands),
            rate.map(|(x, y)| Fraction::new(x, y)),
            "{n} min down"
        );
    }
    // The exact comparisons behind the bands.
    assert!(avail(&first_minutes_down(216), &[], &s).at_least_ppm(995_000));
    assert!(!avail(&first_minutes_down(217), &[], &s).at_least_ppm(995_000));
    assert!(avail(&first_minutes_down(2_160), &[], &s).at_least_ppm(950_000));
    assert!(!avail(&first_minutes_down(2_161), &[], &s).at_least_ppm(950_000));
}

#[test]
fn r6_2_one_server_down_while_another_answers_is_available() {
    // ns1 dead all month; ns2 answers every point: 100%.
    let a = avail(
        &samples(|_, _, s| s != "ns1", |_| false),
        &[],
        &BillingSettings::default(),
    );
    assert!(a.is_full());
    assert_eq!(a.percent(), "100.0000%");
}

#[test]
fn r6_2_a_slot_is_down_when_a_majority_of_probe_points_get_no_answer() {
    let s = BillingSettings::default();
    // Singapore alone cut off for 500 minutes (1 of 3 points): 100%.
    let one = samples(|m, p, _| !(m < 500 && p == "singapore"), |_| false);
    assert!(avail(&one, &[], &s).is_full());
    // Osaka and Singapore cut off for 10 minutes (2 of 3): 10 minutes down.
    let two = samples(|m, p, _| !(m < 10 && p != "tokyo"), |_| false);
    assert_eq!(avail(&two, &[], &s).unavailable_seconds, 600);
    // A tie is available: in minutes 0..10 Tokyo is silent (probed nothing),
    // Singapore is cut off and Osaka answers: 1 down of 2 reporting.
    let start = at("2026-11-01T00:00:00").as_second();
    let tie: Vec<ProbeSample> = samples(|m, p, _| !(m < 10 && p == "singapore"), |_| false)
        .into_iter()
        .filter(|x| !(x.probe_point == "tokyo" && x.at.as_second() < start + 600))
        .collect();
    assert!(avail(&tie, &[], &s).is_full());
}

#[test]
fn r6_3_excluded_time_leaves_numerator_and_denominator() {
    // 216 minutes down from 00:00; maintenance excluded 03:00–05:00 JST (120
    // minutes, of which minutes 180..216 = 36 were down).
    // counted = 43,200 − 120 = 43,080 min; unavailable = 216 − 36 = 180 min;
    // availability = 42,900/43,080 = 99.58217% → 1/10.
    let ex = Exclusion {
        from: at("2026-11-01T03:00:00"),
        until: at("2026-11-01T05:00:00"),
        reason: ExclusionReason::Maintenance,
        note: "kernel upgrade, announced 2026-10-20".into(),
        author: "ops@example".into(),
    };
    let a = avail(
        &first_minutes_down(216),
        std::slice::from_ref(&ex),
        &BillingSettings::default(),
    );
    assert_eq!(a.excluded_seconds, 120 * 60);
    assert_eq!(a.counted_seconds, 43_080 * 60);
    assert_eq!(a.unavailable_seconds, 180 * 60);
    assert_eq!(a.percent(), "99.5821%"); // 0.99582172... rounded down
    assert_eq!(a.credit_rate(&default_credit_bands()), Some(Fraction::new(1, 10)));
    // The same by outage periods: identical figures.
    let b = availability_from_outages(
        month(2026, 11),
        &[(at("2026-11-01T00:00:00"), at("2026-11-01T03:36:00"))],
        std::slice::from_ref(&ex),
        &jst(),
    )
    .unwrap();
    assert_eq!(
        (b.counted_seconds, b.unavailable_seconds),
        (a.counted_seconds, a.unavailable_seconds)
    );
    // Overlapping exclusions count once; parts outside the month not at all.
    let wide = Exclusion {
        from: at("2026-10-31T23:00:00"),
        until: at("2026-11-01T04:00:00"),
        ..ex.clone()
    };
    let a = avail(&first_minutes_down(0), &[ex, wide], &BillingSettings::default());
    // union 00:00–05:00 inside November = 300 minutes
    assert_eq!(a.excluded_seconds, 300 * 60);
}

#[test]
fn r6_2_silent_slots_count_as_the_setting_says() {
    // The prober sent nothing for 100 minutes; everything else answered.
    let quiet = samples(|_, _, _| true, |m| m < 100);
    let with = |u| {
        avail(
            &quiet,
            &[],
            &BillingSettings {
                unknown_slots: u,
                ..BillingSettings::default()
            },
        )
    };
    let a = with(UnknownSlots::Excluded);
    // counted 43,100 minutes, all available
    assert_eq!((a.unknown_seconds, a.counted_seconds), (6_000, 43_100 * 60));
    assert!(a.is_full());
    assert!(with(UnknownSlots::Available).is_full());
    assert_eq!(with(UnknownSlots::Unavailable).unavailable_seconds, 6_000);
}

#[test]
fn r6_2_month_boundaries_are_in_the_operator_zone() {
    // A failure at 2026-10-31T15:30Z is 1 Nov 00:30 JST: November's. One at
    // 2026-11-30T15:00Z is 1 Dec 00:00 JST: not November's.
    let t = |s: &str| s.parse::<Timestamp>().unwrap();
    let bad = |ts: &str| ProbeSample {
        server: "ns1".into(),
        probe_point: "tokyo".into(),
        at: t(ts),
        ok: false,
    };
    let s = BillingSettings {
        unknown_slots: UnknownSlots::Available,
        ..BillingSettings::default()
    };
    let a = avail(&[bad("2026-10-31T15:30:10Z")], &[], &s);
    assert_eq!(a.unavailable_seconds, 60);
    let a = avail(&[bad("2026-11-30T15:00:00Z"), bad("2026-10-31T14:59:59Z")], &[], &s);
    assert!(a.is_full());
}

#[test]
fn r6_3_operator_input_errors() {
    let s = BillingSettings {
        probe_interval_seconds: 0,
        ..BillingSettings::default()
    };
    assert_eq!(
        monthly_availability(month(2026, 11), &[], &[], &s, &jst()),
        Err(BillingError::ZeroProbeInterval)
    );
    let backwards = Exclusion {
        from: at("2026-11-02T00:00:00"),
        until: at("2026-11-01T00:00:00"),
        reason: ExclusionReason::ForceMajeure,
        note: String::new(),
        author: "ops".into(),
    };
    assert!(matches!(
        monthly_availability(month(2026, 11), &[], &[backwards], &BillingSettings::default(), &jst()),
        Err(BillingError::BadExclusion { .. })
    ));
    // Nothing counted at all (the whole month excluded) is 100%.
    let all = Exclusion {
        from: at("2026-11-01T00:00:00"),
        until: at("2026-12-01T00:00:00"),
        reason: ExclusionReason::ForceMajeure,
        note: String::new(),
        author: "ops".into(),
    };
    let a = availability_from_outages(
        month(2026, 11),
        &[(at("2026-11-03T00:00:00"), at("2026-11-04T00:00:00"))],
        &[all],
        &jst(),
    )
    .unwrap();
    assert_eq!((a.counted_seconds, a.unavailable_seconds), (0, 0));
    assert!(a.is_full());
}
