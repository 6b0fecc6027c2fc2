//! The TOML configuration of SPEC §3, read into validated, typed values.
//!
//! Loading is the only place a config is checked: a wrong key, a bad cron expression, an unknown
//! unit group in `applies_to`, a duplicate unit id or e-mail address, or a `due` rule that cannot be
//! computed each fail with the file, the line and the key named. Paths are resolved against the
//! config file's folder; secrets are read from the environment variables the file names, never
//! from the file.

use crate::domain::{PeriodKind, ReportId, UnitId};
pub use crate::domain::rules::{Calendar, DueMonth, DueRule, Extract, Limits, Office, Report, Rules, Unit};
use crate::text::fold;
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use crate::secrets::{Auth, Mechanism, Secret, TokenSource};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: String, line: usize, message: String },
}

// ---------- the file as written ----------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    office: RawOffice,
    #[serde(default)]
    database: Option<RawDatabase>,
    #[serde(default)]
    intake: Option<RawIntake>,
    #[serde(default)]
    outbound: Option<RawOutbound>,
    #[serde(default)]
    schedule: Option<RawSchedule>,
    #[serde(default)]
    calendar: Option<RawCalendar>,
    #[serde(default)]
    http: Option<RawHttp>,
    #[serde(default)]
    limits: Option<Limits>,
    #[serde(default)]
    unit: Vec<RawUnit>,
    #[serde(default)]
    report: Vec<RawReport>,
    /// Names of the unit groups (SPEC §17): `[[group]] id = "benh-vien"`, `name = "Bệnh viện"`.
    #[serde(default)]
    group: Vec<RawGroup>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    id: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffice {
    name: String,
    address: String,
    #[serde(default = "default_tz")]
    timezone: String,
    #[serde(default)]
    leadership: Vec<String>,
    #[serde(default)]
    staff: Vec<String>,
    #[serde(default)]
    templates: Option<String>,
}

fn default_tz() -> String {
    "Asia/Ho_Chi_Minh".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    #[serde(default)]
    url_env: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntake {
    source: String,
    #[serde(default)]
    password_env: Option<String>,
    #[serde(default = "default_after")]
    after: String,
    #[serde(default = "default_poll")]
    poll_seconds: u64,
    #[serde(default = "default_max_mb")]
    max_message_mb: u64,
    /// Acknowledge only messages that arrived within this many days (history read on a first
    /// start is recorded silently). Unset: 7.
    #[serde(default)]
    acknowledge_within_days: Option<i64>,
    /// Extra trusted certificate authorities (PEM) for a mail server with a private CA.
    #[serde(default)]
    ca_file: Option<String>,
    /// The authserv-id of the office's own mail server in Authentication-Results.
    #[serde(default)]
    authserv_id: Option<String>,
    // How the server is logged in to: the same keys in [intake] and [outbound] (login_of).
    /// "password" (default), "xoauth2" or "oauthbearer".
    #[serde(default)]
    auth: Option<String>,
    /// A command printing the password (a secret store), instead of `password_env`.
    #[serde(default)]
    password_command: Option<String>,
    /// A command printing an OAuth2 access token (or JSON with `access_token`, `expires_in`).
    #[serde(default)]
    token_command: Option<String>,
    /// The provider's token URL, where a refresh token is exchanged for access tokens.
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    refresh_token_env: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn default_after() -> String {
    "flag".into()
}
fn default_poll() -> u64 {
    60
}
fn default_max_mb() -> u64 {
    40
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    transport: String,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    user_env: Option<String>,
    #[serde(default)]
    password_env: Option<String>,
    /// How long a sender holds a claimed mail before another may take it over (default 300).
    #[serde(default)]
    lease_seconds: Option<u64>,
    /// Days after which a mail the server keeps refusing for now fails for good (default 3).
    #[serde(default)]
    give_up_days: Option<i64>,
    /// Acknowledgements one address gets per hour at most (default 20).
    #[serde(default)]
    acks_per_sender_hour: Option<i64>,
    /// Extra trusted certificate authorities (PEM) for an SMTP server with a private CA.
    #[serde(default)]
    ca_file: Option<String>,
    /// The login name, when it is not secret (else `user_env`; for OAuth2 the From address).
    #[serde(default)]
    user: Option<String>,
    /// Recipients per rolling 24 hours the server takes from this account (Gmail: about 500).
    #[serde(default)]
    daily_limit: Option<i64>,
    // How the server is logged in to: the same keys in [intake] and [outbound] (login_of).
    /// "password" (default), "xoauth2" or "oauthbearer".
    #[serde(default)]
    auth: Option<String>,
    /// A command printing the password (a secret store), instead of `password_env`.
    #[serde(default)]
    password_command: Option<String>,
    /// A command printing an OAuth2 access token (or JSON with `access_token`, `expires_in`).
    #[serde(default)]
    token_command: Option<String>,
    /// The provider's token URL, where a refresh token is exchanged for access tokens.
    #[serde(default)]
    token_url: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    refresh_token_env: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    #[serde(default)]
    reminders: Option<String>,
    /// The review notice to office.staff (working days only); unset: at the reminders' times.
    #[serde(default)]
    review_notice: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    office_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    shift_to_workday: bool,
    #[serde(default)]
    holidays: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    listen: String,
    /// The address people reach the console at (behind the office's HTTPS proxy), for links in mails.
    #[serde(default)]
    public_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUnit {
    id: String,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    emails: Vec<String>,
    #[serde(default)]
    group: Option<String>,
    /// SPEC §17: the first and last day the unit exists, and the unit that took it over.
    #[serde(default)]
    active_from: Option<String>,
    #[serde(default)]
    active_until: Option<String>,
    #[serde(default)]
    merged_into: Option<String>,
}

/// A `[[report]]` entry as written: what the file seeds the directory with and what the
/// console edits (SPEC §17), built into a [`Report`] by [`build_report`] either way.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawReport {
    id: String,
    name: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    doc_types: Vec<String>,
    period: String,
    #[serde(default)]
    quarters: Option<Vec<u8>>,
    due: RawDue,
    #[serde(default)]
    applies_to: Option<Vec<String>>,
    #[serde(default)]
    extract: Option<String>,
    #[serde(default)]
    remind_before_days: Vec<i64>,
    #[serde(default)]
    remind_after_days: Vec<i64>,
    #[serde(default)]
    escalate_after_days: Option<i64>,
    #[serde(default)]
    catch_up_days: Option<i64>,
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    expected_commitments: Option<usize>,
    /// The office's blank form (SPEC §16), relative to the config's folder.
    #[serde(default)]
    form: Option<String>,
    #[serde(default)]
    form_sheet: Option<String>,
    #[serde(default)]
    form_rules: Vec<String>,
    #[serde(default)]
    outlier_factor: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RawDue {
    #[serde(default)]
    month: Option<toml::Value>,
    #[serde(default)]
    day: Option<u32>,
    #[serde(default)]
    exclusive: bool,
    #[serde(default)]
    year_offset: i32,
    #[serde(default)]
    date: Option<String>,
}

// ---------- the validated config ----------

/// The validated config: where things are (database, mailbox, outbound mail, schedules, limits)
/// and the office's [`Rules`], which it dereferences to, so `cfg.units` reads the rules and a
/// pure core that takes `&Rules` is handed `&cfg`.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub dir: PathBuf,
    pub database: Database,
    pub intake: Intake,
    pub outbound: Outbound,
    pub schedule: Schedule,
    /// `[http] listen`: where the daemon serves health, metrics and the console.
    pub http: Option<String>,
    /// `[http] public_url`: the console's address as people reach it, for links in mails.
    pub public_url: Option<String>,
    pub limits: Limits,
    pub rules: Rules,
    /// The file's `[[report]]` entries as written (id, entry), which seed the directory.
    pub report_entries: Vec<(String, serde_json::Value)>,
}

impl std::ops::Deref for Config {
    type Target = Rules;
    fn deref(&self) -> &Rules {
        &self.rules
    }
}

#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

/// Where the database is, for messages: the SQLite file, or the PostgreSQL URL without its password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(url) => {
                let shown = match (url.find("://"), url.rfind('@')) {
                    (Some(s), Some(at)) if at > s => {
                        let creds = &url[s + 3..at];
                        match creds.split_once(':') {
                            Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                            None => url.clone(),
                        }
                    }
                    _ => url.clone(),
                };
                f.write_str(&shown)
            }
        }
    }
}

