//! A form report's figures compiled for one period (SPEC §16): the form's indicators × the units
//! whose figures count, each unit's from its latest accepted version; totals over those units;
//! ratio columns and rows never summed but recomputed from the totals where the office's cell
//! formula says how, else left empty; the units that owe the report and sent nothing, and those
//! waiting in review. Gathered from the stored readings once ([`crate::facts::figures`]); what
//! follows is pure, so the command line, the workbook, the console and the digest agree.

use crate::config::{Config, Report};
use crate::domain::form::{Cells, ColumnKind, Figure, Form, RowKind, Value};
use crate::domain::{ObligationKey, Period, UnitId};
use crate::parse::form::number;
use crate::store::{FigureCell, StoreError, StoredFigures};
use serde_json::{json, Value as Json};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// One unit's figures in a compiled period.
#[derive(Debug, Clone)]
pub struct UnitFigures {
    pub unit: UnitId,
    pub submission: i64,
    pub version: Option<i64>,
    pub ocr: bool,
    pub confirmed_by: Option<String>,
    /// Its figures go into the totals (not read by OCR, or confirmed).
    pub counted: bool,
    pub findings: Vec<String>,
    /// Cells with a finding: (form row index, form column index).
    pub flagged: HashSet<(usize, usize)>,
    pub document: String,
    pub place: String,
    /// Values by form row, then form column.
    pub values: Vec<Vec<Option<Figure>>>,
}

/// A report's figures for one period.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub report: String,
    pub report_name: String,
    pub period: Period,
    pub form: Arc<Form>,
    /// Units with figures, in the config's order.
    pub units: Vec<UnitFigures>,
    /// Totals by form row, then form column.
    pub totals: Vec<Vec<Option<f64>>>,
    /// Owe the report and sent nothing accepted, not exempt, nothing waiting.
    pub missing: Vec<UnitId>,
    /// A message about it waits in review.
    pub waiting: Vec<UnitId>,
    /// Accepted, but no table of the form was found in what they sent.
    pub without_figures: Vec<UnitId>,
    pub exempt: Vec<UnitId>,
}

#[derive(Debug, thiserror::Error)]
pub enum FiguresError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("report `{0}` does not exist")]
    UnknownReport(String),
    #[error("report `{0}` has no form (set `form` in its [[report]] entry)")]
    NoForm(String),
    #[error("report `{report}` is owed by {kind} periods, not `{period}`")]
    WrongPeriod { report: String, kind: String, period: String },
    #[error("{0}")]
    NotOnForm(String),
}

/// The report and its form, or why figures cannot be compiled for it.
pub fn form_report<'a>(cfg: &'a Config, report: &str) -> Result<(&'a Report, Arc<Form>), FiguresError> {
    let r = cfg.report(report).ok_or_else(|| FiguresError::UnknownReport(report.to_string()))?;
    let f = r.form.clone().ok_or_else(|| FiguresError::NoForm(report.to_string()))?;
    Ok((r, f))
}

impl UnitFigures {
    fn of(form: &Form, s: StoredFigures) -> UnitFigures {
        let values = s.reading.on_form(form);
        let rows: HashMap<&str, usize> = form.rows.iter().enumerate().map(|(i, r)| (r.key.as_str(), i)).collect();
        let flagged = s.reading.flagged.iter().filter_map(|(k, c)| Some((*rows.get(k.as_str())?, form.column_by_name(c)?))).collect();
        UnitFigures {
            unit: s.unit.clone(),
            submission: s.message,
            version: s.version,
            ocr: s.ocr,
            counted: s.counted(),
            confirmed_by: s.confirmed_by,
            findings: s.reading.findings,
            flagged,
            document: s.reading.document,
            place: s.reading.place,
            values,
        }
    }

    pub fn number(&self, row: usize, col: usize) -> Option<f64> {
        self.values.get(row).and_then(|r| r.get(col)).and_then(|v| v.as_ref()).and_then(Figure::number)
    }
}

/// The office's form filled with totals, for formulas to read.
struct TotalsGrid<'a> {
    form: &'a Form,
    summed: HashMap<(usize, usize), f64>,
    visiting: RefCell<HashSet<(usize, usize)>>,
}

