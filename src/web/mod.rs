//! The office's console (SPEC §14): Vietnamese pages for clerks and leadership, served by
//! `baocao run` on `[http] listen` beside `/healthz` and `/metrics`.
//!
//! Server-rendered minijinja templates (auto-escaped), no JavaScript. Every page needs a session
//! (an opaque cookie; the server keeps the session and its CSRF token); every form carries the
//! token and is refused with 403 without it. What a person does goes through `office` — the same
//! actions as the command line, audited under the account's name; nothing here writes a decision
//! or reads SQL. Viewers read, clerks act, admins also manage accounts.

mod actions;
mod upload;
mod directory;
pub(crate) mod figures;
mod mail;
mod pages;
mod reports;

use crate::config::Config;
use crate::health::Shared;
use crate::domain::Role;
use crate::office::{self, OfficeError};
use crate::store::{Session, Store};
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What every request handler shares.
pub struct App {
    pub store: Store,
    pub shared: Arc<Shared>,
    env: Environment<'static>,
    /// The console is reached over HTTPS (`[http] public_url`): cookies are marked Secure.
    secure: bool,
    /// The audit chain's last verification (when, intact, what it said): verifying rehashes every
    /// event, so pages show the last result and a background task refreshes it.
    audit: std::sync::Mutex<Option<(i64, bool, String)>>,
    verifying: std::sync::atomic::AtomicBool,
    /// Every obligation's state, as last computed: (audit events then, computed at, states).
    states: tokio::sync::Mutex<Option<(i64, i64, Arc<States>)>>,
    /// What the last action of a session did, shown once on the next page it opens. Kept here,
    /// by the session's (secret) CSRF token, so that a message on a page always comes from the
    /// server: nothing in an address can make the console say something.
    flashes: std::sync::Mutex<HashMap<String, Flashed>>,
}

/// What an action said, waiting for the page the browser is sent to.
#[derive(Debug, Clone)]
pub(crate) enum Flashed {
    Ok(String),
    Err(String),
}

pub type States = Vec<(crate::schedule::Obligation, crate::schedule::ObligationFacts, crate::domain::ObligationState)>;

/// How long computed states serve pages while nothing new was recorded (a state that changes
/// only with the clock, at a deadline, is then at most this late).
const STATES_SECONDS: i64 = 60;

/// Chains up to this long (well under a second to rehash) are verified whenever the page is shown.
const VERIFY_INLINE_EVENTS: i64 = 20_000;

type AppRef = Arc<App>;

const COOKIE: &str = "baocao_session";

