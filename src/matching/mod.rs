//! Who sent what for which period (SPEC §6): a pure function from the message's facts, its
//! documents, its arrival and the config to a [`Match`] with its evidence.
//!
//! Text is compared folded (NFC, case, tones, đ→d). A registered sender address is strong
//! evidence of the unit; the issuing body in the document header, unit names in the body and
//! aliases in the subject or file names are further evidence. When the evidence disagrees, or
//! cannot decide, the submission goes to review with the best guess and the reasons.

use crate::domain::rules::{Extract, Report, Rules, Unit};
use crate::domain::{Decision, Format, ParseStatus, Period, PeriodKind, ReportId, Timeliness, UnitId};
use crate::parse::mime::MailFacts;
use crate::parse::Document;
use crate::schedule;
use crate::text::{contains_words, fold, roman_value};
use chrono::NaiveDate;
use once_cell::sync::Lazy;
use regex::Regex;
use serde::{Deserialize, Serialize};

/// The outcome of matching one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub unit: Option<UnitId>,
    pub report: Option<ReportId>,
    pub period: Option<Period>,
    pub due: Option<NaiveDate>,
    pub deadline: Option<i64>,
    pub timeliness: Option<Timeliness>,
    pub findings: Vec<String>,
    pub evidence: Vec<String>,
    /// Whether the sender should get an acknowledgement at all (never to loops, lists, bounces).
    pub reply: bool,
    /// The further reports of a message carrying several (SPEC §6): each one's decision with the
    /// indices of its documents. Empty when the message carries one report.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<(Match, Vec<usize>)>,
    /// With `also`: the indices of the first report's own documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_documents: Option<Vec<usize>>,
    /// The office's own letter setting a request (SPEC §15), sent or forwarded by its staff:
    /// the index of the document that holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub letter: Option<usize>,
    /// That letter as read (once, when the mail was analysed), for the request it becomes.
    #[serde(skip)]
    pub request_letter: Option<crate::parse::letter::Letter>,
}

impl Match {
    /// A decision with nothing else known yet.
    pub fn new(decision: Decision) -> Match {
        Match {
            decision,
            reasons: vec![],
            unit: None,
            report: None,
            period: None,
            due: None,
            deadline: None,
            timeliness: None,
            findings: vec![],
            evidence: vec![],
            also: vec![],
            own_documents: None,
            letter: None,
            request_letter: None,
            reply: true,
        }
    }
}

/// Links in a mail's words that point at a file kept elsewhere: a file-sharing service (Google
/// Drive, OneDrive, SharePoint, Dropbox, a province's file service named as one) or an address
/// ending in a document's extension. At most five, each cut to 200 characters.
pub fn file_links(text: &str) -> Vec<String> {
    const HOSTS: [&str; 14] = [
        "drive.google.", "docs.google.", "onedrive.", "1drv.ms", "sharepoint.com", "dropbox.", "wetransfer.", "we.tl", "fshare.vn", "mega.nz", "box.com", "mediafire.", "icloud.com", "terabox.",
    ];
    const WORDS: [&str; 6] = ["drive", "file", "share", "cloud", "upload", "storage"];
    const EXTS: [&str; 10] = [".docx", ".doc", ".xlsx", ".xls", ".pdf", ".zip", ".rar", ".7z", ".odt", ".ods"];
    let mut out: Vec<String> = Vec::new();
    // ASCII case folding keeps every byte where it was: the link is shown as written.
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = lower[from..].find("http") {
        let start = from + i;
        let cand = &lower[start..];
        let end = cand.find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'' | ')' | ']')).unwrap_or(cand.len());
        from = start + end.max(4);
        let url = cand[..end].trim_end_matches(['.', ',', ';', ':']);
        let Some(after) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else { continue };
        let host = after.split(['/', '?', '#']).next().unwrap_or("");
        let path = after[host.len()..].split(['?', '#']).next().unwrap_or("");
        let shared = HOSTS.iter().any(|h| host.contains(h)) || host.split(['.', '-']).any(|label| WORDS.contains(&label));
        let shown = &text[start..start + url.len()];
        if (shared || EXTS.iter().any(|e| path.ends_with(e))) && out.len() < 5 && !out.iter().any(|u| u == shown) {
            out.push(shown.chars().take(200).collect());
        }
    }
    out
}

/// The message a decision is taken on: a forward by office staff is judged on the forwarded one.
pub fn effective<'a>(cfg: &Rules, facts: &'a MailFacts) -> &'a MailFacts {
    match (&facts.forwarded, facts.from.as_deref()) {
        (Some(inner), Some(from)) if cfg.is_staff(from) => inner,
        _ => facts,
    }
}

/// Whether a letter this mail carries may be the office's own setting a request (SPEC §15): a
/// member of its staff sent or forwarded it, not a unit's mail forwarded, nor a sender whose
/// authentication failed.
pub fn from_office_staff(cfg: &Rules, facts: &MailFacts) -> bool {
    let Some(from) = facts.from.as_deref() else { return false };
    if !cfg.is_staff(from) || facts.auth_suspect(cfg.office.authserv_id.as_deref()).is_some() {
        return false;
    }
    let eff = effective(cfg, facts);
    !eff.from.as_deref().is_some_and(|f| cfg.unit_by_email(f).is_some())
}

/// The report kind one document names by itself (its title, file name and the extractor that
/// recognises its content), when exactly one kind does.
fn kind_of_document<'a>(cfg: &'a Rules, d: &Document) -> Option<&'a Report> {
    let own = fold(&format!("{} {}", d.title, d.filename));
    let hits: Vec<&Report> = cfg
        .reports
        .iter()
        .filter(|r| {
            let words = r.keywords.iter().any(|k| contains_words(&own, &fold(k)));
            let content = match r.extract {
                Extract::ScoreTable => d.score.is_some(),
                Extract::Commitments => d.commitments.is_some(),
                Extract::TaskPlan => d.tasks.is_some(),
                Extract::Report => false,
            };
            words || content || d.form_of.as_deref() == Some(r.id.as_str())
        })
        .collect();
    match hits.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// Several reports in one message (SPEC §6): the readable documents grouped by the report kind
