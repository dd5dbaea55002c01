//! DPF `common_configs` and `cc_notice_accounts`: the settings a contract's
//! zones and LB domains share. Each contract has a default configuration
//! (made with the contract), which zones and LB domains created later get;
//! `PATCH /contracts/{id}/{zones|lb_domains}/common_configs` moves services
//! between configurations, all listed or none. An LB domain's state changes
//! are notified to the notice accounts of its configuration (`notify.rs`).
//!
//! Transfer settings (`cc_primaries`, `cc_sec_*`) belong to zone transfers
//! and are not here yet.

use crate::auth::Tenant;
use crate::dpf::{find_contract, job_done, Listing, Op};
use crate::json::{self, Body, Description};
use crate::routes::Routes;
use crate::{ApiError, ApiResult, AppState};
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use platdns_store::{CommonConfig, DeleteRefused, NoticeAccount, StoreError};
use serde::Deserialize;
use serde_json::{json, Value};

pub(crate) fn routes() -> Routes {
    Routes::new()
        .get(
            "/contracts/{id}/common_configs",
            |State(s): State<AppState>, t: Tenant, Path(id): Path<String>, RawQuery(q): RawQuery| {
                list(s, t, id, q, false)
            },
        )
        .get(
            "/contracts/{id}/common_configs/count",
            |State(s): State<AppState>, t: Tenant, Path(id): Path<String>, RawQuery(q): RawQuery| {
                list(s, t, id, q, true)
            },
        )
        .post("/contracts/{id}/common_configs", create)
        .patch("/contracts/{id}/common_configs/default", switch_default)
        .get("/contracts/{id}/common_configs/{cc}", show)
        .patch("/contracts/{id}/common_configs/{cc}", update)
        .delete("/contracts/{id}/common_configs/{cc}", remove)
        .post("/contracts/{id}/common_configs/{cc}/copy", copy)
        .patch("/contracts/{id}/common_configs/{cc}/managed_dns", managed_dns)
        .patch(
            "/contracts/{id}/zones/common_configs",
            |State(s): State<AppState>, t: Tenant, Path(id): Path<String>, Body(b): Body<ApplyZones>| {
                apply(s, t, id, b.common_config_id, b.zone_ids, false)
            },
        )
        .patch(
            "/contracts/{id}/lb_domains/common_configs",
            |State(s): State<AppState>, t: Tenant, Path(id): Path<String>, Body(b): Body<ApplyLbDomains>| {
                apply(s, t, id, b.common_config_id, b.lb_domain_ids, true)
            },
        )
        .get("/common_configs/{cc}/cc_notice_accounts", list_accounts)
        .post("/common_configs/{cc}/cc_notice_accounts", add_account)
        .get("/common_configs/{cc}/cc_notice_accounts/{rn}", show_account)
        .patch("/common_configs/{cc}/cc_notice_accounts/{rn}", update_account)
        .delete("/common_configs/{cc}/cc_notice_accounts/{rn}", remove_account)
}

fn cc_json(c: &CommonConfig) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "default": i64::from(c.is_default),
        "managed_dns_enabled": i64::from(c.managed_dns_enabled),
    })
}

fn op(contract_id: i64, operation: &str, target: String) -> Op<'_> {
    Op {
        contract_id,
        zone_id: None,
        lb_domain_id: None,
        log_type: "common_config",
        operation,
        target,
    }
}

/// DPF answers a name taken with `duplicated|name`.
fn duplicated(e: StoreError) -> ApiError {
    match e {
        StoreError::Duplicate { attribute } => {
            ApiError::bad_request("duplicated", &attribute, format!("{attribute} already exists"))
        }
        other => other.into(),
    }
}

/// DPF `CommonConfigName`: 1 to 80 characters.
fn check_name(name: &str) -> ApiResult<()> {
    if (1..=80).contains(&name.chars().count()) {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid", "name", "1 to 80 characters"))
    }
}

