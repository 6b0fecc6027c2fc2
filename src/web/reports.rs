//! The report kinds on the console (SPEC §17): each kind's deadline, reminders and the units
//! that owe it, read by everyone and set by admins; a letter's periodic rule added as a kind
//! with one click. Every change goes through `office::directory` and the running daemon reads
//! the rules again at once.

use super::pages::{ctx, enc, Page};
use super::{acting, who, AppRef, Posted};
use crate::config::Config;
use crate::domain::rules::{DueMonth, DueRule, Report};
use crate::domain::{PeriodKind, Role};
use crate::office::directory::{self, ReportEdit};
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::NaiveDate;
use serde_json::{json, Value};

type Fields = Form<Vec<(String, String)>>;

fn days_text(v: &[i64]) -> String {
    v.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}

/// The form's values for a kind (or a new one).
fn form_values(cfg: &Config, r: Option<&Report>, period: Option<PeriodKind>, edit: &ReportEdit) -> Value {
    let (kind, day, month, cue, year, date) = match &edit.due {
        DueRule::Date(d) => ("date", 20, "last".to_string(), "cham", 0, d.format("%Y-%m-%d").to_string()),
        DueRule::Relative { month, day, exclusive, year_offset } => {
            let m = match month {
                DueMonth::Last => "last".to_string(),
                DueMonth::Next => "next".to_string(),
                DueMonth::Month(n) => n.to_string(),
            };
            ("relative", *day, m, if *exclusive { "truoc" } else { "cham" }, *year_offset, String::new())
        }
    };
    let period = r.map(|r| r.period).or(period);
    json!({
        "id": r.map(|r| r.id.to_string()), "name": edit.name, "keywords_text": edit.keywords.join("\n"),
        "period": period.map(|p| p.label_vi()),
        "groups": cfg.groups.iter().map(|g| json!({"id": g.id, "name": g.name, "on": edit.applies_to.contains(&g.id)})).collect::<Vec<_>>(),
        "due_kind": kind, "due_day": day, "due_month": month, "due_cue": cue, "due_year": year.to_string(), "due_date": date,
        "once": period == Some(PeriodKind::Once),
        "remind_before": days_text(&edit.remind_before_days), "remind_after": days_text(&edit.remind_after_days),
        "escalate_after": edit.escalate_after_days.map(|d| d.to_string()).unwrap_or_default(),
    })
}

/// What a kind is, as a row of the list.
fn row(cfg: &Config, r: &Report) -> Value {
    json!({
        "id": r.id.as_str(), "name": r.name, "period": r.period.label_vi(), "due": r.due.label_vi(r.period),
        "owed_by": directory::owed_by(cfg, r), "reminders": r.reminders_vi(), "letter": r.letter.is_some(),
    })
}

/// The report kinds (GET /reports).
pub async fn page(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let (kept, letters): (Vec<&Report>, Vec<&Report>) = cfg.reports.iter().partition(|r| r.letter.is_none());
    let blank = ReportEdit {
        name: String::new(),
        keywords: vec![],
        applies_to: vec![],
        due: DueRule::Relative { month: DueMonth::Last, day: 20, exclusive: false, year_offset: 0 },
        remind_before_days: vec![3],
        remind_after_days: vec![1],
        escalate_after_days: None,
    };
    let base = app.base(&s, "/reports", "Loại báo cáo").await;
    Ok(app.render(
        "reports.html",
        ctx(
            base,
            json!({
                "kinds": kept.iter().map(|r| row(&cfg, r)).collect::<Vec<_>>(),
                "letters": letters.iter().map(|r| row(&cfg, r)).collect::<Vec<_>>(),
                "f": form_values(&cfg, None, None, &blank),
            }),
        ),
    ))
}

/// One report kind (GET /reports/{id}): its rules, this year's deadlines, the form for admins.
pub async fn kind(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<String>) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let Some(r) = cfg.report(&id) else {
        return Err(super::message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy", "Không có loại báo cáo này.").await);
    };
    let today = crate::schedule::date_of(cfg.office.timezone, chrono::Utc::now().timestamp());
    let year = chrono::Datelike::year(&today);
    let deadlines: Vec<Value> = [year, year + 1]
        .iter()
        .flat_map(|y| r.periods_in(*y))
        .filter_map(|p| crate::schedule::due_date(&cfg.calendar, &r.due, p).map(|d| (p, d)))
        .filter(|(_, d)| chrono::Datelike::year(d) >= year)
        .take(6)
        .map(|(p, d)| json!({"period": p.label_vi(), "due": d.format("%d/%m/%Y").to_string(), "past": d < today}))
        .collect();
    let base = app.base(&s, "/reports", &r.name).await;
    Ok(app.render(
        "report.html",
        ctx(
            base,
            json!({
                "r": row(&cfg, r), "keywords": r.keywords, "deadlines": deadlines,
                "f": form_values(&cfg, Some(r), None, &ReportEdit::of(r)),
                "status_href": format!("/?report={}", enc(r.id.as_str())),
            }),
        ),
    ))
}

