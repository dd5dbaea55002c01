//! Zone transfers out (issue 8): AXFR (RFC 5936) and IXFR (RFC 1995) over
//! TCP, with TSIG (RFC 8945) and a per-zone ACL of networks and keys.
//!
//! - The ACL ([`Transfers::set_policy`], from the zone's common
//!   configuration's `cc_sec_transfer_acls`): a request is served when its
//!   source address is inside an entry's network and, when the entry names
//!   a key, the request is signed with that key. No entry: no transfer.
//!   Everything else is REFUSED (a bad signature: NOTAUTH with the TSIG
//!   error, RFC 8945 §5.2) and reported as an [`Event`].
//! - IXFR answers from the versions of the zone the node served
//!   ([`Transfers::keep`], the publisher's history of commits): one
//!   condensed difference from the client's serial to the current one
//!   (RFC 1995 §4 allows it). A serial the node no longer keeps, or one
//!   newer than it has, is answered with the whole zone (AXFR form) or the
//!   current SOA alone.
//! - Messages go up to 64 KiB each, names uncompressed, the question in the
//!   first; with TSIG every message is signed, each MAC chained to the one
//!   before (§5.3.1).
//!
//! Transfers are not the query hot path: this module allocates.

use crate::tsig::{self, Key};
use arc_swap::ArcSwap;
use platdns_zone::{Rtype, Serial, Zone};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// An ACL entry: a network, and the key a request must be signed with.
#[derive(Debug, Clone)]
pub struct AclEntry {
    pub network: IpAddr,
    pub prefix: u8,
    /// Lower-cased wire name of the key, if one is required.
    pub key: Option<Vec<u8>>,
}

impl AclEntry {
    pub fn contains(&self, addr: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        // An IPv4-mapped IPv6 peer is its IPv4 address.
        let addr = match addr {
            IpAddr::V6(v) => v.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
            a => a,
        };
        let ((net, width), (a, awidth)) = (bits(self.network), bits(addr));
        if width != awidth {
            return false;
        }
        let prefix = u32::from(self.prefix.min(width));
        if prefix == 0 {
            return true;
        }
        let mask = u128::MAX << (128 - prefix);
        net & mask == a & mask
    }
}

/// A secondary zone's primary: its address, and the key (lower-cased wire
/// name) its NOTIFY must be signed with, if any.
pub type PrimaryEntry = (IpAddr, Option<Vec<u8>>);

/// Who may transfer what, and with which keys.
#[derive(Debug, Default)]
pub struct Policy {
    /// By lower-cased wire apex.
    pub acls: HashMap<Vec<u8>, Vec<AclEntry>>,
    /// Every key an ACL may name.
    pub keys: Vec<Key>,
    /// Secondary zones: who may NOTIFY them (a primary's address, and the
    /// key its messages must carry).
    pub primaries: HashMap<Vec<u8>, Vec<PrimaryEntry>>,
}

/// What happened to a transfer request, for the zone's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The zone's apex, lower-cased wire form.
    pub apex: Vec<u8>,
    pub peer: IpAddr,
    /// `AXFR` or `IXFR`.
    pub kind: &'static str,
    /// `served`, `refused`, or a TSIG failure (`badsig`, `badkey`, `badtime`).
    pub outcome: &'static str,
    /// The serial sent (or asked for, when refused).
    pub serial: u32,
    pub key: Option<String>,
}

/// How many earlier versions of a zone are kept for IXFR.
pub const KEEP_VERSIONS: usize = 16;

/// The node's transfer state.
pub struct Transfers {
    policy: ArcSwap<Policy>,
    versions: Mutex<HashMap<Vec<u8>, VecDeque<Arc<Zone>>>>,
    events: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Event>>>,
}

impl Default for Transfers {
    fn default() -> Self {
        Transfers {
            policy: ArcSwap::from_pointee(Policy::default()),
            versions: Mutex::new(HashMap::new()),
            events: Mutex::new(None),
        }
    }
}

impl Transfers {
    pub fn set_policy(&self, policy: Policy) {
        self.policy.store(Arc::new(policy));
    }

    /// Where events go (the control plane logs them).
    pub fn set_events(&self, tx: tokio::sync::mpsc::UnboundedSender<Event>) {
        *self.events.lock().expect("not poisoned") = Some(tx);
    }

    /// Keeps `zone` (a version just replaced) for IXFR, at most
    /// [`KEEP_VERSIONS`] per zone; a zone withdrawn forgets them.
    pub fn keep(&self, zone: Arc<Zone>) {
        let key = zone.apex().to_lowercase().as_wire().to_vec();
        let mut v = self.versions.lock().expect("not poisoned");
        let list = v.entry(key).or_default();
        if list.back().is_some_and(|z| z.serial() == zone.serial()) {
            list.pop_back();
        }
        list.push_back(zone);
        while list.len() > KEEP_VERSIONS {
            list.pop_front();
        }
        // Versions on the newest base cost only their overlays; a version
        // on an older base holds a whole copy of the zone. Keep the newest
        // base's versions and those of one base before it (IXFR across a
        // compaction), never more copies than that.
        let mut bases: Vec<Arc<Zone>> = Vec::new();
        for z in list.iter().rev() {
            if !bases.iter().any(|b| b.shares_base(z)) {
                bases.push(z.clone());
            }
        }
        if bases.len() > 2 {
            let keep = [bases[0].clone(), bases[1].clone()];
            list.retain(|z| keep.iter().any(|b| b.shares_base(z)));
        }
    }

    pub fn forget(&self, apex_wire_lower: &[u8]) {
        self.versions.lock().expect("not poisoned").remove(apex_wire_lower);
    }

    fn version(&self, apex: &[u8], serial: u32) -> Option<Arc<Zone>> {
        let v = self.versions.lock().expect("not poisoned");
        v.get(apex)?.iter().rev().find(|z| z.serial() == serial).cloned()
    }

    fn report(&self, e: Event) {
        if let Some(tx) = self.events.lock().expect("not poisoned").as_ref() {
            let _ = tx.send(e);
        }
    }

