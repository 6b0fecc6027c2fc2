//! The administrative document header (SPEC §5.1), as the state's rules for administrative
//! documents lay it out: issuing body and number on the left, national motto and place/date on
//! the right — in a borderless two-column table, as plain paragraphs, or as tab-separated lines —
//! then the document type and its summary, and at the end the signature title and signer.

use super::{Block, Header, Sheet};
use crate::text::fold;
use once_cell::sync::Lazy;
use regex::Regex;

/// Document types, folded, longest first so `bao cao tom tat` wins over `bao cao`.
const DOC_TYPES: &[&str] = &[
    "bao cao tom tat", "bao cao", "ke hoach", "quyet dinh", "to trinh", "thong bao", "huong dan", "cong van",
    "bien ban", "chuong trinh", "de an", "phuong an", "nghi quyet", "chi thi", "giay moi", "cong dien",
    "danh sach", "bang tong hop", "bang tu danh gia", "bang tu cham diem", "bang cham diem", "bang", "ban cam ket",
    "ban dang ky", "de cuong", "quy che", "quy dinh", "tong hop",
];

const PARENT_WORDS: &[&str] = &["so ", "ubnd", "uy ban", "bo ", "tinh uy", "huyen uy", "dang uy", "cuc ", "tong cuc"];

const SIGN_TITLES: &[&str] = &[
    "giam doc", "truong phong", "chi cuc truong", "chanh van phong", "truong khoa", "thu truong", "chu tich",
    "truong ban", "vien truong", "hieu truong", "nguoi lap", "nguoi lap bieu", "truong tram", "truong ban chi dao",
    "ke toan truong", "bi thu", "pho giam doc", "pho truong phong", "pho chi cuc truong",
];

static DATE_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?i)ngay\s*(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})").unwrap()
});
static NUM_DATE_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\b(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})\b").unwrap());
static NUMBER_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?i)^\s*s[ốoô]\s*[:.]?\s*(.+)$").unwrap());

fn is_decoration(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t.chars().all(|c| matches!(c, '-' | '_' | '=' | '*' | '.' | '–' | '—' | ' '))
}

fn is_upper(s: &str) -> bool {
    let letters: Vec<char> = s.chars().filter(|c| c.is_alphabetic()).collect();
    !letters.is_empty() && letters.iter().filter(|c| c.is_uppercase()).count() * 10 >= letters.len() * 9
}

fn is_motto(f: &str) -> bool {
    f.starts_with("cong hoa xa hoi") || f.starts_with("doc lap tu do") || f.starts_with("doc lap - tu do")
}

/// `(type, rest)` when the folded line starts with a document type.
fn doc_type_of(line: &str) -> Option<(String, String)> {
    let f = fold(line);
    for t in DOC_TYPES {
        if f == *t || f.starts_with(&format!("{t} ")) {
            // Take the same number of words from the original text.
            let n = t.split(' ').count();
            let words: Vec<&str> = line.split_whitespace().collect();
            if words.len() < n {
                return None;
            }
            let ty = words[..n].join(" ");
            let rest = words[n..].join(" ");
            return Some((ty, rest));
        }
    }
    None
}

/// Reads `ngày 20 tháng 3 năm 2020` (or `20/3/2020`) as ISO `2020-03-20`.
pub fn read_date(s: &str) -> Option<String> {
    let f = fold(s);
    let (d, m, y) = if let Some(c) = DATE_RE.captures(&f) {
        (c[1].parse::<u32>().ok()?, c[2].parse::<u32>().ok()?, c[3].parse::<i32>().ok()?)
    } else if let Some(c) = NUM_DATE_RE.captures(s) {
        (c[1].parse::<u32>().ok()?, c[2].parse::<u32>().ok()?, c[3].parse::<i32>().ok()?)
    } else {
        return None;
    };
    chrono::NaiveDate::from_ymd_opt(y, m, d).map(|d| d.format("%Y-%m-%d").to_string())
}

fn read_number(line: &str) -> Option<String> {
    let c = NUMBER_RE.captures(line.trim())?;
    let raw = c[1].trim();
    // The number is followed on the same line by nothing else of interest, but a tab-separated
    // header may carry the place and date after it.
    let raw = raw.split('\t').next().unwrap_or(raw);
    let n: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let has_digit_or_slash = n.contains('/') || n.chars().any(|c| c.is_ascii_digit());
    (has_digit_or_slash && n.len() <= 60).then_some(n)
}

