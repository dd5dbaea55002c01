//! Starting a DNS node: UDP worker threads and a TCP listener on one address,
//! all reading the same swappable catalog.

use crate::answer::{Identity, Responder};
use crate::meter::Restrictions;
use crate::stats::{self, Totals, WorkerStats};
use crate::tcp::{self, TcpConfig};
use crate::threads::DnsThreads;
use crate::udp;
use arc_swap::ArcSwap;
use platdns_zone::Catalog;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub listen: SocketAddr,
    /// Packets per `recvmmsg`/`sendmmsg` (1..=32).
    pub udp_batch: usize,
    pub max_udp_size: u16,
    pub tcp: TcpConfig,
    pub identity: Identity,
    /// Usage meter slots (R2.1): how many metered zones and LB names the
    /// node can count separately (slot 0 counts for none).
    pub meter_slots: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            listen: "127.0.0.1:5353".parse().expect("literal address"),
            udp_batch: udp::BATCH,
            max_udp_size: crate::answer::DEFAULT_EDNS_UDP_SIZE,
            tcp: TcpConfig::default(),
            identity: Identity::default(),
            meter_slots: 0,
        }
    }
}

/// A running node. Dropping it (or [`DnsNode::stop`]) stops the UDP workers.
pub struct DnsNode {
    pub local_addr: SocketAddr,
    catalog: Arc<ArcSwap<Catalog>>,
    stats: Vec<Arc<WorkerStats>>,
    /// The restrictions every worker checks.
    pub restrictions: Arc<Restrictions>,
    /// Zone transfers out (policy, kept versions, events).
    pub transfers: Arc<crate::xfr::Transfers>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    tcp_task: tokio::task::JoinHandle<()>,
    /// The runtime TCP is answered on (`DnsThreads`), shut down last.
    tcp_runtime: Option<tokio::runtime::Runtime>,
}

impl DnsNode {
    /// Binds UDP and TCP on `config.listen` (port 0 picks one port for both)
    /// and starts serving `catalog` on `threads`, made earlier at the
    /// process's priority (see [`crate::threads`]). `transfers` is made by
    /// the caller, so that zones published before the node starts are kept
    /// for IXFR too.
    pub async fn start(
        config: NodeConfig,
        catalog: Arc<ArcSwap<Catalog>>,
        transfers: Arc<crate::xfr::Transfers>,
        mut threads: DnsThreads,
    ) -> io::Result<DnsNode> {
        // TCP first so that port 0 resolves to a concrete port for UDP too.
        let tcp_std = std::net::TcpListener::bind(config.listen)?;
        tcp_std.set_nonblocking(true)?;
        let local_addr = tcp_std.local_addr()?;

        let stop = Arc::new(AtomicBool::new(false));
        let restrictions = Arc::new(Restrictions::new(config.meter_slots));
        let mut stats = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..threads.udp_workers() {
            let socket = udp::bind_reuseport(local_addr)?;
            let s = Arc::new(WorkerStats::with_meters(config.meter_slots));
            stats.push(s.clone());
            let mut responder = Responder::new(config.max_udp_size, config.identity.clone());
            responder.restrictions = restrictions.clone();
            responder.transfers = Some(transfers.clone());
            let (cat, stop, batch) = (catalog.clone(), stop.clone(), config.udp_batch);
            let started = threads.start_udp(move || udp::run_worker(socket, batch, cat, responder, s, stop));
            handles.push(started.ok_or_else(|| io::Error::other("a DNS UDP thread ended before the node started"))?);
        }
        let tcp_stats = Arc::new(WorkerStats {
            shared: true,
            ..WorkerStats::with_meters(config.meter_slots)
        });
        stats.push(tcp_stats.clone());
        let mut template = Responder::new(config.max_udp_size, config.identity.clone());
        template.restrictions = restrictions.clone();
        template.transfers = Some(transfers.clone());
        let tcp_runtime = threads.into_tcp();
        // The listener registers with the reactor of the runtime it is made
        // in: the DNS one, not the control plane's.
        let tcp_listener = {
            let _dns = tcp_runtime.enter();
            tokio::net::TcpListener::from_std(tcp_std)?
        };
        let tcp_task = tcp_runtime.spawn(tcp::serve(
            tcp_listener,
            catalog.clone(),
            template,
            config.tcp,
            tcp_stats,
        ));
        Ok(DnsNode {
            local_addr,
            catalog,
            stats,
            restrictions,
            transfers,
            stop,
            threads: handles,
            tcp_task,
            tcp_runtime: Some(tcp_runtime),
        })
    }

    /// Replaces the served data; queries in flight finish on the old catalog.
    pub fn swap(&self, catalog: Catalog) {
        self.catalog.store(Arc::new(catalog));
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    pub fn totals(&self) -> Totals {
        stats::sum(self.stats.iter().map(|s| s.as_ref()))
    }

    /// Every meter slot's count since the start (slots below `upto`),
    /// answered and restricted, summed over the workers.
    pub fn meter_totals(&self, upto: usize, answered: &mut Vec<u64>, restricted: &mut Vec<u64>) {
        stats::sum_meters(self.stats.iter().map(|s| s.as_ref()), upto, answered, restricted)
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tcp_task.abort();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        // Not dropped in place: a runtime dropped inside another's async
        // context panics.
        if let Some(rt) = self.tcp_runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for DnsNode {
    fn drop(&mut self) {
        self.shutdown();
    }
}
