//! The office's actions: the one door through which every decision about a message or an
//! obligation is written, whoever takes it — the pipeline on arrival, a clerk on the command line
//! or in the console.
//!
//! Each action is one transaction holding the decision, the renumbered versions of every
//! obligation it touches, the audit event naming who acted, and the mail it triggers (the
//! acknowledgement, or the notice telling the unit of a person's decision). The callers only
//! choose the action and print what it returns; none of them writes a decision itself, so the
//! rules (timeliness, which obligations exist, versions) are stated once, here and in
//! `schedule`.

pub mod accounts;
pub mod directory;
pub use directory::DirectoryError;
pub mod extensions;
pub mod figures;
pub mod mail;
pub mod reminders;
pub mod requests;
pub mod scheduled;
pub use scheduled::{digest, office_status, review_notice};

use crate::audit;
use crate::config::Config;
use crate::domain::{Decision, ObligationKey, OutboxState, Timeliness};
use crate::matching::{self, Match};
use crate::notify::{self, ReplyTo};
use crate::parse::mime::{self, MailFacts};
use crate::parse::worker::Parser;
use crate::parse::Document;
use crate::schedule::{self, NotOwed, Obligation};
use crate::store::{self, Store, StoreError, Submission, Tx, Versions};
use serde_json::json;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum OfficeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("không thực hiện được: {0}")]
    NotOwed(#[from] NotOwed),
    /// A message cannot be a report due long after it arrived (a period typed wrong, a
    /// hand-made request).
    #[error("không thực hiện được: thư số {id} đến ngày {arrived}, không thể là báo cáo {report} {period} có hạn nộp tận ngày {due}")]
    TooFarAhead { id: i64, arrived: String, report: String, period: String, due: String },
    #[error("không gia hạn được: hạn mới {until} không sau hạn nộp {due}")]
    ExtensionNotLater { until: String, due: String },
    #[error("không gia hạn được: hạn mới {until} cách hạn nộp {due} hơn một năm")]
    ExtensionTooLong { until: String, due: String },
    #[error("không gia hạn được: {title} có hạn nộp {due}, hơn một năm nữa mới đến")]
    ExtensionTooEarly { title: String, due: String },
    #[error("{title} của đơn vị {unit} không được gia hạn")]
    NoExtension { title: String, unit: String },
    #[error("thư số {id} không phải thư của đơn vị gửi Văn phòng (thư tự động, báo cáo, hoặc thư của chính Văn phòng)")]
    NotOtherMail { id: i64 },
    #[error("hãy viết nội dung trả lời")]
    EmptyAnswer,
    #[error("thư số {id} không có địa chỉ để trả lời")]
    NobodyToAnswer { id: i64 },
    /// A change of the directory that cannot be made, said as people read it (SPEC §17).
    #[error("{0}")]
    Directory(#[from] DirectoryError),
    #[error("submission {id} {why}")]
    Refused { id: i64, why: Refusal },
    #[error("{0}")]
    Account(#[from] accounts::AccountError),
    #[error("the stored raw message of submission {0} is damaged: {1}")]
    DamagedRaw(i64, std::io::Error),
    #[error("request {id} {why}")]
    Request { id: i64, why: RequestProblem },
}

/// Why an action on a submission was refused (its words for the command line; the console
/// says each in Vietnamese).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A duplicate (of the submission named, when known).
    #[error("is a duplicate{}; decide about the original instead", .0.map(|d| format!(" of submission {d}")).unwrap_or_default())]
    Duplicate(Option<i64>),
    #[error("carries a single document; assign the whole message instead")]
    SingleDocument,
    #[error("has no document {doc} (it has {has})")]
    NoSuchDocument { doc: usize, has: usize },
    #[error("document {0} was already taken out of it")]
    AlreadyTaken(usize),
    #[error("has no complete best guess (unit, report and period); assign it instead")]
    NoCompleteGuess,
    #[error("has no figures read by OCR waiting for confirmation")]
    NoFiguresToConfirm,
}

/// Why a letter's request could not be added, confirmed or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestProblem {
    #[error("already holds this letter ({number}, {report})")]
    AlreadyHeld { number: String, report: String },
    #[error("does not exist")]
    Missing,
    /// Not waiting for confirmation: its state, as people name it.
    #[error("is {0}, not waiting for confirmation")]
    NotPending(String),
    #[error("sets no deadline for the units: nothing to confirm (cancel it instead)")]
    NoDeadline,
    #[error("cannot be confirmed for {0}: no such unit")]
    NoSuchUnit(String),
    #[error("addresses no unit the config knows; name the units (--unit)")]
    NoUnit,
    #[error("was decided by someone else meanwhile")]
    DecidedMeanwhile,
    #[error("is already cancelled")]
    AlreadyCancelled,
}

pub type Result<T> = std::result::Result<T, OfficeError>;

/// What an action did, for the caller to show.
#[derive(Debug, Clone)]
pub struct Done {
    pub submission: Submission,
    /// Things the person should know (the action was still taken).
    pub warnings: Vec<String>,
    /// The key of the mail queued to the unit, when one was.
    pub told: Option<String>,
}

/// A message as read on arrival, ready to be recorded.
pub struct Arrival<'a> {
    pub source_key: &'a str,
    pub raw: &'a [u8],
    /// SHA-256 of the raw bytes and of the body (after the header block): the content keys.
    pub sha256: String,
    pub body_sha256: String,
    pub arrival: i64,
    pub facts: MailFacts,
    pub documents: Vec<Document>,
    pub decision: Match,
    pub duplicate_of: Option<i64>,
    /// `raw` compressed for the raw store, when the caller did it already (off the commit's
    /// path); otherwise it is compressed here.
    pub blob: Option<&'a [u8]>,
}

