//! The IMAP source: the office mailbox on a real server, read incrementally by UID.
//!
//! Exactly once: a message's source key is `imap:<mailbox>:<UIDVALIDITY>:<UID>`; bodies are
//! fetched with `BODY.PEEK[]` (nothing is marked by reading); a message is flagged (`\Seen` and
//! `$Baocao`) or moved only after its results are committed; and the highest UID whose results
//! are committed is stored per mailbox, so a poll with nothing new costs one `STATUS` round trip
//! and fetches nothing. When UIDVALIDITY changes the mailbox is read again from the start, and
//! messages already recorded (by their `$Baocao` flag or their exact bytes) are only marked.
//! The mailbox is shared with people: nothing is deleted, and messages this instance did not
//! process are never touched.
//!
//! async-imap facts designed around: only IDLE has a timeout of its own, so every command here
//! is wrapped in one; `UID SEARCH n:*` (like FETCH) answers with the newest message even when n
//! is above every UID, so results are filtered; bodies are fetched in ranges.

use super::{pipeline, RawMessage};
use crate::config::{After, Config, Source};
use crate::parse::worker::Parser;
use crate::store::Store;
use crate::tls::Io;
use async_imap::types::Flag;
use futures_util::TryStreamExt;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

type Session = async_imap::Session<Box<dyn Io>>;

const KEYWORD: &str = "$Baocao";
const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// Servers may drop an IDLE after 30 minutes (RFC 2177); it is re-issued before that.
const IDLE_RENEW: Duration = Duration::from_secs(29 * 60);
/// Bodies are fetched in ranges of at most this many bytes, to bound memory.
const FETCH_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP {0}")]
    Protocol(String),
    #[error("IMAP server did not answer {0} within {1:?}")]
    Timeout(&'static str, Duration),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What the daemon's health and metrics report about intake.
#[derive(Default)]
pub struct Health {
    /// Unix seconds of the last successful poll (0: none yet).
    pub last_poll: AtomicI64,
    pub connected: AtomicBool,
    /// Whether this instance holds the mailbox (another instance may).
    pub polling: AtomicBool,
    pub messages: AtomicU64,
    /// Message bodies (or heads) fetched from the server, ever.
    pub fetched: AtomicU64,
    pub last_error: Mutex<Option<String>>,
    /// Signalled when a pass recorded messages (their acknowledgements wait in the outbox).
    pub recorded: tokio::sync::Notify,
}

impl Health {
    /// A successful poll: connected, no error, now.
    pub fn ok(&self) {
        self.last_poll.store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
        self.connected.store(true, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
    pub fn failed(&self, e: &str) {
        self.connected.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    }
}

async fn timed<T, E: std::fmt::Display>(what: &'static str, f: impl std::future::Future<Output = Result<T, E>>) -> Result<T, ImapError> {
    match tokio::time::timeout(CMD_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ImapError::Protocol(format!("{what}: {e}"))),
        Err(_) => Err(ImapError::Timeout(what, CMD_TIMEOUT)),
    }
}

/// The mailbox the config names.
pub struct Account {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub mailbox: String,
    pub ca_file: Option<std::path::PathBuf>,
}

impl Account {
    pub fn of(cfg: &Config) -> Option<Account> {
        let Source::Imap { tls, user, host, port, mailbox } = &cfg.intake.source else { return None };
        // SPEC §3 names BAOCAO_IMAP_PASSWORD; a config may name another variable.
        let var = cfg.intake.password_env.clone().unwrap_or_else(|| "BAOCAO_IMAP_PASSWORD".into());
        let password = std::env::var(var).unwrap_or_default();
        Some(Account { tls: *tls, host: host.clone(), port: *port, user: user.clone(), password, mailbox: mailbox.clone(), ca_file: cfg.intake.ca_file.clone() })
    }
}

/// Connects, secures (implicit TLS for imaps://, STARTTLS for imap:// unless the server is on
/// loopback) and logs in.
pub async fn connect(acc: &Account) -> Result<Session, ImapError> {
    let tcp = timed("connect", tokio::net::TcpStream::connect((acc.host.as_str(), acc.port))).await?;
    let _ = tcp.set_nodelay(true);
    let mut io: Box<dyn Io> = Box::new(tcp);
    if acc.tls {
        io = crate::tls::wrap(&acc.host, io, acc.ca_file.as_deref()).await.map_err(ImapError::Protocol)?;
    }
    let mut client = async_imap::Client::new(io);
    timed("greeting", async { client.read_response().await.map_err(|e| e.to_string())?.ok_or_else(|| "connection closed".to_string()) }).await?;
    if !acc.tls {
        // STARTTLS whenever the server takes it; a server that refuses is used in plain text
        // only on loopback (tests, a local relay), never across a network.
        match timed("STARTTLS", client.run_command_and_check_ok("STARTTLS", None)).await {
            Ok(()) => {
                let io = crate::tls::wrap(&acc.host, client.into_inner(), acc.ca_file.as_deref()).await.map_err(ImapError::Protocol)?;
                client = async_imap::Client::new(io);
            }
            Err(e) if !crate::tls::is_loopback(&acc.host) => return Err(e),
            Err(_) => {}
        }
    }
    let session = timed("LOGIN", async { client.login(&acc.user, &acc.password).await.map_err(|(e, _)| e) }).await?;
    Ok(session)
}

fn source_key(mailbox: &str, validity: u32, uid: u32) -> String {
    format!("imap:{mailbox}:{validity}:{uid}")
}

/// UIDs as compact IMAP ranges: `3:5,9,12:13`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        out.push(if start == end { start.to_string() } else { format!("{start}:{end}") });
        i += 1;
    }
    out.join(",")
}

