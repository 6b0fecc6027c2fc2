//! Storage: the only place SQL lives. sqlx's `Any` driver over SQLite (WAL, the embedded default)
//! or PostgreSQL (shared, multi-instance), with migrations for both under `migrations/`, applied
//! at start. Queries use `$n` placeholders, which both engines accept, and portable types
//! (BIGINT seconds, TEXT JSON, BLOB/BYTEA), so one query text serves both.
//!
//! Every change is made in a [`Tx`], which also writes its audit events: a change and its record
//! commit together or not at all. Several offices may share one database; every row carries the
//! office address as its tenant key.

use crate::audit;
use crate::config::{Config, Database};
use crate::domain::{Decision, ObligationKey, Period, PeriodKind, ReportId, Timeliness, UnitId};
use crate::parse::Document;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::collections::HashMap;

mod console;
mod directory;
pub use directory::{DirectoryRow, Entry};
mod extensions;
mod mail;
pub use mail::Handled;
mod figures;
pub use figures::{FigureCell, PeriodUnits, StoredFigures};
pub use console::{search_body, Account, Session, SubmissionFilter};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("cannot apply database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the database folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error("{0}")]
    NotFound(String),
    #[error("the database holds a value this version cannot read: {0}")]
    Corrupt(String),
    /// The work around a database step was cut short (the runtime shutting down): nothing
    /// was written, and it is tried again.
    #[error("{0}")]
    Interrupted(String),
}

impl StoreError {
    /// Whether trying again later may succeed (the database is away or busy), as opposed to
    /// this data being refused (a value the database will never take).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Db(e) => match e {
                sqlx::Error::Database(d) => {
                    // SQLite's codes are numbers of up to four digits, PostgreSQL's five characters.
                    // Busy, locked, an I/O error or a full disk (SQLite); serialization failures,
                    // lost connections, a server shutting down, insufficient resources (class
                    // 53: the disk full, out of memory) and system errors (class 58): none of
                    // them says anything about the message, so it must be tried again later,
                    // never recorded as refused or set aside.
                    let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
                    match code.parse::<u32>() {
                        Ok(n) if code.len() < 5 => matches!(n & 0xff, 5 | 6 | 10 | 13 | 14),
                        _ => matches!(code.as_str(), "40001" | "40P01") || ["08", "53", "58", "57P0"].iter().any(|c| code.starts_with(c)),
                    }
                }
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
                _ => false,
            },
            StoreError::Folder(..) | StoreError::Interrupted(_) => true,
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    /// Private: every statement is one of this module's methods (SQL lives only here).
    pool: AnyPool,
    /// For the intake's reads of committed state (is this message known, a duplicate, a reply
    /// to a reminder), made while a batch is being written: with SQLite, connections of their
    /// own (WAL readers do not wait for the writer); with PostgreSQL, the same pool.
    read: AnyPool,
    pub backend: Backend,
    pub office: String,
    /// Report kinds owed once (`period = "once"`): their period is stored as its year and read
    /// back as a one-off period.
    once_reports: std::sync::Arc<std::sync::RwLock<std::collections::HashSet<String>>>,
    /// SQLite: told after each commit; a connection of its own copies the WAL into the database
    /// (see [`checkpointer`]). None on PostgreSQL.
    checkpoint: Option<tokio::sync::mpsc::Sender<()>>,
}

/// The checkpointer's pause after a checkpoint: commits that come faster share one.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(200);
/// The writer checkpoints by itself only past this many pages: the checkpointer has fallen
/// far behind (a reader held it up), and the WAL must not grow without bound.
const WRITER_CHECKPOINT_PAGES: i64 = 16 * 1024;

/// Copies SQLite's WAL into the database file on a connection of its own, after commits.
/// SQLite's automatic checkpoint runs inside the COMMIT that crosses its threshold: the one
/// writer — the bottleneck of intake — stopped for the copy and its fsync (a third of a batch's
/// time when every batch carries megabytes of raw mail). Here the writer goes on with the next
/// batch while the copy runs on the other core. A PASSIVE checkpoint never waits for the writer
/// nor blocks it; the task ends when the last handle of the store is dropped.
async fn checkpointer(pool: AnyPool, mut asked: tokio::sync::mpsc::Receiver<()>) {
    while asked.recv().await.is_some() {
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::debug!("checkpoint: {e}");
        }
        tokio::time::sleep(CHECKPOINT_EVERY).await;
    }
    pool.close().await;
}

/// A request read from one of the office's letters (SPEC §15), as stored: `pending` until a
/// clerk confirms it (`confirmed`) or calls it off (`cancelled`). `reading` is the JSON of
/// SPEC §15 with, once confirmed, the units and deadlines the clerk settled.
#[derive(Debug, Clone, Serialize)]
pub struct StoredRequest {
    pub id: i64,
    pub report: String,
    pub number: Option<String>,
    pub letter_date: Option<String>,
    pub subject: Option<String>,
    pub state: crate::domain::RequestState,
    pub reading: serde_json::Value,
    /// The file or the message it was read from.
    pub source: String,
    pub message_id: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub decided_at: Option<i64>,
    pub decided_by: Option<String>,
}

const REQUEST_COLS: &str = "id, report, number, letter_date, subject, state, reading, source, message_id, created_at, created_by, decided_at, decided_by";

fn stored_request(r: &sqlx::any::AnyRow) -> Result<StoredRequest> {
    let reading: String = r.try_get("reading")?;
    Ok(StoredRequest {
        id: r.try_get("id")?,
        report: r.try_get("report")?,
        number: r.try_get("number")?,
        letter_date: r.try_get("letter_date")?,
        subject: r.try_get("subject")?,
        state: {
            let s: String = r.try_get("state")?;
            crate::domain::RequestState::parse(&s).ok_or_else(|| corrupt("a request", "state", &s))?
        },
        reading: serde_json::from_str(&reading).unwrap_or(serde_json::Value::Null),
        source: r.try_get("source")?,
        message_id: r.try_get("message_id")?,
        created_at: r.try_get("created_at")?,
        created_by: r.try_get("created_by")?,
        decided_at: r.try_get("decided_at")?,
        decided_by: r.try_get("decided_by")?,
    })
}

/// One received message and what was decided about it, decoded: the decision, the obligation
/// (unit, report, period) and the timeliness are typed, reasons and findings are lists. Nothing
/// outside the store reads the columns' text.
#[derive(Debug, Clone, Serialize)]
pub struct Submission {
    pub id: i64,
    pub source_key: String,
    pub sha256: String,
    pub body_sha256: String,
    pub message_id: Option<String>,
    pub received_at: i64,
    pub from_addr: Option<String>,
    pub subject: Option<String>,
    pub raw_key: String,
    pub size: i64,
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub unit: Option<UnitId>,
    pub report: Option<ReportId>,
    pub period: Option<Period>,
    pub due: Option<NaiveDate>,
    pub deadline: Option<i64>,
    pub timeliness: Option<Timeliness>,
    pub version: Option<i64>,
    pub findings: Vec<String>,
    pub evidence: Vec<String>,
    pub documents: Vec<Document>,
    /// The mail's facts kept for threading and loops (see `intake::pipeline::facts_json`).
    pub facts: serde_json::Value,
    pub duplicate_of: Option<i64>,
    /// Who decided by hand, when a person did.
    pub manual_by: Option<String>,
    pub processed_at: i64,
    /// For a further report of a message carrying several: the message's own row.
    pub part_of: Option<i64>,
    /// The further reports of this message (read with it; each is a row of its own).
    pub also: Vec<Submission>,
}

impl Default for Submission {
    fn default() -> Self {
        Submission {
            id: 0,
            source_key: String::new(),
            sha256: String::new(),
            body_sha256: String::new(),
            message_id: None,
            received_at: 0,
            from_addr: None,
            subject: None,
            raw_key: String::new(),
            size: 0,
            decision: Decision::NotSubmission,
            reasons: vec![],
            unit: None,
            report: None,
            period: None,
            due: None,
            deadline: None,
            timeliness: None,
            version: None,
            findings: vec![],
            evidence: vec![],
            documents: vec![],
            facts: serde_json::Value::Null,
            duplicate_of: None,
            manual_by: None,
            processed_at: 0,
            part_of: None,
            also: vec![],
        }
    }
}

impl Submission {
    /// The obligation this submission names (its best guess while it waits in review).
    pub fn obligation(&self) -> Option<ObligationKey> {
        Some(ObligationKey { unit: self.unit.clone()?, report: self.report.clone()?, period: self.period? })
    }
}

/// What one accepted submission contributes to its obligation's status.
#[derive(Debug, Clone)]
pub struct AcceptedFact {
    pub obligation: ObligationKey,
    pub received_at: i64,
    pub version: i64,
}

/// An exemption the office set.
#[derive(Debug, Clone, Serialize)]
pub struct Exemption {
    pub obligation: ObligationKey,
    pub reason: String,
    pub by: String,
    pub at: i64,
}

/// What [`Store::known_content`] found of a message being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// Its source key was recorded (or set aside).
    pub source: bool,
    /// The processed message with the same content.
    pub duplicate_of: Option<i64>,
    /// Another message with its Message-ID was recorded.
    pub message_id_seen: bool,
}

/// The versions of one obligation after renumbering: (submission id, version), oldest first.
pub type Versions = Vec<(i64, i64)>;

