//! The checks of a unit's figures at the source (SPEC §16), each a finding in plain Vietnamese
//! naming the row, the column and both numbers, so the unit can correct and send again:
//! - [`within`] needs only the document: total rows (*Tổng*, *Cộng*) against the rows they
//!   total, and the office's `form_rules`;
//! - [`against_history`] needs the unit's earlier periods: the cumulative (*Lũy kế*) carried
//!   from the previous period, figures far from the unit's usual, a file sent again unchanged.
//!   Both are judged on the period's own figures, never on cumulative, plan or ratio columns.

use crate::domain::form::{Cells, ColumnKind, Expr, Form, FormRow, Reading, RowKind, Value};
use crate::domain::Period;
use crate::text::num_vi;

/// How far apart two figures may be and still be equal: whole counts exactly (within
/// rounding); figures with decimals by what their rounding can add up to.
fn tolerance(vals: &[f64]) -> f64 {
    if vals.iter().all(|v| v.fract() == 0.0) {
        0.5
    } else {
        0.05 + 0.01 * vals.len() as f64
    }
}

/// The rows as people list them: `1–3` for a run of numbers, else each one.
fn rows_named(rows: &[&FormRow]) -> String {
    let nums: Vec<Option<u32>> = rows.iter().map(|r| r.number.as_deref().and_then(|n| n.parse().ok())).collect();
    if rows.len() >= 3 && nums.iter().all(|n| n.is_some()) && nums.windows(2).all(|w| w[1] == w[0].map(|x| x + 1)) {
        return format!("{}–{}", nums[0].unwrap_or(0), nums[nums.len() - 1].unwrap_or(0));
    }
    rows.iter().map(|r| r.number.clone().unwrap_or_else(|| format!("«{}»", r.label))).collect::<Vec<_>>().join(", ")
}

/// A reading's figures in one column, as cells a rule reads by row.
struct Column<'a> {
    form: &'a Form,
    reading: &'a Reading,
    name: &'a str,
}

impl Cells for Column<'_> {
    fn cell(&self, _: usize, _: usize) -> Value {
        Value::Error
    }
    fn row(&self, i: usize) -> Value {
        match self.form.rows.get(i).and_then(|r| self.reading.number(&r.key, self.name)) {
            Some(v) => Value::Num(v),
            None => Value::Blank,
        }
    }
}

fn rows_in(e: &Expr, out: &mut Vec<usize>) {
    match e {
        Expr::Row(i) => out.push(*i),
        Expr::Neg(x) | Expr::Percent(x) => rows_in(x, out),
        Expr::Bin(_, a, b) => {
            rows_in(a, out);
            rows_in(b, out);
        }
        Expr::Call(_, args) => args.iter().for_each(|a| rows_in(a, out)),
        _ => {}
    }
}

/// One side of a rule as people read it: a single row by its numbering and label and value,
/// else the rule's own words and the value.
fn side(form: &Form, e: &Expr, v: f64) -> String {
    match e {
        Expr::Row(i) => format!("dòng {} ghi {}", form.rows[*i].named(), num_vi(v)),
        _ => format!("vế {} bằng {}", describe(form, e), num_vi(v)),
    }
}

fn describe(form: &Form, e: &Expr) -> String {
    match e {
        Expr::Row(i) => form.rows[*i].number.clone().unwrap_or_else(|| form.rows[*i].label.clone()),
        Expr::Num(n) => num_vi(*n),
        Expr::Bin(op, a, b) => {
            let s = match op {
                crate::domain::form::Op::Add => "+",
                crate::domain::form::Op::Sub => "−",
                crate::domain::form::Op::Mul => "×",
                crate::domain::form::Op::Div => ":",
                _ => "?",
            };
            format!("{} {s} {}", describe(form, a), describe(form, b))
        }
        Expr::Neg(x) => format!("−{}", describe(form, x)),
        _ => "…".into(),
    }
}

