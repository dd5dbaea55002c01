//! Record types and classes as open integer newtypes (RFC 3597 §5: an unknown
//! `TYPE65280` must still be representable and round-trip).

use std::fmt;

macro_rules! int_enum {
    ($(#[$m:meta])* $ty:ident, $generic:literal, { $($name:ident = $val:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub u16);

        impl $ty {
            $(pub const $name: $ty = $ty($val);)*

            /// The mnemonic, if this code point has one.
            pub fn mnemonic(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some(stringify!($name)),)*
                    _ => None,
                }
            }

            /// Parses a mnemonic or the RFC 3597 generic form (`TYPE123`, `CLASS1`),
            /// case-insensitively.
            pub fn from_text(s: &str) -> Option<$ty> {
                $(if s.eq_ignore_ascii_case(stringify!($name)) { return Some($ty::$name); })*
                let digits = s.get(..$generic.len())
                    .filter(|p| p.eq_ignore_ascii_case($generic))
                    .map(|_| &s[$generic.len()..])?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse::<u16>().ok().map($ty)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.mnemonic() {
                    Some(m) => f.write_str(m),
                    None => write!(f, "{}{}", $generic, self.0),
                }
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}

int_enum!(
    /// A resource record type (IANA "Resource Record (RR) TYPEs").
    Rtype, "TYPE", {
    A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15, TXT = 16,
    AAAA = 28, SRV = 33, NAPTR = 35, DNAME = 39, OPT = 41, DS = 43, SSHFP = 44,
    RRSIG = 46, NSEC = 47, DNSKEY = 48, NSEC3 = 50, NSEC3PARAM = 51, TLSA = 52,
    CDS = 59, CDNSKEY = 60, SVCB = 64, HTTPS = 65, IXFR = 251, AXFR = 252,
    MAILB = 253, MAILA = 254, ANY = 255, CAA = 257,
});

int_enum!(
    /// A record class (RFC 1035 §3.2.4).
    Class, "CLASS", { IN = 1, CH = 3, HS = 4, NONE = 254, ANY = 255 });

impl Rtype {
    /// Meta-types and QTYPEs that may not appear as data (RFC 6895 §3.1).
    pub fn is_meta(self) -> bool {
        matches!(self.0, 41 | 128..=255)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonics_and_generic_forms_round_trip() {
        assert_eq!(Rtype::from_text("aaaa"), Some(Rtype::AAAA));
        assert_eq!(Rtype::from_text("TYPE65534"), Some(Rtype(65534)));
        assert_eq!(Rtype(65534).to_string(), "TYPE65534");
        assert_eq!(Rtype::from_text("type1"), Some(Rtype::A));
        assert_eq!(Rtype::from_text("TYPE"), None);
        assert_eq!(Rtype::from_text("TYPE70000"), None);
        assert_eq!(Class::from_text("in"), Some(Class::IN));
        assert_eq!(Class::from_text("CLASS3"), Some(Class::CH));
    }
}
