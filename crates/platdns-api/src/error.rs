//! One error type for every handler, rendered as DPF's error body:
//! `{"request_id","error_type","error_message","error_details":[{"code","attribute"}]}`.
//! Database and internal errors become 500 with the detail logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use platdns_store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
    /// (code, attribute) pairs.
    pub details: Vec<(String, String)>,
}

impl ApiError {
    pub fn bad_request(code: &str, attribute: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            error_type: "Bad Request",
            message: message.into(),
            details: vec![(code.into(), attribute.into())],
        }
    }

    pub fn not_found() -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            error_type: "Not Found",
            message: "Specified resource not found".into(),
            details: vec![("not_found".into(), "resource".into())],
        }
    }

    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            error_type: "Unauthorized",
            message: "A valid Bearer token is required".into(),
            details: vec![("invalid".into(), "Authorization".into())],
        }
    }

    pub fn forbidden(attribute: &str) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            error_type: "Forbidden",
            message: "The token's scope does not allow this operation".into(),
            details: vec![("forbidden".into(), attribute.into())],
        }
    }

    /// DPF's 503: the store is away (issue 19), so nothing can be read or
    /// changed; the client tries again later.
    pub fn unavailable() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            error_type: "ServiceUnavailable",
            message: "Service unavailable.".into(),
            details: Vec::new(),
        }
    }

    pub fn internal() -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error_type: "System Error",
            message: "System error occurred".into(),
            details: vec![("system_error".into(), "system".into())],
        }
    }
}

impl From<platdns_control::ControlError> for ApiError {
    fn from(e: platdns_control::ControlError) -> ApiError {
        use platdns_control::ControlError;
        match e {
            ControlError::Invalid {
                code,
                attribute,
                message,
            } => ApiError::bad_request(code, &attribute, message),
            ControlError::Store(e) => e.into(),
            ControlError::Conflict(m) => ApiError {
                status: StatusCode::PRECONDITION_FAILED,
                error_type: "Precondition Failed",
                message: m,
                details: vec![("conflict".into(), "If-Match".into())],
            },
            ControlError::Internal(m) => {
                tracing::error!(error = %m, "control plane");
                ApiError::internal()
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::NotFound => ApiError::not_found(),
            StoreError::Invalid { attribute, message } => ApiError::bad_request("invalid", &attribute, message),
            StoreError::Duplicate { attribute } => {
                ApiError::bad_request("duplicate", &attribute, format!("{attribute} already exists"))
            }
            StoreError::Conflict(m) => ApiError {
                status: StatusCode::CONFLICT,
                error_type: "Conflict",
                message: m,
                details: vec![("conflict".into(), "resource".into())],
            },
            StoreError::Contract(c) => ApiError::bad_request("invalid", contract_attribute(&c), c.to_string()),
            // The database cannot be reached: DPF's 503, not a 500.
            e if e.is_unreachable() => {
                tracing::warn!(error = %e, "the store does not answer");
                ApiError::unavailable()
            }
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::internal()
            }
        }
    }
}

fn contract_attribute(e: &platdns_contract::ContractError) -> &'static str {
    use platdns_contract::ContractError::*;
    match e {
        ExtraQpsOnBasic | ExtraQpsNotMultiple { .. } | DowngradeWithExtraQps { .. } => "extra_qps",
        NoServices => "state",
        TerminationBeforeNotice { .. } => "ends_on",
    }
}

/// DPF's error body, as every error answers.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    request_id: String,
    error_type: &'static str,
    error_message: String,
    error_details: Vec<ErrorDetail>,
}

/// Which attribute was wrong, and how.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    code: String,
    attribute: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            request_id: platdns_store::new_request_id(),
            error_type: self.error_type,
            error_message: self.message,
            error_details: self
                .details
                .into_iter()
                .map(|(code, attribute)| ErrorDetail { code, attribute })
                .collect(),
        };
        (self.status, Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// How a background service logs an error: the status and the message
/// (a store error's cause was logged where it was turned into a 500).
impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.error_type, self.message)?;
        for (code, attribute) in &self.details {
            write!(f, " ({code} {attribute})")?;
        }
        Ok(())
    }
}
