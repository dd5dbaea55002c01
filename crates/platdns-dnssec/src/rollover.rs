//! Key rollovers by the timings of RFC 7583, as state machines: the caller
//! says what time it is (and, for a KSK, whether the parent's DS has changed);
//! the machine says which keys to publish and sign with and when to call it
//! next. Hand [`Step::keys`] to [`crate::SignedZone::set_keys`].
//!
//! - ZSK: pre-publication (RFC 7583 §3.2.1). The new ZSK is published,
//!   then after Ipub it signs instead of the old one, which stays published
//!   for Iret and is then removed.
//! - KSK: double-KSK (RFC 7583 §3.3.1) with CDS/CDNSKEY (RFC 7344). The new
//!   KSK is published and signs the DNSKEY RRset beside the old one; after
//!   Ipub the CDS/CDNSKEY name the new key and we wait for the parent's DS to
//!   change (`ds_seen_at_parent`); once it has, the old KSK stays until the
//!   old DS has left caches (Dprp(parent) + TTL(DS)), then goes.

use crate::keys::{Algorithm, KeyError, Role, SigningKey};
use crate::signer::ZoneKey;
use std::sync::Arc;

/// The times a rollover waits for, in seconds (RFC 7583 §2 names in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloverTimings {
    /// TTL of the DNSKEY RRset [TTLkey]; keep equal to `SignerConfig::dnskey_ttl`.
    pub dnskey_ttl: u64,
    /// Largest TTL of any signed RRset in the zone [TTLsig].
    pub max_zone_ttl: u64,
    /// TTL of the DS RRset at the parent [TTLds].
    pub ds_ttl: u64,
    /// From a change on the primary to every secondary serving it [Dprp].
    pub propagation_delay: u64,
    /// The same for the parent zone [DprpP].
    pub parent_propagation_delay: u64,
    /// Added to each wait [Ipubs / Irets], for clocks and slow secondaries.
    pub safety: u64,
    /// How long a ZSK signs before [`KeyState::zsk_due`] says to roll it
    /// (RFC 6781 §4.1.2 leaves the period to policy); 0: never.
    pub zsk_lifetime: u64,
}

impl Default for RolloverTimings {
    fn default() -> Self {
        RolloverTimings {
            dnskey_ttl: 3600,
            max_zone_ttl: 86400,
            ds_ttl: 86400,
            propagation_delay: 300,
            parent_propagation_delay: 3600,
            safety: 3600,
            zsk_lifetime: 0,
        }
    }
}

impl RolloverTimings {
    /// Ipub = Dprp + TTLkey (+ safety): until every cache that holds the
    /// DNSKEY RRset holds the new key (RFC 7583 §3.2.1, §3.3.1).
    pub fn publish_interval(&self) -> u64 {
        self.propagation_delay + self.dnskey_ttl + self.safety
    }

    /// Iret for a ZSK = Dsgn + Dprp + TTLsig (+ safety), Dsgn = 0 because the
    /// whole zone is signed again at once (RFC 7583 §3.2.1).
    pub fn zsk_retire_interval(&self) -> u64 {
        self.propagation_delay + self.max_zone_ttl + self.safety
    }

    /// After the parent's DS changed: DprpP + TTLds (+ safety), until no
    /// cache holds the old DS (RFC 7583 §3.3.1).
    pub fn ksk_retire_interval(&self) -> u64 {
        self.parent_propagation_delay + self.ds_ttl + self.safety
    }
}

