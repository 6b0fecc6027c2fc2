//! The office's own form (*biểu mẫu*, SPEC §16) as the rest of the program sees it: its
//! indicator rows (numbering, label, unit of measure, what kind of row), its figure columns
//! (their header levels and what kind of figure each holds), the cell formulas the office wrote
//! and the rules it added in the config. `parse::form` builds a [`Form`] once, from the blank form
//! file, when the config is loaded; everything here is a value, with no I/O.
//!
//! What a unit wrote in its own copy is a [`Reading`]: one row of values per indicator found,
//! keyed by the indicator's [`FormRow::key`] so that a reading stays meaningful when the office
//! later edits its form (a row added, columns moved).

use crate::domain::Format;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;

/// What a figure column holds. Only `Period` figures are compared with earlier periods for
/// outliers and reuse; `Ratio` columns are never summed; `Text` columns (*Ghi chú*) keep text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnKind {
    /// This period's figure (*Thực hiện trong tháng*, *Quý này*).
    Period,
    /// The running total since the start of the year (*Lũy kế*).
    Cumulative,
    /// A target (*Kế hoạch*, *Chỉ tiêu giao*).
    Plan,
    /// A share or average (*Tỷ lệ %*, *bình quân*, *công suất*): recomputed, never summed.
    Ratio,
    /// Words (*Ghi chú*).
    Text,
}

impl ColumnKind {
    pub fn label_vi(&self) -> &'static str {
        match self {
            ColumnKind::Period => "số liệu trong kỳ",
            ColumnKind::Cumulative => "lũy kế",
            ColumnKind::Plan => "kế hoạch",
            ColumnKind::Ratio => "tỷ lệ",
            ColumnKind::Text => "ghi chú",
        }
    }
    /// Figures of this column add up over units.
    pub fn summable(&self) -> bool {
        matches!(self, ColumnKind::Period | ColumnKind::Cumulative | ColumnKind::Plan)
    }
}

/// What an indicator row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKind {
    /// A heading (`I. KHÁM, CHỮA BỆNH`): no figures.
    Section,
    /// An indicator with figures that add up over units.
    Figure,
    /// *Tổng*, *Tổng số*, *Cộng*: the sum of the rows it totals ([`FormRow::totals`]).
    Total,
    /// *Tỷ lệ*, *bình quân*, *trung bình*, *công suất*, or measured in `%`: never summed.
    Ratio,
}

impl RowKind {
    pub fn label_vi(&self) -> &'static str {
        match self {
            RowKind::Section => "mục",
            RowKind::Figure => "chỉ tiêu",
            RowKind::Total => "dòng tổng",
            RowKind::Ratio => "chỉ tiêu tỷ lệ",
        }
    }
}

/// One figure column of the form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormColumn {
    /// Its header levels joined with ` / ` (`Thực hiện / Quý này`).
    pub name: String,
    pub levels: Vec<String>,
    /// Its column in the form's grid (0-based).
    pub col: usize,
    pub kind: ColumnKind,
}

/// One row of the form's indicator table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FormRow {
    /// What a reading is keyed by: the numbering when the form's rows have unique numbers, else
    /// the folded label (with `#2`, `#3` for repeats).
    pub key: String,
    /// The numbering as written (`I`, `1`, `1.1`, `a`), without a trailing dot.
    pub number: Option<String>,
    pub label: String,
    /// The unit of measure (*Đơn vị tính*).
    pub unit: Option<String>,
    pub kind: RowKind,
    /// Its row in the form's grid (0-based).
    pub row: usize,
    /// For a total row: the indices (in [`Form::rows`]) of the rows it is the sum of.
    pub totals: Vec<usize>,
}

impl FormRow {
    /// The row as people name it in findings: its numbering and label.
    pub fn named(&self) -> String {
        match &self.number {
            Some(n) => format!("{n} «{}»", self.label),
            None => format!("«{}»", self.label),
        }
    }
    pub fn has_figures(&self) -> bool {
        self.kind != RowKind::Section
    }
}

