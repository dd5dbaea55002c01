//! A month's fees for one parent contract (SPEC §7, Art. 10, App. 2): which
//! fee falls due when (R7.1), proration (R7.2) and rounding (R7.3).
//!
//! The month is walked day by day (at most 31 steps): each billed day has a
//! state (plan, extra QPS, price version in force), and consecutive days in
//! one state make a segment. With daily proration each segment is a line of
//! `fee × days / days in month`; without, the month is one segment in the
//! state of its last billed day.

use crate::parent::{ParentContract, PlanPeriod, Service, ServiceKind};
use crate::{
    BillingError, BillingMonth, BillingSettings, Fraction, Invoice, InvoiceLine, LineKind, Origin, PriceBook,
    PriceTable, Proration, Yen,
};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use platdns_contract::Plan;

const RULE_INITIAL: &str = "R7.1; Art. 10, App. 2 1";
const RULE_CHANGE: &str = "R5.1, R7.1; Art. 10";
const RULE_PARENT: &str = "R7.1, R7.2; Art. 10, App. 2 2(3)";
const RULE_EXTRA_QPS: &str = "R2.2, R7.1, R7.2; App. 2 2(3) Premium";
const RULE_ADDITIONAL_ZONE: &str = "R7.2; App. 2 2(3) Basic and note (never prorated)";
const RULE_TM: &str = "R7.1, R7.2; Art. 10, App. 2 2(2)";
const RULE_MANAGED_DNS: &str = "R7.1, R7.2; Art. 10, App. 2 2(1)";

/// The invoice of `contract` for `month`, without credits (add those with
/// [`Invoice::with_credits`]). Deterministic: the same contract record, price
/// book and settings give the same invoice, so a closed month recomputed
/// with the book it was closed with does not change.
pub fn invoice(
    contract: &ParentContract,
    month: BillingMonth,
    prices: &PriceBook,
    settings: &BillingSettings,
    tz: &TimeZone,
) -> Result<Invoice, BillingError> {
    contract.check()?;
    let mut lines = Vec::new();
    one_time_fees(contract, month, prices, tz, &mut lines)?;
    parent_monthly(contract, month, prices, settings, &mut lines)?;
    additional_zones(contract, month, prices, settings, &mut lines)?;
    for s in &contract.services {
        service_monthly(contract, s, month, prices, settings, &mut lines)?;
    }
    Ok(Invoice::new(&contract.id, month, lines))
}

/// Initial fees fall due when the application is accepted, one-time fees
/// when the change request is (Art. 10, R7.1): each in the month of that
/// instant in the operator's zone, at the price in force that day.
fn one_time_fees(
    contract: &ParentContract,
    month: BillingMonth,
    prices: &PriceBook,
    tz: &TimeZone,
    lines: &mut Vec<InvoiceLine>,
) -> Result<(), BillingError> {
    let mut due: Vec<(Timestamp, InvoiceLine)> = Vec::new();
    let accepted_in_month = |origin: &Origin| match origin {
        Origin::Applied { accepted_at } if BillingMonth::of_instant(*accepted_at, tz) == month => {
            Some((*accepted_at, tz.to_datetime(*accepted_at).date()))
        }
        _ => None,
    };
    if let (Some((at, day)), Some(plan)) = (accepted_in_month(&contract.origin), contract.first_plan()) {
        let t = prices.in_force(day)?;
        let note = format!("{plan} parent contract accepted {day}");
        due.push((
            at,
            fixed(
                LineKind::ParentInitial,
                RULE_INITIAL,
                day,
                t,
                t.parent_initial_fee(plan),
                &note,
            ),
        ));
    }
    for s in &contract.services {
        if let Some((at, day)) = accepted_in_month(&s.origin) {
            let t = prices.in_force(day)?;
            let (kind, fee, what) = match s.kind {
                ServiceKind::ManagedDns => (LineKind::ZoneAddition, t.zone_addition_fee, "zone addition fee"),
                ServiceKind::TrafficManagement => (
                    LineKind::TrafficManagementInitial,
                    t.traffic_management_initial_fee,
                    "traffic management initial fee",
                ),
            };
            let mut l = fixed(kind, RULE_INITIAL, day, t, fee, &format!("{what}, accepted {day}"));
            l.service = Some(s.id.clone());
            due.push((at, l));
        }
    }
    for c in &contract.changes {
        if BillingMonth::of_instant(c.accepted_at, tz) == month {
            let day = tz.to_datetime(c.accepted_at).date();
            let t = prices.in_force(day)?;
            let note = format!("change request {} ({}), accepted {day}", c.id, c.kind.as_str());
            let mut l = fixed(
                LineKind::ChangeFee,
                RULE_CHANGE,
                day,
                t,
                t.change_fees.fee(c.kind),
                &note,
            );
            l.change = Some(c.kind);
            due.push((c.accepted_at, l));
        }
    }
    // A fee of 0 yen (the parent's initial fee in the terms) makes no line.
    due.retain(|(_, l)| l.amount != Yen::ZERO);
    due.sort_by_key(|(at, _)| *at);
    lines.extend(due.into_iter().map(|(_, l)| l));
    Ok(())
}