    /// A NOTIFY for a secondary zone (RFC 1996 §3.7): from one of its
    /// primaries (signed with its key, when it has one), answered NOERROR and
    /// reported; from anyone else REFUSED, and NOTAUTH for a zone that is
    /// not a secondary here (as knotd and BIND answer). `None`: not worth an
    /// answer.
    pub fn notify(&self, packet: &[u8], peer: IpAddr) -> Option<Vec<u8>> {
        let q = crate::wire::parse_query(packet).ok()?;
        let now = tsig::unix_now();
        let policy = self.policy.load();
        let apex = q.qname().to_vec();
        let signed = match verify(packet, &q, &policy, now) {
            Ok(signed) => signed,
            Err((m, _)) => return Some(m),
        };
        let key_name = signed.as_ref().map(|(k, _)| k.name.clone());
        let primaries = policy.primaries.get(&apex);
        let allowed = primaries.is_some_and(|ps| {
            ps.iter()
                .any(|(addr, key)| *addr == peer && key.as_ref().is_none_or(|k| Some(k) == key_name.as_ref()))
        });
        let rcode = match (allowed, primaries.is_some()) {
            (true, _) => 0,
            (false, true) => crate::wire::rcode::REFUSED,
            (false, false) => crate::wire::rcode::NOTAUTH,
        };
        let mut m = reply(packet, &q, rcode, &[], 0);
        if allowed {
            m[2] |= 0x04; // AA
        }
        if let Some((k, mac)) = &signed {
            tsig::sign(&mut m, k, Some(mac), false, now, 0);
        }
        self.report(Event {
            apex,
            peer,
            kind: "NOTIFY",
            outcome: if allowed { "received" } else { "refused" },
            serial: 0,
            key: key_name.as_deref().map(wire_to_text),
        });
        Some(m)
    }

    /// Signs the answer (`out[..len]`) to a signed ordinary query (`q` has
    /// a TSIG record), or turns it into NOTAUTH with the TSIG error when the
    /// signature fails (RFC 8945 §5.2). At most `cap` octets; an answer the
    /// signature does not fit is sent truncated (TC), signed. Returns the
    /// new length.
    pub fn sign_answer(&self, packet: &[u8], q: &crate::wire::Query, out: &mut [u8], len: usize, cap: usize) -> usize {
        let now = tsig::unix_now();
        let policy = self.policy.load();
        let (key, mac) = match verify(packet, q, &policy, now) {
            Ok(Some(signed)) => signed,
            // Unsigned after all: the answer stays as it is.
            Ok(None) => return len,
            Err((m, _)) => return write(out, &m),
        };
        let mut m = out[..len].to_vec();
        tsig::sign(&mut m, &key, Some(&mac), false, now, 0);
        if m.len() > cap.min(out.len()) {
            // Header and question only, TC set, then signed.
            m = out[..q.question_end].to_vec();
            m[2] |= 0x02;
            m[6..12].fill(0);
            tsig::sign(&mut m, &key, Some(&mac), false, now, 0);
        }
        write(out, &m)
    }

    /// Whether the transfer `q` asks for is served, in RFC order: the TSIG
    /// (NOTAUTH with its error, RFC 8945 §5.2), the EDNS version (BADVERS,
    /// RFC 6891 §6.1.3), an IXFR's SOA (FORMERR, RFC 1995 §3), a zone served
    /// here (NOTAUTH, RFC 5936 §2.2.1), then the zone's ACL (REFUSED). The
    /// zone, the request's key and MAC and an IXFR's serial, or the reply
    /// that refuses it (signed when the request was; the refusal reported).
    fn admit<'z>(
        &self,
        zone: Option<&'z Arc<Zone>>,
        q: &crate::wire::Query,
        packet: &[u8],
        peer: IpAddr,
        now: u64,
    ) -> Result<Admitted<'z>, Vec<u8>> {
        let kind = kind_of(q);
        let apex = q.qname().to_vec();
        let policy = self.policy.load();
        let report = |outcome: &'static str, key: Option<String>| {
            self.report(Event {
                apex: apex.clone(),
                peer,
                kind,
                outcome,
                serial: 0,
                key,
            })
        };
        // TSIG first: a signed request is verified whatever the ACL.
        let signed = verify(packet, q, &policy, now).map_err(|(m, failure)| {
            report(
                match failure {
                    Some(tsig::Failure::BadKey) => "badkey",
                    Some(tsig::Failure::BadTime) => "badtime",
                    _ => "badsig",
                },
                None,
            );
            m
        })?;
        let key_name = signed.as_ref().map(|(k, _)| k.name.clone());
        let key_text = key_name.as_deref().map(wire_to_text);
        let refuse = |rcode: u16| {
            let mut m = reply(packet, q, rcode, &[], 0);
            if let Some((k, mac)) = &signed {
                tsig::sign(&mut m, k, Some(mac), false, now, 0);
            }
            m
        };
        if q.edns.is_some_and(|e| e.version != 0) {
            return Err(refuse(crate::wire::rcode::BADVERS));
        }
        let theirs = match q.qtype {
            Rtype::IXFR => Some(ixfr_serial(packet, q).ok_or_else(|| refuse(crate::wire::rcode::FORMERR))?),
            _ => None,
        };
        let Some(zone) = zone else {
            report("refused", key_text);
            return Err(refuse(crate::wire::rcode::NOTAUTH));
        };
        let allowed = policy.acls.get(&apex).is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e.contains(peer) && e.key.as_ref().is_none_or(|k| Some(k) == key_name.as_ref()))
        });
        if !allowed {
            report("refused", key_text);
            return Err(refuse(crate::wire::rcode::REFUSED));
        }
        Ok(Admitted { zone, signed, theirs })
    }

    /// Answers a transfer request over TCP (`q`: the whole query message,
    /// parsed): each message to send goes to `emit` in order, as soon as it
    /// is packed, so the caller sends while the rest is packed (knotd
    /// streams too; bench/xfr.sh). `now`: unix seconds.
    pub fn answer(
        &self,
        zone: Option<&Arc<Zone>>,
        q: &crate::wire::Query,
        packet: &[u8],
        peer: IpAddr,
        now: u64,
        emit: &mut dyn FnMut(Vec<u8>),
    ) {
        let Admitted { zone, signed, theirs } = match self.admit(zone, q, packet, peer, now) {
            Ok(admitted) => admitted,
            Err(m) => return emit(m),
        };
        let apex = q.qname().to_vec();
        let key_text = signed.as_ref().map(|(k, _)| wire_to_text(&k.name));
        let mut p = Packer::new(packet, q, signed.as_ref(), now, emit);
        let diff = match theirs {
            Some(theirs) if Serial(theirs).at_or_after(Serial(zone.serial())) => {
                // Up to date (or ahead): the current SOA alone (RFC 1995 §2).
                Some(current_soa(zone).into_iter().collect())
            }
            Some(theirs) => self.version(&apex, theirs).and_then(|old| ixfr_records(&old, zone)),
            None => None,
        };
        match diff {
            Some(records) => {
                for r in &records {
                    p.push(r.owner.as_wire(), r.rtype, r.ttl, &r.rdata);
                }
            }
            // AXFR, or an IXFR from a serial no longer held: the whole
            // zone, packed as it is read.
            None => for_each_axfr_record(zone, |owner, rtype, ttl, rdata| p.push(owner, rtype, ttl, rdata)),
        }
        p.finish();
        self.report(Event {
            apex,
            peer,
            kind: kind_of(q),
            outcome: "served",
            serial: zone.serial(),
            key: key_text,
        });
    }

    /// Answers an IXFR over UDP (RFC 1995 §2) after the same checks as over
    /// TCP: the current SOA alone. It tells a client that is up to date
    /// so, and one that is not to ask again over TCP (what §2 answers when
    /// the difference does not fit a datagram; we never try to fit it).
    pub fn answer_udp(
        &self,
        zone: Option<&Arc<Zone>>,
        q: &crate::wire::Query,
        packet: &[u8],
        peer: IpAddr,
        now: u64,
    ) -> Vec<u8> {
        if q.qtype != Rtype::IXFR {
            // AXFR is TCP only (RFC 5936 §4.2).
            return reply(packet, q, crate::wire::rcode::NOTIMP, &[], 0);
        }
        let Admitted { zone, signed, .. } = match self.admit(zone, q, packet, peer, now) {
            Ok(admitted) => admitted,
            Err(m) => return m,
        };
        let mut soa = Vec::new();
        if let Some(r) = current_soa(zone) {
            r.write_wire(&mut soa);
        }
        let mut m = reply(packet, q, 0, &soa, 1);
        m[2] |= 0x04; // AA
        if let Some((k, mac)) = &signed {
            tsig::sign(&mut m, k, Some(mac), false, now, 0);
        }
        self.report(Event {
            apex: q.qname().to_vec(),
            peer,
            kind: "IXFR",
            outcome: "served",
            serial: zone.serial(),
            key: signed.as_ref().map(|(k, _)| wire_to_text(&k.name)),
        });
        m
    }
}

