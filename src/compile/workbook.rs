//! The compiled status workbook of SPEC §9, written with rust_xlsxwriter: *Tổng hợp* (units ×
//! obligations, coloured by state, with dates), *Bài nộp* (every submission) and one sheet per
//! extractor in use with the consolidated records of the latest accepted versions.
//! Every sheet has a frozen header row and filters. Pure: a snapshot in, bytes out.

use super::{reports_with, Snapshot};
use crate::config::{Config, Extract};
use crate::domain::{ObligationState, Period};
use crate::schedule;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use std::collections::BTreeMap;

/// The sheet names, in order, for the reports configured and the snapshot's figures (the
/// closing note and tests list them).
pub fn sheet_names(cfg: &Config, snap: &Snapshot) -> Vec<String> {
    let mut v = vec!["Tổng hợp".to_string(), "Bài nộp".to_string()];
    for (e, name) in EXTRACT_SHEETS {
        if !reports_with(cfg, *e).is_empty() {
            v.push(name.to_string());
        }
    }
    v.extend((0..snap.figures.len()).map(|i| figures_sheet_name(i, snap.figures.len())));
    v
}

/// A form report's sheet: *Số liệu*, or *Số liệu (2)* when several reports have forms (the
/// report and period are its heading).
fn figures_sheet_name(i: usize, n: usize) -> String {
    if n == 1 {
        "Số liệu".into()
    } else {
        format!("Số liệu ({})", i + 1)
    }
}

const EXTRACT_SHEETS: &[(Extract, &str)] =
    &[(Extract::Report, "Báo cáo"), (Extract::ScoreTable, "Tự chấm điểm"), (Extract::Commitments, "Cam kết"), (Extract::TaskPlan, "Kế hoạch")];

struct Styles {
    title: Format,
    head: Format,
    cell: Format,
    wrap: Format,
    date: Format,
    datetime: Format,
    num: Format,
    total: Format,
}

fn styles() -> Styles {
    let border = |f: Format| f.set_border(FormatBorder::Thin).set_border_color(Color::RGB(0xBFBFBF));
    Styles {
        title: Format::new().set_bold().set_font_size(13),
        head: border(Format::new().set_bold().set_text_wrap().set_align(FormatAlign::Center).set_align(FormatAlign::VerticalCenter).set_background_color(Color::RGB(0xDDEBF7))),
        cell: border(Format::new().set_align(FormatAlign::Top)),
        wrap: border(Format::new().set_text_wrap().set_align(FormatAlign::Top)),
        date: border(Format::new().set_num_format("dd/mm/yyyy").set_align(FormatAlign::Top)),
        datetime: border(Format::new().set_num_format("dd/mm/yyyy hh:mm").set_align(FormatAlign::Top)),
        num: border(Format::new().set_num_format("0.##").set_align(FormatAlign::Top)),
        total: border(Format::new().set_bold().set_num_format("0.##").set_background_color(Color::RGB(0xF2F2F2))),
    }
}

fn local(cfg: &Config, t: i64) -> Option<ExcelDateTime> {
    let d = chrono::DateTime::from_timestamp(t, 0)?.with_timezone(&cfg.office.timezone).naive_local();
    let s = d.format("%Y-%m-%d %H:%M:%S").to_string();
    ExcelDateTime::parse_from_str(&s).ok()
}

fn date(d: chrono::NaiveDate) -> Option<ExcelDateTime> {
    ExcelDateTime::parse_from_str(&d.format("%Y-%m-%d").to_string()).ok()
}

fn header(ws: &mut Worksheet, row: u32, cols: &[(&str, f64)], st: &Styles) -> Result<(), XlsxError> {
    for (i, (name, width)) in cols.iter().enumerate() {
        ws.write_string_with_format(row, i as u16, *name, &st.head)?;
        ws.set_column_width(i as u16, *width)?;
    }
    ws.set_freeze_panes(row + 1, 0)?;
    printable(ws);
    Ok(())
}

/// Lines `text` takes wrapped in a column `width` wide (Excel's unit: about one digit).
fn lines_in(text: &str, width: f64) -> usize {
    let per_line = (width * 1.1).max(1.0) as usize;
    text.split('\n').map(|l| l.chars().count().div_ceil(per_line).max(1)).sum::<usize>().max(1)
}

