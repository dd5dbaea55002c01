//! The change feed (issue 19): an ordered log of what changed in what DNS
//! nodes serve, written by triggers (migration 0024) in the transaction
//! that changes it. A following node reads the entries after the last one
//! it applied, instead of listing every zone each second; restrictions and
//! the transfer policy are refreshed on their entries too (migration 0025).

use crate::{Result, Store, StoreError};
use sqlx::Row;

/// What an entry of the feed is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// A zone: a commit, a DNSSEC step, a pulled copy, eligibility.
    Zone,
    /// An LB domain: its configuration, applied rule or endpoint states.
    LbDomain,
    /// A contract's end day or state: every zone and LB domain under it.
    Contract,
    /// A contract's restriction started or ended (R4.2).
    Restriction,
    /// Zone transfers' ACLs, primaries or TSIG keys, or which common
    /// configuration a zone has.
    TransferPolicy,
}

/// One entry of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: i64,
    pub kind: ChangeKind,
    /// The zone's, LB domain's or contract's id.
    pub subject_id: i64,
    /// The zone's or LB domain's name as stored (empty for the rest): a
    /// node withdraws by it what is gone from the store.
    pub name: String,
}

impl Store {
    /// The newest entry's id; 0 when the feed is empty.
    pub async fn change_head(&self) -> Result<i64> {
        let head: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM changes")
            .fetch_one(self.pool())
            .await?;
        Ok(head.unwrap_or(0))
    }

    /// Up to `limit` entries with ids above `after`, by id.
    pub async fn changes_after(&self, after: i64, limit: i64) -> Result<Vec<Change>> {
        let rows = sqlx::query("SELECT id, kind, subject_id, name FROM changes WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let kind: String = r.try_get(1)?;
                Ok(Change {
                    id: r.try_get(0)?,
                    kind: match kind.as_str() {
                        "zone" => ChangeKind::Zone,
                        "lb_domain" => ChangeKind::LbDomain,
                        "contract" => ChangeKind::Contract,
                        "restriction" => ChangeKind::Restriction,
                        "transfer_policy" => ChangeKind::TransferPolicy,
                        other => return Err(StoreError::Conflict(format!("unknown change kind {other:?}"))),
                    },
                    subject_id: r.try_get(2)?,
                    name: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// The oldest entry still kept (0 when the feed is empty): a node whose
    /// last applied entry is older has missed some and loads everything.
    pub async fn change_tail(&self) -> Result<i64> {
        let tail: Option<i64> = sqlx::query_scalar("SELECT MIN(id) FROM changes")
            .fetch_one(self.pool())
            .await?;
        Ok(tail.unwrap_or(0))
    }

    /// Drops all but the newest `keep` entries; returns how many went.
    pub async fn purge_changes(&self, keep: i64) -> Result<u64> {
        let head = self.change_head().await?;
        let done = sqlx::query("DELETE FROM changes WHERE id <= $1")
            .bind(head - keep)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Waits for the next batch of changes where the backend can say so
    /// (PostgreSQL: `LISTEN platdns_changes`, which the triggers NOTIFY at
    /// commit). `None` on SQLite, which has no such signal: poll the head.
    pub async fn change_listener(&self) -> Result<Option<ChangeListener>> {
        let Some(url) = self.url.as_deref().filter(|_| self.backend == crate::Backend::Postgres) else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen("platdns_changes").await?;
        Ok(Some(ChangeListener(listener)))
    }
}

/// A PostgreSQL connection that hears of each committed batch of changes.
pub struct ChangeListener(sqlx::postgres::PgListener);

impl ChangeListener {
    /// Waits for the next NOTIFY. An error means the connection was lost
    /// (notifications sent meanwhile are lost too: read the feed after).
    pub async fn changed(&mut self) -> Result<()> {
        self.0.recv().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{account_contract_zone, stores, t};
    use crate::StagedChange;

    #[tokio::test]
    async fn triggers_log_what_nodes_serve_and_nothing_else() {
        for (store, _dir) in stores().await {
            let before = store.change_head().await.unwrap();
            let (_, c, z) = account_contract_zone(&store, "a", "example.com").await;
            let now = t("2026-11-24T01:00:00Z");
            let kinds = |changes: &[Change]| -> Vec<(ChangeKind, i64)> {
                changes.iter().map(|c| (c.kind, c.subject_id)).collect()
            };
            let made = store.changes_after(before, 100).await.unwrap();
            assert_eq!(kinds(&made), [(ChangeKind::Zone, z.id)]);
            assert_eq!(made[0].name, "example.com");
            let head = store.change_head().await.unwrap();
            assert_eq!(head, made[0].id);
            // Staging changes nothing served; the commit does.
            let add = StagedChange::Add {
                name: "www.example.com.".into(),
                rrtype: "A".into(),
                ttl: Some(300),
                rdata: vec!["192.0.2.1".into()],
                description: String::new(),
                labels: Default::default(),
            };
            store.stage(z.id, &[add], None, now).await.unwrap();
            assert!(store.changes_after(head, 100).await.unwrap().is_empty());
            store
                .commit(z.id, None, "", None, None, now, |_| Ok(Some(())))
                .await
                .unwrap();
            let committed = store.changes_after(head, 100).await.unwrap();
            assert_eq!(kinds(&committed), [(ChangeKind::Zone, z.id)], "one entry per commit");
            // A contract's end day (R5.2).
            let head = store.change_head().await.unwrap();
            let notice = "2026-11-24".parse().unwrap();
            store.give_notice(c.id, notice, None, 30, now).await.unwrap();
            let ended = store.changes_after(head, 100).await.unwrap();
            assert!(kinds(&ended).contains(&(ChangeKind::Contract, c.id)), "{ended:?}");
            // A TSIG key: the transfer policy.
            let head = store.change_head().await.unwrap();
            store.create_tsig(c.id, "k1", "example", "", now).await.unwrap();
            let keyed = store.changes_after(head, 100).await.unwrap();
            assert_eq!(
                keyed.iter().map(|e| e.kind).collect::<Vec<_>>(),
                [ChangeKind::TransferPolicy]
            );
            // Purged down to the newest entry.
            assert!(store.purge_changes(1).await.unwrap() >= 2);
            assert_eq!(store.change_tail().await.unwrap(), store.change_head().await.unwrap());
        }
    }
}
