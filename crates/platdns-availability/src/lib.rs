//! The availability prober (SPEC R6.1–R6.3, App. 1): the monitor role asks
//! the platform's own public name servers, with real DNS queries over UDP
//! and TCP, for the SOA of the zones they serve, once per slot of the probe
//! interval, and stores one row per server × probe point × slot.
//!
//! - A slot is `[month start + k × interval, …)` in the operator's zone, the
//!   same slots `platdns_billing::monthly_availability` cuts the month into;
//!   the interval is the operator's setting (`probe_interval_seconds`, 60 s
//!   by default), read from the store every second so a change applies from
//!   the next slot.
//! - In a slot each server gets, for up to `max_zones` served zones (a
//!   rotating sample when there are more), one SOA query over UDP and one
//!   over TCP. The server is *up* in the slot when every one came back in
//!   time as an authoritative NOERROR answer holding a record. With no zone
//!   to ask, the root's SOA is asked and any reply to it counts (the server
//!   answers, it just serves nothing yet).
//! - Each query's deadline is the smaller of 2 s and 80% of the interval.
//!
//! The arithmetic of availability is `platdns-billing`'s; this crate only
//! measures.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use platdns_billing::BillingMonth;
use platdns_dataplane::wire::Outgoing;
use platdns_store::{ProbeRow, Store};
use platdns_zone::Name;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SOA: u16 = 6;

/// An SOA query for `zone` (absolute or not; "." or "" is the root) with
/// `id`, no recursion desired: the data plane's [`Outgoing`] builds it. A
/// zone that is no domain name asks for the root's SOA, which a probed
/// server does not answer as authoritative: the probe fails, as it should.
pub fn soa_query(id: u16, zone: &str) -> Vec<u8> {
    let name = Name::from_text(&format!("{}.", zone.trim_end_matches('.')), None).unwrap_or_else(|_| Name::root());
    Outgoing::query(id, name.as_wire(), SOA).to_wire()
}

/// Whether `reply` answers query `id` as a working authoritative server
/// does (`strict`): QR, NOERROR, AA and at least one answer record. Not
/// strict: any reply to the query.
pub fn check_reply(reply: &[u8], id: u16, strict: bool) -> Result<(), String> {
    if reply.len() < 12 {
        return Err(format!("short reply ({} bytes)", reply.len()));
    }
    if u16::from_be_bytes([reply[0], reply[1]]) != id || reply[2] & 0x80 == 0 {
        return Err("not a reply to the query".into());
    }
    if !strict {
        return Ok(());
    }
    let rcode = reply[3] & 0x0f;
    if rcode != 0 {
        return Err(format!("rcode {rcode}"));
    }
    if reply[2] & 0x04 == 0 {
        return Err("not authoritative".into());
    }
    if u16::from_be_bytes([reply[6], reply[7]]) == 0 {
        return Err("no SOA in the answer".into());
    }
    Ok(())
}

fn query_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Timestamp::now().as_nanosecond() as u128);
    h.finish() as u16
}

async fn udp(server: SocketAddr, zone: &str, strict: bool) -> Result<(), String> {
    let local: SocketAddr = if server.is_ipv4() {
        "0.0.0.0:0".parse().expect("address")
    } else {
        "[::]:0".parse().expect("address")
    };
    let sock = tokio::net::UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    sock.connect(server).await.map_err(|e| e.to_string())?;
    let id = query_id();
    sock.send(&soa_query(id, zone)).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    loop {
        let n = sock.recv(&mut buf).await.map_err(|e| e.to_string())?;
        // A stray datagram (an earlier query's late reply) is not the answer.
        if n >= 2 && u16::from_be_bytes([buf[0], buf[1]]) != id {
            continue;
        }
        return check_reply(&buf[..n], id, strict);
    }
}

