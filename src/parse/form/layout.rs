//! The layout of an indicator table, the office's blank form and a unit's filled copy alike:
//! where its column headers are (one to three rows, merged cells filled), which columns hold
//! the numbering (*STT*), the label (*Chỉ tiêu*, *Nội dung*) and the unit of measure (*Đơn vị
//! tính*), the figure columns named by their header levels, and the indicator rows below, down
//! to the signatures.

use crate::text::fold;
use once_cell::sync::Lazy;
use regex::Regex;

/// A figure column as found: its grid column and header levels, top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub struct RawColumn {
    pub col: usize,
    pub levels: Vec<String>,
}

impl RawColumn {
    pub fn name(&self) -> String {
        self.levels.join(" / ")
    }
}

/// An indicator row as found.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    pub row: usize,
    pub number: Option<String>,
    pub label: String,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// First and last rows of the column headers (a row numbering the columns, `A B 1 2 3`,
    /// counts as header).
    pub header: (usize, usize),
    pub number_col: Option<usize>,
    pub label_col: usize,
    pub unit_col: Option<usize>,
    pub columns: Vec<RawColumn>,
    pub rows: Vec<RawRow>,
}

/// The header texts of the office's form for its numbering, label and unit columns (folded),
/// so a unit's copy is read with the same roles even where its header words are not the usual
/// ones.
#[derive(Debug, Clone, Default)]
pub struct Roles {
    pub number: Option<String>,
    pub label: Option<String>,
    pub unit: Option<String>,
}

pub fn cell(grid: &[Vec<String>], r: usize, c: usize) -> &str {
    grid.get(r).and_then(|row| row.get(c)).map(|s| s.trim()).unwrap_or("")
}

fn width(grid: &[Vec<String>]) -> usize {
    grid.iter().map(|r| r.len()).max().unwrap_or(0)
}

fn is_number_header(f: &str) -> bool {
    matches!(f, "stt" | "tt" | "so tt" | "so thu tu" | "thu tu" | "s tt")
}

fn is_label_header(f: &str) -> bool {
    const W: [&str; 12] = ["chi tieu", "noi dung", "danh muc", "hang muc", "linh vuc", "ten chi tieu", "chuyen muc", "hoat dong", "cong viec", "doi tuong", "nhiem vu", "tieu chi"];
    W.iter().any(|w| f == *w || f.starts_with(&format!("{w} "))) || f == "ten" || f == "chi tieu bao cao"
}

/// A column of indicator codes (*Mã số*) in statistical forms: a key like the numbering, no figure.
fn is_code_header(f: &str) -> bool {
    matches!(f, "ma so" | "ma" | "ma chi tieu" | "ma so chi tieu" | "ma dong")
}

fn is_unit_header(f: &str) -> bool {
    f == "dvt" || f == "don vi tinh" || f == "don vi" || f.starts_with("don vi tinh ") || f == "d v t"
}

/// The first row of an indicator table's column headers, found by its usual words (*STT*,
/// *Chỉ tiêu*, *Nội dung*, *Đơn vị tính*), within the first rows of the grid.
pub fn find_header(grid: &[Vec<String>]) -> Option<usize> {
    for (r, row) in grid.iter().enumerate().take(80) {
        let folded: Vec<String> = row.iter().map(|c| fold(c)).collect();
        let filled = folded.iter().filter(|f| !f.is_empty()).count();
        if filled < 3 {
            continue;
        }
        let number = folded.iter().any(|f| is_number_header(f));
        let label = folded.iter().any(|f| is_label_header(f));
        let unit = folded.iter().any(|f| is_unit_header(f));
        if (number && (label || unit)) || (label && unit) {
            return Some(r);
        }
    }
    None
}

/// A row numbering the columns under the headers (`A | B | C | 1 | 2 | 3=2/1`).
fn is_index_row(row: &[String], label_col: usize) -> bool {
    let filled: Vec<&str> = row.iter().map(|c| c.trim()).filter(|c| !c.is_empty()).collect();
    if filled.len() < 3 {
        return false;
    }
    static TOKEN: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[\(\[]?[0-9A-Za-z]{1,2}[\)\]]?(?:\s*[=*/+×x:-]\s*[\(\[]?[0-9A-Za-z]{1,2}[\)\]]?)*$").unwrap());
    let label = row.get(label_col).map(|c| c.trim()).unwrap_or("");
    let label_ok = label.is_empty() || (label.chars().count() <= 3 && TOKEN.is_match(label) && label.chars().filter(|c| c.is_alphanumeric()).count() <= 1);
    label_ok && filled.iter().all(|c| c.chars().count() <= 14 && TOKEN.is_match(c))
}