impl Cells for TotalsGrid<'_> {
    fn cell(&self, r: usize, c: usize) -> Value {
        if let Some(v) = self.summed.get(&(r, c)) {
            return Value::Num(*v);
        }
        if let Some(e) = self.form.formulas.get(&(r, c)) {
            if !self.visiting.borrow_mut().insert((r, c)) {
                return Value::Error;
            }
            let v = e.eval(self);
            self.visiting.borrow_mut().remove(&(r, c));
            return v;
        }
        // A figure cell with nothing summed is empty; elsewhere, what the form itself holds.
        if self.form.rows.iter().any(|x| x.row == r) && self.form.columns.iter().any(|x| x.col == c) {
            return Value::Blank;
        }
        match number::read(crate::parse::form::layout::cell(&self.form.grid, r, c)) {
            number::Cell::Num(n) => Value::Num(n),
            number::Cell::Blank => Value::Blank,
            number::Cell::Text(t) => Value::Text(t),
        }
    }
}

/// Totals of `units` on `form`: summable figures added over the counted units; ratio cells
/// recomputed by the form's formula or left empty.
pub fn totals(form: &Form, units: &[UnitFigures]) -> Vec<Vec<Option<f64>>> {
    let counted: Vec<&UnitFigures> = units.iter().filter(|u| u.counted).collect();
    let ratio = |ri: usize, ci: usize| form.rows[ri].kind == RowKind::Ratio || form.columns[ci].kind == ColumnKind::Ratio;
    let mut out = vec![vec![None; form.columns.len()]; form.rows.len()];
    let mut summed = HashMap::new();
    for (ri, r) in form.rows.iter().enumerate() {
        if !r.has_figures() {
            continue;
        }
        for (ci, c) in form.columns.iter().enumerate() {
            if c.kind == ColumnKind::Text || ratio(ri, ci) {
                continue;
            }
            let vals: Vec<f64> = counted.iter().filter_map(|u| u.number(ri, ci)).collect();
            if !vals.is_empty() {
                let s: f64 = vals.iter().sum();
                let s = (s * 1e6).round() / 1e6;
                out[ri][ci] = Some(s);
                summed.insert((r.row, c.col), s);
            }
        }
    }
    let grid = TotalsGrid { form, summed, visiting: RefCell::new(HashSet::new()) };
    for (ri, r) in form.rows.iter().enumerate() {
        for (ci, c) in form.columns.iter().enumerate() {
            if r.has_figures() && c.kind != ColumnKind::Text && ratio(ri, ci) {
                if let Some(e) = form.formulas.get(&(r.row, c.col)) {
                    out[ri][ci] = e.eval(&grid).as_number().map(|v| (v * 1e6).round() / 1e6);
                }
            }
        }
    }
    out
}

/// The value a formula cell of the form takes over the totals (for the filled form's cached
/// values).
pub fn formula_values(form: &Form, totals: &[Vec<Option<f64>>]) -> HashMap<(usize, usize), Value> {
    let mut summed = HashMap::new();
    for (ri, r) in form.rows.iter().enumerate() {
        for (ci, c) in form.columns.iter().enumerate() {
            if let Some(v) = totals[ri][ci] {
                if !form.formulas.contains_key(&(r.row, c.col)) {
                    summed.insert((r.row, c.col), v);
                }
            }
        }
    }
    let grid = TotalsGrid { form, summed, visiting: RefCell::new(HashSet::new()) };
    form.formulas.iter().map(|(k, e)| (*k, e.eval(&grid))).collect()
}

