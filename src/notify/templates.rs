//! The wording of outgoing mail: minijinja templates the office can edit.
//!
//! Each mail kind has three templates, `<kind>.subject`, `<kind>.txt` and `<kind>.html`, read
//! from `office.templates` (default `templates/` beside the config file) and falling back to the
//! built-in Vietnamese defaults (the files under `config/templates/` of the source tree) for any
//! that are missing. They are read at every use, so an edit takes effect without a restart.
//! `.html` templates escape every value; a template the office broke is reported by
//! `check-config` and, at send time, replaced by the built-in one so a mail is never lost to a typo.

use crate::config::{Config, Unit};
use crate::domain::Period;
use crate::domain::{Decision, ParseStatus};
use crate::notify::ReplyTo;
use crate::schedule::DueStage;
use crate::store::Submission;
use serde_json::{json, Value};

/// Every template the product uses, with its built-in text.
pub const DEFAULTS: &[(&str, &str)] = &[
    ("ack.subject", include_str!("../../config/templates/ack.subject")),
    ("ack.txt", include_str!("../../config/templates/ack.txt")),
    ("ack.html", include_str!("../../config/templates/ack.html")),
    ("reminder.subject", include_str!("../../config/templates/reminder.subject")),
    ("reminder.txt", include_str!("../../config/templates/reminder.txt")),
    ("reminder.html", include_str!("../../config/templates/reminder.html")),
    ("digest.subject", include_str!("../../config/templates/digest.subject")),
    ("digest.txt", include_str!("../../config/templates/digest.txt")),
    ("digest.html", include_str!("../../config/templates/digest.html")),
    ("status.subject", include_str!("../../config/templates/status.subject")),
    ("status.txt", include_str!("../../config/templates/status.txt")),
    ("status.html", include_str!("../../config/templates/status.html")),
    ("review.subject", include_str!("../../config/templates/review.subject")),
    ("review.txt", include_str!("../../config/templates/review.txt")),
    ("review.html", include_str!("../../config/templates/review.html")),
    ("extension.subject", include_str!("../../config/templates/extension.subject")),
    ("extension.txt", include_str!("../../config/templates/extension.txt")),
    ("extension.html", include_str!("../../config/templates/extension.html")),
];

fn builtin(name: &str) -> &'static str {
    DEFAULTS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s).unwrap_or("")
}

fn env() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    // Keep the templates' own line structure: a plain-text mail is laid out by its newlines.
    env.set_keep_trailing_newline(true);
    env
}

/// The office's version of a template when it has one.
fn office_source(cfg: &Config, name: &str) -> Option<String> {
    std::fs::read_to_string(cfg.office.templates.join(name)).ok()
}

fn render_one(cfg: &Config, name: &str, ctx: &Value) -> String {
    let env = env();
    if let Some(src) = office_source(cfg, name) {
        match env.render_named_str(name, &src, ctx) {
            Ok(s) => return s,
            Err(e) => tracing::error!("template {}: {e}; using the built-in one", cfg.office.templates.join(name).display()),
        }
    }
    env.render_named_str(name, builtin(name), ctx).unwrap_or_else(|e| {
        tracing::error!("built-in template {name}: {e}");
        String::new()
    })
}

/// A report's name with its period, as an office writes it (see [`Period::title`]).
pub fn report_for_period(name: &str, period: &Period) -> String {
    period.title(name)
}

/// Whom a unit writes to about a mail the office sent automatically: the office's staff.
pub fn contact(cfg: &Config) -> String {
    if cfg.office.staff.is_empty() {
        cfg.office.name.clone()
    } else {
        format!("{} ({})", cfg.office.name, cfg.office.staff.join(", "))
    }
}

/// Renders one mail kind to (subject, text, html).
pub fn render(cfg: &Config, kind: &str, ctx: &Value) -> (String, String, String) {
    let subject = render_one(cfg, &format!("{kind}.subject"), ctx);
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    (subject, render_one(cfg, &format!("{kind}.txt"), ctx), render_one(cfg, &format!("{kind}.html"), ctx))
}

