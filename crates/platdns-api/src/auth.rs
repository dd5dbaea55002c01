//! Bearer-token authentication as extractors. Tokens are looked up by hash
//! in the store; a tenant token reaches only its account's contracts (and
//! only the ones it names, when it names any).

use crate::{ApiError, AppState};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use platdns_store::{Principal, TokenScope};

fn bearer(parts: &Parts) -> Option<&str> {
    let h = parts.headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

async fn principal(parts: &Parts, state: &AppState) -> Result<Principal, ApiError> {
    let secret = bearer(parts).ok_or_else(ApiError::unauthorized)?;
    state
        .store
        .authenticate(secret)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// A tenant's token (DPF viewer / operator scopes).
#[derive(Clone)]
pub struct Tenant(
    pub Principal,
    /// Contracts whose configuration changes a restriction freezes (R4.2),
    /// as of this request.
    pub std::sync::Arc<std::collections::HashSet<i64>>,
);

impl Tenant {
    pub fn account_id(&self) -> i64 {
        self.0.account_id.expect("tenant tokens have an account")
    }

    /// May this token see the contract (internal id)? Anything else is 404.
    pub fn may_see_contract(&self, contract_id: i64) -> bool {
        self.0.contracts.is_empty() || self.0.contracts.iter().any(|(c, _)| *c == contract_id)
    }

    /// Write access (DPF `DPFOperator`): write scope and, when the token names
    /// contracts, the operator role on this one.
    pub fn require_write(&self, contract_id: i64) -> Result<(), ApiError> {
        let write = matches!(self.0.scope, TokenScope::Tenant { write: true, .. });
        let role_ok = self.0.contracts.is_empty()
            || self
                .0
                .contracts
                .iter()
                .any(|(c, r)| *c == contract_id && r == "operator");
        if !(write && role_ok) {
            return Err(ApiError::forbidden("scope"));
        }
        if self.1.contains(&contract_id) {
            // R4.2: the operator's policy freezes changes while the
            // contract is restricted; DPF's 429 says "not now".
            return Err(ApiError {
                status: axum::http::StatusCode::TOO_MANY_REQUESTS,
                error_type: "Too Many Requests",
                message: "The contract is restricted for exceeding its contract QPS; configuration changes are frozen until the restriction ends".into(),
                details: vec![("restricted".into(), "contract".into())],
            });
        }
        Ok(())
    }
}

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let p = principal(parts, state).await?;
        match p.scope {
            TokenScope::Tenant { .. } => Ok(Tenant(p, state.usage.frozen())),
            // The operator API is separate; an operator token is no tenant.
            TokenScope::Operator => Err(ApiError::unauthorized()),
        }
    }
}

/// The zone a tenant request names (the path's `{id}`), which the token
/// may see: anything else is 404, never 403 (R1.2). With the tenant, so a
/// handler authenticates once.
pub struct ZoneRead(pub Tenant, pub platdns_store::Zone);

/// As [`ZoneRead`], and the token may change the zone: write scope, the
/// contract's operator role, and no restriction freezing it (R4.2). The
/// one gate of every zone write (issue 16: one extractor for the
/// find-zone, require-write start of each handler).
pub struct ZoneWrite(pub Tenant, pub platdns_store::Zone);

async fn zone_of(parts: &mut Parts, state: &AppState) -> Result<(Tenant, platdns_store::Zone), ApiError> {
    let t = Tenant::from_request_parts(parts, state).await?;
    let params = axum::extract::RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found())?;
    let id = params
        .iter()
        .find(|(name, _)| *name == "id")
        .map(|(_, v)| v.to_string())
        .ok_or_else(ApiError::not_found)?;
    let z = crate::dpf::find_zone(state, &t, &id).await?;
    Ok((t, z))
}

impl FromRequestParts<AppState> for ZoneRead {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (t, z) = zone_of(parts, state).await?;
        Ok(ZoneRead(t, z))
    }
}

impl FromRequestParts<AppState> for ZoneWrite {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let (t, z) = zone_of(parts, state).await?;
        t.require_write(z.contract_id)?;
        Ok(ZoneWrite(t, z))
    }
}

/// The platform operator's token.
pub struct Operator(pub Principal);

impl FromRequestParts<AppState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let p = principal(parts, state).await?;
        match p.scope {
            TokenScope::Operator => Ok(Operator(p)),
            TokenScope::Tenant { .. } => Err(ApiError::unauthorized()),
        }
    }
}
