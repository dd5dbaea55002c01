//! What one probe does: a monitoring's type and properties, read once from
//! the checked model ([`platdns_steering::model::Monitoring`]) into a value
//! that says exactly what goes on the wire. Two monitorings with the same
//! properties are the same [`Check`] (names, descriptions and location do
//! not change what a probe sends), which is what lets the scheduler probe a
//! (target, check) once however many endpoints share it.

use platdns_steering::model::{Monitoring, MonitoringType};
use platdns_steering::Health;
use std::time::Duration;

/// One check definition: what to send, how long to wait, how often, and
/// how long a new result must hold before it counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    pub kind: Kind,
    /// Time between two probes of one target (unused for `Static`).
    pub interval: Duration,
    /// Bound on one probe, name resolution included.
    pub timeout: Duration,
    /// Seconds a new result must persist (`platdns_steering::Debounce`).
    pub holdtime: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One ICMP echo request.
    Ping,
    /// A TCP connect; with `tls`, a verified TLS handshake too.
    Tcp { port: u16, tls: Option<Tls> },
    /// One GET, no redirects.
    Http(Http),
    /// The configured result; no I/O.
    Static(Health),
}

/// A TLS handshake's name: SNI and the name the certificate must carry.
/// `None` uses the target (a host name, or an IP address: no SNI is sent
/// and the certificate must name the address).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tls {
    pub sni: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Http {
    pub port: u16,
    /// `https`: TLS first, certificate verified.
    pub tls: Option<Tls>,
    /// Origin-form, starting with '/'.
    pub path: String,
    /// The Host header; `None`: the target (with `:port` if not the default).
    pub host: Option<String>,
    /// Codes that mean up; empty: any 2xx or 3xx.
    pub status_codes: Vec<u16>,
    /// Bytes the body must contain (within the first [`crate::probe::BODY_LIMIT`]); empty: no check.
    pub response_match: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("monitoring {resource_name}: {message}")]
pub struct CheckError {
    pub resource_name: String,
    pub message: String,
}

impl Check {
    /// The check a monitoring describes. The monitoring is expected to have
    /// passed `LbConfig::check` (which fills defaults); missing or bad values
    /// are still refused rather than guessed.
    pub fn from_monitoring(m: &Monitoring) -> Result<Check, CheckError> {
        let fail = |message: &str| CheckError {
            resource_name: m.resource_name.clone(),
            message: message.into(),
        };
        let p = &m.props;
        let port = || -> Result<u16, CheckError> {
            let port = p.port.ok_or_else(|| fail("no port"))?;
            u16::try_from(port).map_err(|_| fail("port out of range"))
        };
        let sni = p.tls_sni.clone().filter(|s| !s.is_empty());
        let kind = match m.mtype {
            MonitoringType::Ping => Kind::Ping,
            MonitoringType::Tcp => Kind::Tcp {
                port: port()?,
                tls: p.tls_enabled.unwrap_or(false).then_some(Tls { sni }),
            },
            MonitoringType::Http => {
                let https = p.https.unwrap_or(false);
                let mut path = p.path.clone().unwrap_or_else(|| "/".into());
                if !path.starts_with('/') {
                    path.insert(0, '/');
                }
                let host = p
                    .headers
                    .iter()
                    .flatten()
                    .find(|h| h.field_name.eq_ignore_ascii_case("host"))
                    .map(|h| h.field_value.clone());
                let mut status_codes = Vec::new();
                for c in p.status_codes.iter().flatten() {
                    match c.parse::<u16>() {
                        Ok(code @ 100..=999) => status_codes.push(code),
                        _ => return Err(fail("status code not 3 digits")),
                    }
                }
                Kind::Http(Http {
                    port: match p.port {
                        Some(_) => port()?,
                        None if https => 443,
                        None => 80,
                    },
                    tls: https.then_some(Tls { sni }),
                    path,
                    host,
                    status_codes,
                    response_match: p.response_match.clone().unwrap_or_default(),
                })
            }
            MonitoringType::Static => Kind::Static(
                Health::from_dpf(p.result.as_deref().unwrap_or("up"))
                    .ok_or_else(|| fail("result is not up, down or unknown"))?,
            ),
        };
        // The reference's defaults, as `LbConfig::check` fills them.
        Ok(Check {
            kind,
            interval: Duration::from_secs(p.interval.unwrap_or(30).into()),
            timeout: Duration::from_secs(p.timeout.unwrap_or(5).into()),
            holdtime: p.holdtime.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platdns_steering::model::{Header, MonitoringProps};

    fn monitoring(mtype: MonitoringType, props: MonitoringProps) -> Monitoring {
        Monitoring {
            resource_name: "m1".into(),
            name: "m1".into(),
            mtype,
            description: String::new(),
            props,
        }
    }

    #[test]
    fn http_properties_become_what_is_sent() {
        let m = monitoring(
            MonitoringType::Http,
            MonitoringProps {
                https: Some(true),
                tls_sni: Some("sni.example".into()),
                path: Some("health".into()),
                headers: Some(vec![Header {
                    field_name: "host".into(),
                    field_value: "www.example".into(),
                }]),
                status_codes: Some(vec!["200".into(), "204".into()]),
                response_match: Some("ok".into()),
                interval: Some(60),
                holdtime: Some(120),
                timeout: Some(3),
                location: Some("jp".into()),
                ..Default::default()
            },
        );
        let c = Check::from_monitoring(&m).unwrap();
        assert_eq!(
            c.kind,
            Kind::Http(Http {
                port: 443,
                tls: Some(Tls {
                    sni: Some("sni.example".into())
                }),
                path: "/health".into(),
                host: Some("www.example".into()),
                status_codes: vec![200, 204],
                response_match: "ok".into(),
            })
        );
        assert_eq!(
            (c.interval, c.timeout, c.holdtime),
            (Duration::from_secs(60), Duration::from_secs(3), 120)
        );
        // Another name and location, same properties: the same check.
        let mut other = m.clone();
        other.resource_name = "m2".into();
        other.props.location = Some("us".into());
        assert_eq!(Check::from_monitoring(&other).unwrap(), c);
    }

    #[test]
    fn tcp_needs_a_port_and_static_needs_a_known_result() {
        let no_port = monitoring(MonitoringType::Tcp, MonitoringProps::default());
        assert_eq!(Check::from_monitoring(&no_port).unwrap_err().message, "no port");
        let tls = monitoring(
            MonitoringType::Tcp,
            MonitoringProps {
                port: Some(853),
                tls_enabled: Some(true),
                ..Default::default()
            },
        );
        assert_eq!(
            Check::from_monitoring(&tls).unwrap().kind,
            Kind::Tcp {
                port: 853,
                tls: Some(Tls { sni: None })
            }
        );
        let down = monitoring(
            MonitoringType::Static,
            MonitoringProps {
                result: Some("down".into()),
                ..Default::default()
            },
        );
        assert_eq!(Check::from_monitoring(&down).unwrap().kind, Kind::Static(Health::Down));
        let bad = monitoring(
            MonitoringType::Static,
            MonitoringProps {
                result: Some("sideways".into()),
                ..Default::default()
            },
        );
        assert!(Check::from_monitoring(&bad).is_err());
    }
}
