//! Delivery of the outbox: claim due mails, hand each to the office's transport, settle it as
//! sent or failed. The loop has one shape for every transport ([`MailTransport`]): the file
//! outbox of the embedded default and tests, and SMTP with its seam at the final dot.
//!
//! Mails a crashed sender left between "handing over" and "accepted" are settled first: the
//! server had the whole message but its final dot, or had it all, and is taken to have it.

use super::{smtp, NotifyError};
use crate::audit;
use crate::config::{Config, Transport};
use crate::store::{OutMail, Store, StoreError, Tx};
use lettre::message::Mailbox;

/// A mail handed over: a note when delivery is assumed rather than confirmed, and the
/// recipients the server refused for good (with its reply) while taking it for the others.
#[derive(Debug, Default)]
pub struct Delivered {
    pub note: Option<String>,
    pub refused: Vec<(String, String)>,
}

/// Why a mail was not handed over.
#[derive(Debug)]
pub enum Failure {
    /// The server could not be reached or would not talk (greeting, EHLO, STARTTLS, AUTH,
    /// network): not this mail's fault. Every mail stays queued; the outbox waits as a whole.
    Connection(String),
    /// A temporary refusal of this mail: tried again later.
    Transient(String),
    /// A permanent refusal of this mail (5xx to it): it fails for good.
    Permanent(String),
    /// This sender's claim lapsed (a server slower than the lease) and another sender claimed
    /// the mail: it is theirs now, and this one leaves it alone.
    Overtaken,
}

/// What a transport says about one mail.
pub type Handed = Result<Delivered, Failure>;

/// Where outgoing mail goes. `send` is called for each claimed mail on one connection or
/// folder; `close` ends the run.
#[allow(async_fn_in_trait)]
pub trait MailTransport {
    async fn send(&mut self, store: &Store, m: &OutMail) -> Handed;
    async fn close(self);
}

/// The file transport: one file per key, written whole then renamed, so a retry rewrites the
/// same file instead of adding a second one.
pub struct FileTransport(pub std::path::PathBuf);

impl MailTransport for FileTransport {
    async fn send(&mut self, _store: &Store, m: &OutMail) -> Handed {
        let dir = &self.0;
        // A folder that cannot be written is the outbox's trouble, not the mail's.
        let io = |p: &std::path::Path, e: std::io::Error| Failure::Connection(format!("{}: {e}", p.display()));
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(file_name_for(&m.key));
        let tmp = dir.join(format!(".{}.tmp", file_name_for(&m.key)));
        std::fs::write(&tmp, &m.message).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        Ok(Delivered::default())
    }
    async fn close(self) {}
}

/// SMTP: one connection for a batch, opened at its first mail.
pub struct SmtpTransport<'a> {
    cfg: &'a Config,
    session: Option<smtp::Session>,
    /// The hand-over journal (SQLite), opened once for the batch: after a final dot only one
    /// write(2) is left to make.
    journal: Option<std::fs::File>,
}

impl<'a> SmtpTransport<'a> {
    pub fn new(cfg: &'a Config) -> Self {
        let journal = journal_path(cfg).and_then(|p| match std::fs::OpenOptions::new().create(true).append(true).open(&p) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!("cannot open the hand-over journal {}: {e}", p.display());
                None
            }
        });
        SmtpTransport { cfg, session: None, journal }
    }
}

impl MailTransport for SmtpTransport<'_> {
    async fn send(&mut self, store: &Store, m: &OutMail) -> Handed {
        send_smtp(self.cfg, store, &mut self.session, self.journal.as_ref(), m).await
    }
    async fn close(self) {
        if let Some(s) = self.session {
            s.quit().await;
        }
    }
}

