//! Outgoing mail (SPEC §8): acknowledgements and reminders built as Vietnamese multipart
//! text + HTML, queued in the outbox under an idempotency key in the same transaction as the
//! decision that causes them, then delivered by [`deliver`] through a file or SMTP transport.
//!
//! Exactly once: a key is queued once (unique per office); delivery marks a mail sent only
//! after the transport accepted it; the file transport names each file by its key, so a retry
//! after a crash between writing and marking rewrites the same file instead of adding one.

pub mod deliver;
pub mod smtp;
pub mod templates;

pub use deliver::{deliver, smtp_endpoint};

use crate::audit;
use crate::config::Config;
use crate::domain::{Decision, MailKind, ObligationState};
use crate::parse::mime::MailFacts;
use crate::schedule;
use crate::store::{Store, StoreError, Submission, Tx};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the mail: {0}")]
    Build(String),
    #[error("cannot deliver: {0}")]
    Deliver(String),
}


/// An outgoing mail before it is queued.
pub struct Outgoing {
    pub kind: MailKind,
    pub key: String,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub attachment: Option<(String, Vec<u8>)>,
}

/// Formats an outgoing mail as RFC 5322 bytes with its `X-Baocao-Kind` and `X-Baocao-Key`.
pub fn build(cfg: &Config, o: &Outgoing) -> Result<Vec<u8>, NotifyError> {
    let from: Mailbox = cfg.outbound.from.parse().map_err(|e| NotifyError::Build(format!("office.from: {e}")))?;
    let mut b = lettre::Message::builder().from(from).subject(o.subject.clone());
    for t in &o.to {
        b = b.to(t.parse().map_err(|e| NotifyError::Build(format!("recipient {t}: {e}")))?);
    }
    for c in &o.cc {
        b = b.cc(c.parse().map_err(|e| NotifyError::Build(format!("recipient {c}: {e}")))?);
    }
    if let Some(r) = &o.in_reply_to {
        b = b.in_reply_to(r.clone());
    }
    if !o.references.is_empty() {
        b = b.references(o.references.join(" "));
    }
    let domain = cfg.office.address.split('@').nth(1).unwrap_or("baocao.local").to_string();
    let mid = format!("<{}@{}>", crate::digest::sha256_hex(o.key.as_bytes())[..32].to_string(), domain);
    b = b
        .message_id(Some(mid))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Baocao-Kind"), o.kind.as_str().to_string()))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("X-Baocao-Key"), o.key.clone()))
        .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), "auto-generated".into()));
    let alt = MultiPart::alternative_plain_html(o.text.clone(), o.html.clone());
    let body = match &o.attachment {
        None => alt,
        Some((name, data)) => {
            let ct = lettre::message::header::ContentType::parse("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
                .map_err(|e| NotifyError::Build(e.to_string()))?;
            MultiPart::mixed().multipart(alt).singlepart(lettre::message::Attachment::new(name.clone()).body(data.clone(), ct))
        }
    };
    let m = b.multipart(body).map_err(|e| NotifyError::Build(e.to_string()))?;
    Ok(m.formatted())
}

/// Queues `o` in the transaction; returns false when its key was already queued.
pub async fn queue(cfg: &Config, tx: &mut Tx<'_>, o: &Outgoing, at: i64) -> Result<bool, NotifyError> {
    let bytes = build(cfg, o)?;
    let mut rcpt = o.to.clone();
    rcpt.extend(o.cc.iter().cloned());
    let queued = tx.queue_mail(&o.key, o.kind, &rcpt, &bytes, at).await?;
    if queued {
        tx.audit(audit::Kind::MailQueued, "baocao", &o.key, &serde_json::json!({"kind": o.kind.as_str(), "to": o.to, "cc": o.cc, "subject": o.subject}))
            .await?;
    }
    Ok(queued)
}

/// Queues a mail answering a unit and returns its key. One that cannot be built (a malformed
/// address) is recorded as such and not fatal: None.
async fn queue_answering(cfg: &Config, tx: &mut Tx<'_>, o: Outgoing, at: i64) -> Result<Option<String>, StoreError> {
    match queue(cfg, tx, &o, at).await {
        Ok(_) => Ok(Some(o.key)),
        Err(NotifyError::Store(e)) => Err(e),
        Err(e) => {
            tx.audit(audit::Kind::MailNotBuilt, "baocao", &o.key, &serde_json::json!({"error": e.to_string()})).await?;
            Ok(None)
        }
    }
}

/// Whom an answer about a message goes to, and the thread it belongs in: the sender of the
/// message the decision was taken on (the forwarded one, when office staff forwarded it).
#[derive(Debug, Clone, Default)]
pub struct ReplyTo {
    /// None when nobody may be answered: a loop, a list, a bounce, the office itself.
    pub to: Option<String>,
    pub subject: String,
    pub message_id: Option<String>,
    pub references: Vec<String>,
}

