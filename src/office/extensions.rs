//! Extensions (*gia hạn*, SPEC §17): a clerk grants one unit a new deadline for one obligation —
//! answering its request for more time, or on the office's own — or withdraws one. In one
//! transaction: the new date, the accepted versions judged again against it, the audit event
//! and the notice to the unit. Status, reminders and the digest follow because the rules are
//! read with the extensions joined (`requests::with_requests`).

use super::{OfficeError, Result};
use crate::audit;
use crate::config::Config;
use crate::domain::ObligationKey;
use crate::notify::{self, ReplyTo};
use crate::schedule::{self, end_of_day};
use crate::store::Store;
use chrono::NaiveDate;
use serde_json::json;

/// What granting or withdrawing did.
#[derive(Debug, Clone)]
pub struct Extended {
    pub unit: String,
    /// The report and period as an office writes them (*Báo cáo … quý II năm 2021*).
    pub title: String,
    /// The due date the rules give.
    pub due: NaiveDate,
    /// The new one (None after a withdrawal).
    pub until: Option<NaiveDate>,
    /// Accepted versions judged again.
    pub rejudged: u64,
    /// The key of the notice queued to the unit, when one was.
    pub told: Option<String>,
}

/// The longest extension granted: a year past the rules' deadline.
const MAX_DAYS: i64 = 366;

/// Grants `unit` a new deadline `until` (the whole day) for `report` and `period`. The
/// obligation must exist and the new day fall after the rules' deadline, within a year.
/// `answering` is the unit's own mail asking for it (its number): the notice goes in its thread.
#[allow(clippy::too_many_arguments)]
pub async fn extend(cfg: &Config, store: &Store, named: &ObligationKey, until: NaiveDate, reason: &str, by: &str, tell: bool, answering: Option<i64>, now: i64) -> Result<Extended> {
    let ob = schedule::obligation(cfg, named)?;
    let key = ob.key();
    let thread = match answering {
        Some(id) => {
            let m = store.message(id).await?;
            if !super::mail::is_for_people(cfg, &m) {
                return Err(OfficeError::NotOtherMail { id });
            }
            Some(ReplyTo::of_submission(cfg, &m))
        }
        None => None,
    };
    let due = ob.extended_from.unwrap_or(ob.due_date);
    let date = |d: NaiveDate| d.format("%d/%m/%Y").to_string();
    let today = schedule::date_of(cfg.office.timezone, now);
    if (due - today).num_days() > MAX_DAYS {
        return Err(OfficeError::ExtensionTooEarly { title: title(cfg, named), due: date(due) });
    }
    if until <= due {
        return Err(OfficeError::ExtensionNotLater { until: date(until), due: date(due) });
    }
    if (until - due).num_days() > MAX_DAYS {
        return Err(OfficeError::ExtensionTooLong { until: date(until), due: date(due) });
    }
    let deadline = end_of_day(cfg.office.timezone, until).timestamp();
    let mut tx = store.begin().await?;
    tx.extend(&key, until, reason, by, now).await?;
    let rejudged = tx.rejudge(&key, until, deadline).await?;
    tx.audit(audit::Kind::ExtensionGranted, by, &format!("obligation:{key}"), &json!({"until": until.to_string(), "due": due.to_string(), "reason": reason})).await?;
    let told = if tell { notify::queue_extension_notice(cfg, &mut tx, &key, due, Some(until), reason, thread.as_ref(), now).await? } else { None };
    tx.commit().await?;
    Ok(Extended { unit: named.unit.to_string(), title: title(cfg, named), due, until: Some(until), rejudged, told })
}

/// Withdraws the extension of one obligation: it is due on the rules' day again. Errors when it
/// had none.
#[allow(clippy::too_many_arguments)]
pub async fn withdraw(cfg: &Config, store: &Store, named: &ObligationKey, by: &str, tell: bool, now: i64) -> Result<Extended> {
    let ob = schedule::obligation(cfg, named)?;
    let key = ob.key();
    let due = ob.extended_from.unwrap_or(ob.due_date);
    let mut tx = store.begin().await?;
    if !tx.withdraw_extension(&key).await? {
        return Err(OfficeError::NoExtension { title: title(cfg, named), unit: named.unit.to_string() });
    }
    let rejudged = tx.rejudge(&key, due, end_of_day(cfg.office.timezone, due).timestamp()).await?;
    tx.audit(audit::Kind::ExtensionWithdrawn, by, &format!("obligation:{key}"), &json!({"due": due.to_string()})).await?;
    let told = if tell { notify::queue_extension_notice(cfg, &mut tx, &key, due, None, "", None, now).await? } else { None };
    tx.commit().await?;
    Ok(Extended { unit: named.unit.to_string(), title: title(cfg, named), due, until: None, rejudged, told })
}

fn title(cfg: &Config, key: &ObligationKey) -> String {
    key.period.title(&cfg.report(key.report.as_str()).map(|r| r.name.clone()).unwrap_or_else(|| key.report.to_string()))
}
