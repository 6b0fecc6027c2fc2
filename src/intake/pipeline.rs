//! One raw message, end to end and exactly once, in two steps so that many can be in flight:
//!
//! - [`prepare`]: its source key checked, its hashes, the duplicate check by content, then the
//!   office's reading of it ([`office::analyse`]) on a blocking thread — CPU and the parse
//!   workers, no writes. Several messages are prepared at once (see `source::pass`).
//! - [`record_batch`]: the recording of many prepared messages in one transaction (group
//!   commit), each inside a savepoint with [`office::record_in`]: the raw bytes, the decision,
//!   the versions of its obligation, the acknowledgement and the audit events of every message of
//!   the batch are committed together — or nothing at all. A message the database refuses is
//!   rolled back alone and recorded as rejected (or set aside); the rest of its batch stands.
//!
//! A message is settled at its source only after its batch is committed, so a kill at any
//! instant loses nothing (the uncommitted batch is handed over again) and doubles nothing (a
//! committed message is known by its source key).

use super::RawMessage;
use crate::config::Config;
use crate::domain::Decision;
use crate::matching::Match;
use crate::office::{self, Arrival};
use crate::parse::mime::{self, MailFacts};
use crate::digest::sha256_hex;
use crate::parse::worker::Parser;
use crate::parse::Document;
use crate::store::{Store, StoreError, Tx};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded now, with its decision.
    Recorded { id: i64, decision: Decision },
    /// Its source key was already recorded: nothing to do.
    AlreadyKnown,
    /// It could not be recorded, not even as rejected: set aside with an audit event, and not
    /// handed over again.
    SetAside,
}

/// The arrival of a message without a source-given time: the newest `Received:` header, then
/// the `Date:` header, then now.
pub fn arrival_of(raw: &RawMessage, facts: &MailFacts) -> i64 {
    raw.arrival.or(facts.received).or(facts.date).unwrap_or_else(|| chrono::Utc::now().timestamp())
}

/// A message read and decided, waiting to be recorded with its batch.
pub struct Prepared {
    pub raw: Arc<RawMessage>,
    sha: String,
    body_sha: String,
    arrival: i64,
    reading: Reading,
    /// The raw bytes compressed for the raw store (done here, off the commit's path).
    blob: Vec<u8>,
    /// Another message with its Message-ID was recorded before it was read.
    mid_seen: bool,
}

enum Reading {
    /// Its source key is recorded already.
    Known,
    /// The same content was recorded before, as this submission.
    Duplicate(MailFacts, i64),
    /// Read now: the mail's facts, its documents and the decision.
    New(MailFacts, Vec<Document>, Match),
}

impl Prepared {
    pub fn source_key(&self) -> &str {
        &self.raw.source_key
    }
}

/// The header block of a message (its bytes before the body), for what needs no body.
fn header_of(raw: &[u8]) -> &[u8] {
    let body = mime::body_bytes(raw);
    &raw[..raw.len() - body.len()]
}

