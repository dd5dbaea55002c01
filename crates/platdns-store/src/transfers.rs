//! Transfer settings of a common configuration (issue 8): ACL entries
//! (DPF `cc_sec_transfer_acls`) and NOTIFY targets (DPF
//! `cc_sec_notified_servers`). One table shape serves both; the API checks
//! the network or address text before it is written.

use crate::{on_unique, Result, Store, StoreError};
use sqlx::Row;

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferList {
    /// `network` is `address/prefix`.
    Acl,
    /// `network` is an address (`:port` allowed, ours).
    Notify,
    /// The primaries a secondary zone is pulled from (an address, `:port`
    /// allowed); these have an `enabled` flag.
    Primary,
}

impl TransferList {
    fn table(self) -> &'static str {
        match self {
            TransferList::Acl => "cc_sec_transfer_acls",
            TransferList::Notify => "cc_sec_notified_servers",
            TransferList::Primary => "cc_primaries",
        }
    }

    fn enabled(self) -> &'static str {
        match self {
            TransferList::Primary => "enabled",
            _ => "1",
        }
    }

    fn column(self) -> &'static str {
        match self {
            TransferList::Acl => "network",
            TransferList::Notify | TransferList::Primary => "address",
        }
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferEntry {
    pub id: i64,
    pub common_config_id: i64,
    /// The network (ACL) or address (NOTIFY).
    pub target: String,
    pub tsig_id: Option<i64>,
    /// Primaries only; always true for the others.
    pub enabled: bool,
}

