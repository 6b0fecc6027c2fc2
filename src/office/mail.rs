//! Mail that is not a report (SPEC §17 *Thư khác*): a unit's question, a request for more time, a
//! reply to a reminder. It is the office's too: shown on the console and on its unit's page,
//! counted (on the console and in the review notice) until a clerk handles it — answers it in
//! its thread through the outbox, or marks it handled.

use super::{OfficeError, Result};
use crate::audit;
use crate::config::Config;
use crate::domain::{Bounce, Decision};
use crate::notify::{self, ReplyTo};
use crate::store::{Handled, Store, StoreError, Submission};
use serde_json::json;

/// How much of such a mail's text is kept with it.
pub const BODY_CHARS: usize = 4000;

/// How many of the newest are looked at (the console lists them; older ones are in the search).
const RECENT: i64 = 500;

/// Whether a recorded message is mail a person should read: not a report, and not a machine's
/// (an automatic reply, a list, a bounce, a read receipt, the office's own mail).
pub fn is_for_people(cfg: &Config, m: &Submission) -> bool {
    m.decision == Decision::NotSubmission && written_by_people(cfg, m.from_addr.as_deref(), &m.facts)
}

fn written_by_people(cfg: &Config, from: Option<&str>, f: &serde_json::Value) -> bool {
    !crate::parse::mime::kept_facts_automatic(f) && !from.is_some_and(|a| a.eq_ignore_ascii_case(&cfg.office.address))
}

/// How many mails for people wait to be handled (the console's count).
pub async fn open_count(cfg: &Config, store: &Store) -> std::result::Result<usize, StoreError> {
    Ok(store.open_not_reports(RECENT).await?.iter().filter(|(from, f)| written_by_people(cfg, from.as_deref(), f)).count())
}

/// What the mail says (the first characters kept on arrival).
pub fn body(m: &Submission) -> &str {
    m.facts["body"].as_str().unwrap_or("")
}

/// Whether the mail asks for more time (*xin gia hạn*, *lùi thời hạn*): the console offers an
/// extension beside it.
pub fn asks_for_time(m: &Submission) -> bool {
    let t = crate::text::fold(&format!("{} {}", m.subject.as_deref().unwrap_or(""), body(m)));
    ["gia han", "lui thoi han", "lui han", "keo dai thoi gian", "cham nop", "nop muon", "xin them thoi gian"].iter().any(|k| t.contains(k))
}

/// The newest mail for people, each with how it was handled, unhandled first.
pub async fn other_mail(cfg: &Config, store: &Store) -> std::result::Result<Vec<(Submission, Option<Handled>)>, StoreError> {
    let mut v: Vec<(Submission, Option<Handled>)> = store.not_reports(RECENT).await?.into_iter().filter(|(m, _)| is_for_people(cfg, m)).collect();
    v.sort_by_key(|(m, h)| (h.is_some(), -m.received_at));
    Ok(v)
}

/// The mail for people not yet handled, oldest first.
pub async fn unhandled(cfg: &Config, store: &Store) -> std::result::Result<Vec<Submission>, StoreError> {
    let mut v: Vec<Submission> = store.not_reports(RECENT).await?.into_iter().filter(|(m, h)| h.is_none() && is_for_people(cfg, m)).map(|(m, _)| m).collect();
    v.reverse();
    Ok(v)
}

fn checked(cfg: &Config, m: &Submission) -> Result<()> {
    if !is_for_people(cfg, m) {
        return Err(OfficeError::NotOtherMail { id: m.id });
    }
    Ok(())
}

/// Marks a mail handled (nothing to answer, or answered outside). False when it already was.
pub async fn mark_handled(cfg: &Config, store: &Store, id: i64, by: &str, now: i64) -> Result<bool> {
    let m = store.message(id).await?;
    checked(cfg, &m)?;
    let mut tx = store.begin().await?;
    let fresh = tx.mark_handled(id, by, now, None).await?;
    if fresh {
        tx.audit(audit::Kind::MailHandled, by, &format!("submission:{id}"), &json!({})).await?;
    }
    tx.commit().await?;
    Ok(fresh)
}

/// Answers a mail in its thread (through the outbox) and marks it handled. Returns the key of
/// the answer queued.
pub async fn answer(cfg: &Config, store: &Store, id: i64, text: &str, by: &str, now: i64) -> Result<String> {
    let m = store.message(id).await?;
    checked(cfg, &m)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(OfficeError::EmptyAnswer);
    }
    let reply = ReplyTo::of_submission(cfg, &m);
    let mut tx = store.begin().await?;
    let Some(key) = notify::queue_answer(cfg, &mut tx, &m, &reply, text, now).await? else {
        return Err(OfficeError::NobodyToAnswer { id });
    };
    tx.mark_handled(id, by, now, Some(&key)).await?;
    tx.audit(audit::Kind::MailAnswered, by, &format!("submission:{id}"), &json!({"answer": key, "text": text})).await?;
    tx.commit().await?;
    Ok(key)
}

/// The bounces that name a unit's address, newest first; those arrived from `since` on when
/// given.
pub async fn bounces(cfg: &Config, store: &Store, since: Option<i64>) -> std::result::Result<Vec<Bounce>, StoreError> {
    let mut out = Vec::new();
    for (id, at, to) in store.bounces(RECENT).await? {
        if since.is_some_and(|s| at < s) {
            continue;
        }
        for a in to {
            if let Some(u) = cfg.unit_by_email(&a) {
                out.push(Bounce { message: id, at, addr: a, unit: u.id.clone() });
            }
        }
    }
    Ok(out)
}