/// Checks the office's templates: each one that exists must compile. Returns one line per fault.
pub fn check(cfg: &Config) -> Vec<String> {
    let env = env();
    let mut faults = Vec::new();
    for (name, _) in DEFAULTS {
        if let Some(src) = office_source(cfg, name) {
            if let Err(e) = env.template_from_named_str(name, &src) {
                faults.push(format!("{}: {e}", cfg.office.templates.join(name).display()));
            }
        }
    }
    faults
}

/// Acknowledgement of a received message (or of a person's decision about it): what was
/// understood, which version it is, and what looks wrong.
/// The acknowledgement of `sub`; `first` is the arrival and timeliness of its obligation's first
/// accepted version when `sub` is a later one.
pub fn ack(cfg: &Config, sub: &Submission, reply: &ReplyTo, first: Option<(i64, Option<crate::domain::Timeliness>)>) -> (String, String, String) {
    let unit = sub.unit.as_ref().and_then(|u| cfg.unit(u.as_str())).map(|u| json!({"id": u.id, "name": u.name}));
    // Whom the letter is addressed to: the unit it is about, else the unit the sender is registered to.
    let addressee = sub
        .unit
        .as_ref()
        .and_then(|u| cfg.unit(u.as_str()))
        .or_else(|| reply.to.as_deref().and_then(|a| cfg.unit_by_email(a)))
        .map(|u| u.name.clone());
    let report = sub.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| json!({"id": r.id, "name": r.name}));
    let documents: Vec<Value> = sub
        .documents
        .iter()
        .map(|d| json!({"filename": d.filename, "number": d.header.number, "parse": d.parse, "error": d.error}))
        .collect();
    let mut notes: Vec<String> = sub.reasons.clone();
    notes.extend(sub.findings.iter().cloned());
    let readable = sub.documents.iter().any(|d| d.parse == ParseStatus::Ok) || sub.decision == Decision::Duplicate;
    let manual = sub.manual_by.is_some();
    let status = match sub.decision {
        Decision::Accepted => "Đã tiếp nhận",
        Decision::NeedsReview => "Đã nhận, chờ Văn phòng xem xét",
        Decision::Rejected if manual => "Văn phòng không tiếp nhận",
        Decision::Rejected => "Không đọc được, đề nghị gửi lại",
        _ => "Đã nhận",
    };
    let tz = cfg.office.timezone;
    let days_late = match (sub.timeliness, sub.due) {
        (Some(crate::domain::Timeliness::Late), Some(due)) => (crate::schedule::date_of(tz, sub.received_at) - due).num_days().max(1),
        _ => 0,
    };
    let ctx = json!({
        "office": cfg.office.name,
        "subject": reply.subject,
        "received": crate::schedule::fmt_human(cfg.office.timezone, sub.received_at),
        "decision": sub.decision.as_str(),
        "unit": unit,
        "report": report,
        "period": sub.period.as_ref().map(|p| p.label_vi()),
        "timeliness": sub.timeliness,
        "due": sub.due.map(|d| d.format("%d/%m/%Y").to_string()),
        "version": sub.version,
        "documents": documents,
        "notes": notes,
        "readable": readable,
        "manual": manual,
        "addressee": addressee,
        "title": match (&report, sub.period) {
            (Some(r), Some(p)) => Some(report_for_period(r["name"].as_str().unwrap_or(""), &p)),
            _ => None,
        },
        "contact": contact(cfg),
        "status": status,
        "days_late": days_late,
        "first": first.map(|(at, t)| json!({
            "date": crate::schedule::date_of(tz, at).format("%d/%m/%Y").to_string(),
            "timeliness": t,
            "label": match t {
                Some(crate::domain::Timeliness::OnTime) => "đúng hạn",
                Some(crate::domain::Timeliness::Late) => "muộn",
                None => "",
            },
        })),
        "also": sub.also.iter().map(|p| also_view(cfg, p)).collect::<Vec<_>>(),
    });
    render(cfg, "ack", &ctx)
}

