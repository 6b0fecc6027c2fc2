//! The audit trail as people read it (SPEC §17): each event kind's Vietnamese name, and an
//! event's details told as a sentence — never the JSON it is stored as.

use crate::config::Config;
use crate::domain::Period;
use serde_json::Value;

/// Every kind of event written, with its name in the office's words.
pub const KINDS: &[(&str, &str)] = &[
    ("message_received", "Nhận thư"),
    ("documents_parsed", "Đọc tệp đính kèm"),
    ("decision", "Quyết định tự động"),
    ("review_assign", "Chấp nhận, gán (người duyệt)"),
    ("review_reject", "Từ chối (người duyệt)"),
    ("reprocessed", "Đọc lại"),
    ("message_set_aside", "Để riêng thư lỗi"),
    ("ack_skipped", "Không gửi báo nhận"),
    ("mail_queued", "Xếp thư đi"),
    ("mail_sent", "Đã gửi thư"),
    ("mail_failed", "Gửi thư lỗi"),
    ("mail_retry", "Gửi lại thư"),
    ("mail_recipient_refused", "Người nhận bị từ chối"),
    ("mail_not_built", "Không tạo được thư"),
    ("outbox_blocked", "Máy chủ thư không nhận"),
    ("outbox_unblocked", "Máy chủ thư nhận lại"),
    ("reminder_decided", "Quyết định nhắc nộp"),
    ("digest_decided", "Lập bản tin tuần"),
    ("status_decided", "Lập bảng tình hình"),
    ("review_notice_decided", "Lập thư báo việc chờ xử lý"),
    ("exempt", "Miễn nộp"),
    ("exempt_withdrawn", "Bỏ miễn nộp"),
    ("extension_granted", "Gia hạn"),
    ("extension_withdrawn", "Thôi gia hạn"),
    ("mail_handled", "Đã xử lý thư khác"),
    ("mail_answered", "Trả lời thư khác"),
    ("request_added", "Thêm công văn"),
    ("request_confirmed", "Xác nhận yêu cầu của công văn"),
    ("request_cancelled", "Hủy yêu cầu của công văn"),
    ("figures_confirmed", "Xác nhận số liệu đọc từ ảnh"),
    ("account_added", "Thêm tài khoản"),
    ("account_disabled", "Khoá tài khoản"),
    ("account_enabled", "Mở khoá tài khoản"),
    ("account_password", "Đổi mật khẩu"),
    ("config_loaded", "Nạp cấu hình"),
    ("directory_imported", "Nạp danh mục đơn vị, loại báo cáo từ tệp cấu hình"),
    ("unit_added", "Thêm đơn vị"),
    ("unit_changed", "Sửa thông tin đơn vị"),
    ("unit_merged", "Sáp nhập đơn vị"),
    ("group_changed", "Đặt tên nhóm đơn vị"),
    ("report_added", "Thêm loại báo cáo"),
    ("report_changed", "Sửa hạn nộp, lịch nhắc của loại báo cáo"),
];

/// The name of an event kind (the kind itself only for one this build does not know).
pub fn kind_vi(kind: &str) -> String {
    KINDS.iter().find(|(k, _)| *k == kind).map(|(_, v)| v.to_string()).unwrap_or_else(|| format!("Sự kiện khác ({kind})"))
}

fn day(s: &str) -> String {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|_| s.to_string())
}

fn list(v: &Value) -> String {
    match v {
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string).or_else(|| (!x.is_null()).then(|| x.to_string()))).collect::<Vec<_>>().join(", "),
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Why an acknowledgement was not sent, in words.
fn why_vi(d: &Value) -> Option<String> {
    let why = d["why"].as_str()?;
    Some(if why.contains("acknowledge_within_days") {
        format!("thư đến đã quá {} ngày", d["days"].as_i64().unwrap_or(0))
    } else if why.contains("acks_per_sender_hour") {
        format!("đã gửi đủ {} thư báo nhận trong một giờ cho {}", d["limit"].as_i64().unwrap_or(0), d["to"].as_str().unwrap_or("người gửi"))
    } else {
        why.to_string()
    })
}

