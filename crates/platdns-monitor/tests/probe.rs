//! Each probe against a real server on loopback that the test starts,
//! changes and stops.

mod common;

use common::{check, http, http_server, tls, Pki};
use platdns_monitor::check::{Http, Kind};
use platdns_monitor::probe::USER_AGENT_VALUE;
use platdns_monitor::Prober;
use platdns_steering::Health::{Down, Up};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

#[tokio::test]
async fn http_is_up_on_200_and_down_once_the_status_flips_to_503() {
    let server = http_server(None);
    let prober = Prober::new();
    let c = check(Kind::Http(http(server.port())));
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!((out.health, out.reason.as_str()), (Up, "HTTP 200"));
    let seen = server.last_seen();
    assert_eq!(seen.path, "/health");
    assert_eq!(seen.user_agent.as_deref(), Some(USER_AGENT_VALUE));
    assert_eq!(seen.host, Some(format!("127.0.0.1:{}", server.port())), "default Host");

    server.set(503, "status: ok\n");
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!((out.health, out.reason.as_str()), (Down, "HTTP 503, not 2xx/3xx"));

    // A redirect is an answer, not followed: up by default, down if not listed.
    server.set(302, "");
    assert_eq!(prober.check("127.0.0.1", &c).await.health, Up);
    assert_eq!(server.state.lock().unwrap().seen.len(), 3, "no request to /elsewhere");
    let listed = check(Kind::Http(Http {
        status_codes: vec![200, 204],
        ..http(server.port())
    }));
    let out = prober.check("127.0.0.1", &listed).await;
    assert_eq!((out.health, out.reason.as_str()), (Down, "HTTP 302, not [200, 204]"));
    server.set(204, "");
    assert_eq!(prober.check("127.0.0.1", &listed).await.health, Up);
}

#[tokio::test]
async fn http_is_down_when_the_body_stops_containing_the_match() {
    let server = http_server(None);
    let prober = Prober::new();
    let c = check(Kind::Http(Http {
        response_match: "status: ok".into(),
        ..http(server.port())
    }));
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!((out.health, out.reason.as_str()), (Up, "HTTP 200, body matches"));
    server.set(200, "status: degraded\n");
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!(out.health, Down);
    assert!(out.reason.contains("lacks \"status: ok\""), "{}", out.reason);

    // Only the first 64 KiB are read: a match beyond them is not seen.
    let mut body = "x".repeat(64 * 1024);
    body.push_str("status: ok");
    server.set(200, &body);
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!(out.health, Down, "{}", out.reason);
    assert!(out.reason.contains("65536 bytes read"), "{}", out.reason);
}

#[tokio::test]
async fn http_sends_the_configured_host_header() {
    let server = http_server(None);
    let c = check(Kind::Http(Http {
        host: Some("www.example.test".into()),
        ..http(server.port())
    }));
    assert_eq!(Prober::new().check("127.0.0.1", &c).await.health, Up);
    assert_eq!(server.last_seen().host.as_deref(), Some("www.example.test"));
}

#[tokio::test]
async fn tcp_is_down_once_the_port_closes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let prober = Prober::new();
    let c = check(Kind::Tcp { port, tls: None });
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!((out.health, out.reason), (Up, format!("connected to 127.0.0.1:{port}")));
    // A host name is resolved at the check (and each address tried in turn:
    // localhost may come as ::1 first, where nothing listens).
    assert_eq!(prober.check("localhost", &c).await.health, Up);
    drop(listener);
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!(out.health, Down);
    assert!(
        out.reason.starts_with(&format!("connect 127.0.0.1:{port}")),
        "{}",
        out.reason
    );
}

#[tokio::test]
async fn a_check_that_gets_no_answer_is_down_at_its_timeout() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut c = check(Kind::Http(http(port)));
    c.timeout = Duration::from_millis(300);
    let started = Instant::now();
    let out = Prober::new().check("127.0.0.1", &c).await;
    assert_eq!((out.health, out.reason.as_str()), (Down, "no result within 300ms"));
    assert!(started.elapsed() < Duration::from_secs(2));
    drop(listener);
}

