//! What a node needs to serve the stored zones, read in bulk (issue 16:
//! start-up reads 100,000 zones in a few hundred queries, where reading them
//! one by one took five queries per zone).

use crate::dnssec::{dnssec_from_row, DNSSEC_COLUMNS};
use crate::{RecordRow, Result, Store, Zone, ZoneDnssec};
use sqlx::Row;
use std::collections::HashMap;

/// One stored zone and what serving it needs.
#[derive(Debug, Clone)]
pub struct ZoneSource {
    pub zone: Zone,
    /// A secondary zone (DPF zone proxy): served from its last pulled copy,
    /// `secondary`, not from `records`.
    pub proxied: bool,
    /// The applied records, in `list_records` order (name, type, id),
    /// without description, operator or labels.
    pub records: Vec<RecordRow>,
    /// A secondary zone's last pulled copy, as zone file text.
    pub secondary: Option<String>,
    pub dnssec: Option<ZoneDnssec>,
}

impl Store {
    /// One zone's [`ZoneSource`].
    pub async fn zone_source(&self, zone_id: i64) -> Result<ZoneSource> {
        let chunk = self.zone_sources(zone_id - 1, 1).await?;
        chunk
            .into_iter()
            .find(|s| s.zone.id == zone_id)
            .ok_or(crate::StoreError::NotFound)
    }

    /// The zones whose ids follow `after`, at most `limit` of them, by id,
    /// each with its applied records, its secondary copy and its DNSSEC row,
    /// all read from one snapshot: four queries for the chunk. The last id
    /// returned is the next call's `after`; an empty chunk is the end.
    pub async fn zone_sources(&self, after: i64, limit: i64) -> Result<Vec<ZoneSource>> {
        let mut tx = self.begin_snapshot().await?;
        let rows = sqlx::query(&format!(
            "SELECT {}, zone_proxy_enabled FROM zones WHERE id > $1 ORDER BY id LIMIT $2",
            crate::zones::COLUMNS
        ))
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        let mut index = HashMap::with_capacity(rows.len());
        for row in &rows {
            let zone = crate::zones::from_row(row)?;
            index.insert(zone.id, out.len());
            out.push(ZoneSource {
                zone,
                proxied: row.try_get::<i64, _>(18)? != 0,
                records: Vec::new(),
                secondary: None,
                dnssec: None,
            });
        }
        let (Some(first), Some(last)) = (out.first(), out.last()) else {
            return Ok(out);
        };
        let (first, last) = (first.zone.id, last.zone.id);
        // `records_zone` (zone_id, name, rrtype) serves the range and its order.
        let rows = sqlx::query(&format!(
            "SELECT {} FROM records WHERE zone_id >= $1 AND zone_id <= $2 AND applied_rdata IS NOT NULL \
             ORDER BY zone_id, name, rrtype, id",
            crate::records::SERVED_COLUMNS
        ))
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let r = crate::records::served_row(row)?;
            if let Some(&i) = index.get(&r.zone_id) {
                out[i].records.push(r);
            }
        }
        let rows = sqlx::query("SELECT zone_id, text FROM secondary_zones WHERE zone_id >= $1 AND zone_id <= $2")
            .bind(first)
            .bind(last)
            .fetch_all(&mut *tx)
            .await?;
        for r in &rows {
            if let Some(&i) = index.get(&r.try_get::<i64, _>(0)?) {
                out[i].secondary = Some(r.try_get(1)?);
            }
        }
        let rows = sqlx::query(&format!(
            "SELECT {DNSSEC_COLUMNS} FROM zone_dnssec WHERE zone_id >= $1 AND zone_id <= $2"
        ))
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            let d = dnssec_from_row(r)?;
            if let Some(&i) = index.get(&d.zone_id) {
                out[i].dnssec = Some(d);
            }
        }
        tx.commit().await?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{account_contract_zone, stores, t};
    use crate::StagedChange;

    fn add(name: &str, value: &str) -> StagedChange {
        StagedChange::Add {
            name: name.into(),
            rrtype: "A".into(),
            ttl: Some(300),
            rdata: vec![value.into()],
            description: String::new(),
            labels: Default::default(),
        }
    }

    #[tokio::test]
    async fn chunks_hold_each_zone_with_its_applied_records_only() {
        for (store, _dir) in stores().await {
            let (_, _, z) = account_contract_zone(&store, "a", "example.com").await;
            let now = t("2026-11-24T01:00:00Z");
            store
                .stage(z.id, &[add("www.example.com.", "192.0.2.1")], None, now)
                .await
                .unwrap();
            store
                .commit(z.id, None, "", None, None, now, |_| Ok(Some(())))
                .await
                .unwrap();
            // Staged after the commit: not served yet, so not in the source.
            store
                .stage(z.id, &[add("new.example.com.", "192.0.2.2")], None, now)
                .await
                .unwrap();
            let all = store.zone_sources(0, 10).await.unwrap();
            assert_eq!(all.len(), 1);
            let s = &all[0];
            assert_eq!((s.zone.id, s.zone.version), (z.id, 1));
            assert!(!s.proxied && s.secondary.is_none() && s.dnssec.is_none());
            let names: Vec<_> = s.records.iter().map(|r| r.name.as_str()).collect();
            assert_eq!(names, ["www.example.com."]);
            // Chunks of one: the second is empty, the end.
            assert_eq!(store.zone_sources(0, 1).await.unwrap().len(), 1);
            assert!(store.zone_sources(z.id, 1).await.unwrap().is_empty());
            assert_eq!(store.zone_source(z.id).await.unwrap().records.len(), 1);
            assert!(matches!(
                store.zone_source(z.id + 1).await,
                Err(crate::StoreError::NotFound)
            ));
        }
    }
}
