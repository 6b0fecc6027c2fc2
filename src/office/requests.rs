//! Requests set by the office's own letters (SPEC §15): a letter read ([`crate::parse::letter`])
//! with its addressees resolved to the config's units and groups, in the JSON shape of SPEC §15,
//! and the periodic rules it sets proposed as `[[report]]` entries for the IT person.
//!
//!
//! A request is stored `pending` ([`add`]) until a clerk confirms it ([`confirm`]) or calls it
//! off ([`cancel`]) — each an audited action, from the command line or the console alike. A
//! confirmed request's deadlines for the units become report kinds of their own
//! ([`reports_of`]): one-off (`period = once`), owed by the addressed units only, cited by the
//! letter's number and *V/v* words, with the outline and annexes a report must follow. They
//! join the config's reports wherever the rules are read ([`with_requests`], [`Live`]), so
//! matching, status, reminders, the digest and the workbook treat them like any other.

use super::{OfficeError, RequestProblem, Result};
use crate::audit;
use crate::config::Config;
use crate::domain::rules::{DueRule, Extract, LetterTerms, Report};
use crate::domain::{PeriodKind, ReportId, RequestState, UnitId};
use crate::parse::letter::{Letter, PeriodicRule};
use crate::store::{Store, StoreError, StoredRequest};
use crate::text::{contains_words, fold};
use chrono::NaiveDate;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};

/// A unit at the districts' level (*huyện*, *thị xã*, *thành phố*, *quận*), by its name.
fn district_level(folded_name: &str) -> bool {
    ["huyen", "thi xa", "thanh pho", "quan"].iter().any(|w| contains_words(folded_name, w))
}

/// One of the Department's own divisions (*phòng*, *ban*, the inspectorate), by its name or
/// group.
fn division(u: &crate::config::Unit) -> bool {
    let n = fold(&u.name);
    ["phong ", "ban ", "thanh tra"].iter().any(|w| n.starts_with(w)) || u.group.split('-').any(|g| g == "phong")
}

/// The titles an addressee line begins with (*Giám đốc*, *Thủ trưởng*, *Chi cục trưởng* …).
const TITLES: [&str; 10] = ["giam doc", "pho giam doc", "thu truong", "chi cuc truong", "truong", "chanh van phong", "chanh thanh tra", "chu tich", "hieu truong", "vien truong"];

/// The units an addressee line names, exactly — none missing, none extra:
/// - "trong ngành", "các đơn vị trực thuộc": every unit;
/// - "các phòng/ban thuộc cơ quan Sở": the Department's own divisions;
/// - a list after a colon ("Giám đốc các Bệnh viện: A, B, C"): exactly those;
/// - a unit's name or alias;
/// - a kind of unit ("các bệnh viện", "các Trung tâm Y tế"), narrowed by level ("tuyến tỉnh",
///   "tuyến huyện", "các huyện, thị xã, thành phố") and by "đa khoa" / "chuyên khoa";
/// - a group's id in words (`benh-vien` = "bệnh viện").
pub fn units_addressed(cfg: &Config, text: &str) -> Vec<String> {
    let mut out = addressed(cfg, text);
    out.sort();
    out.dedup();
    out
}

