//! The console's pages: each gathers what the store and `schedule` know, shapes it for people
//! (names, Vietnamese periods and dates, state colours) and renders one template. Read only.

use super::{who, App, AppRef};
use crate::compile::state_rgb;
use crate::domain::{Decision, ObligationKey, ObligationState, OutboxState, Period, Role};
use crate::parse::{mime, Document};
use crate::schedule::{self, Obligation, ObligationFacts};
use crate::store::{Submission, SubmissionFilter};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

pub(super) type Page = Result<Response, Response>;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A page the database could not serve.
pub(super) fn db(e: impl std::fmt::Display) -> Response {
    super::unavailable(&e.to_string())
}

pub(super) fn ctx(mut m: serde_json::Map<String, Value>, extra: Value) -> Value {
    if let Value::Object(x) = extra {
        m.extend(x);
    }
    Value::Object(m)
}

impl App {
    pub(super) fn when(&self, t: i64) -> String {
        schedule::fmt_human(self.cfg().office.timezone, t)
    }
    fn day(&self, t: i64) -> String {
        schedule::date_of(self.cfg().office.timezone, t).format("%d/%m/%Y").to_string()
    }
    pub(super) fn unit_name(&self, id: &str) -> String {
        self.cfg().unit(id).map(|u| u.name.clone()).unwrap_or_else(|| id.to_string())
    }
    fn report_name(&self, id: &str) -> String {
        self.cfg().report(id).map(|r| r.name.clone()).unwrap_or_else(|| id.to_string())
    }
    /// "Báo cáo … quý I năm 2021" for an obligation.
    fn title_of(&self, report: &str, period: Period) -> String {
        period.title(&self.report_name(report))
    }
}

fn color(s: ObligationState) -> String {
    format!("#{:06x}", state_rgb(s))
}

/// Completeness and timeliness over obligations whose deadline has come (or that were met early):
/// DHIS2's reporting rate and reporting rate on time. Exempt and not-yet-due obligations do not count.
#[derive(Default, Clone, Copy)]
struct Rate {
    expected: u32,
    submitted: u32,
    on_time: u32,
}

impl Rate {
    fn add(&mut self, s: ObligationState) {
        match s {
            ObligationState::SubmittedOnTime => {
                self.expected += 1;
                self.submitted += 1;
                self.on_time += 1;
            }
            ObligationState::SubmittedLate => {
                self.expected += 1;
                self.submitted += 1;
            }
            ObligationState::Overdue | ObligationState::InReview => self.expected += 1,
            ObligationState::Upcoming | ObligationState::DueSoon | ObligationState::Exempt => {}
        }
    }
    fn json(&self) -> Value {
        let pct = |n: u32| if self.expected == 0 { "—".to_string() } else { format!("{}%", (n as f64 * 100.0 / self.expected as f64).round() as u32) };
        json!({"expected": self.expected, "submitted": self.submitted, "on_time": self.on_time, "complete": pct(self.submitted), "timely": pct(self.on_time)})
    }
}

#[derive(Deserialize, Default)]
pub struct OverviewQuery {
    year: Option<i32>,
    report: Option<String>,
    group: Option<String>,
    page: Option<usize>,
}

/// Periods shown side by side on one page of the matrix.
const COLUMNS_PER_PAGE: usize = 6;