/// Checks that need only the document: total rows and the office's rules.
pub fn within(form: &Form, reading: &mut Reading) {
    let mut findings = Vec::new();
    let mut flagged = Vec::new();
    let summable: Vec<&crate::domain::form::FormColumn> = form.columns.iter().filter(|c| c.kind.summable()).collect();
    for tr in form.rows.iter().filter(|r| r.kind == RowKind::Total && !r.totals.is_empty()) {
        let parts: Vec<&FormRow> = tr.totals.iter().filter_map(|j| form.rows.get(*j)).collect();
        for c in &summable {
            let Some(v) = reading.number(&tr.key, &c.name) else { continue };
            let vals: Vec<f64> = parts.iter().filter_map(|p| reading.number(&p.key, &c.name)).collect();
            if vals.is_empty() {
                continue;
            }
            let sum: f64 = vals.iter().sum();
            let mut all = vals.clone();
            all.push(v);
            if (v - sum).abs() > tolerance(&all) {
                findings.push(format!("dòng {}, cột «{}»: ghi {}, tổng các dòng {} là {}", tr.named(), c.name, num_vi(v), rows_named(&parts), num_vi(sum)));
                flagged.push((tr.key.clone(), c.name.clone()));
            }
        }
    }
    for rule in &form.rules {
        let mut refs = Vec::new();
        rows_in(&rule.left, &mut refs);
        rows_in(&rule.right, &mut refs);
        for c in &summable {
            // A rule is judged where every row it names has a figure.
            if refs.iter().any(|i| form.rows.get(*i).and_then(|r| reading.number(&r.key, &c.name)).is_none()) {
                continue;
            }
            let cells = Column { form, reading, name: &c.name };
            let (Some(l), Some(r)) = (rule.left.eval(&cells).as_number(), rule.right.eval(&cells).as_number()) else { continue };
            let vals: Vec<f64> = refs.iter().filter_map(|i| reading.number(&form.rows[*i].key, &c.name)).collect();
            if !rule.cmp.holds(l, r, tolerance(&vals)) {
                findings.push(format!(
                    "cột «{}»: {}, {} — không đúng quy tắc «{}» của biểu mẫu",
                    c.name,
                    side(form, &rule.left, l),
                    side(form, &rule.right, r),
                    rule.text
                ));
                let mut left = Vec::new();
                rows_in(&rule.left, &mut left);
                for i in left {
                    flagged.push((form.rows[i].key.clone(), c.name.clone()));
                }
            }
        }
    }
    reading.findings.extend(findings);
    reading.flagged.extend(flagged);
}

