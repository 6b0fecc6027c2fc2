//! The office's directory (SPEC §17): its units — names, aliases, addresses, group, the days
//! they exist, the unit that took one over —, its groups' names and its report kinds (deadline,
//! reminders, who owes them), kept in the database and changed here alone (console and command
//! line), each change an audit event naming the person in the same transaction. The TOML
//! file's `[[unit]]`, `[[group]]` and `[[report]]` entries seed it on first
//! start and on `directory import`; a file entry changed since it was last applied is applied
//! again on the next start (the operator edited the file on purpose), while what the console
//! changed and the file did not stays as the office set it. The rules are read with the
//! directory joined (`requests::with_requests`), so a running daemon follows a change at once.
//!
//! Units are never deleted: one that ends gets its last day (and a successor, for a merger); its
//! submissions and obligations stay under it, and the successor owes from the next day on.

use super::Result;
use crate::audit;
use crate::config::Config;
use crate::domain::rules::{DueMonth, DueRule, Group, Report, Unit};
use crate::domain::{PeriodKind, Role, UnitId};
use crate::store::{DirectoryRow, Entry, Store, Tx};
use chrono::NaiveDate;
use serde_json::json;
use std::collections::{HashMap, HashSet};

/// Why a change of the directory was not made, as people read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DirectoryError {
    #[error("«{0}» không phải là địa chỉ thư điện tử")]
    NotAnAddress(String),
    #[error("địa chỉ {addr} đã là địa chỉ của {unit}")]
    AddressTaken { addr: String, unit: String },
    #[error("đã có đơn vị mã «{id}»: {name}")]
    UnitExists { id: String, name: String },
    #[error("mã «{0}» không dùng được: chỉ gồm chữ không dấu, chữ số, dấu gạch ngang và gạch dưới")]
    BadId(String),
    #[error("không có đơn vị này trong danh mục")]
    NoSuchUnit,
    #[error("hãy ghi tên đơn vị")]
    NoName,
    #[error("hãy ghi tên nhóm")]
    NoGroupName,
    #[error("ngày thôi hoạt động {until} trước ngày bắt đầu hoạt động {from}")]
    EndsBeforeItBegins { from: String, until: String },
    #[error("đơn vị tiếp nhận phải là một đơn vị khác, còn hoạt động sau ngày sáp nhập")]
    BadSuccessor,
    #[error("chỉ quản trị viên được đổi {0}; văn thư đổi được địa chỉ thư và tên gọi khác")]
    AdminOnly(&'static str),
    #[error("{0} đã có trong danh mục của đơn vị")]
    AlreadyThere(String),
    #[error("đã có loại báo cáo mã «{id}»: {name}")]
    ReportExists { id: String, name: String },
    #[error("không có loại báo cáo này trong danh mục")]
    NoSuchReport,
    #[error("hãy ghi tên loại báo cáo")]
    NoReportName,
    #[error("hãy ghi ít nhất một từ khoá: loại báo cáo được nhận ra trong văn bản nhờ các từ khoá này")]
    NoKeyword,
    #[error("hạn nộp không dùng được: {0}")]
    BadDue(String),
    #[error("số ngày nhắc phải từ 0 đến 366")]
    BadDays,
    #[error("hãy chọn kỳ báo cáo (tháng, quý, 6 tháng, năm hay một lần)")]
    BadPeriod,
    #[error("loại báo cáo chỉ áp dụng được cho nhóm đơn vị có trong danh mục")]
    BadGroups,
    #[error("công văn không có quy định báo cáo định kỳ này")]
    NoSuchRule,
    #[error("không lưu được loại báo cáo: {0}")]
    ReportNotSaved(&'static str),
    #[error("thư số {0} chưa được gán cho đơn vị nào, hoặc địa chỉ gửi không phải của người (thư tự động, địa chỉ của Văn phòng hay đã có trong danh mục)")]
    NothingToLearn(i64),
}

fn err(e: DirectoryError) -> super::OfficeError {
    super::OfficeError::Directory(e)
}

/// A unit as a person submitted it on the console (or the command line).
#[derive(Debug, Clone, Default)]
pub struct UnitEdit {
    pub id: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub emails: Vec<String>,
    pub group: String,
    pub active_from: Option<NaiveDate>,
    pub active_until: Option<NaiveDate>,
    pub merged_into: Option<String>,
    /// The name of a group made for this unit (its id is made from the name).
    pub new_group: Option<String>,
}

/// A group's id made from its name: `Trạm Y tế` → `tram-y-te`.
pub fn group_id_of(name: &str) -> String {
    crate::text::fold(name).split_whitespace().collect::<Vec<_>>().join("-")
}

impl UnitEdit {
    pub fn of(u: &Unit) -> UnitEdit {
        UnitEdit {
            id: u.id.to_string(),
            name: u.name.clone(),
            aliases: u.aliases.clone(),
            emails: u.emails.clone(),
            group: u.group.clone(),
            active_from: u.active_from,
            active_until: u.active_until,
            merged_into: u.merged_into.as_ref().map(|m| m.to_string()),
            new_group: None,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub changed: usize,
    pub kept: usize,
}

fn fingerprint(body: &serde_json::Value) -> String {
    crate::digest::sha256_hex(body.to_string().as_bytes())
}

fn group_json(g: &Group) -> serde_json::Value {
    json!({"name": g.name})
}

/// Seeds the directory from the file's entries (`base`: the config as loaded from TOML). A
/// missing entry is added; one whose file entry changed since it was last applied is applied
/// again; with `force` (`directory import`) every file entry is applied. Returns what it did;
/// one audit event when anything changed.
pub async fn seed(base: &Config, store: &Store, force: bool, by: &str) -> Result<Imported> {
    let mut tx = store.begin().await?;
    let done = seed_in(base, &mut tx, force).await?;
    if done.added + done.changed > 0 {
        tx.audit(audit::Kind::DirectoryImported, by, &base.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| "config.toml".into()), &json!({"added": done.added, "changed": done.changed, "kept": done.kept}))
            .await?;
        tx.commit().await?;
    }
    Ok(done)
}

async fn seed_in(base: &Config, tx: &mut Tx<'_>, force: bool) -> Result<Imported> {
    let mut done = Imported::default();
    for (kind, entries) in [
        (Entry::Unit, base.units.iter().map(|u| (u.id.to_string(), u.to_json())).collect::<Vec<_>>()),
        (Entry::Group, base.groups.iter().map(|g| (g.id.clone(), group_json(g))).collect()),
        (Entry::Report, base.report_entries.clone()),
    ] {
        let rows: HashMap<String, DirectoryRow> = tx.directory(kind).await?.into_iter().map(|r| (r.id.clone(), r)).collect();
        for (id, body) in entries {
            let fp = fingerprint(&body);
            match rows.get(&id) {
                None => {
                    tx.put_directory(kind, &id, &body, Some(&fp)).await?;
                    done.added += 1;
                }
                Some(r) if (force || r.seed.as_deref() != Some(&fp)) && r.body != body => {
                    tx.put_directory(kind, &id, &body, Some(&fp)).await?;
                    done.changed += 1;
                }
                Some(r) if r.seed.as_deref() != Some(&fp) => {
                    // Same record, seeded from an older file entry: remember the new one.
                    tx.put_directory(kind, &id, &body, Some(&fp)).await?;
                    done.kept += 1;
                }
                Some(_) => done.kept += 1,
            }
        }
    }
    Ok(done)
}

/// The directory joined to the rules: units and groups as the office keeps them (the file's
/// alone while the database holds none). The file's order is kept; units added later follow
/// by name. Every group a unit or a report names gets a name: the office's, else the words its
/// members' names share.
pub async fn join(cfg: &mut Config, store: &Store) -> std::result::Result<(), crate::store::StoreError> {
    let rows = store.directory(Entry::Unit).await?;
    if !rows.is_empty() {
        join_units(cfg, store, &rows).await?;
    }
    join_reports(cfg, store).await
}

/// The report kinds as the office keeps them: an entry the console changed replaces the
/// file's (built with the same checks), one it added follows the file's. An entry equal to
/// the file's keeps the kind already built (its form read once).
async fn join_reports(cfg: &mut Config, store: &Store) -> std::result::Result<(), crate::store::StoreError> {
    let rows = store.directory(Entry::Report).await?;
    if rows.is_empty() {
        return Ok(());
    }
    let groups: HashSet<String> = cfg.units.iter().map(|u| u.group.clone()).chain(cfg.groups.iter().map(|g| g.id.clone())).collect();
    for r in rows {
        let file = cfg.report_entries.iter().position(|(id, _)| *id == r.id);
        if file.is_some_and(|i| cfg.report_entries[i].1 == r.body) {
            continue;
        }
        let report = match crate::config::report_from_entry(&r.id, &r.body, &groups, &cfg.dir) {
            Ok(rep) => rep,
            Err(e) => {
                tracing::warn!("directory: {e}; the report kind is left as the file has it");
                continue;
            }
        };
        match file {
            Some(i) => cfg.report_entries[i].1 = r.body,
            None => cfg.report_entries.push((r.id.clone(), r.body)),
        }
        match cfg.rules.reports.iter().position(|x| x.id == report.id) {
            Some(i) => cfg.rules.reports[i] = report,
            None => cfg.rules.reports.push(report),
        }
    }
    Ok(())
}

async fn join_units(cfg: &mut Config, store: &Store, rows: &[DirectoryRow]) -> std::result::Result<(), crate::store::StoreError> {
    let mut units = Vec::with_capacity(rows.len());
    for r in rows {
        match Unit::from_json(&r.id, &r.body) {
            Ok(u) => units.push(u),
            Err(e) => tracing::warn!("directory: unit `{}` cannot be read and is left out: {e}", r.id),
        }
    }
    let order: HashMap<&str, usize> = cfg.units.iter().enumerate().map(|(i, u)| (u.id.as_str(), i)).collect();
    units.sort_by(|a, b| {
        let (x, y) = (order.get(a.id.as_str()), order.get(b.id.as_str()));
        match (x, y) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => crate::text::fold(&a.name).cmp(&crate::text::fold(&b.name)),
        }
    });
    let named: HashMap<String, String> = store
        .directory(Entry::Group)
        .await?
        .into_iter()
        .filter_map(|r| r.body["name"].as_str().map(|n| (r.id, n.to_string())))
        .collect();
    let mut ids: Vec<String> = units.iter().map(|u| u.group.clone()).collect();
    ids.extend(cfg.reports.iter().flat_map(|r| r.applies_to.iter().cloned()));
    ids.extend(named.keys().cloned());
    let mut seen = HashSet::new();
    ids.retain(|g| seen.insert(g.clone()));
    let groups = ids
        .into_iter()
        .map(|id| {
            let name = named.get(&id).cloned().or_else(|| {
                let names: Vec<&str> = units.iter().filter(|u| u.group == id).map(|u| u.name.as_str()).collect();
                Group::derived_name(&names).or_else(|| cfg.groups.iter().find(|g| g.id == id).map(|g| g.name.clone())).or_else(|| names.first().map(|n| n.to_string()))
            });
            Group { name: name.unwrap_or_else(|| "Nhóm đơn vị chưa đặt tên".into()), id }
        })
        .collect();
    cfg.rules.units = units;
    cfg.rules.groups = groups;
    Ok(())
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        return Err(err(DirectoryError::BadId(id.to_string())));
    }
    Ok(())
}