pub async fn overview(State(app): State<AppRef>, headers: HeaderMap, Query(q): Query<OverviewQuery>) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = &app.cfg();
    let (t, states) = app.states().await.map_err(db)?;
    let this_year = schedule::date_of(cfg.office.timezone, t).year();
    let mut years: Vec<i32> = states.iter().map(|(o, _, _)| o.period.year()).collect();
    years.sort_unstable_by(|a, b| b.cmp(a));
    years.dedup();
    let year = q.year.filter(|y| years.contains(y)).or_else(|| years.iter().copied().find(|y| *y <= this_year)).or(years.first().copied()).unwrap_or(this_year);
    let report = q.report.filter(|r| cfg.report(r).is_some());
    let mut groups: Vec<&str> = cfg.units.iter().map(|u| u.group.as_str()).collect();
    groups.sort_unstable();
    groups.dedup();
    let group = q.group.filter(|g| groups.contains(&g.as_str()));
    let in_group = |unit: &str| group.as_deref().is_none_or(|g| cfg.unit(unit).is_some_and(|u| u.group == g));
    let shown: Vec<&(Obligation, ObligationFacts, ObligationState)> = states
        .iter()
        .filter(|(o, _, _)| o.period.year() == year && report.as_deref().is_none_or(|r| o.report.as_str() == r) && in_group(o.unit.as_str()))
        .collect();
    // The week's late ones, for leadership: the digest's list, on the page.
    let late: Vec<Value> = schedule::late_this_week(&states, t)
        .into_iter()
        .filter(|(o, _, _)| in_group(o.unit.as_str()))
        .map(|(o, f, st)| {
            let how = match f.first_accepted_at {
                Some(a) if *st == ObligationState::SubmittedLate => format!("nộp muộn {} ngày ({})", ((a - o.deadline) / 86_400).max(0) + 1, app.day(a)),
                _ => format!("quá hạn {} ngày, chưa nộp", ((t - o.deadline) / 86_400).max(0) + 1),
            };
            json!({"unit": o.unit.as_str(), "unit_name": app.unit_name(o.unit.as_str()), "title": app.title_of(o.report.as_str(), o.period), "due": o.due_date.format("%d/%m/%Y").to_string(), "how": how, "color": color(*st)})
        })
        .collect();
    // Columns: one per (report, period), the newest deadline first.
    let mut columns: Vec<(chrono::NaiveDate, String, Period)> = shown.iter().map(|(o, _, _)| (o.due_date, o.report.to_string(), o.period)).collect();
    columns.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    columns.dedup();
    let pages = columns.len().div_ceil(COLUMNS_PER_PAGE).max(1);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let visible = &columns[((page - 1) * COLUMNS_PER_PAGE).min(columns.len())..(page * COLUMNS_PER_PAGE).min(columns.len())];
    let cell: HashMap<(&str, &str, Period), (&ObligationFacts, ObligationState)> = shown.iter().map(|(o, f, st)| ((o.unit.as_str(), o.report.as_str(), o.period), (f, *st))).collect();
    let mut unit_rate: BTreeMap<&str, Rate> = BTreeMap::new();
    let mut report_rate: BTreeMap<&str, Rate> = BTreeMap::new();
    let mut column_rate: HashMap<(&str, Period), Rate> = HashMap::new();
    for (o, _, st) in &shown {
        unit_rate.entry(o.unit.as_str()).or_default().add(*st);
        report_rate.entry(o.report.as_str()).or_default().add(*st);
        column_rate.entry((o.report.as_str(), o.period)).or_default().add(*st);
    }
    let rows: Vec<Value> = cfg
        .units
        .iter()
        .filter(|u| unit_rate.contains_key(u.id.as_str()))
        .map(|u| {
            let cells: Vec<Value> = visible
                .iter()
                .map(|(_, r, p)| match cell.get(&(u.id.as_str(), r.as_str(), *p)) {
                    Some((f, st)) => json!({
                        "state": st.label_vi(), "color": color(*st),
                        "date": f.first_accepted_at.map(|a| app.day(a)),
                        "href": format!("/submissions?unit={}&report={}&period={}", enc(u.id.as_str()), enc(r), enc(&p.to_string())),
                    }),
                    None => json!(null),
                })
                .collect();
            json!({"id": u.id.as_str(), "name": u.name, "group": cfg.group_name(&u.group), "cells": cells, "rate": unit_rate[u.id.as_str()].json()})
        })
        .collect();
    let cols: Vec<Value> = visible
        .iter()
        .map(|(due, r, p)| json!({"title": app.title_of(r, *p), "due": due.format("%d/%m/%Y").to_string(), "rate": column_rate.get(&(r.as_str(), *p)).copied().unwrap_or_default().json()}))
        .collect();
    let reports: Vec<Value> = cfg
        .reports
        .iter()
        .filter(|r| report_rate.contains_key(r.id.as_str()))
        .map(|r| json!({"id": r.id.as_str(), "name": r.name, "rate": report_rate[r.id.as_str()].json()}))
        .collect();
    let link = |p: usize| {
        let mut u = format!("/?year={year}&page={p}");
        if let Some(r) = &report {
            u.push_str(&format!("&report={}", enc(r)));
        }
        if let Some(g) = &group {
            u.push_str(&format!("&group={}", enc(g)));
        }
        u
    };
    let base = app.base(&s, "/", "Tổng quan").await;
    Ok(app.render(
        "overview.html",
        ctx(
            base,
            json!({
                "as_of": app.when(t), "year": year, "years": years, "report": report, "group": group,
                "groups": groups.iter().map(|g| json!({"id": g, "name": cfg.group_name(g)})).collect::<Vec<_>>(),
                "all_reports": cfg.reports.iter().map(|r| json!({"id": r.id.as_str(), "name": r.name})).collect::<Vec<_>>(),
                "columns": cols, "rows": rows, "reports": reports, "late": late,
                "page": page, "pages": pages, "prev": (page > 1).then(|| link(page - 1)), "next": (page < pages).then(|| link(page + 1)),
                "legend": ObligationState::ALL.iter().map(|s| json!({"label": s.label_vi(), "color": color(*s)})).collect::<Vec<_>>(),
            }),
        ),
    ))
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// A submission as listed: who, what, when, and the decision.
fn row(app: &App, m: &Submission) -> Value {
    let obligation = match (&m.report, m.period) {
        (Some(r), Some(p)) => app.title_of(r.as_str(), p),
        _ => String::new(),
    };
    json!({
        "id": m.id,
        "received": app.when(m.received_at),
        "from": m.from_addr,
        "subject": m.subject,
        "unit": m.unit.as_ref().map(|u| u.to_string()),
        "unit_name": m.unit.as_ref().map(|u| app.unit_name(u.as_str())),
        "obligation": obligation,
        "decision": m.decision.label_vi(),
        "decision_code": m.decision.as_str(),
        "timeliness": m.timeliness.map(|t| t.label_vi()),
        "version": m.version,
        "manual_by": m.manual_by,
        "learn_address": crate::office::directory::learnable(&app.cfg(), m),
    })
}

/// A document as shown: its header, what could not be read, and its tables (bounded).
fn document(d: &Document, rows_per_table: usize) -> Value {
    let h = &d.header;
    // Dates are kept as ISO; people read them as the office writes them.
    let date = h.date.as_ref().map(|x| chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|_| x.clone()));
    let fields: Vec<(&str, &Option<String>)> = vec![
        ("Cơ quan chủ quản", &h.parent),
        ("Cơ quan ban hành", &h.issuer),
        ("Số, ký hiệu", &h.number),
        ("Địa danh", &h.place),
        ("Ngày tháng", &date),
        ("Loại văn bản", &h.doc_type),
        ("Trích yếu", &h.summary),
        ("Người ký", &h.signer),
        ("Chức vụ", &h.signer_title),
    ];
    let tables: Vec<Value> = d
        .tables
        .iter()
        .map(|t| {
            let cut = t.len() > rows_per_table;
            json!({"rows": t.iter().take(rows_per_table).collect::<Vec<_>>(), "more": if cut { t.len() - rows_per_table } else { 0 }})
        })
        .collect();
    // How the text was got, for a clerk weighing it: OCR may misread a digit.
    let how: Vec<String> = [
        d.ocr.then(|| "chữ đọc bằng OCR từ bản quét hoặc ảnh chụp (có thể sai sót)".to_string()),
        d.converted_by.as_ref().filter(|_| !d.ocr).map(|b| format!("đọc qua {b}")),
        d.legacy_encoding.as_ref().map(|l| format!("gõ bằng phông chữ cũ ({}), đã chuyển sang Unicode", if l == "vni" { "VNI" } else { "TCVN3/ABC" })),
    ]
    .into_iter()
    .flatten()
    .collect();
    json!({
        "filename": d.filename,
        "container": d.container,
        "status": d.parse.label_vi(),
        "ok": d.parse == crate::domain::ParseStatus::Ok,
        "how": how,
        "error": d.error,
        "fields": fields.into_iter().filter_map(|(k, v)| v.as_ref().map(|v| json!({"k": k, "v": v}))).collect::<Vec<_>>(),
        "title": d.title,
        "tables": tables,
        "score": d.score.as_ref().map(|s| json!({
            "max": s.max_total.map(crate::text::num_vi), "achieved": s.self_total.map(crate::text::num_vi),
            "rows": s.items.iter().take(rows_per_table.max(1) * 2).map(|r| json!({"stt": r.stt, "name": r.name, "top": r.level <= 1, "max": r.max.map(crate::text::num_vi), "achieved": r.achieved.map(crate::text::num_vi)})).collect::<Vec<_>>(),
            "more": s.items.len().saturating_sub(rows_per_table.max(1) * 2),
        })),
    })
}

