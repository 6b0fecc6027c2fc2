//! An IMAP mailbox's sync point (UIDVALIDITY and the last UID whose results are committed)
//! and the lock that lets one instance poll it.

use super::{now, Backend, Result, Store};
use sqlx::{Any, Row};

/// Held while this instance polls a mailbox; dropping it (or dying) lets another take over.
pub struct MailboxLock {
    conn: Option<sqlx::pool::PoolConnection<Any>>,
}

impl Store {
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