impl App {
    pub fn new(cfg: Arc<Config>, store: Store, shared: Arc<Shared>) -> Arc<App> {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            env.add_template(name, text).expect("the console's templates parse");
        }
        let secure = cfg.public_url.as_deref().is_some_and(|u| u.starts_with("https://"));
        Arc::new(App { store, shared, env, secure, audit: std::sync::Mutex::new(None), verifying: Default::default(), states: Default::default(), flashes: Default::default() })
    }

    /// The office's rules as the daemon last read them: the config file's and the confirmed
    /// requests'.
    pub fn cfg(&self) -> Arc<Config> {
        self.shared.rules.current()
    }

    /// The audit chain's verification for a chain of `events`: a short chain is checked on the
    /// spot; a long one shows the last check (at most ten minutes old) while a new one runs in the
    /// background, or None while the first is under way.
    async fn audit_verdict(self: &Arc<Self>, events: i64) -> Option<(i64, bool, String)> {
        use std::sync::atomic::Ordering;
        if events <= VERIFY_INLINE_EVENTS {
            return self.verify_audit().await;
        }
        let now = chrono::Utc::now().timestamp();
        let last = self.audit.lock().ok().and_then(|g| g.clone());
        if last.as_ref().is_none_or(|(at, _, _)| now - at >= 600) && !self.verifying.swap(true, Ordering::AcqRel) {
            let app = self.clone();
            tokio::spawn(async move {
                app.verify_audit().await;
                app.verifying.store(false, Ordering::Release);
            });
        }
        last
    }

    /// Verifies the chain now and keeps the result for the pages.
    async fn verify_audit(&self) -> Option<(i64, bool, String)> {
        let (ok, text) = match office::verify_audit(&self.store, &[]).await {
            Ok(Ok(i)) => (true, format!("Chuỗi nhật ký nguyên vẹn: {} sự kiện; dấu kiểm mới nhất {}.", i.events, i.head.as_deref().unwrap_or("—"))),
            Ok(Err(b)) => (false, format!("Chuỗi nhật ký bị phá vỡ tại sự kiện {}: {}.", b.seq, b.why)),
            Err(e) => {
                tracing::warn!("console: cannot verify the audit chain: {e}");
                return None;
            }
        };
        let v = (chrono::Utc::now().timestamp(), ok, text);
        if let Ok(mut g) = self.audit.lock() {
            *g = Some(v.clone());
        }
        Some(v)
    }

    /// Every visible obligation's state now: recomputed when anything was recorded since (every
    /// change writes an audit event) or a minute has passed; one computation serves the pages
    /// asked meanwhile. Returns the instant the states are as of.
    async fn states(&self) -> Result<(i64, Arc<States>), crate::store::StoreError> {
        let now = chrono::Utc::now().timestamp();
        let (_, events) = self.store.audit_anchor().await?;
        let mut cache = self.states.lock().await;
        if let Some((n, at, states)) = cache.as_ref() {
            if *n == events && now - at < STATES_SECONDS {
                return Ok((*at, states.clone()));
            }
        }
        let states = Arc::new(crate::facts::states_as_of(&self.cfg(), &self.store, now).await?);
        *cache = Some((events, now, states.clone()));
        Ok((now, states))
    }

    /// Reads the office's rules again after a person changed what joins them (a request
    /// confirmed or cancelled, an extension granted or withdrawn), so the running daemon and
    /// the next page follow at once.
    async fn reread_rules(&self) {
        if let Err(e) = self.shared.rules.refresh(&self.store).await {
            tracing::warn!("cannot read the office's rules again: {e}");
        }
    }

    /// Sends the browser to `to`, where the page shows what the action did (once).
    pub(crate) fn back(&self, s: &Session, to: &str, result: Result<String, String>) -> Response {
        if let Ok(mut g) = self.flashes.lock() {
            // A session that never opens another page leaves one entry; bound the map anyway.
            if g.len() > 10_000 {
                g.clear();
            }
            g.insert(s.csrf.clone(), match result {
                Ok(t) => Flashed::Ok(t),
                Err(t) => Flashed::Err(t),
            });
        }
        Redirect::to(to).into_response()
    }

    fn take_flash(&self, s: &Session) -> Option<Flashed> {
        self.flashes.lock().ok().and_then(|mut g| g.remove(&s.csrf))
    }

    fn render(&self, name: &str, ctx: Value) -> Response {
        match self.env.get_template(name).and_then(|t| t.render(&ctx)) {
            Ok(html) => page(StatusCode::OK, html),
            Err(e) => {
                tracing::error!("console template {name}: {e:#}");
                page(StatusCode::INTERNAL_SERVER_ERROR, format!("<!DOCTYPE html><meta charset=utf-8><p>Lỗi hiển thị trang ({}).</p>", crate::text::escape_html(&e.to_string())))
            }
        }
    }

    /// The context every page of a logged-in person starts from.
    async fn base(&self, s: &Session, active: &str, title: &str) -> serde_json::Map<String, Value> {
        let waiting = self.store.find_submissions(&crate::store::SubmissionFilter { decision: Some(crate::domain::Decision::NeedsReview), ..Default::default() }, 0, 0).await.map(|(_, n)| n).unwrap_or(0);
        let other = office::mail::open_count(&self.cfg(), &self.store).await.map(|n| n as i64).unwrap_or(0);
        let mut nav = vec![
            ("/", "Tổng quan", 0),
            ("/review", "Cần xem xét", waiting),
            ("/mail", "Thư khác", other),
            ("/submissions", "Bài nộp", 0),
            ("/figures", "Số liệu", 0),
            ("/units", "Đơn vị", 0),
            ("/reports", "Loại báo cáo", 0),
            ("/exemptions", "Miễn nộp, gia hạn", 0),
            ("/requests", "Công văn", 0),
            ("/outbox", "Thư đi", 0),
            ("/audit", "Nhật ký", 0),
        ];
        if s.account.role >= Role::Admin {
            nav.push(("/accounts", "Tài khoản", 0));
        }
        // The page of figures only where some report has a form.
        if !self.cfg().reports.iter().any(|r| r.form.is_some()) {
            nav.retain(|(href, _, _)| *href != "/figures");
        }
        let nav: Vec<Value> = nav.into_iter().map(|(href, label, badge)| json!({"href": href, "label": label, "badge": badge, "active": href == active})).collect();
        let mut m = serde_json::Map::new();
        m.insert("office".into(), json!(self.cfg().office.name));
        m.insert("title".into(), json!(title));
        m.insert("me".into(), json!(s.account.name));
        m.insert("role".into(), json!(s.account.role.label_vi()));
        m.insert("can_act".into(), json!(s.account.role >= Role::Clerk));
        m.insert("can_admin".into(), json!(s.account.role >= Role::Admin));
        m.insert("csrf".into(), json!(s.csrf));
        m.insert("nav".into(), Value::Array(nav));
        m.insert("waiting".into(), json!(waiting));
        match self.take_flash(s) {
            Some(Flashed::Ok(t)) => {
                m.insert("flash_ok".into(), json!(t));
            }
            Some(Flashed::Err(t)) => {
                m.insert("flash_err".into(), json!(t));
            }
            None => {}
        }
        m
    }
}

