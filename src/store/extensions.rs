//! Deadlines extended by the office (SPEC §17 *gia hạn*): one new due date per obligation, read
//! into the rules (`domain::rules::Extension`) wherever they are read.

use super::{storable, Result, Store, Tx};
use crate::domain::rules::Extension;
use crate::domain::ObligationKey;
use chrono::NaiveDate;
use sqlx::Row;

impl Store {
    /// Every extension the office granted, oldest first.
    pub async fn extensions(&self) -> Result<Vec<Extension>> {
        let rows = sqlx::query("SELECT unit, report, period, until_date, reason, by_whom, at FROM extensions WHERE office = $1 ORDER BY at, unit, report, period")
            .bind(&self.office)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let ob = self.obligation_of(r, "an extension")?;
            let until: String = r.try_get("until_date")?;
            let Ok(until) = NaiveDate::parse_from_str(&until, "%Y-%m-%d") else {
                return Err(super::corrupt("an extension", "until_date", &until));
            };
            out.push(Extension { unit: ob.unit, report: ob.report, period: ob.period, until, reason: r.try_get("reason")?, by: r.try_get("by_whom")?, at: r.try_get("at")? });
        }
        Ok(out)
    }

    /// A stamp that changes whenever an extension is granted, changed or withdrawn.
    pub async fn extensions_stamp(&self) -> Result<(i64, i64)> {
        let row = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(at), 0) AS t FROM extensions WHERE office = $1").bind(&self.office).fetch_one(&self.pool).await?;
        Ok((row.try_get("n")?, row.try_get("t")?))
    }
}

impl Tx<'_> {
    /// Grants (or moves) the new deadline of one obligation.
    pub async fn extend(&mut self, ob: &ObligationKey, until: NaiveDate, reason: &str, by: &str, at: i64) -> Result<()> {
        let (reason, by) = (storable(reason), storable(by));
        let sql = "INSERT INTO extensions (office, unit, report, period, until_date, reason, by_whom, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                   ON CONFLICT (office, unit, report, period) DO UPDATE SET until_date = $5, reason = $6, by_whom = $7, at = $8";
        sqlx::query(sql)
            .bind(self.office)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .bind(until.format("%Y-%m-%d").to_string())
            .bind(reason.as_ref())
            .bind(by.as_ref())
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    /// Withdraws an extension; false when the obligation had none.
    pub async fn withdraw_extension(&mut self, ob: &ObligationKey) -> Result<bool> {
        let r = sqlx::query("DELETE FROM extensions WHERE office = $1 AND unit = $2 AND report = $3 AND period = $4")
            .bind(self.office)
            .bind(ob.unit.as_str())
            .bind(ob.report.as_str())
            .bind(ob.period.to_string())
            .execute(&mut *self.tx)
            .await?;
        Ok(r.rows_affected() > 0)
    }
}

impl Tx<'_> {
    /// Judges the accepted versions of one obligation again against its deadline (after an
    /// extension is granted or withdrawn): their due date, deadline and timeliness.
    pub async fn rejudge(&mut self, ob: &ObligationKey, due: NaiveDate, deadline: i64) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE messages SET due = $5, deadline = $6, timeliness = CASE WHEN received_at <= $6 THEN $7 ELSE $8 END \
             WHERE office = $1 AND unit = $2 AND report = $3 AND period = $4 AND decision = $9",
        )
        .bind(self.office)
        .bind(ob.unit.as_str())
        .bind(ob.report.as_str())
        .bind(ob.period.to_string())
        .bind(due.format("%Y-%m-%d").to_string())
        .bind(deadline)
        .bind(crate::domain::Timeliness::OnTime.as_str())
        .bind(crate::domain::Timeliness::Late.as_str())
        .bind(crate::domain::Decision::Accepted.as_str())
        .execute(&mut *self.tx)
        .await?;
        Ok(r.rows_affected())
    }
}
