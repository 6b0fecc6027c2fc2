//! `baocao run`: the service. Intake (Maildir polling or IMAP with IDLE), the cron schedules of
//! `[schedule]` in the office time zone, outbox delivery and the optional HTTP listener run as
//! tasks under one shutdown signal; SIGINT/SIGTERM let the current message finish, then exit.
//! `--once` runs one pass of each, in order, and returns.
//!
//! Several instances may share one PostgreSQL database: intake holds a per-mailbox advisory
//! lock (one instance polls), and everything else is safe to run everywhere because every
//! effect is keyed (reminder stages, digest weeks, status days, outbox claims with SKIP LOCKED).

use crate::health::Shared;
use crate::config::{Config, Source};
use crate::domain::Job;
use crate::intake::imap::ImapSource;
use crate::intake::source::{drive, Health, Pace};
use crate::intake::MaildirSource;
use crate::parse::worker::Parser;
use crate::store::Store;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;


/// The scheduled jobs the config times, each with its schedule.
fn jobs(cfg: &Config) -> Vec<(Job, &cron::Schedule)> {
    let s = &cfg.schedule;
    Job::ALL
        .into_iter()
        .filter_map(|job| {
            let sched = match job {
                Job::Reminders => &s.reminders,
                Job::ReviewNotice => &s.review_notice,
                Job::Digest => &s.digest,
                Job::OfficeStatus => &s.office_status,
            };
            sched.as_ref().map(|sc| (job, sc))
        })
        .collect()
}

async fn run_job(cfg: &Config, store: &Store, job: Job, now: i64) -> anyhow::Result<()> {
    match job {
        Job::Reminders => {
            let n = crate::office::reminders::remind(cfg, store, now, false).await?.len();
            tracing::info!(stages = n, "reminders decided");
        }
        Job::ReviewNotice => match crate::office::review_notice(cfg, store, now, false).await? {
            Some(c) => tracing::info!(key = %c.key, queued = c.queued, "review notice"),
            None => tracing::info!("review notice: nothing waits, or a day off"),
        },
        Job::Digest => {
            let c = crate::office::digest(cfg, store, now, false).await?;
            tracing::info!(key = %c.key, queued = c.queued, "digest");
        }
        Job::OfficeStatus => {
            let c = crate::office::office_status(cfg, store, now, false).await?;
            tracing::info!(key = %c.key, queued = c.queued, "office status");
        }
    }
    Ok(())
}

/// Runs every job whose next fire time after its last run has come. A job never run before
/// starts counting from now, so a new install does not fire old schedules; a daemon that was
/// down over a fire time runs the job once when it comes back.
pub async fn scheduled_pass(cfg: &Config, store: &Store, now: i64) -> anyhow::Result<usize> {
    let mut ran = 0;
    for (job, sched) in jobs(cfg) {
        let last = match store.last_run(job).await? {
            Some(t) => t,
            None => {
                store.set_last_run(job, now).await?;
                now
            }
        };
        let from = chrono::DateTime::from_timestamp(last, 0).unwrap_or_default().with_timezone(&cfg.office.timezone);
        let due = sched.after(&from).next().is_some_and(|n| n.timestamp() <= now);
        if due {
            if let Err(e) = run_job(cfg, store, job, now).await {
                // One failing job (an empty recipient list, a database hiccup) never stops the
                // others or the daemon; it is tried again at its next time.
                tracing::error!("scheduled {job}: {e:#}");
            }
            store.set_last_run(job, now).await?;
            ran += 1;
        }
    }
    Ok(ran)
}

/// A shutdown signal fired by SIGINT or SIGTERM: what `baocao run` passes to [`run`].
pub fn signal_shutdown() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { if let Some(t) = term.as_mut() { t.recv().await; } else { std::future::pending::<()>().await } } => {}
        }
        tracing::info!("shutting down after the current message");
        let _ = tx.send(true);
    });
    rx
}