fn page(code: StatusCode, html: String) -> Response {
    let mut r = (code, html).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    secure_headers(h);
    r
}

/// No script runs, nothing is framed, forms post only here: whatever a subject or a file name
/// holds, escaping is not the only defence.
fn secure_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

const TEMPLATES: &[(&str, &str)] = &[
    ("layout.html", include_str!("templates/layout.html")),
    ("login.html", include_str!("templates/login.html")),
    ("message.html", include_str!("templates/message.html")),
    ("overview.html", include_str!("templates/overview.html")),
    ("review.html", include_str!("templates/review.html")),
    ("submissions.html", include_str!("templates/submissions.html")),
    ("submission.html", include_str!("templates/submission.html")),
    ("units.html", include_str!("templates/units.html")),
    ("reports.html", include_str!("templates/reports.html")),
    ("report.html", include_str!("templates/report.html")),
    ("report_form.html", include_str!("templates/report_form.html")),
    ("figures.html", include_str!("templates/figures.html")),
    ("unit.html", include_str!("templates/unit.html")),
    ("exemptions.html", include_str!("templates/exemptions.html")),
    ("requests.html", include_str!("templates/requests.html")),
    ("outbox.html", include_str!("templates/outbox.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("accounts.html", include_str!("templates/accounts.html")),
    ("password.html", include_str!("templates/password.html")),
    ("mail.html", include_str!("templates/mail.html")),
];

/// Serves the console until `shutdown`; requests in flight finish first.
pub async fn serve(listener: TcpListener, app: Arc<App>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let router = routes(app);
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await?;
    Ok(())
}

pub fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/", get(pages::overview))
        .route("/status", get(pages::overview))
        .route("/export", get(pages::export))
        .route("/review", get(pages::review))
        .route("/review/{id}/accept", post(actions::accept))
        .route("/review/{id}/assign", post(actions::assign))
        .route("/review/{id}/reject", post(actions::reject))
        .route("/submissions", get(pages::submissions))
        .route("/submissions/{id}", get(pages::submission))
        .route("/submissions/{id}/raw", get(pages::raw))
        .route("/submissions/{id}/files/{n}", get(pages::file))
        .route("/figures", get(figures::page))
        .route("/figures/xlsx", get(figures::xlsx))
        .route("/figures/{id}/confirm", post(figures::confirm))
        .route("/mail", get(mail::page))
        .route("/mail/{id}/answer", post(mail::answer))
        .route("/mail/{id}/handled", post(mail::handled))
        .route("/units", get(pages::units).post(directory::add))
        .route("/units/{id}", get(pages::unit).post(directory::save))
        .route("/units/{id}/merge", post(directory::merge))
        .route("/groups", post(directory::group))
        .route("/reports", get(reports::page).post(reports::add))
        .route("/reports/{id}", get(reports::kind).post(reports::save))
        .route("/requests/{id}/periodic/{k}", post(reports::adopt))
        .route("/submissions/{id}/address", post(directory::learn))
        .route("/exemptions", get(pages::exemptions).post(actions::exempt))
        .route("/exemptions/withdraw", post(actions::withdraw))
        .route("/extensions", post(actions::extend))
        .route("/extensions/withdraw", post(actions::withdraw_extension))
        .route("/requests", get(pages::requests))
        .route("/requests/upload", post(actions::upload_letter).layer(axum::extract::DefaultBodyLimit::max(26 << 20)))
        .route("/requests/{id}/confirm", post(actions::confirm_request))
        .route("/requests/{id}/cancel", post(actions::cancel_request))
        .route("/outbox", get(pages::outbox))
        .route("/outbox/retry", post(actions::retry))
        .route("/audit", get(pages::audit))
        .route("/accounts", get(pages::accounts).post(actions::add_account))
        .route("/accounts/{name}/disable", post(actions::disable_account))
        .route("/accounts/{name}/enable", post(actions::enable_account))
        .route("/password", get(pages::password).post(actions::password))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(app)
}

async fn not_found(State(app): State<AppRef>, headers: HeaderMap) -> Response {
    match who(&app, &headers).await {
        Ok(s) => message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy trang", "Trang này không có. Hãy chọn một mục ở thanh trên.").await,
        Err(r) => r,
    }
}

async fn healthz(State(app): State<AppRef>) -> Response {
    let (code, body) = crate::health::healthz(&app.cfg(), &app.store, &app.shared).await;
    let mut r = (StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE), body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn metrics(State(app): State<AppRef>) -> Response {
    match crate::health::metrics(&app.store, &app.shared).await {
        Ok(m) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], m).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

// ----- sessions, CSRF, roles -----

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The session of the request, or the response sending the browser to the login page.
async fn who(app: &App, headers: &HeaderMap) -> Result<Session, Response> {
    let token = cookie(headers, COOKIE).unwrap_or_default();
    if !token.is_empty() {
        match app.store.session(&office::accounts::token_hash(&token)).await {
            Ok(Some(s)) => return Ok(s),
            Ok(None) => {}
            Err(e) => return Err(unavailable(&e.to_string())),
        }
    }
    Err(Redirect::to("/login").into_response())
}

fn unavailable(why: &str) -> Response {
    tracing::warn!("console: {why}");
    page(StatusCode::SERVICE_UNAVAILABLE, "<!DOCTYPE html><meta charset=utf-8><title>Tạm thời không phục vụ được</title><p>Không đọc được cơ sở dữ liệu. Vui lòng thử lại sau ít phút.</p>".into())
}

/// A form as posted: every field by name (repeated fields joined with commas).
pub struct Posted(HashMap<String, String>);

impl Posted {
    fn get(&self, k: &str) -> &str {
        self.0.get(k).map(|s| s.trim()).unwrap_or("")
    }
    fn checked(&self, k: &str) -> bool {
        !self.get(k).is_empty()
    }
    /// Whether the form carried the field at all (a clerk's form carries fewer than an admin's).
    fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
    /// A field as typed (a list on several lines).
    fn raw(&self, k: &str) -> &str {
        self.0.get(k).map(String::as_str).unwrap_or("")
    }
    /// The ticked boxes named `prefix` + a value (`unit:BVA`), their values sorted.
    fn ticked(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self.0.iter().filter(|(k, x)| k.starts_with(prefix) && !x.trim().is_empty()).map(|(k, _)| k[prefix.len()..].to_string()).collect();
        v.sort();
        v
    }
}

/// The checks every form passes before its action: a session, the session's CSRF token, and a
/// role allowed to act.
async fn acting(app: &App, headers: &HeaderMap, form: Vec<(String, String)>, needs: Role) -> Result<(Session, Posted), Response> {
    let s = who(app, headers).await?;
    let mut m: HashMap<String, String> = HashMap::new();
    for (k, v) in form {
        match m.get_mut(&k) {
            Some(x) => {
                x.push(',');
                x.push_str(&v);
            }
            None => {
                m.insert(k, v);
            }
        }
    }
    let sent = m.get("csrf").map(String::as_str).unwrap_or("");
    if !same(sent.as_bytes(), s.csrf.as_bytes()) {
        tracing::warn!(account = %s.account.name, "console: a form without its CSRF token was refused");
        return Err(message(app, &s, StatusCode::FORBIDDEN, "Biểu mẫu không hợp lệ", "Biểu mẫu này đã cũ hoặc không gửi từ bảng điều khiển. Hãy tải lại trang rồi làm lại.").await);
    }
    if s.account.role < needs {
        return Err(message(app, &s, StatusCode::FORBIDDEN, "Không có quyền", "Tài khoản của bạn chỉ được xem, không được thao tác. Hãy nhờ chuyên viên Văn phòng.").await);
    }
    Ok((s, Posted(m)))
}

/// Compares secrets in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn message(app: &App, s: &Session, code: StatusCode, title: &str, text: &str) -> Response {
    let mut ctx = app.base(s, "", title).await;
    ctx.insert("text".into(), json!(text));
    let mut r = app.render("message.html", Value::Object(ctx));
    *r.status_mut() = code;
    r
}

pub(crate) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

/// A person-readable account of why an action was not taken.
impl App {
    /// Why an action was not taken, naming units, reports and periods as people do.
    pub(crate) fn explain(&self, e: &OfficeError) -> String {
        explain_in(Some(self), e)
    }
}

fn explain_in(names: Option<&App>, e: &OfficeError) -> String {
    use crate::office::accounts::AccountError;
    use crate::office::{Refusal, RequestProblem};
    use crate::schedule::NotOwed;
    match e {
        OfficeError::NotOwed(n) => {
            // People read units, reports and periods by their names, never their ids.
            let cfg = names.map(|a| a.cfg());
            let unit = |u: &str| cfg.as_ref().and_then(|c| c.unit(u).map(|x| x.name.clone())).unwrap_or_else(|| u.to_string());
            let report = |r: &str| cfg.as_ref().and_then(|c| c.report(r).map(|x| format!("«{}»", x.name))).unwrap_or_else(|| r.to_string());
            let period = |p: &str| p.parse::<crate::domain::Period>().map(|p| p.label_vi()).unwrap_or_else(|_| p.to_string());
            match n {
                NotOwed::UnknownUnit(_) => "Không có đơn vị này trong danh mục đơn vị.".into(),
                NotOwed::UnknownReport(_) => "Không có loại báo cáo này.".into(),
                NotOwed::GroupDoesNotOwe { unit: u, report: r, .. } => format!("{} không phải nộp {}.", unit(u), report(r)),
                NotOwed::WrongPeriodKind { report: r, period: p, .. } | NotOwed::PeriodNotOwed { report: r, period: p, .. } => format!("{} không có kỳ {}.", capitalised(&report(r)), period(p)),
                NotOwed::NotActive { .. } => format!("{}.", capitalised(&n.to_string())),
                NotOwed::BeforeStart { report: r, period: p, .. } => format!("Kỳ {} của {} có hạn trước ngày Văn phòng bắt đầu theo dõi.", period(p), report(r)),
            }
        }
        OfficeError::TooFarAhead { .. } | OfficeError::ExtensionNotLater { .. } | OfficeError::ExtensionTooLong { .. } | OfficeError::ExtensionTooEarly { .. } | OfficeError::NoExtension { .. } | OfficeError::NotOtherMail { .. } | OfficeError::EmptyAnswer | OfficeError::NobodyToAnswer { .. } | OfficeError::Directory(_) => format!("{}.", capitalised(&e.to_string())),
        OfficeError::Refused { id, why } => match why {
            Refusal::Duplicate(_) => format!("Bài nộp số {id} là bản trùng; hãy quyết định trên bản gốc."),
            Refusal::SingleDocument => format!("Bài nộp số {id} chỉ còn một tệp; hãy gán cả thư."),
            Refusal::AlreadyTaken(_) => format!("Tệp này đã được tách khỏi bài nộp số {id}."),
            Refusal::NoSuchDocument { .. } => format!("Bài nộp số {id} không có tệp này."),
            Refusal::NoCompleteGuess => format!("Bài nộp số {id} chưa có dự đoán đủ đơn vị, loại báo cáo và kỳ; hãy dùng «Gán cho nghĩa vụ»."),
            Refusal::NoFiguresToConfirm => format!("Bài nộp số {id} không có số liệu đọc từ ảnh nào chờ xác nhận."),
        },
        OfficeError::Request { id, why } => match why {
            RequestProblem::NoUnit => "Công văn không gửi đơn vị nào có trong cấu hình: hãy chọn các đơn vị phải nộp.".into(),
            RequestProblem::NoDeadline => "Công văn không đặt hạn nào cho các đơn vị: không có gì để xác nhận (hãy hủy yêu cầu).".into(),
            RequestProblem::NoSuchUnit(_) => format!("Yêu cầu số {id}: có đơn vị không có trong cấu hình."),
            RequestProblem::AlreadyHeld { .. } => format!("Công văn này đã có: yêu cầu số {id}."),
            RequestProblem::Missing | RequestProblem::NotPending(_) | RequestProblem::DecidedMeanwhile | RequestProblem::AlreadyCancelled => {
                format!("Yêu cầu số {id} đã được xử lý trước đó hoặc không còn.")
            }
        },
        OfficeError::Store(crate::store::StoreError::NotFound(_)) => "Không tìm thấy bài nộp này.".into(),
        OfficeError::Account(why) => match why {
            AccountError::TooShort => format!("Mật khẩu mới quá ngắn: cần ít nhất {} ký tự.", office::accounts::MIN_PASSWORD_CHARS),
            AccountError::WrongPassword => "Mật khẩu hiện tại không đúng.".into(),
            AccountError::Throttled => "Mật khẩu hiện tại không đúng; đã nhập sai nhiều lần, hãy đợi 15 phút rồi thử lại.".into(),
            AccountError::Exists(_) => "Tên đăng nhập này đã có.".into(),
            AccountError::BadName(_) => "Tên đăng nhập chỉ gồm chữ không dấu, chữ số và . _ - @ (tối đa 64 ký tự).".into(),
            AccountError::NoSuchAccount(name) => format!("Không có tài khoản «{name}»."),
        },
        other => format!("Không thực hiện được: {other}."),
    }
}

// ----- login -----

#[derive(serde::Deserialize, Default)]
struct LoginQuery {
    why: Option<String>,
}

async fn login_page(State(app): State<AppRef>, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<LoginQuery>) -> Response {
    if who(&app, &headers).await.is_ok() {
        return Redirect::to("/").into_response();
    }
    // Why the person is here again, chosen from the server's own words: the address names a
    // reason, never the text.
    let note = match q.why.as_deref() {
        Some("password") => Some("Mật khẩu đã được đổi và mọi phiên đăng nhập của tài khoản đã kết thúc. Hãy đăng nhập lại bằng mật khẩu mới."),
        _ => None,
    };
    app.render("login.html", json!({"office": app.cfg().office.name, "title": "Đăng nhập", "note": note}))
}

/// The address a login comes from: the peer, or — when the peer is the office's reverse proxy on
/// this machine — the address it forwards.
fn client_address(headers: &HeaderMap, peer: SocketAddr) -> String {
    if peer.ip().is_loopback() {
        if let Some(f) = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()).and_then(|v| v.rsplit(',').next()) {
            return f.trim().to_string();
        }
    }
    peer.ip().to_string()
}