/// Where the form's table lies in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FormSource {
    /// A sheet of a workbook (.xlsx, .xls, .ods).
    Sheet(String),
    /// The n-th table (0-based) of a Word document (.docx, .doc, .odt).
    WordTable(usize),
}

/// A comparison in a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
}

impl Cmp {
    pub fn symbol(&self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "≠",
            Cmp::Le => "≤",
            Cmp::Ge => "≥",
            Cmp::Lt => "<",
            Cmp::Gt => ">",
        }
    }
    pub fn holds(&self, a: f64, b: f64, tol: f64) -> bool {
        match self {
            Cmp::Eq => (a - b).abs() <= tol,
            Cmp::Ne => (a - b).abs() > tol,
            Cmp::Le => a <= b + tol,
            Cmp::Ge => a + tol >= b,
            Cmp::Lt => a < b + tol,
            Cmp::Gt => a + tol > b,
        }
    }
}

/// Arithmetic of formulas and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Cmp(Cmp),
    /// `&`: text joined.
    Join,
}

/// The functions of cell formulas that forms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Func {
    Sum,
    Average,
    Min,
    Max,
    Round,
    Abs,
    If,
    IfError,
    And,
    Or,
    Not,
    Count,
}

/// A cell formula of the form (`=F10/D10*100`, `=SUM(E11:E13)`, `=IF(D10=0,"",F10/D10)`) or a
/// `form_rules` side (`{1.1} + {1.2}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    Num(f64),
    Text(String),
    /// A cell of the form's grid (row, column, 0-based).
    Cell(usize, usize),
    /// A rectangle of cells, corners included.
    Range((usize, usize), (usize, usize)),
    /// A form row (index in [`Form::rows`]), in a rule: its figure in the column being checked.
    Row(usize),
    Neg(Box<Expr>),
    /// `x%`.
    Percent(Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    Call(Func, Vec<Expr>),
}

/// A value while evaluating.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Num(f64),
    Text(String),
    Bool(bool),
    Blank,
    /// `#DIV/0!` and the like: what makes IFERROR take its second branch.
    Error,
}

impl Value {
    fn num(&self) -> Result<f64, ()> {
        match self {
            Value::Num(n) => Ok(*n),
            Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
            Value::Blank => Ok(0.0),
            Value::Text(t) if t.trim().is_empty() => Ok(0.0),
            Value::Text(t) => t.trim().parse::<f64>().map_err(|_| ()),
            Value::Error => Err(()),
        }
    }
    fn truthy(&self) -> Result<bool, ()> {
        Ok(self.num()? != 0.0)
    }
    /// The number, when this is one (blanks and text are none).
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Num(n) if n.is_finite() => Some(*n),
            _ => None,
        }
    }
}

/// What formulas read: the value of a cell, or of a row in the column being checked.
pub trait Cells {
    fn cell(&self, row: usize, col: usize) -> Value;
    fn row(&self, _index: usize) -> Value {
        Value::Blank
    }
}

impl Expr {
    /// The value of this expression over `cells`; Error for what cannot be computed.
    pub fn eval(&self, cells: &dyn Cells) -> Value {
        self.eval_depth(cells, 0)
    }

