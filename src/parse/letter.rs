//! The office's own official letter (*công văn*, SPEC §15), read from its text: number, date and
//! *V/v*; the addressees under *Kính gửi*; every deadline sentence with its date, what it asks
//! and whether it is the units' work or the office's own; the outline (*đề cương*) and annexes
//! (*phụ lục*) a report must follow; periodic rules ("Báo cáo quý: Gửi Sở Y tế trước ngày 01
//! tháng cuối quý") that belong in the config. Pure: text in, a [`Letter`] out; resolving the
//! addressees to units is the office's (it needs the config).

use super::header;
use crate::text::fold_keep_punct;
use chrono::NaiveDate;
use once_cell::sync::Lazy;
use regex::Regex;
use serde::Serialize;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Letter {
    pub number: Option<String>,
    /// ISO date of the letter.
    pub date: Option<String>,
    /// The *V/v* line.
    pub subject: Option<String>,
    /// Each addressee as written (`Giám đốc các Trung tâm Y tế tuyến tỉnh`).
    pub addressees: Vec<String>,
    pub deadlines: Vec<Deadline>,
    /// The numbered sections of the outline (*đề cương*) reports must follow.
    pub outline: Vec<String>,
    /// The annexes (*phụ lục*) named or attached.
    pub annexes: Vec<String>,
    pub periodic: Vec<PeriodicRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deadline {
    pub date: NaiveDate,
    /// The sentence that sets it.
    pub text: String,
    /// The units' work (an obligation), or the office's own ("Văn phòng Sở tổng hợp …").
    pub for_units: bool,
    /// What is asked, as the sentence says it.
    pub report: Option<String>,
}

/// A periodic rule: which period, and the day and month it is due (*trước ngày*: exclusive).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeriodicRule {
    pub text: String,
    /// `quarter`, `half`, `year` or `month`.
    pub period: String,
    pub day: u32,
    /// A month number, or `last` (the period's last month) or `next` (the month after it).
    pub month: String,
    /// Only the first half of the year ("6 tháng đầu năm").
    pub first_half_only: bool,
    pub exclusive: bool,
}

static DMY: Lazy<Regex> = Lazy::new(|| Regex::new(r"(\d{1,2})\s*/\s*(\d{1,2})\s*/\s*(\d{4})").unwrap());
static WORDS_DATE: Lazy<Regex> = Lazy::new(|| Regex::new(r"ngay (\d{1,2}) thang (\d{1,2}) nam (\d{4})").unwrap());
/// A deadline cue right before a date (folded text).
static CUE: Lazy<Regex> = Lazy::new(|| Regex::new(r"(truoc|cham nhat(?: vao| la)?|han cuoi(?: la| vao)?|khong muon hon|xong truoc|han nop(?: la)?|han chot(?: la)?)\s*(?:ngay)?\s*$").unwrap());
static NUMBERED: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(?:[IVX]{1,5}|\d{1,2}(?:\.\d{1,2}){0,3})[.)]?\s+\S").unwrap());
/// A periodic rule: the kind of report, a cue (*trước* is exclusive, *chậm nhất* is not), the
/// day, and the month: a number, the period's last month, the next one, or *hằng tháng* (the
/// month itself).
static PERIODIC: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"^bao cao (quy|6 thang(?: dau nam| cuoi nam)?|nam|thang|hang thang|dinh ky thang|dinh ky quy|dinh ky nam) .*?(truoc|cham nhat(?: vao| la)?|han cuoi(?: la| vao)?|khong muon hon) ngay (\d{1,2})(?: cua)? (?:thang (\d{1,2}|cuoi quy|cuoi ky|cuoi|dau quy sau|dau ky sau|sau|ke tiep)|(hang thang))\b").unwrap()
});

/// Text with the emphasis marks of a text export (`**`, `#`) and bullets removed from the ends.
fn clean(line: &str) -> String {
    line.replace("**", "").replace("__", "").trim_start_matches(['#', ' ', '\t']).trim().to_string()
}

