//! `.xlsx` and `.xls` with calamine: every sheet as rows of cell text, merged regions filled.
//!
//! Numbers become text the way a person reads them (`15.5`, `70`), so extractors read figures
//! from numeric cells and from text cells with a decimal comma alike. The package is checked
//! against the zip limits before calamine sees it; what calamine does inside is bounded by the
//! parse worker's memory and time limits.

use super::container::check_zip;
use super::{ParseError, Sheet};
use crate::domain::rules::Limits;
use crate::domain::Format;
use calamine::{open_workbook_auto_from_rs, Data, Dimensions, Reader, Sheets};
use std::io::Cursor;

/// Merged regions a sheet may have; real reports have a few dozen.
const MAX_MERGES: usize = 5_000;

pub fn read(data: &[u8], format: Format, limits: &Limits) -> Result<Vec<Sheet>, ParseError> {
    if format == Format::Xlsx {
        check_zip(data, limits)?;
    }
    let mut wb: Sheets<Cursor<Vec<u8>>> = open_workbook_auto_from_rs(Cursor::new(data.to_vec()))
        .map_err(|e| ParseError::Corrupt(format!("not a readable workbook ({e})")))?;
    let names = wb.sheet_names().to_vec();
    let mut out = Vec::new();
    let mut cells_total = 0usize;
    for name in names {
        let range = match wb.worksheet_range(&name) {
            Ok(r) => r,
            Err(e) => return Err(ParseError::Corrupt(format!("cannot read sheet \"{name}\" ({e})"))),
        };
        let (h, w) = range.get_size();
        cells_total = cells_total.saturating_add(h.saturating_mul(w));
        if cells_total > limits.cells {
            return Err(ParseError::Limit(format!("bảng tính có hơn {} ô", limits.cells)));
        }
        let merges: Vec<Dimensions> = match &mut wb {
            Sheets::Xlsx(x) => x.worksheet_merge_cells(&name).and_then(|r| r.ok()).unwrap_or_default(),
            Sheets::Xls(x) => x.worksheet_merge_cells(&name).unwrap_or_default(),
            _ => vec![],
        };
        let (r0, c0) = range.start().unwrap_or((0, 0));
        let mut rows: Vec<Vec<String>> = range.rows().map(|r| r.iter().map(cell_text).collect()).collect();
        // Fill merged regions with the top-left value so every row reads whole. A hostile book
        // merges whole sheets by the thousand: the regions are counted and clipped to the cells
        // that exist, and the filling stops at the cell limit.
        if merges.len() > MAX_MERGES {
            return Err(ParseError::Limit(format!("bảng tính có {} vùng gộp ô, vượt giới hạn {MAX_MERGES}", merges.len())));
        }
        let mut filled = 0usize;
        for m in merges {
            let (sr, sc) = m.start;
            let (er, ec) = m.end;
            if sr < r0 || sc < c0 {
                continue;
            }
            let (sr, sc, er, ec) = ((sr - r0) as usize, (sc - c0) as usize, (er - r0) as usize, (ec - c0) as usize);
            let Some(v) = rows.get(sr).and_then(|r| r.get(sc)).cloned() else { continue };
            for row in rows.iter_mut().take(er.saturating_add(1)).skip(sr) {
                let end = ec.min(row.len().saturating_sub(1));
                for cell in row.iter_mut().take(end.saturating_add(1)).skip(sc) {
                    if cell.is_empty() {
                        *cell = v.clone();
                        filled += 1;
                    }
                }
                if filled > limits.cells {
                    return Err(ParseError::Limit(format!("bảng tính có vùng gộp ô phủ hơn {} ô", limits.cells)));
                }
            }
        }
        // Rows above the used range keep their place so row numbers in findings match Excel's.
        let mut padded = vec![Vec::new(); r0 as usize];
        padded.append(&mut rows);
        out.push(Sheet { name: crate::text::nfc(&name), rows: padded });
    }
    Ok(out)
}

fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => crate::text::nfc(s.trim()),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => fmt_float(*f),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => dt.as_f64().to_string(),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// Shortest text that reads back as the same float (`6.18`, not `6.1799999`).
pub fn fmt_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    let s = format!("{f}");
    // Rounding noise from binary floats (0.1+0.2) is trimmed to 10 decimals.
    if s.len() > 14 {
        let r = format!("{:.10}", f);
        return r.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s
}