#[derive(Debug, Clone)]
pub enum Source {
    Maildir(PathBuf),
    Imap { tls: bool, user: String, host: String, port: u16, mailbox: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Flag,
    Move(String),
}

#[derive(Debug, Clone)]
pub struct Intake {
    pub source: Source,
    /// How the IMAP server is logged in to (a password from `password_env`, by default
    /// BAOCAO_IMAP_PASSWORD, or `password_command`; or an OAuth2 token).
    pub auth: Auth,
    pub password_env: Option<String>,
    pub after: After,
    pub poll_seconds: u64,
    pub max_message_bytes: u64,
    /// Only mail that arrived within this many days is acknowledged (default 7): pointed at a
    /// mailbox with years of history, a first start records old mail without answering it.
    pub acknowledge_within_days: i64,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum Transport {
    File(PathBuf),
    Smtp { mode: SmtpMode, host: String, port: u16 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpMode {
    StartTls,
    Tls,
    Plain,
}

#[derive(Debug, Clone)]
pub struct Outbound {
    pub transport: Transport,
    pub from: String,
    pub user_env: Option<String>,
    /// The login name written in the config (not secret), instead of `user_env`.
    pub user: Option<String>,
    /// How the SMTP server is logged in to; None: no login (a relay that trusts the host).
    pub auth: Option<Auth>,
    /// Recipients per rolling 24 hours the server takes from this account; None: no limit.
    pub daily_limit: Option<i64>,
    pub password_env: Option<String>,
    /// Seconds a claimed mail stays with its sender; after a crash it is retried (or, when it
    /// was being handed over, settled) once this has passed.
    pub lease_seconds: i64,
    /// A mail the server keeps refusing for now fails for good after this many days.
    pub give_up_days: i64,
    /// Acknowledgements one address gets per hour at most (a flood is recorded, not answered).
    pub acks_per_sender_hour: i64,
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub reminders: Option<cron::Schedule>,
    pub digest: Option<cron::Schedule>,
    pub office_status: Option<cron::Schedule>,
    /// When the review notice goes to office.staff (only on working days, only when messages wait).
    pub review_notice: Option<cron::Schedule>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), source: e })?;
        Config::from_str_at(&text, path)
    }

    pub fn from_str_at(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let p = path.display().to_string();
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            ConfigError::Invalid { path: p.clone(), line, message: e.message().trim().to_string() }
        })?;
        let dir = path.parent().map(|d| if d.as_os_str().is_empty() { Path::new(".") } else { d }).unwrap_or(Path::new(".")).to_path_buf();
        let loc = Locator { text, path: &p };
        build(raw, &loc, path, &dir)
    }
}

/// The login keys of `[intake]` or `[outbound]`.
struct LoginKeys<'a> {
    auth: &'a Option<String>,
    password_env: &'a Option<String>,
    password_command: &'a Option<String>,
    token_command: &'a Option<String>,
    token_url: &'a Option<String>,
    client_id: &'a Option<String>,
    client_secret_env: &'a Option<String>,
    refresh_token_env: &'a Option<String>,
    scope: &'a Option<String>,
}

macro_rules! login_keys {
    ($r:expr) => {
        LoginKeys {
            auth: &$r.auth,
            password_env: &$r.password_env,
            password_command: &$r.password_command,
            token_command: &$r.token_command,
            token_url: &$r.token_url,
            client_id: &$r.client_id,
            client_secret_env: &$r.client_secret_env,
            refresh_token_env: &$r.refresh_token_env,
            scope: &$r.scope,
        }
    };
}