/// The summary of the facts kept with a message (threading for replies, loop flags).
pub fn facts_json(f: &MailFacts) -> serde_json::Value {
    let mut v = json!({
        "message_id": f.message_id, "from": f.from, "from_name": f.from_name, "to": f.to, "subject": f.subject,
        "in_reply_to": f.in_reply_to, "references": f.references, "auto_submitted": f.auto_submitted,
        "list": f.list, "bounce": f.bounce, "receipt": f.receipt, "null_sender": f.null_sender, "auth": f.auth, "date": f.date,
        "forwarded": f.forwarded.as_ref().map(|i| json!({"from": i.from, "subject": i.subject, "message_id": i.message_id})),
    });
    if !f.bounced_to.is_empty() {
        v["bounced_to"] = json!(f.bounced_to);
    }
    v
}

/// Keeps what a mail that is not a report says (its first characters): the office reads and
/// answers it on the console (SPEC §17 *Thư khác*) without opening the raw message.
fn keep_body(sub: &mut Submission, facts: &MailFacts) {
    if sub.decision == Decision::NotSubmission {
        let text = facts.body_text.trim();
        let cut = text.char_indices().nth(mail::BODY_CHARS).map(|(i, _)| i).unwrap_or(text.len());
        sub.facts["body"] = json!(&text[..cut]);
    }
}

/// The submission a decision makes: `m`'s decision, obligation, deadline and timeliness.
fn apply(sub: &mut Submission, m: &Match) {
    sub.decision = m.decision;
    sub.reasons = m.reasons.clone();
    sub.unit = m.unit.clone();
    sub.report = m.report.clone();
    sub.period = m.period;
    sub.due = m.due;
    sub.deadline = m.deadline;
    sub.timeliness = m.timeliness;
    sub.findings = m.findings.clone();
    sub.evidence = m.evidence.clone();
}

/// The office's own letter setting a request (SPEC §15), sent or forwarded by its staff: the
/// first read document with the letter's number and a deadline for the units, and the letter.
fn office_letter(cfg: &Config, facts: &MailFacts, docs: &[Document]) -> Option<(usize, crate::parse::letter::Letter)> {
    if !matching::from_office_staff(cfg, facts) {
        return None;
    }
    docs.iter().enumerate().filter(|(_, d)| d.parse == crate::domain::ParseStatus::Ok).find_map(|(i, d)| {
        let l = crate::parse::letter::read(&d.text, Some(&d.header));
        l.sets_request().then_some((i, l))
    })
}

/// Reads one message: MIME, its documents (in the parse workers), and matching.
pub fn analyse(cfg: &Config, parser: &Parser, raw: &[u8], arrival: i64, replied_to: Option<String>) -> (MailFacts, Vec<Document>, Match) {
    if raw.len() as u64 > cfg.intake.max_message_bytes {
        return too_big(cfg, raw, raw.len() as u64);
    }
    let mut facts = mime::parse(raw);
    facts.replied_to = replied_to;
    let (mut docs, notes) = read_documents(cfg, parser, &facts);
    figures::recognise(cfg, &mut docs);
    if let Some((i, letter)) = office_letter(cfg, &facts, &docs) {
        let mut m = Match::new(Decision::NotSubmission);
        m.reply = false;
        m.reasons.push(format!("công văn của Sở do cán bộ Văn phòng gửi ({}): đã lưu thành yêu cầu báo cáo, chờ Văn phòng xác nhận", docs[i].filename));
        m.letter = Some(i);
        m.request_letter = Some(letter);
        return (facts, docs, m);
    }
    let groups = matching::split_reports(cfg, &docs);
    let mut m = if groups.len() < 2 {
        matching::decide(cfg, &facts, &docs, arrival)
    } else {
        let mut each = matching::decide_reports(cfg, &facts, &docs, &groups, arrival);
        let mut first = each.remove(0);
        // One acknowledgement answers for the whole message.
        first.reply = matching::decide(cfg, &facts, &docs, arrival).reply;
        first.also = each.into_iter().zip(groups[1..].iter().cloned()).collect();
        first.own_documents = Some(groups[0].clone());
        first
    };
    m.findings.extend(notes);
    (facts, docs, m)
}

/// The office's reminder a message replies to, if its `In-Reply-To`/`References` name one.
pub async fn thread_of(cfg: &Config, store: &Store, head: &MailFacts) -> std::result::Result<Option<String>, StoreError> {
    let mut ids: Vec<String> = head.in_reply_to.iter().cloned().collect();
    ids.extend(head.references.iter().cloned());
    let domain = cfg.office.address.split('@').nth(1).unwrap_or_default();
    store.reminder_replied(&ids, domain).await
}

/// Reads the documents of the message a decision is taken on, within the message's budgets: at
/// most `limits.documents` attachments read, `limits.message_seconds` of reading, and
/// `limits.message_text_kb` of text and table cells kept. What is past a budget is listed, not
/// read or kept, with a note saying so (returned beside the documents).
fn read_documents(cfg: &Config, parser: &Parser, facts: &MailFacts) -> (Vec<Document>, Vec<String>) {
    let eff = matching::effective(cfg, facts);
    let mut attachments: Vec<&mime::Attachment> = eff.attachments.iter().collect();
    // A forward by someone who is not office staff: the forwarded files still count as evidence.
    if std::ptr::eq(eff, facts) {
        if let Some(inner) = &facts.forwarded {
            attachments.extend(inner.attachments.iter());
        }
    }
    let limits = &cfg.limits;
    let started = std::time::Instant::now();
    let mut budget = Budget { text_left: limits.message_text_kb * 1024, ..Default::default() };
    let mut docs = Vec::new();
    for a in attachments {
        let refused = if docs.len() >= limits.documents {
            budget.over_count += 1;
            Some(format!("từ chối: thư có quá {} tệp, tệp này không được đọc", limits.documents))
        } else if started.elapsed().as_secs() >= limits.message_seconds {
            budget.over_time += 1;
            Some(format!("từ chối: đọc các tệp của thư đã quá {} giây, tệp này không được đọc", limits.message_seconds))
        } else {
            None
        };
        match refused {
            Some(why) => docs.push(Document::empty(&a.filename, crate::parse::container::sniff(&a.data), &a.data).refused(why)),
            None => {
                for mut d in parser.read(&a.filename, &a.data) {
                    budget.keep(&mut d);
                    docs.push(d);
                }
            }
        }
    }
    (docs, budget.notes(limits))
}