fn fixed(kind: LineKind, rule: &str, day: Date, t: &PriceTable, fee: Yen, note: &str) -> InvoiceLine {
    InvoiceLine {
        kind,
        rule: rule.to_string(),
        service: None,
        plan: None,
        change: None,
        from: day,
        to: day,
        price_version: Some(t.version.clone()),
        unit_price: fee,
        quantity: 1,
        factor: None,
        rounding: None,
        amount: fee,
        note: note.to_string(),
    }
}

/// Consecutive days in one state.
struct Segment<K> {
    from: Date,
    to: Date,
    days: u32,
    key: K,
}

/// Groups billed days into segments per the proration setting: daily keeps
/// every change of state; none makes one segment over all billed days in
/// the state of the last.
fn segments<K: PartialEq + Copy>(days: &[(Date, K)], proration: Proration) -> Vec<Segment<K>> {
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Vec::new();
    };
    match proration {
        Proration::None => vec![Segment {
            from: first.0,
            to: last.0,
            days: days.len() as u32,
            key: last.1,
        }],
        Proration::Daily => {
            let mut out: Vec<Segment<K>> = Vec::new();
            for &(d, k) in days {
                match out.last_mut() {
                    Some(s) if s.key == k && s.to.tomorrow().ok() == Some(d) => {
                        s.to = d;
                        s.days += 1;
                    }
                    _ => out.push(Segment {
                        from: d,
                        to: d,
                        days: 1,
                        key: k,
                    }),
                }
            }
            out
        }
    }
}

/// What a monthly line charges, before its days are known.
struct Charge<'a> {
    kind: LineKind,
    rule: &'a str,
    unit: Yen,
    quantity: u64,
    what: &'a str,
}

/// A monthly fee over a segment: whole when the segment is billed as a full
/// month (every day, or no proration), else `× days / days in month`.
fn monthly_line(
    c: Charge<'_>,
    (seg_from, seg_to, days): (Date, Date, u32),
    month: BillingMonth,
    t: &PriceTable,
    settings: &BillingSettings,
) -> InvoiceLine {
    let Charge {
        kind,
        rule,
        unit,
        quantity,
        what,
    } = c;
    let full = settings.proration == Proration::None || days == month.days();
    let (factor, rounding, note) = if full {
        (None, None, format!("{what}, {seg_from}..{seg_to}, full month"))
    } else {
        let f = Fraction::new(u64::from(days), u64::from(month.days()));
        (
            Some(f),
            Some(settings.rounding),
            format!("{what}, {seg_from}..{seg_to}, {days} of {} days", month.days()),
        )
    };
    InvoiceLine {
        kind,
        rule: rule.to_string(),
        service: None,
        plan: None,
        change: None,
        from: seg_from,
        to: seg_to,
        price_version: Some(t.version.clone()),
        unit_price: unit,
        quantity,
        factor,
        rounding,
        amount: unit.times(quantity, factor.unwrap_or(Fraction::ONE), settings.rounding),
        note,
    }
}

/// The parent's monthly fee and, on Premium, the extra-QPS fee (App. 2 2(3)),
/// due from the billing start date (Art. 10).
fn parent_monthly(
    contract: &ParentContract,
    month: BillingMonth,
    prices: &PriceBook,
    settings: &BillingSettings,
    lines: &mut Vec<InvoiceLine>,
) -> Result<(), BillingError> {
    let mut days: Vec<(Date, (&PlanPeriod, &PriceTable))> = Vec::new();
    for d in month.each_day().filter(|d| contract.billed_on(*d)) {
        let t = prices.in_force(d)?;
        let p = contract.plan_on(d)?;
        contract.check_qps(p, t.extra_qps_unit)?;
        days.push((d, (p, t)));
    }
    for s in segments(&days, settings.proration) {
        let (p, t) = s.key;
        let fee = t.parent_monthly_fee(p.plan);
        let what = format!("{} parent monthly fee", p.plan);
        let charge = Charge {
            kind: LineKind::ParentMonthly,
            rule: RULE_PARENT,
            unit: fee,
            quantity: 1,
            what: &what,
        };
        let mut l = monthly_line(charge, (s.from, s.to, s.days), month, t, settings);
        l.plan = Some(p.plan);
        if fee != Yen::ZERO {
            lines.push(l);
        }
        if p.plan == Plan::Premium && p.extra_qps > 0 {
            let units = t.extra_qps_units(p.extra_qps);
            let what = format!(
                "extra QPS fee, {} QPS = {units} × {} QPS",
                p.extra_qps, t.extra_qps_unit
            );
            let charge = Charge {
                kind: LineKind::ExtraQps,
                rule: RULE_EXTRA_QPS,
                unit: t.extra_qps_fee,
                quantity: units,
                what: &what,
            };
            let mut l = monthly_line(charge, (s.from, s.to, s.days), month, t, settings);
            l.plan = Some(p.plan);
            lines.push(l);
        }
    }
    Ok(())
}