struct Meta {
    uid: u32,
    size: u64,
    arrival: Option<i64>,
    ours: bool,
}

/// One incremental pass over the mailbox. Returns how many messages were recorded.
pub async fn sync(cfg: &Config, store: &Store, parser: &Parser, session: &mut Session, acc: &Account, shutdown: &watch::Receiver<bool>, health: &Health) -> Result<usize, ImapError> {
    let status = timed("STATUS", session.status(&acc.mailbox, "(UIDNEXT UIDVALIDITY)")).await?;
    let validity = status.uid_validity.unwrap_or(0);
    let state = store.mailbox_state(&acc.mailbox).await?;
    let resync = matches!(state, Some((v, _, _)) if v != validity as i64);
    let mut last = match state {
        Some((v, last, _)) if v == validity as i64 => last as u32,
        Some((v, _, _)) => {
            tracing::warn!(mailbox = %acc.mailbox, old = v, new = validity, "UIDVALIDITY changed: reading the mailbox again; recorded messages are only marked");
            0
        }
        None => 0,
    };
    if status.uid_next.is_some_and(|next| next <= last + 1) {
        store.set_mailbox_state(&acc.mailbox, validity as i64, last as i64).await?;
        return Ok(0);
    }
    timed("SELECT", session.select(&acc.mailbox)).await?;
    let found = timed("UID SEARCH", session.uid_search(format!("UID {}:*", last + 1))).await?;
    let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last).collect();
    uids.sort_unstable();
    let mut recorded = 0;
    for chunk in uids.chunks(200) {
        let metas: Vec<Meta> = {
            let stream = timed("UID FETCH", session.uid_fetch(uid_set(chunk), "(UID RFC822.SIZE INTERNALDATE FLAGS)")).await?;
            let fetched: Vec<_> = timed("UID FETCH", stream.try_collect::<Vec<_>>()).await?;
            let mut v: Vec<Meta> = fetched
                .iter()
                .filter_map(|f| {
                    let uid = f.uid?;
                    Some(Meta {
                        uid,
                        size: f.size.unwrap_or(0) as u64,
                        arrival: f.internal_date().map(|d| d.timestamp()),
                        ours: f.flags().any(|fl| matches!(fl, Flag::Custom(ref c) if c.eq_ignore_ascii_case(KEYWORD))),
                    })
                })
                .filter(|m| m.uid > last && chunk.contains(&m.uid))
                .collect();
            v.sort_by_key(|m| m.uid);
            v
        };
        let mut i = 0;
        while i < metas.len() {
            if *shutdown.borrow() {
                return Ok(recorded);
            }
            // A range of bodies to fetch in one command.
            let mut j = i;
            let mut bytes = 0;
            while j < metas.len() && (j == i || bytes + metas[j].size <= FETCH_BYTES) {
                bytes += metas[j].size;
                j += 1;
            }
            let group = &metas[i..j];
            let mut need: Vec<u32> = Vec::new();
            let mut head_only: Vec<u32> = Vec::new();
            for m in group {
                // After a UIDVALIDITY change our keyword tells what was recorded under the old UIDs;
                // a new database (no state yet) reads everything, flagged or not.
                if (m.ours && resync) || store.source_known(&source_key(&acc.mailbox, validity, m.uid)).await? {
                    continue;
                }
                if m.size > cfg.intake.max_message_bytes {
                    head_only.push(m.uid);
                } else {
                    need.push(m.uid);
                }
            }
            let mut bodies: std::collections::HashMap<u32, Vec<u8>> = std::collections::HashMap::new();
            for (set, item) in [(&need, "BODY.PEEK[]"), (&head_only, "BODY.PEEK[HEADER]")] {
                if set.is_empty() {
                    continue;
                }
                let stream = timed("UID FETCH", session.uid_fetch(uid_set(set), format!("(UID {item})"))).await?;
                let fetched: Vec<_> = timed("UID FETCH", stream.try_collect::<Vec<_>>()).await?;
                for f in &fetched {
                    if let (Some(uid), Some(b)) = (f.uid, f.body().or_else(|| f.header())) {
                        if set.contains(&uid) {
                            health.fetched.fetch_add(1, Ordering::Relaxed);
                            bodies.insert(uid, b.to_vec());
                        }
                    }
                }
            }
            for m in group {
                let key = source_key(&acc.mailbox, validity, m.uid);
                if let Some(bytes) = bodies.remove(&m.uid) {
                    let known_bytes = resync && store.raw_known(&crate::parse::sha256_hex(&bytes)).await?;
                    if !known_bytes {
                        let raw = RawMessage {
                            source_key: key.clone(),
                            arrival: m.arrival,
                            path: None,
                            bytes,
                            declared_size: head_only.contains(&m.uid).then_some(m.size),
                        };
                        if pipeline::process(cfg, store, parser, &raw).await? != pipeline::Outcome::AlreadyKnown {
                            recorded += 1;
                        }
                    }
                } else if !(m.ours && resync) && !store.source_known(&key).await? {
                    // Gone between listing and fetching (someone moved it): not ours to mark.
                    tracing::warn!(uid = m.uid, "message disappeared before it could be read");
                    last = m.uid;
                    store.set_mailbox_state(&acc.mailbox, validity as i64, last as i64).await?;
                    continue;
                }
                // Only now, with the results committed, is the message marked or moved.
                mark_done(session, &cfg.intake.after, m.uid, m.ours).await?;
                last = m.uid;
                store.set_mailbox_state(&acc.mailbox, validity as i64, last as i64).await?;
            }
            i = j;
        }
    }
    store.set_mailbox_state(&acc.mailbox, validity as i64, last as i64).await?;
    Ok(recorded)
}

