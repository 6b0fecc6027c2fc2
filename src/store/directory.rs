//! The office's directory (SPEC §17): units, groups and report kinds as kept in the database, one row each
//! with its record as JSON, the fingerprint of the file entry it was last seeded from, and a
//! revision that grows with every change (the running daemon's stamp).

use super::{Result, Store, Tx};
use sqlx::Row;

/// What a directory row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Unit,
    Group,
    /// A report kind: its `[[report]]` entry as JSON (deadline, reminders, who owes it).
    Report,
}

impl Entry {
    fn as_str(self) -> &'static str {
        match self {
            Entry::Unit => "unit",
            Entry::Group => "group",
            Entry::Report => "report",
        }
    }
}

/// One row of the directory.
#[derive(Debug, Clone)]
pub struct DirectoryRow {
    pub id: String,
    pub body: serde_json::Value,
    /// Fingerprint of the file entry last applied to it (None: made on the console).
    pub seed: Option<String>,
}

/// Rows read as directory entries; a body that is not JSON is said, naming its id.
fn decode(rows: &[sqlx::any::AnyRow]) -> Result<Vec<DirectoryRow>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let body: String = r.try_get("body")?;
        let id: String = r.try_get("id")?;
        let Ok(body) = serde_json::from_str(&body) else {
            return Err(super::corrupt("a directory entry", "body", &id));
        };
        out.push(DirectoryRow { id, body, seed: r.try_get("seed")? });
    }
    Ok(out)
}

impl Store {
    /// Every row of one kind, by id.
    pub async fn directory(&self, kind: Entry) -> Result<Vec<DirectoryRow>> {
        let rows = sqlx::query("SELECT id, body, seed FROM directory WHERE office = $1 AND kind = $2 ORDER BY id")
            .bind(&self.office)
            .bind(kind.as_str())
            .fetch_all(&self.pool)
            .await?;
        decode(&rows)
    }

    /// A stamp that changes with every change of the directory.
    pub async fn directory_stamp(&self) -> Result<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(rev), 0) AS r FROM directory WHERE office = $1").bind(&self.office).fetch_one(&self.pool).await?;
        Ok((row.try_get("n")?, row.try_get("r")?))
    }
}

impl Tx<'_> {
    /// Every row of one kind as this transaction sees it.
    pub async fn directory(&mut self, kind: Entry) -> Result<Vec<DirectoryRow>> {
        let rows = sqlx::query("SELECT id, body, seed FROM directory WHERE office = $1 AND kind = $2 ORDER BY id")
            .bind(self.office)
            .bind(kind.as_str())
            .fetch_all(&mut *self.tx)
            .await?;
        decode(&rows)
    }

    /// Writes one entry (new or changed) with the next revision. `seed` is kept as it was when
    /// None is given for an existing row.
    pub async fn put_directory(&mut self, kind: Entry, id: &str, body: &serde_json::Value, seed: Option<&str>) -> Result<()> {
        let rev: i64 = sqlx::query("SELECT COALESCE(MAX(rev), 0) + 1 AS r FROM directory WHERE office = $1").bind(self.office).fetch_one(&mut *self.tx).await?.try_get("r")?;
        let sql = "INSERT INTO directory (office, kind, id, body, seed, rev) VALUES ($1, $2, $3, $4, $5, $6) \
                   ON CONFLICT (office, kind, id) DO UPDATE SET body = $4, seed = COALESCE($5, directory.seed), rev = $6";
        sqlx::query(sql)
            .bind(self.office)
            .bind(kind.as_str())
            .bind(id)
            .bind(body.to_string())
            .bind(seed)
            .bind(rev)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