/// How the server of `table` is logged in to; None when nothing is said (and no default).
fn login_of(k: LoginKeys<'_>, table: &str, loc: &Locator<'_>, default_password_env: Option<&str>) -> Result<Option<Auth>, ConfigError> {
    let set = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let token_keys = [("token_command", k.token_command), ("token_url", k.token_url), ("client_id", k.client_id), ("client_secret_env", k.client_secret_env), ("refresh_token_env", k.refresh_token_env), ("scope", k.scope)];
    let mechanism = match set(k.auth).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("password") => None,
        Some("xoauth2") => Some(Mechanism::XOAuth2),
        Some("oauthbearer") => Some(Mechanism::OAuthBearer),
        Some(other) => return Err(loc.err(table, None, "auth", format!("`{other}`: expected \"password\", \"xoauth2\" or \"oauthbearer\""))),
    };
    let Some(mechanism) = mechanism else {
        if let Some((key, _)) = token_keys.iter().find(|(_, v)| set(v).is_some()) {
            return Err(loc.err(table, None, key, "an OAuth2 setting: set auth = \"xoauth2\" or \"oauthbearer\" too".into()));
        }
        return match (set(k.password_env), set(k.password_command)) {
            (Some(_), Some(_)) => Err(loc.err(table, None, "password_command", "give password_env or password_command, not both".into())),
            (Some(v), None) => Ok(Some(Auth::Password(Secret::Env(v)))),
            (None, Some(c)) => Ok(Some(Auth::Password(Secret::Command(c)))),
            (None, None) => Ok(default_password_env.map(|v| Auth::Password(Secret::Env(v.to_string())))),
        };
    };
    for (key, v) in [("password_env", k.password_env), ("password_command", k.password_command)] {
        if set(v).is_some() {
            return Err(loc.err(table, None, key, "an OAuth2 login takes no password: remove it, or set auth = \"password\"".into()));
        }
    }
    let token = match (set(k.token_command), set(k.token_url)) {
        (Some(_), Some(_)) => return Err(loc.err(table, None, "token_url", "give token_command or token_url, not both".into())),
        (None, None) => return Err(loc.err(table, None, "auth", "an OAuth2 login needs token_command, or token_url with client_id and refresh_token_env".into())),
        (Some(c), None) => TokenSource::Command(c),
        (None, Some(url)) => {
            let loopback = url.strip_prefix("http://").map(|r| r.split(['/', ':']).next().unwrap_or("")).is_some_and(|h| crate::tls::is_loopback(h.trim_matches(['[', ']'])));
            if !url.starts_with("https://") && !loopback {
                return Err(loc.err(table, None, "token_url", format!("`{url}`: expected an https:// URL")));
            }
            let client_id = set(k.client_id).ok_or_else(|| loc.err(table, None, "token_url", "needs client_id (the OAuth2 client registered for baocao)".into()))?;
            let refresh = set(k.refresh_token_env).ok_or_else(|| loc.err(table, None, "token_url", "needs refresh_token_env (the variable holding the refresh token)".into()))?;
            TokenSource::Refresh { url, client_id, client_secret: set(k.client_secret_env).map(Secret::Env), refresh_token: Secret::Env(refresh), scope: set(k.scope) }
        }
    };
    Ok(Some(Auth::OAuth2 { mechanism, token }))
}

struct Locator<'a> {
    text: &'a str,
    path: &'a str,
}

impl Locator<'_> {
    /// The line of `key` inside the `index`-th `[[table]]` (or `[table]` when index is None).
    fn line(&self, table: &str, index: Option<usize>, key: &str) -> usize {
        let header = match index {
            Some(_) => format!("[[{table}]]"),
            None => format!("[{table}]"),
        };
        let mut seen = 0usize;
        let mut in_table = false;
        let mut table_line = 0;
        for (i, l) in self.text.lines().enumerate() {
            let t = l.trim();
            if t.starts_with('[') {
                if t.starts_with(&header) {
                    let want = index.unwrap_or(0);
                    in_table = seen == want;
                    if in_table {
                        table_line = i + 1;
                    }
                    seen += 1;
                } else {
                    if in_table {
                        return table_line;
                    }
                    in_table = false;
                }
                continue;
            }
            if in_table {
                let k = t.split('=').next().unwrap_or("").trim();
                if k == key {
                    return i + 1;
                }
            }
        }
        table_line
    }

    fn err(&self, table: &str, index: Option<usize>, key: &str, message: String) -> ConfigError {
        let what = match index {
            Some(i) => format!("[[{table}]] #{} key `{key}`", i + 1),
            None => format!("[{table}] key `{key}`"),
        };
        ConfigError::Invalid { path: self.path.to_string(), line: self.line(table, index, key), message: format!("{what}: {message}") }
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

fn resolve(dir: &Path, p: &str) -> PathBuf {
    let pb = PathBuf::from(p);
    if pb.is_absolute() {
        pb
    } else {
        dir.join(pb)
    }
}

fn build(raw: RawConfig, loc: &Locator, path: &Path, dir: &Path) -> Result<Config, ConfigError> {
    let authserv_id = raw.intake.as_ref().and_then(|i| i.authserv_id.as_ref());
    let office = office_of(raw.office, authserv_id, loc, dir)?;
    let database = database_of(raw.database, loc, dir)?;
    let intake = intake_of(raw.intake, loc, dir)?;
    let outbound = outbound_of(raw.outbound, &office, loc, dir)?;
    let schedule = schedule_of(raw.schedule, loc)?;
    let calendar = calendar_of(raw.calendar, loc)?;
    let (units, groups) = units_of(raw.unit, loc)?;
    let group_names = groups_of(&raw.group, &groups, &units, loc)?;
    let (reports, report_entries) = reports_of(raw.report, &groups, loc, dir)?;
    let limits = raw.limits.unwrap_or_default();
    Ok(Config {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        database,
        intake,
        outbound,
        schedule,
        public_url: raw.http.as_ref().and_then(|h| h.public_url.as_ref()).map(|u| u.trim_end_matches('/').to_string()),
        http: raw.http.map(|h| h.listen),
        limits,
        rules: Rules { office, calendar, units, reports, groups: group_names, extensions: vec![] },
        report_entries,
    })
}

/// `[office]`: its name, address and time zone; leadership and staff addresses, lowercased.
fn office_of(o: RawOffice, authserv_id: Option<&String>, loc: &Locator, dir: &Path) -> Result<Office, ConfigError> {
    let timezone = Tz::from_str(&o.timezone)
        .map_err(|_| loc.err("office", None, "timezone", format!("unknown time zone `{}`", o.timezone)))?;
    if !o.address.contains('@') {
        return Err(loc.err("office", None, "address", format!("`{}` is not an e-mail address", o.address)));
    }
    Ok(Office {
        name: o.name,
        address: o.address.trim().to_ascii_lowercase(),
        timezone,
        leadership: o.leadership.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        staff: o.staff.iter().map(|s| s.trim().to_ascii_lowercase()).collect(),
        templates: resolve(dir, o.templates.as_deref().unwrap_or("templates")),
        authserv_id: authserv_id.map(|a| a.trim().to_ascii_lowercase()).filter(|a| !a.is_empty()),
    })
}

/// `[database]`: SQLite beside the config by default, or PostgreSQL (the URL may come from the
/// environment).
fn database_of(db: Option<RawDatabase>, loc: &Locator, dir: &Path) -> Result<Database, ConfigError> {
    let db = db.unwrap_or(RawDatabase { url: "sqlite://var/baocao.db".into(), url_env: None });
    let url = match &db.url_env {
        Some(var) => std::env::var(var).unwrap_or(db.url.clone()),
        None => db.url.clone(),
    };
    Ok(if let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
        let rest = rest.split('?').next().unwrap_or(rest);
        if rest.is_empty() {
            return Err(loc.err("database", None, "url", "a sqlite url needs a file path".into()));
        }
        Database::Sqlite(resolve(dir, rest))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Database::Postgres(url)
    } else {
        return Err(loc.err("database", None, "url", format!("`{}`: expected sqlite://PATH or postgres://…", db.url)));
    })
}

