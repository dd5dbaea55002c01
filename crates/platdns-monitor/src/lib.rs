//! `platdns-monitor`: the health probes of DNS traffic management (issue 5),
//! as a library: no database, no HTTP API. Probes only read the network.
//!
//! - [`check`]: a monitoring (`platdns_steering::model::Monitoring`) read
//!   into a [`Check`]: exactly what a probe sends, comparable and hashable
//!   so equal checks of one target are probed once.
//! - [`probe`]: one check of one target ([`Prober`]): `ping` (ICMP echo),
//!   `tcp` (connect, optional verified TLS), `http` (one GET over HTTP or
//!   HTTPS, status and body match), `static`; Up or Down with a reason.
//! - [`schedule`]: the [`Scheduler`] runs each distinct (target, check) at
//!   its interval, start times spread over it, results debounced with the
//!   holdtime, changes sent on a channel.
//! - [`stats`]: what the scheduler did (probes started, finished, in
//!   flight; lateness against the slot), lock-free, for operators.

pub mod check;
pub mod probe;
pub mod schedule;
pub mod stats;

pub use check::{Check, CheckError, Kind};
pub use probe::{Outcome, Probe, Prober};
pub use schedule::{Change, Key, Running, Scheduler};
pub use stats::{Snapshot, Stats};