/// A configuration of a contract the token may see (404 otherwise, R1.2).
async fn find(s: &AppState, t: &Tenant, id: &str, cc: i64) -> ApiResult<(platdns_store::Contract, CommonConfig)> {
    let c = find_contract(s, t, id).await?;
    let cc = s.store.find_common_config(cc, Some(c.id), None).await?;
    Ok((c, cc))
}

/// The configuration of `/common_configs/{cc}/…`, found through the
/// token's account (404 for another's, R1.2).
async fn find_by_id(s: &AppState, t: &Tenant, cc: i64) -> ApiResult<CommonConfig> {
    let cc = s.store.find_common_config(cc, None, Some(t.account_id())).await?;
    if !t.may_see_contract(cc.contract_id) {
        return Err(ApiError::not_found());
    }
    Ok(cc)
}

async fn list(s: AppState, t: Tenant, id: String, q: Option<String>, count: bool) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    let c = find_contract(&s, &t, &id).await?;
    let all = s.store.list_common_configs(c.id).await?.iter().map(cc_json).collect();
    Ok(Json(l.answer(all, count)))
}

async fn show(State(s): State<AppState>, t: Tenant, Path((id, cc)): Path<(String, i64)>) -> ApiResult<Json<Value>> {
    let (_, cc) = find(&s, &t, &id, cc).await?;
    Ok(Json(json::result(cc_json(&cc))))
}

/// DPF `PostCommonConfig` (also the body of `copy`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewConfig {
    name: String,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    description: Option<Description>,
}

async fn create(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    Body(b): Body<NewConfig>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    check_name(&b.name)?;
    let description = b.description.as_deref().unwrap_or("");
    let cc = s
        .store
        .create_common_config(c.id, &b.name, description, s.clock.now())
        .await
        .map_err(duplicated)?;
    let url = format!("/dpf/v1/contracts/{id}/common_configs/{}", cc.id);
    job_done(&s, &t, url, op(c.id, "create_common_config", cc.name)).await
}

async fn copy(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, from)): Path<(String, i64)>,
    Body(b): Body<NewConfig>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (c, from) = find(&s, &t, &id, from).await?;
    t.require_write(c.id)?;
    check_name(&b.name)?;
    let description = b.description.as_deref().unwrap_or("");
    let cc = s
        .store
        .copy_common_config(c.id, from.id, &b.name, description, s.clock.now())
        .await
        .map_err(duplicated)?;
    let url = format!("/dpf/v1/contracts/{id}/common_configs/{}", cc.id);
    job_done(&s, &t, url, op(c.id, "copy_common_config", cc.name)).await
}

/// DPF `PatchCommonConfig`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchConfig {
    #[serde(default, deserialize_with = "crate::json::non_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    description: Option<Description>,
}

async fn update(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, cc)): Path<(String, i64)>,
    Body(b): Body<PatchConfig>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (c, cc) = find(&s, &t, &id, cc).await?;
    t.require_write(c.id)?;
    if let Some(name) = &b.name {
        check_name(name)?;
    }
    let cc = s
        .store
        .update_common_config(c.id, cc.id, b.name.as_deref(), b.description.as_deref())
        .await
        .map_err(duplicated)?;
    let url = format!("/dpf/v1/contracts/{id}/common_configs/{}", cc.id);
    job_done(&s, &t, url, op(c.id, "update_common_config", cc.name)).await
}

async fn remove(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, cc)): Path<(String, i64)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (c, cc) = find(&s, &t, &id, cc).await?;
    t.require_write(c.id)?;
    match s.store.delete_common_config(c.id, cc.id).await? {
        Ok(()) => {}
        Err(why) => {
            let message = match why {
                DeleteRefused::IsDefault => "the default common configuration cannot be deleted",
                DeleteRefused::InUse => "zones or LB domains still use this common configuration",
            };
            return Err(ApiError::bad_request("forbidden", "common_config", message));
        }
    }
    let url = format!("/dpf/v1/contracts/{id}/common_configs");
    job_done(&s, &t, url, op(c.id, "delete_common_config", cc.name)).await
}

/// DPF `PatchDefaultCommonConfig`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SwitchDefault {
    common_config_id: i64,
}

