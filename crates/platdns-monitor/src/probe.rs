//! One check of one target: [`Prober::check`] resolves the target (an IP
//! address, or a host name looked up with tokio's resolver at every check),
//! does the check's I/O within its timeout, and says Up or Down with a
//! short reason for logs and `explain`.
//!
//! - `tcp`: a connect to each resolved address in turn until one accepts;
//!   with TLS, a handshake whose certificate must verify (rustls with the
//!   `ring` provider against webpki's roots, or the root store given to
//!   [`Prober::with_roots`]). SNI and the name checked are `tls_sni`, else
//!   the target; an IP target sends no SNI and the certificate must name
//!   the address.
//! - `http`: one GET over HTTP/1.1, no redirects followed, `Connection:
//!   close`. Up iff the status is listed (none listed: 2xx or 3xx) and, when
//!   `response_match` is set, the first [`BODY_LIMIT`] bytes of the body
//!   contain it.
//!
//!   Why hyper and not reqwest: reqwest takes SNI, the certificate name and
//!   the Host header from the URL, and picks the address from its own
//!   resolver. A check here names those three separately (target, `tls_sni`,
//!   the Host header), which reqwest can only reach by building a client
//!   per check with a `resolve` override. hyper's client connection runs on
//!   a stream we connect ourselves, so the address, the TLS handshake
//!   (shared with `tcp`) and the request are each ours, and there is no
//!   pool, redirect or cookie handling to turn off.
//! - `ping`: one ICMP echo with `surge-ping`. It asks first for an ICMP
//!   datagram socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, unprivileged when the
//!   process's group is inside `net.ipv4.ping_group_range`), and falls back
//!   to a raw socket (`SOCK_RAW`, which needs `CAP_NET_RAW`). One socket per
//!   address family is opened at the first ping and shared by all; if
//!   neither can be opened the ping is Down with a reason starting
//!   `ICMP socket:`.
//! - `static`: the configured result, no I/O.

use crate::check::{Check, Http, Kind, Tls};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::header::{CONNECTION, CONTENT_TYPE, HOST, USER_AGENT};
use platdns_steering::Health;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, RootCertStore};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// How much of a response body is read to look for `response_match`.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The User-Agent of every HTTP check.
pub const USER_AGENT_VALUE: &str = concat!("platdns-monitor/", env!("CARGO_PKG_VERSION"));

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub health: Health,
    /// What was seen, in a few words: `HTTP 503, not 2xx/3xx`.
    pub reason: String,
}

/// Something that checks a target; the scheduler takes any, so its tests
/// can count and script probes.
pub trait Probe: Send + Sync + 'static {
    fn probe(&self, target: &str, check: &Check) -> impl Future<Output = Outcome> + Send;
}

/// The real probes, with their TLS roots and ICMP sockets.
pub struct Prober {
    tls: TlsConnector,
    ping4: Mutex<Option<surge_ping::Client>>,
    ping6: Mutex<Option<surge_ping::Client>>,
    ident: AtomicU16,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

impl Prober {
    /// Certificates are verified against the webpki (Mozilla) roots.
    pub fn new() -> Prober {
        Self::with_roots(webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect())
    }