#[derive(Deserialize, Default)]
pub struct Flash {
    page: Option<i64>,
}

/// The obligations a waiting message could be assigned to: those of its guessed unit or of the
/// unit its sender is registered to (every unit when neither is known), due within about a year
/// before and half a year after it arrived — only obligations that exist.
fn choices(app: &App, m: &Submission, around: &[Obligation]) -> Vec<Value> {
    let cfg = &app.cfg();
    let mut units: Vec<&str> = vec![];
    if let Some(u) = &m.unit {
        units.push(u.as_str());
    }
    if let Some(u) = m.from_addr.as_deref().and_then(|a| cfg.unit_by_email(a)) {
        if !units.contains(&u.id.as_str()) {
            units.push(u.id.as_str());
        }
    }
    let all = units.is_empty();
    let day = schedule::date_of(cfg.office.timezone, m.received_at);
    let mut obs: Vec<&Obligation> = around
        .iter()
        .filter(|o| all || units.contains(&o.unit.as_str()))
        .filter(|o| (o.due_date - day).num_days() >= -400 && (o.due_date - day).num_days() <= 200)
        .filter(|o| schedule::obligation(cfg, &o.key()).is_ok())
        .collect();
    obs.sort_by(|a, b| a.unit.cmp(&b.unit).then(b.due_date.cmp(&a.due_date)).then(a.report.cmp(&b.report)));
    let guess = m.obligation();
    obs.iter()
        .map(|o| {
            let selected = guess.as_ref().is_some_and(|g| *g == o.key());
            json!({
                "value": format!("{}|{}|{}", o.unit, o.report, o.period),
                "label": format!("{} — {} (hạn {})", app.unit_name(o.unit.as_str()), app.title_of(o.report.as_str(), o.period), o.due_date.format("%d/%m/%Y")),
                "selected": selected,
            })
        })
        .collect()
}

const REVIEW_PER_PAGE: i64 = 20;

pub async fn review(State(app): State<AppRef>, headers: HeaderMap, Query(f): Query<Flash>) -> Page {
    let s = who(&app, &headers).await?;
    let page = f.page.unwrap_or(1).max(1);
    let filter = SubmissionFilter { decision: Some(Decision::NeedsReview), ..Default::default() };
    let (subs, total) = app.store.find_submissions(&filter, REVIEW_PER_PAGE, (page - 1) * REVIEW_PER_PAGE).await.map_err(db)?;
    // The obligations the page's messages could be assigned to, computed once for all of them.
    let years: Vec<i32> = subs.iter().map(|m| schedule::date_of(app.cfg().office.timezone, m.received_at).year()).collect();
    let around = match (years.iter().min(), years.iter().max()) {
        (Some(a), Some(b)) if s.account.role >= Role::Clerk => schedule::obligations_in_years(&app.cfg(), a - 1, b + 1),
        _ => vec![],
    };
    let items: Vec<Value> = subs
        .iter()
        .map(|m| {
            // "Báo cáo … quý I năm 2021" when both are known: a period title, never "quý quý".
            let (report, period) = match (&m.report, m.period) {
                (Some(r), Some(p)) => (Some(app.title_of(r.as_str(), p)), None),
                (r, p) => (r.as_ref().map(|r| app.report_name(r.as_str())), p.map(|p| p.label_vi())),
            };
            let guess = json!({
                "unit": m.unit.as_ref().map(|u| app.unit_name(u.as_str())),
                "report": report,
                "period": period,
                "complete": m.obligation().is_some(),
            });
            ctx(
                serde_json::Map::new(),
                json!({
                    "m": row(&app, m), "guess": guess, "reasons": m.reasons, "evidence": m.evidence, "findings": m.findings,
                    "documents": m.documents.iter().map(|d| document(d, 12)).collect::<Vec<_>>(),
                    "choices": if s.account.role >= Role::Clerk { choices(&app, m, &around) } else { vec![] },
                }),
            )
        })
        .collect();
    let pages = (total + REVIEW_PER_PAGE - 1) / REVIEW_PER_PAGE;
    let base = app.base(&s, "/review", "Cần xem xét").await;
    Ok(app.render(
        "review.html",
        ctx(base, json!({"items": items, "total": total, "page": page, "pages": pages.max(1), "all_units": unit_choices(&app.cfg()), "all_reports": report_choices(&app.cfg()), "all_periods": period_choices(&app.cfg())})),
    ))
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    q: Option<String>,
    unit: Option<String>,
    report: Option<String>,
    period: Option<String>,
    decision: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
}

const SUBMISSIONS_PER_PAGE: i64 = 50;