/// each names by itself, in attachment order. A document naming no kind of its own (an annex, a
/// signed PDF, a scan) goes with the group whose document bears the same number (*Số: …*), or
/// else with the first. Empty when the message carries one report, the usual case.
pub fn split_reports(cfg: &Rules, docs: &[Document]) -> Vec<Vec<usize>> {
    let readable: Vec<usize> = (0..docs.len()).filter(|&i| docs[i].parse == ParseStatus::Ok && !docs[i].format.is_archive()).collect();
    let mut groups: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut loose = Vec::new();
    for &i in &readable {
        // A copy (PDF, scan) never starts a report of its own.
        let kind = if matches!(docs[i].format, Format::Pdf | Format::Image) { None } else { kind_of_document(cfg, &docs[i]) };
        match kind {
            Some(r) => match groups.iter_mut().find(|(k, _)| *k == r.id.as_str()) {
                Some((_, g)) => g.push(i),
                None => groups.push((r.id.as_str(), vec![i])),
            },
            None => loose.push(i),
        }
    }
    // Within one kind, files that each name another period are reports of their own (two
    // months' forms sent in one mail); a file naming none goes with the first of them.
    let mut by_period: Vec<(&str, Vec<usize>)> = Vec::new();
    for (kind, g) in groups {
        let Some(report) = cfg.report(kind) else {
            by_period.push((kind, g));
            continue;
        };
        let own: Vec<Option<Period>> = g.iter().map(|&i| own_period(report, &docs[i])).collect();
        let mut distinct: Vec<Period> = Vec::new();
        for p in own.iter().flatten() {
            if !distinct.contains(p) {
                distinct.push(*p);
            }
        }
        if distinct.len() < 2 {
            by_period.push((kind, g));
            continue;
        }
        let first = by_period.len();
        for p in &distinct {
            by_period.push((kind, g.iter().zip(&own).filter(|(_, o)| **o == Some(*p)).map(|(i, _)| *i).collect()));
        }
        for (i, o) in g.iter().zip(&own) {
            if o.is_none() {
                by_period[first].1.push(*i);
            }
        }
    }
    let mut groups = by_period;
    if groups.len() < 2 {
        return vec![];
    }
    for i in loose {
        let number = docs[i].header.number.as_deref();
        let home = groups.iter().position(|(_, g)| number.is_some() && g.iter().any(|&j| docs[j].header.number.as_deref() == number)).unwrap_or(0);
        groups[home].1.push(i);
    }
    // Unreadable documents stay with the first report (its acknowledgement names them).
    for i in (0..docs.len()).filter(|i| !readable.contains(i)) {
        groups[0].1.push(i);
    }
    groups.into_iter().map(|(_, mut g)| {
        g.sort();
        g
    }).collect()
}