static NUMBERING: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(?:[IVXLC]{1,6}|[A-Za-z]|\d{1,3}(?:\.\d{1,3}){0,4})$").unwrap());
static LEADING_NUMBER: Lazy<Regex> = Lazy::new(|| Regex::new(r"^((?:[IVXLC]{1,6}|[A-Za-z]|\d{1,3}(?:\.\d{1,3}){0,4}))[.)]\s+(\S.*)$").unwrap());
static DATE_LINE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\bngay\b.{0,12}\bthang\b.{0,12}\bnam\b").unwrap());

/// A numbering cell as the row's number: `1.`, `(1)`, `a)` → `1`, `1`, `a`; a bullet or
/// anything else is no number.
pub fn clean_number(s: &str) -> Option<String> {
    let t = s.trim().trim_start_matches('(').trim_end_matches(['.', ')', ':']).trim();
    NUMBERING.is_match(t).then(|| t.to_string())
}

/// Splits `1. Tổng số` into its numbering and label.
fn split_leading_number(label: &str) -> Option<(String, String)> {
    let c = LEADING_NUMBER.captures(label.trim())?;
    Some((c[1].to_string(), c[2].trim().to_string()))
}

/// Rows under a table that end it: the signatures, the date line, notes.
fn is_footer(grid: &[Vec<String>], r: usize, label_col: usize) -> bool {
    let label = fold(cell(grid, r, label_col));
    const STARTS: [&str; 16] = [
        "nguoi lap", "thu truong", "giam doc", "pho giam doc", "truong phong", "truong tram", "truong khoa", "truong ban", "truong don vi", "ke toan truong", "xac nhan", "noi nhan", "ghi chu",
        "lanh dao", "can bo lap", "tm",
    ];
    if STARTS.iter().any(|s| label == *s || label.starts_with(&format!("{s} "))) {
        return true;
    }
    grid.get(r).is_some_and(|row| row.iter().any(|c| {
        let f = fold(c);
        f.len() < 80 && DATE_LINE.is_match(&f) && c.contains(',')
    }))
}

/// Token Dice similarity of two folded texts.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return if a.is_empty() { 0.0 } else { 1.0 };
    }
    let ta: Vec<&str> = a.split(' ').filter(|w| !w.is_empty()).collect();
    let tb: Vec<&str> = b.split(' ').filter(|w| !w.is_empty()).collect();
    if ta.is_empty() || tb.is_empty() {
        return 0.0;
    }
    let mut used = vec![false; tb.len()];
    let mut common = 0;
    for w in &ta {
        if let Some(i) = (0..tb.len()).find(|&i| !used[i] && tb[i] == *w) {
            used[i] = true;
            common += 1;
        }
    }
    2.0 * common as f64 / (ta.len() + tb.len()) as f64
}

fn matches_role(f: &str, hint: Option<&String>) -> bool {
    hint.is_some_and(|h| !h.is_empty() && (f == h || similarity(f, h) >= 0.8))
}

/// The header's texts of row `r` across the figure columns, a blank under a group heading
/// taking its left neighbour's text (a heading centred across columns without merging them).
fn header_texts(grid: &[Vec<String>], r: usize, last: usize, figure: &[usize]) -> Vec<String> {
    let w = width(grid);
    let mut out: Vec<String> = (0..w).map(|c| cell(grid, r, c).to_string()).collect();
    if r < last {
        for &c in figure {
            if c == 0 || !out[c].is_empty() || !figure.contains(&(c - 1)) {
                continue;
            }
            let left = out[c - 1].clone();
            let (below, below_left) = (cell(grid, r + 1, c), cell(grid, r + 1, c - 1));
            if !left.is_empty() && !below.is_empty() && !below_left.is_empty() && below_left != left {
                out[c] = left;
            }
        }
    }
    out
}

