//! `platdns-zone`: the authoritative data and its rules, with no network,
//! no database and no async runtime.
//!
//! - [`name`]: checked domain names ([`Name`]) and wire-name helpers.
//! - [`types`]: [`Rtype`] and [`Class`] as open integer newtypes.
//! - [`rdata`] / [`present`] / `svcb`: record data, text ↔ wire, per type.
//! - [`zonefile`]: the RFC 1035 master file reader (the only file reading here).
//! - [`zone`]: a compiled [`Zone`] with its semantic checks.
//! - [`patch`]: a commit applied to a built zone, cost following the change.
//! - [`lookup`]: the RFC 1034 §4.3.2 answer as a [`Resolution`].
//! - [`denial`]: a signed zone's RRSIGs and NSEC/NSEC3 chain at query time.
//! - [`catalog`]: many zones, longest-match zone choice.

pub mod catalog;
pub mod denial;
pub mod lookup;
pub mod name;
pub mod patch;
pub mod present;
pub mod rdata;
pub mod serial;
mod svcb;
pub mod types;
pub mod zone;
pub mod zonefile;

pub use catalog::{Catalog, Steered};
pub use lookup::{Outcome, Owner, Resolution};
pub use name::Name;
pub use patch::RrsetChange;
pub use serial::Serial;
pub use types::{Class, Rtype};
pub use zone::Zone;
pub use zonefile::{Parsed, Record, ZoneError};
