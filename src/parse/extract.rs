//! The extractors of SPEC §5.2 over tables (Word tables or sheets alike): `score-table`,
//! `commitments` and `task-plan`. Columns are found by their header words, not their position.

use super::{Commitments, Score, ScoreRow, Task, Tasks};
use crate::text::{fold, parse_number, roman_value};
use chrono::NaiveDate;
use once_cell::sync::Lazy;
use regex::Regex;

/// The index of the first cell of `row` whose folded text satisfies `pred`.
fn col(row: &[String], pred: impl Fn(&str) -> bool) -> Option<usize> {
    row.iter().position(|c| pred(&fold(c)))
}

static NUMBERING: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(\d{1,3}(?:\.\d{1,3})*)\.?$").unwrap());
static ROMAN: Lazy<Regex> = Lazy::new(|| Regex::new(r"^([IVXivx]{1,5})\.?$").unwrap());

/// `1.1.2` → level 3; `II` → level 0 (sections above the arabic numbering).
fn numbering_level(stt: &str) -> Option<usize> {
    let t = stt.trim();
    if let Some(c) = NUMBERING.captures(t) {
        return Some(c[1].split('.').count());
    }
    if let Some(c) = ROMAN.captures(t) {
        if roman_value(&c[1]).is_some() {
            return Some(0);
        }
    }
    None
}

const EPS: f64 = 0.0005;

/// Figures in findings are read by people: a decimal comma.
fn fmt(v: f64) -> String {
    crate::text::num_vi(v)
}

