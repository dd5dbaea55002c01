//! Common configurations (DPF `common_configs`): settings a contract's zones
//! and LB domains share, today their notice accounts (`cc_notice_accounts`);
//! one per contract is the default, applied to services created later. And
//! the notification outbox the deliverer works from.

use crate::{on_unique, ts, Result, Store, StoreError};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    pub id: i64,
    pub contract_id: i64,
    pub name: String,
    pub description: String,
    pub is_default: bool,
    pub managed_dns_enabled: bool,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, contract_id, name, description, is_default, managed_dns_enabled, created_at";

fn from_row(r: &AnyRow) -> Result<CommonConfig> {
    Ok(CommonConfig {
        id: r.try_get(0)?,
        contract_id: r.try_get(1)?,
        name: r.try_get(2)?,
        description: r.try_get(3)?,
        is_default: r.try_get::<i64, _>(4)? != 0,
        managed_dns_enabled: r.try_get::<i64, _>(5)? != 0,
        created_at: ts(r, 6)?,
    })
}

/// A notice account (DPF `CcNoticeAccount`): a mail address and/or a phone
/// number, either may be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeAccount {
    pub resource_name: String,
    pub name: String,
    /// `ja` or `en_US`: the language of what it is sent.
    pub lang: String,
    pub mail: String,
    pub phone_country: String,
    pub phone_number: String,
}

const ACCOUNT_COLUMNS: &str = "resource_name, name, lang, mail, phone_country, phone_number";

fn account_from_row(r: &AnyRow) -> Result<NoticeAccount> {
    Ok(NoticeAccount {
        resource_name: r.try_get(0)?,
        name: r.try_get(1)?,
        lang: r.try_get(2)?,
        mail: r.try_get(3)?,
        phone_country: r.try_get(4)?,
        phone_number: r.try_get(5)?,
    })
}

/// Why a common configuration cannot be deleted (DPF `forbidden|common_config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteRefused {
    IsDefault,
    InUse,
}

/// One message in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub contract_id: i64,
    pub lb_domain_id: Option<i64>,
    /// `mail` or `webhook`.
    pub channel: String,
    /// A mail address, or the webhook's URL.
    pub recipient: String,
    pub subject: String,
    /// Mail text, or the webhook's JSON.
    pub body: String,
    pub attempts: i64,
}

/// A notification to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub contract_id: i64,
    pub lb_domain_id: Option<i64>,
    pub channel: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