fn strip_bullet(s: &str) -> &str {
    s.trim_start_matches(['-', '+', '•', '–', '*', ' ', '\t'])
}

impl Letter {
    /// Whether it sets the units a request: it has its number and a deadline for the units.
    pub fn sets_request(&self) -> bool {
        self.number.is_some() && self.deadlines.iter().any(|x| x.for_units)
    }
}

/// Reads a letter from its text (paragraphs or lines) and, when the document reader found it,
/// its administrative header.
pub fn read(text: &str, found: Option<&crate::parse::Header>) -> Letter {
    let lines: Vec<String> = text.lines().map(clean).collect();
    let h = match found {
        Some(h) if h.number.is_some() || h.date.is_some() => h.clone(),
        _ => header::from_blocks(&lines.iter().map(|l| crate::parse::Block::Para(l.clone())).collect::<Vec<_>>()),
    };
    let mut l = Letter { number: h.number.clone(), date: h.date.clone(), ..Default::default() };
    // The number may be left blank in a draft ("Số:   /SYT-VP").
    if l.number.is_none() {
        l.number = lines.iter().find_map(|x| x.strip_prefix("Số:").map(|n| n.split_whitespace().collect::<String>())).filter(|n| n.contains('/'));
    }
    l.subject = subject_of(&lines, &h);
    l.addressees = addressees_of(&lines);
    // The letter's own body ends at "Nơi nhận"; annexes may follow it.
    let end = lines.iter().position(|x| crate::text::fold(x).starts_with("noi nhan")).unwrap_or(lines.len());
    (l.deadlines, l.periodic) = rules_of(&lines[..end]);
    l.outline = outline_of(&lines);
    l.annexes = annexes_of(&lines);
    l
}

/// The letter's "V/v …" (wrapped onto a second line at most), else the header's summary.
fn subject_of(lines: &[String], h: &crate::parse::Header) -> Option<String> {
    // A page's two columns share a line (PDF): the V/v is in the left one.
    let left = |x: &String| x.split('\t').next().unwrap_or("").trim().to_string();
    lines
        .iter()
        .position(|x| x.to_lowercase().starts_with("v/v"))
        .map(|i| {
            let mut s = left(&lines[i]);
            // A V/v wrapped onto a second line, before the motto or the date.
            if let Some(next) = lines.get(i + 1).map(left) {
                let next = &next;
                let f = crate::text::fold(next);
                if !next.is_empty() && !f.starts_with("cong hoa") && !f.starts_with("kinh gui") && header::read_date(next).is_none() && !next.chars().any(|c| c.is_uppercase() && next.chars().filter(|c| c.is_alphabetic()).all(|c| !c.is_lowercase())) {
                    s.push(' ');
                    s.push_str(next);
                }
            }
            s
        })
        .or(h.summary.clone().filter(|s| s.to_lowercase().starts_with("v/v")))
}

/// Addressees: "Kính gửi: X" on one line, or the bullet list after "Kính gửi:".
fn addressees_of(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(i) = lines.iter().position(|x| crate::text::fold(x).starts_with("kinh gui")) {
        let rest = lines[i].split_once(':').map(|(_, r)| r.trim()).unwrap_or("");
        if !rest.is_empty() {
            out.extend(rest.split(';').map(|s| s.trim().trim_end_matches(['.', ';']).to_string()).filter(|s| !s.is_empty()));
        }
        for x in lines.iter().skip(i + 1) {
            // A blank line between bullets is allowed; the first prose line ends the list.
            if x.is_empty() {
                continue;
            }
            let starts_bullet = x.starts_with(['-', '+', '•', '–']);
            if !starts_bullet {
                break;
            }
            let a = strip_bullet(x).trim().trim_end_matches(['.', ';', ',']).to_string();
            if !a.is_empty() {
                out.push(a);
            }
        }
    }
    out
}