impl Compiled {
    /// The figures of `report` for `period` as of `as_of`.
    /// Whether `period` is of `report`'s kind: the form report's record and form when it is.
    pub fn ask<'a>(cfg: &'a Config, report: &str, period: Period) -> Result<(&'a Report, Arc<Form>), FiguresError> {
        let (r, form) = form_report(cfg, report)?;
        if period.kind() != r.period {
            return Err(FiguresError::WrongPeriod { report: report.into(), kind: format!("{:?}", r.period).to_lowercase(), period: period.to_string() });
        }
        Ok((r, form))
    }

    /// Pure: the compiled period from the stored readings and who did what.
    pub fn build(cfg: &Config, r: &Report, form: Arc<Form>, period: Period, stored: Vec<StoredFigures>, who: &crate::store::PeriodUnits) -> Compiled {
        let order: HashMap<&str, usize> = cfg.units.iter().enumerate().map(|(i, u)| (u.id.as_str(), i)).collect();
        let mut units: Vec<UnitFigures> = stored.into_iter().map(|s| UnitFigures::of(&form, s)).collect();
        units.sort_by_key(|u| order.get(u.unit.as_str()).copied().unwrap_or(usize::MAX));
        let with: HashSet<&str> = units.iter().map(|u| u.unit.as_str()).collect();
        let (mut missing, mut waiting, mut without, mut exempt) = (vec![], vec![], vec![], vec![]);
        for u in crate::schedule::owing_units(cfg, r) {
            if crate::schedule::obligation(cfg, &ObligationKey { unit: u.id.clone(), report: r.id.clone(), period }).is_err() {
                continue;
            }
            let id = u.id.as_str();
            if who.exempt.contains(id) {
                exempt.push(u.id.clone());
            } else if who.accepted.contains(id) {
                if !with.contains(id) {
                    without.push(u.id.clone());
                }
            } else if who.waiting.contains(id) {
                waiting.push(u.id.clone());
            } else {
                missing.push(u.id.clone());
            }
        }
        let totals = totals(&form, &units);
        Compiled { report: r.id.to_string(), report_name: r.name.clone(), period, form, units, totals, missing, waiting, without_figures: without, exempt }
    }

    fn json_value(&self, v: &Option<Figure>, col: usize) -> Json {
        match (v, self.form.columns[col].kind) {
            (Some(Figure::Num(n)), _) => json!(n),
            (Some(Figure::Text(t)), ColumnKind::Text) => json!(t),
            _ => Json::Null,
        }
    }

    /// SPEC §16's `figures --json`.
    pub fn to_json(&self) -> Json {
        let rows: Vec<Json> = self
            .form
            .rows
            .iter()
            .enumerate()
            .map(|(ri, r)| {
                let mut values = serde_json::Map::new();
                if r.has_figures() {
                    for u in &self.units {
                        values.insert(u.unit.to_string(), Json::Array((0..self.form.columns.len()).map(|ci| self.json_value(&u.values[ri][ci], ci)).collect()));
                    }
                }
                json!({"number": r.number, "label": r.label, "unit": r.unit, "kind": r.kind, "values": values, "total": self.totals[ri]})
            })
            .collect();
        let units: serde_json::Map<String, Json> = self
            .units
            .iter()
            .map(|u| {
                (u.unit.to_string(), json!({"submission": u.submission.to_string(), "version": u.version, "ocr": u.ocr, "counted": u.counted,
                    "confirmed_by": u.confirmed_by, "document": u.document, "findings": u.findings}))
            })
            .collect();
        json!({
            "report": self.report, "period": self.period.to_string(), "form": self.form.shown,
            "columns": self.form.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "column_kinds": self.form.columns.iter().map(|c| c.kind).collect::<Vec<_>>(),
            "rows": rows, "units": units,
            "missing": self.missing, "waiting": self.waiting, "without_figures": self.without_figures, "exempt": self.exempt,
        })
    }
}

/// The indicator a series is asked for, found on the form: what [`crate::facts::series`] reads
/// (`whole`: the readings entire, else the one cell of each).
#[derive(Debug, Clone)]
pub struct SeriesAsk {
    pub report: String,
    pub form: Arc<Form>,
    pub row: usize,
    pub column: usize,
    pub periods: Vec<Period>,
    pub whole: bool,
}

/// One indicator of a report over the periods of a year, unit by unit, in one column.
#[derive(Debug, Clone)]
pub struct Series {
    pub report: String,
    pub form: Arc<Form>,
    pub row: usize,
    pub column: usize,
    pub periods: Vec<Period>,
    /// (unit, its value in each period).
    pub units: Vec<(UnitId, Vec<Option<f64>>)>,
    /// The total of each period (the same rule as a period's totals).
    pub total: Vec<Option<f64>>,
}