async fn tcp(server: SocketAddr, zone: &str, strict: bool) -> Result<(), String> {
    let mut s = tokio::net::TcpStream::connect(server)
        .await
        .map_err(|e| e.to_string())?;
    let id = query_id();
    let q = soa_query(id, zone);
    let mut msg = (q.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(&q);
    s.write_all(&msg).await.map_err(|e| e.to_string())?;
    let len = s.read_u16().await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; usize::from(len)];
    s.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
    check_reply(&buf, id, strict)
}

/// What one server did in one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub udp_ok: bool,
    pub tcp_ok: bool,
    pub zones: u32,
    /// The first failure of each transport, "" when none.
    pub detail: String,
}

/// Asks `server` for the SOA of each of `zones` over UDP and TCP (the root,
/// leniently, when there is none), each query bounded by `timeout`.
pub async fn probe(server: SocketAddr, zones: &[String], timeout: Duration) -> Outcome {
    let root = [String::from(".")];
    let (asked, strict) = if zones.is_empty() {
        (&root[..], false)
    } else {
        (zones, true)
    };
    let mut failures: Vec<String> = Vec::new();
    let (mut udp_ok, mut tcp_ok) = (true, true);
    for zone in asked {
        let u = tokio::time::timeout(timeout, udp(server, zone, strict))
            .await
            .unwrap_or_else(|_| Err("timeout".into()));
        if let Err(e) = u {
            if udp_ok {
                failures.push(format!("udp {zone}: {e}"));
            }
            udp_ok = false;
        }
        let t = tokio::time::timeout(timeout, tcp(server, zone, strict))
            .await
            .unwrap_or_else(|_| Err("timeout".into()));
        if let Err(e) = t {
            if tcp_ok {
                failures.push(format!("tcp {zone}: {e}"));
            }
            tcp_ok = false;
        }
    }
    Outcome {
        udp_ok,
        tcp_ok,
        zones: zones.len() as u32,
        detail: failures.join("; "),
    }
}

/// The slot `now` falls in: its first instant (unix seconds), slots of
/// `interval` seconds counted from the start of `now`'s month in `tz`.
pub fn slot_start(now: Timestamp, interval: u32, tz: &TimeZone) -> i64 {
    let interval = i64::from(interval.max(1));
    let month = BillingMonth::of_instant(now, tz);
    let start = month.start(tz).map(|t| t.as_second()).unwrap_or(0);
    let t = now.as_second();
    start + (t - start) / interval * interval
}

/// Up to `max` of `zones` for slot number `slot`: all of them when they fit,
/// else a window that moves on by `max` every slot, so every zone is asked
/// in turn.
pub fn sample(zones: &[String], slot: i64, max: usize) -> Vec<String> {
    if zones.len() <= max {
        return zones.to_vec();
    }
    let n = zones.len();
    let first = (slot.unsigned_abs() as usize).wrapping_mul(max) % n;
    (0..max).map(|i| zones[(first + i) % n].clone()).collect()
}

/// The prober's configuration (operator settings of the monitor role).
#[derive(Clone)]
pub struct Prober {
    /// The name servers to probe (the platform's public addresses).
    pub servers: Vec<SocketAddr>,
    /// Where the probes come from (this process's name or location).
    pub probe_point: String,
    /// Zones to ask for; called each slot (the served catalog).
    pub zones: Arc<dyn Fn() -> Vec<String> + Send + Sync>,
    /// At most this many zones per server per slot.
    pub max_zones: usize,
    pub store: Store,
    pub time_zone: TimeZone,
}

