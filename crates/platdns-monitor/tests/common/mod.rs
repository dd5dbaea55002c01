//! The probes' checks with the model's defaults; the servers they check
//! (an HTTP/1.1 server, optionally behind TLS, that a test changes while it
//! runs and that records what each request carried) and the test PKI are
//! platdns-testkit's.

#![allow(dead_code)]

use platdns_monitor::check::{Check, Http, Kind, Tls};
use std::time::Duration;

#[allow(unused_imports)]
pub use platdns_testkit::tls::{http_server, Pki};

pub fn check(kind: Kind) -> Check {
    Check {
        kind,
        interval: Duration::from_secs(30),
        timeout: Duration::from_secs(5),
        holdtime: 0,
    }
}

/// An HTTP check of `port` with the model's defaults.
pub fn http(port: u16) -> Http {
    Http {
        port,
        tls: None,
        path: "/health".into(),
        host: None,
        status_codes: Vec::new(),
        response_match: String::new(),
    }
}

pub fn tls(sni: Option<&str>) -> Option<Tls> {
    Some(Tls {
        sni: sni.map(str::to_owned),
    })
}
