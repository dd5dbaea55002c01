//! `platdns-dnssec`: DNSSEC signing of a zone's records, with no network, no
//! database, no async runtime and no clock: every time is an argument
//! (Unix seconds).
//!
//! - [`keys`]: ECDSA P-256 (13) and Ed25519 (15) keys, key tags, DS / CDS /
//!   CDNSKEY data, serialised and sealed (AES-256-GCM) for the store.
//! - [`canon`]: RFC 4034 §6 canonical forms, the data an RRSIG covers, type
//!   bit maps and the NSEC3 hash.
//! - [`signer`]: [`SignedZone`], a signed zone kept in memory: signed whole
//!   once, then kept signed across commits ([`SignedZone::apply`]) and time
//!   ([`SignedZone::refresh`]) at a cost that follows the change.
//! - [`verify`]: an independent check of a signed zone's RRSIGs and chain,
//!   used by the tests (the real tools check it too, see `tests/`).
//! - [`rollover`]: RFC 7583 ZSK pre-publication and KSK double-signature
//!   rollovers as state machines driven by the caller's clock.
//! - [`text`]: the signed records as a zone file.
//!
//! `RULES.md` beside this crate says which RFC section each rule comes from,
//! the defaults, and which choices are ours.

pub mod canon;
pub mod keys;
pub mod rollover;
pub mod signer;
pub mod text;
pub mod verify;

pub use keys::{open, seal, Algorithm, KeyError, Role, SigningKey};
pub use rollover::{KeyState, KskStage, RolloverTimings, Step};
pub use signer::{Denial, Diff, SignError, SignedZone, SignerConfig, ZoneKey};
