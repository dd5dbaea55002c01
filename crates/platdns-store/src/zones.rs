//! Zones (managed DNS services) under a contract, with R3.1 eligibility, and
//! their commit histories.

use crate::{invalid, new_system_id, random_string, ts, Result, Store, StoreError};
use crate::{RecordRow, RecordState};
use jiff::Timestamp;
use platdns_contract::Eligibility;
use sqlx::any::AnyRow;
use sqlx::Row;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    pub id: i64,
    pub public_id: String,
    pub service_code: String,
    pub contract_id: i64,
    /// Lower-case, without the trailing dot, as DPF writes zone names.
    pub name: String,
    pub network: Option<String>,
    /// Published from its first commit on.
    pub state: crate::Publication,
    pub favorite: i64,
    pub description: String,
    pub default_ttl: i64,
    pub eligibility: Eligibility,
    pub serial: i64,
    /// Bumped by every commit; the applied zone's ETag.
    pub version: i64,
    pub created_at: Timestamp,
    /// DPF `common_config_id`: the common configuration applied to it.
    pub common_config_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneHistory {
    pub id: i64,
    pub serial: i64,
    pub committed_at: Timestamp,
    pub operator: Option<String>,
    pub description: String,
}

pub(crate) const COLUMNS: &str =
    "id, public_id, service_code, contract_id, name, network, state, favorite, description, default_ttl, \
                       eligibility, eligibility_token, approved_by, approval_reason, serial, version, created_at, common_config_id";

pub(crate) fn from_row(row: &AnyRow) -> Result<Zone> {
    let kind: String = row.try_get(10)?;
    let token: String = row.try_get(11)?;
    let eligibility = match kind.as_str() {
        "pending" => Eligibility::Pending { token },
        "txt" => Eligibility::VerifiedByTxt { token },
        "delegation" => Eligibility::VerifiedByDelegation,
        "operator" => Eligibility::ApprovedByOperator {
            operator: row.try_get::<Option<String>, _>(12)?.unwrap_or_default(),
            reason: row.try_get::<Option<String>, _>(13)?.unwrap_or_default(),
        },
        other => return Err(StoreError::Conflict(format!("bad eligibility {other:?}"))),
    };
    Ok(Zone {
        id: row.try_get(0)?,
        public_id: row.try_get(1)?,
        service_code: row.try_get(2)?,
        contract_id: row.try_get(3)?,
        name: row.try_get(4)?,
        network: row.try_get(5)?,
        state: crate::Publication::from_code(row.try_get(6)?),
        favorite: row.try_get(7)?,
        description: row.try_get(8)?,
        default_ttl: row.try_get(9)?,
        eligibility,
        serial: row.try_get(14)?,
        version: row.try_get(15)?,
        created_at: ts(row, 16)?,
        common_config_id: row.try_get::<Option<i64>, _>(17)?.unwrap_or_default(),
    })
}

/// A zone name as DPF keeps it: lower-case, no trailing dot, 1..=253 chars.
pub fn normalize_zone_name(name: &str) -> Result<String> {
    let n = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if n.is_empty() || n.len() > 253 || n.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return invalid("name", format!("\"{name}\" is not a domain name"));
    }
    if !n
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return invalid("name", format!("\"{name}\" has characters a zone name cannot"));
    }
    Ok(n)
}

impl Store {
    /// A new zone under a contract, pending until consent is proven (R3.1),
    /// unless the operator approves it here with a reason.
    pub async fn create_zone(
        &self,
        contract_id: i64,
        name: &str,
        approval: Option<(&str, &str)>,
        now: Timestamp,
    ) -> Result<Zone> {
        let name = normalize_zone_name(name)?;
        self.get_contract(contract_id).await?;
        let token = format!(
            "platdns-verify={}",
            random_string(32, b"abcdefghijklmnopqrstuvwxyz0123456789")
        );
        let (kind, by, why) = match approval {
            Some((by, why)) if !why.trim().is_empty() => ("operator", Some(by), Some(why)),
            Some(_) => return invalid("reason", "an operator approval needs a reason"),
            None => ("pending", None, None),
        };
        let network = name
            .ends_with(".in-addr.arpa")
            .then_some("ipv4")
            .or(name.ends_with(".ip6.arpa").then_some("ipv6"));
        // RFC 1912 §2.2 serial style: YYYYMMDDnn.
        let day = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        let serial = (day.year() as i64 * 10000 + day.month() as i64 * 100 + day.day() as i64) * 100;
        let sql = format!(
            "INSERT INTO zones (public_id, service_code, contract_id, name, network, state, description, eligibility, \
             eligibility_token, approved_by, approval_reason, serial, created_at, common_config_id) \
             VALUES ($1, $2, $3, $4, $5, 1, '', $6, $7, $8, $9, $10, $11, \
             (SELECT id FROM common_configs WHERE contract_id = $3 AND is_default = 1)) RETURNING {COLUMNS}"
        );
        let row = crate::with_service_code("dpm", "name", |code| {
            sqlx::query(&sql)
                .bind(new_system_id('m'))
                .bind(code)
                .bind(contract_id)
                .bind(&name)
                .bind(network)
                .bind(kind)
                .bind(&token)
                .bind(by)
                .bind(why)
                .bind(serial)
                .bind(now.to_string())
                .fetch_one(self.pool())
        })
        .await?;
        from_row(&row)
    }

