//! The office's forms (SPEC §16): the blank form read into a [`Form`] when the config is loaded
//! ([`load`]), and each unit's filled copy read against it ([`read`]) into a [`Reading`] with the
//! checks that need nothing but the document itself ([`checks`] adds those that need the unit's
//! earlier periods).
//!
//! A form is a table of indicators: its layout ([`layout`]) is found by the words offices put in
//! column headers, never by positions, so a unit's copy is read the same way whatever heading,
//! cover sheet, inserted row or reworded label it has.

pub mod checks;
pub mod formula;
pub mod layout;
pub mod number;
pub mod read;

use crate::domain::form::{ColumnKind, Expr, Form, FormColumn, FormRow, FormSource, Rule, RowKind};
use crate::domain::rules::Limits;
use crate::domain::Format;
use crate::text::fold;
use layout::{Layout, Roles};
use std::collections::HashMap;
use std::path::Path;

pub use read::{read, Found};

/// A sheet or table with absolute positions: its cells as text (merged regions filled), the
/// exact values of number cells, its merged regions and its formulas.
#[derive(Debug, Default, Clone)]
pub struct Grid {
    pub name: String,
    pub cells: Vec<Vec<String>>,
    pub merges: Vec<(usize, usize, usize, usize)>,
    pub formulas: Vec<(usize, usize, String)>,
}

/// Reads the office's form from `path`. `sheet` names the sheet of a workbook, or the words of
/// the table's header in a Word document; `rules` are `form_rules`. Errors say what could not
/// be read, for `check-config`.
pub fn load(path: &Path, shown: &str, sheet: Option<&str>, rules: &[String], outlier_factor: Option<f64>) -> Result<Form, String> {
    let data = std::fs::read(path).map_err(|e| format!("cannot read the form {shown}: {e}"))?;
    let limits = Limits::default();
    let format = super::container::sniff(&data);
    let budget = super::external::Budget { seconds: 60, memory_mb: limits.converter_memory_mb };
    let grids: Vec<Grid> = match format {
        Format::Xlsx | Format::Xls => workbook_grids(&data, format, &limits)?,
        Format::Ods => workbook_grids(&converted(&data, "ods", "xlsx", budget, shown)?, Format::Xlsx, &limits)?,
        Format::Docx => word_grids(&data, &limits)?,
        Format::Doc | Format::Odt | Format::Rtf => {
            let ext = match format {
                Format::Doc => "doc",
                Format::Rtf => "rtf",
                _ => "odt",
            };
            word_grids(&converted(&data, ext, "docx", budget, shown)?, &limits)?
        }
        other => return Err(format!("the form {shown} is {other:?}, not a workbook (.xlsx, .xls, .ods) or a Word document (.docx, .doc, .odt)")),
    };
    let word = matches!(format, Format::Docx | Format::Doc | Format::Odt | Format::Rtf);
    let want = sheet.map(fold);
    let mut tried = Vec::new();
    for (i, g) in grids.iter().enumerate() {
        let named = match &want {
            None => true,
            Some(w) if word => g.cells.iter().take(6).any(|r| r.iter().any(|c| fold(c).contains(w.as_str()))),
            Some(w) => fold(&g.name) == *w,
        };
        if !named {
            continue;
        }
        let Some(h0) = layout::find_header(&g.cells) else {
            tried.push(g.name.clone());
            continue;
        };
        let source = if word { FormSource::WordTable(i) } else { FormSource::Sheet(g.name.clone()) };
        return build(path, shown, format, source, g, h0, rules, outlier_factor.unwrap_or(3.0));
    }
    Err(match (&want, tried.is_empty()) {
        (Some(w), true) => format!("the form {shown} has no {} «{}» (it has: {})", if word { "table headed" } else { "sheet" }, sheet.unwrap_or(w), grids.iter().map(|g| g.name.clone()).collect::<Vec<_>>().join(", ")),
        _ => format!("the form {shown} has no indicator table: no row of column headers (STT, Chỉ tiêu / Nội dung, Đơn vị tính) was found"),
    })
}

