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

use super::source::{Incoming, Opened, Source};
use super::RawMessage;
use crate::config::{self, After, Config};
use crate::secrets::{self, Auth, Mechanism, TokenSource};
use crate::store::Store;
use crate::tls::Io;
use async_imap::types::Flag;
use futures_util::TryStreamExt;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

type Session = async_imap::Session<Box<dyn Io>>;

const KEYWORD: &str = "$Baocao";
const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// Servers may drop an IDLE after 30 minutes (RFC 2177); it is re-issued before that.
const IDLE_RENEW: Duration = Duration::from_secs(29 * 60);
/// Bodies are fetched in ranges of at most this many bytes: memory stays bounded, and reading
/// starts on the first range while the server sends the next (16 MB ranges were slower: the
/// first message waited for the whole range).
const FETCH_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("IMAP {0}")]
    Protocol(String),
    #[error("IMAP server did not answer {0} within {1:?}")]
    Timeout(&'static str, Duration),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

pub use super::source::Health;

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
    pub auth: Auth,
    /// The mailbox as the config names it (UTF-8); on the wire in modified UTF-7.
    pub mailbox: String,
    pub ca_file: Option<std::path::PathBuf>,
}

impl Account {
    pub fn of(cfg: &Config) -> Option<Account> {
        let config::Source::Imap { tls, user, host, port, mailbox } = &cfg.intake.source else { return None };
        Some(Account { tls: *tls, host: host.clone(), port: *port, user: user.clone(), auth: cfg.intake.auth.clone(), mailbox: mailbox.clone(), ca_file: cfg.intake.ca_file.clone() })
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
    match &acc.auth {
        Auth::Password(secret) => {
            let password = secrets::reveal(secret).await.map_err(|e| ImapError::Protocol(format!("LOGIN: {e}")))?;
            timed("LOGIN", async { client.login(&acc.user, &password).await.map_err(|(e, _)| e) }).await
        }
        Auth::OAuth2 { mechanism, token } => login_oauth2(client, acc, *mechanism, token).await,
    }
}

/// The SASL exchange of XOAUTH2 and OAUTHBEARER: the token first; a server refusing it sends
/// its reasons as a challenge, which the client answers with an empty response (XOAUTH2) or
/// %x01 (OAUTHBEARER, RFC 7628 §3.2.3) to get the final NO.
struct Bearer {
    first: Option<String>,
    mechanism: Mechanism,
    /// What the server said when it refused (its JSON status), for the error.
    said: std::sync::Arc<std::sync::Mutex<String>>,
}

impl async_imap::Authenticator for Bearer {
    type Response = Vec<u8>;
    fn process(&mut self, challenge: &[u8]) -> Vec<u8> {
        if let Some(first) = self.first.take() {
            return first.into_bytes();
        }
        *self.said.lock().unwrap_or_else(|e| e.into_inner()) = String::from_utf8_lossy(challenge).into_owned();
        match self.mechanism {
            Mechanism::XOAuth2 => Vec::new(),
            Mechanism::OAuthBearer => vec![1],
        }
    }
}

/// Logs in with an OAuth2 token; a refused token is forgotten and a fresh one tried once on the
/// same connection.
async fn login_oauth2(mut client: async_imap::Client<Box<dyn Io>>, acc: &Account, mechanism: Mechanism, src: &TokenSource) -> Result<Session, ImapError> {
    let name = mechanism.name();
    for attempt in 0..2 {
        let token = secrets::token(src).await.map_err(|e| ImapError::Protocol(format!("AUTHENTICATE {name}: {e}")))?;
        let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let bearer = Bearer { first: Some(mechanism.initial_response(&acc.user, &token, &acc.host, acc.port)), mechanism, said: said.clone() };
        let result = tokio::time::timeout(CMD_TIMEOUT, client.authenticate(name, bearer)).await.map_err(|_| ImapError::Timeout("AUTHENTICATE", CMD_TIMEOUT))?;
        match result {
            Ok(session) => return Ok(session),
            Err((e, c)) => {
                client = c;
                let said = said.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let refused = matches!(e, async_imap::error::Error::No(_));
                if refused && secrets::forget(src, &token) && attempt == 0 {
                    tracing::info!("{}: the {name} token was refused ({e}); trying a fresh one", acc.host);
                    continue;
                }
                let said = if said.is_empty() { String::new() } else { format!(" — {said}") };
                let what = if refused { format!("the server refused the token ({})", src.describe()) } else { "failed".into() };
                return Err(ImapError::Protocol(format!("AUTHENTICATE {name}: {what}: {e}{said}")));
            }
        }
    }
    unreachable!("the second attempt returns")
}

/// A mailbox name as IMAP writes it (modified UTF-7, RFC 3501 §5.1.3): `Đã xử lý` is
/// `&ARAA4w- x&Hu0- l&AP0-`. The config, the logs and the database keep the UTF-8 name.
pub fn wire(mailbox: &str) -> String {
    super::utf7::encode(mailbox)
}

fn source_key(mailbox: &str, validity: u32, uid: u32) -> String {
    format!("imap:{mailbox}:{validity}:{uid}")
}

/// A message's exactly-once key: on Gmail (X-GM-EXT-1) its X-GM-MSGID, which no UIDVALIDITY
/// change, label or folder renumbers, so a re-scan after one re-reads nothing; elsewhere its
/// UIDVALIDITY and UID.
fn message_key(mailbox: &str, validity: u32, uid: u32, gmail_id: Option<u64>) -> String {
    match gmail_id {
        Some(id) => format!("imap:{mailbox}:gm:{id}"),
        None => source_key(mailbox, validity, uid),
    }
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
    /// Gmail's own id of the message (X-GM-MSGID), when the server is Gmail.
    gmail_id: Option<u64>,
    size: u64,
    arrival: Option<i64>,
    ours: bool,
}

/// What settling one message needs: its UID, whether it is to be marked or moved (a message
/// that vanished before it could be read is not ours to mark), and whether it already carries
/// our keyword.
pub struct Settle {
    uid: u32,
    mark: bool,
    ours: bool,
}

/// The office mailbox on an IMAP server, as a [`Source`].
pub struct ImapSource<'a> {
    cfg: &'a Config,
    acc: Account,
    poll: Duration,
    session: Option<Session>,
    lock: Option<crate::store::MailboxLock>,
    idle: bool,
    /// What the server offers, read once per connection: MOVE, UIDPLUS.
    caps: Caps,
    pass: Option<Pass>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    mv: bool,
    uidplus: bool,
    /// Gmail's extensions (X-GM-EXT-1): X-GM-MSGID.
    gmail: bool,
    /// The selected mailbox keeps keywords such as `$Baocao`.
    keywords: bool,
}

