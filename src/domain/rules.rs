//! The office's rules as validated values: units, report kinds with their deadline rules, the
//! working calendar and the parsing limits. `config` builds them from TOML; the pure cores
//! (parse, matching, schedule) read them without knowing where they came from.

use super::{Period, PeriodKind, ReportId, UnitId};
use chrono::NaiveDate;
use chrono_tz::Tz;
use std::path::PathBuf;
use serde::Deserialize;
use std::collections::HashSet;

/// The office's rules: who it is, its working calendar, its units and the reports they owe.
/// Everything matching, deadlines and status need to know about an office.
#[derive(Debug, Clone)]
pub struct Rules {
    pub office: Office,
    pub calendar: Calendar,
    pub units: Vec<Unit>,
    pub reports: Vec<Report>,
    /// Every unit group with its name.
    pub groups: Vec<Group>,
    /// Deadlines the office extended for one obligation each (SPEC §17 *gia hạn*): kept in the
    /// database, joined to the rules wherever they are read, so status, reminders, timeliness
    /// and the digest follow the new date without knowing it was granted.
    pub extensions: Vec<Extension>,
}

/// A group of units (a report is owed by groups) and its name as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: String,
    pub name: String,
}

impl Group {
    /// The words every member's name begins with — "Trung tâm Y tế" for the district centres —
    /// when they share at least two (one word says nothing: "Bệnh" of "Bệnh viện …").
    pub fn derived_name(names: &[&str]) -> Option<String> {
        let mut common: Vec<&str> = names.first()?.split_whitespace().collect();
        for n in &names[1..] {
            let w: Vec<&str> = n.split_whitespace().collect();
            let k = common.iter().zip(&w).take_while(|(a, b)| crate::text::fold(a) == crate::text::fold(b)).count();
            common.truncate(k);
        }
        // A single unit's whole name is no group's name.
        if names.len() < 2 || common.len() < 2 {
            return None;
        }
        // Never end on a connecting word ("Trung tâm Y tế huyện" is fine, "Bệnh viện Đa khoa" too).
        while common.last().is_some_and(|w| matches!(crate::text::fold(w).as_str(), "va" | "cua" | "thuoc" | "tai")) {
            common.pop();
        }
        (common.len() >= 2).then(|| common.join(" "))
    }
}

/// A new deadline granted to one unit for one report and period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub unit: UnitId,
    pub report: ReportId,
    pub period: Period,
    /// The last day the report is now due (the whole day counts).
    pub until: NaiveDate,
    pub reason: String,
    pub by: String,
    /// Unix seconds of the grant.
    pub at: i64,
}

impl Rules {
    pub fn unit(&self, id: &str) -> Option<&Unit> {
        self.units.iter().find(|u| u.id.as_str() == id)
    }
    pub fn report(&self, id: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.id.as_str() == id)
    }
    /// A group's name as people read it.
    pub fn group_name(&self, id: &str) -> String {
        self.groups.iter().find(|g| g.id == id).map(|g| g.name.clone()).unwrap_or_else(|| id.to_string())
    }
    /// The new deadline granted for one obligation, when one was.
    pub fn extension(&self, unit: &str, report: &str, period: Period) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.period == period && e.unit.as_str() == unit && e.report.as_str() == report)
    }
    /// The unit a sender address is registered to.
    pub fn unit_by_email(&self, addr: &str) -> Option<&Unit> {
        let a = addr.trim().to_ascii_lowercase();
        self.units.iter().find(|u| u.emails.iter().any(|e| *e == a))
    }
    pub fn is_staff(&self, addr: &str) -> bool {
        let a = addr.trim().to_ascii_lowercase();
        self.office.staff.iter().any(|e| e.eq_ignore_ascii_case(&a))
    }
    pub fn tenant(&self) -> &str {
        &self.office.address
    }

}

