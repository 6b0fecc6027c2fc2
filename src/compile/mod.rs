//! Compiling what the office knows at an instant into something people read: the weekly
//! digest's figures (per report kind and period: shares submitted and on time, late units,
//! notable findings) and the status workbook of SPEC §9 ([`workbook`]).
//!
//! [`Snapshot`] is gathered from the store once; everything after it is pure, so the digest,
//! the workbook and the console all show the same facts for the same `as_of`.

pub mod figures;
pub mod form_xlsx;
pub mod workbook;

use crate::config::{Config, Extract};
use crate::domain::{Decision, ObligationKey, ObligationState, Period};
use crate::schedule::{self, Obligation, ObligationFacts};
use crate::store::{Store, StoreError, Submission};
use chrono::{Duration, NaiveDate};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What the office knows at `as_of`: the visible obligations with their states, and every
/// message that had arrived by then.
pub struct Snapshot {
    pub as_of: i64,
    pub obligations: Vec<(Obligation, ObligationFacts, ObligationState)>,
    pub messages: Vec<Submission>,
}

impl Snapshot {
    pub async fn gather(cfg: &Config, store: &Store, as_of: i64) -> Result<Snapshot, StoreError> {
        let mut obligations = schedule::status::states_as_of(cfg, store, as_of).await?;
        let order: HashMap<&str, usize> = cfg.reports.iter().enumerate().map(|(i, r)| (r.id.as_str(), i)).collect();
        let unit_order: HashMap<&str, usize> = cfg.units.iter().enumerate().map(|(i, u)| (u.id.as_str(), i)).collect();
        obligations.sort_by_key(|(o, _, _)| {
            (order.get(o.report.as_str()).copied().unwrap_or(usize::MAX), o.period, unit_order.get(o.unit.as_str()).copied().unwrap_or(usize::MAX))
        });
        let messages = store.messages().await?.into_iter().filter(|m| m.received_at <= as_of).collect();
        Ok(Snapshot { as_of, obligations, messages })
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
            let key = (ob.0.report.to_string(), ob.0.period, ob.0.due_date);
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
        let mut texts: Vec<String> = m.findings.clone();
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
        schedule::obligation(cfg, unit, "q", period).unwrap()
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
        let snap = Snapshot { as_of, obligations: vec![(a, done, ObligationState::SubmittedOnTime)], messages: vec![] };
        assert!(digest(&cfg, &snap).groups.is_empty());
    }
}