/// A reminder stage (`before-3`, `after-5`) in words.
fn stage_vi(s: &str) -> String {
    if let Some(n) = s.strip_prefix("before-") {
        format!("nhắc trước hạn {n} ngày")
    } else if let Some(n) = s.strip_prefix("after-") {
        format!("nhắc khi quá hạn {n} ngày")
    } else {
        s.to_string()
    }
}

/// An event's details as one sentence of clauses, naming units, reports and periods.
pub fn describe(cfg: &Config, _kind: &str, data: &str) -> String {
    let d: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let Value::Object(m) = &d else { return String::new() };
    let unit = |v: &Value| v.as_str().map(|u| cfg.unit(u).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string()));
    let report = |v: &Value| v.as_str().map(|r| cfg.report(r).map(|x| x.name.clone()).unwrap_or_else(|| r.to_string()));
    let period = |v: &Value| v.as_str().and_then(|p| p.parse::<Period>().ok());
    let mut out: Vec<String> = Vec::new();
    // The obligation an event is about, as an office writes it.
    if let (Some(r), Some(p)) = (report(&d["report"]), period(&d["period"])) {
        out.push(p.title(&r));
    } else if let Some(r) = report(&d["report"]) {
        out.push(r);
    }
    if let Some(u) = unit(&d["unit"]) {
        out.push(format!("đơn vị {u}"));
    }
    for (k, v) in m {
        if v.is_null() || matches!(k.as_str(), "unit" | "report" | "period" | "sha256" | "source" | "hash" | "days" | "limit") {
            continue;
        }
        let text = match k.as_str() {
            "why" => why_vi(&d).map(|w| format!("lý do: {w}")),
            "reason" => v.as_str().filter(|s| !s.is_empty()).map(|s| format!("lý do: {s}")),
            "until" => v.as_str().map(|s| format!("hạn mới {}", day(s))),
            "due" => v.as_str().map(|s| format!("hạn nộp {}", day(s))),
            "decision" | "was" => v.as_str().and_then(crate::domain::Decision::parse).map(|x| format!("{}{}", if k == "was" { "trước đó: " } else { "" }, x.label_vi().to_lowercase())),
            "stage" => v.as_str().map(stage_vi),
            "escalate" => v.as_bool().filter(|b| *b).map(|_| "báo cả lãnh đạo".to_string()),
            "to" => Some(format!("gửi {}", list(v))).filter(|s| s.len() > 4),
            "cc" => Some(list(v)).filter(|s| !s.is_empty()).map(|s| format!("đồng gửi {s}")),
            "subject" => v.as_str().map(|s| format!("tiêu đề «{s}»")),
            "from" => v.as_str().map(|s| format!("từ {s}")),
            "message_id" => v.as_str().map(|s| format!("mã thư {s}")),
            "error" => v.as_str().map(|s| format!("lỗi: {}", crate::notify::deliver::error_vi(s))),
            "kind" => v.as_str().map(|s| format!("loại thư: {}", crate::notify::mail_kind_vi(s))),
            "arrival" | "at" => v.as_i64().map(|t| format!("đến lúc {}", crate::schedule::fmt_human(cfg.office.timezone, t))),
            "size" => v.as_i64().map(|n| format!("dung lượng {}", if n >= 1024 * 1024 { format!("{:.1} MB", n as f64 / 1048576.0) } else { format!("{} KB", (n + 1023) / 1024) })),
            "recipient" => v.as_str().map(|s| format!("người nhận {s}")),
            "reply" | "note" => v.as_str().map(|s| format!("máy chủ thư trả lời: {s}")),
            "text" => v.as_str().map(|s| format!("nội dung: {}", s.chars().take(160).collect::<String>())),
            "answer" => None,
            "units" => v.as_i64().map(|n| format!("{n} đơn vị")).or_else(|| Some(format!("đơn vị: {}", list(v)))),
            "reports" => v.as_i64().map(|n| format!("{n} loại báo cáo")),
            "role" => v.as_str().and_then(crate::domain::Role::parse).map(|r| format!("vai trò {}", r.label_vi())),
            "as_of" => v.as_i64().map(|t| format!("tính đến {}", crate::schedule::fmt_human(cfg.office.timezone, t))),
            "documents" | "files" => Some(format!("{} tệp", v.as_array().map(|a| a.len()).unwrap_or(0))),
            "waiting" => v.as_array().map(|a| format!("{} thư chờ xem xét", a.len())),
            "other_mail" => v.as_array().filter(|a| !a.is_empty()).map(|a| format!("{} thư khác chưa xử lý", a.len())),
            "number" => v.as_str().map(|s| format!("số {s}")),
            "day" | "week" | "date" => v.as_str().map(day),
            "attempts" => v.as_i64().map(|n| format!("lần thử {n}")),
            "changes" => v.as_array().map(|a| a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join("; ")),
            "added" => v.as_i64().filter(|n| *n > 0).map(|n| format!("thêm {n} mục")),
            "changed" => v.as_i64().filter(|n| *n > 0).map(|n| format!("cập nhật {n} mục")),
            "kept" => v.as_i64().filter(|n| *n > 0).map(|n| format!("giữ nguyên {n} mục")),
            "bounces" => v.as_array().filter(|a| !a.is_empty()).map(|a| format!("{} thư không đến được đơn vị", a.len())),
            // A field this build has no words for: its text, never a bare number or a structure.
            _ => match v {
                Value::String(s) => Some(s.clone()),
                Value::Array(a) if a.iter().all(|x| x.is_string()) => Some(list(v)),
                _ => None,
            },
        };
        if let Some(t) = text.filter(|t| !t.trim().is_empty()) {
            out.push(t);
        }
    }
    out.join("; ")
}