/// Reads one message for recording: no writes, the CPU work on a blocking thread so that the
/// caller's loop (fetching, committing) goes on meanwhile.
pub async fn prepare(cfg: Arc<Config>, store: Store, parser: Parser, cpu: Arc<tokio::sync::Semaphore>, raw: RawMessage) -> Result<Prepared, StoreError> {
    let raw = Arc::new(raw);
    let r = raw.clone();
    // Many messages are read ahead (while a batch commits), but only `cpu` of them at once.
    let permit = cpu.acquire_owned().await.map_err(|e| StoreError::Interrupted(e.to_string()))?;
    let stopped = |e: tokio::task::JoinError| StoreError::Interrupted(format!("reading {} stopped: {e}", raw.source_key));
    let (sha, body_sha, head) = tokio::task::spawn_blocking(move || {
        let sha = sha256_hex(&r.bytes);
        let body_sha = sha256_hex(mime::body_bytes(&r.bytes));
        // The duplicate check needs only the Message-ID: the header block, not the body.
        let head = mime::parse(header_of(&r.bytes));
        (sha, body_sha, head)
    })
    .await
    .map_err(stopped)?;
    // One question for what the database knows of it: its source key, its content, its Message-ID.
    let known = store.known_content(&raw.source_key, &sha, head.message_id.as_deref(), &body_sha).await?;
    if known.source {
        return Ok(Prepared { raw, sha: String::new(), body_sha: String::new(), arrival: 0, reading: Reading::Known, blob: vec![], mid_seen: false });
    }
    let arrival = arrival_of(&raw, &head);
    if let Some(orig) = known.duplicate_of {
        let r = raw.clone();
        let blob = tokio::task::spawn_blocking(move || crate::store::compress(&r.bytes)).await.map_err(stopped)?;
        return Ok(Prepared { raw, sha, body_sha, arrival, reading: Reading::Duplicate(head, orig), blob, mid_seen: false });
    }
    let mid_seen = known.message_id_seen;
    // A source that knows the size (IMAP) hands over only the head of an oversized message.
    if let Some(n) = raw.declared_size.filter(|n| *n > cfg.intake.max_message_bytes) {
        let (facts, docs, m) = office::too_big(&cfg, &raw.bytes, n);
        let blob = crate::store::compress(&raw.bytes);
        return Ok(Prepared { raw, sha, body_sha, arrival, reading: Reading::New(facts, docs, m), blob, mid_seen });
    }
    let replied = office::thread_of(&cfg, &store, &head).await?;
    let r = raw.clone();
    let read = tokio::task::spawn_blocking(move || (crate::store::compress(&r.bytes), office::analyse(&cfg, &parser, &r.bytes, arrival, replied))).await;
    let (blob, read) = match read {
        Ok((blob, read)) => (blob, Ok(read)),
        Err(e) => (crate::store::compress(&raw.bytes), Err(e)),
    };
    let reading = match read {
        Ok((mut facts, docs, m)) => {
            facts.forget_attachment_bytes();
            Reading::New(facts, docs, m)
        }
        Err(e) if e.is_panic() => {
            // A reader bug must not stop the daemon nor make the message come back forever:
            // it is recorded as rejected, its raw bytes kept for reprocessing once fixed.
            tracing::error!("{}: reading the message failed ({e}); recording it as rejected", raw.source_key);
            let m = office::reader_failed(&head, &e.to_string());
            Reading::New(head, vec![], m)
        }
        Err(e) => return Err(StoreError::Interrupted(format!("reading {} stopped: {e}", raw.source_key))),
    };
    drop(permit);
    Ok(Prepared { raw, sha, body_sha, arrival, reading, blob, mid_seen })
}

/// What the messages recorded lately hold — their source keys, content keys and Message-IDs —
/// for the reads made while preparing, which could not see what was committed after them (a
/// message read ahead while its original's batch was being written). Kept for the last
/// [`Recent::KEEP`] to [`Recent::KEEP`]×2 messages: the read-ahead is far shorter, and memory
/// stays bounded over any backfill.
#[derive(Default)]
pub struct Recent {
    now: Keys,
    before: Keys,
}

#[derive(Default)]
struct Keys {
    messages: usize,
    sources: std::collections::HashSet<String>,
    content: std::collections::HashMap<String, i64>,
    mids: std::collections::HashSet<String>,
}

impl Keys {
    fn add(&mut self, o: Keys) {
        self.messages += o.messages;
        self.sources.extend(o.sources);
        for (k, v) in o.content {
            self.content.entry(k).or_insert(v);
        }
        self.mids.extend(o.mids);
    }
}

impl Recent {
    const KEEP: usize = 1024;

    /// What a committed batch recorded.
    fn keep(&mut self, batch: Keys) {
        self.now.add(batch);
        if self.now.messages >= Self::KEEP {
            self.before = std::mem::take(&mut self.now);
        }
    }
}

/// The lookups over the recent messages and those of the batch being written.
struct Seen<'a> {
    recent: &'a Recent,
    batch: Keys,
}

