//! The Vietnamese wording of outgoing mail, as plain text and HTML.
//!
//! Kept in one place so the office's wording changes touch one file; every value put into HTML
//! is escaped.

use crate::config::{Config, Unit};
use crate::domain::{Decision, ParseStatus};
use crate::matching::Match;
use crate::notify::period_label;
use crate::parse::mime::MailFacts;
use crate::parse::Document;
use crate::schedule::DueStage;
use crate::store::MessageRow;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"vi\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title></head><body style=\"font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#222;max-width:640px;margin:0 auto;padding:12px\">{}</body></html>",
        esc(title),
        body
    )
}

fn list_html(items: &[String]) -> String {
    if items.is_empty() {
        return String::new();
    }
    format!("<ul>{}</ul>", items.iter().map(|i| format!("<li>{}</li>", esc(i))).collect::<String>())
}

/// Acknowledgement of a received message: what was understood and what looks wrong.
pub fn ack(cfg: &Config, row: &MessageRow, eff: &MailFacts, docs: &[Document], m: &Match) -> (String, String, String) {
    let subject = if eff.subject.is_empty() { "Xác nhận đã nhận báo cáo".to_string() } else { format!("Re: {}", eff.subject) };
    let unit = m.unit.as_ref().and_then(|u| cfg.unit(u.as_str())).map(|u| format!("{} ({})", u.name, u.id));
    let report = m.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.clone());
    let period = m.period.as_ref().map(period_label);
    let status = match m.decision {
        Decision::Accepted => "Đã tiếp nhận".to_string(),
        Decision::NeedsReview => "Đã nhận, chờ Văn phòng xem xét".to_string(),
        Decision::Rejected => "Không đọc được, đề nghị gửi lại".to_string(),
        _ => "Đã nhận".to_string(),
    };
    let timeliness = match (m.timeliness, m.due) {
        (Some(crate::domain::Timeliness::OnTime), Some(d)) => Some(format!("Đúng hạn (hạn nộp {})", d.format("%d/%m/%Y"))),
        (Some(crate::domain::Timeliness::Late), Some(d)) => Some(format!("Muộn (hạn nộp {})", d.format("%d/%m/%Y"))),
        _ => None,
    };
    let doc_lines: Vec<String> = docs
        .iter()
        .map(|d| {
            let state = match d.parse {
                ParseStatus::Ok => "đã đọc".to_string(),
                ParseStatus::Skipped => "đã lưu, không đọc nội dung".to_string(),
                ParseStatus::Error => format!("không đọc được: {}", d.error.clone().unwrap_or_default()),
            };
            let num = d.header.number.as_ref().map(|n| format!(", số {n}")).unwrap_or_default();
            format!("{}{} — {}", d.filename, num, state)
        })
        .collect();
    let mut notes: Vec<String> = m.reasons.clone();
    notes.extend(m.findings.iter().cloned());
    let no_readable = !docs.iter().any(|d| d.parse == ParseStatus::Ok);
    if no_readable && m.decision != Decision::Duplicate {
        notes.push("Đề nghị gửi bản .docx hoặc .xlsx để Văn phòng tổng hợp số liệu.".into());
    }
    let mut facts: Vec<(String, String)> = vec![("Tình trạng".into(), status)];
    if let Some(u) = &unit {
        facts.push(("Đơn vị".into(), u.clone()));
    }
    if let Some(r) = &report {
        facts.push(("Báo cáo".into(), r.clone()));
    }
    if let Some(p) = &period {
        facts.push(("Kỳ báo cáo".into(), p.clone()));
    }
    if let Some(t) = &timeliness {
        facts.push(("Thời hạn".into(), t.clone()));
    }
    if let Some(v) = row.version.filter(|v| *v > 1) {
        facts.push(("Phiên bản".into(), format!("lần gửi thứ {v}")));
    }
    let received = crate::schedule::fmt_instant(cfg.office.timezone, row.received_at);
    let mut text = format!("Kính gửi đơn vị,\n\n{} đã nhận thư gửi lúc {}.\n\n", cfg.office.name, received);
    for (k, v) in &facts {
        text.push_str(&format!("{k}: {v}\n"));
    }
    text.push_str("\nTệp đính kèm:\n");
    for d in &doc_lines {
        text.push_str(&format!("  - {d}\n"));
    }
    if !notes.is_empty() {
        text.push_str("\nLưu ý:\n");
        for n in &notes {
            text.push_str(&format!("  - {n}\n"));
        }
    }
    text.push_str(&format!("\nThư này được gửi tự động; xin không trả lời thư này.\n{}\n", cfg.office.name));
    let table: String = facts.iter().map(|(k, v)| format!("<tr><td style=\"padding:4px 8px;color:#555\">{}</td><td style=\"padding:4px 8px\"><b>{}</b></td></tr>", esc(k), esc(v))).collect();
    let body = format!(
        "<p>Kính gửi đơn vị,</p><p>{} đã nhận thư gửi lúc {}.</p><table style=\"border-collapse:collapse\">{}</table><p>Tệp đính kèm:</p>{}{}<p style=\"color:#777;font-size:12px\">Thư này được gửi tự động; xin không trả lời thư này.<br>{}</p>",
        esc(&cfg.office.name),
        esc(&received),
        table,
        list_html(&doc_lines),
        if notes.is_empty() { String::new() } else { format!("<p><b>Lưu ý:</b></p>{}", list_html(&notes)) },
        esc(&cfg.office.name)
    );
    (subject, text, html_page("Xác nhận", &body))
}

/// One reminder mail for a unit, listing every stage due for it.
pub fn reminder(cfg: &Config, unit: &Unit, stages: &[DueStage]) -> (String, String, String) {
    let overdue = stages.iter().any(|s| s.days_late > 0 && s.stage.starts_with("after"));
    let names: Vec<String> = stages
        .iter()
        .map(|s| {
            let r = cfg.report(s.report.as_str()).map(|r| r.name.clone()).unwrap_or_else(|| s.report.to_string());
            let when = if s.stage.starts_with("after") {
                format!("quá hạn {} ngày (hạn nộp {})", s.days_late, s.due_date.format("%d/%m/%Y"))
            } else {
                format!("hạn nộp {}", s.due_date.format("%d/%m/%Y"))
            };
            format!("{} {} — {}", r, period_label(&s.period), when)
        })
        .collect();
    let subject = if overdue {
        format!("[Nhắc nộp] Quá hạn: {}", names.first().cloned().unwrap_or_default())
    } else {
        format!("[Nhắc nộp] {}", names.first().cloned().unwrap_or_default())
    };
    let mut text = format!("Kính gửi {},\n\n{} nhắc đơn vị các báo cáo sau:\n", unit.name, cfg.office.name);
    for n in &names {
        text.push_str(&format!("  - {n}\n"));
    }
    text.push_str("\nĐề nghị đơn vị gửi báo cáo (.docx hoặc .xlsx) về địa chỉ thư này. Nếu đã gửi, xin bỏ qua thư này.\n");
    text.push_str(&format!("\n{}\n", cfg.office.name));
    let body = format!(
        "<p>Kính gửi {},</p><p>{} nhắc đơn vị các báo cáo sau:</p>{}<p>Đề nghị đơn vị gửi báo cáo (.docx hoặc .xlsx) về địa chỉ thư này. Nếu đã gửi, xin bỏ qua thư này.</p><p style=\"color:#777;font-size:12px\">{}</p>",
        esc(&unit.name),
        esc(&cfg.office.name),
        list_html(&names),
        esc(&cfg.office.name)
    );
    (subject, text, html_page("Nhắc nộp báo cáo", &body))
}
