//! R3.1: proving consent for a zone. A pending zone carries a token; the
//! registrant publishes it as a TXT record at `_platdns-challenge.<zone>`
//! where the zone is served today, and we look it up through the configured
//! resolver (so the answer comes from the zone's current name servers, as the
//! parent's delegation points). When a TXT string equals the token, the zone
//! is verified and served.

use crate::{ApiError, AppState};
use platdns_contract::Eligibility;
use platdns_zone::{Name, Rtype};
use std::net::SocketAddr;

/// The label the challenge TXT record lives under.
pub const CHALLENGE_LABEL: &str = "_platdns-challenge";

/// A TXT record's strings joined, as RFC 7208 §3.3 does for SPF; `None`
/// for malformed rdata.
fn txt_joined(rdata: &[u8]) -> Option<Vec<u8>> {
    let mut joined = Vec::new();
    let mut i = 0;
    while i < rdata.len() {
        let l = rdata[i] as usize;
        joined.extend_from_slice(rdata.get(i + 1..i + 1 + l)?);
        i += 1 + l;
    }
    Some(joined)
}

/// Asks `resolver` for the challenge TXT of `zone`; true if one equals `token`.
pub async fn token_published(resolver: SocketAddr, zone: &str, token: &str) -> Result<bool, String> {
    let name = Name::from_text(&format!("{CHALLENGE_LABEL}.{}.", zone.trim_end_matches('.')), None)
        .map_err(|e| format!("{zone}: {e}"))?;
    let answer = crate::resolver::ask(resolver, &name, Rtype::TXT).await?;
    Ok(answer
        .records
        .iter()
        .any(|r| txt_joined(&r.rdata).is_some_and(|s| s == token.as_bytes())))
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
    fn txt_strings_are_joined() {
        assert_eq!(
            txt_joined(&[3, b'a', b'b', b'c', 3, b'd', b'e', b'f']).unwrap(),
            b"abcdef"
        );
        assert_eq!(txt_joined(&[]).unwrap(), b"");
        assert!(txt_joined(&[4, b'a']).is_none(), "truncated");
    }
}
