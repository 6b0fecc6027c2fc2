//! The command line of SPEC §11. Every command reuses the stage functions the daemon uses;
//! nothing here decides anything on its own.

use crate::config::{Config, Source};
use crate::domain::{ObligationState, Period};
use crate::intake::{self, pipeline};
use crate::office;
use crate::parse::worker::{Parser, WorkerPool};
use crate::schedule;
use crate::store::{Store, Submission};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser as ClapParser, Subcommand};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(ClapParser, Debug)]
#[command(name = "baocao", version, about = "Reads the office mailbox, understands the reports units send, tracks deadlines and chases late units.")]
pub struct Cli {
    /// The config file (SPEC §3).
    #[arg(long, global = true, env = "BAOCAO_CONFIG", default_value = "config.toml")]
    pub config: PathBuf,
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text")]
    pub log_format: String,
    /// Who is acting, for the audit trail of manual actions (default: the OS user).
    #[arg(long, global = true)]
    pub by: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// The daemon: intake, scheduled reminders, outbox delivery.
    Run {
        #[arg(long)]
        once: bool,
    },
    /// Ingest .eml files and Maildir folders (backfill).
    Ingest {
        paths: Vec<PathBuf>,
        /// Record and queue the acknowledgements, but leave delivery to `deliver` or the daemon.
        #[arg(long)]
        no_deliver: bool,
    },
    /// Obligations and their state.
    Status {
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Every submission with its decision and extracted fields.
    Submissions {
        #[arg(long)]
        json: bool,
    },
    /// Queue and send the reminders due at T.
    Remind {
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Build (and send) the digest for the week ending at T.
    Digest {
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Deliver queued outbox mail now (the daemon does this on every pass).
    Deliver,
    /// Queue (and send) the office status mail: the compiled workbook to office.staff.
    OfficeStatus {
        #[arg(long)]
        as_of: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// The compiled status workbook.
    Export {
        file: PathBuf,
        #[arg(long)]
        as_of: Option<String>,
    },
    /// The review queue.
    Review {
        #[command(subcommand)]
        action: ReviewCmd,
    },
    /// Mark an obligation exempt (or, with --withdraw, no longer exempt).
    Exempt {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        report: String,
        /// The period: 2021-Q2, 2021-H1, 2021, 2021-03.
        #[arg(long)]
        period: String,
        /// Why the unit does not owe this report (required unless --withdraw).
        #[arg(long, required_unless_present = "withdraw")]
        reason: Option<String>,
        /// Withdraw the exemption instead.
        #[arg(long)]
        withdraw: bool,
    },
    /// Re-run parsing and matching from the stored raw messages.
    Reprocess { ids: Vec<i64> },
    /// The audit trail.
    Audit {
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<AuditCmd>,
    },
    /// Validate the config (and with --connect reach the database, IMAP and SMTP).
    CheckConfig {
        #[arg(long)]
        connect: bool,
    },
    /// Read attachments or whole messages and print what was understood (no database needed).
    Parse {
        files: Vec<PathBuf>,
        /// Read each file this many times (for benchmarks); prints only a summary when > 1.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// The files are whole messages (.eml), not attachments.
        #[arg(long)]
        messages: bool,
    },
    /// Internal: a document parse worker fed over stdin/stdout.
    #[command(hide = true)]
    ParseWorker {
        #[arg(long, default_value = "{}")]
        limits: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// The messages waiting for a person, with the best guess and why.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Accept the best guess of a waiting message.
    Accept {
        id: i64,
        /// Tell the unit of the decision, in its message's thread.
        #[arg(long)]
        tell: bool,
    },
    /// Accept a message for an obligation that exists: the unit owes that report for that period.
    Assign {
        id: i64,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        report: String,
        /// The period: 2021-Q2, 2021-H1, 2021, 2021-03.
        #[arg(long)]
        period: String,
        /// Tell the unit of the decision, in its message's thread.
        #[arg(long)]
        tell: bool,
    },
    /// Reject a message with a reason.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
        /// Tell the unit of the decision, in its message's thread.
        #[arg(long)]
        tell: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    Verify,
}

/// Exit codes: 0 done; 1 something the operator must fix (config, database, unreadable input,
/// broken audit chain); 2 bad usage.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    if let Cmd::ParseWorker { limits } = &cli.cmd {
        return match crate::parse::worker::serve(limits) {
            Ok(()) => 0,
            Err(_) => 1,
        };
    }
    init_logging(&cli.log_format);
    if let Cmd::Parse { files, repeat, messages } = &cli.cmd {
        return match parse_files(files, *repeat, *messages) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("baocao: {e:#}");
                1
            }
        };
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("baocao: cannot start the runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("baocao: {}", chain.join(": "));
            1
        }
    }
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BAOCAO_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        let _ = b.json().try_init();
    } else {
        let _ = b.with_ansi(std::io::stderr().is_terminal()).try_init();
    }
}