    fn eval_depth(&self, cells: &dyn Cells, depth: usize) -> Value {
        if depth > 64 {
            return Value::Error;
        }
        let ev = |e: &Expr| e.eval_depth(cells, depth + 1);
        let num = |e: &Expr| ev(e).num();
        match self {
            Expr::Num(n) => Value::Num(*n),
            Expr::Text(t) => Value::Text(t.clone()),
            Expr::Cell(r, c) => cells.cell(*r, *c),
            Expr::Row(i) => cells.row(*i),
            Expr::Range(..) => Value::Error,
            Expr::Neg(e) => num(e).map(|v| Value::Num(-v)).unwrap_or(Value::Error),
            Expr::Percent(e) => num(e).map(|v| Value::Num(v / 100.0)).unwrap_or(Value::Error),
            Expr::Bin(op, a, b) => {
                if let Op::Join = op {
                    return Value::Text(format!("{}{}", text_of(&ev(a)), text_of(&ev(b))));
                }
                if let Op::Cmp(c) = op {
                    let (x, y) = (ev(a), ev(b));
                    return match (x.num(), y.num()) {
                        (Ok(x), Ok(y)) => Value::Bool(c.holds(x, y, 0.0)),
                        _ => match c {
                            Cmp::Eq => Value::Bool(text_of(&x) == text_of(&y)),
                            Cmp::Ne => Value::Bool(text_of(&x) != text_of(&y)),
                            _ => Value::Error,
                        },
                    };
                }
                let (Ok(x), Ok(y)) = (num(a), num(b)) else { return Value::Error };
                let v = match op {
                    Op::Add => x + y,
                    Op::Sub => x - y,
                    Op::Mul => x * y,
                    Op::Div if y == 0.0 => return Value::Error,
                    Op::Div => x / y,
                    Op::Pow => x.powf(y),
                    Op::Cmp(_) | Op::Join => unreachable!("handled above"),
                };
                if v.is_finite() {
                    Value::Num(v)
                } else {
                    Value::Error
                }
            }
            Expr::Call(f, args) => call(*f, args, cells, depth),
        }
    }

    /// Every grid cell this expression reads (ranges expanded, bounded).
    pub fn cells(&self, out: &mut Vec<(usize, usize)>) {
        match self {
            Expr::Cell(r, c) => out.push((*r, *c)),
            Expr::Range((r0, c0), (r1, c1)) => {
                for r in *r0..=*r1 {
                    for c in *c0..=*c1 {
                        if out.len() > 10_000 {
                            return;
                        }
                        out.push((r, c));
                    }
                }
            }
            Expr::Neg(e) | Expr::Percent(e) => e.cells(out),
            Expr::Bin(_, a, b) => {
                a.cells(out);
                b.cells(out);
            }
            Expr::Call(_, args) => args.iter().for_each(|a| a.cells(out)),
            Expr::Num(_) | Expr::Text(_) | Expr::Row(_) => {}
        }
    }

