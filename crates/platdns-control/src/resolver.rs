//! Questions this process asks other name servers: the operator's resolver
//! (`--verify-resolver`) for consent tokens (R3.1), a signed zone's DS at
//! its parent and a child's CDS (issue 8); and the message they share with
//! the secondary side's SOA checks and transfers.

use platdns_dataplane::wire::Outgoing;
use platdns_zone::zonefile::Record;
use platdns_zone::{Name, Rtype};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The EDNS payload size we offer (the DNS Flag Day 2020 figure): large
/// enough for DS, CDS and TXT sets; a larger answer comes over TCP.
const EDNS_PAYLOAD: u16 = 1232;

/// A query message: `qname`/`qtype` IN, RD as asked, an SOA in the
/// authority section for IXFR (RFC 1995 §3), an EDNS OPT when `edns` (the
/// data plane's [`Outgoing`] builds it).
pub fn question(id: u16, qname: &Name, qtype: Rtype, rd: bool, authority: Option<&Record>, edns: bool) -> Vec<u8> {
    let soa = authority.map(|r| {
        let mut rr = Vec::new();
        r.write_wire(&mut rr);
        rr
    });
    let qname = qname.to_lowercase();
    Outgoing {
        recursion_desired: rd,
        authority: soa.as_deref(),
        edns: edns.then_some(EDNS_PAYLOAD),
        ..Outgoing::query(id, qname.as_wire(), qtype.0)
    }
    .to_wire()
}

/// What a resolver answered.
#[derive(Debug)]
pub struct Answer {
    /// RCODE (RFC 1035 §4.1.1): 0 NOERROR, 3 NXDOMAIN, ...
    pub rcode: u8,
    /// The answer section's records of the type asked for, owned by the name
    /// asked for (a CNAME chain's other records are left out).
    pub records: Vec<Record>,
}

/// Asks `server` (recursion desired) for `qname` `qtype` over UDP, three
/// tries of two seconds, then over TCP when the answer was truncated.
pub async fn ask(server: SocketAddr, qname: &Name, qtype: Rtype) -> Result<Answer, String> {
    let bind = if server.is_ipv6() { "[::]:0" } else { "0.0.0.0:0" };
    let sock = tokio::net::UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(server).await.map_err(|e| e.to_string())?;
    let id = platdns_dataplane::tsig::message_id();
    let q = question(id, qname, qtype, true, None, true);
    let mut buf = vec![0u8; EDNS_PAYLOAD as usize];
    for _ in 0..3 {
        sock.send(&q).await.map_err(|e| e.to_string())?;
        let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), sock.recv(&mut buf)).await else {
            continue;
        };
        let m = &buf[..n];
        if n < 12 || m[0..2] != id.to_be_bytes() || m[2] & 0x80 == 0 {
            continue;
        }
        if m[2] & 0x02 != 0 {
            return ask_tcp(server, &q, id, qname, qtype).await;
        }
        return answer_of(m, qname, qtype);
    }
    Err(format!("no answer from {server}"))
}

async fn ask_tcp(server: SocketAddr, q: &[u8], id: u16, qname: &Name, qtype: Rtype) -> Result<Answer, String> {
    let exchange = async {
        let mut tcp = tokio::net::TcpStream::connect(server).await?;
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(q);
        tcp.write_all(&framed).await?;
        let len = tcp.read_u16().await? as usize;
        let mut m = vec![0u8; len];
        tcp.read_exact(&mut m).await?;
        Ok::<_, std::io::Error>(m)
    };
    let m = tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| format!("no answer from {server} over TCP"))?
        .map_err(|e| e.to_string())?;
    if m.len() < 12 || m[0..2] != id.to_be_bytes() {
        return Err(format!("{server} answered another question over TCP"));
    }
    answer_of(&m, qname, qtype)
}

fn answer_of(m: &[u8], qname: &Name, qtype: Rtype) -> Result<Answer, String> {
    let (answer, _) = platdns_dataplane::wire::response_records(m)?;
    Ok(Answer {
        rcode: m[3] & 0x0f,
        records: answer
            .into_iter()
            .filter(|r| r.rtype == qtype && r.owner.eq_ignore_case(qname))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_text(s, None).unwrap()
    }

    #[test]
    fn a_question_is_a_query_the_dataplane_accepts() {
        let q = question(0x1234, &n("Example.COM."), Rtype::DS, true, None, true);
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00], "id, RD");
        let parsed = platdns_dataplane::wire::parse_query(&q).expect("a well-formed query");
        assert_eq!(parsed.qtype, Rtype::DS);
        assert!(parsed.edns.is_some(), "with EDNS");
        let plain = question(1, &n("example.com."), Rtype::SOA, false, None, false);
        assert_eq!(&plain[2..4], &[0, 0], "no RD");
        assert_eq!(plain.len(), 12 + 13 + 4, "no OPT");
    }
}
