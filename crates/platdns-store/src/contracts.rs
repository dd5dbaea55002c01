//! Parent contracts (SPEC §1–2, §5). The rules live in `platdns-contract`;
//! this file applies them inside one transaction and records every change
//! request with the time it was accepted (R5.1).

use crate::{invalid, new_system_id, ts, Result, Store, StoreError};
use jiff::civil::Date;
use jiff::Timestamp;
use platdns_contract::{check_in_use, termination_date, ContractQps, ContractState, Downgrade, Plan, PlanTerms};
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contract {
    pub id: i64,
    pub public_id: String,
    pub service_code: String,
    pub account_id: i64,
    pub plan: Plan,
    pub extra_qps: u32,
    pub state: ContractState,
    pub favorite: i64,
    pub description: String,
    pub notice_received: Option<Date>,
    pub ends_on: Option<Date>,
    pub created_at: Timestamp,
}

/// A change request: each field set is a change (R2.3).
#[derive(Debug, Clone, Default)]
pub struct ContractUpdate {
    pub plan: Option<Plan>,
    pub extra_qps: Option<u32>,
    pub state: Option<ContractState>,
    pub description: Option<String>,
    pub favorite: Option<i64>,
    /// How a move to Basic treats extra QPS; refused unless told to drop it.
    pub drop_extra_qps: bool,
}

const COLUMNS: &str = "id, public_id, service_code, account_id, plan, extra_qps, state, favorite, description, notice_received, ends_on, created_at";

fn from_row(row: &AnyRow) -> Result<Contract> {
    let date = |i: usize| -> Result<Option<Date>> {
        let s: Option<String> = row.try_get(i)?;
        s.map(|s| {
            s.parse()
                .map_err(|e| StoreError::Conflict(format!("bad date {s:?}: {e}")))
        })
        .transpose()
    };
    let plan: i64 = row.try_get(4)?;
    let state: i64 = row.try_get(6)?;
    let extra: i64 = row.try_get(5)?;
    Ok(Contract {
        id: row.try_get(0)?,
        public_id: row.try_get(1)?,
        service_code: row.try_get(2)?,
        account_id: row.try_get(3)?,
        plan: Plan::from_code(plan).ok_or_else(|| StoreError::Conflict(format!("bad plan {plan}")))?,
        extra_qps: extra as u32,
        state: ContractState::from_code(state).ok_or_else(|| StoreError::Conflict(format!("bad state {state}")))?,
        favorite: row.try_get(7)?,
        description: row.try_get(8)?,
        notice_received: date(9)?,
        ends_on: date(10)?,
        created_at: ts(row, 11)?,
    })
}

impl Store {
    /// A new contract, before use, for `account_id` (R2.2 checked).
    pub async fn create_contract(
        &self,
        account_id: i64,
        plan: Plan,
        extra_qps: u32,
        description: &str,
        terms: &PlanTerms,
        now: Timestamp,
    ) -> Result<Contract> {
        ContractQps::new(plan, extra_qps, terms)?;
        if description.chars().count() > 80 {
            return invalid("description", "at most 80 characters");
        }
        self.get_account(account_id).await?;
        // Service codes are 11 characters (DPF `ServiceCode`): "dpf" + 8 digits.
        let sql = format!(
            "INSERT INTO contracts (public_id, service_code, account_id, plan, extra_qps, state, description, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
        );
        let row = crate::with_service_code("dpf", "service_code", |code| {
            sqlx::query(&sql)
                .bind(new_system_id('f'))
                .bind(code)
                .bind(account_id)
                .bind(plan.code())
                .bind(extra_qps as i64)
                .bind(ContractState::BeforeUse.code())
                .bind(description)
                .bind(now.to_string())
                .fetch_one(self.pool())
        })
        .await?;
        let c = from_row(&row)?;
        // DPF: every contract has a default common configuration, applied
        // to the zones and LB domains it creates.
        self.ensure_default_common_config(c.id, now).await?;
        Ok(c)
    }

    pub async fn get_contract(&self, id: i64) -> Result<Contract> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM contracts WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// By DPF id, only if `account_id` (when given) owns it: another tenant's
    /// contract is simply not found (R1.2).
    pub async fn find_contract(&self, public_id: &str, account_id: Option<i64>) -> Result<Contract> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM contracts WHERE public_id = $1"))
            .bind(public_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        let c = from_row(&row)?;
        if account_id.is_some_and(|a| a != c.account_id) {
            return Err(StoreError::NotFound);
        }
        Ok(c)
    }

