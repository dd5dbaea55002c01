//! Traffic management services (DPF `lb_domains`): an LB name under a
//! contract, its configuration as DPF's `PutConfig` JSON and the applied
//! rule. The store keeps the configuration as text; `platdns-steering`
//! checks it before the API writes it, so what is here always parses.

use crate::{new_system_id, ts, Result, Store, StoreError};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbDomain {
    pub id: i64,
    pub public_id: String,
    pub service_code: String,
    pub contract_id: i64,
    /// Absolute, lower-case, with the trailing dot (DPF `LbDomainName`).
    pub name: String,
    pub description: String,
    pub favorite: i64,
    /// Published from its creation on.
    pub state: crate::Publication,
    /// The applied rule ("" until one is).
    pub rule_resource_name: String,
    /// DPF `PutConfig` JSON.
    pub config: String,
    /// Bumped by every change of the configuration or the applied rule.
    pub version: i64,
    pub created_at: Timestamp,
    /// DPF `common_config_id`: whose notice accounts hear of its state changes.
    pub common_config_id: i64,
}

const COLUMNS: &str = "l.id, l.public_id, l.service_code, l.contract_id, l.name, l.description, l.favorite, l.state, \
                       l.rule_resource_name, l.config, l.version, l.created_at, l.common_config_id";

/// A configuration with nothing in it (no rule: every query gets NODATA).
pub const EMPTY_CONFIG: &str = r#"{"monitorings":[],"sites":[],"rules":[]}"#;

fn from_row(row: &AnyRow) -> Result<LbDomain> {
    Ok(LbDomain {
        id: row.try_get(0)?,
        public_id: row.try_get(1)?,
        service_code: row.try_get(2)?,
        contract_id: row.try_get(3)?,
        name: row.try_get(4)?,
        description: row.try_get(5)?,
        favorite: row.try_get(6)?,
        state: crate::Publication::from_code(row.try_get(7)?),
        rule_resource_name: row.try_get(8)?,
        config: row.try_get(9)?,
        version: row.try_get(10)?,
        created_at: ts(row, 11)?,
        common_config_id: row.try_get::<Option<i64>, _>(12)?.unwrap_or_default(),
    })
}

impl Store {
    /// A new LB domain named `name` (absolute) for a contract, published,
    /// with an empty configuration.
    pub async fn create_lb_domain(&self, contract_id: i64, name: &str, now: Timestamp) -> Result<LbDomain> {
        self.get_contract(contract_id).await?;
        let name = name.trim().to_ascii_lowercase();
        let name = if name.ends_with('.') { name } else { format!("{name}.") };
        let sql = format!(
            "INSERT INTO lb_domains (public_id, service_code, contract_id, name, state, config, created_at, common_config_id) \
             VALUES ($1, $2, $3, $4, 2, $5, $6, \
             (SELECT id FROM common_configs WHERE contract_id = $3 AND is_default = 1)) RETURNING {}",
            COLUMNS.replace("l.", "")
        );
        let row = crate::with_service_code("dpl", "name", |code| {
            sqlx::query(&sql)
                .bind(new_system_id('l'))
                .bind(code)
                .bind(contract_id)
                .bind(&name)
                .bind(EMPTY_CONFIG)
                .bind(now.to_string())
                .fetch_one(self.pool())
        })
        .await?;
        from_row(&row)
    }

    /// By DPF id; one of another account is not found (R1.2).
    pub async fn find_lb_domain(&self, public_id: &str, account_id: Option<i64>) -> Result<LbDomain> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM lb_domains l JOIN contracts c ON c.id = l.contract_id \
             WHERE l.public_id = $1 AND ($2 IS NULL OR c.account_id = $2)"
        ))
        .bind(public_id)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn get_lb_domain(&self, id: i64) -> Result<LbDomain> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM lb_domains l WHERE l.id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// LB domains of an account (all when `None`), optionally of one contract.
    pub async fn list_lb_domains(&self, account_id: Option<i64>, contract_id: Option<i64>) -> Result<Vec<LbDomain>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM lb_domains l JOIN contracts c ON c.id = l.contract_id \
             WHERE ($1 IS NULL OR c.account_id = $1) AND ($2 IS NULL OR l.contract_id = $2) ORDER BY l.id"
        ))
        .bind(account_id)
        .bind(contract_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// DPF `PATCH /lb_domains/{id}`: description, favorite, the applied rule
    /// (the caller has checked that the configuration has it).
    pub async fn update_lb_domain(
        &self,
        id: i64,
        description: Option<&str>,
        favorite: Option<i64>,
        rule_resource_name: Option<&str>,
    ) -> Result<LbDomain> {
        let l = self.get_lb_domain(id).await?;
        let bump = i64::from(rule_resource_name.is_some_and(|r| r != l.rule_resource_name));
        crate::found(
            sqlx::query(
                "UPDATE lb_domains SET description = $1, favorite = $2, rule_resource_name = $3, version = version + $4 WHERE id = $5",
            )
            .bind(description.unwrap_or(&l.description))
            .bind(favorite.unwrap_or(l.favorite))
            .bind(rule_resource_name.unwrap_or(&l.rule_resource_name))
            .bind(bump)
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected(),
        )?;
        self.get_lb_domain(id).await
    }

    /// DPF `PUT /lb_domains/{id}/config`: the whole configuration replaced
    /// at once (the caller has checked it).
    pub async fn put_lb_config(&self, id: i64, config: &str) -> Result<LbDomain> {
        crate::found(
            sqlx::query("UPDATE lb_domains SET config = $1, version = version + 1 WHERE id = $2")
                .bind(config)
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )?;
        self.get_lb_domain(id).await
    }
}