    /// When this formula is a plain sum of cells of one column (`=SUM(D11:D13)`,
    /// `=D11+D12+D13`): those cells' rows.
    pub fn summed_rows(&self, col: usize) -> Option<Vec<usize>> {
        fn walk(e: &Expr, col: usize, out: &mut Vec<usize>) -> bool {
            match e {
                Expr::Cell(r, c) if *c == col => {
                    out.push(*r);
                    true
                }
                Expr::Range((r0, c0), (r1, c1)) if *c0 == col && *c1 == col => {
                    out.extend(*r0..=*r1);
                    true
                }
                Expr::Bin(Op::Add, a, b) => walk(a, col, out) && walk(b, col, out),
                Expr::Call(Func::Sum, args) => args.iter().all(|a| walk(a, col, out)),
                _ => false,
            }
        }
        let mut out = Vec::new();
        (walk(self, col, &mut out) && out.len() >= 2).then_some(out)
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::Num(n) => crate::text::num_vi(*n),
        Value::Text(t) => t.clone(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Blank | Value::Error => String::new(),
    }
}

/// The numbers an argument stands for (a range gives each of its cells that holds one).
fn numbers_of(e: &Expr, cells: &dyn Cells, depth: usize) -> Result<Vec<f64>, ()> {
    match e {
        Expr::Range(..) => {
            let mut at = Vec::new();
            e.cells(&mut at);
            let mut out = Vec::new();
            for (r, c) in at {
                match cells.cell(r, c) {
                    Value::Num(n) => out.push(n),
                    Value::Error => return Err(()),
                    _ => {}
                }
            }
            Ok(out)
        }
        _ => match e.eval_depth(cells, depth + 1) {
            Value::Num(n) => Ok(vec![n]),
            Value::Blank => Ok(vec![]),
            Value::Error => Err(()),
            v => v.num().map(|n| vec![n]),
        },
    }
}

fn call(f: Func, args: &[Expr], cells: &dyn Cells, depth: usize) -> Value {
    let ev = |e: &Expr| e.eval_depth(cells, depth + 1);
    let all = || -> Result<Vec<f64>, ()> {
        let mut v = Vec::new();
        for a in args {
            v.extend(numbers_of(a, cells, depth)?);
        }
        Ok(v)
    };
    let r = match f {
        Func::Sum => all().map(|v| Value::Num(v.iter().sum())),
        Func::Count => all().map(|v| Value::Num(v.len() as f64)),
        Func::Average => all().and_then(|v| if v.is_empty() { Err(()) } else { Ok(Value::Num(v.iter().sum::<f64>() / v.len() as f64)) }),
        Func::Min => all().map(|v| Value::Num(v.iter().copied().fold(f64::INFINITY, f64::min))).map(|v| if v == Value::Num(f64::INFINITY) { Value::Num(0.0) } else { v }),
        Func::Max => all().map(|v| Value::Num(v.iter().copied().fold(f64::NEG_INFINITY, f64::max))).map(|v| if v == Value::Num(f64::NEG_INFINITY) { Value::Num(0.0) } else { v }),
        Func::Round => match args {
            [x] | [x, _] => {
                let d = args.get(1).map(|d| ev(d).num()).unwrap_or(Ok(0.0));
                match (ev(x).num(), d) {
                    (Ok(x), Ok(d)) => {
                        let p = 10f64.powi(d as i32);
                        Ok(Value::Num((x * p).round() / p))
                    }
                    _ => Err(()),
                }
            }
            _ => Err(()),
        },
        Func::Abs => args.first().map(|x| ev(x).num().map(|v| Value::Num(v.abs()))).unwrap_or(Err(())),
        Func::If => match args {
            [c, rest @ ..] => match ev(c).truthy() {
                Ok(true) => Ok(rest.first().map(ev).unwrap_or(Value::Bool(true))),
                Ok(false) => Ok(rest.get(1).map(ev).unwrap_or(Value::Bool(false))),
                Err(()) => Err(()),
            },
            _ => Err(()),
        },
        Func::IfError => match args {
            [x, y] => match ev(x) {
                Value::Error => Ok(ev(y)),
                v => Ok(v),
            },
            _ => Err(()),
        },
        Func::And => args.iter().map(|a| ev(a).truthy()).collect::<Result<Vec<bool>, ()>>().map(|v| Value::Bool(v.iter().all(|b| *b))),
        Func::Or => args.iter().map(|a| ev(a).truthy()).collect::<Result<Vec<bool>, ()>>().map(|v| Value::Bool(v.iter().any(|b| *b))),
        Func::Not => args.first().map(|a| ev(a).truthy().map(|b| Value::Bool(!b))).unwrap_or(Err(())),
    };
    r.unwrap_or(Value::Error)
}

/// A rule of `form_rules`: `{Tổng} = {1} + {2} + {3}`, `{5} <= {10}`, checked in every column
/// of figures that add up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub text: String,
    pub left: Expr,
    pub cmp: Cmp,
    pub right: Expr,
}

/// The office's form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Form {
    /// The file, and the path as the config wrote it (shown to people and in JSON).
    pub path: PathBuf,
    pub shown: String,
    pub format: Format,
    pub source: FormSource,
    /// The cells of the form's sheet or table, merged regions filled with their value.
    pub grid: Vec<Vec<String>>,
    /// Merged regions of the grid: (first row, first column, last row, last column).
    pub merges: Vec<(usize, usize, usize, usize)>,
    /// The office's cell formulas, by (row, column) of the grid.
    pub formulas: HashMap<(usize, usize), Expr>,
    /// The first and last grid rows of the column headers.
    pub header: (usize, usize),
    pub number_col: Option<usize>,
    pub label_col: usize,
    pub unit_col: Option<usize>,
    pub columns: Vec<FormColumn>,
    pub rows: Vec<FormRow>,
    /// Where the unit writes its name in the heading (*Tên đơn vị: ……*), and the period
    /// (*Quý …. năm 2024*): filled with the office's name and the period in the compiled form.
    pub unit_cell: Option<(usize, usize)>,
    pub period_cell: Option<(usize, usize)>,
    pub rules: Vec<Rule>,
    /// A figure this many times above or below the unit's usual is a finding.
    pub outlier_factor: f64,
}