/// A SQLite file's URL, its path escaped where a URL would read it otherwise.
fn sqlite_url(path: &std::path::Path) -> String {
    let p = path.display().to_string().replace('%', "%25").replace(' ', "%20").replace('?', "%3F").replace('#', "%23");
    format!("sqlite://{p}")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Store {
    pub async fn open(cfg: &Config) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (pool, backend) = match &cfg.database {
            Database::Sqlite(path) => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Folder(dir.display().to_string(), e))?;
                }
                let url = format!("{}?mode=rwc", sqlite_url(path));
                // One connection: SQLite has one writer, and one connection keeps the audit
                // chain's read-then-append inside a process strictly ordered.
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA journal_mode=WAL").await?;
                            conn.execute("PRAGMA busy_timeout=15000").await?;
                            conn.execute("PRAGMA synchronous=NORMAL").await?;
                            conn.execute(&*format!("PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")).await?;
                            Ok(())
                        })
                    })
                    .connect(&url)
                    .await?;
                (pool, Backend::Sqlite)
            }
            Database::Postgres(url) => {
                let pool = AnyPoolOptions::new().max_connections(4).connect(url).await?;
                (pool, Backend::Postgres)
            }
        };
        match backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
        }
        let read = match &cfg.database {
            Database::Sqlite(path) => {
                AnyPoolOptions::new()
                    .max_connections(2)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            conn.execute("PRAGMA busy_timeout=15000").await?;
                            conn.execute("PRAGMA query_only=ON").await?;
                            Ok(())
                        })
                    })
                    .connect_lazy(&format!("{}?mode=rw", sqlite_url(path)))?
            }
            Database::Postgres(_) => pool.clone(),
        };
        let checkpoint = match &cfg.database {
            Database::Sqlite(path) => {
                let pool = AnyPoolOptions::new()
                    .max_connections(1)
                    .after_connect(|conn, _| Box::pin(async move { conn.execute("PRAGMA busy_timeout=15000").await.map(|_| ()) }))
                    .connect_lazy(&format!("{}?mode=rw", sqlite_url(path)))?;
                let (tx, rx) = tokio::sync::mpsc::channel(1);
                tokio::spawn(checkpointer(pool, rx));
                Some(tx)
            }
            Database::Postgres(_) => None,
        };
        let once_reports = cfg.reports.iter().filter(|r| r.period == PeriodKind::Once).map(|r| r.id.to_string()).collect();
        let store = Store { pool, read, backend, office: cfg.tenant().to_string(), once_reports: std::sync::Arc::new(std::sync::RwLock::new(once_reports)), checkpoint };
        store.index_missing().await?;
        Ok(store)
    }

    pub async fn begin(&self) -> Result<Tx<'_>> {
        Ok(Tx { tx: self.transaction().await?, backend: self.backend, office: &self.office, head: None, pending: Pending::default(), savepoints: Vec::new(), fast: None, checkpoint: self.checkpoint.as_ref() })
    }

    /// A write transaction. SQLite's starts IMMEDIATE: it takes the write lock at once (waiting
    /// up to busy_timeout for another process), instead of reading first and failing with
    /// "database is locked" (SQLITE_BUSY_SNAPSHOT) when it then writes after another's commit.
    async fn transaction(&self) -> Result<Transaction<'static, Any>> {
        Ok(match self.backend {
            Backend::Sqlite => match self.pool.begin_with("BEGIN IMMEDIATE").await {
                Err(sqlx::Error::InvalidSavePointStatement) => {
                    // A COMMIT that failed (the disk full: SQLITE_FULL) can leave SQLite's
                    // transaction rolled back while the driver still counts it open, and every
                    // later BEGIN would fail. That connection is closed and a fresh one opened.
                    tracing::warn!("replacing the database connection after a failed commit");
                    let _ = self.pool.acquire().await?.close().await;
                    self.pool.begin_with("BEGIN IMMEDIATE").await?
                }
                r => r?,
            },
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    // ----- messages -----

    /// Which of these source keys were recorded (or set aside): one question for a range of
    /// messages listed by the server.
    pub async fn sources_known(&self, keys: &[String]) -> Result<std::collections::HashSet<String>> {
        let mut out = std::collections::HashSet::new();
        for chunk in keys.chunks(200) {
            let list = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT source_key FROM messages WHERE office = $1 AND source_key IN ({list}) UNION ALL SELECT source_key FROM set_aside WHERE office = $1 AND source_key IN ({list})"
            );
            let mut q = sqlx::query(&sql).bind(&self.office);
            for k in chunk {
                q = q.bind(k.as_str());
            }
            for r in q.fetch_all(&self.read).await? {
                out.insert(r.try_get::<String, _>("source_key")?);
            }
        }
        Ok(out)
    }

    /// Sets aside a message that cannot be recorded at all, with an audit event; its raw bytes
    /// are kept when they can be.
    pub async fn set_aside(&self, source_key: &str, sha256: &str, raw: &[u8], error: &str) -> Result<()> {
        let mut tx = self.begin().await?;
        tx.set_aside(source_key, sha256, raw, error).await?;
        tx.commit().await
    }

    /// What the committed state says of a message being read, in one round trip (each part an
    /// index lookup: an OR across columns had SQLite walk every message of the office, which
    /// made a 100,000-message backfill quadratic): whether its
    /// source key was recorded (or set aside), the processed message it duplicates (equal raw
    /// bytes first, then equal Message-ID and body), and whether another message with its
    /// Message-ID was recorded.
    pub async fn known_content(&self, source_key: &str, sha256: &str, message_id: Option<&str>, body_sha256: &str) -> Result<Known> {
        let r = sqlx::query(
            "SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM messages WHERE office = $1 AND source_key = $6) \
                           OR EXISTS (SELECT 1 FROM set_aside WHERE office = $1 AND source_key = $6) THEN 1 ELSE 0 END AS BIGINT) AS known, \
                    (SELECT id FROM (SELECT id, 0 AS pref FROM messages WHERE office = $1 AND sha256 = $2 AND decision <> 'duplicate' \
                                     UNION ALL SELECT id, 1 AS pref FROM messages WHERE office = $1 AND message_id = $3 AND body_sha256 = $4 AND decision <> 'duplicate') d \
                     ORDER BY pref, id LIMIT 1) AS dup, \
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM messages WHERE office = $1 AND message_id = $5) THEN 1 ELSE 0 END AS BIGINT) AS seen",
        )
        .bind(&self.office)
        .bind(sha256)
        .bind(message_id)
        .bind(body_sha256)
        .bind(message_id.map(|m| storable(m).into_owned()))
        .bind(source_key)
        .fetch_one(&self.read)
        .await?;
        Ok(Known { source: r.try_get::<i64, _>("known")? != 0, duplicate_of: r.try_get::<Option<i64>, _>("dup")?, message_id_seen: r.try_get::<i64, _>("seen")? != 0 })
    }

    /// Every received message with its further reports (`also`), oldest arrival first.
    pub async fn messages_with_parts(&self) -> Result<Vec<Submission>> {
        let all = self.messages().await?;
        let mut parts: HashMap<i64, Vec<Submission>> = HashMap::new();
        let mut out = Vec::new();
        for m in all {
            match m.part_of {
                Some(p) => parts.entry(p).or_default().push(m),
                None => out.push(m),
            }
        }
        for m in out.iter_mut() {
            if let Some(mut p) = parts.remove(&m.id) {
                p.sort_by_key(|x| x.id);
                m.also = p;
            }
        }
        Ok(out)
    }

    /// The further reports of message `id`.
    pub async fn parts_of(&self, id: i64) -> Result<Vec<Submission>> {
        let rows = sqlx::query(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE office = $1 AND part_of = $2 ORDER BY id"))
            .bind(&self.office)
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    /// Every row: received messages and the further reports of those carrying several (each
    /// an obligation's submission of its own), oldest arrival first.
    pub async fn messages(&self) -> Result<Vec<Submission>> {
        let rows = sqlx::query(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE office = $1 ORDER BY received_at, id"))
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    /// The messages waiting in the review queue, oldest first.
    pub async fn waiting_review(&self) -> Result<Vec<Submission>> {
        let rows = sqlx::query(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE office = $1 AND decision = $2 ORDER BY received_at, id"))
            .bind(&self.office)
            .bind(Decision::NeedsReview.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| self.decode(r)).collect()
    }

    pub async fn message(&self, id: i64) -> Result<Submission> {
        let r = sqlx::query(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE office = $1 AND id = $2"))
            .bind(&self.office)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("no submission with id {id}")))?;
        self.decode(&r)
    }

    pub async fn count_messages(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE office = $1 AND part_of IS NULL").bind(&self.office).fetch_one(&self.pool).await?;
        Ok(r.try_get::<i64, _>("n")?)
    }

    pub async fn blob(&self, key: &str) -> Result<Vec<u8>> {
        let r = sqlx::query("SELECT data FROM blobs WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("raw message {key} is missing")))?;
        Ok(r.try_get::<Vec<u8>, _>("data")?)
    }

    /// Accepted submissions that had arrived by `as_of`, in no particular order.
    ///
    /// Status reads every accepted submission of the office's history, tens of thousands of rows;
    /// they come back as one aggregated text (ids hold no tab or newline) because handing rows
    /// over one by one costs more than reading them.
    pub async fn accepted_by(&self, as_of: i64) -> Result<Vec<AcceptedFact>> {
        let filter = "office = $1 AND decision = $3 AND received_at <= $2 AND unit IS NOT NULL AND report IS NOT NULL AND period IS NOT NULL";
        let line = |tab: &str| format!("unit || {tab} || report || {tab} || period || {tab} || CAST(received_at AS TEXT) || {tab} || CAST(COALESCE(version, 1) AS TEXT)");
        let sql = match self.backend {
            Backend::Sqlite => format!("SELECT group_concat(x, char(10)) AS rows FROM (SELECT {} AS x FROM messages WHERE {filter})", line("char(9)")),
            Backend::Postgres => format!("SELECT string_agg({}, chr(10)) AS rows FROM messages WHERE {filter}", line("chr(9)")),
        };
        let r = sqlx::query(&sql).bind(&self.office).bind(as_of).bind(Decision::Accepted.as_str()).fetch_one(&self.pool).await?;
        let text: Option<String> = r.try_get("rows")?;
        let mut out = Vec::new();
        for l in text.as_deref().unwrap_or("").lines() {
            let f: Vec<&str> = l.split('\t').collect();
            let [unit, report, period, at, version] = f[..] else {
                return Err(corrupt("an accepted submission", "unit/report/period", l));
            };
            let what = "an accepted submission";
            out.push(AcceptedFact {
                obligation: ObligationKey {
                    unit: UnitId::parse(unit).map_err(|_| corrupt(what, "unit", unit))?,
                    period: self.period_of(Some(report), period, what)?,
                    report: ReportId::parse(report).map_err(|_| corrupt(what, "report", report))?,
                },
                received_at: at.parse().map_err(|_| corrupt(what, "received_at", at))?,
                version: version.parse().map_err(|_| corrupt(what, "version", version))?,
            });
        }
        Ok(out)
    }

    /// The obligations that messages waiting in review, arrived by `as_of`, name as best guess.
    pub async fn review_guesses(&self, as_of: i64) -> Result<Vec<ObligationKey>> {
        let rows = sqlx::query(
            "SELECT id, unit, report, period FROM messages WHERE office = $1 AND decision = $3 AND received_at <= $2 \
             AND unit IS NOT NULL AND report IS NOT NULL AND period IS NOT NULL ORDER BY id",
        )
        .bind(&self.office)
        .bind(as_of)
        .bind(Decision::NeedsReview.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.try_get("id")?;
                self.obligation_of(r, &format!("submission {id}"))
            })
            .collect()
    }

    /// Report kinds owed once that are not in the config file (a confirmed request's): their
    /// periods are read back as one-off periods too.
    pub fn owe_once(&self, reports: impl IntoIterator<Item = String>) {
        self.once_reports.write().unwrap_or_else(|e| e.into_inner()).extend(reports);
    }

    /// Every request of the office, oldest first.
    pub async fn requests(&self) -> Result<Vec<StoredRequest>> {
        let rows = sqlx::query(&format!("SELECT {REQUEST_COLS} FROM requests WHERE office = $1 ORDER BY id")).bind(&self.office).fetch_all(&self.pool).await?;
        rows.iter().map(stored_request).collect()
    }

    pub async fn request(&self, id: i64) -> Result<Option<StoredRequest>> {
        let row = sqlx::query(&format!("SELECT {REQUEST_COLS} FROM requests WHERE office = $1 AND id = $2")).bind(&self.office).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(stored_request).transpose()
    }

    /// Changes whenever a request is added, confirmed or cancelled: a running daemon reads the
    /// requests again only then.
    pub async fn requests_stamp(&self) -> Result<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(decided_at), 0) AS t FROM requests WHERE office = $1 AND state <> 'pending'")
            .bind(&self.office)
            .fetch_one(&self.pool)
            .await?;
        Ok((row.try_get("n")?, row.try_get("t")?))
    }

    pub async fn exemptions(&self) -> Result<Vec<Exemption>> {
        let rows = sqlx::query("SELECT unit, report, period, reason, by_whom, at FROM exemptions WHERE office = $1 ORDER BY at")
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Exemption {
                    obligation: self.obligation_of(r, "an exemption")?,
                    reason: r.try_get("reason")?,
                    by: r.try_get("by_whom")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Reminder stages sent per obligation, by `as_of`.
    pub async fn reminders_sent(&self, as_of: i64) -> Result<HashMap<ObligationKey, i64>> {
        let rows = sqlx::query(
            "SELECT unit, report, period, COUNT(*) AS n FROM reminder_stages WHERE office = $1 AND at <= $2 GROUP BY unit, report, period",
        )
        .bind(&self.office)
        .bind(as_of)
        .fetch_all(&self.pool)
        .await?;
        let mut m = HashMap::new();
        for r in rows {
            m.insert(self.obligation_of(&r, "a reminder stage")?, r.try_get::<i64, _>("n")?);
        }
        Ok(m)
    }

    pub async fn stage_sent(&self, key: &str) -> Result<bool> {
        let r = sqlx::query("SELECT key FROM reminder_stages WHERE office = $1 AND key = $2")
            .bind(&self.office)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }

    // ----- audit -----

    pub async fn audit_events(&self) -> Result<Vec<audit::Event>> {
        self.audit_events_after(0, i64::MAX).await
    }

    /// Up to `limit` events after event `seq`, in order: a long chain read a page at a time, so
    /// verifying it never holds the database for long.
    pub async fn audit_events_after(&self, seq: i64, limit: i64) -> Result<Vec<audit::Event>> {
        let rows = sqlx::query(&format!("SELECT {AUDIT_COLS} FROM audit WHERE office = $1 AND seq > $2 ORDER BY seq LIMIT {limit}"))
            .bind(&self.office)
            .bind(seq)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_event).collect()
    }

    /// The hash the chain's newest event must have (catches a removed tail).
    pub async fn audit_head(&self) -> Result<Option<String>> {
        let r = sqlx::query("SELECT last_hash FROM audit_head WHERE office = $1").bind(&self.office).fetch_optional(&self.pool).await?;
        Ok(match r {
            Some(r) => Some(r.try_get("last_hash")?),
            None => None,
        })
    }

    /// Rows that lack the audit event recording them: messages without `message_received` and
    /// `decision`, outbox mail without `mail_queued`. A chain cut short and re-headed, or emptied,
    /// leaves such rows behind.
    pub async fn unaudited(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        // A further report of a message (`part_of`) was received with it; its decision is the
        // machine's, or a person's where a clerk took a file out of a message into its own.
        let checks = [
            ("message_received", "m.part_of IS NULL AND ", "a.kind = 'message_received'"),
            ("decision", "", "a.kind IN ('decision', 'review_assign', 'reprocessed')"),
        ];
        for (kind, which, has) in checks {
            let rows = sqlx::query(&format!(
                "SELECT m.id AS id FROM messages m WHERE {which}m.office = $1 AND NOT EXISTS \
                 (SELECT 1 FROM audit a WHERE a.office = m.office AND a.subject = 'submission:' || CAST(m.id AS TEXT) AND {has}) ORDER BY m.id LIMIT 20",
            ))
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
            for r in rows {
                out.push(format!("submission {} has no `{kind}` event", r.try_get::<i64, _>("id")?));
            }
        }
        let rows = sqlx::query(
            "SELECT o.key AS key FROM outbox o WHERE o.office = $1 AND NOT EXISTS \
             (SELECT 1 FROM audit a WHERE a.office = o.office AND a.subject = o.key AND a.kind = 'mail_queued') ORDER BY o.id LIMIT 20",
        )
        .bind(&self.office)
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            out.push(format!("mail {} has no `mail_queued` event", r.try_get::<String, _>("key")?));
        }
        Ok(out)
    }

    /// Whether an event with this hash is in the chain (a hash quoted in a mail or a log).
    pub async fn audit_has_hash(&self, hash: &str) -> Result<bool> {
        let r = sqlx::query("SELECT seq FROM audit WHERE office = $1 AND hash = $2").bind(&self.office).bind(hash).fetch_optional(&self.pool).await?;
        Ok(r.is_some())
    }

    /// The newest event's hash and the number of events: what mails and logs quote.
    pub async fn audit_anchor(&self) -> Result<(String, i64)> {
        let r = sqlx::query("SELECT last_hash, n FROM audit_head WHERE office = $1").bind(&self.office).fetch_optional(&self.pool).await?;
        Ok(match r {
            Some(r) => (r.try_get("last_hash")?, r.try_get("n")?),
            None => (String::new(), 0),
        })
    }

    pub async fn last_event_data(&self, kind: &str) -> Result<Option<String>> {
        let r = sqlx::query("SELECT data FROM audit WHERE office = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1")
            .bind(&self.office)
            .bind(kind)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some(r.try_get("data")?),
            None => None,
        })
    }

    /// The sync point of an IMAP mailbox: (UIDVALIDITY, highest UID whose results are committed).
    pub async fn mailbox_state(&self, mailbox: &str) -> Result<Option<(i64, i64, i64)>> {
        let r = sqlx::query("SELECT uidvalidity, last_uid, last_poll FROM mailbox_state WHERE office = $1 AND mailbox = $2")
            .bind(&self.office)
            .bind(mailbox)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some((r.try_get("uidvalidity")?, r.try_get("last_uid")?, r.try_get("last_poll")?)),
            None => None,
        })
    }

    pub async fn set_mailbox_state(&self, mailbox: &str, uidvalidity: i64, last_uid: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO mailbox_state (office, mailbox, uidvalidity, last_uid, last_poll) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (office, mailbox) DO UPDATE SET uidvalidity = EXCLUDED.uidvalidity, last_uid = EXCLUDED.last_uid, last_poll = EXCLUDED.last_poll",
        )
        .bind(&self.office)
        .bind(mailbox)
        .bind(uidvalidity)
        .bind(last_uid)
        .bind(now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the lock that lets one instance poll `mailbox` of this office. PostgreSQL: a
    /// session advisory lock held on its own connection, released when that connection (or the
    /// process) dies. SQLite: one process owns the file, so the lock is always granted.
    pub async fn try_mailbox_lock(&self, mailbox: &str) -> Result<Option<MailboxLock>> {
        if self.backend == Backend::Sqlite {
            return Ok(Some(MailboxLock { conn: None }));
        }
        let digest = crate::digest::sha256_hex(format!("baocao-mailbox:{}:{mailbox}", self.office).as_bytes());
        let key = i64::from_str_radix(&digest[..15], 16).unwrap_or(0);
        let mut conn = self.pool.acquire().await?;
        let r = sqlx::query("SELECT pg_try_advisory_lock($1) AS ok").bind(key).fetch_one(&mut *conn).await?;
        let ok: bool = r.try_get("ok")?;
        Ok(if ok { Some(MailboxLock { conn: Some(conn) }) } else { None })
    }

    /// When a scheduled job (reminders, digest, office status) last ran for this office.
    pub async fn last_run(&self, job: &str) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT last_run FROM schedule_runs WHERE office = $1 AND job = $2").bind(&self.office).bind(job).fetch_optional(&self.pool).await?;
        Ok(match r {
            Some(r) => Some(r.try_get("last_run")?),
            None => None,
        })
    }

    pub async fn set_last_run(&self, job: &str, at: i64) -> Result<()> {
        sqlx::query("INSERT INTO schedule_runs (office, job, last_run) VALUES ($1, $2, $3) ON CONFLICT (office, job) DO UPDATE SET last_run = EXCLUDED.last_run")
            .bind(&self.office)
            .bind(job)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Figures for `/metrics`: messages by decision, messages with a document that could not be
    /// read, and outbox mail by kind and state.
    pub async fn metrics(&self) -> Result<Metrics> {
        let mut m = Metrics::default();
        for r in sqlx::query("SELECT decision, COUNT(*) AS n FROM messages WHERE office = $1 GROUP BY decision").bind(&self.office).fetch_all(&self.pool).await? {
            m.by_decision.push((r.try_get("decision")?, r.try_get("n")?));
        }
        let r = sqlx::query("SELECT COUNT(*) AS n FROM messages WHERE office = $1 AND documents LIKE $2")
            .bind(&self.office)
            .bind("%\"parse\":\"error\"%")
            .fetch_one(&self.pool)
            .await?;
        m.parse_errors = r.try_get("n")?;
        for r in sqlx::query("SELECT kind, state, COUNT(*) AS n FROM outbox WHERE office = $1 GROUP BY kind, state").bind(&self.office).fetch_all(&self.pool).await? {
            m.outbox.push((r.try_get("kind")?, r.try_get("state")?, r.try_get("n")?));
        }
        Ok(m)
    }

    /// Whether exactly these bytes were recorded before (a mailbox re-synced after its
    /// UIDVALIDITY changed hands the same messages over again under new UIDs).
    pub async fn raw_known(&self, sha256: &str) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM messages WHERE office = $1 AND sha256 = $2 LIMIT 1").bind(&self.office).bind(sha256).fetch_optional(&self.pool).await?;
        Ok(r.is_some())
    }

    /// Test hook, not for the product: executes one statement as is (the audit test tampers
    /// with the chain through it).
    #[doc(hidden)]
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        Ok(sqlx::query(sql).execute(&self.pool).await?.rows_affected())
    }
}

