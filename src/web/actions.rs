//! The console's forms. Each checks the session, its CSRF token and the role, then calls the
//! office's action under the person's account — the same function the command line calls — and
//! sends the browser back to the page it came from with what happened.

use super::{acting, Posted, AppRef};
use crate::domain::{ObligationKey, Period, Role};
use crate::office;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

type Fields = Form<Vec<(String, String)>>;


/// Where a review form returns: the review page, or the submission's page it was posted from.
fn review_back(f: &Posted, id: i64) -> String {
    if f.get("from") == "submission" {
        format!("/submissions/{id}")
    } else {
        "/review".to_string()
    }
}

fn told(done: &office::Done) -> &'static str {
    if done.told.is_some() {
        " Đã xếp thư báo cho đơn vị."
    } else {
        ""
    }
}

pub async fn accept(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = office::accept(&app.cfg(), &app.store, id, &s.account.name, f.checked("tell")).await;
    app.back(&s, &review_back(&f, id), r.map(|d| format!("Đã chấp nhận bài nộp số {id}.{}", told(&d))).map_err(|e| app.explain(&e)))
}

pub async fn assign(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    // One of the listed obligations, or any unit's report and period chosen one by one.
    let (unit, report, period) = if f.get("obligation").is_empty() {
        (f.get("unit").to_string(), f.get("report").to_string(), f.get("period").to_string())
    } else {
        let mut parts = f.get("obligation").splitn(3, '|');
        (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string())
    };
    let Some(key) = period.parse::<Period>().ok().and_then(|p| ObligationKey::named(&unit, &report, p).ok()) else {
        return app.back(&s, &review_back(&f, id), Err("Hãy chọn một nghĩa vụ báo cáo trong danh sách.".into()));
    };
    let title = key.period.title(&app.cfg().report(key.report.as_str()).map(|r| r.name.clone()).unwrap_or_default());
    // One file of the message, or the whole of it.
    let r = match f.get("document").parse::<usize>() {
        Ok(doc) if doc > 0 => office::assign_document(&app.cfg(), &app.store, id, doc, &key, &s.account.name, f.checked("tell"))
            .await
            .map(|d| format!("Đã tách tệp {} của thư số {id} thành bài nộp số {} cho {title}.{}", d.submission.documents.first().map(|x| x.filename.as_str()).unwrap_or("?"), d.submission.id, told(&d))),
        _ => office::assign(&app.cfg(), &app.store, id, &key, &s.account.name, f.checked("tell")).await.map(|d| format!("Đã gán bài nộp số {id} cho {title}.{}", told(&d))),
    };
    app.back(&s, &review_back(&f, id), r.map_err(|e| app.explain(&e)))
}

pub async fn reject(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let reason = f.get("reason");
    if reason.is_empty() {
        return app.back(&s, &review_back(&f, id), Err("Hãy ghi lý do từ chối: đơn vị sẽ đọc lý do này.".into()));
    }
    let r = office::reject(&app.cfg(), &app.store, id, reason, &s.account.name, f.checked("tell")).await;
    app.back(&s, &review_back(&f, id), r.map(|d| format!("Đã từ chối bài nộp số {id}.{}", told(&d))).map_err(|e| app.explain(&e)))
}

fn obligation_of(f: &Posted) -> Result<ObligationKey, String> {
    let period = f.get("period").parse::<Period>().map_err(|_| "Hãy chọn kỳ báo cáo.".to_string())?;
    ObligationKey::named(f.get("unit"), f.get("report"), period).map_err(|_| "Hãy chọn đơn vị và loại báo cáo.".to_string())
}

pub async fn exempt(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = match obligation_of(&f) {
        Err(e) => Err(e),
        Ok(_) if f.get("reason").is_empty() => Err("Hãy ghi lý do miễn nộp.".into()),
        Ok(k) => office::exempt(&app.cfg(), &app.store, &k, f.get("reason"), &s.account.name)
            .await
            .map(|ob| format!("Đã miễn nộp {} cho {}.", app.cfg().report(ob.report.as_str()).map(|r| ob.period.title(&r.name)).unwrap_or_default(), app.unit_name(k.unit.as_str())))
            .map_err(|e| app.explain(&e)),
    };
    app.back(&s, "/exemptions", r)
}