impl Series {
    /// The indicator asked for: `row` names it by its numbering or label; `column` a column by
    /// its name (or the first column of this period's figures).
    pub fn ask(cfg: &Config, report: &str, year: i32, row: &str, column: Option<&str>) -> Result<SeriesAsk, FiguresError> {
        let (r, form) = form_report(cfg, report)?;
        let ri = crate::parse::form::find_row(&form.rows, row).map_err(FiguresError::NotOnForm)?;
        let ci = match column {
            Some(c) => {
                let fc = crate::text::fold(c);
                form.columns.iter().position(|x| crate::text::fold(&x.name) == fc).or_else(|| form.columns.iter().position(|x| crate::text::fold(&x.name).contains(&fc)))
                    .ok_or_else(|| FiguresError::NotOnForm(format!("the form has no column «{c}» (columns: {})", form.columns.iter().map(|x| x.name.clone()).collect::<Vec<_>>().join("; "))))?
            }
            None => form.columns.iter().position(|x| x.kind == ColumnKind::Period).unwrap_or(0),
        };
        let periods = crate::schedule::periods_of(r, year);
        // A ratio cell's total follows the form's formula over the other totals: the periods'
        // whole readings are needed. Any other cell is read alone from each reading.
        let whole = form.rows[ri].kind == RowKind::Ratio || form.columns[ci].kind == ColumnKind::Ratio;
        Ok(SeriesAsk { report: report.to_string(), form, row: ri, column: ci, periods, whole })
    }

    /// The series from the report's whole readings (a ratio cell's).
    pub fn of_readings(cfg: &Config, ask: SeriesAsk, stored: Vec<StoredFigures>) -> Series {
        let SeriesAsk { report, form, row: ri, column: ci, periods, .. } = ask;
        let mut by_period: HashMap<Period, Vec<UnitFigures>> = HashMap::new();
        for s in stored.into_iter().filter(|s| periods.contains(&s.period)) {
            by_period.entry(s.period).or_default().push(UnitFigures::of(&form, s));
        }
        let mut units: Vec<(UnitId, Vec<Option<f64>>)> = Vec::new();
        for u in &cfg.units {
            let vals: Vec<Option<f64>> = periods.iter().map(|p| by_period.get(p).and_then(|us| us.iter().find(|x| x.unit == u.id)).and_then(|x| x.number(ri, ci))).collect();
            if vals.iter().any(|v| v.is_some()) {
                units.push((u.id.clone(), vals));
            }
        }
        let total = periods.iter().map(|p| by_period.get(p).and_then(|us| totals(&form, us)[ri][ci])).collect();
        Series { report, form, row: ri, column: ci, periods, units, total }
    }

    /// The series from the one cell of each reading.
    pub fn of_cells(cfg: &Config, ask: SeriesAsk, cells: Vec<FigureCell>) -> Series {
        let SeriesAsk { report, form, row: ri, column: ci, periods, .. } = ask;
        let (fr, fc) = (&form.rows[ri], &form.columns[ci]);
        let index: HashMap<(&UnitId, Period), &FigureCell> = cells.iter().map(|c| ((&c.unit, c.period), c)).collect();
        let at = |u: &UnitId, p: &Period| index.get(&(u, *p)).copied();
        let mut units: Vec<(UnitId, Vec<Option<f64>>)> = Vec::new();
        for u in &cfg.units {
            let vals: Vec<Option<f64>> = periods.iter().map(|p| at(&u.id, p).and_then(|c| c.value.as_ref()).and_then(Figure::number)).collect();
            if vals.iter().any(|v| v.is_some()) {
                units.push((u.id.clone(), vals));
            }
        }
        let total = periods
            .iter()
            .map(|p| {
                let vals: Vec<f64> = cells.iter().filter(|c| &c.period == p && c.counted).filter_map(|c| c.value.as_ref().and_then(Figure::number)).collect();
                (!vals.is_empty() && fc.kind != ColumnKind::Text && fr.has_figures()).then(|| (vals.iter().sum::<f64>() * 1e6).round() / 1e6)
            })
            .collect();
        Series { report, form, row: ri, column: ci, periods, units, total }
    }