fn operator(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The parser the commands use: worker processes when this is the `baocao` binary.
pub fn make_parser(cfg: &Config) -> Parser {
    if std::env::var_os("BAOCAO_IN_PROCESS_PARSE").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            if exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("baocao")) {
                return Parser::Pool(WorkerPool::new(exe, cfg.limits.clone()));
            }
        }
    }
    Parser::InProcess(cfg.limits.clone())
}

fn as_of(cfg: &Config, s: &Option<String>) -> Result<i64> {
    match s {
        None => Ok(chrono::Utc::now().timestamp()),
        Some(s) => schedule::parse_as_of(s, cfg.office.timezone)
            .ok_or_else(|| anyhow!("--as-of `{s}` is not a date (YYYY-MM-DD) or an RFC 3339 instant")),
    }
}

async fn dispatch(cli: Cli) -> Result<i32> {
    let cfg = Config::load(&cli.config)?;
    if let Cmd::CheckConfig { connect } = &cli.cmd {
        return check_config(&cfg, *connect).await;
    }
    let store = Store::open(&cfg).await.context("cannot open the database")?;
    let by = operator(&cli.by);
    match cli.cmd {
        Cmd::Ingest { paths, no_deliver } => ingest(&cfg, &store, &paths, !no_deliver).await,
        Cmd::Submissions { json } => {
            let rows = store.messages().await?;
            if json {
                let v: Vec<Value> = rows.iter().map(|r| submission_json(&cfg, r)).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_submissions(&cfg, &rows);
            }
            Ok(0)
        }
        Cmd::Status { as_of: t, json } => {
            let t = as_of(&cfg, &t)?;
            status(&cfg, &store, t, json).await
        }
        Cmd::Remind { as_of: t, dry_run } => {
            let t = as_of(&cfg, &t)?;
            let stages = crate::notify::remind(&cfg, &store, t, dry_run).await?;
            for s in &stages {
                println!("{}{}", if dry_run { "would remind " } else { "reminded " }, s.key());
            }
            if !dry_run {
                let (sent, failed) = crate::notify::deliver(&cfg, &store).await?;
                println!("{} reminder stage(s); {sent} mail(s) delivered, {failed} failed", stages.len());
            }
            Ok(0)
        }
        Cmd::Digest { as_of: t, dry_run } => {
            let t = as_of(&cfg, &t)?;
            let c = crate::notify::digest(&cfg, &store, t, dry_run).await?;
            print_compiled(&cfg, &store, "digest", &c, dry_run).await
        }
        Cmd::Deliver => {
            let (sent, failed) = crate::notify::deliver(&cfg, &store).await?;
            println!("{sent} mail(s) delivered, {failed} failed, {} still queued", store.outbox_depth().await?);
            Ok(if failed > 0 { 1 } else { 0 })
        }
        Cmd::OfficeStatus { as_of: t, dry_run } => {
            let t = as_of(&cfg, &t)?;
            let c = crate::notify::office_status(&cfg, &store, t, dry_run).await?;
            print_compiled(&cfg, &store, "office status", &c, dry_run).await
        }
        Cmd::Export { file, as_of: t } => {
            let t = as_of(&cfg, &t)?;
            let snap = crate::compile::Snapshot::gather(&cfg, &store, t).await?;
            let bytes = crate::compile::workbook::build(&cfg, &snap).context("cannot build the workbook")?;
            let tmp = file.with_extension("xlsx.tmp");
            std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
            std::fs::rename(&tmp, &file).with_context(|| format!("cannot write {}", file.display()))?;
            println!(
                "wrote {} ({} bytes; sheets: {})",
                file.display(),
                bytes.len(),
                crate::compile::workbook::sheet_names(&cfg).join(", ")
            );
            Ok(0)
        }
        Cmd::Review { action } => review(&cfg, &store, action, &by).await,
        Cmd::Exempt { unit, report, period, reason, withdraw } => {
            let p: Period = period.parse()?;
            if withdraw {
                let had = office::withdraw_exemption(&cfg, &store, &unit, &report, p, &by).await?;
                println!("{unit} {report} {p}: {}", if had { "exemption withdrawn" } else { "was not exempt" });
            } else {
                let reason = reason.unwrap_or_default();
                office::exempt(&cfg, &store, &unit, &report, p, &reason, &by).await?;
                println!("{unit} {report} {p}: exempt ({reason})");
            }
            Ok(0)
        }
        Cmd::Reprocess { ids } => reprocess(&cfg, &store, &ids, &by).await,
        Cmd::Audit { json, action } => audit(&store, json, action).await,
        Cmd::Run { once } => run(&cfg, &store, once).await,
        Cmd::CheckConfig { .. } | Cmd::ParseWorker { .. } | Cmd::Parse { .. } => unreachable!(),
    }
}