/// The one period a document's own title names (its body's first lines when it has no title), if
/// exactly one: what tells two months' forms in one mail apart.
fn own_period(report: &Report, d: &Document) -> Option<Period> {
    let mut ps = periods_in(&fold(&d.title), report.period, true);
    if ps.is_empty() {
        ps = periods_in(&fold(prefix(&d.text, 1500)), report.period, false);
    }
    match ps.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Decides about each report of a message carrying several: each group of documents judged on
/// its own (the subject, which names them all, does not choose between them). The first is the
/// message's own decision; the others its `also`.
pub fn decide_reports(cfg: &Rules, facts: &MailFacts, docs: &[Document], groups: &[Vec<usize>], arrival: i64) -> Vec<Match> {
    let mut quiet = facts.clone();
    quiet.subject.clear();
    if let Some(inner) = quiet.forwarded.as_mut() {
        inner.subject.clear();
    }
    groups
        .iter()
        .map(|g| {
            let part: Vec<Document> = g.iter().map(|&i| docs[i].clone()).collect();
            let mut m = decide(cfg, &quiet, &part, arrival);
            let names: Vec<&str> = part.iter().map(|d| d.filename.as_str()).collect();
            m.evidence.insert(0, format!("thư mang {} báo cáo; báo cáo này gồm {}", groups.len(), names.join(", ")));
            m
        })
        .collect()
}

/// Decides about one message. `docs` are the documents read from the effective message's
/// attachments; `arrival` is the arrival instant (unix seconds).
pub fn decide(cfg: &Rules, facts: &MailFacts, docs: &[Document], arrival: i64) -> Match {
    let links = if docs.is_empty() {
        let eff = effective(cfg, facts);
        file_links(&format!("{}\n{}", eff.subject, eff.body_text))
    } else {
        vec![]
    };
    let mut m = decide_files(cfg, facts, docs, arrival, !links.is_empty());
    if !links.is_empty() && matches!(m.decision, Decision::Accepted | Decision::NeedsReview) {
        // Nothing is fetched from outside: a person looks, and the unit is asked for the file.
        m.decision = Decision::NeedsReview;
        m.reasons.push(format!(
            "thư gửi đường liên kết thay cho tệp đính kèm ({}): Văn phòng không tải tệp từ bên ngoài, đề nghị gửi lại thư có đính kèm tệp báo cáo",
            links.join(", ")
        ));
    }
    m
}

/// [`decide`] on the files a message carries (or, for a report sent as a link — `linked` —, on
/// its words).
fn decide_files(cfg: &Rules, facts: &MailFacts, docs: &[Document], arrival: i64, linked: bool) -> Match {
    let from = facts.from.as_deref().unwrap_or("");
    if let Some(m) = machine_mail(cfg, facts) {
        return m;
    }
    let eff = effective(cfg, facts);
    let mut m = Match::new(Decision::Accepted);
    if eff.from.as_deref() != facts.from.as_deref() {
        m.evidence.push(format!(
            "cán bộ Văn phòng {} chuyển tiếp; xét theo thư gốc của {}",
            from,
            eff.from.as_deref().unwrap_or("?")
        ));
    }
    // A report sent as a link (Google Drive, OneDrive, a file service) is placed by the mail's
    // own words like an unreadable file, then waits for a person (see [`decide`]).
    if docs.is_empty() && !linked {
        m.decision = Decision::NotSubmission;
        m.reasons.push("thư không kèm văn bản (câu hỏi, trả lời hoặc thông báo)".into());
        return m;
    }
    let mut ok: Vec<&Document> = docs.iter().filter(|d| d.parse == ParseStatus::Ok && !d.format.is_archive()).collect();
    // A signed PDF or a scan beside the editable file is its official copy: the editable one
    // is read first, so its header and tables are the records.
    ok.sort_by_key(|d| matches!(d.format, Format::Pdf | Format::Image));
    for d in &ok {
        if d.ocr {
            m.evidence.push(format!("{}: chữ đọc bằng OCR (nhận dạng ảnh quét), có thể sai sót", d.filename));
        } else if let Some(by) = &d.converted_by {
            m.evidence.push(format!("{}: đọc qua {by}", d.filename));
        }
    }
    let errors: Vec<&Document> = docs.iter().filter(|d| d.parse == ParseStatus::Error).collect();
    // Nothing read: broken or refused files only are sent back; whole files that could not be
    // read here (a scan without legible text, a password, an unknown format) leave the
    // message's own words to place it (SPEC §6).
    let unread = ok.is_empty();
    if unread {
        let names: Vec<&str> = docs.iter().filter(|d| !d.format.is_archive() || d.parse == ParseStatus::Error).map(|d| d.filename.as_str()).collect();
        if !errors.is_empty() && errors.iter().all(|d| d.broken) && docs.iter().all(|d| d.parse != ParseStatus::Skipped) {
            // Each file's own reason is told once, beside its name in the list of files.
            m.decision = Decision::Rejected;
            m.reasons.push(format!("không đọc được tệp đính kèm nào ({})", names.join(", ")));
            return m;
        }
        m.evidence.push(if linked {
            "thư không kèm tệp mà gửi đường liên kết; xét theo người gửi, tiêu đề và nội dung thư".to_string()
        } else {
            format!("không đọc được nội dung tệp nào ({}); xét theo người gửi, tiêu đề và nội dung thư", names.join(", "))
        });
    }
    // With no document read, the mail's own text is read as its subject is.
    let widened;
    let eff = if unread && !eff.body_text.trim().is_empty() {
        widened = MailFacts { subject: format!("{}\n{}", eff.subject, prefix(&eff.body_text, 2048)), ..eff.clone() };
        &widened
    } else {
        eff
    };

    // Some files read, others not: the others are worth a word.
    for d in &errors {
        m.findings.push(format!("{}: không đọc được ({})", d.filename, d.error.clone().unwrap_or_default()));
    }

    // A reply to the office's reminder carries that reminder's obligation.
    let thread = thread_obligation(cfg, facts);
    if let Some((u, r, p)) = thread {
        m.evidence.push(format!("trả lời thư nhắc của Văn phòng về {} {} của {}", r.name, p.label_vi(), u.name));
    }

    decide_unit(cfg, facts, eff, docs, &ok, thread, &mut m);

    let Some(report) = decide_kind(cfg, eff, docs, &ok, thread, &mut m) else {
        m.decision = Decision::NeedsReview;
        return m;
    };

    decide_period(cfg, report, eff, &ok, docs, arrival, thread, &mut m);

    document_findings(report, &ok, unread, &mut m);
    if !m.reasons.is_empty() {
        m.decision = Decision::NeedsReview;
    }
    m
}

/// A message that is not mail, or mail a machine sent (a loop, a list, a bounce, the office's
/// own address): never a submission, whatever it carries (SPEC §6), and never answered.
fn machine_mail(cfg: &Rules, facts: &MailFacts) -> Option<Match> {
    let own_address = facts.from.as_deref().unwrap_or("").eq_ignore_ascii_case(&cfg.office.address);
    if facts.not_mail {
        let mut m = Match::new(Decision::Rejected);
        m.reasons.push("không phải thư điện tử: không đọc được phần tiêu đề thư".into());
        m.reply = false;
        return Some(m);
    }
    let loop_reason = if facts.bounce {
        Some("thư báo lỗi chuyển phát (bounce)")
    } else if facts.receipt {
        Some("thư xác nhận đã đọc (MDN)")
    } else if facts.null_sender {
        Some("thư có người gửi rỗng (Return-Path: <>), chỉ dùng cho thông báo tự động")
    } else if facts.auto_submitted {
        Some("thư trả lời tự động (Auto-Submitted)")
    } else if facts.list {
        Some("thư gửi theo danh sách (List-Id / Precedence)")
    } else if own_address {
        Some("thư gửi từ chính địa chỉ của Văn phòng")
    } else {
        None
    };
    if let Some(r) = loop_reason {
        let mut m = Match::new(Decision::NotSubmission);
        m.reasons.push(r.into());
        m.reply = false;
        return Some(m);
    }
    None
}

/// The unit: the sender's registered address, what the documents say, the subject and file
/// names, a reminder answered; each disagreement a reason for a person to look.
fn decide_unit(cfg: &Rules, facts: &MailFacts, eff: &MailFacts, docs: &[Document], ok: &[&Document], thread: Option<(&Unit, &Report, Period)>, m: &mut Match) {
    let sender_unit = cfg.unit_by_email(eff.from.as_deref().unwrap_or(""));
    let doc_unit = unit_from_documents(cfg, ok, &mut m.evidence);
    let names_text = fold(&format!(
        "{} {}",
        eff.subject,
        docs.iter().map(|d| d.filename.as_str()).collect::<Vec<_>>().join(" ")
    ));
    let named: Vec<&Unit> = cfg.units.iter().filter(|u| unit_named_in(u, &names_text)).collect();
    if !named.is_empty() {
        m.evidence.push(format!(
            "tiêu đề hoặc tên tệp nêu {}",
            named.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", ")
        ));
    }
    match sender_unit {
        Some(su) => {
            m.evidence.push(format!("địa chỉ gửi {} đã đăng ký cho {}", eff.from.as_deref().unwrap_or(""), su.name));
            m.unit = Some(su.id.clone());
            // A unit merged into the sender's is the sender's now (SPEC §17): its name on a
            // document is no disagreement.
            let same = |u: &Unit| u.id == su.id || u.merged_into.as_ref() == Some(&su.id);
            if let Some(du) = doc_unit {
                if !same(du) {
                    m.reasons.push(format!("văn bản do {} ban hành nhưng địa chỉ gửi đã đăng ký cho {}", du.name, su.name));
                } else if du.id != su.id {
                    m.evidence.push(format!("{} đã sáp nhập vào {}", du.name, su.name));
                }
            } else if !named.is_empty() && !named.iter().any(|u| same(u)) {
                m.reasons.push(format!(
                    "tiêu đề hoặc tên tệp ghi {} nhưng địa chỉ gửi đã đăng ký cho {}",
                    named.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", "),
                    su.name
                ));
            }
            let authserv = cfg.office.authserv_id.as_deref();
            if let Some(why) = facts.auth_suspect(authserv).or_else(|| eff.auth_suspect(authserv)) {
                m.reasons.push(format!(
                    "xác thực người gửi không đạt ({why}) với {}, địa chỉ đã đăng ký cho {}: có thể bị giả mạo",
                    eff.from.as_deref().unwrap_or(""),
                    su.id
                ));
            }
        }
        None => match doc_unit {
            // An unregistered sender is taken at the document's word only when nothing else
            // names another unit: a subject naming one hospital over another's document is for
            // a person to decide (SPEC §6).
            Some(du) if !named.is_empty() && !named.iter().any(|u| u.id == du.id) => {
                m.unit = Some(du.id.clone());
                m.reasons.push(format!(
                    "văn bản do {} ban hành nhưng tiêu đề hoặc tên tệp ghi {}, và địa chỉ gửi {} chưa đăng ký cho đơn vị nào",
                    du.name,
                    named.iter().map(|u| u.name.as_str()).collect::<Vec<_>>().join(", "),
                    eff.from.as_deref().unwrap_or("?")
                ));
            }
            Some(du) => {
                m.unit = Some(du.id.clone());
                m.findings.push(format!(
                    "gửi từ {}, địa chỉ chưa đăng ký cho {}; được tiếp nhận vì văn bản ghi rõ đơn vị",
                    eff.from.as_deref().unwrap_or("một địa chỉ không rõ"),
                    du.name
                ));
            }
            None if thread.is_some() => {
                let (u, _, _) = thread.expect("matched");
                m.unit = Some(u.id.clone());
            }
            None => {
                if named.len() == 1 {
                    m.unit = Some(named[0].id.clone());
                    m.reasons.push(format!(
                        "địa chỉ gửi {} chưa đăng ký và văn bản không ghi rõ đơn vị; đoán là {} theo tiêu đề",
                        eff.from.as_deref().unwrap_or("?"),
                        named[0].name
                    ));
                } else {
                    m.reasons.push(format!(
                        "chưa rõ đơn vị: địa chỉ gửi {} chưa đăng ký và cả văn bản lẫn tiêu đề đều không ghi rõ một đơn vị",
                        eff.from.as_deref().unwrap_or("?")
                    ));
                }
            }
        },
    }

}