    /// Certificates are verified against the webpki roots and the PEM
    /// certificates in `pem` (an operator's private CA, for endpoints
    /// whose certificates a public CA did not issue).
    pub fn with_extra_roots(pem: &[u8]) -> Result<Prober, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let mut roots: RootCertStore = webpki_roots::TLS_SERVER_ROOTS.iter().cloned().collect();
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("PEM: {e}"))?;
            roots.add(cert).map_err(|e| format!("certificate: {e}"))?;
            added += 1;
        }
        if added == 0 {
            return Err("no certificate in the PEM data".into());
        }
        Ok(Self::with_roots(roots))
    }

    /// Certificates are verified against `roots` only.
    pub fn with_roots(roots: RootCertStore) -> Prober {
        let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports TLS 1.2 and 1.3")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Prober {
            tls: TlsConnector::from(Arc::new(config)),
            ping4: Mutex::new(None),
            ping6: Mutex::new(None),
            ident: AtomicU16::new(std::process::id() as u16),
        }
    }

    /// One check of `target`, bounded by the check's timeout.
    pub async fn check(&self, target: &str, check: &Check) -> Outcome {
        if let Kind::Static(health) = check.kind {
            return Outcome {
                health,
                reason: "static".into(),
            };
        }
        let host = bare_host(target);
        let result = tokio::time::timeout(check.timeout, async {
            match &check.kind {
                Kind::Ping => self.ping(host, check.timeout).await,
                Kind::Tcp { port, tls } => self.tcp(host, *port, tls.as_ref()).await,
                Kind::Http(http) => self.http(host, http).await,
                Kind::Static(_) => unreachable!("answered above"),
            }
        })
        .await;
        match result {
            Ok(Ok(reason)) => Outcome {
                health: Health::Up,
                reason,
            },
            Ok(Err(reason)) => Outcome {
                health: Health::Down,
                reason,
            },
            Err(_) => Outcome {
                health: Health::Down,
                reason: format!("no result within {:?}", check.timeout),
            },
        }
    }

    async fn tcp(&self, host: &str, port: u16, tls: Option<&Tls>) -> Result<String, String> {
        let (stream, addr) = connect(host, port).await?;
        match tls {
            None => Ok(format!("connected to {addr}")),
            Some(tls) => {
                let name = self.handshake(stream, host, tls).await?.1;
                Ok(format!("TLS with {addr} ({name})"))
            }
        }
    }

    async fn handshake(
        &self,
        stream: TcpStream,
        host: &str,
        tls: &Tls,
    ) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, String), String> {
        let name = tls.sni.as_deref().unwrap_or(host).to_owned();
        let server_name = ServerName::try_from(name.clone()).map_err(|e| format!("TLS name {name:?}: {e}"))?;
        match self.tls.connect(server_name, stream).await {
            Ok(stream) => Ok((stream, name)),
            Err(e) => Err(format!("TLS ({name}): {e}")),
        }
    }

    async fn http(&self, host: &str, http: &Http) -> Result<String, String> {
        let (stream, _) = connect(host, http.port).await?;
        let host_header = match &http.host {
            Some(h) => h.clone(),
            None => default_host(host, http.port, http.tls.is_some()),
        };
        match &http.tls {
            None => exchange(stream, http, &host_header).await,
            Some(tls) => {
                let stream = self.handshake(stream, host, tls).await?.0;
                exchange(stream, http, &host_header).await
            }
        }
    }

    /// One JSON POST to `url` (`http://` or `https://`; a certificate is
    /// verified against this prober's roots, `--monitor-ca` included): the
    /// answer's status. The platform's one HTTP(S) client: the health
    /// checks and the notification webhook share it.
    pub async fn post_json(&self, url: &str, body: String, user_agent: &str) -> Result<u16, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("URL {url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("URL {url:?}: http or https")),
        };
        let host = bare_host(uri.host().ok_or_else(|| format!("URL {url:?}: no host"))?).to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let request = hyper::Request::post(path)
            .header(HOST, default_host(&host, port, tls))
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, user_agent)
            .header(CONNECTION, "close")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("HTTP request: {e}"))?;
        let (stream, _) = connect(&host, port).await?;
        let (response, _conn) = if tls {
            let stream = self.handshake(stream, &host, &Tls { sni: None }).await?.0;
            send(stream, request).await?
        } else {
            send(stream, request).await?
        };
        Ok(response.status().as_u16())
    }

    async fn ping(&self, host: &str, timeout: Duration) -> Result<String, String> {
        let ip = resolve(host, 0).await?[0].ip();
        let client = self.ping_client(ip)?;
        let ident = surge_ping::PingIdentifier(self.ident.fetch_add(1, Ordering::Relaxed));
        let mut pinger = client.pinger(ip, ident).await;
        pinger.timeout(timeout);
        match pinger.ping(surge_ping::PingSequence(0), &[0; 56]).await {
            Ok((_, rtt)) => Ok(format!("echo reply from {ip} in {rtt:.1?}")),
            Err(e) => Err(format!("ping {ip}: {e}")),
        }
    }

    /// The shared ICMP socket of `ip`'s family, opened at first use (it
    /// needs a runtime: surge-ping spawns its receiving task).
    fn ping_client(&self, ip: IpAddr) -> Result<surge_ping::Client, String> {
        let (slot, config) = match ip {
            IpAddr::V4(_) => (&self.ping4, surge_ping::Config::default()),
            IpAddr::V6(_) => (
                &self.ping6,
                surge_ping::Config::builder().kind(surge_ping::ICMP::V6).build(),
            ),
        };
        let mut slot = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = &*slot {
            return Ok(client.clone());
        }
        let client = surge_ping::Client::new(&config).map_err(|e| {
            format!("ICMP socket: {e} (needs net.ipv4.ping_group_range to include our group, or CAP_NET_RAW)")
        })?;
        *slot = Some(client.clone());
        Ok(client)
    }
}

