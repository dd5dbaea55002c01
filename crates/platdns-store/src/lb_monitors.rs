//! Health monitors at several locations (issue 5): each monitor process's
//! own results, and its heartbeat. The API reads both to combine the
//! results of the monitors that are alive; see `platdns-api`'s health.rs.

use crate::logs::db_time;
use crate::{Result, Store};
use jiff::Timestamp;
use sqlx::Row;

/// One location's debounced result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub key_hash: u64,
    pub location: String,
    pub result: String,
    pub reason: String,
    /// Fixed-width UTC text (sorts as time).
    pub updated_at: String,
}

/// One result to save with [`Store::save_probe_results`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResultRow {
    pub key_hash: u64,
    pub target: String,
    pub result: String,
    pub reason: String,
}

/// A monitor process's last heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorBeat {
    pub instance: String,
    pub location: String,
    pub started_at: Timestamp,
    pub seen_at: Timestamp,
    /// Distinct checks it runs.
    pub checks: i64,
    /// It found its own probing stalled (probes overdue).
    pub stalled: bool,
}

impl Store {
    /// A batch of one location's results, in one transaction.
    pub async fn save_probe_results(&self, location: &str, rows: &[ProbeResultRow], now: Timestamp) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO lb_probe_results (key_hash, location, target, result, reason, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash, location) DO UPDATE SET \
                 result = excluded.result, reason = excluded.reason, updated_at = excluded.updated_at",
            )
            .bind(format!("{:016x}", r.key_hash))
            .bind(location)
            .bind(&r.target)
            .bind(&r.result)
            .bind(&r.reason)
            .bind(db_time(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn save_probe_result(
        &self,
        key_hash: u64,
        location: &str,
        target: &str,
        result: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO lb_probe_results (key_hash, location, target, result, reason, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (key_hash, location) DO UPDATE SET \
             result = excluded.result, reason = excluded.reason, updated_at = excluded.updated_at",
        )
        .bind(format!("{key_hash:016x}"))
        .bind(location)
        .bind(target)
        .bind(result)
        .bind(reason)
        .bind(db_time(now))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Results written after `since` (fixed-width text from an earlier
    /// result; `None`: all), oldest first.
    pub async fn probe_results_since(&self, since: Option<&str>) -> Result<Vec<ProbeResult>> {
        let rows = sqlx::query(
            "SELECT key_hash, location, result, reason, updated_at FROM lb_probe_results \
             WHERE ($1 IS NULL OR updated_at >= $1) ORDER BY updated_at",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let hash: String = r.try_get(0)?;
            let Ok(key_hash) = u64::from_str_radix(&hash, 16) else {
                continue;
            };
            out.push(ProbeResult {
                key_hash,
                location: r.try_get(1)?,
                result: r.try_get(2)?,
                reason: r.try_get(3)?,
                updated_at: r.try_get(4)?,
            });
        }
        Ok(out)
    }

    /// (id, version) of every LB domain: what a monitor watches to follow
    /// configuration changes made by another process.
    pub async fn lb_domain_versions(&self) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query("SELECT id, version FROM lb_domains ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    pub async fn monitor_heartbeat(&self, beat: &MonitorBeat) -> Result<()> {
        sqlx::query(
            "INSERT INTO lb_monitors (instance, location, started_at, seen_at, checks, stalled) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (instance) DO UPDATE SET location = excluded.location, \
             seen_at = excluded.seen_at, checks = excluded.checks, stalled = excluded.stalled",
        )
        .bind(&beat.instance)
        .bind(&beat.location)
        .bind(db_time(beat.started_at))
        .bind(db_time(beat.seen_at))
        .bind(beat.checks)
        .bind(i64::from(beat.stalled))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every monitor seen since `since`.
    pub async fn monitors(&self, since: Timestamp) -> Result<Vec<MonitorBeat>> {
        let rows = sqlx::query(
            "SELECT instance, location, started_at, seen_at, checks, stalled FROM lb_monitors \
             WHERE seen_at >= $1 ORDER BY instance",
        )
        .bind(db_time(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(MonitorBeat {
                    instance: r.try_get(0)?,
                    location: r.try_get(1)?,
                    started_at: crate::ts(r, 2)?,
                    seen_at: crate::ts(r, 3)?,
                    checks: r.try_get(4)?,
                    stalled: r.try_get::<i64, _>(5)? != 0,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{stores, t};

    #[tokio::test]
    async fn results_per_location_and_heartbeats() {
        for (store, _dir) in stores().await {
            let t0 = t("2026-11-25T00:00:00Z");
            store
                .save_probe_result(7, "jp", "192.0.2.1", "up", "", t0)
                .await
                .unwrap();
            store
                .save_probe_result(7, "us", "192.0.2.1", "down", "timeout", t("2026-11-25T00:00:01.5Z"))
                .await
                .unwrap();
            store
                .save_probe_result(7, "jp", "192.0.2.1", "down", "503", t("2026-11-25T00:00:02Z"))
                .await
                .unwrap();
            let all = store.probe_results_since(None).await.unwrap();
            assert_eq!(all.len(), 2, "one row per check and location");
            assert_eq!((all[0].location.as_str(), all[0].result.as_str()), ("us", "down"));
            let later = store.probe_results_since(Some(&all[1].updated_at)).await.unwrap();
            assert_eq!(later.len(), 1);
            assert_eq!((later[0].key_hash, later[0].reason.as_str()), (7, "503"));
            let beat = MonitorBeat {
                instance: "m1".into(),
                location: "jp".into(),
                started_at: t0,
                seen_at: t("2026-11-25T00:00:10Z"),
                checks: 3,
                stalled: false,
            };
            store.monitor_heartbeat(&beat).await.unwrap();
            store
                .monitor_heartbeat(&MonitorBeat {
                    seen_at: t("2026-11-25T00:00:12Z"),
                    stalled: true,
                    ..beat.clone()
                })
                .await
                .unwrap();
            let seen = store.monitors(t("2026-11-25T00:00:11Z")).await.unwrap();
            assert_eq!(seen.len(), 1);
            assert!(seen[0].stalled);
            assert!(store.monitors(t("2026-11-25T00:00:13Z")).await.unwrap().is_empty());
        }
    }
}
