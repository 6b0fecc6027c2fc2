//! The figures of a form report (SPEC §16), read and checked whenever a submission's decision is
//! written — on arrival, by a person's decision, by reprocessing — inside that same transaction,
//! so what the office compiles is always what the decision says, and a page never reads a
//! document again. A clerk's confirmation of figures read by OCR is an action of its own.

use super::{OfficeError, Result};
use crate::audit;
use crate::config::Config;
use crate::domain::form::{Form, Reading};
use crate::domain::{Decision, Period};
use crate::parse::form::checks::{self, History};
use crate::parse::Document;
use crate::store::{Store, StoreError, Submission, Tx};
use serde_json::json;

/// The best reading of `form` among `docs`: the table that matches it best, a file's own text
/// before OCR.
pub fn best_reading(form: &Form, docs: &[Document]) -> Option<Reading> {
    docs.iter()
        .filter(|d| d.parse == crate::domain::ParseStatus::Ok && !d.tables.is_empty())
        .filter_map(|d| crate::parse::form::read(form, d))
        .max_by(|a, b| {
            let q = |f: &crate::parse::form::Found| (!f.reading.ocr, f.header_score + f.matched as f64 / f.expected.max(1) as f64);
            let (qa, qb) = (q(a), q(b));
            qa.0.cmp(&qb.0).then(qa.1.total_cmp(&qb.1))
        })
        .map(|f| f.reading)
}

/// Which of the office's form reports each document's table is (SPEC §16: a form sent with a
/// subject and file name that name nothing is still recognised). Set on the documents before
/// matching, which weighs it like a title.
pub fn recognise(cfg: &Config, docs: &mut [Document]) {
    let forms: Vec<(&str, &Form)> = cfg.reports.iter().filter_map(|r| r.form.as_deref().map(|f| (r.id.as_str(), f))).collect();
    if forms.is_empty() {
        return;
    }
    for d in docs.iter_mut().filter(|d| d.parse == crate::domain::ParseStatus::Ok && !d.tables.is_empty()) {
        let best = forms
            .iter()
            .filter_map(|(id, f)| crate::parse::form::read(f, d).filter(|x| x.recognised()).map(|x| (x.header_score + x.matched as f64 / x.expected.max(1) as f64, *id)))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        d.form_of = best.map(|(_, id)| id.to_string());
    }
}

/// A finding about figures as the submission carries it: with its file's name.
fn as_finding(r: &Reading, f: &str) -> String {
    format!("{}: {f}", r.document)
}

/// Reads and checks the figures of `sub` (accepted, its report with a form) as `tx` sees the
/// unit's earlier periods; its findings are added to the submission's. None when its report
/// has no form or it is not accepted. `own` is the submission's id when it is recorded already
/// (its own earlier figures are not its history).
pub async fn read_for(cfg: &Config, tx: &mut Tx<'_>, sub: &mut Submission, own: i64) -> std::result::Result<Option<Reading>, StoreError> {
    let (Decision::Accepted, Some(ob)) = (sub.decision, sub.obligation()) else { return Ok(None) };
    let Some(form) = cfg.report(ob.report.as_str()).and_then(|r| r.form.clone()) else { return Ok(None) };
    let Some(mut reading) = best_reading(&form, &sub.documents) else {
        if sub.documents.iter().any(|d| d.parse == crate::domain::ParseStatus::Ok) {
            sub.findings.push(format!("không tìm thấy bảng số liệu theo biểu mẫu của Văn phòng ({}) trong tệp đính kèm: số liệu chưa được tổng hợp", form.shown));
        }
        return Ok(None);
    };
    let earlier = tx.unit_figures(&ob.unit, ob.report.as_str(), own).await?;
    let mut before: Vec<&(Period, Reading)> = earlier.iter().filter(|(p, _)| *p < ob.period).collect();
    before.sort_by_key(|b| std::cmp::Reverse(b.0));
    let prev = checks::previous_period(ob.period);
    let history = History {
        previous: before.iter().find(|(p, _)| Some(*p) == prev).map(|(p, r)| (*p, r)),
        recent: before.iter().take(6).map(|(p, r)| (*p, r)).collect(),
    };
    checks::against_history(&form, ob.period, &mut reading, &history);
    let expected = form.rows.iter().filter(|r| r.has_figures()).count();
    let said = format!("{}: đọc số liệu {}/{expected} chỉ tiêu theo biểu mẫu ({})", reading.document, reading.rows.len(), reading.place);
    if !sub.evidence.contains(&said) {
        sub.evidence.push(said);
    }
    sub.findings.extend(reading.findings.iter().map(|f| as_finding(&reading, f)));
    Ok(Some(reading))
}

/// Reads again the figures of a submission whose decision is being rewritten (by a person, or
/// by reprocessing): the findings of its earlier reading are taken out of its own, the new
/// reading's put in, and its stored figures replaced or forgotten. Call before writing the
/// decision.
pub async fn reread(cfg: &Config, tx: &mut Tx<'_>, sub: &mut Submission) -> std::result::Result<(), StoreError> {
    if let Some(old) = tx.figures_reading(sub.id).await? {
        let stale: Vec<String> = old.findings.iter().map(|f| as_finding(&old, f)).collect();
        sub.findings.retain(|f| !stale.contains(f));
    }
    match read_for(cfg, tx, sub, sub.id).await? {
        Some(r) => {
            let ob = sub.obligation().expect("read only for an obligation");
            tx.put_figures(sub.id, &ob, sub.received_at, &r).await
        }
        None => tx.drop_figures(sub.id).await,
    }
}

/// A clerk confirms the figures read by OCR from submission `id` (a scan): checked against the
/// scan, they count from now on. Audited.
pub async fn confirm_ocr(store: &Store, id: i64, by: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    if !tx.confirm_figures(id, by, chrono::Utc::now().timestamp()).await? {
        return Err(OfficeError::Refused { id, why: super::Refusal::NoFiguresToConfirm });
    }
    tx.audit(audit::Kind::FiguresConfirmed, by, &format!("submission:{id}"), &json!({})).await?;
    tx.commit().await?;
    Ok(())
}
