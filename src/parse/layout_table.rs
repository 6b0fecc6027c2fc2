//! A table laid out on a page — a PDF's text layer (`pdftotext -layout`) or a scan's OCR words
//! placed at their positions — read back into rows of cells, so the figures of a form sent as PDF
//! or as a scan are read like those of a workbook (SPEC §16).
//!
//! Columns are found where the numbers line up (by their left edges, right edges or centres,
//! whichever lines them up best); what lies left of the first column of numbers is the row's
//! numbering, label and unit of measure. A label wrapped onto the lines below its numbers (a
//! narrow Word column) is joined back, and the header lines above the first row of numbers name
//! each column by the words above it.

use super::form::layout::clean_number;
use super::form::number::{self, Cell};

/// A run of text on a line: its first and last character columns.
#[derive(Debug, Clone, PartialEq)]
struct Tok {
    start: usize,
    end: usize,
    text: String,
}

impl Tok {
    fn center(&self) -> f64 {
        (self.start + self.end) as f64 / 2.0
    }
    fn is_number(&self) -> bool {
        matches!(number::read(&self.text), Cell::Num(_))
    }
}

/// The runs of a line, split at two or more spaces.
fn tokens(line: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut start, mut spaces) = (0, 0);
    for (i, c) in line.chars().enumerate() {
        if c == ' ' || c == '\u{a0}' {
            spaces += 1;
            continue;
        }
        if spaces >= 2 && !cur.is_empty() {
            out.push(Tok { start, end: i - spaces - 1, text: std::mem::take(&mut cur) });
        } else if spaces == 1 && !cur.is_empty() {
            cur.push(' ');
        }
        if cur.is_empty() {
            start = i;
        }
        spaces = 0;
        cur.push(c);
    }
    if !cur.is_empty() {
        let end = start + cur.chars().count() - 1;
        out.push(Tok { start, end, text: cur });
    }
    out
}

/// Groups positions within `tol` of each other: (position of the group, how many).
fn clusters(mut xs: Vec<f64>, tol: f64) -> Vec<(f64, usize)> {
    xs.sort_by(|a, b| a.total_cmp(b));
    let mut out: Vec<(f64, f64, usize)> = Vec::new();
    for x in xs {
        match out.last_mut() {
            Some((_, hi, n)) if x - *hi <= tol => {
                *hi = x;
                *n += 1;
            }
            _ => out.push((x, x, 1)),
        }
    }
    out.into_iter().map(|(lo, hi, n)| ((lo + hi) / 2.0, n)).collect()
}

/// How numbers are aligned in their cells.
#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
    Center,
}

fn anchor(t: &Tok, a: Align) -> f64 {
    match a {
        Align::Left => t.start as f64,
        Align::Right => t.end as f64,
        Align::Center => t.center(),
    }
}

/// The tables of page text: one per page that holds one. A table going on over the next page,
/// where it has no header of its own, continues the one before when it has as many columns of
/// numbers (each page is laid out at its own scale: columns are matched in order, not by place),
/// and the words at the top of that page finish the label of the row before.
pub fn tables(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut out: Vec<Vec<Vec<String>>> = Vec::new();
    for page in text.split('\u{c}').take(50) {
        let Some(p) = page_table(page) else { continue };
        match (p.headed, out.last_mut()) {
            (false, Some(t)) if t.first().is_some_and(|h| h.len() == p.rows.first().map_or(0, |r| r.len())) => {
                if let Some(last) = t.last_mut() {
                    for (slot, w) in &p.lead {
                        push_word(&mut last[*slot], w);
                    }
                }
                t.extend(p.rows.into_iter().skip(1));
            }
            (false, _) => {}
            (true, _) => out.push(p.rows),
        }
    }
    out.retain(|t| t.len() >= 3);
    out
}

/// What one page holds: its rows (the first the header, empty where the page has none), and
/// the words at its top that continue a row of the page before.
struct PageTable {
    headed: bool,
    lead: Vec<(usize, String)>,
    rows: Vec<Vec<String>>,
}

fn page_table(page: &str) -> Option<PageTable> {
    let g = Geometry::of(page)?;
    let (body, head) = g.header();
    let headed = head.iter().any(|c| !c.is_empty());
    let mut rows: Vec<Vec<String>> = vec![head];
    let mut lead: Vec<(usize, String)> = Vec::new();
    // Lines above the first row of a page without a header: the previous page's last row goes on.
    if !headed {
        for l in &g.lines[..body] {
            for t in l.iter().filter(|t| t.end < g.figures_from) {
                lead.push((g.slot(t), t.text.clone()));
            }
        }
    }
    for i in body..g.lines.len() {
        g.read_line(i, headed, &mut rows, &mut lead);
    }
    (rows.len() >= 2).then_some(PageTable { headed, lead, rows })
}