impl Prober {
    /// Probes every server once per slot, forever.
    pub async fn run(self) {
        let mut interval = 60u32;
        let mut last: Option<i64> = None;
        loop {
            match self.store.billing_settings().await {
                Ok(s) => interval = s.probe_interval_seconds.max(1),
                Err(e) => tracing::warn!(error = %e, "reading the probe interval failed; keeping {interval} s"),
            }
            let now = Timestamp::now();
            let slot = slot_start(now, interval, &self.time_zone);
            if last != Some(slot) {
                last = Some(slot);
                self.probe_slot(slot, interval).await;
            }
            // Wake early in the next slot, or in a second to see a changed
            // interval.
            let now = Timestamp::now().as_millisecond();
            let next = (slot + i64::from(interval)) * 1000 + 20;
            let wait = (next - now).clamp(10, 1000);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }

    async fn probe_slot(&self, slot: i64, interval: u32) {
        let timeout = Duration::from_millis((u64::from(interval) * 800).min(2000));
        let mut zones = (self.zones)();
        zones.sort();
        let zones = sample(&zones, slot / i64::from(interval), self.max_zones);
        let mut set = tokio::task::JoinSet::new();
        for &server in &self.servers {
            let zones = zones.clone();
            set.spawn(async move { (server, probe(server, &zones, timeout).await) });
        }
        while let Some(r) = set.join_next().await {
            let Ok((server, o)) = r else { continue };
            if !o.detail.is_empty() {
                tracing::info!(%server, detail = %o.detail, "availability probe failed");
            }
            let row = ProbeRow {
                server: server.to_string(),
                probe_point: self.probe_point.clone(),
                slot_start: slot,
                probed_at: Timestamp::now(),
                udp_ok: o.udp_ok,
                tcp_ok: o.tcp_ok,
                zones: o.zones,
                detail: o.detail,
            };
            if let Err(e) = self.store.record_probe(&row).await {
                tracing::warn!(error = %e, "storing an availability probe failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_an_soa_question() {
        let q = soa_query(0x1234, "example.com.");
        assert_eq!(&q[..4], &[0x12, 0x34, 0, 0]);
        assert_eq!(&q[12..], b"\x07example\x03com\x00\x00\x06\x00\x01");
        assert_eq!(&soa_query(1, ".")[12..], b"\x00\x00\x06\x00\x01");
    }

    #[test]
    fn replies_are_checked() {
        let mut r = soa_query(7, "example.com");
        assert!(check_reply(&r, 7, false).is_err(), "a query is not a reply");
        r[2] = 0x84; // QR, AA
        r[3] = 0;
        assert_eq!(check_reply(&r, 7, true), Err("no SOA in the answer".into()));
        r[7] = 1;
        assert_eq!(check_reply(&r, 7, true), Ok(()));
        assert!(check_reply(&r, 8, true).is_err());
        r[3] = 5; // REFUSED
        assert_eq!(check_reply(&r, 7, true), Err("rcode 5".into()));
        assert_eq!(check_reply(&r, 7, false), Ok(()));
        r[3] = 0;
        r[2] = 0x80;
        assert_eq!(check_reply(&r, 7, true), Err("not authoritative".into()));
    }

    #[test]
    fn slots_count_from_the_month_start_in_the_operators_zone() {
        let tz = TimeZone::fixed(jiff::tz::offset(9));
        // November 2026 in JST starts 2026-10-31T15:00:00Z.
        let start: Timestamp = "2026-10-31T15:00:00Z".parse().unwrap();
        let t: Timestamp = "2026-10-31T15:07:59Z".parse().unwrap();
        assert_eq!(slot_start(t, 60, &tz), start.as_second() + 420);
        assert_eq!(slot_start(t, 7, &tz), start.as_second() + 476);
        assert_eq!(slot_start(start, 60, &tz), start.as_second());
    }

    #[test]
    fn a_sample_moves_over_every_zone() {
        let zones: Vec<String> = (0..5).map(|i| format!("z{i}")).collect();
        assert_eq!(sample(&zones, 0, 10), zones);
        let mut seen: Vec<String> = (0..5).flat_map(|s| sample(&zones, s, 2)).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 5);
    }

    #[tokio::test]
    async fn a_closed_port_is_down_over_both_transports() {
        // Bind and release a port, so nothing listens on it.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let o = probe(addr, &["example.com".into()], Duration::from_millis(300)).await;
        assert!(!o.udp_ok && !o.tcp_ok, "{o:?}");
        assert!(o.detail.contains("udp example.com") && o.detail.contains("tcp example.com"));
    }
}