async fn login(State(app): State<AppRef>, ConnectInfo(peer): ConnectInfo<SocketAddr>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let name = f.get("name").map(|s| s.trim()).unwrap_or("");
    let password = f.get("password").map(String::as_str).unwrap_or("");
    let addr = client_address(&headers, peer);
    let now = chrono::Utc::now().timestamp();
    let again = |code: StatusCode, why: &str| {
        let mut r = app.render("login.html", json!({"office": app.cfg().office.name, "title": "Đăng nhập", "name": name, "error": why}));
        *r.status_mut() = code;
        r
    };
    match office::accounts::login(&app.store, name, password, &addr, now).await {
        Ok(office::accounts::Login::In { token, session }) => {
            tracing::info!(account = %session.account.name, %addr, "console login");
            let mut r = Redirect::to("/").into_response();
            let c = format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
                office::accounts::SESSION_SECONDS,
                if app.secure { "; Secure" } else { "" }
            );
            r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&c).expect("a hex token is a valid header"));
            r
        }
        Ok(office::accounts::Login::Refused) => {
            tracing::warn!(account = %name, %addr, "console login refused");
            again(StatusCode::UNAUTHORIZED, "Sai tên đăng nhập hoặc mật khẩu.")
        }
        Ok(office::accounts::Login::Throttled { minutes }) => {
            tracing::warn!(account = %name, %addr, "console login throttled");
            again(StatusCode::TOO_MANY_REQUESTS, &format!("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau {minutes} phút."))
        }
        Err(e) => unavailable(&e.to_string()),
    }
}

