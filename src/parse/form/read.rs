//! A unit's filled copy of the office's form read against it: the table found by the form's
//! header words on any sheet or in any Word table, after any heading or cover sheet; its columns
//! matched to the form's by their header words; its rows to the form's indicators by their
//! folded labels, the numbering a hint (rows reworded, reordered, inserted or left out); each
//! cell read as offices write numbers. What could not be matched or read is a finding.

use super::layout::{self, similarity, Layout, Roles};
use super::number::{self, Cell};
use crate::domain::form::{ColumnKind, Figure, Form, Reading};
use crate::parse::Document;
use crate::text::fold;
use std::collections::HashMap;

/// A reading with how well the document's table matched the form.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub reading: Reading,
    /// The share of the form's header words found in the table's header.
    pub header_score: f64,
    /// The form's indicators (rows with figures) found, and how many it has.
    pub matched: usize,
    pub expected: usize,
}

impl Found {
    /// The table is this form: most of its header words and most of its indicators are there.
    /// A document that is, names its report kind as surely as its title would (SPEC §16).
    pub fn recognised(&self) -> bool {
        self.header_score >= 0.6 && self.matched * 10 >= self.expected * 6
    }
    fn quality(&self) -> f64 {
        self.header_score + self.matched as f64 / self.expected.max(1) as f64
    }
}

/// The folded header texts of the form (short column numbers left out).
fn header_words(form: &Form) -> Vec<String> {
    let (h0, h1) = form.header;
    let mut out: Vec<String> = Vec::new();
    for r in h0..=h1 {
        for c in form.grid.get(r).into_iter().flatten() {
            let f = fold(c);
            if (f.len() > 3 || matches!(f.as_str(), "stt" | "tt" | "dvt")) && !out.contains(&f) {
                out.push(f);
            }
        }
    }
    out
}

fn roles(form: &Form) -> Roles {
    let h0 = form.header.0;
    let at = |c: Option<usize>| c.map(|c| fold(layout::cell(&form.grid, h0, c))).filter(|s| !s.is_empty());
    Roles { number: at(form.number_col), label: at(Some(form.label_col)), unit: at(form.unit_col) }
}

/// The row where the form's column headers start in `folded`, and the share of the form's header
/// words found there.
fn locate(words: &[String], folded: &[Vec<String>], depth: usize) -> Option<(usize, f64)> {
    // The same words, nearly the same, or (a heading of several words) among a cell's words: a
    // table read from a page may join a heading with its neighbour's.
    let hit = |w: &str, c: &str| !c.is_empty() && (w == c || (c.len() < 200 && (similarity(w, c) >= 0.8 || (w.contains(' ') && crate::text::contains_words(c, w)))));
    let mut best: Option<(usize, f64)> = None;
    for h in 0..folded.len().min(120) {
        if !folded[h].iter().any(|c| words.iter().any(|w| hit(w, c))) {
            continue;
        }
        let window: Vec<&String> = folded[h..(h + depth + 2).min(folded.len())].iter().flatten().filter(|c| !c.is_empty()).collect();
        let found = words.iter().filter(|w| window.iter().any(|c| hit(w, c))).count();
        let score = found as f64 / words.len().max(1) as f64;
        if best.is_none_or(|(_, s)| score > s + 1e-9) {
            best = Some((h, score));
        }
    }
    best
}

/// Folds a label for comparing: the filler a unit may add or drop ("Trong đó:", bullets) goes.
fn label_key(s: &str) -> String {
    let f = fold(s);
    let f = f.strip_prefix("trong do ").unwrap_or(&f);
    let f = f.strip_prefix("trong so ").unwrap_or(f);
    f.strip_prefix("do ").unwrap_or(f).to_string()
}

/// How well a unit's row (label, number) matches a form row.
fn row_score(a: &(String, Option<String>), b: &(String, Option<String>)) -> f64 {
    // The same label outweighs the same number: indicators that differ by one word
    // (*phẫu thuật*, *thủ thuật*) are told apart by their words, not their place.
    let mut s = if !a.0.is_empty() && a.0 == b.0 { 1.3 } else { similarity(&a.0, &b.0) };
    match (&a.1, &b.1) {
        (Some(x), Some(y)) if x == y => s += 0.2,
        (Some(_), Some(_)) => s -= 0.1,
        _ => {}
    }
    s
}