/// What one message may keep of its documents' text and tables.
#[derive(Default)]
struct Budget {
    text_left: usize,
    over_count: usize,
    over_time: usize,
    cut: usize,
}

impl Budget {
    fn keep(&mut self, d: &mut Document) {
        if d.keep_within(&mut self.text_left) {
            self.cut += 1;
        }
    }

    fn notes(&self, limits: &crate::domain::rules::Limits) -> Vec<String> {
        let mut notes = Vec::new();
        if self.over_count > 0 {
            notes.push(format!("thư có quá {} tệp đính kèm: {} tệp sau không được đọc", limits.documents, self.over_count));
        }
        if self.over_time > 0 {
            notes.push(format!("đọc các tệp của thư quá {} giây: {} tệp sau không được đọc", limits.message_seconds, self.over_time));
        }
        if self.cut > 0 {
            notes.push(format!("nội dung các tệp dài quá {} KB: chỉ giữ phần đầu của {} tệp", limits.message_text_kb, self.cut));
        }
        notes
    }
}

/// A message over `max_message_mb`: only its head is read, for the reply and the record.
pub fn too_big(cfg: &Config, head: &[u8], size: u64) -> (MailFacts, Vec<Document>, Match) {
    let facts = mime::parse(&head[..head.len().min(64 * 1024)]);
    let mut m = Match::new(Decision::Rejected);
    m.reasons.push(format!("thư dung lượng {} MB, vượt giới hạn {} MB", size / (1024 * 1024), cfg.intake.max_message_bytes / (1024 * 1024)));
    if facts.is_automatic() {
        m.reply = false;
    }
    (facts, vec![], m)
}

/// Renumbers every obligation an action touched (the one a submission left and the one it
/// joined) and returns the versions by submission id.
async fn renumber(tx: &mut Tx<'_>, touched: &[Option<ObligationKey>]) -> std::result::Result<HashMap<i64, i64>, StoreError> {
    let mut seen: Vec<&ObligationKey> = Vec::new();
    let mut versions = HashMap::new();
    for k in touched.iter().flatten() {
        if seen.contains(&k) {
            continue;
        }
        seen.push(k);
        let v: Versions = tx.renumber(k).await?;
        versions.extend(v);
    }
    Ok(versions)
}

/// The version of a newly inserted accepted submission: as the fast path numbered it on
/// insert, or by renumbering its obligation.
async fn version_of(tx: &mut Tx<'_>, sub: &Submission) -> std::result::Result<Option<i64>, StoreError> {
    if let Some(v) = sub.obligation().and_then(|ob| tx.numbered(&ob, sub.id)) {
        return Ok(Some(v));
    }
    Ok(renumber(tx, &[sub.obligation()]).await?.get(&sub.id).copied())
}

/// What recording an arrival did.
#[derive(Debug)]
pub enum Recorded {
    New(Submission),
    /// Its source key was recorded meanwhile by another run: nothing was written.
    AlreadyKnown,
    /// Another process recorded the same content meanwhile (a relay re-delivery ingested at the
    /// same instant): nothing was written; record it as a duplicate of this one.
    DuplicateOf(i64),
}

/// Records a message on arrival: its raw bytes, the decision, its obligation's versions, the
/// acknowledgement (saying which version it is) and the audit events, in one transaction.
pub async fn record_arrival(cfg: &Config, store: &Store, a: Arrival<'_>) -> std::result::Result<Recorded, StoreError> {
    let mut tx = store.begin().await?;
    let r = record_in(cfg, &mut tx, a).await?;
    // Nothing written is kept unless the message was recorded (dropping the transaction
    // rolls it back).
    if matches!(r, Recorded::New(_)) {
        tx.commit().await?;
    }
    Ok(r)
}