impl Form {
    pub fn row_by_key(&self, key: &str) -> Option<usize> {
        self.rows.iter().position(|r| r.key == key)
    }
    pub fn column_by_name(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }
    /// What `check-config` says it found.
    pub fn describe(&self) -> String {
        let figures = self.rows.iter().filter(|r| r.has_figures()).count();
        let sections = self.rows.len() - figures;
        let totals = self.rows.iter().filter(|r| r.kind == RowKind::Total).count();
        let ratios = self.rows.iter().filter(|r| r.kind == RowKind::Ratio).count();
        let place = match &self.source {
            FormSource::Sheet(s) => format!("trang «{s}»"),
            FormSource::WordTable(n) => format!("bảng thứ {} của văn bản", n + 1),
        };
        format!(
            "{place}: {figures} chỉ tiêu ({totals} dòng tổng, {ratios} dòng tỷ lệ), {sections} mục; {} cột số liệu: {}",
            self.columns.len(),
            self.columns.iter().map(|c| format!("«{}» ({})", c.name, c.kind.label_vi())).collect::<Vec<_>>().join(", ")
        )
    }
}

/// One value a unit wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Figure {
    Num(f64),
    Text(String),
}

impl Figure {
    pub fn number(&self) -> Option<f64> {
        match self {
            Figure::Num(n) => Some(*n),
            Figure::Text(_) => None,
        }
    }
}

/// What was read from a unit's copy of the form: per indicator found, its values in the
/// columns named by `columns` (the form's column names when it was read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub columns: Vec<String>,
    /// (row key, values in `columns` order).
    pub rows: Vec<(String, Vec<Option<Figure>>)>,
    /// The figures came from OCR (a scan): counted only once a clerk confirms them.
    #[serde(default)]
    pub ocr: bool,
    /// The document they were read from, and how well its table matched the form.
    pub document: String,
    #[serde(default)]
    pub sha256: String,
    /// Where the table was found (`trang «Bieu 01»`, `bảng 1`).
    #[serde(default)]
    pub place: String,
    /// Findings about the figures (missing rows, text where a number belongs, totals, rules,
    /// history), in Vietnamese.
    #[serde(default)]
    pub findings: Vec<String>,
    /// Cells with a finding, as (row key, column name), so pages can mark them.
    #[serde(default)]
    pub flagged: Vec<(String, String)>,
}

impl Reading {
    /// The value of row `key` in column `name` of a reading stored as JSON, read without
    /// parsing the rest of it (an indicator over a year reads one cell of thousands of
    /// readings). None when the reading has no such row or column; Some(None) for a blank cell.
    pub fn cell_in_json(json: &str, key: &str, name: &str) -> Option<Option<Figure>> {
        fn array_at<T: serde::de::DeserializeOwned>(json: &str, at: usize) -> Option<T> {
            serde_json::Deserializer::from_str(json.get(at..)?).into_iter::<T>().next()?.ok()
        }
        let cols_at = json.find("\"columns\":")? + "\"columns\":".len();
        let columns: Vec<String> = array_at(json, cols_at)?;
        let c = columns.iter().position(|x| x == name)?;
        let needle = format!("[{},", serde_json::to_string(key).ok()?);
        let rows_at = json.find("\"rows\":")?;
        let at = json[rows_at..].find(&needle)? + rows_at + needle.len();
        let values: Vec<Option<Figure>> = array_at(json, at)?;
        Some(values.get(c).cloned().flatten())
    }