/// The zone's SOA record, read at the apex alone (`Zone::records` would
/// copy out the whole zone).
fn current_soa(zone: &Zone) -> Option<Rr> {
    let apex = zone.apex().to_lowercase().as_wire().to_vec();
    zone.records_at(&apex).into_iter().find(|r| r.rtype == Rtype::SOA)
}

/// A verified request's key, and its MAC (which the reply's MAC covers).
type Signed = Option<(Key, Vec<u8>)>;

/// A transfer request [`Transfers::admit`] lets through.
struct Admitted<'z> {
    zone: &'z Arc<Zone>,
    signed: Signed,
    /// An IXFR's serial (the client's version); `None` for AXFR.
    theirs: Option<u32>,
}

/// `AXFR` or `IXFR`, for the zone's log.
fn kind_of(q: &crate::wire::Query) -> &'static str {
    if q.qtype == Rtype::AXFR {
        "AXFR"
    } else {
        "IXFR"
    }
}

/// Verifies the request's TSIG, if it has one (RFC 8945 §5.2). A failure
/// gives the reply to send (FORMERR for a record that does not parse,
/// else NOTAUTH with the TSIG error, [`tsig::append_failure`]) and why.
fn verify(
    packet: &[u8],
    q: &crate::wire::Query,
    policy: &Policy,
    now: u64,
) -> Result<Signed, (Vec<u8>, Option<tsig::Failure>)> {
    let Some(at) = q.tsig_at else {
        return Ok(None);
    };
    let Some(r) = tsig::parse(packet, at) else {
        return Err((reply(packet, q, crate::wire::rcode::FORMERR, &[], 0), None));
    };
    match tsig::verify_request(packet, &r, &policy.keys, now) {
        Ok(k) => Ok(Some((k.clone(), r.mac.clone()))),
        Err(f) => {
            let mut m = reply(packet, q, crate::wire::rcode::NOTAUTH, &[], 0);
            tsig::append_failure(&mut m, &r, &policy.keys, f, now);
            Err((m, Some(f)))
        }
    }
}

