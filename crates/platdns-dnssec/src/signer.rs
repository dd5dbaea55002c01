//! A signed zone kept in memory (RFC 4033–4035, RFC 5155).
//!
//! [`SignedZone::sign`] signs a zone's records whole. The state it keeps (the
//! user's RRsets with their signatures, the NSEC or NSEC3 chain with its
//! signatures, and each name's place in the tree) lets a commit be signed at
//! the cost of what it changed ([`SignedZone::apply`]): the changed RRsets
//! are re-signed, names that appear or disappear (with the empty
//! non-terminals above them) enter or leave the chain, and only their own
//! denial records and their predecessors' are remade. A zone cut that
//! appears or disappears re-evaluates the names below it, which is the
//! least that must change. The result is the same as signing the new
//! records whole (`tests/incremental.rs` checks this over random commits).
//!
//! Names are kept in a `BTreeMap` keyed by [`canonical_key`], whose byte
//! order is RFC 4034 §6.1 canonical order and in which a name's descendants
//! follow it contiguously; the NSEC3 chain is a `BTreeMap` keyed by hash.
//! Owner names are kept and output lowercase (platdns-zone lowercases
//! owners too).

use crate::canon::{
    canonical_key, canonical_rdata, nsec3_hash, nsec3_owner, rrsig_labels, signed_data, type_bitmap, RrsigHeader,
};
use crate::keys::{KeyError, Role, SigningKey};
use platdns_zone::{Class, Name, Record, RrsetChange, Rtype};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// How non-existence is proven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denial {
    /// NSEC (RFC 4034 §4, RFC 4035 §2.3).
    Nsec,
    /// NSEC3 with SHA-1 (RFC 5155), opt-out never set. RFC 9276 §3.1: 0
    /// extra iterations and an empty salt ([`Denial::nsec3`]).
    Nsec3 { iterations: u16, salt: Vec<u8> },
}

impl Denial {
    /// NSEC3 with the RFC 9276 §3.1 parameters: 0 extra iterations, no salt.
    pub fn nsec3() -> Denial {
        Denial::Nsec3 {
            iterations: 0,
            salt: Vec::new(),
        }
    }
}

/// Signing settings. Times are seconds. See `RULES.md` for where each
/// default comes from.
#[derive(Debug, Clone)]
pub struct SignerConfig {
    pub denial: Denial,
    /// Inception is this long before the signing time, so validators with a
    /// slow clock accept new signatures (RFC 6781 §4.4.2.2 "clock skew").
    pub inception_offset: u32,
    /// Expiration is this long after the signing time (less jitter).
    pub validity: u32,
    /// Up to this much is taken off each expiration, by a hash of the owner
    /// and type, so that signatures made together do not all expire together
    /// (RFC 6781 §4.4.2.1). Deterministic: no randomness.
    pub jitter: u32,
    /// [`SignedZone::refresh`] re-signs what expires within this window.
    pub refresh: u32,
    /// TTL of DNSKEY, CDS, CDNSKEY and NSEC3PARAM.
    pub dnskey_ttl: u32,
    /// Publish CDS and CDNSKEY for the keys marked `cds` (RFC 7344).
    pub publish_cds: bool,
    /// The zone is being turned off: CDS and CDNSKEY carry RFC 8078 §4's
    /// delete request instead of keys, so a parent that follows them
    /// removes the DS.
    pub cds_delete: bool,
}

/// RFC 8078 §4: the CDS `0 0 0 00` and the CDNSKEY `0 3 0 AA==` ask the
/// parent to remove the DS.
const CDS_DELETE: [u8; 5] = [0, 0, 0, 0, 0];
const CDNSKEY_DELETE: [u8; 5] = [0, 0, 3, 0, 0];

impl Default for SignerConfig {
    fn default() -> Self {
        SignerConfig {
            denial: Denial::Nsec,
            inception_offset: 3600,
            validity: 14 * 86400,
            jitter: 0,
            refresh: 7 * 86400,
            dnskey_ttl: 3600,
            publish_cds: true,
            cds_delete: false,
        }
    }
}

/// A key and what the zone does with it now (a rollover decides these).
#[derive(Debug, Clone)]
pub struct ZoneKey {
    pub key: Arc<SigningKey>,
    /// In the DNSKEY RRset.
    pub publish: bool,
    /// Makes signatures: a KSK over DNSKEY, CDS and CDNSKEY, a ZSK over the rest.
    pub sign: bool,
    /// Has a CDS / CDNSKEY: the KSK the parent's DS should name (RFC 7344 §4).
    pub cds: bool,
}

impl ZoneKey {
    /// A key published and signing; a KSK also in CDS/CDNSKEY.
    pub fn active(key: Arc<SigningKey>) -> ZoneKey {
        let cds = key.role() == Role::Ksk;
        ZoneKey {
            key,
            publish: true,
            sign: true,
            cds,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("{0} is outside the zone")]
    OutOfZone(String),
    #[error("{0}: the signer makes this type itself")]
    SignerOwned(String),
    #[error("{0}: a change's records must have the change's owner and type")]
    Mismatch(String),
    #[error("no SOA at the apex")]
    NoSoa,
    #[error("keys: {0}")]
    Keys(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("settings: {0}")]
    Config(String),
    #[error("NSEC3 hash collision between {0} and {1}")]
    Nsec3Collision(String, String),
}

/// What a change did to the signed zone's records.
#[derive(Debug, Default, Clone)]
pub struct Diff {
    pub remove: Vec<Record>,
    pub add: Vec<Record>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.add.is_empty()
    }

    /// Cancels records both removed and added (an RRset set back to what it
    /// was), so the diff holds only real changes.
    fn net(self) -> Diff {
        type K = (Vec<u8>, Rtype, u32, Vec<u8>);
        let key = |r: &Record| -> K {
            (
                r.owner.to_lowercase().as_wire().to_vec(),
                r.rtype,
                r.ttl,
                r.rdata.clone(),
            )
        };
        let mut count: HashMap<K, i32> = HashMap::new();
        for r in &self.remove {
            *count.entry(key(r)).or_default() -= 1;
        }
        for r in &self.add {
            *count.entry(key(r)).or_default() += 1;
        }
        let mut out = Diff::default();
        for r in self.remove {
            let c = count.get_mut(&key(&r));
            if let Some(c) = c.filter(|c| **c < 0) {
                *c += 1;
                out.remove.push(r);
            }
        }
        for r in self.add {
            let c = count.get_mut(&key(&r));
            if let Some(c) = c.filter(|c| **c > 0) {
                *c -= 1;
                out.add.push(r);
            }
        }
        out
    }
}

/// Records of one RRset while a zone is read: owner, TTL, rdatas.
type Group = (Name, u32, Vec<Vec<u8>>);

const APEX: u8 = 1;
const DELEG: u8 = 2;
const BELOW_CUT: u8 = 4;

/// Types the signer makes; a zone's input may not hold them.
fn signer_owned(t: Rtype) -> bool {
    matches!(
        t,
        Rtype::RRSIG | Rtype::NSEC | Rtype::NSEC3 | Rtype::NSEC3PARAM | Rtype::DNSKEY | Rtype::CDS | Rtype::CDNSKEY
    )
}