/// The self-assessment score table, if `rows` hold one.
pub fn score_table(rows: &[Vec<String>]) -> Option<Score> {
    let (hi, header) = rows.iter().enumerate().take(30).find(|(_, r)| {
        col(r, |f| f == "stt" || f == "tt").is_some() && col(r, |f| f.contains("diem toi da") || f.contains("toi da")).is_some()
    })?;
    let stt_c = col(header, |f| f == "stt" || f == "tt")?;
    let max_c = col(header, |f| f.contains("diem toi da") || f.contains("toi da"))?;
    let self_c = col(header, |f| {
        f.contains("tu cham") || f.contains("dat duoc") || f.contains("tu danh gia") || f.contains("diem tu") || f.contains("ket qua")
    })
    .filter(|c| *c != max_c)?;
    let name_c = col(header, |f| f.contains("tieu chi") || f.contains("linh vuc") || f.contains("noi dung")).unwrap_or(stt_c + 1);

    let mut items: Vec<ScoreRow> = Vec::new();
    let mut total: Option<(Option<f64>, Option<f64>)> = None;
    for r in rows.iter().skip(hi + 1) {
        let get = |c: usize| r.get(c).map(|s| s.trim()).unwrap_or("");
        let stt = get(stt_c);
        let name = get(name_c);
        let max = parse_number(get(max_c));
        let ach = parse_number(get(self_c));
        if let Some(level) = numbering_level(stt) {
            items.push(ScoreRow { stt: stt.trim_end_matches('.').to_string(), level, name: name.to_string(), max, achieved: ach });
        } else if stt.is_empty() && fold(name).starts_with("tong") && (max.is_some() || ach.is_some()) {
            total = Some((max, ach));
        }
    }
    if items.is_empty() {
        return None;
    }

    let mut findings = Vec::new();
    // Parent of each row: the nearest earlier row with a smaller level.
    let mut parent: Vec<Option<usize>> = vec![None; items.len()];
    let mut stack: Vec<usize> = Vec::new();
    for i in 0..items.len() {
        while stack.last().is_some_and(|&t| items[t].level >= items[i].level) {
            stack.pop();
        }
        parent[i] = stack.last().copied();
        stack.push(i);
    }
    for (i, it) in items.iter().enumerate() {
        let children: Vec<&ScoreRow> = (0..items.len()).filter(|&j| parent[j] == Some(i)).map(|j| &items[j]).collect();
        if children.is_empty() {
            continue;
        }
        for (label, own, pick) in [
            ("điểm tối đa", it.max, (|r: &ScoreRow| r.max) as fn(&ScoreRow) -> Option<f64>),
            ("điểm tự chấm", it.achieved, |r: &ScoreRow| r.achieved),
        ] {
            let vals: Vec<f64> = children.iter().filter_map(|c| pick(c)).collect();
            if let (Some(own), false) = (own, vals.is_empty()) {
                let sum: f64 = vals.iter().sum();
                if (sum - own).abs() > EPS {
                    findings.push(format!(
                        "dòng {}: {label} {} không bằng tổng các tiêu chí con ({})",
                        it.stt,
                        fmt(own),
                        fmt(sum)
                    ));
                }
            }
        }
    }
    for it in &items {
        if let (Some(m), Some(a)) = (it.max, it.achieved) {
            if a > m + EPS {
                findings.push(format!("dòng {}: điểm tự chấm {} cao hơn điểm tối đa {}", it.stt, fmt(a), fmt(m)));
            }
        }
    }
    let top_level = items.iter().map(|i| i.level).min().unwrap_or(1);
    let tops: Vec<&ScoreRow> = items.iter().filter(|i| i.level == top_level).collect();
    let top_max: f64 = tops.iter().filter_map(|r| r.max).sum();
    let top_self: f64 = tops.iter().filter_map(|r| r.achieved).sum();
    let (max_total, self_total) = match total {
        Some((m, a)) => {
            if let Some(m) = m {
                if (m - top_max).abs() > EPS {
                    findings.push(format!("dòng tổng: điểm tối đa {} không bằng tổng các mục lớn ({})", fmt(m), fmt(top_max)));
                }
            }
            if let Some(a) = a {
                if (a - top_self).abs() > EPS {
                    findings.push(format!("dòng tổng: điểm tự chấm {} không bằng tổng các mục lớn ({})", fmt(a), fmt(top_self)));
                }
            }
            (m.or(Some(top_max)), a.or(Some(top_self)))
        }
        None => (Some(top_max), Some(top_self)),
    };
    Some(Score {
        max_total: max_total.map(round3),
        self_total: self_total.map(round3),
        rows: items.len(),
        findings,
        items,
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

static COMMITMENT: Lazy<Regex> = Lazy::new(|| Regex::new(r"^cam ket (?:so )?(\d{1,2})\b").unwrap());

/// The "10 cam kết" registration (and results) across `tables`.
pub fn commitments(tables: &[&Vec<Vec<String>>]) -> Option<Commitments> {
    #[derive(PartialEq, Clone, Copy)]
    enum Sec {
        None,
        Results,
        Registration,
    }
    let mut results: Vec<(String, bool)> = Vec::new();
    let mut registered: Vec<String> = Vec::new();
    let mut unsectioned: Vec<String> = Vec::new();
    let mut tasks = Vec::new();
    for t in tables {
        let mut sec = Sec::None;
        // Pattern B: a table whose header names commitments and whose rows are numbered.
        let header_mentions = t.first().is_some_and(|h| h.iter().any(|c| fold(c).contains("cam ket")));
        for (ri, r) in t.iter().enumerate() {
            let cells: Vec<&String> = r.iter().filter(|c| !c.trim().is_empty()).collect();
            let Some(first) = cells.first() else { continue };
            let f0 = fold(first);
            let joined = fold(&r.join(" "));
            let rest: Vec<&String> = cells.iter().skip(1).copied().filter(|c| *c != *first).collect();
            let text = rest.first().map(|s| s.trim().to_string()).unwrap_or_default();
            let is_item = COMMITMENT.is_match(&f0) || (header_mentions && ri > 0 && numbering_level(first).is_some_and(|l| l == 1) && !text.is_empty());
            if is_item {
                let evaluated = rest.len() >= 2 || fold(&text).contains("ket qua") || fold(&text).contains("da thuc hien") || fold(&text).contains("hoan thanh");
                match sec {
                    Sec::Results => results.push((text, evaluated)),
                    Sec::Registration => registered.push(text),
                    Sec::None => unsectioned.push(text),
                }
            } else if f0.starts_with("nhiem vu") && !text.is_empty() {
                tasks.push(text);
            } else if ri > 0 || !joined.contains("noi dung") {
                if joined.contains("dang ky") {
                    sec = Sec::Registration;
                } else if joined.contains("ket qua") {
                    sec = Sec::Results;
                }
            }
        }
    }
    let (items, evaluated) = if !registered.is_empty() || !results.is_empty() {
        let items = if registered.is_empty() { results.iter().map(|(t, _)| t.clone()).collect() } else { registered };
        (items, results.iter().filter(|(_, e)| *e).count())
    } else {
        (unsectioned, 0)
    };
    if items.is_empty() {
        return None;
    }
    // Whether the count is right depends on the report kind; matching judges that.
    Some(Commitments { count: items.len(), items, evaluated, tasks, findings: Vec::new() })
}

/// The "10 cam kết" written as paragraphs ("Cam kết số 1: …" one per paragraph, under headings
/// such as "I. Kết quả thực hiện 10 cam kết năm 2020" and "II. Đăng ký 10 cam kết năm 2021"), laid
/// out as the rows a table would give, for [`commitments`]. Empty unless at least two
/// paragraphs are commitments.
pub fn commitment_paragraphs(blocks: &[super::Block]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![String::new()]];
    let mut items = 0;
    for b in blocks {
        let super::Block::Para(p) = b else { continue };
        let t = p.trim();
        let f = fold(t);
        if COMMITMENT.is_match(&f) {
            items += 1;
            let (head, text) = match t.split_once(':') {
                Some((h, rest)) if !rest.trim().is_empty() => (h.trim().to_string(), rest.trim().to_string()),
                _ => {
                    // "Cam kết số 1 Thực hiện …": the words after the number.
                    let n = COMMITMENT.captures(&f).and_then(|c| c.get(0)).map(|m| m.as_str().split(' ').count()).unwrap_or(3);
                    let words: Vec<&str> = t.split_whitespace().collect();
                    (words[..n.min(words.len())].join(" "), words[n.min(words.len())..].join(" "))
                }
            };
            rows.push(vec![head, text]);
        } else if f.contains("cam ket") && (f.contains("dang ky") || f.contains("ket qua")) {
            rows.push(vec![t.to_string()]);
        }
    }
    if items < 2 {
        return vec![];
    }
    rows
}

/// The plan table (*Nội dung / Nhiệm vụ*, *Sản phẩm*, *Cơ quan chủ trì*, ...), if `rows` hold one.
pub fn task_plan(rows: &[Vec<String>], year: Option<i32>) -> Option<Tasks> {
    let (hi, header) = rows.iter().enumerate().take(20).find(|(_, r)| {
        let has_task = col(r, |f| f.contains("nhiem vu") || f.contains("noi dung")).is_some();
        let others = [
            col(r, |f| f.contains("san pham")),
            col(r, |f| f.contains("chu tri")),
            col(r, |f| f.contains("phoi hop")),
            col(r, |f| f.contains("thoi gian")),
        ]
        .iter()
        .filter(|c| c.is_some())
        .count();
        has_task && others >= 2
    })?;
    let group_c = col(header, |f| f.contains("nhiem vu chung") || f.contains("linh vuc"));
    let task_c = col(header, |f| f.contains("cu the"))
        .or_else(|| header.iter().enumerate().position(|(i, c)| Some(i) != group_c && { let f = fold(c); f.contains("nhiem vu") || f.contains("noi dung") }))?;
    let product_c = col(header, |f| f.contains("san pham"));
    let lead_c = col(header, |f| f.contains("chu tri"));
    let partner_c = col(header, |f| f.contains("phoi hop"));
    let time_c = col(header, |f| f.contains("thoi gian"));
    let mut items = Vec::new();
    let mut group: Option<String> = None;
    for r in rows.iter().skip(hi + 1) {
        let get = |c: Option<usize>| c.and_then(|c| r.get(c)).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let filled: Vec<&String> = r.iter().filter(|c| !c.trim().is_empty()).collect();
        if filled.is_empty() {
            continue;
        }
        // The "(1) (2) (3)" numbering row under a header.
        if filled.iter().all(|c| c.trim().starts_with('(') && c.trim().len() <= 5) {
            continue;
        }
        if let Some(g) = get(group_c) {
            group = Some(g);
        }
        let Some(task) = get(Some(task_c)) else { continue };
        let all_same = filled.iter().all(|c| *c == filled[0]);
        // A heading numbered I, II, … either inside the task text or in the numbering column.
        let numbering = if task_c > 0 { r.first().map(|s| s.trim().trim_end_matches('.').to_string()) } else { None };
        let roman_heading = (task.split(['.', ')', ' ']).next().is_some_and(|w| roman_value(w).is_some())
            || numbering.as_deref().is_some_and(|n| roman_value(n).is_some()))
            && get(product_c).is_none()
            && get(lead_c).is_none()
            && get(time_c).is_none();
        if all_same && filled.len() > 1 || roman_heading || (Some(&task) == get(group_c).as_ref() && group_c != Some(task_c)) {
            group = Some(task);
            continue;
        }
        let time_text = get(time_c);
        let (from, to) = time_text.as_deref().and_then(|t| time_range(t, year)).map(|(a, b)| (Some(a.to_string()), Some(b.to_string()))).unwrap_or((None, None));
        items.push(Task { group: group.clone(), task, product: get(product_c), lead: get(lead_c), partners: get(partner_c), time_text, from, to });
    }
    if items.is_empty() {
        return None;
    }
    Some(Tasks { count: items.len(), items })
}

static MONTHS_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"thang\s+((?:\d{1,2}\s*[,-]\s*)*\d{1,2})\s*(?:/|nam\s+)(\d{4})").unwrap());
static QUARTERS_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"quy\s+((?:[ivx1-4]+\s*[,-]\s*)*[ivx1-4]+)\s*(?:/|nam\s+)(\d{4})").unwrap());
static YEAR_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\bnam\s+(\d{4})\b").unwrap());