/// One address, `local@domain.tld`, nothing around it.
fn looks_like_address(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else { return false };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && e.len() <= 254
        && e.chars().all(|c| c.is_ascii_alphanumeric() || "@.-_+'".contains(c))
}

fn lines(v: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    v.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty() && seen.insert(crate::text::fold(s))).collect()
}

fn day(d: Option<NaiveDate>) -> String {
    d.map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|| "không đặt".into())
}

/// What changed between two records of a unit, as sentences for the audit trail.
fn changes(cfg: &Config, before: Option<&Unit>, after: &Unit, new_group: Option<&str>) -> Vec<String> {
    let group = |g: &str| match new_group {
        Some(n) if g == after.group => n.to_string(),
        _ => cfg.group_name(g),
    };
    let Some(b) = before else {
        let mut c = vec![format!("thêm đơn vị {} ({})", after.name, group(&after.group))];
        c.extend(after.emails.iter().map(|e| format!("địa chỉ {e}")));
        return c;
    };
    let mut c = Vec::new();
    if b.name != after.name {
        c.push(format!("đổi tên «{}» thành «{}»", b.name, after.name));
    }
    for e in after.emails.iter().filter(|e| !b.emails.contains(e)) {
        c.push(format!("thêm địa chỉ {e}"));
    }
    for e in b.emails.iter().filter(|e| !after.emails.contains(e)) {
        c.push(format!("bỏ địa chỉ {e}"));
    }
    for a in after.aliases.iter().filter(|a| !b.aliases.contains(a)) {
        c.push(format!("thêm tên gọi khác «{a}»"));
    }
    for a in b.aliases.iter().filter(|a| !after.aliases.contains(a)) {
        c.push(format!("bỏ tên gọi khác «{a}»"));
    }
    if b.group != after.group {
        c.push(format!("chuyển từ nhóm {} sang nhóm {}", group(&b.group), group(&after.group)));
    }
    if b.active_from != after.active_from {
        c.push(format!("ngày bắt đầu hoạt động: {}", day(after.active_from)));
    }
    if b.active_until != after.active_until {
        c.push(format!("ngày thôi hoạt động: {}", day(after.active_until)));
    }
    if b.merged_into != after.merged_into {
        c.push(match &after.merged_into {
            Some(m) => format!("sáp nhập vào {}", cfg.unit(m.as_str()).map(|u| u.name.as_str()).unwrap_or(m.as_str())),
            None => "bỏ sáp nhập".into(),
        });
    }
    c
}

