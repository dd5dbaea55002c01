//! Records, staged and applied, as DPF keeps them: an edit is *staged* (to
//! add / to update / to delete) and reaches DNS only when the zone's changes
//! are committed; a commit applies every staged edit in one transaction,
//! bumps the SOA serial and the zone version, and writes a history entry.

use crate::{invalid, new_system_id, Result, Store, StoreError};
use jiff::Timestamp;
use sqlx::any::AnyRow;
use sqlx::Row;

/// DPF record `state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    Applied = 0,
    ToAdd = 1,
    ToDelete = 2,
    ToUpdate = 3,
    BeforeUpdate = 5,
}

/// A record as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRow {
    pub id: i64,
    pub public_id: String,
    pub zone_id: i64,
    /// Owner name as DPF writes it (absolute, with the trailing dot).
    pub name: String,
    pub rrtype: String,
    pub ttl: Option<i64>,
    pub rdata: Vec<String>,
    pub state: RecordState,
    pub description: String,
    pub operator: Option<String>,
    pub labels: crate::Labels,
}

/// A record field DPF's `_keywords_<field>[]` can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordField {
    FullText,
    Name,
    Ttl,
    Rrtype,
    Rdata,
    Description,
    Operator,
    /// `key=value` or `key` against the labels (see [`label_sql`]).
    Label,
}

impl RecordField {
    pub fn from_keyword(field: &str) -> Option<RecordField> {
        Some(match field {
            "full_text" => RecordField::FullText,
            "name" => RecordField::Name,
            "ttl" => RecordField::Ttl,
            "rrtype" => RecordField::Rrtype,
            "rdata" => RecordField::Rdata,
            "description" => RecordField::Description,
            "operator" => RecordField::Operator,
            "label" => RecordField::Label,
            _ => return None,
        })
    }
}

/// DPF keyword filters on records, run in SQL: text matches as a
/// case-insensitive substring, `ttl` exactly; the values of one field are
/// alternatives; fields must all match, or any with `type=OR` (`any`).
#[derive(Debug, Clone, Default)]
pub struct RecordFilter {
    pub any: bool,
    pub terms: Vec<(RecordField, Vec<String>)>,
}

pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

impl Bind {
    fn bind<'q>(
        self,
        q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        match self {
            Bind::Text(t) => q.bind(t),
            Bind::Int(i) => q.bind(i),
        }
    }
}

impl RecordFilter {
    /// ` AND (...)` over the view's columns, binding from `$first` on.
    fn sql(&self, applied: bool, binds: &mut Vec<Bind>, first: usize) -> String {
        let (ttl, rdata) = if applied {
            ("applied_ttl", "applied_rdata")
        } else {
            (
                "(CASE WHEN pending IN (1, 3) THEN staged_ttl ELSE applied_ttl END)",
                "(CASE WHEN pending IN (1, 3) THEN staged_rdata ELSE applied_rdata END)",
            )
        };
        let like = |col: &str, v: &str, binds: &mut Vec<Bind>| {
            let escaped = v
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            binds.push(Bind::Text(format!("%{escaped}%")));
            format!("lower({col}) LIKE ${} ESCAPE '\\'", first + binds.len() - 1)
        };
        let mut fields = Vec::new();
        for (field, values) in &self.terms {
            let mut alts = Vec::new();
            for v in values {
                alts.push(match field {
                    RecordField::Name => like("name", v, binds),
                    RecordField::Rrtype => like("rrtype", v, binds),
                    RecordField::Rdata => like(rdata, v, binds),
                    RecordField::Description => like("description", v, binds),
                    RecordField::Operator => like("COALESCE(operator, '')", v, binds),
                    RecordField::Label => label_sql(v, binds, first),
                    RecordField::Ttl => match v.parse::<i64>() {
                        Ok(t) => {
                            binds.push(Bind::Int(t));
                            let i = first + binds.len() - 1;
                            format!("{ttl} = ${i}")
                        }
                        Err(_) => "1 = 0".into(),
                    },
                    RecordField::FullText => {
                        let cols = [
                            "public_id",
                            "name",
                            "rrtype",
                            rdata,
                            "description",
                            "COALESCE(operator, '')",
                        ];
                        let any: Vec<String> = cols.iter().map(|c| like(c, v, binds)).collect();
                        format!("({})", any.join(" OR "))
                    }
                });
            }
            fields.push(format!("({})", alts.join(" OR ")));
        }
        if applied {
            fields.insert(0, "applied_rdata IS NOT NULL".into());
            if self.any && fields.len() > 1 {
                let rest = fields.split_off(1).join(" OR ");
                fields.push(format!("({rest})"));
            }
        } else if self.any && !fields.is_empty() {
            fields = vec![fields.join(" OR ")];
        }
        if fields.is_empty() {
            return String::new();
        }
        format!(" AND ({})", fields.join(" AND "))
    }
}

/// A whole record, as `atomic_changes` gives it.
#[derive(Debug, Clone)]
pub struct NewRecord {
    pub name: String,
    pub rrtype: String,
    pub ttl: Option<i64>,
    pub rdata: Vec<String>,
    pub description: String,
    pub labels: crate::Labels,
}

/// One staged edit.
#[derive(Debug, Clone)]
pub enum StagedChange {
    Add {
        name: String,
        rrtype: String,
        ttl: Option<i64>,
        rdata: Vec<String>,
        description: String,
        labels: crate::Labels,
    },
    Update {
        public_id: String,
        ttl: Option<i64>,
        rdata: Vec<String>,
        description: Option<String>,
        /// Replaces the labels when given (they are not staged).
        labels: Option<crate::Labels>,
    },
    Delete {
        public_id: String,
    },
}

/// DPF `_keywords_label[]` in SQL: `key=value` matches a label with that
/// key and that value, `key` a label with that key; without regard to case.
/// The labels column is the compact JSON of a sorted map (`labels_json`),
/// so a member is `{"k":"v"…` or `…,"k":"v"…`; a quote inside a key or value
/// is escaped (`\"`), so the patterns cannot match inside one. The API's
/// in-memory filter (`dpf::label_matches`) is the same rule.
fn label_sql(pattern: &str, binds: &mut Vec<Bind>, first: usize) -> String {
    let json = |s: &str| serde_json::to_string(&s.to_lowercase()).expect("strings serialise");
    let member = match pattern.split_once('=') {
        Some((k, v)) => format!("{}:{}", json(k), json(v)),
        None => format!("{}:", json(pattern)),
    };
    let escaped = member.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    binds.push(Bind::Text(format!("{{{escaped}%")));
    let at_start = first + binds.len() - 1;
    binds.push(Bind::Text(format!("%,{escaped}%")));
    let inside = first + binds.len() - 1;
    format!("(lower(labels) LIKE ${at_start} ESCAPE '\\' OR lower(labels) LIKE ${inside} ESCAPE '\\')")
}

const COLUMNS: &str = "id, public_id, zone_id, name, rrtype, applied_ttl, applied_rdata, staged_ttl, staged_rdata, pending, description, operator, labels";