async fn switch_default(
    State(s): State<AppState>,
    t: Tenant,
    Path(id): Path<String>,
    Body(b): Body<SwitchDefault>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    s.store
        .set_default_common_config(c.id, b.common_config_id)
        .await
        .map_err(|e| not_found_in_body(e, "common_config"))?;
    let url = format!("/dpf/v1/contracts/{id}/common_configs/{}", b.common_config_id);
    let target = b.common_config_id.to_string();
    job_done(&s, &t, url, op(c.id, "switch_default_common_config", target)).await
}

/// A resource named in the body, not the path, that does not exist: DPF
/// answers 400 `not_found|<attribute>`, not 404.
fn not_found_in_body(e: StoreError, attribute: &str) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::bad_request("not_found", attribute, format!("no such {attribute}")),
        other => other.into(),
    }
}

/// DPF `PatchManagedDns`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManagedDns {
    managed_dns_enabled: i64,
}

async fn managed_dns(
    State(s): State<AppState>,
    t: Tenant,
    Path((id, cc)): Path<(String, i64)>,
    Body(b): Body<ManagedDns>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (c, cc) = find(&s, &t, &id, cc).await?;
    t.require_write(c.id)?;
    let enabled = match b.managed_dns_enabled {
        0 => false,
        1 => true,
        _ => return Err(ApiError::bad_request("invalid", "managed_dns_enabled", "0 or 1")),
    };
    s.store.set_managed_dns(c.id, cc.id, enabled).await?;
    let url = format!("/dpf/v1/contracts/{id}/common_configs/{}", cc.id);
    job_done(&s, &t, url, op(c.id, "update_managed_dns_state", cc.name)).await
}

/// DPF `PatchContractsZones`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyZones {
    common_config_id: i64,
    zone_ids: Vec<String>,
}

/// DPF `PatchContractsLbDomains`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApplyLbDomains {
    common_config_id: i64,
    lb_domain_ids: Vec<String>,
}

async fn apply(
    s: AppState,
    t: Tenant,
    id: String,
    cc: i64,
    ids: Vec<String>,
    lb_domains: bool,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let c = find_contract(&s, &t, &id).await?;
    t.require_write(c.id)?;
    let attribute = if lb_domains { "lb_domains" } else { "zones" };
    if ids.is_empty() {
        return Err(ApiError::bad_request("invalid", attribute, "at least one id"));
    }
    let missing = s
        .store
        .apply_common_config(c.id, cc, lb_domains, &ids)
        .await
        .map_err(|e| not_found_in_body(e, "common_config"))?;
    if !missing.is_empty() {
        return Err(ApiError::bad_request(
            "not_found",
            attribute,
            format!("not services of this contract: {}", missing.join(", ")),
        ));
    }
    let url = format!("/dpf/v1/contracts/{id}/common_configs/{cc}");
    job_done(&s, &t, url, op(c.id, "apply_common_config", cc.to_string())).await
}

fn account_json(a: &NoticeAccount) -> Value {
    json!({
        "resource_name": a.resource_name,
        "name": a.name,
        "lang": a.lang,
        "props": {
            "mail": a.mail,
            "phone": {"country_code": a.phone_country, "number": a.phone_number},
        },
    })
}

async fn list_accounts(
    State(s): State<AppState>,
    t: Tenant,
    Path(cc): Path<i64>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let l = Listing::parse(q.as_deref())?;
    let cc = find_by_id(&s, &t, cc).await?;
    let all = s.store.notice_accounts(cc.id).await?.iter().map(account_json).collect();
    Ok(Json(l.answer(all, false)))
}

async fn show_account(
    State(s): State<AppState>,
    t: Tenant,
    Path((cc, rn)): Path<(i64, String)>,
) -> ApiResult<Json<Value>> {
    let cc = find_by_id(&s, &t, cc).await?;
    Ok(Json(json::result(account_json(
        &s.store.notice_account(cc.id, &rn).await?,
    ))))
}

/// DPF `CcNoticeAccountPhone`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Phone {
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    number: Option<String>,
}