/// RRsets signed by the KSK (RFC 6781 §3.1; RFC 7344 §4.1: CDS/CDNSKEY are
/// signed by a key the parent's DS names).
fn ksk_signed(t: Rtype) -> bool {
    matches!(t, Rtype::DNSKEY | Rtype::CDS | Rtype::CDNSKEY)
}

#[derive(Debug, Clone)]
struct Set {
    rtype: Rtype,
    ttl: u32,
    rdatas: Vec<Vec<u8>>,
    /// RRSIG rdatas over this set, one per signing key; empty when unsigned
    /// or when the content changed and it must be signed again.
    sigs: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct Node {
    owner: Name,
    sets: Vec<Set>,
    children: u32,
    flags: u8,
    /// NSEC mode: this name's NSEC rdata and its signatures.
    nsec: Option<Denied>,
}

#[derive(Debug, Clone)]
struct Denied {
    rdata: Vec<u8>,
    sigs: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
struct N3 {
    /// The name hashed, as a [`canonical_key`].
    name_key: Box<[u8]>,
    owner: Name,
    denied: Denied,
}

impl Node {
    fn exists(&self) -> bool {
        !self.sets.is_empty() || self.children > 0 || self.flags & APEX != 0
    }

    fn set(&self, t: Rtype) -> Option<&Set> {
        self.sets.iter().find(|s| s.rtype == t)
    }

    /// Is this RRset authoritative data that gets an RRSIG (RFC 4035 §2.2)?
    /// Not below a cut (glue, occluded data), and at a cut only DS (the NS
    /// there belongs to the child, RFC 4035 §2.2 last paragraph).
    fn signs(&self, t: Rtype) -> bool {
        if self.flags & BELOW_CUT != 0 {
            false
        } else if self.flags & DELEG != 0 {
            t == Rtype::DS
        } else {
            true
        }
    }

    /// The authoritative types here, for the bit maps (RFC 4035 §2.3: at a
    /// delegation NS and DS only, not glue).
    fn auth_types(&self) -> Vec<Rtype> {
        self.sets
            .iter()
            .map(|s| s.rtype)
            .filter(|&t| self.flags & DELEG == 0 || matches!(t, Rtype::NS | Rtype::DS))
            .collect()
    }

    fn has_signed_set(&self) -> bool {
        self.sets.iter().any(|s| self.signs(s.rtype))
    }
}

fn child_flags(parent_flags: u8, has_ns: bool) -> u8 {
    let mut f = 0;
    if parent_flags & (DELEG | BELOW_CUT) != 0 {
        f |= BELOW_CUT;
    }
    if has_ns {
        f |= DELEG;
    }
    f
}

fn parent_key(key: &[u8]) -> Option<&[u8]> {
    // Keys end each label with 0; the parent's key is the key up to and
    // including the second-to-last terminator.
    if key.is_empty() {
        return None;
    }
    let body = &key[..key.len() - 1];
    match body.iter().rposition(|&b| b == 0) {
        Some(i) => Some(&key[..=i]),
        None => Some(&key[..0]),
    }
}

/// A deterministic spread of expirations: FNV-1a of owner and type.
fn jitter_of(owner: &Name, rtype: Rtype, jitter: u32) -> u32 {
    if jitter == 0 {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in owner.as_wire().iter().chain(&rtype.0.to_be_bytes()) {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    (h % (jitter as u64 + 1)) as u32
}

/// Expiration of an RRSIG rdata (RFC 4034 §3.1.5).
fn expiration_of(sig: &[u8]) -> u32 {
    sig.get(8..12)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0)
}

/// What signing needs, shared by the threads of a whole-zone signing.
struct Ctx<'a> {
    apex: &'a Name,
    config: &'a SignerConfig,
    ksks: Vec<Arc<SigningKey>>,
    zsks: Vec<Arc<SigningKey>>,
    now: u64,
}

impl Ctx<'_> {
    fn sign(&self, owner: &Name, rtype: Rtype, ttl: u32, rdatas: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, KeyError> {
        let keys = if ksk_signed(rtype) { &self.ksks } else { &self.zsks };
        let refs: Vec<&[u8]> = rdatas.iter().map(Vec::as_slice).collect();
        // RFC 4034 §3.1.5: 32-bit times in serial-number arithmetic, so the
        // Unix time is taken modulo 2^32.
        let inception = self.now.saturating_sub(self.config.inception_offset as u64) as u32;
        let expiration = (self.now + self.config.validity as u64
            - jitter_of(owner, rtype, self.config.jitter.min(self.config.validity)) as u64)
            as u32;
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            let header = RrsigHeader {
                type_covered: rtype,
                algorithm: k.algorithm().number(),
                labels: rrsig_labels(owner),
                original_ttl: ttl,
                expiration,
                inception,
                key_tag: k.key_tag(),
                signer: self.apex.clone(),
            };
            let data = signed_data(&header, owner, Class::IN.0, &refs);
            let mut rdata = header.to_wire();
            rdata.extend_from_slice(&k.sign(&data)?);
            out.push(rdata);
        }
        Ok(out)
    }
}

/// The signing context from a zone's fields (a free function, so that the
/// zone's nodes can be borrowed mutably beside it).
fn ctx_of<'a>(apex: &'a Name, config: &'a SignerConfig, keys: &[ZoneKey], now: u64) -> Ctx<'a> {
    let pick = |role: Role| {
        keys.iter()
            .filter(|k| k.sign && k.key.role() == role)
            .map(|k| k.key.clone())
            .collect()
    };
    Ctx {
        apex,
        config,
        ksks: pick(Role::Ksk),
        zsks: pick(Role::Zsk),
        now,
    }
}

/// Runs `f` over `items` on the machine's cores (std threads; signing a
/// large zone is CPU-bound and each item independent).
fn par_each<T: Send>(items: &mut [T], f: impl Fn(&mut T) -> Result<(), KeyError> + Sync) -> Result<(), KeyError> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(16);
    if threads <= 1 || items.len() < 256 {
        return items.iter_mut().try_for_each(f);
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks_mut(chunk)
            .map(|c| s.spawn(|| c.iter_mut().try_for_each(&f)))
            .collect();
        handles
            .into_iter()
            .try_for_each(|h| h.join().unwrap_or(Err(KeyError::Sign)))
    })
}

/// A signed zone, kept so that changes and time can be signed incrementally.
#[derive(Debug, Clone)]
pub struct SignedZone {
    apex: Name,
    apex_key: Box<[u8]>,
    config: SignerConfig,
    keys: Vec<ZoneKey>,
    nodes: BTreeMap<Box<[u8]>, Node>,
    nsec3: BTreeMap<[u8; 20], N3>,
    /// TTL of NSEC/NSEC3: min(SOA TTL, SOA MINIMUM) (RFC 9077 §3.1, which
    /// updates RFC 4034 §4 and RFC 5155 §3).
    neg_ttl: u32,
}