    /// By DPF id; a zone of another account is not found (R1.2).
    pub async fn find_zone(&self, public_id: &str, account_id: Option<i64>) -> Result<Zone> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM zones z JOIN contracts c ON c.id = z.contract_id WHERE z.public_id = $1 AND ($2 IS NULL OR c.account_id = $2)",
            COLUMNS.split(", ").map(|c| format!("z.{}", c.trim())).collect::<Vec<_>>().join(", ")
        ))
        .bind(public_id)
        .bind(account_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// The zone named `name` (no final dot), whatever its account: what a
    /// DNS node's event about an apex is about. One indexed lookup, not a
    /// list of every zone.
    pub async fn zone_named(&self, name: &str) -> Result<Option<Zone>> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM zones WHERE name = $1 ORDER BY id LIMIT 1"
        ))
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// The zones of the given common configurations: those a transfer
    /// policy names (ACLs, primaries), not every zone.
    pub async fn zones_of_configs(&self, config_ids: &[i64]) -> Result<Vec<Zone>> {
        let mut out = Vec::new();
        for chunk in config_ids.chunks(crate::IN_LIST_CHUNK) {
            let sql = format!(
                "SELECT {COLUMNS} FROM zones WHERE common_config_id IN ({}) ORDER BY id",
                crate::placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await? {
                out.push(from_row(&row)?);
            }
        }
        Ok(out)
    }

    pub async fn get_zone(&self, id: i64) -> Result<Zone> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM zones WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        from_row(&row)
    }

    /// Zones of an account (all accounts when `None`), optionally of one contract.
    pub async fn list_zones(&self, account_id: Option<i64>, contract_id: Option<i64>) -> Result<Vec<Zone>> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM zones z JOIN contracts c ON c.id = z.contract_id \
             WHERE ($1 IS NULL OR c.account_id = $1) AND ($2 IS NULL OR z.contract_id = $2) ORDER BY z.id",
            COLUMNS
                .split(", ")
                .map(|c| format!("z.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(account_id)
        .bind(contract_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// Records how consent was proven (R3.1): `operator` approvals carry who and why.
    pub async fn set_eligibility(&self, zone_id: i64, e: &Eligibility) -> Result<Zone> {
        let (kind, by, why) = match e {
            Eligibility::Pending { .. } => ("pending", None, None),
            Eligibility::VerifiedByTxt { .. } => ("txt", None, None),
            Eligibility::VerifiedByDelegation => ("delegation", None, None),
            Eligibility::ApprovedByOperator { operator, reason } => {
                if reason.trim().is_empty() {
                    return invalid("reason", "an operator approval needs a reason");
                }
                ("operator", Some(operator.as_str()), Some(reason.as_str()))
            }
        };
        crate::found(
            sqlx::query("UPDATE zones SET eligibility = $1, approved_by = $2, approval_reason = $3 WHERE id = $4")
                .bind(kind)
                .bind(by)
                .bind(why)
                .bind(zone_id)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )?;
        self.get_zone(zone_id).await
    }

    /// DPF `PATCH /zones/{id}`: description and favorite.
    pub async fn update_zone_meta(
        &self,
        zone_id: i64,
        description: Option<&str>,
        favorite: Option<i64>,
    ) -> Result<Zone> {
        let z = self.get_zone(zone_id).await?;
        let description = description.unwrap_or(&z.description);
        if description.chars().count() > 80 {
            return invalid("description", "at most 80 characters");
        }
        let favorite = favorite.unwrap_or(z.favorite);
        if favorite != 1 && favorite != 2 {
            return invalid("favorite", "must be 1 or 2");
        }
        sqlx::query("UPDATE zones SET description = $1, favorite = $2 WHERE id = $3")
            .bind(description)
            .bind(favorite)
            .bind(zone_id)
            .execute(self.pool())
            .await?;
        self.get_zone(zone_id).await
    }

    /// DPF default TTL: (applied, staged) values.
    pub async fn default_ttl(&self, zone_id: i64) -> Result<(i64, Option<i64>)> {
        let row = sqlx::query("SELECT default_ttl, staged_default_ttl FROM zones WHERE id = $1")
            .bind(zone_id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// Stages a new default TTL (applied by the next commit), or discards the
    /// staged one with `None`.
    pub async fn stage_default_ttl(&self, zone_id: i64, ttl: Option<i64>) -> Result<()> {
        if let Some(t) = ttl {
            if !(1..=2_147_483_647).contains(&t) {
                return invalid("value", "1 to 2147483647");
            }
        }
        crate::found(
            sqlx::query("UPDATE zones SET staged_default_ttl = $1 WHERE id = $2")
                .bind(ttl)
                .bind(zone_id)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )?;
        Ok(())
    }

    pub async fn zone_histories(&self, zone_id: i64) -> Result<Vec<ZoneHistory>> {
        let rows = sqlx::query(
            "SELECT id, serial, committed_at, operator, description FROM zone_histories WHERE zone_id = $1 ORDER BY id",
        )
        .bind(zone_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ZoneHistory {
                    id: r.try_get(0)?,
                    serial: r.try_get(1)?,
                    committed_at: ts(r, 2)?,
                    operator: r.try_get(3)?,
                    description: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// What a commit left the zone as: the text recorded with it (commits
    /// before record versions were kept), or the records served from it on,
    /// with its serial and `$TTL`, for the caller to render.
    pub async fn zone_history_text(&self, zone_id: i64, history_id: i64) -> Result<HistoryText> {
        let row =
            sqlx::query("SELECT text, version, serial, default_ttl FROM zone_histories WHERE zone_id = $1 AND id = $2")
                .bind(zone_id)
                .bind(history_id)
                .fetch_optional(self.pool())
                .await?
                .ok_or(StoreError::NotFound)?;
        let version: Option<i64> = row.try_get(1)?;
        let Some(version) = version else {
            return Ok(HistoryText::Text(row.try_get(0)?));
        };
        let rows = sqlx::query(
            "SELECT record_id, name, rrtype, ttl, rdata FROM record_versions \
             WHERE zone_id = $1 AND from_version <= $2 AND (to_version IS NULL OR to_version > $2) \
             ORDER BY name, rrtype, record_id",
        )
        .bind(zone_id)
        .bind(version)
        .fetch_all(self.pool())
        .await?;
        let records = rows
            .iter()
            .map(|r| {
                let rdata: String = r.try_get(4)?;
                Ok(RecordRow {
                    id: r.try_get(0)?,
                    public_id: String::new(),
                    zone_id,
                    name: r.try_get(1)?,
                    rrtype: r.try_get(2)?,
                    ttl: r.try_get(3)?,
                    rdata: serde_json::from_str(&rdata)
                        .map_err(|e| StoreError::Conflict(format!("bad rdata in store: {e}")))?,
                    state: RecordState::Applied,
                    description: String::new(),
                    operator: None,
                    labels: Default::default(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(HistoryText::Records {
            serial: row.try_get(2)?,
            default_ttl: row.try_get(3)?,
            records,
        })
    }
}

/// A commit's zone, see [`Store::zone_history_text`].
#[derive(Debug)]
pub enum HistoryText {
    Text(String),
    Records {
        serial: i64,
        default_ttl: i64,
        records: Vec<RecordRow>,
    },
}

#[cfg(test)]
mod tests {
    use crate::testing::{stores, t};
    use crate::*;
    use platdns_contract::Eligibility;

    #[tokio::test]
    async fn r3_1_zones_start_pending_and_operator_approval_records_who_and_why() {
        for (store, _dir) in stores().await {
            let (a, c, z) = crate::testing::account_contract_zone(&store, "a", "Example.COM.").await;
            assert_eq!(z.name, "example.com");
            assert_eq!(z.serial, 2026112400);
            assert!(matches!(&z.eligibility, Eligibility::Pending { token } if token.starts_with("platdns-verify=")));
            assert!(matches!(
                store
                    .create_zone(c.id, "example.com", None, t("2026-11-24T00:00:00Z"))
                    .await,
                Err(StoreError::Duplicate { .. })
            ));
            assert!(store
                .create_zone(c.id, "bad..name", None, t("2026-11-24T00:00:00Z"))
                .await
                .is_err());
            let approved = Eligibility::ApprovedByOperator {
                operator: "ops".into(),
                reason: "registrar letter".into(),
            };
            let z = store.set_eligibility(z.id, &approved).await.unwrap();
            assert_eq!(z.eligibility, approved);
            let rev = store
                .create_zone(
                    c.id,
                    "2.0.192.in-addr.arpa",
                    Some(("ops", "RIR record")),
                    t("2026-11-24T00:00:00Z"),
                )
                .await
                .unwrap();
            assert_eq!(rev.network.as_deref(), Some("ipv4"));
            assert!(rev.eligibility.may_serve());
            // R1.2 through zones.
            let b = store.create_account("b", t("2026-11-01T00:00:00Z")).await.unwrap();
            assert!(matches!(
                store.find_zone(&z.public_id, Some(b.id)).await,
                Err(StoreError::NotFound)
            ));
            assert_eq!(store.list_zones(Some(a.id), None).await.unwrap().len(), 2);
            assert_eq!(store.list_zones(Some(b.id), None).await.unwrap().len(), 0);
        }
    }
}
