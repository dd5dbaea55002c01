//! RFC 1982 serial number arithmetic with SERIAL_BITS = 32: SOA serials
//! (RFC 1034 §4.3.5, RFC 1995, RFC 1996) and signature times (RFC 4034
//! §3.1.5) wrap around, so "newer" is a comparison modulo 2^32, and two
//! values exactly 2^31 apart are neither before nor after each other.

use std::cmp::Ordering;

/// A 32-bit serial number; compare with [`Serial::is_after`] or
/// `partial_cmp`, never as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Serial(pub u32);

impl std::ops::Add<u32> for Serial {
    type Output = Serial;

    /// RFC 1982 §3.1: adds `n` (defined for 0 ≤ n ≤ 2^31 − 1; larger values
    /// are taken modulo 2^32 like any other).
    fn add(self, n: u32) -> Serial {
        Serial(self.0.wrapping_add(n))
    }
}

impl Serial {
    /// RFC 1982 §3.2: `self` comes after `other`.
    pub fn is_after(self, other: Serial) -> bool {
        self != other && (self.0.wrapping_sub(other.0) as i32) > 0
    }

    /// `self` is `other` or comes after it.
    pub fn at_or_after(self, other: Serial) -> bool {
        self == other || self.is_after(other)
    }
}

impl PartialOrd for Serial {
    /// `None` for the pairs RFC 1982 leaves undefined (2^31 apart).
    fn partial_cmp(&self, other: &Serial) -> Option<Ordering> {
        if self == other {
            Some(Ordering::Equal)
        } else if self.is_after(*other) {
            Some(Ordering::Greater)
        } else if other.is_after(*self) {
            Some(Ordering::Less)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_wraps_at_2_to_the_32() {
        assert!(Serial(2).is_after(Serial(1)));
        assert!(!Serial(1).is_after(Serial(1)));
        assert!(Serial(0).is_after(Serial(u32::MAX)), "0 follows 2^32 - 1");
        assert!(Serial(10).is_after(Serial(u32::MAX - 5)));
        assert!(!Serial(u32::MAX - 5).at_or_after(Serial(10)));
        assert!(Serial(7).at_or_after(Serial(7)));
        assert_eq!(Serial(u32::MAX) + 1, Serial(0));
        // RFC 1982 §3.2: 2^31 apart is undefined, in both directions.
        let (a, b) = (Serial(0), Serial(1 << 31));
        assert!(!a.is_after(b) && !b.is_after(a));
        assert_eq!(a.partial_cmp(&b), None);
        // The largest step forward is 2^31 - 1.
        assert!(Serial((1 << 31) - 1) > Serial(0));
        assert!(Serial(1 << 31) > Serial(1));
    }
}