/// Text as the database takes it: PostgreSQL refuses NUL in text, so it becomes U+FFFD.
pub fn storable(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        std::borrow::Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn storable_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().map(|t| storable(t).into_owned())
}

/// The raw store's codec: zstd at level 1, so a message's bytes are kept whole and compressed
/// for a few per cent of intake's CPU (zlib's default level cost a quarter of it, mostly spent
/// on base64 of already-compressed zip parts, where a slower level gains nothing).
pub fn compress(raw: &[u8]) -> Vec<u8> {
    thread_local! {
        // One context per thread, kept: making one costs more than compressing a small mail.
        static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
    }
    let z = ZSTD.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = zstd::bulk::Compressor::new(1).ok();
        }
        c.as_mut().map(|z| z.compress(raw))
    });
    z.and_then(|r| r.ok()).unwrap_or_else(|| {
        // Never expected (level 1 is always valid); keep the bytes readable all the same.
        let mut v = ZSTD_STORED.to_vec();
        v.extend_from_slice(raw);
        v
    })
}

/// A blob's codec is told by its first bytes: zstd's frame magic, zlib's header (blobs written
/// before zstd), or the uncompressed marker above.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
const ZSTD_STORED: &[u8] = b"BAOCAO-RAW\0";

pub fn decompress(z: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    if z.starts_with(&ZSTD_MAGIC) {
        let mut out = Vec::new();
        zstd::stream::read::Decoder::with_buffer(z)?.read_to_end(&mut out)?;
        return Ok(out);
    }
    if let Some(raw) = z.strip_prefix(ZSTD_STORED) {
        return Ok(raw.to_vec());
    }
    let mut d = flate2::read::ZlibDecoder::new(z);
    let mut out = Vec::new();
    d.read_to_end(&mut out)?;
    Ok(out)
}