/// `[intake]`: where mail comes from, what is done with it after, and its limits.
fn intake_of(i: Option<RawIntake>, loc: &Locator, dir: &Path) -> Result<Intake, ConfigError> {
    // No [intake]: the Maildir beside the config, every other key at its default.
    let i = i.unwrap_or(RawIntake {
        source: "maildir:var/inbox".into(),
        after: default_after(),
        poll_seconds: default_poll(),
        max_message_mb: default_max_mb(),
        ..RawIntake::default()
    });
    let source = parse_source(&i.source, dir).map_err(|m| loc.err("intake", None, "source", m))?;
    let after = if i.after == "flag" {
        After::Flag
    } else if let Some(f) = i.after.strip_prefix("move:") {
        if f.trim().is_empty() {
            return Err(loc.err("intake", None, "after", "`move:` needs a folder name".into()));
        }
        After::Move(f.trim().to_string())
    } else {
        return Err(loc.err("intake", None, "after", format!("`{}`: expected \"flag\" or \"move:FOLDER\"", i.after)));
    };
    if i.poll_seconds == 0 {
        return Err(loc.err("intake", None, "poll_seconds", "must be at least 1".into()));
    }
    // SPEC §3 names BAOCAO_IMAP_PASSWORD; a config may name another variable, or a command.
    let auth = login_of(login_keys!(i), "intake", loc, Some("BAOCAO_IMAP_PASSWORD"))?.expect("a default is given");
    Ok(Intake {
        source,
        auth,
        password_env: i.password_env,
        after,
        poll_seconds: i.poll_seconds,
        max_message_bytes: i.max_message_mb.max(1) * 1024 * 1024,
        acknowledge_within_days: i.acknowledge_within_days.unwrap_or(DEFAULT_ACK_DAYS).max(0),
        ca_file: i.ca_file.as_deref().map(|p| resolve(dir, p)),
    })
}

/// `[outbound]`: the transport and the sender's limits.
fn outbound_of(ob: Option<RawOutbound>, office: &Office, loc: &Locator, dir: &Path) -> Result<Outbound, ConfigError> {
    let ob = ob.unwrap_or(RawOutbound { transport: "file:var/outbox".into(), ..RawOutbound::default() });
    let ob_auth = login_of(login_keys!(ob), "outbound", loc, None)?;
    if ob.user.is_some() && ob.user_env.is_some() {
        return Err(loc.err("outbound", None, "user", "give user or user_env, not both".into()));
    }
    if ob.daily_limit.is_some_and(|n| n < 1) {
        return Err(loc.err("outbound", None, "daily_limit", "must be at least 1 (leave it out for no limit)".into()));
    }
    let transport = parse_transport(&ob.transport, dir).map_err(|m| loc.err("outbound", None, "transport", m))?;
    Ok(Outbound {
        transport,
        from: ob.from.unwrap_or_else(|| format!("{} <{}>", office.name, office.address)),
        user_env: ob.user_env,
        user: ob.user.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()),
        auth: ob_auth,
        daily_limit: ob.daily_limit,
        password_env: ob.password_env,
        lease_seconds: ob.lease_seconds.unwrap_or(300).clamp(1, 86_400) as i64,
        give_up_days: ob.give_up_days.unwrap_or(3).clamp(1, 365),
        acks_per_sender_hour: ob.acks_per_sender_hour.unwrap_or(20).max(1),
        ca_file: ob.ca_file.as_deref().map(|p| resolve(dir, p)),
    })
}

/// `[schedule]`: the jobs' cron expressions (the review notice at the reminders' time unless
/// given).
fn schedule_of(s: Option<RawSchedule>, loc: &Locator) -> Result<Schedule, ConfigError> {
    let s = s.unwrap_or(RawSchedule { reminders: None, review_notice: None, digest: None, office_status: None });
    let cron_of = |key: &str, v: &Option<String>| -> Result<Option<cron::Schedule>, ConfigError> {
        match v {
            None => Ok(None),
            Some(expr) => cron::Schedule::from_str(expr)
                .map(Some)
                .map_err(|e| loc.err("schedule", None, key, format!("bad cron expression `{expr}`: {e}"))),
        }
    };
    Ok(Schedule {
        reminders: cron_of("reminders", &s.reminders)?,
        review_notice: cron_of("review_notice", &s.review_notice.clone().or(s.reminders.clone()))?,
        digest: cron_of("digest", &s.digest)?,
        office_status: cron_of("office_status", &s.office_status)?,
    })
}

