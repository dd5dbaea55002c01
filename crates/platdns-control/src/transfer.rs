//! Zone transfers as the control plane runs them: the TSIG keys and the
//! addresses tenants give, the DNS node's transfer policy (ACLs, keys,
//! primaries) built from the store, the node's transfer events logged, and
//! the `notify-out` service that sends NOTIFY for new serials (RFC 1996).

use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use platdns_dataplane::tsig::{self, Algorithm, Key};
use platdns_dataplane::wire::Outgoing;
use platdns_dataplane::xfr::{AclEntry, Event, Policy};
use platdns_store::TransferList;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

pub use crate::zones::notify_zone;

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

/// `address/prefix` (a bare address: the whole address), normalised.
pub fn parse_network(text: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
        None => {
            let a: IpAddr = text.parse().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((addr, prefix))
}

/// The DNS node's transfer policy from the store: every zone's ACL (its
/// common configuration's entries) and every contract's keys.
pub async fn policy(s: &Control) -> ControlResult<Policy> {
    let keys_by_id = tsig_keys(s).await?;
    let mut by_config: HashMap<i64, Vec<AclEntry>> = HashMap::new();
    for e in s.store.transfer_entries(TransferList::Acl, None).await? {
        let Some((network, prefix)) = parse_network(&e.target) else {
            continue;
        };
        let key = match e.tsig_id {
            // A key that no longer exists allows nothing.
            Some(id) => match keys_by_id.get(&id) {
                Some(k) => Some(k.name.clone()),
                None => continue,
            },
            None => None,
        };
        by_config
            .entry(e.common_config_id)
            .or_default()
            .push(AclEntry { network, prefix, key });
    }
    let mut primaries_of: HashMap<i64, Vec<platdns_dataplane::xfr::PrimaryEntry>> = HashMap::new();
    for p in s.store.transfer_entries(TransferList::Primary, None).await? {
        let Some(addr) = parse_address(&p.target) else { continue };
        let key = match p.tsig_id {
            Some(id) => match keys_by_id.get(&id) {
                Some(k) => Some(k.name.clone()),
                None => continue,
            },
            None => None,
        };
        if p.enabled {
            primaries_of
                .entry(p.common_config_id)
                .or_default()
                .push((addr.ip(), key));
        }
    }
    let mut primaries = HashMap::new();
    let mut acls = HashMap::new();
    let proxied = s.store.proxied_zone_ids().await?;
    // Only the zones whose common configuration has an ACL or a primary:
    // listing every zone every round cost a second and a third of a core
    // at 100,000 zones (bench/zones_store.sh).
    let mut configs: Vec<i64> = by_config.keys().chain(primaries_of.keys()).copied().collect();
    configs.sort_unstable();
    configs.dedup();
    for z in s.store.zones_of_configs(&configs).await? {
        if let (Some(ps), Ok(apex)) = (
            primaries_of.get(&z.common_config_id),
            platdns_zone::Name::from_text(&format!("{}.", z.name), None),
        ) {
            if proxied.contains(&z.id) {
                primaries.insert(apex.to_lowercase().as_wire().to_vec(), ps.clone());
            }
        }
        if let (Some(entries), Ok(apex)) = (
            by_config.get(&z.common_config_id),
            platdns_zone::Name::from_text(&format!("{}.", z.name), None),
        ) {
            acls.insert(apex.to_lowercase().as_wire().to_vec(), entries.clone());
        }
    }
    Ok(Policy {
        acls,
        keys: keys_by_id.into_values().collect(),
        primaries,
    })
}

/// A transfer event in the zone's log.
pub async fn log_event(s: &Control, e: &Event) -> ControlResult<()> {
    let Ok(apex) = platdns_zone::Name::from_wire(&e.apex) else {
        return Ok(());
    };
    let name = apex.to_string().trim_end_matches('.').to_string();
    let Some(z) = s.store.zone_named(&name).await? else {
        return Ok(());
    };
    let key = e.key.as_deref().map(|k| format!(" key {k}")).unwrap_or_default();
    if e.kind == "NOTIFY" {
        if e.outcome == "received" {
            crate::secondary::notified(s, e.apex.clone());
        }
        let status = if e.outcome == "received" { "success" } else { "failure" };
        let target = format!("NOTIFY from {}{key}: {}", e.peer, e.outcome);
        let event = crate::publication::Event::zone(&z, "service", "notify_received", &target, status);
        crate::publication::log_event(s, event).await?;
        return Ok(());
    }
    let target = format!("{} to {} serial {}{key}: {}", e.kind, e.peer, e.serial, e.outcome);
    let (operation, status) = if e.outcome == "served" {
        ("zone_transfer", "success")
    } else {
        ("zone_transfer_refused", "failure")
    };
    if status == "failure" {
        tracing::warn!(zone = %name, peer = %e.peer, kind = e.kind, outcome = e.outcome, "zone transfer refused");
    } else {
        tracing::info!(zone = %name, peer = %e.peer, kind = e.kind, serial = e.serial, "zone transferred");
    }
    let event = crate::publication::Event::zone(&z, "service", operation, &target, status);
    crate::publication::log_event(s, event).await?;
    Ok(())
}

/// Starts the `notify-out` service: each queued commit's NOTIFYs are sent
/// concurrently (each retried on its own schedule); on shutdown the sends
/// in flight finish within the grace period.
pub fn start_notifying(s: &Control) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(platdns_store::Zone, u32)>();
    *s.secondary.outgoing.lock().expect("not poisoned") = Some(tx);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let state = s.clone();
    s.supervisor.spawn("notify-out", move |mut ctx| {
        let (s, rx) = (state.clone(), rx.clone());
        async move {
            let mut rx = rx.lock().await;
            let mut sending = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    next = rx.recv() => {
                        let Some((z, serial)) = next else { break };
                        let s = s.clone();
                        sending.spawn(async move {
                            let outcome = notify_all(&s, &z, serial).await;
                            (z.name, outcome)
                        });
                    }
                    Some(done) = sending.join_next() => match done {
                        Ok((_, Ok(()))) => ctx.succeeded(),
                        Ok((zone, Err(e))) => ctx.failed(&zone, &e),
                        Err(e) => ctx.failed("a NOTIFY task", &e),
                    },
                    _ = ctx.stopping() => break,
                }
            }
            while sending.join_next().await.is_some() {}
            Ok::<(), ControlError>(())
        }
    });
}