impl Seen<'_> {
    fn content_keys(p: &Prepared, mid: Option<&str>) -> Vec<String> {
        let mut k = vec![format!("sha:{}", p.sha)];
        if let Some(m) = mid {
            k.push(format!("mid:{m}:{}", p.body_sha));
        }
        k
    }
    fn layers(&self) -> [&Keys; 3] {
        [&self.batch, &self.recent.now, &self.recent.before]
    }
    fn source(&self, key: &str) -> bool {
        self.layers().iter().any(|l| l.sources.contains(key))
    }
    fn content(&self, key: &str) -> Option<i64> {
        self.layers().iter().find_map(|l| l.content.get(key).copied())
    }
    fn mid(&self, mid: &str) -> bool {
        self.layers().iter().any(|l| l.mids.contains(mid))
    }
}

/// How a batch is written: `Fast`, with no savepoints (a surprise — a message the database
/// refuses, or one another process recorded meanwhile — abandons the attempt), or `Careful`,
/// each message inside a savepoint of its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fast,
    Careful,
}

/// The fast attempt met something only the careful one deals with.
struct Redo;

/// Records prepared messages in one transaction, in order. Err: nothing was committed (the
/// database is away or busy; every message is to be handed over again). Otherwise one result
/// per message: Err for a message that could not be recorded in any form (it is not settled).
pub async fn record_batch(cfg: &Config, store: &Store, recent: &mut Recent, batch: Vec<Prepared>) -> Result<Vec<Result<Outcome, StoreError>>, StoreError> {
    if batch.iter().all(|p| matches!(p.reading, Reading::Known)) {
        return Ok(batch.iter().map(|_| Ok(Outcome::AlreadyKnown)).collect());
    }
    let (out, keys) = match record_all(cfg, store, recent, &batch, Mode::Fast).await? {
        Ok(done) => done,
        Err(Redo) => {
            tracing::info!("a batch of {} message(s) is recorded again, each on its own", batch.len());
            record_all(cfg, store, recent, &batch, Mode::Careful).await?.unwrap_or_else(|Redo| unreachable!("the careful mode never asks to redo"))
        }
    };
    recent.keep(keys);
    Ok(out)
}

type Written = (Vec<Result<Outcome, StoreError>>, Keys);

async fn record_all(cfg: &Config, store: &Store, recent: &Recent, batch: &[Prepared], mode: Mode) -> Result<Result<Written, Redo>, StoreError> {
    let mut tx = store.begin().await?;
    if mode == Mode::Fast {
        tx.fast(&touched(batch)).await?;
    }
    let mut seen = Seen { recent, batch: Keys::default() };
    let mut out = Vec::with_capacity(batch.len());
    for p in batch {
        out.push(match record_one(cfg, &mut tx, p, &mut seen, mode).await {
            Ok(Ok(o)) => Ok(o),
            Ok(Err(Redo)) => return Ok(Err(Redo)),
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => Err(e),
        });
    }
    match tx.commit().await {
        Ok(()) => Ok(Ok((out, seen.batch))),
        Err(e) if e.is_transient() || mode == Mode::Careful => Err(e),
        // A pending row the database refused: the careful mode finds whose it is.
        Err(_) => Ok(Err(Redo)),
    }
}

/// The obligations a batch's accepted reports are about (the fast path reads their versions
/// at once).
fn touched(batch: &[Prepared]) -> Vec<crate::domain::ObligationKey> {
    let mut out = Vec::new();
    for p in batch {
        if let Reading::New(_, _, m) = &p.reading {
            for m in std::iter::once(m).chain(m.also.iter().map(|(a, _)| a)) {
                if let (Decision::Accepted, Some(unit), Some(report), Some(period)) = (m.decision, &m.unit, &m.report, m.period) {
                    out.push(crate::domain::ObligationKey { unit: unit.clone(), report: report.clone(), period });
                }
            }
        }
    }
    out
}