/// `[calendar]`: when the office began counting, holidays, and whether deadlines move to a
/// working day.
fn calendar_of(c: Option<RawCalendar>, loc: &Locator) -> Result<Calendar, ConfigError> {
    let c = c.unwrap_or(RawCalendar { start: None, shift_to_workday: false, holidays: vec![] });
    let start = match &c.start {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| loc.err("calendar", None, "start", format!("`{d}` is not a date (YYYY-MM-DD)")))?,
        None => NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
    };
    let mut holidays = HashSet::new();
    for h in &c.holidays {
        holidays.insert(
            NaiveDate::parse_from_str(h, "%Y-%m-%d")
                .map_err(|_| loc.err("calendar", None, "holidays", format!("`{h}` is not a date (YYYY-MM-DD)")))?,
        );
    }
    Ok(Calendar { start, shift_to_workday: c.shift_to_workday, holidays })
}

/// `[[unit]]`: ids and addresses each given once, dates in order, a merger naming another unit
/// of the file; with the groups the units are in.
fn units_of(raw: Vec<RawUnit>, loc: &Locator) -> Result<(Vec<Unit>, HashSet<String>), ConfigError> {
    let mut units = Vec::new();
    let mut ids = HashSet::new();
    let mut emails: HashMap<String, String> = HashMap::new();
    let mut groups = HashSet::new();
    for (n, u) in raw.into_iter().enumerate() {
        let id = UnitId::parse(&u.id).map_err(|e| loc.err("unit", Some(n), "id", e.to_string()))?;
        if !ids.insert(id.clone()) {
            return Err(loc.err("unit", Some(n), "id", format!("duplicate unit id `{id}`")));
        }
        let mut es = Vec::new();
        for e in &u.emails {
            let e = e.trim().to_ascii_lowercase();
            if !e.contains('@') {
                return Err(loc.err("unit", Some(n), "emails", format!("`{e}` is not an e-mail address")));
            }
            if let Some(other) = emails.insert(e.clone(), id.to_string()) {
                return Err(loc.err("unit", Some(n), "emails", format!("`{e}` is already registered to unit `{other}`")));
            }
            es.push(e);
        }
        let group = u.group.unwrap_or_else(|| "default".into());
        groups.insert(group.clone());
        let day = |key: &str, v: &Option<String>| -> Result<Option<NaiveDate>, ConfigError> {
            v.as_deref()
                .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| loc.err("unit", Some(n), key, format!("`{d}` is not a date (YYYY-MM-DD)"))))
                .transpose()
        };
        let (active_from, active_until) = (day("active_from", &u.active_from)?, day("active_until", &u.active_until)?);
        if let (Some(f), Some(t)) = (active_from, active_until) {
            if t < f {
                return Err(loc.err("unit", Some(n), "active_until", format!("{t} is before active_from {f}")));
            }
        }
        let merged_into = u.merged_into.as_deref().map(|m| UnitId::parse(m).map_err(|e| loc.err("unit", Some(n), "merged_into", e.to_string()))).transpose()?;
        units.push(Unit { id, name: u.name, aliases: u.aliases, emails: es, group, active_from, active_until, merged_into });
    }
    for (n, u) in units.iter().enumerate() {
        if let Some(m) = &u.merged_into {
            if m == &u.id || !ids.contains(m) {
                return Err(loc.err("unit", Some(n), "merged_into", format!("`{m}` is not another unit of the file")));
            }
        }
    }
    Ok((units, groups))
}

/// The groups' names: as the file gives them, else the words every member's name begins with
/// ("Trung tâm Y tế …" → "Trung tâm Y tế"), so a page never shows a group's id.
fn groups_of(raw: &[RawGroup], groups: &HashSet<String>, units: &[Unit], loc: &Locator) -> Result<Vec<crate::domain::rules::Group>, ConfigError> {
    let mut group_names: Vec<crate::domain::rules::Group> = Vec::new();
    for (n, g) in raw.iter().enumerate() {
        if !groups.contains(&g.id) {
            return Err(loc.err("group", Some(n), "id", format!("no unit is in group `{}` (groups: {})", g.id, sorted(groups))));
        }
        group_names.push(crate::domain::rules::Group { id: g.id.clone(), name: g.name.trim().to_string() });
    }
    let mut unnamed: Vec<&String> = groups.iter().filter(|g| !group_names.iter().any(|x| &x.id == *g)).collect();
    unnamed.sort();
    for (k, g) in unnamed.into_iter().enumerate() {
        let names: Vec<&str> = units.iter().filter(|u| &u.group == g).map(|u| u.name.as_str()).collect();
        // One unit: its name; several with nothing in common: the first two named.
        let name = crate::domain::rules::Group::derived_name(&names).unwrap_or_else(|| match names.as_slice() {
            [one] => one.to_string(),
            [a, b] => format!("{a}, {b}"),
            [a, b, ..] => format!("{a}, {b} và {} đơn vị khác", names.len() - 2),
            [] => format!("Nhóm đơn vị {}", k + 1),
        });
        group_names.push(crate::domain::rules::Group { id: g.clone(), name });
    }
    Ok(group_names)
}

/// `[[report]]`: each kind built and checked, with its entry as written (the directory's record).
#[allow(clippy::type_complexity)]
fn reports_of(raw: Vec<RawReport>, groups: &HashSet<String>, loc: &Locator, dir: &Path) -> Result<(Vec<Report>, Vec<(String, serde_json::Value)>), ConfigError> {
    let mut reports = Vec::new();
    let mut rids = HashSet::new();
    let mut report_entries = Vec::new();
    for (n, r) in raw.into_iter().enumerate() {
        let id = ReportId::parse(&r.id).map_err(|e| loc.err("report", Some(n), "id", e.to_string()))?;
        if !rids.insert(id.clone()) {
            return Err(loc.err("report", Some(n), "id", format!("duplicate report id `{id}`")));
        }
        let entry = entry_json(&r);
        let report = build_report(r, groups, dir).map_err(|(key, m)| loc.err("report", Some(n), key, m))?;
        report_entries.push((id.to_string(), entry));
        reports.push(report);
    }
    Ok((reports, report_entries))
}