/// A form converted by LibreOffice, kept by content in the temporary folder: the config is loaded
/// by every command, and a conversion takes a second or more.
pub fn converted(data: &[u8], ext: &str, to: &str, budget: super::external::Budget, shown: &str) -> Result<Vec<u8>, String> {
    let dir = std::env::temp_dir().join("baocao-forms");
    let cached = dir.join(format!("{}.{to}", super::sha256_hex(data)));
    if let Ok(b) = std::fs::read(&cached) {
        return Ok(b);
    }
    let x = super::external::libreoffice(data, ext, to, budget).map_err(|e| format!("cannot convert the form {shown} ({e}{})", e.detail().map(|d| format!(": {d}")).unwrap_or_default()))?;
    // Written aside and renamed: a half-written copy is never read.
    if std::fs::create_dir_all(&dir).is_ok() {
        let tmp = dir.join(format!("{}.{}.tmp", super::sha256_hex(data), std::process::id()));
        if std::fs::write(&tmp, &x).is_ok() {
            let _ = std::fs::rename(&tmp, &cached);
        }
    }
    Ok(x)
}

/// Every sheet of a workbook with absolute cell positions, its merges and formulas.
pub fn workbook_grids(data: &[u8], format: Format, limits: &Limits) -> Result<Vec<Grid>, String> {
    use calamine::{open_workbook_auto_from_rs, Data, Reader, Sheets};
    if format == Format::Xlsx {
        super::container::check_zip(data, limits).map_err(|e| e.to_string())?;
    }
    let mut wb: Sheets<std::io::Cursor<Vec<u8>>> = open_workbook_auto_from_rs(std::io::Cursor::new(data.to_vec())).map_err(|e| format!("not a readable workbook ({e})"))?;
    let mut out = Vec::new();
    for name in wb.sheet_names().to_vec() {
        let range = wb.worksheet_range(&name).map_err(|e| format!("cannot read sheet «{name}» ({e})"))?;
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let (h, w) = range.get_size();
        if h.saturating_mul(w) > limits.cells {
            return Err(format!("sheet «{name}» has more than {} cells", limits.cells));
        }
        let mut cells: Vec<Vec<String>> = vec![Vec::new(); r0 as usize];
        for row in range.rows() {
            let mut line = vec![String::new(); c0 as usize];
            line.extend(row.iter().map(|d| match d {
                Data::Float(f) => super::sheet::fmt_float(*f),
                Data::Int(i) => i.to_string(),
                Data::String(s) => crate::text::nfc(s.trim()),
                Data::Empty => String::new(),
                other => other.to_string(),
            }));
            cells.push(line);
        }
        let merges: Vec<(usize, usize, usize, usize)> = match &mut wb {
            Sheets::Xlsx(x) => x.worksheet_merge_cells(&name).and_then(|r| r.ok()).unwrap_or_default(),
            Sheets::Xls(x) => x.worksheet_merge_cells(&name).unwrap_or_default(),
            _ => vec![],
        }
        .into_iter()
        .map(|m| (m.start.0 as usize, m.start.1 as usize, m.end.0 as usize, m.end.1 as usize))
        .filter(|m| m.2 < 100_000 && m.3 < 1_000)
        .collect();
        for &(sr, sc, er, ec) in &merges {
            let v = cells.get(sr).and_then(|r| r.get(sc)).cloned().unwrap_or_default();
            if v.is_empty() {
                continue;
            }
            for row in cells.iter_mut().take(er + 1).skip(sr) {
                if row.len() <= ec {
                    row.resize(ec + 1, String::new());
                }
                for c in row.iter_mut().take(ec + 1).skip(sc) {
                    if c.is_empty() {
                        *c = v.clone();
                    }
                }
            }
        }
        let mut formulas = Vec::new();
        if let Ok(f) = wb.worksheet_formula(&name) {
            let (fr, fc) = f.start().unwrap_or((0, 0));
            for (r, row) in f.rows().enumerate() {
                for (c, text) in row.iter().enumerate() {
                    if !text.trim().is_empty() {
                        formulas.push((fr as usize + r, fc as usize + c, text.clone()));
                    }
                }
            }
        }
        out.push(Grid { name: crate::text::nfc(&name), cells, merges, formulas });
    }
    decode_legacy(&mut out);
    Ok(out)
}