/// Delivers due outbox mail through the config's transport. Returns (sent, failed).
pub async fn deliver(cfg: &Config, store: &Store) -> Result<(usize, usize), NotifyError> {
    if let Some(j) = journal_path(cfg) {
        for key in settle_journal(&j, store).await? {
            tracing::warn!("{key}: the sender stopped right after the final dot; taken as delivered, not sent again");
        }
    }
    for m in store.left_handing_over().await? {
        record_sent(store, &m, Some("the sender stopped after handing the whole message over; taken as delivered"), &[]).await?;
        tracing::warn!("{}: the sender stopped while handing this mail to the server; taken as delivered, not sent again", m.key);
    }
    // Told before sending, so that the notice takes its turn ahead of what would use the day up.
    if let Some(limit) = cfg.outbound.daily_limit {
        warn_of_limit(cfg, store, limit).await?;
    }
    let pace = Pace { lease: cfg.outbound.lease_seconds, give_up_days: cfg.outbound.give_up_days, daily_limit: cfg.outbound.daily_limit };
    let done = match &cfg.outbound.transport {
        Transport::File(dir) => deliver_with(store, FileTransport(dir.clone()), pace).await?,
        Transport::Smtp { .. } => deliver_with(store, SmtpTransport::new(cfg), pace).await?,
    };
    if let Some(b) = store.outbox_block().await?.filter(|b| !b.notified) {
        tell_staff_of_block(cfg, store, &b).await?;
    }
    Ok(done.0)
}

/// How delivery paces itself, from `[outbound]`.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Seconds a claimed mail stays with its sender.
    pub lease: i64,
    /// Days after which a mail refused for now fails for good.
    pub give_up_days: i64,
    /// Recipients per rolling 24 hours the account may send to (Gmail: about 500).
    pub daily_limit: Option<i64>,
}

/// Share of the daily limit past which the office is told.
const NEAR_LIMIT: f64 = 0.8;

/// Tells office.staff, once a day, when the account's daily limit is near: what it sent in the
/// last 24 hours and what waits would use most of it. Mail beyond the limit waits
/// (acknowledgements late, reminders a day late); the office may send from another account
/// or ask the provider for more. Queued before the others are sent, the notice takes its turn
/// ahead of what would use the day up.
async fn warn_of_limit(cfg: &Config, store: &Store, limit: i64) -> Result<(), NotifyError> {
    let now = chrono::Utc::now().timestamp();
    let used = store.recipients_sent_since(now - 86_400).await?;
    let (waiting, waiting_to) = store.queued_recipients().await?;
    if ((used + waiting_to) as f64) < NEAR_LIMIT * limit as f64 || cfg.office.staff.is_empty() {
        return Ok(());
    }
    let day = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default().with_timezone(&cfg.office.timezone).format("%Y-%m-%d").to_string();
    let text = format!(
        "Kính gửi Văn phòng,\n\nTài khoản thư của {} được gửi đến tối đa {limit} người nhận trong 24 giờ (giới hạn của nhà cung cấp). \
         Trong 24 giờ qua đã gửi đến {used} người nhận; đang chờ gửi {waiting} thư ({waiting_to} người nhận).\n\n\
         Thư vượt giới hạn được giữ lại và tự gửi khi hạn mức được giải phóng; thư xác nhận và thư nhắc nộp được gửi xen kẽ \
         để không loại nào phải chờ hết loại kia.\n\n\
         Nếu việc này lặp lại, người quản trị nên dùng tài khoản thư có hạn mức cao hơn (xem deploy/RUNBOOK.md).\n\n{}\n",
        cfg.office.name, cfg.office.name
    );
    let subject = limit_subject(used + waiting_to, limit);
    tell_staff(cfg, store, &format!("daily-limit:{day}"), subject, text, now).await
}

/// The limit notice's subject: what the day needs against the limit, said as "over" once it
/// is (the notice goes out from 80% of the limit; "26 of 5" read as nonsense).
fn limit_subject(demand: i64, limit: i64) -> String {
    if demand > limit {
        format!("[Cảnh báo] Thư đi vượt giới hạn gửi trong ngày: cần gửi đến {demand} người nhận, giới hạn {limit}")
    } else {
        format!("[Cảnh báo] Sắp hết giới hạn gửi thư trong ngày: {demand} trên {limit} người nhận")
    }
}

/// Queues a notice to office.staff about the outbox itself (its key makes it once only): the
/// text as written, and the same in HTML paragraphs.
async fn tell_staff(cfg: &Config, store: &Store, key: &str, subject: String, text: String, at: i64) -> Result<(), NotifyError> {
    let html = format!("<p>{}</p>", crate::text::escape_html(&text).replace("\n\n", "</p><p>").replace('\n', "<br>"));
    let o = super::Outgoing {
        kind: crate::domain::MailKind::Status,
        key: key.to_string(),
        to: cfg.office.staff.clone(),
        cc: vec![],
        subject,
        text,
        html,
        in_reply_to: None,
        references: vec![],
        attachment: None,
    };
    let mut tx = store.begin().await?;
    super::queue(cfg, &mut tx, &o, at).await?;
    tx.commit().await?;
    Ok(())
}