/// The state of one pass over the mailbox.
struct Pass {
    validity: u32,
    resync: bool,
    /// The highest UID settled (whose results are committed).
    last: u32,
    /// UIDs found by the search whose metadata is not fetched yet.
    uids: VecDeque<u32>,
    /// Metadata of messages whose bodies are not fetched yet.
    metas: VecDeque<Meta>,
    /// Messages ready to hand over, with their bodies (None: only to settle).
    ready: VecDeque<(Meta, Option<Vec<u8>>, bool)>,
    /// Everything is handed over; the last messages may still be settled (they are recorded
    /// in batches after the source has said it has no more).
    done: bool,
}

impl<'a> ImapSource<'a> {
    pub fn new(cfg: &'a Config) -> Result<ImapSource<'a>, ImapError> {
        let acc = Account::of(cfg).ok_or_else(|| ImapError::Protocol("the intake source is not IMAP".into()))?;
        Ok(ImapSource { cfg, acc, poll: Duration::from_secs(cfg.intake.poll_seconds.max(1)), session: None, lock: None, idle: false, caps: Caps::default(), pass: None })
    }

    fn session(&mut self) -> Result<&mut Session, ImapError> {
        self.session.as_mut().ok_or_else(|| ImapError::Protocol("not connected".into()))
    }

    /// Starts a pass: one STATUS; nothing more when nothing is new.
    async fn begin_pass(&mut self, store: &Store) -> Result<Option<Pass>, ImapError> {
        if let Some(lock) = self.lock.as_mut() {
            if !lock.alive().await {
                return Err(ImapError::Protocol("lost the mailbox lock (database connection closed)".into()));
            }
        }
        let mailbox = self.acc.mailbox.clone();
        let session = self.session()?;
        let status = timed("STATUS", session.status(wire(&mailbox), "(UIDNEXT UIDVALIDITY)")).await?;
        let validity = status.uid_validity.unwrap_or(0);
        let state = store.mailbox_state(&mailbox).await?;
        let resync = matches!(state, Some((v, _, _)) if v != validity as i64);
        let last = match state {
            Some((v, last, _)) if v == validity as i64 => last as u32,
            Some((v, _, _)) => {
                tracing::warn!(mailbox = %mailbox, old = v, new = validity, "UIDVALIDITY changed: reading the mailbox again; recorded messages are only marked");
                0
            }
            None => 0,
        };
        if status.uid_next.is_some_and(|next| next <= last + 1) {
            store.set_mailbox_state(&mailbox, validity as i64, last as i64).await?;
            return Ok(None);
        }
        timed("SELECT", session.select(wire(&mailbox))).await?;
        let found = timed("UID SEARCH", session.uid_search(format!("UID {}:*", last + 1))).await?;
        let mut uids: Vec<u32> = found.into_iter().filter(|u| *u > last).collect();
        uids.sort_unstable();
        Ok(Some(Pass { validity, resync, last, uids: uids.into(), metas: VecDeque::new(), ready: VecDeque::new(), done: false }))
    }

    /// Fetches the metadata of the next (up to) 200 UIDs.
    async fn fetch_metas(&mut self, pass: &mut Pass) -> Result<(), ImapError> {
        let chunk: Vec<u32> = (0..200).map_while(|_| pass.uids.pop_front()).collect();
        let gmail = self.caps.gmail;
        let session = self.session()?;
        let items = if gmail { "(UID RFC822.SIZE INTERNALDATE FLAGS X-GM-MSGID)" } else { "(UID RFC822.SIZE INTERNALDATE FLAGS)" };
        let stream = timed("UID FETCH", session.uid_fetch(uid_set(&chunk), items)).await?;
        let fetched: Vec<_> = timed("UID FETCH", stream.try_collect::<Vec<_>>()).await?;
        let mut v: Vec<Meta> = fetched
            .iter()
            .filter_map(|f| {
                let uid = f.uid?;
                Some(Meta {
                    uid,
                    gmail_id: f.gmail_msg_id().copied(),
                    size: f.size.unwrap_or(0) as u64,
                    arrival: f.internal_date().map(|d| d.timestamp()),
                    ours: f.flags().any(|fl| matches!(fl, Flag::Custom(ref c) if c.eq_ignore_ascii_case(KEYWORD))),
                })
            })
            .filter(|m| chunk.contains(&m.uid))
            .collect();
        v.sort_by_key(|m| m.uid);
        pass.metas.extend(v);
        Ok(())
    }

    /// Fetches the bodies of the next range of messages (at most `FETCH_BYTES`, at least one),
    /// skipping those already recorded; oversized ones only their head.
    async fn fetch_bodies(&mut self, store: &Store, health: &Health, pass: &mut Pass) -> Result<(), ImapError> {
        let mut group: Vec<Meta> = Vec::new();
        let mut bytes = 0;
        while let Some(m) = pass.metas.front() {
            if !group.is_empty() && bytes + m.size > FETCH_BYTES {
                break;
            }
            bytes += m.size;
            group.push(pass.metas.pop_front().expect("front exists"));
        }
        let mut need: Vec<u32> = Vec::new();
        let mut head_only: Vec<u32> = Vec::new();
        let mut known: Vec<u32> = Vec::new();
        let keys: Vec<String> = group.iter().map(|m| message_key(&self.acc.mailbox, pass.validity, m.uid, m.gmail_id)).collect();
        let recorded = store.sources_known(&keys).await?;
        for (m, key) in group.iter().zip(&keys) {
            // After a UIDVALIDITY change our keyword tells what was recorded under the old UIDs;
            // a new database (no state yet) reads everything, flagged or not.
            if (m.ours && pass.resync) || recorded.contains(key) {
                known.push(m.uid);
            } else if m.size > self.cfg.intake.max_message_bytes {
                head_only.push(m.uid);
            } else {
                need.push(m.uid);
            }
        }
        let mut bodies: HashMap<u32, Vec<u8>> = HashMap::new();
        let session = self.session()?;
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
            let body = bodies.remove(&m.uid);
            // Gone between listing and fetching (someone moved it): not ours to mark.
            let mark = body.is_some() || known.contains(&m.uid);
            if !mark {
                tracing::warn!(uid = m.uid, "message disappeared before it could be read");
            }
            pass.ready.push_back((m, body, mark));
        }
        Ok(())
    }