impl Probe for Prober {
    fn probe(&self, target: &str, check: &Check) -> impl Future<Output = Outcome> + Send {
        self.check(target, check)
    }
}

/// `[::1]` as a target is `::1`.
fn bare_host(target: &str) -> &str {
    target
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(target)
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("resolve {host}: no address"));
    }
    Ok(addrs)
}

/// Connects to the first of the target's addresses that accepts.
async fn connect(host: &str, port: u16) -> Result<(TcpStream, SocketAddr), String> {
    let mut last = String::new();
    for addr in resolve(host, port).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => last = format!("connect {addr}: {e}"),
        }
    }
    Err(last)
}

/// The Host header a browser would send for this target and port.
fn default_host(host: &str, port: u16, tls: bool) -> String {
    let host = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.to_owned(),
    };
    if port == if tls { 443 } else { 80 } {
        host
    } else {
        format!("{host}:{port}")
    }
}

/// Ends the connection task when the check is over or timed out.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sends `request` on a connected stream (HTTP/1.1) and reads the
/// answer's head. The connection's task comes back with it: the body can be
/// read while it is held, and dropping it ends the connection.
async fn send<S, B>(
    stream: S,
    request: hyper::Request<B>,
) -> Result<(hyper::Response<hyper::body::Incoming>, AbortOnDrop), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let conn = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));
    let response = sender.send_request(request).await.map_err(|e| format!("HTTP: {e}"))?;
    Ok((response, conn))
}

/// One request and its answer on a connected stream.
async fn exchange<S>(stream: S, http: &Http, host: &str) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = hyper::Request::get(http.path.as_str())
        .header(HOST, host)
        .header(USER_AGENT, USER_AGENT_VALUE)
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("HTTP request: {e}"))?;
    let (response, _conn) = send(stream, request).await?;
    let status = response.status().as_u16();
    let listed = if http.status_codes.is_empty() {
        (200..400).contains(&status)
    } else {
        http.status_codes.contains(&status)
    };
    if !listed {
        let wanted = if http.status_codes.is_empty() {
            "2xx/3xx".to_owned()
        } else {
            format!("{:?}", http.status_codes)
        };
        return Err(format!("HTTP {status}, not {wanted}"));
    }
    if http.response_match.is_empty() {
        return Ok(format!("HTTP {status}"));
    }
    let body = read_body(response.into_body(), BODY_LIMIT).await?;
    if contains(&body, http.response_match.as_bytes()) {
        Ok(format!("HTTP {status}, body matches"))
    } else {
        Err(format!(
            "HTTP {status}, body ({} bytes read) lacks {:?}",
            body.len(),
            http.response_match
        ))
    }
}

/// The body's first `limit` bytes (fewer if it ends first).
async fn read_body(mut body: hyper::body::Incoming, limit: usize) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    while buf.len() < limit {
        match body.frame().await {
            None => break,
            Some(Err(e)) => return Err(format!("HTTP body: {e}")),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let take = data.len().min(limit - buf.len());
                    buf.extend_from_slice(&data[..take]);
                }
            }
        }
    }
    Ok(buf)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_defaults_follow_the_url_rules() {
        assert_eq!(default_host("www.example", 80, false), "www.example");
        assert_eq!(default_host("www.example", 443, true), "www.example");
        assert_eq!(default_host("www.example", 443, false), "www.example:443");
        assert_eq!(default_host("::1", 8080, false), "[::1]:8080");
        assert_eq!(default_host("192.0.2.1", 8443, true), "192.0.2.1:8443");
        assert_eq!(bare_host("[::1]"), "::1");
        assert_eq!(bare_host("www.example"), "www.example");
    }

    #[test]
    fn body_match_is_a_byte_substring() {
        assert!(contains(b"status: ok\n", b"ok"));
        assert!(!contains(b"status: o", b"ok"));
        assert!(contains(b"", b""));
    }

    #[tokio::test]
    async fn static_does_no_io_and_unresolvable_names_are_down() {
        let p = Prober::new();
        let check = |kind| Check {
            kind,
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            holdtime: 0,
        };
        let out = p
            .check("no.such.host.invalid", &check(Kind::Static(Health::Down)))
            .await;
        assert_eq!(out.health, Health::Down);
        let out = p
            .check("no.such.host.invalid", &check(Kind::Tcp { port: 80, tls: None }))
            .await;
        assert_eq!(out.health, Health::Down);
        // A resolver that fails at once says so; one that never answers
        // runs into the check's timeout.
        assert!(
            out.reason.starts_with("resolve no.such.host.invalid") || out.reason.starts_with("no result within"),
            "{}",
            out.reason
        );
    }
}