async fn mark_done(session: &mut Session, after: &After, uid: u32, already_flagged: bool) -> Result<(), ImapError> {
    let set = uid.to_string();
    match after {
        After::Flag => {
            if !already_flagged {
                let s = timed("UID STORE", session.uid_store(&set, format!("+FLAGS.SILENT (\\Seen {KEYWORD})"))).await?;
                timed("UID STORE", s.try_collect::<Vec<_>>()).await?;
            }
        }
        After::Move(folder) => {
            let caps = timed("CAPABILITY", session.capabilities()).await?;
            if caps.has_str("MOVE") {
                timed("UID MOVE", session.uid_mv(&set, folder)).await?;
            } else {
                timed("UID COPY", session.uid_copy(&set, folder)).await?;
                let s = timed("UID STORE", session.uid_store(&set, format!("+FLAGS.SILENT (\\Seen \\Deleted {KEYWORD})"))).await?;
                timed("UID STORE", s.try_collect::<Vec<_>>()).await?;
                // Without UIDPLUS an EXPUNGE would also remove messages people marked deleted.
                if caps.has_str("UIDPLUS") {
                    let s = timed("UID EXPUNGE", session.uid_expunge(&set)).await?;
                    timed("UID EXPUNGE", s.try_collect::<Vec<_>>()).await?;
                }
            }
        }
    }
    Ok(())
}

