//! Secondary zones (issue 8; DPF `zone_proxy`, `cc_primaries`): a zone with
//! its proxy enabled is pulled from the enabled primaries of its common
//! configuration, in order, and served like any other zone.
//!
//! - Timers from the zone's SOA (RFC 1034 §4.3.5): a SOA check every
//!   `refresh`, `retry` after a failure; NOTIFY from a primary (RFC 1996,
//!   received by the DNS node) checks at once. The copy stops being served
//!   when no primary answered for `expire`.
//! - A check asks the SOA over UDP; a newer serial (RFC 1982) is pulled by
//!   IXFR (RFC 1995) from the serial held, which the primary may answer
//!   incrementally or whole, or by AXFR (RFC 5936) when nothing is held;
//!   TSIG (RFC 8945) when the primary's entry names a key, every signed
//!   message verified along the MAC chain.
//! - The copy is kept in the store (its text), so a restart serves it, and
//!   each primary's last outcome (OK/NG) is what `zone_proxy/health_check`
//!   shows. Every pull and failure is a zone log entry.

use crate::context::Control;
use crate::error::{ControlError, ControlResult};
use platdns_dataplane::tsig::{self, Key};
use platdns_zone::zonefile::Record;
use platdns_zone::{Name, Rtype, Zone};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// Zones to check now, and the wake-up of the loop.
#[derive(Default)]
pub struct Secondaries {
    notified: Mutex<HashSet<Vec<u8>>>,
    /// Set by [`changed`]: the loop reads the set of secondary zones again.
    rescan: std::sync::atomic::AtomicBool,
    wake: Arc<Notify>,
    /// Wakes the node's transfer policy refresh (ACLs, keys, primaries).
    pub policy: Arc<Notify>,
    /// The `notify-out` service's queue: commits whose secondaries hear of
    /// them (`xfr::notify_zone`).
    pub outgoing: Mutex<Option<tokio::sync::mpsc::UnboundedSender<(platdns_store::Zone, u32)>>>,
}

/// Something changed (a proxy switched, a primary, ACL or key edited):
/// look again, and refresh the node's transfer policy now rather than at
/// its next tick (a NOTIFY right after must not be refused).
pub fn changed(s: &Control) {
    s.secondary.rescan.store(true, std::sync::atomic::Ordering::SeqCst);
    s.secondary.wake.notify_one();
    s.secondary.policy.notify_one();
}

/// A primary sent NOTIFY for `apex` (lower-cased wire form).
pub fn notified(s: &Control, apex: Vec<u8>) {
    s.secondary.notified.lock().expect("not poisoned").insert(apex);
    s.secondary.wake.notify_one();
}

/// What the loop holds of one zone.
struct Held {
    apex: Name,
    records: Vec<Record>,
    serial: Option<u32>,
    next_check: Instant,
    expires: Option<Instant>,
    served: bool,
}

/// RFC 1034 §4.3.5 timers of a SOA's rdata: (serial, refresh, retry, expire).
fn soa_timers(rdata: &[u8]) -> Option<(u32, u32, u32, u32)> {
    let n = rdata.len();
    let field = |i: usize| -> Option<u32> {
        Some(u32::from_be_bytes(
            rdata.get(n - 20 + 4 * i..n - 16 + 4 * i)?.try_into().ok()?,
        ))
    };
    if n < 22 {
        return None;
    }
    Some((field(0)?, field(1)?, field(2)?, field(3)?))
}

/// Runs the loop until the process ends. Each zone's next SOA check and
/// its expiry wait in one due-time queue: a round handles the zones that
/// are due or were NOTIFYed, not every zone (issue 16). The set of
/// secondary zones is read again when something changed (`changed`,
/// `notified`) and once a minute.
pub fn start(s: &Control) {
    let state = s.clone();
    s.supervisor.spawn("secondary", move |mut ctx| {
        let s = state.clone();
        async move {
            let mut zones = Zones::default();
            loop {
                let outcome = round(&s, &mut zones).await;
                ctx.round(outcome);
                // Sleep until the next zone is due (at most a minute: the
                // set of zones is read again then).
                let now = Instant::now();
                let until = zones
                    .due
                    .next_due()
                    .map_or(RESCAN, |at| at.saturating_duration_since(now));
                if !ctx.wait(until.min(RESCAN), Some(&s.secondary.wake)).await {
                    return Ok::<(), ControlError>(());
                }
            }
        }
    });
}

