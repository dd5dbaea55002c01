//! DNS messages for tests that speak the wire themselves: a query builder
//! (name, type, class, opcode, EDNS), TCP framing, and the header fields a
//! test reads from a reply.

use std::io::{self, Read};

/// A query's OPT pseudo-record (RFC 6891): UDP payload size, EDNS version
/// and the DO bit; no options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    pub udp_size: u16,
    pub version: u8,
    pub dnssec_ok: bool,
}

impl Default for Edns {
    /// 1232 bytes, version 0, DO clear.
    fn default() -> Edns {
        Edns {
            udp_size: 1232,
            version: 0,
            dnssec_ok: false,
        }
    }
}

impl Edns {
    /// The OPT record as it goes in the additional section.
    pub fn wire(&self) -> [u8; 11] {
        let [hi, lo] = self.udp_size.to_be_bytes();
        let flags = if self.dnssec_ok { 0x80 } else { 0 };
        [0, 0, 41, hi, lo, 0, self.version, flags, 0, 0, 0]
    }
}

/// A query with one question; ID 0, class IN, opcode QUERY, no flags and no
/// OPT unless set.
#[derive(Debug, Clone)]
pub struct Query<'a> {
    id: u16,
    qname: &'a str,
    qtype: u16,
    qclass: u16,
    opcode: u8,
    edns: Option<Edns>,
}

impl<'a> Query<'a> {
    /// `qname` in text, with or without the final dot.
    pub fn new(qname: &'a str, qtype: u16) -> Query<'a> {
        Query {
            id: 0,
            qname,
            qtype,
            qclass: 1,
            opcode: 0,
            edns: None,
        }
    }

    pub fn id(mut self, id: u16) -> Self {
        self.id = id;
        self
    }

    pub fn class(mut self, qclass: u16) -> Self {
        self.qclass = qclass;
        self
    }

    pub fn opcode(mut self, opcode: u8) -> Self {
        self.opcode = opcode;
        self
    }

    /// An OPT record, or none.
    pub fn edns(mut self, edns: impl Into<Option<Edns>>) -> Self {
        self.edns = edns.into();
        self
    }

    /// The message as sent over UDP (see [`framed`] for TCP).
    pub fn wire(&self) -> Vec<u8> {
        let [id_hi, id_lo] = self.id.to_be_bytes();
        let arcount = u8::from(self.edns.is_some());
        let mut m = vec![id_hi, id_lo, self.opcode << 3, 0, 0, 1, 0, 0, 0, 0, 0, arcount];
        for label in self.qname.split('.').filter(|l| !l.is_empty()) {
            m.push(label.len() as u8);
            m.extend_from_slice(label.as_bytes());
        }
        m.push(0);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some(edns) = self.edns {
            m.extend_from_slice(&edns.wire());
        }
        m
    }
}

/// `message` with the two-byte length that precedes it over TCP.
pub fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = (message.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(message);
    out
}

/// Reads one length-prefixed message from a TCP stream.
pub fn read_framed(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut message)?;
    Ok(message)
}

/// A message's ID.
pub fn id(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[0], message[1]])
}

/// A message's RCODE (the header's four bits; no extended RCODE).
pub fn rcode(message: &[u8]) -> u8 {
    message[3] & 0x0f
}

/// The number of answer records a message's header announces.
pub fn ancount(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[6], message[7]])
}

/// The number of additional records a message's header announces.
pub fn arcount(message: &[u8]) -> u16 {
    u16::from_be_bytes([message[10], message[11]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_on_the_wire() {
        assert_eq!(
            Query::new("www.example.", 1).id(0x1234).wire(),
            b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x00\x00\x01\x00\x01"
        );
        let q = Query::new("example", 6)
            .class(3)
            .opcode(2)
            .edns(Edns {
                dnssec_ok: true,
                ..Edns::default()
            })
            .wire();
        assert_eq!((q[2], arcount(&q)), (2 << 3, 1));
        assert_eq!(&q[12..21], b"\x07example\x00");
        assert_eq!(&q[21..25], &[0, 6, 0, 3]);
        assert_eq!(&q[25..], &[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]);
    }

    #[test]
    fn framing_and_header_fields() {
        let q = Query::new("a.b", 1).id(7).wire();
        let f = framed(&q);
        assert_eq!(f.len(), q.len() + 2);
        let back = read_framed(&mut &f[..]).unwrap();
        assert_eq!((id(&back), rcode(&back), ancount(&back)), (7, 0, 0));
        assert!(read_framed(&mut &f[..5]).is_err());
    }
}