type AnyQuery<'q> = sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>;

/// Binds what a decision writes, in this order: decision, reasons, unit, report, period, due,
/// deadline, timeliness, findings, evidence, documents, facts.
fn bind_decision<'q>(q: AnyQuery<'q>, m: &'q Submission) -> AnyQuery<'q> {
    let (unit, report, period) = obligation_columns(m.obligation().as_ref());
    q.bind(m.decision.as_str())
        .bind(to_json(&m.reasons))
        .bind(unit)
        .bind(report)
        .bind(period)
        .bind(m.due.map(|d| d.format("%Y-%m-%d").to_string()))
        .bind(m.deadline)
        .bind(m.timeliness.map(|t| t.as_str()))
        .bind(to_json(&m.findings))
        .bind(to_json(&m.evidence))
        .bind(to_json(&m.documents))
        .bind(m.facts.to_string())
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

const MESSAGE_COLS: &str = "id, source_key, sha256, body_sha256, message_id, received_at, from_addr, subject, raw_key, size, decision, reasons, \
    unit, report, period, due, deadline, timeliness, version, findings, evidence, documents, facts, duplicate_of, manual_by, processed_at, part_of";

const AUDIT_COLS: &str = "seq, office, at, kind, actor, subject, data, prev_hash, hash";

fn audit_event(r: &AnyRow) -> Result<audit::Event> {
    Ok(audit::Event {
        seq: r.try_get("seq")?,
        office: r.try_get("office")?,
        at: r.try_get("at")?,
        kind: r.try_get("kind")?,
        actor: r.try_get("actor")?,
        subject: r.try_get("subject")?,
        data: r.try_get("data")?,
        prev_hash: r.try_get("prev_hash")?,
        hash: r.try_get("hash")?,
    })
}

fn corrupt(what: &str, column: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: column {column} holds `{value}`"))
}

fn json_list(what: &str, column: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|_| corrupt(what, column, text))
}

/// Text columns of the obligation triple (unit, report, period) as they are written.
fn obligation_columns(k: Option<&ObligationKey>) -> (Option<String>, Option<String>, Option<String>) {
    match k {
        Some(k) => (Some(k.unit.to_string()), Some(k.report.to_string()), Some(k.period.to_string())),
        None => (None, None, None),
    }
}

impl Store {
    fn period_of(&self, report: Option<&str>, text: &str, what: &str) -> Result<Period> {
        let p: Period = text.parse().map_err(|_| corrupt(what, "period", text))?;
        Ok(match p {
            Period::Year(y) if report.is_some_and(|r| self.once_reports.read().unwrap_or_else(|e| e.into_inner()).contains(r)) => Period::Once(y),
            p => p,
        })
    }

    fn obligation_of(&self, r: &AnyRow, what: &str) -> Result<ObligationKey> {
        let unit: String = r.try_get("unit")?;
        let report: String = r.try_get("report")?;
        let period: String = r.try_get("period")?;
        Ok(ObligationKey {
            unit: UnitId::parse(&unit).map_err(|_| corrupt(what, "unit", &unit))?,
            period: self.period_of(Some(&report), &period, what)?,
            report: ReportId::parse(&report).map_err(|_| corrupt(what, "report", &report))?,
        })
    }

    /// One `messages` row as a typed [`Submission`].
    fn decode(&self, r: &AnyRow) -> Result<Submission> {
        let id: i64 = r.try_get("id")?;
        let what = format!("submission {id}");
        let what = what.as_str();
        let decision: String = r.try_get("decision")?;
        let unit: Option<String> = r.try_get("unit")?;
        let report: Option<String> = r.try_get("report")?;
        let period: Option<String> = r.try_get("period")?;
        let due: Option<String> = r.try_get("due")?;
        let timeliness: Option<String> = r.try_get("timeliness")?;
        let documents: String = r.try_get("documents")?;
        let facts: String = r.try_get("facts")?;
        Ok(Submission {
            id,
            source_key: r.try_get("source_key")?,
            sha256: r.try_get("sha256")?,
            body_sha256: r.try_get("body_sha256")?,
            message_id: r.try_get("message_id")?,
            received_at: r.try_get("received_at")?,
            from_addr: r.try_get("from_addr")?,
            subject: r.try_get("subject")?,
            raw_key: r.try_get("raw_key")?,
            size: r.try_get("size")?,
            decision: Decision::parse(&decision).ok_or_else(|| corrupt(what, "decision", &decision))?,
            reasons: json_list(what, "reasons", &r.try_get::<String, _>("reasons")?)?,
            unit: unit.as_deref().map(|u| UnitId::parse(u).map_err(|_| corrupt(what, "unit", u))).transpose()?,
            period: period.as_deref().map(|p| self.period_of(report.as_deref(), p, what)).transpose()?,
            report: report.as_deref().map(|x| ReportId::parse(x).map_err(|_| corrupt(what, "report", x))).transpose()?,
            due: due.as_deref().map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| corrupt(what, "due", d))).transpose()?,
            deadline: r.try_get("deadline")?,
            timeliness: timeliness.as_deref().map(|t| Timeliness::parse(t).ok_or_else(|| corrupt(what, "timeliness", t))).transpose()?,
            version: r.try_get("version")?,
            findings: json_list(what, "findings", &r.try_get::<String, _>("findings")?)?,
            evidence: json_list(what, "evidence", &r.try_get::<String, _>("evidence")?)?,
            // Documents written by an older version may lack fields added since: read what can be read.
            documents: serde_json::from_str(&documents).unwrap_or_default(),
            facts: serde_json::from_str(&facts).unwrap_or(serde_json::Value::Null),
            duplicate_of: r.try_get("duplicate_of")?,
            manual_by: r.try_get("manual_by")?,
            processed_at: r.try_get("processed_at")?,
            part_of: r.try_get("part_of")?,
            also: vec![],
        })
    }
}

/// One transaction; audit events written through it commit with the change.
pub struct Tx<'a> {
    tx: Transaction<'static, Any>,
    /// The checkpointer, told after the commit (SQLite).
    checkpoint: Option<&'a tokio::sync::mpsc::Sender<()>>,
    backend: Backend,
    office: &'a str,
    /// The audit chain's head as this transaction left it, once read: events appended in one
    /// transaction chain in memory and the head row is written once, at commit (it is locked
    /// for the whole transaction: FOR UPDATE on PostgreSQL, the write lock on SQLite).
    head: Option<AuditHead>,
    /// Rows appended and not yet written (audit events, raw blobs, search entries): written
    /// together, in order, a few dozen per statement, at commit or when a savepoint is kept —
    /// a batch of messages costs a few statements instead of several per message. The audit
    /// chain is computed as events come.
    pending: Pending,
    /// The audit head and how many rows were pending as each open savepoint found them,
    /// restored when one is rolled back.
    savepoints: Vec<(Option<AuditHead>, [usize; 3])>,
    /// Group commit's fast path ([`Tx::fast`]): what it knows ahead, so a new message costs
    /// one statement instead of four.
    fast: Option<Fast>,
}

/// What a fast batch knows ahead of its messages. Only a transaction that never rolls back to
/// a savepoint may hold it (the fast path abandons the whole transaction on any surprise).
#[derive(Debug, Default)]
struct Fast {
    /// The accepted messages of the obligations the batch touches, as (arrival, id) in version
    /// order, each numbered 1, 2, … (an obligation whose stored versions are not in that order
    /// is left out: the full renumbering deals with it).
    versions: HashMap<ObligationKey, Vec<(i64, i64)>>,
    /// Content keys claimed by the batch, written with the pending rows: a key another process
    /// holds makes the commit fail, and the careful path finds out whose it is.
    keys: Vec<(String, i64)>,
}


#[derive(Debug, Default)]
struct Pending {
    audit: Vec<AuditRow>,
    blobs: Vec<(String, i64, Vec<u8>)>,
    search: Vec<(i64, String)>,
}

