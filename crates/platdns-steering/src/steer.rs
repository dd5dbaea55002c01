//! An LB domain's configuration compiled for the query path, and the
//! answer to one query given which endpoints are Ready.
//!
//! The active rule's method tree becomes flat arrays (children of a
//! failover sorted by priority, lowest first); endpoints' rdata is encoded
//! to wire form once. [`Steering::answer`] walks the tree with no allocation
//! and no lock: the caller passes the Ready bits (an immutable snapshot the
//! monitor swaps) and a random number for the weighted choice, so tests can
//! fix it (DESIGN §3 "Steering").
//!
//! Choices where DPF leaves it open (see `SEMANTICS.md`): a lower priority
//! number is preferred; `entry_cname` answers every query type with the
//! CNAME; a type no entry serves, a disabled entry, or a tree with nothing
//! up answers NODATA; `exit_sorry` answers NODATA and counts as up, so a
//! failover reaches it only when everything before it is down.

use crate::model::{LbConfig, Method, MethodType, SiteType};

/// DNS record types of the answers (RFC 1035 §3.2.2, RFC 3596).
pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Entry,
    Failover,
    Site(u16),
    Sorry,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    kind: Kind,
    enabled: bool,
    children_start: u16,
    children_len: u16,
}

#[derive(Debug, Clone, Copy)]
struct SiteC {
    rtype: u16,
    endpoints_start: u16,
    endpoints_len: u16,
}

#[derive(Debug, Clone, Copy)]
struct EndpointC {
    weight: u32,
    rdata_start: u32,
    rdata_len: u16,
}

/// What a query gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The rdata of this endpoint (an index into the configuration's
    /// endpoints, in site order), as records of `rtype`.
    Endpoint { rtype: u16, endpoint: u16 },
    /// No records: the type is not served, or nothing is up, or the tree
    /// ended in `exit_sorry`.
    NoData,
}

/// A compiled LB domain.
#[derive(Debug, Clone)]
pub struct Steering {
    ttl: u32,
    /// Entry nodes for A, AAAA and CNAME.
    entries: [Option<u16>; 3],
    nodes: Vec<Node>,
    children: Vec<u16>,
    sites: Vec<SiteC>,
    endpoints: Vec<EndpointC>,
    /// (offset, length) of each rdata in `wire`.
    rdata: Vec<(u32, u16)>,
    wire: Vec<u8>,
    /// Resource names of the endpoints, in index order (for the monitor and
    /// the explain API).
    pub endpoint_names: Vec<String>,
}

impl Steering {
    /// Compiles `config` with `rule` as the active rule (None: no rule is
    /// applied and every query gets NODATA). `ttl` is the answers' TTL.
    /// The configuration must have passed [`LbConfig::check`].
    pub fn compile(config: &LbConfig, rule: Option<&str>, ttl: u32) -> Steering {
        let mut s = Steering {
            ttl,
            entries: [None; 3],
            nodes: Vec::new(),
            children: Vec::new(),
            sites: Vec::new(),
            endpoints: Vec::new(),
            rdata: Vec::new(),
            wire: Vec::new(),
            endpoint_names: Vec::new(),
        };
        for site in &config.sites {
            let rtype = match site.rrtype {
                SiteType::A => TYPE_A,
                SiteType::AAAA => TYPE_AAAA,
                SiteType::CNAME => TYPE_CNAME,
            };
            s.sites.push(SiteC {
                rtype,
                endpoints_start: s.endpoints.len() as u16,
                endpoints_len: site.endpoints.len() as u16,
            });
            for e in &site.endpoints {
                let rdata_start = s.rdata.len() as u32;
                for r in &e.rdata {
                    let off = s.wire.len() as u32;
                    encode_rdata(site.rrtype, &r.value, &mut s.wire);
                    s.rdata.push((off, (s.wire.len() as u32 - off) as u16));
                }
                s.endpoints.push(EndpointC {
                    weight: e.weight,
                    rdata_start,
                    rdata_len: e.rdata.len() as u16,
                });
                s.endpoint_names.push(e.resource_name.clone());
            }
        }
        let Some(rule) = rule.and_then(|r| config.rule(r)) else {
            return s;
        };
        let site_index = |name: &str| config.sites.iter().position(|x| x.resource_name == name);
        for item in &rule.methods {
            let slot = match item.method.mtype {
                MethodType::EntryA => 0,
                MethodType::EntryAaaa => 1,
                _ => 2,
            };
            let id = s.add(&item.method, &site_index);
            s.entries[slot] = Some(id);
        }
        s
    }

