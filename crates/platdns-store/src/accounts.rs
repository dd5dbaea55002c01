//! Accounts and API tokens. Tokens are stored only as SHA-256 hashes.

use crate::{invalid, on_unique, random_string, ts, Result, Store, StoreError};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub name: String,
    pub created_at: Timestamp,
}

/// What a token may do (DPF security schemes: viewer = read, operator =
/// write; `contract` = contract operations), or the platform operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenScope {
    Operator,
    Tenant { read: bool, write: bool, contract: bool },
}

impl TokenScope {
    fn to_db(&self) -> String {
        match self {
            TokenScope::Operator => "operator".into(),
            TokenScope::Tenant { read, write, contract } => {
                let mut v = Vec::new();
                if *read {
                    v.push("read");
                }
                if *write {
                    v.push("write");
                }
                if *contract {
                    v.push("contract");
                }
                v.join(" ")
            }
        }
    }

    fn from_db(s: &str) -> TokenScope {
        if s == "operator" {
            return TokenScope::Operator;
        }
        let has = |w: &str| s.split(' ').any(|x| x == w);
        TokenScope::Tenant {
            read: has("read") || has("write"),
            write: has("write"),
            contract: has("contract"),
        }
    }
}

/// Who a token belongs to and what it may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub token_id: i64,
    pub account_id: Option<i64>,
    pub scope: TokenScope,
    /// Contracts (internal ids) the token may reach, with its role on each.
    /// Empty for an account token means every contract of the account.
    pub contracts: Vec<(i64, String)>,
}

fn hash(secret: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(secret.as_bytes()))
}

impl Store {
    pub async fn create_account(&self, name: &str, now: Timestamp) -> Result<Account> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return invalid("name", "must be 1 to 64 characters");
        }
        let row = sqlx::query("INSERT INTO accounts (name, created_at) VALUES ($1, $2) RETURNING id")
            .bind(name)
            .bind(now.to_string())
            .fetch_one(self.pool())
            .await
            .map_err(|e| on_unique(e, "name"))?;
        Ok(Account {
            id: row.try_get(0)?,
            name: name.into(),
            created_at: now,
        })
    }

    pub async fn get_account(&self, id: i64) -> Result<Account> {
        let row = sqlx::query("SELECT id, name, created_at FROM accounts WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Account {
            id: row.try_get(0)?,
            name: row.try_get(1)?,
            created_at: ts(&row, 2)?,
        })
    }

    pub async fn list_accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM accounts ORDER BY id")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Account {
                    id: row.try_get(0)?,
                    name: row.try_get(1)?,
                    created_at: ts(row, 2)?,
                })
            })
            .collect()
    }

    /// Issues a token and returns (token id, secret). The secret is shown
    /// once; only its hash is kept.
    pub async fn create_token(
        &self,
        account_id: Option<i64>,
        scope: &TokenScope,
        contracts: &[(i64, String)],
        description: &str,
        now: Timestamp,
    ) -> Result<(i64, String)> {
        if account_id.is_none() && *scope != TokenScope::Operator {
            return invalid("account", "a tenant token belongs to an account");
        }
        let secret = format!(
            "pdns_{}",
            random_string(40, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        );
        let (_writer, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO api_tokens (account_id, token_hash, scopes, description, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(hash(&secret))
        .bind(scope.to_db())
        .bind(description)
        .bind(now.to_string())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        for (contract, role) in contracts {
            if role != "viewer" && role != "operator" {
                return invalid("role", format!("\"{role}\" is not viewer or operator"));
            }
            // A token may only name its own account's contracts.
            let owner: Option<i64> = sqlx::query("SELECT account_id FROM contracts WHERE id = $1")
                .bind(contract)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get(0))
                .transpose()?;
            if owner.is_none() || owner != account_id {
                return Err(StoreError::NotFound);
            }
            sqlx::query("INSERT INTO token_contracts (token_id, contract_id, role) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(contract)
                .bind(role)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok((id, secret))
    }

    /// Registers a token whose secret the operator chose (the operator's
    /// first credential from `--operator-token-file`).
    pub async fn ensure_operator_token(&self, secret: &str, now: Timestamp) -> Result<()> {
        let exists = sqlx::query("SELECT id FROM api_tokens WHERE token_hash = $1")
            .bind(hash(secret))
            .fetch_optional(self.pool())
            .await?;
        if exists.is_none() {
            sqlx::query("INSERT INTO api_tokens (account_id, token_hash, scopes, description, created_at) VALUES (NULL, $1, 'operator', 'first operator token', $2)")
                .bind(hash(secret))
                .bind(now.to_string())
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }

    /// The principal behind a bearer secret, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Principal>> {
        let Some(row) = sqlx::query("SELECT id, account_id, scopes FROM api_tokens WHERE token_hash = $1")
            .bind(hash(secret))
            .fetch_optional(self.pool())
            .await?
        else {
            return Ok(None);
        };
        let token_id: i64 = row.try_get(0)?;
        let scopes: String = row.try_get(2)?;
        let contracts =
            sqlx::query("SELECT contract_id, role FROM token_contracts WHERE token_id = $1 ORDER BY contract_id")
                .bind(token_id)
                .fetch_all(self.pool())
                .await?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect::<Result<Vec<_>>>()?;
        Ok(Some(Principal {
            token_id,
            account_id: row.try_get(1)?,
            scope: TokenScope::from_db(&scopes),
            contracts,
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{stores, t};
    use crate::*;

    #[tokio::test]
    async fn accounts_are_unique_and_tokens_are_stored_hashed() {
        for (store, _dir) in stores().await {
            let a = store.create_account("acme", t("2026-11-24T00:00:00Z")).await.unwrap();
            assert!(matches!(
                store.create_account("acme", t("2026-11-24T00:00:00Z")).await,
                Err(StoreError::Duplicate { .. })
            ));
            let scope = TokenScope::Tenant {
                read: true,
                write: true,
                contract: false,
            };
            let (_, secret) = store
                .create_token(Some(a.id), &scope, &[], "", t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            let p = store.authenticate(&secret).await.unwrap().unwrap();
            assert_eq!((p.account_id, p.scope), (Some(a.id), scope));
            assert!(store.authenticate("pdns_wrong").await.unwrap().is_none());
            // The secret itself appears nowhere in the table.
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_tokens WHERE token_hash = $1")
                .bind(&secret)
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(n, 0);
        }
    }
}