/// Writes the directory from the rules as read when it is still empty, so the first change
/// made on the console starts from what the office had.
async fn ensure_seeded(cfg: &Config, tx: &mut Tx<'_>) -> Result<()> {
    if tx.directory(Entry::Unit).await?.is_empty() {
        seed_in(cfg, tx, false).await?;
    }
    Ok(())
}

/// Adds a unit (`new`) or changes one. A clerk may change addresses and other names only; a
/// renamed unit keeps its old name as another name (documents still carry it). Addresses are
/// registered to one unit each. Returns the unit's name and what changed (sentences).
pub async fn save_unit(cfg: &Config, store: &Store, edit: UnitEdit, new: bool, role: Role, by: &str) -> Result<(String, Vec<String>)> {
    save(cfg, store, edit, new, role, by, None).await
}

#[allow(clippy::too_many_arguments)]
async fn save(cfg: &Config, store: &Store, edit: UnitEdit, new: bool, role: Role, by: &str, note: Option<String>) -> Result<(String, Vec<String>)> {
    let id = edit.id.trim().to_string();
    check_id(&id)?;
    let before = cfg.unit(&id);
    match (new, before) {
        (true, Some(u)) => return Err(err(DirectoryError::UnitExists { id, name: u.name.clone() })),
        (false, None) => return Err(err(DirectoryError::NoSuchUnit)),
        _ => {}
    }
    let name = edit.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(err(DirectoryError::NoName));
    }
    let mut emails = Vec::new();
    for e in lines(&edit.emails) {
        let e = e.to_ascii_lowercase();
        if !looks_like_address(&e) {
            return Err(err(DirectoryError::NotAnAddress(e)));
        }
        if let Some(other) = cfg.units.iter().find(|u| u.id.as_str() != id && u.emails.contains(&e)) {
            return Err(err(DirectoryError::AddressTaken { addr: e, unit: other.name.clone() }));
        }
        emails.push(e);
    }
    let mut aliases = lines(&edit.aliases);
    if let Some(b) = before {
        if b.name != name && !aliases.iter().any(|a| crate::text::fold(a) == crate::text::fold(&b.name)) {
            aliases.push(b.name.clone());
        }
    }
    let new_group = edit.new_group.as_deref().map(|n| n.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|n| !n.is_empty());
    let group = match &new_group {
        Some(n) => group_id_of(n),
        None => edit.group.trim().to_string(),
    };
    let group = if group.is_empty() { before.map(|b| b.group.clone()).unwrap_or_else(|| "default".into()) } else { group };
    check_id(&group)?;
    if let (Some(f), Some(t)) = (edit.active_from, edit.active_until) {
        if t < f {
            return Err(err(DirectoryError::EndsBeforeItBegins { from: day(Some(f)), until: day(Some(t)) }));
        }
    }
    let merged_into = match edit.merged_into.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        Some(m) => {
            let succ = cfg.unit(m).filter(|s| s.id.as_str() != id).ok_or(err(DirectoryError::BadSuccessor))?;
            if let (Some(t), Some(end)) = (edit.active_until, succ.active_until) {
                if end <= t {
                    return Err(err(DirectoryError::BadSuccessor));
                }
            }
            Some(succ.id.clone())
        }
        None => None,
    };
    let after = Unit {
        id: UnitId::parse(&id).map_err(|_| err(DirectoryError::BadId(id.clone())))?,
        name,
        aliases,
        emails,
        group,
        active_from: edit.active_from,
        active_until: edit.active_until,
        merged_into,
    };
    if role < Role::Admin {
        let what = match before {
            None => Some("danh mục đơn vị (thêm đơn vị)"),
            Some(b) if b.name != after.name => Some("tên đơn vị"),
            Some(b) if b.group != after.group => Some("nhóm của đơn vị"),
            Some(b) if b.active_from != after.active_from || b.active_until != after.active_until || b.merged_into != after.merged_into => Some("thời gian hoạt động và sáp nhập"),
            _ => None,
        };
        if let Some(what) = what {
            return Err(err(DirectoryError::AdminOnly(what)));
        }
    }
    // A new group is named as typed; an existing one keeps its name.
    let new_group = new_group.filter(|_| !cfg.groups.iter().any(|g| g.id == after.group));
    if new_group.is_some() && role < Role::Admin {
        return Err(err(DirectoryError::AdminOnly("nhóm của đơn vị")));
    }
    let mut said = changes(cfg, before, &after, new_group.as_deref());
    if said.is_empty() {
        return Ok((after.name, said));
    }
    let mut tx = store.begin().await?;
    ensure_seeded(cfg, &mut tx).await?;
    if let Some(n) = &new_group {
        tx.put_directory(Entry::Group, &after.group, &json!({"name": n}), None).await?;
        said.push(format!("lập nhóm mới «{n}»"));
    }
    tx.put_directory(Entry::Unit, after.id.as_str(), &after.to_json(), None).await?;
    said.extend(note);
    tx.audit(if before.is_some() { audit::Kind::UnitChanged } else { audit::Kind::UnitAdded }, by, &format!("unit:{}", after.id), &json!({"changes": said})).await?;
    tx.commit().await?;
    Ok((after.name, said))
}

