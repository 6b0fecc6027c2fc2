//! The figures read from the units' forms (SPEC §16): one row per accepted report whose kind
//! has a form, keyed by its message. Which version counts is the message's own (its decision and
//! version in `messages`), so a person's decision about a message moves its figures with it.

use super::{storable, Result, Store, StoreError, Tx};
use crate::domain::form::Reading;
use crate::domain::{Decision, ObligationKey, Period, UnitId};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::BTreeMap;

/// One unit's figures for one period, as stored.
#[derive(Debug, Clone)]
pub struct StoredFigures {
    /// The submission (message row) they were read from.
    pub message: i64,
    pub unit: UnitId,
    pub period: Period,
    pub received_at: i64,
    pub version: Option<i64>,
    /// Read by OCR, and who confirmed them (only then do they count).
    pub ocr: bool,
    pub confirmed_by: Option<String>,
    pub reading: Reading,
}

/// One cell of one unit's figures for one period.
#[derive(Debug, Clone)]
pub struct FigureCell {
    pub message: i64,
    pub unit: UnitId,
    pub period: Period,
    pub received_at: i64,
    pub version: Option<i64>,
    pub counted: bool,
    pub value: Option<crate::domain::form::Figure>,
}

/// Who has done what about one report and period (unit ids).
#[derive(Debug, Clone, Default)]
pub struct PeriodUnits {
    pub accepted: std::collections::HashSet<String>,
    pub waiting: std::collections::HashSet<String>,
    pub exempt: std::collections::HashSet<String>,
}

impl StoredFigures {
    /// Whether these figures go into totals: read from the file's own text, or confirmed.
    pub fn counted(&self) -> bool {
        !self.ocr || self.confirmed_by.is_some()
    }
}

const COLS: &str = "f.message, f.unit, f.period, f.received_at, f.ocr, f.confirmed_by, f.reading, m.version";

fn decode(r: &AnyRow, report: Option<&str>, once: &dyn Fn(Option<&str>, &str) -> Result<Period>) -> Result<StoredFigures> {
    let message: i64 = r.try_get("message")?;
    let unit: String = r.try_get("unit")?;
    let period: String = r.try_get("period")?;
    let reading: String = r.try_get("reading")?;
    let what = format!("figures of submission {message}");
    Ok(StoredFigures {
        message,
        unit: UnitId::parse(&unit).map_err(|_| StoreError::Corrupt(format!("{what}: unit {unit:?}")))?,
        period: once(report, &period)?,
        received_at: r.try_get("received_at")?,
        version: r.try_get("version")?,
        ocr: r.try_get::<i64, _>("ocr")? != 0,
        confirmed_by: r.try_get("confirmed_by")?,
        reading: serde_json::from_str(&reading).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))?,
    })
}

/// The latest version of each key among `rows` (the highest version, then the latest arrival).
fn latest<K: Ord>(rows: Vec<StoredFigures>, key: impl Fn(&StoredFigures) -> K) -> Vec<StoredFigures> {
    let mut best: BTreeMap<K, StoredFigures> = BTreeMap::new();
    for f in rows {
        let k = key(&f);
        match best.get(&k) {
            Some(b) if (b.version, b.received_at, b.message) >= (f.version, f.received_at, f.message) => {}
            _ => {
                best.insert(k, f);
            }
        }
    }
    best.into_values().collect()
}

