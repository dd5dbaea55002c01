//! R3.1: proving consent for a zone. A pending zone carries a token; the
//! registrant publishes it as a TXT record at `_platdns-challenge.<zone>`
//! where the zone is served today, and we look it up through the configured
//! resolver (so the answer comes from the zone's current name servers, as the
//! parent's delegation points). When a TXT string equals the token, the zone
//! is verified and served.

use crate::{ApiError, AppState};
use platdns_contract::Eligibility;
use std::net::SocketAddr;
use std::time::Duration;

/// The label the challenge TXT record lives under.
pub const CHALLENGE_LABEL: &str = "_platdns-challenge";

/// A DNS query for `name` TXT, with EDNS so long TXT sets fit.
fn txt_query(id: u16, name: &str) -> Vec<u8> {
    let mut p = vec![(id >> 8) as u8, id as u8, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    for label in name.trim_end_matches('.').split('.') {
        p.push(label.len() as u8);
        p.extend_from_slice(label.as_bytes());
    }
    p.extend_from_slice(&[0, 0, 16, 0, 1]);
    p.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    p
}

/// Skips a possibly compressed name; the offset after it.
fn skip_name(p: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *p.get(at)?;
        if len == 0 {
            return Some(at + 1);
        }
        if len & 0xC0 == 0xC0 {
            return Some(at + 2);
        }
        at += 1 + len as usize;
    }
}

/// The TXT strings in the answer section of a response to query `id`.
fn txt_strings(p: &[u8], id: u16) -> Option<Vec<Vec<u8>>> {
    if p.len() < 12 || u16::from_be_bytes([p[0], p[1]]) != id || p[2] & 0x80 == 0 {
        return None;
    }
    let (qd, an) = (u16::from_be_bytes([p[4], p[5]]), u16::from_be_bytes([p[6], p[7]]));
    let mut at = 12;
    for _ in 0..qd {
        at = skip_name(p, at)? + 4;
    }
    let mut out = Vec::new();
    for _ in 0..an {
        at = skip_name(p, at)?;
        let rtype = u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?]);
        let rdlen = u16::from_be_bytes([*p.get(at + 8)?, *p.get(at + 9)?]) as usize;
        let rdata = p.get(at + 10..at + 10 + rdlen)?;
        if rtype == 16 {
            // A TXT record's strings joined, as RFC 7208 §3.3 does for SPF.
            let mut joined = Vec::new();
            let mut i = 0;
            while i < rdata.len() {
                let l = rdata[i] as usize;
                joined.extend_from_slice(rdata.get(i + 1..i + 1 + l)?);
                i += 1 + l;
            }
            out.push(joined);
        }
        at += 10 + rdlen;
    }
    Some(out)
}

/// Asks `resolver` for the challenge TXT of `zone`; true if one equals `token`.
pub async fn token_published(resolver: SocketAddr, zone: &str, token: &str) -> std::io::Result<bool> {
    let sock = tokio::net::UdpSocket::bind(if resolver.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" }).await?;
    let id: u16 = platdns_dataplane::tsig::message_id();
    let q = txt_query(id, &format!("{CHALLENGE_LABEL}.{zone}"));
    let mut buf = vec![0u8; 4096];
    for _ in 0..3 {
        sock.send_to(&q, resolver).await?;
        if let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_secs(2), sock.recv_from(&mut buf)).await {
            if from == resolver {
                if let Some(strings) = txt_strings(&buf[..n], id) {
                    return Ok(strings.iter().any(|s| s == token.as_bytes()));
                }
            }
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no answer from the resolver",
    ))
}

/// Checks one pending zone; on success records the proof and publishes it.
/// Returns whether the zone is (now) verified.
pub async fn verify_zone(s: &AppState, zone_id: i64) -> Result<bool, ApiError> {
    let z = s.store.get_zone(zone_id).await?;
    let Eligibility::Pending { token } = &z.eligibility else {
        return Ok(true);
    };
    let Some(resolver) = s.verify_resolver else {
        return Err(ApiError::bad_request(
            "unavailable",
            "resolver",
            "no --verify-resolver is configured",
        ));
    };
    match token_published(resolver, &z.name, token).await {
        Ok(true) => {
            s.store
                .set_eligibility(z.id, &Eligibility::VerifiedByTxt { token: token.clone() })
                .await?;
            crate::publish::republish(s, z.id).await?;
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(e) => {
            tracing::warn!(zone = %z.name, error = %e, "consent check failed");
            Ok(false)
        }
    }
}

/// Checks every pending zone (the periodic sweep).
pub async fn verify_pending(s: &AppState) -> Result<usize, ApiError> {
    let mut n = 0;
    for z in s.store.list_zones(None, None).await? {
        if matches!(z.eligibility, Eligibility::Pending { .. }) && verify_zone(s, z.id).await? {
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_txt_strings_from_a_compressed_response() {
        let q = txt_query(7, "_platdns-challenge.example.com");
        let mut r = q[..q.len() - 11].to_vec();
        r[2] |= 0x80;
        r[7] = 1; // ANCOUNT
        r[11] = 0;
        r.extend_from_slice(&[
            0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 8, 3, b'a', b'b', b'c', 3, b'd', b'e', b'f',
        ]);
        assert_eq!(txt_strings(&r, 7).unwrap(), vec![b"abcdef".to_vec()]);
        assert!(txt_strings(&r, 8).is_none(), "another query's answer");
        assert!(txt_strings(&r[..20], 7).is_none(), "truncated");
    }
}
