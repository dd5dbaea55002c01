//! Record data in wire form → presentation form, the inverse of `rdata.rs`.
//! Anything that does not decode cleanly is printed in the RFC 3597 generic
//! form, so printing never loses data.

use crate::name::{wire_name_len, write_wire_name};
use crate::types::Rtype;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Types with a typed presentation form here.
pub fn is_typed(rtype: Rtype) -> bool {
    matches!(
        rtype,
        Rtype::A
            | Rtype::AAAA
            | Rtype::NS
            | Rtype::CNAME
            | Rtype::PTR
            | Rtype::DNAME
            | Rtype::SOA
            | Rtype::MX
            | Rtype::TXT
            | Rtype::HINFO
            | Rtype::SRV
            | Rtype::NAPTR
            | Rtype::CAA
            | Rtype::DS
            | Rtype::CDS
            | Rtype::SSHFP
            | Rtype::DNSKEY
            | Rtype::CDNSKEY
            | Rtype::RRSIG
            | Rtype::NSEC
            | Rtype::NSEC3
            | Rtype::NSEC3PARAM
            | Rtype::TLSA
            | Rtype::SVCB
            | Rtype::HTTPS
    )
}

/// Checks that wire rdata of a typed rtype is well formed.
pub fn check_wire(rtype: Rtype, rdata: &[u8]) -> Result<(), String> {
    let mut s = String::new();
    write_typed(&mut s, rtype, rdata).ok_or_else(|| format!("malformed {rtype} data"))
}

/// The presentation form of `rdata`; the generic `\# len hex` form when the
/// type is unknown or the data does not decode.
/// Records as RFC 1035 zone text: `$ORIGIN apex`, then one line per record,
/// `OWNER TTL IN TYPE RDATA` with absolute owners. What `zone print`
/// prints, a secondary's pulled copy is kept as and a DNS node's snapshot
/// holds; the zone file reader reads it back as the same records.
pub fn zone_text(apex: &crate::Name, records: &[crate::Record]) -> String {
    let mut text = format!("$ORIGIN {apex}\n");
    for r in records {
        let _ = writeln!(
            text,
            "{} {} IN {} {}",
            r.owner,
            r.ttl,
            r.rtype,
            format_rdata(r.rtype, &r.rdata)
        );
    }
    text
}

pub fn format_rdata(rtype: Rtype, rdata: &[u8]) -> String {
    let mut s = String::with_capacity(rdata.len() * 2);
    if is_typed(rtype) && write_typed(&mut s, rtype, rdata).is_some() {
        return s;
    }
    s.clear();
    let _ = write!(s, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        s.push(' ');
        s.push_str(&data_encoding::HEXLOWER.encode(rdata));
    }
    s
}

struct Cursor<'a> {
    d: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.d.len() < n {
            return None;
        }
        let (a, b) = self.d.split_at(n);
        self.d = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn name(&mut self, out: &mut String) -> Option<()> {
        let len = wire_name_len(self.d)?;
        let w = self.take(len)?;
        write_wire_name(out, w).ok()
    }
    fn char_string(&mut self, out: &mut String) -> Option<()> {
        let len = self.u8()? as usize;
        let s = self.take(len)?;
        write_quoted(out, s);
        Some(())
    }
    fn done(&self) -> Option<()> {
        self.d.is_empty().then_some(())
    }
}

/// A character string in double quotes, escaping `"`, `\` and non-printables.
pub fn write_quoted(out: &mut String, s: &[u8]) {
    out.push('"');
    for &b in s {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

fn write_bitmap(out: &mut String, mut d: &[u8]) -> Option<()> {
    let mut last_window: Option<u8> = None;
    while !d.is_empty() {
        let window = d[0];
        let len = *d.get(1)? as usize;
        if len == 0 || len > 32 || last_window.is_some_and(|w| w >= window) {
            return None;
        }
        last_window = Some(window);
        let bits = d.get(2..2 + len)?;
        for (i, &byte) in bits.iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    let t = Rtype(((window as u16) << 8) | (i * 8 + bit) as u16);
                    let _ = write!(out, " {t}");
                }
            }
        }
        d = &d[2 + len..];
    }
    Some(())
}

