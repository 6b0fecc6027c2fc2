//! Requests set by the office's own letters (SPEC §15): a letter read ([`crate::parse::letter`])
//! with its addressees resolved to the config's units and groups, in the JSON shape of SPEC §15,
//! and the periodic rules it sets proposed as `[[report]]` entries for the IT person.
//!
//! Storing a request, a clerk's confirmation and the obligations it then makes are not built yet
//! (issue 16); this is the reading that `request add --dry-run` prints.

use crate::config::Config;
use crate::parse::letter::{Letter, PeriodicRule};
use crate::text::{contains_words, fold};
use serde_json::{json, Value};

/// The units an addressee line names: "trong ngành", "các đơn vị trực thuộc" = every unit; a unit's
/// name or alias; a group's id in words (`benh-vien` = "bệnh viện"); "các Trung tâm Y tế tuyến
/// huyện" = the units whose name begins with the longest head of that phrase that some unit's
/// name begins with.
pub fn units_addressed(cfg: &Config, text: &str) -> Vec<String> {
    let f = fold(text);
    let all = ["trong nganh", "truc thuoc", "cac don vi y te", "thu truong cac don vi", "cac don vi thuoc so"];
    if all.iter().any(|p| f.contains(p)) || f == "cac don vi" {
        let mut all: Vec<String> = cfg.units.iter().map(|u| u.id.to_string()).collect();
        all.sort();
        return all;
    }
    let mut out: Vec<String> = Vec::new();
    for u in &cfg.units {
        let names = std::iter::once(&u.name).chain(u.aliases.iter());
        if names.map(|n| fold(n)).any(|n| !n.is_empty() && contains_words(&f, &n)) {
            out.push(u.id.to_string());
        }
    }
    for u in &cfg.units {
        if contains_words(&f, &u.group.replace('-', " ")) && !out.contains(&u.id.to_string()) {
            out.push(u.id.to_string());
        }
    }
    if out.is_empty() {
        if let Some(i) = f.find("cac ") {
            let words: Vec<&str> = f[i + 4..].split(' ').collect();
            for n in (2..=words.len()).rev() {
                let head = words[..n].join(" ");
                // "tuyến tỉnh" / "tuyến huyện" narrow the kind to the province's or the districts'.
                let level = |n: &str| {
                    if f.contains("tuyen tinh") {
                        contains_words(n, "tinh")
                    } else if f.contains("tuyen huyen") {
                        ["huyen", "thi xa", "thanh pho", "quan"].iter().any(|w| contains_words(n, w))
                    } else {
                        true
                    }
                };
                let hits: Vec<String> = cfg.units.iter().filter(|u| {
                    let n = fold(&u.name);
                    n.starts_with(&head) && level(&n)
                }).map(|u| u.id.to_string()).collect();
                if !hits.is_empty() {
                    out = hits;
                    break;
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
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

    #[test]
    fn addressees_resolve_to_units_and_groups() {
        let c = cfg();
        assert_eq!(units_addressed(&c, "Thủ trưởng các đơn vị y tế trong ngành"), vec!["BVT", "TTYT-A", "TTYT-B"]);
        assert_eq!(units_addressed(&c, "Giám đốc các Trung tâm Y tế tuyến huyện"), vec!["TTYT-A", "TTYT-B"]);
        assert_eq!(units_addressed(&c, "Giám đốc BVĐK tỉnh"), vec!["BVT"]);
        assert_eq!(units_addressed(&c, "Các bệnh viện"), vec!["BVT"]);
        assert!(units_addressed(&c, "Trưởng các phòng chức năng Sở").is_empty());
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