/// Where a page's table stands: its lines' words, the numbers that count on each, the columns
/// they line up in, where the figures begin, the table's left edge and its unit column.
struct Geometry {
    lines: Vec<Vec<Tok>>,
    nums: Vec<Vec<Tok>>,
    align: Align,
    /// Each column's anchor.
    cols: Vec<f64>,
    /// Each column's extent over its numbers.
    spans: Vec<(usize, usize)>,
    /// Where the numbers begin: left of it are the numbering, label and unit.
    figures_from: usize,
    /// The first line with figures.
    first: usize,
    margin: usize,
    unit_at: Option<f64>,
}

impl Geometry {
    fn of(page: &str) -> Option<Geometry> {
        let lines: Vec<Vec<Tok>> = page.lines().take(400).map(tokens).collect();
        // The numbers of each line: a first run that is the row's numbering is not one of them.
        let numeric = |toks: &[Tok]| -> Vec<Tok> {
            toks.iter()
                .enumerate()
                .filter(|(i, t)| t.is_number() && !(*i == 0 && toks.len() > 1 && clean_number(&t.text).is_some() && !toks[1].is_number()))
                .map(|(_, t)| t.clone())
                .collect()
        };
        // Numbers count on lines that are rows: a label or numbering before them, or several of them
        // (a year alone on a header line is not a column of figures).
        let nums: Vec<Vec<Tok>> = lines
            .iter()
            .map(|l| {
                let n = numeric(l);
                let labelled = n.first().is_some_and(|f| l.iter().any(|t| t.end < f.start && !t.is_number()) || clean_number(&l[0].text).is_some() && l[0].end < f.start);
                if labelled || n.len() >= 2 {
                    n
                } else {
                    vec![]
                }
            })
            .collect();
        let all: Vec<&Tok> = nums.iter().flatten().collect();
        if all.len() < 6 {
            return None;
        }
        // The alignment that lines the numbers up in the fewest columns.
        let (align, cols) = [Align::Right, Align::Left, Align::Center]
            .into_iter()
            .map(|a| (a, clusters(all.iter().map(|t| anchor(t, a)).collect(), 2.0)))
            .min_by_key(|(_, c)| c.len())?;
        let data_lines = nums.iter().filter(|n| !n.is_empty()).count();
        let cols: Vec<f64> = cols.into_iter().filter(|(_, n)| *n >= 2.max(data_lines / 5)).map(|(x, _)| x).collect();
        if cols.is_empty() || cols.len() > 30 {
            return None;
        }
        let column_of = |t: &Tok| -> Option<usize> {
            let x = anchor(t, align);
            cols.iter().enumerate().map(|(i, c)| (i, (c - x).abs())).filter(|(_, d)| *d <= 3.0).min_by(|a, b| a.1.total_cmp(&b.1)).map(|(i, _)| i)
        };
        // Where the numbers begin: left of it are the numbering, label and unit.
        let figures_from = all.iter().filter(|t| column_of(t).is_some()).map(|t| t.start).min()?;
        let is_data = |i: usize| nums[i].iter().any(|t| column_of(t).is_some());
        let first = (0..lines.len()).find(|i| is_data(*i))?;
        // The unit of measure: a short word in the same place on many rows, before the numbers.
        let unit_at: Option<f64> = {
            let starts: Vec<f64> = (first..lines.len())
                .filter(|i| is_data(*i))
                .filter_map(|i| {
                    let left: Vec<&Tok> = lines[i].iter().filter(|t| t.end < figures_from).collect();
                    let last = left.last()?;
                    (left.len() >= 2 && last.text.chars().count() <= 12 && !last.text.chars().any(|c| c.is_ascii_digit())).then_some(last.start as f64)
                })
                .collect();
            let n = starts.len();
            clusters(starts, 2.0).into_iter().find(|(_, k)| *k * 2 >= n && *k >= 3).map(|(x, _)| x)
        };
        // The table's left edge (a scan keeps the page's margin): the numbering starts there.
        let margin = (first..lines.len()).filter(|i| is_data(*i)).filter_map(|i| lines[i].first().map(|t| t.start)).min().unwrap_or(0);
        let width = cols.len();
        let spans: Vec<(usize, usize)> = (0..width)
            .map(|k| {
                let mine: Vec<&Tok> = all.iter().copied().filter(|t| column_of(t) == Some(k)).collect();
                (mine.iter().map(|t| t.start).min().unwrap_or(0), mine.iter().map(|t| t.end).max().unwrap_or(0))
            })
            .collect();
        Some(Geometry { lines, nums, align, cols, spans, figures_from, first, margin, unit_at })
    }

    fn width(&self) -> usize {
        self.cols.len()
    }