/// What a step decided.
#[derive(Debug, Clone)]
pub struct Step {
    /// Every key of the zone with what to do with it now.
    pub keys: Vec<ZoneKey>,
    /// When to call `advance` again; `None` when nothing is pending on time
    /// (idle, or waiting for the parent's DS only).
    pub next: Option<u64>,
    /// The KSK rollover waits for the parent to publish the new DS.
    pub waiting_for_ds: bool,
    /// What changed, for the zone's log.
    pub events: Vec<String>,
    /// The state changed (keep it), events or not.
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ZskPhase {
    Idle,
    /// New key published, not signing, since `at`.
    Published {
        at: u64,
    },
    /// New key signing, old one still published, since `at`.
    Active {
        at: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum KskPhase {
    Idle,
    /// New KSK published and signing DNSKEY beside the old, since `at`.
    Published {
        at: u64,
    },
    /// CDS/CDNSKEY name the new key; waiting for the parent's DS.
    WaitDs,
    /// The parent's DS changed at `at`; the old KSK goes after the retire interval.
    DsSeen {
        at: u64,
    },
}

/// ZSK pre-publication rollover.
#[derive(Debug, Clone)]
struct ZskRollover {
    current: Arc<SigningKey>,
    next: Option<Arc<SigningKey>>,
    phase: ZskPhase,
    /// When `current` began signing; 0 until the first [`KeyState::advance`]
    /// (a state made without a clock). Kept in the idle line's time field.
    since: u64,
}

/// KSK double-KSK rollover.
#[derive(Debug, Clone)]
struct KskRollover {
    current: Arc<SigningKey>,
    next: Option<Arc<SigningKey>>,
    phase: KskPhase,
}

/// The KSK rollover's stage as the parent sees it (DPF `ds_state` 4-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KskStage {
    Idle,
    /// The new KSK is published; the parent's DS still names the old one.
    Published,
    /// CDS/CDNSKEY name the new KSK; the parent's DS should follow.
    WaitDs,
    /// The parent's DS names the new KSK; the old one goes after Iret.
    DsSeen,
}

/// A zone's keys and the rollovers in progress.
#[derive(Debug, Clone)]
pub struct KeyState {
    pub timings: RolloverTimings,
    ksk: KskRollover,
    zsk: ZskRollover,
}

impl KeyState {
    pub fn new(ksk: Arc<SigningKey>, zsk: Arc<SigningKey>, timings: RolloverTimings) -> Result<KeyState, KeyError> {
        if ksk.role() != Role::Ksk || zsk.role() != Role::Zsk {
            return Err(KeyError::Malformed("need a KSK (257) and a ZSK (256)"));
        }
        Ok(KeyState {
            timings,
            ksk: KskRollover {
                current: ksk,
                next: None,
                phase: KskPhase::Idle,
            },
            zsk: ZskRollover {
                current: zsk,
                next: None,
                phase: ZskPhase::Idle,
                since: 0,
            },
        })
    }

    /// A new KSK and ZSK of `algorithm`.
    pub fn generate(algorithm: Algorithm, timings: RolloverTimings) -> Result<KeyState, KeyError> {
        KeyState::new(
            Arc::new(SigningKey::generate(algorithm, Role::Ksk)?),
            Arc::new(SigningKey::generate(algorithm, Role::Zsk)?),
            timings,
        )
    }

    /// The state as text for the store, each private key sealed under the
    /// operator key ([`crate::keys::seal`]): one line per rollover,
    /// `ksk|zsk PHASE AT CURRENT [NEXT]`, keys in base64. Timings are
    /// configuration and are not kept.
    pub fn seal(&self, operator_key: &[u8]) -> Result<String, KeyError> {
        let b64 = |k: &SigningKey| -> Result<String, KeyError> {
            Ok(data_encoding::BASE64.encode(&crate::keys::seal(&k.to_bytes(), operator_key)?))
        };
        let (kp, ka) = match self.ksk.phase {
            KskPhase::Idle => ("idle", 0),
            KskPhase::Published { at } => ("published", at),
            KskPhase::WaitDs => ("wait-ds", 0),
            KskPhase::DsSeen { at } => ("ds-seen", at),
        };
        let (zp, za) = match self.zsk.phase {
            ZskPhase::Idle => ("idle", self.zsk.since),
            ZskPhase::Published { at } => ("published", at),
            ZskPhase::Active { at } => ("active", at),
        };
        let mut out = String::new();
        for (role, phase, at, current, next) in [
            ("ksk", kp, ka, &self.ksk.current, &self.ksk.next),
            ("zsk", zp, za, &self.zsk.current, &self.zsk.next),
        ] {
            out += &format!("{role} {phase} {at} {}", b64(current)?);
            if let Some(n) = next {
                out += &format!(" {}", b64(n)?);
            }
            out.push('\n');
        }
        Ok(out)
    }

    /// The state [`KeyState::seal`] wrote, opened with the operator key.
    pub fn open(text: &str, operator_key: &[u8], timings: RolloverTimings) -> Result<KeyState, KeyError> {
        let bad = KeyError::Malformed("stored key state");
        let key = |b64: &str| -> Result<Arc<SigningKey>, KeyError> {
            let sealed = data_encoding::BASE64
                .decode(b64.as_bytes())
                .map_err(|_| KeyError::Malformed("stored key state"))?;
            Ok(Arc::new(SigningKey::from_bytes(&crate::keys::open(
                &sealed,
                operator_key,
            )?)?))
        };
        let mut ksk = None;
        let mut zsk = None;
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let [role, phase, at, current, rest @ ..] = f.as_slice() else {
                return Err(bad);
            };
            let at: u64 = at.parse().map_err(|_| KeyError::Malformed("stored key state"))?;
            let current = key(current)?;
            let next = rest.first().map(|n| key(n)).transpose()?;
            match *role {
                "ksk" => {
                    let phase = match *phase {
                        "idle" => KskPhase::Idle,
                        "published" => KskPhase::Published { at },
                        "wait-ds" => KskPhase::WaitDs,
                        "ds-seen" => KskPhase::DsSeen { at },
                        _ => return Err(bad),
                    };
                    ksk = Some(KskRollover { current, next, phase });
                }
                "zsk" => {
                    let (phase, since) = match *phase {
                        "idle" => (ZskPhase::Idle, at),
                        "published" => (ZskPhase::Published { at }, 0),
                        "active" => (ZskPhase::Active { at }, 0),
                        _ => return Err(bad),
                    };
                    zsk = Some(ZskRollover {
                        current,
                        next,
                        phase,
                        since,
                    });
                }
                _ => return Err(bad),
            }
        }
        match (ksk, zsk) {
            (Some(ksk), Some(zsk)) => Ok(KeyState { timings, ksk, zsk }),
            _ => Err(bad),
        }
    }

    /// The KSK rollover waits for the parent's DS to name the new KSK.
    pub fn waiting_for_ds(&self) -> bool {
        self.ksk.phase == KskPhase::WaitDs
    }

    /// Where the KSK rollover stands, for the parent's side of it.
    pub fn ksk_stage(&self) -> KskStage {
        match self.ksk.phase {
            KskPhase::Idle => KskStage::Idle,
            KskPhase::Published { .. } => KskStage::Published,
            KskPhase::WaitDs => KskStage::WaitDs,
            KskPhase::DsSeen { .. } => KskStage::DsSeen,
        }
    }

    /// Has the current ZSK signed for its lifetime, with no rollover under
    /// way? Then the caller starts one ([`KeyState::start_zsk_rollover`]).
    pub fn zsk_due(&self, now: u64) -> bool {
        let t = &self.timings;
        self.zsk.phase == ZskPhase::Idle
            && t.zsk_lifetime > 0
            && self.zsk.since > 0
            && now >= self.zsk.since + t.zsk_lifetime
    }

    pub fn ksk(&self) -> &Arc<SigningKey> {
        &self.ksk.current
    }

    pub fn zsk(&self) -> &Arc<SigningKey> {
        &self.zsk.current
    }

    /// Is a KSK / ZSK rollover under way?
    pub fn rolling(&self) -> (bool, bool) {
        (self.ksk.phase != KskPhase::Idle, self.zsk.phase != ZskPhase::Idle)
    }

    /// The keys as they are now.
    pub fn keys(&self) -> Vec<ZoneKey> {
        let mut out = Vec::new();
        let k = &self.ksk;
        let old = |key: &Arc<SigningKey>, cds| ZoneKey {
            key: key.clone(),
            publish: true,
            sign: true,
            cds,
        };
        match (&k.phase, &k.next) {
            (KskPhase::Idle, _) | (_, None) => out.push(old(&k.current, true)),
            (KskPhase::Published { .. }, Some(n)) => {
                // Both sign the DNSKEY RRset (double signature); the parent
                // still points at the old one, and so does CDS.
                out.push(old(&k.current, true));
                out.push(old(n, false));
            }
            (KskPhase::WaitDs | KskPhase::DsSeen { .. }, Some(n)) => {
                out.push(old(&k.current, false));
                out.push(old(n, true));
            }
        }
        let z = &self.zsk;
        match (&z.phase, &z.next) {
            (ZskPhase::Idle, _) | (_, None) => out.push(old(&z.current, false)),
            (ZskPhase::Published { .. }, Some(n)) => {
                out.push(old(&z.current, false));
                out.push(ZoneKey {
                    key: n.clone(),
                    publish: true,
                    sign: false,
                    cds: false,
                });
            }
            (ZskPhase::Active { .. }, Some(n)) => {
                out.push(ZoneKey {
                    key: z.current.clone(),
                    publish: true,
                    sign: false,
                    cds: false,
                });
                out.push(old(n, false));
            }
        }
        out
    }

    /// Starts a KSK rollover with a new key of the current algorithm.
    pub fn start_ksk_rollover(&mut self, now: u64) -> Result<Step, KeyError> {
        let key = SigningKey::generate(self.ksk.current.algorithm(), Role::Ksk)?;
        self.start_ksk_rollover_with(Arc::new(key), now)
    }

    /// Starts a KSK rollover to `key` (a KSK). Refused while one is under way.
    pub fn start_ksk_rollover_with(&mut self, key: Arc<SigningKey>, now: u64) -> Result<Step, KeyError> {
        if self.ksk.phase != KskPhase::Idle {
            return Err(KeyError::Malformed("a KSK rollover is already under way"));
        }
        if key.role() != Role::Ksk {
            return Err(KeyError::Malformed("the new key is not a KSK"));
        }
        let ev = format!(
            "KSK rollover: new KSK {} published, signing DNSKEY beside {}",
            key.key_tag(),
            self.ksk.current.key_tag()
        );
        self.ksk.next = Some(key);
        self.ksk.phase = KskPhase::Published { at: now };
        let mut step = self.advance(now, false);
        step.events.insert(0, ev);
        Ok(step)
    }

    /// Starts a ZSK rollover with a new key of the current algorithm.
    pub fn start_zsk_rollover(&mut self, now: u64) -> Result<Step, KeyError> {
        let key = SigningKey::generate(self.zsk.current.algorithm(), Role::Zsk)?;
        self.start_zsk_rollover_with(Arc::new(key), now)
    }

    /// Starts a ZSK rollover to `key` (a ZSK). Refused while one is under way.
    pub fn start_zsk_rollover_with(&mut self, key: Arc<SigningKey>, now: u64) -> Result<Step, KeyError> {
        if self.zsk.phase != ZskPhase::Idle {
            return Err(KeyError::Malformed("a ZSK rollover is already under way"));
        }
        if key.role() != Role::Zsk {
            return Err(KeyError::Malformed("the new key is not a ZSK"));
        }
        let ev = format!("ZSK rollover: new ZSK {} pre-published", key.key_tag());
        self.zsk.next = Some(key);
        self.zsk.phase = ZskPhase::Published { at: now };
        let mut step = self.advance(now, false);
        step.events.insert(0, ev);
        Ok(step)
    }

    /// Moves both rollovers on as far as `now` allows. `ds_seen_at_parent`:
    /// the parent's DS RRset (as the caller observed it) names the new KSK.
    pub fn advance(&mut self, now: u64, ds_seen_at_parent: bool) -> Step {
        let t = self.timings.clone();
        let before = (self.ksk.phase.clone(), self.zsk.phase.clone(), self.zsk.since);
        let mut events = Vec::new();
        let mut next: Vec<u64> = Vec::new();
        // ZSK.
        loop {
            match self.zsk.phase.clone() {
                ZskPhase::Idle => {
                    if self.zsk.since == 0 {
                        self.zsk.since = now;
                    }
                    if t.zsk_lifetime > 0 {
                        next.push(self.zsk.since + t.zsk_lifetime);
                    }
                    break;
                }
                ZskPhase::Published { at } => {
                    let due = at + t.publish_interval();
                    if now < due {
                        next.push(due);
                        break;
                    }
                    if let Some(n) = &self.zsk.next {
                        events.push(format!(
                            "ZSK rollover: {} signs the zone, {} stops signing",
                            n.key_tag(),
                            self.zsk.current.key_tag()
                        ));
                    }
                    self.zsk.phase = ZskPhase::Active { at: now };
                }
                ZskPhase::Active { at } => {
                    let due = at + t.zsk_retire_interval();
                    if now < due {
                        next.push(due);
                        break;
                    }
                    if let Some(n) = self.zsk.next.take() {
                        events.push(format!(
                            "ZSK rollover: old ZSK {} removed; done",
                            self.zsk.current.key_tag()
                        ));
                        self.zsk.current = n;
                    }
                    // The new key has signed since it became active.
                    self.zsk.since = at;
                    self.zsk.phase = ZskPhase::Idle;
                }
            }
        }
        // KSK.
        let mut waiting = false;
        loop {
            match self.ksk.phase.clone() {
                KskPhase::Idle => break,
                KskPhase::Published { at } => {
                    let due = at + t.publish_interval();
                    if now < due {
                        next.push(due);
                        break;
                    }
                    if let Some(n) = &self.ksk.next {
                        events.push(format!(
                            "KSK rollover: CDS/CDNSKEY now name {}; waiting for the parent's DS",
                            n.key_tag()
                        ));
                    }
                    self.ksk.phase = KskPhase::WaitDs;
                }
                KskPhase::WaitDs => {
                    if !ds_seen_at_parent {
                        waiting = true;
                        break;
                    }
                    events.push("KSK rollover: the parent's DS names the new KSK".into());
                    self.ksk.phase = KskPhase::DsSeen { at: now };
                }
                KskPhase::DsSeen { at } => {
                    let due = at + t.ksk_retire_interval();
                    if now < due {
                        next.push(due);
                        break;
                    }
                    if let Some(n) = self.ksk.next.take() {
                        events.push(format!(
                            "KSK rollover: old KSK {} removed; done",
                            self.ksk.current.key_tag()
                        ));
                        self.ksk.current = n;
                    }
                    self.ksk.phase = KskPhase::Idle;
                }
            }
        }
        let changed = before != (self.ksk.phase.clone(), self.zsk.phase.clone(), self.zsk.since);
        Step {
            keys: self.keys(),
            next: next.into_iter().min(),
            waiting_for_ds: waiting,
            events,
            changed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_opens_to_the_same_keys_and_phases() {
        let op = [7u8; 32];
        let mut st = KeyState::generate(Algorithm::EcdsaP256Sha256, RolloverTimings::default()).unwrap();
        st.start_ksk_rollover(1000).unwrap();
        let text = st.seal(&op).unwrap();
        assert!(!text.contains(&data_encoding::BASE64.encode(&st.ksk().to_bytes())));
        let back = KeyState::open(&text, &op, RolloverTimings::default()).unwrap();
        let tags = |s: &KeyState| -> Vec<(u16, bool, bool, bool)> {
            s.keys()
                .iter()
                .map(|k| (k.key.key_tag(), k.publish, k.sign, k.cds))
                .collect()
        };
        assert_eq!(tags(&st), tags(&back));
        assert_eq!(
            back.seal(&op)
                .unwrap()
                .lines()
                .map(|l| l.split(' ').take(3).collect::<Vec<_>>())
                .collect::<Vec<_>>(),
            text.lines()
                .map(|l| l.split(' ').take(3).collect::<Vec<_>>())
                .collect::<Vec<_>>()
        );
        assert!(
            KeyState::open(&text, &[8u8; 32], RolloverTimings::default()).is_err(),
            "another operator key"
        );
    }

    fn state() -> KeyState {
        KeyState::generate(Algorithm::Ed25519, RolloverTimings::default()).unwrap()
    }

    fn summary(keys: &[ZoneKey]) -> Vec<(u16, bool, bool, bool)> {
        keys.iter().map(|k| (k.key.flags(), k.publish, k.sign, k.cds)).collect()
    }

    #[test]
    fn zsk_prepublication_follows_rfc7583_timings() {
        let mut s = state();
        let t = s.timings.clone();
        let old = s.zsk().key_tag();
        let step = s.start_zsk_rollover(1000).unwrap();
        assert_eq!(step.next, Some(1000 + t.publish_interval()));
        assert_eq!(
            summary(&step.keys)[1..],
            [(256, true, true, false), (256, true, false, false)]
        );
        // Too early: nothing moves.
        let step = s.advance(1000 + t.publish_interval() - 1, false);
        assert!(step.events.is_empty());
        let swap = 1000 + t.publish_interval();
        let step = s.advance(swap, false);
        assert_eq!(
            summary(&step.keys)[1..],
            [(256, true, false, false), (256, true, true, false)]
        );
        assert_eq!(step.next, Some(swap + t.zsk_retire_interval()));
        let step = s.advance(swap + t.zsk_retire_interval(), false);
        assert_eq!(summary(&step.keys)[1..], [(256, true, true, false)]);
        assert_ne!(s.zsk().key_tag(), old);
        assert_eq!(step.next, None);
        assert!(s.start_zsk_rollover(5).is_ok());
        assert!(s.start_zsk_rollover(5).is_err());
    }

    #[test]
    fn a_zsk_is_due_after_its_lifetime_counted_from_when_it_began_signing() {
        let op = [7u8; 32];
        let t = RolloverTimings {
            zsk_lifetime: 30 * 86400,
            ..Default::default()
        };
        let mut s = KeyState::generate(Algorithm::Ed25519, t.clone()).unwrap();
        assert!(!s.zsk_due(u64::MAX / 2), "no clock yet: not due");
        let step = s.advance(1000, false);
        assert!(step.changed && step.events.is_empty(), "the clock starts");
        assert_eq!(step.next, Some(1000 + t.zsk_lifetime));
        assert!(!s.advance(2000, false).changed, "nothing moves");
        // The start is kept across sealing.
        let mut s = KeyState::open(&s.seal(&op).unwrap(), &op, t.clone()).unwrap();
        assert!(!s.zsk_due(1000 + t.zsk_lifetime - 1));
        let due = 1000 + t.zsk_lifetime;
        assert!(s.zsk_due(due));
        s.start_zsk_rollover(due).unwrap();
        assert!(!s.zsk_due(due), "under way");
        let active = due + t.publish_interval();
        s.advance(active, false);
        let step = s.advance(active + t.zsk_retire_interval(), false);
        assert_eq!(s.rolling(), (false, false));
        // The new key's lifetime runs from when it began to sign.
        assert_eq!(step.next, Some(active + t.zsk_lifetime));
        assert!(s.zsk_due(active + t.zsk_lifetime));
        let never = KeyState::generate(Algorithm::Ed25519, RolloverTimings::default()).unwrap();
        assert!(!never.zsk_due(u64::MAX / 2), "lifetime 0: never");
    }

    #[test]
    fn ksk_double_signature_waits_for_the_parent() {
        let mut s = state();
        let t = s.timings.clone();
        let step = s.start_ksk_rollover(0).unwrap();
        assert_eq!(
            summary(&step.keys)[..2],
            [(257, true, true, true), (257, true, true, false)]
        );
        assert!(s.start_ksk_rollover(1).is_err());
        let step = s.advance(t.publish_interval(), false);
        assert!(step.waiting_for_ds);
        assert_eq!(step.next, None);
        assert_eq!(
            summary(&step.keys)[..2],
            [(257, true, true, false), (257, true, true, true)]
        );
        // A DS seen early does not shorten the publication wait, and the
        // wait for the DS lasts as long as the parent takes.
        let step = s.advance(t.publish_interval() + 86400 * 30, false);
        assert!(step.waiting_for_ds);
        let seen = t.publish_interval() + 86400 * 31;
        let step = s.advance(seen, true);
        assert!(!step.waiting_for_ds);
        assert_eq!(step.next, Some(seen + t.ksk_retire_interval()));
        let step = s.advance(seen + t.ksk_retire_interval(), true);
        assert_eq!(summary(&step.keys), [(257, true, true, true), (256, true, true, false)]);
        assert_eq!(s.rolling(), (false, false));
    }
}
