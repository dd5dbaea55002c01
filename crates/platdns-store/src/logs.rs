//! Operation logs per contract and zone (DPF `logs`), readable for at least
//! 90 days (R11.4); older entries are purged by [`Store::purge_logs`].

use crate::{ts, Result, Store};
use jiff::Timestamp;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationLog {
    pub at: Timestamp,
    pub log_type: String,
    pub operator: Option<String>,
    pub operation: String,
    pub target: String,
    pub request_id: String,
    pub status: String,
}

/// Which logs to read.
#[derive(Debug, Clone, Copy)]
pub enum LogScope {
    Contract(i64),
    Zone(i64),
    LbDomain(i64),
}

/// Log times are stored in one fixed format (UTC, microseconds), so they
/// sort as text in both backends.
pub(crate) fn db_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn log_operation(
        &self,
        contract_id: i64,
        zone_id: Option<i64>,
        lb_domain_id: Option<i64>,
        log_type: &str,
        operator: Option<&str>,
        operation: &str,
        target: &str,
        request_id: &str,
        status: &str,
        now: Timestamp,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO operation_logs (contract_id, zone_id, at, operator, operation, target, detail, request_id, status, log_type, lb_domain_id) \
             VALUES ($1, $2, $3, $4, $5, $6, '', $7, $8, $9, $10)",
        )
        .bind(contract_id)
        .bind(zone_id)
        .bind(db_time(now))
        .bind(operator)
        .bind(operation)
        .bind(target)
        .bind(request_id)
        .bind(status)
        .bind(log_type)
        .bind(lb_domain_id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Logs in `[from, to)`, newest first unless `ascending`.
    pub async fn logs(
        &self,
        scope: LogScope,
        from: Timestamp,
        to: Timestamp,
        ascending: bool,
    ) -> Result<Vec<OperationLog>> {
        // A contract's log is its own operations (DPF contract logs); its
        // zones' operations are in the zones' logs.
        let (col, id) = match scope {
            LogScope::Contract(c) => ("zone_id IS NULL AND lb_domain_id IS NULL AND contract_id", c),
            LogScope::Zone(z) => ("zone_id", z),
            LogScope::LbDomain(l) => ("lb_domain_id", l),
        };
        let order = if ascending { "ASC" } else { "DESC" };
        // RFC 3339 timestamps in UTC with a fixed format sort as text.
        let rows = sqlx::query(&format!(
            "SELECT at, log_type, operator, operation, target, request_id, status FROM operation_logs \
             WHERE {col} = $1 AND at >= $2 AND at < $3 ORDER BY at {order}, id {order}"
        ))
        .bind(id)
        .bind(db_time(from))
        .bind(db_time(to))
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(OperationLog {
                    at: ts(r, 0)?,
                    log_type: r.try_get(1)?,
                    operator: r.try_get(2)?,
                    operation: r.try_get(3)?,
                    target: r.try_get(4)?,
                    request_id: r.try_get(5)?,
                    status: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Deletes logs older than `keep_days` (R11.4 promises at least 90).
    pub async fn purge_logs(&self, now: Timestamp, keep_days: i64) -> Result<u64> {
        let cutoff = now - jiff::SignedDuration::from_hours(24 * keep_days);
        Ok(sqlx::query("DELETE FROM operation_logs WHERE at < $1")
            .bind(db_time(cutoff))
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{account_contract_zone, stores, t};
    use crate::*;

    #[tokio::test]
    async fn r11_4_logs_are_kept_90_days_and_read_by_scope() {
        for (store, _dir) in stores().await {
            let (_, c, z) = account_contract_zone(&store, "a", "example.com").await;
            let rid = new_request_id();
            for (at, op) in [
                ("2026-08-01T00:00:00Z", "adding_record"),
                ("2026-11-20T00:00:00Z", "commit_zone"),
            ] {
                store
                    .log_operation(
                        c.id,
                        Some(z.id),
                        None,
                        "record",
                        Some("alice"),
                        op,
                        "www.example.com.",
                        &rid,
                        "success",
                        t(at),
                    )
                    .await
                    .unwrap();
            }
            store
                .log_operation(
                    c.id,
                    None,
                    None,
                    "service",
                    None,
                    "update_contract",
                    "",
                    &rid,
                    "success",
                    t("2026-11-21T00:00:00Z"),
                )
                .await
                .unwrap();
            let zone_logs = store
                .logs(
                    LogScope::Zone(z.id),
                    t("2026-01-01T00:00:00Z"),
                    t("2027-01-01T00:00:00Z"),
                    false,
                )
                .await
                .unwrap();
            assert_eq!(
                zone_logs.iter().map(|l| l.operation.as_str()).collect::<Vec<_>>(),
                vec!["commit_zone", "adding_record"]
            );
            let contract_logs = store
                .logs(
                    LogScope::Contract(c.id),
                    t("2026-01-01T00:00:00Z"),
                    t("2027-01-01T00:00:00Z"),
                    true,
                )
                .await
                .unwrap();
            // Only the contract's own operations; its zones' are in their logs.
            assert_eq!(
                contract_logs.iter().map(|l| l.operation.as_str()).collect::<Vec<_>>(),
                vec!["update_contract"]
            );
            // On 2026-11-24, 90 days back is 2026-08-26: the August entry goes, nothing newer.
            assert_eq!(store.purge_logs(t("2026-11-24T00:00:00Z"), 90).await.unwrap(), 1);
            assert_eq!(
                store
                    .logs(
                        LogScope::Zone(z.id),
                        t("2026-01-01T00:00:00Z"),
                        t("2027-01-01T00:00:00Z"),
                        true
                    )
                    .await
                    .unwrap()
                    .len(),
                1
            );
        }
    }
}