/// How often the set of secondary zones is read again without a wake-up.
const RESCAN: Duration = Duration::from_secs(60);

/// What a round works on. A due time is set for each secondary zone: its
/// next check or its expiry, whichever comes first.
#[derive(Default)]
struct Zones {
    held: HashMap<i64, (platdns_store::Zone, Held)>,
    by_apex: HashMap<Vec<u8>, i64>,
    due: crate::DueQueue<i64>,
    scanned: Option<Instant>,
}

impl Zones {
    fn schedule(&mut self, id: i64) {
        if let Some((_, h)) = self.held.get(&id) {
            let expiry = h.expires.filter(|_| h.served);
            let at = expiry.map_or(h.next_check, |e| e.min(h.next_check));
            self.due.set(id, at);
        }
    }
}

async fn round(s: &Control, zones: &mut Zones) -> ControlResult<()> {
    let notified: HashSet<Vec<u8>> = std::mem::take(&mut *s.secondary.notified.lock().expect("not poisoned"));
    let changed = s.secondary.rescan.swap(false, std::sync::atomic::Ordering::SeqCst);
    let woken = changed || !notified.is_empty();
    let now = Instant::now();
    // The set of zones: on a wake-up (something changed), and now and then.
    if zones.scanned.is_none_or(|t| now.duration_since(t) >= RESCAN) || woken || zones.due.is_empty() {
        rescan(s, zones).await?;
        zones.scanned = Some(now);
    }
    let mut work: Vec<i64> = notified.iter().filter_map(|k| zones.by_apex.get(k).copied()).collect();
    for id in zones.due.pop_due(Instant::now()) {
        if !work.contains(&id) {
            work.push(id);
        }
    }
    for id in work {
        let Some((z, h)) = zones.held.get_mut(&id) else {
            continue;
        };
        let key = h.apex.to_lowercase().as_wire().to_vec();
        if notified.contains(&key) || Instant::now() >= h.next_check {
            let checked = check(s, z, h).await;
            if let Err(e) = checked {
                // One zone's failure does not stop the others' checks.
                tracing::error!(zone = %z.name, error = %e, "secondary zone check failed");
                h.next_check = Instant::now() + Duration::from_secs(60);
            }
        }
        if h.served && h.expires.is_some_and(|e| Instant::now() >= e) {
            tracing::warn!(zone = %z.name, "secondary zone expired: no primary answered for its SOA expire");
            s.publisher.publish(&h.apex, None);
            h.served = false;
            log(
                s,
                z,
                "zone_proxy_expired",
                "failure",
                "no primary answered for the SOA expire time",
            )
            .await?;
        }
        zones.schedule(id);
    }
    Ok(())
}

