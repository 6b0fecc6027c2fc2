//! The shape every intake source has, and the one loop that drives them.
//!
//! A [`Source`] hands over the messages it has not settled, one at a time; the driver reads
//! several at once (a bounded window: one per parse worker and one more), records them in
//! batches — one transaction for up to [`BATCH`] messages, or for what is ready after
//! [`BATCH_WAIT`] — each committed on a task of its own while the next messages are fetched and
//! read, and only after a batch's commit tells the source to settle its messages (flag or move
//! them with one command, remember the UID). Between passes the source waits for a change (IMAP
//! IDLE, or the poll interval) or the shutdown signal. Connection trouble ends the pass and the
//! driver opens the source again with capped exponential backoff; a source held by another
//! instance (a PostgreSQL advisory lock) is asked again within `min(poll_seconds, 20)` seconds.
//!
//! Maildir and IMAP implement it; the unit tests below drive a scripted source.

use super::{pipeline, RawMessage};
use crate::config::Config;
use crate::parse::worker::Parser;
use crate::store::{Store, StoreError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The most messages one transaction records.
pub const BATCH: usize = 64;
/// How long a batch waits for more messages once its first one is read: a slow trickle is
/// still committed (and acknowledged) promptly.
pub const BATCH_WAIT: Duration = Duration::from_millis(50);
/// How much is read ahead of the batch being committed: messages, and their bytes (memory
/// stays bounded whatever the mailbox holds).
const AHEAD: usize = 2 * BATCH;
const AHEAD_BYTES: usize = 32 * 1024 * 1024;

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
    /// Another instance holds the mailbox: nothing is wrong here.
    pub fn held_elsewhere(&self) {
        self.polling.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
    pub fn failed(&self, e: &str) {
        self.connected.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    }
}

/// One message handed over by a source: its bytes when they are to be recorded (None when the
/// source only needs it settled: already recorded, or gone), and what settling needs.
pub struct Incoming<T> {
    pub raw: Option<RawMessage>,
    pub token: T,
}

/// Whether a source is ready to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    Ready,
    /// Another instance holds the mailbox; ask again later.
    HeldElsewhere,
}

#[allow(async_fn_in_trait)]
pub trait Source {
    type Token;
    type Error: std::error::Error + From<StoreError> + Send + Sync + 'static;

    /// Makes the source ready: checks the folder, or connects, logs in and takes the lock.
    async fn open(&mut self, store: &Store) -> Result<Opened, Self::Error>;
    /// The next message of this pass, or None when the pass is over.
    async fn next(&mut self, store: &Store, health: &Health) -> Result<Option<Incoming<Self::Token>>, Self::Error>;
    /// Marks a message processed at the source. Called only after its results are committed.
    async fn settle(&mut self, store: &Store, token: Self::Token) -> Result<(), Self::Error>;
    /// Marks the messages of a committed batch processed, in the order handed over; a source
    /// that can (IMAP) does it with one command.
    async fn settle_all(&mut self, store: &Store, tokens: Vec<Self::Token>) -> Result<(), Self::Error> {
        for t in tokens {
            self.settle(store, t).await?;
        }
        Ok(())
    }
    /// What recording a message did, once its batch is committed (the command line counts).
    fn recorded(&mut self, _token: &Self::Token, _outcome: &pipeline::Outcome) {}
    /// A message could not be recorded: Ok to go on with the next (it is handed over again in a
    /// later pass), or Err to end the pass and reopen.
    fn unrecorded(&mut self, token: Self::Token, error: StoreError) -> Result<(), Self::Error>;
    /// Waits until something may have changed: Ok(false) when shutdown was asked.
    async fn wait(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<bool, Self::Error>;
    /// Lets go of the connection and the lock.
    async fn close(&mut self);
}

/// How the driver paces itself; from the config, shorter in tests.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// How often a source held elsewhere is asked again.
    pub takeover: Duration,
    /// The longest wait before reopening a failed source.
    pub max_backoff: Duration,
}