/// A date typed in a filter: 2021-04-01 (what a date field sends) or 01/04/2021.
fn day_start(app: &App, s: &str) -> Option<i64> {
    let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").or_else(|_| chrono::NaiveDate::parse_from_str(s.trim(), "%d/%m/%Y")).ok()?;
    let local = d.and_hms_opt(0, 0, 0)?.and_local_timezone(app.cfg().office.timezone).earliest()?;
    Some(local.timestamp())
}

pub async fn submissions(State(app): State<AppRef>, headers: HeaderMap, Query(q): Query<SearchQuery>) -> Page {
    let s = who(&app, &headers).await?;
    let some = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    let filter = SubmissionFilter {
        text: some(&q.q),
        unit: some(&q.unit),
        report: some(&q.report),
        period: some(&q.period),
        decision: some(&q.decision).and_then(|d| Decision::parse(&d)),
        from: some(&q.from).and_then(|d| day_start(&app, &d)),
        to: some(&q.to).and_then(|d| day_start(&app, &d)).map(|t| t + 86_400),
    };
    let page = q.page.unwrap_or(1).max(1);
    let (subs, total) = app.store.find_submissions(&filter, SUBMISSIONS_PER_PAGE, (page - 1) * SUBMISSIONS_PER_PAGE).await.map_err(db)?;
    let pages = ((total + SUBMISSIONS_PER_PAGE - 1) / SUBMISSIONS_PER_PAGE).max(1);
    let mut keep = String::new();
    for (k, v) in [("q", &q.q), ("unit", &q.unit), ("report", &q.report), ("period", &q.period), ("decision", &q.decision), ("from", &q.from), ("to", &q.to)] {
        if let Some(v) = some(v) {
            keep.push_str(&format!("&{k}={}", enc(&v)));
        }
    }
    let decisions = [Decision::Accepted, Decision::NeedsReview, Decision::Rejected, Decision::NotSubmission, Decision::Duplicate];
    let base = app.base(&s, "/submissions", "Bài nộp").await;
    Ok(app.render(
        "submissions.html",
        ctx(
            base,
            json!({
                "rows": subs.iter().map(|m| row(&app, m)).collect::<Vec<_>>(), "total": total, "page": page, "pages": pages,
                "prev": (page > 1).then(|| format!("/submissions?page={}{keep}", page - 1)),
                "next": (page < pages).then(|| format!("/submissions?page={}{keep}", page + 1)),
                "q": q.q, "unit": q.unit, "report": q.report, "period": q.period, "decision": q.decision, "from": q.from, "to": q.to,
                "units": app.cfg().units.iter().map(|u| json!({"id": u.id.as_str(), "name": u.name})).collect::<Vec<_>>(),
                "reports": app.cfg().reports.iter().map(|r| json!({"id": r.id.as_str(), "name": r.name})).collect::<Vec<_>>(),
                "decisions": decisions.iter().map(|d| json!({"id": d.as_str(), "name": d.label_vi()})).collect::<Vec<_>>(),
            }),
        ),
    ))
}

async fn raw_of(app: &App, m: &Submission) -> Result<Vec<u8>, Response> {
    let z = app.store.blob(&m.raw_key).await.map_err(db)?;
    crate::store::decompress(&z).map_err(db)
}

/// The attachments of a message as a person downloads them (a forwarded message's too).
/// Why an attachment was refused as hostile (a zip bomb, a file over a limit), when it was: such
/// a file is not handed out by the console.
fn refused_as_hostile(docs: &[Document], data: &[u8]) -> Option<String> {
    let sha = crate::digest::sha256_hex(data);
    docs.iter()
        .find(|d| d.sha256 == sha && d.container.is_none() && d.broken && d.error.as_deref().is_some_and(|e| e.starts_with("từ chối")))
        .and_then(|d| d.error.clone())
}

/// The documents of a message and of the further reports it carries.
async fn all_documents(app: &App, m: &Submission) -> Result<Vec<Document>, Response> {
    let mut docs = m.documents.clone();
    let root = m.part_of.unwrap_or(m.id);
    if root != m.id {
        docs.extend(app.store.message(root).await.map_err(db)?.documents);
    }
    for p in app.store.parts_of(root).await.map_err(db)? {
        docs.extend(p.documents);
    }
    Ok(docs)
}

fn attachments(raw: &[u8]) -> Vec<mime::Attachment> {
    let f = mime::parse(raw);
    let mut out = f.attachments;
    if let Some(fw) = f.forwarded {
        out.extend(fw.attachments);
    }
    out
}

