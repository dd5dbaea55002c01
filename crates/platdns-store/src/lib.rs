//! `platdns-store`: the control plane's data, and the only crate that speaks
//! SQL. One query API (`sqlx` Any) over two backends: a SQLite file by
//! default (WAL), PostgreSQL at scale. Each backend has its own numbered
//! migrations; every query here is written once, in SQL both accept.
//!
//! Every write takes the time as an argument (`now`), so tests fix the clock.

mod accounts;
mod billing;
mod changes;
mod common_configs;
mod contracts;
mod dnssec;
mod labels;
mod lb_domains;
mod lb_monitors;
mod logs;
mod records;
mod sources;
mod transfers;
mod tsig;
mod usage;
mod zones;

pub use accounts::{Account, Principal, TokenScope};
pub use billing::{BillingObject, ProbeRow, StoredClaim, StoredExclusion, StoredInvoice, StoredPrices};
pub use changes::{Change, ChangeKind, ChangeListener};
pub use common_configs::{CommonConfig, DeleteRefused, NewNotification, NoticeAccount, Notification};
pub use contracts::{Contract, ContractUpdate};
pub use dnssec::{DnssecState, DsState, ZoneDnssec};
pub use labels::{LabelOf, Labels};
pub use lb_domains::{LbDomain, EMPTY_CONFIG};
pub use lb_monitors::{MonitorBeat, ProbeResult, ProbeResultRow};
pub use logs::{LogScope, OperationLog};
pub use records::{
    CommitChange, CommitInput, CommitPlan, NewRecord, RecordField, RecordFilter, RecordRow, RecordState, StagedChange,
};
pub use sources::ZoneSource;
pub use transfers::{TransferEntry, TransferList};
pub use tsig::TsigKey;
pub use usage::{Restriction, UsageOf, UsagePoint, UsageRow};
pub use zones::{HistoryText, Zone, ZoneHistory};

use jiff::Timestamp;
use rand::Rng;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::sync::Arc;

/// DPF `state` of a zone or an LB domain (`tags.md`, zones and lb_domains).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publication {
    /// 1: not yet published (a zone before its first commit).
    BeforePublication,
    /// 2: published.
    Published,
}

impl Publication {
    /// DPF's code.
    pub fn code(self) -> i64 {
        match self {
            Publication::BeforePublication => 1,
            Publication::Published => 2,
        }
    }

    /// From the stored code: 2 is published, anything else is not.
    pub(crate) fn from_code(code: i64) -> Publication {
        match code {
            2 => Publication::Published,
            _ => Publication::BeforePublication,
        }
    }
}

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Store errors, typed so the API can map each to its HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{attribute}: {message}")]
    Invalid { attribute: String, message: String },
    #[error("{attribute} already exists")]
    Duplicate { attribute: String },
    #[error("conflict: {0}")]
    Conflict(String),
    /// The zone or its staged edits changed between a commit's plan and its
    /// apply: plan and check again.
    #[error("the zone changed while its commit was checked")]
    Changed,
    #[error(transparent)]
    Contract(#[from] platdns_contract::ContractError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// The database could not be reached (no connection within the bound,
    /// connection refused or cut), as opposed to a query that failed.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            StoreError::Db(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_)
            )
        )
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Runs `insert` with fresh service codes (`prefix` + 8 digits) until one is
/// not taken; another unique violation is a duplicate of `attribute`.
pub(crate) async fn with_service_code<T, F, Fut>(prefix: &str, attribute: &str, mut insert: F) -> Result<T>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, sqlx::Error>>,
{
    for _ in 0..8 {
        let code = format!("{prefix}{}", random_string(8, b"0123456789"));
        match insert(code).await {
            Ok(v) => return Ok(v),
            Err(e) => {
                let msg = e.to_string();
                match on_unique(e, attribute) {
                    StoreError::Duplicate { .. } if msg.contains("service_code") => continue,
                    other => return Err(other),
                }
            }
        }
    }
    Err(StoreError::Conflict("could not allocate a service code".into()))
}

