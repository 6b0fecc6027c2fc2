//! Pure domain types, parsed at the edge so inner code never re-checks them.
//!
//! A [`Period`] can only be built valid (`2020-Q1`, `2020-H2`, `2020`, `2020-03`, `once:2017`), a
//! [`UnitId`] or [`ReportId`] only non-empty and free of spaces. Decisions, states and formats are
//! closed enums whose serde names are the words of SPEC §11.1. [`rules`] holds the office's
//! validated rules (units, report kinds, deadlines, calendar) that the pure cores read.

pub mod form;
pub mod rules;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("`{0}` is not a period (expected 2020-Q1, 2020-H1, 2020, 2020-03 or once:2017)")]
    BadPeriod(String),
    #[error("`{0}` is not a valid id (letters, digits, '-', '_' and '.' only)")]
    BadId(String),
}

macro_rules! id_type {
    ($name:ident) => {
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, DomainError> {
                let t = s.trim();
                if t.is_empty()
                    || t.len() > 64
                    || !t.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
                {
                    return Err(DomainError::BadId(s.to_string()));
                }
                Ok(Self(t.to_string()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = DomainError;
            fn from_str(s: &str) -> Result<Self, DomainError> {
                Self::parse(s)
            }
        }
        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, DomainError> {
                Self::parse(&s)
            }
        }
        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(UnitId);
id_type!(ReportId);

/// The period type a report kind is owed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PeriodKind {
    Quarter,
    Half,
    Year,
    Month,
    Once,
}

impl PeriodKind {
    const ALL: [PeriodKind; 5] = [PeriodKind::Quarter, PeriodKind::Half, PeriodKind::Year, PeriodKind::Month, PeriodKind::Once];

    /// The word a `[[report]]` entry's `period` uses.
    pub fn as_str(&self) -> &'static str {
        match self {
            PeriodKind::Quarter => "quarter",
            PeriodKind::Half => "half",
            PeriodKind::Year => "year",
            PeriodKind::Month => "month",
            PeriodKind::Once => "once",
        }
    }

    pub fn parse(s: &str) -> Option<PeriodKind> {
        PeriodKind::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// How a report of this kind is owed, as people say it: *theo quý*, *theo tháng*.
    pub fn label_vi(&self) -> &'static str {
        match self {
            PeriodKind::Quarter => "quý",
            PeriodKind::Half => "6 tháng",
            PeriodKind::Year => "năm",
            PeriodKind::Month => "tháng",
            PeriodKind::Once => "một lần",
        }
    }
}

/// Where a letter's request stands (SPEC §15): read and waiting for a person, confirmed (its
/// units owe it), or cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    Pending,
    Confirmed,
    Cancelled,
}

impl RequestState {
    /// The word the database keeps.
    pub fn as_str(&self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Confirmed => "confirmed",
            RequestState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RequestState> {
        [RequestState::Pending, RequestState::Confirmed, RequestState::Cancelled].into_iter().find(|r| r.as_str() == s)
    }

    /// As people read it.
    pub fn label_vi(&self) -> &'static str {
        match self {
            RequestState::Pending => "chờ xác nhận",
            RequestState::Confirmed => "đã xác nhận",
            RequestState::Cancelled => "đã hủy",
        }
    }
}

/// Where an outgoing mail stands: waiting (or to be retried), being handed to the server by
/// one sender, sent, or failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxState {
    Queued,
    HandingOver,
    Sent,
    Failed,
}

impl OutboxState {
    /// The word the database keeps.
    pub fn as_str(&self) -> &'static str {
        match self {
            OutboxState::Queued => "queued",
            OutboxState::HandingOver => "handing_over",
            OutboxState::Sent => "sent",
            OutboxState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OutboxState> {
        [OutboxState::Queued, OutboxState::HandingOver, OutboxState::Sent, OutboxState::Failed].into_iter().find(|x| x.as_str() == s)
    }

    /// As people read it.
    pub fn label_vi(&self) -> &'static str {
        match self {
            OutboxState::Queued => "chờ gửi",
            OutboxState::HandingOver => "đang gửi",
            OutboxState::Sent => "đã gửi",
            OutboxState::Failed => "không gửi được",
        }
    }

    /// Still to be sent (waiting or being handed over).
    pub fn waiting(&self) -> bool {
        matches!(self, OutboxState::Queued | OutboxState::HandingOver)
    }
}

