//! The provider's books (issue 7): availability probe results (R6.2),
//! operator exclusions (R6.3), price table versions (App. 2), billing
//! settings, invoices per contract per month with the month's closing, and
//! credit claims with their decisions (R8.2). The arithmetic is
//! `platdns-billing`'s; this file keeps its inputs and outputs, and reads a
//! contract as billing sees it ([`Store::billing_contract`]).
//!
//! Closing a month freezes its invoices: a closed month's rows are never
//! written again, so a later price version cannot change them.

use crate::{found, invalid, new_system_id, ts, Result, Store, StoreError};
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use platdns_billing::{
    BillingMonth, BillingSettings, ChangeKind, ChangeRequest, ClaimDecision, Exclusion, ExclusionReason, Invoice,
    Origin, ParentContract, PlanPeriod, PriceBook, PriceTable, ProbeSample, Service, ServiceCredit, ServiceKind,
};
use platdns_contract::Plan;
use sqlx::any::AnyRow;
use sqlx::Row;

/// One probe of one name server from one probe point in one slot (R6.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRow {
    pub server: String,
    pub probe_point: String,
    /// The slot's first second (unix seconds).
    pub slot_start: i64,
    pub probed_at: Timestamp,
    pub udp_ok: bool,
    pub tcp_ok: bool,
    /// Zones asked for (their SOA).
    pub zones: u32,
    /// Why it failed ("" when it did not).
    pub detail: String,
}

impl ProbeRow {
    /// The server answered every query over UDP and over TCP.
    pub fn ok(&self) -> bool {
        self.udp_ok && self.tcp_ok
    }
}

/// An exclusion as recorded (R6.3): who, why, and when it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredExclusion {
    pub id: i64,
    pub exclusion: Exclusion,
    pub recorded_at: Timestamp,
}

/// A price table version as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPrices {
    pub table: PriceTable,
    pub author: String,
    pub created_at: Timestamp,
}

/// An invoice as stored: frozen once `closed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    pub contract_id: i64,
    pub invoice: Invoice,
    pub computed_at: Timestamp,
    pub closed: bool,
}

/// A credit claim (R8.2) and, once decided, its decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredClaim {
    pub id: i64,
    pub public_id: String,
    pub contract_id: i64,
    pub service: String,
    pub breach_month: BillingMonth,
    pub received_at: Timestamp,
    pub filed_by: String,
    pub recorded_at: Timestamp,
    pub decision: Option<ClaimDecision>,
    pub decided_at: Option<Timestamp>,
    /// The month whose invoice carries the credit.
    pub credited_month: Option<BillingMonth>,
}

impl StoredClaim {
    pub fn claim(&self) -> platdns_billing::Claim {
        platdns_billing::Claim {
            id: self.public_id.clone(),
            service: self.service.clone(),
            breach_month: self.breach_month,
            received_at: self.received_at,
        }
    }
}

/// Whose billing start or origin a [`Store::set_billing_origin`] row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillingObject {
    Contract(i64),
    Zone(i64),
    LbDomain(i64),
}

impl BillingObject {
    fn key(self) -> (&'static str, i64) {
        match self {
            BillingObject::Contract(id) => ("contract", id),
            BillingObject::Zone(id) => ("zone", id),
            BillingObject::LbDomain(id) => ("lb_domain", id),
        }
    }
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Conflict(format!("bad {what} in the store: {e}"))
}

fn json<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| corrupt(what, e))
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("billing types serialize")
}

fn reason_str(r: ExclusionReason) -> String {
    to_json(&r).trim_matches('"').to_string()
}

fn exclusion_from_row(row: &AnyRow) -> Result<StoredExclusion> {
    let sec = |i: usize| -> Result<Timestamp> {
        Timestamp::from_second(row.try_get::<i64, _>(i)?).map_err(|e| corrupt("exclusion time", e))
    };
    let reason: String = row.try_get(3)?;
    Ok(StoredExclusion {
        id: row.try_get(0)?,
        exclusion: Exclusion {
            from: sec(1)?,
            until: sec(2)?,
            reason: json("exclusion reason", &format!("\"{reason}\""))?,
            note: row.try_get(4)?,
            author: row.try_get(5)?,
        },
        recorded_at: ts(row, 6)?,
    })
}