fn addressed(cfg: &Config, text: &str) -> Vec<String> {
    let f = fold(text);
    let ids = |us: Vec<&crate::config::Unit>| us.into_iter().map(|u| u.id.to_string()).collect::<Vec<_>>();
    let all = ["trong nganh", "truc thuoc", "cac don vi y te", "thu truong cac don vi", "cac don vi thuoc so"];
    if all.iter().any(|p| f.contains(p)) || f == "cac don vi" {
        return ids(cfg.units.iter().collect());
    }
    let divisions_named = (contains_words(&f, "phong") || contains_words(&f, "ban")) && (f.contains("co quan so") || f.contains("thuoc so") || f.contains("phong ban") || f.contains("phong chuc nang") || f.contains("phong chuyen mon") || contains_words(&f, "cac phong"));
    if divisions_named {
        return ids(cfg.units.iter().filter(|u| division(u)).collect());
    }
    // A list after a colon: each item one unit, among those of the kind named before the colon.
    if let Some((head, list)) = text.split_once(':') {
        let items: Vec<String> = list.split([',', ';']).flat_map(|x| x.split(" và ")).map(fold).filter(|x| !x.is_empty()).collect();
        let kind = fold(head);
        let mut hits: Vec<&crate::config::Unit> = Vec::new();
        for item in &items {
            let of_item: Vec<&crate::config::Unit> = cfg
                .units
                .iter()
                .filter(|u| std::iter::once(&u.name).chain(u.aliases.iter()).map(|n| fold(n)).any(|n| !n.is_empty() && (contains_words(&n, item) || contains_words(item, &n))))
                .collect();
            // Among several, those of the kind before the colon ("Bệnh viện: Nhi" is the hospital).
            let narrowed: Vec<&crate::config::Unit> = of_item.iter().copied().filter(|u| kind.split(' ').filter(|w| w.len() > 2).any(|w| contains_words(&fold(&u.name), w))).collect();
            hits.extend(if narrowed.len() == 1 || (of_item.len() > 1 && !narrowed.is_empty()) { narrowed } else { of_item });
        }
        if !hits.is_empty() {
            return ids(hits);
        }
    }
    let mut out: Vec<String> = Vec::new();
    for u in &cfg.units {
        let names = std::iter::once(&u.name).chain(u.aliases.iter());
        if names.map(|n| fold(n)).any(|n| !n.is_empty() && contains_words(&f, &n)) {
            out.push(u.id.to_string());
        }
    }
    if !out.is_empty() {
        return out;
    }
    // A kind of unit after "các" (or before it: "Trung tâm Y tế các huyện"), with its level.
    let words: Vec<&str> = f.split(' ').collect();
    if let Some(i) = words.iter().position(|w| *w == "cac") {
        let district_words = ["huyen", "thi", "thanh", "quan"];
        let (mut kind, qualifiers): (Vec<&str>, Vec<&str>) = if words.get(i + 1).is_some_and(|w| district_words.contains(w)) {
            // "Trung tâm Y tế các huyện, thị xã, thành phố": the kind before, the level after.
            let mut before: Vec<&str> = words[..i].to_vec();
            let joined = before.join(" ");
            if let Some(t) = TITLES.iter().find(|t| joined.starts_with(*t)) {
                before.drain(..t.split(' ').count());
            }
            (before, words[i + 1..].to_vec())
        } else {
            (words[i + 1..].to_vec(), vec![])
        };
        let phrase = format!("{} {}", kind.join(" "), qualifiers.join(" "));
        let province = contains_words(&phrase, "tuyen tinh") || contains_words(&phrase, "cap tinh");
        let district = contains_words(&phrase, "tuyen huyen") || !qualifiers.is_empty() || contains_words(&phrase, "cac huyen");
        let general = contains_words(&phrase, "da khoa");
        let special = contains_words(&phrase, "chuyen khoa");
        // The kind's own words: up to the first qualifier.
        let stop = ["tuyen", "cap", "da", "chuyen", "truc", "thuoc", "tren", "dia", "trong", "cua"];
        if let Some(k) = kind.iter().position(|w| stop.contains(w)) {
            kind.truncate(k);
        }
        let level = |u: &&crate::config::Unit| {
            let n = fold(&u.name);
            (!province || !district_level(&n)) && (!district || district_level(&n)) && match (general, special) {
                (true, false) => contains_words(&n, "da khoa"),
                (false, true) => !contains_words(&n, "da khoa"),
                _ => true,
            }
        };
        for n in (1..=kind.len()).rev() {
            let head = kind[..n].join(" ");
            if n == 1 && !matches!(head.as_str(), "phong" | "ban") {
                break;
            }
            let hits: Vec<&crate::config::Unit> = cfg.units.iter().filter(|u| fold(&u.name).starts_with(&head)).filter(level).collect();
            if !hits.is_empty() {
                return ids(hits);
            }
        }
    }
    // A group's id in words.
    cfg.units.iter().filter(|u| contains_words(&f, &u.group.replace('-', " "))).map(|u| u.id.to_string()).collect()
}