/// A further report of a message carrying several, as its acknowledgement lists it.
fn also_view(cfg: &Config, p: &Submission) -> Value {
    let name = p.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.clone());
    let days_late = match (p.timeliness, p.due) {
        (Some(crate::domain::Timeliness::Late), Some(due)) => (crate::schedule::date_of(cfg.office.timezone, p.received_at) - due).num_days().max(1),
        _ => 0,
    };
    let mut notes = p.reasons.clone();
    notes.extend(p.findings.iter().cloned());
    json!({
        "title": match (&name, p.period) {
            (Some(n), Some(per)) => report_for_period(n, &per),
            (Some(n), None) => n.clone(),
            _ => "Báo cáo chưa rõ loại".to_string(),
        },
        "status": match p.decision {
            Decision::Accepted => "đã tiếp nhận",
            Decision::NeedsReview => "chờ Văn phòng xem xét",
            _ => "đã nhận",
        },
        "timeliness": p.timeliness,
        "due": p.due.map(|d| d.format("%d/%m/%Y").to_string()),
        "days_late": days_late,
        "version": p.version,
        "documents": p.documents.iter().map(|d| d.filename.clone()).collect::<Vec<_>>(),
        "notes": notes,
    })
}

/// A clerk's answer to a unit's mail: the text as written, the office's name under it, the
/// subject of the thread.
pub fn answer(cfg: &Config, reply: &ReplyTo, text: &str) -> (String, String, String) {
    let subject = reply.subject.trim();
    let subject = if subject.is_empty() { format!("Trả lời của {}", cfg.office.name) } else if subject.to_lowercase().starts_with("re:") { subject.to_string() } else { format!("Re: {subject}") };
    let body = format!("{text}\n\n{}\n", cfg.office.name);
    let paras: String = text.split("\n\n").map(|p| format!("<p>{}</p>", crate::text::escape_html(p).replace('\n', "<br>"))).collect();
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;max-width:640px;margin:0 auto;padding:12px\">{paras}<p style=\"color:#777;font-size:12px\">{}</p></body></html>",
        crate::text::escape_html(&subject),
        crate::text::escape_html(&cfg.office.name)
    );
    (subject, body, html)
}

/// The notice telling a unit its deadline was extended to `until` (from `from`), or that an
/// extension no longer holds (`until` None: the report is due on `from` again).
pub fn extension(cfg: &Config, unit: &Unit, report: &str, period: &Period, from: chrono::NaiveDate, until: Option<chrono::NaiveDate>, reason: &str) -> (String, String, String) {
    let name = cfg.report(report).map(|r| r.name.clone()).unwrap_or_else(|| report.to_string());
    let ctx = json!({
        "office": cfg.office.name, "unit": {"id": unit.id, "name": unit.name}, "title": report_for_period(&name, period),
        "from": from.format("%d/%m/%Y").to_string(), "until": until.map(|d| d.format("%d/%m/%Y").to_string()),
        "due": from.format("%d/%m/%Y").to_string(), "withdrawn": until.is_none(), "reason": reason, "contact": contact(cfg),
    });
    render(cfg, "extension", &ctx)
}

/// One reminder mail for a unit, listing every stage due for it.
pub fn reminder(cfg: &Config, unit: &Unit, stages: &[DueStage]) -> (String, String, String) {
    let items: Vec<Value> = stages
        .iter()
        .map(|s| {
            let overdue = s.stage.starts_with("after");
            let name = cfg.report(s.report.as_str()).map(|r| r.name.clone()).unwrap_or_else(|| s.report.to_string());
            json!({
                "title": report_for_period(&name, &s.period),
                "report": name,
                "report_id": s.report,
                "period": s.period.label_vi(),
                "due": s.due_date.format("%d/%m/%Y").to_string(),
                "overdue": overdue,
                "days_late": s.days_late,
                "stage": s.stage,
            })
        })
        .collect();
    let overdue = stages.iter().any(|s| s.days_late > 0 && s.stage.starts_with("after"));
    let ctx = json!({"office": cfg.office.name, "unit": {"id": unit.id, "name": unit.name}, "items": items, "overdue": overdue, "contact": contact(cfg)});
    render(cfg, "reminder", &ctx)
}