/// An UPDATE or DELETE that touched no row: the resource is not there.
pub(crate) fn found(rows_affected: u64) -> Result<()> {
    if rows_affected == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Values an `IN (...)` list takes in one statement: bounded so that no
/// statement nears SQLite's 32,766 parameters (and its binding, by name,
/// stays cheap).
pub(crate) const IN_LIST_CHUNK: usize = 500;

/// `$first, $first+1, ...`: `count` numbered placeholders, comma-separated.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn invalid<T>(attribute: &str, message: impl Into<String>) -> Result<T> {
    Err(StoreError::Invalid {
        attribute: attribute.into(),
        message: message.into(),
    })
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite's one writer, in this process: see [`Store::begin_write`].
    writer: Arc<tokio::sync::Mutex<()>>,
    /// Where it is, for the PostgreSQL connection that listens for changes
    /// (`Store::change_listener`).
    url: Option<Arc<str>>,
}

/// This process's turn to write (SQLite); the next writer goes when it is
/// dropped, after the transaction.
pub(crate) struct Writer(#[allow(dead_code)] Option<tokio::sync::OwnedMutexGuard<()>>);

/// How long a write waits for another process's write (SQLite's
/// `busy_timeout`) before the store reports the database busy. Writes of
/// this process queue on [`Store::begin_write`]'s gate instead; this covers
/// other processes and the writes outside a transaction.
const SQLITE_BUSY_WAIT_MS: u32 = 30_000;

impl Store {
    /// Connects to `url` (`sqlite://FILE`, `postgres://...`) and runs the
    /// backend's migrations.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_string(),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            // A request waits this long for a connection, not sqlx's 30 s:
            // a store that is away is reported (503) rather than waited on.
            .acquire_timeout(std::time::Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL: readers never wait for the writer; a crash loses
                        // nothing that was committed.
                        sqlx::query("PRAGMA journal_mode=WAL").execute(&mut *conn).await?;
                        sqlx::query(&format!("PRAGMA busy_timeout={SQLITE_BUSY_WAIT_MS}"))
                            .execute(&mut *conn)
                            .await?;
                        sqlx::query("PRAGMA foreign_keys=ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let store = Store {
            pool,
            backend,
            writer: Arc::default(),
            url: Some(url.as_str().into()),
        };
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&store.pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&store.pool).await?,
        }
        Ok(store)
    }

    /// One trivial query: does the store answer?
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A transaction that will write. On SQLite it takes the write lock at
    /// once (`BEGIN IMMEDIATE`): a deferred transaction that read first and
    /// then writes fails with "database is locked" when another writer
    /// committed in between, and waiting cannot help it. SQLite has one
    /// writer: this process's writers queue for it in order on an async
    /// gate (held as long as the returned [`Writer`]), so a writer starts
    /// the moment the one before ends instead of polling in SQLite's busy
    /// handler, and none waits on the async workers' threads.
    pub(crate) async fn begin_write(&self) -> Result<(Writer, sqlx::Transaction<'static, sqlx::Any>)> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let writer = Writer(Some(self.writer.clone().lock_owned().await));
                (writer, self.pool.begin_with("BEGIN IMMEDIATE").await?)
            }
            Backend::Postgres => (Writer(None), self.pool.begin().await?),
        })
    }

    /// A read-only transaction that sees one snapshot for all its queries:
    /// REPEATABLE READ on PostgreSQL (READ COMMITTED, the default, takes a
    /// snapshot per statement); on SQLite a deferred transaction in WAL mode
    /// reads one snapshot from its first read on.
    pub(crate) async fn begin_snapshot(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>> {
        Ok(match self.backend {
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
            Backend::Sqlite => self.pool.begin().await?,
        })
    }

    /// A new DPF job (asynchronous request) in state RUNNING.
    /// `resources`: the URL of what the job makes, its `resources_url` once
    /// it has ended well.
    pub async fn create_job(&self, account_id: Option<i64>, resources: Option<&str>, now: Timestamp) -> Result<String> {
        let request_id = new_request_id();
        sqlx::query(
            "INSERT INTO jobs (request_id, account_id, status, created_at, resources) VALUES ($1, $2, 'RUNNING', $3, $4)",
        )
        .bind(&request_id)
        .bind(account_id)
        .bind(now.to_string())
        .bind(resources)
            .execute(&self.pool)
            .await?;
        Ok(request_id)
    }

    /// Marks a job SUCCESSFUL (with the URL of what it made) or FAILED.
    pub async fn finish_job(
        &self,
        request_id: &str,
        outcome: Result<String, (String, String)>,
        now: Timestamp,
    ) -> Result<()> {
        let (status, url, etype, emsg) = match outcome {
            Ok(url) => ("SUCCESSFUL", Some(url), None, None),
            Err((t, m)) => ("FAILED", None, Some(t), Some(m)),
        };
        sqlx::query(
            "UPDATE jobs SET status = $1, resources_url = $2, error_type = $3, error_message = $4, finished_at = $5 WHERE request_id = $6",
        )
        .bind(status)
        .bind(url)
        .bind(etype)
        .bind(emsg)
        .bind(now.to_string())
        .bind(request_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends the jobs a stopped process left RUNNING: SUCCESSFUL, with the
    /// URL of what they made, those whose commit landed (its history entry
    /// names the job); FAILED (`SystemError`, `message`) the rest. Returns
    /// how many of each.
    pub async fn fail_unfinished_jobs(&self, message: &str, now: Timestamp) -> Result<(u64, u64)> {
        let (_writer, mut tx) = self.begin_write().await?;
        let landed = sqlx::query(
            "UPDATE jobs SET status = 'SUCCESSFUL', resources_url = resources, finished_at = $1 \
             WHERE status = 'RUNNING' AND request_id IN (SELECT request_id FROM zone_histories WHERE request_id IS NOT NULL)",
        )
        .bind(now.to_string())
        .execute(&mut *tx)
        .await?;
        let failed = sqlx::query(
            "UPDATE jobs SET status = 'FAILED', error_type = 'SystemError', error_message = $1, finished_at = $2 \
             WHERE status = 'RUNNING'",
        )
        .bind(message)
        .bind(now.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((landed.rows_affected(), failed.rows_affected()))
    }

    /// (status, resources_url, error_type, error_message) of a job the
    /// account may see.
    pub async fn get_job(&self, request_id: &str, account_id: Option<i64>) -> Result<Job> {
        let row = sqlx::query(
            "SELECT status, resources_url, error_type, error_message, account_id FROM jobs WHERE request_id = $1",
        )
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let owner: Option<i64> = row.try_get(4)?;
        if account_id.is_some() && owner != account_id {
            return Err(StoreError::NotFound);
        }
        Ok(Job {
            request_id: request_id.to_string(),
            status: row.try_get(0)?,
            resources_url: row.try_get(1)?,
            error_type: row.try_get(2)?,
            error_message: row.try_get(3)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub request_id: String,
    pub status: String,
    pub resources_url: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
}

/// DPF `request_id`: 32 characters.
pub fn new_request_id() -> String {
    random_string(32, b"0123456789abcdef")
}

/// DPF `SystemId`: 14 characters; a letter saying what it names, then random.
pub(crate) fn new_system_id(prefix: char) -> String {
    let mut s = String::with_capacity(14);
    s.push(prefix);
    s.push_str(&random_string(13, b"0123456789abcdefghijklmnopqrstuvwxyz"));
    s
}

pub(crate) fn random_string(len: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
}

pub(crate) fn ts(row: &AnyRow, i: usize) -> Result<Timestamp> {
    let s: String = row.try_get(i)?;
    s.parse()
        .map_err(|e| StoreError::Conflict(format!("bad timestamp {s:?} in the store: {e}")))
}

/// Maps a unique-key violation to [`StoreError::Duplicate`] on `attribute`.
pub(crate) fn on_unique(e: sqlx::Error, attribute: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Duplicate {
                attribute: attribute.into(),
            };
        }
    }
    StoreError::Db(e)
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Stores to run each test against: a fresh SQLite file always, and a
    /// fresh database on the PostgreSQL server in `PLATDNS_TEST_POSTGRES`
    /// when set (`.ci/run` sets it).
    pub async fn stores() -> Vec<(Store, Option<tempfile::TempDir>)> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let mut v = vec![(Store::connect(&url).await.unwrap(), Some(dir))];
        let pg = std::env::var("PLATDNS_TEST_POSTGRES").ok().filter(|s| !s.is_empty());
        if pg.is_none() && std::env::var("CI").is_ok() {
            panic!("CI must run the store tests on PostgreSQL too: set PLATDNS_TEST_POSTGRES (.ci/start-postgres.sh)");
        }
        if let Some(pg) = pg {
            sqlx::any::install_default_drivers();
            let name = format!("platdns_test_{}", random_string(12, b"abcdefghijklmnopqrstuvwxyz"));
            let admin = AnyPoolOptions::new().max_connections(1).connect(&pg).await.unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&admin)
                .await
                .unwrap();
            let base = pg.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap_or(pg.clone());
            v.push((Store::connect(&format!("{base}/{name}")).await.unwrap(), None));
        }
        v
    }

    pub fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// An account, a Basic contract under it and a zone under that.
    pub async fn account_contract_zone(store: &Store, account: &str, zone: &str) -> (Account, Contract, Zone) {
        let terms = platdns_contract::PlanTerms::default();
        let a = store.create_account(account, t("2026-11-01T00:00:00Z")).await.unwrap();
        let c = store
            .create_contract(
                a.id,
                platdns_contract::Plan::Basic,
                0,
                "",
                &terms,
                t("2026-11-01T00:00:00Z"),
            )
            .await
            .unwrap();
        let z = store
            .create_zone(c.id, zone, None, t("2026-11-24T00:00:00Z"))
            .await
            .unwrap();
        (a, c, z)
    }

    #[tokio::test]
    async fn jobs_run_and_finish() {
        for (store, _dir) in stores().await {
            let id = store
                .create_job(Some(1), None, t("2026-11-24T00:00:00Z"))
                .await
                .unwrap();
            assert_eq!(id.len(), 32);
            assert_eq!(store.get_job(&id, Some(1)).await.unwrap().status, "RUNNING");
            store
                .finish_job(&id, Ok("/dpf/v1/zones/x".into()), t("2026-11-24T00:00:01Z"))
                .await
                .unwrap();
            let j = store.get_job(&id, Some(1)).await.unwrap();
            assert_eq!(
                (j.status.as_str(), j.resources_url.as_deref()),
                ("SUCCESSFUL", Some("/dpf/v1/zones/x"))
            );
            // R1.2: another account's job is not found.
            assert!(matches!(store.get_job(&id, Some(2)).await, Err(StoreError::NotFound)));
        }
    }

    #[tokio::test]
    async fn after_a_crash_a_job_whose_commit_landed_ends_successful_and_the_others_failed() {
        for (store, _dir) in stores().await {
            let (a, _, z) = account_contract_zone(&store, "a", "example.com").await;
            let now = t("2026-11-24T01:00:00Z");
            let url = "/dpf/v1/zones/z1";
            let (landed, lost) = (
                store.create_job(Some(a.id), Some(url), now).await.unwrap(),
                store.create_job(Some(a.id), Some(url), now).await.unwrap(),
            );
            // The first job's commit landed; then the process stopped before
            // either job was ended.
            let mut plan = store.plan_commit(z.id, None, true).await.unwrap();
            plan.in_job(&landed);
            store.apply_commit(&plan, None, "", None, None, now).await.unwrap();
            assert_eq!(store.fail_unfinished_jobs("stopped", now).await.unwrap(), (1, 1));
            let j = store.get_job(&landed, Some(a.id)).await.unwrap();
            assert_eq!(
                (j.status.as_str(), j.resources_url.as_deref()),
                ("SUCCESSFUL", Some(url))
            );
            let j = store.get_job(&lost, Some(a.id)).await.unwrap();
            assert_eq!((j.status.as_str(), j.resources_url), ("FAILED", None));
        }
    }
}