struct Raw {
    id: i64,
    public_id: String,
    zone_id: i64,
    name: String,
    rrtype: String,
    applied: Option<(Option<i64>, Vec<String>)>,
    staged: Option<(Option<i64>, Vec<String>)>,
    pending: i64,
    description: String,
    operator: Option<String>,
    labels: crate::Labels,
}

fn rdata_json(v: &[String]) -> String {
    serde_json::to_string(v).expect("strings serialise")
}

fn labels_json(l: &crate::Labels) -> String {
    serde_json::to_string(l).expect("strings serialise")
}

fn raw(row: &AnyRow) -> Result<Raw> {
    let parse = |s: Option<String>| s.as_deref().map(rdata_of).transpose();
    let applied_rdata = parse(row.try_get(6)?)?;
    let staged_rdata = parse(row.try_get(8)?)?;
    Ok(Raw {
        id: row.try_get(0)?,
        public_id: row.try_get(1)?,
        zone_id: row.try_get(2)?,
        name: row.try_get(3)?,
        rrtype: row.try_get(4)?,
        applied: applied_rdata
            .map(|r| Ok::<_, StoreError>((row.try_get(5)?, r)))
            .transpose()?,
        staged: staged_rdata
            .map(|r| Ok::<_, StoreError>((row.try_get(7)?, r)))
            .transpose()?,
        pending: row.try_get(9)?,
        description: row.try_get(10)?,
        operator: row.try_get(11)?,
        labels: {
            let text: String = row.try_get(12)?;
            serde_json::from_str(&text).map_err(|e| StoreError::Conflict(format!("bad labels in store: {e}")))?
        },
    })
}

impl Raw {
    fn row(&self, state: RecordState, (ttl, rdata): (Option<i64>, Vec<String>)) -> RecordRow {
        RecordRow {
            id: self.id,
            public_id: self.public_id.clone(),
            zone_id: self.zone_id,
            name: self.name.clone(),
            rrtype: self.rrtype.clone(),
            ttl,
            rdata,
            state,
            description: self.description.clone(),
            operator: self.operator.clone(),
            labels: self.labels.clone(),
        }
    }

    /// The record as the staged view shows it (`GET /records`).
    fn staged_view(&self) -> Option<RecordRow> {
        match self.pending {
            1 => self.staged.clone().map(|s| self.row(RecordState::ToAdd, s)),
            2 => self.applied.clone().map(|a| self.row(RecordState::ToDelete, a)),
            3 => self.staged.clone().map(|s| self.row(RecordState::ToUpdate, s)),
            _ => self.applied.clone().map(|a| self.row(RecordState::Applied, a)),
        }
    }
}

/// The columns serving a record needs ([`served_row`]).
pub(crate) const SERVED_COLUMNS: &str = "id, public_id, zone_id, name, rrtype, applied_ttl, applied_rdata";

/// A record's values as stored (a JSON array of presentation texts).
fn rdata_of(text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Conflict(format!("bad rdata in store: {e}")))
}

/// An applied record from [`SERVED_COLUMNS`], as `Store::zone_sources`
/// reads 100,000 zones at start-up: without the description, operator and
/// labels, which DNS does not carry (reading and parsing them took about
/// as long as the rest of the row).
pub(crate) fn served_row(row: &AnyRow) -> Result<RecordRow> {
    let rdata: String = row.try_get(6)?;
    Ok(RecordRow {
        id: row.try_get(0)?,
        public_id: row.try_get(1)?,
        zone_id: row.try_get(2)?,
        name: row.try_get(3)?,
        rrtype: row.try_get(4)?,
        ttl: row.try_get(5)?,
        rdata: rdata_of(&rdata)?,
        state: RecordState::Applied,
        description: String::new(),
        operator: None,
        labels: Default::default(),
    })
}

/// Rows as the applied view (what DNS serves) or the staged view shows them.
fn views(rows: &[AnyRow], applied: bool) -> Result<Vec<RecordRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let r = raw(r)?;
        let row = if applied {
            r.applied.clone().map(|a| r.row(RecordState::Applied, a))
        } else {
            r.staged_view()
        };
        out.extend(row);
    }
    Ok(out)
}

async fn fetch_raw(tx: &mut sqlx::Transaction<'_, sqlx::Any>, zone_id: i64, public_id: &str) -> Result<Raw> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM records WHERE zone_id = $1 AND public_id = $2"
    ))
    .bind(zone_id)
    .bind(public_id)
    .fetch_optional(&mut **tx)
    .await?
    .ok_or(StoreError::NotFound)?;
    raw(&row)
}

fn check_edit(name: &str, rrtype: &str, ttl: Option<i64>, rdata: &[String]) -> Result<()> {
    if name.is_empty() || name.len() > 255 {
        return invalid("name", "must be 1 to 255 characters");
    }
    if rrtype.is_empty() {
        return invalid("rrtype", "missing");
    }
    if let Some(t) = ttl {
        if !(1..=2_147_483_647).contains(&t) {
            return invalid("ttl", "must be 1 to 2147483647");
        }
    }
    if rdata.is_empty() {
        return invalid("rdata", "at least one value");
    }
    Ok(())
}

