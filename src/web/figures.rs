//! The console's page *Số liệu* (SPEC §16): a form report's figures for a period — the form's
//! indicators × the units, with the totals, cells that failed a check marked, the units that
//! sent nothing or wait in review — a unit's figures over the periods of a year, one indicator
//! over the periods, the filled form to download, and a clerk's confirmation of figures read by
//! OCR. Everything shown comes from the stored readings (`compile::figures`); nothing is read
//! from a document here.

use super::pages::enc;
use super::{acting, who, App, AppRef};
use crate::domain::form::{ColumnKind, Figure, Form, RowKind};
use crate::domain::{Period, Role};
use axum::extract::{Form as AxForm, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Datelike;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

type Page = Result<Response, Response>;

/// Units shown side by side on one page of the matrix (a province has hundreds).
const UNITS_PER_PAGE: usize = 25;

#[derive(Deserialize, Default)]
pub struct FiguresQuery {
    report: Option<String>,
    period: Option<String>,
    /// The form's column shown (its index).
    col: Option<usize>,
    unit: Option<String>,
    /// An indicator by its key.
    row: Option<String>,
    page: Option<usize>,
}

use super::pages::db;

fn num(v: Option<f64>) -> String {
    v.map(crate::text::num_vi).unwrap_or_default()
}

fn cell(v: Option<&Figure>) -> String {
    match v {
        Some(Figure::Num(n)) => crate::text::num_vi(*n),
        Some(Figure::Text(t)) => t.clone(),
        None => String::new(),
    }
}

impl App {
    fn form_reports(&self) -> Vec<(String, String, Arc<Form>)> {
        self.cfg().reports.iter().filter_map(|r| r.form.clone().map(|f| (r.id.to_string(), r.name.clone(), f))).collect()
    }
}

fn link(report: &str, period: Option<Period>, col: usize, extra: &str) -> String {
    let p = period.map(|p| format!("&period={}", enc(&p.to_string()))).unwrap_or_default();
    format!("/figures?report={}{p}&col={col}{extra}", enc(report))
}

/// The form's rows as the page lists them.
fn rows_json(form: &Form) -> Vec<Value> {
    form.rows
        .iter()
        .map(|r| json!({"key": r.key, "number": r.number.clone().unwrap_or_default(), "label": r.label, "unit": r.unit.clone().unwrap_or_default(), "section": r.kind == RowKind::Section, "ratio": r.kind == RowKind::Ratio, "is_total": r.kind == RowKind::Total}))
        .collect()
}

pub async fn page(State(app): State<AppRef>, headers: HeaderMap, Query(q): Query<FiguresQuery>) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let reports = app.form_reports();
    let base = app.base(&s, "/figures", "Số liệu").await;
    let Some((rid, rname, form)) = q.report.as_ref().and_then(|r| reports.iter().find(|(id, _, _)| id == r)).or(reports.first()).cloned() else {
        return Ok(app.render("figures.html", super::pages::ctx(base, json!({"none": true}))));
    };
    let report = cfg.report(&rid).expect("listed from the config");
    let now = chrono::Utc::now().timestamp();
    // The periods offered: those with figures, and those owed this year and last.
    let mut periods = app.store.figures_periods(&rid).await.map_err(db)?;
    let this_year = crate::schedule::date_of(cfg.office.timezone, now).year();
    for y in [this_year, this_year - 1] {
        for p in crate::schedule::periods_of(report, y) {
            let due = crate::schedule::deadline_of(&cfg, report, p).map(|(_, d)| d);
            if due.is_some_and(|d| d <= now + 40 * 86_400) && !periods.contains(&p) {
                periods.push(p);
            }
        }
    }
    periods.sort_by(|a, b| b.cmp(a));
    let chosen = q.period.as_deref().and_then(|p| p.parse::<Period>().ok()).filter(|p| p.kind() == report.period);
    let period = chosen.or_else(|| periods.first().copied());
    let col = q.col.filter(|c| *c < form.columns.len()).unwrap_or_else(|| form.columns.iter().position(|c| c.kind == ColumnKind::Period).unwrap_or(0));
    let columns: Vec<Value> = form.columns.iter().enumerate().map(|(i, c)| json!({"i": i, "name": c.name, "kind": c.kind.label_vi()})).collect();
    let mut page = json!({
        "report": rid, "report_name": rname, "form": form.shown,
        "reports": reports.iter().map(|(id, name, _)| json!({"id": id, "name": name})).collect::<Vec<_>>(),
        "periods": periods.iter().map(|p| json!({"id": p.to_string(), "label": p.label_vi()})).collect::<Vec<_>>(),
        "period": period.map(|p| p.to_string()), "period_label": period.map(|p| p.label_vi()), "heading": period.map(|p| p.title(&rname)),
        "columns": columns, "col": col, "col_name": form.columns[col].name,
    });
    let name_of = |u: &str| app.cfg().unit(u).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string());
    if let Some(unit) = q.unit.as_deref().filter(|u| cfg.unit(u).is_some()) {
        // One unit over the periods of a year.
        let year = period.map(|p| p.year()).unwrap_or(this_year);
        let stored = app.store.figures_of_report(&rid, Some(unit), now).await.map_err(db)?;
        // The year's periods up to the latest with figures or already due.
        let ps: Vec<Period> = crate::schedule::periods_of(report, year)
            .into_iter()
            .filter(|p| stored.iter().any(|f| f.period >= *p) || crate::schedule::deadline_of(&cfg, report, *p).is_some_and(|(_, d)| d <= now))
            .collect();
        let by_period: Vec<Option<Vec<Vec<Option<Figure>>>>> = ps.iter().map(|p| stored.iter().find(|f| f.period == *p).map(|f| f.reading.on_form(&form))).collect();
        let rows: Vec<Value> = form
            .rows
            .iter()
            .enumerate()
            .map(|(ri, r)| {
                let vals: Vec<String> = by_period.iter().map(|v| v.as_ref().map(|v| cell(v[ri][col].as_ref())).unwrap_or_default()).collect();
                json!({"number": r.number.clone().unwrap_or_default(), "label": r.label, "unit": r.unit.clone().unwrap_or_default(), "section": r.kind == RowKind::Section, "values": vals, "href": link(&rid, period, col, &format!("&row={}", enc(&r.key)))})
            })
            .collect();
        page["unit_view"] = json!({"id": unit, "name": name_of(unit), "year": year, "periods": ps.iter().map(|p| p.short_vi()).collect::<Vec<_>>(), "rows": rows});
    } else if let Some(key) = q.row.as_deref().filter(|k| form.row_by_key(k).is_some()) {
        // One indicator over the periods of a year.
        let year = period.map(|p| p.year()).unwrap_or(this_year);
        let r = &form.rows[form.row_by_key(key).expect("checked")];
        let spec = r.number.clone().unwrap_or_else(|| r.label.clone());
        let series = crate::facts::series(&cfg, &app.store, &rid, year, &spec, Some(&form.columns[col].name), now).await.map_err(db)?;
        let units: Vec<Value> = series.units.iter().map(|(u, v)| json!({"id": u.as_str(), "name": name_of(u.as_str()), "values": v.iter().map(|x| num(*x)).collect::<Vec<_>>(), "href": link(&rid, period, col, &format!("&unit={}", enc(u.as_str())))})).collect();
        // The year's periods up to the latest with figures.
        let last = series.total.iter().rposition(|t| t.is_some()).map_or(0, |i| i + 1);
        let cut = |v: Vec<String>| v.into_iter().take(last).collect::<Vec<_>>();
        let units: Vec<Value> = units.into_iter().map(|mut u| {
            let vals: Vec<String> = serde_json::from_value(u["values"].take()).unwrap_or_default();
            u["values"] = json!(cut(vals));
            u
        }).collect();
        page["row_view"] = json!({"number": r.number, "label": r.label, "unit": r.unit, "year": year, "periods": cut(series.periods.iter().map(|p| p.short_vi()).collect()), "units": units, "total": cut(series.total.iter().map(|x| num(*x)).collect())});
    } else if let Some(p) = period {
        let c = crate::facts::figures(&cfg, &app.store, &rid, p, now).await.map_err(db)?;
        let pages = c.units.len().div_ceil(UNITS_PER_PAGE).max(1);
        let pg = q.page.unwrap_or(1).clamp(1, pages);
        let shown = &c.units[(pg - 1) * UNITS_PER_PAGE..(pg * UNITS_PER_PAGE).min(c.units.len())];
        let heads: Vec<Value> = shown.iter().map(|u| json!({"id": u.unit.as_str(), "name": name_of(u.unit.as_str()), "counted": u.counted, "href": link(&rid, Some(p), col, &format!("&unit={}", enc(u.unit.as_str())))})).collect();
        let rows: Vec<Value> = form
            .rows
            .iter()
            .enumerate()
            .zip(rows_json(&form))
            .map(|((ri, r), mut j)| {
                let cells: Vec<Value> = shown
                    .iter()
                    .map(|u| {
                        let flagged = u.flagged.contains(&(ri, col));
                        let text = cell(u.values[ri][col].as_ref());
                        let why: Vec<&String> = if flagged { u.findings.iter().filter(|f| f.contains(&r.label)).collect() } else { vec![] };
                        json!({"v": text, "bad": flagged, "why": why.first().map(|s| s.as_str()).unwrap_or(""), "ocr": !u.counted})
                    })
                    .collect();
                j["cells"] = json!(cells);
                j["total"] = json!(num(c.totals[ri][col]));
                j["href"] = json!(link(&rid, Some(p), col, &format!("&row={}", enc(&r.key))));
                j
            })
            .collect();
        let names = |v: &[crate::domain::UnitId]| v.iter().map(|u| json!({"id": u.as_str(), "name": name_of(u.as_str())})).collect::<Vec<_>>();
        let findings: Vec<Value> = c
            .units
            .iter()
            .filter(|u| !u.findings.is_empty())
            .map(|u| json!({"name": name_of(u.unit.as_str()), "submission": u.submission, "findings": u.findings}))
            .collect();
        let ocr: Vec<Value> = c.units.iter().filter(|u| !u.counted).map(|u| json!({"name": name_of(u.unit.as_str()), "submission": u.submission, "document": u.document})).collect();
        let pager = |n: usize| link(&rid, Some(p), col, &format!("&page={n}"));
        page["matrix"] = json!({
            "units": heads, "rows": rows, "counted": c.units.iter().filter(|u| u.counted).count(),
            "missing": names(&c.missing), "waiting": names(&c.waiting), "without": names(&c.without_figures), "exempt": names(&c.exempt),
            "findings": findings, "ocr": ocr,
            "page": pg, "pages": pages, "prev": (pg > 1).then(|| pager(pg - 1)), "next": (pg < pages).then(|| pager(pg + 1)),
            "xlsx": format!("/figures/xlsx?report={}&period={}", enc(&rid), enc(&p.to_string())),
        });
    }
    Ok(app.render("figures.html", super::pages::ctx(base, page)))
}

