//! UDP serving: one socket per worker thread bound with `SO_REUSEPORT`, so the
//! kernel spreads queries across workers with no shared state; each worker
//! receives and sends in batches with `recvmmsg`/`sendmmsg` (one syscall for up
//! to [`BATCH`] packets each way). Buffers are allocated once per worker.

use crate::answer::{Responder, Transport};
use crate::stats::WorkerStats;
use arc_swap::ArcSwap;
use platdns_zone::Catalog;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Most packets per `recvmmsg`/`sendmmsg` call (the default batch).
pub const BATCH: usize = 32;
/// Largest query we read; anything longer is not a query we can answer.
const RECV_BUF: usize = 4096;
/// Largest UDP response we ever write (EDNS sizes are capped below this).
const SEND_BUF: usize = 4096;

/// Opens a UDP socket with `SO_REUSEPORT` so several workers can share `addr`.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Large buffers absorb bursts while a worker is busy with a batch.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.bind(&SockAddr::from(addr))?;
    // A timeout lets the worker notice shutdown.
    socket.set_read_timeout(Some(Duration::from_millis(250)))?;
    Ok(socket.into())
}

/// One worker's receive and send buffers, with the `mmsghdr`/`iovec` arrays
/// that point into them.
struct Batch {
    recv: Vec<[u8; RECV_BUF]>,
    send: Vec<[u8; SEND_BUF]>,
    addrs: Vec<libc::sockaddr_storage>,
    recv_iov: Vec<libc::iovec>,
    send_iov: Vec<libc::iovec>,
    recv_hdrs: Vec<libc::mmsghdr>,
    send_hdrs: Vec<libc::mmsghdr>,
}

impl Batch {
    fn new() -> Box<Batch> {
        // SAFETY: `sockaddr_storage`, `iovec` and `mmsghdr` are plain C structs
        // for which all-zero bytes is a valid value.
        let zeroed_addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        let zeroed_hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut b = Box::new(Batch {
            recv: vec![[0u8; RECV_BUF]; BATCH],
            send: vec![[0u8; SEND_BUF]; BATCH],
            addrs: vec![zeroed_addr; BATCH],
            recv_iov: vec![iov; BATCH],
            send_iov: vec![iov; BATCH],
            recv_hdrs: vec![zeroed_hdr; BATCH],
            send_hdrs: vec![zeroed_hdr; BATCH],
        });
        // The vectors never grow or move after this, so the pointers stay valid
        // for the life of the Batch.
        for i in 0..BATCH {
            b.recv_iov[i] = libc::iovec {
                iov_base: b.recv[i].as_mut_ptr().cast(),
                iov_len: RECV_BUF,
            };
        }
        b
    }