    fn raw(&self, pass: &Pass, m: &Meta, bytes: Vec<u8>) -> RawMessage {
        RawMessage {
            source_key: message_key(&self.acc.mailbox, pass.validity, m.uid, m.gmail_id),
            arrival: m.arrival,
            path: None,
            declared_size: (m.size > self.cfg.intake.max_message_bytes).then_some(m.size),
            bytes,
        }
    }
}

impl Source for ImapSource<'_> {
    type Token = Settle;
    type Error = ImapError;

    async fn open(&mut self, store: &Store) -> Result<Opened, ImapError> {
        let Some(lock) = store.try_mailbox_lock(&self.acc.mailbox).await? else { return Ok(Opened::HeldElsewhere) };
        self.lock = Some(lock);
        let mut session = connect(&self.acc).await?;
        if let After::Move(folder) = &self.cfg.intake.after {
            // Created once if missing; an existing folder makes this fail harmlessly.
            let _ = timed("CREATE", session.create(wire(folder))).await;
        }
        let caps = timed("CAPABILITY", session.capabilities()).await?;
        self.idle = caps.has_str("IDLE");
        self.caps = Caps { mv: caps.has_str("MOVE"), uidplus: caps.has_str("UIDPLUS"), gmail: caps.has_str("X-GM-EXT-1"), keywords: true };
        // IDLE reports changes of the selected mailbox only: select it even when the first
        // STATUS finds nothing new.
        let selected = timed("SELECT", session.select(wire(&self.acc.mailbox))).await?;
        // A server that keeps no keywords of its own choosing (no \* in PERMANENTFLAGS) would
        // refuse a STORE naming ours: there only \Seen is set, and the UIDs remembered and the
        // message's bytes tell what was processed.
        self.caps.keywords = selected.permanent_flags.iter().any(|f| matches!(f, Flag::MayCreate) || matches!(f, Flag::Custom(c) if c.eq_ignore_ascii_case(KEYWORD)));
        self.session = Some(session);
        Ok(Opened::Ready)
    }

    async fn next(&mut self, store: &Store, health: &Health) -> Result<Option<Incoming<Settle>>, ImapError> {
        let mut pass = match self.pass.take() {
            Some(p) if !p.done => p,
            _ => match self.begin_pass(store).await? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        loop {
            if let Some((m, body, mark)) = pass.ready.pop_front() {
                // After a UIDVALIDITY change, exactly these bytes recorded before are only marked.
                let again = match &body {
                    Some(b) if pass.resync => store.raw_known(&crate::digest::sha256_hex(b)).await?,
                    _ => false,
                };
                let raw = body.filter(|_| !again).map(|b| self.raw(&pass, &m, b));
                let token = Settle { uid: m.uid, mark, ours: m.ours };
                self.pass = Some(pass);
                return Ok(Some(Incoming { raw, token }));
            }
            if !pass.metas.is_empty() {
                self.fetch_bodies(store, health, &mut pass).await?;
            } else if !pass.uids.is_empty() {
                self.fetch_metas(&mut pass).await?;
            } else {
                store.set_mailbox_state(&self.acc.mailbox, pass.validity as i64, pass.last as i64).await?;
                pass.done = true;
                self.pass = Some(pass);
                return Ok(None);
            }
        }
    }

    async fn settle(&mut self, store: &Store, t: Settle) -> Result<(), ImapError> {
        self.settle_all(store, vec![t]).await
    }

    async fn settle_all(&mut self, store: &Store, tokens: Vec<Settle>) -> Result<(), ImapError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let after = self.cfg.intake.after.clone();
        let caps = self.caps;
        // One command for the whole batch: the flags (or the move) of every message in it.
        let mut uids: Vec<u32> = tokens.iter().filter(|t| t.mark && !(t.ours && after == After::Flag)).map(|t| t.uid).collect();
        uids.sort_unstable();
        if !uids.is_empty() {
            mark_done(self.session()?, &after, caps, &uid_set(&uids)).await?;
        }
        let pass = self.pass.as_mut().ok_or_else(|| ImapError::Protocol("a message settled outside a pass".into()))?;
        pass.last = tokens.iter().map(|t| t.uid).fold(pass.last, u32::max);
        store.set_mailbox_state(&self.acc.mailbox, pass.validity as i64, pass.last as i64).await?;
        Ok(())
    }

    fn unrecorded(&mut self, _: Settle, e: crate::store::StoreError) -> Result<(), ImapError> {
        // The UID must not be passed over: end the pass; it is read again after reconnecting.
        Err(e.into())
    }

    async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<bool, ImapError> {
        let session = self.session.take().ok_or_else(|| ImapError::Protocol("not connected".into()))?;
        match wait_for_change(session, self.idle, self.poll, shutdown).await? {
            Some(s) => {
                self.session = Some(s);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn close(&mut self) {
        self.pass = None;
        if let Some(mut s) = self.session.take() {
            let _ = timed("LOGOUT", s.logout()).await;
        }
        self.lock = None;
    }
}

/// Flags or moves the messages of `set` (a UID set) as processed.
async fn mark_done(session: &mut Session, after: &After, caps: Caps, set: &str) -> Result<(), ImapError> {
    match after {
        After::Flag => {
            let flags = if caps.keywords { format!("(\\Seen {KEYWORD})") } else { "(\\Seen)".to_string() };
            let s = timed("UID STORE", session.uid_store(set, format!("+FLAGS.SILENT {flags}"))).await?;
            timed("UID STORE", s.try_collect::<Vec<_>>()).await?;
        }
        After::Move(folder) => {
            if caps.mv {
                timed("UID MOVE", session.uid_mv(set, wire(folder))).await?;
            } else {
                timed("UID COPY", session.uid_copy(set, wire(folder))).await?;
                let keyword = if caps.keywords { format!(" {KEYWORD}") } else { String::new() };
                let s = timed("UID STORE", session.uid_store(set, format!("+FLAGS.SILENT (\\Seen \\Deleted{keyword})"))).await?;
                timed("UID STORE", s.try_collect::<Vec<_>>()).await?;
                // Without UIDPLUS an EXPUNGE would also remove messages people marked deleted.
                if caps.uidplus {
                    let s = timed("UID EXPUNGE", session.uid_expunge(set)).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gmail_message_keeps_its_key_across_a_uidvalidity_change_and_others_key_by_uid() {
        assert_eq!(message_key("INBOX", 7, 42, Some(1278455344230334865)), "imap:INBOX:gm:1278455344230334865");
        assert_eq!(message_key("INBOX", 7, 42, Some(1278455344230334865)), message_key("INBOX", 9, 3, Some(1278455344230334865)));
        assert_eq!(message_key("INBOX", 7, 42, None), "imap:INBOX:7:42");
        assert_ne!(message_key("INBOX", 7, 42, None), message_key("INBOX", 8, 42, None));
    }

    #[test]
    fn uids_are_sent_as_compact_ranges() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
    }
}
