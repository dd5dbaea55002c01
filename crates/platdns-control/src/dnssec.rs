//! DNSSEC of hosted zones, the control plane's side (issue 8): the signing
//! settings and the keys kept sealed in the store, a [`Signing`] per signed
//! zone that signs a publication whole ([`Signing::sign_whole`]) and a
//! commit incrementally ([`Signing::apply`]), and the maintenance round
//! ([`maintain`]) that keeps signatures fresh and moves rollovers on by the
//! RFC 7583 timings. The API's `dnssec.rs` has the DPF routes over it.

use crate::context::{Control, ZoneLocks};
use crate::error::{ControlError, ControlResult};
use crate::{DueQueue, ServiceCtx};
use platdns_dnssec::{Algorithm, Denial, KeyState, KskStage, RolloverTimings, SignedZone, SignerConfig, ZoneKey};
use platdns_store::{DnssecState, DsState, ZoneDnssec};
use platdns_zone::{Name, RrsetChange, Zone};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Operator settings for signing.
#[derive(Debug, Clone)]
pub struct DnssecSettings {
    /// AES-256 key the private keys are sealed under; `None`: DNSSEC cannot
    /// be turned on (and signed zones are served unsigned, with an error).
    pub operator_key: Option<[u8; 32]>,
    pub algorithm: Algorithm,
    pub signer: SignerConfig,
    pub timings: RolloverTimings,
    /// Least time between two looks at one zone's DS at its parent.
    pub ds_check_interval: std::time::Duration,
}

impl Default for DnssecSettings {
    fn default() -> Self {
        DnssecSettings {
            operator_key: None,
            algorithm: Algorithm::EcdsaP256Sha256,
            ds_check_interval: std::time::Duration::from_secs(300),
            signer: SignerConfig::default(),
            timings: RolloverTimings::default(),
        }
    }
}

/// A zone kept signed in memory, and the SOA serial it was signed at.
pub struct Signed {
    zone: SignedZone,
    serial: u32,
}

type Slot = Arc<Mutex<Option<Signed>>>;

/// The signing side of this process: settings and one signed zone per
/// signed hosted zone.
#[derive(Default)]
pub struct Dnssec {
    pub settings: DnssecSettings,
    signers: Mutex<HashMap<i64, Slot>>,
    /// The opened keys of each zone, by the stored text they came from.
    keys: Mutex<HashMap<i64, (String, Vec<ZoneKey>)>>,
    /// The opened key state of each zone, by the stored text (the
    /// maintenance round looks at every signed zone each time).
    states: Mutex<HashMap<i64, (String, KeyState)>>,
    /// When each zone's DS was last asked for.
    ds_checked: Mutex<HashMap<i64, std::time::Instant>>,
    /// One per zone, held over each read, change and save of its
    /// `zone_dnssec` row (the API's PATCHes and the maintenance round), so
    /// that neither overwrites the other's change with an older row.
    pub rows: ZoneLocks,
}

impl Dnssec {
    pub fn new(settings: DnssecSettings) -> Dnssec {
        Dnssec {
            settings,
            ..Default::default()
        }
    }

    fn slot(&self, zone_id: i64) -> Slot {
        self.signers
            .lock()
            .expect("not poisoned")
            .entry(zone_id)
            .or_default()
            .clone()
    }

    /// Drops a zone's signed copy: the next publication signs it whole.
    pub fn forget(&self, zone_id: i64) {
        self.signers.lock().expect("not poisoned").remove(&zone_id);
    }

    /// When the zone's kept signed copy first has signatures to refresh
    /// (unix seconds), if this process keeps one.
    fn next_refresh(&self, zone_id: i64, now: u64) -> Option<u64> {
        let slot = self.signers.lock().expect("not poisoned").get(&zone_id).cloned()?;
        let kept = slot.lock().expect("not poisoned");
        kept.as_ref().and_then(|k| k.zone.next_refresh(now))
    }
}

/// What signing one zone takes, handed to a commit's check (which runs on
/// the blocking pool, outside any write transaction).
#[derive(Clone)]
pub struct Signing {
    apex: Name,
    keys: Vec<ZoneKey>,
    config: SignerConfig,
    slot: Slot,
    /// What was signed, for the zone's log once the result is served
    /// ([`Signing::log`]; the signing itself runs where nothing can await).
    done: Arc<Mutex<Vec<String>>>,
}