/// The kinds of mail the office sends; the word kept in the outbox (and naming a compiled
/// mail's template) and the name people read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailKind {
    Ack,
    Reminder,
    Digest,
    Status,
    Review,
    Extension,
    Answer,
}

impl MailKind {
    pub const ALL: [MailKind; 7] = [MailKind::Ack, MailKind::Reminder, MailKind::Digest, MailKind::Status, MailKind::Review, MailKind::Extension, MailKind::Answer];

    pub fn as_str(&self) -> &'static str {
        match self {
            MailKind::Ack => "ack",
            MailKind::Reminder => "reminder",
            MailKind::Digest => "digest",
            MailKind::Status => "status",
            MailKind::Review => "review",
            MailKind::Extension => "extension",
            MailKind::Answer => "answer",
        }
    }

    pub fn parse(s: &str) -> Option<MailKind> {
        MailKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            MailKind::Ack => "báo nhận",
            MailKind::Reminder => "nhắc nộp",
            MailKind::Digest => "bản tin tuần",
            MailKind::Status => "bảng tình hình",
            MailKind::Review => "việc chờ xử lý",
            MailKind::Extension => "gia hạn",
            MailKind::Answer => "trả lời thư",
        }
    }
}

/// The office's scheduled jobs (`[schedule]`): the word each one's last run is kept under and
/// what people call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Reminders,
    ReviewNotice,
    Digest,
    OfficeStatus,
}

impl Job {
    pub const ALL: [Job; 4] = [Job::Reminders, Job::ReviewNotice, Job::Digest, Job::OfficeStatus];

    /// The word the database keeps (the `[schedule]` key that times it).
    pub fn as_str(&self) -> &'static str {
        match self {
            Job::Reminders => "reminders",
            Job::ReviewNotice => "review_notice",
            Job::Digest => "digest",
            Job::OfficeStatus => "office_status",
        }
    }

    pub fn label_vi(&self) -> &'static str {
        match self {
            Job::Reminders => "nhắc nộp",
            Job::ReviewNotice => "thư báo việc chờ xử lý",
            Job::Digest => "bản tin tuần",
            Job::OfficeStatus => "bảng tình hình",
        }
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reporting period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    Year(i32),
    Half(i32, u8),
    Quarter(i32, u8),
    Month(i32, u8),
    /// A one-off obligation, labelled by the year it is "for".
    Once(i32),
}

impl Period {
    pub fn year(&self) -> i32 {
        match *self {
            Period::Year(y) | Period::Half(y, _) | Period::Quarter(y, _) | Period::Month(y, _) | Period::Once(y) => y,
        }
    }

    pub fn kind(&self) -> PeriodKind {
        match self {
            Period::Year(_) => PeriodKind::Year,
            Period::Half(..) => PeriodKind::Half,
            Period::Quarter(..) => PeriodKind::Quarter,
            Period::Month(..) => PeriodKind::Month,
            Period::Once(_) => PeriodKind::Once,
        }
    }

    /// The first month (1-based) of the period.
    pub fn first_month(&self) -> u32 {
        match *self {
            Period::Year(_) | Period::Once(_) => 1,
            Period::Half(_, h) => (h as u32 - 1) * 6 + 1,
            Period::Quarter(_, q) => (q as u32 - 1) * 3 + 1,
            Period::Month(_, m) => m as u32,
        }
    }

    /// The last month (1-based) of the period.
    pub fn last_month(&self) -> u32 {
        match *self {
            Period::Year(_) | Period::Once(_) => 12,
            Period::Half(_, h) => h as u32 * 6,
            Period::Quarter(_, q) => q as u32 * 3,
            Period::Month(_, m) => m as u32,
        }
    }