/// Records a message on arrival inside `tx` (intake's group commit records a batch of messages
/// in one transaction, each inside a savepoint). When it answers `AlreadyKnown` or
/// `DuplicateOf`, what it wrote must be rolled back by the caller.
pub async fn record_in(cfg: &Config, tx: &mut Tx<'_>, mut a: Arrival<'_>) -> std::result::Result<Recorded, StoreError> {
    let sha = a.sha256.clone();
    // A message carrying several reports: its own row holds the first, each further one a row
    // of its own (its obligation, timeliness and version), written in the same transaction.
    let also = std::mem::take(&mut a.decision.also);
    let all_docs = a.documents.clone();
    let pick = |ix: &[usize]| -> Vec<Document> { ix.iter().filter_map(|&i| all_docs.get(i).cloned()).collect() };
    if let Some(own) = a.decision.own_documents.take() {
        a.documents = pick(&own);
    }
    let mut sub = Submission {
        source_key: a.source_key.to_string(),
        sha256: a.sha256,
        body_sha256: a.body_sha256,
        message_id: a.facts.message_id.clone(),
        received_at: a.arrival,
        from_addr: a.facts.from.clone(),
        subject: Some(a.facts.subject.clone()),
        raw_key: sha.clone(),
        size: a.raw.len() as i64,
        documents: a.documents,
        facts: facts_json(&a.facts),
        duplicate_of: a.duplicate_of,
        ..Default::default()
    };
    apply(&mut sub, &a.decision);
    keep_body(&mut sub, &a.facts);
    let figures = figures::read_for(cfg, tx, &mut sub, 0).await?;

    let letter = a.decision.request_letter.clone();
    let blob = match a.blob {
        Some(b) => b.to_vec(),
        None => store::compress(a.raw),
    };
    tx.put_blob(&sha, a.raw.len() as i64, blob).await?;
    let Some(id) = tx.insert_message(&sub).await? else {
        // Recorded meanwhile by another run: the transaction is dropped, nothing changes.
        return Ok(Recorded::AlreadyKnown);
    };
    sub.id = id;
    if let (Some(r), Some(ob)) = (&figures, sub.obligation()) {
        tx.put_figures(id, &ob, sub.received_at, r).await?;
    }
    if sub.decision != Decision::Duplicate {
        if let Some(original) = tx.claim_content_keys(id, &sub.sha256, sub.message_id.as_deref(), &sub.body_sha256).await? {
            return Ok(Recorded::DuplicateOf(original));
        }
    }
    let subject = format!("submission:{id}");
    tx.audit(
        audit::Kind::MessageReceived,
        "baocao",
        &subject,
        &json!({"source": a.source_key, "sha256": sha, "message_id": sub.message_id, "from": sub.from_addr,
                "subject": sub.subject, "arrival": a.arrival, "size": sub.size}),
    )
    .await?;
    if !sub.documents.is_empty() {
        let summary: Vec<_> = sub
            .documents
            .iter()
            .map(|d| json!({"filename": d.filename, "format": d.format, "parse": d.parse, "error": d.error, "sha256": d.sha256}))
            .collect();
        tx.audit(audit::Kind::DocumentsParsed, "baocao", &subject, &json!(summary)).await?;
    }
    tx.audit(audit::Kind::Decision, "baocao", &subject, &decision_event(&sub)).await?;
    // The office's letter becomes a request waiting for a clerk, with the message that carried it.
    if let Some(l) = &letter {
        let r = requests::pending(cfg, l, &format!("thư số {id}"), sub.message_id.as_deref(), "baocao");
        match tx.insert_request(&r).await? {
            Some(rid) => tx.audit(audit::Kind::RequestAdded, "baocao", &format!("request:{rid}"), &json!({"report": r.report, "number": r.number, "source": r.source, "message_id": r.message_id})).await?,
            None => tracing::info!("submission {id}: the letter {} is already a request", r.report),
        }
    }
    if sub.decision == Decision::Accepted {
        sub.version = version_of(tx, &sub).await?;
    }
    for (k, (pm, ix)) in also.iter().enumerate() {
        let mut part = new_part(&sub, k);
        apply(&mut part, pm);
        part.documents = pick(ix);
        let part_figures = figures::read_for(cfg, tx, &mut part, 0).await?;
        let Some(pid) = tx.insert_message(&part).await? else { continue };
        part.id = pid;
        if let (Some(r), Some(ob)) = (&part_figures, part.obligation()) {
            tx.put_figures(pid, &ob, part.received_at, r).await?;
        }
        let mut event = decision_event(&part);
        event["part_of"] = json!(id.to_string());
        tx.audit(audit::Kind::Decision, "baocao", &format!("submission:{pid}"), &event).await?;
        if part.decision == Decision::Accepted {
            part.version = version_of(tx, &part).await?;
        }
        sub.also.push(part);
    }
    if a.decision.reply {
        acknowledge(cfg, tx, &sub, &ReplyTo::of_mail(cfg, &a.facts), chrono::Utc::now().timestamp()).await?;
    }
    Ok(Recorded::New(sub))
}

/// The decision on a message whose content was recorded before, as submission `orig`: a
/// duplicate, never answered.
pub fn duplicate_of(sha: &str, orig: i64) -> Match {
    let mut m = Match::new(Decision::Duplicate);
    m.reasons.push(format!("thư này đã nhận trước đó (bài nộp số {orig})"));
    m.reply = false;
    m.evidence.push(format!("sha256 {sha}"));
    m
}

/// The decision on a message the reader stopped on (a reader bug): rejected, its raw bytes kept
/// for reprocessing, the sender told unless a machine wrote it.
pub fn reader_failed(head: &MailFacts, detail: &str) -> Match {
    let mut m = Match::new(Decision::Rejected);
    m.reasons.push("hệ thống chưa đọc được thư này; Văn phòng sẽ xem lại".into());
    m.evidence.push(format!("trình đọc thư dừng giữa chừng (chi tiết kỹ thuật: {detail})"));
    m.reply = !head.is_automatic();
    m
}

/// Sets aside, in `tx`, a message that cannot be recorded even as rejected, with its audit
/// event; its raw bytes are kept when the database takes them.
pub async fn set_aside(tx: &mut Tx<'_>, source_key: &str, sha256: &str, raw: &[u8], error: &str) -> std::result::Result<(), StoreError> {
    let kept = tx.set_aside(source_key, sha256, raw, error).await?;
    let key = store::storable(source_key).into_owned();
    tx.audit(audit::Kind::MessageSetAside, "baocao", &key, &json!({"sha256": sha256, "error": error, "raw_kept": kept, "size": raw.len()})).await
}

