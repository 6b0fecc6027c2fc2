//! Deadlines, obligations, status as of an instant, and reminder planning (SPEC §3 `due`, §7, §8).
//!
//! Everything here is pure: functions take the rules, `now` and the facts read from the store,
//! and return dates, states and plans. [`status`] is the thin runner that reads those facts.

pub mod status;

use crate::domain::rules::{Calendar, DueRule, Report, Rules, Unit};
use crate::domain::{ObligationKey, ObligationState, Period, PeriodKind, UnitId};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use std::collections::HashMap;

/// The periods of `report` in `year` (a quarterly report limited to some quarters owes only those).
pub fn periods_of(report: &Report, year: i32) -> Vec<Period> {
    report.periods_in(year)
}

/// The calendar date the rule names for `period`, before any workday shift.
pub fn rule_date(rule: &DueRule, period: Period) -> Option<NaiveDate> {
    rule.date_for(period)
}

pub fn is_day_off(cal: &Calendar, d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun) || cal.holidays.contains(&d)
}

/// The due date after the workday shift.
pub fn due_date(cal: &Calendar, rule: &DueRule, period: Period) -> Option<NaiveDate> {
    let mut d = rule_date(rule, period)?;
    if cal.shift_to_workday {
        // Bounded: no calendar has a year of holidays in a row.
        for _ in 0..366 {
            if !is_day_off(cal, d) {
                break;
            }
            d = d.succ_opt()?;
        }
    }
    Some(d)
}

/// The end (23:59:59) of `date` in the office time zone.
pub fn end_of_day(tz: Tz, date: NaiveDate) -> DateTime<Tz> {
    let t = date.and_time(NaiveTime::from_hms_opt(23, 59, 59).unwrap());
    tz.from_local_datetime(&t).latest().unwrap_or_else(|| tz.from_utc_datetime(&t))
}

/// The start (00:00:00) of `date` in the office time zone.
pub fn start_of_day(tz: Tz, date: NaiveDate) -> DateTime<Tz> {
    let t = date.and_time(NaiveTime::MIN);
    tz.from_local_datetime(&t).earliest().unwrap_or_else(|| tz.from_utc_datetime(&t))
}

/// One unit owing one report kind for one period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obligation {
    pub unit: UnitId,
    pub report: crate::domain::ReportId,
    pub period: Period,
    pub due_date: NaiveDate,
    /// Unix seconds of the end of the due date in the office time zone.
    pub deadline: i64,
    /// The due date the rules gave, when the office extended it to `due_date`.
    pub extended_from: Option<NaiveDate>,
}

impl Obligation {
    /// The obligation due on `due` by the rules, or on the day the office extended it to.
    pub fn new(cfg: &Rules, unit: UnitId, report: crate::domain::ReportId, period: Period, due: NaiveDate) -> Obligation {
        let (due_date, extended_from) = match cfg.extension(unit.as_str(), report.as_str(), period) {
            Some(e) => (e.until, Some(due)),
            None => (due, None),
        };
        Obligation { unit, report, period, due_date, deadline: end_of_day(cfg.office.timezone, due_date).timestamp(), extended_from }
    }

    pub fn key(&self) -> ObligationKey {
        ObligationKey { unit: self.unit.clone(), report: self.report.clone(), period: self.period }
    }
}

/// The deadline of `report` for `period`, if the period is owed at all: on or after
/// calendar.start — except a request of the office's own letter, which a clerk confirmed and
/// so is owed whatever its date.
pub fn deadline_of(cfg: &Rules, report: &Report, period: Period) -> Option<(NaiveDate, i64)> {
    let d = due_date(&cfg.calendar, &report.due, period)?;
    if d < cfg.calendar.start && report.letter.is_none() {
        return None;
    }
    Some((d, end_of_day(cfg.office.timezone, d).timestamp()))
}

