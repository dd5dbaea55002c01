//! Monthly availability (SPEC R6.1–R6.3, Art. 8, App. 1), by the method the
//! terms leave to the provider ("当社の定める算定方法"). The method, in full:
//!
//! 1. The month is `[00:00 on the 1st, 00:00 on the next 1st)` in the
//!    operator's time zone, cut into slots of the probe interval (the last
//!    slot may be shorter). A sample belongs to the slot its time falls in.
//! 2. In a slot, a probe point is *up* if any name server of the platform
//!    answered any of its probes there, *down* if it probed and no server
//!    answered, *silent* if it sent nothing. One server down while another
//!    answers is not unavailability: a full-service resolver retries the
//!    other name servers of the zone (App. 1 guarantees the servers that
//!    answer such resolvers, as a service).
//! 3. A slot is *unavailable* when more than half of the probe points that
//!    reported in it were down (a tie is available: the service answered a
//!    vantage point as large as the one it did not). A slot with no report is
//!    *unknown*, and counts as [`UnknownSlots`] says (default: excluded).
//! 4. Operator exclusions (maintenance, force majeure, the customer's breach;
//!    R6.3, Art. 8 §2) are removed, to the second, from both the numerator
//!    and the denominator.
//! 5. availability = (counted − unavailable) / counted, in seconds, as an
//!    exact fraction. A month with nothing counted is 100%.
//!
//! The caller chooses the samples: those of every server of the platform
//! (one availability for every contract), or only the probes of a
//! contract's zones.

use crate::{BillingError, BillingMonth, BillingSettings, CreditBand, Fraction, UnknownSlots};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// One probe: a DNS query from a probe point to one name server (R6.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeSample {
    pub server: String,
    pub probe_point: String,
    pub at: Timestamp,
    /// The server answered correctly (a full, authoritative answer in time).
    pub ok: bool,
}

/// Why a period is excluded (R6.3, Art. 8 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    Maintenance,
    ForceMajeure,
    CustomerBreach,
    /// Another cause not the provider's fault; say which in `note`.
    NotProviderFault,
}

/// A period the operator removes from the availability computation, with
/// who decided and why (R6.3: a recorded reason).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub from: Timestamp,
    /// Exclusive.
    pub until: Timestamp,
    pub reason: ExclusionReason,
    pub note: String,
    pub author: String,
}

/// A month's availability, as exact seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Availability {
    pub month: BillingMonth,
    /// Seconds in the month.
    pub month_seconds: u64,
    /// Seconds removed by operator exclusions.
    pub excluded_seconds: u64,
    /// Seconds of unknown slots not counted (with `UnknownSlots::Excluded`).
    pub unknown_seconds: u64,
    /// The denominator: month − excluded − unknown.
    pub counted_seconds: u64,
    /// Counted seconds that were unavailable.
    pub unavailable_seconds: u64,
}

impl Availability {
    pub fn available_seconds(&self) -> u64 {
        self.counted_seconds.saturating_sub(self.unavailable_seconds)
    }

    /// available / counted, exactly (1/1 when nothing was counted).
    pub fn ratio(&self) -> Fraction {
        if self.counted_seconds == 0 {
            Fraction::ONE
        } else {
            Fraction::new(self.available_seconds(), self.counted_seconds)
        }
    }

    /// 100% exactly: no breach of App. 1's guarantee.
    pub fn is_full(&self) -> bool {
        self.unavailable_seconds == 0
    }

    /// Whether availability ≥ `ppm` parts per million, decided exactly
    /// (available × 10^6 ≥ ppm × counted), never on a rounded figure.
    pub fn at_least_ppm(&self, ppm: u32) -> bool {
        let r = self.ratio();
        u128::from(r.num) * 1_000_000 >= u128::from(ppm) * u128::from(r.den)
    }

    /// Parts per million, rounded down: for display only; bands are decided
    /// by [`Availability::at_least_ppm`].
    pub fn ppm_floor(&self) -> u32 {
        let r = self.ratio();
        (u128::from(r.num) * 1_000_000 / u128::from(r.den.max(1))) as u32
    }

    /// "99.4976%": four decimals, rounded down.
    pub fn percent(&self) -> String {
        let r = self.ratio();
        let x = u128::from(r.num) * 1_000_000 / u128::from(r.den.max(1));
        format!("{}.{:04}%", x / 10_000, x % 10_000)
    }

    /// The credit rate App. 3 gives this availability: `None` at 100%, else
    /// the band with the highest threshold this availability reaches.
    pub fn credit_rate(&self, bands: &[CreditBand]) -> Option<Fraction> {
        if self.is_full() {
            return None;
        }
        let mut sorted: Vec<&CreditBand> = bands.iter().collect();
        sorted.sort_by_key(|b| std::cmp::Reverse(b.min_ppm));
        sorted
            .into_iter()
            .find(|b| self.at_least_ppm(b.min_ppm))
            .map(|b| b.rate)
    }
}

