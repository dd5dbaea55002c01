//! `platdns-control`: the control plane's services, with no HTTP framework.
//!
//! Today it holds the [`Supervisor`]: every background loop of a process
//! (publication following, secondary pulls, DNSSEC maintenance, health
//! combining, notification delivery, usage metering, the prober, ...) is a
//! named service started by one supervisor per role, restarted with backoff
//! when it fails or panics, stopped on shutdown, and reported on `/metrics`
//! and `/healthz`. The services themselves move here from `platdns-api`
//! (ARCHITECTURE.md, "Control plane").

pub mod compile;
pub mod due;
pub mod error;
pub mod jobs;
pub mod supervise;

pub use compile::ZoneDefaults;
pub use due::DueQueue;
pub use error::{ControlError, ControlResult};
pub use jobs::{JobKey, JobQueue};
pub use supervise::{Backoff, ServiceCtx, ServiceReport, Supervisor};
