//! A hosted zone's DNSSEC settings and key state (issue 8; DPF `dnssec`,
//! `ds_records`). The key state is the signer's text with the private keys
//! already sealed under the operator key: the store never sees them clear.

use crate::{Result, Store};
use sqlx::Row;

/// DPF `dnssec.state` (`tags.md`, dnssec): where signing the zone stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnssecState {
    /// 0: the zone was never published.
    BeforePublication,
    /// 1: signed, its DS not yet seen at the parent.
    Enabling,
    /// 2: signed.
    On,
    /// 3: still signed while the parent's DS goes and leaves caches.
    Disabling,
    /// 4: unsigned.
    Off,
}

impl DnssecState {
    /// Is a zone in this state served signed (once it has keys)?
    pub fn signs(self) -> bool {
        matches!(self, DnssecState::Enabling | DnssecState::On | DnssecState::Disabling)
    }

    /// DPF's code.
    pub fn code(self) -> i64 {
        match self {
            DnssecState::BeforePublication => 0,
            DnssecState::Enabling => 1,
            DnssecState::On => 2,
            DnssecState::Disabling => 3,
            DnssecState::Off => 4,
        }
    }

    pub fn from_code(code: i64) -> Option<DnssecState> {
        Some(match code {
            0 => DnssecState::BeforePublication,
            1 => DnssecState::Enabling,
            2 => DnssecState::On,
            3 => DnssecState::Disabling,
            4 => DnssecState::Off,
            _ => return None,
        })
    }
}

/// DPF `dnssec.ds_state` (`tags.md`, dnssec): what the tenant is to do with
/// the DS at the parent, and what the platform waits for. DPF has no 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DsState {
    /// 0: before publication (or unsigned).
    BeforePublication,
    /// 1: waiting for the DS to be registered at the parent.
    AwaitingDs,
    /// 3: the parent publishes the DS.
    Published,
    /// 4: a KSK rollover is being prepared.
    RolloverPreparing,
    /// 5: waiting for the parent's DS to change to the new KSK.
    AwaitingChange,
    /// 6: the changed DS is reflecting (leaving caches).
    ChangeReflecting,
    /// 7: waiting for the DS to be removed at the parent.
    AwaitingRemoval,
    /// 8: the removal is reflecting.
    RemovalReflecting,
}

impl DsState {
    /// DPF's code.
    pub fn code(self) -> i64 {
        match self {
            DsState::BeforePublication => 0,
            DsState::AwaitingDs => 1,
            DsState::Published => 3,
            DsState::RolloverPreparing => 4,
            DsState::AwaitingChange => 5,
            DsState::ChangeReflecting => 6,
            DsState::AwaitingRemoval => 7,
            DsState::RemovalReflecting => 8,
        }
    }

    pub fn from_code(code: i64) -> Option<DsState> {
        Some(match code {
            0 => DsState::BeforePublication,
            1 => DsState::AwaitingDs,
            3 => DsState::Published,
            4 => DsState::RolloverPreparing,
            5 => DsState::AwaitingChange,
            6 => DsState::ChangeReflecting,
            7 => DsState::AwaitingRemoval,
            8 => DsState::RemovalReflecting,
            _ => return None,
        })
    }
}

/// One zone's DNSSEC row, in domain terms; DPF's codes only at the edges
/// (the SQL here, the API's JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneDnssec {
    pub zone_id: i64,
    /// What the tenant asked for (DPF `enabled`, 1 or 0).
    pub enabled: bool,
    pub state: DnssecState,
    pub ds_state: DsState,
    /// `platdns_dnssec::KeyState::seal` text; empty before the first keys.
    pub keys: String,
    /// When `ds_state` last changed (DPF `ds_records[].transited_at`).
    pub ds_transited_at: Option<jiff::Timestamp>,
    pub updated_at: jiff::Timestamp,
}

pub(crate) const DNSSEC_COLUMNS: &str = "zone_id, enabled, state, ds_state, keys, ds_transited_at, updated_at";

pub(crate) fn dnssec_from_row(r: &sqlx::any::AnyRow) -> Result<ZoneDnssec> {
    let transited: Option<String> = r.try_get(5)?;
    let bad = |what: &str, code: i64| crate::StoreError::Conflict(format!("bad DNSSEC {what} {code} in the store"));
    let (state, ds_state): (i64, i64) = (r.try_get(2)?, r.try_get(3)?);
    Ok(ZoneDnssec {
        zone_id: r.try_get(0)?,
        enabled: r.try_get::<i64, _>(1)? != 0,
        state: DnssecState::from_code(state).ok_or_else(|| bad("state", state))?,
        ds_state: DsState::from_code(ds_state).ok_or_else(|| bad("ds_state", ds_state))?,
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

    /// The zones served signed (`DnssecState::signs`: codes 1, 2 and 3),
    /// each with when its row last changed.
    pub async fn dnssec_zone_rows(&self) -> Result<Vec<(i64, jiff::Timestamp)>> {
        let rows = sqlx::query("SELECT zone_id, updated_at FROM zone_dnssec WHERE state IN (1, 2, 3) ORDER BY zone_id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, crate::ts(r, 1)?))).collect()
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
        .bind(i64::from(d.enabled))
        .bind(d.state.code())
        .bind(d.ds_state.code())
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
                enabled: true,
                state: DnssecState::On,
                ds_state: DsState::AwaitingDs,
                keys: "ksk idle 0 AAAA\nzsk idle 0 BBBB\n".into(),
                ds_transited_at: Some(now),
                updated_at: now,
            };
            store.save_dnssec(&row).await.unwrap();
            assert_eq!(store.dnssec(zone).await.unwrap(), Some(row.clone()));
            assert_eq!(store.get_zone(zone).await.unwrap().version, before + 1);
            assert_eq!(store.dnssec_zone_rows().await.unwrap(), vec![(zone, now)]);
            store
                .save_dnssec(&ZoneDnssec {
                    state: DnssecState::Off,
                    ..row
                })
                .await
                .unwrap();
            assert!(store.dnssec_zone_rows().await.unwrap().is_empty());
        }
    }
}