async fn logout(State(app): State<AppRef>, headers: HeaderMap, Form(form): Form<Vec<(String, String)>>) -> Response {
    let (_, _) = match acting(&app, &headers, form, Role::Viewer).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if let Some(t) = cookie(&headers, COOKIE) {
        let _ = office::accounts::logout(&app.store, &t).await;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("baocao_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_of_the_console_parses_and_the_plain_ones_render() {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            env.add_template(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        for name in ["login.html", "message.html"] {
            let html = env.get_template(name).unwrap().render(json!({"office": "VP", "title": "t"})).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(html.contains("<!DOCTYPE html>"), "{name} extends the layout");
        }
    }

    #[test]
    fn markup_in_what_a_page_shows_is_escaped() {
        let mut env = Environment::new();
        for (name, text) in TEMPLATES {
            env.add_template(name, text).unwrap();
        }
        let evil = "<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
        let html = env.get_template("message.html").unwrap().render(json!({"office": evil, "title": evil, "text": evil})).unwrap();
        assert!(!html.contains("<script>alert") && !html.contains("<img src=x"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }

    #[test]
    fn every_refusal_an_action_can_give_is_said_in_vietnamese() {
        use crate::office::accounts::AccountError;
        use crate::office::{Refusal, RequestProblem};
        let refusals = [Refusal::Duplicate(Some(3)), Refusal::SingleDocument, Refusal::NoSuchDocument { doc: 4, has: 2 }, Refusal::AlreadyTaken(2), Refusal::NoCompleteGuess, Refusal::NoFiguresToConfirm];
        let problems = [
            RequestProblem::AlreadyHeld { number: "45/SYT".into(), report: "cv-45".into() },
            RequestProblem::Missing,
            RequestProblem::NotPending("đã hủy".into()),
            RequestProblem::NoDeadline,
            RequestProblem::NoSuchUnit("X".into()),
            RequestProblem::NoUnit,
            RequestProblem::DecidedMeanwhile,
            RequestProblem::AlreadyCancelled,
        ];
        let accounts = [AccountError::BadName("a b".into()), AccountError::TooShort, AccountError::Exists("lan".into()), AccountError::NoSuchAccount("x".into()), AccountError::Throttled, AccountError::WrongPassword];
        let mut said: Vec<String> = refusals.into_iter().map(|why| explain_in(None, &OfficeError::Refused { id: 7, why })).collect();
        said.extend(problems.into_iter().map(|why| explain_in(None, &OfficeError::Request { id: 2, why })));
        said.extend(accounts.into_iter().map(|a| explain_in(None, &OfficeError::Account(a))));
        for s in &said {
            for english in ["submission", "request", "account", " the ", " is ", " not ", "password"] {
                assert!(!s.to_lowercase().contains(english), "English in «{s}»");
            }
        }
        assert!(said[5].contains("không có số liệu đọc từ ảnh"), "each refusal its own words: {}", said[5]);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"", b"abc"));
    }
}