/// Sets a row's height to its tallest wrapped cell: neither Excel nor LibreOffice grows rows a
/// library wrote, so long notes would otherwise spill over the next rows when printed.
fn fit_row(ws: &mut Worksheet, row: u32, cells: &[(&str, f64)]) -> Result<(), XlsxError> {
    let lines = cells.iter().map(|(t, w)| lines_in(t, *w)).max().unwrap_or(1).min(30);
    ws.set_row_height(row, 15.0 * lines as f64)?;
    Ok(())
}

/// Tổng hợp printed a year at a time: A4 landscape, the units' columns and the header rows
/// repeated on every page, a page break where a year begins, and a scale at which the widest
/// year fits one page's width where it can (an A4 landscape page holds about 130 characters'
/// width).
fn by_year(ws: &mut Worksheet, years: &[i32], header_row: u32) -> Result<(), XlsxError> {
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_repeat_rows(0, header_row)?;
    ws.set_repeat_columns(0, 1)?;
    let mut breaks = Vec::new();
    let mut widest = 0usize;
    let mut run = 0usize;
    for (i, y) in years.iter().enumerate() {
        if i > 0 && years[i - 1] != *y {
            breaks.push(2 + i as u32);
            run = 0;
        }
        run += 1;
        widest = widest.max(run);
    }
    if !breaks.is_empty() {
        ws.set_vertical_page_breaks(&breaks)?;
    }
    // Never smaller than 60 %: a year of many reports goes on over a second page (its units
    // repeated) rather than into print nobody can read.
    let width = 52.0 + 22.0 * widest as f64;
    ws.set_print_scale(((130.0 / width) * 100.0).clamp(60.0, 100.0) as u16);
    Ok(())
}

/// A4 landscape, as wide as one page: the office prints these.
fn printable(ws: &mut Worksheet) {
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
}

fn opt(ws: &mut Worksheet, r: u32, c: u16, v: Option<&str>, f: &Format) -> Result<(), XlsxError> {
    ws.write_string_with_format(r, c, v.unwrap_or(""), f)?;
    Ok(())
}

/// Builds the workbook for a snapshot.
pub fn build(cfg: &Config, snap: &Snapshot) -> Result<Vec<u8>, XlsxError> {
    let st = styles();
    let mut wb = Workbook::new();
    matrix(cfg, snap, wb.add_worksheet().set_name("Tổng hợp")?, &st)?;
    submissions(cfg, snap, wb.add_worksheet().set_name("Bài nộp")?, &st)?;
    for (e, name) in EXTRACT_SHEETS {
        if reports_with(cfg, *e).is_empty() {
            continue;
        }
        let ws = wb.add_worksheet().set_name(*name)?;
        match e {
            Extract::Report => reports_sheet(cfg, snap, ws, &st)?,
            Extract::ScoreTable => scores_sheet(cfg, snap, ws, &st)?,
            Extract::Commitments => commitments_sheet(cfg, snap, ws, &st)?,
            Extract::TaskPlan => tasks_sheet(cfg, snap, ws, &st)?,
        }
    }
    for (i, f) in snap.figures.iter().enumerate() {
        let ws = wb.add_worksheet().set_name(figures_sheet_name(i, snap.figures.len()))?;
        figures_sheet(&super::figures::side_by_side(cfg, &f.current), ws, &st)?;
    }
    wb.save_to_buffer()
}