/// A wire name as text, for logs.
fn wire_to_text(w: &[u8]) -> String {
    platdns_zone::Name::from_wire(w)
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// The client's serial: the zone's SOA in the authority section of an IXFR
/// query (RFC 1995 §3); an SOA of another name is not it.
fn ixfr_serial(packet: &[u8], q: &crate::wire::Query) -> Option<u32> {
    let mut at = q.question_end;
    let an = u16::from_be_bytes([packet[6], packet[7]]);
    let ns = u16::from_be_bytes([packet[8], packet[9]]);
    for i in 0..(u32::from(an) + u32::from(ns)) {
        let owner = at;
        at = crate::wire::skip_name(packet, at)?;
        let rtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
        let rdlen = u16::from_be_bytes([*packet.get(at + 8)?, *packet.get(at + 9)?]) as usize;
        let rd = at + 10;
        if rtype == Rtype::SOA.0 && i >= u32::from(an) && crate::wire::name_eq(packet, owner, q.qname()) {
            // MNAME and RNAME may be compressed; the serial follows them.
            let mut p = crate::wire::skip_name(packet, rd)?;
            p = crate::wire::skip_name(packet, p)?;
            return Some(u32::from_be_bytes(packet.get(p..p + 4)?.try_into().ok()?));
        }
        at = rd + rdlen;
    }
    None
}

type Rr = platdns_zone::zonefile::Record;

/// AXFR (RFC 5936 §2.2): SOA, every other record, SOA; each to `f`.
fn for_each_axfr_record(zone: &Zone, mut f: impl FnMut(&[u8], Rtype, u32, &[u8])) {
    let mut soa: Option<(Vec<u8>, u32, Vec<u8>)> = None;
    zone.for_each_record_apex_first(|owner, rtype, ttl, rdata| {
        if rtype == Rtype::SOA && soa.is_none() {
            soa = Some((owner.to_vec(), ttl, rdata.to_vec()));
        }
        f(owner, rtype, ttl, rdata);
    });
    if let Some((owner, ttl, rdata)) = soa {
        f(&owner, Rtype::SOA, ttl, &rdata);
    }
}

/// One condensed IXFR difference (RFC 1995 §4): new SOA, old SOA, what the
/// new version no longer has, new SOA, what it added, new SOA. `None`: send
/// the whole zone (AXFR form, which §4 allows) instead.
///
/// Versions on one base differ only at the names in their overlays, so
/// only those are compared (a one-record commit in a million-record zone
/// compares a handful of names, bench/xfr.sh). Across a full build (an
/// `atomic_changes` replacement, a compaction) every record is compared,
/// [`ixfr_records_across_builds`].
fn ixfr_records(old: &Zone, new: &Zone) -> Option<Vec<Rr>> {
    let (old_soa, new_soa) = (current_soa(old)?, current_soa(new)?);
    let (deleted, added) = match new.names_changed_since(old) {
        Some(names) => {
            let mut deleted = Vec::new();
            let mut added = Vec::new();
            for name in &names {
                let before: Vec<Rr> = old
                    .records_at(name)
                    .into_iter()
                    .filter(|r| r.rtype != Rtype::SOA)
                    .collect();
                let after: Vec<Rr> = new
                    .records_at(name)
                    .into_iter()
                    .filter(|r| r.rtype != Rtype::SOA)
                    .collect();
                let before_keys: std::collections::HashSet<_> = before.iter().map(rr_key).collect();
                let after_keys: std::collections::HashSet<_> = after.iter().map(rr_key).collect();
                deleted.extend(before.into_iter().filter(|r| !after_keys.contains(&rr_key(r))));
                added.extend(after.into_iter().filter(|r| !before_keys.contains(&rr_key(r))));
            }
            (deleted, added)
        }
        None => ixfr_records_across_builds(old, new)?,
    };
    let mut out = vec![new_soa.clone(), old_soa];
    out.extend(deleted);
    out.push(new_soa.clone());
    out.extend(added);
    out.push(new_soa);
    Some(out)
}

/// What `old` has and `new` does not, and what `new` added, for versions
/// with no base in common. Each record is known by a 128-bit hash under
/// two keys drawn for this call (no one can aim at a collision, and by
/// chance one is about 2^-88 likely in a million-record zone). Each version
/// is read twice and each record hashed once; a set of the hashes per
/// version (already random: a pass-through hasher) is all the memory, about
/// 40 MB for a million records each, where two copies of the zone would be
/// gigabytes. A million records take 0.37 s of server CPU (bench/xfr.sh;
/// 2.3 s while each record was hashed twice and each set hashed its keys
/// again). `None` when the difference has more records than the new zone:
/// the whole zone is the smaller answer.
fn ixfr_records_across_builds(old: &Zone, new: &Zone) -> Option<(Vec<Rr>, Vec<Rr>)> {
    use std::hash::{BuildHasher, Hasher};
    let keys = (std::hash::RandomState::new(), std::hash::RandomState::new());
    let id = |owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8]| -> u128 {
        let mut h = (keys.0.build_hasher(), keys.1.build_hasher());
        for h in [&mut h.0, &mut h.1] {
            h.write(owner);
            h.write_u16(rtype.0);
            h.write_u32(ttl);
            h.write(rdata);
        }
        u128::from(h.0.finish()) << 64 | u128::from(h.1.finish())
    };
    // Each version's record hashes in reading order, and as a set. The
    // owners come lower-cased from the arena; the SOA is the answer's frame.
    let ids = |z: &Zone| {
        let mut order = Vec::with_capacity(z.record_count());
        z.for_each_record_apex_first(|owner, rtype, ttl, rdata| {
            if rtype != Rtype::SOA {
                order.push(id(owner, rtype, ttl, rdata));
            }
        });
        let set: std::collections::HashSet<u128, PassThrough> = order.iter().copied().collect();
        (order, set)
    };
    let ((old_order, old_set), (new_order, new_set)) = (ids(old), ids(new));
    let gone: Vec<bool> = old_order.iter().map(|i| !new_set.contains(i)).collect();
    let came: Vec<bool> = new_order.iter().map(|i| !old_set.contains(i)).collect();
    let changed = gone.iter().chain(&came).filter(|&&c| c).count();
    if changed > new.record_count() {
        return None;
    }
    // The second reading meets the records in the first one's order.
    let pick = |z: &Zone, wanted: &[bool]| {
        let (mut out, mut at) = (Vec::new(), 0);
        z.for_each_record_apex_first(|owner, rtype, ttl, rdata| {
            if rtype == Rtype::SOA {
                return;
            }
            if wanted[at] {
                out.push(Rr {
                    owner: platdns_zone::Name::from_wire(owner).expect("arena names are valid"),
                    ttl,
                    class: platdns_zone::Class::IN,
                    rtype,
                    rdata: rdata.to_vec(),
                    pos: Default::default(),
                });
            }
            at += 1;
        });
        out
    };
    Some((pick(old, &gone), pick(new, &came)))
}

/// Hashes a `u128` that is already a keyed hash by taking its low half
/// (SipHash over it again would cost as much as the record's own hash).
#[derive(Default, Clone, Copy)]
struct PassThrough;

impl std::hash::BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys come here (`write_u128`); any other input is
        // folded in, still correct, only slower to tell apart.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// What makes two records the same for a difference.
fn rr_key(r: &Rr) -> (Vec<u8>, u16, u32, Vec<u8>) {
    (
        r.owner.to_lowercase().as_wire().to_vec(),
        r.rtype.0,
        r.ttl,
        r.rdata.clone(),
    )
}