/// The unit's earlier figures of the same report: the period just before (its latest
/// accepted version), and up to six periods before, newest first.
#[derive(Debug, Default)]
pub struct History<'a> {
    pub previous: Option<(Period, &'a Reading)>,
    pub recent: Vec<(Period, &'a Reading)>,
}

/// The period just before `p`, of its kind (across a year's end too).
pub fn previous_period(p: Period) -> Option<Period> {
    Some(match p {
        Period::Month(y, 1) => Period::Month(y - 1, 12),
        Period::Month(y, m) => Period::Month(y, m - 1),
        Period::Quarter(y, 1) => Period::Quarter(y - 1, 4),
        Period::Quarter(y, q) => Period::Quarter(y, q - 1),
        Period::Half(y, 1) => Period::Half(y - 1, 2),
        Period::Half(y, _) => Period::Half(y, 1),
        Period::Year(y) => Period::Year(y - 1),
        Period::Once(_) => return None,
    })
}

fn first_of_year(p: Period) -> bool {
    matches!(p, Period::Month(_, 1) | Period::Quarter(_, 1) | Period::Half(_, 1))
}

/// The rows whose figures are compared over time: indicators and totals, not shares.
fn over_time(form: &Form) -> impl Iterator<Item = &FormRow> {
    form.rows.iter().filter(|r| matches!(r.kind, RowKind::Figure | RowKind::Total))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Checks against the unit's earlier periods: a file sent again unchanged, the cumulative
/// carried from the previous period, figures far from the unit's usual.
pub fn against_history(form: &Form, period: Period, reading: &mut Reading, h: &History) {
    let period_cols: Vec<&crate::domain::form::FormColumn> = form.columns.iter().filter(|c| c.kind == ColumnKind::Period).collect();
    // The same figures as the period before, in every row: last period's file sent again.
    if let Some((pp, prev)) = h.previous {
        let same_file = !reading.sha256.is_empty() && prev.sha256 == reading.sha256;
        let now: &Reading = reading;
        let compared: Vec<(f64, f64)> = over_time(form)
            .flat_map(|r| period_cols.iter().filter_map(move |c| Some((now.number(&r.key, &c.name)?, prev.number(&r.key, &c.name)?))))
            .collect();
        let unchanged = compared.len() >= 3 && compared.iter().all(|(a, b)| (a - b).abs() < 1e-9);
        if same_file || unchanged {
            reading.findings.push(format!(
                "số liệu trong kỳ giống hệt {} ở mọi dòng{}: có thể đơn vị gửi lại tệp của kỳ trước mà chưa cập nhật số liệu {}",
                pp.label_vi(),
                if same_file { " (cùng một tệp)" } else { "" },
                period.label_vi()
            ));
            return;
        }
    }
    // Lũy kế: the previous period's cumulative plus this period's figure, within one year.
    let cumulative: Vec<&crate::domain::form::FormColumn> = form.columns.iter().filter(|c| c.kind == ColumnKind::Cumulative).collect();
    let yearly = matches!(period, Period::Month(..) | Period::Quarter(..) | Period::Half(..));
    if yearly {
        for (k, cc) in cumulative.iter().enumerate() {
            let Some(pc) = period_cols.get(k).or(period_cols.first()) else { break };
            for r in over_time(form) {
                let (Some(cum), Some(this)) = (reading.number(&r.key, &cc.name), reading.number(&r.key, &pc.name)) else { continue };
                // A figure found wrong already (a total that does not add up) is said once.
                if reading.flagged.iter().any(|(k, c)| *k == r.key && *c == pc.name) {
                    continue;
                }
                let said = if first_of_year(period) {
                    ((cum - this).abs() > tolerance(&[cum, this])).then(|| format!("dòng {}, cột «{}»: lũy kế ghi {}, nhưng {} là kỳ đầu năm nên lũy kế phải bằng số trong kỳ ({})", r.named(), cc.name, num_vi(cum), period.label_vi(), num_vi(this)))
                } else {
                    // A previous figure that failed a check there is no base to judge by (the
                    // unit corrects it in this period's cumulative).
                    let doubtful = |prev: &Reading| prev.flagged.iter().any(|(k, c)| *k == r.key && (*c == cc.name || *c == pc.name));
                    match h.previous.filter(|(pp, prev)| pp.year() == period.year() && !doubtful(prev)).and_then(|(pp, prev)| Some((pp, prev.number(&r.key, &cc.name)?))) {
                        Some((pp, before)) => {
                            let want = before + this;
                            ((cum - want).abs() > tolerance(&[cum, before, this])).then(|| {
                                format!("dòng {}, cột «{}»: lũy kế ghi {}, nhưng lũy kế {} là {} cộng số trong kỳ {} là {}", r.named(), cc.name, num_vi(cum), pp.label_vi(), num_vi(before), num_vi(this), num_vi(want))
                            })
                        }
                        None => None,
                    }
                };
                if let Some(f) = said {
                    reading.findings.push(f);
                    reading.flagged.push((r.key.clone(), cc.name.clone()));
                }
            }
        }
    }
    // Far from the unit's usual: more than `outlier_factor` times above or below the median of
    // its last six periods (small counts, where a few cases more or less mean nothing, aside).
    let f = form.outlier_factor.max(1.0);
    for r in over_time(form) {
        for c in &period_cols {
            let Some(v) = reading.number(&r.key, &c.name) else { continue };
            let Some(med) = median(h.recent.iter().take(6).filter_map(|(_, x)| x.number(&r.key, &c.name)).collect()) else { continue };
            if med <= 0.0 || (v - med).abs() < 10.0 {
                continue;
            }
            let n = h.recent.iter().take(6).filter(|(_, x)| x.number(&r.key, &c.name).is_some()).count();
            let usual = format!("mức thường thấy của đơn vị là {} (trung vị {} kỳ trước)", num_vi(med), n);
            let said = if v > f * med {
                Some(format!("dòng {}, cột «{}»: {} cao gấp {} lần {usual}; đề nghị kiểm tra lại", r.named(), c.name, num_vi(v), num_vi((v / med * 10.0).round() / 10.0)))
            } else if v * f < med {
                Some(format!("dòng {}, cột «{}»: {} thấp bất thường so với {usual}; đề nghị kiểm tra lại", r.named(), c.name, num_vi(v)))
            } else {
                None
            };
            if let Some(s) = said {
                reading.findings.push(s);
                reading.flagged.push((r.key.clone(), c.name.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::form::{Figure, FormSource};
    use crate::domain::Format;

    /// A small monthly form: this month, since January, and a plan.
    fn form() -> Form {
        let rows: &[&[&str]] = &[
            &["STT", "Chỉ tiêu", "ĐVT", "Kế hoạch", "Trong tháng", "Lũy kế từ đầu năm"],
            &["1", "Khám tại trạm", "lượt", "", "", ""],
            &["2", "Khám lưu động", "lượt", "", "", ""],
            &["3", "Tiêm chủng đầy đủ", "trẻ", "", "", ""],
            &["4", "Tỷ lệ khám BHYT", "%", "", "", ""],
        ];
        let g = super::super::Grid { name: "B".into(), cells: rows.iter().map(|r| r.iter().map(|s| s.to_string()).collect()).collect(), merges: vec![], formulas: vec![] };
        super::super::build(std::path::Path::new("f.xlsx"), "f.xlsx", Format::Xlsx, FormSource::Sheet("B".into()), &g, 0, &[], 3.0).unwrap()
    }

    fn reading(f: &Form, vals: &[(&str, [f64; 3])]) -> Reading {
        Reading {
            columns: f.columns.iter().map(|c| c.name.clone()).collect(),
            rows: vals.iter().map(|(k, v)| (k.to_string(), v.iter().map(|x| Some(Figure::Num(*x))).collect())).collect(),
            sha256: format!("{vals:?}"),
            ..Default::default()
        }
    }

    #[test]
    fn a_cumulative_must_carry_the_previous_periods_within_the_year() {
        let f = form();
        let jan = reading(&f, &[("1", [1200.0, 100.0, 100.0]), ("2", [600.0, 50.0, 50.0]), ("3", [60.0, 5.0, 5.0])]);
        let mut feb = reading(&f, &[("1", [1200.0, 110.0, 210.0]), ("2", [600.0, 40.0, 95.0]), ("3", [60.0, 6.0, 11.0])]);
        against_history(&f, Period::Month(2023, 2), &mut feb, &History { previous: Some((Period::Month(2023, 1), &jan)), recent: vec![(Period::Month(2023, 1), &jan)] });
        assert_eq!(feb.findings.len(), 1, "{:?}", feb.findings);
        assert!(feb.findings[0].contains("dòng 2 «Khám lưu động»") && feb.findings[0].contains("lũy kế ghi 95") && feb.findings[0].contains("là 90"), "{}", feb.findings[0]);
        // January's cumulative is its own month.
        let mut jan2 = reading(&f, &[("1", [1200.0, 100.0, 130.0])]);
        against_history(&f, Period::Month(2023, 1), &mut jan2, &History::default());
        assert!(jan2.findings[0].contains("kỳ đầu năm"), "{:?}", jan2.findings);
    }

    #[test]
    fn a_figure_far_from_the_units_usual_is_an_outlier_small_counts_aside() {
        let f = form();
        let past: Vec<Reading> = (1..=6).map(|m| reading(&f, &[("1", [0.0, 100.0 + m as f64, 0.0]), ("3", [0.0, 4.0, 0.0])])).collect();
        let recent: Vec<(Period, &Reading)> = past.iter().enumerate().rev().map(|(i, r)| (Period::Month(2023, i as u8 + 1), r)).collect();
        let mut now = reading(&f, &[("1", [0.0, 1030.0, 0.0]), ("3", [0.0, 13.0, 0.0])]);
        now.sha256 = "other".into();
        against_history(&f, Period::Month(2023, 7), &mut now, &History { previous: None, recent });
        assert_eq!(now.findings.len(), 1, "{:?}", now.findings);
        assert!(now.findings[0].contains("1.030 cao gấp") && now.findings[0].contains("trung vị 6 kỳ trước"), "{}", now.findings[0]);
    }

    #[test]
    fn last_periods_figures_sent_again_are_said_once() {
        let f = form();
        let may = reading(&f, &[("1", [1200.0, 100.0, 500.0]), ("2", [600.0, 50.0, 250.0]), ("3", [60.0, 5.0, 25.0])]);
        let mut june = may.clone();
        june.sha256 = "another file, same figures".into();
        against_history(&f, Period::Month(2023, 6), &mut june, &History { previous: Some((Period::Month(2023, 5), &may)), recent: vec![(Period::Month(2023, 5), &may)] });
        assert_eq!(june.findings.len(), 1, "the reuse, not its cumulatives as well: {:?}", june.findings);
        assert!(june.findings[0].contains("giống hệt tháng 5 năm 2023"));
    }
}
