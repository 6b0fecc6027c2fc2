//! Status as of an instant (SPEC §7): the visible obligations with what the store knew of each
//! by then — accepted versions, exemptions, reminders sent, messages waiting in review — and
//! their states. Pure: the facts are read by [`crate::facts`], which status, reminders, the
//! digest, the workbook and the pages all start from.

use super::{is_visible, obligations_in_years, state_at, Obligation, ObligationFacts};
use crate::config::Config;
use crate::domain::{AcceptedFact, ObligationKey, ObligationState};
use chrono::Datelike;
use std::collections::HashMap;

/// What the store knew by an instant, as [`obligations`] takes it.
#[derive(Debug, Default)]
pub struct Known {
    /// Accepted submissions that had arrived, in any order.
    pub accepted: Vec<AcceptedFact>,
    pub exempt: Vec<ObligationKey>,
    /// The obligations that messages waiting in review name as their best guess.
    pub in_review: Vec<ObligationKey>,
    /// Reminder stages sent per obligation.
    pub reminders_sent: HashMap<ObligationKey, i64>,
}

/// The obligations visible at `as_of` with their facts, for status and reminders.
pub fn obligations(cfg: &Config, as_of: i64, known: Known) -> Vec<(Obligation, ObligationFacts)> {
    let year = super::date_of(cfg.office.timezone, as_of).year();
    let from_year = (cfg.calendar.start.year() - 1).max(year - 30);
    let obs = obligations_in_years(cfg, from_year, year + 1);
    let mut by_ob: HashMap<ObligationKey, ObligationFacts> = HashMap::new();
    for a in known.accepted {
        // Whatever order the store gives them in: the first arrival, and the latest with its version.
        let f = by_ob.entry(a.obligation).or_default();
        if f.first_accepted_at.is_none_or(|t| a.received_at < t) {
            f.first_accepted_at = Some(a.received_at);
        }
        if f.latest_at.is_none_or(|t| a.received_at >= t) {
            f.latest_at = Some(a.received_at);
            f.latest_version = Some(a.version);
        }
    }
    for k in known.exempt {
        by_ob.entry(k).or_default().exempt = true;
    }
    for k in known.in_review {
        by_ob.entry(k).or_default().in_review = true;
    }
    for (k, n) in known.reminders_sent {
        by_ob.entry(k).or_default().reminders_sent = n;
    }
    let mut out = Vec::new();
    for ob in obs {
        let facts = by_ob.get(&ob.key()).cloned().unwrap_or_default();
        let Some(report) = cfg.report(ob.report.as_str()) else { continue };
        if is_visible(report, &ob, &facts, cfg.office.timezone, as_of) {
            out.push((ob, facts));
        }
    }
    out
}

/// The state of every visible obligation at `as_of`.
pub fn states(cfg: &Config, obs: &[(Obligation, ObligationFacts)], as_of: i64) -> Vec<(Obligation, ObligationFacts, ObligationState)> {
    obs.iter()
        .filter_map(|(o, f)| cfg.report(o.report.as_str()).map(|r| (o.clone(), f.clone(), state_at(r, o, f, as_of))))
        .collect()
}
