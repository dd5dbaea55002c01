//! Malformed packets never crash the server or change what it answers:
//! 12,000 random and mutated packets over UDP, and 2,000 over TCP (with bad
//! framing too), then a valid query must still get the right answer.

mod common;
use common::*;
use platdns_testkit::dns::{ancount, arcount, framed, id, rcode, read_framed, Edns, Query};
use platdns_testkit::Rng;
use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

/// The test's query: `id`, one question, an OPT (1232 bytes, DO clear) with
/// `edns`.
fn query(id: u16, name: &str, qtype: u16, edns: bool) -> Vec<u8> {
    Query::new(name, qtype).id(id).edns(edns.then(Edns::default)).wire()
}

fn garbage(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(4) {
        0 => (0..rng.below(600)).map(|_| rng.next_u64() as u8).collect(),
        _ => {
            let mut p = seeds[rng.below(seeds.len())].clone();
            for _ in 0..1 + rng.below(6) {
                match rng.below(6) {
                    0 if !p.is_empty() => {
                        let i = rng.below(p.len());
                        p[i] = rng.next_u64() as u8;
                    }
                    1 => p.truncate(rng.below(p.len() + 1)),
                    2 => p.extend((0..rng.below(40)).map(|_| rng.next_u64() as u8)),
                    // Counts (QD/AN/NS/AR) and flags are where parsers go wrong.
                    3 if p.len() >= 12 => {
                        let i = 2 + rng.below(10);
                        p[i] = rng.next_u64() as u8;
                    }
                    4 if p.len() > 14 => {
                        // A compression pointer where a label should be.
                        let i = 12 + rng.below(p.len() - 13);
                        p[i] = 0xC0 | (rng.next_u64() as u8 & 0x3f);
                    }
                    _ => {}
                }
            }
            p
        }
    }
}

fn check_still_correct(server: std::net::SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // Drain anything left from the flood, then ask.
    let mut buf = [0u8; 2048];
    sock.send_to(&query(0xbeef, "web.example.com", 1, false), server)
        .unwrap();
    let n = loop {
        let (n, _) = sock.recv_from(&mut buf).expect("server answers after the flood");
        if id(&buf[..n]) == 0xbeef {
            break n;
        }
    };
    let r = &buf[..n];
    assert_eq!(rcode(r), 0, "NOERROR");
    assert_eq!(r[2] & 0x84, 0x84, "QR and AA set");
    assert_eq!(ancount(r), 2, "both A records");
    if require("kdig") {
        let k = kdig(server, &["web.example.com", "A"]);
        assert_eq!(
            k.answer,
            vec![
                "web.example.com. 3600 IN A 192.0.2.80",
                "web.example.com. 3600 IN A 192.0.2.81"
            ]
        );
    }
}

#[test]
fn random_and_mutated_packets_do_not_hurt_the_server() {
    let zones = test_zones();
    let mut server = Platdns::start(&[zones.join("example.com.zone"), zones.join("example.net.zone")], &[]);
    let seeds: Vec<Vec<u8>> = [
        ("example.com", 6u16, false),
        ("www.example.com", 1, true),
        ("foo.wild.example.com", 16, true),
        ("child.example.com", 43, false),
        ("example.com", 255, true),
        ("big.example.com", 16, false),
        ("nx.example.com", 28, true),
    ]
    .iter()
    .map(|&(n, t, e)| query(1, n, t, e))
    .collect();
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);

    // UDP: send in bursts, reading replies as they come so none pile up.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut replies = 0;
    let mut buf = [0u8; 4096];
    for i in 0..12_000 {
        let p = garbage(&mut rng, &seeds);
        let _ = sock.send_to(&p, server.dns);
        if i % 64 == 0 {
            std::thread::sleep(Duration::from_millis(1));
            while let Ok((n, _)) = sock.recv_from(&mut buf) {
                // Every reply is at least a header and marked as a response.
                assert!(n >= 12 && buf[2] & 0x80 != 0, "malformed reply {:?}", &buf[..n]);
                replies += 1;
            }
        }
    }
    assert!(replies > 1000, "the server answered only {replies} packets");

    // TCP: framed garbage on a few connections, plus lying length prefixes.
    for conn in 0..20 {
        let Ok(mut s) = TcpStream::connect(server.dns) else {
            panic!("TCP connect failed")
        };
        s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        for _ in 0..100 {
            let p = garbage(&mut rng, &seeds);
            if s.write_all(&framed(&p)).is_err() {
                break;
            }
        }
        if conn % 2 == 0 {
            // Promise more than we send, then hang up mid-message.
            let _ = s.write_all(&[0xff, 0xff, 1, 2, 3]);
        }
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    }

    assert!(
        server.child.try_wait().unwrap().is_none(),
        "platdns exited during the flood"
    );
    check_still_correct(server.dns);
    // The answer over TCP is right too.
    let mut s = TcpStream::connect(server.dns).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(&framed(&query(7, "mail.example.com", 28, false))).unwrap();
    let resp = read_framed(&mut s).unwrap();
    assert_eq!(ancount(&resp), 1);
    assert!(resp.ends_with(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x25]));
    let _ = server.child.kill();
}

