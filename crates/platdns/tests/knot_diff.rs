//! Differential test: platdns and knotd serve the same zone files; `kdig`
//! asks both the same fixed set of queries, and every reply must agree in
//! RCODE, AA/TC, the question as echoed, and each section's RRsets.
//! The set covers every rule of RFC 1034 §4.3.2 the server implements.
//!
//! `signed_answers_match_knotd` does the same for DNSSEC: a zone signed by
//! ldns-signzone (NSEC, and NSEC3), every name in it and around it asked
//! for 15 types with the DO bit set and not.

mod common;
use common::*;

/// (description, kdig arguments).
const QUERIES: &[(&str, &[&str])] = &[
    // Exact matches, each rtype, with additional-section processing.
    ("apex SOA", &["example.com", "SOA"]),
    ("apex NS + glue", &["example.com", "NS"]),
    ("apex MX + additional", &["example.com", "MX"]),
    ("apex A", &["example.com", "A"]),
    ("apex AAAA", &["example.com", "AAAA"]),
    ("apex TXT with escapes", &["example.com", "TXT"]),
    ("apex CAA", &["example.com", "CAA"]),
    ("apex HTTPS", &["example.com", "HTTPS"]),
    ("SRV + additional", &["_sip._udp.example.com", "SRV"]),
    ("SVCB", &["svc.example.com", "SVCB"]),
    ("TLSA", &["tlsa.example.com", "TLSA"]),
    (
        "TLSA under CNAME owner's subtree",
        &["_443._tcp.www.example.com", "TLSA"],
    ),
    ("NAPTR", &["naptr.example.com", "NAPTR"]),
    ("PTR", &["ptr.example.com", "PTR"]),
    ("DNSKEY", &["dnskey.example.com", "DNSKEY"]),
    ("unknown type RFC 3597", &["unknown.example.com", "TYPE65534"]),
    ("RRset with TTL mismatch", &["web.example.com", "A"]),
    ("included file apex", &["sub.example.com", "A"]),
    ("included file name", &["host.sub.example.com", "A"]),
    // Case: the question is echoed as asked; data matched case-insensitively.
    ("mixed-case QNAME", &["WwW.ExAmPlE.CoM", "A"]),
    ("mixed-case owner in zone", &["mixed.example.com", "A"]),
    // CNAME chains.
    ("CNAME then A", &["www.example.com", "A"]),
    ("CNAME chain of two", &["alias.example.com", "A"]),
    ("CNAME asked directly", &["www.example.com", "CNAME"]),
    ("CNAME loop", &["loop1.example.com", "A"]),
    ("CNAME to itself", &["self.example.com", "A"]),
    ("CNAME to missing name: NXDOMAIN", &["dangling.example.com", "A"]),
    ("CNAME out of zone", &["out.example.com", "A"]),
    ("CNAME into a delegation", &["tocut.example.com", "A"]),
    ("CNAME then NODATA", &["www.example.com", "MX"]),
    // Wildcards (RFC 4592).
    ("wildcard A", &["foo.wild.example.com", "A"]),
    ("wildcard deeper", &["a.b.c.wild.example.com", "A"]),
    ("wildcard TXT", &["foo.wild.example.com", "TXT"]),
    ("wildcard NODATA", &["foo.wild.example.com", "AAAA"]),
    ("existing name beside wildcard", &["sub.wild.example.com", "A"]),
    (
        "existing name beside wildcard, other type",
        &["sub.wild.example.com", "TXT"],
    ),
    ("wildcard itself", &["*.wild.example.com", "A"]),
    ("wildcard CNAME", &["x.cw.example.com", "A"]),
    ("empty non-terminal blocks wildcard", &["b.ent2.example.com", "A"]),
    (
        "below empty non-terminal under wildcard",
        &["c.b.ent2.example.com", "A"],
    ),
    ("name under wildcard's sibling ENT", &["a.b.ent2.example.com", "TXT"]),
    // Empty non-terminals, NODATA, NXDOMAIN.
    ("empty non-terminal NODATA", &["y.ent.example.com", "A"]),
    ("NODATA", &["mail.example.com", "TXT"]),
    ("NXDOMAIN", &["nx.example.com", "A"]),
    ("NXDOMAIN deep", &["a.b.nx.example.com", "AAAA"]),
    // Delegations.
    ("referral at cut", &["child.example.com", "A"]),
    ("referral below cut", &["www.child.example.com", "A"]),
    ("referral for NS at cut", &["child.example.com", "NS"]),
    ("DS at cut from parent", &["child.example.com", "DS"]),
    ("DS missing at cut: NODATA", &["nodschild.example.com", "DS"]),
    ("glue name below cut", &["ns.child.example.com", "A"]),
    ("referral without glue", &["x.nodschild.example.com", "A"]),
    // Several zones: longest match; DS from the parent side.
    ("child zone by longest match", &["www.hosted.example.com", "A"]),
    ("child zone apex SOA", &["hosted.example.com", "SOA"]),
    ("DS for hosted child asked of parent", &["hosted.example.com", "DS"]),
    ("second zone", &["example.net", "NS"]),
    ("outside every zone: REFUSED", &["example.org", "A"]),
    ("root: REFUSED", &[".", "NS"]),
    // ANY (RFC 8482) over UDP and TCP.
    ("ANY minimal", &["example.com", "ANY"]),
    ("ANY over TCP", &["example.com", "ANY", "+tcp"]),
    ("ANY at CNAME", &["www.example.com", "ANY"]),
    ("ANY at ENT", &["y.ent.example.com", "ANY"]),
    // EDNS (RFC 6891), truncation, TCP.
    ("EDNS", &["example.com", "SOA", "+edns"]),
    ("EDNS DO echoed", &["example.com", "A", "+dnssec"]),
    ("EDNS version 1: BADVERS", &["example.com", "SOA", "+edns=1"]),
    ("TC without EDNS", &["big.example.com", "TXT", "+ignore", "+noedns"]),
    (
        "TC with small EDNS size",
        &["big.example.com", "TXT", "+ignore", "+bufsize=600"],
    ),
    ("large answer over TCP", &["big.example.com", "TXT", "+tcp"]),
    (
        "large answer with large EDNS",
        &["big.example.com", "TXT", "+bufsize=1232", "+ignore"],
    ),
    ("TCP NXDOMAIN", &["nx.example.com", "A", "+tcp"]),
    // Classes and meta types.
    ("class CH outside identity: REFUSED", &["example.com", "A", "-c", "CH"]),
];