    pub fn to_json(&self) -> Json {
        let r = &self.form.rows[self.row];
        json!({
            "report": self.report, "row": {"number": r.number, "label": r.label, "unit": r.unit},
            "column": self.form.columns[self.column].name,
            "periods": self.periods.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            "values": self.units.iter().map(|(u, v)| (u.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "total": self.total,
        })
    }
}

/// How a cell of a sheet of figures looks; each writer maps it to its own styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Title,
    /// Text under or over the table, without borders.
    Plain,
    PlainBold,
    Head,
    Text,
    Center,
    Section,
    Int,
    Dec,
    IntFlag,
    DecFlag,
    IntTotal,
    DecTotal,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Num(f64),
    Blank,
}

/// A sheet of figures as cells with their looks, merges, sizes and print settings: laid out
/// once, written by the filled form's writer (into the office's own workbook) and by the
/// status workbook's.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub cells: Vec<(u32, u16, Cell, Look)>,
    pub merges: Vec<(u32, u16, u32, u16)>,
    pub heights: Vec<(u32, f64)>,
    pub widths: Vec<(u16, f64)>,
    /// Columns a printed page starts at.
    pub breaks: Vec<u16>,
    /// Rows and columns frozen on screen.
    pub freeze: (u32, u16),
    /// Rows and columns printed on every page.
    pub repeat_rows: (u32, u32),
    pub repeat_cols: (u16, u16),
    /// Print scale (%).
    pub scale: u16,
}