    fn arm_recv(&mut self) {
        for i in 0..BATCH {
            let h = &mut self.recv_hdrs[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut self.recv_iov[i];
            h.msg_iovlen = 1;
            h.msg_control = std::ptr::null_mut();
            h.msg_controllen = 0;
            h.msg_flags = 0;
            self.recv_hdrs[i].msg_len = 0;
        }
    }
}

/// Runs one UDP worker until `stop` is set, reading up to `batch` (1..=32)
/// packets a call. `batch = 1` is the plain one-packet-per-syscall loop that
/// `bench/` compares against to show what the batching pays.
pub fn run_worker(
    socket: UdpSocket,
    batch: usize,
    catalog: Arc<ArcSwap<Catalog>>,
    mut responder: Responder,
    stats: Arc<WorkerStats>,
    stop: Arc<AtomicBool>,
) {
    let fd = socket.as_raw_fd();
    let batch = batch.clamp(1, BATCH);
    let mut b = Batch::new();
    while !stop.load(Ordering::Relaxed) {
        b.arm_recv();
        // SAFETY: `fd` is a valid UDP socket owned by `socket` for this whole
        // function; every `mmsghdr` points at a live buffer, address and iovec
        // in `b`, which outlives the call and is not otherwise accessed during it.
        let got = unsafe {
            libc::recvmmsg(
                fd,
                b.recv_hdrs.as_mut_ptr(),
                batch as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if got <= 0 {
            continue; // timeout (to check `stop`) or EINTR
        }
        let catalog = catalog.load();
        let mut out = 0usize;
        for i in 0..got as usize {
            let len = b.recv_hdrs[i].msg_len as usize;
            if b.recv_hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                stats.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let (recv, send) = (&b.recv[i][..len], &mut b.send[out]);
            // NOTIFY (opcode 4, RFC 1996) for a secondary zone: off the hot
            // path, one header byte tested per packet.
            let answered = if len > 2 && (recv[2] >> 3) & 0x0f == 4 {
                notify(&responder, recv, &b.addrs[i], send)
            } else {
                match responder.respond(&catalog, recv, Transport::Udp, send) {
                    None if responder.last_udp_ixfr => ixfr(&responder, &catalog, recv, &b.addrs[i], send),
                    answered => answered,
                }
            };
            stats.meter(responder.last_meter, responder.last_restricted);
            let Some(n) = answered else {
                if !responder.last_restricted {
                    stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            };
            stats.record(send);
            b.send_iov[out] = libc::iovec {
                iov_base: b.send[out].as_mut_ptr().cast(),
                iov_len: n,
            };
            let h = &mut b.send_hdrs[out].msg_hdr;
            h.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = b.recv_hdrs[i].msg_hdr.msg_namelen;
            h.msg_iov = &mut b.send_iov[out];
            h.msg_iovlen = 1;
            out += 1;
        }
        let mut sent = 0;
        while sent < out {
            // SAFETY: as for `recvmmsg`; headers `sent..out` were filled above
            // and point at buffers in `b`.
            let n = unsafe { libc::sendmmsg(fd, b.send_hdrs[sent..].as_mut_ptr(), (out - sent) as u32, 0) };
            if n <= 0 {
                // The kernel refused the rest (e.g. buffer full): drop them, as
                // a lost UDP packet; the client retries.
                stats.dropped.fetch_add((out - sent) as u64, Ordering::Relaxed);
                break;
            }
            sent += n as usize;
        }
    }
}

/// Answers a NOTIFY through the node's transfers (the sender must be one of
/// the zone's primaries); `None`: no answer.
fn notify(responder: &Responder, packet: &[u8], from: &libc::sockaddr_storage, out: &mut [u8]) -> Option<usize> {
    let transfers = responder.transfers.as_deref()?;
    let peer = peer_ip(from)?;
    let m = transfers.notify(packet, peer)?;
    Some(crate::xfr::write(out, &m))
}

/// Answers an IXFR over UDP through the node's transfers (RFC 1995 §2):
/// the zone's ACL applies as over TCP. `None`: no answer.
fn ixfr(
    responder: &Responder,
    catalog: &Catalog,
    packet: &[u8],
    from: &libc::sockaddr_storage,
    out: &mut [u8],
) -> Option<usize> {
    let transfers = responder.transfers.as_deref()?;
    let peer = peer_ip(from)?;
    let q = crate::wire::parse_query(packet).ok()?;
    let zone = platdns_zone::Name::from_wire(q.qname())
        .ok()
        .and_then(|apex| catalog.get(&apex));
    let m = transfers.answer_udp(zone, &q, packet, peer, crate::tsig::unix_now());
    // The current SOA (and TSIG) fits any client's 512 octets.
    Some(crate::xfr::write(out, &m))
}

/// The IP address of a `recvmmsg` source address.
fn peer_ip(ss: &libc::sockaddr_storage) -> Option<std::net::IpAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a `sockaddr_in` here (the family says
            // so); `sockaddr_storage` is large and aligned enough for it, and
            // the reference lives as long as `ss`.
            let sin = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(std::net::IpAddr::V4(std::net::Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for a `sockaddr_in6`.
            let sin6 = unsafe { &*(ss as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(std::net::IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}
