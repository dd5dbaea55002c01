//! The query path: packet in, packet out. Each step is a function, in the
//! order Knot's `process_query_out` and NSD's `answer_query` run them:
//! parse (FORMERR / drop) → opcode (NOTIMP) → EDNS version (BADVERS) → class →
//! choose zone (REFUSED) → zone lookup → encode sections in order, with TC.
//!
//! Nothing here allocates: the [`Responder`] owns a reusable [`Resolution`],
//! and the response is written into a caller-supplied buffer.

use crate::compress::Compressor;
use crate::meter::{Action, Restrictions};
use crate::wire::{hdr, parse_query, rcode, Query, Reject, HEADER_LEN};
use platdns_zone::lookup::{Outcome, Owner, Section};
use platdns_zone::zone::RrIter;
use platdns_zone::{Catalog, Resolution, Rtype, Steered, Zone};

/// Largest UDP payload we send, whatever the client offers: the DNS flag day
/// 2020 figure, which avoids IP fragmentation on common paths.
pub const DEFAULT_EDNS_UDP_SIZE: u16 = 1232;
/// RFC 1035 §4.2.1: without EDNS, UDP messages are at most 512 octets.
pub const CLASSIC_UDP_SIZE: usize = 512;
const OPT_RR_LEN: usize = 11;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Server identity for the CHAOS class queries (RFC 4892): `id.server`,
/// `hostname.bind`, `version.server`, `version.bind`. `None` refuses them.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    pub id: Option<String>,
    pub version: Option<String>,
}

/// Per-worker state for answering; create one per thread and reuse it.
pub struct Responder {
    resolution: Resolution,
    compressor: Compressor,
    /// xorshift32 state for steered names' weighted choice (per worker, so
    /// no lock and no shared cache line).
    random: u32,
    pub max_udp_size: u16,
    pub identity: Identity,
    /// The node's restrictions of meter slots (R4.2).
    pub restrictions: std::sync::Arc<Restrictions>,
    /// The meter slot of the last query answered (0: none), and whether a
    /// restriction took it: the worker counts them.
    pub last_meter: u32,
    pub last_restricted: bool,
    /// Zone transfers (`None`: every transfer is refused).
    pub transfers: Option<std::sync::Arc<crate::xfr::Transfers>>,
    /// The last query was an IXFR over UDP: `respond` left it to the
    /// caller, which knows the peer ([`crate::xfr::Transfers::answer_udp`]).
    pub last_udp_ixfr: bool,
}

/// `answer`'s rcode for "send nothing" (a restriction's drop).
const DROP: u16 = u16::MAX;
/// `answer`'s rcode for "an IXFR over UDP, for the transfers to answer".
const UDP_IXFR: u16 = u16::MAX - 1;

impl Default for Responder {
    fn default() -> Self {
        Responder::new(DEFAULT_EDNS_UDP_SIZE, Identity::default())
    }
}

/// A response being written into a fixed buffer.
struct Msg<'b> {
    buf: &'b mut [u8],
    len: usize,
    /// Bytes available for records (room for OPT already kept back).
    limit: usize,
}