    pub fn start_date(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.first_month(), 1).expect("valid period start")
    }

    /// Every period of `kind` in `year`, in order.
    pub fn all_in_year(kind: PeriodKind, year: i32) -> Vec<Period> {
        match kind {
            PeriodKind::Year => vec![Period::Year(year)],
            PeriodKind::Once => vec![Period::Once(year)],
            PeriodKind::Half => (1..=2).map(|h| Period::Half(year, h)).collect(),
            PeriodKind::Quarter => (1..=4).map(|q| Period::Quarter(year, q)).collect(),
            PeriodKind::Month => (1..=12).map(|m| Period::Month(year, m)).collect(),
        }
    }

    /// The period as an office writes it: *quý II năm 2021*, *6 tháng đầu năm 2020*.
    pub fn label_vi(&self) -> String {
        match *self {
            Period::Quarter(y, q) => format!("quý {} năm {y}", ["I", "II", "III", "IV"][(q as usize).saturating_sub(1).min(3)]),
            Period::Half(y, 1) => format!("6 tháng đầu năm {y}"),
            Period::Half(y, _) => format!("6 tháng cuối năm {y}"),
            Period::Month(y, m) => format!("tháng {m} năm {y}"),
            Period::Year(y) | Period::Once(y) => format!("năm {y}"),
        }
    }

    /// The period within its year, for a column of a year's table: *Tháng 3*, *Quý II*,
    /// *6 tháng đầu*, *Năm 2021*.
    pub fn short_vi(&self) -> String {
        match *self {
            Period::Quarter(_, q) => format!("Quý {}", ["I", "II", "III", "IV"][(q as usize).saturating_sub(1).min(3)]),
            Period::Half(_, 1) => "6 tháng đầu".into(),
            Period::Half(..) => "6 tháng cuối".into(),
            Period::Month(_, m) => format!("Tháng {m}"),
            Period::Year(y) | Period::Once(y) => format!("Năm {y}"),
        }
    }

    /// A report's name followed by this period, as an office writes it: the name's closing
    /// period word is not repeated ("Báo cáo … quý" + "quý I năm 2021" reads "Báo cáo … quý I
    /// năm 2021"), whatever its diacritics.
    pub fn title(&self, name: &str) -> String {
        let label = self.label_vi();
        let name = name.trim();
        let folded = crate::text::fold(name);
        let first = label.split_whitespace().next().unwrap_or("");
        let cut = |word: &str| -> Option<String> {
            let w = crate::text::fold(word);
            folded.ends_with(&format!(" {w}")).then(|| name.chars().take(name.chars().count() - word.chars().count() - 1).collect())
        };
        let trimmed = match self {
            Period::Half(..) => cut("6 tháng").or_else(|| cut(first)),
            _ => cut(first),
        };
        format!("{} {label}", trimmed.as_deref().unwrap_or(name).trim_end())
    }

    /// The period of `kind` that contains `date`.
    pub fn containing(kind: PeriodKind, date: NaiveDate) -> Period {
        let y = date.year();
        let m = date.month() as u8;
        match kind {
            PeriodKind::Year => Period::Year(y),
            PeriodKind::Once => Period::Once(y),
            PeriodKind::Half => Period::Half(y, if m <= 6 { 1 } else { 2 }),
            PeriodKind::Quarter => Period::Quarter(y, (m - 1) / 3 + 1),
            PeriodKind::Month => Period::Month(y, m),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::Year(y) => write!(f, "{y}"),
            Period::Half(y, h) => write!(f, "{y}-H{h}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
            Period::Once(y) => write!(f, "{y}"),
        }
    }
}

impl FromStr for Period {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::BadPeriod(s.to_string());
        let t = s.trim();
        if let Some(y) = t.strip_prefix("once:") {
            return Ok(Period::Once(parse_year(y).ok_or_else(bad)?));
        }
        let (y, rest) = match t.split_once('-') {
            Some((y, r)) => (y, Some(r)),
            None => (t, None),
        };
        let year = parse_year(y).ok_or_else(bad)?;
        match rest {
            None => Ok(Period::Year(year)),
            Some(r) => {
                let r = r.to_ascii_uppercase();
                if let Some(q) = r.strip_prefix('Q') {
                    let q: u8 = q.parse().map_err(|_| bad())?;
                    if (1..=4).contains(&q) {
                        return Ok(Period::Quarter(year, q));
                    }
                } else if let Some(h) = r.strip_prefix('H') {
                    let h: u8 = h.parse().map_err(|_| bad())?;
                    if (1..=2).contains(&h) {
                        return Ok(Period::Half(year, h));
                    }
                } else if r.len() == 2 {
                    let m: u8 = r.parse().map_err(|_| bad())?;
                    if (1..=12).contains(&m) {
                        return Ok(Period::Month(year, m));
                    }
                }
                Err(bad())
            }
        }
    }
}

fn parse_year(s: &str) -> Option<i32> {
    if s.len() != 4 {
        return None;
    }
    let y: i32 = s.parse().ok()?;
    (1900..=2200).contains(&y).then_some(y)
}