pub async fn submission(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>) -> Page {
    let s = who(&app, &headers).await?;
    let m = match app.store.message(id).await {
        Ok(m) => m,
        Err(crate::store::StoreError::NotFound(_)) => return Err(super::message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy", &format!("Không có bài nộp số {id}.")).await),
        Err(e) => return Err(db(e)),
    };
    let versions: Vec<Value> = match m.obligation() {
        Some(k) => {
            let filter = SubmissionFilter { unit: Some(k.unit.to_string()), report: Some(k.report.to_string()), period: Some(k.period.to_string()), ..Default::default() };
            app.store.find_submissions(&filter, 100, 0).await.map_err(db)?.0.iter().map(|x| row(&app, x)).collect()
        }
        None => vec![],
    };
    let (history, _) = app.store.audit_page(Some(&format!("submission:{id}")), 200, 0).await.map_err(db)?;
    // The other reports of the same mail (SPEC §6): the further ones of a message, or the
    // message a further report belongs to.
    let siblings: Vec<Value> = match m.part_of {
        Some(p) => vec![app.store.message(p).await.map_err(db)?],
        None => app.store.parts_of(id).await.map_err(db)?,
    }
    .iter()
    .map(|x| row(&app, x))
    .collect();
    let figures = match app.store.figures_of_message(id).await.map_err(db)? {
        Some(f) => m.report.as_ref().and_then(|r| app.cfg().report(r.as_str()).and_then(|r| r.form.clone())).map(|form| super::figures::reading_json(&form, &f)),
        None => None,
    };
    let raw = raw_of(&app, &m).await?;
    let docs = all_documents(&app, &m).await?;
    let files: Vec<Value> = attachments(&raw)
        .iter()
        .enumerate()
        .map(|(i, a)| json!({"n": i, "name": a.filename, "size": size_vi(a.data.len() as u64), "refused": refused_as_hostile(&docs, &a.data)}))
        .collect();
    let base = app.base(&s, "/submissions", &format!("Bài nộp số {id}")).await;
    Ok(app.render(
        "submission.html",
        ctx(
            base,
            json!({
                "m": row(&app, &m), "reasons": m.reasons, "findings": m.findings, "evidence": m.evidence,
                "due": m.due.map(|d| d.format("%d/%m/%Y").to_string()), "duplicate_of": m.duplicate_of,
                "size": size_vi(m.size as u64),
                "documents": m.documents.iter().map(|d| document(d, 200)).collect::<Vec<_>>(),
                "versions": versions,
                "siblings": siblings, "is_part": m.part_of.is_some(),
                "history": history.iter().map(|e| event(&app, e)).collect::<Vec<_>>(),
                "files": files, "figures": figures, "guess": m.obligation().map(|k| format!("{} — {}", app.unit_name(k.unit.as_str()), app.title_of(k.report.as_str(), k.period))),
                "all_units": unit_choices(&app.cfg()), "all_reports": report_choices(&app.cfg()), "all_periods": period_choices(&app.cfg()),
            }),
        ),
    ))
}

fn size_vi(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MB", n as f64 / (1u64 << 20) as f64).replace('.', ",")
    } else {
        format!("{} KB", n.div_ceil(1024))
    }
}

fn download(name: &str, ctype: &'static str, data: Vec<u8>) -> Response {
    let ascii: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let disp = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", enc(name));
    let mut r = data.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disp).unwrap_or(HeaderValue::from_static("attachment")));
    super::secure_headers(h);
    r
}

