//! What the store knew at an instant, read once and handed to the pure cores: the visible
//! obligations with their facts and states ([`crate::schedule::status`]), the snapshot the
//! digest, the workbook and the pages compile ([`crate::compile::Snapshot`]), and a form
//! report's stored figures ([`crate::compile::figures`]). Those cores never read the store;
//! office, the console and the command line start here.

use crate::compile::figures::{Compiled, FiguresError, Series};
use crate::compile::{FormFigures, Snapshot};
use crate::config::Config;
use crate::domain::{ObligationState, Period};
use crate::schedule::{status, Obligation, ObligationFacts};
use crate::store::{Store, StoreError};

/// The obligations visible at `as_of` with what the store knew of each by then.
pub async fn obligations_as_of(cfg: &Config, store: &Store, as_of: i64) -> Result<Vec<(Obligation, ObligationFacts)>, StoreError> {
    let known = status::Known {
        accepted: store.accepted_by(as_of).await?,
        exempt: store.exemptions().await?.into_iter().map(|e| e.obligation).collect(),
        in_review: store.review_guesses(as_of).await?,
        reminders_sent: store.reminders_sent(as_of).await?,
    };
    Ok(status::obligations(cfg, as_of, known))
}

/// The visible obligations at `as_of` with their facts and states.
pub async fn states_as_of(cfg: &Config, store: &Store, as_of: i64) -> Result<Vec<(Obligation, ObligationFacts, ObligationState)>, StoreError> {
    let obs = obligations_as_of(cfg, store, as_of).await?;
    Ok(status::states(cfg, &obs, as_of))
}

/// What the office knows at `as_of`, with the form reports' figures of `period` when given
/// (`export --period`), else of each one's latest period with figures.
pub async fn snapshot(cfg: &Config, store: &Store, as_of: i64, period: Option<Period>) -> Result<Snapshot, StoreError> {
    let obligations = states_as_of(cfg, store, as_of).await?;
    let messages = store.messages().await?;
    let figures = form_figures(cfg, store, as_of, period).await?;
    Ok(Snapshot::new(cfg, as_of, obligations, messages, figures))
}

/// A form report's figures for `period`, from the readings stored by `as_of`.
pub async fn figures(cfg: &Config, store: &Store, report: &str, period: Period, as_of: i64) -> Result<Compiled, FiguresError> {
    let (r, form) = Compiled::ask(cfg, report, period)?;
    let stored = store.figures_of_period(report, period, as_of).await?;
    let who = store.period_units(report, period, as_of).await?;
    Ok(Compiled::build(cfg, r, form, period, stored, &who))
}

/// One indicator of a form report over the periods of `year` (see [`Series::ask`]).
pub async fn series(cfg: &Config, store: &Store, report: &str, year: i32, row: &str, column: Option<&str>, as_of: i64) -> Result<Series, FiguresError> {
    let ask = Series::ask(cfg, report, year, row, column)?;
    Ok(if ask.whole {
        let stored = store.figures_of_report(report, None, as_of).await?;
        Series::of_readings(cfg, ask, stored)
    } else {
        let cells = store.figure_cells(report, &ask.periods, &ask.form.rows[ask.row].key, &ask.form.columns[ask.column].name, as_of).await?;
        Series::of_cells(cfg, ask, cells)
    })
}

/// Each form report's figures as of `as_of`: for `period` when given (and of the report's
/// kind), else the latest period some unit's figures had arrived for.
async fn form_figures(cfg: &Config, store: &Store, as_of: i64, period: Option<Period>) -> Result<Vec<FormFigures>, StoreError> {
    let mut out = Vec::new();
    for r in cfg.reports.iter().filter(|r| r.form.is_some()) {
        let candidates: Vec<Period> = match period {
            Some(p) if p.kind() == r.period => vec![p],
            Some(_) => continue,
            None => store.figures_periods(r.id.as_str()).await?,
        };
        for p in candidates {
            let c = match figures(cfg, store, r.id.as_str(), p, as_of).await {
                Ok(c) => c,
                Err(FiguresError::Store(e)) => return Err(e),
                Err(_) => continue,
            };
            if c.units.is_empty() && period.is_none() {
                continue;
            }
            let previous = match crate::parse::form::checks::previous_period(p) {
                Some(pp) => figures(cfg, store, r.id.as_str(), pp, as_of).await.ok().filter(|c| !c.units.is_empty()),
                None => None,
            };
            out.push(FormFigures { current: c, previous });
            break;
        }
    }
    Ok(out)
}