const CLAIM_COLUMNS: &str = "id, public_id, contract_id, service, breach_month, received_at, filed_by, recorded_at, \
                             decision, decided_at, credited_month";

fn claim_from_row(row: &AnyRow) -> Result<StoredClaim> {
    let month = |s: String| -> Result<BillingMonth> { s.parse().map_err(|e| corrupt("month", e)) };
    let decision: Option<String> = row.try_get(8)?;
    let decided_at: Option<String> = row.try_get(9)?;
    let credited: Option<String> = row.try_get(10)?;
    Ok(StoredClaim {
        id: row.try_get(0)?,
        public_id: row.try_get(1)?,
        contract_id: row.try_get(2)?,
        service: row.try_get(3)?,
        breach_month: month(row.try_get(4)?)?,
        received_at: Timestamp::from_second(row.try_get::<i64, _>(5)?).map_err(|e| corrupt("claim time", e))?,
        filed_by: row.try_get(6)?,
        recorded_at: ts(row, 7)?,
        decision: decision.map(|d| json("claim decision", &d)).transpose()?,
        decided_at: decided_at
            .map(|s| s.parse().map_err(|e| corrupt("decision time", e)))
            .transpose()?,
        credited_month: credited.map(month).transpose()?,
    })
}

fn invoice_from_row(row: &AnyRow) -> Result<StoredInvoice> {
    let body: String = row.try_get(1)?;
    let closed: i64 = row.try_get(3)?;
    Ok(StoredInvoice {
        contract_id: row.try_get(0)?,
        invoice: json("invoice", &body)?,
        computed_at: ts(row, 2)?,
        closed: closed != 0,
    })
}

/// The state a change request of kind `plan` or `extra_qps` left behind,
/// undone: the plan and extra QPS before it, from its recorded detail
/// (`"premium -> basic, extra QPS 200 dropped"`, `"0 -> 200"`).
fn undo_change(kind: &str, detail: &str, after: (Plan, u32)) -> Result<(Plan, u32)> {
    let bad = || corrupt("change request detail", detail);
    match kind {
        "plan" => {
            let (before, rest) = detail.split_once(" -> ").ok_or_else(bad)?;
            let plan = match before.trim() {
                "basic" => Plan::Basic,
                "premium" => Plan::Premium,
                _ => return Err(bad()),
            };
            let extra = match rest.split_once(", extra QPS ") {
                Some((_, d)) => d.trim_end_matches(" dropped").trim().parse().map_err(|_| bad())?,
                None => after.1,
            };
            Ok((plan, extra))
        }
        "extra_qps" => {
            let (before, _) = detail.split_once(" -> ").ok_or_else(bad)?;
            Ok((after.0, before.trim().parse().map_err(|_| bad())?))
        }
        _ => Ok(after),
    }
}

impl Store {
    // ---- availability probes (R6.2) ----

