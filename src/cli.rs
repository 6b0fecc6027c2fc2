//! The command line of SPEC §11. Every command reuses the stage functions the daemon uses and
//! the office's actions (`office`); nothing here decides anything on its own.
//!
//! What it prints is for people (Vietnamese labels, unit names, aligned columns) unless `--json`
//! asks for the machine's shape (codes, ISO dates). Usage errors exit 2, operator errors 1 with
//! one line naming what failed; a closed pipe (`| head`) ends the command quietly.

use crate::audit;
use crate::config::{Config, Source};
use crate::domain::{Decision, ObligationKey, ObligationState, Period, ReportId, UnitId};
use crate::intake;
use crate::office;
use crate::parse::worker::{Parser, WorkerPool};
use crate::schedule;
use crate::store::{Store, Submission};
use anyhow::{bail, Context, Result};
use clap::{Parser as ClapParser, Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

/// Prints a line on stdout; a reader that went away (`| head`) ends the command quietly.
macro_rules! say {
    ($($t:tt)*) => { $crate::cli::emit(&format!($($t)*)) };
}

pub fn emit(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

fn emit_json(v: &Value) {
    emit(&serde_json::to_string_pretty(v).unwrap_or_default());
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which obligations a listing keeps.
#[derive(clap::Args, Debug, Clone)]
pub struct Only {
    /// Only this unit (its id).
    #[arg(long)]
    unit: Option<String>,
    /// Only this report kind (its id).
    #[arg(long)]
    report: Option<String>,
    /// Only this period: 2021-Q2, 2021-H1, 2021, 2021-03.
    #[arg(long)]
    period: Option<Period>,
}

impl Only {
    fn keeps(&self, unit: Option<&crate::domain::UnitId>, report: Option<&crate::domain::ReportId>, period: Option<Period>) -> bool {
        self.unit.as_ref().is_none_or(|u| unit.is_some_and(|x| x.as_str() == u))
            && self.report.as_ref().is_none_or(|r| report.is_some_and(|x| x.as_str() == r))
            && self.period.is_none_or(|p| period == Some(p))
    }
}

/// When, and whether to send: the options of the commands that build a mail.
#[derive(clap::Args, Debug, Clone)]
pub struct MailArgs {
    #[arg(long, help = AS_OF_HELP)]
    as_of: Option<AsOf>,
    /// Show what would be sent; queue nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// An instant given on the command line; its syntax is checked when the command line is read,
/// its meaning (the office time zone) once the config is loaded.
#[derive(Clone, Debug)]
pub struct AsOf(String);

impl std::str::FromStr for AsOf {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<AsOf, String> {
        match schedule::parse_as_of(s, chrono_tz::UTC) {
            Some(_) => Ok(AsOf(s.to_string())),
            None => Err(format!("`{s}` is not an instant: use 2021-04-10 or 10/04/2021 (the end of that day), 2021-04-10T08:00, or RFC 3339")),
        }
    }
}

impl AsOf {
    fn at(&self, cfg: &Config) -> i64 {
        schedule::parse_as_of(&self.0, cfg.office.timezone).expect("checked when the command line was read")
    }
}

fn decision_arg(s: &str) -> std::result::Result<Decision, String> {
    Decision::parse(s).ok_or_else(|| format!("`{s}`: expected accepted, needs_review, not_submission, rejected or duplicate"))
}

const AS_OF_HELP: &str = "The instant to answer as of: 2021-04-10 or 10/04/2021 (the end of that day), 2021-04-10T08:00 (office time), or RFC 3339 [default: now]";

#[derive(ClapParser, Debug)]
#[command(name = "baocao", version, about = "Reads the office mailbox, understands the reports units send, tracks deadlines and chases late units.")]
pub struct Cli {
    /// The config file (SPEC §3).
    #[arg(long, global = true, env = "BAOCAO_CONFIG", default_value = "config.toml")]
    pub config: PathBuf,
    /// How log lines are written on stderr (the level comes from BAOCAO_LOG, e.g. `info` or `baocao=debug`).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Who is acting, for the audit trail of manual actions [default: the OS account].
    #[arg(long, global = true)]
    pub by: Option<String>,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// One obligation, as the commands that decide about one name it.
#[derive(clap::Args, Debug)]
pub struct ObligationArgs {
    /// The unit (its id).
    #[arg(long)]
    unit: UnitId,
    /// The report kind (its id).
    #[arg(long)]
    report: ReportId,
    /// The period: 2021-Q2, 2021-H1, 2021, 2021-03.
    #[arg(long)]
    period: Period,
}

impl ObligationArgs {
    fn key(self) -> ObligationKey {
        ObligationKey { unit: self.unit, report: self.report, period: self.period }
    }
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// The daemon: intake, scheduled reminders, digest and notices, outbox delivery, HTTP.
    Run {
        /// One pass of each task, then exit (scheduled jobs run only when due).
        #[arg(long)]
        once: bool,
    },
    /// Ingest .eml files and Maildir folders (backfill); never changes them.
    Ingest {
        /// Maildir folders, folders of .eml files, or .eml files.
        paths: Vec<PathBuf>,
        /// Record and queue the acknowledgements, but leave delivery to `deliver` or the daemon.
        #[arg(long)]
        no_deliver: bool,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Obligations and their state.
    Status {
        #[arg(long, help = AS_OF_HELP)]
        as_of: Option<AsOf>,
        #[command(flatten)]
        only: Only,
        /// Print JSON (SPEC §11.1: state codes, ISO dates).
        #[arg(long)]
        json: bool,
    },
    /// Every submission with its decision, reasons, findings and extracted fields.
    Submissions {
        #[command(flatten)]
        only: Only,
        /// Only this decision: accepted, needs_review, not_submission, rejected, duplicate.
        #[arg(long, value_parser = decision_arg)]
        decision: Option<Decision>,
        /// Only messages that arrived at or after this instant (2021-04-01, 01/04/2021, RFC 3339).
        #[arg(long)]
        since: Option<AsOf>,
        /// Print JSON (SPEC §11.1).
        #[arg(long)]
        json: bool,
    },
    /// Queue and send the reminders due at T.
    Remind {
        #[command(flatten)]
        when: MailArgs,
    },
    /// Build (and send) the digest for the week ending at T, to office.leadership.
    Digest {
        #[command(flatten)]
        when: MailArgs,
    },
    /// Deliver queued outbox mail now (the daemon does this on every pass).
    Deliver {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The outbox: list what waits, was sent or failed; queue mail again.
    Outbox {
        #[command(subcommand)]
        action: OutboxCmd,
    },
    /// Queue (and send) the office status mail: the compiled workbook to office.staff.
    OfficeStatus {
        #[command(flatten)]
        when: MailArgs,
    },
    /// Write the compiled status workbook (SPEC §9).
    Export {
        /// The .xlsx file to write.
        file: PathBuf,
        #[arg(long, help = AS_OF_HELP)]
        as_of: Option<AsOf>,
        /// The period of the form reports' figures (SPEC §16) [default: the latest with figures].
        #[arg(long)]
        period: Option<Period>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The review queue: messages the machine could not decide.
    Review {
        #[command(subcommand)]
        action: ReviewCmd,
    },
    /// Mark an obligation exempt (or, with --withdraw, no longer exempt).
    Exempt {
        #[command(flatten)]
        ob: ObligationArgs,
        /// Why the unit does not owe this report (required unless --withdraw).
        #[arg(long, required_unless_present = "withdraw")]
        reason: Option<String>,
        /// Withdraw the exemption instead.
        #[arg(long)]
        withdraw: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Extend one obligation's deadline (gia hạn, SPEC §17): the unit owes the report by the end
    /// of --until; the unit is told unless --quiet. With --withdraw, the rules' deadline again.
    Extend {
        #[command(flatten)]
        ob: ObligationArgs,
        /// The new last day: 2021-07-20 or 20/07/2021 (required unless --withdraw).
        #[arg(long, required_unless_present = "withdraw")]
        until: Option<String>,
        /// Why (told to the unit).
        #[arg(long, default_value = "")]
        reason: String,
        /// Withdraw the extension instead.
        #[arg(long)]
        withdraw: bool,
        /// Do not tell the unit.
        #[arg(long)]
        quiet: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A form report's figures compiled (SPEC §16): every unit's figures and the totals for a
    /// period; or one indicator over the periods of a year (--year, --row); or, with --confirm,
    /// a clerk's confirmation of figures read by OCR.
    Figures {
        /// The report kind (its id); it must have a `form`.
        #[arg(long, required_unless_present = "confirm")]
        report: Option<String>,
        /// The period: 2024-Q1, 2024-01, 2024-H1, 2024.
        #[arg(long, conflicts_with = "year")]
        period: Option<Period>,
        /// Without --period: every period of this year, for the indicator --row.
        #[arg(long, requires = "row")]
        year: Option<i32>,
        /// The indicator, by its numbering (`1.1`) or its label.
        #[arg(long)]
        row: Option<String>,
        /// With --row: the column, by its name [default: the column of the period's own figures].
        #[arg(long)]
        column: Option<String>,
        #[arg(long, help = AS_OF_HELP)]
        as_of: Option<AsOf>,
        /// Write the office's form filled with the totals, and a sheet of every unit, to this .xlsx.
        #[arg(long)]
        xlsx: Option<PathBuf>,
        /// Confirm the figures read by OCR from this submission (checked against the scan): they count from now on.
        #[arg(long)]
        confirm: Option<i64>,
        /// Print JSON (SPEC §16).
        #[arg(long)]
        json: bool,
    },
    /// Re-run parsing and matching from the stored raw messages (decisions taken by a person stay).
    Reprocess {
        /// Submission ids [default: all].
        ids: Vec<i64>,
    },
    /// The audit trail.
    Audit {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        action: Option<AuditCmd>,
    },
    /// Validate the config and the office's templates (and with --connect reach the database, IMAP and SMTP).
    CheckConfig {
        /// Also log in to the database, the mailbox and the SMTP server.
        #[arg(long)]
        connect: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Requests set by the office's own letters (SPEC §15).
    Request {
        #[command(subcommand)]
        action: RequestCmd,
    },
    /// The office's directory of units and groups (SPEC §17), kept in the database.
    Directory {
        #[command(subcommand)]
        action: DirectoryCmd,
    },
    /// Read attachments or whole messages and print what was understood (no database needed).
    Parse {
        /// Attachments (or, with --messages, .eml files).
        files: Vec<PathBuf>,
        /// Read each file this many times (for benchmarks); prints only a summary when > 1.
        #[arg(long, default_value_t = 1)]
        repeat: usize,
        /// The files are whole messages (.eml), not attachments.
        #[arg(long)]
        messages: bool,
        /// Print JSON (the only output this command has; accepted for uniformity).
        #[arg(long)]
        json: bool,
    },
    /// The console's accounts (SPEC §14): add, list, disable, change a password.
    User {
        #[command(subcommand)]
        action: UserCmd,
    },
    /// Internal: a document parse worker fed over stdin/stdout.
    #[command(hide = true)]
    ParseWorker {
        #[arg(long, default_value = "{}")]
        limits: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DirectoryCmd {
    /// Apply the config file's [[unit]] and [[group]] entries to the directory (every entry,
    /// over changes made on the console); units only in the database stay.
    Import {
        #[arg(long)]
        json: bool,
    },
    /// Print the current directory as TOML ([[group]] and [[unit]] entries).
    Export,
    /// Merge a unit into another after its last day: it keeps its history and owes the periods
    /// begun by then; its addresses and names move to the successor, which owes from then on.
    Merge {
        #[arg(long)]
        unit: UnitId,
        #[arg(long)]
        into: UnitId,
        /// The unit's last day on its own: 2021-06-30 or 30/06/2021.
        #[arg(long)]
        last_day: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RequestCmd {
    /// Read a letter (.docx, .doc, PDF or text) and store it as a request waiting for a clerk:
    /// number, date, V/v, addressees resolved to units, deadlines, outline, annexes.
    Add {
        file: PathBuf,
        /// Print what was read and store nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON (SPEC §15).
        #[arg(long)]
        json: bool,
        /// Print the [[report]] entries the letter's periodic rules would make (stores nothing).
        #[arg(long)]
        propose_config: bool,
    },
    /// The requests: waiting, confirmed and cancelled.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Confirm a waiting request: its deadlines for the units become obligations.
    Confirm {
        id: i64,
        /// The units that owe it, when not those its letter addresses (repeat for each).
        #[arg(long)]
        unit: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Call a request off: it is never confirmed, or its obligations end.
    Cancel {
        id: i64,
        /// Why, for the trail.
        #[arg(long, default_value = "")]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum ReviewCmd {
    /// The messages waiting for a person, with the best guess and why.
    List {
        /// Print JSON (SPEC §11.1 submissions).
        #[arg(long)]
        json: bool,
    },
    /// Accept the best guess of a waiting message.
    Accept {
        /// The submission id.
        id: i64,
        /// Tell the unit of the decision, in its message's thread.
        #[arg(long)]
        tell: bool,
        /// Print the submission as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Accept a message for an obligation that exists: the unit owes that report for that period.
    Assign {
        /// The submission id.
        id: i64,
        #[command(flatten)]
        ob: ObligationArgs,
        /// Assign only this document (counted from 1 in the message's list): it becomes a
        /// report of its own and the rest of the message waits for its own decision.
        #[arg(long)]
        document: Option<usize>,
        /// Tell the unit of the decision, in its message's thread.
        #[arg(long)]
        tell: bool,
        /// Print the submission as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Reject a message with a reason.
    Reject {
        /// The submission id.
        id: i64,
        /// The reason, as the unit will read it.
        #[arg(long)]
        reason: String,
        /// Tell the unit of the decision, in its message's thread.
        #[arg(long)]
        tell: bool,
        /// Print the submission as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue (and send) today's review notice to office.staff, when messages wait.
    Notice {
        #[command(flatten)]
        when: MailArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum OutboxCmd {
    /// Outgoing mail, newest first.
    List {
        /// Only mail in this state: queued, sent, failed, handing_over.
        #[arg(long)]
        state: Option<String>,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Queue mail again (failed or waiting) and deliver now.
    Retry {
        /// Outbox ids (from `outbox list`).
        ids: Vec<i64>,
        /// Every failed mail.
        #[arg(long)]
        failed: bool,
        /// Every failed or waiting mail, and the outbox's wait for its server.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add an account; the password is asked for (or read from stdin), never given as an argument.
    Add {
        /// The name the person logs in with (letters, digits, . _ - @).
        name: String,
        /// viewer (leadership: reads), clerk (the office's staff: acts), admin (also manages accounts).
        #[arg(long, value_parser = role_arg)]
        role: crate::domain::Role,
    },
    /// The accounts and their roles.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an account (its sessions end); --enable lets it log in again.
    Disable {
        name: String,
        #[arg(long)]
        enable: bool,
    },
    /// Set an account's password (asked for, or read from stdin); its sessions end.
    Passwd { name: String },
}

fn role_arg(s: &str) -> std::result::Result<crate::domain::Role, String> {
    crate::domain::Role::parse(s).ok_or_else(|| format!("`{s}`: expected viewer, clerk or admin"))
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Recompute the hash chain; names the first broken link (exit 1 when broken). Also checks
    /// that every message and mail has its events, and that quoted hashes are in the chain.
    Verify {
        /// A chain hash quoted in a digest, an office-status mail or a log ("dấu kiểm"): it must
        /// still be in the chain (catches a chain cut short and rebuilt).
        #[arg(long)]
        anchor: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
    init_logging(cli.log_format, matches!(cli.cmd, Cmd::Run { .. }));
    if let Cmd::Parse { files, repeat, messages, .. } = &cli.cmd {
        return match parse_files(files, *repeat, *messages) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("baocao: {}", one_line(&e));
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
            eprintln!("baocao: {}", one_line(&e));
            1
        }
    }
}

/// An error and its causes on one line, each said once: a cause whose text the line already
/// holds (libraries often repeat their source's message) is left out.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if t.is_empty() || line.contains(&t) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&t);
    }
    line
}

/// Logs go to stderr. The daemon logs at info by default (what it listens on, each pass), the
/// other commands at warn; `BAOCAO_LOG` (e.g. `debug`, `baocao=info`) overrides both.
fn init_logging(format: LogFormat, daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("BAOCAO_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let b = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => {
            let _ = b.json().try_init();
        }
        LogFormat::Text => {
            let _ = b.with_ansi(std::io::stderr().is_terminal()).try_init();
        }
    }
}

/// Who acts, for the audit trail: `--by`, else the OS account (`$USER`, `$LOGNAME`, or the
/// account of the process's user id, as `id -un` says).
fn operator(by: &Option<String>) -> String {
    by.clone()
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .or_else(account_name)
        .unwrap_or_else(|| format!("uid:{}", unsafe { libc::geteuid() }))
}

fn account_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; the name is copied out
    // at once, before anything else in this process can call it again.
    unsafe {
        let pw = libc::getpwuid(libc::geteuid());
        if pw.is_null() || (*pw).pw_name.is_null() {
            return None;
        }
        Some(std::ffi::CStr::from_ptr((*pw).pw_name).to_string_lossy().into_owned())
    }
}

/// The parser the commands use: worker processes when this is the `baocao` binary.
pub fn make_parser(cfg: &Config) -> Parser {
    parser_with(cfg.limits.clone())
}

fn parser_with(limits: crate::config::Limits) -> Parser {
    if std::env::var_os("BAOCAO_IN_PROCESS_PARSE").is_none() {
        if let Ok(exe) = std::env::current_exe() {
            if exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("baocao")) {
                return Parser::Pool(std::sync::Arc::new(WorkerPool::new(exe, limits)));
            }
        }
    }
    Parser::InProcess(limits)
}

/// A day typed on the command line: 2021-07-20 or 20/07/2021.
fn day_arg(text: &str) -> Option<chrono::NaiveDate> {
    ["%Y-%m-%d", "%d/%m/%Y"].iter().find_map(|f| chrono::NaiveDate::parse_from_str(text.trim(), f).ok())
}

fn at(cfg: &Config, a: &Option<AsOf>) -> i64 {
    a.as_ref().map(|a| a.at(cfg)).unwrap_or_else(|| chrono::Utc::now().timestamp())
}

async fn dispatch(cli: Cli) -> Result<i32> {
    let cfg = Config::load(&cli.config)?;
    if let Cmd::CheckConfig { connect, json } = &cli.cmd {
        return check_config(&cfg, *connect, *json).await;
    }
    let mut letter = None;
    if let Cmd::Request { action: RequestCmd::Add { file, dry_run, json, propose_config } } = &cli.cmd {
        let l = read_letter(&cfg, file)?;
        if *dry_run || *propose_config {
            print_letter(&cfg, &l, *json, *propose_config);
            return Ok(0);
        }
        letter = Some(l);
    }
    let store = Store::open(&cfg).await.with_context(|| format!("cannot open the database {}", cfg.database))?;
    let by = operator(&cli.by);
    // The file's units and groups seed the office's directory (SPEC §17); a file entry changed
    // since it was last applied is applied again.
    crate::office::directory::seed(&cfg, &store, false, "baocao").await?;
    // The confirmed requests' obligations are the office's like the config file's; a daemon
    // reads them again as they change, so it starts from the file's alone.
    let base = cfg;
    let cfg = crate::office::requests::with_requests(&base, &store).await?;
    match cli.cmd {
        Cmd::Request { action } => request(&cfg, &store, action, letter, &by).await,
        Cmd::Directory { action: DirectoryCmd::Export } => {
            emit(crate::office::directory::export(&cfg).trim_end());
            Ok(0)
        }
        Cmd::Directory { action: DirectoryCmd::Merge { unit, into, last_day } } => {
            let day = day_arg(&last_day).ok_or_else(|| anyhow::anyhow!("--last-day {last_day}: không phải một ngày (2021-06-30 hoặc 30/06/2021)"))?;
            let (a, b) = office::directory::merge(&cfg, &store, &unit, &into, day, &by).await?;
            say!("đã sáp nhập {a} vào {b} từ sau ngày {}", day.format("%d/%m/%Y"));
            Ok(0)
        }
        Cmd::Directory { action: DirectoryCmd::Import { json } } => {
            let done = crate::office::directory::seed(&base, &store, true, &by).await?;
            if json {
                emit_json(&json!({"added": done.added, "changed": done.changed, "kept": done.kept}));
            } else {
                say!("directory: {} added, {} changed, {} unchanged", done.added, done.changed, done.kept);
            }
            Ok(0)
        }
        Cmd::Ingest { paths, no_deliver, json } => ingest(&cfg, &store, &paths, !no_deliver, json).await,
        Cmd::Submissions { only, decision, since, json } => submissions(&cfg, &store, only, decision, since, json).await,
        Cmd::Status { as_of, only, json } => {
            let t = at(&cfg, &as_of);
            let filter = |o: &schedule::Obligation| only.keeps(Some(&o.unit), Some(&o.report), Some(o.period));
            status(&cfg, &store, t, json, filter).await
        }
        Cmd::Remind { when } => remind(&cfg, &store, when).await,
        Cmd::Digest { when: MailArgs { as_of, dry_run, json } } => {
            let t = at(&cfg, &as_of);
            let c = crate::office::digest(&cfg, &store, t, dry_run).await?;
            print_compiled(&cfg, &store, "digest", Some(&c), dry_run, json).await
        }
        Cmd::Outbox { action } => outbox(&cfg, &store, action, &by).await,
        Cmd::Deliver { json } => deliver(&cfg, &store, json).await,
        Cmd::OfficeStatus { when: MailArgs { as_of, dry_run, json } } => {
            let t = at(&cfg, &as_of);
            let c = crate::office::office_status(&cfg, &store, t, dry_run).await?;
            print_compiled(&cfg, &store, "office status", Some(&c), dry_run, json).await
        }
        Cmd::Export { file, as_of, period, json } => export(&cfg, &store, &file, at(&cfg, &as_of), period, json).await,
        Cmd::Review { action } => review(&cfg, &store, action, &by).await,
        Cmd::Exempt { ob, reason, withdraw, json } => exempt(&cfg, &store, ob, reason, withdraw, json, &by).await,
        Cmd::Extend { ob, until, reason, withdraw, quiet, json } => extend(&cfg, &store, ob, until, reason, withdraw, quiet, json, &by).await,
        Cmd::Reprocess { ids } => reprocess(&cfg, &store, &ids, &by).await,
        Cmd::Figures { report, period, year, row, column, as_of, xlsx, confirm, json } => {
            if let Some(id) = confirm {
                office::figures::confirm_ocr(&store, id, &by).await?;
                if json {
                    emit_json(&json!({"submission": id.to_string(), "confirmed_by": by}));
                } else {
                    say!("submission {id}: figures confirmed by {by}; they count from now on");
                }
                return Ok(0);
            }
            let report = report.expect("clap requires --report without --confirm");
            let t = at(&cfg, &as_of);
            figures(&cfg, &store, &report, period, year, row.as_deref(), column.as_deref(), t, xlsx.as_deref(), json).await
        }
        Cmd::Audit { json, action } => audit(&store, json, action).await,
        Cmd::User { action } => user(&store, action, &by).await,
        Cmd::Run { once } => run(&base, &store, once).await,
        Cmd::CheckConfig { .. } | Cmd::ParseWorker { .. } | Cmd::Parse { .. } => unreachable!(),
    }
}

/// `submissions`: every message with its further reports, filtered, as JSON or a table.
async fn submissions(cfg: &Config, store: &Store, only: Only, decision: Option<Decision>, since: Option<AsOf>, json: bool) -> Result<i32> {
    let since = since.map(|s| s.at(cfg));
    let rows: Vec<Submission> = store
        .messages_with_parts()
        .await?
        .into_iter()
        .filter(|r| only.keeps(r.unit.as_ref(), r.report.as_ref(), r.period) || r.also.iter().any(|p| only.keeps(p.unit.as_ref(), p.report.as_ref(), p.period)))
        .filter(|r| decision.is_none_or(|d| r.decision == d))
        .filter(|r| since.is_none_or(|t| r.received_at >= t))
        .collect();
    if json {
        emit_json(&Value::Array(rows.iter().map(|r| submission_json(cfg, r)).collect()));
    } else {
        print_submissions(cfg, &rows);
    }
    Ok(0)
}

/// `remind`: the reminder stages due at T queued (and delivered), or shown on a dry run.
async fn remind(cfg: &Config, store: &Store, MailArgs { as_of, dry_run, json }: MailArgs) -> Result<i32> {
    let t = at(cfg, &as_of);
    let stages = crate::office::reminders::remind(cfg, store, t, dry_run).await?;
    let (sent, failed) = if dry_run { (0, 0) } else { crate::notify::deliver(cfg, &store).await? };
    if json {
        let v: Vec<Value> = stages
            .iter()
            .map(|s| json!({"key": s.key(), "unit": s.unit, "report": s.report, "period": s.period, "stage": s.stage, "days_late": s.days_late, "escalate": s.escalate}))
            .collect();
        emit_json(&json!({"dry_run": dry_run, "stages": v, "delivered": sent, "failed": failed}));
        return Ok(0);
    }
    for s in &stages {
        say!("{}{}", if dry_run { "would remind " } else { "reminded " }, s.key());
    }
    if !dry_run {
        say!("{} reminder stage(s); {sent} mail(s) delivered, {failed} failed", stages.len());
    }
    Ok(0)
}

/// `deliver`: the outbox delivered now; exit 1 when a mail failed.
async fn deliver(cfg: &Config, store: &Store, json: bool) -> Result<i32> {
    // A person asking to deliver now does not wait for the outbox's backoff.
    store.try_server_now().await?;
    let (sent, failed) = crate::notify::deliver(cfg, &store).await?;
    let queued = store.outbox_depth().await?;
    if json {
        emit_json(&json!({"delivered": sent, "failed": failed, "queued": queued}));
    } else {
        say!("{sent} mail(s) delivered, {failed} failed, {queued} still queued");
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

/// `export`: the status workbook written (to a temporary name, then renamed).
async fn export(cfg: &Config, store: &Store, file: &std::path::Path, t: i64, period: Option<Period>, json: bool) -> Result<i32> {
    let snap = crate::facts::snapshot(cfg, store, t, period).await?;
    let bytes = crate::compile::workbook::build(cfg, &snap).context("cannot build the workbook")?;
    let tmp = file.with_extension("xlsx.tmp");
    std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &file).with_context(|| format!("cannot write {}", file.display()))?;
    let sheets = crate::compile::workbook::sheet_names(cfg, &snap);
    if json {
        emit_json(&json!({"file": file, "bytes": bytes.len(), "sheets": sheets}));
    } else {
        say!("wrote {} ({} bytes; sheets: {})", file.display(), bytes.len(), sheets.join(", "));
    }
    Ok(0)
}

/// `exempt`: an obligation exempt, or no longer.
async fn exempt(cfg: &Config, store: &Store, ob: ObligationArgs, reason: Option<String>, withdraw: bool, json: bool, by: &str) -> Result<i32> {
    let key = ob.key();
    let ObligationKey { unit, report, period } = &key;
    let (state, reason) = if withdraw {
        let had = office::withdraw_exemption(cfg, store, &key, by).await?;
        (if had { "withdrawn" } else { "not_exempt" }, None)
    } else {
        let reason = reason.unwrap_or_default();
        office::exempt(cfg, store, &key, &reason, by).await?;
        ("exempt", Some(reason))
    };
    if json {
        emit_json(&json!({"unit": unit, "report": report, "period": period, "state": state, "reason": reason, "by": by}));
    } else {
        let what = match state {
            "withdrawn" => "exemption withdrawn".to_string(),
            "not_exempt" => "was not exempt".to_string(),
            _ => format!("exempt ({})", reason.unwrap_or_default()),
        };
        say!("{unit} {report} {period}: {what}");
    }
    Ok(0)
}

/// `extend`: one obligation's deadline extended (the unit told unless quiet), or withdrawn.
#[allow(clippy::too_many_arguments)]
async fn extend(cfg: &Config, store: &Store, ob: ObligationArgs, until: Option<String>, reason: String, withdraw: bool, quiet: bool, json: bool, by: &str) -> Result<i32> {
    let key = ob.key();
    let ObligationKey { unit, report, period } = &key;
    let now = chrono::Utc::now().timestamp();
    let done = if withdraw {
        office::extensions::withdraw(cfg, store, &key, by, !quiet, now).await?
    } else {
        let text = until.unwrap_or_default();
        let Some(day) = day_arg(&text) else {
            anyhow::bail!("--until {text}: không phải một ngày (2021-07-20 hoặc 20/07/2021)");
        };
        office::extensions::extend(cfg, store, &key, day, &reason, by, !quiet, None, now).await?
    };
    if json {
        emit_json(&json!({"unit": unit, "report": report, "period": period, "due": done.due, "until": done.until, "rejudged": done.rejudged, "told": done.told, "by": by}));
    } else {
        match done.until {
            Some(d) => say!("{unit}: {} gia hạn đến hết ngày {} (hạn nộp {}){}", done.title, d.format("%d/%m/%Y"), done.due.format("%d/%m/%Y"), if done.told.is_some() { "; đã xếp thư báo cho đơn vị" } else { "" }),
            None => say!("{unit}: {} thôi gia hạn, hạn nộp {}", done.title, done.due.format("%d/%m/%Y")),
        }
    }
    Ok(0)
}

/// What `digest`, `office-status` and `review notice` print: the mail itself on a dry run,
/// else what was queued and delivered.
async fn print_compiled(cfg: &Config, store: &Store, what: &str, c: Option<&crate::notify::Compiled>, dry_run: bool, json: bool) -> Result<i32> {
    let (sent, failed) = if dry_run { (0, 0) } else { crate::notify::deliver(cfg, store).await? };
    let Some(c) = c else {
        if json {
            emit_json(&json!({"queued": false, "why": "nothing to send"}));
        } else {
            say!("{what}: nothing to send (nothing waits, or a day off)");
        }
        return Ok(0);
    };
    let attachment = c.attachment.as_ref().map(|(n, d)| json!({"name": n, "bytes": d.len()}));
    if json {
        let mut v = json!({"key": c.key, "queued": c.queued, "subject": c.subject, "attachment": attachment, "delivered": sent, "failed": failed});
        if dry_run {
            v["text"] = c.text.clone().into();
        }
        emit_json(&v);
    } else if dry_run {
        match &c.attachment {
            Some((name, data)) => say!("Subject: {}\nAttachment: {name} ({} bytes)\n\n{}", c.subject, data.len(), c.text),
            None => say!("Subject: {}\n\n{}", c.subject, c.text),
        }
    } else {
        let queued = if c.queued { "queued" } else { "already queued before, not sent again" };
        say!("{what} {}: {queued}; {sent} mail(s) delivered, {failed} failed", c.key);
    }
    Ok(0)
}

/// `baocao parse`: the parse stage alone, in this process, on files.
/// `request add`: reads a letter and prints the request it sets.
/// Reads a letter from a file: a document the parser reads, or plain text.
fn read_letter(cfg: &Config, file: &std::path::Path) -> Result<crate::parse::letter::Letter> {
    let data = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::office::requests::read_letter(&make_parser(cfg), &name, &data).map_err(|why| anyhow::anyhow!("cannot read the letter {}: {why}", file.display()))
}

fn print_letter(cfg: &Config, letter: &crate::parse::letter::Letter, json: bool, propose_config: bool) {
    let v = crate::office::requests::request_json(cfg, letter);
    if propose_config {
        for r in v["proposed_reports"].as_array().into_iter().flatten() {
            println!("{}", r.as_str().unwrap_or_default());
        }
    } else if json {
        emit_json(&v);
    } else {
        say!("Công văn số {} ngày {}", letter.number.as_deref().unwrap_or("?"), letter.date.as_deref().unwrap_or("?"));
        if let Some(s) = &letter.subject {
            say!("{s}");
        }
        for a in v["addressees"].as_array().into_iter().flatten() {
            say!("Kính gửi: {} → {}", a["text"].as_str().unwrap_or(""), a["units"].as_array().map(|u| u.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(", ")).unwrap_or_default());
        }
        for d in &letter.deadlines {
            say!("Hạn {}{}: {}", d.date.format("%d/%m/%Y"), if d.for_units { "" } else { " (việc của Văn phòng, không tạo nghĩa vụ)" }, d.text);
        }
    }
}

fn request_row(r: &crate::store::StoredRequest) -> Value {
    let mut v = r.reading.clone();
    v["id"] = json!(r.id.to_string());
    v["state"] = json!(r.state.as_str());
    v["report"] = json!(r.report);
    v["source"] = json!(r.source);
    v["message_id"] = json!(r.message_id);
    v["reports"] = json!(crate::office::requests::reports_of(r).iter().map(|x| json!({"id": x.id, "name": x.name, "due": match x.due { crate::domain::rules::DueRule::Date(d) => d.to_string(), _ => String::new() }})).collect::<Vec<_>>());
    v
}

async fn request(cfg: &Config, store: &Store, action: RequestCmd, letter: Option<crate::parse::letter::Letter>, by: &str) -> Result<i32> {
    use crate::office::requests;
    let (r, json) = match action {
        RequestCmd::Add { file, json, .. } => {
            let l = letter.expect("read before the store was opened");
            (requests::add(cfg, store, &l, &file.display().to_string(), None, by).await?, json)
        }
        RequestCmd::List { json } => {
            let all = store.requests().await?;
            if json {
                emit_json(&Value::Array(all.iter().map(request_row).collect()));
            } else {
                for r in &all {
                    say!("{:>4} {:<14} {:<24} {} {}", r.id, r.state.label_vi(), r.number.as_deref().unwrap_or("(không số)"), r.report, r.subject.as_deref().unwrap_or(""));
                }
            }
            return Ok(0);
        }
        RequestCmd::Confirm { id, unit, json } => (requests::confirm(cfg, store, id, &unit, by).await?, json),
        RequestCmd::Cancel { id, reason, json } => (requests::cancel(store, id, &reason, by).await?, json),
    };
    if json {
        emit_json(&request_row(&r));
    } else {
        say!("request {} ({}): {}", r.id, r.report, r.state.label_vi());
        for x in requests::reports_of(&r) {
            say!("  {} — {}", x.id, x.name);
        }
        let today = schedule::date_of(cfg.office.timezone, chrono::Utc::now().timestamp());
        let past = requests::past_deadlines(&r, today);
        if r.state == crate::domain::RequestState::Confirmed && !past.is_empty() {
            say!("  hạn nộp {} đã qua: các đơn vị chưa nộp được tính là quá hạn", past.join(", "));
        }
    }
    Ok(0)
}

fn parse_files(files: &[PathBuf], repeat: usize, messages: bool) -> Result<()> {
    let limits = crate::config::Limits::default();
    // One read is done as the daemon does it, in a worker under its limits, so a hostile file is
    // reported, never the end of the command; repeated reads (a benchmark) measure the reader
    // alone, in this process.
    let worker = (repeat <= 1).then(|| parser_with(limits.clone()));
    let read = |name: &str, data: &[u8]| match &worker {
        Some(p) => p.read(name, data),
        None => crate::parse::read_attachment(name, data, &limits),
    };
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
                    docs.extend(read(&a.filename, &a.data));
                }
                last.push(json!({"file": name, "subject": facts.subject, "from": facts.from, "documents": docs}));
            } else {
                last.push(json!({"file": name, "documents": read(&name, &data)}));
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    if repeat > 1 {
        say!("{}", json!({"files": files.len(), "repeat": repeat, "bytes": bytes_total, "seconds": secs, "mb_per_s": bytes_total as f64 / 1e6 / secs.max(1e-9)}));
    } else {
        emit_json(&Value::Array(last));
    }
    Ok(())
}

/// `figures`: a period compiled (table, JSON, filled form), or one indicator over a year.
#[allow(clippy::too_many_arguments)]
async fn figures(cfg: &Config, store: &Store, report: &str, period: Option<Period>, year: Option<i32>, row: Option<&str>, column: Option<&str>, t: i64, xlsx: Option<&std::path::Path>, json: bool) -> Result<i32> {
    let Some(period) = period else {
        let (Some(year), Some(row)) = (year, row) else { bail!("give --period, or --year and --row") };
        let s = crate::facts::series(cfg, store, report, year, row, column, t).await?;
        if json {
            emit_json(&s.to_json());
            return Ok(0);
        }
        let r = &s.form.rows[s.row];
        say!("{} — {} {}, cột «{}», năm {year}", cfg.report(report).map(|x| x.name.as_str()).unwrap_or(report), r.number.as_deref().unwrap_or(""), r.label, s.form.columns[s.column].name);
        let head: Vec<String> = s.periods.iter().map(|p| p.label_vi()).collect();
        say!("{:<40} {}", "Đơn vị", head.iter().map(|h| format!("{h:>18}")).collect::<String>());
        for (u, vals) in &s.units {
            let name = cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string());
            say!("{:<40} {}", name, vals.iter().map(|v| format!("{:>18}", v.map(crate::text::num_vi).unwrap_or_default())).collect::<String>());
        }
        say!("{:<40} {}", "Tổng cộng", s.total.iter().map(|v| format!("{:>18}", v.map(crate::text::num_vi).unwrap_or_default())).collect::<String>());
        return Ok(0);
    };
    let c = crate::facts::figures(cfg, store, report, period, t).await?;
    if let Some(file) = xlsx {
        let bytes = crate::compile::form_xlsx::build(cfg, &c).map_err(|e| anyhow::anyhow!("cannot write the filled form: {e}"))?;
        let tmp = file.with_extension("xlsx.tmp");
        std::fs::write(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))?;
        if !json {
            say!("wrote {} ({} bytes): the form {} filled with the totals of {} unit(s), and a sheet of every unit", file.display(), bytes.len(), c.form.shown, c.units.iter().filter(|u| u.counted).count());
            return Ok(0);
        }
    }
    if json {
        emit_json(&c.to_json());
        return Ok(0);
    }
    let name_of = |u: &crate::domain::UnitId| cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string());
    say!("{} — biểu mẫu {}", period.title(&c.report_name), c.form.shown);
    say!("Tổng hợp {} đơn vị: {}", c.units.iter().filter(|u| u.counted).count(), c.units.iter().filter(|u| u.counted).map(|u| name_of(&u.unit)).collect::<Vec<_>>().join(", "));
    for (what, list) in [("Chưa gửi", &c.missing), ("Chờ xem xét", &c.waiting), ("Đã nộp nhưng không có bảng số liệu", &c.without_figures)] {
        if !list.is_empty() {
            say!("{what}: {}", list.iter().map(name_of).collect::<Vec<_>>().join(", "));
        }
    }
    say!("");
    // Columns headed by their own level (the full names are in --json and the filled form).
    say!("{:>5}  {:<46}{}", "STT", "Chỉ tiêu", c.form.columns.iter().map(|x| format!("{:>22}", truncate_chars(x.levels.last().unwrap_or(&x.name), 21))).collect::<String>());
    for (ri, r) in c.form.rows.iter().enumerate() {
        let vals: String = c.totals[ri].iter().map(|v| format!("{:>22}", v.map(crate::text::num_vi).unwrap_or_default())).collect();
        say!("{:>5}  {:<46}{}", r.number.as_deref().unwrap_or(""), truncate_chars(&r.label, 45), if r.has_figures() { vals } else { String::new() });
    }
    for u in c.units.iter().filter(|u| !u.findings.is_empty()) {
        say!("");
        say!("{} (bài nộp số {}):", name_of(&u.unit), u.submission);
        for f in &u.findings {
            say!("  - {f}");
        }
    }
    Ok(0)
}

fn truncate_chars(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n.saturating_sub(1)).chain(std::iter::once('…')).collect()
    }
}

async fn check_config(cfg: &Config, connect: bool, json: bool) -> Result<i32> {
    let faults = crate::notify::templates::check(cfg);
    let mut probes: Vec<(&str, std::result::Result<String, String>)> = Vec::new();
    if connect {
        probes.push(("database", probe_database(cfg).await));
        probes.push(("intake", probe_intake(cfg).await));
        probes.push(("outbound", probe_outbound(cfg).await));
    }
    let bad = faults.len() + probes.iter().filter(|(_, r)| r.is_err()).count();
    if json {
        let forms: Vec<Value> = cfg
            .reports
            .iter()
            .filter_map(|r| r.form.as_ref().map(|f| (r, f)))
            .map(|(r, f)| {
                json!({"report": r.id, "form": f.shown, "found": f.describe(),
                       "rows": f.rows.iter().map(|x| json!({"number": x.number, "label": x.label, "unit": x.unit, "kind": x.kind})).collect::<Vec<_>>(),
                       "columns": f.columns.iter().map(|c| json!({"name": c.name, "kind": c.kind})).collect::<Vec<_>>(),
                       "rules": f.rules.iter().map(|x| x.text.clone()).collect::<Vec<_>>()})
            })
            .collect();
        let mut v = json!({
            "config": cfg.path, "valid": true, "units": cfg.units.len(), "reports": cfg.reports.len(),
            "office": cfg.office.address, "template_faults": faults, "ok": bad == 0, "forms": forms,
        });
        for (what, r) in &probes {
            v[*what] = match r {
                Ok(said) => json!({"ok": true, "said": said}),
                Err(why) => json!({"ok": false, "error": why}),
            };
        }
        emit_json(&v);
    } else {
        say!("config {} is valid: {} units, {} report kinds, office {}", cfg.path.display(), cfg.units.len(), cfg.reports.len(), cfg.office.address);
        for r in &cfg.reports {
            if let Some(f) = &r.form {
                say!("report {}: form {} — {}", r.id, f.shown, f.describe());
                for x in &f.rows {
                    say!("  {:>6}  {}{}  [{}]", x.number.as_deref().unwrap_or(""), x.label, x.unit.as_deref().map(|u| format!(" ({u})")).unwrap_or_default(), x.kind.label_vi());
                }
                for rule in &f.rules {
                    say!("  rule: {}", rule.text);
                }
            }
        }
        for f in &faults {
            say!("template FAILED: {f}");
        }
        for (what, r) in &probes {
            match r {
                Ok(said) => say!("{what}: {said}"),
                Err(why) => say!("{what}: FAILED: {why}"),
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
                let st = s.status(imap::wire(mailbox), "(MESSAGES UIDVALIDITY)").await.map_err(|e| ImapError::Protocol(format!("STATUS {mailbox}: {e}")))?;
                // Where processed mail goes: the server's folder names, read back from modified UTF-7.
                let folder = match &cfg.intake.after {
                    crate::config::After::Move(f) => {
                        let names: Vec<String> = match s.list(None, Some("*")).await {
                            Ok(stream) => futures_util::TryStreamExt::try_collect::<Vec<_>>(stream).await.map(|v| v.iter().map(|n| crate::intake::utf7::decode(n.name())).collect()).unwrap_or_default(),
                            Err(_) => vec![],
                        };
                        let there = if names.iter().any(|n| n == f) { "exists" } else { "will be created" };
                        format!("; processed mail moves to «{f}» ({there})")
                    }
                    crate::config::After::Flag => String::new(),
                };
                let _ = s.logout().await;
                Ok::<_, ImapError>((st.exists, folder))
            };
            match tokio::time::timeout(std::time::Duration::from_secs(60), result).await {
                Ok(Ok((n, folder))) => {
                    let how = match &acc.auth {
                        crate::secrets::Auth::OAuth2 { mechanism, token } => format!(" of {} ({}, {})", acc.user, mechanism.name(), token.describe()),
                        _ => format!(" of {}", acc.user),
                    };
                    Ok(format!("IMAP {host}:{port} accepts the login{how}; {mailbox} holds {n} message(s){folder}"))
                }
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
            let ep = crate::notify::smtp_endpoint(cfg)?;
            let login = match &ep.login {
                Some((user, crate::secrets::Auth::OAuth2 { mechanism, token })) => format!(" and accepts the login of {user} ({}, {})", mechanism.name(), token.describe()),
                Some((user, _)) => format!(" and accepts the login of {user}"),
                None => String::new(),
            };
            let s = crate::notify::smtp::Session::open(&ep).await.map_err(|e| format!("SMTP server {host}:{port}: {e}"))?;
            s.quit().await;
            Ok(format!("SMTP server {host}:{port} answers{login}"))
        }
    }
}

/// Ingests paths; returns exit 1 when some file could not be read (the operator must look).
pub async fn ingest(cfg: &Config, store: &Store, paths: &[PathBuf], deliver: bool, json: bool) -> Result<i32> {
    if paths.is_empty() {
        bail!("ingest needs at least one Maildir folder or .eml file");
    }
    record_config_load(cfg, store).await?;
    let entries = intake::expand_paths(paths)?;
    let parser = make_parser(cfg);
    let bar = if std::io::stdout().is_terminal() && !json {
        let b = indicatif::ProgressBar::new(entries.len() as u64);
        b.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
        Some(b)
    } else {
        None
    };
    // The daemon's own pipeline: several files read at once, recorded in batches.
    let mut src = intake::FilesSource::new(entries, cfg.intake.max_message_bytes);
    if let Some(b) = bar.clone() {
        src.progress = Box::new(move || b.inc(1));
    }
    let health = intake::source::Health::default();
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let shared = std::sync::Arc::new(cfg.clone());
    intake::source::pass(&mut src, &shared, store, &parser, &health, &shutdown).await?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (counts, known, unreadable) = (src.decisions, src.known, src.unreadable);
    if let Parser::Pool(p) = &parser {
        tracing::info!(peak_rss_kb = p.peak_rss_kb(), "parse workers");
    }
    let (sent, failed) = if deliver { crate::notify::deliver(cfg, store).await? } else { (0, 0) };
    let added: usize = counts.values().sum();
    if json {
        emit_json(&json!({"added": added, "decisions": counts, "known": known, "unreadable": unreadable, "delivered": sent, "failed": failed}));
    } else {
        let detail: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
        say!(
            "ingested {added} new message(s){}; {known} already known; {} unreadable; {sent} mail(s) sent{}",
            if detail.is_empty() { String::new() } else { format!(" ({})", detail.join(", ")) },
            unreadable.len(),
            if failed > 0 { format!(", {failed} failed") } else { String::new() }
        );
        for u in &unreadable {
            eprintln!("baocao: {u}");
        }
    }
    Ok(if unreadable.is_empty() { 0 } else { 1 })
}

async fn record_config_load(cfg: &Config, store: &Store) -> Result<()> {
    let text = std::fs::read(&cfg.path).unwrap_or_default();
    let hash = crate::digest::sha256_hex(&text);
    let last = store.last_event_data(audit::Kind::ConfigLoaded).await?;
    if last.as_deref().is_some_and(|d| d.contains(&hash)) {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    tx.audit(
        audit::Kind::ConfigLoaded,
        "baocao",
        &cfg.path.display().to_string(),
        &json!({"sha256": hash, "units": cfg.units.len(), "reports": cfg.reports.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// One submission in the shape of SPEC §11.1.
/// One document as SPEC §11.1 shows it.
fn document_json(d: &crate::parse::Document) -> Value {
    json!({
        "filename": d.filename, "format": d.format, "parse": d.parse, "error": d.error, "detail": d.detail,
        "ocr": d.ocr, "legacy_encoding": d.legacy_encoding,
        "container": d.container,
        "issuer": d.header.issuer, "number": d.header.number, "date": d.header.date, "place": d.header.place,
        "doc_type": d.header.doc_type, "summary": d.header.summary, "signer": d.header.signer,
        "score": d.score.as_ref().map(|s| json!({"max_total": s.max_total, "self_total": s.self_total, "rows": s.rows, "findings": s.findings})),
        "commitments": d.commitments.as_ref().map(|c| json!({"count": c.count, "items": c.items, "evaluated": c.evaluated, "tasks": c.tasks})),
        "tasks": d.tasks.as_ref().map(|t| json!({"count": t.count, "items": t.items})),
    })
}

pub fn submission_json(cfg: &Config, r: &Submission) -> Value {
    let docs: Vec<Value> = r.documents.iter().map(document_json).collect();
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
        "also": r.also.iter().map(|p| json!({
            "id": p.id.to_string(), "unit": p.unit, "report": p.report, "period": p.period,
            "due": p.due.map(|d| d.to_string()), "decision": p.decision, "reasons": p.reasons, "timeliness": p.timeliness, "version": p.version,
            "findings": p.findings, "documents": p.documents.iter().map(|d| d.filename.clone()).collect::<Vec<_>>(),
            // What the further report's documents hold, as the message's own documents show it.
            "document_details": p.documents.iter().map(document_json).collect::<Vec<_>>(),
            "score": p.documents.iter().find_map(|d| d.score.as_ref()).map(|s| json!({"max_total": s.max_total, "self_total": s.self_total, "rows": s.rows, "findings": s.findings})),
            "commitments": p.documents.iter().find_map(|d| d.commitments.as_ref()).map(|c| json!({"count": c.count, "items": c.items, "evaluated": c.evaluated, "tasks": c.tasks})),
            "tasks": p.documents.iter().find_map(|d| d.tasks.as_ref()).map(|t| json!({"count": t.count, "items": t.items})),
        })).collect::<Vec<_>>(),
        "documents": docs,
    })
}


/// Text cut or padded to `w` characters, for columns people read.
fn col(s: &str, w: usize) -> String {
    let n = s.chars().count();
    if n > w {
        let mut t: String = s.chars().take(w.saturating_sub(1)).collect();
        t.push('…');
        t
    } else {
        format!("{s}{}", " ".repeat(w - n))
    }
}

fn unit_name(cfg: &Config, id: Option<&crate::domain::UnitId>) -> String {
    match id {
        Some(u) => cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string()),
        None => "—".into(),
    }
}

fn day_time(cfg: &Config, t: i64) -> String {
    chrono::TimeZone::timestamp_opt(&cfg.office.timezone, t, 0).single().map(|d| d.format("%d/%m/%Y %H:%M").to_string()).unwrap_or_default()
}

fn print_submissions(cfg: &Config, rows: &[Submission]) {
    if rows.is_empty() {
        say!("Không có thư nào.");
        return;
    }
    say!("{:>5}  {}  {}  {}  {}  {}", "Số", col("Nhận lúc", 16), col("Quyết định", 18), col("Đơn vị", 34), col("Báo cáo, kỳ", 44), "Tiêu đề");
    for r in rows {
        let what = match (&r.report, r.period) {
            (Some(rep), Some(p)) => {
                let name = cfg.report(rep.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| rep.to_string());
                let t = r.timeliness.map(|t| format!(", {}", t.label_vi())).unwrap_or_default();
                let v = r.version.filter(|v| *v > 1).map(|v| format!(", lần {v}")).unwrap_or_default();
                format!("{}{t}{v}", crate::notify::templates::report_for_period(&name, &p))
            }
            _ => "—".into(),
        };
        say!(
            "{:>5}  {}  {}  {}  {}  {}",
            r.id,
            col(&day_time(cfg, r.received_at), 16),
            col(r.decision.label_vi(), 18),
            col(&unit_name(cfg, r.unit.as_ref()), 34),
            col(&what, 44),
            r.subject.as_deref().unwrap_or("")
        );
        for reason in &r.reasons {
            say!("       lý do: {reason}");
        }
        for f in &r.findings {
            say!("       lưu ý: {f}");
        }
    }
}

async fn status(cfg: &Config, store: &Store, t: i64, as_json: bool, keep: impl Fn(&schedule::Obligation) -> bool) -> Result<i32> {
    let mut states = crate::facts::states_as_of(cfg, store, t).await?;
    states.retain(|(o, _, _)| keep(o));
    let order: std::collections::HashMap<&str, usize> = cfg.reports.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let unit_order: std::collections::HashMap<&str, usize> = cfg.units.iter().enumerate().map(|(i, u)| (u.id.as_str(), i)).collect();
    states.sort_by_key(|(o, _, _)| (order.get(o.report.as_str()).copied(), o.period, unit_order.get(o.unit.as_str()).copied()));
    if as_json {
        let v: Vec<Value> = states
            .iter()
            .map(|(o, f, s)| {
                let mut v = json!({
                    "unit": o.unit, "report": o.report, "period": o.period.to_string(),
                    "due": o.due_date.format("%Y-%m-%d").to_string(), "state": s.as_str(),
                    "submitted_at": f.first_accepted_at.map(|a| schedule::fmt_instant(cfg.office.timezone, a)),
                    "version": f.latest_version, "reminders_sent": f.reminders_sent,
                });
                // An extended deadline: `due` is the new one, this the rules' own.
                if let Some(d) = o.extended_from {
                    v["extended_from"] = json!(d.format("%Y-%m-%d").to_string());
                }
                v
            })
            .collect();
        emit_json(&Value::Array(v));
        return Ok(0);
    }
    say!("Tình hình nộp báo cáo đến {}", schedule::fmt_human(cfg.office.timezone, t));
    let mut last = None;
    for (o, f, s) in &states {
        if last != Some((&o.report, o.period)) {
            let name = cfg.report(o.report.as_str()).map(|r| r.name.clone()).unwrap_or_else(|| o.report.to_string());
            say!("\n{} — hạn {}", crate::notify::templates::report_for_period(&name, &o.period), o.extended_from.unwrap_or(o.due_date).format("%d/%m/%Y"));
            last = Some((&o.report, o.period));
        }
        let when = f.first_accepted_at.map(|a| day_time(cfg, a)).unwrap_or_default();
        let v = f.latest_version.filter(|v| *v > 1).map(|v| format!("lần {v}")).unwrap_or_default();
        let mark = match s {
            ObligationState::SubmittedOnTime => "✓",
            ObligationState::SubmittedLate => "!",
            ObligationState::Overdue => "✗",
            ObligationState::InReview => "?",
            _ => " ",
        };
        let ext = if o.extended_from.is_some() { format!("  gia hạn đến {}", o.due_date.format("%d/%m/%Y")) } else { String::new() };
        say!("  {mark} {}  {}  {}  {v}{ext}", col(&unit_name(cfg, Some(&o.unit)), 40), col(s.label_vi(), 16), col(&when, 16));
    }
    Ok(0)
}

async fn review(cfg: &Config, store: &Store, action: ReviewCmd, by: &str) -> Result<i32> {
    let (done, json) = match action {
        ReviewCmd::List { json } => {
            let rows = store.waiting_review().await?;
            if json {
                emit_json(&Value::Array(rows.iter().map(|r| submission_json(cfg, r)).collect()));
            } else if rows.is_empty() {
                say!("Không có thư nào chờ xem xét.");
            } else {
                for r in &rows {
                    say!(
                        "Số {} — nhận lúc {} từ {}\n   Tiêu đề: {}\n   Dự đoán: {}\n   Lý do: {}",
                        r.id,
                        schedule::fmt_human(cfg.office.timezone, r.received_at),
                        r.from_addr.as_deref().unwrap_or("?"),
                        r.subject.as_deref().unwrap_or(""),
                        crate::notify::best_guess(cfg, r),
                        r.reasons.join("; ")
                    );
                }
            }
            return Ok(0);
        }
        ReviewCmd::Notice { when: MailArgs { as_of, dry_run, json } } => {
            let t = at(cfg, &as_of);
            let c = crate::office::review_notice(cfg, store, t, dry_run).await?;
            return print_compiled(cfg, store, "review notice", c.as_ref(), dry_run, json).await;
        }
        ReviewCmd::Accept { id, tell, json } => (office::accept(cfg, store, id, by, tell).await?, json),
        ReviewCmd::Assign { id, ob, document: None, tell, json } => (office::assign(cfg, store, id, &ob.key(), by, tell).await?, json),
        ReviewCmd::Assign { id, ob, document: Some(doc), tell, json } => {
            (office::assign_document(cfg, store, id, doc, &ob.key(), by, tell).await?, json)
        }
        ReviewCmd::Reject { id, reason, tell, json } => (office::reject(cfg, store, id, &reason, by, tell).await?, json),
    };
    let (sent, _) = if done.told.is_some() { crate::notify::deliver(cfg, store).await? } else { (0, 0) };
    for w in &done.warnings {
        eprintln!("baocao: warning: {w}");
    }
    let s = &done.submission;
    if json {
        let mut v = submission_json(cfg, s);
        v["told"] = json!(done.told);
        v["warnings"] = json!(done.warnings);
        emit_json(&v);
        return Ok(0);
    }
    match s.obligation() {
        Some(k) if s.decision == Decision::Accepted => say!(
            "#{}: accepted as {} {} {} ({}, version {})",
            s.id,
            k.unit,
            k.report,
            k.period,
            s.timeliness.map(|t| t.as_str()).unwrap_or(""),
            s.version.unwrap_or(1)
        ),
        _ => say!("#{}: {} ({})", s.id, s.decision.as_str(), s.reasons.join("; ")),
    }
    if let Some(k) = &done.told {
        say!("the unit is told ({k}; {sent} mail(s) delivered)");
    }
    Ok(0)
}

async fn outbox(cfg: &Config, store: &Store, action: OutboxCmd, by: &str) -> Result<i32> {
    match action {
        OutboxCmd::List { state, limit, json } => {
            let state = match state.as_deref() {
                None => None,
                Some(s) => Some(crate::domain::OutboxState::parse(s).ok_or_else(|| anyhow::anyhow!("unknown state `{s}`: queued, sent, failed or handing_over"))?),
            };
            let rows = store.outbox_rows(state, limit).await?;
            let block = store.outbox_block().await?;
            if json {
                emit_json(&json!({"blocked": block, "mails": rows}));
                return Ok(0);
            }
            if let Some(b) = &block {
                say!("Thư đi đang chờ máy chủ từ {}: {}", schedule::fmt_human(cfg.office.timezone, b.since), b.error);
            }
            say!("{:>6}  {}  {}  {}  {}  {}", "Số", col("Trạng thái", 14), col("Loại", 14), col("Tạo lúc", 16), col("Người nhận", 36), "Lỗi");
            for r in &rows {
                let state = r.state.label_vi();
                say!(
                    "{:>6}  {}  {}  {}  {}  {}",
                    r.id,
                    col(state, 14),
                    col(r.kind.label_vi(), 14),
                    col(&day_time(cfg, r.created_at), 16),
                    col(&r.recipients.join(", "), 36),
                    r.last_error.as_deref().unwrap_or("")
                );
            }
            Ok(0)
        }
        OutboxCmd::Retry { ids, failed, all, json } => {
            if ids.is_empty() && !failed && !all {
                bail!("say which mail: outbox ids, --failed or --all");
            }
            let mut keys = office::retry_mail(store, &ids, failed || all, by).await?;
            if all {
                let waiting: Vec<i64> = store.outbox_rows(Some(crate::domain::OutboxState::Queued), i64::MAX).await?.iter().map(|r| r.id).collect();
                keys.extend(office::retry_mail(store, &waiting, false, by).await?);
            }
            let (sent, failed_now) = crate::notify::deliver(cfg, store).await?;
            if json {
                emit_json(&json!({"requeued": keys, "delivered": sent, "failed": failed_now}));
            } else {
                say!("{} mail(s) queued again; {sent} delivered, {failed_now} failed", keys.len());
            }
            Ok(0)
        }
    }
}

async fn reprocess(cfg: &Config, store: &Store, ids: &[i64], by: &str) -> Result<i32> {
    let parser = make_parser(cfg);
    let n = office::reprocess(cfg, store, &parser, ids, by).await?.len();
    say!("reprocessed {n} submission(s)");
    Ok(0)
}

async fn audit(store: &Store, as_json: bool, action: Option<AuditCmd>) -> Result<i32> {
    let events = store.audit_events().await?;
    let Some(AuditCmd::Verify { json, anchor }) = action else {
        if as_json {
            emit_json(&serde_json::to_value(&events)?);
        } else {
            for e in &events {
                say!("{:>6} {} {:<18} {:<10} {} {}", e.seq, chrono::DateTime::from_timestamp(e.at, 0).map(|d| d.to_rfc3339()).unwrap_or_default(), e.kind, e.actor, e.subject, e.data);
            }
        }
        return Ok(0);
    };
    let json = json || as_json;
    let verdict = office::verify_audit(store, &anchor).await?.map_err(|b| (b.seq, b.why));
    match (&verdict, json) {
        (Ok(n), true) => emit_json(&json!({"intact": true, "events": n.events, "head": n.head})),
        (Err((seq, why)), true) => emit_json(&json!({"intact": false, "broken_at": seq, "why": why})),
        (Ok(n), false) => say!("audit chain intact: {} events; head {}", n.events, n.head.as_deref().unwrap_or("-")),
        (Err((seq, why)), false) if why.contains("removed") || why.contains("quoted") => say!("audit chain BROKEN after event {seq}: {why}"),
        (Err((seq, why)), false) => say!("audit chain BROKEN at event {seq}: {why}"),
    }
    Ok(if verdict.is_ok() { 0 } else { 1 })
}

async fn user(store: &Store, action: UserCmd, by: &str) -> Result<i32> {
    use crate::office::accounts;
    match action {
        UserCmd::Add { name, role } => {
            let pw = read_password(&format!("Password for {name}: "))?;
            accounts::add_account(store, &name, role, &pw, by).await?;
            say!("account {name} added ({})", role.as_str());
        }
        UserCmd::List { json } => {
            let list = store.accounts().await?;
            if json {
                emit_json(&serde_json::to_value(&list)?);
            } else {
                for a in &list {
                    let state = if a.disabled { "disabled" } else { "active" };
                    say!("{:<24} {:<7} {:<9} since {}", a.name, a.role.as_str(), state, chrono::DateTime::from_timestamp(a.created_at, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default());
                }
            }
        }
        UserCmd::Disable { name, enable } => {
            accounts::set_disabled(store, &name, !enable, by).await?;
            say!("account {name} {}", if enable { "enabled" } else { "disabled" });
        }
        UserCmd::Passwd { name } => {
            let pw = read_password(&format!("New password for {name}: "))?;
            accounts::set_password(store, &name, &pw, by).await?;
            say!("password of {name} changed; its sessions ended");
        }
    }
    Ok(0)
}

/// A password from the terminal (not echoed, asked twice) or, when stdin is not a terminal,
/// its first line — so scripts can pipe one in without it appearing in `ps` or the history.
fn read_password(prompt: &str) -> Result<String> {
    use std::io::BufRead;
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password from stdin")?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            bail!("no password on stdin");
        }
        return Ok(pw);
    }
    let ask = |p: &str| -> Result<String> {
        eprint!("{p}");
        let echo = Echo::off();
        let mut line = String::new();
        stdin.lock().read_line(&mut line).context("cannot read the password")?;
        drop(echo);
        eprintln!();
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let first = ask(prompt)?;
    if ask("Again: ")? != first {
        bail!("the two passwords differ");
    }
    Ok(first)
}

/// Terminal echo switched off while a password is typed, and back on when dropped.
struct Echo(Option<libc::termios>);

impl Echo {
    fn off() -> Echo {
        // SAFETY: tcgetattr/tcsetattr on stdin with a termios value this function owns.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return Echo(None);
            }
            let saved = t;
            t.c_lflag &= !libc::ECHO;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Echo(Some(saved))
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(t) = self.0 {
            // SAFETY: restores the settings read in `off`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

/// The daemon (see [`crate::daemon`]).
async fn run(cfg: &Config, store: &Store, once: bool) -> Result<i32> {
    record_config_load(cfg, store).await?;
    let parser = make_parser(cfg);
    if let Some(pass) = crate::daemon::run(cfg.clone(), store.clone(), parser, once, crate::daemon::signal_shutdown()).await? {
        say!("{pass}");
    }
    Ok(0)
}
