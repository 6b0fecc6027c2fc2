//! The office's own form filled with a period's totals (SPEC §16, `figures --xlsx`): the file
//! the office sends on to the next level. The office's workbook itself is filled in place — its
//! sheets, styles, merged cells, column widths and formulas untouched, each formula's cached
//! value computed over the totals and the workbook told to recompute on opening — with the
//! unit's name replaced by the office's and the period written in. A sheet with every unit's
//! figures side by side follows. A form kept as .xls or .ods is converted by LibreOffice first;
//! a form in a Word table (or a workbook LibreOffice could not convert) is laid out in a
//! workbook of its own with the same rows, columns, headings and merges.

use super::figures::{formula_values, side_by_side, Cell, Compiled, Look};
use crate::config::Config;
use crate::domain::form::{Form, FormSource, RowKind, Value};
use crate::domain::Format;
use crate::text::fold;
use once_cell::sync::Lazy;
use regex::Regex;
use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};

/// What goes into one cell of the office's sheet.
#[derive(Debug, Clone, PartialEq)]
enum Put {
    Num(f64),
    Text(String),
    /// A formula cell: its formula stays, its cached value is this.
    Cached(Value),
}

/// The filled form as .xlsx bytes.
pub fn build(cfg: &Config, c: &Compiled) -> Result<Vec<u8>, String> {
    let form = &c.form;
    let (package, sheet) = match (&form.source, form.format) {
        (FormSource::Sheet(name), Format::Xlsx) => (std::fs::read(&form.path).map_err(|e| format!("cannot read the form {}: {e}", form.shown))?, name.clone()),
        (FormSource::Sheet(name), _) => {
            let data = std::fs::read(&form.path).map_err(|e| format!("cannot read the form {}: {e}", form.shown))?;
            let ext = if form.format == Format::Ods { "ods" } else { "xls" };
            let budget = crate::parse::external::Budget { seconds: 60, memory_mb: 1024 };
            match crate::parse::form::converted(&data, ext, "xlsx", budget, &form.shown) {
                Ok(x) => (x, name.clone()),
                Err(e) => {
                    tracing::warn!("the form {} could not be converted ({e}); its layout is rebuilt instead", form.shown);
                    (blank_workbook(form, name)?, name.clone())
                }
            }
        }
        (FormSource::WordTable(_), _) => {
            let name = "Biểu mẫu".to_string();
            (blank_workbook(form, &name)?, name)
        }
    };
    fill(&package, &sheet, cfg, c)
}

/// The form's layout as a workbook of its own (a Word form, or one that could not be converted):
/// its cells, merges and widths, headers in bold with borders.
fn blank_workbook(form: &Form, sheet: &str) -> Result<Vec<u8>, String> {
    use rust_xlsxwriter::{Format as Fmt, FormatAlign, FormatBorder, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(sheet).map_err(|e| e.to_string())?;
    let base = Fmt::new().set_font_name("Times New Roman").set_font_size(12);
    let title = base.clone().set_bold().set_align(FormatAlign::Center).set_text_wrap();
    let head = title.clone().set_border(FormatBorder::Thin).set_align(FormatAlign::VerticalCenter);
    let cell = base.clone().set_border(FormatBorder::Thin).set_text_wrap();
    let section = cell.clone().set_bold();
    let (h0, h1) = form.header;
    let last_row = form.rows.last().map(|r| r.row).unwrap_or(h1);
    let width = form.grid.iter().map(|r| r.len()).max().unwrap_or(0);
    let merged = |r: usize, c: usize| form.merges.iter().any(|m| r >= m.0 && r <= m.2 && c >= m.1 && c <= m.3 && (r, c) != (m.0, m.1));
    for (r, row) in form.grid.iter().enumerate().take(last_row + 1) {
        for c in 0..width {
            if merged(r, c) {
                continue;
            }
            let text = row.get(c).map(|s| s.as_str()).unwrap_or("");
            let f = if r < h0 {
                &title
            } else if r <= h1 {
                &head
            } else if form.rows.iter().any(|x| x.row == r && x.kind == RowKind::Section) {
                &section
            } else {
                &cell
            };
            if r < h0 && text.is_empty() {
                continue;
            }
            ws.write_string_with_format(r as u32, c as u16, text, f).map_err(|e| e.to_string())?;
        }
    }
    for m in &form.merges {
        if m.0 > last_row {
            continue;
        }
        let text = form.grid.get(m.0).and_then(|r| r.get(m.1)).cloned().unwrap_or_default();
        let f = if m.0 < h0 { &title } else { &head };
        ws.merge_range(m.0 as u32, m.1 as u16, m.2 as u32, m.3 as u16, &text, f).map_err(|e| e.to_string())?;
    }
    for c in 0..width {
        let w = if c == form.label_col { 45.0 } else if Some(c) == form.number_col { 6.0 } else { 14.0 };
        ws.set_column_width(c as u16, w).map_err(|e| e.to_string())?;
    }
    // Headings wrap over two lines in their cells.
    for r in h0..=h1 {
        ws.set_row_height(r as u32, 32.0).map_err(|e| e.to_string())?;
    }
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    wb.save_to_buffer().map_err(|e| e.to_string())
}

fn col_letters(mut c: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push((b'A' + (c % 26) as u8) as char);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.iter().rev().collect()
}

fn cell_ref(r: usize, c: usize) -> String {
    format!("{}{}", col_letters(c), r + 1)
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => o.push(c),
        }
    }
    o
}