impl Msg<'_> {
    fn put(&mut self, bytes: &[u8]) -> bool {
        if self.len + bytes.len() > self.limit {
            return false;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        true
    }

    fn set_u16(&mut self, at: usize, v: u16) {
        self.buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

impl Responder {
    pub fn new(max_udp_size: u16, identity: Identity) -> Self {
        Responder {
            resolution: Resolution::default(),
            compressor: Compressor::default(),
            // Any non-zero seed; workers differ by their address.
            random: 0x9e37_79b9 ^ (std::ptr::addr_of!(max_udp_size) as usize as u32) | 1,
            max_udp_size,
            identity,
            restrictions: Default::default(),
            last_meter: 0,
            last_restricted: false,
            transfers: None,
            last_udp_ixfr: false,
        }
    }

    /// Answers `packet`, writing the response into `out`. Returns the response
    /// length, or `None` when nothing must be sent.
    pub fn respond(&mut self, catalog: &Catalog, packet: &[u8], transport: Transport, out: &mut [u8]) -> Option<usize> {
        self.last_meter = 0;
        self.last_restricted = false;
        self.last_udp_ixfr = false;
        let query = match parse_query(packet) {
            Ok(q) => q,
            Err(Reject::Drop) => return None,
            Err(Reject::FormErr { question_end }) => {
                // The opcode before the question count (RFC 1035 §4.1.1):
                // an opcode not served here is NOTIMP whatever follows it,
                // a DSO message (opcode 6) with no question included (RFC
                // 8490 §5.1); only a QUERY or NOTIFY that does not parse
                // is FORMERR.
                let opcode = (u16::from_be_bytes([packet[2], packet[3]]) & hdr::OPCODE_MASK) >> 11;
                let rc = match opcode {
                    0 | 4 => rcode::FORMERR,
                    _ => rcode::NOTIMP,
                };
                return Some(unparsed(packet, question_end, out, self.max_udp_size, rc));
            }
        };
        let size = match (transport, query.edns) {
            (Transport::Tcp, _) => out.len().min(u16::MAX as usize),
            (Transport::Udp, None) => CLASSIC_UDP_SIZE,
            (Transport::Udp, Some(e)) => (e.udp_size.min(self.max_udp_size) as usize).max(CLASSIC_UDP_SIZE),
        }
        .min(out.len());
        let opt_room = if query.edns.is_some() { OPT_RR_LEN } else { 0 };
        let mut msg = Msg {
            buf: out,
            len: 0,
            limit: size - opt_room,
        };
        // Header and question, echoed as the client wrote them.
        msg.put(&packet[..query.question_end]);
        msg.set_u16(4, 1);
        for at in [6, 8, 10] {
            msg.set_u16(at, 0);
        }
        let rc = self.answer(catalog, &query, transport, &mut msg);
        if rc == DROP {
            return None;
        }
        if rc == UDP_IXFR {
            self.last_udp_ixfr = true;
            return None;
        }
        finish(&query, rc, &mut msg, self.max_udp_size);
        if query.tsig_at.is_some() {
            // A signed query (a secondary's SOA check, RFC 8945): verified and
            // answered signed, off the hot path.
            let transfers = self.transfers.as_deref()?;
            let len = msg.len;
            return Some(transfers.sign_answer(packet, &query, msg.buf, len, size));
        }
        Some(msg.len)
    }

    /// Everything between the question and the OPT record. Returns the rcode.
    fn answer(&mut self, catalog: &Catalog, q: &Query, transport: Transport, msg: &mut Msg) -> u16 {
        if q.opcode() != 0 {
            return rcode::NOTIMP;
        }
        if q.edns.is_some_and(|e| e.version != 0) {
            return rcode::BADVERS;
        }
        match q.qclass {
            1 | 255 => {}
            3 => return self.chaos(q, msg),
            _ => return rcode::REFUSED,
        }
        if matches!(q.qtype, Rtype::AXFR | Rtype::IXFR) {
            // AXFR is TCP only (RFC 5936 §4.2); an IXFR over UDP (RFC 1995
            // §2) goes to the transfers, off this path. Over TCP the server
            // sends transfers to them before this answer is asked for.
            return match (transport, q.qtype, &self.transfers) {
                (Transport::Udp, Rtype::IXFR, Some(_)) => UDP_IXFR,
                (Transport::Udp, _, _) => rcode::NOTIMP,
                (Transport::Tcp, _, _) => rcode::REFUSED,
            };
        }
        if q.qtype == Rtype::OPT || q.qtype.0 == 0 {
            return rcode::FORMERR;
        }
        let Some(zone) = catalog.find(q.qname(), q.qtype) else {
            return rcode::REFUSED;
        };
        let steered = catalog.steered(q.qname());
        // An LB name counts against its LB domain, wherever it is served.
        self.last_meter = steered.map_or(zone.meter(), |s| s.meter());
        if let Some(action) = self.restrictions.check(self.last_meter) {
            self.last_restricted = true;
            return match (action, transport) {
                (Action::Drop, _) => DROP,
                (Action::Truncate, Transport::Udp) => {
                    let f = u16::from_be_bytes([msg.buf[2], msg.buf[3]]) | hdr::TC;
                    msg.set_u16(2, f);
                    rcode::NOERROR
                }
                _ => rcode::REFUSED,
            };
        }
        if let Some(s) = steered {
            return self.steered(zone, &**s, q, msg);
        }
        let dnssec_ok = q.edns.is_some_and(|e| e.dnssec_ok);
        zone.resolve_dnssec(q.qname(), q.qtype, dnssec_ok, &mut self.resolution);
        self.encode(zone, msg)
    }

    /// A steered name (traffic management): the records the steering chose,
    /// owned by the QNAME (a pointer to the question); NODATA with the
    /// zone's SOA when it chose none.
    fn steered(&mut self, zone: &Zone, s: &dyn Steered, q: &Query, msg: &mut Msg) -> u16 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 17;
        self.random ^= self.random << 5;
        let f = u16::from_be_bytes([msg.buf[2], msg.buf[3]]) | hdr::AA;
        msg.set_u16(2, f);
        let start = msg.len;
        let mut full = false;
        let n = s.answer(q.qtype, self.random, &mut |rtype, ttl, rdata| {
            let mut rr = [0u8; 12];
            rr[0..2].copy_from_slice(&[0xC0, 0x0C]);
            rr[2..4].copy_from_slice(&rtype.0.to_be_bytes());
            rr[4..6].copy_from_slice(&1u16.to_be_bytes());
            rr[6..10].copy_from_slice(&ttl.to_be_bytes());
            rr[10..12].copy_from_slice(&(rdata.len() as u16).to_be_bytes());
            let ok = msg.put(&rr) && msg.put(rdata);
            full |= !ok;
            ok
        });
        if full {
            // RFC 2181 §9: a partial RRset is not sent; TC and nothing.
            msg.len = start;
            let f = u16::from_be_bytes([msg.buf[2], msg.buf[3]]) | hdr::TC;
            msg.set_u16(2, f);
            return rcode::NOERROR;
        }
        if n > 0 {
            msg.set_u16(6, n as u16);
            return rcode::NOERROR;
        }
        self.resolution.set_nodata(zone);
        self.encode(zone, msg)
    }

    /// Writes the resolution's sections; TC with empty sections if the answer
    /// or authority does not fit (as knotd does), additional only as room allows.
    fn encode(&mut self, zone: &Zone, msg: &mut Msg) -> u16 {
        let r = &self.resolution;
        if r.authoritative {
            let f = u16::from_be_bytes([msg.buf[2], msg.buf[3]]) | hdr::AA;
            msg.set_u16(2, f);
        }
        self.compressor.reset(&msg.buf[..msg.len]);
        let sections_start = msg.len;
        let mut counts = [0u16; 3];
        let c = &mut self.compressor;
        for (i, section) in [&r.answer, &r.authority].into_iter().enumerate() {
            match write_section(zone, section, msg, c) {
                Some(n) => counts[i] = n,
                None => {
                    msg.len = sections_start;
                    let f = u16::from_be_bytes([msg.buf[2], msg.buf[3]]) | hdr::TC;
                    msg.set_u16(2, f);
                    return rcode_of(r.outcome);
                }
            }
        }
        counts[2] = write_additional(zone, &r.additional, msg, c);
        msg.set_u16(6, counts[0]);
        msg.set_u16(8, counts[1]);
        msg.set_u16(10, counts[2]);
        rcode_of(r.outcome)
    }

    /// CHAOS TXT identity queries (RFC 4892 §2).
    fn chaos(&mut self, q: &Query, msg: &mut Msg) -> u16 {
        if q.qtype != Rtype::TXT && q.qtype != Rtype::ANY {
            return rcode::REFUSED;
        }
        let text = match q.qname() {
            b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => self.identity.id.as_deref(),
            b"\x07version\x06server\x00" | b"\x07version\x04bind\x00" => self.identity.version.as_deref(),
            _ => None,
        };
        let Some(text) = text else { return rcode::REFUSED };
        let text = &text.as_bytes()[..text.len().min(255)];
        let rdlen = text.len() as u16 + 1;
        let mut rr = [0u8; 12];
        rr[0..2].copy_from_slice(&[0xC0, 0x0C]);
        rr[2..4].copy_from_slice(&Rtype::TXT.0.to_be_bytes());
        rr[4..6].copy_from_slice(&3u16.to_be_bytes());
        // TTL 0: the answer describes this server, not data to cache.
        rr[10..12].copy_from_slice(&rdlen.to_be_bytes());
        let save = msg.len;
        if msg.put(&rr) && msg.put(&[text.len() as u8]) && msg.put(text) {
            msg.set_u16(6, 1);
        } else {
            msg.len = save;
        }
        rcode::NOERROR
    }
}

fn rcode_of(o: Outcome) -> u16 {
    match o {
        Outcome::NoError => rcode::NOERROR,
        Outcome::NxDomain => rcode::NXDOMAIN,
    }
}

fn owner_wire(zone: &Zone, owner: Owner) -> Option<&[u8]> {
    match owner {
        Owner::Qname => None,
        Owner::Node(id) => Some(zone.node_name(id)),
        Owner::RdataName(off) => Some(zone.wire_name_at(off)),
    }
}

/// Writes every RR of every RRset; `None` if one did not fit.
fn write_section(zone: &Zone, section: &Section, msg: &mut Msg, c: &mut Compressor) -> Option<u16> {
    let mut n = 0u16;
    for &(owner, rrset) in section.items() {
        n += write_rrset(zone, owner, rrset, msg, c)?;
    }
    Some(n)
}

/// Additional data is optional (RFC 2181 §9): an RRset that does not fit is
/// left out whole, without TC.
fn write_additional(zone: &Zone, section: &Section, msg: &mut Msg, c: &mut Compressor) -> u16 {
    let mut n = 0u16;
    for &(owner, rrset) in section.items() {
        let save = (msg.len, c.mark());
        match write_rrset(zone, owner, rrset, msg, c) {
            Some(k) => n += k,
            None => {
                msg.len = save.0;
                c.rollback(save.1);
                break;
            }
        }
    }
    n
}

fn write_rrset(zone: &Zone, owner: Owner, rrset: u32, msg: &mut Msg, c: &mut Compressor) -> Option<u16> {
    let owner = owner_wire(zone, owner);
    let mut wire = zone.rrset_wire(rrset);
    let mut n = 0u16;
    for rdata in RrIter::new(wire) {
        let rr_len = 10 + rdata.len();
        match owner {
            None => {
                if !msg.put(&[0xC0, 0x0C]) {
                    return None;
                }
            }
            Some(name) => {
                let written = c.write_name(name, &mut msg.buf[..msg.limit], msg.len)?;
                msg.len += written;
            }
        }
        if !msg.put(&wire[..rr_len]) {
            return None;
        }
        wire = &wire[rr_len..];
        n += 1;
    }
    Some(n)
}

/// Sets the rcode, and writes the OPT record if the query had one.
fn finish(q: &Query, rc: u16, msg: &mut Msg, max_udp: u16) {
    let mut flags = (q.flags & (hdr::OPCODE_MASK | hdr::RD | hdr::CD)) | hdr::QR;
    flags |= u16::from_be_bytes([msg.buf[2], msg.buf[3]]) & (hdr::AA | hdr::TC);
    flags |= rc & 0x0f;
    msg.set_u16(2, flags);
    if let Some(e) = q.edns {
        msg.limit += OPT_RR_LEN;
        if msg.put(&e.response_opt(max_udp, rc)) {
            let ar = u16::from_be_bytes([msg.buf[10], msg.buf[11]]) + 1;
            msg.set_u16(10, ar);
        }
    }
}

/// FORMERR or NOTIMP (`rc`) for a message that did not parse, with the
/// question echoed when it parsed, else the bare header;
/// and an OPT when the query's records hold one (RFC 6891 §6.1.1).
fn unparsed(packet: &[u8], question_end: Option<usize>, out: &mut [u8], max_udp: u16, rc: u16) -> usize {
    let mut end = question_end.unwrap_or(HEADER_LEN).min(out.len());
    out[..end].copy_from_slice(&packet[..end]);
    let flags = (u16::from_be_bytes([packet[2], packet[3]]) & (hdr::OPCODE_MASK | hdr::RD | hdr::CD)) | hdr::QR | rc;
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    out[4..6].copy_from_slice(&(question_end.is_some() as u16).to_be_bytes());
    out[6..12].fill(0);
    if let Some(e) = crate::wire::opt_of_malformed(packet).filter(|_| end + OPT_RR_LEN <= out.len()) {
        out[end..end + OPT_RR_LEN].copy_from_slice(&e.response_opt(max_udp, rc));
        out[10..12].copy_from_slice(&1u16.to_be_bytes());
        end += OPT_RR_LEN;
    }
    end
}
