//! Compiling what the office knows at an instant into something people read: the weekly
//! digest's figures (per report kind and period: shares submitted and on time, late units,
//! notable findings) and the status workbook of SPEC §9 ([`workbook`]).
//!
//! [`Snapshot`] is gathered from the store once ([`crate::facts::snapshot`]); everything here is
//! pure, so the digest, the workbook and the console all show the same facts for the same
//! `as_of`.

pub mod figures;
pub mod form_xlsx;
pub mod workbook;

use crate::config::{Config, Extract};
use crate::domain::{Decision, ObligationKey, ObligationState, Period};
use crate::schedule::{self, Obligation, ObligationFacts};
use crate::store::Submission;
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What the office knows at `as_of`: the visible obligations with their states, every message
/// that had arrived by then, and each form report's figures (SPEC §16).
pub struct Snapshot {
    pub as_of: i64,
    pub obligations: Vec<(Obligation, ObligationFacts, ObligationState)>,
    pub messages: Vec<Submission>,
    pub figures: Vec<FormFigures>,
}

/// A form report's figures compiled for a period, and for the period before it.
pub struct FormFigures {
    pub current: figures::Compiled,
    pub previous: Option<figures::Compiled>,
}

impl Snapshot {
    /// The snapshot of what [`crate::facts::snapshot`] read: obligations in the office's order
    /// (report kinds as configured, then period, then units as configured), the messages that had
    /// arrived by `as_of`.
    pub fn new(cfg: &Config, as_of: i64, mut obligations: Vec<(Obligation, ObligationFacts, ObligationState)>, messages: Vec<Submission>, figures: Vec<FormFigures>) -> Snapshot {
        let order: HashMap<&str, usize> = cfg.reports.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
        let unit_order: HashMap<&str, usize> = cfg.units.iter().enumerate().map(|(i, u)| (u.id.as_str(), i)).collect();
        obligations.sort_by_key(|(o, _, _)| {
            (order.get(o.report.as_str()).copied().unwrap_or(usize::MAX), o.period, unit_order.get(o.unit.as_str()).copied().unwrap_or(usize::MAX))
        });
        let messages = messages.into_iter().filter(|m| m.received_at <= as_of).collect();
        Snapshot { as_of, obligations, messages, figures }
    }

    /// The latest accepted version of each (unit, report, period) that had arrived by `as_of`.
    pub fn latest_accepted(&self) -> Vec<&Submission> {
        let mut best: BTreeMap<(String, Period, String), &Submission> = BTreeMap::new();
        for m in self.messages.iter().filter(|m| m.decision == Decision::Accepted) {
            let Some(ObligationKey { unit, report, period }) = m.obligation() else { continue };
            let k = (report.to_string(), period, unit.to_string());
            if best.get(&k).is_none_or(|b| (m.version, m.received_at) > (b.version, b.received_at)) {
                best.insert(k, m);
            }
        }
        best.into_values().collect()
    }

    /// Obligation groups (report, period) in config order, each with its obligations.
    pub fn groups(&self) -> Vec<((String, Period, NaiveDate), Vec<&(Obligation, ObligationFacts, ObligationState)>)> {
        let mut out: Vec<((String, Period, NaiveDate), Vec<&(Obligation, ObligationFacts, ObligationState)>)> = Vec::new();
        for ob in &self.obligations {
            let key = (ob.0.report.to_string(), ob.0.period, ob.0.extended_from.unwrap_or(ob.0.due_date));
            match out.last_mut() {
                Some((k, v)) if k.0 == key.0 && k.1 == key.1 => v.push(ob),
                _ => out.push((key, vec![ob])),
            }
        }
        out
    }
}

/// The reports whose extractor is `e`, in config order.
pub fn reports_with(cfg: &Config, e: Extract) -> Vec<&crate::config::Report> {
    cfg.reports.iter().filter(|r| r.extract == e).collect()
}