fn unesc(s: &str) -> String {
    static ENT: Lazy<Regex> = Lazy::new(|| Regex::new(r"&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);").unwrap());
    ENT.replace_all(s, |c: &regex::Captures| {
        let e = &c[1];
        match e {
            "amp" => "&".to_string(),
            "lt" => "<".to_string(),
            "gt" => ">".to_string(),
            "quot" => "\"".to_string(),
            "apos" => "'".to_string(),
            _ if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32).map(String::from).unwrap_or_default(),
            _ => e[1..].parse::<u32>().ok().and_then(char::from_u32).map(String::from).unwrap_or_default(),
        }
    })
    .into_owned()
}

/// An attribute of an element's start tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let re = Regex::new(&format!(r#"(?:^|[\s<]){}\s*=\s*(?:"([^"]*)"|'([^']*)')"#, regex::escape(name))).ok()?;
    re.captures(tag).map(|c| unesc(c.get(1).or(c.get(2)).map(|m| m.as_str()).unwrap_or("")))
}

/// (row, column) of a reference like `E10`.
fn parse_ref(r: &str) -> Option<(usize, usize)> {
    let letters: String = r.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
    let row: usize = r[letters.len()..].parse().ok()?;
    let col = letters.chars().fold(0usize, |a, c| a * 26 + (c.to_ascii_uppercase() as usize - 'A' as usize + 1));
    Some((row.checked_sub(1)?, col.checked_sub(1)?))
}

static ROW: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?s)<row\b[^>]*?/>|<row\b[^>]*?>.*?</row>").unwrap());
static CELL: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?s)<c\b[^>]*?/>|<c\b[^>]*?>.*?</c>").unwrap());
static FORMULA: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?s)<f\b[^>]*?/>|<f\b[^>]*?>.*?</f>").unwrap());
static START: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?s)^<[a-zA-Z:]+\b([^>]*?)/?>").unwrap());