/// The deadlines the body sets, and its periodic rules ("Báo cáo quý: trước ngày 15 tháng cuối quý").
fn rules_of(lines: &[String]) -> (Vec<Deadline>, Vec<PeriodicRule>) {
    let (mut deadlines, mut periodic): (Vec<Deadline>, Vec<PeriodicRule>) = (Vec::new(), Vec::new());
    for x in &sentences(lines) {
        let f = fold_keep_punct(x);
        for d in deadlines_in(x, &f) {
            if !deadlines.iter().any(|e| e.date == d.date && e.text == d.text) {
                deadlines.push(d);
            }
        }
        let plain = crate::text::fold(strip_bullet(x));
        // "Báo cáo quý: …": the kind, a colon, then the rule (not prose that mentions a report).
        let labelled = strip_bullet(x).find(':').is_some_and(|i| i < 40);
        if let Some(c) = PERIODIC.captures(&plain).filter(|_| labelled).filter(|c| !cut_off(&plain[..c.get(2).map_or(0, |m| m.start())])) {
            let (period, first_half) = match &c[1] {
                "quy" | "dinh ky quy" => ("quarter", false),
                "nam" | "dinh ky nam" => ("year", false),
                "thang" | "hang thang" | "dinh ky thang" => ("month", false),
                p => ("half", p.contains("dau")),
            };
            let month = match (c.get(4).map(|m| m.as_str()), c.get(5)) {
                // "hằng tháng": the month reported on is the one it is sent in.
                (_, Some(_)) => "last".to_string(),
                (Some("cuoi quy" | "cuoi ky" | "cuoi"), _) => "last".to_string(),
                (Some("dau quy sau" | "dau ky sau" | "sau" | "ke tiep"), _) => "next".to_string(),
                (Some(m), _) => m.trim_start_matches('0').to_string(),
                (None, None) => "last".to_string(),
            };
            periodic.push(PeriodicRule {
                text: strip_bullet(x).to_string(),
                period: period.into(),
                day: c[3].parse().unwrap_or(1),
                month,
                first_half_only: first_half,
                exclusive: c[2].starts_with("truoc"),
            });
        }
    }
    (deadlines, periodic)
}

/// The outline: numbered headings under a heading naming the "đề cương".
fn outline_of(lines: &[String]) -> Vec<String> {
    let mut outline: Vec<String> = Vec::new();
    // The outline: numbered headings under a heading naming the "đề cương" — wherever it stands
    // (in the body, after the signatures, in an annex of its own); a line merely mentioning the
    // outline ("theo đề cương đính kèm") only where no heading has one.
    let heading = |x: &String| crate::text::fold(x).starts_with("de cuong");
    let mention = |x: &String| {
        let f = crate::text::fold(x);
        f.contains("de cuong bao cao") && x.len() < 120
    };
    for pick in [&heading as &dyn Fn(&String) -> bool, &mention] {
        for i in (0..lines.len()).filter(|i| pick(&lines[*i])) {
            for x in lines.iter().skip(i + 1) {
                let f = crate::text::fold(x);
                if f.starts_with("phu luc") || f.starts_with("noi nhan") || heading(x) {
                    break;
                }
                if NUMBERED.is_match(x) && x.chars().count() < 160 && !outline.contains(x) {
                    outline.push(x.clone());
                }
            }
        }
        if !outline.is_empty() {
            break;
        }
    }
    outline
}

/// The annexes: their headings, and those named by number in the text.
fn annexes_of(lines: &[String]) -> Vec<String> {
    let mut annexes: Vec<String> = Vec::new();
    // Annexes: headings "Phụ lục 1: …", and "phụ lục 01, 02" named in the text.
    static NAMED: Lazy<Regex> = Lazy::new(|| Regex::new(r"phu luc\s+((?:\d{1,2}|[ivx]{1,4})(?:\s*(?:,|va)?\s*(?:\d{1,2}|[ivx]{1,4})\b)*)").unwrap());
    for x in lines {
        let f = crate::text::fold(x);
        if f.starts_with("phu luc") && x.chars().count() < 200 {
            let title = x.trim_end_matches(['.', ':']).to_string();
            // The annex's own heading replaces a bare mention of its number.
            match annexes.iter().position(|a| annex_number(a) == annex_number(&title)) {
                Some(i) if annexes[i].chars().count() < title.chars().count() => annexes[i] = title,
                Some(_) => {}
                None => annexes.push(title),
            }
            continue;
        }
        for c in NAMED.captures_iter(&f) {
            for n in c[1].split(|ch: char| ch == ',' || ch.is_whitespace()).filter(|s| !s.is_empty() && *s != "va") {
                let key = n.trim_start_matches('0');
                if !annexes.iter().any(|a| annex_number(a).as_deref() == Some(key)) {
                    annexes.push(format!("Phụ lục {n}"));
                }
            }
        }
    }
    annexes
}