/// The deadline `unit` (when known) owes `report` for `period` by: the rules', or the day the
/// office extended it to.
pub fn deadline_for(cfg: &Rules, report: &Report, unit: Option<&str>, period: Period) -> Option<(NaiveDate, i64)> {
    let d = deadline_of(cfg, report, period)?;
    Some(match unit.and_then(|u| cfg.extension(u, report.id.as_str(), period)) {
        Some(e) => (e.until, end_of_day(cfg.office.timezone, e.until).timestamp()),
        None => d,
    })
}

/// Why an obligation named by a person does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotOwed {
    #[error("không có đơn vị `{0}` trong danh mục đơn vị")]
    UnknownUnit(String),
    #[error("không có loại báo cáo `{0}`")]
    UnknownReport(String),
    #[error("đơn vị {unit} (nhóm {group}) không phải nộp báo cáo {report}: chỉ các nhóm {groups} phải nộp")]
    GroupDoesNotOwe { unit: String, group: String, report: String, groups: String },
    #[error("báo cáo {report} nộp theo {kind}, không có kỳ {period}")]
    WrongPeriodKind { report: String, kind: String, period: String },
    #[error("báo cáo {report} không phải nộp cho kỳ {period} (các kỳ phải nộp: {owed})")]
    PeriodNotOwed { report: String, period: String, owed: String },
    #[error("đơn vị {unit} không còn hoặc chưa có vào {period}{why}")]
    NotActive { unit: String, period: String, why: String },
    #[error("báo cáo {report} kỳ {period} có hạn nộp {due}, trước ngày bắt đầu theo dõi {start} (calendar.start)")]
    BeforeStart { report: String, period: String, due: NaiveDate, start: NaiveDate },
}

/// The obligation `unit` owes for `report` and `period`, or why there is none: the unit must be
/// in a group that owes the report, the period of the report's kind and owed (quarters), and
/// due on or after `calendar.start`.
pub fn obligation(cfg: &Rules, key: &ObligationKey) -> Result<Obligation, NotOwed> {
    let (unit, report, period) = (key.unit.as_str(), key.report.as_str(), key.period);
    let u = cfg.unit(unit).ok_or_else(|| NotOwed::UnknownUnit(unit.to_string()))?;
    let r = cfg.report(report).ok_or_else(|| NotOwed::UnknownReport(report.to_string()))?;
    if !r.applies_to_unit(u) {
        return Err(NotOwed::GroupDoesNotOwe { unit: unit.into(), group: u.group.clone(), report: report.into(), groups: match &r.letter {
            Some(l) if !l.units.is_empty() => l.units.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", "),
            _ => r.applies_to.join(", "),
        } });
    }
    // A one-off report's period is written as its year.
    let period = match (r.period, period) {
        (PeriodKind::Once, Period::Year(y)) => Period::Once(y),
        (_, p) => p,
    };
    if !u.active_for(period) {
        let why = match (&u.merged_into, u.active_until, u.active_from) {
            (Some(m), Some(t), _) => format!(" (đã sáp nhập vào {} từ sau ngày {})", cfg.unit(m.as_str()).map(|x| x.name.as_str()).unwrap_or(m.as_str()), t.format("%d/%m/%Y")),
            (None, Some(t), _) if period.start_date() > t => format!(" (thôi hoạt động sau ngày {})", t.format("%d/%m/%Y")),
            (_, _, Some(f)) => format!(" (có từ ngày {})", f.format("%d/%m/%Y")),
            _ => String::new(),
        };
        return Err(NotOwed::NotActive { unit: u.name.clone(), period: period.label_vi(), why });
    }
    if period.kind() != r.period {
        let kind = r.period.label_vi().to_string();
        return Err(NotOwed::WrongPeriodKind { report: report.into(), kind, period: period.to_string() });
    }
    let owed = periods_of(r, period.year());
    if !owed.contains(&period) {
        let owed = owed.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
        return Err(NotOwed::PeriodNotOwed { report: report.into(), period: period.to_string(), owed });
    }
    let due = due_date(&cfg.calendar, &r.due, period).ok_or_else(|| NotOwed::PeriodNotOwed { report: report.into(), period: period.to_string(), owed: String::new() })?;
    if due < cfg.calendar.start && r.letter.is_none() {
        return Err(NotOwed::BeforeStart { report: report.into(), period: period.to_string(), due, start: cfg.calendar.start });
    }
    Ok(Obligation::new(cfg, u.id.clone(), r.id.clone(), period, due))
}

