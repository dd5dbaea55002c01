//! From the store to DNS: a zone's applied records become RFC 1035 text, are
//! checked by the same reader that checks zone files, and are compiled into a
//! `platdns_zone::Zone` that a [`Publisher`] swaps in.
//!
//! A commit of a few records does not rebuild the zone: only the RRsets it
//! changes are rendered and parsed, and [`Zone::patch`] applies them to the
//! zone being served ([`patched`]). A whole build happens at start-up, for a
//! replacement (`atomic_changes`), a new default TTL, a zone not being served,
//! and off the commit path when a zone's overlay wants compaction.

use crate::{ApiError, AppState};
use platdns_steering::{Answer, LbConfig, Steering};
use platdns_store::{RecordRow, Zone as StoreZone};
use platdns_zone::zonefile::{parse_str, NoIncludes, Record};
use platdns_zone::{Name, RrsetChange, Rtype, Steered, Zone};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Where committed zones go: the DNS node's served state (in the data plane).
pub use platdns_dataplane::served::Publisher;

/// One lock per zone, held from a commit's start until its zone is
/// published, so the DNS node never goes back to an older version; and the
/// zones being compacted, so one compaction at a time runs per zone.
#[derive(Default)]
pub struct ZoneLocks {
    locks: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    compacting: Mutex<HashSet<Name>>,
}

impl ZoneLocks {
    pub async fn lock(&self, zone_id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let m = self
            .locks
            .lock()
            .expect("not poisoned")
            .entry(zone_id)
            .or_default()
            .clone();
        m.lock_owned().await
    }
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

fn apex_of(z: &StoreZone) -> Result<Name, ApiError> {
    Name::from_text(&format!("{}.", z.name), None).map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))
}

/// A zone-text error as DPF's error body, naming the record it comes from.
fn text_error(e: &platdns_zone::ZoneError, text: &str, records: &[RecordRow]) -> ApiError {
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
}

