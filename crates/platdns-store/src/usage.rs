//! Contract usage (R2.1, R4.4) and restrictions (R4.1–R4.3). Seconds are
//! unix seconds; minutes are unix seconds / 60. What the figures mean (the
//! monthly method, the restriction policy) is decided by the caller.

use crate::logs::db_time;
use crate::{Result, Store, StoreError};
use jiff::Timestamp;
use sqlx::Row;

/// One service's count in one second on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub contract_id: i64,
    /// `zone` or `lb_domain`.
    pub service_kind: String,
    pub service_id: i64,
    pub answered: i64,
    pub restricted: i64,
}

/// A contract's or a service's count in one second or minute, summed over
/// the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsagePoint {
    /// Unix second, or unix minute.
    pub at: i64,
    pub answered: i64,
    pub restricted: i64,
}

/// A restriction event (R4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restriction {
    pub id: i64,
    pub contract_id: i64,
    pub started_at: Timestamp,
    /// When it ends unless lifted earlier.
    pub ends_at: Timestamp,
    /// When it ended (`None` while in force).
    pub ended_at: Option<Timestamp>,
    /// The measured figure that caused it, in thousandths of a query per
    /// second (exact for any window).
    pub measured_mqps: i64,
    /// The contract QPS it was measured against.
    pub limit_qps: i64,
    pub window_secs: i64,
    /// `drop`, `refuse`, `truncate` or `none` (freeze only).
    pub action: String,
    pub freeze: bool,
}

const RESTRICTION_COLUMNS: &str =
    "id, contract_id, started_at, ends_at, ended_at, measured_mqps, limit_qps, window_secs, action, freeze_changes";

fn restriction(r: &sqlx::any::AnyRow) -> Result<Restriction> {
    let ended: Option<String> = r.try_get(4)?;
    Ok(Restriction {
        id: r.try_get(0)?,
        contract_id: r.try_get(1)?,
        started_at: crate::ts(r, 2)?,
        ends_at: crate::ts(r, 3)?,
        ended_at: ended
            .map(|t| {
                t.parse()
                    .map_err(|e| StoreError::Conflict(format!("bad time {t}: {e}")))
            })
            .transpose()?,
        measured_mqps: r.try_get(5)?,
        limit_qps: r.try_get(6)?,
        window_secs: r.try_get(7)?,
        action: r.try_get(8)?,
        freeze: r.try_get::<i64, _>(9)? != 0,
    })
}

/// Which services' figures to read.
#[derive(Debug, Clone, Copy)]
pub enum UsageOf<'a> {
    Contract(i64),
    Service(&'a str, i64),
}

impl UsageOf<'_> {
    fn filter(&self) -> (&'static str, Option<&str>, i64) {
        match *self {
            UsageOf::Contract(id) => ("contract_id = $3", None, id),
            UsageOf::Service(kind, id) => ("service_kind = $4 AND service_id = $3", Some(kind), id),
        }
    }
}

