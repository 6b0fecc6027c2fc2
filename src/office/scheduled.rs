//! The office's scheduled mail (SPEC §8, §9): the weekly digest to leadership, the status
//! workbook to the staff and the daily notice of what waits for a person. Here is decided
//! whether one is due (a day off, nothing waiting), under which key it goes once and to whom,
//! and what the audit records; `notify` renders the mail and queues it in the same transaction.

use crate::audit;
use crate::config::Config;
use crate::domain::MailKind;
use crate::notify::{self, Compiled, NotifyError, Outgoing};
use crate::schedule;
use crate::store::{Store, Submission};
use serde_json::json;

/// The weekly digest for leadership, for the week ending at `as_of`, with the compiled
/// workbook attached; queued once per ISO week (`digest:<YYYY-Www>`).
pub async fn digest(cfg: &Config, store: &Store, as_of: i64, dry_run: bool) -> Result<Compiled, NotifyError> {
    let snap = crate::facts::snapshot(cfg, store, as_of, None).await?;
    let d = crate::compile::digest(cfg, &snap);
    let (ctx, attachment) = notify::digest_context(cfg, &snap, &d, as_of)?;
    let who = (MailKind::Digest, format!("digest:{}", d.week), cfg.office.leadership.clone());
    let o = notify::compiled_mail(cfg, store, who, &ctx, Some(attachment)).await?;
    let data = json!({"week": d.week, "groups": d.groups.len(), "findings": d.findings.len(), "as_of": as_of});
    send_once(cfg, store, o, as_of, dry_run, audit::Kind::DigestDecided, data).await
}

/// The office status mail: the compiled workbook to `office.staff`, once per office day.
pub async fn office_status(cfg: &Config, store: &Store, as_of: i64, dry_run: bool) -> Result<Compiled, NotifyError> {
    let snap = crate::facts::snapshot(cfg, store, as_of, None).await?;
    let day = schedule::date_of(cfg.office.timezone, as_of);
    let (ctx, attachment) = notify::status_context(cfg, &snap, as_of)?;
    let who = (MailKind::Status, format!("status:{}", day.format("%Y-%m-%d")), cfg.office.staff.clone());
    let o = notify::compiled_mail(cfg, store, who, &ctx, Some(attachment)).await?;
    send_once(cfg, store, o, as_of, dry_run, audit::Kind::StatusDecided, json!({"day": day, "as_of": as_of})).await
}

/// The office's daily notice of what waits for a person (SPEC §6, §8, §17): messages in review
/// with their best guesses, mail that is not a report and not yet handled, bounces of the last
/// three days; one mail to `office.staff` with a link to the console, once per day
/// (`review:<YYYY-MM-DD>`). None on a day off or when nothing waits.
pub async fn review_notice(cfg: &Config, store: &Store, as_of: i64, dry_run: bool) -> Result<Option<Compiled>, NotifyError> {
    let day = schedule::date_of(cfg.office.timezone, as_of);
    if schedule::is_day_off(&cfg.calendar, day) {
        return Ok(None);
    }
    let waiting = store.waiting_review().await?;
    let others = super::mail::unhandled(cfg, store).await?;
    // Bounces of the last three days: a unit whose address fails gets no reminder.
    let bounces: Vec<crate::domain::Bounce> = super::mail::bounces(cfg, store, Some(as_of - 3 * 86_400)).await?.into_iter().filter(|b| b.at <= as_of).collect();
    let waiting: Vec<&Submission> = waiting.iter().filter(|m| m.received_at <= as_of).collect();
    let others: Vec<&Submission> = others.iter().filter(|m| m.received_at <= as_of).collect();
    if waiting.is_empty() && others.is_empty() && bounces.is_empty() {
        return Ok(None);
    }
    let ctx = notify::review_context(cfg, &waiting, &others, &bounces, as_of);
    let who = (MailKind::Review, format!("review:{}", day.format("%Y-%m-%d")), cfg.office.staff.clone());
    let o = notify::compiled_mail(cfg, store, who, &ctx, None).await?;
    let data = json!({"day": day, "waiting": waiting.iter().map(|m| m.id).collect::<Vec<_>>(), "other_mail": others.iter().map(|m| m.id).collect::<Vec<_>>(), "bounces": bounces.iter().map(|b| b.message).collect::<Vec<_>>()});
    send_once(cfg, store, o, as_of, dry_run, audit::Kind::ReviewNoticeDecided, data).await.map(Some)
}

/// Queues a compiled mail once under its key, with the audit event of the decision in the same
/// transaction (none when the key had been queued before); `dry_run` queues nothing.
async fn send_once(cfg: &Config, store: &Store, o: Outgoing, as_of: i64, dry_run: bool, kind: audit::Kind, data: serde_json::Value) -> Result<Compiled, NotifyError> {
    let mut queued = false;
    if !dry_run {
        let mut tx = store.begin().await?;
        queued = notify::queue(cfg, &mut tx, &o, as_of).await?;
        if queued {
            tx.audit(kind, "baocao", &o.key, &data).await?;
        }
        tx.commit().await?;
    }
    Ok(Compiled { key: o.key, queued, subject: o.subject, text: o.text, attachment: o.attachment })
}
