//! A certificate authority of the test's own ([`Pki`], made with rcgen) and
//! a real HTTP/1.1 server on loopback ([`http_server`]), behind TLS with a
//! certificate of that CA or plain, whose status and body a test changes
//! while it runs, whose certificate it can swap, and which records what each
//! request carried (path, Host, User-Agent, SNI) and each TLS handshake.
//!
//! The server runs on its own threads, so it serves blocking tests and
//! async ones alike; dropping it closes its port.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{RootCertStore, ServerConfig, ServerConnection, StreamOwned};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A certificate authority of our own.
pub struct Pki {
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    /// A new CA whose certificate has `name` as its common name.
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

    /// The CA's certificate in PEM, for a program that reads a CA file.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
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
    /// The SNI of each TLS handshake completed (a client that only
    /// connects, as a `tcp` check with TLS, sends no request).
    pub handshakes: Vec<Option<String>>,
}

/// A server on 127.0.0.1 (see [`http_server`]); dropping it closes the
/// port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    tls: Arc<Mutex<Option<Arc<ServerConfig>>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread, which then ends and closes the port.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok() {
            if let Some(accept) = self.accept.take() {
                let _ = accept.join();
            }
        }
    }
}

impl TestServer {
    /// Answers from now on `status` with `body`.
    pub fn set(&self, status: u16, body: &str) {
        let mut s = self.state.lock().unwrap();
        s.status = status;
        s.body = body.into();
    }

    /// Connections from now on are TLS with `config` (another certificate,
    /// say).
    pub fn set_tls(&self, config: Arc<ServerConfig>) {
        *self.tls.lock().unwrap() = Some(config);
    }

    /// The last request.
    ///
    /// # Panics
    /// When there was none.
    pub fn last_seen(&self) -> Seen {
        self.state.lock().unwrap().seen.last().cloned().expect("a request")
    }

    /// The SNI of each completed TLS handshake, once there are `n` (the
    /// client may finish its side before the server has recorded its own);
    /// waits up to 2 s.
    pub fn handshakes(&self, n: usize) -> Vec<Option<String>> {
        for _ in 0..200 {
            let seen = self.state.lock().unwrap().handshakes.clone();
            if seen.len() >= n {
                return seen;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fewer than {n} TLS handshakes completed");
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// An HTTP server answering 200 `status: ok` until [`TestServer::set`]
/// says otherwise; behind TLS with `tls`. Each connection carries one
/// request (no keep-alive).
pub fn http_server(tls: Option<Arc<ServerConfig>>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let state = Arc::new(Mutex::new(State {
        status: 200,
        body: "status: ok\n".into(),
        seen: Vec::new(),
        handshakes: Vec::new(),
    }));
    let tls = Arc::new(Mutex::new(tls));
    let stop = Arc::new(AtomicBool::new(false));
    let accept = {
        let (state, tls, stop) = (state.clone(), tls.clone(), stop.clone());
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                let config = tls.lock().unwrap().clone();
                let state = state.clone();
                std::thread::spawn(move || serve(tcp, config, &state));
            }
        })
    };
    TestServer {
        addr,
        state,
        tls,
        stop,
        accept: Some(accept),
    }
}

/// One connection: the TLS handshake if any, then one request.
fn serve(tcp: TcpStream, tls: Option<Arc<ServerConfig>>, state: &Mutex<State>) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let Some(config) = tls else {
        let mut tcp = tcp;
        answer(&mut tcp, None, state);
        let _ = tcp.shutdown(Shutdown::Write);
        return;
    };
    let Ok(conn) = ServerConnection::new(config) else {
        return;
    };
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if stream.conn.complete_io(&mut stream.sock).is_err() {
            return;
        }
    }
    let sni = stream.conn.server_name().map(str::to_owned);
    state.lock().unwrap().handshakes.push(sni.clone());
    answer(&mut stream, sni, state);
    stream.conn.send_close_notify();
    let _ = stream.flush();
    let _ = stream.sock.shutdown(Shutdown::Write);
}

/// Reads one request head and answers it.
fn answer(stream: &mut (impl Read + Write), sni: Option<String>, state: &Mutex<State>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
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
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, ClientConnection};

    fn get(addr: SocketAddr, mut stream: impl Read + Write) -> String {
        write!(stream, "GET /health HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: t\r\n\r\n").unwrap();
        let mut out = String::new();
        let _ = stream.read_to_string(&mut out);
        out
    }

    fn client(pki: &Pki, name: &str, addr: SocketAddr) -> StreamOwned<ClientConnection, TcpStream> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(pki.roots())
            .with_no_client_auth();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let conn = ClientConnection::new(Arc::new(config), name).unwrap();
        StreamOwned::new(conn, TcpStream::connect(addr).unwrap())
    }

    #[test]
    fn plain_answers_as_set_and_records_the_request() {
        let server = http_server(None);
        let out = get(server.addr, TcpStream::connect(server.addr).unwrap());
        assert!(
            out.starts_with("HTTP/1.1 200 X\r\n") && out.ends_with("\r\n\r\nstatus: ok\n"),
            "{out}"
        );
        server.set(503, "down");
        let out = get(server.addr, TcpStream::connect(server.addr).unwrap());
        assert!(out.starts_with("HTTP/1.1 503 X\r\n") && out.ends_with("down"), "{out}");
        let seen = server.last_seen();
        assert_eq!(seen.path, "/health");
        assert_eq!(seen.host, Some(server.addr.to_string()));
        assert_eq!((seen.user_agent.as_deref(), seen.sni), (Some("t"), None));
        let addr = server.addr;
        drop(server);
        assert!(TcpStream::connect(addr).is_err(), "the port is closed");
    }

    #[test]
    fn tls_with_the_cas_certificate_and_a_swapped_one() {
        let pki = Pki::new("platdns test CA");
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let server = http_server(Some(pki.server(&["good.test"])));
        let out = get(server.addr, client(&pki, "good.test", server.addr));
        assert!(out.ends_with("status: ok\n"), "{out}");
        assert_eq!(server.handshakes(1), [Some("good.test".to_owned())]);
        assert_eq!(server.last_seen().sni.as_deref(), Some("good.test"));
        // Another name now: the client refuses the handshake.
        server.set_tls(pki.server(&["wrong.test"]));
        let mut refused = client(&pki, "good.test", server.addr);
        assert!(refused
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .and_then(|_| refused.flush())
            .is_err());
        assert_eq!(server.state.lock().unwrap().seen.len(), 1);
    }
}