/// Every unit that owes `report`.
pub fn owing_units<'a>(cfg: &'a Rules, report: &'a Report) -> impl Iterator<Item = &'a Unit> + 'a {
    cfg.units.iter().filter(move |u| report.applies_to_unit(u))
}

/// The obligations that exist in the years around `from..=to` (inclusive years).
pub fn obligations_in_years(cfg: &Rules, from_year: i32, to_year: i32) -> Vec<Obligation> {
    let mut out = Vec::new();
    for report in &cfg.reports {
        // A letter's request is owed for its one year, however long ago.
        let years: Vec<i32> = match (&report.letter, report.once_for) {
            (Some(_), Some(y)) => vec![y],
            _ => (from_year..=to_year).collect(),
        };
        for year in years {
            for p in periods_of(report, year) {
                let Some((due_date, deadline)) = deadline_of(cfg, report, p) else { continue };
                let extended = cfg.extensions.iter().any(|e| e.period == p && e.report == report.id);
                for u in owing_units(cfg, report).filter(|u| u.active_for(p)) {
                    if extended {
                        out.push(Obligation::new(cfg, u.id.clone(), report.id.clone(), p, due_date));
                    } else {
                        out.push(Obligation { unit: u.id.clone(), report: report.id.clone(), period: p, due_date, deadline, extended_from: None });
                    }
                }
            }
        }
    }
    out
}

/// What the store knows about one obligation, restricted to what had happened by the instant asked.
#[derive(Debug, Clone, Default)]
pub struct ObligationFacts {
    /// Arrival (unix seconds) of the first accepted version that had arrived by T.
    pub first_accepted_at: Option<i64>,
    /// Arrival of the latest accepted version by T and its version number.
    pub latest_at: Option<i64>,
    pub latest_version: Option<i64>,
    pub exempt: bool,
    pub reminders_sent: i64,
    /// A message waiting in review names this obligation as its best guess.
    pub in_review: bool,
}

/// The state of an obligation at `now` (unix seconds).
pub fn state_at(report: &Report, ob: &Obligation, facts: &ObligationFacts, now: i64) -> ObligationState {
    if facts.exempt {
        return ObligationState::Exempt;
    }
    if let Some(at) = facts.first_accepted_at {
        return match crate::domain::Timeliness::judge(at, ob.deadline) {
            crate::domain::Timeliness::OnTime => ObligationState::SubmittedOnTime,
            crate::domain::Timeliness::Late => ObligationState::SubmittedLate,
        };
    }
    if facts.in_review {
        return ObligationState::InReview;
    }
    if now > ob.deadline {
        return ObligationState::Overdue;
    }
    let soon = report.remind_before_days.iter().copied().max().unwrap_or(0);
    if now > ob.deadline - soon * 86_400 {
        ObligationState::DueSoon
    } else {
        ObligationState::Upcoming
    }
}

/// Whether an obligation is worth listing as of `now`: its period has begun, it is within its
/// reminder window, or something was submitted for it.
pub fn is_visible(report: &Report, ob: &Obligation, facts: &ObligationFacts, tz: Tz, now: i64) -> bool {
    let start = start_of_day(tz, ob.period.start_date()).timestamp();
    let soon = report.remind_before_days.iter().copied().max().unwrap_or(0).max(7);
    start <= now || ob.deadline - (soon + 1) * 86_400 <= now || facts.first_accepted_at.is_some() || facts.exempt || facts.in_review
}