/// The report kind: the words of the mail and documents, or the reminder answered where the
/// words do not say (or only weakly); a unit outside the kind's groups is a reason.
fn decide_kind<'a>(cfg: &'a Rules, eff: &MailFacts, docs: &[Document], ok: &[&Document], thread: Option<(&'a Unit, &'a Report, Period)>, m: &mut Match) -> Option<&'a Report> {
    let the_unit = m.unit.as_ref().and_then(|u| cfg.unit(u.as_str()));
    let unit_group = the_unit.map(|u| u.group.clone());
    let before = m.reasons.len();
    let report = match (choose_kind(cfg, eff, docs, ok, unit_group.as_deref(), m), thread) {
        // The reminder answered says which report, where the words did not (or only weakly).
        (None, Some((_, r, _))) => {
            m.reasons.truncate(before);
            Some(r)
        }
        (Some(k), Some((_, r, _))) if k.id == r.id => {
            m.reasons.truncate(before);
            Some(k)
        }
        (k, _) => k,
    };
    let report = report?;
    m.report = Some(report.id.clone());
    if let (Some(g), Some(u)) = (&unit_group, the_unit) {
        if !report.applies_to_unit(u) {
            m.reasons.push(format!("{} không thuộc diện phải nộp {} (nhóm {})", u.name, report.name, cfg.group_name(g)));
        }
    }

    Some(report)
}

/// The period (a letter's request is owed for its one year), the unit it falls to after a
/// merger, and the deadline the arrival is judged against.
#[allow(clippy::too_many_arguments)]
fn decide_period(cfg: &Rules, report: &Report, eff: &MailFacts, ok: &[&Document], docs: &[Document], arrival: i64, thread: Option<(&Unit, &Report, Period)>, m: &mut Match) {
    let thread_period = thread.filter(|(_, r, _)| r.id == report.id).map(|(_, _, p)| p);
    // A letter's request is owed once, for the letter: its period is not read from the text
    // (a report on 2021's work due with next year's plans names both years).
    let period = match (&report.letter, report.once_for) {
        (Some(l), Some(y)) => {
            m.evidence.push(format!("kỳ báo cáo theo {}", l.number.as_deref().map(|n| format!("Công văn số {n}")).unwrap_or_else(|| "công văn".into())));
            Some(Period::Once(y))
        }
        _ => choose_period(cfg, report, eff, ok, docs, arrival, thread_period, m),
    };
    if let Some(p) = period {
        m.period = Some(p);
        // A unit merged into another (SPEC §17): what it sends for a period begun after its last
        // day is its successor's; a unit that did not exist then owes nothing for it.
        if let Some(u) = m.unit.as_ref().and_then(|u| cfg.unit(u.as_str())).filter(|u| !u.active_for(p)) {
            match u.merged_into.as_ref().and_then(|s| cfg.unit(s.as_str())).filter(|s| s.active_for(p)) {
                Some(s) => {
                    m.evidence.push(format!("{} đã sáp nhập vào {}: {} thuộc đơn vị tiếp nhận", u.name, s.name, p.label_vi()));
                    m.unit = Some(s.id.clone());
                }
                None => m.reasons.push(format!("{} không còn hoặc chưa hoạt động vào {}", u.name, p.label_vi())),
            }
        }
        match schedule::deadline_for(cfg, report, m.unit.as_ref().map(|u| u.as_str()), p) {
            Some((due, deadline)) => {
                m.due = Some(due);
                m.deadline = Some(deadline);
                m.timeliness = Some(Timeliness::judge(arrival, deadline));
            }
            None => m.reasons.push(format!("không có nghĩa vụ nộp {} cho {} (trước ngày bắt đầu theo dõi)", report.name, p.label_vi())),
        }
    }

}

