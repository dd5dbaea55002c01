//! Real servers on loopback for the probes to check: an HTTP/1.1 server
//! (optionally behind TLS) whose status and body a test changes while it
//! runs, and which records what each request carried (Host, User-Agent,
//! path, SNI); and a test PKI made with rcgen.

#![allow(dead_code)]

use platdns_monitor::check::{Check, Http, Kind, Tls};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{RootCertStore, ServerConfig};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What one request to the server carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub host: Option<String>,
    pub user_agent: Option<String>,
    /// The TLS client's SNI, for a TLS server.
    pub sni: Option<String>,
}

#[derive(Debug)]
pub struct State {
    pub status: u16,
    pub body: String,
    pub seen: Vec<Seen>,
    /// TLS handshakes completed (a `tcp` check with TLS sends no request).
    pub handshakes: Vec<Option<String>>,
}

/// A server on 127.0.0.1; dropping it closes the port.
pub struct Server {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    pub fn set(&self, status: u16, body: &str) {
        let mut s = self.state.lock().unwrap();
        s.status = status;
        s.body = body.into();
    }

    pub fn last_seen(&self) -> Seen {
        self.state.lock().unwrap().seen.last().cloned().expect("a request")
    }

    /// The SNI of each completed TLS handshake, once there are `n` (the
    /// client may finish its side before the server has recorded its own).
    pub async fn handshakes(&self, n: usize) -> Vec<Option<String>> {
        for _ in 0..200 {
            let seen = self.state.lock().unwrap().handshakes.clone();
            if seen.len() >= n {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} TLS handshakes completed");
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// An HTTP server answering `status` with `body`; behind TLS with `tls`.
pub async fn http_server(tls: Option<Arc<ServerConfig>>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(State {
        status: 200,
        body: "status: ok\n".into(),
        seen: Vec::new(),
        handshakes: Vec::new(),
    }));
    let acceptor = tls.map(TlsAcceptor::from);
    let shared = state.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let state = shared.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    None => answer(tcp, None, &state).await,
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let sni = stream.get_ref().1.server_name().map(str::to_owned);
                        state.lock().unwrap().handshakes.push(sni.clone());
                        answer(stream, sni, &state).await
                    }
                }
            });
        }
    });
    Server { addr, state, task }
}

/// Reads one request head and answers it (no keep-alive).
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, sni: Option<String>, state: &Mutex<State>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 16 * 1024 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or_default()
        .to_owned();
    let mut seen = Seen {
        path,
        sni,
        ..Seen::default()
    };
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = Some(value.trim().to_owned());
            if name.eq_ignore_ascii_case("host") {
                seen.host = value;
            } else if name.eq_ignore_ascii_case("user-agent") {
                seen.user_agent = value;
            }
        }
    }
    let (status, body) = {
        let mut s = state.lock().unwrap();
        s.seen.push(seen);
        (s.status, s.body.clone())
    };
    let response = format!(
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nLocation: /elsewhere\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// A certificate authority of our own.
pub struct Pki {
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let ca = params.self_signed(&ca_key).unwrap();
        Pki { ca, ca_key }
    }

    /// A root store trusting this CA only.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        roots
    }

    /// A server configuration with a certificate for `names` (host names or
    /// IP addresses) signed by this CA.
    pub fn server(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.ca, &self.ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
        Arc::new(config)
    }
}

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
