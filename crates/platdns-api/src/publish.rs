//! From the store to DNS: a zone's applied records become RFC 1035 text (the
//! history entry), are checked by the same reader that checks zone files, and
//! are compiled into a `platdns_zone::Zone` that a [`Publisher`] swaps in.

use crate::{ApiError, AppState};
use platdns_store::{RecordRow, Zone as StoreZone};
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::{Name, Zone};
use std::sync::Arc;

/// Receives every zone that changes: `Some` to serve it, `None` to stop.
pub trait Publisher: Send + Sync {
    fn publish(&self, apex: &Name, zone: Option<Arc<Zone>>);
}

/// The platform's own SOA and NS data (operator configuration).
#[derive(Debug, Clone)]
pub struct ZoneDefaults {
    /// Name servers every hosted zone is delegated to; the first is the SOA MNAME.
    pub nameservers: Vec<String>,
    /// SOA RNAME.
    pub hostmaster: String,
    /// SOA refresh, retry, expire, minimum (the negative TTL, RFC 2308).
    pub soa_timers: [u32; 4],
    /// TSIG key names are `<label>.<contract id>.<tsig_suffix>`.
    pub tsig_suffix: String,
}

impl Default for ZoneDefaults {
    fn default() -> Self {
        ZoneDefaults {
            nameservers: vec!["ns1.platdns.test.".into(), "ns2.platdns.test.".into()],
            hostmaster: "hostmaster.platdns.test.".into(),
            soa_timers: [3600, 600, 604800, 300],
            tsig_suffix: "platdns.test.".into(),
        }
    }
}

/// The zone as RFC 1035 text: `$TTL`, the platform's SOA and NS, then every
/// record, one line per value.
pub fn zone_text(z: &StoreZone, records: &[RecordRow], serial: i64, d: &ZoneDefaults) -> String {
    let apex = format!("{}.", z.name);
    let mut t = format!("$ORIGIN {apex}\n$TTL {}\n", z.default_ttl);
    let [refresh, retry, expire, minimum] = d.soa_timers;
    let mname = d.nameservers.first().map(String::as_str).unwrap_or("localhost.");
    t += &format!(
        "{apex} IN SOA {mname} {} {serial} {refresh} {retry} {expire} {minimum}\n",
        d.hostmaster
    );
    for ns in &d.nameservers {
        t += &format!("{apex} IN NS {ns}\n");
    }
    for r in records {
        for v in &r.rdata {
            match r.ttl {
                Some(ttl) => t += &format!("{} {ttl} IN {} {v}\n", r.name, r.rrtype),
                None => t += &format!("{} IN {} {v}\n", r.name, r.rrtype),
            }
        }
    }
    t
}

/// Parses and compiles zone text; an error names the record it comes from.
pub fn compile(z: &StoreZone, text: &str, records: &[RecordRow]) -> Result<Zone, ApiError> {
    let apex = Name::from_text(&format!("{}.", z.name), None)
        .map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    let parsed = parse_str(text, "zone", Some(&apex), &mut NoIncludes);
    Zone::from_parsed(&parsed, Some(&apex)).map_err(|errors| {
        let e = &errors[0];
        // Lines 1-2 are directives, then SOA and the NS lines; the rest map
        // back to records in order.
        let line = e.line as usize;
        let record = text.lines().nth(line.saturating_sub(1)).and_then(|l| {
            records
                .iter()
                .find(|r| l.starts_with(&r.name) && l.contains(&format!(" {} ", r.rrtype)))
        });
        let attribute = match (&record, e.message.split(':').next()) {
            (Some(_), Some(field)) if e.rtype.is_some() && !field.contains(' ') => "rdata",
            _ => "records",
        };
        let who = record.map(|r| format!("{} {}: ", r.name, r.rrtype)).unwrap_or_default();
        ApiError::bad_request("invalid", attribute, format!("{who}{}", e.message))
    })
}

/// Rebuilds one zone from the store and publishes it, or withdraws it when
/// it may not be served (R3.1) or is empty of commits.
pub async fn republish(s: &AppState, zone_id: i64) -> Result<(), ApiError> {
    let z = s.store.get_zone(zone_id).await?;
    let apex = Name::from_text(&format!("{}.", z.name), None)
        .map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    let contract = s.store.get_contract(z.contract_id).await?;
    if !z.eligibility.may_serve() || z.version == 0 || ended(s, &contract) {
        s.publisher.publish(&apex, None);
        return Ok(());
    }
    let records = s.store.list_records(zone_id, true).await?;
    let text = zone_text(&z, &records, z.serial, &s.zone_defaults);
    let compiled = compile(&z, &text, &records)?;
    s.publisher.publish(&apex, Some(Arc::new(compiled)));
    Ok(())
}

/// Publishes every servable zone in the store (at start-up).
pub async fn publish_all(s: &AppState) -> Result<usize, ApiError> {
    let zones = s.store.list_zones(None, None).await?;
    let mut n = 0;
    for z in zones {
        match republish(s, z.id).await {
            Ok(()) => n += 1,
            Err(e) => {
                tracing::error!(zone = %z.name, error = %e.message, "zone in the store does not build; not served")
            }
        }
    }
    Ok(n)
}

/// R5.2: a contract serves until the end of its end day (in the operator's
/// time zone), and not after.
fn ended(s: &AppState, c: &platdns_store::Contract) -> bool {
    let today = s.clock.now().to_zoned(s.time_zone.clone()).date();
    c.ends_on.is_some_and(|end| end < today)
}

/// Stops serving the zones of every contract past its end date; their data
/// stays in the store, readable by the operator. Returns how many zones.
pub async fn withdraw_ended(s: &AppState) -> Result<usize, ApiError> {
    let mut n = 0;
    for c in s.store.list_contracts(None).await? {
        if !ended(s, &c) {
            continue;
        }
        for z in s.store.list_zones(None, Some(c.id)).await? {
            if let Ok(apex) = Name::from_text(&format!("{}.", z.name), None) {
                s.publisher.publish(&apex, None);
                n += 1;
            }
        }
    }
    Ok(n)
}