/// A periodic rule as a `[[report]]` entry to paste into the config (reviewed by a person).
pub fn proposed_report(l: &Letter, r: &PeriodicRule) -> String {
    let (id, label) = match (r.period.as_str(), r.first_half_only) {
        ("quarter", _) => ("bc-quy", "quý"),
        ("half", true) => ("bc-6-thang-dau-nam", "6 tháng đầu năm"),
        ("half", false) => ("bc-6-thang", "6 tháng"),
        ("month", _) => ("bc-thang", "tháng"),
        _ => ("bc-nam", "năm"),
    };
    let month = if r.month.chars().all(|c| c.is_ascii_digit()) { r.month.clone() } else { format!("\"{}\"", r.month) };
    let source = l.number.as_deref().map(|n| format!(" theo công văn {n}")).unwrap_or_default();
    let mut s = format!("# {}\n[[report]]\nid = \"{id}\"\nname = \"Báo cáo {label}{source}\"\nkeywords = [\"báo cáo {label}\"]\n", r.text.replace('\n', " "));
    s += &format!("period = \"{}\"\n", r.period);
    if r.first_half_only {
        s += "# chỉ 6 tháng đầu năm: kỳ 6 tháng cuối năm không có hạn này, xem lại trước khi dùng\n";
    }
    s += &format!("due = {{ month = {month}, day = {}{} }}\napplies_to = [\"*\"]\nextract = \"report\"\n", r.day, if r.exclusive { ", exclusive = true" } else { "" });
    s
}

/// The reading of a letter in the shape of SPEC §15.
pub fn request_json(cfg: &Config, l: &Letter) -> Value {
    json!({
        "number": l.number,
        "date": l.date,
        "subject": l.subject,
        "addressees": l.addressees.iter().map(|a| json!({"text": a, "units": units_addressed(cfg, a)})).collect::<Vec<_>>(),
        "deadlines": l.deadlines.iter().map(|d| json!({
            "date": d.date.to_string(), "text": d.text, "for_units": d.for_units, "report": d.report,
            "outline": if d.for_units { l.outline.clone() } else { vec![] },
        })).collect::<Vec<_>>(),
        "outline": l.outline,
        "annexes": l.annexes,
        "proposed_reports": l.periodic.iter().map(|r| proposed_report(l, r)).collect::<Vec<_>>(),
    })
}

/// The report id a letter's request carries: `cv-` and the letter's number (`45/SYT-KHTC` →
/// `cv-45-syt-khtc`), else its date and V/v.
pub fn report_id(l: &Letter) -> String {
    let slug = |s: &str| {
        let f = fold(s);
        let words: Vec<&str> = f.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
        words.join("-")
    };
    let base = match (&l.number, &l.date, &l.subject) {
        // A number left blank for the clerk to fill in ("Số:    /SYT-VP") is no number.
        (Some(n), _, _) if slug(n).chars().any(|c| c.is_ascii_digit()) => slug(n),
        (_, d, s) => {
            let words: Vec<String> = slug(s.as_deref().unwrap_or("")).split('-').filter(|w| *w != "v").take(6).map(str::to_string).collect();
            format!("{}-{}", d.as_deref().unwrap_or("khong-ngay"), words.join("-"))
        }
    };
    let mut id = format!("cv-{base}");
    id.truncate(60);
    id.trim_end_matches('-').to_string()
}

/// Stores what was read from a letter as a request waiting for a clerk. Refused when the same
/// letter (the same report id) is already stored.
pub async fn add(cfg: &Config, store: &Store, l: &Letter, source: &str, message_id: Option<&str>, by: &str) -> Result<StoredRequest> {
    let mut r = pending(cfg, l, source, message_id, by);
    let mut tx = store.begin().await?;
    let Some(id) = tx.insert_request(&r).await? else {
        // The transaction holds the connection (SQLite has one): let it go before looking.
        drop(tx);
        let had = store.requests().await?.into_iter().find(|x| x.report == r.report).map(|x| x.id).unwrap_or(0);
        return Err(OfficeError::Request { id: had, why: RequestProblem::AlreadyHeld { number: r.number.clone().unwrap_or_else(|| "không số".into()), report: r.report.clone() } });
    };
    r.id = id;
    tx.audit(audit::Kind::RequestAdded, by, &format!("request:{id}"), &json!({"report": r.report, "number": r.number, "source": r.source, "message_id": r.message_id})).await?;
    tx.commit().await?;
    Ok(r)
}

