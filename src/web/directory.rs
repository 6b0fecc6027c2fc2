//! The directory on the console (SPEC §17): a unit's addresses and other names (clerks), its
//! name, group, days of activity and merger, new units and group names (admins), and the one
//! click that registers the address a submission came from. Every change goes through
//! `office::directory` and the running daemon reads the directory again at once.

use super::{acting, AppRef, Posted};
use crate::domain::{Role, UnitId};
use crate::office::directory::{self, UnitEdit};
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::NaiveDate;

type Fields = Form<Vec<(String, String)>>;

/// A list typed one per line (or separated by commas and semicolons for addresses).
fn list(text: &str, commas: bool) -> Vec<String> {
    text.split(|c: char| c == '\n' || c == '\r' || (commas && (c == ',' || c == ';' || c.is_whitespace())))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn date(f: &Posted, k: &str) -> Result<Option<NaiveDate>, String> {
    match f.get(k) {
        "" => Ok(None),
        d => NaiveDate::parse_from_str(d, "%Y-%m-%d").map(Some).map_err(|_| format!("Ngày «{d}» không đúng.")),
    }
}

/// The form's fields over what the unit had: a clerk's form carries addresses and other names
/// only, so what it does not carry stays.
fn edit_of(f: &Posted, mut e: UnitEdit) -> Result<UnitEdit, String> {
    if f.has("name") {
        e.name = f.get("name").to_string();
    }
    if f.has("emails") {
        e.emails = list(f.raw("emails"), true);
    }
    if f.has("aliases") {
        e.aliases = list(f.raw("aliases"), false);
    }
    if f.has("group") {
        if f.get("group") == "+" {
            e.new_group = Some(f.get("new_group").to_string());
        } else {
            e.group = f.get("group").to_string();
        }
    }
    if f.has("active_from") {
        e.active_from = date(f, "active_from")?;
    }
    if f.has("active_until") {
        e.active_until = date(f, "active_until")?;
    }
    Ok(e)
}

async fn after_change(app: &AppRef) {
    app.reread_rules().await;
}

/// Saves a unit's record (POST /units/{id}).
pub async fn save(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<String>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cfg = app.cfg();
    let back = format!("/units/{}", super::pages::enc(&id));
    let Some(u) = cfg.unit(&id) else {
        return app.back(&s, "/units", Err("Không có đơn vị này trong danh mục.".into()));
    };
    let r = match edit_of(&f, UnitEdit::of(u)) {
        Err(e) => Err(e),
        Ok(e) => match directory::save_unit(&cfg, &app.store, e, false, s.account.role, &s.account.name).await {
            Ok((name, said)) if said.is_empty() => Ok(format!("{name}: không có gì thay đổi.")),
            Ok((name, said)) => Ok(format!("Đã lưu {name}: {}.", said.join("; "))),
            Err(e) => Err(app.explain(&e)),
        },
    };
    if r.is_ok() {
        after_change(&app).await;
    }
    app.back(&s, &back, r)
}

/// Adds a unit (POST /units, admins).
pub async fn add(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cfg = app.cfg();
    let id = f.get("id").to_string();
    let r = match edit_of(&f, UnitEdit { id: id.clone(), ..Default::default() }) {
        Err(e) => Err(e),
        Ok(e) => directory::save_unit(&cfg, &app.store, e, true, s.account.role, &s.account.name).await.map(|(name, _)| format!("Đã thêm đơn vị {name}.")).map_err(|e| app.explain(&e)),
    };
    let to = if r.is_ok() { format!("/units/{}", super::pages::enc(&id)) } else { "/units#them".to_string() };
    if r.is_ok() {
        after_change(&app).await;
    }
    app.back(&s, &to, r)
}

/// Merges a unit into another (POST /units/{id}/merge, admins).
pub async fn merge(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<String>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let back = format!("/units/{}", super::pages::enc(&id));
    let r = match date(&f, "last_day") {
        Err(e) => Err(e),
        Ok(None) => Err("Hãy chọn ngày cuối cùng đơn vị còn hoạt động riêng.".into()),
        Ok(Some(day)) => match (UnitId::parse(&id), UnitId::parse(f.get("into"))) {
            (Err(_), _) => Err("Không có đơn vị này trong danh mục.".into()),
            (_, Err(_)) => Err("Hãy chọn đơn vị tiếp nhận.".into()),
            (Ok(unit), Ok(into)) => directory::merge(&app.cfg(), &app.store, &unit, &into, day, &s.account.name)
            .await
            .map(|(a, b)| format!("Đã sáp nhập {a} vào {b} từ sau ngày {}: địa chỉ thư của {a} chuyển sang {b}; các kỳ trước vẫn thuộc {a}.", day.format("%d/%m/%Y")))
            .map_err(|e| app.explain(&e)),
        },
    };
    if r.is_ok() {
        after_change(&app).await;
    }
    app.back(&s, &back, r)
}

/// Names a group (POST /groups, admins).
pub async fn group(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = directory::save_group(&app.cfg(), &app.store, f.get("id"), f.get("name"), &s.account.name).await.map(|_| format!("Đã lưu tên nhóm «{}».", f.get("name"))).map_err(|e| app.explain(&e));
    if r.is_ok() {
        after_change(&app).await;
    }
    app.back(&s, "/units#nhom", r)
}

/// Registers the address a submission came from to its unit (POST /submissions/{id}/address).
pub async fn learn(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let back = if f.get("back") == "review" { "/review".to_string() } else { format!("/submissions/{id}") };
    let r = directory::learn_address(&app.cfg(), &app.store, id, &s.account.name)
        .await
        .map(|(addr, name)| format!("Đã ghi nhận địa chỉ {addr} cho {name}."))
        .map_err(|e| app.explain(&e));
    if r.is_ok() {
        after_change(&app).await;
    }
    app.back(&s, &back, r)
}