/// Lines joined into sentences where a page broke them (a PDF's text): a line not ending a
/// sentence continues on the next, unless that one starts an item of its own.
fn sentences(lines: &[String]) -> Vec<String> {
    static ITEM: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(?:[-+•–]|(?:[IVX]{1,5}|\d{1,2}(?:\.\d{1,2}){0,3})[.)]\s)").unwrap());
    let mut out: Vec<String> = Vec::new();
    let mut open = false;
    for x in lines {
        let t = x.trim();
        if t.is_empty() {
            open = false;
            out.push(String::new());
            continue;
        }
        match out.last_mut() {
            // A labelled line ("Báo cáo quý: …") starts an item of its own too.
            Some(prev) if open && !ITEM.is_match(t) && !t.contains('\t') && !t.find(':').is_some_and(|i| i < 40) => {
                prev.push(' ');
                prev.push_str(t);
            }
            _ => out.push(t.to_string()),
        }
        open = !t.ends_with(['.', ';', ':', '!', '?']) && !t.contains('\t') && t.chars().any(|c| c.is_lowercase());
    }
    out
}

/// The number of an annex title (`Phụ lục 01: …` → `1`).
fn annex_number(title: &str) -> Option<String> {
    let f = crate::text::fold(title);
    f.strip_prefix("phu luc ").and_then(|r| r.split_whitespace().next()).map(|n| n.trim_start_matches('0').to_string())
}

/// The deadlines one line sets: each date right after a deadline cue.
fn deadlines_in(line: &str, folded: &str) -> Vec<Deadline> {
    let mut out = Vec::new();
    let mut dates: Vec<(usize, NaiveDate)> = Vec::new();
    for c in DMY.captures_iter(folded) {
        if let Some(d) = ymd(&c[3], &c[2], &c[1]) {
            dates.push((c.get(0).unwrap().start(), d));
        }
    }
    for c in WORDS_DATE.captures_iter(folded) {
        if let Some(d) = ymd(&c[3], &c[2], &c[1]) {
            dates.push((c.get(0).unwrap().start(), d));
        }
    }
    for (at, date) in dates {
        let before = &folded[..at];
        // "ngày" is part of the words form; the cue sits before it.
        let before = before.strip_suffix("ngay ").unwrap_or(before).trim_end();
        if !CUE.is_match(&format!("{before} ")) && !CUE.is_match(before) {
            continue;
        }
        if cut_off(before) {
            continue;
        }
        out.push(Deadline { date, text: strip_bullet(line).to_string(), for_units: for_units(folded), report: asked(strip_bullet(line)) });
    }
    out
}

/// A date that closes the figures (*thời gian chốt số liệu*, Nghị định 09/2019/NĐ-CP) is not a
/// deadline: the clause before it speaks of the cut-off and sends nothing.
fn cut_off(before: &str) -> bool {
    before.rfind("chot so lieu").or_else(|| before.rfind("so lieu chot")).is_some_and(|i| !before[i..].contains("gui") && !before[i..].contains("nop"))
}