/// A `[[report]]` entry as JSON, keys left out where the file left them out (the directory's
/// record of a report kind, SPEC §17).
fn entry_json(r: &RawReport) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or(serde_json::Value::Null);
    strip_empty(&mut v);
    if let Some(due) = v.get_mut("due").and_then(|d| d.as_object_mut()) {
        due.retain(|k, x| !((k == "exclusive" && *x == false) || (k == "year_offset" && *x == 0)));
    }
    v
}

/// Drops null values and empty lists, so an entry reads as the file wrote it and exports as TOML.
fn strip_empty(v: &mut serde_json::Value) {
    if let serde_json::Value::Object(m) = v {
        m.retain(|_, x| !(x.is_null() || x.as_array().is_some_and(|a| a.is_empty())));
        for x in m.values_mut() {
            strip_empty(x);
        }
    }
}

/// One report kind from its entry; the error names the key and says why. `groups`: the unit
/// groups `applies_to` may name; `dir`: where a `form` path is read from.
fn build_report(r: RawReport, groups: &HashSet<String>, dir: &Path) -> Result<Report, (&'static str, String)> {
    let id = ReportId::parse(&r.id).map_err(|e| ("id", e.to_string()))?;
    let period = PeriodKind::parse(&r.period).ok_or_else(|| ("period", format!("`{}`: expected quarter, half, year, month or once", r.period)))?;
    if let Some(qs) = &r.quarters {
        if period != PeriodKind::Quarter {
            return Err(("quarters", "only a quarterly report can name quarters".into()));
        }
        if qs.is_empty() || qs.iter().any(|q| !(1..=4).contains(q)) {
            return Err(("quarters", "quarters are 1 to 4".into()));
        }
    }
    let due = parse_due(&r.due, period).map_err(|m| ("due", m))?;
    let once_for = match (&r.for_, period) {
        (Some(f), _) => Some(
            f.trim()
                .parse::<i32>()
                .map_err(|_| ("for", format!("`{f}` is not a year")))?,
        ),
        (None, PeriodKind::Once) => match &due {
            DueRule::Date(d) => Some(chrono::Datelike::year(d)),
            _ => None,
        },
        _ => None,
    };
    if period == PeriodKind::Once && !matches!(due, DueRule::Date(_)) {
        return Err(("due", "a one-off report (period = \"once\") needs due = { date = \"YYYY-MM-DD\" }".into()));
    }
    let mut applies = Vec::new();
    for g in r.applies_to.unwrap_or_else(|| vec!["*".into()]) {
        if g == "*" {
            applies.clear();
            break;
        }
        if !groups.contains(&g) {
            return Err(("applies_to", format!("unknown unit group `{g}` (groups: {})", sorted(&groups))));
        }
        applies.push(g);
    }
    let extract = match r.extract.as_deref().unwrap_or("report") {
        "report" => Extract::Report,
        "score-table" => Extract::ScoreTable,
        "commitments" => Extract::Commitments,
        "task-plan" => Extract::TaskPlan,
        other => {
            return Err(("extract", format!("`{other}`: expected report, score-table, commitments or task-plan")))
        }
    };
    for (key, days) in [("remind_before_days", &r.remind_before_days), ("remind_after_days", &r.remind_after_days)] {
        if days.iter().any(|d| *d < 0 || *d > 366) {
            return Err((key, "days are between 0 and 366".into()));
        }
    }
    if r.keywords.iter().all(|k| fold(k).is_empty()) {
        return Err(("keywords", "a report kind needs at least one keyword".into()));
    }
    if let Some(f) = r.outlier_factor {
        if !(f > 1.0 && f.is_finite()) {
            return Err(("outlier_factor", format!("{f}: expected a number above 1 (e.g. 3)")));
        }
    }
    let form = match &r.form {
        Some(shown) => {
            let path = resolve(dir, shown);
            let f = crate::parse::form::load(&path, shown, r.form_sheet.as_deref(), &r.form_rules, r.outlier_factor).map_err(|e| {
                let key = if e.starts_with("form_rules") { "form_rules" } else { "form" };
                (key, e)
            })?;
            Some(std::sync::Arc::new(f))
        }
        None if !r.form_rules.is_empty() || r.form_sheet.is_some() || r.outlier_factor.is_some() => {
            return Err(("form", "form_sheet, form_rules and outlier_factor need `form` (the office's blank form)".into()));
        }
        None => None,
    };
    let report = Report {
        id,
        name: r.name,
        keywords: r.keywords,
        doc_types: r.doc_types,
        period,
        quarters: r.quarters,
        due,
        applies_to: applies,
        extract,
        remind_before_days: r.remind_before_days,
        remind_after_days: r.remind_after_days,
        escalate_after_days: r.escalate_after_days,
        catch_up_days: r.catch_up_days.unwrap_or(1).max(0),
        once_for,
        expected_commitments: r.expected_commitments.unwrap_or(10),
        letter: None,
        form,
    };
    // A `due` that cannot be computed for some period (31 in a 30-day month) fails here,
    // not on the day it is first needed.
    for year in [2020, 2021, 2023, 2024] {
        for p in report.periods_in(year) {
            if report.due.date_for(p).is_none() {
                return Err(("due", format!("no such date for period {p}")));
            }
        }
    }
    Ok(report)
}

