//! Storage: the only place SQL lives. sqlx's `Any` driver over SQLite (WAL, the embedded default)
//! or PostgreSQL (shared, multi-instance), with migrations for both under `migrations/`, applied
//! at start. Queries use `$n` placeholders, which both engines accept, and portable types
//! (BIGINT seconds, TEXT JSON, BLOB/BYTEA), so one query text serves both.
//!
//! Every change is made in a [`Tx`], and the audit events its caller appends through it (office
//! for decisions, intake for a message set aside, the deliverer for what the server answered)
//! commit with the change or not at all; no method here writes an event of its own. Several offices may share one database; every row carries the
//! office address as its tenant key.
//!
//! This file holds what every aggregate shares: opening the database (migrations, SQLite's
//! checkpointer), the transaction [`Tx`] (savepoints, the rows it writes in batches at commit)
//! and the helpers that read columns back as typed values. Each aggregate has a file of its
//! own, adding its reads to [`Store`] and its writes to [`Tx`]: `messages` (received mail, raw
//! blobs, content keys, versions), `requests`, `exemptions`, `extensions`, `reminders`
//! (stages), `outbox`, `audit_chain`, `mailbox` (sync points and the polling lock), `jobs`
//! (scheduled runs), `directory`, `figures`, `mail` (mail that is not a report) and `console`
//! (accounts, sessions, search).

use crate::audit;
use crate::config::{Config, Database};
use crate::domain::{ObligationKey, Period, PeriodKind, ReportId, UnitId};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use std::collections::HashMap;

// One file per aggregate; each adds its reads to `Store` and its writes to `Tx`.
mod audit_chain;
mod console;
mod directory;
mod exemptions;
mod extensions;
mod figures;
mod jobs;
mod mail;
mod mailbox;
mod messages;
mod outbox;
mod reminders;
mod requests;
pub use console::{search_body, Account, Session, SubmissionFilter};
pub use directory::{DirectoryRow, Entry};
pub use exemptions::Exemption;
pub use figures::{FigureCell, PeriodUnits, StoredFigures};
pub use mail::Handled;
pub use mailbox::MailboxLock;
pub use messages::{Known, Submission, Versions};
pub use outbox::{OutMail, OutboxBlock, OutboxRow};
pub use requests::StoredRequest;

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

    /// For the library's own tests: one statement as is (an outbox row made old).
    #[cfg(test)]
    pub(crate) async fn execute_raw(&self, sql: &str) -> Result<u64> {
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
    kind: audit::Kind,
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
                q = q.bind(self.office).bind(r.at).bind(r.kind.as_str()).bind(&r.actor).bind(&r.subject).bind(&r.data).bind(&r.prev).bind(&r.hash);
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

    /// A search entry written with the transaction's other pending rows.
    fn pending_search(&mut self, id: i64, body: String) {
        self.pending.search.push((id, body));
    }

    fn drop_pending_search(&mut self, id: i64) {
        self.pending.search.retain(|(i, _)| *i != id);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    pub by_decision: Vec<(String, i64)>,
    pub parse_errors: i64,
    pub outbox: Vec<(String, String, i64)>,
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
