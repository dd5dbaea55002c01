//! Incremental signing equals signing whole: 1,000 random commits (names,
//! types, delegations with and without DS, glue, empty non-terminals,
//! wildcards) applied with `SignedZone::apply`, each compared with a full
//! signing of the same records; the published diff is checked against the
//! state; `refresh` keeps the signatures valid as time passes; the tools
//! check the result at checkpoints and at the end.

mod common;
use common::*;
use platdns_dnssec::verify::verify_zone;
use platdns_dnssec::{Algorithm, Denial, SignedZone, SignerConfig};
use platdns_zone::{Name, Record, RrsetChange, Rtype};
use std::collections::BTreeMap;

type Model = BTreeMap<(Vec<u8>, u16), (Name, Vec<Record>)>;

fn random_name(rng: &mut Rng) -> Name {
    const LABELS: [&str; 6] = ["a", "b", "c", "d", "*", "Mx"];
    let depth = 1 + rng.below(3);
    let mut name = n("example.");
    for _ in 0..depth {
        name = name.prepend(LABELS[rng.below(LABELS.len())].as_bytes()).unwrap();
    }
    name
}

fn key(name: &Name, t: Rtype) -> (Vec<u8>, u16) {
    (name.to_lowercase().as_wire().to_vec(), t.0)
}

/// Is `name` strictly below a delegation in the model?
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

fn set(model: &mut Model, changes: &mut Vec<RrsetChange>, name: &Name, t: Rtype, recs: Vec<Record>) {
    if recs.is_empty() {
        model.remove(&key(name, t));
    } else {
        model.insert(key(name, t), (name.clone(), recs.clone()));
    }
    changes.retain(|c| !(c.owner.eq_ignore_case(name) && c.rtype == t));
    changes.push(RrsetChange {
        owner: name.clone(),
        rtype: t,
        records: recs,
    });
}

/// One random commit: a few RRset changes and the SOA serial.
fn random_commit(rng: &mut Rng, model: &mut Model, serial: u32, ds_rdata: &[u8]) -> Vec<RrsetChange> {
    let mut changes = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let name = random_name(rng);
        match rng.below(10) {
            0..=3 => {
                let v = rng.below(250) as u8;
                let recs = (0..1 + rng.below(2))
                    .map(|i| Record::new(&name, Rtype::A, 300, vec![192, 0, 2, v.wrapping_add(i as u8)]))
                    .collect();
                set(model, &mut changes, &name, Rtype::A, recs);
            }
            4 | 5 => {
                if !below_cut(model, &name) && !model.contains_key(&key(&name, Rtype::NS)) {
                    let txt = format!("t{}", rng.below(100));
                    let mut d = vec![txt.len() as u8];
                    d.extend_from_slice(txt.as_bytes());
                    set(
                        model,
                        &mut changes,
                        &name,
                        Rtype::TXT,
                        vec![Record::new(&name, Rtype::TXT, 600, d)],
                    );
                }
            }
            6 => {
                // Remove some RRset that exists.
                let keys: Vec<_> = model
                    .keys()
                    .filter(|(o, t)| *t != Rtype::SOA.0 && !(*t == Rtype::NS.0 && *o == n("example.").as_wire()))
                    .cloned()
                    .collect();
                if !keys.is_empty() {
                    let k = &keys[rng.below(keys.len())];
                    let (owner, _) = model[k].clone();
                    let t = Rtype(k.1);
                    set(model, &mut changes, &owner, t, vec![]);
                    if t == Rtype::NS {
                        set(model, &mut changes, &owner, Rtype::DS, vec![]);
                    }
                    if t == Rtype::DS && rng.below(2) == 0 {
                        set(model, &mut changes, &owner, Rtype::NS, vec![]);
                    }
                }
            }
            7 | 8 => {
                // A delegation, secure or not; data beneath that is not glue goes.
                if name.is_wildcard() || below_cut(model, &name) {
                    continue;
                }
                // The NS target is out of the zone (a random commit may later
                // remove any A record, and in-bailiwick targets need glue);
                // address records under the cut are still made below.
                let ns = name.prepend(b"ns").unwrap();
                let target = n("ns.elsewhere.net.");
                set(
                    model,
                    &mut changes,
                    &name,
                    Rtype::NS,
                    vec![Record::new(&name, Rtype::NS, 3600, target.as_wire().to_vec())],
                );
                if rng.below(2) == 0 {
                    set(
                        model,
                        &mut changes,
                        &name,
                        Rtype::DS,
                        vec![Record::new(&name, Rtype::DS, 3600, ds_rdata.to_vec())],
                    );
                }
                let doomed: Vec<(Name, Rtype)> = model
                    .iter()
                    .filter(|(k, (o, _))| {
                        o.is_subdomain_of(&name)
                            && !(k.1 == Rtype::A.0 && *o != name)
                            && !(*o == name.to_lowercase() && matches!(Rtype(k.1), Rtype::NS | Rtype::DS))
                    })
                    .map(|(k, (o, _))| (o.clone(), Rtype(k.1)))
                    .collect();
                for (o, t) in doomed {
                    set(model, &mut changes, &o, t, vec![]);
                }
                if rng.below(2) == 0 {
                    set(
                        model,
                        &mut changes,
                        &ns,
                        Rtype::A,
                        vec![Record::new(&ns, Rtype::A, 3600, vec![192, 0, 2, 53])],
                    );
                }
            }
            _ => {
                // A deep name: empty non-terminals above it.
                if !below_cut(model, &name) && !model.contains_key(&key(&name, Rtype::NS)) {
                    let deep = name.prepend(b"x").unwrap().prepend(b"y").unwrap();
                    if !below_cut(model, &deep) {
                        set(
                            model,
                            &mut changes,
                            &deep,
                            Rtype::AAAA,
                            vec![Record::new(
                                &deep,
                                Rtype::AAAA,
                                300,
                                vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                            )],
                        );
                    }
                }
            }
        }
    }
    let apex = n("example.");
    set(
        model,
        &mut changes,
        &apex,
        Rtype::SOA,
        vec![Record::new(&apex, Rtype::SOA, 3600, soa(serial, 300))],
    );
    changes
}

