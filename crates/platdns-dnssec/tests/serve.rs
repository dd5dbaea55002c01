//! A signed zone served after patches answers exactly as a full build of the
//! same signed records. A zone is signed by [`SignedZone`] (NSEC, and NSEC3
//! with RFC 9276 parameters) and built with [`Zone::from_records`]; then a
//! few hundred random commits (wildcards, empty non-terminals, delegations
//! with and without DS, glue, CNAMEs in and out of the zone, MX targets,
//! removals that make names vanish, SOA serial and negative-TTL changes) go
//! through [`SignedZone::apply`] (and [`SignedZone::refresh`] as time
//! passes), and the signer's diffs are applied to the served zone with
//! [`Zone::rrset_changes`] and [`Zone::patch`], patch upon patch, as a server
//! would. After each commit the patched zone must hold the same records as
//! a fresh build of the signer's records and answer as it does, with the DO
//! bit set and not, for 13 types, about: the names the commit's diff touched
//! and the names around them (missing children and siblings, wildcards, the
//! empty non-terminals above), a rotating 32nd of every name in play (and
//! those around them), and every 100 commits and at the end all of them.
//! (Debug builds answer some 50,000 questions a second; this keeps each
//! run near ten seconds.)
//!
//! Every answer with DO is also checked as a validator would see it: each
//! RRSIG verifies over its RRset with the zone's keys and is valid now, each
//! authoritative RRset carries one, a wildcard expansion comes with the proof
//! that the name asked for does not exist, NXDOMAIN with the closest encloser
//! proof (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2), NODATA with a denial record
//! whose bit map lacks the type, and a referral with the signed DS or the
//! proof of none.

mod common;
use common::{keypair, n, records, soa, Rng};
use platdns_dnssec::canon::{
    bitmap_types, canonical_key, nsec3_hash, nsec3_owner, serial_le, signed_data, RrsigHeader,
};
use platdns_dnssec::keys::{key_tag, verify};
use platdns_dnssec::{Algorithm, Denial, SignedZone, SignerConfig};
use platdns_zone::lookup::{Outcome, Owner, Resolution, Section};
use platdns_zone::name::wire_name_len;
use platdns_zone::present::format_rdata;
use platdns_zone::zone::RrIter;
use platdns_zone::{Name, Record, RrsetChange, Rtype, Zone};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};

// ---------------------------------------------------------------------------
// The unsigned zone as the commits leave it, and the random commits.

/// (lower-cased owner wire, type) → the RRset's records.
type Model = BTreeMap<(Vec<u8>, u16), Vec<Record>>;

const LABELS: [&str; 7] = ["a", "b", "c", "*", "w", "Mx", "ns"];

fn key(name: &Name, t: Rtype) -> (Vec<u8>, u16) {
    (name.to_lowercase().as_wire().to_vec(), t.0)
}

fn random_name(rng: &mut Rng, max_depth: usize) -> Name {
    let depth = 1 + rng.below(max_depth);
    let mut name = n("example.");
    for _ in 0..depth {
        name = name.prepend(LABELS[rng.below(LABELS.len())].as_bytes()).unwrap();
    }
    name
}

/// A name for rdata to point at: in the zone (existing or not, possibly
/// one a wildcard answers for) or outside it.
fn random_target(rng: &mut Rng) -> Name {
    match rng.below(5) {
        0 => n("www.example.net."),
        1 => n("ns1.example."),
        _ => {
            let t = random_name(rng, 3);
            if t.is_wildcard() {
                // What a wildcard there would answer for.
                t.parent().unwrap().prepend(b"q").unwrap()
            } else {
                t
            }
        }
    }
}

fn types_at(model: &Model, name: &Name) -> Vec<Rtype> {
    let k = name.to_lowercase().as_wire().to_vec();
    model
        .range((k.clone(), 0)..=(k, u16::MAX))
        .map(|((_, t), _)| Rtype(*t))
        .collect()
}

fn is_cut(model: &Model, name: &Name) -> bool {
    *name != n("example.") && model.contains_key(&key(name, Rtype::NS))
}

/// Is `name` strictly below a delegation?
fn below_cut(model: &Model, name: &Name) -> bool {
    let mut p = name.parent();
    while let Some(a) = p {
        if a == n("example.") {
            return false;
        }
        if model.contains_key(&key(&a, Rtype::NS)) {
            return true;
        }
        p = a.parent();
    }
    false
}

/// May authoritative data other than a CNAME go at `name`?
fn authoritative(model: &Model, name: &Name) -> bool {
    !below_cut(model, name) && !is_cut(model, name) && !model.contains_key(&key(name, Rtype::CNAME))
}

fn set(model: &mut Model, changes: &mut Vec<RrsetChange>, name: &Name, t: Rtype, recs: Vec<Record>) {
    if recs.is_empty() {
        model.remove(&key(name, t));
    } else {
        model.insert(key(name, t), recs.clone());
    }
    changes.retain(|c| !(c.owner.eq_ignore_case(name) && c.rtype == t));
    changes.push(RrsetChange {
        owner: name.clone(),
        rtype: t,
        records: recs,
    });
}

fn txt(s: &str) -> Vec<u8> {
    let mut d = vec![s.len() as u8];
    d.extend_from_slice(s.as_bytes());
    d
}

fn mx(pref: u16, target: &Name) -> Vec<u8> {
    let mut d = pref.to_be_bytes().to_vec();
    d.extend_from_slice(target.as_wire());
    d
}

/// What the commits did, so the test can say it covered each case.
#[derive(Default, Debug, Clone)]
struct Made {
    cuts: usize,
    secure_cuts: usize,
    cuts_gone: usize,
    cnames: usize,
    wildcards: usize,
    deep: usize,
    names_removed: usize,
    refused: usize,
}