    fn column_of(&self, t: &Tok) -> Option<usize> {
        let x = anchor(t, self.align);
        self.cols.iter().enumerate().map(|(i, c)| (i, (c - x).abs())).filter(|(_, d)| *d <= 3.0).min_by(|a, b| a.1.total_cmp(&b.1)).map(|(i, _)| i)
    }

    fn is_data(&self, i: usize) -> bool {
        self.nums[i].iter().any(|t| self.column_of(t).is_some())
    }

    fn in_unit(&self, t: &Tok) -> bool {
        self.unit_at.is_some_and(|u| (t.start as f64 - u).abs() <= 2.0)
    }

    /// The cell a word left of the figures goes to: the unit's (2) or the label's (1).
    fn slot(&self, t: &Tok) -> usize {
        if self.in_unit(t) {
            2
        } else {
            1
        }
    }

    /// The first line of the body, and the header's cells (numbering, label, unit, then a cell
    /// per column): the lines with words over the columns just above the first rows (a section
    /// heading may come between), up to a blank line.
    fn header(&self) -> (usize, Vec<String>) {
        let (lines, figures_from, margin, spans, width) = (&self.lines, self.figures_from, self.margin, &self.spans, self.width());
        let over_columns = |i: usize| lines[i].iter().any(|t| t.end >= figures_from);
        let mut body = self.first;
        while body > 0 && !lines[body - 1].is_empty() && !over_columns(body - 1) {
            body -= 1;
        }
        // Running text above the table (a sentence across the columns) is not its header.
        // A title or a paragraph (one long run on its line) is not a header either.
        let running = |i: usize| {
            lines[i].iter().any(|t| t.text.chars().count() > 40 && (0..width).filter(|k| t.start <= spans[*k].1 && t.end >= spans[*k].0).count() >= 3)
                || (lines[i].len() == 1 && lines[i][0].text.chars().count() > 15)
        };
        let mut top = body;
        while top > 0 && !lines[top - 1].is_empty() && body - top < 6 && !running(top - 1) {
            top -= 1;
        }
        let mut head = vec![String::new(); 3 + width];
        for l in &lines[top..body] {
            for t in l {
                let slot = if t.end < figures_from {
                    if self.in_unit(t) {
                        2
                    } else if t.start <= margin + 3 && t.text.chars().count() <= 5 {
                        0
                    } else {
                        1
                    }
                } else {
                    // Each word goes to the column it stands over (headings of neighbouring
                    // columns may share a run, one space apart).
                    let mut at = t.start;
                    for w in t.text.split(' ') {
                        let (ws, we) = (at, at + w.chars().count().saturating_sub(1));
                        at = we + 2;
                        let gap = |k: usize| spans[k].0.saturating_sub(we).max(ws.saturating_sub(spans[k].1));
                        if let Some(k) = (0..width).min_by_key(|k| gap(*k)) {
                            push_word(&mut head[3 + k], w);
                        }
                    }
                    continue;
                };
                push_word(&mut head[slot], &t.text);
            }
        }
        (body, head)
    }

