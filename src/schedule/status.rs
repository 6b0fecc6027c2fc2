//! Status as of an instant (SPEC §7): the visible obligations with what the store knew of each
//! by then — accepted versions, exemptions, reminders sent, messages waiting in review — and
//! their states. The one place that gathers these facts; status, reminders, the digest, the
//! workbook and the pages all start here.

use super::{is_visible, obligations_in_years, state_at, Obligation, ObligationFacts};
use crate::config::Config;
use crate::domain::{ObligationKey, ObligationState};
use crate::store::{Store, StoreError};
use chrono::Datelike;
use std::collections::HashMap;

/// Obligations with their facts as of `as_of`, for status and reminders.
pub async fn obligations_as_of(cfg: &Config, store: &Store, as_of: i64) -> Result<Vec<(Obligation, ObligationFacts)>, StoreError> {
    let year = super::date_of(cfg.office.timezone, as_of).year();
    let from_year = (cfg.calendar.start.year() - 1).max(year - 30);
    let obs = obligations_in_years(cfg, from_year, year + 1);
    let mut by_ob: HashMap<ObligationKey, ObligationFacts> = HashMap::new();
    for a in store.accepted_by(as_of).await? {
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
    for e in store.exemptions().await? {
        by_ob.entry(e.obligation).or_default().exempt = true;
    }
    for k in store.review_guesses(as_of).await? {
        by_ob.entry(k).or_default().in_review = true;
    }
    for (k, n) in store.reminders_sent(as_of).await? {
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
    Ok(out)
}

/// The state of every visible obligation at `as_of`.
pub fn states(cfg: &Config, obs: &[(Obligation, ObligationFacts)], as_of: i64) -> Vec<(Obligation, ObligationFacts, ObligationState)> {
    obs.iter()
        .filter_map(|(o, f)| cfg.report(o.report.as_str()).map(|r| (o.clone(), f.clone(), state_at(r, o, f, as_of))))
        .collect()
}

/// Obligations and states as of `as_of` in one call.
pub async fn states_as_of(cfg: &Config, store: &Store, as_of: i64) -> Result<Vec<(Obligation, ObligationFacts, ObligationState)>, StoreError> {
    let obs = obligations_as_of(cfg, store, as_of).await?;
    Ok(states(cfg, &obs, as_of))
}