fn unsigned(recs: &[Record]) -> Served {
    as_set(recs).into_iter().filter(|r| r.1 != Rtype::RRSIG.0).collect()
}

fn run(denial: Denial, seed: u64, commits: usize) {
    let apex = n("example.");
    let keys = keypair(Algorithm::EcdsaP256Sha256);
    let ds_rdata = keypair(Algorithm::Ed25519)[0].key.ds_rdata(&n("x.example."));
    let mut model: Model = BTreeMap::new();
    let base = records(
        "$ORIGIN example.\n@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n@ 3600 NS ns1\nns1 3600 A 192.0.2.1\n",
        "example.",
    );
    for r in &base {
        model
            .entry(key(&r.owner, r.rtype))
            .or_insert_with(|| (r.owner.clone(), vec![]))
            .1
            .push(r.clone());
    }
    let config = SignerConfig {
        denial,
        // Short validity so that refresh runs several times over the run.
        validity: 2 * 86400,
        refresh: 86400,
        jitter: 3600,
        ..SignerConfig::default()
    };
    // The commits are ten minutes apart and end now, so that every
    // checkpoint is valid at the real time dnssec-verify uses.
    let mut now = now() - commits as u64 * 600;
    let mut z = SignedZone::sign(&base, &apex, keys.clone(), config.clone(), now).unwrap();
    let mut served = as_set(&z.records());
    let mut rng = Rng::new(seed);
    // What the commits did, so the test can say it covered each case.
    let (mut cuts_made, mut cuts_gone, mut secure, mut wild, mut ents) = (0, 0, 0, 0, 0);
    for i in 0..commits {
        now += 600;
        let changes = random_commit(&mut rng, &mut model, 2 + i as u32, &ds_rdata);
        for c in &changes {
            match (c.rtype, c.records.is_empty()) {
                (Rtype::NS, false) => cuts_made += 1,
                (Rtype::NS, true) => cuts_gone += 1,
                (Rtype::DS, false) => secure += 1,
                (Rtype::AAAA, false) => ents += 1,
                _ => {}
            }
            wild += usize::from(c.owner.is_wildcard() && !c.records.is_empty());
        }
        let mut diffs = vec![z.apply(&changes, now).unwrap()];
        diffs.push(z.refresh(now).unwrap());
        for d in diffs {
            for r in as_set(&d.remove) {
                assert!(served.remove(&r), "commit {i}: diff removes a record not served: {r:?}");
            }
            for r in as_set(&d.add) {
                assert!(
                    served.insert(r.clone()),
                    "commit {i}: diff adds a record already served: {r:?}"
                );
            }
        }
        let inc = z.records();
        assert_eq!(served, as_set(&inc), "commit {i}: state and published diff disagree");
        let all: Vec<Record> = model.values().flat_map(|(_, v)| v.iter().cloned()).collect();
        let full = SignedZone::sign(&all, &apex, keys.clone(), config.clone(), now).unwrap();
        let (a, b) = (unsigned(&inc), unsigned(&full.records()));
        if a != b {
            let only_inc: Vec<_> = a.difference(&b).take(5).collect();
            let only_full: Vec<_> = b.difference(&a).take(5).collect();
            panic!("commit {i}: incremental differs from full signing\n only incremental: {only_inc:?}\n only full: {only_full:?}\n changes: {changes:?}");
        }
        if let Err(e) = verify_zone(&inc, &apex, now) {
            panic!("commit {i}: {:?}", &e[..e.len().min(10)]);
        }
        if (i + 1) % 250 == 0 {
            check_signed(&apex, &inc, now, &format!("commit {}", i + 1));
        }
    }
    assert!(
        cuts_made > 50 && cuts_gone > 50 && secure > 30 && wild > 50 && ents > 50,
        "too few cases: {cuts_made} cuts made, {cuts_gone} gone, {secure} DS, {wild} wildcards, {ents} deep names"
    );
    assert!(z.name_count() > 20, "the zone stayed small: {} names", z.name_count());
}

#[test]
fn thousand_random_commits_nsec() {
    run(Denial::Nsec, 0x5eed_0001, 1000);
}

#[test]
fn thousand_random_commits_nsec3() {
    run(Denial::nsec3(), 0x5eed_0002, 1000);
}