/// A report kind from its directory record (SPEC §17), read as the file's `[[report]]` entry
/// is: the same checks, errors naming the key. `groups`: the unit groups of the directory.
pub fn report_from_entry(id: &str, entry: &serde_json::Value, groups: &HashSet<String>, dir: &Path) -> Result<Report, String> {
    let mut v = entry.clone();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("id".into(), serde_json::Value::String(id.to_string()));
    }
    let r: RawReport = serde_json::from_value(v).map_err(|e| format!("report `{id}`: {e}"))?;
    build_report(r, groups, dir).map_err(|(key, m)| format!("report `{id}`, `{key}`: {m}"))
}

/// The TOML text of report entries (`directory export`): `[[report]]` tables, keys in the
/// order an office writes them, a deadline as an inline table.
pub fn reports_toml(entries: &[(String, serde_json::Value)]) -> String {
    const ORDER: &[&str] = &[
        "name", "period", "quarters", "for", "due", "applies_to", "keywords", "doc_types", "extract", "remind_before_days", "remind_after_days",
        "escalate_after_days", "catch_up_days", "expected_commitments", "form", "form_sheet", "form_rules", "outlier_factor",
    ];
    let mut out = String::new();
    for (id, e) in entries {
        let mut e = e.clone();
        strip_empty(&mut e);
        let Ok(toml::Value::Table(t)) = toml::Value::try_from(&e) else { continue };
        out.push_str(&format!("\n[[report]]\nid = {}\n", toml::Value::String(id.clone())));
        let rest = t.keys().filter(|k| !ORDER.contains(&k.as_str()) && k.as_str() != "id");
        for k in ORDER.iter().copied().filter(|k| t.contains_key(*k)).chain(rest.map(String::as_str)) {
            out.push_str(&format!("{k} = {}\n", t[k]));
        }
    }
    out
}

/// Days within which mail is acknowledged when the config does not say.
pub const DEFAULT_ACK_DAYS: i64 = 7;

fn sorted(s: &HashSet<String>) -> String {
    let mut v: Vec<_> = s.iter().cloned().collect();
    v.sort();
    v.join(", ")
}

fn parse_due(d: &RawDue, period: PeriodKind) -> Result<DueRule, String> {
    if let Some(date) = &d.date {
        if d.month.is_some() || d.day.is_some() {
            return Err("give either `date` or `month` and `day`, not both".into());
        }
        let nd = NaiveDate::parse_from_str(date, "%Y-%m-%d").map_err(|_| format!("`{date}` is not a date (YYYY-MM-DD)"))?;
        return Ok(DueRule::Date(nd));
    }
    let day = d.day.ok_or("`day` is missing")?;
    if !(1..=31).contains(&day) {
        return Err(format!("day {day} is not between 1 and 31"));
    }
    let month = match &d.month {
        None => return Err("`month` is missing (\"last\", \"next\" or 1..12)".into()),
        Some(toml::Value::String(s)) if s == "last" => DueMonth::Last,
        Some(toml::Value::String(s)) if s == "next" => DueMonth::Next,
        Some(toml::Value::Integer(m)) if (1..=12).contains(m) => DueMonth::Month(*m as u32),
        Some(other) => return Err(format!("month {other} is not \"last\", \"next\" or 1..12")),
    };
    if let DueMonth::Month(_) = month {
        if matches!(period, PeriodKind::Quarter | PeriodKind::Month) {
            return Err("a fixed month needs a year or half-year period; use \"last\" or \"next\"".into());
        }
    }
    Ok(DueRule::Relative { month, day, exclusive: d.exclusive, year_offset: d.year_offset })
}

fn parse_source(s: &str, dir: &Path) -> Result<Source, String> {
    if let Some(p) = s.strip_prefix("maildir:") {
        return Ok(Source::Maildir(resolve(dir, p)));
    }
    let (tls, rest) = if let Some(r) = s.strip_prefix("imaps://") {
        (true, r)
    } else if let Some(r) = s.strip_prefix("imap://") {
        (false, r)
    } else {
        return Err(format!("`{s}`: expected maildir:PATH, imaps://user@host:993/INBOX or imap://user@host:143/INBOX"));
    };
    let (userhost, mailbox) = rest.split_once('/').unwrap_or((rest, "INBOX"));
    let (user, hostport) = userhost.rsplit_once('@').ok_or_else(|| format!("`{s}`: the user is missing (imaps://user@host/INBOX)"))?;
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("`{p}` is not a port"))?),
        None => (hostport, if tls { 993 } else { 143 }),
    };
    if host.is_empty() || user.is_empty() {
        return Err(format!("`{s}`: host and user are required"));
    }
    let user = percent_decode(user);
    Ok(Source::Imap { tls, user, host: host.to_string(), port, mailbox: if mailbox.is_empty() { "INBOX".into() } else { percent_decode(mailbox) } })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_transport(s: &str, dir: &Path) -> Result<Transport, String> {
    if let Some(p) = s.strip_prefix("file:") {
        return Ok(Transport::File(resolve(dir, p)));
    }
    let (mode, rest, default_port) = if let Some(r) = s.strip_prefix("smtps://") {
        (SmtpMode::Tls, r, 465)
    } else if let Some(r) = s.strip_prefix("smtp+plain://") {
        (SmtpMode::Plain, r, 25)
    } else if let Some(r) = s.strip_prefix("smtp://") {
        (SmtpMode::StartTls, r, 587)
    } else {
        return Err(format!("`{s}`: expected file:DIR, smtp://host:587, smtps://host:465 or smtp+plain://127.0.0.1:PORT"));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>().map_err(|_| format!("`{p}` is not a port"))?),
        None => (rest.to_string(), default_port),
    };
    if mode == SmtpMode::Plain && !(host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1") {
        return Err(format!("smtp+plain:// is only allowed to a loopback address, not `{host}`"));
    }
    Ok(Transport::Smtp { mode, host, port })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[office]
name = "Văn phòng"
address = "vp@so.example"
timezone = "Asia/Ho_Chi_Minh"

[calendar]
start = "2020-01-01"

[[unit]]
id = "A"
name = "Bệnh viện A"
emails = ["a@x.example"]
group = "benh-vien"

