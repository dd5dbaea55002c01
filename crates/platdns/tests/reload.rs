//! SIGHUP reloads changed zone files without dropping queries; a bad file
//! keeps the old version serving and the error names its line.

mod common;
use common::*;
use platdns_testkit::dns::{rcode, Query};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn zone_text(serial: u32, addr: &str, extra: &str) -> String {
    format!(
        "$ORIGIN reload.test.\n$TTL 300\n@ SOA ns1 host {serial} 3600 600 86400 60\n@ NS ns1\nns1 A 192.0.2.1\nwww A {addr}\n{extra}"
    )
}

fn soa_serial(server: std::net::SocketAddr) -> String {
    let r = kdig(server, &["reload.test", "SOA"]);
    r.answer
        .first()
        .map(|a| a.split_whitespace().nth(6).unwrap_or("").to_string())
        .unwrap_or_default()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn sighup_reloads_changed_files_and_keeps_a_good_version_when_the_new_one_is_bad() {
    if !require("kdig") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reload.test.zone");
    std::fs::write(&file, zone_text(1, "192.0.2.10", "")).unwrap();
    let mut server = Platdns::start(std::slice::from_ref(&file), &[]);
    assert_eq!(soa_serial(server.dns), "1");

    // A steady stream of queries runs across every reload; none may go unanswered.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, lost) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let load = {
        let (stop, sent, lost, addr) = (stop.clone(), sent.clone(), lost.clone(), server.dns);
        std::thread::spawn(move || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let q = Query::new("www.reload.test", 1).id(1).wire();
            let mut buf = [0u8; 512];
            while !stop.load(Ordering::Relaxed) {
                s.send_to(&q, addr).unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
                match s.recv_from(&mut buf) {
                    Ok((n, _)) if n > 12 && rcode(&buf) == 0 => {}
                    _ => {
                        lost.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };

    std::fs::write(&file, zone_text(2, "192.0.2.20", "")).unwrap();
    server.signal("HUP");
    wait_for("serial 2", || soa_serial(server.dns) == "2");
    assert_eq!(
        kdig(server.dns, &["www.reload.test", "A"]).answer,
        vec!["www.reload.test. 300 IN A 192.0.2.20"]
    );

    // A bad file: the old zone keeps serving.
    std::fs::write(&file, zone_text(3, "192.0.2.30", "bad A 999.1.1.1\n")).unwrap();
    server.signal("HUP");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(soa_serial(server.dns), "2");

    // Fixed again: picked up.
    std::fs::write(&file, zone_text(4, "192.0.2.40", "")).unwrap();
    server.signal("HUP");
    wait_for("serial 4", || soa_serial(server.dns) == "4");

    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    assert!(sent.load(Ordering::Relaxed) > 100);
    assert_eq!(lost.load(Ordering::Relaxed), 0, "queries lost during reloads");

    let _ = server.child.kill();
    let _ = server.child.wait();
    std::thread::sleep(Duration::from_millis(100));
    let stderr = server.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains("reload.test.zone:7: A: address: \"999.1.1.1\" is not an IPv4 address"),
        "log names the line:\n{stderr}"
    );
}