impl SignedZone {
    /// Signs `records` (the zone's data, without DNSSEC records) whole.
    pub fn sign(
        records: &[Record],
        apex: &Name,
        keys: Vec<ZoneKey>,
        config: SignerConfig,
        now: u64,
    ) -> Result<SignedZone, SignError> {
        let apex = apex.to_lowercase();
        let apex_key: Box<[u8]> = canonical_key(&apex).into();
        check_keys(&keys)?;
        if let Denial::Nsec3 { salt, .. } = &config.denial {
            if salt.len() > 255 {
                return Err(SignError::Config(
                    "NSEC3 salt longer than 255 octets (RFC 5155 §3.1.5)".into(),
                ));
            }
        }
        if config.validity <= config.refresh {
            // Otherwise every refresh would re-sign everything.
            return Err(SignError::Config(
                "validity must be longer than the refresh window".into(),
            ));
        }
        let mut z = SignedZone {
            apex: apex.clone(),
            apex_key: apex_key.clone(),
            config,
            keys,
            nodes: BTreeMap::new(),
            nsec3: BTreeMap::new(),
            neg_ttl: 0,
        };
        z.nodes.insert(
            apex_key,
            Node {
                owner: apex,
                sets: Vec::new(),
                children: 0,
                flags: APEX,
                nsec: None,
            },
        );
        // Group the records into RRsets at their nodes.
        let mut groups: BTreeMap<(Box<[u8]>, Rtype), Group> = BTreeMap::new();
        for r in records {
            z.check_change(&r.owner, r.rtype)?;
            let key: Box<[u8]> = canonical_key(&r.owner).into();
            let g = groups
                .entry((key, r.rtype))
                .or_insert_with(|| (r.owner.to_lowercase(), r.ttl, Vec::new()));
            // RFC 2181 §5.2: one TTL an RRset; the last stated wins, as in platdns-zone.
            g.1 = r.ttl;
            push_unique(&mut g.2, r.rtype, &r.rdata);
        }
        let mut unused = BTreeMap::new();
        for ((key, rtype), (owner, ttl, rdatas)) in groups {
            z.ensure_node(&key, &owner, &mut unused);
            let node = z.nodes.get_mut(&key).ok_or(SignError::NoSoa)?;
            node.sets.push(Set {
                rtype,
                ttl,
                rdatas,
                sigs: Vec::new(),
            });
        }
        z.neg_ttl = z.negative_ttl()?;
        z.install_signer_sets(&mut Diff::default());
        // Flags, parents before children (canonical order is a preorder).
        let mut stack: Vec<(Box<[u8]>, u8)> = Vec::new();
        for (key, node) in z.nodes.iter_mut() {
            while stack.last().is_some_and(|(k, _)| !key.starts_with(k)) {
                stack.pop();
            }
            node.flags = match stack.last() {
                None => APEX,
                Some(&(_, pf)) => child_flags(pf, node.set(Rtype::NS).is_some()),
            };
            stack.push((key.clone(), node.flags));
        }
        let ctx = ctx_of(&z.apex, &z.config, &z.keys, now);
        // Sign every authoritative RRset.
        let mut jobs: Vec<(&Name, &mut Set)> = Vec::new();
        for node in z.nodes.values_mut() {
            let signs: Vec<bool> = node.sets.iter().map(|s| node.signs(s.rtype)).collect();
            let Node { owner, sets, .. } = node;
            for (s, yes) in sets.iter_mut().zip(signs) {
                if yes {
                    jobs.push((owner, s));
                }
            }
        }
        par_each(&mut jobs, |(owner, s)| {
            s.sigs = ctx.sign(owner, s.rtype, s.ttl, &s.rdatas)?;
            Ok(())
        })?;
        drop(jobs);
        z.build_chain(now)?;
        Ok(z)
    }

    fn check_change(&self, owner: &Name, rtype: Rtype) -> Result<(), SignError> {
        if !owner.is_subdomain_of(&self.apex) {
            return Err(SignError::OutOfZone(owner.to_string()));
        }
        if signer_owned(rtype) {
            return Err(SignError::SignerOwned(format!("{owner} {rtype}")));
        }
        Ok(())
    }

    fn negative_ttl(&self) -> Result<u32, SignError> {
        let apex = self.nodes.get(&self.apex_key).ok_or(SignError::NoSoa)?;
        let soa = apex.set(Rtype::SOA).ok_or(SignError::NoSoa)?;
        let rdata = soa.rdatas.first().ok_or(SignError::NoSoa)?;
        if rdata.len() < 20 {
            return Err(SignError::NoSoa);
        }
        let m = &rdata[rdata.len() - 4..];
        Ok(soa.ttl.min(u32::from_be_bytes([m[0], m[1], m[2], m[3]])))
    }

    pub fn apex(&self) -> &Name {
        &self.apex
    }

    pub fn config(&self) -> &SignerConfig {
        &self.config
    }

    pub fn keys(&self) -> &[ZoneKey] {
        &self.keys
    }

    /// DS rdata (SHA-256) for the parent: one per KSK marked `cds`.
    pub fn ds_rdatas(&self) -> Vec<Vec<u8>> {
        self.keys
            .iter()
            .filter(|k| k.cds && k.key.role() == Role::Ksk)
            .map(|k| k.key.ds_rdata(&self.apex))
            .collect()
    }