/// Reads which zones are secondaries: new ones are loaded (their stored
/// copy served) and due at once, gone ones dropped.
async fn rescan(s: &Control, zones: &mut Zones) -> ControlResult<()> {
    let ids: HashSet<i64> = s.store.proxied_zone_ids().await?.into_iter().collect();
    let gone: Vec<i64> = zones.held.keys().filter(|id| !ids.contains(id)).copied().collect();
    for id in gone {
        if let Some((_, h)) = zones.held.remove(&id) {
            zones.by_apex.remove(h.apex.to_lowercase().as_wire());
        }
        zones.due.remove(&id);
    }
    for id in ids {
        // The zone's row again: its name or contract may have changed.
        let z = match s.store.get_zone(id).await {
            Ok(z) => z,
            Err(platdns_store::StoreError::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        if let Some((held_zone, _)) = zones.held.get_mut(&id) {
            *held_zone = z;
            continue;
        }
        let Ok(apex) = Name::from_text(&format!("{}.", z.name), None) else {
            continue;
        };
        let h = load(s, &z, &apex).await?;
        zones.by_apex.insert(apex.to_lowercase().as_wire().to_vec(), id);
        zones.held.insert(id, (z, h));
        zones.schedule(id);
    }
    Ok(())
}

/// The copy in the store (served at once), or nothing yet.
async fn load(s: &Control, z: &platdns_store::Zone, apex: &Name) -> ControlResult<Held> {
    let mut h = Held {
        apex: apex.clone(),
        records: Vec::new(),
        serial: None,
        next_check: Instant::now(),
        expires: None,
        served: false,
    };
    if let Some((serial, text, _, _)) = s.store.secondary(z.id).await? {
        let parsed =
            platdns_zone::zonefile::parse_str(&text, "secondary", Some(apex), &mut platdns_zone::zonefile::NoIncludes);
        if parsed.errors.is_empty() {
            h.records = parsed.records;
            h.serial = Some(serial as u32);
            if let Some((_, _, _, expire)) = h
                .records
                .iter()
                .find(|r| r.rtype == Rtype::SOA)
                .and_then(|r| soa_timers(&r.rdata))
            {
                h.expires = Some(Instant::now() + Duration::from_secs(u64::from(expire)));
            }
        }
    }
    Ok(h)
}

/// The zone text of pulled records (what the store keeps).
pub fn text_of(apex: &Name, records: &[Record]) -> String {
    platdns_zone::present::zone_text(apex, records)
}

/// The zone to serve from a secondary's stored copy (`republish`); `None`
/// when the copy no longer reads as a zone.
pub fn pulled_copy(z: &platdns_store::Zone, text: &str) -> ControlResult<Option<Zone>> {
    let apex = crate::compile::apex_of(z)?;
    let parsed =
        platdns_zone::zonefile::parse_str(text, "secondary", Some(&apex), &mut platdns_zone::zonefile::NoIncludes);
    Ok(Zone::from_parsed(&parsed, Some(&apex)).ok())
}

async fn check(s: &Control, z: &platdns_store::Zone, h: &mut Held) -> ControlResult<()> {
    let primaries: Vec<_> = s
        .store
        .transfer_entries(platdns_store::TransferList::Primary, Some(z.common_config_id))
        .await?
        .into_iter()
        .filter(|p| p.enabled)
        .collect();
    let keys = crate::transfer::tsig_keys(s).await?;
    let mut status: Vec<(String, String)> = Vec::new();
    let mut pulled = None;
    let mut error = String::from("no enabled primary");
    for p in &primaries {
        let Some(addr) = crate::transfer::parse_address(&p.target) else {
            continue;
        };
        let key = p.tsig_id.and_then(|k| keys.get(&k));
        if pulled.is_some() {
            status.push((p.target.clone(), "OK".into()));
            continue;
        }
        match pull(addr, &h.apex, h.serial, &h.records, key).await {
            Ok(outcome) => {
                status.push((p.target.clone(), "OK".into()));
                pulled = Some((p.target.clone(), outcome));
            }
            Err(e) => {
                tracing::warn!(zone = %z.name, primary = %p.target, error = %e, "secondary check failed");
                error = format!("{}: {e}", p.target);
                status.push((p.target.clone(), "NG".into()));
            }
        }
    }
    let status_json = serde_json::to_string(&status).expect("strings");
    let timers = |records: &[Record]| {
        records
            .iter()
            .find(|r| r.rtype == Rtype::SOA)
            .and_then(|r| soa_timers(&r.rdata))
    };
    match pulled {
        Some((from, Pulled::Current)) => {
            let (_, refresh, _, expire) = timers(&h.records).unwrap_or((0, 3600, 600, 604_800));
            h.next_check = Instant::now() + Duration::from_secs(u64::from(refresh.max(1)));
            h.expires = Some(Instant::now() + Duration::from_secs(u64::from(expire)));
            keep_copy(s, z, h, &status_json).await?;
            tracing::debug!(zone = %z.name, primary = %from, serial = ?h.serial, "secondary zone current");
        }
        Some((from, Pulled::New { records, kind })) => {
            let mut zone =
                Zone::from_records(&records, &h.apex).map_err(|e| ControlError::invalid("zone", e.join("; ")))?;
            let serial = zone.serial();
            zone.set_meter(crate::publication::zone_meter(s, z));
            let (_, refresh, _, expire) = timers(&records).unwrap_or((0, 3600, 600, 604_800));
            let text = text_of(&h.apex, &records);
            s.store
                .save_secondary(z.id, i64::from(serial), Some(&text), &status_json, s.clock.now())
                .await?;
            s.publisher.publish(&h.apex, Some(std::sync::Arc::new(zone)));
            h.records = records;
            h.serial = Some(serial);
            h.served = true;
            h.next_check = Instant::now() + Duration::from_secs(u64::from(refresh.max(1)));
            h.expires = Some(Instant::now() + Duration::from_secs(u64::from(expire)));
            log(
                s,
                z,
                "zone_proxy_transfer",
                "success",
                &format!("{kind} from {from}: serial {serial}"),
            )
            .await?;
            tracing::info!(zone = %z.name, primary = %from, serial, kind, "secondary zone pulled");
        }
        None => {
            let (_, _, retry, _) = timers(&h.records).unwrap_or((0, 3600, 10, 604_800));
            h.next_check = Instant::now() + Duration::from_secs(u64::from(retry.clamp(1, 3600)));
            keep_copy(s, z, h, &status_json).await?;
            log(s, z, "zone_proxy_transfer", "failure", &error).await?;
        }
    }
    if !h.served && h.serial.is_some() && h.expires.is_some_and(|e| Instant::now() < e) {
        if let Ok(mut zone) = Zone::from_records(&h.records, &h.apex) {
            zone.set_meter(crate::publication::zone_meter(s, z));
            s.publisher.publish(&h.apex, Some(std::sync::Arc::new(zone)));
            h.served = true;
        }
    }
    Ok(())
}

/// Saves the primaries' outcome with the copy held unchanged (it was
/// current, or no primary answered).
async fn keep_copy(s: &Control, z: &platdns_store::Zone, h: &Held, status_json: &str) -> ControlResult<()> {
    let serial = i64::from(h.serial.unwrap_or(0));
    s.store
        .save_secondary(z.id, serial, None, status_json, s.clock.now())
        .await?;
    Ok(())
}

async fn log(s: &Control, z: &platdns_store::Zone, operation: &str, status: &str, target: &str) -> ControlResult<()> {
    crate::publication::log_zone_event(s, z, "service", operation, target, status).await?;
    Ok(())
}

enum Pulled {
    /// The primary has the serial we hold.
    Current,
    /// A new copy, whole.
    New { records: Vec<Record>, kind: &'static str },
}

/// One check of one primary: SOA, then a transfer if it is newer.
async fn pull(
    addr: SocketAddr,
    apex: &Name,
    ours: Option<u32>,
    held: &[Record],
    key: Option<&Key>,
) -> Result<Pulled, String> {
    let timeout = Duration::from_secs(10);
    let theirs = tokio::time::timeout(timeout, soa_serial(addr, apex, key))
        .await
        .map_err(|_| "SOA check timed out".to_string())??;
    if let Some(ours) = ours {
        if !platdns_zone::Serial(theirs).is_after(platdns_zone::Serial(ours)) {
            return Ok(Pulled::Current);
        }
    }
    let soa = held.iter().find(|r| r.rtype == Rtype::SOA).filter(|_| ours.is_some());
    let kind = if soa.is_some() { "IXFR" } else { "AXFR" };
    let records = tokio::time::timeout(Duration::from_secs(120), transfer(addr, apex, soa, key))
        .await
        .map_err(|_| format!("{kind} timed out"))??;
    apply(held, records, kind)
}

async fn soa_serial(addr: SocketAddr, apex: &Name, key: Option<&Key>) -> Result<u32, String> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }
        .parse()
        .expect("literal");
    let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(addr).await.map_err(|e| e.to_string())?;
    let id = tsig::message_id();
    let mut m = crate::resolver::question(id, apex, Rtype::SOA, false, None, false);
    let mac = key.map(|k| tsig::sign(&mut m, k, None, false, tsig::unix_now(), 0));
    for _ in 0..3 {
        sock.send(&m).await.map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 4096];
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await else {
            continue;
        };
        buf.truncate(n);
        if n < 12 || buf[0..2] != id.to_be_bytes() {
            continue;
        }
        if let (Some(k), Some(mac)) = (key, &mac) {
            let r = platdns_dataplane::wire::parse_response_tsig(&buf).ok_or("the SOA answer is not signed")?;
            tsig::verify_response(&buf, &r, k, mac, false).map_err(|e| format!("the SOA answer's TSIG: {e:?}"))?;
        }
        let records = parse_records(&buf)?;
        return records
            .iter()
            .find(|r| r.rtype == Rtype::SOA)
            .and_then(|r| soa_timers(&r.rdata))
            .map(|t| t.0)
            .ok_or_else(|| format!("no SOA in the answer (rcode {})", buf[3] & 0x0f));
    }
    Err("no answer to the SOA check".into())
}

