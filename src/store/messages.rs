//! Received messages and their decisions: the `messages` rows (a message carrying several
//! reports has a row per further report, `part_of` its own), their raw bytes in `blobs`, the
//! content keys that make a message count once, and the versions of each obligation's
//! accepted submissions. Group commit's fast path ([`Tx::fast`]) lives here too.

use super::{compress, corrupt, json_list, now, obligation_columns, storable, storable_opt, values_sql, Backend, Fast, Result, Store, StoreError, Tx};
use crate::domain::{AcceptedFact, Decision, ObligationKey, Period, ReportId, Timeliness, UnitId};
use crate::parse::Document;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row};
use std::collections::HashMap;

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

pub(super) const MESSAGE_COLS: &str = "id, source_key, sha256, body_sha256, message_id, received_at, from_addr, subject, raw_key, size, decision, reasons, \
    unit, report, period, due, deadline, timeliness, version, findings, evidence, documents, facts, duplicate_of, manual_by, processed_at, part_of";

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

impl Store {
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

    /// Whether exactly these bytes were recorded before (a mailbox re-synced after its
    /// UIDVALIDITY changed hands the same messages over again under new UIDs).
    pub async fn raw_known(&self, sha256: &str) -> Result<bool> {
        let r = sqlx::query("SELECT id FROM messages WHERE office = $1 AND sha256 = $2 LIMIT 1").bind(&self.office).bind(sha256).fetch_optional(&self.pool).await?;
        Ok(r.is_some())
    }

    /// One `messages` row as a typed [`Submission`].
    pub(super) fn decode(&self, r: &AnyRow) -> Result<Submission> {
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

impl Tx<'_> {
    /// Sets aside, inside this transaction, a message that cannot be recorded at all; its raw
    /// bytes are kept when the database takes them (true then).
    pub async fn set_aside(&mut self, source_key: &str, sha256: &str, raw: &[u8], error: &str) -> Result<bool> {
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
        Ok(kept)
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
}