async fn notify_all(s: &Control, z: &platdns_store::Zone, serial: u32) -> ControlResult<()> {
    let targets = s
        .store
        .transfer_entries(TransferList::Notify, Some(z.common_config_id))
        .await?;
    if targets.is_empty() {
        return Ok(());
    }
    let keys = tsig_keys(s).await?;
    let apex = crate::compile::apex_of(z)?;
    let mut sends = Vec::new();
    for t in targets {
        let Some(addr) = parse_address(&t.target) else { continue };
        let key = t.tsig_id.and_then(|id| keys.get(&id).cloned());
        let apex = apex.clone();
        sends.push(tokio::spawn(async move {
            (addr, send_notify(addr, &apex, serial, key.as_ref()).await)
        }));
    }
    for h in sends {
        let Ok((addr, outcome)) = h.await else { continue };
        let (status, text) = match &outcome {
            Ok(tries) => (
                "success",
                format!("NOTIFY to {addr} serial {serial}: answered after {tries} tries"),
            ),
            Err(e) => ("failure", format!("NOTIFY to {addr} serial {serial}: {e}")),
        };
        let event = crate::publication::Event::zone(z, "service", "notify", &text, status);
        crate::publication::log_event(s, event).await?;
    }
    Ok(())
}

/// One NOTIFY (RFC 1996 §3.7: SOA question, AA), retried until answered:
/// five tries, waiting 1, 2, 4, 8 s. Returns the tries it took.
async fn send_notify(
    addr: SocketAddr,
    apex: &platdns_zone::Name,
    serial: u32,
    key: Option<&Key>,
) -> Result<u32, String> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .expect("literal");
    let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(addr).await.map_err(|e| e.to_string())?;
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=5u32 {
        let id = tsig::message_id();
        // The new SOA's serial in the answer section (RFC 1996 §3.7), rdata
        // with root names: a hint; the secondary asks for the real one.
        let mut soa = vec![0xC0, 0x0C, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0];
        soa.extend_from_slice(&serial.to_be_bytes());
        soa.extend_from_slice(&[0; 16]);
        let apex = apex.to_lowercase();
        let mut m = Outgoing {
            opcode: 4,
            authoritative: true,
            answer: Some(&soa),
            ..Outgoing::query(id, apex.as_wire(), platdns_zone::Rtype::SOA.0)
        }
        .to_wire();
        let now = tsig::unix_now();
        let mac = key.map(|k| tsig::sign(&mut m, k, None, false, now, 0));
        sock.send(&m).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 1500];
        if let Ok(Ok(n)) = tokio::time::timeout(wait, sock.recv(&mut buf)).await {
            let r = &buf[..n];
            if n >= 12 && r[0..2] == id.to_be_bytes() && r[2] & 0x80 != 0 {
                let rcode = r[3] & 0x0f;
                if rcode != 0 {
                    return Err(format!("answered rcode {rcode}"));
                }
                if let (Some(k), Some(mac)) = (key, mac) {
                    let q = platdns_dataplane::wire::parse_response_tsig(r);
                    let ok = q.is_some_and(|rec| tsig::verify_response(r, &rec, k, &mac, false).is_ok());
                    if !ok {
                        return Err("the answer's TSIG does not verify".into());
                    }
                }
                return Ok(attempt);
            }
        }
        wait *= 2;
    }
    Err("no answer after 5 tries".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_addresses_parse_as_dpf_and_ours_allow() {
        assert_eq!(parse_network("192.0.2.0/24"), Some(("192.0.2.0".parse().unwrap(), 24)));
        assert_eq!(
            parse_network("2001:db8::1"),
            Some(("2001:db8::1".parse().unwrap(), 128))
        );
        assert_eq!(parse_network("192.0.2.0/33"), None);
        assert_eq!(parse_network("example.com/24"), None);
        assert_eq!(parse_address("192.0.2.53").unwrap().port(), 53);
        assert_eq!(parse_address("127.0.0.1:5300").unwrap().port(), 5300);
        assert_eq!(parse_address("[2001:db8::53]:5300").unwrap().port(), 5300);
        assert!(parse_address("ns.example.com").is_none());
    }
}
