//! Reminders (SPEC §7): which stages of which obligations are due at an instant, decided from
//! the status as of then and the stages already recorded; one mail per unit listing its due
//! stages (leadership and staff copied on an escalation), each stage recorded in the same
//! transaction as its mail so it is never reminded twice. `notify` renders and queues what is
//! decided here.

use crate::audit;
use crate::config::Config;
use crate::notify::{self, NotifyError};
use crate::schedule::{self, DueStage};
use crate::store::Store;
use std::collections::BTreeMap;

/// Decides and queues the reminders due at `as_of`: one mail per unit, listing every stage due
/// for it; each stage is recorded so it is never reminded twice. Returns the stages queued.
pub async fn remind(cfg: &Config, store: &Store, as_of: i64, dry_run: bool) -> Result<Vec<DueStage>, NotifyError> {
    let obs = crate::facts::obligations_as_of(cfg, store, as_of).await?;
    let mut due: Vec<DueStage> = Vec::new();
    for s in schedule::plan_reminders(cfg, &obs, as_of) {
        if !store.stage_sent(&s.key()).await? {
            due.push(s);
        }
    }
    if dry_run {
        return Ok(due);
    }
    let mut by_unit: BTreeMap<String, Vec<DueStage>> = BTreeMap::new();
    for s in &due {
        by_unit.entry(s.unit.to_string()).or_default().push(s.clone());
    }
    let mut queued = Vec::new();
    for (unit_id, stages) in by_unit {
        let Some(unit) = cfg.unit(&unit_id) else { continue };
        if unit.emails.is_empty() {
            continue;
        }
        let mut tx = store.begin().await?;
        let mut fresh = Vec::new();
        for s in &stages {
            if tx.record_stage(&s.key(), &s.obligation(), as_of).await? {
                fresh.push(s.clone());
            }
        }
        if fresh.is_empty() {
            continue;
        }
        let escalate = fresh.iter().any(|s| s.escalate);
        let mut cc = Vec::new();
        if escalate {
            cc.extend(cfg.office.staff.iter().cloned());
            cc.extend(cfg.office.leadership.iter().cloned());
        }
        notify::queue_reminder(cfg, &mut tx, unit, &fresh, cc, as_of).await?;
        for s in &fresh {
            tx.audit(
                audit::Kind::ReminderDecided,
                "baocao",
                &s.key(),
                &serde_json::json!({"unit": s.unit, "report": s.report, "period": s.period, "stage": s.stage, "escalate": s.escalate, "as_of": as_of}),
            )
            .await?;
        }
        tx.commit().await?;
        queued.extend(fresh);
    }
    Ok(queued)
}