/// Issuing body and parent from the lines of the header's left column.
fn issuer_of(lines: &[String]) -> (Option<String>, Option<String>) {
    let org: Vec<&String> = lines
        .iter()
        .take_while(|l| NUMBER_RE.captures(l).is_none() || read_number(l).is_none())
        .filter(|l| !is_decoration(l) && is_upper(l) && !is_motto(&fold(l)) && doc_type_of(l).is_none())
        .collect();
    match org.len() {
        0 => (None, None),
        1 => (Some(org[0].trim().to_string()), None),
        _ => {
            let f0 = fold(org[0]);
            if PARENT_WORDS.iter().any(|p| f0.starts_with(p.trim_end()) && (f0.len() == p.trim_end().len() || f0.starts_with(p))) {
                (Some(org[1..].iter().map(|s| s.trim()).collect::<Vec<_>>().join(" ")), Some(org[0].trim().to_string()))
            } else {
                (Some(org.iter().map(|s| s.trim()).collect::<Vec<_>>().join(" ")), None)
            }
        }
    }
}

fn split_lines(s: &str) -> Vec<String> {
    s.split('\n').map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
}

/// Reads the header from a document's blocks.
pub fn from_blocks(blocks: &[Block]) -> Header {
    let mut h = Header::default();
    let (left, right, body_start) = columns(blocks);
    let (issuer, parent) = issuer_of(&left);
    h.issuer = issuer;
    h.parent = parent;
    let (number, vv) = number_and_summary(&left);
    h.number = number;
    (h.date, h.place) = date_and_place(right.iter().chain(left.iter()));
    (h.doc_type, h.summary) = doc_type_and_summary(blocks, body_start);
    if h.summary.is_none() {
        h.summary = vv;
    }

    // 4. Signer: the last name-like line under the last signature title.
    h.signer_title = None;
    let tail = tail_lines(blocks);
    if let Some(ti) = tail.iter().rposition(|l| is_sign_title(l)) {
        h.signer_title = Some(tail[ti].trim().to_string());
        h.signer = tail[ti + 1..].iter().filter(|l| is_name_like(l)).next_back().map(|s| s.trim().to_string());
    }
    h
}

/// The header's two columns (issuer and number on the left, motto and date on the right) and
/// the block the body starts at.
fn columns(blocks: &[Block]) -> (Vec<String>, Vec<String>, usize) {
    let mut left: Vec<String> = Vec::new();
    let mut right: Vec<String> = Vec::new();
    let body_start;

    // 1. A two-column table among the first blocks.
    let first_table = blocks.iter().take(4).position(|b| matches!(b, Block::Table(rows) if rows.first().is_some_and(|r| r.len() >= 2)));
    let leading_paras_are_empty = first_table.is_some_and(|i| {
        blocks[..i].iter().all(|b| matches!(b, Block::Para(p) if p.trim().is_empty()))
    });
    if let (Some(i), true) = (first_table, leading_paras_are_empty) {
        if let Block::Table(rows) = &blocks[i] {
            for r in rows.iter().take(4) {
                let cols: Vec<&String> = dedup_adjacent(r);
                if let Some(l) = cols.first() {
                    left.extend(split_lines(l));
                }
                if cols.len() >= 2 {
                    right.extend(split_lines(cols[cols.len() - 1]));
                }
            }
        }
        body_start = i + 1;
    } else {
        // 2. Plain paragraphs (or tab-separated lines) up to the document type.
        let mut i = 0;
        while i < blocks.len() && i < 16 {
            let Block::Para(p) = &blocks[i] else { break };
            let t = p.trim();
            if !t.is_empty() && doc_type_of(t).is_some() && is_upper(t) {
                break;
            }
            if t.contains('\t') {
                let parts: Vec<&str> = t.split('\t').map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
                if let Some(l) = parts.first() {
                    left.push(l.to_string());
                }
                if parts.len() >= 2 {
                    right.push(parts[parts.len() - 1].to_string());
                }
            } else if !t.is_empty() {
                let f = fold(t);
                if is_motto(&f) || DATE_RE.is_match(&f) {
                    right.push(t.to_string());
                } else {
                    left.push(t.to_string());
                }
            }
            i += 1;
        }
        body_start = i;
    }
    (left, right, body_start)
}

/// The number ("Số: 12/BC-TTYT") and the `V/v` summary from the left column.
fn number_and_summary(left: &[String]) -> (Option<String>, Option<String>) {
    let mut number: Option<String> = None;
    let mut vv: Option<String> = None;
    let mut vv_lines = 0;
    for l in left {
        if number.is_none() {
            if let Some(n) = read_number(l) {
                number = Some(n);
                continue;
            }
        }
        let f = fold(l);
        if f.starts_with("v v ") || l.trim_start().to_lowercase().starts_with("v/v") {
            vv = Some(l.trim().to_string());
        } else if let Some(v) = vv.as_mut() {
            // A `V/v` summary may wrap onto the next line.
            vv_lines += 1;
            if vv_lines == 1 && !is_upper(l) && !is_body_line(l) && l.len() < 120 {
                v.push(' ');
                v.push_str(l.trim());
            }
        }
    }
    (number, vv)
}