/// What went late in the seven days up to `now` (the digest's week, for the console too): an
/// obligation whose deadline passed in the week with nothing accepted, or a report accepted in
/// the week after its deadline. Most late first.
pub fn late_this_week<'a>(states: &'a [(Obligation, ObligationFacts, ObligationState)], now: i64) -> Vec<&'a (Obligation, ObligationFacts, ObligationState)> {
    let since = now - 7 * 86_400;
    let mut v: Vec<&(Obligation, ObligationFacts, ObligationState)> = states
        .iter()
        .filter(|(o, f, st)| match st {
            ObligationState::Overdue => o.deadline > since && o.deadline <= now,
            ObligationState::SubmittedLate => f.first_accepted_at.is_some_and(|a| a > since && a <= now),
            _ => false,
        })
        .collect();
    v.sort_by_key(|(o, _, _)| o.deadline);
    v
}

/// One reminder stage that is due: `before-7`, `after-3`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueStage {
    pub unit: UnitId,
    pub report: crate::domain::ReportId,
    pub period: Period,
    pub due_date: NaiveDate,
    pub stage: String,
    pub days_late: i64,
    pub escalate: bool,
    /// The obligation's deadline was extended: its stages count from the new date, apart from
    /// those sent before the extension.
    pub extended: bool,
}

impl DueStage {
    pub fn obligation(&self) -> ObligationKey {
        ObligationKey { unit: self.unit.clone(), report: self.report.clone(), period: self.period }
    }

    /// The idempotency key of this stage (SPEC §8).
    pub fn key(&self) -> String {
        if self.extended {
            format!("remind:{}:{}:{}:{}@{}", self.unit, self.report, self.period, self.stage, self.due_date)
        } else {
            format!("remind:{}:{}:{}:{}", self.unit, self.report, self.period, self.stage)
        }
    }
}

/// The reminder stages due at `now` for unsubmitted, non-exempt obligations. A stage is due on its
/// day and for `catch_up_days` after, so a daemon started long after a deadline does not flood
/// units with stale reminders. The caller removes stages already sent.
pub fn plan_reminders(cfg: &Rules, obligations: &[(Obligation, ObligationFacts)], now: i64) -> Vec<DueStage> {
    let tz = cfg.office.timezone;
    let today = tz.timestamp_opt(now, 0).single().map(|d| d.date_naive());
    let Some(today) = today else { return vec![] };
    let reports: HashMap<&str, &Report> = cfg.reports.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out = Vec::new();
    for (ob, facts) in obligations {
        let Some(report) = reports.get(ob.report.as_str()) else { continue };
        let state = state_at(report, ob, facts, now);
        if !matches!(state, ObligationState::Upcoming | ObligationState::DueSoon | ObligationState::Overdue) {
            continue;
        }
        let mut stages: Vec<(NaiveDate, String, i64)> = Vec::new();
        if state != ObligationState::Overdue {
            for &n in &report.remind_before_days {
                stages.push((ob.due_date - Duration::days(n), format!("before-{n}"), -n));
            }
        } else {
            for &n in &report.remind_after_days {
                stages.push((ob.due_date + Duration::days(n), format!("after-{n}"), n));
            }
        }
        // Only the newest stage whose window contains today: one reminder per obligation per run.
        let best = stages
            .into_iter()
            .filter(|(day, _, _)| *day <= today && today <= *day + Duration::days(report.catch_up_days))
            .max_by_key(|(day, _, _)| *day);
        if let Some((_, stage, n)) = best {
            let days_late = (today - ob.due_date).num_days().max(0);
            let escalate = n > 0 && report.escalate_after_days.is_some_and(|e| n >= e);
            out.push(DueStage {
                unit: ob.unit.clone(),
                report: ob.report.clone(),
                period: ob.period,
                due_date: ob.due_date,
                stage,
                days_late,
                escalate,
                extended: ob.extended_from.is_some(),
            });
        }
    }
    out
}

