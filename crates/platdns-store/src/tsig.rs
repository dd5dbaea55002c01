//! TSIG keys of a contract (DPF `tsigs`, RFC 8945). Secrets are generated
//! here, 32 random octets (the HMAC-SHA256 output size, RFC 8945 §6).

use crate::{invalid, on_unique, ts, Result, Store, StoreError};
use jiff::Timestamp;
use rand::RngCore;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigKey {
    pub id: i64,
    pub contract_id: i64,
    /// The key's domain name, absolute.
    pub name: String,
    /// DPF algorithm code: 0 = HMAC-SHA256.
    pub algorithm: i64,
    /// Base64.
    pub secret: String,
    pub description: String,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, contract_id, name, algorithm, secret, description, created_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<TsigKey> {
    Ok(TsigKey {
        id: r.try_get(0)?,
        contract_id: r.try_get(1)?,
        name: r.try_get(2)?,
        algorithm: r.try_get(3)?,
        secret: r.try_get(4)?,
        description: r.try_get(5)?,
        created_at: ts(r, 6)?,
    })
}

/// DPF `TsigsPostName`: 1..=63 of `[a-z0-9-]`, no hyphen at either end.
fn check_label(label: &str) -> Result<()> {
    let ok = !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-');
    if ok {
        Ok(())
    } else {
        invalid("name", "1 to 63 of a-z, 0-9 and inner hyphens")
    }
}

impl Store {
    /// A new key `<label>.<contract id>.<suffix>` with a fresh secret.
    pub async fn create_tsig(
        &self,
        contract_id: i64,
        label: &str,
        suffix: &str,
        description: &str,
        now: Timestamp,
    ) -> Result<TsigKey> {
        check_label(label)?;
        if description.chars().count() > 80 {
            return invalid("description", "at most 80 characters");
        }
        let c = self.get_contract(contract_id).await?;
        let name = format!("{label}.{}.{}", c.public_id, suffix.trim_matches('.')) + ".";
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        let secret = data_encoding::BASE64.encode(&key);
        let row = sqlx::query(&format!(
            "INSERT INTO tsig_keys (contract_id, name, algorithm, secret, description, created_at) VALUES ($1, $2, 0, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(contract_id)
        .bind(&name)
        .bind(&secret)
        .bind(description)
        .bind(now.to_string())
        .fetch_one(self.pool())
        .await
        .map_err(|e| on_unique(e, "name"))?;
        from_row(&row)
    }

    pub async fn list_tsigs(&self, contract_id: i64) -> Result<Vec<TsigKey>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tsig_keys WHERE contract_id = $1 ORDER BY id"
        ))
        .bind(contract_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// A key of this contract; another contract's key is not found.
    pub async fn get_tsig(&self, contract_id: i64, id: i64) -> Result<TsigKey> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM tsig_keys WHERE contract_id = $1 AND id = $2"
        ))
        .bind(contract_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    pub async fn update_tsig(&self, contract_id: i64, id: i64, description: &str) -> Result<TsigKey> {
        if description.chars().count() > 80 {
            return invalid("description", "at most 80 characters");
        }
        crate::found(
            sqlx::query("UPDATE tsig_keys SET description = $1 WHERE contract_id = $2 AND id = $3")
                .bind(description)
                .bind(contract_id)
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )?;
        self.get_tsig(contract_id, id).await
    }

    pub async fn delete_tsig(&self, contract_id: i64, id: i64) -> Result<()> {
        crate::found(
            sqlx::query("DELETE FROM tsig_keys WHERE contract_id = $1 AND id = $2")
                .bind(contract_id)
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{account_contract_zone, stores, t};
    use crate::*;

    #[tokio::test]
    async fn tsig_keys_are_per_contract_with_fresh_secrets() {
        for (store, _dir) in stores().await {
            let (_, c, _) = account_contract_zone(&store, "a", "example.com").await;
            let (_, c2, _) = account_contract_zone(&store, "b", "example.net").await;
            let k = store
                .create_tsig(c.id, "xfr", "platdns.test", "", t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            assert_eq!(k.name, format!("xfr.{}.platdns.test.", c.public_id));
            assert_eq!(data_encoding::BASE64.decode(k.secret.as_bytes()).unwrap().len(), 32);
            let k2 = store
                .create_tsig(c.id, "xfr2", "platdns.test", "", t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            assert_ne!(k.secret, k2.secret);
            assert!(matches!(
                store
                    .create_tsig(c.id, "xfr", "platdns.test", "", t("2026-11-24T00:00:00Z"))
                    .await,
                Err(StoreError::Duplicate { .. })
            ));
            for bad in ["", "-x", "x-", "Upper", "a.b"] {
                assert!(
                    store
                        .create_tsig(c.id, bad, "platdns.test", "", t("2026-11-24T00:00:00Z"))
                        .await
                        .is_err(),
                    "{bad}"
                );
            }
            assert!(matches!(store.get_tsig(c2.id, k.id).await, Err(StoreError::NotFound)));
            assert_eq!(
                store.update_tsig(c.id, k.id, "for knot").await.unwrap().description,
                "for knot"
            );
            store.delete_tsig(c.id, k.id).await.unwrap();
            assert_eq!(store.list_tsigs(c.id).await.unwrap().len(), 1);
        }
    }
}