#[derive(Debug, Clone)]
pub struct Office {
    pub name: String,
    /// Lower-cased; doubles as the tenant key when several offices share one database.
    pub address: String,
    pub timezone: Tz,
    pub leadership: Vec<String>,
    pub staff: Vec<String>,
    pub templates: PathBuf,
    /// The authserv-id the office's own mail server writes in `Authentication-Results`
    /// (`[intake] authserv_id`): only its verdicts are trusted; without it, every verdict counts,
    /// but only to send a message to review, never to accept one.
    pub authserv_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Calendar {
    pub start: NaiveDate,
    pub shift_to_workday: bool,
    pub holidays: HashSet<NaiveDate>,
}

/// Parsing limits (SPEC §5); each has a safe default and may be tuned under `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub attachment_mb: u64,
    pub zip_entries: usize,
    pub inflated_mb: u64,
    pub compression_ratio: u64,
    pub xml_depth: usize,
    pub cells: usize,
    pub worker_memory_mb: u64,
    pub worker_seconds: u64,
    pub workers: usize,
    /// Attachments read per message (zip entries count); the rest are listed, not read.
    pub documents: usize,
    /// Time all of one message's documents may take to read, in seconds.
    pub message_seconds: u64,
    /// Text and table cells kept per message, in KB of text: what the parse workers send back
    /// is bounded, so the main process stays small whatever one message holds.
    pub message_text_kb: usize,
    /// Pages of a scanned PDF read by OCR.
    pub ocr_pages: usize,
    /// Memory for an external converter (LibreOffice, Tesseract) run by a parse worker.
    pub converter_memory_mb: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attachment_mb: 25,
            zip_entries: 2000,
            inflated_mb: 200,
            compression_ratio: 200,
            xml_depth: 256,
            cells: 2_000_000,
            worker_memory_mb: 256,
            worker_seconds: 30,
            workers: 2,
            documents: 50,
            message_seconds: 120,
            message_text_kb: 2048,
            ocr_pages: 5,
            converter_memory_mb: 1024,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub aliases: Vec<String>,
    /// Lower-cased, each registered to this unit alone.
    pub emails: Vec<String>,
    pub group: String,
    /// The first day the unit exists (a new unit owes the periods beginning from it).
    pub active_from: Option<NaiveDate>,
    /// The last day it exists (merged or dissolved): it owes the periods begun by then, and its
    /// history stays under it.
    pub active_until: Option<NaiveDate>,
    /// The unit that took it over, owing from the day after `active_until` on.
    pub merged_into: Option<UnitId>,
}

impl Unit {
    /// Whether the unit owes reports for `period`: the period begins while the unit exists.
    pub fn active_for(&self, period: Period) -> bool {
        let start = period.start_date();
        self.active_from.is_none_or(|f| start >= f) && self.active_until.is_none_or(|u| start <= u)
    }

    /// Whether the unit exists on `day`.
    pub fn active_on(&self, day: NaiveDate) -> bool {
        self.active_from.is_none_or(|f| day >= f) && self.active_until.is_none_or(|u| day <= u)
    }

    /// The unit as a directory record (SPEC §17), the form the database keeps.
    pub fn to_json(&self) -> serde_json::Value {
        let day = |d: &Option<NaiveDate>| d.map(|d| d.format("%Y-%m-%d").to_string());
        serde_json::json!({
            "name": self.name, "aliases": self.aliases, "emails": self.emails, "group": self.group,
            "active_from": day(&self.active_from), "active_until": day(&self.active_until),
            "merged_into": self.merged_into.as_ref().map(|u| u.as_str()),
        })
    }