/// The tables of a Word document, each under the paragraphs just above it (the heading: the
/// unit's name, the title, the period), one row each across the table.
fn word_grids(data: &[u8], limits: &Limits) -> Result<Vec<Grid>, String> {
    let (blocks, _) = super::docx::read_decoding(data, limits).map_err(|e| e.to_string())?;
    let mut out: Vec<Grid> = Vec::new();
    let mut above: Vec<String> = Vec::new();
    for b in blocks {
        match b {
            super::Block::Para(p) if !p.trim().is_empty() => {
                above.push(crate::text::squash_ws(&p));
                if above.len() > 6 {
                    above.remove(0);
                }
            }
            super::Block::Para(_) => {}
            super::Block::Table(t) => {
                let width = t.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
                let heading = std::mem::take(&mut above);
                let mut cells: Vec<Vec<String>> = heading.iter().map(|p| vec![p.clone(); width]).collect();
                let mut merges: Vec<(usize, usize, usize, usize)> = (0..heading.len()).filter(|_| width > 1).map(|r| (r, 0, r, width - 1)).collect();
                let top = cells.len();
                cells.extend(t);
                merges.extend(spans(&cells[top..]).into_iter().map(|(r0, c0, r1, c1)| (r0 + top, c0, r1 + top, c1)));
                out.push(Grid { name: format!("bảng {}", out.len() + 1), merges, cells, formulas: vec![] });
            }
        }
    }
    decode_legacy(&mut out);
    Ok(out)
}

/// Merged regions of a Word table as the reader laid it (a merged cell repeated over its grid
/// columns and rows): runs of one text, in the header rows only, where merges mean something.
fn spans(cells: &[Vec<String>]) -> Vec<(usize, usize, usize, usize)> {
    let Some(h0) = layout::find_header(cells) else { return vec![] };
    let Ok(l) = layout::analyse(cells, h0, &Roles::default()) else { return vec![] };
    let (top, bottom) = l.header;
    let mut done = vec![vec![false; cells.iter().map(|r| r.len()).max().unwrap_or(0)]; bottom + 1];
    let mut out = Vec::new();
    for r in top..=bottom {
        for c in 0..cells[r].len() {
            let v = layout::cell(cells, r, c);
            if v.is_empty() || done[r][c] {
                continue;
            }
            let mut ec = c;
            while layout::cell(cells, r, ec + 1) == v && ec + 1 < cells[r].len() {
                ec += 1;
            }
            let mut er = r;
            while er < bottom && (c..=ec).all(|x| layout::cell(cells, er + 1, x) == v) {
                er += 1;
            }
            for row in done.iter_mut().take(er + 1).skip(r) {
                for d in row.iter_mut().take(ec + 1).skip(c) {
                    *d = true;
                }
            }
            if er > r || ec > c {
                out.push((r, c, er, ec));
            }
        }
    }
    out
}

/// Decodes a form typed in a legacy Vietnamese encoding (TCVN3, VNI), cell by cell.
fn decode_legacy(grids: &mut [Grid]) {
    let Some(l) = super::legacy_of(grids.iter().flat_map(|g| g.cells.iter().flatten())) else { return };
    for g in grids {
        for c in g.cells.iter_mut().flatten() {
            if let Some(d) = crate::text::legacy::decode_if_legacy(c, l) {
                *c = d;
            }
        }
    }
}

fn is_upper(s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    letters.len() >= 3 && letters.iter().all(|c| !c.is_lowercase())
}

/// What kind of figures a column holds, from its header words.
pub fn column_kind(name: &str) -> ColumnKind {
    let f = fold(name);
    let has = |w: &str| crate::text::contains_words(&f, w);
    if has("ghi chu") || has("dien giai") || has("nguyen nhan") {
        ColumnKind::Text
    } else if name.contains('%') || has("ty le") || has("ti le") || has("binh quan") || has("trung binh") || has("cong suat") || has("so sanh") || has("phan tram") {
        ColumnKind::Ratio
    } else if has("luy ke") || has("cong don") || has("tu dau nam") {
        ColumnKind::Cumulative
    } else if has("ke hoach") || has("chi tieu giao") || has("muc tieu") || has("chi tieu nam") || has("kh nam") || has("cung ky") || has("nam truoc") || has("ky truoc") {
        // A target, or the same period of an earlier year: a figure to compare with, added up
        // like the others, never judged against the unit's own history.
        ColumnKind::Plan
    } else {
        ColumnKind::Period
    }
}