/// A form report's figures (SPEC §16): every unit side by side with the totals, as laid out for
/// the filled form's own sheet of units.
fn figures_sheet(s: &super::figures::Sheet, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    use super::figures::{Cell, Look};
    let red = Color::RGB(0xFFC7CE);
    let int = st.num.clone().set_num_format("#,##0").set_align(FormatAlign::VerticalCenter);
    let dec = st.num.clone().set_align(FormatAlign::VerticalCenter);
    let look = |l: Look| -> Format {
        match l {
            Look::Title => st.title.clone().set_text_wrap().set_align(FormatAlign::Top),
            Look::Plain => Format::new().set_text_wrap().set_align(FormatAlign::Top),
            Look::PlainBold => Format::new().set_bold(),
            Look::Head => st.head.clone(),
            Look::Text => st.wrap.clone(),
            Look::Center => st.cell.clone().set_align(FormatAlign::Center),
            Look::Section => st.wrap.clone().set_bold(),
            Look::Int => int.clone(),
            Look::Dec => dec.clone(),
            Look::IntFlag => int.clone().set_background_color(red),
            Look::DecFlag => dec.clone().set_background_color(red),
            Look::IntTotal => int.clone().set_bold().set_background_color(Color::RGB(0xF2F2F2)),
            Look::DecTotal => st.total.clone(),
        }
    };
    let merged = |r: u32, c: u16| s.merges.iter().any(|m| r >= m.0 && r <= m.2 && c >= m.1 && c <= m.3 && (r, c) != (m.0, m.1));
    for (r, c, v, l) in &s.cells {
        if merged(*r, *c) {
            continue;
        }
        let f = look(*l);
        match v {
            Cell::Text(t) => ws.write_string_with_format(*r, *c, t, &f)?,
            Cell::Num(n) => ws.write_number_with_format(*r, *c, *n, &f)?,
            Cell::Blank => ws.write_blank(*r, *c, &f)?,
        };
    }
    for m in &s.merges {
        let first = s.cells.iter().find(|(r, c, _, _)| (*r, *c) == (m.0, m.1));
        let (text, l) = match first {
            Some((_, _, Cell::Text(t), l)) => (t.clone(), *l),
            Some((_, _, _, l)) => (String::new(), *l),
            None => (String::new(), Look::Plain),
        };
        ws.merge_range(m.0, m.1, m.2, m.3, &text, &look(l))?;
    }
    for (c, w) in &s.widths {
        ws.set_column_width(*c, *w)?;
    }
    for (r, h) in &s.heights {
        ws.set_row_height(*r, *h)?;
    }
    ws.set_freeze_panes(s.freeze.0, s.freeze.1)?;
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_scale(s.scale);
    ws.set_repeat_rows(s.repeat_rows.0, s.repeat_rows.1)?;
    ws.set_repeat_columns(s.repeat_cols.0, s.repeat_cols.1)?;
    if !s.breaks.is_empty() {
        ws.set_vertical_page_breaks(&s.breaks.iter().map(|c| *c as u32).collect::<Vec<_>>())?;
    }
    Ok(())
}

fn matrix(cfg: &Config, snap: &Snapshot, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    let tz = cfg.office.timezone;
    ws.write_string_with_format(0, 0, format!("{} — tình hình nộp báo cáo đến {}", cfg.office.name, schedule::fmt_human(tz, snap.as_of)), &st.title)?;
    // A year at a time (SPEC §9): the columns of one year together, a page break between years.
    let order: std::collections::HashMap<&str, usize> = cfg.reports.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
    let mut groups = snap.groups();
    groups.sort_by_key(|((r, p, _), _)| (p.year(), order.get(r.as_str()).copied().unwrap_or(usize::MAX), *p));
    let hr = 2u32;
    ws.write_string_with_format(hr, 0, "Mã đơn vị", &st.head)?;
    ws.write_string_with_format(hr, 1, "Đơn vị", &st.head)?;
    ws.set_column_width(0, 12)?;
    ws.set_column_width(1, 40)?;
    ws.set_row_height(hr, 60)?;
    for (i, ((report, period, due), _)) in groups.iter().enumerate() {
        let c = 2 + i as u16;
        let name = cfg.report(report).map(|r| r.name.as_str()).unwrap_or(report);
        ws.write_string_with_format(hr, c, format!("{name}\n{}\nhạn {}", period.label_vi(), due.format("%d/%m/%Y")), &st.head)?;
        ws.set_column_width(c, 22)?;
    }
    let fills: BTreeMap<ObligationState, Format> =
        ObligationState::ALL.iter().map(|s| (*s, st.wrap.clone().set_background_color(Color::RGB(super::state_rgb(*s))))).collect();
    let na = st.cell.clone().set_background_color(Color::RGB(0xF2F2F2));
    let mut row = hr + 1;
    for u in &cfg.units {
        ws.write_string_with_format(row, 0, u.id.as_str(), &st.cell)?;
        ws.write_string_with_format(row, 1, &u.name, &st.cell)?;
        // Two lines per cell (state, date); spreadsheet apps do not grow rows written by a library.
        ws.set_row_height(row, 30)?;
        for (i, (_, obs)) in groups.iter().enumerate() {
            let c = 2 + i as u16;
            match obs.iter().find(|(o, _, _)| o.unit == u.id) {
                Some((o, f, s)) => {
                    let mut text = s.label_vi().to_string();
                    if let Some(at) = f.first_accepted_at {
                        text.push_str(&format!("\n{}", schedule::date_of(tz, at).format("%d/%m/%Y")));
                        if *s == ObligationState::SubmittedLate {
                            text.push_str(&format!(", muộn {} ngày", super::days_between(cfg, o.deadline, at).max(1)));
                        }
                    } else if *s == ObligationState::Overdue {
                        text.push_str(&format!("\n{} ngày", super::days_between(cfg, o.deadline, snap.as_of).max(1)));
                    }
                    if let Some(v) = f.latest_version.filter(|v| *v > 1) {
                        text.push_str(&format!(" (lần {v})"));
                    }
                    ws.write_string_with_format(row, c, text, &fills[s])?;
                }
                None => {
                    ws.write_string_with_format(row, c, "—", &na)?;
                }
            }
        }
        row += 1;
    }
    let last_col = 1 + groups.len() as u16;
    ws.autofilter(hr, 0, row.saturating_sub(1).max(hr), last_col)?;
    // Per column: how many of the units that owe it have submitted, on time, late, and are overdue.
    ws.write_string_with_format(row, 1, "Tổng cộng", &st.head)?;
    ws.set_row_height(row, 60)?;
    for (i, (_, obs)) in groups.iter().enumerate() {
        let count = |want: &[ObligationState]| obs.iter().filter(|(_, _, s)| want.contains(s)).count();
        let owing = obs.len() - count(&[ObligationState::Exempt]);
        let on_time = count(&[ObligationState::SubmittedOnTime]);
        let late = count(&[ObligationState::SubmittedLate]);
        let overdue = count(&[ObligationState::Overdue]);
        let mut text = format!("Đã nộp {}/{owing}\nđúng hạn {on_time}, muộn {late}", on_time + late);
        if overdue > 0 {
            text.push_str(&format!("\nquá hạn {overdue}"));
        }
        ws.write_string_with_format(row, 2 + i as u16, text, &st.wrap)?;
    }
    ws.set_freeze_panes(hr + 1, 2)?;
    by_year(ws, &groups.iter().map(|((_, p, _), _)| p.year()).collect::<Vec<_>>(), hr)?;
    // Legend, so a printed copy explains its colours.
    row += 2;
    for s in ObligationState::ALL {
        ws.write_string_with_format(row, 1, s.label_vi(), &fills[&s])?;
        row += 1;
    }
    Ok(())
}

