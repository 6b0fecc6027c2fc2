//! The audit trail as people read it (SPEC §17): each event kind's Vietnamese name, and an
//! event's details told as a sentence — never the JSON it is stored as.

use crate::config::Config;
use crate::domain::Period;
use serde_json::Value;

/// The name of an event kind (the kind itself only for one this build does not know).
pub fn kind_vi(kind: &str) -> String {
    super::Kind::parse(kind).map(|k| k.label_vi().to_string()).unwrap_or_else(|| format!("Sự kiện khác ({kind})"))
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

/// A delivery error as the office reads it: what went wrong in Vietnamese, with the server's own
/// words (its reply code and text) kept after it for whoever administers the mail server.
pub fn error_vi(e: &str) -> String {
    let low = e.to_ascii_lowercase();
    let said = |what: &str| format!("{what} (máy chủ trả lời: {})", e.trim());
    if low.contains("every recipient was refused") {
        said("máy chủ thư từ chối mọi người nhận")
    } else if low.contains("os error 17") || low.contains("file exists") {
        "tệp thư đã có sẵn trong thư mục thư đi (lần gửi trước đã ghi tệp này)".into()
    } else if low.contains("os error 13") || low.contains("permission denied") {
        "không có quyền ghi vào thư mục thư đi".into()
    } else if low.contains("os error 28") || low.contains("no space") {
        "ổ đĩa của thư mục thư đi đã đầy".into()
    } else if low.contains("no answer in") || low.contains("timed out") {
        "máy chủ thư không trả lời (quá thời gian chờ)".into()
    } else if low.contains("connection refused") || low.contains("os error 111") {
        "không kết nối được máy chủ thư (máy chủ từ chối kết nối)".into()
    } else if low.contains("does not offer starttls") {
        "máy chủ thư không hỗ trợ kết nối bảo mật (STARTTLS)".into()
    } else if low.contains("certificate") || low.contains("tls") {
        said("lỗi kết nối bảo mật (TLS) với máy chủ thư")
    } else if low.contains("login") {
        said("máy chủ thư từ chối đăng nhập của Văn phòng")
    } else if low.contains("still not delivered after") {
        said("quá số ngày thử gửi mà vẫn chưa gửi được")
    } else if low.contains("rcpt to") {
        said("máy chủ thư từ chối người nhận")
    } else if low.contains("mail from") {
        said("máy chủ thư từ chối địa chỉ gửi của Văn phòng")
    } else if low.contains("no smtp server configured") {
        "chưa cấu hình máy chủ gửi thư".into()
    } else if low.contains("not an smtp reply") || low.contains("reading:") || low.contains("writing:") {
        said("kết nối với máy chủ thư bị gián đoạn")
    } else {
        said("không gửi được thư")
    }
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
            "error" => v.as_str().map(|s| format!("lỗi: {}", error_vi(s))),
            "kind" => v.as_str().map(|s| format!("loại thư: {}", crate::domain::MailKind::parse(s).map_or("thư khác", |k| k.label_vi()))),
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
    use crate::audit::Kind;

    /// Every `*.rs` file under `src/` outside `audit/`, as text.
    fn sources() -> Vec<String> {
        let mut out = Vec::new();
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() && !p.ends_with("audit") {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn every_event_kind_is_written_somewhere_and_has_one_word_and_one_vietnamese_name() {
        let text = sources().join("\n");
        let mut words = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for k in Kind::ALL {
            // A kind nothing writes would be a name on the audit page for nothing.
            assert!(text.contains(&format!("Kind::{k:?}")), "no code writes the event kind {k:?}");
            assert_eq!(Kind::parse(k.as_str()), Some(*k), "{k:?} reads back from its stored word");
            assert!(words.insert(k.as_str()), "two kinds stored as `{}`", k.as_str());
            assert!(names.insert(k.label_vi()) && !k.label_vi().is_empty(), "{k:?}'s Vietnamese name is its own");
        }
        assert_eq!(super::kind_vi("written_by_a_newer_version"), "Sự kiện khác (written_by_a_newer_version)");
    }
}
