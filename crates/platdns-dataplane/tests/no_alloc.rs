//! DESIGN §3 hot-path rule: answering a query allocates nothing. A counting
//! global allocator watches thousands of queries of every kind.

use platdns_dataplane::answer::{Identity, Responder, Transport};
use platdns_testkit::dns::{Edns, Query};
use platdns_zone::zonefile::read_file;
use platdns_zone::zonefile::{parse_str, NoIncludes};
use platdns_zone::{Catalog, Name, RrsetChange, Rtype, Steered, Zone};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

struct Counting;
static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A query of the table: ID 0x1234, and with `edns` (UDP size, version) an
/// OPT with the DO bit set.
fn query(name: &str, qtype: u16, class: u16, edns: Option<(u16, u8)>, opcode: u8) -> Vec<u8> {
    let edns = edns.map(|(udp_size, version)| Edns {
        udp_size,
        version,
        dnssec_ok: true,
    });
    Query::new(name, qtype)
        .id(0x1234)
        .class(class)
        .opcode(opcode)
        .edns(edns)
        .wire()
}

#[test]
fn answering_allocates_nothing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/zones");
    let mut catalog = Catalog::new();
    for f in ["example.com.zone", "example.net.zone", "hosted.example.com.zone"] {
        let parsed = read_file(&dir.join(f), None);
        catalog.insert(Arc::new(Zone::from_parsed(&parsed, None).expect("test zone loads")));
    }
    // The same zones after a commit: answers go through the overlay too.
    let mut patched = catalog.clone();
    let apex = Name::from_text("example.com.", None).unwrap();
    let change = |owner: &str, text: &str| {
        let p = parse_str(text, "commit", Some(&apex), &mut NoIncludes);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        RrsetChange {
            owner: Name::from_text(owner, Some(&apex)).unwrap(),
            rtype: p.records[0].rtype,
            records: p.records,
        }
    };
    let z = patched.get(&apex).unwrap().patch(&[
        change("web", "web 60 A 192.0.2.99\n"),
        change("mail", "mail 60 A 192.0.2.26\n"),
        change("new.ent", "new.ent 60 TXT \"added\"\n"),
    ]);
    let z = z.unwrap_or_else(|e| panic!("{e:?}"));
    assert!(z.overlay_len() > 0);
    patched.insert(Arc::new(z));
    // A steered name (traffic management) answers through the same path.
    struct Fixed;
    impl Steered for Fixed {
        fn answer(&self, qtype: Rtype, random: u32, out: &mut dyn FnMut(Rtype, u32, &[u8]) -> bool) -> usize {
            if qtype != Rtype::A {
                return 0;
            }
            let last = (random % 4) as u8;
            usize::from(out(Rtype::A, 30, &[192, 0, 2, last]))
        }
    }
    patched.insert_steered(&Name::from_text("lb.example.com.", None).unwrap(), Arc::new(Fixed));
    let e = Some((1232, 0));
    let queries: Vec<(Vec<u8>, Transport)> = [
        query("example.com", 6, 1, None, 0),
        query("example.com", 2, 1, e, 0),
        query("example.com", 15, 1, e, 0),
        query("WWW.Example.COM", 1, 1, None, 0),
        query("alias.example.com", 1, 1, e, 0),
        query("loop1.example.com", 1, 1, None, 0),
        query("dangling.example.com", 1, 1, None, 0),
        query("tocut.example.com", 1, 1, None, 0),
        query("a.b.wild.example.com", 1, 1, e, 0),
        query("x.cw.example.com", 1, 1, e, 0),
        query("foo.wild.example.com", 28, 1, None, 0),
        query("y.ent.example.com", 1, 1, None, 0),
        query("nx.example.com", 1, 1, e, 0),
        query("www.child.example.com", 1, 1, None, 0),
        query("child.example.com", 43, 1, None, 0),
        query("hosted.example.com", 43, 1, None, 0),
        query("www.hosted.example.com", 1, 1, None, 0),
        query("example.com", 255, 1, e, 0),
        query("big.example.com", 16, 1, None, 0),
        query("big.example.com", 16, 1, e, 0),
        query("_sip._udp.example.com", 33, 1, None, 0),
        query("svc.example.com", 64, 1, None, 0),
        query("example.org", 1, 1, None, 0),
        query("example.com", 1, 1, Some((1232, 1)), 0),
        query("example.com", 1, 1, None, 2),
        query("example.com", 1, 3, None, 0),
        query("version.bind", 16, 3, None, 0),
        query("example.com", 252, 1, None, 0),
        query("lb.example.com", 1, 1, None, 0),
        query("lb.example.com", 28, 1, e, 0),
    ]
    .into_iter()
    .flat_map(|q| [(q.clone(), Transport::Udp), (q, Transport::Tcp)])
    .chain([(vec![0u8; 5], Transport::Udp), (vec![0xff; 40], Transport::Udp)])
    .collect();

    let mut responder = Responder::new(
        1232,
        Identity {
            id: Some("node1".into()),
            version: Some("platdns".into()),
        },
    );
    let mut out = vec![0u8; 65535];
    let mut answered = 0usize;
    // The counter itself works: one deliberate allocation is seen.
    COUNTING.store(true, Ordering::SeqCst);
    std::hint::black_box(vec![1u8; 16]);
    COUNTING.store(false, Ordering::SeqCst);
    assert_eq!(ALLOCS.swap(0, Ordering::SeqCst), 1);
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..100 {
        for catalog in [&catalog, &patched] {
            for (q, t) in &queries {
                if responder.respond(catalog, q, *t, &mut out).is_some() {
                    answered += 1;
                }
            }
        }
    }
    COUNTING.store(false, Ordering::SeqCst);
    assert!(answered > 10_000, "answered {answered}");
    assert_eq!(
        ALLOCS.load(Ordering::SeqCst),
        0,
        "allocations while answering {answered} queries"
    );
}