/// Reads the layout of the indicator table whose headers start at row `h0`.
pub fn analyse(grid: &[Vec<String>], h0: usize, roles: &Roles) -> Result<Layout, String> {
    let w = width(grid);
    if h0 >= grid.len() || w < 2 {
        return Err("bảng không có dòng tiêu đề cột".into());
    }
    // Roles are looked for in the first two header rows (a merged STT cell fills both).
    let head: Vec<(usize, String)> = (h0..(h0 + 2).min(grid.len())).flat_map(|r| (0..w).map(move |c| (c, r))).map(|(c, r)| (c, fold(cell(grid, r, c)))).collect();
    let find = |hint: Option<&String>, generic: fn(&str) -> bool, not: &[Option<usize>]| -> Option<usize> {
        let ok = |c: &usize| !not.contains(&Some(*c));
        head.iter().filter(|(c, _)| ok(c)).find(|(_, f)| matches_role(f, hint)).or_else(|| head.iter().filter(|(c, _)| ok(c)).find(|(_, f)| generic(f))).map(|(c, _)| *c)
    };
    let number_col = find(roles.number.as_ref(), is_number_header, &[]);
    let mut label_col = find(roles.label.as_ref(), is_label_header, &[number_col]);
    let unit_col = find(roles.unit.as_ref(), is_unit_header, &[number_col, label_col]);
    let code_col = find(None, is_code_header, &[number_col, label_col, unit_col]);
    let number_col = number_col.or(code_col);
    if label_col.is_none() {
        // The column with the longest texts below the headers.
        let mut best = (0usize, 0usize);
        for c in 0..w {
            if Some(c) == number_col || Some(c) == unit_col {
                continue;
            }
            let len: usize = (h0 + 1..(h0 + 30).min(grid.len())).map(|r| cell(grid, r, c)).filter(|t| crate::parse::form::number::read(t) == crate::parse::form::number::Cell::Text(t.to_string())).map(|t| t.chars().count()).sum();
            if len > best.1 {
                best = (c, len);
            }
        }
        if best.1 == 0 {
            return Err("không tìm thấy cột tên chỉ tiêu (Chỉ tiêu, Nội dung…)".into());
        }
        label_col = Some(best.0);
    }
    let label_col = label_col.expect("set above");
    let head_label = cell(grid, h0, label_col).to_string();
    let head_number = number_col.map(|c| cell(grid, h0, c).to_string());

    // Columns that may hold figures: right of the label, not a role column.
    let candidates: Vec<usize> = (label_col + 1..w).filter(|c| Some(*c) != number_col && Some(*c) != unit_col && Some(*c) != code_col).collect();

    // The header's last row: sub-headings (the label cell blank or repeated by its merge) and
    // a row numbering the columns.
    let mut h1 = h0;
    let mut index_rows = Vec::new();
    for r in h0 + 1..(h0 + 5).min(grid.len()) {
        if is_index_row(&grid[r], label_col) {
            h1 = r;
            index_rows.push(r);
            continue;
        }
        if !index_rows.is_empty() {
            break;
        }
        let lab = cell(grid, r, label_col);
        let num_ok = number_col.is_none_or(|c| {
            let n = cell(grid, r, c);
            n.is_empty() || Some(n) == head_number.as_deref()
        });
        let words = candidates.iter().any(|&c| {
            let t = cell(grid, r, c);
            !t.is_empty() && matches!(crate::parse::form::number::read(t), crate::parse::form::number::Cell::Text(_))
        });
        let numbers = candidates.iter().any(|&c| matches!(crate::parse::form::number::read(cell(grid, r, c)), crate::parse::form::number::Cell::Num(_)));
        if (lab.is_empty() || lab == head_label) && num_ok && words && !numbers {
            h1 = r;
        } else {
            break;
        }
    }

    // Column names from the header rows.
    let header_rows: Vec<usize> = (h0..=h1).filter(|r| !index_rows.contains(r)).collect();
    let last = *header_rows.last().unwrap_or(&h0);
    let texts: Vec<Vec<String>> = header_rows.iter().map(|&r| header_texts(grid, r, last, &candidates)).collect();
    let mut columns = Vec::new();
    for &c in &candidates {
        let mut levels: Vec<String> = Vec::new();
        for t in &texts {
            let s = crate::text::squash_ws(t.get(c).map(|s| s.as_str()).unwrap_or(""));
            if !s.is_empty() && !levels.contains(&s) {
                levels.push(s);
            }
        }
        if !levels.is_empty() {
            columns.push(RawColumn { col: c, levels });
        }
    }
    if columns.is_empty() {
        return Err("bảng không có cột số liệu nào có tiêu đề".into());
    }

    // Indicator rows, down to the signatures.
    let mut rows = Vec::new();
    let mut blank_run = 0;
    for r in h1 + 1..grid.len() {
        if grid[r].iter().all(|c| c.trim().is_empty()) {
            blank_run += 1;
            if blank_run >= 3 && !rows.is_empty() {
                break;
            }
            continue;
        }
        blank_run = 0;
        if is_footer(grid, r, label_col) {
            break;
        }
        let raw_number = number_col.map(|c| cell(grid, r, c).to_string()).unwrap_or_default();
        let mut label = crate::text::squash_ws(cell(grid, r, label_col));
        let mut number = clean_number(&raw_number);
        // A section merged across the numbering and label columns ("I. KHÁM BỆNH"), or a label
        // carrying its own numbering where there is no numbering column.
        if number.is_none() || raw_number.trim() == label {
            if let Some((n, rest)) = split_leading_number(&label) {
                number = Some(n);
                label = rest;
            } else if raw_number.trim() == label {
                number = None;
            }
        }
        if label.is_empty() && number.is_none() {
            continue;
        }
        let unit = unit_col.map(|c| cell(grid, r, c).to_string()).filter(|u| !u.is_empty());
        rows.push(RawRow { row: r, number, label, unit });
    }
    Ok(Layout { header: (h0, h1), number_col, label_col, unit_col, columns, rows })
}