pub fn unix(t: jiff::Timestamp) -> u64 {
    t.as_second().max(0) as u64
}

impl Signing {
    /// Signs an unsigned build of the zone whole and keeps the signed copy
    /// for the commits that follow.
    pub fn sign_whole(&self, unsigned: &Zone, now: jiff::Timestamp) -> ControlResult<Zone> {
        let started = std::time::Instant::now();
        let signed = SignedZone::sign(
            &unsigned.records(),
            &self.apex,
            self.keys.clone(),
            self.config.clone(),
            unix(now),
        )
        .map_err(|e| ControlError::invalid("records", format!("DNSSEC: {e}")))?;
        let mut zone = Zone::from_records(&signed.records(), &self.apex).map_err(|e| {
            ControlError::Internal(format!("zone {}: the signed zone does not build: {e:?}", self.apex))
        })?;
        zone.set_meter(unsigned.meter());
        let ms = started.elapsed().as_millis() as u64;
        tracing::info!(zone = %self.apex, names = signed.name_count(), ms, "zone signed whole");
        let tags = |ksk: bool| -> Vec<String> {
            self.keys
                .iter()
                .filter(|k| k.sign && (k.key.role() == platdns_dnssec::Role::Ksk) == ksk)
                .map(|k| k.key.key_tag().to_string())
                .collect()
        };
        self.done.lock().expect("not poisoned").push(format!(
            "signed whole under serial {}: {} names in {ms} ms (KSK {}, ZSK {})",
            unsigned.serial(),
            signed.name_count(),
            tags(true).join(" "),
            tags(false).join(" ")
        ));
        *self.slot.lock().expect("not poisoned") = Some(Signed {
            zone: signed,
            serial: unsigned.serial(),
        });
        Ok(zone)
    }

    /// `served` (signed, at the serial the kept copy has) with a commit's
    /// unsigned `changes` applied and signed; `None` when there is no kept
    /// copy for it (sign whole instead). A failure forgets the copy, which
    /// may be ahead of what is served.
    pub fn apply(&self, served: &Zone, changes: &[RrsetChange], now: jiff::Timestamp) -> ControlResult<Option<Zone>> {
        let mut slot = self.slot.lock().expect("not poisoned");
        let Some(signed) = slot.as_mut().filter(|s| s.serial == served.serial()) else {
            return Ok(None);
        };
        let started = std::time::Instant::now();
        let result = signed
            .zone
            .apply(changes, unix(now))
            .map_err(|e| ControlError::invalid("records", format!("DNSSEC: {e}")))
            .and_then(|diff| patched(served, &diff).map(|zone| (zone, diff.add.len(), diff.remove.len())));
        match result {
            Ok((zone, added, removed)) => {
                signed.serial = zone.serial();
                self.done.lock().expect("not poisoned").push(format!(
                    "re-signed what serial {} changed: {added} records in, {removed} out, {} ms",
                    zone.serial(),
                    started.elapsed().as_millis()
                ));
                Ok(Some(zone))
            }
            Err(e) => {
                *slot = None;
                Err(e)
            }
        }
    }

    /// Forgets the kept copy (a commit that did not land).
    pub fn forget(&self) {
        *self.slot.lock().expect("not poisoned") = None;
        self.done.lock().expect("not poisoned").clear();
    }

    /// Writes what was signed to the zone's log (not on a DNS node, which
    /// writes nothing: it signs what the API's process has logged).
    pub async fn log(&self, s: &Control, z: &platdns_store::Zone) {
        let done = std::mem::take(&mut *self.done.lock().expect("not poisoned"));
        if s.follower {
            return;
        }
        for e in done {
            zone_event(s, z, "dnssec", &e).await;
        }
    }

    /// Would [`Signing::refresh`] re-sign anything of `served` at `now`?
    fn refresh_due(&self, served: &Zone, now: jiff::Timestamp) -> bool {
        let slot = self.slot.lock().expect("not poisoned");
        slot.as_ref()
            .is_some_and(|k| k.serial == served.serial() && k.zone.refresh_due(unix(now)))
    }