/// Tells office.staff, once per outage, that mail is waiting for its server. The notice waits in
/// the outbox with the rest and goes out when the server takes mail again.
async fn tell_staff_of_block(cfg: &Config, store: &Store, b: &crate::store::OutboxBlock) -> Result<(), NotifyError> {
    if !cfg.office.staff.is_empty() {
        let since = crate::schedule::fmt_human(cfg.office.timezone, b.since);
        let text = format!(
            "Kính gửi Văn phòng,\n\nTừ {since}, {} chưa gửi được thư đi vì không kết nối được máy chủ thư:\n  {}\n\n\
             Các thư (xác nhận, nhắc nộp, tổng hợp) vẫn được giữ trong hàng đợi và sẽ tự gửi khi máy chủ hoạt động lại.\n\
             Người quản trị kiểm tra bằng lệnh: baocao check-config --connect; xem hàng đợi: baocao outbox list.\n\n{}\n",
            cfg.office.name, b.error, cfg.office.name
        );
        tell_staff(cfg, store, &format!("outbox-blocked:{}", b.since), format!("[Cảnh báo] Chưa gửi được thư đi từ {since}"), text, b.since).await?;
    }
    store.outbox_block_notified().await?;
    Ok(())
}

/// The delivery loop over any transport: one mail claimed at a time (a slow server never
/// outlives a claim that covers many mails), until none is due, the server refuses this run's
/// mail temporarily, or the connection fails (then every mail stays queued and the outbox
/// waits as a whole, see [`record_blocked`]).
///
/// With a daily limit, the mail beyond it stays queued (claimed in turns by kind, see
/// [`Store::claim_mail`]) and is sent once the last 24 hours leave room; the third number
/// returned counts the mails that waited for it in this run (0 or 1: the run stops there).
pub async fn deliver_with<T: MailTransport>(store: &Store, mut t: T, pace: Pace) -> Result<((usize, usize), usize), NotifyError> {
    let (lease, give_up_days) = (pace.lease, pace.give_up_days);
    let mut sent = 0;
    let mut failed = 0;
    let mut held = 0;
    let now = || chrono::Utc::now().timestamp();
    if store.outbox_block().await?.is_some_and(|b| b.next_try > now()) {
        return Ok(((0, 0), 0));
    }
    // What the account may still send to in the rolling day.
    let mut room = match pace.daily_limit {
        Some(limit) => Some(limit - store.recipients_sent_since(now() - 86_400).await?),
        None => None,
    };
    loop {
        let Some(m) = store.claim_mail(1, lease, room.is_some()).await?.pop() else { break };
        let need = m.recipients.len().max(1) as i64;
        if room.is_some_and(|r| r < need) {
            tracing::info!("{}: waits for the daily limit of {} recipients ({} left)", m.key, pace.daily_limit.unwrap_or(0), room.unwrap_or(0).max(0));
            store.release(&m).await?;
            held += 1;
            break;
        }
        match t.send(store, &m).await {
            Ok(d) => {
                record_sent(store, &m, d.note.as_deref(), &d.refused).await?;
                sent += 1;
                if let Some(r) = room.as_mut() {
                    *r -= need;
                }
            }
            Err(Failure::Overtaken) => {
                tracing::warn!("{}: another sender took this mail over after this one's claim lapsed; left to it", m.key);
            }
            Err(Failure::Connection(e)) => {
                tracing::warn!("outbox: {e}; every mail stays queued");
                store.release(&m).await?;
                record_blocked(store, &e).await?;
                break;
            }
            Err(Failure::Permanent(e)) => {
                refused(store, &m, e, true, give_up_days).await?;
                failed += 1;
            }
            Err(Failure::Transient(e)) => {
                refused(store, &m, e, false, give_up_days).await?;
                failed += 1;
                // A server refusing for now is left alone until the backoff passes.
                break;
            }
        }
    }
    t.close().await;
    Ok(((sent, failed), held))
}