#[cfg(test)]
mod kinds_tests {
    use super::KINDS;

    /// Every `*.rs` file under `src/`, as text.
    fn sources() -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push((p.display().to_string(), std::fs::read_to_string(&p).unwrap()));
                }
            }
        }
        out
    }

    #[test]
    fn every_event_kind_written_has_a_vietnamese_name_and_every_name_a_kind_written() {
        let call = regex::Regex::new(r#"\.audit\(\s*(?:if [^{]*\{\s*"([a-z_]+)"\s*\}\s*else\s*\{\s*"([a-z_]+)"\s*\}|"([a-z_]+)")"#).unwrap();
        let literal = regex::Regex::new(r#""([a-z]+(?:_[a-z]+)*)""#).unwrap();
        let mut written = std::collections::BTreeSet::new();
        let mut literals = std::collections::BTreeSet::new();
        for (path, text) in sources() {
            // This file names every kind; what counts is where they are written.
            if path.ends_with("audit/words.rs") {
                continue;
            }
            for c in call.captures_iter(&text) {
                written.extend([c.get(1), c.get(2), c.get(3)].into_iter().flatten().map(|m| m.as_str().to_string()));
            }
            literals.extend(literal.captures_iter(&text).map(|c| c[1].to_string()));
        }
        assert!(written.len() > 20, "the calls were found: {written:?}");
        let named: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
        let unnamed: Vec<&String> = written.iter().filter(|k| !named.contains(&k.as_str())).collect();
        assert!(unnamed.is_empty(), "event kinds written without a Vietnamese name: {unnamed:?}");
        // Kinds passed through a variable (a review's assign or reject, a compiled mail's event)
        // are found as the literals they come from.
        let never: Vec<&&str> = named.iter().filter(|k| !literals.contains(**k)).collect();
        assert!(never.is_empty(), "names for kinds nothing writes: {never:?}");
    }
}