    /// `served` with the signatures due at `now` made again, under the new
    /// SOA in `soa` (a commit of no records); `None` when there is no kept
    /// copy for it. A failure forgets the copy.
    fn refresh(&self, served: &Zone, soa: &[RrsetChange], now: jiff::Timestamp) -> ControlResult<Option<Zone>> {
        let Some(zone) = self.apply(served, soa, now)? else {
            return Ok(None);
        };
        let mut slot = self.slot.lock().expect("not poisoned");
        let Some(signed) = slot.as_mut().filter(|s| s.serial == zone.serial()) else {
            return Ok(None);
        };
        let result = signed
            .zone
            .refresh(unix(now))
            .map_err(|e| ControlError::invalid("records", format!("DNSSEC: {e}")))
            .and_then(|diff| {
                tracing::info!(zone = %self.apex, records = diff.add.len(), "signatures refreshed");
                patched(&zone, &diff)
            });
        if result.is_err() {
            *slot = None;
        }
        result.map(Some)
    }
}

/// `served` with a signer's diff applied.
fn patched(served: &Zone, diff: &platdns_dnssec::Diff) -> ControlResult<Zone> {
    served
        .patch(&served.rrset_changes(&diff.remove, &diff.add))
        .map_err(|errors| ControlError::invalid("records", errors.join("; ")))
}

/// How a zone is signed now, if it is: its keys opened, the signer's
/// settings and the slot of its signed copy.
pub async fn signing(s: &Control, z: &platdns_store::Zone) -> ControlResult<Option<Signing>> {
    let row = s.store.dnssec(z.id).await?;
    signing_with(s, z, row.as_ref())
}

/// Is a zone with this DNSSEC row served signed? Enabling, on, or turning
/// off (its DS may still be at the parent), once it has keys.
pub fn is_signed(row: Option<&ZoneDnssec>) -> bool {
    row.is_some_and(|row| row.state.signs() && !row.keys.is_empty())
}

/// [`signing`] from the zone's DNSSEC row, already read.
pub fn signing_with(s: &Control, z: &platdns_store::Zone, row: Option<&ZoneDnssec>) -> ControlResult<Option<Signing>> {
    let Some(row) = row.filter(|row| is_signed(Some(row))) else {
        if row.is_some() {
            s.dnssec.forget(z.id);
        }
        return Ok(None);
    };
    let keys = {
        let cached = s.dnssec.keys.lock().expect("not poisoned").get(&z.id).cloned();
        match cached {
            Some((text, keys)) if text == row.keys => keys,
            cached => {
                let keys = open_state(s, row)?.keys();
                // Sealed again (each sealing has its own nonce), or a step
                // that changed no key (a rollover's clock): the kept copy
                // still signs right. New keys: it signs with old ones.
                if cached.is_none_or(|(_, old)| key_uses(&old) != key_uses(&keys)) {
                    s.dnssec.forget(z.id);
                }
                s.dnssec
                    .keys
                    .lock()
                    .expect("not poisoned")
                    .insert(z.id, (row.keys.clone(), keys.clone()));
                keys
            }
        }
    };
    let apex = Name::from_text(&format!("{}.", z.name), None)
        .map_err(|e| ControlError::Internal(format!("zone {}: {e}", z.name)))?;
    Ok(Some(Signing {
        apex,
        keys,
        config: SignerConfig {
            // Turning off: the parent is asked to remove the DS.
            cds_delete: row.state == DnssecState::Disabling,
            ..s.dnssec.settings.signer.clone()
        },
        slot: s.dnssec.slot(z.id),
        done: Default::default(),
    }))
}

pub fn operator_key(s: &Control) -> ControlResult<[u8; 32]> {
    s.dnssec
        .settings
        .operator_key
        .ok_or_else(|| ControlError::Internal("DNSSEC needs the operator key (--dnssec-key-file)".into()))
}