/// Records a refusal of one mail: for good when `permanent` or when the mail has waited
/// `give_up_days`, otherwise retried after a backoff growing with its attempts.
async fn refused(store: &Store, m: &OutMail, e: String, permanent: bool, give_up_days: i64) -> Result<(), NotifyError> {
    let now = chrono::Utc::now().timestamp();
    let attempts = m.attempts + 1;
    let too_old = now - m.created_at > give_up_days * 86_400;
    let give_up = permanent || too_old;
    let backoff = (60i64 << attempts.min(8)).min(6 * 3600);
    tracing::warn!("{}: {e}{}", m.key, if give_up { "; failed for good" } else { "; will retry" });
    let why = if too_old && !permanent { format!("{e} (still not delivered after {give_up_days} days)") } else { e };
    let mut tx = store.begin().await?;
    if tx.mark_failed(m, &why, give_up, now + backoff).await? && give_up {
        tx.audit(audit::Kind::MailFailed, "baocao", &m.key, &serde_json::json!({"error": why})).await?;
    }
    unblocked(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a mail delivered, with its audit events (one per recipient the server refused),
/// and the outbox's block ended: the server took it.
async fn record_sent(store: &Store, m: &OutMail, note: Option<&str>, refused: &[(String, String)]) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.mark_sent(m, note, refused).await?;
    let delivered: Vec<&String> = m.recipients.iter().filter(|r| !refused.iter().any(|(a, _)| a == *r)).collect();
    tx.audit(audit::Kind::MailSent, "baocao", &m.key, &serde_json::json!({"kind": m.kind, "to": delivered, "note": note})).await?;
    for (a, why) in refused {
        tx.audit(audit::Kind::MailRecipientRefused, "baocao", &m.key, &serde_json::json!({"recipient": a, "reply": why})).await?;
    }
    unblocked(&mut tx).await?;
    tx.commit().await
}

/// Records that the server could not be reached: the outbox waits as a whole; the first time,
/// an audit event says why.
async fn record_blocked(store: &Store, error: &str) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    if tx.block_outbox(error).await? {
        tx.audit(audit::Kind::OutboxBlocked, "baocao", "outbox", &serde_json::json!({"error": error})).await?;
    }
    tx.commit().await
}

/// The server answered: the outbox's block ends, with an audit event when there was one.
async fn unblocked(tx: &mut Tx<'_>) -> Result<(), StoreError> {
    if tx.unblock_outbox().await? {
        tx.audit(audit::Kind::OutboxUnblocked, "baocao", "outbox", &serde_json::json!({})).await?;
    }
    Ok(())
}

fn file_name_for(key: &str) -> String {
    let safe: String = key.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '+') { c } else { '_' }).collect();
    let safe = if safe.len() > 180 { format!("{}-{}", &safe[..120], &crate::digest::sha256_hex(key.as_bytes())[..16]) } else { safe };
    format!("{safe}.eml")
}

/// Where an SQLite office keeps its hand-over journal: keys of mails whose final dot went to
/// the SMTP server, read back after a crash (see [`smtp`]).
fn journal_path(cfg: &Config) -> Option<std::path::PathBuf> {
    match (&cfg.database, &cfg.outbound.transport) {
        (crate::config::Database::Sqlite(p), Transport::Smtp { .. }) => Some(p.with_extension("handover")),
        _ => None,
    }
}

/// Marks every mail the journal names as delivered, then empties it. Under an exclusive
/// lock, so two senders on one SQLite file do not both read it.
async fn settle_journal(path: &std::path::Path, store: &Store) -> Result<Vec<String>, NotifyError> {
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(path) else { return Ok(vec![]) };
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a file descriptor this function owns; released when `file` closes.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut settled = Vec::new();
    for key in text.lines().map(str::trim).filter(|k| !k.is_empty()) {
        if let Some(m) = store.unsettled(key).await? {
            record_sent(store, &m, Some("the final dot went out before the sender stopped (hand-over journal); taken as delivered"), &[]).await?;
            settled.push(key.to_string());
        }
    }
    let _ = file.set_len(0);
    Ok(settled)
}