/// What the documents' contents say against the kind: scores, commitments counted, a letter's
/// outline, and whether anything could be read at all.
fn document_findings(report: &Report, ok: &[&Document], unread: bool, m: &mut Match) {
    for d in ok {
        if let Some(s) = &d.score {
            for f in &s.findings {
                m.findings.push(format!("{}: {}", d.filename, f));
            }
        }
        if report.extract == Extract::Commitments {
            if let Some(c) = &d.commitments {
                if c.count != report.expected_commitments {
                    m.findings.push(format!(
                        "{}: đăng ký {} cam kết, cần {} cam kết",
                        d.filename, c.count, report.expected_commitments
                    ));
                }
            }
        }
    }
    if let Some(l) = report.letter.as_ref().filter(|_| !ok.is_empty()) {
        m.findings.extend(outline_missing(l, ok));
    }
    if report.extract == Extract::ScoreTable && !ok.iter().any(|d| d.score.is_some()) && !ok.is_empty() {
        m.findings.push("không tìm thấy bảng tự chấm điểm trong tệp đính kèm".into());
    }
    if unread {
        if m.reasons.is_empty() {
            m.findings.push(
                "không đọc được nội dung tệp đính kèm; Văn phòng tạm tiếp nhận theo người gửi, tiêu đề và nội dung thư, đề nghị gửi lại bản đọc được (.docx, .xlsx hoặc bản quét rõ nét)".into(),
            );
        } else {
            m.reasons.push("không đọc được nội dung tệp đính kèm, và thư không nêu rõ đủ đơn vị, loại báo cáo và kỳ báo cáo".into());
        }
    }
}

fn replies_to(facts: &MailFacts, id: &str) -> bool {
    let norm = |s: &str| s.trim().trim_matches(|c| c == '<' || c == '>').to_ascii_lowercase();
    let want = norm(id);
    !want.is_empty() && facts.in_reply_to.iter().chain(facts.references.iter()).any(|x| norm(x) == want)
}

/// The outline's sections and the annexes a report for a letter's request lacks, each a
/// finding. A section is there when its heading's first words follow one another in the
/// documents, or when one line holds most of the heading's words (units number and word their
/// headings their own way).
pub fn outline_missing(l: &crate::domain::rules::LetterTerms, ok: &[&Document]) -> Vec<String> {
    let lines: Vec<String> = ok.iter().flat_map(|d| d.text.lines().map(fold).collect::<Vec<_>>()).filter(|l| !l.is_empty()).collect();
    let whole = lines.join("\n");
    let files = fold(&ok.iter().map(|d| d.filename.as_str()).collect::<Vec<_>>().join(" "));
    let words_of = |heading: &str| -> Vec<String> {
        let f = fold(heading);
        let mut w: Vec<&str> = f.split(' ').filter(|w| !w.is_empty()).collect();
        // The numbering ("1", "ii", "a") is the letter's, not the report's.
        while w.first().is_some_and(|x| x.len() <= 4 && (x.chars().all(|c| c.is_ascii_digit()) || x.chars().all(|c| "ivxl".contains(c)) || x.len() == 1)) {
            w.remove(0);
        }
        w.into_iter().map(str::to_string).collect()
    };
    let present = |heading: &str| -> bool {
        let w = words_of(heading);
        if w.is_empty() {
            return true;
        }
        let head = w[..w.len().min(4)].join(" ");
        if contains_words(&whole, &head) {
            return true;
        }
        let need = ((w.len() as f64) * 0.6).ceil() as usize;
        lines.iter().any(|line| {
            let have: std::collections::HashSet<&str> = line.split(' ').collect();
            w.iter().filter(|x| have.contains(x.as_str())).count() >= need.max(2)
        })
    };
    let cited = l.number.as_deref().map(|n| format!("Công văn số {n}")).unwrap_or_else(|| "công văn".into());
    let mut out = Vec::new();
    for s in &l.outline {
        if !present(s) {
            out.push(format!("thiếu mục «{}» của đề cương theo {cited}", s.trim()));
        }
    }
    for a in &l.annexes {
        // "Phụ lục 1" named in a file name or the text, or the annex's title.
        let f = fold(a);
        let label: String = f.split(' ').take(3).collect::<Vec<_>>().join(" ");
        let named = f.starts_with("phu luc") && (contains_words(&whole, &label) || contains_words(&files, &label));
        if !named && !present(a) {
            out.push(format!("thiếu {} theo {cited}", a.trim()));
        }
    }
    out
}

fn unit_named_in(u: &Unit, folded: &str) -> bool {
    let mut names: Vec<String> = u.aliases.iter().map(|a| fold(a)).collect();
    names.push(fold(&u.name));
    let id = fold(u.id.as_str());
    if id.len() >= 3 {
        names.push(id);
    }
    names.iter().any(|n| !n.is_empty() && contains_words(folded, n))
}