impl ReplyTo {
    fn address(cfg: &Config, from: Option<&str>, loops: bool) -> Option<String> {
        from.filter(|a| !loops && a.contains('@') && !a.eq_ignore_ascii_case(&cfg.office.address)).map(str::to_string)
    }

    /// From the facts of a message just read.
    pub fn of_mail(cfg: &Config, facts: &MailFacts) -> ReplyTo {
        let eff = crate::matching::effective(cfg, facts);
        let loops = facts.is_automatic();
        ReplyTo {
            to: Self::address(cfg, eff.from.as_deref(), loops),
            subject: eff.subject.clone(),
            message_id: eff.message_id.clone(),
            references: eff.references.clone(),
        }
    }

    /// From the facts kept with a recorded submission (see `office::facts_json`).
    pub fn of_submission(cfg: &Config, sub: &Submission) -> ReplyTo {
        let f = &sub.facts;
        let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
        let loops = crate::parse::mime::kept_facts_automatic(f);
        let from = text(&f["from"]);
        let fwd = &f["forwarded"];
        let staff_forward = fwd.is_object() && from.as_deref().is_some_and(|a| cfg.is_staff(a));
        let eff = if staff_forward { fwd } else { f };
        let references = if staff_forward {
            vec![]
        } else {
            f["references"].as_array().map(|a| a.iter().filter_map(text).collect()).unwrap_or_default()
        };
        ReplyTo {
            to: Self::address(cfg, text(&eff["from"]).as_deref(), loops),
            subject: text(&eff["subject"]).or_else(|| sub.subject.clone()).unwrap_or_default(),
            message_id: text(&eff["message_id"]),
            references,
        }
    }
}

/// Builds and queues an answer in the thread of `reply` under `key`; None when there is nobody
/// to answer. A mail that cannot be built (a malformed sender address) is recorded, not fatal.
async fn queue_reply(cfg: &Config, tx: &mut Tx<'_>, sub: &Submission, reply: &ReplyTo, key: String, at: i64) -> Result<Option<String>, StoreError> {
    let Some(to) = reply.to.clone() else { return Ok(None) };
    // A further version is told the timeliness of the report as first received, not its own.
    let first = match (sub.decision, sub.obligation()) {
        (Decision::Accepted, Some(ob)) if sub.version.is_some_and(|v| v > 1) => tx.first_accepted(&ob, sub.id).await?.filter(|(at, _)| *at <= sub.received_at),
        _ => None,
    };
    let (subject, text, html) = templates::ack(cfg, sub, reply, first);
    let mut refs = reply.references.clone();
    refs.extend(reply.message_id.iter().cloned());
    let o = Outgoing {
        kind: MailKind::Ack,
        key,
        to: vec![to],
        cc: vec![],
        subject,
        text,
        html,
        in_reply_to: reply.message_id.clone(),
        references: refs,
        attachment: None,
    };
    queue_answering(cfg, tx, o, at).await
}

/// Renders and queues the acknowledgement office decided to send (`office::acknowledge`),
/// under `key`, in the transaction that records the message.
pub async fn queue_ack_mail(cfg: &Config, tx: &mut Tx<'_>, sub: &Submission, reply: &ReplyTo, key: String, at: i64) -> Result<(), StoreError> {
    queue_reply(cfg, tx, sub, reply, key, at).await.map(|_| ())
}

/// Queues the notice telling the unit of a person's decision about its message, in the
/// message's thread. Returns its key, or None when there is nobody to tell.
pub async fn queue_decision_notice(cfg: &Config, tx: &mut Tx<'_>, sub: &Submission) -> Result<Option<String>, StoreError> {
    let now = chrono::Utc::now();
    let stamp = now.timestamp_nanos_opt().unwrap_or(now.timestamp());
    let key = format!("ack:{}:decision:{stamp}", &sub.sha256[..24.min(sub.sha256.len())]);
    queue_reply(cfg, tx, sub, &ReplyTo::of_submission(cfg, sub), key, now.timestamp()).await
}

/// Queues a clerk's answer to a unit's mail, in its thread, with the office's signature.
pub async fn queue_answer(cfg: &Config, tx: &mut Tx<'_>, m: &Submission, reply: &ReplyTo, text: &str, at: i64) -> Result<Option<String>, StoreError> {
    let Some(to) = reply.to.clone() else { return Ok(None) };
    let (subject, body, html) = templates::answer(cfg, reply, text);
    let mut refs = reply.references.clone();
    refs.extend(reply.message_id.iter().cloned());
    let key = format!("answer:{}:{at}", m.id);
    let o = Outgoing { kind: MailKind::Answer, key, to: vec![to], cc: vec![], subject, text: body, html, in_reply_to: reply.message_id.clone(), references: refs, attachment: None };
    queue_answering(cfg, tx, o, at).await
}