    /// Records one probe; a second probe in the same slot replaces the first.
    pub async fn record_probe(&self, p: &ProbeRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO availability_probes (server, probe_point, slot_start, probed_at, ok, udp_ok, tcp_ok, zones, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (server, probe_point, slot_start) DO UPDATE SET probed_at = excluded.probed_at, \
             ok = excluded.ok, udp_ok = excluded.udp_ok, tcp_ok = excluded.tcp_ok, zones = excluded.zones, \
             detail = excluded.detail",
        )
        .bind(&p.server)
        .bind(&p.probe_point)
        .bind(p.slot_start)
        .bind(p.probed_at.as_second())
        .bind(i64::from(p.ok()))
        .bind(i64::from(p.udp_ok))
        .bind(i64::from(p.tcp_ok))
        .bind(i64::from(p.zones))
        .bind(&p.detail)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Probe rows whose slot starts in `[from, until)`, oldest first.
    pub async fn probes(&self, from: Timestamp, until: Timestamp) -> Result<Vec<ProbeRow>> {
        let rows = sqlx::query(
            "SELECT server, probe_point, slot_start, probed_at, udp_ok, tcp_ok, zones, detail FROM availability_probes \
             WHERE slot_start >= $1 AND slot_start < $2 ORDER BY slot_start, server, probe_point",
        )
        .bind(from.as_second())
        .bind(until.as_second())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ProbeRow {
                    server: r.try_get(0)?,
                    probe_point: r.try_get(1)?,
                    slot_start: r.try_get(2)?,
                    probed_at: Timestamp::from_second(r.try_get::<i64, _>(3)?).map_err(|e| corrupt("probe time", e))?,
                    udp_ok: r.try_get::<i64, _>(4)? != 0,
                    tcp_ok: r.try_get::<i64, _>(5)? != 0,
                    zones: r.try_get::<i64, _>(6)? as u32,
                    detail: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// The samples `platdns_billing::monthly_availability` reads, for
    /// `[from, until)`: each at its slot's start.
    pub async fn probe_samples(&self, from: Timestamp, until: Timestamp) -> Result<Vec<ProbeSample>> {
        Ok(self
            .probes(from, until)
            .await?
            .into_iter()
            .map(|p| ProbeSample {
                ok: p.ok(),
                at: Timestamp::from_second(p.slot_start).unwrap_or(p.probed_at),
                server: p.server,
                probe_point: p.probe_point,
            })
            .collect())
    }

    // ---- exclusions (R6.3) ----

    fn check_exclusion(e: &Exclusion) -> Result<()> {
        if e.until <= e.from {
            return invalid("until", "must be after from");
        }
        if e.author.trim().is_empty() {
            return invalid("author", "an exclusion records who decided it");
        }
        if e.note.chars().count() > 1000 {
            return invalid("note", "at most 1000 characters");
        }
        Ok(())
    }

    pub async fn create_exclusion(&self, e: &Exclusion, now: Timestamp) -> Result<StoredExclusion> {
        Self::check_exclusion(e)?;
        let row = sqlx::query(
            "INSERT INTO availability_exclusions (starts_at, ends_at, reason, note, author, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, starts_at, ends_at, reason, note, author, recorded_at",
        )
        .bind(e.from.as_second())
        .bind(e.until.as_second())
        .bind(reason_str(e.reason))
        .bind(&e.note)
        .bind(&e.author)
        .bind(now.to_string())
        .fetch_one(self.pool())
        .await?;
        exclusion_from_row(&row)
    }

    /// Replaces an exclusion's period, reason and note; `author` and the
    /// time are those of this change.
    pub async fn update_exclusion(&self, id: i64, e: &Exclusion, now: Timestamp) -> Result<StoredExclusion> {
        Self::check_exclusion(e)?;
        found(
            sqlx::query(
                "UPDATE availability_exclusions SET starts_at = $1, ends_at = $2, reason = $3, note = $4, author = $5, \
                 recorded_at = $6 WHERE id = $7",
            )
            .bind(e.from.as_second())
            .bind(e.until.as_second())
            .bind(reason_str(e.reason))
            .bind(&e.note)
            .bind(&e.author)
            .bind(now.to_string())
            .bind(id)
            .execute(self.pool())
            .await?
            .rows_affected(),
        )?;
        self.get_exclusion(id).await
    }

    pub async fn get_exclusion(&self, id: i64) -> Result<StoredExclusion> {
        let row = sqlx::query(
            "SELECT id, starts_at, ends_at, reason, note, author, recorded_at FROM availability_exclusions WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        exclusion_from_row(&row)
    }

    pub async fn delete_exclusion(&self, id: i64) -> Result<()> {
        found(
            sqlx::query("DELETE FROM availability_exclusions WHERE id = $1")
                .bind(id)
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Exclusions overlapping `[from, until)`, by start.
    pub async fn exclusions(&self, from: Timestamp, until: Timestamp) -> Result<Vec<StoredExclusion>> {
        let rows = sqlx::query(
            "SELECT id, starts_at, ends_at, reason, note, author, recorded_at FROM availability_exclusions \
             WHERE ends_at > $1 AND starts_at < $2 ORDER BY starts_at, id",
        )
        .bind(from.as_second())
        .bind(until.as_second())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(exclusion_from_row).collect()
    }

    // ---- prices and settings ----

    /// Adds a price table version. The whole book is checked with it (no
    /// negative amount, distinct names and days); nothing is written if it
    /// fails.
    pub async fn add_price_version(&self, table: &PriceTable, author: &str, now: Timestamp) -> Result<StoredPrices> {
        let (_writer, mut tx) = self.begin_write().await?;
        let rows = sqlx::query("SELECT body FROM price_versions")
            .fetch_all(&mut *tx)
            .await?;
        let mut versions: Vec<PriceTable> = rows
            .iter()
            .map(|r| json("price table", &r.try_get::<String, _>(0)?))
            .collect::<Result<_>>()?;
        versions.push(table.clone());
        if let Err(e) = PriceBook::new(versions) {
            let attribute = match e {
                platdns_billing::BillingError::DuplicatePriceDay(_) => "effective_from",
                platdns_billing::BillingError::DuplicatePriceVersion(_) => "version",
                platdns_billing::BillingError::ZeroExtraQpsUnit(_) => "extra_qps_unit",
                _ => "prices",
            };
            return invalid(attribute, e.to_string());
        }
        sqlx::query(
            "INSERT INTO price_versions (version, effective_from, body, author, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&table.version)
        .bind(table.effective_from.to_string())
        .bind(to_json(table))
        .bind(author)
        .bind(now.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| crate::on_unique(e, "version"))?;
        tx.commit().await?;
        Ok(StoredPrices {
            table: table.clone(),
            author: author.to_string(),
            created_at: now,
        })
    }

    /// Every price version, by effective day.
    pub async fn price_versions(&self) -> Result<Vec<StoredPrices>> {
        let rows = sqlx::query("SELECT body, author, created_at FROM price_versions ORDER BY effective_from")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredPrices {
                    table: json("price table", &r.try_get::<String, _>(0)?)?,
                    author: r.try_get(1)?,
                    created_at: ts(r, 2)?,
                })
            })
            .collect()
    }

    pub async fn price_book(&self) -> Result<PriceBook> {
        let versions = self.price_versions().await?.into_iter().map(|p| p.table).collect();
        PriceBook::new(versions).map_err(|e| corrupt("price book", e))
    }

    /// The operator's billing settings (the terms' figures until set).
    pub async fn billing_settings(&self) -> Result<BillingSettings> {
        let body: Option<String> = sqlx::query_scalar("SELECT body FROM billing_settings WHERE id = 1")
            .fetch_optional(self.pool())
            .await?;
        body.map_or(Ok(BillingSettings::default()), |b| json("billing settings", &b))
    }

    pub async fn set_billing_settings(&self, s: &BillingSettings, author: &str, now: Timestamp) -> Result<()> {
        if s.probe_interval_seconds == 0 {
            return invalid("probe_interval_seconds", "must be at least 1");
        }
        if !(1..=28).contains(&s.claim_deadline_day) {
            return invalid("claim_deadline_day", "a day of the month, 1 to 28");
        }
        if s.notice_days < 0 {
            return invalid("notice_days", "must not be negative");
        }
        if let Some(b) = s
            .credit_bands
            .iter()
            .find(|b| !b.rate.is_at_most_one() || b.rate.den == 0)
        {
            return invalid(
                "credit_bands",
                format!("rate {} is not a fraction of at most 1", b.rate),
            );
        }
        if let Some(b) = s.credit_bands.iter().find(|b| b.min_ppm > 1_000_000) {
            return invalid("credit_bands", format!("min_ppm {} is above 1000000", b.min_ppm));
        }
        sqlx::query(
            "INSERT INTO billing_settings (id, body, author, updated_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, author = excluded.author, updated_at = excluded.updated_at",
        )
        .bind(to_json(s))
        .bind(author)
        .bind(now.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    // ---- what billing reads of a contract ----

    /// Sets an object's billing start date (課金開始日) and, for a migrated
    /// one, the legacy contract it came from (R9.1).
    pub async fn set_billing_origin(
        &self,
        object: BillingObject,
        billing_start: Option<Date>,
        legacy_id: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let (kind, id) = object.key();
        sqlx::query(
            "INSERT INTO billing_origins (kind, object_id, billing_start, legacy_id, recorded_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (kind, object_id) DO UPDATE SET billing_start = excluded.billing_start, \
             legacy_id = COALESCE(excluded.legacy_id, billing_origins.legacy_id), recorded_at = excluded.recorded_at",
        )
        .bind(kind)
        .bind(id)
        .bind(billing_start.map(|d| d.to_string()))
        .bind(legacy_id)
        .bind(now.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn billing_origin(&self, object: BillingObject) -> Result<(Option<Date>, Option<String>)> {
        let (kind, id) = object.key();
        let row =
            sqlx::query("SELECT billing_start, legacy_id FROM billing_origins WHERE kind = $1 AND object_id = $2")
                .bind(kind)
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok((None, None)) };
        let start: Option<String> = row.try_get(0)?;
        Ok((
            start
                .map(|s| s.parse().map_err(|e| corrupt("billing start", e)))
                .transpose()?,
            row.try_get(1)?,
        ))
    }

    /// A contract as `platdns-billing` reads it. Our choices where the terms
    /// are silent (RULES.md): the application is accepted when the contract
    /// (or service) is created; billing starts that day in the operator's
    /// zone unless the operator set another day; a plan or extra-QPS change
    /// takes effect on the day it was accepted (several in one day: the
    /// last); the effective end is the contract's end date (R5.2).
    pub async fn billing_contract(&self, contract_id: i64, tz: &TimeZone) -> Result<ParentContract> {
        let c = self.get_contract(contract_id).await?;
        let day = |t: Timestamp| tz.to_datetime(t).date();
        let origin = |accepted_at: Timestamp, legacy: Option<String>| match legacy {
            Some(legacy_id) => Origin::Migrated { legacy_id },
            None => Origin::Applied { accepted_at },
        };
        let (start, legacy) = self.billing_origin(BillingObject::Contract(c.id)).await?;
        let billing_start = start.unwrap_or(day(c.created_at));

        // Plan periods, from the change requests undone back to creation.
        let log = self.change_requests(c.id).await?;
        let mut after = (c.plan, c.extra_qps);
        let mut states = Vec::with_capacity(log.len());
        for (kind, detail, at) in log.iter().rev() {
            states.push((*at, after));
            after = undo_change(kind, detail, after)?;
        }
        states.reverse();
        let mut plans = vec![PlanPeriod {
            from: billing_start.min(day(c.created_at)),
            plan: after.0,
            extra_qps: after.1,
        }];
        for (at, (plan, extra_qps)) in states {
            let from = day(at);
            let last = plans.last_mut().expect("one period");
            if from <= last.from {
                (last.plan, last.extra_qps) = (plan, extra_qps);
            } else if (last.plan, last.extra_qps) != (plan, extra_qps) {
                plans.push(PlanPeriod { from, plan, extra_qps });
            }
        }
        let changes = log
            .iter()
            .enumerate()
            .filter_map(|(i, (kind, _, at))| {
                let kind = match kind.as_str() {
                    "plan" => ChangeKind::Plan,
                    "extra_qps" => ChangeKind::QpsLimit,
                    _ => return None,
                };
                Some(ChangeRequest {
                    id: format!("{}#{}", c.public_id, i + 1),
                    kind,
                    accepted_at: *at,
                })
            })
            .collect();

        let mut services = Vec::new();
        for z in self.list_zones(None, Some(c.id)).await? {
            let (start, legacy) = self.billing_origin(BillingObject::Zone(z.id)).await?;
            services.push(Service {
                id: z.public_id.clone(),
                kind: ServiceKind::ManagedDns,
                origin: origin(z.created_at, legacy),
                billing_start: start.unwrap_or(day(z.created_at)),
                end: None,
            });
        }
        let rows = sqlx::query("SELECT id, public_id, created_at FROM lb_domains WHERE contract_id = $1 ORDER BY id")
            .bind(c.id)
            .fetch_all(self.pool())
            .await?;
        for r in rows {
            let id: i64 = r.try_get(0)?;
            let created = ts(&r, 2)?;
            let (start, legacy) = self.billing_origin(BillingObject::LbDomain(id)).await?;
            services.push(Service {
                id: r.try_get(1)?,
                kind: ServiceKind::TrafficManagement,
                origin: origin(created, legacy),
                billing_start: start.unwrap_or(day(created)),
                end: None,
            });
        }
        Ok(ParentContract {
            id: c.public_id.clone(),
            origin: origin(c.created_at, legacy),
            billing_start,
            end: c.ends_on,
            plans,
            services,
            changes,
        })
    }

    // ---- invoices and months ----

    /// When and by whom `month` was closed, if it was.
    pub async fn month_closed(&self, month: BillingMonth) -> Result<Option<(Timestamp, String)>> {
        let row = sqlx::query("SELECT closed_at, closed_by FROM billing_months WHERE month = $1")
            .bind(month.to_string())
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| Ok((ts(&r, 0)?, r.try_get(1)?))).transpose()
    }

    /// Writes a month's invoices (each replacing the contract's earlier
    /// computation), and with `close` marks the month closed, all in one
    /// transaction. A closed month is refused whole: its invoices are frozen.
    pub async fn save_invoices(
        &self,
        month: BillingMonth,
        invoices: &[(i64, Invoice)],
        close: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        let closed: Option<String> = sqlx::query_scalar("SELECT closed_at FROM billing_months WHERE month = $1")
            .bind(month.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(at) = closed {
            return Err(StoreError::Conflict(format!(
                "{month} was closed at {at}: its invoices are frozen"
            )));
        }
        for (contract_id, inv) in invoices {
            if inv.month != month {
                return invalid("month", format!("an invoice for {} in {month}", inv.month));
            }
            sqlx::query(
                "INSERT INTO invoices (contract_id, month, total, body, computed_at, closed) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (contract_id, month) DO UPDATE SET total = excluded.total, body = excluded.body, \
                 computed_at = excluded.computed_at, closed = excluded.closed",
            )
            .bind(contract_id)
            .bind(month.to_string())
            .bind(inv.total.0)
            .bind(to_json(inv))
            .bind(now.to_string())
            .bind(i64::from(close.is_some()))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(by) = close {
            // Rows not recomputed this time (a contract no longer billed)
            // go: a closed month holds exactly what was closed.
            let keep: Vec<i64> = invoices.iter().map(|(c, _)| *c).collect();
            let rows = sqlx::query("SELECT contract_id FROM invoices WHERE month = $1")
                .bind(month.to_string())
                .fetch_all(&mut *tx)
                .await?;
            for r in rows {
                let c: i64 = r.try_get(0)?;
                if !keep.contains(&c) {
                    sqlx::query("DELETE FROM invoices WHERE month = $1 AND contract_id = $2")
                        .bind(month.to_string())
                        .bind(c)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            sqlx::query("INSERT INTO billing_months (month, closed_at, closed_by) VALUES ($1, $2, $3)")
                .bind(month.to_string())
                .bind(now.to_string())
                .bind(by)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn get_invoice(&self, contract_id: i64, month: BillingMonth) -> Result<StoredInvoice> {
        let row = sqlx::query(
            "SELECT contract_id, body, computed_at, closed FROM invoices WHERE contract_id = $1 AND month = $2",
        )
        .bind(contract_id)
        .bind(month.to_string())
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        invoice_from_row(&row)
    }

    /// Stored invoices, by month then contract; each filter optional
    /// (`account_id`: only that tenant's contracts, R1.2).
    pub async fn list_invoices(
        &self,
        contract_id: Option<i64>,
        month: Option<BillingMonth>,
        account_id: Option<i64>,
    ) -> Result<Vec<StoredInvoice>> {
        let rows = sqlx::query(
            "SELECT i.contract_id, i.body, i.computed_at, i.closed FROM invoices i JOIN contracts c ON c.id = i.contract_id \
             WHERE ($1 < 0 OR i.contract_id = $1) AND ($2 = '' OR i.month = $2) AND ($3 < 0 OR c.account_id = $3) \
             ORDER BY i.month, i.contract_id",
        )
        .bind(contract_id.unwrap_or(-1))
        .bind(month.map(|m| m.to_string()).unwrap_or_default())
        .bind(account_id.unwrap_or(-1))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(invoice_from_row).collect()
    }

    // ---- claims (R8.2) ----

    pub async fn file_claim(
        &self,
        contract_id: i64,
        service: &str,
        breach_month: BillingMonth,
        received_at: Timestamp,
        filed_by: &str,
        now: Timestamp,
    ) -> Result<StoredClaim> {
        if service.is_empty() {
            return invalid("service", "the service the claim is for");
        }
        let row = sqlx::query(&format!(
            "INSERT INTO credit_claims (public_id, contract_id, service, breach_month, received_at, filed_by, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {CLAIM_COLUMNS}"
        ))
        .bind(new_system_id('k'))
        .bind(contract_id)
        .bind(service)
        .bind(breach_month.to_string())
        .bind(received_at.as_second())
        .bind(filed_by)
        .bind(now.to_string())
        .fetch_one(self.pool())
        .await?;
        claim_from_row(&row)
    }

    pub async fn find_claim(&self, public_id: &str) -> Result<StoredClaim> {
        let row = sqlx::query(&format!(
            "SELECT {CLAIM_COLUMNS} FROM credit_claims WHERE public_id = $1"
        ))
        .bind(public_id)
        .fetch_optional(self.pool())
        .await?
        .ok_or(StoreError::NotFound)?;
        claim_from_row(&row)
    }

    /// Claims, by time received; each filter optional.
    pub async fn claims(
        &self,
        contract_id: Option<i64>,
        breach_month: Option<BillingMonth>,
    ) -> Result<Vec<StoredClaim>> {
        let rows = sqlx::query(&format!(
            "SELECT {CLAIM_COLUMNS} FROM credit_claims WHERE ($1 < 0 OR contract_id = $1) AND ($2 = '' OR breach_month = $2) \
             ORDER BY received_at, public_id"
        ))
        .bind(contract_id.unwrap_or(-1))
        .bind(breach_month.map(|m| m.to_string()).unwrap_or_default())
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(claim_from_row).collect()
    }

    /// Records decisions of undecided claims, in one transaction; a claim
    /// decided already keeps its decision (a record is never rewritten).
    pub async fn record_decisions(
        &self,
        decisions: &[(i64, ClaimDecision, BillingMonth)],
        now: Timestamp,
    ) -> Result<()> {
        let (_writer, mut tx) = self.begin_write().await?;
        for (id, d, credited_month) in decisions {
            let credit = match d {
                ClaimDecision::Accepted { credit, .. } => credit.amount.0,
                ClaimDecision::Refused { .. } => 0,
            };
            let n = sqlx::query(
                "UPDATE credit_claims SET decision = $1, decided_at = $2, credited_month = $3, credit = $4 \
                 WHERE id = $5 AND decision IS NULL",
            )
            .bind(to_json(d))
            .bind(now.to_string())
            .bind((credit != 0).then(|| credited_month.to_string()))
            .bind(credit)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict(format!("claim {id} was decided already")));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// The credits granted to a contract that its `month` invoice deducts.
    pub async fn credits_for(&self, contract_id: i64, month: BillingMonth) -> Result<Vec<ServiceCredit>> {
        Ok(self
            .claims(Some(contract_id), None)
            .await?
            .into_iter()
            .filter(|c| c.credited_month == Some(month))
            .filter_map(|c| match c.decision {
                Some(ClaimDecision::Accepted { credit, .. }) => Some(credit),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests;