/// An indicator measured as a share or an average, never summed.
pub fn ratio_row(label: &str, unit: Option<&str>) -> bool {
    let f = fold(label);
    let has = |w: &str| crate::text::contains_words(&f, w);
    // `%`, `‰`, or a measure per something (`người/1.000 dân`, `lượt/ngày`).
    let unit_ratio = unit.is_some_and(|u| u.contains(['%', '‰', '/']) || matches!(fold(u).as_str(), "ty le" | "ti le" | "phan tram"));
    unit_ratio || has("ty le") || has("ti le") || has("ty suat") || has("binh quan") || has("trung binh") || has("cong suat") || has("phan tram")
}

/// A total row's label (*Tổng*, *Tổng số*, *Tổng cộng*, *Cộng*), with what follows in
/// parentheses (`(1+2+3)`) returned apart.
fn total_label(label: &str) -> Option<Option<String>> {
    let (head, paren) = match label.find('(') {
        Some(i) => (&label[..i], label[i + 1..].split(')').next().map(str::to_string)),
        None => (label, None),
    };
    let f = fold(head);
    const TOTAL: [&str; 9] = ["tong", "tong so", "tong cong", "cong", "cong so", "tong chung", "tong so chung", "cong chung", "tong cong chung"];
    TOTAL.contains(&f.as_str()).then_some(paren)
}

