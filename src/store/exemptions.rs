//! Exemptions the office set: an obligation a unit does not owe this period.

use sqlx::Row;
use super::{now, storable, Result, Store, Tx};
use crate::domain::ObligationKey;
use serde::Serialize;

/// An exemption the office set.
#[derive(Debug, Clone, Serialize)]
pub struct Exemption {
    pub obligation: ObligationKey,
    pub reason: String,
    pub by: String,
    pub at: i64,
}

impl Store {
    pub async fn exemptions(&self) -> Result<Vec<Exemption>> {
        let rows = sqlx::query("SELECT unit, report, period, reason, by_whom, at FROM exemptions WHERE office = $1 ORDER BY at")
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Exemption {
                    obligation: self.obligation_of(r, "an exemption")?,
                    reason: r.try_get("reason")?,
                    by: r.try_get("by_whom")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }
}

impl Tx<'_> {
    pub async fn exempt(&mut self, ob: &ObligationKey, reason: &str, by: &str) -> Result<()> {
        let (reason, by) = (storable(reason), storable(by));
        let (reason, by) = (reason.as_ref(), by.as_ref());
        let sql = "INSERT INTO exemptions (office, unit, report, period, reason, by_whom, at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                   ON CONFLICT (office, unit, report, period) DO UPDATE SET reason = $5, by_whom = $6, at = $7";
        sqlx::query(sql)
            .bind(self.office)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .bind(reason)
            .bind(by)
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Removes an exemption; false when there was none.
    pub async fn withdraw_exemption(&mut self, ob: &ObligationKey) -> Result<bool> {
        let r = sqlx::query("DELETE FROM exemptions WHERE office = $1 AND unit = $2 AND report = $3 AND period = $4")
            .bind(self.office)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}