/// The depth of a numbering: sections (`I`, `A`) 0, `1` 1, `1.1` 2, `a` 3, none 5.
pub fn depth(number: Option<&str>) -> usize {
    match number {
        None => 5,
        Some(n) if n.chars().all(|c| "IVXLC".contains(c)) || (n.len() == 1 && n.chars().all(|c| c.is_ascii_uppercase())) => 0,
        Some(n) if n.chars().next().is_some_and(|c| c.is_ascii_digit()) => n.split('.').count(),
        Some(_) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn a_two_row_merged_header_names_columns_by_their_levels() {
        let grid = g(&[
            &["SỞ Y TẾ", "", "", "", "", ""],
            &["STT", "Chỉ tiêu", "Đơn vị tính", "Kế hoạch", "Thực hiện", "Thực hiện"],
            &["STT", "Chỉ tiêu", "Đơn vị tính", "Kế hoạch", "Trong tháng", "Lũy kế"],
            &["A", "B", "C", "1", "2", "3"],
            &["I", "KHÁM BỆNH", "", "", "", ""],
            &["1", "Số lượt khám", "lượt", "100", "10", "20"],
            &["1.1", "Trong đó: trẻ em", "lượt", "", "3", "5"],
            &["", "", "", "", "", ""],
            &["", "NGƯỜI LẬP BIỂU", "", "", "GIÁM ĐỐC", ""],
        ]);
        let h = find_header(&grid).unwrap();
        assert_eq!(h, 1);
        let l = analyse(&grid, h, &Roles::default()).unwrap();
        assert_eq!(l.header, (1, 3));
        assert_eq!((l.number_col, l.label_col, l.unit_col), (Some(0), 1, Some(2)));
        let names: Vec<String> = l.columns.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["Kế hoạch", "Thực hiện / Trong tháng", "Thực hiện / Lũy kế"]);
        let rows: Vec<(Option<&str>, &str)> = l.rows.iter().map(|r| (r.number.as_deref(), r.label.as_str())).collect();
        assert_eq!(rows, [(Some("I"), "KHÁM BỆNH"), (Some("1"), "Số lượt khám"), (Some("1.1"), "Trong đó: trẻ em")]);
    }

    #[test]
    fn a_heading_centred_across_columns_without_a_merge_still_names_both() {
        let grid = g(&[
            &["TT", "Nội dung", "Năm trước", "Năm nay", ""],
            &["", "", "", "Quý này", "Lũy kế"],
            &["1", "Khám bệnh", "5", "6", "7"],
        ]);
        let l = analyse(&grid, 0, &Roles::default()).unwrap();
        let names: Vec<String> = l.columns.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["Năm trước", "Năm nay / Quý này", "Năm nay / Lũy kế"]);
    }

    #[test]
    fn numbering_is_read_from_its_cell_or_from_the_label() {
        assert_eq!(clean_number("1."), Some("1".into()));
        assert_eq!(clean_number("(2)"), Some("2".into()));
        assert_eq!(clean_number("a)"), Some("a".into()));
        assert_eq!(clean_number("IV"), Some("IV".into()));
        assert_eq!(clean_number("-"), None);
        assert_eq!(split_leading_number("1.2. Khám cho trẻ em"), Some(("1.2".into(), "Khám cho trẻ em".into())));
        assert_eq!(depth(Some("II")), 0);
        assert_eq!(depth(Some("1.2")), 2);
        assert_eq!(depth(Some("b")), 3);
    }
}