pub fn open_state(s: &Control, row: &ZoneDnssec) -> ControlResult<KeyState> {
    let cached = s.dnssec.states.lock().expect("not poisoned").get(&row.zone_id).cloned();
    if let Some((_, state)) = cached.filter(|(text, _)| *text == row.keys) {
        return Ok(state);
    }
    let state = KeyState::open(&row.keys, &operator_key(s)?, s.dnssec.settings.timings.clone()).map_err(|e| {
        ControlError::Internal(format!(
            "zone id {}: its DNSSEC keys do not open with the operator key: {e}",
            row.zone_id
        ))
    })?;
    s.dnssec
        .states
        .lock()
        .expect("not poisoned")
        .insert(row.zone_id, (row.keys.clone(), state.clone()));
    Ok(state)
}

pub async fn zone_event(s: &Control, z: &platdns_store::Zone, operation: &str, target: &str) {
    let logged = crate::publication::log_zone_event(s, z, "dnssec", operation, target, "success").await;
    if let Err(e) = logged {
        tracing::error!(zone = %z.name, error = %e, "DNSSEC event not logged");
    }
}

/// The `dnssec-maintenance` service: moves each signed zone's rollovers
/// on, finishes turning off where due, and re-signs what nears expiry. Runs
/// in the API's process only (a follower signs what the store says, it
/// decides nothing). Each zone waits in a due-time queue (issue 16) until
/// its next event: a rollover step, its first signature to refresh, the
/// next look at its parent's DS while one is awaited, and at most
/// [`LONGEST_SLEEP`]. Every `every`, one query lists the signed zones and
/// when their rows last changed: a new one, or one the API changed (turned
/// on or off, a KSK rollover begun), is due at once.
pub fn start_maintenance(s: &Control, every: std::time::Duration) {
    let state = s.clone();
    s.supervisor.spawn("dnssec-maintenance", move |mut ctx| {
        let s = state.clone();
        async move {
            let mut due: DueQueue<i64> = DueQueue::new();
            let mut seen: HashMap<i64, jiff::Timestamp> = HashMap::new();
            let mut listed = None::<std::time::Instant>;
            loop {
                let now = std::time::Instant::now();
                if listed.is_none_or(|at| now.duration_since(at) >= every) {
                    match s.store.dnssec_zone_rows().await {
                        Ok(rows) => {
                            enqueue_changed(&mut due, &mut seen, rows, now);
                            listed = Some(now);
                        }
                        Err(e) => ctx.failed("listing the signed zones", &e),
                    }
                }
                let zones = due.pop_due(now);
                if !zones.is_empty() {
                    maintain(&s, &ctx, &zones, &mut due).await;
                }
                let next_list = listed.map_or(now, |at| at + every);
                let wake = due.next_due().map_or(next_list, |at| at.min(next_list));
                if !ctx
                    .wait(wake.saturating_duration_since(std::time::Instant::now()), None)
                    .await
                {
                    return Ok::<(), ControlError>(());
                }
            }
        }
    });
}

/// The longest a signed zone goes without a look: a safety net for what
/// its next event misses.
pub const LONGEST_SLEEP: u64 = 3600;

/// How soon a zone whose step failed is tried again (seconds).
const RETRY_AFTER: u64 = 60;

/// Zones new in `rows`, or whose row changed since it was last listed, are
/// due at `now`; zones no longer signed leave the queue.
fn enqueue_changed(
    due: &mut DueQueue<i64>,
    seen: &mut HashMap<i64, jiff::Timestamp>,
    rows: Vec<(i64, jiff::Timestamp)>,
    now: std::time::Instant,
) {
    let listed: HashMap<i64, jiff::Timestamp> = rows.into_iter().collect();
    for (&id, &updated) in &listed {
        if seen.get(&id) != Some(&updated) {
            due.set(id, now);
        }
    }
    for id in seen.keys().filter(|id| !listed.contains_key(id)) {
        due.remove(id);
    }
    *seen = listed;
}

/// What the parent's DS RRset, as the operator's resolver
/// (`--verify-resolver`) answers it, says of a zone's KSKs.
struct ParentDs {
    /// A DS names a KSK the CDS names (the one the parent should point at).
    names_cds_key: bool,
    /// A DS names any KSK of the zone.
    names_a_key: bool,
}

