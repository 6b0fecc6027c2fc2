//! The audit chain as stored: events appended through [`Tx::audit`] (chained in memory and
//! written with the transaction's other rows), the head row that catches a removed tail, and
//! the reads that verify and show the chain.

use sqlx::Row;
use super::{now, storable, AuditHead, AuditRow, Backend, Result, Store, Tx};
use crate::audit;
use sqlx::any::AnyRow;

pub(super) const AUDIT_COLS: &str = "seq, office, at, kind, actor, subject, data, prev_hash, hash";

pub(super) fn audit_event(r: &AnyRow) -> Result<audit::Event> {
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

impl Store {
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

    pub async fn last_event_data(&self, kind: audit::Kind) -> Result<Option<String>> {
        let r = sqlx::query("SELECT data FROM audit WHERE office = $1 AND kind = $2 ORDER BY seq DESC LIMIT 1")
            .bind(&self.office)
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(match r {
            Some(r) => Some(r.try_get("data")?),
            None => None,
        })
    }
}

impl Tx<'_> {
    /// Appends one audit event, chained to the office's previous one.
    pub async fn audit(&mut self, kind: audit::Kind, actor: &str, subject: &str, data: &serde_json::Value) -> Result<()> {
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
        let hash = audit::hash(&prev, self.office, at, kind.as_str(), actor, subject, &data);
        self.pending.audit.push(AuditRow { at, kind, actor: actor.to_string(), subject: subject.to_string(), data, prev, hash: hash.clone() });
        let added = self.head.as_ref().map_or(0, |h| h.added) + 1;
        self.head = Some(AuditHead { hash, added });
        Ok(())
    }
}
