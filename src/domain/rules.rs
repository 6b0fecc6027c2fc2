//! The office's rules as validated values: units, report kinds with their deadline rules, the
//! working calendar and the parsing limits. `config` builds them from TOML; the pure cores
//! (parse, matching, schedule) read them without knowing where they came from.

use super::{PeriodKind, ReportId, UnitId};
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::HashSet;

#[derive(Debug, Clone)]
pub struct Calendar {
    pub start: NaiveDate,
    pub shift_to_workday: bool,
    pub holidays: HashSet<NaiveDate>,
}

/// Parsing limits (SPEC §5); each has a safe default and may be tuned under `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub attachment_mb: u64,
    pub zip_entries: usize,
    pub inflated_mb: u64,
    pub compression_ratio: u64,
    pub xml_depth: usize,
    pub cells: usize,
    pub worker_memory_mb: u64,
    pub worker_seconds: u64,
    pub workers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            attachment_mb: 25,
            zip_entries: 2000,
            inflated_mb: 200,
            compression_ratio: 200,
            xml_depth: 256,
            cells: 2_000_000,
            worker_memory_mb: 256,
            worker_seconds: 30,
            workers: 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Unit {
    pub id: UnitId,
    pub name: String,
    pub aliases: Vec<String>,
    pub emails: Vec<String>,
    pub group: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    Report,
    ScoreTable,
    Commitments,
    TaskPlan,
}

impl Extract {
    pub fn as_str(&self) -> &'static str {
        match self {
            Extract::Report => "report",
            Extract::ScoreTable => "score-table",
            Extract::Commitments => "commitments",
            Extract::TaskPlan => "task-plan",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueMonth {
    Last,
    Next,
    Month(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DueRule {
    Relative { month: DueMonth, day: u32, exclusive: bool, year_offset: i32 },
    Date(NaiveDate),
}

#[derive(Debug, Clone)]
pub struct Report {
    pub id: ReportId,
    pub name: String,
    pub keywords: Vec<String>,
    pub doc_types: Vec<String>,
    pub period: PeriodKind,
    pub quarters: Option<Vec<u8>>,
    pub due: DueRule,
    /// Empty means every group (`"*"`).
    pub applies_to: Vec<String>,
    pub extract: Extract,
    pub remind_before_days: Vec<i64>,
    pub remind_after_days: Vec<i64>,
    pub escalate_after_days: Option<i64>,
    pub catch_up_days: i64,
    pub once_for: Option<i32>,
    pub expected_commitments: usize,
}

impl Report {
    pub fn applies_to_group(&self, group: &str) -> bool {
        self.applies_to.is_empty() || self.applies_to.iter().any(|g| g == group)
    }
}