/// Intake from the configured source through the one source loop.
async fn intake_loop(cfg: Arc<Config>, store: Store, parser: Arc<Parser>, shared: Arc<Shared>, shutdown: watch::Receiver<bool>, once: bool) -> anyhow::Result<usize> {
    let pace = Pace::of(&cfg);
    let health = &shared.health;
    Ok(match &cfg.intake.source {
        Source::Maildir(dir) => drive(MaildirSource::new(&cfg, dir), &shared.rules, &store, &parser, health, shutdown, once, pace).await?,
        Source::Imap { .. } => drive(ImapSource::new(&cfg)?, &shared.rules, &store, &parser, health, shutdown, once, pace).await?,
    })
}

/// What one pass (`run --once`) did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OnePass {
    pub messages: usize,
    pub jobs: usize,
    pub sent: usize,
    pub failed: usize,
    /// IMAP message bodies fetched (None for a Maildir).
    pub fetched: Option<u64>,
}

impl std::fmt::Display for OnePass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "one pass: {} new message(s), {} scheduled job(s), {} mail(s) sent, {} failed", self.messages, self.jobs, self.sent, self.failed)?;
        if let Some(n) = self.fetched {
            write!(f, ", {n} message bodies fetched")?;
        }
        Ok(())
    }
}

/// The daemon. Returns when `shutdown` turns true (each task finishes its current message
/// first), or after one pass of each task with `once`.
pub async fn run(cfg: Config, store: Store, parser: Parser, once: bool, shutdown: watch::Receiver<bool>) -> anyhow::Result<Option<OnePass>> {
    crate::office::directory::seed(&cfg, &store, false, "baocao").await?;
    let rules = Arc::new(crate::office::requests::Live::new(cfg));
    let cfg = rules.refresh(&store).await?;
    let parser = Arc::new(parser);
    let shared = Arc::new(Shared { health: Arc::new(Health::default()), rules, parser: parser.clone() });
    let source = match &cfg.intake.source {
        Source::Maildir(d) => format!("Maildir {}", d.display()),
        Source::Imap { host, port, mailbox, user, .. } => format!("IMAP {user}@{host}:{port}/{mailbox}"),
    };
    tracing::info!(office = %cfg.office.address, database = %cfg.database, intake = %source, once, "baocao run");

    if once {
        let n = intake_loop(cfg.clone(), store.clone(), parser.clone(), shared.clone(), shutdown.clone(), true).await?;
        let now = chrono::Utc::now().timestamp();
        // Only the jobs that are due run: a one-off pass is not a reason to send a digest.
        let jobs = scheduled_pass(&cfg, &store, now).await?;
        let (sent, failed) = crate::notify::deliver(&cfg, &store).await?;
        let fetched = match cfg.intake.source {
            Source::Imap { .. } => Some(shared.health.fetched.load(Ordering::Relaxed)),
            Source::Maildir(_) => None,
        };
        return Ok(Some(OnePass { messages: n, jobs, sent, failed, fetched }));
    }

    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = cfg.http.clone() {
        let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        tracing::info!("HTTP on {addr}");
        if !addr.starts_with("127.") && !addr.starts_with("[::1]") && !addr.starts_with("localhost") {
            tracing::warn!("[http] listen = {addr} is not loopback: put the office's HTTPS reverse proxy in front of it (deploy/RUNBOOK.md)");
        }
        tasks.spawn(crate::web::serve(listener, crate::web::App::new(cfg.clone(), store.clone(), shared.clone()), shutdown.clone()));
    }
    {
        let (cfg, store, parser, shared, shutdown) = (cfg.clone(), store.clone(), parser.clone(), shared.clone(), shutdown.clone());
        tasks.spawn(async move { intake_loop(cfg, store, parser, shared, shutdown, false).await.map(|_| ()) });
    }
    {
        let (cfg, store, shared, mut shutdown) = (cfg.clone(), store.clone(), shared.clone(), shutdown.clone());
        tasks.spawn(async move {
            loop {
                let now = chrono::Utc::now().timestamp();
                // A request confirmed since the last turn is owed, reminded and digested from now.
                let cfg = shared.rules.refresh(&store).await.unwrap_or_else(|e| {
                    tracing::warn!("cannot read the requests again: {e}");
                    cfg.clone()
                });
                if let Err(e) = scheduled_pass(&cfg, &store, now).await {
                    tracing::error!("schedules: {e:#}");
                }
                match crate::notify::deliver(&cfg, &store).await {
                    Ok((sent, failed)) if sent + failed > 0 => tracing::info!(sent, failed, "delivery"),
                    Ok(_) => {}
                    Err(e) => tracing::error!("delivery: {e}"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    _ = shared.health.recorded.notified() => {}
                    _ = shutdown.changed() => {}
                }
                if *shutdown.borrow() {
                    return Ok(());
                }
            }
        });
    }
    let mut first_err = None;
    while let Some(r) = tasks.join_next().await {
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!("{e:#}");
                first_err.get_or_insert(e);
            }
            Err(e) => {
                first_err.get_or_insert(anyhow::anyhow!("a task failed: {e}"));
            }
        }
        if *shutdown.borrow() {
            continue;
        }
        if first_err.is_some() {
            break;
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scheduled_job_runs_only_when_its_time_has_come_and_a_new_install_starts_counting_now() {
        let dir = tempfile::tempdir().unwrap();
        let text = "[office]\nname = \"VP\"\naddress = \"vp@so.example\"\nleadership = [\"gd@so.example\"]\n[database]\nurl = \"sqlite://t.db\"\n\
                    [outbound]\ntransport = \"file:outbox\"\n[schedule]\ndigest = \"0 30 7 * * Mon\"\n";
        let cfg = Config::from_str_at(text, &dir.path().join("c.toml")).unwrap();
        let store = Store::open(&cfg).await.unwrap();
        // Wednesday 2021-04-14 10:00 in Vietnam.
        let wed = chrono::DateTime::parse_from_rfc3339("2021-04-14T10:00:00+07:00").unwrap().timestamp();
        assert_eq!(scheduled_pass(&cfg, &store, wed).await.unwrap(), 0, "a first start sends no digest");
        assert_eq!(scheduled_pass(&cfg, &store, wed + 3600).await.unwrap(), 0, "not Monday yet");
        let mon = chrono::DateTime::parse_from_rfc3339("2021-04-19T07:31:00+07:00").unwrap().timestamp();
        assert_eq!(scheduled_pass(&cfg, &store, mon).await.unwrap(), 1, "Monday 07:30 has come");
        assert_eq!(scheduled_pass(&cfg, &store, mon + 60).await.unwrap(), 0, "once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_daemon_records_what_arrives_and_stops_when_its_shutdown_signal_turns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("inbox/new")).unwrap();
        let text = "[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://var/t.db\"\n\
                    [intake]\nsource = \"maildir:inbox\"\npoll_seconds = 1\n[outbound]\ntransport = \"file:var/outbox\"\nfrom = \"VP <vp@so.example>\"\n";
        let cfg = Config::from_str_at(text, &dir.path().join("c.toml")).unwrap();
        let store = Store::open(&cfg).await.unwrap();
        let parser = Parser::InProcess(cfg.limits.clone());
        let (stop, shutdown) = watch::channel(false);
        let daemon = tokio::spawn(run(cfg, store.clone(), parser, false, shutdown));
        let msg = "From: a@x.example\r\nSubject: hello\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n";
        std::fs::write(dir.path().join("inbox/new/1600000000.M1P1.t"), msg).unwrap();
        let mut waited = 0;
        while store.count_messages().await.unwrap() == 0 {
            assert!(waited < 100, "the daemon did not record the message within 10 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
            waited += 1;
        }
        stop.send(true).unwrap();
        let r = tokio::time::timeout(Duration::from_secs(10), daemon).await.expect("the daemon stops when told");
        assert!(r.unwrap().is_ok());
        assert!(dir.path().join("inbox/cur/1600000000.M1P1.t:2,S").exists(), "the message is marked seen after its commit");
    }
}
