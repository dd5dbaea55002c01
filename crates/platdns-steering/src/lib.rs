//! `platdns-steering`: DNS traffic management (SPEC §1 "Traffic management
//! service"; DPF-API `lb_domains`), with no I/O.
//!
//! - [`model`]: an LB domain's configuration as DPF's `PutConfig` writes it
//!   (monitorings, sites with endpoints, rules as method trees), read and
//!   checked whole: every limit the reference sets, every cross reference,
//!   each error naming the JSONPath of the bad field.
//! - [`status`]: health turned into DPF's Live and Ready statuses: the
//!   holdtime debounce of a monitoring result, the endpoint state machine
//!   with manual failover / failback, sites and methods.
//! - [`steer`]: a configuration compiled for the query path, and the answer
//!   for one query given the current statuses: the active rule's method tree
//!   walked with no allocation, weighted choice from a caller's random number.
//!
//! `SEMANTICS.md` beside this crate says which rule comes from the DPF
//! reference or manual and which is ours where they leave it open.

pub mod model;
pub mod status;
pub mod steer;

pub use model::{ConfigError, LbConfig};
pub use status::{Debounce, EndpointState, Health};
pub use steer::{Answer, Steering};