/// Basic: the parent's fee covers one managed DNS service; each further one
/// adds the additional zone monthly fee, in full whatever day it was added
/// or removed (App. 2 note, R7.2). The count is the most managed DNS services
/// billed on any one Basic day of the month, less the one included: a
/// service added on the 20th counts for the whole month, and one replaced by
/// another on the same day is not two.
fn additional_zones(
    contract: &ParentContract,
    month: BillingMonth,
    prices: &PriceBook,
    settings: &BillingSettings,
    lines: &mut Vec<InvoiceLine>,
) -> Result<(), BillingError> {
    let billed: Vec<Date> = month.each_day().filter(|d| contract.billed_on(*d)).collect();
    let Some(&last) = billed.last() else {
        return Ok(());
    };
    // Which days are Basic days: each day's own plan with daily proration;
    // the month's plan (its last billed day's) without.
    let month_plan = contract.plan_on(last)?.plan;
    let mut basic_days = Vec::new();
    for &d in &billed {
        let plan = match settings.proration {
            Proration::Daily => contract.plan_on(d)?.plan,
            Proration::None => month_plan,
        };
        if plan == Plan::Basic {
            basic_days.push(d);
        }
    }
    let (Some(&first), Some(&last)) = (basic_days.first(), basic_days.last()) else {
        return Ok(());
    };
    let (peak, peak_day) = basic_days
        .iter()
        .map(|&d| {
            let n = contract
                .services
                .iter()
                .filter(|s| s.kind == ServiceKind::ManagedDns && contract.service_billed_on(s, d))
                .count() as u64;
            (n, d)
        })
        .fold((0, first), |best, x| if x.0 > best.0 { x } else { best });
    let extra = peak.saturating_sub(1);
    if extra == 0 {
        return Ok(());
    }
    let t = prices.in_force(last)?;
    let fee = t.additional_zone_monthly_fee;
    if fee == Yen::ZERO {
        return Ok(());
    }
    lines.push(InvoiceLine {
        kind: LineKind::AdditionalZone,
        rule: RULE_ADDITIONAL_ZONE.to_string(),
        service: None,
        plan: Some(Plan::Basic),
        change: None,
        from: first,
        to: last,
        price_version: Some(t.version.clone()),
        unit_price: fee,
        quantity: extra,
        factor: None,
        rounding: None,
        amount: fee.times(extra, Fraction::ONE, settings.rounding),
        note: format!(
            "additional zone monthly fee: {peak} managed DNS services on {peak_day}, 1 included, \
             {extra} additional, full month (never prorated)"
        ),
    });
    Ok(())
}

/// A child service's own monthly fee: traffic management (App. 2 2(2)), or
/// managed DNS (App. 2 2(1), 0 yen in the terms: no line then).
fn service_monthly(
    contract: &ParentContract,
    s: &Service,
    month: BillingMonth,
    prices: &PriceBook,
    settings: &BillingSettings,
    lines: &mut Vec<InvoiceLine>,
) -> Result<(), BillingError> {
    let mut days: Vec<(Date, &PriceTable)> = Vec::new();
    for d in month.each_day().filter(|d| contract.service_billed_on(s, *d)) {
        days.push((d, prices.in_force(d)?));
    }
    for seg in segments(&days, settings.proration) {
        let t = seg.key;
        let (kind, rule, fee, what) = match s.kind {
            ServiceKind::TrafficManagement => (
                LineKind::TrafficManagementMonthly,
                RULE_TM,
                t.traffic_management_monthly_fee,
                "traffic management monthly fee",
            ),
            ServiceKind::ManagedDns => (
                LineKind::ManagedDnsMonthly,
                RULE_MANAGED_DNS,
                t.managed_dns_monthly_fee,
                "managed DNS monthly fee",
            ),
        };
        if fee == Yen::ZERO {
            continue;
        }
        let charge = Charge {
            kind,
            rule,
            unit: fee,
            quantity: 1,
            what,
        };
        let mut l = monthly_line(charge, (seg.from, seg.to, seg.days), month, t, settings);
        l.service = Some(s.id.clone());
        lines.push(l);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