#[test]
fn tcp_pipelined_queries_are_all_answered_in_order() {
    let zones = test_zones();
    let server = Platdns::start(&[zones.join("example.com.zone")], &[]);
    let mut s = TcpStream::connect(server.dns).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut burst = Vec::new();
    for qid in 0..50u16 {
        let q = query(
            qid,
            if qid % 2 == 0 {
                "www.example.com"
            } else {
                "nx.example.com"
            },
            1,
            qid % 3 == 0,
        );
        burst.extend_from_slice(&framed(&q));
    }
    s.write_all(&burst).unwrap();
    for qid in 0..50u16 {
        let resp = read_framed(&mut s).unwrap();
        assert_eq!(id(&resp), qid);
        assert_eq!(rcode(&resp), if qid % 2 == 0 { 0 } else { 3 });
    }
}

#[test]
fn tcp_idle_connections_are_closed() {
    let zones = test_zones();
    let server = Platdns::start(&[zones.join("example.com.zone")], &["--tcp-idle-timeout", "1"]);
    let mut s = TcpStream::connect(server.dns).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = std::time::Instant::now();
    let mut buf = [0u8; 1];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "server closed the idle connection");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn classic_header_rules() {
    let zones = test_zones();
    let server = Platdns::start(&[zones.join("example.com.zone")], &[]);
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let mut buf = [0u8; 2048];
    let ask = |p: &[u8], buf: &mut [u8]| -> Option<usize> {
        sock.send_to(p, server.dns).unwrap();
        sock.recv_from(buf).ok().map(|(n, _)| n)
    };
    // Shorter than a header: no reply.
    assert_eq!(ask(&[0u8; 11], &mut buf), None);
    // A response (QR set): no reply.
    let mut q = query(1, "example.com", 1, false);
    q[2] |= 0x80;
    assert_eq!(ask(&q, &mut buf), None);
    // Opcode STATUS (2): NOTIMP with the question echoed.
    let mut q = query(2, "example.com", 1, false);
    q[2] |= 2 << 3;
    let n = ask(&q, &mut buf).unwrap();
    assert_eq!(rcode(&buf), 4);
    assert_eq!(&buf[12..n], &q[12..]);
    // An opcode not served, with no question (DSO, opcode 6, has none;
    // 15 is unassigned): NOTIMP, the opcode checked before the question
    // count (RFC 1035 §4.1.1, RFC 8490 §5.1), as knotd answers.
    for opcode in [6u8, 15] {
        let q = [0, 7, opcode << 3, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let n = ask(&q, &mut buf).unwrap();
        assert_eq!((rcode(&buf), n, buf[2] >> 3 & 0x0f), (4, 12, opcode), "opcode {opcode}");
    }
    // Two questions: FORMERR.
    let mut q = query(3, "example.com", 1, false);
    q[5] = 2;
    ask(&q, &mut buf).unwrap();
    assert_eq!(rcode(&buf), 1);
    // No question, with an OPT: FORMERR, and an OPT back (RFC 6891 §6.1.1).
    let mut q = vec![0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    q.extend_from_slice(
        &Edns {
            dnssec_ok: true,
            ..Edns::default()
        }
        .wire(),
    );
    let n = ask(&q, &mut buf).unwrap();
    assert_eq!((rcode(&buf), arcount(&buf), n), (1, 1, 12 + 11), "{:?}", &buf[..n]);
    assert_eq!(
        (buf[14], buf[18], buf[19] & 0x80),
        (41, 0, 0x80),
        "version 0, DO echoed"
    );
    // Two OPT records: FORMERR.
    let mut q = query(4, "example.com", 1, true);
    q[11] = 2;
    q.extend_from_slice(&Edns::default().wire());
    ask(&q, &mut buf).unwrap();
    assert_eq!(rcode(&buf), 1);
    // AXFR over UDP: NOTIMP (transfers are TCP only).
    ask(&query(5, "example.com", 252, false), &mut buf).unwrap();
    assert_eq!(rcode(&buf), 4);
    // Identity: CH TXT version.bind answered, with TTL 0.
    let mut q = query(6, "version.bind", 16, false);
    let l = q.len();
    q[l - 1] = 3;
    let n = ask(&q, &mut buf).unwrap();
    assert_eq!(rcode(&buf), 0);
    assert!(String::from_utf8_lossy(&buf[..n]).contains("platdns"));
}
