//! SVCB and HTTPS records (RFC 9460 §2.1 presentation, §2.2 wire format).

use crate::name::Name;
use crate::rdata::{err, unescape_bytes, RdataError, Token};
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

const MANDATORY: u16 = 0;
const ALPN: u16 = 1;
const NO_DEFAULT_ALPN: u16 = 2;
const PORT: u16 = 3;
const IPV4HINT: u16 = 4;
const ECH: u16 = 5;
const IPV6HINT: u16 = 6;

const KEY_NAMES: [&str; 7] = [
    "mandatory",
    "alpn",
    "no-default-alpn",
    "port",
    "ipv4hint",
    "ech",
    "ipv6hint",
];

fn key_from_text(s: &str) -> Option<u16> {
    if let Some(i) = KEY_NAMES.iter().position(|k| k.eq_ignore_ascii_case(s)) {
        return Some(i as u16);
    }
    let digits = s.strip_prefix("key")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u16>().ok().filter(|&k| k != 65535)
}

fn key_to_text(out: &mut String, key: u16) {
    match KEY_NAMES.get(key as usize) {
        Some(n) => out.push_str(n),
        None => {
            let _ = write!(out, "key{key}");
        }
    }
}

/// Splits a value-list (RFC 9460 Appendix A.1): first the character-string
/// escapes are applied, then items split on commas not escaped as `\,`.
fn value_list(value: &str, field: &'static str) -> Result<Vec<Vec<u8>>, RdataError> {
    let bytes = unescape_bytes(value, field)?;
    let mut items = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => {
                cur.push(bytes[i + 1]);
                i += 2;
                continue;
            }
            b',' => items.push(std::mem::take(&mut cur)),
            b => cur.push(b),
        }
        i += 1;
    }
    items.push(cur);
    if items.iter().any(Vec::is_empty) {
        return err(field, "empty item in list");
    }
    Ok(items)
}

/// Parses `SvcPriority TargetName SvcParams...`.
pub(crate) fn parse<'a>(
    tokens: &mut dyn Iterator<Item = Token<'a>>,
    origin: &Name,
    out: &mut Vec<u8>,
) -> Result<(), RdataError> {
    let prio = tokens.next().ok_or(RdataError {
        field: "priority",
        message: "missing".into(),
    })?;
    let prio: u16 = prio
        .text
        .parse()
        .or_else(|_| err("priority", format!("\"{}\" is not a number", prio.text)))?;
    out.extend_from_slice(&prio.to_be_bytes());
    let target = tokens.next().ok_or(RdataError {
        field: "target",
        message: "missing".into(),
    })?;
    let target = Name::from_text(target.text, Some(origin)).or_else(|e| err("target", e.to_string()))?;
    out.extend_from_slice(target.as_wire());

    let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
    for t in tokens {
        let (key, value) = match t.text.split_once('=') {
            Some((k, v)) => {
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
                (k, Some(v))
            }
            None => (t.text, None),
        };
        let k = key_from_text(key).map_or_else(|| err("params", format!("unknown key \"{key}\"")), Ok)?;
        if prio == 0 {
            return err("params", "AliasMode (priority 0) takes no parameters");
        }
        if params.iter().any(|(p, _)| *p == k) {
            return err("params", format!("key \"{key}\" given twice"));
        }
        let mut v = Vec::new();
        match (k, value) {
            (NO_DEFAULT_ALPN, None) => {}
            (NO_DEFAULT_ALPN, Some(_)) => return err("no-default-alpn", "takes no value"),
            (_, None) if k <= IPV6HINT => return err("params", format!("key \"{key}\" needs a value")),
            (_, None) => {}
            (MANDATORY, Some(val)) => {
                let mut keys = Vec::new();
                for item in value_list(val, "mandatory")? {
                    let s = String::from_utf8_lossy(&item);
                    let mk = key_from_text(&s).map_or_else(|| err("mandatory", format!("unknown key \"{s}\"")), Ok)?;
                    if mk == MANDATORY {
                        return err("mandatory", "may not list itself");
                    }
                    keys.push(mk);
                }
                keys.sort_unstable();
                let n = keys.len();
                keys.dedup();
                if keys.len() != n {
                    return err("mandatory", "key listed twice");
                }
                keys.iter().for_each(|k| v.extend_from_slice(&k.to_be_bytes()));
            }
            (ALPN, Some(val)) => {
                for id in value_list(val, "alpn")? {
                    if id.len() > 255 {
                        return err("alpn", "protocol id longer than 255 octets");
                    }
                    v.push(id.len() as u8);
                    v.extend_from_slice(&id);
                }
            }
            (PORT, Some(val)) => {
                let p: u16 = val
                    .parse()
                    .or_else(|_| err("port", format!("\"{val}\" is not a port")))?;
                v.extend_from_slice(&p.to_be_bytes());
            }
            (IPV4HINT, Some(val)) => {
                for a in val.split(',') {
                    let a: Ipv4Addr = a
                        .parse()
                        .or_else(|_| err("ipv4hint", format!("\"{a}\" is not an IPv4 address")))?;
                    v.extend_from_slice(&a.octets());
                }
            }
            (IPV6HINT, Some(val)) => {
                for a in val.split(',') {
                    let a: Ipv6Addr = a
                        .parse()
                        .or_else(|_| err("ipv6hint", format!("\"{a}\" is not an IPv6 address")))?;
                    v.extend_from_slice(&a.octets());
                }
            }
            (ECH, Some(val)) => {
                use base64::Engine;
                v = base64::engine::general_purpose::STANDARD
                    .decode(val.as_bytes())
                    .or_else(|e| err("ech", format!("bad base64: {e}")))?;
            }
            (_, Some(val)) => v = unescape_bytes(val, "params")?,
        }
        if v.len() > u16::MAX as usize {
            return err("params", "value too long");
        }
        params.push((k, v));
    }
    // RFC 9460 §2.2: keys in strictly increasing order on the wire.
    params.sort_by_key(|(k, _)| *k);
    if let Some((_, m)) = params.iter().find(|(k, _)| *k == MANDATORY) {
        for mk in m.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])) {
            if !params.iter().any(|(k, _)| *k == mk) {
                return err("mandatory", format!("lists a key that is not present (key{mk})"));
            }
        }
    }
    for (k, v) in params {
        out.extend_from_slice(&k.to_be_bytes());
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(&v);
    }
    Ok(())
}