#[test]
fn answers_match_knotd() {
    if !(require("knotd") && require("kdig")) {
        return;
    }
    let zones = test_zones();
    let files = [
        ("example.com.", zones.join("example.com.zone")),
        ("hosted.example.com.", zones.join("hosted.example.com.zone")),
        ("example.net.", zones.join("example.net.zone")),
    ];
    let knot = Knot::start(&files);
    let paths: Vec<_> = files.iter().map(|(_, p)| p.clone()).collect();
    let ours = Platdns::start(&paths, &[]);

    let mut failures = Vec::new();
    for (what, args) in QUERIES {
        let k = kdig(knot.dns, args);
        let p = kdig(ours.dns, args);
        assert!(!k.rcode.is_empty(), "knotd gave no reply to {what}: {}", k.raw);
        let same = k.rcode == p.rcode
            && k.flags == p.flags
            && k.question == p.question
            && k.answer == p.answer
            && k.authority == p.authority
            && k.additional == p.additional
            && k.edns.is_some() == p.edns.is_some()
            && k.edns.as_deref().map(|e| e.contains("ext-rcode: BADVERS"))
                == p.edns.as_deref().map(|e| e.contains("ext-rcode: BADVERS"));
        if !same {
            failures.push(format!(
                "--- {what} {args:?}\nknotd:\n{}\nplatdns:\n{}\n{k:?}\n{p:?}",
                k.raw, p.raw
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} queries differ:\n{}",
        failures.len(),
        QUERIES.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Signed zones: the same zone signed by ldns-signzone (NSEC, and NSEC3 with
// no extra iterations), served by knotd as is (dnssec-signing: off) and by
// platdns from the file; every question about every name asked with the DO
// bit set and not, and the replies must agree record for record (RRSIGs,
// NSEC/NSEC3 proofs of NXDOMAIN, NODATA, wildcard answers and referrals).

/// The zone to sign, under `apex`: wildcards (one answering MX and A, one
/// a CNAME), empty non-terminals, a secure and two insecure delegations
/// (with and without glue), CNAMEs in the zone, out of it, in chains, into
/// a wildcard, into a delegation and to nothing, MX targets in and out of
/// the zone, and a few generated hosts that name each other.
fn zone_to_sign(apex: &str) -> String {
    let mut z = format!(
        "$ORIGIN {apex}
$TTL 3600
@ SOA ns1 hostmaster 1 3600 600 604800 300
@ NS ns1
@ NS ns2.example.net.
@ MX 10 mail
@ MX 20 mx.example.net.
@ TXT \"apex\"
ns1 A 192.0.2.1
mail A 192.0.2.3
mail AAAA 2001:db8::3
www A 192.0.2.4
www AAAA 2001:db8::4
Mixed 600 A 192.0.2.10
alias CNAME www
ext CNAME www.example.net.
chain CNAME alias
dangling CNAME nothere
wcname CNAME x.w
tocut CNAME host.sub
* TXT \"wild\"
*.w MX 10 mail
*.w A 192.0.2.9
*.cw CNAME www
a.b.c.ent A 192.0.2.5
x.y.ent2 TXT \"deep\"
srv._tcp SRV 0 5 443 www
sub NS ns.sub
ns.sub A 192.0.2.6
secure NS ns.secure
secure DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.secure A 192.0.2.7
outside NS ns.example.net.
"
    );
    for i in 0..6 {
        z += &format!("h{i} 300 A 192.0.2.{}\n", 20 + i);
        z += &format!("h{i} MX 10 h{}\n", (i + 1) % 6);
        if i % 2 == 0 {
            z += &format!("x.h{i} TXT \"below h{i}\"\n");
        }
    }
    z
}

/// Runs a tool in `dir`; its stdout. Panics with its output when it fails.
fn run_in(dir: &std::path::Path, tool: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Writes the zone for `apex` and signs it with fresh keys (ECDSA P-256, a
/// KSK and a ZSK): NSEC, or NSEC3 with 0 extra iterations and no salt.
fn sign_with_ldns(dir: &std::path::Path, apex: &str, nsec3: bool) -> std::path::PathBuf {
    let unsigned = dir.join(format!("{apex}zone"));
    std::fs::write(&unsigned, zone_to_sign(apex)).unwrap();
    let ksk = run_in(
        dir,
        "ldns-keygen",
        &["-a", "ECDSAP256SHA256", "-r", "/dev/urandom", "-k", apex],
    );
    let zsk = run_in(
        dir,
        "ldns-keygen",
        &["-a", "ECDSAP256SHA256", "-r", "/dev/urandom", apex],
    );
    let signed = dir.join(format!("{apex}signed"));
    let (u, s) = (unsigned.to_str().unwrap(), signed.to_str().unwrap());
    let mut args = vec!["-o", apex, "-f", s];
    if nsec3 {
        args.extend(["-n", "-t", "0"]);
    }
    args.extend([u, &zsk, &ksk]);
    run_in(dir, "ldns-signzone", &args);
    signed
}

/// The questions' names for a zone: every owner and empty non-terminal,
/// and around each a missing child, a wildcard child and a missing sibling
/// just after it in canonical order; names below a wildcard, spelt in
/// mixed case, and the first NSEC3 owners (which RFC 5155 §7.2.8 has
/// answered as absent).
fn signed_question_names(apex: &str, signed: &std::path::Path) -> Vec<String> {
    use platdns_zone::zonefile::{parse_str, NoIncludes};
    use platdns_zone::{Name, Rtype};
    let origin = Name::from_text(apex, None).unwrap();
    let text = std::fs::read_to_string(signed).unwrap();
    let parsed = parse_str(&text, "signed", Some(&origin), &mut NoIncludes);
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
    let hashed: Vec<Name> = parsed
        .records
        .iter()
        .filter(|r| r.rtype == Rtype::NSEC3)
        .map(|r| r.owner.to_lowercase())
        .collect();
    let mut names = std::collections::BTreeSet::new();
    for r in &parsed.records {
        let owner = r.owner.to_lowercase();
        if hashed.contains(&owner) && hashed.iter().take(2).all(|h| *h != owner) {
            continue;
        }
        let mut o = Some(owner);
        while let Some(a) = o.filter(|a| a.is_subdomain_of(&origin)) {
            names.insert(a.to_string());
            o = a.parent();
        }
    }
    let mut out: Vec<String> = Vec::new();
    for name in &names {
        out.push(name.clone());
        out.push(format!("nx.{name}"));
        if !name.starts_with("*.") {
            out.push(format!("*.{name}"));
        }
        if name != apex {
            let (first, rest) = name.split_once('.').unwrap();
            out.push(format!("{first}0.{rest}"));
        }
    }
    for extra in [
        "WwW",
        "a.nothere",
        "x.*.w",
        "a.b.foo.w",
        "*.zzz",
        "*.zzz.w",
        "*.a.nothere",
        "zz",
        "0",
        "~",
        "A.B.C.ENT",
        "deep.x.y.sub",
    ] {
        out.push(format!("{extra}.{apex}"));
    }
    out
}

/// knotd 3.2 leaves out the proof that the name asked for does not exist
/// when that name starts with a `*` label but is answered by another
/// wildcard (`*.zzz.example.` by `*.example.`): it takes the name for the
/// wildcard itself. RFC 4035 §3.1.3.3 and RFC 5155 §7.2.5/§7.2.6 ask for
/// the proof (the NSEC covering the name; the NSEC3 covering the next closer
/// name and matching the closest encloser), which we give. Such a reply is
/// accepted when it is knotd's with exactly NSEC/NSEC3 records (and their
/// RRSIGs) added to the authority section.
fn knotd_skips_wildcard_proof(qname: &str, knot: &Reply, ours: &Reply) -> bool {
    let denial = |rr: &str| {
        let w: Vec<&str> = rr.split_whitespace().collect();
        matches!(w.get(3), Some(&"NSEC") | Some(&"NSEC3"))
            || (w.get(3) == Some(&"RRSIG") && matches!(w.get(4), Some(&"NSEC") | Some(&"NSEC3")))
    };
    qname.starts_with("*.")
        && knot.authority.iter().all(|rr| ours.authority.contains(rr))
        && ours
            .authority
            .iter()
            .filter(|rr| !knot.authority.contains(rr))
            .all(|rr| denial(rr))
}

const SIGNED_QTYPES: [&str; 15] = [
    "A",
    "AAAA",
    "MX",
    "TXT",
    "NS",
    "DS",
    "SOA",
    "DNSKEY",
    "NSEC",
    "NSEC3",
    "RRSIG",
    "CNAME",
    "ANY",
    "NSEC3PARAM",
    "SRV",
];

#[test]
fn signed_answers_match_knotd() {
    for tool in ["knotd", "kdig", "ldns-keygen", "ldns-signzone"] {
        if !require(tool) {
            return;
        }
    }
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let zones = [("nsec.example.", false), ("nsec3.example.", true)];
    let files: Vec<(&str, std::path::PathBuf)> = zones
        .iter()
        .map(|&(apex, nsec3)| (apex, sign_with_ldns(dir.path(), apex, nsec3)))
        .collect();
    let knot = Knot::start(&files);
    let paths: Vec<_> = files.iter().map(|(_, p)| p.clone()).collect();
    let ours = Platdns::start(&paths, &[]);

    let (mut failures, mut differ) = (Vec::new(), Vec::new());
    let (mut total, mut skipped_proofs) = (0, 0);
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for (apex, file) in &files {
        let mut questions = Vec::new();
        for name in signed_question_names(apex, file) {
            for t in SIGNED_QTYPES {
                for dnssec in [false, true] {
                    let extra = if dnssec { vec!["+dnssec"] } else { vec![] };
                    questions.push((name.clone(), t.to_string(), extra));
                }
            }
        }
        let common = ["+nocookie", "+bufsize=4096"];
        let k = kdig_many(knot.dns, &common, &questions);
        let p = kdig_many(ours.dns, &common, &questions);
        for ((q, k), p) in questions.iter().zip(&k).zip(&p) {
            total += 1;
            assert!(!k.rcode.is_empty(), "knotd gave no reply to {q:?}: {}", k.raw);
            *seen.entry(k.rcode.clone()).or_default() += 1;
            let same_but_authority = k.rcode == p.rcode
                && k.flags == p.flags
                && k.question == p.question
                && k.answer == p.answer
                && k.additional == p.additional
                && k.edns == p.edns;
            if same_but_authority && k.authority != p.authority && knotd_skips_wildcard_proof(&q.0, k, p) {
                skipped_proofs += 1;
                continue;
            }
            if !(same_but_authority && k.authority == p.authority) {
                differ.push(format!("{} {} {}", q.0, q.1, q.2.join(" ")));
                failures.push(format!(
                    "--- {} {} {}\nknotd:\n{}\nplatdns:\n{}",
                    q.0,
                    q.1,
                    q.2.join(" "),
                    k.raw,
                    p.raw
                ));
            }
        }
    }
    eprintln!(
        "{total} signed questions in {:.1} s, knotd's codes {seen:?}; {skipped_proofs} where knotd leaves out \
         the proof for a `*.` name answered by another wildcard",
        started.elapsed().as_secs_f64()
    );
    assert!(
        seen.get("NXDOMAIN").copied().unwrap_or(0) > 100 && seen.get("NOERROR").copied().unwrap_or(0) > 1000,
        "the questions miss a kind of answer: {seen:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {total} signed questions differ:\n{}\nthe first in full:\n{}",
        failures.len(),
        differ[..differ.len().min(300)].join("\n"),
        failures[..failures.len().min(10)].join("\n")
    );
}
