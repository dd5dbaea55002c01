//! A zone from the store as DNS data: its applied records become RFC 1035
//! text with the platform's SOA and NS, are checked by the same reader that
//! checks zone files, and are compiled into a `platdns_zone::Zone`; a
//! commit's changed RRsets become the changes `Zone::patch` applies. Pure
//! CPU work: the callers run it on the blocking pool.

use crate::error::{ControlError, ControlResult};
use platdns_store::{RecordRow, Zone as StoreZone};
use platdns_zone::zonefile::{parse_str, NoIncludes, Record};
use platdns_zone::{Name, RrsetChange, Rtype, Zone};
use std::collections::HashMap;

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
    /// LB domains created without a name get `<random>.<lb_zone>`; the
    /// platform serves that zone (SOA and NS) itself.
    pub lb_zone: String,
    /// TTL of LB answers (DPF has none; ours, operator configuration).
    pub lb_ttl: u32,
    /// The shortest monitoring interval a tenant may set (DPF: 30 s).
    pub lb_min_interval: u32,
    /// Notice accounts one common configuration may hold (DPF `too_many`;
    /// the reference gives no figure).
    pub notice_accounts_max: i64,
}

impl Default for ZoneDefaults {
    fn default() -> Self {
        ZoneDefaults {
            nameservers: vec!["ns1.platdns.test.".into(), "ns2.platdns.test.".into()],
            hostmaster: "hostmaster.platdns.test.".into(),
            soa_timers: [3600, 600, 604800, 300],
            tsig_suffix: "platdns.test.".into(),
            lb_zone: "lb.platdns.test.".into(),
            lb_ttl: 30,
            lb_min_interval: 30,
            notice_accounts_max: 10,
        }
    }
}

/// The zone as RFC 1035 text: `$TTL`, the platform's SOA and NS, then every
/// record, one line per value.
pub fn zone_text(z: &StoreZone, records: &[RecordRow], serial: i64, d: &ZoneDefaults) -> String {
    let apex = format!("{}.", z.name);
    let mut t = format!("$ORIGIN {apex}\n$TTL {}\n", z.default_ttl);
    t += &soa_line(&apex, serial, d);
    for ns in &d.nameservers {
        t += &format!("{apex} IN NS {ns}\n");
    }
    record_lines(&mut t, records);
    t
}

fn soa_line(apex: &str, serial: i64, d: &ZoneDefaults) -> String {
    let [refresh, retry, expire, minimum] = d.soa_timers;
    let mname = d.nameservers.first().map(String::as_str).unwrap_or("localhost.");
    format!(
        "{apex} IN SOA {mname} {} {serial} {refresh} {retry} {expire} {minimum}\n",
        d.hostmaster
    )
}

/// One line per value: `NAME [TTL] IN TYPE VALUE`.
fn record_lines(t: &mut String, records: &[RecordRow]) {
    for r in records {
        for v in &r.rdata {
            match r.ttl {
                Some(ttl) => *t += &format!("{} {ttl} IN {} {v}\n", r.name, r.rrtype),
                None => *t += &format!("{} IN {} {v}\n", r.name, r.rrtype),
            }
        }
    }
}

/// A zone's apex as a name.
pub fn apex_of(z: &StoreZone) -> ControlResult<Name> {
    Name::from_text(&format!("{}.", z.name), None).map_err(|e| ControlError::invalid("name", e.to_string()))
}

/// A zone-text error as DPF's error body, naming the record it comes from.
fn text_error(e: &platdns_zone::ZoneError, text: &str, records: &[RecordRow]) -> ControlError {
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
    ControlError::invalid(attribute, format!("{who}{}", e.message))
}

/// Parses and compiles zone text; an error names the record it comes from.
pub fn compile(z: &StoreZone, text: &str, records: &[RecordRow]) -> ControlResult<Zone> {
    let apex = apex_of(z)?;
    let parsed = parse_str(text, "zone", Some(&apex), &mut NoIncludes);
    Zone::from_parsed(&parsed, Some(&apex)).map_err(|errors| text_error(&errors[0], text, records))
}