/// Pairs a unit's rows with the form's: an alignment in order (which tells repeated labels
/// apart by their place), then rows moved elsewhere matched by their label alone.
fn match_rows(cand: &[(String, Option<String>)], form: &[(String, Option<String>)]) -> Vec<Option<usize>> {
    const TAKE: f64 = 0.6;
    let (n, m) = (cand.len().min(400), form.len().min(400));
    let score: Vec<Vec<f64>> = (0..n).map(|i| (0..m).map(|j| row_score(&cand[i], &form[j])).collect()).collect();
    let mut dp = vec![vec![0.0f64; m + 1]; n + 1];
    for i in 1..=n {
        for j in 1..=m {
            let s = score[i - 1][j - 1];
            let diag = if s >= TAKE { dp[i - 1][j - 1] + s - 0.5 } else { f64::NEG_INFINITY };
            dp[i][j] = dp[i - 1][j].max(dp[i][j - 1]).max(diag);
        }
    }
    let mut out = vec![None; cand.len()];
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        let s = score[i - 1][j - 1];
        if s >= TAKE && (dp[i][j] - (dp[i - 1][j - 1] + s - 0.5)).abs() < 1e-12 {
            out[i - 1] = Some(j - 1);
            i -= 1;
            j -= 1;
        } else if (dp[i][j] - dp[i - 1][j]).abs() < 1e-12 {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    // Reordered rows: the best remaining pairs by label.
    let mut taken: Vec<bool> = vec![false; m];
    for j in out.iter().flatten() {
        taken[*j] = true;
    }
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for i in (0..n).filter(|i| out[*i].is_none()) {
        for j in (0..m).filter(|j| !taken[*j]) {
            if score[i][j] >= 0.75 {
                pairs.push((score[i][j], i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (_, i, j) in pairs {
        if out[i].is_none() && !taken[j] {
            out[i] = Some(j);
            taken[j] = true;
        }
    }
    out
}

/// Pairs the form's columns with the table's by their header words; where some are left and
/// the table has as many figure columns as the form, the rest go by position.
fn match_columns(form: &Form, l: &Layout) -> Vec<Option<usize>> {
    let names: Vec<String> = l.columns.iter().map(|c| fold(&c.name())).collect();
    let leaves: Vec<String> = l.columns.iter().map(|c| fold(c.levels.last().map(|s| s.as_str()).unwrap_or(""))).collect();
    let mut pairs: Vec<(f64, usize, usize)> = Vec::new();
    for (i, fc) in form.columns.iter().enumerate() {
        let fname = fold(&fc.name);
        let fleaf = fold(fc.levels.last().map(|s| s.as_str()).unwrap_or(""));
        for (j, n) in names.iter().enumerate() {
            let mut s = similarity(&fname, n);
            if !fleaf.is_empty() && fleaf == leaves[j] {
                s += 0.15;
            }
            // Among equals, the column at the same place.
            s -= (i as f64 - j as f64).abs() * 0.001;
            if s >= 0.5 {
                pairs.push((s, i, j));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out = vec![None; form.columns.len()];
    let mut taken = vec![false; l.columns.len()];
    for (_, i, j) in pairs {
        if out[i].is_none() && !taken[j] {
            out[i] = Some(j);
            taken[j] = true;
        }
    }
    if l.columns.len() == form.columns.len() {
        for i in 0..out.len() {
            if out[i].is_none() && !taken[i] {
                out[i] = Some(i);
                taken[i] = true;
            }
        }
    }
    out
}

/// Reads `doc`'s copy of `form`: the best of its tables, or None when none is the form's.
pub fn read(form: &Form, doc: &Document) -> Option<Found> {
    let words = header_words(form);
    let depth = form.header.1 - form.header.0;
    let roles = roles(form);
    let mut best: Option<Found> = None;
    for (t, table) in doc.tables.iter().enumerate() {
        let sheet = doc.sheets.iter().find(|s| s.table == t);
        let folded: Vec<Vec<String>> = table.iter().take(120).map(|r| r.iter().map(|c| fold(c)).collect()).collect();
        let Some((h, header_score)) = locate(&words, &folded, depth) else { continue };
        if header_score < 0.4 {
            continue;
        }
        let Ok(l) = layout::analyse(table, h, &roles) else { continue };
        let fractions: HashMap<(usize, usize), f64> = sheet.map(|s| s.fractions.iter().map(|(r, c, v)| ((*r as usize, *c as usize), *v)).collect()).unwrap_or_default();
        let place = match sheet {
            Some(s) => format!("trang «{}»", s.name),
            None => format!("bảng {}", t + 1),
        };
        let found = read_table(form, doc, table, &l, &fractions, header_score, place);
        let better = match &best {
            None => true,
            Some(b) => found.quality() > b.quality() + 1e-9 || (found.quality() >= b.quality() - 1e-9 && named_like(form, sheet.map(|s| s.name.as_str())) && !b.reading.place.contains(&form_sheet(form))),
        };
        if better {
            best = Some(found);
        }
    }
    best.filter(|b| b.header_score >= 0.5 && b.matched * 10 >= b.expected * 4 && b.matched > 0)
}

fn form_sheet(form: &Form) -> String {
    match &form.source {
        crate::domain::form::FormSource::Sheet(s) => s.clone(),
        crate::domain::form::FormSource::WordTable(_) => String::new(),
    }
}

fn named_like(form: &Form, sheet: Option<&str>) -> bool {
    let f = form_sheet(form);
    !f.is_empty() && sheet.is_some_and(|s| fold(s) == fold(&f))
}

fn read_table(form: &Form, doc: &Document, table: &[Vec<String>], l: &Layout, fractions: &HashMap<(usize, usize), f64>, header_score: f64, place: String) -> Found {
    let cand: Vec<(String, Option<String>)> = l.rows.iter().map(|r| (label_key(&r.label), r.number.clone())).collect();
    let want: Vec<(String, Option<String>)> = form.rows.iter().map(|r| (label_key(&r.label), r.number.clone())).collect();
    let rows = match_rows(&cand, &want);
    let cols = match_columns(form, l);
    let mut reading = Reading {
        columns: form.columns.iter().map(|c| c.name.clone()).collect(),
        ocr: doc.ocr,
        document: doc.filename.clone(),
        sha256: doc.sha256.clone(),
        place,
        ..Default::default()
    };
    let value_at = |r: usize, c: usize| -> Cell {
        if let Some(v) = fractions.get(&(r, c)) {
            return Cell::Num(*v);
        }
        number::read(layout::cell(table, r, c))
    };
    let mut found_rows = vec![false; form.rows.len()];
    for (i, m) in rows.iter().enumerate() {
        let raw = &l.rows[i];
        let Some(j) = m else {
            // A row the form does not have: worth a word when it carries figures.
            let has_figures = l.columns.iter().any(|c| matches!(value_at(raw.row, c.col), Cell::Num(_)));
            if has_figures {
                let name = match &raw.number {
                    Some(n) => format!("{n} «{}»", raw.label),
                    None => format!("«{}»", raw.label),
                };
                reading.findings.push(format!("dòng {name} không có trong biểu mẫu của Văn phòng: không được tổng hợp"));
            }
            continue;
        };
        let fr = &form.rows[*j];
        found_rows[*j] = true;
        if !fr.has_figures() {
            continue;
        }
        let mut values = Vec::with_capacity(form.columns.len());
        for (k, fc) in form.columns.iter().enumerate() {
            let Some(cc) = cols[k] else {
                values.push(None);
                continue;
            };
            let col = l.columns[cc].col;
            let v = match (fc.kind, value_at(raw.row, col)) {
                (_, Cell::Blank) => None,
                (ColumnKind::Text, _) => Some(Figure::Text(layout::cell(table, raw.row, col).to_string())),
                (_, Cell::Num(n)) => Some(Figure::Num(n)),
                (_, Cell::Text(t)) => {
                    reading.findings.push(format!("dòng {}, cột «{}»: «{t}» không phải là số", fr.named(), fc.name));
                    reading.flagged.push((fr.key.clone(), fc.name.clone()));
                    Some(Figure::Text(t))
                }
            };
            values.push(v);
        }
        reading.rows.push((fr.key.clone(), values));
    }
    let expected = form.rows.iter().filter(|r| r.has_figures()).count();
    let matched = form.rows.iter().zip(&found_rows).filter(|(r, f)| r.has_figures() && **f).count();
    // Indicators left out, said only of a table that is the form (not of a stray table).
    if matched * 10 >= expected * 4 {
        for (r, f) in form.rows.iter().zip(&found_rows) {
            if r.has_figures() && !f {
                reading.findings.push(format!("thiếu chỉ tiêu {} của biểu mẫu", r.named()));
            }
        }
        for (k, fc) in form.columns.iter().enumerate() {
            if cols[k].is_none() {
                reading.findings.push(format!("không tìm thấy cột «{}» của biểu mẫu", fc.name));
            }
        }
    }
    super::checks::within(form, &mut reading);
    Found { reading, header_score, matched, expected }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(label: &str, n: Option<&str>) -> (String, Option<String>) {
        (label_key(label), n.map(str::to_string))
    }

    #[test]
    fn rows_are_matched_when_reworded_reordered_inserted_or_left_out() {
        let form = [p("Tổng số lượt khám bệnh", Some("1")), p("Trong đó: khám có thẻ BHYT", Some("1.1")), p("Số ca phẫu thuật", Some("2")), p("Nữ", None), p("Số ca thủ thuật", Some("3")), p("Nữ", None)];
        let unit = [
            p("Tổng lượt khám bệnh", Some("1")),
            p("Khám có thẻ BHYT", Some("1.1")),
            p("Khám sức khỏe định kỳ", Some("1.2")),
            p("Số ca thủ thuật", Some("2")),
            p("Nữ", None),
        ];
        let m = match_rows(&unit, &form);
        assert_eq!(m, vec![Some(0), Some(1), None, Some(4), Some(5)], "the second «Nữ» is the one under its own indicator");
        let moved = [p("Số ca thủ thuật", Some("3")), p("Tổng số lượt khám bệnh", Some("1"))];
        assert_eq!(match_rows(&moved, &form), vec![Some(4), Some(0)]);
    }
}