[[report]]
id = "q"
name = "Báo cáo quý"
keywords = ["báo cáo quý"]
period = "quarter"
due = { month = "last", day = 25 }
applies_to = ["benh-vien"]
"#;

    fn load(s: &str) -> Result<Config, ConfigError> {
        Config::from_str_at(s, Path::new("/etc/baocao/test.toml"))
    }

    fn with(section: &str) -> String {
        format!("{GOOD}\n{section}")
    }

    #[test]
    fn logins_are_a_password_from_a_variable_or_command_or_an_oauth2_token() {
        let c = load(&with("[intake]\nsource = \"imaps://vp@mail.x.vn/INBOX\"\n")).unwrap();
        assert_eq!(c.intake.auth, Auth::Password(Secret::Env("BAOCAO_IMAP_PASSWORD".into())), "SPEC §3's variable by default");
        let c = load(&with("[intake]\nsource = \"imaps://vp@mail.x.vn/INBOX\"\npassword_command = \"pass show vp\"\n")).unwrap();
        assert_eq!(c.intake.auth, Auth::Password(Secret::Command("pass show vp".into())));
        let c = load(&with("[intake]\nsource = \"imaps://vp@gmail.com@imap.gmail.com/INBOX\"\nauth = \"xoauth2\"\ntoken_url = \"https://oauth2.googleapis.com/token\"\nclient_id = \"123.apps\"\nclient_secret_env = \"S\"\nrefresh_token_env = \"R\"\n\n[outbound]\ntransport = \"smtps://smtp.gmail.com:465\"\nauth = \"oauthbearer\"\ntoken_command = \"oauth2l fetch\"\ndaily_limit = 450\n")).unwrap();
        assert_eq!(
            c.intake.auth,
            Auth::OAuth2 {
                mechanism: Mechanism::XOAuth2,
                token: TokenSource::Refresh { url: "https://oauth2.googleapis.com/token".into(), client_id: "123.apps".into(), client_secret: Some(Secret::Env("S".into())), refresh_token: Secret::Env("R".into()), scope: None }
            }
        );
        assert_eq!(c.outbound.auth, Some(Auth::OAuth2 { mechanism: Mechanism::OAuthBearer, token: TokenSource::Command("oauth2l fetch".into()) }));
        assert_eq!(c.outbound.daily_limit, Some(450));
        let c = load(GOOD).unwrap();
        assert_eq!(c.outbound.auth, None, "no login unless one is configured");
    }

    #[test]
    fn a_login_that_cannot_work_is_an_error_naming_its_key() {
        for (section, key, words) in [
            ("[intake]\nsource = \"maildir:in\"\nauth = \"kerberos\"\n", "auth", "expected"),
            ("[intake]\nsource = \"maildir:in\"\nauth = \"xoauth2\"\n", "auth", "token_command"),
            ("[intake]\nsource = \"maildir:in\"\ntoken_command = \"x\"\n", "token_command", "auth = "),
            ("[intake]\nsource = \"maildir:in\"\npassword_env = \"P\"\npassword_command = \"x\"\n", "password_command", "not both"),
            ("[intake]\nsource = \"maildir:in\"\nauth = \"xoauth2\"\ntoken_command = \"x\"\npassword_env = \"P\"\n", "password_env", "no password"),
            ("[outbound]\ntransport = \"smtp://s:587\"\nauth = \"xoauth2\"\ntoken_url = \"http://login.example/token\"\nclient_id = \"c\"\nrefresh_token_env = \"R\"\n", "token_url", "https"),
            ("[outbound]\ntransport = \"smtp://s:587\"\nauth = \"xoauth2\"\ntoken_url = \"https://login.example/token\"\nrefresh_token_env = \"R\"\n", "token_url", "client_id"),
            ("[outbound]\ntransport = \"smtp://s:587\"\ndaily_limit = 0\n", "daily_limit", "at least 1"),
        ] {
            let e = load(&with(section)).unwrap_err().to_string();
            assert!(e.contains(&format!("key `{key}`")) && e.contains(words), "{section}: {e}");
        }
        // A token URL on this machine may be plain http (a local token helper, the tests).
        assert!(load(&with("[outbound]\ntransport = \"smtp://s:587\"\nauth = \"xoauth2\"\ntoken_url = \"http://127.0.0.1:8081/token\"\nclient_id = \"c\"\nrefresh_token_env = \"R\"\n")).is_ok());
    }

    #[test]
    fn a_complete_config_loads() {
        let c = load(GOOD).unwrap();
        assert_eq!(c.units.len(), 1);
        assert_eq!(c.reports[0].period, PeriodKind::Quarter);
        assert!(matches!(c.database, Database::Sqlite(ref p) if p.ends_with("var/baocao.db")));
    }

    #[test]
    fn an_unknown_key_names_the_line() {
        let bad = GOOD.replace("group = \"benh-vien\"", "group = \"benh-vien\"\ncolour = \"red\"");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("test.toml:15"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn an_unknown_group_in_applies_to_is_an_error_naming_the_key() {
        let bad = GOOD.replace("applies_to = [\"benh-vien\"]", "applies_to = [\"nha-thuoc\"]");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("applies_to") && e.contains("nha-thuoc") && e.contains(":22:"), "{e}");
    }

    #[test]
    fn a_duplicate_email_is_an_error() {
        let bad = format!("{GOOD}\n[[unit]]\nid = \"B\"\nname = \"B\"\nemails = [\"A@x.example\"]\ngroup = \"benh-vien\"\n");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("already registered"), "{e}");
    }

    #[test]
    fn a_bad_cron_expression_is_an_error() {
        let bad = format!("{GOOD}\n[schedule]\nreminders = \"every morning\"\n");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("reminders") && e.contains("cron"), "{e}");
    }

    #[test]
    fn a_due_day_that_does_not_exist_is_an_error() {
        let bad = GOOD.replace("day = 25", "day = 31");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("due") && e.contains("no such date"), "{e}");
    }

    #[test]
    fn plain_smtp_is_refused_to_a_remote_host() {
        let bad = format!("{GOOD}\n[outbound]\ntransport = \"smtp+plain://mail.example:25\"\n");
        assert!(load(&bad).is_err());
    }
}
