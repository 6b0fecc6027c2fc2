//! The reminder stages decided per obligation: each stage is recorded once, by its key, so a
//! reminder is never sent twice whatever runs the planner.

use sqlx::Row;
use super::{Result, Store, Tx};
use crate::domain::ObligationKey;
use std::collections::HashMap;

impl Store {
    /// Reminder stages sent per obligation, by `as_of`.
    pub async fn reminders_sent(&self, as_of: i64) -> Result<HashMap<ObligationKey, i64>> {
        let rows = sqlx::query(
            "SELECT unit, report, period, COUNT(*) AS n FROM reminder_stages WHERE office = $1 AND at <= $2 GROUP BY unit, report, period",
        )
        .bind(&self.office)
        .bind(as_of)
        .fetch_all(&self.pool)
        .await?;
        let mut m = HashMap::new();
        for r in rows {
            m.insert(self.obligation_of(&r, "a reminder stage")?, r.try_get::<i64, _>("n")?);
        }
        Ok(m)
    }

    pub async fn stage_sent(&self, key: &str) -> Result<bool> {
        let r = sqlx::query("SELECT key FROM reminder_stages WHERE office = $1 AND key = $2")
            .bind(&self.office)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(r.is_some())
    }
}

impl Tx<'_> {
    /// Records that a reminder stage was decided; false when it already was.
    pub async fn record_stage(&mut self, key: &str, ob: &ObligationKey, at: i64) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO reminder_stages (office, key, unit, report, period, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (office, key) DO NOTHING RETURNING key",
        )
        .bind(self.office)
        .bind(key)
        .bind(ob.unit.as_str())
        .bind(ob.report.as_str())
        .bind(ob.period.to_string())
        .bind(at)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(r.is_some())
    }
}
