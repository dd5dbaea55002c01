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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::*;
    use crate::{invoice, BillingSettings, LineKind, Yen};
    use platdns_contract::ContractError;

    fn outsourcing(id: &str, zones: &[&str]) -> LegacyContract {
        LegacyContract::DnsOutsourcing {
            id: id.into(),
            zones: zones.iter().map(|z| z.to_string()).collect(),
        }
    }

    #[test]
    fn r9_1_outsourcing_becomes_basic_parent_and_failover_becomes_tm() {
        let legacy = [
            LegacyContract::SiteFailoverOption {
                id: "sfo-1".into(),
                outsourcing: "out-1".into(),
            },
            outsourcing("out-1", &["example.jp"]),
        ];
        // Supplementary provisions item 4: billed as platform fees from June
        // 2023 usage.
        let parents = migrate(&legacy, month(2023, 6)).unwrap();
        assert_eq!(parents.len(), 1);
        let p = &parents[0];
        assert_eq!(p.plans[0].plan, Plan::Basic);
        let kinds: Vec<(&str, ServiceKind)> = p.services.iter().map(|s| (s.id.as_str(), s.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("out-1/example.jp", ServiceKind::ManagedDns),
                ("sfo-1", ServiceKind::TrafficManagement)
            ]
        );
        // June 2023: Basic 1,000 + TM monthly 10,000 = 11,000; no zone
        // addition or TM initial fee (no migration fee in the terms).
        let s = BillingSettings::default();
        let june = invoice(p, month(2023, 6), &book(), &s, &jst()).unwrap();
        let kinds: Vec<LineKind> = june.lines.iter().map(|l| l.kind).collect();
        assert_eq!(kinds, vec![LineKind::ParentMonthly, LineKind::TrafficManagementMonthly]);
        assert_eq!(june.total, Yen(11_000));
        // May 2023 is still the earlier contract's: nothing here.
        assert_eq!(invoice(p, month(2023, 5), &book(), &s, &jst()).unwrap().total, Yen(0));
    }

    #[test]
    fn r9_1_an_outsourcing_contract_with_two_zones_pays_one_additional_zone() {
        // 1,000 + 500: the new structure's price, from the first migrated month.
        let parents = migrate(&[outsourcing("out-2", &["a.jp", "b.jp"])], month(2023, 6)).unwrap();
        let june = invoice(
            &parents[0],
            month(2023, 6),
            &book(),
            &BillingSettings::default(),
            &jst(),
        )
        .unwrap();
        assert_eq!(june.total, Yen(1_500));
    }

    #[test]
    fn r9_1_migration_refuses_what_the_new_structure_cannot_hold() {
        let orphan = [LegacyContract::SiteFailoverOption {
            id: "sfo-9".into(),
            outsourcing: "missing".into(),
        }];
        assert!(matches!(
            migrate(&orphan, month(2023, 6)),
            Err(BillingError::OrphanFailoverOption { .. })
        ));
        // R1.1: no zone and no option leaves a parent with no service.
        assert_eq!(
            migrate(&[outsourcing("out-3", &[])], month(2023, 6)),
            Err(BillingError::Contract {
                contract: "out-3".into(),
                source: ContractError::NoServices
            })
        );
    }
}