impl Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What the office decided about one received message (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Accepted,
    NeedsReview,
    NotSubmission,
    Rejected,
    Duplicate,
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Accepted => "accepted",
            Decision::NeedsReview => "needs_review",
            Decision::NotSubmission => "not_submission",
            Decision::Rejected => "rejected",
            Decision::Duplicate => "duplicate",
        }
    }
    /// Vietnamese label for people.
    pub fn label_vi(&self) -> &'static str {
        match self {
            Decision::Accepted => "Đã tiếp nhận",
            Decision::NeedsReview => "Chờ xem xét",
            Decision::NotSubmission => "Không phải báo cáo",
            Decision::Rejected => "Không tiếp nhận",
            Decision::Duplicate => "Thư trùng",
        }
    }
    pub fn parse(s: &str) -> Option<Decision> {
        Some(match s {
            "accepted" => Decision::Accepted,
            "needs_review" => Decision::NeedsReview,
            "not_submission" => Decision::NotSubmission,
            "rejected" => Decision::Rejected,
            "duplicate" => Decision::Duplicate,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeliness {
    OnTime,
    Late,
}

impl Timeliness {
    /// The one rule of timeliness (SPEC §7): arrival at the mailbox by the deadline's instant.
    pub fn judge(arrival: i64, deadline: i64) -> Timeliness {
        if arrival <= deadline {
            Timeliness::OnTime
        } else {
            Timeliness::Late
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Timeliness::OnTime => "on_time",
            Timeliness::Late => "late",
        }
    }
    /// Vietnamese label for people.
    pub fn label_vi(&self) -> &'static str {
        match self {
            Timeliness::OnTime => "đúng hạn",
            Timeliness::Late => "muộn",
        }
    }
    pub fn parse(s: &str) -> Option<Timeliness> {
        match s {
            "on_time" => Some(Timeliness::OnTime),
            "late" => Some(Timeliness::Late),
            _ => None,
        }
    }
}

/// What a console account may do: viewers (leadership) read, clerks (the office's staff) act,
/// admins also manage accounts. Each role can do all that the ones before it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Clerk,
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "clerk" => Some(Role::Clerk),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Clerk => "clerk",
            Role::Admin => "admin",
        }
    }
    pub fn label_vi(&self) -> &'static str {
        match self {
            Role::Viewer => "Xem",
            Role::Clerk => "Chuyên viên",
            Role::Admin => "Quản trị",
        }
    }
}

/// What one accepted submission contributes to its obligation's status.
#[derive(Debug, Clone)]
pub struct AcceptedFact {
    pub obligation: ObligationKey,
    pub received_at: i64,
    pub version: i64,
}

/// A bounce of the office's mail to an address registered to a unit (SPEC §17): the unit may
/// not be getting acknowledgements and reminders.
#[derive(Debug, Clone)]
pub struct Bounce {
    /// The bounce's own number.
    pub message: i64,
    pub at: i64,
    pub addr: String,
    pub unit: UnitId,
}

/// Which obligation something is about: one unit, one report kind, one period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObligationKey {
    pub unit: UnitId,
    pub report: ReportId,
    pub period: Period,
}

impl ObligationKey {
    /// The obligation a person names by its unit's and report's ids (a command's arguments, a
    /// form's fields); whether it is owed is the rules' question, not this one.
    pub fn named(unit: &str, report: &str, period: Period) -> Result<ObligationKey, DomainError> {
        Ok(ObligationKey { unit: UnitId::parse(unit)?, report: ReportId::parse(report)?, period })
    }
}

impl fmt::Display for ObligationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.unit, self.report, self.period)
    }
}

/// An obligation's state at an instant (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObligationState {
    Upcoming,
    DueSoon,
    SubmittedOnTime,
    SubmittedLate,
    Overdue,
    Exempt,
    /// Nothing accepted yet, and a message waiting in review has this obligation as its best
    /// guess: neither reminded nor reported missing until a person decides.
    InReview,
}