/// Queues the notice of an extension granted (`until`) or withdrawn (None) to the unit's first
/// address — in the thread of the unit's own mail asking for it, when there is one. Returns its
/// key, or None when the unit has no address.
#[allow(clippy::too_many_arguments)]
pub async fn queue_extension_notice(
    cfg: &Config,
    tx: &mut Tx<'_>,
    ob: &crate::domain::ObligationKey,
    from: chrono::NaiveDate,
    until: Option<chrono::NaiveDate>,
    reason: &str,
    thread: Option<&ReplyTo>,
    at: i64,
) -> Result<Option<String>, StoreError> {
    let Some(unit) = cfg.unit(ob.unit.as_str()) else { return Ok(None) };
    let to = thread.and_then(|t| t.to.clone()).or_else(|| unit.emails.first().cloned());
    let Some(to) = to else { return Ok(None) };
    let (mut subject, text, html) = templates::extension(cfg, unit, ob.report.as_str(), &ob.period, from, until, reason);
    let (mut in_reply_to, mut references) = (None, vec![]);
    if let Some(t) = thread {
        in_reply_to = t.message_id.clone();
        references = t.references.clone();
        references.extend(t.message_id.iter().cloned());
        if !t.subject.is_empty() {
            subject = format!("Re: {}", t.subject.trim_start_matches("Re: ").trim_start_matches("RE: "));
        }
    }
    let key = format!("extension:{ob}:{}:{at}", until.map(|d| d.to_string()).unwrap_or_else(|| "withdrawn".into()));
    let o = Outgoing { kind: MailKind::Extension, key, to: vec![to], cc: vec![], subject, text, html, in_reply_to, references, attachment: None };
    queue_answering(cfg, tx, o, at).await
}

/// Renders and queues the reminder office decided to send `unit` for `stages` (its key names
/// them all), copied to `cc`.
pub async fn queue_reminder(cfg: &Config, tx: &mut Tx<'_>, unit: &crate::domain::rules::Unit, stages: &[crate::schedule::DueStage], cc: Vec<String>, at: i64) -> Result<bool, NotifyError> {
    let (subject, text, html) = templates::reminder(cfg, unit, stages);
    let key = if stages.len() == 1 { stages[0].key() } else { format!("remind:{}", stages.iter().map(|s| s.key()).collect::<Vec<_>>().join("+")) };
    let to = unit.emails.first().cloned().into_iter().collect();
    let o = Outgoing { kind: MailKind::Reminder, key, to, cc, subject, text, html, in_reply_to: None, references: vec![], attachment: None };
    queue(cfg, tx, &o, at).await
}

/// What `digest` or `office_status` decided.
pub struct Compiled {
    pub key: String,
    /// False when the key had been queued before (nothing new was queued).
    pub queued: bool,
    pub subject: String,
    pub text: String,
    pub attachment: Option<(String, Vec<u8>)>,
}

fn workbook_at(cfg: &Config, snap: &crate::compile::Snapshot, stem: &str) -> Result<(String, Vec<u8>), NotifyError> {
    let bytes = crate::compile::workbook::build(cfg, snap).map_err(|e| NotifyError::Build(format!("cannot write the status workbook: {e}")))?;
    Ok((format!("{stem}.xlsx"), bytes))
}

/// A compiled mail (digest, office status, review notice) rendered from its context for `to`
/// under `key`, quoting the audit chain's head.
pub async fn compiled_mail(cfg: &Config, store: &Store, (kind, key, to): (MailKind, String, Vec<String>), ctx: &serde_json::Value, attachment: Option<(String, Vec<u8>)>) -> Result<Outgoing, NotifyError> {
    if to.is_empty() {
        return Err(NotifyError::Build(format!("no recipients for the {} mail (office.leadership / office.staff are empty)", kind.as_str())));
    }
    // The audit chain's head, quoted in the mail: a copy outside the database that `audit verify
    // --anchor` checks, so a chain cut short and re-headed cannot pass as intact.
    let (head, events) = store.audit_anchor().await?;
    tracing::info!(head = %head, events, "audit anchor quoted in the {} mail", kind.as_str());
    let mut ctx = ctx.clone();
    ctx["audit_head"] = head.into();
    ctx["audit_events"] = events.into();
    let (subject, text, html) = templates::render(cfg, kind.as_str(), &ctx);
    Ok(Outgoing { kind, key, to, cc: vec![], subject, text, html, in_reply_to: None, references: vec![], attachment })
}