/// One random commit's RRset changes, the SOA's new serial among them;
/// `model` is left as the commit leaves the zone. The generator aims at
/// zones a build accepts; a commit the build would refuse anyway (a
/// combination it did not foresee) is drawn again.
fn random_commit(rng: &mut Rng, model: &mut Model, serial: u32, ds_rdata: &[u8], made: &mut Made) -> Vec<RrsetChange> {
    let apex = n("example.");
    loop {
        let (before, made_before) = (model.clone(), made.clone());
        let mut changes = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let name = random_name(rng, 3);
            match rng.below(14) {
                0 | 1 => {
                    // Addresses: authoritative, glue below a cut, or at a cut.
                    if !model.contains_key(&key(&name, Rtype::CNAME)) {
                        let v = rng.below(250) as u8;
                        let recs = (0..1 + rng.below(2))
                            .map(|i| Record::new(&name, Rtype::A, 300, vec![192, 0, 2, v.wrapping_add(i as u8)]))
                            .collect();
                        set(model, &mut changes, &name, Rtype::A, recs);
                    }
                }
                2 => {
                    // A deep name: empty non-terminals above it.
                    let deep = name.prepend(b"x").unwrap().prepend(b"y").unwrap();
                    let aaaa = vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
                    set(
                        model,
                        &mut changes,
                        &deep,
                        Rtype::AAAA,
                        vec![Record::new(&deep, Rtype::AAAA, 300, aaaa)],
                    );
                    made.deep += 1;
                }
                3 => {
                    if authoritative(model, &name) {
                        let d = txt(&format!("t{}", rng.below(100)));
                        set(
                            model,
                            &mut changes,
                            &name,
                            Rtype::TXT,
                            vec![Record::new(&name, Rtype::TXT, 600, d)],
                        );
                    }
                }
                4 => {
                    if authoritative(model, &name) {
                        let recs = (0..1 + rng.below(2))
                            .map(|i| Record::new(&name, Rtype::MX, 600, mx(10 + i as u16, &random_target(rng))))
                            .collect();
                        set(model, &mut changes, &name, Rtype::MX, recs);
                    }
                }
                5 | 12 => {
                    // A CNAME, in the zone or out, where nothing else is.
                    if name != apex && types_at(model, &name).is_empty() && !below_cut(model, &name) {
                        let target = random_target(rng);
                        set(
                            model,
                            &mut changes,
                            &name,
                            Rtype::CNAME,
                            vec![Record::new(&name, Rtype::CNAME, 300, target.as_wire().to_vec())],
                        );
                        made.cnames += 1;
                    }
                }
                6 | 7 => {
                    // A delegation, secure or not; data beneath that is not
                    // address records (glue) goes.
                    let here = types_at(model, &name);
                    if name == apex
                        || name.is_wildcard()
                        || below_cut(model, &name)
                        || here
                            .iter()
                            .any(|t| !matches!(*t, Rtype::A | Rtype::AAAA | Rtype::NS | Rtype::DS))
                    {
                        continue;
                    }
                    let ns = name.prepend(b"ns").unwrap();
                    let target = match rng.below(3) {
                        0 => ns.clone(),
                        1 => n("ns.elsewhere.net."),
                        _ => n("a.example."),
                    };
                    let mut targets = vec![Record::new(&name, Rtype::NS, 3600, target.as_wire().to_vec())];
                    if rng.below(2) == 0 {
                        targets.push(Record::new(
                            &name,
                            Rtype::NS,
                            3600,
                            n("ns2.elsewhere.net.").as_wire().to_vec(),
                        ));
                    }
                    set(model, &mut changes, &name, Rtype::NS, targets);
                    if rng.below(2) == 0 {
                        set(
                            model,
                            &mut changes,
                            &name,
                            Rtype::DS,
                            vec![Record::new(&name, Rtype::DS, 3600, ds_rdata.to_vec())],
                        );
                        made.secure_cuts += 1;
                    } else {
                        set(model, &mut changes, &name, Rtype::DS, vec![]);
                    }
                    made.cuts += 1;
                    let doomed: Vec<(Name, Rtype)> = model
                        .iter()
                        .filter(|(k, recs)| {
                            let o = &recs[0].owner;
                            o.is_subdomain_of(&name)
                                && !o.eq_ignore_case(&name)
                                && !matches!(Rtype(k.1), Rtype::A | Rtype::AAAA)
                        })
                        .map(|(k, recs)| (recs[0].owner.clone(), Rtype(k.1)))
                        .collect();
                    for (o, t) in doomed {
                        set(model, &mut changes, &o, t, vec![]);
                    }
                    if target == ns && rng.below(3) != 0 {
                        set(
                            model,
                            &mut changes,
                            &ns,
                            Rtype::A,
                            vec![Record::new(&ns, Rtype::A, 3600, vec![192, 0, 2, 53])],
                        );
                    }
                }
                8 | 9 => {
                    // Remove some RRset (a delegation's DS with its NS).
                    let keys: Vec<_> = model
                        .keys()
                        .filter(|(o, t)| *t != Rtype::SOA.0 && !(*t == Rtype::NS.0 && o.as_slice() == apex.as_wire()))
                        .cloned()
                        .collect();
                    if keys.is_empty() {
                        continue;
                    }
                    let k = &keys[rng.below(keys.len())];
                    let owner = model[k][0].owner.clone();
                    let t = Rtype(k.1);
                    set(model, &mut changes, &owner, t, vec![]);
                    if t == Rtype::NS {
                        set(model, &mut changes, &owner, Rtype::DS, vec![]);
                        made.cuts_gone += 1;
                    }
                }
                10 => {
                    // Remove a whole name: it, and maybe the empty
                    // non-terminals above it, vanish.
                    let owners: BTreeSet<Vec<u8>> = model
                        .keys()
                        .filter(|(o, _)| o.as_slice() != apex.as_wire())
                        .map(|(o, _)| o.clone())
                        .collect();
                    if owners.is_empty() {
                        continue;
                    }
                    let o = owners.iter().nth(rng.below(owners.len())).unwrap();
                    let owner = Name::from_wire(o).unwrap();
                    for t in types_at(model, &owner) {
                        set(model, &mut changes, &owner, t, vec![]);
                        made.cuts_gone += usize::from(t == Rtype::NS);
                    }
                    made.names_removed += 1;
                }
                _ => {
                    // A wildcard, shallow so that it answers for names asked.
                    let parent = if rng.below(3) == 0 {
                        apex.clone()
                    } else {
                        random_name(rng, 1)
                    };
                    let w = parent.prepend(b"*").unwrap();
                    if !authoritative(model, &w) {
                        continue;
                    }
                    made.wildcards += 1;
                    match rng.below(4) {
                        0 => set(
                            model,
                            &mut changes,
                            &w,
                            Rtype::TXT,
                            vec![Record::new(&w, Rtype::TXT, 600, txt("wild"))],
                        ),
                        1 => {
                            let m = Record::new(&w, Rtype::MX, 600, mx(10, &random_target(rng)));
                            set(model, &mut changes, &w, Rtype::MX, vec![m])
                        }
                        2 if types_at(model, &w).is_empty() => {
                            let target = random_target(rng);
                            set(
                                model,
                                &mut changes,
                                &w,
                                Rtype::CNAME,
                                vec![Record::new(&w, Rtype::CNAME, 300, target.as_wire().to_vec())],
                            );
                            made.cnames += 1;
                        }
                        _ => set(
                            model,
                            &mut changes,
                            &w,
                            Rtype::A,
                            vec![Record::new(&w, Rtype::A, 300, vec![192, 0, 2, 42])],
                        ),
                    }
                }
            }
        }
        // The SOA serial, as a real commit; now and then a new MINIMUM,
        // which changes the negative TTL and so every NSEC/NSEC3.
        let minimum = if (serial / 40) & 1 == 0 { 300 } else { 900 };
        set(
            model,
            &mut changes,
            &apex,
            Rtype::SOA,
            vec![Record::new(&apex, Rtype::SOA, 3600, soa(serial, minimum))],
        );
        let all: Vec<Record> = model.values().flatten().cloned().collect();
        if Zone::from_records(&all, &apex).is_ok() {
            return changes;
        }
        *model = before;
        *made = made_before;
        made.refused += 1;
    }
}