/// The parent's DS for `apex`, checked against the zone's KSKs (key tag,
/// algorithm and digest, `platdns_dnssec::keys::ds_matches`). `None` when
/// there is no resolver or no usable answer (logged): nothing moves on it.
/// NXDOMAIN and NODATA are an empty DS RRset.
async fn parent_ds(s: &Control, zone_id: i64, apex: &Name, state: &KeyState) -> Option<ParentDs> {
    let resolver = s.verify_resolver?;
    {
        // At most once per interval per zone: a round looks at every
        // signed zone, and a resolver that does not answer costs seconds.
        let mut checked = s.dnssec.ds_checked.lock().expect("not poisoned");
        let now = std::time::Instant::now();
        if checked
            .get(&zone_id)
            .is_some_and(|at| now.duration_since(*at) < s.dnssec.settings.ds_check_interval)
        {
            return None;
        }
        checked.insert(zone_id, now);
    }
    let answer = match crate::resolver::ask(resolver, apex, platdns_zone::Rtype::DS).await {
        Ok(a) if matches!(a.rcode, 0 | 3) => a,
        Ok(a) => {
            tracing::warn!(zone = %apex, rcode = a.rcode, "the parent's DS: the resolver failed");
            return None;
        }
        Err(e) => {
            tracing::warn!(zone = %apex, error = %e, "the parent's DS: no answer");
            return None;
        }
    };
    let names = |k: &ZoneKey| {
        answer
            .records
            .iter()
            .any(|ds| platdns_dnssec::keys::ds_matches(apex, k.key.dnskey_rdata(), &ds.rdata))
    };
    let ksks: Vec<ZoneKey> = state
        .keys()
        .into_iter()
        .filter(|k| k.key.role() == platdns_dnssec::Role::Ksk)
        .collect();
    Some(ParentDs {
        names_cds_key: ksks.iter().filter(|k| k.cds).any(names),
        names_a_key: ksks.iter().any(names),
    })
}

/// The parent's DS of each zone that awaits a change of it (its DS to
/// appear, change or go), asked concurrently, 16 at a time: a round's wait is the
/// slowest answers', not their sum.
async fn parents_ds(s: &Control, zones: &[(platdns_store::Zone, ZoneDnssec)]) -> HashMap<i64, ParentDs> {
    let mut out = HashMap::new();
    if s.verify_resolver.is_none() {
        return out;
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(16));
    let mut asks = tokio::task::JoinSet::new();
    for (z, row) in zones {
        let awaits = matches!(
            (row.state, row.ds_state),
            (DnssecState::On, DsState::AwaitingDs | DsState::AwaitingChange)
                | (DnssecState::Disabling, DsState::AwaitingRemoval)
        );
        if !awaits || row.keys.is_empty() {
            continue;
        }
        let (Ok(apex), Ok(state)) = (Name::from_text(&format!("{}.", z.name), None), open_state(s, row)) else {
            continue;
        };
        let (s, permits, zone_id) = (s.clone(), permits.clone(), z.id);
        asks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (zone_id, parent_ds(&s, zone_id, &apex, &state).await)
        });
    }
    while let Some(done) = asks.join_next().await {
        if let Ok((zone_id, Some(p))) = done {
            out.insert(zone_id, p);
        }
    }
    out
}

/// DPF's `ds_state` for a signed zone from where its KSK rollover stands
/// (`tags.md`): awaiting the DS until the parent's DS names the KSK, then
/// published; during a rollover preparing (new KSK published), awaiting
/// the change of the parent's DS, the change reflecting (the old KSK leaves
/// once the old DS has left caches), and published again when it is done.
fn ds_state_of(stage: KskStage, before: DsState, parent_names_ksk: bool) -> DsState {
    match stage {
        KskStage::Idle if before == DsState::AwaitingDs && !parent_names_ksk => DsState::AwaitingDs,
        KskStage::Idle => DsState::Published,
        KskStage::Published => DsState::RolloverPreparing,
        KskStage::WaitDs => DsState::AwaitingChange,
        KskStage::DsSeen => DsState::ChangeReflecting,
    }
}