/// Waits for the mailbox to change: IDLE when offered (renewed before servers drop it),
/// otherwise `poll_seconds`. Returns the session, or None when shutdown was asked.
async fn wait_for_change(session: Session, idle: bool, poll: Duration, shutdown: &mut watch::Receiver<bool>) -> Result<Option<Session>, ImapError> {
    if !idle {
        tokio::select! {
            _ = tokio::time::sleep(poll) => return Ok(Some(session)),
            _ = shutdown.changed() => return Ok(None),
        }
    }
    let mut handle = session.idle();
    timed("IDLE", handle.init()).await?;
    let (wait, stop) = handle.wait_with_timeout(IDLE_RENEW);
    let stopped = tokio::select! {
        r = wait => { r.map_err(|e| ImapError::Protocol(format!("IDLE: {e}")))?; false }
        _ = shutdown.changed() => true,
    };
    drop(stop);
    let session = timed("DONE", handle.done()).await?;
    Ok(if stopped { None } else { Some(session) })
}

/// The intake loop on IMAP: hold the mailbox (one instance per mailbox on PostgreSQL), sync,
/// wait for a change, repeat; reconnect with capped exponential backoff when the server goes
/// away. `once`: one sync, then return.
pub async fn run(cfg: &Config, store: &Store, parser: &Parser, health: Arc<Health>, mut shutdown: watch::Receiver<bool>, once: bool) -> Result<(), ImapError> {
    let acc = Account::of(cfg).ok_or_else(|| ImapError::Protocol("the intake source is not IMAP".into()))?;
    let poll = Duration::from_secs(cfg.intake.poll_seconds.max(1));
    // How often an instance that does not hold the mailbox asks again: a dead holder is
    // replaced within this time.
    let takeover = poll.min(Duration::from_secs(20));
    let mut backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let mut lock = match store.try_mailbox_lock(&acc.mailbox).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                health.polling.store(false, Ordering::Relaxed);
                if once {
                    return Ok(());
                }
                tokio::select! { _ = tokio::time::sleep(takeover) => continue, _ = shutdown.changed() => return Ok(()) }
            }
            Err(e) => {
                health.failed(&e.to_string());
                tracing::error!("cannot take the mailbox lock: {e}");
                tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = shutdown.changed() => return Ok(()) }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        health.polling.store(true, Ordering::Relaxed);
        let result: Result<(), ImapError> = async {
            let mut session = connect(&acc).await?;
            if let After::Move(folder) = &cfg.intake.after {
                // Created once if missing; an existing folder makes this fail harmlessly.
                let _ = timed("CREATE", session.create(folder)).await;
            }
            let idle = timed("CAPABILITY", session.capabilities()).await?.has_str("IDLE");
            // IDLE reports changes of the selected mailbox only: select it even when the first
            // STATUS finds nothing new.
            timed("SELECT", session.select(&acc.mailbox)).await?;
            loop {
                if !lock.alive().await {
                    return Err(ImapError::Protocol("lost the mailbox lock (database connection closed)".into()));
                }
                let n = sync(cfg, store, parser, &mut session, &acc, &shutdown, &health).await?;
                health.ok();
                health.messages.fetch_add(n as u64, Ordering::Relaxed);
                backoff = Duration::from_secs(1);
                if n > 0 {
                    health.recorded.notify_one();
                    tracing::info!(recorded = n, mailbox = %acc.mailbox, "IMAP pass");
                }
                if once || *shutdown.borrow() {
                    let _ = timed("LOGOUT", session.logout()).await;
                    return Ok(());
                }
                match wait_for_change(session, idle, poll, &mut shutdown).await? {
                    Some(s) => session = s,
                    None => return Ok(()),
                }
            }
        }
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) => {
                health.failed(&e.to_string());
                tracing::warn!("IMAP intake: {e}; reconnecting in {backoff:?}");
                if once {
                    return Err(e);
                }
                drop(lock);
                tokio::select! { _ = tokio::time::sleep(backoff) => {}, _ = shutdown.changed() => return Ok(()) }
                backoff = (backoff * 2).min(Duration::from_secs(60));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_sent_as_compact_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
    }
}