/// A letter's request as it is stored, waiting for a clerk.
pub fn pending(cfg: &Config, l: &Letter, source: &str, message_id: Option<&str>, by: &str) -> StoredRequest {
    StoredRequest {
        id: 0,
        report: report_id(l),
        number: l.number.clone(),
        letter_date: l.date.clone(),
        subject: l.subject.clone(),
        state: RequestState::Pending,
        reading: request_json(cfg, l),
        source: source.to_string(),
        message_id: message_id.map(str::to_string),
        created_at: chrono::Utc::now().timestamp(),
        created_by: by.to_string(),
        decided_at: None,
        decided_by: None,
    }
}

/// The deadlines a confirmation makes obligations of: those set for the units.
fn unit_deadlines(reading: &Value) -> Vec<&Value> {
    reading["deadlines"].as_array().map(|d| d.iter().filter(|d| d["for_units"] == true && d["date"].is_string()).collect()).unwrap_or_default()
}

/// The units' deadlines of a request already past on `today`, as people write dates.
pub fn past_deadlines(r: &StoredRequest, today: chrono::NaiveDate) -> Vec<String> {
    reports_of(r)
        .iter()
        .filter_map(|x| match x.due {
            crate::domain::rules::DueRule::Date(d) if d < today => Some(d.format("%d/%m/%Y").to_string()),
            _ => None,
        })
        .collect()
}

/// Confirms a pending request: its deadlines for the units become obligations of the units its
/// letter addresses, or of `units` when the clerk names them (a letter whose addressees the
/// config cannot resolve).
pub async fn confirm(cfg: &Config, store: &Store, id: i64, units: &[String], by: &str) -> Result<StoredRequest> {
    let mut r = store.request(id).await?.ok_or(OfficeError::Request { id, why: RequestProblem::Missing })?;
    if r.state != RequestState::Pending {
        return Err(OfficeError::Request { id, why: RequestProblem::NotPending(r.state.label_vi().to_string()) });
    }
    if unit_deadlines(&r.reading).is_empty() {
        return Err(OfficeError::Request { id, why: RequestProblem::NoDeadline });
    }
    let chosen: Vec<String> = if units.is_empty() {
        let mut all: Vec<String> = r.reading["addressees"].as_array().into_iter().flatten().flat_map(|a| a["units"].as_array().cloned().unwrap_or_default()).filter_map(|u| u.as_str().map(str::to_string)).collect();
        all.sort();
        all.dedup();
        all
    } else {
        for u in units {
            if cfg.unit(u).is_none() {
                return Err(OfficeError::Request { id, why: RequestProblem::NoSuchUnit(u.to_string()) });
            }
        }
        units.to_vec()
    };
    if chosen.is_empty() {
        return Err(OfficeError::Request { id, why: RequestProblem::NoUnit });
    }
    r.reading["units"] = json!(chosen);
    let mut tx = store.begin().await?;
    if !tx.decide_request(id, RequestState::Pending, RequestState::Confirmed, &r.reading, by).await? {
        return Err(OfficeError::Request { id, why: RequestProblem::DecidedMeanwhile });
    }
    let reports: Vec<String> = reports_of(&r).iter().map(|x| x.id.to_string()).collect();
    tx.audit(audit::Kind::RequestConfirmed, by, &format!("request:{id}"), &json!({"report": r.report, "units": chosen, "reports": reports})).await?;
    tx.commit().await?;
    r.state = RequestState::Confirmed;
    r.decided_by = Some(by.to_string());
    Ok(r)
}

/// Calls a request off: a pending one is never confirmed, a confirmed one's obligations end
/// (submissions already recorded for it stay, as every message does).
pub async fn cancel(store: &Store, id: i64, reason: &str, by: &str) -> Result<StoredRequest> {
    let mut r = store.request(id).await?.ok_or(OfficeError::Request { id, why: RequestProblem::Missing })?;
    if r.state == RequestState::Cancelled {
        return Err(OfficeError::Request { id, why: RequestProblem::AlreadyCancelled });
    }
    r.reading["cancel_reason"] = json!(reason);
    let mut tx = store.begin().await?;
    if !tx.decide_request(id, r.state, RequestState::Cancelled, &r.reading, by).await? {
        return Err(OfficeError::Request { id, why: RequestProblem::DecidedMeanwhile });
    }
    tx.audit(audit::Kind::RequestCancelled, by, &format!("request:{id}"), &json!({"report": r.report, "was": r.state.as_str(), "reason": reason})).await?;
    tx.commit().await?;
    r.state = RequestState::Cancelled;
    Ok(r)
}


