//! Any bytes as a query, over UDP and TCP: the responder must not panic, and
//! whatever it sends must be a response to that query that fits the transport.
#![no_main]

use libfuzzer_sys::fuzz_target;
use platdns_dataplane::answer::{Identity, Responder, Transport};
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::{Catalog, Zone};
use std::sync::{Arc, OnceLock};

fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut c = Catalog::new();
        for text in [
            include_str!("../../tests/data/zones/example.com.zone"),
            include_str!("../../tests/data/zones/example.net.zone"),
            include_str!("../../tests/data/zones/hosted.example.com.zone"),
        ] {
            // The $INCLUDE line fails here; drop it, the rest is a full zone.
            let text: String = text.lines().filter(|l| !l.starts_with("$INCLUDE")).map(|l| format!("{l}\n")).collect();
            let parsed = parse_str(&text, "fuzz.zone", None, &mut NoIncludes);
            c.insert(Arc::new(Zone::from_parsed(&parsed, None).expect("test zone")));
        }
        c
    })
}

fuzz_target!(|data: &[u8]| {
    let mut responder = Responder::new(1232, Identity { id: Some("fuzz".into()), version: None });
    let mut out = vec![0u8; 65535];
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Some(n) = responder.respond(catalog(), data, transport, &mut out) {
            assert!(n >= 12, "reply shorter than a header");
            assert_eq!(&out[..2], &data[..2], "reply carries the query's ID");
            assert!(out[2] & 0x80 != 0, "reply has QR set");
            if transport == Transport::Udp {
                assert!(n <= 1232, "UDP reply of {n} octets");
            }
        }
    }
});