fn submissions(cfg: &Config, snap: &Snapshot, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    let cols = [
        ("Số TT", 7.0),
        ("Nhận lúc", 17.0),
        ("Người gửi", 28.0),
        ("Tiêu đề", 40.0),
        ("Đơn vị", 28.0),
        ("Báo cáo", 30.0),
        ("Kỳ", 16.0),
        ("Hạn nộp", 11.0),
        ("Lần gửi", 8.0),
        ("Quyết định", 14.0),
        ("Thời hạn", 10.0),
        ("Tệp", 36.0),
        ("Ghi nhận", 60.0),
    ];
    header(ws, 0, &cols, st)?;
    let mut row = 1u32;
    for m in &snap.messages {
        ws.write_number_with_format(row, 0, m.id as f64, &st.cell)?;
        match local(cfg, m.received_at) {
            Some(d) => ws.write_datetime_with_format(row, 1, &d, &st.datetime)?,
            None => ws.write_string_with_format(row, 1, "", &st.cell)?,
        };
        opt(ws, row, 2, m.from_addr.as_deref(), &st.wrap)?;
        opt(ws, row, 3, m.subject.as_deref(), &st.wrap)?;
        let unit = m.unit.as_ref().map(|u| unit_name(cfg, &Some(u.clone())));
        opt(ws, row, 4, unit.as_deref(), &st.wrap)?;
        opt(ws, row, 5, m.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.as_str()), &st.wrap)?;
        let period = m.period.map(|p| p.label_vi());
        opt(ws, row, 6, period.as_deref(), &st.cell)?;
        match m.due.and_then(date) {
            Some(d) => ws.write_datetime_with_format(row, 7, &d, &st.date)?,
            None => ws.write_string_with_format(row, 7, "", &st.cell)?,
        };
        match m.version {
            Some(v) => ws.write_number_with_format(row, 8, v as f64, &st.cell)?,
            None => ws.write_string_with_format(row, 8, "", &st.cell)?,
        };
        ws.write_string_with_format(row, 9, m.decision.label_vi(), &st.cell)?;
        let timely = m.timeliness.map(|t| t.label_vi()).unwrap_or("");
        ws.write_string_with_format(row, 10, timely, &st.cell)?;
        let files: Vec<String> = m.documents.iter().map(|d| format!("{} ({})", d.filename, d.parse.label_vi())).collect();
        ws.write_string_with_format(row, 11, files.join("\n"), &st.wrap)?;
        let mut notes: Vec<String> = m.reasons.clone();
        notes.extend(m.findings.iter().cloned());
        if let Some(by) = &m.manual_by {
            notes.push(format!("Văn phòng quyết định ({by})"));
        }
        ws.write_string_with_format(row, 12, notes.join("\n"), &st.wrap)?;
        let width = |c: usize| cols[c].1;
        let report = m.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.as_str()).unwrap_or("");
        fit_row(
            ws,
            row,
            &[
                (m.from_addr.as_deref().unwrap_or(""), width(2)),
                (m.subject.as_deref().unwrap_or(""), width(3)),
                (unit.as_deref().unwrap_or(""), width(4)),
                (report, width(5)),
                (&files.join("\n"), width(11)),
                (&notes.join("\n"), width(12)),
            ],
        )?;
        row += 1;
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), cols.len() as u16 - 1)?;
    Ok(())
}