pub async fn withdraw(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = match obligation_of(&f) {
        Err(e) => Err(e),
        Ok(k) => match office::withdraw_exemption(&app.cfg(), &app.store, &k, &s.account.name).await {
            Ok(true) => Ok(format!("Đã bỏ miễn nộp cho {}.", app.unit_name(k.unit.as_str()))),
            Ok(false) => Err("Nghĩa vụ này không được miễn nộp.".into()),
            Err(e) => Err(app.explain(&e)),
        },
    };
    app.back(&s, "/exemptions", r)
}

/// Grants a new deadline for one obligation (and tells the unit, in the thread of its own mail
/// asking for it when the grant answers one).
pub async fn extend(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cfg = app.cfg();
    let until = chrono::NaiveDate::parse_from_str(f.get("until"), "%Y-%m-%d").ok();
    let r = match (obligation_of(&f), until) {
        (Err(e), _) => Err(e),
        (_, None) => Err("Hãy chọn ngày hạn mới.".into()),
        (Ok(k), Some(day)) => office::extensions::extend(&cfg, &app.store, &k, day, f.get("reason"), &s.account.name, f.checked("tell"), f.get("mail").parse::<i64>().ok(), chrono::Utc::now().timestamp())
            .await
            .map(|x| format!("Đã gia hạn {} cho {} đến hết ngày {}.{}", x.title, app.unit_name(k.unit.as_str()), day.format("%d/%m/%Y"), if x.told.is_some() { " Đã xếp thư báo cho đơn vị." } else { "" }))
            .map_err(|e| app.explain(&e)),
    };
    if r.is_ok() {
        app.reread_rules().await;
    }
    app.back(&s, "/exemptions#gia-han", r)
}

pub async fn withdraw_extension(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = match obligation_of(&f) {
        Err(e) => Err(e),
        Ok(k) => office::extensions::withdraw(&app.cfg(), &app.store, &k, &s.account.name, true, chrono::Utc::now().timestamp())
            .await
            .map(|x| format!("Đã thôi gia hạn {} cho {}: hạn nộp lại là ngày {}.", x.title, app.unit_name(k.unit.as_str()), x.due.format("%d/%m/%Y")))
            .map_err(|e| app.explain(&e)),
    };
    if r.is_ok() {
        app.reread_rules().await;
    }
    app.back(&s, "/exemptions#gia-han", r)
}

pub async fn retry(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ids: Vec<i64> = f.get("id").split(',').filter_map(|x| x.trim().parse().ok()).collect();
    let all_failed = f.checked("failed");
    if ids.is_empty() && !all_failed {
        return app.back(&s, "/outbox", Err("Hãy chọn thư cần gửi lại.".into()));
    }
    let r = match office::retry_mail(&app.store, &ids, all_failed, &s.account.name).await {
        Ok(keys) if keys.is_empty() => Err("Không có thư nào cần gửi lại.".to_string()),
        Ok(keys) => Ok(format!("Đã xếp lại {} thư để gửi.", keys.len())),
        Err(e) => Err(app.explain(&e)),
    };
    app.back(&s, "/outbox", r)
}

pub async fn add_account(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(role) = Role::parse(f.get("role")) else {
        return app.back(&s, "/accounts", Err("Hãy chọn vai trò.".into()));
    };
    let name = f.get("name");
    let r = office::accounts::add_account(&app.store, name, role, f.0.get("password").map(String::as_str).unwrap_or(""), &s.account.name).await;
    app.back(&s, "/accounts", r.map(|_| format!("Đã thêm tài khoản {name}.")).map_err(|e| app.explain(&e)))
}

async fn set_disabled(app: AppRef, headers: HeaderMap, name: String, form: Vec<(String, String)>, disabled: bool) -> Response {
    let (s, _) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if disabled && name == s.account.name {
        return app.back(&s, "/accounts", Err("Không thể tự khoá tài khoản đang dùng.".into()));
    }
    let r = office::accounts::set_disabled(&app.store, &name, disabled, &s.account.name).await;
    app.back(&s, "/accounts", r.map(|_| format!("Đã {} tài khoản {name}.", if disabled { "khoá" } else { "mở khoá" })).map_err(|e| app.explain(&e)))
}