/// Writes the params part of SVCB wire data in presentation form; `None` if the
/// wire data is malformed.
pub(crate) fn write_params(out: &mut String, mut p: &[u8]) -> Option<()> {
    let mut last: Option<u16> = None;
    while !p.is_empty() {
        let key = u16::from_be_bytes([*p.first()?, *p.get(1)?]);
        let len = u16::from_be_bytes([*p.get(2)?, *p.get(3)?]) as usize;
        let v = p.get(4..4 + len)?;
        if last.is_some_and(|l| l >= key) {
            return None;
        }
        last = Some(key);
        out.push(' ');
        key_to_text(out, key);
        match key {
            NO_DEFAULT_ALPN if v.is_empty() => {}
            NO_DEFAULT_ALPN => return None,
            MANDATORY => {
                if v.len() % 2 != 0 || v.is_empty() {
                    return None;
                }
                out.push('=');
                for (i, c) in v.chunks(2).enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    key_to_text(out, u16::from_be_bytes([c[0], c[1]]));
                }
            }
            ALPN => {
                out.push_str("=\"");
                let mut q = v;
                let mut first = true;
                while !q.is_empty() {
                    let l = q[0] as usize;
                    let id = q.get(1..1 + l)?;
                    if l == 0 {
                        return None;
                    }
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    for &b in id {
                        match b {
                            b',' => out.push_str("\\\\,"),
                            b'\\' => out.push_str("\\\\\\\\"),
                            b'"' => out.push_str("\\\""),
                            0x20..=0x7e => out.push(b as char),
                            _ => {
                                let _ = write!(out, "\\{b:03}");
                            }
                        }
                    }
                    q = &q[1 + l..];
                }
                out.push('"');
            }
            PORT if v.len() == 2 => {
                let _ = write!(out, "={}", u16::from_be_bytes([v[0], v[1]]));
            }
            IPV4HINT if !v.is_empty() && v.len() % 4 == 0 => {
                out.push('=');
                for (i, c) in v.chunks(4).enumerate() {
                    let _ = write!(
                        out,
                        "{}{}",
                        if i > 0 { "," } else { "" },
                        Ipv4Addr::new(c[0], c[1], c[2], c[3])
                    );
                }
            }
            IPV6HINT if !v.is_empty() && v.len() % 16 == 0 => {
                out.push('=');
                for (i, c) in v.chunks(16).enumerate() {
                    let a: [u8; 16] = c.try_into().ok()?;
                    let _ = write!(out, "{}{}", if i > 0 { "," } else { "" }, Ipv6Addr::from(a));
                }
            }
            ECH => {
                use base64::Engine;
                let _ = write!(out, "=\"{}\"", base64::engine::general_purpose::STANDARD.encode(v));
            }
            PORT | IPV4HINT | IPV6HINT => return None,
            _ => {
                if !v.is_empty() {
                    out.push_str("=\"");
                    for &b in v {
                        match b {
                            b'"' | b'\\' => {
                                let _ = write!(out, "\\{}", b as char);
                            }
                            0x20..=0x7e => out.push(b as char),
                            _ => {
                                let _ = write!(out, "\\{b:03}");
                            }
                        }
                    }
                    out.push('"');
                }
            }
        }
        p = &p[4 + len..];
    }
    Some(())
}