    fn add(&mut self, m: &Method, site_index: &dyn Fn(&str) -> Option<usize>) -> u16 {
        let kind = match m.mtype {
            MethodType::EntryA | MethodType::EntryAaaa | MethodType::EntryCname => Kind::Entry,
            MethodType::Failover => Kind::Failover,
            MethodType::ExitSite => match m.site_resource_name.as_deref().and_then(site_index) {
                Some(i) => Kind::Site(i as u16),
                None => Kind::Sorry,
            },
            MethodType::ExitSorry => Kind::Sorry,
        };
        let id = self.nodes.len() as u16;
        self.nodes.push(Node {
            kind,
            enabled: m.enabled,
            children_start: 0,
            children_len: 0,
        });
        let mut kids: Vec<(u32, &Method)> = m.methods.iter().map(|c| (c.priority.unwrap_or(0), &c.method)).collect();
        // Failover prefers the lowest priority number.
        kids.sort_by_key(|(p, _)| *p);
        let ids: Vec<u16> = kids.into_iter().map(|(_, c)| self.add(c, site_index)).collect();
        let start = self.children.len() as u16;
        self.children.extend(ids);
        let n = &mut self.nodes[id as usize];
        n.children_start = start;
        n.children_len = self.children.len() as u16 - start;
        id
    }

    pub fn ttl(&self) -> u32 {
        self.ttl
    }

    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// The wire-form rdata of an endpoint (A: 4 octets, AAAA: 16, CNAME: an
    /// uncompressed domain name).
    pub fn rdata(&self, endpoint: u16) -> impl Iterator<Item = &[u8]> + '_ {
        let e = self.endpoints[endpoint as usize];
        self.rdata[e.rdata_start as usize..e.rdata_start as usize + e.rdata_len as usize]
            .iter()
            .map(|&(off, len)| &self.wire[off as usize..off as usize + len as usize])
    }

    /// The answer for `qtype` when `ready[i]` says whether endpoint `i` is
    /// Ready; `random` picks among a site's ready endpoints by weight.
    /// Allocates nothing.
    pub fn answer(&self, qtype: u16, ready: &[bool], random: u32) -> Answer {
        let entry = match (self.entries[2], qtype) {
            (Some(cname), _) => Some(cname),
            (None, TYPE_A) => self.entries[0],
            (None, TYPE_AAAA) => self.entries[1],
            _ => None,
        };
        let Some(mut node) = entry else {
            return Answer::NoData;
        };
        // Depth is bounded by the model (6), so is this walk.
        for _ in 0..=crate::model::MAX_METHOD_DEPTH {
            let n = self.nodes[node as usize];
            if !n.enabled {
                return Answer::NoData;
            }
            match n.kind {
                Kind::Sorry => return Answer::NoData,
                Kind::Site(site) => return self.pick(site, ready, random),
                Kind::Entry | Kind::Failover => {
                    let next = self
                        .kids(n)
                        .iter()
                        .copied()
                        .find(|&c| self.is_up(c, ready, crate::model::MAX_METHOD_DEPTH));
                    match next {
                        Some(c) => node = c,
                        None => return Answer::NoData,
                    }
                }
            }
        }
        Answer::NoData
    }

    fn kids(&self, n: Node) -> &[u16] {
        &self.children[n.children_start as usize..n.children_start as usize + n.children_len as usize]
    }

    /// A method's Ready status: enabled and Live (DPF: entry = its child,
    /// failover = any child, exit_site = its site, exit_sorry = always).
    fn is_up(&self, node: u16, ready: &[bool], depth: usize) -> bool {
        let n = self.nodes[node as usize];
        if !n.enabled || depth == 0 {
            return false;
        }
        match n.kind {
            Kind::Sorry => true,
            Kind::Site(site) => self.site_up(site, ready),
            Kind::Entry | Kind::Failover => self.kids(n).iter().any(|&c| self.is_up(c, ready, depth - 1)),
        }
    }

    /// DPF: a site is Live up if one of its endpoints is Ready.
    pub fn site_up(&self, site: u16, ready: &[bool]) -> bool {
        let s = self.sites[site as usize];
        (s.endpoints_start..s.endpoints_start + s.endpoints_len).any(|e| ready.get(e as usize) == Some(&true))
    }

    /// One ready endpoint, with probability weight / (sum of ready weights).
    fn pick(&self, site: u16, ready: &[bool], random: u32) -> Answer {
        let s = self.sites[site as usize];
        let range = s.endpoints_start..s.endpoints_start + s.endpoints_len;
        let is_ready = |e: u16| ready.get(e as usize) == Some(&true);
        let total: u32 = range
            .clone()
            .filter(|&e| is_ready(e))
            .map(|e| self.endpoints[e as usize].weight)
            .sum();
        if total == 0 {
            return Answer::NoData;
        }
        // Multiply-shift maps the 32-bit draw onto [0, total) without the
        // bias of a modulo.
        let mut at = ((u64::from(random) * u64::from(total)) >> 32) as u32;
        for e in range.filter(|&e| is_ready(e)) {
            let w = self.endpoints[e as usize].weight;
            if at < w {
                return Answer::Endpoint {
                    rtype: s.rtype,
                    endpoint: e,
                };
            }
            at -= w;
        }
        Answer::NoData
    }
}