/// An IXFR (from `soa`) or AXFR over TCP: every record of every message
/// until the closing SOA.
async fn transfer(
    addr: SocketAddr,
    apex: &Name,
    soa: Option<&Record>,
    key: Option<&Key>,
) -> Result<Vec<Record>, String> {
    let mut tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let id = tsig::message_id();
    let rtype = if soa.is_some() { Rtype::IXFR } else { Rtype::AXFR };
    let mut m = crate::resolver::question(id, apex, rtype, false, soa, false);
    let mut prior = key.map(|k| tsig::sign(&mut m, k, None, false, tsig::unix_now(), 0));
    tcp.write_all(&(m.len() as u16).to_be_bytes())
        .await
        .map_err(|e| e.to_string())?;
    tcp.write_all(&m).await.map_err(|e| e.to_string())?;
    let mut out: Vec<Record> = Vec::new();
    let mut first_serial = None;
    let mut soas = 0usize;
    let mut messages = 0usize;
    loop {
        let len = tcp.read_u16().await.map_err(|e| format!("reading: {e}"))? as usize;
        let mut buf = vec![0u8; len];
        tcp.read_exact(&mut buf).await.map_err(|e| format!("reading: {e}"))?;
        if buf.len() < 12 || buf[0..2] != id.to_be_bytes() {
            return Err("an answer to another query".into());
        }
        let rcode = buf[3] & 0x0f;
        if rcode != 0 {
            return Err(format!("{rtype} answered rcode {rcode}"));
        }
        if let (Some(k), Some(p)) = (key, prior.as_ref()) {
            // Every message of ours is signed; a primary may sign every
            // message (RFC 8945 §5.3.1 allows gaps; we ask for none).
            let r = platdns_dataplane::wire::parse_response_tsig(&buf).ok_or("a transfer message is not signed")?;
            tsig::verify_response(&buf, &r, k, p, messages > 0).map_err(|e| format!("TSIG: {e:?}"))?;
            prior = Some(r.mac.clone());
        }
        messages += 1;
        for r in parse_records(&buf)? {
            if r.rtype == Rtype(250) {
                continue;
            }
            if r.rtype == Rtype::SOA {
                let serial = soa_timers(&r.rdata).map(|t| t.0);
                if first_serial.is_none() {
                    first_serial = serial;
                } else if serial == first_serial && (out.len() > 1 || rtype == Rtype::AXFR) {
                    soas += 1;
                }
            }
            out.push(r);
        }
        // One SOA alone (IXFR: up to date), or the final SOA repeated.
        if (out.len() == 1 && rtype == Rtype::IXFR && messages == 1) || soas >= 1 {
            break;
        }
    }
    Ok(out)
}