// ---------------------------------------------------------------------------
// Answers.

/// One RRset as an answer carries it.
struct Set<'z> {
    owner: Name,
    rtype: Rtype,
    /// For RRSIG, the type covered.
    covered: Rtype,
    rdatas: Vec<&'z [u8]>,
}

fn owner_wire<'z>(z: &'z Zone, qname: &'z [u8], owner: Owner) -> &'z [u8] {
    match owner {
        Owner::Qname => qname,
        Owner::Node(id) => z.node_name(id),
        Owner::RdataName(off) => z.wire_name_at(off),
    }
}

fn sets<'z>(z: &'z Zone, qname: &'z [u8], s: &Section) -> Vec<Set<'z>> {
    s.items()
        .iter()
        .map(|&(owner, rs)| {
            let rdatas: Vec<&[u8]> = RrIter::new(z.rrset_wire(rs)).collect();
            let rtype = z.rrset(rs).rtype;
            let covered = if rtype == Rtype::RRSIG {
                Rtype(u16::from_be_bytes([rdatas[0][0], rdatas[0][1]]))
            } else {
                Rtype(0)
            };
            Set {
                owner: Name::from_wire(owner_wire(z, qname, owner)).unwrap(),
                rtype,
                covered,
                rdatas,
            }
        })
        .collect()
}

/// The RRs of an RRset's wire form (each `TYPE CLASS TTL RDLENGTH RDATA`).
fn rr_slices(mut wire: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while wire.len() >= 10 {
        let len = 10 + u16::from_be_bytes([wire[8], wire[9]]) as usize;
        out.push(&wire[..len]);
        wire = &wire[len..];
    }
    out
}

/// Whether two answers (of `a` and of `b`, to `qname`) are the same: the
/// outcome, AA, and each section's (owner, RRs: type, class, TTL, rdata),
/// the RRs of an RRset in any order and the additional section's RRsets
/// too, as their order carries no meaning (RFC 2181 §5, RFC 1034 §4.3.2
/// step 6). Allocates only when the bytes differ.
fn same_answer(a: &Zone, ra: &Resolution, b: &Zone, rb: &Resolution, qname: &[u8]) -> bool {
    let same_item = |x: (Owner, u32), y: (Owner, u32)| {
        if owner_wire(a, qname, x.0) != owner_wire(b, qname, y.0) {
            return false;
        }
        let (wa, wb) = (a.rrset_wire(x.1), b.rrset_wire(y.1));
        if wa == wb {
            return true;
        }
        let (mut sa, mut sb) = (rr_slices(wa), rr_slices(wb));
        sa.sort_unstable();
        sb.sort_unstable();
        sa == sb
    };
    let in_order = |x: &Section, y: &Section| {
        x.items().len() == y.items().len() && x.items().iter().zip(y.items()).all(|(&p, &q)| same_item(p, q))
    };
    let any_order = |x: &Section, y: &Section| {
        x.items().len() == y.items().len()
            && x.items().iter().all(|&p| y.items().iter().any(|&q| same_item(p, q)))
            && y.items().iter().all(|&q| x.items().iter().any(|&p| same_item(p, q)))
    };
    ra.outcome == rb.outcome
        && ra.authoritative == rb.authoritative
        && in_order(&ra.answer, &rb.answer)
        && in_order(&ra.authority, &rb.authority)
        && any_order(&ra.additional, &rb.additional)
}

