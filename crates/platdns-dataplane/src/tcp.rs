//! DNS over TCP (RFC 7766): two-octet length framing, several queries per
//! connection (pipelining; answered in order), an idle timeout, and a cap on
//! open connections so a flood of idle clients cannot exhaust the server.

use crate::answer::{Responder, Transport};
use crate::stats::WorkerStats;
use arc_swap::ArcSwap;
use platdns_zone::Catalog;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct TcpConfig {
    /// Close a connection with no complete query for this long (RFC 7766 §6.2.3).
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            idle_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

/// Accepts connections until the task is dropped.
pub async fn serve(
    listener: TcpListener,
    catalog: Arc<ArcSwap<Catalog>>,
    template: Responder,
    config: TcpConfig,
    stats: Arc<WorkerStats>,
) {
    let permits = Arc::new(Semaphore::new(config.max_connections));
    let (identity, max_udp_size) = (template.identity.clone(), template.max_udp_size);
    let restrictions = template.restrictions.clone();
    let transfers = template.transfers.clone();
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream); // over the cap: refuse by closing at once
            continue;
        };
        let (catalog, stats, config) = (catalog.clone(), stats.clone(), config.clone());
        let mut responder = Responder::new(max_udp_size, identity.clone());
        responder.restrictions = restrictions.clone();
        responder.transfers = transfers.clone();
        tokio::spawn(async move {
            let _ = connection(stream, peer.ip(), &catalog, &mut responder, &config, &stats).await;
            drop(permit);
        });
    }
}

async fn connection(
    stream: TcpStream,
    peer: std::net::IpAddr,
    catalog: &ArcSwap<Catalog>,
    responder: &mut Responder,
    config: &TcpConfig,
    stats: &WorkerStats,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (r, w) = stream.into_split();
    let mut r = BufReader::new(r);
    let mut w = BufWriter::new(w);
    let mut query = vec![0u8; u16::MAX as usize];
    let mut response = vec![0u8; u16::MAX as usize + 2];
    loop {
        let read = async {
            let len = r.read_u16().await? as usize;
            r.read_exact(&mut query[..len]).await?;
            Ok::<usize, std::io::Error>(len)
        };
        let len = match tokio::time::timeout(config.idle_timeout, read).await {
            Ok(Ok(len)) => len,
            Ok(Err(_)) | Err(_) => break, // closed, reset, or idle too long
        };
        let cat = catalog.load();
        if let Some(transfers) = responder.transfers.as_ref().filter(|_| is_transfer(&query[..len])) {
            // Building a transfer walks the whole zone: off the async
            // workers, so other connections are not held up, and sent while
            // it is packed, a few messages ahead at most (bench/xfr.sh).
            let (t, cat, packet) = (transfers.clone(), catalog.load_full(), query[..len].to_vec());
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
            let packing = tokio::task::spawn_blocking(move || {
                // A send fails once the peer is gone; the rest is dropped.
                transfer(&t, &cat, &packet, peer, &mut |m| {
                    let _ = tx.blocking_send(m);
                })
            });
            while let Some(m) = rx.recv().await {
                w.write_all(&(m.len() as u16).to_be_bytes()).await?;
                w.write_all(&m).await?;
            }
            let _ = packing.await;
            w.flush().await?;
            continue;
        }
        let answered = responder.respond(&cat, &query[..len], Transport::Tcp, &mut response[2..]);
        stats.meter(responder.last_meter, responder.last_restricted);
        match answered {
            Some(n) => {
                stats.record(&response[2..2 + n]);
                response[..2].copy_from_slice(&(n as u16).to_be_bytes());
                w.write_all(&response[..n + 2]).await?;
            }
            None if responder.last_restricted => {}
            None => {
                stats.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        // Flush when no further pipelined query is already buffered, so a
        // burst of queries goes out in few segments.
        if r.buffer().is_empty() {
            w.flush().await?;
        }
    }
    w.flush().await?;
    Ok(())
}

/// Whether a message is a transfer request or a NOTIFY (answered by
/// [`transfer`]).
fn is_transfer(packet: &[u8]) -> bool {
    crate::wire::parse_query(packet).is_ok_and(|q| {
        q.opcode() == 4
            || (q.opcode() == 0
                && q.qclass == 1
                && matches!(q.qtype, platdns_zone::Rtype::AXFR | platdns_zone::Rtype::IXFR))
    })
}

/// A zone transfer request's messages, or a NOTIFY's answer, each handed to
/// `emit` in order (none: neither).
fn transfer(
    transfers: &crate::xfr::Transfers,
    catalog: &Catalog,
    packet: &[u8],
    peer: std::net::IpAddr,
    emit: &mut dyn FnMut(Vec<u8>),
) {
    let Ok(q) = crate::wire::parse_query(packet) else {
        return;
    };
    // NOTIFY comes over TCP too (knotd sends it so).
    if q.opcode() == 4 {
        if let Some(m) = transfers.notify(packet, peer) {
            emit(m);
        }
        return;
    }
    let is_transfer = matches!(q.qtype, platdns_zone::Rtype::AXFR | platdns_zone::Rtype::IXFR);
    if !is_transfer || q.opcode() != 0 || q.qclass != 1 {
        return;
    }
    let Ok(apex) = platdns_zone::Name::from_wire(q.qname()) else {
        return;
    };
    let now = crate::tsig::unix_now();
    transfers.answer(catalog.get(&apex), &q, packet, peer, now, emit);
}