/// The difference over every record: what the overlay difference must
/// equal (tests).
#[cfg(test)]
fn ixfr_records_whole(old: &Zone, new: &Zone) -> Vec<Rr> {
    let key = |r: &Rr| {
        (
            r.owner.to_lowercase().as_wire().to_vec(),
            r.rtype.0,
            r.ttl,
            r.rdata.clone(),
        )
    };
    let split = |z: &Zone| {
        let mut soa = None;
        let mut rest = std::collections::BTreeMap::new();
        for r in z.records() {
            if r.rtype == Rtype::SOA && soa.is_none() {
                soa = Some(r);
            } else {
                rest.insert(key(&r), r);
            }
        }
        (soa, rest)
    };
    let (old_soa, old_rest) = split(old);
    let (new_soa, new_rest) = split(new);
    let (Some(old_soa), Some(new_soa)) = (old_soa, new_soa) else {
        unreachable!("test zones have an SOA");
    };
    let mut out = vec![new_soa.clone(), old_soa];
    out.extend(
        old_rest
            .iter()
            .filter(|(k, _)| !new_rest.contains_key(*k))
            .map(|(_, r)| r.clone()),
    );
    out.push(new_soa.clone());
    out.extend(
        new_rest
            .iter()
            .filter(|(k, _)| !old_rest.contains_key(*k))
            .map(|(_, r)| r.clone()),
    );
    out.push(new_soa);
    out
}

/// Room kept in each message for its OPT and TSIG records (a TSIG key name
/// may be 255 octets).
const TSIG_ROOM: usize = 512;

/// Packs records into a stream of messages of at most 64 KiB, each handed
/// to `emit` once full (and signed).
struct Packer<'a> {
    packet: &'a [u8],
    q: &'a crate::wire::Query,
    signed: Option<&'a (Key, Vec<u8>)>,
    now: u64,
    emit: &'a mut dyn FnMut(Vec<u8>),
    /// The message being filled, and its records.
    m: Vec<u8>,
    count: u16,
    sent: usize,
    /// The MAC the next message's TSIG chains to (RFC 8945 §5.3.1).
    prior: Option<Vec<u8>>,
    /// Where this message holds the apex name, to point at.
    apex_at: Option<usize>,
}

impl<'a> Packer<'a> {
    fn new(
        packet: &'a [u8],
        q: &'a crate::wire::Query,
        signed: Option<&'a (Key, Vec<u8>)>,
        now: u64,
        emit: &'a mut dyn FnMut(Vec<u8>),
    ) -> Packer<'a> {
        let mut p = Packer {
            packet,
            q,
            signed,
            now,
            emit,
            m: Vec::new(),
            count: 0,
            sent: 0,
            prior: signed.map(|(_, mac)| mac.clone()),
            // The question's name, in the first message.
            apex_at: Some(crate::wire::HEADER_LEN),
        };
        p.m = p.header(true);
        p
    }

    fn header(&self, first: bool) -> Vec<u8> {
        let mut m = Vec::with_capacity(16 * 1024);
        m.extend_from_slice(&self.packet[0..2]);
        let flags = (self.q.flags & crate::wire::hdr::OPCODE_MASK) | crate::wire::hdr::QR | crate::wire::hdr::AA;
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, u8::from(first), 0, 0, 0, 0, 0, 0]);
        if first {
            m.extend_from_slice(&self.packet[crate::wire::HEADER_LEN..self.q.question_end]);
        }
        m
    }

    /// Sends the message being filled.
    fn send(&mut self) {
        let next = self.header(false);
        let mut m = std::mem::replace(&mut self.m, next);
        m[6..8].copy_from_slice(&self.count.to_be_bytes());
        if let Some(e) = self.q.edns.filter(|_| self.sent == 0) {
            // RFC 5936 §2.2.5: an OPT in the first message answers the
            // query's (RFC 6891 §7); the TSIG record stays last.
            m.extend_from_slice(&e.response_opt(crate::answer::DEFAULT_EDNS_UDP_SIZE, 0));
            m[10..12].copy_from_slice(&1u16.to_be_bytes());
        }
        if let Some((key, _)) = self.signed {
            // RFC 8945 §5.3.1: the first message's MAC covers the
            // request's; each later one only its timers and the prior MAC.
            let mac = tsig::sign(&mut m, key, self.prior.as_deref(), self.sent > 0, self.now, 0);
            self.prior = Some(mac);
        }
        self.sent += 1;
        self.count = 0;
        self.apex_at = None;
        (self.emit)(m);
    }

    /// One record. Names are compressed (RFC 1035 §4.1.4): the labels below
    /// the apex, then a pointer to the apex written once in the message.
    /// That holds for the owner and for the names in the rdata of the types
    /// RFC 1035 defines (NS, CNAME, PTR, MX, SOA; RFC 3597 §4 forbids it
    /// for any other); other rdata is sent as stored.
    fn push(&mut self, owner: &[u8], rtype: Rtype, ttl: u32, rdata: &[u8]) {
        let size = owner.len() + 10 + rdata.len();
        if self.m.len() + size + TSIG_ROOM > u16::MAX as usize && self.count > 0 {
            self.send();
        }
        self.name(owner);
        let m = &mut self.m;
        m.extend_from_slice(&rtype.0.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        let rdlength_at = m.len();
        m.extend_from_slice(&[0, 0]);
        // (offset of the first name, how many names follow one another)
        let names = match rtype {
            Rtype::NS | Rtype::CNAME | Rtype::PTR => Some((0, 1)),
            Rtype::MX => Some((2, 1)),
            Rtype::SOA => Some((0, 2)),
            _ => None,
        };
        let mut at = 0;
        if let Some((start, count)) = names {
            // Where each name ends; malformed rdata is sent as stored.
            let mut ends = [0usize; 2];
            let mut p = start;
            let mut found = 0;
            while found < count {
                let Some(n) = rdata.get(p..).and_then(name_len) else {
                    break;
                };
                p += n;
                ends[found] = p;
                found += 1;
            }
            if found == count {
                self.m.extend_from_slice(&rdata[..start]);
                let mut from = start;
                for &to in &ends[..count] {
                    self.name(&rdata[from..to]);
                    from = to;
                }
                at = from;
            }
        }
        self.m.extend_from_slice(&rdata[at..]);
        let rdlength = (self.m.len() - rdlength_at - 2) as u16;
        self.m[rdlength_at..rdlength_at + 2].copy_from_slice(&rdlength.to_be_bytes());
        self.count += 1;
    }

    /// A name (uncompressed wire form), compressed to the apex when it is
    /// in the zone; the first in-zone name of a message that has no apex
    /// yet is written whole, and its apex is pointed at after it.
    fn name(&mut self, name: &[u8]) {
        let apex_len = self.q.qname_len;
        let below = name.len().saturating_sub(apex_len);
        let in_zone =
            name.len() >= apex_len && name[below..].eq_ignore_ascii_case(self.q.qname()) && label_boundary(name, below);
        match self.apex_at.filter(|&at| in_zone && at < 0x3fff) {
            Some(at) => {
                self.m.extend_from_slice(&name[..below]);
                self.m.extend_from_slice(&(0xC000 | at as u16).to_be_bytes());
            }
            None => {
                if in_zone {
                    self.apex_at = Some(self.m.len() + below);
                }
                self.m.extend_from_slice(name);
            }
        }
    }

    /// Sends the last message.
    fn finish(mut self) {
        self.send();
    }
}

