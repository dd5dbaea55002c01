//! Migration of earlier contracts (SPEC R9.1; the supplementary provisions
//! of the 2023-06-01 change, items 2–4): a "DNS outsourcing" contract
//! becomes a Basic parent plus managed DNS service(s); a "site failover
//! option" becomes a traffic management service; both are billed under the
//! new structure from a given month (item 4: "from June 2023 usage").
//!
//! Only the arithmetic: importing zone files or secondary zones is the
//! store's and API's job. The terms name no migration fee, so none is
//! charged: migrated contracts and services have `Origin::Migrated`, which
//! carries no initial fee (there was no new application to accept).

use crate::parent::{ParentContract, PlanPeriod, Service, ServiceKind};
use crate::{BillingError, BillingMonth, Origin};
use platdns_contract::{check_in_use, ContractState, Plan};
use serde::{Deserialize, Serialize};

/// An earlier contract, as the import describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LegacyContract {
    /// DNS アウトソース: the zones it served (zone file or secondary).
    DnsOutsourcing { id: String, zones: Vec<String> },
    /// サイトフェイルオーバーオプション, an option of an outsourcing contract.
    SiteFailoverOption { id: String, outsourcing: String },
}

/// The new contracts: one Basic parent per DNS outsourcing contract, one
/// managed DNS service per zone it served, one traffic management service
/// per site failover option under the parent of the outsourcing contract it
/// was an option of. Billing of every one starts on the first day of `from`.
pub fn migrate(legacy: &[LegacyContract], from: BillingMonth) -> Result<Vec<ParentContract>, BillingError> {
    let start = from.first_day();
    let mut parents: Vec<ParentContract> = Vec::new();
    for l in legacy {
        if let LegacyContract::DnsOutsourcing { id, zones } = l {
            let services = zones
                .iter()
                .map(|z| Service {
                    id: format!("{id}/{z}"),
                    kind: ServiceKind::ManagedDns,
                    origin: Origin::Migrated { legacy_id: id.clone() },
                    billing_start: start,
                    end: None,
                })
                .collect();
            parents.push(ParentContract {
                id: id.clone(),
                origin: Origin::Migrated { legacy_id: id.clone() },
                billing_start: start,
                end: None,
                plans: vec![PlanPeriod {
                    from: start,
                    plan: Plan::Basic,
                    extra_qps: 0,
                }],
                services,
                changes: Vec::new(),
            });
        }
    }
    for l in legacy {
        if let LegacyContract::SiteFailoverOption { id, outsourcing } = l {
            let parent = parents.iter_mut().find(|p| p.id == *outsourcing).ok_or_else(|| {
                BillingError::OrphanFailoverOption {
                    option: id.clone(),
                    contract: outsourcing.clone(),
                }
            })?;
            parent.services.push(Service {
                id: id.clone(),
                kind: ServiceKind::TrafficManagement,
                origin: Origin::Migrated { legacy_id: id.clone() },
                billing_start: start,
                end: None,
            });
        }
    }
    // R1.1: a parent in use needs a service (an outsourcing contract with no
    // zone and no option cannot become one).
    for p in &parents {
        check_in_use(ContractState::InUse, p.services.len()).map_err(|source| BillingError::Contract {
            contract: p.id.clone(),
            source,
        })?;
    }
    Ok(parents)
}