/// `YYYYMMDDHHmmSS` for an RRSIG time (RFC 4034 §3.2), taking the 32-bit value
/// as seconds after 1970 (the reading nearest to now is not needed for display).
fn write_sig_time(out: &mut String, t: u32) {
    let secs = t as i64;
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}{m:02}{d:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn write_typed(out: &mut String, rtype: Rtype, rdata: &[u8]) -> Option<()> {
    use base64::Engine;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let hex = &data_encoding::HEXUPPER;
    let mut c = Cursor { d: rdata };
    match rtype {
        Rtype::A => {
            let a: [u8; 4] = c.take(4)?.try_into().ok()?;
            let _ = write!(out, "{}", Ipv4Addr::from(a));
        }
        Rtype::AAAA => {
            let a: [u8; 16] = c.take(16)?.try_into().ok()?;
            let _ = write!(out, "{}", Ipv6Addr::from(a));
        }
        Rtype::NS | Rtype::CNAME | Rtype::PTR | Rtype::DNAME => c.name(out)?,
        Rtype::SOA => {
            c.name(out)?;
            out.push(' ');
            c.name(out)?;
            for _ in 0..5 {
                let _ = write!(out, " {}", c.u32()?);
            }
        }
        Rtype::MX => {
            let _ = write!(out, "{} ", c.u16()?);
            c.name(out)?;
        }
        Rtype::TXT => {
            if c.d.is_empty() {
                return None;
            }
            let mut first = true;
            while !c.d.is_empty() {
                if !first {
                    out.push(' ');
                }
                first = false;
                c.char_string(out)?;
            }
        }
        Rtype::HINFO => {
            c.char_string(out)?;
            out.push(' ');
            c.char_string(out)?;
        }
        Rtype::SRV => {
            let _ = write!(out, "{} {} {} ", c.u16()?, c.u16()?, c.u16()?);
            c.name(out)?;
        }
        Rtype::NAPTR => {
            let _ = write!(out, "{} {}", c.u16()?, c.u16()?);
            for _ in 0..3 {
                out.push(' ');
                c.char_string(out)?;
            }
            out.push(' ');
            c.name(out)?;
        }
        Rtype::CAA => {
            let flags = c.u8()?;
            let tag_len = c.u8()? as usize;
            let tag = c.take(tag_len)?;
            if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return None;
            }
            let _ = write!(out, "{flags} {} ", std::str::from_utf8(tag).ok()?);
            write_quoted(out, c.take(c.d.len())?);
        }
        Rtype::DS | Rtype::CDS => {
            let _ = write!(out, "{} {} {} ", c.u16()?, c.u8()?, c.u8()?);
            if c.d.is_empty() {
                return None;
            }
            out.push_str(&hex.encode(c.take(c.d.len())?));
        }
        Rtype::SSHFP => {
            let _ = write!(out, "{} {} ", c.u8()?, c.u8()?);
            if c.d.is_empty() {
                return None;
            }
            out.push_str(&hex.encode(c.take(c.d.len())?));
        }
        Rtype::DNSKEY | Rtype::CDNSKEY => {
            let _ = write!(out, "{} {} {} ", c.u16()?, c.u8()?, c.u8()?);
            if c.d.is_empty() {
                return None;
            }
            out.push_str(&b64.encode(c.take(c.d.len())?));
        }
        Rtype::RRSIG => {
            let covered = Rtype(c.u16()?);
            let _ = write!(out, "{covered} {} {} {} ", c.u8()?, c.u8()?, c.u32()?);
            write_sig_time(out, c.u32()?);
            out.push(' ');
            write_sig_time(out, c.u32()?);
            let _ = write!(out, " {} ", c.u16()?);
            c.name(out)?;
            out.push(' ');
            if c.d.is_empty() {
                return None;
            }
            out.push_str(&b64.encode(c.take(c.d.len())?));
        }
        Rtype::NSEC => {
            c.name(out)?;
            write_bitmap(out, c.take(c.d.len())?)?;
        }
        Rtype::NSEC3 | Rtype::NSEC3PARAM => {
            let _ = write!(out, "{} {} {} ", c.u8()?, c.u8()?, c.u16()?);
            let salt_len = c.u8()? as usize;
            let salt = c.take(salt_len)?;
            if salt.is_empty() {
                out.push('-');
            } else {
                out.push_str(&hex.encode(salt));
            }
            if rtype == Rtype::NSEC3 {
                let hl = c.u8()? as usize;
                if hl == 0 {
                    return None;
                }
                out.push(' ');
                out.push_str(&data_encoding::BASE32HEX_NOPAD.encode(c.take(hl)?));
                write_bitmap(out, c.take(c.d.len())?)?;
            }
        }
        Rtype::TLSA => {
            let _ = write!(out, "{} {} {} ", c.u8()?, c.u8()?, c.u8()?);
            if c.d.is_empty() {
                return None;
            }
            out.push_str(&hex.encode(c.take(c.d.len())?));
        }
        Rtype::SVCB | Rtype::HTTPS => {
            let _ = write!(out, "{} ", c.u16()?);
            c.name(out)?;
            crate::svcb::write_params(out, c.take(c.d.len())?)?;
        }
        _ => return None,
    }
    c.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use crate::rdata::{parse_rdata, Token};

    fn round_trip(rtype: Rtype, text: &str) -> String {
        let origin = Name::from_text("example.", None).unwrap();
        let tokens: Vec<Token> = text.split_whitespace().map(Token::plain).collect();
        let wire = parse_rdata(rtype, &tokens, &origin).unwrap_or_else(|e| panic!("{rtype} {text}: {e}"));
        let printed = format_rdata(rtype, &wire);
        let tokens2: Vec<Token> = printed
            .split_whitespace()
            .map(|t| match t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
                Some(inner) => Token {
                    text: inner,
                    quoted: true,
                },
                None => Token::plain(t),
            })
            .collect();
        let wire2 = parse_rdata(rtype, &tokens2, &origin).unwrap_or_else(|e| panic!("reparse {printed}: {e}"));
        assert_eq!(wire, wire2, "{printed}");
        printed
    }

    #[test]
    fn every_typed_rtype_round_trips() {
        assert_eq!(round_trip(Rtype::A, "192.0.2.1"), "192.0.2.1");
        assert_eq!(round_trip(Rtype::AAAA, "2001:db8::1"), "2001:db8::1");
        assert_eq!(round_trip(Rtype::MX, "10 mail"), "10 mail.example.");
        assert_eq!(
            round_trip(Rtype::SOA, "ns hostmaster 1 1h 15m 1w 300"),
            "ns.example. hostmaster.example. 1 3600 900 604800 300"
        );
        assert_eq!(round_trip(Rtype::SRV, "0 5 5060 sip"), "0 5 5060 sip.example.");
        round_trip(Rtype::NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp");
        round_trip(Rtype::CAA, "0 issue \"letsencrypt.org\"");
        round_trip(Rtype::DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118");
        round_trip(Rtype::TLSA, "3 1 1 0123456789ABCDEF");
        round_trip(Rtype::SSHFP, "4 2 abcdef");
        round_trip(
            Rtype::DNSKEY,
            "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==",
        );
        round_trip(
            Rtype::RRSIG,
            "A 13 2 3600 20261231000000 20261201000000 12345 example. dGVzdA==",
        );
        assert_eq!(
            round_trip(Rtype::NSEC, "b A MX RRSIG NSEC TYPE1234"),
            "b.example. A MX RRSIG NSEC TYPE1234"
        );
        round_trip(Rtype::NSEC3, "1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG");
        round_trip(Rtype::NSEC3PARAM, "1 0 0 -");
        round_trip(
            Rtype::HTTPS,
            "1 . alpn=h2,h3 port=8443 ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1",
        );
        round_trip(Rtype::SVCB, "0 svc.example.");
        round_trip(
            Rtype::SVCB,
            "16 foo.example.org. mandatory=alpn alpn=h2 key667=hello no-default-alpn",
        );
        round_trip(Rtype(65534), "\\# 2 abcd");
    }

    #[test]
    fn rrsig_time_matches_rfc4034_example() {
        let origin = Name::root();
        let toks: Vec<Token> = "A 5 3 86400 20030322173103 20030220173103 2642 example. dGVzdA=="
            .split_whitespace()
            .map(Token::plain)
            .collect();
        let wire = parse_rdata(Rtype::RRSIG, &toks, &origin).unwrap();
        assert_eq!(u32::from_be_bytes(wire[8..12].try_into().unwrap()), 1048354263);
        assert!(format_rdata(Rtype::RRSIG, &wire).contains("20030322173103 20030220173103"));
    }

    #[test]
    fn malformed_wire_prints_generic() {
        assert_eq!(format_rdata(Rtype::A, &[1, 2, 3]), "\\# 3 010203");
    }
}