/// What `digest` and `office-status` print: the mail itself on a dry run, else what was queued
/// and delivered.
async fn print_compiled(cfg: &Config, store: &Store, what: &str, c: &crate::notify::Compiled, dry_run: bool) -> Result<i32> {
    if dry_run {
        println!("Subject: {}\nAttachment: {} ({} bytes)\n\n{}", c.subject, c.attachment.0, c.attachment.1.len(), c.text);
        return Ok(0);
    }
    let (sent, failed) = crate::notify::deliver(cfg, store).await?;
    let queued = if c.queued { "queued" } else { "already queued before, not sent again" };
    println!("{what} {}: {queued}; {sent} mail(s) delivered, {failed} failed", c.key);
    Ok(0)
}

/// `baocao parse`: the parse stage alone, in this process, on files.
fn parse_files(files: &[PathBuf], repeat: usize, messages: bool) -> Result<()> {
    let limits = crate::config::Limits::default();
    let mut bytes_total = 0usize;
    let t0 = std::time::Instant::now();
    let mut last: Vec<Value> = Vec::new();
    for _ in 0..repeat.max(1) {
        last.clear();
        for f in files {
            let data = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
            bytes_total += data.len();
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if messages {
                let facts = crate::parse::mime::parse(&data);
                let mut docs = Vec::new();
                for a in &facts.attachments {
                    docs.extend(crate::parse::read_attachment(&a.filename, &a.data, &limits));
                }
                last.push(json!({"file": name, "subject": facts.subject, "from": facts.from, "documents": docs}));
            } else {
                last.push(json!({"file": name, "documents": crate::parse::read_attachment(&name, &data, &limits)}));
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if repeat > 1 {
        println!("{}", json!({"files": files.len(), "repeat": repeat, "bytes": bytes_total, "seconds": secs, "mb_per_s": bytes_total as f64 / 1e6 / secs.max(1e-9)}));
    } else {
        println!("{}", serde_json::to_string_pretty(&last)?);
    }
    Ok(())
}

async fn check_config(cfg: &Config, connect: bool) -> Result<i32> {
    println!(
        "config {} is valid: {} units, {} report kinds, office {}",
        cfg.path.display(),
        cfg.units.len(),
        cfg.reports.len(),
        cfg.office.address
    );
    let faults = crate::notify::templates::check(cfg);
    for f in &faults {
        println!("template FAILED: {f}");
    }
    if !connect {
        return Ok(if faults.is_empty() { 0 } else { 1 });
    }
    let mut bad = faults.len();
    for (what, probe) in [("database", probe_database(cfg).await), ("intake", probe_intake(cfg).await), ("outbound", probe_outbound(cfg).await)] {
        match probe {
            Ok(said) => println!("{what}: {said}"),
            Err(why) => {
                println!("{what}: FAILED: {why}");
                bad += 1;
            }
        }
    }
    Ok(if bad > 0 { 1 } else { 0 })
}


async fn probe_database(cfg: &Config) -> std::result::Result<String, String> {
    let store = Store::open(cfg).await.map_err(|e| e.to_string())?;
    store.ping().await.map_err(|e| e.to_string())?;
    Ok("reachable".into())
}

async fn probe_intake(cfg: &Config) -> std::result::Result<String, String> {
    use crate::intake::imap::{self, ImapError};
    match &cfg.intake.source {
        Source::Maildir(p) if intake::is_maildir(p) => Ok(format!("Maildir {} is readable", p.display())),
        Source::Maildir(p) => Err(format!("{} is not a Maildir (no new/ or cur/)", p.display())),
        Source::Imap { host, port, mailbox, .. } => {
            let acc = imap::Account::of(cfg).ok_or("no IMAP account")?;
            let result = async {
                let mut s = imap::connect(&acc).await?;
                let st = s.status(mailbox, "(MESSAGES UIDVALIDITY)").await.map_err(|e| ImapError::Protocol(format!("STATUS {mailbox}: {e}")))?;
                let _ = s.logout().await;
                Ok::<_, ImapError>(st.exists)
            };
            match tokio::time::timeout(std::time::Duration::from_secs(60), result).await {
                Ok(Ok(n)) => Ok(format!("IMAP {host}:{port} accepts the login; {mailbox} holds {n} message(s)")),
                Ok(Err(e)) => Err(format!("IMAP {host}:{port}: {e}")),
                Err(_) => Err(format!("IMAP {host}:{port}: no answer within 60 s")),
            }
        }
    }
}

async fn probe_outbound(cfg: &Config) -> std::result::Result<String, String> {
    match &cfg.outbound.transport {
        crate::config::Transport::File(d) => Ok(format!("file outbox {}", d.display())),
        crate::config::Transport::Smtp { host, port, .. } => {
            let ep = crate::notify::smtp_endpoint(cfg).ok_or("no SMTP endpoint")?;
            let login = if ep.credentials.is_some() { " and accepts the login" } else { "" };
            let s = crate::notify::smtp::Session::open(&ep).await.map_err(|e| format!("SMTP server {host}:{port}: {e}"))?;
            s.quit().await;
            Ok(format!("SMTP server {host}:{port} answers{login}"))
        }
    }
}

/// Ingests paths; returns exit 1 when some file could not be read (the operator must look).
pub async fn ingest(cfg: &Config, store: &Store, paths: &[PathBuf], deliver: bool) -> Result<i32> {
    if paths.is_empty() {
        bail!("ingest needs at least one Maildir folder or .eml file");
    }
    record_config_load(cfg, store).await?;
    let entries = intake::expand_paths(paths)?;
    let parser = make_parser(cfg);
    let bar = if std::io::stdout().is_terminal() {
        let b = indicatif::ProgressBar::new(entries.len() as u64);
        b.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
        Some(b)
    } else {
        None
    };
    let mut counts: std::collections::BTreeMap<&'static str, usize> = Default::default();
    let mut known = 0;
    let mut unreadable = Vec::new();
    for e in &entries {
        match intake::read_entry(e) {
            Ok(raw) => match pipeline::process(cfg, store, &parser, &raw).await? {
                pipeline::Outcome::Recorded { decision, .. } => *counts.entry(decision.as_str()).or_default() += 1,
                pipeline::Outcome::AlreadyKnown => known += 1,
            },
            Err(err) => {
                tracing::warn!("{err}");
                unreadable.push(err.to_string());
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Parser::Pool(p) = &parser {
        tracing::info!(peak_rss_kb = p.peak_rss_kb(), "parse workers");
    }
    let (sent, failed) = if deliver { crate::notify::deliver(cfg, store).await.unwrap_or((0, 0)) } else { (0, 0) };
    let added: usize = counts.values().sum();
    let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "ingested {added} new message(s){}; {known} already known; {} unreadable; {sent} mail(s) sent{}",
        if detail.is_empty() { String::new() } else { format!(" ({})", detail.join(", ")) },
        unreadable.len(),
        if failed > 0 { format!(", {failed} failed") } else { String::new() }
    );
    for u in &unreadable {
        eprintln!("baocao: {u}");
    }
    Ok(if unreadable.is_empty() { 0 } else { 1 })
}

async fn record_config_load(cfg: &Config, store: &Store) -> Result<()> {
    let text = std::fs::read(&cfg.path).unwrap_or_default();
    let hash = crate::parse::sha256_hex(&text);
    let last = store.last_event_data("config_loaded").await?;
    if last.as_deref().is_some_and(|d| d.contains(&hash)) {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    tx.audit(
        "config_loaded",
        "baocao",
        &cfg.path.display().to_string(),
        &json!({"sha256": hash, "units": cfg.units.len(), "reports": cfg.reports.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One submission in the shape of SPEC §11.1.
pub fn submission_json(cfg: &Config, r: &Submission) -> Value {
    let docs: Vec<Value> = r
        .documents
        .iter()
        .map(|d| {
            json!({
                "filename": d.filename, "format": d.format, "parse": d.parse, "error": d.error,
                "container": d.container,
                "issuer": d.header.issuer, "number": d.header.number, "date": d.header.date, "place": d.header.place,
                "doc_type": d.header.doc_type, "summary": d.header.summary, "signer": d.header.signer,
                "score": d.score.as_ref().map(|s| json!({"max_total": s.max_total, "self_total": s.self_total, "rows": s.rows, "findings": s.findings})),
                "commitments": d.commitments.as_ref().map(|c| json!({"count": c.count, "items": c.items, "evaluated": c.evaluated, "tasks": c.tasks})),
                "tasks": d.tasks.as_ref().map(|t| json!({"count": t.count, "items": t.items})),
            })
        })
        .collect();
    json!({
        "id": r.id.to_string(),
        "message_id": r.message_id,
        "received_at": schedule::fmt_instant(cfg.office.timezone, r.received_at),
        "from": r.from_addr,
        "subject": r.subject,
        "decision": r.decision,
        "reasons": r.reasons,
        "unit": r.unit, "report": r.report, "period": r.period,
        "due": r.due.map(|d| d.format("%Y-%m-%d").to_string()),
        "timeliness": r.timeliness,
        "version": r.version,
        "findings": r.findings,
        "evidence": r.evidence,
        "duplicate_of": r.duplicate_of.map(|d| d.to_string()),
        "manual_by": r.manual_by,
        "also": [],
        "documents": docs,
    })
}

fn print_submissions(cfg: &Config, rows: &[Submission]) {
    println!("{:>4}  {:<25}  {:<14}  {:<8}  {:<14}  {:<8}  {:<8}  {}", "id", "received", "decision", "unit", "report", "period", "timely", "subject");
    for r in rows {
        println!(
            "{:>4}  {:<25}  {:<14}  {:<8}  {:<14}  {:<8}  {:<8}  {}",
            r.id,
            schedule::fmt_instant(cfg.office.timezone, r.received_at),
            r.decision.as_str(),
            r.unit.as_ref().map(|u| u.as_str()).unwrap_or("-"),
            r.report.as_ref().map(|u| u.as_str()).unwrap_or("-"),
            r.period.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            r.timeliness.map(|t| t.as_str()).unwrap_or("-"),
            r.subject.as_deref().unwrap_or("")
        );
    }
}

async fn status(cfg: &Config, store: &Store, t: i64, as_json: bool) -> Result<i32> {
    let mut states = schedule::status::states_as_of(cfg, store, t).await?;
    states.sort_by(|a, b| (a.0.report.as_str(), a.0.period, a.0.unit.as_str()).cmp(&(b.0.report.as_str(), b.0.period, b.0.unit.as_str())));
    if as_json {
        let v: Vec<Value> = states
            .iter()
            .map(|(o, f, s)| {
                json!({
                    "unit": o.unit, "report": o.report, "period": o.period.to_string(),
                    "due": o.due_date.format("%Y-%m-%d").to_string(), "state": s.as_str(),
                    "submitted_at": f.first_accepted_at.map(|a| schedule::fmt_instant(cfg.office.timezone, a)),
                    "version": f.latest_version, "reminders_sent": f.reminders_sent,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(0);
    }
    println!("Status as of {}", schedule::fmt_instant(cfg.office.timezone, t));
    let mut last = (String::new(), String::new());
    for (o, f, s) in &states {
        let group = (o.report.to_string(), o.period.to_string());
        if group != last {
            let name = cfg.report(o.report.as_str()).map(|r| r.name.as_str()).unwrap_or("");
            println!("\n{} {} — {} (hạn {})", o.report, o.period, name, o.due_date.format("%d/%m/%Y"));
            last = group;
        }
        let when = f.first_accepted_at.map(|a| schedule::fmt_instant(cfg.office.timezone, a)).unwrap_or_default();
        let v = f.latest_version.map(|v| format!("v{v}")).unwrap_or_default();
        let mark = match s {
            ObligationState::SubmittedOnTime => "✓",
            ObligationState::SubmittedLate => "!",
            ObligationState::Overdue => "✗",
            _ => " ",
        };
        println!("  {mark} {:<10} {:<18} {} {}", o.unit, s.as_str(), when, v);
    }
    Ok(0)
}

async fn review(cfg: &Config, store: &Store, action: ReviewCmd, by: &str) -> Result<i32> {
    let done = match action {
        ReviewCmd::List { json: as_json } => {
            let rows = store.waiting_review().await?;
            if as_json {
                let v: Vec<Value> = rows.iter().map(|r| submission_json(cfg, r)).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else if rows.is_empty() {
                println!("the review queue is empty");
            } else {
                for r in &rows {
                    let guess = |x: Option<String>| x.unwrap_or_else(|| "?".into());
                    println!(
                        "#{} {} from {} — {}\n   best guess: unit {} report {} period {}\n   why: {}",
                        r.id,
                        schedule::fmt_instant(cfg.office.timezone, r.received_at),
                        r.from_addr.as_deref().unwrap_or("?"),
                        r.subject.as_deref().unwrap_or(""),
                        guess(r.unit.as_ref().map(|u| u.to_string())),
                        guess(r.report.as_ref().map(|u| u.to_string())),
                        guess(r.period.map(|p| p.to_string())),
                        r.reasons.join("; ")
                    );
                }
            }
            return Ok(0);
        }
        ReviewCmd::Accept { id, tell } => office::accept(cfg, store, id, by, tell).await?,
        ReviewCmd::Assign { id, unit, report, period, tell } => {
            let p: Period = period.parse()?;
            office::assign(cfg, store, id, &unit, &report, p, by, tell).await?
        }
        ReviewCmd::Reject { id, reason, tell } => office::reject(cfg, store, id, &reason, by, tell).await?,
    };
    let s = &done.submission;
    match s.obligation() {
        Some(k) if s.decision == crate::domain::Decision::Accepted => println!(
            "#{}: accepted as {} {} {} ({}, version {})",
            s.id,
            k.unit,
            k.report,
            k.period,
            s.timeliness.map(|t| t.as_str()).unwrap_or(""),
            s.version.unwrap_or(1)
        ),
        _ => println!("#{}: {} ({})", s.id, s.decision.as_str(), s.reasons.join("; ")),
    }
    if let Some(k) = &done.told {
        let (sent, _) = crate::notify::deliver(cfg, store).await?;
        println!("the unit is told ({k}; {sent} mail(s) delivered)");
    }
    for w in &done.warnings {
        eprintln!("baocao: warning: {w}");
    }
    Ok(0)
}

async fn reprocess(cfg: &Config, store: &Store, ids: &[i64], by: &str) -> Result<i32> {
    let parser = make_parser(cfg);
    let n = office::reprocess(cfg, store, &parser, ids, by).await?.len();
    println!("reprocessed {n} submission(s)");
    Ok(0)
}

async fn audit(store: &Store, as_json: bool, action: Option<AuditCmd>) -> Result<i32> {
    let events = store.audit_events().await?;
    match action {
        Some(AuditCmd::Verify) => {
            match crate::audit::verify(&events) {
                Ok(n) => {
                    let head = store.audit_head().await?;
                    let tail = events.last().map(|e| e.hash.clone());
                    if head.is_some() && head != tail && !(tail.is_none() && head.as_deref() == Some("")) {
                        println!("audit chain BROKEN after event {}: the newest events were removed", events.last().map(|e| e.seq).unwrap_or(0));
                        return Ok(1);
                    }
                    println!("audit chain intact: {n} events");
                    Ok(0)
                }
                Err(b) => {
                    println!("audit chain BROKEN at event {}: {}", b.seq, b.why);
                    Ok(1)
                }
            }
        }
        None => {
            if as_json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else {
                for e in &events {
                    println!("{:>6} {} {:<18} {:<10} {} {}", e.seq, chrono::DateTime::from_timestamp(e.at, 0).map(|d| d.to_rfc3339()).unwrap_or_default(), e.kind, e.actor, e.subject, e.data);
                }
            }
            Ok(0)
        }
    }
}

/// The daemon (see [`crate::daemon`]).
async fn run(cfg: &Config, store: &Store, once: bool) -> Result<i32> {
    record_config_load(cfg, store).await?;
    let parser = make_parser(cfg);
    crate::daemon::run(cfg.clone(), store.clone(), parser, once, crate::daemon::signal_shutdown()).await?;
    Ok(0)
}