impl Pending {
    fn marks(&self) -> [usize; 3] {
        [self.audit.len(), self.blobs.len(), self.search.len()]
    }
    fn truncate(&mut self, m: [usize; 3]) {
        self.audit.truncate(m[0]);
        self.blobs.truncate(m[1]);
        self.search.truncate(m[2]);
    }
}

/// `INSERT INTO … VALUES` with `rows` rows of `cols` placeholders.
fn values_sql(head: &str, rows: usize, cols: usize, tail: &str) -> String {
    let mut sql = String::from(head);
    for r in 0..rows {
        sql.push_str(if r > 0 { ",(" } else { " VALUES (" });
        for c in 0..cols {
            if c > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("${}", r * cols + c + 1));
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

#[derive(Debug)]
struct AuditRow {
    at: i64,
    kind: String,
    actor: String,
    subject: String,
    data: String,
    prev: String,
    hash: String,
}

#[derive(Debug, Clone)]
struct AuditHead {
    hash: String,
    /// Events appended since the head was read.
    added: i64,
}

impl Tx<'_> {
    pub async fn commit(mut self) -> Result<()> {
        self.write_pending().await?;
        if let Some(h) = self.head.take().filter(|h| h.added > 0) {
            sqlx::query("UPDATE audit_head SET last_hash = $2, n = n + $3 WHERE office = $1")
                .bind(self.office)
                .bind(&h.hash)
                .bind(h.added)
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        if let Some(c) = self.checkpoint {
            // Full or closed: a checkpoint is under way, or the store is going away.
            let _ = c.try_send(());
        }
        Ok(())
    }

    /// Opens a savepoint: what follows can be undone alone ([`Tx::rollback_to_savepoint`])
    /// while the rest of the transaction stands. Group commit records each message of a batch
    /// inside one, so a message the database refuses does not take its batch with it.
    pub async fn savepoint(&mut self) -> Result<()> {
        debug_assert!(self.fast.is_none(), "a fast transaction has no savepoints");
        // Rows appended before it belong to what it does not undo: written now.
        self.write_pending().await?;
        let name = format!("m{}", self.savepoints.len());
        sqlx::query(&format!("SAVEPOINT {name}")).execute(&mut *self.tx).await?;
        self.savepoints.push((self.head.clone(), self.pending.marks()));
        Ok(())
    }

    /// Writes the pending rows; audit events oldest first (their `seq` follows the order
    /// written).
    async fn write_pending(&mut self) -> Result<()> {
        // Few rows per statement: binding looks parameters up by name, so long lists cost more.
        const ROWS: usize = 32;
        let p = std::mem::take(&mut self.pending);
        for chunk in p.audit.chunks(ROWS) {
            let sql = values_sql("INSERT INTO audit (office, at, kind, actor, subject, data, prev_hash, hash)", chunk.len(), 8, "");
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q.bind(self.office).bind(r.at).bind(&r.kind).bind(&r.actor).bind(&r.subject).bind(&r.data).bind(&r.prev).bind(&r.hash);
            }
            q.execute(&mut *self.tx).await?;
        }
        // Blobs by the dozen, and at most a few MB per statement.
        let mut seen = std::collections::HashSet::new();
        let blobs: Vec<_> = p.blobs.iter().filter(|b| seen.insert(b.0.as_str())).collect();
        let mut start = 0;
        while start < blobs.len() {
            let (mut end, mut bytes) = (start, 0);
            while end < blobs.len() && end - start < 16 && (end == start || bytes + blobs[end].2.len() <= 8 << 20) {
                bytes += blobs[end].2.len();
                end += 1;
            }
            let sql = values_sql("INSERT INTO blobs (key, size, data)", end - start, 3, " ON CONFLICT (key) DO NOTHING");
            let mut q = sqlx::query(&sql);
            for (key, size, data) in &blobs[start..end] {
                q = q.bind(key.as_str()).bind(*size).bind(data.as_slice());
            }
            q.execute(&mut *self.tx).await?;
            start = end;
        }
        if let Some(f) = self.fast.as_mut() {
            let keys = std::mem::take(&mut f.keys);
            for chunk in keys.chunks(ROWS) {
                let sql = values_sql("INSERT INTO content_keys (office, key, message)", chunk.len(), 3, "");
                let mut q = sqlx::query(&sql);
                for (k, id) in chunk {
                    q = q.bind(self.office).bind(k.as_str()).bind(*id);
                }
                q.execute(&mut *self.tx).await?;
            }
        }
        for chunk in p.search.chunks(ROWS) {
            let sql = values_sql("INSERT INTO search (rowid, office, body)", chunk.len(), 3, "");
            let mut q = sqlx::query(&sql);
            for (id, body) in chunk {
                q = q.bind(*id).bind(self.office).bind(body.as_str());
            }
            q.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Keeps what was written since the last savepoint.
    pub async fn release_savepoint(&mut self) -> Result<()> {
        if self.savepoints.is_empty() {
            return Ok(());
        }
        // What it holds is written inside the savepoint: a row the database refuses is undone
        // with the rest of it.
        self.write_pending().await?;
        self.savepoints.pop();
        let name = format!("m{}", self.savepoints.len());
        sqlx::query(&format!("RELEASE SAVEPOINT {name}")).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Undoes what was written since the last savepoint, the audit events too.
    pub async fn rollback_to_savepoint(&mut self) -> Result<()> {
        let Some((head, marks)) = self.savepoints.pop() else { return Ok(()) };
        self.pending.truncate(marks);
        let name = format!("m{}", self.savepoints.len());
        sqlx::query(&format!("ROLLBACK TO SAVEPOINT {name}")).execute(&mut *self.tx).await?;
        sqlx::query(&format!("RELEASE SAVEPOINT {name}")).execute(&mut *self.tx).await?;
        self.head = head;
        Ok(())
    }

    /// Sets aside, inside this transaction, a message that cannot be recorded at all, with an
    /// audit event; its raw bytes are kept when the database takes them.
    pub async fn set_aside(&mut self, source_key: &str, sha256: &str, raw: &[u8], error: &str) -> Result<()> {
        self.savepoint().await?;
        self.put_blob(sha256, raw.len() as i64, compress(raw)).await?;
        let kept = match self.release_savepoint().await {
            Ok(()) => true,
            Err(e) if e.is_transient() => return Err(e),
            Err(_) => {
                self.rollback_to_savepoint().await?;
                false
            }
        };
        sqlx::query("INSERT INTO set_aside (office, source_key, sha256, at, error) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (office, source_key) DO NOTHING")
            .bind(self.office)
            .bind(storable(source_key).as_ref())
            .bind(sha256)
            .bind(now())
            .bind(storable(error).as_ref())
            .execute(&mut *self.tx)
            .await?;
        let key = storable(source_key).into_owned();
        self.audit("message_set_aside", "baocao", &key, &serde_json::json!({"sha256": sha256, "error": error, "raw_kept": kept, "size": raw.len()})).await
    }

    /// Stores a request read from a letter, waiting for a clerk; None when a request with this
    /// report id is already stored (the same letter added again).
    pub async fn insert_request(&mut self, r: &StoredRequest) -> Result<Option<i64>> {
        let row = sqlx::query(
            "INSERT INTO requests (office, report, number, letter_date, subject, state, reading, source, message_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (office, report) DO NOTHING RETURNING id",
        )
        .bind(self.office)
        .bind(&r.report)
        .bind(&r.number)
        .bind(&r.letter_date)
        .bind(&r.subject)
        .bind(r.state.as_str())
        .bind(r.reading.to_string())
        .bind(&r.source)
        .bind(&r.message_id)
        .bind(r.created_at)
        .bind(&r.created_by)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| r.try_get::<i64, _>("id")).transpose().map_err(Into::into)
    }

    /// Sets a request's state (and what was confirmed) if it is still `from`; false otherwise.
    pub async fn decide_request(&mut self, id: i64, from: crate::domain::RequestState, to: crate::domain::RequestState, reading: &serde_json::Value, by: &str) -> Result<bool> {
        let done = sqlx::query("UPDATE requests SET state = $3, reading = $4, decided_at = $5, decided_by = $6 WHERE office = $1 AND id = $2 AND state = $7")
            .bind(self.office)
            .bind(id)
            .bind(to.as_str())
            .bind(reading.to_string())
            .bind(now())
            .bind(by)
            .bind(from.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Appends one audit event, chained to the office's previous one.
    pub async fn audit(&mut self, kind: &str, actor: &str, subject: &str, data: &serde_json::Value) -> Result<()> {
        let prev = match &self.head {
            Some(h) => h.hash.clone(),
            None => {
                sqlx::query("INSERT INTO audit_head (office, last_hash, n) VALUES ($1, '', 0) ON CONFLICT (office) DO NOTHING")
                    .bind(self.office)
                    .execute(&mut *self.tx)
                    .await?;
                let row = match self.backend {
                    Backend::Postgres => {
                        sqlx::query("SELECT last_hash FROM audit_head WHERE office = $1 FOR UPDATE").bind(self.office).fetch_one(&mut *self.tx).await?
                    }
                    Backend::Sqlite => sqlx::query("SELECT last_hash FROM audit_head WHERE office = $1").bind(self.office).fetch_one(&mut *self.tx).await?,
                };
                row.try_get("last_hash")?
            }
        };
        let at = now();
        let data = storable(&data.to_string()).into_owned();
        let (actor, subject) = (storable(actor), storable(subject));
        let (actor, subject) = (actor.as_ref(), subject.as_ref());
        let hash = audit::hash(&prev, self.office, at, kind, actor, subject, &data);
        self.pending.audit.push(AuditRow { at, kind: kind.to_string(), actor: actor.to_string(), subject: subject.to_string(), data, prev, hash: hash.clone() });
        let added = self.head.as_ref().map_or(0, |h| h.added) + 1;
        self.head = Some(AuditHead { hash, added });
        Ok(())
    }

    /// A search entry written with the transaction's other pending rows.
    fn pending_search(&mut self, id: i64, body: String) {
        self.pending.search.push((id, body));
    }

    fn drop_pending_search(&mut self, id: i64) {
        self.pending.search.retain(|(i, _)| *i != id);
    }

    pub async fn put_blob(&mut self, key: &str, size: i64, data: Vec<u8>) -> Result<()> {
        self.pending.blobs.push((key.to_string(), size, data));
        Ok(())
    }

    /// Inserts a received message; `None` when its source key was already recorded (by a
    /// concurrent or earlier run), in which case the caller rolls back. The version is left to
    /// [`Tx::renumber`].
    pub async fn insert_message(&mut self, m: &Submission) -> Result<Option<i64>> {
        // The fast path numbers a message that is its obligation's newest as it inserts it.
        let version = self.next_version(m);
        let q = sqlx::query(
            "INSERT INTO messages (office, source_key, sha256, body_sha256, message_id, received_at, from_addr, subject, raw_key, size, \
             decision, reasons, unit, report, period, due, deadline, timeliness, version, findings, evidence, documents, facts, duplicate_of, manual_by, processed_at, part_of) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $27, $19, $20, $21, $22, $23, $24, $25, $26) \
             ON CONFLICT (office, source_key) DO NOTHING RETURNING id",
        )
        .bind(self.office)
        .bind(storable(&m.source_key).into_owned())
        .bind(&m.sha256)
        .bind(&m.body_sha256)
        .bind(storable_opt(&m.message_id))
        .bind(m.received_at)
        .bind(storable_opt(&m.from_addr))
        .bind(storable_opt(&m.subject))
        .bind(&m.raw_key)
        .bind(m.size);
        let r = bind_decision(q, m).bind(m.duplicate_of).bind(&m.manual_by).bind(now()).bind(m.part_of).bind(version).fetch_optional(&mut *self.tx).await?;
        let id = match r {
            Some(r) => r.try_get::<i64, _>("id")?,
            None => return Ok(None),
        };
        if let (Some(_), Some(f), Some(ob)) = (version, self.fast.as_mut(), m.obligation()) {
            f.versions.entry(ob).or_default().push((m.received_at, id));
        }
        self.add_search(id, m).await?;
        Ok(Some(id))
    }

    /// Makes this a fast transaction (group commit's first attempt, which never rolls back to
    /// a savepoint): the versions of the obligations `touched` are read at once, and content
    /// keys are written with the pending rows.
    pub async fn fast(&mut self, touched: &[ObligationKey]) -> Result<()> {
        let mut f = Fast::default();
        let mut obs: Vec<&ObligationKey> = Vec::new();
        for k in touched {
            if !obs.contains(&k) {
                obs.push(k);
            }
        }
        for chunk in obs.chunks(16) {
            // One indexed lookup per obligation (an OR of them had the planner scan every
            // accepted message).
            let mut sql = String::new();
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push_str(" UNION ALL ");
                }
                sql.push_str(&format!(
                    "SELECT unit, report, period, id, received_at, version FROM messages WHERE office = $1 AND unit = ${} AND report = ${} AND period = ${} AND decision = $2",
                    3 + 3 * i,
                    4 + 3 * i,
                    5 + 3 * i
                ));
            }
            sql.push_str(" ORDER BY received_at, id");
            let mut q = sqlx::query(&sql).bind(self.office).bind(Decision::Accepted.as_str());
            for k in chunk {
                q = q.bind(k.unit.as_str()).bind(k.report.as_str()).bind(k.period.to_string());
            }
            let rows = q.fetch_all(&mut *self.tx).await?;
            // Each obligation's (arrival, id) list, and whether its stored versions are 1, 2, ….
            type Read = (Vec<(i64, i64)>, bool);
            let mut got: HashMap<&ObligationKey, Read> = chunk.iter().map(|k| (*k, (Vec::new(), true))).collect();
            for r in &rows {
                let (unit, report, period): (String, String, String) = (r.try_get("unit")?, r.try_get("report")?, r.try_get("period")?);
                let Some((list, in_order)) = chunk.iter().find(|k| k.unit.as_str() == unit && k.report.as_str() == report && k.period.to_string() == period).and_then(|k| got.get_mut(*k)) else {
                    continue;
                };
                list.push((r.try_get("received_at")?, r.try_get("id")?));
                if r.try_get::<Option<i64>, _>("version")? != Some(list.len() as i64) {
                    *in_order = false;
                }
            }
            for (k, (list, in_order)) in got {
                if in_order {
                    f.versions.insert(k.clone(), list);
                }
            }
        }
        self.fast = Some(f);
        Ok(())
    }

    /// The version a fast transaction gives an accepted message as it inserts it: one more
    /// than its obligation's, when it arrived after all of them. None otherwise (the caller
    /// renumbers the obligation in full).
    fn next_version(&mut self, m: &Submission) -> Option<i64> {
        if m.decision != Decision::Accepted {
            return None;
        }
        let ob = m.obligation()?;
        let f = self.fast.as_mut()?;
        let list = f.versions.get(&ob)?;
        if list.last().is_some_and(|(at, _)| *at > m.received_at) {
            // Arrived before a version already stored: every later one moves up.
            f.versions.remove(&ob);
            return None;
        }
        Some(list.len() as i64 + 1)
    }

    /// Whether the fast path numbered this message as it inserted it.
    pub fn numbered(&self, ob: &ObligationKey, id: i64) -> Option<i64> {
        let list = self.fast.as_ref()?.versions.get(ob)?;
        list.iter().position(|(_, i)| *i == id).map(|p| p as i64 + 1)
    }

    /// Takes a new message's content keys for it. `Some(original)` when another message already
    /// holds one (recorded meanwhile by another process): the caller rolls back and records a
    /// duplicate of that original instead.
    pub async fn claim_content_keys(&mut self, id: i64, sha256: &str, message_id: Option<&str>, body_sha256: &str) -> Result<Option<i64>> {
        let mut keys = vec![format!("sha:{sha256}")];
        if let Some(mid) = message_id {
            keys.push(storable(&format!("mid:{mid}:{body_sha256}")).into_owned());
        }
        if let Some(f) = self.fast.as_mut() {
            f.keys.extend(keys.into_iter().map(|k| (k, id)));
            return Ok(None);
        }
        // One statement for every key; a key it did not insert is held by another message.
        let sql = values_sql("INSERT INTO content_keys (office, key, message)", keys.len(), 3, " ON CONFLICT (office, key) DO NOTHING RETURNING key");
        let mut q = sqlx::query(&sql);
        for k in &keys {
            q = q.bind(self.office).bind(k.as_str()).bind(id);
        }
        let claimed: Vec<String> = q.fetch_all(&mut *self.tx).await?.iter().map(|r| r.try_get("key")).collect::<std::result::Result<_, _>>()?;
        for k in keys.iter().filter(|k| !claimed.contains(k)) {
            let held = sqlx::query("SELECT message FROM content_keys WHERE office = $1 AND key = $2").bind(self.office).bind(k).fetch_one(&mut *self.tx).await?;
            return Ok(Some(held.try_get("message")?));
        }
        Ok(None)
    }

    /// Rewrites the decision of a message (review, reprocess). Its version is left to
    /// [`Tx::renumber`].
    pub async fn update_decision(&mut self, m: &Submission) -> Result<()> {
        let q = sqlx::query(
            "UPDATE messages SET decision = $3, reasons = $4, unit = $5, report = $6, period = $7, due = $8, deadline = $9, timeliness = $10, \
             findings = $11, evidence = $12, documents = $13, facts = $14, manual_by = $15, version = NULL, processed_at = $16 WHERE office = $1 AND id = $2",
        )
        .bind(self.office)
        .bind(m.id);
        bind_decision(q, m).bind(&m.manual_by).bind(now()).execute(&mut *self.tx).await?;
        self.index_search(m.id, m).await
    }

    /// The first accepted version of an obligation, other than message `except`: its arrival
    /// and timeliness (an obligation's timeliness is its first version's, SPEC §7).
    pub async fn first_accepted(&mut self, ob: &ObligationKey, except: i64) -> Result<Option<(i64, Option<Timeliness>)>> {
        let row = sqlx::query(
            "SELECT received_at, timeliness FROM messages WHERE office = $1 AND unit = $2 AND report = $3 AND period = $4 AND decision = $5 AND id <> $6 ORDER BY received_at, id LIMIT 1",
        )
        .bind(self.office)
        .bind(ob.unit.as_str())
        .bind(ob.report.as_str())
        .bind(ob.period.to_string())
        .bind(Decision::Accepted.as_str())
        .bind(except)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| {
            let t: Option<String> = r.try_get("timeliness")?;
            Ok((r.try_get("received_at")?, t.as_deref().and_then(Timeliness::parse)))
        })
        .transpose()
    }

    /// Numbers the accepted versions of one obligation by arrival and returns them.
    pub async fn renumber(&mut self, ob: &ObligationKey) -> Result<Versions> {
        // The fast path's numbers of this obligation no longer hold once it is renumbered.
        if let Some(f) = self.fast.as_mut() {
            f.versions.remove(ob);
        }
        let rows = sqlx::query(
            "SELECT id, version FROM messages WHERE office = $1 AND unit = $2 AND report = $3 AND period = $4 AND decision = $5 ORDER BY received_at, id",
        )
        .bind(self.office)
        .bind(ob.unit.as_str())
        .bind(ob.report.as_str())
        .bind(ob.period.to_string())
        .bind(Decision::Accepted.as_str())
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let id: i64 = r.try_get("id")?;
            let v = i as i64 + 1;
            out.push((id, v));
            // Only the versions that change are written: a new latest version writes one row,
            // not all of them again (a unit resending a report thousands of times).
            if r.try_get::<Option<i64>, _>("version")? == Some(v) {
                continue;
            }
            sqlx::query("UPDATE messages SET version = $3 WHERE office = $1 AND id = $2")
                .bind(self.office)
                .bind(id)
                .bind(v)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(out)
    }

    pub async fn exempt(&mut self, ob: &ObligationKey, reason: &str, by: &str) -> Result<()> {
        let (reason, by) = (storable(reason), storable(by));
        let (reason, by) = (reason.as_ref(), by.as_ref());
        let sql = "INSERT INTO exemptions (office, unit, report, period, reason, by_whom, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                   ON CONFLICT (office, unit, report, period) DO UPDATE SET reason = $5, by_whom = $6, at = $7";
        sqlx::query(sql)
            .bind(self.office)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .bind(reason)
            .bind(by)
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Removes an exemption; false when there was none.
    pub async fn withdraw_exemption(&mut self, ob: &ObligationKey) -> Result<bool> {
        let r = sqlx::query("DELETE FROM exemptions WHERE office = $1 AND unit = $2 AND report = $3 AND period = $4")
            .bind(self.office)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records that a reminder stage was decided; false when it already was.
    pub async fn record_stage(&mut self, key: &str, ob: &ObligationKey, at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO reminder_stages (office, key, unit, report, period, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (office, key) DO NOTHING RETURNING key",
        )
        .bind(self.office)
        .bind(key)
        .bind(ob.unit.as_str())
        .bind(ob.report.as_str())
        .bind(ob.period.to_string())
        .bind(at)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(r.is_some())
    }

    /// Acknowledgements queued to `recipient` at or after `since` (the flood limit's count).
    pub async fn acks_to_since(&mut self, recipient: &str, since: i64) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE office = $1 AND kind = 'ack' AND created_at >= $2 AND recipients = $3")
            .bind(self.office)
            .bind(since)
            .bind(serde_json::to_string(&[recipient]).unwrap_or_default())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Queues an outgoing mail under its idempotency key; false when the key was already queued.
    pub async fn queue_mail(&mut self, key: &str, kind: &str, recipients: &[String], message: &[u8], at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO outbox (office, key, kind, recipients, message, created_at, state, attempts, next_attempt_at, claimed_until) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $6, 0) ON CONFLICT (office, key) DO NOTHING RETURNING id",
        )
        .bind(self.office)
        .bind(key)
        .bind(kind)
        .bind(serde_json::to_string(recipients).unwrap_or_default())
        .bind(message.to_vec())
        .bind(at)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(r.is_some())
    }
}

/// Held while this instance polls a mailbox; dropping it (or dying) lets another take over.
pub struct MailboxLock {
    conn: Option<sqlx::pool::PoolConnection<Any>>,
}

impl MailboxLock {
    /// Whether the lock's connection is still alive (a database restart drops the lock).
    pub async fn alive(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => sqlx::query("SELECT 1 AS one").fetch_one(&mut **c).await.is_ok(),
        }
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub by_decision: Vec<(String, i64)>,
    pub parse_errors: i64,
    pub outbox: Vec<(String, String, i64)>,
}

/// One queued outgoing mail.
#[derive(Debug, Clone)]
pub struct OutMail {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub recipients: Vec<String>,
    pub message: Vec<u8>,
    pub attempts: i64,
    pub created_at: i64,
    /// The `claimed_until` this sender set when it claimed the mail (0: not claimed here). A
    /// sender whose claim lapsed and was taken over finds it changed and leaves the mail alone.
    pub claim: i64,
}

/// One outbox row as people list it.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub recipients: Vec<String>,
    pub state: crate::domain::OutboxState,
    pub attempts: i64,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

/// The outbox waiting as a whole for its server.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxBlock {
    pub since: i64,
    pub error: String,
    pub failures: i64,
    pub next_try: i64,
    pub notified: bool,
}

/// An outbox row as a mail; `message` stays empty when the query did not select it (settling
/// needs only the key and recipients).
fn out_mail(r: &AnyRow) -> Result<OutMail> {
    let rec: String = r.try_get("recipients")?;
    Ok(OutMail {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        kind: r.try_get("kind")?,
        recipients: serde_json::from_str(&rec).unwrap_or_default(),
        message: r.try_get("message").unwrap_or_default(),
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at").unwrap_or(0),
        claim: 0,
    })
}

impl Store {
    /// Claims up to `n` due mails for `lease` seconds. A claim that outlives a crashed sender
    /// expires and the mail is claimed again; the transport's idempotency (file name / key) and
    /// the `sent` mark make that a retry, not a second mail.
    ///
    /// Oldest first; with `fair` (an account whose provider limits mail per day), the kinds take
    /// turns — each kind's next mail goes in the order of how many that kind has sent in the
    /// last 24 hours, then by age — so that under the limit a morning's reminders never hold
    /// back the day's acknowledgements, nor a flood of acknowledgements the reminders.
    pub async fn claim_mail(&self, n: i64, lease: i64, fair: bool) -> Result<Vec<OutMail>> {
        let t = now();
        let mut tx = self.transaction().await?;
        let due = "office = $1 AND state = 'queued' AND next_attempt_at <= $2 AND claimed_until < $2";
        // A kind's turn counts what it sent in the rolling day, so the turns hold across runs.
        let sent = "(SELECT COUNT(*) FROM outbox s WHERE s.office = $1 AND s.state = 'sent' AND s.sent_at >= $2 - 86400 AND s.kind = outbox.kind)";
        let sql = match (self.backend, fair) {
            (Backend::Postgres, false) => format!("SELECT id, key, kind, recipients, message, attempts, created_at FROM outbox WHERE {due} ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED"),
            (Backend::Sqlite, false) => format!("SELECT id, key, kind, recipients, message, attempts, created_at FROM outbox WHERE {due} ORDER BY id LIMIT $3"),
            (Backend::Postgres, true) => format!(
                "SELECT o.id, o.key, o.kind, o.recipients, o.message, o.attempts, o.created_at FROM outbox o \
                 JOIN (SELECT id, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY id) + {sent} AS turn FROM outbox WHERE {due}) r ON r.id = o.id \
                 ORDER BY r.turn, o.id LIMIT $3 FOR UPDATE OF o SKIP LOCKED"
            ),
            (Backend::Sqlite, true) => format!(
                "SELECT id, key, kind, recipients, message, attempts, created_at FROM \
                 (SELECT *, ROW_NUMBER() OVER (PARTITION BY kind ORDER BY id) + {sent} AS turn FROM outbox WHERE {due}) ORDER BY turn, id LIMIT $3"
            ),
        };
        let sql = sql.as_str();
        let rows = sqlx::query(sql).bind(&self.office).bind(t).bind(n).fetch_all(&mut *tx).await?;
        let mut out = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            sqlx::query("UPDATE outbox SET claimed_until = $2 WHERE id = $1").bind(id).bind(t + lease).execute(&mut *tx).await?;
            out.push(OutMail { claim: t + lease, ..out_mail(&r)? });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The mails waiting in the outbox, and their recipients.
    pub async fn queued_recipients(&self) -> Result<(i64, i64)> {
        let rows = sqlx::query("SELECT recipients FROM outbox WHERE office = $1 AND state = 'queued'").bind(&self.office).fetch_all(&self.pool).await?;
        let mut n = 0;
        for r in &rows {
            let rec: String = r.try_get("recipients")?;
            n += serde_json::from_str::<Vec<String>>(&rec).map(|v| v.len() as i64).unwrap_or(1);
        }
        Ok((rows.len() as i64, n))
    }

    /// How many recipients the mail sent since `since` had: what a provider's daily limit
    /// counts (refused recipients too: the provider counted them).
    pub async fn recipients_sent_since(&self, since: i64) -> Result<i64> {
        let rows = sqlx::query("SELECT recipients FROM outbox WHERE office = $1 AND state = 'sent' AND sent_at >= $2").bind(&self.office).bind(since).fetch_all(&self.pool).await?;
        let mut n = 0;
        for r in rows {
            let rec: String = r.try_get("recipients")?;
            n += serde_json::from_str::<Vec<String>>(&rec).map(|v| v.len() as i64).unwrap_or(1);
        }
        Ok(n)
    }

    /// Marks a mail delivered; `note` says why when delivery is assumed rather than confirmed;
    /// `refused` are the recipients the server refused for good while taking it for the others.
    pub async fn mark_sent(&self, m: &OutMail, note: Option<&str>, refused: &[(String, String)]) -> Result<()> {
        let mut tx = self.begin().await?;
        let error = if refused.is_empty() {
            note.map(str::to_string)
        } else {
            let r: Vec<String> = refused.iter().map(|(a, why)| format!("{a}: {why}")).collect();
            Some(format!("refused by the server: {}", r.join("; ")))
        };
        sqlx::query("UPDATE outbox SET state = 'sent', sent_at = $2, attempts = attempts + 1, last_error = $3 WHERE id = $1")
            .bind(m.id)
            .bind(now())
            .bind(error)
            .execute(&mut *tx.tx)
            .await?;
        let delivered: Vec<&String> = m.recipients.iter().filter(|r| !refused.iter().any(|(a, _)| a == *r)).collect();
        tx.audit("mail_sent", "baocao", &m.key, &serde_json::json!({"kind": m.kind, "to": delivered, "note": note})).await?;
        for (a, why) in refused {
            tx.audit("mail_recipient_refused", "baocao", &m.key, &serde_json::json!({"recipient": a, "reply": why})).await?;
        }
        tx.commit().await
    }

    /// Gives a claimed mail back untouched (its connection failed, not the mail).
    pub async fn release(&self, m: &OutMail) -> Result<()> {
        sqlx::query("UPDATE outbox SET claimed_until = 0 WHERE id = $1 AND state = 'queued' AND claimed_until = $2").bind(m.id).bind(m.claim).execute(&self.pool).await?;
        Ok(())
    }

    /// The outbox's block, while its server cannot be reached.
    pub async fn outbox_block(&self) -> Result<Option<OutboxBlock>> {
        let r = sqlx::query("SELECT since, error, failures, next_try, notified FROM outbox_block WHERE office = $1").bind(&self.office).fetch_optional(&self.pool).await?;
        Ok(match r {
            Some(r) => Some(OutboxBlock {
                since: r.try_get("since")?,
                error: r.try_get("error")?,
                failures: r.try_get("failures")?,
                next_try: r.try_get("next_try")?,
                notified: r.try_get::<i64, _>("notified")? != 0,
            }),
            None => None,
        })
    }

    /// Records that the server could not be reached: the outbox waits (1 min, doubling to
    /// 30 min). The first time, an audit event says why.
    pub async fn block_outbox(&self, error: &str) -> Result<()> {
        let t = now();
        let mut tx = self.begin().await?;
        let r = sqlx::query("SELECT failures FROM outbox_block WHERE office = $1").bind(&self.office).fetch_optional(&mut *tx.tx).await?;
        match r {
            Some(r) => {
                let failures: i64 = r.try_get("failures")?;
                let wait = (60i64 << failures.min(5)).min(1800);
                sqlx::query("UPDATE outbox_block SET error = $2, failures = failures + 1, next_try = $3 WHERE office = $1")
                    .bind(&self.office)
                    .bind(storable(error).as_ref())
                    .bind(t + wait)
                    .execute(&mut *tx.tx)
                    .await?;
            }
            None => {
                sqlx::query("INSERT INTO outbox_block (office, since, error, failures, next_try, notified) VALUES ($1, $2, $3, 1, $4, 0)")
                    .bind(&self.office)
                    .bind(t)
                    .bind(storable(error).as_ref())
                    .bind(t + 60)
                    .execute(&mut *tx.tx)
                    .await?;
                tx.audit("outbox_blocked", "baocao", "outbox", &serde_json::json!({"error": error})).await?;
            }
        }
        tx.commit().await
    }

    /// The server took a mail again: the block ends (with an audit event when there was one).
    pub async fn unblock_outbox(&self) -> Result<()> {
        let mut tx = self.begin().await?;
        let r = sqlx::query("DELETE FROM outbox_block WHERE office = $1").bind(&self.office).execute(&mut *tx.tx).await?;
        if r.rows_affected() > 0 {
            tx.audit("outbox_unblocked", "baocao", "outbox", &serde_json::json!({})).await?;
        }
        tx.commit().await
    }

    /// Marks the block's notice to the office as queued (once per block).
    pub async fn outbox_block_notified(&self) -> Result<()> {
        sqlx::query("UPDATE outbox_block SET notified = 1 WHERE office = $1").bind(&self.office).execute(&self.pool).await?;
        Ok(())
    }

    /// The outbox, newest first, optionally in one state.
    pub async fn outbox_rows(&self, state: Option<crate::domain::OutboxState>, limit: i64) -> Result<Vec<OutboxRow>> {
        let rows = sqlx::query(
            "SELECT id, key, kind, recipients, state, attempts, created_at, sent_at, next_attempt_at, last_error FROM outbox \
             WHERE office = $1 AND ($2 = '' OR state = $2) ORDER BY id DESC LIMIT $3",
        )
        .bind(&self.office)
        .bind(state.map(|s| s.as_str()).unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let rec: String = r.try_get("recipients")?;
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    key: r.try_get("key")?,
                    kind: r.try_get("kind")?,
                    recipients: serde_json::from_str(&rec).unwrap_or_default(),
                    state: {
                        let s: String = r.try_get("state")?;
                        crate::domain::OutboxState::parse(&s).ok_or_else(|| corrupt("an outgoing mail", "state", &s))?
                    },
                    attempts: r.try_get("attempts")?,
                    created_at: r.try_get("created_at")?,
                    sent_at: r.try_get("sent_at")?,
                    next_attempt_at: r.try_get("next_attempt_at")?,
                    last_error: r.try_get("last_error")?,
                })
            })
            .collect()
    }

    /// Queues mails again for a person: the given ids (failed or queued, never sent), or every
    /// failed one. Returns the keys requeued.
    pub async fn retry_mail(&self, ids: &[i64], failed: bool, by: &str) -> Result<Vec<String>> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query("SELECT id, key, state FROM outbox WHERE office = $1 AND state IN ('failed', 'queued') ORDER BY id").bind(&self.office).fetch_all(&mut *tx.tx).await?;
        let mut keys = Vec::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let state: String = r.try_get("state")?;
            if !(ids.contains(&id) || (failed && state == crate::domain::OutboxState::Failed.as_str())) {
                continue;
            }
            sqlx::query("UPDATE outbox SET state = 'queued', next_attempt_at = $2, claimed_until = 0, attempts = 0, created_at = $2 WHERE id = $1").bind(id).bind(now()).execute(&mut *tx.tx).await?;
            let key: String = r.try_get("key")?;
            tx.audit("mail_retry", by, &key, &serde_json::json!({"was": state})).await?;
            keys.push(key);
        }
        tx.commit().await?;
        self.try_server_now().await?;
        Ok(keys)
    }

    /// Ends the outbox's wait for its server (a person asked to deliver now); the block itself,
    /// and its notice, end only when a mail goes.
    pub async fn try_server_now(&self) -> Result<()> {
        sqlx::query("UPDATE outbox_block SET next_try = 0 WHERE office = $1").bind(&self.office).execute(&self.pool).await?;
        Ok(())
    }

    /// Opens the transaction that records a mail as handed over to the SMTP server. The caller
    /// writes the final dot while it is open and commits right after: the commit is then one
    /// short message on a connection already held, the smallest gap between "the server has
    /// it" and "the database knows" (see `notify::smtp`).
    pub async fn begin_handing_over(&self, m: &OutMail) -> Result<Option<Tx<'_>>> {
        let mut tx = self.begin().await?;
        // Only while this sender's claim stands: a server slower than the lease may have let
        // another sender claim the mail; then it is theirs, and this one must not end its data.
        let r = sqlx::query("UPDATE outbox SET state = 'handing_over' WHERE id = $1 AND state = 'queued' AND claimed_until = $2")
            .bind(m.id)
            .bind(m.claim)
            .execute(&mut *tx.tx)
            .await?;
        Ok((r.rows_affected() == 1).then_some(tx))
    }

    /// Settles one mail by key as delivered (a hand-over journal says its final dot went out).
    /// Only a mail still claimed (no verdict recorded): one the server refused after its dot
    /// was released by `mark_failed` (claim cleared) and is retried, not settled.
    /// Returns false when there was nothing to settle.
    pub async fn settle_key(&self, key: &str, note: &str) -> Result<bool> {
        let r = sqlx::query("SELECT id, key, kind, recipients, attempts, created_at FROM outbox WHERE office = $1 AND key = $2 AND state IN ('queued', 'handing_over') AND claimed_until > 0")
            .bind(&self.office)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        let Some(r) = r else { return Ok(false) };
        self.mark_sent(&out_mail(&r)?, Some(note), &[]).await?;
        Ok(true)
    }

    /// Settles mails a crashed sender left handing over (their claim expired): delivered.
    /// Returns their keys.
    pub async fn settle_handed_over(&self) -> Result<Vec<String>> {
        let t = now();
        let rows = sqlx::query("SELECT id, key, kind, recipients, attempts, created_at FROM outbox WHERE office = $1 AND state = 'handing_over' AND claimed_until < $2")
            .bind(&self.office)
            .bind(t)
            .fetch_all(&self.pool)
            .await?;
        let mut keys = Vec::new();
        for r in rows {
            let m = out_mail(&r)?;
            self.mark_sent(&m, Some("the sender stopped after handing the whole message over; taken as delivered"), &[]).await?;
            keys.push(m.key);
        }
        Ok(keys)
    }

    pub async fn mark_failed(&self, m: &OutMail, error: &str, give_up: bool, retry_at: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        // A sender whose claim was taken over leaves the mail to the one that has it now.
        let r = sqlx::query(
            "UPDATE outbox SET state = $2, attempts = attempts + 1, last_error = $3, next_attempt_at = $4, claimed_until = 0 \
             WHERE id = $1 AND ($5 = 0 OR (state = 'queued' AND claimed_until = $5))",
        )
        .bind(m.id)
        .bind(if give_up { crate::domain::OutboxState::Failed } else { crate::domain::OutboxState::Queued }.as_str())
        .bind(error)
        .bind(retry_at)
        .bind(m.claim)
        .execute(&mut *tx.tx)
        .await?;
        if r.rows_affected() == 0 {
            return Ok(());
        }
        if give_up {
            tx.audit("mail_failed", "baocao", &m.key, &serde_json::json!({"error": error})).await?;
        }
        tx.commit().await
    }

    pub async fn outbox_depth(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE office = $1 AND state = 'queued'").bind(&self.office).fetch_one(&self.pool).await?;
        Ok(r.try_get("n")?)
    }

    /// The key of the office's reminder whose Message-ID is one of `ids` (a reply's
    /// `In-Reply-To` and `References`). The office's Message-IDs are the first 32 hex digits of
    /// the SHA-256 of the mail's key at the office's domain, so only ids of that shape are
    /// looked for.
    pub async fn reminder_replied(&self, ids: &[String], domain: &str) -> Result<Option<String>> {
        let wanted: Vec<String> = ids
            .iter()
            .filter_map(|id| {
                let (local, host) = id.trim_matches(['<', '>', ' ']).split_once('@')?;
                (host.eq_ignore_ascii_case(domain) && local.len() == 32 && local.bytes().all(|b| b.is_ascii_hexdigit())).then(|| local.to_ascii_lowercase())
            })
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let rows = sqlx::query("SELECT key FROM outbox WHERE office = $1 AND kind = 'reminder' ORDER BY id DESC").bind(&self.office).fetch_all(&self.read).await?;
        for r in rows {
            let key: String = r.try_get("key")?;
            if wanted.contains(&crate::digest::sha256_hex(key.as_bytes())[..32].to_string()) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    pub async fn outbox_keys(&self) -> Result<Vec<(String, String, String)>> {
        let rows = sqlx::query("SELECT key, kind, state FROM outbox WHERE office = $1 ORDER BY id").bind(&self.office).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok((r.try_get("key")?, r.try_get("kind")?, r.try_get("state")?))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_messages_round_trip_through_zstd_and_blobs_written_with_zlib_are_still_read() {
        let raw = b"From: a@x.example\r\nSubject: hello\r\n\r\nUEsDBBQAAAAIAA==\r\n".repeat(50);
        let z = compress(&raw);
        assert!(z.starts_with(&ZSTD_MAGIC) && z.len() < raw.len(), "zstd, and smaller");
        assert_eq!(decompress(&z).unwrap(), raw);
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&raw).unwrap();
        assert_eq!(decompress(&e.finish().unwrap()).unwrap(), raw, "an older database's blob");
        assert!(decompress(b"not a blob").is_err(), "garbage is an error, not empty bytes");
    }

    #[tokio::test]
    async fn a_commit_is_copied_into_the_database_file_by_the_checkpointer_not_left_in_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://t.db\"\n";
        let cfg = Config::from_str_at(text, &dir.path().join("c.toml")).unwrap();
        let store = Store::open(&cfg).await.unwrap();
        let db = dir.path().join("t.db");
        let before = std::fs::metadata(&db).unwrap().len();
        // 2 MB stored as given (put_blob takes bytes already compressed): 500 pages, far below
        // the writer's own threshold, so only the checkpointer can have copied them into the file.
        let blob = vec![7u8; 2 << 20];
        let mut tx = store.begin().await.unwrap();
        tx.put_blob("k", blob.len() as i64, blob).await.unwrap();
        tx.commit().await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::fs::metadata(&db).unwrap().len() < before + (2 << 20) {
            assert!(std::time::Instant::now() < deadline, "the database file stayed at {} bytes: nothing was checkpointed", std::fs::metadata(&db).unwrap().len());
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}
