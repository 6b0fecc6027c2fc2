//! One raw message, end to end and exactly once: its source key, the duplicate check by content,
//! then the office's reading of it ([`office::analyse`]) and its recording
//! ([`office::record_arrival`]): one transaction with the raw bytes, the decision, the versions of
//! its obligation, the acknowledgement and the audit events — or nothing at all.

use super::RawMessage;
use crate::config::Config;
use crate::domain::{Decision, Format};
use crate::matching::Match;
use crate::office::{self, Arrival};
use crate::parse::mime::{self, MailFacts};
use crate::parse::sha256_hex;
use crate::parse::worker::Parser;
use crate::store::{Store, StoreError};

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

/// Records one message exactly once.
pub async fn process(cfg: &Config, store: &Store, parser: &Parser, raw: &RawMessage) -> Result<Outcome, StoreError> {
    if store.source_known(&raw.source_key).await? {
        return Ok(Outcome::AlreadyKnown);
    }
    let sha = sha256_hex(&raw.bytes);
    let body_sha = sha256_hex(mime::body_bytes(&raw.bytes));
    // The duplicate check needs only the Message-ID; a full parse waits until it is needed.
    let head = mime::parse(&raw.bytes[..raw.bytes.len().min(256 * 1024)]);
    let arrival = arrival_of(raw, &head);
    let dup = store.find_duplicate(&sha, head.message_id.as_deref(), &body_sha).await?;
    let (facts, docs, mut m, duplicate_of) = match dup {
        Some(orig) => {
            let (facts, m) = duplicate(head, &sha, orig);
            (facts, vec![], m, Some(orig))
        }
        None => {
            // A source that knows the size (IMAP) hands over only the head of an oversized message.
            let (facts, docs, mut m) = match raw.declared_size.filter(|n| *n > cfg.intake.max_message_bytes) {
                Some(n) => office::too_big(cfg, &raw.bytes, n),
                None => {
                    let replied = office::thread_of(cfg, store, &head).await?;
                    office::analyse(cfg, parser, &raw.bytes, arrival, replied)
                }
            };
            if let Some(mid) = &facts.message_id {
                if store.message_id_seen(mid).await? {
                    m.findings.push(format!("đã nhận một thư khác có cùng Message-ID {mid}"));
                }
            }
            (facts, docs, m, None)
        }
    };
    if m.decision == Decision::Rejected && docs.iter().all(|d| d.format != Format::Zip) && m.reasons.is_empty() {
        m.reasons.push("không đọc được nội dung nào".into());
    }
    let a = Arrival { source_key: &raw.source_key, raw: &raw.bytes, sha256: sha.clone(), body_sha256: body_sha.clone(), arrival, facts, documents: docs, decision: m, duplicate_of };
    let refused = match office::record_arrival(cfg, store, a).await {
        Ok(r) => return outcome(cfg, store, raw, &sha, &body_sha, arrival, r).await,
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => e,
    };
    // The database refused this message as it is (a value it will never take): record it as
    // rejected from its head alone, so the sender is told and the messages after it go on.
    tracing::error!("{}: cannot be recorded as it is ({refused}); recording it as rejected", raw.source_key);
    let head = &raw.bytes[..raw.bytes.len().min(64 * 1024)];
    let mut m = Match::new(Decision::Rejected);
    m.reasons.push("Văn phòng không lưu được thư này nguyên trạng; đề nghị gửi lại thư khác".into());
    m.evidence.push(format!("the database refused the message as it was: {refused}"));
    let facts = mime::parse(head);
    m.reply = !(facts.auto_submitted || facts.list || facts.bounce || facts.receipt || facts.null_sender);
    let head_sha = sha256_hex(head);
    let a = Arrival { source_key: &raw.source_key, raw: head, sha256: head_sha, body_sha256: body_sha.clone(), arrival, facts, documents: vec![], decision: m, duplicate_of: None };
    match office::record_arrival(cfg, store, a).await {
        Ok(r) => outcome(cfg, store, raw, &sha, &body_sha, arrival, r).await,
        Err(e) if e.is_transient() => Err(e),
        Err(again) => {
            tracing::error!("{}: cannot be recorded even as rejected ({again}); set aside", raw.source_key);
            store.set_aside(&raw.source_key, &sha, &raw.bytes, &format!("{refused}; as rejected: {again}")).await?;
            Ok(Outcome::SetAside)
        }
    }
}

/// A message whose content was recorded before, as `orig`.
fn duplicate(head: MailFacts, sha: &str, orig: i64) -> (MailFacts, Match) {
    let mut m = Match::new(Decision::Duplicate);
    m.reasons.push(format!("thư này đã nhận trước đó (bài nộp số {orig})"));
    m.reply = false;
    m.evidence.push(format!("sha256 {sha}"));
    (head, m)
}

/// What a recording did; a message whose content another process recorded meanwhile is
/// recorded again, as that one's duplicate.
async fn outcome(cfg: &Config, store: &Store, raw: &RawMessage, sha: &str, body_sha: &str, arrival: i64, r: office::Recorded) -> Result<Outcome, StoreError> {
    match r {
        office::Recorded::New(sub) => Ok(Outcome::Recorded { id: sub.id, decision: sub.decision }),
        office::Recorded::AlreadyKnown => Ok(Outcome::AlreadyKnown),
        office::Recorded::DuplicateOf(orig) => {
            let head = mime::parse(&raw.bytes[..raw.bytes.len().min(256 * 1024)]);
            let (facts, m) = duplicate(head, sha, orig);
            let a = Arrival { source_key: &raw.source_key, raw: &raw.bytes, sha256: sha.to_string(), body_sha256: body_sha.to_string(), arrival, facts, documents: vec![], decision: m, duplicate_of: Some(orig) };
            match office::record_arrival(cfg, store, a).await? {
                office::Recorded::New(sub) => Ok(Outcome::Recorded { id: sub.id, decision: sub.decision }),
                _ => Ok(Outcome::AlreadyKnown),
            }
        }
    }
}
