//! A hosted zone's DNSSEC settings and key state (issue 8; DPF `dnssec`,
//! `ds_records`). The key state is the signer's text with the private keys
//! already sealed under the operator key: the store never sees them clear.

use crate::{Result, Store};
use sqlx::Row;

/// One zone's DNSSEC row; the enum values are DPF's (`tags.md`, dnssec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDnssec {
    pub zone_id: i64,
    /// 0 off, 1 on: what the tenant asked for.
    pub enabled: i64,
    /// 0 before publication, 1 enabling, 2 on, 3 disabling, 4 off.
    pub state: i64,
    /// 0 before publication, 1 waiting for the DS at the parent, 3 DS
    /// published, 4 rollover preparing, 5 waiting for the DS change, 6 DS
    /// change reflecting, 7 waiting for the DS removal, 8 removal reflecting.
    pub ds_state: i64,
    /// `platdns_dnssec::KeyState::seal` text; empty before the first keys.
    pub keys: String,
    /// When `ds_state` last changed (DPF `ds_records[].transited_at`).
    pub ds_transited_at: Option<jiff::Timestamp>,
    pub updated_at: jiff::Timestamp,
}

pub(crate) const DNSSEC_COLUMNS: &str = "zone_id, enabled, state, ds_state, keys, ds_transited_at, updated_at";

pub(crate) fn dnssec_from_row(r: &sqlx::any::AnyRow) -> Result<ZoneDnssec> {
    let transited: Option<String> = r.try_get(5)?;
    Ok(ZoneDnssec {
        zone_id: r.try_get(0)?,
        enabled: r.try_get(1)?,
        state: r.try_get(2)?,
        ds_state: r.try_get(3)?,
        keys: r.try_get(4)?,
        ds_transited_at: transited.and_then(|t| t.parse().ok()),
        updated_at: crate::ts(r, 6)?,
    })
}

impl Store {
    /// The zone's DNSSEC row, if it ever had one.
    pub async fn dnssec(&self, zone_id: i64) -> Result<Option<ZoneDnssec>> {
        let row = sqlx::query(&format!("SELECT {DNSSEC_COLUMNS} FROM zone_dnssec WHERE zone_id = $1"))
            .bind(zone_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(dnssec_from_row).transpose()
    }

    /// The ids of the zones with a DNSSEC row whose state is not off.
    pub async fn dnssec_zone_ids(&self) -> Result<Vec<i64>> {
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT zone_id FROM zone_dnssec WHERE state IN (1, 2, 3) ORDER BY zone_id")
                .fetch_all(self.pool())
                .await?;
        Ok(ids)
    }

    /// Writes the row and bumps the zone's version, so that every node
    /// serving the zone signs (or stops signing) it as the row now says.
    pub async fn save_dnssec(&self, d: &ZoneDnssec) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO zone_dnssec (zone_id, enabled, state, ds_state, keys, ds_transited_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (zone_id) DO UPDATE SET enabled = excluded.enabled, \
             state = excluded.state, ds_state = excluded.ds_state, keys = excluded.keys, \
             ds_transited_at = excluded.ds_transited_at, updated_at = excluded.updated_at",
        )
        .bind(d.zone_id)
        .bind(d.enabled)
        .bind(d.state)
        .bind(d.ds_state)
        .bind(&d.keys)
        .bind(d.ds_transited_at.map(|t| t.to_string()))
        .bind(d.updated_at.to_string())
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("UPDATE zones SET version = version + 1 WHERE id = $1")
            .bind(d.zone_id)
            .execute(&mut *tx)
            .await?;
        crate::found(done.rows_affected())?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{account_contract_zone, stores};

    #[tokio::test]
    async fn a_dnssec_row_round_trips_and_bumps_the_zone_version() {
        for (store, _dir) in stores().await {
            let (_, _, zone) = account_contract_zone(&store, "a", "example.test").await;
            let zone = zone.id;
            assert_eq!(store.dnssec(zone).await.unwrap(), None);
            let before = store.get_zone(zone).await.unwrap().version;
            let now: jiff::Timestamp = "2026-12-03T10:00:00Z".parse().unwrap();
            let row = ZoneDnssec {
                zone_id: zone,
                enabled: 1,
                state: 2,
                ds_state: 1,
                keys: "ksk idle 0 AAAA\nzsk idle 0 BBBB\n".into(),
                ds_transited_at: Some(now),
                updated_at: now,
            };
            store.save_dnssec(&row).await.unwrap();
            assert_eq!(store.dnssec(zone).await.unwrap(), Some(row.clone()));
            assert_eq!(store.get_zone(zone).await.unwrap().version, before + 1);
            assert_eq!(store.dnssec_zone_ids().await.unwrap(), vec![zone]);
            store.save_dnssec(&ZoneDnssec { state: 4, ..row }).await.unwrap();
            assert!(store.dnssec_zone_ids().await.unwrap().is_empty());
        }
    }
}