impl Store {
    pub async fn transfer_entries(
        &self,
        list: TransferList,
        common_config_id: Option<i64>,
    ) -> Result<Vec<TransferEntry>> {
        let rows = sqlx::query(&format!(
            "SELECT id, common_config_id, {}, tsig_id, {} FROM {} WHERE ($1 IS NULL OR common_config_id = $1) ORDER BY id",
            list.column(),
            list.enabled(),
            list.table()
        ))
        .bind(common_config_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(TransferEntry {
                    id: r.try_get(0)?,
                    common_config_id: r.try_get(1)?,
                    target: r.try_get(2)?,
                    tsig_id: r.try_get(3)?,
                    enabled: r.try_get::<i64, _>(4)? != 0,
                })
            })
            .collect()
    }

    pub async fn transfer_entry(&self, list: TransferList, common_config_id: i64, id: i64) -> Result<TransferEntry> {
        self.transfer_entries(list, Some(common_config_id))
            .await?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or(StoreError::NotFound)
    }

    /// Adds an entry unless the list has `max` already (`Invalid`, DPF
    /// `too_many`) or has the target (`Duplicate`).
    pub async fn add_transfer_entry(
        &self,
        list: TransferList,
        common_config_id: i64,
        target: &str,
        tsig_id: Option<i64>,
        max: i64,
    ) -> Result<TransferEntry> {
        let (_writer, mut tx) = self.begin_write().await?;
        let n: i64 = sqlx::query(&format!(
            "SELECT COUNT(*) FROM {} WHERE common_config_id = $1",
            list.table()
        ))
        .bind(common_config_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if n >= max {
            return crate::invalid(list.column(), format!("at most {max}"));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO {} (common_config_id, {}, tsig_id) VALUES ($1, $2, $3) RETURNING id",
            list.table(),
            list.column()
        ))
        .bind(common_config_id)
        .bind(target)
        .bind(tsig_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| on_unique(e, list.column()))?;
        let id: i64 = row.try_get(0)?;
        tx.commit().await?;
        Ok(TransferEntry {
            id,
            common_config_id,
            target: target.into(),
            tsig_id,
            enabled: true,
        })
    }

    pub async fn update_transfer_entry(
        &self,
        list: TransferList,
        common_config_id: i64,
        id: i64,
        target: &str,
        tsig_id: Option<i64>,
    ) -> Result<()> {
        let done = sqlx::query(&format!(
            "UPDATE {} SET {} = $1, tsig_id = $2 WHERE id = $3 AND common_config_id = $4",
            list.table(),
            list.column()
        ))
        .bind(target)
        .bind(tsig_id)
        .bind(id)
        .bind(common_config_id)
        .execute(self.pool())
        .await
        .map_err(|e| on_unique(e, list.column()))?;
        crate::found(done.rows_affected())
    }

    pub async fn delete_transfer_entry(&self, list: TransferList, common_config_id: i64, id: i64) -> Result<()> {
        let done = sqlx::query(&format!(
            "DELETE FROM {} WHERE id = $1 AND common_config_id = $2",
            list.table()
        ))
        .bind(id)
        .bind(common_config_id)
        .execute(self.pool())
        .await?;
        crate::found(done.rows_affected())
    }

    /// Turns a primary on or off (DPF `CcPrimaryEnabled`).
    pub async fn set_primary_enabled(&self, common_config_id: i64, id: i64, enabled: bool) -> Result<()> {
        let done = sqlx::query("UPDATE cc_primaries SET enabled = $1 WHERE id = $2 AND common_config_id = $3")
            .bind(i64::from(enabled))
            .bind(id)
            .bind(common_config_id)
            .execute(self.pool())
            .await?;
        crate::found(done.rows_affected())
    }

    /// DPF `zone_proxy`: the zone is pulled from its primaries.
    pub async fn set_zone_proxy(&self, zone_id: i64, enabled: bool) -> Result<()> {
        let done = sqlx::query("UPDATE zones SET zone_proxy_enabled = $1, version = version + 1 WHERE id = $2")
            .bind(i64::from(enabled))
            .bind(zone_id)
            .execute(self.pool())
            .await?;
        crate::found(done.rows_affected())
    }

    /// The ids of every zone with its proxy enabled (secondary zones).
    pub async fn proxied_zone_ids(&self) -> Result<Vec<i64>> {
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM zones WHERE zone_proxy_enabled <> 0 ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        Ok(ids)
    }

    pub async fn zone_proxy(&self, zone_id: i64) -> Result<bool> {
        let v: Option<i64> = sqlx::query_scalar("SELECT zone_proxy_enabled FROM zones WHERE id = $1")
            .bind(zone_id)
            .fetch_optional(self.pool())
            .await?;
        v.map(|v| v != 0).ok_or(StoreError::NotFound)
    }

    /// Keeps a secondary zone's pulled copy (its text) and the primaries'
    /// status (JSON); bumps the zone's version so follower nodes reload it.
    pub async fn save_secondary(
        &self,
        zone_id: i64,
        serial: i64,
        text: Option<&str>,
        primaries: &str,
        now: jiff::Timestamp,
    ) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        match text {
            Some(text) => {
                sqlx::query(
                    "INSERT INTO secondary_zones (zone_id, serial, text, pulled_at, primaries) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (zone_id) DO UPDATE SET serial = excluded.serial, text = excluded.text, \
                     pulled_at = excluded.pulled_at, primaries = excluded.primaries",
                )
                .bind(zone_id)
                .bind(serial)
                .bind(text)
                .bind(now.to_string())
                .bind(primaries)
                .execute(&mut *tx)
                .await?;
                // A secondary zone is published (DPF state 2) with its first copy.
                sqlx::query("UPDATE zones SET version = version + 1, state = 2 WHERE id = $1")
                    .bind(zone_id)
                    .execute(&mut *tx)
                    .await?;
            }
            None => {
                sqlx::query("UPDATE secondary_zones SET primaries = $1 WHERE zone_id = $2")
                    .bind(primaries)
                    .bind(zone_id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A secondary zone's last copy: (serial, text, pulled at, primaries JSON).
    pub async fn secondary(&self, zone_id: i64) -> Result<Option<(i64, String, jiff::Timestamp, String)>> {
        let row = sqlx::query("SELECT serial, text, pulled_at, primaries FROM secondary_zones WHERE zone_id = $1")
            .bind(zone_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, crate::ts(&r, 2)?, r.try_get(3)?)))
            .transpose()
    }

    /// Every TSIG key of every contract: (id, name, algorithm, secret).
    pub async fn all_tsig_keys(&self) -> Result<Vec<(i64, String, i64, String)>> {
        let rows = sqlx::query("SELECT id, name, algorithm, secret FROM tsig_keys ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{account_contract_zone, stores};

    #[tokio::test]
    async fn acl_and_notify_entries_are_per_configuration_bounded_and_unique() {
        for (store, _dir) in stores().await {
            let (_, _, z) = account_contract_zone(&store, "a", "example.com").await;
            let cc = z.common_config_id;
            let e = store
                .add_transfer_entry(TransferList::Acl, cc, "192.0.2.0/24", None, 2)
                .await
                .unwrap();
            assert!(matches!(
                store
                    .add_transfer_entry(TransferList::Acl, cc, "192.0.2.0/24", None, 2)
                    .await,
                Err(StoreError::Duplicate { .. })
            ));
            store
                .add_transfer_entry(TransferList::Acl, cc, "2001:db8::/32", None, 2)
                .await
                .unwrap();
            assert!(matches!(
                store
                    .add_transfer_entry(TransferList::Acl, cc, "10.0.0.0/8", None, 2)
                    .await,
                Err(StoreError::Invalid { .. })
            ));
            store
                .add_transfer_entry(TransferList::Notify, cc, "192.0.2.53", None, 2)
                .await
                .unwrap();
            assert_eq!(
                store.transfer_entries(TransferList::Acl, Some(cc)).await.unwrap().len(),
                2
            );
            assert_eq!(
                store.transfer_entries(TransferList::Notify, None).await.unwrap().len(),
                1
            );
            store
                .update_transfer_entry(TransferList::Acl, cc, e.id, "192.0.2.7/32", None)
                .await
                .unwrap();
            assert_eq!(
                store.transfer_entry(TransferList::Acl, cc, e.id).await.unwrap().target,
                "192.0.2.7/32"
            );
            store.delete_transfer_entry(TransferList::Acl, cc, e.id).await.unwrap();
            assert!(matches!(
                store.transfer_entry(TransferList::Acl, cc, e.id).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}