/// Copies `m` into `out` (cut to fit); its length there.
pub(crate) fn write(out: &mut [u8], m: &[u8]) -> usize {
    let n = m.len().min(out.len());
    out[..n].copy_from_slice(&m[..n]);
    n
}

/// Whether a label of the wire name `name` starts at `at`.
/// The length of the uncompressed wire name at the start of `wire`.
fn name_len(wire: &[u8]) -> Option<usize> {
    let mut p = 0;
    loop {
        match *wire.get(p)? {
            0 => return Some(p + 1),
            len if len < 64 => p += 1 + len as usize,
            _ => return None,
        }
    }
}

fn label_boundary(name: &[u8], at: usize) -> bool {
    let mut p = 0;
    while p < at {
        match name.get(p) {
            Some(&len) if len != 0 => p += 1 + len as usize,
            _ => return false,
        }
    }
    p == at
}

/// A reply to `q`: its header and question, `answer` (`ancount` records),
/// and an OPT when the query had one (RFC 6891 §7), which carries
/// `rcode`'s high bits (BADVERS).
fn reply(packet: &[u8], q: &crate::wire::Query, rcode: u16, answer: &[u8], ancount: u16) -> Vec<u8> {
    let mut m = packet[..q.question_end].to_vec();
    let flags =
        (q.flags & (crate::wire::hdr::OPCODE_MASK | crate::wire::hdr::RD)) | crate::wire::hdr::QR | (rcode & 0x0f);
    m[2..4].copy_from_slice(&flags.to_be_bytes());
    m[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    m[6..8].copy_from_slice(&ancount.to_be_bytes());
    m.extend_from_slice(answer);
    if let Some(e) = q.edns {
        m.extend_from_slice(&e.response_opt(crate::answer::DEFAULT_EDNS_UDP_SIZE, rcode));
        m[11] = 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str, prefix: u8) -> AclEntry {
        AclEntry {
            network: net.parse().unwrap(),
            prefix,
            key: None,
        }
    }

    #[test]
    fn acl_networks_match_by_prefix() {
        assert!(entry("192.0.2.0", 24).contains("192.0.2.77".parse().unwrap()));
        assert!(!entry("192.0.2.0", 24).contains("192.0.3.1".parse().unwrap()));
        assert!(
            entry("192.0.2.7", 32).contains("::ffff:192.0.2.7".parse().unwrap()),
            "v4-mapped"
        );
        assert!(!entry("192.0.2.7", 32).contains("2001:db8::1".parse().unwrap()));
        assert!(entry("2001:db8::", 32).contains("2001:db8:1::1".parse().unwrap()));
        assert!(entry("0.0.0.0", 0).contains("203.0.113.9".parse().unwrap()));
    }

    fn zone(serial: u32) -> Arc<Zone> {
        let text = format!(
            "$ORIGIN example.\n@ 300 IN SOA ns.example. h.example. {serial} 1 1 1 1\n@ 300 IN NS ns.example.\n"
        );
        let parsed = platdns_zone::zonefile::parse_str(&text, "t", None, &mut platdns_zone::zonefile::NoIncludes);
        Arc::new(Zone::from_parsed(&parsed, None).unwrap())
    }

    /// A query for example. `qtype`: header, question, an SOA at `serial`
    /// in the authority section (IXFR), an OPT of `edns_version`.
    fn request(qtype: Rtype, serial: Option<u32>, edns_version: Option<u8>) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, u8::from(serial.is_some()), 0, 0];
        m.extend_from_slice(b"\x07example\x00");
        m.extend_from_slice(&qtype.0.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        if let Some(serial) = serial {
            m.extend_from_slice(&[0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0, 0, 24, 0xc0, 12, 0xc0, 12]);
            m.extend_from_slice(&serial.to_be_bytes());
            m.extend_from_slice(&[0; 16]);
        }
        if let Some(v) = edns_version {
            m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, v, 0, 0, 0, 0]);
            m[11] = 1;
        }
        m
    }

    /// An IXFR whose authority SOA is owned by `other.` (written out, not
    /// a pointer to the question), with an OPT.
    fn soa_of_another_name() -> Vec<u8> {
        let mut m = request(Rtype::IXFR, Some(3), Some(0));
        let at = m.iter().position(|&b| b == 0xc0).unwrap();
        m.splice(at..at + 2, b"\x05other\x00".iter().copied());
        m
    }

    #[test]
    fn names_compare_through_pointers_and_case() {
        let m = b"\x00\x00\x07EXAMPLE\x00\x03www\xc0\x02";
        assert!(crate::wire::name_eq(m, 2, b"\x07example\x00"));
        assert!(crate::wire::name_eq(m, 11, b"\x03www\x07example\x00"));
        assert!(!crate::wire::name_eq(m, 11, b"\x07example\x00"));
        assert!(!crate::wire::name_eq(m, 2, b"\x03www\x07example\x00"));
        let looped = b"\xc0\x00";
        assert!(!crate::wire::name_eq(looped, 0, b"\x00"), "a pointer loop ends");
    }

    fn open_to(peer: &str) -> Transfers {
        let t = Transfers::default();
        let mut policy = Policy::default();
        policy.acls.insert(b"\x07example\x00".to_vec(), vec![entry(peer, 32)]);
        t.set_policy(policy);
        t
    }

    /// rcode (with an OPT's extended bits), ANCOUNT, and the OPT when there is one.
    fn read_reply(m: &[u8], question_end: usize, answer_len: usize) -> (u16, u16, Option<Vec<u8>>) {
        let an = u16::from_be_bytes([m[6], m[7]]);
        let opt = (m[11] == 1).then(|| m[question_end + answer_len..].to_vec());
        let ext = opt.as_ref().map_or(0, |o| u16::from(o[5]) << 4);
        (ext | u16::from(m[3] & 0x0f), an, opt)
    }

    #[test]
    fn refusals_answer_in_rfc_order_each_with_the_querys_opt() {
        let t = open_to("127.0.0.1");
        let z = zone(5);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let ask = |zone: Option<&Arc<Zone>>, packet: &[u8], peer: IpAddr| {
            let q = crate::wire::parse_query(packet).unwrap();
            let mut out = Vec::new();
            t.answer(zone, &q, packet, peer, 1, &mut |m| out.push(m));
            (q.question_end, out)
        };
        use crate::wire::rcode::*;
        let cases = [
            (
                Some(&z) as Option<&Arc<Zone>>,
                request(Rtype::AXFR, None, Some(1)),
                "127.0.0.1",
                BADVERS,
            ),
            (Some(&z), request(Rtype::IXFR, None, Some(0)), "127.0.0.1", FORMERR),
            (Some(&z), soa_of_another_name(), "127.0.0.1", FORMERR),
            (None, request(Rtype::AXFR, None, Some(0)), "127.0.0.1", NOTAUTH),
            (Some(&z), request(Rtype::AXFR, None, Some(0)), "192.0.2.1", REFUSED),
            (Some(&z), request(Rtype::AXFR, None, None), "192.0.2.1", REFUSED),
        ];
        for (zone, packet, from, want) in cases {
            let (end, out) = ask(zone, &packet, from.parse().unwrap());
            assert_eq!(out.len(), 1);
            let (rcode, an, opt) = read_reply(&out[0], end, 0);
            assert_eq!((rcode, an), (want, 0), "{from}");
            let had_opt = packet[11] == 1;
            assert_eq!(opt.is_some(), had_opt, "an OPT answers an OPT (RFC 6891 §7)");
            if let Some(opt) = opt {
                assert_eq!((opt.len(), opt[2], opt[6]), (11, 41, 0), "version 0");
            }
        }
        // Served: the OPT in the first message only, before nothing else.
        let (end, out) = ask(Some(&z), &request(Rtype::AXFR, None, Some(0)), peer);
        assert_eq!(out.len(), 1);
        let m = &out[0];
        assert_eq!((m[3] & 0x0f, u16::from_be_bytes([m[6], m[7]]), m[11]), (0, 3, 1));
        assert_eq!(&m[m.len() - 11..m.len() - 8], &[0, 0, 41], "the OPT comes last");
        assert!(m.len() > end + 11);
    }

    #[test]
    fn an_ixfr_over_udp_gets_the_current_soa_alone_and_axfr_notimp() {
        let t = open_to("127.0.0.1");
        let z = zone(7);
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        for theirs in [3, 7, 9] {
            let packet = request(Rtype::IXFR, Some(theirs), Some(0));
            let q = crate::wire::parse_query(&packet).unwrap();
            let m = t.answer_udp(Some(&z), &q, &packet, peer, 1);
            let soa_len = m.len() - q.question_end - 11;
            let (rcode, an, opt) = read_reply(&m, q.question_end, soa_len);
            assert_eq!((rcode, an, opt.is_some()), (0, 1, true), "serial {theirs}");
            assert_eq!(
                &m[m.len() - 11 - 20..m.len() - 11 - 16],
                &7u32.to_be_bytes(),
                "the current serial"
            );
            assert_ne!(m[2] & 0x04, 0, "AA");
        }
        let refused = request(Rtype::IXFR, Some(3), None);
        let q = crate::wire::parse_query(&refused).unwrap();
        let m = t.answer_udp(Some(&z), &q, &refused, "192.0.2.1".parse().unwrap(), 1);
        assert_eq!(
            read_reply(&m, q.question_end, 0).0,
            crate::wire::rcode::REFUSED,
            "the ACL holds over UDP"
        );
        let axfr = request(Rtype::AXFR, None, None);
        let q = crate::wire::parse_query(&axfr).unwrap();
        let m = t.answer_udp(Some(&z), &q, &axfr, peer, 1);
        assert_eq!(
            read_reply(&m, q.question_end, 0).0,
            crate::wire::rcode::NOTIMP,
            "AXFR is TCP only"
        );
    }

    #[test]
    fn a_notify_for_a_zone_not_secondary_here_is_notauth() {
        let t = Transfers::default();
        let mut policy = Policy::default();
        let primary: IpAddr = "192.0.2.53".parse().unwrap();
        policy
            .primaries
            .insert(b"\x07example\x00".to_vec(), vec![(primary, None)]);
        t.set_policy(policy);
        let mut notify = request(Rtype::SOA, None, Some(0));
        notify[2] = 4 << 3;
        let q = crate::wire::parse_query(&notify).unwrap();
        let rcode_from = |peer: IpAddr, packet: &[u8]| {
            let m = t.notify(packet, peer).unwrap();
            (m[3] & 0x0f, m[11])
        };
        assert_eq!(rcode_from(primary, &notify), (0, 1), "from the primary, with the OPT");
        assert_eq!(rcode_from("192.0.2.1".parse().unwrap(), &notify), (5, 1), "REFUSED");
        let mut other = notify.clone();
        other[12..21].copy_from_slice(b"\x07exampla\x00");
        assert_eq!(rcode_from(primary, &other), (9, 1), "NOTAUTH");
        assert!(q.edns.is_some());
    }

    #[test]
    fn versions_on_more_than_two_bases_are_not_kept() {
        let t = Transfers::default();
        for serial in 1..=3 {
            t.keep(zone(serial));
        }
        let apex = b"\x07example\x00".to_vec();
        // Three full builds: three bases; the oldest copy goes.
        assert!(t.version(&apex, 1).is_none());
        assert!(t.version(&apex, 2).is_some() && t.version(&apex, 3).is_some());
        t.forget(&apex);
        assert!(t.version(&apex, 3).is_none());
    }

    #[test]
    fn an_ixfr_over_overlays_equals_the_whole_difference() {
        use platdns_zone::patch::RrsetChange;
        let base = zone(1);
        let rr = |name: &str, rtype: Rtype, rdata: Vec<u8>| platdns_zone::zonefile::Record {
            owner: platdns_zone::Name::from_text(name, None).unwrap(),
            ttl: 300,
            class: platdns_zone::Class::IN,
            rtype,
            rdata,
            pos: Default::default(),
        };
        let soa = |serial: u32| {
            let mut rd = b"\x02ns\x07example\x00\x01h\x07example\x00".to_vec();
            for v in [serial, 1, 1, 1, 1] {
                rd.extend_from_slice(&v.to_be_bytes());
            }
            rr("example.", Rtype::SOA, rd)
        };
        let change = |owner: &str, rtype: Rtype, records: Vec<platdns_zone::zonefile::Record>| RrsetChange {
            owner: platdns_zone::Name::from_text(owner, None).unwrap(),
            rtype,
            records,
        };
        let v2 = base
            .patch(&[
                change("example.", Rtype::SOA, vec![soa(2)]),
                change(
                    "www.example.",
                    Rtype::A,
                    vec![rr("www.example.", Rtype::A, vec![192, 0, 2, 1])],
                ),
            ])
            .unwrap();
        let v3 = v2
            .patch(&[
                change("example.", Rtype::SOA, vec![soa(3)]),
                change(
                    "www.example.",
                    Rtype::A,
                    vec![rr("www.example.", Rtype::A, vec![192, 0, 2, 2])],
                ),
                change(
                    "new.example.",
                    Rtype::A,
                    vec![rr("new.example.", Rtype::A, vec![192, 0, 2, 9])],
                ),
            ])
            .unwrap();
        // Within each part of the answer the order carries no meaning.
        let sorted = |mut v: Vec<Rr>| {
            let bounds: Vec<usize> = v
                .iter()
                .enumerate()
                .filter(|(_, r)| r.rtype == Rtype::SOA)
                .map(|(i, _)| i)
                .collect();
            for w in bounds.windows(2) {
                v[w[0] + 1..w[1]].sort_by(|a, b| (a.owner.as_wire(), &a.rdata).cmp(&(b.owner.as_wire(), &b.rdata)));
            }
            v.iter()
                .map(|r| (r.owner.to_string(), r.rtype.0, r.rdata.clone()))
                .collect::<Vec<_>>()
        };
        for (old, new) in [(&*base, &v2), (&*base, &v3), (&v2, &v3)] {
            assert!(new.shares_base(old));
            assert_eq!(
                sorted(ixfr_records(old, new).unwrap()),
                sorted(ixfr_records_whole(old, new))
            );
        }
        // Across a full build (a compaction, an atomic replacement): still
        // the difference, found by comparing every record.
        let rebuilt = v3.compacted().unwrap();
        for old in [&*base, &v2] {
            assert!(!rebuilt.shares_base(old));
            assert_eq!(
                sorted(ixfr_records(old, &rebuilt).unwrap()),
                sorted(ixfr_records_whole(old, &rebuilt))
            );
        }
        // A difference larger than the zone: the whole zone instead.
        let text = "$ORIGIN example.\n@ 300 IN SOA ns.example. h.example. 9 1 1 1 1\n@ 300 IN NS ns2.example.\n\
                    a 300 IN A 192.0.2.7\n";
        let parsed = platdns_zone::zonefile::parse_str(text, "t", None, &mut platdns_zone::zonefile::NoIncludes);
        let replaced = Zone::from_parsed(&parsed, None).unwrap();
        assert_eq!(ixfr_records(&v3, &replaced), None);
    }

    #[test]
    fn compression_splits_only_at_label_boundaries() {
        let owner = b"\x03www\x07example\x00";
        assert!(label_boundary(owner, 4));
        assert!(!label_boundary(owner, 3));
        assert!(label_boundary(b"\x02\x01a\x00", 0));
        assert!(
            !label_boundary(b"\x02\x01a\x00", 1),
            "a length-like byte inside a label"
        );
    }

    #[test]
    fn rdata_names_of_rfc_1035_types_are_compressed_and_read_back_whole() {
        let apex = b"\x07example\x00";
        let mut query = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(apex);
        query.extend_from_slice(&[0, 252, 0, 1]);
        let q = crate::wire::parse_query(&query).unwrap();
        let host = b"\x04host\x07EXAMPLE\x00".to_vec();
        let outside = b"\x03ns1\x05other\x00".to_vec();
        let mut mx = vec![0, 10];
        mx.extend_from_slice(&host);
        let mut soa = outside.clone();
        soa.extend_from_slice(&host);
        soa.extend_from_slice(&[1; 20]);
        let srv = [&[0u8, 1, 0, 2, 0, 53][..], &host[..]].concat();
        let records: Vec<(&[u8], Rtype, Vec<u8>)> = vec![
            (&apex[..], Rtype::SOA, soa.clone()),
            (b"\x03www\x07example\x00", Rtype::CNAME, host.clone()),
            (&apex[..], Rtype::MX, mx.clone()),
            (&apex[..], Rtype::NS, outside.clone()),
            (b"\x01s\x07example\x00", Rtype::SRV, srv.clone()),
            (b"\x01x\x07example\x00", Rtype::MX, vec![0, 1, 0x40]),
        ];
        let mut messages = Vec::new();
        let mut emit = |m: Vec<u8>| messages.push(m);
        let mut p = Packer::new(&query, &q, None, 0, &mut emit);
        for (owner, t, rdata) in &records {
            p.push(owner, *t, 60, rdata);
        }
        p.finish();
        let m = &messages[0];
        assert_eq!(u16::from_be_bytes([m[6], m[7]]), records.len() as u16);
        let mut at = q.question_end;
        let lower = |n: &[u8]| n.to_ascii_lowercase();
        // Read back by the one response reader: names whole again, the
        // rest as stored.
        let (read, _) = crate::wire::response_records(m).unwrap();
        for ((owner, t, rdata), back) in records.iter().zip(&read) {
            assert_eq!(lower(back.owner.as_wire()), lower(owner));
            assert_eq!(back.rtype, *t);
            assert_eq!(lower(&back.rdata), lower(rdata), "{t}");
            let next = crate::wire::skip_name(m, at).unwrap();
            let len = u16::from_be_bytes([m[next + 8], m[next + 9]]) as usize;
            let body = &m[next + 10..next + 10 + len];
            if matches!(*t, Rtype::CNAME | Rtype::MX) && rdata.len() > 3 {
                assert!(len < rdata.len(), "{t} compressed: {body:?}");
            }
            if *t == Rtype::SRV {
                assert_eq!(body, &srv[..], "RFC 3597 §4: SRV is not compressed");
            }
            at = next + 10 + len;
        }
        assert_eq!(at, m.len());
    }
}
