//! What the console needs from the database beyond the pipeline's rows: accounts, server-side
//! sessions, login throttling, the full-text index over submissions (SQLite FTS5, PostgreSQL
//! `tsvector`), and paged reads (submissions by filter, the audit trail newest first).
//!
//! The index holds folded text (no tones or marks, `đ` as `d`) and queries are folded the same
//! way, so *báo cáo* and *bao cao* find the same submissions on both databases.

use super::audit_chain::{audit_event, AUDIT_COLS};
use super::messages::MESSAGE_COLS;
use super::{storable, Backend, Result, Store, StoreError, Submission, Tx};
use crate::audit;
use crate::domain::{Decision, Role};
use serde::Serialize;
use sqlx::Row;

/// One person's account in the console.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub hash: String,
    pub disabled: bool,
    pub created_at: i64,
}

/// A live session: whose it is and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub account: Account,
    pub csrf: String,
    pub expires_at: i64,
}

/// Which submissions a listing keeps; every field optional.
#[derive(Debug, Clone, Default)]
pub struct SubmissionFilter {
    pub text: Option<String>,
    pub unit: Option<String>,
    pub report: Option<String>,
    pub period: Option<String>,
    pub decision: Option<Decision>,
    /// Arrival at or after / before (unix seconds).
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// How much of a document's text goes into the index: enough for the words people search for
/// (header, summary, the first pages), bounded so a long annex does not dominate the index.
const INDEX_TEXT_CHARS: usize = 20_000;

/// The folded words a query or a document is indexed by.
fn words(s: &str) -> Vec<String> {
    // `fold` already leaves only letters and digits, one space between words.
    crate::text::fold(s).split_whitespace().map(str::to_string).collect()
}

/// The text one submission is found by: subject, sender, file names, header number and
/// summary, document type and the documents' text.
pub fn search_body(m: &Submission) -> String {
    let mut parts: Vec<&str> = vec![m.subject.as_deref().unwrap_or(""), m.from_addr.as_deref().unwrap_or("")];
    // What a mail that is not a report says (kept with it on arrival).
    parts.extend(m.facts["body"].as_str());
    for d in &m.documents {
        parts.push(&d.filename);
        parts.extend(d.header.number.as_deref());
        parts.extend(d.header.summary.as_deref());
        parts.extend(d.header.doc_type.as_deref());
        parts.push(&d.title);
        let cut = d.text.char_indices().nth(INDEX_TEXT_CHARS).map(|(i, _)| i).unwrap_or(d.text.len());
        parts.push(&d.text[..cut]);
    }
    words(&parts.join(" ")).join(" ")
}

impl Tx<'_> {
    /// Puts a submission's text in the full-text index (replacing what was there), at once.
    pub async fn index_search(&mut self, id: i64, m: &Submission) -> Result<()> {
        self.drop_pending_search(id);
        sqlx::query("DELETE FROM search WHERE rowid = $1").bind(id).execute(&mut *self.tx).await?;
        sqlx::query("INSERT INTO search (rowid, office, body) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(self.office)
            .bind(storable(&search_body(m)).into_owned())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Indexes a message inserted now (it has no entry to replace).
    pub async fn add_search(&mut self, id: i64, m: &Submission) -> Result<()> {
        let body = storable(&search_body(m)).into_owned();
        self.pending_search(id, body);
        Ok(())
    }

    pub async fn add_account(&mut self, name: &str, role: Role, hash: &str) -> Result<bool> {
        let r = sqlx::query("INSERT INTO accounts (office, name, role, hash, disabled, created_at) VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (office, name) DO NOTHING")
            .bind(self.office)
            .bind(name)
            .bind(role.as_str())
            .bind(hash)
            .bind(super::now())
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Sets an account's password hash; ends its sessions (a changed password logs everyone out).
    pub async fn set_account_hash(&mut self, name: &str, hash: &str) -> Result<bool> {
        let r = sqlx::query("UPDATE accounts SET hash = $3 WHERE office = $1 AND name = $2").bind(self.office).bind(name).bind(hash).execute(&mut *self.tx).await?;
        self.end_sessions(name).await?;
        Ok(r.rows_affected() == 1)
    }

    /// Disables (or enables) an account; disabling ends its sessions.
    pub async fn set_account_disabled(&mut self, name: &str, disabled: bool) -> Result<bool> {
        let r = sqlx::query("UPDATE accounts SET disabled = $3 WHERE office = $1 AND name = $2")
            .bind(self.office)
            .bind(name)
            .bind(disabled as i64)
            .execute(&mut *self.tx)
            .await?;
        if disabled {
            self.end_sessions(name).await?;
        }
        Ok(r.rows_affected() == 1)
    }

    async fn end_sessions(&mut self, name: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE office = $1 AND name = $2").bind(self.office).bind(name).execute(&mut *self.tx).await?;
        Ok(())
    }
}

impl Store {
    /// Indexes the submissions recorded before the index existed (or by an older binary).
    pub(super) async fn index_missing(&self) -> Result<()> {
        loop {
            let rows = sqlx::query(&format!(
                "SELECT {MESSAGE_COLS} FROM messages m WHERE office = $1 AND NOT EXISTS (SELECT 1 FROM search s WHERE s.rowid = m.id) ORDER BY id LIMIT 500"
            ))
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut tx = self.begin().await?;
            for r in &rows {
                let m = self.decode(r)?;
                tx.index_search(m.id, &m).await?;
            }
            tx.commit().await?;
        }
    }

    /// Submissions matching `f`, newest arrival first: one page of them and how many match in all.
    pub async fn find_submissions(&self, f: &SubmissionFilter, limit: i64, offset: i64) -> Result<(Vec<Submission>, i64)> {
        /// A value for a placeholder; they are numbered in the order they are pushed.
        enum Arg {
            Text(String),
            Time(i64),
        }
        let mut conds = vec!["office = $1".to_string()];
        let mut args = vec![Arg::Text(self.office.clone())];
        let mut push = |sql: &str, v: Arg| {
            args.push(v);
            conds.push(sql.replace('?', &format!("${}", args.len())));
        };
        let w = f.text.as_deref().map(words).unwrap_or_default();
        if !w.is_empty() {
            match self.backend {
                Backend::Sqlite => push("id IN (SELECT rowid FROM search WHERE search MATCH ?)", Arg::Text(w.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" AND "))),
                Backend::Postgres => push("id IN (SELECT rowid FROM search WHERE tsv @@ to_tsquery('simple', ?))", Arg::Text(w.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & "))),
            }
        }
        for (col, v) in [("unit", &f.unit), ("report", &f.report), ("period", &f.period)] {
            if let Some(v) = v {
                push(&format!("{col} = ?"), Arg::Text(v.clone()));
            }
        }
        if let Some(d) = f.decision {
            push("decision = ?", Arg::Text(d.as_str().to_string()));
        }
        if let Some(t) = f.from {
            push("received_at >= ?", Arg::Time(t));
        }
        if let Some(t) = f.to {
            push("received_at < ?", Arg::Time(t));
        }
        let wh = conds.join(" AND ");
        let count_sql = format!("SELECT COUNT(*) AS n FROM messages WHERE {wh}");
        let page_sql = format!("SELECT {MESSAGE_COLS} FROM messages WHERE {wh} ORDER BY received_at DESC, id DESC LIMIT {limit} OFFSET {offset}");
        let mut cq = sqlx::query(&count_sql);
        let mut pq = sqlx::query(&page_sql);
        for a in &args {
            match a {
                Arg::Text(v) => {
                    cq = cq.bind(v.clone());
                    pq = pq.bind(v.clone());
                }
                Arg::Time(t) => {
                    cq = cq.bind(*t);
                    pq = pq.bind(*t);
                }
            }
        }
        let n: i64 = cq.fetch_one(&self.pool).await?.try_get("n")?;
        let rows = pq.fetch_all(&self.pool).await?;
        let subs = rows.iter().map(|r| self.decode(r)).collect::<Result<Vec<_>>>()?;
        Ok((subs, n))
    }

    /// The audit trail, newest first, one page; with `subject`, only that subject's events.
    pub async fn audit_page(&self, subject: Option<&str>, limit: i64, offset: i64) -> Result<(Vec<audit::Event>, i64)> {
        let wh = if subject.is_some() { "office = $1 AND subject = $2" } else { "office = $1" };
        let count_sql = format!("SELECT COUNT(*) FROM audit WHERE {wh}");
        let mut cq = sqlx::query_scalar::<_, i64>(&count_sql).bind(&self.office);
        let sql = format!("SELECT {AUDIT_COLS} FROM audit WHERE {wh} ORDER BY seq DESC LIMIT {limit} OFFSET {offset}");
        let mut q = sqlx::query(&sql).bind(&self.office);
        if let Some(s) = subject {
            q = q.bind(s.to_string());
            cq = cq.bind(s.to_string());
        }
        let total = cq.fetch_one(&self.pool).await?;
        let rows = q.fetch_all(&self.pool).await?;
        let events = rows.iter().map(audit_event).collect::<Result<Vec<_>>>()?;
        Ok((events, total))
    }

    /// The reminder stages sent to one unit: (stage key, report, period code, when), newest first.
    pub async fn reminders_to(&self, unit: &str) -> Result<Vec<(String, String, String, i64)>> {
        let rows = sqlx::query("SELECT key, report, period, at FROM reminder_stages WHERE office = $1 AND unit = $2 ORDER BY at DESC")
            .bind(&self.office)
            .bind(unit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get("key")?, r.try_get("report")?, r.try_get("period")?, r.try_get("at")?))).collect()
    }

    // ----- accounts and sessions -----

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        let rows = sqlx::query("SELECT name, role, hash, disabled, created_at FROM accounts WHERE office = $1 ORDER BY name")
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(account).collect()
    }

    pub async fn account(&self, name: &str) -> Result<Option<Account>> {
        let r = sqlx::query("SELECT name, role, hash, disabled, created_at FROM accounts WHERE office = $1 AND name = $2")
            .bind(&self.office)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(account).transpose()
    }

    pub async fn create_session(&self, token_hash: &str, name: &str, csrf: &str, expires_at: i64) -> Result<()> {
        let now = super::now();
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM sessions WHERE office = $1 AND expires_at < $2").bind(&self.office).bind(now).execute(&mut *tx.tx).await?;
        sqlx::query("INSERT INTO sessions (token_hash, office, name, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(token_hash)
            .bind(&self.office)
            .bind(name)
            .bind(csrf)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx.tx)
            .await?;
        tx.commit().await
    }

    /// The live session of a token (its SHA-256), with its account, unless expired or disabled.
    pub async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        let r = sqlx::query(
            "SELECT a.name, a.role, a.hash, a.disabled, a.created_at, s.csrf, s.expires_at FROM sessions s JOIN accounts a ON a.office = s.office AND a.name = s.name \
             WHERE s.office = $1 AND s.token_hash = $2 AND s.expires_at > $3 AND a.disabled = 0",
        )
        .bind(&self.office)
        .bind(token_hash)
        .bind(super::now())
        .fetch_optional(&self.pool)
        .await?;
        match r {
            None => Ok(None),
            Some(r) => Ok(Some(Session { account: account(&r)?, csrf: r.try_get("csrf")?, expires_at: r.try_get("expires_at")? })),
        }
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE office = $1 AND token_hash = $2").bind(&self.office).bind(token_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// Failed logins of `who` (an account or an address) since `since`.
    pub async fn login_failures(&self, who: &str, since: i64) -> Result<i64> {
        let n = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM login_failures WHERE office = $1 AND who = $2 AND at >= $3")
            .bind(&self.office)
            .bind(who)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    pub async fn record_login_failure(&self, who: &[String], at: i64) -> Result<()> {
        let mut tx = self.begin().await?;
        // Old failures no longer count; keep the table small.
        sqlx::query("DELETE FROM login_failures WHERE office = $1 AND at < $2").bind(&self.office).bind(at - 86_400).execute(&mut *tx.tx).await?;
        for w in who {
            sqlx::query("INSERT INTO login_failures (office, who, at) VALUES ($1, $2, $3)").bind(&self.office).bind(w).bind(at).execute(&mut *tx.tx).await?;
        }
        tx.commit().await
    }

    pub async fn clear_login_failures(&self, who: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE office = $1 AND who = $2").bind(&self.office).bind(who).execute(&self.pool).await?;
        Ok(())
    }
}

fn account(r: &sqlx::any::AnyRow) -> Result<Account> {
    let role: String = r.try_get("role")?;
    Ok(Account {
        name: r.try_get("name")?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("account role `{role}` is not viewer, clerk or admin")))?,
        hash: r.try_get("hash")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        created_at: r.try_get("created_at")?,
    })
}