/// The compiled status workbook of SPEC §9 as of now (`baocao export`), for a person to open or
/// print.
pub async fn export(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let now = now();
    let snap = crate::facts::snapshot(&cfg, &app.store, now, None).await.map_err(db)?;
    match crate::compile::workbook::build(&cfg, &snap) {
        Ok(bytes) => {
            let day = crate::schedule::date_of(cfg.office.timezone, now).format("%d-%m-%Y");
            Ok(download(&format!("Tình hình nộp báo cáo {day}.xlsx"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", bytes))
        }
        Err(e) => {
            tracing::error!("console: the compiled workbook: {e}");
            Err(super::message(&app, &s, StatusCode::INTERNAL_SERVER_ERROR, "Không tạo được tệp", "Không lập được bảng tổng hợp; quản trị viên xem nhật ký máy chủ.").await)
        }
    }
}

pub async fn raw(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>) -> Page {
    who(&app, &headers).await?;
    let m = app.store.message(id).await.map_err(db)?;
    let raw = raw_of(&app, &m).await?;
    Ok(download(&format!("bai-nop-{id}.eml"), "message/rfc822", raw))
}

pub async fn file(State(app): State<AppRef>, headers: HeaderMap, Path((id, n)): Path<(i64, usize)>) -> Page {
    let s = who(&app, &headers).await?;
    let m = app.store.message(id).await.map_err(db)?;
    let raw = raw_of(&app, &m).await?;
    match attachments(&raw).into_iter().nth(n) {
        Some(a) if refused_as_hostile(&all_documents(&app, &m).await?, &a.data).is_some() => Err(super::message(
            &app,
            &s,
            StatusCode::FORBIDDEN,
            "Tệp bị từ chối",
            "Tệp này đã bị hệ thống từ chối vì có thể gây hại (ví dụ tệp nén bung ra quá lớn), nên không tải về từ bảng điều khiển. Nếu thật cần, quản trị viên lấy tệp từ thư gốc (.eml) và mở trên máy cách ly.",
        )
        .await),
        // Served as bytes to save, never rendered: an attachment may hold markup.
        Some(a) => Ok(download(&a.filename, "application/octet-stream", a.data)),
        None => Err(super::message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy", "Thư này không có tệp đính kèm đó.").await),
    }
}

fn event(app: &App, e: &crate::audit::Event) -> Value {
    let link = e.subject.strip_prefix("submission:").filter(|id| id.parse::<i64>().is_ok()).map(|id| format!("/submissions/{id}"));
    let said = crate::audit::words::describe(&app.cfg(), &e.kind, &e.data);
    let data: String = if said.chars().count() > 300 { said.chars().take(300).chain("…".chars()).collect() } else { said };
    json!({"seq": e.seq, "at": app.when(e.at), "kind": e.kind, "what": crate::audit::words::kind_vi(&e.kind), "actor": actor_vi(&e.actor), "subject": subject_vi(app, &e.subject), "link": link, "data": data})
}

/// Who acted: a person's account, or the system itself.
fn actor_vi(a: &str) -> String {
    if a == "baocao" { "hệ thống".into() } else { a.to_string() }
}

/// What an event is about, as people name it: a message by its number, an obligation by its
/// unit and report, a mail by its kind.
fn subject_vi(app: &App, s: &str) -> String {
    if let Some(id) = s.strip_prefix("submission:") {
        return format!("thư số {id}");
    }
    if let Some(ob) = s.strip_prefix("obligation:") {
        let mut it = ob.splitn(3, ':');
        if let (Some(u), Some(r), Some(p)) = (it.next(), it.next(), it.next()) {
            if let Ok(p) = p.parse::<Period>() {
                return format!("{} — {}", app.unit_name(u), app.title_of(r, p));
            }
        }
    }
    if let Some(a) = s.strip_prefix("account:") {
        return format!("tài khoản {a}");
    }
    if let Some(id) = s.strip_prefix("request:") {
        return format!("yêu cầu số {id}");
    }
    if let Some(u) = s.strip_prefix("unit:") {
        return app.unit_name(u);
    }
    if let Some(g) = s.strip_prefix("group:") {
        return format!("nhóm {}", app.cfg().group_name(g));
    }
    if let Some(r) = s.strip_prefix("report:") {
        return format!("loại báo cáo {}", app.report_name(r));
    }
    for (prefix, what) in [("ack:", "thư báo nhận"), ("remind:", "thư nhắc nộp"), ("digest:", "bản tin tuần"), ("status:", "bảng tình hình"), ("review:", "thư báo việc chờ xử lý"), ("extension:", "thư báo gia hạn"), ("answer:", "thư trả lời")] {
        if s.starts_with(prefix) {
            return what.to_string();
        }
    }
    if s.ends_with(".toml") {
        return "tệp cấu hình".into();
    }
    s.to_string()
}

pub async fn units(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let (_, states) = app.states().await.map_err(db)?;
    let mut rate: HashMap<&str, Rate> = HashMap::new();
    let mut overdue: HashMap<&str, u32> = HashMap::new();
    for (o, _, st) in states.iter() {
        rate.entry(o.unit.as_str()).or_default().add(*st);
        if *st == ObligationState::Overdue {
            *overdue.entry(o.unit.as_str()).or_default() += 1;
        }
    }
    let list: Vec<Value> = cfg
        .units
        .iter()
        .map(|u| {
            json!({"id": u.id.as_str(), "name": u.name, "group": cfg.group_name(&u.group), "rate": rate.get(u.id.as_str()).copied().unwrap_or_default().json(),
                   "overdue": overdue.get(u.id.as_str()).copied().unwrap_or(0), "ended": ended(&cfg, u)})
        })
        .collect();
    let groups: Vec<Value> = cfg.groups.iter().map(|g| json!({"id": g.id, "name": g.name, "units": cfg.units.iter().filter(|u| u.group == g.id).count()})).collect();
    let base = app.base(&s, "/units", "Đơn vị").await;
    Ok(app.render("units.html", ctx(base, json!({"units": list, "groups": groups}))))
}

/// How a unit ended, as people read it (None while it is active).
fn ended(cfg: &crate::config::Config, u: &crate::domain::rules::Unit) -> Option<String> {
    let day = |d: chrono::NaiveDate| d.format("%d/%m/%Y").to_string();
    match (&u.merged_into, u.active_until) {
        (Some(m), Some(t)) => Some(format!("đã sáp nhập vào {} từ sau ngày {}", cfg.unit(m.as_str()).map(|x| x.name.as_str()).unwrap_or("đơn vị khác"), day(t))),
        (None, Some(t)) => Some(format!("thôi hoạt động sau ngày {}", day(t))),
        _ => u.active_from.map(|f| format!("hoạt động từ ngày {}", day(f))),
    }
}

pub async fn unit(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<String>) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let Some(u) = cfg.unit(&id) else {
        return Err(super::message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy", "Không có đơn vị này trong danh mục đơn vị.").await);
    };
    let (_, states) = app.states().await.map_err(db)?;
    let mut by_year: BTreeMap<i32, Vec<Value>> = BTreeMap::new();
    let mut rate = Rate::default();
    let mut mine: Vec<&(Obligation, ObligationFacts, ObligationState)> = states.iter().filter(|(o, _, _)| o.unit == u.id).collect();
    mine.sort_by(|a, b| b.0.due_date.cmp(&a.0.due_date));
    for (o, f, st) in mine {
        rate.add(*st);
        by_year.entry(o.period.year()).or_default().push(json!({
            "title": app.title_of(o.report.as_str(), o.period), "due": o.due_date.format("%d/%m/%Y").to_string(),
            "extended_from": o.extended_from.map(|d| d.format("%d/%m/%Y").to_string()),
            "state": st.label_vi(), "color": color(*st), "submitted": f.first_accepted_at.map(|a| app.day(a)),
            "version": f.latest_version, "reminders": f.reminders_sent,
            "href": format!("/submissions?unit={}&report={}&period={}", enc(u.id.as_str()), enc(o.report.as_str()), enc(&o.period.to_string())),
        }));
    }
    let years: Vec<Value> = by_year.into_iter().rev().map(|(y, obs)| json!({"year": y, "obligations": obs})).collect();
    let (subs, total) = app.store.find_submissions(&SubmissionFilter { unit: Some(id.clone()), ..Default::default() }, 50, 0).await.map_err(db)?;
    let reminders: Vec<Value> = app
        .store
        .reminders_to(&id)
        .await
        .map_err(db)?
        .iter()
        .map(|(_, r, p, at)| json!({"at": app.when(*at), "title": p.parse::<Period>().map(|p| app.title_of(r, p)).unwrap_or_else(|_| format!("{} {p}", app.report_name(r)))}))
        .collect();
    let letters: Vec<Value> = crate::office::mail::other_mail(&cfg, &app.store)
        .await
        .map_err(db)?
        .iter()
        .filter(|(m, _)| m.from_addr.as_deref().is_some_and(|a| u.emails.iter().any(|e| e.eq_ignore_ascii_case(a))))
        .take(20)
        .map(|(m, h)| super::mail::item(&app, m, h.as_ref()))
        .collect();
    let bounces: Vec<Value> = crate::office::mail::bounces(&cfg, &app.store, None)
        .await
        .map_err(db)?
        .iter()
        .filter(|b| b.unit == u.id)
        .take(20)
        .map(|b| json!({"id": b.message, "at": app.when(b.at), "addr": b.addr}))
        .collect();
    let iso = |d: Option<chrono::NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default();
    let merged_here: Vec<Value> = cfg.units.iter().filter(|x| x.merged_into.as_ref() == Some(&u.id)).map(|x| json!({"id": x.id.as_str(), "name": x.name, "ended": ended(&cfg, x)})).collect();
    let successors: Vec<Value> = cfg.units.iter().filter(|x| x.id != u.id && x.active_until.is_none()).map(|x| json!({"id": x.id.as_str(), "name": x.name})).collect();
    let groups: Vec<Value> = cfg.groups.iter().map(|g| json!({"id": g.id, "name": g.name})).collect();
    let base = app.base(&s, "/units", &u.name).await;
    Ok(app.render(
        "unit.html",
        ctx(
            base,
            json!({
                "u": {"id": u.id.as_str(), "name": u.name, "group": cfg.group_name(&u.group), "group_id": u.group, "emails": u.emails, "aliases": u.aliases,
                      "emails_text": u.emails.join("\n"), "aliases_text": u.aliases.join("\n"), "active_from": iso(u.active_from), "active_until": iso(u.active_until),
                      "ended": ended(&cfg, u), "merged_into": u.merged_into.as_ref().map(|m| m.as_str())},
                "bounces": bounces, "merged_here": merged_here, "successors": successors, "groups": groups,
                "rate": rate.json(), "years": years, "subs": subs.iter().map(|m| row(&app, m)).collect::<Vec<_>>(), "total": total,
                "reminders": reminders, "letters": letters,
                "figure_reports": cfg.reports.iter().filter(|r| r.form.is_some() && r.applies_to_unit(u)).map(|r| json!({"name": r.name, "href": format!("/figures?report={}&unit={}", enc(r.id.as_str()), enc(u.id.as_str()))})).collect::<Vec<_>>(),
            }),
        ),
    ))
}

#[derive(Deserialize, Default)]
pub struct ExemptionsQuery {
    /// The unit chosen in the forms (from a unit's page or its mail asking for more time).
    unit: Option<String>,
    /// The mail (Thư khác) a grant answers.
    mail: Option<i64>,
}

/// Exemptions and extensions: what the office decided about obligations, and the forms to decide.
pub async fn exemptions(State(app): State<AppRef>, headers: HeaderMap, Query(q): Query<ExemptionsQuery>) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let list = app.store.exemptions().await.map_err(db)?;
    let rows: Vec<Value> = list
        .iter()
        .map(|e| {
            let k = &e.obligation;
            json!({
                "unit": k.unit.as_str(), "unit_name": app.unit_name(k.unit.as_str()), "report": k.report.as_str(), "period": k.period.to_string(),
                "title": app.title_of(k.report.as_str(), k.period), "reason": e.reason, "by": e.by, "at": app.when(e.at),
            })
        })
        .collect();
    let extensions: Vec<Value> = cfg
        .extensions
        .iter()
        .rev()
        .map(|e| {
            let key = ObligationKey { unit: e.unit.clone(), report: e.report.clone(), period: e.period };
            let due = schedule::obligation(&cfg, &key).ok().and_then(|o| o.extended_from);
            json!({
                "unit": e.unit.as_str(), "unit_name": app.unit_name(e.unit.as_str()), "report": e.report.as_str(), "period": e.period.to_string(),
                "title": app.title_of(e.report.as_str(), e.period), "until": e.until.format("%d/%m/%Y").to_string(),
                "due": due.map(|d| d.format("%d/%m/%Y").to_string()), "reason": e.reason, "by": e.by, "at": app.when(e.at),
            })
        })
        .collect();
    let periods = period_choices(&cfg);
    let today = schedule::date_of(cfg.office.timezone, now());
    let base = app.base(&s, "/exemptions", "Miễn nộp, gia hạn").await;
    Ok(app.render(
        "exemptions.html",
        ctx(
            base,
            json!({
                "rows": rows, "periods": periods, "extensions": extensions,
                "chosen": q.unit, "mail": q.mail, "today": today.format("%Y-%m-%d").to_string(),
                "units": unit_choices(&cfg), "reports": report_choices(&cfg),
            }),
        ),
    ))
}

/// Every period an obligation in question can have: from the year the office began following
/// its reports to the next (at most ten years back).
fn period_choices(cfg: &crate::config::Config) -> Vec<Value> {
    let y = schedule::date_of(cfg.office.timezone, now()).year();
    let first = cfg.calendar.start.year().max(y - 10).min(y);
    let mut periods: Vec<Value> = vec![];
    let mut kinds: Vec<crate::domain::PeriodKind> = cfg.reports.iter().map(|r| r.period).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    kinds.dedup();
    for year in (first..=y + 1).rev() {
        for k in &kinds {
            for p in Period::all_in_year(*k, year) {
                periods.push(json!({"id": p.to_string(), "name": p.label_vi()}));
            }
        }
    }
    periods
}

fn unit_choices(cfg: &crate::config::Config) -> Vec<Value> {
    cfg.units.iter().map(|u| json!({"id": u.id.as_str(), "name": u.name})).collect()
}

fn report_choices(cfg: &crate::config::Config) -> Vec<Value> {
    cfg.reports.iter().map(|r| json!({"id": r.id.as_str(), "name": r.name})).collect()
}

/// The requests read from the office's letters: waiting ones to confirm (for the units the
/// letter addresses, changeable) or cancel, confirmed ones with the report kinds they made.
pub async fn requests(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let list = app.store.requests().await.map_err(db)?;
    let fmt_date = |d: Option<&str>| d.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).map(|d| d.format("%d/%m/%Y").to_string());
    let rows: Vec<Value> = list
        .iter()
        .rev()
        .map(|r| {
            let v = &r.reading;
            let addressed: Vec<String> = v["addressees"].as_array().into_iter().flatten().flat_map(|a| a["units"].as_array().cloned().unwrap_or_default()).filter_map(|u| u.as_str().map(str::to_string)).collect();
            let chosen: Vec<String> = v["units"].as_array().map(|u| u.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or(addressed);
            json!({
                "id": r.id, "number": r.number.as_ref().filter(|n| n.chars().any(|c| c.is_ascii_digit())), "date": fmt_date(r.letter_date.as_deref()),
                "confirmable": v["deadlines"].as_array().is_some_and(|d| d.iter().any(|d| d["for_units"] == true)),
                "periodic": super::reports::proposals(&cfg, r), "subject": r.subject, "state": r.state.as_str(),
                "state_vi": r.state.label_vi(), // A file added on the command line is named by its file name alone: the server's
                // folders and the OS account that ran the command are nobody's business here.
                "source": if r.source.contains(['/', '\\']) { format!("tệp {}", r.source.rsplit(['/', '\\']).next().unwrap_or("")) } else { r.source.clone() },
                "added": app.when(r.created_at),
                "added_by": if r.source.contains(['/', '\\']) { "thêm bằng dòng lệnh".to_string() } else { r.created_by.clone() },
                "decided": r.decided_at.map(|t| app.when(t)), "decided_by": r.decided_by,
                "addressees": v["addressees"].as_array().into_iter().flatten().map(|a| json!({
                    "text": a["text"], "units": a["units"].as_array().into_iter().flatten().filter_map(|u| u.as_str()).map(|u| app.unit_name(u)).collect::<Vec<_>>().join(", "),
                })).collect::<Vec<_>>(),
                "deadlines": v["deadlines"].as_array().into_iter().flatten().map(|d| json!({
                    "date": fmt_date(d["date"].as_str()), "text": d["text"], "for_units": d["for_units"],
                    "past": d["for_units"] == true && d["date"].as_str().and_then(|x| chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").ok()).is_some_and(|x| x < schedule::date_of(cfg.office.timezone, now())),
                })).collect::<Vec<_>>(),
                "outline": v["outline"], "annexes": v["annexes"],
                "units": cfg.units.iter().map(|u| json!({"id": u.id.as_str(), "name": u.name, "on": chosen.iter().any(|c| c == u.id.as_str())})).collect::<Vec<_>>(),
                "reports": crate::office::requests::reports_of(r).iter().map(|x| json!({
                    "name": x.name, "due": match x.due { crate::domain::rules::DueRule::Date(d) => d.format("%d/%m/%Y").to_string(), _ => String::new() },
                })).collect::<Vec<_>>(),
                "cancel_reason": v["cancel_reason"],
                "owing": v["units"].as_array().into_iter().flatten().filter_map(|u| u.as_str()).map(|u| app.unit_name(u)).collect::<Vec<_>>().join(", "),
            })
        })
        .collect();
    let base = app.base(&s, "/requests", "Công văn yêu cầu báo cáo").await;
    Ok(app.render("requests.html", ctx(base, json!({"rows": rows}))))
}

#[derive(Deserialize, Default)]
pub struct OutboxQuery {
    state: Option<String>,
}

pub async fn outbox(State(app): State<AppRef>, headers: HeaderMap, Query(q): Query<OutboxQuery>) -> Page {
    let s = who(&app, &headers).await?;
    let state = q.state.as_deref().and_then(OutboxState::parse).filter(|s| *s != OutboxState::HandingOver);
    let rows = app.store.outbox_rows(state, 200).await.map_err(db)?;
    let block = app.store.outbox_block().await.map_err(db)?;

    let list: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id, "kind": super::capitalised(r.kind.label_vi()), "to": r.recipients.join(", "), "state": super::capitalised(r.state.label_vi()), "state_code": r.state.as_str(),
                "attempts": r.attempts, "created": app.when(r.created_at), "sent": r.sent_at.map(|t| app.when(t)), "error": r.last_error.as_deref().map(crate::audit::words::error_vi),
            })
        })
        .collect();
    let base = app.base(&s, "/outbox", "Thư đi").await;
    Ok(app.render(
        "outbox.html",
        ctx(
            base,
            json!({
                "rows": list, "state": state.map(|s| s.as_str()),
                "block": block.map(|b| json!({"since": app.when(b.since), "error": b.error})),
            }),
        ),
    ))
}