/// Merged, sorted `[from, until)` second ranges, clipped to `[lo, hi)`.
fn merged(mut v: Vec<(i64, i64)>, lo: i64, hi: i64) -> Vec<(i64, i64)> {
    v.retain(|&(a, b)| a < b);
    v.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in v {
        let (a, b) = (a.max(lo), b.min(hi));
        if a >= b {
            continue;
        }
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// Seconds of `[a, b)` covered by `ranges` (merged and sorted).
fn covered(ranges: &[(i64, i64)], a: i64, b: i64) -> i64 {
    ranges.iter().map(|&(x, y)| (y.min(b) - x.max(a)).max(0)).sum()
}

fn exclusion_ranges(exclusions: &[Exclusion]) -> Result<Vec<(i64, i64)>, BillingError> {
    exclusions
        .iter()
        .map(|e| {
            if e.until < e.from {
                Err(BillingError::BadExclusion {
                    author: e.author.clone(),
                })
            } else {
                Ok((e.from.as_second(), e.until.as_second()))
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Available,
    Unavailable,
    Unknown,
}

/// A month's availability from probe samples, by the method in this
/// module's documentation.
pub fn monthly_availability(
    month: BillingMonth,
    samples: &[ProbeSample],
    exclusions: &[Exclusion],
    settings: &BillingSettings,
    tz: &TimeZone,
) -> Result<Availability, BillingError> {
    let interval = i64::from(settings.probe_interval_seconds);
    if interval == 0 {
        return Err(BillingError::ZeroProbeInterval);
    }
    let start = month.start(tz)?.as_second();
    let end = month.end(tz)?.as_second();
    let slots = (end - start + interval - 1) / interval;
    let excluded = merged(exclusion_ranges(exclusions)?, start, end);

    // (slot, probe point) → (probed, any server answered)
    let mut points: HashMap<(i64, &str), (bool, bool)> = HashMap::new();
    for s in samples {
        let t = s.at.as_second();
        if t < start || t >= end {
            continue;
        }
        let e = points
            .entry(((t - start) / interval, s.probe_point.as_str()))
            .or_default();
        e.0 = true;
        e.1 |= s.ok;
    }
    let mut tally: HashMap<i64, (u32, u32)> = HashMap::new(); // slot → (up, down)
    for ((slot, _), (_, ok)) in points {
        let e = tally.entry(slot).or_default();
        if ok {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }

    let mut a = Availability {
        month,
        month_seconds: (end - start) as u64,
        excluded_seconds: covered(&excluded, start, end) as u64,
        unknown_seconds: 0,
        counted_seconds: 0,
        unavailable_seconds: 0,
    };
    for i in 0..slots {
        let (s0, s1) = (start + i * interval, (start + (i + 1) * interval).min(end));
        let len = ((s1 - s0) - covered(&excluded, s0, s1)) as u64;
        let verdict = match tally.get(&i) {
            None => Slot::Unknown,
            Some(&(up, down)) if down > up => Slot::Unavailable,
            Some(_) => Slot::Available,
        };
        match (verdict, settings.unknown_slots) {
            (Slot::Unknown, UnknownSlots::Excluded) => a.unknown_seconds += len,
            (Slot::Unavailable, _) | (Slot::Unknown, UnknownSlots::Unavailable) => {
                a.counted_seconds += len;
                a.unavailable_seconds += len;
            }
            (Slot::Available, _) | (Slot::Unknown, UnknownSlots::Available) => a.counted_seconds += len,
        }
    }
    Ok(a)
}

/// A month's availability from known outage periods instead of samples
/// (an incident log, or a test that stops a node for a measured time):
/// unavailable = the outages' union less exclusions; counted = the month
/// less exclusions.
pub fn availability_from_outages(
    month: BillingMonth,
    outages: &[(Timestamp, Timestamp)],
    exclusions: &[Exclusion],
    tz: &TimeZone,
) -> Result<Availability, BillingError> {
    let start = month.start(tz)?.as_second();
    let end = month.end(tz)?.as_second();
    let excluded = merged(exclusion_ranges(exclusions)?, start, end);
    let mut down = Vec::new();
    for &(a, b) in outages {
        if b < a {
            return Err(BillingError::BadOutage);
        }
        down.push((a.as_second(), b.as_second()));
    }
    let down = merged(down, start, end);
    let excluded_seconds = covered(&excluded, start, end);
    let unavailable: i64 = down.iter().map(|&(a, b)| (b - a) - covered(&excluded, a, b)).sum();
    Ok(Availability {
        month,
        month_seconds: (end - start) as u64,
        excluded_seconds: excluded_seconds as u64,
        unknown_seconds: 0,
        counted_seconds: (end - start - excluded_seconds) as u64,
        unavailable_seconds: unavailable as u64,
    })
}

#[cfg(test)]
mod tests;