impl ObligationState {
    /// Every state, in the order a legend lists them.
    pub const ALL: [ObligationState; 7] = [
        ObligationState::SubmittedOnTime,
        ObligationState::SubmittedLate,
        ObligationState::InReview,
        ObligationState::Overdue,
        ObligationState::DueSoon,
        ObligationState::Upcoming,
        ObligationState::Exempt,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            ObligationState::Upcoming => "upcoming",
            ObligationState::DueSoon => "due_soon",
            ObligationState::SubmittedOnTime => "submitted_on_time",
            ObligationState::SubmittedLate => "submitted_late",
            ObligationState::Overdue => "overdue",
            ObligationState::Exempt => "exempt",
            ObligationState::InReview => "in_review",
        }
    }
    /// Vietnamese label for people.
    pub fn label_vi(&self) -> &'static str {
        match self {
            ObligationState::Upcoming => "Chưa đến hạn",
            ObligationState::DueSoon => "Sắp đến hạn",
            ObligationState::SubmittedOnTime => "Đã nộp đúng hạn",
            ObligationState::SubmittedLate => "Đã nộp muộn",
            ObligationState::Overdue => "Quá hạn",
            ObligationState::Exempt => "Miễn nộp",
            ObligationState::InReview => "Chờ xem xét",
        }
    }
}

/// A document's format, decided by its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Docx,
    Xlsx,
    Xls,
    /// Word 97–2003.
    Doc,
    Rtf,
    /// OpenDocument text and spreadsheet.
    Odt,
    Ods,
    Pdf,
    /// A scan or photo: JPEG, PNG, TIFF, GIF, BMP.
    Image,
    Zip,
    /// RAR (1.5 to 5) and 7-Zip archives: containers like a zip (SPEC §5).
    Rar,
    #[serde(rename = "7z")]
    SevenZ,
    Other,
}

impl Format {
    /// A container whose files are read as documents of their own (zip, RAR, 7z).
    pub fn is_archive(&self) -> bool {
        matches!(self, Format::Zip | Format::Rar | Format::SevenZ)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParseStatus {
    Ok,
    Error,
    Skipped,
}

impl ParseStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            ParseStatus::Ok => "ok",
            ParseStatus::Error => "error",
            ParseStatus::Skipped => "skipped",
        }
    }
    /// Vietnamese label for people.
    pub fn label_vi(&self) -> &'static str {
        match self {
            ParseStatus::Ok => "đã đọc",
            ParseStatus::Error => "không đọc được",
            ParseStatus::Skipped => "lưu, không đọc",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_round_trip_through_their_text() {
        for s in ["2020-Q1", "2020-Q4", "2020-H2", "2020", "2020-03", "2020-12"] {
            let p: Period = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn an_invalid_period_cannot_be_built() {
        for s in ["2020-Q5", "2020-H3", "2020-13", "20-Q1", "", "2020-Q", "abcd"] {
            assert!(s.parse::<Period>().is_err(), "{s} should not parse");
        }
    }

    #[test]
    fn a_report_named_for_its_period_kind_does_not_repeat_it() {
        assert_eq!(Period::Quarter(2021, 2).title("Báo cáo kết quả công tác quý"), "Báo cáo kết quả công tác quý II năm 2021");
        assert_eq!(Period::Quarter(2021, 2).title("Báo cáo CCHC Quý"), "Báo cáo CCHC quý II năm 2021");
        assert_eq!(Period::Year(2020).title("Báo cáo tổng kết năm"), "Báo cáo tổng kết năm 2020");
        assert_eq!(Period::Half(2020, 1).title("Báo cáo sơ kết 6 tháng"), "Báo cáo sơ kết 6 tháng đầu năm 2020");
        assert_eq!(Period::Month(2020, 3).title("Báo cáo tháng"), "Báo cáo tháng 3 năm 2020");
        assert_eq!(Period::Year(2021).title("Bảng tự chấm điểm"), "Bảng tự chấm điểm năm 2021");
    }

    #[test]
    fn a_quarter_spans_three_months() {
        let p = Period::Quarter(2020, 2);
        assert_eq!((p.first_month(), p.last_month()), (4, 6));
        assert_eq!(Period::containing(PeriodKind::Quarter, NaiveDate::from_ymd_opt(2020, 9, 30).unwrap()), Period::Quarter(2020, 3));
    }

    #[test]
    fn ids_reject_spaces_and_empty_text() {
        assert!(UnitId::parse("BV DK").is_err());
        assert!(UnitId::parse("").is_err());
        assert_eq!(UnitId::parse(" TTYT-AB ").unwrap().as_str(), "TTYT-AB");
    }
}
