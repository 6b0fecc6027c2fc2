//! *Thư khác* (SPEC §17): mail from the units that is not a report — questions, requests for more
//! time, replies to reminders — shown until a clerk answers it (in its thread, through the
//! outbox) or marks it handled; a request for more time leads to the extension form.

use super::pages::{ctx, db, Page};
use super::{acting, who, AppRef};
use crate::domain::Role;
use crate::office::mail;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Value};

/// One mail as the page and a unit's page show it.
pub(super) fn item(app: &super::App, m: &crate::store::Submission, h: Option<&crate::store::Handled>) -> Value {
    let cfg = app.cfg();
    let unit = m.from_addr.as_deref().and_then(|a| cfg.unit_by_email(a));
    json!({
        "id": m.id, "received": app.when(m.received_at), "from": m.from_addr, "subject": m.subject,
        "unit": unit.map(|u| u.id.as_str()), "unit_name": unit.map(|u| u.name.clone()),
        "body": mail::body(m), "asks_time": mail::asks_for_time(m),
        "handled": h.map(|h| json!({"by": h.by, "at": app.when(h.at), "answered": h.answer.is_some()})),
    })
}

pub async fn page(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    let list = mail::other_mail(&app.cfg(), &app.store).await.map_err(db)?;
    let items: Vec<Value> = list.iter().map(|(m, h)| item(&app, m, h.as_ref())).collect();
    let open = list.iter().filter(|(_, h)| h.is_none()).count();
    let base = app.base(&s, "/mail", "Thư khác").await;
    Ok(app.render("mail.html", ctx(base, json!({"items": items, "open": open}))))
}

pub async fn handled(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let (s, _) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let r = mail::mark_handled(&app.cfg(), &app.store, id, &s.account.name, chrono::Utc::now().timestamp()).await;
    app.back(&s, "/mail", r.map(|fresh| if fresh { format!("Đã đánh dấu thư số {id} là đã xử lý.") } else { format!("Thư số {id} đã được xử lý trước đó.") }).map_err(|e| app.explain(&e)))
}

pub async fn answer(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, Form(form): Form<Vec<(String, String)>>) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let text = f.0.get("text").cloned().unwrap_or_default();
    let r = mail::answer(&app.cfg(), &app.store, id, &text, &s.account.name, chrono::Utc::now().timestamp()).await;
    app.back(&s, "/mail", r.map(|_| format!("Đã xếp thư trả lời thư số {id} để gửi.")).map_err(|e| app.explain(&e)))
}