impl Store {
    /// Gives a contract its default common configuration if it has none
    /// (at creation; existing contracts got theirs in migration 0013).
    pub async fn ensure_default_common_config(&self, contract_id: i64, now: Timestamp) -> Result<()> {
        sqlx::query(
            "INSERT INTO common_configs (contract_id, name, is_default, created_at) \
             SELECT $1, 'default', 1, $2 WHERE NOT EXISTS \
             (SELECT 1 FROM common_configs WHERE contract_id = $1 AND is_default = 1)",
        )
        .bind(contract_id)
        .bind(now.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn list_common_configs(&self, contract_id: i64) -> Result<Vec<CommonConfig>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM common_configs WHERE contract_id = $1 ORDER BY id"
        ))
        .bind(contract_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// By id; one of another contract (or, with `account_id`, of another
    /// account) is not found (R1.2).
    pub async fn find_common_config(
        &self,
        id: i64,
        contract_id: Option<i64>,
        account_id: Option<i64>,
    ) -> Result<CommonConfig> {
        let cols = COLUMNS
            .split(", ")
            .map(|c| format!("cc.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let row = sqlx::query(&format!(
            "SELECT {cols} FROM common_configs cc JOIN contracts c ON c.id = cc.contract_id \
             WHERE cc.id = $1 AND ($2 IS NULL OR cc.contract_id = $2) AND ($3 IS NULL OR c.account_id = $3)"
        ))
        .bind(id)
        .bind(contract_id)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn create_common_config(
        &self,
        contract_id: i64,
        name: &str,
        description: &str,
        now: Timestamp,
    ) -> Result<CommonConfig> {
        let row = sqlx::query(&format!(
            "INSERT INTO common_configs (contract_id, name, description, created_at) VALUES ($1, $2, $3, $4) \
             RETURNING {COLUMNS}"
        ))
        .bind(contract_id)
        .bind(name)
        .bind(description)
        .bind(now.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(|e| on_unique(e, "name"))?;
        from_row(&row)
    }

    /// DPF `copy`: a new configuration named `name` with the same notice
    /// accounts (not the default, whatever the original is).
    pub async fn copy_common_config(
        &self,
        contract_id: i64,
        from: i64,
        name: &str,
        description: &str,
        now: Timestamp,
    ) -> Result<CommonConfig> {
        let (_writer, mut tx) = self.begin_write().await?;
        let original = sqlx::query("SELECT managed_dns_enabled FROM common_configs WHERE id = $1 AND contract_id = $2")
            .bind(from)
            .bind(contract_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let managed: i64 = original.try_get(0)?;
        let row = sqlx::query(&format!(
            "INSERT INTO common_configs (contract_id, name, description, managed_dns_enabled, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(contract_id)
        .bind(name)
        .bind(description)
        .bind(managed)
        .bind(now.to_string())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "name"))?;
        let copy = from_row(&row)?;
        sqlx::query(&format!(
            "INSERT INTO cc_notice_accounts (common_config_id, {ACCOUNT_COLUMNS}) \
             SELECT $1, {ACCOUNT_COLUMNS} FROM cc_notice_accounts WHERE common_config_id = $2"
        ))
        .bind(copy.id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(copy)
    }

    pub async fn update_common_config(
        &self,
        contract_id: i64,
        id: i64,
        name: Option<&str>,
        description: Option<&str>,
    ) -> Result<CommonConfig> {
        let row = sqlx::query(&format!(
            "UPDATE common_configs SET name = COALESCE($1, name), description = COALESCE($2, description) \
             WHERE id = $3 AND contract_id = $4 RETURNING {COLUMNS}"
        ))
        .bind(name)
        .bind(description)
        .bind(id)
        .bind(contract_id)
        .fetch_optional(self.pool())
        .await
        .map_err(|e| on_unique(e, "name"))?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn set_managed_dns(&self, contract_id: i64, id: i64, enabled: bool) -> Result<()> {
        let done = sqlx::query("UPDATE common_configs SET managed_dns_enabled = $1 WHERE id = $2 AND contract_id = $3")
            .bind(i64::from(enabled))
            .bind(id)
            .bind(contract_id)
            .execute(self.pool())
            .await?;
        crate::found(done.rows_affected())
    }

    /// DPF `PATCH .../common_configs/default`: `id` becomes the one new
    /// services get.
    pub async fn set_default_common_config(&self, contract_id: i64, id: i64) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM common_configs WHERE id = $1 AND contract_id = $2")
            .bind(id)
            .bind(contract_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        sqlx::query(
            "UPDATE common_configs SET is_default = CASE WHEN id = $1 THEN 1 ELSE 0 END WHERE contract_id = $2",
        )
        .bind(id)
        .bind(contract_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a configuration with its notice accounts, unless it is the
    /// default or a zone or LB domain still uses it.
    pub async fn delete_common_config(&self, contract_id: i64, id: i64) -> Result<Result<(), DeleteRefused>> {
        let (_writer, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "SELECT is_default, \
             (SELECT COUNT(*) FROM zones WHERE common_config_id = $1) + \
             (SELECT COUNT(*) FROM lb_domains WHERE common_config_id = $1) \
             FROM common_configs WHERE id = $1 AND contract_id = $2",
        )
        .bind(id)
        .bind(contract_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        if row.try_get::<i64, _>(0)? != 0 {
            return Ok(Err(DeleteRefused::IsDefault));
        }
        if row.try_get::<i64, _>(1)? != 0 {
            return Ok(Err(DeleteRefused::InUse));
        }
        sqlx::query("DELETE FROM cc_notice_accounts WHERE common_config_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM common_configs WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// DPF `PATCH /contracts/{id}/{zones|lb_domains}/common_configs`: all of
    /// `public_ids` (services of the contract) get configuration `id`, or
    /// none does. Returns the public ids not found, if any.
    pub async fn apply_common_config(
        &self,
        contract_id: i64,
        id: i64,
        lb_domains: bool,
        public_ids: &[String],
    ) -> Result<Vec<String>> {
        let table = if lb_domains { "lb_domains" } else { "zones" };
        let (_writer, mut tx) = self.begin_write().await?;
        let exists = sqlx::query("SELECT 1 FROM common_configs WHERE id = $1 AND contract_id = $2")
            .bind(id)
            .bind(contract_id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound);
        }
        let mut missing = Vec::new();
        for public_id in public_ids {
            let done = sqlx::query(&format!(
                "UPDATE {table} SET common_config_id = $1 WHERE public_id = $2 AND contract_id = $3"
            ))
            .bind(id)
            .bind(public_id)
            .bind(contract_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                missing.push(public_id.clone());
            }
        }
        if missing.is_empty() {
            tx.commit().await?;
        }
        Ok(missing)
    }

    pub async fn notice_accounts(&self, common_config_id: i64) -> Result<Vec<NoticeAccount>> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM cc_notice_accounts WHERE common_config_id = $1 ORDER BY resource_name"
        ))
        .bind(common_config_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    pub async fn notice_account(&self, common_config_id: i64, resource_name: &str) -> Result<NoticeAccount> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM cc_notice_accounts WHERE common_config_id = $1 AND resource_name = $2"
        ))
        .bind(common_config_id)
        .bind(resource_name)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        account_from_row(&row)
    }

    /// Adds an account, unless the configuration has `max` already
    /// (`Invalid` on `name`, DPF `too_many`) or the name is taken.
    pub async fn add_notice_account(&self, common_config_id: i64, a: &NoticeAccount, max: i64) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM cc_notice_accounts WHERE common_config_id = $1")
            .bind(common_config_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if n >= max {
            return crate::invalid("name", format!("at most {max} notice accounts"));
        }
        sqlx::query(&format!(
            "INSERT INTO cc_notice_accounts (common_config_id, {ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(common_config_id)
        .bind(&a.resource_name)
        .bind(&a.name)
        .bind(&a.lang)
        .bind(&a.mail)
        .bind(&a.phone_country)
        .bind(&a.phone_number)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_unique(e, "resource_name"))?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an account's fields (the caller merged the patch).
    pub async fn update_notice_account(&self, common_config_id: i64, a: &NoticeAccount) -> Result<()> {
        let done = sqlx::query(
            "UPDATE cc_notice_accounts SET name = $1, lang = $2, mail = $3, phone_country = $4, phone_number = $5 \
             WHERE common_config_id = $6 AND resource_name = $7",
        )
        .bind(&a.name)
        .bind(&a.lang)
        .bind(&a.mail)
        .bind(&a.phone_country)
        .bind(&a.phone_number)
        .bind(common_config_id)
        .bind(&a.resource_name)
        .execute(self.pool())
        .await?;
        crate::found(done.rows_affected())
    }

    pub async fn delete_notice_account(&self, common_config_id: i64, resource_name: &str) -> Result<()> {
        let done = sqlx::query("DELETE FROM cc_notice_accounts WHERE common_config_id = $1 AND resource_name = $2")
            .bind(common_config_id)
            .bind(resource_name)
            .execute(self.pool())
            .await?;
        crate::found(done.rows_affected())
    }

    /// Queues notifications, due at once.
    pub async fn enqueue_notifications(&self, items: &[NewNotification], now: Timestamp) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let (_writer, mut tx) = self.begin_write().await?;
        for n in items {
            sqlx::query(
                "INSERT INTO notifications (contract_id, lb_domain_id, channel, recipient, subject, body, \
                 next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
            )
            .bind(n.contract_id)
            .bind(n.lb_domain_id)
            .bind(&n.channel)
            .bind(&n.recipient)
            .bind(&n.subject)
            .bind(&n.body)
            .bind(crate::logs::db_time(now))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Up to `limit` undelivered notifications due at `now`, oldest first.
    pub async fn due_notifications(&self, now: Timestamp, limit: i64) -> Result<Vec<Notification>> {
        let rows = sqlx::query(
            "SELECT id, contract_id, lb_domain_id, channel, recipient, subject, body, attempts FROM notifications \
             WHERE delivered_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(crate::logs::db_time(now))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: r.try_get(0)?,
                    contract_id: r.try_get(1)?,
                    lb_domain_id: r.try_get(2)?,
                    channel: r.try_get(3)?,
                    recipient: r.try_get(4)?,
                    subject: r.try_get(5)?,
                    body: r.try_get(6)?,
                    attempts: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Records one delivery attempt: delivered, to retry at `retry_at`, or
    /// given up (neither).
    pub async fn notification_attempted(
        &self,
        id: i64,
        outcome: std::result::Result<(), &str>,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let now_text = crate::logs::db_time(now);
        let (delivered, failed, next, error) = match (outcome, retry_at) {
            (Ok(()), _) => (Some(now_text.clone()), None, now_text.clone(), String::new()),
            (Err(e), Some(at)) => (None, None, crate::logs::db_time(at), e.to_string()),
            (Err(e), None) => (None, Some(now_text.clone()), now_text.clone(), e.to_string()),
        };
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, delivered_at = $1, failed_at = $2, \
             next_attempt_at = $3, last_error = $4 WHERE id = $5",
        )
        .bind(delivered)
        .bind(failed)
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{account_contract_zone, stores, t};

    #[tokio::test]
    async fn a_contract_has_a_default_that_new_services_get() {
        for (store, _dir) in stores().await {
            let (a, c, z) = account_contract_zone(&store, "a", "example.com").await;
            let all = store.list_common_configs(c.id).await.unwrap();
            assert_eq!(all.len(), 1);
            let default = &all[0];
            assert!(default.is_default && default.managed_dns_enabled);
            assert_eq!(z.common_config_id, default.id);
            // A second configuration made the default: the next LB domain gets it.
            let other = store
                .create_common_config(c.id, "night", "", t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            assert!(matches!(
                store
                    .create_common_config(c.id, "night", "", t("2026-11-24T00:00:00Z"))
                    .await,
                Err(StoreError::Duplicate { .. })
            ));
            store.set_default_common_config(c.id, other.id).await.unwrap();
            let l = store
                .create_lb_domain(c.id, "www.example.com", t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            assert_eq!(l.common_config_id, other.id);
            assert!(
                !store
                    .find_common_config(default.id, None, None)
                    .await
                    .unwrap()
                    .is_default
            );
            // R1.2: another account does not see it.
            let (b, _, _) = account_contract_zone(&store, "b", "example.net").await;
            assert!(store.find_common_config(other.id, None, Some(a.id)).await.is_ok());
            assert!(matches!(
                store.find_common_config(other.id, None, Some(b.id)).await,
                Err(StoreError::NotFound)
            ));
            // The default cannot go; one in use cannot; the old default, once
            // its zone moves, can.
            assert_eq!(
                store.delete_common_config(c.id, other.id).await.unwrap(),
                Err(DeleteRefused::IsDefault)
            );
            assert_eq!(
                store.delete_common_config(c.id, default.id).await.unwrap(),
                Err(DeleteRefused::InUse)
            );
            let missing = store
                .apply_common_config(c.id, other.id, false, &[z.public_id.clone(), "nope".into()])
                .await
                .unwrap();
            assert_eq!(missing, ["nope"]);
            assert_eq!(
                store.get_zone(z.id).await.unwrap().common_config_id,
                default.id,
                "all or none"
            );
            assert!(store
                .apply_common_config(c.id, other.id, false, std::slice::from_ref(&z.public_id))
                .await
                .unwrap()
                .is_empty());
            assert_eq!(store.delete_common_config(c.id, default.id).await.unwrap(), Ok(()));
        }
    }

    #[tokio::test]
    async fn notice_accounts_are_copied_and_bounded() {
        for (store, _dir) in stores().await {
            let (_, c, z) = account_contract_zone(&store, "a", "example.com").await;
            let acc = NoticeAccount {
                resource_name: "ops".into(),
                name: "Ops".into(),
                lang: "en_US".into(),
                mail: "ops@example.com".into(),
                phone_country: "81".into(),
                phone_number: "0312345678".into(),
            };
            store.add_notice_account(z.common_config_id, &acc, 2).await.unwrap();
            assert!(matches!(
                store.add_notice_account(z.common_config_id, &acc, 2).await,
                Err(StoreError::Duplicate { .. })
            ));
            let second = NoticeAccount {
                resource_name: "dev".into(),
                ..acc.clone()
            };
            store.add_notice_account(z.common_config_id, &second, 2).await.unwrap();
            let third = NoticeAccount {
                resource_name: "x".into(),
                ..acc.clone()
            };
            assert!(matches!(
                store.add_notice_account(z.common_config_id, &third, 2).await,
                Err(StoreError::Invalid { .. })
            ));
            let copy = store
                .copy_common_config(c.id, z.common_config_id, "copy", "d", t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            assert!(!copy.is_default);
            assert_eq!(store.notice_accounts(copy.id).await.unwrap().len(), 2);
            let changed = NoticeAccount {
                mail: String::new(),
                ..acc.clone()
            };
            store.update_notice_account(copy.id, &changed).await.unwrap();
            assert_eq!(store.notice_account(copy.id, "ops").await.unwrap().mail, "");
            assert_eq!(
                store.notice_account(z.common_config_id, "ops").await.unwrap().mail,
                "ops@example.com",
                "the copy is its own"
            );
            store.delete_notice_account(copy.id, "ops").await.unwrap();
            assert!(matches!(
                store.delete_notice_account(copy.id, "ops").await,
                Err(StoreError::NotFound)
            ));
        }
    }

    #[tokio::test]
    async fn the_outbox_retries_until_delivered_or_given_up() {
        for (store, _dir) in stores().await {
            let (_, c, _) = account_contract_zone(&store, "a", "example.com").await;
            let n = |to: &str| NewNotification {
                contract_id: c.id,
                lb_domain_id: None,
                channel: "mail".into(),
                recipient: to.into(),
                subject: "s".into(),
                body: "b".into(),
            };
            let t0 = t("2026-11-24T00:00:00Z");
            store.enqueue_notifications(&[n("a@x"), n("b@x")], t0).await.unwrap();
            let due = store.due_notifications(t0, 10).await.unwrap();
            assert_eq!(due.len(), 2);
            store.notification_attempted(due[0].id, Ok(()), None, t0).await.unwrap();
            store
                .notification_attempted(due[1].id, Err("refused"), Some(t("2026-11-24T00:00:30Z")), t0)
                .await
                .unwrap();
            assert!(store
                .due_notifications(t("2026-11-24T00:00:29Z"), 10)
                .await
                .unwrap()
                .is_empty());
            let again = store.due_notifications(t("2026-11-24T00:00:30Z"), 10).await.unwrap();
            assert_eq!((again.len(), again[0].attempts), (1, 1));
            store
                .notification_attempted(again[0].id, Err("refused"), None, t0)
                .await
                .unwrap();
            assert!(store
                .due_notifications(t("2027-01-01T00:00:00Z"), 10)
                .await
                .unwrap()
                .is_empty());
        }
    }
}