/// A deadline "trước ngày 15/11" is met by the 14th; "chậm nhất ngày 25/11", "hạn cuối" by the day.
fn due_of(d: &Value) -> Option<NaiveDate> {
    let date = NaiveDate::parse_from_str(d["date"].as_str()?, "%Y-%m-%d").ok()?;
    let t = fold(d["text"].as_str().unwrap_or(""));
    let strict = contains_words(&t, "truoc ngay") && !contains_words(&t, "cham nhat");
    Some(if strict { date.pred_opt().unwrap_or(date) } else { date })
}

/// The report kinds a confirmed request makes: one per deadline set for the units.
pub fn reports_of(r: &StoredRequest) -> Vec<Report> {
    let units: Vec<UnitId> = r.reading["units"].as_array().into_iter().flatten().filter_map(|u| u.as_str()).filter_map(|u| UnitId::parse(u).ok()).collect();
    let strings = |v: &Value| -> Vec<String> { v.as_array().into_iter().flatten().filter_map(|x| x.as_str().map(str::to_string)).collect() };
    let cited = r.number.as_deref().map(|n| format!("Công văn số {n}")).unwrap_or_else(|| "Công văn của Sở".into());
    let mut out = Vec::new();
    for (k, d) in unit_deadlines(&r.reading).into_iter().enumerate() {
        let Some(due) = due_of(d) else { continue };
        let id = if k == 0 { r.report.clone() } else { format!("{}-{}", r.report, k + 1) };
        let Ok(id) = ReportId::parse(&id) else { continue };
        let year = chrono::Datelike::year(&due);
        // "… năm 2017" is said once: the period's label adds it back.
        let what = d["report"].as_str().or(r.subject.as_deref()).unwrap_or("báo cáo").trim().to_string();
        let what = what.strip_suffix(&format!(" năm {year}")).unwrap_or(&what).to_string();
        let mut keywords: Vec<String> = Vec::new();
        if let Some(n) = &r.number {
            keywords.push(n.clone());
        }
        // The V/v line names the whole letter: it tells its report apart only when it asks one.
        if let Some(s) = r.subject.as_ref().filter(|_| unit_deadlines(&r.reading).len() == 1) {
            let t = s.trim();
            let s = ["V/v", "v/v", "V/V", "Về việc", "về việc"].iter().find_map(|p| t.strip_prefix(p)).unwrap_or(t).trim();
            if fold(s).split(' ').count() >= 3 {
                keywords.push(s.to_string());
            }
        }
        if fold(&what).split(' ').count() >= 3 {
            keywords.push(what.clone());
        }
        if keywords.is_empty() {
            keywords.push(cited.clone());
        }
        out.push(Report {
            id,
            name: format!("{cited}: {what}"),
            keywords,
            doc_types: vec![],
            period: PeriodKind::Once,
            quarters: None,
            due: DueRule::Date(due),
            applies_to: vec![],
            extract: Extract::Report,
            remind_before_days: vec![3],
            remind_after_days: vec![1, 7],
            escalate_after_days: None,
            catch_up_days: 1,
            once_for: Some(year),
            expected_commitments: 0,
            form: None,
            letter: Some(LetterTerms {
                request: r.id,
                units: units.clone(),
                number: r.number.clone(),
                subject: r.subject.clone(),
                outline: strings(&d["outline"]),
                annexes: strings(&r.reading["annexes"]),
                threads: r.message_id.iter().cloned().collect(),
            }),
        });
    }
    out
}

/// One of the office's letters read from its file (.docx, .doc, PDF, or plain text): through the
/// parse stage, like any attachment; the command line and the console both read it here.
pub fn read_letter(parser: &crate::parse::worker::Parser, filename: &str, data: &[u8]) -> std::result::Result<Letter, String> {
    let docs = parser.read(filename, data);
    let doc = docs.iter().find(|d| d.parse == crate::domain::ParseStatus::Ok);
    // A letter saved as plain text is read as it is.
    let (text, header) = match (doc, std::str::from_utf8(data)) {
        (Some(d), _) => (d.text.clone(), Some(&d.header)),
        (None, Ok(t)) if !t.trim().is_empty() => (t.to_string(), None),
        _ => return Err(docs.first().and_then(|d| d.error.clone()).unwrap_or_else(|| "không phải văn bản đọc được".into())),
    };
    Ok(crate::parse::letter::read(&text, header))
}

