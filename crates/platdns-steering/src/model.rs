//! An LB domain's configuration, as DPF's `PUT /lb_domains/{id}/config`
//! (`PutConfig`) writes it, and every check the reference makes of it. A
//! configuration is read and checked whole: [`LbConfig::parse`] either gives
//! a configuration that passes every check or the list of what is wrong,
//! each naming the JSONPath of the field (`$.sites[0].endpoints[2].weight`),
//! so a `PUT config` with any error changes nothing.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Limits the reference sets (schemas and operation descriptions of
/// monitorings, sites, endpoints, rules and rule methods). The lower bound
/// of a monitoring interval is the operator's (issue 5: "an operator
/// setting"); the reference's is 30 s.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub min_interval: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { min_interval: 30 }
    }
}

pub const MAX_MONITORINGS: usize = 50;
pub const MAX_SITES: usize = 50;
pub const MAX_ENDPOINTS_PER_SITE: usize = 50;
pub const MAX_RULES: usize = 10;
pub const MAX_METHOD_DEPTH: usize = 6;
pub const MAX_RDATA: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigError {
    /// JSONPath of the field, from `$`.
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        path: path.into(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LbConfig {
    pub monitorings: Vec<Monitoring>,
    pub sites: Vec<Site>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MonitoringType {
    Ping,
    Tcp,
    Http,
    Static,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    pub resource_name: String,
    pub name: String,
    pub mtype: MonitoringType,
    #[serde(default)]
    pub description: String,
    pub props: MonitoringProps,
}

/// Every property any monitoring type has; [`LbConfig::check`] says which
/// a type may carry, and fills the reference's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holdtime: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_sni: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<Header>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_codes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub field_name: String,
    pub field_value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SiteType {
    A,
    AAAA,
    CNAME,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub resource_name: String,
    pub name: String,
    pub rrtype: SiteType,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub resource_name: String,
    pub name: String,
    #[serde(default)]
    pub monitoring_target: String,
    #[serde(default)]
    pub description: String,
    pub weight: u32,
    #[serde(default)]
    pub manual_failback: bool,
    #[serde(default)]
    pub manual_failover: bool,
    /// DPF's default is false: a new endpoint answers nothing until enabled.
    #[serde(default)]
    pub enabled: bool,
    pub rdata: Vec<Rdata>,
    #[serde(default)]
    pub monitorings: Vec<MonitoringLink>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rdata {
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringLink {
    pub resource_name: String,
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub resource_name: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub methods: Vec<MethodItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodItem {
    pub method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodType {
    EntryA,
    EntryAaaa,
    EntryCname,
    Failover,
    ExitSite,
    ExitSorry,
}

impl MethodType {
    fn is_entry(self) -> bool {
        matches!(
            self,
            MethodType::EntryA | MethodType::EntryAaaa | MethodType::EntryCname
        )
    }

    fn site_type(self) -> Option<SiteType> {
        match self {
            MethodType::EntryA => Some(SiteType::A),
            MethodType::EntryAaaa => Some(SiteType::AAAA),
            MethodType::EntryCname => Some(SiteType::CNAME),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Method {
    pub resource_name: String,
    pub mtype: MethodType,
    #[serde(default)]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_resource_name: Option<String>,
    #[serde(default)]
    pub methods: Vec<MethodItem>,
    /// Shown by `GET config`; ignored when read, so a GET can be PUT back.
    #[serde(default, skip_serializing)]
    pub live_status: Option<String>,
    #[serde(default, skip_serializing)]
    pub ready_status: Option<String>,
}

impl LbConfig {
    /// Reads and checks a whole configuration (`PUT config`'s body).
    pub fn parse(json: &[u8], limits: &Limits) -> Result<LbConfig, Vec<ConfigError>> {
        let de = &mut serde_json::Deserializer::from_slice(json);
        let mut config: LbConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            vec![err(
                if path == "." { "$".into() } else { format!("$.{path}") },
                e.inner().to_string(),
            )]
        })?;
        let errors = config.check(limits);
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Every check of the reference; fills monitoring defaults. Returns the
    /// problems found, each with its JSONPath.
    pub fn check(&mut self, limits: &Limits) -> Vec<ConfigError> {
        let mut e = Vec::new();
        if self.monitorings.len() > MAX_MONITORINGS {
            e.push(err("$.monitorings", format!("at most {MAX_MONITORINGS} monitorings")));
        }
        if self.sites.len() > MAX_SITES {
            e.push(err("$.sites", format!("at most {MAX_SITES} sites")));
        }
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            e.push(err("$.rules", format!("1 to {MAX_RULES} rules")));
        }
        let mut seen = HashSet::new();
        for (i, m) in self.monitorings.iter_mut().enumerate() {
            let at = format!("$.monitorings[{i}]");
            common(&mut e, &at, &m.resource_name, &m.name, &m.description);
            if !seen.insert(m.resource_name.clone()) {
                e.push(err(format!("{at}.resource_name"), "used twice"));
            }
            check_props(&mut e, &format!("{at}.props"), m.mtype, &mut m.props, limits);
        }
        let monitorings: HashSet<&str> = self.monitorings.iter().map(|m| m.resource_name.as_str()).collect();
        let mut sites = HashSet::new();
        let mut endpoints = HashSet::new();
        for (i, s) in self.sites.iter().enumerate() {
            let at = format!("$.sites[{i}]");
            common(&mut e, &at, &s.resource_name, &s.name, &s.description);
            if !sites.insert(s.resource_name.as_str()) {
                e.push(err(format!("{at}.resource_name"), "used twice"));
            }
            if s.endpoints.len() > MAX_ENDPOINTS_PER_SITE {
                e.push(err(
                    format!("{at}.endpoints"),
                    format!("at most {MAX_ENDPOINTS_PER_SITE} endpoints"),
                ));
            }
            let mut names = HashSet::new();
            for (j, p) in s.endpoints.iter().enumerate() {
                let at = format!("{at}.endpoints[{j}]");
                common(&mut e, &at, &p.resource_name, &p.name, &p.description);
                if !endpoints.insert(p.resource_name.as_str()) {
                    e.push(err(format!("{at}.resource_name"), "used twice"));
                }
                if !names.insert(p.name.as_str()) {
                    e.push(err(format!("{at}.name"), "used twice in the site"));
                }
                check_endpoint(&mut e, &at, s.rrtype, p, &monitorings);
            }
        }
        let site_types: Vec<(&str, SiteType)> = self
            .sites
            .iter()
            .map(|s| (s.resource_name.as_str(), s.rrtype))
            .collect();
        let mut rules = HashSet::new();
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("$.rules[{i}]");
            common(&mut e, &at, &r.resource_name, &r.name, &r.description);
            if !rules.insert(r.resource_name.as_str()) {
                e.push(err(format!("{at}.resource_name"), "used twice"));
            }
            check_rule(&mut e, &at, r, &site_types);
        }
        e
    }

    /// The rule of this resource name, if there is one (the LB domain's
    /// applied rule must be: DPF `rule_in_use`).
    pub fn rule(&self, resource_name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.resource_name == resource_name)
    }
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// resource_name (1-253, letters, digits, '-', '_', '.'), name (1-80),
/// description (0-80).
fn common(e: &mut Vec<ConfigError>, at: &str, resource_name: &str, name: &str, description: &str) {
    let ok = !resource_name.is_empty()
        && resource_name.len() <= 253
        && resource_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        e.push(err(
            format!("{at}.resource_name"),
            "1 to 253 letters, digits, '-', '_' or '.'",
        ));
    }
    if !(1..=80).contains(&chars(name)) {
        e.push(err(format!("{at}.name"), "1 to 80 characters"));
    }
    if chars(description) > 80 {
        e.push(err(format!("{at}.description"), "at most 80 characters"));
    }
}

fn check_props(e: &mut Vec<ConfigError>, at: &str, t: MonitoringType, p: &mut MonitoringProps, limits: &Limits) {
    use MonitoringType::*;
    let mut forbid = |present: bool, field: &str| {
        if present {
            e.push(err(
                format!("{at}.{field}"),
                format!("not a property of a {t:?} monitoring"),
            ));
        }
    };
    let probe = t != Static;
    forbid(!probe && p.location.is_some(), "location");
    forbid(!probe && p.interval.is_some(), "interval");
    forbid(!probe && p.holdtime.is_some(), "holdtime");
    forbid(!probe && p.timeout.is_some(), "timeout");
    forbid(!matches!(t, Tcp | Http) && p.port.is_some(), "port");
    forbid(t != Tcp && p.tls_enabled.is_some(), "tls_enabled");
    forbid(!matches!(t, Tcp | Http) && p.tls_sni.is_some(), "tls_sni");
    forbid(t != Http && p.https.is_some(), "https");
    forbid(t != Http && p.path.is_some(), "path");
    forbid(t != Http && p.headers.is_some(), "headers");
    forbid(t != Http && p.status_codes.is_some(), "status_codes");
    forbid(t != Http && p.response_match.is_some(), "response_match");
    forbid(t != Static && p.result.is_some(), "result");
    if probe {
        let location = p.location.get_or_insert_with(|| "all".into());
        if !matches!(location.as_str(), "jp" | "us" | "all") {
            e.push(err(format!("{at}.location"), "jp, us or all"));
        }
        let interval = *p.interval.get_or_insert(30);
        if !(limits.min_interval..=600).contains(&interval) {
            e.push(err(
                format!("{at}.interval"),
                format!("{} to 600 seconds", limits.min_interval),
            ));
        }
        if *p.holdtime.get_or_insert(0) > 3600 {
            e.push(err(format!("{at}.holdtime"), "0 to 3600 seconds"));
        }
        if !(1..=30).contains(p.timeout.get_or_insert(5)) {
            e.push(err(format!("{at}.timeout"), "1 to 30 seconds"));
        }
    }
    // Every property of the type is present afterwards, as DPF shows them
    // (`MonitoringHTTP` / `MonitoringTCP` require all of theirs).
    if t == Tcp {
        p.tls_enabled.get_or_insert(false);
        p.tls_sni.get_or_insert_with(String::new);
    }
    if t == Http {
        p.https.get_or_insert(false);
        p.tls_sni.get_or_insert_with(String::new);
        p.response_match.get_or_insert_with(String::new);
        p.headers.get_or_insert_with(Vec::new);
        p.path.get_or_insert_with(|| "/".into());
        p.status_codes.get_or_insert_with(Vec::new);
    }
    if t == Tcp && p.port.is_none() {
        e.push(err(format!("{at}.port"), "required for a tcp monitoring"));
    }
    if t == Http && p.port.is_none() {
        p.port = Some(if p.https == Some(true) { 443 } else { 80 });
    }
    if p.port.is_some_and(|port| port > 65535) {
        e.push(err(format!("{at}.port"), "0 to 65535"));
    }
    if p.tls_sni.as_deref().is_some_and(|s| s.len() > 253) {
        e.push(err(format!("{at}.tls_sni"), "at most 253 characters"));
    }
    if let Some(path) = &mut p.path {
        if chars(path) > 2048 {
            e.push(err(format!("{at}.path"), "at most 2048 characters"));
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
    }
    if let Some(headers) = &p.headers {
        if headers.len() > 1 {
            e.push(err(format!("{at}.headers"), "at most one header (Host)"));
        }
        for (i, h) in headers.iter().enumerate() {
            if !h.field_name.eq_ignore_ascii_case("host") {
                e.push(err(format!("{at}.headers[{i}].field_name"), "only Host can be set"));
            }
            if h.field_value.len() > 8192 {
                e.push(err(format!("{at}.headers[{i}].field_value"), "at most 8192 characters"));
            }
        }
    }
    if let Some(codes) = &p.status_codes {
        if codes.len() > 10 {
            e.push(err(format!("{at}.status_codes"), "at most 10 codes"));
        }
        for (i, c) in codes.iter().enumerate() {
            if c.len() != 3 || !c.bytes().all(|b| b.is_ascii_digit()) || c.starts_with('0') {
                e.push(err(format!("{at}.status_codes[{i}]"), "an HTTP status code, 3 digits"));
            }
        }
    }
    if p.response_match.as_deref().is_some_and(|m| chars(m) > 256) {
        e.push(err(format!("{at}.response_match"), "at most 256 characters"));
    }
    if t == Static {
        let result = p.result.get_or_insert_with(|| "up".into());
        if !matches!(result.as_str(), "up" | "down" | "unknown") {
            e.push(err(format!("{at}.result"), "up, down or unknown"));
        }
    }
}

fn check_endpoint(e: &mut Vec<ConfigError>, at: &str, rrtype: SiteType, p: &Endpoint, monitorings: &HashSet<&str>) {
    if !(1..=255).contains(&p.weight) {
        e.push(err(format!("{at}.weight"), "1 to 255"));
    }
    if p.monitoring_target.len() > 254 {
        e.push(err(format!("{at}.monitoring_target"), "at most 254 characters"));
    }
    if p.rdata.is_empty() || p.rdata.len() > MAX_RDATA {
        e.push(err(format!("{at}.rdata"), format!("1 to {MAX_RDATA} values")));
    }
    if rrtype == SiteType::CNAME && p.rdata.len() > 1 {
        e.push(err(format!("{at}.rdata"), "a CNAME site's endpoint has one value"));
    }
    let mut values = HashSet::new();
    for (i, r) in p.rdata.iter().enumerate() {
        let ok = match rrtype {
            SiteType::A => r.value.parse::<Ipv4Addr>().is_ok(),
            SiteType::AAAA => r.value.parse::<Ipv6Addr>().is_ok(),
            SiteType::CNAME => is_domain_name(&r.value),
        };
        if !ok {
            let want = match rrtype {
                SiteType::A => "an IPv4 address",
                SiteType::AAAA => "an IPv6 address",
                SiteType::CNAME => "a domain name",
            };
            e.push(err(
                format!("{at}.rdata[{i}].value"),
                format!("{want} (the site is {rrtype:?})"),
            ));
        }
        if !values.insert(r.value.to_ascii_lowercase()) {
            e.push(err(format!("{at}.rdata[{i}].value"), "given twice"));
        }
    }
    if p.monitorings.len() > MAX_MONITORINGS {
        e.push(err(format!("{at}.monitorings"), format!("at most {MAX_MONITORINGS}")));
    }
    let mut linked = HashSet::new();
    for (i, l) in p.monitorings.iter().enumerate() {
        if !monitorings.contains(l.resource_name.as_str()) {
            e.push(err(
                format!("{at}.monitorings[{i}].resource_name"),
                format!("no monitoring {}", l.resource_name),
            ));
        }
        if !linked.insert(l.resource_name.as_str()) {
            e.push(err(format!("{at}.monitorings[{i}].resource_name"), "linked twice"));
        }
    }
}

/// A domain name in presentation form: labels of 1-63 letters, digits,
/// '-' and '_', 255 octets at most, the trailing dot optional.
fn is_domain_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn check_rule(e: &mut Vec<ConfigError>, at: &str, r: &Rule, sites: &[(&str, SiteType)]) {
    let mut entries: Vec<MethodType> = Vec::new();
    let mut names = HashSet::new();
    for (i, item) in r.methods.iter().enumerate() {
        let at = format!("{at}.methods[{i}]");
        let t = item.method.mtype;
        if !t.is_entry() {
            e.push(err(
                format!("{at}.method.mtype"),
                "a rule's top methods are entry methods",
            ));
            continue;
        }
        if item.priority.is_some() {
            e.push(err(
                format!("{at}.priority"),
                "only a failover method's children have a priority",
            ));
        }
        if entries.contains(&t) {
            e.push(err(
                format!("{at}.method.mtype"),
                "one entry method of each type per rule",
            ));
        }
        entries.push(t);
        check_method(e, &at, &item.method, t.site_type(), 1, sites, &mut names);
    }
    let cname = entries.contains(&MethodType::EntryCname);
    if cname && entries.len() > 1 {
        e.push(err(
            format!("{at}.methods"),
            "entry_cname answers every type and cannot share a rule with entry_a or entry_aaaa (RFC 1034 §3.6.2)",
        ));
    }
}

fn check_method(
    e: &mut Vec<ConfigError>,
    at: &str,
    m: &Method,
    entry_type: Option<SiteType>,
    depth: usize,
    sites: &[(&str, SiteType)],
    names: &mut HashSet<String>,
) {
    if depth > MAX_METHOD_DEPTH {
        e.push(err(
            format!("{at}.method"),
            format!("method trees are at most {MAX_METHOD_DEPTH} deep"),
        ));
        return;
    }
    let ok = !m.resource_name.is_empty()
        && m.resource_name.len() <= 253
        && m.resource_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        e.push(err(
            format!("{at}.method.resource_name"),
            "1 to 253 letters, digits, '-', '_' or '.'",
        ));
    }
    if !names.insert(m.resource_name.clone()) {
        e.push(err(format!("{at}.method.resource_name"), "used twice in the rule"));
    }
    match m.mtype {
        MethodType::ExitSite => match &m.site_resource_name {
            None => e.push(err(format!("{at}.method.site_resource_name"), "required for exit_site")),
            Some(s) => match sites.iter().find(|(name, _)| name == s) {
                None => e.push(err(format!("{at}.method.site_resource_name"), format!("no site {s}"))),
                Some((_, t)) if Some(*t) != entry_type => e.push(err(
                    format!("{at}.method.site_resource_name"),
                    format!("the site is {t:?}; the entry method above answers {entry_type:?}"),
                )),
                Some(_) => {}
            },
        },
        _ if m.site_resource_name.is_some() => e.push(err(
            format!("{at}.method.site_resource_name"),
            "only exit_site names a site",
        )),
        _ => {}
    }
    let children = &m.methods;
    match m.mtype {
        t if t.is_entry() && children.len() > 1 => e.push(err(
            format!("{at}.method.methods"),
            "an entry method has one method after it",
        )),
        MethodType::ExitSite | MethodType::ExitSorry if !children.is_empty() => {
            e.push(err(format!("{at}.method.methods"), "exit methods end the tree"))
        }
        _ => {}
    }
    let mut priorities = HashSet::new();
    for (i, c) in children.iter().enumerate() {
        let at = format!("{at}.method.methods[{i}]");
        if c.method.mtype.is_entry() {
            e.push(err(format!("{at}.method.mtype"), "entry methods start a rule"));
            continue;
        }
        match (m.mtype == MethodType::Failover, c.priority) {
            (true, None) => e.push(err(format!("{at}.priority"), "required under a failover method")),
            (true, Some(p)) if p > 255 => e.push(err(format!("{at}.priority"), "0 to 255")),
            (true, Some(p)) if !priorities.insert(p) => {
                e.push(err(format!("{at}.priority"), "used twice under one failover method"))
            }
            (false, Some(_)) => e.push(err(
                format!("{at}.priority"),
                "only a failover method's children have a priority",
            )),
            _ => {}
        }
        check_method(e, &at, &c.method, entry_type, depth + 1, sites, names);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    pub fn example() -> serde_json::Value {
        json!({
            "monitorings": [
                {"resource_name": "web", "name": "web", "mtype": "http", "description": "",
                 "props": {"interval": 30, "holdtime": 0, "timeout": 5, "path": "health", "status_codes": ["200"]}},
                {"resource_name": "up", "name": "always", "mtype": "static", "description": "", "props": {}}
            ],
            "sites": [
                {"resource_name": "tokyo", "name": "Tokyo", "rrtype": "A", "description": "", "endpoints": [
                    {"resource_name": "t1", "name": "t1", "monitoring_target": "192.0.2.1", "description": "",
                     "weight": 1, "manual_failback": false, "manual_failover": false, "enabled": true,
                     "rdata": [{"value": "192.0.2.1"}], "monitorings": [{"resource_name": "web", "enabled": true}]},
                    {"resource_name": "t2", "name": "t2", "monitoring_target": "192.0.2.2", "description": "",
                     "weight": 3, "manual_failback": false, "manual_failover": false, "enabled": true,
                     "rdata": [{"value": "192.0.2.2"}, {"value": "192.0.2.3"}], "monitorings": [{"resource_name": "web", "enabled": true}]}
                ]},
                {"resource_name": "osaka", "name": "Osaka", "rrtype": "A", "description": "", "endpoints": [
                    {"resource_name": "o1", "name": "o1", "monitoring_target": "198.51.100.1", "description": "",
                     "weight": 1, "manual_failback": true, "manual_failover": false, "enabled": true,
                     "rdata": [{"value": "198.51.100.1"}], "monitorings": [{"resource_name": "web", "enabled": true}]}
                ]},
                {"resource_name": "sorry", "name": "Sorry", "rrtype": "A", "description": "", "endpoints": [
                    {"resource_name": "s1", "name": "s1", "monitoring_target": "", "description": "",
                     "weight": 1, "manual_failback": false, "manual_failover": false, "enabled": true,
                     "rdata": [{"value": "203.0.113.1"}], "monitorings": [{"resource_name": "up", "enabled": true}]}
                ]}
            ],
            "rules": [
                {"resource_name": "main", "name": "main", "description": "", "methods": [
                    {"method": {"resource_name": "a", "mtype": "entry_a", "enabled": true, "methods": [
                        {"method": {"resource_name": "fo", "mtype": "failover", "enabled": true, "methods": [
                            {"priority": 1, "method": {"resource_name": "to-tokyo", "mtype": "exit_site", "enabled": true, "site_resource_name": "tokyo", "methods": []}},
                            {"priority": 2, "method": {"resource_name": "to-osaka", "mtype": "exit_site", "enabled": true, "site_resource_name": "osaka", "methods": []}},
                            {"priority": 3, "method": {"resource_name": "to-sorry", "mtype": "exit_sorry", "enabled": true, "methods": []}}
                        ]}}
                    ]}}
                ]}
            ]
        })
    }

    fn parse(v: &serde_json::Value) -> Result<LbConfig, Vec<ConfigError>> {
        LbConfig::parse(v.to_string().as_bytes(), &Limits::default())
    }

    fn first_error(v: &serde_json::Value) -> String {
        parse(v).unwrap_err()[0].to_string()
    }

    #[test]
    fn a_valid_configuration_reads_whole_with_the_reference_defaults() {
        let c = parse(&example()).unwrap();
        assert_eq!(c.monitorings[0].props.location.as_deref(), Some("all"));
        assert_eq!(c.monitorings[0].props.port, Some(80), "http defaults to 80");
        assert_eq!(
            c.monitorings[0].props.path.as_deref(),
            Some("/health"),
            "a leading / is added"
        );
        assert_eq!(c.monitorings[1].props.result.as_deref(), Some("up"));
        assert!(c.rule("main").is_some());
    }

    #[test]
    fn every_error_names_its_jsonpath() {
        let mut v = example();
        v["sites"][0]["endpoints"][1]["weight"] = json!(0);
        assert_eq!(first_error(&v), "$.sites[0].endpoints[1].weight: 1 to 255");
        let mut v = example();
        v["sites"][1]["endpoints"][0]["rdata"][0]["value"] = json!("2001:db8::1");
        assert!(first_error(&v).starts_with("$.sites[1].endpoints[0].rdata[0].value: an IPv4 address"));
        let mut v = example();
        v["monitorings"][0]["props"]["interval"] = json!(10);
        assert_eq!(first_error(&v), "$.monitorings[0].props.interval: 30 to 600 seconds");
        let mut v = example();
        v["monitorings"][0]["props"]["result"] = json!("up");
        assert!(first_error(&v).starts_with("$.monitorings[0].props.result: not a property"));
        let mut v = example();
        v["sites"][0]["endpoints"][0]["monitorings"][0]["resource_name"] = json!("nope");
        assert_eq!(
            first_error(&v),
            "$.sites[0].endpoints[0].monitorings[0].resource_name: no monitoring nope"
        );
        // Malformed or mistyped input names the field too.
        let mut v = example();
        v["sites"][0]["endpoints"][0]["weight"] = json!("heavy");
        assert!(first_error(&v).starts_with("$.sites[0].endpoints[0].weight: invalid type"));
        let mut v = example();
        v["sites"][0]["color"] = json!("red");
        assert!(first_error(&v).contains("unknown field `color`"));
    }

    #[test]
    fn method_trees_follow_the_reference_rules() {
        let fo = "/rules/0/methods/0/method/methods/0/method";
        let mut v = example();
        v.pointer_mut(&format!("{fo}/methods/1")).unwrap()["priority"] = json!(1);
        assert!(first_error(&v).ends_with("priority: used twice under one failover method"));
        let mut v = example();
        v.pointer_mut(&format!("{fo}/methods/0")).unwrap()["priority"] = json!(null);
        assert!(first_error(&v).ends_with("priority: required under a failover method"));
        let mut v = example();
        v.pointer_mut(&format!("{fo}/methods/0/method")).unwrap()["site_resource_name"] = json!("missing");
        assert!(first_error(&v).ends_with("site_resource_name: no site missing"));
        // An AAAA entry cannot lead to an A site.
        let mut v = example();
        v.pointer_mut("/rules/0/methods/0/method").unwrap()["mtype"] = json!("entry_aaaa");
        assert!(first_error(&v).contains("the site is A"));
        // Depth: entry + 6 nested failovers is 7 levels.
        let mut v = example();
        let mut deepest = json!({"priority": 1, "method": {"resource_name": "x0", "mtype": "exit_sorry", "enabled": true, "methods": []}});
        for d in 1..6 {
            deepest = json!({"priority": 1, "method": {"resource_name": format!("x{d}"), "mtype": "failover", "enabled": true, "methods": [deepest]}});
        }
        v.pointer_mut(&format!("{fo}/methods"))
            .unwrap()
            .as_array_mut()
            .unwrap()
            .push({
                let mut d = deepest;
                d["priority"] = json!(9);
                d
            });
        assert!(
            first_error(&v).ends_with("method trees are at most 6 deep"),
            "{}",
            first_error(&v)
        );
        // Limits on counts.
        let mut v = example();
        let site = v["sites"][2].clone();
        let sites = v["sites"].as_array_mut().unwrap();
        for i in 0..50 {
            let mut s = site.clone();
            s["resource_name"] = json!(format!("extra{i}"));
            s["endpoints"][0]["resource_name"] = json!(format!("e{i}"));
            sites.push(s);
        }
        assert_eq!(first_error(&v), "$.sites: at most 50 sites");
    }
}