/// The colour of a state wherever states are shown (workbook, pages, mails).
pub fn state_rgb(s: ObligationState) -> u32 {
    match s {
        ObligationState::SubmittedOnTime => 0xC6EFCE,
        ObligationState::SubmittedLate => 0xFFEB9C,
        ObligationState::Overdue => 0xFFC7CE,
        ObligationState::DueSoon => 0xFCE4D6,
        ObligationState::Upcoming => 0xFFFFFF,
        ObligationState::Exempt => 0xD9D9D9,
        ObligationState::InReview => 0xDDEBF7,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnitDays {
    pub id: String,
    pub name: String,
    pub days: i64,
}

/// One report kind and period in the digest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DigestGroup {
    pub report_id: String,
    pub report: String,
    pub period_id: String,
    pub period: String,
    pub due: String,
    pub owing: usize,
    pub submitted: usize,
    pub on_time: usize,
    pub exempt: usize,
    pub submitted_pct: u32,
    pub on_time_pct: u32,
    /// Submitted after the deadline, with how many days late.
    pub late: Vec<UnitDays>,
    /// Not submitted and past the deadline, with days overdue.
    pub overdue: Vec<UnitDays>,
    /// Not submitted, deadline still ahead.
    pub pending: Vec<UnitDays>,
    /// A message waits in review with this obligation as its best guess.
    pub in_review: Vec<UnitDays>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub unit: String,
    pub report: String,
    pub period: String,
    /// The report with its period, as people read it.
    pub title: String,
    pub text: String,
}

/// One indicator's total in the digest, against the period before.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DigestFigure {
    pub number: String,
    pub label: String,
    pub unit: String,
    pub total: String,
    pub previous: String,
    /// `+12,5%`, `−3%`, or empty when there is nothing to compare with.
    pub change: String,
}

/// A form report's notable figures in the digest (SPEC §16): its totals against the previous
/// period (the indicators that moved most), and the figures that failed a check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DigestFigures {
    /// The report with its period, as an office writes it.
    pub title: String,
    pub report: String,
    pub period: String,
    pub previous_period: String,
    pub column: String,
    pub units: usize,
    /// Units counted in the previous period's totals (a change may come from more units sending).
    pub previous_units: usize,
    pub missing: usize,
    pub rows: Vec<DigestFigure>,
    /// Indicators not listed (they are in the attached workbook).
    pub more: usize,
    pub failed: Vec<UnitText>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnitText {
    pub unit: String,
    pub text: String,
}

/// How many indicators a form report shows in the digest.
const DIGEST_FIGURES: usize = 8;

fn digest_figures(cfg: &Config, f: &FormFigures) -> DigestFigures {
    use crate::domain::form::{ColumnKind, RowKind};
    let c = &f.current;
    let form = &c.form;
    let col = form.columns.iter().position(|x| x.kind == ColumnKind::Period).unwrap_or(0);
    let prev_total = |ri: usize| f.previous.as_ref().and_then(|p| p.totals.get(ri).and_then(|r| r[col]));
    let mut rows: Vec<(usize, f64, DigestFigure)> = Vec::new();
    for (ri, r) in form.rows.iter().enumerate() {
        if !matches!(r.kind, RowKind::Figure | RowKind::Total) {
            continue;
        }
        let Some(t) = c.totals[ri][col] else { continue };
        let before = prev_total(ri);
        let (change, weight) = match before {
            Some(b) if b != 0.0 => {
                let pct = (t - b) / b * 100.0;
                let sign = if pct > 0.0 { "+" } else if pct < 0.0 { "−" } else { "" };
                (format!("{sign}{}%", crate::text::num_vi((pct.abs() * 10.0).round() / 10.0)), pct.abs())
            }
            _ => (String::new(), 0.0),
        };
        rows.push((ri, weight, DigestFigure {
            number: r.number.clone().unwrap_or_default(),
            label: r.label.clone(),
            unit: r.unit.clone().unwrap_or_default(),
            total: crate::text::num_vi(t),
            previous: before.map(crate::text::num_vi).unwrap_or_default(),
            change,
        }));
    }
    let all = rows.len();
    // The indicators that moved most, shown in the form's order.
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.truncate(DIGEST_FIGURES);
    rows.sort_by_key(|r| r.0);
    let name = |u: &crate::domain::UnitId| cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string());
    let failed: Vec<UnitText> = c.units.iter().flat_map(|u| u.findings.iter().map(move |t| (u, t))).take(20).map(|(u, t)| UnitText { unit: name(&u.unit), text: t.clone() }).collect();
    DigestFigures {
        title: c.period.title(&c.report_name),
        report: c.report_name.clone(),
        period: c.period.label_vi(),
        previous_period: f.previous.as_ref().map(|p| p.period.label_vi()).unwrap_or_default(),
        column: form.columns[col].name.clone(),
        units: c.units.iter().filter(|u| u.counted).count(),
        previous_units: f.previous.as_ref().map_or(0, |p| p.units.iter().filter(|u| u.counted).count()),
        missing: c.missing.len(),
        more: all - rows.len(),
        rows: rows.into_iter().map(|r| r.2).collect(),
        failed,
    }
}

