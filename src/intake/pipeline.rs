//! One raw message, end to end: duplicate check, MIME, documents, matching, and one transaction
//! that stores the raw bytes (compressed, content-addressed), the decision, the versions of its
//! obligation, the acknowledgement to send and the audit events — or nothing at all.

use super::RawMessage;
use crate::config::Config;
use crate::domain::{Decision, Format};
use crate::matching::{self, Match};
use crate::parse::mime::{self, MailFacts};
use crate::parse::worker::Parser;
use crate::parse::{sha256_hex, Document};
use crate::store::{MessageRow, Store, StoreError};
use serde_json::json;
use std::io::Write;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded now, with its decision.
    Recorded { id: i64, decision: Decision },
    /// Its source key was already recorded: nothing to do.
    AlreadyKnown,
}

/// The summary of the facts kept with a message (threading for replies, loop flags).
pub fn facts_json(f: &MailFacts) -> serde_json::Value {
    json!({
        "message_id": f.message_id, "from": f.from, "from_name": f.from_name, "to": f.to, "subject": f.subject,
        "in_reply_to": f.in_reply_to, "references": f.references, "auto_submitted": f.auto_submitted,
        "list": f.list, "bounce": f.bounce, "auth_failed": f.auth_failed, "date": f.date,
        "forwarded": f.forwarded.as_ref().map(|i| json!({"from": i.from, "subject": i.subject, "message_id": i.message_id})),
    })
}

pub fn compress(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(raw);
    e.finish().unwrap_or_default()
}

pub fn decompress(z: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut d = flate2::read::ZlibDecoder::new(z);
    let mut out = Vec::new();
    d.read_to_end(&mut out)?;
    Ok(out)
}

/// Reads the documents of the message a decision is taken on.
pub fn read_documents(cfg: &Config, parser: &Parser, facts: &MailFacts) -> Vec<Document> {
    let eff = matching::effective(cfg, facts);
    let mut docs = Vec::new();
    for a in &eff.attachments {
        docs.extend(parser.read(&a.filename, &a.data));
    }
    // A forward by someone who is not office staff: the forwarded files still count as evidence.
    if std::ptr::eq(eff, facts) {
        if let Some(inner) = &facts.forwarded {
            for a in &inner.attachments {
                docs.extend(parser.read(&a.filename, &a.data));
            }
        }
    }
    docs
}

/// Runs MIME, documents and matching on raw bytes (pure apart from the parse workers).
pub fn analyse(cfg: &Config, parser: &Parser, raw: &[u8], arrival: i64) -> (MailFacts, Vec<Document>, Match) {
    if raw.len() as u64 > cfg.intake.max_message_bytes {
        return too_big(cfg, raw, raw.len() as u64);
    }
    let facts = mime::parse(raw);
    let docs = read_documents(cfg, parser, &facts);
    let m = matching::decide(cfg, &facts, &docs, arrival);
    (facts, docs, m)
}

/// A message over `max_message_mb`: only its head is read, for the reply and the record.
fn too_big(cfg: &Config, head: &[u8], size: u64) -> (MailFacts, Vec<Document>, Match) {
    let facts = mime::parse(&head[..head.len().min(64 * 1024)]);
    let mut m = Match::new(Decision::Rejected);
    m.reasons.push(format!("thư dung lượng {} MB, vượt giới hạn {} MB", size / (1024 * 1024), cfg.intake.max_message_bytes / (1024 * 1024)));
    if facts.auto_submitted || facts.list || facts.bounce {
        m.reply = false;
    }
    (facts, vec![], m)
}

/// The arrival of a message without a source-given time: the newest `Received:` header, then
/// the `Date:` header, then now.
pub fn arrival_of(raw: &RawMessage, facts: &MailFacts) -> i64 {
    raw.arrival.or(facts.received).or(facts.date).unwrap_or_else(|| chrono::Utc::now().timestamp())
}