/// The weekly digest's context and its workbook (`d` compiled from `snap`).
pub fn digest_context(cfg: &Config, snap: &crate::compile::Snapshot, d: &crate::compile::Digest, as_of: i64) -> Result<(serde_json::Value, (String, Vec<u8>)), NotifyError> {
    let attachment = workbook_at(cfg, snap, &format!("tong-hop-{}", d.week))?;
    let mut ctx = serde_json::to_value(d).unwrap_or_default();
    ctx["office"] = cfg.office.name.clone().into();
    ctx["as_of"] = schedule::fmt_human(cfg.office.timezone, as_of).into();
    ctx["attachment"] = attachment.0.clone().into();
    Ok((ctx, attachment))
}

/// The office status mail's context (the states counted, messages waiting) and its workbook.
pub fn status_context(cfg: &Config, snap: &crate::compile::Snapshot, as_of: i64) -> Result<(serde_json::Value, (String, Vec<u8>)), NotifyError> {
    let day = schedule::date_of(cfg.office.timezone, as_of);
    let attachment = workbook_at(cfg, snap, &format!("tinh-hinh-nop-bao-cao-{}", day.format("%Y-%m-%d")))?;
    let mut counts: BTreeMap<ObligationState, usize> = BTreeMap::new();
    for (_, _, s) in &snap.obligations {
        *counts.entry(*s).or_default() += 1;
    }
    let states: Vec<serde_json::Value> = counts.iter().map(|(s, n)| serde_json::json!({"state": s, "label": s.label_vi(), "count": n})).collect();
    let review = snap.messages.iter().filter(|m| m.decision == Decision::NeedsReview).count();
    let ctx = serde_json::json!({
        "office": cfg.office.name, "as_of": schedule::fmt_human(cfg.office.timezone, as_of),
        "attachment": attachment.0, "states": states, "review": review,
    });
    Ok((ctx, attachment))
}

/// The review notice's context (SPEC §8): the messages waiting in review with their best
/// guesses, mail that is not a report, bounces, and links to the console.
pub fn review_context(cfg: &Config, waiting: &[&Submission], others: &[&Submission], bounces: &[crate::domain::Bounce], as_of: i64) -> serde_json::Value {
    let day = schedule::date_of(cfg.office.timezone, as_of);
    let items: Vec<serde_json::Value> = waiting
        .iter()
        .map(|m| {
            serde_json::json!({
                "id": m.id,
                "received": schedule::fmt_human(cfg.office.timezone, m.received_at),
                "from": m.from_addr.clone().unwrap_or_default(),
                "subject": m.subject.clone().unwrap_or_default(),
                "guess": best_guess(cfg, m),
                "reasons": m.reasons.join("; "),
            })
        })
        .collect();
    let other_items: Vec<serde_json::Value> = others
        .iter()
        .map(|m| {
            let unit = m.from_addr.as_deref().and_then(|a| cfg.unit_by_email(a)).map(|u| u.name.clone());
            serde_json::json!({
                "id": m.id,
                "received": schedule::fmt_human(cfg.office.timezone, m.received_at),
                "from": m.from_addr.clone().unwrap_or_default(),
                "unit": unit,
                "subject": m.subject.clone().unwrap_or_default(),
            })
        })
        .collect();
    let bounce_items: Vec<serde_json::Value> = bounces
        .iter()
        .map(|b| {
            serde_json::json!({
                "id": b.message, "received": schedule::fmt_human(cfg.office.timezone, b.at), "addr": b.addr,
                "unit": cfg.unit(b.unit.as_str()).map(|u| u.name.clone()).unwrap_or_default(),
                "link": cfg.public_url.as_ref().map(|u| format!("{u}/units/{}", b.unit)),
            })
        })
        .collect();
    serde_json::json!({
        "office": cfg.office.name, "as_of": schedule::fmt_human(cfg.office.timezone, as_of),
        "day": day.format("%d/%m/%Y").to_string(), "items": items, "others": other_items, "bounces": bounce_items,
        "link": cfg.public_url.as_ref().map(|u| format!("{u}/review")),
        "mail_link": cfg.public_url.as_ref().map(|u| format!("{u}/mail")),
    })
}

/// A waiting message's best guess as people read it: *Trung tâm Y tế …, Báo cáo … quý I năm 2021*.
pub fn best_guess(cfg: &Config, m: &Submission) -> String {
    let unit = m.unit.as_ref().map(|u| cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string()));
    let report = m.report.as_ref().map(|r| cfg.report(r.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| r.to_string()));
    let parts: Vec<String> = [
        unit.unwrap_or_else(|| "chưa rõ đơn vị".into()),
        match (report, m.period) {
            (Some(r), Some(p)) => templates::report_for_period(&r, &p),
            (Some(r), None) => format!("{r} (chưa rõ kỳ)"),
            (None, Some(p)) => format!("chưa rõ loại báo cáo, {}", p.label_vi()),
            (None, None) => "chưa rõ loại báo cáo và kỳ".into(),
        },
    ]
    .into();
    parts.join(", ")
}