fn last_day(y: i32, m: u32) -> Option<NaiveDate> {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    NaiveDate::from_ymd_opt(ny, nm, 1)?.pred_opt()
}

/// Reads a plan's time text into a date range: `Tháng 12/2019`, `Tháng 11, 12/2020`, `Quý I/2020`,
/// `Quý II, III/2020`, `Năm 2020`, and `Trong năm` / `Thường xuyên` (the plan's year, when known).
pub fn time_range(text: &str, year: Option<i32>) -> Option<(NaiveDate, NaiveDate)> {
    let f = crate::text::fold_keep_punct(text);
    if let Some(c) = MONTHS_RE.captures(&f) {
        let y: i32 = c[2].parse().ok()?;
        let ms: Vec<u32> = c[1].split([',', '-']).filter_map(|s| s.trim().parse().ok()).filter(|m| (1..=12).contains(m)).collect();
        let (a, b) = (*ms.iter().min()?, *ms.iter().max()?);
        return Some((NaiveDate::from_ymd_opt(y, a, 1)?, last_day(y, b)?));
    }
    if let Some(c) = QUARTERS_RE.captures(&f) {
        let y: i32 = c[2].parse().ok()?;
        let qs: Vec<u32> = c[1]
            .split([',', '-'])
            .filter_map(|s| {
                let s = s.trim();
                s.parse::<u32>().ok().or_else(|| roman_value(s))
            })
            .filter(|q| (1..=4).contains(q))
            .collect();
        let (a, b) = (*qs.iter().min()?, *qs.iter().max()?);
        return Some((NaiveDate::from_ymd_opt(y, (a - 1) * 3 + 1, 1)?, last_day(y, b * 3)?));
    }
    if let Some(c) = YEAR_RE.captures(&f) {
        let y: i32 = c[1].parse().ok()?;
        return Some((NaiveDate::from_ymd_opt(y, 1, 1)?, NaiveDate::from_ymd_opt(y, 12, 31)?));
    }
    if f.contains("trong nam") || f.contains("thuong xuyen") || f.contains("ca nam") || f.contains("hang thang") || f.contains("hang quy") {
        let y = year?;
        return Some((NaiveDate::from_ymd_opt(y, 1, 1)?, NaiveDate::from_ymd_opt(y, 12, 31)?));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitments_written_as_paragraphs_are_counted() {
        use crate::parse::Block;
        let mut blocks = vec![Block::Para("I. KẾT QUẢ THỰC HIỆN 10 CAM KẾT NĂM 2020".into())];
        for i in 1..=3 {
            blocks.push(Block::Para(format!("Cam kết số {i}: Nội dung {i}. Kết quả: hoàn thành")));
        }
        blocks.push(Block::Para("Đơn vị đã cố gắng.".into()));
        blocks.push(Block::Para("II. ĐĂNG KÝ 10 CAM KẾT NĂM 2021".into()));
        for i in 1..=10 {
            blocks.push(Block::Para(format!("Cam kết số {i}: Thực hiện việc {i}")));
        }
        let rows = commitment_paragraphs(&blocks);
        let c = commitments(&[&rows]).expect("read");
        assert_eq!(c.count, 10, "the registration's ten: {c:?}");
        assert_eq!(c.evaluated, 3);
        assert_eq!(c.items[0], "Thực hiện việc 1");
        assert!(commitment_paragraphs(&[Block::Para("Cam kết số 1: chỉ một".into())]).is_empty());
    }

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_parent_that_is_not_the_sum_of_its_children_is_named() {
        let rows = vec![
            row(&["STT", "Tiêu chí", "Điểm tối đa", "Điểm tự chấm"]),
            row(&["", "", "(1)", "(2)"]),
            row(&["1", "A", "3", "2,5"]),
            row(&["1.1", "A1", "1", "1"]),
            row(&["1.2", "A2", "2", "1"]),
            row(&["2", "B", "1", "1,5"]),
            row(&["", "Tổng cộng", "4", "5"]),
        ];
        let s = score_table(&rows).unwrap();
        assert_eq!(s.max_total, Some(4.0));
        assert_eq!(s.self_total, Some(5.0));
        assert_eq!(s.rows, 4);
        assert!(s.findings.iter().any(|f| f.starts_with("dòng 1: điểm tự chấm")), "{:?}", s.findings);
        assert!(s.findings.iter().any(|f| f.starts_with("dòng 2: điểm tự chấm 1,5 cao hơn")), "{:?}", s.findings);
        assert!(s.findings.iter().any(|f| f.starts_with("dòng tổng: điểm tự chấm")), "{:?}", s.findings);
    }

    #[test]
    fn a_consistent_score_table_has_no_findings() {
        let rows = vec![
            row(&["STT", "Lĩnh vực/Tiêu chí", "Điểm tối đa", "Điểm tự chấm"]),
            row(&["I", "A", "3", "2"]),
            row(&["1", "A1", "1", "1"]),
            row(&["2", "A2", "2", "1"]),
            row(&["II", "B", "0.5", "0.25"]),
            row(&["", "Tổng cộng", "3.5", "2.25"]),
        ];
        let s = score_table(&rows).unwrap();
        assert!(s.findings.is_empty(), "{:?}", s.findings);
        assert_eq!(s.self_total, Some(2.25));
    }

    #[test]
    fn registered_commitments_are_counted_apart_from_results() {
        let t = vec![
            row(&["Nội dung", "Kết quả thực hiện / Đăng ký"]),
            row(&["", "I. Kết quả thực hiện 10 cam kết năm 2020"]),
            row(&["Cam kết 1", "X. Kết quả: đã thực hiện"]),
            row(&["Cam kết 2", "Y. Kết quả: đã thực hiện"]),
            row(&["", "II. Đăng ký cam kết năm 2021"]),
            row(&["Cam kết 1", "Z"]),
            row(&["Nhiệm vụ", "Đăng ký 01 kỹ thuật mới"]),
        ];
        let c = commitments(&[&t]).unwrap();
        assert_eq!(c.count, 1);
        assert_eq!(c.items, vec!["Z".to_string()]);
        assert_eq!(c.evaluated, 2);
        assert_eq!(c.tasks.len(), 1);
    }

    #[test]
    fn group_heading_rows_are_not_tasks() {
        let rows = vec![
            row(&["TT", "Nội dung", "Sản phẩm", "Cơ quan chủ trì", "Cơ quan phối hợp", "Thời gian thực hiện"]),
            row(&["I. Cải cách thể chế", "I. Cải cách thể chế", "I. Cải cách thể chế", "I. Cải cách thể chế", "I. Cải cách thể chế", "I. Cải cách thể chế"]),
            row(&["1", "Rà soát văn bản", "Báo cáo", "Văn phòng", "", "Quý I/2020"]),
            row(&["2", "Tuyên truyền", "Tin bài", "Văn phòng", "", "Thường xuyên"]),
        ];
        let t = task_plan(&rows, Some(2020)).unwrap();
        assert_eq!(t.count, 2);
        assert_eq!(t.items[0].group.as_deref(), Some("I. Cải cách thể chế"));
        assert_eq!(t.items[0].from.as_deref(), Some("2020-01-01"));
        assert_eq!(t.items[0].to.as_deref(), Some("2020-03-31"));
        assert_eq!(t.items[1].to.as_deref(), Some("2020-12-31"));
    }

    #[test]
    fn plan_times_are_read_into_ranges() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(time_range("Tháng 12/2019", None), Some((d("2019-12-01"), d("2019-12-31"))));
        assert_eq!(time_range("Tháng 11, 12/2020", None), Some((d("2020-11-01"), d("2020-12-31"))));
        assert_eq!(time_range("Quý II, III/2020", None), Some((d("2020-04-01"), d("2020-09-30"))));
        assert_eq!(time_range("Thường xuyên", None), None);
    }
}