/// The decision on a message the database would not take as it is (a value it never takes):
/// rejected from its head alone, so the sender is told and the messages after it go on.
pub fn refused_by_store(head: &MailFacts, detail: &str) -> Match {
    let mut m = Match::new(Decision::Rejected);
    m.reasons.push("Văn phòng không lưu được thư này nguyên trạng; đề nghị gửi lại thư khác".into());
    m.evidence.push(format!("cơ sở dữ liệu không nhận thư nguyên trạng (chi tiết kỹ thuật: {detail})"));
    m.reply = !head.is_automatic();
    m
}

/// A rejection says why: when no file's own reason does (nothing but archives), the message's.
pub fn say_why_rejected(m: &mut Match, docs: &[Document]) {
    if m.decision == Decision::Rejected && docs.iter().all(|d| !d.format.is_archive()) && m.reasons.is_empty() {
        m.reasons.push("không đọc được nội dung nào".into());
    }
}

/// Why a recorded message is not acknowledged, when it is not: nobody to answer (a duplicate,
/// mail that is not a report, no address), or mail older than `acknowledge_within_days` (a
/// first start on years of history). None: acknowledge it. The hourly limit per sender is
/// checked after this, against the outbox.
pub fn ack_rule(cfg: &Config, sub: &Submission, reply: &ReplyTo, now: i64) -> Option<AckSkip> {
    if matches!(sub.decision, Decision::Duplicate | Decision::NotSubmission) || reply.to.is_none() {
        return Some(AckSkip::NobodyToAnswer);
    }
    let days = cfg.intake.acknowledge_within_days;
    (now - sub.received_at > days * 86_400).then_some(AckSkip::TooOld { days })
}

/// See [`ack_rule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AckSkip {
    NobodyToAnswer,
    TooOld { days: i64 },
}

/// Acknowledges a recorded message in the transaction that records it (SPEC §8), as decided at
/// `now`: never to duplicates or non-submissions, nor to mail older than
/// `acknowledge_within_days`, and at most `acks_per_sender_hour` an hour to one address (a
/// flood is recorded, not answered). What is skipped for age or the limit is audited.
pub async fn acknowledge(cfg: &Config, tx: &mut Tx<'_>, sub: &Submission, reply: &ReplyTo, now: i64) -> std::result::Result<(), StoreError> {
    let key = format!("ack:{}", &sub.sha256[..24]);
    match ack_rule(cfg, sub, reply, now) {
        Some(AckSkip::NobodyToAnswer) => return Ok(()),
        Some(AckSkip::TooOld { days }) => return tx.audit(audit::Kind::AckSkipped, "baocao", &key, &json!({"why": "older than intake.acknowledge_within_days", "days": days})).await,
        None => {}
    }
    // One address sending thousands of messages gets a bounded number of answers an hour, so
    // the outbox keeps room for every other unit's.
    let limit = cfg.outbound.acks_per_sender_hour;
    if let Some(to) = &reply.to {
        if tx.acks_to_since(to, now - 3600).await? >= limit {
            return tx.audit(audit::Kind::AckSkipped, "baocao", &key, &json!({"why": "outbound.acks_per_sender_hour reached", "to": to, "limit": limit})).await;
        }
    }
    notify::queue_ack_mail(cfg, tx, sub, reply, key, sub.received_at.max(now)).await
}

/// The row of the `k`-th further report (0-based) of message `sub`: its mail's fields, its own
/// source key, not yet decided, numbered or stored.
fn new_part(sub: &Submission, k: usize) -> Submission {
    Submission { id: 0, source_key: format!("{}#{}", sub.source_key, k + 2), part_of: Some(sub.id), version: None, also: vec![], documents: vec![], ..sub.clone() }
}

fn decision_event(s: &Submission) -> serde_json::Value {
    json!({"decision": s.decision, "reasons": s.reasons, "unit": s.unit, "report": s.report, "period": s.period,
           "due": s.due, "timeliness": s.timeliness, "findings": s.findings, "evidence": s.evidence})
}

/// Writes a person's decision about submission `sub` (already changed in memory from `was`):
/// the decision, both obligations renumbered, the audit event and, when asked, the notice to
/// the unit in its thread.
async fn decide_by_hand(cfg: &Config, store: &Store, mut sub: Submission, was: &Submission, kind: audit::Kind, by: &str, tell: bool, extra: serde_json::Value) -> Result<Done> {
    sub.manual_by = Some(by.to_string());
    let mut tx = store.begin().await?;
    figures::reread(cfg, &mut tx, &mut sub).await?;
    tx.update_decision(&sub).await?;
    let versions = renumber(&mut tx, &[was.obligation(), sub.obligation()]).await?;
    sub.version = versions.get(&sub.id).copied();
    let mut event = decision_event(&sub);
    event["was"] = json!({"decision": was.decision, "unit": was.unit, "report": was.report, "period": was.period});
    if let (Some(e), serde_json::Value::Object(x)) = (event.as_object_mut(), extra) {
        e.extend(x);
    }
    tx.audit(kind, by, &format!("submission:{}", sub.id), &event).await?;
    let told = if tell { notify::queue_decision_notice(cfg, &mut tx, &sub).await? } else { None };
    tx.commit().await?;
    let mut warnings = Vec::new();
    if tell && told.is_none() {
        warnings.push("the unit was not told: the message has no address to answer (a list, an auto-reply or the office itself)".into());
    }
    Ok(Done { submission: sub, warnings, told })
}

/// A report is never due more than a year after the message that carries it arrived (a plan
/// for next year is due this year): a later obligation is a period typed wrong.
fn not_too_far_ahead(cfg: &Config, sub: &Submission, ob: &Obligation) -> Result<()> {
    if ob.deadline > sub.received_at + 366 * 86_400 {
        let tz = cfg.office.timezone;
        return Err(OfficeError::TooFarAhead {
            id: sub.id,
            arrived: schedule::date_of(tz, sub.received_at).format("%d/%m/%Y").to_string(),
            report: cfg.report(ob.report.as_str()).map(|r| r.name.clone()).unwrap_or_else(|| ob.report.to_string()),
            period: ob.period.label_vi(),
            due: ob.due_date.format("%d/%m/%Y").to_string(),
        });
    }
    Ok(())
}