pub async fn disable_account(State(app): State<AppRef>, headers: HeaderMap, Path(name): Path<String>, Form(form): Fields) -> Response {
    set_disabled(app, headers, name, form, true).await
}

pub async fn enable_account(State(app): State<AppRef>, headers: HeaderMap, Path(name): Path<String>, Form(form): Fields) -> Response {
    set_disabled(app, headers, name, form, false).await
}

pub async fn password(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Viewer).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let field = |k: &str| f.0.get(k).cloned().unwrap_or_default();
    if field("new") != field("again") {
        return app.back(&s, "/password", Err("Hai lần nhập mật khẩu mới không giống nhau.".into()));
    }
    match office::accounts::change_own_password(&app.store, &s.account.name, &field("current"), &field("new")).await {
        // Every session of the account ended with the change: log in again with the new one.
        Ok(()) => Redirect::to("/login?why=password").into_response(),
        Err(e) => app.back(&s, "/password", Err(app.explain(&e))),
    }
}

/// Confirms a request read from a letter, for the units ticked (those its letter addresses,
/// unless the clerk changed them); the daemon owes, reminds and matches it from now on.
pub async fn confirm_request(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let units = f.ticked("unit:");
    if units.is_empty() {
        return app.back(&s, "/requests", Err("Hãy chọn ít nhất một đơn vị phải nộp.".into()));
    }
    let r = office::requests::confirm(&app.cfg(), &app.store, id, &units, &s.account.name).await;
    if r.is_ok() {
        app.reread_rules().await;
    }
    let today = crate::schedule::date_of(app.cfg().office.timezone, chrono::Utc::now().timestamp());
    app.back(&s, 
        "/requests",
        r.map(|x| {
            let past = office::requests::past_deadlines(&x, today);
            let late = if past.is_empty() { String::new() } else { format!(" Hạn nộp {} đã qua: các đơn vị chưa nộp được tính là quá hạn.", past.join(", ")) };
            format!("Đã xác nhận yêu cầu số {id} ({}): {} đơn vị phải nộp.{late}", x.number.as_deref().unwrap_or("công văn không số"), units.len())
        })
        .map_err(|e| app.explain(&e)),
    )
}

pub async fn cancel_request(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = office::requests::cancel(&app.store, id, f.get("reason"), &s.account.name).await;
    if r.is_ok() {
        app.reread_rules().await;
    }
    app.back(&s, "/requests", r.map(|_| format!("Đã hủy yêu cầu số {id}.")).map_err(|e| app.explain(&e)))
}

/// A letter uploaded on *Công văn* (.docx, .doc, PDF): read like `baocao request add` and kept
/// as a request waiting for a clerk's confirmation.
pub async fn upload_letter(State(app): State<AppRef>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let ct = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let parts = super::upload::parse(&ct, &body).unwrap_or_default();
    let fields: Vec<(String, String)> = parts.iter().filter(|p| p.filename.is_none()).map(|p| (p.name.clone(), String::from_utf8_lossy(&p.data).into_owned())).collect();
    let (s, _) = match acting(&app, &headers, fields, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(file) = parts.into_iter().find(|p| p.name == "letter" && p.filename.is_some() && !p.data.is_empty()) else {
        return app.back(&s, "/requests", Err("Hãy chọn tệp công văn (.docx, .doc, PDF).".into()));
    };
    // The name alone: an old browser sends the path it came from.
    let name = file.filename.as_deref().unwrap_or("").rsplit(['/', '\\']).next().unwrap_or("").to_string();
    let (parser, n, data) = (app.shared.parser.clone(), name.clone(), file.data);
    let read = tokio::task::spawn_blocking(move || office::requests::read_letter(&parser, &n, &data)).await;
    let r = match read {
        Ok(Ok(l)) => office::requests::add(&app.cfg(), &app.store, &l, &name, None, &s.account.name)
            .await
            .map(|r| format!("Đã đọc {}: yêu cầu số {} chờ xác nhận bên dưới.", r.number.as_deref().map(|n| format!("công văn số {n}")).unwrap_or_else(|| format!("tệp {name}")), r.id))
            .map_err(|e| app.explain(&e)),
        Ok(Err(why)) => Err(format!("Không đọc được tệp {name}: {why}.")),
        Err(_) => Err(format!("Không đọc được tệp {name}.")),
    };
    app.back(&s, "/requests", r)
}