/// One pass of [`start_maintenance`] over the zones that are due; each is
/// queued again at its next event.
async fn maintain(s: &Control, ctx: &ServiceCtx, zone_ids: &[i64], due: &mut DueQueue<i64>) {
    let mut zones = Vec::new();
    for &zone_id in zone_ids {
        let read = async { Ok::<_, ControlError>((s.store.dnssec(zone_id).await?, s.store.get_zone(zone_id).await?)) };
        match read.await {
            Ok((Some(row), z)) => zones.push((z, row)),
            Ok((None, _)) => {}
            Err(e) => {
                ctx.failed(&format!("zone id {zone_id}"), &e);
                due.set(zone_id, later(RETRY_AFTER));
            }
        }
    }
    let mut parents = parents_ds(s, &zones).await;
    for (z, row) in zones {
        // One zone's failure is logged with its cause and counted; the
        // pass goes on with the others (their signatures must not expire
        // for it), and the zone is tried again in a minute.
        let next = match maintain_zone(s, &z, row, &mut parents).await {
            Ok(()) => next_event(s, z.id).await,
            Err(e) => Err(e),
        };
        match next {
            Ok(at) => due.set(z.id, later(at.saturating_sub(unix(s.clock.now())))),
            Err(e) => {
                ctx.failed(&z.name, &e);
                due.set(z.id, later(RETRY_AFTER));
            }
        }
    }
}

/// The instant `secs` seconds from now, at least a second away.
fn later(secs: u64) -> std::time::Instant {
    std::time::Instant::now() + std::time::Duration::from_secs(secs.max(1))
}

/// When a signed zone next needs its maintenance step (unix seconds): its
/// next rollover step, its first signature to refresh, the next look at
/// the parent's DS while one is awaited, the end of turning off; at most
/// [`LONGEST_SLEEP`] away.
async fn next_event(s: &Control, zone_id: i64) -> ControlResult<u64> {
    let now = unix(s.clock.now());
    let mut next = now + LONGEST_SLEEP;
    let Some(row) = s.store.dnssec(zone_id).await? else {
        return Ok(next);
    };
    if !row.state.signs() {
        return Ok(next);
    }
    let awaits_parent = matches!(
        (row.state, row.ds_state),
        (DnssecState::On, DsState::AwaitingDs | DsState::AwaitingChange)
            | (DnssecState::Disabling, DsState::AwaitingRemoval)
    );
    if awaits_parent {
        next = next.min(now + s.dnssec.settings.ds_check_interval.as_secs());
    }
    if row.state == DnssecState::Disabling && row.ds_state == DsState::RemovalReflecting {
        let t = &s.dnssec.settings.timings;
        next = next.min(unix(row.ds_transited_at.unwrap_or(row.updated_at)) + t.ksk_retire_interval());
    }
    if !row.keys.is_empty() {
        // A copy: `advance` says when it next moves, and moves nothing kept.
        let mut state = open_state(s, &row)?;
        if let Some(at) = state.advance(now, false).next {
            next = next.min(at);
        }
    }
    if let Some(at) = s.dnssec.next_refresh(zone_id, now) {
        next = next.min(at);
    }
    Ok(next)
}