/// One submission's figures laid on the form, for its page: every indicator and column, cells
/// that failed a check marked, whether they count.
pub fn reading_json(form: &Form, f: &crate::store::StoredFigures) -> Value {
    let values = f.reading.on_form(form);
    let flagged: Vec<(usize, usize)> = f.reading.flagged.iter().filter_map(|(k, c)| Some((form.row_by_key(k)?, form.column_by_name(c)?))).collect();
    let rows: Vec<Value> = form
        .rows
        .iter()
        .enumerate()
        .map(|(ri, r)| {
            let cells: Vec<Value> = (0..form.columns.len()).map(|ci| json!({"v": cell(values[ri][ci].as_ref()), "bad": flagged.contains(&(ri, ci))})).collect();
            json!({"number": r.number.clone().unwrap_or_default(), "label": r.label, "unit": r.unit.clone().unwrap_or_default(), "section": r.kind == RowKind::Section, "cells": cells})
        })
        .collect();
    json!({
        "columns": form.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(), "rows": rows, "findings": f.reading.findings,
        "document": f.reading.document, "place": f.reading.place, "ocr": f.ocr, "confirmed_by": f.confirmed_by, "counted": f.counted(),
        "found": f.reading.rows.len(), "expected": form.rows.iter().filter(|r| r.has_figures()).count(),
    })
}