/// The message's decision can still be changed by a person (a duplicate points at its original).
fn decidable(sub: &Submission) -> Result<()> {
    if sub.decision == Decision::Duplicate {
        return Err(OfficeError::Refused { id: sub.id, why: Refusal::Duplicate(sub.duplicate_of) });
    }
    Ok(())
}

/// Accepts submission `id` for an obligation that exists: the unit owes that report for that
/// period. Timeliness is judged on the message's arrival against that obligation's deadline.
pub async fn assign(cfg: &Config, store: &Store, id: i64, key: &ObligationKey, by: &str, tell: bool) -> Result<Done> {
    let ob = schedule::obligation(cfg, key)?;
    let was = store.message(id).await?;
    decidable(&was)?;
    not_too_far_ahead(cfg, &was, &ob)?;
    let mut sub = was.clone();
    accept_for(&mut sub, &ob);
    let mut done = decide_by_hand(cfg, store, sub, &was, audit::Kind::ReviewAssign, by, tell, json!({})).await?;
    if !was.documents.iter().any(|d| d.parse == crate::domain::ParseStatus::Ok) {
        done.warnings.push(format!("submission {id} carries no readable document; it counts as submitted without figures"));
    }
    Ok(done)
}

/// Takes document `doc` (counted from 1 in the submission's list) out of submission `id` into
/// a report of its own, accepted for an obligation that exists: a message whose files the
/// machine grouped wrongly is put right file by file. The rest of the message stays as it was,
/// waiting for its own decision; both are kept apart from reprocessing from then on.
#[allow(clippy::too_many_arguments)]
pub async fn assign_document(cfg: &Config, store: &Store, id: i64, doc: usize, key: &ObligationKey, by: &str, tell: bool) -> Result<Done> {
    let ob = schedule::obligation(cfg, key)?;
    let was = store.message(id).await?;
    decidable(&was)?;
    not_too_far_ahead(cfg, &was, &ob)?;
    if was.documents.len() < 2 {
        return Err(OfficeError::Refused { id, why: Refusal::SingleDocument });
    }
    let Some(d) = doc.checked_sub(1).and_then(|i| was.documents.get(i)).cloned() else {
        return Err(OfficeError::Refused { id, why: Refusal::NoSuchDocument { doc, has: was.documents.len() } });
    };
    let root = match was.part_of {
        Some(r) => store.message(r).await?,
        None => was.clone(),
    };
    let mut part = Submission {
        id: 0,
        source_key: format!("{}#{}-{}", root.source_key, &d.sha256[..d.sha256.len().min(16)], doc),
        part_of: Some(root.id),
        version: None,
        also: vec![],
        documents: vec![d.clone()],
        ..was.clone()
    };
    accept_for(&mut part, &ob);
    part.manual_by = Some(by.to_string());
    part.findings.retain(|f| f.starts_with(&format!("{}:", d.filename)));
    part.evidence = vec![format!("tách từ thư số {id}: tệp {}", d.filename)];
    let mut rest = was.clone();
    rest.documents.remove(doc - 1);
    rest.findings.retain(|f| !f.starts_with(&format!("{}:", d.filename)));
    rest.manual_by = Some(by.to_string());
    let mut tx = store.begin().await?;
    let mut rest = rest;
    figures::reread(cfg, &mut tx, &mut rest).await?;
    tx.update_decision(&rest).await?;
    let part_figures = figures::read_for(cfg, &mut tx, &mut part, 0).await?;
    let Some(pid) = tx.insert_message(&part).await? else {
        return Err(OfficeError::Refused { id, why: Refusal::AlreadyTaken(doc) });
    };
    part.id = pid;
    if let (Some(r), Some(ob)) = (&part_figures, part.obligation()) {
        tx.put_figures(pid, &ob, part.received_at, r).await?;
    }
    let versions = renumber(&mut tx, &[was.obligation(), part.obligation()]).await?;
    part.version = versions.get(&pid).copied();
    let mut event = decision_event(&part);
    event["document"] = json!(d.filename);
    event["taken_from"] = json!(id.to_string());
    tx.audit(audit::Kind::ReviewAssign, by, &format!("submission:{pid}"), &event).await?;
    let told = if tell { notify::queue_decision_notice(cfg, &mut tx, &part).await? } else { None };
    tx.commit().await?;
    let mut warnings = Vec::new();
    if d.parse != crate::domain::ParseStatus::Ok {
        warnings.push(format!("document {doc} ({}) could not be read; it counts as submitted without figures", d.filename));
    }
    if tell && told.is_none() {
        warnings.push("the unit was not told: the message has no address to answer (a list, an auto-reply or the office itself)".into());
    }
    Ok(Done { submission: part, warnings, told })
}

/// Accepts the best guess of a submission waiting in review.
pub async fn accept(cfg: &Config, store: &Store, id: i64, by: &str, tell: bool) -> Result<Done> {
    let sub = store.message(id).await?;
    let Some(k) = sub.obligation() else {
        return Err(OfficeError::Refused { id, why: Refusal::NoCompleteGuess });
    };
    assign(cfg, store, id, &k, by, tell).await
}