/// Records one message of a batch.
async fn record_one(cfg: &Config, tx: &mut Tx<'_>, p: &Prepared, seen: &mut Seen<'_>, mode: Mode) -> Result<Result<Outcome, Redo>, StoreError> {
    let raw = &p.raw;
    let sha = &p.sha;
    if matches!(p.reading, Reading::Known) || seen.source(&raw.source_key) {
        return Ok(Ok(Outcome::AlreadyKnown));
    }
    let (facts, docs, mut m, duplicate_of) = match &p.reading {
        Reading::Known => unreachable!("answered above"),
        Reading::Duplicate(head, orig) => {
            let (facts, m) = duplicate(head.clone(), sha, *orig);
            (facts, vec![], m, Some(*orig))
        }
        Reading::New(facts, docs, m) => (facts.clone(), docs.clone(), m.clone(), None),
    };
    // The same content earlier in this batch: a duplicate of that message.
    if duplicate_of.is_none() {
        if let Some(orig) = Seen::content_keys(p, facts.message_id.as_deref()).iter().find_map(|k| seen.content(k)) {
            let (f, dm) = duplicate(facts.clone(), sha, orig);
            return record_as(cfg, tx, p, seen, mode, f, vec![], dm, Some(orig), &p.blob).await;
        }
        if let Some(mid) = &facts.message_id {
            if p.mid_seen || seen.mid(mid) {
                m.findings.push(format!("đã nhận một thư khác có cùng Message-ID {mid}"));
            }
        }
    }
    office::say_why_rejected(&mut m, &docs);
    let refused = match attempt(cfg, tx, mode, arrival_for(p, &raw.bytes, sha.clone(), facts, docs, m, duplicate_of, &p.blob)).await? {
        Ok(Ok(r)) => return outcome(cfg, tx, p, seen, mode, r).await,
        Ok(Err(Redo)) => return Ok(Err(Redo)),
        Err(e) => e,
    };
    // The database refused this message as it is (a value it will never take): record it as
    // rejected from its head alone, so the sender is told and the messages after it go on.
    tracing::error!("{}: cannot be recorded as it is ({refused}); recording it as rejected", raw.source_key);
    let head = &raw.bytes[..raw.bytes.len().min(64 * 1024)];
    let facts = mime::parse(head);
    let m = office::refused_by_store(&facts, &refused.to_string());
    let head_blob = crate::store::compress(head);
    match attempt(cfg, tx, mode, arrival_for(p, head, sha256_hex(head), facts, vec![], m, None, &head_blob)).await? {
        Ok(Ok(r)) => outcome(cfg, tx, p, seen, mode, r).await,
        Ok(Err(Redo)) => Ok(Err(Redo)),
        Err(again) => {
            tracing::error!("{}: cannot be recorded even as rejected ({again}); set aside", raw.source_key);
            tx.savepoint().await?;
            match office::set_aside(tx, &raw.source_key, sha, &raw.bytes, &format!("{refused}; as rejected: {again}")).await {
                Ok(()) => {
                    tx.release_savepoint().await?;
                    seen.batch.sources.insert(raw.source_key.clone());
                    Ok(Ok(Outcome::SetAside))
                }
                Err(e) => {
                    tx.rollback_to_savepoint().await?;
                    Err(e)
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn arrival_for<'a>(p: &'a Prepared, raw: &'a [u8], sha256: String, facts: MailFacts, documents: Vec<Document>, decision: Match, duplicate_of: Option<i64>, blob: &'a [u8]) -> Arrival<'a> {
    Arrival { source_key: &p.raw.source_key, raw, sha256, body_sha256: p.body_sha.clone(), arrival: p.arrival, facts, documents, decision, duplicate_of, blob: Some(blob) }
}

/// Records the message with this reading (a duplicate found in the batch).
#[allow(clippy::too_many_arguments)]
async fn record_as(cfg: &Config, tx: &mut Tx<'_>, p: &Prepared, seen: &mut Seen<'_>, mode: Mode, facts: MailFacts, docs: Vec<Document>, m: Match, dup: Option<i64>, blob: &[u8]) -> Result<Result<Outcome, Redo>, StoreError> {
    match attempt(cfg, tx, mode, arrival_for(p, &p.raw.bytes, p.sha.clone(), facts, docs, m, dup, blob)).await? {
        Ok(Ok(r)) => Box::pin(outcome(cfg, tx, p, seen, mode, r)).await,
        Ok(Err(Redo)) => Ok(Err(Redo)),
        Err(e) if mode == Mode::Fast => {
            tracing::debug!("{}: {e}; the batch is recorded carefully", p.raw.source_key);
            Ok(Err(Redo))
        }
        Err(e) => Err(e),
    }
}

/// One recording. Careful: inside a savepoint, kept when the message was recorded, rolled back
/// when it was known meanwhile, a duplicate, or refused (Err inside Ok: the refusal, to record
/// it otherwise). Fast: anything but a new recording asks for the careful mode.
async fn attempt(cfg: &Config, tx: &mut Tx<'_>, mode: Mode, a: Arrival<'_>) -> Result<Result<Result<office::Recorded, Redo>, StoreError>, StoreError> {
    if mode == Mode::Fast {
        return match office::record_in(cfg, tx, a).await {
            Ok(r @ office::Recorded::New(_)) => Ok(Ok(Ok(r))),
            Ok(_) => Ok(Ok(Err(Redo))),
            Err(e) if e.is_transient() => Err(e),
            Err(_) => Ok(Ok(Err(Redo))),
        };
    }
    tx.savepoint().await?;
    match office::record_in(cfg, tx, a).await {
        Ok(r @ office::Recorded::New(_)) => match tx.release_savepoint().await {
            Ok(()) => Ok(Ok(Ok(r))),
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                tx.rollback_to_savepoint().await?;
                Ok(Err(e))
            }
        },
        Ok(r) => {
            tx.rollback_to_savepoint().await?;
            Ok(Ok(Ok(r)))
        }
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tx.rollback_to_savepoint().await?;
            Ok(Err(e))
        }
    }
}

/// A message whose content was recorded before, as `orig`.
fn duplicate(head: MailFacts, sha: &str, orig: i64) -> (MailFacts, Match) {
    (head, office::duplicate_of(sha, orig))
}

/// What a recording did; a message whose content another message recorded meanwhile (another
/// process) is recorded again, as that one's duplicate. A new recording is remembered for the
/// rest of the batch.
async fn outcome(cfg: &Config, tx: &mut Tx<'_>, p: &Prepared, seen: &mut Seen<'_>, mode: Mode, r: office::Recorded) -> Result<Result<Outcome, Redo>, StoreError> {
    match r {
        office::Recorded::New(sub) => {
            let b = &mut seen.batch;
            b.messages += 1;
            b.sources.insert(p.raw.source_key.clone());
            if sub.decision != Decision::Duplicate {
                for k in Seen::content_keys(p, sub.message_id.as_deref()) {
                    b.content.entry(k).or_insert(sub.id);
                }
            }
            if let Some(mid) = &sub.message_id {
                b.mids.insert(mid.clone());
            }
            Ok(Ok(Outcome::Recorded { id: sub.id, decision: sub.decision }))
        }
        office::Recorded::AlreadyKnown => Ok(Ok(Outcome::AlreadyKnown)),
        office::Recorded::DuplicateOf(orig) => {
            let (facts, m) = duplicate(mime::parse(header_of(&p.raw.bytes)), &p.sha, orig);
            match record_as(cfg, tx, p, seen, mode, facts, vec![], m, Some(orig), &p.blob).await? {
                Ok(Outcome::Recorded { id, decision }) => Ok(Ok(Outcome::Recorded { id, decision })),
                Ok(_) => Ok(Ok(Outcome::AlreadyKnown)),
                Err(Redo) => Ok(Err(Redo)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn office() -> (tempfile::TempDir, Arc<Config>, Store, Parser) {
        let dir = tempfile::tempdir().unwrap();
        let text = "[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://t.db\"\n";
        let cfg = Config::from_str_at(text, &dir.path().join("c.toml")).unwrap();
        let store = Store::open(&cfg).await.unwrap();
        let parser = Parser::InProcess(cfg.limits.clone());
        (dir, Arc::new(cfg), store, parser)
    }

    fn message(key: &str, mid: &str, body: &str) -> RawMessage {
        let bytes = format!("From: a@x.example\r\nSubject: hello\r\nMessage-ID: <{mid}>\r\n\r\n{body}\r\n").into_bytes();
        RawMessage { source_key: key.into(), arrival: Some(1_600_000_000), path: None, bytes, declared_size: None }
    }

    async fn prepared(cfg: &Arc<Config>, store: &Store, parser: &Parser, raws: Vec<RawMessage>) -> Vec<Prepared> {
        let cpu = Arc::new(tokio::sync::Semaphore::new(2));
        let mut v = Vec::new();
        for r in raws {
            v.push(prepare(cfg.clone(), store.clone(), parser.clone(), cpu.clone(), r).await.unwrap());
        }
        v
    }

    fn decisions(out: &[Result<Outcome, StoreError>]) -> Vec<String> {
        out.iter()
            .map(|o| match o {
                Ok(Outcome::Recorded { decision, .. }) => decision.as_str().to_string(),
                Ok(Outcome::AlreadyKnown) => "known".into(),
                Ok(Outcome::SetAside) => "set aside".into(),
                Err(e) => format!("error {e}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn one_batch_records_a_copy_as_a_duplicate_and_a_repeated_source_key_once() {
        let (_d, cfg, store, parser) = office().await;
        let batch = prepared(&cfg, &store, &parser, vec![message("k1", "a@x", "one"), message("k2", "a@x", "one"), message("k1", "a@x", "one"), message("k3", "b@x", "two")]).await;
        let out = record_batch(&cfg, &store, &mut Recent::default(), batch).await.unwrap();
        assert_eq!(decisions(&out), ["not_submission", "duplicate", "known", "not_submission"]);
        assert_eq!(store.count_messages().await.unwrap(), 3, "the copy is a row of its own, the repeat is not");
        let dups: Vec<_> = store.messages().await.unwrap().into_iter().filter(|m| m.decision == Decision::Duplicate).collect();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].duplicate_of, Some(out[0].as_ref().map(|o| if let Outcome::Recorded { id, .. } = o { *id } else { 0 }).unwrap()));
    }

    #[tokio::test]
    async fn a_message_read_before_its_original_was_committed_is_still_its_duplicate() {
        // Read ahead: both are prepared while nothing is committed, then recorded in two batches;
        // with the pass's memory of recent messages, and without it (as if another process had
        // recorded the original: the database's content keys tell, the batch is redone carefully).
        for remember in [true, false] {
            let (_d, cfg, store, parser) = office().await;
            let mut batches = prepared(&cfg, &store, &parser, vec![message("k1", "a@x", "one"), message("k2", "a@x", "one"), message("k3", "c@x", "three")]).await;
            let later = batches.split_off(1);
            let mut recent = Recent::default();
            let first = record_batch(&cfg, &store, &mut recent, batches).await.unwrap();
            assert_eq!(decisions(&first), ["not_submission"]);
            if !remember {
                recent = Recent::default();
            }
            let second = record_batch(&cfg, &store, &mut recent, later).await.unwrap();
            assert_eq!(decisions(&second), ["duplicate", "not_submission"], "remembering: {remember}");
            assert_eq!(store.count_messages().await.unwrap(), 3);
            let events = store.audit_events().await.unwrap();
            assert_eq!(crate::audit::verify(&events).ok(), Some(events.len()), "the audit chain holds across batches");
            assert_eq!(store.audit_head().await.unwrap().as_deref(), events.last().map(|e| e.hash.as_str()), "and its head is the newest event");
        }
    }
}