/// The first date in the header's lines, and the place written before it.
fn date_and_place<'a>(lines: impl Iterator<Item = &'a String>) -> (Option<String>, Option<String>) {
    let (mut date, mut place_of) = (None, None);
    for l in lines {
        if date.is_none() {
            if let Some(d) = read_date(l) {
                date = Some(d);
                let place = l.split(',').next().unwrap_or("").trim();
                if !place.is_empty() && !fold(place).starts_with("ngay") {
                    place_of = Some(place.to_string());
                }
            }
        }
    }
    (date, place_of)
}

/// Document type and summary: the first upper-case type line after the header, and the next
/// paragraph when it is not the body's.
fn doc_type_and_summary(blocks: &[Block], body_start: usize) -> (Option<String>, Option<String>) {
    let (mut doc_type, mut summary): (Option<String>, Option<String>) = (None, None);
    let mut j = body_start;
    while j < blocks.len() && j < body_start + 12 {
        if let Block::Para(p) = &blocks[j] {
            let t = p.trim();
            if !t.is_empty() && is_upper(t) {
                if let Some((ty, rest)) = doc_type_of(t) {
                    doc_type = Some(ty);
                    if !rest.is_empty() {
                        summary = Some(rest);
                    }
                    // The summary is the next non-empty paragraph.
                    for b in blocks.iter().skip(j + 1).take(3) {
                        if let Block::Para(s) = b {
                            let s = s.trim();
                            if s.is_empty() || is_decoration(s) {
                                continue;
                            }
                            if !is_body_line(s) {
                                summary = Some(match summary.take() {
                                    Some(r) => format!("{r} {s}"),
                                    None => s.to_string(),
                                });
                            }
                            break;
                        } else {
                            break;
                        }
                    }
                    break;
                }
            }
        }
        j += 1;
    }
    (doc_type, summary)
}

fn dedup_adjacent(r: &[String]) -> Vec<&String> {
    let mut out: Vec<&String> = Vec::new();
    for c in r {
        if out.last().map(|l| *l == c).unwrap_or(false) {
            continue;
        }
        out.push(c);
    }
    out
}

fn is_body_line(s: &str) -> bool {
    let f = fold(s);
    f.starts_with("can cu") || f.starts_with("thuc hien") || f.starts_with("kinh gui") || s.len() > 400
}

/// The last lines of the document: the signature block's cells and the closing paragraphs.
fn tail_lines(blocks: &[Block]) -> Vec<String> {
    let mut lines = Vec::new();
    let start = blocks.len().saturating_sub(12);
    for b in &blocks[start..] {
        match b {
            Block::Para(p) => lines.extend(p.split(['\n', '\t']).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())),
            Block::Table(rows) => {
                if rows.len() <= 4 {
                    // A signature table: read the right-most column last.
                    let width = rows.iter().map(|r| r.len()).max().unwrap_or(0);
                    for c in 0..width {
                        for r in rows {
                            if let Some(cell) = r.get(c) {
                                lines.extend(split_lines(cell));
                            }
                        }
                    }
                } else {
                    lines.clear();
                }
            }
        }
    }
    lines
}

fn is_sign_title(l: &str) -> bool {
    let t = l.trim();
    if !is_upper(t) || t.len() > 80 {
        return false;
    }
    let f = fold(t);
    let f = f.trim_start_matches("kt ").trim_start_matches("tm ").trim_start_matches("q ").trim_start_matches("tl ");
    SIGN_TITLES.iter().any(|s| f == *s || f.starts_with(&format!("{s} ")))
}

fn is_name_like(l: &str) -> bool {
    let t = l.trim();
    let words: Vec<&str> = t.split_whitespace().collect();
    if !(2..=6).contains(&words.len()) || t.chars().any(|c| c.is_ascii_digit() || matches!(c, ':' | ';' | '(' | ')' | '/' | ',')) {
        return false;
    }
    words.iter().all(|w| w.chars().next().is_some_and(|c| c.is_uppercase()))
        && !is_sign_title(t)
        && !matches!(fold(t).as_str(), "noi nhan" | "da ky" | "ky ten")
}