    pub async fn list_contracts(&self, account_id: Option<i64>) -> Result<Vec<Contract>> {
        let rows = match account_id {
            Some(a) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM contracts WHERE account_id = $1 ORDER BY id"
                ))
                .bind(a)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!("SELECT {COLUMNS} FROM contracts ORDER BY id"))
                    .fetch_all(self.pool())
                    .await?
            }
        };
        rows.iter().map(from_row).collect()
    }

    /// Applies a change request atomically, recording it (R5.1).
    pub async fn update_contract(
        &self,
        id: i64,
        u: &ContractUpdate,
        terms: &PlanTerms,
        now: Timestamp,
    ) -> Result<Contract> {
        let (_writer, mut tx) = self.begin_write().await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM contracts WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let c = from_row(&row)?;
        let mut qps = ContractQps::new(c.plan, c.extra_qps, terms)?;
        let mut changes: Vec<(String, String)> = Vec::new();
        if let Some(plan) = u.plan.filter(|p| *p != c.plan) {
            let policy = if u.drop_extra_qps {
                Downgrade::DropExtraQps
            } else {
                Downgrade::Refuse
            };
            let change = qps.change_plan(plan, policy)?;
            qps = change.qps;
            let mut detail = format!("{} -> {}", c.plan, plan);
            if change.dropped_extra > 0 {
                detail += &format!(", extra QPS {} dropped", change.dropped_extra);
            }
            changes.push(("plan".into(), detail));
        }
        if let Some(extra) = u.extra_qps.filter(|e| *e != qps.extra()) {
            let before = qps.extra();
            qps = qps.with_extra(extra, terms)?;
            changes.push(("extra_qps".into(), format!("{before} -> {extra}")));
        }
        let state = u.state.unwrap_or(c.state);
        if state != c.state {
            let services: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM zones WHERE contract_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            check_in_use(state, services as usize)?;
            changes.push(("state".into(), format!("{} -> {}", c.state.code(), state.code())));
        }
        let description = u.description.clone().unwrap_or(c.description.clone());
        if description.chars().count() > 80 {
            return invalid("description", "at most 80 characters");
        }
        let favorite = u.favorite.unwrap_or(c.favorite);
        if favorite != 1 && favorite != 2 {
            return invalid("favorite", "must be 1 or 2");
        }
        sqlx::query(
            "UPDATE contracts SET plan = $1, extra_qps = $2, state = $3, description = $4, favorite = $5 WHERE id = $6",
        )
        .bind(qps.plan().code())
        .bind(qps.extra() as i64)
        .bind(state.code())
        .bind(&description)
        .bind(favorite)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        for (kind, detail) in changes {
            sqlx::query("INSERT INTO change_requests (contract_id, kind, detail, accepted_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(kind)
                .bind(detail)
                .bind(now.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.get_contract(id).await
    }

    /// Records a termination notice (R5.2): the end date is the later of
    /// notice + `notice_days` and the day the customer named.
    pub async fn give_notice(
        &self,
        id: i64,
        notice_received: Date,
        requested: Option<Date>,
        notice_days: i32,
        now: Timestamp,
    ) -> Result<Contract> {
        let ends_on = termination_date(notice_received, requested, notice_days)?;
        let (_writer, mut tx) = self.begin_write().await?;
        crate::found(
            sqlx::query("UPDATE contracts SET notice_received = $1, ends_on = $2 WHERE id = $3")
                .bind(notice_received.to_string())
                .bind(ends_on.to_string())
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected(),
        )?;
        sqlx::query(
            "INSERT INTO change_requests (contract_id, kind, detail, accepted_at) VALUES ($1, 'termination', $2, $3)",
        )
        .bind(id)
        .bind(format!("notice received {notice_received}, ends on {ends_on}"))
        .bind(now.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.get_contract(id).await
    }

    /// Every change request of a contract: (kind, detail, accepted at).
    pub async fn change_requests(&self, id: i64) -> Result<Vec<(String, String, Timestamp)>> {
        let rows =
            sqlx::query("SELECT kind, detail, accepted_at FROM change_requests WHERE contract_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, ts(r, 2)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{stores, t};
    use crate::*;
    use jiff::civil::date;
    use platdns_contract::{ContractError, ContractState, Plan, PlanTerms};

    #[tokio::test]
    async fn r2_2_and_r2_3_through_the_store_with_change_requests_recorded() {
        let terms = PlanTerms::default();
        for (store, _dir) in stores().await {
            let a = store.create_account("acme", t("2026-11-01T00:00:00Z")).await.unwrap();
            assert!(matches!(
                store
                    .create_contract(a.id, Plan::Basic, 100, "", &terms, t("2026-11-01T00:00:00Z"))
                    .await,
                Err(StoreError::Contract(ContractError::ExtraQpsOnBasic))
            ));
            let c = store
                .create_contract(a.id, Plan::Premium, 200, "main", &terms, t("2026-11-01T00:00:00Z"))
                .await
                .unwrap();
            assert_eq!(
                (c.service_code.len(), c.public_id.len(), c.state),
                (11, 14, ContractState::BeforeUse)
            );
            let down = ContractUpdate {
                plan: Some(Plan::Basic),
                ..Default::default()
            };
            assert!(matches!(
                store
                    .update_contract(c.id, &down, &terms, t("2026-11-02T00:00:00Z"))
                    .await,
                Err(StoreError::Contract(ContractError::DowngradeWithExtraQps {
                    extra: 200
                }))
            ));
            // Nothing was half-applied, and nothing recorded.
            assert_eq!(store.get_contract(c.id).await.unwrap().extra_qps, 200);
            assert!(store.change_requests(c.id).await.unwrap().is_empty());
            let drop = ContractUpdate {
                plan: Some(Plan::Basic),
                drop_extra_qps: true,
                ..Default::default()
            };
            let c2 = store
                .update_contract(c.id, &drop, &terms, t("2026-11-03T09:00:00Z"))
                .await
                .unwrap();
            assert_eq!((c2.plan, c2.extra_qps), (Plan::Basic, 0));
            let log = store.change_requests(c.id).await.unwrap();
            assert_eq!(log.len(), 1);
            assert_eq!(log[0].1, "premium -> basic, extra QPS 200 dropped");
            assert_eq!(log[0].2, t("2026-11-03T09:00:00Z"));
            // R1.1: not in use without a service.
            let use_it = ContractUpdate {
                state: Some(ContractState::InUse),
                ..Default::default()
            };
            assert!(matches!(
                store
                    .update_contract(c.id, &use_it, &terms, t("2026-11-04T00:00:00Z"))
                    .await,
                Err(StoreError::Contract(ContractError::NoServices))
            ));
        }
    }

    #[tokio::test]
    async fn r1_2_another_accounts_contract_is_not_found() {
        let terms = PlanTerms::default();
        for (store, _dir) in stores().await {
            let a = store.create_account("a", t("2026-11-01T00:00:00Z")).await.unwrap();
            let b = store.create_account("b", t("2026-11-01T00:00:00Z")).await.unwrap();
            let c = store
                .create_contract(a.id, Plan::Basic, 0, "", &terms, t("2026-11-01T00:00:00Z"))
                .await
                .unwrap();
            assert!(store.find_contract(&c.public_id, Some(a.id)).await.is_ok());
            assert!(matches!(
                store.find_contract(&c.public_id, Some(b.id)).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(store.list_contracts(Some(b.id)).await.unwrap().len(), 0);
        }
    }

    #[tokio::test]
    async fn r5_2_notice_sets_the_end_date() {
        let terms = PlanTerms::default();
        for (store, _dir) in stores().await {
            let a = store.create_account("a", t("2026-11-01T00:00:00Z")).await.unwrap();
            let c = store
                .create_contract(a.id, Plan::Basic, 0, "", &terms, t("2026-11-01T00:00:00Z"))
                .await
                .unwrap();
            let c = store
                .give_notice(
                    c.id,
                    date(2026, 11, 24),
                    Some(date(2026, 12, 1)),
                    30,
                    t("2026-11-24T03:00:00Z"),
                )
                .await
                .unwrap();
            assert_eq!(c.ends_on, Some(date(2026, 12, 24)));
            assert_eq!(store.change_requests(c.id).await.unwrap()[0].0, "termination");
        }
    }
}