pub fn row_from(m: &Match, docs: &[Document]) -> MessageRow {
    MessageRow {
        decision: m.decision.as_str().to_string(),
        reasons: serde_json::to_string(&m.reasons).unwrap_or_default(),
        unit: m.unit.as_ref().map(|u| u.to_string()),
        report: m.report.as_ref().map(|r| r.to_string()),
        period: m.period.map(|p| p.to_string()),
        due: m.due.map(|d| d.format("%Y-%m-%d").to_string()),
        deadline: m.deadline,
        timeliness: m.timeliness.map(|t| match t {
            crate::domain::Timeliness::OnTime => "on_time".to_string(),
            crate::domain::Timeliness::Late => "late".to_string(),
        }),
        findings: serde_json::to_string(&m.findings).unwrap_or_default(),
        evidence: serde_json::to_string(&m.evidence).unwrap_or_default(),
        documents: serde_json::to_string(docs).unwrap_or_default(),
        ..Default::default()
    }
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
            let mut m = Match::new(Decision::Duplicate);
            m.reasons.push(format!("thư này đã nhận trước đó (bài nộp số {orig})"));
            m.reply = false;
            m.evidence.push(format!("sha256 {sha}"));
            (head, vec![], m, Some(orig))
        }
        None => {
            // A source that knows the size (IMAP) hands over only the head of an oversized message.
            let (facts, docs, mut m) = match raw.declared_size.filter(|n| *n > cfg.intake.max_message_bytes) {
                Some(n) => too_big(cfg, &raw.bytes, n),
                None => analyse(cfg, parser, &raw.bytes, arrival),
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
    let mut row = row_from(&m, &docs);
    row.source_key = raw.source_key.clone();
    row.sha256 = sha.clone();
    row.body_sha256 = body_sha;
    row.message_id = facts.message_id.clone();
    row.received_at = arrival;
    row.from_addr = facts.from.clone();
    row.subject = Some(facts.subject.clone());
    row.raw_key = sha.clone();
    row.size = raw.bytes.len() as i64;
    row.facts = facts_json(&facts).to_string();
    row.duplicate_of = duplicate_of;

    let mut tx = store.begin().await?;
    tx.put_blob(&sha, raw.bytes.len() as i64, &compress(&raw.bytes)).await?;
    let Some(id) = tx.insert_message(&row).await? else {
        // Recorded meanwhile by another run: the transaction is dropped, nothing changes.
        return Ok(Outcome::AlreadyKnown);
    };
    row.id = id;
    let subject = format!("submission:{id}");
    tx.audit(
        "message_received",
        "baocao",
        &subject,
        &json!({"source": raw.source_key, "sha256": sha, "message_id": row.message_id, "from": row.from_addr,
                "subject": row.subject, "arrival": arrival, "size": row.size}),
    )
    .await?;
    if !docs.is_empty() {
        let summary: Vec<_> = docs
            .iter()
            .map(|d| json!({"filename": d.filename, "format": d.format, "parse": d.parse, "error": d.error, "sha256": d.sha256}))
            .collect();
        tx.audit("documents_parsed", "baocao", &subject, &json!(summary)).await?;
    }
    tx.audit(
        "decision",
        "baocao",
        &subject,
        &json!({"decision": m.decision, "reasons": m.reasons, "unit": m.unit, "report": m.report, "period": m.period,
                "due": m.due, "timeliness": m.timeliness, "findings": m.findings, "evidence": m.evidence}),
    )
    .await?;
    if m.decision == Decision::Accepted {
        if let (Some(u), Some(r), Some(p)) = (&row.unit, &row.report, &row.period) {
            tx.renumber_versions(u, r, p).await?;
        }
    }
    crate::notify::queue_ack(cfg, &mut tx, &row, &facts, &m).await?;
    tx.commit().await?;
    Ok(Outcome::Recorded { id, decision: m.decision })
}