#[allow(clippy::too_many_arguments)]
fn build(path: &Path, shown: &str, format: Format, source: FormSource, g: &Grid, h0: usize, rule_texts: &[String], outlier_factor: f64) -> Result<Form, String> {
    let l: Layout = layout::analyse(&g.cells, h0, &Roles::default()).map_err(|e| format!("the form {shown}: {e}"))?;
    let columns: Vec<FormColumn> = l.columns.iter().map(|c| FormColumn { name: c.name(), levels: c.levels.clone(), col: c.col, kind: column_kind(&c.name()) }).collect();
    let mut formulas: HashMap<(usize, usize), Expr> = HashMap::new();
    for (r, c, text) in &g.formulas {
        if let Ok(e) = formula::cell_formula(text) {
            formulas.insert((*r, *c), e);
        }
    }
    let figure_cols: Vec<usize> = columns.iter().filter(|c| c.kind != ColumnKind::Text).map(|c| c.col).collect();
    let mut rows: Vec<FormRow> = Vec::new();
    for raw in &l.rows {
        let has_formula = figure_cols.iter().any(|c| formulas.contains_key(&(raw.row, *c)));
        let f_label = fold(&raw.label);
        let numbered_section = raw.number.as_deref().is_some_and(|n| layout::depth(Some(n)) == 0);
        let section = !has_formula
            && (f_label == "trong do"
                || if l.unit_col.is_some() {
                    raw.unit.is_none() && (is_upper(&raw.label) || numbered_section)
                } else {
                    is_upper(&raw.label) && (raw.number.is_none() || numbered_section)
                });
        let kind = if section {
            RowKind::Section
        } else if ratio_row(&raw.label, raw.unit.as_deref()) {
            RowKind::Ratio
        } else if total_label(&raw.label).is_some() {
            RowKind::Total
        } else {
            RowKind::Figure
        };
        rows.push(FormRow { key: String::new(), number: raw.number.clone(), label: raw.label.clone(), unit: raw.unit.clone(), kind, row: raw.row, totals: vec![] });
    }
    if rows.iter().all(|r| !r.has_figures()) {
        return Err(format!("the form {shown}: its table has no indicator rows under the headers"));
    }
    // Keys: the numbering where it is unique, else the folded label.
    let mut count: HashMap<String, usize> = HashMap::new();
    for r in &rows {
        if let Some(n) = &r.number {
            *count.entry(n.clone()).or_default() += 1;
        }
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in rows.iter_mut() {
        let base = match &r.number {
            Some(n) if count[n] == 1 => n.clone(),
            _ => format!("~{}", fold(&r.label)),
        };
        let k = seen.entry(base.clone()).or_default();
        *k += 1;
        r.key = if *k == 1 { base } else { format!("{base}#{k}") };
    }
    totals(&mut rows, &formulas, &figure_cols);
    let rules = rule_texts
        .iter()
        .map(|t| {
            let find = |name: &str| find_row(&rows, name);
            let (left, cmp, right) = formula::rule(t, &find).map_err(|e| format!("form_rules «{t}»: {e}"))?;
            Ok(Rule { text: t.clone(), left, cmp, right })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let (unit_cell, period_cell) = heading_cells(&g.cells, h0);
    Ok(Form {
        path: path.to_path_buf(),
        shown: shown.to_string(),
        format,
        source,
        grid: g.cells.clone(),
        merges: g.merges.clone(),
        formulas,
        header: l.header,
        number_col: l.number_col,
        label_col: l.label_col,
        unit_col: l.unit_col,
        columns,
        rows,
        unit_cell,
        period_cell,
        rules,
        outlier_factor,
    })
}

/// The row a rule's `{…}` names: its numbering, else its label (folded, whole, then as the
/// start of exactly one label).
pub fn find_row(rows: &[FormRow], name: &str) -> Result<usize, String> {
    let n = name.trim().trim_end_matches('.');
    if let Some(i) = rows.iter().position(|r| r.number.as_deref() == Some(n)) {
        return Ok(i);
    }
    let f = fold(n);
    if let Some(i) = rows.iter().position(|r| fold(&r.label) == f) {
        return Ok(i);
    }
    let starts: Vec<usize> = (0..rows.len()).filter(|&i| fold(&rows[i].label).starts_with(&f)).collect();
    match starts.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!("the form has no row numbered or labelled «{name}»")),
        _ => Err(format!("«{name}» names several rows of the form")),
    }
}

/// Which rows each total row adds up: the form's own sum formula where it has one; else the
/// rows its label lists (`Tổng (1+2+3)`); else the rows above it up to the previous total or
/// section (or below it, for a total heading its section), the highest level among them.
fn totals(rows: &mut [FormRow], formulas: &HashMap<(usize, usize), Expr>, figure_cols: &[usize]) {
    let by_grid_row: HashMap<usize, usize> = rows.iter().enumerate().map(|(i, r)| (r.row, i)).collect();
    for i in 0..rows.len() {
        if rows[i].kind == RowKind::Ratio || rows[i].kind == RowKind::Section {
            continue;
        }
        // A sum formula in any of its figure cells.
        let summed = figure_cols.iter().find_map(|c| formulas.get(&(rows[i].row, *c)).and_then(|e| e.summed_rows(*c)));
        if let Some(grid_rows) = summed {
            let idx: Vec<usize> = grid_rows.iter().filter_map(|r| by_grid_row.get(r).copied()).filter(|j| *j != i).collect();
            if idx.len() >= 2 {
                rows[i].kind = RowKind::Total;
                rows[i].totals = idx;
                continue;
            }
        }
        if rows[i].kind != RowKind::Total {
            continue;
        }
        if let Some(Some(list)) = total_label(&rows[i].label) {
            let idx: Vec<usize> = list.split(['+', ',', ';']).filter_map(|n| {
                let n = n.trim().trim_end_matches('.');
                rows.iter().position(|r| r.number.as_deref() == Some(n))
            }).collect();
            if idx.len() >= 2 {
                rows[i].totals = idx;
                continue;
            }
        }
        let stop = |r: &FormRow| matches!(r.kind, RowKind::Section | RowKind::Total);
        let mut span: Vec<usize> = (0..i).rev().take_while(|&j| !stop(&rows[j])).collect();
        if span.is_empty() {
            span = (i + 1..rows.len()).take_while(|&j| !stop(&rows[j])).collect();
        }
        span.retain(|&j| rows[j].kind == RowKind::Figure);
        let top = span.iter().map(|&j| layout::depth(rows[j].number.as_deref())).min();
        span.retain(|&j| Some(layout::depth(rows[j].number.as_deref())) == top);
        span.sort();
        rows[i].totals = span;
    }
}

/// A cell of the grid: (row, column).
type At = (usize, usize);

/// Where the unit writes its name (*Tên đơn vị: ……*, *Đơn vị báo cáo: …*) and where the period
/// goes (*Quý …. năm 2024*), above the table's headers.
fn heading_cells(grid: &[Vec<String>], h0: usize) -> (Option<At>, Option<At>) {
    let dots = |s: &str| s.matches("..").count() + s.matches('…').count() * 2 >= 2;
    let mut unit = None;
    let mut period = None;
    for (r, row) in grid.iter().enumerate().take(h0) {
        for (c, text) in row.iter().enumerate() {
            // A merged cell repeats its text; its first cell is the one to write.
            if c > 0 && row[c - 1] == *text {
                continue;
            }
            let f = fold(text);
            let named = !f.starts_with("don vi tinh")
                && ["ten don vi", "don vi bao cao", "don vi", "ten co so", "co so", "don vi thuc hien"].iter().any(|w| f.starts_with(w))
                && (text.contains(':') || dots(text));
            let blank = !text.trim().is_empty() && text.trim().chars().all(|ch| matches!(ch, '.' | '…' | ' ' | '_'));
            if unit.is_none() && (named || (blank && text.trim().chars().count() >= 3)) {
                unit = Some((r, c));
                continue;
            }
            let words = ["quy", "thang", "nam", "ky bao cao", "ky"].iter().any(|w| crate::text::contains_words(&f, w));
            if period.is_none() && words && dots(text) {
                period = Some((r, c));
            }
        }
    }
    (unit, period)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Grid {
        Grid { name: "Biểu 1".into(), cells: rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect(), merges: vec![], formulas: vec![] }
    }

    fn form(g: &Grid, rules: &[&str]) -> Result<Form, String> {
        let h0 = layout::find_header(&g.cells).ok_or("no header")?;
        let rules: Vec<String> = rules.iter().map(|s| s.to_string()).collect();
        build(Path::new("f.xlsx"), "f.xlsx", Format::Xlsx, FormSource::Sheet(g.name.clone()), g, h0, &rules, 3.0)
    }

    #[test]
    fn rows_are_told_apart_as_sections_figures_totals_and_ratios() {
        let g = grid(&[
            &["SỞ Y TẾ", "", "", ""],
            &["TÊN ĐƠN VỊ: ..........", "", "", ""],
            &["Tháng .... năm 2023", "", "", ""],
            &["STT", "Chỉ tiêu", "ĐVT", "Trong tháng"],
            &["I", "KHÁM BỆNH", "", ""],
            &["1", "Khám tại trạm", "lượt", ""],
            &["2", "Khám lưu động", "lượt", ""],
            &["", "Tổng", "lượt", ""],
            &["3", "Tỷ lệ khám BHYT", "%", ""],
            &["4", "Ngày điều trị trung bình", "ngày", ""],
        ]);
        let f = form(&g, &["{Tổng} = {1} + {2}", "{2} <= {1}"]).unwrap();
        let kinds: Vec<(&str, RowKind)> = f.rows.iter().map(|r| (r.key.as_str(), r.kind)).collect();
        assert_eq!(kinds, [("I", RowKind::Section), ("1", RowKind::Figure), ("2", RowKind::Figure), ("~tong", RowKind::Total), ("3", RowKind::Ratio), ("4", RowKind::Ratio)]);
        assert_eq!(f.rows[3].totals, vec![1, 2], "a total adds up the rows above it to the section");
        assert_eq!(f.rules.len(), 2);
        assert_eq!((f.unit_cell, f.period_cell), (Some((1, 0)), Some((2, 0))));
        assert_eq!(f.columns[0].kind, ColumnKind::Period);
    }

    #[test]
    fn a_total_follows_the_forms_own_sum_formula() {
        let mut g = grid(&[&["STT", "Nội dung", "Đơn vị tính", "Số lượng"], &["1", "Tổng số lượt khám", "lượt", ""], &["1.1", "Nam", "lượt", ""], &["1.2", "Nữ", "lượt", ""]]);
        g.formulas.push((1, 3, "SUM(D3:D4)".into()));
        let f = form(&g, &[]).unwrap();
        assert_eq!((f.rows[0].kind, f.rows[0].totals.clone()), (RowKind::Total, vec![1, 2]));
    }

    #[test]
    fn a_rule_naming_a_row_the_form_lacks_is_refused_with_its_text() {
        let g = grid(&[&["STT", "Chỉ tiêu", "ĐVT", "Số"], &["1", "Khám", "lượt", ""]]);
        let e = form(&g, &["{9} <= {1}"]).unwrap_err();
        assert!(e.contains("{9} <= {1}") && e.contains("«9»"), "{e}");
    }

    #[test]
    fn columns_are_kinded_by_their_header_words() {
        assert_eq!(column_kind("Kế hoạch năm 2024"), ColumnKind::Plan);
        assert_eq!(column_kind("Thực hiện / Quý này"), ColumnKind::Period);
        assert_eq!(column_kind("Thực hiện / Lũy kế từ đầu năm"), ColumnKind::Cumulative);
        assert_eq!(column_kind("Tỷ lệ % so với kế hoạch"), ColumnKind::Ratio);
        assert_eq!(column_kind("Ghi chú"), ColumnKind::Text);
    }
}