/// A hash of an answer's content, to check an answer seen before only once.
fn answer_hash(z: &Zone, r: &Resolution, qname: &[u8], qtype: Rtype, day: u64) -> u64 {
    let mut h = DefaultHasher::new();
    (qname, qtype.0, day, r.outcome as u8, r.authoritative).hash(&mut h);
    for s in [&r.answer, &r.authority, &r.additional] {
        s.items().len().hash(&mut h);
        for &(owner, rs) in s.items() {
            owner_wire(z, qname, owner).hash(&mut h);
            z.rrset_wire(rs).hash(&mut h);
        }
    }
    h.finish()
}

/// The answer as text, for the failure messages: outcome, AA, then each
/// section's records (the additional section's sorted).
fn answer(z: &Zone, qname: &[u8], qtype: Rtype, dnssec_ok: bool) -> String {
    let mut r = Resolution::default();
    z.resolve_dnssec(qname, qtype, dnssec_ok, &mut r);
    let show = |s: &Section, sort: bool| {
        let mut items: Vec<String> = s
            .items()
            .iter()
            .flat_map(|&(owner, rs)| {
                let o = Name::from_wire(owner_wire(z, qname, owner)).unwrap();
                let set = z.rrset(rs);
                RrIter::new(z.rrset_wire(rs))
                    .map(|rdata| format!("{o} {} {} {}", set.ttl, set.rtype, format_rdata(set.rtype, rdata)))
                    .collect::<Vec<_>>()
            })
            .collect();
        if sort {
            items.sort();
        }
        items.iter().map(|i| format!("\n    {i}")).collect::<String>()
    };
    format!(
        "{:?} aa={}\n  AN:{}\n  NS:{}\n  AR:{}",
        r.outcome,
        r.authoritative,
        show(&r.answer, false),
        show(&r.authority, false),
        show(&r.additional, true)
    )
}

// ---------------------------------------------------------------------------
// What a validator checks.

struct Checker {
    apex: Name,
    dnskeys: Vec<Vec<u8>>,
    /// NSEC3 hash parameters; `None` for NSEC.
    nsec3: Option<(u16, Vec<u8>)>,
    now: u32,
    /// Signatures verified and answers checked (hashes of the data signed
    /// and signature, or of the answer).
    verified: HashSet<u64>,
    stats: Stats,
}

#[derive(Default, Debug)]
struct Stats {
    /// Questions asked of both zones.
    compared: usize,
    /// Distinct answers with DO checked.
    answers: usize,
    signatures: usize,
    nxdomain: usize,
    nodata: usize,
    wildcard: usize,
    /// Of which the wildcard's own NSEC asked for (see `check`).
    wildcard_nsec: usize,
    /// NODATA for NSEC at a CNAME in an NSEC3 zone (see `check`).
    alias_nsec: usize,
    referral_secure: usize,
    referral_insecure: usize,
    cname: usize,
}

fn first_label(name: &Name) -> Vec<u8> {
    name.labels().next().unwrap_or(&[]).to_ascii_lowercase()
}

/// `lo < x < hi` on a ring (a chain wraps from its last owner to its first).
fn between<T: Ord>(lo: &T, x: &T, hi: &T) -> bool {
    if lo < hi {
        lo < x && x < hi
    } else {
        x > lo || x < hi
    }
}

/// The ancestor (or self) of `name` with `labels` labels.
fn ancestor_with(name: &Name, labels: usize) -> Name {
    let mut a = name.clone();
    while a.label_count() > labels {
        a = a.parent().unwrap();
    }
    a
}

impl Checker {
    fn day(&self) -> u64 {
        self.now as u64 / 86400
    }

    fn hashed(&self, name: &Name) -> Vec<u8> {
        let (iterations, salt) = self.nsec3.as_ref().unwrap();
        let h = nsec3_hash(name, salt, *iterations);
        first_label(&nsec3_owner(&h, &self.apex).unwrap())
    }

    /// The NSEC records of a section: (owner, next name, types).
    fn nsecs(&self, sets: &[Set]) -> Vec<(Name, Name, Vec<Rtype>)> {
        sets.iter()
            .filter(|s| s.rtype == Rtype::NSEC)
            .map(|s| {
                let d = s.rdatas[0];
                let len = wire_name_len(d).unwrap();
                let next = Name::from_wire(&d[..len]).unwrap();
                (
                    s.owner.to_lowercase(),
                    next.to_lowercase(),
                    bitmap_types(&d[len..]).unwrap(),
                )
            })
            .collect()
    }

    /// The NSEC3 records of a section: (owner hash label, next hash label, types).
    fn nsec3s(&self, sets: &[Set]) -> Vec<(Vec<u8>, Vec<u8>, Vec<Rtype>)> {
        sets.iter()
            .filter(|s| s.rtype == Rtype::NSEC3)
            .map(|s| {
                let d = s.rdatas[0];
                let salt_len = d[4] as usize;
                let hash_len = d[5 + salt_len] as usize;
                let next = &d[6 + salt_len..6 + salt_len + hash_len];
                let next = first_label(&nsec3_owner(next, &self.apex).unwrap());
                let types = bitmap_types(&d[6 + salt_len + hash_len..]).unwrap();
                (first_label(&s.owner), next, types)
            })
            .collect()
    }

    fn nsec_covers(&self, nsecs: &[(Name, Name, Vec<Rtype>)], x: &Name) -> bool {
        let x = canonical_key(x);
        nsecs
            .iter()
            .any(|(o, nx, _)| between(&canonical_key(o), &x, &canonical_key(nx)))
    }

    fn nsec3_covers(&self, n3: &[(Vec<u8>, Vec<u8>, Vec<Rtype>)], x: &Name) -> bool {
        let h = self.hashed(x);
        n3.iter().any(|(o, nx, _)| between(o, &h, nx))
    }

