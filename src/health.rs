//! What the running service shares with the faces that show it: the state the daemon's tasks
//! share ([`Shared`]: intake's health, the live rules, the parse stage) and what operators'
//! monitors read without logging in — `/healthz` (database and mailbox reachable, last
//! successful poll, the outbox's server) and `/metrics` (Prometheus text). The daemon makes it
//! and the console (`crate::web`) serves it beside its pages, so neither reaches into the other.

use crate::config::{Config, Source};
use crate::intake::source::Health;
use crate::parse::worker::Parser;
use std::sync::Arc;
use crate::store::Store;
use std::sync::atomic::Ordering;

/// Shared between the tasks: intake health, whose `recorded` signal also nudges the deliverer
/// when new messages (and so acknowledgements) were committed.
pub struct Shared {
    pub health: Arc<Health>,
    /// The rules, with the confirmed requests' read again as they change.
    pub rules: Arc<crate::office::requests::Live>,
    /// The parse stage (its worker processes), also for a letter uploaded on the console.
    pub parser: Arc<Parser>,
}

pub async fn healthz(cfg: &Config, store: &Store, shared: &Shared) -> (u16, String) {
    let db = store.ping().await;
    let h = &shared.health;
    let last = h.last_poll.load(Ordering::Relaxed);
    let now = chrono::Utc::now().timestamp();
    let polling = h.polling.load(Ordering::Relaxed);
    // Fresh enough: a poll within three intervals, or IDLE's renewal time for IMAP.
    let limit = match cfg.intake.source {
        Source::Imap { .. } => 30 * 60 + 3 * cfg.intake.poll_seconds as i64,
        Source::Maildir(_) => 3 * cfg.intake.poll_seconds as i64 + 10,
    };
    let error = h.last_error.lock().map(|e| e.clone()).unwrap_or_default();
    // Not holding the mailbox is healthy only when another instance holds it (no error here).
    let mailbox_ok = if !polling { error.is_none() } else { h.connected.load(Ordering::Relaxed) && last > 0 && now - last <= limit };
    let block = store.outbox_block().await.ok().flatten();
    let ok = db.is_ok() && mailbox_ok && block.is_none();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "failing" },
        "database": match &db { Ok(()) => "ok".to_string(), Err(e) => e.to_string() },
        "mailbox": match (&error, polling, mailbox_ok) {
            (Some(e), _, false) => e.clone(),
            (_, false, _) => "held by another instance".to_string(),
            (_, true, true) => "ok".to_string(),
            (_, true, false) if last > 0 => format!("no successful poll for {} s", now - last),
            _ => "no successful poll yet".to_string(),
        },
        "outbox": match &block {
            None => "ok".to_string(),
            Some(b) => format!("waiting for the mail server since {}: {}", crate::schedule::fmt_instant(cfg.office.timezone, b.since), b.error),
        },
        "last_poll": if last > 0 { Some(crate::schedule::fmt_instant(cfg.office.timezone, last)) } else { None },
        "last_poll_age_seconds": if last > 0 { Some(now - last) } else { None },
    });
    (if ok { 200 } else { 503 }, format!("{body}\n"))
}

pub async fn metrics(store: &Store, shared: &Shared) -> Result<String, crate::store::StoreError> {
    let m = store.metrics().await?;
    let mut out = String::new();
    out.push_str("# HELP baocao_messages Received messages by decision.\n# TYPE baocao_messages gauge\n");
    for (d, n) in &m.by_decision {
        out.push_str(&format!("baocao_messages{{decision=\"{d}\"}} {n}\n"));
    }
    out.push_str("# HELP baocao_parse_errors Messages with at least one attachment that could not be read.\n# TYPE baocao_parse_errors gauge\n");
    out.push_str(&format!("baocao_parse_errors {}\n", m.parse_errors));
    out.push_str("# HELP baocao_outbox Outgoing mail by kind and state.\n# TYPE baocao_outbox gauge\n");
    let mut depth = 0;
    let mut reminders_sent = 0;
    for (k, s, n) in &m.outbox {
        out.push_str(&format!("baocao_outbox{{kind=\"{k}\",state=\"{s}\"}} {n}\n"));
        let state = crate::domain::OutboxState::parse(s);
        if state.is_some_and(|s| s.waiting()) {
            depth += n;
        }
        if crate::domain::MailKind::parse(k) == Some(crate::domain::MailKind::Reminder) && state == Some(crate::domain::OutboxState::Sent) {
            reminders_sent += n;
        }
    }
    out.push_str(&format!("# HELP baocao_outbox_depth Mail waiting to be delivered.\n# TYPE baocao_outbox_depth gauge\nbaocao_outbox_depth {depth}\n"));
    let blocked = store.outbox_block().await?.map(|b| b.since).unwrap_or(0);
    out.push_str(&format!(
        "# HELP baocao_outbox_blocked_since Unix time since which the mail server cannot be reached (0: it can).\n# TYPE baocao_outbox_blocked_since gauge\nbaocao_outbox_blocked_since {blocked}\n"
    ));
    out.push_str(&format!("# HELP baocao_reminders_sent Reminder mails delivered.\n# TYPE baocao_reminders_sent counter\nbaocao_reminders_sent {reminders_sent}\n"));
    let last = shared.health.last_poll.load(Ordering::Relaxed);
    let age = if last > 0 { chrono::Utc::now().timestamp() - last } else { -1 };
    out.push_str(&format!(
        "# HELP baocao_last_poll_age_seconds Seconds since the last successful mailbox poll (-1: none yet).\n# TYPE baocao_last_poll_age_seconds gauge\nbaocao_last_poll_age_seconds {age}\n"
    ));
    out.push_str(&format!(
        "# HELP baocao_imap_fetched Message bodies fetched from the IMAP server by this process.\n# TYPE baocao_imap_fetched counter\nbaocao_imap_fetched {}\n",
        shared.health.fetched.load(Ordering::Relaxed)
    ));
    out.push_str(&format!(
        "# HELP baocao_mailbox_held Whether this instance polls the mailbox.\n# TYPE baocao_mailbox_held gauge\nbaocao_mailbox_held {}\n",
        shared.health.polling.load(Ordering::Relaxed) as u8
    ));
    Ok(out)
}
