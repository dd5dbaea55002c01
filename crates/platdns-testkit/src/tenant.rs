//! A tenant set up through the operator API of a running server (account,
//! contract, zone and a read-write token), and a commit through the DPF API.

use crate::http::http;
use serde_json::{json, Value};
use std::net::SocketAddr;

/// What [`tenant`] made.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub account: i64,
    pub contract: String,
    pub zone_id: String,
    /// The zone as the operator API answered its creation (`result`).
    pub zone: Value,
    /// A token of the account with the read and write scopes.
    pub token: String,
}

/// POSTs `fields` plus `key: value` to the operator API; the `result` of a
/// 2xx answer.
fn create(api: SocketAddr, op: &str, path: &str, mut fields: Value, key: &str, value: Value) -> Value {
    fields[key] = value;
    let (status, v) = http(api, "POST", path, Some(op), Some(&fields.to_string()));
    assert!((200..300).contains(&status), "POST {path} {fields}: {status} {v}");
    v["result"].clone()
}

/// Account `account`; a contract of it with `contract`'s fields (`plan`,
/// `extra_qps`, ...); a zone of that contract with `zone`'s fields (`name`,
/// and `approve` for a zone served at once); a read-write token.
pub fn tenant(api: SocketAddr, op: &str, account: &str, contract: Value, zone: Value) -> Tenant {
    let a = create(api, op, "/operator/v1/accounts", json!({}), "name", account.into());
    let acct = a["id"].as_i64().unwrap();
    let c = create(api, op, "/operator/v1/contracts", contract, "account_id", acct.into());
    let cid = c["id"].as_str().unwrap().to_string();
    let z = create(api, op, "/operator/v1/zones", zone, "contract_id", cid.as_str().into());
    let scopes = json!({"scopes": ["read", "write"]});
    let t = create(api, op, "/operator/v1/tokens", scopes, "account_id", acct.into());
    Tenant {
        account: acct,
        contract: cid,
        zone_id: z["id"].as_str().unwrap().to_string(),
        zone: z,
        token: t["token"].as_str().unwrap().to_string(),
    }
}

/// Account `account` with a Basic contract, its zone `zone` approved (served
/// at once) and a read-write token.
pub fn basic_tenant(api: SocketAddr, op: &str, account: &str, zone: &str) -> Tenant {
    let zone = json!({"name": zone, "approve": "test"});
    tenant(api, op, account, json!({"plan": "basic"}), zone)
}

/// As [`basic_tenant`]: (zone id, token).
pub fn tenant_with_zone(api: SocketAddr, op: &str, account: &str, zone: &str) -> (String, String) {
    let t = basic_tenant(api, op, account, zone);
    (t.zone_id, t.token)
}

/// Commits `records` (DPF records, a JSON array) to `zone` as one atomic
/// change, waiting for its job; accepted (202).
pub fn commit(api: SocketAddr, tok: &str, zone: &str, records: Value) {
    let (st, e) = http(
        api,
        "PATCH",
        &format!("/dpf/v1/zones/{zone}/atomic_changes?wait=true"),
        Some(tok),
        Some(&json!({"records": records, "description": "x"}).to_string()),
    );
    assert_eq!(st, 202, "{e}");
}