/// The sender's address a clerk may register to a message's unit with one click (SPEC §17):
/// the unit is known and still exists, and the address is a person's registered to no unit.
pub fn learnable(cfg: &Config, m: &crate::store::Submission) -> Option<String> {
    let addr = m.from_addr.as_deref()?;
    let unit = cfg.unit(m.unit.as_ref()?.as_str())?;
    let known = cfg.unit_by_email(addr).is_some() || cfg.is_staff(addr) || addr.eq_ignore_ascii_case(&cfg.office.address);
    let machine = crate::parse::mime::kept_facts_automatic(&m.facts) || m.decision == crate::domain::Decision::NotSubmission;
    (!known && !machine && unit.active_until.is_none()).then(|| addr.to_ascii_lowercase())
}

/// Registers the address submission `id` came from to its unit ("ghi nhận địa chỉ này cho đơn
/// vị"), when [`learnable`] allows it; the audit event names the submission. Returns the address
/// and the unit's name.
pub async fn learn_address(cfg: &Config, store: &Store, id: i64, by: &str) -> Result<(String, String)> {
    let m = store.message(id).await?;
    let (Some(addr), Some(u)) = (learnable(cfg, &m), m.unit.as_ref().and_then(|u| cfg.unit(u.as_str()))) else {
        return Err(err(DirectoryError::NothingToLearn(id)));
    };
    let mut edit = UnitEdit::of(u);
    edit.emails.push(addr.clone());
    let note = Some(format!("địa chỉ học được từ thư số {id}"));
    let (name, _) = save(cfg, store, edit, false, Role::Clerk, by, note).await?;
    Ok((addr, name))
}