fn unit_name(cfg: &Config, id: &Option<crate::domain::UnitId>) -> String {
    id.as_ref().map(|u| cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string())).unwrap_or_default()
}

fn period_of(m: &crate::store::Submission) -> String {
    m.period.map(|p| p.label_vi()).unwrap_or_default()
}

fn latest_of(cfg: &Config, snap: &Snapshot, e: Extract) -> Vec<(crate::store::Submission, Vec<crate::parse::Document>)> {
    let ids: Vec<&str> = reports_with(cfg, e).iter().map(|r| r.id.as_str()).collect();
    snap.latest_accepted()
        .into_iter()
        .filter(|m| m.report.as_ref().is_some_and(|r| ids.contains(&r.as_str())))
        .map(|m| (m.clone(), m.documents.clone()))
        .collect()
}

fn reports_sheet(cfg: &Config, snap: &Snapshot, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    let cols = [
        ("Đơn vị", 36.0),
        ("Báo cáo", 30.0),
        ("Kỳ", 16.0),
        ("Số văn bản", 16.0),
        ("Ngày", 11.0),
        ("Loại", 12.0),
        ("Trích yếu", 50.0),
        ("Người ký", 22.0),
        ("Tệp", 36.0),
        ("Lần gửi", 8.0),
    ];
    header(ws, 0, &cols, st)?;
    let mut row = 1u32;
    for (m, docs) in latest_of(cfg, snap, Extract::Report) {
        let d = docs.iter().find(|d| d.header.number.is_some() || d.header.doc_type.is_some()).or(docs.first());
        ws.write_string_with_format(row, 0, unit_name(cfg, &m.unit), &st.wrap)?;
        opt(ws, row, 1, m.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.as_str()), &st.wrap)?;
        ws.write_string_with_format(row, 2, period_of(&m), &st.cell)?;
        let h = d.map(|d| d.header.clone()).unwrap_or_default();
        opt(ws, row, 3, h.number.as_deref(), &st.cell)?;
        match h.date.as_deref().and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).and_then(date) {
            Some(x) => ws.write_datetime_with_format(row, 4, &x, &st.date)?,
            None => ws.write_string_with_format(row, 4, "", &st.cell)?,
        };
        opt(ws, row, 5, h.doc_type.as_deref(), &st.cell)?;
        opt(ws, row, 6, h.summary.as_deref(), &st.wrap)?;
        opt(ws, row, 7, h.signer.as_deref(), &st.cell)?;
        opt(ws, row, 8, d.map(|d| d.filename.as_str()), &st.wrap)?;
        ws.write_number_with_format(row, 9, m.version.unwrap_or(1) as f64, &st.cell)?;
        let unit = unit_name(cfg, &m.unit);
        fit_row(ws, row, &[(&unit, cols[0].1), (h.summary.as_deref().unwrap_or(""), cols[6].1), (d.map(|d| d.filename.as_str()).unwrap_or(""), cols[8].1)])?;
        row += 1;
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), cols.len() as u16 - 1)?;
    Ok(())
}

