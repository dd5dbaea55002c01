//! DPF labels: up to ten key/value strings on a zone or a contract, read and
//! replaced whole. They never reach DNS, so they change without a commit.

use crate::{Result, Store, StoreError};
use std::collections::BTreeMap;

/// What carries the labels.
#[derive(Debug, Clone, Copy)]
pub enum LabelOf {
    Zone,
    Contract,
    LbDomain,
}

impl LabelOf {
    fn table(self) -> &'static str {
        match self {
            LabelOf::Zone => "zones",
            LabelOf::Contract => "contracts",
            LabelOf::LbDomain => "lb_domains",
        }
    }
}

pub type Labels = BTreeMap<String, String>;

impl Store {
    pub async fn labels(&self, of: LabelOf, id: i64) -> Result<Labels> {
        let text: Option<String> = sqlx::query_scalar(&format!("SELECT labels FROM {} WHERE id = $1", of.table()))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        let text = text.ok_or(StoreError::NotFound)?;
        serde_json::from_str(&text).map_err(|e| StoreError::Conflict(format!("bad labels in store: {e}")))
    }

    /// The labels of every resource of a kind, by id (for label filters).
    pub async fn all_labels(&self, of: LabelOf) -> Result<std::collections::HashMap<i64, Labels>> {
        let rows: Vec<(i64, String)> = sqlx::query_as(&format!("SELECT id, labels FROM {}", of.table()))
            .fetch_all(self.pool())
            .await?;
        rows.into_iter()
            .map(|(id, text)| {
                let labels = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Conflict(format!("bad labels in store: {e}")))?;
                Ok((id, labels))
            })
            .collect()
    }

    /// Replaces the labels; the caller has checked them.
    pub async fn set_labels(&self, of: LabelOf, id: i64, labels: &Labels) -> Result<()> {
        let text = serde_json::to_string(labels).expect("strings serialise");
        crate::found(
            sqlx::query(&format!("UPDATE {} SET labels = $1 WHERE id = $2", of.table()))
                .bind(text)
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
    use super::*;
    use crate::testing::{account_contract_zone, stores};

    #[tokio::test]
    async fn labels_are_replaced_whole_and_kept_per_resource() {
        for (store, _dir) in stores().await {
            let (_, c, z) = account_contract_zone(&store, "a", "example.com").await;
            assert!(store.labels(LabelOf::Zone, z.id).await.unwrap().is_empty());
            let mut l = Labels::new();
            l.insert("env".into(), "prod".into());
            l.insert("team".into(), "dns".into());
            store.set_labels(LabelOf::Zone, z.id, &l).await.unwrap();
            assert_eq!(store.labels(LabelOf::Zone, z.id).await.unwrap(), l);
            assert!(store.labels(LabelOf::Contract, c.id).await.unwrap().is_empty());
            l.remove("team");
            store.set_labels(LabelOf::Zone, z.id, &l).await.unwrap();
            assert_eq!(store.labels(LabelOf::Zone, z.id).await.unwrap().len(), 1);
            assert!(matches!(
                store.set_labels(LabelOf::Contract, 9999, &l).await,
                Err(StoreError::NotFound)
            ));
        }
    }
}