/// The SMTP server of the config, with credentials from the environment variables it names.
/// A variable named but not set is an error of the connection, not of any mail: logging in
/// without it would have the server refuse every recipient for good.
pub fn smtp_endpoint(cfg: &Config) -> Result<smtp::Endpoint, String> {
    let Transport::Smtp { mode, host, port } = &cfg.outbound.transport else { return Err("no SMTP server configured".into()) };
    let login = match &cfg.outbound.auth {
        None => None,
        Some(auth) => {
            let user = match (&cfg.outbound.user, &cfg.outbound.user_env) {
                (Some(u), _) => u.clone(),
                (None, Some(n)) => std::env::var(n).map_err(|_| format!("outbound.user_env names the environment variable {n}, which is not set"))?,
                // An OAuth2 account is the mailbox it sends from.
                (None, None) if matches!(auth, crate::secrets::Auth::OAuth2 { .. }) => {
                    cfg.outbound.from.parse::<Mailbox>().map_err(|e| format!("outbound.from: {e}"))?.email.to_string()
                }
                (None, None) => return Err("outbound has a password but no user (user or user_env)".into()),
            };
            Some((user, auth.clone()))
        }
    };
    let helo = cfg.office.address.split('@').nth(1).unwrap_or("localhost").to_string();
    Ok(smtp::Endpoint {
        mode: *mode,
        host: host.clone(),
        port: *port,
        login,
        helo,
        timeout: std::time::Duration::from_secs(30),
        ca_file: cfg.outbound.ca_file.clone(),
    })
}