impl Store {
    /// One node's counts of one second (rows with nothing counted are
    /// left out by the caller). Idempotent: a node writes each of its
    /// seconds whole, so writing one again (a retry after a write whose
    /// answer was lost) replaces it rather than adding to it.
    pub async fn record_usage(&self, node: &str, second: i64, rows: &[UsageRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let (_writer, mut tx) = self.begin_write().await?;
        for r in rows {
            sqlx::query(
                "INSERT INTO usage_seconds (node, second, contract_id, service_kind, service_id, answered, restricted) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (node, second, service_kind, service_id) DO UPDATE \
                 SET answered = excluded.answered, restricted = excluded.restricted",
            )
            .bind(node)
            .bind(second)
            .bind(r.contract_id)
            .bind(&r.service_kind)
            .bind(r.service_id)
            .bind(r.answered)
            .bind(r.restricted)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Per-second counts in `[from, to)`, summed over nodes (and services,
    /// for a contract), oldest first; seconds with nothing are absent.
    pub async fn usage_seconds(&self, of: UsageOf<'_>, from: i64, to: i64) -> Result<Vec<UsagePoint>> {
        let (filter, kind, id) = of.filter();
        let rows = sqlx::query(&format!(
            "SELECT second, CAST(SUM(answered) AS BIGINT), CAST(SUM(restricted) AS BIGINT) FROM usage_seconds \
             WHERE second >= $1 AND second < $2 AND {filter} GROUP BY second ORDER BY second"
        ))
        .bind(from)
        .bind(to)
        .bind(id)
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        points(&rows)
    }

    /// Per-minute counts in `[from, to)` (unix minutes), as for seconds.
    pub async fn usage_minutes(&self, of: UsageOf<'_>, from: i64, to: i64) -> Result<Vec<UsagePoint>> {
        let (filter, kind, id) = of.filter();
        let rows = sqlx::query(&format!(
            "SELECT minute, CAST(SUM(answered) AS BIGINT), CAST(SUM(restricted) AS BIGINT) FROM usage_minutes \
             WHERE minute >= $1 AND minute < $2 AND {filter} GROUP BY minute ORDER BY minute"
        ))
        .bind(from)
        .bind(to)
        .bind(id)
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        points(&rows)
    }

    /// Every contract's total over seconds `[from, to)`: (contract, answered,
    /// restricted), for the restriction decision.
    pub async fn usage_by_contract(&self, from: i64, to: i64) -> Result<Vec<(i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT contract_id, CAST(SUM(answered) AS BIGINT), CAST(SUM(restricted) AS BIGINT) FROM usage_seconds \
             WHERE second >= $1 AND second < $2 GROUP BY contract_id ORDER BY contract_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, sum(r, 1)?, sum(r, 2)?)))
            .collect()
    }

    /// How many nodes counted a contract's queries in seconds `[from, to)`.
    pub async fn usage_nodes(&self, contract_id: i64, from: i64, to: i64) -> Result<i64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(DISTINCT node) FROM usage_seconds WHERE contract_id = $1 AND second >= $2 AND second < $3",
        )
        .bind(contract_id)
        .bind(from)
        .bind(to)
        .fetch_one(self.pool())
        .await?;
        Ok(n)
    }

    /// Sets (or with `None` removes) a contract's restriction policy
    /// override: `Some(None)` means "never restricted".
    pub async fn set_restriction_override(&self, contract_id: i64, policy: Option<Option<&str>>) -> Result<()> {
        match policy {
            None => {
                sqlx::query("DELETE FROM restriction_overrides WHERE contract_id = $1")
                    .bind(contract_id)
                    .execute(self.pool())
                    .await?;
            }
            Some(p) => {
                sqlx::query(
                    "INSERT INTO restriction_overrides (contract_id, policy) VALUES ($1, $2) \
                     ON CONFLICT (contract_id) DO UPDATE SET policy = excluded.policy",
                )
                .bind(contract_id)
                .bind(p)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

    /// Every override: (contract, policy JSON or `None` for "never").
    pub async fn restriction_overrides(&self) -> Result<Vec<(i64, Option<String>)>> {
        let rows = sqlx::query("SELECT contract_id, policy FROM restriction_overrides ORDER BY contract_id")
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Rolls the seconds of minutes before `before` (unix minute) up into
    /// minutes, then deletes seconds older than `keep_from` (unix second).
    /// Idempotent: a minute rolled up again is replaced by the same sums.
    pub async fn roll_up_usage(&self, before: i64, keep_from: i64) -> Result<usize> {
        let (_writer, mut tx) = self.begin_write().await?;
        let rows = sqlx::query(
            "SELECT second / 60, contract_id, service_kind, service_id, CAST(SUM(answered) AS BIGINT), CAST(SUM(restricted) AS BIGINT) \
             FROM usage_seconds WHERE second < $1 GROUP BY second / 60, contract_id, service_kind, service_id",
        )
        .bind(before * 60)
        .fetch_all(&mut *tx)
        .await?;
        for r in &rows {
            sqlx::query(
                "INSERT INTO usage_minutes (minute, contract_id, service_kind, service_id, answered, restricted) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (minute, service_kind, service_id) DO UPDATE \
                 SET answered = excluded.answered, restricted = excluded.restricted",
            )
            .bind(r.try_get::<i64, _>(0)?)
            .bind(r.try_get::<i64, _>(1)?)
            .bind(r.try_get::<String, _>(2)?)
            .bind(r.try_get::<i64, _>(3)?)
            .bind(sum(r, 4)?)
            .bind(sum(r, 5)?)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM usage_seconds WHERE second < $1")
            .bind(keep_from.min(before * 60))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Deletes minutes before `before` (unix minute): R4.4 keeps 90 days.
    pub async fn purge_usage_minutes(&self, before: i64) -> Result<()> {
        sqlx::query("DELETE FROM usage_minutes WHERE minute < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The per-minute series of every service of a contract in `[from, to)`:
    /// (kind, service id, minute, answered).
    pub async fn usage_minutes_by_service(
        &self,
        contract_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT service_kind, service_id, minute, answered FROM usage_minutes \
             WHERE contract_id = $1 AND minute >= $2 AND minute < $3 ORDER BY service_kind, service_id, minute",
        )
        .bind(contract_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    /// Per-minute counts of every service of a contract derived from the
    /// seconds in `[from, to)` (unix seconds): (kind, service id, minute,
    /// answered), for minutes not rolled up yet.
    pub async fn usage_second_minutes_by_service(
        &self,
        contract_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT service_kind, service_id, second / 60, CAST(SUM(answered) AS BIGINT) FROM usage_seconds \
             WHERE contract_id = $1 AND second >= $2 AND second < $3 \
             GROUP BY service_kind, service_id, second / 60 ORDER BY 1, 2, 3",
        )
        .bind(contract_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, sum(r, 3)?)))
            .collect()
    }

    /// Fixes a month's figures: (contract, kind or "" for the contract,
    /// service id or 0, qps); a row with contract 0 marks the month done.
    pub async fn save_month_figures(&self, month: &str, rows: &[(i64, String, i64, i64)]) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        for (contract_id, kind, service_id, qps) in rows.iter().chain(std::iter::once(&(0, String::new(), 0, 0))) {
            sqlx::query(
                "INSERT INTO usage_months (month, contract_id, service_kind, service_id, qps) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (month, contract_id, service_kind, service_id) DO UPDATE SET qps = excluded.qps",
            )
            .bind(month)
            .bind(contract_id)
            .bind(kind)
            .bind(service_id)
            .bind(qps)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Whether a month's figures are fixed.
    pub async fn month_done(&self, month: &str) -> Result<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM usage_months WHERE month = $1 AND contract_id = 0")
            .bind(month)
            .fetch_one(self.pool())
            .await?;
        Ok(n > 0)
    }

    /// A contract's fixed monthly figures: (month, kind, service id, qps).
    pub async fn month_figures(&self, contract_id: i64) -> Result<Vec<(String, String, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT month, service_kind, service_id, qps FROM usage_months WHERE contract_id = $1 ORDER BY month",
        )
        .bind(contract_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    pub async fn start_restriction(&self, r: &Restriction) -> Result<Restriction> {
        let row = sqlx::query(&format!(
            "INSERT INTO restrictions (contract_id, started_at, ends_at, measured_mqps, limit_qps, window_secs, action, freeze_changes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {RESTRICTION_COLUMNS}"
        ))
        .bind(r.contract_id)
        .bind(db_time(r.started_at))
        .bind(db_time(r.ends_at))
        .bind(r.measured_mqps)
        .bind(r.limit_qps)
        .bind(r.window_secs)
        .bind(&r.action)
        .bind(i64::from(r.freeze))
        .fetch_one(self.pool())
        .await?;
        restriction(&row)
    }

    pub async fn end_restriction(&self, id: i64, at: Timestamp) -> Result<()> {
        let done = sqlx::query("UPDATE restrictions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
            .bind(db_time(at))
            .bind(id)
            .execute(self.pool())
            .await?;
        crate::found(done.rows_affected())
    }

    /// Restrictions in force (not ended).
    pub async fn active_restrictions(&self) -> Result<Vec<Restriction>> {
        let rows = sqlx::query(&format!(
            "SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE ended_at IS NULL ORDER BY id"
        ))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(restriction).collect()
    }

    /// A contract's restrictions (all, or of every contract), newest first.
    pub async fn restrictions(&self, contract_id: Option<i64>) -> Result<Vec<Restriction>> {
        let rows = sqlx::query(&format!(
            "SELECT {RESTRICTION_COLUMNS} FROM restrictions WHERE ($1 IS NULL OR contract_id = $1) ORDER BY id DESC"
        ))
        .bind(contract_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(restriction).collect()
    }
}

/// A SUM column (cast to BIGINT in the query: PostgreSQL's SUM of BIGINT
/// is NUMERIC, which the Any driver does not read).
fn sum(r: &sqlx::any::AnyRow, i: usize) -> Result<i64> {
    Ok(r.try_get::<Option<i64>, _>(i)?.unwrap_or(0))
}

fn points(rows: &[sqlx::any::AnyRow]) -> Result<Vec<UsagePoint>> {
    rows.iter()
        .map(|r| {
            Ok(UsagePoint {
                at: r.try_get(0)?,
                answered: sum(r, 1)?,
                restricted: sum(r, 2)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{account_contract_zone, stores, t};

    fn row(contract_id: i64, id: i64, answered: i64) -> UsageRow {
        UsageRow {
            contract_id,
            service_kind: "zone".into(),
            service_id: id,
            answered,
            restricted: 1,
        }
    }

    #[tokio::test]
    async fn nodes_sum_and_seconds_roll_up_into_minutes() {
        for (store, _dir) in stores().await {
            let (_, c, z) = account_contract_zone(&store, "a", "example.com").await;
            // Two nodes, two seconds of minute 1000, one of minute 1001.
            store.record_usage("n1", 60_000, &[row(c.id, z.id, 5)]).await.unwrap();
            store.record_usage("n2", 60_000, &[row(c.id, z.id, 7)]).await.unwrap();
            store.record_usage("n1", 60_001, &[row(c.id, z.id, 3)]).await.unwrap();
            store.record_usage("n1", 60_060, &[row(c.id, z.id, 100)]).await.unwrap();
            // Written again (a retry after a write whose answer was lost):
            // the same figure, not twice it.
            store.record_usage("n1", 60_001, &[row(c.id, z.id, 3)]).await.unwrap();
            let secs = store
                .usage_seconds(UsageOf::Contract(c.id), 60_000, 60_002)
                .await
                .unwrap();
            assert_eq!(
                secs,
                [
                    UsagePoint {
                        at: 60_000,
                        answered: 12,
                        restricted: 2
                    },
                    UsagePoint {
                        at: 60_001,
                        answered: 3,
                        restricted: 1
                    }
                ]
            );
            let by_contract = store.usage_by_contract(60_000, 60_061).await.unwrap();
            assert_eq!(by_contract, [(c.id, 115, 4)]);
            // Minute 1000 is complete; 1001 is not rolled up yet.
            store.roll_up_usage(1001, 60_060).await.unwrap();
            store.roll_up_usage(1001, 60_060).await.unwrap();
            let mins = store
                .usage_minutes(UsageOf::Service("zone", z.id), 990, 1010)
                .await
                .unwrap();
            assert_eq!(
                mins,
                [UsagePoint {
                    at: 1000,
                    answered: 15,
                    restricted: 3
                }],
                "idempotent"
            );
            assert!(store
                .usage_seconds(UsageOf::Contract(c.id), 0, 60_060)
                .await
                .unwrap()
                .is_empty());
            assert_eq!(
                store
                    .usage_seconds(UsageOf::Contract(c.id), 0, 70_000)
                    .await
                    .unwrap()
                    .len(),
                1
            );
        }
    }

    #[tokio::test]
    async fn month_figures_are_fixed_once_per_month() {
        for (store, _dir) in stores().await {
            let (_, c, z) = account_contract_zone(&store, "a", "example.com").await;
            assert!(!store.month_done("2026-10").await.unwrap());
            let rows = [(c.id, String::new(), 0, 120), (c.id, "zone".to_string(), z.id, 120)];
            store.save_month_figures("2026-10", &rows).await.unwrap();
            assert!(store.month_done("2026-10").await.unwrap());
            let got = store.month_figures(c.id).await.unwrap();
            assert_eq!(got.len(), 2);
            assert!(got.contains(&("2026-10".to_string(), "zone".to_string(), z.id, 120)));
        }
    }

    #[tokio::test]
    async fn restrictions_are_events_with_an_end() {
        for (store, _dir) in stores().await {
            let (_, c, _) = account_contract_zone(&store, "a", "example.com").await;
            let r = store
                .start_restriction(&Restriction {
                    id: 0,
                    contract_id: c.id,
                    started_at: t("2026-11-25T00:00:00Z"),
                    ends_at: t("2026-11-25T00:10:00Z"),
                    ended_at: None,
                    measured_mqps: 1_000_500,
                    limit_qps: 100,
                    window_secs: 60,
                    action: "drop".into(),
                    freeze: false,
                })
                .await
                .unwrap();
            assert_eq!(store.active_restrictions().await.unwrap(), std::slice::from_ref(&r));
            store.end_restriction(r.id, t("2026-11-25T00:10:00Z")).await.unwrap();
            assert!(store.active_restrictions().await.unwrap().is_empty());
            let all = store.restrictions(Some(c.id)).await.unwrap();
            assert_eq!(all[0].ended_at, Some(t("2026-11-25T00:10:00Z")));
            assert!(matches!(
                store.end_restriction(r.id, t("2026-11-25T00:11:00Z")).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}