impl Store {
    /// Records the last known (combined) result of a health check, by the
    /// caller's key for it.
    pub async fn save_health(&self, key: &str, target: &str, result: &str, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO lb_health (key_hash, target, result, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key_hash) DO UPDATE SET result = excluded.result, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(target)
        .bind(result)
        .bind(now.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The stored endpoint states of an LB domain: (endpoint resource name,
    /// live, ready, flags as the caller packs them).
    pub async fn endpoint_states(&self, lb_domain_id: i64) -> Result<Vec<(String, bool, bool, i64)>> {
        let rows = sqlx::query("SELECT endpoint, live, ready, flags FROM lb_endpoint_states WHERE lb_domain_id = $1")
            .bind(lb_domain_id)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let (live, ready): (i64, i64) = (r.try_get(1)?, r.try_get(2)?);
                Ok((r.try_get(0)?, live != 0, ready != 0, r.try_get(3)?))
            })
            .collect()
    }

    pub async fn save_endpoint_state(
        &self,
        lb_domain_id: i64,
        endpoint: &str,
        live: bool,
        ready: bool,
        flags: i64,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO lb_endpoint_states (lb_domain_id, endpoint, live, ready, flags) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (lb_domain_id, endpoint) DO UPDATE SET live = excluded.live, ready = excluded.ready, flags = excluded.flags",
        )
        .bind(lb_domain_id)
        .bind(endpoint)
        .bind(i64::from(live))
        .bind(i64::from(ready))
        .bind(flags)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every stored (combined) health result: (key, result).
    pub async fn load_health(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key_hash, result FROM lb_health")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{account_contract_zone, stores, t};
    use crate::*;

    #[tokio::test]
    async fn lb_domains_are_kept_per_account_with_their_configuration() {
        for (store, _dir) in stores().await {
            let (a, c, _) = account_contract_zone(&store, "a", "example.com").await;
            let (b, _, _) = account_contract_zone(&store, "b", "example.net").await;
            let l = store
                .create_lb_domain(c.id, "Shop.LB.platdns.test", t("2026-11-25T00:00:00Z"))
                .await
                .unwrap();
            assert_eq!(
                (l.name.as_str(), l.state, l.version),
                ("shop.lb.platdns.test.", crate::Publication::Published, 0)
            );
            assert_eq!(l.config, EMPTY_CONFIG);
            assert!(l.service_code.starts_with("dpl"));
            assert_eq!(store.find_lb_domain(&l.public_id, Some(a.id)).await.unwrap(), l);
            assert!(matches!(
                store.find_lb_domain(&l.public_id, Some(b.id)).await,
                Err(StoreError::NotFound)
            ));
            assert!(matches!(
                store
                    .create_lb_domain(c.id, "shop.lb.platdns.test.", t("2026-11-25T00:00:00Z"))
                    .await,
                Err(StoreError::Duplicate { .. })
            ));
            let l2 = store.put_lb_config(l.id, r#"{"x":1}"#).await.unwrap();
            assert_eq!((l2.config.as_str(), l2.version), (r#"{"x":1}"#, 1));
            let l3 = store
                .update_lb_domain(l.id, Some("web"), None, Some("main"))
                .await
                .unwrap();
            assert_eq!(
                (l3.description.as_str(), l3.rule_resource_name.as_str(), l3.version),
                ("web", "main", 2)
            );
            assert_eq!(store.list_lb_domains(Some(a.id), None).await.unwrap().len(), 1);
            assert!(store.list_lb_domains(Some(b.id), None).await.unwrap().is_empty());
            store
                .set_labels(LabelOf::LbDomain, l.id, &[("k".to_string(), "v".to_string())].into())
                .await
                .unwrap();
            assert_eq!(store.labels(LabelOf::LbDomain, l.id).await.unwrap().len(), 1);
            // Health results survive as last known, one row per check.
            store
                .save_health("k", "192.0.2.1", "up", t("2026-11-25T00:00:00Z"))
                .await
                .unwrap();
            store
                .save_health("k", "192.0.2.1", "down", t("2026-11-25T00:01:00Z"))
                .await
                .unwrap();
            assert_eq!(
                store.load_health().await.unwrap(),
                vec![("k".to_string(), "down".to_string())]
            );
            store.save_endpoint_state(l.id, "e1", true, true, 1).await.unwrap();
            store.save_endpoint_state(l.id, "e1", false, true, 3).await.unwrap();
            assert_eq!(
                store.endpoint_states(l.id).await.unwrap(),
                vec![("e1".to_string(), false, true, 3)]
            );
        }
    }
}