/// Parses `--as-of`: RFC 3339; a day `YYYY-MM-DD` or `DD/MM/YYYY` (the end of that day in the
/// office time zone); or `YYYY-MM-DDTHH:MM[:SS]`, `DD/MM/YYYY HH:MM` in the office time zone.
pub fn parse_as_of(s: &str, tz: Tz) -> Option<i64> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.timestamp());
    }
    // A day as the office writes it, 10/04/2021, or as ISO, 2021-04-10: the end of that day.
    for f in ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(end_of_day(tz, d).timestamp());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return tz.from_local_datetime(&t).earliest().map(|d| d.timestamp());
        }
    }
    None
}

/// Formats unix seconds as RFC 3339 in the office time zone.
pub fn fmt_instant(tz: Tz, t: i64) -> String {
    match tz.timestamp_opt(t, 0).single() {
        Some(d) => d.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        None => t.to_string(),
    }
}

/// An instant as people in the office write it: `09:12 ngày 20/03/2020`.
pub fn fmt_human(tz: Tz, t: i64) -> String {
    match tz.timestamp_opt(t, 0).single() {
        Some(d) => d.format("%H:%M ngày %d/%m/%Y").to_string(),
        None => t.to_string(),
    }
}

pub fn date_of(tz: Tz, t: i64) -> NaiveDate {
    tz.timestamp_opt(t, 0).single().map(|d| d.date_naive()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::rules::DueMonth;
    use std::path::Path;

    fn cfg(extra_report: &str, shift: bool) -> Config {
        let text = format!(
            r#"
[office]
name = "VP"
address = "vp@so.example"
[calendar]
start = "2020-01-01"
shift_to_workday = {shift}
holidays = ["2020-04-30", "2020-05-01"]
[[unit]]
id = "A"
name = "A"
emails = ["a@x.example"]
group = "g"
[[unit]]
id = "B"
name = "B"
group = "h"
{extra_report}
"#
        );
        Config::from_str_at(&text, Path::new("/tmp/x.toml")).unwrap()
    }

    const QUARTERLY: &str = r#"
[[report]]
id = "q"
name = "Q"
keywords = ["q"]
period = "quarter"
due = { month = "last", day = 25 }
applies_to = ["g"]
remind_before_days = [7, 2]
remind_after_days = [1, 3, 7]
escalate_after_days = 7
"#;

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).unwrap()
    }

    #[test]
    fn the_last_month_rule_lands_in_the_quarters_last_month() {
        let c = cfg(QUARTERLY, false);
        let r = &c.reports[0];
        assert_eq!(due_date(&c.calendar, &r.due, Period::Quarter(2020, 1)), Some(d(2020, 3, 25)));
        assert_eq!(due_date(&c.calendar, &r.due, Period::Quarter(2020, 4)), Some(d(2020, 12, 25)));
    }

    #[test]
    fn a_deadline_on_a_sunday_moves_to_monday() {
        // 2020-10-25 is a Sunday.
        let c = cfg(QUARTERLY, true);
        assert_eq!(due_date(&c.calendar, &c.reports[0].due, Period::Quarter(2020, 4)), Some(d(2020, 12, 25)));
        assert_eq!(due_date(&c.calendar, &c.reports[0].due, Period::Quarter(2020, 3)), Some(d(2020, 9, 25)));
        let rule = DueRule::Relative { month: DueMonth::Next, day: 25, exclusive: false, year_offset: 0 };
        assert_eq!(due_date(&c.calendar, &rule, Period::Quarter(2020, 3)), Some(d(2020, 10, 26)));
    }

    #[test]
    fn a_deadline_on_a_holiday_moves_past_the_holidays_and_the_weekend() {
        let c = cfg(QUARTERLY, true);
        let rule = DueRule::Relative { month: DueMonth::Month(4), day: 30, exclusive: false, year_offset: 0 };
        // 30/4 and 1/5 are holidays, 2-3/5 a weekend.
        assert_eq!(due_date(&c.calendar, &rule, Period::Year(2020)), Some(d(2020, 5, 4)));
    }

    #[test]
    fn exclusive_means_the_day_before_and_year_offset_moves_the_year() {
        let rule = DueRule::Relative { month: DueMonth::Month(12), day: 15, exclusive: true, year_offset: -1 };
        assert_eq!(rule_date(&rule, Period::Year(2021)), Some(d(2020, 12, 14)));
        let next = DueRule::Relative { month: DueMonth::Next, day: 5, exclusive: false, year_offset: 0 };
        assert_eq!(rule_date(&next, Period::Quarter(2020, 4)), Some(d(2021, 1, 5)));
    }

    #[test]
    fn only_owing_groups_have_obligations() {
        let c = cfg(QUARTERLY, false);
        let obs = obligations_in_years(&c, 2020, 2020);
        assert_eq!(obs.len(), 4);
        assert!(obs.iter().all(|o| o.unit.as_str() == "A"));
    }

    #[test]
    fn a_submission_at_the_last_second_is_on_time() {
        let c = cfg(QUARTERLY, false);
        let r = &c.reports[0];
        let obs = obligations_in_years(&c, 2020, 2020);
        let ob = &obs[0];
        let facts = ObligationFacts { first_accepted_at: Some(ob.deadline), ..Default::default() };
        assert_eq!(state_at(r, ob, &facts, ob.deadline + 100), ObligationState::SubmittedOnTime);
        let late = ObligationFacts { first_accepted_at: Some(ob.deadline + 1), ..Default::default() };
        assert_eq!(state_at(r, ob, &late, ob.deadline + 100), ObligationState::SubmittedLate);
        assert_eq!(state_at(r, ob, &ObligationFacts::default(), ob.deadline + 1), ObligationState::Overdue);
        assert_eq!(state_at(r, ob, &ObligationFacts::default(), ob.deadline - 86_400), ObligationState::DueSoon);
        assert_eq!(state_at(r, ob, &ObligationFacts::default(), ob.deadline - 30 * 86_400), ObligationState::Upcoming);
    }

    #[test]
    fn a_stale_reminder_stage_is_not_sent() {
        let c = cfg(QUARTERLY, false);
        let obs: Vec<_> = obligations_in_years(&c, 2020, 2020).into_iter().map(|o| (o, ObligationFacts::default())).collect();
        let tz = c.office.timezone;
        // One day after the Q1 deadline: the after-1 stage.
        let t = start_of_day(tz, d(2020, 3, 26)).timestamp() + 8 * 3600;
        let plan = plan_reminders(&c, &obs, t);
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].stage, "after-1");
        assert_eq!(plan[0].key(), "remind:A:q:2020-Q1:after-1");
        // Twenty days after: every after-stage window has closed.
        let late = start_of_day(tz, d(2020, 4, 14)).timestamp();
        assert!(plan_reminders(&c, &obs, late).iter().all(|s| s.period != Period::Quarter(2020, 1)));
    }

    #[test]
    fn escalation_starts_at_the_configured_day() {
        let c = cfg(QUARTERLY, false);
        let obs: Vec<_> = obligations_in_years(&c, 2020, 2020).into_iter().map(|o| (o, ObligationFacts::default())).collect();
        let t = start_of_day(c.office.timezone, d(2020, 4, 1)).timestamp() + 3600;
        let plan = plan_reminders(&c, &obs, t);
        assert_eq!(plan[0].stage, "after-7");
        assert!(plan[0].escalate);
    }

    #[test]
    fn as_of_accepts_a_date_or_an_instant() {
        let tz: Tz = "Asia/Ho_Chi_Minh".parse().unwrap();
        assert_eq!(parse_as_of("2020-03-26T08:00:00+07:00", tz), Some(1585184400));
        assert_eq!(parse_as_of("2020-03-25", tz), Some(end_of_day(tz, d(2020, 3, 25)).timestamp()));
        assert!(parse_as_of("yesterday", tz).is_none());
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use crate::domain::rules::DueMonth;
    use proptest::prelude::*;

    fn calendar(shift: bool, holidays: Vec<NaiveDate>) -> Calendar {
        Calendar { start: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(), shift_to_workday: shift, holidays: holidays.into_iter().collect() }
    }

    proptest! {
        #[test]
        fn a_shifted_deadline_is_never_a_day_off_and_never_before_the_rule(
            year in 2000i32..2100, q in 1u8..=4, day in 1u32..=28, next in any::<bool>(),
            hol in proptest::collection::vec((1u32..=12, 1u32..=28), 0..30)
        ) {
            let holidays: Vec<NaiveDate> = hol.iter().map(|(m, d)| NaiveDate::from_ymd_opt(year, *m, *d).unwrap()).collect();
            let cal = calendar(true, holidays);
            let rule = DueRule::Relative { month: if next { DueMonth::Next } else { DueMonth::Last }, day, exclusive: false, year_offset: 0 };
            let p = Period::Quarter(year, q);
            let raw = rule_date(&rule, p).unwrap();
            let shifted = due_date(&cal, &rule, p).unwrap();
            prop_assert!(shifted >= raw);
            prop_assert!(!is_day_off(&cal, shifted));
        }

        #[test]
        fn every_period_has_exactly_one_obligation_per_owing_unit(year in 2001i32..2090) {
            let text = r#"
[office]
name = "VP"
address = "vp@so.example"
[[unit]]
id = "A"
name = "A"
group = "g"
[[unit]]
id = "B"
name = "B"
group = "g"
[[unit]]
id = "C"
name = "C"
group = "h"
[[report]]
id = "m"
name = "M"
keywords = ["m"]
period = "month"
due = { month = "next", day = 5 }
applies_to = ["g"]
"#;
            let c = crate::config::Config::from_str_at(text, std::path::Path::new("/tmp/p.toml")).unwrap();
            let obs = obligations_in_years(&c, year, year);
            let mut seen = std::collections::HashSet::new();
            for o in &obs {
                prop_assert!(seen.insert((o.unit.clone(), o.period)));
            }
            prop_assert_eq!(obs.len(), 24);
        }
    }
}