/// Reads the issuing body and date from a workbook's first rows.
pub fn from_sheets(sheets: &[Sheet]) -> Header {
    let mut h = Header::default();
    let Some(s) = sheets.first() else { return h };
    let mut left = Vec::new();
    let mut right = Vec::new();
    for r in s.rows.iter().take(10) {
        let filled: Vec<&String> = r.iter().filter(|c| !c.trim().is_empty()).collect();
        if filled.len() >= 3 {
            break;
        }
        let distinct = dedup_adjacent(&filled.iter().map(|s| s.to_string()).collect::<Vec<_>>()).into_iter().cloned().collect::<Vec<_>>();
        if let Some(l) = distinct.first() {
            if doc_type_of(l).is_some() && is_upper(l) {
                if h.doc_type.is_none() {
                    let (ty, rest) = doc_type_of(l).unwrap();
                    h.doc_type = Some(ty);
                    if !rest.is_empty() {
                        h.summary = Some(rest);
                    }
                }
                continue;
            }
            left.extend(split_lines(l));
        }
        if distinct.len() >= 2 {
            right.extend(split_lines(&distinct[distinct.len() - 1]));
        }
    }
    let (issuer, parent) = issuer_of(&left);
    h.issuer = issuer;
    h.parent = parent;
    for l in &left {
        if let Some(n) = read_number(l) {
            h.number = Some(n);
            break;
        }
    }
    for l in right.iter().chain(left.iter()) {
        if let Some(d) = read_date(l) {
            h.date = Some(d);
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Block {
        Block::Para(s.to_string())
    }

    #[test]
    fn the_two_column_header_table_is_read() {
        let blocks = vec![
            Block::Table(vec![vec![
                "SỞ Y TẾ TỈNH X\nBỆNH VIỆN ĐA KHOA TỈNH\nSố:  45 /BC-BVĐK".into(),
                "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\nĐộc lập - Tự do - Hạnh phúc\nX, ngày 20 tháng 3 năm 2020".into(),
            ]]),
            p("BÁO CÁO"),
            p("Kết quả thực hiện công tác cải cách hành chính quý I năm 2020"),
            p("Thực hiện Kế hoạch ..."),
            Block::Table(vec![vec!["Nơi nhận:\n- Như trên;".into(), "GIÁM ĐỐC\n\n\nLê Văn Minh".into()]]),
        ];
        let h = from_blocks(&blocks);
        assert_eq!(h.issuer.as_deref(), Some("BỆNH VIỆN ĐA KHOA TỈNH"));
        assert_eq!(h.parent.as_deref(), Some("SỞ Y TẾ TỈNH X"));
        assert_eq!(h.number.as_deref(), Some("45/BC-BVĐK"));
        assert_eq!(h.date.as_deref(), Some("2020-03-20"));
        assert_eq!(h.place.as_deref(), Some("X"));
        assert_eq!(h.doc_type.as_deref(), Some("BÁO CÁO"));
        assert_eq!(h.summary.as_deref(), Some("Kết quả thực hiện công tác cải cách hành chính quý I năm 2020"));
        assert_eq!(h.signer.as_deref(), Some("Lê Văn Minh"));
    }

    #[test]
    fn a_header_in_plain_paragraphs_is_read() {
        let blocks = vec![
            p("SỞ Y TẾ TỈNH X"),
            p("BỆNH VIỆN NHI"),
            p("Số: 38/BC-BVN"),
            p("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
            p("Độc lập - Tự do - Hạnh phúc"),
            p("X, ngày 24 tháng 3 năm 2020"),
            p("KẾ HOẠCH"),
            p("Cải cách hành chính năm 2020"),
        ];
        let h = from_blocks(&blocks);
        assert_eq!(h.issuer.as_deref(), Some("BỆNH VIỆN NHI"));
        assert_eq!(h.number.as_deref(), Some("38/BC-BVN"));
        assert_eq!(h.date.as_deref(), Some("2020-03-24"));
        assert_eq!(h.doc_type.as_deref(), Some("KẾ HOẠCH"));
    }

    #[test]
    fn a_tab_separated_header_and_a_letter_summary_are_read() {
        let blocks = vec![
            p("SỞ Y TẾ TỈNH X\tCỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
            p("VĂN PHÒNG\tĐộc lập - Tự do - Hạnh phúc"),
            p("Số: 12/SYT-VP\tX, ngày 5 tháng 1 năm 2021"),
            p("V/v báo cáo kết quả"),
            p("Kính gửi: các đơn vị"),
        ];
        let h = from_blocks(&blocks);
        assert_eq!(h.number.as_deref(), Some("12/SYT-VP"));
        assert_eq!(h.date.as_deref(), Some("2021-01-05"));
        assert_eq!(h.issuer.as_deref(), Some("VĂN PHÒNG"));
        assert_eq!(h.summary.as_deref(), Some("V/v báo cáo kết quả"));
    }
}