/// One signed zone's step of a maintenance round.
async fn maintain_zone(
    s: &Control,
    z: &platdns_store::Zone,
    row: ZoneDnssec,
    parents: &mut HashMap<i64, ParentDs>,
) -> ControlResult<()> {
    let now = s.clock.now();
    let t = s.dnssec.settings.timings.clone();
    let zone_id = z.id;
    // Read again under the row's lock: a PATCH that changed it since
    // the round began (and the parent's DS was judged against its
    // keys) leaves the zone to the next round.
    let _row = s.dnssec.rows.lock(zone_id).await;
    let Some(mut row) = s.store.dnssec(zone_id).await?.filter(|now| *now == row) else {
        return Ok(());
    };
    let apex = Name::from_text(&format!("{}.", z.name), None)
        .map_err(|e| ControlError::Internal(format!("zone {}: {e}", z.name)))?;
    let mut events: Vec<String> = Vec::new();
    let mut keys_changed = false;
    // The sealed state moved on (a rollover's clock started, say).
    let mut state_changed = false;
    let ds_state = row.ds_state;
    if row.state == DnssecState::Disabling && row.ds_state == DsState::AwaitingRemoval {
        // Turning off: the tenant removes the DS at the parent first.
        let gone = match (s.verify_resolver, row.keys.is_empty()) {
            (None, _) | (_, true) => {
                Some("no --verify-resolver: the DS is taken as removed at the parent; signing stops once it can have left caches")
            }
            (Some(_), false) => parents
                .remove(&zone_id)
                .filter(|p| !p.names_a_key)
                .map(|_| "the parent's DS is gone; signing stops once it has left caches"),
        };
        if let Some(why) = gone {
            row.ds_state = DsState::RemovalReflecting;
            events.push(why.into());
        }
    } else if row.state == DnssecState::Disabling {
        // DS removed: its TTL and the parent's propagation (RFC 7583
        // §3.3.1's Iret for an old DS), then the zone goes unsigned.
        let due = unix(row.ds_transited_at.unwrap_or(row.updated_at)) + t.ksk_retire_interval();
        if unix(now) >= due {
            row.state = DnssecState::Off;
            row.ds_state = DsState::BeforePublication;
            row.keys.clear();
            keys_changed = true;
            events.push("turned off: the zone is served unsigned".into());
        }
    } else if !row.keys.is_empty() {
        let mut state = open_state(s, &row)?;
        let before = key_uses(&state.keys());
        let stage = state.ksk_stage();
        let parent = match stage == KskStage::WaitDs || (stage == KskStage::Idle && row.ds_state == DsState::AwaitingDs)
        {
            true => parents.remove(&zone_id),
            false => None,
        };
        let seen = parent.is_some_and(|p| p.names_cds_key);
        if state.rolling().1 {
            // TTLsig is the zone's, when larger than the operator's bound.
            if let Some(served) = s.publisher.current(&apex) {
                state.timings.max_zone_ttl = state.timings.max_zone_ttl.max(served.max_ttl() as u64);
            }
        }
        let mut step = state.advance(unix(now), seen);
        state_changed = step.changed;
        if state.zsk_due(unix(now)) {
            let started = state
                .start_zsk_rollover(unix(now))
                .map_err(|e| ControlError::Internal(format!("zone {}: ZSK rollover not started: {e}", z.name)))?;
            step.events.extend(started.events);
            state_changed = true;
        }
        events.extend(step.events);
        row.ds_state = ds_state_of(state.ksk_stage(), row.ds_state, seen);
        if row.ds_state == DsState::Published && ds_state == DsState::AwaitingDs {
            events.push(format!("the parent's DS names KSK {}", state.ksk().key_tag()));
        }
        if state_changed {
            row.keys = state
                .seal(&operator_key(s)?)
                .map_err(|e| ControlError::Internal(format!("zone {}: sealing its keys: {e}", z.name)))?;
        }
        keys_changed = key_uses(&state.keys()) != before;
    }
    let before_transit = row.ds_transited_at;
    if row.ds_state != ds_state {
        row.ds_transited_at = Some(now);
    }
    if events.is_empty() && row.ds_state == ds_state && !keys_changed && !state_changed {
        // Nothing moved (waiting on time or the parent): keep the
        // signatures fresh while the zone is still signed.
        return refresh(s, z, now).await;
    }
    row.updated_at = now;
    let state_after_keys = keys_changed && row.ds_state != ds_state;
    if state_after_keys {
        // The answers carry the new keys before the API shows the
        // ds_state that asks the tenant to act on them (awaiting the
        // change: "the CDS names the new KSK"): republishing signs with the saved keys,
        // so they are saved first under the state the tenant last saw.
        let keys_only = ZoneDnssec {
            ds_state,
            ds_transited_at: before_transit,
            ..row.clone()
        };
        s.store.save_dnssec(&keys_only).await?;
    } else {
        s.store.save_dnssec(&row).await?;
    }
    for e in &events {
        zone_event(s, z, "dnssec", e).await;
    }
    if keys_changed {
        crate::zones::republish_resigned(s, zone_id).await?;
    }
    if state_after_keys {
        s.store.save_dnssec(&row).await?;
    }
    Ok(())
}

/// Each key (its DNSKEY rdata) and what the zone does with it.
fn key_uses(keys: &[ZoneKey]) -> Vec<(Vec<u8>, bool, bool, bool)> {
    keys.iter()
        .map(|k| (k.key.dnskey_rdata().to_vec(), k.publish, k.sign, k.cds))
        .collect()
}