/// The config with the confirmed requests' report kinds added (a kind of the config file with
/// the same id wins, and is warned about); the store learns that they are owed once.
pub async fn with_requests(base: &Config, store: &Store) -> std::result::Result<Config, StoreError> {
    let mut cfg = base.clone();
    // The directory first: a request's kind never takes the id of one the office keeps.
    super::directory::join(&mut cfg, store).await?;
    for r in store.requests().await?.iter().filter(|r| r.state == RequestState::Confirmed) {
        for rep in reports_of(r) {
            if cfg.rules.report(rep.id.as_str()).is_some() {
                tracing::warn!("request {}: the config already has a report `{}`; the request's is left out", r.id, rep.id);
                continue;
            }
            store.owe_once([rep.id.to_string()]);
            cfg.rules.reports.push(rep);
        }
    }
    cfg.rules.extensions = store.extensions().await?;
    Ok(cfg)
}

/// What changes when the office's decisions about its rules do: (requests, extensions,
/// directory).
type Stamp = ((i64, i64), (i64, i64), (i64, i64));

/// The rules a running daemon reads: the config file's and the confirmed requests', read again
/// whenever a request is confirmed or cancelled (by the console, or a command beside it).
pub struct Live {
    base: Config,
    current: RwLock<(Stamp, Arc<Config>)>,
}

impl Live {
    pub fn new(base: Config) -> Live {
        let cfg = Arc::new(base.clone());
        Live { base, current: RwLock::new((((-1, -1), (-1, -1), (-1, -1)), cfg)) }
    }