    /// Every record of the signed zone: the input, DNSKEY, CDS, CDNSKEY,
    /// NSEC3PARAM, NSEC or NSEC3, and the RRSIGs; names in canonical order.
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for node in self.nodes.values() {
            node_records(node, self.neg_ttl, &mut out);
        }
        for n3 in self.nsec3.values() {
            denied_records(&n3.owner, Rtype::NSEC3, self.neg_ttl, &n3.denied, &mut out);
        }
        out
    }

    /// Number of names (including empty non-terminals) held.
    pub fn name_count(&self) -> usize {
        self.nodes.len()
    }

    /// Ensures a node for `key` and its ancestors; new ones are marked dirty.
    fn ensure_node(&mut self, key: &[u8], owner: &Name, dirty: &mut BTreeMap<Box<[u8]>, Name>) {
        if self.nodes.contains_key(key) {
            return;
        }
        // Find the nearest existing ancestor, then create downward.
        let mut chain: Vec<(Box<[u8]>, Name)> = vec![(key.into(), owner.to_lowercase())];
        loop {
            let (k, n) = chain.last().expect("chain starts non-empty");
            let (Some(pk), Some(pn)) = (parent_key(k), n.parent()) else {
                break;
            };
            if self.nodes.contains_key(pk) {
                break;
            }
            let pk: Box<[u8]> = pk.into();
            chain.push((pk, pn));
        }
        while let Some((k, n)) = chain.pop() {
            let pflags = match parent_key(&k).and_then(|pk| self.nodes.get_mut(pk)) {
                Some(p) => {
                    p.children += 1;
                    p.flags
                }
                None => 0,
            };
            dirty.insert(k.clone(), n.clone());
            self.nodes.insert(
                k,
                Node {
                    owner: n,
                    sets: Vec::new(),
                    children: 0,
                    flags: child_flags(pflags, false),
                    nsec: None,
                },
            );
        }
    }

    /// Removes a node that no longer exists, and ancestors left empty.
    fn prune(&mut self, key: &[u8], dirty: &mut BTreeMap<Box<[u8]>, Name>, out: &mut Diff) {
        let mut key: Box<[u8]> = key.into();
        loop {
            let Some(node) = self.nodes.get(&key) else { return };
            if node.exists() {
                return;
            }
            let node = self.nodes.remove(&key).expect("just seen");
            if let Some(d) = &node.nsec {
                denied_records(&node.owner, Rtype::NSEC, self.neg_ttl, d, &mut out.remove);
            }
            dirty.insert(key.clone(), node.owner);
            let Some(pk) = parent_key(&key).map(Box::<[u8]>::from) else {
                return;
            };
            if let Some(p) = self.nodes.get_mut(&pk) {
                p.children = p.children.saturating_sub(1);
            }
            key = pk;
        }
    }

    /// Recomputes flags of `key` and its descendants after its NS changed.
    fn reflag_subtree(&mut self, key: &[u8], dirty: &mut BTreeMap<Box<[u8]>, Name>) {
        let pflags = parent_key(key).and_then(|pk| self.nodes.get(pk)).map_or(0, |p| p.flags);
        let mut stack: Vec<(Box<[u8]>, u8)> = Vec::new();
        let apex_key = self.apex_key.clone();
        for (k, node) in self
            .nodes
            .range_mut::<[u8], _>((std::ops::Bound::Included(key), std::ops::Bound::Unbounded))
        {
            if !k.starts_with(key) {
                break;
            }
            while stack.last().is_some_and(|(sk, _)| !k.starts_with(sk)) {
                stack.pop();
            }
            let pf = stack.last().map_or(pflags, |s| s.1);
            let f = if **k == *apex_key {
                APEX
            } else {
                child_flags(pf, node.set(Rtype::NS).is_some())
            };
            if f != node.flags {
                node.flags = f;
                dirty.insert(k.clone(), node.owner.clone());
            }
            stack.push((k.clone(), f));
        }
    }

    /// Replaces one RRset's records (empty removes it) without signing.
    fn put_set(&mut self, key: &[u8], rtype: Rtype, ttl: u32, rdatas: Vec<Vec<u8>>, out: &mut Diff) {
        let Some(node) = self.nodes.get_mut(key) else { return };
        if let Some(i) = node.sets.iter().position(|s| s.rtype == rtype) {
            let old = node.sets.remove(i);
            set_records(&node.owner, &old, &mut out.remove);
        }
        if !rdatas.is_empty() {
            let at = node.sets.partition_point(|s| s.rtype < rtype);
            node.sets.insert(
                at,
                Set {
                    rtype,
                    ttl,
                    rdatas,
                    sigs: Vec::new(),
                },
            );
            let s = &node.sets[at];
            for r in &s.rdatas {
                out.add.push(Record::new(&node.owner, rtype, ttl, r.clone()));
            }
        }
    }

    /// DNSKEY, CDS, CDNSKEY and NSEC3PARAM at the apex, from the keys and
    /// the settings (left unsigned: the caller signs).
    fn install_signer_sets(&mut self, out: &mut Diff) {
        let ttl = self.config.dnskey_ttl;
        let apex_key = self.apex_key.clone();
        let mut dnskey = Vec::new();
        let mut cds = Vec::new();
        let mut cdnskey = Vec::new();
        for k in &self.keys {
            if k.publish {
                push_unique(&mut dnskey, Rtype::DNSKEY, k.key.dnskey_rdata());
            }
            if k.cds && k.publish && self.config.publish_cds {
                push_unique(&mut cds, Rtype::CDS, &k.key.ds_rdata(&self.apex));
                push_unique(&mut cdnskey, Rtype::CDNSKEY, k.key.dnskey_rdata());
            }
        }
        if self.config.cds_delete && self.config.publish_cds {
            cds = vec![CDS_DELETE.to_vec()];
            cdnskey = vec![CDNSKEY_DELETE.to_vec()];
        }
        let param = match &self.config.denial {
            Denial::Nsec => Vec::new(),
            Denial::Nsec3 { iterations, salt } => vec![nsec3param_rdata(*iterations, salt)],
        };
        for (t, want) in [
            (Rtype::DNSKEY, dnskey),
            (Rtype::CDS, cds),
            (Rtype::CDNSKEY, cdnskey),
            (Rtype::NSEC3PARAM, param),
        ] {
            let same = self
                .nodes
                .get(&apex_key)
                .and_then(|n| n.set(t))
                .is_some_and(|s| s.ttl == ttl && s.rdatas == want)
                || (want.is_empty() && self.nodes.get(&apex_key).is_some_and(|n| n.set(t).is_none()));
            if !same {
                self.put_set(&apex_key, t, ttl, want, out);
            }
        }
    }

    /// Builds the whole NSEC or NSEC3 chain and signs it.
    fn build_chain(&mut self, now: u64) -> Result<(), SignError> {
        let neg_ttl = self.neg_ttl;
        match self.config.denial.clone() {
            Denial::Nsec => {
                let members: Vec<Box<[u8]>> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| nsec_member(n))
                    .map(|(k, _)| k.clone())
                    .collect();
                for (i, k) in members.iter().enumerate() {
                    let next_key = &members[(i + 1) % members.len()];
                    let next = self.nodes[next_key].owner.clone();
                    let node = self.nodes.get_mut(k).expect("member exists");
                    node.nsec = Some(Denied {
                        rdata: nsec_rdata(&next, node),
                        sigs: Vec::new(),
                    });
                }
                let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
                let mut jobs: Vec<(&Name, &mut Denied)> = self
                    .nodes
                    .values_mut()
                    .filter_map(|n| {
                        let Node { owner, nsec, .. } = n;
                        nsec.as_mut().map(|d| (&*owner, d))
                    })
                    .collect();
                par_each(&mut jobs, |(owner, d)| {
                    d.sigs = ctx.sign(owner, Rtype::NSEC, neg_ttl, std::slice::from_ref(&d.rdata))?;
                    Ok(())
                })?;
            }
            Denial::Nsec3 { iterations, salt } => {
                let mut chain: BTreeMap<[u8; 20], N3> = BTreeMap::new();
                for (k, n) in &self.nodes {
                    if !nsec3_member(n) {
                        continue;
                    }
                    let h = nsec3_hash(&n.owner, &salt, iterations);
                    let owner = nsec3_owner(&h, &self.apex).ok_or(SignError::OutOfZone(n.owner.to_string()))?;
                    if let Some(other) = chain.get(&h) {
                        return Err(SignError::Nsec3Collision(
                            n.owner.to_string(),
                            format!("{:?}", other.name_key),
                        ));
                    }
                    chain.insert(
                        h,
                        N3 {
                            name_key: k.clone(),
                            owner,
                            denied: Denied {
                                rdata: Vec::new(),
                                sigs: Vec::new(),
                            },
                        },
                    );
                }
                let hashes: Vec<[u8; 20]> = chain.keys().copied().collect();
                for (i, h) in hashes.iter().enumerate() {
                    let next = hashes[(i + 1) % hashes.len()];
                    let e = chain.get_mut(h).expect("hash present");
                    let node = &self.nodes[&e.name_key];
                    e.denied.rdata = nsec3_rdata(iterations, &salt, &next, node);
                }
                self.nsec3 = chain;
                let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
                let mut jobs: Vec<&mut N3> = self.nsec3.values_mut().collect();
                par_each(&mut jobs, |e| {
                    e.denied.sigs = ctx.sign(&e.owner, Rtype::NSEC3, neg_ttl, std::slice::from_ref(&e.denied.rdata))?;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// Applies a commit's RRsets (each the RRset's records after the commit;
    /// empty removes it) and returns the records to remove from and add to
    /// the signed zone. Only the changed RRsets are signed again, and only
    /// the denial records of names that appeared, disappeared or changed
    /// types, and of their predecessors in the chain, are remade. A change
    /// that fails validation changes nothing.
    pub fn apply(&mut self, changes: &[RrsetChange], now: u64) -> Result<Diff, SignError> {
        for c in changes {
            self.check_change(&c.owner, c.rtype)?;
            if c.records
                .iter()
                .any(|r| r.rtype != c.rtype || !r.owner.eq_ignore_case(&c.owner))
            {
                return Err(SignError::Mismatch(format!("{} {}", c.owner, c.rtype)));
            }
            if c.rtype == Rtype::SOA && c.owner.eq_ignore_case(&self.apex) && c.records.is_empty() {
                return Err(SignError::NoSoa);
            }
        }
        let mut out = Diff::default();
        let mut dirty: BTreeMap<Box<[u8]>, Name> = BTreeMap::new();
        let mut soa_changed = false;
        for c in changes {
            let key: Box<[u8]> = canonical_key(&c.owner).into();
            let mut rdatas = Vec::new();
            for r in &c.records {
                push_unique(&mut rdatas, c.rtype, &r.rdata);
            }
            let ttl = c.records.last().map_or(0, |r| r.ttl);
            if rdatas.is_empty() && !self.nodes.contains_key(&key) {
                continue;
            }
            self.ensure_node(&key, &c.owner, &mut dirty);
            self.put_set(&key, c.rtype, ttl, rdatas, &mut out);
            let owner = self
                .nodes
                .get(&key)
                .map_or_else(|| c.owner.to_lowercase(), |n| n.owner.clone());
            dirty.insert(key.clone(), owner);
            if c.rtype == Rtype::NS && key != self.apex_key {
                self.reflag_subtree(&key, &mut dirty);
            }
            soa_changed |= c.rtype == Rtype::SOA && key == self.apex_key;
            self.prune(&key, &mut dirty, &mut out);
        }
        let old_neg = self.neg_ttl;
        if soa_changed {
            self.neg_ttl = self.negative_ttl()?;
        }
        // Sign what changed or became authoritative; unsign what stopped being.
        {
            let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
            for key in dirty.keys() {
                let Some(node) = self.nodes.get_mut(key) else { continue };
                let want: Vec<bool> = node.sets.iter().map(|s| node.signs(s.rtype)).collect();
                let Node { owner, sets, .. } = node;
                for (s, yes) in sets.iter_mut().zip(want) {
                    if yes && s.sigs.is_empty() {
                        s.sigs = ctx.sign(owner, s.rtype, s.ttl, &s.rdatas)?;
                        sig_records(owner, s.rtype, s.ttl, &s.sigs, &mut out.add);
                    } else if !yes && !s.sigs.is_empty() {
                        sig_records(owner, s.rtype, s.ttl, &s.sigs, &mut out.remove);
                        s.sigs.clear();
                    }
                }
            }
        }
        if old_neg != self.neg_ttl {
            // Every denial record carries the negative TTL: remake them all
            // (rare: the SOA's TTL or MINIMUM changed).
            self.rechain_all(old_neg, now, &mut out)?;
        } else {
            self.repair_chain(&dirty, now, &mut out)?;
        }
        Ok(out.net())
    }

    /// Drops and rebuilds the whole chain, recording the difference.
    fn rechain_all(&mut self, old_ttl: u32, now: u64, out: &mut Diff) -> Result<(), SignError> {
        for n in self.nodes.values_mut() {
            if let Some(d) = n.nsec.take() {
                denied_records(&n.owner, Rtype::NSEC, old_ttl, &d, &mut out.remove);
            }
        }
        for e in std::mem::take(&mut self.nsec3).values() {
            denied_records(&e.owner, Rtype::NSEC3, old_ttl, &e.denied, &mut out.remove);
        }
        self.build_chain(now)?;
        for n in self.nodes.values() {
            if let Some(d) = &n.nsec {
                denied_records(&n.owner, Rtype::NSEC, self.neg_ttl, d, &mut out.add);
            }
        }
        for e in self.nsec3.values() {
            denied_records(&e.owner, Rtype::NSEC3, self.neg_ttl, &e.denied, &mut out.add);
        }
        Ok(())
    }

    /// Repairs the chain around the dirty names (see [`SignedZone::apply`]).
    fn repair_chain(&mut self, dirty: &BTreeMap<Box<[u8]>, Name>, now: u64, out: &mut Diff) -> Result<(), SignError> {
        match self.config.denial.clone() {
            Denial::Nsec => {
                let mut fix: BTreeSet<Box<[u8]>> = BTreeSet::new();
                for key in dirty.keys() {
                    let (was, is) = match self.nodes.get(key) {
                        Some(n) => (n.nsec.is_some(), nsec_member(n)),
                        None => (true, false),
                    };
                    if self.nodes.contains_key(key) {
                        fix.insert(key.clone());
                    }
                    if was != is {
                        if let Some(p) = self.pred_member(key) {
                            fix.insert(p);
                        }
                    }
                }
                for key in fix {
                    let want = match self.nodes.get(&key) {
                        None => continue,
                        Some(n) if !nsec_member(n) => None,
                        Some(n) => {
                            let next = self.next_member(&key);
                            Some(nsec_rdata(&next, n))
                        }
                    };
                    let neg_ttl = self.neg_ttl;
                    let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
                    let node = self.nodes.get(&key).expect("checked above");
                    if node.nsec.as_ref().map(|d| &d.rdata) == want.as_ref() {
                        continue;
                    }
                    let new = match want {
                        Some(rdata) => {
                            let sigs = ctx.sign(&node.owner, Rtype::NSEC, neg_ttl, std::slice::from_ref(&rdata))?;
                            Some(Denied { rdata, sigs })
                        }
                        None => None,
                    };
                    drop(ctx);
                    let node = self.nodes.get_mut(&key).expect("checked above");
                    if let Some(old) = node.nsec.take() {
                        denied_records(&node.owner, Rtype::NSEC, neg_ttl, &old, &mut out.remove);
                    }
                    if let Some(d) = &new {
                        denied_records(&node.owner, Rtype::NSEC, neg_ttl, d, &mut out.add);
                    }
                    node.nsec = new;
                }
            }
            Denial::Nsec3 { iterations, salt } => {
                let mut fix: BTreeSet<[u8; 20]> = BTreeSet::new();
                for (key, name) in dirty {
                    let h = nsec3_hash(name, &salt, iterations);
                    let is = self.nodes.get(key).is_some_and(nsec3_member);
                    let was = match self.nsec3.get(&h) {
                        Some(e) if *e.name_key != **key => {
                            return Err(SignError::Nsec3Collision(name.to_string(), format!("{:?}", e.name_key)));
                        }
                        Some(_) => true,
                        None => false,
                    };
                    if is && !was {
                        let owner = nsec3_owner(&h, &self.apex).ok_or(SignError::OutOfZone(name.to_string()))?;
                        self.nsec3.insert(
                            h,
                            N3 {
                                name_key: key.clone(),
                                owner,
                                denied: Denied {
                                    rdata: Vec::new(),
                                    sigs: Vec::new(),
                                },
                            },
                        );
                        fix.insert(h);
                        fix.insert(self.pred_hash(&h));
                    } else if !is && was {
                        if let Some(e) = self.nsec3.remove(&h) {
                            denied_records(&e.owner, Rtype::NSEC3, self.neg_ttl, &e.denied, &mut out.remove);
                        }
                        if !self.nsec3.is_empty() {
                            fix.insert(self.pred_hash(&h));
                        }
                    } else if is {
                        fix.insert(h);
                    }
                }
                let neg_ttl = self.neg_ttl;
                for h in fix {
                    let Some(e) = self.nsec3.get(&h) else { continue };
                    let Some(node) = self.nodes.get(&e.name_key) else {
                        continue;
                    };
                    let next = self.succ_hash(&h);
                    let rdata = nsec3_rdata(iterations, &salt, &next, node);
                    if rdata == e.denied.rdata {
                        continue;
                    }
                    let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
                    let sigs = ctx.sign(&e.owner, Rtype::NSEC3, neg_ttl, std::slice::from_ref(&rdata))?;
                    drop(ctx);
                    let e = self.nsec3.get_mut(&h).expect("checked above");
                    if !e.denied.rdata.is_empty() {
                        denied_records(&e.owner, Rtype::NSEC3, neg_ttl, &e.denied, &mut out.remove);
                    }
                    e.denied = Denied { rdata, sigs };
                    denied_records(&e.owner, Rtype::NSEC3, neg_ttl, &e.denied, &mut out.add);
                }
            }
        }
        Ok(())
    }

    /// The NSEC chain member before `key` (a key that may no longer exist).
    fn pred_member(&self, key: &[u8]) -> Option<Box<[u8]>> {
        self.nodes
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Excluded(key)))
            .rev()
            .find(|(_, n)| nsec_member(n))
            .map(|(k, _)| k.clone())
    }

    /// The owner of the NSEC chain member after `key`, wrapping to the apex.
    fn next_member(&self, key: &[u8]) -> Name {
        self.nodes
            .range::<[u8], _>((std::ops::Bound::Excluded(key), std::ops::Bound::Unbounded))
            .find(|(_, n)| nsec_member(n))
            .map_or_else(|| self.apex.clone(), |(_, n)| n.owner.clone())
    }

    fn pred_hash(&self, h: &[u8; 20]) -> [u8; 20] {
        self.nsec3
            .range(..*h)
            .next_back()
            .or_else(|| self.nsec3.iter().next_back())
            .map_or(*h, |(k, _)| *k)
    }

    fn succ_hash(&self, h: &[u8; 20]) -> [u8; 20] {
        use std::ops::Bound::{Excluded, Unbounded};
        self.nsec3
            .range((Excluded(*h), Unbounded))
            .next()
            .or_else(|| self.nsec3.iter().next())
            .map_or(*h, |(k, _)| *k)
    }

    /// Do signatures made before `now` expire within the refresh window?
    fn due(&self, now: u64) -> impl Fn(&[Vec<u8>]) -> bool {
        let limit = (now + self.config.refresh as u64) as u32;
        move |sigs: &[Vec<u8>]| sigs.iter().any(|s| crate::canon::serial_le(expiration_of(s), limit))
    }

    /// Would [`SignedZone::refresh`] re-sign anything at `now`? A scan, no
    /// signing: the caller gives the zone a new serial first, so that the
    /// refreshed signatures reach secondaries.
    pub fn refresh_due(&self, now: u64) -> bool {
        let due = self.due(now);
        self.nodes
            .values()
            .any(|n| n.sets.iter().any(|s| due(&s.sigs)) || n.nsec.as_ref().is_some_and(|d| due(&d.sigs)))
            || self.nsec3.values().any(|e| due(&e.denied.sigs))
    }

    /// When [`SignedZone::refresh_due`] first holds (unix seconds): the
    /// earliest signature expiration, less the refresh window, read from
    /// `now` in RFC 4034 §3.1.5's serial arithmetic; `now` when that has
    /// passed; `None` for a zone with no signature. A scan, no signing: a
    /// maintenance loop sleeps until then instead of asking every round.
    pub fn next_refresh(&self, now: u64) -> Option<u64> {
        let sets = self
            .nodes
            .values()
            .flat_map(|n| n.sets.iter().map(|s| &s.sigs).chain(n.nsec.as_ref().map(|d| &d.sigs)));
        let earliest = sets
            .chain(self.nsec3.values().map(|e| &e.denied.sigs))
            .flatten()
            // The distance from now to the expiration, within ±2^31 s.
            .map(|sig| i64::from(expiration_of(sig).wrapping_sub(now as u32) as i32))
            .min()?;
        let due = now as i64 + earliest - self.config.refresh as i64;
        Some(due.max(now as i64) as u64)
    }

    /// Re-signs every signature that expires within the refresh window of
    /// `now` (RFC 6781 §4.4.2: signatures are renewed well before they
    /// expire). Cost: a scan of the zone, plus the re-signed RRsets.
    pub fn refresh(&mut self, now: u64) -> Result<Diff, SignError> {
        let due = self.due(now);
        let mut out = Diff::default();
        let neg_ttl = self.neg_ttl;
        let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
        for node in self.nodes.values_mut() {
            let Node { owner, sets, nsec, .. } = node;
            for s in sets.iter_mut().filter(|s| due(&s.sigs)) {
                sig_records(owner, s.rtype, s.ttl, &s.sigs, &mut out.remove);
                s.sigs = ctx.sign(owner, s.rtype, s.ttl, &s.rdatas)?;
                sig_records(owner, s.rtype, s.ttl, &s.sigs, &mut out.add);
            }
            if let Some(d) = nsec.as_mut().filter(|d| due(&d.sigs)) {
                sig_records(owner, Rtype::NSEC, neg_ttl, &d.sigs, &mut out.remove);
                d.sigs = ctx.sign(owner, Rtype::NSEC, neg_ttl, std::slice::from_ref(&d.rdata))?;
                sig_records(owner, Rtype::NSEC, neg_ttl, &d.sigs, &mut out.add);
            }
        }
        for e in self.nsec3.values_mut().filter(|e| due(&e.denied.sigs)) {
            sig_records(&e.owner, Rtype::NSEC3, neg_ttl, &e.denied.sigs, &mut out.remove);
            e.denied.sigs = ctx.sign(&e.owner, Rtype::NSEC3, neg_ttl, std::slice::from_ref(&e.denied.rdata))?;
            sig_records(&e.owner, Rtype::NSEC3, neg_ttl, &e.denied.sigs, &mut out.add);
        }
        Ok(out.net())
    }

    /// Changes the keys (a rollover step): DNSKEY, CDS and CDNSKEY follow
    /// the keys' `publish` and `cds`; when the set of signing KSKs changes the
    /// KSK-signed RRsets are signed again, and when the signing ZSKs change,
    /// everything else is (RFC 7583 §3.1.4: a new ZSK signs the whole zone).
    pub fn set_keys(&mut self, keys: Vec<ZoneKey>, now: u64) -> Result<Diff, SignError> {
        check_keys(&keys)?;
        let signing = |ks: &[ZoneKey], role: Role| -> Vec<Vec<u8>> {
            let mut v: Vec<Vec<u8>> = ks
                .iter()
                .filter(|k| k.sign && k.key.role() == role)
                .map(|k| k.key.dnskey_rdata().to_vec())
                .collect();
            v.sort();
            v
        };
        let ksk_changed = signing(&self.keys, Role::Ksk) != signing(&keys, Role::Ksk);
        let zsk_changed = signing(&self.keys, Role::Zsk) != signing(&keys, Role::Zsk);
        self.keys = keys;
        let mut out = Diff::default();
        self.install_signer_sets(&mut out);
        let neg_ttl = self.neg_ttl;
        let ctx = ctx_of(&self.apex, &self.config, &self.keys, now);
        let mut jobs: Vec<(&Name, &mut Set)> = Vec::new();
        for node in self.nodes.values_mut() {
            let want: Vec<bool> = node.sets.iter().map(|s| node.signs(s.rtype)).collect();
            let Node { owner, sets, .. } = node;
            for (s, yes) in sets.iter_mut().zip(want) {
                let redo = if ksk_signed(s.rtype) { ksk_changed } else { zsk_changed };
                if yes && (redo || s.sigs.is_empty()) {
                    sig_records(owner, s.rtype, s.ttl, &s.sigs, &mut out.remove);
                    s.sigs.clear();
                    jobs.push((owner, s));
                }
            }
        }
        par_each(&mut jobs, |(owner, s)| {
            s.sigs = ctx.sign(owner, s.rtype, s.ttl, &s.rdatas)?;
            Ok(())
        })?;
        for (owner, s) in &jobs {
            sig_records(owner, s.rtype, s.ttl, &s.sigs, &mut out.add);
        }
        drop(jobs);
        if zsk_changed {
            let mut dj: Vec<(&Name, Rtype, &mut Denied)> = Vec::new();
            for n in self.nodes.values_mut() {
                let Node { owner, nsec, .. } = n;
                if let Some(d) = nsec.as_mut() {
                    dj.push((owner, Rtype::NSEC, d));
                }
            }
            for e in self.nsec3.values_mut() {
                dj.push((&e.owner, Rtype::NSEC3, &mut e.denied));
            }
            for (owner, t, d) in &dj {
                sig_records(owner, *t, neg_ttl, &d.sigs, &mut out.remove);
            }
            par_each(&mut dj, |(owner, t, d)| {
                d.sigs = ctx.sign(owner, *t, neg_ttl, std::slice::from_ref(&d.rdata))?;
                Ok(())
            })?;
            for (owner, t, d) in &dj {
                sig_records(owner, *t, neg_ttl, &d.sigs, &mut out.add);
            }
        }
        // The apex's NSEC/NSEC3 bit map may have changed (CDS appearing).
        let mut dirty = BTreeMap::new();
        dirty.insert(self.apex_key.clone(), self.apex.clone());
        self.repair_chain(&dirty, now, &mut out)?;
        Ok(out.net())
    }
}

fn check_keys(keys: &[ZoneKey]) -> Result<(), SignError> {
    for role in [Role::Ksk, Role::Zsk] {
        if !keys.iter().any(|k| k.sign && k.publish && k.key.role() == role) {
            return Err(SignError::Keys(format!("no published, signing {role:?}")));
        }
    }
    if keys.iter().any(|k| k.sign && !k.publish) {
        // RFC 4035 §2.1: a signature must be verifiable with a DNSKEY in the zone.
        return Err(SignError::Keys("a signing key must be published".into()));
    }
    Ok(())
}

/// Adds `rdata` unless an RR equal in canonical form is there already
/// (RFC 4034 §6.3: duplicates are removed from a canonical RRset).
fn push_unique(list: &mut Vec<Vec<u8>>, rtype: Rtype, rdata: &[u8]) {
    let c = canonical_rdata(rtype, rdata);
    if !list.iter().any(|r| canonical_rdata(rtype, r) == c) {
        list.push(rdata.to_vec());
    }
}

fn nsec_member(n: &Node) -> bool {
    // RFC 4035 §2.3: every name with authoritative data or a delegation
    // point's NS; not glue, not occluded names, not empty non-terminals.
    n.flags & BELOW_CUT == 0 && !n.sets.is_empty()
}

fn nsec3_member(n: &Node) -> bool {
    // RFC 5155 §7.1: every authoritative name, delegation and empty
    // non-terminal (no opt-out); nothing below a cut.
    n.flags & BELOW_CUT == 0 && n.exists()
}

fn nsec_rdata(next: &Name, node: &Node) -> Vec<u8> {
    let mut types = node.auth_types();
    types.push(Rtype::RRSIG);
    types.push(Rtype::NSEC);
    types.sort();
    types.dedup();
    let mut d = next.as_wire().to_vec();
    d.extend_from_slice(&type_bitmap(&types));
    d
}

fn nsec3param_rdata(iterations: u16, salt: &[u8]) -> Vec<u8> {
    let mut d = vec![1, 0];
    d.extend_from_slice(&iterations.to_be_bytes());
    d.push(salt.len() as u8);
    d.extend_from_slice(salt);
    d
}

fn nsec3_rdata(iterations: u16, salt: &[u8], next: &[u8; 20], node: &Node) -> Vec<u8> {
    let mut types = node.auth_types();
    if node.has_signed_set() {
        types.push(Rtype::RRSIG);
    }
    types.sort();
    types.dedup();
    let mut d = nsec3param_rdata(iterations, salt);
    d.push(20);
    d.extend_from_slice(next);
    d.extend_from_slice(&type_bitmap(&types));
    d
}

fn set_records(owner: &Name, s: &Set, out: &mut Vec<Record>) {
    for r in &s.rdatas {
        out.push(Record::new(owner, s.rtype, s.ttl, r.clone()));
    }
    sig_records(owner, s.rtype, s.ttl, &s.sigs, out);
}

fn sig_records(owner: &Name, _covered: Rtype, ttl: u32, sigs: &[Vec<u8>], out: &mut Vec<Record>) {
    // RFC 4034 §3: an RRSIG's TTL is that of the RRset it covers.
    for s in sigs {
        out.push(Record::new(owner, Rtype::RRSIG, ttl, s.clone()));
    }
}

fn denied_records(owner: &Name, rtype: Rtype, ttl: u32, d: &Denied, out: &mut Vec<Record>) {
    out.push(Record::new(owner, rtype, ttl, d.rdata.clone()));
    sig_records(owner, rtype, ttl, &d.sigs, out);
}

fn node_records(n: &Node, neg_ttl: u32, out: &mut Vec<Record>) {
    for s in &n.sets {
        set_records(&n.owner, s, out);
    }
    if let Some(d) = &n.nsec {
        denied_records(&n.owner, Rtype::NSEC, neg_ttl, d, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Algorithm;

    fn n(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    fn keys() -> Vec<ZoneKey> {
        [Role::Ksk, Role::Zsk]
            .into_iter()
            .map(|r| ZoneKey::active(Arc::new(SigningKey::generate(Algorithm::Ed25519, r).unwrap())))
            .collect()
    }

    fn zone() -> Vec<Record> {
        let apex = n("example.");
        let mut soa = n("ns.example.").as_wire().to_vec();
        soa.extend_from_slice(n("h.example.").as_wire());
        soa.extend_from_slice(&[0; 16]);
        soa.extend_from_slice(&300u32.to_be_bytes());
        vec![
            Record::new(&apex, Rtype::SOA, 3600, soa),
            Record::new(&apex, Rtype::NS, 3600, n("ns.example.").as_wire().to_vec()),
            Record::new(&n("ns.example."), Rtype::A, 3600, vec![192, 0, 2, 1]),
        ]
    }

    #[test]
    fn turning_off_publishes_the_rfc_8078_delete_request() {
        let apex = n("example.");
        let set = |z: &SignedZone, t: Rtype| -> Vec<Vec<u8>> {
            z.records()
                .into_iter()
                .filter(|r| r.rtype == t && r.owner == apex)
                .map(|r| r.rdata)
                .collect()
        };
        let keys = keys();
        let on = SignedZone::sign(&zone(), &apex, keys.clone(), SignerConfig::default(), 1_000_000).unwrap();
        assert_eq!(set(&on, Rtype::CDS), vec![keys[0].key.ds_rdata(&apex)]);
        let config = SignerConfig {
            cds_delete: true,
            ..SignerConfig::default()
        };
        let off = SignedZone::sign(&zone(), &apex, keys.clone(), config, 1_000_000).unwrap();
        assert_eq!(set(&off, Rtype::CDS), vec![vec![0, 0, 0, 0, 0]], "CDS 0 0 0 00");
        assert_eq!(
            set(&off, Rtype::CDNSKEY),
            vec![vec![0, 0, 3, 0, 0]],
            "CDNSKEY 0 3 0 AA=="
        );
        assert_eq!(
            set(&off, Rtype::DNSKEY).len(),
            2,
            "the keys stay published while signing"
        );
        // Both signed by the KSK, like any CDS (RFC 7344 §4.1).
        let sigs = off
            .records()
            .into_iter()
            .filter(|r| r.rtype == Rtype::RRSIG && r.rdata[..2] == Rtype::CDS.0.to_be_bytes())
            .count();
        assert_eq!(sigs, 1);
    }

    #[test]
    fn refuses_bad_input_and_settings() {
        let apex = n("example.");
        let mut bad = zone();
        bad.push(Record::new(
            &n("x.example."),
            Rtype::NSEC,
            300,
            n("example.").as_wire().to_vec(),
        ));
        let e = SignedZone::sign(&bad, &apex, keys(), SignerConfig::default(), 1_000_000).unwrap_err();
        assert!(matches!(e, SignError::SignerOwned(_)));
        let mut out = zone();
        out.push(Record::new(&n("example.net."), Rtype::A, 300, vec![1, 2, 3, 4]));
        assert!(matches!(
            SignedZone::sign(&out, &apex, keys(), SignerConfig::default(), 1_000_000),
            Err(SignError::OutOfZone(_))
        ));
        assert_eq!(
            SignedZone::sign(&zone()[1..], &apex, keys(), SignerConfig::default(), 1_000_000).unwrap_err(),
            SignError::NoSoa
        );
        let only_zsk = keys().into_iter().skip(1).collect();
        assert!(matches!(
            SignedZone::sign(&zone(), &apex, only_zsk, SignerConfig::default(), 1_000_000),
            Err(SignError::Keys(_))
        ));
        let config = SignerConfig {
            denial: Denial::Nsec3 {
                iterations: 0,
                salt: vec![0; 256],
            },
            ..SignerConfig::default()
        };
        assert!(matches!(
            SignedZone::sign(&zone(), &apex, keys(), config, 1_000_000),
            Err(SignError::Config(_))
        ));
        // A failed apply leaves the zone as it was.
        let mut z = SignedZone::sign(&zone(), &apex, keys(), SignerConfig::default(), 1_000_000).unwrap();
        let before = z.records();
        let change = RrsetChange {
            owner: n("a.example."),
            rtype: Rtype::A,
            records: vec![Record::new(&n("b.example."), Rtype::A, 300, vec![1, 2, 3, 4])],
        };
        assert!(matches!(z.apply(&[change], 1_000_100), Err(SignError::Mismatch(_))));
        assert_eq!(z.records(), before);
    }

    #[test]
    fn refresh_resigns_only_what_is_due() {
        let apex = n("example.");
        let config = SignerConfig {
            validity: 1000,
            refresh: 400,
            inception_offset: 10,
            ..SignerConfig::default()
        };
        let mut z = SignedZone::sign(&zone(), &apex, keys(), config, 1_000_000).unwrap();
        assert!(!z.refresh_due(1_000_500));
        assert!(z.refresh(1_000_500).unwrap().is_empty());
        // The first second it is due, said ahead of time.
        let due = z.next_refresh(1_000_500).unwrap();
        assert!(z.refresh_due(due) && !z.refresh_due(due - 1), "{due}");
        assert_eq!(z.next_refresh(due + 50), Some(due + 50), "past due: now");
        assert!(z.refresh_due(1_000_700));
        let d = z.refresh(1_000_700).unwrap();
        assert!(!z.refresh_due(1_000_700), "all made again");
        assert!(z.next_refresh(1_000_700).unwrap() > 1_000_700);
        let sigs = z.records().iter().filter(|r| r.rtype == Rtype::RRSIG).count();
        assert_eq!(d.add.len(), sigs);
        assert!(d.add.iter().all(|r| r.rtype == Rtype::RRSIG));
        crate::verify::verify_zone(&z.records(), &apex, 1_001_500).unwrap();
    }
}