/// One mail over SMTP on the run's connection, opened at the first mail.
async fn send_smtp(cfg: &Config, store: &Store, session: &mut Option<smtp::Session>, journal: Option<&std::fs::File>, m: &OutMail) -> Handed {
    let ep = smtp_endpoint(cfg).map_err(Failure::Connection)?;
    let from: Mailbox = cfg.outbound.from.parse().map_err(|e| Failure::Connection(format!("outbound.from: {e}")))?;
    let fail = |e: smtp::SmtpError| match e {
        smtp::SmtpError::Permanent(w) => Failure::Permanent(w),
        e => Failure::Transient(e.to_string()),
    };
    if session.is_none() {
        let s = smtp::Session::open(&ep).await.map_err(|e| Failure::Connection(format!("SMTP server {}:{}: {e}", ep.host, ep.port)))?;
        *session = Some(s);
    }
    let s = session.as_mut().expect("opened above");
    let refused = match s.hand_over(&from.email.to_string(), &m.recipients, &m.message).await {
        Ok(r) => r,
        Err(e) => {
            // A refused mail leaves the connection usable after RSET; anything else drops it.
            if s.reset().await.is_err() {
                *session = None;
            }
            return Err(fail(e));
        }
    };
    let Some(mark) = store.begin_handing_over(m).await.map_err(|e| Failure::Transient(e.to_string()))? else {
        // The final dot is never written: dropping the connection makes the server discard
        // what it has of this mail.
        *session = None;
        return Err(Failure::Overtaken);
    };
    let line = format!("{}\n", m.key);
    if let Err(e) = s.end_data().await {
        // The dot did not go out: the server drops the half-received message; the mark is
        // rolled back with `mark`.
        *session = None;
        return Err(fail(e));
    }
    // SQLite commits on a worker thread, a thread hand-off away; the journal line is one
    // write(2) in this thread right after the dot's — the file open and the line made before
    // the dot — so a crash between the two is all but impossible. (PostgreSQL's commit below
    // is itself one write on the held connection.)
    if let Some(mut j) = journal {
        use std::io::Write;
        if let Err(e) = j.write_all(line.as_bytes()) {
            tracing::warn!("cannot write the hand-over journal: {e}");
        }
    }
    mark.commit().await.map_err(|e| Failure::Transient(e.to_string()))?;
    match s.verdict().await {
        Ok(()) => Ok(Delivered { note: None, refused }),
        Err(e @ smtp::SmtpError::NoVerdict(_)) => {
            // The dot went out but no verdict came back: the server has the message. Sending
            // it again would be the duplicate this whole design exists to prevent.
            *session = None;
            Ok(Delivered { note: Some(format!("{e}; taken as delivered")), refused })
        }
        Err(e) => Err(fail(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Config;

    const PACE: Pace = Pace { lease: 60, give_up_days: 3, daily_limit: None };

    #[test]
    fn the_limit_notice_says_over_the_limit_once_the_day_needs_more_than_it() {
        assert_eq!(limit_subject(26, 5), "[Cảnh báo] Thư đi vượt giới hạn gửi trong ngày: cần gửi đến 26 người nhận, giới hạn 5");
        assert_eq!(limit_subject(450, 500), "[Cảnh báo] Sắp hết giới hạn gửi thư trong ngày: 450 trên 500 người nhận");
        assert_eq!(limit_subject(500, 500), "[Cảnh báo] Sắp hết giới hạn gửi thư trong ngày: 500 trên 500 người nhận");
    }

    /// A transport that refuses the mails whose key contains a word: for good, for now, or by
    /// failing the connection.
    struct Fake {
        refuse: &'static str,
        how: fn(String) -> Failure,
        seen: std::rc::Rc<std::cell::RefCell<Vec<String>>>,
    }

    impl MailTransport for Fake {
        async fn send(&mut self, _store: &Store, m: &OutMail) -> Handed {
            self.seen.borrow_mut().push(m.key.clone());
            if m.key.contains(self.refuse) {
                Err((self.how)("550 no such user".into()))
            } else {
                Ok(Delivered::default())
            }
        }
        async fn close(self) {}
    }

    async fn store_with(keys: &[&str]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let text = "[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://t.db\"\n";
        let cfg = Config::from_str_at(text, &dir.path().join("c.toml")).unwrap();
        let store = Store::open(&cfg).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        for k in keys {
            tx.queue_mail(k, crate::domain::MailKind::Ack, &["a@x.example".into()], b"Subject: x\r\n\r\nx\r\n", chrono::Utc::now().timestamp() - 1).await.unwrap();
        }
        tx.commit().await.unwrap();
        (dir, store)
    }

    /// Mails (key, kind, number of recipients) queued in this order.
    async fn store_of(mails: &[(&str, &str, usize)]) -> (tempfile::TempDir, Store) {
        let (d, store) = store_with(&[]).await;
        let mut tx = store.begin().await.unwrap();
        for (k, kind, n) in mails {
            let to: Vec<String> = (0..*n).map(|i| format!("r{i}@x.example")).collect();
            tx.queue_mail(k, crate::domain::MailKind::parse(kind).unwrap(), &to, b"Subject: x\r\n\r\nx\r\n", chrono::Utc::now().timestamp() - 1).await.unwrap();
        }
        tx.commit().await.unwrap();
        (d, store)
    }

    #[tokio::test]
    async fn under_a_daily_limit_the_kinds_take_turns_and_what_is_over_it_waits() {
        // A morning's reminders were queued before the day's acknowledgements.
        let (_d, store) = store_of(&[("rem-1", "reminder", 1), ("rem-2", "reminder", 1), ("rem-3", "reminder", 1), ("ack-1", "ack", 1), ("ack-2", "ack", 1), ("digest", "digest", 3)]).await;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        let pace = Pace { daily_limit: Some(5), ..PACE };
        let (done, held) = deliver_with(&store, Fake { refuse: "none", how: Failure::Transient, seen: seen.clone() }, pace).await.unwrap();
        assert_eq!(*seen.borrow(), vec!["rem-1", "ack-1", "digest"], "each kind in turn, not the oldest reminders first");
        assert_eq!((done, held), ((3, 0), 1), "the next reminder does not fit in what is left");
        assert_eq!(store.recipients_sent_since(0).await.unwrap(), 5);
        // A later run with more room goes on with the turns: those that sent least first.
        let (done, held) = deliver_with(&store, Fake { refuse: "none", how: Failure::Transient, seen: seen.clone() }, Pace { daily_limit: Some(7), ..PACE }).await.unwrap();
        assert_eq!(seen.borrow()[3..], ["rem-2", "ack-2"]);
        assert_eq!((done, held), ((2, 0), 1));
        // Nothing more until the day leaves room; what waits is still queued, not failed.
        let (done, held) = deliver_with(&store, Fake { refuse: "none", how: Failure::Transient, seen: seen.clone() }, Pace { daily_limit: Some(7), ..PACE }).await.unwrap();
        assert_eq!((done, held), ((0, 0), 1));
        let waiting: Vec<String> = store.outbox_keys().await.unwrap().into_iter().filter(|k| k.2 == "queued").map(|k| k.0).collect();
        assert_eq!(waiting, ["rem-3"]);
        // Without a limit, oldest first as always.
        let (_d, store) = store_of(&[("rem-1", "reminder", 1), ("rem-2", "reminder", 1), ("ack-1", "ack", 1)]).await;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        deliver_with(&store, Fake { refuse: "none", how: Failure::Transient, seen: seen.clone() }, PACE).await.unwrap();
        assert_eq!(*seen.borrow(), vec!["rem-1", "rem-2", "ack-1"]);
    }

    #[tokio::test]
    async fn every_due_mail_is_handed_over_once_and_marked_sent() {
        let (_d, store) = store_with(&["k1", "k2", "k3"]).await;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        let fake = Fake { refuse: "none", how: Failure::Transient, seen: seen.clone() };
        assert_eq!(deliver_with(&store, fake, PACE).await.unwrap().0, (3, 0));
        assert_eq!(*seen.borrow(), vec!["k1", "k2", "k3"]);
        let fake = Fake { refuse: "none", how: Failure::Transient, seen: seen.clone() };
        assert_eq!(deliver_with(&store, fake, PACE).await.unwrap().0, (0, 0), "nothing is sent twice");
        assert!(store.outbox_keys().await.unwrap().iter().all(|(_, _, s)| s == "sent"));
    }

    #[tokio::test]
    async fn a_transient_refusal_stays_queued_and_a_permanent_one_fails_for_good() {
        let (_d, store) = store_with(&["ok-1", "bad-2"]).await;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        deliver_with(&store, Fake { refuse: "bad", how: Failure::Transient, seen: seen.clone() }, PACE).await.unwrap();
        let states: Vec<String> = store.outbox_keys().await.unwrap().into_iter().map(|(_, _, s)| s).collect();
        assert_eq!(states, vec!["sent", "queued"], "a 4xx is retried later");
        let (_d2, store) = store_with(&["bad-1"]).await;
        deliver_with(&store, Fake { refuse: "bad", how: Failure::Permanent, seen }, PACE).await.unwrap();
        assert_eq!(store.outbox_keys().await.unwrap()[0].2, "failed");
    }

    #[tokio::test]
    async fn a_failing_connection_fails_no_mail_and_the_outbox_waits_as_a_whole() {
        let (_d, store) = store_with(&["bad-1", "bad-2"]).await;
        let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        let r = deliver_with(&store, Fake { refuse: "bad", how: Failure::Connection, seen: seen.clone() }, PACE).await.unwrap().0;
        assert_eq!(r, (0, 0));
        assert_eq!(seen.borrow().len(), 1, "the first failure stops the run");
        let rows = store.outbox_rows(None, 10).await.unwrap();
        assert!(rows.iter().all(|r| r.state == crate::domain::OutboxState::Queued && r.attempts == 0), "{rows:?}");
        let block = store.outbox_block().await.unwrap().expect("blocked");
        assert!(block.error.contains("550"));
        // Within the wait nothing is tried; a person's retry lifts it at once.
        deliver_with(&store, Fake { refuse: "none", how: Failure::Connection, seen: seen.clone() }, PACE).await.unwrap();
        assert_eq!(seen.borrow().len(), 1);
        crate::office::retry_mail(&store, &[], true, "test").await.unwrap();
        let r = deliver_with(&store, Fake { refuse: "none", how: Failure::Connection, seen }, PACE).await.unwrap().0;
        assert_eq!(r, (2, 0));
        assert!(store.outbox_block().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_mail_refused_for_now_fails_for_good_only_when_old() {
        let (_d, store) = store_with(&["bad-1"]).await;
        store.execute_raw("UPDATE outbox SET created_at = 0").await.unwrap();
        let seen = std::rc::Rc::new(std::cell::RefCell::new(vec![]));
        deliver_with(&store, Fake { refuse: "bad", how: Failure::Transient, seen }, PACE).await.unwrap();
        let row = &store.outbox_rows(None, 1).await.unwrap()[0];
        assert_eq!(row.state, crate::domain::OutboxState::Failed);
        assert!(row.last_error.as_deref().unwrap().contains("after 3 days"), "{row:?}");
    }
}