fn accept_for(sub: &mut Submission, ob: &Obligation) {
    sub.decision = Decision::Accepted;
    sub.unit = Some(ob.unit.clone());
    sub.report = Some(ob.report.clone());
    sub.period = Some(ob.period);
    sub.due = Some(ob.due_date);
    sub.deadline = Some(ob.deadline);
    sub.timeliness = Some(Timeliness::judge(sub.received_at, ob.deadline));
    sub.reasons.clear();
}

/// Rejects submission `id` with the reason the person gives; it no longer counts for any
/// obligation (the one it counted for is renumbered).
pub async fn reject(cfg: &Config, store: &Store, id: i64, reason: &str, by: &str, tell: bool) -> Result<Done> {
    let was = store.message(id).await?;
    decidable(&was)?;
    let mut sub = was.clone();
    sub.decision = Decision::Rejected;
    sub.reasons = vec![reason.to_string()];
    sub.timeliness = None;
    decide_by_hand(cfg, store, sub, &was, audit::Kind::ReviewReject, by, tell, json!({"reason": reason})).await
}

/// Marks an obligation that exists exempt.
pub async fn exempt(cfg: &Config, store: &Store, key: &ObligationKey, reason: &str, by: &str) -> Result<Obligation> {
    let ob = schedule::obligation(cfg, key)?;
    let mut tx = store.begin().await?;
    tx.exempt(&ob.key(), reason, by).await?;
    tx.audit(audit::Kind::Exempt, by, &format!("obligation:{}", ob.key()), &json!({"reason": reason})).await?;
    tx.commit().await?;
    Ok(ob)
}

/// Withdraws an exemption; false when the obligation was not exempt.
pub async fn withdraw_exemption(cfg: &Config, store: &Store, key: &ObligationKey, by: &str) -> Result<bool> {
    let ob = schedule::obligation(cfg, key)?;
    let mut tx = store.begin().await?;
    let had = tx.withdraw_exemption(&ob.key()).await?;
    if had {
        tx.audit(audit::Kind::ExemptWithdrawn, by, &format!("obligation:{}", ob.key()), &json!({})).await?;
    }
    tx.commit().await?;
    Ok(had)
}

/// Re-runs parsing and matching on the stored raw messages (all, or those of `ids`); a person's
/// decision and duplicates are kept. Returns the submissions whose decision was rewritten.
pub async fn reprocess(cfg: &Config, store: &Store, parser: &Parser, ids: &[i64], by: &str) -> Result<Vec<Submission>> {
    let subs: Vec<Submission> = if ids.is_empty() {
        store.messages().await?
    } else {
        let mut v = Vec::new();
        for id in ids {
            v.push(store.message(*id).await?);
        }
        v
    };
    let mut out = Vec::new();
    for was in subs {
        // A further report is re-decided with its message.
        if was.decision == Decision::Duplicate || was.manual_by.is_some() || was.part_of.is_some() {
            continue;
        }
        let raw = store::decompress(&store.blob(&was.raw_key).await?).map_err(|e| OfficeError::DamagedRaw(was.id, e))?;
        let head = mime::parse(&raw[..raw.len().min(256 * 1024)]);
        let replied = thread_of(cfg, store, &head).await?;
        let (facts, docs, mut m) = analyse(cfg, parser, &raw, was.received_at, replied);
        let also = std::mem::take(&mut m.also);
        let pick = |ix: &[usize]| -> Vec<Document> { ix.iter().filter_map(|&i| docs.get(i).cloned()).collect() };
        let mut sub = was.clone();
        apply(&mut sub, &m);
        sub.documents = match &m.own_documents {
            Some(own) => pick(own),
            None => docs.clone(),
        };
        sub.facts = facts_json(&facts);
        keep_body(&mut sub, &facts);
        let existing = store.parts_of(was.id).await?;
        let mut tx = store.begin().await?;
        figures::reread(cfg, &mut tx, &mut sub).await?;
        tx.update_decision(&sub).await?;
        let mut touched = vec![was.obligation(), sub.obligation()];
        for (k, (pm, ix)) in also.iter().enumerate() {
            let fresh = new_part(&sub, k);
            let mut part = existing.iter().find(|e| e.source_key == fresh.source_key).cloned().unwrap_or(fresh);
            touched.push(part.obligation());
            apply(&mut part, pm);
            part.documents = pick(ix);
            if part.id == 0 {
                let part_figures = figures::read_for(cfg, &mut tx, &mut part, 0).await?;
                let Some(pid) = tx.insert_message(&part).await? else { continue };
                part.id = pid;
                if let (Some(r), Some(ob)) = (&part_figures, part.obligation()) {
                    tx.put_figures(pid, &ob, part.received_at, r).await?;
                }
            } else {
                figures::reread(cfg, &mut tx, &mut part).await?;
                tx.update_decision(&part).await?;
            }
            touched.push(part.obligation());
            tx.audit(audit::Kind::Reprocessed, by, &format!("submission:{}", part.id), &json!({"decision": part.decision, "part_of": was.id.to_string(), "unit": part.unit, "report": part.report, "period": part.period}))
                .await?;
        }
        if existing.len() > also.len() {
            tracing::warn!("submission {}: reprocessing found {} further report(s) where {} were recorded; the others are left as they were", was.id, also.len(), existing.len());
        }
        let versions = renumber(&mut tx, &touched).await?;
        sub.version = versions.get(&sub.id).copied();
        tx.audit(
            audit::Kind::Reprocessed,
            by,
            &format!("submission:{}", sub.id),
            &json!({"decision": sub.decision, "was": was.decision, "unit": sub.unit, "report": sub.report, "period": sub.period}),
        )
        .await?;
        tx.commit().await?;
        out.push(sub);
    }
    Ok(out)
}