    /// Reads line `i` of the body: a row of its own, or the continuation of the row above (a
    /// wrapped label or unit, a number too wide for its cell), or words before the first row.
    fn read_line(&self, i: usize, headed: bool, rows: &mut Vec<Vec<String>>, lead: &mut Vec<(usize, String)>) {
        let (figures_from, margin, width, align, cols) = (self.figures_from, self.margin, self.width(), self.align, &self.cols);
        let l = &self.lines[i];
        if l.is_empty() {
            return;
        }
        let mut left: Vec<Tok> = l.iter().filter(|t| t.end < figures_from).cloned().collect();
        // The numbering one space from its label (`7.1 Trong đó`) is a cell of its own.
        if let Some(first) = left.first().filter(|t| t.start <= margin + 3).cloned() {
            if let Some((n, rest)) = first.text.split_once(' ').filter(|(n, r)| clean_number(n).is_some() && !r.is_empty() && n.chars().count() <= 6) {
                let at = first.start + n.chars().count() + 1;
                left[0] = Tok { start: first.start, end: first.start + n.chars().count() - 1, text: n.to_string() };
                left.insert(1, Tok { start: at, end: first.end, text: rest.to_string() });
            }
        }
        let left: Vec<&Tok> = left.iter().collect();
        let numbered = left.first().filter(|t| t.start <= margin + 3).and_then(|t| clean_number(&t.text));
        // A number too wide for its cell wraps too (`1.285.00` over `0`): its digits go on.
        if numbered.is_none() && rows.len() > 1 && self.is_data(i) {
            let right: Vec<(usize, &Tok)> = l.iter().filter(|t| t.end >= figures_from).filter_map(|t| self.column_of(t).map(|k| (k, t))).collect();
            let prev = rows.last().expect("checked");
            // The number above ends short of a group of three digits (`1.285.00`).
            let short = |cell: &str| {
                let tail: String = cell.chars().rev().take_while(|c| c.is_ascii_digit()).collect();
                cell.len() > tail.len() && tail.len() < 3 && cell[..cell.len() - tail.len()].ends_with(['.', ','])
            };
            let wraps = !right.is_empty() && right.iter().all(|(k, t)| t.text.chars().count() <= 3 && t.text.chars().all(|c| c.is_ascii_digit()) && short(&prev[3 + k]));
            if wraps {
                let row = rows.last_mut().expect("checked");
                for (k, t) in right {
                    row[3 + k].push_str(&t.text);
                }
                for t in &left {
                    push_word(&mut row[self.slot(t)], &t.text);
                }
                return;
            }
        }
        // Words at the table's very left edge begin a row (a heading, a total, the signatures:
        // the indicator table ends at those); indented ones continue the row above.
        let at_edge = left.first().is_some_and(|t| t.start <= margin + 1);
        if !self.is_data(i) && numbered.is_none() && !at_edge {
            // A wrapped label or unit continues the row above.
            let has_rows = rows.len() > 1;
            match rows.last_mut().filter(|_| has_rows) {
                Some(row) => {
                    for t in &left {
                        push_word(&mut row[self.slot(t)], &t.text);
                    }
                }
                None if !headed => lead.extend(left.iter().map(|t| (self.slot(t), t.text.clone()))),
                None => {}
            }
            return;
        }
        let mut row = vec![String::new(); 3 + width];
        let mut rest: Vec<&Tok> = left.clone();
        if let Some(n) = numbered {
            row[0] = n;
            rest.remove(0);
        }
        for t in rest {
            push_word(&mut row[self.slot(t)], &t.text);
        }
        for t in l.iter().filter(|t| t.end >= figures_from) {
            match self.column_of(t) {
                Some(k) => row[3 + k] = t.text.clone(),
                None => {
                    // Text where a number belongs: kept in the nearest column.
                    if let Some(k) = (0..width).min_by(|a, b| (anchor(t, align) - cols[*a]).abs().total_cmp(&(anchor(t, align) - cols[*b]).abs())) {
                        if row[3 + k].is_empty() {
                            row[3 + k] = t.text.clone();
                        }
                    }
                }
            }
        }
        rows.push(row);
    }
}

fn push_word(cell: &mut String, w: &str) {
    if !cell.is_empty() {
        cell.push(' ');
    }
    cell.push_str(w.trim());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Word table printed to PDF: a narrow label column wrapped, numbers left-aligned.
    const WORD: &str = "
STT       Chỉ tiêu   Đơn vị    Kế        Thực hiện            Tỷ lệ %
                     tính      hoạch     Quý này Lũy kế       so với kế
                               năm                 từ đầu     hoạch
                               2024                năm
A         KHÁM
          BỆNH
1         Tổng số    lượt      253.500   65.028    65.028     25,7
          lượt
          khám
1.1       Trong      lượt      215.800   54.456    54.456     25,2
          đó: có
          thẻ
3         Giường     giường    400       400
          bệnh kế
          hoạch
7         Công       %                   219,9
          suất
";

    #[test]
    fn a_word_table_printed_to_pdf_is_read_back_into_rows_and_columns() {
        let t = tables(WORD);
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert_eq!(t[0][..3], ["STT".to_string(), "Chỉ tiêu".into(), "Đơn vị tính".into()]);
        assert!(t[0][3].starts_with("Kế hoạch năm 2024"), "{:?}", t[0]);
        assert!(t[0][4].contains("Quý này") && t[0][5].contains("Lũy kế từ đầu năm"), "{:?}", t[0]);
        let row = |n: &str| t.iter().find(|r| r[0] == n).unwrap_or_else(|| panic!("no row {n}: {t:?}"));
        assert_eq!(row("A")[1], "KHÁM BỆNH");
        assert_eq!(row("1")[1..], ["Tổng số lượt khám".to_string(), "lượt".into(), "253.500".into(), "65.028".into(), "65.028".into(), "25,7".into()]);
        assert_eq!(row("1.1")[1], "Trong đó: có thẻ");
        assert_eq!(row("3")[3..], ["400".to_string(), "400".into(), "".into(), "".into()]);
        assert_eq!(row("7")[4], "219,9");
    }

    #[test]
    fn page_text_without_columns_of_numbers_holds_no_table() {
        assert!(tables("BÁO CÁO\nKết quả công tác quý I năm 2021\n1. Khám chữa bệnh: 12.345 lượt.\n").is_empty());
    }
}
