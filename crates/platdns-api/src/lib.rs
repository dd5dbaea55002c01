//! `platdns-api`: the HTTP API. The tenant API under `/dpf/v1` speaks the
//! DPF-API's paths, JSON shapes and error bodies (SPEC R11.1); the operator
//! API under `/operator/v1` covers what DPF leaves to the provider (R11.2).
//!
//! Authentication is an extractor ([`auth::Tenant`], [`auth::Operator`]): a
//! handler's signature says who may call it. Another tenant's resource is
//! always 404, never 403 and never its data (R1.2).

pub mod auth;
mod billing;
mod common_configs;
pub mod dnssec;
mod dpf;
mod error;
pub use platdns_control::follow;
pub mod health;
mod json;
mod labels;
mod lb;
mod lb_parts;
pub use platdns_control::meters;
pub use platdns_control::notify;
pub mod openapi;
mod operator;
pub mod publish;
mod query;
mod records;
pub use platdns_control::resolver;
mod routes;
pub use platdns_control::secondary;
mod tsigs;
pub mod usage;
pub mod verify;
pub mod xfr;

pub use error::{ApiError, ApiResult};
pub use publish::{publish_all, withdraw_ended, Publisher, ZoneDefaults, ZoneLocks};

use platdns_store::Store;
use std::sync::Arc;

pub use platdns_control::{Clock, Control, SystemClock};

/// Everything a handler needs; cheap to clone. The control plane's context
/// (store, clock, publisher, zone settings and locks, supervisor, jobs) is
/// `control`, reached through `Deref` (`s.store`); the rest is what the
/// API's own parts hold until they move into the control plane.
#[derive(Clone)]
pub struct AppState {
    pub control: Control,
    /// R5.2 notice period in days (operator configuration; the terms say 30).
    pub notice_days: i32,
    /// Operator-set bounds on a zone's data, checked at staging.
    pub limits: ZoneLimits,
    /// Largest request body accepted (an `atomic_changes` of a large zone is
    /// tens of MiB).
    pub max_body_bytes: usize,
}

impl std::ops::Deref for AppState {
    type Target = Control;

    fn deref(&self) -> &Control {
        &self.control
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Control {
        &mut self.control
    }
}

impl AppState {
    /// Every setting at its default (what `platdns serve` uses without
    /// flags), the system clock, and no background service started: the
    /// in-process harness of the API's tests starts the ones it needs
    /// (`jobs` for commits). `serve` sets each field from its flags.
    pub fn new(store: Store, publisher: Arc<dyn Publisher>) -> AppState {
        AppState {
            control: Control::new(store, publisher),
            notice_days: 30,
            limits: ZoneLimits::default(),
            max_body_bytes: 256 << 20,
        }
    }
}

/// Operator-set bounds on what a tenant stages (issue 16): an edit past
/// them is refused at once with DPF's 400 `too_many` naming the attribute,
/// so that no commit of one tenant can hold the platform for long.
#[derive(Clone, Copy, Debug)]
pub struct ZoneLimits {
    /// Values (rdata) in one record (RRset). DNS carries an RRset in one
    /// message of at most 65,535 octets (RFC 1035 §4.2.2), so a set of
    /// more than a few thousand addresses cannot be answered at all.
    pub rdata_per_rrset: usize,
    /// Records in one whole set (`atomic_changes`, `PUT records`).
    pub records_per_zone: usize,
}

impl Default for ZoneLimits {
    fn default() -> ZoneLimits {
        ZoneLimits {
            rdata_per_rrset: 1_000,
            records_per_zone: 2_000_000,
        }
    }
}

/// The tenant API's routes, under `/dpf/v1`.
fn dpf_routes() -> routes::Routes {
    dpf::routes()
        .merge(records::routes())
        .merge(tsigs::routes())
        .merge(common_configs::routes())
        .merge(usage::routes())
        .merge(xfr::routes())
        .merge(dnssec::routes())
        .merge(labels::routes())
        .merge(lb::routes())
        .merge(lb_parts::routes())
        .merge(billing::tenant_routes())
        .get("/openapi.json", openapi::serve_dpf)
}

/// The operator API's routes, under `/operator/v1`.
fn operator_routes() -> routes::Routes {
    operator::routes()
        .merge(billing::operator_routes())
        .get("/openapi.json", openapi::serve_operator)
}

/// Every operation [`router`] answers, as (API prefix, method, path template
/// under the prefix): what the OpenAPI documents are checked against.
pub fn operations() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut ops = Vec::new();
    for (prefix, routes) in [
        (openapi::DPF_PREFIX, dpf_routes()),
        (openapi::OPERATOR_PREFIX, operator_routes()),
    ] {
        ops.extend(routes.operations().iter().map(|(m, p)| (prefix, *m, *p)));
    }
    ops
}

/// The whole API router: `/dpf/v1/...` and `/operator/v1/...`.
pub fn router(state: AppState) -> axum::Router {
    let limit = axum::extract::DefaultBodyLimit::max(state.max_body_bytes);
    axum::Router::new()
        .nest(
            openapi::DPF_PREFIX,
            dpf_routes()
                .into_router()
                .layer(axum::middleware::from_fn(query::check)),
        )
        .nest(openapi::OPERATOR_PREFIX, operator_routes().into_router())
        .layer(limit)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            unavailable_without_store,
        ))
        .with_state(state)
}

/// While the store does not answer (`store-health`), every API request is
/// answered DPF's 503 at once instead of waiting for a connection.
async fn unavailable_without_store(
    axum::extract::State(s): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !s.store_health.is_up() {
        return ApiError::unavailable().into_response();
    }
    next.run(request).await
}