/// `served` (the zone as of the commit before) with a commit's changed
/// RRsets applied: each `(name, rrtype)` with all its records after the
/// commit, and the platform's SOA with the new serial.
pub fn patched(
    served: &Zone,
    z: &StoreZone,
    serial: i64,
    sets: &[(String, String, Vec<RecordRow>)],
    d: &ZoneDefaults,
) -> ControlResult<Zone> {
    let changes = commit_changes(z, serial, sets, d)?;
    served.patch(&changes).map_err(|errors| {
        let message = errors.into_iter().next().unwrap_or_default();
        ControlError::invalid("records", message)
    })
}

/// A commit's changed RRsets as RRset changes: each `(name, rrtype)` with
/// all its records after the commit, and the platform's SOA with the new
/// serial; checked by the zone file reader.
pub fn commit_changes(
    z: &StoreZone,
    serial: i64,
    sets: &[(String, String, Vec<RecordRow>)],
    d: &ZoneDefaults,
) -> ControlResult<Vec<RrsetChange>> {
    let apex = apex_of(z)?;
    let apex_text = format!("{}.", z.name);
    // The same lines `zone_text` writes for these RRsets, in the same order.
    let mut text = format!("$ORIGIN {apex_text}\n$TTL {}\n", z.default_ttl);
    text += &soa_line(&apex_text, serial, d);
    let mut rows: Vec<RecordRow> = Vec::new();
    let mut keys: Vec<(Name, Rtype)> = vec![(apex.clone(), Rtype::SOA)];
    for (name, rrtype, after) in sets {
        let owner =
            Name::from_text(name, Some(&apex)).map_err(|e| ControlError::invalid("name", format!("{name}: {e}")))?;
        let rtype = Rtype::from_text(rrtype)
            .ok_or_else(|| ControlError::invalid("rrtype", format!("{name}: unknown type {rrtype}")))?;
        if owner.eq_ignore_case(&apex) && rtype == Rtype::NS {
            for ns in &d.nameservers {
                text += &format!("{apex_text} IN NS {ns}\n");
            }
        }
        if !(owner.eq_ignore_case(&apex) && rtype == Rtype::SOA) {
            keys.push((owner, rtype));
        }
        record_lines(&mut text, after);
        rows.extend(after.iter().cloned());
    }
    let parsed = parse_str(&text, "commit", Some(&apex), &mut NoIncludes);
    if let Some(e) = parsed.errors.first() {
        return Err(text_error(e, &text, &rows));
    }
    let mut by_key: HashMap<(Vec<u8>, Rtype), Vec<Record>> = HashMap::new();
    for r in parsed.records {
        by_key
            .entry((r.owner.to_lowercase().as_wire().to_vec(), r.rtype))
            .or_default()
            .push(r);
    }
    let changes: Vec<RrsetChange> = keys
        .into_iter()
        .map(|(owner, rtype)| {
            let records = by_key
                .remove(&(owner.to_lowercase().as_wire().to_vec(), rtype))
                .unwrap_or_default();
            RrsetChange { owner, rtype, records }
        })
        .collect();
    if let Some(((_, rtype), recs)) = by_key.into_iter().next() {
        // A row whose text named another owner or type than its own.
        let owner = recs.first().map(|r| r.owner.to_string()).unwrap_or_default();
        return Err(ControlError::invalid(
            "records",
            format!("{owner} {rtype}: does not match the record's name and type"),
        ));
    }
    Ok(changes)
}

/// The platform's own zone for LB names: SOA and NS only; the names under
/// it are steered.
pub fn lb_zone(d: &ZoneDefaults) -> ControlResult<Zone> {
    let apex = Name::from_text(&d.lb_zone, None).map_err(|e| ControlError::invalid("lb_zone", e.to_string()))?;
    let apex_text = apex.to_string();
    let mut text = format!("$ORIGIN {apex_text}\n$TTL 3600\n");
    text += &soa_line(&apex_text, 1, d);
    for ns in &d.nameservers {
        text += &format!("{apex_text} IN NS {ns}\n");
    }
    let parsed = parse_str(&text, "lb zone", Some(&apex), &mut NoIncludes);
    Zone::from_parsed(&parsed, Some(&apex)).map_err(|e| ControlError::invalid("lb_zone", format!("{:?}", e[0])))
}
