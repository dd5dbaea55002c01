//! `platdns-control`: the control plane's services, with no HTTP framework.
//!
//! - [`Supervisor`]: every background loop of a process (publication
//!   following, secondary pulls, DNSSEC maintenance, health combining,
//!   notification delivery, usage metering, the prober, ...) is a named
//!   service started by one supervisor per role, restarted with backoff when
//!   it fails or panics, stopped on shutdown, and reported on `/metrics` and
//!   `/healthz`.
//! - [`JobQueue`]: tenants' write jobs, one zone's in order, contracts in
//!   turn; [`DueQueue`]: per-unit timers by due time.
//! - [`Control`], the context services take, and [`ControlError`]; zone
//!   compilation, meter slots, the resolver, what may be served.
//!
//! The bodies of the other services still live in `platdns-api` and move
//! here together (ARCHITECTURE.md, "Layers").

pub mod commit;
pub mod compile;
pub mod context;
pub mod dnssec;
pub mod due;
pub mod error;
pub mod follow;
pub mod health;
pub mod jobs;
pub mod lb;
pub mod meters;
pub mod notify;
pub mod publication;
pub mod resolver;
pub mod secondary;
pub mod snapshot;
pub mod store_health;
pub mod supervise;
pub mod transfer;
pub mod usage;
pub mod zones;

pub use compile::ZoneDefaults;
pub use context::{Clock, Control, SystemClock, ZoneLocks};
pub use due::DueQueue;
pub use error::{ControlError, ControlResult};
pub use jobs::{JobKey, JobQueue};
pub use supervise::{Backoff, ServiceCtx, ServiceReport, Supervisor};