/// The unit the documents name: the issuing body of the header first, then full unit names in
/// the body text when exactly one unit is named.
fn unit_from_documents<'a>(cfg: &'a Rules, ok: &[&Document], evidence: &mut Vec<String>) -> Option<&'a Unit> {
    for d in ok {
        if let Some(iss) = &d.header.issuer {
            if let Some(u) = unit_by_issuer(cfg, iss) {
                evidence.push(format!("{}: cơ quan ban hành «{}» là {}", d.filename, iss, u.name));
                return Some(u);
            }
        }
    }
    let mut hits: Vec<&Unit> = Vec::new();
    for d in ok {
        let text = fold(&d.text);
        for u in &cfg.units {
            let n = fold(&u.name);
            if n.split(' ').count() >= 3 && contains_words(&text, &n) && !hits.iter().any(|h| h.id == u.id) {
                hits.push(u);
            }
        }
    }
    if hits.len() == 1 {
        evidence.push(format!("nội dung văn bản nêu {}", hits[0].name));
        return Some(hits[0]);
    }
    None
}

/// Scores an issuing body against every unit's name and aliases; the unique best wins.
pub fn unit_by_issuer<'a>(cfg: &'a Rules, issuer: &str) -> Option<&'a Unit> {
    let fi = fold(issuer);
    if fi.is_empty() {
        return None;
    }
    let fi_words: Vec<&str> = fi.split(' ').collect();
    let mut best: Vec<(u32, &Unit)> = Vec::new();
    for u in &cfg.units {
        let mut score = 0u32;
        let mut cands: Vec<String> = vec![fold(&u.name)];
        cands.extend(u.aliases.iter().map(|a| fold(a)));
        for c in &cands {
            if c.is_empty() {
                continue;
            }
            let s = if *c == fi {
                100
            } else if fi_words.len() >= 3 && (c.starts_with(&format!("{fi} ")) || c.ends_with(&format!(" {fi}"))) {
                80
            } else if c.split(' ').count() >= 2 && contains_words(&fi, c) {
                70
            } else if fi_words.len() >= 3 && fi_words.iter().all(|w| c.split(' ').any(|cw| cw == *w)) {
                50
            } else {
                0
            };
            score = score.max(s);
        }
        if score > 0 {
            best.push((score, u));
        }
    }
    best.sort_by(|a, b| b.0.cmp(&a.0));
    match best.as_slice() {
        [] => None,
        [(_, u)] => Some(u),
        [(a, u), (b, _), ..] if a > b => Some(u),
        _ => None,
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut i = max.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    &s[..i]
}

fn keyword_hit(report: &Report, folded: &str) -> bool {
    report.keywords.iter().any(|k| {
        let fk = fold(k);
        !fk.is_empty() && contains_words(folded, &fk)
    })
}

fn choose_kind<'a>(
    cfg: &'a Rules,
    eff: &MailFacts,
    docs: &[Document],
    ok: &[&Document],
    group: Option<&str>,
    m: &mut Match,
) -> Option<&'a Report> {
    let subject = fold(&eff.subject);
    let files = fold(&docs.iter().map(|d| d.filename.as_str()).collect::<Vec<_>>().join(" "));
    let titles = fold(&ok.iter().map(|d| d.title.as_str()).collect::<Vec<_>>().join(" "));
    let bodies = fold(&ok.iter().map(|d| prefix(&d.text, 8192)).collect::<Vec<_>>().join(" "));
    let mut scored: Vec<(i32, &Report, Vec<&str>)> = Vec::new();
    for r in &cfg.reports {
        let mut s = 0;
        let mut why = Vec::new();
        if keyword_hit(r, &subject) {
            s += 30;
            why.push("tiêu đề");
        }
        if keyword_hit(r, &files) {
            s += 20;
            why.push("tên tệp");
        }
        if keyword_hit(r, &titles) {
            s += 30;
            why.push("tên văn bản");
        }
        if keyword_hit(r, &bodies) {
            s += 5;
            why.push("nội dung văn bản");
        }
        // A reply to the mail that carried the office's letter answers that letter.
        if r.letter.as_ref().is_some_and(|l| l.threads.iter().any(|t| replies_to(eff, t))) {
            s += 40;
            why.push("trả lời thư gửi công văn");
        }
        let types: Vec<String> = r.doc_types.iter().map(|t| fold(t)).collect();
        if !types.is_empty() && ok.iter().any(|d| d.header.doc_type.as_ref().is_some_and(|t| types.contains(&fold(t)))) {
            s += 10;
            why.push("loại văn bản");
        }
        let recognised = match r.extract {
            Extract::ScoreTable => ok.iter().any(|d| d.score.is_some()),
            Extract::Commitments => ok.iter().any(|d| d.commitments.is_some()),
            Extract::TaskPlan => ok.iter().any(|d| d.tasks.is_some()),
            Extract::Report => false,
        };
        if recognised {
            s += 25;
            why.push("cấu trúc bảng biểu");
        }
        // A table that is the report's form names its kind as surely as a title (SPEC §16).
        if ok.iter().any(|d| d.form_of.as_deref() == Some(r.id.as_str())) {
            s += 30;
            why.push("bảng số liệu đúng biểu mẫu");
        }
        if s > 0 && group.is_some_and(|g| r.applies_to_group(g)) {
            s += 3;
        }
        if s > 0 {
            scored.push((s, r, why));
        }
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0));
    match scored.as_slice() {
        [] => {
            m.reasons.push("chưa rõ loại báo cáo: tiêu đề, tên tệp và văn bản không có từ khóa của loại báo cáo nào".into());
            None
        }
        [(s, r, why), rest @ ..] => {
            m.evidence.push(format!("loại báo cáo «{}» (điểm {s}: {})", r.name, why.join(", ")));
            if let Some((s2, r2, _)) = rest.first() {
                if s2 == s {
                    m.reasons.push(format!("chưa rõ loại báo cáo: «{}» và «{}» phù hợp như nhau", r.name, r2.name));
                } else if *s < 30 {
                    m.reasons.push(format!("loại báo cáo chưa chắc chắn: «{}» chỉ khớp ở {}", r.name, why.join(", ")));
                }
            } else if *s < 25 {
                m.reasons.push(format!("loại báo cáo chưa chắc chắn: «{}» chỉ khớp ở {}", r.name, why.join(", ")));
            }
            Some(r)
        }
    }
}

