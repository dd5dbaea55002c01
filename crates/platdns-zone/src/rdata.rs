//! Record data in presentation form → uncompressed wire form, one function per
//! type (RFC 1035 §3.3, and each type's own RFC). The inverse lives in
//! `present.rs`. Errors name the field, so a zone file error reads
//! `zone.db:17: MX: preference: "ten" is not a number`.

use crate::name::Name;
use crate::types::Rtype;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One presentation-form token: the raw text (escapes not yet applied) and
/// whether it was written inside double quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    pub text: &'a str,
    pub quoted: bool,
}

impl<'a> Token<'a> {
    pub fn plain(text: &'a str) -> Token<'a> {
        Token { text, quoted: false }
    }
}

/// What was wrong with the rdata, and in which field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdataError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for RdataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for RdataError {}

pub(crate) fn err<T>(field: &'static str, message: impl Into<String>) -> Result<T, RdataError> {
    Err(RdataError {
        field,
        message: message.into(),
    })
}

/// Reads tokens left to right, naming the field each one is for.
struct Fields<'t, 'a> {
    tokens: &'t [Token<'a>],
    pos: usize,
}

impl<'t, 'a> Fields<'t, 'a> {
    fn next(&mut self, field: &'static str) -> Result<Token<'a>, RdataError> {
        let t = self.tokens.get(self.pos).copied();
        self.pos += 1;
        t.map_or_else(|| err(field, "missing"), Ok)
    }

    fn rest(&mut self) -> &'t [Token<'a>] {
        let r = &self.tokens[self.pos.min(self.tokens.len())..];
        self.pos = self.tokens.len();
        r
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.tokens.len()
    }

    fn finish(&self) -> Result<(), RdataError> {
        match self.tokens.get(self.pos) {
            None => Ok(()),
            Some(t) => err("rdata", format!("unexpected trailing \"{}\"", t.text)),
        }
    }

    fn int<T: TryFrom<u64>>(&mut self, field: &'static str) -> Result<T, RdataError> {
        let t = self.next(field)?;
        parse_int(t.text, field)
    }

    fn name(&mut self, field: &'static str, origin: &Name, out: &mut Vec<u8>) -> Result<(), RdataError> {
        let t = self.next(field)?;
        let n = Name::from_text(t.text, Some(origin)).or_else(|e| err(field, e.to_string()))?;
        out.extend_from_slice(n.as_wire());
        Ok(())
    }
}

fn parse_int<T: TryFrom<u64>>(text: &str, field: &'static str) -> Result<T, RdataError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return err(field, format!("\"{text}\" is not a number"));
    }
    let v: u64 = text
        .parse()
        .or_else(|_| err(field, format!("\"{text}\" is out of range")))?;
    T::try_from(v).or_else(|_| err(field, format!("{v} is out of range")))
}

/// A TTL or SOA timer: seconds, or BIND-style units (`1w2d3h4m5s`).
pub fn parse_ttl(text: &str) -> Option<u32> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<u32>().ok();
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for b in text.bytes() {
        if b.is_ascii_digit() {
            num = Some(num.unwrap_or(0).checked_mul(10)? + (b - b'0') as u64);
            if num? > u32::MAX as u64 {
                return None;
            }
        } else {
            let unit = match b.to_ascii_lowercase() {
                b's' => 1,
                b'm' => 60,
                b'h' => 3600,
                b'd' => 86400,
                b'w' => 604800,
                _ => return None,
            };
            total += num.take()? * unit;
        }
    }
    if num.is_some() {
        return None;
    }
    u32::try_from(total).ok()
}

fn time_field(f: &mut Fields, field: &'static str) -> Result<u32, RdataError> {
    let t = f.next(field)?;
    parse_ttl(t.text).map_or_else(|| err(field, format!("\"{}\" is not a time value", t.text)), Ok)
}