fn num_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A cell's XML with `put` written into it, keeping its other attributes (its style).
fn write_cell(existing: Option<&str>, r: usize, c: usize, put: &Put) -> String {
    let mut attrs = String::new();
    let mut formula = String::new();
    if let Some(x) = existing {
        if let Some(m) = START.captures(x) {
            let a = m.get(1).map(|m| m.as_str()).unwrap_or("");
            static KEEP: Lazy<Regex> = Lazy::new(|| Regex::new(r#"(\w+(?::\w+)?)\s*=\s*("[^"]*"|'[^']*')"#).unwrap());
            for k in KEEP.captures_iter(a) {
                if !matches!(&k[1], "r" | "t") {
                    attrs.push_str(&format!(" {}={}", &k[1], &k[2]));
                }
            }
        }
        if matches!(put, Put::Cached(_)) {
            formula = FORMULA.find(x).map(|m| m.as_str().to_string()).unwrap_or_default();
        }
    }
    let at = cell_ref(r, c);
    match put {
        Put::Num(v) => format!(r#"<c r="{at}"{attrs}><v>{}</v></c>"#, num_text(*v)),
        Put::Text(t) => format!(r#"<c r="{at}"{attrs} t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#, esc(t)),
        Put::Cached(v) => match v {
            Value::Num(n) => format!(r#"<c r="{at}"{attrs}>{formula}<v>{}</v></c>"#, num_text(*n)),
            Value::Bool(b) => format!(r#"<c r="{at}"{attrs} t="b">{formula}<v>{}</v></c>"#, u8::from(*b)),
            Value::Text(t) => format!(r#"<c r="{at}"{attrs} t="str">{formula}<v>{}</v></c>"#, esc(t)),
            Value::Error => format!(r#"<c r="{at}"{attrs} t="e">{formula}<v>#DIV/0!</v></c>"#),
            Value::Blank => format!(r#"<c r="{at}"{attrs} t="str">{formula}<v></v></c>"#),
        },
    }
}

/// The sheet's XML with `puts` written into its cells.
fn edit_sheet(xml: &str, puts: &BTreeMap<(usize, usize), Put>) -> Result<String, String> {
    let (open, close) = match (xml.find("<sheetData"), xml.find("</sheetData>")) {
        (Some(a), Some(b)) if b > a => {
            let head_end = a + xml[a..].find('>').ok_or("bad sheetData")? + 1;
            (head_end, b)
        }
        (Some(a), None) => {
            // <sheetData/>: opened and closed at once.
            let end = a + xml[a..].find("/>").ok_or("bad sheetData")? + 2;
            let fixed = format!("{}<sheetData></sheetData>{}", &xml[..a], &xml[end..]);
            return edit_sheet(&fixed, puts);
        }
        _ => return Err("the form's sheet has no sheetData".into()),
    };
    let body = &xml[open..close];
    let mut by_row: BTreeMap<usize, Vec<(usize, &Put)>> = BTreeMap::new();
    for ((r, c), p) in puts {
        by_row.entry(*r).or_default().push((*c, p));
    }
    let mut out = String::with_capacity(body.len() + puts.len() * 64);
    let mut next_row = 0usize;
    let mut last = 0usize;
    for m in ROW.find_iter(body) {
        out.push_str(&body[last..m.start()]);
        last = m.end();
        let row_xml = m.as_str();
        let tag_end = row_xml.find('>').unwrap_or(row_xml.len() - 1);
        let tag = &row_xml[..=tag_end];
        let r = attr(tag, "r").and_then(|x| x.parse::<usize>().ok()).map(|x| x - 1).unwrap_or(next_row);
        next_row = r + 1;
        // Rows written before this one that the sheet does not have.
        let before: Vec<usize> = by_row.range(..r).map(|(k, _)| *k).collect();
        for b in before {
            let cells = by_row.remove(&b).unwrap_or_default();
            out.push_str(&format!(r#"<row r="{}">"#, b + 1));
            for (c, p) in cells {
                out.push_str(&write_cell(None, b, c, p));
            }
            out.push_str("</row>");
        }
        let Some(mut cells) = by_row.remove(&r) else {
            out.push_str(row_xml);
            continue;
        };
        cells.sort_by_key(|(c, _)| *c);
        let inner = if row_xml.ends_with("/>") && !row_xml.contains("</row>") { "" } else { &row_xml[tag_end + 1..row_xml.len() - "</row>".len()] };
        let open_tag = if tag.ends_with("/>") { format!("{}>", tag.trim_end_matches("/>")) } else { tag.to_string() };
        let mut new_inner = String::new();
        let mut next_col = 0usize;
        let mut pos = 0usize;
        let mut pending = cells.into_iter().peekable();
        for cm in CELL.find_iter(inner) {
            new_inner.push_str(&inner[pos..cm.start()]);
            pos = cm.end();
            let cx = cm.as_str();
            let ctag_end = cx.find('>').unwrap_or(cx.len() - 1);
            let c = attr(&cx[..=ctag_end], "r").and_then(|x| parse_ref(&x)).map(|(_, c)| c).unwrap_or(next_col);
            next_col = c + 1;
            while let Some((pc, p)) = pending.peek() {
                if *pc < c {
                    new_inner.push_str(&write_cell(None, r, *pc, p));
                    pending.next();
                } else {
                    break;
                }
            }
            match pending.peek() {
                Some((pc, p)) if *pc == c => {
                    new_inner.push_str(&write_cell(Some(cx), r, c, p));
                    pending.next();
                }
                _ => new_inner.push_str(cx),
            }
        }
        new_inner.push_str(&inner[pos..]);
        for (pc, p) in pending {
            new_inner.push_str(&write_cell(None, r, pc, p));
        }
        out.push_str(&open_tag);
        out.push_str(&new_inner);
        out.push_str("</row>");
    }
    out.push_str(&body[last..]);
    for (r, cells) in by_row {
        out.push_str(&format!(r#"<row r="{}">"#, r + 1));
        for (c, p) in cells {
            out.push_str(&write_cell(None, r, c, p));
        }
        out.push_str("</row>");
    }
    Ok(format!("{}{}{}", &xml[..open], out, &xml[close..]))
}

/// A sheet that says nothing of pages is printed one page wide (A4), as a form goes on paper.
fn fit_to_width(xml: &str) -> String {
    if xml.contains("<pageSetup") {
        return xml.to_string();
    }
    let mut x = xml.to_string();
    // <pageSetup> follows <pageMargins>, or else precedes what comes after it in the schema.
    let setup = r#"<pageSetup paperSize="9" fitToWidth="1" fitToHeight="0"/>"#;
    static AFTER: Lazy<Regex> = Lazy::new(|| Regex::new(r"<pageMargins\b[^>]*/>").unwrap());
    static BEFORE: Lazy<Regex> = Lazy::new(|| Regex::new(r"<(?:headerFooter|rowBreaks|colBreaks|customProperties|cellWatches|ignoredErrors|smartTags|drawing|legacyDrawing|legacyDrawingHF|picture|oleObjects|controls|webPublishItems|tableParts|extLst)\b|</worksheet>").unwrap());
    if let Some(m) = AFTER.find(&x).map(|m| m.end()) {
        x.insert_str(m, setup);
    } else if let Some(m) = BEFORE.find(&x).map(|m| m.start()) {
        x.insert_str(m, &format!(r#"<pageMargins left="0.5" right="0.5" top="0.6" bottom="0.6" header="0.3" footer="0.3"/>{setup}"#));
    } else {
        return xml.to_string();
    }
    static PR: Lazy<Regex> = Lazy::new(|| Regex::new(r"<pageSetUpPr\b[^>]*?/>").unwrap());
    static SHEET_PR: Lazy<Regex> = Lazy::new(|| Regex::new(r"<sheetPr\b[^>]*?(/?)>").unwrap());
    static ROOT: Lazy<Regex> = Lazy::new(|| Regex::new(r"<worksheet\b[^>]*>").unwrap());
    if let Some(m) = PR.find(&x).map(|m| (m.range(), m.as_str().to_string())) {
        if !m.1.contains("fitToPage") {
            x.replace_range(m.0, &m.1.replacen("<pageSetUpPr", r#"<pageSetUpPr fitToPage="1""#, 1));
        }
    } else if let Some(c) = SHEET_PR.captures(&x).map(|c| (c.get(0).expect("match").range(), !c[1].is_empty(), c[0].to_string())) {
        if c.1 {
            x.replace_range(c.0, &format!(r#"{}><pageSetUpPr fitToPage="1"/></sheetPr>"#, c.2.trim_end_matches("/>")));
        } else if let Some(end) = x.find("</sheetPr>") {
            x.insert_str(end, r#"<pageSetUpPr fitToPage="1"/>"#);
        }
    } else if let Some(m) = ROOT.find(&x).map(|m| m.end()) {
        x.insert_str(m, r#"<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>"#);
    }
    x
}

/// The heading's unit cell with the office's name: a label before a colon is kept
/// (*Tên đơn vị: Văn phòng Sở Y tế …*), capitals where the form writes capitals.
fn unit_text(original: &str, office: &str) -> String {
    let letters: Vec<char> = original.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.len() >= 3 && letters.iter().all(|c| !c.is_lowercase());
    let name = if upper { office.to_uppercase() } else { office.to_string() };
    match original.split_once(':') {
        Some((label, _)) if label.chars().any(|c| c.is_alphabetic()) => format!("{}: {name}", label.trim_end()),
        _ => name,
    }
}

/// The heading's period placeholder written out: `Quý .... năm 2024` → `Quý I năm 2024`.
fn period_text(original: &str, label: &str) -> String {
    static SLOT: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?i)(6\s+tháng|quý|tháng|năm|kỳ)\s*[.…_]+(?:\s*năm\s*[.…_0-9]*)?").unwrap());
    match SLOT.find(original) {
        Some(m) => {
            let mut l = label.to_string();
            if m.as_str().chars().next().is_some_and(|c| c.is_uppercase()) {
                let mut cs = l.chars();
                l = cs.next().map(|f| f.to_uppercase().collect::<String>() + cs.as_str()).unwrap_or_default();
            }
            format!("{}{}{}", &original[..m.start()], l, &original[m.end()..])
        }
        None => original.to_string(),
    }
}

/// What the office's sheet receives: totals in figure cells, formulas' cached values, the
/// office's name and the period in the heading.
fn puts(cfg: &Config, c: &Compiled) -> BTreeMap<(usize, usize), Put> {
    let form = &c.form;
    let mut out = BTreeMap::new();
    let cached = formula_values(form, &c.totals);
    for (ri, r) in form.rows.iter().enumerate() {
        if !r.has_figures() {
            continue;
        }
        for (ci, col) in form.columns.iter().enumerate() {
            let at = (r.row, col.col);
            if form.formulas.contains_key(&at) {
                continue;
            }
            if let Some(v) = c.totals[ri][ci] {
                out.insert(at, Put::Num(v));
            }
        }
    }
    for (at, v) in cached {
        out.insert(at, Put::Cached(v));
    }
    if let Some((r, col)) = form.unit_cell {
        out.insert((r, col), Put::Text(unit_text(crate::parse::form::layout::cell(&form.grid, r, col), &cfg.office.name)));
    }
    if let Some((r, col)) = form.period_cell {
        out.insert((r, col), Put::Text(period_text(crate::parse::form::layout::cell(&form.grid, r, col), &c.period.label_vi())));
    }
    out
}

/// Indices of the styles added for the sheet of every unit's figures.
struct Styles {
    title: usize,
    head: usize,
    text: usize,
    center: usize,
    section: usize,
    int: usize,
    dec: usize,
    int_flag: usize,
    dec_flag: usize,
    int_total: usize,
    dec_total: usize,
    /// Without borders: the lines under the table.
    plain: usize,
    plain_bold: usize,
}

/// Appends `items` to the `<tag count="N">` list of `xml` and returns the index of the first.
fn append_list(xml: &mut String, tag: &str, items: &[String]) -> Result<usize, String> {
    let open_re = Regex::new(&format!(r"<{tag}\b[^>]*?(/?)>")).map_err(|e| e.to_string())?;
    let m = open_re.captures(xml).ok_or_else(|| format!("styles.xml has no <{tag}>"))?;
    let whole = m.get(0).expect("match").range();
    let self_closing = !m[1].is_empty();
    let count_before = if self_closing { 0 } else {
        let end = xml[whole.end..].find(&format!("</{tag}>")).ok_or_else(|| format!("styles.xml: <{tag}> not closed"))? + whole.end;
        let inner = &xml[whole.end..end];
        let child = match tag {
            "fonts" => "<font",
            "fills" => "<fill",
            "borders" => "<border",
            _ => "<xf",
        };
        inner.matches(&format!("{child}>")).count() + inner.matches(&format!("{child} ")).count()
    };
    let tag_text = xml[whole.clone()].to_string();
    static COUNT: Lazy<Regex> = Lazy::new(|| Regex::new(r#"\scount="\d+""#).unwrap());
    let new_count = count_before + items.len();
    let mut new_tag = if COUNT.is_match(&tag_text) { COUNT.replace(&tag_text, format!(r#" count="{new_count}""#).as_str()).into_owned() } else { tag_text.replacen(&format!("<{tag}"), &format!(r#"<{tag} count="{new_count}""#), 1) };
    if self_closing {
        new_tag = new_tag.trim_end_matches("/>").to_string() + ">";
        let replacement = format!("{new_tag}{}</{tag}>", items.concat());
        xml.replace_range(whole, &replacement);
    } else {
        let end = xml[whole.end..].find(&format!("</{tag}>")).expect("checked above") + whole.end;
        xml.insert_str(end, &items.concat());
        xml.replace_range(whole, &new_tag);
    }
    Ok(count_before)
}

fn add_styles(styles: &mut String) -> Result<Styles, String> {
    let font = append_list(styles, "fonts", &[
        r#"<font><sz val="11"/><name val="Times New Roman"/></font>"#.to_string(),
        r#"<font><b/><sz val="11"/><name val="Times New Roman"/></font>"#.to_string(),
        r#"<font><b/><sz val="13"/><name val="Times New Roman"/></font>"#.to_string(),
    ])?;
    let fill = append_list(styles, "fills", &[
        r#"<fill><patternFill patternType="solid"><fgColor rgb="FFFFC7CE"/><bgColor indexed="64"/></patternFill></fill>"#.to_string(),
        r#"<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/><bgColor indexed="64"/></patternFill></fill>"#.to_string(),
    ])?;
    let border = append_list(styles, "borders", &[r#"<border><left style="thin"><color indexed="64"/></left><right style="thin"><color indexed="64"/></right><top style="thin"><color indexed="64"/></top><bottom style="thin"><color indexed="64"/></bottom><diagonal/></border>"#.to_string()])?;
    let (regular, bold, big) = (font, font + 1, font + 2);
    let (red, blue) = (fill, fill + 1);
    let xf = |num: u32, font: usize, fill: usize, bordered: bool, align: &str| {
        format!(
            r#"<xf numFmtId="{num}" fontId="{font}" fillId="{fill}" borderId="{}" xfId="0" applyNumberFormat="1" applyFont="1" applyFill="1" applyBorder="1" applyAlignment="1"><alignment {align}/></xf>"#,
            if bordered { border } else { 0 }
        )
    };
    let items: Vec<String> = [
        xf(0, big, 0, false, r#"vertical="top" wrapText="1""#),
        xf(0, bold, blue, true, r#"horizontal="center" vertical="center" wrapText="1""#),
        xf(0, regular, 0, true, r#"vertical="center" wrapText="1""#),
        xf(0, regular, 0, true, r#"horizontal="center" vertical="center""#),
        xf(0, bold, 0, true, r#"vertical="center" wrapText="1""#),
        xf(3, regular, 0, true, r#"vertical="center""#),
        xf(0, regular, 0, true, r#"vertical="center""#),
        xf(3, regular, red, true, r#"vertical="center""#),
        xf(0, regular, red, true, r#"vertical="center""#),
        xf(3, bold, 0, true, r#"vertical="center""#),
        xf(0, bold, 0, true, r#"vertical="center""#),
        xf(0, regular, 0, false, r#"vertical="top" wrapText="1""#),
        xf(0, bold, 0, false, r#"vertical="top""#),
    ]
    .into_iter()
    .collect();
    let first = append_list(styles, "cellXfs", &items)?;
    Ok(Styles {
        title: first,
        head: first + 1,
        text: first + 2,
        center: first + 3,
        section: first + 4,
        int: first + 5,
        dec: first + 6,
        int_flag: first + 7,
        dec_flag: first + 8,
        int_total: first + 9,
        dec_total: first + 10,
        plain: first + 11,
        plain_bold: first + 12,
    })
}

/// The sheet of every unit's figures side by side ([`side_by_side`]) as worksheet XML, its
/// looks mapped to the styles added to the office's workbook.
fn units_sheet(sheet: &super::figures::Sheet, st: &Styles) -> String {
    let style = |l: Look| match l {
        Look::Title => st.title,
        Look::Plain => st.plain,
        Look::PlainBold => st.plain_bold,
        Look::Head => st.head,
        Look::Text => st.text,
        Look::Center => st.center,
        Look::Section => st.section,
        Look::Int => st.int,
        Look::Dec => st.dec,
        Look::IntFlag => st.int_flag,
        Look::DecFlag => st.dec_flag,
        Look::IntTotal => st.int_total,
        Look::DecTotal => st.dec_total,
    };
    let mut by_row: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (r, col, put, look) in &sheet.cells {
        let (r, col) = (*r as usize, *col as usize);
        let s = style(*look);
        by_row.entry(r as u32).or_default().push(match put {
            Cell::Text(t) => format!(r#"<c r="{}" s="{s}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#, cell_ref(r, col), esc(t)),
            Cell::Num(v) => format!(r#"<c r="{}" s="{s}"><v>{}</v></c>"#, cell_ref(r, col), num_text(*v)),
            Cell::Blank => format!(r#"<c r="{}" s="{s}"/>"#, cell_ref(r, col)),
        });
    }
    let heights: BTreeMap<u32, f64> = sheet.heights.iter().copied().collect();
    let rows: String = by_row
        .iter()
        .map(|(r, cells)| match heights.get(r) {
            Some(h) => format!(r#"<row r="{}" ht="{h}" customHeight="1">{}</row>"#, r + 1, cells.concat()),
            None => format!(r#"<row r="{}">{}</row>"#, r + 1, cells.concat()),
        })
        .collect();
    let merges: Vec<String> = sheet.merges.iter().map(|(r0, c0, r1, c1)| format!(r#"<mergeCell ref="{}:{}"/>"#, cell_ref(*r0 as usize, *c0 as usize), cell_ref(*r1 as usize, *c1 as usize))).collect();
    let cols: String = sheet.widths.iter().map(|(c, w)| format!(r#"<col min="{0}" max="{0}" width="{w}" customWidth="1"/>"#, c + 1)).collect();
    let breaks: Vec<String> = sheet.breaks.iter().map(|c| format!(r#"<brk id="{c}" max="1048575" man="1"/>"#)).collect();
    let col_breaks = if breaks.is_empty() { String::new() } else { format!(r#"<colBreaks count="{0}" manualBreakCount="{0}">{1}</colBreaks>"#, breaks.len(), breaks.concat()) };
    let (fr, fc) = sheet.freeze;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetViews><sheetView workbookViewId="0"><pane xSplit="{fc}" ySplit="{fr}" topLeftCell="{}" activePane="bottomRight" state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>{rows}</sheetData><mergeCells count="{}">{}</mergeCells><pageMargins left="0.4" right="0.4" top="0.6" bottom="0.6" header="0.3" footer="0.3"/><pageSetup paperSize="9" orientation="landscape" scale="{}"/>{col_breaks}</worksheet>"#,
        cell_ref(fr as usize, fc as usize),
        merges.len(),
        merges.concat(),
        sheet.scale
    )
}

/// Fills the office's workbook `package` (its sheet `sheet`) and appends the sheet of every unit.
fn fill(package: &[u8], sheet: &str, cfg: &Config, c: &Compiled) -> Result<Vec<u8>, String> {
    let mut z = zip::ZipArchive::new(Cursor::new(package)).map_err(|e| format!("the form is not a readable workbook ({e})"))?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).map_err(|e| e.to_string())?;
        if f.size() > 256 * 1024 * 1024 {
            return Err("the form's workbook is too large".into());
        }
        let mut buf = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        entries.push((f.name().to_string(), buf));
    }
    let text_of = |name: &str| -> Result<String, String> {
        entries.iter().find(|(n, _)| n == name).map(|(_, b)| String::from_utf8_lossy(b).into_owned()).ok_or_else(|| format!("the form's workbook has no {name}"))
    };
    let mut workbook = text_of("xl/workbook.xml")?;
    let mut rels = text_of("xl/_rels/workbook.xml.rels")?;
    let mut types = text_of("[Content_Types].xml")?;
    // The calculation chain lists formula cells; Excel rebuilds it when it is absent.
    if let Ok(re) = Regex::new(r#"<Relationship\b[^>]*calcChain\.xml[^>]*/>"#) {
        rels = re.replace_all(&rels, "").into_owned();
    }
    if let Ok(re) = Regex::new(r#"<Override\b[^>]*calcChain\.xml[^>]*/>"#) {
        types = re.replace_all(&types, "").into_owned();
    }
    let mut styles = text_of("xl/styles.xml")?;
    // The form's sheet: its name in workbook.xml, its part through the relationships.
    static SHEET: Lazy<Regex> = Lazy::new(|| Regex::new(r"<sheet\b[^>]*>").unwrap());
    let sheets: Vec<String> = SHEET.find_iter(&workbook).map(|m| m.as_str().to_string()).collect();
    let tag = sheets.iter().find(|t| attr(t, "name").is_some_and(|n| fold(&n) == fold(sheet))).or(sheets.first()).ok_or("the form's workbook lists no sheet")?;
    let rid = attr(tag, "r:id").ok_or("the form's sheet has no relationship")?;
    static REL: Lazy<Regex> = Lazy::new(|| Regex::new(r"<Relationship\b[^>]*>").unwrap());
    let target = REL.find_iter(&rels).map(|m| m.as_str()).find(|t| attr(t, "Id").as_deref() == Some(rid.as_str())).and_then(|t| attr(t, "Target")).ok_or("the form's sheet has no part")?;
    let part = match target.strip_prefix('/') {
        Some(abs) => abs.to_string(),
        None => format!("xl/{}", target.trim_start_matches("./")),
    };
    let sheet_xml = text_of(&part)?;
    let filled = fit_to_width(&edit_sheet(&sheet_xml, &puts(cfg, c))?);
    // The sheet of every unit.
    let st = add_styles(&mut styles)?;
    let layout = side_by_side(cfg, c);
    let units_xml = units_sheet(&layout, &st);
    let mut n = 1;
    while entries.iter().any(|(e, _)| e == &format!("xl/worksheets/sheet{n}.xml")) {
        n += 1;
    }
    let new_part = format!("xl/worksheets/sheet{n}.xml");
    let new_rid = (1..).map(|k| format!("rIdBaocao{k}")).find(|id| !rels.contains(&format!("\"{id}\""))).expect("an unused id");
    let sheet_id = sheets.iter().filter_map(|t| attr(t, "sheetId").and_then(|s| s.parse::<u32>().ok())).max().unwrap_or(0) + 1;
    let title = "Các đơn vị";
    let close = rels.rfind("</Relationships>").ok_or("bad workbook relationships")?;
    rels.insert_str(close, &format!(r#"<Relationship Id="{new_rid}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.xml"/>"#));
    let close = types.rfind("</Types>").ok_or("bad content types")?;
    types.insert_str(close, &format!(r#"<Override PartName="/{new_part}" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>"#));
    let close = workbook.find("</sheets>").ok_or("bad workbook.xml")?;
    let root_declares_r = Regex::new(r"<workbook\b[^>]*>").ok().and_then(|re| re.find(&workbook).map(|m| m.as_str().contains("xmlns:r="))).unwrap_or(false);
    let r_ns = if root_declares_r { "" } else { r#" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""# };
    workbook.insert_str(close, &format!(r#"<sheet{r_ns} name="{title}" sheetId="{sheet_id}" r:id="{new_rid}"/>"#));
    // Print titles of the new sheet: its first columns and its two header rows on every page.
    let index = sheets.len();
    let (rows, cols) = (layout.repeat_rows, layout.repeat_cols);
    let defined = format!(
        r#"<definedName name="_xlnm.Print_Titles" localSheetId="{index}">'{title}'!${}:${},'{title}'!${}:${}</definedName>"#,
        col_letters(cols.0 as usize),
        col_letters(cols.1 as usize),
        rows.0 + 1,
        rows.1 + 1
    );
    if let Some(at) = workbook.find("</definedNames>") {
        workbook.insert_str(at, &defined);
    } else if let Some(m) = Regex::new(r"<definedNames\s*/>").ok().and_then(|re| re.find(&workbook).map(|m| m.range())) {
        workbook.replace_range(m, &format!("<definedNames>{defined}</definedNames>"));
    } else if let Some(at) = workbook.find("</sheets>") {
        workbook.insert_str(at + "</sheets>".len(), &format!("<definedNames>{defined}</definedNames>"));
    }
    // Excel and LibreOffice compute every formula again on opening.
    static CALC: Lazy<Regex> = Lazy::new(|| Regex::new(r"<calcPr\b[^>]*?/?>").unwrap());
    if let Some(m) = CALC.find(&workbook).map(|m| (m.range(), m.as_str().to_string())) {
        if !m.1.contains("fullCalcOnLoad") {
            let fixed = m.1.replacen("<calcPr", r#"<calcPr fullCalcOnLoad="1""#, 1);
            workbook.replace_range(m.0, &fixed);
        }
    } else if let Some(at) = workbook.find("</workbook>") {
        workbook.insert_str(at, r#"<calcPr fullCalcOnLoad="1"/>"#);
    }
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opt = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in &entries {
        if name == "xl/calcChain.xml" {
            continue;
        }
        let data: Vec<u8> = match name.as_str() {
            "xl/workbook.xml" => workbook.clone().into_bytes(),
            "xl/_rels/workbook.xml.rels" => rels.clone().into_bytes(),
            "[Content_Types].xml" => types.clone().into_bytes(),
            "xl/styles.xml" => styles.clone().into_bytes(),
            n if n == part => filled.clone().into_bytes(),
            _ => bytes.clone(),
        };
        out.start_file(name.as_str(), opt).map_err(|e| e.to_string())?;
        out.write_all(&data).map_err(|e| e.to_string())?;
    }
    out.start_file(new_part.as_str(), opt).map_err(|e| e.to_string())?;
    out.write_all(units_xml.as_bytes()).map_err(|e| e.to_string())?;
    let cur = out.finish().map_err(|e| e.to_string())?;
    Ok(cur.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_written_in_place_inserted_in_order_and_rows_added_where_missing() {
        let xml = r#"<worksheet><sheetData><row r="1"><c r="A1" s="2" t="inlineStr"><is><t>x</t></is></c><c r="C1" s="4" t="n"></c></row><row r="3"><c r="B3" s="1"><f>A3*2</f><v>0</v></c></row></sheetData></worksheet>"#;
        let mut puts = BTreeMap::new();
        puts.insert((0, 1), Put::Num(5.0));
        puts.insert((0, 2), Put::Num(1234.5));
        puts.insert((1, 0), Put::Text("Quý I & II".into()));
        puts.insert((2, 1), Put::Cached(Value::Num(10.0)));
        let out = edit_sheet(xml, &puts).unwrap();
        assert!(out.contains(r#"<c r="B1"><v>5</v></c><c r="C1" s="4"><v>1234.5</v></c>"#), "{out}");
        assert!(out.contains(r#"<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve">Quý I &amp; II</t></is></c></row><row r="3">"#), "{out}");
        assert!(out.contains(r#"<c r="B3" s="1"><f>A3*2</f><v>10</v></c>"#), "{out}");
    }

    #[test]
    fn the_heading_names_the_office_and_the_period() {
        assert_eq!(unit_text("TÊN ĐƠN VỊ: ..........", "Văn phòng Sở Y tế Ninh Bình"), "TÊN ĐƠN VỊ: VĂN PHÒNG SỞ Y TẾ NINH BÌNH");
        assert_eq!(unit_text("…………………", "Văn phòng Sở Y tế"), "Văn phòng Sở Y tế");
        assert_eq!(period_text("Quý .... năm 2024", "quý I năm 2024"), "Quý I năm 2024");
        assert_eq!(period_text("(Kỳ báo cáo: tháng ..... năm .....)", "tháng 3 năm 2023"), "(Kỳ báo cáo: tháng 3 năm 2023)");
    }
}