/// Rdata to wire form; the model has checked the text.
fn encode_rdata(t: SiteType, value: &str, out: &mut Vec<u8>) {
    match t {
        SiteType::A => out.extend_from_slice(
            &value
                .parse::<std::net::Ipv4Addr>()
                .map(|a| a.octets())
                .unwrap_or_default(),
        ),
        SiteType::AAAA => out.extend_from_slice(
            &value
                .parse::<std::net::Ipv6Addr>()
                .map(|a| a.octets())
                .unwrap_or_default(),
        ),
        SiteType::CNAME => {
            for label in value.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
                out.push(label.len() as u8);
                out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
            }
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Limits;
    use crate::status::{EndpointFlags, EndpointState};

    fn config() -> LbConfig {
        let v = crate::model::tests::example();
        LbConfig::parse(v.to_string().as_bytes(), &Limits::default()).unwrap()
    }

    // Endpoints in order: t1 (w1), t2 (w3) in tokyo; o1 in osaka; s1 in sorry.
    const ALL: [bool; 4] = [true, true, true, true];

    #[test]
    fn weights_1_to_3_share_10000_answers_within_3_percent() {
        let s = Steering::compile(&config(), Some("main"), 30);
        let mut rng = platdns_testkit::rng::Rng::new(0x9e37_79b9);
        let mut counts = [0u32; 4];
        for _ in 0..10_000 {
            match s.answer(TYPE_A, &ALL, rng.next_u64() as u32) {
                Answer::Endpoint { rtype, endpoint } => {
                    assert_eq!(rtype, TYPE_A);
                    counts[endpoint as usize] += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        let share = |n: u32| f64::from(n) / 10_000.0;
        assert!((share(counts[0]) - 0.25).abs() < 0.03, "{counts:?}");
        assert!((share(counts[1]) - 0.75).abs() < 0.03, "{counts:?}");
        assert_eq!(counts[2] + counts[3], 0, "the preferred site serves alone");
        // All rdata values of the chosen endpoint form the answer.
        assert_eq!(
            s.rdata(1).collect::<Vec<_>>(),
            vec![&[192, 0, 2, 2][..], &[192, 0, 2, 3][..]]
        );
    }

    #[test]
    fn failover_moves_down_the_priorities_and_ends_in_sorry() {
        let s = Steering::compile(&config(), Some("main"), 30);
        let osaka = s.answer(TYPE_A, &[false, false, true, true], 7);
        assert_eq!(
            osaka,
            Answer::Endpoint {
                rtype: TYPE_A,
                endpoint: 2
            }
        );
        assert_eq!(
            s.answer(TYPE_A, &[false, false, false, true], 7),
            Answer::NoData,
            "exit_sorry"
        );
        assert_eq!(s.answer(TYPE_AAAA, &ALL, 7), Answer::NoData, "no entry_aaaa");
        assert_eq!(
            s.answer(TYPE_A, &[true, false, true, true], u32::MAX),
            Answer::Endpoint {
                rtype: TYPE_A,
                endpoint: 0
            }
        );
    }

    #[test]
    fn switching_the_rule_or_disabling_a_method_changes_the_next_answer() {
        let mut c = config();
        let mut other = c.rules[0].clone();
        other.resource_name = "osaka-first".into();
        let fo = &mut other.methods[0].method.methods[0].method;
        fo.methods[0].priority = Some(5);
        c.rules.push(other);
        let main = Steering::compile(&c, Some("main"), 30);
        let osaka_first = Steering::compile(&c, Some("osaka-first"), 30);
        assert!(matches!(
            main.answer(TYPE_A, &ALL, 1),
            Answer::Endpoint { endpoint: 0 | 1, .. }
        ));
        assert_eq!(
            osaka_first.answer(TYPE_A, &ALL, 1),
            Answer::Endpoint {
                rtype: TYPE_A,
                endpoint: 2
            }
        );
        // A disabled exit method is skipped by its failover parent.
        c.rules[0].methods[0].method.methods[0].method.methods[0].method.enabled = false;
        let s = Steering::compile(&c, Some("main"), 30);
        assert_eq!(
            s.answer(TYPE_A, &ALL, 1),
            Answer::Endpoint {
                rtype: TYPE_A,
                endpoint: 2
            }
        );
        assert_eq!(Steering::compile(&c, None, 30).answer(TYPE_A, &ALL, 1), Answer::NoData);
    }

    #[test]
    fn manual_failback_keeps_the_answer_on_the_backup_until_failback() {
        // Osaka's o1 has manual_failback; make Tokyo fail, then recover.
        let s = Steering::compile(&config(), Some("main"), 30);
        let flags = EndpointFlags {
            enabled: true,
            manual_failover: false,
            manual_failback: true,
        };
        let mut tokyo = [EndpointState::default(); 2];
        let auto = EndpointFlags {
            manual_failback: false,
            ..flags
        };
        for t in &mut tokyo {
            t.on_live(true, auto);
        }
        let tokyo_flags = EndpointFlags {
            manual_failback: true,
            ..auto
        };
        for t in &mut tokyo {
            t.on_live(false, tokyo_flags);
        }
        let ready = |t: &[EndpointState; 2]| [t[0].ready, t[1].ready, true, true];
        assert_eq!(
            s.answer(TYPE_A, &ready(&tokyo), 1),
            Answer::Endpoint {
                rtype: TYPE_A,
                endpoint: 2
            }
        );
        for t in &mut tokyo {
            t.on_live(true, tokyo_flags);
        }
        assert_eq!(
            s.answer(TYPE_A, &ready(&tokyo), 1),
            Answer::Endpoint {
                rtype: TYPE_A,
                endpoint: 2
            },
            "recovered, but held out"
        );
        for t in &mut tokyo {
            t.failback(tokyo_flags, false).unwrap();
        }
        assert!(matches!(
            s.answer(TYPE_A, &ready(&tokyo), 1),
            Answer::Endpoint { endpoint: 0 | 1, .. }
        ));
    }

    #[test]
    fn cname_sites_answer_every_type_with_one_name() {
        let v = serde_json::json!({
            "monitorings": [],
            "sites": [{"resource_name": "c", "name": "c", "rrtype": "CNAME", "endpoints": [
                {"resource_name": "e", "name": "e", "weight": 1, "enabled": true, "rdata": [{"value": "Origin.Example.NET."}]}
            ]}],
            "rules": [{"resource_name": "r", "name": "r", "methods": [
                {"method": {"resource_name": "c", "mtype": "entry_cname", "enabled": true, "methods": [
                    {"method": {"resource_name": "x", "mtype": "exit_site", "enabled": true, "site_resource_name": "c"}}
                ]}}
            ]}]
        });
        let c = LbConfig::parse(v.to_string().as_bytes(), &Limits::default()).unwrap();
        let s = Steering::compile(&c, Some("r"), 60);
        for q in [TYPE_A, TYPE_AAAA, 16] {
            assert_eq!(
                s.answer(q, &[true], 0),
                Answer::Endpoint {
                    rtype: TYPE_CNAME,
                    endpoint: 0
                }
            );
        }
        assert_eq!(s.rdata(0).next().unwrap(), b"\x06origin\x07example\x03net\x00");
        assert_eq!(s.ttl(), 60);
    }
}