/// Every unit's figures side by side: per figure column of the form, one column per unit and
/// the total; cells with a finding shaded; the findings listed under the table. On paper each
/// column of the form starts a page, the indicators and headings repeated.
pub fn side_by_side(cfg: &Config, c: &Compiled) -> Sheet {
    let form = &c.form;
    let cols: Vec<usize> = (0..form.columns.len()).filter(|i| form.columns[*i].kind != ColumnKind::Text).collect();
    let per = c.units.len() + 1;
    let name_of = |u: &UnitId| cfg.unit(u.as_str()).map(|x| x.name.clone()).unwrap_or_else(|| u.to_string());
    let mut s = Sheet { freeze: (4, 3), repeat_rows: (0, 3), repeat_cols: (0, 2), scale: 80, ..Default::default() };
    let mut put = |r: u32, c: u16, v: Cell, l: Look| s.cells.push((r, c, v, l));
    let last_col = (2 + cols.len() * per) as u16;
    // The heading lies over the columns repeated on every page (A:C), wrapped to fit them.
    let lines = |text: &str, width: usize| text.chars().count().div_ceil(width.max(1)).max(1) as f64;
    let title = format!("{} — số liệu của từng đơn vị", c.period.title(&c.report_name));
    let mut said = format!("{}: tổng hợp {} đơn vị", cfg.office.name, c.units.iter().filter(|u| u.counted).count());
    let names = |v: &[UnitId]| v.iter().map(name_of).collect::<Vec<_>>().join(", ");
    if !c.missing.is_empty() {
        said.push_str(&format!("; chưa gửi: {}", names(&c.missing)));
    }
    if !c.waiting.is_empty() {
        said.push_str(&format!("; chờ xem xét: {}", names(&c.waiting)));
    }
    let uncounted: Vec<UnitId> = c.units.iter().filter(|u| !u.counted).map(|u| u.unit.clone()).collect();
    if !uncounted.is_empty() {
        said.push_str(&format!("; số liệu đọc bằng OCR chưa được xác nhận (chưa cộng vào tổng): {}", names(&uncounted)));
    }
    put(0, 0, Cell::Text(title.clone()), Look::Title);
    put(0, 1, Cell::Blank, Look::Title);
    put(0, 2, Cell::Blank, Look::Title);
    put(1, 0, Cell::Text(said.clone()), Look::Plain);
    put(1, 1, Cell::Blank, Look::Plain);
    put(1, 2, Cell::Blank, Look::Plain);
    // Two header rows: the form's column, then the units and the total under it.
    for (k, h) in ["STT", "Chỉ tiêu", "Đơn vị tính"].iter().enumerate() {
        put(2, k as u16, Cell::Text(h.to_string()), Look::Head);
        put(3, k as u16, Cell::Blank, Look::Head);
    }
    for (g, &ci) in cols.iter().enumerate() {
        let first = (3 + g * per) as u16;
        put(2, first, Cell::Text(form.columns[ci].name.clone()), Look::Head);
        for k in 1..per as u16 {
            put(2, first + k, Cell::Blank, Look::Head);
        }
        for (k, u) in c.units.iter().enumerate() {
            put(3, first + k as u16, Cell::Text(name_of(&u.unit)), Look::Head);
        }
        put(3, first + per as u16 - 1, Cell::Text("Tổng cộng".into()), Look::Head);
    }
    let mut r = 4u32;
    for (ri, fr) in form.rows.iter().enumerate() {
        put(r, 0, Cell::Text(fr.number.clone().unwrap_or_default()), Look::Center);
        put(r, 1, Cell::Text(fr.label.clone()), if fr.kind == RowKind::Section { Look::Section } else { Look::Text });
        put(r, 2, Cell::Text(fr.unit.clone().unwrap_or_default()), Look::Center);
        for (g, &ci) in cols.iter().enumerate() {
            let first = (3 + g * per) as u16;
            for (k, u) in c.units.iter().enumerate() {
                let flagged = u.flagged.contains(&(ri, ci));
                let (v, l) = match u.values.get(ri).and_then(|v| v.get(ci)).cloned().flatten() {
                    Some(Figure::Num(v)) => (Cell::Num(v), match (v.fract() == 0.0, flagged) {
                        (true, false) => Look::Int,
                        (false, false) => Look::Dec,
                        (true, true) => Look::IntFlag,
                        (false, true) => Look::DecFlag,
                    }),
                    Some(Figure::Text(t)) => (Cell::Text(t), Look::DecFlag),
                    None => (Cell::Blank, if flagged { Look::DecFlag } else { Look::Dec }),
                };
                put(r, first + k as u16, v, l);
            }
            let (v, l) = match c.totals[ri][ci] {
                Some(v) => (Cell::Num(v), if v.fract() == 0.0 { Look::IntTotal } else { Look::DecTotal }),
                None => (Cell::Blank, Look::DecTotal),
            };
            put(r, first + per as u16 - 1, v, l);
        }
        r += 1;
    }
    // The findings, unit by unit, under the table, each over the label column and the first
    // column group, wrapped.
    let with: Vec<&UnitFigures> = c.units.iter().filter(|u| !u.findings.is_empty()).collect();
    let mut notes = Vec::new();
    if !with.is_empty() {
        r += 1;
        put(r, 1, Cell::Text("Số liệu cần đơn vị kiểm tra lại (ô tô màu):".into()), Look::PlainBold);
        r += 1;
        // (At most eight units wide: what a printed page holds at the smallest scale.)
        let end = (2 + per.min(8) as u16).min(last_col.max(2));
        let width = 42 + 9 + 13 * (end as usize - 2);
        for u in with {
            for f in &u.findings {
                let text = format!("{}: {f}", name_of(&u.unit));
                put(r, 1, Cell::Text(text.clone()), Look::Plain);
                for k in 2..=end {
                    put(r, k, Cell::Blank, Look::Plain);
                }
                notes.push((r, end, lines(&text, width)));
                r += 1;
            }
        }
    }
    s.merges.push((0, 0, 0, 2));
    s.merges.push((1, 0, 1, 2));
    for k in 0..3u16 {
        s.merges.push((2, k, 3, k));
    }
    for g in 0..cols.len() {
        let first = (3 + g * per) as u16;
        if per > 1 {
            s.merges.push((2, first, 2, first + per as u16 - 1));
        }
    }
    s.heights.push((0, 19.0 * lines(&title, 48)));
    s.heights.push((1, 16.0 * lines(&said, 60)));
    s.heights.push((2, 32.0));
    let longest = c.units.iter().map(|u| name_of(&u.unit).chars().count()).max().unwrap_or(10);
    s.heights.push((3, 16.0 * longest.div_ceil(11).clamp(2, 6) as f64));
    for (row, end, n) in notes {
        s.merges.push((row, 1, row, end));
        s.heights.push((row, 16.0 * n));
    }
    s.widths = vec![(0, 6.0), (1, 42.0), (2, 9.0)];
    s.widths.extend((3..=last_col).map(|c| (c, 13.0)));
    s.breaks = (1..cols.len()).map(|g| (3 + g * per) as u16).collect();
    // A4 landscape holds about 100 width units at 100%: a column group on one page where it can.
    let wide = 57 + 13 * per;
    s.scale = (100 * 98 / wide).clamp(50, 100) as u16;
    s
}