#[cfg(test)]
mod late_week_tests {
    use super::*;
    use crate::domain::{ReportId, UnitId};

    fn ob(unit: &str, deadline: i64) -> Obligation {
        Obligation { unit: UnitId::parse(unit).unwrap(), report: ReportId::parse("r").unwrap(), period: Period::Quarter(2021, 1), due_date: NaiveDate::from_ymd_opt(2021, 4, 9).unwrap(), deadline, extended_from: None }
    }

    #[test]
    fn the_weeks_late_ones_are_those_overdue_in_the_week_and_those_sent_late_in_it() {
        let now = 100 * 86_400;
        let facts = |at: Option<i64>| ObligationFacts { first_accepted_at: at, ..Default::default() };
        let states = vec![
            (ob("A", now - 2 * 86_400), facts(None), ObligationState::Overdue),
            (ob("B", now - 30 * 86_400), facts(None), ObligationState::Overdue),
            (ob("C", now - 20 * 86_400), facts(Some(now - 86_400)), ObligationState::SubmittedLate),
            (ob("D", now - 20 * 86_400), facts(Some(now - 10 * 86_400)), ObligationState::SubmittedLate),
            (ob("E", now - 86_400), facts(Some(now - 2 * 86_400)), ObligationState::SubmittedOnTime),
        ];
        let late: Vec<&str> = late_this_week(&states, now).iter().map(|(o, _, _)| o.unit.as_str()).collect();
        assert_eq!(late, ["C", "A"], "overdue this week and sent late this week, oldest deadline first");
    }
}