/// Merges `unit` into `successor` after `last_day`: the unit owes the periods begun by then and
/// keeps its history; its addresses move to the successor, which also answers to its name.
pub async fn merge(cfg: &Config, store: &Store, unit: &UnitId, successor: &UnitId, last_day: NaiveDate, by: &str) -> Result<(String, String)> {
    let u = cfg.unit(unit.as_str()).ok_or(err(DirectoryError::NoSuchUnit))?;
    let s = cfg.unit(successor.as_str()).filter(|s| s.id != u.id && s.active_until.is_none_or(|t| t > last_day)).ok_or(err(DirectoryError::BadSuccessor))?;
    if u.active_from.is_some_and(|f| last_day < f) {
        return Err(err(DirectoryError::EndsBeforeItBegins { from: day(u.active_from), until: day(Some(last_day)) }));
    }
    let mut gone = u.clone();
    gone.active_until = Some(last_day);
    gone.merged_into = Some(s.id.clone());
    gone.emails.clear();
    let mut taker = s.clone();
    taker.emails.extend(u.emails.iter().cloned());
    for n in std::iter::once(&u.name).chain(&u.aliases) {
        if !taker.aliases.iter().any(|a| crate::text::fold(a) == crate::text::fold(n)) && crate::text::fold(n) != crate::text::fold(&taker.name) {
            taker.aliases.push(n.clone());
        }
    }
    let mut tx = store.begin().await?;
    ensure_seeded(cfg, &mut tx).await?;
    tx.put_directory(Entry::Unit, gone.id.as_str(), &gone.to_json(), None).await?;
    tx.put_directory(Entry::Unit, taker.id.as_str(), &taker.to_json(), None).await?;
    let mut said = vec![format!("sáp nhập vào {} từ sau ngày {}", s.name, day(Some(last_day)))];
    said.extend(u.emails.iter().map(|e| format!("địa chỉ {e} chuyển sang {}", s.name)));
    tx.audit(audit::Kind::UnitMerged, by, &format!("unit:{}", u.id), &json!({"changes": said})).await?;
    tx.commit().await?;
    Ok((u.name.clone(), s.name.clone()))
}