/// Makes again the signatures of a zone that expire within the refresh
/// window (RFC 6781 §4.4.2), under the next serial (no record changed, no
/// history entry: `Store::bump_serial`), so that secondaries transfer them
/// (NOTIFY, IXFR) and the DNS nodes, which sign for themselves, rebuild.
async fn refresh(s: &Control, z: &platdns_store::Zone, now: jiff::Timestamp) -> ControlResult<()> {
    let commits = s.zone_locks.lock(z.id).await;
    let apex = Name::from_text(&format!("{}.", z.name), None)
        .map_err(|e| ControlError::Internal(format!("zone {}: {e}", z.name)))?;
    let Some(served) = s.publisher.current(&apex) else {
        return Ok(());
    };
    let Some(sign) = signing(s, z).await? else {
        return Ok(());
    };
    if !sign.refresh_due(&served, now) {
        return Ok(());
    }
    // Signed outside the store's transaction (a large zone's refresh takes
    // seconds): the serial it will have is known, as this zone's commits
    // wait for its lock, which we hold.
    let stored = s.store.get_zone(z.id).await?;
    if stored.serial != i64::from(served.serial()) {
        return Ok(());
    }
    let serial = (stored.serial + 1) % (1i64 << 32);
    let soa = crate::compile::commit_changes(&stored, serial, &[], &s.zone_defaults)?;
    let signer = sign.clone();
    let made = tokio::task::spawn_blocking(move || signer.refresh(&served, &soa, now))
        .await
        .map_err(|e| ControlError::Internal(format!("zone {}: the signature refresh panicked: {e}", z.name)))?;
    let result = match made {
        Ok(Some(zone)) => s
            .store
            .bump_serial(z.id, |new, _| match new == serial {
                true => Ok(zone),
                false => Err(platdns_store::StoreError::Conflict(format!(
                    "the serial moved to {new}, not {serial}"
                ))),
            })
            .await
            .map_err(|e| e.to_string()),
        Ok(None) => return Ok(()),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok((serial, zone)) => {
            crate::zones::publish_committed(s, z, zone).await?;
            crate::zones::notify_zone(s, z, serial as u32);
            zone_event(s, z, "dnssec", &format!("signatures refreshed under serial {serial}")).await;
        }
        Err(e) => {
            tracing::error!(zone = %z.name, error = %e, "signature refresh failed; the zone is signed whole");
            sign.forget();
            // Republishing takes the zone's lock itself.
            drop(commits);
            crate::zones::republish(s, z.id).await?;
        }
    }
    Ok(())
}

/// Which NSEC flavour new signings use, from the operator's flag.
pub fn denial_of(flag: &str) -> Option<Denial> {
    match flag {
        "nsec" => Some(Denial::Nsec),
        "nsec3" => Some(Denial::nsec3()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_new_or_changed_since_the_last_listing_is_due_at_once_and_a_gone_one_leaves() {
        let t0 = std::time::Instant::now();
        let at = |s: i64| jiff::Timestamp::from_second(1_800_000_000 + s).unwrap();
        let (mut due, mut seen) = (DueQueue::new(), HashMap::new());
        enqueue_changed(&mut due, &mut seen, vec![(1, at(0)), (2, at(0))], t0);
        assert_eq!(due.pop_due(t0), vec![1, 2]);
        // Both waiting for their next events; then 2's row changes (the
        // API began a rollover) and 1 is no longer signed.
        let later = t0 + std::time::Duration::from_secs(3600);
        due.set(1, later);
        due.set(2, later);
        enqueue_changed(&mut due, &mut seen, vec![(2, at(5)), (3, at(5))], t0);
        assert_eq!(due.pop_due(t0), vec![2, 3]);
        assert_eq!(due.when(&1), None, "no longer signed: out of the queue");
        // Listed again unchanged: nothing comes due.
        due.set(2, later);
        enqueue_changed(&mut due, &mut seen, vec![(2, at(5)), (3, at(5))], t0);
        assert!(due.pop_due(t0).is_empty());
    }
}