/// Parses and compiles zone text; an error names the record it comes from.
pub fn compile(z: &StoreZone, text: &str, records: &[RecordRow]) -> Result<Zone, ApiError> {
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
) -> Result<Zone, ApiError> {
    let changes = commit_changes(z, serial, sets, d)?;
    served.patch(&changes).map_err(|errors| {
        let message = errors.into_iter().next().unwrap_or_default();
        ApiError::bad_request("invalid", "records", message)
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
) -> Result<Vec<RrsetChange>, ApiError> {
    let apex = apex_of(z)?;
    let apex_text = format!("{}.", z.name);
    // The same lines `zone_text` writes for these RRsets, in the same order.
    let mut text = format!("$ORIGIN {apex_text}\n$TTL {}\n", z.default_ttl);
    text += &soa_line(&apex_text, serial, d);
    let mut rows: Vec<RecordRow> = Vec::new();
    let mut keys: Vec<(Name, Rtype)> = vec![(apex.clone(), Rtype::SOA)];
    for (name, rrtype, after) in sets {
        let owner = Name::from_text(name, Some(&apex))
            .map_err(|e| ApiError::bad_request("invalid", "name", format!("{name}: {e}")))?;
        let rtype = Rtype::from_text(rrtype)
            .ok_or_else(|| ApiError::bad_request("invalid", "rrtype", format!("{name}: unknown type {rrtype}")))?;
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
        return Err(ApiError::bad_request(
            "invalid",
            "records",
            format!("{owner} {rtype}: does not match the record's name and type"),
        ));
    }
    Ok(changes)
}

/// Publishes a zone a commit produced (or withdraws it when it may not be
/// served); a zone whose overlay has grown is compacted in the background.
pub async fn publish_committed(s: &AppState, z: &StoreZone, zone: Zone) -> Result<(), ApiError> {
    let apex = apex_of(z)?;
    let contract = s.store.get_contract(z.contract_id).await?;
    if !z.eligibility.may_serve() || ended(s, &contract) {
        s.publisher.publish(&apex, None);
        return Ok(());
    }
    let mut zone = zone;
    zone.set_meter(zone_meter(s, z));
    let zone = Arc::new(zone);
    s.publisher.publish(&apex, Some(zone.clone()));
    if zone.wants_compaction()
        && s.zone_locks
            .compacting
            .lock()
            .expect("not poisoned")
            .insert(apex.clone())
    {
        let (publisher, locks) = (s.publisher.clone(), s.zone_locks.clone());
        tokio::task::spawn_blocking(move || {
            match zone.compacted() {
                Ok(c) => {
                    if !publisher.replace_if(&apex, &zone, Arc::new(c)) {
                        tracing::debug!(zone = %apex, "compaction lost to a newer commit; the next one retries");
                    }
                }
                Err(e) => tracing::error!(zone = %apex, error = ?e, "compaction failed; the overlay stays"),
            }
            locks.compacting.lock().expect("not poisoned").remove(&apex);
        });
    }
    Ok(())
}

/// Rebuilds one zone from the store and publishes it, or withdraws it when
/// it may not be served (R3.1) or is empty of commits.
pub async fn republish(s: &AppState, zone_id: i64) -> Result<(), ApiError> {
    let _commits = s.zone_locks.lock(zone_id).await;
    republish_locked(s, zone_id).await
}

/// Republishes a zone whose DNSSEC keys changed (turned on or off, a
/// rollover's step) under the next serial (`Store::bump_serial`: no
/// record changed, no history entry), and sends NOTIFY: its content
/// changed, and under the same serial its secondaries would never transfer
/// the new DNSKEY RRset and signatures (RFC 1996 §2, RFC 1995). A zone
/// never committed, or a secondary zone, is only republished.
pub async fn republish_resigned(s: &AppState, zone_id: i64) -> Result<(), ApiError> {
    let commits = s.zone_locks.lock(zone_id).await;
    let z = s.store.get_zone(zone_id).await?;
    let bumped = match z.version > 0 && !s.store.zone_proxy(zone_id).await? {
        true => Some(s.store.bump_serial(zone_id, |_, _| Ok(())).await?.0),
        false => None,
    };
    republish_locked(s, zone_id).await?;
    drop(commits);
    if let Some(serial) = bumped {
        crate::xfr::notify_zone(s, &z, serial as u32);
    }
    Ok(())
}

/// [`republish`], the zone's lock held by the caller.
async fn republish_locked(s: &AppState, zone_id: i64) -> Result<(), ApiError> {
    let z = s.store.get_zone(zone_id).await?;
    let apex = apex_of(&z)?;
    let contract = s.store.get_contract(z.contract_id).await?;
    let proxied = s.store.zone_proxy(zone_id).await?;
    if !z.eligibility.may_serve() || (z.version == 0 && !proxied) || ended(s, &contract) {
        s.publisher.publish(&apex, None);
        return Ok(());
    }
    if proxied {
        // A secondary zone serves its last pulled copy (none yet: nothing).
        match crate::secondary::stored_zone(s, &z).await? {
            Some(mut zone) => {
                zone.set_meter(zone_meter(s, &z));
                s.publisher.publish(&apex, Some(Arc::new(zone)));
            }
            None => s.publisher.publish(&apex, None),
        }
        return Ok(());
    }
    let records = s.store.list_records(zone_id, true).await?;
    // Compiling is CPU work: on the blocking pool, never on the workers
    // that answer DNS over TCP and the API.
    let (zone, defaults) = (z.clone(), s.zone_defaults.clone());
    let mut compiled = tokio::task::spawn_blocking(move || {
        let text = zone_text(&zone, &records, zone.serial, &defaults);
        compile(&zone, &text, &records)
    })
    .await
    .map_err(|_| ApiError::internal())??;
    compiled.set_meter(zone_meter(s, &z));
    let signing = crate::dnssec::signing(s, &z).await?;
    if let Some(signing) = signing.clone() {
        let now = s.clock.now();
        compiled = tokio::task::spawn_blocking(move || signing.sign_whole(&compiled, now))
            .await
            .map_err(|_| ApiError::internal())??;
    }
    s.publisher.publish(&apex, Some(Arc::new(compiled)));
    if let Some(signing) = signing {
        signing.log(s, &z).await;
    }
    Ok(())
}

/// The meter slot a zone's answers count against (R2.1).
pub(crate) fn zone_meter(s: &AppState, z: &StoreZone) -> u32 {
    s.meters.slot(crate::meters::Service {
        contract_id: z.contract_id,
        kind: crate::meters::ServiceKind::Zone,
        id: z.id,
    })
}

/// A published LB domain: its compiled steering and which endpoints are
/// Ready now.
struct LbAnswer {
    steering: Steering,
    ready: Vec<bool>,
    meter: u32,
}

impl Steered for LbAnswer {
    fn answer(&self, qtype: Rtype, random: u32, out: &mut dyn FnMut(Rtype, u32, &[u8]) -> bool) -> usize {
        match self.steering.answer(qtype.0, &self.ready, random) {
            Answer::Endpoint { rtype, endpoint } => {
                let mut n = 0;
                for rdata in self.steering.rdata(endpoint) {
                    if !out(Rtype(rtype), self.steering.ttl(), rdata) {
                        break;
                    }
                    n += 1;
                }
                n
            }
            Answer::NoData => 0,
        }
    }

    fn meter(&self) -> u32 {
        self.meter
    }
}

/// Serves an LB domain as it is configured now, or withdraws it (before
/// publication, or its contract ended). Ready bits come from the statuses
/// `lb.rs` derives (static monitorings until the health monitor runs).
pub async fn publish_lb(s: &AppState, l: &platdns_store::LbDomain) -> Result<(), ApiError> {
    // One publication of an LB domain at a time (its lock; LB ids are kept
    // apart from zone ids by their sign), each from what the store holds
    // now: a health change and a configuration change racing can then not
    // leave the older one served.
    let _one = s.zone_locks.lock(-l.id).await;
    let l = &s.store.get_lb_domain(l.id).await?;
    let name = Name::from_text(&l.name, None).map_err(|e| ApiError::bad_request("invalid", "name", e.to_string()))?;
    let contract = s.store.get_contract(l.contract_id).await?;
    if l.state != 2 || ended(s, &contract) {
        s.publisher.publish_steered(&name, None);
        return Ok(());
    }
    let config: LbConfig = serde_json::from_str(&l.config).map_err(|_| ApiError::internal())?;
    let states = if s.follower {
        crate::lb::stored_states(s, l, &config).await?
    } else {
        crate::lb::current_states(s, l, &config).await?
    };
    let rule = (!l.rule_resource_name.is_empty()).then_some(l.rule_resource_name.as_str());
    let answer = LbAnswer {
        steering: Steering::compile(&config, rule, s.zone_defaults.lb_ttl),
        ready: states.iter().map(|(_, st)| st.ready).collect(),
        meter: s.meters.slot(crate::meters::Service {
            contract_id: l.contract_id,
            kind: crate::meters::ServiceKind::LbDomain,
            id: l.id,
        }),
    };
    s.publisher.publish_steered(&name, Some(Arc::new(answer)));
    Ok(())
}

/// The platform's own zone for LB names: SOA and NS only; the names under
/// it are steered.
pub fn lb_zone(d: &ZoneDefaults) -> Result<Zone, ApiError> {
    let apex =
        Name::from_text(&d.lb_zone, None).map_err(|e| ApiError::bad_request("invalid", "lb_zone", e.to_string()))?;
    let apex_text = apex.to_string();
    let mut text = format!("$ORIGIN {apex_text}\n$TTL 3600\n");
    text += &soa_line(&apex_text, 1, d);
    for ns in &d.nameservers {
        text += &format!("{apex_text} IN NS {ns}\n");
    }
    let parsed = parse_str(&text, "lb zone", Some(&apex), &mut NoIncludes);
    Zone::from_parsed(&parsed, Some(&apex))
        .map_err(|e| ApiError::bad_request("invalid", "lb_zone", format!("{:?}", e[0])))
}

/// Publishes every servable zone in the store (at start-up).
pub async fn publish_all(s: &AppState) -> Result<usize, ApiError> {
    // The last known health first, so LB names answer as before the restart.
    crate::health::load(s).await?;
    let zones = s.store.list_zones(None, None).await?;
    s.publisher.publish(
        &Name::from_text(&s.zone_defaults.lb_zone, None).map_err(|_| ApiError::internal())?,
        Some(Arc::new(lb_zone(&s.zone_defaults)?)),
    );
    for l in s.store.list_lb_domains(None, None).await? {
        if let Err(e) = publish_lb(s, &l).await {
            tracing::error!(lb_domain = %l.name, error = %e.message, "LB domain not served");
        }
    }
    // Zones load side by side (issue 16): each waits on its SQL while others
    // compile on the blocking pool. A few per core keeps both busy without
    // filling the store's connection pool.
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let mut loading = tokio::task::JoinSet::new();
    let mut zones = zones.into_iter();
    let mut n = 0;
    loop {
        while loading.len() < parallel {
            let Some(z) = zones.next() else { break };
            let s = s.clone();
            loading.spawn(async move { (republish(&s, z.id).await, z.name) });
        }
        match loading.join_next().await {
            None => break,
            Some(Ok((Ok(()), _))) => n += 1,
            Some(Ok((Err(e), name))) => {
                tracing::error!(zone = %name, error = %e, "zone in the store does not build; not served")
            }
            Some(Err(e)) => tracing::error!(error = %e, "loading a zone panicked; not served"),
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
        // LB names end with their contract too.
        for l in s.store.list_lb_domains(None, Some(c.id)).await? {
            if let Ok(name) = Name::from_text(&l.name, None) {
                s.publisher.publish_steered(&name, None);
                n += 1;
            }
        }
    }
    Ok(n)
}