    fn nsec3_matching<'a>(
        &self,
        n3: &'a [(Vec<u8>, Vec<u8>, Vec<Rtype>)],
        x: &Name,
    ) -> Option<&'a (Vec<u8>, Vec<u8>, Vec<Rtype>)> {
        let h = self.hashed(x);
        n3.iter().find(|(o, _, _)| *o == h)
    }

    /// Checks one answer given with DO; the problems, as text.
    fn check(&mut self, z: &Zone, qname: &[u8], qtype: Rtype, r: &Resolution) -> Vec<String> {
        let mut errs = Vec::new();
        self.stats.answers += 1;
        let an = sets(z, qname, &r.answer);
        let ns = sets(z, qname, &r.authority);
        let ar = sets(z, qname, &r.additional);
        // Every RRSIG verifies over the RRset it covers, in its section.
        for (sec, list) in [("answer", &an), ("authority", &ns), ("additional", &ar)] {
            for sig in list.iter().filter(|s| s.rtype == Rtype::RRSIG) {
                let Some(covered) = list
                    .iter()
                    .find(|s| s.rtype == sig.covered && s.owner.eq_ignore_case(&sig.owner))
                else {
                    if !(sec == "answer" && qtype == Rtype::RRSIG) {
                        errs.push(format!("{sec}: RRSIG {} {} without its RRset", sig.owner, sig.covered));
                    }
                    continue;
                };
                for rdata in &sig.rdatas {
                    if let Err(e) = self.verify_sig(&covered.owner, covered.rtype, &covered.rdatas, rdata) {
                        errs.push(format!("{sec}: {} {}: {e}", covered.owner, covered.rtype));
                    }
                }
            }
            // Each authoritative RRset is signed; not a referral's NS, nor
            // the additional section (glue, RFC 4035 §3.1.4).
            if sec == "additional" {
                continue;
            }
            for s in list.iter().filter(|s| s.rtype != Rtype::RRSIG) {
                let referral_ns = sec == "authority" && s.rtype == Rtype::NS && !s.owner.eq_ignore_case(&self.apex);
                let signed = list
                    .iter()
                    .any(|g| g.rtype == Rtype::RRSIG && g.covered == s.rtype && g.owner.eq_ignore_case(&s.owner));
                if !referral_ns && !signed {
                    errs.push(format!("{sec}: {} {} has no RRSIG", s.owner, s.rtype));
                }
            }
        }
        // Follow the CNAMEs of the answer to the name last looked up.
        let mut cur = Name::from_wire(qname).unwrap();
        for _ in 0..20 {
            let Some(c) = an
                .iter()
                .find(|s| s.rtype == Rtype::CNAME && s.owner.eq_ignore_case(&cur))
            else {
                break;
            };
            let d = c.rdatas[0];
            cur = Name::from_wire(&d[..wire_name_len(d).unwrap()]).unwrap().to_lowercase();
            self.stats.cname += 1;
        }
        let nsecs = self.nsecs(&ns);
        let n3 = self.nsec3s(&ns);
        let denials = nsecs.len() + n3.len();
        // Wildcard expansions: proof that the name itself does not exist
        // (RFC 4035 §3.1.3.3, RFC 5155 §7.2.6).
        for sig in an.iter().filter(|s| s.rtype == Rtype::RRSIG) {
            let labels = sig.rdatas[0][3] as usize;
            let count = sig.owner.label_count();
            if labels >= count || (sig.owner.is_wildcard() && labels + 1 == count) {
                continue;
            }
            self.stats.wildcard += 1;
            let proven = match self.nsec3 {
                None if sig.covered == Rtype::NSEC => {
                    // The wildcard's own NSEC, asked for at a name it
                    // answers for: the record that proves the name absent
                    // is that NSEC at its real owner, which is already in
                    // the answer (synthesised), so neither knotd nor we
                    // repeat it in authority. Read it at the wildcard.
                    self.stats.wildcard_nsec += 1;
                    let wild = ancestor_with(&sig.owner, labels).prepend(b"*").unwrap();
                    let own: Vec<_> = self
                        .nsecs(&an)
                        .into_iter()
                        .map(|(_, next, types)| (wild.clone(), next, types))
                        .collect();
                    self.nsec_covers(&own, &sig.owner) || self.nsec_covers(&nsecs, &sig.owner)
                }
                None => self.nsec_covers(&nsecs, &sig.owner),
                Some(_) => self.nsec3_covers(&n3, &ancestor_with(&sig.owner, labels + 1)),
            };
            if !proven {
                errs.push(format!(
                    "wildcard answer for {} without proof it does not exist",
                    sig.owner
                ));
            }
        }
        let negative = ns.iter().any(|s| s.rtype == Rtype::SOA);
        if r.outcome == Outcome::NxDomain {
            self.stats.nxdomain += 1;
            if let Err(e) = self.nxdomain_proof(&cur, &nsecs, &n3) {
                errs.push(format!("NXDOMAIN for {cur}: {e}"));
            }
        } else if negative {
            self.stats.nodata += 1;
            if denials == 0 {
                errs.push(format!("NODATA for {cur} {qtype} without NSEC/NSEC3"));
            }
            // The name's own denial record must not list the type.
            let types = match self.nsec3 {
                None => nsecs.iter().find(|(o, _, _)| o.eq_ignore_case(&cur)).map(|d| &d.2),
                Some(_) => self.nsec3_matching(&n3, &cur).map(|d| &d.2),
            };
            if let Some(types) = types {
                // NSEC asked at an alias of an NSEC3 zone: answered at the
                // alias, not followed, as RRSIG and NSEC queries are (RFC
                // 4035 §2.5), and as knotd does; so its NSEC3 lists CNAME.
                let alias_nsec = qtype == Rtype::NSEC && types.contains(&Rtype::CNAME);
                self.stats.alias_nsec += usize::from(alias_nsec);
                if qtype != Rtype::ANY && (types.contains(&qtype) || (types.contains(&Rtype::CNAME) && !alias_nsec)) {
                    errs.push(format!("NODATA for {cur} {qtype} but its bit map has {types:?}"));
                }
            }
        }
        // A referral: the signed DS or the proof there is none (RFC 4035 §3.1.4).
        if let Some(cut) = ns
            .iter()
            .find(|s| s.rtype == Rtype::NS && !s.owner.eq_ignore_case(&self.apex))
        {
            let ds = ns
                .iter()
                .any(|s| s.rtype == Rtype::DS && s.owner.eq_ignore_case(&cut.owner));
            if ds {
                self.stats.referral_secure += 1;
            } else {
                self.stats.referral_insecure += 1;
                let types = match self.nsec3 {
                    None => nsecs
                        .iter()
                        .find(|(o, _, _)| o.eq_ignore_case(&cut.owner))
                        .map(|d| &d.2),
                    Some(_) => self.nsec3_matching(&n3, &cut.owner).map(|d| &d.2),
                };
                match types {
                    Some(t) if t.contains(&Rtype::NS) && !t.contains(&Rtype::DS) => {}
                    other => errs.push(format!(
                        "referral to {} without DS nor proof of none: {other:?}",
                        cut.owner
                    )),
                }
            }
        }
        errs
    }

    /// RFC 4035 §3.1.3.2 / RFC 5155 §7.2.2: `name` is covered, and so is the
    /// wildcard at its closest encloser (which, for NSEC3, is matched).
    fn nxdomain_proof(
        &self,
        name: &Name,
        nsecs: &[(Name, Name, Vec<Rtype>)],
        n3: &[(Vec<u8>, Vec<u8>, Vec<Rtype>)],
    ) -> Result<(), String> {
        match self.nsec3 {
            None => {
                let x = name.to_lowercase();
                let Some((o, nx, _)) = nsecs.iter().find(|d| self.nsec_covers(std::slice::from_ref(*d), &x)) else {
                    return Err(format!("no NSEC covers it in {nsecs:?}"));
                };
                // The closest encloser: the longest ancestor shared with
                // either end of the covering NSEC.
                let common = |other: &Name| {
                    let mut a = x.clone();
                    while !other.is_subdomain_of(&a) {
                        a = a.parent().unwrap();
                    }
                    a
                };
                let (c1, c2) = (common(o), common(nx));
                let ce = if c1.label_count() >= c2.label_count() { c1 } else { c2 };
                let wild = ce.prepend(b"*").unwrap();
                if !self.nsec_covers(nsecs, &wild) {
                    return Err(format!("no NSEC covers {wild}"));
                }
            }
            Some(_) => {
                let mut ce = name.to_lowercase();
                loop {
                    if self.nsec3_matching(n3, &ce).is_some() {
                        break;
                    }
                    ce = match ce.parent() {
                        Some(p) if p.is_subdomain_of(&self.apex) => p,
                        _ => return Err("no NSEC3 matches a closest encloser".into()),
                    };
                }
                if ce.label_count() >= name.label_count() {
                    return Err(format!("the NSEC3 of {ce} matches: it exists"));
                }
                let next_closer = ancestor_with(&name.to_lowercase(), ce.label_count() + 1);
                if !self.nsec3_covers(n3, &next_closer) {
                    return Err(format!("no NSEC3 covers the next closer name {next_closer}"));
                }
                let wild = ce.prepend(b"*").unwrap();
                if !self.nsec3_covers(n3, &wild) {
                    return Err(format!("no NSEC3 covers {wild}"));
                }
            }
        }
        Ok(())
    }

    fn verify_sig(&mut self, owner: &Name, rtype: Rtype, rdatas: &[&[u8]], sig: &[u8]) -> Result<(), String> {
        let (h, signature) = RrsigHeader::parse(sig).ok_or("malformed RRSIG")?;
        if h.type_covered != rtype {
            return Err(format!("covers {}", h.type_covered));
        }
        if h.signer != self.apex {
            return Err(format!("signer {}", h.signer));
        }
        if !serial_le(h.inception, self.now) || !serial_le(self.now, h.expiration) {
            return Err("not valid now".into());
        }
        if h.labels as usize > owner.label_count() {
            return Err(format!("labels {} for {owner}", h.labels));
        }
        let data = signed_data(&h, owner, 1, rdatas);
        let mut hasher = DefaultHasher::new();
        (&data, signature).hash(&mut hasher);
        let id = hasher.finish();
        self.stats.signatures += 1;
        if self.verified.contains(&id) {
            return Ok(());
        }
        let key = self
            .dnskeys
            .iter()
            .find(|k| key_tag(k) == h.key_tag && k[3] == h.algorithm)
            .ok_or(format!("no DNSKEY {}", h.key_tag))?;
        if !verify(h.algorithm, &key[4..], &data, signature) {
            return Err(format!("RRSIG by {} does not verify", h.key_tag));
        }
        self.verified.insert(id);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The questions, and the comparison.

const QTYPES: [Rtype; 13] = [
    Rtype::A,
    Rtype::AAAA,
    Rtype::TXT,
    Rtype::MX,
    Rtype::CNAME,
    Rtype::NS,
    Rtype::DS,
    Rtype::NSEC,
    Rtype::NSEC3,
    Rtype::RRSIG,
    Rtype::DNSKEY,
    Rtype::SOA,
    Rtype::ANY,
];

/// Names (lower-cased wire) to ask about: `owners` and the empty
/// non-terminals above them, and around each a missing child (the first
/// in canonical order below it), a wildcard below it, a missing sibling
/// just after it in canonical order, and a name below a wildcard.
fn around(owners: impl Iterator<Item = Name>, apex: &Name) -> BTreeSet<Vec<u8>> {
    let mut names: BTreeSet<Vec<u8>> = BTreeSet::new();
    for owner in owners {
        let mut o = Some(owner.to_lowercase());
        while let Some(a) = o.filter(|a| a.is_subdomain_of(apex)) {
            names.insert(a.as_wire().to_vec());
            o = a.parent();
        }
    }
    let mut out = names.clone();
    for w in &names {
        let name = Name::from_wire(w).unwrap();
        out.insert(name.prepend(b"0").unwrap().as_wire().to_vec());
        out.insert(name.prepend(b"*").unwrap().as_wire().to_vec());
        if name.is_wildcard() {
            out.insert(name.prepend(b"x").unwrap().as_wire().to_vec());
        }
        if name != *apex {
            let mut label = first_label(&name);
            label.push(b'0');
            out.insert(name.parent().unwrap().prepend(&label).unwrap().as_wire().to_vec());
        }
    }
    out
}

/// Every name of the zone, three NSEC3 owners (RFC 5155 §7.2.8 has them
/// answered as absent), and the names around them.
fn all_questions(z: &Zone, apex: &Name) -> Vec<Vec<u8>> {
    let records = z.records();
    let nsec3_owners = records.iter().filter(|r| r.rtype == Rtype::NSEC3).take(3);
    let owners = records
        .iter()
        .filter(|r| !matches!(r.rtype, Rtype::NSEC3 | Rtype::RRSIG))
        .chain(nsec3_owners)
        .map(|r| r.owner.clone());
    let mut out = around(owners, apex);
    out.insert(n("q.r.0.example.").as_wire().to_vec());
    out.into_iter().collect()
}

fn record_set(z: &Zone) -> BTreeSet<(Vec<u8>, u16, u32, Vec<u8>)> {
    z.records()
        .into_iter()
        .map(|r| (r.owner.to_lowercase().as_wire().to_vec(), r.rtype.0, r.ttl, r.rdata))
        .collect()
}

/// The patched zone holds what the built one does and answers each of
/// `questions` as it does, for every type, with DO and without; the
/// answers with DO validate (each distinct answer checked once a day).
fn compare(patched: &Zone, built: &Zone, questions: &[Vec<u8>], checker: &mut Checker, step: &str) {
    assert_eq!(record_set(patched), record_set(built), "{step}: records");
    assert_eq!(patched.serial(), built.serial(), "{step}: serial");
    assert_eq!(patched.record_count(), built.record_count(), "{step}: record count");
    assert_eq!(patched.denial(), built.denial(), "{step}: denial");
    let mut failures = Vec::new();
    let (mut rp, mut rb) = (Resolution::default(), Resolution::default());
    for q in questions {
        for t in QTYPES {
            for dnssec_ok in [false, true] {
                patched.resolve_dnssec(q, t, dnssec_ok, &mut rp);
                built.resolve_dnssec(q, t, dnssec_ok, &mut rb);
                checker.stats.compared += 1;
                let name = Name::from_wire(q).unwrap();
                if !same_answer(patched, &rp, built, &rb, q) {
                    let (p, b) = (answer(patched, q, t, dnssec_ok), answer(built, q, t, dnssec_ok));
                    failures.push(format!("{name} {t} do={dnssec_ok}\npatched: {p}\nbuilt:   {b}"));
                } else if dnssec_ok && checker.verified.insert(answer_hash(patched, &rp, q, t, checker.day())) {
                    for e in checker.check(patched, q, t, &rp) {
                        let p = answer(patched, q, t, dnssec_ok);
                        failures.push(format!("{name} {t} do=true: {e}\n{p}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{step}: {} problems, the first:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

/// The zone the runs start from: a wildcard, an empty non-terminal, a
/// secure and an insecure delegation with glue, CNAMEs in and out of it.
fn base_records() -> Vec<Record> {
    records(
        "$ORIGIN example.
@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300
@ 3600 NS ns1
@ 3600 NS ns.elsewhere.net.
@ 3600 MX 10 mail
ns1 3600 A 192.0.2.1
mail 3600 A 192.0.2.25
www 300 A 192.0.2.80
*.w 600 TXT \"wild\"
a.b.c.ent 300 A 192.0.2.5
sub 3600 NS ns.sub
sub 3600 DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.sub 3600 A 192.0.2.53
insecure 3600 NS ns.elsewhere.net.
alias 300 CNAME www
out 300 CNAME www.example.net.
",
        "example.",
    )
}

impl Checker {
    fn new(apex: &Name, signed: &SignedZone, now: u64) -> Checker {
        Checker {
            apex: apex.clone(),
            dnskeys: signed.keys().iter().map(|k| k.key.dnskey_rdata().to_vec()).collect(),
            nsec3: match &signed.config().denial {
                Denial::Nsec => None,
                Denial::Nsec3 { iterations, salt } => Some((*iterations, salt.clone())),
            },
            now: now as u32,
            verified: HashSet::new(),
            stats: Stats::default(),
        }
    }
}

fn run(denial: Denial, seed: u64, commits: usize) {
    let apex = n("example.");
    let keys = keypair(Algorithm::EcdsaP256Sha256);
    let ds_rdata = keypair(Algorithm::EcdsaP256Sha256)[0].key.ds_rdata(&n("x.example."));
    let base = base_records();
    let mut model: Model = BTreeMap::new();
    for r in &base {
        model.entry(key(&r.owner, r.rtype)).or_default().push(r.clone());
    }
    let config = SignerConfig {
        denial: denial.clone(),
        // Short validity so that refresh re-signs along the way.
        validity: 2 * 86400,
        refresh: 86400,
        jitter: 3600,
        ..SignerConfig::default()
    };
    // A fixed clock: commits ten minutes apart.
    let mut now: u64 = 1_750_000_000;
    let mut signed = SignedZone::sign(&base, &apex, keys, config, now).unwrap();
    let mut zone = Zone::from_records(&signed.records(), &apex).unwrap();
    let mut checker = Checker::new(&apex, &signed, now);
    compare(&zone, &zone, &all_questions(&zone, &apex), &mut checker, "signed whole");
    let mut rng = Rng::new(seed);
    let mut made = Made::default();
    let (mut refreshes, mut rebuilt) = (0, 0);
    for i in 0..commits {
        now += 600;
        checker.now = now as u32;
        let changes = random_commit(&mut rng, &mut model, 2 + i as u32, &ds_rdata, &mut made);
        let diff = signed
            .apply(&changes, now)
            .unwrap_or_else(|e| panic!("commit {i}: the signer refuses {changes:?}: {e}"));
        let rrsets = zone.rrset_changes(&diff.remove, &diff.add);
        zone = zone
            .patch(&rrsets)
            .unwrap_or_else(|e| panic!("commit {i}: the patch is refused: {e:?}"));
        rebuilt += usize::from(zone.overlay_len() == 0);
        let refresh = signed.refresh(now).unwrap();
        if !refresh.is_empty() {
            refreshes += 1;
            let rrsets = zone.rrset_changes(&refresh.remove, &refresh.add);
            zone = zone
                .patch(&rrsets)
                .unwrap_or_else(|e| panic!("commit {i}: the refresh's patch is refused: {e:?}"));
        }
        let built = Zone::from_records(&signed.records(), &apex).unwrap();
        // Every commit: the names its diff touched and those around them,
        // and a rotating 32nd of all the questions; every 100 commits
        // and at the end, all of them.
        let all = all_questions(&built, &apex);
        let questions: Vec<Vec<u8>> = if i % 100 == 99 || i + 1 == commits {
            all
        } else {
            let touched = diff
                .remove
                .iter()
                .chain(&diff.add)
                .filter(|r| r.rtype != Rtype::NSEC3 && !(r.rtype == Rtype::RRSIG && r.rdata[..2] == [0, 50]))
                .map(|r| r.owner.clone());
            let mut q = around(touched, &apex);
            q.extend(all.iter().skip(i % 32).step_by(32).cloned());
            q.into_iter().collect()
        };
        compare(&zone, &built, &questions, &mut checker, &format!("commit {i}"));
    }
    let s = &checker.stats;
    eprintln!(
        "{denial:?}: {commits} commits, {made:?}, {refreshes} refreshes, {rebuilt} rebuilt, {} names; {s:?}",
        signed.name_count()
    );
    assert!(
        made.cuts > 15
            && made.secure_cuts > 8
            && made.cuts_gone > 8
            && made.cnames > 15
            && made.wildcards > 15
            && made.names_removed > 15
            && refreshes > 0
            && rebuilt > 0,
        "too few cases: {made:?}, {refreshes} refreshes, {rebuilt} rebuilt"
    );
    assert!(
        s.nxdomain > 1000
            && s.nodata > 1000
            && s.wildcard > 100
            && s.referral_secure > 100
            && s.referral_insecure > 100
            && s.cname > 100,
        "too few answers of a kind: {s:?}"
    );
}

#[test]
fn patched_signed_zone_answers_as_built_nsec() {
    run(Denial::Nsec, 0x5e7e_0001, 200);
}

#[test]
fn patched_signed_zone_answers_as_built_nsec3() {
    run(Denial::nsec3(), 0x5e7e_0002, 200);
}

/// The checker has teeth: answers from a zone whose records were damaged
/// after signing (an A record changed, the NSEC chain dropped) fail it.
#[test]
fn the_checker_rejects_damaged_answers() {
    let apex = n("example.");
    let now = 1_750_000_000;
    let signed = SignedZone::sign(
        &base_records(),
        &apex,
        keypair(Algorithm::EcdsaP256Sha256),
        SignerConfig::default(),
        now,
    )
    .unwrap();
    let mut checker = Checker::new(&apex, &signed, now);
    let problems = |checker: &mut Checker, records: &[Record], qname: &str, qtype: Rtype| {
        let z = Zone::from_records(records, &apex).unwrap();
        let q = n(qname).as_wire().to_vec();
        let mut r = Resolution::default();
        z.resolve_dnssec(&q, qtype, true, &mut r);
        checker.check(&z, &q, qtype, &r)
    };
    let good = signed.records();
    for (q, t) in [
        ("www.example.", Rtype::A),
        ("nothere.example.", Rtype::A),
        ("x.w.example.", Rtype::TXT),
        ("www.example.", Rtype::MX),
        ("host.insecure.example.", Rtype::A),
        ("host.sub.example.", Rtype::A),
    ] {
        let p = problems(&mut checker, &good, q, t);
        assert!(p.is_empty(), "{q} {t}: {p:?}");
    }
    let mut changed = good.clone();
    let www = changed
        .iter_mut()
        .find(|r| r.rtype == Rtype::A && r.owner == n("www.example."))
        .unwrap();
    www.rdata = vec![192, 0, 2, 99];
    let p = problems(&mut checker, &changed, "www.example.", Rtype::A);
    assert!(p.iter().any(|e| e.contains("does not verify")), "{p:?}");
    let unsigned: Vec<Record> = good
        .iter()
        .filter(|r| !(r.rtype == Rtype::RRSIG && r.owner == n("www.example.")))
        .cloned()
        .collect();
    let p = problems(&mut checker, &unsigned, "www.example.", Rtype::A);
    assert!(p.iter().any(|e| e.contains("has no RRSIG")), "{p:?}");
    let no_chain: Vec<Record> = good
        .iter()
        .filter(|r| r.rtype != Rtype::NSEC && !(r.rtype == Rtype::RRSIG && r.rdata[..2] == [0, 47]))
        .cloned()
        .collect();
    for (q, t, want) in [
        ("nothere.example.", Rtype::A, "NXDOMAIN"),
        ("x.w.example.", Rtype::TXT, "wildcard answer"),
        ("www.example.", Rtype::MX, "NODATA"),
        ("host.insecure.example.", Rtype::A, "referral"),
    ] {
        let p = problems(&mut checker, &no_chain, q, t);
        assert!(p.iter().any(|e| e.contains(want)), "{q} {t}: {p:?}");
    }
}