/// All units' score tables side by side: one block per report and period, criteria as rows
/// (by their numbering), one column of self-assessed points per unit, totals at the bottom.
fn scores_sheet(cfg: &Config, snap: &Snapshot, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    let latest = latest_of(cfg, snap, Extract::ScoreTable);
    let mut units: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for u in &cfg.units {
        if latest.iter().any(|(m, _)| m.unit.as_ref() == Some(&u.id)) {
            units.push(u.id.to_string());
            names.push(u.name.clone());
        }
    }
    // Units by name (SPEC §17), in wrapped header cells tall enough for the longest.
    let mut cols: Vec<(String, f64)> = vec![("Báo cáo".into(), 24.0), ("Kỳ".into(), 12.0), ("STT".into(), 6.0), ("Tiêu chí".into(), 50.0), ("Điểm tối đa".into(), 9.0)];
    cols.extend(names.iter().map(|n| (n.clone(), 16.0)));
    let refs: Vec<(&str, f64)> = cols.iter().map(|(n, w)| (n.as_str(), *w)).collect();
    header(ws, 0, &refs, st)?;
    fit_row(ws, 0, &refs)?;
    ws.set_freeze_panes(1, 5)?;
    // Printed with the criteria repeated beside every page of units.
    ws.set_repeat_rows(0, 0)?;
    ws.set_repeat_columns(2, 4)?;
    ws.set_print_scale(80);
    let mut blocks: BTreeMap<(String, Option<Period>), Vec<&(crate::store::Submission, Vec<crate::parse::Document>)>> = BTreeMap::new();
    for x in &latest {
        blocks.entry((x.0.report.as_ref().map(|r| r.to_string()).unwrap_or_default(), x.0.period)).or_default().push(x);
    }
    let mut row = 1u32;
    for ((report, period), subs) in blocks {
        let rname = cfg.report(&report).map(|r| r.name.clone()).unwrap_or(report.clone());
        let plabel = period.map(|p| p.label_vi()).unwrap_or_default();
        // Criteria in first-seen order, keyed by their numbering and name.
        let mut criteria: Vec<(String, String, usize, Option<f64>)> = Vec::new();
        let mut points: BTreeMap<(String, usize), f64> = BTreeMap::new();
        let mut totals: BTreeMap<usize, (Option<f64>, Option<f64>)> = BTreeMap::new();
        for (m, docs) in &subs {
            let Some(ui) = units.iter().position(|u| Some(u.as_str()) == m.unit.as_ref().map(|x| x.as_str())) else { continue };
            let Some(score) = docs.iter().find_map(|d| d.score.as_ref()) else { continue };
            totals.insert(ui, (score.max_total, score.self_total));
            for it in &score.items {
                let key = format!("{}|{}", it.stt, crate::text::fold(&it.name));
                if !criteria.iter().any(|c| c.0 == key) {
                    criteria.push((key.clone(), it.name.clone(), it.level, it.max));
                }
                if let Some(a) = it.achieved {
                    points.insert((key, ui), a);
                }
            }
        }
        for (key, name, level, max) in &criteria {
            let stt = key.split('|').next().unwrap_or("");
            ws.write_string_with_format(row, 0, &rname, &st.cell)?;
            ws.write_string_with_format(row, 1, &plabel, &st.cell)?;
            ws.write_string_with_format(row, 2, stt, &st.cell)?;
            let f = if *level <= 1 { st.wrap.clone().set_bold() } else { st.wrap.clone().set_indent((*level as u8).saturating_sub(1).min(4)) };
            ws.write_string_with_format(row, 3, name, &f)?;
            // Long criteria wrap; the row grows with them, or the printed lines overlap.
            fit_row(ws, row, &[(name.as_str(), 50.0)])?;
            match max {
                Some(v) => ws.write_number_with_format(row, 4, *v, &st.num)?,
                None => ws.write_string_with_format(row, 4, "", &st.cell)?,
            };
            for ui in 0..units.len() {
                match points.get(&(key.clone(), ui)) {
                    Some(v) => ws.write_number_with_format(row, 5 + ui as u16, *v, &st.num)?,
                    None => ws.write_string_with_format(row, 5 + ui as u16, "", &st.cell)?,
                };
            }
            row += 1;
        }
        ws.write_string_with_format(row, 0, &rname, &st.total)?;
        ws.write_string_with_format(row, 1, &plabel, &st.total)?;
        ws.write_string_with_format(row, 2, "", &st.total)?;
        ws.write_string_with_format(row, 3, "Tổng điểm", &st.total)?;
        match totals.values().find_map(|t| t.0) {
            Some(v) => ws.write_number_with_format(row, 4, v, &st.total)?,
            None => ws.write_string_with_format(row, 4, "", &st.total)?,
        };
        for ui in 0..units.len() {
            match totals.get(&ui).and_then(|t| t.1) {
                Some(v) => ws.write_number_with_format(row, 5 + ui as u16, v, &st.total)?,
                None => ws.write_string_with_format(row, 5 + ui as u16, "", &st.total)?,
            };
        }
        row += 2;
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), refs.len() as u16 - 1)?;
    Ok(())
}