impl Pace {
    pub fn of(cfg: &Config) -> Pace {
        Pace { takeover: Duration::from_secs(cfg.intake.poll_seconds.max(1)).min(Duration::from_secs(20)), max_backoff: Duration::from_secs(60) }
    }
}

type Reading = tokio::task::JoinHandle<Result<pipeline::Prepared, StoreError>>;

/// One pass: every message the source hands over, read (several at once), recorded in
/// batches, then settled. Returns how many were recorded now. Shutdown stops the reading of
/// new messages; those already read are recorded and settled first.
///
/// A batch is committed on a task of its own while this loop goes on fetching and reading the
/// next one (over IMAP the server sends the next range meanwhile); one batch is in flight at a
/// time, and its messages are settled before the next batch starts committing.
pub async fn pass<S: Source>(src: &mut S, cfg: &Arc<Config>, store: &Store, parser: &Parser, health: &Health, shutdown: &watch::Receiver<bool>) -> Result<usize, S::Error> {
    let cpu = Arc::new(tokio::sync::Semaphore::new(parser.width()));
    let mut reading: VecDeque<(S::Token, String, usize, Option<Reading>)> = VecDeque::new();
    let (mut ahead_bytes, mut batch_bytes) = (0, 0);
    let mut recent = pipeline::Recent::default();
    let mut flight: Option<InFlight<S::Token>> = None;
    let mut batch: Batch<S::Token> = Vec::new();
    let mut first = Instant::now();
    let mut more = true;
    let mut recorded = 0;
    loop {
        while more && (reading.is_empty() || (reading.len() < AHEAD && ahead_bytes < AHEAD_BYTES)) {
            if *shutdown.borrow() {
                more = false;
                break;
            }
            // A source that fails drops what is read and not committed: it is handed over again.
            // The batch in flight is committed first (and settled in a later pass: it is known).
            let next = match src.next(store, health).await {
                Ok(n) => n,
                Err(e) => {
                    if let Some(f) = flight.take() {
                        let _ = f.job.await;
                    }
                    return Err(e);
                }
            };
            match next {
                Some(inc) => {
                    let key = inc.raw.as_ref().map(|r| r.source_key.clone()).unwrap_or_default();
                    let size = inc.raw.as_ref().map_or(0, |r| r.bytes.len());
                    ahead_bytes += size;
                    let job = inc.raw.map(|raw| tokio::spawn(pipeline::prepare(cfg.clone(), store.clone(), parser.clone(), cpu.clone(), raw)));
                    reading.push_back((inc.token, key, size, job));
                }
                None => more = false,
            }
        }
        let Some((token, key, size, job)) = reading.pop_front() else { break };
        ahead_bytes -= size;
        let prepared = match job {
            None => None,
            Some(j) => Some(j.await.unwrap_or_else(|e| Err(StoreError::Interrupted(format!("reading a message stopped: {e}"))))),
        };
        if batch.is_empty() {
            first = Instant::now();
            batch_bytes = 0;
        }
        batch_bytes += size;
        batch.push((token, key, prepared));
        if batch.len() >= BATCH || batch_bytes >= AHEAD_BYTES / 2 || (!more && reading.is_empty()) || first.elapsed() >= BATCH_WAIT {
            recorded += take_turn(src, cfg, store, health, &mut flight, &mut recent, std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        recorded += take_turn(src, cfg, store, health, &mut flight, &mut recent, batch).await?;
    }
    if let Some(f) = flight.take() {
        recorded += finish(src, store, health, f).await.1?;
    }
    Ok(recorded)
}

/// The batch in flight is finished (committed, then settled) and `batch` starts committing in
/// its place. Returns how many the finished batch recorded.
async fn take_turn<S: Source>(
    src: &mut S,
    cfg: &Arc<Config>,
    store: &Store,
    health: &Health,
    flight: &mut Option<InFlight<S::Token>>,
    recent: &mut pipeline::Recent,
    batch: Batch<S::Token>,
) -> Result<usize, S::Error> {
    let mut recorded = 0;
    if let Some(f) = flight.take() {
        let (r, n) = finish(src, store, health, f).await;
        *recent = r;
        recorded = n?;
    }
    *flight = Some(start(cfg, store, std::mem::take(recent), batch));
    Ok(recorded)
}

/// Messages read for one transaction: the token, the source key, and the reading (None: only
/// to settle).
type Batch<T> = Vec<(T, String, Option<Result<pipeline::Prepared, StoreError>>)>;

/// What a batch's commit gives back: the memory of recent messages, and one result per
/// recorded message (or Err: nothing was committed).
type Committed = (pipeline::Recent, Result<Vec<Result<pipeline::Outcome, StoreError>>, StoreError>);

/// A batch being committed: its messages' tokens and how each was read (Ok(true): recorded
/// with the batch; Ok(false): only to settle; Err: not read), and the commit's task.
struct InFlight<T> {
    items: Vec<(T, String, Result<bool, StoreError>)>,
    job: tokio::task::JoinHandle<Committed>,
}

/// Starts recording a batch in one transaction, on a task of its own.
fn start<T>(cfg: &Arc<Config>, store: &Store, mut recent: pipeline::Recent, batch: Batch<T>) -> InFlight<T> {
    let mut ready = Vec::new();
    let mut items = Vec::with_capacity(batch.len());
    for (token, key, p) in batch {
        let slot = match p {
            Some(Ok(p)) => {
                ready.push(p);
                Ok(true)
            }
            Some(Err(e)) => Err(e),
            None => Ok(false),
        };
        items.push((token, key, slot));
    }
    let (cfg, store) = (cfg.clone(), store.clone());
    let job = tokio::spawn(async move {
        let r = pipeline::record_batch(&cfg, &store, &mut recent, ready).await;
        (recent, r)
    });
    InFlight { items, job }
}

/// Waits for a batch's commit, then settles its messages; one that could not be recorded is
/// told to the source (which goes on, or ends the pass).
async fn finish<S: Source>(src: &mut S, store: &Store, health: &Health, f: InFlight<S::Token>) -> (pipeline::Recent, Result<usize, S::Error>) {
    let n = f.items.iter().filter(|i| matches!(i.2, Ok(true))).count();
    let (recent, results) = match f.job.await {
        Ok(done) => done,
        // The commit's task panicked: its transaction was dropped, nothing of it committed.
        Err(e) => (pipeline::Recent::default(), Err(StoreError::Interrupted(format!("recording a batch stopped: {e}")))),
    };
    let results = match results {
        Ok(r) => r,
        // Nothing of the batch was committed: every message in it is handed over again.
        Err(e) => {
            let why = e.to_string();
            let mut all: Vec<Result<pipeline::Outcome, StoreError>> = (0..n).map(|_| Err(StoreError::Interrupted(why.clone()))).collect();
            if let Some(f) = all.first_mut() {
                *f = Err(e);
            }
            all
        }
    };
    (recent, settle(src, store, health, f.items, results).await)
}

/// Settles the messages of a committed batch, in order.
async fn settle<S: Source>(src: &mut S, store: &Store, health: &Health, items: Vec<(S::Token, String, Result<bool, StoreError>)>, results: Vec<Result<pipeline::Outcome, StoreError>>) -> Result<usize, S::Error> {
    let mut results = results.into_iter();
    let mut recorded = 0;
    let mut settle = Vec::new();
    for (token, key, slot) in items {
        let result = match slot {
            Ok(true) => results.next().unwrap_or(Ok(pipeline::Outcome::AlreadyKnown)).map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        };
        match result {
            Ok(Some(o)) => {
                if matches!(o, pipeline::Outcome::Recorded { .. }) {
                    recorded += 1;
                }
                src.recorded(&token, &o);
                settle.push(token);
            }
            Ok(None) => settle.push(token),
            Err(e) => {
                tracing::error!("cannot record {key}: {e}");
                // What was committed before it is settled before the source hears of it.
                src.settle_all(store, std::mem::take(&mut settle)).await?;
                src.unrecorded(token, e)?;
            }
        }
    }
    src.settle_all(store, settle).await?;
    if recorded > 0 {
        // The deliverer sends the acknowledgements now, not after the whole pass: a flood
        // from one address must not hold back the answers to everyone else.
        health.recorded.notify_one();
    }
    Ok(recorded)
}

/// Drives a source until shutdown (or, with `once`, for one pass). Returns the messages recorded.
/// With `once`, a source that cannot be opened or read is an error; otherwise it is reported in
/// `health` and reopened with backoff.
pub async fn drive<S: Source>(
    mut src: S,
    rules: &crate::office::requests::Live,
    store: &Store,
    parser: &Parser,
    health: &Health,
    mut shutdown: watch::Receiver<bool>,
    once: bool,
    pace: Pace,
) -> Result<usize, S::Error> {
    let mut total = 0;
    let mut backoff = Duration::from_secs(1);
    loop {
        if *shutdown.borrow() {
            return Ok(total);
        }
        let result: Result<bool, S::Error> = async {
            // Until the source says another instance holds it, it is this instance's to read.
            health.polling.store(true, Ordering::Relaxed);
            if src.open(store).await? == Opened::HeldElsewhere {
                health.held_elsewhere();
                return Ok(false);
            }
            loop {
                // Each pass reads messages against the rules as they are now (a request
                // confirmed meanwhile is matched from this pass on).
                let cfg = rules.refresh(store).await.unwrap_or_else(|e| {
                    tracing::warn!("cannot read the requests again: {e}");
                    rules.current()
                });
                let n = pass(&mut src, &cfg, store, parser, health, &shutdown).await?;
                total += n;
                health.ok();
                health.messages.fetch_add(n as u64, Ordering::Relaxed);
                backoff = Duration::from_secs(1);
                if n > 0 {
                    health.recorded.notify_one();
                }
                tracing::info!(recorded = n, "intake pass");
                if once || *shutdown.borrow() || !src.wait(&mut shutdown).await? {
                    return Ok(true);
                }
            }
        }
        .await;
        src.close().await;
        let pause = match result {
            Ok(true) => return Ok(total),
            Ok(false) if once => return Ok(total),
            Ok(false) => pace.takeover,
            Err(e) => {
                health.failed(&e.to_string());
                if once {
                    return Err(e);
                }
                tracing::error!("intake: {e}; trying again in {backoff:?}");
                let b = backoff;
                backoff = (backoff * 2).min(pace.max_backoff);
                b
            }
        };
        tokio::select! { _ = tokio::time::sleep(pause) => {}, _ = shutdown.changed() => return Ok(total) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[derive(Debug, thiserror::Error)]
    enum Fault {
        #[error("connection reset")]
        Reset,
        #[error(transparent)]
        Store(#[from] StoreError),
    }

    /// A source playing a script: messages to hand over, the passes on which `open` fails, and
    /// what was settled (in order).
    #[derive(Default)]
    struct Scripted {
        queue: VecDeque<RawMessage>,
        fail_opens: usize,
        opened: usize,
        settled: Vec<String>,
    }

    impl Source for &mut Scripted {
        type Token = String;
        type Error = Fault;
        async fn open(&mut self, _: &Store) -> Result<Opened, Fault> {
            self.opened += 1;
            if self.opened <= self.fail_opens {
                return Err(Fault::Reset);
            }
            Ok(Opened::Ready)
        }
        async fn next(&mut self, _: &Store, _: &Health) -> Result<Option<Incoming<String>>, Fault> {
            Ok(self.queue.pop_front().map(|raw| Incoming { token: raw.source_key.clone(), raw: Some(raw) }))
        }
        async fn settle(&mut self, store: &Store, token: String) -> Result<(), Fault> {
            // The rule this driver keeps whatever runs alongside: settled only once committed.
            assert!(store.sources_known(std::slice::from_ref(&token)).await?.contains(&token), "{token} settled before its batch was committed");
            self.settled.push(token);
            Ok(())
        }
        fn unrecorded(&mut self, _: String, e: StoreError) -> Result<(), Fault> {
            Err(e.into())
        }
        async fn wait(&mut self, _: &mut watch::Receiver<bool>) -> Result<bool, Fault> {
            Ok(false)
        }
        async fn close(&mut self) {}
    }

    fn message(key: &str, n: usize) -> RawMessage {
        let bytes = format!("From: a@x.example\r\nSubject: hello {n}\r\nMessage-ID: <{n}@x>\r\n\r\nbody {n}\r\n").into_bytes();
        RawMessage { source_key: key.into(), arrival: Some(1_600_000_000 + n as i64), path: None, bytes, declared_size: None }
    }

    async fn office() -> (tempfile::TempDir, Config, Store) {
        let dir = tempfile::tempdir().unwrap();
        let text = "[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://t.db\"\n";
        let cfg = Config::from_str_at(text, &dir.path().join("c.toml")).unwrap();
        let store = Store::open(&cfg).await.unwrap();
        (dir, cfg, store)
    }

    fn quick() -> Pace {
        Pace { takeover: Duration::from_millis(1), max_backoff: Duration::from_millis(4) }
    }

    #[tokio::test]
    async fn each_message_is_recorded_once_and_settled_after_its_commit() {
        let (_d, cfg, store) = office().await;
        let parser = Parser::InProcess(cfg.limits.clone());
        let mut src = Scripted { queue: (0..3).map(|i| message(&format!("k{i}"), i)).collect(), ..Default::default() };
        src.queue.push_back(message("k0", 0)); // handed over again (a crash before settling)
        let health = Health::default();
        let (_tx, rx) = watch::channel(false);
        let n = drive(&mut src, &crate::office::requests::Live::new(cfg.clone()), &store, &parser, &health, rx, true, quick()).await.unwrap();
        assert_eq!(n, 3, "the repeated source key is recorded once");
        assert_eq!(src.settled, vec!["k0", "k1", "k2", "k0"], "every message is settled, the repeat too");
        assert_eq!(store.count_messages().await.unwrap(), 3);
        assert!(health.last_error.lock().unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn over_several_batches_each_message_is_settled_once_in_order_and_only_after_its_commit() {
        let (_d, cfg, store) = office().await;
        let parser = Parser::InProcess(cfg.limits.clone());
        let n = BATCH * 3 + 5;
        let mut src = Scripted { queue: (0..n).map(|i| message(&format!("k{i:04}"), i)).collect(), ..Default::default() };
        let health = Health::default();
        let (_tx, rx) = watch::channel(false);
        let got = drive(&mut src, &crate::office::requests::Live::new(cfg.clone()), &store, &parser, &health, rx, true, quick()).await.unwrap();
        assert_eq!(got, n);
        let want: Vec<String> = (0..n).map(|i| format!("k{i:04}")).collect();
        assert_eq!(src.settled, want, "every message settled once, in the order handed over");
        assert_eq!(store.count_messages().await.unwrap() as usize, n);
    }

    #[tokio::test]
    async fn a_source_that_fails_to_open_is_reopened_with_backoff_and_then_read() {
        let (_d, cfg, store) = office().await;
        let parser = Parser::InProcess(cfg.limits.clone());
        let mut src = Scripted { queue: (0..2).map(|i| message(&format!("k{i}"), i)).collect(), fail_opens: 2, ..Default::default() };
        let health = Health::default();
        let (_tx, rx) = watch::channel(false);
        let n = drive(&mut src, &crate::office::requests::Live::new(cfg.clone()), &store, &parser, &health, rx, false, quick()).await.unwrap();
        assert_eq!((n, src.opened), (2, 3), "two failed opens, then one that reads both");
    }

    #[tokio::test]
    async fn with_once_a_source_that_cannot_be_opened_is_an_error_named_in_health() {
        let (_d, cfg, store) = office().await;
        let parser = Parser::InProcess(cfg.limits.clone());
        let mut src = Scripted { fail_opens: 1, ..Default::default() };
        let health = Health::default();
        let (_tx, rx) = watch::channel(false);
        let e = drive(&mut src, &crate::office::requests::Live::new(cfg.clone()), &store, &parser, &health, rx, true, quick()).await.unwrap_err();
        assert_eq!(e.to_string(), "connection reset");
        assert_eq!(health.last_error.lock().unwrap().as_deref(), Some("connection reset"));
    }
}
