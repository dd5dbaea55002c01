//! The transfer configuration as the DNS side uses it: TSIG keys from the
//! store, and the addresses tenants give for primaries and NOTIFY targets.

use crate::context::Control;
use crate::error::ControlResult;
use platdns_dataplane::tsig::{Algorithm, Key};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// An IP address, with an optional port (ours; DPF takes the address only
/// and port 53 is meant).
pub fn parse_address(text: &str) -> Option<SocketAddr> {
    if let Ok(a) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(a, 53));
    }
    text.parse::<SocketAddr>().ok()
}

/// A TSIG key from the store (DPF algorithm 0 is HMAC-SHA256).
pub fn key_of(name: &str, algorithm: i64, secret: &str) -> Option<Key> {
    use base64::Engine;
    let alg = match algorithm {
        0 => Algorithm::HmacSha256,
        _ => return None,
    };
    let secret = base64::engine::general_purpose::STANDARD.decode(secret).ok()?;
    let name = platdns_zone::Name::from_text(name, None).ok()?;
    Some(Key::new(name.as_wire(), alg, &secret))
}

/// Every contract's TSIG keys that can sign, by store id.
pub async fn tsig_keys(s: &Control) -> ControlResult<HashMap<i64, Key>> {
    Ok(s.store
        .all_tsig_keys()
        .await?
        .into_iter()
        .filter_map(|(id, name, alg, secret)| Some((id, key_of(&name, alg, &secret)?)))
        .collect())
}
