//! Integer yen and the one place where money is divided (SPEC R7.3: money is
//! integer yen and every rounding is stated).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Neg, Sub};

/// An amount of money in whole yen. Negative for credits (R8.1) on an invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Yen(pub i64);

impl Yen {
    pub const ZERO: Yen = Yen(0);

    /// `self × quantity × factor`, rounded as stated. The product is taken in
    /// i128, so no intermediate overflows; a result outside i64 saturates (no
    /// real invoice comes near 9.2 × 10^18 yen, and a saturated figure is
    /// visibly wrong rather than silently wrapped).
    pub fn times(self, quantity: u64, factor: Fraction, rounding: Rounding) -> Yen {
        let num = i128::from(self.0) * i128::from(quantity) * i128::from(factor.num);
        let den = i128::from(factor.den.max(1));
        let q = rounding.divide(num, den);
        Yen(q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
    }
}

impl fmt::Display for Yen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} yen", self.0)
    }
}

impl Add for Yen {
    type Output = Yen;
    fn add(self, rhs: Yen) -> Yen {
        Yen(self.0.saturating_add(rhs.0))
    }
}

impl Sub for Yen {
    type Output = Yen;
    fn sub(self, rhs: Yen) -> Yen {
        Yen(self.0.saturating_sub(rhs.0))
    }
}

impl Neg for Yen {
    type Output = Yen;
    fn neg(self) -> Yen {
        Yen(self.0.saturating_neg())
    }
}

impl Sum for Yen {
    fn sum<I: Iterator<Item = Yen>>(iter: I) -> Yen {
        iter.fold(Yen::ZERO, Add::add)
    }
}

/// A non-negative exact fraction: a proration (days billed / days in the
/// month) or a credit rate (1/10, 1/4, 1/1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fraction {
    pub num: u64,
    pub den: u64,
}

impl Fraction {
    pub const ONE: Fraction = Fraction { num: 1, den: 1 };

    pub fn new(num: u64, den: u64) -> Fraction {
        Fraction { num, den }
    }

    /// Whether this fraction is at most 1 (a credit rate or a proration must be).
    pub fn is_at_most_one(self) -> bool {
        self.den > 0 && self.num <= self.den
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// How a division of yen is rounded to the yen (R7.3). The default is
/// round down, as SPEC R7.3 says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Toward negative infinity (切り捨て for positive amounts).
    #[default]
    Down,
    /// Toward positive infinity (切り上げ).
    Up,
    /// To the nearest yen, halves away from zero (四捨五入).
    HalfUp,
}

impl Rounding {
    /// `num / den` rounded; `den` must be positive.
    fn divide(self, num: i128, den: i128) -> i128 {
        let q = num.div_euclid(den);
        let r = num.rem_euclid(den);
        match self {
            Rounding::Down => q,
            Rounding::Up if r > 0 => q + 1,
            Rounding::Up => q,
            Rounding::HalfUp => {
                // Halves go away from zero: for a negative exact value -2.5,
                // floor is -3 with r = 0.5; away from zero is -3 (q).
                let twice = 2 * r;
                if twice > den || (twice == den && num >= 0) {
                    q + 1
                } else {
                    q
                }
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Rounding::Down => "down",
            Rounding::Up => "up",
            Rounding::HalfUp => "half_up",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r7_3_each_rounding_as_stated() {
        // (amount, quantity, fraction, rounding, expected)
        let cases = [
            // 1000 × 14/30 = 466.67
            (1000, 1, (14, 30), Rounding::Down, 466),
            (1000, 1, (14, 30), Rounding::Up, 467),
            (1000, 1, (14, 30), Rounding::HalfUp, 467),
            // 1001 × 1/2 = 500.5
            (1001, 1, (1, 2), Rounding::Down, 500),
            (1001, 1, (1, 2), Rounding::HalfUp, 501),
            // 1000 × 1/4 = 250 exactly: every rounding agrees
            (1000, 1, (1, 4), Rounding::Down, 250),
            (1000, 1, (1, 4), Rounding::Up, 250),
            (1000, 1, (1, 4), Rounding::HalfUp, 250),
            // 5000 × 3 × 1/1 = 15000
            (5000, 3, (1, 1), Rounding::Down, 15000),
            // -1001 × 1/2 = -500.5: down is -501, half-up (away from zero) -501
            (-1001, 1, (1, 2), Rounding::Down, -501),
            (-1001, 1, (1, 2), Rounding::HalfUp, -501),
            (-1001, 1, (1, 2), Rounding::Up, -500),
        ];
        for (amount, qty, (n, d), r, want) in cases {
            assert_eq!(
                Yen(amount).times(qty, Fraction::new(n, d), r),
                Yen(want),
                "{amount} × {qty} × {n}/{d} {r:?}"
            );
        }
    }

    #[test]
    fn r7_3_no_overflow_in_the_product() {
        // i64::MAX × 31/31 fits only because the product is taken in i128.
        assert_eq!(
            Yen(i64::MAX).times(1, Fraction::new(31, 31), Rounding::Down),
            Yen(i64::MAX)
        );
    }
}