/// The new copy from a transfer's records: AXFR form (SOA, records, SOA)
/// or an IXFR's difference sequences (RFC 1995 §4) applied to `held`.
fn apply(held: &[Record], records: Vec<Record>, asked: &'static str) -> Result<Pulled, String> {
    let key = |r: &Record| (r.owner.to_lowercase().as_wire().to_vec(), r.rtype.0, r.rdata.clone());
    if records.len() == 1 {
        return Ok(Pulled::Current);
    }
    let incremental = records.len() >= 2 && records[1].rtype == Rtype::SOA && asked == "IXFR";
    if !incremental {
        // Whole: everything but the closing SOA.
        let mut all = records;
        all.pop();
        return Ok(Pulled::New {
            records: all,
            kind: if asked == "IXFR" { "IXFR (whole)" } else { "AXFR" },
        });
    }
    let mut current: Vec<Record> = held.iter().filter(|r| r.rtype != Rtype::SOA).cloned().collect();
    let new_soa = records[0].clone();
    let mut deleting = false;
    let mut seen_soas = 0;
    for r in records.into_iter().skip(1) {
        if r.rtype == Rtype::SOA {
            seen_soas += 1;
            deleting = seen_soas % 2 == 1;
            continue;
        }
        if deleting {
            let k = key(&r);
            if let Some(i) = current.iter().position(|c| key(c) == k) {
                current.remove(i);
            }
        } else {
            let k = key(&r);
            current.retain(|c| key(c) != k);
            current.push(r);
        }
    }
    let mut out = vec![new_soa];
    out.extend(current);
    Ok(Pulled::New {
        records: out,
        kind: "IXFR",
    })
}

