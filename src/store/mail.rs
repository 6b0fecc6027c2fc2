//! Mail that is not a report (SPEC §17 *Thư khác*): the messages recorded as
//! `not_submission`, and whether a clerk has handled each.

use super::messages::MESSAGE_COLS;
use super::{storable, Result, Store, Submission, Tx};
use crate::domain::Decision;
use sqlx::Row;

/// How a clerk handled one message.
#[derive(Debug, Clone)]
pub struct Handled {
    pub by: String,
    pub at: i64,
    pub answer: Option<String>,
}

impl Store {
    /// The newest `limit` messages that are not reports, each with how it was handled.
    pub async fn not_reports(&self, limit: i64) -> Result<Vec<(Submission, Option<Handled>)>> {
        let sql = format!(
            "SELECT {MESSAGE_COLS}, h.by_whom AS h_by, h.at AS h_at, h.answer AS h_answer FROM messages \
             LEFT JOIN mail_handled h ON h.office = messages.office AND h.message = messages.id \
             WHERE messages.office = $1 AND decision = $2 ORDER BY received_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql).bind(&self.office).bind(Decision::NotSubmission.as_str()).bind(limit).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let by: Option<String> = r.try_get("h_by")?;
            let handled = match by {
                Some(by) => Some(Handled { by, at: r.try_get("h_at")?, answer: r.try_get("h_answer")? }),
                None => None,
            };
            out.push((self.decode(r)?, handled));
        }
        Ok(out)
    }

    /// The sender and kept facts of the newest `limit` messages that are not reports and were
    /// not handled: enough to count those for people without reading whole rows.
    pub async fn open_not_reports(&self, limit: i64) -> Result<Vec<(Option<String>, serde_json::Value)>> {
        let rows = sqlx::query(
            "SELECT from_addr, facts FROM messages WHERE office = $1 AND decision = $2 \
             AND NOT EXISTS (SELECT 1 FROM mail_handled h WHERE h.office = messages.office AND h.message = messages.id) ORDER BY received_at DESC, id DESC LIMIT $3",
        )
        .bind(&self.office)
        .bind(Decision::NotSubmission.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let facts: Option<String> = r.try_get("facts")?;
                Ok((r.try_get("from_addr")?, facts.and_then(|f| serde_json::from_str(&f).ok()).unwrap_or(serde_json::Value::Null)))
            })
            .collect()
    }

    /// How one message was handled, if it was.
    pub async fn handled(&self, id: i64) -> Result<Option<Handled>> {
        let r = sqlx::query("SELECT by_whom, at, answer FROM mail_handled WHERE office = $1 AND message = $2").bind(&self.office).bind(id).fetch_optional(&self.pool).await?;
        r.map(|r| Ok(Handled { by: r.try_get("by_whom")?, at: r.try_get("at")?, answer: r.try_get("answer")? })).transpose()
    }
}

impl Tx<'_> {
    /// Marks a message handled; false when it already was (the first handling stays).
    pub async fn mark_handled(&mut self, id: i64, by: &str, at: i64, answer: Option<&str>) -> Result<bool> {
        let r = sqlx::query("INSERT INTO mail_handled (office, message, by_whom, at, answer) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (office, message) DO NOTHING")
            .bind(self.office)
            .bind(id)
            .bind(storable(by).as_ref())
            .bind(at)
            .bind(answer)
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

impl Store {
    /// The newest `limit` bounces that name whom they could not reach: (message, arrival,
    /// addresses).
    pub async fn bounces(&self, limit: i64) -> Result<Vec<(i64, i64, Vec<String>)>> {
        let rows = sqlx::query("SELECT id, received_at, facts FROM messages WHERE office = $1 AND facts LIKE $2 ORDER BY received_at DESC, id DESC LIMIT $3")
            .bind(&self.office)
            .bind("%\"bounced_to\":%")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let facts: Option<String> = r.try_get("facts")?;
            let v: serde_json::Value = facts.as_deref().and_then(|f| serde_json::from_str(f).ok()).unwrap_or_default();
            let to: Vec<String> = v["bounced_to"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
            if !to.is_empty() {
                out.push((r.try_get("id")?, r.try_get("received_at")?, to));
            }
        }
        Ok(out)
    }
}
