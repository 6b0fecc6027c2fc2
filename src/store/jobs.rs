//! When each scheduled job (reminders, digest, office status) last ran for the office.

use sqlx::Row;
use super::{Result, Store};
use crate::domain::Job;

impl Store {
    /// When a scheduled job (reminders, digest, office status) last ran for this office.
    pub async fn last_run(&self, job: Job) -> Result<Option<i64>> {
        let r = sqlx::query("SELECT last_run FROM schedule_runs WHERE office = $1 AND job = $2").bind(&self.office).bind(job.as_str()).fetch_optional(&self.pool).await?;
        Ok(match r {
            Some(r) => Some(r.try_get("last_run")?),
            None => None,
        })
    }

    pub async fn set_last_run(&self, job: Job, at: i64) -> Result<()> {
        sqlx::query("INSERT INTO schedule_runs (office, job, last_run) VALUES ($1, $2, $3) ON CONFLICT (office, job) DO UPDATE SET last_run = EXCLUDED.last_run")
            .bind(&self.office)
            .bind(job.as_str())
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
