//! `platdns-dataplane`: the DNS node. It answers from an in-memory
//! [`Catalog`](platdns_zone::Catalog) swapped in atomically, and never touches
//! SQL or the control plane.
//!
//! - [`wire`]: query parsing (no sockets).
//! - [`answer`]: the query path, [`answer::Responder`].
//! - `compress`: owner-name compression.
//! - [`udp`]: `SO_REUSEPORT` workers with `recvmmsg`/`sendmmsg`.
//! - [`tcp`]: RFC 7766 TCP.
//! - [`server`]: starting and stopping a node.
//! - [`threads`]: the node's threads, made before the control plane lowers
//!   its priority, so that DNS answers first.
//! - [`stats`]: per-worker counters, per contract meter slot too.
//! - [`meter`]: restriction of a meter slot's answers per second.

pub mod answer;
mod compress;
pub mod meter;
pub mod served;
pub mod server;
pub mod snapshot;
pub mod stats;
pub mod tcp;
pub mod threads;
pub mod tsig;
pub mod udp;
pub mod wire;
pub mod xfr;