fn commitments_sheet(cfg: &Config, snap: &Snapshot, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    let cols = [("Đơn vị", 36.0), ("Báo cáo", 28.0), ("Kỳ", 14.0), ("STT", 6.0), ("Nội dung cam kết", 80.0)];
    header(ws, 0, &cols, st)?;
    let mut row = 1u32;
    for (m, docs) in latest_of(cfg, snap, Extract::Commitments) {
        let Some(c) = docs.iter().find_map(|d| d.commitments.as_ref()) else { continue };
        for (i, item) in c.items.iter().enumerate() {
            ws.write_string_with_format(row, 0, unit_name(cfg, &m.unit), &st.wrap)?;
            opt(ws, row, 1, m.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.as_str()), &st.wrap)?;
            ws.write_string_with_format(row, 2, period_of(&m), &st.cell)?;
            ws.write_number_with_format(row, 3, (i + 1) as f64, &st.cell)?;
            ws.write_string_with_format(row, 4, item, &st.wrap)?;
            fit_row(ws, row, &[(item, cols[4].1), (&unit_name(cfg, &m.unit), cols[0].1)])?;
            row += 1;
        }
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), cols.len() as u16 - 1)?;
    Ok(())
}

fn tasks_sheet(cfg: &Config, snap: &Snapshot, ws: &mut Worksheet, st: &Styles) -> Result<(), XlsxError> {
    let cols = [
        ("Đơn vị", 30.0),
        ("Kỳ", 12.0),
        ("Nhóm nhiệm vụ", 30.0),
        ("Nhiệm vụ", 50.0),
        ("Sản phẩm", 24.0),
        ("Chủ trì", 18.0),
        ("Phối hợp", 18.0),
        ("Thời gian", 16.0),
        ("Từ ngày", 11.0),
        ("Đến ngày", 11.0),
    ];
    header(ws, 0, &cols, st)?;
    let mut row = 1u32;
    for (m, docs) in latest_of(cfg, snap, Extract::TaskPlan) {
        let Some(t) = docs.iter().find_map(|d| d.tasks.as_ref()) else { continue };
        for task in &t.items {
            ws.write_string_with_format(row, 0, unit_name(cfg, &m.unit), &st.wrap)?;
            ws.write_string_with_format(row, 1, period_of(&m), &st.cell)?;
            opt(ws, row, 2, task.group.as_deref(), &st.wrap)?;
            ws.write_string_with_format(row, 3, &task.task, &st.wrap)?;
            opt(ws, row, 4, task.product.as_deref(), &st.wrap)?;
            opt(ws, row, 5, task.lead.as_deref(), &st.wrap)?;
            opt(ws, row, 6, task.partners.as_deref(), &st.wrap)?;
            opt(ws, row, 7, task.time_text.as_deref(), &st.cell)?;
            for (c, v) in [(8u16, &task.from), (9u16, &task.to)] {
                match v.as_deref().and_then(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()).and_then(date) {
                    Some(x) => ws.write_datetime_with_format(row, c, &x, &st.date)?,
                    None => ws.write_string_with_format(row, c, "", &st.cell)?,
                };
            }
            let cells = [
                (task.group.as_deref().unwrap_or(""), cols[2].1),
                (task.task.as_str(), cols[3].1),
                (task.product.as_deref().unwrap_or(""), cols[4].1),
                (task.lead.as_deref().unwrap_or(""), cols[5].1),
                (task.partners.as_deref().unwrap_or(""), cols[6].1),
            ];
            fit_row(ws, row, &cells)?;
            row += 1;
        }
    }
    ws.autofilter(0, 0, row.saturating_sub(1).max(1), cols.len() as u16 - 1)?;
    Ok(())
}