/// DPF `CcNoticeAccountProps`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Props {
    #[serde(default, deserialize_with = "crate::json::non_null")]
    mail: Option<String>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    phone: Option<Phone>,
}

/// DPF `PostCcNoticeAccount` and `PatchCcNoticeAccount` (all optional
/// here; a POST checks for `name` and `lang`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountBody {
    #[serde(default, deserialize_with = "crate::json::non_null")]
    resource_name: Option<String>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    lang: Option<String>,
    #[serde(default, deserialize_with = "crate::json::non_null")]
    props: Option<Props>,
}

/// Applies a body to an account and checks the result with DPF's codes.
fn merge(into: &mut NoticeAccount, b: AccountBody) -> ApiResult<()> {
    if let Some(name) = b.name {
        into.name = name;
    }
    if let Some(lang) = b.lang {
        into.lang = lang;
    }
    if let Some(props) = b.props {
        if let Some(mail) = props.mail {
            into.mail = mail;
        }
        if let Some(phone) = props.phone {
            // DPF: an empty string removes; both go together.
            if let Some(cc) = phone.country_code {
                into.phone_country = cc;
            }
            if let Some(n) = phone.number {
                into.phone_number = n;
            }
        }
    }
    check_account(into)
}

fn check_account(a: &NoticeAccount) -> ApiResult<()> {
    if !(1..=80).contains(&a.name.chars().count()) || a.name.chars().any(char::is_control) {
        return Err(ApiError::bad_request("invalid_format", "name", "1 to 80 characters"));
    }
    if !matches!(a.lang.as_str(), "ja" | "en_US") {
        return Err(ApiError::bad_request("invalid", "schema", "lang is ja or en_US"));
    }
    check_mail(&a.mail)?;
    match (a.phone_country.is_empty(), a.phone_number.is_empty()) {
        (true, true) => {}
        (true, false) => {
            return Err(ApiError::bad_request(
                "required",
                "country_code",
                "a phone number needs its country code",
            ))
        }
        (false, true) => {
            return Err(ApiError::bad_request(
                "conflicted",
                "country_code",
                "a country code needs a phone number",
            ))
        }
        (false, false) => {
            if !matches!(a.phone_country.as_str(), "1" | "81") {
                return Err(ApiError::bad_request("invalid", "schema", "country_code is 1 or 81"));
            }
            let n = &a.phone_number;
            if !(8..=13).contains(&n.len()) || !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::bad_request("invalid", "schema", "number is 8 to 13 digits"));
            }
        }
    }
    Ok(())
}

/// DPF: a mail address of at most 254 printable ASCII characters
/// (`invalid_char_type`), one `@` between a local part and a domain with a
/// dot (`invalid_format`); empty means none.
fn check_mail(mail: &str) -> ApiResult<()> {
    if mail.is_empty() {
        return Ok(());
    }
    if mail.len() > 254 || !mail.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_char_type",
            "mail",
            "printable ASCII, at most 254 characters",
        ));
    }
    let ok = match mail.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && local.len() <= 64
                && !domain.contains('@')
                && domain.contains('.')
                && domain
                    .split('.')
                    .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_format", "mail", "local@domain.example"))
    }
}