    /// The value of row `key` in column `name`.
    pub fn get(&self, key: &str, name: &str) -> Option<&Figure> {
        let c = self.columns.iter().position(|c| c == name)?;
        self.rows.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.get(c)).and_then(|v| v.as_ref())
    }
    pub fn number(&self, key: &str, name: &str) -> Option<f64> {
        self.get(key, name).and_then(Figure::number)
    }
    /// The reading laid out on `form`: values by (form row, form column), None where not read.
    pub fn on_form(&self, form: &Form) -> Vec<Vec<Option<Figure>>> {
        let cols: Vec<Option<usize>> = form.columns.iter().map(|c| self.columns.iter().position(|n| *n == c.name)).collect();
        let by_key: HashMap<&str, &Vec<Option<Figure>>> = self.rows.iter().map(|(k, v)| (k.as_str(), v)).collect();
        form.rows
            .iter()
            .map(|r| match by_key.get(r.key.as_str()) {
                Some(vals) => cols.iter().map(|c| c.and_then(|c| vals.get(c).cloned().flatten())).collect(),
                None => vec![None; form.columns.len()],
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Grid(Vec<Vec<Value>>);
    impl Cells for Grid {
        fn cell(&self, r: usize, c: usize) -> Value {
            self.0.get(r).and_then(|row| row.get(c)).cloned().unwrap_or(Value::Blank)
        }
    }

    #[test]
    fn one_cell_is_read_from_a_stored_reading_as_the_whole_reading_has_it() {
        let r = Reading {
            columns: vec!["Kế hoạch".into(), "Trong tháng".into()],
            rows: vec![("1".into(), vec![Some(Figure::Num(100.0)), Some(Figure::Num(7.5))]), ("~tong \"so\"".into(), vec![None, Some(Figure::Text("x".into()))])],
            ..Default::default()
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(Reading::cell_in_json(&json, "1", "Trong tháng"), Some(Some(Figure::Num(7.5))));
        assert_eq!(Reading::cell_in_json(&json, "~tong \"so\"", "Kế hoạch"), Some(None));
        assert_eq!(Reading::cell_in_json(&json, "~tong \"so\"", "Trong tháng"), Some(Some(Figure::Text("x".into()))));
        assert_eq!(Reading::cell_in_json(&json, "2", "Kế hoạch"), None);
        assert_eq!(Reading::cell_in_json(&json, "1", "Lũy kế"), None);
    }

    #[test]
    fn formulas_compute_sums_ratios_and_guards() {
        let g = Grid(vec![vec![Value::Num(200.0), Value::Num(50.0), Value::Blank], vec![Value::Num(0.0), Value::Num(5.0), Value::Text("x".into())]]);
        let ratio = Expr::Bin(Op::Mul, Box::new(Expr::Bin(Op::Div, Box::new(Expr::Cell(0, 1)), Box::new(Expr::Cell(0, 0)))), Box::new(Expr::Num(100.0)));
        assert_eq!(ratio.eval(&g), Value::Num(25.0));
        let by_zero = Expr::Bin(Op::Div, Box::new(Expr::Cell(1, 1)), Box::new(Expr::Cell(1, 0)));
        assert_eq!(by_zero.eval(&g), Value::Error);
        let guarded = Expr::Call(Func::IfError, vec![by_zero.clone(), Expr::Text(String::new())]);
        assert_eq!(guarded.eval(&g), Value::Text(String::new()));
        let sum = Expr::Call(Func::Sum, vec![Expr::Range((0, 0), (1, 2))]);
        assert_eq!(sum.eval(&g), Value::Num(255.0), "text and blanks in a range are skipped");
        assert_eq!(sum.summed_rows(0), None, "a range over several columns is not a column's sum");
        let col = Expr::Call(Func::Sum, vec![Expr::Range((3, 4), (6, 4))]);
        assert_eq!(col.summed_rows(4), Some(vec![3, 4, 5, 6]));
    }
}
