//! The read-only HTTP listener of `[http] listen`: `/healthz` (database and mailbox reachable,
//! last successful poll), `/metrics` (Prometheus text) and `/` (the office's status page: the
//! units × obligations matrix of SPEC §9 as plain HTML, no JavaScript).
//!
//! A few GET routes for operators and the office's browsers need no web framework: requests
//! are read up to a small bound, answered, and the connection closed.

use super::Shared;
use crate::config::{Config, Source};
use crate::store::Store;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub async fn serve(listener: TcpListener, cfg: Arc<Config>, store: Store, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    loop {
        let (mut sock, _) = tokio::select! {
            r = listener.accept() => match r { Ok(x) => x, Err(e) => { tracing::warn!("HTTP accept: {e}"); continue; } },
            _ = shutdown.changed() => return Ok(()),
        };
        let (cfg, store, shared) = (cfg.clone(), store.clone(), shared.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut n = 0;
            let read = tokio::time::timeout(Duration::from_secs(10), async {
                while n < buf.len() {
                    let k = sock.read(&mut buf[n..]).await?;
                    if k == 0 {
                        break;
                    }
                    n += k;
                    if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            })
            .await;
            if !matches!(read, Ok(Ok(()))) {
                return;
            }
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let mut parts = head.split_whitespace();
            let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
            let (code, ctype, body) = if method != "GET" && method != "HEAD" {
                (405, "text/plain; charset=utf-8", "only GET\n".to_string())
            } else {
                route(&cfg, &store, &shared, path.split('?').next().unwrap_or("/")).await
            };
            let reason = match code {
                200 => "OK",
                404 => "Not Found",
                405 => "Method Not Allowed",
                _ => "Service Unavailable",
            };
            let resp = format!(
                "HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
            if method != "HEAD" {
                let _ = sock.write_all(body.as_bytes()).await;
            }
            let _ = sock.shutdown().await;
        });
    }
}

async fn route(cfg: &Config, store: &Store, shared: &Shared, path: &str) -> (u16, &'static str, String) {
    match path {
        "/healthz" => healthz(cfg, store, shared).await,
        "/metrics" => match metrics(store, shared).await {
            Ok(m) => (200, "text/plain; version=0.0.4; charset=utf-8", m),
            Err(e) => (503, "text/plain; charset=utf-8", format!("database: {e}\n")),
        },
        "/" | "/status" => {
            let now = chrono::Utc::now().timestamp();
            match crate::compile::Snapshot::gather(cfg, store, now).await {
                Ok(snap) => (200, "text/html; charset=utf-8", crate::compile::status_html(cfg, &snap)),
                Err(e) => (503, "text/plain; charset=utf-8", format!("database: {e}\n")),
            }
        }
        _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
    }
}

async fn healthz(cfg: &Config, store: &Store, shared: &Shared) -> (u16, &'static str, String) {
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
    (if ok { 200 } else { 503 }, "application/json", format!("{body}\n"))
}

async fn metrics(store: &Store, shared: &Shared) -> Result<String, crate::store::StoreError> {
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
        if s == "queued" || s == "handing_over" {
            depth += n;
        }
        if k == "reminder" && s == "sent" {
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
