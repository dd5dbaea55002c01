//! The control plane's error (issue 16): what went wrong, with its cause
//! kept, never flattened to "System error". The HTTP crate maps it to DPF's
//! error bodies at its edge; a service logs it as it is.

use platdns_store::StoreError;
use std::fmt;

#[derive(Debug)]
pub enum ControlError {
    /// What a tenant gave, or what the store holds for it, is not valid
    /// (DPF 400): `code` (`invalid`, ...) on `attribute`.
    Invalid {
        code: &'static str,
        attribute: String,
        message: String,
    },
    /// The store failed or refused (its own kinds: not found, conflict,
    /// busy, the database's error).
    Store(StoreError),
    /// The change was made against a version that is no longer current
    /// (`If-Match`: 412).
    Conflict(String),
    /// Something of ours failed (a task that panicked, a setting that
    /// cannot be used); the message says what.
    Internal(String),
}

impl ControlError {
    pub fn invalid(attribute: &str, message: impl Into<String>) -> ControlError {
        ControlError::Invalid {
            code: "invalid",
            attribute: attribute.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlError::Invalid {
                code,
                attribute,
                message,
            } => write!(f, "{attribute} {code}: {message}"),
            ControlError::Store(e) => write!(f, "store: {e}"),
            ControlError::Conflict(m) => write!(f, "conflict: {m}"),
            ControlError::Internal(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ControlError {}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> ControlError {
        ControlError::Store(e)
    }
}

pub type ControlResult<T> = Result<T, ControlError>;