/// DPF `ResourceName` (host-name characters, 1 to 253).
fn check_resource_name(rn: &str) -> ApiResult<()> {
    if rn.is_empty() || rn.len() > 253 {
        return Err(ApiError::bad_request(
            "invalid_length",
            "resource_name",
            "1 to 253 characters",
        ));
    }
    if !rn
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(ApiError::bad_request(
            "invalid_format",
            "resource_name",
            "letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

async fn add_account(
    State(s): State<AppState>,
    t: Tenant,
    Path(cc): Path<i64>,
    Body(b): Body<AccountBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let cc = find_by_id(&s, &t, cc).await?;
    t.require_write(cc.contract_id)?;
    if b.name.is_none() || b.lang.is_none() {
        return Err(ApiError::bad_request("invalid", "schema", "name and lang are required"));
    }
    let resource_name = match &b.resource_name {
        Some(rn) => rn.clone(),
        None => format!("n-{}", platdns_store::new_request_id()),
    };
    check_resource_name(&resource_name)?;
    let mut a = NoticeAccount {
        resource_name,
        name: String::new(),
        lang: String::new(),
        mail: String::new(),
        phone_country: String::new(),
        phone_number: String::new(),
    };
    merge(&mut a, b)?;
    let max = s.zone_defaults.notice_accounts_max;
    s.store.add_notice_account(cc.id, &a, max).await.map_err(|e| match e {
        StoreError::Duplicate { .. } => {
            ApiError::bad_request("duplicated", "resource_name", "the resource name is taken")
        }
        StoreError::Invalid { .. } => {
            ApiError::bad_request("too_many", "name", format!("at most {max} notice accounts"))
        }
        other => other.into(),
    })?;
    let url = format!(
        "/dpf/v1/common_configs/{}/cc_notice_accounts/{}",
        cc.id, a.resource_name
    );
    job_done(&s, &t, url, op(cc.contract_id, "add_notification_account", a.name)).await
}

async fn update_account(
    State(s): State<AppState>,
    t: Tenant,
    Path((cc, rn)): Path<(i64, String)>,
    Body(b): Body<AccountBody>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let cc = find_by_id(&s, &t, cc).await?;
    t.require_write(cc.contract_id)?;
    if b.resource_name.is_some() {
        return Err(ApiError::bad_request(
            "invalid",
            "schema",
            "resource_name cannot change",
        ));
    }
    let mut a = s.store.notice_account(cc.id, &rn).await?;
    merge(&mut a, b)?;
    s.store.update_notice_account(cc.id, &a).await?;
    let url = format!("/dpf/v1/common_configs/{}/cc_notice_accounts/{rn}", cc.id);
    job_done(&s, &t, url, op(cc.contract_id, "update_notification_account", a.name)).await
}

async fn remove_account(
    State(s): State<AppState>,
    t: Tenant,
    Path((cc, rn)): Path<(i64, String)>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let cc = find_by_id(&s, &t, cc).await?;
    t.require_write(cc.contract_id)?;
    let a = s.store.notice_account(cc.id, &rn).await?;
    s.store.delete_notice_account(cc.id, &rn).await?;
    let url = format!("/dpf/v1/common_configs/{}/cc_notice_accounts", cc.id);
    job_done(&s, &t, url, op(cc.contract_id, "delete_notification_account", a.name)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> NoticeAccount {
        NoticeAccount {
            resource_name: "ops".into(),
            name: "Ops".into(),
            lang: "ja".into(),
            mail: "ops@example.jp".into(),
            phone_country: String::new(),
            phone_number: String::new(),
        }
    }

    fn code(r: ApiResult<()>) -> (String, String) {
        r.unwrap_err().details.remove(0)
    }

    #[test]
    fn accounts_are_checked_with_dpf_codes() {
        assert!(check_account(&account()).is_ok());
        let with = |f: &dyn Fn(&mut NoticeAccount)| {
            let mut a = account();
            f(&mut a);
            check_account(&a)
        };
        assert_eq!(
            code(with(&|a| a.phone_number = "0312345678".into())),
            ("required".into(), "country_code".into())
        );
        assert_eq!(
            code(with(&|a| a.phone_country = "81".into())),
            ("conflicted".into(), "country_code".into())
        );
        assert!(with(&|a| {
            a.phone_country = "81".into();
            a.phone_number = "0312345678".into();
        })
        .is_ok());
        assert_eq!(
            code(with(&|a| a.mail = "ops@".into())),
            ("invalid_format".into(), "mail".into())
        );
        assert_eq!(
            code(with(&|a| a.mail = "öps@example.jp".into())),
            ("invalid_char_type".into(), "mail".into())
        );
        assert!(with(&|a| a.mail = String::new()).is_ok(), "no mail is allowed");
        assert_eq!(
            code(with(&|a| a.name = String::new())),
            ("invalid_format".into(), "name".into())
        );
    }
}