#[tokio::test]
async fn tls_is_up_only_with_a_trusted_certificate_for_the_name() {
    let pki = Pki::new("platdns test CA");
    let prober = Prober::with_roots(pki.roots());

    let right = http_server(Some(pki.server(&["probe.test", "127.0.0.1"])));
    let c = check(Kind::Tcp {
        port: right.port(),
        tls: tls(Some("probe.test")),
    });
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!(out.health, Up, "{}", out.reason);
    assert_eq!(right.handshakes(1), [Some("probe.test".to_owned())], "SNI sent");
    // No tls_sni and an IP target: no SNI, the certificate must name the address.
    let by_ip = check(Kind::Tcp {
        port: right.port(),
        tls: tls(None),
    });
    let out = prober.check("127.0.0.1", &by_ip).await;
    assert_eq!(out.health, Up, "{}", out.reason);
    assert_eq!(right.handshakes(2)[1], None);

    // A certificate for another name.
    let other = http_server(Some(pki.server(&["other.test"])));
    let c = check(Kind::Tcp {
        port: other.port(),
        tls: tls(Some("probe.test")),
    });
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!(out.health, Down);
    assert!(out.reason.contains("certificate"), "{}", out.reason);

    // The right name from a CA we do not trust.
    let stranger = Pki::new("someone else's CA");
    let untrusted = http_server(Some(stranger.server(&["probe.test"])));
    let c = check(Kind::Tcp {
        port: untrusted.port(),
        tls: tls(Some("probe.test")),
    });
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!(out.health, Down);
    assert!(out.reason.contains("UnknownIssuer"), "{}", out.reason);
    // Nor is our own CA trusted by the default (webpki) roots.
    let c = check(Kind::Tcp {
        port: right.port(),
        tls: tls(Some("probe.test")),
    });
    assert_eq!(Prober::new().check("127.0.0.1", &c).await.health, Down);
}

#[tokio::test]
async fn https_sends_sni_and_host_separately_and_verifies_the_certificate() {
    let pki = Pki::new("platdns test CA");
    let prober = Prober::with_roots(pki.roots());
    let server = http_server(Some(pki.server(&["sni.test"])));
    let c = check(Kind::Http(Http {
        tls: tls(Some("sni.test")),
        host: Some("www.example.test".into()),
        response_match: "ok".into(),
        ..http(server.port())
    }));
    let out = prober.check("127.0.0.1", &c).await;
    assert_eq!((out.health, out.reason.as_str()), (Up, "HTTP 200, body matches"));
    let seen = server.last_seen();
    assert_eq!(seen.sni.as_deref(), Some("sni.test"));
    assert_eq!(seen.host.as_deref(), Some("www.example.test"));

    server.set(503, "");
    assert_eq!(prober.check("127.0.0.1", &c).await.health, Down);

    // Without tls_sni the target's name is used, and this certificate does not carry it.
    let no_sni = check(Kind::Http(Http {
        tls: tls(None),
        ..http(server.port())
    }));
    let out = prober.check("localhost", &no_sni).await;
    assert_eq!(out.health, Down);
    assert!(out.reason.starts_with("TLS (localhost)"), "{}", out.reason);
    assert_eq!(
        server.state.lock().unwrap().seen.len(),
        2,
        "no request after a failed handshake"
    );
}

#[tokio::test]
async fn ping_of_loopback_is_up() {
    let out = Prober::new().check("127.0.0.1", &check(Kind::Ping)).await;
    if out.reason.starts_with("ICMP socket:") {
        eprintln!("SKIPPED ping_of_loopback_is_up: {}", out.reason);
        return;
    }
    assert_eq!(out.health, Up, "{}", out.reason);
    assert!(out.reason.starts_with("echo reply from 127.0.0.1"), "{}", out.reason);
}