pub async fn audit(State(app): State<AppRef>, headers: HeaderMap, Query(f): Query<Flash>) -> Page {
    let s = who(&app, &headers).await?;
    let page = f.page.unwrap_or(1).max(1);
    let per = 100;
    let (events, total) = app.store.audit_page(None, per, (page - 1) * per).await.map_err(db)?;
    let verdict = app.audit_verdict(total).await;
    let pages = ((total + per - 1) / per).max(1);
    let base = app.base(&s, "/audit", "Nhật ký").await;
    Ok(app.render(
        "audit.html",
        ctx(
            base,
            json!({
                "events": events.iter().map(|e| event(&app, e)).collect::<Vec<_>>(), "total": total, "page": page, "pages": pages,
                "intact": verdict.as_ref().is_some_and(|v| v.1),
                "checking": verdict.is_none(),
                "verdict": match &verdict {
                    Some((at, _, text)) => format!("{text} (kiểm tra lúc {})", app.when(*at)),
                    None => "Đang kiểm tra chuỗi nhật ký; tải lại trang sau ít phút để xem kết quả.".to_string(),
                },
            }),
        ),
    ))
}

pub async fn accounts(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    if s.account.role < Role::Admin {
        return Err(super::message(&app, &s, StatusCode::FORBIDDEN, "Không có quyền", "Chỉ quản trị viên quản lý tài khoản.").await);
    }
    let list = app.store.accounts().await.map_err(db)?;
    let rows: Vec<Value> = list.iter().map(|a| json!({"name": a.name, "role": a.role.label_vi(), "disabled": a.disabled, "since": app.day(a.created_at), "me": a.name == s.account.name})).collect();
    let base = app.base(&s, "/accounts", "Tài khoản").await;
    Ok(app.render("accounts.html", ctx(base, json!({"rows": rows}))))
}


pub async fn password(State(app): State<AppRef>, headers: HeaderMap) -> Page {
    let s = who(&app, &headers).await?;
    let base = app.base(&s, "", "Đổi mật khẩu").await;
    Ok(app.render("password.html", ctx(base, json!({"min": crate::office::accounts::MIN_PASSWORD_CHARS}))))
}