static QUARTER_RE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\b(?:quy\s+(iv|iii|ii|i|1|2|3|4)|q([1-4]))\b(?:\s+(?:nam\s+)?(\d{4})\b)?").unwrap());
static HALF_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"\b(?:(6|sau)\s+thang\s+(dau|cuoi)|nua\s+(dau|cuoi))(?:\s+nam)?(?:\s+(\d{4})\b)?|\b(\d{4})\s+h([12])\b|\bh([12])\s+(\d{4})\b").unwrap()
});
static MONTH_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\bthang\s+(\d{1,2})\s+(?:nam\s+)?(\d{4})\b").unwrap());
static YEAR_NAM_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\bnam\s+(\d{4})\b").unwrap());
static YEAR_BARE_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\b(20\d\d)\b").unwrap());

/// Periods of `kind` named in folded `text`. `loose` also accepts a bare year (`CCHC 2020`),
/// which is safe in subjects and file names but not in running text (`ISO 9001 2015`).
pub fn periods_in(text: &str, kind: PeriodKind, loose: bool) -> Vec<Period> {
    let mut out: Vec<Period> = Vec::new();
    let years_in_text: Vec<i32> = {
        let mut ys: Vec<i32> = YEAR_NAM_RE.captures_iter(text).filter_map(|c| c[1].parse().ok()).collect();
        if loose || ys.is_empty() {
            ys.extend(YEAR_BARE_RE.captures_iter(text).filter_map(|c| c[1].parse::<i32>().ok()));
        }
        ys.retain(|y| (1990..=2200).contains(y));
        ys
    };
    let push = |out: &mut Vec<Period>, p: Period| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    match kind {
        PeriodKind::Quarter => {
            for c in QUARTER_RE.captures_iter(text) {
                let q = c.get(1).map(|x| x.as_str()).or(c.get(2).map(|x| x.as_str())).unwrap_or("");
                let q = q.parse::<u32>().ok().or_else(|| roman_value(q)).unwrap_or(0);
                if !(1..=4).contains(&q) {
                    continue;
                }
                let year = c.get(3).and_then(|y| y.as_str().parse::<i32>().ok()).or_else(|| years_in_text.first().copied());
                match year {
                    Some(y) => push(&mut out, Period::Quarter(y, q as u8)),
                    // A quarter without a year: the caller fills the year from the arrival.
                    None => push(&mut out, Period::Quarter(0, q as u8)),
                }
            }
        }
        PeriodKind::Half => {
            for c in HALF_RE.captures_iter(text) {
                let (h, y) = if let Some(which) = c.get(2).or(c.get(3)) {
                    (if which.as_str() == "dau" { 1 } else { 2 }, c.get(4).and_then(|y| y.as_str().parse().ok()))
                } else if let (Some(y), Some(h)) = (c.get(5), c.get(6)) {
                    (h.as_str().parse().unwrap_or(0), y.as_str().parse().ok())
                } else if let (Some(h), Some(y)) = (c.get(7), c.get(8)) {
                    (h.as_str().parse().unwrap_or(0), y.as_str().parse().ok())
                } else {
                    continue;
                };
                let y = y.or_else(|| years_in_text.first().copied()).unwrap_or(0);
                if (1..=2).contains(&h) {
                    push(&mut out, Period::Half(y, h));
                }
            }
        }
        PeriodKind::Month => {
            for c in MONTH_RE.captures_iter(text) {
                let (Ok(mo), Ok(y)) = (c[1].parse::<u8>(), c[2].parse::<i32>()) else { continue };
                if (1..=12).contains(&mo) {
                    push(&mut out, Period::Month(y, mo));
                }
            }
        }
        PeriodKind::Year | PeriodKind::Once => {
            let mut ys: Vec<i32> = YEAR_NAM_RE.captures_iter(text).filter_map(|c| c[1].parse().ok()).collect();
            if loose {
                ys.extend(YEAR_BARE_RE.captures_iter(text).filter_map(|c| c[1].parse::<i32>().ok()));
            }
            for y in ys.into_iter().filter(|y| (1990..=2200).contains(y)) {
                push(&mut out, if kind == PeriodKind::Once { Period::Once(y) } else { Period::Year(y) });
            }
        }
    }
    out
}