/// Every record of a message but its OPT, in one list.
fn parse_records(m: &[u8]) -> Result<Vec<Record>, String> {
    let (mut answer, rest) = platdns_dataplane::wire::response_records(m)?;
    answer.extend(rest);
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(owner: &str, rtype: Rtype, rdata: &[u8]) -> Record {
        Record {
            owner: Name::from_text(owner, None).unwrap(),
            ttl: 60,
            class: platdns_zone::Class::IN,
            rtype,
            rdata: rdata.to_vec(),
            pos: Default::default(),
        }
    }

    fn soa(serial: u32) -> Record {
        let mut rd = b"\x00\x00".to_vec();
        for v in [serial, 3600, 600, 604_800, 300] {
            rd.extend_from_slice(&v.to_be_bytes());
        }
        rr("example.net.", Rtype::SOA, &rd)
    }

    #[test]
    fn an_ixfr_difference_applies_to_the_copy_held() {
        let a1 = rr("www.example.net.", Rtype::A, &[192, 0, 2, 1]);
        let a2 = rr("www.example.net.", Rtype::A, &[192, 0, 2, 2]);
        let b = rr("new.example.net.", Rtype::A, &[192, 0, 2, 9]);
        let held = vec![soa(1), a1.clone()];
        // new SOA, old SOA, deleted, new SOA, added, new SOA.
        let diff = vec![soa(2), soa(1), a1, soa(2), a2.clone(), b.clone(), soa(2)];
        let Pulled::New { records, kind } = apply(&held, diff, "IXFR").unwrap() else {
            panic!("a new copy")
        };
        assert_eq!(kind, "IXFR");
        assert_eq!(soa_timers(&records[0].rdata).unwrap().0, 2);
        let rest: Vec<_> = records[1..].iter().map(|r| r.rdata.clone()).collect();
        assert_eq!(rest, [a2.rdata, b.rdata.clone()]);
        // An AXFR-form answer replaces the copy whole.
        let whole = vec![soa(3), b.clone(), soa(3)];
        let Pulled::New { records, .. } = apply(&held, whole, "IXFR").unwrap() else {
            panic!()
        };
        assert_eq!(records.len(), 2);
        assert!(matches!(apply(&held, vec![soa(1)], "IXFR").unwrap(), Pulled::Current));
    }

    #[test]
    fn names_are_decompressed_in_owners_and_rdata() {
        // Header, question example.net. SOA, one answer: NS ns.<ptr to 12>.
        let mut m = vec![0, 1, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x07example\x03net\x00\x00\x02\x00\x01");
        m.extend_from_slice(&[0xC0, 12, 0, 2, 0, 1, 0, 0, 0, 60, 0, 5, 2, b'n', b's', 0xC0, 12]);
        let r = parse_records(&m).unwrap();
        assert_eq!(r[0].owner.to_string(), "example.net.");
        assert_eq!(r[0].rdata, b"\x02ns\x07example\x03net\x00");
    }
}