fn ymd(y: &str, m: &str, d: &str) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Whether a deadline sentence sets the units' work: not when the office (or one of the
/// department's own offices given a task) is the one to act; always when something is to be
/// sent to the office.
fn for_units(folded: &str) -> bool {
    static NUMBERING: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[-+ ]*(?:(?:[ivx]{1,5}|\d{1,2}(?: ?\. ?\d{1,2}){0,3}) ?[.)] ?)?").unwrap());
    let s = &folded[NUMBERING.find(folded).map(|m| m.end()).unwrap_or(0)..];
    // Something sent to the office is the units' work, whoever the sentence names first.
    if (s.contains("gui") && (s.contains("ve van phong") || s.contains("ve so y te"))) || s.contains("gui so y te") {
        return true;
    }
    let office_first = ["van phong so", "giao van phong", "giao phong", "van phong tong hop", "so y te tong hop", "giao cho van phong"];
    !office_first.iter().any(|p| s.starts_with(p))
}

/// What a deadline sentence asks for: what is sent ("gửi báo cáo … về"), else the clause before
/// the sending.
fn asked(line: &str) -> Option<String> {
    static SENT: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?i)gửi\s+(.+?)\s+(?:về|cho|đến)\s").unwrap());
    if let Some(c) = SENT.captures(line) {
        let what = c[1].trim().trim_matches(|ch: char| ch == '(' || ch == ')').trim();
        if !what.is_empty() && !what.starts_with("cả") {
            return Some(what.to_string());
        }
    }
    // "Các đơn vị xây dựng kế hoạch gửi (cả file word) về …": the clause before "gửi".
    let lower = line.to_lowercase();
    let cut = lower.find(" gửi").map(|i| &line[..i]).unwrap_or(line);
    let words: Vec<&str> = cut.split_whitespace().collect();
    let start = words.iter().position(|w| ["báo", "kế", "xây", "đăng", "tự", "tổng"].iter().any(|p| w.to_lowercase().starts_with(p))).unwrap_or(0);
    let s = words[start..].join(" ");
    (!s.is_empty()).then_some(s.trim_end_matches([',', ';', '.']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LETTER: &str = "SỞ Y TẾ TỈNH ĐO TẢI
VĂN PHÒNG
Số: 417/SYT-VP
V/v báo cáo kết quả phòng chống dịch
năm 2024 và đăng ký nhiệm vụ năm 2025
CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM
Độc lập - Tự do - Hạnh phúc
Đo Tải, ngày 04 tháng 11 năm 2024

Kính gửi:
- Thủ trưởng các đơn vị y tế trong ngành;
- Giám đốc các Trung tâm Y tế tuyến huyện.

Để tổng hợp báo cáo UBND tỉnh, Sở Y tế đề nghị các đơn vị thực hiện:
1. Trước ngày 15/11/2024 các đơn vị gửi báo cáo kết quả phòng chống dịch năm 2024 về Văn phòng Sở (theo đề cương và phụ lục 01, 02 đính kèm).
2. Các đơn vị đăng ký nhiệm vụ năm 2025, gửi về Văn phòng Sở chậm nhất vào ngày 25 tháng 11 năm 2024.
3. Văn phòng Sở tổng hợp kết quả, báo cáo Giám đốc Sở trước ngày 30/11/2024.
Báo cáo quý: Gửi Sở Y tế trước ngày 05 tháng cuối quý.
+ Báo cáo 6 tháng đầu năm: Gửi Sở Y tế trước ngày 01 tháng 6.
Báo cáo năm: Gửi Sở Y tế trước ngày 25 tháng 11.

ĐỀ CƯƠNG BÁO CÁO
I. Đặc điểm tình hình
II. Kết quả thực hiện
1. Công tác chỉ đạo
2. Kết quả cụ thể
III. Đề xuất, kiến nghị
Nơi nhận:
- Như trên;
- Lưu: VT.
Phụ lục 01: Số liệu ca bệnh
Phụ lục 02: Kinh phí";

    #[test]
    fn a_letter_gives_its_number_date_subject_addressees_and_deadlines() {
        let l = read(LETTER, None);
        assert_eq!(l.number.as_deref(), Some("417/SYT-VP"));
        assert_eq!(l.date.as_deref(), Some("2024-11-04"));
        assert_eq!(l.subject.as_deref(), Some("V/v báo cáo kết quả phòng chống dịch năm 2024 và đăng ký nhiệm vụ năm 2025"));
        assert_eq!(l.addressees, vec!["Thủ trưởng các đơn vị y tế trong ngành", "Giám đốc các Trung tâm Y tế tuyến huyện"]);
        let d: Vec<(String, bool)> = l.deadlines.iter().map(|d| (d.date.to_string(), d.for_units)).collect();
        assert_eq!(d, vec![("2024-11-15".into(), true), ("2024-11-25".into(), true), ("2024-11-30".into(), false)], "{:#?}", l.deadlines);
        assert_eq!(l.deadlines[0].report.as_deref(), Some("báo cáo kết quả phòng chống dịch năm 2024"));
        assert_eq!(l.outline, vec!["I. Đặc điểm tình hình", "II. Kết quả thực hiện", "1. Công tác chỉ đạo", "2. Kết quả cụ thể", "III. Đề xuất, kiến nghị"]);
        assert!(l.annexes.iter().any(|a| a.starts_with("Phụ lục 01")) && l.annexes.iter().any(|a| a.starts_with("Phụ lục 02")) && l.annexes.len() == 2, "{:?}", l.annexes);
    }

    const RULES: &str = "SỞ Y TẾ
Số: 123/SYT-KHTC
V/v thực hiện chế độ báo cáo định kỳ
Kiểm Thử, ngày 05 tháng 01 năm 2024
Kính gửi: Thủ trưởng các đơn vị trực thuộc.
1. Thời gian chốt số liệu quý IV: trước ngày 15/12/2024.
2. Thời hạn gửi báo cáo:
- Báo cáo tháng: gửi trước ngày 20 hằng tháng.
- Báo cáo quý: thời gian chốt số liệu từ ngày 15 của tháng trước đến ngày 14 của tháng cuối quý; gửi trước ngày 20 của tháng cuối quý.
- Báo cáo năm: chậm nhất ngày 15 tháng 12.
3. Các đơn vị gửi báo cáo quý IV về Văn phòng Sở trước ngày 20/12/2024 (theo đề cương tại Phụ lục 01).
Nơi nhận:
- Như trên.
PHỤ LỤC 01
ĐỀ CƯƠNG BÁO CÁO
1. Tình hình chung
2. Kết quả thực hiện
3. Kiến nghị";

    #[test]
    fn bullet_rules_an_outline_in_an_annex_and_a_data_cut_off_are_read_for_what_they_are() {
        let l = read(RULES, None);
        let rules: Vec<(&str, u32, &str, bool)> = l.periodic.iter().map(|r| (r.period.as_str(), r.day, r.month.as_str(), r.exclusive)).collect();
        assert_eq!(rules, vec![("month", 20, "last", true), ("quarter", 20, "last", true), ("year", 15, "12", false)], "{:?}", l.periodic);
        let d: Vec<String> = l.deadlines.iter().map(|d| d.date.to_string()).collect();
        assert_eq!(d, vec!["2024-12-20"], "the data cut-off is no deadline: {:?}", l.deadlines);
        assert_eq!(l.outline, vec!["1. Tình hình chung", "2. Kết quả thực hiện", "3. Kiến nghị"], "the outline under its own heading in the annex");
    }

    #[test]
    fn periodic_rules_are_read_for_the_config() {
        let l = read(LETTER, None);
        let p: Vec<(&str, u32, &str, bool)> = l.periodic.iter().map(|r| (r.period.as_str(), r.day, r.month.as_str(), r.first_half_only)).collect();
        assert_eq!(p, vec![("quarter", 5, "last", false), ("half", 1, "6", true), ("year", 25, "11", false)]);
    }

    #[test]
    fn a_one_line_addressee_and_a_blank_number_are_read() {
        let l = read("Số:   /SYT-VP\nKính gửi: Các đơn vị trực thuộc Sở Y tế.\nNội dung.", None);
        assert_eq!(l.number.as_deref(), Some("/SYT-VP"));
        assert_eq!(l.addressees, vec!["Các đơn vị trực thuộc Sở Y tế"]);
    }
}