/// The digest for the week ending at `as_of`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Digest {
    pub week: String,
    pub week_start: String,
    pub week_end: String,
    pub received: usize,
    pub accepted: usize,
    pub review: usize,
    pub groups: Vec<DigestGroup>,
    pub findings: Vec<Finding>,
    /// Each form report's notable figures.
    pub figures: Vec<DigestFigures>,
}

/// Days between two instants' office dates (how late a submission was, in calendar days).
pub(crate) fn days_between(cfg: &Config, from: i64, to: i64) -> i64 {
    let tz = cfg.office.timezone;
    (schedule::date_of(tz, to) - schedule::date_of(tz, from)).num_days().max(0)
}

fn pct(n: usize, d: usize) -> u32 {
    if d == 0 {
        0
    } else {
        ((n as f64 * 100.0 / d as f64).round()) as u32
    }
}

/// The digest of the week that ends at `as_of`: every report kind and period whose deadline
/// falls in the reminder window around this week (recently due, or due soon), that received a
/// submission this week, or that some unit still owes past its deadline; and the findings of the
/// submissions received this week.
pub fn digest(cfg: &Config, snap: &Snapshot) -> Digest {
    let tz = cfg.office.timezone;
    let end = schedule::date_of(tz, snap.as_of);
    let start = end - Duration::days(6);
    let week_from = schedule::end_of_day(tz, start - Duration::days(1)).timestamp();
    let this_week: Vec<&Submission> = snap.messages.iter().filter(|m| m.received_at > week_from).collect();
    let touched: std::collections::HashSet<(String, Period)> =
        this_week.iter().filter_map(|m| Some((m.report.as_ref()?.to_string(), m.period?))).collect();
    let mut groups = Vec::new();
    for ((report_id, period, due), obs) in snap.groups() {
        let Some(report) = cfg.report(&report_id) else { continue };
        let ahead = report.remind_before_days.iter().copied().max().unwrap_or(0).max(7);
        let behind = report.remind_after_days.iter().copied().max().unwrap_or(0).max(7) + 7;
        let in_window = due >= start - Duration::days(behind) && due <= end + Duration::days(ahead);
        // Obligations still overdue stay in every digest until they are submitted or exempted,
        // however long ago they were due.
        let still_overdue = obs.iter().any(|(_, _, s)| *s == ObligationState::Overdue);
        if !in_window && !still_overdue && !touched.contains(&(report_id.clone(), period)) {
            continue;
        }
        let mut g = DigestGroup {
            report_id: report_id.clone(),
            report: report.name.clone(),
            period_id: period.to_string(),
            period: period.label_vi(),
            due: due.format("%d/%m/%Y").to_string(),
            owing: 0,
            submitted: 0,
            on_time: 0,
            exempt: 0,
            submitted_pct: 0,
            on_time_pct: 0,
            late: vec![],
            overdue: vec![],
            pending: vec![],
            in_review: vec![],
        };
        for (o, f, s) in obs {
            let name = cfg.unit(o.unit.as_str()).map(|u| u.name.clone()).unwrap_or_else(|| o.unit.to_string());
            let ud = |days| UnitDays { id: o.unit.to_string(), name: name.clone(), days };
            match s {
                ObligationState::Exempt => {
                    g.exempt += 1;
                    continue;
                }
                ObligationState::SubmittedOnTime => {
                    g.submitted += 1;
                    g.on_time += 1;
                }
                ObligationState::SubmittedLate => {
                    g.submitted += 1;
                    g.late.push(ud(days_between(cfg, o.deadline, f.first_accepted_at.unwrap_or(o.deadline)).max(1)));
                }
                ObligationState::Overdue => g.overdue.push(ud(days_between(cfg, o.deadline, snap.as_of).max(1))),
                ObligationState::Upcoming | ObligationState::DueSoon => g.pending.push(ud(0)),
                ObligationState::InReview => g.in_review.push(ud(0)),
            }
            g.owing += 1;
        }
        g.submitted_pct = pct(g.submitted, g.owing);
        g.on_time_pct = pct(g.on_time, g.owing);
        g.overdue.sort_by(|a, b| b.days.cmp(&a.days));
        groups.push(g);
    }
    // Figures that failed a check are listed with their report's figures, not twice.
    let in_figures: std::collections::HashSet<String> =
        snap.figures.iter().flat_map(|f| f.current.units.iter().flat_map(|u| u.findings.iter().map(move |t| format!("{}: {t}", u.document)))).collect();
    let mut findings = Vec::new();
    for m in &this_week {
        let unit = m
            .unit
            .as_ref()
            .and_then(|u| cfg.unit(u.as_str()))
            .map(|u| u.name.clone())
            .or_else(|| m.from_addr.clone())
            .unwrap_or_default();
        let report = m.report.as_ref().and_then(|r| cfg.report(r.as_str())).map(|r| r.name.clone()).unwrap_or_default();
        let period = m.period.map(|p| p.label_vi()).unwrap_or_default();
        let title = match m.period {
            Some(p) if !report.is_empty() => p.title(&report),
            _ => format!("{report} {period}").trim().to_string(),
        };
        let mut texts: Vec<String> = m.findings.iter().filter(|f| !in_figures.contains(*f)).cloned().collect();
        if m.decision == Decision::NeedsReview {
            texts.push(format!("chờ xem xét: {}", m.reasons.join("; ")));
        }
        if m.decision == Decision::Rejected {
            texts.push(format!("không đọc được: {}", m.reasons.join("; ")));
        }
        for t in texts {
            findings.push(Finding { unit: unit.clone(), report: report.clone(), period: period.clone(), title: title.clone(), text: t });
        }
    }
    let iso = end.format("%G-W%V").to_string();
    Digest {
        week: iso,
        week_start: start.format("%d/%m/%Y").to_string(),
        week_end: end.format("%d/%m/%Y").to_string(),
        received: this_week.len(),
        accepted: this_week.iter().filter(|m| m.decision == Decision::Accepted).count(),
        review: this_week.iter().filter(|m| m.decision == Decision::NeedsReview).count(),
        groups,
        findings,
        figures: snap.figures.iter().map(|f| digest_figures(cfg, f)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn office() -> Config {
        let text = r#"
[office]
name = "VP"
address = "vp@so.example"
[calendar]
start = "2021-01-01"
[[unit]]
id = "A"
name = "Trung tâm A"
group = "g"
[[unit]]
id = "B"
name = "Trung tâm B"
group = "g"
[[report]]
id = "q"
name = "Báo cáo quý"
keywords = ["báo cáo quý"]
period = "quarter"
due = { month = "next", day = 10 }
remind_after_days = [1, 3]
"#;
        Config::from_str_at(text, std::path::Path::new("/tmp/c.toml")).unwrap()
    }

    fn ob(cfg: &Config, unit: &str, period: Period) -> Obligation {
        schedule::obligation(cfg, &ObligationKey::named(unit, "q", period).unwrap()).unwrap()
    }

    #[test]
    fn the_digest_keeps_listing_units_that_never_sent_a_report_long_after_its_deadline() {
        let cfg = office();
        let q4 = Period::Quarter(2021, 4);
        let (a, b) = (ob(&cfg, "A", q4), ob(&cfg, "B", q4));
        // Ten weeks after the deadline of 10/01/2022: far outside the reminder window.
        let as_of = a.deadline + 70 * 86_400;
        let done = ObligationFacts { first_accepted_at: Some(a.deadline - 86_400), ..Default::default() };
        let snap = Snapshot {
            as_of,
            obligations: vec![(a, done, ObligationState::SubmittedOnTime), (b, ObligationFacts::default(), ObligationState::Overdue)],
            messages: vec![],
            figures: vec![],
        };
        let d = digest(&cfg, &snap);
        assert_eq!(d.groups.len(), 1, "the quarter some unit still owes is listed");
        let g = &d.groups[0];
        assert_eq!((g.report_id.as_str(), g.period.as_str()), ("q", "quý IV năm 2021"));
        assert_eq!(g.overdue.len(), 1);
        assert_eq!((g.overdue[0].id.as_str(), g.overdue[0].days), ("B", 70));
        assert_eq!((g.submitted, g.owing), (1, 2));
    }

    #[test]
    fn a_quarter_everyone_submitted_leaves_the_digest_once_its_window_has_passed() {
        let cfg = office();
        let a = ob(&cfg, "A", Period::Quarter(2021, 4));
        let as_of = a.deadline + 70 * 86_400;
        let done = ObligationFacts { first_accepted_at: Some(a.deadline - 86_400), ..Default::default() };
        let snap = Snapshot { as_of, obligations: vec![(a, done, ObligationState::SubmittedOnTime)], messages: vec![], figures: vec![] };
        assert!(digest(&cfg, &snap).groups.is_empty());
    }
}