fn choose_period(
    cfg: &Rules,
    report: &Report,
    eff: &MailFacts,
    ok: &[&Document],
    docs: &[Document],
    arrival: i64,
    thread: Option<Period>,
    m: &mut Match,
) -> Option<Period> {
    let kind = report.period;
    let arrival_year = schedule::date_of(cfg.office.timezone, arrival).format("%Y").to_string().parse::<i32>().unwrap_or(2000);
    // A quarter or half named without a year takes the year whose deadline is nearest the arrival.
    let complete = |ps: Vec<Period>| -> Vec<Period> {
        let mut out: Vec<Period> = Vec::new();
        for p in ps {
            let filled = if p.year() == 0 {
                let options: Vec<Period> = (arrival_year - 1..=arrival_year)
                    .map(|y| match p {
                        Period::Quarter(_, q) => Period::Quarter(y, q),
                        Period::Half(_, h) => Period::Half(y, h),
                        other => other,
                    })
                    .collect();
                nearest(cfg, report, &options, arrival).unwrap_or(p)
            } else {
                p
            };
            if filled.year() != 0 && !out.contains(&filled) {
                out.push(filled);
            }
        }
        out
    };
    let title = complete(ok.iter().flat_map(|d| periods_in(&fold(&d.title), kind, true)).collect());
    let body = complete(ok.iter().flat_map(|d| periods_in(&fold(&d.text), kind, false)).collect());
    let subject = complete(periods_in(&fold(&eff.subject), kind, true));
    let files = complete(docs.iter().flat_map(|d| periods_in(&fold(&d.filename), kind, true)).collect());
    let doc_level = if !title.is_empty() { title } else { body };
    if doc_level.len() == 1 && subject.len() == 1 && doc_level[0] != subject[0] {
        m.reasons.push(format!(
            "kỳ báo cáo không khớp: văn bản ghi {} nhưng tiêu đề ghi {}",
            doc_level[0].label_vi(),
            subject[0].label_vi()
        ));
        m.evidence.push(format!("kỳ {} theo văn bản", doc_level[0].label_vi()));
        return Some(doc_level[0]);
    }
    let (cands, source) = if !doc_level.is_empty() {
        (doc_level, "văn bản")
    } else if !subject.is_empty() {
        (subject, "tiêu đề")
    } else if !files.is_empty() {
        (files, "tên tệp")
    } else if let Some(p) = thread {
        (vec![p], "thư nhắc được trả lời")
    } else {
        let options: Vec<Period> = (arrival_year - 1..=arrival_year + 1).flat_map(|y| schedule::periods_of(report, y)).collect();
        (nearest(cfg, report, &options, arrival).into_iter().collect(), "ngày nhận")
    };
    let p = if cands.len() == 1 { Some(cands[0]) } else { nearest(cfg, report, &cands, arrival) };
    if let Some(p) = p {
        m.evidence.push(format!(
            "kỳ {} theo {source}{}",
            p.label_vi(),
            if cands.len() > 1 { format!(" (trong {}, hạn gần ngày nhận nhất)", cands.iter().map(|c| c.label_vi()).collect::<Vec<_>>().join(", ")) } else { String::new() }
        ));
    } else {
        m.reasons.push("chưa rõ kỳ báo cáo".into());
    }
    p
}

/// The obligation of the office's reminder a message replies to: its key is
/// `remind:UNIT:REPORT:PERIOD:STAGE` (a reminder naming several obligations gives none).
fn thread_obligation<'a>(cfg: &'a Rules, facts: &MailFacts) -> Option<(&'a Unit, &'a Report, Period)> {
    let key = facts.replied_to.as_deref()?;
    let parts: Vec<&str> = key.split(':').collect();
    if parts.len() != 5 || parts[0] != "remind" || key.contains('+') {
        return None;
    }
    let unit = cfg.unit(parts[1])?;
    let report = cfg.reports.iter().find(|r| r.id.as_str() == parts[2])?;
    let period: Period = parts[3].parse().ok()?;
    Some((unit, report, period))
}

/// The candidate whose deadline is nearest the arrival.
fn nearest(cfg: &Rules, report: &Report, cands: &[Period], arrival: i64) -> Option<Period> {
    cands
        .iter()
        .filter_map(|p| {
            let d = schedule::due_date(&cfg.calendar, &report.due, *p)?;
            let deadline = schedule::end_of_day(cfg.office.timezone, d).timestamp();
            Some(((deadline - arrival).abs(), *p))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, p)| p)
}

#[cfg(test)]
mod link_tests {
    use super::file_links;

    #[test]
    fn a_link_to_a_shared_file_is_found_and_a_web_page_is_not() {
        let t = "Kính gửi Văn phòng, báo cáo quý II tại đây: https://drive.google.com/file/d/1AbC/view?usp=sharing.\nXem thêm https://thanhhoa.gov.vn/tin-tuc";
        assert_eq!(file_links(t), ["https://drive.google.com/file/d/1AbC/view?usp=sharing"], "as written: a file's id is case-sensitive");
        assert_eq!(file_links("(https://1drv.ms/w/s!Abc)"), ["https://1drv.ms/w/s!Abc"]);
        assert_eq!(file_links("tải về http://vanban.tinh.example/files/bc-quy-2.docx"), ["http://vanban.tinh.example/files/bc-quy-2.docx"]);
        assert_eq!(file_links("https://File.tinh.example/s/AbC"), ["https://File.tinh.example/s/AbC"], "a province's file service");
        assert!(file_links("Trân trọng, https://syt.thanhhoa.gov.vn").is_empty());
        assert!(file_links("http").is_empty() && file_links("").is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarters_are_read_in_every_spelling() {
        let f = |s: &str| periods_in(&fold(s), PeriodKind::Quarter, true);
        assert_eq!(f("Báo cáo CCHC quý I năm 2020"), vec![Period::Quarter(2020, 1)]);
        assert_eq!(f("bao cao cchc quy 2/2020"), vec![Period::Quarter(2020, 2)]);
        assert_eq!(f("BC CCHC Q3 2021"), vec![Period::Quarter(2021, 3)]);
        assert_eq!(f("Báo cáo quý IV"), vec![Period::Quarter(0, 4)]);
        assert_eq!(f("quý II, III"), vec![Period::Quarter(0, 2)]);
    }

    #[test]
    fn halves_months_and_years_are_read() {
        assert_eq!(periods_in(&fold("Báo cáo 6 tháng đầu năm 2020"), PeriodKind::Half, true), vec![Period::Half(2020, 1)]);
        assert_eq!(periods_in(&fold("6 tháng cuối năm 2021"), PeriodKind::Half, true), vec![Period::Half(2021, 2)]);
        assert_eq!(periods_in(&fold("Báo cáo tháng 3 năm 2020"), PeriodKind::Month, true), vec![Period::Month(2020, 3)]);
        assert_eq!(periods_in(&fold("tháng 03/2020"), PeriodKind::Month, true), vec![Period::Month(2020, 3)]);
        assert_eq!(periods_in(&fold("cam kết năm 2020 và đăng ký năm 2021"), PeriodKind::Year, false), vec![Period::Year(2020), Period::Year(2021)]);
        assert!(periods_in(&fold("theo TCVN ISO 9001:2015"), PeriodKind::Year, false).is_empty());
        assert_eq!(periods_in(&fold("cham diem CCHC 2020"), PeriodKind::Year, true), vec![Period::Year(2020)]);
    }
}