/// A report kind's rules as an admin set them on the console (SPEC §17): its name, the words
/// that recognise it, who owes it, its deadline and when units are reminded. The period of a
/// kind is chosen when it is added and never changed after (its obligations would change
/// meaning); what the form does not carry (form, extraction) stays as the entry had it.
#[derive(Debug, Clone)]
pub struct ReportEdit {
    pub name: String,
    pub keywords: Vec<String>,
    /// Groups that owe it; empty: every unit.
    pub applies_to: Vec<String>,
    pub due: DueRule,
    pub remind_before_days: Vec<i64>,
    pub remind_after_days: Vec<i64>,
    pub escalate_after_days: Option<i64>,
}

impl ReportEdit {
    pub fn of(r: &Report) -> ReportEdit {
        ReportEdit {
            name: r.name.clone(),
            keywords: r.keywords.clone(),
            applies_to: r.applies_to.clone(),
            due: r.due.clone(),
            remind_before_days: r.remind_before_days.clone(),
            remind_after_days: r.remind_after_days.clone(),
            escalate_after_days: r.escalate_after_days,
        }
    }
}

/// A kind's id made from its name: `Báo cáo quý về dược` → `bao-cao-quy-ve-duoc`, made unique.
fn report_id_of(cfg: &Config, name: &str) -> String {
    let folded: String = crate::text::fold(name).chars().map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' }).collect();
    let mut base = folded.split_whitespace().collect::<Vec<_>>().join("-");
    base.truncate(48);
    let base = base.trim_end_matches('-').to_string();
    let base = if base.is_empty() { "bao-cao".to_string() } else { base };
    let mut id = base.clone();
    let mut k = 2;
    while cfg.report(&id).is_some() {
        id = format!("{base}-{k}");
        k += 1;
    }
    id
}

/// The entry written for an edit over what the entry had.
fn entry_of(before: Option<&serde_json::Value>, e: &ReportEdit, period: PeriodKind) -> serde_json::Value {
    let mut v = before.cloned().filter(|v| v.is_object()).unwrap_or_else(|| json!({"extract": "report"}));
    let m = v.as_object_mut().expect("an object");
    m.insert("name".into(), json!(e.name));
    m.insert("keywords".into(), json!(e.keywords));
    m.insert("period".into(), json!(period.as_str()));
    m.insert("applies_to".into(), if e.applies_to.is_empty() { json!(["*"]) } else { json!(e.applies_to) });
    m.insert(
        "due".into(),
        match &e.due {
            DueRule::Date(d) => json!({"date": d.format("%Y-%m-%d").to_string()}),
            DueRule::Relative { month, day, exclusive, year_offset } => {
                let month = match month {
                    DueMonth::Last => json!("last"),
                    DueMonth::Next => json!("next"),
                    DueMonth::Month(n) => json!(n),
                };
                let mut d = json!({"month": month, "day": day});
                if *exclusive {
                    d["exclusive"] = json!(true);
                }
                if *year_offset != 0 {
                    d["year_offset"] = json!(year_offset);
                }
                d
            }
        },
    );
    for (k, days) in [("remind_before_days", &e.remind_before_days), ("remind_after_days", &e.remind_after_days)] {
        let mut days = days.clone();
        days.sort_unstable_by(|a, b| b.cmp(a));
        days.dedup();
        m.insert(k.into(), json!(days));
    }
    match e.escalate_after_days {
        Some(n) => m.insert("escalate_after_days".into(), json!(n)),
        None => m.remove("escalate_after_days"),
    };
    m.retain(|_, x| !x.as_array().is_some_and(|a| a.is_empty()));
    v
}

/// Who owes a kind, as people read it: the units a letter named, or its groups by name.
pub fn owed_by(cfg: &Config, r: &Report) -> String {
    if let Some(l) = r.letter.as_ref().filter(|l| !l.units.is_empty()) {
        return format!("{} đơn vị theo công văn", l.units.len());
    }
    if r.applies_to.is_empty() {
        "mọi đơn vị".into()
    } else {
        r.applies_to.iter().map(|g| cfg.group_name(g)).collect::<Vec<_>>().join(", ")
    }
}

/// What changed between two versions of a kind, as sentences for the audit trail.
fn report_changes(cfg: &Config, before: Option<&Report>, after: &Report) -> Vec<String> {
    let Some(b) = before else {
        return vec![
            format!("thêm loại báo cáo {} (theo {})", after.name, after.period.label_vi()),
            format!("hạn nộp {}", after.due.label_vi(after.period)),
            format!("đơn vị phải nộp: {}", owed_by(cfg, after)),
            format!("nhắc {}", after.reminders_vi()),
        ];
    };
    let mut c = Vec::new();
    if b.name != after.name {
        c.push(format!("đổi tên «{}» thành «{}»", b.name, after.name));
    }
    if b.keywords != after.keywords {
        c.push(format!("từ khoá: {}", after.keywords.join("; ")));
    }
    if b.due != after.due {
        c.push(format!("hạn nộp {} (trước: {})", after.due.label_vi(after.period), b.due.label_vi(b.period)));
    }
    if b.applies_to != after.applies_to {
        c.push(format!("đơn vị phải nộp: {} (trước: {})", owed_by(cfg, after), owed_by(cfg, b)));
    }
    let (rb, ra) = (b.reminders_vi(), after.reminders_vi());
    if rb != ra {
        c.push(format!("nhắc {ra} (trước: {rb})"));
    }
    c
}