/// Queues outbox mail again: the mails of `ids`, and with `failed` every mail that failed for
/// good; each with an audit event naming who asked.
pub async fn retry_mail(store: &Store, ids: &[i64], failed: bool, by: &str) -> Result<Vec<String>> {
    let mut tx = store.begin().await?;
    let mut keys = Vec::new();
    for (id, key, state) in tx.retriable_mail().await? {
        if ids.contains(&id) || (failed && state == OutboxState::Failed) {
            tx.requeue_mail(id).await?;
            tx.audit(audit::Kind::MailRetry, by, &key, &json!({"was": state.as_str()})).await?;
            keys.push(key);
        }
    }
    tx.commit().await?;
    // A person asked for delivery: the outbox stops waiting out its server's block.
    store.try_server_now().await?;
    Ok(keys)
}

/// An intact audit chain: how many events, and the newest one's hash.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Intact {
    pub events: usize,
    pub head: Option<String>,
}

/// Checks the audit trail: every link of the chain, its head (a removed tail), that every
/// message and outbox row has its event (a chain emptied or cut and re-headed), and that each
/// hash quoted outside the database (`anchors`: from digests, status mails, logs) is in it.
pub async fn verify_audit(store: &Store, anchors: &[String]) -> Result<std::result::Result<Intact, crate::audit::BrokenLink>> {
    use crate::audit::BrokenLink;
    let (mut prev, mut last, mut n) = (String::new(), 0i64, 0usize);
    let tail = loop {
        loop {
            let page = store.audit_events_after(last, 1_000).await?;
            let Some(end) = page.last() else { break };
            last = end.seq;
            match crate::audit::verify_from(&mut prev, &page) {
                Ok(k) => n += k,
                Err(b) => return Ok(Err(b)),
            }
        }
        let head = store.audit_head().await?;
        let tail = (n > 0).then(|| prev.clone());
        if head.is_none() || head == tail || (tail.is_none() && head.as_deref() == Some("")) {
            break tail;
        }
        // The head moved past what was read: events recorded meanwhile, or a removed tail.
        if store.audit_events_after(last, 1).await?.is_empty() {
            return Ok(Err(BrokenLink { seq: last, why: "the newest events were removed".into() }));
        }
    };
    let missing = store.unaudited().await?;
    if !missing.is_empty() {
        return Ok(Err(BrokenLink { seq: last, why: format!("events were removed: {}", missing.join("; ")) }));
    }
    for a in anchors {
        if !store.audit_has_hash(a.trim()).await? {
            return Ok(Err(BrokenLink { seq: last, why: format!("the quoted hash {a} is not in the chain: events were removed or replaced") }));
        }
    }
    Ok(Ok(Intact { events: n, head: tail }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Period;

    #[test]
    fn an_accepted_assignment_is_judged_on_arrival_against_the_deadline() {
        let ob = Obligation {
            unit: crate::domain::UnitId::parse("A").unwrap(),
            report: crate::domain::ReportId::parse("r").unwrap(),
            period: Period::Quarter(2021, 1),
            due_date: chrono::NaiveDate::from_ymd_opt(2021, 3, 25).unwrap(),
            deadline: 1_000,
            extended_from: None,
        };
        let mut on_time = Submission { received_at: 1_000, decision: Decision::NeedsReview, reasons: vec!["x".into()], ..Default::default() };
        accept_for(&mut on_time, &ob);
        assert_eq!((on_time.decision, on_time.timeliness), (Decision::Accepted, Some(Timeliness::OnTime)));
        assert!(on_time.reasons.is_empty(), "the review reasons no longer apply");
        let mut late = Submission { received_at: 1_001, ..Default::default() };
        accept_for(&mut late, &ob);
        assert_eq!(late.timeliness, Some(Timeliness::Late));
    }

    #[test]
    fn only_a_recent_report_with_someone_to_answer_is_acknowledged() {
        let cfg = Config::from_str_at("[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[intake]\nsource = \"maildir:in\"\nacknowledge_within_days = 7\n", std::path::Path::new("/tmp/c.toml")).unwrap();
        let to = |a: Option<&str>| ReplyTo { to: a.map(str::to_string), subject: String::new(), message_id: None, references: vec![] };
        let day = 86_400;
        let sub = |decision, received_at| Submission { decision, received_at, ..Default::default() };
        let now = 100 * day;
        assert_eq!(ack_rule(&cfg, &sub(Decision::Accepted, now - day), &to(Some("a@x.example")), now), None);
        assert_eq!(ack_rule(&cfg, &sub(Decision::NeedsReview, now - 7 * day), &to(Some("a@x.example")), now), None, "seven days is within");
        assert_eq!(ack_rule(&cfg, &sub(Decision::Accepted, now - 8 * day), &to(Some("a@x.example")), now), Some(AckSkip::TooOld { days: 7 }));
        assert_eq!(ack_rule(&cfg, &sub(Decision::Duplicate, now), &to(Some("a@x.example")), now), Some(AckSkip::NobodyToAnswer));
        assert_eq!(ack_rule(&cfg, &sub(Decision::NotSubmission, now), &to(Some("a@x.example")), now), Some(AckSkip::NobodyToAnswer));
        assert_eq!(ack_rule(&cfg, &sub(Decision::Accepted, now), &to(None), now), Some(AckSkip::NobodyToAnswer), "a loop or a list");
    }

    #[test]
    fn a_duplicate_cannot_be_decided_by_hand() {
        let dup = Submission { id: 7, decision: Decision::Duplicate, duplicate_of: Some(3), ..Default::default() };
        let e = decidable(&dup).unwrap_err().to_string();
        assert!(e.contains("duplicate of submission 3"), "{e}");
        assert!(decidable(&Submission { decision: Decision::NeedsReview, ..Default::default() }).is_ok());
    }
}
