//! Differential test: platdns and knotd serve the same zone files; `kdig`
//! asks both the same fixed set of queries, and every reply must agree in
//! RCODE, AA/TC, the question as echoed, and each section's RRsets.
//! The set covers every rule of RFC 1034 §4.3.2 the server implements.

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