/// Adds a report kind (`period`: Some, its id made from its name) or changes one (`id`); admins
/// only. Returns the kind's id and what changed (sentences); one audit event naming `by`.
pub async fn save_report(cfg: &Config, store: &Store, id: Option<&str>, period: Option<PeriodKind>, edit: ReportEdit, role: Role, by: &str, note: Option<String>) -> Result<(String, Vec<String>)> {
    if role < Role::Admin {
        return Err(err(DirectoryError::AdminOnly("loại báo cáo, hạn nộp và lịch nhắc")));
    }
    let before = match id {
        Some(id) => Some(cfg.report(id).filter(|r| r.letter.is_none()).ok_or(err(DirectoryError::NoSuchReport))?),
        None => None,
    };
    let period = match (before, period) {
        (Some(b), _) => b.period,
        (None, Some(p)) => p,
        (None, None) => return Err(err(DirectoryError::BadPeriod)),
    };
    let mut edit = edit;
    edit.name = edit.name.split_whitespace().collect::<Vec<_>>().join(" ");
    if edit.name.is_empty() {
        return Err(err(DirectoryError::NoReportName));
    }
    edit.keywords = lines(&edit.keywords);
    if edit.keywords.iter().all(|k| crate::text::fold(k).is_empty()) {
        return Err(err(DirectoryError::NoKeyword));
    }
    let known: HashSet<&str> = cfg.units.iter().map(|u| u.group.as_str()).chain(cfg.groups.iter().map(|g| g.id.as_str())).collect();
    if edit.applies_to.iter().any(|g| !known.contains(g.as_str())) {
        return Err(err(DirectoryError::BadGroups));
    }
    let days = edit.remind_before_days.iter().chain(&edit.remind_after_days).chain(edit.escalate_after_days.iter());
    if days.into_iter().any(|d| !(0..=366).contains(d)) {
        return Err(err(DirectoryError::BadDays));
    }
    match (&edit.due, period) {
        (DueRule::Relative { day, .. }, _) if !(1..=31).contains(day) => return Err(err(DirectoryError::BadDue(format!("không có ngày {day} trong tháng")))),
        (DueRule::Relative { month: DueMonth::Month(_), .. }, PeriodKind::Quarter | PeriodKind::Month) => {
            return Err(err(DirectoryError::BadDue("báo cáo tháng, quý nộp theo tháng cuối kỳ hoặc tháng sau kỳ, không theo một tháng cố định".into())))
        }
        (DueRule::Relative { .. }, PeriodKind::Once) => return Err(err(DirectoryError::BadDue("báo cáo một lần cần một ngày cụ thể".into()))),
        _ => {}
    }
    let id = match before {
        Some(b) => b.id.to_string(),
        None => report_id_of(cfg, &edit.name),
    };
    let prior = cfg.report_entries.iter().find(|(i, _)| *i == id).map(|(_, e)| e);
    let entry = entry_of(prior, &edit, period);
    let groups: HashSet<String> = known.iter().map(|g| g.to_string()).collect();
    let after = crate::config::report_from_entry(&id, &entry, &groups, &cfg.dir).map_err(|e| {
        tracing::warn!("a report kind was not saved: {e}");
        let what = if e.contains("`due`") {
            "hạn nộp không có ở một số kỳ (như ngày 31 ở tháng chỉ có 30 ngày)"
        } else if e.contains("`form") {
            "không đọc được biểu mẫu của loại báo cáo"
        } else {
            "thông tin chưa đúng"
        };
        err(DirectoryError::ReportNotSaved(what))
    })?;
    let mut said = report_changes(cfg, before, &after);
    if said.is_empty() {
        return Ok((id, said));
    }
    said.extend(note);
    let mut tx = store.begin().await?;
    ensure_seeded(cfg, &mut tx).await?;
    tx.put_directory(Entry::Report, &id, &entry, None).await?;
    tx.audit(if before.is_some() { audit::Kind::ReportChanged } else { audit::Kind::ReportAdded }, by, &format!("report:{id}"), &json!({"changes": said})).await?;
    tx.commit().await?;
    Ok((id, said))
}