impl Store {
    fn period_reader(&self) -> impl Fn(Option<&str>, &str) -> Result<Period> + '_ {
        move |report, text| self.period_of(report, text, "figures")
    }

    /// Each unit's figures for `report` and `period`: its latest accepted version that had
    /// arrived by `as_of`.
    pub async fn figures_of_period(&self, report: &str, period: Period, as_of: i64) -> Result<Vec<StoredFigures>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM figures f JOIN messages m ON m.office = f.office AND m.id = f.message \
             WHERE f.office = $1 AND f.report = $2 AND f.period = $3 AND f.received_at <= $4 AND m.decision = $5"
        ))
        .bind(&self.office)
        .bind(report)
        .bind(period.to_string())
        .bind(as_of)
        .bind(Decision::Accepted.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(latest(self.decode_all(&rows, report)?, |f| f.unit.clone()))
    }

    fn decode_all(&self, rows: &[AnyRow], report: &str) -> Result<Vec<StoredFigures>> {
        let read = self.period_reader();
        rows.iter().map(|r| decode(r, Some(report), &read)).collect()
    }

    /// Every unit's figures for `report` over its periods (the latest accepted version of each
    /// unit and period), optionally of one unit.
    pub async fn figures_of_report(&self, report: &str, unit: Option<&str>, as_of: i64) -> Result<Vec<StoredFigures>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM figures f JOIN messages m ON m.office = f.office AND m.id = f.message \
             WHERE f.office = $1 AND f.report = $2 AND ($3 = '' OR f.unit = $3) AND f.received_at <= $4 AND m.decision = $5"
        ))
        .bind(&self.office)
        .bind(report)
        .bind(unit.unwrap_or(""))
        .bind(as_of)
        .bind(Decision::Accepted.as_str())
        .fetch_all(&self.pool)
        .await?;
        Ok(latest(self.decode_all(&rows, report)?, |f| (f.unit.clone(), f.period)))
    }

    /// For one report and period, the units with an accepted version, those with a message
    /// waiting in review that names it, and those exempt, as of `as_of`.
    pub async fn period_units(&self, report: &str, period: Period, as_of: i64) -> Result<PeriodUnits> {
        let mut out = PeriodUnits::default();
        let rows = sqlx::query(
            "SELECT DISTINCT unit, decision FROM messages WHERE office = $1 AND report = $2 AND period = $3 AND received_at <= $4 \
             AND unit IS NOT NULL AND decision IN ($5, $6)",
        )
        .bind(&self.office)
        .bind(report)
        .bind(period.to_string())
        .bind(as_of)
        .bind(Decision::Accepted.as_str())
        .bind(Decision::NeedsReview.as_str())
        .fetch_all(&self.pool)
        .await?;
        for r in rows {
            let unit: String = r.try_get("unit")?;
            let decision: String = r.try_get("decision")?;
            if decision == Decision::Accepted.as_str() {
                out.accepted.insert(unit);
            } else {
                out.waiting.insert(unit);
            }
        }
        let rows = sqlx::query("SELECT unit FROM exemptions WHERE office = $1 AND report = $2 AND period = $3")
            .bind(&self.office)
            .bind(report)
            .bind(period.to_string())
            .fetch_all(&self.pool)
            .await?;
        for r in rows {
            out.exempt.insert(r.try_get("unit")?);
        }
        Ok(out)
    }

    /// The periods of `report` some unit's figures are stored for, newest first.
    pub async fn figures_periods(&self, report: &str) -> Result<Vec<Period>> {
        let rows = sqlx::query("SELECT DISTINCT period FROM figures WHERE office = $1 AND report = $2").bind(&self.office).bind(report).fetch_all(&self.pool).await?;
        let mut out = Vec::new();
        for r in rows {
            let t: String = r.try_get("period")?;
            out.push(self.period_of(Some(report), &t, "figures")?);
        }
        out.sort_by(|a, b| b.cmp(a));
        Ok(out)
    }

    /// One cell (row `key`, column `column`) of every unit's figures for `report` in `periods`
    /// (the latest accepted version of each unit and period, as of `as_of`): an indicator over
    /// a year, without reading whole readings.
    pub async fn figure_cells(&self, report: &str, periods: &[Period], key: &str, column: &str, as_of: i64) -> Result<Vec<FigureCell>> {
        if periods.is_empty() {
            return Ok(vec![]);
        }
        let marks: Vec<String> = (0..periods.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "SELECT {COLS} FROM figures f JOIN messages m ON m.office = f.office AND m.id = f.message \
             WHERE f.office = $1 AND f.report = $2 AND f.received_at <= $3 AND m.decision = $4 AND f.period IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(&self.office).bind(report).bind(as_of).bind(Decision::Accepted.as_str());
        for p in periods {
            q = q.bind(p.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut best: BTreeMap<(String, Period), FigureCell> = BTreeMap::new();
        for r in &rows {
            let message: i64 = r.try_get("message")?;
            let unit: String = r.try_get("unit")?;
            let period = self.period_of(Some(report), &r.try_get::<String, _>("period")?, "figures")?;
            let cell = FigureCell {
                message,
                unit: UnitId::parse(&unit).map_err(|_| StoreError::Corrupt(format!("figures of submission {message}: unit {unit:?}")))?,
                period,
                received_at: r.try_get("received_at")?,
                version: r.try_get("version")?,
                counted: r.try_get::<i64, _>("ocr")? == 0 || r.try_get::<Option<String>, _>("confirmed_by")?.is_some(),
                value: Reading::cell_in_json(&r.try_get::<String, _>("reading")?, key, column).flatten(),
            };
            let k = (unit, period);
            if best.get(&k).is_none_or(|b| (b.version, b.received_at, b.message) < (cell.version, cell.received_at, cell.message)) {
                best.insert(k, cell);
            }
        }
        Ok(best.into_values().collect())
    }

    /// The figures read from one submission, if any.
    pub async fn figures_of_message(&self, message: i64) -> Result<Option<StoredFigures>> {
        let row = sqlx::query(&format!("SELECT {COLS}, f.report FROM figures f JOIN messages m ON m.office = f.office AND m.id = f.message WHERE f.office = $1 AND f.message = $2"))
            .bind(&self.office)
            .bind(message)
            .fetch_optional(&self.pool)
            .await?;
        let read = self.period_reader();
        row.map(|r| {
            let report: String = r.try_get("report")?;
            decode(&r, Some(&report), &read)
        })
        .transpose()
    }
}

impl Tx<'_> {
    /// Writes (or rewrites) the figures read from message `message` for its obligation.
    pub async fn put_figures(&mut self, message: i64, ob: &ObligationKey, received_at: i64, reading: &Reading) -> Result<()> {
        self.drop_figures(message).await?;
        let json = serde_json::to_string(reading).map_err(|e| StoreError::Corrupt(format!("figures of submission {message}: {e}")))?;
        sqlx::query("INSERT INTO figures (office, message, unit, report, period, received_at, ocr, reading) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(self.office)
            .bind(message)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .bind(received_at)
            .bind(i64::from(reading.ocr))
            .bind(storable(&json).into_owned())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// The reading stored for message `message`, if any.
    pub async fn figures_reading(&mut self, message: i64) -> Result<Option<Reading>> {
        let row = sqlx::query("SELECT reading FROM figures WHERE office = $1 AND message = $2").bind(self.office).bind(message).fetch_optional(&mut *self.tx).await?;
        row.map(|r| {
            let text: String = r.try_get("reading")?;
            serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("figures of submission {message}: {e}")))
        })
        .transpose()
    }

    /// Forgets the figures of message `message` (it no longer counts for a form report).
    pub async fn drop_figures(&mut self, message: i64) -> Result<()> {
        sqlx::query("DELETE FROM figures WHERE office = $1 AND message = $2").bind(self.office).bind(message).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Marks OCR figures as confirmed by `by`; false when the message has none waiting.
    pub async fn confirm_figures(&mut self, message: i64, by: &str, at: i64) -> Result<bool> {
        let n = sqlx::query("UPDATE figures SET confirmed_by = $3, confirmed_at = $4 WHERE office = $1 AND message = $2 AND ocr = 1 AND confirmed_by IS NULL")
            .bind(self.office)
            .bind(message)
            .bind(storable(by).into_owned())
            .bind(at)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// A unit's figures for a report over its periods, as this transaction sees them (the
    /// messages of a batch recorded before this one included): the latest accepted version of
    /// each period, `except` one message (the one being read).
    pub async fn unit_figures(&mut self, unit: &UnitId, report: &str, except: i64) -> Result<Vec<(Period, Reading)>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLS} FROM figures f JOIN messages m ON m.office = f.office AND m.id = f.message \
             WHERE f.office = $1 AND f.report = $2 AND f.unit = $3 AND f.message <> $4 AND m.decision = $5"
        ))
        .bind(self.office)
        .bind(report)
        .bind(unit.as_str())
        .bind(except)
        .bind(Decision::Accepted.as_str())
        .fetch_all(&mut *self.tx)
        .await?;
        let plain = |_: Option<&str>, t: &str| t.parse::<Period>().map_err(|_| StoreError::Corrupt(format!("figures: period {t:?}")));
        let all = rows.iter().map(|r| decode(r, None, &plain)).collect::<Result<Vec<_>>>()?;
        Ok(latest(all, |f| f.period).into_iter().map(|f| (f.period, f.reading)).collect())
    }
}