#[derive(Deserialize)]
pub struct XlsxQuery {
    report: String,
    period: String,
}

/// The office's form filled with the period's totals, and the sheet of every unit.
pub async fn xlsx(State(app): State<AppRef>, headers: HeaderMap, Query(q): Query<XlsxQuery>) -> Page {
    let s = who(&app, &headers).await?;
    let cfg = app.cfg();
    let Ok(period) = q.period.parse::<Period>() else {
        return Err(super::message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy", "Không có kỳ báo cáo này.").await);
    };
    let c = match crate::facts::figures(&cfg, &app.store, &q.report, period, chrono::Utc::now().timestamp()).await {
        Ok(c) => c,
        Err(crate::compile::figures::FiguresError::Store(e)) => return Err(db(e)),
        Err(_) => return Err(super::message(&app, &s, StatusCode::NOT_FOUND, "Không tìm thấy", "Báo cáo này không có biểu mẫu số liệu hoặc không có kỳ này.").await),
    };
    let bytes = match crate::compile::form_xlsx::build(&cfg, &c) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("console: the filled form of {} {period}: {e}", q.report);
            return Err(super::message(&app, &s, StatusCode::INTERNAL_SERVER_ERROR, "Không tạo được tệp", "Không điền được biểu mẫu của Văn phòng; quản trị viên xem nhật ký máy chủ.").await);
        }
    };
    let name = format!("tong-hop-{}-{}.xlsx", q.report, period);
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"));
    h.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")).unwrap_or(HeaderValue::from_static("attachment")));
    super::secure_headers(h);
    Ok(r)
}

/// A clerk confirms the figures a scan's OCR gave: they count from now on.
pub async fn confirm(State(app): State<AppRef>, headers: HeaderMap, Path(id): Path<i64>, AxForm(form): AxForm<Vec<(String, String)>>) -> Response {
    let (s, f) = match acting(&app, &headers, form, Role::Clerk).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let back = f.get("back");
    let to = if back.starts_with("/figures") || back.starts_with("/submissions/") { back.to_string() } else { "/figures".to_string() };
    let r = crate::office::figures::confirm_ocr(&app.store, id, &s.account.name).await;
    app.back(&s, &to, r.map(|()| format!("Đã xác nhận số liệu của bài nộp số {id}: từ nay được cộng vào tổng.")).map_err(|e| app.explain(&e)))
}