/// The periodic rules a letter proposes (SPEC §15), each as a kind it would add.
pub fn proposed_kinds(req: &crate::store::StoredRequest) -> Vec<(PeriodKind, ReportEdit)> {
    let mut out = Vec::new();
    for text in req.reading["proposed_reports"].as_array().into_iter().flatten().filter_map(|t| t.as_str()) {
        let Ok(doc) = toml::from_str::<toml::Table>(text) else { continue };
        let Some(toml::Value::Table(t)) = doc.get("report").and_then(|r| r.as_array()).and_then(|a| a.first()) else { continue };
        let Ok(entry) = serde_json::to_value(t) else { continue };
        let id = t.get("id").and_then(|i| i.as_str()).unwrap_or("bao-cao");
        match crate::config::report_from_entry(id, &entry, &HashSet::new(), std::path::Path::new(".")) {
            Ok(r) => out.push((r.period, ReportEdit::of(&r))),
            Err(e) => tracing::warn!("request {}: a proposed rule cannot be read: {e}", req.id),
        }
    }
    out
}

/// Adds the `k`-th periodic rule of request `id`'s letter as a report kind owed by every
/// unit, with reminders three days before and one after the deadline; the admin adjusts it on
/// its page. Returns the new kind's id.
pub async fn adopt_rule(cfg: &Config, store: &Store, request: i64, k: usize, role: Role, by: &str) -> Result<String> {
    let req = store.request(request).await?.ok_or(err(DirectoryError::NoSuchRule))?;
    let (period, mut edit) = proposed_kinds(&req).into_iter().nth(k).ok_or(err(DirectoryError::NoSuchRule))?;
    edit.remind_before_days = vec![3];
    edit.remind_after_days = vec![1];
    let note = Some(match &req.number {
        Some(n) => format!("theo công văn số {n}"),
        None => format!("theo công văn (yêu cầu số {request})"),
    });
    let (id, _) = save_report(cfg, store, None, Some(period), edit, role, by, note).await?;
    Ok(id)
}

/// Names (or renames) a group.
pub async fn save_group(cfg: &Config, store: &Store, id: &str, name: &str, by: &str) -> Result<()> {
    let id = id.trim();
    check_id(id)?;
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() {
        return Err(err(DirectoryError::NoGroupName));
    }
    let before = cfg.groups.iter().find(|g| g.id == id).map(|g| g.name.clone());
    if before.as_deref() == Some(name.as_str()) {
        return Ok(());
    }
    let mut tx = store.begin().await?;
    ensure_seeded(cfg, &mut tx).await?;
    tx.put_directory(Entry::Group, id, &json!({"name": name}), None).await?;
    let said = match before {
        Some(b) => format!("đổi tên nhóm «{b}» thành «{name}»"),
        None => format!("thêm nhóm «{name}»"),
    };
    tx.audit(audit::Kind::GroupChanged, by, &format!("group:{id}"), &json!({"changes": [said]})).await?;
    tx.commit().await?;
    Ok(())
}

/// The directory as TOML entries (`baocao directory export`): `[[group]]` and `[[unit]]`,
/// read back by `directory import` from a config file.
pub fn export(cfg: &Config) -> String {
    // A JSON string is a TOML basic string (the same escapes).
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let list = |v: &[String]| format!("[{}]", v.iter().map(|s| q(s)).collect::<Vec<_>>().join(", "));
    let mut out = String::from("# Danh mục đơn vị (baocao directory export)\n");
    for g in cfg.groups.iter().filter(|g| cfg.units.iter().any(|u| u.group == g.id)) {
        out.push_str(&format!("\n[[group]]\nid = {}\nname = {}\n", q(&g.id), q(&g.name)));
    }
    for u in &cfg.units {
        out.push_str(&format!("\n[[unit]]\nid = {}\nname = {}\n", q(u.id.as_str()), q(&u.name)));
        if !u.aliases.is_empty() {
            out.push_str(&format!("aliases = {}\n", list(&u.aliases)));
        }
        out.push_str(&format!("emails = {}\ngroup = {}\n", list(&u.emails), q(&u.group)));
        for (k, d) in [("active_from", u.active_from), ("active_until", u.active_until)] {
            if let Some(d) = d {
                out.push_str(&format!("{k} = \"{}\"\n", d.format("%Y-%m-%d")));
            }
        }
        if let Some(m) = &u.merged_into {
            out.push_str(&format!("merged_into = {}\n", q(m.as_str())));
        }
    }
    if !cfg.report_entries.is_empty() {
        out.push_str("\n# Loại báo cáo: hạn nộp, lịch nhắc, đơn vị phải nộp\n");
        out.push_str(&crate::config::reports_toml(&cfg.report_entries));
    }
    out
}