    /// The rules as last read.
    pub fn current(&self) -> Arc<Config> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).1.clone()
    }

    /// The rules, read again if the requests changed since.
    pub async fn refresh(&self, store: &Store) -> std::result::Result<Arc<Config>, StoreError> {
        let stamp = (store.requests_stamp().await?, store.extensions_stamp().await?, store.directory_stamp().await?);
        {
            let cur = self.current.read().unwrap_or_else(|e| e.into_inner());
            if cur.0 == stamp {
                return Ok(cur.1.clone());
            }
        }
        let cfg = Arc::new(with_requests(&self.base, store).await?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = (stamp, cfg.clone());
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        let text = r#"
[office]
name = "VP"
address = "vp@so.example"
[database]
url = "sqlite://t.db"
[[unit]]
id = "TTYT-A"
name = "Trung tâm Y tế huyện An Bình"
emails = ["a@x.example"]
group = "ttyt"
[[unit]]
id = "TTYT-B"
name = "Trung tâm Y tế huyện Bắc Sơn"
emails = ["b@x.example"]
group = "ttyt"
[[unit]]
id = "BVT"
name = "Bệnh viện Đa khoa tỉnh"
aliases = ["BVĐK tỉnh"]
emails = ["c@x.example"]
group = "benh-vien"
"#;
        Config::from_str_at(text, std::path::Path::new("/tmp/c.toml")).unwrap()
    }

    /// A province's office: its hospitals (general and specialised), its centres at both levels,
    /// sub-departments and one of the Department's divisions.
    fn province() -> Config {
        let mut text = String::from("[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://t.db\"\n");
        for (i, (id, name, alias, group)) in [
            ("BVT-A", "Bệnh viện Đa khoa tỉnh Kiểm Thử", "BVĐK tỉnh", "benh-vien"),
            ("BVT-B", "Bệnh viện Nhi Kiểm Thử", "BV Nhi", "benh-vien"),
            ("BVT-C", "Bệnh viện Phụ sản Kiểm Thử", "BV Phụ sản", "benh-vien"),
            ("BVDK-AB", "Bệnh viện Đa khoa huyện An Bình", "BVĐK An Bình", "benh-vien"),
            ("CDC", "Trung tâm Kiểm soát bệnh tật tỉnh Kiểm Thử", "CDC", "trung-tam-tinh"),
            ("TTYT-AB", "Trung tâm Y tế huyện An Bình", "TTYT An Bình", "ttyt"),
            ("TTYT-TP", "Trung tâm Y tế thành phố Kiểm Thử", "TTYT thành phố", "ttyt"),
            ("CCDS", "Chi cục Dân số - Kế hoạch hóa gia đình", "Chi cục DS-KHHGĐ", "chi-cuc"),
            ("CCATTP", "Chi cục An toàn vệ sinh thực phẩm", "Chi cục ATVSTP", "chi-cuc"),
            ("PTCCB", "Phòng Tổ chức cán bộ", "Phòng TCCB", "phong-so"),
        ]
        .iter()
        .enumerate()
        {
            text.push_str(&format!("[[unit]]\nid = \"{id}\"\nname = \"{name}\"\naliases = [\"{alias}\"]\nemails = [\"u{i}@x.example\"]\ngroup = \"{group}\"\n"));
        }
        Config::from_str_at(&text, std::path::Path::new("/tmp/c.toml")).unwrap()
    }

    #[test]
    fn addressee_lines_resolve_exactly_none_missing_none_extra() {
        let c = province();
        let u = |t: &str| units_addressed(&c, t);
        assert_eq!(u("Trưởng các phòng/ban thuộc cơ quan Sở Y tế"), vec!["PTCCB"], "the Department's own divisions");
        assert_eq!(u("Giám đốc các bệnh viện đa khoa, chuyên khoa tuyến tỉnh"), vec!["BVT-A", "BVT-B", "BVT-C"], "not the district's hospital");
        assert_eq!(u("Giám đốc các bệnh viện chuyên khoa tuyến tỉnh"), vec!["BVT-B", "BVT-C"]);
        assert_eq!(u("Giám đốc Trung tâm Y tế các huyện, thị xã, thành phố"), vec!["TTYT-AB", "TTYT-TP"], "the district centres");
        assert_eq!(u("Giám đốc các Bệnh viện: Nhi, Phụ sản, Đa khoa tỉnh"), vec!["BVT-A", "BVT-B", "BVT-C"], "exactly the list");
        assert_eq!(u("Chi cục trưởng Chi cục: ATVSTP, DS-KHHGĐ"), vec!["CCATTP", "CCDS"]);
        assert_eq!(u("Giám đốc các Trung tâm Y tế tuyến tỉnh"), vec!["CDC"], "the province's centre, not the districts'");
        assert_eq!(u("Giám đốc BVĐK tỉnh"), vec!["BVT-A"]);
        assert_eq!(u("Thủ trưởng các đơn vị y tế trong ngành").len(), 10);
    }

    #[test]
    fn addressees_resolve_to_units_and_groups() {
        let c = cfg();
        assert_eq!(units_addressed(&c, "Thủ trưởng các đơn vị y tế trong ngành"), vec!["BVT", "TTYT-A", "TTYT-B"]);
        assert_eq!(units_addressed(&c, "Giám đốc các Trung tâm Y tế tuyến huyện"), vec!["TTYT-A", "TTYT-B"]);
        assert_eq!(units_addressed(&c, "Giám đốc BVĐK tỉnh"), vec!["BVT"]);
        assert_eq!(units_addressed(&c, "Các bệnh viện"), vec!["BVT"]);
        assert!(units_addressed(&c, "Trưởng các phòng chức năng Sở").is_empty(), "no division in this office");
        assert!(units_addressed(&c, "Giám đốc các Trung tâm Y tế tuyến tỉnh").is_empty(), "the districts' centres are not the province's");
    }

    #[test]
    fn a_periodic_rule_becomes_a_report_entry_the_config_accepts() {
        let l = crate::parse::letter::read("Số: 12/SYT-VP\nBáo cáo quý: Gửi Sở Y tế trước ngày 01 tháng cuối quý.\nBáo cáo năm: Gửi Sở Y tế trước ngày 25 tháng 11.", None);
        let entries: Vec<String> = l.periodic.iter().map(|r| proposed_report(&l, r)).collect();
        assert_eq!(entries.len(), 2);
        let text = format!("[office]\nname = \"VP\"\naddress = \"vp@so.example\"\n[database]\nurl = \"sqlite://t.db\"\n[[unit]]\nid = \"A\"\nname = \"A\"\nemails = [\"a@x.example\"]\ngroup = \"g\"\n{}", entries.join("\n"));
        let c = Config::from_str_at(&text, std::path::Path::new("/tmp/c.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(c.reports.len(), 2);
    }
}
