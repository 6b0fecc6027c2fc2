//! Requests read from the office's letters (SPEC §15), waiting for a clerk or decided.

use sqlx::Row;
use super::{corrupt, now, Result, Store, Tx};
use crate::domain::RequestState;
use serde::Serialize;
use sqlx::any::AnyRow;

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
    pub state: RequestState,
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

fn stored_request(r: &AnyRow) -> Result<StoredRequest> {
    let reading: String = r.try_get("reading")?;
    Ok(StoredRequest {
        id: r.try_get("id")?,
        report: r.try_get("report")?,
        number: r.try_get("number")?,
        letter_date: r.try_get("letter_date")?,
        subject: r.try_get("subject")?,
        state: {
            let s: String = r.try_get("state")?;
            RequestState::parse(&s).ok_or_else(|| corrupt("a request", "state", &s))?
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

impl Store {
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
}

impl Tx<'_> {
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
    pub async fn decide_request(&mut self, id: i64, from: RequestState, to: RequestState, reading: &serde_json::Value, by: &str) -> Result<bool> {
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
}