    /// A unit from its directory record; what cannot be read is said.
    pub fn from_json(id: &str, v: &serde_json::Value) -> Result<Unit, String> {
        let id = UnitId::parse(id).map_err(|e| e.to_string())?;
        let strings = |k: &str| -> Vec<String> { v[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default() };
        let day = |k: &str| -> Result<Option<NaiveDate>, String> {
            match v[k].as_str() {
                None => Ok(None),
                Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").map(Some).map_err(|_| format!("`{k}` = `{s}` is not a date")),
            }
        };
        let merged_into = match v["merged_into"].as_str() {
            Some(s) => Some(UnitId::parse(s).map_err(|e| e.to_string())?),
            None => None,
        };
        let name = v["name"].as_str().filter(|n| !n.trim().is_empty()).ok_or("a unit without a name")?.to_string();
        Ok(Unit {
            id,
            name,
            aliases: strings("aliases"),
            emails: strings("emails").into_iter().map(|e| e.trim().to_ascii_lowercase()).collect(),
            group: v["group"].as_str().unwrap_or("default").to_string(),
            active_from: day("active_from")?,
            active_until: day("active_until")?,
            merged_into,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    Report,
    ScoreTable,
    Commitments,
    TaskPlan,
}

impl Extract {
    pub fn as_str(&self) -> &'static str {
        match self {
            Extract::Report => "report",
            Extract::ScoreTable => "score-table",
            Extract::Commitments => "commitments",
            Extract::TaskPlan => "task-plan",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueMonth {
    Last,
    Next,
    Month(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueRule {
    Relative { month: DueMonth, day: u32, exclusive: bool, year_offset: i32 },
    Date(NaiveDate),
}

#[derive(Debug, Clone)]
pub struct Report {
    pub id: ReportId,
    pub name: String,
    pub keywords: Vec<String>,
    pub doc_types: Vec<String>,
    pub period: PeriodKind,
    pub quarters: Option<Vec<u8>>,
    pub due: DueRule,
    /// Empty means every group (`"*"`).
    pub applies_to: Vec<String>,
    pub extract: Extract,
    pub remind_before_days: Vec<i64>,
    pub remind_after_days: Vec<i64>,
    pub escalate_after_days: Option<i64>,
    pub catch_up_days: i64,
    pub once_for: Option<i32>,
    pub expected_commitments: usize,
    /// A request set by the office's letter (SPEC §15): only these units owe it (empty: the
    /// groups of `applies_to` decide), and what its reports must hold.
    pub letter: Option<LetterTerms>,
    /// The office's blank form its units fill in (SPEC §16), read when the config is loaded.
    pub form: Option<std::sync::Arc<super::form::Form>>,
}

/// What a request's letter sets besides its deadline: who owes it, the letter it is cited by,
/// the outline (*đề cương*) and annexes (*phụ lục*) a report must follow.
#[derive(Debug, Clone, Default)]
pub struct LetterTerms {
    /// The request's own number in the store.
    pub request: i64,
    pub units: Vec<UnitId>,
    /// The letter's number (`45/SYT-KHTC`) and its *V/v* line, as written.
    pub number: Option<String>,
    pub subject: Option<String>,
    pub outline: Vec<String>,
    pub annexes: Vec<String>,
    /// Message-IDs of the mails that carried the letter: a reply to one of them answers it.
    pub threads: Vec<String>,
}

impl Report {
    /// When units are reminded of it, as a sentence: *trước hạn 7 và 3 ngày; sau hạn 1 và 7
    /// ngày; báo lãnh đạo sau hạn 14 ngày*.
    pub fn reminders_vi(&self) -> String {
        let days = |v: &[i64]| -> String {
            let mut v: Vec<i64> = v.to_vec();
            v.sort_unstable();
            v.dedup();
            let s: Vec<String> = v.iter().map(|d| d.to_string()).collect();
            match s.len() {
                0 => String::new(),
                1 => s[0].clone(),
                n => format!("{} và {}", s[..n - 1].join(", "), s[n - 1]),
            }
        };
        let mut parts = Vec::new();
        if !self.remind_before_days.is_empty() {
            parts.push(format!("trước hạn {} ngày", days(&self.remind_before_days)));
        }
        if !self.remind_after_days.is_empty() {
            parts.push(format!("sau hạn {} ngày", days(&self.remind_after_days)));
        }
        if let Some(e) = self.escalate_after_days {
            parts.push(format!("báo lãnh đạo khi quá hạn {e} ngày"));
        }
        if parts.is_empty() {
            "không nhắc".into()
        } else {
            parts.join("; ")
        }
    }

    pub fn applies_to_group(&self, group: &str) -> bool {
        self.applies_to.is_empty() || self.applies_to.iter().any(|g| g == group)
    }

    /// Whether `unit` owes this report: a request's own list of units, else its group.
    pub fn applies_to_unit(&self, unit: &Unit) -> bool {
        match &self.letter {
            Some(l) if !l.units.is_empty() => l.units.contains(&unit.id),
            _ => self.applies_to_group(&unit.group),
        }
    }

    /// The periods owed in `year` (a quarterly report limited to some quarters owes only those).
    pub fn periods_in(&self, year: i32) -> Vec<Period> {
        match self.period {
            PeriodKind::Once => match self.once_for {
                Some(y) if y == year => vec![Period::Once(y)],
                Some(_) => vec![],
                None => vec![Period::Once(year)],
            },
            PeriodKind::Quarter => Period::all_in_year(PeriodKind::Quarter, year)
                .into_iter()
                .filter(|p| match (&self.quarters, p) {
                    (Some(qs), Period::Quarter(_, q)) => qs.contains(q),
                    _ => true,
                })
                .collect(),
            k => Period::all_in_year(k, year),
        }
    }
}

impl DueRule {
    /// The calendar date the rule names for `period`, before any workday shift.
    pub fn date_for(&self, period: Period) -> Option<NaiveDate> {
        match *self {
            DueRule::Date(d) => Some(d),
            DueRule::Relative { month, day, exclusive, year_offset } => {
                let year = period.year() + year_offset;
                let (y, m) = match month {
                    DueMonth::Last => (year, period.last_month()),
                    DueMonth::Next => {
                        let lm = period.last_month();
                        if lm == 12 {
                            (year + 1, 1)
                        } else {
                            (year, lm + 1)
                        }
                    }
                    DueMonth::Month(m) => (year, m),
                };
                let d = NaiveDate::from_ymd_opt(y, m, day)?;
                Some(if exclusive { d.pred_opt()? } else { d })
            }
        }
    }

    /// The rule as an office writes it for a report owed by `period`: *trước ngày 20 của
    /// tháng cuối kỳ*, *chậm nhất ngày 15 tháng 12 năm trước*, *ngày 30/06/2026*.
    pub fn label_vi(&self, period: PeriodKind) -> String {
        match *self {
            DueRule::Date(d) => format!("ngày {}", d.format("%d/%m/%Y")),
            DueRule::Relative { month, day, exclusive, year_offset } => {
                let cue = if exclusive { "trước ngày" } else { "chậm nhất ngày" };
                let year = match year_offset {
                    0 => String::new(),
                    -1 => " năm trước".into(),
                    1 => " năm sau".into(),
                    n if n < 0 => format!(" {} năm trước", -n),
                    n => format!(" {n} năm sau"),
                };
                let month = match (month, period) {
                    (DueMonth::Last, PeriodKind::Month) => "của tháng báo cáo".to_string(),
                    (DueMonth::Next, PeriodKind::Month) => "của tháng sau".to_string(),
                    (DueMonth::Last, PeriodKind::Year) => "tháng 12".to_string(),
                    (DueMonth::Next, PeriodKind::Year) => "tháng 1 năm sau".to_string(),
                    (DueMonth::Last, _) => "của tháng cuối kỳ".to_string(),
                    (DueMonth::Next, _) => "của tháng đầu kỳ sau".to_string(),
                    (DueMonth::Month(m), _) => format!("tháng {m}"),
                };
                format!("{cue} {day} {month}{year}")
            }
        }
    }
}


#[cfg(test)]
mod group_tests {
    use super::Group;

    #[test]
    fn a_deadline_rule_reads_as_the_office_writes_it() {
        use super::{DueMonth, DueRule};
        use crate::domain::PeriodKind;
        let r = DueRule::Relative { month: DueMonth::Last, day: 20, exclusive: true, year_offset: 0 };
        assert_eq!(r.label_vi(PeriodKind::Quarter), "trước ngày 20 của tháng cuối kỳ");
        let r = DueRule::Relative { month: DueMonth::Month(12), day: 15, exclusive: false, year_offset: -1 };
        assert_eq!(r.label_vi(PeriodKind::Year), "chậm nhất ngày 15 tháng 12 năm trước");
        let r = DueRule::Relative { month: DueMonth::Next, day: 5, exclusive: false, year_offset: 0 };
        assert_eq!(r.label_vi(PeriodKind::Month), "chậm nhất ngày 5 của tháng sau");
    }

    #[test]
    fn a_groups_name_is_the_words_its_members_names_begin_with() {
        assert_eq!(Group::derived_name(&["Trung tâm Y tế huyện Bắc Sơn", "Trung tâm Y tế thị xã Nghi Sơn"]).as_deref(), Some("Trung tâm Y tế"));
        assert_eq!(Group::derived_name(&["Bệnh viện Đa khoa An Bình", "Bệnh viện Đa khoa tỉnh"]).as_deref(), Some("Bệnh viện Đa khoa"));
        assert_eq!(Group::derived_name(&["Bệnh viện Nhi", "Bệnh Xá Quân Dân Y"]), None, "one word says nothing");
        assert_eq!(Group::derived_name(&["Chi cục Dân số"]), None, "one unit's name is not a group's");
    }
}
