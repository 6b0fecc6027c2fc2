//! The outbox: every outgoing mail, queued under its idempotency key in the transaction that
//! decided it, then claimed, handed over and settled by the senders; and the outbox's block
//! while its server cannot be reached.

use sqlx::Row;
use super::{corrupt, now, storable, Backend, Result, Store, Tx};
use crate::domain::{MailKind, OutboxState};
use serde::Serialize;
use sqlx::any::AnyRow;

/// One queued outgoing mail.
#[derive(Debug, Clone)]
pub struct OutMail {
    pub id: i64,
    pub key: String,
    pub kind: MailKind,
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
    pub kind: MailKind,
    pub recipients: Vec<String>,
    pub state: OutboxState,
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

/// An outbox row's kind; a word this version does not know is a corrupt row.
fn mail_kind(r: &AnyRow) -> Result<MailKind> {
    let k: String = r.try_get("kind")?;
    MailKind::parse(&k).ok_or_else(|| corrupt("an outgoing mail", "kind", &k))
}

/// An outbox row as a mail; `message` stays empty when the query did not select it (settling
/// needs only the key and recipients).
fn out_mail(r: &AnyRow) -> Result<OutMail> {
    let rec: String = r.try_get("recipients")?;
    Ok(OutMail {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        kind: mail_kind(r)?,
        recipients: serde_json::from_str(&rec).unwrap_or_default(),
        message: r.try_get("message").unwrap_or_default(),
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at").unwrap_or(0),
        claim: 0,
    })
}

impl Tx<'_> {
    /// Acknowledgements queued to `recipient` at or after `since` (the flood limit's count).
    pub async fn acks_to_since(&mut self, recipient: &str, since: i64) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM outbox WHERE office = $1 AND kind = $4 AND created_at >= $2 AND recipients = $3")
            .bind(self.office)
            .bind(since)
            .bind(serde_json::to_string(&[recipient]).unwrap_or_default())
            .bind(MailKind::Ack.as_str())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Marks a mail delivered; `note` says why when delivery is assumed rather than confirmed;
    /// `refused` are the recipients the server refused for good while taking it for the others.
    pub async fn mark_sent(&mut self, m: &OutMail, note: Option<&str>, refused: &[(String, String)]) -> Result<()> {
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
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Records a failed attempt: queued again at `retry_at`, or failed for good with `give_up`.
    /// False when another sender had taken the mail over (it is theirs: nothing written).
    pub async fn mark_failed(&mut self, m: &OutMail, error: &str, give_up: bool, retry_at: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE outbox SET state = $2, attempts = attempts + 1, last_error = $3, next_attempt_at = $4, claimed_until = 0 \
             WHERE id = $1 AND ($5 = 0 OR (state = 'queued' AND claimed_until = $5))",
        )
        .bind(m.id)
        .bind(if give_up { OutboxState::Failed } else { OutboxState::Queued }.as_str())
        .bind(error)
        .bind(retry_at)
        .bind(m.claim)
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected() > 0)
    }

    /// Records that the server could not be reached: the outbox waits (1 min, doubling to
    /// 30 min). True when this begins the block.
    pub async fn block_outbox(&mut self, error: &str) -> Result<bool> {
        let t = now();
        let r = sqlx::query("SELECT failures FROM outbox_block WHERE office = $1").bind(self.office).fetch_optional(&mut *self.tx).await?;
        Ok(match r {
            Some(r) => {
                let failures: i64 = r.try_get("failures")?;
                let wait = (60i64 << failures.min(5)).min(1800);
                sqlx::query("UPDATE outbox_block SET error = $2, failures = failures + 1, next_try = $3 WHERE office = $1")
                    .bind(self.office)
                    .bind(storable(error).as_ref())
                    .bind(t + wait)
                    .execute(&mut *self.tx)
                    .await?;
                false
            }
            None => {
                sqlx::query("INSERT INTO outbox_block (office, since, error, failures, next_try, notified) VALUES ($1, $2, $3, 1, $4, 0)")
                    .bind(self.office)
                    .bind(t)
                    .bind(storable(error).as_ref())
                    .bind(t + 60)
                    .execute(&mut *self.tx)
                    .await?;
                true
            }
        })
    }

    /// Ends the outbox's block; false when there was none.
    pub async fn unblock_outbox(&mut self) -> Result<bool> {
        let r = sqlx::query("DELETE FROM outbox_block WHERE office = $1").bind(self.office).execute(&mut *self.tx).await?;
        Ok(r.rows_affected() > 0)
    }

    /// The mails a person may queue again (failed or still queued, never sent): id, key and
    /// state, oldest first.
    pub async fn retriable_mail(&mut self) -> Result<Vec<(i64, String, OutboxState)>> {
        let rows = sqlx::query("SELECT id, key, state FROM outbox WHERE office = $1 AND state IN ($2, $3) ORDER BY id")
            .bind(self.office)
            .bind(OutboxState::Failed.as_str())
            .bind(OutboxState::Queued.as_str())
            .fetch_all(&mut *self.tx)
            .await?;
        rows.iter()
            .map(|r| {
                let state: String = r.try_get("state")?;
                let state = OutboxState::parse(&state).ok_or_else(|| corrupt("an outgoing mail", "state", &state))?;
                Ok((r.try_get("id")?, r.try_get("key")?, state))
            })
            .collect()
    }

    /// Queues mail `id` again from scratch: due now, no attempts counted.
    pub async fn requeue_mail(&mut self, id: i64) -> Result<()> {
        sqlx::query("UPDATE outbox SET state = 'queued', next_attempt_at = $3, claimed_until = 0, attempts = 0, created_at = $3 WHERE office = $1 AND id = $2")
            .bind(self.office)
            .bind(id)
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Queues an outgoing mail under its idempotency key; false when the key was already queued.
    pub async fn queue_mail(&mut self, key: &str, kind: MailKind, recipients: &[String], message: &[u8], at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO outbox (office, key, kind, recipients, message, created_at, state, attempts, next_attempt_at, claimed_until) \
             VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $6, 0) ON CONFLICT (office, key) DO NOTHING RETURNING id",
        )
        .bind(self.office)
        .bind(key)
        .bind(kind.as_str())
        .bind(serde_json::to_string(recipients).unwrap_or_default())
        .bind(message.to_vec())
        .bind(at)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(r.is_some())
    }
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

    /// Marks the block's notice to the office as queued (once per block).
    pub async fn outbox_block_notified(&self) -> Result<()> {
        sqlx::query("UPDATE outbox_block SET notified = 1 WHERE office = $1").bind(&self.office).execute(&self.pool).await?;
        Ok(())
    }

    /// The outbox, newest first, optionally in one state.
    pub async fn outbox_rows(&self, state: Option<OutboxState>, limit: i64) -> Result<Vec<OutboxRow>> {
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
                    kind: mail_kind(r)?,
                    recipients: serde_json::from_str(&rec).unwrap_or_default(),
                    state: {
                        let s: String = r.try_get("state")?;
                        OutboxState::parse(&s).ok_or_else(|| corrupt("an outgoing mail", "state", &s))?
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

    /// The mail of `key` while still claimed with no verdict recorded (a hand-over journal says
    /// its final dot went out). Not one the server refused after its dot and `mark_failed`
    /// released (claim cleared): that one is retried, not settled.
    pub async fn unsettled(&self, key: &str) -> Result<Option<OutMail>> {
        let r = sqlx::query("SELECT id, key, kind, recipients, attempts, created_at FROM outbox WHERE office = $1 AND key = $2 AND state IN ('queued', 'handing_over') AND claimed_until > 0")
            .bind(&self.office)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(out_mail).transpose()
    }

    /// Mails a crashed sender left handing over (their claim expired).
    pub async fn left_handing_over(&self) -> Result<Vec<OutMail>> {
        let rows = sqlx::query("SELECT id, key, kind, recipients, attempts, created_at FROM outbox WHERE office = $1 AND state = 'handing_over' AND claimed_until < $2")
            .bind(&self.office)
            .bind(now())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(out_mail).collect()
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
        let rows = sqlx::query("SELECT key FROM outbox WHERE office = $1 AND kind = $2 ORDER BY id DESC").bind(&self.office).bind(MailKind::Reminder.as_str()).fetch_all(&self.read).await?;
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