fn days(f: &Posted, k: &str) -> Result<Vec<i64>, String> {
    f.get(k)
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|x| !x.is_empty())
        .map(|x| x.parse::<i64>().map_err(|_| format!("«{x}» không phải số ngày.")))
        .collect()
}

/// The form's fields as an edit.
fn edit_of(f: &Posted, period: Option<PeriodKind>) -> Result<ReportEdit, String> {
    let due = if period == Some(PeriodKind::Once) || f.get("due_kind") == "date" {
        let d = f.get("due_date");
        DueRule::Date(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| "Hãy chọn ngày hạn nộp.".to_string())?)
    } else {
        let day = f.get("due_day").parse::<u32>().map_err(|_| "Hãy ghi ngày của hạn nộp (1 đến 31).".to_string())?;
        let month = match f.get("due_month") {
            "last" => DueMonth::Last,
            "next" => DueMonth::Next,
            m => DueMonth::Month(m.parse::<u32>().ok().filter(|m| (1..=12).contains(m)).ok_or("Hãy chọn tháng của hạn nộp.")?),
        };
        let year_offset = f.get("due_year").parse::<i32>().unwrap_or(0).clamp(-1, 1);
        DueRule::Relative { month, day, exclusive: f.get("due_cue") == "truoc", year_offset }
    };
    let escalate = match f.get("escalate_after") {
        "" => None,
        e => Some(e.parse::<i64>().map_err(|_| format!("«{e}» không phải số ngày."))?),
    };
    Ok(ReportEdit {
        name: f.get("name").to_string(),
        keywords: f.raw("keywords").lines().map(str::to_string).collect(),
        applies_to: f.ticked("group:"),
        due,
        remind_before_days: days(f, "remind_before")?,
        remind_after_days: days(f, "remind_after")?,
        escalate_after_days: escalate,
    })
}

/// Saves a kind's rules (POST /reports/{id}, admins).
pub async fn save(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<String>, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let cfg = app.cfg();
    let back = format!("/reports/{}", enc(&id));
    let period = cfg.report(&id).map(|r| r.period);
    let r = match edit_of(&f, period) {
        Err(e) => Err(e),
        Ok(e) => match directory::save_report(&cfg, &app.store, Some(&id), None, e, s.account.role, &s.account.name, None).await {
            Ok((_, said)) if said.is_empty() => Ok("Không có gì thay đổi.".to_string()),
            Ok((_, said)) => Ok(format!("Đã lưu: {}.", said.join("; "))),
            Err(e) => Err(app.explain(&e)),
        },
    };
    if r.is_ok() {
        app.reread_rules().await;
    }
    app.back(&s, &back, r)
}

/// Adds a kind (POST /reports, admins).
pub async fn add(State(app): State<AppRef>, headers: HeaderMap, Form(form): Fields) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let period = PeriodKind::parse(f.get("period"));
    let r = match edit_of(&f, period) {
        Err(e) => Err(e),
        Ok(e) => directory::save_report(&app.cfg(), &app.store, None, period, e, s.account.role, &s.account.name, None).await.map_err(|e| app.explain(&e)),
    };
    match r {
        Ok((id, _)) => {
            app.reread_rules().await;
            let name = app.cfg().report(&id).map(|r| r.name.clone()).unwrap_or_default();
            app.back(&s, &format!("/reports/{}", enc(&id)), Ok(format!("Đã thêm loại báo cáo {name}.")))
        }
        Err(e) => app.back(&s, "/reports#them", Err(e)),
    }
}

/// Adds a letter's periodic rule as a kind (POST /requests/{id}/periodic/{k}, admins).
pub async fn adopt(State(app): State<AppRef>, headers: HeaderMap, Path((id, k)): Path<(i64, usize)>, Form(form): Fields) -> Response {
    let (s, _) = match acting(&app, &headers, form, Role::Admin).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match directory::adopt_rule(&app.cfg(), &app.store, id, k, s.account.role, &s.account.name).await {
        Ok(rid) => {
            app.reread_rules().await;
            let name = app.cfg().report(&rid).map(|r| r.name.clone()).unwrap_or_default();
            let text = format!("Đã thêm loại báo cáo {name} theo công văn: mọi đơn vị phải nộp, nhắc trước hạn 3 ngày và sau hạn 1 ngày. Hãy xem lại đơn vị phải nộp, từ khoá và lịch nhắc.");
            app.back(&s, &format!("/reports/{}#sua", enc(&rid)), Ok(text))
        }
        Err(e) => app.back(&s, "/requests", Err(app.explain(&e))),
    }
}

/// A letter's periodic rules as the Công văn page lists them.
pub fn proposals(cfg: &Config, req: &crate::store::StoredRequest) -> Vec<Value> {
    directory::proposed_kinds(req)
        .into_iter()
        .enumerate()
        .map(|(k, (p, e))| {
            let adopted = cfg.reports.iter().find(|r| r.letter.is_none() && r.period == p && r.due == e.due && crate::text::fold(&r.name) == crate::text::fold(&e.name));
            json!({"k": k, "name": e.name, "period": p.label_vi(), "due": e.due.label_vi(p), "adopted": adopted.map(|r| r.id.to_string())})
        })
        .collect()
}