/// Applies RFC 1035 §5.1 escapes (`\X`, `\DDD`) to a character string.
pub fn unescape_bytes(text: &str, field: &'static str) -> Result<Vec<u8>, RdataError> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let rest = &b[i + 1..];
            match rest.first() {
                None => return err(field, "dangling backslash"),
                Some(d) if d.is_ascii_digit() => {
                    if rest.len() < 3 || !rest[..3].iter().all(u8::is_ascii_digit) {
                        return err(field, "\\DDD escape needs three digits");
                    }
                    let v = (rest[0] - b'0') as u32 * 100 + (rest[1] - b'0') as u32 * 10 + (rest[2] - b'0') as u32;
                    if v > 255 {
                        return err(field, format!("\\{v} is not an octet"));
                    }
                    out.push(v as u8);
                    i += 4;
                }
                Some(&c) => {
                    out.push(c);
                    i += 2;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn char_string(t: Token, field: &'static str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let bytes = unescape_bytes(t.text, field)?;
    if bytes.len() > 255 {
        return err(field, format!("character string of {} octets exceeds 255", bytes.len()));
    }
    out.push(bytes.len() as u8);
    out.extend_from_slice(&bytes);
    Ok(())
}

fn hex_field(tokens: &[Token], field: &'static str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let joined: String = tokens.iter().map(|t| t.text).collect();
    if joined.is_empty() {
        return err(field, "missing");
    }
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(joined.as_bytes())
        .or_else(|e| err(field, format!("bad hex: {e}")))?;
    out.extend_from_slice(&bytes);
    Ok(())
}

fn base64_field(tokens: &[Token], field: &'static str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    use base64::Engine;
    let joined: String = tokens.iter().map(|t| t.text).collect();
    if joined.is_empty() {
        return err(field, "missing");
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(joined.as_bytes())
        .or_else(|e| err(field, format!("bad base64: {e}")))?;
    out.extend_from_slice(&bytes);
    Ok(())
}

/// RFC 4034 §4.1.2 type bit maps.
fn type_bitmap(tokens: &[Token], out: &mut Vec<u8>) -> Result<(), RdataError> {
    let mut types: Vec<u16> = Vec::with_capacity(tokens.len());
    for t in tokens {
        match Rtype::from_text(t.text) {
            Some(r) => types.push(r.0),
            None => return err("types", format!("unknown type \"{}\"", t.text)),
        }
    }
    types.sort_unstable();
    types.dedup();
    let mut i = 0;
    while i < types.len() {
        let window = (types[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < types.len() && (types[i] >> 8) as u8 == window {
            let low = (types[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    Ok(())
}

/// RRSIG times (RFC 4034 §3.2): `YYYYMMDDHHmmSS` or a plain serial number.
fn sig_time(f: &mut Fields, field: &'static str) -> Result<u32, RdataError> {
    let t = f.next(field)?.text;
    if t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit()) {
        let n = |r: std::ops::Range<usize>| t[r].parse::<i64>().unwrap_or(0);
        let (y, mo, d, h, mi, s) = (n(0..4), n(4..6), n(6..8), n(8..10), n(10..12), n(12..14));
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return err(field, format!("\"{t}\" is not a valid time"));
        }
        let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
        // Serial-number arithmetic (RFC 1982): the value is kept modulo 2^32.
        return Ok(secs.rem_euclid(1 << 32) as u32);
    }
    parse_int(t, field)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Parses the rdata of `rtype` from its presentation tokens into wire form.
/// Names are completed with `origin`.
pub fn parse_rdata(rtype: Rtype, tokens: &[Token], origin: &Name) -> Result<Vec<u8>, RdataError> {
    let mut out = Vec::with_capacity(32);
    // RFC 3597 §5: the generic form works for every type, known or not.
    if tokens.first().is_some_and(|t| t.text == "\\#" && !t.quoted) {
        let mut f = Fields { tokens, pos: 1 };
        let len: u16 = f.int("rdlength")?;
        let rest = f.rest();
        if len == 0 {
            if !rest.is_empty() {
                return err("rdata", "data given after \\# 0");
            }
        } else {
            hex_field(rest, "rdata", &mut out)?;
        }
        if out.len() != len as usize {
            return err("rdata", format!("\\# length {len} but {} octets given", out.len()));
        }
        if !rtype_is_opaque(rtype) {
            crate::present::check_wire(rtype, &out).or_else(|m| err("rdata", m))?;
        }
        return Ok(out);
    }
    let mut f = Fields { tokens, pos: 0 };
    match rtype {
        Rtype::A => {
            let t = f.next("address")?;
            let a: Ipv4Addr = t
                .text
                .parse()
                .or_else(|_| err("address", format!("\"{}\" is not an IPv4 address", t.text)))?;
            out.extend_from_slice(&a.octets());
        }
        Rtype::AAAA => {
            let t = f.next("address")?;
            let a: Ipv6Addr = t
                .text
                .parse()
                .or_else(|_| err("address", format!("\"{}\" is not an IPv6 address", t.text)))?;
            out.extend_from_slice(&a.octets());
        }
        Rtype::NS | Rtype::CNAME | Rtype::PTR | Rtype::DNAME => f.name("target", origin, &mut out)?,
        Rtype::SOA => {
            f.name("mname", origin, &mut out)?;
            f.name("rname", origin, &mut out)?;
            let serial: u32 = f.int("serial")?;
            out.extend_from_slice(&serial.to_be_bytes());
            for field in ["refresh", "retry", "expire", "minimum"] {
                out.extend_from_slice(&time_field(&mut f, field)?.to_be_bytes());
            }
        }
        Rtype::MX => {
            out.extend_from_slice(&f.int::<u16>("preference")?.to_be_bytes());
            f.name("exchange", origin, &mut out)?;
        }
        Rtype::TXT => {
            if f.is_empty() {
                return err("text", "missing");
            }
            for t in f.rest() {
                char_string(*t, "text", &mut out)?;
            }
        }
        Rtype::HINFO => {
            char_string(f.next("cpu")?, "cpu", &mut out)?;
            char_string(f.next("os")?, "os", &mut out)?;
        }
        Rtype::SRV => {
            for field in ["priority", "weight", "port"] {
                out.extend_from_slice(&f.int::<u16>(field)?.to_be_bytes());
            }
            f.name("target", origin, &mut out)?;
        }
        Rtype::NAPTR => {
            out.extend_from_slice(&f.int::<u16>("order")?.to_be_bytes());
            out.extend_from_slice(&f.int::<u16>("preference")?.to_be_bytes());
            for field in ["flags", "services", "regexp"] {
                char_string(f.next(field)?, field, &mut out)?;
            }
            f.name("replacement", origin, &mut out)?;
        }
        Rtype::CAA => {
            out.push(f.int::<u8>("flags")?);
            let tag = f.next("tag")?.text;
            if tag.is_empty() || tag.len() > 255 || !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return err("tag", format!("\"{tag}\" is not an alphanumeric tag (RFC 8659 §4.1)"));
            }
            out.push(tag.len() as u8);
            out.extend_from_slice(tag.as_bytes());
            let value = f.next("value")?;
            out.extend_from_slice(&unescape_bytes(value.text, "value")?);
        }
        Rtype::DS | Rtype::CDS => {
            out.extend_from_slice(&f.int::<u16>("key tag")?.to_be_bytes());
            out.push(f.int::<u8>("algorithm")?);
            out.push(f.int::<u8>("digest type")?);
            hex_field(f.rest(), "digest", &mut out)?;
        }
        Rtype::SSHFP => {
            out.push(f.int::<u8>("algorithm")?);
            out.push(f.int::<u8>("fingerprint type")?);
            hex_field(f.rest(), "fingerprint", &mut out)?;
        }
        Rtype::DNSKEY | Rtype::CDNSKEY => {
            out.extend_from_slice(&f.int::<u16>("flags")?.to_be_bytes());
            out.push(f.int::<u8>("protocol")?);
            out.push(f.int::<u8>("algorithm")?);
            base64_field(f.rest(), "public key", &mut out)?;
        }
        Rtype::RRSIG => {
            let t = f.next("type covered")?;
            let covered = Rtype::from_text(t.text)
                .map_or_else(|| err("type covered", format!("unknown type \"{}\"", t.text)), Ok)?;
            out.extend_from_slice(&covered.0.to_be_bytes());
            out.push(f.int::<u8>("algorithm")?);
            out.push(f.int::<u8>("labels")?);
            out.extend_from_slice(&f.int::<u32>("original ttl")?.to_be_bytes());
            out.extend_from_slice(&sig_time(&mut f, "expiration")?.to_be_bytes());
            out.extend_from_slice(&sig_time(&mut f, "inception")?.to_be_bytes());
            out.extend_from_slice(&f.int::<u16>("key tag")?.to_be_bytes());
            f.name("signer", origin, &mut out)?;
            base64_field(f.rest(), "signature", &mut out)?;
        }
        Rtype::NSEC => {
            f.name("next domain", origin, &mut out)?;
            type_bitmap(f.rest(), &mut out)?;
        }
        Rtype::NSEC3 | Rtype::NSEC3PARAM => {
            out.push(f.int::<u8>("hash algorithm")?);
            out.push(f.int::<u8>("flags")?);
            out.extend_from_slice(&f.int::<u16>("iterations")?.to_be_bytes());
            let salt = f.next("salt")?.text;
            if salt == "-" {
                out.push(0);
            } else {
                let bytes = data_encoding::HEXLOWER_PERMISSIVE
                    .decode(salt.as_bytes())
                    .or_else(|e| err("salt", format!("bad hex: {e}")))?;
                if bytes.len() > 255 {
                    return err("salt", "longer than 255 octets");
                }
                out.push(bytes.len() as u8);
                out.extend_from_slice(&bytes);
            }
            if rtype == Rtype::NSEC3 {
                let next = f.next("next hashed owner")?.text;
                let bytes = data_encoding::BASE32HEX_NOPAD
                    .decode(next.to_ascii_uppercase().as_bytes())
                    .or_else(|e| err("next hashed owner", format!("bad base32hex: {e}")))?;
                if bytes.is_empty() || bytes.len() > 255 {
                    return err("next hashed owner", "length must be 1..255 octets");
                }
                out.push(bytes.len() as u8);
                out.extend_from_slice(&bytes);
                type_bitmap(f.rest(), &mut out)?;
            }
        }
        Rtype::TLSA => {
            out.push(f.int::<u8>("usage")?);
            out.push(f.int::<u8>("selector")?);
            out.push(f.int::<u8>("matching type")?);
            hex_field(f.rest(), "certificate data", &mut out)?;
        }
        Rtype::SVCB | Rtype::HTTPS => crate::svcb::parse(&mut f.rest().iter().copied(), origin, &mut out)?,
        other => {
            return err("rdata", format!("type {other} must use the RFC 3597 \\# form"));
        }
    }
    f.finish()?;
    if out.len() > u16::MAX as usize {
        return err("rdata", "longer than 65535 octets");
    }
    Ok(out)
}

/// Types we have no typed form for: any wire data is acceptable.
fn rtype_is_opaque(rtype: Rtype) -> bool {
    !crate::present::is_typed(rtype)
}

/// The domain name in the rdata that additional-section processing follows
/// (RFC 1034 §3.6.2; RFC 2782 for SRV; RFC 9460 §4.1 for SVCB/HTTPS, where a
/// root target means the owner itself and adds nothing), starting the slice.
pub fn additional_target(rtype: Rtype, rdata: &[u8]) -> Option<&[u8]> {
    let off = match rtype {
        Rtype::NS => 0,
        Rtype::MX | Rtype::SVCB | Rtype::HTTPS => 2,
        Rtype::SRV => 6,
        _ => return None,
    };
    rdata.get(off..).filter(|t| t.first() != Some(&0))
}