impl Store {
    /// Records of a zone: the staged view (`applied == false`) or what DNS
    /// serves now (`applied == true`).
    pub async fn list_records(&self, zone_id: i64, applied: bool) -> Result<Vec<RecordRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM records WHERE zone_id = $1 ORDER BY name, rrtype, id"
        ))
        .bind(zone_id)
        .fetch_all(self.pool())
        .await?;
        views(&rows, applied)
    }

    /// One page of the staged or applied view in SQL, filtered by DPF
    /// keywords: one page of a large zone costs one page, not the zone.
    pub async fn list_records_page(
        &self,
        zone_id: i64,
        applied: bool,
        filter: &RecordFilter,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>> {
        let mut binds = Vec::new();
        let cond = filter.sql(applied, &mut binds, 4);
        let sql = format!(
            "SELECT {COLUMNS} FROM records WHERE zone_id = $1{cond} ORDER BY name, rrtype, id LIMIT $2 OFFSET $3"
        );
        let mut q = sqlx::query(&sql).bind(zone_id).bind(limit).bind(offset);
        for b in binds {
            q = b.bind(q);
        }
        views(&q.fetch_all(self.pool()).await?, applied)
    }

    /// How many records the staged or applied view has that pass `filter`.
    pub async fn count_records(&self, zone_id: i64, applied: bool, filter: &RecordFilter) -> Result<i64> {
        let mut binds = Vec::new();
        let cond = filter.sql(applied, &mut binds, 2);
        let sql = format!("SELECT COUNT(*) FROM records WHERE zone_id = $1{cond}");
        let mut q = sqlx::query_scalar(&sql).bind(zone_id);
        for b in binds {
            q = match b {
                Bind::Text(t) => q.bind(t),
                Bind::Int(i) => q.bind(i),
            };
        }
        Ok(q.fetch_one(self.pool()).await?)
    }

    /// Pending edits as DPF diffs, `(new, old)` per staged record: an update
    /// is (to update, before update (5)); a deletion is (to delete, before
    /// (5)); an addition has nothing before it, so both are the record to add
    /// (the reference requires both and neither may be null).
    pub async fn record_diffs(&self, zone_id: i64) -> Result<Vec<(RecordRow, RecordRow)>> {
        // Sorted here, not by ORDER BY, which would make SQLite walk the
        // zone's name index instead of probing the (zone_id, pending) one.
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM records WHERE zone_id = $1 AND pending IN (1, 2, 3)"
        ))
        .bind(zone_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let r = raw(r)?;
            let Some(new) = r.staged_view() else { continue };
            let old = match r.pending {
                2 | 3 => r.applied.clone().map(|a| r.row(RecordState::BeforeUpdate, a)),
                _ => None,
            };
            let old = old.unwrap_or_else(|| new.clone());
            out.push((new, old));
        }
        // The order every list has (name, rrtype, id); a byte order, as the
        // databases' default collation for these ASCII names.
        out.sort_by(|(a, _), (b, _)| (&a.name, &a.rrtype, a.id).cmp(&(&b.name, &b.rrtype, b.id)));
        Ok(out)
    }

    pub async fn find_record(&self, zone_id: i64, public_id: &str) -> Result<RecordRow> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM records WHERE zone_id = $1 AND public_id = $2"
        ))
        .bind(zone_id)
        .bind(public_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        raw(&row)?.staged_view().ok_or(StoreError::NotFound)
    }

    /// Stages edits all-or-nothing. `validate` sees every edit first (the API
    /// checks rdata per rrtype there); nothing is written if any is refused.
    pub async fn stage(
        &self,
        zone_id: i64,
        edits: &[StagedChange],
        operator: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<String>> {
        let (_writer, mut tx) = self.begin_write().await?;
        let mut ids = Vec::with_capacity(edits.len());
        for e in edits {
            match e {
                StagedChange::Add {
                    name,
                    rrtype,
                    ttl,
                    rdata,
                    description,
                    labels,
                } => {
                    check_edit(name, rrtype, *ttl, rdata)?;
                    // One DPF record per (name, rrtype) that is not being deleted.
                    let clash: Option<i64> = sqlx::query_scalar(
                        "SELECT id FROM records WHERE zone_id = $1 AND name = $2 AND rrtype = $3 AND pending <> 2",
                    )
                    .bind(zone_id)
                    .bind(name)
                    .bind(rrtype)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if clash.is_some() {
                        return Err(StoreError::Duplicate {
                            attribute: "name".into(),
                        });
                    }
                    let rec = NewRecord {
                        name: name.clone(),
                        rrtype: rrtype.clone(),
                        ttl: *ttl,
                        rdata: rdata.clone(),
                        description: description.clone(),
                        labels: labels.clone(),
                    };
                    ids.push(insert_record(&mut tx, zone_id, &rec, false, operator, now).await?);
                }
                StagedChange::Update {
                    public_id,
                    ttl,
                    rdata,
                    description,
                    labels,
                } => {
                    let r = fetch_raw(&mut tx, zone_id, public_id).await?;
                    check_edit(&r.name, &r.rrtype, *ttl, rdata)?;
                    if r.pending == 2 {
                        // DPF answers a refused edit with 400 naming the record.
                        return Err(StoreError::Invalid {
                            attribute: "record".into(),
                            message: format!("record {public_id} is staged for deletion"),
                        });
                    }
                    // Still to be added stays "to add"; an applied one becomes "to update".
                    let pending = if r.pending == 1 { 1 } else { 3 };
                    sqlx::query(
                        "UPDATE records SET staged_ttl = $1, staged_rdata = $2, pending = $3, description = $4, operator = $5, updated_at = $6, labels = $7 WHERE id = $8",
                    )
                    .bind(*ttl)
                    .bind(rdata_json(rdata))
                    .bind(pending)
                    .bind(description.clone().unwrap_or(r.description))
                    .bind(operator)
                    .bind(now.to_string())
                    .bind(labels_json(labels.as_ref().unwrap_or(&r.labels)))
                    .bind(r.id)
                    .execute(&mut *tx)
                    .await?;
                    ids.push(public_id.clone());
                }
                StagedChange::Delete { public_id } => {
                    let r = fetch_raw(&mut tx, zone_id, public_id).await?;
                    if r.pending == 1 {
                        // Never applied: deleting it just drops the row.
                        sqlx::query("DELETE FROM records WHERE id = $1")
                            .bind(r.id)
                            .execute(&mut *tx)
                            .await?;
                    } else {
                        sqlx::query("UPDATE records SET pending = 2, staged_ttl = NULL, staged_rdata = NULL, operator = $1, updated_at = $2 WHERE id = $3")
                            .bind(operator)
                            .bind(now.to_string())
                            .bind(r.id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    ids.push(public_id.clone());
                }
            }
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// DPF `PUT /zones/{id}/records`: stages the zone's records to become
    /// exactly `records` at the next commit. Earlier staged edits are
    /// dropped; each record is then unchanged (same TTL and values), to
    /// update, to add, or (absent from `records`) to delete. All or nothing:
    /// a bad record or a repeated (name, rrtype) writes nothing.
    pub async fn stage_replacement(
        &self,
        zone_id: i64,
        records: &[NewRecord],
        operator: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for (i, r) in records.iter().enumerate() {
            check_edit(&r.name, &r.rrtype, r.ttl, &r.rdata).map_err(|e| match e {
                StoreError::Invalid { attribute, message } => StoreError::Invalid {
                    attribute: format!("records[{i}].{attribute}"),
                    message,
                },
                e => e,
            })?;
            if !seen.insert((r.name.as_str(), r.rrtype.as_str())) {
                return Err(StoreError::Duplicate {
                    attribute: format!("records[{i}]"),
                });
            }
        }
        let (_writer, mut tx) = self.begin_write().await?;
        // Back to what is applied: staged additions go, other edits are undone.
        sqlx::query("DELETE FROM records WHERE zone_id = $1 AND pending = 1")
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE records SET pending = 0, staged_ttl = NULL, staged_rdata = NULL WHERE zone_id = $1 AND pending IN (1, 2, 3)")
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM records WHERE zone_id = $1"))
            .bind(zone_id)
            .fetch_all(&mut *tx)
            .await?;
        let mut applied: std::collections::HashMap<(String, String), Raw> = std::collections::HashMap::new();
        for row in &rows {
            let r = raw(row)?;
            applied.insert((r.name.clone(), r.rrtype.clone()), r);
        }
        let stamp = now.to_string();
        for r in records {
            let staged = rdata_json(&r.rdata);
            match applied.remove(&(r.name.clone(), r.rrtype.clone())) {
                Some(old) if old.applied.as_ref() == Some(&(r.ttl, r.rdata.clone())) => {
                    if old.labels != r.labels || old.description != r.description {
                        sqlx::query("UPDATE records SET labels = $1, description = $2 WHERE id = $3")
                            .bind(labels_json(&r.labels))
                            .bind(&r.description)
                            .bind(old.id)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                Some(old) => {
                    sqlx::query(
                        "UPDATE records SET staged_ttl = $1, staged_rdata = $2, pending = 3, description = $3, operator = $4, updated_at = $5, labels = $6 WHERE id = $7",
                    )
                    .bind(r.ttl)
                    .bind(&staged)
                    .bind(&r.description)
                    .bind(operator)
                    .bind(&stamp)
                    .bind(labels_json(&r.labels))
                    .bind(old.id)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    insert_record(&mut tx, zone_id, r, false, operator, now).await?;
                }
            }
        }
        for gone in applied.values() {
            sqlx::query("UPDATE records SET pending = 2, operator = $1, updated_at = $2 WHERE id = $3")
                .bind(operator)
                .bind(&stamp)
                .bind(gone.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Discards staged edits: of one record, or of the whole zone.
    pub async fn discard(&self, zone_id: i64, public_id: Option<&str>) -> Result<u64> {
        let (_writer, mut tx) = self.begin_write().await?;
        let filter = if public_id.is_some() { " AND public_id = $2" } else { "" };
        let delete = format!("DELETE FROM records WHERE zone_id = $1 AND pending = 1{filter}");
        let mut q = sqlx::query(&delete).bind(zone_id);
        if let Some(p) = public_id {
            q = q.bind(p);
        }
        let mut n = q.execute(&mut *tx).await?.rows_affected();
        let revert = format!(
            "UPDATE records SET pending = 0, staged_ttl = NULL, staged_rdata = NULL WHERE zone_id = $1 AND pending IN (1, 2, 3){filter}"
        );
        let mut q = sqlx::query(&revert).bind(zone_id);
        if let Some(p) = public_id {
            q = q.bind(p);
        }
        n += q.execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        if public_id.is_some() && n == 0 {
            // Not found, or nothing staged on it: tell which.
            self.find_record(zone_id, public_id.unwrap_or_default()).await?;
        }
        Ok(n)
    }

    /// Applies every staged edit of the zone atomically. `check` sees what
    /// the commit changes ([`CommitInput`]), must accept it (the zone must
    /// build) and returns what the caller wants kept (the compiled zone); an
    /// error from it aborts the commit with nothing changed. It may answer
    /// `None` to a [`CommitChange::Delta`] to be called again with every
    /// record ([`CommitChange::Whole`]). `if_version` guards against another
    /// commit having come first (our `If-Match`).
    ///
    /// `check` runs between [`Store::plan_commit`] and
    /// [`Store::apply_commit`], outside any write transaction; a caller with
    /// CPU-heavy checks (compiling, signing) calls those two itself and runs
    /// the check off the async workers.
    ///
    /// With `replacement` (DPF `atomic_changes`) the zone's records become
    /// exactly that set instead, and any staged edits are dropped.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit<F, T>(
        &self,
        zone_id: i64,
        operator: Option<&str>,
        description: &str,
        if_version: Option<i64>,
        replacement: Option<&[NewRecord]>,
        now: Timestamp,
        mut check: F,
    ) -> Result<(i64, i64, T)>
    where
        F: FnMut(CommitInput<'_>) -> Result<Option<T>>,
    {
        let mut plan = self.plan_commit(zone_id, replacement, false).await?;
        let kept = match check(plan.input())? {
            Some(k) => k,
            None => {
                plan = self.plan_commit(zone_id, replacement, true).await?;
                check(plan.input())?
                    .ok_or_else(|| StoreError::Conflict("the commit check refused every record".into()))?
            }
        };
        let (serial, version) = self
            .apply_commit(&plan, operator, description, if_version, replacement, now)
            .await?;
        Ok((serial, version, kept))
    }

    /// What a commit of the zone would serve, read without the write lock
    /// (one consistent snapshot): the RRsets its staged edits touch as they
    /// will be (or, with `whole`, a new default TTL or a `replacement`, every
    /// record), the serial it gives, and a fingerprint of the staged edits
    /// that [`Store::apply_commit`] checks again under the lock.
    pub async fn plan_commit(
        &self,
        zone_id: i64,
        replacement: Option<&[NewRecord]>,
        whole: bool,
    ) -> Result<CommitPlan> {
        // A snapshot for the whole read; the apply checks it still holds.
        let mut tx = self.begin_snapshot().await?;
        let row = sqlx::query("SELECT serial, version, default_ttl, staged_default_ttl FROM zones WHERE id = $1")
            .bind(zone_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let (serial, version, old_ttl, staged_ttl): (i64, i64, i64, Option<i64>) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let default_ttl = staged_ttl.unwrap_or(old_ttl);
        let staged = staged_edits(&mut tx, zone_id).await?;
        let fingerprint = fingerprint(&staged, staged_ttl);
        let change = if let Some(records) = replacement {
            for r in records {
                check_edit(&r.name, &r.rrtype, r.ttl, &r.rdata)?;
            }
            // In the order a read of the stored set gives: by name and
            // type, then as given (ids increase in insertion order).
            let mut rows: Vec<RecordRow> = records
                .iter()
                .map(|r| RecordRow {
                    id: 0,
                    public_id: String::new(),
                    zone_id,
                    name: r.name.clone(),
                    rrtype: r.rrtype.clone(),
                    ttl: r.ttl,
                    rdata: r.rdata.clone(),
                    state: RecordState::Applied,
                    description: r.description.clone(),
                    operator: None,
                    labels: r.labels.clone(),
                })
                .collect();
            rows.sort_by(|a, b| (&a.name, &a.rrtype).cmp(&(&b.name, &b.rrtype)));
            PlannedChange::Whole(rows)
        } else if whole || default_ttl != old_ttl {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM records WHERE zone_id = $1 ORDER BY name, rrtype, id"
            ))
            .bind(zone_id)
            .fetch_all(&mut *tx)
            .await?;
            PlannedChange::Whole(after_commit(&rows)?)
        } else {
            let mut touched: Vec<(String, String)> =
                staged.iter().map(|e| (e.name.clone(), e.rrtype.clone())).collect();
            touched.sort_unstable();
            touched.dedup();
            PlannedChange::Delta(rrsets_after(&mut tx, zone_id, &touched).await?)
        };
        tx.rollback().await?;
        Ok(CommitPlan {
            zone_id,
            previous_serial: serial,
            // RFC 1982 serial arithmetic: the next serial, wrapping within 32 bits.
            serial: (serial + 1) % (1i64 << 32),
            version,
            default_ttl,
            fingerprint,
            change,
            job: None,
        })
    }

    /// Writes a planned commit in one short transaction (SQL only: the
    /// caller's check ran before): every staged edit applied, serial and
    /// version bumped, the history written, touching only the staged rows.
    /// [`StoreError::Changed`] when the zone or its staged edits moved since
    /// the plan (plan and check again); `if_version` as in [`Store::commit`].
    pub async fn apply_commit(
        &self,
        plan: &CommitPlan,
        operator: Option<&str>,
        description: &str,
        if_version: Option<i64>,
        replacement: Option<&[NewRecord]>,
        now: Timestamp,
    ) -> Result<(i64, i64)> {
        let zone_id = plan.zone_id;
        let (_writer, mut tx) = self.begin_write().await?;
        let (serial, version) = lock_zone(&mut tx, zone_id).await?;
        if if_version.is_some_and(|v| v != version) {
            return Err(StoreError::Conflict(format!("zone is at version {version}")));
        }
        let staged_ttl: Option<i64> = sqlx::query("SELECT staged_default_ttl FROM zones WHERE id = $1")
            .bind(zone_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if (serial, version) != (plan.previous_serial, plan.version)
            || (replacement.is_none()
                && fingerprint(&staged_edits(&mut tx, zone_id).await?, staged_ttl) != plan.fingerprint)
        {
            return Err(StoreError::Changed);
        }
        let new_version = version + 1;
        if let Some(records) = replacement {
            sqlx::query("UPDATE record_versions SET to_version = $1 WHERE zone_id = $2 AND to_version IS NULL")
                .bind(new_version)
                .bind(zone_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM records WHERE zone_id = $1")
                .bind(zone_id)
                .execute(&mut *tx)
                .await?;
            insert_applied(&mut tx, zone_id, records, operator, now).await?;
            sqlx::query(
                "INSERT INTO record_versions (zone_id, record_id, name, rrtype, ttl, rdata, from_version) \
                 SELECT zone_id, id, name, rrtype, applied_ttl, applied_rdata, $1 FROM records WHERE zone_id = $2",
            )
            .bind(new_version)
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
        } else {
            // Close the versions that stop being served, open the new ones.
            // `pending IN (...)`, never `<> 0`: SQLite probes (zone_id,
            // pending) instead of walking the zone.
            sqlx::query(
                "UPDATE record_versions SET to_version = $1 WHERE to_version IS NULL AND record_id IN \
                 (SELECT id FROM records WHERE zone_id = $2 AND pending IN (2, 3))",
            )
            .bind(new_version)
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO record_versions (zone_id, record_id, name, rrtype, ttl, rdata, from_version) \
                 SELECT zone_id, id, name, rrtype, staged_ttl, staged_rdata, $1 FROM records WHERE zone_id = $2 AND pending IN (1, 3)",
            )
            .bind(new_version)
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("DELETE FROM records WHERE zone_id = $1 AND pending = 2")
                .bind(zone_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE records SET applied_ttl = staged_ttl, applied_rdata = staged_rdata, staged_ttl = NULL, staged_rdata = NULL, pending = 0 \
                 WHERE zone_id = $1 AND pending IN (1, 3)",
            )
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
        }
        // DPF zone state 2, published, from the first commit on.
        sqlx::query(
            "UPDATE zones SET serial = $1, version = $2, default_ttl = $3, staged_default_ttl = NULL, state = 2 WHERE id = $4",
        )
        .bind(plan.serial)
        .bind(new_version)
        .bind(plan.default_ttl)
        .bind(zone_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO zone_histories (zone_id, serial, committed_at, operator, description, text, version, default_ttl, \
             request_id) VALUES ($1, $2, $3, $4, $5, '', $6, $7, $8)",
        )
        .bind(zone_id)
        .bind(plan.serial)
        .bind(now.to_string())
        .bind(operator)
        .bind(description)
        .bind(new_version)
        .bind(plan.default_ttl)
        .bind(plan.job.as_deref())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((plan.serial, new_version))
    }

    /// Gives a zone the next serial and version with no record changed and
    /// no history entry: a signed zone whose signatures were made again
    /// (issue 8), so that secondaries transfer them (RFC 1996 NOTIFY, RFC
    /// 1995 IXFR) and the DNS nodes rebuild. `check` sees the new serial
    /// and the one before; when it fails nothing is written. Staged records
    /// stay staged.
    pub async fn bump_serial<T, F>(&self, zone_id: i64, check: F) -> Result<(i64, T)>
    where
        F: FnOnce(i64, i64) -> Result<T>,
    {
        let (_writer, mut tx) = self.begin_write().await?;
        let (serial, version) = lock_zone(&mut tx, zone_id).await?;
        // RFC 1982 serial arithmetic, as a commit.
        let new_serial = (serial + 1) % (1i64 << 32);
        let kept = check(new_serial, serial)?;
        sqlx::query("UPDATE zones SET serial = $1, version = $2 WHERE id = $3")
            .bind(new_serial)
            .bind(version + 1)
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((new_serial, kept))
    }
}

/// Serialises the changes of one zone: what the caller checks and bumps
/// after this happens under the row update (a write lock in both
/// backends). The zone's serial and version.
async fn lock_zone(tx: &mut sqlx::Transaction<'static, sqlx::Any>, zone_id: i64) -> Result<(i64, i64)> {
    crate::found(
        sqlx::query("UPDATE zones SET version = version WHERE id = $1")
            .bind(zone_id)
            .execute(&mut **tx)
            .await?
            .rows_affected(),
    )?;
    let row = sqlx::query("SELECT serial, version FROM zones WHERE id = $1")
        .bind(zone_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// One staged edit, as the plan saw it: what the fingerprint covers.
struct StagedEdit {
    id: i64,
    name: String,
    rrtype: String,
    pending: i64,
    staged_ttl: Option<i64>,
    staged_rdata: Option<String>,
}

/// The zone's staged edits in id order. `pending IN (1, 2, 3)`, never
/// `<> 0`, and no DISTINCT: either makes SQLite walk the zone's (zone_id,
/// name, rrtype) index instead of probing (zone_id, pending) three times.
async fn staged_edits(tx: &mut sqlx::Transaction<'_, sqlx::Any>, zone_id: i64) -> Result<Vec<StagedEdit>> {
    let rows = sqlx::query(
        "SELECT id, name, rrtype, pending, staged_ttl, staged_rdata FROM records WHERE zone_id = $1 AND pending IN (1, 2, 3) ORDER BY id",
    )
    .bind(zone_id)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StagedEdit {
                id: r.try_get(0)?,
                name: r.try_get(1)?,
                rrtype: r.try_get(2)?,
                pending: r.try_get(3)?,
                staged_ttl: r.try_get(4)?,
                staged_rdata: r.try_get(5)?,
            })
        })
        .collect()
}

/// A digest of the staged edits and the staged default TTL: equal when no
/// edit was staged, changed or discarded between a plan and its apply.
/// SipHash with fixed keys (`DefaultHasher::new`), so equal input gives an
/// equal digest within the process.
fn fingerprint(staged: &[StagedEdit], staged_ttl: Option<i64>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    staged_ttl.hash(&mut h);
    for e in staged {
        (e.id, &e.name, &e.rrtype, e.pending, e.staged_ttl, &e.staged_rdata).hash(&mut h);
    }
    h.finish()
}

/// Every record as it will be served after the commit: staged additions
/// and updates with their staged values, deletions gone.
fn after_commit(rows: &[AnyRow]) -> Result<Vec<RecordRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let r = raw(r)?;
        let values = match r.pending {
            2 => None,
            1 | 3 => r.staged.clone(),
            _ => r.applied.clone(),
        };
        out.extend(values.map(|v| r.row(RecordState::Applied, v)));
    }
    Ok(out)
}

/// A commit read and checked, not yet written ([`Store::plan_commit`]).
pub struct CommitPlan {
    zone_id: i64,
    /// The serial the commit gives the zone, and the one it had.
    pub serial: i64,
    pub previous_serial: i64,
    version: i64,
    /// The zone's `$TTL` after the commit.
    pub default_ttl: i64,
    fingerprint: u64,
    change: PlannedChange,
    /// The job the commit runs in, named in its history entry.
    job: Option<String>,
}

enum PlannedChange {
    Delta(Vec<(String, String, Vec<RecordRow>)>),
    Whole(Vec<RecordRow>),
}

impl CommitPlan {
    /// The commit runs in job `request_id`: its history entry says so, and
    /// a restart after a crash ends that job SUCCESSFUL
    /// (`Store::fail_unfinished_jobs`).
    pub fn in_job(&mut self, request_id: &str) {
        self.job = Some(request_id.to_string());
    }

    /// What the caller's check sees.
    pub fn input(&self) -> CommitInput<'_> {
        CommitInput {
            serial: self.serial,
            previous_serial: self.previous_serial,
            default_ttl: self.default_ttl,
            change: match &self.change {
                PlannedChange::Delta(sets) => CommitChange::Delta(sets),
                PlannedChange::Whole(records) => CommitChange::Whole(records),
            },
        }
    }
}

/// What a commit changes, for the caller's check.
pub struct CommitInput<'a> {
    /// The serial the commit gives the zone, and the one it had.
    pub serial: i64,
    pub previous_serial: i64,
    /// The zone's `$TTL` after the commit.
    pub default_ttl: i64,
    pub change: CommitChange<'a>,
}

pub enum CommitChange<'a> {
    /// Only these RRsets change: each `(name, rrtype)` with every record it
    /// has after the commit (none: it is gone).
    Delta(&'a [(String, String, Vec<RecordRow>)]),
    /// Every applied record (a replacement, a new default TTL, or a caller
    /// that asked for it).
    Whole(&'a [RecordRow]),
}

/// Inserts a record: staged as "to add", or (`applied`, a replacement)
/// already applied. Returns its public id.
async fn insert_record(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    zone_id: i64,
    r: &NewRecord,
    applied: bool,
    operator: Option<&str>,
    now: Timestamp,
) -> Result<String> {
    let public_id = new_system_id('r');
    let (columns, pending) = if applied {
        ("applied_ttl, applied_rdata", 0i64)
    } else {
        ("staged_ttl, staged_rdata", 1i64)
    };
    sqlx::query(&format!(
        "INSERT INTO records (public_id, zone_id, name, rrtype, {columns}, pending, description, operator, updated_at, labels) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
    ))
    .bind(&public_id)
    .bind(zone_id)
    .bind(&r.name)
    .bind(&r.rrtype)
    .bind(r.ttl)
    .bind(rdata_json(&r.rdata))
    .bind(pending)
    .bind(&r.description)
    .bind(operator)
    .bind(now.to_string())
    .bind(labels_json(&r.labels))
    .execute(&mut **tx)
    .await
    .map_err(|e| crate::on_unique(e, "records"))?;
    Ok(public_id)
}

/// Inserts a replacement's records, already applied, many rows per
/// statement: one statement per row made a 100,000-record commit hold the
/// write lock for seconds (issue 16), most of it per-statement overhead.
async fn insert_applied(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    zone_id: i64,
    records: &[NewRecord],
    operator: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    const COLUMNS: usize = 10;
    // Few rows a statement: sqlx binds each SQLite parameter after looking
    // its `$N` name up, and SQLite finds a name by walking the statement's
    // list, so a statement's binding costs the square of its parameters.
    // 500 rows (5,000 parameters) spent 80% of a 100,000-record commit
    // there (perf); 16 rows cut the statements sixteenfold at almost no
    // binding cost.
    const ROWS: usize = 16;
    let stamp = now.to_string();
    // One statement text per chunk length (all chunks but the last share
    // one): the columns, then `pending` 0 (applied) written inline.
    let statement = |rows: usize| {
        let values: Vec<String> = (0..rows)
            .map(|i| {
                let b = i * COLUMNS;
                format!(
                    "({}, 0, {})",
                    crate::placeholders(b + 1, 6),
                    crate::placeholders(b + 7, 4)
                )
            })
            .collect();
        format!(
            "INSERT INTO records (public_id, zone_id, name, rrtype, applied_ttl, applied_rdata, pending, description, operator, updated_at, labels) VALUES {}",
            values.join(",")
        )
    };
    let full = statement(ROWS);
    for chunk in records.chunks(ROWS) {
        let last;
        let sql = if chunk.len() == ROWS {
            &full
        } else {
            last = statement(chunk.len());
            &last
        };
        let mut q = sqlx::query(sql);
        for r in chunk {
            q = q
                .bind(new_system_id('r'))
                .bind(zone_id)
                .bind(&r.name)
                .bind(&r.rrtype)
                .bind(r.ttl)
                .bind(rdata_json(&r.rdata))
                .bind(&r.description)
                .bind(operator)
                .bind(&stamp)
                .bind(labels_json(&r.labels));
        }
        q.execute(&mut **tx).await.map_err(|e| crate::on_unique(e, "records"))?;
    }
    Ok(())
}

/// The rows of each `(name, rrtype)` as they will be after the commit.
async fn rrsets_after(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    zone_id: i64,
    keys: &[(String, String)],
) -> Result<Vec<(String, String, Vec<RecordRow>)>> {
    let mut names: Vec<&str> = keys.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut rows = Vec::new();
    for chunk in names.chunks(crate::IN_LIST_CHUNK) {
        let sql = format!(
            "SELECT {COLUMNS} FROM records WHERE zone_id = $1 AND name IN ({}) ORDER BY name, rrtype, id",
            crate::placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(zone_id);
        for n in chunk {
            q = q.bind(*n);
        }
        rows.extend(after_commit(&q.fetch_all(&mut **tx).await?)?);
    }
    let mut by_key: std::collections::HashMap<(String, String), Vec<RecordRow>> = Default::default();
    for r in rows {
        by_key.entry((r.name.clone(), r.rrtype.clone())).or_default().push(r);
    }
    Ok(keys
        .iter()
        .map(|k| (k.0.clone(), k.1.clone(), by_key.remove(k).unwrap_or_default()))
        .collect())
}

#[cfg(test)]
mod tests {
    use crate::testing::{stores, t};
    use crate::*;

    fn add(name: &str, rrtype: &str, rdata: &[&str]) -> StagedChange {
        StagedChange::Add {
            name: name.into(),
            rrtype: rrtype.into(),
            ttl: Some(300),
            rdata: rdata.iter().map(|s| s.to_string()).collect(),
            description: String::new(),
            labels: Default::default(),
        }
    }

    fn summary(input: &CommitInput<'_>) -> String {
        match input.change {
            CommitChange::Delta(sets) => {
                let mut sets: Vec<String> = sets
                    .iter()
                    .map(|(name, rrtype, rows)| format!("{name}/{rrtype}={}", rows.len()))
                    .collect();
                sets.sort();
                format!("{} delta {}", input.serial, sets.join(" "))
            }
            CommitChange::Whole(rows) => format!("{} whole {}", input.serial, rows.len()),
        }
    }

    async fn history(store: &Store, zone_id: i64, id: i64) -> String {
        match store.zone_history_text(zone_id, id).await.unwrap() {
            HistoryText::Records { serial, records, .. } => {
                let mut out = serial.to_string();
                for r in records {
                    out += &format!(" {}={}", r.rrtype, r.rdata.join(","));
                }
                out
            }
            HistoryText::Text(t) => t,
        }
    }

    #[tokio::test]
    async fn a_staged_replacement_is_the_smallest_set_of_edits() {
        for (store, _dir) in stores().await {
            let (_, _, z) = crate::testing::account_contract_zone(&store, "a", "example.com").await;
            let now = t("2026-11-24T01:00:00Z");
            store
                .stage(
                    z.id,
                    &[
                        add("www.example.com.", "A", &["192.0.2.1"]),
                        add("example.com.", "MX", &["10 mail.example.com."]),
                        add("old.example.com.", "TXT", &["\"x\""]),
                    ],
                    None,
                    now,
                )
                .await
                .unwrap();
            store
                .commit(z.id, None, "", None, None, now, |_| Ok(Some(())))
                .await
                .unwrap();
            // A staged edit from before is dropped by the replacement.
            store
                .stage(z.id, &[add("tmp.example.com.", "A", &["192.0.2.9"])], None, now)
                .await
                .unwrap();
            let new = |name: &str, rrtype: &str, ttl: Option<i64>, v: &str| NewRecord {
                name: name.into(),
                rrtype: rrtype.into(),
                ttl,
                rdata: vec![v.into()],
                description: String::new(),
                labels: Default::default(),
            };
            let set = [
                new("www.example.com.", "A", Some(300), "192.0.2.1"),
                new("example.com.", "MX", Some(300), "20 mail.example.com."),
                new("api.example.com.", "AAAA", None, "2001:db8::1"),
            ];
            store.stage_replacement(z.id, &set, Some("bob"), now).await.unwrap();
            let mut states: Vec<(String, RecordState)> = store
                .list_records(z.id, false)
                .await
                .unwrap()
                .into_iter()
                .map(|r| (r.name, r.state))
                .collect();
            states.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(
                states,
                vec![
                    ("api.example.com.".into(), RecordState::ToAdd),
                    ("example.com.".into(), RecordState::ToUpdate),
                    ("old.example.com.".into(), RecordState::ToDelete),
                    ("www.example.com.".into(), RecordState::Applied),
                ]
            );
            // A repeated (name, rrtype) is refused and nothing is written.
            let twice = [set[0].clone(), set[0].clone()];
            assert!(matches!(
                store.stage_replacement(z.id, &twice, None, now).await,
                Err(StoreError::Duplicate { .. })
            ));
            assert_eq!(store.record_diffs(z.id).await.unwrap().len(), 3);
        }
    }

    #[tokio::test]
    async fn an_edit_staged_between_plan_and_apply_makes_the_apply_refuse() {
        for (store, _dir) in stores().await {
            let (_, _, z) = crate::testing::account_contract_zone(&store, "a", "example.com").await;
            let now = t("2026-11-24T01:00:00Z");
            store
                .stage(z.id, &[add("www.example.com.", "A", &["192.0.2.1"])], None, now)
                .await
                .unwrap();
            let plan = store.plan_commit(z.id, None, false).await.unwrap();
            let first = plan.serial;
            assert_eq!(summary(&plan.input()), format!("{first} delta www.example.com./A=1"));
            // Nothing is written by a plan.
            assert!(store.list_records(z.id, true).await.unwrap().is_empty());
            store
                .stage(z.id, &[add("ftp.example.com.", "A", &["192.0.2.2"])], None, now)
                .await
                .unwrap();
            let r = store.apply_commit(&plan, None, "", None, None, now).await;
            assert!(matches!(r, Err(StoreError::Changed)), "{r:?}");
            assert!(store.list_records(z.id, true).await.unwrap().is_empty());
            // Planned again, it applies both edits.
            let plan = store.plan_commit(z.id, None, false).await.unwrap();
            assert_eq!(
                summary(&plan.input()),
                format!("{first} delta ftp.example.com./A=1 www.example.com./A=1")
            );
            assert_eq!(
                store.apply_commit(&plan, None, "", None, None, now).await.unwrap().0,
                first
            );
            assert_eq!(store.list_records(z.id, true).await.unwrap().len(), 2);
            // A plan made before another commit is refused too.
            let stale = store.plan_commit(z.id, None, true).await.unwrap();
            store
                .stage(z.id, &[add("mail.example.com.", "A", &["192.0.2.3"])], None, now)
                .await
                .unwrap();
            let plan = store.plan_commit(z.id, None, false).await.unwrap();
            store.apply_commit(&plan, None, "", None, None, now).await.unwrap();
            let r = store.apply_commit(&stale, None, "", None, None, now).await;
            assert!(matches!(r, Err(StoreError::Changed)), "{r:?}");
        }
    }

    #[tokio::test]
    async fn staged_edits_reach_the_applied_view_only_on_commit() {
        for (store, _dir) in stores().await {
            let (_, _, z) = crate::testing::account_contract_zone(&store, "a", "example.com").await;
            let ids = store
                .stage(
                    z.id,
                    &[
                        add("www.example.com.", "A", &["192.0.2.1"]),
                        add("example.com.", "MX", &["10 mail.example.com."]),
                    ],
                    Some("alice"),
                    t("2026-11-24T01:00:00Z"),
                )
                .await
                .unwrap();
            let staged = store.list_records(z.id, false).await.unwrap();
            assert_eq!(
                staged.iter().map(|r| r.state).collect::<Vec<_>>(),
                vec![RecordState::ToAdd; 2]
            );
            assert!(store.list_records(z.id, true).await.unwrap().is_empty());
            // A duplicate (name, rrtype) is refused and nothing of the batch is written.
            let r = store
                .stage(
                    z.id,
                    &[
                        add("ftp.example.com.", "A", &["192.0.2.9"]),
                        add("www.example.com.", "A", &["192.0.2.2"]),
                    ],
                    None,
                    t("2026-11-24T01:00:00Z"),
                )
                .await;
            assert!(matches!(r, Err(StoreError::Duplicate { .. })));
            assert_eq!(store.list_records(z.id, false).await.unwrap().len(), 2);

            let (serial, version, seen) = store
                .commit(
                    z.id,
                    Some("alice"),
                    "first",
                    None,
                    None,
                    t("2026-11-24T02:00:00Z"),
                    |input| Ok(Some(summary(&input))),
                )
                .await
                .unwrap();
            assert_eq!((serial, version), (2026112401, 1));
            // Only what changed is handed to the check, with its rows after.
            assert_eq!(seen, "2026112401 delta example.com./MX=1 www.example.com./A=1");
            assert_eq!(store.list_records(z.id, true).await.unwrap().len(), 2);
            let h = store.zone_histories(z.id).await.unwrap();
            assert_eq!(
                (h.len(), h[0].operator.as_deref(), h[0].description.as_str()),
                (1, Some("alice"), "first")
            );
            assert_eq!(
                history(&store, z.id, h[0].id).await,
                "2026112401 MX=10 mail.example.com. A=192.0.2.1"
            );

            // Update and delete are staged, shown as diffs, and discardable.
            store
                .stage(
                    z.id,
                    &[StagedChange::Update {
                        public_id: ids[0].clone(),
                        ttl: Some(60),
                        rdata: vec!["192.0.2.7".into()],
                        description: None,
                        labels: Some([("env".to_string(), "prod".to_string())].into()),
                    }],
                    None,
                    t("2026-11-24T03:00:00Z"),
                )
                .await
                .unwrap();
            store
                .stage(
                    z.id,
                    &[StagedChange::Delete {
                        public_id: ids[1].clone(),
                    }],
                    None,
                    t("2026-11-24T03:00:00Z"),
                )
                .await
                .unwrap();
            let diffs: Vec<(RecordState, RecordState)> = store
                .record_diffs(z.id)
                .await
                .unwrap()
                .iter()
                .map(|(new, old)| (new.state, old.state))
                .collect();
            assert_eq!(
                diffs,
                vec![
                    (RecordState::ToDelete, RecordState::BeforeUpdate),
                    (RecordState::ToUpdate, RecordState::BeforeUpdate)
                ]
            );
            store.discard(z.id, Some(&ids[1])).await.unwrap();
            assert_eq!(store.record_diffs(z.id).await.unwrap().len(), 1);

            // If-Match: a commit that expected version 0 fails; nothing applied.
            assert!(matches!(
                store
                    .commit(z.id, None, "", Some(0), None, t("2026-11-24T04:00:00Z"), |_| Ok(Some(
                        ()
                    )))
                    .await,
                Err(StoreError::Conflict(_))
            ));
            // A render error aborts the commit whole.
            assert!(store
                .commit(z.id, None, "", None, None, t("2026-11-24T04:00:00Z"), |_| invalid::<
                    Option<()>,
                >(
                    "rdata", "bad"
                ))
                .await
                .is_err());
            assert_eq!(
                store.list_records(z.id, true).await.unwrap()[1].rdata,
                vec!["192.0.2.1"]
            );
            // A check may ask for every record instead of the change.
            let (_, v, seen) = store
                .commit(z.id, None, "", Some(1), None, t("2026-11-24T04:00:00Z"), |input| {
                    Ok(matches!(input.change, CommitChange::Whole(_)).then(|| summary(&input)))
                })
                .await
                .unwrap();
            assert_eq!(v, 2);
            assert_eq!(seen, "2026112402 whole 2");
            // Each history entry is the zone as that commit left it.
            let h = store.zone_histories(z.id).await.unwrap();
            assert_eq!(
                history(&store, z.id, h[0].id).await,
                "2026112401 MX=10 mail.example.com. A=192.0.2.1"
            );
            assert_eq!(
                history(&store, z.id, h[1].id).await,
                "2026112402 MX=10 mail.example.com. A=192.0.2.7"
            );
            let applied = store.list_records(z.id, true).await.unwrap();
            assert_eq!(
                applied.iter().find(|r| r.rrtype == "A").unwrap().rdata,
                vec!["192.0.2.7"]
            );
            // SQL paging agrees with the full list, in the same order.
            store
                .stage(
                    z.id,
                    &[add("a.example.com.", "TXT", &["\"x\""])],
                    None,
                    t("2026-11-24T05:00:00Z"),
                )
                .await
                .unwrap();
            let all = store.list_records(z.id, false).await.unwrap();
            // A serial bump: the next serial and version, no history, no
            // record touched; a failing check writes nothing.
            let failed = store
                .bump_serial(z.id, |_, _| -> Result<()> { Err(StoreError::Conflict("no".into())) })
                .await;
            assert!(failed.is_err());
            let (bumped, seen) = store.bump_serial(z.id, |new, old| Ok((new, old))).await.unwrap();
            assert_eq!((bumped, seen), (2026112403, (2026112403, 2026112402)));
            let zr = store.get_zone(z.id).await.unwrap();
            assert_eq!((zr.serial, zr.version), (2026112403, 3));
            assert_eq!(store.zone_histories(z.id).await.unwrap().len(), 2);
            assert_eq!(store.list_records(z.id, true).await.unwrap().len(), 2);
            assert_eq!(
                store.list_records(z.id, false).await.unwrap().len(),
                3,
                "the staged TXT stays staged"
            );
            let none = RecordFilter::default();
            let page: Vec<RecordRow> = store.list_records_page(z.id, false, &none, 1, 2).await.unwrap();
            assert_eq!(page, all[1..3].to_vec());
            assert_eq!(store.count_records(z.id, false, &none).await.unwrap(), 3);
            assert_eq!(
                store.count_records(z.id, true, &none).await.unwrap(),
                2,
                "the staged TXT is not applied"
            );
            assert_eq!(
                store.list_records_page(z.id, true, &none, 0, 100).await.unwrap(),
                store.list_records(z.id, true).await.unwrap()
            );
            // Keyword filters in SQL, on the staged view: the update to
            // 192.0.2.7 is applied, the TXT staged.
            let names = |f: RecordFilter, applied: bool| {
                let store = &store;
                async move {
                    let rows = store.list_records_page(z.id, applied, &f, 0, 100).await.unwrap();
                    let n = store.count_records(z.id, applied, &f).await.unwrap();
                    assert_eq!(n as usize, rows.len());
                    rows.into_iter().map(|r| r.name).collect::<Vec<_>>()
                }
            };
            let f = |any: bool, terms: &[(RecordField, &[&str])]| RecordFilter {
                any,
                terms: terms
                    .iter()
                    .map(|(f, v)| (*f, v.iter().map(|s| s.to_string()).collect()))
                    .collect(),
            };
            use RecordField::*;
            assert_eq!(names(f(false, &[(Name, &["WWW"])]), false).await, ["www.example.com."]);
            assert_eq!(
                names(f(false, &[(Rdata, &["0.2.7"])]), false).await,
                ["www.example.com."]
            );
            assert_eq!(names(f(false, &[(Ttl, &["60"])]), false).await, ["www.example.com."]);
            assert_eq!(names(f(false, &[(Rrtype, &["txt", "mx"])]), false).await.len(), 2);
            assert_eq!(
                names(f(false, &[(Rrtype, &["txt"])]), true).await.len(),
                0,
                "staged, not applied"
            );
            assert_eq!(
                names(f(false, &[(Name, &["a."]), (Rrtype, &["A"])]), false).await.len(),
                0
            );
            assert_eq!(
                names(f(true, &[(Name, &["a."]), (Rrtype, &["A"])]), false).await.len(),
                2
            );
            assert_eq!(names(f(false, &[(FullText, &["mail"])]), false).await, ["example.com."]);
            // Labels given with the update are kept on the record, unstaged.
            // DPF "Key=Value": the key with that value, or the key alone.
            assert_eq!(
                names(f(false, &[(Label, &["ENV=Prod"])]), true).await,
                ["www.example.com."]
            );
            assert_eq!(names(f(false, &[(Label, &["env"])]), true).await, ["www.example.com."]);
            assert!(
                names(f(false, &[(Label, &["env=pro"])]), true).await.is_empty(),
                "the whole value"
            );
            assert!(
                names(f(false, &[(Label, &["prod"])]), true).await.is_empty(),
                "a value is not a key"
            );
            assert!(
                names(f(false, &[(Label, &["nv=prod"])]), true).await.is_empty(),
                "the whole key"
            );
            // LIKE's wildcards are literal in a keyword.
            assert_eq!(names(f(false, &[(Name, &["%"])]), false).await.len(), 0);
            assert_eq!(names(f(false, &[(Name, &["_"])]), false).await.len(), 0);
        }
    }
}
