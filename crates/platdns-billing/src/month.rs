//! Billing months and their boundaries in the operator's time zone
//! (DESIGN §3 "Time": billing months are in the operator's time zone, default
//! Asia/Tokyo). The zone is always an argument: this crate has no clock and
//! reads no time zone database itself.

use crate::BillingError;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The operator time zone the terms are read in unless configured otherwise.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";

/// A calendar month, e.g. `2026-11`. Serialised as that text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BillingMonth {
    first: Date,
}

impl BillingMonth {
    /// The month `year`-`month`; `None` if out of range.
    pub fn new(year: i16, month: i8) -> Option<BillingMonth> {
        Date::new(year, month, 1).ok().map(|first| BillingMonth { first })
    }

    /// The month a calendar day belongs to.
    pub fn of_date(d: Date) -> BillingMonth {
        BillingMonth {
            first: d.first_of_month(),
        }
    }

    /// The month an instant falls in, in the operator's time zone.
    pub fn of_instant(t: Timestamp, tz: &TimeZone) -> BillingMonth {
        BillingMonth::of_date(tz.to_datetime(t).date())
    }

    pub fn year(self) -> i16 {
        self.first.year()
    }

    pub fn month(self) -> i8 {
        self.first.month()
    }

    pub fn first_day(self) -> Date {
        self.first
    }

    pub fn last_day(self) -> Date {
        self.first.last_of_month()
    }

    pub fn days(self) -> u32 {
        self.first.days_in_month() as u32
    }

    pub fn contains(self, d: Date) -> bool {
        BillingMonth::of_date(d) == self
    }

    pub fn next(self) -> Result<BillingMonth, BillingError> {
        self.last_day()
            .tomorrow()
            .map(BillingMonth::of_date)
            .map_err(|_| BillingError::DateOutOfRange)
    }

    /// Every day of the month, in order.
    pub fn each_day(self) -> impl Iterator<Item = Date> {
        let first = self.first;
        (0..self.days()).filter_map(move |i| first.checked_add(jiff::Span::new().days(i64::from(i))).ok())
    }

    /// The month's first instant in `tz` (00:00:00 on the 1st).
    pub fn start(self, tz: &TimeZone) -> Result<Timestamp, BillingError> {
        day_start(self.first, tz)
    }

    /// The first instant after the month in `tz` (00:00:00 on the next 1st):
    /// the month is the half-open range `[start, end)`.
    pub fn end(self, tz: &TimeZone) -> Result<Timestamp, BillingError> {
        day_start(self.next()?.first, tz)
    }
}

/// 00:00:00 of `d` in `tz`, as an instant.
pub fn day_start(d: Date, tz: &TimeZone) -> Result<Timestamp, BillingError> {
    d.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|_| BillingError::DateOutOfRange)
}

impl fmt::Display for BillingMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl FromStr for BillingMonth {
    type Err = BillingError;
    fn from_str(s: &str) -> Result<BillingMonth, BillingError> {
        let bad = || BillingError::BadMonth(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        let y: i16 = y.parse().map_err(|_| bad())?;
        let m: i8 = m.parse().map_err(|_| bad())?;
        BillingMonth::new(y, m).ok_or_else(bad)
    }
}

impl TryFrom<String> for BillingMonth {
    type Error = BillingError;
    fn try_from(s: String) -> Result<BillingMonth, BillingError> {
        s.parse()
    }
}

impl From<BillingMonth> for String {
    fn from(m: BillingMonth) -> String {
        m.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jiff::civil::date;

    /// The operator's default zone. Japan has kept UTC+9 without daylight
    /// saving since 1951, so every expectation below is "UTC + 9 hours".
    pub(crate) fn jst() -> TimeZone {
        TimeZone::get(DEFAULT_TIME_ZONE).expect("the system time zone database has Asia/Tokyo")
    }

    #[test]
    fn months_start_at_midnight_in_the_operator_zone() {
        let m = BillingMonth::new(2026, 11).unwrap();
        // 2026-11-01T00:00+09:00 is 2026-10-31T15:00Z.
        assert_eq!(m.start(&jst()).unwrap(), "2026-10-31T15:00:00Z".parse().unwrap());
        assert_eq!(m.end(&jst()).unwrap(), "2026-11-30T15:00:00Z".parse().unwrap());
        // An instant at 15:00Z on Oct 31 is already November in Tokyo.
        let t: Timestamp = "2026-10-31T15:00:00Z".parse().unwrap();
        assert_eq!(BillingMonth::of_instant(t, &jst()), m);
        let t: Timestamp = "2026-10-31T14:59:59Z".parse().unwrap();
        assert_eq!(BillingMonth::of_instant(t, &jst()).to_string(), "2026-10");
    }

    #[test]
    fn months_know_their_days_and_successors() {
        let dec = BillingMonth::new(2026, 12).unwrap();
        assert_eq!(dec.next().unwrap(), BillingMonth::new(2027, 1).unwrap());
        assert_eq!(dec.days(), 31);
        assert_eq!(BillingMonth::new(2028, 2).unwrap().days(), 29);
        assert_eq!(dec.each_day().count(), 31);
        assert_eq!(dec.each_day().last(), Some(date(2026, 12, 31)));
        assert_eq!("2026-12".parse::<BillingMonth>().unwrap(), dec);
        assert!("2026-13".parse::<BillingMonth>().is_err());
        assert_eq!(serde_json_roundtrip(dec), "\"2026-12\"");
    }

    fn serde_json_roundtrip(m: BillingMonth) -> String {
        let s = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<BillingMonth>(&s).unwrap(), m);
        s
    }
}
